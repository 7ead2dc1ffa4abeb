// region::Lock, the one lock of tinyalloc's slow paths (issue 10): what an
// uncontended lock+unlock pair costs, and how it holds up with more threads
// than cores, against std::mutex (glibc's futex mutex) and a lock that only
// spins (test-and-test-and-set with a pause, never sleeping: what the arena
// and the heap pool used before region::Lock).
//
// Not an allocator benchmark: it links tinyalloc::region and calls the lock
// directly, so it is not one of the runner's workloads (which LD_PRELOAD each
// allocator into the same binary).  Run it directly:
//   build/bench/lock_bench
// Instructions of one uncontended pair, which do not move with machine load:
//   valgrind --tool=callgrind --toggle-collect=lock_unlock_pair
//     build/bench/lock_bench --benchmark_filter='Uncontended<Lock>' --benchmark_min_time=0.01
//   (Ir of lock_unlock_pair / its calls, from callgrind_annotate)
//
// Contended: every thread loops { take the lock, update 4 counters on one
// shared cache line (and, in the second case, ~100 ns more work), release,
// ~100 ns of private work }.  Item = one
// critical section, of any thread (real time).  On a 2-core machine 8
// threads mean the holder is often descheduled: a waiter that only spins
// burns its whole timeslice, one that sleeps lets the holder run.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "tinyalloc/region.hpp"

using tinyalloc::region::Lock;

/// Out of line, so callgrind can count the instructions of exactly one pair.
extern "C" __attribute__((noinline)) void lock_unlock_pair(Lock& l) {
    l.lock();
    l.unlock();
}

namespace {

/// Spins until the word is free: never yields, never sleeps.
class SpinOnlyLock {
public:
    void lock() {
        while (held_.exchange(true, std::memory_order_acquire)) {
            while (held_.load(std::memory_order_relaxed)) tinyalloc::region::cpu_relax();
        }
    }
    void unlock() { held_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> held_{false};
};

template <class L>
void pair(L& l) {
    l.lock();
    l.unlock();
}
template <>
void pair<Lock>(Lock& l) {
    lock_unlock_pair(l);
}

template <class L>
void BM_Uncontended(benchmark::State& state) {
    L l;
    for (auto _ : state) {
        pair(l);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Uncontended<Lock>);
BENCHMARK(BM_Uncontended<std::mutex>);
BENCHMARK(BM_Uncontended<SpinOnlyLock>);

struct alignas(64) Shared {
    std::uint64_t counters[4] = {};
};

/// ~2.5 ns of arithmetic per step that the compiler cannot drop.
std::uint64_t work(std::uint64_t x, long steps) {
    for (long i = 0; i < steps; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        benchmark::DoNotOptimize(x);
    }
    return x;
}

template <class L>
void BM_Contended(benchmark::State& state) {
    static L l;
    static Shared shared;
    const long inside = state.range(0);
    std::uint64_t mine = static_cast<std::uint64_t>(state.thread_index()) + 1;
    for (auto _ : state) {
        l.lock();
        for (std::uint64_t& c : shared.counters) c += mine;
        mine = work(mine, inside);
        l.unlock();
        mine = work(mine, 40);  // ~100 ns outside the lock
    }
    state.SetItemsProcessed(state.iterations());
}
// Arg: steps of work inside the lock (0: just the counters; 40: as long
// inside as outside, so a descheduled holder is likely).
BENCHMARK(BM_Contended<Lock>)->Arg(0)->Arg(40)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_Contended<std::mutex>)->Arg(0)->Arg(40)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_Contended<SpinOnlyLock>)->Arg(0)->Arg(40)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
