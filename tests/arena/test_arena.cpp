#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tinyalloc/arena.hpp"
#include "tinyalloc/region.hpp"
#include "tinyalloc/size_class.hpp"

using namespace tinyalloc;

namespace {
bool segment_aligned(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & kSegmentMask) == 0; }

Segment* make(Arena::Grant g, unsigned c) {
  REQUIRE(g.memory != nullptr);
  REQUIRE(segment_aligned(g.memory));
  return Segment::create(g.memory, static_cast<std::uint8_t>(c), 64, g.zero);
}

/// Options under which nothing is purged behind a test's back.
ArenaOptions never_purged() {
  ArenaOptions o;
  o.purge_delay_ms = 1000000;
  return o;
}

/// s, unused, after its first carve handed out a block and took it back:
/// it reaches as far as the carve did (Segment::reach).
Segment* carved(Segment* s) {
  REQUIRE(s->refill());
  Block* b = s->blocks.pop();
  s->push_local(b);
  REQUIRE(s->blocks.returned(b));
  return s;
}
}  // namespace

TEST_CASE("fresh segments are aligned, zero, and not pre-faulted") {
  Arena arena;
  std::set<void*> seen;
  seen.insert(arena.acquire(5).memory);  // the first also reserves the segment map
  const auto before = region::counters();
  for (int i = 1; i < 600; ++i) {  // crosses a 64 MiB chunk boundary
    Arena::Grant g = arena.acquire(5);
    REQUIRE(g.memory != nullptr);
    REQUIRE(g.zero);
    REQUIRE(segment_aligned(g.memory));
    REQUIRE(seen.insert(g.memory).second);
  }
  REQUIRE(arena.counters().segments_carved == 600);
  // Address space was reserved in chunks, not a syscall per segment.
  REQUIRE(region::counters().reserve_calls - before.reserve_calls <= 2);
}

TEST_CASE("a released segment is reused by the same class, dirty, then purged clean") {
  Arena arena(never_purged());
  Segment* s = make(arena.acquire(7), 7);
  std::memset(s->first_block(), 0xAB, 4096);
  arena.release(s, 1);
  REQUIRE(arena.counters().dirty == 1);

  Arena::Grant again = arena.acquire(7);
  REQUIRE(again.memory == s);  // warm reuse for the same class
  REQUIRE_FALSE(again.zero);
  arena.release(make(again, 7), 2);

  arena.purge(3, /*force=*/false);
  REQUIRE(arena.counters().dirty == 1);  // not due yet
  arena.purge(3, /*force=*/true);
  REQUIRE(arena.counters().dirty == 0);
  REQUIRE(arena.counters().clean == 1);

  Arena::Grant clean = arena.acquire(9);  // any class may take a clean one
  REQUIRE(clean.memory == s);
  REQUIRE(clean.zero);
  REQUIRE(static_cast<unsigned char*>(clean.memory)[kFirstBlock] == 0);  // decommitted: reads zero
}

TEST_CASE("purge runs after the delay, and at once above the dirty bound") {
  ArenaOptions o;
  o.purge_delay_ms = 50;
  o.max_dirty = 4;
  Arena arena(o);
  std::vector<Segment*> segs;
  for (int i = 0; i < 10; ++i) segs.push_back(make(arena.acquire(1), 1));
  for (Segment* s : segs) arena.release(s, 1000);
  REQUIRE(arena.counters().dirty == 4);  // the rest were purged at once
  REQUIRE(arena.counters().clean == 6);
  arena.purge(1049);
  REQUIRE(arena.counters().dirty == 4);
  arena.purge(1050);
  REQUIRE(arena.counters().dirty == 0);
  REQUIRE(arena.counters().clean == 10);
}

TEST_CASE("the dirty bound grows with the windows in use") {
  ArenaOptions o;
  o.max_dirty = 4;
  Arena arena(o);
  std::vector<Segment*> segs;
  for (int i = 0; i < 40; ++i) segs.push_back(make(arena.acquire(1), 1));
  // 40 in use: 10 released stay resident (at most half of what is still in
  // use, 30 -> 15), not just max_dirty.
  for (int i = 0; i < 10; ++i) arena.release(segs[i], 1000);
  REQUIRE(arena.counters().dirty == 10);
  REQUIRE(arena.counters().clean == 0);
  // Down to 10 in use, the bound is max_dirty again: the rest are purged at
  // once, but none of those already dirty.
  for (int i = 10; i < 30; ++i) arena.release(segs[i], 1000);
  const ArenaCounters c = arena.counters();
  REQUIRE(c.windows_held == 10);
  REQUIRE(c.dirty + c.clean == 30);
  REQUIRE(c.dirty <= 15);
  REQUIRE(c.dirty >= 10);
  for (int i = 30; i < 40; ++i) arena.release(segs[i], 1000);
}

