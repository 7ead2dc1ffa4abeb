#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <thread>
#include <vector>

#include <csignal>

#include "../common/child.hpp"
#include "tinyalloc/region.hpp"
#include "tinyalloc/segment.hpp"

using namespace tinyalloc;

namespace {

struct SegmentMemory {
  SegmentMemory() : p(region::reserve(kSegmentSize, kSegmentSize)) { REQUIRE(p != nullptr); }
  ~SegmentMemory() { CHECK(region::release(p, kSegmentSize)); }
  void* p;
};

Block* pop(Segment* s) { return s->refill() ? s->blocks.pop() : nullptr; }

}  // namespace

TEST_CASE("geometry") {
  STATIC_REQUIRE(kSegmentSize == (std::size_t{1} << kSegmentShift));
  STATIC_REQUIRE(sizeof(Segment) <= kFirstBlock);
  STATIC_REQUIRE(kFirstBlock % 16 == 0);
  STATIC_REQUIRE(alignof(Segment) == 64);
}

TEST_CASE("the fields free()'s fast path reads share the header's first cache line") {
  SegmentMemory m;
  Segment* s = Segment::create(m.p, 3, 48, true);
  const auto end_of = [s](const auto& field) {
    return static_cast<std::size_t>(reinterpret_cast<const char*>(&field) + sizeof field -
                                    reinterpret_cast<const char*>(s));
  };
  for (std::size_t end : {end_of(s->owner_flags), end_of(s->blocks), end_of(s->local_free), end_of(s->grid)})
    CHECK(end <= 64);
}

TEST_CASE("Segment::of finds the header from first, interior and last byte of every block") {
  SegmentMemory mem;
  // Every size a class can have: 8, then multiples of 16 up to 32 KiB.
  std::vector<std::uint32_t> sizes{8};
  for (std::uint32_t s = 16; s <= 32768; s += 16) sizes.push_back(s);
  for (std::uint32_t bs : sizes) {
    Segment* s = Segment::create(mem.p, 0, bs, true);
    REQUIRE(s == mem.p);
    std::size_t n = 0;
    while (Block* b = pop(s)) {
      const char* first = reinterpret_cast<const char*>(b);
      REQUIRE(Segment::of(first) == s);
      REQUIRE(Segment::of(first + bs / 2) == s);
      REQUIRE(Segment::of(first + bs - 1) == s);
      REQUIRE(Segment::header_of(first)->kind == SegmentKind::Small);
      REQUIRE(first + bs <= static_cast<char*>(mem.p) + kSegmentSize);
      if (bs >= 16) REQUIRE(reinterpret_cast<std::uintptr_t>(first) % 16 == 0);
      ++n;
    }
    REQUIRE(n == (kSegmentSize - kFirstBlock) / bs);
    REQUIRE(s->blocks.used == n);
  }
}

TEST_CASE("a pointer on the segment's end boundary maps to the segment before it") {
  SegmentMemory mem;
  const char* end = static_cast<char*>(mem.p) + kSegmentSize;
  REQUIRE(Segment::header_of(end) == mem.p);
  REQUIRE(Segment::header_of(end + 1) == static_cast<const void*>(end));
}

TEST_CASE("blocks are handed out once; local frees come back through local_free") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 3, 48, true);
  std::set<Block*> seen;
  std::vector<Block*> out;
  for (int i = 0; i < 1000; ++i) {
    Block* b = pop(s);
    REQUIRE(b != nullptr);
    REQUIRE(seen.insert(b).second);
    REQUIRE(s->is_block_start(b));
    out.push_back(b);
  }
  REQUIRE(s->free_is_zero);
  for (Block* b : out) {  // what the heap's free fast path does
    REQUIRE(s->is_block_start(b));
    if (kHardened) REQUIRE_FALSE(s->looks_free(b));  // hardened pops clear the link
    s->push_local(b);
    --s->blocks.used;
  }
  REQUIRE(s->is_unused());
  // Drain the current free list, then the next pop comes from local_free.
  while (!s->blocks.empty()) pop(s);
  Block* again = pop(s);
  REQUIRE(seen.count(again) == 1);
  REQUIRE_FALSE(s->free_is_zero);
}

