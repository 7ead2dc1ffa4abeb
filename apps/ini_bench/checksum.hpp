// A document's checksum: depends only on its contents (std::map iterates in
// key order), never on addresses, so it is identical under every allocator.
// It reads each key and value buffer (first/last byte), so the heap memory
// the allocator handed out is actually touched, and performs the corpus'
// probe lookups.
#pragma once

#include "corpus.hpp"
#include "ini.hpp"

#include <cstdint>
#include <string>
#include <vector>

// FNV-style mixing of 64-bit words.
struct Mixer {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    void add(std::uint64_t v) {
        h ^= v;
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    void add_string(const std::string& s) {
        add(s.size());
        if (!s.empty()) add((static_cast<unsigned char>(s.front()) << 8) | static_cast<unsigned char>(s.back()));
    }
};

std::uint64_t checksum(const ini::Document& doc, const std::vector<corpus::Probe>& probes);
