// Support for the glibc-only entry points of the override (malloc_trim).
// Only strings together what the arena and the large cache already offer;
// see trim() in tinyalloc/heap.hpp.
#include "globals.hpp"

namespace tinyalloc {

bool trim() noexcept {
  detail::Globals& g = detail::globals();
  const region::Counters before = region::counters();
  const std::uint64_t now = region::now_ms();
  g.arena.purge(now, /*force=*/true);  // decommit every empty segment
  g.arena.trim();                      // unmap the purged ones
  g.cached.strategy().purge(now, /*force=*/true);
  g.cached.strategy().flush();  // unmap every cached large mapping
  const region::Counters after = region::counters();
  return after.committed < before.committed || after.reserved < before.reserved;
}

}  // namespace tinyalloc
