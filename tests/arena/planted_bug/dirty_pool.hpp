// Test substitute for libs/arena/internal/dirty_pool.hpp, with a planted bug:
// a released segment is pushed twice, so two threads can be handed the same
// segment.  Only test_arena_planted_bug is built with it (see
// tests/arena/CMakeLists.txt); the arena's concurrency test must fail.
#pragma once

#include <atomic>
#include <cstddef>

#include "tinyalloc/segment.hpp"

namespace tinyalloc::detail {

template <class Pool>
inline bool push_dirty(Pool& pool, std::atomic<std::size_t>& count, Segment* s, std::size_t windows) noexcept {
  if (!pool.bounded_push(s)) return false;
  count.fetch_add(windows, std::memory_order_relaxed);
  if (pool.bounded_push(s)) count.fetch_add(windows, std::memory_order_relaxed);  // the bug
  return true;
}

}  // namespace tinyalloc::detail
