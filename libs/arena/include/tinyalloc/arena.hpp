// tinyalloc::arena — where segments come from and go back to.
//
// Layer 2: depends on tinyalloc::region (address space), tinyalloc::segment
// (geometry) and tinyalloc::size_class (the number of classes), plus
// Boost.Lockfree.
//
// The arena reserves address space in large chunks (kChunkSize) and carves
// segments from them with an atomic bump pointer: one 256 KiB window for a
// small class, several contiguous windows for a medium class whose single
// block needs them (span_windows).  Nothing is touched or
// mprotect'ed when a segment is handed out: its pages fault in when the heap
// first writes them (lazy commit).  An optional prefault mode commits eagerly,
// for measuring the difference.
//
// Recycling, all lock-free (Boost.Lockfree stacks of fixed capacity, so the
// pools themselves never allocate), by what a segment's memory is, not by
// size class: any class reuses any warm segment that suits it.
//   dirty[r] — segments just emptied, still resident, by their length and
//              their reach: how far from the span's start the blocks of
//              the segments it held may have made pages resident
//              (Segment::reach), in steps of kReachStep.  A span of k
//              windows is pooled as reaching past k - 1 of them at least,
//              so each length's pools are a run of kReachSteps.
//   clean    — purged one-window segments (decommitted: resident memory
//              returned, they read as zero again).
//   spans[k] — purged segments of k > 1 windows.
// Resident memory grows only by page faults, so acquire() takes first a
// warm span whose resident pages cover what the class will touch (the end
// of its one block; a class of several blocks a window: the whole window):
// of the class's length, the one reaching just as far, then those reaching
// further; then, for a class of one block a span, a span up to
// ArenaOptions::borrow_windows windows longer, whole (never split), the one
// reaching least first.  Only then a span of its length that reaches less
// far (the block faults in the difference), and last a purged or fresh one
// (it faults in whole).  A span goes back by its own length and reach, so
// one borrowed returns to its own length's pools.  Pooled by length alone
// (PERF_FINDINGS.md, "dirty spans by reach"), a span that a smaller class
// reused held on to the pages a larger one had touched, and a larger class
// faulted in what a smaller one had not.
// An emptied segment waits in its dirty pool for the purge delay, then is
// decommitted into clean.  Above the dirty cap the arena decommits at once,
// so resident memory falls after a burst even without time passing.  The cap
// (dirty_cap) is ArenaOptions::max_dirty windows or 1/kDirtyShare of the
// windows in use, whichever is more: the idle resident memory grows with the
// working set, never beyond half of it above the floor.  A fixed cap cut too
// deep when many large spans were in flight: two threads trading 32 KiB -
// 1 MiB blocks under load decommitted spans a moment before needing them
// again (PERF_FINDINGS.md, issue 8, medium spans).
//
// A failed decommit (madvise) leaves the segment in its dirty pool, to be
// tried again at the next purge; a failed unmap keeps it pooled.  Nothing is
// dropped without being counted (region::counters().failed_calls).
//
// Thread-safety: every public function may be called from any thread.  No
// lock is held across a system call.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/lockfree/stack.hpp>

#include "tinyalloc/region.hpp"
#include "tinyalloc/segment.hpp"
#include "tinyalloc/size_class.hpp"

namespace tinyalloc {

struct ArenaOptions {
  std::uint64_t purge_delay_ms = 100;  ///< how long an empty segment stays resident
  /// Empty resident windows (x 256 KiB) kept at least, all lengths: 128 MiB
  /// (more while more is in use: Arena::dirty_cap).  Below ~100 MiB, two
  /// threads trading 32 KiB - 1 MiB blocks decommit and fault the same
  /// memory back (PERF_FINDINGS.md, medium blocks).
  std::size_t max_dirty = 512;
  /// A class of one block a span whose length has no warm span covering its
  /// block may take a warm span up to this many windows longer, whole,
  /// before one that faults pages in.  0: exact lengths only (ablation).
  std::size_t borrow_windows = 1;
  bool prefault = false;  ///< commit eagerly (ablation)
};

struct ArenaCounters {
  std::size_t segments_carved;
  std::size_t segments_reused;    ///< from dirty or clean pools
  std::size_t segments_purged;    ///< decommitted
  std::size_t segments_unmapped;  ///< pools full: address space returned
  std::size_t dirty;              ///< in dirty pools now
  std::size_t clean;              ///< in the clean pool now
  std::size_t windows_held;       ///< windows (x 256 KiB) handed out and not released: segments in use
  std::size_t segments_borrowed;  ///< reused whole for a class of a shorter span (borrow_windows)
};

class Arena {
 public:
  static constexpr std::size_t kChunkSize = std::size_t{64} << 20;  // reserved at a time
  static constexpr std::size_t kMaxWindows = span_windows(size_class::kMaxMedium);
  // Dirty pools per span length: by reach in steps of 64 KiB (32 and 16 KiB
  // measured the same on medium_two_threads).
  static constexpr std::size_t kReachStep = std::size_t{64} << 10;
  static constexpr std::size_t kReachSteps = kSegmentSize / kReachStep;
  static constexpr std::size_t kDirtyPools = kMaxWindows * kReachSteps;
  // Per dirty pool; a full one spills into its length's pools reaching less
  // far, so a length holds 256, in as many nodes as when pools were per length.
  static constexpr std::size_t kDirtyCapacity = 64;
  // Purged spans, per length: address space only.  A purge past it unmaps
  // (a munmap each, and a split mapping); at 64, medium_two_threads made
  // ~1,500 munmaps a run under strace's slowdown, now that one-block spans
  // return to the arena at every free (detached.cpp).  At 1024: 9.
  static constexpr std::size_t kSpanCapacity = 1024;
  static constexpr std::size_t kCleanCapacity = 4096;  // 1 GiB of purged segments
  static constexpr std::size_t kDirtyShare = 2;        // dirty windows <= max(max_dirty, in use / kDirtyShare)

