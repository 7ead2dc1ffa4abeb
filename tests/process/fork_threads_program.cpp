// Issue 9: fork() while threads that hold blocks are alive, then new threads
// in the child.
//
// A standalone program (no test framework), built twice: linked with the
// static override, and linked with no allocator and run by ctest with
// LD_PRELOAD=libtinyalloc.so.  It exits 0 if every round passed.
//
// Four threads each hold 6,000 blocks of 48 bytes holding a pattern, and
// keep allocating.  The main thread forks 20 times.  Each child:
//   1. starts four threads, joined: two free one block of each parent
//      thread's set, two free all of a set each (the pointers are valid in
//      the child's copy of the address space);
//   2. starts four more threads, joined, that allocate blocks, write a
//      pattern into each, and read every one back while all are live (two
//      live blocks sharing memory would show), then free them;
//   3. checks that the blocks nobody freed still hold their pattern, and
//      frees them from the main thread.
// The parent's threads do not exist in the child, but glibc hands their
// stacks (and so their thread pointers) to the child's new threads.  Each
// child must exit 0 within 15 s: a crash or a hang fails the round.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "../common/child.hpp"
#include "../common/pattern.hpp"
#include "tinyalloc.h"

using namespace test_pattern;

// Resolved by the link (static override) or by the dynamic linker against
// the preloaded libtinyalloc.so; null if neither provides tinyalloc.
extern "C" void ta_stats_get(ta_stats_t*) __attribute__((weak));

namespace {

constexpr int kParentThreads = 4;
constexpr int kBlocksPerThread = 6000;
constexpr std::size_t kBlock = 48;
constexpr int kRounds = 20;
constexpr int kChildTimeoutS = 15;

std::uint64_t seed_of(const void* p) { return addr(p) * 0x9E3779B97F4A7C15ULL; }

void* alloc_filled(std::size_t n) {
  void* p = std::malloc(n);
  if (p != nullptr) fill_range(p, 0, n, seed_of(p));
  return p;
}

bool intact(const void* p, std::size_t n) { return check_range(p, 0, n, seed_of(p)) == SIZE_MAX; }

// Is malloc tinyalloc's?  Its statistics must count the blocks we allocate.
bool tinyalloc_serves_malloc() {
  if (ta_stats_get == nullptr) return false;
  ta_stats_t before, after;
  ta_stats_get(&before);
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) v.push_back(std::malloc(kBlock));
  ta_stats_get(&after);
  for (void* p : v) std::free(p);
  return !before.counting || after.small_served >= before.small_served + 100;
}

struct Parent {
  std::vector<void*> sets[kParentThreads];
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> bad{false};
};

// A parent thread: fill its set, say so, then keep allocating until stopped.
void parent_thread(Parent& par, int t) {
  std::vector<void*>& set = par.sets[t];
  for (int i = 0; i < kBlocksPerThread; ++i) set.push_back(alloc_filled(kBlock));
  {
    std::lock_guard<std::mutex> lk(par.m);
    ++par.ready;
  }
  par.cv.notify_all();
  void* ring[64] = {};
  for (unsigned i = 0; !par.stop.load(std::memory_order_relaxed); ++i) {
    void*& slot = ring[i % 64];
    if (slot != nullptr && !intact(slot, 16 + i % 64)) par.bad = true;  // size as written below
    std::free(slot);
    slot = alloc_filled(16 + i % 64);
    if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  for (unsigned i = 0; i < 64; ++i) std::free(ring[i]);
}

// Everything the child does; returns its exit code.
int child(const Parent& par) {
  for (int t = 0; t < kParentThreads; ++t)
    for (const void* p : par.sets[t])
      if (!intact(p, kBlock)) {
        std::fprintf(stderr, "child: inherited block %p of set %d corrupted\n", p, t);
        return 3;
      }

  // Step 1.  Threads 0 and 1 free one block of every set (blocks 10 and 20);
  // threads 2 and 3 free the rest of sets 1 and 3.
  auto freed_in_step1 = [](int t, int i) { return i == 10 || i == 20 || t % 2 == 1; };
  std::vector<std::thread> ts;
  for (int k = 0; k < 2; ++k)
    ts.emplace_back([&par, k] {
      for (int t = 0; t < kParentThreads; ++t) std::free(par.sets[t][10 * (k + 1)]);
    });
  for (int t = 1; t < kParentThreads; t += 2)
    ts.emplace_back([&par, t] {
      for (int i = 0; i < kBlocksPerThread; ++i)
        if (i != 10 && i != 20) std::free(par.sets[t][i]);
    });
  for (auto& th : ts) th.join();
  ts.clear();

  // Step 2.  New threads allocate; every block is checked while all are live.
  std::atomic<int> rc{0};
  for (int k = 0; k < 4; ++k)
    ts.emplace_back([&rc, k] {
      for (int pass = 0; pass < 2; ++pass) {
        std::vector<std::pair<void*, std::size_t>> mine;
        for (int i = 0; i < 4000; ++i) {
          const std::size_t n = i % 4 == 0 ? 16 + (i * 7 + k) % 200 : kBlock;
          void* p = alloc_filled(n);
          if (p == nullptr) {
            rc = 4;
            return;
          }
          mine.emplace_back(p, n);
        }
        for (const auto& [p, n] : mine)
          if (!intact(p, n)) {
            std::fprintf(stderr, "child thread %d: block %p (%zu bytes) overwritten: handed out twice?\n", k, p, n);
            rc = 5;
          }
        for (const auto& [p, n] : mine) std::free(p);
      }
    });
  for (auto& th : ts) th.join();
  if (rc != 0) return rc;

  // Step 3.  The parent's blocks nobody freed are intact; the main thread frees them.
  for (int t = 0; t < kParentThreads; ++t)
    for (int i = 0; i < kBlocksPerThread; ++i) {
      if (freed_in_step1(t, i)) continue;
      if (!intact(par.sets[t][i], kBlock)) {
        std::fprintf(stderr, "child: block %p of set %d overwritten\n", par.sets[t][i], t);
        return 6;
      }
      std::free(par.sets[t][i]);
    }
  return 0;
}

}  // namespace

int main() {
  if (!tinyalloc_serves_malloc()) {
    std::fprintf(stderr, "FAIL: malloc is not tinyalloc's (LD_PRELOAD not applied, or no statistics)\n");
    return 2;
  }
  Parent par;
  std::vector<std::thread> threads;
  for (int t = 0; t < kParentThreads; ++t) threads.emplace_back(parent_thread, std::ref(par), t);
  {
    std::unique_lock<std::mutex> lk(par.m);
    par.cv.wait(lk, [&] { return par.ready == kParentThreads; });
  }
  int failures = 0;
  for (int round = 0; round < kRounds && failures == 0; ++round) {
    const test_child::Result r = test_child::run([&] { return child(par); }, kChildTimeoutS);
    if (!r.exited_ok()) {
      std::printf("round %d: child %s\n", round, r.describe().c_str());
      ++failures;
    }
  }
  par.stop = true;
  for (auto& th : threads) th.join();
  for (int t = 0; t < kParentThreads; ++t)
    for (void* p : par.sets[t]) {
      if (!intact(p, kBlock)) par.bad = true;
      std::free(p);
    }
  if (par.bad) {
    std::printf("FAIL: a parent block lost its pattern\n");
    return 1;
  }
  if (failures != 0) {
    std::printf("FAIL: a child crashed, hung or failed its checks\n");
    return 1;
  }
  std::printf("PASS: %d forks with %d live threads holding %d blocks each\n", kRounds, kParentThreads,
              kBlocksPerThread);
  return 0;
}
