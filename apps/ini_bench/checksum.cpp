#include "checksum.hpp"

std::uint64_t checksum(const ini::Document& doc, const std::vector<corpus::Probe>& probes) {
    Mixer m;
    m.add(doc.size());
    for (const auto& [name, section] : doc) {
        m.add_string(name);
        m.add(section.size());
        for (const auto& [key, value] : section) {
            m.add_string(key);
            m.add_string(value);
        }
    }
    for (const auto& probe : probes) {
        const auto s = doc.find(probe.section);
        if (s == doc.end()) {
            m.add(0xdead);
            continue;
        }
        const auto kv = s->second.find(probe.key);
        if (kv == s->second.end()) {
            m.add(0xbeef);
            continue;
        }
        for (const char c : kv->second) m.add(static_cast<unsigned char>(c));
    }
    return m.h;
}
