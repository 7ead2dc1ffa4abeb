// tinyalloc under threads: blocks freed by a thread other than the one that
// allocated them, ping-pong ownership, many short-lived threads (the exiting
// thread's heap is handed over), and concurrent mixed malloc/realloc/free.
//
// The test harness itself (queues, vectors, Catch2) uses glibc malloc; every
// block under test comes from the ta_* functions.  Run time is bounded by
// operation counts, never by wall-clock targets.
//
// Worker threads never call Catch2 macros (Catch2 v2 is not thread-safe):
// they record the first error in a shared Failure object which the main
// thread REQUIREs to be empty after joining.

#include <catch2/catch.hpp>

#include "../common/pattern.hpp"
#include "../common/proc.hpp"

#include "tinyalloc.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <vector>

namespace {

using namespace test_pattern;

// Pattern derived from the block's address and a sequence number, so a block
// handed to the wrong consumer, or two blocks sharing memory, is detected.
inline std::uint64_t seed_of(const void* p, std::uint64_t seq) { return addr(p) * 31 + seq; }

// First error seen by any worker thread.
struct Failure {
  std::mutex m;
  std::string what;
  std::atomic<bool> failed{false};
  void set(const std::string& s) {
    std::lock_guard<std::mutex> g(m);
    if (what.empty()) what = s;
    failed.store(true);
  }
  bool any() const { return failed.load(std::memory_order_relaxed); }
};

template <typename... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Random size: mostly small classes, some mid-size, a few large (mmap'd).
std::size_t random_size(std::mt19937_64& rng, unsigned large_per_mille) {
  const unsigned r = rng() % 1000;
  if (r < large_per_mille) return 32 * KiB + 1 + rng() % (256 * KiB);
  if (r < 800) return 1 + rng() % 256;
  if (r < 970) return 257 + rng() % 3840;
  return 4097 + rng() % (28 * KiB);
}

// Allocates n bytes, checks the basic contract and fills the block.
void* alloc_filled(std::size_t n, std::uint64_t seq, Failure& f) {
  void* p = ta_malloc(n);
  if (p == nullptr) {
    f.set(str("ta_malloc(", n, ") returned NULL"));
    return nullptr;
  }
  if (ta_usable_size(p) < n) f.set(str("ta_usable_size(", p, ") = ", ta_usable_size(p), " < ", n));
  if (addr(p) % (n >= 16 ? 16 : 8) != 0) f.set(str("ta_malloc(", n, ") misaligned: ", p));
  fill_range(p, 0, n, seed_of(p, seq));
  return p;
}

bool verify_block(const void* p, std::size_t n, std::uint64_t seq, Failure& f, const char* where) {
  if (ta_usable_size(p) < n) {
    f.set(str(where, ": ta_usable_size(", p, ") = ", ta_usable_size(p), " < ", n));
    return false;
  }
  const std::size_t bad = check_range(p, 0, n, seed_of(p, seq));
  if (bad != SIZE_MAX) {
    f.set(str(where, ": block ", p, " of size ", n, " seq ", seq, " corrupted at offset ", bad));
    return false;
  }
  return true;
}

using test_proc::vm_rss_kib;

struct Item {
  void* p;
  std::size_t n;
  std::uint64_t seq;
};

// Bounded blocking queue (std containers + mutex; the test is not the allocator).
class Queue {
 public:
  explicit Queue(std::size_t cap) : cap_(cap) {}
  void push(const Item& it) {
    std::unique_lock<std::mutex> l(m_);
    not_full_.wait(l, [&] { return q_.size() < cap_; });
    q_.push_back(it);
    not_empty_.notify_one();
  }
  Item pop() {
    std::unique_lock<std::mutex> l(m_);
    not_empty_.wait(l, [&] { return !q_.empty(); });
    Item it = q_.front();
    q_.pop_front();
    not_full_.notify_one();
    return it;
  }

 private:
  std::mutex m_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Item> q_;
  std::size_t cap_;
};

}  // namespace

// ===========================================================================

TEST_CASE("blocks allocated on one thread are freed on another", "[threads][xfree]") {
  SECTION("4 producer/consumer pairs, FIFO per pair, 250k blocks per pair") {
    constexpr int pairs = 4;
    constexpr std::uint64_t per_pair = 250000;
    Failure f;
    std::atomic<std::uint64_t> verified{0};
    std::vector<std::unique_ptr<Queue>> queues;
    for (int i = 0; i < pairs; ++i) queues.push_back(std::make_unique<Queue>(512));
    std::vector<std::thread> ts;
    for (int i = 0; i < pairs; ++i) {
      ts.emplace_back([&, i] {  // producer
        std::mt19937_64 rng(1000 + i);
        for (std::uint64_t seq = 1; seq <= per_pair; ++seq) {
          const std::size_t n = random_size(rng, 5);
          void* p = alloc_filled(n, seq, f);
          if (p == nullptr) break;
          queues[i]->push({p, n, seq});
        }
        queues[i]->push({nullptr, 0, 0});
      });
      ts.emplace_back([&, i] {  // consumer
        std::uint64_t expect = 1;
        for (;;) {
          Item it = queues[i]->pop();
          if (it.p == nullptr) break;
          if (it.seq != expect) f.set(str("pair ", i, ": got seq ", it.seq, ", expected ", expect));
          expect = it.seq + 1;
          if (verify_block(it.p, it.n, it.seq, f, "consumer")) verified.fetch_add(1);
          ta_free(it.p);
        }
      });
    }
    for (auto& t : ts) t.join();
    INFO("first failure: " << f.what);
    REQUIRE_FALSE(f.any());
    INFO("blocks verified: " << verified.load());
    REQUIRE(verified.load() == pairs * per_pair);
  }

  SECTION("3 producers, 3 consumers on one shared queue (frees land on any thread)") {
    constexpr int producers = 3, consumers = 3;
    constexpr std::uint64_t per_producer = 150000;
    Failure f;
    std::atomic<std::uint64_t> verified{0};
    Queue q(1024);
    std::vector<std::thread> ts;
    for (int i = 0; i < producers; ++i)
      ts.emplace_back([&, i] {
        std::mt19937_64 rng(77 + i);
        for (std::uint64_t k = 0; k < per_producer; ++k) {
          const std::uint64_t seq = (std::uint64_t(i) << 40) | k;
          const std::size_t n = random_size(rng, 10);
          void* p = alloc_filled(n, seq, f);
          if (p == nullptr) break;
          q.push({p, n, seq});
        }
      });
    for (int i = 0; i < consumers; ++i)
      ts.emplace_back([&] {
        for (;;) {
          Item it = q.pop();
          if (it.p == nullptr) break;
          if (verify_block(it.p, it.n, it.seq, f, "shared consumer")) verified.fetch_add(1);
          ta_free(it.p);
        }
      });
    for (int i = 0; i < producers; ++i) ts[i].join();
    for (int i = 0; i < consumers; ++i) q.push({nullptr, 0, 0});
    for (int i = producers; i < producers + consumers; ++i) ts[i].join();
    INFO("first failure: " << f.what);
    REQUIRE_FALSE(f.any());
    INFO("blocks verified: " << verified.load());
    REQUIRE(verified.load() == producers * per_producer);
  }
}

TEST_CASE("blocks alone in their span travel between threads, each freed by whoever holds it", "[threads][xfree]") {
  // 160 KiB - 1 MiB: classes whose segment holds a single block (its own
  // span), which the heap detaches when the block is handed out: the thread
  // that frees it, owner or not, gives the span straight back.  Each round a
  // thread allocates one, swaps it with a random slot, and checks and frees
  // what it got back, so spans are freed by owners and others, and reused by
  // every thread, while their owners keep allocating.
  constexpr int kThreads = 4, kRounds = 3000, kSlots = 16;
  std::atomic<Item*> slots[kSlots];
  for (auto& s : slots) s.store(nullptr);
  std::atomic<std::uint64_t> next_seq{1};
  Failure f;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      for (int r = 0; r < kRounds && !f.any(); ++r) {
        const std::size_t n = 160 * KiB + 1 + rng() % (864 * KiB);
        const std::uint64_t seq = next_seq.fetch_add(1);
        void* p = alloc_filled(n, seq, f);
        if (p == nullptr) return;
        Item* got = slots[rng() % kSlots].exchange(new Item{p, n, seq});
        if (got == nullptr) continue;
        verify_block(got->p, got->n, got->seq, f, "span from a slot");
        ta_free(got->p);
        delete got;
      }
    });
  }
  for (auto& th : ts) th.join();
  for (auto& s : slots) {
    Item* it = s.exchange(nullptr);
    if (it == nullptr) continue;
    verify_block(it->p, it->n, it->seq, f, "span left in a slot");
    ta_free(it->p);
    delete it;
  }
  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
}

