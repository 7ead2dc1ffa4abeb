// free()'s slow paths and the pointer classifier they share with realloc and
// malloc_usable_size.
#include <cstdio>

#include "canary.hpp"
#include "classify.hpp"
#include "heap_internal.hpp"
#include "large_checks.hpp"
#include "purge.hpp"

namespace tinyalloc::detail {
namespace {

[[noreturn]] void misuse(const char* call, const char* what, const void* p, MisusedBlock block) noexcept {
  char line[200];
  std::snprintf(line, sizeof line, "%s: %s", call, what);
  report_misuse(line, p, block);
}

MisusedBlock class_of(const Segment* s) noexcept { return MisusedBlock::of_class(s->block_size); }

/// p points inside a block of s, not where the block was handed out.
[[noreturn]] void inside_a_block(const char* call, const Segment* s, const void* p) noexcept {
  const std::size_t grain = s->block_size < 16 ? s->block_size : 16;  // every block start is aligned to it
  misuse(call,
         reinterpret_cast<std::uintptr_t>(p) % grain != 0 ? "unaligned pointer (not the start of a block):"
                                                          : "interior pointer (not the start of a block):",
         p, class_of(s));
}

/// p is not a block of s that is in use: say which way.  `start`: where the
/// block p points into starts (p itself, but in segments with aligned blocks,
/// which hand out addresses inside their blocks).
[[noreturn]] void not_a_block_start(const char* call, const Segment* s, const void* p, const void* start) noexcept {
  // A block start past the carved blocks: no block there is in use (a late
  // double free of a block from the memory's earlier life, most likely).
  if (same_window(start, s) && start >= s->first_block() && s->grid.on_grid(start))
    misuse(call, "double free (no block at this address is in use: its segment has not carved it since) of", p,
           class_of(s));
  inside_a_block(call, s, p);
}

/// In a segment with aligned blocks, the addresses handed out inside block b
/// are b itself (malloc) and align_up(b, A) for a power of two A
/// (aligned_alloc).  p is the latter exactly when it lies less than its own
/// alignment (its lowest set bit) past b.
bool handed_out_in(const Block* b, const void* p) noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  return at - reinterpret_cast<std::uintptr_t>(b) < (at & (~at + 1));
}

/// What a report of a pointer into memory that is no longer in use names: the
/// size class or large block it last was.
MisusedBlock freed_block(const SegmentBase* header, const void* p) noexcept {
  switch (header->retired_kind) {
    case SegmentKind::Small:
      return class_of(static_cast<const Segment*>(header));
    case SegmentKind::Large:
      return MisusedBlock::large(large::usable_size(p));
    default:
      return MisusedBlock::none();
  }
}

bool owned_here(std::uintptr_t word) noexcept {
  return (word & ~kFlagMask) == reinterpret_cast<std::uintptr_t>(tl_heap);
}

// After a free that went back to its owner's local list.
void local_free_done(Segment* s) noexcept {
  if (s->is_unused()) segment_emptied(s);
}

LiveBlock classify_large(SegmentBase* header, const void* p, const char* call) noexcept {
  if (!large::is_block_start(p))
    misuse(call, "interior pointer (not the start of a large block):", p, MisusedBlock::large(large::usable_size(p)));
  std::size_t asked = 0;
  if constexpr (kCanaries) {
    asked = large::header_of(p)->requested;
    if (!large_checks::canary_intact(p))
      misuse(call, "heap overflow: written past the end of the block (its canary changed):", p,
             MisusedBlock::large(asked));
  }
  return LiveBlock{header, nullptr, 0, asked};
}

/// p is not in tinyalloc's memory.
[[noreturn]] void not_ours(const char* call, const void* p) noexcept {
  // A large block's window leaves the map when it is freed.
  if (const std::size_t n = large_checks::freed_size(p))
    misuse(call, "double free (its memory is no longer in use) of", p, MisusedBlock::large(n));
  misuse(call, "invalid pointer (not allocated by tinyalloc):", p, MisusedBlock::none());
}

}  // namespace

void free_foreign(const void* p) noexcept { not_ours("free()", p); }

LiveBlock classify(const void* p, const char* call) noexcept {
  // Hardened: the block's first word is read below (looks_free): start
  // fetching its line while the header is checked (a prefetch never faults).
  // A read prefetch, as GCC emits for x86-64 without -mprfchw even when asked
  // for a write; a real PREFETCHW measured the same (PERF_FINDINGS.md, "the
  // remote free's miss").
  if constexpr (kHardened) __builtin_prefetch(p);
  SegmentBase* header = Segment::header_of(p);
  if (!segment_map::contains(p) || !header->cookie_ok()) not_ours(call, p);
  switch (header->kind) {
    case SegmentKind::Large:
      return classify_large(header, p, call);
    case SegmentKind::Small:
      break;
    default:
      misuse(call, "double free (its memory is no longer in use) of", p, freed_block(header, p));
  }
  Segment* s = static_cast<Segment*>(header);
  const std::uintptr_t word = s->owner_flags.load(std::memory_order_acquire);
  Block* b;
  if ((word & kHasAligned) != 0) {
    if (!same_window(p, s) || static_cast<const char*>(p) < s->first_block()) not_a_block_start(call, s, p, p);
    b = s->block_start(p);
    if (!handed_out_in(b, p)) inside_a_block(call, s, p);
  } else {
    b = static_cast<Block*>(const_cast<void*>(p));
  }
  if (!s->is_block_start_shared(b)) not_a_block_start(call, s, p, b);
  std::size_t asked = 0;
  if (kCanaries && (word & kSlowFree) != 0) {
    // A medium block: its recorded size says whether it is live, exactly.
    asked = s->requested[s->block_index(b)];
    if (asked == 0) misuse(call, "double free of", p, class_of(s));
    if (!canary_intact(b, asked, reinterpret_cast<char*>(b) + s->block_size))
      misuse(call, "heap overflow: written past the end of the block (its canary changed):", p, class_of(s));
  } else if (kHardened && s->looks_free(b) && (!owned_here(word) || s->holds_free(b))) {
    // A block whose first word decodes to a link is free.  The owner confirms
    // by walking its lists (live data can look like a link); another thread
    // cannot walk them, and takes the encoded word's word for it.
    misuse(call, "double free of", p, class_of(s));
  } else if (kHardened && s->awaits_owner(b)) {
    misuse(call, "double free (another thread freed it into its full segment: it waits for its owner) of", p,
           class_of(s));
  }
  return LiveBlock{header, b, word, asked};
}

