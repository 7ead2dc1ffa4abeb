#!/usr/bin/env python3
"""The comparison runner: runs the chosen workloads under each allocator,
interleaved, and reports medians, min-max spreads, peak RSS and ratios.

Interleaving: repetition r runs every workload once under every allocator,
and the order of the allocators rotates from one workload and repetition to
the next, so drifting machine load or CPU frequency spreads over all
allocators instead of biasing whichever ran last.  One process per
(repetition, workload, allocator), so each peak-RSS figure (from wait4)
belongs to one workload and one allocator.

Writes RESULTS/latest/{results.json, results.csv, report.md, chart.svg} and
prints report.md.  Python 3 standard library only.  See --help.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_allocators  # noqa: E402
import bench_report  # noqa: E402
import bench_saved  # noqa: E402
import bench_svg  # noqa: E402
import bench_workloads  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"  # Debian package "time"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench_run.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run tinyalloc's workloads under several allocators, interleaved; report medians, "
                    "min-max spreads, peak RSS and ratios; write JSON, CSV and an SVG chart.",
        epilog="allocators: glibc, tinyalloc (cached large blocks), tinyalloc-direct, tinyalloc-eager "
               "(opt-in), and mimalloc, jemalloc, tcmalloc when installed; by default all but the opt-in "
               "ones.\nexample: scripts/bench_run.py --workloads ini --allocators glibc,tinyalloc --reps 5")
    p.add_argument("extra", nargs="*", metavar="name=/path/lib.so", help="another allocator to preload")
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--workloads", default="all", help="comma-separated names or groups: ini, micro, all (default)")
    p.add_argument("--allocators", default="", help="comma-separated allocator names (default: all found)")
    p.add_argument("--reps", type=int, help="interleaved repetitions (default 5; 1 with --smoke)")
    p.add_argument("--reference", default="", help="allocator ratios are relative to (default glibc)")
    p.add_argument("--results", default=os.path.join(REPO, "out", "bench"),
                   help="where runs are written and saved (default: out/bench)")
    p.add_argument("--save", metavar="NAME", help="keep this run and its tinyalloc library as NAME")
    p.add_argument("--compare", metavar="NAME",
                   help="run the library saved as NAME beside the current tinyalloc and print before/after")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: proves everything runs")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.smoke else 5
    if args.reps < 1:
        p.error("--reps must be at least 1")
    return args


def run_once(cmd, allocator, scratch):
    """Runs one benchmark process; returns (stdout, peak RSS KiB, minor faults, seconds).

    The process is started as /usr/bin/time -> env -> benchmark: wait4's
    ru_maxrss of a child of this Python process would start at Python's own
    RSS (Linux carries the high-water mark across exec), whereas time(1) is
    small.  The allocator's variables are set by env(1), so time itself and
    this script always run on the C library's malloc."""
    rusage = os.path.join(scratch, "rusage")
    settings = [f"{k}={v}" for k, v in allocator.settings().items()]
    argv = [TIME, "-o", rusage, "-f", "%M %R", "env"] + settings + cmd
    with open(os.path.join(scratch, "stdout"), "w+") as out, open(os.path.join(scratch, "stderr"), "w+") as err:
        start = time.monotonic()
        status = subprocess.run(argv, env=allocator.base_environment(), stdout=out, stderr=err).returncode
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if status != 0:
        raise RuntimeError(f"exit status {status}: {' '.join(cmd)}\n{stdout}{stderr}")
    with open(rusage) as f:
        peak_kib, minflt = (int(v) for v in f.read().split()[-2:])
    return stdout, peak_kib, minflt, elapsed


def measure(workloads, allocators, paths, args, scratch):
    records = []
    total, done, started = args.reps * len(workloads) * len(allocators), 0, time.monotonic()
    for rep in range(args.reps):
        for wi, w in enumerate(workloads):
            shift = (rep + wi) % len(allocators)
            for a in allocators[shift:] + allocators[:shift]:
                tmp_json = os.path.join(scratch, "gbench.json")
                cmd = bench_workloads.command(w, paths, args.smoke, tmp_json)
                try:
                    stdout, rss, minflt, seconds = run_once(cmd, a, scratch)
                    values = bench_workloads.metrics(w, stdout, tmp_json)
                except RuntimeError as e:
                    raise RuntimeError(f"{w.name} under {a.name}: {e}") from None
                for metric, ns, checksum in values:
                    records.append({"workload": w.name, "metric": metric, "allocator": a.name, "rep": rep,
                                    "ns": ns, "peak_rss_kib": rss, "minflt": minflt, "seconds": round(seconds, 3),
                                    "checksum": checksum})
                done += 1
                eta = (time.monotonic() - started) / done * (total - done)
                print(f"[{done}/{total}] rep {rep + 1} {w.name:<22} {a.name:<18} {seconds:6.2f} s  "
                      f"rss {rss // 1024} MiB  eta {eta / 60:.1f} min", file=sys.stderr, flush=True)
    return records


