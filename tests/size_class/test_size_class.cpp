#include <catch2/catch.hpp>

#include "tinyalloc/size_class.hpp"

using namespace tinyalloc;

TEST_CASE("size classes: smallest class that fits, by table lookup") {
  for (std::size_t n = 0; n <= size_class::kMaxMedium; ++n) {
    const unsigned c = size_class::of(n);
    REQUIRE(c < size_class::kCount);
    REQUIRE(size_class::size_of(c) >= n);
    if (c > 0) REQUIRE(size_class::size_of(c - 1) < n);  // and no smaller one would do
  }
}

TEST_CASE("size classes: at most 25% waste from 64 bytes, 16-byte multiples from 16") {
  for (std::size_t n = 64; n <= size_class::kMaxMedium; ++n) {
    const std::size_t block = size_class::size_of(size_class::of(n));
    REQUIRE(block * 4 <= n * 5);  // block <= 1.25 n
  }
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    const std::uint32_t s = size_class::size_of(c);
    if (s >= 16) REQUIRE(s % 16 == 0);
    if (c > 0) REQUIRE(s > size_class::size_of(c - 1));
  }
  REQUIRE(size_class::size_of(size_class::kSmallCount - 1) == size_class::kMaxSmall);
  REQUIRE(size_class::size_of(size_class::kCount - 1) == size_class::kMaxMedium);
  for (std::size_t n = 0; n <= size_class::kMaxSmall; ++n) REQUIRE(size_class::of_small(n) == size_class::of(n));
}

TEST_CASE("size classes: direct slots, each class a run of them, the run of its requests") {
  // malloc finds a request's free list by its slot; the heap writes a class's
  // list into exactly [first_slot, end_slot), so these must be the slots its
  // requests map to, and no other.
  for (std::size_t n = 0; n <= size_class::kDirectLimit; ++n) {
    const std::size_t i = size_class::direct_slot(n);
    REQUIRE(i < size_class::kDirectSlots);
    REQUIRE(size_class::of_slot(i) == size_class::of(n));
  }
  std::size_t covered = 0;
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    for (std::size_t i = size_class::first_slot(c); i < size_class::end_slot(c); ++i) {
      REQUIRE(size_class::of_slot(i) == c);
      ++covered;
    }
    if (size_class::size_of(c) > size_class::kDirectLimit)
      REQUIRE(size_class::first_slot(c) == size_class::end_slot(c));
  }
  REQUIRE(covered == size_class::kDirectSlots);
  for (std::size_t n = size_class::kDirectLimit + 1; n <= size_class::kMaxSmall; ++n)
    REQUIRE(size_class::of_coarse(n) == size_class::of(n));
}
