// DirectMap: map on allocate, unmap on free.
// Part of tinyalloc/large.hpp (include that).
#pragma once

#include "tinyalloc/large/contract.hpp"

namespace tinyalloc::large {

/// Map on allocate, unmap on free.
class DirectMap {
 public:
  Mapping obtain(std::size_t bytes, std::size_t alignment) noexcept;
  void give_back(const Mapping& m) noexcept;
  void purge(std::uint64_t, bool) noexcept {}
  std::uint64_t next_purge_ms() const noexcept { return ~std::uint64_t{0}; }
  void flush() noexcept {}
  void lock() noexcept {}
  void unlock() noexcept {}
  CacheCounters counters() const noexcept { return {}; }
};

}  // namespace tinyalloc::large