TEST_CASE("ping-pong: A allocates, B frees, then roles swap", "[threads][pingpong]") {
  constexpr int rounds = 1000;
  constexpr int batch = 1000;
  Failure f;
  std::mutex m;
  std::condition_variable cv;
  std::vector<Item> slot;  // batch in flight
  int turn = 0;            // whose turn it is to receive (0 = A, 1 = B)
  int round_no = 0;
  std::atomic<std::uint64_t> verified{0};

  auto player = [&](int me) {
    std::mt19937_64 rng(900 + me);
    std::uint64_t seq = std::uint64_t(me) << 48;
    for (;;) {
      std::vector<Item> got;
      {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return turn == me; });
        got.swap(slot);
        if (round_no >= rounds) {  // game over: free the last batch, pass the token on
          for (const Item& it : got) {
            if (verify_block(it.p, it.n, it.seq, f, "ping-pong (last)")) verified.fetch_add(1);
            ta_free(it.p);
          }
          turn = 1 - me;
          cv.notify_all();
          return;
        }
      }
      // Verify and free what the other thread allocated.
      for (const Item& it : got) {
        if (verify_block(it.p, it.n, it.seq, f, "ping-pong")) verified.fetch_add(1);
        ta_free(it.p);
      }
      // Allocate a new batch for the other thread (sizes vary per round: some
      // rounds are all one class, others mixed).
      std::vector<Item> out;
      out.reserve(batch);
      const bool one_class = (rng() % 4) == 0;
      const std::size_t fixed = 1 + rng() % 2048;
      for (int k = 0; k < batch; ++k) {
        const std::size_t n = one_class ? fixed : random_size(rng, 3);
        void* p = alloc_filled(n, ++seq, f);
        if (p) out.push_back({p, n, seq});
      }
      std::lock_guard<std::mutex> l(m);
      slot.swap(out);
      ++round_no;
      turn = 1 - me;
      cv.notify_all();
    }
  };
  std::thread a(player, 0), b(player, 1);
  a.join();
  b.join();
  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
  INFO("blocks verified: " << verified.load());
  REQUIRE(verified.load() == std::uint64_t(rounds) * batch);
}

