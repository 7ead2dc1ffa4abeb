// glibc's malloc extensions as the static override provides them: mallinfo2,
// mallinfo, malloc_stats, malloc_info, mallopt, malloc_trim, the __libc_*
// names, and memalign's rounding.  README "Compatibility with glibc" states
// what each does; every claim there is checked here.
//
// This program's malloc is tinyalloc's (the static override), and Catch2
// allocates too: counts are compared as differences over code that runs on
// this thread alone, between two readings.
#include <catch2/catch.hpp>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "../common/child.hpp"
#include "tinyalloc/heap.hpp"

// Not declared by any glibc header: glibc exports them, and so does tinyalloc.
extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);
struct mallinfo __libc_mallinfo(void);
int __libc_mallopt(int, int);
void cfree(void*);  // glibc >= 2.26 exports it for old binaries only
}

// mallinfo (the int version) is deprecated in <malloc.h>; it is under test.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

using namespace tinyalloc;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// A block is tinyalloc's if its window is in the segment map and its masked
// header carries tinyalloc's cookie for that address.
bool from_tinyalloc(void* p) {
  return segment_map::contains(p) && Segment::header_of(p)->cookie_ok() &&
         Segment::header_of(p)->kind != SegmentKind::Free;
}

// GCC may drop a malloc whose block is only freed: a block stored here is used.
void* volatile g_sink;
void* keep(void* p) {
  g_sink = p;
  return p;
}

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

void check_identities(const struct mallinfo2& m) {
  REQUIRE(m.arena == m.uordblks + m.fordblks);
  REQUIRE(m.keepcost <= m.fordblks);
  REQUIRE(m.smblks == 0);
  REQUIRE(m.usmblks == 0);
  REQUIRE(m.fsmblks == 0);
}

// malloc_info into a string (open_memstream allocates with malloc: this
// program's, tinyalloc's; malloc_info gathers its counters before writing).
std::string info_xml() {
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  REQUIRE(f != nullptr);
  REQUIRE(malloc_info(0, f) == 0);
  REQUIRE(std::fclose(f) == 0);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

// Every line one element; opening and closing tags balanced.
bool well_formed(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t at = 0;
  while (at < xml.size()) {
    const std::size_t end = xml.find('\n', at);
    if (end == std::string::npos) return false;  // ends with a newline
    std::string line = xml.substr(at, end - at);
    at = end + 1;
    line.erase(0, line.find_first_not_of(' '));
    if (line.size() < 3 || line.front() != '<' || line.back() != '>') return false;
    if (line.find('<', 1) != std::string::npos) return false;
    if (line[1] == '/') {
      if (open.empty() || line != "</" + open.back() + ">") return false;
      open.pop_back();
    } else if (line[line.size() - 2] != '/') {
      open.push_back(line.substr(1, line.find_first_of(" >") - 1));
    }
  }
  return open.empty();
}

// The number in attribute `attr` of the first element starting with `element`.
unsigned long long attribute(const std::string& xml, const std::string& element, const std::string& attr) {
  const std::size_t e = xml.find(element);
  REQUIRE(e != std::string::npos);
  const std::size_t a = xml.find(" " + attr + "=\"", e);
  REQUIRE(a != std::string::npos);
  REQUIRE(a < xml.find('\n', e));
  return std::strtoull(xml.c_str() + a + attr.size() + 3, nullptr, 10);
}

}  // namespace

