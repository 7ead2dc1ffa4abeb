// The heap's slow paths: creating a thread's heap, refilling a size class,
// adopting abandoned segments, collecting remote frees, and handing a heap
// over when its thread exits.  The fast paths are inline in heap.hpp.
#include <cerrno>
#include <new>
#include <utility>

#include "globals.hpp"

namespace tinyalloc::detail {

constinit AllocFront g_empty_front{};

namespace {
template <std::size_t... I>
constexpr HeapFront make_empty_heap(std::index_sequence<I...>) {
  return HeapFront{{ClassFront{((void)I, &g_empty_front), {}}...}};
}
}  // namespace

constinit HeapFront g_empty_heap = make_empty_heap(std::make_index_sequence<size_class::kCount>{});
__thread HeapFront* tl_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

namespace {

Heap* as_heap(HeapFront* f) noexcept { return static_cast<Heap*>(f); }

/// Invariant: classes[c].current is the front of queues[c].available, or the empty front.
void set_current(Heap* h, unsigned c) noexcept {
  Segment* s = h->queues[c].front();
  h->classes[c].current = s != nullptr ? &s->front : &g_empty_front;
}

Heap* heap_create(Globals& g) noexcept {
  Heap* h = g.heaps.acquire();
  if (h == nullptr) return nullptr;
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    h->classes[c].current = &g_empty_front;
    ::new (&h->queues[c]) ClassQueue();
  }
  h->owner = thread_id();
  if ((h->owner & kFlagMask) != 0) report_misuse("thread pointer is not 64-byte aligned:", reinterpret_cast<void*>(h->owner));
  h->next_free = nullptr;
  // A stale remote free may still raise the flag of a recycled heap: store,
  // never re-construct, so that is a (harmless) atomic race, not a data race.
  h->remote_pending.store(false, std::memory_order_relaxed);
  tl_heap = h;  // before pthread_setspecific: if that allocates, it finds this heap
  ::pthread_setspecific(g.thread_exit_key, h);
  return h;
}

void release_segment(Globals& g, Segment* s) noexcept {
  s->heap.store(nullptr, std::memory_order_relaxed);
  const std::uint64_t now = region::now_ms();
  g.arena.release(s, now);
  g.arena.purge(now);
}

/// Make an ownerless segment one of h's.  A remote free that read the heap
/// pointer before this publishes it may push after the take below without
/// telling this heap; so the segment goes on `available`, never `full`:
/// refill() visits it (and takes its remote list) before it can be marked
/// full, and from then on remote frees see this heap.
void adopt(Globals& g, Heap* h, Segment* s) noexcept {
  s->heap.store(h, std::memory_order_release);
  s->owner_flags.store(h->owner | (s->flags() & kHasAligned), std::memory_order_release);
  s->take_thread_free();
  if (s->is_unused()) {
    release_segment(g, s);
    return;
  }
  h->queues[s->size_class].available.push_back(*s);
  set_current(h, s->size_class);
}

/// Other threads freed into some of h's full segments: move those back.
void collect_remote_frees(Globals& g, Heap* h) noexcept {
  if (!h->remote_pending.load(std::memory_order_relaxed)) return;
  if (!h->remote_pending.exchange(false, std::memory_order_acq_rel)) return;
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    ClassQueue& q = h->queues[c];
    for (auto it = q.full.begin(); it != q.full.end();) {
      Segment& s = *it++;
      if (!s.take_thread_free()) continue;
      if (s.is_unused()) {
        q.remove(s);
        release_segment(g, &s);
      } else {
        q.mark_available(s);
      }
    }
    set_current(h, c);
  }
}

Segment* fresh_segment(Globals& g, Heap* h, unsigned c) noexcept {
  Arena::Grant grant = g.arena.acquire(c);
  if (grant.memory == nullptr) {
    // Out of address space: what the large cache holds is free memory too.
    g.cached.strategy().flush();
    grant = g.arena.acquire(c);
    if (grant.memory == nullptr) return nullptr;
  }
  Segment* s = Segment::create(grant.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), grant.zero);
  s->heap.store(h, std::memory_order_relaxed);
  s->owner_flags.store(h->owner, std::memory_order_release);
  h->queues[c].push_front(*s);
  return s;
}

/// A segment with (possibly) free blocks for class c, queued in h; cheapest
/// source first.
Segment* find_segment(Globals& g, Heap* h, unsigned c) noexcept {
  ClassQueue& q = h->queues[c];
  collect_remote_frees(g, h);
  if (Segment* s = q.front()) return s;
  // Adopt what exited threads left, a bounded number per call.
  for (int i = 0; i < 16; ++i) {
    Segment* s = g.abandoned.pop();
    if (s == nullptr) break;
    adopt(g, h, s);
    if (q.front() != nullptr) break;
  }
  if (Segment* s = q.front()) return s;
  return fresh_segment(g, h, c);
}

