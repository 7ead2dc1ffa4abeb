// The process secret, header cookies, link keys and misuse reports.
#include <cstdio>

#include "tinyalloc/segment.hpp"

namespace tinyalloc {
std::atomic<std::uint64_t> detail::g_secret{0};

std::uint64_t process_secret() noexcept {
  using detail::g_secret;
  std::uint64_t s = g_secret.load(std::memory_order_relaxed);
  if (s != 0) return s;
  const std::uint64_t fresh = region::random_u64();
  std::uint64_t expected = 0;
  return g_secret.compare_exchange_strong(expected, fresh, std::memory_order_relaxed) ? fresh : expected;
}

std::uint32_t header_cookie(const void* header) noexcept { return detail::cookie_from(process_secret(), header); }

std::uintptr_t link_key(const void* segment) noexcept {
  return detail::mix(process_secret() ^ reinterpret_cast<std::uintptr_t>(segment)) | 1;
}

void report_misuse(const char* what, const void* p, MisusedBlock block) noexcept {
  char buf[320];
  int n;
  switch (block.kind) {
    case MisusedBlock::Kind::Class:
      n = std::snprintf(buf, sizeof buf, "tinyalloc: %s %p (size class %zu B)\n", what, p, block.bytes);
      break;
    case MisusedBlock::Kind::Large:
      n = std::snprintf(buf, sizeof buf, "tinyalloc: %s %p (large block, %zu B)\n", what, p, block.bytes);
      break;
    default:
      n = std::snprintf(buf, sizeof buf, "tinyalloc: %s %p (not a tinyalloc block)\n", what, p);
  }
  if (n > 0) {
    // One line even if truncated.
    const std::size_t len = static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1;
    buf[len - 1] = '\n';
    region::write_all(2, buf, len);
  }
  region::abort_process();
}

}  // namespace tinyalloc