TEST_CASE("concurrent acquire/release from several threads: no segment lost or handed out twice") {
  ArenaOptions o;
  o.purge_delay_ms = 1;
  o.max_dirty = 16;
  Arena arena(o);
  constexpr int kThreads = 4, kRounds = 20000, kHold = 8;
  std::atomic<bool> failed{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<Segment*> held;
      const std::uint64_t me = 0x1000 + static_cast<std::uint64_t>(t);
      for (int r = 0; r < kRounds && !failed; ++r) {
        if (held.size() < kHold && (held.empty() || rng() % 2 == 0)) {
          const unsigned c = rng() % 4;
          Arena::Grant g = arena.acquire(c);
          if (g.memory == nullptr) {
            failed = true;
            break;
          }
          // Claim the segment: its first word must be free of any other holder.
          auto* claim = reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<char*>(g.memory) + kFirstBlock);
          std::uint64_t zero = 0;
          if (!claim->compare_exchange_strong(zero, me)) {
            failed = true;
            break;
          }
          Segment* s = Segment::create(g.memory, static_cast<std::uint8_t>(c), 64, g.zero);
          held.push_back(s);
        } else {
          const std::size_t i = rng() % held.size();
          Segment* s = held[i];
          held[i] = held.back();
          held.pop_back();
          auto* claim = reinterpret_cast<std::atomic<std::uint64_t>*>(s->first_block());
          if (claim->exchange(0) != me) {
            failed = true;
            break;
          }
          arena.release(s, region::now_ms());
          if (r % 64 == 0) arena.purge(region::now_ms());
        }
      }
      for (Segment* s : held) {
        reinterpret_cast<std::atomic<std::uint64_t>*>(s->first_block())->store(0);
        arena.release(s, region::now_ms());
      }
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE_FALSE(failed.load());
  const ArenaCounters c = arena.counters();
  // Every segment ever carved is in a pool (or was unmapped): none lost, none twice.
  REQUIRE(c.dirty + c.clean + c.segments_unmapped == c.segments_carved);
  // No growth beyond what can be out at once: held by the threads, plus the
  // dirty ones a purge may have popped to inspect (briefly invisible to
  // acquire), plus one racing carve per thread.
  REQUIRE(c.segments_carved <= kThreads * kHold + o.max_dirty + kThreads);
}

TEST_CASE("medium classes: spans of several windows, reused warm by any class of the same length") {
  Arena arena;
  // 768 KiB and 896 KiB blocks both need 4 windows; 1 MiB needs 5.
  const unsigned c768 = size_class::of(768 << 10), c896 = size_class::of(896 << 10), c1m = size_class::of(1 << 20);
  REQUIRE(span_windows(size_class::size_of(c768)) == 4);
  REQUIRE(span_windows(size_class::size_of(c896)) == 4);
  REQUIRE(span_windows(size_class::size_of(c1m)) == 5);
  Arena::Grant a = arena.acquire(c768), b = arena.acquire(c1m), small = arena.acquire(0);
  for (const Arena::Grant& g : {a, b, small}) {
    REQUIRE(g.memory != nullptr);
    REQUIRE(segment_aligned(g.memory));
  }
  // Spans never overlap one another or a one-window segment.
  auto* pa = static_cast<char*>(a.memory);
  auto* pb = static_cast<char*>(b.memory);
  auto* ps = static_cast<char*>(small.memory);
  REQUIRE((pa + 4 * kSegmentSize <= pb || pb + 5 * kSegmentSize <= pa));
  REQUIRE((ps + kSegmentSize <= pa || pa + 4 * kSegmentSize <= ps));
  REQUIRE((ps + kSegmentSize <= pb || pb + 5 * kSegmentSize <= ps));
  // The whole block is usable: write its last byte.
  Segment* sa = Segment::create(a.memory, static_cast<std::uint8_t>(c768), size_class::size_of(c768), a.zero);
  REQUIRE(sa->windows == 4);
  REQUIRE(sa->capacity == 1);
  sa->first_block()[size_class::size_of(c768) - 1] = 1;
  REQUIRE(arena.counters().windows_held == 4 + 5 + 1);
  arena.release(sa, 0);
  REQUIRE(arena.counters().windows_held == 5 + 1);
  REQUIRE(arena.counters().dirty == 4);
  // The next 4-window class gets the same warm span, whatever its class.
  Arena::Grant again = arena.acquire(c896);
  REQUIRE(again.memory == a.memory);
  REQUIRE_FALSE(again.zero);
  REQUIRE(arena.counters().dirty == 0);
}

