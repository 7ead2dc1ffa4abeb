// Messages on stderr, without allocating.
#pragma once

#include <atomic>

namespace tinyalloc::detail {

/// Print "tinyalloc: <msg><detail>" on stderr.
void warn(const char* msg, const char* detail = nullptr) noexcept;
/// The same, printf-style (one line, at most 512 bytes).  errno is preserved.
void say(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

/// TINYALLOC_VERBOSE reports each rare event the first time it happens:
/// enough to explain a NULL or a slow realloc, never a flood.  True the first
/// time it is asked for `said` with verbose on.
bool first_time(std::atomic<bool>& said) noexcept;

}  // namespace tinyalloc::detail