TEST_CASE("mallinfo2 reports tinyalloc's memory: 100 MiB live", "[glibc][mallinfo]") {
  // ~100 MiB of small blocks (class 1024) and 100 large blocks of 2 MiB;
  // the vectors themselves (one a large block) before the first reading.
  std::vector<void*> small(100000), large(100);
  const struct mallinfo2 before = mallinfo2();
  check_identities(before);
  for (void*& p : small) REQUIRE((p = std::malloc(1000)) != nullptr);
  for (void*& p : large) REQUIRE((p = std::malloc(2 * MiB)) != nullptr);
  const struct mallinfo2 during = mallinfo2();
  Stats s;
  stats_get(s);
  check_identities(during);
  // Small blocks: uordblks, whole segments.
  REQUIRE(during.uordblks - before.uordblks >= 100000 * 1000);
  REQUIRE(during.uordblks - before.uordblks <= 100000 * 1024 + 2 * kSegmentSize);
  REQUIRE(during.uordblks == s.in_use_small);
  // Large blocks: hblks / hblkhd, each its mapping (header and page rounding;
  // secure builds: the header's page and two guard pages).
  REQUIRE(during.hblks - before.hblks == 100);
  REQUIRE(during.hblkhd - before.hblkhd >= 100 * 2 * MiB);
  REQUIRE(during.hblkhd - before.hblkhd <= 100 * (2 * MiB + (kSecure ? 4 : 2) * page()));
  REQUIRE(during.hblkhd == s.in_use_large);
  // glibc's sums: in use = uordblks + hblkhd, held = arena + hblkhd.
  REQUIRE(during.uordblks + during.hblkhd == s.in_use_small + s.in_use_large);
  REQUIRE(during.arena + during.hblkhd == s.memory.committed);
  REQUIRE(during.fordblks == s.memory.committed - s.in_use_small - s.in_use_large);
  REQUIRE(during.ordblks == s.arena.dirty + s.arena.clean);

  // The int version: the same numbers while they fit.
  const struct mallinfo i = mallinfo();
  const struct mallinfo2 again = mallinfo2();
  REQUIRE(static_cast<std::size_t>(i.uordblks) == again.uordblks);
  REQUIRE(static_cast<std::size_t>(i.hblkhd) == again.hblkhd);
  REQUIRE(static_cast<std::size_t>(i.hblks) == again.hblks);
  REQUIRE(static_cast<std::size_t>(i.arena) == again.arena);
  REQUIRE(static_cast<std::size_t>(i.fordblks) == again.fordblks);

  for (void* p : small) std::free(p);
  for (void* p : large) std::free(p);
  const struct mallinfo2 after = mallinfo2();
  check_identities(after);
  REQUIRE(after.hblks == before.hblks);
  REQUIRE(after.hblkhd == before.hblkhd);
  REQUIRE(after.uordblks < during.uordblks - 90 * MiB);
}

TEST_CASE("mallinfo clamps each field to INT_MAX", "[glibc][mallinfo]") {
  // 3 GiB of large blocks: address space and accounting only, never touched.
  std::vector<void*> blocks;
  for (int k = 0; k < 3; ++k) {
    blocks.push_back(keep(std::malloc(std::size_t{1} << 30)));
    REQUIRE(blocks.back() != nullptr);
  }
  const struct mallinfo2 m2 = mallinfo2();
  const struct mallinfo m = mallinfo();
  REQUIRE(m2.hblkhd > static_cast<std::size_t>(INT_MAX));
  REQUIRE(m.hblkhd == INT_MAX);
  REQUIRE(m.hblks == static_cast<int>(m2.hblks));
  for (void* p : blocks) std::free(p);
}

TEST_CASE("malloc_stats prints tinyalloc's table on stderr", "[glibc][malloc_stats]") {
  const test_child::Result r = test_child::run(
      [] {
        const int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) != 1) return 3;  // stdout away: only stderr is collected
        void* p = std::malloc(100);
        malloc_stats();
        std::free(p);
        return 0;
      },
      30);
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  REQUIRE(r.output.rfind("tinyalloc statistics (pid ", 0) == 0);
  REQUIRE(r.output.find("\n  memory ") != std::string::npos);
  REQUIRE(r.output.find("in use") != std::string::npos);
}