TEST_CASE("medium classes: a one-block class borrows a warm span one window longer, whole") {
  Arena arena(never_purged());
  const unsigned c160 = size_class::of(160 << 10), c320 = size_class::of(320 << 10);
  const unsigned c640 = size_class::of(640 << 10), c40 = size_class::of(40 << 10);
  REQUIRE(span_windows(size_class::size_of(c160)) == 1);
  REQUIRE(span_windows(size_class::size_of(c320)) == 2);
  REQUIRE(span_windows(size_class::size_of(c640)) == 3);
  auto create = [](Arena::Grant g, unsigned c) {
    REQUIRE(g.memory != nullptr);
    return Segment::create(g.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), g.zero, false, g.windows);
  };
  Arena::Grant two = arena.acquire(c320);
  REQUIRE(two.windows == 2);
  Segment* s = create(two, c320);
  std::memset(s->first_block(), 0xAB, size_class::size_of(c320));
  arena.release(s, 0);
  REQUIRE(arena.counters().windows_held == 0);

  SECTION("a class of several blocks a segment never does") {
    Arena::Grant g = arena.acquire(c40);  // 6 blocks a window
    REQUIRE(g.memory != two.memory);
    REQUIRE(g.zero);
    REQUIRE(g.windows == 1);
    REQUIRE(arena.counters().segments_borrowed == 0);
  }
  SECTION("one block a span: the whole two-window span, resident, holding one block") {
    Arena::Grant g = arena.acquire(c160);
    REQUIRE(g.memory == two.memory);
    REQUIRE_FALSE(g.zero);
    REQUIRE(g.windows == 2);
    REQUIRE(arena.counters().segments_borrowed == 1);
    REQUIRE(arena.counters().windows_held == 2);
    Segment* b = create(g, c160);
    REQUIRE(b->windows == 2);
    REQUIRE(b->capacity == 1);
    REQUIRE(b->refill());
    Block* only = b->blocks.pop();
    REQUIRE(only == reinterpret_cast<Block*>(b->first_block()));
    REQUIRE(b->blocks.empty());
    REQUIRE_FALSE(b->refill());  // one block, though a second would fit in the span
    b->push_local(only);         // freed: the segment is empty again
    REQUIRE(b->blocks.returned(only));
    // Emptied, it goes back to its own length: a 2-window class reuses it.
    arena.release(b, 1);
    REQUIRE(arena.counters().windows_held == 0);
    REQUIRE(arena.acquire(c320).memory == two.memory);
  }
  SECTION("the class's own length comes first") {
    Arena::Grant own = arena.acquire(c160);  // borrows the 2-window span
    Arena::Grant fresh = arena.acquire(c160);
    REQUIRE(fresh.zero);
    arena.release(carved(create(fresh, c160)), 1);  // reaches past its block: covers the next one
    arena.release(create(own, c160), 1);
    REQUIRE(arena.acquire(c160).memory == fresh.memory);  // its own length's span, though the other was pooled last
  }
  SECTION("no further than borrow_windows") {
    Arena::Grant three = arena.acquire(c640);  // 3 windows: two longer than c160's span
    REQUIRE(three.windows == 3);
    arena.release(create(three, c640), 1);
    REQUIRE(arena.acquire(c160).memory == two.memory);  // one longer: borrowed
    Arena::Grant g = arena.acquire(c160);               // only two longer left: a fresh span
    REQUIRE(g.memory != three.memory);
    REQUIRE(g.zero);
    REQUIRE(g.windows == 1);
    REQUIRE(arena.counters().segments_borrowed == 1);
  }
}

