#!/usr/bin/env python3
"""A/B of builds of libtinyalloc.so for small differences on a noisy machine.

Runs one benchmark under each library (LD_PRELOAD) in turn, ROUNDS times,
alternating the order every round (A B C, C B A, ...), and prints medians,
and the median of each round's difference or ratio to the first library,
with its 95% bootstrap interval (2,000 resamples of the rounds): on this
kind of VM one process of a library can take twice as long as the next, so
a 2% bar needs the interval, and a couple of hundred rounds, to be settled:

  --pairs   bench/microbench BM_MallocFree/<size> (0.2 s each): ns per bare
            malloc/free pair, and the difference to the first library;
  --ini     apps/ini_bench, every workload at scripts/bench_workloads.py's
            size with --repeat 5: the run's minimum us/op (the repetition
            least disturbed by other processes) and its user+sys CPU time;
            last, the geometric mean of the workloads' times (each round's,
            then their median and the median of each round's ratio).
  --shape   bench/shapes/alloc_shapes --shape NAME (comma-separated names,
            --seed N to pick another trajectory): ns per item, the timed
            part's minor faults and user+sys CPU ms (its RESULT line), and
            the process's peak RSS in MiB (/usr/bin/time -f %M).  Any
            library, not only tinyalloc: glibc= and a peer's .so compare
            allocators.

Usage: scripts/ab_libs.py --pairs [SIZES]|--ini [--only NAMES]|--shape NAMES [--seed N] [--rounds N] [--build DIR] [--raw FILE] name=[VAR=VALUE,...@]/path/lib.so ...
       (settings before an @ are set in that library's runs only; glibc= preloads nothing)
e.g.   scripts/ab_libs.py --ini --rounds 21 unhardened=build-off/libs/override/libtinyalloc.so \\
           default=build/libs/override/libtinyalloc.so
scripts/bench.sh is the general runner (every allocator, RSS, faults, syscalls); this one only
compares builds, with the statistics that resolve a 1% difference.
"""
import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_workloads  # noqa: E402


def run(argv, lib):
    """lib: the library to preload, after any VAR=VALUE,...@ to set for this run alone."""
    settings, _, lib = lib.rpartition("@")
    env = dict(os.environ, LD_PRELOAD=lib)
    env.update(kv.split("=", 1) for kv in settings.split(",") if kv)
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(argv)} under {lib} failed ({status})")
    return out, usage


def pairs(build, lib, sizes):
    with tempfile.NamedTemporaryFile(suffix=".json") as t:
        run([os.path.join(build, "bench/microbench"), f"--benchmark_filter=^BM_MallocFree/({sizes})/",
             "--benchmark_min_time=0.2", f"--benchmark_out={t.name}", "--benchmark_out_format=json"], lib)
        return {b["name"].split("/")[1] + " B": b["real_time"] for b in json.load(open(t.name))["benchmarks"]}


def ini(build, lib, w):
    iterations, _ = w.full
    out, usage = run([os.path.join(build, "apps/ini_bench/ini_bench"), "--mode", w.mode, "--corpus", w.corpus,
                      "--iterations", str(iterations), "--repeat", "5"], lib)
    return {w.name: float(re.search(r"min_us=([0-9.]+)", out).group(1)),
            w.name + " (cpu)": usage.ru_utime + usage.ru_stime}


def shape(build, lib, name, seed):
    # Peak RSS from /usr/bin/time, not from this process's wait4: a child's
    # ru_maxrss keeps the high-water mark it had before exec, which for a
    # child of Python is Python's own (~16 MiB).
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as t:
        out, _ = run(["/usr/bin/time", "-o", t.name, "-f", "%M", os.path.join(build, "bench/shapes/alloc_shapes"),
                      "--shape", name] + (["--seed", str(seed)] if seed is not None else []), lib)
        rss_kib = float(t.read().split()[-1])
    field = lambda key: float(re.search(key + r"=([0-9.]+)", out).group(1))  # noqa: E731
    return {name: field("ns_per_item"), name + " (timed faults)": field("timed_faults"),
            name + " (timed cpu ms)": field("user_ms") + field("sys_ms"), name + " (peak RSS MiB)": rss_kib / 1024}


