// RegionCache (TINYALLOC_LARGE=regions): split, coalesce, decay, clean reuse,
// the node pool's limit, flush, resize into neighbouring ranges, the ablations,
// and a multi-threaded stress (also run under TSan by scripts/ci_sanitizers.sh).
//
// Every test builds its own LargeAllocator<RegionCache>, so the addresses it
// sees come from its own chunks: a block carved from a fresh chunk is followed
// by the chunk's clean rest, and blocks carved one after another are adjacent.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tinyalloc/large.hpp"

using namespace tinyalloc;
using namespace tinyalloc::large;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;
constexpr std::size_t kGranule = RegionCache::kGranule;
constexpr std::uint64_t kForever = 1000000000;  // a purge delay no test outlives

// The range a block of `size` bytes takes: header room, rounded to the granule.
constexpr std::size_t range_of(std::size_t size) { return (size + kHeaderRoom + kGranule - 1) / kGranule * kGranule; }
// The largest block that fits a range of `bytes`.
constexpr std::size_t block_for(std::size_t bytes) { return bytes - kHeaderRoom; }

CacheOptions options(std::uint64_t delay_ms = kForever) {
  CacheOptions o;
  o.purge_delay_ms = delay_ms;
  return o;
}

char* base_of(void* p) { return header_of(p)->base; }

bool inside(const void* p, const char* lo, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  return c >= lo && c < lo + n;
}

void fill(void* p, std::size_t n, unsigned seed) {
  auto* c = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 4096) c[i] = static_cast<unsigned char>(i / 4096 * 31 + seed);
  c[n - 1] = static_cast<unsigned char>(seed);
}
// What fill(p, n, seed) wrote; `whole`: n is the n it was given (its last
// byte is checked too), else a prefix.
bool check(const void* p, std::size_t n, unsigned seed, bool whole = true) {
  auto* c = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 4096)
    if (c[i] != static_cast<unsigned char>(i / 4096 * 31 + seed)) return false;
  return !whole || c[n - 1] == static_cast<unsigned char>(seed);
}
bool all_zero(const void* p, std::size_t n) {
  auto* c = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 512)
    if (c[i] != 0) return false;
  return true;
}

void sleep_ms(unsigned ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

TEST_CASE("region cache: a freed range is split to serve smaller requests", "[large][regions]") {
  LargeAllocator<RegionCache> a(options());
  void* big = a.allocate(12 * MiB);
  REQUIRE(big != nullptr);
  char* const lo = base_of(big);
  const std::size_t span = range_of(12 * MiB);
  fill(big, 12 * MiB, 1);
  a.deallocate(big);
  const CacheCounters before = a.cache_counters();
  REQUIRE(before.resident_bytes == span);

  // 10 MiB: the front of the freed (dirty) range, not the chunk's clean rest.
  void* p = a.allocate(10 * MiB);
  REQUIRE(p != nullptr);
  REQUIRE(base_of(p) == lo);
  REQUIRE_FALSE(was_zero(p));
  // 1.5 MiB: from what is left of it, right after.
  void* q = a.allocate(3 * MiB / 2);
  REQUIRE(q != nullptr);
  REQUIRE(inside(q, lo, span));
  REQUIRE(base_of(q) == lo + range_of(10 * MiB));
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.hits - before.hits == 2);
  REQUIRE(after.clean_hits == before.clean_hits);
  REQUIRE(after.misses == before.misses);
  REQUIRE(after.splits - before.splits >= 2);
  REQUIRE(after.resident_bytes == span - range_of(10 * MiB) - range_of(3 * MiB / 2));
  a.deallocate(p);
  a.deallocate(q);
}

TEST_CASE("region cache: adjacent freed ranges coalesce, in any order", "[large][regions]") {
  LargeAllocator<RegionCache> a(options());
  const std::size_t size = 3 * MiB, span = range_of(size);
  void* b[3];
  for (void*& p : b) REQUIRE((p = a.allocate(size)) != nullptr);
  // Carved one after another from the same chunk: adjacent.
  REQUIRE(base_of(b[1]) == base_of(b[0]) + span);
  REQUIRE(base_of(b[2]) == base_of(b[1]) + span);
  const CacheCounters before = a.cache_counters();
  a.deallocate(b[1]);
  a.deallocate(b[2]);
  a.deallocate(b[0]);
  const CacheCounters freed = a.cache_counters();
  REQUIRE(freed.merges - before.merges == 2);
  REQUIRE(freed.resident_bytes == 3 * span);

  // One range now: it serves their sum, from the first block's address.
  void* sum = a.allocate(block_for(3 * span));
  REQUIRE(sum != nullptr);
  REQUIRE(base_of(sum) == base_of(b[0]));
  REQUIRE_FALSE(was_zero(sum));
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.hits - freed.hits == 1);
  REQUIRE(after.resident_bytes == 0);
  fill(sum, block_for(3 * span), 2);
  REQUIRE(check(sum, block_for(3 * span), 2));
  a.deallocate(sum);
}

