#!/usr/bin/env bash
# valgrind memcheck over tinyalloc:
#  1. test programs that call the ta_* API (the api suite, the stress test
#     in a short configuration) run clean: no errors, no definite leaks;
#  2. with tinyalloc as the program's malloc (static override), memcheck
#     still catches the user's bugs: a leaked block and a read after free.
#     --soname-synonyms=somalloc=nouserintercepts keeps memcheck from
#     replacing the malloc linked into the executable (by default it replaces
#     malloc wherever it is defined), so the program runs on tinyalloc's own
#     blocks, which memcheck knows about only through tinyalloc's client
#     requests.  Each program also prints whether tinyalloc served its block.
# Usage: scripts/ci_valgrind.sh [build-dir]   (default: build-valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-valgrind}
scripts/deps.sh valgrind libc6-dbg
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTINYALLOC_BUILD_APPS=OFF -DTINYALLOC_BUILD_TESTS=ON \
  -DTINYALLOC_VALGRIND=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target test_api test_stress valgrind_leak valgrind_uaf
vg=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
    --track-origins=no --fair-sched=yes)
fail=0
step() { echo "== valgrind: $*" >&2; }

step "api suite"
"${vg[@]}" "$dir/tests/api/test_api" || fail=1
step "stress (short)"
"${vg[@]}" "$dir/tests/stress/test_stress" --threads 3 --ops 60000 --lifetime 5000 || fail=1

# Expect memcheck to report, with exit code 99, the message given.
expect_report() {
  local what=$1 pattern=$2 prog=$3 log="$dir/valgrind_$1.log"
  step "$what must be reported"
  set +e
  valgrind --soname-synonyms=somalloc=nouserintercepts --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$prog" >"$log" 2>&1
  local rc=$?
  set -e
  if ! grep -q "served by tinyalloc: yes" "$log"; then
    echo "   the block was not tinyalloc's (memcheck replaced malloc?); log $log" >&2
    fail=1
  elif [ $rc -eq 99 ] && grep -Eq "$pattern" "$log"; then
    echo "   reported: $(grep -Em1 "$pattern" "$log")" >&2
  else
    echo "   NOT reported (exit $rc, expected 99 and /$pattern/); log $log:" >&2
    tail -30 "$log" >&2
    fail=1
  fi
}
expect_report leak "definitely lost: [0-9,]+ bytes in 1 blocks" "$dir/tests/misuse/valgrind_leak"
expect_report use_after_free "Invalid read of size 1" "$dir/tests/misuse/valgrind_uaf"

[ $fail -eq 0 ] && echo "valgrind: OK" >&2
exit $fail
