#!/usr/bin/env python3
"""Instruction counts (valgrind --tool=callgrind) of builds of libtinyalloc.so,
or of any allocator's library, under LD_PRELOAD.  They do not move with the
machine's load, so they resolve differences that timings on a shared machine
cannot.

  pairs: bench/shapes/malloc_pairs (64 mallocs of 16-128 B, then their frees,
         x ROUNDS): instructions in malloc and free (inclusive) per pair;
  ini:   apps/ini_bench, every workload once at scripts/bench_workloads.py's
         full iteration count (--repeat 1): the whole process's instructions.
         The threads workloads vary by ~1% run to run (their interleaving).

Usage: scripts/count_instructions.py [--only pairs|ini] [--build DIR] name=/path/lib.so ...
e.g.   scripts/count_instructions.py unhardened=build-off/libs/override/libtinyalloc.so \\
           default=build/libs/override/libtinyalloc.so
Prints a Markdown table; the first library is the reference for the ratios.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_workloads  # noqa: E402

ROUNDS = 20000


def callgrind(argv, lib):
    """Callgrind output file of the program (the largest: env execs it)."""
    d = tempfile.mkdtemp(prefix="count_instr.")
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                    f"--callgrind-out-file={d}/cg.%p", "env", f"LD_PRELOAD={os.path.abspath(lib)}"] + argv,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    files = sorted((os.path.join(d, f) for f in os.listdir(d)), key=os.path.getsize)
    return files[-1]


def total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def per_pair(build, lib):
    out = callgrind([os.path.join(build, "bench/shapes/malloc_pairs"), str(ROUNDS)], lib)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                         capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) .*:(?:__libc_)?(malloc|free) \[", line)
        if m and m.group(2) not in counts:
            counts[m.group(2)] = int(m.group(1).replace(",", "")) / (64 * ROUNDS)
    return {"malloc + free, per pair": counts["malloc"] + counts["free"]}


def ini(build, lib):
    res = {}
    for w in bench_workloads.WORKLOADS:
        if w.group != "ini":
            continue
        out = callgrind([os.path.join(build, "apps/ini_bench/ini_bench"), "--mode", w.mode, "--corpus", w.corpus,
                         "--iterations", str(w.full[0]), "--repeat", "1", "--quiet"], lib)
        res[w.name] = total(out)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["pairs", "ini"])
    ap.add_argument("--build", default="build")
    ap.add_argument("libs", nargs="+", metavar="name=/path/lib.so")
    a = ap.parse_args()
    libs = [tuple(x.split("=", 1)) for x in a.libs]
    rows = {}
    for name, lib in libs:
        for job in ([per_pair] if a.only != "ini" else []) + ([ini] if a.only != "pairs" else []):
            for metric, v in job(a.build, lib).items():
                rows.setdefault(metric, {})[name] = v
    base = libs[0][0]
    print("| instructions | " + " | ".join(n for n, _ in libs) + " |")
    print("|---|" + "---:|" * len(libs))
    for metric, by in rows.items():
        cells = []
        for n, _ in libs:
            v = by[n]
            text = f"{v:.1f}" if v < 1e4 else f"{v / 1e6:.1f} M"
            if n != base:
                text += f" ({(v / by[base] - 1) * 100:+.1f}%)"
            cells.append(text)
        print(f"| {metric} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
