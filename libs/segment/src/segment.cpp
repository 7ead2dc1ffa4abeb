#include "tinyalloc/segment.hpp"

#include <new>

namespace tinyalloc {
namespace {
// Fresh blocks are carved a batch at a time: enough to fill about one page,
// so a new segment faults in only what is about to be used.
constexpr std::size_t kExtendBytes = 4096;
}  // namespace

Segment* Segment::create(void* memory, std::uint8_t size_class, std::uint32_t block_size,
                         bool zero) noexcept {
  Segment* s = ::new (memory) Segment;
  s->owner_flags.store(0, std::memory_order_relaxed);
  s->kind = SegmentKind::Small;
  s->front = AllocFront{};
  s->local_free = nullptr;
  s->block_size = block_size;
  s->capacity = static_cast<std::uint32_t>((kSegmentSize - kFirstBlock) / block_size);
  s->extended = 0;
  s->size_class = size_class;
  s->free_is_zero = false;
  s->bump_is_zero = zero;
  s->thread_free.store(0, std::memory_order_relaxed);
  s->heap.store(nullptr, std::memory_order_relaxed);
  s->released_at_ms = 0;
  return s;
}

bool Segment::is_block_start(const void* p) noexcept {
  const char* c = static_cast<const char*>(p);
  if (c < first_block()) return false;
  const std::size_t off = static_cast<std::size_t>(c - first_block());
  return off % block_size == 0 && off / block_size < extended;
}

bool Segment::take_local() noexcept {
  if (local_free == nullptr) return false;
  front.free = local_free;
  local_free = nullptr;
  free_is_zero = false;
  return true;
}

bool Segment::take_thread_free() noexcept {
  if (thread_free.load(std::memory_order_relaxed) == 0) return false;
  const std::uint64_t w = thread_free.exchange(0, std::memory_order_acq_rel);
  Block* head = thread_free_word::head(w);
  if (head == nullptr) return false;
  front.used -= thread_free_word::count(w);
  // front.free is empty whenever this is called from refill(); when a heap
  // sweeps a full segment it may not be, so splice rather than overwrite.
  if (front.free != nullptr) {
    Block* tail = head;
    while (tail->next != nullptr) tail = tail->next;
    tail->next = front.free;
  }
  front.free = head;
  free_is_zero = false;
  return true;
}

bool Segment::extend() noexcept {
  if (extended >= capacity) return false;
  std::uint32_t n = static_cast<std::uint32_t>(kExtendBytes / block_size);
  if (n == 0) n = 1;
  if (n > capacity - extended) n = capacity - extended;
  char* first = first_block() + std::size_t{extended} * block_size;
  // Link in address order so consecutive mallocs walk memory forwards.
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    reinterpret_cast<Block*>(first + std::size_t{i} * block_size)->next =
        reinterpret_cast<Block*>(first + std::size_t{i + 1} * block_size);
  }
  reinterpret_cast<Block*>(first + std::size_t{n - 1} * block_size)->next = front.free;
  front.free = reinterpret_cast<Block*>(first);
  free_is_zero = bump_is_zero;
  extended += n;
  return true;
}

bool Segment::refill() noexcept {
  if (front.free != nullptr) return true;
  return take_local() || take_thread_free() || extend();
}

bool Segment::push_thread_free(Block* b) noexcept {
  std::uint64_t old = thread_free.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    b->next = thread_free_word::head(old);
    next = thread_free_word::make(b, thread_free_word::count(old) + 1);
  } while (!thread_free.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
  return thread_free_word::head(old) == nullptr;
}

}  // namespace tinyalloc
