#include "heap_pool.hpp"

#include <new>

#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

Heap* HeapPool::acquire() noexcept {
  LockGuard g(lock_);
  if (free_ != nullptr) {
    Heap* h = free_;
    free_ = h->next_free;
    return h;
  }
  if (chunks_ == nullptr || chunks_->used == kPerChunk) {
    auto* c = static_cast<Chunk*>(region::reserve(kChunkBytes, region::page_size()));
    if (c == nullptr) return nullptr;
    region::commit(c, kChunkBytes);
    c->next = chunks_;
    c->used = 0;
    chunks_ = c;
  }
  ++created_;
  Heap* h = &chunks_->heaps()[chunks_->used];
  // Zero the counters once; a recycled heap keeps counting where it was.
  for (auto& k : h->classes) k.served.store(0, std::memory_order_relaxed);
  ::new (&h->remote_pending) std::atomic<bool>(false);  // constructed once, when the storage is new
  ++chunks_->used;
  return h;
}

void HeapPool::release(Heap* h) noexcept {
  LockGuard g(lock_);
  h->next_free = free_;
  free_ = h;
}

}  // namespace tinyalloc::detail
