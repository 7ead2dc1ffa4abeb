// tinyalloc::segment — size-aligned blocks of address space whose header is
// found from any interior pointer by masking the address.
//
// Layer 1: depends on tinyalloc::region and Boost.Intrusive (the hook a queue
// links segments with).  Knows nothing of size classes, heaps or arenas: it
// lays out memory someone else reserved.  The pieces, one concept a file:
//   segment/geometry.hpp    kSegmentSize and the mask
//   segment/grid.hpp        which addresses start a block, without a division
//   segment/config.hpp      build switches (hardened, secure, valgrind)
//   segment/block.hpp       free blocks, encoded links, the process secret
//   segment/header.hpp      SegmentBase: kind, cookie, the owner word and its states
//   segment/segment_map.hpp which windows of the address space are tinyalloc's
//   segment/misuse.hpp      report_misuse: one line naming the misuse, pointer and class
//   segment/track.hpp       valgrind announcements
//
//   +--------------------------+ segment start (256 KiB aligned)
//   | Segment header  (256 B)  |  owner line | remote-free line | arena line
//   +--------------------------+ kFirstBlock
//   | block 0 | block 1 | ...  |  one size class per segment, blocks carved
//   |   ...  bump area  ...    |  lazily from the low end: untouched pages are
//   +--------------------------+  never faulted in
//
// A small segment holds blocks of ONE size class, so there are no pages
// inside a segment: the segment is the unit of "free list sharding".  A large
// block has a LargeHeader (libs/large) in the same place, so `header_of(p)`
// answers for every pointer tinyalloc returns.
//
// The mask is applied to p-1, not p (as mimalloc does): a pointer exactly on a
// segment boundary belongs to the segment BEFORE it.  No small block starts at
// offset 0 (the header is there), and a large block aligned to more than a
// segment puts its header one segment below the user pointer.
#pragma once

#include <atomic>
#include <cstdint>

#include <boost/intrusive/list_hook.hpp>

#include "tinyalloc/region.hpp"
#include "tinyalloc/segment/block.hpp"
#include "tinyalloc/segment/config.hpp"
#include "tinyalloc/segment/geometry.hpp"
#include "tinyalloc/segment/grid.hpp"
#include "tinyalloc/segment/header.hpp"
#include "tinyalloc/segment/misuse.hpp"
#include "tinyalloc/segment/segment_map.hpp"
#include "tinyalloc/segment/track.hpp"

namespace tinyalloc {

/// b, about to be handed out, is on a free list whose link in it does not
/// decode to a block of its segment: it was written after it was freed, or
/// it was freed twice and handed out once already (a pop clears the link of
/// the block it hands out).  Reports that, naming b, and aborts.
[[noreturn]] void report_broken_link(const Block* b) noexcept;

/// A segment's free blocks as the malloc fast path sees them, first in the
/// header so a heap can point at it directly (ClassSlot::current).
///
/// Every free list of a segment ends at the segment's own address, its
/// window's start, where no block ever starts (Segment::list_end): the end
/// lies in the window of every block that links to it, so the pop check is
/// a single test (the link stays in the block's window) with no separate
/// test for the end.  Any address with no offset in its window reads as an
/// end, so nullptr does too (a heap's class with no segment, an empty remote
/// list's head).
struct FreeBlocks {
  Block* free = nullptr;   ///< malloc pops here; a list end when empty. Owner only.
  std::uint32_t used = 0;  ///< blocks out of the owner's hands (incl. remote frees not yet collected). Owner only.
  /// Hardened: the low 32 bits of the addresses of the blocks out, summed
  /// (mod 2^32): pop() adds a block, returned() takes it off.  Owner only.
  /// When `used` reaches 0 with every block back through returned(), it is
  /// 0, unless a block was freed twice while another is still live (free a,
  /// free b, free a): then it is the live block's address minus the twice-
  /// freed one's, never 0 (both lie in one segment).  So an emptied segment
  /// is checked in O(1) instead of by reading every block
  /// (Segment::check_none_live).  Sits in what was padding: no new line.
  /// Its limit: two or more blocks freed twice can cancel out the live ones
  /// (a + e = c + d, with c and d live); the sum then reads 0 and a segment
  /// the class no longer allocates from goes back to the arena with c and d
  /// in it.  The scan this replaced caught that; a nonlinear sum would put a
  /// multiply on both fast paths (PERF_FINDINGS.md, issue 11).
  std::uint32_t out_sum = 0;
  LinkCodec codec{};  ///< set at creation, read-only after

