// Free blocks, their encoded links, and the process secret the codes and the
// header cookies derive from.
#pragma once

#include <cstdint>

#include "tinyalloc/segment/config.hpp"

namespace tinyalloc {

/// A secret drawn once per process (region::random_u64), never 0.
std::uint64_t process_secret() noexcept;
/// The cookie a tinyalloc header at `header` carries.
std::uint32_t header_cookie(const void* header) noexcept;
/// A per-segment key for LinkCodec.
std::uintptr_t link_key(const void* segment) noexcept;

/// A free block: the link to the next free block lives inside the block,
/// encoded (LinkCodec), so a use-after-free write of a chosen address decodes
/// to garbage, which the pop check refuses instead of handing it out.
struct Block {
  std::uintptr_t link;
};

/// Per-segment key for free-list links (the idea of mimalloc's encoded free
/// list, in its cheapest form: one XOR each way).  The key derives from the
/// process secret and the segment's address, so a program that writes an
/// address into a freed block without first reading one out cannot choose
/// where the list leads; the pop check then refuses the garbage.
struct LinkCodec {
  std::uintptr_t key = 0;
  std::uintptr_t encode(const Block* next) const noexcept {
    return reinterpret_cast<std::uintptr_t>(next) ^ (kHardened ? key : 0);
  }
  Block* decode(std::uintptr_t link) const noexcept { return reinterpret_cast<Block*>(link ^ (kHardened ? key : 0)); }
};

}  // namespace tinyalloc
