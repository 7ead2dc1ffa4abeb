#!/usr/bin/env bash
# Install tinyalloc to a temporary prefix with `cmake --install`, then build
# and run every consumer in examples/ against the installed package only:
#   - each examples/*/CMakeLists.txt project: find_package(tinyalloc ...),
#     built and run with its own ctest;
#   - examples/c_pkgconfig: a C program built with `pkg-config tinyalloc`;
#   - the installed libtinyalloc.so: TINYALLOC_SHOW_STATS=1 LD_PRELOAD=... ls
#     prints the statistics table;
#   - an unknown component makes find_package fail.
# Every check runs; exits non-zero if any failed.
# Usage: scripts/ci_install_examples.sh [build-dir]   (default: build-install)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-install}
scripts/deps.sh pkg-config

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinyalloc-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { printf '\n== %s\n' "$*"; }

step "build and install tinyalloc to $prefix"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DTINYALLOC_BUILD_TESTS=OFF -DTINYALLOC_BUILD_APPS=OFF -DTINYALLOC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
grep -c "Installing:" "$tmp/install.log" | sed 's/^/files installed: /'

passed=0
failed=0
check() {  # check <name> <command...>: run, count, keep going to report all
  local name=$1
  shift
  if "$@"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

cmake_example() {
  local dir=$1 out=$tmp/build-$(basename "$1")
  cmake -S "$dir" -B "$out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$out.log" 2>&1 ||
    { cat "$out.log"; return 1; }
  cmake --build "$out" -j"$(nproc)" && ctest --test-dir "$out" --output-on-failure
}

for cml in examples/*/CMakeLists.txt; do
  dir=$(dirname "$cml")
  step "CMake consumer $dir"
  check "$dir" cmake_example "$dir"
done

pc_example() {
  local pcdir
  pcdir=$(dirname "$(find "$prefix" -name tinyalloc.pc | head -n1)")
  export PKG_CONFIG_PATH=$pcdir
  echo "pkg-config --cflags --libs tinyalloc: $(pkg-config --cflags --libs tinyalloc)"
  make -s -C examples/c_pkgconfig OUT="$tmp" && "$tmp/c_pkgconfig"
}
step "pkg-config consumer examples/c_pkgconfig"
check examples/c_pkgconfig pc_example

preload_ls() {
  local so
  so=$(find "$prefix" -name libtinyalloc.so | head -n1)
  TINYALLOC_SHOW_STATS=1 LD_PRELOAD=$so ls / >/dev/null 2>"$tmp/ls.err" || return 1
  head -n3 "$tmp/ls.err"
  grep -q "tinyalloc statistics" "$tmp/ls.err"
}
step "TINYALLOC_SHOW_STATS=1 LD_PRELOAD=<installed libtinyalloc.so> ls"
check preload-ls-stats preload_ls

unknown_component() {
  mkdir -p "$tmp/unknown"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.20)' 'project(unknown NONE)' \
    'find_package(tinyalloc REQUIRED COMPONENTS nosuch)' >"$tmp/unknown/CMakeLists.txt"
  if cmake -S "$tmp/unknown" -B "$tmp/unknown/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/unknown.log" 2>&1; then
    echo "find_package accepted an unknown component"
    return 1
  fi
  grep -m1 "unknown component 'nosuch'" "$tmp/unknown.log"
}
step "find_package(tinyalloc COMPONENTS nosuch) fails"
check unknown-component unknown_component

echo
echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
