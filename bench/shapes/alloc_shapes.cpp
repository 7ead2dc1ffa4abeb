// alloc_shapes: allocation shapes (three from issue 8, larson from issue 10)
// that the Google Benchmark families cannot express well, because they need a fixed amount
// of work (so the system calls and page faults of two allocators are counted
// for the same work) and several threads with their own lifetimes.
//
//   alloc_shapes --shape large_churn|medium_two_threads|thread_rounds|larson [--smoke] [--seed N]
//
// Like ini_bench this links no tinyalloc library: every allocation goes to
// the global malloc, so one binary measures whichever allocator is
// LD_PRELOADed (scripts/bench_run.py runs it under each one).
//
// Every shape is deterministic (splitmix64 streams from a fixed seed; the
// set of blocks allocated does not depend on the allocator or on timing) and
// verifies its data: each block carries a tag at its start (serial and size)
// and a byte derived from it at its end, written after malloc and checked
// before free, so an allocator that hands out overlapping or corrupted
// blocks makes the program exit 1.  The checksum printed is the sum of the
// tags read back at free, so it depends only on the work done: it must be
// the same under every allocator (the runner warns when it is not).
//
// Output, one line (the runner parses it):
//   RESULT shape=NAME item=WHAT items=N ns_per_item=X seconds=S timed_faults=F user_ms=U sys_ms=K checksum=HEX
// Setup (the first live blocks) and the final frees are not timed.  F is the
// minor page faults of the timed part alone, U and K its CPU time in user
// space and in the kernel, all threads (getrusage): the kernel's share is
// mostly page faults and their zeroing.  /usr/bin/time's
// whole-process count mixes with the setup's: on medium_two_threads the setup
// faults ~76k pages in under every allocator, the timed part 26k to 200k.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "rng.hpp"

namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
constexpr std::size_t kPage = 4096;

// ini_bench's splitmix64 (apps/ini_bench/rng.hpp: fully specified,
// identical everywhere), plus the log-uniform draw the shapes need.
class ShapeRng : public Rng {
public:
    using Rng::Rng;
    /// Log-uniform in [lo, hi]: every power of two in the range is as likely.
    std::size_t log_uniform(std::size_t lo, std::size_t hi) {
        const double u = static_cast<double>(next() >> 11) * 0x1.0p-53;  // [0, 1)
        const auto n = static_cast<std::size_t>(std::exp(std::log(double(lo)) + u * std::log(double(hi) / lo)));
        return n < lo ? lo : n > hi ? hi : n;
    }
};

[[noreturn]] void fail(const char* what, std::size_t n = 0) {
    std::fprintf(stderr, "alloc_shapes: %s (%zu)\n", what, n);
    std::exit(1);
}

/// The compiler must assume `p` escapes and its memory is read: keeps
/// malloc + memset(0) from being fused into calloc, and no write is dead.
inline void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

// ---- tagged blocks -----------------------------------------------------------
// Head: 8 bytes = serial << 32 | size (sizes < 4 GiB).  Last byte, when the
// block is longer than its head: a mix of the head.  Every block is at least
// 8 bytes.

inline unsigned char tail_of(std::uint64_t head) {
    return static_cast<unsigned char>((head * 0x9e3779b97f4a7c15ULL) >> 56) | 1;
}

void* tagged_malloc(std::size_t n, std::uint64_t serial) {
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    if (p == nullptr) fail("malloc returned NULL for", n);
    escape(p);
    const std::uint64_t head = serial << 32 | n;
    std::memcpy(p, &head, sizeof head);
    if (n > sizeof head) p[n - 1] = tail_of(head);
    return p;
}

/// Checks the block's tags (and that `expect_size` matches when given),
/// frees it, returns its head for the checksum.
std::uint64_t tagged_free(void* block, std::size_t expect_size = 0) {
    auto* p = static_cast<unsigned char*>(block);
    std::uint64_t head;
    std::memcpy(&head, p, sizeof head);
    const std::size_t n = head & 0xffffffffu;
    if (n < 8 || (expect_size != 0 && n != expect_size)) fail("corrupted block head, size", n);
    if (n > sizeof head && p[n - 1] != tail_of(head)) fail("corrupted block tail, size", n);
    std::free(p);
    return head;
}

