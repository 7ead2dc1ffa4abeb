#include "globals.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
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

// ---- the large strategy table ------------------------------------------------

template <class S>
large::LargeAllocator<S>& large_instance() noexcept;
template <>
large::LargeAllocator<large::DirectMap>& large_instance() noexcept { return g_globals->direct; }
template <>
large::LargeAllocator<large::CachedMap>& large_instance() noexcept { return g_globals->cached; }

// TINYALLOC_VERBOSE reports each of these events the first time it happens:
// enough to explain a NULL or a slow realloc, never a flood.
std::atomic<bool> g_said_no_memory{false}, g_said_copy{false};

bool first_time(std::atomic<bool>& said) noexcept {
  return g_globals->options.verbose && !said.load(std::memory_order_relaxed) &&
         !said.exchange(true, std::memory_order_relaxed);
}

template <class S>
LargeOps large_ops(const char* name) noexcept {
  return LargeOps{
      [](std::size_t n, std::size_t a) noexcept {
        void* p = large_instance<S>().allocate(n, a);
        if (p == nullptr && first_time(g_said_no_memory))
          say("out of memory: a large block of %zu bytes (alignment %zu) could not be mapped; "
              "returning NULL with ENOMEM (reported once)", n, a);
        return p;
      },
      [](void* p) noexcept { large_instance<S>().deallocate(p); },
      [](void* p, std::size_t n) noexcept {
        void* q = large_instance<S>().resize(p, n);
        if (q == nullptr && first_time(g_said_copy))
          say("realloc of a large block to %zu bytes could not keep or move its pages "
              "(over-aligned, or mremap failed): copying instead (reported once)", n);
        return q;
      },
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

void say(const char* fmt, ...) noexcept {
  static constexpr char kPrefix[] = "tinyalloc: ";
  constexpr std::size_t kLen = sizeof kPrefix - 1;
  const int saved_errno = errno;  // callers report failures whose errno must survive
  char buf[512];
  std::memcpy(buf, kPrefix, kLen);
  std::va_list args;
  va_start(args, fmt);
  const int body = std::vsnprintf(buf + kLen, sizeof buf - kLen - 1, fmt, args);  // keep a byte for '\n'
  va_end(args);
  if (body >= 0) {
    std::size_t n = kLen + std::min(static_cast<std::size_t>(body), sizeof buf - kLen - 2);
    buf[n++] = '\n';
    write_all(2, buf, n);
  }
  errno = saved_errno;
}

void warn(const char* msg, const char* detail) noexcept { say("%s%s", msg, detail ? detail : ""); }

Globals& init_globals() noexcept {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    const Options o = options_from_environment(g_pending_set ? g_pending : Options{});
    g_globals = ::new (static_cast<void*>(g_storage)) Globals(o);
    g_globals->large = o.large == LargeStrategy::Direct
                           ? large_ops<large::DirectMap>("direct")
                           : large_ops<large::CachedMap>("cached");
    if (o.verbose) say_options(o, g_pending_set);
    if (o.show_stats) {
      const int fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
      if (fd >= 0) {
        g_globals->stats_fd = fd;
      } else if (o.verbose) {
        say("TINYALLOC_SHOW_STATS: could not duplicate stderr; the table goes to fd 2 if it is still open");
      }
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
  if (detail::g_state.load(std::memory_order_acquire) != 0) {
    if (detail::globals().options.verbose)
      detail::say("set_options() ignored: the allocator is already running (call it before the first allocation)");
    return false;
  }
  detail::g_pending = o;
  detail::g_pending_set = true;
  return true;
}

const Options& options() noexcept { return detail::globals().options; }

}  // namespace tinyalloc