TEST_CASE("remote frees from many threads are all collected, with their count") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 1, 16, true);
  std::vector<Block*> blocks;
  while (Block* b = pop(s)) blocks.push_back(b);
  REQUIRE(blocks.size() == (kSegmentSize - kFirstBlock) / 16);
  const std::uint32_t total = s->blocks.used;

  // The owner files it as full: the first remote free is handed off to the
  // heap (the freer keeps the block), every other one lands on the list.
  REQUIRE(s->enter_full());
  constexpr int kThreads = 4;
  std::atomic<int> handed_off{0};
  std::atomic<Block*> kept{nullptr};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (std::size_t i = t; i < blocks.size(); i += kThreads) {
        if (s->push_thread_free(blocks[i]) == Segment::RemoteFree::HandOff) {
          handed_off.fetch_add(1);
          kept.store(blocks[i]);
          s->end_hand_off(blocks[i]);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE(handed_off.load() == 1);  // exactly one, the first
  REQUIRE(s->has_thread_free());
  REQUIRE_FALSE(s->enter_full());  // blocks are waiting: the owner must refill instead
  REQUIRE(s->take_thread_free());
  REQUIRE(s->blocks.used == 1);  // the handed-off block is still out
  // Hardened: a free of the handed-off block before the owner collects it
  // is a double free (the free path asks awaits_owner).
  REQUIRE(s->awaits_owner(kept.load()) == kHardened);
  REQUIRE_FALSE(s->awaits_owner(blocks[0] == kept.load() ? blocks[1] : blocks[0]));
  s->collect_hand_off();  // as the heap does when it collects the hand-off
  REQUIRE_FALSE(s->awaits_owner(kept.load()));
  s->push_local(kept.load());
  --s->blocks.used;
  REQUIRE(s->check());
  REQUIRE_FALSE(s->has_thread_free());
  std::set<Block*> collected;
  for (Block* b = s->blocks.free; !FreeBlocks::is_end(b); b = s->blocks.codec.decode(b->link))
    REQUIRE(collected.insert(b).second);
  REQUIRE(collected.size() == total - 1);
}

TEST_CASE("a segment whose blocks other threads all freed is carved again from its start") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 1, 64, true);
  std::vector<Block*> blocks;
  for (int i = 0; i < 320; ++i) blocks.push_back(pop(s));  // five pages' worth: all that was carved
  REQUIRE(s->blocks.empty());
  std::vector<Block*> scrambled = blocks;
  std::reverse(scrambled.begin(), scrambled.begin() + 150);
  std::rotate(scrambled.begin(), scrambled.begin() + 77, scrambled.end());
  auto free_remotely = [&](std::size_t from) {
    for (std::size_t i = from; i < scrambled.size(); ++i)
      REQUIRE(s->push_thread_free(scrambled[i]) == Segment::RemoteFree::Pushed);
  };
  // One block still out: the remote frees are handed out as they came.
  free_remotely(1);
  REQUIRE(s->refill());
  REQUIRE(s->blocks.free == scrambled.back());
  while (!s->blocks.empty()) s->blocks.pop();
  // Every block back: the refill starts over in address order.
  free_remotely(0);
  REQUIRE(s->all_returned());
  REQUIRE(s->reach() == kFirstBlock + 320 * 64);
  REQUIRE(s->refill());
  REQUIRE(s->blocks.used == 0);
  // Its pages stay resident: it still reaches as far (Arena pools it by that).
  REQUIRE(s->reach() == kFirstBlock + 320 * 64);
  Block* first = s->blocks.pop();
  Block* second = s->blocks.pop();
  if constexpr (kSecure) {  // the first page's blocks, in a random order
    REQUIRE(reinterpret_cast<char*>(first) - s->first_block() < 4096);
    REQUIRE(reinterpret_cast<char*>(second) - s->first_block() < 4096);
  } else {
    REQUIRE(first == reinterpret_cast<Block*>(s->first_block()));
    REQUIRE(second == reinterpret_cast<Block*>(s->first_block() + 64));
  }
  REQUIRE(s->check());
  // A block past the carved ones cannot be live: it counts as free (a
  // second free of it is a double free).
  REQUIRE(s->holds_free(blocks[200]));
  REQUIRE_FALSE(s->holds_free(first));
}

