#include "measure.hpp"

#include "checksum.hpp"
#include "ini.hpp"

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <vector>

Reference reference_of(const corpus::Corpus& c) {
    std::vector<ini::ParseError> errors;
    const ini::Document doc = ini::parse(c.text, &errors);
    if (!errors.empty()) {
        std::fprintf(stderr, "ini_bench: corpus %s: parse error on line %zu: %s\n", c.name.c_str(), errors[0].line,
                     errors[0].message.c_str());
        std::exit(1);
    }
    Reference r;
    r.checksum = checksum(doc, c.probes);
    r.sections = doc.size();
    for (const auto& [name, section] : doc) r.keys += section.size();
    return r;
}

namespace {

// VmHWM, the high-water mark of this process image's resident memory.  Not
// getrusage's ru_maxrss: Linux carries that across exec, so it starts at the
// launching process' RSS (a Python runner's is larger than a small parse's).
long peak_rss_kib() {
    if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        long kib = -1;
        while (kib < 0 && std::fgets(line, sizeof line, f) != nullptr) std::sscanf(line, "VmHWM: %ld kB", &kib);
        std::fclose(f);
        if (kib >= 0) return kib;
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;  // KiB on Linux
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

Result time_loops(const std::string& mode, const corpus::Corpus& c, const Settings& s,
                  const std::function<void(int iterations)>& loop) {
    using clock = std::chrono::steady_clock;
    std::vector<double> us_per_op;
    for (int rep = 0; rep < s.repeat; ++rep) {
        const auto t0 = clock::now();
        loop(s.iterations);
        const std::chrono::duration<double, std::micro> elapsed = clock::now() - t0;
        us_per_op.push_back(elapsed.count() / s.iterations);
    }
    const auto [lo, hi] = std::minmax_element(us_per_op.begin(), us_per_op.end());
    Result r;
    r.mode = mode;
    r.corpus = c.name;
    r.median_us = median(us_per_op);
    r.min_us = *lo;
    r.max_us = *hi;
    r.peak_rss_kib = peak_rss_kib();
    return r;
}

void checksum_failure(const corpus::Corpus& c, const char* where) {
    std::fprintf(stderr, "ini_bench: corpus %s: checksum changed %s (heap corruption?)\n", c.name.c_str(), where);
    std::exit(1);
}

std::string malloc_provider() {
    void* sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info{};
    if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "unknown";
    return info.dli_fname;
}

void print_details(const Result& r, const corpus::Corpus& c, const Reference& ref, const Settings& s) {
    std::printf("mode %s, corpus %s: %zu bytes (%.1f KiB), %zu sections, %zu keys, %zu probes\n", r.mode.c_str(),
                c.name.c_str(), c.text.size(), c.text.size() / 1024.0, ref.sections, ref.keys, c.probes.size());
    std::printf("  %d iterations x %d repeats: median %.3f us/op (min %.3f, max %.3f)\n", s.iterations, s.repeat,
                r.median_us, r.min_us, r.max_us);
    std::printf("  checksum %016" PRIx64 "\n", r.checksum);
    std::printf("  peak RSS %ld KiB\n", r.peak_rss_kib);
    std::fflush(stdout);
}

void print_result_line(const Result& r) {
    std::printf("RESULT mode=%s corpus=%s us_per_op=%.3f min_us=%.3f max_us=%.3f peak_rss_kib=%ld checksum=%016" PRIx64
                "\n",
                r.mode.c_str(), r.corpus.c_str(), r.median_us, r.min_us, r.max_us, r.peak_rss_kib, r.checksum);
}
