// Misuse detection: each misuse runs in a child process, which must die by
// SIGABRT after printing one line that starts with "tinyalloc:", names the
// offending pointer as printf's %p prints it, names the misuse, and names the
// size class (or says the pointer is no tinyalloc block).  A crash by
// another signal, a silent exit, or a message without those fails.
//
// Built three times: test_misuse calls ta_* (the process malloc is glibc's,
// which provides "another allocator's pointer"); test_misuse_override
// (MISUSE_OVERRIDE) links the static override and calls malloc/free;
// test_misuse_preload (MISUSE_PRELOAD) links no tinyalloc and runs with
// LD_PRELOAD=libtinyalloc.so.  The last two get glibc's own malloc from
// libc.so.6 with dlsym.
//
// The issue-11 cases (README "Misuse") carry their number, [case N].  Each
// test says which build catches it: hardened (the default) or secure; in a
// build without that level it is skipped with a warning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <sys/mman.h>

#include "../common/child.hpp"
#include "tinyalloc/segment/config.hpp"
#include "tinyalloc/segment/geometry.hpp"

#if defined(MISUSE_OVERRIDE) || defined(MISUSE_PRELOAD)
#include <malloc.h>
#define A_MALLOC std::malloc
#define A_REALLOC std::realloc
#define A_ALIGNED_ALLOC std::aligned_alloc
#define A_FREE std::free
#define A_USABLE malloc_usable_size
#else
#include "tinyalloc.h"
#define A_MALLOC ta_malloc
#define A_REALLOC ta_realloc
#define A_ALIGNED_ALLOC ta_aligned_alloc
#define A_FREE ta_free
#define A_USABLE ta_usable_size
#endif

namespace {

// Through volatile pointers, so the compiler cannot reason about (or warn
// on, or drop) a double free.
void* (*volatile do_malloc)(std::size_t) = A_MALLOC;
void* (*volatile do_realloc)(void*, std::size_t) = A_REALLOC;
void* (*volatile do_aligned_alloc)(std::size_t, std::size_t) = A_ALIGNED_ALLOC;
void (*volatile do_free)(void*) = A_FREE;

// A malloc that is not tinyalloc's: glibc's.
void* foreign_malloc(std::size_t n) {
#if defined(MISUSE_OVERRIDE) || defined(MISUSE_PRELOAD)
  using Fn = void* (*)(std::size_t);
  static Fn glibc = reinterpret_cast<Fn>(dlsym(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), "malloc"));
  return glibc(n);
#else
  return std::malloc(n);
#endif
}

// Tells the parent which pointer the message must name, then misuses it.
void announce(const void* p) {
  std::printf("POINTER %p\n", p);
  std::fflush(stdout);
}

// The misuse itself: announce p, then free it (which must not return).
int misfree(void* p) {
  announce(p);
  do_free(p);
  return 0;
}

// After a misuse caught when a free list next hands the block out: enough
// mallocs of the class for every block of its segment to come by.  Returns
// only if nothing was caught.
int malloc_until_caught(std::size_t size) {
  for (int i = 0; i < 100000; ++i) (void)do_malloc(size);
  return 0;
}

// Runs `misuse` in a child; requires SIGABRT and a "tinyalloc:" line naming
// the announced pointer and containing each of `words`.
void expect_detected(int (*misuse)(), std::initializer_list<const char*> words) {
  const test_child::Result r = test_child::run(misuse, 30);
  INFO("child " << r.describe());
  const std::size_t at = r.output.find("POINTER ");
  REQUIRE(at != std::string::npos);
  const std::string ptr = r.output.substr(at + 8, r.output.find('\n', at) - at - 8);
  REQUIRE(r.signaled(SIGABRT));
  std::string line;
  for (std::size_t pos = 0; pos < r.output.size();) {
    const std::size_t eol = std::min(r.output.find('\n', pos), r.output.size());
    if (r.output.compare(pos, 10, "tinyalloc:") == 0) line = r.output.substr(pos, eol - pos);
    pos = eol + 1;
  }
  INFO("expected a line starting with \"tinyalloc:\" that contains " << ptr);
  REQUIRE(line.find(ptr) != std::string::npos);
  for (const char* w : words) {
    INFO("the report must say \"" << w << "\"");
    REQUIRE(line.find(w) != std::string::npos);
  }
}