TEST_CASE("region cache: a dirty range too small is used with the clean range after it", "[large][regions]") {
  LargeAllocator<RegionCache> a(options());
  void* p = a.allocate(3 * MiB);  // the front of a fresh chunk: its clean rest follows
  char* const lo = base_of(p);
  fill(p, 3 * MiB, 3);
  a.deallocate(p);
  const CacheCounters before = a.cache_counters();
  REQUIRE(before.resident_bytes == range_of(3 * MiB));
  // Needs two granules more than the dirty range has: the dirty range, then
  // the front of the clean one.
  const std::size_t size = block_for(range_of(3 * MiB) + 2 * kGranule);
  void* q = a.allocate(size);
  REQUIRE(base_of(q) == lo);
  REQUIRE_FALSE(was_zero(q));
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.hits - before.hits == 1);
  REQUIRE(after.mixed_hits - before.mixed_hits == 1);
  REQUIRE(after.misses == before.misses);
  REQUIRE(after.clean_hits == before.clean_hits);
  REQUIRE(after.resident_bytes == 0);
  fill(q, size, 4);
  REQUIRE(check(q, size, 4));
  a.deallocate(q);
}

TEST_CASE("region cache: a dirty range too small is used with the clean range before it", "[large][regions]") {
  LargeAllocator<RegionCache> a(options());
  void* x = a.allocate(3 * MiB);
  void* y = a.allocate(3 * MiB);
  void* z = a.allocate(3 * MiB);  // so that y is followed by a live block
  REQUIRE(base_of(y) == base_of(x) + range_of(3 * MiB));
  REQUIRE(base_of(z) == base_of(y) + range_of(3 * MiB));
  a.deallocate(x);
  a.purge(region::now_ms(), true);  // x's range decommitted: clean (the chunk's clean rest is unmapped)
  fill(y, 3 * MiB, 5);
  a.deallocate(y);  // dirty, after the clean range
  const CacheCounters before = a.cache_counters();
  REQUIRE(before.resident_bytes == range_of(3 * MiB));
  const std::size_t size = block_for(range_of(3 * MiB) + kGranule);
  void* q = a.allocate(size);
  REQUIRE(base_of(q) == base_of(y) - kGranule);  // the clean range's last granule, then y's range
  REQUIRE_FALSE(was_zero(q));
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.mixed_hits - before.mixed_hits == 1);
  REQUIRE(after.misses == before.misses);
  REQUIRE(after.resident_bytes == 0);
  fill(q, size, 6);
  REQUIRE(check(q, size, 6));
  a.deallocate(q);
  a.deallocate(z);
}

TEST_CASE("region cache: blocks and resident ranges stay within the ceiling over the peak in use", "[large][regions]") {
  // Random replacements of 1-8 MiB blocks, written whole: the free ranges
  // fragment, and without the ceiling ranges too small to reuse would stay
  // resident (the decay delay is longer than the test).
  LargeAllocator<RegionCache> a(options());
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<std::size_t> size_of(1 * MiB, 8 * MiB);
  std::vector<std::pair<void*, std::size_t>> live(12);
  auto make = [&](std::size_t n) {
    void* p = a.allocate(n);
    REQUIRE(p != nullptr);
    fill(p, n, static_cast<unsigned>(n));
    return std::make_pair(p, n);
  };
  for (auto& b : live) b = make(size_of(rng));
  std::size_t collected = a.cache_counters().purges;
  for (int step = 0; step < 600; ++step) {
    auto& b = live[rng() % live.size()];
    REQUIRE(check(b.first, b.second, static_cast<unsigned>(b.second)));
    a.deallocate(b.first);
    b = make(size_of(rng));
    const CacheCounters c = a.cache_counters();
    REQUIRE(c.in_use_bytes + c.resident_bytes <= c.peak_in_use + c.peak_in_use / RegionCache::kPeakSlack);
  }
  const CacheCounters end = a.cache_counters();
  REQUIRE(end.purges > collected);  // the ceiling did decommit
  REQUIRE(end.hits > end.misses);   // and the cache still served most requests
  for (auto& b : live) a.deallocate(b.first);
  REQUIRE(a.cache_counters().in_use_bytes == 0);
}

