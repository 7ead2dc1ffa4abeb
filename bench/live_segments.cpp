// Free cost against the number of live segments.  The Rust tinyalloc found a
// block's segment by walking its lists, so a free cost O(live segments);
// tinyalloc masks the pointer and must stay flat.
//
// Setup (untimed): N segments' worth of live 64-byte blocks (N x 256 KiB, the
// size of a tinyalloc segment; N = 1 ... 3000, up to 750 MiB live).  Timed:
// free one block and allocate one, cycling over 256 victims spread evenly
// over all live blocks, so the touched working set is the same for every N
// while the free lands in a different segment each time.  Item = one
// free + malloc.  A fixed iteration count keeps the setup to one per N.
#include "common.hpp"

#include <cstdlib>
#include <vector>

namespace {

void BM_FreeWithLiveSegments(benchmark::State& state) {
    constexpr std::size_t kBlock = 64;
    constexpr std::size_t kVictims = 256;
    const auto segments = static_cast<std::size_t>(state.range(0));
    const std::size_t count = segments * (256 * bench::KiB / kBlock);

    std::vector<void*> live(count);
    for (void*& p : live) {
        p = std::malloc(kBlock);
        bench::use(p);
    }
    std::vector<void**> victims;
    for (std::size_t i = 0; i < kVictims; ++i) victims.push_back(&live[i * (count / kVictims)]);

    std::size_t next = 0;
    for (auto _ : state) {
        void** slot = victims[next];
        next = (next + 1) % kVictims;
        std::free(*slot);
        *slot = std::malloc(kBlock);
        bench::use(*slot);
    }
    state.SetItemsProcessed(state.iterations());
    for (void* p : live) std::free(p);
}
BENCHMARK(BM_FreeWithLiveSegments)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Arg(300)
    ->Arg(1000)
    ->Arg(3000)
    ->Iterations(1 << 21)
    ->UseRealTime();

}  // namespace
