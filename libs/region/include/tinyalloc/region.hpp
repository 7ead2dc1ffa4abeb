// tinyalloc::region — the one layer that talks to the operating system and
// the CPU: virtual memory, randomness, time, the thread-safe lock of the slow
// paths, output to a file descriptor, and internal assertions.
//
// Layer 0: depends on nothing but the OS.  Every layer above reaches the
// kernel or a CPU instruction only through this header, so porting tinyalloc
// means porting src/ here (Linux on x86-64 and aarch64 today).
//
// Memory vocabulary (Linux semantics):
//   reserve   — map address space, readable and writable.  The kernel's
//               overcommit check applies: a reservation it cannot back fails
//               now (ENOMEM), instead of the program being killed later.  No
//               page is resident until it is touched; nothing is
//               mprotect'ed but guard pages: "commit" is the first touch,
//               done by the kernel.
//   guard     — make whole pages of a reserved range inaccessible (and back):
//               secure builds' guard pages after blocks.
//   reserve_sparse — the same for the allocator's own sparse metadata (the
//               segment map): MAP_NORESERVE, since only a few of its pages are
//               ever touched.  Never handed to the program.
//   commit    — declare a range in use.  In the default lazy mode it is only
//               accounted; with `prefault` it makes the pages resident now
//               (MADV_POPULATE_WRITE, or one write per page on old kernels).
//   populate  — make a committed range resident in one call (for a caller
//               that knows the pages will be written; resident_bytes asks
//               the kernel which pages are).
//   decommit  — give the pages back (MADV_DONTNEED).  The range stays mapped and
//               reads as zero on the next touch.
//   release   — unmap.
//
// Failures come back as values (nullptr / false) with errno as the kernel set
// it; nothing here throws.  Every call is thread-safe; counters are relaxed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tinyalloc::region {

// ---- virtual memory ---------------------------------------------------------

/// The OS page size (read once, cached).
std::size_t page_size() noexcept;

/// Reserve `size` bytes aligned to `alignment` (a power of two; values below
/// the page size mean the page size).  `size` is rounded up to whole pages.
/// Returns nullptr when the OS refuses (errno ENOMEM).
void* reserve(std::size_t size, std::size_t alignment) noexcept;
/// reserve() for sparse allocator metadata (MAP_NORESERVE; see above).
void* reserve_sparse(std::size_t size) noexcept;

/// Unmap a range returned by reserve() (or any page-aligned part of one).
/// `committed`: the range was counted by commit() and is not decommitted.
/// False if munmap failed (the range is then still mapped, and counted).
[[nodiscard]] bool release(void* p, std::size_t size, bool committed = false) noexcept;

/// Account the range as in use; with prefault=true also make it resident.
bool commit(void* p, std::size_t size, bool prefault = false) noexcept;

/// Make the pages of a committed range resident now, in one system call
/// (MADV_POPULATE_WRITE): about half the cost of faulting them in one by one.
/// False if the kernel refused (before Linux 5.14, or memory short): the
/// range is then as it was, its pages fault in when touched.
[[nodiscard]] bool populate(void* p, std::size_t size) noexcept;

/// How many bytes of the page-aligned range [p, p+size) are resident
/// (mincore), into `out`.  False if the kernel refused (errno set).
[[nodiscard]] bool resident_bytes(const void* p, std::size_t size, std::size_t& out) noexcept;

/// Give the pages back to the OS; the range reads as zero afterwards.  False
/// if madvise failed (the pages then stay resident and counted).
[[nodiscard]] bool decommit(void* p, std::size_t size) noexcept;

/// Make [p, p+size) read as zero by dropping its whole pages (the partial
/// pages at either end are cleared with memset).  The range stays committed
/// in the accounting: it is still in use, its pages fault in again as zero.
void zero(void* p, std::size_t size) noexcept;

/// Make the whole pages [p, p+size) inaccessible (on) or readable and
/// writable again (off).  False if mprotect failed (counted in failed_calls;
/// splitting a mapping may exceed vm.max_map_count).
[[nodiscard]] bool guard(void* p, std::size_t size, bool on) noexcept;

/// Move the pages of [from, from+old_size) to `to` (a reserved range of at
/// least new_size bytes, which it replaces) without copying them.  The old
/// range is unmapped.  Used to grow large blocks in place of a memcpy.
bool move(void* from, std::size_t old_size, void* to, std::size_t new_size) noexcept;

