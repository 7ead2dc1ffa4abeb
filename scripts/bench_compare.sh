#!/usr/bin/env bash
# Runs apps/ini_bench under several allocators and prints medians and ratios.
#
# The runs are interleaved -- one run of every allocator per round, and the
# starting allocator rotates from round to round -- because the machine is
# shared and noisy: drifting background load or CPU frequency then spreads
# over all allocators instead of biasing whichever ran last.  One ini_bench
# process is started per (round, corpus, allocator), so each peak RSS figure
# belongs to exactly one corpus and one allocator.
#
# Needs only bash, coreutils, grep, sort and awk.

set -euo pipefail
export LC_ALL=C  # '.' as decimal point in awk/printf, byte-wise sort

prog=${0##*/}

usage() {
    cat <<EOF
usage: $prog [--runs N] [--build DIR] [--corpus small|large|both] [--repeat R] [name=/path/lib.so ...]

Runs DIR/apps/ini_bench/ini_bench N times per allocator, interleaved, and
prints per corpus and allocator the median time per parse, its min-max, the
median peak RSS and the ratios to the system allocator.

Allocators always compared:
  system     the C library's malloc (no LD_PRELOAD)
  tinyalloc  LD_PRELOAD=DIR/libs/override/libtinyalloc.so
Each name=path argument adds one more, e.g.
  mimalloc=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2

Options:
  --runs N      runs per allocator and corpus (default 7)
  --build DIR   CMake build directory (default build)
  --corpus C    small, large or both (default both)
  --repeat R    timed loops inside each ini_bench run (default 3)
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

is_positive_int() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

runs=7
build=build
corpus=both
repeat=3
names=(system tinyalloc)
libs=("" "")  # tinyalloc's path is filled in once --build is known

while (($# > 0)); do
    case $1 in
        --runs | --build | --corpus | --repeat)
            (($# >= 2)) || die "$1 needs a value"
            opt=$1 val=$2
            shift 2
            ;;
        --runs=* | --build=* | --corpus=* | --repeat=*)
            opt=${1%%=*} val=${1#*=}
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            usage >&2
            die "unknown option '$1'"
            ;;
        *=*)
            name=${1%%=*} lib=${1#*=}
            shift
            [[ $name =~ ^[A-Za-z0-9_.+-]+$ ]] || die "bad allocator name '$name' (letters, digits, _ . + - only)"
            for existing in "${names[@]}"; do
                [[ $existing != "$name" ]] || die "allocator name '$name' given twice (system and tinyalloc are built in)"
            done
            [[ -f $lib ]] || die "$name: no such file: $lib"
            names+=("$name")
            libs+=("$(realpath -s "$lib")")
            continue
            ;;
        *)
            usage >&2
            die "unexpected argument '$1' (allocators are given as name=/path/lib.so)"
            ;;
    esac
    case $opt in
        --runs) is_positive_int "$val" || die "--runs needs a positive integer, got '$val'"; runs=$val ;;
        --repeat) is_positive_int "$val" || die "--repeat needs a positive integer, got '$val'"; repeat=$val ;;
        --build) build=$val ;;
        --corpus)
            [[ $val == small || $val == large || $val == both ]] || die "--corpus must be small, large or both, got '$val'"
            corpus=$val
            ;;
    esac
done

bench=$build/apps/ini_bench/ini_bench
[[ -x $bench ]] || die "benchmark not found: $bench
  build it first, e.g.: cmake -S . -B $build && cmake --build $build --target ini_bench"
tinyalloc_lib=$build/libs/override/libtinyalloc.so
[[ -f $tinyalloc_lib ]] || die "tinyalloc preload library not found: $tinyalloc_lib
  build the allocator first, e.g.: cmake --build $build"
libs[1]=$(realpath -s "$tinyalloc_lib")

if [[ $corpus == both ]]; then corpora=(small large); else corpora=("$corpus"); fi
count=${#names[@]}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Runs ini_bench with allocator number $1 and the remaining arguments.  The
# system allocator runs with LD_PRELOAD removed, so a preload inherited from
# the caller's environment cannot leak into the baseline.
run_with() {
    local i=$1
    shift
    if [[ -z ${libs[i]} ]]; then
        env -u LD_PRELOAD "$bench" "$@"
    else
        env LD_PRELOAD="${libs[i]}" "$bench" "$@"
    fi
}

# --- Preflight: every allocator passes the parser self-test, and its
# LD_PRELOAD really takes effect (ld.so merely prints a warning and carries
# on with the system malloc when a preload cannot be loaded).
system_malloc=
for ((i = 0; i < count; i++)); do
    if ! run_with "$i" --selftest >"$tmp/out" 2>"$tmp/err"; then
        cat "$tmp/out" "$tmp/err" >&2
        die "${names[i]}: ini_bench --selftest failed under this allocator"
    fi
    if grep -q 'cannot be preloaded' "$tmp/err"; then
        cat "$tmp/err" >&2
        die "${names[i]}: ld.so could not preload ${libs[i]}"
    fi
    run_with "$i" --corpus small --iterations 1 --repeat 1 >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "${names[i]}: ini_bench failed"; }
    provider=$(sed -n 's/^malloc from //p' "$tmp/out")
    [[ $provider == unknown || -z $provider ]] || provider=$(realpath "$provider")
    if ((i == 0)); then
        system_malloc=$provider
    elif [[ $provider == "$system_malloc" ]]; then
        die "${names[i]}: LD_PRELOAD=${libs[i]} had no effect: malloc still comes from $provider"
    elif [[ $provider != "$(realpath "${libs[i]}")" ]]; then
        echo "$prog: note: ${names[i]}: malloc resolves to $provider, not ${libs[i]}" >&2
    fi
