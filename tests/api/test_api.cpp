// API semantics of tinyalloc's C interface (tinyalloc.h).
//
// The test process itself uses glibc malloc (Catch2, std containers); every
// block under test comes from the ta_* functions explicitly.
//
// Hot loops do not call REQUIRE per byte or per block (that would make the
// run slow); they test the condition with a plain `if` and FAIL with a precise
// message on the first violation, then one REQUIRE records the totals.

#include <catch2/catch.hpp>

#include "../common/pattern.hpp"
#include "../common/proc.hpp"

#include "tinyalloc.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace test_pattern;

void fill(void* p, std::size_t n, std::uint64_t seed) { fill_range(p, 0, n, seed); }

std::size_t check(const void* p, std::size_t n, std::uint64_t seed) { return check_range(p, 0, n, seed); }

// First non-zero offset in p[0, n), or SIZE_MAX.
std::size_t first_nonzero(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, b + i, 8);
    if (w != 0) break;
  }
  for (; i < n; ++i)
    if (b[i] != 0) return i;
  return SIZE_MAX;
}

// Alignment guaranteed by tinyalloc for a plain malloc of n bytes.
inline std::size_t min_align_for(std::size_t n) { return n >= 16 ? 16 : 8; }

using test_proc::vm_rss_kib;

// Allocates n bytes with ta_malloc and checks the basic contract: non-NULL,
// usable >= n, alignment.  Fills the whole usable range with pattern(seed).
struct Block {
  void* p = nullptr;
  std::size_t size = 0;
  std::size_t usable = 0;
  std::uint64_t seed = 0;
};

// Sizes 4097..70000: a sweep with a step growing with the size plus every
// size-class-ish boundary (k * 2^n / 4) and its neighbours.
std::vector<std::size_t> sparse_sizes() {
  std::vector<std::size_t> v;
  for (std::size_t n = 4097; n <= 70000; n += n / 64 + 7) v.push_back(n);
  for (std::size_t pw = 4096; pw <= 65536; pw *= 2)
    for (std::size_t k = 4; k < 8; ++k) {
      const std::size_t b = pw / 4 * k;
      for (std::size_t n : {b - 1, b, b + 1})
        if (n > 4096 && n <= 70000) v.push_back(n);
    }
  for (std::size_t n : {32767, 32768, 32769, 65535, 65536, 65537, 70000}) v.push_back(n);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Allocates every size of `sizes` (all live at once, so an overflow of one
// block into its neighbour is seen), fills the whole usable range, verifies
// everything, frees.  Returns the number of blocks verified.
std::size_t alloc_fill_verify(const std::vector<std::size_t>& sizes, std::uint64_t seed_base) {
  std::vector<Block> blocks;
  blocks.reserve(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t n = sizes[i];
    Block b;
    b.size = n;
    b.seed = seed_base + i;
    b.p = ta_malloc(n);
    if (b.p == nullptr) FAIL("ta_malloc(" << n << ") returned NULL");
    b.usable = ta_usable_size(b.p);
    if (b.usable < n) FAIL("ta_usable_size(ta_malloc(" << n << ")) = " << b.usable << " < " << n);
    if (addr(b.p) % min_align_for(n) != 0)
      FAIL("ta_malloc(" << n << ") = " << b.p << " is not " << min_align_for(n) << "-byte aligned");
    fill(b.p, b.usable, b.seed);
    blocks.push_back(b);
  }
  for (const Block& b : blocks) {
    const std::size_t bad = check(b.p, b.usable, b.seed);
    if (bad != SIZE_MAX)
      FAIL("block of size " << b.size << " (usable " << b.usable << ") at " << b.p << " lost its pattern at offset "
                            << bad);
    if (ta_usable_size(b.p) != b.usable)
      FAIL("ta_usable_size changed for block of size " << b.size << ": " << b.usable << " -> " << ta_usable_size(b.p));
  }
  for (const Block& b : blocks) ta_free(b.p);
  return blocks.size();
}

}  // namespace

// ===========================================================================

TEST_CASE("size 0 and NULL", "[api][malloc]") {
  SECTION("ta_malloc(0) returns distinct non-NULL pointers that can be freed") {
    std::vector<void*> ps;
    for (int i = 0; i < 1000; ++i) {
      void* p = ta_malloc(0);
      REQUIRE(p != nullptr);
      ps.push_back(p);
    }
    std::vector<void*> sorted = ps;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    for (void* p : ps) ta_free(p);
  }
  SECTION("ta_free(NULL) does nothing") {
    ta_free(nullptr);
    ta_free(nullptr);
    SUCCEED();
  }
  SECTION("ta_usable_size(NULL) is 0") { REQUIRE(ta_usable_size(nullptr) == 0); }
  SECTION("ta_realloc(NULL, 0) returns NULL or a freeable pointer") {
    void* p = ta_realloc(nullptr, 0);
    ta_free(p);
    SUCCEED();
  }
}

TEST_CASE("every size: non-NULL, usable >= size, aligned, writable", "[api][malloc]") {
  SECTION("sizes 1..4096, step 1, all live at once") {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 1; n <= 4096; ++n) sizes.push_back(n);
    const std::size_t verified = alloc_fill_verify(sizes, 1000);
    REQUIRE(verified == 4096);
  }
  SECTION("sizes 4097..70000, sparse sweep and class boundaries") {
    const std::vector<std::size_t> sizes = sparse_sizes();
    const std::size_t verified = alloc_fill_verify(sizes, 9000);
    INFO("sizes tested: " << sizes.size());
    REQUIRE(verified == sizes.size());
  }
  SECTION("large sizes up to 64 MiB") {
    const std::vector<std::size_t> sizes = {100000,       131072,   262144 + 1,   MiB - 1,      MiB,     MiB + 1,
                                            3 * MiB + 17, 16 * MiB, 32 * MiB + 5, 64 * MiB - 1, 64 * MiB};
    const std::size_t verified = alloc_fill_verify(sizes, 77000);
    REQUIRE(verified == sizes.size());
  }
  SECTION("the same size many times in a row gives distinct usable blocks") {
    for (std::size_t n : {1, 8, 16, 48, 200, 1000, 4096, 20000, 40000}) {
      std::vector<std::size_t> sizes(300, n);
      REQUIRE(alloc_fill_verify(sizes, n * 1000) == 300);
    }
  }
}

