#include <catch2/catch.hpp>

#include <cstdlib>
#include <malloc.h>
#include <memory>
#include <string>
#include <vector>

#include "tinyalloc/heap.hpp"
#include "tinyalloc/override.hpp"

using namespace tinyalloc;

namespace {
// A block is tinyalloc's if its masked header says so (small: owned by this
// thread; large: a large header).
bool from_tinyalloc(void* p) {
  SegmentBase* h = Segment::header_of(p);
  if (h->kind == SegmentKind::Large) return true;
  return h->kind == SegmentKind::Small &&
         (h->owner_word() & ~kFlagMask) == reinterpret_cast<std::uintptr_t>(tinyalloc::detail::tl_heap);
}
}  // namespace

TEST_CASE("the static override is linked in") { REQUIRE(override_lib::active()); }

TEST_CASE("malloc, calloc, realloc, aligned_alloc and posix_memalign are tinyalloc's") {
  void* m = std::malloc(100);
  REQUIRE(from_tinyalloc(m));
  REQUIRE(malloc_usable_size(m) >= 100);
  void* c = std::calloc(10, 10);
  REQUIRE(from_tinyalloc(c));
  void* r = std::realloc(m, 100000);
  REQUIRE(from_tinyalloc(r));
  void* a = std::aligned_alloc(4096, 4096);
  REQUIRE(from_tinyalloc(a));
  REQUIRE(reinterpret_cast<std::uintptr_t>(a) % 4096 == 0);
  void* pm = nullptr;
  REQUIRE(posix_memalign(&pm, 64, 200) == 0);
  REQUIRE(from_tinyalloc(pm));
  for (void* p : {c, r, a, pm}) std::free(p);
}

TEST_CASE("operator new and delete, all forms, are tinyalloc's") {
  auto* i = new int(42);
  REQUIRE(from_tinyalloc(i));
  delete i;
  auto* arr = new double[1000];
  REQUIRE(from_tinyalloc(arr));
  delete[] arr;
  struct alignas(256) Over {
    char c[300];
  };
  auto* o = new Over;
  REQUIRE(from_tinyalloc(o));
  REQUIRE(reinterpret_cast<std::uintptr_t>(o) % 256 == 0);
  delete o;
  auto* n = new (std::nothrow) char[10];
  REQUIRE(from_tinyalloc(n));
  delete[] n;
  std::vector<std::string> v(1000, std::string(100, 'x'));
  REQUIRE(from_tinyalloc(v.data()));
  REQUIRE(from_tinyalloc(v[999].data()));
}

TEST_CASE("operator new throws bad_alloc when memory cannot be had") {
  REQUIRE_THROWS_AS(::operator new (~std::size_t{0} / 2), std::bad_alloc);
  REQUIRE(::operator new (~std::size_t{0} / 2, std::nothrow) == nullptr);
}