TEST_CASE("region cache: freed memory decays back to the OS over the delay", "[large][regions][decay]") {
  constexpr std::uint64_t kDecayMs = 40;
  LargeAllocator<RegionCache> a(options(kDecayMs));
  void* p = a.allocate(8 * MiB);
  REQUIRE(p != nullptr);
  fill(p, 8 * MiB, 3);
  a.deallocate(p);
  const std::uint64_t freed_at = region::now_ms();
  // Right after the free: kept resident, and a purge is due later, not now.
  a.purge(region::now_ms(), false);
  REQUIRE(a.cache_counters().resident_bytes > 0);
  REQUIRE(a.next_purge_ms() != ~std::uint64_t{0});

  // Purging at intervals (as the heap's purge thread does): all gone after
  // the delay (and an epoch of slack), little by little.
  std::size_t last = a.cache_counters().resident_bytes, partial = 0;
  while (region::now_ms() < freed_at + 4 * kDecayMs) {
    sleep_ms(2);
    a.purge(region::now_ms(), false);
    const std::size_t now = a.cache_counters().resident_bytes;
    REQUIRE(now <= last);  // nothing comes back by itself
    if (now != 0 && now < last) ++partial;
    last = now;
    if (now == 0) break;
  }
  REQUIRE(a.cache_counters().resident_bytes == 0);
  REQUIRE(region::now_ms() - freed_at >= kDecayMs / 2);  // gradually: it took most of the delay
  REQUIRE(a.next_purge_ms() == ~std::uint64_t{0});       // nothing left to wait for
  WARN("decay: " << partial << " partial purges before the last");
  REQUIRE(a.cache_counters().purges > 0);
}

TEST_CASE("region cache: a steady pattern stays warm; idle, it all goes back", "[large][regions][decay]") {
  constexpr std::uint64_t kDecayMs = 100;
  LargeAllocator<RegionCache> a(options(kDecayMs));
  // Warm up: one 4 MiB block, written and freed.
  void* p = a.allocate(4 * MiB);
  fill(p, 4 * MiB, 4);
  a.deallocate(p);
  const CacheCounters before = a.cache_counters();
  // For longer than the delay, allocate/write/free again and again: every
  // block comes back resident (dirty), never decommitted under it.
  const std::uint64_t start = region::now_ms();
  unsigned rounds = 0;
  while (region::now_ms() < start + 2 * kDecayMs) {
    void* q = a.allocate(4 * MiB);
    REQUIRE(q != nullptr);
    REQUIRE_FALSE(was_zero(q));
    fill(q, 4 * MiB, 5);
    a.deallocate(q);
    a.purge(region::now_ms(), false);
    ++rounds;
    sleep_ms(1);
  }
  const CacheCounters steady = a.cache_counters();
  REQUIRE(steady.hits - before.hits == rounds);
  REQUIRE(steady.clean_hits == before.clean_hits);
  REQUIRE(steady.misses == before.misses);
  REQUIRE(steady.resident_bytes >= range_of(4 * MiB));

  // Idle: within the delay (and an epoch of slack), nothing is resident.
  const std::uint64_t idle_from = region::now_ms();
  while (a.cache_counters().resident_bytes != 0 && region::now_ms() < idle_from + 4 * kDecayMs) {
    sleep_ms(5);
    a.purge(region::now_ms(), false);
  }
  REQUIRE(a.cache_counters().resident_bytes == 0);
  REQUIRE(region::now_ms() - idle_from <= 2 * kDecayMs);
}

TEST_CASE("region cache: a decommitted range is reused, reading as zero", "[large][regions]") {
  LargeAllocator<RegionCache> a(options());
  void* p = a.allocate(4 * MiB);
  std::memset(p, 0xAB, 4 * MiB);
  a.deallocate(p);
  a.purge(region::now_ms(), true);  // decommit everything resident
  const CacheCounters before = a.cache_counters();
  REQUIRE(before.resident_bytes == 0);
  REQUIRE(before.cached_bytes > 0);
  void* q = a.allocate(4 * MiB);
  REQUIRE(q == p);
  REQUIRE(was_zero(q));
  REQUIRE(all_zero(q, 4 * MiB));
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.clean_hits - before.clean_hits == 1);
  REQUIRE(after.hits - before.hits == 1);
  a.deallocate(q);
}

