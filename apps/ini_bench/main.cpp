// ini_bench: parses INI text into std::map/std::string documents over and
// over and reports time per parse and peak RSS.  It deliberately links no
// tinyalloc library and uses the ordinary global allocator, so the same
// binary measures whichever malloc is LD_PRELOADed (see
// scripts/bench_compare.sh).
//
//   ini_bench [--corpus small|large|both] [--iterations N] [--repeat R] [--quiet]
//   ini_bench --selftest

#include "corpus.hpp"
#include "ini.hpp"

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Defaults sized so a plain `ini_bench` takes roughly 1-3 s on a small
// machine: ~5 x 20000 x ~10 us for small and ~5 x 6 x ~20 ms for large.
constexpr int kDefaultSmallIterations = 20000;
constexpr int kDefaultLargeIterations = 6;
constexpr int kDefaultRepeat = 5;

// ---------------------------------------------------------------------------
// Checksum: depends only on the parsed contents (std::map iterates in key
// order), never on addresses, so it is identical under every allocator.  It
// reads each key and value buffer (first/last byte) so the heap memory the
// allocator handed out is actually touched, and performs the corpus' probe
// lookups.

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

// ---------------------------------------------------------------------------
// Self-test: hand-written snippets with exactly known results.

struct SelfTestCase {
    const char* name;
    std::string_view text;
    ini::Document expected;
    std::vector<std::size_t> error_lines;
};

int run_selftest() {
    const std::vector<SelfTestCase> cases = {
        {"comments, sections, trimming, keys before any section",
         "; leading comment\n"
         "# hash comment\n"
         "top = level\n"
         "  indented = yes  \n"
         "\n"
         "[server]\n"
         "host = example.com   ; trailing comment\n"
         "port=8080\n"
         "url = http://h/#frag\n"
         "list = a;b\n"
         "tabbed\t=\tvalue\t# comment\n"
         "   [ spaced name ]   ; comment after header\n"
         "  key with spaces   =   value with spaces   # comment\n",
         {{"", {{"top", "level"}, {"indented", "yes"}}},
          {"server",
           {{"host", "example.com"}, {"port", "8080"}, {"url", "http://h/#frag"}, {"list", "a;b"}, {"tabbed", "value"}}},
          {"spaced name", {{"key with spaces", "value with spaces"}}}},
         {}},
        {"quoted values, escapes, empty values",
         R"INI([q]
plain = "hello world"
spaces = "  keep  "
escaped = "say \"hi\" to C:\\dir"
comment_chars = "a ; b # c"   ; real comment
other_backslash = "a\nb"
empty_quoted = ""
empty =
empty_comment = ; nothing
hash_value = #nothing either
equals = a=b=c
)INI",
         {{"q",
           {{"plain", "hello world"},
            {"spaces", "  keep  "},
            {"escaped", R"(say "hi" to C:\dir)"},
            {"comment_chars", "a ; b # c"},
            {"other_backslash", R"(a\nb)"},
            {"empty_quoted", ""},
            {"empty", ""},
            {"empty_comment", ""},
            {"hash_value", ""},
            {"equals", "a=b=c"}}}},
         {}},
        {"CRLF, duplicate keys, reopened and empty sections",
         "a = 1\r\n[s]\r\nk = v1\r\nk = v2\r\n[empty]\r\n[t]\r\nx = \"q\"\r\n[s]\r\nm = 3",
         {{"", {{"a", "1"}}}, {"s", {{"k", "v2"}, {"m", "3"}}}, {"empty", {}}, {"t", {{"x", "q"}}}},
         {}},
        {"malformed lines are reported and skipped",
         "[ok]\n"
         "a = 1\n"
         "no equals sign here\n"
         "[broken\n"
         "= no key\n"
         "q = \"unterminated\n"
         "r = \"x\" trailing\n"
         "[bad] junk\n"
         "[]\n"
         "b = 2\n",
         {{"ok", {{"a", "1"}, {"b", "2"}}}},
         {3, 4, 5, 6, 7, 8, 9}},
    };

    int failures = 0;
    for (const auto& tc : cases) {
        std::vector<ini::ParseError> errors;
        const ini::Document doc = ini::parse(tc.text, &errors);
        std::vector<std::size_t> lines;
        for (const auto& e : errors) lines.push_back(e.line);
        if (doc == tc.expected && lines == tc.error_lines) continue;

        ++failures;
        std::fprintf(stderr, "selftest FAILED: %s\n", tc.name);
        if (doc != tc.expected) {
            std::fprintf(stderr, "--- expected document:\n%s--- parsed document:\n%s", ini::dump(tc.expected).c_str(),
                         ini::dump(doc).c_str());
        }
        if (lines != tc.error_lines) {
            std::fprintf(stderr, "--- expected errors on lines:");
            for (const auto l : tc.error_lines) std::fprintf(stderr, " %zu", l);
            std::fprintf(stderr, "\n--- got errors:\n");
            for (const auto& e : errors) std::fprintf(stderr, "  line %zu: %s\n", e.line, e.message.c_str());
        }
    }

    // The generated corpora must parse without a single error.
    for (const corpus::Corpus& c : {corpus::make_small(), corpus::make_large()}) {
        std::vector<ini::ParseError> errors;
        (void)ini::parse(c.text, &errors);
        if (!errors.empty()) {
            ++failures;
            std::fprintf(stderr, "selftest FAILED: corpus %s has %zu parse errors, first on line %zu: %s\n",
                         c.name.c_str(), errors.size(), errors[0].line, errors[0].message.c_str());
        }
    }

    if (failures != 0) {
        std::fprintf(stderr, "selftest: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("selftest: %zu cases + 2 corpora passed\n", cases.size());
    return 0;
}

// ---------------------------------------------------------------------------
// Benchmark.

// Which shared object provides malloc: lets scripts confirm an LD_PRELOAD
// really took effect (ld.so only warns when a preload fails to load).
std::string malloc_provider() {
    void* sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info{};
    if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "unknown";
    return info.dli_fname;
}

long peak_rss_kib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;  // KiB on Linux
}

