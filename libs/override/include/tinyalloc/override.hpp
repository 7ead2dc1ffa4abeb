// tinyalloc::override — tinyalloc as the process's malloc.
//
// Layer 5: depends on tinyalloc::heap only.
//
// Built twice from one source file:
//   libtinyalloc.so       — LD_PRELOAD=/path/libtinyalloc.so program
//   libtinyalloc_override.a (tinyalloc::override) — link it into a program
//                           and its malloc, free, ... and operator new/delete
//                           are tinyalloc's, without LD_PRELOAD.
// Every definition is in one object file, so a static link takes all of them
// or none (never tinyalloc's malloc with glibc's free).
//
// Replaced: malloc, free, calloc, realloc, reallocarray, posix_memalign,
// aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, cfree, and
// every C++ operator new/delete (plain, array, sized, aligned, nothrow);
// glibc's extensions mallinfo, mallinfo2, malloc_trim, malloc_stats,
// malloc_info, mallopt, and glibc's own names __libc_malloc, __libc_free,
// __libc_calloc, __libc_realloc, __libc_memalign, __libc_valloc,
// __libc_pvalloc, __libc_mallinfo, __libc_mallopt.  README "Compatibility
// with glibc" says what each does and where it differs from glibc.
#pragma once

namespace tinyalloc::override_lib {
/// True once linked in: lets a program check it got tinyalloc's malloc.
bool active() noexcept;
}  // namespace tinyalloc::override_lib
