#include "large_checks.hpp"

#include "canary.hpp"
#include "tinyalloc/large.hpp"

namespace tinyalloc::detail::large_checks {
namespace {

std::size_t page() noexcept { return region::page_size(); }
char* page_end(const void* p) noexcept {
  return reinterpret_cast<char*>(region::align_up(reinterpret_cast<std::uintptr_t>(p) + 1, page()));
}

/// Where the block's memory ends for its canary: at its trailing guard page
/// (secure) or at the end of its mapping.
const char* block_end(const void* p, std::size_t n) noexcept {
  if constexpr (kSecure) return page_end(static_cast<const char*>(p) + n - 1);
  const large::LargeHeader* h = large::header_of(p);
  return h->base + h->mapped;
}

std::uint64_t poison_word(const void* p) noexcept { return ~canary_word(p); }

/// Freed blocks whose first page holds the poison pattern.  A strategy hands
/// ranges back out without telling the front end what they held, so the
/// front end remembers the block starts it poisoned (the last kSlots), and
/// forgets one as soon as a block it hands out covers it: only a block
/// handed out at exactly a remembered start, with nothing handed out over
/// it in between, can find the pattern there and be checked.  A free of a
/// remembered start is a double free.
class PoisonedStarts {
 public:
  void add(const void* p, std::size_t size) noexcept {
    region::LockGuard hold(lock_);
    at_[next_] = Freed{p, size};
    next_ = (next_ + 1) % kSlots;
  }
  /// Forget every start in [from, to); true if p was one of them.
  bool take(const void* p, const char* from, const char* to) noexcept {
    bool found = false;
    region::LockGuard hold(lock_);
    for (Freed& f : at_) {
      if (f.start >= static_cast<const void*>(from) && f.start < static_cast<const void*>(to)) {
        found |= f.start == p;
        f.start = nullptr;
      }
    }
    return found;
  }
  /// The size of the freed block that started at p, or 0 if none is remembered.
  std::size_t find(const void* p) noexcept {
    region::LockGuard hold(lock_);
    for (const Freed& f : at_) {
      if (f.start == p) return f.size;
    }
    return 0;
  }

 private:
  struct Freed {
    const void* start;
    std::size_t size;  ///< bytes it was asked for
  };
  static constexpr unsigned kSlots = 32;
  region::Lock lock_;
  Freed at_[kSlots] = {};
  unsigned next_ = 0;
};
constinit PoisonedStarts g_poisoned;

/// The poisoned bytes of the block at p: from p to the end of its page, in
/// whole chunks of 64 bytes (p is at least 64-aligned in its page: its
/// offset is kHeaderRoom or an alignment), so the loops below vectorize.
struct PoisonedChunks {
  static constexpr std::size_t kWords = 8;
  std::uint64_t (*first)[kWords];
  std::size_t count;
  explicit PoisonedChunks(const void* p) noexcept
      : first(static_cast<std::uint64_t (*)[kWords]>(const_cast<void*>(p))),
        count(static_cast<std::size_t>(page_end(p) - static_cast<const char*>(p)) / sizeof(*first)) {}
};

void poison(void* p) noexcept {
  const PoisonedChunks chunks(p);
  const std::uint64_t w = poison_word(p);
  for (std::size_t c = 0; c < chunks.count; ++c)
    for (std::uint64_t& v : chunks.first[c]) v = w;
}

/// p's first page as poison() left it, or all zero: its pages were given
/// back to the OS while it was free (or unmapped and mapped again).
void check_poison(const void* p) noexcept {
  const PoisonedChunks chunks(p);
  const std::uint64_t w = poison_word(p);
  std::uint64_t changed = 0, nonzero = 0;  // accumulated without a branch
  for (std::size_t c = 0; c < chunks.count; ++c) {
    for (std::uint64_t v : chunks.first[c]) {
      changed |= v ^ w;
      nonzero |= v;
    }
  }
  if (changed != 0 && nonzero != 0)
    report_misuse("malloc(): write after free to a large block (its first page changed while it was free):", p,
                  MisusedBlock::large(large::usable_size(p)));
}

/// Secure builds: make the guard pages of the block at p (n bytes asked
/// for) inaccessible, or memory again: the page before p (after the
/// header's) and the page after its bytes (request() left room for both).
bool set_guards(void* p, std::size_t n, bool on) noexcept {
  if constexpr (!kSecure) return true;
  char* c = static_cast<char*>(p);
  return region::guard(c - page(), page(), on) && region::guard(page_end(c + n - 1), page(), on);
}

void forget_covered(const void* p, bool check) noexcept {
  const large::LargeHeader* h = large::header_of(p);
  if (g_poisoned.take(p, h->base, h->base + h->mapped) && check) check_poison(p);
}

}  // namespace

Request request(std::size_t size, std::size_t alignment) noexcept {
  if constexpr (!kSecure) return {size, alignment};
  // The user bytes start after the header's page and a guard page, and a
  // guard page follows them.  (A size too large for that is refused anyway.)
  std::size_t with_guard;
  if (__builtin_add_overflow(size, page(), &with_guard)) with_guard = size;
  return {with_guard, alignment > 2 * page() ? alignment : 2 * page()};
}

void handed_out(void* p, std::size_t n) noexcept {
  if constexpr (!kCanaries) return;
  forget_covered(p, true);
  (void)set_guards(p, n, true);  // if the kernel refuses (too many mappings), the block has no guard
  large::header_of(p)->requested = n;
  canary_write(p, n, block_end(p, n));
}

bool resizing(void* p) noexcept { return set_guards(p, large::header_of(p)->requested, false); }

void resized(void* p, std::size_t n) noexcept {
  if constexpr (!kCanaries) return;
  forget_covered(p, false);
  (void)set_guards(p, n, true);
  large::header_of(p)->requested = n;
  canary_write(p, n, block_end(p, n));
}

std::size_t freed_size(const void* p) noexcept { return kCanaries ? g_poisoned.find(p) : 0; }

bool canary_intact(const void* p) noexcept {
  const std::size_t n = large::header_of(p)->requested;
  return detail::canary_intact(p, n, block_end(p, n));
}

bool freeing(void* p) noexcept {
  if constexpr (!kCanaries) return true;
  const std::size_t n = large::header_of(p)->requested;
  if constexpr (kSecure) {
    if (!set_guards(p, n, false)) return false;
    region::zero(p, n);
  }
  poison(p);
  g_poisoned.add(p, n);
  return true;
}

}  // namespace tinyalloc::detail::large_checks
