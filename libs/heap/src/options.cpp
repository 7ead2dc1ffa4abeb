// Options from the environment (TINYALLOC_*), read once at start-up.
//
// Runs inside the first malloc, possibly before main and before the C
// library is fully set up: no allocation, only getenv and snprintf into stack
// buffers.  A malformed value never stops the program: one line on stderr
// names the variable and the value kept instead (the built-in default, or
// what set_options() gave), and start-up goes on.
#include <cstdio>
#include <cstdlib>
#include <strings.h>

#include "globals.hpp"

namespace tinyalloc::detail {
namespace {

// Upper bounds that keep later arithmetic (MiB -> bytes, now + delay) far
// from overflow; a larger value is treated as malformed.
constexpr std::uint64_t kMaxCacheMiB = std::uint64_t{1} << 20;      // 1 TiB
constexpr std::uint64_t kMaxPurgeDelayMs = std::uint64_t{1} << 32;  // ~49 days

void malformed(const char* name, const char* value, const char* expected, const char* kept) noexcept {
  say("ignoring %s=\"%.40s\" (expected %s); using %s", name, value, expected, kept);
}

bool parse_uint(const char* s, std::uint64_t max, std::uint64_t& out) noexcept {
  if (*s == '\0') return false;
  std::uint64_t v = 0;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(*s - '0');
    if (v > max) return false;
  }
  out = v;
  return true;
}

void env_uint(const char* name, std::uint64_t max, std::uint64_t& field) noexcept {
  const char* v = ::getenv(name);
  if (v == nullptr) return;
  if (parse_uint(v, max, field)) return;
  char expected[64], kept[24];
  std::snprintf(expected, sizeof expected, "an integer from 0 to %llu", static_cast<unsigned long long>(max));
  std::snprintf(kept, sizeof kept, "%llu", static_cast<unsigned long long>(field));
  malformed(name, v, expected, kept);
}

void env_bool(const char* name, bool& field) noexcept {
  const char* v = ::getenv(name);
  if (v == nullptr) return;
  for (const char* yes : {"1", "true", "yes", "on"})
    if (::strcasecmp(v, yes) == 0) {
      field = true;
      return;
    }
  for (const char* no : {"0", "false", "no", "off"})
    if (::strcasecmp(v, no) == 0) {
      field = false;
      return;
    }
  malformed(name, v, "0 or 1", field ? "1" : "0");
}

const char* strategy_name(LargeStrategy s) noexcept {
  switch (s) {
    case LargeStrategy::Direct:
      return "direct";
    case LargeStrategy::Slots:
      return "slots";
    case LargeStrategy::Regions:
      break;
  }
  return "regions";
}

void env_strategy(const char* name, LargeStrategy& field) noexcept {
  const char* v = ::getenv(name);
  if (v == nullptr) return;
  if (::strcasecmp(v, "direct") == 0) {
    field = LargeStrategy::Direct;
  } else if (::strcasecmp(v, "regions") == 0 || ::strcasecmp(v, "cached") == 0) {  // cached: the former name
    field = LargeStrategy::Regions;
  } else if (::strcasecmp(v, "slots") == 0) {
    field = LargeStrategy::Slots;
  } else {
    malformed(name, v, "regions, slots or direct", strategy_name(field));
  }
}

}  // namespace

Options options_from_environment(Options o) noexcept {
  env_strategy("TINYALLOC_LARGE", o.large);
  std::uint64_t cache_mib = o.large_cache.max_bytes >> 20;
  env_uint("TINYALLOC_LARGE_CACHE_MB", kMaxCacheMiB, cache_mib);
  o.large_cache.max_bytes = static_cast<std::size_t>(cache_mib) << 20;
  // One delay for both kinds of idle memory: empty segments and cached
  // large mappings.
  env_uint("TINYALLOC_PURGE_DELAY_MS", kMaxPurgeDelayMs, o.arena.purge_delay_ms);
  o.large_cache.purge_delay_ms = o.arena.purge_delay_ms;
  // Ablations of the region cache (TINYALLOC_LARGE=regions).
  env_bool("TINYALLOC_LARGE_SPLIT", o.large_cache.split_coalesce);
  env_bool("TINYALLOC_LARGE_DECAY", o.large_cache.decay);
  env_bool("TINYALLOC_LARGE_POPULATE", o.large_cache.populate);
  env_bool("TINYALLOC_EAGER_COMMIT", o.arena.prefault);
  std::uint64_t borrow = o.arena.borrow_windows;
  env_uint("TINYALLOC_BORROW_WINDOWS", Arena::kMaxWindows - 1, borrow);
  o.arena.borrow_windows = static_cast<std::size_t>(borrow);
  env_bool("TINYALLOC_PURGE_THREAD", o.purge_thread);
  env_bool("TINYALLOC_SHOW_STATS", o.show_stats);
  env_bool("TINYALLOC_VERBOSE", o.verbose);
  return o;
}

void say_options(const Options& o, bool from_code) noexcept {
  say("options%s: TINYALLOC_LARGE=%s TINYALLOC_LARGE_CACHE_MB=%llu TINYALLOC_PURGE_DELAY_MS=%llu "
      "TINYALLOC_LARGE_SPLIT=%d TINYALLOC_LARGE_DECAY=%d TINYALLOC_LARGE_POPULATE=%d "
      "TINYALLOC_PURGE_THREAD=%d TINYALLOC_EAGER_COMMIT=%d TINYALLOC_BORROW_WINDOWS=%zu TINYALLOC_SHOW_STATS=%d "
      "TINYALLOC_VERBOSE=%d; "
      "statistics counters %s",
      from_code ? " (set_options, then environment)" : "", strategy_name(o.large),
      static_cast<unsigned long long>(o.large_cache.max_bytes >> 20),
      static_cast<unsigned long long>(o.arena.purge_delay_ms), o.large_cache.split_coalesce ? 1 : 0,
      o.large_cache.decay ? 1 : 0, o.large_cache.populate ? 1 : 0, o.purge_thread ? 1 : 0, o.arena.prefault ? 1 : 0,
      o.arena.borrow_windows, o.show_stats ? 1 : 0, o.verbose ? 1 : 0,
      TINYALLOC_STATS ? "compiled in" : "compiled out (TINYALLOC_STATS=OFF)");
}

}  // namespace tinyalloc::detail