TEST_CASE("malloc_info writes tinyalloc's counters as XML", "[glibc][malloc_info]") {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(std::malloc(1000));
  void* big = keep(std::malloc(3 * MiB));
  const std::string xml = info_xml();
  INFO(xml);
  REQUIRE(xml.rfind("<malloc version=\"tinyalloc-1\">\n", 0) == 0);
  REQUIRE(xml.size() > 10);
  REQUIRE(xml.substr(xml.size() - 10) == "</malloc>\n");
  REQUIRE(well_formed(xml));
  const unsigned long long counting = attribute(xml, "<sizes ", "counting");
  REQUIRE(counting == TINYALLOC_STATS);
  if (counting) {
    REQUIRE(xml.find("<size class=\"") != std::string::npos);
    REQUIRE(attribute(xml, "<size class=\"" + std::to_string(size_class::of(1000)) + "\"", "served") >= 1000);
    REQUIRE(attribute(xml, "<size class=\"" + std::to_string(size_class::of(1000)) + "\"", "block") == 1024);
    REQUIRE(attribute(xml, "<total type=\"served\"", "count") >= 1000);
  }
  const unsigned long long small = attribute(xml, "<in_use ", "small"), large = attribute(xml, "<in_use ", "large");
  REQUIRE(small >= 1000 * 1000);
  REQUIRE(large >= 3 * MiB);
  REQUIRE(attribute(xml, "<in_use ", "total") == small + large);
  REQUIRE(attribute(xml, "<in_use ", "large_blocks") >= 1);
  const unsigned long long committed = attribute(xml, "<system type=\"current\"", "size");
  REQUIRE(committed >= small + large);
  REQUIRE(attribute(xml, "<system type=\"max\"", "size") >= committed);
  REQUIRE(attribute(xml, "<aspace type=\"total\"", "size") >= committed);
  REQUIRE(xml.find("<large strategy=\"") != std::string::npos);
  REQUIRE(xml.find("<cache hits=\"") != std::string::npos);
  REQUIRE(xml.find("<segments carved=\"") != std::string::npos);
  for (void* p : blocks) std::free(p);
  std::free(big);
}

TEST_CASE("malloc_info: options other than 0, and a failing stream", "[glibc][malloc_info]") {
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  REQUIRE(f != nullptr);
  errno = 0;
  REQUIRE(malloc_info(1, f) == -1);
  REQUIRE(errno == EINVAL);
  REQUIRE(std::fclose(f) == 0);
  REQUIRE(len == 0);  // nothing written
  std::free(buf);

  FILE* full = std::fopen("/dev/full", "w");
  REQUIRE(full != nullptr);
  REQUIRE(std::setvbuf(full, nullptr, _IONBF, 0) == 0);  // every write reaches the device
  errno = 0;
  REQUIRE(malloc_info(0, full) == -1);
  REQUIRE(errno == ENOSPC);
  std::fclose(full);
}

TEST_CASE("mallopt accepts glibc's parameters and ignores them", "[glibc][mallopt]") {
  for (int param : {M_NLBLKS, M_GRAIN, M_KEEP, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX,
                    M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX}) {
    for (int value : {-1, 0, 1, 4096, 64 << 20, INT_MAX}) {
      INFO("param " << param << " value " << value);
      REQUIRE(mallopt(param, value) == 1);
    }
  }
  // M_MXFAST: glibc's range, 0 .. 80 * sizeof(size_t) / 4 bytes.
  REQUIRE(mallopt(M_MXFAST, 0) == 1);
  REQUIRE(mallopt(M_MXFAST, 64) == 1);
  REQUIRE(mallopt(M_MXFAST, 80 * sizeof(size_t) / 4) == 1);
  REQUIRE(mallopt(M_MXFAST, 80 * sizeof(size_t) / 4 + 1) == 0);
  REQUIRE(mallopt(M_MXFAST, -1) == 0);
  // Unknown parameters.
  REQUIRE(mallopt(0, 1) == 0);
  REQUIRE(mallopt(12345, 1) == 0);
  REQUIRE(mallopt(-100, 1) == 0);
  // Ignored means ignored: large blocks still start above 1 MiB, whatever
  // M_MMAP_THRESHOLD says.
  REQUIRE(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1);
  void* p = std::malloc(512 * 1024);
  REQUIRE(Segment::header_of(p)->kind == SegmentKind::Small);
  std::free(p);
  p = std::malloc(2 * MiB);
  REQUIRE(Segment::header_of(p)->kind == SegmentKind::Large);
  std::free(p);
  // M_PERTURB: glibc would fill every new block with ~0xAA; pages of a
  // 200 MiB block that no block used before still read as zero (its start
  // may be the 2 MiB block's above, which holds what that one left).
  REQUIRE(mallopt(M_PERTURB, 0xAA) == 1);
  auto* c = static_cast<unsigned char*>(keep(std::malloc(200 * MiB)));
  REQUIRE(c != nullptr);
  REQUIRE(c[100 * MiB] == 0);
  REQUIRE(c[200 * MiB - 1] == 0);
  std::free(c);
  REQUIRE(mallopt(M_PERTURB, 0) == 1);
}

