// Producer/consumer: the benchmark thread allocates blocks and hands them
// through a single-producer single-consumer ring to a consumer thread, which
// frees them.  Every free is a remote free: tinyalloc pushes it onto the
// owning segment's atomic list, and the producer must collect those blocks
// back before it can reuse them.  Item = one block allocated here and freed
// there.
#include "common.hpp"

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

class Ring {
public:
    explicit Ring(std::size_t capacity) : slots_(capacity) {}

    bool try_push(void* p) {
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_.load(std::memory_order_acquire) == slots_.size()) return false;
        slots_[tail % slots_.size()] = p;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    void* try_pop() {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) return nullptr;
        void* p = slots_[head % slots_.size()];
        head_.store(head + 1, std::memory_order_release);
        return p;
    }

private:
    std::vector<void*> slots_;
    alignas(64) std::atomic<std::size_t> head_{0};
    alignas(64) std::atomic<std::size_t> tail_{0};
};

void BM_ProducerConsumer(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    Ring ring(4096);
    std::atomic<bool> done{false};
    std::thread consumer([&] {
        for (;;) {
            if (void* p = ring.try_pop()) {
                std::free(p);
            } else if (done.load(std::memory_order_acquire)) {
                while (void* q = ring.try_pop()) std::free(q);
                return;
            } else {
                std::this_thread::yield();  // two cores: let the producer run
            }
        }
    });
    for (auto _ : state) {
        void* p = std::malloc(size);
        bench::use(p);
        while (!ring.try_push(p)) std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
    consumer.join();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProducerConsumer)->Arg(64)->Arg(1024)->Arg(64 * 1024)->UseRealTime();

}  // namespace
