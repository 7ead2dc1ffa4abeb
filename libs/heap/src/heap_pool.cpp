#include "heap_pool.hpp"

#include <new>

#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

Heap* HeapPool::acquire() noexcept {
  for (;;) {
    {
      region::LockGuard g(lock_);
      if (free_ != nullptr) {
        Heap* h = free_;
        free_ = h->next_free;
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
  ::new (&h->handed_off) std::atomic<Block*>(nullptr);  // constructed once, when the storage is new
  ++chunks_->used;
  return h;
}

void HeapPool::release(Heap* h) noexcept {
  region::LockGuard g(lock_);
  h->next_free = free_;
  free_ = h;
}

}  // namespace tinyalloc::detail
