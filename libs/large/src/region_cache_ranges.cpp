// RegionCache's nodes and trees: where a free range lives while it is free.
// Every function here runs under the cache's lock (see region_cache.cpp).
#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

// ---- nodes -------------------------------------------------------------------------

// Outside the lock: reserve the node pool the first time one may be needed.
// Its pages fault in as nodes are first used.  If the reservation fails the
// cache keeps nothing new (freed ranges are unmapped) until a later call
// succeeds.
void RegionCache::ensure_pool() noexcept {
  if (pool_.load(std::memory_order_acquire) != nullptr || options_.max_nodes == 0) return;
  const std::size_t bytes = options_.max_nodes * sizeof(FreeRange);
  void* p = region::reserve(bytes, 0);
  if (p == nullptr) return;
  FreeRange* expected = nullptr;
  if (!pool_.compare_exchange_strong(expected, static_cast<FreeRange*>(p), std::memory_order_acq_rel))
    (void)region::release(p, bytes);  // another thread installed one first
}

FreeRange* RegionCache::new_node() noexcept {
  if (FreeRange* n = free_nodes_) {
    free_nodes_ = n->next_free;
    return n;
  }
  FreeRange* pool = pool_.load(std::memory_order_acquire);
  if (pool == nullptr || pool_used_ == options_.max_nodes) return nullptr;
  return ::new (static_cast<void*>(pool + pool_used_++)) FreeRange{};
}

void RegionCache::free_node(FreeRange* n) noexcept {
  n->next_free = free_nodes_;
  free_nodes_ = n;
}

// ---- the trees -----------------------------------------------------------------------

// n goes at the back of its age list: its since_ms must be the latest time
// seen (clock()), which keeps every age list in time order.
void RegionCache::link(FreeRange* n) noexcept {
  by_address_.insert(*n);
  by_size(n->dirty).insert(*n);
  by_age(n->dirty).push_back(*n);
  (n->dirty ? dirty_bytes_ : clean_bytes_) += n->size;
}

void RegionCache::unlink(FreeRange* n) noexcept {
  by_address_.erase(by_address_.iterator_to(*n));
  SizeTree& sizes = by_size(n->dirty);
  sizes.erase(sizes.iterator_to(*n));
  AgeList& ages = by_age(n->dirty);
  ages.erase(ages.iterator_to(*n));
  (n->dirty ? dirty_bytes_ : clean_bytes_) -= n->size;
}

// The smallest range in that state holding `need` bytes (exactly `need`
// without split_coalesce), or nullptr.
FreeRange* RegionCache::best_fit(bool dirty, std::size_t need) noexcept {
  SizeTree& sizes = by_size(dirty);
  auto it = sizes.lower_bound(need, SizeOrder{});
  if (it == sizes.end() || (!options_.split_coalesce && it->size != need)) return nullptr;
  return &*it;
}

// Put [base, base+size) in the trees, merged with its free neighbours in the
// same state and origin.  `node` (a busy range's own, or nullptr) describes
// it; nullptr if no node was free (nothing changed then: the caller still owns
// the range).
FreeRange* RegionCache::insert(char* base, std::size_t size, bool dirty, std::uint32_t origin, std::uint64_t now,
                               FreeRange* node) noexcept {
  FreeRange* prev = nullptr;
  FreeRange* next = nullptr;
  auto it = by_address_.lower_bound(base, AddressOrder{});
  TINYALLOC_ASSERT(it == by_address_.end() || it->base >= base + size);  // a range given back twice?
  if (options_.split_coalesce) {
    if (it != by_address_.end() && it->base == base + size && it->dirty == dirty && it->origin == origin) next = &*it;
    if (it != by_address_.begin()) {
      FreeRange& before = *std::prev(it);
      TINYALLOC_ASSERT(before.base + before.size <= base);
      if (before.base + before.size == base && before.dirty == dirty && before.origin == origin) prev = &before;
    }
  }
  FreeRange* n = node != nullptr ? node : prev != nullptr ? prev : next != nullptr ? next : new_node();
  if (n == nullptr) return nullptr;
  for (FreeRange* neighbour : {prev, next}) {
    if (neighbour == nullptr) continue;
    unlink(neighbour);
    if (neighbour->base < base) base = neighbour->base;
    size += neighbour->size;
    ++merges_;
    if (neighbour != n) free_node(neighbour);
  }
  n->base = base;
  n->size = size;
  n->dirty = dirty;
  n->origin = origin;
  n->since_ms = now;
  link(n);
  return n;
}

