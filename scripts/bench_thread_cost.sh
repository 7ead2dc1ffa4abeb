#!/usr/bin/env bash
# What a short-lived thread costs each allocator, in instructions (callgrind:
# they do not move with machine load, unlike thread creation's wall time on a
# shared machine).  Runs bench/thread_churn.cpp's BM_ThreadChurn/N (a thread
# per iteration doing N mallocs) under callgrind with each library preloaded
# and prints the instructions executed inside the allocator library per
# thread.  N = 0 is the thread alone (what the allocator does for
# std::thread's bookkeeping and glibc's thread set-up); N = 1 minus N = 0 is
# a new thread's heap set-up, one malloc/free and the hand-over at its exit.
# The process's one-time initialisation is spread over the threads (a few
# thousand of them: a few tens of instructions each).
# Usage: scripts/bench_thread_cost.sh [--build DIR] name=/path/lib.so ...
#   e.g. scripts/bench_thread_cost.sh tinyalloc=build/libs/override/libtinyalloc.so \
#          tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [[ ${1:-} == --build ]]; then build=$2; shift 2; fi
scripts/deps.sh valgrind libbenchmark-dev
bench=$build/bench/microbench
[[ -x $bench ]] || { echo "bench_thread_cost: build $bench first (scripts/bench.sh builds it)" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '%-12s %6s %8s %14s %12s\n' allocator N threads "allocator Ir" "Ir/thread"
for spec in "$@"; do
  name=${spec%%=*}
  lib=$(realpath "${spec#*=}")
  for n in 0 1 1000; do
    rm -f "$scratch"/cg.*
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$scratch/cg.%p" \
      env LD_PRELOAD="$lib" "$bench" --benchmark_filter="ThreadChurn/$n/" --benchmark_min_time=0.5 >/dev/null 2>&1
    out=$(ls -S "$scratch"/cg.* | head -1)
    # Threads started: the calls of std::thread::_M_start_thread.
    threads=$(callgrind_annotate --tree=caller "$out" | grep -E '< .*_M_start_thread' | head -1 |
      sed 's/.*(\([0-9,]*\)x).*/\1/' | tr -d ,)
    ir=$(callgrind_annotate --inclusive=no --threshold=100 "$out" |
      awk -v lib="$(basename "$lib")" 'index($0, lib) { gsub(",", "", $1); s += $1 } END { print s + 0 }')
    printf '%-12s %6s %8s %14s %12s\n' "$name" "$n" "$threads" "$ir" "$((ir / threads))"
  done
done
