// libFuzzer harness for the ta_* API.
//
// The input is a program: each operation is a few bytes (see Op below) and
// names a lane (one of two worker threads), a slot of the shadow model and a
// size.  Consecutive operations of the same lane run as one batch on that
// lane's thread; the harness waits for a batch before handing the next to the
// other lane, so execution is deterministic (an input always replays the
// same way) while blocks still move between threads: a block allocated on
// one lane and freed on the other takes the remote-free path, and the
// "restart" operation ends a lane's thread (its heap is handed over) and
// starts a new one.
//
// The shadow model keeps, per slot, the block, its size, its alignment and
// the seed of the pattern written into it.  Checked on every operation: the
// pointer is non-NULL (sizes stay far below memory limits), aligned as asked
// and as tinyalloc promises (16 bytes from a size of 16), usable size >= the
// size, no overlap with any other live block, calloc memory zeroed, realloc
// keeps the prefix, and a block's contents are intact before it is freed or
// reallocated.  A violation prints one line and aborts, which libFuzzer
// records as a crash with the input that caused it.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tinyalloc.h"

namespace {

constexpr unsigned kSlots = 64;
constexpr std::size_t kMaxSize = 2u << 20;

[[noreturn]] void fail(const char* what, const void* p, std::size_t a, std::size_t b) {
  std::fprintf(stderr, "fuzz_alloc: %s (block %p, %zu, %zu)\n", what, p, a, b);
  std::abort();
}

__attribute__((no_sanitize("coverage"))) std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ULL;
  return x ^ (x >> 29);
}
// Byte i of a block's pattern is byte i % 8 of the word mix(seed + i / 8):
// position-defined, so a realloc'ed prefix can be checked in place.
unsigned char pattern_byte(std::uint64_t seed, std::size_t i) {
  return static_cast<unsigned char>(mix(seed + i / 8) >> (8 * (i % 8)));
}

struct Slot {
  unsigned char* p = nullptr;
  std::size_t size = 0;
  std::size_t align = 0;
  std::uint64_t seed = 0;
};
Slot g_slots[kSlots];
std::uint64_t g_next_seed = 1;

// The pattern loops carry no coverage instrumentation (they are the bulk of
// the time and have no branches worth guiding the fuzzer), and work on whole
// words where possible.
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

NO_COVERAGE void fill(Slot& s, std::size_t from) {
  std::size_t i = from;
  for (; i < s.size && i % 8 != 0; ++i) s.p[i] = pattern_byte(s.seed, i);
  for (; i + 8 <= s.size; i += 8) {
    const std::uint64_t w = mix(s.seed + i / 8);
    std::memcpy(s.p + i, &w, 8);
  }
  for (; i < s.size; ++i) s.p[i] = pattern_byte(s.seed, i);
}

NO_COVERAGE void verify(const Slot& s, std::size_t upto) {
  std::size_t i = 0;
  for (; i + 8 <= upto; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.p + i, 8);
    if (w != mix(s.seed + i / 8)) break;
  }
  for (; i < upto; ++i)
    if (s.p[i] != pattern_byte(s.seed, i)) fail("contents changed", s.p, i, s.size);
}

// Contract checks of a block just returned for `size` bytes at `align`.
void check_new(const Slot& s, const Slot* self) {
  if (s.p == nullptr) fail("allocation returned NULL", nullptr, s.size, s.align);
  const auto a = reinterpret_cast<std::uintptr_t>(s.p);
  if (s.align != 0 && a % s.align != 0) fail("misaligned for the requested alignment", s.p, s.align, s.size);
  if (a % (s.size >= 16 ? 16 : 8) != 0) fail("below the default alignment", s.p, s.size, 0);
  if (ta_usable_size(s.p) < s.size) fail("usable size below the size", s.p, ta_usable_size(s.p), s.size);
  const std::size_t span = s.size == 0 ? 1 : s.size;
  for (const Slot& o : g_slots) {
    if (&o == self || o.p == nullptr) continue;
    const std::size_t ospan = o.size == 0 ? 1 : o.size;
    if (s.p < o.p + ospan && o.p < s.p + span) fail("overlaps another live block", s.p, s.size, o.size);
  }
}

NO_COVERAGE std::size_t first_nonzero(const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return i;
  return n;
}

void release(Slot& s) {
  if (s.p == nullptr) return;
  verify(s, s.size);
  ta_free(s.p);
  s = Slot{};
}

// Reads the input a byte at a time; past the end it reads zeros.
struct Reader {
  const std::uint8_t* d;
  std::size_t n, i = 0;
  std::uint8_t byte() { return i < n ? d[i++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | byte() << 8); }
  bool done() const { return i >= n; }
};

// Size from a selector byte and a 16-bit value: mostly small classes, some
// large blocks, some tiny (including 0).
std::size_t decode_size(std::uint8_t sel, std::uint16_t v) {
  switch (sel % 8) {
    case 0:
      return v % 64;
    case 1:
    case 2:
      return v % 1025;
    case 3:
    case 4:
      return v % 32769;
    case 5:
      return 32768 + v % 32768;
    case 6:
      return std::size_t{v} * 16 % (1u << 20);
    default:
      return std::size_t{v} * 32 % kMaxSize;
  }
}

// One decoded operation.
struct Op {
  std::uint8_t code, lane, slot, sel, extra;
  std::uint16_t v;
};

Op decode(Reader& r) {
  const std::uint8_t b = r.byte();
  return Op{static_cast<std::uint8_t>(b & 15),
            static_cast<std::uint8_t>((b >> 4) & 1),
            static_cast<std::uint8_t>(r.byte() % kSlots),
            r.byte(),
            static_cast<std::uint8_t>(b >> 5),
            r.u16()};
}

