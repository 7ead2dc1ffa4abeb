// The block grid: is an address the start of a block its segment has carved?
// free() asks on every call (hardened builds), so the answer is a mask, one
// multiply and one compare, with no division.
//
// Blocks of size d start at origin + q*d (origin: the window's start plus
// kFirstBlock) for q < capacity.  With n = (p - origin) mod 2^18 (p's offset
// in its window, the header's bytes wrapping to the window's end) and a
// multiplier c = (2^64 + e) / d (e > 0 chosen so that this divides exactly),
// n * c mod 2^64 is
//   q * e              if n = q * d              (a multiple of d), and
//   q * e + r * c      if n = q * d + r, 0<r<d   (r * c >= c > 2^64 / d).
// Choosing e in [2^kBoundShift / capacity, 2^kBoundShift / (capacity - 1))
// puts q * e below 2^kBoundShift exactly for the capacity first blocks, and
// every other product at or above it.  (This is Lemire's divisibility test,
// n * ceil(2^64/d) < ceil(2^64/d), with the slack of the multiplier spent on
// the bound.)  Such an e exists (the interval is longer than d) while
// capacity^2 * d < 2^kBoundShift, and no product wraps while d is at most
// kMaxBlock; both hold for every block of a segment (capacity * d fits in a
// 256 KiB window, or capacity is 1).
//
// The products of the starts grow with q, so one compare also bounds q by the
// blocks carved so far: `product < bound` with bound = (carved - 1) * e + 1,
// at most 2^kBoundShift.  A stale pointer from the memory's earlier life
// that falls on the grid past the carved blocks (a late double free) then
// fails here; accepted, it would be handed out again when the segment
// carves that far.  tests/segment checks the conditions and the header's
// addresses for every block size a segment can hold, and every byte of a
// window for ten of them.
#pragma once

#include <cstdint>

#include "tinyalloc/segment/geometry.hpp"

namespace tinyalloc {

struct BlockGrid {
  static constexpr unsigned kBoundShift = 40;
  static constexpr std::uint64_t kMaxBlock = std::uint64_t{1} << 21;

  std::uint64_t multiplier = 0;  ///< c above
  /// Products below it are the carved blocks' starts (0: none).  Written
  /// only by the thread that carves (cover(), atomically), which reads it
  /// plainly (starts_block); other threads read it atomically
  /// (starts_block_shared): they hold only blocks carved before they got
  /// them, so the value they see covers those.
  std::uint64_t bound = 0;

  /// The grid of `capacity` blocks of `block_size` bytes, none carved yet.
  static constexpr BlockGrid make(std::uint64_t block_size, std::uint64_t capacity) noexcept {
    const std::uint64_t limit = std::uint64_t{1} << kBoundShift;
    // e must be congruent to -2^64 mod d for c to be whole: d - (2^64 mod d).
    const std::uint64_t wrap = (0 - block_size) % block_size;  // 2^64 mod d
    const std::uint64_t residue = (block_size - wrap) % block_size;
    const std::uint64_t least = (limit + capacity - 1) / capacity;
    const std::uint64_t e = least + (residue + block_size - least % block_size) % block_size;
    const auto c = static_cast<std::uint64_t>(((static_cast<unsigned __int128>(1) << 64) + e) / block_size);
    return BlockGrid{c, 0};
  }
  /// From now on the first `blocks` blocks (of `block_size` bytes) pass.
  void cover(std::uint64_t blocks, std::uint64_t block_size) noexcept {
    const std::uint64_t e = multiplier * block_size;  // c * d - 2^64
    __atomic_store_n(&bound, blocks == 0 ? 0 : (blocks - 1) * e + 1, __ATOMIC_RELAXED);
  }
  static std::uint64_t offset(const void* p) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) - kFirstBlock) & kSegmentMask;
  }
  /// p (an address of the grid's window) is the start of a carved block.
  /// For the thread that carves.
  bool starts_block(const void* p) const noexcept { return offset(p) * multiplier < bound; }
  /// The same, for any thread.
  bool starts_block_shared(const void* p) const noexcept {
    return offset(p) * multiplier < __atomic_load_n(&bound, __ATOMIC_RELAXED);
  }
  /// p is where a block starts, carved or not.
  bool on_grid(const void* p) const noexcept { return offset(p) * multiplier < std::uint64_t{1} << kBoundShift; }
};

}  // namespace tinyalloc
