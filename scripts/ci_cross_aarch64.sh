#!/usr/bin/env bash
# Every library source compiles for aarch64 (Debian's cross compiler): the
# platform layer (libs/region) is the only place with CPU-specific code, and
# this keeps it honest.  Compiles to objects; links and runs nothing.
# Usage: scripts/ci_cross_aarch64.sh [out-dir]   (default: build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-aarch64}
scripts/deps.sh g++-aarch64-linux-gnu libboost-dev
mkdir -p "$out"
includes=()
for d in libs/*/include libs/arena/internal libs/heap/src; do includes+=("-I$d"); done
n=0
while IFS= read -r -d '' f; do
  # Boost is header-only and architecture-independent: found after the
  # cross compiler's own system headers.
  aarch64-linux-gnu-g++ -std=c++20 -O2 -Wall -Wextra -Werror -c "${includes[@]}" -idirafter /usr/include \
    "$f" -o "$out/$(basename "$f").o"
  n=$((n + 1))
done < <(git ls-files -z 'libs/*.cpp')
echo "aarch64: $n library sources compiled" >&2
