// Build switches every layer above agrees on (CMake sets them for all targets).
#pragma once

// Hardening (default on; -DTINYALLOC_HARDENED=0 removes it): free-list links
// are encoded, every pop checks the link it follows, free() checks that the
// pointer is on its segment's block grid and not freed twice in a row, every
// slow path verifies the pointer fully, and medium and large blocks carry
// canaries.  See README "Misuse" and PERF_FINDINGS.md for what it catches
// and costs.
#ifndef TINYALLOC_HARDENED
#define TINYALLOC_HARDENED 1
#endif
// Secure (-DTINYALLOC_SECURE=1, implies hardened): the owner's free fast path
// also verifies the pointer against the segment map and the free lists
// (delayed double frees and foreign pointers caught at the free itself),
// blocks are zeroed when freed, fresh blocks are handed out in a random
// order, and large blocks and medium segments have guard pages.
#ifndef TINYALLOC_SECURE
#define TINYALLOC_SECURE 0
#endif
// Valgrind (-DTINYALLOC_VALGRIND=1): blocks are announced to memcheck with
// client requests (track.hpp).
#ifndef TINYALLOC_VALGRIND
#define TINYALLOC_VALGRIND 0
#endif

namespace tinyalloc {
inline constexpr bool kHardened = TINYALLOC_HARDENED != 0 || TINYALLOC_SECURE != 0;
inline constexpr bool kSecure = TINYALLOC_SECURE != 0;
/// Canaries after medium and large blocks, and the large-block first-page
/// check.  Off under valgrind, whose memcheck sees those misuses itself and
/// would see the allocator's canary words as accesses outside a block.
inline constexpr bool kCanaries = kHardened && TINYALLOC_VALGRIND == 0;
}  // namespace tinyalloc
