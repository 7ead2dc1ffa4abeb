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
#include <optional>
#include <string>
#include <string_view>
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

// ~32 MiB: the large corpus' recipe (another seed) at eight times the size,
// so a document no longer fits any cache and the allocator's large-block and
// segment provisioning paths carry real weight.
Corpus make_huge();

// "small", "large" or "huge"; nullopt for anything else.
std::optional<Corpus> make(std::string_view name);

}  // namespace corpus
