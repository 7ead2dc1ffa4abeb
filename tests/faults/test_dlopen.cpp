// dlopen/dlclose, 200 times, of a library (faults_dl.cpp) that allocates in
// its constructor and frees in its destructor; blocks cross the boundary in
// both directions, and some outlive the library's unloading.
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include "faults_common.hpp"

#ifndef FAULTS_DL_PATH
#error "FAULTS_DL_PATH (the library to dlopen) must be defined by the build"
#endif

using namespace faults;

TEST_CASE("dlopen/dlclose of a library that allocates, 200 times", "[dlopen]") {
  std::vector<void*> survivors;  // blocks made by the library, freed after dlclose
  std::size_t expected_sum = 0;
  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    const std::uint64_t served_before = small_served();
    void* h = dlopen(FAULTS_DL_PATH, RTLD_NOW | RTLD_LOCAL);
    INFO("dlopen: " << (h ? "" : dlerror()));
    REQUIRE(h != nullptr);
    auto make = reinterpret_cast<void* (*)(std::size_t, int)>(dlsym(h, "dl_make"));
    auto take = reinterpret_cast<void (*)(void*)>(dlsym(h, "dl_take"));
    auto checksum = reinterpret_cast<std::size_t (*)()>(dlsym(h, "dl_checksum"));
    auto thread_blocks = reinterpret_cast<void (*)(void**, int)>(dlsym(h, "dl_thread_blocks"));
    REQUIRE((make && take && checksum && thread_blocks));
    // The constructor's 200 strings and its table came from tinyalloc.
    REQUIRE(small_served() >= served_before + 200);
    const std::size_t sum = checksum();
    if (round == 0) expected_sum = sum;
    REQUIRE(sum == expected_sum);

    // Library allocates, program frees; program allocates, library frees.
    for (int k = 0; k < 50; ++k) {
      const std::size_t n = 1 + static_cast<std::size_t>(k * 997 % 40000);
      auto* p = static_cast<unsigned char*>(make(n, k));
      REQUIRE(p != nullptr);
      REQUIRE((p[0] == k && p[n - 1] == k));
      if (k % 10 == 0)
        survivors.push_back(p);
      else
        std::free(p);
      void* q = alloc_filled(n);
      REQUIRE(q != nullptr);
      take(q);
    }
    void* from_thread[20];
    thread_blocks(from_thread, 20);
    for (int i = 0; i < 20; ++i) {
      REQUIRE(static_cast<unsigned char*>(from_thread[i])[15] == i);
      std::free(from_thread[i]);
    }
    REQUIRE(dlclose(h) == 0);
    // Really unloaded (so the next round runs the constructor again).
    REQUIRE(dlopen(FAULTS_DL_PATH, RTLD_NOW | RTLD_NOLOAD) == nullptr);
  }
  for (void* p : survivors) std::free(p);
}
