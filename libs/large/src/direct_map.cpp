#include "tinyalloc/large.hpp"

namespace tinyalloc::large {

Mapping DirectMap::obtain(std::size_t bytes, std::size_t alignment) noexcept {
  char* p = static_cast<char*>(region::reserve(bytes, alignment));
  if (p == nullptr) return {};
  region::commit(p, bytes);
  return {p, bytes, true};
}

void DirectMap::give_back(const Mapping& m) noexcept {
  (void)region::release(m.base, m.size, true);  // a failure is counted by region (and reported once)
}

}  // namespace tinyalloc::large
