// Allocate N blocks, then free them last-in-first-out, first-in-first-out or
// in a random order.  LIFO is what a stack of temporaries does; FIFO is a
// queue; random is what a long-lived container's nodes look like.  The free
// order decides how scattered a free list becomes and how often a segment (or
// page, or span) empties and is refilled.  Item = one malloc + one free.
#include "common.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

namespace {

enum class Order { Lifo, Fifo, Random };

void BM_Batch(benchmark::State& state, Order order) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto size = static_cast<std::size_t>(state.range(1));
    std::vector<void*> blocks(n);
    std::vector<std::size_t> free_order(n);
    std::iota(free_order.begin(), free_order.end(), std::size_t{0});
    if (order == Order::Lifo) std::reverse(free_order.begin(), free_order.end());
    if (order == Order::Random) std::shuffle(free_order.begin(), free_order.end(), std::mt19937_64(42));

    for (auto _ : state) {
        for (std::size_t i = 0; i < n; ++i) {
            blocks[i] = std::malloc(size);
            bench::use(blocks[i]);
        }
        for (const std::size_t i : free_order) std::free(blocks[i]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK_CAPTURE(BM_Batch, lifo, Order::Lifo)->Args({10000, 64})->Args({10000, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_Batch, fifo, Order::Fifo)->Args({10000, 64})->Args({10000, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_Batch, random, Order::Random)->Args({10000, 64})->Args({10000, 1024})->UseRealTime();

}  // namespace
