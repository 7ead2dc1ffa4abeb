// Out of memory under RLIMIT_AS, in a child process (the limit must not
// reach the test runner): allocation fails with NULL and errno == ENOMEM
// (operator new throws bad_alloc), the program keeps running, and it recovers
// once memory is freed, for small and for large blocks.
//
// The limit is the child's current address-space size plus a headroom of
// 1 GiB; the numbers reached are printed, so a regression in how much of the
// headroom tinyalloc can use is visible in the log.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "../common/child.hpp"
#include "faults_common.hpp"

using namespace faults;

namespace {

constexpr std::size_t kHeadroom = 1024 * MiB;

long vm_size_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmSize:", 0) == 0) return std::strtol(line.c_str() + 7, nullptr, 10);
  return -1;
}

#define EXPECT(cond, ...)                          \
  do {                                             \
    if (!(cond)) {                                 \
      std::fprintf(stderr, "FAILED: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);           \
      std::fprintf(stderr, "\n");                  \
      return 1;                                    \
    }                                              \
  } while (0)

// Allocates blocks of n bytes into `out` until malloc fails; touches each.
// Returns errno of the failure.
int fill_until_null(std::vector<void*>& out, std::size_t n) {
  for (;;) {
    if (out.size() == out.capacity()) return -1;  // the slots are pre-reserved
    errno = 0;
    void* p = std::malloc(n);
    if (p == nullptr) return errno;
    static_cast<char*>(p)[0] = 1;
    static_cast<char*>(p)[n - 1] = 2;
    out.push_back(p);
  }
}

void free_all(std::vector<void*>& v) {
  for (void* p : v) std::free(p);
  v.clear();
}

// Allocates `count` blocks of n bytes, frees them; the number that
// succeeded.  `v` is reserved beforehand (no allocation of its own at OOM).
std::size_t try_alloc(std::vector<void*>& v, std::size_t count, std::size_t n) {
  for (std::size_t i = 0; i < count; ++i) {
    void* p = std::malloc(n);
    if (p == nullptr) break;
    std::memset(p, 0x5a, n);
    v.push_back(p);
  }
  const std::size_t got = v.size();
  free_all(v);
  return got;
}

int oom_child() {
  // Every container the child needs is sized before the limit is set.
  std::vector<void*> small, large, scratch;
  small.reserve(2 * kHeadroom / 1000);  // more than can fit
  large.reserve(2 * kHeadroom / MiB);
  scratch.reserve(200000);
  free_all(small);
  const long base_kib = vm_size_kib();
  const rlimit lim{static_cast<rlim_t>(base_kib) * 1024 + kHeadroom, static_cast<rlim_t>(base_kib) * 1024 + kHeadroom};
  EXPECT(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit: %s", std::strerror(errno));

  // 1. Small blocks until NULL.
  int err = fill_until_null(small, 1000);
  const std::size_t small_count = small.size();
  std::printf("small: %zu blocks of 1000 B (%zu MiB of %zu MiB headroom) before NULL\n", small_count,
              small_count * 1000 / MiB, kHeadroom / MiB);
  EXPECT(err == ENOMEM, "malloc(1000) failed with errno %d, expected ENOMEM", err);
  EXPECT(small_count * 1000 >= kHeadroom / 2, "only %zu MiB of small blocks", small_count * 1000 / MiB);

  // 2. The program keeps running: every entry point fails cleanly.
  errno = 0;
  EXPECT(std::calloc(1000, 1000) == nullptr && errno == ENOMEM, "calloc at OOM: errno %d", errno);
  void* keep = small.back();
  errno = 0;
  EXPECT(std::realloc(keep, 64 * MiB) == nullptr && errno == ENOMEM, "realloc at OOM: errno %d", errno);
  EXPECT(static_cast<char*>(keep)[0] == 1, "realloc failure must leave the block intact");
  bool threw = false;
  try {
    void* volatile v = ::operator new(4 * MiB);
    ::operator delete(v);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  EXPECT(threw, "operator new(4 MiB) at OOM did not throw bad_alloc");

  // 3. Free every other small block: the same size is served again, from
  // the freed space (at least 90% of what was freed).
  std::size_t freed = 0;
  for (std::size_t i = 0; i < small.size(); i += 2, ++freed) std::free(small[i]);
  std::size_t again = 0;
  for (std::size_t i = 0; i < small.size(); i += 2, ++again) {
    small[i] = std::malloc(1000);
    if (small[i] == nullptr) break;
  }
  std::printf("small: after freeing %zu blocks, %zu of 1000 B allocated again\n", freed, again);
  if (again < freed) small.resize(again * 2);  // entries past the failure are gone
  EXPECT(again * 10 >= freed * 9, "only %zu of %zu freed blocks could be allocated again", again, freed);

  // 4. Free everything: large blocks now get most of the headroom.
  free_all(small);
  err = fill_until_null(large, MiB);
  const std::size_t large_count = large.size();
  std::printf("large: %zu blocks of 1 MiB after freeing every small block, then NULL\n", large_count);
  EXPECT(err == ENOMEM, "malloc(1 MiB) failed with errno %d, expected ENOMEM", err);
  EXPECT(large_count * MiB >= kHeadroom / 2, "only %zu MiB of large blocks after freeing all small ones", large_count);

  // 5. At OOM with large blocks, small allocations still fail cleanly; after
  // freeing the large blocks, small ones work again.
  const std::size_t small_at_oom = try_alloc(scratch, 100000, 100);
  std::printf("small at large-OOM: %zu of 100000 blocks of 100 B\n", small_at_oom);
  free_all(large);
  const std::size_t small_after = try_alloc(scratch, 200000, 1000);
  std::printf("small after freeing every large block: %zu of 200000 blocks of 1000 B\n", small_after);
  EXPECT(small_after == 200000, "only %zu of 200000 small blocks after freeing every large block", small_after);
  const std::size_t large_after = try_alloc(scratch, 256, MiB);
  std::printf("large after that: %zu of 256 blocks of 1 MiB\n", large_after);
  EXPECT(large_after == 256, "only %zu of 256 large blocks after freeing everything", large_after);

  // 6. A request larger than the limit fails at once.
  errno = 0;
  EXPECT(std::malloc(2 * kHeadroom) == nullptr && errno == ENOMEM, "malloc(2 GiB) errno %d", errno);
  return 0;
}

}  // namespace

TEST_CASE("out of memory under RLIMIT_AS: NULL with ENOMEM, then recovery", "[oom]") {
  const test_child::Result r = test_child::run(oom_child, 120);
  INFO("child " << r.describe());
  REQUIRE(r.exited_ok());
  WARN(r.output);
}
