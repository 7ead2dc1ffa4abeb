#include "tinyalloc/arena.hpp"

#include "tinyalloc/region.hpp"

#include "dirty_pool.hpp"

namespace tinyalloc {

void* Arena::carve(std::size_t windows) noexcept {
  const std::size_t need = windows * kSegmentSize;
  for (;;) {
    char* cur = cursor_.load(std::memory_order_acquire);
    // end_ is published before cursor_ (release) and read after it (acquire).
    if (cur != nullptr && cur + need <= end_.load(std::memory_order_relaxed)) {
      if (cursor_.compare_exchange_weak(cur, cur + need, std::memory_order_acq_rel)) return cur;
      continue;
    }
    if (!install_chunk(cur, need)) return nullptr;
  }
}

// The current chunk (cursor `seen`) cannot fit `need` bytes: reserve the next
// one (no lock held across the mmap) and install it, unless another thread
// installed one meanwhile that fits, in which case ours goes back.  What is
// left of the old chunk becomes one-window segments in the clean pool.  False
// if the OS refuses.
bool Arena::install_chunk(char* seen, std::size_t need) noexcept {
  // Address space short (RLIMIT_AS, a full VM): smaller chunks, down to what
  // the request needs, so blocks are served until memory really ends.
  std::size_t size = kChunkSize;
  char* chunk = nullptr;
  for (; size >= need; size /= 4) {
    chunk = static_cast<char*>(region::reserve(size, kSegmentSize));
    if (chunk != nullptr) break;
  }
  if (chunk == nullptr && need > kSegmentSize) {
    size = need;
    chunk = static_cast<char*>(region::reserve(size, kSegmentSize));
  }
  if (chunk == nullptr) return false;
  if (!segment_map::mark(chunk, size, true)) {
    (void)region::release(chunk, size);  // failure: counted by region, nothing else to do
    return false;
  }
  char* left = nullptr;
  char* old_end = nullptr;
  bool installed = false;
  {
    region::LockGuard g(chunk_lock_);
    char* cur = cursor_.load(std::memory_order_acquire);
    old_end = end_.load(std::memory_order_relaxed);
    if (cur == seen || cur == nullptr || cur + need > old_end) {
      // Stop carvers (their CAS on a non-null cursor fails) while end_ changes;
      // what they had not carved of the old chunk is ours to recycle.
      left = cursor_.exchange(nullptr, std::memory_order_acq_rel);
      end_.store(chunk + size, std::memory_order_relaxed);
      cursor_.store(chunk, std::memory_order_release);
      installed = true;
    }
  }
  if (!installed) {  // another thread installed a chunk with room: use it
    segment_map::mark(chunk, size, false);
    (void)region::release(chunk, size);
    return true;
  }
  if (left != nullptr) recycle_windows(left, old_end);
  return true;
}

// Never-touched windows at the end of a chunk: one-window segments for
// whoever needs one.
void Arena::recycle_windows(char* from, char* to) noexcept {
  for (char* w = from; w + kSegmentSize <= to; w += kSegmentSize) {
    if (clean_.bounded_push(reinterpret_cast<Segment*>(w))) {
      clean_count_.fetch_add(1, std::memory_order_relaxed);
    } else {
      (void)unmap(w, 1, false);
    }
  }
}

bool Arena::push_clean(void* at, std::size_t windows) noexcept {
  auto* s = static_cast<Segment*>(at);
  if (!(windows == 1 ? clean_.bounded_push(s) : spans_[windows - 1].bounded_push(s))) return false;
  clean_count_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void* Arena::pop_clean(std::size_t windows) noexcept {
  Segment* s = nullptr;
  if (!(windows == 1 ? clean_.pop(s) : spans_[windows - 1].pop(s))) return nullptr;
  clean_count_.fetch_sub(1, std::memory_order_relaxed);
  return s;
}

std::size_t Arena::dirty_pool(std::size_t windows, std::size_t reach) noexcept {
  // A span reaches past its first windows - 1 windows (or is pooled as if it
  // did: one whose blocks were never carved), so a length's pools are a run.
  const std::size_t floor = (windows - 1) * kSegmentSize + 1;
  if (reach < floor) reach = floor;
  const std::size_t end = windows * kSegmentSize;
  if (reach > end) reach = end;
  return (reach - 1) / kReachStep;
}

// A warm segment from dirty pool `pool`.  Not split from a longer one: with
// no coalescing, splitting turned long spans into one-window pieces that
// long requests could not use (measured: 1.3 M page faults against 0.18 M
// on the medium_two_threads workload).
Segment* Arena::pop_dirty(std::size_t pool) noexcept {
  Segment* s = nullptr;
  if (!dirty_[pool].pop(s)) return nullptr;
  dirty_count_.fetch_sub(s->windows, std::memory_order_relaxed);
  return s;
}

Arena::Grant Arena::acquire(unsigned size_class) noexcept {
  const std::size_t windows = windows_of(size_class);
  // What the class will touch: its one block, or (several blocks a segment,
  // carved as they are needed) in time the whole window.  Only a class of
  // one block a span may borrow a longer one: a segment of several windows
  // holds one block (only the first window has a header).
  const std::size_t block = size_class::size_of(size_class);
  const bool one_block = block * 2 > kSegmentSize - kFirstBlock;
  const std::size_t need = one_block ? kFirstBlock + block : windows * kSegmentSize;
  const Grant g = take(windows, need, one_block ? options_.borrow_windows : 0);
  if (g.memory != nullptr) held_.fetch_add(g.windows, std::memory_order_relaxed);
  return g;
}

Arena::Grant Arena::take(std::size_t windows, std::size_t need, std::size_t borrow) noexcept {
  auto warm = [&](Segment* s) {
    reused_.fetch_add(1, std::memory_order_relaxed);
    if (s->windows > windows) borrowed_.fetch_add(1, std::memory_order_relaxed);
    return Grant{s, false, s->windows, s->reach()};
  };
  // The order of arena.hpp: the pools from the one reaching as far as
  // `need` up to the longest span it may borrow are one run, then those of
  // its length reaching less far, nearest first.
  const std::size_t first = (windows - 1) * kReachSteps, fit = dirty_pool(windows, need);
  const std::size_t longest = windows + borrow < kMaxWindows ? windows + borrow : kMaxWindows;
  for (std::size_t p = fit; p < longest * kReachSteps; ++p)
    if (Segment* s = pop_dirty(p)) return warm(s);
  for (std::size_t p = fit; p-- > first;)
    if (Segment* s = pop_dirty(p)) return warm(s);
  if (void* clean = pop_clean(windows)) {
    reused_.fetch_add(1, std::memory_order_relaxed);
    region::commit(clean, windows * kSegmentSize, options_.prefault);
    return {clean, true, windows, 0};
  }
  void* fresh = carve(windows);
  if (fresh == nullptr) return {nullptr, false, windows, 0};
  carved_.fetch_add(1, std::memory_order_relaxed);
  region::commit(fresh, windows * kSegmentSize, options_.prefault);
  return {fresh, true, windows, 0};
}

// Give a segment's address space back.  munmap of part of a chunk splits a
// mapping, which the kernel refuses at vm.max_map_count: then the segment
// stays ours (false) and the caller keeps it pooled.
bool Arena::unmap(void* at, std::size_t windows, bool committed) noexcept {
  if (!region::release(at, windows * kSegmentSize, committed)) return false;
  segment_map::mark(at, windows * kSegmentSize, false);
  unmapped_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Decommit a dirty segment into its clean pool.  False if madvise failed: the
// caller keeps it dirty and the next purge tries again.
bool Arena::to_clean(Segment* s) noexcept {
  const std::size_t windows = s->windows;
  if (!region::decommit(s, windows * kSegmentSize)) return false;
  purged_.fetch_add(1, std::memory_order_relaxed);
  // Its pool full: a gigabyte of purged segments is already waiting.  If
  // even the unmap fails, only address space is lost (no resident memory),
  // and region counted the failure for TINYALLOC_VERBOSE to report.
  if (!push_clean(s, windows)) (void)unmap(s, windows, false);
  return true;
}

std::size_t Arena::dirty_cap() const noexcept {
  const std::size_t share = held_.load(std::memory_order_relaxed) / kDirtyShare;
  return share > options_.max_dirty ? share : options_.max_dirty;
}

void Arena::arm_purge(std::uint64_t due) noexcept {
  std::uint64_t cur = next_purge_ms_.load(std::memory_order_relaxed);
  while (due < cur && !next_purge_ms_.compare_exchange_weak(cur, due, std::memory_order_relaxed)) {
  }
}

std::size_t Arena::trim() noexcept {
  purge(0, /*force=*/true);
  // Unmap what the clean pools hold; what the kernel refuses to unmap goes
  // back (at most 64 per length are examined, so a refusal cannot loop).
  std::size_t n = 0;
  for (std::size_t windows = 1; windows <= kMaxWindows; ++windows) {
    void* keep[64];
    std::size_t kept = 0;
    while (kept < 64) {
      void* at = pop_clean(windows);
      if (at == nullptr) break;
      if (unmap(at, windows, false)) {
        ++n;
      } else {
        keep[kept++] = at;
      }
    }
    for (std::size_t i = 0; i < kept; ++i) (void)push_clean(keep[i], windows);
  }
  return n;
}

void Arena::release(Segment* s, std::uint64_t now_ms) noexcept {
  const std::size_t windows = s->windows;
  held_.fetch_sub(windows, std::memory_order_relaxed);
  // Kept in the header while pooled: the next segment in this memory
  // starts from it (Grant::reached).
  s->reached = static_cast<std::uint32_t>(s->reach());
  s->retire();
  s->released_at_ms = now_ms;
  if (dirty_count_.load(std::memory_order_relaxed) + windows <= dirty_cap() && options_.purge_delay_ms != 0 &&
      push_dirty(s)) {
    arm_purge(now_ms + options_.purge_delay_ms);
    return;
  }
  if (to_clean(s)) return;
  // madvise failed: keep it dirty (resident), for the next purge to retry.
  if (push_dirty(s)) arm_purge(now_ms);
}

// Into the pool of its reach, or, that one full, of its length reaching less
// far: it then covers more than a taker expects, which costs no fault.  (A
// program that frees hundreds of full small segments at once, such as
// ini_parse_huge destroying its document, fills the one pool of a full
// window.)
bool Arena::push_dirty(Segment* s) noexcept {
  const std::size_t windows = s->windows, first = (windows - 1) * kReachSteps;
  for (std::size_t p = dirty_pool(windows, s->reached) + 1; p-- > first;)
    if (detail::push_dirty(dirty_[p], dirty_count_, s, windows)) return true;
  return false;
}

// Lock-free like the pools: a segment is decommitted only by the purger that
// popped it, so two purgers at once (the purge thread and a trim) only share
// the work; each re-arms the time of what it put back.
void Arena::purge(std::uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_purge_ms_.load(std::memory_order_relaxed)) return;
  next_purge_ms_.store(~std::uint64_t{0}, std::memory_order_relaxed);
  std::uint64_t earliest_left = ~std::uint64_t{0};
  for (auto& pool : dirty_) {
    // Take the whole pool, purge what is due, put the rest back.
    Segment* keep[kDirtyCapacity];
    std::size_t kept = 0;
    Segment* s = nullptr;
    while (kept < kDirtyCapacity && pool.pop(s)) {
      const std::size_t windows = s->windows;
      if ((force || now_ms >= s->released_at_ms + options_.purge_delay_ms) && to_clean(s)) {
        dirty_count_.fetch_sub(windows, std::memory_order_relaxed);
      } else {
        keep[kept++] = s;
        if (s->released_at_ms < earliest_left) earliest_left = s->released_at_ms;
      }
    }
    for (std::size_t i = 0; i < kept; ++i) {
      if (!pool.bounded_push(keep[i])) {  // refilled meanwhile: purge the surplus
        const std::size_t windows = keep[i]->windows;
        dirty_count_.fetch_sub(windows, std::memory_order_relaxed);
        // No room to keep it: unmapping frees it too.
        if (!to_clean(keep[i])) (void)unmap(keep[i], windows, /*committed=*/true);
      }
    }
  }
  if (earliest_left != ~std::uint64_t{0}) arm_purge(earliest_left + options_.purge_delay_ms);
}

void Arena::lock() noexcept { chunk_lock_.lock(); }

void Arena::unlock() noexcept { chunk_lock_.unlock(); }

ArenaCounters Arena::counters() const noexcept {
  return ArenaCounters{carved_.load(std::memory_order_relaxed),      reused_.load(std::memory_order_relaxed),
                       purged_.load(std::memory_order_relaxed),      unmapped_.load(std::memory_order_relaxed),
                       dirty_count_.load(std::memory_order_relaxed), clean_count_.load(std::memory_order_relaxed),
                       held_.load(std::memory_order_relaxed),        borrowed_.load(std::memory_order_relaxed)};
}

}  // namespace tinyalloc