done

echo "ini_bench: $bench"
echo "allocators:"
for ((i = 0; i < count; i++)); do
    printf '  %-12s %s\n' "${names[i]}" "${libs[i]:-(no LD_PRELOAD; malloc from $system_malloc)}"
done
echo "runs: $runs per allocator and corpus, interleaved; ini_bench --repeat $repeat; $(nproc) CPUs"
echo

# --- Measurements.  Every result line goes to $tmp/data as
#   corpus allocator us_per_parse peak_rss_kib checksum
result_re='us_per_parse=([0-9.]+) peak_rss_kib=([0-9]+) checksum=([0-9a-f]+)'
for ((run = 1; run <= runs; run++)); do
    progress="round $run/$runs:"
    for c in "${corpora[@]}"; do
        progress+=" $c"
        for ((j = 0; j < count; j++)); do
            i=$(((j + run - 1) % count))  # rotate who goes first
            if ! run_with "$i" --corpus "$c" --repeat "$repeat" --quiet >"$tmp/out" 2>"$tmp/err"; then
                cat "$tmp/out" "$tmp/err" >&2
                die "${names[i]}: ini_bench --corpus $c failed (round $run)"
            fi
            line=$(grep "^RESULT corpus=$c " "$tmp/out" || true)
            [[ $line =~ $result_re ]] || die "${names[i]}: no RESULT line for corpus $c in: $(cat "$tmp/out")"
            echo "$c ${names[i]} ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}" >>"$tmp/data"
            progress+=" ${names[i]}=${BASH_REMATCH[1]}"
        done
    done
    echo "$progress" >&2
done
echo >&2

# Prints "median min max" of column $3 for corpus $1 and allocator $2.
stats() {
    awk -v c="$1" -v a="$2" -v col="$3" '$1 == c && $2 == a { print $col }' "$tmp/data" |
        sort -g |
        awk '{ v[NR] = $1 }
             END {
                 if (NR == 0) exit 1
                 m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                 printf "%.6f %.6f %.6f\n", m, v[1], v[NR]
             }'
}

status=0
summary=()
for c in "${corpora[@]}"; do
    echo "corpus $c  (us/parse and peak RSS: median of $runs runs; ratios: median / system's median)"
    printf '%-12s %14s %23s %14s %9s %9s\n' allocator "us/parse" "min - max" "peak RSS KiB" "time" "RSS"
    read -r sys_us _ _ < <(stats "$c" system 3)
    read -r sys_rss _ _ < <(stats "$c" system 4)
    for ((i = 0; i < count; i++)); do
        read -r med lo hi < <(stats "$c" "${names[i]}" 3)
        read -r rss _ _ < <(stats "$c" "${names[i]}" 4)
        awk -v n="${names[i]}" -v m="$med" -v lo="$lo" -v hi="$hi" -v rss="$rss" -v sm="$sys_us" -v sr="$sys_rss" 'BEGIN {
            printf "%-12s %14.2f %23s %14.0f %8.2fx %8.2fx\n", n, m, sprintf("%.2f - %.2f", lo, hi), rss, m / sm, rss / sr
        }'
    done

    # Same input, same checksum: a difference means some allocator corrupted
    # the parse (or handed out overlapping memory).
    if (($(awk -v c="$c" '$1 == c { print $5 }' "$tmp/data" | sort -u | wc -l) != 1)); then
        echo "WARNING: checksums differ between runs for corpus $c:"
        awk -v c="$c" '$1 == c { print "  " $2 " " $5 }' "$tmp/data" | sort | uniq -c
        status=1
    fi
    echo

    read -r ta_us _ _ < <(stats "$c" tinyalloc 3)
    summary+=("$(awk -v c="$c" -v t="$ta_us" -v s="$sys_us" 'BEGIN { printf "tinyalloc/system time ratio (%s): %.2f", c, t / s }')")
done
printf '%s\n' "${summary[@]}"
exit "$status"
