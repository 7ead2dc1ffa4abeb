// Statistics: merged from every heap on demand (the malloc fast path only
// bumps a per-thread counter, and only when built with TINYALLOC_STATS), and
// printed without allocating, so they work inside a failing program and at
// exit after other libraries have torn down.
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <unistd.h>

#include "globals.hpp"
#include "tinyalloc.h"

namespace tinyalloc {

static_assert(TA_STATS_CLASSES == size_class::kCount, "tinyalloc.h's class count must match the size-class table");

void stats_get(Stats& out) noexcept {
  detail::Globals& g = detail::globals();
  out = Stats{};
  out.counting = TINYALLOC_STATS != 0;
  if (out.counting) {
    g.heaps.for_each([&](Heap& h) {
      for (unsigned c = 0; c < size_class::kCount; ++c) out.served[c] += h.served(c);
    });
  }
  for (unsigned c = 0; c < size_class::kCount; ++c) out.small_total += out.served[c];
  out.large_strategy = g.large->name();
  out.large = g.large->counters();
  out.cache = g.large->cache_counters();
  out.arena = g.arena.counters();
  out.memory = region::counters();
  out.in_use_small = out.arena.windows_held * kSegmentSize;
  out.in_use_large = out.large.live_bytes;
  out.heaps_created = g.heaps.created();
  out.heaps_reused = g.heaps.reused();
  out.segments_abandoned = g.abandoned.abandoned();
  out.segments_adopted = g.abandoned.adopted();
  out.peak_rss_kib = region::peak_rss_bytes() >> 10;
}

namespace {

using Writer = void (*)(void* arg, const char* text);

void write_fd(void* arg, const char* text) noexcept {
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
  region::write_all(fd, text, __builtin_strlen(text));
}

/// Collects whole lines in a stack buffer and hands them to the writer when
/// it fills up and at the end.
class Printer {
 public:
  Printer(Writer write, void* arg) noexcept : write_(write), arg_(arg) {}
  ~Printer() { flush(); }
  void line(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    if (sizeof buf_ - len_ < kMaxLine) flush();
    std::va_list args;
    va_start(args, fmt);
    const int n = std::vsnprintf(buf_ + len_, kMaxLine, fmt, args);
    va_end(args);
    if (n > 0) len_ += static_cast<std::size_t>(n) < kMaxLine ? static_cast<std::size_t>(n) : kMaxLine - 1;
  }

