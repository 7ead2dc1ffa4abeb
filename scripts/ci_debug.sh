#!/usr/bin/env bash
# The whole ctest suite in a Debug build with tinyalloc's internal assertions
# on (TINYALLOC_DEBUG=ON: the invariants stated in the headers are checked).
# Plain Debug (-O0 -g), not RelWithDebInfo: the assertions key off
# TINYALLOC_DEBUG, not NDEBUG, so either would check them, and -O0 costs
# little here (about 1 min to build and 2 min to test on 2 cores, the
# preload suite the longest at ~100 s) while running every test at timings
# and code generation unlike the Release run's.
# Usage: scripts/ci_debug.sh [build-dir]   (default: build-debug)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-debug}
scripts/deps.sh sqlite3   # the preload suite runs sqlite3 under tinyalloc
t0=$SECONDS
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTINYALLOC_DEBUG=ON \
  -DTINYALLOC_BUILD_APPS=ON -DTINYALLOC_BUILD_TESTS=ON -DTINYALLOC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
t1=$SECONDS
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
echo "ci_debug: build $((t1 - t0)) s, tests $((SECONDS - t1)) s" >&2
