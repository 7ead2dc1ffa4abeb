// A test-and-test-and-set spinlock for the rare slow paths (heap creation,
// overflow lists, fork).  Never on a malloc/free fast path.
#pragma once

#include <atomic>

#include <immintrin.h>

namespace tinyalloc::detail {

class SpinLock {
 public:
  void lock() noexcept {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) _mm_pause();
    }
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) noexcept : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace tinyalloc::detail
