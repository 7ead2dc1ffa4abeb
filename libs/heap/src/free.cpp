// free()'s slow paths and the pointer classifier they share with realloc and
// malloc_usable_size.
#include <cstdio>

#include "classify.hpp"
#include "heap_internal.hpp"
#include "purge.hpp"

namespace tinyalloc::detail {
namespace {

[[noreturn]] void misuse(const char* call, const char* what, const void* p) noexcept {
  char line[160];
  std::snprintf(line, sizeof line, "%s: %s", call, what);
  report_misuse(line, p);
}

bool owned_here(std::uintptr_t word) noexcept {
  return (word & ~kFlagMask) == reinterpret_cast<std::uintptr_t>(tl_heap);
}

// After a free that went back to its owner's local list.
void local_free_done(Segment* s) noexcept {
  if (s->is_unused()) segment_emptied(s);
}

}  // namespace

LiveBlock classify(const void* p, const char* call) noexcept {
  SegmentBase* header = Segment::header_of(p);
  if (!segment_map::contains(p) || !header->cookie_ok())
    misuse(call, "invalid pointer (not allocated by tinyalloc)", p);
  switch (header->kind) {
    case SegmentKind::Large:
      if (!large::is_block_start(p)) misuse(call, "invalid pointer (inside a large block)", p);
      return LiveBlock{header, nullptr, 0};
    case SegmentKind::Small:
      break;
    default:
      misuse(call, "double free or invalid pointer (segment not in use)", p);
  }
  Segment* s = static_cast<Segment*>(header);
  const std::uintptr_t word = s->owner_flags.load(std::memory_order_acquire);
  Block* b;
  if ((word & kHasAligned) != 0) {
    if (!same_window(p, s) || static_cast<const char*>(p) < s->first_block())
      misuse(call, "invalid pointer (not the start of a block)", p);
    b = s->block_start(p);
  } else {
    b = static_cast<Block*>(const_cast<void*>(p));
    if (!s->is_block_start(b)) misuse(call, "invalid pointer (not the start of a block)", p);
  }
  // A block whose first word decodes to a link is free.  The owner confirms
  // by walking its lists (live data can look like a link); another thread
  // cannot walk them, and takes the encoded word's word for it.
  if (kHardened && s->looks_free(b) && (!owned_here(word) || s->holds_free(b))) misuse(call, "double free of", p);
  return LiveBlock{header, b, word};
}

void free_suspect(Segment* s, Block* b) noexcept {
  if (!s->is_block_start(b)) report_misuse("free(): invalid pointer (not the start of a block)", b);
  if (s->holds_free(b)) report_misuse("free(): double free of", b);
  s->push_local(b);  // a live block whose first word happened to look like a link
  --s->blocks.used;
  local_free_done(s);
}

void free_owned(Heap* h, Segment* s, Block* b) noexcept {
  if (kHardened && s->looks_free(b) && s->holds_free(b)) report_misuse("free(): double free of", b);
  s->push_local(b);
  --s->blocks.used;
  if (s->is_full()) {
    h->queues[s->size_class].mark_available(*s);
    set_current(h, s->size_class);
  }
  if (s->is_unused()) segment_emptied(h, s);
}

void free_slow(SegmentBase*, void* p) noexcept {
  const LiveBlock live = classify(p, "free()");
  if (live.is_large()) {
    globals().large->deallocate(p);
    purge_soon();
    purge_at_safe_point();
    return;
  }
  Segment* s = live.segment();
  Block* b = live.block;
  if (owned_here(live.owner_word)) {  // ours, with a flag set (classify checked it is not free)
    s->push_local(b);
    --s->blocks.used;
    if ((live.owner_word & kInFull) != 0) {
      Heap* h = static_cast<Heap*>(tl_heap);
      h->queues[s->size_class].mark_available(*s);
      set_current(h, s->size_class);
    }
    local_free_done(s);
    return;
  }
  // Another heap's segment, or an abandoned one.  Read the owner before
  // pushing: once the block is on the remote list the owner may collect it,
  // empty the segment and recycle it.  Until then the block is live and the
  // segment cannot go anywhere.
  const bool abandoned = (live.owner_word & ~kFlagMask) == 0;
  if (s->push_thread_free(b) == Segment::RemoteFree::HandOff) {
    // The owner files the segment as full: give the block to its heap.  The
    // owner cannot change while the hand-off is in progress (stop_hand_offs).
    Heap* owner = s->owner();
    Block* head = owner->handed_off.load(std::memory_order_relaxed);
    do {
      b->link = owner->handoff_codec.encode(head);
    } while (!owner->handed_off.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
    s->end_hand_off();
    return;
  }
  if (abandoned) {
    note_abandoned_free();
    purge_at_safe_point();
  }
}
}  // namespace tinyalloc::detail
