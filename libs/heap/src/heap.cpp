// A heap's life and its malloc slow path: creating a thread's heap, refilling
// a size class, adopting abandoned segments, collecting remote frees, and
// handing the heap over when its thread exits.  The fast paths are inline in
// heap.hpp; free's slow paths are in free.cpp.
#include <cerrno>
#include <new>
#include <utility>

#include "canary.hpp"
#include "globals.hpp"
#include "heap_internal.hpp"
#include "purge.hpp"

namespace tinyalloc::detail {

constinit FreeBlocks g_empty_blocks{};

namespace {
template <std::size_t... D, std::size_t... C>
constexpr ClassTable make_empty_heap(std::index_sequence<D...>, std::index_sequence<C...>) {
  return ClassTable{{ClassSlot{((void)D, &g_empty_blocks), {}}...}, {ClassSlot{((void)C, &g_empty_blocks), {}}...}};
}
}  // namespace

constinit ClassTable g_empty_heap = make_empty_heap(std::make_index_sequence<size_class::kDirectSlots>{},
                                                    std::make_index_sequence<size_class::kCount>{});
__thread ClassTable* tl_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

void set_current(Heap* h, unsigned c) noexcept {
  Segment* s = h->queues[c].current();
  h->point_class(c, s != nullptr ? &s->blocks : &g_empty_blocks);
}

static_assert((kSegmentSize - kFirstBlock) / size_class::kSizes[size_class::kSmallCount] <= kMaxTrackedBlocks,
              "Segment::requested must have a slot for every block of a medium class");

namespace {
/// Secure builds: a medium segment's span ends with a guard page.
bool has_guard_page(const Segment* s) noexcept { return kSecure && s->size_class >= size_class::kSmallCount; }
}  // namespace

void retire_segment(Globals& g, Segment* s, std::uint64_t now_ms) noexcept {
  // The count says every block came back: make sure none is still live.
  if constexpr (kHardened) s->check_none_live();
  TINYALLOC_ASSERT(s->all_returned() && s->check());
  if (has_guard_page(s)) {
    // The arena reuses the span for any class: the page must be memory again.
    // If the kernel refuses, the segment is kept out of circulation instead.
    if (!region::guard(s->guard_page(), region::page_size(), false)) return;
  }
  g.arena.release(s, now_ms);
}

void release_segment(Globals& g, Segment* s) noexcept {
  retire_segment(g, s, region::now_ms());
  purge_soon();
}

namespace {

/// A heap for a thread that has none: fresh or recycled storage.
Heap* heap_construct(Globals& g) noexcept {
  Heap* h = g.heaps.acquire();
  if (h == nullptr) return nullptr;
  TINYALLOC_ASSERT((reinterpret_cast<std::uintptr_t>(h) & kFlagMask) == 0);
  TINYALLOC_ASSERT(static_cast<ClassTable*>(h) == reinterpret_cast<ClassTable*>(h));  // owner id == table address
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    h->point_class(c, &g_empty_blocks);
    ::new (&h->queues[c]) ClassQueue();
  }
  // Empty: the heap that had this storage drained it after its segments
  // stopped handing off (heap_dismantle), so no stale push can arrive.
  TINYALLOC_ASSERT(h->handed_off.load(std::memory_order_relaxed) == nullptr);
  h->handoff_codec = LinkCodec{link_key(h)};
  h->kept_medium = size_class::kCount;
  return h;
}

/// This thread's heap: an exited thread's, taken whole, or a new one.
Heap* heap_create(Globals& g) noexcept {
  Heap* h = g.heaps.take_parked();
  if (h == nullptr) h = heap_construct(g);
  if (h == nullptr) return nullptr;
  tl_heap = h;  // before pthread_setspecific: if that allocates, it finds this heap
  ::pthread_setspecific(g.thread_exit_key, h);
  return h;
}

/// Make an ownerless segment one of h's (or give it back if other threads
/// freed all its blocks).  A remote free that read "no owner" before this
/// publishes h pushes onto the segment's list without telling h; so the
/// segment goes on `available`, never `full`: refill() visits it (and takes
/// its remote list) before it can be marked full, and from then on remote
/// frees see h.
void adopt(Globals& g, Heap* h, Segment* s) noexcept {
  g.abandoned.count_adopted();
  if (s->all_returned()) {
    release_segment(g, s);
    return;
  }
  s->adopt(h);
  h->queues[s->size_class].available.push_back(*s);
  set_current(h, s->size_class);
}

}  // namespace

