// TINYALLOC_* options: each case runs options_probe (or ls) in a fresh
// process with a chosen environment and reads what it printed.  Lines from
// tinyalloc start with "tinyalloc:", lines from the probe with "probe:".
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "../common/child.hpp"

#ifndef OPTIONS_PROBE
#error "OPTIONS_PROBE (path of options_probe) must be defined by the build"
#endif

namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

const char* const kVariables[] = {"TINYALLOC_LARGE",        "TINYALLOC_LARGE_CACHE_MB", "TINYALLOC_PURGE_DELAY_MS",
                                  "TINYALLOC_LARGE_SPLIT",  "TINYALLOC_LARGE_DECAY",    "TINYALLOC_LARGE_POPULATE",
                                  "TINYALLOC_EAGER_COMMIT", "TINYALLOC_SHOW_STATS",     "TINYALLOC_VERBOSE"};

const std::string kDefaults = "probe: large=cached cache_mb=1024 purge_ms=100 eager=0 show_stats=0 verbose=0";

/// Runs `argv` with every TINYALLOC_* variable removed, then `env` set.
test_child::Result run(const std::vector<std::string>& argv, const Env& env) {
  return test_child::run(
      [&] {
        for (const char* v : kVariables) unsetenv(v);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        return 127;
      },
      60);
}

test_child::Result probe(const Env& env, std::vector<std::string> flags = {}) {
  flags.insert(flags.begin(), OPTIONS_PROBE);
  return run(flags, env);
}

/// The output lines that start with `prefix`.
std::vector<std::string> lines(const std::string& out, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) found.push_back(l);
  return found;
}

bool has_line(const std::string& out, const std::string& line) {
  for (const auto& l : lines(out, line))
    if (l == line) return true;
  return false;
}

std::string options_line(const std::string& out) {
  for (const auto& l : lines(out, "probe: large=")) return l;
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// The probe exited normally with these options in force, and tinyalloc
/// printed nothing (`warning` empty) or exactly one line containing `warning`.
void require_probe(const test_child::Result& r, const std::string& options, const std::string& warning = "") {
  REQUIRE(r.exited_ok());
  REQUIRE(options_line(r.output) == options);
  const auto said = lines(r.output, "tinyalloc:");
  if (warning.empty()) {
    REQUIRE(said.empty());
  } else {
    REQUIRE(said.size() == 1);
    REQUIRE(contains(said[0], warning));
  }
}

}  // namespace

TEST_CASE("without TINYALLOC_* variables: the defaults, and nothing on stderr", "[options]") {
  const auto r = probe({});
  INFO(r.describe());
  require_probe(r, kDefaults);
  REQUIRE(has_line(r.output, "probe: large_allocations=4 cache_hits=3"));
}

TEST_CASE("well-formed values are applied", "[options]") {
  const auto r = probe({{"TINYALLOC_LARGE", "direct"},
                        {"TINYALLOC_LARGE_CACHE_MB", "8"},
                        {"TINYALLOC_PURGE_DELAY_MS", "0"},
                        {"TINYALLOC_EAGER_COMMIT", "yes"},
                        {"TINYALLOC_SHOW_STATS", "off"},
                        {"TINYALLOC_VERBOSE", "false"}});
  INFO(r.describe());
  require_probe(r, "probe: large=direct cache_mb=8 purge_ms=0 eager=1 show_stats=0 verbose=0");
  // direct: every large block is a fresh mapping.
  REQUIRE(has_line(r.output, "probe: large_allocations=4 cache_hits=0"));
}

TEST_CASE("a malformed value: one warning naming the variable, the default kept, no crash", "[options]") {
  struct Case {
    const char* variable;
    const char* value;
    const char* kept;  // the default, named in the warning
  };
  const Case cases[] = {
      {"TINYALLOC_LARGE", "mmap", "regions"},
      {"TINYALLOC_LARGE", "", "regions"},
      {"TINYALLOC_LARGE_CACHE_MB", "lots", "1024"},
      {"TINYALLOC_LARGE_CACHE_MB", "-1", "1024"},
      {"TINYALLOC_LARGE_CACHE_MB", "64MB", "1024"},
      {"TINYALLOC_LARGE_CACHE_MB", "99999999999999999999999", "1024"},  // overflows 64 bits
      {"TINYALLOC_LARGE_CACHE_MB", "1048577", "1024"},                  // above 1 TiB
      {"TINYALLOC_LARGE_SPLIT", "2", "1"},
      {"TINYALLOC_LARGE_DECAY", "maybe", "1"},
      {"TINYALLOC_LARGE_POPULATE", "sometimes", "1"},
      {"TINYALLOC_PURGE_DELAY_MS", "1.5", "100"},
      {"TINYALLOC_PURGE_DELAY_MS", " 100", "100"},
      {"TINYALLOC_EAGER_COMMIT", "2", "0"},
      {"TINYALLOC_SHOW_STATS", "maybe", "0"},
      {"TINYALLOC_VERBOSE", "loud", "0"},
  };
  for (const Case& c : cases) {
    const auto r = probe({{c.variable, c.value}});
    INFO(c.variable << "=\"" << c.value << "\" -> " << r.describe());
    require_probe(r, kDefaults, std::string("ignoring ") + c.variable + "=\"");
    REQUIRE(contains(r.output, std::string("); using ") + c.kept + "\n"));
    // The default strategy really runs: cached, so later blocks are hits.
    REQUIRE(has_line(r.output, "probe: large_allocations=4 cache_hits=3"));
  }
}

