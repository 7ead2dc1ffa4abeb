// Scratch memory for batch jobs from tinyalloc's region and arena layers.
//
//   region — a 4 GiB sparse table: reserving it costs address space only;
//            pages become resident when touched and go back on decommit.
//   arena  — each job borrows 256 KiB segments and returns them when done;
//            the next job gets the same warm segments back (no syscall), and
//            segments idle past the purge delay are decommitted.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "tinyalloc/arena.hpp"
#include "tinyalloc/region.hpp"

using namespace tinyalloc;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr unsigned kScratch = 0;  // the arena pools segments by a "class" tag: one tag is enough here

/// One job: borrow `segments` segments, write to them, hand them back.
bool job(Arena& arena, int segments, int id) {
  std::vector<Segment*> held;
  for (int i = 0; i < segments; ++i) {
    const Arena::Grant g = arena.acquire(kScratch);
    if (g.memory == nullptr) return false;
    // The arena keeps its bookkeeping in a segment header at the start.
    Segment* s = Segment::create(g.memory, kScratch, 64, g.zero);
    std::memset(s->first_block(), id, kSegmentSize - kFirstBlock);
    held.push_back(s);
  }
  bool intact = true;
  for (Segment* s : held) intact = intact && s->first_block()[kSegmentSize - kFirstBlock - 1] == static_cast<char>(id);
  for (Segment* s : held) arena.release(s, region::now_ms());
  return intact;
}

}  // namespace

int main() {
  // A sparse table: 4 GiB reserved, three pages touched.
  const std::size_t table_bytes = 4096 * MiB;
  auto* table = static_cast<char*>(region::reserve(table_bytes, 0));
  if (table == nullptr) return 1;
  region::commit(table, table_bytes);
  for (std::size_t at : {std::size_t{0}, table_bytes / 2, table_bytes - 1}) table[at] = 1;
  if (!region::decommit(table, table_bytes) || !region::release(table, table_bytes)) return 1;

  Arena arena(ArenaOptions{.purge_delay_ms = 20});
  bool ok = true;
  for (int id = 1; id <= 10; ++id) ok = job(arena, 8, id) && ok;
  const ArenaCounters warm = arena.counters();
  std::printf("after 10 jobs of 8 segments: carved %zu, reused %zu, idle resident %zu\n", warm.segments_carved,
              warm.segments_reused, warm.dirty);

  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  arena.purge(region::now_ms());
  const ArenaCounters idle = arena.counters();
  const region::Counters mem = region::counters();
  std::printf("after the purge delay: purged %zu, idle resident %zu, decommitted clean %zu\n", idle.segments_purged,
              idle.dirty, idle.clean);
  std::printf("region: reserved %zu MiB, committed %zu MiB, peak committed %zu MiB\n", mem.reserved / MiB,
              mem.committed / MiB, mem.peak_committed / MiB);

  // Only the first job needed new segments; later ones reused them, and
  // the purge gave every idle one back.
  ok = ok && warm.segments_carved == 8 && warm.segments_reused == 72 && idle.segments_purged == 8 && idle.dirty == 0;
  std::puts(ok ? "region_arena: ok" : "region_arena: FAILED");
  return ok ? 0 : 1;
}
