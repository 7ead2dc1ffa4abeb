// tinyalloc::arena, private: how Arena::release puts an emptied segment into
// its dirty pool.  Not installed; only arena.cpp includes it.
//
// A header of its own so that a test can substitute it: tests/arena builds
// arena.cpp a second time with tests/arena/planted_bug/ on the include path
// instead of this directory, to check that its concurrency test catches a
// segment handed out twice.  Keep the include in arena.cpp as
// "dirty_pool.hpp" and this file out of src/ (a quoted include looks in the
// including file's directory first, which would defeat the substitution).
#pragma once

#include <atomic>
#include <cstddef>

#include "tinyalloc/segment.hpp"

namespace tinyalloc::detail {

/// Pushes `s` onto `pool` and counts its windows in `count`; false if the pool is full.
template <class Pool>
inline bool push_dirty(Pool& pool, std::atomic<std::size_t>& count, Segment* s, std::size_t windows) noexcept {
  if (!pool.bounded_push(s)) return false;
  count.fetch_add(windows, std::memory_order_relaxed);
  return true;
}

}  // namespace tinyalloc::detail
