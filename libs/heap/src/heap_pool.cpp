#include "heap_pool.hpp"

#include <new>

#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

Heap* HeapPool::take_parked() noexcept {
  region::LockGuard g(lock_);
  if (parked_.empty()) return nullptr;
  Heap* h = &parked_.front();
  parked_.pop_front();
  note_oldest();
  reused_.fetch_add(1, std::memory_order_relaxed);
  return h;
}

Heap* HeapPool::acquire() noexcept {
  for (;;) {
    {
      region::LockGuard g(lock_);
      if (!free_.empty()) {
        Heap* h = &free_.front();
        free_.pop_front();
        return h;
      }
      if (chunks_ != nullptr && chunks_->used < kPerChunk) return carve();
    }
    // A new chunk, mapped without the lock held; if another thread installed
    // one meanwhile, ours goes back.
    auto* c = static_cast<Chunk*>(region::reserve(kChunkBytes, region::page_size()));
    if (c == nullptr) return nullptr;
    region::commit(c, kChunkBytes);
    c->used = 0;
    {
      region::LockGuard g(lock_);
      if (chunks_ == nullptr || chunks_->used == kPerChunk) {
        c->next = chunks_;
        chunks_ = c;
        return carve();
      }
    }
    (void)region::release(c, kChunkBytes, true);  // a failure is counted by region
  }
}

// Under the lock: the next never-used heap of the newest chunk.
Heap* HeapPool::carve() noexcept {
  ++created_;
  Heap* h = &chunks_->heaps()[chunks_->used];
  // Zero the counters once; a recycled heap keeps counting where it was.
  for (auto& k : h->classes) k.served.store(0, std::memory_order_relaxed);
  for (auto& k : h->direct) k.served.store(0, std::memory_order_relaxed);
  // Constructed once, when the storage is new.
  ::new (&h->handed_off) std::atomic<Block*>(nullptr);
  ::new (&h->pool_hook) decltype(h->pool_hook)();
  ++chunks_->used;
  return h;
}

void HeapPool::park(Heap* h, std::uint64_t now_ms) noexcept {
  region::LockGuard g(lock_);
  // Kept in parking order (two threads may read the clock in either order).
  h->parked_at_ms = parked_.empty() || parked_.front().parked_at_ms < now_ms ? now_ms : parked_.front().parked_at_ms;
  parked_.push_front(*h);
  note_oldest();
}

Heap* HeapPool::take_idle(std::uint64_t before_ms) noexcept {
  region::LockGuard g(lock_);
  if (parked_.empty() || parked_.back().parked_at_ms > before_ms) return nullptr;
  Heap* h = &parked_.back();
  parked_.pop_back();
  note_oldest();
  return h;
}

void HeapPool::release(Heap* h) noexcept {
  region::LockGuard g(lock_);
  free_.push_front(*h);
}

// Under the lock.  The back is the heap parked longest.
void HeapPool::note_oldest() noexcept {
  oldest_parked_ms_.store(parked_.empty() ? ~std::uint64_t{0} : parked_.back().parked_at_ms, std::memory_order_relaxed);
}

}  // namespace tinyalloc::detail
