// tinyalloc::queue — the size-class table, and the per-class queues of
// segments a heap allocates from.
//
// Layer 2: depends on tinyalloc::segment and Boost.Intrusive.
//
// Size classes: 8, then multiples of 16 up to 128, then four classes per
// power of two up to kMaxSmall (32 KiB):
//   8 16 32 48 64 80 96 112 128 | 160 192 224 256 | 320 ... 512 | ... | 20480 24576 28672 32768
// Every class of 16 bytes or more is a multiple of 16, so with 16-aligned
// segment offsets every such block is 16-byte aligned.  From 64 bytes up a
// block wastes at most 25% over the request; below, the 16-byte alignment
// rule sets the spacing.  A request is mapped to its class by one table load.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <boost/intrusive/list.hpp>

#include "tinyalloc/segment.hpp"

namespace tinyalloc {

namespace size_class {

inline constexpr std::size_t kMaxSmall = 32768;
inline constexpr unsigned kCount = 9 + 4 * 8;  // 41

/// Block size of each class.
inline constexpr std::array<std::uint32_t, kCount> kSizes = [] {
  std::array<std::uint32_t, kCount> s{};
  unsigned i = 0;
  s[i++] = 8;
  for (std::uint32_t v = 16; v <= 128; v += 16) s[i++] = v;
  for (std::uint32_t base = 128; base < kMaxSmall; base *= 2)
    for (std::uint32_t q = 1; q <= 4; ++q) s[i++] = base + q * (base / 4);
  return s;
}();
static_assert(kSizes[kCount - 1] == kMaxSmall);

namespace detail {
// Two tables: requests up to 1 KiB in steps of 8, up to 32 KiB in steps of 128.
inline constexpr std::size_t kFineLimit = 1024;
inline constexpr unsigned kFineShift = 3, kCoarseShift = 7;
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
}  // namespace detail

/// Class of a request of n bytes, n <= kMaxSmall (0 maps to the smallest).
inline unsigned of(std::size_t n) noexcept {
  using namespace detail;
  if (n <= kFineLimit) return kFine[(n + (1u << kFineShift) - 1) >> kFineShift];
  return kCoarse[(n + (1u << kCoarseShift) - 1) >> kCoarseShift];
}

inline std::uint32_t size_of(unsigned c) noexcept { return kSizes[c]; }

}  // namespace size_class

/// An intrusive list of segments (no allocation; O(1) unlink from anywhere).
using SegmentList = boost::intrusive::list<
    Segment,
    boost::intrusive::member_hook<Segment, decltype(Segment::queue_hook), &Segment::queue_hook>,
    boost::intrusive::constant_time_size<true>>;

/// The segments one heap owns for one size class.
///
///   available — segments that may have a free block; the front one is where
///               the heap allocates (the heap caches a pointer to its
///               AllocFront).  A segment stays here until refill() fails.
///   full      — segments with no free block in any list.  Flagged kInFull in
///               owner_flags, so the owner's next free into one of them takes
///               the slow path and moves it back in O(1).
///
/// Owner thread only; no locks.
class ClassQueue {
 public:
  SegmentList available;
  SegmentList full;

  Segment* front() noexcept { return available.empty() ? nullptr : &available.front(); }

  void push_front(Segment& s) noexcept { available.push_front(s); }

  /// available -> full.
  void mark_full(Segment& s) noexcept {
    available.erase(available.iterator_to(s));
    full.push_back(s);
    s.set_flag(kInFull, true);
  }

  /// full -> available (to the back: the front keeps serving).
  void mark_available(Segment& s) noexcept {
    full.erase(full.iterator_to(s));
    s.set_flag(kInFull, false);
    available.push_back(s);
  }

  /// Drop `s` from whichever list holds it.
  void remove(Segment& s) noexcept {
    if (s.is_full()) {
      full.erase(full.iterator_to(s));
      s.set_flag(kInFull, false);
    } else {
      available.erase(available.iterator_to(s));
    }
  }

  bool empty() const noexcept { return available.empty() && full.empty(); }
};

}  // namespace tinyalloc