enum class Build { Hardened, Secure };
// False (and a warning) if this build does not catch the misuse.
bool caught_in_this_build(Build needed) {
  if (needed == Build::Hardened ? tinyalloc::kHardened : tinyalloc::kSecure) return true;
  WARN(
      "caught only with " << (needed == Build::Hardened ? "TINYALLOC_HARDENED=ON (the default)" : "TINYALLOC_SECURE=ON")
                          << "; not checked in this build");
  return false;
}

constexpr std::size_t kMedium = 50000;  // a medium class (57344 B), several blocks to a segment

}  // namespace

// ---- small blocks ------------------------------------------------------------

TEST_CASE("[case 1] double free in a row", "[misuse][double]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(64);
        do_free(p);
        return misfree(p);
      },
      {"double free", "size class 64 B"});
}

TEST_CASE("[case 2] double free from another thread (first free by the owner)", "[misuse][double][thread]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(64);
        void* keep = do_malloc(64);  // the segment stays in use
        do_free(p);
        announce(p);
        std::thread([p] { do_free(p); }).join();
        do_free(keep);
        return 0;
      },
      {"double free", "size class 64 B"});
}

TEST_CASE("[case 3] free of a stack pointer", "[misuse][invalid]") {
  expect_detected(
      [] {
        alignas(16) char buf[256];
        std::memset(buf, 0, sizeof buf);
        void* volatile p = buf + 64;
        return misfree(p);
      },
      {"invalid pointer", "not a tinyalloc block"});
}

TEST_CASE("[case 4] free of an interior pointer (16-aligned, inside a block)", "[misuse][invalid]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(256));
        return misfree(p + 64);
      },
      {"interior pointer", "size class 256 B"});
}

TEST_CASE("free of a pointer just before a block (16 bytes)", "[misuse][invalid]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(96));
        return misfree(p - 16);
      },
      {"pointer", "size class 96 B"});
}

TEST_CASE("[case 5] free of an unaligned pointer", "[misuse][invalid]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(100));
        return misfree(p + 1);
      },
      {"unaligned pointer", "size class 112 B"});
}

TEST_CASE("[case 8] interleaved double free (free a, free b, free a), caught when the list hands a out again",
          "[misuse][double]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* a = do_malloc(48);
        void* b = do_malloc(48);
        do_free(a);
        do_free(b);
        misfree(a);
        return malloc_until_caught(48);
      },
      {"double free", "size class 48 B"});
}

// 48 B blocks, four segments' worth, in `v`: the blocks of a segment that
// holds only these (the process may hold some of the class already) and is
// not the one the class allocates from, in address order.  Sets `n` to how
// many (0 if no segment qualifies).
constexpr std::size_t kSmall = 48, kPerSegment = (tinyalloc::kSegmentSize - tinyalloc::kFirstBlock) / kSmall;
void** blocks_of_a_whole_segment(std::size_t& n) {
  constexpr std::size_t kCount = 4 * kPerSegment;
  static void* v[kCount];
  static void* whole[kPerSegment];
  for (void*& p : v) p = do_malloc(kSmall);
  auto window = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) >> tinyalloc::kSegmentShift; };
  n = 0;
  for (std::size_t i = 1; i < kCount && n == 0; ++i) {
    if (window(v[i]) == window(v[i - 1]) || window(v[i]) == window(v[kCount - 1])) continue;
    std::size_t in = 0;
    for (const void* q : v) in += window(q) == window(v[i]);
    if (in != kPerSegment) continue;
    for (void* q : v)
      if (window(q) == window(v[i])) whole[n++] = q;
  }
  std::sort(whole, whole + n, std::less<void*>());  // secure builds hand blocks out in random order
  return whole;
}

TEST_CASE("interleaved double free among the last frees of a segment: caught before the segment leaves the heap",
          "[misuse][double]") {
  // The count of blocks out then reaches 0 one block early, with a block of
  // the segment still live.  The default build finds that block before the
  // segment goes back to the arena (which would hand it out again or
  // decommit it); secure builds catch the second free itself.
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        std::size_t n;
        void** mine = blocks_of_a_whole_segment(n);
        if (n == 0) return 1;  // fails, as nothing is announced
        for (std::size_t i = 3; i < n; ++i) do_free(mine[i]);
        void *a = mine[0], *live = mine[1], *c = mine[2];
        announce(tinyalloc::kSecure ? a : live);
        do_free(a);
        do_free(c);
        do_free(a);
        return 0;
      },
      {"double free", "size class 48 B"});
}

