// Statistics: merged from every heap on demand (the fast path only bumps a
// per-thread counter), printed without allocating.
#include <cstdio>
#include <sys/resource.h>
#include <unistd.h>

#include "globals.hpp"

namespace tinyalloc {

void stats_get(Stats& out) noexcept {
  detail::Globals& g = detail::globals();
  out = Stats{};
  g.heaps.for_each([&](Heap& h) {
    for (unsigned c = 0; c < size_class::kCount; ++c) out.served[c] += h.served[c].load(std::memory_order_relaxed);
  });
  for (unsigned c = 0; c < size_class::kCount; ++c) out.small_total += out.served[c];
  out.large = g.large.counters();
  out.cache = g.cached.strategy().counters();
  out.arena = g.arena.counters();
  out.memory = region::counters();
  out.heaps_created = g.heaps.created();
  out.segments_abandoned = g.abandoned.abandoned();
  out.segments_adopted = g.abandoned.adopted();
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) out.peak_rss_kib = static_cast<std::size_t>(ru.ru_maxrss);
}

namespace {

class Printer {
 public:
  explicit Printer(int fd) noexcept : fd_(fd) {}
  ~Printer() { flush(); }
  template <class... A>
  void line(const char* fmt, A... a) noexcept {
    if (sizeof buf_ - len_ < 256) flush();
    const int n = std::snprintf(buf_ + len_, sizeof buf_ - len_, fmt, a...);
    if (n > 0) len_ += static_cast<std::size_t>(n) < sizeof buf_ - len_ ? static_cast<std::size_t>(n) : 0;
  }

 private:
  void flush() noexcept {
    std::size_t off = 0;
    while (off < len_) {
      const ssize_t w = ::write(fd_, buf_ + off, len_ - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    len_ = 0;
  }
  int fd_;
  char buf_[4096];
  std::size_t len_ = 0;
};

unsigned long long mib(std::size_t b) { return static_cast<unsigned long long>(b >> 20); }
unsigned long long u(std::uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

void stats_print(int fd) noexcept {
  Stats s;
  stats_get(s);
  const detail::Globals& g = detail::globals();
  Printer p(fd);
  p.line("tinyalloc statistics (pid %d)\n", static_cast<int>(::getpid()));
  p.line("  %-6s %8s %14s\n", "class", "block", "served");
  for (unsigned c = 0; c < size_class::kCount; ++c)
    if (s.served[c] != 0) p.line("  %-6u %8u %14llu\n", c, size_class::size_of(c), u(s.served[c]));
  p.line("  small blocks served   %llu\n", u(s.small_total));
  p.line("  large (%s)       allocations %llu, frees %llu, resized in place %llu, moved %llu\n", g.large.name,
         u(s.large.allocations), u(s.large.frees), u(s.large.in_place_resizes), u(s.large.moved_resizes));
  p.line("  large cache           hits %llu, misses %llu, evictions %llu, purges %llu, cached %llu MiB\n",
         u(s.cache.hits), u(s.cache.misses), u(s.cache.evictions), u(s.cache.purges), mib(s.cache.cached_bytes));
  p.line("  segments              carved %llu, reused %llu, purged %llu, unmapped %llu, dirty %llu\n",
         u(s.arena.segments_carved), u(s.arena.segments_reused), u(s.arena.segments_purged),
         u(s.arena.segments_unmapped), u(s.arena.dirty));
  p.line("  threads               heaps created %llu, segments abandoned %llu, adopted %llu\n",
         u(s.heaps_created), u(s.segments_abandoned), u(s.segments_adopted));
  p.line("  memory                reserved %llu MiB, committed %llu MiB, peak committed %llu MiB, peak RSS %llu MiB\n",
         mib(s.memory.reserved), mib(s.memory.committed), mib(s.memory.peak_committed),
         u(s.peak_rss_kib >> 10));
}

namespace {
// TINYALLOC_SHOW_STATS=1: print at exit.  A destructor function, not atexit(),
// which may allocate.
__attribute__((destructor)) void print_stats_at_exit() {
  if (detail::g_state.load(std::memory_order_acquire) == 2 && detail::g_globals->options.show_stats)
    stats_print(detail::g_globals->stats_fd);
}
}  // namespace

}  // namespace tinyalloc
