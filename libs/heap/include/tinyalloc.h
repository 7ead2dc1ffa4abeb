/* tinyalloc.h — the C interface of tinyalloc.
 *
 * These functions are always tinyalloc's, whatever malloc the process uses
 * (they work beside glibc malloc, under ASan, and in programs that link the
 * override).  Semantics follow the C/POSIX functions of the same name:
 *   - ta_malloc(0) returns a unique pointer that must be freed;
 *   - failure returns NULL with errno = ENOMEM (EINVAL for bad alignment);
 *   - ta_free(NULL) does nothing;
 *   - every block of 16 bytes or more is 16-byte aligned.
 */
#ifndef TINYALLOC_H
#define TINYALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TA_API __attribute__((visibility("default")))

TA_API void* ta_malloc(size_t size);
TA_API void ta_free(void* p);
TA_API void* ta_calloc(size_t count, size_t size);
TA_API void* ta_realloc(void* p, size_t size);
/* alignment: any power of two; size need not be a multiple of it. */
TA_API void* ta_aligned_alloc(size_t alignment, size_t size);
/* POSIX: alignment a power of two multiple of sizeof(void*), else EINVAL. */
TA_API int ta_posix_memalign(void** out, size_t alignment, size_t size);
/* Bytes usable at p (>= the size requested); 0 for NULL. */
TA_API size_t ta_usable_size(const void* p);
/* Write the statistics table to a file descriptor (2 = stderr). */
TA_API void ta_stats_print_fd(int fd);

#ifdef __cplusplus
}
#endif

#endif /* TINYALLOC_H */