TEST_CASE("interleaved double free by the owner, the rest freed by another thread", "[misuse][double][thread]") {
  // Caught before the segment is carved again.  (Catch 2.13's console
  // reporter indents a wrapped test name past its ": ", and loops forever,
  // printing, when that is past the line's width: keep such names short.)
  // The owner's count plus the remote frees then say every block came back
  // while one is live.  The owner would carve the segment again from its
  // start (its blocks all came back, some from another thread), handing the
  // live block out a second time; the default build finds it first.  Secure
  // builds catch the second free itself.
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        std::size_t n;
        void** mine = blocks_of_a_whole_segment(n);
        if (n == 0) return 1;  // fails, as nothing is announced
        void *a = mine[0], *live = mine[1], *c = mine[2];
        announce(tinyalloc::kSecure ? a : live);
        do_free(a);
        do_free(c);
        do_free(a);
        std::thread([mine, n] {
          for (std::size_t i = 3; i < n; ++i) do_free(mine[i]);
        }).join();
        return malloc_until_caught(kSmall);
      },
      {"double free", "size class 48 B"});
}

TEST_CASE("double free by another thread into a full segment", "[misuse][double][thread]") {
  // The first remote free into a full segment is handed to the owner heap
  // (a list linked with the heap's key, so the block does not look free to
  // its segment).  Freed again before the owner collects it, the block is
  // caught at that free: its segment remembers it (awaits_owner).  (Before,
  // it went onto the segment's remote list too and was found only when the
  // owner collected, and before that fix named a write after free.)  The
  // child returns as soon as the thread is done: nothing later can catch it.
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        std::size_t n;
        void** mine = blocks_of_a_whole_segment(n);
        if (n == 0) return 1;
        void *a = mine[5], *b = mine[6];
        announce(a);
        std::thread([a, b] {
          do_free(a);
          do_free(b);
          do_free(a);
        }).join();
        return 0;
      },
      {"free(): double free", "size class 48 B"});
}

TEST_CASE("owner's double free of a handed-off block, its segment no longer full", "[misuse][double][thread]") {
  // Another thread's free of a hands it to the owner heap; the owner's free
  // of c moves the segment back from full, so the owner's free of a takes
  // the fast path, which does not ask awaits_owner: a goes onto the local
  // list too.  The next malloc pops it, and the program's data replaces its
  // hand-off link: the owner's collection of the hand-offs finds that
  // (or finds a still on the local list, if it collects first).
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        std::size_t n;
        void** mine = blocks_of_a_whole_segment(n);
        if (n == 0) return 1;
        void *a = mine[5], *c = mine[7];
        std::thread([a] { do_free(a); }).join();
        do_free(c);
        announce(a);
        do_free(a);
        return malloc_until_caught(kSmall);
      },
      {"double free", "size class 48 B"});
}

// The owner frees or reallocates a block that another thread freed into its
// full segment (handed off, not yet collected): caught at the call, as its
// segment remembers it.  Before, realloc returned the block as live while the
// hand-off list still held it, and it was handed out twice.
int owner_misuses_a_handed_off_block(bool realloc) {
  std::size_t n;
  void** mine = blocks_of_a_whole_segment(n);
  if (n == 0) return 1;
  void* a = mine[5];
  std::thread([a] { do_free(a); }).join();
  announce(a);
  if (realloc) {
    void* q = do_realloc(a, kSmall - 8);  // in place, were the block live
    std::printf("realloc returned %p\n", q);
    std::fflush(stdout);
  } else {
    do_free(a);
  }
  return 0;
}

TEST_CASE("double free by the owner of a block another thread freed into a full segment", "[misuse][double][thread]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return owner_misuses_a_handed_off_block(false); }, {"free(): double free", "size class 48 B"});
}

TEST_CASE("realloc by the owner of a block another thread freed into a full segment", "[misuse][double][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return owner_misuses_a_handed_off_block(true); }, {"realloc(): double free", "size class 48 B"});
}

