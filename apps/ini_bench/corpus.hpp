// Deterministic INI corpora for ini_bench.
//
// The text is produced in-process from a fixed-seed PRNG using integer
// arithmetic only (no <random> distributions, whose output is
// implementation-defined, and nothing that depends on addresses or on the
// allocator), so every run, every allocator and every machine sees exactly
// the same bytes -- which is what makes the checksum comparable across
// LD_PRELOADed allocators.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace corpus {

// A (section, key) pair looked up after every parse, so the benchmark also
// exercises lookups and the result depends on the document's contents.
// Some probes intentionally name keys that do not exist.
struct Probe {
    std::string section;
    std::string key;
};

struct Corpus {
    std::string name;
    std::string text;
    std::vector<Probe> probes;
};

// ~3.5 KB: one typical service configuration (a dozen sections).
Corpus make_small();

// ~4 MiB: thousands of sections with widely varying key/value lengths.
Corpus make_large();

}  // namespace corpus
