// The control: a loop that never allocates.  Its ratio between allocators
// must stay at 1.00 within the spread; if it does not, the machine's noise
// (or a preloaded library's side effects) is larger than what is measured.
// Item = one hash step.
#include "common.hpp"

#include <cstdint>

namespace {

void BM_Control(benchmark::State& state) {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (auto _ : state) {
        for (int i = 0; i < 64; ++i) h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Control)->UseRealTime();

}  // namespace
