// tinyalloc::region — virtual memory from the operating system.
//
// Layer 0: depends on nothing but the OS (mmap/madvise/munmap).
//
// Vocabulary (Linux semantics):
//   reserve   — map address space.  The mapping is readable and writable but
//               MAP_NORESERVE: no page is resident until it is touched, so a
//               reservation costs address space only.  Nothing is ever
//               mprotect'ed: "commit" is the first touch, done by the kernel.
//   commit    — declare a range in use.  In the default lazy mode it is only
//               accounted; with `prefault` it makes the pages resident now
//               (MADV_POPULATE_WRITE, or one write per page on old kernels).
//   decommit  — give the pages back (MADV_DONTNEED).  The range stays mapped and
//               reads as zero on the next touch.
//   release   — unmap.
//
// Failures come back as values (nullptr / false); nothing here throws or
// aborts.  Every call is thread-safe; the counters are relaxed atomics.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tinyalloc::region {

/// The OS page size (read once, cached).
std::size_t page_size() noexcept;

/// Reserve `size` bytes aligned to `alignment` (a power of two; values below
/// the page size mean the page size).  `size` is rounded up to whole pages.
/// Returns nullptr when the OS refuses (errno is left as mmap set it).
void* reserve(std::size_t size, std::size_t alignment) noexcept;

/// Unmap a range returned by reserve() (or any page-aligned part of one).
/// `committed`: the range was counted by commit() and is not decommitted.
bool release(void* p, std::size_t size, bool committed = false) noexcept;

/// Account the range as in use; with prefault=true also make it resident.
bool commit(void* p, std::size_t size, bool prefault = false) noexcept;

/// Give the pages back to the OS; the range reads as zero afterwards.
bool decommit(void* p, std::size_t size) noexcept;

/// Make [p, p+size) read as zero by dropping its whole pages (the partial
/// pages at either end are cleared with memset).  The range stays committed
/// in the accounting: it is still in use, its pages fault in again as zero.
void zero(void* p, std::size_t size) noexcept;

/// Move the pages of [from, from+old_size) to `to` (a reserved range of at
/// least new_size bytes, which it replaces) without copying them.  The old
/// range is unmapped.  Used to grow large blocks in place of a memcpy.
bool move(void* from, std::size_t old_size, void* to, std::size_t new_size) noexcept;

/// Byte counters, process-wide.  `committed` counts what commit() declared
/// minus what decommit() gave back; the peak is over the process lifetime.
struct Counters {
  std::size_t reserved;
  std::size_t committed;
  std::size_t peak_committed;
  std::size_t reserve_calls;
  std::size_t decommit_calls;
};
Counters counters() noexcept;

/// Milliseconds on a coarse monotonic clock (vDSO, no syscall): for purge
/// delays, never for measurements.
std::uint64_t now_ms() noexcept;

/// Round `n` up to a multiple of `align` (a power of two).
constexpr std::size_t align_up(std::size_t n, std::size_t align) noexcept {
  return (n + align - 1) & ~(align - 1);
}

}  // namespace tinyalloc::region
