#include <catch2/catch.hpp>

#include "tinyalloc/queue.hpp"
#include "tinyalloc/region.hpp"

using namespace tinyalloc;

TEST_CASE("class queue: available <-> full transitions in O(1), flags follow") {
  constexpr int kSegments = 3;
  char* mem = static_cast<char*>(region::reserve(kSegments * kSegmentSize, kSegmentSize));
  REQUIRE(mem != nullptr);
  Segment* s[kSegments];
  for (int i = 0; i < kSegments; ++i) s[i] = Segment::create(mem + i * kSegmentSize, 2, 32, true);

  ClassQueue q;
  REQUIRE(q.empty());
  REQUIRE(q.current() == nullptr);
  for (int i = kSegments - 1; i >= 0; --i) q.push_front(*s[i]);
  REQUIRE(q.current() == s[0]);
  REQUIRE(q.available.size() == 3);

  REQUIRE(q.mark_full(*s[0]));
  REQUIRE(s[0]->is_full());
  REQUIRE(q.current() == s[1]);
  REQUIRE(q.full.size() == 1);

  REQUIRE(q.mark_full(*s[2]));
  REQUIRE(q.available.size() == 1);
  q.mark_available(*s[0]);  // goes to the back: current() keeps serving
  REQUIRE_FALSE(s[0]->is_full());
  REQUIRE(q.current() == s[1]);
  REQUIRE(&q.available.back() == s[0]);

  q.remove(*s[2]);  // from full
  REQUIRE_FALSE(s[2]->is_full());
  q.remove(*s[1]);  // from available
  REQUIRE(q.current() == s[0]);
  q.remove(*s[0]);
  REQUIRE(q.empty());
  REQUIRE(region::release(mem, kSegments * kSegmentSize));
}
