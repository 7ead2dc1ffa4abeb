// tinyalloc::large — blocks above the largest size class.
//
// Layer 3: depends on tinyalloc::region (mappings) and tinyalloc::segment
// (the header mask).  Independent of arena and queue.
//
// A large block is a mapping (DirectMap, CachedMap) or a range of one
// (RegionCache), aligned to (at least) kSegmentSize, with a LargeHeader where
// Segment::header_of(user pointer) lands:
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
//               made under its lock.  (TINYALLOC_LARGE=slots, kept for ablation.)
//   RegionCache — address space reserved in big chunks and managed as free
//               ranges: a request is carved from the best-fitting range (split),
//               a freed range merges with free neighbours (coalesce), freed
//               memory stays resident and decays back to the OS over the purge
//               delay (jemalloc-style), clean ranges are unmapped after long
//               idleness.  The default of the full allocator (`regions`); see
//               the RegionCache class comment.
//
// A strategy may also recycle parts of a block (the RecyclesRanges concept,
// which RegionCache satisfies): resize then grows a block into the free range
// right after it and gives a shrunk block's tail back as a freed range.
#pragma once

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

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

/// A free range of a RegionCache: a node of its trees.  Nodes live in a fixed
/// pool the cache reserves from region (never the global allocator); every
/// field is written under the cache's lock, or by the one thread that took the
/// node out of the trees (then it is in none of them, "busy").
struct FreeRange {
  using Link = boost::intrusive::link_mode<boost::intrusive::normal_link>;
  boost::intrusive::set_member_hook<Link> by_size;     ///< in dirty_by_size_ or clean_by_size_
  boost::intrusive::set_member_hook<Link> by_address;  ///< in by_address_
  boost::intrusive::list_member_hook<Link> by_age;     ///< in dirty_age_ or clean_age_, or a busy batch
  char* base;                                          ///< kSegmentSize aligned
  std::size_t size;                                    ///< a multiple of kSegmentSize
  std::uint64_t since_ms;                              ///< freed (dirty), or decommitted/last touched (clean)
  bool dirty;                                          ///< resident; false: decommitted or never touched
  bool unmapped;                                       ///< busy on its way to munmap: the call succeeded
  std::uint32_t origin;                                ///< the reservation it lies in (see RegionCache)
  FreeRange* next_free;                                ///< link in the node pool's free list
};

