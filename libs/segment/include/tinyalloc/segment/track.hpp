// Valgrind memcheck announcements (TINYALLOC_VALGRIND builds; empty otherwise),
// so memcheck reports a program's leaks and use-after-free with tinyalloc as
// the allocator.  A freed block is no-access to the program but for its first
// word, the free-list link tinyalloc itself reads and writes.
#pragma once

#include <cstddef>

#include "tinyalloc/segment/config.hpp"

#if TINYALLOC_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace tinyalloc::track {
inline constexpr bool kEnabled = TINYALLOC_VALGRIND != 0;
/// p (n bytes) was handed to the program.
inline void allocated([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n,
                      [[maybe_unused]] bool zeroed) noexcept {
#if TINYALLOC_VALGRIND
  if (p != nullptr) VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
#endif
}
/// The program gave p back.
inline void freed([[maybe_unused]] const void* p) noexcept {
#if TINYALLOC_VALGRIND
  if (p != nullptr) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_DEFINED(p, sizeof(void*));
  }
#endif
}
/// Memory that is the allocator's again (a recycled segment's blocks).
inline void reclaimed([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
#if TINYALLOC_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}
}  // namespace tinyalloc::track
