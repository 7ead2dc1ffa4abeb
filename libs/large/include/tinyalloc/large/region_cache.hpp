// RegionCache: free ranges that split, coalesce and decay (TINYALLOC_LARGE=regions).
// Part of tinyalloc/large.hpp (include that).
#pragma once

#include <atomic>

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

#include "tinyalloc/large/contract.hpp"

namespace tinyalloc::large {

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
/// Address space is reserved in chunks of max(256 MiB, 2 x request) (a request
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
/// Pre-faulting (CacheOptions::populate, region_cache_populate.cpp): before a
/// free range is decommitted the kernel is asked how much of it is resident;
/// while that share, over the last ~kUseWindow bytes decommitted, is at least
/// 7/8 (the program writes its large blocks whole), the decommitted or fresh
/// pages of a block of up to kPopulateMax that obtain() hands out are made
/// resident in one system call (MADV_POPULATE_WRITE), at about half the cost
/// of their page faults.  A program that touches its blocks sparsely keeps
/// them lazy.
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
/// unmapped (counted as an eviction) rather than lost.  After every obtain()
/// and give_back() the resident cached (dirty) bytes are at most the ceiling,
///   min(max_bytes, peak + peak / kPeakSlack - in use)
/// where "in use" is what blocks hold now and "peak" its highest value so far:
/// blocks and the cache's resident ranges together never exceed 5/4 of the
/// most the blocks ever held, however the free ranges fragment (a dirty range
/// too small for any request would otherwise stay resident until it decays).
/// The oldest dirty bytes go first.  The fraction is a trade between page
/// faults and peak RSS.  On 20 live 5-25 MiB blocks replaced at random (bench
/// large_churn, 11 seeds), 1/4 against 1/5 takes 6% less time (the median
/// over the seeds: 8 of them up to 21% less, 3 up to 6% more) for ~3% more
/// peak RSS: at most 1.06x glibc's, but 1.12x in the one run in 5-7 where
/// the bench's own seed finds no free range for a block once more (a new
/// chunk).  (Measured with 64 MiB chunks.  With 256 MiB ones the bench's
/// seed peaks at 1.04-1.08x in most runs, and at 1.12x in 1 of 12.)  1/6
/// takes 17% more faults than 1/5 (PERF_FINDINGS.md).  (A failed madvise
/// leaves its range dirty, counted by region, for the next purge.)
class RegionCache {
 public:
  static constexpr std::size_t kGranule = kSegmentSize;  // every range's alignment and size unit
  /// Address space reserved at a time.  Ranges never merge across chunks
  /// (origins, above), so a chunk's end strands what no block fits: on 20
  /// live 5-25 MiB blocks (bench large_churn, 10 seeds), 256 MiB against 64
  /// took 4% less time (the median over the seeds; up to 14% less, on two
  /// seeds 8-9% more) and fewer faults on 8 seeds, peak RSS at most 1.06x
  /// glibc's; 512 MiB did worse on the bench's own seed (PERF_FINDINGS.md).
  /// Only address space: a reservation the OS refuses falls back to the size
  /// asked for.
  static constexpr std::size_t kChunkSize = std::size_t{256} << 20;
  static constexpr std::size_t kMaxChunk = std::size_t{1} << 30;  // largest chunk (2 x request above it: exact)
  static constexpr std::size_t kEpochs = 8;                       // decay resolution
  static constexpr std::size_t kMixedProbes = 8;  // dirty ranges take_cached() tries to join with a clean neighbour
  static constexpr std::size_t kPeakSlack = 4;    // resident <= peak in use x (1 + 1/kPeakSlack)
  /// Pre-faulting (region_cache_populate.cpp) follows the ranges decommitted
  /// last: about this many bytes of them, older ones weighing less.
  static constexpr std::size_t kUseWindow = std::size_t{256} << 20;
  static constexpr std::size_t kPopulateMax = std::size_t{32} << 20;  // the largest block pre-faulted

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
  /// `bytes` of ranges handed out (obtain, grow_in_place, take_for_move) are
  /// no longer a block's and will not be given back: mremap moved the block's
  /// pages away from them, or a failed move released the target.  Keeps the
  /// count of bytes in use (the ceiling's basis) exact.
  void forget(std::size_t bytes) noexcept;

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
  enum class End { front, back };
  char* take_part(FreeRange* n, std::size_t bytes, End end) noexcept;
  char* take_front(FreeRange* n, std::size_t bytes) noexcept { return take_part(n, bytes, End::front); }
  /// A block's range cut from the free ranges: `clean_bytes` of it, from
  /// `clean` on, were decommitted (they fault in as zero when touched).
  struct Cut {
    char* base = nullptr;
    char* clean = nullptr;
    std::size_t clean_bytes = 0;
    std::uint32_t origin = 0;
  };
  Cut take_cached(std::size_t need) noexcept;
  FreeRange* insert(char* base, std::size_t size, bool dirty, std::uint32_t origin, std::uint64_t now,
                    FreeRange* node) noexcept;
  FreeRange* take_oldest_dirty(std::size_t want) noexcept;
  std::uint64_t clock(std::uint64_t now) noexcept;
  void advance_epoch(std::uint64_t now) noexcept;
  std::size_t allowed_dirty() const noexcept;
  void hand_out(std::size_t bytes) noexcept;
  void forget_locked(std::size_t bytes) noexcept;
  std::size_t ceiling() const noexcept;
  void collect_over_ceiling(AgeList& out) noexcept;
  void update_next_purge() noexcept;
  void decommit_outside_lock(AgeList& batch) noexcept;
  void unmap_outside_lock(AgeList& batch) noexcept;
  // Pre-faulting (region_cache_populate.cpp).
  struct UseSample {
    std::size_t seen = 0, resident = 0;
  };
  static void sample_use(const FreeRange& n, UseSample& s) noexcept;
  void note_use(const UseSample& s) noexcept;
  bool blocks_written_whole() const noexcept;
  void populate_outside_lock(char* base, std::size_t pages, char* clean, std::size_t clean_bytes) noexcept;

  CacheOptions options_;
  std::uint64_t epoch_ms_;  ///< purge_delay_ms / kEpochs, at least 1 (constant)
  mutable region::Lock lock_;
  SizeTree dirty_by_size_, clean_by_size_;
  AddressTree by_address_;
  AgeList dirty_age_, clean_age_;
  std::size_t dirty_bytes_ = 0, clean_bytes_ = 0;
  std::size_t in_use_ = 0, peak_in_use_ = 0;  ///< range bytes blocks hold (handed out, not given back), and its peak
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
              unmaps_ = 0, mixed_hits_ = 0;
  /// Of the decommitted ranges' bytes asked about (seen), those that were
  /// resident: how much of its blocks the program writes.
  std::size_t use_seen_ = 0, use_resident_ = 0;
  std::atomic<std::size_t> populated_{0};  ///< bytes pre-faulted (counted outside the lock)
};

}  // namespace tinyalloc::large
