// Misuse reports: what the program did wrong, in one line, then abort.
#pragma once

namespace tinyalloc {
/// "tinyalloc: <what> <p>" on stderr, then abort().  Never returns, never
/// allocates.
[[noreturn]] void report_misuse(const char* what, const void* p) noexcept;
}  // namespace tinyalloc
