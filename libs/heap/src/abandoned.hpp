// Segments whose owner thread exited while they still held live blocks.
//
// Any heap that needs a segment adopts them first (pop, never re-push: each
// abandoned segment is visited once).  The purger pops them too, returns the
// ones other threads emptied, and pushes the rest back once (purge.cpp).  A fixed-capacity Boost.Lockfree stack
// holds them; if a flood of exits fills it, the rest wait on an intrusive
// list under a spinlock, so nothing is ever dropped.
#pragma once

#include <atomic>

#include <boost/lockfree/stack.hpp>

#include "tinyalloc/queue.hpp"
#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

class AbandonedSegments {
 public:
  /// A segment whose owner exited (counted as abandoned), or one the
  /// purger looked at and puts back.
  void push(Segment* s) noexcept {
    if (stack_.bounded_push(s)) return;
    region::LockGuard g(overflow_lock_);
    overflow_.push_back(*s);
    overflow_size_.fetch_add(1, std::memory_order_relaxed);
  }

  /// One abandoned segment, or nullptr.  Cheap when there is none.
  Segment* pop() noexcept {
    Segment* s = nullptr;
    if (stack_.pop(s)) return s;
    if (overflow_size_.load(std::memory_order_relaxed) == 0) return nullptr;
    region::LockGuard g(overflow_lock_);
    if (overflow_.empty()) return nullptr;
    s = &overflow_.front();
    overflow_.pop_front();
    overflow_size_.fetch_sub(1, std::memory_order_relaxed);
    return s;
  }

  void count_abandoned() noexcept { abandoned_.fetch_add(1, std::memory_order_relaxed); }
  void count_adopted() noexcept { adopted_.fetch_add(1, std::memory_order_relaxed); }

  std::size_t abandoned() const noexcept { return abandoned_.load(std::memory_order_relaxed); }
  std::size_t adopted() const noexcept { return adopted_.load(std::memory_order_relaxed); }
  region::Lock& lock() noexcept { return overflow_lock_; }

 private:
  boost::lockfree::stack<Segment*, boost::lockfree::capacity<1024>> stack_;
  region::Lock overflow_lock_;
  SegmentList overflow_;
  std::atomic<std::size_t> overflow_size_{0};
  std::atomic<std::size_t> abandoned_{0}, adopted_{0};
};

}  // namespace tinyalloc::detail