TEST_CASE("aligned allocation: ta_aligned_alloc and ta_posix_memalign", "[api][align]") {
  // Sizes below, equal to and above each alignment, and one large size.
  auto sizes_for = [](std::size_t a) {
    std::vector<std::size_t> v = {
        1, a > 1 ? a / 2 : 1, a > 1 ? a - 1 : 1, a, a + 1, 2 * a + 3, std::max<std::size_t>(256 * KiB + 5, 3 * a)};
    return v;
  };

  SECTION("every power-of-two alignment from 1 to 1 MiB") {
    std::size_t verified = 0;
    for (std::size_t a = 1; a <= MiB; a *= 2) {
      for (int api = 0; api < 2; ++api) {
        // api 0: ta_aligned_alloc; api 1: ta_posix_memalign (needs a >= sizeof(void*)).
        if (api == 1 && a < sizeof(void*)) continue;
        std::vector<Block> blocks;
        std::uint64_t seed = a * 100 + api * 50;
        for (std::size_t n : sizes_for(a)) {
          Block b;
          b.size = n;
          b.seed = ++seed;
          if (api == 0) {
            b.p = ta_aligned_alloc(a, n);
            if (b.p == nullptr) FAIL("ta_aligned_alloc(" << a << ", " << n << ") returned NULL");
          } else {
            void* out = nullptr;
            const int rc = ta_posix_memalign(&out, a, n);
            if (rc != 0) FAIL("ta_posix_memalign(&p, " << a << ", " << n << ") returned " << rc);
            if (out == nullptr) FAIL("ta_posix_memalign(&p, " << a << ", " << n << ") set *p = NULL");
            b.p = out;
          }
          if (addr(b.p) % a != 0)
            FAIL((api ? "ta_posix_memalign" : "ta_aligned_alloc")
                 << " alignment " << a << " size " << n << " gave misaligned " << b.p);
          if (n >= 16 && addr(b.p) % 16 != 0)
            FAIL("aligned block of size " << n << " (alignment " << a << ") is not 16-byte aligned: " << b.p);
          b.usable = ta_usable_size(b.p);
          if (b.usable < n)
            FAIL("aligned block alignment " << a << " size " << n << ": usable " << b.usable << " < size");
          fill(b.p, b.usable, b.seed);
          blocks.push_back(b);
        }
        for (const Block& b : blocks) {
          const std::size_t bad = check(b.p, b.usable, b.seed);
          if (bad != SIZE_MAX)
            FAIL("aligned block alignment " << a << " size " << b.size << " lost its pattern at offset " << bad);
          ++verified;
        }
        for (const Block& b : blocks) ta_free(b.p);
      }
    }
    REQUIRE(verified == 21 * 7 + 18 * 7);
  }

  SECTION("very large alignments (2 MiB .. 64 MiB) with small and large sizes") {
    for (std::size_t a = 2 * MiB; a <= 64 * MiB; a *= 2) {
      for (std::size_t n : {std::size_t{1}, std::size_t{100}, a - 1, a + 1}) {
        INFO("alignment " << a << " size " << n);
        void* p = ta_aligned_alloc(a, n);
        REQUIRE(p != nullptr);
        REQUIRE(addr(p) % a == 0);
        REQUIRE(ta_usable_size(p) >= n);
        fill(p, n, a + n);
        REQUIRE(check(p, n, a + n) == SIZE_MAX);
        ta_free(p);
        void* q = reinterpret_cast<void*>(0x1);
        REQUIRE(ta_posix_memalign(&q, a, n) == 0);
        REQUIRE(q != nullptr);
        REQUIRE(addr(q) % a == 0);
        fill(q, n, a);
        REQUIRE(check(q, n, a) == SIZE_MAX);
        ta_free(q);
      }
    }
  }

  SECTION("many live aligned blocks mixed with plain ones do not overlap") {
    std::mt19937_64 rng(42);
    std::vector<Block> blocks;
    for (int i = 0; i < 20000; ++i) {
      Block b;
      b.seed = 500000 + i;
      const std::size_t a = std::size_t{1} << (rng() % 13);  // 1 .. 4096
      b.size = 1 + rng() % (i % 50 == 0 ? 60000 : 600);
      b.p = (i % 3 == 0) ? ta_malloc(b.size) : ta_aligned_alloc(a, b.size);
      if (b.p == nullptr) FAIL("allocation of " << b.size << " returned NULL");
      if (i % 3 != 0 && addr(b.p) % a != 0) FAIL("misaligned " << b.p << " for alignment " << a);
      b.usable = ta_usable_size(b.p);
      if (b.usable < b.size) FAIL("usable " << b.usable << " < " << b.size);
      fill(b.p, b.usable, b.seed);
      blocks.push_back(b);
    }
    std::vector<std::pair<std::uintptr_t, std::size_t>> ranges;
    for (const Block& b : blocks) {
      if (check(b.p, b.usable, b.seed) != SIZE_MAX) FAIL("aligned block at " << b.p << " corrupted");
      ranges.emplace_back(addr(b.p), b.usable);
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i - 1].first + ranges[i - 1].second > ranges[i].first)
        FAIL("blocks overlap: [" << ranges[i - 1].first << ", +" << ranges[i - 1].second << ") and "
                                 << ranges[i].first);
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (const Block& b : blocks) ta_free(b.p);
    REQUIRE(ranges.size() == 20000);
  }

  SECTION("ta_posix_memalign rejects bad alignments with EINVAL, *out unchanged") {
    void* const sentinel = reinterpret_cast<void*>(0xDEADBEE0);
    for (std::size_t a : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4},
                          std::size_t{12}, std::size_t{24}, std::size_t{40}, std::size_t{48}, std::size_t{100},
                          std::size_t{4097}, MiB + 8, std::size_t{SIZE_MAX}}) {
      INFO("alignment " << a);
      void* out = sentinel;
      REQUIRE(ta_posix_memalign(&out, a, 64) == EINVAL);
      REQUIRE(out == sentinel);
    }
  }

  SECTION("ta_aligned_alloc with a non-power-of-two alignment fails with EINVAL") {
    for (std::size_t a : {std::size_t{3}, std::size_t{6}, std::size_t{12}, std::size_t{24}, std::size_t{48},
                          std::size_t{100}, std::size_t{4097}, MiB + 8}) {
      INFO("alignment " << a);
      errno = 0;
      void* p = ta_aligned_alloc(a, 64);
      const int e = errno;
      REQUIRE(p == nullptr);
      REQUIRE(e == EINVAL);
    }
  }

  SECTION("ta_posix_memalign with size 0 succeeds; *out is NULL or freeable") {
    void* out = reinterpret_cast<void*>(0x1);
    REQUIRE(ta_posix_memalign(&out, 64, 0) == 0);
    REQUIRE(addr(out) % 64 == 0);
    ta_free(out);
  }
}

