#include "checksum.hpp"
#include "ini.hpp"
#include "modes.hpp"

Result run_parse(const corpus::Corpus& c, const Reference& ref, const Settings& s) {
    Result r = time_loops("parse", c, s, [&](int iterations) {
        for (int i = 0; i < iterations; ++i) {
            // Destroyed at the end of the scope, inside the timed region, so
            // frees are measured too.
            const ini::Document doc = ini::parse(c.text);
            if (checksum(doc, c.probes) != ref.checksum) checksum_failure(c, "between parses");
        }
    });
    r.checksum = ref.checksum;
    return r;
}
