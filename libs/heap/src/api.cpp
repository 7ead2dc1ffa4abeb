// The malloc family beyond malloc/free, and the C interface (tinyalloc.h).
#include <cerrno>
#include <cstring>

#include "canary.hpp"
#include "classify.hpp"
#include "globals.hpp"
#include "heap_internal.hpp"
#include "tinyalloc.h"

namespace tinyalloc {
namespace {

bool is_power_of_two(std::size_t a) noexcept { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace

void* heap_calloc(std::size_t count, std::size_t size) noexcept {
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (n <= size_class::kMaxMedium) {
    void* p = detail::malloc_block(n);
    if (p == nullptr) return nullptr;
    // Blocks carved from a segment that came zeroed from the OS need only
    // their free-list word cleared: the flag describes the list p came from
    // (segment.hpp), which only this thread changes.
    const bool fresh = Segment::of(p)->free_is_zero;
    detail::announce(p, true);  // first: under valgrind the block is the program's only from here
    if (fresh) {
      std::memset(p, 0, sizeof(Block));
    } else {
      detail::clear(p, n);
    }
    return p;
  }
  void* p = detail::malloc_block(n);
  if (p == nullptr) return nullptr;
  detail::announce(p, true);
  if (!large::was_zero(p)) detail::clear(p, n);
  return p;
}

void* heap_realloc(void* p, std::size_t size) noexcept {
  if (p == nullptr) return heap_malloc(size);
  if (size == 0) {  // as glibc: free and return NULL
    heap_free(p);
    return nullptr;
  }
  const detail::LiveBlock live = detail::classify(p, "realloc()");
  const std::size_t have = live.usable(p);
  // Under valgrind every realloc moves, so memcheck always knows the exact
  // size of a block (as valgrind's own realloc does).
  if (live.is_large()) {
    if (size > size_class::kMaxMedium && !track::kEnabled) {
      if (void* q = detail::globals().large->resize(p, size)) return q;
    }
  } else if (!track::kEnabled) {
    // In place while it fits and would not waste more than half the block;
    // a medium block's canary moves to the new end.
    Segment* s = live.segment();
    if (kCanaries && (live.owner_word & kSlowFree) != 0) {
      if (size <= s->block_size && size >= s->block_size / 2) {
        detail::medium_handed_out(s, live.block, size);
        return p;
      }
    } else if (size <= have && size >= have / 2) {
      return p;
    }
  }
  void* q = heap_malloc(size);
  if (q == nullptr) return nullptr;  // errno set; p untouched
  std::memcpy(q, p, size < have ? size : have);
  heap_free(p);
  return q;
}

void* heap_aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  if (!is_power_of_two(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  if (alignment <= 16) return heap_malloc(size < alignment ? alignment : size);
  // At least one byte: for size 0 the aligned address could otherwise fall
  // exactly on the end of its block, i.e. on the next block.
  if (size == 0) size = 1;
  // Small: over-allocate within a size class and hand out the aligned address
  // inside the block; the segment is flagged so free() finds the block start.
  if (alignment < kSegmentSize / 8 && size <= size_class::kMaxSmall - alignment) {
    char* block = static_cast<char*>(detail::malloc_block(size + alignment - 16));
    if (block == nullptr) return nullptr;
    char* aligned = reinterpret_cast<char*>(region::align_up(reinterpret_cast<std::uintptr_t>(block), alignment));
    if (aligned != block) Segment::of(block)->set_aligned();
    detail::announce(aligned, false);
    return aligned;
  }
  void* p = detail::large_allocate(detail::globals(), size, alignment);
  detail::announce(p, false);
  return p;
}

int heap_posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || !is_power_of_two(alignment)) return EINVAL;
  const int saved = errno;
  void* p = heap_aligned_alloc(alignment, size);
  if (p == nullptr) {
    const int err = errno;
    errno = saved;
    return err;
  }
  *out = p;
  return 0;
}

std::size_t heap_usable_size(const void* p) noexcept {
  return p == nullptr ? 0 : detail::classify(p, "malloc_usable_size()").usable(p);
}

}  // namespace tinyalloc

// ---- C interface -------------------------------------------------------------
using namespace tinyalloc;

extern "C" {

void* ta_malloc(size_t size) { return heap_malloc(size); }
void ta_free(void* p) { heap_free(p); }
void* ta_calloc(size_t count, size_t size) { return heap_calloc(count, size); }
void* ta_realloc(void* p, size_t size) { return heap_realloc(p, size); }
void* ta_aligned_alloc(size_t alignment, size_t size) { return heap_aligned_alloc(alignment, size); }
size_t ta_usable_size(const void* p) { return heap_usable_size(p); }
void ta_stats_print_fd(int fd) { stats_print(fd); }

int ta_posix_memalign(void** out, size_t alignment, size_t size) { return heap_posix_memalign(out, alignment, size); }

}  // extern "C"