TEST_CASE("aligned allocation of size 0 and of tiny sizes", "[api][align]") {
  // aligned_alloc(a, 0) / posix_memalign(&p, a, 0) must return a block of its
  // own (or NULL): never a pointer into, or onto the start of, another live
  // block.  Each alignment is interleaved with plain blocks of nearby classes
  // so a neighbour is always there to be damaged.
  std::size_t checked = 0;
  for (std::size_t a = 32; a <= 16 * KiB; a *= 2) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}}) {
      std::vector<Block> plain;
      std::vector<void*> aligned;
      std::uint64_t seed = a * 10 + n;
      for (int i = 0; i < 400; ++i) {
        for (std::size_t m : {a - 16, a - 15, a / 2, a}) {
          Block b;
          b.size = m;
          b.seed = ++seed;
          b.p = ta_malloc(m);
          if (b.p == nullptr) FAIL("ta_malloc(" << m << ") returned NULL");
          b.usable = ta_usable_size(b.p);
          fill(b.p, b.usable, b.seed);
          plain.push_back(b);
        }
        void* p = nullptr;
        if (i % 2 == 0) {
          p = ta_aligned_alloc(a, n);
        } else if (ta_posix_memalign(&p, a, n) != 0) {
          FAIL("ta_posix_memalign(&p, " << a << ", " << n << ") failed");
        }
        if (p == nullptr) continue;  // NULL is allowed for size 0
        if (addr(p) % a != 0) FAIL("aligned block " << p << " for alignment " << a << " is misaligned");
        if (ta_usable_size(p) < n) FAIL("usable < " << n);
        // n bytes are ours to write (nothing for n == 0).
        fill(p, n, 7);
        aligned.push_back(p);
      }
      // No aligned block may start inside (or at) any plain block.
      std::vector<std::pair<std::uintptr_t, std::size_t>> ranges;
      for (const Block& b : plain) ranges.emplace_back(addr(b.p), b.usable);
      std::sort(ranges.begin(), ranges.end());
      for (void* p : aligned) {
        auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(addr(p), SIZE_MAX));
        if (it != ranges.begin()) {
          --it;
          if (addr(p) < it->first + it->second)
            FAIL("ta_aligned_alloc/posix_memalign("
                 << a << ", " << n << ") returned " << p << ", which lies inside a live block ["
                 << reinterpret_cast<void*>(it->first) << ", +" << it->second << ") returned by ta_malloc");
        }
      }
      for (void* p : aligned) ta_free(p);
      // Freeing the aligned blocks must not have freed a plain one: allocate
      // more of the same classes and check nothing lands on a live block.
      std::vector<void*> more;
      for (int i = 0; i < 800; ++i)
        for (std::size_t m : {a - 16, a - 15, a / 2, a}) {
          void* q = ta_malloc(m);
          if (q == nullptr) FAIL("ta_malloc(" << m << ") returned NULL");
          auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(addr(q), SIZE_MAX));
          if (it != ranges.begin()) {
            --it;
            if (addr(q) < it->first + it->second)
              FAIL("after freeing aligned blocks (alignment " << a << ", size " << n << "), ta_malloc(" << m
                                                              << ") returned " << q
                                                              << " inside a block that is still live");
          }
          more.push_back(q);
        }
      for (const Block& b : plain) {
        const std::size_t bad = check(b.p, b.usable, b.seed);
        if (bad != SIZE_MAX)
          FAIL("a live ta_malloc(" << b.size << ") block was damaged at offset " << bad
                                   << " by aligned allocations of alignment " << a << ", size " << n);
        ++checked;
      }
      for (void* q : more) ta_free(q);
      for (const Block& b : plain) ta_free(b.p);
    }
  }
  REQUIRE(checked == 10 * 2 * 400 * 4);
}

