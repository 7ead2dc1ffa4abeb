// Multi-threaded stress test: a fixed number of operations (never a time
// limit) spread over worker threads that are retired and replaced mid-run.
//
//   test_stress [--threads N] [--ops N] [--lifetime N] [--slots N] [--seed N]
//
// Each operation is one of: allocate (malloc / calloc / aligned), free,
// realloc, or swap a block with a shared slot that any thread may take.  Sizes
// cover every small size class uniformly, plus medium (1/256) and large
// (1/256) blocks.  Every block
// carries a pattern derived from its own address, and is verified before
// every free and realloc and whenever it changes hands, so a block given to
// two owners, memory shared by two blocks, or a write after free shows up as
// a pattern mismatch.
//
// Block header: a block of 8 bytes or more stores `size ^ tag(address)` in its
// first word, so a block's size travels with it between threads; a block of
// 1..7 bytes stores its size in the low 3 bits of the slot word instead
// (tinyalloc blocks are at least 8-aligned).
//
// A worker lives for a random number of operations around --lifetime, then
// leaves half its blocks in the shared slots and exits; the main thread starts
// a replacement until the budget is spent, so blocks outlive the thread that
// allocated them (abandoned segments are adopted and freed into remotely).
//
// Built twice: test_stress calls ta_* (fine under the sanitizers);
// test_stress_override (STRESS_OVERRIDE) calls malloc/free of a program
// linked with the static override, i.e. the inlined fast paths.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "../common/pattern.hpp"
#include "tinyalloc/queue.hpp"

#ifdef STRESS_OVERRIDE
#include <malloc.h>
#define A_MALLOC malloc
#define A_CALLOC calloc
#define A_REALLOC realloc
#define A_ALIGNED aligned_alloc
#define A_FREE free
#define A_USABLE malloc_usable_size
#else
#include "tinyalloc.h"
#define A_MALLOC ta_malloc
#define A_CALLOC ta_calloc
#define A_REALLOC ta_realloc
#define A_ALIGNED ta_aligned_alloc
#define A_FREE ta_free
#define A_USABLE ta_usable_size
#endif

namespace {

using namespace test_pattern;
using tinyalloc::size_class::kCount;
using tinyalloc::size_class::kSizes;
using tinyalloc::size_class::kSmallCount;

constexpr std::size_t kMaxLarge = 4 * MiB;

struct Config {
  unsigned threads = 4;
  std::uint64_t ops = 2000000;
  std::uint64_t lifetime = 50000;
  unsigned slots = 1024;
  std::uint64_t seed = 1;
};

[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "stress: FAILED: %s\n", buf);
  std::fflush(stderr);
  _exit(1);
}

std::uint64_t tag(std::uintptr_t a) { return mix64(a ^ 0x5bd1e9955bd1e995ULL); }

// A block as stored in a slot: its address, plus its size when below 8.
std::uintptr_t encode(void* p, std::size_t n) {
  if (addr(p) % 8 != 0) fail("block %p of size %zu is not 8-aligned", p, n);
  return addr(p) | (n < 8 ? n : 0);
}

void fill(void* p, std::size_t n) {
  if (n >= 8) {
    const std::uint64_t h = n ^ tag(addr(p));
    std::memcpy(p, &h, 8);
    fill_range(p, 8, n, addr(p));
  } else {
    fill_range(p, 0, n, addr(p));
  }
}

// Verifies a block and returns its address and size.
std::pair<void*, std::size_t> verify(std::uintptr_t word, const char* where) {
  void* p = reinterpret_cast<void*>(word & ~std::uintptr_t{7});
  std::size_t n = word & 7;
  std::size_t from = 0;
  if (n == 0) {
    std::uint64_t h;
    std::memcpy(&h, p, 8);
    n = h ^ tag(addr(p));
    if (n < 8 || n > kMaxLarge) fail("%s: block %p has a corrupted size word (decodes to %zu)", where, p, n);
    from = 8;
  }
  if (A_USABLE(p) < n) fail("%s: usable size of %p is %zu < %zu", where, p, A_USABLE(p), n);
  const std::size_t bad = check_range(p, from, n, addr(p));
  if (bad != SIZE_MAX) fail("%s: block %p of size %zu corrupted at offset %zu", where, p, n, bad);
  return {p, n};
}

