// A vector-like buffer grown with realloc from 16 B to 64 MiB, writing each
// newly added page the way filling the vector would.  The growth factor
// (percent added per step) sets how many reallocs there are: 100% doubles
// (22 steps), 12% grows gently (~140 steps), which copies far more bytes
// unless the allocator grows in place or moves pages (mremap).
// Time per iteration = one whole growth from 16 B to 64 MiB.
#include "common.hpp"

#include <cstdlib>

namespace {

void BM_ReallocGrow(benchmark::State& state) {
    const auto percent = static_cast<std::size_t>(state.range(0));
    constexpr std::size_t kLimit = 64 * bench::MiB;
    std::int64_t steps = 0;
    for (auto _ : state) {
        std::size_t size = 16;
        void* p = std::malloc(size);
        bench::use(p);
        while (size < kLimit) {
            const std::size_t grown = size + (size * percent / 100 > 16 ? size * percent / 100 : 16);
            const std::size_t next = grown < kLimit ? grown : kLimit;
            p = std::realloc(p, next);
            bench::touch_pages(p, size, next);
            size = next;
            ++steps;
        }
        std::free(p);
    }
    state.counters["reallocs"] =
        benchmark::Counter(static_cast<double>(steps) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_ReallocGrow)->Arg(100)->Arg(12)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
