// Segments of one block (every medium class from 160 KiB: a span holds a
// single block) while that block is out: on no heap's lists and ownerless,
// so the thread that frees the block, whichever it is, takes the segment
// over at once.  Kept on its heap, a remote free of that block was handed off
// to the owner and waited until the owner's thread next allocated: under
// load, with that thread descheduled, the spans waiting there doubled the
// memory in flight (PERF_FINDINGS.md, issue 8, medium spans).
#include "heap_internal.hpp"

namespace tinyalloc::detail {

void detach(Heap* h, unsigned c, Segment* s) noexcept {
  h->queues[c].remove(*s);
  set_current(h, c);
  s->abandon();
}

void free_detached(Segment* s, Block* b) noexcept {
  s->push_local(b);
  s->blocks.returned(b);
  // The freeing thread's heap keeps s as its class's segment if it has none
  // (its next malloc of the class then needs no arena and no new header),
  // and gives back the empty medium segments it kept before: at most one
  // per heap waits like this.  Otherwise s goes back to the arena.
  ClassTable* t = tl_heap;
  const unsigned c = s->size_class;
  if (t != &g_empty_heap) {
    Heap* h = static_cast<Heap*>(t);
    if (h->queues[c].current() == nullptr) {
      s->adopt(h);
      h->queues[c].push_front(*s);
      set_current(h, c);
      keep_empty_medium(h, s);
      return;
    }
  }
  release_segment(globals(), s);
}

}  // namespace tinyalloc::detail
