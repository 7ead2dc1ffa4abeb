// Build switches every layer above agrees on (CMake sets them for all targets).
#pragma once

// Hardening (default on; -DTINYALLOC_HARDENED=0 removes it): free-list links
// are encoded, every pop checks the link it follows, and free() checks that
// the pointer is a block start and not already free.  See PERF_FINDINGS.md
// for its measured cost.
#ifndef TINYALLOC_HARDENED
#define TINYALLOC_HARDENED 1
#endif
// Checked free (-DTINYALLOC_CHECKED_FREE=1, implies hardened): the owner's
// free fast path also verifies the pointer against the segment map, the
// block grid and the free lists, catching delayed double frees and foreign
// or interior pointers that the default build only catches on slow paths.
#ifndef TINYALLOC_CHECKED_FREE
#define TINYALLOC_CHECKED_FREE 0
#endif
// Valgrind (-DTINYALLOC_VALGRIND=1): blocks are announced to memcheck with
// client requests (track.hpp).
#ifndef TINYALLOC_VALGRIND
#define TINYALLOC_VALGRIND 0
#endif

namespace tinyalloc {
inline constexpr bool kHardened = TINYALLOC_HARDENED != 0;
inline constexpr bool kCheckedFree = kHardened && TINYALLOC_CHECKED_FREE != 0;
}  // namespace tinyalloc
