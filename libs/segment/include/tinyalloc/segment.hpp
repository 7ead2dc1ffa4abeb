// tinyalloc::segment — size-aligned blocks of address space whose header is
// found from any interior pointer by masking the address.
//
// Layer 1: depends on tinyalloc::region (memory for the segment map) and
// Boost.Intrusive (the hook a queue links segments with).  Knows nothing of
// size classes, heaps or arenas: it lays out memory someone else reserved.
//
// Geometry (the one number the whole allocator is built around):
//
//   kSegmentSize = 256 KiB, and every segment starts at a multiple of it.
//
//   +--------------------------+ segment start (256 KiB aligned)
//   | Segment header  (256 B)  |  owner fields | remote-free line | arena line
//   +--------------------------+ kFirstBlock
//   | block 0 | block 1 | ...  |  one size class per segment, blocks carved
//   |   ...  bump area  ...    |  lazily from the low end: untouched pages are
//   +--------------------------+  never faulted in
//
//   A small segment holds blocks of ONE size class, so there are no pages
//   inside a segment: the segment is the unit of "free list sharding".  Small
//   segments keep the lists short and let a purge return whole segments.
//   A large block has a LargeHeader (libs/large) in the same place, so
//   `header_of(p)` answers for every pointer tinyalloc returns.
//
// The mask is applied to p-1, not p (as mimalloc does): a pointer exactly on a
// segment boundary belongs to the segment BEFORE it.  No small block starts at
// offset 0 (the header is there), and a large block aligned to more than a
// segment puts its header one segment below the user pointer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/intrusive/list_hook.hpp>