struct Result {
    std::string corpus;
    double median_us = 0;
    long peak_rss_kib = 0;
    std::uint64_t checksum = 0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Result bench(const corpus::Corpus& c, int iterations, int repeat, bool quiet) {
    // Untimed first parse: checks the corpus is error-free, fixes the
    // reference checksum and lets the allocator warm up its heap.
    std::uint64_t reference = 0;
    std::size_t sections = 0;
    std::size_t keys = 0;
    {
        std::vector<ini::ParseError> errors;
        const ini::Document doc = ini::parse(c.text, &errors);
        if (!errors.empty()) {
            std::fprintf(stderr, "ini_bench: corpus %s: parse error on line %zu: %s\n", c.name.c_str(),
                         errors[0].line, errors[0].message.c_str());
            std::exit(1);
        }
        reference = checksum(doc, c.probes);
        sections = doc.size();
        for (const auto& [name, section] : doc) keys += section.size();
    }

    using clock = std::chrono::steady_clock;
    std::vector<double> us_per_parse;
    for (int rep = 0; rep < repeat; ++rep) {
        const auto t0 = clock::now();
        for (int i = 0; i < iterations; ++i) {
            // Fresh document each time; it is destroyed at the end of the
            // scope, inside the timed region, so frees are measured too.
            const ini::Document doc = ini::parse(c.text);
            if (checksum(doc, c.probes) != reference) {
                std::fprintf(stderr, "ini_bench: corpus %s: checksum changed between parses (heap corruption?)\n",
                             c.name.c_str());
                std::exit(1);
            }
        }
        const std::chrono::duration<double, std::micro> elapsed = clock::now() - t0;
        us_per_parse.push_back(elapsed.count() / iterations);
    }

    Result r{c.name, median(us_per_parse), peak_rss_kib(), reference};
    if (!quiet) {
        const auto [lo, hi] = std::minmax_element(us_per_parse.begin(), us_per_parse.end());
        std::printf("corpus %s: %zu bytes (%.1f KiB), %zu sections, %zu keys, %zu probes\n", c.name.c_str(),
                    c.text.size(), c.text.size() / 1024.0, sections, keys, c.probes.size());
        std::printf("  %d iterations x %d repeats: median %.3f us/parse (min %.3f, max %.3f)\n", iterations, repeat,
                    r.median_us, *lo, *hi);
        std::printf("  checksum %016" PRIx64 "\n", r.checksum);
        std::printf("  peak RSS %ld KiB\n", r.peak_rss_kib);
        std::fflush(stdout);
    }
    return r;
}

// ---------------------------------------------------------------------------
// Command line.

[[noreturn]] void usage(int status) {
    std::fprintf(status == 0 ? stdout : stderr,
                 "usage: ini_bench [--corpus small|large|both] [--iterations N] [--repeat R] [--quiet]\n"
                 "       ini_bench --selftest\n"
                 "  --corpus      which generated corpus to parse (default both)\n"
                 "  --iterations  parses per timed loop (default %d for small, %d for large)\n"
                 "  --repeat      timed loops; the median is reported (default %d)\n"
                 "  --quiet       print only the RESULT lines\n"
                 "  --selftest    check the parser on hand-written snippets and exit\n",
                 kDefaultSmallIterations, kDefaultLargeIterations, kDefaultRepeat);
    std::exit(status);
}

int parse_positive(std::string_view flag, const char* text) {
    const std::string_view s(text);
    int value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || value <= 0) {
        std::fprintf(stderr, "ini_bench: %.*s needs a positive integer, got '%s'\n", static_cast<int>(flag.size()),
                     flag.data(), text);
        std::exit(2);
    }
    return value;
}

}  // namespace

