// tinyalloc::large — blocks above the largest size class.
//
// Layer 3: depends on tinyalloc::region (mappings) and tinyalloc::segment
// (the header mask).  Independent of arena and queue.
//
// A large block is its own mapping, aligned to (at least) kSegmentSize, with
// a LargeHeader where Segment::header_of(user pointer) lands:
//
//   base (>= 256 KiB aligned)                user = base + offset
//   | LargeHeader | pad to offset |  user bytes ...  | rest of the pages |
//
//   offset = max(64, alignment).  For alignment > kSegmentSize the mapping is
//   aligned to `alignment`, user = base + alignment, and the header sits one
//   segment below the user pointer (header_of masks p-1).
//
// So free() finds a large block's header in O(1) by the same mask as a small
// block's segment, and `kind == Large` tells them apart.
//
// Where mappings come from is a policy (Scudo-style), a type that satisfies
// the MappingStrategy concept below, chosen as a template parameter by a user
// of this library alone, or at start-up by the full allocator
// (TINYALLOC_LARGE):
//   DirectMap — map on allocate, unmap on free.  No memory kept; a syscall
//               pair per block.
//   CachedMap — a bounded cache of recently freed mappings, reused by size;
//               the kernel is visited only on a miss.  Entries idle longer than
//               the purge delay are decommitted (kept as address space, read as
//               zero); above the byte budget the oldest are decommitted, and when
//               every slot is taken the oldest is unmapped.  No system call is
//               made under its lock.
#pragma once

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tinyalloc/region.hpp"
#include "tinyalloc/segment.hpp"

namespace tinyalloc::large {

inline constexpr std::size_t kHeaderRoom = 64;  // user offset for ordinary alignment

/// Header at the masked address of a large block.  Written once by the
/// allocating thread; read by whoever frees or resizes the block.
struct LargeHeader : SegmentBase {
  char* base;          ///< start of the mapping
  std::size_t mapped;  ///< bytes mapped from base
  std::size_t offset;  ///< user pointer - base
  bool zero;           ///< the user range read as zero when handed out
};
static_assert(sizeof(LargeHeader) <= kHeaderRoom);

struct Mapping {
  char* base = nullptr;
  std::size_t size = 0;
  bool zero = false;  ///< known to read as zero
};

/// What a strategy's cache holds (all zero for a strategy that keeps nothing).
struct CacheCounters {
  std::size_t hits, misses, evictions, purges, cached_bytes, resident_bytes;
};

/// The contract of a large-block strategy.  Every function may be called from
/// any thread; none may hold a lock across a system call.
///   obtain(bytes, alignment)  a mapping of at least `bytes`, aligned to
///                             `alignment` (>= kSegmentSize), accounted as
///                             committed; {} if the OS refuses
///   give_back(m)              a mapping obtain() returned, no longer in use
///   purge(now_ms, force)      return idle resident memory to the OS (all of
///                             it if force); cheap when nothing is due
///   next_purge_ms()           when purge() next has work (~0: never)
///   flush()                   unmap everything kept (memory is short)
///   lock() / unlock()         held across fork() by the process's handler
///   counters()                what it holds
template <class S>
concept MappingStrategy = requires(S s, const S cs, const Mapping& m, std::size_t n, std::uint64_t t, bool f) {
  { s.obtain(n, n) }
  noexcept->std::same_as<Mapping>;
  { s.give_back(m) }
  noexcept;
  { s.purge(t, f) }
  noexcept;
  { cs.next_purge_ms() }
  noexcept->std::same_as<std::uint64_t>;
  { s.flush() }
  noexcept;
  { s.lock() }
  noexcept;
  { s.unlock() }
  noexcept;
  { cs.counters() }
  noexcept->std::same_as<CacheCounters>;
};

// ---- any large block, whatever strategy made it ---------------------------------

/// The header of the large block at (or in) p.
inline LargeHeader* header_of(const void* p) noexcept { return static_cast<LargeHeader*>(Segment::header_of(p)); }
/// Bytes usable at p, the block's start.
inline std::size_t usable_size(const void* p) noexcept {
  const LargeHeader* h = header_of(p);
  return h->mapped - h->offset;
}
/// The block read as zero when it was handed out.
inline bool was_zero(const void* p) noexcept { return header_of(p)->zero; }
/// p is the start of its large block (not a pointer inside it).
inline bool is_block_start(const void* p) noexcept {
  const LargeHeader* h = header_of(p);
  return static_cast<const char*>(p) == h->base + h->offset;
}

/// Map on allocate, unmap on free.
class DirectMap {
 public:
  Mapping obtain(std::size_t bytes, std::size_t alignment) noexcept;
  void give_back(const Mapping& m) noexcept;
  void purge(std::uint64_t, bool) noexcept {}
  std::uint64_t next_purge_ms() const noexcept { return ~std::uint64_t{0}; }
  void flush() noexcept {}
  void lock() noexcept {}
  void unlock() noexcept {}
  CacheCounters counters() const noexcept { return {}; }
};

struct CacheOptions {
  std::size_t max_bytes = std::size_t{64} << 20;  ///< resident bytes the cache may hold
  std::uint64_t purge_delay_ms = 100;             ///< idle time before an entry is decommitted
};

/// A recycled-region cache (see the file comment).  All operations take one
/// lock, never across a system call; they are the slow path of large blocks
/// only.
class CachedMap {
 public:
  static constexpr std::size_t kSlots = 64;

