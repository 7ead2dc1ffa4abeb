// Canaries: a word right after the bytes a medium or large block was asked
// for, written when the block is handed out and checked when it comes back
// (free, realloc, malloc_usable_size), so a write past the end of the block,
// by one byte or many, is caught at the latest when the block is freed.
// Hardened builds (kCanaries); small blocks have none (see README "Misuse").
//
// The word derives from the process secret and the block's address, with no
// zero byte (a string's terminator written one past the end changes it).
// Where fewer than 8 bytes are left before the end of the block's memory,
// the canary is that many bytes; where none are, the block has none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tinyalloc/segment.hpp"

namespace tinyalloc::detail {

inline std::uint64_t canary_word(const void* p) noexcept { return link_key(p) | 0x0101010101010101ULL; }

inline std::size_t canary_bytes(const char* at, const char* end) noexcept {
  const auto room = static_cast<std::size_t>(end - at);
  return room < sizeof(std::uint64_t) ? room : sizeof(std::uint64_t);
}

/// Write p's canary at p + n (the block's memory ends at `end`).  Whole
/// words and bytes, never a library call (glibc's memcmp/memcpy for a few
/// bytes cost more than the rest of a medium free).
inline void canary_write(void* p, std::size_t n, const char* end) noexcept {
  char* at = static_cast<char*>(p) + n;
  const std::uint64_t w = canary_word(p);
  const std::size_t k = canary_bytes(at, end);
  if (k == sizeof w) {
    std::memcpy(at, &w, sizeof w);
    return;
  }
  for (std::size_t i = 0; i < k; ++i) at[i] = static_cast<char>(w >> (8 * i));
}

/// p's canary at p + n is as canary_write left it.
inline bool canary_intact(const void* p, std::size_t n, const char* end) noexcept {
  const char* at = static_cast<const char*>(p) + n;
  const std::uint64_t w = canary_word(p);
  const std::size_t k = canary_bytes(at, end);
  if (k == sizeof w) {
    std::uint64_t v;
    std::memcpy(&v, at, sizeof v);
    return v == w;
  }
  for (std::size_t i = 0; i < k; ++i)
    if (at[i] != static_cast<char>(w >> (8 * i))) return false;
  return true;
}

/// A medium block (its segment flagged kSlowFree) handed out for n bytes:
/// record n and write the canary after them.
inline void medium_handed_out(Segment* s, Block* b, std::size_t n) noexcept {
  s->requested[s->block_index(b)] = static_cast<std::uint32_t>(n);
  canary_write(b, n, reinterpret_cast<char*>(b) + s->block_size);
}

}  // namespace tinyalloc::detail
