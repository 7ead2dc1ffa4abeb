// Real programs under LD_PRELOAD=libtinyalloc.so: python3, sort, git, sqlite3
// and the C++ compiler; and glibc_probe, for glibc's extensions (__libc_free,
// mallinfo2, malloc_info) under the preload.
//
// Each workload runs once without the preload (the baseline) and once per
// large-allocation strategy with LD_PRELOAD, TINYALLOC_SHOW_STATS=1 and
// TINYALLOC_LARGE=direct|cached.  Every run must exit 0 and print exactly the
// baseline's stdout; every preloaded run must print tinyalloc's statistics on
// stderr (a line containing "tinyalloc"), which proves tinyalloc served it.
//
// The programs are started with fork/execvpe and an explicit environment, with
// stdout/stderr redirected to files in a private temporary directory that is
// removed at the end.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#ifndef TINYALLOC_SO
#error "TINYALLOC_SO (path of libtinyalloc.so) must be defined by the build"
#endif
#ifndef GLIBC_PROBE
#error "GLIBC_PROBE (path of glibc_probe) must be defined by the build"
#endif

namespace fs = std::filesystem;

namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

struct Mode {
  const char* name;
  bool preload;
  const char* large;  // TINYALLOC_LARGE value, or nullptr
};

const Mode kBaseline{"baseline", false, nullptr};
const Mode kPreloaded[] = {{"preload-direct", true, "direct"}, {"preload-cached", true, "cached"}};

