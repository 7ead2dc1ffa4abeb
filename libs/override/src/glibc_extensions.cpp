// glibc's extensions of the malloc API, answered from tinyalloc's own state:
// mallinfo/mallinfo2, malloc_trim, malloc_stats, malloc_info, mallopt.
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <malloc.h>

#include "export.hpp"
#include "tinyalloc/heap.hpp"

using namespace tinyalloc;

// ---- glibc's extensions --------------------------------------------------------

// mallinfo2 from tinyalloc's statistics, with glibc's identities kept:
// arena = uordblks + fordblks, and in use = uordblks + hblkhd (what glibc's
// own malloc_stats adds up).  glibc's "mmapped" blocks are tinyalloc's large
// blocks (> 1 MiB); its "arena" is everything else.
//   arena     committed bytes other than live large blocks: segments
//             (held by threads or pooled and still resident) and the large
//             cache's resident mappings
//   ordblks   free segments pooled by the arena (resident or purged)
//   smblks    0 (no fastbins)
//   hblks     live large blocks
//   hblkhd    bytes mapped for live large blocks
//   usmblks   0 (glibc: always 0)
//   fsmblks   0 (no fastbins)
//   uordblks  bytes of segments held by threads (256 KiB per window a segment
//             spans, however many of its blocks are live)
//   fordblks  arena - uordblks: committed and not in use (pooled resident
//             segments, the large cache), never negative
//   keepcost  what malloc_trim() would give back now: resident pooled
//             segments plus the large cache's resident bytes (<= fordblks)
// Counters are read one by one while other threads run: each field is
// consistent with the others to within a segment or a block in flight.
TA_EXPORT struct mallinfo2 mallinfo2() noexcept {
  Stats s;
  stats_get(s);
  const size_t committed = s.memory.committed;
  struct mallinfo2 m = {};
  m.arena = committed > s.in_use_large ? committed - s.in_use_large : 0;
  m.ordblks = s.arena.dirty + s.arena.clean;
  m.hblks = s.large.allocations > s.large.frees ? s.large.allocations - s.large.frees : 0;
  m.hblkhd = s.in_use_large;
  m.uordblks = s.in_use_small < m.arena ? s.in_use_small : m.arena;
  m.fordblks = m.arena - m.uordblks;
  const size_t keep = s.arena.dirty * kSegmentSize + s.cache.resident_bytes;
  m.keepcost = keep < m.fordblks ? keep : m.fordblks;
  return m;
}

namespace {

// The int version: each field of mallinfo2 clamped to INT_MAX (glibc
// truncates instead).  A function of its own: <malloc.h> deprecates mallinfo.
struct mallinfo mallinfo_clamped() noexcept {
  const struct mallinfo2 m = mallinfo2();
  auto clamp = [](size_t v) { return v > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(v); };
  struct mallinfo r = {};
  r.arena = clamp(m.arena);
  r.ordblks = clamp(m.ordblks);
  r.smblks = clamp(m.smblks);
  r.hblks = clamp(m.hblks);
  r.hblkhd = clamp(m.hblkhd);
  r.usmblks = clamp(m.usmblks);
  r.fsmblks = clamp(m.fsmblks);
  r.uordblks = clamp(m.uordblks);
  r.fordblks = clamp(m.fordblks);
  r.keepcost = clamp(m.keepcost);
  return r;
}

}  // namespace

TA_EXPORT struct mallinfo mallinfo() noexcept { return mallinfo_clamped(); }

// Every free page and all pooled address space back to the OS; `pad` (glibc:
// bytes to leave at the top of the heap) has no meaning here.  1 if memory
// was released, 0 otherwise.
TA_EXPORT int malloc_trim(size_t /*pad*/) noexcept { return tinyalloc::trim() ? 1 : 0; }

// tinyalloc's statistics table on stderr (glibc prints its own, also there).
// Whatever the program left in stderr's buffer goes first.
TA_EXPORT void malloc_stats() noexcept {
  std::fflush(stderr);
  stats_print(2);
}