// Uniform over the small size classes (any size inside the class), 1/256
// uniform over the medium ones, 1/256 large (log-uniform, 1 - 4 MiB).
std::size_t random_size(std::mt19937_64& rng) {
  if (rng() % 256 == 0) {
    const unsigned shift = 20 + rng() % 2;  // 1 MiB .. 4 MiB
    return std::min(kMaxLarge, (std::size_t{1} << shift) + 1 + rng() % (std::size_t{1} << shift));
  }
  const unsigned c = rng() % 256 == 0 ? kSmallCount + rng() % (kCount - kSmallCount) : rng() % kSmallCount;
  const std::size_t lo = c == 0 ? 1 : kSizes[c - 1] + 1, hi = kSizes[c];
  return lo + rng() % (hi - lo + 1);
}

struct Shared {
  Config cfg;
  std::unique_ptr<std::atomic<std::uintptr_t>[]> slots;
  std::atomic<std::int64_t> budget{0};
  std::atomic<std::uint64_t> ops_done{0}, verified{0}, bytes{0};
};

class Worker {
 public:
  Worker(Shared& s, std::uint64_t seed) : s_(s), rng_(seed) {}

  void run() {
    const std::uint64_t life = s_.cfg.lifetime / 2 + rng_() % (s_.cfg.lifetime + 1);
    std::uint64_t done = 0;
    while (done < life) {
      const std::int64_t chunk = 256;
      if (s_.budget.fetch_sub(chunk) <= 0) break;
      for (int i = 0; i < chunk; ++i) step();
      done += chunk;
    }
    retire();
    s_.ops_done.fetch_add(done + ops_extra_);
    s_.verified.fetch_add(verified_);
    s_.bytes.fetch_add(bytes_);
  }

 private:
  static constexpr std::size_t kLocal = 64;

  std::uintptr_t allocate() {
    const std::size_t n = random_size(rng_);
    const unsigned how = rng_() % 10;
    void* p;
    if (how == 0) {
      p = A_CALLOC(1, n);
      if (p == nullptr) fail("calloc(1, %zu) returned NULL", n);
      const auto* b = static_cast<const unsigned char*>(p);
      for (std::size_t i = 0; i < n; ++i)
        if (b[i] != 0) fail("calloc(1, %zu) = %p: byte %zu is %u, not zero", n, p, i, b[i]);
    } else if (how == 1) {
      const std::size_t align = std::size_t{16} << (rng_() % 9);  // 16 .. 4096
      p = A_ALIGNED(align, n);
      if (p == nullptr) fail("aligned_alloc(%zu, %zu) returned NULL", align, n);
      if (addr(p) % align != 0) fail("aligned_alloc(%zu, %zu) = %p is misaligned", align, n, p);
    } else {
      p = A_MALLOC(n);
      if (p == nullptr) fail("malloc(%zu) returned NULL", n);
    }
    if (n >= 16 && addr(p) % 16 != 0) fail("block %p of size %zu is not 16-aligned", p, n);
    fill(p, n);
    bytes_ += n;
    return encode(p, n);
  }

  void release(std::uintptr_t w, const char* where) {
    A_FREE(verify(w, where).first);
    ++verified_;
  }

  std::size_t pick() { return rng_() % local_.size(); }
  void remove_at(std::size_t i) {
    local_[i] = local_.back();
    local_.pop_back();
  }

  void step() {
    const unsigned r = rng_() % 100;
    if (r < 35 || local_.empty()) {  // allocate, making room first
      if (local_.size() == kLocal) {
        const std::size_t i = pick();
        release(local_[i], "free (making room)");
        remove_at(i);
        ++ops_extra_;
      }
      local_.push_back(allocate());
    } else if (r < 60) {  // free
      const std::size_t i = pick();
      release(local_[i], "free");
      remove_at(i);
    } else if (r < 70) {  // realloc: the prefix keeps the old address's pattern
      const std::size_t i = pick();
      auto [p, n] = verify(local_[i], "before realloc");
      ++verified_;
      const std::size_t m = random_size(rng_);
      void* q = A_REALLOC(p, m);
      if (q == nullptr) fail("realloc(%p, %zu) returned NULL", p, m);
      const std::size_t keep = std::min(n, m), from = n >= 8 ? 8 : 0;
      if (keep > from) {
        const std::size_t bad = check_range(q, from, keep, addr(p));
        if (bad != SIZE_MAX) fail("realloc(%p, %zu -> %zu) = %p: contents lost at offset %zu", p, n, m, q, bad);
      }
      fill(q, m);
      bytes_ += m;
      local_[i] = encode(q, m);
    } else {  // swap with a shared slot; what comes back is another thread's block
      std::uintptr_t give = 0;
      if (rng_() % 2 == 0 && !local_.empty()) {
        const std::size_t i = pick();
        give = local_[i];
        remove_at(i);
      }
      const std::uintptr_t got = s_.slots[rng_() % s_.cfg.slots].exchange(give, std::memory_order_acq_rel);
      if (got != 0) {
        if (local_.size() < kLocal && rng_() % 2 == 0) {
          verify(got, "received from a slot");
          ++verified_;
          local_.push_back(got);
        } else {
          release(got, "free of a block received from a slot");
        }
      }
    }
  }

