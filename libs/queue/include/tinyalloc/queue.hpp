// tinyalloc::queue — the per-class queues of segments a heap allocates from.
//
// Layer 2: depends on tinyalloc::segment, tinyalloc::size_class and
// Boost.Intrusive.
#pragma once

#include <boost/intrusive/list.hpp>

#include "tinyalloc/segment.hpp"
#include "tinyalloc/size_class.hpp"

namespace tinyalloc {

/// An intrusive list of segments (no allocation; O(1) unlink from anywhere).
using SegmentList =
    boost::intrusive::list<Segment,
                           boost::intrusive::member_hook<Segment, decltype(Segment::queue_hook), &Segment::queue_hook>,
                           boost::intrusive::constant_time_size<true>>;

/// The segments one heap owns for one size class.
///
///   available — segments that may have a free block; the first one is
///               `current()`, where the heap allocates (the heap caches a
///               pointer to its FreeBlocks).  A segment stays here until
///               refill() fails.
///   full      — segments with no free block in any list.  Flagged kInFull in
///               owner_flags, so the owner's next free into one of them takes
///               the slow path and moves it back in O(1); another thread's
///               next free into one is handed off to the heap (segment.hpp),
///               which moves it back when it collects the hand-offs.
///
/// Owner thread only; no locks.
class ClassQueue {
 public:
  SegmentList available;
  SegmentList full;

  /// The segment this class allocates from, or nullptr.
  Segment* current() noexcept { return available.empty() ? nullptr : &available.front(); }

  void push_front(Segment& s) noexcept { available.push_front(s); }

  /// available -> full, unless a remote free arrived since the segment was
  /// last refilled: then nothing changes and the caller refills again.
  /// From here on remote frees are handed off to the heap (Segment::enter_full).
  bool mark_full(Segment& s) noexcept {
    TINYALLOC_ASSERT(!s.is_full() && s.blocks.empty() && FreeBlocks::is_end(s.local_free));
    if (!s.enter_full()) return false;
    available.erase(available.iterator_to(s));
    full.push_back(s);
    s.set_full(true);
    return true;
  }

  /// full -> available (to the back: current() keeps serving).
  void mark_available(Segment& s) noexcept {
    TINYALLOC_ASSERT(s.is_full());
    full.erase(full.iterator_to(s));
    s.set_full(false);
    s.leave_full();
    available.push_back(s);
  }

  /// Drop `s` from whichever list holds it.
  void remove(Segment& s) noexcept {
    if (s.is_full()) {
      full.erase(full.iterator_to(s));
      s.set_full(false);
      s.leave_full();
    } else {
      available.erase(available.iterator_to(s));
    }
  }

  bool empty() const noexcept { return available.empty() && full.empty(); }
};

}  // namespace tinyalloc