TEST_CASE("hand-off: stop_hand_offs waits out a freer, and later frees go to the list") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 1, 16, true);
  std::vector<Block*> blocks;
  while (Block* b = pop(s)) blocks.push_back(b);
  REQUIRE(s->enter_full());
  REQUIRE(s->push_thread_free(blocks[0]) == Segment::RemoteFree::HandOff);
  std::atomic<bool> stopped{false};
  std::thread owner([&] {
    s->stop_hand_offs();  // must wait: a hand-off is in progress
    stopped.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE_FALSE(stopped.load());
  s->end_hand_off(blocks[0]);
  owner.join();
  REQUIRE(stopped.load());
  REQUIRE(s->push_thread_free(blocks[1]) == Segment::RemoteFree::Pushed);
  REQUIRE(s->push_thread_free(blocks[2]) == Segment::RemoteFree::Pushed);
  REQUIRE(s->take_thread_free());
}

TEST_CASE("block_start finds the block of an interior pointer") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 96, true);
  for (int i = 0; i < 50; ++i) {
    Block* b = pop(s);
    char* c = reinterpret_cast<char*>(b);
    REQUIRE(s->block_start(c) == b);
    REQUIRE(s->block_start(c + 95) == b);
    REQUIRE_FALSE(s->is_block_start(c + 32));
  }
}

TEST_CASE("owner word: the state transitions keep flags beside the owner") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  auto* h = reinterpret_cast<Heap*>(std::uintptr_t{0x7f0000001000});  // any 64-aligned address
  REQUIRE(s->owner() == nullptr);
  s->claim(h);
  s->set_full(true);
  s->set_aligned();
  REQUIRE(s->owner() == h);
  REQUIRE(s->is_full());
  REQUIRE(s->has_aligned());
  s->set_full(false);
  REQUIRE_FALSE(s->is_full());
  REQUIRE(s->flags() == kHasAligned);
  s->abandon();  // the owner goes, what it handed out stays aligned
  REQUIRE(s->owner() == nullptr);
  REQUIRE(s->flags() == kHasAligned);
  s->adopt(h);
  REQUIRE(s->owner() == h);
  REQUIRE(s->has_aligned());
  s->retire();
  REQUIRE(s->owner_word() == 0);
  REQUIRE(s->kind == SegmentKind::Free);
}

TEST_CASE("check(): holds for a fresh, used and drained segment, and catches a broken count") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  REQUIRE(s->check());
  Block* a = pop(s);
  Block* b = pop(s);
  REQUIRE(s->check());
  s->push_local(a);
  s->blocks.returned(a);
  REQUIRE(s->check());
  ++s->blocks.used;  // a count that no longer matches the lists
  REQUIRE_FALSE(s->check());
  --s->blocks.used;
  if (kHardened) {
    s->blocks.out_sum += 16;  // a sum that no longer matches the blocks out
    REQUIRE_FALSE(s->check());
    s->blocks.out_sum -= 16;
    REQUIRE(s->check());
  }
  REQUIRE_FALSE(s->all_returned());                                // b is live
  REQUIRE(s->push_thread_free(b) == Segment::RemoteFree::Pushed);  // still counted as used until collected
  REQUIRE(s->check());
  REQUIRE(s->all_returned());  // every block is back, b on the remote list
}

