// tinyalloc::allocator<T> with every standard container that takes an
// allocator: contents survive growth, copies and moves; memory comes from
// tinyalloc; alignment is honoured; failures throw.
#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <forward_list>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "provenance.hpp"
#include "tinyalloc/cxx.hpp"

using test_cxx::Served;
using tinyalloc::allocator;

namespace {

template <class T>
using Vector = std::vector<T, allocator<T>>;
using String = std::basic_string<char, std::char_traits<char>, allocator<char>>;

String text(int i) { return String("value number ") + String(std::to_string(i).c_str()) + String(" with a long tail"); }

}  // namespace

TEST_CASE("allocator meets the Allocator requirements", "[cxx][allocator]") {
  allocator<int> a;
  allocator<double> b(a);  // rebinding copy
  REQUIRE(a == b);
  REQUIRE(!(a != b));
  STATIC_REQUIRE(std::allocator_traits<allocator<int>>::is_always_equal::value);
  STATIC_REQUIRE(std::allocator_traits<allocator<int>>::propagate_on_container_move_assignment::value);
  STATIC_REQUIRE(std::is_same_v<std::allocator_traits<allocator<int>>::rebind_alloc<char>, allocator<char>>);
  int* p = a.allocate(10);
  for (int i = 0; i < 10; ++i) p[i] = i;
  a.deallocate(p, 10);
  int* zero = a.allocate(0);  // a unique pointer, freed normally
  a.deallocate(zero, 0);
}

TEST_CASE("sequence containers", "[cxx][allocator]") {
  Served served;
  Vector<int> v;
  for (int i = 0; i < 100000; ++i) v.push_back(i);  // grows into large blocks
  Vector<int> copy = v;
  Vector<int> moved = std::move(copy);
  std::deque<int, allocator<int>> d;
  std::list<String, allocator<String>> l;
  std::forward_list<int, allocator<int>> f;
  for (int i = 0; i < 5000; ++i) {
    d.push_front(i);
    l.push_back(text(i));
    f.push_front(i);
  }
  for (int i = 0; i < 100000; ++i) REQUIRE(moved[static_cast<std::size_t>(i)] == i);
  REQUIRE(d.front() == 4999);
  REQUIRE(d.back() == 0);
  REQUIRE(l.back() == text(4999));
  REQUIRE(*f.begin() == 4999);
  // The vector's growth alone passes 32 KiB, so large blocks appear even
  // when small ones are not counted.
  REQUIRE(served.now() >= (Served::counts_small() ? 10000u : 1u));
}

TEST_CASE("associative and unordered containers", "[cxx][allocator]") {
  Served served;
  std::map<int, String, std::less<int>, allocator<std::pair<const int, String>>> m;
  std::multimap<int, int, std::less<int>, allocator<std::pair<const int, int>>> mm;
  std::set<int, std::less<int>, allocator<int>> s;
  std::unordered_map<int, String, std::hash<int>, std::equal_to<int>, allocator<std::pair<const int, String>>> um;
  std::unordered_set<int, std::hash<int>, std::equal_to<int>, allocator<int>> us;
  for (int i = 0; i < 20000; ++i) {
    m.emplace(i, text(i));
    mm.emplace(i % 10, i);
    s.insert(i);
    um.emplace(i, text(i));
    us.insert(i * 3);
  }
  for (int i = 0; i < 20000; i += 997) {
    REQUIRE(m.at(i) == text(i));
    REQUIRE(um.at(i) == text(i));
    REQUIRE(s.count(i) == 1);
    REQUIRE(us.count(i * 3) == 1);
  }
  REQUIRE(mm.count(3) == 2000);
  for (int i = 0; i < 20000; i += 2) {
    m.erase(i);
    um.erase(i);
  }
  REQUIRE(m.size() == 10000);
  REQUIRE(um.size() == 10000);
  REQUIRE(served.now() >= (Served::counts_small() ? 100000u : 1u));  // the hash table's buckets are large
}

TEST_CASE("allocate_shared and strings", "[cxx][allocator]") {
  Served served;
  auto sp = std::allocate_shared<String>(allocator<String>(), text(7));
  REQUIRE(*sp == text(7));
  String big(100000, 'x');  // a large block
  big += "end";
  REQUIRE(big.size() == 100003);
  REQUIRE(served.now() >= (Served::counts_small() ? 2u : 1u));
}

TEST_CASE("over-aligned types get their alignment", "[cxx][allocator]") {
  struct alignas(64) Line {
    char bytes[64];
  };
  struct alignas(4096) Page {
    char bytes[4096];
  };
  Vector<Line> lines(1000);
  Vector<Page> pages(3);
  REQUIRE(reinterpret_cast<std::uintptr_t>(lines.data()) % 64 == 0);
  REQUIRE(reinterpret_cast<std::uintptr_t>(pages.data()) % 4096 == 0);
  std::list<Line, allocator<Line>> nodes(100);
  for (const Line& l : nodes) REQUIRE(reinterpret_cast<std::uintptr_t>(&l) % 64 == 0);
}

TEST_CASE("allocation failure throws", "[cxx][allocator]") {
  allocator<int> a;
  REQUIRE_THROWS_AS(a.allocate(std::numeric_limits<std::size_t>::max() / 2), std::bad_array_new_length);
  REQUIRE_THROWS_AS(a.allocate(std::size_t{1} << 60), std::bad_alloc);  // 4 EiB: no address space for it
  Vector<int> v;
  REQUIRE_THROWS_AS(v.reserve(std::size_t{1} << 60), std::exception);
}
