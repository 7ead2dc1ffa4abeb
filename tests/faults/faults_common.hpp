// Shared by the fault tests: every test here runs in a program linked with
// the static override (tinyalloc::override), so malloc/free/new of the test,
// of libc, of libstdc++ and of dlopen'ed libraries are tinyalloc's.  Static
// linking (not LD_PRELOAD) keeps the binary runnable as-is by ctest and makes
// "is tinyalloc serving this?" checkable in-process through its statistics.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>

#include "../common/pattern.hpp"
#include "tinyalloc/heap.hpp"

namespace faults {

using namespace test_pattern;

/// Blocks tinyalloc has served on small classes, over every heap.
inline std::uint64_t small_served() {
  tinyalloc::Stats s;
  tinyalloc::stats_get(s);
  return s.small_total;
}

/// Mostly small, sometimes up to 64 KiB (large path).
inline std::size_t random_size(std::mt19937_64& rng) {
  if (rng() % 64 == 0) return 32 * KiB + rng() % (32 * KiB);
  return 1 + rng() % (rng() % 4 == 0 ? 4096 : 256);
}

inline std::uint64_t seed_of(const void* p) { return addr(p) * 0x9E3779B97F4A7C15ULL; }

/// malloc + fill with an address-derived pattern; nullptr on failure.
inline void* alloc_filled(std::size_t n) {
  void* p = std::malloc(n);
  if (p != nullptr) fill_range(p, 0, n, seed_of(p));
  return p;
}

/// True if the block still holds its pattern; frees it either way.
inline bool check_free(void* p, std::size_t n) {
  const bool ok = check_range(p, 0, n, seed_of(p)) == SIZE_MAX;
  std::free(p);
  return ok;
}

}  // namespace faults
