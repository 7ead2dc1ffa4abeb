// Helpers shared by the micro-benchmarks.
//
// Every benchmark calls the global malloc family directly and passes each
// pointer through benchmark::DoNotOptimize, so the compiler can neither
// delete a malloc/free pair nor keep a block in registers only.  Blocks are
// written to, as a program would, so an allocator that hands out untouched
// memory pays its page faults inside the measurement.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace bench {

inline constexpr std::size_t kPage = 4096;
inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * KiB;

/// Write the first byte of `p` and hide the pointer from the optimizer.
inline void use(void* p) {
    *static_cast<volatile unsigned char*>(p) = 1;
    benchmark::DoNotOptimize(p);
}

/// Write one byte in every page of [from, to) of `p`, as filling the buffer
/// would fault them in, without measuring a memset.
inline void touch_pages(void* p, std::size_t from, std::size_t to) {
    auto* bytes = static_cast<volatile unsigned char*>(p);
    for (std::size_t i = from; i < to; i += kPage) bytes[i] = 1;
    benchmark::DoNotOptimize(p);
}

/// The loop of the one-size benchmarks: malloc(range(0)), write, free.
/// Item = one pair.
inline void malloc_free_pairs(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        void* p = std::malloc(size);
        use(p);
        std::free(p);
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace bench