namespace {

unsigned long long ull(std::uint64_t v) noexcept { return static_cast<unsigned long long>(v); }

// The body of malloc_info: counters gathered first, so no lock is held while
// stdio writes (which may call malloc for fp's buffer).  False if a write failed.
bool write_info(FILE* fp) noexcept {
  Stats s;
  stats_get(s);
  const char* const strategy = s.large_strategy;
  bool ok = std::fprintf(fp, "<malloc version=\"tinyalloc-1\">\n<sizes counting=\"%d\">\n", s.counting ? 1 : 0) >= 0;
  for (unsigned c = 0; c < size_class::kCount && ok; ++c) {
    if (s.served[c] != 0)
      ok = std::fprintf(fp, "  <size class=\"%u\" block=\"%u\" served=\"%llu\"/>\n", c,
                        static_cast<unsigned>(size_class::size_of(c)), ull(s.served[c])) >= 0;
  }
  const std::uint64_t live_large = s.large.allocations > s.large.frees ? s.large.allocations - s.large.frees : 0;
  ok = ok && std::fprintf(fp,
                          "</sizes>\n"
                          "<total type=\"served\" count=\"%llu\"/>\n"
                          "<in_use small=\"%zu\" large=\"%zu\" total=\"%zu\" segments=\"%zu\" large_blocks=\"%llu\"/>\n"
                          "<system type=\"current\" size=\"%zu\"/>\n"
                          "<system type=\"max\" size=\"%zu\"/>\n"
                          "<aspace type=\"total\" size=\"%zu\"/>\n",
                          ull(s.small_total), s.in_use_small, s.in_use_large, s.in_use_small + s.in_use_large,
                          s.in_use_small / kSegmentSize, ull(live_large), s.memory.committed, s.memory.peak_committed,
                          s.memory.reserved) >= 0;
  ok = ok && std::fprintf(fp,
                          "<large strategy=\"%s\" allocations=\"%llu\" frees=\"%llu\" resized_in_place=\"%llu\" "
                          "moved=\"%llu\"/>\n"
                          "<cache hits=\"%llu\" misses=\"%llu\" evictions=\"%llu\" purges=\"%llu\" size=\"%zu\" "
                          "resident=\"%zu\"/>\n",
                          strategy, ull(s.large.allocations), ull(s.large.frees), ull(s.large.in_place_resizes),
                          ull(s.large.moved_resizes), ull(s.cache.hits), ull(s.cache.misses), ull(s.cache.evictions),
                          ull(s.cache.purges), s.cache.cached_bytes, s.cache.resident_bytes) >= 0;
  ok = ok && std::fprintf(fp,
                          "<segments carved=\"%llu\" reused=\"%llu\" purged=\"%llu\" unmapped=\"%llu\" dirty=\"%llu\" "
                          "clean=\"%llu\" abandoned=\"%llu\" adopted=\"%llu\"/>\n"
                          "<threads heaps=\"%llu\"/>\n"
                          "</malloc>\n",
                          ull(s.arena.segments_carved), ull(s.arena.segments_reused), ull(s.arena.segments_purged),
                          ull(s.arena.segments_unmapped), ull(s.arena.dirty), ull(s.arena.clean),
                          ull(s.segments_abandoned), ull(s.segments_adopted), ull(s.heaps_created)) >= 0;
  return ok;
}

}  // namespace

// tinyalloc's counters as XML on fp (format in README).  0 on success; -1
// with errno = EINVAL if options != 0 (glibc's man page; glibc 2.36 itself
// returns EINVAL), -1 with stdio's errno if a write to fp failed.
TA_EXPORT int malloc_info(int options, FILE* fp) noexcept {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  return write_info(fp) ? 0 : -1;
}

// Every parameter <malloc.h> defines is accepted and ignored (1), as none is
// safe to apply to a running tinyalloc or has a counterpart in it: the purge
// delays and cache budget are fixed at start-up (TINYALLOC_* variables), the
// large-block threshold is the size-class table's, threads never share an
// arena, and misuse checks always abort (M_CHECK_ACTION: glibc >= 2.34
// ignores it too).  M_MXFAST keeps glibc's range check (0..160 bytes).  An
// unknown parameter returns 0 (glibc 2.36 returns 1 for anything).
TA_EXPORT int mallopt(int param, int value) noexcept {
  switch (param) {
    case M_MXFAST:
      return value >= 0 && value <= 80 * static_cast<int>(sizeof(size_t)) / 4 ? 1 : 0;
    case M_NLBLKS:
    case M_GRAIN:
    case M_KEEP:
    case M_TRIM_THRESHOLD:
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_CHECK_ACTION:
    case M_PERTURB:
    case M_ARENA_TEST:
    case M_ARENA_MAX:
      return 1;
    default:
      return 0;
  }
}

// The same under glibc's internal names (the rest of __libc_* is in override.cpp).
TA_EXPORT struct mallinfo __libc_mallinfo() noexcept { return mallinfo_clamped(); }
TA_EXPORT int __libc_mallopt(int param, int value) noexcept { return mallopt(param, value); }
