#!/usr/bin/env bash
# The unit tests and the stress test under ThreadSanitizer, and under
# AddressSanitizer + UndefinedBehaviorSanitizer, built with clang in two
# build directories.  Any report fails the run (halt_on_error; the only
# suppression, scripts/tsan.supp, is inside Boost.Lockfree, none in
# tinyalloc's code).  Tests that make tinyalloc the process malloc (override,
# preload, faults, misuse_override, stress_override) are not built: the
# sanitizer runtimes own malloc; everything here calls the ta_* API.
# Usage: scripts/ci_sanitizers.sh [build-prefix] [tsan|asan ...]
#   (default: build, both; directories <prefix>-tsan and <prefix>-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}
shift || true
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(tsan asan)
scripts/deps.sh clang libclang-rt-14-dev

# Suites (ctest names) and their executables.
tests='^(region|segment|queue|arena|large|api|api_large_direct|threads|threads_large_direct|threads_purge_now)$'
targets=(test_region test_segment test_queue test_arena test_large test_api test_threads test_stress)

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$PWD/scripts/tsan.supp"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 strict_string_checks=1 detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1"

failed=()
for kind in "${kinds[@]}"; do
  case $kind in
    tsan) flags="-fsanitize=thread" ;;
    asan) flags="-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
    *) echo "unknown sanitizer '$kind' (tsan|asan)" >&2; exit 2 ;;
  esac
  dir="$prefix-$kind"
  echo "== $kind: building in $dir" >&2
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTINYALLOC_BUILD_APPS=OFF -DTINYALLOC_BUILD_TESTS=ON \
    -DCMAKE_C_FLAGS="$flags -fno-omit-frame-pointer" -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
  # Every check runs even after a failure, so one run shows every report.
  echo "== $kind: unit tests" >&2
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -R "$tests" || failed+=("$kind: unit tests")
  echo "== $kind: stress" >&2
  # Shorter than the default run: the sanitizers make each operation ~10x slower.
  "$dir/tests/stress/test_stress" --threads 4 --ops 400000 --lifetime 20000 || failed+=("$kind: stress")
  TINYALLOC_LARGE=direct "$dir/tests/stress/test_stress" --threads 3 --ops 200000 --lifetime 10000 --seed 2 ||
    failed+=("$kind: stress, TINYALLOC_LARGE=direct")
done
if [ ${#failed[@]} -ne 0 ]; then
  printf 'sanitizers: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "sanitizers: ${kinds[*]}: no reports" >&2