TEST_CASE("is_block_start: true at each carved block's start, false at every other byte of the window") {
  SegmentMemory mem;
  const char* base = static_cast<char*>(mem.p);
  for (std::uint32_t bs : {8u, 16u, 48u, 112u, 640u, 1280u, 3584u, 28672u, 40960u, 229376u}) {
    for (bool guard : {false, true}) {
      Segment* s = Segment::create(mem.p, 0, bs, true, guard);
      const std::size_t room = kSegmentSize - kFirstBlock - (guard ? region::page_size() : 0);
      REQUIRE(s->capacity == room / bs);
      REQUIRE_FALSE(s->is_block_start(s->first_block()));  // nothing carved yet
      while (pop(s) != nullptr) {
      }
      REQUIRE(s->extended == s->capacity);
      // Every byte of the window, the header and the tail past the last block included.
      for (std::size_t off = 0; off < kSegmentSize; ++off) {
        const std::size_t rel = off - kFirstBlock;
        const bool start = off >= kFirstBlock && rel % bs == 0 && rel / bs < s->capacity;
        if (s->is_block_start(base + off) != start)
          FAIL("block size " << bs << ", offset " << off << ", capacity " << s->capacity);
        if (start) REQUIRE(s->block_index(base + off) == rel / bs);
      }
      REQUIRE_FALSE(s->is_block_start(base + kSegmentSize));  // the next window's boundary
      REQUIRE(s->is_block_start_shared(base + kFirstBlock + std::size_t{s->capacity - 1} * bs));
      if (guard) REQUIRE(s->first_block() + std::size_t{s->capacity} * bs <= s->guard_page());
    }
  }
}

// The grid's arithmetic (grid.hpp) for every block size a segment can hold:
// multiples of 16 up to 1 MiB (medium spans of several windows, capacity 1,
// included).  With e = multiplier * d - 2^64, the products are q * e for a
// block start q and q * e + r * c otherwise; the test is exact when
//   (capacity - 1) * e < 2^40 <= capacity * e   (starts pass, the tail fails),
//   c > (q_max + 1) * e + 2^40                   (no off-grid product wraps
//                                                 or lands below 2^40),
// and the header's addresses, below the origin, all fail (checked one by
// one).  The test above checks every byte of some of these exhaustively.
TEST_CASE("BlockGrid: exact for every block size and capacity a segment can have") {
  constexpr std::uint64_t bound = std::uint64_t{1} << BlockGrid::kBoundShift;
  const std::uintptr_t origin = 0x7f0000040000 + kFirstBlock;
  std::vector<std::uint64_t> sizes{8};
  for (std::uint64_t d = 16; d <= (std::uint64_t{1} << 20); d += 16) sizes.push_back(d);
  for (std::uint64_t d : sizes) {
    const std::uint64_t span = span_windows(d) * kSegmentSize;
    for (std::uint64_t guard : {std::uint64_t{0}, std::uint64_t{4096}}) {
      // As Segment::create: a span of several windows holds one block.
      const std::uint64_t capacity = span > kSegmentSize ? 1 : (span - kFirstBlock - guard) / d;
      if (capacity == 0) continue;
      BlockGrid g = BlockGrid::make(d, capacity);
      REQUIRE_FALSE(g.starts_block(reinterpret_cast<const void*>(origin)));  // nothing carved
      g.cover(capacity, d);
      REQUIRE(g.bound <= bound);                 // so every off-grid product (>= 2^40) fails
      const std::uint64_t e = g.multiplier * d;  // mod 2^64
      const auto c = static_cast<unsigned __int128>(g.multiplier);
      const std::uint64_t q_max = span / d + 1;
      INFO("block size " << d << ", capacity " << capacity);
      REQUIRE(e > 0);
      REQUIRE(static_cast<unsigned __int128>(capacity - 1) * e < bound);
      REQUIRE(static_cast<unsigned __int128>(capacity) * e >= bound);
      REQUIRE(c > static_cast<unsigned __int128>(q_max + 1) * e + bound);
      std::uint64_t header_passes = 0;
      for (std::uint64_t below = 1; below <= kFirstBlock; ++below)
        header_passes += g.starts_block(reinterpret_cast<const void*>(origin - below));
      REQUIRE(header_passes == 0);
      REQUIRE(g.starts_block(reinterpret_cast<const void*>(origin)));
      REQUIRE(g.starts_block(reinterpret_cast<const void*>(origin + (capacity - 1) * d)));
      if (kFirstBlock + capacity * d < kSegmentSize)  // the grid answers for its window only
        REQUIRE_FALSE(g.starts_block(reinterpret_cast<const void*>(origin + capacity * d)));
      // Covering fewer blocks stops the grid at the last one covered.
      for (std::uint64_t carved : {std::uint64_t{1}, capacity / 2, capacity - 1}) {
        if (carved == 0) continue;
        g.cover(carved, d);
        REQUIRE(g.starts_block(reinterpret_cast<const void*>(origin + (carved - 1) * d)));
        if (carved < capacity) {
          REQUIRE_FALSE(g.starts_block(reinterpret_cast<const void*>(origin + carved * d)));
          REQUIRE(g.on_grid(reinterpret_cast<const void*>(origin + carved * d)));
        }
      }
    }
  }
}