 private:
  static constexpr std::size_t kMaxLine = 256;
  void flush() noexcept {
    if (len_ == 0) return;
    buf_[len_] = '\0';
    write_(arg_, buf_);
    len_ = 0;
  }
  Writer write_;
  void* arg_;
  char buf_[4096];
  std::size_t len_ = 0;
};

/// "123 B", "4.0 KiB", "1.5 MiB", "2.0 GiB": into buf.
const char* human(std::size_t bytes, char (&buf)[24]) noexcept {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  unsigned u = 0;
  while (v >= 1024 && u + 1 < sizeof kUnits / sizeof kUnits[0]) {
    v /= 1024;
    ++u;
  }
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%zu B", bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

unsigned long long u(std::uint64_t v) noexcept { return static_cast<unsigned long long>(v); }

void print_table(Writer write, void* arg) noexcept {
  Stats s;
  stats_get(s);
  const detail::Globals& g = detail::globals();
  char a[24], b[24], c[24], d[24];
  Printer p(write, arg);
  p.line("tinyalloc statistics (pid %d)\n", static_cast<int>(::getpid()));
  if (s.counting) {
    p.line("  %-5s %7s %16s\n", "class", "block", "served");
    for (unsigned k = 0; k < size_class::kCount; ++k)
      if (s.served[k] != 0) p.line("  %5u %7u %16llu\n", k, size_class::size_of(k), u(s.served[k]));
    p.line("  %-13s %16llu\n", "small, all", u(s.small_total));
  } else {
    p.line("  per-class counts: compiled out (built with TINYALLOC_STATS=OFF)\n");
  }
  p.line("  %-16s reserved %s, committed %s (peak %s), peak RSS %s\n", "memory", human(s.memory.reserved, a),
         human(s.memory.committed, b), human(s.memory.peak_committed, c), human(s.peak_rss_kib << 10, d));
  p.line("  %-16s %s: segments %s (%zu windows), large blocks %s (%llu)\n", "in use",
         human(s.in_use_small + s.in_use_large, a), human(s.in_use_small, b), s.in_use_small / kSegmentSize,
         human(s.in_use_large, c), u(s.large.allocations - s.large.frees));
  p.line("  large (%-7s)  allocations %llu, frees %llu, resized in place %llu, moved %llu\n", g.large->name(),
         u(s.large.allocations), u(s.large.frees), u(s.large.in_place_resizes), u(s.large.moved_resizes));
  p.line(
      "  %-16s hits %llu (%llu mixed), misses %llu, evictions %llu, purges %llu, holding %s (%s resident), "
      "pre-faulted %s\n",
      "large cache", u(s.cache.hits), u(s.cache.mixed_hits), u(s.cache.misses), u(s.cache.evictions), u(s.cache.purges),
      human(s.cache.cached_bytes, a), human(s.cache.resident_bytes, b), human(s.cache.populated, c));
  p.line(
      "  %-16s carved %llu, reused %llu (%llu borrowed), purged %llu, unmapped %llu; pooled: dirty %llu, clean %llu\n",
      "segments", u(s.arena.segments_carved), u(s.arena.segments_reused), u(s.arena.segments_borrowed),
      u(s.arena.segments_purged), u(s.arena.segments_unmapped), u(s.arena.dirty), u(s.arena.clean));
  p.line("  %-16s heaps created %llu, reused whole %llu; segments abandoned %llu, adopted %llu\n", "threads",
         u(s.heaps_created), u(s.heaps_reused), u(s.segments_abandoned), u(s.segments_adopted));
}

// TINYALLOC_SHOW_STATS=1: print at exit.  A destructor function, not atexit(),
// which may allocate; it runs after the program's atexit handlers, which is
// why it prints to a duplicate of stderr (Globals::stats_fd).
__attribute__((destructor)) void print_stats_at_exit() {
  if (detail::g_state.load(std::memory_order_acquire) == 2 && detail::g_globals->options.show_stats)
    stats_print(detail::g_globals->stats_fd);
}

}  // namespace

void stats_print(int fd) noexcept { print_table(&write_fd, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd))); }

void stats_print(Writer write, void* arg) noexcept {
  if (write == nullptr) return stats_print(2);
  print_table(write, arg);
}

}  // namespace tinyalloc

// ---- C interface ---------------------------------------------------------------
extern "C" {

void ta_stats_get(ta_stats_t* out) {
  using namespace tinyalloc;
  Stats s;
  stats_get(s);
  *out = ta_stats_t{};
  out->counting = s.counting ? 1 : 0;
  out->class_count = size_class::kCount;
  for (unsigned c = 0; c < size_class::kCount; ++c) {
    out->classes[c].block_size = size_class::size_of(c);
    out->classes[c].served = s.served[c];
  }
  out->small_served = s.small_total;
  out->reserved = s.memory.reserved;
  out->committed = s.memory.committed;
  out->committed_peak = s.memory.peak_committed;
  out->in_use_small = s.in_use_small;
  out->in_use_large = s.in_use_large;
  out->in_use = s.in_use_small + s.in_use_large;
  out->peak_rss = s.peak_rss_kib << 10;
  out->large_allocations = s.large.allocations;
  out->large_frees = s.large.frees;
  out->large_resized_in_place = s.large.in_place_resizes;
  out->large_moved = s.large.moved_resizes;
  out->cache_hits = s.cache.hits;
  out->cache_misses = s.cache.misses;
  out->cache_evictions = s.cache.evictions;
  out->cache_purges = s.cache.purges;
  out->cache_bytes = s.cache.cached_bytes;
  out->segments_carved = s.arena.segments_carved;
  out->segments_reused = s.arena.segments_reused;
  out->segments_purged = s.arena.segments_purged;
  out->segments_unmapped = s.arena.segments_unmapped;
  out->segments_dirty = s.arena.dirty;
  out->segments_clean = s.arena.clean;
  out->segments_abandoned = s.segments_abandoned;
  out->segments_adopted = s.segments_adopted;
  out->heaps_created = s.heaps_created;
}

void ta_stats_print(ta_output_fn out, void* arg) { tinyalloc::stats_print(out, arg); }

}  // extern "C"
