#include <immintrin.h>

#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

void CachedMap::lock() noexcept {
  while (lock_.exchange(true, std::memory_order_acquire)) {
    while (lock_.load(std::memory_order_relaxed)) _mm_pause();
  }
}

void CachedMap::unlock() noexcept { lock_.store(false, std::memory_order_release); }

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

void CachedMap::decommit_slot(std::size_t i) noexcept {
  region::decommit(slots_[i].base, slots_[i].size);
  slots_[i].resident = false;
  resident_bytes_ -= slots_[i].size;
  ++purges_;
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
    region::release(m.base, m.size, true);
    return;
  }
  Entry evicted{};
  lock();
  if (used_ == kSlots) {  // every slot taken: unmap the oldest
    const std::size_t i = oldest(false);
    evicted = slots_[i];
    drop_slot(i);
    ++evictions_;
  }
  const std::uint64_t now = region::now_ms();
  slots_[used_++] = Entry{m.base, m.size, now, true};
  cached_bytes_ += m.size;
  resident_bytes_ += m.size;
  while (resident_bytes_ > options_.max_bytes) decommit_slot(oldest(true));
  if (now + options_.purge_delay_ms < next_purge_ms_.load(std::memory_order_relaxed))
    next_purge_ms_.store(now + options_.purge_delay_ms, std::memory_order_relaxed);
  unlock();
  if (evicted.base != nullptr) region::release(evicted.base, evicted.size, evicted.resident);
}

void CachedMap::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  lock();
  std::uint64_t next = ~std::uint64_t{0};
  for (std::size_t i = 0; i < used_; ++i) {
    if (!slots_[i].resident) continue;
    const std::uint64_t due = slots_[i].freed_at_ms + options_.purge_delay_ms;
    if (force || now_ms >= due) {
      decommit_slot(i);
    } else if (due < next) {
      next = due;
    }
  }
  next_purge_ms_.store(next, std::memory_order_relaxed);
  unlock();
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
    region::release(e.base, e.size, e.resident);
  }
}

CacheCounters CachedMap::counters() const noexcept {
  auto* self = const_cast<CachedMap*>(this);
  self->lock();
  CacheCounters c{hits_, misses_, evictions_, purges_, cached_bytes_, resident_bytes_};
  self->unlock();
  return c;
}

}  // namespace tinyalloc::large
