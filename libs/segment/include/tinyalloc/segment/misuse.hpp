// Misuse reports: what the program did wrong, in one line, then abort.
#pragma once

#include <cstddef>

namespace tinyalloc {

/// What a report says about the block a misused pointer is (or was) in.
struct MisusedBlock {
  enum class Kind : unsigned char { None, Class, Large };
  Kind kind;
  std::size_t bytes;  ///< Class: the size class's block size; Large: the block's usable bytes

  static constexpr MisusedBlock none() noexcept { return {Kind::None, 0}; }
  static constexpr MisusedBlock of_class(std::size_t block_size) noexcept { return {Kind::Class, block_size}; }
  static constexpr MisusedBlock large(std::size_t usable) noexcept { return {Kind::Large, usable}; }
};

/// "tinyalloc: <what> <p> (<block>)" on stderr, then abort(), where <block>
/// names the size class ("size class 48 B"), a large block's size, or "not a
/// tinyalloc block".  Never returns, never allocates.
[[noreturn]] void report_misuse(const char* what, const void* p, MisusedBlock block) noexcept;

}  // namespace tinyalloc
