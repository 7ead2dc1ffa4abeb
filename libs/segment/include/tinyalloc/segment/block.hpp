// Free blocks, their encoded links, and the process secret the codes and the
// header cookies derive from.
#pragma once

#include <atomic>
#include <cstdint>

#include "tinyalloc/segment/config.hpp"

namespace tinyalloc {

/// A secret drawn once per process (region::random_u64), never 0.
std::uint64_t process_secret() noexcept;
/// The cookie a tinyalloc header at `header` carries.
std::uint32_t header_cookie(const void* header) noexcept;

namespace detail {
/// process_secret()'s value; 0 until the first call draws it.
extern std::atomic<std::uint64_t> g_secret;
inline std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
/// One multiply, as free()'s remote path checks it on every call: the
/// high half of (secret ^ address) * an odd constant.  Bound to the address
/// (a header copied elsewhere fails) and, from one cookie, not the secret.
inline std::uint32_t cookie_from(std::uint64_t secret, const void* header) noexcept {
  return static_cast<std::uint32_t>(((secret ^ reinterpret_cast<std::uintptr_t>(header)) * 0x9e3779b97f4a7c15ULL) >>
                                    32) |
         1u;
}
}  // namespace detail

/// `cookie` is the one a tinyalloc header at `header` carries.  Inline, for
/// free()'s remote path; it reads the secret without drawing it: no header
/// carries a cookie before the secret exists.
inline bool cookie_matches(const void* header, std::uint32_t cookie) noexcept {
  return cookie == detail::cookie_from(detail::g_secret.load(std::memory_order_relaxed), header);
}
/// A per-segment key for LinkCodec.
std::uintptr_t link_key(const void* segment) noexcept;

/// A free block: the link to the next free block lives inside the block,
/// encoded (LinkCodec), so a use-after-free write of a chosen address decodes
/// to garbage, which the pop check refuses instead of handing it out.
struct Block {
  std::uintptr_t link;
};

/// Per-segment key for free-list links (the idea of mimalloc's encoded free
/// list, in its cheapest form: one add or subtract each way).  The key
/// derives from the process secret and the segment's address, so a program
/// that writes an address into a freed block without first reading one out
/// cannot choose where the list leads; the pop check then refuses the
/// garbage.  The code is a translation, not an XOR, so that
/// encode(p + n) == encode(p) + n: a carve writes a run of blocks' links
/// with one add each (Segment::extend), as it would unencoded.
struct LinkCodec {
  std::uintptr_t key = 0;
  std::uintptr_t encode(const Block* next) const noexcept {
    return reinterpret_cast<std::uintptr_t>(next) + (kHardened ? key : 0);
  }
  Block* decode(std::uintptr_t link) const noexcept { return reinterpret_cast<Block*>(link - (kHardened ? key : 0)); }
};

}  // namespace tinyalloc