TEST_CASE("1000 short-lived threads: heap handover, bounded memory", "[threads][exit]") {
  constexpr int nthreads = 1000;
  Failure f;
  std::vector<Item> leftovers;        // blocks left allocated by exited threads
  std::vector<Item> kept_to_the_end;  // some kept until all threads are gone
  std::uint64_t verified_left = 0;

  auto body = [&](int t) {
    std::mt19937_64 rng(5000 + t);
    std::vector<Item> mine;
    // Touch many size classes (each needs its own page(s) in the thread heap),
    // so a heap that is not reused after its thread exits shows up in VmRSS.
    for (int k = 0; k < 400; ++k) {
      const std::size_t n = (k < 64) ? std::size_t(16) << (k % 12) : random_size(rng, 4);
      const std::uint64_t seq = (std::uint64_t(t) << 32) | k;
      void* p = alloc_filled(n, seq, f);
      if (p) mine.push_back({p, n, seq});
    }
    // Free most of them in random order; leave ~10% for the main thread.
    std::shuffle(mine.begin(), mine.end(), rng);
    std::vector<Item> left;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (i % 10 == 0) {
        left.push_back(mine[i]);
        continue;
      }
      verify_block(mine[i].p, mine[i].n, mine[i].seq, f, "thread-local free");
      ta_free(mine[i].p);
    }
    leftovers = std::move(left);  // main thread is blocked in join(): no race
  };

  auto run_one = [&](int t) {
    std::thread th(body, t);
    th.join();
    // Free the exited thread's blocks from the main thread; keep 1 in 10
    // threads' blocks until the very end.
    if (t % 10 == 0) {
      kept_to_the_end.insert(kept_to_the_end.end(), leftovers.begin(), leftovers.end());
    } else {
      for (const Item& it : leftovers) {
        if (verify_block(it.p, it.n, it.seq, f, "main thread after join")) ++verified_left;
        ta_free(it.p);
      }
    }
    leftovers.clear();
  };

  // Warm up so glibc's thread-stack cache and the harness are at steady state.
  for (int t = 0; t < 20; ++t) run_one(t);
  const long rss_before = vm_rss_kib();
  for (int t = 20; t < nthreads; ++t) run_one(t);
  for (const Item& it : kept_to_the_end) {
    if (verify_block(it.p, it.n, it.seq, f, "main thread at the end")) ++verified_left;
    ta_free(it.p);
  }
  const long rss_after = vm_rss_kib();

  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
  INFO("leftover blocks verified and freed by the main thread: " << verified_left);
  REQUIRE(verified_left == std::uint64_t(nthreads) * 40);
  INFO("VmRSS before: " << rss_before << " KiB, after: " << rss_after << " KiB");
  REQUIRE(rss_before > 0);
  REQUIRE(rss_after - rss_before < 64 * 1024);
}

