// tinyalloc::resource(): a std::pmr::memory_resource for pmr containers and
// as the upstream of the standard pool resources.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

#include "provenance.hpp"
#include "tinyalloc/cxx.hpp"

using test_cxx::Served;

TEST_CASE("one process-wide resource, equal to any tinyalloc resource only", "[cxx][pmr]") {
  std::pmr::memory_resource* r = tinyalloc::resource();
  REQUIRE(r == tinyalloc::resource());
  REQUIRE(r->is_equal(*tinyalloc::resource()));
  tinyalloc::memory_resource other;
  REQUIRE(r->is_equal(other));
  REQUIRE(*r == other);
  REQUIRE(!r->is_equal(*std::pmr::new_delete_resource()));
  REQUIRE(!std::pmr::new_delete_resource()->is_equal(*r));
}

TEST_CASE("allocate honours every power-of-two alignment", "[cxx][pmr]") {
  std::pmr::memory_resource* r = tinyalloc::resource();
  for (std::size_t align = 1; align <= std::size_t{1} << 20; align <<= 1) {
    for (std::size_t size : {std::size_t{1}, std::size_t{100}, std::size_t{5000}, std::size_t{300000}}) {
      void* p = r->allocate(size, align);
      INFO("size " << size << " alignment " << align);
      REQUIRE(reinterpret_cast<std::uintptr_t>(p) % align == 0);
      std::memset(p, 0x5A, size);
      r->deallocate(p, size, align);
    }
  }
  REQUIRE_THROWS_AS(r->allocate(std::size_t{1} << 60, 16), std::bad_alloc);
}

TEST_CASE("pmr containers on tinyalloc", "[cxx][pmr]") {
  Served served;
  std::pmr::memory_resource* r = tinyalloc::resource();
  std::pmr::vector<std::pmr::string> words(r);
  std::pmr::map<int, std::pmr::string> m(r);
  std::pmr::unordered_map<std::pmr::string, int> um(r);
  std::pmr::list<int> l(r);
  for (int i = 0; i < 10000; ++i) {
    std::pmr::string w("word-with-a-long-enough-body-", r);
    w += std::to_string(i);
    words.push_back(w);
    m.emplace(i, w);
    um.emplace(w, i);
    l.push_back(i);
  }
  // Nested pmr containers hand the resource down (uses-allocator construction).
  REQUIRE(words.back().get_allocator().resource() == r);
  REQUIRE(m.at(77).get_allocator().resource() == r);
  REQUIRE(um.at(words[1234]) == 1234);
  REQUIRE(l.size() == 10000);
  REQUIRE(served.now() >= (Served::counts_small() ? 40000u : 1u));
}

TEST_CASE("upstream of the standard pool and monotonic resources", "[cxx][pmr]") {
  SECTION("unsynchronized_pool_resource") {
    Served served;
    std::pmr::unsynchronized_pool_resource pool(tinyalloc::resource());
    std::pmr::vector<std::pmr::vector<int>> rows(&pool);
    for (int i = 0; i < 1000; ++i) rows.emplace_back(static_cast<std::size_t>(i % 50 + 1), i);
    REQUIRE(rows[999][0] == 999);
    REQUIRE(served.now() >= 1);  // the pool's chunks came from tinyalloc
  }
  SECTION("synchronized_pool_resource") {
    Served served;
    std::pmr::synchronized_pool_resource pool(tinyalloc::resource());
    std::pmr::list<std::pmr::string> l(&pool);
    for (int i = 0; i < 1000; ++i) l.emplace_back(200, 'a');
    REQUIRE(l.size() == 1000);
    REQUIRE(served.now() >= 1);
  }
  SECTION("monotonic_buffer_resource") {
    Served served;
    std::pmr::monotonic_buffer_resource arena(1 << 20, tinyalloc::resource());  // 1 MiB: a large block
    std::pmr::vector<int> v(&arena);
    for (int i = 0; i < 100000; ++i) v.push_back(i);
    REQUIRE(v[99999] == 99999);
    REQUIRE(served.now() >= 1);
  }
}
