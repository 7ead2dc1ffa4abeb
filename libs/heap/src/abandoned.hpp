// Segments whose owner thread exited while they still held live blocks.
//
// Any heap that needs a segment adopts them first (pop, never re-push: each
// abandoned segment is visited once).  A fixed-capacity Boost.Lockfree stack
// holds them; if a flood of exits fills it, the rest wait on an intrusive
// list under a spinlock, so nothing is ever dropped.
#pragma once

#include <atomic>

#include <boost/lockfree/stack.hpp>

#include "spinlock.hpp"
#include "tinyalloc/queue.hpp"

namespace tinyalloc::detail {

class AbandonedSegments {
 public:
  void push(Segment* s) noexcept {
    abandoned_.fetch_add(1, std::memory_order_relaxed);
    if (stack_.bounded_push(s)) return;
    LockGuard g(overflow_lock_);
    overflow_.push_back(*s);
    overflow_size_.fetch_add(1, std::memory_order_relaxed);
  }

  /// One abandoned segment, or nullptr.  Cheap when there is none.
  Segment* pop() noexcept {
    Segment* s = nullptr;
    if (stack_.pop(s)) return adopted(s);
    if (overflow_size_.load(std::memory_order_relaxed) == 0) return nullptr;
    LockGuard g(overflow_lock_);
    if (overflow_.empty()) return nullptr;
    s = &overflow_.front();
    overflow_.pop_front();
    overflow_size_.fetch_sub(1, std::memory_order_relaxed);
    return adopted(s);
  }

  std::size_t abandoned() const noexcept { return abandoned_.load(std::memory_order_relaxed); }
  std::size_t adopted() const noexcept { return adopted_.load(std::memory_order_relaxed); }
  SpinLock& lock() noexcept { return overflow_lock_; }

 private:
  Segment* adopted(Segment* s) noexcept {
    adopted_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  boost::lockfree::stack<Segment*, boost::lockfree::capacity<1024>> stack_;
  SpinLock overflow_lock_;
  SegmentList overflow_;
  std::atomic<std::size_t> overflow_size_{0};
  std::atomic<std::size_t> abandoned_{0}, adopted_{0};
};

}  // namespace tinyalloc::detail
