#include <catch2/catch.hpp>

#include "tinyalloc/queue.hpp"
#include "tinyalloc/region.hpp"

using namespace tinyalloc;

TEST_CASE("size classes: smallest class that fits, by table lookup") {
  for (std::size_t n = 0; n <= size_class::kMaxSmall; ++n) {
    const unsigned c = size_class::of(n);
    REQUIRE(c < size_class::kCount);
    REQUIRE(size_class::size_of(c) >= n);
    if (c > 0) REQUIRE(size_class::size_of(c - 1) < n);  // and no smaller one would do
  }
}

TEST_CASE("size classes: at most 25% waste from 64 bytes, 16-byte multiples from 16") {
  for (std::size_t n = 64; n <= size_class::kMaxSmall; ++n) {
    const std::size_t block = size_class::size_of(size_class::of(n));
    REQUIRE(block * 4 <= n * 5);  // block <= 1.25 n
  }
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    const std::uint32_t s = size_class::size_of(c);
    if (s >= 16) REQUIRE(s % 16 == 0);
    if (c > 0) REQUIRE(s > size_class::size_of(c - 1));
  }
  REQUIRE(size_class::size_of(size_class::kCount - 1) == size_class::kMaxSmall);
}

TEST_CASE("class queue: available <-> full transitions in O(1), flags follow") {
  constexpr int kSegments = 3;
  char* mem = static_cast<char*>(region::reserve(kSegments * kSegmentSize, kSegmentSize));
  REQUIRE(mem != nullptr);
  Segment* s[kSegments];
  for (int i = 0; i < kSegments; ++i) s[i] = Segment::create(mem + i * kSegmentSize, 2, 32, true);

  ClassQueue q;
  REQUIRE(q.empty());
  REQUIRE(q.front() == nullptr);
  for (int i = kSegments - 1; i >= 0; --i) q.push_front(*s[i]);
  REQUIRE(q.front() == s[0]);
  REQUIRE(q.available.size() == 3);

  q.mark_full(*s[0]);
  REQUIRE(s[0]->is_full());
  REQUIRE(q.front() == s[1]);
  REQUIRE(q.full.size() == 1);

  q.mark_full(*s[2]);
  REQUIRE(q.available.size() == 1);
  q.mark_available(*s[0]);  // goes to the back: the front keeps serving
  REQUIRE_FALSE(s[0]->is_full());
  REQUIRE(q.front() == s[1]);
  REQUIRE(&q.available.back() == s[0]);

  q.remove(*s[2]);  // from full
  REQUIRE_FALSE(s[2]->is_full());
  q.remove(*s[1]);  // from available
  REQUIRE(q.front() == s[0]);
  q.remove(*s[0]);
  REQUIRE(q.empty());
  region::release(mem, kSegments * kSegmentSize);
}