void free_suspect(Segment* s, Block* b) noexcept {
  if (!s->is_block_start(b)) not_a_block_start("free()", s, b, b);
  if (s->holds_free(b)) misuse("free()", "double free of", b, class_of(s));
  if constexpr (kSecure) std::memset(b, 0, s->block_size);
  s->push_local(b);  // a live block whose first word happened to look like a link
  s->blocks.returned(b);
  local_free_done(s);
}

void free_owned(Heap* h, Segment* s, Block* b) noexcept {
  s->push_local(b);
  s->blocks.returned(b);
  if (s->is_full()) {
    h->queues[s->size_class].mark_available(*s);
    set_current(h, s->size_class);
  }
  if (s->is_unused()) segment_emptied(h, s);
}

namespace {
/// b (of s) was not pushed: the owner files s as full, so give the block to
/// its heap.  The owner cannot change while the hand-off is in progress
/// (stop_hand_offs).
[[gnu::noinline]] void hand_off(Segment* s, Block* b) noexcept {
  Heap* owner = s->owner();
  Block* head = owner->handed_off.load(std::memory_order_relaxed);
  do {
    b->link = owner->handoff_codec.encode(head);
  } while (!owner->handed_off.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
  s->end_hand_off(b);
}

/// A free into a segment no heap owns: its blocks wait for the purger.
[[gnu::noinline]] void abandoned_free_done() noexcept {
  note_abandoned_free();
  purge_at_safe_point();
}

/// Free b into another heap's segment, or an abandoned one (owner_word as
/// read, its owner part 0).  Read the owner before pushing: once the block
/// is on the remote list the owner may collect it, empty the segment and
/// recycle it.  Until then the block is live and the segment cannot go
/// anywhere.  The push is inline and the rest tail calls: no stack frame.
void free_remote(Segment* s, Block* b, std::uintptr_t owner_word) noexcept {
  const bool abandoned = (owner_word & ~kFlagMask) == 0;
  if (__builtin_expect(s->push_thread_free(b) == Segment::RemoteFree::HandOff, 0)) return hand_off(s, b);
  if (__builtin_expect(abandoned, 0)) abandoned_free_done();
}

/// The common remote free, checked inline: p is a live block start of a
/// small segment that another live heap owns, with no per-block flags
/// (aligned or medium blocks); nullptr for anything else, which classify()
/// then sorts out and reports.  The checks are classify()'s for this case;
/// a block that merely looks free is left to classify() as well, and so is
/// this thread's own segment (it comes here only with a flag set: full).
Segment* plain_remote(SegmentBase* header, void* p, std::uintptr_t& word) noexcept {
  if constexpr (kHardened) __builtin_prefetch(p);  // as in classify()
  if (!segment_map::contains(p) || !header->cookie_ok() || header->kind != SegmentKind::Small) return nullptr;
  word = header->owner_flags.load(std::memory_order_acquire);
  if ((word & kBlockFlags) != 0 || (word & ~kFlagMask) == 0 || owned_here(word)) return nullptr;
  Segment* s = static_cast<Segment*>(header);
  auto* b = static_cast<Block*>(p);
  if (!s->is_block_start_shared(p) || (kHardened && (s->looks_free(b) || s->awaits_owner(b)))) return nullptr;
  return s;
}

/// free() of anything but the plain remote case: classify, report, or free.
[[gnu::noinline]] void free_classified(void* p) noexcept {
  const LiveBlock live = classify(p, "free()");
  if (live.is_large()) {
    globals().large->deallocate(p);
    purge_soon();
    purge_at_safe_point();
    return;
  }
  Segment* s = live.segment();
  Block* b = live.block;
  if (kCanaries && (live.owner_word & kSlowFree) != 0) s->requested[s->block_index(b)] = 0;
  if constexpr (kSecure) clear(b, live.asked != 0 ? live.asked : s->block_size);
  if (owned_here(live.owner_word)) {  // ours, with a flag set (classify checked it is not free)
    s->push_local(b);
    s->blocks.returned(b);
    if ((live.owner_word & kInFull) != 0) {
      Heap* h = static_cast<Heap*>(tl_heap);
      h->queues[s->size_class].mark_available(*s);
      set_current(h, s->size_class);
    }
    local_free_done(s);
    return;
  }
  if ((live.owner_word & ~kFlagMask) == 0 && s->capacity == 1) {  // detached (detached.cpp): its freer holds it
    free_detached(s, b);
    purge_at_safe_point();
    return;
  }
  free_remote(s, b, live.owner_word);
}
}  // namespace

// No stack frame: the plain remote free's checks, then a tail call.
void free_slow(SegmentBase* header, void* p) noexcept {
  std::uintptr_t word;
  if (Segment* s = plain_remote(header, p, word)) {
    if constexpr (kSecure) clear(p, s->block_size);
    return free_remote(s, static_cast<Block*>(p), word);
  }
  free_classified(p);
}
}  // namespace tinyalloc::detail
