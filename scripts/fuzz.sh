#!/usr/bin/env bash
# Build the libFuzzer harness (fuzz/) with clang, ASan and UBSan, and fuzz the
# ta_* API for a number of seconds (default 600), starting from fuzz/corpus/.
# New inputs go to <build-dir>/corpus (fuzz/corpus/ is left untouched); a
# crash leaves its input as <build-dir>/crash-* and fails the run.
# Usage: scripts/fuzz.sh [seconds] [build-dir]     (default: 600 build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
dir=${2:-build-fuzz}
scripts/deps.sh clang libclang-rt-14-dev
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
CC=clang CXX=clang++ cmake -S fuzz -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_alloc
mkdir -p "$dir/corpus"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1"
log="$dir/fuzz.log"
# One job per core would make the runs nondeterministic in speed only; keep
# one process so the executions count is comparable between runs.
if ! "$dir/fuzz_alloc" -max_total_time="$secs" -timeout=20 -max_len=4096 -print_final_stats=1 \
     -artifact_prefix="$dir/" "$dir/corpus" fuzz/corpus 2>"$log"; then
  tail -50 "$log" >&2
  echo "fuzz: FAILED (input saved as $dir/crash-* or similar; log $log)" >&2
  exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "fuzz: OK: $execs executions in ${secs} s, corpus $(ls "$dir/corpus" | wc -l) inputs" >&2