TEST_CASE("a malformed value beside well-formed ones only loses its own field", "[options]") {
  const auto r =
      probe({{"TINYALLOC_LARGE", "direct"}, {"TINYALLOC_PURGE_DELAY_MS", "soon"}, {"TINYALLOC_EAGER_COMMIT", "1"}});
  INFO(r.describe());
  require_probe(r, "probe: large=direct cache_mb=1024 purge_ms=100 eager=1 show_stats=0 verbose=0",
                "TINYALLOC_PURGE_DELAY_MS=\"soon\"");
}

TEST_CASE("set_options before the first allocation; the environment applies on top", "[options]") {
  SECTION("from code alone") {
    const auto r = probe({}, {"--set", "--late-set"});
    INFO(r.describe());
    REQUIRE(r.exited_ok());
    REQUIRE(has_line(r.output, "probe: set_options=1"));
    REQUIRE(options_line(r.output) == "probe: large=direct cache_mb=8 purge_ms=7 eager=1 show_stats=0 verbose=0");
    REQUIRE(has_line(r.output, "probe: large_allocations=4 cache_hits=0"));
    REQUIRE(has_line(r.output, "probe: late_set_options=0"));  // too late: refused
  }
  SECTION("environment over code; a malformed value keeps the value from code") {
    const auto r = probe({{"TINYALLOC_LARGE", "cached"}, {"TINYALLOC_PURGE_DELAY_MS", "x"}}, {"--set"});
    INFO(r.describe());
    require_probe(r, "probe: large=cached cache_mb=8 purge_ms=7 eager=1 show_stats=0 verbose=0", "using 7");
  }
}

TEST_CASE("TINYALLOC_VERBOSE=1: the options in force at start-up, rare events once each", "[options]") {
  const auto r = probe({{"TINYALLOC_VERBOSE", "1"}, {"TINYALLOC_LARGE_CACHE_MB", "16"}}, {"--late-set", "--huge"});
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  const auto said = lines(r.output, "tinyalloc:");
  REQUIRE(said.size() == 3);
  REQUIRE(contains(said[0], "options"));
  REQUIRE(contains(said[0], "TINYALLOC_LARGE=regions TINYALLOC_LARGE_CACHE_MB=16 TINYALLOC_PURGE_DELAY_MS=100"));
  REQUIRE(contains(said[1], "set_options() ignored"));
  REQUIRE(contains(said[2], "out of memory"));  // two failed requests, one line
  REQUIRE(lines(r.output, "probe: huge=NULL errno=ENOMEM").size() == 2);
}

TEST_CASE("TINYALLOC_LARGE names a strategy (cached is regions); the region cache's ablations", "[options]") {
  struct Case {
    const char* value;
    const char* in_force;
    const char* hits;  // 4 blocks of 1 MiB, each freed: a cache serves 3
  };
  const Case cases[] = {
      {"regions", "regions", "3"}, {"cached", "regions", "3"}, {"SLOTS", "slots", "3"}, {"direct", "direct", "0"}};
  for (const Case& c : cases) {
    const auto r = probe({{"TINYALLOC_VERBOSE", "1"}, {"TINYALLOC_LARGE", c.value}});
    INFO("TINYALLOC_LARGE=" << c.value << " -> " << r.describe());
    REQUIRE(r.exited_ok());
    const auto said = lines(r.output, "tinyalloc:");
    REQUIRE(said.size() == 1);
    REQUIRE(contains(said[0], std::string("TINYALLOC_LARGE=") + c.in_force + " "));
    REQUIRE(has_line(r.output, std::string("probe: large_allocations=4 cache_hits=") + c.hits));
  }
  const auto r = probe({{"TINYALLOC_VERBOSE", "1"},
                        {"TINYALLOC_LARGE_SPLIT", "0"},
                        {"TINYALLOC_LARGE_DECAY", "off"},
                        {"TINYALLOC_LARGE_POPULATE", "0"}});
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  const auto said = lines(r.output, "tinyalloc:");
  REQUIRE(said.size() == 1);
  REQUIRE(contains(said[0], "TINYALLOC_LARGE=regions "));
  REQUIRE(contains(said[0], "TINYALLOC_LARGE_SPLIT=0 TINYALLOC_LARGE_DECAY=0 TINYALLOC_LARGE_POPULATE=0"));
  REQUIRE(has_line(r.output, "probe: large_allocations=4 cache_hits=3"));  // exact sizes are still reused
}

TEST_CASE("TINYALLOC_SHOW_STATS=1 prints the table at exit", "[options][stats]") {
  SECTION("a program linked with tinyalloc") {
    // A purge delay no run reaches: a purge between the probe's frees and
    // mallocs (a descheduled run outlasts the default 100 ms) would turn an
    // exact-size hit into a mixed one, and the line below is exact.
    const auto r = probe({{"TINYALLOC_SHOW_STATS", "1"}, {"TINYALLOC_PURGE_DELAY_MS", "600000"}});
    INFO(r.describe());
    REQUIRE(r.exited_ok());
    REQUIRE(contains(r.output, "tinyalloc statistics (pid "));
    REQUIRE(contains(r.output, "large cache      hits 3 (0 mixed), misses 1"));
  }
  SECTION("LD_PRELOAD ls, which closes stderr before it exits") {
    const auto r = run({"ls", "/"}, {{"TINYALLOC_SHOW_STATS", "1"}, {"LD_PRELOAD", TINYALLOC_SO}});
    INFO(r.describe());
    REQUIRE(r.exited_ok());
    REQUIRE(contains(r.output, "tinyalloc statistics (pid "));
    REQUIRE(contains(r.output, "in use"));
    REQUIRE(contains(r.output, "threads          heaps created 1"));
  }
  SECTION("not without it") {
    const auto r = run({"ls", "/"}, {{"LD_PRELOAD", TINYALLOC_SO}});
    INFO(r.describe());
    REQUIRE(r.exited_ok());
    REQUIRE(!contains(r.output, "tinyalloc"));
  }
}
