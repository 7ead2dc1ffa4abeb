// malloc_pairs: the bare small malloc/free pair, for instruction counts.
//
//   malloc_pairs [ROUNDS]      (default 20000)
//
// Each round mallocs 64 blocks of 16-128 B (sizes cycle through the small
// classes) and frees them in order: 64 * ROUNDS pairs, the same every run,
// so `valgrind --tool=callgrind` counts of malloc and free divided by the
// pairs are the allocator's instructions per pair (scripts/count_instructions.sh).
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    const long rounds = argc > 1 ? std::atol(argv[1]) : 20000;
    void* p[64];
    unsigned long sum = 0;
    for (long r = 0; r < rounds; ++r) {
        for (int i = 0; i < 64; ++i) {
            p[i] = std::malloc(static_cast<std::size_t>(16 + (i * 7 + r) % 113));
            if (p[i] == nullptr) return 1;
            sum += reinterpret_cast<unsigned long>(p[i]) & 0xff;
        }
        for (int i = 0; i < 64; ++i) std::free(p[i]);
    }
    std::printf("%lu\n", sum);
    return 0;
}
