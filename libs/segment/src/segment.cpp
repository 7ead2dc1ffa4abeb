#include "tinyalloc/segment.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>
#include <sys/random.h>
#include <unistd.h>

namespace tinyalloc {
namespace {
// Fresh blocks are carved a batch at a time: enough to fill about one page,
// so a new segment faults in only what is about to be used.
constexpr std::size_t kExtendBytes = 4096;

std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::atomic<std::uint64_t> g_secret{0};
}  // namespace

std::uint64_t process_secret() noexcept {
  std::uint64_t s = g_secret.load(std::memory_order_relaxed);
  if (s != 0) return s;
  std::uint64_t fresh = 0;
  if (::getrandom(&fresh, sizeof fresh, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof fresh)) {
    // No entropy yet (very early boot): the clock and an address will do.
    fresh = mix(__builtin_ia32_rdtsc() ^ reinterpret_cast<std::uintptr_t>(&fresh));
  }
  fresh |= 1;
  std::uint64_t expected = 0;
  return g_secret.compare_exchange_strong(expected, fresh, std::memory_order_relaxed) ? fresh : expected;
}

std::uint32_t header_cookie(const void* header) noexcept {
  return static_cast<std::uint32_t>(mix(process_secret() ^ reinterpret_cast<std::uintptr_t>(header)) >> 32) | 1u;
}

void report_misuse(const char* what, const void* p) noexcept {
  char buf[200];
  const int n = std::snprintf(buf, sizeof buf, "tinyalloc: %s %p\n", what, p);
  if (n > 0) {
    const ssize_t ignored = ::write(2, buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1);
    (void)ignored;
  }
  ::abort();
}

Segment* Segment::create(void* memory, std::uint8_t size_class, std::uint32_t block_size,
                         bool zero) noexcept {
  track::reclaimed(static_cast<char*>(memory) + kFirstBlock, kSegmentSize - kFirstBlock);
  Segment* s = ::new (memory) Segment;
  s->owner_flags.store(0, std::memory_order_relaxed);
  s->kind = SegmentKind::Small;
  s->cookie = header_cookie(s);
  s->front = AllocFront{};
  s->front.codec = LinkCodec{mix(process_secret() ^ reinterpret_cast<std::uintptr_t>(s)) | 1};
  s->local_free = nullptr;
  s->block_size = block_size;
  s->capacity = static_cast<std::uint32_t>((kSegmentSize - kFirstBlock) / block_size);
  s->start_magic = ~std::uint64_t{0} / block_size + 1;
  s->extended = 0;
  s->size_class = size_class;
  s->free_is_zero = false;
  s->bump_is_zero = zero;
  s->thread_free.store(0, std::memory_order_relaxed);
  s->heap.store(nullptr, std::memory_order_relaxed);
  s->released_at_ms = 0;
  return s;
}

bool Segment::is_block_start(const void* p) const noexcept {
  const char* first = reinterpret_cast<const char*>(this) + kFirstBlock;
  const char* c = static_cast<const char*>(p);
  if (c < first) return false;
  const std::size_t off = static_cast<std::size_t>(c - first);
  return off % block_size == 0 && off / block_size < capacity;
}

bool Segment::holds_free(const Block* b) const noexcept {
  // Each walk is bounded by the segment's capacity, so a corrupted (cyclic)
  // list cannot hang it.
  auto on = [&](const Block* head) {
    std::uint32_t steps = 0;
    for (const Block* x = head; x != nullptr && steps <= capacity; x = front.codec.decode(x->link), ++steps) {
      if (x == b) return true;
      if (!same_window(x, b)) return false;
    }
    return false;
  };
  return on(front.free) || on(local_free) ||
         on(thread_free_word::head(thread_free.load(std::memory_order_acquire)));
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
  // adopts or sweeps a segment it may not be, so splice rather than overwrite.
  if (front.free != nullptr) {
    Block* tail = head;
    for (Block* n; (n = front.codec.decode(tail->link)) != nullptr;) tail = n;
    tail->link = front.codec.encode(front.free);
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
  auto at = [&](std::uint32_t i) { return reinterpret_cast<Block*>(first + std::size_t{i} * block_size); };
  // Link in address order so consecutive mallocs walk memory forwards.
  for (std::uint32_t i = 0; i + 1 < n; ++i) at(i)->link = front.codec.encode(at(i + 1));
  at(n - 1)->link = front.codec.encode(front.free);
  front.free = at(0);
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
    b->link = front.codec.encode(thread_free_word::head(old));
    next = thread_free_word::make(b, thread_free_word::count(old) + 1);
  } while (!thread_free.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
  return thread_free_word::head(old) == nullptr;
}

}  // namespace tinyalloc
