// tinyalloc for chosen data, the rest of the program on the system malloc:
//   - ta_malloc / ta_realloc / ta_free, like their C namesakes;
//   - tinyalloc::allocator<T> for a standard container;
//   - tinyalloc::resource() for std::pmr containers;
//   - ta_stats_print through a callback.
#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

#include "tinyalloc.h"
#include "tinyalloc/cxx.hpp"

namespace {
void to_stdout(void*, const char* text) { std::fputs(text, stdout); }
}  // namespace

int main() {
  // C API.
  char* line = static_cast<char*>(ta_malloc(16));
  std::strcpy(line, "hello");
  line = static_cast<char*>(ta_realloc(line, 2000000));  // now a large block (> 1 MiB)
  std::strcat(line, ", tinyalloc");
  const bool c_ok = std::strcmp(line, "hello, tinyalloc") == 0 && ta_usable_size(line) >= 2000000;
  ta_free(line);

  // A standard container with tinyalloc's allocator.
  std::vector<double, tinyalloc::allocator<double>> samples;
  for (int i = 0; i < 300000; ++i) samples.push_back(i * 0.5);  // 2.4 MB at the end: large

  // pmr containers on tinyalloc's memory resource.
  std::pmr::unordered_map<std::pmr::string, int> index(tinyalloc::resource());
  for (int i = 0; i < 1000; ++i) index.emplace(std::pmr::string("key number " + std::to_string(i)), i);

  ta_stats_t s;
  ta_stats_get(&s);
  const bool ok = c_ok && samples[299999] == 149999.5 && index.at("key number 999") == 999 && s.large_allocations >= 2;
  ta_stats_print(&to_stdout, nullptr);
  std::puts(ok ? "api_cxx: ok" : "api_cxx: FAILED");
  return ok ? 0 : 1;
}