/// Byte counters, process-wide.  `committed` counts what commit() declared
/// minus what decommit() gave back; the peak is over the process lifetime.
/// `failed_calls`: munmap/madvise/mremap/mprotect calls the kernel refused.
struct Counters {
  std::size_t reserved;
  std::size_t committed;
  std::size_t peak_committed;
  std::size_t reserve_calls;
  std::size_t decommit_calls;
  std::size_t failed_calls;
};
Counters counters() noexcept;

/// Round `n` up to a multiple of `align` (a power of two).
constexpr std::size_t align_up(std::size_t n, std::size_t align) noexcept { return (n + align - 1) & ~(align - 1); }

// ---- the CPU, the clock and the process ------------------------------------

/// Tell the CPU this is a spin-wait loop (x86 `pause`, aarch64 `yield`).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// Milliseconds on a coarse monotonic clock (vDSO, no syscall): for purge
/// delays, never for measurements.
std::uint64_t now_ms() noexcept;
/// Sleep for `ms` milliseconds (restarted after signals).
void sleep_ms(std::uint64_t ms) noexcept;

/// 64 random bits from the kernel (getrandom); if it has no entropy yet (very
/// early boot), a mix of the clock and an address.  Never 0.
std::uint64_t random_u64() noexcept;

/// The process's peak resident set, in bytes (getrusage); 0 if unknown.
std::size_t peak_rss_bytes() noexcept;
/// The process's resident set now, in bytes (/proc/self/statm); 0 if unknown.
std::size_t rss_bytes() noexcept;

/// Write all of s[0, n) to fd, retrying short writes and EINTR.  False if the
/// descriptor refused (closed, full pipe...).
bool write_all(int fd, const char* s, std::size_t n) noexcept;
/// A close-on-exec duplicate of fd numbered 3 or above, or -1.
int duplicate_fd(int fd) noexcept;
/// Abort the process (SIGABRT), for misuse reports and failed assertions.
[[noreturn]] void abort_process() noexcept;

/// Start a detached thread running fn(arg) with every signal blocked (so the
/// program's signals are never delivered to it) and a small stack.  False if
/// the system refused (errno as pthread_create set it).
bool start_thread(void* (*fn)(void*), void* arg) noexcept;
/// Name the calling thread, as top and gdb show it (the kernel keeps 15
/// characters); false if the kernel refused.  A thread names itself, with
/// prctl: naming another thread writes /proc/self/task/<tid>/comm, and on
/// Linux 6.18 those /proc entries made a parent's wait4 for a forked child
/// take up to 40 s of kernel time (PERF_FINDINGS.md, "fork").
bool name_this_thread(const char* name) noexcept;

// ---- the lock of the slow paths ------------------------------------------------

/// A mutex for rare, short critical sections (heap creation, overflow lists,
/// fork).  Uncontended: one CAS to lock, one exchange to unlock.  Contended:
/// it spins briefly with cpu_relax(), then sleeps on a futex, so a waiter
/// never burns the timeslice of a descheduled holder (more threads than
/// cores is normal).  Never hold it across a system call.
class Lock {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }

 private:
  void lock_contended() noexcept;
  void wake_one() noexcept;
  /// 0 free, 1 held, 2 held and a thread may be sleeping on it.
  std::atomic<std::uint32_t> state_{0};
};

class LockGuard {
 public:
  explicit LockGuard(Lock& l) noexcept : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

// ---- internal assertions ---------------------------------------------------------

/// Print "tinyalloc: assertion failed: <what> (file:line)" and abort.
[[noreturn]] void assertion_failed(const char* what, const char* file, int line) noexcept;

}  // namespace tinyalloc::region

// TINYALLOC_ASSERT(cond): checks an invariant the headers state.  On with
// -DTINYALLOC_DEBUG=ON (CMake), compiled away otherwise: the condition is
// not evaluated, so it may be as costly as a test needs.
#ifndef TINYALLOC_DEBUG
#define TINYALLOC_DEBUG 0
#endif
#if TINYALLOC_DEBUG
#define TINYALLOC_ASSERT(cond) \
  (__builtin_expect(!!(cond), 1) ? (void)0 : ::tinyalloc::region::assertion_failed(#cond, __FILE__, __LINE__))
#else
#define TINYALLOC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