TEST_CASE("realloc of aligned blocks keeps contents", "[api][align][realloc]") {
  std::size_t checked = 0;
  for (std::size_t a = 32; a <= MiB; a *= 4) {  // 32 .. 512 KiB
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{5000}, std::size_t{40000}}) {
      void* p = ta_aligned_alloc(a, n);
      REQUIRE(p != nullptr);
      REQUIRE(addr(p) % a == 0);
      fill(p, n, a ^ n);
      std::size_t cur = n;
      for (std::size_t m : {n + 1, 2 * n + 3, n / 2 + 1, 70000 + n, std::size_t{24}, std::size_t{3}}) {
        INFO("alignment " << a << ": realloc " << cur << " -> " << m);
        void* q = ta_realloc(p, m);
        REQUIRE(q != nullptr);
        REQUIRE(ta_usable_size(q) >= m);
        REQUIRE(check(q, std::min(cur, m), a ^ n) == SIZE_MAX);
        if (m > cur) fill_range(q, cur, m, a ^ n);
        p = q;
        cur = m;
        ++checked;
      }
      ta_free(p);
    }
  }
  REQUIRE(checked == 8 * 4 * 6);
}

TEST_CASE("realloc keeps contents", "[api][realloc]") {
  SECTION("ta_realloc(NULL, n) acts as ta_malloc(n)") {
    for (std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{1000}, std::size_t{40000}, 2 * MiB}) {
      void* p = ta_realloc(nullptr, n);
      REQUIRE(p != nullptr);
      REQUIRE(ta_usable_size(p) >= n);
      REQUIRE(addr(p) % min_align_for(n) == 0);
      fill(p, n, n);
      REQUIRE(check(p, n, n) == SIZE_MAX);
      ta_free(p);
    }
  }

  SECTION("grow small -> small -> large -> 64 MiB, then shrink large -> small") {
    const std::vector<std::size_t> chain = {
        1,        7,       8,     9,     15,    16,    17,    24,     100, 128,     129,     1000,     4095,
        4096,     4097,    20000, 32767, 32768, 32769, 65536, 100001, MiB, MiB + 1, 4 * MiB, 16 * MiB, 64 * MiB,
        16 * MiB, MiB + 3, MiB,   40000, 32769, 32768, 20000, 1000,   100, 16,      9,       1};
    const std::uint64_t seed = 4242;
    void* p = ta_malloc(chain[0]);
    REQUIRE(p != nullptr);
    fill(p, chain[0], seed);
    std::size_t cur = chain[0];
    int in_place = 0;
    for (std::size_t k = 1; k < chain.size(); ++k) {
      const std::size_t n = chain[k];
      INFO("realloc " << cur << " -> " << n);
      void* q = ta_realloc(p, n);
      REQUIRE(q != nullptr);
      REQUIRE(ta_usable_size(q) >= n);
      REQUIRE(addr(q) % min_align_for(n) == 0);
      const std::size_t keep = std::min(cur, n);
      const std::size_t bad = check(q, keep, seed);
      INFO("first damaged byte of the kept prefix: " << (bad == SIZE_MAX ? std::string("none") : std::to_string(bad)));
      REQUIRE(bad == SIZE_MAX);
      if (q == p) ++in_place;
      if (n > cur) fill_range(q, cur, n, seed);
      p = q;
      cur = n;
    }
    ta_free(p);
    INFO("reallocs done in place: " << in_place);
    SUCCEED();
  }

  SECTION("realloc within the usable size keeps the contents") {
    for (std::size_t n :
         {std::size_t{1}, std::size_t{17}, std::size_t{100}, std::size_t{3000}, std::size_t{33000}, 3 * MiB + 5}) {
      void* p = ta_malloc(n);
      REQUIRE(p != nullptr);
      const std::size_t u = ta_usable_size(p);
      fill(p, u, n + 7);
      void* q = ta_realloc(p, u);
      REQUIRE(q != nullptr);
      REQUIRE(ta_usable_size(q) >= u);
      REQUIRE(check(q, u, n + 7) == SIZE_MAX);
      ta_free(q);
    }
  }

  SECTION("random realloc sequences on 64 live blocks") {
    std::mt19937_64 rng(7);
    struct Slot {
      void* p = nullptr;
      std::size_t n = 0;
      std::uint64_t seed = 0;
    };
    std::vector<Slot> slots(64);
    std::uint64_t next_seed = 1;
    std::size_t checked = 0;
    for (int step = 0; step < 30000; ++step) {
      Slot& s = slots[rng() % slots.size()];
      const unsigned r = rng() % 1000;
      std::size_t n = r < 700 ? rng() % 512 : r < 950 ? rng() % 8192 : r < 995 ? rng() % 70000 : rng() % (3 * MiB);
      if (s.p == nullptr) {
        s.p = ta_realloc(nullptr, n);
        if (s.p == nullptr) FAIL("ta_realloc(NULL, " << n << ") returned NULL");
        s.n = n;
        s.seed = next_seed++;
        fill(s.p, n, s.seed);
        continue;
      }
      if (n == 0) n = 1;  // realloc(p, 0) is tested separately
      void* q = ta_realloc(s.p, n);
      if (q == nullptr) FAIL("ta_realloc(" << s.p << ", " << n << ") returned NULL");
      if (ta_usable_size(q) < n) FAIL("usable " << ta_usable_size(q) << " < " << n);
      if (addr(q) % min_align_for(n) != 0) FAIL("realloc to " << n << " misaligned: " << q);
      const std::size_t keep = std::min(s.n, n);
      const std::size_t bad = check(q, keep, s.seed);
      if (bad != SIZE_MAX) FAIL("realloc " << s.n << " -> " << n << " lost the prefix at offset " << bad);
      if (n > s.n) fill_range(q, s.n, n, s.seed);
      s.p = q;
      s.n = n;
      ++checked;
      if (step % 7 == 0) {
        ta_free(s.p);
        s = Slot{};
      }
    }
    for (Slot& s : slots) {
      if (s.p && check(s.p, s.n, s.seed) != SIZE_MAX) FAIL("final check failed for block of " << s.n);
      ta_free(s.p);
    }
    REQUIRE(checked > 20000);
  }

  SECTION("ta_realloc(p, 0) frees p; returns NULL (glibc behaviour) or a freeable pointer") {
    // glibc returns NULL and frees p; C17 leaves it implementation-defined.
    // Both are accepted; a non-NULL result must be a valid, freeable block.
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{40000}, 2 * MiB}) {
      void* p = ta_malloc(n);
      REQUIRE(p != nullptr);
      fill(p, n, 3);
      void* q = ta_realloc(p, 0);
      if (q != nullptr) {
        INFO("ta_realloc(p, 0) returned a non-NULL block");
        ta_usable_size(q);  // must be a valid block
        ta_free(q);
      }
    }
    // Repeating it many times must not leak or crash.
    for (int i = 0; i < 100000; ++i) {
      void* p = ta_malloc(static_cast<std::size_t>(i % 300) + 1);
      if (p == nullptr) FAIL("ta_malloc failed at iteration " << i);
      ta_free(ta_realloc(p, 0));
    }
    SUCCEED();
  }
}