TEST_CASE("late double free into a segment carved again for another class: caught at the free", "[misuse][double]") {
  // The stale pointer falls on the new class's grid past the blocks it has
  // carved.  Accepted, that block would be handed out twice once the
  // segment carves that far.  (If the arena gave the new class other
  // memory, the stale pointer is in a pooled segment: a double free too.)
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        std::size_t n;
        void** mine = blocks_of_a_whole_segment(n);
        if (n == 0) return 1;
        for (std::size_t i = 0; i < n; ++i) do_free(mine[i]);  // the segment goes back to the arena
        // 20,000 B: class 20480, one block carved at a time; block 3 of its
        // grid is where 48 B block 1,280 was.
        (void)do_malloc(20000);
        return misfree(mine[1280]);
      },
      {"double free"});
}

TEST_CASE("free of an interior pointer of an aligned block", "[misuse][invalid]") {
  // A segment with aligned blocks maps any address to its block's start, so
  // the address must also be one that was handed out there: the block start
  // (malloc) or the start rounded up to a power of two (aligned_alloc).
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return misfree(static_cast<char*>(do_aligned_alloc(4096, 100)) + 16); },
                  {"interior pointer", "size class"});
  expect_detected([] { return misfree(static_cast<char*>(do_aligned_alloc(64, 100)) + 1); },
                  {"unaligned pointer", "size class"});
}

TEST_CASE("aligned blocks of every alignment are freed without a report", "[misuse][aligned]") {
  // The other side of the check above: each address aligned_alloc hands out
  // in a segment that holds blocks of several alignments is accepted.
  const test_child::Result r = test_child::run(
      [] {
        void* p[64];
        for (int round = 0; round < 200; ++round) {
          for (int i = 0; i < 64; ++i) p[i] = do_aligned_alloc(std::size_t{32} << (i % 8), 1 + 97 * i % 700);
          for (int i = 0; i < 64; i += 2) do_free(p[i]);
          for (int i = 1; i < 64; i += 2) do_free(p[i]);
        }
        return 0;
      },
      30);
  INFO("child " << r.describe());
  REQUIRE(r.exited_ok());
}

TEST_CASE("free of an address in a block its segment has not carved (a segment with aligned blocks)",
          "[misuse][invalid]") {
  // Such a segment's frees find the block start by division (the program
  // holds addresses inside its blocks); the block found must be carved.
  // Accepted, it would be handed out twice once the segment carves it.
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        // 2,000 B at 1 KiB alignment: a 3,072 B block (one carved at a time),
        // its address 1 KiB in; the segment's last block is far from carved.
        constexpr std::size_t kBlock = 3072, kBlocks = (tinyalloc::kSegmentSize - tinyalloc::kFirstBlock) / kBlock;
        const auto window = reinterpret_cast<std::uintptr_t>(do_aligned_alloc(1024, 2000)) & ~tinyalloc::kSegmentMask;
        return misfree(reinterpret_cast<char*>(window + tinyalloc::kFirstBlock + (kBlocks - 1) * kBlock + 1024 - 256));
      },
      {"no block at this address is in use", "size class 3072 B"});
}

TEST_CASE("double free, delayed: other blocks freed and allocated in between", "[misuse][double]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(48);
        std::vector<void*> others;
        for (int i = 0; i < 100; ++i) others.push_back(do_malloc(48));
        do_free(p);
        for (void* q : others) do_free(q);
        for (int i = 0; i < 100; ++i) do_free(do_malloc(1000));  // other classes meanwhile
        misfree(p);
        return malloc_until_caught(48);
      },
      {"double free", "size class 48 B"});
}

TEST_CASE("double free by the owner after another thread freed the block", "[misuse][double][thread]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(64);
        void* keep = do_malloc(64);
        std::thread([p] { do_free(p); }).join();
        misfree(p);
        malloc_until_caught(64);
        do_free(keep);
        return 0;
      },
      {"double free", "size class 64 B"});
}

TEST_CASE("free of another allocator's pointer (glibc malloc)", "[misuse][invalid]") {
  if (!caught_in_this_build(Build::Secure)) return;  // the default may fault reading its masked address
  expect_detected([] { return misfree(foreign_malloc(64)); }, {"invalid pointer", "not a tinyalloc block"});
}

TEST_CASE("free of a pointer into an mmap'ed page", "[misuse][invalid]") {
  if (!caught_in_this_build(Build::Secure)) return;
  expect_detected(
      [] {
        void* m = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return 2;
        return misfree(static_cast<char*>(m) + 4096);
      },
      {"invalid pointer", "not a tinyalloc block"});
}

// ---- realloc: the same checks as free ----------------------------------------------

