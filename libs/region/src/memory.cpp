// Virtual memory over mmap/madvise/munmap/mremap.  See region.hpp.
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include "tinyalloc/region.hpp"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace tinyalloc::region {
namespace {

std::atomic<std::size_t> g_page_size{0};
std::atomic<std::size_t> g_reserved{0};
std::atomic<std::size_t> g_committed{0};
std::atomic<std::size_t> g_peak{0};
std::atomic<std::size_t> g_reserve_calls{0};
std::atomic<std::size_t> g_decommit_calls{0};
std::atomic<std::size_t> g_failed_calls{0};

// Larger than any user-space address range: refused before asking the kernel.
constexpr std::size_t kMaxReserve = std::size_t{1} << 47;

void* map_anonymous(std::size_t size, int extra_flags) noexcept {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// munmap of a range this file mapped.  It fails only when the kernel cannot
// split a mapping (vm.max_map_count reached): counted, and the caller keeps
// the range.
bool unmap(void* p, std::size_t size) noexcept {
  if (::munmap(p, size) == 0) return true;
  g_failed_calls.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void raise_peak(std::size_t now) noexcept {
  std::size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::size_t page_size() noexcept {
  std::size_t ps = g_page_size.load(std::memory_order_relaxed);
  if (ps == 0) {
    const long v = ::sysconf(_SC_PAGESIZE);
    ps = v > 0 ? static_cast<std::size_t>(v) : 4096;
    g_page_size.store(ps, std::memory_order_relaxed);
  }
  return ps;
}

void* reserve(std::size_t size, std::size_t alignment) noexcept {
  const std::size_t ps = page_size();
  if (size == 0 || size > kMaxReserve || alignment > kMaxReserve) {
    errno = ENOMEM;
    return nullptr;
  }
  if (alignment < ps) alignment = ps;
  size = align_up(size, ps);

  // Try the plain mapping first: the kernel often returns an aligned one.
  void* p = map_anonymous(size, 0);
  if (p == nullptr) return nullptr;
  if ((reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) != 0) {
    // Over-reserve by the alignment and trim both ends.
    if (!unmap(p, size)) return nullptr;
    const std::size_t padded = size + alignment - ps;
    char* raw = static_cast<char*>(map_anonymous(padded, 0));
    if (raw == nullptr) return nullptr;
    char* aligned = reinterpret_cast<char*>(align_up(reinterpret_cast<std::uintptr_t>(raw), alignment));
    const std::size_t head = static_cast<std::size_t>(aligned - raw);
    const std::size_t tail = padded - head - size;
    // Trimming splits the mapping: if the kernel refuses (map count), give
    // the whole thing back rather than keep untracked address space.
    if ((head != 0 && !unmap(raw, head)) || (tail != 0 && !unmap(aligned + size, tail))) {
      if (::munmap(raw, padded) != 0) g_failed_calls.fetch_add(1, std::memory_order_relaxed);
      errno = ENOMEM;
      return nullptr;
    }
    p = aligned;
  }
  g_reserved.fetch_add(size, std::memory_order_relaxed);
  g_reserve_calls.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void* reserve_sparse(std::size_t size) noexcept {
  size = align_up(size, page_size());
  void* p = map_anonymous(size, MAP_NORESERVE);
  if (p == nullptr) return nullptr;
  g_reserved.fetch_add(size, std::memory_order_relaxed);
  g_reserve_calls.fetch_add(1, std::memory_order_relaxed);
  return p;
}

bool release(void* p, std::size_t size, bool committed) noexcept {
  size = align_up(size, page_size());
  if (!unmap(p, size)) return false;
  g_reserved.fetch_sub(size, std::memory_order_relaxed);
  if (committed) g_committed.fetch_sub(size, std::memory_order_relaxed);
  return true;
}

bool populate(void* p, std::size_t size) noexcept { return ::madvise(p, size, MADV_POPULATE_WRITE) == 0; }

bool resident_bytes(const void* p, std::size_t size, std::size_t& out) noexcept {
  const std::size_t ps = page_size();
  unsigned char pages[1024];  // one byte a page, a call per 1024 pages
  out = 0;
  for (std::size_t off = 0; off < size; off += sizeof pages * ps) {
    const std::size_t n = size - off < sizeof pages * ps ? (size - off + ps - 1) / ps : sizeof pages;
    if (::mincore(const_cast<char*>(static_cast<const char*>(p)) + off, n * ps, pages) != 0) return false;
    for (std::size_t i = 0; i < n; ++i) out += (pages[i] & 1) * ps;
  }
  return true;
}

bool commit(void* p, std::size_t size, bool prefault) noexcept {
  if (prefault && !populate(p, size)) {
    // Kernels before 5.14: one write per page does the same.
    const std::size_t ps = page_size();
    volatile char* c = static_cast<volatile char*>(p);
    for (std::size_t off = 0; off < size; off += ps) c[off] = c[off];
  }
  raise_peak(g_committed.fetch_add(size, std::memory_order_relaxed) + size);
  return true;
}

bool decommit(void* p, std::size_t size) noexcept {
  g_decommit_calls.fetch_add(1, std::memory_order_relaxed);
  if (::madvise(p, size, MADV_DONTNEED) != 0) {
    g_failed_calls.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  g_committed.fetch_sub(size, std::memory_order_relaxed);
  return true;
}

void zero(void* p, std::size_t size) noexcept {
  char* c = static_cast<char*>(p);
  const std::size_t ps = page_size();
  char* first = reinterpret_cast<char*>(align_up(reinterpret_cast<std::uintptr_t>(c), ps));
  char* last = reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(c + size) & ~(ps - 1));
  if (first >= last) {
    std::memset(c, 0, size);
    return;
  }
  std::memset(c, 0, static_cast<std::size_t>(first - c));
  if (::madvise(first, static_cast<std::size_t>(last - first), MADV_DONTNEED) != 0)
    std::memset(first, 0, static_cast<std::size_t>(last - first));
  std::memset(last, 0, static_cast<std::size_t>(c + size - last));
}

bool guard(void* p, std::size_t size, bool on) noexcept {
  if (::mprotect(p, size, on ? PROT_NONE : PROT_READ | PROT_WRITE) == 0) return true;
  g_failed_calls.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool move(void* from, std::size_t old_size, void* to, std::size_t new_size) noexcept {
  void* r = ::mremap(from, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  if (r == MAP_FAILED) {
    g_failed_calls.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // `to` was reserved (and counted) by the caller; the old range is gone.
  g_reserved.fetch_sub(align_up(old_size, page_size()), std::memory_order_relaxed);
  return true;
}

Counters counters() noexcept {
  return Counters{g_reserved.load(std::memory_order_relaxed),       g_committed.load(std::memory_order_relaxed),
                  g_peak.load(std::memory_order_relaxed),           g_reserve_calls.load(std::memory_order_relaxed),
                  g_decommit_calls.load(std::memory_order_relaxed), g_failed_calls.load(std::memory_order_relaxed)};
}

}  // namespace tinyalloc::region
