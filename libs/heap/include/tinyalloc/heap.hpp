// tinyalloc::heap — the front end: one heap per thread and the malloc family.
//
// Layer 4: depends on every layer below (region, segment, queue, arena,
// large).  The C interface is <tinyalloc.h>; this header is the C++ one, and
// holds the fast paths inline so the override library compiles them into its
// malloc/free without a call.
//
// Who owns what:
//   - A Heap belongs to one thread (created on its first malloc, parked at
//     its exit for the next thread to take whole).  Only that thread writes
//     it, except `handed_off`.
//     The heap's address is the owner id in each of its segments' owner word
//     (segment/header.hpp): unlike a thread id it is never shared with a
//     thread that did not create it, even across fork().
//   - A small segment belongs to one heap.  The owner allocates and frees
//     without locks or atomic read-modify-writes; other threads free into the
//     segment's atomic thread_free list (segment.hpp).
//   - When a thread exits, its heap is parked whole, segments and all, and
//     the next new thread takes it (heap_pool.hpp).  A heap left parked
//     longer than the purge delay is dismantled: its segments that still hold
//     live blocks are "abandoned": ownerless, but still receiving remote
//     frees; the next heap that needs a segment adopts them.  Nothing leaks,
//     later frees still work.
//
// Fast paths (one screen each, below):
//   malloc: size -> class (table load), the free blocks of the heap's current segment for
//           that class, pop its free list.  No branch on "has a heap": a
//           thread without one points at the empty heap, whose slots are
//           always empty, so its first malloc falls into the slow path.
//   free:   mask the pointer to its header; if the owner word equals this
//           thread's heap (and so no flag is set), push onto local_free.
//           Hardened (default): p must be a carved block's start (a mask,
//           a multiply and a compare: interior and unaligned pointers) and not
//           the block freed just before (a double free in a row); a block
//           freed twice with others in between is caught when a free list
//           next hands it out (FreeBlocks::pop).  Secure builds also verify,
//           without a division or a list walk, that p is tinyalloc's and not
//           already free, and zero the block.  Slow paths always verify all
//           of that.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tinyalloc/arena.hpp"
#include "tinyalloc/large.hpp"
#include "tinyalloc/queue.hpp"
#include "tinyalloc/segment.hpp"

namespace tinyalloc {

/// A size class, or a direct slot of one, as the malloc fast path sees it.
/// The counter sits beside the pointer so counting writes the cache line the
/// lookup just read.
struct ClassSlot {
  /// The free blocks of the segment this heap allocates from for the class,
  /// or the shared empty FreeBlocks (free == nullptr) when it has none.
  /// Owner only, through point_class().
  FreeBlocks* current;
  /// Blocks served (statistics).  Written by the owner with plain load+store
  /// (no RMW); read by anyone merging statistics.
  std::atomic<std::uint64_t> served;

  void count() noexcept {
#if !defined(TINYALLOC_STATS) || TINYALLOC_STATS
#if defined(__x86_64__)
    // One add to memory (no lock prefix: only the owner writes, and an
    // aligned 8-byte store is atomic for readers).  The compiler will not
    // fuse an atomic's load and store: three instructions on every malloc.
    asm("addq $1, %0" : "+m"(*reinterpret_cast<std::uint64_t*>(&served)));
#else
    served.store(served.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
#endif
#endif
  }
};

/// What the malloc fast path reads.
struct ClassTable {
  /// Requests of at most size_class::kDirectLimit bytes, by
  /// size_class::direct_slot(size): each slot's `current` is a copy of its
  /// class's, so malloc goes from the size to the free list in one load.  A
  /// slot counts the blocks served through it; statistics add up a class's.
  ClassSlot direct[size_class::kDirectSlots];
  /// Every class: `current` is the copy the slow paths read; `served` counts
  /// the larger requests and the blocks the slow path hands out.
  ClassSlot classes[size_class::kCount];

  /// Make f the free list class c allocates from, in both tables.
  void point_class(unsigned c, FreeBlocks* f) noexcept {
    classes[c].current = f;
    for (std::size_t i = size_class::first_slot(c); i < size_class::end_slot(c); ++i) direct[i].current = f;
  }
  /// The blocks served from class c, all slots included.
  std::uint64_t served(unsigned c) const noexcept {
    std::uint64_t n = classes[c].served.load(std::memory_order_relaxed);
    for (std::size_t i = size_class::first_slot(c); i < size_class::end_slot(c); ++i)
      n += direct[i].served.load(std::memory_order_relaxed);
    return n;
  }
};

/// A thread's heap.  Its address (equal to its ClassTable's) is its owner id.
struct Heap : ClassTable {
  ClassQueue queues[size_class::kCount];  ///< the segments it owns, per class
  /// While no thread uses the heap: its link in the heap pool's free or
  /// parked list, and when it was parked.  Written under the pool's lock.
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> pool_hook;
  std::uint64_t parked_at_ms;
  /// The medium class whose current segment the heap keeps though it may be
  /// empty (at most one such class: heap.cpp, keep_empty_medium), or
  /// size_class::kCount for none.  Owner only.
  std::uint8_t kept_medium;

