#!/usr/bin/env bash
# CI: build the benchmarks and run each workload once, at its smallest size,
# under glibc and every tinyalloc variant -- proof that they all run and that
# the runner's outputs, the system-call counts (strace), the mappings probe,
# --save/--compare and the oracle malloc work; not a timed test (no figure is
# compared with anything).  Exits non-zero on any failure.
# Usage: scripts/ci_bench_smoke.sh [build-dir]   (default: build-bench-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench-smoke}
results=$build/bench-results
scripts/deps.sh time strace libbenchmark-dev
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_BUILD_APPS=ON -DTINYALLOC_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target tinyalloc_shared ini_bench microbench alloc_shapes maps_probe lock_bench \
  oracle_malloc

run() { python3 scripts/bench_run.py --build "$build" --results "$results" --smoke "$@"; }
run --allocators glibc,tinyalloc,tinyalloc-direct,tinyalloc-eager --save smoke
for f in results.json results.csv report.md chart.svg; do
  [[ -s $results/latest/$f ]] || { echo "ci_bench_smoke: $results/latest/$f missing or empty" >&2; exit 1; }
done
for w in large_churn medium_two_threads thread_rounds larson remote_collection; do
  grep -q "^### $w:" "$results/latest/report.md" ||
    { echo "ci_bench_smoke: workload $w missing from report.md" >&2; exit 1; }
done
grep -q "^| system calls |" "$results/latest/report.md" ||
  { echo "ci_bench_smoke: no system-call counts in report.md" >&2; exit 1; }
run --probe --allocators glibc,tinyalloc
grep -q '"maps_after_free_and_trim"' "$results/latest/probe.json" ||
  { echo "ci_bench_smoke: the mappings probe wrote no probe.json" >&2; exit 1; }
run --workloads ini_parse_small,control --compare smoke
grep -q "Before/after: saved run 'smoke'" "$results/latest/report.md" ||
  { echo "ci_bench_smoke: --compare printed no before/after table" >&2; exit 1; }
"$build/bench/lock_bench" --benchmark_min_time=0.001 >/dev/null  # not a runner workload: it links the lock
for mode in parse mixed threads; do  # the floor's library (bench/oracle) runs; ini_bench checks its checksums
  LD_PRELOAD=$build/bench/oracle/liboracle_malloc.so ORACLE_PREFAULT_MIB=64 \
    "$build/apps/ini_bench/ini_bench" --mode $mode --corpus small --iterations 10 --repeat 1 >/dev/null
done
echo "ci_bench_smoke: every benchmark ran"
