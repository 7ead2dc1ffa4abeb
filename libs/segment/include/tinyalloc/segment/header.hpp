// What a masked pointer lands on: the prefix every tinyalloc header shares,
// and the one word that says who owns a segment.
#pragma once

#include <atomic>
#include <cstdint>

#include "tinyalloc/region.hpp"
#include "tinyalloc/segment/block.hpp"

namespace tinyalloc {

struct Heap;  ///< a thread's heap (tinyalloc::heap); opaque at this layer

/// What a masked pointer lands on.
enum class SegmentKind : std::uint8_t { Free = 0, Small = 1, Large = 2 };

/// Flag bits kept in the low bits of the owner word beside the owning heap's
/// address (a Heap is 64-byte aligned).  Any bit set sends free() off the
/// fast path, so the fast path tests one word for equality.
inline constexpr std::uintptr_t kInFull = 1;      ///< on its queue's full list
inline constexpr std::uintptr_t kHasAligned = 2;  ///< some block was handed out at an interior offset
inline constexpr std::uintptr_t kSlowFree = 4;    ///< every free is checked on the slow path (medium blocks' canaries)
inline constexpr std::uintptr_t kFlagMask = 63;
/// The flags that describe the segment's blocks rather than its owner's
/// queues: kept when the segment changes hands.
inline constexpr std::uintptr_t kBlockFlags = kHasAligned | kSlowFree;

/// The prefix shared by every header a masked pointer can land on.
///
/// Ownership states (kind, owner) and the only transitions; every write of
/// `owner_flags` and `kind` goes through the functions named here:
///
///   Free       kind Free,  owner 0   pooled in the arena, or a freed large block
///     Segment::create() + claim(h) -> Owned(h)
///   Owned(h)   kind Small, owner h   h allocates from it and frees into it
///                                    without atomics; others push remote frees
///     set_full(bool), set_aligned(), set_slow_free() -> flags only, by h
///     abandon()                      -> Abandoned  (h's thread exited, blocks live)
///     retire()                       -> Free       (emptied, back to the arena)
///   Abandoned  kind Small, owner 0   every free is a remote free; also a
///                                    segment of one block while the block
///                                    is out (the heap detaches it: on no
///                                    list, its freer retires it)
///     adopt(h)                       -> Owned(h)
///     retire()                       -> Free
///   Large      kind Large, owner 0   a large block's header (become_large())
///     retire()                       -> Free
///
/// Who may call them: the one thread that holds the segment exclusively: its
/// owner, or the thread that popped it from a pool or the abandoned list.
/// Anyone may read the word (free() does, on every call).
///
/// Owner ids are heap addresses, never thread ids: a thread created after
/// fork() may reuse a dead thread's stack and thread pointer, but never its
/// heap, so no thread can be taken for an owner it is not.
struct SegmentBase {
  /// owning heap | flag bits; 0 = no owner.
  std::atomic<std::uintptr_t> owner_flags;
  SegmentKind kind;
  /// The kind before the last retire(): a free into freed memory is
  /// reported with the size class the memory last had.
  SegmentKind retired_kind;
  /// header_cookie(this) while the header is tinyalloc's: a pointer whose
  /// masked address holds anything else was not allocated by tinyalloc.
  std::uint32_t cookie;

  /// The raw word, for the free fast path's one compare.
  std::uintptr_t owner_word() const noexcept { return owner_flags.load(std::memory_order_relaxed); }
  /// The owning heap (nullptr: none); acquire, so a remote free sees the heap
  /// that published the segment.
  Heap* owner() const noexcept {
    return reinterpret_cast<Heap*>(owner_flags.load(std::memory_order_acquire) & ~kFlagMask);
  }
  std::uintptr_t flags() const noexcept { return owner_word() & kFlagMask; }
  bool is_full() const noexcept { return (flags() & kInFull) != 0; }
  bool has_aligned() const noexcept { return (flags() & kHasAligned) != 0; }
  bool cookie_ok() const noexcept { return cookie_matches(this, cookie); }

  // ---- transitions (see the table above) ----
  void claim(Heap* h) noexcept {
    TINYALLOC_ASSERT(kind == SegmentKind::Small && owner_word() == 0);
    set_owner(h, 0);
  }
  void adopt(Heap* h) noexcept {
    TINYALLOC_ASSERT(kind == SegmentKind::Small && owner() == nullptr);
    set_owner(h, flags() & kBlockFlags);
  }
  void abandon() noexcept {
    TINYALLOC_ASSERT(kind == SegmentKind::Small && owner() != nullptr);
    set_owner(nullptr, flags() & kBlockFlags);
  }
  void retire() noexcept {
    TINYALLOC_ASSERT(kind != SegmentKind::Free);
    owner_flags.store(0, std::memory_order_relaxed);
    retired_kind = kind;
    kind = SegmentKind::Free;
  }
  void become_large() noexcept { become(SegmentKind::Large); }
  void set_full(bool on) noexcept { set_flag(kInFull, on); }
  void set_aligned() noexcept { set_flag(kHasAligned, true); }
  void set_slow_free() noexcept { set_flag(kSlowFree, true); }

 protected:
  void become(SegmentKind k) noexcept {
    owner_flags.store(0, std::memory_order_relaxed);
    kind = k;
    cookie = header_cookie(this);
  }

 private:
  void set_owner(Heap* h, std::uintptr_t keep) noexcept {
    TINYALLOC_ASSERT((reinterpret_cast<std::uintptr_t>(h) & kFlagMask) == 0);
    owner_flags.store(reinterpret_cast<std::uintptr_t>(h) | keep, std::memory_order_release);
  }
  void set_flag(std::uintptr_t f, bool on) noexcept {
    const std::uintptr_t v = owner_word();
    owner_flags.store(on ? (v | f) : (v & ~f), std::memory_order_relaxed);
  }
};

}  // namespace tinyalloc
