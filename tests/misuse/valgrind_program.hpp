// Shared by valgrind_leak.cpp and valgrind_uaf.cpp: did tinyalloc serve a
// malloc?  (Under valgrind, memcheck may replace malloc; then the program
// would test memcheck's allocator, not tinyalloc's announcements.)
#pragma once

#include <cstdio>
#include <cstdlib>

#include "tinyalloc/heap.hpp"

inline std::uint64_t tinyalloc_small_served() {
  tinyalloc::Stats s;
  tinyalloc::stats_get(s);
  return s.small_total;
}

/// malloc(n) through a volatile pointer (the compiler must not elide it),
/// printing whether tinyalloc served it.
inline void* checked_malloc(std::size_t n) {
  void* (*volatile do_malloc)(std::size_t) = std::malloc;
  const std::uint64_t before = tinyalloc_small_served();
  void* p = do_malloc(n);
  std::printf("served by tinyalloc: %s\n", tinyalloc_small_served() > before ? "yes" : "no");
  return p;
}
