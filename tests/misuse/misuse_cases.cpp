// One heap misuse per run, through plain malloc/free, for any allocator
// (LD_PRELOAD): `misuse_cases <case>` performs the misuse, prints "MISUSED"
// right after it, then goes on allocating and freeing as a program would (so
// a misuse caught later, when a list is next used, shows too) and exits 0.
// scripts/misuse_matrix.py runs every case under each allocator and tells
// apart: caught at the misuse (died before "MISUSED"), caught later (died
// after), missed (exit 0), crashed (a signal other than SIGABRT).
// `misuse_cases --list` prints the cases.  Not a test: other allocators may
// miss any of them; tests/misuse checks tinyalloc's own builds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>

namespace {

void* (*volatile do_malloc)(std::size_t) = std::malloc;
void* (*volatile do_realloc)(void*, std::size_t) = std::realloc;
void (*volatile do_free)(void*) = std::free;

void misused() {
  std::printf("MISUSED\n");
  std::fflush(stdout);
}

// What a program does next: allocations and frees of the sizes the cases
// use, enough for every free list involved to be handed out again.
void carry_on() {
  for (std::size_t size : {24, 48, 64, 100, 256, 50000, 100000, 4 << 20}) {
    std::vector<void*> v;
    const int n = size > 32768 ? 8 : 20000;
    for (int i = 0; i < n; ++i) v.push_back(do_malloc(size));
    for (void* p : v) do_free(p);
  }
}

constexpr std::size_t kMedium = 50000, kLarge = 4 << 20;

struct Case {
  const char* name;
  const char* what;
  void (*run)();
};

const Case kCases[] = {
    {"double_free_in_a_row", "double free in a row (64 B)",
     [] {
       void* p = do_malloc(64);
       do_free(p);
       do_free(p);
     }},
    {"double_free_other_thread", "double free from another thread (64 B)",
     [] {
       void* p = do_malloc(64);
       void* keep = do_malloc(64);
       do_free(p);
       std::thread([p] { do_free(p); }).join();
       do_free(keep);
     }},
    {"free_stack", "free of a stack pointer",
     [] {
       alignas(16) char buf[256] = {};
       void* volatile p = buf + 64;
       do_free(p);
     }},
    {"free_interior", "free of an interior pointer (256 B block, +64)",
     [] { do_free(static_cast<char*>(do_malloc(256)) + 64); }},
    {"free_unaligned", "free of an unaligned pointer (100 B block, +1)",
     [] { do_free(static_cast<char*>(do_malloc(100)) + 1); }},
    {"realloc_freed", "realloc of a freed block (64 B)",
     [] {
       void* keep = do_malloc(64);
       void* p = do_malloc(64);
       do_free(p);
       do_free(do_realloc(p, 64));
       do_free(keep);
     }},
    {"double_free_medium", "double free of a medium block (100 KB)",
     [] {
       void* p = do_malloc(100000);
       do_free(p);
       do_free(p);
     }},
    {"double_free_interleaved", "interleaved double free: a, b, a (48 B)",
     [] {
       void* a = do_malloc(48);
       void* b = do_malloc(48);
       do_free(a);
       do_free(b);
       do_free(a);
     }},
    {"double_free_empties_segment", "interleaved double free among the last of 20,000 frees, one block live (48 B)",
     [] {
       std::vector<void*> v(20000);
       for (void*& p : v) p = do_malloc(48);
       for (std::size_t i = 0; i < v.size(); ++i)
         if (i < 9999 || i > 10001) do_free(v[i]);
       do_free(v[9999]);
       do_free(v[10001]);
       do_free(v[9999]);  // v[10000] is still live
     }},
    {"free_interior_medium", "interior free of a medium block (50 KB, +4096)",
     [] { do_free(static_cast<char*>(do_malloc(kMedium)) + 4096); }},
    // ---- beyond the nine
    {"double_free_delayed", "double free, 100 frees in between (48 B)",
     [] {
       void* p = do_malloc(48);
       std::vector<void*> others;
       for (int i = 0; i < 100; ++i) others.push_back(do_malloc(48));
       do_free(p);
       for (void* q : others) do_free(q);
       do_free(p);
     }},
    {"double_free_after_remote", "double free by the owner after another thread freed it (64 B)",
     [] {
       void* p = do_malloc(64);
       void* keep = do_malloc(64);
       std::thread([p] { do_free(p); }).join();
       do_free(p);
       do_free(keep);
     }},
    {"double_free_owner_rest_remote",
     "interleaved double free by the owner (a, c, a), the other 19,997 freed by another thread, one block live (48 B)",
     [] {
       std::vector<void*> v(20000);
       for (void*& p : v) p = do_malloc(48);
       do_free(v[0]);
       do_free(v[2]);
       do_free(v[0]);  // v[1] is still live
       std::thread([&v] {
         for (std::size_t i = 3; i < v.size(); ++i) do_free(v[i]);
       }).join();
     }},
    {"double_free_remote_full_segment",
     "interleaved double free by another thread (a, b, a) into a full segment (48 B)",
     [] {
       std::vector<void*> v(20000);
       for (void*& p : v) p = do_malloc(48);
       std::thread([&v] {
         do_free(v[100]);
         do_free(v[101]);
         do_free(v[100]);
       }).join();
     }},
    {"realloc_remote_freed", "realloc by the owner of a block another thread freed into a full segment (48 B)",
     [] {
       std::vector<void*> v(20000);
       for (void*& p : v) p = do_malloc(48);
       std::thread([&v] { do_free(v[100]); }).join();
       do_free(do_realloc(v[100], 40));
     }},
    {"double_free_medium_interleaved", "interleaved double free of medium blocks (50 KB)",
     [] {
       void* keep = do_malloc(kMedium);
       void* a = do_malloc(kMedium);
       void* b = do_malloc(kMedium);
       do_free(a);
       do_free(b);
       do_free(a);
       do_free(keep);
     }},
    {"free_interior_aligned", "free of an interior pointer of an aligned block (aligned_alloc(4096, 100), +16)",
     [] { do_free(static_cast<char*>(std::aligned_alloc(4096, 100)) + 16); }},
    {"free_mmap", "free of a pointer into an mmap'ed page",
     [] {
       void* m = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
       do_free(static_cast<char*>(m) + 4096);
     }},
    {"overflow_small_1", "overflow of a small block by 1 byte (24 B)",
     [] {
       char* p = static_cast<char*>(do_malloc(24));
       std::memset(p, 'a', 25);
       do_free(p);
     }},
    {"overflow_small_32", "overflow of a small block by 32 bytes (64 B)",
     [] {
       char* p = static_cast<char*>(do_malloc(64));
       std::memset(p, 'a', 96);
       do_free(p);
     }},
    {"overflow_medium_1", "overflow of a medium block by 1 byte (50 KB)",
     [] {
       char* p = static_cast<char*>(do_malloc(kMedium));
       std::memset(p, 'a', kMedium + 1);
       do_free(p);
     }},
    {"overflow_large_1", "overflow of a large block by 1 byte (4 MiB + 100)",
     [] {
       char* p = static_cast<char*>(do_malloc(kLarge + 100));
       std::memset(p, 'a', kLarge + 101);
       do_free(p);
     }},
    {"double_free_large", "double free of a large block (4 MiB)",
     [] {
       void* p = do_malloc(kLarge);
       do_free(p);
       do_free(p);
     }},
    {"free_interior_large", "interior free of a large block (4 MiB, +4096)",
     [] { do_free(static_cast<char*>(do_malloc(kLarge)) + 4096); }},
    {"write_after_free_large", "write after free to a large block, then the same size allocated",
     [] {
       char* p = static_cast<char*>(do_malloc(kLarge));
       std::memset(p, 1, kLarge);
       do_free(p);
       p[100] ^= 1;
     }},
    {"write_after_free_small", "write after free into a small block's first word (64 B)",
     [] {
       char* p = static_cast<char*>(do_malloc(64));
       do_free(p);
       std::memset(p, 0x41, 8);
     }},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: misuse_cases <case> | --list\n");
    return 2;
  }
  // printf's first output would malloc a buffer for stdout: between the
  // misuse and "MISUSED", that malloc could be the one to catch it, and a
  // misuse caught later would count as caught at the misuse.
  static char out[4096];
  std::setvbuf(stdout, out, _IOFBF, sizeof out);
  const std::string name = argv[1];
  for (const Case& c : kCases) {
    if (name == "--list") {
      std::printf("%s\t%s\n", c.name, c.what);
    } else if (name == c.name) {
      c.run();
      misused();
      carry_on();
      return 0;
    }
  }
  if (name == "--list") return 0;
  std::fprintf(stderr, "misuse_cases: no case '%s'\n", argv[1]);
  return 2;
}