namespace {
// Bytes of [p, p+n) resident now.
std::size_t resident(const void* p, std::size_t n) {
  const std::uintptr_t page = region::page_size();
  const std::uintptr_t lo = reinterpret_cast<std::uintptr_t>(p) / page * page;
  std::size_t r = 0;
  REQUIRE(region::resident_bytes(reinterpret_cast<const void*>(lo), reinterpret_cast<std::uintptr_t>(p) + n - lo, r));
  return r;
}
// Allocates and frees one block of `n` bytes, written at one page in `stride`
// pages, then decommits everything: the cache learns how its blocks are used.
void use_and_purge(LargeAllocator<RegionCache>& a, std::size_t n, std::size_t stride) {
  void* p = a.allocate(n);
  REQUIRE(p != nullptr);
  for (std::size_t off = 0; off < n; off += stride * 4096) static_cast<char*>(p)[off] = 1;
  a.deallocate(p);
  a.purge(region::now_ms(), true);
}
}  // namespace

TEST_CASE("region cache: blocks written whole teach it to pre-fault the next one", "[large][regions][populate]") {
  LargeAllocator<RegionCache> a(options());
  constexpr std::size_t n = 16 * MiB;
  // Before the cache has seen how blocks are used, a block stays lazy.
  void* p = a.allocate(n);
  CHECK(resident(p, n) <= 64 * KiB);
  a.deallocate(p);  // not purged: a purge now would count it as a block barely touched
  use_and_purge(a, n, 1);
  // Decommitted, the range comes back resident before the program writes it,
  // reading as zero, and so does a fresh one; a block larger than
  // kPopulateMax stays lazy.
  void* q = a.allocate(n);
  CHECK(resident(q, n) >= n - 64 * KiB);
  CHECK(all_zero(q, n));
  void* fresh = a.allocate(n);
  CHECK(resident(fresh, n) >= n - 64 * KiB);
  void* huge = a.allocate(RegionCache::kPopulateMax + MiB);
  CHECK(resident(huge, RegionCache::kPopulateMax + MiB) <= 64 * KiB);
  CHECK(a.cache_counters().populated >= 2 * n);
  a.deallocate(huge);
  a.deallocate(fresh);
  a.deallocate(q);
}

TEST_CASE("region cache: blocks touched sparsely stay lazy", "[large][regions][populate]") {
  LargeAllocator<RegionCache> a(options());
  constexpr std::size_t n = 16 * MiB;
  for (int i = 0; i < 5; ++i) use_and_purge(a, n, 64);  // one page in 64 written
  void* q = a.allocate(n);
  CHECK(resident(q, n) <= 512 * KiB);
  CHECK(a.cache_counters().populated == 0);
  a.deallocate(q);
  // Written whole for a while, then sparsely again: the recent sparse blocks win.
  for (int i = 0; i < 5; ++i) use_and_purge(a, n, 1);
  for (int i = 0; i < 10; ++i) use_and_purge(a, n, 64);
  const std::size_t before = a.cache_counters().populated;
  void* r = a.allocate(n);
  CHECK(resident(r, n) <= 512 * KiB);
  CHECK(a.cache_counters().populated == before);
  a.deallocate(r);
}

TEST_CASE("region cache ablation: without populate, blocks written whole stay lazy", "[large][regions][populate]") {
  CacheOptions o = options();
  o.populate = false;
  LargeAllocator<RegionCache> a(o);
  constexpr std::size_t n = 16 * MiB;
  for (int i = 0; i < 5; ++i) use_and_purge(a, n, 1);
  void* q = a.allocate(n);
  CHECK(resident(q, n) <= 64 * KiB);
  CHECK(a.cache_counters().populated == 0);
  a.deallocate(q);
}

