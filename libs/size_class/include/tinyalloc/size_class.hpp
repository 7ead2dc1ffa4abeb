// tinyalloc::size_class — the size-class table: which block size serves a
// request, by one table load.
//
// Layer 1: depends on nothing (constexpr tables).  Used by the arena (one
// pool per class), the queues and the heap.
//
// Size classes: 8, then multiples of 16 up to 128, then four classes per
// power of two up to 256 KiB, then eight up to kMaxMedium (1 MiB):
//   small:  8 16 32 48 64 80 96 112 128 | 160 192 224 256 | 320 ... 512 | ... | 20480 24576 28672 32768
//   medium: 40 48 56 64 KiB | 80 ... 128 KiB | 160 ... 256 KiB | 288 320 ... 512 KiB | 576 640 ... 1024 KiB
// A block above 256 KiB is alone in a span of whole 256 KiB windows, and a
// span goes back to the arena marked by its block's class size (how far it
// may be resident).  Eight classes a doubling there keep that mark within
// 12.5% of what the program wrote: medium traffic's peak RSS went from
// 1.105x to 1.092x glibc's (PERF_FINDINGS.md, issue 8).  Below, eight would
// split the segments of a class among more classes, and cost RSS instead.
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
/// Where medium classes go from four a doubling to eight.
inline constexpr std::size_t kFineMediumFrom = std::size_t{256} << 10;
inline constexpr unsigned kSmallCount = 9 + 4 * 8;               // 41
inline constexpr unsigned kCount = kSmallCount + 4 * 3 + 8 * 2;  // 69

/// Block size of each class.
inline constexpr std::array<std::uint32_t, kCount> kSizes = [] {
  std::array<std::uint32_t, kCount> s{};
  unsigned i = 0;
  s[i++] = 8;
  for (std::uint32_t v = 16; v <= 128; v += 16) s[i++] = v;
  for (std::uint32_t base = 128; base < kMaxMedium; base *= 2) {
    const std::uint32_t steps = base < kFineMediumFrom ? 4 : 8;
    for (std::uint32_t q = 1; q <= steps; ++q) s[i++] = base + q * (base / steps);
  }
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

// ---- direct slots: the malloc fast path's lookup ----------------------------
// Requests of at most kDirectLimit bytes map to a slot by their size alone, in
// steps of 8 (kFine's slots): a heap keeps, per slot, a copy of its class's
// free list, so malloc finds the list with no class number in between (as
// mimalloc's pages_free_direct).  A class owns a run of slots,
// [first_slot(c), end_slot(c)): empty for the classes above kDirectLimit.
inline constexpr std::size_t kDirectLimit = detail::kFineLimit;
inline constexpr std::size_t kDirectSlots = detail::kFine.size();

/// The slot of a request of n <= kDirectLimit bytes.
constexpr std::size_t direct_slot(std::size_t n) noexcept {
  return (n + (1u << detail::kFineShift) - 1) >> detail::kFineShift;
}

namespace detail {
// kFine is ascending, so each class's slots are one run.
template <bool End>
constexpr auto make_slot_bounds() {
  std::array<std::uint8_t, kCount> b{};
  for (unsigned c = 0; c < kCount; ++c) {
    std::size_t i = 0;
    while (i < kDirectSlots && kFine[i] < c + (End ? 1 : 0)) ++i;
    b[c] = static_cast<std::uint8_t>(i);
  }
  return b;
}
inline constexpr auto kFirstSlot = make_slot_bounds<false>();
inline constexpr auto kEndSlot = make_slot_bounds<true>();
static_assert(kDirectSlots <= 255, "slot bounds are bytes");
}  // namespace detail

constexpr std::size_t first_slot(unsigned c) noexcept { return detail::kFirstSlot[c]; }
constexpr std::size_t end_slot(unsigned c) noexcept { return detail::kEndSlot[c]; }
/// The class of direct slot i.
constexpr unsigned of_slot(std::size_t i) noexcept { return detail::kFine[i]; }

/// Class of a request of kDirectLimit < n <= kMaxSmall bytes.
inline unsigned of_coarse(std::size_t n) noexcept {
  return detail::kCoarse[(n + (1u << detail::kCoarseShift) - 1) >> detail::kCoarseShift];
}

/// Class of a request of n bytes, n <= kMaxSmall (0 maps to the smallest).
inline unsigned of_small(std::size_t n) noexcept {
  if (n <= kDirectLimit) return of_slot(direct_slot(n));
  return of_coarse(n);
}

/// Class of a request of n bytes, n <= kMaxMedium.
inline unsigned of(std::size_t n) noexcept {
  if (n <= kMaxSmall) return of_small(n);
  return detail::kMedium[(n + (std::size_t{1} << detail::kMediumShift) - 1) >> detail::kMediumShift];
}

inline std::uint32_t size_of(unsigned c) noexcept { return kSizes[c]; }

}  // namespace size_class

}  // namespace tinyalloc
