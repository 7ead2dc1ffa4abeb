#include "tinyalloc/arena.hpp"

#include "tinyalloc/region.hpp"

#include "dirty_pool.hpp"

namespace tinyalloc {

void* Arena::carve() noexcept {
  for (;;) {
    char* cur = cursor_.load(std::memory_order_acquire);
    // end_ is published before cursor_ (release) and read after it (acquire).
    if (cur != nullptr && cur + kSegmentSize <= end_.load(std::memory_order_relaxed)) {
      if (cursor_.compare_exchange_weak(cur, cur + kSegmentSize, std::memory_order_acq_rel)) return cur;
      continue;
    }
    if (!install_chunk(cur)) return nullptr;
  }
}

// The chunk whose cursor was `seen` is exhausted: reserve the next one (no
// lock held across the mmap) and install it, unless another thread installed
// one meanwhile, in which case ours goes back.  False if the OS refuses.
bool Arena::install_chunk(char* seen) noexcept {
  // Address space short (RLIMIT_AS, a full VM): smaller chunks, down to a
  // single segment, so small blocks are served until memory really ends.
  std::size_t size = kChunkSize;
  char* chunk = nullptr;
  for (; size >= kSegmentSize; size /= 4) {
    chunk = static_cast<char*>(region::reserve(size, kSegmentSize));
    if (chunk != nullptr) break;
  }
  if (chunk == nullptr) return false;
  if (!segment_map::mark(chunk, size, true)) {
    (void)region::release(chunk, size);  // failure: counted by region, nothing else to do
    return false;
  }
  bool installed = false;
  {
    region::LockGuard g(chunk_lock_);
    if (cursor_.load(std::memory_order_acquire) == seen) {
      cursor_.store(nullptr, std::memory_order_release);  // stop carvers while end_ changes
      end_.store(chunk + size, std::memory_order_relaxed);
      cursor_.store(chunk, std::memory_order_release);
      installed = true;
    }
  }
  if (!installed) {  // another thread won: use its chunk
    segment_map::mark(chunk, size, false);
    (void)region::release(chunk, size);
  }
  return true;
}

Arena::Grant Arena::acquire(unsigned size_class) noexcept {
  Segment* s = nullptr;
  if (dirty_[size_class].pop(s)) {
    dirty_count_.fetch_sub(1, std::memory_order_relaxed);
    reused_.fetch_add(1, std::memory_order_relaxed);
    return {s, false};
  }
  if (clean_.pop(s)) {
    clean_count_.fetch_sub(1, std::memory_order_relaxed);
    reused_.fetch_add(1, std::memory_order_relaxed);
    region::commit(s, kSegmentSize, options_.prefault);
    return {s, true};
  }
  void* fresh = carve();
  if (fresh == nullptr) {
    // No address space left: an emptied segment of any other class will do.
    for (auto& pool : dirty_) {
      if (pool.pop(s)) {
        dirty_count_.fetch_sub(1, std::memory_order_relaxed);
        reused_.fetch_add(1, std::memory_order_relaxed);
        return {s, false};
      }
    }
    return {nullptr, false};
  }
  carved_.fetch_add(1, std::memory_order_relaxed);
  region::commit(fresh, kSegmentSize, options_.prefault);
  return {fresh, true};
}

// Give a decommitted segment's address space back.  munmap of part of a
// chunk splits a mapping, which the kernel refuses at vm.max_map_count: then
// the segment stays ours (false) and the caller keeps it pooled.
bool Arena::unmap(Segment* s, bool committed) noexcept {
  if (!region::release(s, kSegmentSize, committed)) return false;
  segment_map::mark(s, kSegmentSize, false);
  unmapped_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Decommit a dirty segment into the clean pool.  False if madvise failed: the
// caller keeps it dirty and the next purge tries again.
bool Arena::to_clean(Segment* s) noexcept {
  if (!region::decommit(s, kSegmentSize)) return false;
  purged_.fetch_add(1, std::memory_order_relaxed);
  if (clean_.bounded_push(s)) {
    clean_count_.fetch_add(1, std::memory_order_relaxed);
  } else {
    // A gigabyte of purged segments is already waiting.  If even the unmap
    // fails, only address space is lost (no resident memory), and region
    // counted the failure for TINYALLOC_VERBOSE to report.
    (void)unmap(s);
  }
  return true;
}

void Arena::arm_purge(std::uint64_t due) noexcept {
  std::uint64_t cur = next_purge_ms_.load(std::memory_order_relaxed);
  while (due < cur && !next_purge_ms_.compare_exchange_weak(cur, due, std::memory_order_relaxed)) {
  }
}

std::size_t Arena::trim() noexcept {
  purge(0, /*force=*/true);
  // Unmap what the clean pool holds; what the kernel refuses to unmap goes
  // back (at most a pool's worth is examined, so a refusal cannot loop).
  Segment* keep[64];
  std::size_t kept = 0, n = 0;
  Segment* s = nullptr;
  while (kept < 64 && clean_.pop(s)) {
    clean_count_.fetch_sub(1, std::memory_order_relaxed);
    if (unmap(s)) {
      ++n;
    } else {
      keep[kept++] = s;
    }
  }
  for (std::size_t i = 0; i < kept; ++i) {
    if (clean_.bounded_push(keep[i])) clean_count_.fetch_add(1, std::memory_order_relaxed);
  }
  return n;
}

void Arena::release(Segment* s, std::uint64_t now_ms) noexcept {
  const unsigned c = s->size_class;
  s->retire();
  s->released_at_ms = now_ms;
  if (dirty_count_.load(std::memory_order_relaxed) < options_.max_dirty && options_.purge_delay_ms != 0 &&
      detail::push_dirty(dirty_[c], dirty_count_, s)) {
    arm_purge(now_ms + options_.purge_delay_ms);
    return;
  }
  if (to_clean(s)) return;
  // madvise failed: keep it dirty (resident), for the next purge to retry.
  if (dirty_[c].bounded_push(s)) {
    dirty_count_.fetch_add(1, std::memory_order_relaxed);
    arm_purge(now_ms);
  }
}

void Arena::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  if (!purge_lock_.try_lock()) return;
  next_purge_ms_.store(~std::uint64_t{0}, std::memory_order_relaxed);
  std::uint64_t earliest_left = ~std::uint64_t{0};
  for (auto& pool : dirty_) {
    // Take the whole pool, purge what is due, put the rest back.
    Segment* keep[kDirtyCapacity];
    std::size_t kept = 0;
    Segment* s = nullptr;
    while (kept < kDirtyCapacity && pool.pop(s)) {
      if ((force || now_ms >= s->released_at_ms + options_.purge_delay_ms) && to_clean(s)) {
        dirty_count_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        keep[kept++] = s;
        if (s->released_at_ms < earliest_left) earliest_left = s->released_at_ms;
      }
    }
    for (std::size_t i = 0; i < kept; ++i) {
      if (!pool.bounded_push(keep[i])) {  // refilled meanwhile: purge the surplus
        dirty_count_.fetch_sub(1, std::memory_order_relaxed);
        if (!to_clean(keep[i])) (void)unmap(keep[i], /*committed=*/true);  // no room to keep it: unmapping frees it too
      }
    }
  }
  if (earliest_left != ~std::uint64_t{0}) arm_purge(earliest_left + options_.purge_delay_ms);
  purge_lock_.unlock();
}

void Arena::lock() noexcept {
  chunk_lock_.lock();
  purge_lock_.lock();
}

void Arena::unlock() noexcept {
  purge_lock_.unlock();
  chunk_lock_.unlock();
}

ArenaCounters Arena::counters() const noexcept {
  return ArenaCounters{carved_.load(std::memory_order_relaxed),      reused_.load(std::memory_order_relaxed),
                       purged_.load(std::memory_order_relaxed),      unmapped_.load(std::memory_order_relaxed),
                       dirty_count_.load(std::memory_order_relaxed), clean_count_.load(std::memory_order_relaxed)};
}

}  // namespace tinyalloc
