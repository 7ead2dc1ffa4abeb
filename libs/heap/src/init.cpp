// Building the process-wide state at the first allocation, and the options.
#include <new>

#include "globals.hpp"

namespace tinyalloc::detail {

std::atomic<int> g_state{0};
Globals* g_globals = nullptr;

namespace {

alignas(64) unsigned char g_storage[sizeof(Globals)];
constinit Options g_pending{};
bool g_pending_set = false;

LargePath* make_large_path(Globals& g, const Options& o) noexcept {
  void* at = g.large_storage;
  switch (o.large) {
    case LargeStrategy::Direct:
      return ::new (at) LargePathOf<large::DirectMap>("direct");
    case LargeStrategy::Slots:
      return ::new (at) LargePathOf<large::CachedMap>("slots", o.large_cache);
    case LargeStrategy::Regions:
      break;
  }
  return ::new (at) LargePathOf<large::RegionCache>("regions", o.large_cache);
}

constinit region::Lock g_init_lock;

void build_globals() noexcept {
  const Options o = options_from_environment(g_pending_set ? g_pending : Options{});
  g_globals = ::new (static_cast<void*>(g_storage)) Globals(o);
  g_globals->large = make_large_path(*g_globals, o);
  if (o.verbose) say_options(o, g_pending_set);
  if (o.show_stats) {
    const int fd = region::duplicate_fd(2);
    if (fd >= 0) {
      g_globals->stats_fd = fd;
    } else if (o.verbose) {
      say("TINYALLOC_SHOW_STATS: could not duplicate stderr; the table goes to fd 2 if it is still open");
    }
  }
  create_thread_exit_key(*g_globals);
}

}  // namespace

Globals& init_globals() noexcept {
  bool built_here = false;
  {
    // One thread builds; any other arriving meanwhile sleeps on the lock (a
    // futex) until it is done.  Nothing below allocates, so the builder never
    // comes back here.
    region::LockGuard guard(g_init_lock);
    if (g_state.load(std::memory_order_relaxed) == 0) {
      g_state.store(1, std::memory_order_relaxed);
      build_globals();
      g_state.store(2, std::memory_order_release);
      built_here = true;
    }
  }
  if (built_here) install_fork_handlers();  // may allocate: only now that malloc works
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
