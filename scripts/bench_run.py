#!/usr/bin/env python3
"""The comparison runner: runs the chosen workloads under each allocator,
interleaved, and reports medians, min-max spreads, peak RSS, minor page
faults, system calls and ratios.

Interleaving: repetition r runs every workload once under every allocator,
and the order of the allocators rotates from one workload and repetition to
the next, so drifting machine load or CPU frequency spreads over all
allocators instead of biasing whichever ran last.  One process per
(repetition, workload, allocator), so each peak-RSS figure (from wait4)
belongs to one workload and one allocator.

System calls: after the timed runs, each (workload, allocator) runs once
more under `strace -f -c`, untimed (bench_syscalls.py); by default only the
workloads that do a fixed amount of work (--syscalls).

--probe runs bench/shapes/maps_probe instead (70,000 live 40 KB blocks: how
many memory mappings, can a thread still start) once under each allocator.

Writes RESULTS/latest/{results.json, results.csv, report.md, chart.svg} and
prints report.md.  Python 3 standard library only.  See --help.
"""

import argparse
import datetime
import json
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
import bench_syscalls  # noqa: E402
import bench_workloads  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"  # Debian package "time"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench_run.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run tinyalloc's workloads under several allocators, interleaved; report medians, "
                    "min-max spreads, peak RSS, minor faults, system calls and ratios; write JSON, CSV and an "
                    "SVG chart.",
        epilog="allocators: glibc, tinyalloc (cached large blocks), tinyalloc-direct, tinyalloc-eager "
               "(opt-in), and mimalloc, jemalloc, tcmalloc when installed; by default all but the opt-in "
               "ones.\nexample: scripts/bench_run.py --workloads ini --allocators glibc,tinyalloc --reps 5")
    p.add_argument("extra", nargs="*", metavar="name=/path/lib.so", help="another allocator to preload")
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--workloads", default="all", help="comma-separated names or groups: ini, shape, micro, all (default)")
    p.add_argument("--allocators", default="", help="comma-separated allocator names (default: all found)")
    p.add_argument("--reps", type=int, help="interleaved repetitions (default 5; 1 with --smoke)")
    p.add_argument("--reference", default="", help="allocator ratios are relative to (default glibc)")
    p.add_argument("--results", default=os.path.join(REPO, "out", "bench"),
                   help="where runs are written and saved (default: out/bench)")
    p.add_argument("--save", metavar="NAME", help="keep this run and its tinyalloc library as NAME")
    p.add_argument("--compare", metavar="NAME|DIR",
                   help="run the library saved as NAME (or in directory DIR, a saved run copied elsewhere) beside "
                        "the current tinyalloc and print before/after")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: proves everything runs")
    p.add_argument("--syscalls", choices=("fixed", "all", "none"), default="fixed",
                   help="count system calls with one more, untimed run under strace -f -c: of the workloads "
                        "with a fixed amount of work (ini, shape; the default), of all (a Google Benchmark "
                        "process's count depends on its iteration count), or none")
    p.add_argument("--probe", action="store_true",
                   help="run only the mappings probe (bench/shapes/maps_probe: 70,000 live 40 KB blocks; "
                        "7,000 with --smoke) once under each allocator; writes RESULTS/latest/probe.json")
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


def trace_syscalls(workloads, allocators, paths, args, scratch):
    """One untimed strace'd run per (workload, allocator) chosen by --syscalls:
    {(workload, allocator): counts}."""
    chosen = [w for w in workloads if args.syscalls == "all" or (args.syscalls == "fixed" and w.fixed_work)]
    if not chosen:
        return {}
    if not bench_syscalls.available():
        print("note: strace is not installed (apt-get install strace): no system-call counts", file=sys.stderr)
        return {}
    out, total = {}, len(chosen) * len(allocators)
    for w in chosen:
        for a in allocators:
            cmd = bench_workloads.command(w, paths, args.smoke, os.path.join(scratch, "gbench.json"))
            try:
                out[(w.name, a.name)] = counts = bench_syscalls.trace(cmd, a, scratch)
            except RuntimeError as e:
                raise RuntimeError(f"{w.name} under {a.name}: {e}") from None
            print(f"[strace {len(out)}/{total}] {w.name:<22} {a.name:<18} {counts['total']} calls",
                  file=sys.stderr, flush=True)
    return out


PROBE_FIELDS = ("allocated", "maps_before", "maps_live", "thread_create_ok", "thread_create_error",
                "maps_after_free_and_trim", "rss_live_kib", "rss_after_kib")