struct Result {
  int status = -1;  // raw waitpid status
  std::string out;
  std::string err;
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string describe() const {
    std::ostringstream os;
    if (WIFEXITED(status))
      os << "exit code " << WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      os << "killed by signal " << WTERMSIG(status);
    else
      os << "status " << status;
    return os.str();
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

void write_file(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

// A private temporary directory, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tinyalloc_preload_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Runs argv in cwd with the parent's environment minus LD_PRELOAD and
// TINYALLOC_*, plus `extra`, plus the preload variables of `mode`.
// stdin is /dev/null; stdout and stderr are captured through files in `scratch`.
Result run(const std::vector<std::string>& argv, const fs::path& cwd, const Env& extra, const Mode& mode,
           const fs::path& scratch) {
  static int counter = 0;
  const int id = ++counter;
  const fs::path out_path = scratch / ("run" + std::to_string(id) + ".out");
  const fs::path err_path = scratch / ("run" + std::to_string(id) + ".err");

  std::vector<std::string> env_strings;
  auto overridden = [&](const std::string& kv) {
    const std::string name = kv.substr(0, kv.find('='));
    if (name == "LD_PRELOAD" || name.rfind("TINYALLOC_", 0) == 0) return true;
    for (const auto& [k, v] : extra)
      if (k == name) return true;
    return false;
  };
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) env_strings.emplace_back(*e);
  for (const auto& [k, v] : extra) env_strings.push_back(k + "=" + v);
  if (mode.preload) {
    env_strings.push_back(std::string("LD_PRELOAD=") + TINYALLOC_SO);
    env_strings.push_back("TINYALLOC_SHOW_STATS=1");
    if (mode.large) env_strings.push_back(std::string("TINYALLOC_LARGE=") + mode.large);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || chdir(cwd.c_str()) != 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    close(in);
    close(out);
    close(err);
    execvpe(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  Result r;
  while (waitpid(pid, &r.status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

std::string tail(const std::string& s, std::size_t n = 3000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::string first_diff(const std::string& a, const std::string& b) {
  const auto m = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  const std::size_t at = static_cast<std::size_t>(m.first - a.begin());
  std::ostringstream os;
  os << "sizes " << a.size() << " vs " << b.size() << ", first difference at byte " << at
     << "\n baseline: " << a.substr(at > 40 ? at - 40 : 0, 120)
     << "\n preload:  " << b.substr(at > 40 ? at - 40 : 0, 120);
  return os.str();
}

// The line of `err` containing "tinyalloc" (the stats header), or "".
std::string stats_line(const std::string& err) {
  std::istringstream is(err);
  std::string line;
  while (std::getline(is, line))
    if (line.find("tinyalloc") != std::string::npos) return line;
  return {};
}

// Runs one command in the baseline and checks the result; returns it.
Result run_baseline(const std::vector<std::string>& argv, const fs::path& cwd, const Env& env,
                    const fs::path& scratch) {
  Result r = run(argv, cwd, env, kBaseline, scratch);
  INFO("baseline `" << argv[0] << " ...` in " << cwd << ": " << r.describe() << "\nstderr:\n" << tail(r.err));
  REQUIRE(r.ok());
  return r;
}

// Runs one command preloaded and compares with the baseline's stdout.
void run_and_compare(const std::vector<std::string>& argv, const fs::path& cwd, const Env& env, const Mode& mode,
                     const fs::path& scratch, const std::string& expected_out) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  Result r = run(argv, cwd, env, mode, scratch);
  INFO(mode.name << ": `" << cmd << "`: " << r.describe() << "\nstderr:\n" << tail(r.err));
  REQUIRE(r.ok());
  if (r.out != expected_out) FAIL("stdout differs from the baseline: " << first_diff(expected_out, r.out));
  // CHECK, not REQUIRE: a missing statistics table is reported, and the
  // remaining runs still compare their output.
  INFO("TINYALLOC_SHOW_STATS=1: expected tinyalloc's statistics (a line containing \"tinyalloc\") on stderr");
  CHECK_FALSE(stats_line(r.err).empty());
}

std::string find_python(const fs::path& scratch) {
  // pyenv installs a shell-script shim as python3; run the real interpreter.
  Result r = run({"python3", "-c", "import sys; print(sys.executable)"}, scratch, {}, kBaseline, scratch);
  std::string exe = r.ok() ? r.out : "";
  while (!exe.empty() && (exe.back() == '\n' || exe.back() == '\r')) exe.pop_back();
  if (exe.empty() || !fs::exists(exe)) exe = "python3";
  return exe;
}

const char* kPythonWorkload = R"PY(
import gc, hashlib, json, random, sys

gc.disable()  # refcounting frees everything here; skip the cyclic GC's scans

rng = random.Random(20240601)

def make(i):
    return {
        "id": i,
        "name": "item-%d-%s" % (i, "x" * (i % 13)),
        "tags": ["t%d" % ((i * 7 + k) % 101) for k in range(i % 9)],
        "vals": [rng.random() for _ in range(i % 5)],
        "nested": {"a": i * 3, "b": [i, str(i), None, True, i / 7.0], "s": "abc" * (i % 11)},
    }

# 40k records = ~200k containers (5 per record: 2 dicts, 3 lists) plus
# ~300k strings and numbers, through json dumps/loads.
data = [make(i) for i in range(40000)]
text = json.dumps(data, sort_keys=True)
back = json.loads(text)
assert back == data
h1 = hashlib.sha256(text.encode()).hexdigest()
del back

# dict and string churn: inserts, growth by concatenation, deletions.
d = {}
for i in range(300000):
    k = "k%d" % (i * 2654435761 % 1000003)
    d[k] = d.get(k, "") + chr(65 + i % 26)
    if i % 3 == 0:
        d.pop("k%d" % ((i // 2) * 2654435761 % 1000003), None)
h2 = hashlib.sha256(repr(sorted(d.items())).encode()).hexdigest()

# lists of mixed-size buffers, including large ones, resized and freed.
bufs = [bytearray(b"%d" % n) * (n % 3000 + 1) for n in range(0, 2000000, 613)]
for j in range(0, len(bufs), 3):
    bufs[j] += bufs[j][: len(bufs[j]) // 2]
big = [bytes(range(256)) * (4096 * (k + 1)) for k in range(8)]  # 1..8 MiB
h3 = hashlib.sha256(b"".join(bytes(b[:64]) for b in bufs) + b"".join(b[-100:] for b in big)).hexdigest()
total = sum(len(b) for b in bufs) + sum(len(b) for b in big)

# a second structure built by re-parsing pieces.
pieces = [json.loads(json.dumps(data[i:i + 1000])) for i in range(0, len(data), 1600)]
h4 = hashlib.sha256("".join(json.dumps(p[-1], sort_keys=True) for p in pieces).encode()).hexdigest()

print(len(text), h1)
print(len(d), h2)
print(len(bufs), total, h3)
print(len(pieces), h4)
)PY";

}  // namespace

// ===========================================================================

TEST_CASE("the preload library exists", "[preload]") {
  INFO("TINYALLOC_SO = " << TINYALLOC_SO);
  REQUIRE(fs::exists(TINYALLOC_SO));
}

TEST_CASE("glibc's extensions and __libc_free reach tinyalloc", "[preload][glibc]") {
  // glibc_probe frees a malloc'd block with __libc_free (glibc's own would
  // abort on tinyalloc's block), checks mallinfo2 against 84 MB live, and
  // prints the first line of malloc_info: glibc's, or tinyalloc's.  Under
  // MALLOC_PERTURB_, which glibc obeys and tinyalloc does not read.
  TempDir tmp;
  const Env env = {{"MALLOC_PERTURB_", "165"}};
  const Result base = run_baseline({GLIBC_PROBE}, tmp.path, env, tmp.path);
  INFO("baseline stdout:\n" << base.out);
  REQUIRE(base.out.rfind("fresh: 90\n", 0) == 0);
  REQUIRE(base.out.find("<malloc version=\"1\">") != std::string::npos);
  for (const Mode& m : kPreloaded) {
    const Result r = run({GLIBC_PROBE}, tmp.path, env, m, tmp.path);
    INFO(m.name << ": " << r.describe() << "\nstdout:\n" << r.out << "\nstderr:\n" << tail(r.err));
    REQUIRE(r.ok());
    REQUIRE(r.out == "fresh: 0\n__libc_free/__libc_malloc: ok\nmallinfo2: ok\n<malloc version=\"tinyalloc-1\">\n");
    CHECK_FALSE(stats_line(r.err).empty());
  }
}

TEST_CASE("python3 with an allocation-heavy workload", "[preload][python]") {
  TempDir tmp;
  const std::string python = find_python(tmp.path);
  write_file(tmp.path / "work.py", kPythonWorkload);
  // PYTHONMALLOC=malloc sends every Python object through malloc (not pymalloc's
  // arenas) so tinyalloc serves all of them; PYTHONHASHSEED fixes hash order.
  const Env env = {{"PYTHONMALLOC", "malloc"}, {"PYTHONHASHSEED", "0"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  const std::vector<std::string> argv = {python, "-s", "work.py"};
  const Result base = run_baseline(argv, tmp.path, env, tmp.path);
  INFO("python: " << python << "\nbaseline stdout:\n" << base.out);
  REQUIRE(std::count(base.out.begin(), base.out.end(), '\n') == 4);
  for (const Mode& m : kPreloaded) run_and_compare(argv, tmp.path, env, m, tmp.path, base.out);
  // Also with pymalloc (Python's default small-object allocator) on top of tinyalloc.
  const Env env2 = {{"PYTHONHASHSEED", "0"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  run_and_compare(argv, tmp.path, env2, kPreloaded[1], tmp.path, base.out);
}

TEST_CASE("sort of a large generated file", "[preload][sort]") {
  TempDir tmp;
  // 500k deterministic lines: a random word, a number, a random tail.
  std::mt19937_64 rng(99);
  std::string input;
  std::vector<std::string> lines;
  lines.reserve(500000);
  for (int i = 0; i < 500000; ++i) {
    std::string line;
    const int wl = 1 + static_cast<int>(rng() % 24);
    for (int k = 0; k < wl; ++k) line += static_cast<char>('a' + rng() % 26);
    line += ',' + std::to_string(rng() % 1000000) + ',';
    const int tl = static_cast<int>(rng() % 40);
    for (int k = 0; k < tl; ++k) line += static_cast<char>('A' + rng() % 58);
    lines.push_back(line);
  }
  for (const auto& l : lines) input += l + '\n';
  write_file(tmp.path / "input.txt", input);
  std::sort(lines.begin(), lines.end());
  std::string expected;
  for (const auto& l : lines) expected += l + '\n';

  const Env env = {{"LC_ALL", "C"}, {"TMPDIR", tmp.path.string()}};
  const std::vector<std::vector<std::string>> commands = {
      {"sort", "input.txt"},
      // Small buffer: forces temporary files and a merge; two threads.
      {"sort", "-S", "1M", "--parallel=2", "-t", ",", "-k2,2n", "-k1,1", "input.txt"},
      {"sort", "-u", "-r", "input.txt"},
  };
  for (const auto& argv : commands) {
    const Result base = run_baseline(argv, tmp.path, env, tmp.path);
    if (argv.size() == 2) {
      INFO("baseline `sort input.txt` differs from std::sort: " << first_diff(expected, base.out));
      REQUIRE(base.out == expected);
    }
    if (argv[1] != "-u") REQUIRE(base.out.size() == input.size());
    REQUIRE(base.out.size() > input.size() / 2);
    for (const Mode& m : kPreloaded) run_and_compare(argv, tmp.path, env, m, tmp.path, base.out);
  }
}

TEST_CASE("git: build a repository and inspect it", "[preload][git]") {
  TempDir tmp;
  const fs::path home = tmp.path / "home";
  fs::create_directories(home);
  const Env base_env = {{"HOME", home.string()},
                        {"XDG_CONFIG_HOME", home.string()},
                        {"GIT_CONFIG_NOSYSTEM", "1"},
                        {"GIT_CONFIG_GLOBAL", "/dev/null"},
                        {"GIT_AUTHOR_NAME", "Tiny Alloc"},
                        {"GIT_AUTHOR_EMAIL", "tiny@example.com"},
                        {"GIT_COMMITTER_NAME", "Tiny Alloc"},
                        {"GIT_COMMITTER_EMAIL", "tiny@example.com"},
                        {"GIT_PAGER", "cat"},
                        {"PAGER", "cat"},
                        {"LC_ALL", "C"},
                        {"TZ", "UTC"}};
  auto env_at = [&](int day) {
    Env e = base_env;
    const std::string date = "2021-03-" + std::string(day < 10 ? "0" : "") + std::to_string(day) + "T12:00:00+0000";
    e.emplace_back("GIT_AUTHOR_DATE", date);
    e.emplace_back("GIT_COMMITTER_DATE", date);
    return e;
  };

  // Generated file contents (deterministic, identical in every repository).
  auto content = [](int file, int version) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(file) * 1000 + version);
    std::string s;
    const int nlines = 5 + static_cast<int>(rng() % 120);
    for (int l = 0; l < nlines; ++l) {
      s += "line " + std::to_string(l) + " of file " + std::to_string(file) + " v" + std::to_string(version) + ":";
      const int w = static_cast<int>(rng() % 12);
      for (int k = 0; k < w; ++k) s += " w" + std::to_string(rng() % 500);
      s += '\n';
    }
    return s;
  };
  auto file_path = [](int file) {
    return fs::path("dir" + std::to_string(file % 12)) / ("sub" + std::to_string(file % 5)) /
           ("file" + std::to_string(file) + ".txt");
  };

  // The steps of the scenario.  Each step either changes the work tree (done
  // by the test itself) or runs a git command whose stdout is compared.
  struct Step {
    std::vector<std::string> argv;
    int day;
  };
  const int commits = 5;
  auto build_and_inspect = [&](const fs::path& repo, const Mode& mode,
                               std::vector<std::string>* outputs /* baseline: fill; else compare */) {
    fs::create_directories(repo);
    std::size_t k = 0;
    auto git = [&](std::vector<std::string> args, int day) {
      args.insert(args.begin(), {"git", "-c", "gc.auto=0", "-c", "core.pager=cat", "-c", "init.defaultBranch=main"});
      if (mode.preload) {
        REQUIRE(k < outputs->size());
        run_and_compare(args, repo, env_at(day), mode, tmp.path, (*outputs)[k]);
      } else {
        outputs->push_back(run_baseline(args, repo, env_at(day), tmp.path).out);
      }
      ++k;
    };
    git({"init", "-q"}, 1);
    for (int c = 0; c < commits; ++c) {
      // Commit 0 creates 300 files; later commits modify, add and delete some.
      if (c == 0) {
        for (int f = 0; f < 300; ++f) write_file(repo / file_path(f), content(f, 0));
      } else {
        for (int f = c; f < 300 + 40 * c; f += 3 + c) write_file(repo / file_path(f), content(f, c));
        for (int f = 7 * c; f < 300; f += 37) fs::remove(repo / file_path(f));
      }
      git({"add", "-A"}, c + 1);
      git({"commit", "-m", "commit number " + std::to_string(c) + "\n\nGenerated by the tinyalloc preload test."},
          c + 1);
    }
    git({"log", "--stat"}, 9);
    git({"log", "--format=%H %T %an %ad %s", "--numstat"}, 9);
    git({"ls-tree", "-r", "-l", "HEAD"}, 9);
    git({"diff", "HEAD~3", "HEAD"}, 9);
    git({"show", "--stat", "-p", "HEAD~1"}, 9);
    git({"rev-list", "--objects", "--all"}, 9);
    git({"grep", "-n", "w42"}, 9);
    git({"blame", (fs::path("dir1") / "sub1" / "file1.txt").string()}, 9);
    git({"archive", "--format=tar", "HEAD"}, 9);
    git({"gc", "-q"}, 9);
    git({"fsck", "--full", "--no-progress"}, 9);
    git({"cat-file", "--batch-all-objects", "--batch-check"}, 9);
    git({"log", "--all", "--format=%H %P", "-p", "--", "dir3"}, 9);
    git({"status", "--porcelain=v1"}, 9);
  };

  std::vector<std::string> outputs;
  build_and_inspect(tmp.path / "repo-baseline", kBaseline, &outputs);
  // Sanity of the baseline: five commits, hundreds of files.
  REQUIRE(outputs.size() > 20);
  for (const Mode& m : kPreloaded) {
    INFO("mode " << m.name);
    build_and_inspect(tmp.path / (std::string("repo-") + m.name), m, &outputs);
  }
  const std::string& log = outputs[1 + 2 * commits];
  REQUIRE(std::count(log.begin(), log.end(), '\n') > 300);
}

TEST_CASE("sqlite3: a few thousand inserts and queries", "[preload][sqlite]") {
  TempDir tmp;
  {
    Result which = run({"sh", "-c", "command -v sqlite3"}, tmp.path, {}, kBaseline, tmp.path);
    INFO("sqlite3 is not installed: scripts/deps.sh sqlite3 (or scripts/ci_reliability.sh) installs it");
    REQUIRE(which.ok());
  }
  // Deterministic data: 4000 rows in three tables, inserted one statement at
  // a time, then indexes, updates, deletes and queries whose output is
  // fully ordered.
  std::mt19937_64 rng(4242);
  std::ostringstream sql;
  sql << ".bail on\n.mode list\n.headers off\n"
         "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, score REAL);\n"
         "CREATE TABLE item(id INTEGER PRIMARY KEY, title TEXT, price INTEGER, tags TEXT);\n"
         "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item INTEGER, qty INTEGER, note TEXT);\n"
         "BEGIN;\n";
  const char* cities[] = {"Lyon", "Oslo", "Lima", "Pune", "Kobe", "Graz", "Cork", "Bari"};
  for (int i = 1; i <= 800; ++i)
    sql << "INSERT INTO customer VALUES(" << i << ",'customer " << i << std::string(rng() % 30, 'x') << "','"
        << cities[rng() % 8] << "'," << (rng() % 100000) / 100.0 << ");\n";
  for (int i = 1; i <= 700; ++i) {
    sql << "INSERT INTO item VALUES(" << i << ",'item " << (rng() % 100000) << "'," << rng() % 5000 << ",'";
    for (int t = 0, n = static_cast<int>(rng() % 6); t < n; ++t) sql << "t" << rng() % 40 << ' ';
    sql << "');\n";
  }
  sql << "COMMIT;\n";
  for (int i = 1; i <= 2500; ++i) {
    if (i % 500 == 1) sql << "BEGIN;\n";
    sql << "INSERT INTO orders VALUES(" << i << "," << 1 + rng() % 800 << "," << 1 + rng() % 700 << "," << 1 + rng() % 9
        << ",'" << std::string(rng() % 200, static_cast<char>('a' + rng() % 26)) << "');\n";
    if (i % 500 == 0) sql << "COMMIT;\n";
  }
  sql << "CREATE INDEX orders_customer ON orders(customer);\n"
         "CREATE INDEX item_price ON item(price);\n"
         "UPDATE customer SET score = score * 1.5 WHERE city IN ('Oslo','Kobe');\n"
         "DELETE FROM orders WHERE qty = 9 AND item % 7 = 0;\n"
         "SELECT count(*), sum(qty), max(length(note)) FROM orders;\n"
         "SELECT city, count(*), round(avg(score), 3) FROM customer GROUP BY city ORDER BY city;\n"
         "SELECT c.id, c.name, sum(o.qty * i.price) AS spent FROM orders o JOIN customer c ON c.id = o.customer "
         "JOIN item i ON i.id = o.item GROUP BY c.id ORDER BY spent DESC, c.id LIMIT 40;\n"
         "SELECT i.title, count(o.id) FROM item i LEFT JOIN orders o ON o.item = i.id GROUP BY i.id "
         "HAVING count(o.id) > 4 ORDER BY count(o.id) DESC, i.id;\n"
         "SELECT id, title FROM item WHERE tags LIKE '%t7 %' ORDER BY price, id;\n"
         "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 300) "
         "SELECT k, (SELECT count(*) FROM orders WHERE customer = k) FROM n ORDER BY k;\n"
         "SELECT group_concat(name, ';') FROM (SELECT name FROM customer WHERE score > 900 ORDER BY id);\n"
         "SELECT json_group_array(json_object('id', id, 'p', price)) FROM (SELECT * FROM item ORDER BY id LIMIT 200);\n"
         "SELECT customer, group_concat(substr(note, 1, 10), '|') FROM (SELECT * FROM orders ORDER BY id) "
         "GROUP BY customer ORDER BY customer LIMIT 300;\n"
         "VACUUM;\n"
         "PRAGMA integrity_check;\n";
  write_file(tmp.path / "work.sql", sql.str());

  // An in-memory database, and an on-disk one (recreated for every run).
  const std::vector<std::string> memory = {"sqlite3", "-batch", ":memory:", ".read work.sql"};
  const std::vector<std::string> disk = {"sqlite3", "-batch", "db.sqlite", ".read work.sql"};
  const Env env = {{"LC_ALL", "C"}, {"HOME", tmp.path.string()}};
  const Result base = run_baseline(memory, tmp.path, env, tmp.path);
  INFO("baseline output:\n" << tail(base.out, 600));
  REQUIRE(base.out.size() > 20000);
  REQUIRE(base.out.substr(base.out.size() - 3) == "ok\n");  // integrity_check
  for (const Mode& m : kPreloaded) run_and_compare(memory, tmp.path, env, m, tmp.path, base.out);
  for (const Mode& m : kPreloaded) {
    fs::remove(tmp.path / "db.sqlite");
    run_and_compare(disk, tmp.path, env, m, tmp.path, base.out);
  }
}

TEST_CASE("the C++ compiler on a sizeable generated translation unit", "[preload][cxx]") {
  TempDir tmp;
  // 120 class templates, each instantiated twice, with maps, strings,
  // sorting, std::function and std::regex: tens of thousands of lines after
  // preprocessing and a few hundred MB of compiler allocations at -O1.
  std::ostringstream src;
  src << "#include <algorithm>\n#include <functional>\n#include <map>\n#include <memory>\n#include <numeric>\n"
         "#include <regex>\n#include <sstream>\n#include <string>\n#include <vector>\n#include <cstdio>\n";
  constexpr int kUnits = 120;
  for (int i = 0; i < kUnits; ++i) {
    src << "template <typename T> struct Unit" << i << " {\n"
        << "  std::map<std::string, std::vector<T>> table;\n"
        << "  std::function<T(T)> step = [](T x) { return x * " << (i % 7 + 2) << " + " << i << "; };\n"
        << "  T run(int n) {\n"
        << "    for (int k = 0; k < n; ++k) table[\"key\" + std::to_string(k % " << (i % 5 + 3)
        << ")].push_back(step(static_cast<T>(k)));\n"
        << "    T sum{};\n"
        << "    for (auto& [name, v] : table) { std::sort(v.begin(), v.end()); sum += std::accumulate(v.begin(), "
           "v.end(), T{}) + static_cast<T>(name.size()); }\n"
        << "    std::ostringstream os; os << sum << \"-u" << i << "\";\n"
        << "    static const std::regex re(\"([0-9]+)-u(\\\\d+)\");\n"
        << "    std::smatch m; std::string s = os.str();\n"
        << "    if (std::regex_match(s, m, re)) sum += static_cast<T>(m[2].str().size());\n"
        << "    return sum;\n  }\n};\n"
        << "long long use" << i << "() { return Unit" << i << "<long long>{}.run(" << (i % 13 + 5)
        << ") + static_cast<long long>(Unit" << i << "<double>{}.run(" << (i % 11 + 3) << ")); }\n";
  }
  src << "int main() {\n  long long total = 0;\n";
  for (int i = 0; i < kUnits; ++i) src << "  total += use" << i << "();\n";
  src << "  std::printf(\"%lld\\n\", total);\n}\n";
  write_file(tmp.path / "gen.cpp", src.str());

  // The compiler's whole output (assembly) on stdout; -frandom-seed pins the
  // one input GCC would otherwise take from the clock and pid.
  const std::vector<std::string> argv = {TINYALLOC_CXX, "-std=c++17", "-O1", "-frandom-seed=tinyalloc",
                                         "-S",          "-o",         "-",   "gen.cpp"};
  const Env env = {{"LC_ALL", "C"}, {"TMPDIR", tmp.path.string()}};
  const Result base = run_baseline(argv, tmp.path, env, tmp.path);
  INFO("baseline assembly: " << base.out.size() << " bytes");
  REQUIRE(base.out.size() > 1000000);
  for (const Mode& m : kPreloaded) run_and_compare(argv, tmp.path, env, m, tmp.path, base.out);
}