  /// Take the first free block (free != nullptr).  Hardened: the link it
  /// follows must stay inside this segment, and the block's first word is
  /// cleared, so a live block never looks like a free one
  /// (Segment::looks_free) and a block that a free list reaches a second time
  /// (freed twice) is caught when it would be handed out again: its link no
  /// longer decodes.
  Block* pop() noexcept {
    Block* b = free;
    Block* next = codec.decode(b->link);
    // The next malloc of this class reads next's link: start fetching it
    // now (a block freed long ago is usually out of the cache).
    __builtin_prefetch(next);
    if constexpr (kHardened) b->link = 0;
    free = next;
    ++used;
    if constexpr (kHardened) out_sum += low_bits(b);
    // Hardened: the list's end is in b's window too (list_end), so this one
    // test, never taken, is the whole check.  Last, so that it can consume
    // next's register.  (Measured against a precomputed "window key" that
    // saves an instruction: slower, as it puts a second op on the chain the
    // next pop waits for.)
    if (kHardened && __builtin_expect(!same_window(next, b), 0)) report_broken_link(b);
    return b;
  }

  /// The owner has `b` back (its own free, or another thread's it collected
  /// one by one): one block fewer out.  True when none is out any more.
  bool returned(const Block* b) noexcept {
    if constexpr (kHardened) out_sum -= low_bits(b);
    return --used == 0;
  }

  static std::uint32_t low_bits(const Block* b) noexcept {
    return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(b));
  }

  /// `b` ends a free list: nullptr or a window's start (no block starts there).
  static bool is_end(const Block* b) noexcept { return (reinterpret_cast<std::uintptr_t>(b) & kSegmentMask) == 0; }
  bool empty() const noexcept { return is_end(free); }
};

/// Header of a small-block segment.
///
/// Three free lists ("free list sharding", after mimalloc), each with one job:
///   blocks.free — the owner allocates from it; never written by anyone else.
///   local_free  — the owner's own frees go here, not onto `free`, so the
///                 malloc fast path never sees a list that free() is growing
///                 and the owner can tell "something was freed" cheaply.
///   thread_free — frees from other threads, pushed with CAS, taken whole by
///                 the owner with one CAS.  The head pointer, a count of the
///                 blocks on it and the hand-off state share one atomic word,
///                 so collecting never walks the list.
///
/// Hand-off (after mimalloc's "delayed free"): while a segment sits on its
/// queue's full list the owner never looks at it, so a remote free into it
/// must tell the owner.  The owner moves a segment to `full` only with
/// enter_full(), which atomically checks that no remote free is pending and
/// sets the state HandOff.  The next remote free then wins the state
/// (HandingOff), pushes its block onto the owner HEAP's hand-off list
/// instead, and ends with end_hand_off() (state Normal: later remote frees
/// go to the segment's own list, which the owner reaches once it has
/// processed the handed-off block and moved the segment back).  The owner
/// thus learns of remote frees into full segments without ever scanning
/// them.  While a freer is HandingOff it reads the owner; stop_hand_offs()
/// waits that out, so a heap that gives its segments away at thread exit
/// receives no hand-off afterwards.
/// Invariant (check()): used == extended - |free| - |local_free|, and the
/// remote count is at most `used`; hardened, while out_sum_exact and no
/// remote free waits, blocks.out_sum is the carved blocks' sum less that of
/// those on free and local_free.
class Segment : public SegmentBase {
 public:
  // ---- owner line: written only by the owning thread -------------------
  // Everything the free fast path reads (owner word, blocks.used and the
  // codec, local_free, the grid) lies in the header's first 64 bytes: one
  // cache line per free.
  FreeBlocks blocks;
  Block* local_free;
  BlockGrid grid;  ///< which addresses start a carved block (is_block_start); grows as extend() carves
  // ---- second line, still the owner's ----
  std::uint32_t block_size;
  std::uint32_t extended;  ///< blocks carved from the bump area so far
  std::uint32_t capacity;  ///< blocks that fit after the header (1 if it spans several windows)
  std::uint8_t size_class;
  std::uint8_t windows;  ///< 256 KiB windows it spans: span_windows(block_size), or more (a borrowed span)
  bool free_is_zero;     ///< blocks on blocks.free are fresh zero memory (but for their first word)
  bool bump_is_zero;     ///< the never-carved tail reads as zero
  /// blocks.out_sum is exact: every block came back through returned() since
  /// the segment was last carved from its start.  False once a remote list
  /// is taken whole (take_thread_free: its blocks are counted, not summed).
  bool out_sum_exact;
  /// Bytes from the span's start that earlier segments in the same memory
  /// may have made resident since it was last decommitted or carved (0 for
  /// clean or fresh memory): the arena pools a released span by what it
  /// holds resident (reach()), so the next class takes one that fits it.
  std::uint32_t reached;
  /// Link in the owner heap's per-class queue, or in an overflow list.
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> queue_hook;