TEST_CASE("region cache: resident bytes stay under the hard ceiling", "[large][regions]") {
  CacheOptions o = options();
  o.max_bytes = 8 * MiB;
  LargeAllocator<RegionCache> a(o);
  std::vector<void*> blocks;
  for (int i = 0; i < 6; ++i) {
    blocks.push_back(a.allocate(3 * MiB));
    fill(blocks.back(), 3 * MiB, 6);
  }
  for (void* b : blocks) {
    a.deallocate(b);
    REQUIRE(a.cache_counters().resident_bytes <= o.max_bytes);
  }
  REQUIRE(a.cache_counters().resident_bytes > 0);
  REQUIRE(a.cache_counters().purges > 0);
}

TEST_CASE("region cache: resize grows into the next free range and gives a shrunk tail back",
          "[large][regions][resize]") {
  LargeAllocator<RegionCache> a(options());
  void* p = a.allocate(1 * MiB);  // the front of a fresh chunk: its clean rest follows
  fill(p, 1 * MiB, 7);
  void* grown = a.resize(p, 5 * MiB);
  REQUIRE(grown == p);  // no move, no system call: the next range was free
  REQUIRE(usable_size(p) >= 5 * MiB);
  REQUIRE(check(p, 1 * MiB, 7));
  fill(p, 5 * MiB, 8);
  REQUIRE(a.counters().moved_resizes == 0);

  // Shrink: the tail goes back to the cache (dirty), and serves the next request.
  const std::size_t cached = a.cache_counters().cached_bytes;
  REQUIRE(a.resize(p, 100 * KiB) == p);
  REQUIRE(check(p, 100 * KiB, 8, false));
  REQUIRE(a.cache_counters().cached_bytes > cached);
  REQUIRE(a.cache_counters().resident_bytes >= 4 * MiB);
  void* q = a.allocate(2 * MiB);
  REQUIRE(base_of(q) == base_of(p) + range_of(100 * KiB));
  REQUIRE_FALSE(was_zero(q));

  // Now q follows p: growing p moves its pages (mremap) to a mapping of its own.
  fill(p, 100 * KiB, 9);
  void* moved = a.resize(p, 8 * MiB);
  REQUIRE(moved != nullptr);
  REQUIRE(moved != p);
  REQUIRE(a.counters().moved_resizes == 1);
  REQUIRE(check(moved, 100 * KiB, 9));
  fill(moved, 8 * MiB, 10);
  // p's old range is unmapped now, a hole: whatever the cache hands out next is
  // writable (a range that covered the hole would fault here).
  std::vector<void*> more;
  for (std::size_t n : {64 * KiB, 200 * KiB, 1 * MiB, 3 * MiB}) {
    more.push_back(a.allocate(n));
    REQUIRE(more.back() != nullptr);
    fill(more.back(), n, 11);
  }
  for (void* m : more) a.deallocate(m);
  a.deallocate(q);
  a.deallocate(moved);
  REQUIRE(a.counters().live_bytes == 0);
}

TEST_CASE("region cache: a block moved into a clean range stays apart from it, so it can move again",
          "[large][regions][resize]") {
  // mremap fails (EFAULT) on a block that spans two kernel mappings, and the
  // pages moved into a range of a chunk are a mapping of their own: the cache
  // must not let the block grow across its edge, nor merge it with the chunk
  // once freed.
  LargeAllocator<RegionCache> a(options(20));
  const std::size_t failed = region::counters().failed_calls;
  void* p = a.allocate(1 * MiB);
  void* q = a.allocate(1 * MiB);  // right after p: p cannot grow in place
  REQUIRE(base_of(q) == base_of(p) + range_of(1 * MiB));
  fill(p, 1 * MiB, 15);
  void* moved = a.resize(p, 8 * MiB);
  REQUIRE(moved != nullptr);
  REQUIRE(a.counters().moved_resizes == 1);
  // Moved into the chunk's clean rest, right after q.
  REQUIRE(base_of(moved) == base_of(q) + range_of(1 * MiB));
  REQUIRE(check(moved, 1 * MiB, 15));
  fill(moved, 8 * MiB, 16);
  // The chunk's rest follows it, free, but of another mapping: growing moves
  // the block again (and succeeds) instead of extending it across the edge.
  void* again = a.resize(moved, 20 * MiB);
  REQUIRE(again != nullptr);
  REQUIRE(a.counters().moved_resizes == 2);
  REQUIRE(check(again, 8 * MiB, 16));
  fill(again, 20 * MiB, 17);
  // Freed and decayed to clean, it lies next to the chunk's clean rest but
  // does not merge with it: it is another mapping.  (The rest is larger: a
  // request that fits neither alone goes to the rest, not to `again`'s base.)
  char* const end = base_of(again) + header_of(again)->mapped;
  a.deallocate(again);
  a.deallocate(q);
  for (int i = 0; i < 100 && a.cache_counters().resident_bytes != 0; ++i) {
    sleep_ms(5);
    a.purge(region::now_ms(), false);
  }
  REQUIRE(a.cache_counters().resident_bytes == 0);
  void* next = a.allocate(24 * MiB);
  REQUIRE(base_of(next) == end);
  a.deallocate(next);
  REQUIRE(region::counters().failed_calls == failed);  // no mremap was refused
  REQUIRE(a.counters().live_bytes == 0);
}

