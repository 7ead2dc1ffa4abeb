// A program for test_options: reports, one "probe:" line each, the options
// tinyalloc runs with and what its large-block strategy actually did.
//
//   options_probe [--set] [--late-set] [--huge]
//     --set       call set_options() before the first allocation
//                 (large=direct, cache 8 MiB, purge delay 7 ms, eager commit)
//     --late-set  call set_options() again after start-up (must be refused)
//     --huge      request an impossible block twice (NULL, ENOMEM)
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "tinyalloc.h"
#include "tinyalloc/heap.hpp"

int main(int argc, char** argv) {
  bool set = false, late = false, huge = false;
  for (int i = 1; i < argc; ++i) {
    set |= std::strcmp(argv[i], "--set") == 0;
    late |= std::strcmp(argv[i], "--late-set") == 0;
    huge |= std::strcmp(argv[i], "--huge") == 0;
  }
  if (set) {
    tinyalloc::Options o;
    o.large = tinyalloc::LargeStrategy::Direct;
    o.large_cache.max_bytes = std::size_t{8} << 20;
    o.arena.purge_delay_ms = 7;
    o.arena.prefault = true;
    std::printf("probe: set_options=%d\n", tinyalloc::set_options(o) ? 1 : 0);
  }
  const tinyalloc::Options& o = tinyalloc::options();
  std::printf("probe: large=%s cache_mb=%zu purge_ms=%llu eager=%d show_stats=%d verbose=%d\n",
              o.large == tinyalloc::LargeStrategy::Direct ? "direct" : "cached", o.large_cache.max_bytes >> 20,
              static_cast<unsigned long long>(o.arena.purge_delay_ms), o.arena.prefault ? 1 : 0, o.show_stats ? 1 : 0,
              o.verbose ? 1 : 0);

  // The strategy in use, by its effect: a cached one serves the second and
  // later 2 MiB blocks from its cache, a direct one never has a hit.
  for (int i = 0; i < 4; ++i) ta_free(ta_malloc(std::size_t{2} << 20));
  ta_stats_t s;
  ta_stats_get(&s);
  std::printf("probe: large_allocations=%llu cache_hits=%llu\n", static_cast<unsigned long long>(s.large_allocations),
              static_cast<unsigned long long>(s.cache_hits));

  if (late) std::printf("probe: late_set_options=%d\n", tinyalloc::set_options(tinyalloc::Options{}) ? 1 : 0);
  if (huge) {
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      void* p = ta_malloc(SIZE_MAX / 2);
      std::printf("probe: huge=%s errno=%s\n", p == nullptr ? "NULL" : "non-NULL",
                  errno == ENOMEM ? "ENOMEM" : "other");
    }
  }
  return 0;
}
