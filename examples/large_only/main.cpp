// A pool of big I/O buffers built on tinyalloc's large-block layer alone.
//
// The mapping strategy is a template parameter: the same workload runs with
// DirectMap (every buffer is a fresh mmap, given back at once), CachedMap
// (freed mappings are recycled; the kernel is visited on a miss) and
// RegionCache (free ranges of big reservations, split and merged: a buffer
// grows into the free range after it, without a system call).
#include <chrono>
#include <cstdio>
#include <cstring>

#include "tinyalloc/large.hpp"

using namespace tinyalloc::large;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

struct Outcome {
  double ms;
  bool intact;
};

/// Fill, grow and release buffers of 1-4 MiB, 200 rounds.
template <class Strategy>
Outcome run(LargeAllocator<Strategy>& buffers) {
  const auto start = std::chrono::steady_clock::now();
  bool intact = true;
  for (int round = 0; round < 200; ++round) {
    const std::size_t size = (1 + round % 4) * MiB;
    auto* b = static_cast<unsigned char*>(buffers.allocate(size));
    if (b == nullptr) return {0, false};
    std::memset(b, round & 0xff, 4096);  // touch the first page only, like a short read
    // Grow it: resize keeps or moves the pages (mremap), never copies them.
    void* grown = buffers.resize(b, size + MiB);
    if (grown != nullptr) b = static_cast<unsigned char*>(grown);
    intact = intact && b[0] == (round & 0xff) && b[4095] == (round & 0xff);
    buffers.deallocate(b);
  }
  return {std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(), intact};
}

void report(const char* name, const Outcome& o, const LargeCounters& c) {
  std::printf("%-11s %7.2f ms  allocations %zu, frees %zu, resized in place %zu, moved %zu, data %s\n", name, o.ms,
              c.allocations, c.frees, c.in_place_resizes, c.moved_resizes, o.intact ? "intact" : "CORRUPTED");
}

}  // namespace

int main() {
  LargeAllocator<DirectMap> direct;
  const Outcome d = run(direct);
  report("DirectMap", d, direct.counters());

  LargeAllocator<CachedMap> cached(CacheOptions{.max_bytes = 32 * MiB, .purge_delay_ms = 50});
  const Outcome c = run(cached);
  report("CachedMap", c, cached.counters());
  const CacheCounters cc = cached.cache_counters();
  std::printf("CachedMap cache: hits %zu, misses %zu, evictions %zu\n", cc.hits, cc.misses, cc.evictions);

  LargeAllocator<RegionCache> regions(CacheOptions{.max_bytes = 32 * MiB, .purge_delay_ms = 50});
  const Outcome r = run(regions);
  report("RegionCache", r, regions.counters());
  const CacheCounters rc = regions.cache_counters();
  std::printf("RegionCache cache: hits %zu (clean %zu), misses %zu, splits %zu, merges %zu\n", rc.hits, rc.clean_hits,
              rc.misses, rc.splits, rc.merges);

  // The caches must have served most buffers; every strategy keeps the data.
  const bool ok = d.intact && c.intact && r.intact && cc.hits > cc.misses && rc.hits > rc.misses &&
                  direct.counters().frees == 200 &&
                  regions.counters().in_place_resizes > regions.counters().moved_resizes;
  std::puts(ok ? "large_only: ok" : "large_only: FAILED");
  return ok ? 0 : 1;
}
