/* Run by test_preload with and without LD_PRELOAD=libtinyalloc.so: glibc's
 * extensions and __libc_* names must reach the same allocator as malloc.
 * Plain C, linked to nothing of tinyalloc's.  Exit 0 when every check holds;
 * stdout's last line is the first line of malloc_info (which allocator). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exported by glibc (and by tinyalloc); no header declares them. */
extern void* __libc_malloc(size_t);
extern void __libc_free(void*);

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "glibc_probe: check failed: %s\n", #cond); \
      return 1;                                                  \
    }                                                            \
  } while (0)

int main(void) {
  /* The first byte of a fresh block: run with MALLOC_PERTURB_=165, glibc
   * fills it with 165 ^ 0xff = 90; tinyalloc does not read MALLOC_* and
   * hands out a fresh mapping, all zero. */
  unsigned char* fresh = malloc(300000);
  CHECK(fresh != NULL);
  printf("fresh: %d\n", fresh[0]);
  free(fresh);

  /* A block from malloc freed by __libc_free, and the other way round:
   * glibc's __libc_free aborts on a block of another allocator. */
  void* p = malloc(1000);
  CHECK(p != NULL);
  memset(p, 1, 1000);
  __libc_free(p);
  void* q = __libc_malloc(100000);
  CHECK(q != NULL);
  memset(q, 2, 100000);
  free(q);
  puts("__libc_free/__libc_malloc: ok");

  /* 128 MiB in 2 MiB blocks (mmapped chunks for glibc, large blocks for
   * tinyalloc) and ~20 MB of small ones: both allocators count them. */
  enum { kLarge = 64, kSmall = 20000 };
  static void* large[kLarge];
  static void* small[kSmall];
  for (int i = 0; i < kLarge; ++i) CHECK((large[i] = malloc(2 << 20)) != NULL);
  for (int i = 0; i < kSmall; ++i) CHECK((small[i] = malloc(1000)) != NULL);
  const struct mallinfo2 m = mallinfo2();
  CHECK(m.hblks >= kLarge);
  CHECK(m.hblkhd >= (size_t)kLarge << 21);
  CHECK(m.uordblks >= (size_t)kSmall * 1000);
  CHECK(m.arena >= m.uordblks);
  for (int i = 0; i < kLarge; ++i) free(large[i]);
  for (int i = 0; i < kSmall; ++i) free(small[i]);
  puts("mallinfo2: ok");

  char* xml = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&xml, &len);
  CHECK(f != NULL);
  CHECK(malloc_info(0, f) == 0);
  CHECK(fclose(f) == 0);
  char* nl = strchr(xml, '\n');
  CHECK(nl != NULL);
  *nl = '\0';
  puts(xml);
  free(xml);
  return 0;
}
