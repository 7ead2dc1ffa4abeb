// The one pointer classifier: what a pointer handed back to tinyalloc (free,
// realloc, malloc_usable_size) is, or which misuse it is.
#pragma once

#include "tinyalloc/heap.hpp"

namespace tinyalloc::detail {

/// A live block, verified.
struct LiveBlock {
  SegmentBase* header;
  /// Small blocks: the block start (p itself, or the start of the block an
  /// aligned allocation handed out p inside).  Large blocks: nullptr.
  Block* block;
  /// Small blocks: the owner word as read (owner heap | flags).
  std::uintptr_t owner_word;
  /// Bytes the program asked for, where a canary follows them (medium and
  /// large blocks, hardened builds); 0 for other blocks.
  std::size_t asked;

  bool is_large() const noexcept { return block == nullptr; }
  Segment* segment() const noexcept { return static_cast<Segment*>(header); }
  /// Bytes the program may use from p (the pointer classified): up to the
  /// canary, or all the block has from p.
  std::size_t usable(const void* p) const noexcept {
    if (asked != 0) return asked;
    if (is_large()) return large::usable_size(p);
    return segment()->block_size -
           static_cast<std::size_t>(static_cast<const char*>(p) - reinterpret_cast<const char*>(block));
  }
};

/// Verify that p (not null) is a block tinyalloc handed out and that is not
/// free: p lies in a window of tinyalloc's, its header carries the cookie and
/// a live kind, p is a block start (or, for a segment that hands out aligned
/// blocks, inside one), the block is not on a free list (by its encoded
/// first word; for this thread's own segments confirmed by walking them; for
/// medium blocks by their recorded size), and its canary is intact.
/// Anything else is reported as a misuse of `call` ("free()", "realloc()",
/// ...) and the process aborts.
LiveBlock classify(const void* p, const char* call) noexcept;

}  // namespace tinyalloc::detail
