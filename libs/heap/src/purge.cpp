// Giving memory back: see purge.hpp.
#include "purge.hpp"

#include "globals.hpp"
#include "heap_internal.hpp"

namespace tinyalloc::detail {

std::atomic<bool> g_purge_wanted{false};

namespace {

constexpr std::uint64_t kNever = ~std::uint64_t{0};

std::atomic<bool> g_purger_running{false};
std::atomic<bool> g_thread_failed{false};  ///< creating the thread failed once: purge on calls
std::atomic<bool> g_abandoned_frees{false};
std::atomic<bool> g_said_thread{false}, g_said_failed_call{false};

bool use_thread(const Globals& g) noexcept {
  return g.options.purge_thread && !g_thread_failed.load(std::memory_order_relaxed);
}

/// The earliest time anything is due (kNever: nothing waits).
std::uint64_t next_due(Globals& g, std::uint64_t now) noexcept {
  std::uint64_t due = g.arena.next_purge_ms();
  const std::uint64_t large_due = g.large->next_purge_ms();
  if (large_due < due) due = large_due;
  const std::uint64_t parked = g.heaps.oldest_parked_ms();
  if (parked != kNever && parked + g.options.arena.purge_delay_ms < due) due = parked + g.options.arena.purge_delay_ms;
  if (g_abandoned_frees.load(std::memory_order_relaxed) && now < due) due = now;
  return due;
}

/// Segments of exited threads that other threads emptied go back to the
/// arena.  Each is visited once per call: popped, checked, and the ones still
/// in use pushed back after the walk.
void reclaim_abandoned(Globals& g, bool force) noexcept {
  if (!g_abandoned_frees.exchange(false, std::memory_order_acq_rel) && !force) return;
  SegmentList keep;
  const std::uint64_t now = region::now_ms();
  while (Segment* s = g.abandoned.pop()) {
    if (s->all_returned()) {
      retire_segment(g, s, now);
    } else {
      keep.push_back(*s);
    }
  }
  while (!keep.empty()) {
    Segment& s = keep.front();
    keep.pop_front();
    g.abandoned.push(&s);
  }
}

void report_failed_calls() noexcept {
  const std::size_t failed = region::counters().failed_calls;
  if (failed != 0 && first_time(g_said_failed_call))
    say("the kernel refused %zu munmap/madvise/mremap call(s) (vm.max_map_count?); the memory stays "
        "with tinyalloc and is retried at the next purge (reported once)",
        failed);
}

void* purger_main(void*) {
  region::name_this_thread("tinyalloc-purge");  // a name is a courtesy: a refusal changes nothing
  Globals& g = *g_globals;
  for (;;) {
    std::uint64_t now = region::now_ms();
    purge_due(g, now);
    if (next_due(g, now) == kNever) {
      g_purger_running.store(false, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      // Something may have started waiting after the check above and seen
      // this thread still running: look again before leaving.
      if (next_due(g, region::now_ms()) == kNever || g_purger_running.exchange(true)) return nullptr;
      continue;
    }
    now = region::now_ms();
    const std::uint64_t due = next_due(g, now);
    region::sleep_ms(due > now ? due - now + 1 : 1);
  }
}

}  // namespace

void purge_soon() noexcept {
  if (next_due(*g_globals, 0) == kNever) return;        // e.g. the direct strategy keeps nothing
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with purger_main's exit check
  if (!g_purger_running.load(std::memory_order_relaxed)) g_purge_wanted.store(true, std::memory_order_relaxed);
}

void note_abandoned_free() noexcept {
  if (g_abandoned_frees.load(std::memory_order_relaxed)) return;
  g_abandoned_frees.store(true, std::memory_order_release);
  purge_soon();
}

void purge_due(Globals& g, std::uint64_t now_ms, bool force) noexcept {
  // Heaps no thread took within the purge delay give their segments away.
  const std::uint64_t delay = g.options.arena.purge_delay_ms;
  const std::uint64_t parked_before = force ? kNever : now_ms >= delay ? now_ms - delay : 0;
  while (Heap* h = g.heaps.take_idle(parked_before)) heap_dismantle(g, h);
  reclaim_abandoned(g, force);
  g.arena.purge(now_ms, force);
  g.large->purge(now_ms, force);
  report_failed_calls();
}

void purge_wanted_slow() noexcept {
  Globals& g = globals();
  if (use_thread(g)) {
    g_purge_wanted.store(false, std::memory_order_relaxed);
    if (g_purger_running.exchange(true, std::memory_order_acq_rel)) return;  // one runs already
    if (region::start_thread(&purger_main, nullptr)) return;
    g_purger_running.store(false, std::memory_order_relaxed);
    g_thread_failed.store(true, std::memory_order_relaxed);
    if (first_time(g_said_thread))
      say("could not start the purge thread; idle memory is returned by later allocator calls instead (reported once)");
  }
  // No thread: purge what is due now, and keep asking while anything waits.
  const std::uint64_t now = region::now_ms();
  purge_due(g, now);
  g_purge_wanted.store(next_due(g, now) != kNever, std::memory_order_relaxed);
}

void purge_after_fork() noexcept {
  g_purger_running.store(false, std::memory_order_relaxed);
  g_purge_wanted.store(next_due(*g_globals, region::now_ms()) != kNever, std::memory_order_relaxed);
}

}  // namespace tinyalloc::detail

namespace tinyalloc {

bool trim() noexcept {
  detail::Globals& g = detail::globals();
  const region::Counters before = region::counters();
  if (detail::tl_heap != &detail::g_empty_heap) detail::heap_release_empty(static_cast<Heap*>(detail::tl_heap));
  detail::purge_due(g, region::now_ms(), /*force=*/true);
  g.arena.trim();
  g.large->flush();
  const region::Counters after = region::counters();
  return after.committed < before.committed || after.reserved < before.reserved;
}

}  // namespace tinyalloc