  explicit CachedMap(const CacheOptions& options = {}) noexcept : options_(options) {}
  CachedMap(const CachedMap&) = delete;
  CachedMap& operator=(const CachedMap&) = delete;

  Mapping obtain(std::size_t bytes, std::size_t alignment) noexcept;
  void give_back(const Mapping& m) noexcept;
  void purge(std::uint64_t now_ms, bool force) noexcept;
  std::uint64_t next_purge_ms() const noexcept { return next_purge_ms_.load(std::memory_order_relaxed); }
  /// Unmap every entry (address space is short).
  void flush() noexcept;
  void lock() noexcept;
  void unlock() noexcept;

  CacheCounters counters() const noexcept;
  const CacheOptions& options() const noexcept { return options_; }

 private:
  struct Entry {
    char* base;
    std::size_t size;
    std::uint64_t freed_at_ms;
    bool resident;  ///< false once decommitted
  };
  void drop_slot(std::size_t i) noexcept;
  std::size_t oldest(bool resident_only) const noexcept;
  bool insert(const Entry& e) noexcept;
  void decommit_outside_lock(Entry* entries, std::size_t n) noexcept;

  CacheOptions options_;
  mutable region::Lock lock_;
  Entry slots_[kSlots] = {};
  std::size_t used_ = 0;
  std::size_t resident_bytes_ = 0, cached_bytes_ = 0;
  std::atomic<std::uint64_t> next_purge_ms_{~std::uint64_t{0}};  // read without the lock
  std::size_t hits_ = 0, misses_ = 0, evictions_ = 0, purges_ = 0;
};

struct LargeCounters {
  std::size_t allocations, frees, in_place_resizes, moved_resizes, live_bytes;
};

/// Large blocks over a mapping strategy.
template <MappingStrategy Strategy>
class LargeAllocator {
 public:
  template <class... Args>
  explicit LargeAllocator(Args&&... args) noexcept : strategy_(static_cast<Args&&>(args)...) {}

