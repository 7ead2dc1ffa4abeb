// ini_bench: allocation-heavy INI workloads (see modes.hpp) that report the
// time per operation and the peak RSS.  It deliberately links no tinyalloc
// library and uses the ordinary global allocator, so the same binary measures
// whichever malloc is LD_PRELOADed (see scripts/bench_run.py).
//
//   ini_bench [--mode parse|mixed|threads] [--corpus small|large|huge|both|all]
//             [--iterations N] [--repeat R] [--threads T] [--quiet]
//   ini_bench --selftest

#include "corpus.hpp"
#include "measure.hpp"
#include "modes.hpp"
#include "selftest.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

// Defaults: each timed loop handles about 32 MiB of corpus text (9,000
// parses of the small corpus, 8 of the large, 1 of the huge), so a plain
// `ini_bench --corpus small` takes about a second on a small machine.
constexpr std::size_t kBytesPerLoop = std::size_t{32} << 20;
constexpr int kDefaultRepeat = 5;
constexpr int kDefaultThreads = 2;

[[noreturn]] void usage(int status) {
    std::fprintf(status == 0 ? stdout : stderr,
                 "usage: ini_bench [--mode parse|mixed|threads] [--corpus small|large|huge|both|all]\n"
                 "                 [--iterations N] [--repeat R] [--threads T] [--quiet]\n"
                 "       ini_bench --selftest\n"
                 "  --mode        parse: parse and destroy (default); mixed: documents stay alive\n"
                 "                and are edited; threads: parsing threads, another thread frees\n"
                 "  --corpus      small (3.5 KB), large (4 MiB), huge (32 MiB), both (small and\n"
                 "                large, the default) or all\n"
                 "  --iterations  operations per timed loop (default: 32 MiB of corpus text)\n"
                 "  --repeat      timed loops; the median is reported (default %d)\n"
                 "  --threads     parsing threads in threads mode (default %d)\n"
                 "  --quiet       print only the RESULT lines\n"
                 "  --selftest    check the parser on hand-written snippets and exit\n",
                 kDefaultRepeat, kDefaultThreads);
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

using Mode = Result (*)(const corpus::Corpus&, const Reference&, const Settings&);

Mode mode_named(std::string_view name) {
    if (name == "parse") return &run_parse;
    if (name == "mixed") return &run_mixed;
    if (name == "threads") return &run_threads;
    return nullptr;
}

std::vector<std::string_view> corpora_named(std::string_view name) {
    if (name == "both") return {"small", "large"};
    if (name == "all") return {"small", "large", "huge"};
    if (name == "small" || name == "large" || name == "huge") return {name};
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    Mode mode = &run_parse;
    std::vector<std::string_view> corpora = corpora_named("both");
    int iterations = 0;  // 0: per-corpus default
    Settings settings;
    settings.repeat = kDefaultRepeat;
    settings.threads = kDefaultThreads;

    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "ini_bench: %s needs a value\n", argv[i]);
                usage(2);
            }
            return argv[++i];
        };
        if (arg == "--mode") {
            mode = mode_named(value());
            if (mode == nullptr) {
                std::fprintf(stderr, "ini_bench: unknown mode '%s'\n", argv[i]);
                usage(2);
            }
        } else if (arg == "--corpus") {
            corpora = corpora_named(value());
            if (corpora.empty()) {
                std::fprintf(stderr, "ini_bench: unknown corpus '%s'\n", argv[i]);
                usage(2);
            }
        } else if (arg == "--iterations") {
            iterations = parse_positive(arg, value());
        } else if (arg == "--repeat") {
            settings.repeat = parse_positive(arg, value());
        } else if (arg == "--threads") {
            settings.threads = parse_positive(arg, value());
        } else if (arg == "--quiet") {
            settings.quiet = true;
        } else if (arg == "--selftest") {
            return run_selftest();
        } else if (arg == "--help" || arg == "-h") {
            usage(0);
        } else {
            std::fprintf(stderr, "ini_bench: unknown argument '%s'\n", argv[i]);
            usage(2);
        }
    }

    if (!settings.quiet) std::printf("malloc from %s\n", malloc_provider().c_str());

    std::vector<Result> results;
    // Each corpus is generated just before it is used and freed right after,
    // so a small run's peak RSS is not inflated by a larger corpus.
    for (const std::string_view name : corpora) {
        const corpus::Corpus c = *corpus::make(name);
        const Reference ref = reference_of(c);
        settings.iterations =
            iterations ? iterations : static_cast<int>(std::max<std::size_t>(1, kBytesPerLoop / c.text.size()));
        results.push_back(mode(c, ref, settings));
        if (!settings.quiet) print_details(results.back(), c, ref, settings);
    }
    for (const Result& r : results) print_result_line(r);
    return 0;
}
