// Process-wide state of the full allocator, built at the first allocation.
//
// It lives in static storage and is constructed in place on first use (not by
// a C++ static constructor), because malloc is called before main, by the
// dynamic loader and by other libraries' constructors, in any order.
#pragma once

#include <pthread.h>

#include "abandoned.hpp"
#include "heap_pool.hpp"
#include "large_path.hpp"
#include "log.hpp"
#include "tinyalloc/heap.hpp"

// Per-class counters on the malloc fast path (CMake option TINYALLOC_STATS,
// which defines it for every user of tinyalloc::heap); on unless built off.
#ifndef TINYALLOC_STATS
#define TINYALLOC_STATS 1
#endif

namespace tinyalloc::detail {

/// Room for whichever strategy is in force (make_large_path in init.cpp).
inline constexpr std::size_t kLargePathSize = [] {
  std::size_t n = sizeof(LargePathOf<large::DirectMap>);
  if (sizeof(LargePathOf<large::CachedMap>) > n) n = sizeof(LargePathOf<large::CachedMap>);
  if (sizeof(LargePathOf<large::RegionCache>) > n) n = sizeof(LargePathOf<large::RegionCache>);
  return n;
}();
static_assert(alignof(LargePathOf<large::RegionCache>) <= 64 && alignof(LargePathOf<large::CachedMap>) <= 64);

struct Globals {
  explicit Globals(const Options& o) noexcept : options(o), arena(o.arena) {}

  Options options;
  Arena arena;
  LargePath* large = nullptr;  ///< the strategy in force, in large_storage
  alignas(64) unsigned char large_storage[kLargePathSize];
  HeapPool heaps;
  AbandonedSegments abandoned;
  pthread_key_t thread_exit_key{};
  /// Where TINYALLOC_SHOW_STATS prints at exit: a duplicate of stderr taken at
  /// start-up, because programs such as sort close fd 2 in their exit handler.
  int stats_fd = 2;
};

Globals& init_globals() noexcept;

extern std::atomic<int> g_state;  // 0 = not built, 1 = building, 2 = ready
extern Globals* g_globals;

inline Globals& globals() noexcept {
  if (__builtin_expect(g_state.load(std::memory_order_acquire) == 2, 1)) return *g_globals;
  return init_globals();
}

/// `o` with every TINYALLOC_* variable of the environment applied; a
/// malformed value is reported and leaves its field as it was (options.cpp).
Options options_from_environment(Options o) noexcept;
/// TINYALLOC_VERBOSE: the options in force, one line.
void say_options(const Options& o, bool from_code) noexcept;

/// A large block; on failure, returns the arena's pooled address space to
/// the OS and tries once more.  nullptr with errno = ENOMEM.
void* large_allocate(Globals& g, std::size_t size, std::size_t alignment) noexcept;

/// A thread exits (pthread key destructor): park its heap for the next one.
void heap_exit(Heap* h) noexcept;
/// Give the segments of a heap no thread uses away (abandon the ones with
/// live blocks, release the rest) and recycle its storage.  By whoever took
/// it from the parked list.
void heap_dismantle(Globals& g, Heap* h) noexcept;
/// Return h's empty segments (kept as each class's current one) to the arena.
void heap_release_empty(Heap* h) noexcept;
/// The pthread key whose destructor hands an exiting thread's heap over
/// (before the state is published: heaps register with it).
void create_thread_exit_key(Globals& g) noexcept;
/// The fork handlers (after the state is published: registering allocates).
void install_fork_handlers() noexcept;

}  // namespace tinyalloc::detail