  /// Blocks other threads freed into this heap's full segments (the
  /// hand-off of segment.hpp): a Treiber stack linked through the blocks'
  /// first words, encoded with `handoff_codec`.  Pushed by any thread; taken
  /// whole by the owner on its slow path.  The owner processes just these,
  /// never scanning its full segments.
  alignas(64) std::atomic<Block*> handed_off;
  LinkCodec handoff_codec;  ///< set when the heap is created; read by pushers
};
static_assert(size_class::kCount <= UINT8_MAX, "Heap::kept_medium holds a class number or kCount");

namespace detail {
extern FreeBlocks g_empty_blocks;
extern ClassTable g_empty_heap;
/// This thread's heap (the empty heap until its first malloc).  __thread, not
/// thread_local: no dynamic initialisation, so no TLS wrapper call.  A thread
/// created after fork() starts with the empty heap, whatever stack it reuses.
extern __thread ClassTable* tl_heap __attribute__((tls_model("initial-exec")));

void* malloc_slow(std::size_t size) noexcept;
void free_slow(SegmentBase* header, void* p) noexcept;
void segment_emptied(Segment* s) noexcept;
/// The owner frees b, which failed a cheap check: report the misuse, or (a
/// false alarm) complete the free.
void free_suspect(Segment* s, Block* b) noexcept;
/// free(p) of a pointer outside tinyalloc's memory (secure builds): reports it.
[[noreturn]] void free_foreign(const void* p) noexcept;

// The fast paths proper.  heap_malloc / heap_free below add only the valgrind
// announcements, which vanish unless TINYALLOC_VALGRIND is set.
/// The malloc fast path alone: a block, or nullptr when malloc_slow must run.
inline void* malloc_fast(std::size_t size) noexcept {
  ClassTable* h = detail::tl_heap;
  ClassSlot* k;
  if (__builtin_expect(size <= size_class::kDirectLimit, 1))
    k = &h->direct[size_class::direct_slot(size)];
  else if (size <= size_class::kMaxSmall)
    k = &h->classes[size_class::of_coarse(size)];
  else
    return nullptr;
  FreeBlocks* f = k->current;
  if (__builtin_expect(!f->empty(), 1)) {
    k->count();
    return f->pop();
  }
  return nullptr;
}

inline void* malloc_block(std::size_t size) noexcept {
  if (void* p = malloc_fast(size)) return p;
  return detail::malloc_slow(size);
}

inline void free_block(void* p) noexcept {
  if (__builtin_expect(p == nullptr, 0)) return;
  if constexpr (kSecure) {
    if (__builtin_expect(!segment_map::contains(p), 0)) free_foreign(p);
  }
  SegmentBase* header = Segment::header_of(p);
  if (__builtin_expect(header->owner_word() == reinterpret_cast<std::uintptr_t>(detail::tl_heap), 1)) {
    Segment* s = static_cast<Segment*>(header);
    Block* b = static_cast<Block*>(p);
    if constexpr (kHardened) {
      // Not a block start, or (secure) on a free list / (hardened) the block freed last.
      const bool again = kSecure ? s->looks_free(b) : b == s->local_free;
      if (__builtin_expect(!s->is_block_start(b) || again, 0)) return free_suspect(s, b);
    }
    if constexpr (kSecure) std::memset(b, 0, s->block_size);
    s->push_local(b);
    if (__builtin_expect(s->blocks.returned(b), 0)) segment_emptied(s);
    return;
  }
  free_slow(header, p);
}
}  // namespace detail

/// Bytes usable at p (>= the size asked for); 0 for nullptr.
std::size_t heap_usable_size(const void* p) noexcept;

namespace detail {
/// Tell valgrind (TINYALLOC_VALGRIND builds only) that p is the program's:
/// all of its usable size, since malloc_usable_size lets a program use it.
inline void announce(void* p, bool zeroed) noexcept {
  if constexpr (track::kEnabled) {
    if (p != nullptr) track::allocated(p, heap_usable_size(p), zeroed);
  }
}
}  // namespace detail

inline void* heap_malloc(std::size_t size) noexcept {
  void* p = detail::malloc_block(size);
  detail::announce(p, false);
  return p;
}

/// heap_malloc's fast path alone: a block, or nullptr when the slow path
/// must run (heap_malloc then).  For callers with a slow path of their own
/// (operator new's new-handler loop): theirs becomes one tail call, and their
/// fast path needs no stack frame.
inline void* heap_malloc_fast(std::size_t size) noexcept {
  void* p = detail::malloc_fast(size);
  detail::announce(p, false);
  return p;
}

inline void heap_free(void* p) noexcept {
  track::freed(p);
  detail::free_block(p);
}

// The rest of the family (heap.cpp / api.cpp).  Errors set errno as POSIX says.
void* heap_calloc(std::size_t count, std::size_t size) noexcept;
void* heap_realloc(void* p, std::size_t size) noexcept;
/// Any power-of-two alignment; EINVAL otherwise.
void* heap_aligned_alloc(std::size_t alignment, std::size_t size) noexcept;
/// POSIX: EINVAL unless alignment is a power of two multiple of
/// sizeof(void*); ENOMEM on failure; errno untouched.
int heap_posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept;

/// Options, read once from the environment at the first allocation
/// (TINYALLOC_*, see README "Options"), or set by set_options() before it;
/// the environment applies on top of what set_options() gave.
/// Where large blocks' mappings come from (TINYALLOC_LARGE): `regions`, a
/// region cache that splits, coalesces and decays (large::RegionCache, the
/// default); `slots`, the older 64-entry cache (large::CachedMap, kept for
/// ablation); `direct`, mmap/munmap per block (large::DirectMap).  Cached is
/// the default's former name, kept for compatibility (TINYALLOC_LARGE=cached).
enum class LargeStrategy : std::uint8_t { Direct, Regions, Slots, Cached = Regions };
struct Options {
  LargeStrategy large = LargeStrategy::Regions;
  ArenaOptions arena{};
  large::CacheOptions large_cache{};
  /// Return idle memory from a background thread that exists only while
  /// something waits for its purge delay (TINYALLOC_PURGE_THREAD); off, it is
  /// returned by later allocator calls that reach a slow path.  Off by
  /// default in TINYALLOC_VALGRIND builds: memcheck's exit path asserts
  /// that no other thread is alive.
  bool purge_thread = !track::kEnabled;
  bool show_stats = false;  ///< print the statistics table on stderr at exit
  bool verbose = false;     ///< print the options in force at start-up, and rare events once each
};
/// Replace the options; effective only before the first allocation.
/// Returns false if the allocator is already running.
bool set_options(const Options& options) noexcept;
/// The options in force (initialises the allocator if needed).
const Options& options() noexcept;

/// Statistics, merged over every heap on demand: the fast path only bumps a
/// per-thread counter, and only when built with TINYALLOC_STATS (default on).
struct Stats {
  bool counting;                             ///< per-class counts compiled in (TINYALLOC_STATS); else served[] is all 0
  std::uint64_t served[size_class::kCount];  ///< small blocks handed out, per size class
  std::uint64_t small_total;
  const char* large_strategy;  ///< the large strategy in force: "regions", "slots" or "direct"
  large::LargeCounters large;
  large::CacheCounters cache;  ///< the large strategy's cache (all 0 for `direct`)
  ArenaCounters arena;
  region::Counters memory;
  /// Bytes in use by the program: small segments held by thread heaps (live
  /// or abandoned; a segment counts whole, 256 KiB, whatever its blocks) plus
  /// the mappings of live large blocks.  Free pools and the large cache are
  /// not in use.
  std::size_t in_use_small;
  std::size_t in_use_large;
  std::size_t heaps_created;
  std::size_t heaps_reused;  ///< heaps of exited threads a new thread took whole
  std::size_t segments_abandoned;
  std::size_t segments_adopted;  ///< abandoned segments taken over by another heap
  std::size_t peak_rss_kib;
};
void stats_get(Stats& out) noexcept;
/// Give every free page, and the address space pooled for reuse, back to the
/// OS now (malloc_trim): due or not, empty segments and cached large blocks
/// are decommitted and unmapped, and segments of exited threads whose blocks
/// were all freed are reclaimed.  True if anything was released.
bool trim() noexcept;

/// The statistics table, to a file descriptor, or in pieces of whole lines
/// (NUL-terminated) to `write(arg, text)`.  Neither allocates.
void stats_print(int fd) noexcept;
void stats_print(void (*write)(void* arg, const char* text), void* arg) noexcept;

}  // namespace tinyalloc