  // Thread exit: free half of the blocks, leave the rest in shared slots.
  void retire() {
    for (std::uintptr_t w : local_) {
      if (rng_() % 2 == 0) {
        release(w, "free at thread exit");
        continue;
      }
      const std::uintptr_t got = s_.slots[rng_() % s_.cfg.slots].exchange(w, std::memory_order_acq_rel);
      if (got != 0) release(got, "free at thread exit of a slot's block");
    }
    local_.clear();
  }

  Shared& s_;
  std::mt19937_64 rng_;
  std::vector<std::uintptr_t> local_;
  std::uint64_t verified_ = 0, bytes_ = 0, ops_extra_ = 0;
};

std::uint64_t parse(const char* name, const char* v) {
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v, &end, 10);
  if (v[0] == '\0' || *end != '\0' || x == 0) fail("bad value for %s: '%s'", name, v);
  return x;
}

Config parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || i + 1 >= argc) {
      std::printf(
          "usage: %s [--threads N] [--ops N] [--lifetime N] [--slots N] [--seed N]\n"
          "  --threads   concurrent worker threads (default 4)\n"
          "  --ops       total operations (default 2000000)\n"
          "  --lifetime  mean operations of one worker before it is replaced (default 50000)\n"
          "  --slots     shared hand-off slots (default 1024)\n"
          "  --seed      random seed (default 1)\n",
          argv[0]);
      std::exit(a == "--help" ? 0 : 2);
    }
    const std::uint64_t v = parse(argv[i], argv[i + 1]);
    if (a == "--threads")
      c.threads = static_cast<unsigned>(v);
    else if (a == "--ops")
      c.ops = v;
    else if (a == "--lifetime")
      c.lifetime = v;
    else if (a == "--slots")
      c.slots = static_cast<unsigned>(v);
    else if (a == "--seed")
      c.seed = v;
    else
      fail("unknown option %s", a.c_str());
    ++i;
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  Shared s;
  s.cfg = parse_args(argc, argv);
  s.slots.reset(new std::atomic<std::uintptr_t>[s.cfg.slots]);
  for (unsigned i = 0; i < s.cfg.slots; ++i) s.slots[i].store(0);
  s.budget.store(static_cast<std::int64_t>(s.cfg.ops));
  const auto t0 = std::chrono::steady_clock::now();

  // Keep cfg.threads workers alive; replace each one that retires while
  // budget remains.  `finished[i]` tells the main thread which one to join.
  std::vector<std::thread> workers(s.cfg.threads);
  std::unique_ptr<std::atomic<bool>[]> finished(new std::atomic<bool>[s.cfg.threads]);
  std::uint64_t started = 0;
  auto start = [&](unsigned i) {
    finished[i].store(false);
    const std::uint64_t seed = mix64(s.cfg.seed * 1000003 + started++);
    workers[i] = std::thread([&s, &finished, i, seed] {
      Worker(s, seed).run();
      finished[i].store(true, std::memory_order_release);
    });
  };
  for (unsigned i = 0; i < s.cfg.threads; ++i) start(i);
  unsigned running = s.cfg.threads;
  while (running > 0) {
    bool any = false;
    for (unsigned i = 0; i < s.cfg.threads; ++i) {
      if (!workers[i].joinable() || !finished[i].load(std::memory_order_acquire)) continue;
      workers[i].join();
      any = true;
      if (s.budget.load() > 0)
        start(i);
      else
        --running;
    }
    if (!any) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

  // Blocks still in the slots were allocated by threads long gone.
  std::uint64_t drained = 0;
  for (unsigned i = 0; i < s.cfg.slots; ++i) {
    const std::uintptr_t w = s.slots[i].exchange(0);
    if (w == 0) continue;
    A_FREE(verify(w, "final drain").first);
    ++drained;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("stress: OK: %" PRIu64 " operations, %" PRIu64 " blocks verified before free or hand-off, %" PRIu64
              " MiB written, %u concurrent threads, %" PRIu64 " threads started (replaced mid-run), %" PRIu64
              " blocks drained from slots at the end, %.2f s\n",
              s.ops_done.load(), s.verified.load() + drained, s.bytes.load() >> 20, s.cfg.threads, started, drained,
              secs);
  return 0;
}