TEST_CASE("[case 6] realloc of a freed block", "[misuse][double][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(64);
        do_free(p);
        announce(p);
        void* q = do_realloc(p, 200);
        do_free(q);
        return 0;
      },
      {"realloc()", "double free", "size class 64 B"});
}

// Issue 9: a realloc that fits in place must check the block too, or it
// hands a freed block back to the program as live (and the free list still
// holds it: the next malloc of its class returns it a second time).  Another
// live block of the class keeps the segment in use, as in a real program.
int realloc_freed_in_place(std::size_t size, std::size_t new_size) {
  void* keep = do_malloc(size);
  void* p = do_malloc(size);
  do_free(p);
  announce(p);
  void* q = do_realloc(p, new_size);
  std::printf("realloc returned %p\n", q);
  do_free(keep);
  return 0;
}

TEST_CASE("realloc of a freed 48-byte block to the same size (in place)", "[misuse][double][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return realloc_freed_in_place(48, 48); }, {"realloc()", "double free"});
}

TEST_CASE("realloc of a freed 48-byte block to a smaller size (in place)", "[misuse][double][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return realloc_freed_in_place(48, 40); }, {"realloc()", "double free"});
}

TEST_CASE("realloc of a freed 200-byte block to the same size (in place)", "[misuse][double][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return realloc_freed_in_place(200, 200); }, {"realloc()", "double free"});
}

TEST_CASE("realloc of a freed medium block (in place)", "[misuse][double][realloc][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return realloc_freed_in_place(kMedium, kMedium + 100); },
                  {"realloc()", "double free", "size class 57344 B"});
}

TEST_CASE("realloc of an interior pointer", "[misuse][invalid][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(256));
        announce(p + 32);
        do_free(do_realloc(p + 32, 100));
        return 0;
      },
      {"realloc()", "interior pointer", "size class 256 B"});
}

TEST_CASE("realloc of a medium block written past its end", "[misuse][overflow][realloc]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(kMedium));
        p[kMedium] = 0;
        announce(p);
        do_free(do_realloc(p, 2 * kMedium));
        return 0;
      },
      {"realloc()", "heap overflow", "size class 57344 B"});
}

// ---- medium blocks -------------------------------------------------------------

TEST_CASE("[case 7] double free of a medium block (its segment emptied)", "[misuse][double][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* p = do_malloc(100000);
        do_free(p);
        return misfree(p);
      },
      {"double free", "size class 114688 B"});
}

TEST_CASE("[case 7] double free of a medium block, other blocks of its segment live", "[misuse][double][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* keep = do_malloc(kMedium);
        void* p = do_malloc(kMedium);
        do_free(p);
        misfree(p);
        do_free(keep);
        return 0;
      },
      {"double free", "size class 57344 B"});
}

TEST_CASE("[case 7] double free of a medium block, interleaved (free a, free b, free a)", "[misuse][double][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* keep = do_malloc(kMedium);
        void* a = do_malloc(kMedium);
        void* b = do_malloc(kMedium);
        do_free(a);
        do_free(b);
        misfree(a);
        do_free(keep);
        return 0;
      },
      {"double free", "size class 57344 B"});
}

TEST_CASE("[case 7] double free of a medium block, delayed (reallocated in between)", "[misuse][double][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        void* keep = do_malloc(kMedium);
        void* p = do_malloc(kMedium);
        do_free(p);
        for (int i = 0; i < 50; ++i) do_free(do_malloc(40000 + 1000 * i));
        misfree(p);
        do_free(keep);
        return 0;
      },
      {"double free", "size class 57344 B"});
}

TEST_CASE("[case 9] interior free of a medium block", "[misuse][invalid][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(kMedium));
        return misfree(p + 4096);
      },
      {"interior pointer", "size class 57344 B"});
}

TEST_CASE("[case 9] unaligned free of a medium block", "[misuse][invalid][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(kMedium));
        return misfree(p + 24);
      },
      {"unaligned pointer", "size class 57344 B"});
}

int overflow_then_free(std::size_t size, std::size_t by) {
  char* p = static_cast<char*>(do_malloc(size));
  std::memset(p, 'a', size);
  std::memset(p + size, 0, by);  // a string's terminator, one past the end, or more
  return misfree(p);
}

TEST_CASE("overflow of a medium block by 1 byte", "[misuse][overflow][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return overflow_then_free(kMedium, 1); }, {"heap overflow", "size class 57344 B"});
}

