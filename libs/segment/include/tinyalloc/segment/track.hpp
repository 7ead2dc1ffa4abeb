// Valgrind memcheck announcements (TINYALLOC_VALGRIND builds; empty otherwise),
// so memcheck reports a program's leaks and use-after-free with tinyalloc as
// the allocator.  A freed block is no-access to the program but for its first
// word, the free-list link tinyalloc itself reads and writes.
#pragma once

#include <cstddef>
#include <cstdint>

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
/// The word at p, read by the allocator from a block that may be live (the
/// free checks read a block's first word).  Under memcheck the program's
/// definedness of that word is kept as it was: reading it is the
/// allocator's business, not a use of the program's uninitialised data.
inline std::uintptr_t peek(const std::uintptr_t* p) noexcept {
#if TINYALLOC_VALGRIND
  std::uint64_t vbits = 0;
  const unsigned got = VALGRIND_GET_VBITS(p, &vbits, sizeof vbits);
  VALGRIND_MAKE_MEM_DEFINED(p, sizeof *p);
  const std::uintptr_t w = *p;
  if (got == 1) VALGRIND_SET_VBITS(p, &vbits, sizeof vbits);
  return w;
#else
  return *p;
#endif
}
/// Memory that is the allocator's again (a recycled segment's blocks).
inline void reclaimed([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
#if TINYALLOC_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}
}  // namespace tinyalloc::track
