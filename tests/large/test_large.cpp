#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "tinyalloc/large.hpp"

using namespace tinyalloc;
using namespace tinyalloc::large;

namespace {
bool aligned(const void* p, std::size_t a) { return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0; }

void fill(void* p, std::size_t n, unsigned seed) {
  auto* c = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 61) c[i] = static_cast<unsigned char>(i * 31 + seed);
  c[n - 1] = static_cast<unsigned char>(seed);
}
// Checks the pattern fill() wrote over at least n bytes (n may be a prefix).
bool check(const void* p, std::size_t n, unsigned seed) {
  auto* c = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i + 1 < n; i += 61)
    if (c[i] != static_cast<unsigned char>(i * 31 + seed)) return false;
  return true;
}
}  // namespace

// Every strategy must pass the same tests.
TEMPLATE_TEST_CASE("large blocks: header by mask, alignment, usable size", "[large]", DirectMap, CachedMap,
                   RegionCache) {
  LargeAllocator<TestType> a;
  for (std::size_t size : {std::size_t{32769}, std::size_t{100000}, std::size_t{1} << 20, (std::size_t{7} << 20) + 3,
                           std::size_t{64} << 20}) {
    for (std::size_t align = 16; align <= (std::size_t{4} << 20); align <<= 2) {
      void* p = a.allocate(size, align);
      REQUIRE(p != nullptr);
      REQUIRE(aligned(p, align));
      REQUIRE(Segment::header_of(p)->kind == SegmentKind::Large);
      REQUIRE(large::usable_size(p) >= size);
      fill(p, size, 3);
      REQUIRE(check(p, size, 3));
      a.deallocate(p);
    }
  }
  const LargeCounters c = a.counters();
  REQUIRE(c.allocations == c.frees);
  REQUIRE(c.live_bytes == 0);
}

TEMPLATE_TEST_CASE("large blocks: fresh blocks read zero", "[large]", DirectMap, CachedMap, RegionCache) {
  LargeAllocator<TestType> a;
  void* p = a.allocate(std::size_t{2} << 20);
  REQUIRE(p != nullptr);
  REQUIRE(large::was_zero(p));
  const auto* c = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < (std::size_t{2} << 20); i += 4096) REQUIRE(c[i] == 0);
  a.deallocate(p);
}

TEMPLATE_TEST_CASE("large blocks: resize keeps contents, in place or by moving pages", "[large]", DirectMap, CachedMap,
                   RegionCache) {
  LargeAllocator<TestType> a;
  std::size_t size = 40000;
  void* p = a.allocate(size);
  fill(p, size, 9);
  // A block taken once p has grown past 1 MiB lies where p would grow next
  // (a cache cuts a free range from its start, and a chunk holds far more
  // than 64 MiB): the growth after it must move p's pages.
  void* blocker = nullptr;
  while (size < (std::size_t{64} << 20)) {
    const std::size_t next = size * 2 + 12345;
    void* q = a.resize(p, next);
    REQUIRE(q != nullptr);
    REQUIRE(check(q, size, 9));
    REQUIRE(large::usable_size(q) >= next);
    REQUIRE(Segment::header_of(q)->kind == SegmentKind::Large);
    p = q;
    size = next;
    fill(p, size, 9);
    if (blocker == nullptr && size > (std::size_t{1} << 20)) {
      blocker = a.allocate(std::size_t{1} << 20);
      REQUIRE(blocker != nullptr);
    }
  }
  a.deallocate(blocker);
  void* shrunk = a.resize(p, 50000);  // shrink in place, tail returned
  REQUIRE(shrunk == p);
  REQUIRE(large::usable_size(p) < (std::size_t{1} << 20));
  REQUIRE(check(p, 50000, 9));
  a.deallocate(p);
  REQUIRE(a.counters().moved_resizes > 0);
  REQUIRE(a.counters().live_bytes == 0);
}

TEMPLATE_TEST_CASE("large blocks: concurrent allocate/free", "[large]", DirectMap, CachedMap, RegionCache) {
  LargeAllocator<TestType> a;
  // Catch2 assertions are not thread-safe: workers count failures instead.
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < 4; ++t) {
    ts.emplace_back([&a, &failures, t] {
      struct Live {
        void* p;
        std::size_t n;
        unsigned seed;
      };
      std::vector<Live> live;
      auto retire = [&](const Live& l) {
        if (!check(l.p, l.n, l.seed)) failures.fetch_add(1);
        a.deallocate(l.p);
      };
      for (unsigned i = 0; i < 400; ++i) {
        const std::size_t n = 33000 + (i * 7919 + t * 104729) % (std::size_t{3} << 20);
        void* p = a.allocate(n);
        if (p == nullptr) {
          failures.fetch_add(1);
          break;
        }
        fill(p, n, t + i);
        live.push_back({p, n, t + i});
        if (live.size() > 6) {
          retire(live.front());
          live.erase(live.begin());
        }
      }
      for (const Live& l : live) retire(l);
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE(failures.load() == 0);
  REQUIRE(a.counters().live_bytes == 0);
}

TEST_CASE("cached strategy reuses regions and stays within its budget") {
  CacheOptions o;
  o.max_bytes = std::size_t{8} << 20;
  o.purge_delay_ms = 1000000;
  LargeAllocator<CachedMap> a(o);
  void* p = a.allocate(std::size_t{1} << 20);
  std::memset(p, 0x5A, std::size_t{1} << 20);
  a.deallocate(p);
  void* q = a.allocate(std::size_t{1} << 20);
  REQUIRE(q == p);  // the same region came back, no syscall
  REQUIRE_FALSE(large::was_zero(q));
  REQUIRE(a.cache_counters().hits == 1);
  a.deallocate(q);

  // Free more than the budget: resident cached bytes stay bounded.
  std::vector<void*> blocks;
  for (int i = 0; i < 20; ++i) blocks.push_back(a.allocate(std::size_t{1} << 20));
  for (void* b : blocks) a.deallocate(b);
  REQUIRE(a.cache_counters().resident_bytes <= o.max_bytes);

  // A forced purge decommits everything: reused regions read zero again.
  a.purge(0, true);
  REQUIRE(a.cache_counters().resident_bytes == 0);
  void* z = a.allocate(std::size_t{1} << 20);
  REQUIRE(large::was_zero(z));
  REQUIRE(static_cast<unsigned char*>(z)[1000] == 0);
  a.deallocate(z);
}

TEST_CASE("cached strategy: a full table evicts the oldest entry") {
  CacheOptions o;
  o.purge_delay_ms = 1000000;
  LargeAllocator<CachedMap> a(o);
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < CachedMap::kSlots + 10; ++i) blocks.push_back(a.allocate(40000 + i * 70000));
  for (void* b : blocks) a.deallocate(b);
  const CacheCounters c = a.cache_counters();
  REQUIRE(c.evictions == 10);
  a.strategy().flush();
  REQUIRE(a.cache_counters().cached_bytes == 0);
}

TEST_CASE("impossible sizes fail with ENOMEM, not a crash") {
  LargeAllocator<DirectMap> a;
  errno = 0;
  REQUIRE(a.allocate(~std::size_t{0} - 100) == nullptr);
  REQUIRE(errno == ENOMEM);
  REQUIRE(a.allocate((std::size_t{1} << 46) + 1) == nullptr);  // above the largest block tinyalloc maps
}
