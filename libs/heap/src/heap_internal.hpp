// What heap.cpp shares with free.cpp and api.cpp.
#pragma once

#include <cstring>

#include "globals.hpp"

namespace tinyalloc::detail {

/// Zero n bytes at p: calloc's reused blocks, and secure builds' freed ones.
/// From 1 MiB on, by discarding the pages (they fault back as zero, like a
/// fresh mapping's) rather than writing them.
inline void clear(void* p, std::size_t n) noexcept {
  if (n >= (std::size_t{1} << 20)) {
    region::zero(p, n);
  } else {
    std::memset(p, 0, n);
  }
}

/// Invariant: h->classes[c].current, and the current of each of c's direct
/// slots, is the free blocks of h->queues[c].current(), or g_empty_blocks.
void set_current(Heap* h, unsigned c) noexcept;
/// An unused segment goes back to the arena (and its purge is scheduled).
/// Hardened builds first check that no block of it is still live: a double
/// free can bring the count of blocks out to 0 one block early
/// (Segment::live_block); that is reported, never released.
void release_segment(Globals& g, Segment* s) noexcept;
/// s, one of h's segments, has no block out: keep it as its class's
/// current segment or give it back (the fast path's segment_emptied, for a
/// heap named explicitly, and without purging).
void segment_emptied(Heap* h, Segment* s) noexcept;
/// The same without scheduling a purge (for the purge itself): the segment
/// loses its guard page (secure builds) and goes back to the arena.
void retire_segment(Globals& g, Segment* s, std::uint64_t now_ms) noexcept;
/// h frees b, a block of its segment s (possibly full), as its owner.
void free_owned(Heap* h, Segment* s, Block* b) noexcept;
/// h keeps s, an empty medium segment, as its class's current one, and
/// gives back the one it kept before if that is still empty (see
/// segment_emptied): at most one empty medium segment waits per heap.
void keep_empty_medium(Heap* h, const Segment* s) noexcept;
/// s, a segment of one block, of class c, has just handed that block out:
/// it leaves h, on no list and ownerless, until the block is freed
/// (detached.cpp).
void detach(Heap* h, unsigned c, Segment* s) noexcept;
/// This thread frees b, the one block of s, a detached segment: it holds s
/// from now on, and keeps it as its heap's segment or gives it back.
void free_detached(Segment* s, Block* b) noexcept;
/// Free, as the owner, every block other threads handed off to h.
void collect_handed_off(Heap* h) noexcept;

}  // namespace tinyalloc::detail