TEST_CASE("region cache: when the node pool runs out, freed ranges are unmapped, not lost", "[large][regions]") {
  CacheOptions o = options();
  o.max_nodes = 2;
  LargeAllocator<RegionCache> a(o);
  const std::size_t size = 1 * MiB, span = range_of(size);
  void* b[5];
  for (void*& p : b) {
    REQUIRE((p = a.allocate(size)) != nullptr);
    fill(p, size, 12);
  }
  // One node holds the chunk's clean rest.  Freeing every other block: the
  // first takes the last node, the next two find none and are unmapped.
  const std::size_t reserved = region::counters().reserved;
  a.deallocate(b[0]);
  a.deallocate(b[2]);
  a.deallocate(b[4]);
  const CacheCounters c = a.cache_counters();
  REQUIRE(c.evictions == 2);
  REQUIRE(c.cached_bytes == span + (RegionCache::kChunkSize - 5 * span));
  REQUIRE(region::counters().reserved == reserved - 2 * span);
  // The survivors are intact; a neighbour of a cached range merges into it
  // without a node of its own.
  REQUIRE(check(b[1], size, 12));
  REQUIRE(check(b[3], size, 12));
  a.deallocate(b[1]);
  REQUIRE(a.cache_counters().evictions == 2);
  REQUIRE(a.cache_counters().merges == 1);
  // Allocations still work, and never land in the holes.
  std::vector<void*> again;
  for (int i = 0; i < 6; ++i) {
    again.push_back(a.allocate(size));
    REQUIRE(again.back() != nullptr);
    fill(again.back(), size, 13);
  }
  for (void* p : again) a.deallocate(p);
  a.deallocate(b[3]);
  a.flush();
  REQUIRE(a.counters().live_bytes == 0);
}

TEST_CASE("region cache: flush unmaps every range; destruction gives back the rest", "[large][regions]") {
  const std::size_t reserved_at_start = region::counters().reserved;
  {
    LargeAllocator<RegionCache> a(options());
    a.deallocate(a.allocate(1 * MiB));  // the node pool exists from here
    a.flush();
    const std::size_t with_pool = region::counters().reserved;
    REQUIRE(a.cache_counters().cached_bytes == 0);
    std::vector<void*> blocks;
    for (std::size_t n : {std::size_t{40} * KiB, 3 * MiB, 30 * MiB, 100 * MiB, 7 * MiB})
      blocks.push_back(a.allocate(n));
    void* over_aligned = a.allocate(1 * MiB, 4 * MiB);
    REQUIRE(region::counters().reserved > with_pool);
    for (void* p : blocks) a.deallocate(p);
    a.deallocate(over_aligned);
    a.purge(region::now_ms(), true);  // some clean, some dirty: flush takes both
    a.deallocate(a.allocate(2 * MiB));
    REQUIRE(a.cache_counters().cached_bytes > 0);
    a.flush();
    REQUIRE(a.cache_counters().cached_bytes == 0);
    REQUIRE(a.cache_counters().resident_bytes == 0);
    REQUIRE(a.cache_counters().unmaps > 0);
    REQUIRE(region::counters().reserved == with_pool);
  }
  REQUIRE(region::counters().reserved == reserved_at_start);
}