TEST_CASE("dirty spans by reach: a class takes the warm span that covers its block, reaching least far") {
  Arena arena(never_purged());
  // 256, 320 and 448 KiB blocks all take spans of two windows, each reaching
  // a different 64 KiB step; 640 KiB takes three.
  const unsigned c256 = size_class::of(256 << 10), c320 = size_class::of(320 << 10);
  const unsigned c448 = size_class::of(448 << 10), c640 = size_class::of(640 << 10);
  for (unsigned c : {c256, c320, c448}) REQUIRE(span_windows(size_class::size_of(c)) == 2);
  REQUIRE(span_windows(size_class::size_of(c640)) == 3);
  // Fresh spans of classes c, each one's block handed out and freed, back
  // in the arena in this order.
  auto pooled = [&](std::initializer_list<unsigned> classes) {
    std::vector<Arena::Grant> grants;
    for (unsigned c : classes) grants.push_back(arena.acquire(c));
    std::vector<void*> spans;
    auto g = grants.begin();
    for (unsigned c : classes) {
      REQUIRE(g->zero);
      Segment* s = carved(
          Segment::create(g->memory, static_cast<std::uint8_t>(c), size_class::size_of(c), g->zero, false, g->windows));
      REQUIRE(s->reach() == kFirstBlock + size_class::size_of(c));
      arena.release(s, 0);
      spans.push_back((g++)->memory);
    }
    return spans;
  };
  const std::vector<void*> spans = pooled({c256, c448, c320});
  void* const short_reach = spans[0];
  void* const long_reach = spans[1];
  void* const exact = spans[2];
  // Pooled last-in-first-out before, so these take the order of reach alone.
  SECTION("the same reach, then further, then less far (it faults the rest in), then fresh") {
    Arena::Grant a = arena.acquire(c320);
    REQUIRE(a.memory == exact);
    REQUIRE_FALSE(a.zero);
    REQUIRE(a.reached == kFirstBlock + size_class::size_of(c320));  // Segment::create starts from it
    REQUIRE(arena.acquire(c320).memory == long_reach);
    REQUIRE(arena.acquire(c320).memory == short_reach);
    REQUIRE(arena.acquire(c320).zero);
    REQUIRE(arena.counters().segments_borrowed == 0);
  }
  SECTION("a span one window longer that covers the block comes before one of its length that does not") {
    REQUIRE(arena.acquire(c448).memory == long_reach);
    void* longer = pooled({c640})[0];
    REQUIRE(arena.acquire(c448).memory == longer);
    REQUIRE(arena.counters().segments_borrowed == 1);
    REQUIRE(arena.acquire(c448).memory == exact);  // then the nearest reaching less far
    REQUIRE(arena.acquire(c448).memory == short_reach);
  }
  SECTION("a segment that reuses a span goes on reaching as far") {
    Arena::Grant a = arena.acquire(c256);  // takes its own, not the longer-reaching ones
    REQUIRE(a.memory == short_reach);
    arena.release(carved(Segment::create(a.memory, static_cast<std::uint8_t>(c256), size_class::size_of(c256), false,
                                         false, a.windows)),
                  0);
    Arena::Grant b = arena.acquire(c320);
    REQUIRE(b.memory == exact);
    // A 256 KiB block in the span that reached for a 448 KiB one: it still does.
    Arena::Grant c = arena.acquire(c256);
    REQUIRE(c.memory == short_reach);
    Arena::Grant d = arena.acquire(c256);
    REQUIRE(d.memory == long_reach);
    Segment* s = carved(Segment::create(d.memory, static_cast<std::uint8_t>(c256), size_class::size_of(c256), false,
                                        false, d.windows, d.reached));
    REQUIRE(s->reach() == kFirstBlock + size_class::size_of(c448));
    arena.release(s, 0);
    REQUIRE(arena.acquire(c448).memory == long_reach);
  }
  SECTION("a purged span reaches nowhere: it comes back zero, after every warm one") {
    arena.purge(1, /*force=*/true);
    Arena::Grant g = arena.acquire(c320);
    REQUIRE(g.zero);
    REQUIRE(g.reached == 0);
  }
}

