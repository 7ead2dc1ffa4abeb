// Storage for Heap structs: carved from region memory, recycled through a
// free list, never returned to the OS (so a stale Heap* read by a remote free
// is always safe to write a flag into, and statistics can visit every heap
// that ever existed).
#pragma once

#include <cstddef>

#include "tinyalloc/heap.hpp"
#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

class HeapPool {
 public:
  /// An unused heap's storage (not constructed), or nullptr.
  Heap* acquire() noexcept;
  void release(Heap* h) noexcept;
  std::size_t created() const noexcept { return created_; }

  /// Visit every heap ever handed out (live or recycled).
  template <class F>
  void for_each(F&& f) noexcept {
    region::LockGuard g(lock_);
    for (Chunk* c = chunks_; c != nullptr; c = c->next)
      for (std::size_t i = 0; i < c->used; ++i) f(c->heaps()[i]);
  }

  region::Lock& lock() noexcept { return lock_; }

 private:
  struct Chunk {
    Chunk* next;
    std::size_t used;
    Heap* heaps() noexcept { return reinterpret_cast<Heap*>(reinterpret_cast<char*>(this) + kHeapOffset); }
  };
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  static constexpr std::size_t kHeapOffset = 128;
  static constexpr std::size_t kPerChunk = (kChunkBytes - kHeapOffset) / sizeof(Heap);

  Heap* carve() noexcept;

  region::Lock lock_;
  Chunk* chunks_ = nullptr;
  Heap* free_ = nullptr;
  std::size_t created_ = 0;
};

}  // namespace tinyalloc::detail
