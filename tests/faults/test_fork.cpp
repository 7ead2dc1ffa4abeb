// fork() while other threads allocate: 100 forks; each child checks blocks
// inherited from the parent, allocates and frees (also on a new thread) and
// exits 0; the parent's threads keep allocating throughout and after.  A
// deadlock in the child (a lock held by a thread that does not exist there)
// or in the parent fails by timeout instead of blocking the test run.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "../common/child.hpp"
#include "faults_common.hpp"

using namespace faults;

namespace {

// A thread of the parent: allocate, verify, free, in a ring, until stopped.
void churn(std::atomic<bool>& stop, std::atomic<std::uint64_t>& ops, std::atomic<bool>& bad, unsigned seed) {
  std::mt19937_64 rng(seed);
  struct B {
    void* p = nullptr;
    std::size_t n = 0;
  } ring[128];
  std::uint64_t i = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    B& b = ring[i++ % 128];
    if (b.p != nullptr && !check_free(b.p, b.n)) bad.store(true);
    b.n = random_size(rng);
    b.p = alloc_filled(b.n);
    if (b.p == nullptr) bad.store(true);
    ops.fetch_add(1, std::memory_order_relaxed);
  }
  for (B& b : ring)
    if (b.p != nullptr && !check_free(b.p, b.n)) bad.store(true);
}

// What a child does: returns 0 if everything worked.
int child_work(const std::vector<std::pair<void*, std::size_t>>& inherited, unsigned seed) {
  for (const auto& [p, n] : inherited)
    if (check_range(p, 0, n, seed_of(p)) != SIZE_MAX) {
      std::fprintf(stderr, "child: inherited block %p corrupted\n", p);
      return 3;
    }
  for (const auto& [p, n] : inherited) std::free(p);  // blocks of the parent's heaps
  std::mt19937_64 rng(seed);
  std::vector<std::pair<void*, std::size_t>> mine;
  for (int k = 0; k < 3000; ++k) {
    const std::size_t n = random_size(rng);
    void* p = alloc_filled(n);
    if (p == nullptr) return 4;
    mine.emplace_back(p, n);
  }
  std::atomic<int> thread_rc{0};
  std::thread t([&] {  // a new thread in the child frees half and allocates
    for (std::size_t k = 0; k < mine.size(); k += 2)
      if (!check_free(mine[k].first, mine[k].second)) thread_rc = 5;
    for (int k = 0; k < 2000; ++k) {
      void* p = alloc_filled(64);
      if (p == nullptr || !check_free(p, 64)) thread_rc = 6;
    }
  });
  t.join();
  if (thread_rc != 0) return thread_rc;
  for (std::size_t k = 1; k < mine.size(); k += 2)
    if (!check_free(mine[k].first, mine[k].second)) return 7;
  return 0;
}

}  // namespace

TEST_CASE("100 forks while three threads allocate", "[fork]") {
  alarm(300);  // a hang of the parent itself kills the test (SIGALRM)
  std::atomic<bool> stop{false}, bad{false};
  std::atomic<std::uint64_t> ops{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < 3; ++i) threads.emplace_back(churn, std::ref(stop), std::ref(ops), std::ref(bad), 11 + i);

  std::mt19937_64 rng(5);
  int survived = 0;
  for (int f = 0; f < 100; ++f) {
    // The parent's own blocks, alive across the fork: the child must see
    // them intact and be able to free them.
    std::vector<std::pair<void*, std::size_t>> held;
    for (int k = 0; k < 50; ++k) {
      const std::size_t n = random_size(rng);
      held.emplace_back(alloc_filled(n), n);
      REQUIRE(held.back().first != nullptr);
    }
    const test_child::Result r = test_child::run([&] { return child_work(held, 100 + f); }, 60);
    INFO("fork " << f << ": child " << r.describe());
    REQUIRE(r.exited_ok());
    ++survived;
    for (const auto& [p, n] : held) REQUIRE(check_free(p, n));
  }
  // The parent's threads are still allocating after the last fork.
  const std::uint64_t before = ops.load();
  while (ops.load() < before + 10000) std::this_thread::yield();
  stop = true;
  for (auto& t : threads) t.join();
  alarm(0);
  REQUIRE_FALSE(bad.load());
  WARN("forks survived: " << survived << "; parent thread operations meanwhile: " << ops.load());
  REQUIRE(survived == 100);
}
