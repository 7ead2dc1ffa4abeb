// LargeAllocator<Strategy>: large blocks over a mapping strategy.
// Part of tinyalloc/large.hpp (include that).
#pragma once

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tinyalloc/large/contract.hpp"

namespace tinyalloc::large {

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
    // The range may have held a freed block that memcheck still guards
    // (valgrind builds): the header area is the allocator's again.
    track::reclaimed(m.base, offset);
    h->become_large();
    h->base = m.base;
    h->mapped = m.size;
    h->offset = offset;
    h->zero = m.zero;
    h->origin = m.origin;
    allocations_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_add(m.size, std::memory_order_relaxed);
    return user;
  }

  void deallocate(void* p) noexcept {
    LargeHeader* h = header_of(p);
    const Mapping m{h->base, h->mapped, false, h->origin};
    h->retire();
    segment_map::mark(h, 1, false);
    frees_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_sub(m.size, std::memory_order_relaxed);
    strategy_.give_back(m);
    strategy_.purge(region::now_ms(), false);
  }

  /// Resize without copying: in place when it fits (trimming a tail that is
  /// no longer needed), into the free range right after the block (a strategy
  /// that RecyclesRanges), or by moving the pages to a larger mapping (mremap).
  /// Returns nullptr, leaving `p` intact, when none is possible.
  void* resize(void* p, std::size_t size) noexcept {
    LargeHeader* h = header_of(p);
    if (size > kMaxSize) return nullptr;
    const std::size_t page = region::page_size();
    const std::size_t need = region::align_up(h->offset + size, page);
    if (need <= h->mapped) {
      if (need <= h->mapped / 2) shrink(h, need);
      in_place_.fetch_add(1, std::memory_order_relaxed);
      return p;
    }
    // Grow by at least 1/8 so a block grown repeatedly moves O(log n) times.
    std::size_t grown = region::align_up(need + need / 8, granule());
    if constexpr (RecyclesRanges<Strategy>) {
      const std::size_t got = strategy_.grow_in_place(Mapping{h->base, h->mapped, false, h->origin}, need, grown);
      if (got != 0) {
        live_bytes_.fetch_add(got - h->mapped, std::memory_order_relaxed);
        h->mapped = got;
        in_place_.fetch_add(1, std::memory_order_relaxed);
        return p;
      }
    }
    if (h->offset != kHeaderRoom) return nullptr;  // over-aligned: let the caller copy
    // The target: address space that holds nothing, so mremap may replace it
    // and the committed account stays exact (from a strategy that recycles
    // ranges: a clean range or a new reservation).  The whole old range
    // moves (for such a strategy, up to its granule: the block's slack too),
    // and its addresses are unmapped by the move: the strategy never sees them
    // again (a live block's range is in none of its trees), they are a hole
    // between its ranges.
    Mapping to{};
    if constexpr (RecyclesRanges<Strategy>) {
      to = strategy_.take_for_move(grown);
    } else {
      to.base = static_cast<char*>(region::reserve(grown, kSegmentSize));
    }
    char* const target = to.base;
    if (target == nullptr) return nullptr;
    const std::size_t old = h->mapped;
    const std::size_t old_range = region::align_up(old, granule());
    if (!region::move(h->base, old_range, target, grown)) {
      // Released, even a range of the strategy: Linux unmaps the target
      // before it checks the source (EFAULT: the block spans two mappings).
      (void)region::release(target, grown);  // a failure is counted by region
      if constexpr (RecyclesRanges<Strategy>) strategy_.forget(grown);
      return nullptr;
    }
    if constexpr (RecyclesRanges<Strategy>) strategy_.forget(old_range);  // those addresses are gone
    // h is unmapped now: only its address is used below (the map entry, and
    // the header's new place).
    region::commit(target + old_range, grown - old_range);  // accounting: the new tail is in use
    live_bytes_.fetch_add(grown - old, std::memory_order_relaxed);
    segment_map::mark(h, 1, false);
    h = header_of(target + kHeaderRoom);
    segment_map::mark(h, 1, true);
    h->cookie = header_cookie(h);  // the cookie is bound to the header's address
    h->base = target;
    h->mapped = grown;
    h->origin = to.origin;
    moved_.fetch_add(1, std::memory_order_relaxed);
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
  /// The unit of a block's mapping: the strategy's ranges, or pages.
  static std::size_t granule() noexcept {
    if constexpr (RecyclesRanges<Strategy>) {
      return Strategy::kGranule;
    } else {
      return region::page_size();
    }
  }

  /// Give back the tail of h's mapping past `need` bytes rather than hold it:
  /// to the strategy as a freed range if it recycles ranges (it may be reused
  /// warm; the block keeps the rest of its last granule), else to the OS (if
  /// the kernel refuses to split the mapping, the block simply keeps it).
  void shrink(LargeHeader* h, std::size_t need) noexcept {
    const std::size_t old = h->mapped;
    if constexpr (RecyclesRanges<Strategy>) {
      const std::size_t keep = region::align_up(need, Strategy::kGranule);
      const std::size_t range = region::align_up(old, Strategy::kGranule);
      if (keep >= range) return;
      h->mapped = need;
      strategy_.give_back(Mapping{h->base + keep, range - keep, false, h->origin});
    } else {
      if (!region::release(h->base + need, old - need, true)) return;
      h->mapped = need;
    }
    live_bytes_.fetch_sub(old - need, std::memory_order_relaxed);
  }

  Strategy strategy_;
  std::atomic<std::size_t> allocations_{0}, frees_{0}, in_place_{0}, moved_{0}, live_bytes_{0};
};

}  // namespace tinyalloc::large
