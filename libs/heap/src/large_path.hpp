// The large-block strategy in force, behind one interface.
//
// TINYALLOC_LARGE picks the strategy at start-up; each is a type
// (large::MappingStrategy), and LargePathOf<S> wraps LargeAllocator<S> in this
// interface, so the heap never names a strategy: allocation, purging, fork
// locking, out-of-memory flushing and statistics all reach the one in force.
#pragma once

#include "tinyalloc/large.hpp"

namespace tinyalloc::detail {

class LargePath {
 public:
  /// nullptr with errno = ENOMEM on failure (reported once under VERBOSE).
  /// Hardened builds: the block carries a canary after `size` bytes, and is
  /// checked, guarded and poisoned as large_checks.hpp says.
  virtual void* allocate(std::size_t size, std::size_t alignment) noexcept = 0;
  virtual void deallocate(void* p) noexcept = 0;
  /// Resize without copying, or nullptr (p intact).
  virtual void* resize(void* p, std::size_t size) noexcept = 0;
  virtual void purge(std::uint64_t now_ms, bool force) noexcept = 0;
  virtual std::uint64_t next_purge_ms() const noexcept = 0;
  virtual void flush() noexcept = 0;
  virtual void lock() noexcept = 0;
  virtual void unlock() noexcept = 0;
  virtual large::LargeCounters counters() const noexcept = 0;
  virtual large::CacheCounters cache_counters() const noexcept = 0;
  virtual const char* name() const noexcept = 0;

 protected:
  ~LargePath() = default;  // lives in static storage; never destroyed
};

template <large::MappingStrategy S>
class LargePathOf final : public LargePath {
 public:
  template <class... Args>
  LargePathOf(const char* name, Args&&... args) noexcept : name_(name), impl_(static_cast<Args&&>(args)...) {}

  void* allocate(std::size_t size, std::size_t alignment) noexcept override;
  void deallocate(void* p) noexcept override;
  void* resize(void* p, std::size_t size) noexcept override;
  void purge(std::uint64_t now_ms, bool force) noexcept override { impl_.purge(now_ms, force); }
  std::uint64_t next_purge_ms() const noexcept override { return impl_.next_purge_ms(); }
  void flush() noexcept override { impl_.flush(); }
  void lock() noexcept override { impl_.lock(); }
  void unlock() noexcept override { impl_.unlock(); }
  large::LargeCounters counters() const noexcept override { return impl_.counters(); }
  large::CacheCounters cache_counters() const noexcept override { return impl_.cache_counters(); }
  const char* name() const noexcept override { return name_; }

 private:
  const char* name_;
  large::LargeAllocator<S> impl_;
};

}  // namespace tinyalloc::detail