TEST_CASE("8 threads doing mixed malloc/realloc/free concurrently", "[threads][mixed]") {
  constexpr int nthreads = 8;
  constexpr int ops = 400000;
  constexpr int nslots = 1024;
  Failure f;
  std::atomic<std::uint64_t> checked{0};

  auto worker = [&](int t) {
    std::mt19937_64 rng(31337 + t);
    struct Slot {
      void* p = nullptr;
      std::size_t n = 0;
      std::uint64_t seed = 0;
    };
    std::vector<Slot> slots(nslots);
    std::uint64_t next_seed = std::uint64_t(t) << 40;
    std::uint64_t local_checked = 0;
    for (int op = 0; op < ops && !f.any(); ++op) {
      Slot& s = slots[rng() % nslots];
      const unsigned what = rng() % 100;
      if (s.p == nullptr) {
        const std::size_t n = random_size(rng, 4);
        s.p = (what < 10) ? ta_calloc(1, n) : ta_malloc(n);
        if (s.p == nullptr) {
          f.set(str("thread ", t, ": allocation of ", n, " returned NULL"));
          return;
        }
        if (what < 10) {
          const auto* b = static_cast<const unsigned char*>(s.p);
          for (std::size_t i = 0; i < n; ++i)
            if (b[i] != 0) {
              f.set(str("thread ", t, ": ta_calloc(1, ", n, ") not zero at ", i));
              break;
            }
        }
        if (ta_usable_size(s.p) < n) f.set(str("thread ", t, ": usable < ", n));
        s.n = n;
        s.seed = ++next_seed;
        fill_range(s.p, 0, n, s.seed);
        continue;
      }
      const std::size_t bad = check_range(s.p, 0, s.n, s.seed);
      if (bad != SIZE_MAX) {
        f.set(str("thread ", t, ": block ", s.p, " of size ", s.n, " corrupted at offset ", bad));
        return;
      }
      ++local_checked;
      if (what < 45) {  // free
        ta_free(s.p);
        s = Slot{};
      } else {  // realloc, grow or shrink; prefix must survive
        const std::size_t n = std::max<std::size_t>(1, random_size(rng, 4));
        void* q = ta_realloc(s.p, n);
        if (q == nullptr) {
          f.set(str("thread ", t, ": ta_realloc(", s.n, " -> ", n, ") returned NULL"));
          return;
        }
        const std::size_t keep = std::min(s.n, n);
        const std::size_t bad2 = check_range(q, 0, keep, s.seed);
        if (bad2 != SIZE_MAX) {
          f.set(str("thread ", t, ": realloc ", s.n, " -> ", n, " lost the prefix at offset ", bad2));
          return;
        }
        if (addr(q) % (n >= 16 ? 16 : 8) != 0) f.set(str("thread ", t, ": realloc misaligned ", q));
        if (n > s.n) fill_range(q, s.n, n, s.seed);
        s.p = q;
        s.n = n;
      }
    }
    for (Slot& s : slots)
      if (s.p) {
        if (check_range(s.p, 0, s.n, s.seed) != SIZE_MAX) f.set(str("thread ", t, ": final check failed"));
        ++local_checked;
        ta_free(s.p);
      }
    checked.fetch_add(local_checked);
  };

  std::vector<std::thread> ts;
  for (int t = 0; t < nthreads; ++t) ts.emplace_back(worker, t);
  for (auto& th : ts) th.join();
  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
  INFO("block verifications: " << checked.load());
  REQUIRE(checked.load() > std::uint64_t(nthreads) * ops / 2);
}