TEST_CASE("malloc_trim gives free memory back and says whether it did", "[glibc][malloc_trim]") {
  static_assert(std::is_same_v<decltype(malloc_trim(0)), int>);
  static_assert(std::is_same_v<decltype(tinyalloc::trim()), bool>);
  malloc_trim(0);  // start from nothing pooled
  // Emptied segments (pooled, still resident for the purge delay) and freed
  // large blocks (kept in the large cache, TINYALLOC_LARGE=cached).
  std::vector<void*> blocks;
  for (int i = 0; i < 20000; ++i) blocks.push_back(std::malloc(1000));
  for (int i = 0; i < 8; ++i) blocks.push_back(std::malloc(MiB));
  for (void* p : blocks) std::memset(p, 1, 1000);
  for (void* p : blocks) std::free(p);
  const struct mallinfo2 held = mallinfo2();
  Stats before;
  stats_get(before);
  // With the default purge delay, emptied segments wait resident (dirty):
  // malloc_trim decommits them.  TINYALLOC_PURGE_DELAY_MS=0 purges at once.
  const bool resident_pool = options().arena.purge_delay_ms != 0;
  if (resident_pool) REQUIRE(held.keepcost > 0);
  REQUIRE(before.arena.dirty + before.arena.clean > 0);

  REQUIRE(malloc_trim(0) == 1);
  const struct mallinfo2 trimmed = mallinfo2();
  Stats after;
  stats_get(after);
  check_identities(trimmed);
  REQUIRE(trimmed.keepcost == 0);
  REQUIRE(trimmed.ordblks == 0);
  REQUIRE(after.arena.dirty == 0);
  REQUIRE(after.arena.clean == 0);
  REQUIRE(after.cache.cached_bytes == 0);
  if (resident_pool) REQUIRE(after.memory.committed < before.memory.committed);
  REQUIRE(after.memory.reserved < before.memory.reserved);
  // Nothing left to give: 0, whatever the pad.
  REQUIRE(malloc_trim(0) == 0);
  REQUIRE(malloc_trim(SIZE_MAX) == 0);
  REQUIRE_FALSE(tinyalloc::trim());

  // Everything still works afterwards.
  for (void*& p : blocks) REQUIRE((p = std::malloc(1000)) != nullptr);
  for (void* p : blocks) std::memset(p, 2, 1000);
  for (void* p : blocks) std::free(p);
  void* big = std::malloc(MiB);
  REQUIRE(big != nullptr);
  std::memset(big, 3, MiB);
  std::free(big);
}