// Take the oldest dirty range out of the trees, or only its last `want` bytes
// (rounded up to the granule) if that is less and a node is free for the piece.
FreeRange* RegionCache::take_oldest_dirty(std::size_t want) noexcept {
  FreeRange* n = &dirty_age_.front();
  const std::size_t piece = region::align_up(want, kGranule);
  if (options_.split_coalesce && piece < n->size) {
    if (FreeRange* p = new_node()) {
      // n keeps its base (so its place in by_address_) and its age.
      dirty_by_size_.erase(dirty_by_size_.iterator_to(*n));
      n->size -= piece;
      dirty_by_size_.insert(*n);
      dirty_bytes_ -= piece;
      p->base = n->base + n->size;
      p->size = piece;
      p->dirty = true;
      p->origin = n->origin;
      p->since_ms = n->since_ms;
      ++splits_;
      return p;
    }
  }
  unlink(n);
  return n;
}

// Take `bytes` from the front or the back of free range n (all of it, or cut:
// the rest stays, as it was).  Returns their address.
char* RegionCache::take_part(FreeRange* n, std::size_t bytes, End end) noexcept {
  char* const base = end == End::front ? n->base : n->base + n->size - bytes;
  if (n->size == bytes) {
    unlink(n);
    free_node(n);
    return base;
  }
  // n's place in by_address_ holds (the rest lies inside the old range); only
  // its size key changes.
  const bool dirty = n->dirty;
  SizeTree& sizes = by_size(dirty);
  sizes.erase(sizes.iterator_to(*n));
  if (end == End::front) n->base += bytes;
  n->size -= bytes;
  sizes.insert(*n);
  (dirty ? dirty_bytes_ : clean_bytes_) -= bytes;
  if (!dirty) {  // just used: its idle time starts again (the clock is read in the vDSO, no system call)
    clean_age_.erase(clean_age_.iterator_to(*n));
    n->since_ms = clock(region::now_ms());
    clean_age_.push_back(*n);
  }
  ++splits_;
  return base;
}

// A block of `need` bytes from the free ranges, cut from the first that has
// it of: the smallest dirty range that holds it (no page faults); a dirty
// range together with the clean range beside it (the block reuses the dirty
// one's resident pages and faults in only the rest; without this, dirty ranges
// a little too small pile up resident while blocks fault in fresh pages beside
// them), the largest such of the kMixedProbes largest dirty ranges; the
// smallest clean range that holds it.  {nullptr} if none.
RegionCache::Cut RegionCache::take_cached(std::size_t need) noexcept {
  if (FreeRange* n = best_fit(true, need)) {
    const std::uint32_t origin = n->origin;
    return {take_front(n, need), nullptr, 0, origin};
  }
  if (options_.split_coalesce) {
    std::size_t probes = kMixedProbes;
    for (auto it = dirty_by_size_.rbegin(); it != dirty_by_size_.rend() && probes-- > 0; ++it) {
      FreeRange* d = &*it;
      const std::size_t rest = need - d->size;  // > 0: no dirty range holds need
      const auto at = by_address_.iterator_to(*d);
      const auto after = std::next(at);
      FreeRange* clean = nullptr;
      End end = End::front;
      if (after != by_address_.end() && !after->dirty && after->origin == d->origin &&
          after->base == d->base + d->size && after->size >= rest) {
        clean = &*after;
      } else if (at != by_address_.begin()) {
        FreeRange& before = *std::prev(at);
        if (!before.dirty && before.origin == d->origin && before.base + before.size == d->base &&
            before.size >= rest) {
          clean = &before;
          end = End::back;
        }
      }
      if (clean == nullptr) continue;
      const std::uint32_t origin = d->origin;
      char* const base = end == End::front ? d->base : d->base - rest;
      unlink(d);
      free_node(d);
      char* const fresh = take_part(clean, rest, end);
      return {base, fresh, rest, origin};
    }
  }
  if (FreeRange* n = best_fit(false, need)) {
    const std::uint32_t origin = n->origin;
    char* const base = take_front(n, need);
    return {base, base, need, origin};
  }
  return {};
}

}  // namespace tinyalloc::large
