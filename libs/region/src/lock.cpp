// region::Lock's contended path: spin briefly, then sleep on a futex
// (the three-state mutex of Drepper's "Futexes Are Tricky").
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tinyalloc/region.hpp"

namespace tinyalloc::region {
namespace {
// A few microseconds of spinning (a pause is 10-40 ns: 100 of them took
// 2.5 us on the 2-core EPYC of PERF_FINDINGS.md): enough for a holder that
// is running on another core to finish a short critical section.  A holder
// that was descheduled takes far longer; the waiter sleeps instead.
constexpr int kSpins = 100;

void futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value) noexcept {
  // EAGAIN (the word changed) and EINTR are the expected failures: the
  // caller re-checks the word either way.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op | FUTEX_PRIVATE_FLAG, value, nullptr, nullptr, 0);
}
}  // namespace

void Lock::lock_contended() noexcept {
  for (int i = 0; i < kSpins; ++i) {
    cpu_relax();
    std::uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
  }
  // Announce a sleeper (2), and sleep while the lock stays held.
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex(state_, FUTEX_WAIT, 2);
}

void Lock::wake_one() noexcept { futex(state_, FUTEX_WAKE, 1); }

}  // namespace tinyalloc::region
