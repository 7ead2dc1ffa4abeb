#!/usr/bin/env bash
# Build everything (Release) and run the whole test suite with ctest.
# Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/deps.sh sqlite3   # the preload suite runs sqlite3 under tinyalloc
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_BUILD_APPS=ON -DTINYALLOC_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