TEST_CASE("dirty spans by reach: a class of several blocks a segment takes the window reaching furthest") {
  Arena arena(never_purged());
  // Class 7 (64-byte blocks of make()): its first carve reaches one page.
  Segment* near = carved(make(arena.acquire(7), 7));
  REQUIRE(near->reach() < Arena::kReachStep);
  // A one-block class's span of one window, reaching past 128 KiB.
  const unsigned c160 = size_class::of(160 << 10);
  Arena::Grant g = arena.acquire(c160);
  Segment* far = carved(Segment::create(g.memory, static_cast<std::uint8_t>(c160), size_class::size_of(c160), g.zero));
  arena.release(far, 0);
  arena.release(near, 0);  // pooled last
  REQUIRE(arena.acquire(7).memory == far);
  REQUIRE(arena.acquire(7).memory == near);
}

TEST_CASE("dirty spans by reach: a full pool spills into those of its length reaching less far") {
  ArenaOptions o;
  o.purge_delay_ms = 1000000;
  o.max_dirty = 4 * Arena::kDirtyCapacity;
  Arena arena(o);
  // More whole windows than one pool holds, all reaching to their end.
  const std::size_t n = Arena::kDirtyCapacity + 10;
  const unsigned c = size_class::of(16384);  // 16 KiB blocks: a window's carves reach its end
  std::vector<Segment*> segs;
  for (std::size_t i = 0; i < n; ++i) {
    Arena::Grant g = arena.acquire(c);
    Segment* s = Segment::create(g.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), g.zero);
    while (s->refill()) s->blocks.pop();  // every block carved
    REQUIRE(s->reach() > kSegmentSize - size_class::size_of(c));
    segs.push_back(s);
  }
  for (Segment* s : segs) {
    while (!s->blocks.empty()) s->blocks.pop();
    s->blocks.used = 0;  // every block back (their lists, and the sum, do not matter to the arena)
    s->blocks.out_sum = 0;
    arena.release(s, 0);
  }
  REQUIRE(arena.counters().dirty == n);  // none purged for want of room
  REQUIRE(arena.counters().segments_purged == 0);
  std::set<void*> back;
  for (std::size_t i = 0; i < n; ++i) {
    Arena::Grant g = arena.acquire(c);
    REQUIRE_FALSE(g.zero);
    REQUIRE(g.reached > kSegmentSize - size_class::size_of(c));
    back.insert(g.memory);
  }
  REQUIRE(back.size() == n);
}

TEST_CASE("medium classes: borrow_windows = 0 keeps exact lengths (the ablation)") {
  ArenaOptions o;
  o.purge_delay_ms = 1000000;
  o.borrow_windows = 0;
  Arena arena(o);
  const unsigned c160 = size_class::of(160 << 10), c320 = size_class::of(320 << 10);
  Arena::Grant two = arena.acquire(c320);
  arena.release(Segment::create(two.memory, static_cast<std::uint8_t>(c320), size_class::size_of(c320), two.zero), 0);
  Arena::Grant g = arena.acquire(c160);
  REQUIRE(g.memory != two.memory);
  REQUIRE(g.zero);
  REQUIRE(g.windows == 1);
  REQUIRE(arena.counters().segments_borrowed == 0);
}

TEST_CASE("medium classes: a purged span comes back zero, and trim unmaps it") {
  Arena arena(ArenaOptions{.purge_delay_ms = 10});
  const unsigned c = size_class::of(300 << 10);  // 2 windows
  Arena::Grant g = arena.acquire(c);
  Segment* s = Segment::create(g.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), g.zero);
  std::memset(s->first_block(), 0xAB, size_class::size_of(c));
  arena.release(s, 0);
  arena.purge(1000);
  REQUIRE(arena.counters().clean == 1);
  Arena::Grant back = arena.acquire(c);
  REQUIRE(back.memory == g.memory);
  REQUIRE(back.zero);
  REQUIRE(static_cast<unsigned char*>(back.memory)[kFirstBlock + 1000] == 0);
  Segment* t = Segment::create(back.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), back.zero);
  arena.release(t, 0);
  const auto before = region::counters().reserved;
  REQUIRE(arena.trim() == 1);
  REQUIRE(region::counters().reserved == before - 2 * kSegmentSize);
}
