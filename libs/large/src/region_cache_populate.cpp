// RegionCache's pre-faulting (CacheOptions::populate): when the program has
// been writing its large blocks whole, the decommitted pages of the next block
// are made resident in one system call instead of faulting in one by one.
//
// Why: a page fault costs about twice what MADV_POPULATE_WRITE costs per page
// (measured on this project's machines: 64 MiB faulted by memset in 32.5 ms,
// populated then written in 19 ms), and a block of many MiB that the program
// fills takes thousands of faults.  But a block the program touches sparsely
// (a big calloc'd table, a reserve() never filled) would become resident
// whole, so the cache populates only what the program's own recent blocks say
// it will write: before decommitting a free range, it asks the kernel
// (mincore) how much of it was resident, and keeps that share, by bytes, over
// the last ~kUseWindow bytes decommitted.  It populates blocks of up to
// kPopulateMax only: a program whose early blocks were written whole and
// whose later ones are not pays at most that much of unwanted memory a block
// until its next decommits teach the cache otherwise.  (Waiting for 16 MiB of
// evidence first instead of one range cut the gain on bench large_churn from
// 15% to 8%: PERF_FINDINGS.md.)  Populating is advisory: a refusal (an
// old kernel, memory short) leaves the pages to fault in as before.
#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

namespace {
constexpr std::size_t kPiece = std::size_t{4} << 20;  // bytes asked about at a time
constexpr std::size_t kPieces = 4;                    // at most, spread over a range
}  // namespace

// Outside the lock: how much of `n` (about to be decommitted) is resident.
// Ranges of up to kPieces x kPiece whole, longer ones by kPieces pieces
// spread over them, so one system call or four tell it.
void RegionCache::sample_use(const FreeRange& n, UseSample& s) noexcept {
  const std::size_t page = region::page_size();
  const std::size_t step = n.size <= kPiece * kPieces ? kPiece : n.size / kPieces / page * page;
  for (std::size_t off = 0, k = 0; off < n.size && k < kPieces; off += step, ++k) {
    const std::size_t len = n.size - off < kPiece ? n.size - off : kPiece;
    std::size_t resident = 0;
    if (!region::resident_bytes(n.base + off, len, resident)) return;  // unknown: not counted
    s.seen += len;
    s.resident += resident;
  }
}

void RegionCache::note_use(const UseSample& s) noexcept {
  use_seen_ += s.seen;
  use_resident_ += s.resident;
  while (use_seen_ > kUseWindow) {  // older ranges weigh half as much
    use_seen_ /= 2;
    use_resident_ /= 2;
  }
}

bool RegionCache::blocks_written_whole() const noexcept {
  return options_.populate && use_seen_ != 0 && use_resident_ >= use_seen_ / 8 * 7;
}

// Outside the lock: the decommitted part [clean, clean + clean_bytes) of a
// block whose pages are [base, base + pages).
void RegionCache::populate_outside_lock(char* base, std::size_t pages, char* clean, std::size_t clean_bytes) noexcept {
  if (pages > kPopulateMax) return;
  char* const end = clean + clean_bytes < base + pages ? clean + clean_bytes : base + pages;
  if (end <= clean) return;
  const auto n = static_cast<std::size_t>(end - clean);
  if (region::populate(clean, n)) populated_.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace tinyalloc::large