TEST_CASE("calloc returns zeroed memory", "[api][calloc]") {
  const std::vector<std::size_t> sizes = {1,     7,     8,     16,    24,     100, 512,     1000,   4096,
                                          10000, 32768, 32769, 65536, 200000, MiB, MiB + 1, 4 * MiB};

  SECTION("fresh memory") {
    std::vector<void*> ps;
    for (std::size_t n : sizes) {
      void* p = ta_calloc(1, n);
      REQUIRE(p != nullptr);
      REQUIRE(ta_usable_size(p) >= n);
      REQUIRE(first_nonzero(p, n) == SIZE_MAX);
      ps.push_back(p);
      void* q = ta_calloc(n, 1);
      REQUIRE(q != nullptr);
      REQUIRE(first_nonzero(q, n) == SIZE_MAX);
      ps.push_back(q);
    }
    for (void* p : ps) ta_free(p);
  }

  SECTION("memory reused after freeing a block of the same size dirtied with 0xAB") {
    std::size_t checked = 0;
    for (std::size_t n : sizes) {
      const int rounds = n <= 65536 ? 300 : 30;
      for (int r = 0; r < rounds; ++r) {
        // A batch of dirty blocks freed at once, then calloc'd back: whatever
        // order the allocator reuses them in, each must come back zeroed.
        constexpr int batch = 8;
        void* dirty[batch];
        for (void*& d : dirty) {
          d = ta_malloc(n);
          if (d == nullptr) FAIL("ta_malloc(" << n << ") returned NULL");
          std::memset(d, 0xAB, ta_usable_size(d));
        }
        for (void* d : dirty) ta_free(d);
        void* fresh[batch];
        for (int i = 0; i < batch; ++i) {
          // Split the byte count in different ways: calloc(1,n), calloc(n,1).
          fresh[i] = (i & 1) ? ta_calloc(n, 1) : ta_calloc(1, n);
          if (fresh[i] == nullptr) FAIL("ta_calloc(" << n << ") returned NULL");
          const std::size_t nz = first_nonzero(fresh[i], n);
          if (nz != SIZE_MAX)
            FAIL("ta_calloc(" << n << ") returned reused memory not zeroed at offset " << nz << " (round " << r
                              << ", block " << i << ")");
          ++checked;
        }
        for (void* f : fresh) ta_free(f);
      }
    }
    INFO("calloc blocks verified: " << checked);
    REQUIRE(checked > 0);
  }

  SECTION("a larger dirtied block reused for a smaller calloc is zeroed") {
    std::size_t checked = 0;
    for (int r = 0; r < 20; ++r) {
      for (std::size_t big : {std::size_t{48000}, 300 * KiB, 2 * MiB, 8 * MiB}) {
        void* d = ta_malloc(big);
        REQUIRE(d != nullptr);
        std::memset(d, 0xAB, ta_usable_size(d));
        ta_free(d);
        for (std::size_t n : {big - 1, big * 3 / 4, big / 2 + 1}) {
          void* p = ta_calloc(n / 8 + 1, 8);
          REQUIRE(p != nullptr);
          const std::size_t nz = first_nonzero(p, (n / 8 + 1) * 8);
          INFO("dirty " << big << " then calloc " << (n / 8 + 1) * 8 << ": nonzero at " << nz);
          REQUIRE(nz == SIZE_MAX);
          std::memset(p, 0xAB, ta_usable_size(p));
          ta_free(p);
          ++checked;
        }
      }
    }
    REQUIRE(checked == 20 * 4 * 3);
  }

  SECTION("segments emptied by one size class and reused by another are zeroed") {
    // Enough blocks to fill and then empty several whole 256 KiB segments, so
    // the segments go back to the arena and come out again, possibly for a
    // different class; with and without waiting past the purge delay.
    std::size_t checked = 0;
    const std::vector<std::size_t> classes = {16, 48, 112, 1024, 3000, 8000, 30000};
    for (int wait = 0; wait < 2; ++wait) {
      for (std::size_t i = 0; i < classes.size(); ++i) {
        const std::size_t dirty_n = classes[i];
        const std::size_t calloc_n = classes[(i + 3) % classes.size()];
        std::vector<void*> dirty;
        for (std::size_t b = 0; b < (3 * MiB) / dirty_n; ++b) {
          void* d = ta_malloc(dirty_n);
          if (d == nullptr) FAIL("ta_malloc(" << dirty_n << ") returned NULL");
          std::memset(d, 0xAB, ta_usable_size(d));
          dirty.push_back(d);
        }
        for (void* d : dirty) ta_free(d);
        if (wait) std::this_thread::sleep_for(std::chrono::milliseconds(250));
        std::vector<void*> fresh;
        for (std::size_t b = 0; b < (3 * MiB) / calloc_n; ++b) {
          void* p = ta_calloc(1, calloc_n);
          if (p == nullptr) FAIL("ta_calloc(1, " << calloc_n << ") returned NULL");
          const std::size_t nz = first_nonzero(p, calloc_n);
          if (nz != SIZE_MAX)
            FAIL("ta_calloc(1, " << calloc_n << ") after freeing 3 MiB of dirty " << dirty_n << "-byte blocks"
                                 << (wait ? " and waiting 250 ms" : "") << ": block " << b << " not zero at offset "
                                 << nz);
          fresh.push_back(p);
          ++checked;
        }
        // And the same class again (the dirty class's own segments).
        for (std::size_t b = 0; b < (3 * MiB) / dirty_n; ++b) {
          void* p = ta_calloc(dirty_n, 1);
          if (p == nullptr) FAIL("ta_calloc(" << dirty_n << ", 1) returned NULL");
          const std::size_t nz = first_nonzero(p, dirty_n);
          if (nz != SIZE_MAX)
            FAIL("ta_calloc(" << dirty_n << ", 1) after freeing dirty blocks of that size: block " << b
                              << " not zero at offset " << nz);
          fresh.push_back(p);
          ++checked;
        }
        for (void* p : fresh) ta_free(p);
      }
    }
    REQUIRE(checked > 0);
  }

  SECTION("calloc with a zero count or size") {
    for (auto [c, s] : {std::pair<std::size_t, std::size_t>{0, 16}, {16, 0}, {0, 0}, {0, SIZE_MAX}, {SIZE_MAX, 0}}) {
      INFO("ta_calloc(" << c << ", " << s << ")");
      void* p = ta_calloc(c, s);
      // Like malloc(0) this should be a unique pointer; NULL is tolerated.
      if (p != nullptr) {
        (void)ta_usable_size(p);
        ta_free(p);
      }
      SUCCEED();
    }
  }
}

