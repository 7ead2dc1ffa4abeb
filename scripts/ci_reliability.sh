#!/usr/bin/env bash
# Issue 4's reliability checks in one run, for CI (about 15-20 minutes on two
# cores):
#   1. sanitizers: unit tests + stress under TSan, and under ASan+UBSan;
#   2. the stress, fault and misuse suites (Release build; skipped with
#      SKIP_SUITES=1 when the main `scripts/test.sh` ctest run already ran them);
#   3. the stress, misuse and segment/arena/large/api suites in a TINYALLOC_SECURE=ON build;
#   4. a 60-second fuzz run from the seed corpus;
#   5. valgrind memcheck.
# Every step runs even if an earlier one failed; the exit status is non-zero
# if any failed, and the summary names them.
# Usage: scripts/ci_reliability.sh [build-prefix]   (default: build; dirs <prefix>-tsan, -asan, -rel, -secure, -fuzz, -valgrind)
set -uo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}
scripts/deps.sh clang libclang-rt-14-dev valgrind libc6-dbg sqlite3 || exit 1

failed=()
step() {
  local name=$1
  shift
  local t0=$SECONDS
  echo "=== reliability: $name" >&2
  if "$@"; then
    echo "=== reliability: $name: OK ($((SECONDS - t0)) s)" >&2
  else
    echo "=== reliability: $name: FAILED ($((SECONDS - t0)) s)" >&2
    failed+=("$name")
  fi
}

suites() {
  local dir="$prefix-rel"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_BUILD_APPS=OFF -DTINYALLOC_BUILD_TESTS=ON >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" --target test_stress test_stress_override test_faults faults_dl test_misuse \
      test_misuse_override test_misuse_preload tinyalloc_shared &&
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -R '^(stress.*|faults|misuse.*)$'
}

# The secure build catches more misuse (foreign pointers, every double free at
# the free itself) and changes the layout (guard pages, random block order,
# zero on free): its misuse cases, no false alarm under stress, and the unit
# suites of the layers whose behaviour it changes.
secure_suites() {
  local dir="$prefix-secure"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_SECURE=ON -DTINYALLOC_BUILD_APPS=OFF \
    -DTINYALLOC_BUILD_BENCH=OFF -DTINYALLOC_BUILD_TESTS=ON >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" --target test_stress test_stress_override test_misuse test_misuse_override \
      test_misuse_preload test_segment test_arena test_large test_api tinyalloc_shared &&
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -R '^(stress.*|misuse.*|segment|arena|large|api)$'
}

step sanitizers scripts/ci_sanitizers.sh "$prefix"
if [ "${SKIP_SUITES:-0}" != 1 ]; then step "stress, fault and misuse suites" suites; fi
step "stress, misuse and unit suites with TINYALLOC_SECURE=ON" secure_suites
step "fuzz (60 s)" scripts/fuzz.sh 60 "$prefix-fuzz"
step valgrind scripts/ci_valgrind.sh "$prefix-valgrind"

if [ ${#failed[@]} -ne 0 ]; then
  printf 'reliability: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "reliability: all steps passed" >&2
