// CachedMap: the 64-slot cache of freed mappings (TINYALLOC_LARGE=slots; kept for ablation).
// Part of tinyalloc/large.hpp (include that).
#pragma once

#include <atomic>

#include "tinyalloc/large/contract.hpp"

namespace tinyalloc::large {

/// A recycled-region cache (see the file comment).  All operations take one
/// lock, never across a system call; they are the slow path of large blocks
/// only.
class CachedMap {
 public:
  static constexpr std::size_t kSlots = 64;

  explicit CachedMap(const CacheOptions& options = {}) noexcept : options_(options) {}
  CachedMap(const CachedMap&) = delete;
  CachedMap& operator=(const CachedMap&) = delete;

  Mapping obtain(std::size_t bytes, std::size_t alignment) noexcept;
  void give_back(const Mapping& m) noexcept;
  void purge(std::uint64_t now_ms, bool force) noexcept;
  std::uint64_t next_purge_ms() const noexcept { return next_purge_ms_.load(std::memory_order_relaxed); }
  /// Unmap every entry (address space is short).
  void flush() noexcept;
  void lock() noexcept;
  void unlock() noexcept;

  CacheCounters counters() const noexcept;
  const CacheOptions& options() const noexcept { return options_; }

 private:
  struct Entry {
    char* base;
    std::size_t size;
    std::uint64_t freed_at_ms;
    bool resident;  ///< false once decommitted
  };
  void drop_slot(std::size_t i) noexcept;
  std::size_t oldest(bool resident_only) const noexcept;
  bool insert(const Entry& e) noexcept;
  void decommit_outside_lock(Entry* entries, std::size_t n) noexcept;

  CacheOptions options_;
  mutable region::Lock lock_;
  Entry slots_[kSlots] = {};
  std::size_t used_ = 0;
  std::size_t resident_bytes_ = 0, cached_bytes_ = 0;
  std::atomic<std::uint64_t> next_purge_ms_{~std::uint64_t{0}};  // read without the lock
  std::size_t hits_ = 0, misses_ = 0, evictions_ = 0, purges_ = 0;
};

}  // namespace tinyalloc::large
