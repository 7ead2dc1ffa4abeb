// Which segment-sized windows of the address space hold a tinyalloc header:
// one bit per 256 KiB window, in a bitmap reserved once (64 MiB of sparse
// address space for 47-bit user space, touched only where tinyalloc has
// memory).  free() consults it before reading a header, so a pointer from
// another allocator, the stack or an unmapped page is reported instead of
// followed.  Marking is an atomic OR (slow paths); the test is two loads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tinyalloc/segment/geometry.hpp"

namespace tinyalloc::segment_map {
inline constexpr unsigned kAddressBits = 47;
extern std::atomic<std::uint64_t*> g_bits;
/// Mark (or clear) every window that starts in [p, p + bytes).  False if the
/// map could not be reserved.
bool mark(const void* p, std::size_t bytes, bool on) noexcept;
/// The window holding header_of(p) is tinyalloc's.
inline bool contains(const void* p) noexcept {
  const std::uintptr_t w = (reinterpret_cast<std::uintptr_t>(p) - 1) >> kSegmentShift;
  const std::uint64_t* bits = g_bits.load(std::memory_order_relaxed);
  if (bits == nullptr || w >= (std::uintptr_t{1} << (kAddressBits - kSegmentShift))) return false;
  return (__atomic_load_n(&bits[w >> 6], __ATOMIC_RELAXED) >> (w & 63)) & 1;
}
}  // namespace tinyalloc::segment_map