  // ---- remote line: written by other threads --------------------------
  alignas(64) std::atomic<std::uint64_t> thread_free;
  /// Hardened builds: the block the last hand-off gave the owner heap, until
  /// the owner collects it (collect_hand_off); nullptr otherwise.  Written by
  /// the freer that hands off (end_hand_off) and by the owner; read by every
  /// free of a block of this segment (awaits_owner), on this line, which a
  /// remote free reads anyway: such a block is free, but its first word is
  /// the heap's hand-off link, which does not look free (looks_free).
  std::atomic<Block*> handed_off_block;

  // ---- last line: the arena's while pooled, the medium blocks' while in use --
  alignas(64) std::uint64_t released_at_ms;  ///< when it went back to the arena (for delayed purge)
  /// Bytes the program asked for, per block (by block_index), in segments
  /// whose every free takes the slow path (kSlowFree: medium classes): the
  /// place of the block's canary, and 0 while the block is free.  Written by
  /// the owner when it hands a block out, and set to 0 by whoever frees it.
  std::uint32_t requested[kMaxTrackedBlocks];

  /// The header of whatever tinyalloc block `p` points into.
  static SegmentBase* header_of(const void* p) noexcept {
    return reinterpret_cast<SegmentBase*>((reinterpret_cast<std::uintptr_t>(p) - 1) & ~kSegmentMask);
  }
  /// The segment of a pointer known to be a small block.
  static Segment* of(const void* p) noexcept { return static_cast<Segment*>(header_of(p)); }
  static Segment* of(const FreeBlocks* f) noexcept { return of(static_cast<const void*>(f)); }

  /// Make a fresh, ownerless segment for `size_class` (block_size bytes) at
  /// `memory`, a span of `windows` windows (0: span_windows(block_size); a
  /// longer span holds one block, in its first window).  `zero`: the memory
  /// past the header is known to read as zero.  `guard`: no block reaches
  /// into the span's last page (guard_page()), which the caller may protect.
  /// `reached`: what the memory's earlier segments reached (Arena::Grant).
  static Segment* create(void* memory, std::uint8_t size_class, std::uint32_t block_size, bool zero, bool guard = false,
                         std::size_t windows = 0, std::size_t reached = 0) noexcept;

  /// Bytes from the span's start its blocks may have made resident, this
  /// segment's and the earlier ones' in the same memory: up to the end of
  /// its last carved block.
  std::size_t reach() const noexcept {
    const std::size_t own = kFirstBlock + std::size_t{extended} * block_size;
    return own > reached ? own : reached;
  }

  /// The span's last page (a guard page if created with `guard`).
  char* guard_page() noexcept {
    return reinterpret_cast<char*>(this) + std::size_t{windows} * kSegmentSize - region::page_size();
  }