int main(int argc, char** argv) {
    std::string_view which = "both";
    int iterations = 0;  // 0: per-corpus default
    int repeat = kDefaultRepeat;
    bool quiet = false;
    bool selftest = false;

    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "ini_bench: %s needs a value\n", argv[i]);
                usage(2);
            }
            return argv[++i];
        };
        if (arg == "--corpus") {
            which = value();
            if (which != "small" && which != "large" && which != "both") {
                std::fprintf(stderr, "ini_bench: unknown corpus '%s'\n", argv[i]);
                usage(2);
            }
        } else if (arg == "--iterations") {
            iterations = parse_positive(arg, value());
        } else if (arg == "--repeat") {
            repeat = parse_positive(arg, value());
        } else if (arg == "--quiet") {
            quiet = true;
        } else if (arg == "--selftest") {
            selftest = true;
        } else if (arg == "--help" || arg == "-h") {
            usage(0);
        } else {
            std::fprintf(stderr, "ini_bench: unknown argument '%s'\n", argv[i]);
            usage(2);
        }
    }

    if (selftest) return run_selftest();

    if (!quiet) std::printf("malloc from %s\n", malloc_provider().c_str());

    std::vector<Result> results;
    // Each corpus is generated just before it is used and freed right after,
    // so the small run's peak RSS is not inflated by the large corpus.
    if (which != "large") {
        const corpus::Corpus c = corpus::make_small();
        results.push_back(bench(c, iterations ? iterations : kDefaultSmallIterations, repeat, quiet));
    }
    if (which != "small") {
        const corpus::Corpus c = corpus::make_large();
        results.push_back(bench(c, iterations ? iterations : kDefaultLargeIterations, repeat, quiet));
    }

    for (const Result& r : results) {
        std::printf("RESULT corpus=%s us_per_parse=%.3f peak_rss_kib=%ld checksum=%016" PRIx64 "\n", r.corpus.c_str(),
                    r.median_us, r.peak_rss_kib, r.checksum);
    }
    return 0;
}
