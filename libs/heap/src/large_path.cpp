// The large path's reports, and the three strategies it is instantiated for.
#include "large_path.hpp"

#include "globals.hpp"
#include "large_checks.hpp"

namespace tinyalloc::detail {
namespace {
std::atomic<bool> g_said_no_memory{false}, g_said_copy{false};
}  // namespace

template <large::MappingStrategy S>
void* LargePathOf<S>::allocate(std::size_t size, std::size_t alignment) noexcept {
  const large_checks::Request r = large_checks::request(size, alignment);
  void* p = impl_.allocate(r.size, r.alignment);
  if (p == nullptr) {
    if (first_time(g_said_no_memory))
      say("out of memory: a large block of %zu bytes (alignment %zu) could not be mapped; "
          "returning NULL with ENOMEM (reported once)",
          size, alignment);
    return nullptr;
  }
  large_checks::handed_out(p, size);
  return p;
}

template <large::MappingStrategy S>
void LargePathOf<S>::deallocate(void* p) noexcept {
  if (large_checks::freeing(p)) impl_.deallocate(p);
}

template <large::MappingStrategy S>
void* LargePathOf<S>::resize(void* p, std::size_t size) noexcept {
  // Secure builds copy: the block's guard pages stay where they are.
  void* q = kSecure ? nullptr : impl_.resize(p, size);
  if (q != nullptr) {
    large_checks::resized(q, size);
  } else if (!kSecure && first_time(g_said_copy)) {
    say("realloc of a large block to %zu bytes could not keep or move its pages "
        "(over-aligned, or mremap failed): copying instead (reported once)",
        size);
  }
  return q;
}

template class LargePathOf<large::DirectMap>;
template class LargePathOf<large::CachedMap>;
template class LargePathOf<large::RegionCache>;

}  // namespace tinyalloc::detail
