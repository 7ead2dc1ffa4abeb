#include "globals.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <unistd.h>

namespace tinyalloc::detail {

std::atomic<int> g_state{0};
Globals* g_globals = nullptr;

namespace {

alignas(64) unsigned char g_storage[sizeof(Globals)];
constinit Options g_pending{};
bool g_pending_set = false;

void write_all(int fd, const char* s, std::size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// ---- options ---------------------------------------------------------------

bool parse_uint(const char* s, std::uint64_t& out) noexcept {
  if (s == nullptr || *s == '\0') return false;
  std::uint64_t v = 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
    if (v > (~std::uint64_t{0} - 9) / 10) return false;
    v = v * 10 + static_cast<std::uint64_t>(*s - '0');
  }
  out = v;
  return true;
}

template <class T>
void env_uint(const char* name, T& field) noexcept {
  const char* v = ::getenv(name);
  if (v == nullptr) return;
  std::uint64_t parsed;
  if (parse_uint(v, parsed)) {
    field = static_cast<T>(parsed);
  } else {
    warn("ignoring malformed value (not a non-negative integer), using the default: ", name);
  }
}

void env_bool(const char* name, bool& field) noexcept {
  const char* v = ::getenv(name);
  if (v == nullptr) return;
  if (std::strcmp(v, "1") == 0 || std::strcmp(v, "true") == 0 || std::strcmp(v, "yes") == 0) {
    field = true;
  } else if (std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "no") == 0) {
    field = false;
  } else {
    warn("ignoring malformed value (expected 0/1), using the default: ", name);
  }
}

Options options_from_environment(Options o) noexcept {
  if (const char* v = ::getenv("TINYALLOC_LARGE")) {
    if (std::strcmp(v, "direct") == 0) {
      o.large = LargeStrategy::Direct;
    } else if (std::strcmp(v, "cached") == 0) {
      o.large = LargeStrategy::Cached;
    } else {
      warn("TINYALLOC_LARGE must be 'direct' or 'cached'; using the default 'cached'");
      o.large = LargeStrategy::Cached;
    }
  }
  std::size_t cache_mib = o.large_cache.max_bytes >> 20;
  env_uint("TINYALLOC_LARGE_CACHE_MB", cache_mib);
  o.large_cache.max_bytes = cache_mib << 20;
  env_uint("TINYALLOC_PURGE_DELAY_MS", o.arena.purge_delay_ms);
  o.large_cache.purge_delay_ms = o.arena.purge_delay_ms;
  env_bool("TINYALLOC_EAGER_COMMIT", o.arena.prefault);
  env_bool("TINYALLOC_SHOW_STATS", o.show_stats);
  return o;
}

// ---- the large strategy table ------------------------------------------------

template <class S>
large::LargeAllocator<S>& large_instance() noexcept;
template <>
large::LargeAllocator<large::DirectMap>& large_instance() noexcept { return g_globals->direct; }
template <>
large::LargeAllocator<large::CachedMap>& large_instance() noexcept { return g_globals->cached; }

template <class S>
LargeOps large_ops(const char* name) noexcept {
  return LargeOps{
      [](std::size_t n, std::size_t a) noexcept { return large_instance<S>().allocate(n, a); },
      [](void* p) noexcept { large_instance<S>().deallocate(p); },
      [](void* p, std::size_t n) noexcept { return large_instance<S>().resize(p, n); },
      []() noexcept { return large_instance<S>().counters(); },
      name};
}

// ---- fork: take every lock in a fixed order, release in parent and child -----

void fork_prepare() noexcept {
  Globals& g = *g_globals;
  g.heaps.lock().lock();
  g.abandoned.lock().lock();
  g.arena.lock();
  g.cached.strategy().lock();
}
void fork_release() noexcept {
  Globals& g = *g_globals;
  g.cached.strategy().unlock();
  g.arena.unlock();
  g.abandoned.lock().unlock();
  g.heaps.lock().unlock();
}

void thread_exit(void* heap) noexcept {
  heap_abandon(static_cast<Heap*>(heap));
}

}  // namespace

void warn(const char* msg, const char* detail) noexcept {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "tinyalloc: %s%s\n", msg, detail ? detail : "");
  if (n > 0) write_all(2, buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1);
}

Globals& init_globals() noexcept {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    const Options o = options_from_environment(g_pending_set ? g_pending : Options{});
    g_globals = ::new (static_cast<void*>(g_storage)) Globals(o);
    g_globals->large = o.large == LargeStrategy::Direct
                           ? large_ops<large::DirectMap>("direct")
                           : large_ops<large::CachedMap>("cached");
    if (o.show_stats) {
      const int fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
      if (fd >= 0) g_globals->stats_fd = fd;
    }
    if (::pthread_key_create(&g_globals->thread_exit_key, &thread_exit) != 0)
      warn("pthread_key_create failed: exiting threads will keep their memory");
    g_state.store(2, std::memory_order_release);
    // May allocate: only now that malloc works.
    ::pthread_atfork(&fork_prepare, &fork_release, &fork_release);
  } else {
    while (g_state.load(std::memory_order_acquire) != 2) _mm_pause();
  }
  return *g_globals;
}

}  // namespace tinyalloc::detail

namespace tinyalloc {

bool set_options(const Options& o) noexcept {
  if (detail::g_state.load(std::memory_order_acquire) != 0) return false;
  detail::g_pending = o;
  detail::g_pending_set = true;
  return true;
}

const Options& options() noexcept { return detail::globals().options; }

}  // namespace tinyalloc
