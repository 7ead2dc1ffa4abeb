#!/usr/bin/env bash
# Issue 4's reliability checks in one run, for CI (about 15-20 minutes on two
# cores):
#   1. sanitizers: unit tests + stress under TSan, and under ASan+UBSan;
#   2. the stress, fault and misuse suites (Release build; skipped with
#      SKIP_SUITES=1 when the main `scripts/test.sh` ctest run already ran them);
#   3. a 60-second fuzz run from the seed corpus;
#   4. valgrind memcheck.
# Every step runs even if an earlier one failed; the exit status is non-zero
# if any failed, and the summary names them.
# Usage: scripts/ci_reliability.sh [build-prefix]   (default: build; dirs <prefix>-tsan, -asan, -rel, -fuzz, -valgrind)
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
      test_misuse_override &&
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -R '^(stress.*|faults|misuse.*)$'
}

# The misuse cases the default build only catches on its slow paths need the
# owner's free fast path checked too (see README "Hardening").
checked_misuse() {
  local dir="$prefix-checked"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTINYALLOC_CHECKED_FREE=ON -DTINYALLOC_BUILD_APPS=OFF \
    -DTINYALLOC_BUILD_BENCH=OFF -DTINYALLOC_BUILD_TESTS=ON >/dev/null &&
    cmake --build "$dir" -j"$(nproc)" --target test_misuse test_misuse_override &&
    ctest --test-dir "$dir" --output-on-failure -R '^misuse'
}

step sanitizers scripts/ci_sanitizers.sh "$prefix"
if [ "${SKIP_SUITES:-0}" != 1 ]; then step "stress, fault and misuse suites" suites; fi
step "misuse suites with TINYALLOC_CHECKED_FREE=ON" checked_misuse
step "fuzz (60 s)" scripts/fuzz.sh 60 "$prefix-fuzz"
step valgrind scripts/ci_valgrind.sh "$prefix-valgrind"

if [ ${#failed[@]} -ne 0 ]; then
  printf 'reliability: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "reliability: all steps passed" >&2
