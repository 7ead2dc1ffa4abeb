// The statistics C API: what ta_stats_get counts, and the table
// ta_stats_print writes.  Everything here allocates through ta_* only, on
// threads this test starts, so the counts it checks are exact.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "tinyalloc.h"
#include "tinyalloc/heap.hpp"

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

ta_stats_t snapshot() {
  ta_stats_t s;
  std::memset(&s, 0xAB, sizeof s);  // every field must be written
  ta_stats_get(&s);
  return s;
}

unsigned class_of(const ta_stats_t& s, std::size_t bytes) {
  unsigned c = 0;
  while (s.classes[c].block_size < bytes) ++c;
  return c;
}

void collect(void* arg, const char* text) { static_cast<std::vector<std::string>*>(arg)->push_back(text); }

}  // namespace

TEST_CASE("the size-class table", "[stats]") {
  const ta_stats_t s = snapshot();
  REQUIRE(s.class_count == TA_STATS_CLASSES);
  REQUIRE(s.classes[0].block_size == 8);
  REQUIRE(s.classes[TA_STATS_CLASSES - 1].block_size == 1048576);
  for (unsigned c = 1; c < s.class_count; ++c) REQUIRE(s.classes[c].block_size > s.classes[c - 1].block_size);
}

TEST_CASE("per-class counts: exact, and merged from every thread", "[stats]") {
  const ta_stats_t before = snapshot();
  REQUIRE(before.counting == TINYALLOC_STATS);
  const unsigned c100 = class_of(before, 100), c3000 = class_of(before, 3000);
  std::vector<void*> here, there;
  for (int i = 0; i < 1000; ++i) here.push_back(ta_malloc(100));
  std::thread([&] {
    for (int i = 0; i < 500; ++i) there.push_back(ta_malloc(3000));
  }).join();
  const ta_stats_t after = snapshot();
  if (after.counting) {
    REQUIRE(after.classes[c100].served - before.classes[c100].served == 1000);
    REQUIRE(after.classes[c3000].served - before.classes[c3000].served == 500);
    REQUIRE(after.small_served - before.small_served == 1500);
  } else {
    for (unsigned c = 0; c < after.class_count; ++c) REQUIRE(after.classes[c].served == 0);
    REQUIRE(after.small_served == 0);
  }
  for (void* p : here) ta_free(p);
  for (void* p : there) ta_free(p);
}

TEST_CASE("bytes reserved, committed and in use", "[stats]") {
  const ta_stats_t before = snapshot();
  void* big = ta_malloc(5 * MiB);
  REQUIRE(big != nullptr);
  std::vector<void*> small;
  for (int i = 0; i < 4000; ++i) small.push_back(ta_malloc(200));  // ~800 KiB: several segments
  const ta_stats_t during = snapshot();
  REQUIRE(during.in_use == during.in_use_small + during.in_use_large);
  REQUIRE(during.in_use_large - before.in_use_large >= 5 * MiB);
  REQUIRE(during.in_use_large - before.in_use_large < 5 * MiB + 64 * 1024);  // header and page rounding only
  REQUIRE(during.in_use_small >= 4000 * 200);
  REQUIRE(during.in_use_small % (256 * 1024) == 0);  // whole segments
  REQUIRE(during.reserved >= during.committed);
  REQUIRE(during.committed >= during.in_use);
  REQUIRE(during.committed_peak >= during.committed);
  REQUIRE(during.peak_rss > 0);

  ta_free(big);
  const ta_stats_t after = snapshot();
  REQUIRE(after.in_use_large == before.in_use_large);
  REQUIRE(after.large_frees - before.large_frees == 1);
  for (void* p : small) ta_free(p);
}

TEST_CASE("a block alone in its span, freed by another thread, frees the span while its owner waits", "[stats]") {
  // 600 KiB: a medium class whose one block spans several 256 KiB windows.
  const std::size_t n = 600 * 1024;
  const std::size_t span =
      tinyalloc::span_windows(tinyalloc::size_class::size_of(tinyalloc::size_class::of(n))) * tinyalloc::kSegmentSize;
  REQUIRE(span > tinyalloc::kSegmentSize);
  tinyalloc::trim();  // no parked heap of an earlier case is dismantled meanwhile
  std::atomic<void*> block{nullptr};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    block.store(ta_malloc(n));
    while (!done.load()) std::this_thread::yield();  // allocates nothing until the end
  });
  struct JoinAtExit {  // also when a REQUIRE fails
    std::atomic<bool>& done;
    std::thread& t;
    ~JoinAtExit() {
      done.store(true);
      t.join();
    }
  } join_owner{done, owner};
  while (block.load() == nullptr) std::this_thread::yield();
  void* const first = block.load();
  SECTION("freed by a thread with no heap: back in the arena") {
    const ta_stats_t before = snapshot();
    std::thread([first] { ta_free(first); }).join();
    const ta_stats_t after = snapshot();
    REQUIRE(before.in_use_small - after.in_use_small == span);
  }
  SECTION("freed by a thread with a heap: its next block of the size") {
    ta_free(ta_malloc(24));  // this thread has a heap
    ta_free(first);
    void* again = ta_malloc(n);
    REQUIRE(again == first);
    ta_free(again);
  }
}

