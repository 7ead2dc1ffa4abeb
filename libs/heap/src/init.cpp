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

}  // namespace

Globals& init_globals() noexcept {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
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
    g_state.store(2, std::memory_order_release);
    install_fork_handlers();  // may allocate: only now that malloc works
  } else {
    // Another thread is building (a few microseconds, or it is this thread
    // re-entering from getenv: impossible, nothing above allocates).
    while (g_state.load(std::memory_order_acquire) != 2) region::sleep_ms(0);
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