/// A region cache that splits, coalesces and decays (TINYALLOC_LARGE=regions).
///
/// Address space is reserved in chunks of max(64 MiB, 2 x request) (a request
/// above 512 MiB gets exactly its size) and kept as free ranges, each
/// kSegmentSize aligned and a multiple of it:
///   by_address_      every free range, by address: a freed range finds its
///                    neighbours in O(log n) and merges with those in the same
///                    state (dirty with dirty, clean with clean) and the same
///                    origin (below).
///   dirty_by_size_   resident free ranges by (size, address), and
///   clean_by_size_   decommitted ones: obtain() takes the smallest dirty range
///                    that fits (no page faults), else the smallest clean one
///                    (reads as zero), else reserves; the rest of the range stays.
///   dirty_age_       dirty ranges in the order they were freed (oldest first),
///   clean_age_       clean ranges in the order they became clean or were last
///                    cut from: purging takes from the front.
/// Decay: the bytes freed in each of the last kEpochs epochs (epoch =
/// purge_delay_ms / kEpochs) are remembered; the dirty bytes allowed are
///   sum over i of freed[i epochs ago] x (kEpochs - i) / kEpochs,
/// a linear decay, so a steady workload keeps about what it recently freed
/// resident and an idle one is fully decommitted within purge_delay_ms (and an
/// epoch), provided purge() is called at the times next_purge_ms() gives.  purge()
/// decommits the oldest dirty bytes above that (cutting a range if only part of
/// it must go); max_bytes is a hard ceiling applied at once.  next_purge_ms()
/// is the next epoch boundary while anything is dirty, never later, so a purge
/// thread sleeping until it never oversleeps a range freed meanwhile.
///
/// Clean ranges hold address space, not memory: a purge that runs unmaps those
/// unused for unmap_idle_ms (they set no purge time of their own), flush() and
/// purge(force) unmap all, and so does a reservation the OS refuses (flush,
/// then retry).
///
/// Origins: every reservation the cache makes (a chunk, an over-aligned or an
/// exact-size request, a move target) gets a number, and each range and block
/// carries the number of the one it lies in.  Ranges merge only within an
/// origin, so a block never spans two kernel mappings (VMAs): mremap, which
/// LargeAllocator uses to grow a block, fails with EFAULT on a range that does
/// (adjacent anonymous mappings are not always merged by Linux: not when their
/// pages belong to different anon_vmas, as after an mremap), and Linux unmaps
/// the target before it finds out.  munmap and madvise would not care.  A move
/// target cut from a clean range gets a new origin, as its pages will be the
/// moved mapping's.
///
/// A block's Mapping is its request rounded up to pages; its range runs on to
/// the next granule (its slack, counted as committed while it lives; resize
/// grows into it, then into the free range after it, with no system call).
/// give_back rounds up again.  A range is in the trees only while free: the
/// cache keeps no record of live blocks, so a block whose pages mremap moved
/// away simply leaves a hole between ranges.
///
/// Locking: one region::Lock over the trees and counters.  Every mmap, madvise
/// and munmap is made outside it, on ranges taken out of the trees first (busy:
/// in no tree, so no neighbour merges with them) and put back afterwards.
///
/// Bounds: at most max_nodes free ranges; when no node is left a freed range is
/// unmapped (counted as an eviction) rather than lost.  Resident cached bytes
/// never exceed max_bytes after give_back() returns (unless madvise failed:
/// those ranges stay dirty, counted by region, for the next purge).
class RegionCache {
 public:
  static constexpr std::size_t kGranule = kSegmentSize;             // every range's alignment and size unit
  static constexpr std::size_t kChunkSize = std::size_t{64} << 20;  // address space reserved at a time
  static constexpr std::size_t kMaxChunk = std::size_t{1} << 30;    // largest chunk (2 x request above it: exact)
  static constexpr std::size_t kEpochs = 8;                         // decay resolution

  explicit RegionCache(const CacheOptions& options = {}) noexcept;
  ~RegionCache();  // flushes and unmaps the node pool (the heap's instance is never destroyed)
  RegionCache(const RegionCache&) = delete;
  RegionCache& operator=(const RegionCache&) = delete;

  Mapping obtain(std::size_t bytes, std::size_t alignment) noexcept;
  void give_back(const Mapping& m) noexcept;
  void purge(std::uint64_t now_ms, bool force) noexcept;
  std::uint64_t next_purge_ms() const noexcept { return next_purge_ms_.load(std::memory_order_relaxed); }
  /// Unmap every free range (address space or memory is short).
  void flush() noexcept;
  void lock() noexcept;
  void unlock() noexcept;
  /// Extend the block mapped at m (from obtain()) to at least `need` bytes:
  /// into the rest of its last granule, else into the free range right after
  /// its range, to `want` bytes if that much is free there.  The new size, or
  /// 0 (m unchanged).  No system call.
  std::size_t grow_in_place(const Mapping& m, std::size_t need, std::size_t want) noexcept;
  /// Where to move a block with mremap: `bytes` (rounded up to the granule)
  /// of address space holding nothing and not accounted as committed, as
  /// region::reserve gives -- a clean free range, else a new reservation --
  /// under an origin of its own.  {} if the OS refuses.  Never given back as
  /// such: after the move it is the block's; if the move failed the caller
  /// releases it (the kernel may have unmapped it already).
  Mapping take_for_move(std::size_t bytes) noexcept;

  CacheCounters counters() const noexcept;
  const CacheOptions& options() const noexcept { return options_; }

