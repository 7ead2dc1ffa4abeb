// Leaks one 4242-byte block (run under valgrind by scripts/ci_valgrind.sh,
// which expects memcheck's leak check to report it as definitely lost).
#include <cstring>

#include "valgrind_program.hpp"

int main() {
  void* p = checked_malloc(4242);
  std::memset(p, 1, 4242);
  p = nullptr;                     // the only reference is gone
  std::free(checked_malloc(100));  // a block that is freed: not reported
  return 0;
}
