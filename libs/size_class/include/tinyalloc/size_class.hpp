// tinyalloc::size_class — the size-class table: which block size serves a
// request, by one table load.
//
// Layer 1: depends on nothing (constexpr tables).  Used by the arena (one
// pool per class), the queues and the heap.
//
// Size classes: 8, then multiples of 16 up to 128, then four classes per
// power of two up to kMaxMedium (1 MiB):
//   small:  8 16 32 48 64 80 96 112 128 | 160 192 224 256 | 320 ... 512 | ... | 20480 24576 28672 32768
//   medium: 40 48 56 64 KiB | 80 ... 128 KiB | ... | 640 768 896 1024 KiB
// Every class of 16 bytes or more is a multiple of 16, so with 16-aligned
// segment offsets every such block is 16-byte aligned.  From 64 bytes up a
// block wastes at most 25% over the request; below, the 16-byte alignment
// rule sets the spacing.
//
// Small classes (up to kMaxSmall) are served by the inline malloc fast path;
// medium ones by the heap's slow path from the same kind of segments (a
// medium class too large for one 256 KiB segment gets a segment spanning
// several, holding one block).  Above kMaxMedium blocks are large.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tinyalloc {

namespace size_class {

inline constexpr std::size_t kMaxSmall = 32768;
inline constexpr std::size_t kMaxMedium = std::size_t{1} << 20;
inline constexpr unsigned kSmallCount = 9 + 4 * 8;       // 41
inline constexpr unsigned kCount = kSmallCount + 4 * 5;  // 61

/// Block size of each class.
inline constexpr std::array<std::uint32_t, kCount> kSizes = [] {
  std::array<std::uint32_t, kCount> s{};
  unsigned i = 0;
  s[i++] = 8;
  for (std::uint32_t v = 16; v <= 128; v += 16) s[i++] = v;
  for (std::uint32_t base = 128; base < kMaxMedium; base *= 2)
    for (std::uint32_t q = 1; q <= 4; ++q) s[i++] = base + q * (base / 4);
  return s;
}();
static_assert(kSizes[kSmallCount - 1] == kMaxSmall && kSizes[kCount - 1] == kMaxMedium);

namespace detail {
// Three tables: requests up to 1 KiB in steps of 8, up to 32 KiB in steps
// of 128, up to 1 MiB in steps of 8 KiB (every boundary is a multiple of
// its table's step).
inline constexpr std::size_t kFineLimit = 1024;
inline constexpr unsigned kFineShift = 3, kCoarseShift = 7, kMediumShift = 13;
template <std::size_t Limit, unsigned Shift>
constexpr auto make_table() {
  std::array<std::uint8_t, (Limit >> Shift) + 1> t{};
  for (std::size_t slot = 0; slot < t.size(); ++slot) {
    const std::size_t request = slot << Shift;  // the largest request mapped to this slot
    unsigned c = 0;
    while (kSizes[c] < request) ++c;
    t[slot] = static_cast<std::uint8_t>(c);
  }
  return t;
}
inline constexpr auto kFine = make_table<kFineLimit, kFineShift>();
inline constexpr auto kCoarse = make_table<kMaxSmall, kCoarseShift>();
inline constexpr auto kMedium = make_table<kMaxMedium, kMediumShift>();
}  // namespace detail

/// Class of a request of n bytes, n <= kMaxSmall (0 maps to the smallest):
/// the malloc fast path's lookup.
inline unsigned of_small(std::size_t n) noexcept {
  using namespace detail;
  if (__builtin_expect(n <= kFineLimit, 1)) return kFine[(n + (1u << kFineShift) - 1) >> kFineShift];  // most requests
  return kCoarse[(n + (1u << kCoarseShift) - 1) >> kCoarseShift];
}

/// Class of a request of n bytes, n <= kMaxMedium.
inline unsigned of(std::size_t n) noexcept {
  if (n <= kMaxSmall) return of_small(n);
  return detail::kMedium[(n + (std::size_t{1} << detail::kMediumShift) - 1) >> detail::kMediumShift];
}

inline std::uint32_t size_of(unsigned c) noexcept { return kSizes[c]; }

}  // namespace size_class

}  // namespace tinyalloc
