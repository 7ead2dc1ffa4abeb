// Issue 9: glibc's malloc API beyond the C standard, as programs and
// libraries call it: mallinfo2, malloc_stats, malloc_info, mallopt,
// malloc_trim, and the __libc_* aliases.  When tinyalloc replaces malloc,
// these must describe and operate on tinyalloc's blocks, not on glibc's
// idle heap (and __libc_free must not be handed a block it cannot free).
//
// Built twice: test_process (static override) and test_process_preload
// (no allocator linked; ctest runs it with LD_PRELOAD=libtinyalloc.so).
// Every case runs in a child process: an abort fails one case only.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/child.hpp"
#include "tinyalloc.h"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
// From the static override, or from the preloaded libtinyalloc.so.
void ta_stats_get(ta_stats_t*) __attribute__((weak));
}

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

std::uint64_t small_served() {
  ta_stats_t s;
  ta_stats_get(&s);
  return s.small_served;
}

bool stats_count() {
  ta_stats_t s;
  ta_stats_get(&s);
  return s.counting != 0;
}

// The body's failure message, then its exit code.
int fail(int code, const char* what) {
  std::printf("FAILED: %s\n", what);
  return code;
}

void run_case(int (*body)()) {
  const test_child::Result r = test_child::run(body, 30);
  INFO("child " << r.describe());
  CHECK(r.exited_ok());
}

}  // namespace

TEST_CASE("tinyalloc is the process's malloc", "[glibc]") {
  REQUIRE(ta_stats_get != nullptr);
  if (!stats_count()) return;
  const std::uint64_t before = small_served();
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) v.push_back(std::malloc(64));
  REQUIRE(small_served() >= before + 100);
  for (void* p : v) std::free(p);
}

// As in glibc, bytes in use are uordblks (the heap) plus hblkhd (blocks
// mapped on their own: tinyalloc's large blocks).
TEST_CASE("mallinfo2 reports tinyalloc's bytes in use", "[glibc][mallinfo]") {
  run_case([] {
    const struct mallinfo2 base = mallinfo2();
    std::vector<void*> blocks;
    std::size_t live = 0;
    for (int i = 0; i < 50; ++i, live += 2 * MiB) blocks.push_back(std::malloc(2 * MiB));
    for (int i = 0; i < 10000; ++i, live += 100) blocks.push_back(std::malloc(100));
    for (void* p : blocks) std::memset(p, 1, 100);
    const struct mallinfo2 during = mallinfo2();
    for (void* p : blocks) std::free(p);
    const struct mallinfo2 after = mallinfo2();
    const std::size_t in_use[] = {base.uordblks + base.hblkhd, during.uordblks + during.hblkhd,
                                  after.uordblks + after.hblkhd};
    std::printf("live %zu; uordblks+hblkhd %zu -> %zu -> %zu; arena %zu, hblkhd %zu while live\n", live, in_use[0],
                in_use[1], in_use[2], during.arena, during.hblkhd);
    if (in_use[1] < live / 10 * 9) return fail(1, "uordblks + hblkhd is below 90% of the live bytes");
    if (during.arena == 0 || during.hblkhd == 0)
      return fail(2, "arena or hblkhd is 0 with small and large blocks live");
    if (in_use[2] > in_use[1] || in_use[1] - in_use[2] < live / 10 * 8)
      return fail(3, "uordblks + hblkhd did not drop by 80% of the freed bytes");
    return 0;
  });
}

TEST_CASE("malloc_stats prints tinyalloc's statistics on stderr", "[glibc][malloc_stats]") {
  const test_child::Result r = test_child::run(
      [] {
        void* p = std::malloc(100);
        std::fprintf(stderr, "BEGIN\n");
        std::fflush(stderr);
        malloc_stats();
        std::fflush(stderr);
        std::free(p);
        return 0;
      },
      30);
  INFO("child " << r.describe());
  REQUIRE(r.exited_ok());
  const std::size_t begin = r.output.find("BEGIN\n");
  REQUIRE(begin != std::string::npos);
  CHECK(r.output.find("tinyalloc", begin) != std::string::npos);
}

