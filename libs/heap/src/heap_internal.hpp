// What heap.cpp shares with free.cpp and api.cpp.
#pragma once

#include "globals.hpp"

namespace tinyalloc::detail {

/// Invariant: h->classes[c].current is the free blocks of
/// h->queues[c].current(), or g_empty_blocks.
void set_current(Heap* h, unsigned c) noexcept;
/// An unused segment goes back to the arena (and its purge is scheduled).
void release_segment(Globals& g, Segment* s) noexcept;

}  // namespace tinyalloc::detail
