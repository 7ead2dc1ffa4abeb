#include "log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "globals.hpp"

namespace tinyalloc::detail {

void say(const char* fmt, ...) noexcept {
  static constexpr char kPrefix[] = "tinyalloc: ";
  constexpr std::size_t kLen = sizeof kPrefix - 1;
  const int saved_errno = errno;  // callers report failures whose errno must survive
  char buf[512];
  std::memcpy(buf, kPrefix, kLen);
  std::va_list args;
  va_start(args, fmt);
  const int body = std::vsnprintf(buf + kLen, sizeof buf - kLen - 1, fmt, args);  // keep a byte for '\n'
  va_end(args);
  if (body >= 0) {
    std::size_t n = kLen + std::min(static_cast<std::size_t>(body), sizeof buf - kLen - 2);
    buf[n++] = '\n';
    region::write_all(2, buf, n);
  }
  errno = saved_errno;
}

void warn(const char* msg, const char* detail) noexcept { say("%s%s", msg, detail ? detail : ""); }

bool first_time(std::atomic<bool>& said) noexcept {
  return g_globals->options.verbose && !said.load(std::memory_order_relaxed) &&
         !said.exchange(true, std::memory_order_relaxed);
}

}  // namespace tinyalloc::detail