TEST_CASE("__libc_* are tinyalloc's, interchangeable with malloc/free", "[glibc][libc]") {
  void* p = std::malloc(100);
  __libc_free(p);  // glibc's free would abort on tinyalloc's block
  void* q = __libc_malloc(100);
  REQUIRE(from_tinyalloc(q));
  std::free(q);
  void* big = std::malloc(2 * MiB);
  __libc_free(big);
  big = __libc_malloc(2 * MiB);
  REQUIRE(from_tinyalloc(big));
  std::free(big);

  auto* z = static_cast<unsigned char*>(__libc_calloc(10, 100));
  REQUIRE(from_tinyalloc(z));
  for (int i = 0; i < 1000; ++i) REQUIRE(z[i] == 0);
  std::memset(z, 7, 1000);
  auto* r = static_cast<unsigned char*>(__libc_realloc(z, 100000));
  REQUIRE(from_tinyalloc(r));
  for (int i = 0; i < 1000; ++i) REQUIRE(r[i] == 7);
  REQUIRE(__libc_realloc(r, 0) == nullptr);  // frees, as realloc

  void* a = __libc_memalign(24, 48);
  REQUIRE(a != nullptr);
  REQUIRE(aligned(a, 32));
  REQUIRE(from_tinyalloc(a));
  __libc_free(a);
  void* v = __libc_valloc(10);
  REQUIRE(aligned(v, page()));
  REQUIRE(from_tinyalloc(v));
  __libc_free(v);
  void* pv = __libc_pvalloc(1);
  REQUIRE(aligned(pv, page()));
  REQUIRE(malloc_usable_size(pv) >= page());
  __libc_free(pv);

  const struct mallinfo m = __libc_mallinfo();
  const struct mallinfo2 m2 = mallinfo2();
  REQUIRE(static_cast<std::size_t>(m.uordblks) == m2.uordblks);
  REQUIRE(__libc_mallopt(M_ARENA_MAX, 2) == 1);
  REQUIRE(__libc_mallopt(12345, 1) == 0);
}

TEST_CASE("memalign rounds the alignment up like glibc; aligned_alloc does not", "[glibc][memalign]") {
  struct Case {
    std::size_t alignment, size, expect;
  };
  for (const Case c : {Case{0, 48, 16}, Case{1, 10, 1}, Case{3, 10, 4}, Case{8, 3, 8}, Case{16, 1, 16}, Case{17, 1, 32},
                       Case{24, 48, 32}, Case{33, 100, 64}, Case{100, 200, 128}, Case{4096, 10, 4096},
                       Case{5000, 10, 8192}, Case{300000, 10, 524288}}) {
    INFO("memalign(" << c.alignment << ", " << c.size << ")");
    errno = 0;
    void* p = memalign(c.alignment, c.size);
    REQUIRE(p != nullptr);
    REQUIRE(errno == 0);
    REQUIRE(aligned(p, c.expect));
    REQUIRE(malloc_usable_size(p) >= c.size);
    REQUIRE(from_tinyalloc(p));
    std::memset(p, 0x5A, c.size);
    std::free(p);
  }
  // No power of two reaches it: EINVAL, as glibc.
  errno = 0;
  REQUIRE(memalign(SIZE_MAX / 2 + 2, 1) == nullptr);
  REQUIRE(errno == EINVAL);
  errno = 0;
  REQUIRE(memalign(SIZE_MAX, 1) == nullptr);
  REQUIRE(errno == EINVAL);
  // A power of two, but no such memory: ENOMEM.
  errno = 0;
  REQUIRE(memalign(SIZE_MAX / 2 + 1, 1) == nullptr);
  REQUIRE(errno == ENOMEM);

  // aligned_alloc keeps C11/C17 (DR 460)/C23: an unsupported alignment fails.
  for (std::size_t a : {std::size_t{0}, std::size_t{3}, std::size_t{24}, std::size_t{48}}) {
    INFO("aligned_alloc(" << a << ", 48)");
    errno = 0;
    REQUIRE(std::aligned_alloc(a, 48) == nullptr);
    REQUIRE(errno == EINVAL);
  }
  void* ok = std::aligned_alloc(32, 48);
  REQUIRE(aligned(ok, 32));
  std::free(ok);
  // posix_memalign: the error is the return value; errno and *out untouched.
  void* pm = &pm;
  errno = 0;
  REQUIRE(posix_memalign(&pm, 24, 48) == EINVAL);
  REQUIRE(posix_memalign(&pm, 4, 48) == EINVAL);
  REQUIRE(posix_memalign(&pm, 64, SIZE_MAX / 2) == ENOMEM);
  REQUIRE(errno == 0);
  REQUIRE(pm == &pm);
}