TEST_CASE("impossible sizes fail with ENOMEM", "[api][errors]") {
  SECTION("ta_malloc of huge sizes") {
    for (std::size_t n : {std::size_t{SIZE_MAX}, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 16, SIZE_MAX - 4095,
                          SIZE_MAX - 4096, SIZE_MAX - MiB, SIZE_MAX - 2 * MiB, SIZE_MAX - (std::size_t{1} << 30),
                          SIZE_MAX / 2, SIZE_MAX / 2 + 1, std::size_t{1} << 62}) {
      INFO("ta_malloc(" << n << ")");
      errno = 0;
      void* p = ta_malloc(n);
      const int e = errno;
      REQUIRE(p == nullptr);
      REQUIRE(e == ENOMEM);
    }
  }

  SECTION("ta_realloc to a huge size fails and keeps the old block") {
    for (std::size_t old : {std::size_t{100}, std::size_t{40000}, 2 * MiB}) {
      void* p = ta_malloc(old);
      REQUIRE(p != nullptr);
      fill(p, old, old);
      for (std::size_t n : {std::size_t{SIZE_MAX}, SIZE_MAX - 4096, SIZE_MAX / 2, SIZE_MAX - MiB}) {
        INFO("ta_realloc(block of " << old << ", " << n << ")");
        errno = 0;
        void* q = ta_realloc(p, n);
        const int e = errno;
        REQUIRE(q == nullptr);
        REQUIRE(e == ENOMEM);
        REQUIRE(ta_usable_size(p) >= old);
        REQUIRE(check(p, old, old) == SIZE_MAX);
      }
      ta_free(p);
    }
  }

  SECTION("ta_calloc whose count * size overflows") {
    const std::size_t t40 = std::size_t{1} << 40;
    for (auto [c, s] : {std::pair<std::size_t, std::size_t>{SIZE_MAX / 2 + 1, 2},
                        {2, SIZE_MAX / 2 + 1},
                        {t40, t40},
                        {SIZE_MAX, SIZE_MAX},
                        {(std::size_t{1} << 32) + 1, (std::size_t{1} << 32)},
                        {SIZE_MAX / 16 + 1, 16}}) {
      INFO("ta_calloc(" << c << ", " << s << ")");
      errno = 0;
      void* p = ta_calloc(c, s);
      const int e = errno;
      REQUIRE(p == nullptr);
      REQUIRE(e == ENOMEM);
    }
  }

  SECTION("ta_aligned_alloc / ta_posix_memalign of huge sizes or alignments") {
    for (auto [a, n] : {std::pair<std::size_t, std::size_t>{64, SIZE_MAX},
                        {64, SIZE_MAX - 63},
                        {4096, SIZE_MAX - 4096},
                        {MiB, SIZE_MAX - MiB},
                        {16, SIZE_MAX / 2},
                        {std::size_t{1} << 62, 1},
                        {std::size_t{1} << 63, 1}}) {
      INFO("alignment " << a << " size " << n);
      errno = 0;
      void* p = ta_aligned_alloc(a, n);
      const int e = errno;
      REQUIRE(p == nullptr);
      REQUIRE(e == ENOMEM);
      void* const sentinel = reinterpret_cast<void*>(0xDEADBEE0);
      void* out = sentinel;
      REQUIRE(ta_posix_memalign(&out, a, n) == ENOMEM);
    }
  }

  SECTION("the allocator still works after the failures") {
    void* p = ta_malloc(100);
    REQUIRE(p != nullptr);
    fill(p, 100, 1);
    REQUIRE(check(p, 100, 1) == SIZE_MAX);
    ta_free(p);
  }
}

