/* tinyalloc from C, found with pkg-config: the ta_* API and its statistics. */
#include <stdio.h>
#include <string.h>

#include <tinyalloc.h>

static void count_lines(void* arg, const char* text) {
  for (; *text != '\0'; ++text) *(int*)arg += *text == '\n';
}

int main(void) {
  char* words[1000];
  for (int i = 0; i < 1000; ++i) {
    words[i] = ta_malloc(32);
    snprintf(words[i], 32, "word %d", i);
  }
  int ok = strcmp(words[999], "word 999") == 0;
  for (int i = 0; i < 1000; ++i) ta_free(words[i]);

  ta_stats_t s;
  ta_stats_get(&s);
  printf("small blocks served: %llu (counting %s), committed %zu KiB\n", (unsigned long long)s.small_served,
         s.counting ? "on" : "off", s.committed >> 10);
  ok = ok && (!s.counting || s.small_served >= 1000) && s.committed > 0;

  int lines = 0;
  ta_stats_print(count_lines, &lines);
  printf("statistics table: %d lines\n", lines);
  ok = ok && lines >= 6;
  puts(ok ? "c_pkgconfig: ok" : "c_pkgconfig: FAILED");
  return ok ? 0 : 1;
}
