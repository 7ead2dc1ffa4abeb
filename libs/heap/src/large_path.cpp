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
  // Secure builds: the guard pages come off for the resize and go back on
  // the result; a block that must move is copied (it is over-aligned).
  if (!large_checks::resizing(p)) return nullptr;
  void* q = impl_.resize(p, large_checks::request(size, 0).size);
  if (q != nullptr) {
    large_checks::resized(q, size);
    return q;
  }
  large_checks::resized(p, large::header_of(p)->requested);
  if (!kSecure && first_time(g_said_copy))
    say("realloc of a large block to %zu bytes could not keep or move its pages "
        "(over-aligned, or mremap failed): copying instead (reported once)",
        size);
  return nullptr;
}

template class LargePathOf<large::DirectMap>;
template class LargePathOf<large::CachedMap>;
template class LargePathOf<large::RegionCache>;

}  // namespace tinyalloc::detail