def run_probe(allocators, paths, args):
    """maps_probe once under each allocator: (report text, {allocator: its JSON})."""
    cmd = [paths.maps_probe] + (["--blocks", "7000"] if args.smoke else [])
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_probe.") as scratch:
        for a in allocators:
            stdout, rss, minflt, seconds = run_once(cmd, a, scratch)
            results[a.name] = {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_kib": rss,
                               "minflt": minflt, "seconds": round(seconds, 3)}
            print(f"[probe] {a.name:<18} {seconds:6.2f} s", file=sys.stderr, flush=True)
    first = next(iter(results.values()))
    cell = lambda v: ("yes" if v else "no") if isinstance(v, bool) else str(v) if v != "" else "–"  # noqa: E731
    rows = [[a] + [cell(r[f]) for f in PROBE_FIELDS] + [f"{r['seconds']:.2f}"] for a, r in results.items()]
    text = (f"## Mappings probe: {first['blocks']:,} live blocks of {first['block_size']:,} bytes "
            f"(vm.max_map_count {first['max_map_count']})\n\n" +
            bench_report.markdown_table(["allocator"] + list(PROBE_FIELDS) + ["seconds"], rows) +
            "\n\nmaps_* = lines of /proc/self/maps: before allocating, with every block live, after freeing "
            "them all and malloc_trim(0); thread_create = one pthread_create while the blocks are live.")
    return text, results


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
                            alloc_shapes=os.path.join(build, "bench", "shapes", "alloc_shapes"),
                            maps_probe=os.path.join(build, "bench", "shapes", "maps_probe"),
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
        if args.probe:
            needed = [paths.ini_bench, paths.tinyalloc, TIME, paths.maps_probe]
        elif any(w.group == "shape" for w in workloads):
            needed.append(paths.alloc_shapes)
        for path in needed:
            if not os.path.exists(path):
                raise ValueError(f"not built: {path}\n  build first, e.g. scripts/bench.sh (or cmake --build "
                                 f"{args.build} --target tinyalloc_shared ini_bench microbench alloc_shapes "
                                 f"maps_probe; microbench needs libbenchmark-dev)")
        system = bench_allocators.preflight(allocators, paths.ini_bench)
    except (ValueError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"bench_run.py: {e}", file=sys.stderr)
        return 2

    run_dir = os.path.join(args.results, "latest")
    if args.probe:
        try:
            text, results = run_probe(allocators, paths, args)
        except (RuntimeError, ValueError) as e:
            print(f"bench_run.py: probe: {e}", file=sys.stderr)
            return 1
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "probe.json"), "w") as f:
            json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "version": git_version(),
                       "allocators": {a.name: a.describe() for a in allocators}, "results": results}, f, indent=1)
        print(text)
        print(f"\nwritten: {run_dir}/probe.json")
        return 0

    print(f"allocators ({args.reps} interleaved repetitions, reference {reference}, {os.cpu_count()} CPUs):")
    for a in allocators:
        print(f"  {a.name:<18} {a.describe() if a.library else f'(no LD_PRELOAD: {system})'}")
    print(f"workloads: {', '.join(w.name for w in workloads)}\n", flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_run.") as scratch:
        try:
            records = measure(workloads, allocators, paths, args, scratch)
            syscalls = trace_syscalls(workloads, allocators, paths, args, scratch)
        except RuntimeError as e:
            print(f"bench_run.py: {e}", file=sys.stderr)
            return 1
    minutes = (time.monotonic() - started) / 60

    summary = bench_report.Summary(records, [w.name for w in workloads], names, reference, syscalls)
    describe = {w.name: w.what for w in workloads}.get
    report = bench_report.text_report(summary, describe)
    if args.compare:
        report += (f"\n\n## Before/after: saved run '{args.compare}' against this build\n\n" +
                   bench_saved.compare_table(summary, saved_rows, before) +
                   "\n\nverdict 'noise': the change is smaller than the larger min-max spread of the two.")
    problems = checksum_failures(records)

    os.makedirs(run_dir, exist_ok=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "version": git_version(),
            "build": build, "cpus": os.cpu_count(), "kernel": platform.release(),
            "libc": " ".join(platform.libc_ver()), "reps": args.reps, "smoke": args.smoke,
            "reference": reference, "minutes": round(minutes, 2), "command": " ".join(sys.argv),
            "syscalls": args.syscalls,
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
