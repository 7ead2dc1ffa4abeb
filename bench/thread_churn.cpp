// Threads that live briefly: each iteration starts a thread that allocates
// N blocks of mixed sizes, frees half of them itself and exits; this thread
// frees the other half afterwards.  Measures heap creation, handing a dead
// thread's heap over (tinyalloc parks it whole for the next thread) and
// frees into the segments of a thread that no longer exists.
// N = 0 is the thread alone (its creation and join, no allocation in it);
// N = 1 adds what one allocation costs a new thread (its heap's setup and
// hand-over), N = 1000 a short burst of work.  Item = one thread.
#include "common.hpp"

#include <cstdlib>
#include <thread>
#include <vector>

namespace {

void BM_ThreadChurn(benchmark::State& state) {
    const auto blocks = static_cast<std::size_t>(state.range(0));
    std::vector<void*> survivors((blocks + 1) / 2);
    for (auto _ : state) {
        std::thread worker([&] {
            for (std::size_t i = 0; i < blocks; ++i) {
                void* p = std::malloc(16 + (i * 37) % 1024);
                bench::use(p);
                if (i % 2 == 0) {
                    survivors[i / 2] = p;
                } else {
                    std::free(p);
                }
            }
        });
        worker.join();
        for (void* p : survivors) std::free(p);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadChurn)->Arg(0)->Arg(1)->Arg(1000)->UseRealTime();

}  // namespace
