// oracle_malloc: a malloc that does no work, to measure how fast a program
// could run if its allocator cost nothing.  A floor for ini_bench's bars, not
// an allocator: it never reuses memory.
//
//   LD_PRELOAD=build/bench/oracle/liboracle_malloc.so [ORACLE_PREFAULT_MIB=N] [ORACLE_BY_CLASS=1] program
//
// - malloc is a thread's bump pointer: blocks in allocation order, 16-byte
//   aligned, an 8-byte header (the size, for realloc) before each;
// - ORACLE_BY_CLASS=1: one bump pointer per 16-byte size class up to 1 KiB
//   (and one for everything larger), so blocks of different sizes never
//   share a line, as in a size-class allocator; everything else (the header
//   too) the same.  The difference between the two is what segregating
//   sizes costs the program's own code;
// - free does nothing, so calloc's memory is always fresh zero pages;
// - the first ORACLE_PREFAULT_MIB (default 1024) MiB of the reservation are
//   made resident before main (MADV_POPULATE_WRITE), so a program that uses
//   less takes no page fault in its timed part.
//
// What it is a floor for: the program's own time with no allocator
// instructions, no page faults and blocks in the order they were asked for.
// A real allocator that reuses freed memory can still beat it where reused
// blocks are warm in the cache (PERF_FINDINGS.md, "what no allocator work
// gives").  Not for long runs: the reservation (64 GiB of address space) is
// never given back, and malloc fails with ENOMEM when it is used up.
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

constexpr std::size_t kReserve = std::size_t{64} << 30;
constexpr std::size_t kChunk = std::size_t{1} << 20;  // a thread's bump area at a time
constexpr std::size_t kHeader = 8;
#ifndef MADV_POPULATE_WRITE
constexpr int MADV_POPULATE_WRITE = 23;
#endif

char* g_base = nullptr;
std::atomic<std::size_t> g_used{0};

constexpr std::size_t kClassLimit = 1024;  // ORACLE_BY_CLASS: classes of 16 bytes up to here
constexpr std::size_t kBumps = kClassLimit / 16 + 2;

struct Bump {
    char* next = nullptr;
    char* end = nullptr;
};
__thread Bump t_bump[kBumps] __attribute__((tls_model("initial-exec")));
bool g_by_class = false;

/// The bump pointer a block of n bytes comes from.
Bump& bump_for(std::size_t n) {
    if (!g_by_class) return t_bump[0];
    return t_bump[n <= kClassLimit ? (n + 15) / 16 : kBumps - 1];
}

char* reserve() {
    void* p = mmap(nullptr, kReserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) std::abort();
    return static_cast<char*>(p);
}

__attribute__((constructor)) void prefault() {
    if (g_base == nullptr) g_base = reserve();
    const char* by_class = std::getenv("ORACLE_BY_CLASS");
    g_by_class = by_class != nullptr && by_class[0] == '1';
    const char* mib = std::getenv("ORACLE_PREFAULT_MIB");
    const std::size_t bytes = (mib != nullptr ? std::strtoull(mib, nullptr, 10) : 1024) << 20;
    if (bytes != 0 && madvise(g_base, bytes < kReserve ? bytes : kReserve, MADV_POPULATE_WRITE) != 0) std::abort();
}

/// `bytes` from the shared reservation (a thread's next chunk, or one big block).
char* take_shared(std::size_t bytes) {
    if (g_base == nullptr) g_base = reserve();  // malloc before the constructor (the loader's)
    const std::size_t at = g_used.fetch_add(bytes, std::memory_order_relaxed);
    return at + bytes <= kReserve ? g_base + at : nullptr;
}

/// The block of n bytes that starts at the first multiple of `align` past a
/// header from `at` on.
char* place(char* at, std::size_t n, std::size_t align) {
    const auto first = reinterpret_cast<std::uintptr_t>(at) + kHeader;
    char* p = reinterpret_cast<char*>((first + align - 1) & ~(align - 1));
    reinterpret_cast<std::size_t*>(p)[-1] = n;
    return p;
}

/// A block of n bytes whose address is a multiple of `align` (a power of two, >= 16).
void* allocate(std::size_t n, std::size_t align) {
    if (n > kReserve || align > kReserve) return errno = ENOMEM, nullptr;
    const std::size_t need = n + kHeader + align;  // enough wherever the bump pointer stands
    Bump& b = bump_for(n);
    if (static_cast<std::size_t>(b.end - b.next) < need) {
        if (need > kChunk / 4) {  // big: a piece of its own
            char* piece = take_shared((need + 4095) & ~std::size_t{4095});
            return piece != nullptr ? place(piece, n, align) : (errno = ENOMEM, nullptr);
        }
        char* chunk = take_shared(kChunk);
        if (chunk == nullptr) return errno = ENOMEM, nullptr;
        b.next = chunk;
        b.end = chunk + kChunk;
    }
    char* p = place(b.next, n, align);
    b.next = p + n;
    return p;
}

std::size_t size_of(const void* p) { return static_cast<const std::size_t*>(p)[-1]; }

}  // namespace

extern "C" {

void* malloc(std::size_t n) { return allocate(n, 16); }
void free(void*) {}
void* calloc(std::size_t count, std::size_t size) {
    std::size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return errno = ENOMEM, nullptr;
    return allocate(n, 16);  // never reused: still zero
}
void* realloc(void* p, std::size_t n) {
    if (p == nullptr) return allocate(n, 16);
    if (n <= size_of(p)) return p;
    void* q = allocate(n, 16);
    if (q != nullptr) std::memcpy(q, p, size_of(p));
    return q;
}
std::size_t malloc_usable_size(void* p) { return p == nullptr ? 0 : size_of(p); }
void* aligned_alloc(std::size_t align, std::size_t n) {
    if (align == 0 || (align & (align - 1)) != 0) return errno = EINVAL, nullptr;
    return allocate(n, align < 16 ? 16 : align);
}
void* memalign(std::size_t align, std::size_t n) { return aligned_alloc(align, n); }
int posix_memalign(void** out, std::size_t align, std::size_t n) {
    if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
    void* p = allocate(n, align < 16 ? 16 : align);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}

}  // extern "C"

// libstdc++'s operator new calls malloc, but through its own new-handler
// loop: replaced here so that new costs what malloc does.
void* operator new(std::size_t n) {
    if (void* p = allocate(n, 16)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void*) noexcept {}
void operator delete[](void*) noexcept {}
void operator delete(void*, std::size_t) noexcept {}
void operator delete[](void*, std::size_t) noexcept {}