def checksum_failures(records):
    """ini_bench's checksum depends only on the work done: any difference
    between allocators means one of them corrupted a document."""
    seen = {}
    for r in records:
        if r["checksum"] is not None:
            seen.setdefault(r["workload"], set()).add(r["checksum"])
    return [f"WARNING: {w}: checksums differ between runs: {sorted(c)}" for w, c in seen.items() if len(c) > 1]


def git_version():
    try:
        head = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True).stdout.strip()
        return head
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv):
    args = parse_args(argv)
    if args.list:
        for w in bench_workloads.WORKLOADS:
            print(f"{w.name:<22} {w.group:<6} {w.what}")
        return 0
    build = os.path.abspath(args.build)
    paths = SimpleNamespace(ini_bench=os.path.join(build, "apps", "ini_bench", "ini_bench"),
                            microbench=os.path.join(build, "bench", "microbench"),
                            tinyalloc=os.path.join(build, "libs", "override", "libtinyalloc.so"))
    try:
        workloads = bench_workloads.select(args.workloads)
        found = bench_allocators.known(paths.tinyalloc, args.extra)
        saved_rows, before = None, None
        if args.compare:
            saved_alloc, saved_rows = bench_saved.load(args.results, args.compare)
            if saved_alloc:
                found[saved_alloc.name] = saved_alloc
                before = saved_alloc.name
        spec = args.allocators or (f"{before},tinyalloc" if args.compare and before else
                                   "tinyalloc" if args.compare else "")
        allocators = bench_allocators.choose(found, spec, args.extra)
        names = [a.name for a in allocators]
        reference = args.reference or (before if before else "glibc" if "glibc" in names else names[0])
        if reference not in names:
            raise ValueError(f"reference '{reference}' is not among the allocators run")
        needed = [paths.ini_bench, paths.tinyalloc, TIME]
        if any(w.group == "micro" for w in workloads):
            needed.append(paths.microbench)
        for path in needed:
            if not os.path.exists(path):
                raise ValueError(f"not built: {path}\n  build first, e.g. scripts/bench.sh (or cmake --build "
                                 f"{args.build} --target tinyalloc_shared ini_bench microbench; microbench "
                                 f"needs libbenchmark-dev)")
        system = bench_allocators.preflight(allocators, paths.ini_bench)
    except (ValueError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"bench_run.py: {e}", file=sys.stderr)
        return 2

    print(f"allocators ({args.reps} interleaved repetitions, reference {reference}, {os.cpu_count()} CPUs):")
    for a in allocators:
        print(f"  {a.name:<18} {a.describe() if a.library else f'(no LD_PRELOAD: {system})'}")
    print(f"workloads: {', '.join(w.name for w in workloads)}\n", flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_run.") as scratch:
        try:
            records = measure(workloads, allocators, paths, args, scratch)
        except RuntimeError as e:
            print(f"bench_run.py: {e}", file=sys.stderr)
            return 1
    minutes = (time.monotonic() - started) / 60

    summary = bench_report.Summary(records, [w.name for w in workloads], names, reference)
    describe = {w.name: w.what for w in workloads}.get
    report = bench_report.text_report(summary, describe)
    if args.compare:
        report += (f"\n\n## Before/after: saved run '{args.compare}' against this build\n\n" +
                   bench_saved.compare_table(summary, saved_rows, before) +
                   "\n\nverdict 'noise': the change is smaller than the larger min-max spread of the two.")
    problems = checksum_failures(records)

    run_dir = os.path.join(args.results, "latest")
    os.makedirs(run_dir, exist_ok=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "version": git_version(),
            "build": build, "cpus": os.cpu_count(), "kernel": platform.release(),
            "libc": " ".join(platform.libc_ver()), "reps": args.reps, "smoke": args.smoke,
            "reference": reference, "minutes": round(minutes, 2), "command": " ".join(sys.argv),
            "allocators": {a.name: a.describe() for a in allocators},
            "workloads": {w.name: w.what for w in workloads}}
    bench_report.write_json(summary, os.path.join(run_dir, "results.json"), meta, records)
    bench_report.write_csv(summary, os.path.join(run_dir, "results.csv"))
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write(report + "\n")
    bench_svg.write_chart(os.path.join(run_dir, "chart.svg"), summary,
                          f"tinyalloc benchmarks · {meta['version']} · {meta['date']}")
    print(report)
    print("\n".join(problems))
    print(f"\nwritten: {run_dir}/{{results.json,results.csv,report.md,chart.svg}} ({minutes:.1f} min)")
    if args.save:
        print(f"saved as '{args.save}': {bench_saved.save(args.results, args.save, run_dir, paths.tinyalloc)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
