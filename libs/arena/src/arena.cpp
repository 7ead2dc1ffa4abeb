#include "tinyalloc/arena.hpp"

#include "tinyalloc/region.hpp"

#include "dirty_pool.hpp"

namespace tinyalloc {

void* Arena::carve() noexcept {
  for (;;) {
    char* cur = cursor_.load(std::memory_order_acquire);
    // end_ is published before cursor_ (release) and read after it (acquire).
    if (cur != nullptr && cur + kSegmentSize <= end_.load(std::memory_order_relaxed)) {
      if (cursor_.compare_exchange_weak(cur, cur + kSegmentSize, std::memory_order_acq_rel))
        return cur;
      continue;
    }
    // Chunk exhausted: one thread reserves the next, the others wait for it.
    bool expected = false;
    if (!chunk_lock_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      while (chunk_lock_.load(std::memory_order_acquire)) {
      }
      continue;
    }
    char* again = cursor_.load(std::memory_order_acquire);
    if (again == cur) {  // nobody installed a chunk meanwhile
      // Address space short (RLIMIT_AS, a full VM): smaller chunks, down to
      // a single segment, so small blocks are served until memory really ends.
      std::size_t size = kChunkSize;
      char* chunk = nullptr;
      for (; size >= kSegmentSize; size /= 4) {
        chunk = static_cast<char*>(region::reserve(size, kSegmentSize));
        if (chunk != nullptr) break;
      }
      if (chunk != nullptr && !segment_map::mark(chunk, size, true)) {
        region::release(chunk, size);
        chunk = nullptr;
      }
      if (chunk == nullptr) {
        chunk_lock_.store(false, std::memory_order_release);
        return nullptr;
      }
      cursor_.store(nullptr, std::memory_order_release);  // stop carvers while end_ changes
      end_.store(chunk + size, std::memory_order_relaxed);
      cursor_.store(chunk, std::memory_order_release);
    }
    chunk_lock_.store(false, std::memory_order_release);
  }
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

void Arena::unmap(Segment* s) noexcept {
  // munmap of part of a chunk is fine on Linux; the window is no longer ours.
  segment_map::mark(s, kSegmentSize, false);
  region::release(s, kSegmentSize, false);
  unmapped_.fetch_add(1, std::memory_order_relaxed);
}

void Arena::to_clean(Segment* s) noexcept {
  region::decommit(s, kSegmentSize);
  purged_.fetch_add(1, std::memory_order_relaxed);
  if (clean_.bounded_push(s)) {
    clean_count_.fetch_add(1, std::memory_order_relaxed);
  } else {
    unmap(s);  // a gigabyte of purged segments is already waiting
  }
}

std::size_t Arena::trim() noexcept {
  purge(0, /*force=*/true);
  std::size_t n = 0;
  Segment* s = nullptr;
  while (clean_.pop(s)) {
    clean_count_.fetch_sub(1, std::memory_order_relaxed);
    unmap(s);
    ++n;
  }
  return n;
}

void Arena::release(Segment* s, std::uint64_t now_ms) noexcept {
  const unsigned c = s->size_class;
  s->owner_flags.store(0, std::memory_order_relaxed);
  s->kind = SegmentKind::Free;
  s->released_at_ms = now_ms;
  if (dirty_count_.load(std::memory_order_relaxed) < options_.max_dirty &&
      options_.purge_delay_ms != 0 && detail::push_dirty(dirty_[c], dirty_count_, s)) {
    // Arm the purge timer if it is not armed earlier.
    std::uint64_t due = now_ms + options_.purge_delay_ms;
    std::uint64_t cur = next_purge_ms_.load(std::memory_order_relaxed);
    while (due < cur && !next_purge_ms_.compare_exchange_weak(cur, due, std::memory_order_relaxed)) {
    }
    return;
  }
  to_clean(s);
}

void Arena::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  if (purging_.exchange(true, std::memory_order_acquire)) return;
  next_purge_ms_.store(~std::uint64_t{0}, std::memory_order_relaxed);
  std::uint64_t earliest_left = ~std::uint64_t{0};
  for (auto& pool : dirty_) {
    // Take the whole pool, purge what is due, put the rest back.
    Segment* keep[kDirtyCapacity];
    std::size_t kept = 0;
    Segment* s = nullptr;
    while (kept < kDirtyCapacity && pool.pop(s)) {
      if (force || now_ms >= s->released_at_ms + options_.purge_delay_ms) {
        dirty_count_.fetch_sub(1, std::memory_order_relaxed);
        to_clean(s);
      } else {
        keep[kept++] = s;
        if (s->released_at_ms < earliest_left) earliest_left = s->released_at_ms;
      }
    }
    for (std::size_t i = 0; i < kept; ++i) {
      if (!pool.bounded_push(keep[i])) {  // refilled meanwhile: purge the surplus
        dirty_count_.fetch_sub(1, std::memory_order_relaxed);
        to_clean(keep[i]);
      }
    }
  }
  if (earliest_left != ~std::uint64_t{0}) {
    std::uint64_t due = earliest_left + options_.purge_delay_ms;
    std::uint64_t cur = next_purge_ms_.load(std::memory_order_relaxed);
    while (due < cur && !next_purge_ms_.compare_exchange_weak(cur, due, std::memory_order_relaxed)) {
    }
  }
  purging_.store(false, std::memory_order_release);
}

namespace {
void acquire_flag(std::atomic<bool>& f) noexcept {
  bool expected = false;
  while (!f.compare_exchange_weak(expected, true, std::memory_order_acquire)) expected = false;
}
}  // namespace

void Arena::lock() noexcept {
  acquire_flag(chunk_lock_);
  acquire_flag(purging_);
}

void Arena::unlock() noexcept {
  purging_.store(false, std::memory_order_release);
  chunk_lock_.store(false, std::memory_order_release);
}

ArenaCounters Arena::counters() const noexcept {
  return ArenaCounters{carved_.load(std::memory_order_relaxed), reused_.load(std::memory_order_relaxed),
                       purged_.load(std::memory_order_relaxed), unmapped_.load(std::memory_order_relaxed),
                       dirty_count_.load(std::memory_order_relaxed), clean_count_.load(std::memory_order_relaxed)};
}

}  // namespace tinyalloc
