#!/usr/bin/env bash
# The main job: build, then run ini_bench under tinyalloc beside the system
# malloc (and any peer allocator installed), interleaved, with medians and
# ratios.  Usage: scripts/bench.sh [bench_compare.sh options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_BUILD_APPS=ON >/dev/null
cmake --build build -j"$(nproc)" --target tinyalloc_shared ini_bench
peers=()
for p in mimalloc=libmimalloc.so.2 jemalloc=libjemalloc.so.2 tcmalloc=libtcmalloc_minimal.so.4; do
  lib=/usr/lib/$(uname -m)-linux-gnu/${p#*=}
  [ -e "$lib" ] && peers+=("${p%%=*}=$lib")
done
exec scripts/bench_compare.sh --build build "$@" "${peers[@]}"
