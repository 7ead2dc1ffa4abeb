// calloc of one size, touched at both ends, then freed.  Small sizes measure
// the memset of a recycled block; large ones whether the allocator knows the
// memory is already zero (fresh or purged pages) and skips the memset.
// Item = one calloc + free.
#include "common.hpp"

#include <cstdlib>

namespace {

void BM_Calloc(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto* p = static_cast<unsigned char*>(std::calloc(1, size));
        bench::use(p);
        bench::use(p + size - 1);
        std::free(p);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Calloc)->Arg(64)->Arg(4096)->Arg(64 * 1024)->Arg(1024 * 1024)->Arg(16 * 1024 * 1024)->UseRealTime();

}  // namespace
