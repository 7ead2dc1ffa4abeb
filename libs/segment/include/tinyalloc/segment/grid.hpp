// The block grid: is an address the start of one of a segment's blocks?
// free() asks on every call (hardened builds), so the answer is one
// subtract, one multiply and one shift, with no division and no compare
// against a per-segment bound.
//
// Blocks of size d start at origin + q*d for q < capacity.  With
// n = p - origin (mod 2^64) and a multiplier c = (2^64 + e) / d (e > 0 chosen
// so that this divides exactly), n * c mod 2^64 is
//   q * e              if n = q * d              (a multiple of d), and
//   q * e + r * c      if n = q * d + r, 0<r<d   (r * c >= c > 2^64 / d).
// Choosing e in [2^kBoundShift / capacity, 2^kBoundShift / (capacity - 1))
// puts q * e below 2^kBoundShift exactly for the capacity first blocks, and
// every other product at or above it: the test is `product >> kBoundShift ==
// 0`, the same shift for every segment.  (This is Lemire's divisibility test,
// n * ceil(2^64/d) < ceil(2^64/d), with the slack of the multiplier spent on
// the bound.)  Such an e exists (the interval is longer than d) while
// capacity^2 * d < 2^kBoundShift, and no product wraps while d is at most
// kMaxBlock; both hold for every block of a segment (capacity * d fits in a
// 256 KiB window, or capacity is 1).  tests/segment checks the conditions
// and the header's addresses for every block size a segment can hold, and
// every byte of a window for ten of them.
#pragma once

#include <cstdint>

namespace tinyalloc {

struct BlockGrid {
  static constexpr unsigned kBoundShift = 40;
  static constexpr std::uint64_t kMaxBlock = std::uint64_t{1} << 21;

  /// Minus the first block's address (mod 2^64): stored negated so the
  /// header holds no pointer to the block, which would make a leaked first
  /// block "still reachable" to valgrind's leak check (and to any
  /// conservative scanner).
  std::uintptr_t minus_origin = 0;
  std::uint64_t multiplier = 0;  ///< c above

  /// The grid of `capacity` blocks of `block_size` bytes from `origin`.
  static constexpr BlockGrid make(std::uintptr_t origin, std::uint64_t block_size, std::uint64_t capacity) noexcept {
    const std::uint64_t bound = std::uint64_t{1} << kBoundShift;
    // e must be congruent to -2^64 mod d for c to be whole: d - (2^64 mod d).
    const std::uint64_t wrap = (0 - block_size) % block_size;  // 2^64 mod d
    const std::uint64_t residue = (block_size - wrap) % block_size;
    const std::uint64_t least = (bound + capacity - 1) / capacity;
    const std::uint64_t e = least + (residue + block_size - least % block_size) % block_size;
    const auto c = static_cast<std::uint64_t>(((static_cast<unsigned __int128>(1) << 64) + e) / block_size);
    return BlockGrid{0 - origin, c};
  }

  bool starts_block(const void* p) const noexcept {
    return ((reinterpret_cast<std::uintptr_t>(p) + minus_origin) * multiplier) >> kBoundShift == 0;
  }
};

}  // namespace tinyalloc