TEST_CASE("free-list links are encoded: a freed block never holds a plain address") {
  if (!kHardened) return;
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  Block* a = pop(s);
  Block* b = pop(s);
  s->push_local(a);
  s->push_local(b);  // b links to a
  REQUIRE(b->link != reinterpret_cast<std::uintptr_t>(a));
  REQUIRE(s->blocks.codec.decode(b->link) == a);
  REQUIRE(s->looks_free(a));
  REQUIRE(s->looks_free(b));
  REQUIRE(s->holds_free(a));
  REQUIRE(s->holds_free(b));
}

TEST_CASE("live_block: a block still out when every block was counted back") {
  if (!kHardened) return;
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 48, true);
  REQUIRE(s->live_block() == nullptr);  // nothing carved
  Block* a = pop(s);
  Block* b = pop(s);
  Block* c = pop(s);
  const Block* first = s->live_block();  // the lowest of the three (secure builds carve in random order)
  REQUIRE(first == std::min({a, b, c}, std::less<const Block*>()));
  s->push_local(a);
  s->push_local(c);
  REQUIRE(s->live_block() == b);  // the carved blocks still on blocks.free look free
  // a freed again, with c in between: three frees for two blocks.
  s->push_local(a);
  REQUIRE(s->live_block() == b);
  s->push_local(b);
  REQUIRE(s->live_block() == nullptr);
  // A free block whose link was overwritten does not look free either.
  c->link = 0;
  REQUIRE(s->live_block() == c);
}

namespace {
/// The owner frees b: onto its local list, counted and summed back.
bool free_back(Segment* s, Block* b) {
  s->push_local(b);
  return s->blocks.returned(b);
}
}  // namespace

TEST_CASE("out_sum: zero once every block is back, unless one was freed twice") {
  if (!kHardened) return;
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 48, true);
  REQUIRE(s->out_sum_exact);
  Block* a = pop(s);
  Block* b = pop(s);
  Block* c = pop(s);
  REQUIRE(s->blocks.out_sum != 0);
  REQUIRE_FALSE(free_back(s, b));
  REQUIRE_FALSE(free_back(s, a));
  Block* again = pop(s);  // a fourth block out
  REQUIRE_FALSE(free_back(s, c));
  REQUIRE(free_back(s, again));
  REQUIRE(s->blocks.out_sum == 0);

  // free x, free z, free x: three frees for two blocks, and y still out.
  Block* x = pop(s);
  Block* y = pop(s);
  Block* z = pop(s);
  free_back(s, x);
  free_back(s, z);
  REQUIRE(free_back(s, x));  // the count alone says "all back"
  REQUIRE(s->blocks.out_sum == FreeBlocks::low_bits(y) - FreeBlocks::low_bits(x));
  // y's first word made to look like a link: the scan cannot see it is live,
  // the sum still does.
  y->link = s->blocks.codec.encode(s->list_end());
  REQUIRE(s->looks_free(y));
  REQUIRE(s->live_block() == nullptr);
  const test_child::Result r = test_child::run(
      [&] {
        s->check_none_live();
        return 0;
      },
      30);
  INFO("child " << r.describe());
  REQUIRE(r.signaled(SIGABRT));
  REQUIRE(r.output.find("the blocks freed are not the blocks allocated") != std::string::npos);
}

