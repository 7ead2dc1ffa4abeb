// The large-block contract: the header every large block carries, what a strategy hands out, and the MappingStrategy
// concept. Part of tinyalloc/large.hpp (include that).
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
  char* base;            ///< start of the mapping (or range)
  std::size_t mapped;    ///< bytes from base the block may use (RegionCache: its range runs on to the next granule)
  std::size_t offset;    ///< user pointer - base
  bool zero;             ///< the user range read as zero when handed out
  std::uint32_t origin;  ///< Mapping::origin, given back with it
  /// Bytes the program asked for, where a front end keeps its canary (the
  /// heap's hardened builds); not read by this library.
  std::size_t requested;
};
static_assert(sizeof(LargeHeader) <= kHeaderRoom);

struct Mapping {
  char* base = nullptr;
  std::size_t size = 0;
  bool zero = false;  ///< known to read as zero
  /// Which of the strategy's reservations it lies in (RegionCache; 0 for the
  /// others): a block gives it back with the mapping.
  std::uint32_t origin = 0;
};

/// What a strategy's cache holds (all zero for a strategy that keeps nothing).
/// The first six are every caching strategy's; the rest are RegionCache's
/// (zero for CachedMap).
struct CacheCounters {
  std::size_t hits;            ///< obtain() served from the cache, no new address space (includes clean_hits)
  std::size_t misses;          ///< obtain() that reserved new address space
  std::size_t evictions;       ///< freed mappings unmapped because the cache could not keep them
  std::size_t purges;          ///< decommits (madvise) that returned resident memory
  std::size_t cached_bytes;    ///< bytes held now, resident or not
  std::size_t resident_bytes;  ///< of which resident (dirty)
  std::size_t clean_hits;      ///< hits from decommitted ranges: their pages fault in again, as zero
  std::size_t splits;          ///< a range larger than the request was cut, the rest kept
  std::size_t merges;          ///< a range joined an address-adjacent free neighbour
  std::size_t unmaps;          ///< clean ranges unmapped (idle long enough, forced, or flushed)
  std::size_t mixed_hits;      ///< hits cut from a dirty range and the clean range beside it
  std::size_t in_use_bytes;    ///< range bytes blocks hold now (the resident ceiling's basis)
  std::size_t peak_in_use;     ///< the most in_use_bytes has been
  std::size_t populated;       ///< bytes pre-faulted for blocks the program was expected to write whole
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

struct CacheOptions {
  /// Resident (freed, not yet decommitted) bytes the cache may hold: CachedMap's
  /// budget; RegionCache's hard ceiling, above which the oldest are decommitted
  /// at once (TINYALLOC_LARGE_CACHE_MB).
  std::size_t max_bytes = std::size_t{1024} << 20;
  /// CachedMap, and RegionCache with decay off: idle time before a freed range is
  /// decommitted.  RegionCache with decay on: the time over which freed memory
  /// decays to nothing (TINYALLOC_PURGE_DELAY_MS).
  std::uint64_t purge_delay_ms = 100;
  // RegionCache only.
  bool split_coalesce = true;           ///< off: exact-size reuse, no splitting or merging (TINYALLOC_LARGE_SPLIT)
  bool decay = true;                    ///< off: a fixed budget (max_bytes) and the delay (TINYALLOC_LARGE_DECAY)
  std::uint64_t unmap_idle_ms = 10000;  ///< a clean range unused this long is unmapped
  std::size_t max_nodes = 16384;        ///< free-range descriptors (fixed pool)
  /// Pre-fault a block's decommitted pages while the program writes its
  /// blocks whole (TINYALLOC_LARGE_POPULATE; RegionCache's class comment).
  bool populate = true;
};

/// A strategy that can hand parts of a block back and forth with its cache.
template <class S>
concept RecyclesRanges = MappingStrategy<S> && requires(S s, const Mapping& m, std::size_t n) {
  { s.grow_in_place(m, n, n) }
  noexcept->std::same_as<std::size_t>;
  { s.take_for_move(n) }
  noexcept->std::same_as<Mapping>;
  { s.forget(n) }
  noexcept;
  { S::kGranule } -> std::convertible_to<std::size_t>;
};

}  // namespace tinyalloc::large
