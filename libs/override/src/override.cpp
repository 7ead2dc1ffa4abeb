// Definitions that replace the C library's allocator and the C++ global
// operators.  Each is a thin shim over tinyalloc::heap; malloc and free
// inline the heap's fast paths.  glibc's extensions (mallinfo, mallopt,
// malloc_trim, malloc_stats, malloc_info) are in glibc_extensions.cpp; README
// "Compatibility with glibc" says where they differ.
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <new>

#include "tinyalloc/heap.hpp"
#include "tinyalloc/override.hpp"
#include "tinyalloc/region.hpp"

#include "export.hpp"

using namespace tinyalloc;

namespace tinyalloc::override_lib {
bool active() noexcept { return true; }
}  // namespace tinyalloc::override_lib

TA_EXPORT void* malloc(size_t size) noexcept { return heap_malloc(size); }
TA_EXPORT void free(void* p) noexcept { heap_free(p); }
TA_EXPORT void cfree(void* p) noexcept { heap_free(p); }
TA_EXPORT void* calloc(size_t count, size_t size) noexcept { return heap_calloc(count, size); }
TA_EXPORT void* realloc(void* p, size_t size) noexcept { return heap_realloc(p, size); }

TA_EXPORT void* reallocarray(void* p, size_t count, size_t size) noexcept {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return heap_realloc(p, n);
}

TA_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  return heap_posix_memalign(out, alignment, size);
}

// C11/C17 (DR 460)/C23: an alignment the implementation does not support
// fails; tinyalloc supports powers of two only (EINVAL otherwise).
TA_EXPORT void* aligned_alloc(size_t alignment, size_t size) noexcept { return heap_aligned_alloc(alignment, size); }

// As glibc: any alignment is rounded up to a power of two (0 to 1), and 16 or
// less is plain malloc (heap_aligned_alloc serves those from a class of at
// least `alignment` bytes).  Only an alignment no power of two can reach fails.
TA_EXPORT void* memalign(size_t alignment, size_t size) noexcept {
  if (alignment > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  size_t a = 1;
  while (a < alignment) a <<= 1;
  return heap_aligned_alloc(a, size);
}

TA_EXPORT void* valloc(size_t size) noexcept { return heap_aligned_alloc(region::page_size(), size); }

TA_EXPORT void* pvalloc(size_t size) noexcept {
  const size_t page = region::page_size();
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return nullptr;
  }
  return heap_aligned_alloc(page, size == 0 ? page : (size + page - 1) & ~(page - 1));
}

TA_EXPORT size_t malloc_usable_size(void* p) noexcept { return heap_usable_size(p); }

// glibc's own names for its allocator, which some programs and preloaded
// libraries call to bypass an interposed malloc: the same functions here, so
// a block from either name may be freed by either.  Only those glibc exports
// at a public version (GLIBC_2.2.5); __libc_reallocarray is GLIBC_PRIVATE.
// Wrappers rather than symbol aliases: an alias would have to repeat the
// attributes <malloc.h> gives the originals (GCC's -Wmissing-attributes).
TA_EXPORT void* __libc_malloc(size_t size) noexcept { return heap_malloc(size); }
TA_EXPORT void __libc_free(void* p) noexcept { heap_free(p); }
TA_EXPORT void* __libc_calloc(size_t count, size_t size) noexcept { return heap_calloc(count, size); }
TA_EXPORT void* __libc_realloc(void* p, size_t size) noexcept { return heap_realloc(p, size); }
TA_EXPORT void* __libc_memalign(size_t alignment, size_t size) noexcept { return memalign(alignment, size); }
TA_EXPORT void* __libc_valloc(size_t size) noexcept { return valloc(size); }
TA_EXPORT void* __libc_pvalloc(size_t size) noexcept { return pvalloc(size); }

// ---- C++ ---------------------------------------------------------------------
namespace {

// operator new: loop through the new-handler as the standard says, then throw.
// alignment 0: a plain new; otherwise the align_val_t it was given.
[[gnu::noinline]] void* new_slow(std::size_t size, std::size_t alignment, bool nothrow) {
  for (;;) {
    void* p = alignment == 0 ? heap_malloc(size) : heap_aligned_alloc(alignment, size);
    if (p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        handler();
      } catch (...) {
        return nullptr;
      }
    } else {
      handler();
    }
  }
}

inline void* new_fast(std::size_t size) {
  void* p = heap_malloc_fast(size);
  return __builtin_expect(p != nullptr, 1) ? p : new_slow(size, 0, false);
}

inline void* new_aligned(std::size_t size, std::align_val_t al, bool nothrow) {
  const auto a = static_cast<std::size_t>(al);
  void* p = heap_aligned_alloc(a, size);
  return p != nullptr ? p : new_slow(size, a, nothrow);
}

}  // namespace

#define TA_CXX __attribute__((visibility("default")))

TA_CXX void* operator new(std::size_t n) { return new_fast(n); }
TA_CXX void* operator new[](std::size_t n) { return new_fast(n); }
TA_CXX void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  void* p = heap_malloc(n);
  return p != nullptr ? p : new_slow(n, 0, true);
}
TA_CXX void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  void* p = heap_malloc(n);
  return p != nullptr ? p : new_slow(n, 0, true);
}
TA_CXX void* operator new(std::size_t n, std::align_val_t a) { return new_aligned(n, a, false); }
TA_CXX void* operator new[](std::size_t n, std::align_val_t a) { return new_aligned(n, a, false); }
TA_CXX void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, true);
}
TA_CXX void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, true);
}

TA_CXX void operator delete(void* p) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p) noexcept { heap_free(p); }
TA_CXX void operator delete(void* p, std::size_t) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p, std::size_t) noexcept { heap_free(p); }
TA_CXX void operator delete(void* p, const std::nothrow_t&) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p, const std::nothrow_t&) noexcept { heap_free(p); }
TA_CXX void operator delete(void* p, std::align_val_t) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p, std::align_val_t) noexcept { heap_free(p); }
TA_CXX void operator delete(void* p, std::size_t, std::align_val_t) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { heap_free(p); }
TA_CXX void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap_free(p); }
TA_CXX void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap_free(p); }