TEST_CASE("out_sum: inexact after a remote list is taken, exact again after a re-carve") {
  if (!kHardened) return;
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  // Carve once and take every block of that carve out.
  Block* out[kSegmentSize / 64];
  std::size_t n = 0;
  REQUIRE(s->refill());
  while (!s->blocks.empty()) out[n++] = s->blocks.pop();
  REQUIRE(n > 2);
  // Another thread frees the first; the owner frees the rest.
  REQUIRE(s->push_thread_free(out[0]) == Segment::RemoteFree::Pushed);
  for (std::size_t i = 1; i < n; ++i) free_back(s, out[i]);
  REQUIRE(s->take_local());
  while (!s->blocks.empty()) s->blocks.pop();  // all out again but out[0], which waits on the remote list
  REQUIRE(s->take_thread_free());              // counted back, not summed
  REQUIRE_FALSE(s->out_sum_exact);
  REQUIRE(s->blocks.pop() == out[0]);
  // Now every block is out; all come back through the owner.
  for (std::size_t i = 0; i < n; ++i) free_back(s, out[i]);
  REQUIRE(s->is_unused());
  REQUIRE(s->blocks.out_sum != 0);  // out[0]'s remote free was never subtracted
  s->check_none_live();             // no report: it falls back to the scan, which finds none live

  // Every block out freed by other threads: refill() carves the segment
  // again from its start, and the sum is exact again.
  REQUIRE(s->take_local());
  std::size_t m = 0;
  while (!s->blocks.empty()) out[m++] = s->blocks.pop();
  REQUIRE(m == n);
  for (std::size_t i = 0; i < m; ++i) REQUIRE(s->push_thread_free(out[i]) == Segment::RemoteFree::Pushed);
  REQUIRE(s->refill());
  REQUIRE(s->out_sum_exact);
  REQUIRE(s->blocks.out_sum == 0);
  REQUIRE(s->is_unused());
}

TEST_CASE("two segments use different keys") {
  if (!kHardened) return;
  SegmentMemory m1, m2;
  Segment* s1 = Segment::create(m1.p, 0, 64, true);
  Segment* s2 = Segment::create(m2.p, 0, 64, true);
  REQUIRE(s1->blocks.codec.key != s2->blocks.codec.key);
  REQUIRE(s1->cookie == header_cookie(s1));
  REQUIRE(s1->kind == SegmentKind::Small);
  REQUIRE(s1->cookie != s2->cookie);
}

TEST_CASE("a use-after-free write into a free block is caught when the list reaches it") {
  if (!kHardened) return;
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  Block* a = pop(s);
  while (!s->blocks.empty()) pop(s);  // drain, so `a` is the head after the free
  s->push_local(a);
  REQUIRE(s->refill());
  static char target[64];
  a->link = reinterpret_cast<std::uintptr_t>(target);  // attacker writes a chosen address
  REQUIRE_FALSE(s->looks_free(a));
  // The next pop follows a's link: it must not return `target`.  Run it in a
  // child, since the check aborts.
  const test_child::Result r = test_child::run(
      [&] {
        Block* first = s->blocks.pop();
        Block* second = !s->blocks.empty() ? s->blocks.pop() : nullptr;
        return first == a && second != reinterpret_cast<Block*>(target) ? 0 : 1;
      },
      30);
  INFO("child " << r.describe());
  REQUIRE(r.signaled(SIGABRT));
}
