// CachedMap: a bounded table of freed mappings.  The table is changed under
// one lock; every system call (mmap, madvise, munmap) is made after it is
// released, on entries taken out of the table first, so no other thread can
// reach a mapping while the kernel works on it.
#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

static_assert(MappingStrategy<DirectMap> && MappingStrategy<CachedMap>);

void CachedMap::lock() noexcept { lock_.lock(); }
void CachedMap::unlock() noexcept { lock_.unlock(); }

std::size_t CachedMap::oldest(bool resident_only) const noexcept {
  std::size_t best = used_;
  for (std::size_t i = 0; i < used_; ++i) {
    if (resident_only && !slots_[i].resident) continue;
    if (best == used_ || slots_[i].freed_at_ms < slots_[best].freed_at_ms) best = i;
  }
  return best;
}

// Remove slot i from the table (its mapping is the caller's now).
void CachedMap::drop_slot(std::size_t i) noexcept {
  cached_bytes_ -= slots_[i].size;
  if (slots_[i].resident) resident_bytes_ -= slots_[i].size;
  slots_[i] = slots_[--used_];
}

// Under the lock: put e in the table; false if it is full.
bool CachedMap::insert(const Entry& e) noexcept {
  if (used_ == kSlots) return false;
  slots_[used_++] = e;
  cached_bytes_ += e.size;
  if (e.resident) resident_bytes_ += e.size;
  return true;
}

// Outside the lock: decommit entries taken out of the table, then put them
// back as address space only (or unmap them if the table filled up).  An
// entry whose madvise failed goes back resident, for the next purge to retry.
void CachedMap::decommit_outside_lock(Entry* entries, std::size_t n) noexcept {
  if (n == 0) return;
  for (std::size_t i = 0; i < n; ++i) {
    if (region::decommit(entries[i].base, entries[i].size)) entries[i].resident = false;
  }
  std::size_t unplaced = 0;
  lock();
  for (std::size_t i = 0; i < n; ++i) {
    if (!entries[i].resident) ++purges_;
    if (!insert(entries[i])) entries[unplaced++] = entries[i];
  }
  if (unplaced != 0) evictions_ += unplaced;
  unlock();
  for (std::size_t i = 0; i < unplaced; ++i)
    (void)region::release(entries[i].base, entries[i].size, entries[i].resident);
}

Mapping CachedMap::obtain(std::size_t bytes, std::size_t alignment) noexcept {
  if (alignment <= kSegmentSize) {  // every cached mapping is segment-aligned
    lock();
    // Best fit among entries that waste at most a quarter.
    std::size_t best = used_;
    for (std::size_t i = 0; i < used_; ++i) {
      const std::size_t s = slots_[i].size;
      if (s >= bytes && s - bytes <= bytes / 4 && (best == used_ || s < slots_[best].size)) best = i;
    }
    if (best != used_) {
      const Entry e = slots_[best];
      drop_slot(best);
      ++hits_;
      unlock();
      if (!e.resident) region::commit(e.base, e.size);
      return {e.base, e.size, !e.resident};
    }
    ++misses_;
    unlock();
  }
  char* p = static_cast<char*>(region::reserve(bytes, alignment));
  if (p == nullptr) {
    // Address space or memory is short: empty the cache and try once more.
    flush();
    p = static_cast<char*>(region::reserve(bytes, alignment));
    if (p == nullptr) return {};
  }
  region::commit(p, bytes);
  return {p, bytes, true};
}

void CachedMap::give_back(const Mapping& m) noexcept {
  // A block of exactly the budget maps a page or two more (its header): keep
  // it; the resident bound below decommits it if it must.  Anything larger
  // would evict everything else: not worth keeping.
  if (options_.max_bytes == 0 || m.size > options_.max_bytes + kSegmentSize) {
    (void)region::release(m.base, m.size, true);  // a failure is counted by region
    return;
  }
  Entry evicted{};
  Entry over[kSlots];  // resident entries above the budget, to decommit
  std::size_t n_over = 0;
  const std::uint64_t now = region::now_ms();
  lock();
  if (used_ == kSlots) {  // every slot taken: unmap the oldest
    const std::size_t i = oldest(false);
    evicted = slots_[i];
    drop_slot(i);
    ++evictions_;
  }
  insert(Entry{m.base, m.size, now, true});
  while (resident_bytes_ > options_.max_bytes) {
    const std::size_t i = oldest(true);
    over[n_over++] = slots_[i];
    drop_slot(i);
  }
  if (now + options_.purge_delay_ms < next_purge_ms_.load(std::memory_order_relaxed))
    next_purge_ms_.store(now + options_.purge_delay_ms, std::memory_order_relaxed);
  unlock();
  if (evicted.base != nullptr) (void)region::release(evicted.base, evicted.size, evicted.resident);
  decommit_outside_lock(over, n_over);
}

void CachedMap::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  Entry due[kSlots];
  std::size_t n_due = 0;
  lock();
  std::uint64_t next = ~std::uint64_t{0};
  for (std::size_t i = 0; i < used_;) {
    const Entry& e = slots_[i];
    const std::uint64_t at = e.freed_at_ms + options_.purge_delay_ms;
    if (e.resident && (force || now_ms >= at)) {
      due[n_due++] = e;
      drop_slot(i);  // moves the last entry into i: look at i again
      continue;
    }
    if (e.resident && at < next) next = at;
    ++i;
  }
  next_purge_ms_.store(next, std::memory_order_relaxed);
  unlock();
  decommit_outside_lock(due, n_due);
}

void CachedMap::flush() noexcept {
  for (;;) {
    lock();
    if (used_ == 0) {
      unlock();
      return;
    }
    const Entry e = slots_[used_ - 1];
    drop_slot(used_ - 1);
    unlock();
    (void)region::release(e.base, e.size, e.resident);  // a failure is counted by region
  }
}

CacheCounters CachedMap::counters() const noexcept {
  region::LockGuard g(lock_);
  return CacheCounters{hits_, misses_, evictions_, purges_, cached_bytes_, resident_bytes_, 0, 0, 0, 0, 0, 0, 0, 0};
}

}  // namespace tinyalloc::large
