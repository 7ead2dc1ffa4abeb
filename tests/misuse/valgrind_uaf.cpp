// Reads a block after freeing it (run under valgrind by
// scripts/ci_valgrind.sh, which expects memcheck to report an invalid read).
#include "valgrind_program.hpp"

int main() {
  auto* p = static_cast<volatile char*>(checked_malloc(200));
  for (int i = 0; i < 200; ++i) p[i] = static_cast<char>(i);
  void (*volatile do_free)(void*) = std::free;
  do_free(const_cast<char*>(p));
  const int v = p[100];  // use after free
  std::printf("read %d after free\n", v);
  return 0;
}
