#include "tinyalloc/region.hpp"
#include "tinyalloc/segment.hpp"

namespace tinyalloc::segment_map {

std::atomic<std::uint64_t*> g_bits{nullptr};

namespace {
constexpr std::size_t kWindows = std::size_t{1} << (kAddressBits - kSegmentShift);
constexpr std::size_t kBytes = kWindows / 8;

std::uint64_t* bits() noexcept {
  std::uint64_t* b = g_bits.load(std::memory_order_acquire);
  if (b != nullptr) return b;
  auto* fresh = static_cast<std::uint64_t*>(region::reserve_sparse(kBytes));
  if (fresh == nullptr) return nullptr;
  if (g_bits.compare_exchange_strong(b, fresh, std::memory_order_acq_rel)) return fresh;
  (void)region::release(fresh, kBytes);  // another thread won the race (a failure only leaks address space)
  return b;
}
}  // namespace

bool mark(const void* p, std::size_t bytes, bool on) noexcept {
  std::uint64_t* b = bits();
  if (b == nullptr) return false;
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(p) >> kSegmentShift;
  const std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(p) + bytes - 1) >> kSegmentShift;
  for (std::uintptr_t w = first; w <= last && w < kWindows; ++w) {
    const std::uint64_t bit = std::uint64_t{1} << (w & 63);
    if (on) {
      __atomic_fetch_or(&b[w >> 6], bit, __ATOMIC_RELEASE);
    } else {
      __atomic_fetch_and(&b[w >> 6], ~bit, __ATOMIC_RELEASE);
    }
  }
  return true;
}

}  // namespace tinyalloc::segment_map