def median_interval(values, resamples=2000):
    """The median of values and a 95% bootstrap interval for it (fixed seed: reruns print the same)."""
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return statistics.median(values), meds[resamples // 40], meds[resamples - 1 - resamples // 40]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--pairs", nargs="?", const="16|48|64|128|1024", metavar="SIZES")
    mode.add_argument("--ini", action="store_true")
    mode.add_argument("--shape", metavar="NAMES")
    ap.add_argument("--seed", type=int, help="--shape: alloc_shapes' seed (default its own)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", help="ini workloads to run (comma-separated names; default all)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--raw", metavar="FILE", help="also write every sample, per metric and library, as JSON")
    ap.add_argument("libs", nargs="+", metavar="name=[VAR=VALUE,...@]/path/lib.so")
    a = ap.parse_args()
    libs = [tuple(x.split("=", 1)) for x in a.libs]
    names = [n for n, _ in libs]
    if a.pairs:
        jobs = [lambda lib: pairs(a.build, lib, a.pairs)]
    elif a.shape:
        jobs = [lambda lib, n=n: shape(a.build, lib, n, a.seed) for n in a.shape.split(",")]
    else:
        jobs = [lambda lib, w=w: ini(a.build, lib, w) for w in bench_workloads.WORKLOADS
                if w.group == "ini" and (not a.only or w.name in a.only.split(","))]
    samples = {}
    for job in jobs:
        for r in range(a.rounds):
            for name, lib in (libs if r % 2 == 0 else libs[::-1]):
                for metric, v in job(lib).items():
                    samples.setdefault(metric, {}).setdefault(name, []).append(v)
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(samples, f)
    base = names[0]
    unit = "ns" if a.pairs else "ns per item, or as named" if a.shape else "us/op (min of 5) or CPU s"
    print(f"| metric ({unit}, median of {a.rounds}) | " + " | ".join(names) + " | " +
          " | ".join(f"{n} vs {base}" for n in names[1:]) + " |")
    print("|---|" + "---:|" * (2 * len(names) - 1))
    for metric, by in samples.items():
        med = {n: statistics.median(by[n]) for n in names}
        # Each round ran every library back to back: compare within rounds
        # (median of the per-round differences or ratios), which cancels the
        # load that drifts over a run.
        rel = []
        for n in names[1:]:
            if a.pairs:
                m, lo, hi = median_interval([x - y for x, y in zip(by[n], by[base])])
                rel.append(f"{m:+.2f} ns ({lo:+.2f} to {hi:+.2f})")
            else:
                m, lo, hi = median_interval([x / y for x, y in zip(by[n], by[base])])
                rel.append(f"{m:.3f}x ({lo:.3f}-{hi:.3f})")
        print(f"| {metric} | " + " | ".join(f"{med[n]:.3f}" for n in names) + " | " + " | ".join(rel) + " |",
              flush=True)
    times = [m for m in samples if not a.pairs and not m.endswith(")")]
    if len(times) > 1:
        # Each round's geometric mean over the workloads, then the median of
        # the rounds: the figure the ini_bench bars are stated in.
        geo = {n: statistics.median(math.exp(statistics.fmean(math.log(samples[m][n][r]) for m in times))
                                    for r in range(a.rounds)) for n in names}
        rel = []
        for n in names[1:]:
            per_round = [math.exp(statistics.fmean(math.log(samples[m][n][r] / samples[m][base][r]) for m in times))
                         for r in range(a.rounds)]
            m, lo, hi = median_interval(per_round)
            rel.append(f"{m:.3f}x ({lo:.3f}-{hi:.3f})")
        print(f"| geomean of the {len(times)} workloads | " + " | ".join(f"{geo[n]:.3f}" for n in names) + " | " +
              " | ".join(rel) + " |")


if __name__ == "__main__":
    main()
