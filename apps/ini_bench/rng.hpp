// splitmix64: tiny, fast, and fully specified, so the stream is identical on
// every machine and under every allocator.  Statistical quality is irrelevant
// here: the corpora and the mixed workload need determinism, not uniformity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Modulo bias is harmless: we need determinism, not uniformity.
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
    std::uint32_t between(std::uint32_t lo, std::uint32_t hi) { return lo + below(hi - lo + 1); }
    bool percent(std::uint32_t p) { return below(100) < p; }

    template <std::size_t N>
    std::string_view pick(const std::string_view (&items)[N]) {
        return items[below(static_cast<std::uint32_t>(N))];
    }

private:
    std::uint64_t state_;
};
