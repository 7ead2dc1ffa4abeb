#include "tinyalloc/segment.hpp"

#include <new>

namespace tinyalloc {
namespace {
// Fresh blocks are carved a batch at a time: enough to fill about one page,
// so a new segment faults in only what is about to be used.
constexpr std::size_t kExtendBytes = 4096;

// Secure builds: the order fresh blocks are linked in, drawn per extend.
std::atomic<std::uint64_t> g_extend_draws{0};

std::uint64_t next_random(std::uint64_t& x) noexcept {  // splitmix64
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

[[noreturn]] void report_broken_link(const Block* b) noexcept {
  report_misuse("malloc(): double free or write after free: a free list reaches a block whose link was overwritten", b,
                MisusedBlock::of_class(Segment::of(b)->block_size));
}

Segment* Segment::create(void* memory, std::uint8_t size_class, std::uint32_t block_size, bool zero, bool guard,
                         std::size_t windows, std::size_t reached) noexcept {
  if (windows == 0) windows = span_windows(block_size);
  track::reclaimed(static_cast<char*>(memory) + kFirstBlock, windows * kSegmentSize - kFirstBlock);
  Segment* s = ::new (memory) Segment;
  s->become(SegmentKind::Small);
  s->blocks = FreeBlocks{};
  s->blocks.free = s->list_end();
  s->blocks.codec = LinkCodec{link_key(s)};
  s->local_free = s->list_end();
  s->block_size = block_size;
  s->windows = static_cast<std::uint8_t>(windows);
  const std::size_t room = s->windows * kSegmentSize - kFirstBlock - (guard ? region::page_size() : 0);
  // Only the first window has a header: a span of several holds one block.
  s->capacity = windows > 1 ? 1 : static_cast<std::uint32_t>(room / block_size);
  TINYALLOC_ASSERT(block_size <= BlockGrid::kMaxBlock);
  s->grid = BlockGrid::make(block_size, s->capacity);  // none carved
  for (std::uint32_t& r : s->requested) r = 0;
  s->extended = 0;
  s->reached = static_cast<std::uint32_t>(reached);
  s->size_class = size_class;
  s->free_is_zero = false;
  s->bump_is_zero = zero;
  s->out_sum_exact = true;
  s->thread_free.store(0, std::memory_order_relaxed);
  s->handed_off_block.store(nullptr, std::memory_order_relaxed);
  s->released_at_ms = 0;
  return s;
}

bool Segment::holds_free(const Block* b) const noexcept {
  // Past the carved blocks nothing is live (refill() may have carved the
  // segment again from its start since b was handed out).
  const auto offset = static_cast<std::size_t>(reinterpret_cast<const char*>(b) - reinterpret_cast<const char*>(this));
  if (offset >= kFirstBlock && (offset - kFirstBlock) / block_size >= extended) return true;
  // Each walk is bounded by the segment's capacity, so a corrupted (cyclic)
  // list cannot hang it.
  auto on = [&](const Block* head) {
    std::uint32_t steps = 0;
    for (const Block* x = head; !FreeBlocks::is_end(x) && steps <= capacity;
         x = blocks.codec.decode(x->link), ++steps) {
      if (x == b) return true;
      if (!same_window(x, b)) return false;
    }
    return false;
  };
  return on(blocks.free) || on(local_free) || on(thread_free_word::head(thread_free.load(std::memory_order_acquire)));
}

const Block* Segment::live_block() const noexcept {
  // A free block's first word decodes into this window (looks_free): its
  // offset from the window's start, decoded, is below the window's size.  OR
  // those offsets together, without a branch per block, and look for the
  // block only if one strays.  (decode(link) - this == link - encode(this).)
  const std::uintptr_t here = blocks.codec.encode(reinterpret_cast<const Block*>(this));
  const char* const first = first_block();
  auto block = [&](std::uint32_t i) { return reinterpret_cast<const Block*>(first + std::size_t{i} * block_size); };
  std::uintptr_t stray = 0;
#pragma GCC unroll 4
  for (std::uint32_t i = 0; i < extended; ++i) stray |= track::peek(&block(i)->link) - here;
  if (stray >> kSegmentShift == 0) return nullptr;
  std::uint32_t i = 0;
  while (looks_free(block(i))) ++i;
  return block(i);
}

void Segment::check_none_live() const noexcept {
  const bool summed = out_sum_exact && !has_thread_free();
  if (summed && blocks.out_sum == 0) return;
  if (const Block* live = live_block())
    report_misuse(
        "free(): double free (of another block of its class) or write after free: its segment counts every block "
        "freed, but this one is not free:",
        live, MisusedBlock::of_class(block_size));
  // The sum says a block is live, but each looks free (its first word was
  // set to a link's): name the segment.
  if (summed)
    report_misuse(
        "free(): double free (of another block of its class): its segment counts every block freed, but the blocks "
        "freed are not the blocks allocated; in the segment at",
        this, MisusedBlock::of_class(block_size));
}

bool Segment::take_local() noexcept {
  if (FreeBlocks::is_end(local_free)) return false;
  blocks.free = local_free;
  local_free = list_end();
  free_is_zero = false;
  return true;
}

bool Segment::has_thread_free() const noexcept {
  return thread_free_word::head(thread_free.load(std::memory_order_relaxed)) != nullptr;
}

bool Segment::take_thread_free() noexcept {
  using namespace thread_free_word;
  TINYALLOC_ASSERT(blocks.empty());
  std::uint64_t w = thread_free.load(std::memory_order_relaxed);
  if (head(w) == nullptr) return false;
  // Take the list and its count; keep the hand-off state.
  while (!thread_free.compare_exchange_weak(w, state(w), std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
  blocks.free = head(w);
  blocks.used -= count(w);
  out_sum_exact = false;
  free_is_zero = false;
  return true;
}

bool Segment::all_returned() const noexcept {
  return blocks.used == thread_free_word::count(thread_free.load(std::memory_order_acquire));
}

bool Segment::extend() noexcept {
  if (extended >= capacity) return false;
  std::uint32_t n = static_cast<std::uint32_t>(kExtendBytes / block_size);
  if (n == 0) n = 1;
  if (n > capacity - extended) n = capacity - extended;
  char* first = first_block() + std::size_t{extended} * block_size;
  // Linked in address order, so consecutive mallocs walk memory forwards;
  // secure builds link them in a random order instead (as mimalloc's secure
  // mode does), so where the next block lands cannot be told from the last.
  std::uint16_t order[kSecure ? kExtendBytes / 8 : 1];
  if constexpr (kSecure) {
    for (std::uint32_t i = 0; i < n; ++i) order[i] = static_cast<std::uint16_t>(i);
    std::uint64_t x = blocks.codec.key ^ g_extend_draws.fetch_add(1, std::memory_order_relaxed);
    for (std::uint32_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<std::uint32_t>(next_random(x) % (i + 1));
      const std::uint16_t t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }
  auto at = [&](std::uint32_t i) {
    if constexpr (kSecure) i = order[i];
    return reinterpret_cast<Block*>(first + std::size_t{i} * block_size);
  };
  if constexpr (kSecure) {
    for (std::uint32_t i = 0; i + 1 < n; ++i) at(i)->link = blocks.codec.encode(at(i + 1));
  } else {
    // Each block links to the next one up; encoding is a translation
    // (LinkCodec), so the links go up by block_size too: one add a block.
    std::uintptr_t link = blocks.codec.encode(reinterpret_cast<const Block*>(first + block_size));
    for (char *p = first, *last = first + std::size_t{n - 1} * block_size; p != last;
         p += block_size, link += block_size)
      reinterpret_cast<Block*>(p)->link = link;
  }
  at(n - 1)->link = blocks.codec.encode(blocks.free);
  blocks.free = at(0);
  free_is_zero = bump_is_zero;
  extended += n;
  grid.cover(extended, block_size);
  return true;
}

bool Segment::refill() noexcept {
  if (!blocks.empty()) return true;
  if (has_thread_free() && all_returned()) {
    // Every block is free, some freed by other threads: carve the segment
    // again from its start rather than hand out their frees' order.
    // Consecutive mallocs then get neighbouring blocks, as in a fresh segment
    // (whose pages are still resident).
    // Hardened: a block the owner freed twice, with others in between, made
    // the count reach "all returned" with a block still live.  Popping the
    // lists would catch it (FreeBlocks::pop); carving anew discards them, so
    // look for the live block first.  Only the owner's frees need this: a
    // remote double free is caught at the free (the block looks free).
    if (kHardened && !FreeBlocks::is_end(local_free)) check_none_live();
    take_thread_free();
    track::reclaimed(first_block(), std::size_t{extended} * block_size);
    reached = static_cast<std::uint32_t>(reach());
    blocks.free = list_end();
    blocks.out_sum = 0;
    out_sum_exact = true;
    local_free = list_end();
    extended = 0;
    bump_is_zero = false;
    return extend();
  }
  return take_local() || take_thread_free() || extend();
}

void Segment::end_hand_off(Block* handed) noexcept {
  using namespace thread_free_word;
  if constexpr (kHardened) handed_off_block.store(handed, std::memory_order_relaxed);
  std::uint64_t w = thread_free.load(std::memory_order_relaxed);
  while (!thread_free.compare_exchange_weak(w, with_state(w, kNormal), std::memory_order_release,
                                            std::memory_order_relaxed)) {
  }
}

bool Segment::enter_full() noexcept {
  using namespace thread_free_word;
  std::uint64_t w = thread_free.load(std::memory_order_relaxed);
  do {
    if (head(w) != nullptr) return false;  // a remote free came in: refill again
  } while (!thread_free.compare_exchange_weak(w, with_state(w, kHandOff), std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
  return true;
}

void Segment::leave_full() noexcept {
  using namespace thread_free_word;
  std::uint64_t w = thread_free.load(std::memory_order_relaxed);
  // Only HandOff goes back to Normal; a freer HandingOff ends it itself.
  while (state(w) == kHandOff && !thread_free.compare_exchange_weak(
                                     w, with_state(w, kNormal), std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
}

void Segment::wait_hand_off() noexcept {
  using namespace thread_free_word;
  // A freer is between winning the state and ending it: a few instructions,
  // unless it was descheduled; then let it run.
  for (int spins = 0; state(thread_free.load(std::memory_order_acquire)) == kHandingOff; ++spins) {
    if (spins < 64) {
      region::cpu_relax();
    } else {
      region::sleep_ms(0);
    }
  }
}

void Segment::collect_hand_off() noexcept {
  wait_hand_off();  // acquires the freer's end_hand_off: its store is seen
  if constexpr (kHardened) handed_off_block.store(nullptr, std::memory_order_relaxed);
}

void Segment::stop_hand_offs() noexcept {
  using namespace thread_free_word;
  for (;;) {
    wait_hand_off();
    std::uint64_t w = thread_free.load(std::memory_order_acquire);
    if (state(w) == kNormal) return;
    if (state(w) == kHandOff && thread_free.compare_exchange_weak(w, with_state(w, kNormal), std::memory_order_acq_rel,
                                                                  std::memory_order_acquire))
      return;
  }
}

}  // namespace tinyalloc

namespace tinyalloc {

bool Segment::check() const noexcept {
  if (kind != SegmentKind::Small || !cookie_ok() || extended > capacity) return false;
  // The sum of the blocks out (hardened, out_sum exact): the carved blocks'
  // less those on the lists, which length() takes off as it walks them.
  std::uint32_t sum_out = 0;
  for (std::uint32_t i = 0; i < extended; ++i)
    sum_out += FreeBlocks::low_bits(reinterpret_cast<const Block*>(first_block() + std::size_t{i} * block_size));
  // Length of a list, or -1 if it leaves the segment, is off the grid, goes
  // past the carved blocks or is longer than the segment (a cycle).
  auto length = [&](const Block* head) -> long {
    long n = 0;
    for (const Block* x = head; !FreeBlocks::is_end(x); x = blocks.codec.decode(x->link)) {
      sum_out -= FreeBlocks::low_bits(x);
      if (!same_window(x, this) || !is_block_start(x) || ++n > static_cast<long>(capacity)) return -1;
      const auto index = static_cast<std::size_t>(reinterpret_cast<const char*>(x) -
                                                  (reinterpret_cast<const char*>(this) + kFirstBlock)) /
                         block_size;
      if (index >= extended) return -1;
    }
    return n;
  };
  const long on_free = length(blocks.free), on_local = length(local_free);
  if (on_free < 0 || on_local < 0) return false;
  const std::uint32_t remote = thread_free_word::count(thread_free.load(std::memory_order_acquire));
  if (kHardened && out_sum_exact && !has_thread_free() && sum_out != blocks.out_sum) return false;
  return static_cast<long>(blocks.used) == static_cast<long>(extended) - on_free - on_local && remote <= blocks.used;
}

}  // namespace tinyalloc
