// malloc/free pairs, one size at a time: the fast paths of one size class
// (and, above 32 KiB in tinyalloc, of the large allocator).  Item = one pair.
#include "common.hpp"

namespace {

void BM_MallocFree(benchmark::State& state) { bench::malloc_free_pairs(state); }
BENCHMARK(BM_MallocFree)->RangeMultiplier(2)->Range(8, 32 * 1024)->Arg(48)->Arg(96)->Arg(384)->Arg(3000)->UseRealTime();

}  // namespace
