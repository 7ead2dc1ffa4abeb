#include "tinyalloc/cxx.hpp"

namespace tinyalloc {

void* memory_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  return detail::allocate_bytes(bytes, alignment);
}

void memory_resource::do_deallocate(void* p, std::size_t, std::size_t) { heap_free(p); }

bool memory_resource::do_is_equal(const std::pmr::memory_resource& other) const noexcept {
  return dynamic_cast<const memory_resource*>(&other) != nullptr;
}

memory_resource* resource() noexcept {
  // Constructed in place at first use and never destroyed: containers that
  // outlive static destruction (or free at exit) still find it.
  alignas(memory_resource) static unsigned char storage[sizeof(memory_resource)];
  static memory_resource* const instance = ::new (static_cast<void*>(storage)) memory_resource();
  return instance;
}

}  // namespace tinyalloc
