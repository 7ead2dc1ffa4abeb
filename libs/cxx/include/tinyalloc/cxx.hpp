// tinyalloc::cxx — tinyalloc behind the two standard C++ allocator
// interfaces, for programs that keep the system malloc but want tinyalloc for
// some containers.
//
// Layer 5, beside override: depends on tinyalloc::heap only (and the C++
// standard library's <memory_resource>).  Nothing here replaces the global
// malloc or operator new.
//
//   tinyalloc::allocator<T>   a stateless standard Allocator: every instance
//                             is equal to every other, so containers move
//                             and swap their memory freely.
//                             std::vector<int, tinyalloc::allocator<int>> v;
//   tinyalloc::resource()     a std::pmr::memory_resource* over the same
//                             heaps, for std::pmr containers and as the
//                             upstream of the standard pool resources.
//                             std::pmr::vector<int> v(tinyalloc::resource());
//
// Both honour any alignment a type or caller asks for, and throw
// std::bad_alloc when memory runs out.
#pragma once

#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>
#include <type_traits>

#include "tinyalloc/heap.hpp"

namespace tinyalloc {

namespace detail {
inline void* allocate_bytes(std::size_t bytes, std::size_t alignment) {
  // heap_malloc's blocks are 16-byte aligned from 16 bytes up, 8-byte aligned
  // below (the 8-byte class); anything more takes the aligned path.
  const bool natural = alignment <= 8 || (alignment <= 16 && bytes >= 16);
  void* p = natural ? heap_malloc(bytes) : heap_aligned_alloc(alignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace detail

template <class T>
class allocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;

  constexpr allocator() noexcept = default;
  template <class U>
  constexpr allocator(const allocator<U>&) noexcept {}

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(detail::allocate_bytes(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { heap_free(p); }

  template <class U>
  friend constexpr bool operator==(const allocator&, const allocator<U>&) noexcept {
    return true;
  }
};

/// A memory_resource that allocates from tinyalloc.  Stateless: any two
/// compare equal, so memory from one may be returned to another.
class memory_resource final : public std::pmr::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override;
};

/// The process-wide tinyalloc memory resource (never destroyed).
memory_resource* resource() noexcept;

}  // namespace tinyalloc
