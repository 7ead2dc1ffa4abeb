/* tinyalloc.h — the C interface of tinyalloc: the whole allocator behind
 * plain functions and a plain statistics struct.
 *
 * Part of tinyalloc::heap (layer 4: the heap and every layer below it).  The
 * header itself includes only <stddef.h> and <stdint.h>, so C programs can
 * use it.  These functions are always tinyalloc's, whatever malloc the process uses
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
#include <stdint.h>

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

/* ---- statistics ---------------------------------------------------------
 * Merged over every thread on demand; reading them takes no lock on any
 * allocation path.  Byte counts are bytes; counts are events since start. */
#define TA_STATS_CLASSES 69 /* size classes: small and medium */

typedef struct ta_stats_s {
  int counting;         /* 1: per-class counts compiled in (CMake TINYALLOC_STATS=ON) */
  unsigned class_count; /* entries of classes[] in use */
  struct {
    uint32_t block_size; /* bytes per block of this class */
    uint64_t served;     /* blocks handed out (0 when counting == 0) */
  } classes[TA_STATS_CLASSES];
  uint64_t small_served; /* sum of classes[].served */

  /* memory */
  size_t reserved;       /* address space reserved from the OS */
  size_t committed;      /* declared in use and not given back (decommitted) */
  size_t committed_peak; /* highest `committed` so far */
  size_t in_use;         /* in_use_small + in_use_large */
  size_t in_use_small;   /* small segments held by threads, 256 KiB each, live blocks or not */
  size_t in_use_large;   /* mappings of live large blocks (> 32 KiB) */
  size_t peak_rss;       /* the process's peak resident set (getrusage) */

  /* large blocks and their cache */
  uint64_t large_allocations, large_frees, large_resized_in_place, large_moved;
  uint64_t cache_hits, cache_misses, cache_evictions, cache_purges;
  size_t cache_bytes; /* held by the large cache now */

  /* segments and threads */
  uint64_t segments_carved, segments_reused, segments_purged, segments_unmapped;
  uint64_t segments_dirty, segments_clean; /* in the free pools now: resident / purged */
  uint64_t segments_abandoned;             /* left by exited threads with live blocks */
  uint64_t segments_adopted;               /* of those, adopted by another thread */
  uint64_t heaps_created;
} ta_stats_t;

/* Fill *out. */
TA_API void ta_stats_get(ta_stats_t* out);
/* Receives the table in pieces of whole lines, NUL-terminated. */
typedef void (*ta_output_fn)(void* arg, const char* text);
/* Write the statistics table through out(arg, text); out == NULL: stderr. */
TA_API void ta_stats_print(ta_output_fn out, void* arg);
/* Write the statistics table to a file descriptor (2 = stderr). */
TA_API void ta_stats_print_fd(int fd);

#ifdef __cplusplus
}
#endif

#endif /* TINYALLOC_H */
