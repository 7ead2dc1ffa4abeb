// Issue 9: memory a long-running process freed goes back to the system once
// it has been idle for the purge delay (TINYALLOC_PURGE_DELAY_MS, default
// 100 ms), and malloc_trim(0) gives back what is left.
//
// Each scenario runs in a child process (test_child::run) so its resident set
// starts clean of this program's other tests; the child prints its
// measurements (VmRSS, KiB) on a line "RSS key=value ...", which the test
// parses and checks.  The purge may happen on a background thread or on the
// next allocator call: the checks come after an idle sleep, ONE allocator
// call, and a short sleep.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/child.hpp"
#include "../common/proc.hpp"

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;
constexpr long kSlackIdleKiB = 24 * 1024;  // allowed above the start after idling
constexpr long kSlackTrimKiB = 8 * 1024;   // allowed above the start after malloc_trim(0)

void* (*volatile do_malloc)(std::size_t) = std::malloc;
void (*volatile do_free)(void*) = std::free;

void* touched(std::size_t n) {
  void* p = do_malloc(n);
  if (p == nullptr) {
    std::printf("malloc(%zu) failed\n", n);
    std::fflush(stdout);
    _exit(3);
  }
  std::memset(p, 0x5a, n);
  return p;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// The baseline: after the allocator, a thread and /proc reading have all run once.
long warm_start() {
  do_free(do_malloc(100));
  std::thread([] { do_free(do_malloc(100)); }).join();
  test_proc::vm_rss_kib();
  return test_proc::vm_rss_kib();
}

// The idle check: sleep past the purge delay, one allocator call, a short sleep.
long idle_rss(int idle_ms) {
  sleep_ms(idle_ms);
  do_free(do_malloc(100));
  sleep_ms(300);
  return test_proc::vm_rss_kib();
}

template <class T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

// A thread allocates 128 MiB of 64 KiB blocks and 60 MiB of 160-byte blocks,
// hands them to main and exits; main allocates 60 MiB of 2 MiB blocks; main
// frees everything.
int scenario_mixed() {
  const long start = warm_start();
  std::vector<void*> mid, small, big;
  mid.reserve(128 * MiB / (64 * KiB));
  small.reserve(60 * MiB / 160);
  big.reserve(30);
  std::thread([&] {
    for (std::size_t i = 0; i < 128 * MiB / (64 * KiB); ++i) mid.push_back(touched(64 * KiB));
    for (std::size_t i = 0; i < 60 * MiB / 160; ++i) small.push_back(touched(160));
  }).join();
  for (int i = 0; i < 30; ++i) big.push_back(touched(2 * MiB));
  const long peak = test_proc::vm_rss_kib();
  for (void* p : mid) do_free(p);
  for (void* p : small) do_free(p);
  for (void* p : big) do_free(p);
  release(mid);
  release(small);
  release(big);
  const long freed = test_proc::vm_rss_kib();
  const long idle = idle_rss(1000);
  const int trim = malloc_trim(0);
  const long trimmed = test_proc::vm_rss_kib();
  std::printf("RSS start=%ld peak=%ld freed=%ld idle=%ld trim=%d trimmed=%ld\n", start, peak, freed, idle, trim,
              trimmed);
  return 0;
}

// Main allocates 60 MiB of 2 MiB blocks and frees them.
int scenario_large() {
  const long start = warm_start();
  std::vector<void*> big;
  big.reserve(30);
  for (int i = 0; i < 30; ++i) big.push_back(touched(2 * MiB));
  const long peak = test_proc::vm_rss_kib();
  for (void* p : big) do_free(p);
  release(big);
  const long freed = test_proc::vm_rss_kib();
  const long idle = idle_rss(2000);
  std::printf("RSS start=%ld peak=%ld freed=%ld idle=%ld\n", start, peak, freed, idle);
  return 0;
}

// Runs a scenario; returns its "RSS" line's values.
std::map<std::string, long> run_scenario(int (*scenario)()) {
  const test_child::Result r = test_child::run(scenario, 60);
  INFO("child " << r.describe());
  REQUIRE(r.exited_ok());
  const std::size_t at = r.output.find("RSS ");
  REQUIRE(at != std::string::npos);
  std::istringstream line(r.output.substr(at + 4, r.output.find('\n', at) - at - 4));
  std::map<std::string, long> v;
  std::string kv;
  while (line >> kv) {
    const std::size_t eq = kv.find('=');
    v[kv.substr(0, eq)] = std::strtol(kv.c_str() + eq + 1, nullptr, 10);
  }
  REQUIRE(v.count("start") == 1);
  REQUIRE(v["start"] > 0);
  return v;
}

}  // namespace

TEST_CASE("idle freed memory goes back: 128 MiB of 64 KiB + 60 MiB of 160 B (a dead thread's) + 60 MiB of 2 MiB",
          "[idle]") {
  auto v = run_scenario(scenario_mixed);
  const long start = v["start"], idle = v["idle"], trimmed = v["trimmed"];
  const int trim = static_cast<int>(v["trim"]);
  WARN("VmRSS KiB: start " << start << ", peak " << v["peak"] << ", right after free " << v["freed"]
                           << ", after 1 s idle + one call " << idle << " (+" << idle - start << "), malloc_trim(0) = "
                           << trim << ", after it " << trimmed << " (+" << trimmed - start << ")");
  CHECK(v["peak"] - start > 200 * 1024);  // the scenario did make the memory resident
  CHECK(idle - start <= kSlackIdleKiB);
  // malloc_trim(0) returns 1 when it released memory; with almost nothing
  // left to release, 0 is honest too.
  if (idle - start > kSlackTrimKiB)
    CHECK(trim == 1);
  else
    CHECK((trim == 0 || trim == 1));
  CHECK(trimmed - start <= kSlackTrimKiB);
}

TEST_CASE("idle freed memory goes back: 60 MiB of 2 MiB blocks, 2 s idle", "[idle]") {
  auto v = run_scenario(scenario_large);
  const long start = v["start"], idle = v["idle"];
  WARN("VmRSS KiB: start " << start << ", peak " << v["peak"] << ", right after free " << v["freed"]
                           << ", after 2 s idle + one call " << idle << " (+" << idle - start << ")");
  CHECK(v["peak"] - start > 50 * 1024);
  CHECK(idle - start <= kSlackIdleKiB);
}