TEST_CASE("region cache ablation: without split_coalesce, only exact sizes are reused", "[large][regions]") {
  CacheOptions o = options();
  o.split_coalesce = false;
  LargeAllocator<RegionCache> a(o);
  void* big = a.allocate(12 * MiB);
  char* const lo = base_of(big);
  a.deallocate(big);
  const CacheCounters before = a.cache_counters();
  void* p = a.allocate(10 * MiB);  // does not fit exactly: new address space
  REQUIRE(!inside(p, lo, range_of(12 * MiB)));
  void* q = a.allocate(12 * MiB);  // fits exactly: reused
  REQUIRE(base_of(q) == lo);
  const CacheCounters after = a.cache_counters();
  REQUIRE(after.misses - before.misses == 1);
  REQUIRE(after.hits - before.hits == 1);
  REQUIRE(after.splits == before.splits);
  // Adjacent frees stay apart.
  void* r[2] = {a.allocate(2 * MiB), a.allocate(2 * MiB)};
  a.deallocate(r[0]);
  a.deallocate(r[1]);
  REQUIRE(a.cache_counters().merges == 0);
  a.deallocate(p);
  a.deallocate(q);
}

TEST_CASE("region cache ablation: without decay, a fixed budget and the delay", "[large][regions][decay]") {
  CacheOptions o = options(30);
  o.decay = false;
  o.max_bytes = 8 * MiB;
  LargeAllocator<RegionCache> a(o);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) {
    blocks.push_back(a.allocate(3 * MiB));
    fill(blocks.back(), 3 * MiB, 14);
  }
  for (void* b : blocks) a.deallocate(b);
  REQUIRE(a.cache_counters().resident_bytes <= o.max_bytes);
  REQUIRE(a.cache_counters().resident_bytes > 0);
  const std::uint64_t due = a.next_purge_ms();
  REQUIRE(due <= region::now_ms() + 30);
  while (region::now_ms() <= due + 10) sleep_ms(5);  // + the clock's granularity: every range is due
  a.purge(region::now_ms(), false);
  REQUIRE(a.cache_counters().resident_bytes == 0);
}

TEST_CASE("region cache: four threads allocate, resize and free 300 KiB - 20 MiB blocks", "[large][regions][threads]") {
  // A short decay, so purges run while other threads allocate; a fifth thread
  // purges like the heap's purge thread, and now and then flushes.
  CacheOptions o = options(20);
  LargeAllocator<RegionCache> a(o);
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < 4; ++t) {
    ts.emplace_back([&a, &failures, t] {
      struct Live {
        void* p;
        std::size_t n;
        unsigned seed;
      };
      std::mt19937_64 rng(1234 + t);
      std::uniform_int_distribution<std::size_t> size(300 * KiB, 20 * MiB);
      Live live[3] = {};
      for (unsigned i = 0; i < 100; ++i) {
        Live& l = live[rng() % 3];
        if (l.p != nullptr) {
          if (!check(l.p, l.n, l.seed)) failures.fetch_add(1);
          if (i % 5 == 0) {  // resize instead: grow or shrink, contents kept
            const std::size_t n = size(rng);
            void* q = a.resize(l.p, n);
            if (q != nullptr) {
              if (!check(q, l.n < n ? l.n : n, l.seed, false)) failures.fetch_add(1);
              l.p = q;
              l.n = n;
              fill(l.p, l.n, l.seed);
              continue;
            }
          }
          a.deallocate(l.p);
        }
        l.n = size(rng);
        l.seed = t * 1000 + i;
        l.p = a.allocate(l.n);
        if (l.p == nullptr) {
          failures.fetch_add(1);
          continue;
        }
        fill(l.p, l.n, l.seed);
      }
      for (Live& l : live) {
        if (l.p == nullptr) continue;
        if (!check(l.p, l.n, l.seed)) failures.fetch_add(1);
        a.deallocate(l.p);
      }
    });
  }
  std::thread purger([&] {
    for (unsigned i = 0; !done.load(); ++i) {
      a.purge(region::now_ms(), false);
      if (i % 50 == 49) a.flush();
      sleep_ms(1);
    }
  });
  for (auto& t : ts) t.join();
  done.store(true);
  purger.join();
  REQUIRE(failures.load() == 0);
  REQUIRE(a.counters().live_bytes == 0);
  const CacheCounters c = a.cache_counters();
  REQUIRE(c.in_use_bytes == 0);  // moved blocks' old ranges were forgotten, not left counted
  WARN("stress: hits " << c.hits << " (clean " << c.clean_hits << "), misses " << c.misses << ", splits " << c.splits
                       << ", merges " << c.merges << ", purges " << c.purges << ", unmaps " << c.unmaps);
  a.flush();
  REQUIRE(a.cache_counters().cached_bytes == 0);
}
