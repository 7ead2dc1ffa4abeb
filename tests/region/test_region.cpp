#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>

#include <pthread.h>
#include <sys/prctl.h>

#include "tinyalloc/region.hpp"

using namespace tinyalloc;

namespace {
bool aligned(const void* p, std::size_t a) { return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0; }
}  // namespace

TEST_CASE("page size is a power of two of at least 4 KiB") {
  const std::size_t ps = region::page_size();
  REQUIRE(ps >= 4096);
  REQUIRE((ps & (ps - 1)) == 0);
}

TEST_CASE("reservations honour every power-of-two alignment") {
  for (std::size_t align = 1; align <= (std::size_t{64} << 20); align <<= 1) {
    for (std::size_t size : {std::size_t{1}, std::size_t{4096}, std::size_t{300000}, std::size_t{5} << 20}) {
      char* p = static_cast<char*>(region::reserve(size, align));
      REQUIRE(p != nullptr);
      REQUIRE(aligned(p, align < region::page_size() ? region::page_size() : align));
      // Readable as zero and writable from first to last byte.
      REQUIRE(p[0] == 0);
      REQUIRE(p[size - 1] == 0);
      p[0] = 1;
      p[size - 1] = 2;
      REQUIRE(region::release(p, size));
    }
  }
}

TEST_CASE("decommitted memory reads as zero when touched again") {
  const std::size_t size = std::size_t{1} << 20;
  char* p = static_cast<char*>(region::reserve(size, region::page_size()));
  REQUIRE(p != nullptr);
  std::memset(p, 0xAB, size);
  REQUIRE(region::commit(p, size));
  REQUIRE(region::decommit(p, size));
  for (std::size_t i = 0; i < size; i += 512) REQUIRE(p[i] == 0);
  p[100] = 7;  // still mapped and writable
  REQUIRE(p[100] == 7);
  REQUIRE(region::release(p, size));
}

TEST_CASE("commit and decommit are counted; prefault makes pages resident") {
  const auto before = region::counters();
  const std::size_t size = 64 * region::page_size();
  char* p = static_cast<char*>(region::reserve(size, 0));
  REQUIRE(p != nullptr);
  REQUIRE(region::counters().reserved >= before.reserved + size);
  REQUIRE(region::commit(p, size, /*prefault=*/true));
  REQUIRE(region::counters().committed == before.committed + size);
  REQUIRE(region::counters().peak_committed >= before.committed + size);
  REQUIRE(region::decommit(p, size));
  REQUIRE(region::counters().committed == before.committed);
  REQUIRE(region::release(p, size));
  REQUIRE(region::counters().reserved == before.reserved);
}

TEST_CASE("move carries pages to a new reservation without copying them") {
  const std::size_t old_size = 3 * region::page_size();
  const std::size_t new_size = 40 * region::page_size();
  char* from = static_cast<char*>(region::reserve(old_size, 0));
  char* to = static_cast<char*>(region::reserve(new_size, std::size_t{1} << 18));
  REQUIRE(from != nullptr);
  REQUIRE(to != nullptr);
  for (std::size_t i = 0; i < old_size; ++i) from[i] = static_cast<char>(i * 7);
  REQUIRE(region::move(from, old_size, to, new_size));
  for (std::size_t i = 0; i < old_size; ++i) REQUIRE(to[i] == static_cast<char>(i * 7));
  REQUIRE(to[new_size - 1] == 0);  // the grown tail is fresh
  REQUIRE(region::release(to, new_size));
}

TEST_CASE("failures come back as values") {
  REQUIRE(region::reserve(0, 0) == nullptr);
  REQUIRE(region::reserve(~std::size_t{0} - 4096, 0) == nullptr);
  REQUIRE(region::reserve(std::size_t{1} << 47, std::size_t{1} << 20) == nullptr);
}

TEST_CASE("align_up") {
  STATIC_REQUIRE(region::align_up(1, 16) == 16);
  STATIC_REQUIRE(region::align_up(16, 16) == 16);
  STATIC_REQUIRE(region::align_up(0, 4096) == 0);
}

TEST_CASE("zero clears a range, partial pages included, without changing the accounting") {
  const std::size_t ps = region::page_size();
  const std::size_t size = 16 * ps;
  char* p = static_cast<char*>(region::reserve(size, 0));
  REQUIRE(p != nullptr);
  REQUIRE(region::commit(p, size));
  std::memset(p, 0xAB, size);
  const auto before = region::counters();
  region::zero(p + 100, size - 300);  // starts and ends inside a page
  REQUIRE(region::counters().committed == before.committed);
  for (std::size_t i = 0; i < size; ++i) {
    const bool inside = i >= 100 && i < size - 200;
    REQUIRE(static_cast<unsigned char>(p[i]) == (inside ? 0 : 0xAB));
  }
  region::zero(p + 10, 20);  // within one page
  for (std::size_t i = 10; i < 30; ++i) REQUIRE(p[i] == 0);
  REQUIRE(static_cast<unsigned char>(p[5]) == 0xAB);
  REQUIRE(region::decommit(p, size));
  REQUIRE(region::release(p, size));
}

namespace {
// What the started thread saw, for the test below.
struct ThreadReport {
  std::atomic<bool> done{false};
  bool signals_blocked = false;
  bool named = false;
  char name[16] = {};
};

void* report_thread(void* arg) {
  auto& r = *static_cast<ThreadReport*>(arg);
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  r.signals_blocked = sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGTERM) == 1 &&
                      sigismember(&mask, SIGALRM) == 1 && sigismember(&mask, SIGCHLD) == 1;
  r.named = region::name_this_thread("ta-region-test");
  prctl(PR_GET_NAME, r.name, 0, 0, 0);
  r.done.store(true, std::memory_order_release);
  return nullptr;
}
}  // namespace

TEST_CASE("a started thread runs with every signal blocked and names itself") {
  ThreadReport r;
  REQUIRE(region::start_thread(&report_thread, &r));
  for (int i = 0; i < 5000 && !r.done.load(std::memory_order_acquire); ++i) region::sleep_ms(1);
  REQUIRE(r.done.load(std::memory_order_acquire));
  CHECK(r.signals_blocked);
  CHECK(r.named);
  CHECK(std::strcmp(r.name, "ta-region-test") == 0);
}
