// Hardened builds' checks of large blocks, kept in the front end (the large
// library's strategies know nothing of them):
//   - a canary after the bytes asked for (canary.hpp), checked by classify();
//   - a freed block's first page is filled with a pattern, checked when the
//     same block start is handed out again: a write into a large block
//     after it was freed, while it sits in the large cache, is caught there;
//   - secure builds: a guard page before the block's bytes and one after
//     them, and the block is zeroed when freed.
// LargePathOf calls these around its strategy; each is a no-op in builds
// without canaries.
#pragma once

#include <cstddef>

namespace tinyalloc::detail::large_checks {

/// What to ask the strategy for so that `size` bytes aligned to `alignment`
/// fit with their guard pages (secure builds; the request as is otherwise).
struct Request {
  std::size_t size, alignment;
};
Request request(std::size_t size, std::size_t alignment) noexcept;

/// p, the start of a large block of n bytes asked for, was just handed out
/// by the strategy: check its first page if it was a freed block's poisoned
/// one, forget poisoned pages the block's range covers, guard it (secure),
/// record n and write the canary.
void handed_out(void* p, std::size_t n) noexcept;
/// Secure builds: p is about to be resized; its guard pages are memory
/// again (false if the kernel refused: do not resize then).
bool resizing(void* p) noexcept;
/// The block at p now holds n bytes, in place or moved (resize), or, when
/// the resize failed, still its old size (its guards come back).
void resized(void* p, std::size_t n) noexcept;
/// If p is the start of one of the large blocks freed last (and not handed
/// out since), the size it had; else 0.  Says "double free" when p is no
/// longer tinyalloc's memory.
std::size_t freed_size(const void* p) noexcept;
/// The block's canary is intact.
bool canary_intact(const void* p) noexcept;
/// p goes back to the strategy next: zero it (secure), poison its first page
/// and remember it, remove its guard pages (secure).  False if a guard page
/// could not be made memory again: the block must not be reused then.
bool freeing(void* p) noexcept;

}  // namespace tinyalloc::detail::large_checks
