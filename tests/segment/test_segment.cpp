#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "tinyalloc/region.hpp"
#include "tinyalloc/segment.hpp"

using namespace tinyalloc;

namespace {

struct SegmentMemory {
  SegmentMemory() : p(region::reserve(kSegmentSize, kSegmentSize)) { REQUIRE(p != nullptr); }
  ~SegmentMemory() { region::release(p, kSegmentSize); }
  void* p;
};

Block* pop(Segment* s) {
  if (!s->refill()) return nullptr;
  Block* b = s->front.free;
  s->front.free = b->next;
  ++s->front.used;
  return b;
}

}  // namespace

TEST_CASE("geometry") {
  STATIC_REQUIRE(kSegmentSize == (std::size_t{1} << kSegmentShift));
  STATIC_REQUIRE(sizeof(Segment) <= kFirstBlock);
  STATIC_REQUIRE(kFirstBlock % 16 == 0);
  STATIC_REQUIRE(alignof(Segment) == 64);
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
    REQUIRE(s->front.used == n);
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
    b->next = s->local_free;
    s->local_free = b;
    --s->front.used;
  }
  REQUIRE(s->is_unused());
  // Drain the current free list, then the next pop comes from local_free.
  while (s->front.free != nullptr) pop(s);
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
  const std::uint32_t total = s->front.used;

  constexpr int kThreads = 4;
  std::atomic<int> empties{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (std::size_t i = t; i < blocks.size(); i += kThreads)
        if (s->push_thread_free(blocks[i])) empties.fetch_add(1);
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE(empties.load() == 1);  // exactly one push found the list empty
  REQUIRE(s->has_thread_free());
  REQUIRE(s->take_thread_free());
  REQUIRE(s->front.used == 0);
  REQUIRE_FALSE(s->has_thread_free());
  std::set<Block*> collected;
  for (Block* b = s->front.free; b != nullptr; b = b->next) REQUIRE(collected.insert(b).second);
  REQUIRE(collected.size() == total);
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

TEST_CASE("owner word: flags sit beside the owner and never disturb it") {
  SegmentMemory mem;
  Segment* s = Segment::create(mem.p, 0, 64, true);
  s->owner_flags.store(0x7f0000001000, std::memory_order_relaxed);
  s->set_flag(kInFull, true);
  s->set_flag(kHasAligned, true);
  REQUIRE(s->owner() == 0x7f0000001000);
  REQUIRE(s->is_full());
  s->set_flag(kInFull, false);
  REQUIRE_FALSE(s->is_full());
  REQUIRE(s->flags() == kHasAligned);
}