/// One byte in each page after the head's, as a program filling the block
/// would fault them in (the head and tail bytes cover the first and last).
void touch_pages(void* block, std::size_t n) {
    auto* p = static_cast<volatile unsigned char*>(block);
    for (std::size_t i = kPage; i + 1 < n; i += kPage) p[i] = static_cast<unsigned char>(i >> 12);
}

struct Inbox {  // pointers another thread hands over to be freed here
    std::mutex lock;
    std::vector<void*> items;
    void push(void* p) {
        std::lock_guard<std::mutex> g(lock);
        items.push_back(p);
    }
    std::uint64_t drain() {  // frees everything received; returns the tags' sum
        std::vector<void*> got;
        {
            std::lock_guard<std::mutex> g(lock);
            got.swap(items);
        }
        std::uint64_t sum = 0;
        for (void* p : got) sum += tagged_free(p);
        return sum;
    }
};

using Clock = std::chrono::steady_clock;

/// Wall time and minor page faults (the whole process's) from construction to stop().
class Stopwatch {
public:
    Stopwatch() : start_(usage()), t0_(Clock::now()) {}
    struct Reading {
        double seconds;
        long faults;
        double user_ms, sys_ms;
    };
    Reading stop() const {
        const std::chrono::duration<double> elapsed = Clock::now() - t0_;
        const rusage end = usage();
        return {elapsed.count(), end.ru_minflt - start_.ru_minflt, ms(end.ru_utime) - ms(start_.ru_utime),
                ms(end.ru_stime) - ms(start_.ru_stime)};
    }

private:
    static rusage usage() {
        rusage u{};
        if (getrusage(RUSAGE_SELF, &u) != 0) fail("getrusage failed");
        return u;
    }
    static double ms(timeval t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; }
    rusage start_;
    Clock::time_point t0_;
};

struct Outcome {
    const char* item;
    std::size_t items;
    Stopwatch::Reading timed;
    std::uint64_t checksum;
};

// ---- 1. large churn ----------------------------------------------------------
// 20 live blocks of a uniformly random size between 5 and 25 MiB.  Each is
// value-initialised as `new char[n]()` would (malloc, then memset 0 of the
// whole block, explicit: escape() keeps the compiler from turning it into
// calloc), then tagged.  Timed: 400 replacements (smoke: 20), each verifies
// a random block (tags and a zero byte in the middle), frees it and
// allocates and clears a new one.  Item = one replacement.
Outcome large_churn(bool smoke, std::uint64_t seed) {
    constexpr std::size_t kLive = 20;
    const std::size_t replacements = smoke ? 20 : 400;
    ShapeRng rng(seed);
    std::uint64_t serial = 0, sum = 0;
    struct Block {
        unsigned char* p;
        std::size_t n;
    };
    auto make = [&]() -> Block {
        const std::size_t n = rng.between(5 * MiB, 25 * MiB);
        auto* p = static_cast<unsigned char*>(std::malloc(n));
        if (p == nullptr) fail("malloc returned NULL for", n);
        escape(p);
        std::memset(p, 0, n);
        const std::uint64_t head = ++serial << 32 | n;
        std::memcpy(p, &head, sizeof head);
        p[n - 1] = tail_of(head);
        return {p, n};
    };
    auto drop = [&](Block b) {
        if (b.p[b.n / 2] != 0) fail("value-initialised block not zero in the middle, size", b.n);
        sum += tagged_free(b.p, b.n);
    };
    std::vector<Block> live;
    for (std::size_t i = 0; i < kLive; ++i) live.push_back(make());
    const Stopwatch watch;
    for (std::size_t r = 0; r < replacements; ++r) {
        Block& b = live[rng.below(kLive)];
        drop(b);
        b = make();
    }
    const Stopwatch::Reading timed = watch.stop();
    for (Block b : live) drop(b);
    return {"replacement", replacements, timed, sum};
}

