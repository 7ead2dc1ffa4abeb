// Issue 9: memalign as glibc implements it, which old code relies on: any
// alignment is accepted; one that is not a power of two is rounded up to
// the next power of two, and one below the minimum (0, 1, 3, ...) gives an
// ordinary block.  aligned_alloc and posix_memalign keep their stricter
// documented rules (EINVAL).
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

void* (*volatile do_memalign)(std::size_t, std::size_t) = memalign;
void* (*volatile do_aligned_alloc)(std::size_t, std::size_t) = std::aligned_alloc;
int (*volatile do_posix_memalign)(void**, std::size_t, std::size_t) = posix_memalign;

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// memalign(alignment, size): non-NULL, aligned to `expect`, usable for size.
void check_memalign(std::size_t alignment, std::size_t size, std::size_t expect) {
  errno = 0;
  void* p = do_memalign(alignment, size);
  const int err = errno;
  CAPTURE(alignment, size, p, err);
  REQUIRE(p != nullptr);
  CHECK(addr(p) % expect == 0);
  CHECK(malloc_usable_size(p) >= size);
  std::memset(p, 0xab, size);
  std::free(p);
}

}  // namespace

TEST_CASE("memalign with an alignment below the minimum gives an ordinary block", "[memalign]") {
  check_memalign(0, 48, 16);
  check_memalign(1, 1, 1);
  check_memalign(3, 10, 4);  // rounded up to 4 at least (glibc: to its minimum, 16)
}

TEST_CASE("memalign with an alignment that is not a power of two rounds it up", "[memalign]") {
  check_memalign(24, 48, 32);
  check_memalign(48, 100, 64);
  check_memalign(3000, 10, 4096);
}

TEST_CASE("memalign with ordinary alignments", "[memalign]") {
  check_memalign(16, 10, 16);
  check_memalign(64, 1000, 64);
  check_memalign(4096, 100, 4096);
}

TEST_CASE("aligned_alloc keeps C's rule: an alignment that is not a power of two is EINVAL", "[memalign]") {
  errno = 0;
  void* p = do_aligned_alloc(24, 48);
  const int err = errno;
  std::free(p);
  CAPTURE(p, err);
  CHECK(p == nullptr);
  CHECK(err == EINVAL);
}

TEST_CASE("posix_memalign keeps POSIX's rule: alignment 24 is EINVAL", "[memalign]") {
  void* p = reinterpret_cast<void*>(0x1);
  const int rc = do_posix_memalign(&p, 24, 48);
  CHECK(rc == EINVAL);
  if (rc == 0) std::free(p);
}