namespace tinyalloc {

inline constexpr std::size_t kSegmentShift = 18;
inline constexpr std::size_t kSegmentSize = std::size_t{1} << kSegmentShift;
inline constexpr std::uintptr_t kSegmentMask = kSegmentSize - 1;
inline constexpr std::size_t kFirstBlock = 256;  // header size, multiple of 16

/// What a masked pointer lands on.
enum class SegmentKind : std::uint8_t { Free = 0, Small = 1, Large = 2 };

/// Bits kept in the low bits of `owner_flags` beside the owner's thread id
/// (a thread pointer, aligned to at least 64).  Any bit set sends free() off
/// the fast path, so the fast path tests one word for equality.
inline constexpr std::uintptr_t kInFull = 1;      // segment is on its queue's full list
inline constexpr std::uintptr_t kHasAligned = 2;  // some block was handed out at an interior offset
inline constexpr std::uintptr_t kFlagMask = 63;

// Hardening (default on; -DTINYALLOC_HARDENED=0 removes it): free-list links
// are encoded, every pop checks the link it follows, and free() checks that
// the pointer is a block start and not already free.  See PERF_FINDINGS.md
// for its measured cost.
#ifndef TINYALLOC_HARDENED
#define TINYALLOC_HARDENED 1
#endif
inline constexpr bool kHardened = TINYALLOC_HARDENED != 0;
// Checked free (-DTINYALLOC_CHECKED_FREE=1, implies hardened): the owner's
// free fast path also verifies the pointer against the segment map, the
// block grid and the free lists, catching delayed double frees and foreign
// or interior pointers that the default build only catches on slow paths.
#ifndef TINYALLOC_CHECKED_FREE
#define TINYALLOC_CHECKED_FREE 0
#endif
inline constexpr bool kCheckedFree = kHardened && TINYALLOC_CHECKED_FREE != 0;

// Valgrind (-DTINYALLOC_VALGRIND=1): blocks are announced to memcheck with
// client requests, so it reports a program's leaks and use-after-free with
// tinyalloc as the allocator.  A freed block is no-access to the program but
// for its first word, the free-list link tinyalloc itself reads and writes.
#ifndef TINYALLOC_VALGRIND
#define TINYALLOC_VALGRIND 0
#endif
}  // namespace tinyalloc
#if TINYALLOC_VALGRIND
#include <valgrind/memcheck.h>
#endif
namespace tinyalloc::track {
inline constexpr bool kEnabled = TINYALLOC_VALGRIND != 0;
/// p (n bytes) was handed to the program.
inline void allocated([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n,
                      [[maybe_unused]] bool zeroed) noexcept {
#if TINYALLOC_VALGRIND
  if (p != nullptr) VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
#endif
}
/// The program gave p back.
inline void freed([[maybe_unused]] const void* p) noexcept {
#if TINYALLOC_VALGRIND
  if (p != nullptr) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_DEFINED(p, sizeof(std::uintptr_t));
  }
#endif
}
/// Memory that is the allocator's again (a recycled segment's blocks).
inline void reclaimed([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
#if TINYALLOC_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}
}  // namespace tinyalloc::track
namespace tinyalloc {

/// A free block: the link to the next free block lives inside the block,
/// encoded (LinkCodec), so a use-after-free write of a chosen address decodes
/// to garbage, which the pop check refuses instead of handing it out.
struct Block {
  std::uintptr_t link;
};

/// Per-segment key for free-list links (the idea of mimalloc's encoded free
/// list, in its cheapest form: one XOR each way).  The key derives from a
/// process secret and the segment's address, so a program that writes an
/// address into a freed block without first reading one out cannot choose
/// where the list leads; the pop check then refuses the garbage.
struct LinkCodec {
  std::uintptr_t key = 0;
  std::uintptr_t encode(const Block* next) const noexcept {
    return reinterpret_cast<std::uintptr_t>(next) ^ (kHardened ? key : 0);
  }
  Block* decode(std::uintptr_t link) const noexcept {
    return reinterpret_cast<Block*>(link ^ (kHardened ? key : 0));
  }
};

/// Both addresses lie in the same segment-sized window.
inline bool same_window(const void* a, const void* b) noexcept {
  return ((reinterpret_cast<std::uintptr_t>(a) ^ reinterpret_cast<std::uintptr_t>(b)) >> kSegmentShift) == 0;
}

/// Misuse reports: one line on stderr naming the pointer, then abort().
[[noreturn]] void report_misuse(const char* what, const void* p) noexcept;

/// The prefix shared by every header a masked pointer can land on.
struct SegmentBase {
  /// owner thread id | flag bits.  Written by the owner (or by the thread that
  /// adopts an abandoned segment); read by every thread that frees into it.
  /// 0 = no owner: pooled, abandoned or large.
  std::atomic<std::uintptr_t> owner_flags;
  SegmentKind kind;
  /// header_cookie(this) while the header is tinyalloc's: a pointer whose
  /// masked address holds anything else was not allocated by tinyalloc.
  std::uint32_t cookie;
};

/// Which segment-sized windows of the address space hold a tinyalloc header:
/// one bit per 256 KiB window, in a bitmap reserved once (64 MiB of address
/// space for 47-bit user space, touched only where tinyalloc has memory).
/// free() consults it before reading a header, so a pointer from another
/// allocator, the stack or an unmapped page is reported instead of followed.
/// Marking is an atomic OR (slow paths); the test is two loads.
namespace segment_map {
inline constexpr unsigned kAddressBits = 47;
extern std::atomic<std::uint64_t*> g_bits;
/// Mark (or clear) every window that starts in [p, p + bytes).  False if the
/// map could not be reserved.
bool mark(const void* p, std::size_t bytes, bool on) noexcept;
/// The window holding header_of(p) is tinyalloc's.
inline bool contains(const void* p) noexcept {
  const std::uintptr_t w = (reinterpret_cast<std::uintptr_t>(p) - 1) >> kSegmentShift;
  const std::uint64_t* bits = g_bits.load(std::memory_order_relaxed);
  if (bits == nullptr || w >= (std::uintptr_t{1} << (kAddressBits - kSegmentShift))) return false;
  return (__atomic_load_n(&bits[w >> 6], __ATOMIC_RELAXED) >> (w & 63)) & 1;
}
}  // namespace segment_map

/// A secret drawn once per process (getrandom), never 0.
std::uint64_t process_secret() noexcept;
/// The cookie a tinyalloc header at `header` carries.
std::uint32_t header_cookie(const void* header) noexcept;

/// The part of a segment the malloc fast path touches, first in the header so
/// a heap can point at it directly (see Heap::current).
struct AllocFront {
  Block* free = nullptr;   ///< malloc pops here. Owner only.
  std::uint32_t used = 0;  ///< blocks out of the owner's hands (incl. remote frees not yet collected). Owner only.
  LinkCodec codec{};       ///< set at creation, read-only after

  /// Take the first free block (free != nullptr).  Hardened: the link it
  /// follows must stay inside this segment, and the block's first word is
  /// cleared, so a live block never looks like a free one (Segment::looks_free).
  Block* pop() noexcept {
    Block* b = free;
    Block* next = codec.decode(b->link);
    if constexpr (kHardened) {
      if (__builtin_expect(next != nullptr && !same_window(next, b), 0))
        report_misuse("free list corrupted (a freed block was written to?) at", b);
      b->link = 0;
    }
    free = next;
    ++used;
    return b;
  }
};

/// Header of a small-block segment.
///
/// Three free lists ("free list sharding", after mimalloc), each with one job:
///   front.free  — the owner allocates from it; never written by anyone else.
///   local_free  — the owner's own frees go here, not onto `free`, so the
///                 malloc fast path never sees a list that free() is growing
///                 and the owner can tell "something was freed" cheaply.
///   thread_free — frees from other threads, pushed with CAS, taken whole by
///                 the owner with one exchange.  The head pointer and a count
///                 of the blocks on it share one atomic word, so collecting
///                 never walks the list.
class Segment : public SegmentBase {
 public:
  // ---- owner line: written only by the owning thread -------------------
  AllocFront front;
  Block* local_free;
  std::uint32_t block_size;
  std::uint32_t capacity;  ///< blocks that fit after the header
  std::uint64_t start_magic;  ///< ceil(2^64 / block_size): divisibility test in is_block_start_fast()
  std::uint32_t extended;  ///< blocks carved from the bump area so far
  std::uint8_t size_class;
  bool free_is_zero;  ///< blocks on front.free are fresh zero memory (but for their first word)
  bool bump_is_zero;  ///< the never-carved tail reads as zero
  /// Link in the owner heap's per-class queue, or in an arena overflow list.
  boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>
      queue_hook;

  // ---- remote line: written by other threads --------------------------
  alignas(64) std::atomic<std::uint64_t> thread_free;
  /// The owner heap, so a remote free can tell it "collect me" (opaque here).
  /// Set before the owner collects, read after a remote push; null if abandoned.
  std::atomic<void*> heap;

  // ---- arena line: written by whoever holds the segment in a pool --------
  alignas(64) std::uint64_t released_at_ms;  ///< when it went back to the arena (for delayed purge)

  /// The header of whatever tinyalloc block `p` points into.
  static SegmentBase* header_of(const void* p) noexcept {
    return reinterpret_cast<SegmentBase*>((reinterpret_cast<std::uintptr_t>(p) - 1) & ~kSegmentMask);
  }
  /// The segment of a pointer known to be a small block.
  static Segment* of(const void* p) noexcept { return static_cast<Segment*>(header_of(p)); }
  static Segment* of(const AllocFront* f) noexcept { return of(static_cast<const void*>(f)); }

  /// Make a fresh segment for `size_class` (block_size bytes) at `memory`.
  /// `zero`: the memory past the header is known to read as zero.
  static Segment* create(void* memory, std::uint8_t size_class, std::uint32_t block_size,
                         bool zero) noexcept;


  char* first_block() noexcept { return reinterpret_cast<char*>(this) + kFirstBlock; }

  /// Start of the block that contains `p` (for blocks handed out at an offset).
  Block* block_start(const void* p) noexcept {
    const std::size_t off = static_cast<std::size_t>(static_cast<const char*>(p) - first_block());
    return reinterpret_cast<Block*>(first_block() + off - off % block_size);
  }
  /// True if `p` is the start of a block in this segment's grid.  Any
  /// thread may ask: it reads only fields fixed at creation (not `extended`,
  /// which the owner writes as it carves).
  bool is_block_start(const void* p) const noexcept;
  /// Cheap form for the free fast path: p is past the header and a whole
  /// number of blocks from the first (a multiply, no division).
  bool is_block_start_fast(const void* p) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const auto rel = static_cast<std::uint32_t>(a - reinterpret_cast<std::uintptr_t>(this) - kFirstBlock);
    return (a & kSegmentMask) >= kFirstBlock && std::uint64_t{rel} * start_magic <= start_magic - 1;
  }

  /// Owner's free: onto local_free.
  void push_local(Block* b) noexcept {
    b->link = front.codec.encode(local_free);
    local_free = b;
  }
  /// b's first word decodes to a plausible free-list link: b is probably on
  /// a free list (live blocks have that word cleared or overwritten by the
  /// user, and user data decodes to garbage).  Cheap; confirm with holds_free.
  bool looks_free(const Block* b) const noexcept {
    const Block* d = front.codec.decode(b->link);
    return d == nullptr || same_window(d, b);
  }
  /// b is on one of this segment's free lists (walks them: owner only, and
  /// only to confirm a suspected double free).
  bool holds_free(const Block* b) const noexcept;

  // ---- owner operations -----------------------------------------------
  std::uintptr_t owner() const noexcept {
    return owner_flags.load(std::memory_order_relaxed) & ~kFlagMask;
  }
  std::uintptr_t flags() const noexcept {
    return owner_flags.load(std::memory_order_relaxed) & kFlagMask;
  }
  void set_flag(std::uintptr_t f, bool on) noexcept {
    const std::uintptr_t v = owner_flags.load(std::memory_order_relaxed);
    owner_flags.store(on ? (v | f) : (v & ~f), std::memory_order_relaxed);
  }
  bool is_full() const noexcept { return (flags() & kInFull) != 0; }

  /// Refill front.free when it is empty, cheapest source first: the owner's
  /// own frees, then other threads' frees, then fresh blocks from the bump
  /// area.  Returns false if the segment has no free block at all.
  bool refill() noexcept;

  /// Move local_free onto an empty front.free (owner only).
  bool take_local() noexcept;
  /// Take every block other threads freed; adjusts `used`.  Owner only.
  bool take_thread_free() noexcept;

  /// A free from a thread that is not the owner.  Returns true if the remote
  /// list was empty before, i.e. the owner may need to be told.
  bool push_thread_free(Block* b) noexcept;

  bool has_thread_free() const noexcept {
    return thread_free.load(std::memory_order_relaxed) != 0;
  }
  /// Every block is back: nothing allocated, nothing in flight.
  bool is_unused() const noexcept { return front.used == 0; }

 private:
  bool extend() noexcept;
};

static_assert(sizeof(Segment) <= kFirstBlock, "segment header must fit before the first block");

/// Packing of Segment::thread_free: block address in the low 47 bits (user
/// space on x86-64/aarch64 with 4-level tables), block count in the top 17.
namespace thread_free_word {
inline constexpr unsigned kCountShift = 47;
inline constexpr std::uint64_t kPtrMask = (std::uint64_t{1} << kCountShift) - 1;
inline Block* head(std::uint64_t w) noexcept { return reinterpret_cast<Block*>(w & kPtrMask); }
inline std::uint32_t count(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> kCountShift); }
inline std::uint64_t make(Block* b, std::uint32_t n) noexcept {
  return reinterpret_cast<std::uint64_t>(b) | (std::uint64_t{n} << kCountShift);
}
}  // namespace thread_free_word

static_assert((kSegmentSize - kFirstBlock) / 8 < (1u << (64 - thread_free_word::kCountShift)),
              "remote-free count must hold a whole segment of the smallest blocks");

}  // namespace tinyalloc
