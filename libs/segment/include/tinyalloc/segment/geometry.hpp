// The one number the whole allocator is built around, and what follows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tinyalloc {
/// Every segment is kSegmentSize bytes and starts at a multiple of it.
inline constexpr std::size_t kSegmentShift = 18;
inline constexpr std::size_t kSegmentSize = std::size_t{1} << kSegmentShift;
inline constexpr std::uintptr_t kSegmentMask = kSegmentSize - 1;
inline constexpr std::size_t kFirstBlock = 256;  ///< header size, multiple of 16
/// Blocks of a segment whose requested sizes its header records
/// (Segment::requested): enough for the heap's medium classes, the smallest
/// of which (40 KiB) fits 6 times in a window (heap.cpp checks).
inline constexpr std::size_t kMaxTrackedBlocks = 6;

/// Windows a segment of `block_size` blocks spans: one, unless a single block
/// and the header do not fit in one (medium classes above 256 KiB), then as
/// many as one block needs.  Only the first window has a header, so a
/// segment of several windows holds exactly one block.
constexpr std::size_t span_windows(std::size_t block_size) noexcept {
  return (block_size + kFirstBlock + kSegmentSize - 1) / kSegmentSize;
}

/// Both addresses lie in the same segment-sized window.
inline bool same_window(const void* a, const void* b) noexcept {
  return ((reinterpret_cast<std::uintptr_t>(a) ^ reinterpret_cast<std::uintptr_t>(b)) >> kSegmentShift) == 0;
}
}  // namespace tinyalloc