TEST_CASE("malloc_info writes XML to the FILE and returns 0", "[glibc][malloc_info]") {
  run_case([] {
    std::FILE* f = std::tmpfile();
    if (f == nullptr) return fail(1, "tmpfile");
    void* p = std::malloc(100);
    const int rc = malloc_info(0, f);
    std::free(p);
    std::fflush(f);
    std::rewind(f);
    char head[64] = {};
    const std::size_t n = std::fread(head, 1, sizeof head - 1, f);
    std::fclose(f);
    std::printf("malloc_info returned %d; wrote %zu+ bytes starting \"%s\"\n", rc, n, head);
    if (rc != 0) return fail(2, "malloc_info did not return 0");
    if (std::strncmp(head, "<malloc", 7) != 0) return fail(3, "the output does not start with <malloc");
    return 0;
  });
}

TEST_CASE("mallopt accepts the thresholds and refuses an unknown option", "[glibc][mallopt]") {
  run_case([] {
    const int trim = mallopt(M_TRIM_THRESHOLD, 1 << 20);
    const int mmap = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    const int unknown = mallopt(12345, 1);
    std::printf("mallopt: M_TRIM_THRESHOLD %d, M_MMAP_THRESHOLD %d, 12345 %d\n", trim, mmap, unknown);
    if (trim != 1 || mmap != 1) return fail(1, "a threshold was refused");
    if (unknown != 0) return fail(2, "option 12345 was accepted");
    void* p = std::malloc(3 << 20);  // still allocates after the settings
    if (p == nullptr) return fail(3, "malloc after mallopt");
    std::free(p);
    return 0;
  });
}

TEST_CASE("malloc_trim(0) returns 0 or 1", "[glibc][malloc_trim]") {
  run_case([] {
    std::vector<void*> v;
    for (int i = 0; i < 1000; ++i) v.push_back(std::malloc(1000));
    for (void* p : v) std::free(p);
    const int rc = malloc_trim(0);
    std::printf("malloc_trim(0) = %d\n", rc);
    return rc == 0 || rc == 1 ? 0 : fail(1, "malloc_trim(0) returned neither 0 nor 1");
  });
}

TEST_CASE("__libc_free frees tinyalloc's malloc", "[glibc][libc_alias]") {
  run_case([] {
    __libc_free(std::malloc(64));
    __libc_free(std::malloc(1000));
    __libc_free(std::malloc(MiB));
    return 0;
  });
}

TEST_CASE("free frees __libc_malloc, which is tinyalloc's", "[glibc][libc_alias]") {
  run_case([] {
    const bool counting = stats_count();
    const std::uint64_t before = counting ? small_served() : 0;
    std::vector<void*> v;
    for (int i = 0; i < 100; ++i) v.push_back(__libc_malloc(64));
    if (counting && small_served() < before + 100) return fail(1, "__libc_malloc is not served by tinyalloc");
    for (void* p : v) std::free(p);
    std::free(__libc_malloc(MiB));
    return 0;
  });
}

TEST_CASE("malloc_usable_size of __libc_malloc", "[glibc][libc_alias]") {
  run_case([] {
    void* p = __libc_malloc(100);
    if (p == nullptr) return fail(1, "__libc_malloc(100)");
    const std::size_t n = malloc_usable_size(p);
    std::printf("malloc_usable_size(__libc_malloc(100)) = %zu\n", n);
    std::free(p);
    return n >= 100 ? 0 : fail(2, "usable size below 100");
  });
}

TEST_CASE("__libc_calloc, __libc_realloc, __libc_memalign work with free and __libc_free", "[glibc][libc_alias]") {
  run_case([] {
    auto* c = static_cast<unsigned char*>(__libc_calloc(100, 10));
    if (c == nullptr) return fail(1, "__libc_calloc");
    for (int i = 0; i < 1000; ++i)
      if (c[i] != 0) return fail(2, "__libc_calloc's block is not zeroed");
    std::memset(c, 7, 1000);
    auto* r = static_cast<unsigned char*>(__libc_realloc(c, 5000));
    if (r == nullptr) return fail(3, "__libc_realloc");
    for (int i = 0; i < 1000; ++i)
      if (r[i] != 7) return fail(4, "__libc_realloc lost the content");
    r = static_cast<unsigned char*>(std::realloc(r, 200));  // and realloc takes it back
    if (r == nullptr || r[199] != 7) return fail(5, "realloc of __libc_realloc's block");
    __libc_free(r);
    void* a = __libc_memalign(256, 100);
    if (a == nullptr || reinterpret_cast<std::uintptr_t>(a) % 256 != 0) return fail(6, "__libc_memalign(256, 100)");
    std::free(a);
    void* b = std::aligned_alloc(4096, 100);
    __libc_free(b);
    return 0;
  });
}
