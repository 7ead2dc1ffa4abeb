// A program linked with tinyalloc::override: no LD_PRELOAD, yet malloc from
// libc's own functions (strdup, getline) and operator new from libstdc++'s
// containers all go to tinyalloc.  The proof is tinyalloc's own counters.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "tinyalloc.h"
#include "tinyalloc/override.hpp"

namespace {

/// Blocks tinyalloc has served (large ones are always counted; small ones
/// when built with TINYALLOC_STATS, the default).
unsigned long long served() {
  ta_stats_t s;
  ta_stats_get(&s);
  return s.small_served + s.large_allocations;
}

unsigned long long large_served() {
  ta_stats_t s;
  ta_stats_get(&s);
  return s.large_allocations;
}

}  // namespace

int main() {
  const unsigned long long before = served(), large_before = large_served();

  // libc allocating on the program's behalf: strdup calls malloc inside libc.
  std::string big(2000000, 'x');
  char* copy = strdup(big.c_str());                                     // 2 MB: a large block
  const bool libc_uses_tinyalloc = large_served() - large_before >= 2;  // the std::string and strdup's copy
  std::free(copy);

  // libstdc++ allocating: operator new.
  std::map<int, std::string> m;
  for (int i = 0; i < 1000; ++i) m.emplace(i, std::to_string(i) + " is a number with a long enough text");

  const unsigned long long blocks = served() - before;
  std::printf("override linked: %s; libc's strdup served by tinyalloc: %s; blocks tinyalloc served: %llu\n",
              tinyalloc::override_lib::active() ? "yes" : "no", libc_uses_tinyalloc ? "yes" : "no", blocks);
  const bool ok = tinyalloc::override_lib::active() && libc_uses_tinyalloc && blocks >= 2;
  std::puts(ok ? "static_override: ok" : "static_override: FAILED");
  return ok ? 0 : 1;
}