void* alloc_small(Globals& g, Heap* h, unsigned c) noexcept {
  ClassQueue& q = h->queues[c];
  for (;;) {
    Segment* s = q.front();
    if (s == nullptr) {
      if (find_segment(g, h, c) == nullptr) {
        errno = ENOMEM;
        return nullptr;
      }
      continue;
    }
    if (s->refill()) {
      h->classes[c].current = &s->front;
      h->classes[c].count();
      return s->front.pop();
    }
    q.mark_full(*s);
    set_current(h, c);
  }
}

}  // namespace

void* large_allocate(Globals& g, std::size_t size, std::size_t alignment) noexcept {
  void* p = g.large.allocate(size, alignment);
  // Out of address space: pooled small segments hold some; give it back.
  if (p == nullptr && size <= large::LargeAllocator<large::DirectMap>::kMaxSize && g.arena.trim() != 0)
    p = g.large.allocate(size, alignment);
  return p;
}

void* malloc_slow(std::size_t size) noexcept {
  Globals& g = globals();
  if (size > size_class::kMaxSmall) return large_allocate(g, size, 16);
  HeapFront* f = tl_heap;
  Heap* h = f == &g_empty_heap ? heap_create(g) : as_heap(f);
  if (h == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  return alloc_small(g, h, size_class::of(size));
}

void segment_emptied(Segment* s) noexcept {
  Heap* h = as_heap(tl_heap);
  ClassQueue& q = h->queues[s->size_class];
  if (q.front() == s) {
    // Keep the segment this class allocates from, and make its blocks
    // reachable from the fast path at once (no slow path just to migrate).
    if (s->front.free == nullptr) s->take_local();
    return;
  }
  q.remove(*s);
  release_segment(globals(), s);
}

namespace {
// After a free that went back to its owner's local list.
void local_free_done(Segment* s) noexcept {
  if (s->is_unused()) segment_emptied(s);
}
}  // namespace

void free_suspect(Segment* s, Block* b) noexcept {
  if (!s->is_block_start(b)) report_misuse("free(): invalid pointer (not the start of a block)", b);
  if (s->holds_free(b)) report_misuse("free(): double free of", b);
  s->push_local(b);  // a live block whose first word happened to look like a link
  --s->front.used;
  local_free_done(s);
}

void free_slow(SegmentBase* header, void* p) noexcept {
  if (!segment_map::contains(p) || header->cookie != header_cookie(header))
    report_misuse("free(): invalid pointer (not allocated by tinyalloc)", p);
  switch (header->kind) {
    case SegmentKind::Large:
      if (p != reinterpret_cast<const large::LargeHeader*>(header)->base +
                   reinterpret_cast<const large::LargeHeader*>(header)->offset)
        report_misuse("free(): invalid pointer (inside a large block)", p);
      globals().large.deallocate(p);
      return;
    case SegmentKind::Small:
      break;
    default:
      report_misuse("free(): double free or invalid pointer (segment not in use)", p);
  }
  Segment* s = static_cast<Segment*>(header);
  const std::uintptr_t word = s->owner_flags.load(std::memory_order_acquire);
  Block* b = (word & kHasAligned) != 0 ? s->block_start(p) : static_cast<Block*>(p);
  if ((word & kHasAligned) == 0 && !s->is_block_start(b))
    report_misuse("free(): invalid pointer (not the start of a block)", p);
  if ((word & ~kFlagMask) == thread_id()) {  // ours, with a flag set
    if (s->looks_free(b) && s->holds_free(b)) report_misuse("free(): double free of", p);
    s->push_local(b);
    --s->front.used;
    if ((word & kInFull) != 0) {
      Heap* h = as_heap(tl_heap);
      h->queues[s->size_class].mark_available(*s);
      set_current(h, s->size_class);
    }
    local_free_done(s);
    return;
  }
  // Another thread's (or an abandoned) segment: its lists cannot be walked
  // from here, but a block whose first word decodes to a link is free.
  if (kHardened && s->looks_free(b)) report_misuse("free(): double free of", p);
  // Read the owner before pushing: once the block is on the remote list the
  // owner may collect it, empty the segment and recycle it.  Until then the
  // block is live and the segment cannot go anywhere.
  auto* owner = static_cast<Heap*>(s->heap.load(std::memory_order_acquire));
  if (s->push_thread_free(b) && owner != nullptr) owner->remote_pending.store(true, std::memory_order_release);
}

void heap_abandon(Heap* h) noexcept {
  Globals& g = globals();
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    ClassQueue& q = h->queues[c];
    while (!q.empty()) {
      Segment* s = q.available.empty() ? &q.full.front() : &q.available.front();
      q.remove(*s);
      s->take_thread_free();
      if (s->is_unused()) {
        release_segment(g, s);
        continue;
      }
      s->heap.store(nullptr, std::memory_order_release);
      s->owner_flags.store(s->flags() & kHasAligned, std::memory_order_release);
      g.abandoned.push(s);
    }
    h->classes[c].current = &g_empty_front;
  }
  tl_heap = &g_empty_heap;
  g.heaps.release(h);
}

}  // namespace tinyalloc::detail
