// Issue 9: an allocation the machine cannot back fails honestly, with NULL
// and errno == ENOMEM, as glibc's does, instead of "succeeding" with address
// space the kernel never promised (and a SIGKILL from the OOM killer later,
// when the pages are touched).
//
// The kernel refuses such a mapping in overcommit modes 0 (heuristic: one
// mapping larger than RAM + swap) and 2 (strict).  In mode 1 (always
// overcommit) glibc would succeed too, so the checks are skipped.  A size
// the machine could back (RAM + swap larger than it) is skipped as well.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "../common/proc.hpp"

namespace {

constexpr std::size_t GiB = std::size_t{1} << 30;

// Through volatile pointers: the compiler may not drop or fold the calls.
void* (*volatile do_malloc)(std::size_t) = std::malloc;
void* (*volatile do_calloc)(std::size_t, std::size_t) = std::calloc;
void* (*volatile do_aligned_alloc)(std::size_t, std::size_t) = std::aligned_alloc;
void (*volatile do_free)(void*) = std::free;

// False (with a warning) if the kernel could honestly grant `bytes` here.
bool kernel_refuses(std::size_t bytes) {
  const int mode = test_proc::overcommit_mode();
  if (mode == 1) {
    WARN("vm.overcommit_memory = 1 (always overcommit): glibc would succeed too; not checked");
    return false;
  }
  const long ram = test_proc::meminfo_kib("MemTotal"), swap = test_proc::meminfo_kib("SwapTotal");
  if (ram < 0 || static_cast<double>(ram + (swap > 0 ? swap : 0)) * 1024 >= static_cast<double>(bytes)) {
    WARN("RAM + swap (" << ram << " + " << swap << " KiB) could back " << bytes << " bytes; not checked");
    return false;
  }
  return true;
}

// Requires p == NULL and errno == ENOMEM; frees p if the call succeeded.
void require_enomem(void* p, int err) {
  const bool null = p == nullptr;
  do_free(p);
  CAPTURE(p, err);
  CHECK(null);
  CHECK(err == ENOMEM);
}

}  // namespace

TEST_CASE("malloc(100 GiB) fails with ENOMEM", "[enomem]") {
  if (!kernel_refuses(100 * GiB)) return;
  errno = 0;
  void* p = do_malloc(100 * GiB);
  require_enomem(p, errno);
}

TEST_CASE("malloc(1 TiB) fails with ENOMEM", "[enomem]") {
  if (!kernel_refuses(1024 * GiB)) return;
  errno = 0;
  void* p = do_malloc(1024 * GiB);
  require_enomem(p, errno);
}

TEST_CASE("calloc(1 Mi, 1 Mi) (1 TiB) fails with ENOMEM", "[enomem]") {
  if (!kernel_refuses(1024 * GiB)) return;
  errno = 0;
  void* p = do_calloc(std::size_t{1} << 20, std::size_t{1} << 20);
  require_enomem(p, errno);
}

TEST_CASE("aligned_alloc(32 TiB alignment, 16) fails with ENOMEM", "[enomem]") {
  if (!kernel_refuses(std::size_t{1} << 45)) return;
  errno = 0;
  void* p = do_aligned_alloc(std::size_t{1} << 45, 16);
  require_enomem(p, errno);
}

TEST_CASE("malloc(SIZE_MAX) fails with ENOMEM", "[enomem]") {
  errno = 0;
  void* p = do_malloc(SIZE_MAX);
  require_enomem(p, errno);
}

TEST_CASE("after the refusals, malloc still works", "[enomem]") {
  errno = 0;
  void* p = do_malloc(100 * GiB);
  do_free(p);
  for (std::size_t n : {std::size_t{16}, std::size_t{4096}, std::size_t{1} << 20, std::size_t{64} << 20}) {
    void* q = do_malloc(n);
    REQUIRE(q != nullptr);
    static_cast<volatile char*>(q)[n - 1] = 1;
    do_free(q);
  }
}
