// tinyalloc::large — blocks above the largest size class.
//
// Layer 3: depends on tinyalloc::region (mappings) and tinyalloc::segment
// (the header mask).  Independent of arena and queue.
//
// A large block is a mapping (DirectMap, CachedMap) or a range of one
// (RegionCache), aligned to (at least) kSegmentSize, with a LargeHeader where
// Segment::header_of(user pointer) lands:
//
//   base (>= 256 KiB aligned)                user = base + offset
//   | LargeHeader | pad to offset |  user bytes ...  | rest of the pages |
//
//   offset = max(64, alignment).  For alignment > kSegmentSize the mapping is
//   aligned to `alignment`, user = base + alignment, and the header sits one
//   segment below the user pointer (header_of masks p-1).
//
// So free() finds a large block's header in O(1) by the same mask as a small
// block's segment, and `kind == Large` tells them apart.
//
// Where mappings come from is a policy (Scudo-style), a type that satisfies
// the MappingStrategy concept below, chosen as a template parameter by a user
// of this library alone, or at start-up by the full allocator
// (TINYALLOC_LARGE):
//   DirectMap — map on allocate, unmap on free.  No memory kept; a syscall
//               pair per block.
//   CachedMap — a bounded cache of recently freed mappings, reused by size;
//               the kernel is visited only on a miss.  Entries idle longer than
//               the purge delay are decommitted (kept as address space, read as
//               zero); above the byte budget the oldest are decommitted, and when
//               every slot is taken the oldest is unmapped.  No system call is
//               made under its lock.  (TINYALLOC_LARGE=slots, kept for ablation.)
//   RegionCache — address space reserved in big chunks and managed as free
//               ranges: a request is carved from the best-fitting range (split),
//               a freed range merges with free neighbours (coalesce), freed
//               memory stays resident and decays back to the OS over the purge
//               delay (jemalloc-style), clean ranges are unmapped after long
//               idleness.  The default of the full allocator (`regions`); see
//               the RegionCache class comment.
//
// A strategy may also recycle parts of a block (the RecyclesRanges concept,
// which RegionCache satisfies): resize then grows a block into the free range
// right after it and gives a shrunk block's tail back as a freed range.
//
// The pieces, one concept a file: large/contract.hpp (LargeHeader, Mapping,
// the concepts, the header helpers), large/direct_map.hpp,
// large/cached_map.hpp, large/region_cache.hpp, large/allocator.hpp.
#pragma once

#include "tinyalloc/large/allocator.hpp"
#include "tinyalloc/large/cached_map.hpp"
#include "tinyalloc/large/contract.hpp"
#include "tinyalloc/large/direct_map.hpp"
#include "tinyalloc/large/region_cache.hpp"