 private:
  struct SizeOrder {
    bool operator()(const FreeRange& a, const FreeRange& b) const noexcept {
      return a.size < b.size || (a.size == b.size && a.base < b.base);
    }
    bool operator()(const FreeRange& a, std::size_t n) const noexcept { return a.size < n; }
    bool operator()(std::size_t n, const FreeRange& a) const noexcept { return n < a.size; }
  };
  struct AddressOrder {
    bool operator()(const FreeRange& a, const FreeRange& b) const noexcept { return a.base < b.base; }
    bool operator()(const FreeRange& a, const char* p) const noexcept { return a.base < p; }
    bool operator()(const char* p, const FreeRange& a) const noexcept { return p < a.base; }
  };
  using SetHook = boost::intrusive::set_member_hook<FreeRange::Link>;
  using SizeTree =
      boost::intrusive::set<FreeRange, boost::intrusive::member_hook<FreeRange, SetHook, &FreeRange::by_size>,
                            boost::intrusive::compare<SizeOrder>, boost::intrusive::constant_time_size<false>>;
  using AddressTree =
      boost::intrusive::set<FreeRange, boost::intrusive::member_hook<FreeRange, SetHook, &FreeRange::by_address>,
                            boost::intrusive::compare<AddressOrder>, boost::intrusive::constant_time_size<false>>;

  /// A list of ranges by age, or of busy ranges on their way to a system call.
  using AgeList = boost::intrusive::list<
      FreeRange,
      boost::intrusive::member_hook<FreeRange, boost::intrusive::list_member_hook<FreeRange::Link>, &FreeRange::by_age>,
      boost::intrusive::constant_time_size<false>>;

  // All private functions but ensure_pool and the *_outside_lock ones run
  // under lock_.
  void ensure_pool() noexcept;
  FreeRange* new_node() noexcept;
  void free_node(FreeRange* n) noexcept;
  SizeTree& by_size(bool dirty) noexcept { return dirty ? dirty_by_size_ : clean_by_size_; }
  AgeList& by_age(bool dirty) noexcept { return dirty ? dirty_age_ : clean_age_; }
  void link(FreeRange* n) noexcept;
  void unlink(FreeRange* n) noexcept;
  FreeRange* best_fit(bool dirty, std::size_t need) noexcept;
  char* take_front(FreeRange* n, std::size_t bytes) noexcept;
  FreeRange* insert(char* base, std::size_t size, bool dirty, std::uint32_t origin, std::uint64_t now,
                    FreeRange* node) noexcept;
  FreeRange* take_oldest_dirty(std::size_t want) noexcept;
  std::uint64_t clock(std::uint64_t now) noexcept;
  void advance_epoch(std::uint64_t now) noexcept;
  std::size_t allowed_dirty() const noexcept;
  void collect_over_ceiling(AgeList& out) noexcept;
  void update_next_purge() noexcept;
  void decommit_outside_lock(AgeList& batch) noexcept;
  void unmap_outside_lock(AgeList& batch) noexcept;

  CacheOptions options_;
  std::uint64_t epoch_ms_;  ///< purge_delay_ms / kEpochs, at least 1 (constant)
  mutable region::Lock lock_;
  SizeTree dirty_by_size_, clean_by_size_;
  AddressTree by_address_;
  AgeList dirty_age_, clean_age_;
  std::size_t dirty_bytes_ = 0, clean_bytes_ = 0;
  // The node pool: reserved on first use (outside the lock; installed under it).
  std::atomic<FreeRange*> pool_{nullptr};
  std::size_t pool_used_ = 0;
  FreeRange* free_nodes_ = nullptr;
  // Decay: freed_[i] = bytes freed i epochs before epoch_.
  std::uint64_t epoch_ = 0;
  std::size_t freed_[kEpochs] = {};
  std::uint64_t last_now_ = 0;                                   ///< the latest time seen: keeps the age lists in order
  std::uint32_t origins_ = 0;                                    ///< the last origin given to a reservation
  std::atomic<std::uint64_t> next_purge_ms_{~std::uint64_t{0}};  // read without the lock
  std::size_t hits_ = 0, clean_hits_ = 0, misses_ = 0, evictions_ = 0, purges_ = 0, splits_ = 0, merges_ = 0,
              unmaps_ = 0;
};

/// A strategy that can hand parts of a block back and forth with its cache.
template <class S>
concept RecyclesRanges = MappingStrategy<S> && requires(S s, const Mapping& m, std::size_t n) {
  { s.grow_in_place(m, n, n) }
  noexcept->std::same_as<std::size_t>;
  { s.take_for_move(n) }
  noexcept->std::same_as<Mapping>;
  { S::kGranule } -> std::convertible_to<std::size_t>;
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
      return nullptr;
    }
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
