// RegionCache: free ranges in two size trees, an address tree and two age
// lists (see large.hpp).  The trees change under one lock; every system call
// (mmap, madvise, munmap) is made after it is released, on ranges taken out of
// the trees first ("busy": in no tree, so nothing merges with them or hands
// them out), which are put back under the lock afterwards.
#include <iterator>
#include <new>

#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

static_assert(MappingStrategy<RegionCache> && RecyclesRanges<RegionCache>);

namespace {

// Larger than any user-space address range: refused without asking the kernel.
constexpr std::size_t kMaxRequest = std::size_t{1} << 47;

bool granular(const void* p, std::size_t n) noexcept {
  return ((reinterpret_cast<std::uintptr_t>(p) | n) & (RegionCache::kGranule - 1)) == 0;
}

}  // namespace

RegionCache::RegionCache(const CacheOptions& options) noexcept
    : options_(options), epoch_ms_(options.purge_delay_ms / kEpochs > 0 ? options.purge_delay_ms / kEpochs : 1) {}

RegionCache::~RegionCache() {
  flush();
  if (FreeRange* pool = pool_.load(std::memory_order_acquire))
    (void)region::release(pool, options_.max_nodes * sizeof(FreeRange));  // a failure is counted by region
}

void RegionCache::lock() noexcept { lock_.lock(); }
void RegionCache::unlock() noexcept { lock_.unlock(); }

// ---- system calls, outside the lock ----------------------------------------------------

// Decommit busy ranges, then put them back clean (merging with clean
// neighbours); one whose madvise failed goes back dirty, for a later purge.
void RegionCache::decommit_outside_lock(AgeList& batch) noexcept {
  if (batch.empty()) return;
  UseSample use;
  for (FreeRange& n : batch) {
    if (options_.populate) sample_use(n, use);
    n.dirty = !region::decommit(n.base, n.size);  // a failure is counted by region
  }
  const std::uint64_t now = region::now_ms();
  lock();
  note_use(use);
  const std::uint64_t t = clock(now);
  while (!batch.empty()) {
    FreeRange* n = &batch.front();
    batch.pop_front();
    if (!n->dirty) ++purges_;
    insert(n->base, n->size, n->dirty, n->origin, t, n);
  }
  update_next_purge();
  unlock();
}

// Unmap busy ranges; one whose munmap failed (the kernel could not split a
// mapping: vm.max_map_count) is kept, clean or dirty as it was.
void RegionCache::unmap_outside_lock(AgeList& batch) noexcept {
  if (batch.empty()) return;
  for (FreeRange& n : batch) n.unmapped = region::release(n.base, n.size, n.dirty);  // failures: counted by region
  const std::uint64_t now = region::now_ms();
  lock();
  const std::uint64_t t = clock(now);
  while (!batch.empty()) {
    FreeRange* n = &batch.front();
    batch.pop_front();
    if (n->unmapped) {
      ++unmaps_;
      free_node(n);
    } else {
      insert(n->base, n->size, n->dirty, n->origin, t, n);
    }
  }
  update_next_purge();
  unlock();
}

// ---- the strategy ------------------------------------------------------------------------

// A block is handed its range's pages (`bytes`, rounded to pages); the rest of
// the range's last granule is its slack: in no tree, given back with it
// (give_back rounds up), counted as committed while the block lives.
Mapping RegionCache::obtain(std::size_t bytes, std::size_t alignment) noexcept {
  if (bytes == 0 || bytes > kMaxRequest) return {};
  const std::size_t pages = region::align_up(bytes, region::page_size());
  const std::size_t need = region::align_up(bytes, kGranule);
  AgeList over;
  if (alignment <= kGranule) {  // every range is granule-aligned
    lock();
    const Cut cut = take_cached(need);
    if (cut.base != nullptr) {
      ++hits_;
      if (cut.clean_bytes == need) ++clean_hits_;
      if (cut.clean_bytes != 0 && cut.clean_bytes != need) ++mixed_hits_;
      hand_out(need);
      collect_over_ceiling(over);
      update_next_purge();
      const bool populate = blocks_written_whole();
      unlock();
      decommit_outside_lock(over);
      if (cut.clean_bytes != 0) {
        region::commit(cut.clean, cut.clean_bytes);  // accounting: these pages fault in when touched,
        if (populate) populate_outside_lock(cut.base, pages, cut.clean, cut.clean_bytes);  // or now
      }
      return {cut.base, pages, cut.clean_bytes == need, cut.origin};
    }
    unlock();
  }
  // New address space: a chunk, whose rest is kept as a clean range.  When
  // the OS refuses, try the exact size, then empty the cache and try again.
  std::size_t size = need;
  if (options_.split_coalesce && alignment <= kGranule)
    size = need <= kChunkSize / 2 ? kChunkSize : need <= kMaxChunk / 2 ? 2 * need : need;
  char* p = static_cast<char*>(region::reserve(size, alignment));
  if (p == nullptr && size != need) p = static_cast<char*>(region::reserve(size = need, alignment));
  if (p == nullptr) {
    flush();
    p = static_cast<char*>(region::reserve(size = need, alignment));
    if (p == nullptr) return {};
  }
  if (size != need) ensure_pool();
  const std::uint64_t now = region::now_ms();
  lock();
  ++misses_;
  hand_out(need);
  const std::uint32_t origin = ++origins_;
  const bool kept = size == need || insert(p + need, size - need, false, origin, clock(now), nullptr) != nullptr;
  if (!kept) ++evictions_;
  collect_over_ceiling(over);
  update_next_purge();
  const bool populate = blocks_written_whole();
  unlock();
  decommit_outside_lock(over);
  if (!kept) (void)region::release(p + need, size - need);  // no node for it; a failure is counted by region
  region::commit(p, need);
  if (populate) populate_outside_lock(p, pages, p, need);
  return {p, pages, true, origin};
}