TEST_CASE("many live blocks: distinct, non-overlapping, intact, reused", "[api][many]") {
  constexpr std::size_t count = 200000;
  constexpr int rounds = 4;
  std::mt19937_64 rng(12345);
  std::vector<Block> blocks(count);
  std::vector<std::pair<std::uintptr_t, std::size_t>> ranges(count);
  long rss_after_first = 0;
  long rss_after_last = 0;
  std::size_t verified = 0;

  for (int round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < count; ++i) {
      const unsigned r = rng() % 1000;
      const std::size_t n = r < 950 ? 1 + rng() % 256 : r < 995 ? 257 + rng() % 3840 : 4097 + rng() % 28672;
      Block& b = blocks[i];
      b.size = n;
      b.seed = (std::uint64_t(round) << 32) | i;
      b.p = ta_malloc(n);
      if (b.p == nullptr) FAIL("round " << round << ": ta_malloc(" << n << ") returned NULL");
      b.usable = ta_usable_size(b.p);
      // Sane: at least the request, and not absurdly more (size classes are
      // ~4 per power of two, so the waste is well under 2x + 64 bytes).
      if (b.usable < n || b.usable > 2 * n + 64)
        FAIL("round " << round << ": ta_usable_size = " << b.usable << " for a request of " << n);
      if (addr(b.p) % min_align_for(n) != 0) FAIL("misaligned block " << b.p << " of size " << n);
      fill(b.p, n, b.seed);
    }
    for (std::size_t i = 0; i < count; ++i) ranges[i] = {addr(blocks[i].p), blocks[i].usable};
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < count; ++i) {
      if (ranges[i - 1].first == ranges[i].first) FAIL("round " << round << ": duplicate block address");
      if (ranges[i - 1].first + ranges[i - 1].second > ranges[i].first)
        FAIL("round " << round << ": block at " << ranges[i - 1].first << " usable " << ranges[i - 1].second
                      << " overlaps block at " << ranges[i].first);
    }
    for (const Block& b : blocks) {
      const std::size_t bad = check(b.p, b.size, b.seed);
      if (bad != SIZE_MAX)
        FAIL("round " << round << ": block of size " << b.size << " lost its pattern at offset " << bad);
      ++verified;
    }
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (const Block& b : blocks) ta_free(b.p);
    if (round == 0) rss_after_first = vm_rss_kib();
    rss_after_last = vm_rss_kib();
  }
  INFO("blocks verified: " << verified << ", VmRSS after round 1: " << rss_after_first << " KiB, after round " << rounds
                           << ": " << rss_after_last << " KiB");
  REQUIRE(verified == count * rounds);
  // Later rounds reuse the memory freed by earlier ones: one round holds ~60 MiB,
  // so three more rounds without reuse would add ~180 MiB.
  REQUIRE(rss_after_last - rss_after_first < 48 * 1024);
}