  explicit Arena(const ArenaOptions& options = {}) noexcept : options_(options) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// A segment's memory for `size_class`: reused or new.  `zero` tells
  /// whether everything past the header reads as zero.  nullptr if the OS
  /// refuses address space.
  struct Grant {
    void* memory;
    bool zero;
    std::size_t windows;  ///< its length: the class's span, or longer (a borrowed warm span)
    std::size_t reached;  ///< how far its earlier segments reached (Segment::create): 0 unless warm
  };
  Grant acquire(unsigned size_class) noexcept;

  /// An unused segment comes back.  `now_ms` is a monotonic time.
  void release(Segment* s, std::uint64_t now_ms) noexcept;

  /// Decommit segments idle longer than the purge delay (all of them if
  /// `force`).  Cheap when there is nothing due.  Takes no lock: concurrent
  /// callers share the work.
  void purge(std::uint64_t now_ms, bool force = false) noexcept;

  /// When the next purge is due (~0: nothing resident is waiting).
  std::uint64_t next_purge_ms() const noexcept { return next_purge_ms_.load(std::memory_order_relaxed); }

  /// Give the address space of every pooled segment back to the OS (after
  /// decommitting the dirty ones): for when address space itself runs out,
  /// e.g. under RLIMIT_AS.  Returns the number of segments unmapped.
  std::size_t trim() noexcept;

  /// Hold the arena's lock (chunk installation) across fork(), so the child
  /// never inherits it held by a thread that is gone.  A purge in progress
  /// in another thread is not waited for: the segments it holds at that
  /// moment are lost to the child, which never touches them (their pages
  /// stay shared with the parent's).
  void lock() noexcept;
  void unlock() noexcept;

  ArenaCounters counters() const noexcept;
  const ArenaOptions& options() const noexcept { return options_; }

 private:
  template <std::size_t N>
  using Pool = boost::lockfree::stack<Segment*, boost::lockfree::capacity<N>>;

  static std::size_t windows_of(unsigned size_class) noexcept { return span_windows(size_class::size_of(size_class)); }
  Grant take(std::size_t windows, std::size_t need, std::size_t borrow) noexcept;
  /// The dirty pool of a span of `windows` windows that reaches `reach` bytes.
  static std::size_t dirty_pool(std::size_t windows, std::size_t reach) noexcept;
  void* carve(std::size_t windows) noexcept;
  bool install_chunk(char* seen, std::size_t need) noexcept;
  void recycle_windows(char* from, char* to) noexcept;
  bool to_clean(Segment* s) noexcept;
  bool unmap(void* at, std::size_t windows, bool committed) noexcept;
  bool push_clean(void* at, std::size_t windows) noexcept;
  void* pop_clean(std::size_t windows) noexcept;
  Segment* pop_dirty(std::size_t pool) noexcept;
  bool push_dirty(Segment* s) noexcept;
  void arm_purge(std::uint64_t due) noexcept;
  /// Dirty windows kept at most now (see the top of this file).
  std::size_t dirty_cap() const noexcept;

  ArenaOptions options_;
  Pool<kDirtyCapacity> dirty_[kDirtyPools];  // [dirty_pool(windows, reach)]
  Pool<kCleanCapacity> clean_;
  Pool<kSpanCapacity> spans_[kMaxWindows];  // [k - 1], k > 1
  std::atomic<std::size_t> dirty_count_{0};
  std::atomic<std::uint64_t> next_purge_ms_{~std::uint64_t{0}};

  // Current chunk: [cursor_, end_) is not yet carved.  New chunks are
  // reserved without a lock and installed under chunk_lock_ (rare: once per
  // 64 MiB).
  std::atomic<char*> cursor_{nullptr};
  std::atomic<char*> end_{nullptr};
  region::Lock chunk_lock_;

  std::atomic<std::size_t> carved_{0}, reused_{0}, purged_{0}, unmapped_{0}, clean_count_{0}, held_{0}, borrowed_{0};
};

}  // namespace tinyalloc
