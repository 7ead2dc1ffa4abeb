// The large path's reports, and the three strategies it is instantiated for.
#include "large_path.hpp"

#include "globals.hpp"

namespace tinyalloc::detail {
namespace {
std::atomic<bool> g_said_no_memory{false}, g_said_copy{false};
}  // namespace

template <large::MappingStrategy S>
void* LargePathOf<S>::allocate(std::size_t size, std::size_t alignment) noexcept {
  void* p = impl_.allocate(size, alignment);
  if (p == nullptr && first_time(g_said_no_memory))
    say("out of memory: a large block of %zu bytes (alignment %zu) could not be mapped; "
        "returning NULL with ENOMEM (reported once)",
        size, alignment);
  return p;
}

template <large::MappingStrategy S>
void* LargePathOf<S>::resize(void* p, std::size_t size) noexcept {
  void* q = impl_.resize(p, size);
  if (q == nullptr && first_time(g_said_copy))
    say("realloc of a large block to %zu bytes could not keep or move its pages "
        "(over-aligned, or mremap failed): copying instead (reported once)",
        size);
  return q;
}

template class LargePathOf<large::DirectMap>;
template class LargePathOf<large::CachedMap>;
template class LargePathOf<large::RegionCache>;

}  // namespace tinyalloc::detail
