#!/usr/bin/env bash
# The main job: build tinyalloc, apps/ini_bench and the micro-benchmarks in
# bench/, then run every workload under glibc, tinyalloc (both large-block
# strategies) and each installed peer (mimalloc, jemalloc, tcmalloc),
# interleaved: medians, min-max spreads, ratios to glibc, peak RSS, minor
# faults and system calls, as tables plus
# out/bench/latest/{results.json,results.csv,report.md,chart.svg}.
#
# Usage: scripts/bench.sh [--build DIR] [scripts/bench_run.py options]
#   e.g. scripts/bench.sh --workloads ini --reps 5      (INI workloads only)
#        scripts/bench.sh --workloads shape --reps 3 (the fixed-work shapes)
#        scripts/bench.sh --probe                      (70,000 live 40 KB blocks)
#        scripts/bench.sh --save before ... --compare before
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
args=()
while (($# > 0)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --build=*) build=${1#*=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
# time: peak RSS and minor faults per process; strace: system calls; the
# rest: the micro-benchmarks and the peers.
scripts/deps.sh time strace libbenchmark-dev libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_BUILD_APPS=ON -DTINYALLOC_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target tinyalloc_shared ini_bench microbench alloc_shapes maps_probe
exec python3 scripts/bench_run.py --build "$build" "${args[@]}"
