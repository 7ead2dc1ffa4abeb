// One home for giving memory back to the OS.
//
// Four kinds of idle memory wait for the purge delay (TINYALLOC_PURGE_DELAY_MS):
// empty segments in the arena's dirty pools, resident mappings in the large
// cache, heaps of exited threads that no new thread took (parked; their
// segments are then given away), and segments of exited threads whose blocks
// have all been freed by other threads (abandoned, so no owner notices).
// purge_due() returns what is due of all four.
//
// Who calls it, so memory goes back even when the program goes quiet:
//   - by default a background thread ("tinyalloc-purge"), started when
//     something starts waiting and no purger runs, sleeping until the next
//     due time, and exiting as soon as nothing waits.  It never exists while
//     nothing is pending, has every signal blocked, and is not inherited by
//     fork()'s child (which starts its own when it needs one).
//   - with TINYALLOC_PURGE_THREAD=0, or if the thread cannot be created,
//     every allocator call that reaches a slow path while something waits.
//
// A thread is never started in the middle of a slow path (pthread_create may
// call malloc): purge_soon() only notes the need, and the public entry points
// call purge_at_safe_point() on their way out, with every structure consistent.
#pragma once

#include <atomic>
#include <cstdint>

namespace tinyalloc::detail {

struct Globals;

extern std::atomic<bool> g_purge_wanted;

/// Something started waiting for its purge delay.
void purge_soon() noexcept;
/// Another thread freed into an abandoned segment: it may now be empty.
void note_abandoned_free() noexcept;
/// Return what is due now (all of it if `force`).
void purge_due(Globals& g, std::uint64_t now_ms, bool force = false) noexcept;
/// In fork()'s child: no purge thread exists there.
void purge_after_fork() noexcept;

void purge_wanted_slow() noexcept;
/// On the way out of a slow path: start the purger, or (without one) purge.
inline void purge_at_safe_point() noexcept {
  if (__builtin_expect(g_purge_wanted.load(std::memory_order_relaxed), 0)) purge_wanted_slow();
}

}  // namespace tinyalloc::detail
