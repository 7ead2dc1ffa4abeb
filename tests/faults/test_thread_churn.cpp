// Thousands of short-lived threads: each allocates, frees some blocks, frees
// blocks left by an earlier (now dead) thread, and leaves others behind for
// a later thread.  Exited threads' heaps are reused, not piled up, and the
// resident memory stays bounded.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>
#include <vector>

#include "../common/proc.hpp"
#include "faults_common.hpp"

using namespace faults;

namespace {

struct Left {  // blocks a dead thread left for the next ones
  std::mutex m;
  std::vector<std::pair<void*, std::size_t>> blocks;
};

bool short_life(Left& left, unsigned seed) {
  std::mt19937_64 rng(seed);
  bool ok = true;
  std::vector<std::pair<void*, std::size_t>> mine;
  for (int k = 0; k < 40; ++k) {
    const std::size_t n = random_size(rng);
    void* p = alloc_filled(n);
    if (p == nullptr) return false;
    mine.emplace_back(p, n);
  }
  std::vector<std::pair<void*, std::size_t>> inherited;
  {
    std::lock_guard<std::mutex> g(left.m);
    inherited.swap(left.blocks);
    for (std::size_t k = 0; k < mine.size(); k += 4) left.blocks.push_back(mine[k]);
  }
  for (const auto& [p, n] : inherited) ok &= check_free(p, n);
  for (std::size_t k = 0; k < mine.size(); ++k)
    if (k % 4 != 0) ok &= check_free(mine[k].first, mine[k].second);
  return ok;
}

}  // namespace

TEST_CASE("5000 short-lived threads, 8 at a time", "[threads]") {
  Left left;
  std::atomic<int> failures{0};
  long rss_mid = 0;
  tinyalloc::Stats mid{};
  constexpr int total = 5000, batch = 8;
  for (int t = 0; t < total; t += batch) {
    std::vector<std::thread> ts;
    for (int i = 0; i < batch; ++i)
      ts.emplace_back([&, t, i] {
        if (!short_life(left, static_cast<unsigned>(t + i))) failures.fetch_add(1);
      });
    for (auto& th : ts) th.join();
    if (t == 1000) {
      rss_mid = test_proc::vm_rss_kib();
      tinyalloc::stats_get(mid);
    }
  }
  for (const auto& [p, n] : left.blocks) REQUIRE(check_free(p, n));
  REQUIRE(failures.load() == 0);
  const long rss_end = test_proc::vm_rss_kib();
  tinyalloc::Stats end;
  tinyalloc::stats_get(end);
  INFO("RSS after 1000 threads " << rss_mid << " KiB, after 5000 " << rss_end << " KiB; heaps created "
                                 << mid.heaps_created << " -> " << end.heaps_created << "; segments abandoned "
                                 << end.segments_abandoned << ", adopted " << end.segments_adopted);
  // Heaps of exited threads are reused: no new heap per thread.
  CHECK(end.heaps_created <= 2 * batch + 1);
  // 4000 more threads did not grow memory by more than 32 MiB.
  CHECK(rss_end - rss_mid < 32 * 1024);
}
