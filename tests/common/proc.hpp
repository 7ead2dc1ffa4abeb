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

}  // namespace test_proc