TEST_CASE("threads exiting while others free their blocks and adopt their segments", "[threads][exit][adopt]") {
  // Waves of 4 concurrent threads, 300 threads in all.  Each takes a share of
  // the blocks earlier (exited) threads left behind, verifies and frees them
  // (remote frees into abandoned or adopted segments), allocates new blocks --
  // plain, calloc'd (must read zero even from adopted segments) and aligned
  // (interior pointers, freed later by other threads) -- frees some and leaves
  // the rest in the pool as it exits.
  constexpr int waves = 75, per_wave = 4;
  Failure f;
  std::mutex pool_m;
  std::vector<Item> pool;
  std::atomic<std::uint64_t> verified{0}, calloc_checked{0}, aligned_made{0};

  auto worker = [&](int t) {
    std::mt19937_64 rng(777 + t);
    std::vector<Item> take;
    {
      std::lock_guard<std::mutex> g(pool_m);
      std::shuffle(pool.begin(), pool.end(), rng);
      const std::size_t k = std::min<std::size_t>(pool.size(), 300);
      take.assign(pool.end() - static_cast<std::ptrdiff_t>(k), pool.end());
      pool.resize(pool.size() - k);
    }
    for (const Item& it : take) {
      if (verify_block(it.p, it.n, it.seq, f, "adopting thread")) verified.fetch_add(1);
      ta_free(it.p);
    }
    std::vector<Item> mine;
    for (int k = 0; k < 600; ++k) {
      const std::uint64_t seq = (std::uint64_t(t) << 32) | std::uint64_t(k);
      const unsigned kind = rng() % 10;
      std::size_t n = random_size(rng, 5);
      void* p = nullptr;
      if (kind < 2) {
        p = ta_calloc(1, n);
        if (p == nullptr) {
          f.set(str("ta_calloc(1, ", n, ") returned NULL"));
          return;
        }
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i)
          if (b[i] != 0) {
            f.set(str("thread ", t, ": ta_calloc(1, ", n, ") = ", p, " not zero at offset ", i));
            break;
          }
        calloc_checked.fetch_add(1);
      } else if (kind < 4) {
        const std::size_t a = std::size_t(32) << (rng() % 8);  // 32 .. 4096
        n = 1 + rng() % 3000;
        p = ta_aligned_alloc(a, n);
        if (p == nullptr || addr(p) % a != 0) {
          f.set(str("ta_aligned_alloc(", a, ", ", n, ") = ", p));
          return;
        }
        aligned_made.fetch_add(1);
      } else {
        p = ta_malloc(n);
        if (p == nullptr) {
          f.set(str("ta_malloc(", n, ") returned NULL"));
          return;
        }
      }
      if (ta_usable_size(p) < n) f.set(str("usable(", p, ") < ", n));
      fill_range(p, 0, n, seed_of(p, seq));
      mine.push_back({p, n, seq});
    }
    std::shuffle(mine.begin(), mine.end(), rng);
    const std::size_t keep = mine.size() / 2;
    for (std::size_t i = keep; i < mine.size(); ++i) {
      if (verify_block(mine[i].p, mine[i].n, mine[i].seq, f, "own free")) verified.fetch_add(1);
      ta_free(mine[i].p);
    }
    mine.resize(keep);
    std::lock_guard<std::mutex> g(pool_m);
    pool.insert(pool.end(), mine.begin(), mine.end());
  };

  for (int w = 0; w < waves && !f.any(); ++w) {
    std::vector<std::thread> ts;
    for (int i = 0; i < per_wave; ++i) ts.emplace_back(worker, w * per_wave + i);
    for (auto& th : ts) th.join();
  }
  for (const Item& it : pool) {
    if (verify_block(it.p, it.n, it.seq, f, "main thread at the end")) verified.fetch_add(1);
    ta_free(it.p);
  }
  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
  INFO("blocks verified: " << verified.load() << ", calloc blocks checked zero: " << calloc_checked.load()
                           << ", aligned blocks: " << aligned_made.load());
  REQUIRE(verified.load() == std::uint64_t(waves) * per_wave * 600);
}