TEST_CASE("valloc, pvalloc, malloc_usable_size, reallocarray, cfree, realloc(p, 0)", "[glibc][family]") {
  void* v = valloc(1);
  REQUIRE(aligned(v, page()));
  REQUIRE(malloc_usable_size(v) >= 1);
  std::free(v);
  void* pv = pvalloc(0);
  REQUIRE(aligned(pv, page()));
  REQUIRE(malloc_usable_size(pv) >= page());
  std::free(pv);
  pv = pvalloc(page() + 1);
  REQUIRE(aligned(pv, page()));
  REQUIRE(malloc_usable_size(pv) >= 2 * page());
  std::free(pv);
  errno = 0;
  REQUIRE(pvalloc(SIZE_MAX) == nullptr);
  REQUIRE(errno == ENOMEM);

  REQUIRE(malloc_usable_size(nullptr) == 0);
  errno = 0;
  volatile std::size_t half = SIZE_MAX / 2;  // not a constant: GCC would warn of the overflow under test
  REQUIRE(reallocarray(nullptr, half, 3) == nullptr);
  REQUIRE(errno == ENOMEM);
  auto* ra = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  REQUIRE(from_tinyalloc(ra));
  REQUIRE(malloc_usable_size(ra) >= 10 * sizeof(int));
  cfree(ra);

  void* p = std::malloc(10);
  errno = 0;
  REQUIRE(std::realloc(p, 0) == nullptr);  // freed, as glibc does
  REQUIRE(errno == 0);
}

TEST_CASE("malloc(0), small blocks' alignment, calloc overflow, a foreign pointer", "[glibc][family]") {
  // malloc(0): distinct non-NULL blocks, as glibc.
  void* z1 = std::malloc(0);
  void* z2 = std::malloc(0);
  REQUIRE(z1 != nullptr);
  REQUIRE(z2 != nullptr);
  REQUIRE(z1 != z2);
  std::free(z1);
  std::free(z2);
  // 8 bytes or less: an 8-byte class, 8-aligned (glibc: always 16);
  // more: 16-aligned.
  std::vector<void*> tiny, other;
  bool some_not_16 = false;
  for (int i = 0; i < 64; ++i) {
    tiny.push_back(std::malloc(8));
    REQUIRE(aligned(tiny.back(), 8));
    some_not_16 = some_not_16 || !aligned(tiny.back(), 16);
  }
  REQUIRE(some_not_16);
  for (std::size_t n = 9; n <= 4096; n += 7) {
    other.push_back(std::malloc(n));
    REQUIRE(aligned(other.back(), 16));
  }
  for (void* p : tiny) std::free(p);
  for (void* p : other) std::free(p);
  // calloc: count * size overflows -> NULL, ENOMEM.
  errno = 0;
  volatile std::size_t half = SIZE_MAX / 2;
  REQUIRE(std::calloc(half, 3) == nullptr);
  REQUIRE(errno == ENOMEM);
  // malloc_usable_size of a pointer tinyalloc did not hand out: one line, abort.
  const test_child::Result r = test_child::run(
      [] {
        int on_stack = 0;
        return static_cast<int>(malloc_usable_size(&on_stack));
      },
      30);
  INFO(r.describe());
  REQUIRE(r.signaled(SIGABRT));
  REQUIRE(r.output.rfind("tinyalloc: malloc_usable_size(): invalid pointer (not allocated by tinyalloc): 0x", 0) == 0);
}
