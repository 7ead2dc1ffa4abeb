#include "checksum.hpp"
#include "ini.hpp"
#include "modes.hpp"
#include "rng.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

// Live documents and the edits made to them.  Everything is driven by one
// fixed-seed Rng, so the final state -- and its checksum -- depends only on
// the corpus and the number of operations, never on the allocator.
class Store {
public:
    Store(const corpus::Corpus& c, const Reference& ref) : c_(c), rng_(0x5eed'0004'0d0c'5000ULL) {
        // Keep about 16 MiB of corpus text alive as documents: 64 copies of
        // the small corpus, 4 of the large, 2 of the huge.
        const std::size_t slots = std::clamp<std::size_t>((std::size_t{16} << 20) / c.text.size(), 2, 64);
        slots_.resize(slots);
        for (auto& slot : slots_) slot = std::make_unique<ini::Document>(ini::parse(c.text));
        for (const auto& [name, section] : *slots_[0])
            for (const auto& [key, value] : section) names_.push_back({name, key});
        edits_ = std::max<std::size_t>(16, ref.keys / 8);
    }

    // One operation: a fresh document replaces a random one, then `edits_`
    // random edits land on random live documents.
    void step() {
        ++step_;
        slots_[rng_.below(size())] = std::make_unique<ini::Document>(ini::parse(c_.text));
        for (std::size_t e = 0; e < edits_; ++e) edit(*slots_[rng_.below(size())]);
    }

    std::uint64_t checksum() const {
        Mixer m;
        m.add(seen_);
        for (const auto& slot : slots_) m.add(::checksum(*slot, c_.probes));
        return m.h;
    }

private:
    std::uint32_t size() const { return static_cast<std::uint32_t>(slots_.size()); }

    void edit(ini::Document& doc) {
        const corpus::Probe& name = names_[rng_.below(static_cast<std::uint32_t>(names_.size()))];
        ini::Section& section = doc[name.section];  // sections are never erased
        switch (rng_.below(4)) {
            case 0: {  // lookup (the key may have been erased earlier)
                const auto kv = section.find(name.key);
                seen_ += kv == section.end() ? 1 : kv->second.size();
                break;
            }
            case 1:  // rewrite with a new length: often a new heap block
                section[name.key] = value();
                break;
            case 2: section.erase(name.key); break;
            default:  // a new key, which lives as long as its document
                section[name.key + '~' + std::to_string(step_)] = value();
                break;
        }
    }

    std::string value() { return std::string(rng_.between(1, 200), static_cast<char>('a' + step_ % 26)); }

    const corpus::Corpus& c_;
    Rng rng_;
    std::vector<std::unique_ptr<ini::Document>> slots_;
    std::vector<corpus::Probe> names_;  // every (section, key) of the corpus
    std::size_t edits_ = 0;
    std::uint64_t step_ = 0;
    std::uint64_t seen_ = 0;
};

}  // namespace

Result run_mixed(const corpus::Corpus& c, const Reference& ref, const Settings& s) {
    Store store(c, ref);
    Result r = time_loops("mixed", c, s, [&](int iterations) {
        for (int i = 0; i < iterations; ++i) store.step();
    });
    r.checksum = store.checksum();
    return r;
}