TEST_CASE("a thread keeps at most one empty medium segment", "[stats]") {
  // Hardened builds keep a medium class's emptied segment, for the double
  // free check; the one kept before is given back then.  One block of every
  // medium class, each freed at once: the thread never holds more than the
  // span of one (the largest: 1 MiB spans five windows).
  using namespace tinyalloc;
  const std::size_t most = span_windows(size_class::kMaxMedium) * kSegmentSize;
  tinyalloc::trim();  // no parked heap of an earlier case is dismantled meanwhile
  std::size_t held_most = 0;
  bool all_served = true;
  std::thread([&] {
    ta_free(ta_malloc(24));  // this thread's heap and its small segment first
    const ta_stats_t before = snapshot();
    for (unsigned c = size_class::kSmallCount; c < size_class::kCount; ++c) {
      void* p = ta_malloc(size_class::size_of(c));
      all_served = all_served && p != nullptr;
      ta_free(p);
      const std::size_t held = snapshot().in_use_small - before.in_use_small;
      if (held > held_most) held_most = held;
    }
  }).join();
  REQUIRE(all_served);
  REQUIRE(held_most <= most);
}

TEST_CASE("large cache hits and misses", "[stats]") {
  if (tinyalloc::options().large != tinyalloc::LargeStrategy::Cached)
    return;  // the ctest run with TINYALLOC_LARGE=direct
  const ta_stats_t before = snapshot();
  for (int i = 0; i < 5; ++i) ta_free(ta_malloc(3 * MiB + 12345));
  const ta_stats_t after = snapshot();
  REQUIRE(after.large_allocations - before.large_allocations == 5);
  REQUIRE(after.cache_hits - before.cache_hits >= 4);
  REQUIRE(after.cache_hits + after.cache_misses - before.cache_hits - before.cache_misses == 5);
}

TEST_CASE("an exited thread's heap is taken whole by the next thread; one left parked is dismantled", "[stats]") {
  tinyalloc::Stats before, taken, dismantled, reclaimed;
  tinyalloc::stats_get(before);
  std::vector<void*> left;
  std::thread([&] {
    for (int i = 0; i < 100; ++i) left.push_back(ta_malloc(4000));
  }).join();                                           // exits with live blocks: its heap is parked with them
  std::thread([] { ta_free(ta_malloc(24)); }).join();  // takes a parked heap whole
  tinyalloc::stats_get(taken);
  REQUIRE(taken.heaps_reused > before.heaps_reused);
  // A forced purge dismantles every parked heap: segments with live blocks
  // are abandoned...
  tinyalloc::trim();
  tinyalloc::stats_get(dismantled);
  REQUIRE(dismantled.segments_abandoned > before.segments_abandoned);
  // ...and a thread that needs a segment adopts them first.
  std::thread([&] {
    void* p = ta_malloc(24);
    for (void* q : left) ta_free(q);
    ta_free(p);
  }).join();
  tinyalloc::stats_get(reclaimed);
  REQUIRE(reclaimed.segments_adopted > before.segments_adopted);
}

TEST_CASE("ta_stats_print writes the table through a callback, in whole lines", "[stats]") {
  void* p = ta_malloc(100);
  std::vector<std::string> pieces;
  ta_stats_print(&collect, &pieces);
  ta_free(p);
  REQUIRE(!pieces.empty());
  std::string text;
  for (const auto& piece : pieces) {
    REQUIRE(!piece.empty());
    REQUIRE(piece.back() == '\n');
    text += piece;
  }
  INFO(text);
  REQUIRE(text.rfind("tinyalloc statistics (pid " + std::to_string(getpid()) + ")\n", 0) == 0);
  for (const char* row :
       {"\n  memory           reserved ", "\n  in use           ", "\n  large (", "\n  large cache      hits ",
        "\n  segments         carved ", "\n  threads          heaps created "})
    REQUIRE(text.find(row) != std::string::npos);
  if (TINYALLOC_STATS) {
    REQUIRE(text.find("\n  small, all ") != std::string::npos);
  } else {
    REQUIRE(text.find("compiled out") != std::string::npos);
  }
}

TEST_CASE("ta_stats_print with no callback writes to stderr", "[stats]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int saved = dup(2);
  dup2(fds[1], 2);
  ta_stats_print(nullptr, nullptr);
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  REQUIRE(text.rfind("tinyalloc statistics", 0) == 0);
}
