// aligned_alloc of (alignment, size) pairs, written and freed: natural
// alignments a size class already gives, page alignment, and alignments
// larger than tinyalloc's 256 KiB segments.  Item = one aligned_alloc + free.
#include "common.hpp"

#include <cstdint>
#include <cstdlib>

namespace {

void BM_AlignedAlloc(benchmark::State& state) {
    const auto alignment = static_cast<std::size_t>(state.range(0));
    const auto size = static_cast<std::size_t>(state.range(1));
    for (auto _ : state) {
        void* p = std::aligned_alloc(alignment, size);
        if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) state.SkipWithError("misaligned block");
        bench::use(p);
        std::free(p);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AlignedAlloc)
    ->Args({16, 48})
    ->Args({64, 64})
    ->Args({64, 200})
    ->Args({4096, 4096})
    ->Args({4096, 100})
    ->Args({64 * 1024, 64 * 1024})
    ->Args({1024 * 1024, 1024 * 1024})
    ->UseRealTime();

}  // namespace
