#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz.sh - builds every tests/fuzz/fuzz_*.c libFuzzer target with clang and runs each for a while.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS
#
# Each target names the sources it needs on a line of its own near the top:
#   /* fuzz-sources: src/http_parse.c src/url.c */
# Its seeds are tests/fuzz/corpus/<target>/; they are copied into BUILD_DIR
# and the run adds to the copy, never to the source tree. Crashes are saved as
# BUILD_DIR/artifacts/<target>-crash-*. SECONDS 0 only replays the seeds.
# Exits non-zero if any target fails to build or finds a failure. Without
# clang, fuzzing is skipped.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
case $2 in
''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$2'" >&2; exit 2 ;;
esac
seconds=$2

root=$(cd "$(dirname "$0")/.." && pwd)
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found, fuzzing skipped"
    exit 0
fi

mkdir -p "$1" || exit 1
build=$(cd "$1" && pwd)
mkdir -p "$build/artifacts" "$build/corpus" "$build/logs" || exit 1

cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -Wall -Wextra -Wno-unused-parameter -I$root/include"

status=0
found=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
    [ -f "$src" ] || continue
    found=1
    name=$(basename "$src" .c)
    bin="$build/$name"
    log="$build/logs/$name.log"

    # the first "fuzz-sources:" line lists what the target links with
    deps=$(sed -n 's|^.*fuzz-sources:[[:space:]]*\(.*\)\*/.*$|\1|p' "$src" | head -n 1)
    paths=""
    for d in $deps; do
        if [ ! -f "$root/$d" ]; then
            echo "$name: FAILED, fuzz-sources names missing $d"
            status=1
            continue 2
        fi
        paths="$paths $root/$d"
    done

    # shellcheck disable=SC2086 # word splitting of the flag and path lists is wanted
    if ! $cc $cflags "$src" $paths -o "$bin" >"$log" 2>&1; then
        echo "$name: FAILED to build (see $log)"
        sed -n '1,20p' "$log" >&2
        status=1
        continue
    fi

    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -R "$root/tests/fuzz/corpus/$name/." "$corpus/"
    fi
    seeds=$(find "$corpus" -type f | wc -l | tr -d ' ')

    # libFuzzer reads -max_total_time=0 as "no limit"; 0 here means replay only
    if [ "$seconds" -eq 0 ]; then
        budget="-runs=0"
    else
        budget="-max_total_time=$seconds"
    fi
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "$budget" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
        "$corpus" >>"$log" 2>&1
    rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -n 1)
    cov=$(sed -n 's/^#[0-9]*.*cov: \([0-9]*\).*$/\1/p' "$log" | tail -n 1)
    files=$(find "$corpus" -type f | wc -l | tr -d ' ')
    if [ "$rc" -eq 0 ]; then
        echo "$name: ok, ${runs:-?} runs in ${seconds}s," \
             "coverage ${cov:-?}, corpus $seeds -> $files"
    else
        echo "$name: FAILED (exit $rc) after ${runs:-?} runs;" \
             "log $log, artifacts $build/artifacts/$name-*"
        grep -m 5 -E 'ERROR|fuzz_[a-z]*:|SUMMARY' "$log" >&2
        status=1
    fi
done

if [ "$found" -eq 0 ]; then
    echo "fuzz: no tests/fuzz/fuzz_*.c targets"
fi
exit $status
