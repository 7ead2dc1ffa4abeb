// The owner's cost of collecting a remote free, against how many full
// segments its heap holds (issue 10).  An allocator that finds remote frees
// by scanning its full segments pays for every one of them on each event;
// tinyalloc's freer hands the block to the owner heap (segment.hpp), so the
// owner's cost must stay flat.
//
// Setup (untimed): this thread allocates N segments' worth of 16 KiB blocks
// (N x 15 blocks: a tinyalloc segment of 256 KiB holds 15, so its N segments
// of that class are full; N = 1 ... 4,000, up to 1 GiB of address space of
// which one page per block is touched), and starts a second thread.
// Each iteration: the second thread frees one block, taken from each segment
// in turn (N victims, one per 15 blocks), and this thread then allocates one
// block of the same size.  Timed: only that malloc, which under tinyalloc is
// the slow path that collects the remote free (the owner's current segment is
// full, so the fast path misses).  Item = one remote free collected.
#include "common.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kBlock = 16 * bench::KiB;
constexpr std::size_t kPerSegment = 15;  // (256 KiB - header) / 16 KiB

/// The second thread: frees whatever block it is handed, then says so.
class RemoteFreer {
public:
    RemoteFreer() : thread_([this] { run(); }) {}
    ~RemoteFreer() {
        hand(&stop_);
        thread_.join();
    }
    /// Returns once `p` has been freed by the other thread.
    void free(void* p) {
        hand(p);
        while (mailbox_.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
    }

private:
    void hand(void* p) { mailbox_.store(p, std::memory_order_release); }
    void run() {
        for (;;) {
            void* p;
            while ((p = mailbox_.load(std::memory_order_acquire)) == nullptr) std::this_thread::yield();
            if (p == &stop_) return;
            std::free(p);
            mailbox_.store(nullptr, std::memory_order_release);
        }
    }
    std::atomic<void*> mailbox_{nullptr};
    char stop_ = 0;
    std::thread thread_;
};

void BM_RemoteFreeCollection(benchmark::State& state) {
    const auto segments = static_cast<std::size_t>(state.range(0));
    std::vector<void*> live(segments * kPerSegment);
    for (void*& p : live) {
        p = std::malloc(kBlock);
        bench::use(p);
    }
    RemoteFreer freer;
    std::size_t next = 0;
    for (auto _ : state) {
        void*& slot = live[next * kPerSegment + kPerSegment / 2];
        next = next + 1 == segments ? 0 : next + 1;
        freer.free(slot);
        const auto t0 = std::chrono::steady_clock::now();
        slot = std::malloc(kBlock);
        const auto t1 = std::chrono::steady_clock::now();
        bench::use(slot);
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    }
    state.SetItemsProcessed(state.iterations());
    for (void* p : live) std::free(p);
}
BENCHMARK(BM_RemoteFreeCollection)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->Arg(4000)->Iterations(20000)->UseManualTime();

}  // namespace