  /// `alignment` is a power of two.  nullptr with errno = ENOMEM on failure.
  void* allocate(std::size_t size, std::size_t alignment = 16) noexcept {
    if (alignment < 16) alignment = 16;
    const std::size_t offset = alignment > kHeaderRoom ? alignment : kHeaderRoom;
    if (size > kMaxSize || alignment > kMaxSize) {
      errno = ENOMEM;
      return nullptr;
    }
    const std::size_t bytes = region::align_up(offset + size, region::page_size());
    const std::size_t map_align = alignment > kSegmentSize ? alignment : kSegmentSize;
    Mapping m = strategy_.obtain(bytes, map_align);
    if (m.base == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    char* user = m.base + offset;
    auto* h = header_of(user);
    if (!segment_map::mark(h, 1, true)) {
      strategy_.give_back(m);
      errno = ENOMEM;
      return nullptr;
    }
    h->become_large();
    h->base = m.base;
    h->mapped = m.size;
    h->offset = offset;
    h->zero = m.zero;
    allocations_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_add(m.size, std::memory_order_relaxed);
    return user;
  }

  void deallocate(void* p) noexcept {
    LargeHeader* h = header_of(p);
    const Mapping m{h->base, h->mapped, false};
    h->retire();
    segment_map::mark(h, 1, false);
    frees_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_sub(m.size, std::memory_order_relaxed);
    strategy_.give_back(m);
    strategy_.purge(region::now_ms(), false);
  }

  /// Resize without copying: in place when it fits (trimming a tail that is
  /// no longer needed), or by moving the pages to a larger mapping (mremap).
  /// Returns nullptr, leaving `p` intact, when neither is possible.
  void* resize(void* p, std::size_t size) noexcept {
    LargeHeader* h = header_of(p);
    if (size > kMaxSize) return nullptr;
    const std::size_t page = region::page_size();
    const std::size_t need = region::align_up(h->offset + size, page);
    if (need <= h->mapped) {
      // Give back the tail rather than hold it (if the kernel refuses to
      // split the mapping, the block simply keeps it).
      if (need <= h->mapped / 2 && region::release(h->base + need, h->mapped - need, true)) {
        live_bytes_.fetch_sub(h->mapped - need, std::memory_order_relaxed);
        h->mapped = need;
      }
      in_place_.fetch_add(1, std::memory_order_relaxed);
      return p;
    }
    if (h->offset != kHeaderRoom) return nullptr;  // over-aligned: let the caller copy
    // Grow by at least 1/8 so a block grown repeatedly moves O(log n) times.
    std::size_t grown = region::align_up(need + need / 8, page);
    char* target = static_cast<char*>(region::reserve(grown, kSegmentSize));
    if (target == nullptr) return nullptr;
    const std::size_t old = h->mapped;
    if (!region::move(h->base, old, target, grown)) {
      (void)region::release(target, grown);  // a failure is counted by region
      return nullptr;
    }
    region::commit(target + old, grown - old);  // accounting: the new tail is in use
    segment_map::mark(h, 1, false);
    h = header_of(target + kHeaderRoom);
    segment_map::mark(h, 1, true);
    h->cookie = header_cookie(h);  // the cookie is bound to the header's address
    h->base = target;
    h->mapped = grown;
    moved_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_add(grown - old, std::memory_order_relaxed);
    return target + kHeaderRoom;
  }

  /// Return idle memory the strategy keeps (all of it if `force`).
  void purge(std::uint64_t now_ms, bool force) noexcept { strategy_.purge(now_ms, force); }
  std::uint64_t next_purge_ms() const noexcept { return strategy_.next_purge_ms(); }
  /// Unmap everything kept (address space or memory is short).
  void flush() noexcept { strategy_.flush(); }
  void lock() noexcept { strategy_.lock(); }
  void unlock() noexcept { strategy_.unlock(); }
  CacheCounters cache_counters() const noexcept { return strategy_.counters(); }
  Strategy& strategy() noexcept { return strategy_; }

  LargeCounters counters() const noexcept {
    return LargeCounters{allocations_.load(std::memory_order_relaxed), frees_.load(std::memory_order_relaxed),
                         in_place_.load(std::memory_order_relaxed), moved_.load(std::memory_order_relaxed),
                         live_bytes_.load(std::memory_order_relaxed)};
  }

  static constexpr std::size_t kMaxSize = std::size_t{1} << 46;

 private:
  Strategy strategy_;
  std::atomic<std::size_t> allocations_{0}, frees_{0}, in_place_{0}, moved_{0}, live_bytes_{0};
};

}  // namespace tinyalloc::large
