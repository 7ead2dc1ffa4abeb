// Threads that live briefly: each iteration starts a thread that allocates
// 1,000 blocks of mixed sizes, frees half of them itself and exits; this
// thread frees the other half afterwards.  Measures heap creation, handing a
// dead thread's segments over (tinyalloc abandons and later adopts them) and
// frees into the segments of a thread that no longer exists.
// Item = one thread.
#include "common.hpp"

#include <cstdlib>
#include <thread>
#include <vector>

namespace {

void BM_ThreadChurn(benchmark::State& state) {
    constexpr std::size_t kBlocks = 1000;
    std::vector<void*> survivors(kBlocks / 2);
    for (auto _ : state) {
        std::thread worker([&] {
            for (std::size_t i = 0; i < kBlocks; ++i) {
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
BENCHMARK(BM_ThreadChurn)->UseRealTime();

}  // namespace