TEST_CASE("ta_stats_print_fd writes the statistics table", "[api][stats]") {
  // Allocate something so the table has content.
  std::vector<void*> ps;
  for (int i = 0; i < 1000; ++i) ps.push_back(ta_malloc(static_cast<std::size_t>(i) * 7 + 1));
  void* big = ta_malloc(5 * MiB);
  REQUIRE(big != nullptr);

  SECTION("to a pipe") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    std::string text;
    std::thread reader([&] {
      char buf[4096];
      ssize_t r;
      while ((r = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(r));
    });
    ta_stats_print_fd(fds[1]);
    close(fds[1]);
    reader.join();
    close(fds[0]);
    INFO("stats text:\n" << text);
    REQUIRE(!text.empty());
    REQUIRE(text.find("tinyalloc") != std::string::npos);
  }

  SECTION("to a temporary file") {
    char path[] = "/tmp/tinyalloc_stats_XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    ta_stats_print_fd(fd);
    const off_t len = lseek(fd, 0, SEEK_END);
    REQUIRE(len > 0);
    std::string text(static_cast<std::size_t>(len), '\0');
    REQUIRE(pread(fd, text.data(), text.size(), 0) == len);
    close(fd);
    REQUIRE(text.find("tinyalloc") != std::string::npos);
  }

  for (void* p : ps) ta_free(p);
  ta_free(big);
}

TEST_CASE("medium blocks (32 KiB - 1 MiB): thread heaps, reuse, calloc, realloc, other threads' frees",
          "[api][medium]") {
  constexpr std::size_t kSizes[] = {32769, 40 << 10, 100000, 224 << 10, 256 << 10, 300000, 700000, 1 << 20};
  std::vector<void*> blocks;
  for (std::size_t n : kSizes) {
    auto* p = static_cast<unsigned char*>(ta_malloc(n));
    REQUIRE(p != nullptr);
    REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
    REQUIRE(ta_usable_size(p) >= n);
    std::memset(p, 0x5A, n);
    blocks.push_back(p);
  }
  // Freed blocks are reused warm: calloc must clear them all the same.
  for (void* p : blocks) ta_free(p);
  blocks.clear();
  for (std::size_t n : kSizes) {
    auto* p = static_cast<unsigned char*>(ta_calloc(1, n));
    REQUIRE(p != nullptr);
    REQUIRE(std::all_of(p, p + n, [](unsigned char b) { return b == 0; }));
    blocks.push_back(p);
  }
  // Another thread frees them (remote frees, hand-offs into full segments).
  std::thread([&] {
    for (void* p : blocks) ta_free(p);
  }).join();
  // Growing through small, medium and large keeps the contents.
  auto* p = static_cast<unsigned char*>(ta_malloc(1000));
  for (std::size_t i = 0; i < 1000; ++i) p[i] = static_cast<unsigned char>(i);
  for (std::size_t n : {std::size_t{50000}, std::size_t{600000}, std::size_t{3} << 20}) {
    p = static_cast<unsigned char*>(ta_realloc(p, n));
    REQUIRE(p != nullptr);
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(p[i] == static_cast<unsigned char>(i));
  }
  ta_free(p);
}