  char* first_block() noexcept { return reinterpret_cast<char*>(this) + kFirstBlock; }
  const char* first_block() const noexcept { return reinterpret_cast<const char*>(this) + kFirstBlock; }
  /// Where this segment's free lists end (FreeBlocks): its own address.
  Block* list_end() noexcept { return reinterpret_cast<Block*>(this); }

  /// Start of the block that contains `p` (for blocks handed out at an offset).
  Block* block_start(const void* p) noexcept {
    const std::size_t off = static_cast<std::size_t>(static_cast<const char*>(p) - first_block());
    return reinterpret_cast<Block*>(first_block() + off - off % block_size);
  }
  /// The index of the block that starts at p (is_block_start(p)).
  std::size_t block_index(const void* p) noexcept {
    return static_cast<std::size_t>(static_cast<const char*>(p) - first_block()) / block_size;
  }
  /// p (an address of the segment's first window) is the start of one of
  /// its carved blocks (grid.hpp: a mask, one multiply, one compare).  For
  /// the owner (the thread that carves).
  bool is_block_start(const void* p) const noexcept { return grid.starts_block(p); }
  /// The same, for any thread: a thread holds only blocks carved before it
  /// got them.
  bool is_block_start_shared(const void* p) const noexcept { return grid.starts_block_shared(p); }

  /// Owner's free: onto local_free.
  void push_local(Block* b) noexcept {
    b->link = blocks.codec.encode(local_free);
    local_free = b;
  }
  /// b's first word decodes to a plausible free-list link: b is probably on
  /// a free list (live blocks have that word cleared or overwritten by the
  /// user, and user data decodes to garbage).  Cheap; confirm with holds_free.
  bool looks_free(const Block* b) const noexcept {
    const Block* d = blocks.codec.decode(track::peek(&b->link));
    return same_window(d, b);  // the list's end is in b's window too
  }
  /// b is free: on one of this segment's free lists, or past its carved
  /// blocks (walks the lists: owner only, and only to confirm a suspected
  /// double free).
  bool holds_free(const Block* b) const noexcept;
  /// The first carved block that does not look free, or nullptr.  Asked of
  /// a segment whose every block came back (all_returned()) before it leaves
  /// its heap: a block found then is still the program's, so the count was
  /// wrong: some block was freed twice with others in between, which no free
  /// fast path sees (or a free block was written).  Without this the
  /// segment would go back to the arena, and a live block with it, to be
  /// handed out again or decommitted.  One load per carved block, in address
  /// order; at most once per segment's turn with a class.
  const Block* live_block() const noexcept;
  /// Abort with a report if a block is still live in a segment whose every
  /// block came back: at once from blocks.out_sum when it is exact and no
  /// remote free is pending (one thread's blocks: the common case), else by
  /// live_block().
  void check_none_live() const noexcept;

  /// Refill blocks.free when it is empty, cheapest source first: the owner's
  /// own frees, then other threads' frees, then fresh blocks from the bump
  /// area.  A segment whose blocks other threads all freed is carved again
  /// from its start (hardened: after check_none_live() if the owner freed
  /// some of them, see refill()).  Returns false if the segment has no free
  /// block at all.
  bool refill() noexcept;

  /// Move local_free onto an empty blocks.free (owner only).
  bool take_local() noexcept;
  /// Take every block other threads freed onto an empty blocks.free;
  /// adjusts `used`.  Owner only.
  bool take_thread_free() noexcept;

  /// A free from a thread that is not the owner.  Pushed: b is on this
  /// segment's remote list (and the segment may be recycled from then on: do
  /// not touch it again).  HandOff: b was NOT pushed; the caller must put it
  /// on owner()'s hand-off list, then call end_hand_off().
  enum class RemoteFree { Pushed, HandOff };
  RemoteFree push_thread_free(Block* b) noexcept;
  /// The freer has pushed `handed` onto the owner heap's hand-off list.
  void end_hand_off(Block* handed) noexcept;
  /// Hardened: b was handed off and the owner has not collected it, so it
  /// is free (a second free of it is a double free).
  bool awaits_owner(const Block* b) const noexcept { return handed_off_block.load(std::memory_order_relaxed) == b; }