// ---- 2. medium traffic across two threads --------------------------------------
// Two threads, each with 512 live blocks of log-uniform size between 32 KiB
// and 1 MiB and a ring of 64 live small blocks (16-256 B).  One step:
// replace a random medium block -- a quarter of the time the old one is
// handed to the OTHER thread's inbox (a mutex-protected vector) to be freed
// there, otherwise it is freed here -- write the new block's head and tail
// and one byte in each of its pages, replace 4 random small blocks (head
// and tail written), and free whatever the other thread handed over.  A
// thread that finishes its steps first keeps freeing what the other hands
// over until that one finishes too, so the live set stays 2 x 512 medium
// blocks however the two threads are scheduled.
// Timed: 30,000 steps per thread (smoke: 1,000) after both finished their
// setup.  Item = one step of either thread (wall time / steps of both).
Outcome medium_two_threads(bool smoke, std::uint64_t seed) {
    constexpr std::size_t kLive = 512, kSmall = 64, kSmallPerStep = 4;
    const std::size_t steps = smoke ? 1000 : 30000;
    Inbox inbox[2];
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> done{0};
    std::uint64_t sums[2] = {0, 0};
    std::vector<void*> leftovers[2];

    auto worker = [&](int t) {
        ShapeRng rng(seed + 1000 * static_cast<std::uint64_t>(t + 1));
        std::uint64_t serial = static_cast<std::uint64_t>(t) << 30, sum = 0;
        auto medium = [&] {
            const std::size_t n = rng.log_uniform(32 * KiB, 1 * MiB);
            void* p = tagged_malloc(n, ++serial);
            touch_pages(p, n);
            return p;
        };
        auto small = [&] { return tagged_malloc(rng.between(16, 256), ++serial); };
        std::vector<void*> blocks(kLive), smalls(kSmall);
        for (void*& p : blocks) p = medium();
        for (void*& p : smalls) p = small();
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();

        for (std::size_t s = 0; s < steps; ++s) {
            void*& victim = blocks[rng.below(kLive)];
            if (rng.below(4) == 0) {
                inbox[1 - t].push(victim);
            } else {
                sum += tagged_free(victim);
            }
            victim = medium();
            for (std::size_t k = 0; k < kSmallPerStep; ++k) {
                void*& q = smalls[rng.below(kSmall)];
                sum += tagged_free(q);
                q = small();
            }
            sum += inbox[t].drain();
        }
        // Until the other thread is done too, keep freeing what it hands
        // over: left in this inbox, its blocks would stay live to the end
        // and the live set would grow with how far the threads drift apart
        // (up to twice it), a matter of scheduling rather than allocator.
        done.fetch_add(1, std::memory_order_release);
        while (done.load(std::memory_order_acquire) < 2) {
            sum += inbox[t].drain();
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        sums[t] = sum;
        for (void* p : smalls) blocks.push_back(p);
        leftovers[t] = std::move(blocks);
    };

    std::thread a(worker, 0), b(worker, 1);
    while (ready.load() < 2) std::this_thread::yield();
    const Stopwatch watch;
    go.store(true, std::memory_order_release);
    a.join();
    b.join();
    const Stopwatch::Reading timed = watch.stop();
    std::uint64_t sum = sums[0] + sums[1] + inbox[0].drain() + inbox[1].drain();
    for (auto& v : leftovers)
        for (void* p : v) sum += tagged_free(p);
    return {"step", 2 * steps, timed, sum};
}

// ---- 3. short-lived threads, 1% of blocks 100x larger ---------------------------
// A round starts 32 threads at once; each does 4,000 mallocs (smoke: 400)
// of log-uniform size between 8 B and 1 KiB, 1% of them 100x larger (800 B
// - 100 KiB), writing each block's head and tail.  A quarter of its blocks
// go to the inbox of the next thread of the round, which frees them when it
// drains its inbox (every 64 mallocs and before it exits); what arrives
// after that thread exited is freed by the main thread after the join.  The
// thread keeps the rest and, every 64 mallocs, frees a random half of what
// it holds; it frees the remainder before exiting.  5 rounds (smoke: 1).
// Timed: everything, thread creation and joins included.  Item = one round.
Outcome thread_rounds(bool smoke, std::uint64_t seed) {
    constexpr std::size_t kThreads = 32;
    const std::size_t mallocs = smoke ? 400 : 4000, rounds = smoke ? 1 : 5;
    std::uint64_t total = 0;
    const Stopwatch watch;
    for (std::size_t round = 0; round < rounds; ++round) {
        std::vector<Inbox> inbox(kThreads);
        std::vector<std::uint64_t> sums(kThreads, 0);
        std::vector<std::thread> threads;
        for (std::size_t k = 0; k < kThreads; ++k) {
            threads.emplace_back([&, k] {
                const std::uint64_t id = round * kThreads + k;
                ShapeRng rng(seed ^ (0x5bd1e995u * (id + 1)));
                std::uint64_t serial = id << 20, sum = 0;
                std::vector<void*> own;
                for (std::size_t i = 1; i <= mallocs; ++i) {
                    std::size_t n = rng.log_uniform(8, 1024);
                    if (rng.below(100) == 0) n *= 100;
                    void* p = tagged_malloc(n, ++serial);
                    if (rng.below(4) == 0) {
                        inbox[(k + 1) % kThreads].push(p);
                    } else {
                        own.push_back(p);
                    }
                    if (i % 64 == 0) {
                        for (std::size_t j = own.size() / 2; j > 0; --j) {
                            const std::size_t at = rng.below(own.size());
                            sum += tagged_free(own[at]);
                            own[at] = own.back();
                            own.pop_back();
                        }
                        sum += inbox[k].drain();
                    }
                }
                for (void* p : own) sum += tagged_free(p);
                sum += inbox[k].drain();
                sums[k] = sum;
            });
        }
        for (auto& t : threads) t.join();
        for (std::size_t k = 0; k < kThreads; ++k) total += sums[k] + inbox[k].drain();
    }
    const Stopwatch::Reading timed = watch.stop();
    return {"round", rounds, timed, total};
}

// ---- 4. larson: a server whose threads are replaced over time ---------------------
// After Larson and Krishnan's server benchmark (as run by Hoard and
// mimalloc-bench; this is our own code).  8 lanes (4 threads per core on 2
// cores), each a chain of 20 threads (smoke: 2) that follow one another.  A
// thread holds its lane's 1,000 live blocks of uniform random size 8-1,000 B
// and makes 5,000 replacements (smoke: 500): a random slot's block is freed --
// 1 in 16 is handed to the next lane's inbox instead, to be freed by whichever
// of its threads drains it (every 64 replacements, and at the end of a
// thread) -- and a new block is allocated and tagged.  Then it starts its
// successor, hands it the 1,000 blocks and exits: the successor frees blocks a
// thread that no longer exists allocated.  Timed: everything, from the first
// lane's first thread to the last join; the first threads allocate their
// lanes' blocks.  Item = one replacement.
Outcome larson(bool smoke, std::uint64_t seed) {
    constexpr std::size_t kLanes = 8, kSlots = 1000;
    const std::size_t generations = smoke ? 2 : 20, steps = smoke ? 500 : 5000;
    struct Lane {
        ShapeRng rng{0};
        std::uint64_t serial = 0, sum = 0;
        std::vector<void*> slots;
        std::vector<std::thread> threads;  // [generation]: started by the one before
        Inbox inbox;
    };
    std::vector<Lane> lanes(kLanes);
    std::function<void(std::size_t, std::size_t)> run = [&](std::size_t lane, std::size_t generation) {
        Lane& l = lanes[lane];
        if (generation == 0)
            for (void*& p : l.slots) p = tagged_malloc(l.rng.between(8, 1000), ++l.serial);
        for (std::size_t i = 1; i <= steps; ++i) {
            void*& slot = l.slots[l.rng.below(kSlots)];
            if (l.rng.below(16) == 0) {
                lanes[(lane + 1) % kLanes].inbox.push(slot);
            } else {
                l.sum += tagged_free(slot);
            }
            slot = tagged_malloc(l.rng.between(8, 1000), ++l.serial);
            if (i % 64 == 0) l.sum += l.inbox.drain();
        }
        l.sum += l.inbox.drain();
        if (generation + 1 < generations) l.threads[generation + 1] = std::thread(run, lane, generation + 1);
    };
    for (std::size_t k = 0; k < kLanes; ++k) {
        lanes[k].rng = ShapeRng(seed ^ (0x2545f491u * (k + 1)));
        lanes[k].serial = std::uint64_t{k} << 24;
        lanes[k].slots.resize(kSlots);
        lanes[k].threads.resize(generations);
    }
    const Stopwatch watch;
    for (std::size_t k = 0; k < kLanes; ++k) lanes[k].threads[0] = std::thread(run, k, 0);
    // A thread's successor is stored before it exits: joining it makes the
    // next one visible.
    for (Lane& l : lanes)
        for (std::thread& t : l.threads) t.join();
    const Stopwatch::Reading timed = watch.stop();
    std::uint64_t sum = 0;
    for (Lane& l : lanes) {
        sum += l.sum + l.inbox.drain();
        for (void* p : l.slots) sum += tagged_free(p);
    }
    return {"replacement", kLanes * generations * steps, timed, sum};
}

[[noreturn]] void usage(int status) {
    std::fprintf(
        status == 0 ? stdout : stderr,
        "usage: alloc_shapes --shape large_churn|medium_two_threads|thread_rounds|larson [--smoke] [--seed N]\n"
        "  large_churn         20 live 5-25 MiB blocks, value-initialised; 400 replacements\n"
        "  medium_two_threads  2 threads x 512 live 32 KiB-1 MiB blocks, a quarter freed by the\n"
        "                      other thread, 4 small blocks per step; 30,000 steps per thread\n"
        "  thread_rounds       5 rounds of 32 threads x 4,000 mallocs of 8 B-1 KiB (1%% x100),\n"
        "                      a quarter freed by the next thread\n"
        "  larson              8 lanes x 20 successive threads x 5,000 replacements of 1,000 live\n"
        "                      8-1,000 B blocks; 1/16 freed by the next lane; a successor frees\n"
        "                      what its predecessor allocated\n"
        "  --smoke             tiny sizes (CI: proves it runs)\n"
        "  --seed              the random streams' seed (default 8)\n");
    std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
    std::string_view shape;
    bool smoke = false;
    std::uint64_t seed = 8;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a(argv[i]);
        if (a == "--shape" && i + 1 < argc) {
            shape = argv[++i];
        } else if (a == "--smoke") {
            smoke = true;
        } else if (a == "--seed" && i + 1 < argc) {
            seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--help" || a == "-h") {
            usage(0);
        } else {
            usage(2);
        }
    }
    Outcome r{};
    if (shape == "large_churn") {
        r = large_churn(smoke, seed);
    } else if (shape == "medium_two_threads") {
        r = medium_two_threads(smoke, seed);
    } else if (shape == "thread_rounds") {
        r = thread_rounds(smoke, seed);
    } else if (shape == "larson") {
        r = larson(smoke, seed);
    } else {
        usage(2);
    }
    std::printf(
        "RESULT shape=%.*s item=%s items=%zu ns_per_item=%.1f seconds=%.4f timed_faults=%ld user_ms=%.1f sys_ms=%.1f "
        "checksum=%016" PRIx64 "\n",
        static_cast<int>(shape.size()), shape.data(), r.item, r.items, r.timed.seconds * 1e9 / r.items, r.timed.seconds,
        r.timed.faults, r.timed.user_ms, r.timed.sys_ms, r.checksum);
    return 0;
}
