// Test support: a position-defined byte pattern.  The byte at offset i
// depends only on (seed, i), never on the length filled, so a prefix written
// for one size can be checked after a realloc to any other size, and a range
// can be filled piecewise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace test_pattern {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

inline std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t word_at(std::uint64_t s, std::size_t wi) { return s + wi * 0x9E3779B97F4A7C15ULL; }

inline unsigned char byte_at(std::uint64_t s, std::size_t i) {
  return static_cast<unsigned char>(word_at(s, i >> 3) >> ((i & 7) * 8));
}

/// Writes pattern(seed) into p[from, to).
inline void fill_range(void* p, std::size_t from, std::size_t to, std::uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  const std::uint64_t s = mix64(seed);
  std::size_t i = from;
  for (; i < to && (i & 7) != 0; ++i) b[i] = byte_at(s, i);
  for (; i + 8 <= to; i += 8) {
    const std::uint64_t w = word_at(s, i >> 3);
    std::memcpy(b + i, &w, 8);
  }
  for (; i < to; ++i) b[i] = byte_at(s, i);
}

/// The first offset in [from, to) that does not hold pattern(seed), or
/// SIZE_MAX if the whole range is intact.
inline std::size_t check_range(const void* p, std::size_t from, std::size_t to, std::uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  const std::uint64_t s = mix64(seed);
  std::size_t i = from;
  for (; i < to && (i & 7) != 0; ++i)
    if (b[i] != byte_at(s, i)) return i;
  for (; i + 8 <= to; i += 8) {
    const std::uint64_t w = word_at(s, i >> 3);
    if (std::memcmp(b + i, &w, 8) != 0)
      for (std::size_t j = i; j < i + 8; ++j)
        if (b[j] != byte_at(s, j)) return j;
  }
  for (; i < to; ++i)
    if (b[i] != byte_at(s, i)) return i;
  return SIZE_MAX;
}

}  // namespace test_pattern
