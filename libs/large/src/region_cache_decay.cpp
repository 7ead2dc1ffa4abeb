// RegionCache's clock and decay curve.  Every function here runs under the
// cache's lock (see region_cache.cpp).
#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

// ---- time and decay ------------------------------------------------------------------

std::uint64_t RegionCache::clock(std::uint64_t now) noexcept {
  if (now > last_now_) last_now_ = now;
  return last_now_;
}

void RegionCache::advance_epoch(std::uint64_t now) noexcept {
  const std::uint64_t e = now / epoch_ms_;
  if (e <= epoch_) return;
  const std::uint64_t shift = e - epoch_;
  for (std::size_t i = kEpochs; i-- > 0;) freed_[i] = i >= shift ? freed_[i - shift] : 0;
  epoch_ = e;
}

// The dirty bytes the decay curve allows now: freed[i] x (kEpochs - i) / kEpochs
// summed over the last kEpochs epochs (i = 0 is the current one).
std::size_t RegionCache::allowed_dirty() const noexcept {
  if (options_.purge_delay_ms == 0) return 0;
  std::size_t sum = 0;
  for (std::size_t i = 0; i < kEpochs; ++i) sum += freed_[i] / kEpochs * (kEpochs - i);
  return sum;
}

// Blocks now hold `bytes` more (of ranges taken out of the trees).
void RegionCache::hand_out(std::size_t bytes) noexcept {
  in_use_ += bytes;
  if (in_use_ > peak_in_use_) peak_in_use_ = in_use_;
}

// Blocks hold `bytes` less (given back, or gone: see forget()).
void RegionCache::forget_locked(std::size_t bytes) noexcept {
  TINYALLOC_ASSERT(bytes <= in_use_);
  in_use_ -= bytes < in_use_ ? bytes : in_use_;
}

// The most dirty bytes the cache may hold now (see the class comment).
std::size_t RegionCache::ceiling() const noexcept {
  const std::size_t room = peak_in_use_ + peak_in_use_ / kPeakSlack - in_use_;
  return room < options_.max_bytes ? room : options_.max_bytes;
}

void RegionCache::collect_over_ceiling(AgeList& out) noexcept {
  const std::size_t most = ceiling();
  while (dirty_bytes_ > most && !dirty_age_.empty()) out.push_back(*take_oldest_dirty(dirty_bytes_ - most));
}

// When purge() should next look: the next epoch boundary while anything is
// dirty (decay), or the oldest dirty range's delay (decay off).  Not later:
// the heap's purge thread sleeps until the time it last read here, and a range
// freed meanwhile must not wait longer than that.  Clean ranges hold no
// memory, only address space: they set no time of their own, and are unmapped
// by the purges that run anyway (and by flush()).
void RegionCache::update_next_purge() noexcept {
  std::uint64_t next = ~std::uint64_t{0};
  if (dirty_bytes_ != 0) {
    if (!options_.decay)
      next = dirty_age_.front().since_ms + options_.purge_delay_ms;
    else
      next = options_.purge_delay_ms == 0 ? 0 : (epoch_ + 1) * epoch_ms_;
  }
  next_purge_ms_.store(next, std::memory_order_relaxed);
}

}  // namespace tinyalloc::large
