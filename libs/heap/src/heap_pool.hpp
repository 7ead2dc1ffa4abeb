// Storage for Heap structs, and the heaps of exited threads waiting whole for
// the next thread.
//
// Storage is carved from region memory, recycled, and never returned to the
// OS (so a stale Heap* read by a remote free is always safe to write a flag
// into, and statistics can visit every heap that ever existed).
//
// Parking: an exiting thread's heap keeps its segments, free blocks and
// hand-off list, and waits on the parked list; the next thread that needs a
// heap takes it whole (the most recently parked: its memory is the warmest).
// Its segments keep the heap as their owner throughout, so remote frees go on
// working unchanged, and starting or ending a thread costs one list operation
// instead of giving away and adopting every segment.  A heap parked longer
// than the purge delay is taken out by the purger (take_idle), which gives
// its segments away as the exiting thread used to (heap_dismantle), so
// parked memory goes back as dirty memory does.
//
// Every list changes under one lock, held for a few pointer writes; nothing
// under it calls the OS.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/intrusive/list.hpp>

#include "tinyalloc/heap.hpp"
#include "tinyalloc/region.hpp"

namespace tinyalloc::detail {

class HeapPool {
 public:
  /// The most recently parked heap, taken whole (constructed, with its
  /// segments), or nullptr.
  Heap* take_parked() noexcept;
  /// An unused heap's storage (not constructed), or nullptr.
  Heap* acquire() noexcept;
  /// h's thread exited: keep it whole for the next thread.
  void park(Heap* h, std::uint64_t now_ms) noexcept;
  /// The heap parked longest, if it was parked at or before `before_ms`.
  Heap* take_idle(std::uint64_t before_ms) noexcept;
  /// When the heap parked longest was parked (~0: none is).
  std::uint64_t oldest_parked_ms() const noexcept { return oldest_parked_ms_.load(std::memory_order_relaxed); }
  /// A dismantled heap's storage comes back.
  void release(Heap* h) noexcept;

  std::size_t created() const noexcept { return created_; }
  std::size_t reused() const noexcept { return reused_.load(std::memory_order_relaxed); }

  /// Visit every heap ever handed out (live, parked or recycled).
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
  using HeapList =
      boost::intrusive::list<Heap, boost::intrusive::member_hook<Heap, decltype(Heap::pool_hook), &Heap::pool_hook>,
                             boost::intrusive::constant_time_size<false>>;

  Heap* carve() noexcept;
  void note_oldest() noexcept;

  region::Lock lock_;
  Chunk* chunks_ = nullptr;
  HeapList free_;    ///< storage of dismantled heaps
  HeapList parked_;  ///< newest at the front
  std::size_t created_ = 0;
  std::atomic<std::size_t> reused_{0};
  std::atomic<std::uint64_t> oldest_parked_ms_{~std::uint64_t{0}};
};

}  // namespace tinyalloc::detail
