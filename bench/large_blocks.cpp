// One large block at a time, 64 KiB to 64 MiB: malloc, write its first byte,
// free.  The Rust tinyalloc paid mmap + mprotect + munmap here (~6.8 us per
// pair against ~14 ns for glibc); tinyalloc's cached strategy should not
// visit the kernel at all in this loop, its direct strategy does on purpose.
// Item = one malloc + free.
#include "common.hpp"

namespace {

void BM_LargeBlock(benchmark::State& state) { bench::malloc_free_pairs(state); }
BENCHMARK(BM_LargeBlock)->RangeMultiplier(4)->Range(64 * 1024, 64 * 1024 * 1024)->UseRealTime();

}  // namespace