/// Other threads freed into h's full segments (hand-offs): free each block
/// as the owner, which moves its segment back from the full list.
void collect_handed_off(Heap* h) noexcept {
  if (h->handed_off.load(std::memory_order_relaxed) == nullptr) return;
  Block* b = h->handed_off.exchange(nullptr, std::memory_order_acquire);
  while (b != nullptr) {
    Segment* s = Segment::of(b);
    // A block freed again after its hand-off is caught at that free by the
    // slow paths, which ask Segment::awaits_owner until collect_hand_off
    // below.  The owner's fast path does not ask: once another of the owner's
    // frees has moved the segment back from full, the owner's second free of
    // the block puts it on the segment's local list, whose link replaces the
    // hand-off link.  Found there, that is a double free.  Popped from there
    // and handed out since, its link is the program's data: a double free or
    // a write after free, and nothing tells which.
    if (kHardened && s->looks_free(b) && s->holds_free(b))
      report_misuse("free(): double free (freed again after another thread's free handed it to its owner) of", b,
                    MisusedBlock::of_class(s->block_size));
    Block* next = h->handoff_codec.decode(b->link);
    if (next != nullptr && !segment_map::contains(next))
      report_misuse(
          "malloc(): write after free, or double free: the link of a block another thread freed was overwritten", b,
          MisusedBlock::of_class(s->block_size));
    s->collect_hand_off();
    free_owned(h, s, b);
    b = next;
  }
}

namespace {

Segment* fresh_segment(Globals& g, Heap* h, unsigned c) noexcept {
  Arena::Grant grant = g.arena.acquire(c);
  if (grant.memory == nullptr) {
    // Out of address space: what the large cache holds is free memory too,
    // and so are the arena's pooled segments of other classes (a medium
    // class needs several contiguous windows, which they may not be).
    g.large->flush();
    grant = g.arena.acquire(c);
    if (grant.memory == nullptr && g.arena.trim() != 0) grant = g.arena.acquire(c);
    if (grant.memory == nullptr) return nullptr;
  }
  const bool medium = c >= size_class::kSmallCount;
  Segment* s = Segment::create(grant.memory, static_cast<std::uint8_t>(c), size_class::size_of(c), grant.zero,
                               kSecure && medium, grant.windows, grant.reached);
  s->claim(h);
  // Hardened: every free of a medium block takes the slow path, which checks
  // its canary and its recorded size (canary.hpp).
  if (kCanaries && medium) s->set_slow_free();
  // Secure: an overflow off the end of the span faults.  If the kernel
  // refuses (too many mappings), the segment simply has no guard.
  if (kSecure && medium) (void)region::guard(s->guard_page(), region::page_size(), true);
  h->queues[c].push_front(*s);
  return s;
}

/// A segment with (possibly) free blocks for class c, queued in h; cheapest
/// source first.
Segment* find_segment(Globals& g, Heap* h, unsigned c) noexcept {
  ClassQueue& q = h->queues[c];
  collect_handed_off(h);
  if (Segment* s = q.current()) return s;
  // Adopt what exited threads left, a bounded number per call.
  for (int i = 0; i < 16; ++i) {
    Segment* s = g.abandoned.pop();
    if (s == nullptr) break;
    adopt(g, h, s);
    if (q.current() != nullptr) break;
  }
  if (Segment* s = q.current()) return s;
  return fresh_segment(g, h, c);
}

void* alloc_small(Globals& g, Heap* h, unsigned c) noexcept {
  ClassQueue& q = h->queues[c];
  for (;;) {
    Segment* s = q.current();
    if (s == nullptr) {
      if (find_segment(g, h, c) == nullptr) {
        errno = ENOMEM;
        return nullptr;
      }
      continue;
    }
    if (s->refill()) {
      h->point_class(c, &s->blocks);
      h->classes[c].count();
      Block* b = s->blocks.pop();
      TINYALLOC_ASSERT(s->is_block_start(b) && (s->block_size < 16 || reinterpret_cast<std::uintptr_t>(b) % 16 == 0));
      if (s->capacity == 1) detach(h, c, s);
      return b;
    }
    if (q.mark_full(*s)) set_current(h, c);  // else a remote free just came in: refill again
  }
}

}  // namespace

