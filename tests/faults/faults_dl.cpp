// A shared library loaded and unloaded by test_dlopen.cpp.  It allocates in
// its constructor (C and C++), hands blocks to the program, frees blocks the
// program allocated, and frees its own state in its destructor.  It links no
// allocator: its malloc is whatever the process's is (tinyalloc's override).
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {
char* g_table = nullptr;
std::vector<std::string>* g_words = nullptr;

__attribute__((constructor)) void load() {
  g_table = static_cast<char*>(std::malloc(3000));
  std::memset(g_table, 'T', 3000);
  g_words = new std::vector<std::string>;
  for (int i = 0; i < 200; ++i) g_words->push_back("word number " + std::to_string(i) + std::string(i % 50, '.'));
}

__attribute__((destructor)) void unload() {
  std::free(g_table);
  delete g_words;
}
}  // namespace

extern "C" __attribute__((visibility("default"))) void* dl_make(std::size_t n, int fill) {
  void* p = std::malloc(n);
  if (p != nullptr) std::memset(p, fill, n);
  return p;
}

extern "C" __attribute__((visibility("default"))) void dl_take(void* p) { std::free(p); }

// Sum of the constructor's data: proves it ran and is intact.
extern "C" __attribute__((visibility("default"))) std::size_t dl_checksum() {
  std::size_t s = 0;
  for (int i = 0; i < 3000; ++i) s += static_cast<unsigned char>(g_table[i]);
  for (const auto& w : *g_words) s += w.size();
  return s;
}

// A thread inside the library allocates n blocks and returns them (the
// thread has exited when the caller frees them).
extern "C" __attribute__((visibility("default"))) void dl_thread_blocks(void** out, int n) {
  std::thread([=] {
    for (int i = 0; i < n; ++i) out[i] = dl_make(16 + 16 * static_cast<std::size_t>(i), i & 0xff);
  }).join();
}