void execute(const Op& op) {
  Slot& s = g_slots[op.slot];
  const std::size_t size = decode_size(op.sel, op.v);
  switch (op.code) {
    case 0:
    case 1:
    case 2:
    case 3: {  // malloc
      release(s);
      s.p = static_cast<unsigned char*>(ta_malloc(size));
      s.size = size;
      s.seed = g_next_seed++;
      check_new(s, &s);
      fill(s, 0);
      break;
    }
    case 4: {  // calloc(count, size / count)
      release(s);
      const std::size_t count = 1 + op.extra;
      s.p = static_cast<unsigned char*>(ta_calloc(count, size / count));
      s.size = count * (size / count);
      s.seed = g_next_seed++;
      check_new(s, &s);
      if (const std::size_t at = first_nonzero(s.p, s.size); at != s.size)
        fail("calloc memory not zero", s.p, at, s.size);
      fill(s, 0);
      break;
    }
    case 5: {  // realloc (of NULL if the slot is empty; to 0 frees)
      if (s.p != nullptr) verify(s, s.size);
      const std::size_t keep = s.size < size ? s.size : size;
      auto* q = static_cast<unsigned char*>(ta_realloc(s.p, size));
      if (q == nullptr && size == 0 && s.p != nullptr) {  // as glibc: realloc(p, 0) frees p
        s = Slot{};
        break;
      }
      if (q == nullptr) fail("realloc returned NULL", s.p, s.size, size);
      Slot n{q, size, 0, s.seed ? s.seed : g_next_seed++};
      s = Slot{};  // the old block is gone; check_new must not compare with it
      check_new(n, &s);
      verify(n, keep);
      s = n;
      fill(s, keep);
      break;
    }
    case 6:
    case 7: {  // aligned_alloc / posix_memalign, alignment 1 .. 1 MiB
      release(s);
      const std::size_t align = std::size_t{1} << (op.extra * 3 + op.v % 3);  // 2^0 .. 2^23, capped below
      const std::size_t a = align > (1u << 20) ? (1u << 20) : align;
      void* p = nullptr;
      if (op.code == 6) {
        p = ta_aligned_alloc(a, size);
      } else if (ta_posix_memalign(&p, a < sizeof(void*) ? sizeof(void*) : a, size) != 0) {
        p = nullptr;
      }
      s.p = static_cast<unsigned char*>(p);
      s.size = size;
      s.align = op.code == 7 && a < sizeof(void*) ? sizeof(void*) : a;
      s.seed = g_next_seed++;
      check_new(s, &s);
      fill(s, 0);
      break;
    }
    case 8:
    case 9:
    case 10:  // free
      release(s);
      break;
    case 11:  // verify every live block
      for (const Slot& o : g_slots)
        if (o.p != nullptr) verify(o, o.size);
      break;
    case 12: {  // the usable size is really usable: extend the pattern to it
      if (s.p == nullptr) break;
      verify(s, s.size);
      const std::size_t old = s.size;
      s.size = ta_usable_size(s.p);
      fill(s, old);
      break;
    }
    case 13:  // handled by the dispatcher (restart the lane's thread)
      break;
    default:  // free everything
      for (Slot& o : g_slots) release(o);
      break;
  }
}

// Waits until `a` no longer holds `v`: spins briefly (a batch is often a
// few microseconds), then sleeps in the kernel.
void wait_while(std::atomic<int>& a, int v) {
  for (int i = 0; i < 1000; ++i) {
    if (a.load(std::memory_order_acquire) != v) return;
    __builtin_ia32_pause();
  }
  while (a.load(std::memory_order_acquire) == v) a.wait(v);
}

// A worker thread that runs batches of operations handed to it.
struct Lane {
  std::thread thread;
  std::atomic<int> state{0};  // 0 idle, 1 batch posted, 2 quit
  const Op* ops = nullptr;
  std::size_t count = 0;

  void start() {
    state.store(0);
    thread = std::thread([this] {
      for (;;) {
        wait_while(state, 0);
        if (state.load(std::memory_order_acquire) == 2) return;
        for (std::size_t i = 0; i < count; ++i) execute(ops[i]);
        state.store(0, std::memory_order_release);
        state.notify_one();
      }
    });
  }
  void run(const Op* o, std::size_t n) {
    ops = o;
    count = n;
    state.store(1, std::memory_order_release);
    state.notify_one();
    wait_while(state, 1);
  }
  void stop() {
    state.store(2, std::memory_order_release);
    state.notify_one();
    thread.join();
  }
  void restart() {
    stop();
    start();
  }
};

Lane g_lanes[2];

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (Lane& l : g_lanes) l.start();
  // Join the lanes before static destruction (a joinable std::thread's
  // destructor would terminate the process at exit).
  std::atexit([] {
    for (Lane& l : g_lanes) l.stop();
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxOps = 2048;
  static Op ops[kMaxOps];
  Reader r{data, size};
  std::size_t n = 0;
  while (!r.done() && n < kMaxOps) ops[n++] = decode(r);
  // Dispatch maximal runs of one lane; a restart ends the run before it.
  std::size_t i = 0;
  while (i < n) {
    const unsigned lane = ops[i].lane;
    if (ops[i].code == 13) {
      g_lanes[lane].restart();
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && ops[j].lane == lane && ops[j].code != 13) ++j;
    g_lanes[lane].run(ops + i, j - i);
    i = j;
  }
  // Everything left is freed by lane 1 (remote frees for lane 0's blocks).
  static const Op free_all{15, 1, 0, 0, 0, 0};
  g_lanes[1].run(&free_all, 1);
  return 0;
}