TEST_CASE("overflow of a medium block by 32 bytes", "[misuse][overflow][medium]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return overflow_then_free(kMedium + 5, 32); }, {"heap overflow", "size class 57344 B"});
}

// ---- large blocks --------------------------------------------------------------

TEST_CASE("double free of a large block", "[misuse][double][large]") {
  if (!caught_in_this_build(Build::Hardened)) return;  // without it, "invalid pointer"
  expect_detected(
      [] {
        void* p = do_malloc(2 << 20);
        do_free(p);
        return misfree(p);
      },
      {"double free", "large block"});
}

TEST_CASE("interior free of a large block", "[misuse][invalid][large]") {
  expect_detected(
      [] {
        char* p = static_cast<char*>(do_malloc(2 << 20));
        return misfree(p + 4096);
      },
      {"interior pointer", "large block"});
}

TEST_CASE("overflow of a large block by 1 byte", "[misuse][overflow][large]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return overflow_then_free((2 << 20) + 100, 1); }, {"heap overflow", "large block"});
}

TEST_CASE("overflow of a large block by 32 bytes", "[misuse][overflow][large]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected([] { return overflow_then_free((3 << 20) + 3000, 32); }, {"heap overflow", "large block"});
}

// The freed block's range goes back to the large cache, which hands the same
// start out again once the ranges that fit a request of its size better are
// taken (the override and preload variants inherit a cache with some).
TEST_CASE("write after free to a large block, caught when it is reused", "[misuse][uaf][large]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  expect_detected(
      [] {
        const std::size_t n = 4 << 20;
        char* p = static_cast<char*>(do_malloc(n));
        std::memset(p, 1, n);
        do_free(p);
        announce(p);
        p[100] ^= 1;  // the use after free (changing the byte, whatever the allocator left there)
        for (int i = 0; i < 64; ++i) {
          if (do_malloc(n) == p) return 0;  // handed out again without a report
        }
        return 3;  // never handed out again: the test cannot tell
      },
      {"write after free", "large block"});
}

// ---- use-after-free writes -------------------------------------------------------

// A use-after-free write into a freed block's first word (where an intrusive
// free list keeps its link) must not steer a later malloc to the address the
// attacker wrote.  Accepted: the corruption is detected (SIGABRT with a
// "tinyalloc:" line), or every later malloc returns a legitimate block.
TEST_CASE("use-after-free write cannot steer malloc to an attacker's address", "[misuse][uaf]") {
  if (!caught_in_this_build(Build::Hardened)) return;
  const test_child::Result r = test_child::run(
      [] {
        static char target[4096];  // the attacker's chosen address
        void* t = target + 1024;
        void* p = do_malloc(64);
        do_free(p);
        std::memcpy(p, &t, sizeof t);  // the use-after-free write
        // Enough mallocs of the class for the freed block (and whatever its
        // link says) to be handed out.
        for (int i = 0; i < 5000; ++i) {
          void* q = do_malloc(64);
          if (q >= static_cast<void*>(target) && q < static_cast<void*>(target + sizeof target)) {
            std::printf("STEERED malloc #%d returned %p, the attacker's address\n", i, q);
            return 1;
          }
        }
        return 0;
      },
      30);
  INFO("child " << r.describe());
  const bool detected = r.signaled(SIGABRT) && r.output.find("tinyalloc:") != std::string::npos;
  REQUIRE((detected || r.exited_ok()));
}

// ---- no false alarms -------------------------------------------------------------

// Medium and large blocks used to the last byte they may use (their usable
// size), grown and shrunk in place, and freed: no report.
TEST_CASE("blocks used to their usable size, resized in place, are not reported", "[misuse][canary]") {
  const test_child::Result r = test_child::run(
      [] {
        for (std::size_t n : {std::size_t{40000}, std::size_t{57344}, std::size_t{65536}, std::size_t{1} << 20,
                              (std::size_t{1} << 20) + 1, std::size_t{5} << 20}) {
          char* p = static_cast<char*>(do_malloc(n));
          std::memset(p, 'a', A_USABLE(p));
          for (std::size_t m : {n - n / 4, n, n + 7, n + 8, n + 4096}) {
            p = static_cast<char*>(do_realloc(p, m));
            if (A_USABLE(p) < m) return 1;
            std::memset(p, 'b', A_USABLE(p));
          }
          do_free(p);
        }
        return 0;
      },
      60);
  INFO("child " << r.describe());
  REQUIRE(r.exited_ok());
}