void* large_allocate(Globals& g, std::size_t size, std::size_t alignment) noexcept {
  void* p = g.large->allocate(size, alignment);
  // Out of address space: pooled small segments hold some; give it back.
  if (p == nullptr && size <= large::LargeAllocator<large::DirectMap>::kMaxSize && g.arena.trim() != 0)
    p = g.large->allocate(size, alignment);
  return p;
}

void* malloc_slow(std::size_t size) noexcept {
  Globals& g = globals();
  void* p;
  if (size > size_class::kMaxMedium) {
    p = large_allocate(g, size, 16);
  } else {  // small (its fast path missed) or medium: the heap's segments
    ClassTable* t = tl_heap;
    Heap* h = t == &g_empty_heap ? heap_create(g) : static_cast<Heap*>(t);
    if (h == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    const unsigned c = size_class::of(size);
    p = alloc_small(g, h, c);
    if (kCanaries && p != nullptr && c >= size_class::kSmallCount)
      medium_handed_out(Segment::of(p), static_cast<Block*>(p), size);
  }
  purge_at_safe_point();
  return p;
}

void keep_empty_medium(Heap* h, const Segment* s) noexcept {
  // One class to look at, not every medium class: this is on every free
  // that empties a medium segment (PERF_FINDINGS.md, issue 8, "finer
  // medium classes").
  const unsigned before = h->kept_medium;
  h->kept_medium = s->size_class;
  if (before == size_class::kCount || before == s->size_class) return;
  Segment* old = h->queues[before].current();
  if (old == nullptr || !old->is_unused()) return;
  h->queues[before].remove(*old);
  release_segment(globals(), old);
  set_current(h, before);
}

void segment_emptied(Segment* s) noexcept {
  segment_emptied(static_cast<Heap*>(tl_heap), s);
  purge_at_safe_point();
}

void segment_emptied(Heap* h, Segment* s) noexcept {
  ClassQueue& q = h->queues[s->size_class];
  // A small class keeps the segment it allocates from.  A medium one gives
  // it back to the arena (a lock-free push; the next malloc of any class of
  // its span takes it warm) -- but hardened builds keep the heap's last
  // emptied one: a double free of the block just freed then finds it in
  // use, its recorded size 0 (the arena would soon hand a released segment
  // to another class, and the second free would land in that one's blocks).
  const bool medium = s->size_class >= size_class::kSmallCount;
  if (q.current() == s && (!medium || kCanaries)) {
    if (medium) keep_empty_medium(h, s);
    // Keep the segment this class allocates from, and make its blocks
    // reachable from the fast path at once (no slow path just to migrate).
    if (s->blocks.empty()) s->take_local();
    return;
  }
  q.remove(*s);
  release_segment(globals(), s);
}

void heap_release_empty(Heap* h) noexcept {
  Globals& g = globals();
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    Segment* s = h->queues[c].current();
    if (s == nullptr || !s->all_returned()) continue;
    h->queues[c].remove(*s);
    release_segment(g, s);
    set_current(h, c);
  }
}

void heap_exit(Heap* h) noexcept {
  tl_heap = &g_empty_heap;
  globals().heaps.park(h, region::now_ms());
  purge_soon();  // a heap left parked is dismantled after the purge delay
  purge_at_safe_point();
}

void heap_dismantle(Globals& g, Heap* h) noexcept {
  // No freer may hand off to h once it is recycled: wait out the ones in
  // progress, then take in what they handed off.
  for (unsigned c = 0; c < size_class::kCount; ++c)
    for (Segment& s : h->queues[c].full) s.stop_hand_offs();
  collect_handed_off(h);
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    ClassQueue& q = h->queues[c];
    while (!q.empty()) {
      Segment* s = q.available.empty() ? &q.full.front() : &q.available.front();
      q.remove(*s);
      // One load tells whether every block is back; what other threads
      // freed stays on the segment's list for whoever adopts it.
      if (s->all_returned()) {
        release_segment(g, s);
        continue;
      }
      TINYALLOC_ASSERT(s->check());
      s->abandon();
      g.abandoned.count_abandoned();
      g.abandoned.push(s);
    }
    h->point_class(c, &g_empty_blocks);
  }
  TINYALLOC_ASSERT(h->handed_off.load(std::memory_order_relaxed) == nullptr);
  g.heaps.release(h);
}

}  // namespace tinyalloc::detail
