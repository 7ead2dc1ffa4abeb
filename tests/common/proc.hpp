// Test support: reading this process's state from /proc.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace test_proc {

/// Resident set size in KiB (VmRSS), or -1 if /proc is unreadable.
inline long vm_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

/// A field of /proc/meminfo in KiB ("MemTotal", "SwapTotal", ...), or -1.
inline long meminfo_kib(const std::string& field) {
  std::ifstream f("/proc/meminfo");
  std::string line;
  const std::string key = field + ":";
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  return -1;
}

/// /proc/sys/vm/overcommit_memory: 0 heuristic, 1 always, 2 strict; -1 if unreadable.
inline int overcommit_mode() {
  std::ifstream f("/proc/sys/vm/overcommit_memory");
  int mode = -1;
  if (!(f >> mode)) return -1;
  return mode;
}

}  // namespace test_proc
