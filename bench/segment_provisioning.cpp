// The cost of getting a segment: allocate a segment's worth of 1 KiB blocks
// (255 of them fill one 256 KiB tinyalloc segment), writing each block.
//
//   BM_SegmentFresh    blocks are kept, so every iteration needs a segment
//                      the process never had: address space is carved and
//                      its pages fault in (lazy commit), or are committed
//                      up front (TINYALLOC_EAGER_COMMIT=1).  Fixed count:
//                      1,024 segments = 256 MiB per thread.
//   BM_SegmentRecycle  16 segments' worth allocated, then all freed: the
//                      segments go back to the arena and come out again.
//
// Both on one and on two threads, since the Rust tinyalloc took a global lock
// (and then one per arena) to provision a segment.  Item = one segment.
#include "common.hpp"

#include <cstdlib>
#include <vector>

namespace {

constexpr std::size_t kBlock = 1024;
constexpr std::size_t kBlocksPerSegment = 255;

void fill_segment(void** out) {
    for (std::size_t i = 0; i < kBlocksPerSegment; ++i) {
        out[i] = std::malloc(kBlock);
        bench::use(out[i]);
    }
}

void BM_SegmentFresh(benchmark::State& state) {
    const auto segments = static_cast<std::size_t>(state.max_iterations);
    std::vector<void*> blocks(segments * kBlocksPerSegment);
    std::size_t filled = 0;
    for (auto _ : state) {
        fill_segment(&blocks[filled]);
        filled += kBlocksPerSegment;
    }
    state.SetItemsProcessed(state.iterations());
    for (std::size_t i = 0; i < filled; ++i) std::free(blocks[i]);
}
BENCHMARK(BM_SegmentFresh)->Iterations(1024)->Threads(1)->Threads(2)->UseRealTime();

void BM_SegmentRecycle(benchmark::State& state) {
    constexpr std::size_t kSegments = 16;
    std::vector<void*> blocks(kSegments * kBlocksPerSegment);
    for (auto _ : state) {
        for (std::size_t s = 0; s < kSegments; ++s) fill_segment(&blocks[s * kBlocksPerSegment]);
        for (void* p : blocks) std::free(p);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSegments));
}
BENCHMARK(BM_SegmentRecycle)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