  /// Owner, before moving the segment to its full list: false (and nothing
  /// changed) if a remote free arrived since the last take; otherwise the
  /// next remote free is handed off to the owner heap.
  bool enter_full() noexcept;
  /// Owner, moving the segment back from its full list.
  void leave_full() noexcept;
  /// Owner, at thread exit: no hand-off is in progress or can start when
  /// this returns (waits out a freer that is HandingOff).
  void stop_hand_offs() noexcept;
  /// Owner, before freeing the block handed off from this segment: waits
  /// until the freer that handed it off has finished with the segment (it
  /// pushes the block, then ends the hand-off; until then the owner must not
  /// free it, or the segment could be recycled under the freer), and takes
  /// the block back from awaits_owner().
  void collect_hand_off() noexcept;

  bool has_thread_free() const noexcept;
  /// Every block is back: nothing allocated, nothing in flight.
  bool is_unused() const noexcept { return blocks.used == 0; }
  /// Every block is back, counting the remote frees not yet taken: one
  /// atomic load, no walk of the remote list (which then need not be taken:
  /// the segment is about to be recycled, and no remote free can arrive
  /// once no block is live).  For the thread that holds the segment.
  bool all_returned() const noexcept;

  /// Verify the invariants above (walks every list: for tests and
  /// TINYALLOC_ASSERT, by the thread that holds the segment).
  bool check() const noexcept;

 private:
  bool extend() noexcept;
  /// Returns once no freer is HandingOff.
  void wait_hand_off() noexcept;
};

static_assert(sizeof(Segment) <= kFirstBlock, "segment header must fit before the first block");

/// Packing of Segment::thread_free: block address in the low 47 bits (user
/// space on x86-64/aarch64 with 4-level tables) of which the lowest 2 (zero
/// in a block address: blocks are 8-aligned) hold the hand-off state, block
/// count in the top 17.
namespace thread_free_word {
inline constexpr unsigned kCountShift = 47;
inline constexpr std::uint64_t kStateMask = 3;
inline constexpr std::uint64_t kPtrMask = ((std::uint64_t{1} << kCountShift) - 1) & ~kStateMask;
enum State : std::uint64_t { kNormal = 0, kHandOff = 1, kHandingOff = 2 };
inline Block* head(std::uint64_t w) noexcept { return reinterpret_cast<Block*>(w & kPtrMask); }
inline std::uint32_t count(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> kCountShift); }
inline std::uint64_t state(std::uint64_t w) noexcept { return w & kStateMask; }
inline std::uint64_t make(Block* b, std::uint32_t n, std::uint64_t st) noexcept {
  return reinterpret_cast<std::uint64_t>(b) | (std::uint64_t{n} << kCountShift) | st;
}
inline std::uint64_t with_state(std::uint64_t w, std::uint64_t st) noexcept { return (w & ~kStateMask) | st; }
}  // namespace thread_free_word

static_assert((kSegmentSize - kFirstBlock) / 8 < (1u << (64 - thread_free_word::kCountShift)),
              "remote-free count must hold a whole segment of the smallest blocks");

// Inline: every remote free() runs it.
inline Segment::RemoteFree Segment::push_thread_free(Block* b) noexcept {
  using namespace thread_free_word;
  std::uint64_t old = thread_free.load(std::memory_order_relaxed);
  for (;;) {
    if (state(old) == kHandOff) {
      // The owner is not looking at this segment: hand the block to its heap.
      if (thread_free.compare_exchange_weak(old, with_state(old, kHandingOff), std::memory_order_acq_rel,
                                            std::memory_order_relaxed))
        return RemoteFree::HandOff;
      continue;
    }
    Block* next = head(old);
    b->link = blocks.codec.encode(next != nullptr ? next : list_end());
    if (thread_free.compare_exchange_weak(old, make(b, count(old) + 1, state(old)), std::memory_order_acq_rel,
                                          std::memory_order_relaxed))
      return RemoteFree::Pushed;
  }
}

}  // namespace tinyalloc