namespace {
// A pthread key whose destructor allocates: it runs at thread exit, possibly
// after tinyalloc's own thread-exit handling, and must still work.
pthread_key_t g_late_key;
std::mutex g_late_m;
std::vector<Item> g_late_blocks;
Failure* g_late_failure = nullptr;

void late_destructor(void* v) {
  const auto t = reinterpret_cast<std::uintptr_t>(v);
  for (int k = 0; k < 20; ++k) {
    const std::size_t n = 16 + std::size_t(k) * 97;
    const std::uint64_t seq = (std::uint64_t(t) << 16) | std::uint64_t(k);
    void* p = alloc_filled(n, seq, *g_late_failure);
    if (p == nullptr) return;
    if (k % 2 == 0) {
      ta_free(p);
      continue;
    }
    std::lock_guard<std::mutex> g(g_late_m);
    g_late_blocks.push_back({p, n, seq});
  }
}
}  // namespace

TEST_CASE("allocation from a pthread key destructor at thread exit", "[threads][exit]") {
  Failure f;
  g_late_failure = &f;
  void* warm = ta_malloc(16);  // make sure tinyalloc's own key exists first
  ta_free(warm);
  REQUIRE(pthread_key_create(&g_late_key, late_destructor) == 0);
  const long rss_before = vm_rss_kib();
  for (int t = 1; t <= 300; ++t) {
    std::thread th([t, &f] {
      void* p = alloc_filled(100, std::uint64_t(t), f);
      pthread_setspecific(g_late_key, reinterpret_cast<void*>(std::uintptr_t(t)));
      ta_free(p);
    });
    th.join();
  }
  std::uint64_t verified = 0;
  for (const Item& it : g_late_blocks) {
    if (verify_block(it.p, it.n, it.seq, f, "block from a key destructor")) ++verified;
    ta_free(it.p);
  }
  g_late_blocks.clear();
  const long rss_after = vm_rss_kib();
  pthread_key_delete(g_late_key);
  INFO("first failure: " << f.what);
  REQUIRE_FALSE(f.any());
  REQUIRE(verified == 300 * 10);
  INFO("VmRSS before: " << rss_before << " KiB, after: " << rss_after << " KiB");
  REQUIRE(rss_after - rss_before < 64 * 1024);
}