void RegionCache::give_back(const Mapping& m) noexcept {
  if (m.base == nullptr || m.size == 0) return;
  if (!granular(m.base, 0)) {  // not of this cache's making: it cannot be a range
    (void)region::release(m.base, m.size, true);
    return;
  }
  const std::size_t size = region::align_up(m.size, kGranule);  // with the block's slack
  ensure_pool();
  const std::uint64_t now = region::now_ms();
  AgeList over;
  lock();
  forget_locked(size);  // the block's range is the cache's again, whatever becomes of it below
  const std::uint64_t t = clock(now);
  advance_epoch(t);
  if (insert(m.base, size, true, m.origin, t, nullptr) == nullptr) {
    ++evictions_;  // no node left: back to the OS rather than lost
    unlock();
    (void)region::release(m.base, size, true);  // a failure is counted by region
    return;
  }
  freed_[0] += size;
  collect_over_ceiling(over);
  update_next_purge();
  unlock();
  decommit_outside_lock(over);
}

void RegionCache::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  AgeList to_decommit, to_unmap;
  lock();
  const std::uint64_t t = clock(now_ms);
  advance_epoch(t);
  if (force) {
    // Clean ranges first: the ones decommitted now come back clean afterwards.
    while (!clean_age_.empty()) {
      FreeRange* n = &clean_age_.front();
      unlink(n);
      to_unmap.push_back(*n);
    }
    while (!dirty_age_.empty()) {
      FreeRange* n = &dirty_age_.front();
      unlink(n);
      to_decommit.push_back(*n);
    }
  } else {
    std::size_t allowed = options_.max_bytes;
    if (options_.decay) {
      const std::size_t decayed = allowed_dirty();
      if (decayed < allowed) allowed = decayed;
    } else {
      while (!dirty_age_.empty() && dirty_age_.front().since_ms + options_.purge_delay_ms <= t) {
        FreeRange* n = &dirty_age_.front();
        unlink(n);
        to_decommit.push_back(*n);
      }
    }
    while (dirty_bytes_ > allowed && !dirty_age_.empty())
      to_decommit.push_back(*take_oldest_dirty(dirty_bytes_ - allowed));
    while (!clean_age_.empty() && clean_age_.front().since_ms + options_.unmap_idle_ms <= t) {
      FreeRange* n = &clean_age_.front();
      unlink(n);
      to_unmap.push_back(*n);
    }
  }
  update_next_purge();
  unlock();
  unmap_outside_lock(to_unmap);
  decommit_outside_lock(to_decommit);
}

void RegionCache::flush() noexcept {
  AgeList all;
  lock();
  for (AgeList* ages : {&dirty_age_, &clean_age_}) {
    while (!ages->empty()) {
      FreeRange* n = &ages->front();
      unlink(n);
      all.push_back(*n);
    }
  }
  update_next_purge();
  unlock();
  unmap_outside_lock(all);
}

std::size_t RegionCache::grow_in_place(const Mapping& m, std::size_t need, std::size_t want) noexcept {
  const std::size_t range = region::align_up(m.size, kGranule);
  if (need <= m.size) return m.size;
  if (need <= range) return range;  // its own slack: nothing to take
  if (!options_.split_coalesce) return 0;
  const std::size_t more = region::align_up(need, kGranule) - range;
  const std::size_t wanted = want > need ? region::align_up(want, kGranule) - range : more;
  lock();
  auto it = by_address_.find(m.base + range, AddressOrder{});
  if (it == by_address_.end() || it->size < more || it->origin != m.origin) {
    unlock();
    return 0;
  }
  FreeRange* n = &*it;
  const std::size_t take = n->size < wanted ? n->size : wanted;
  const bool dirty = n->dirty;
  char* const at = take_front(n, take);
  hand_out(take);
  update_next_purge();
  unlock();
  if (!dirty) region::commit(at, take);  // accounting only
  return range + take;
}

Mapping RegionCache::take_for_move(std::size_t bytes) noexcept {
  const std::size_t need = region::align_up(bytes, kGranule);
  lock();
  FreeRange* n = best_fit(false, need);
  char* const base = n != nullptr ? take_front(n, need) : nullptr;
  if (base != nullptr) update_next_purge();
  const std::uint32_t origin = ++origins_;  // the moved pages are another mapping's
  hand_out(need);                           // (forget() takes it back if the move fails)
  unlock();
  // (Not counted as hits or misses: those count obtain() calls.)
  if (base != nullptr) return {base, need, true, origin};
  char* p = static_cast<char*>(region::reserve(need, kGranule));
  if (p == nullptr) {
    forget(need);
    return {};
  }
  return {p, need, true, origin};
}

void RegionCache::forget(std::size_t bytes) noexcept {
  lock();
  forget_locked(bytes);
  unlock();
}

CacheCounters RegionCache::counters() const noexcept {
  region::LockGuard g(lock_);
  return CacheCounters{hits_,
                       misses_,
                       evictions_,
                       purges_,
                       dirty_bytes_ + clean_bytes_,
                       dirty_bytes_,
                       clean_hits_,
                       splits_,
                       merges_,
                       unmaps_,
                       mixed_hits_,
                       in_use_,
                       peak_in_use_,
                       populated_.load(std::memory_order_relaxed)};
}

}  // namespace tinyalloc::large
