// Test support for the C++ interfaces: did these blocks come from tinyalloc?
// Judged from tinyalloc's own statistics (this test's process keeps glibc
// malloc, so only the interfaces under test reach tinyalloc).
#pragma once

#include <cstdint>

#include "tinyalloc.h"

namespace test_cxx {

/// Blocks tinyalloc has handed out so far: small ones (when per-class
/// counting is compiled in) and large ones (always counted).
inline std::uint64_t blocks_served() {
  ta_stats_t s;
  ta_stats_get(&s);
  return s.small_served + s.large_allocations;
}

/// Counts the blocks tinyalloc serves from construction to now().
class Served {
 public:
  Served() : start_(blocks_served()) {}
  std::uint64_t now() const { return blocks_served() - start_; }
  /// Small blocks are only visible with TINYALLOC_STATS=ON.
  static bool counts_small() { return TINYALLOC_STATS != 0; }

 private:
  std::uint64_t start_;
};

}  // namespace test_cxx
