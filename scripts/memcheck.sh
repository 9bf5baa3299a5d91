#!/bin/sh
# SPDX-License-Identifier: MIT
# memcheck.sh - the integration tests with every larder they start running
# under valgrind; fails unless each of those runs ended with zero errors and
# zero definite or indirect leaks.
#
#   scripts/memcheck.sh [BUILD_DIR]        (default build/memcheck; `make memcheck`)
#
# Builds a Debug build without sanitizers in BUILD_DIR, writes a wrapper that
# runs larder under valgrind, and runs each test program that starts larder
# (tests/test_*.c calling h_larder_start) with LARDER_BIN pointing at the
# wrapper and LARDER_TEST_SLOW stretching the harness's waits. The programs
# run directly, not through ctest, whose per-test LARDER_BIN would win.
#
# Environment: MEMCHECK_JOBS (test programs at once, default 2),
# MEMCHECK_SLOW (LARDER_TEST_SLOW, default 10), MEMCHECK_SKIP (extended regex
# of test names left out; default test_streaming, whose 1 GiB transfers take
# hours under valgrind), MEMCHECK_ONLY (regex: run only these).
#
# Test programs may fail under valgrind for timing reasons (larder is 20-50
# times slower there); they are listed, but only valgrind's findings decide
# the exit status: 0 when every larder run that ended is clean, 1 otherwise.
# A larder the harness had to SIGKILL (after its test failed) leaves no
# summary; such runs are listed as not judged.
set -u

build=${1:-build/memcheck}
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${MEMCHECK_JOBS:-2}
slow=${MEMCHECK_SLOW:-10}
skip=${MEMCHECK_SKIP:-^test_streaming$}
only=${MEMCHECK_ONLY:-.}
start=$(date +%s)

if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "memcheck: installing valgrind" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind \
            >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                valgrind >/dev/null
        }
    fi
    command -v valgrind >/dev/null 2>&1 || { echo "memcheck: valgrind not found" >&2; exit 1; }
fi

mkdir -p "$build" || exit 1
build=$(cd "$build" && pwd)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLARDER_SANITIZE=OFF >/dev/null || exit 1
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >"$build/build.log" 2>&1 || {
    tail -n 30 "$build/build.log" >&2
    echo "memcheck: build failed (see $build/build.log)" >&2
    exit 1
}

logs=$build/valgrind
out=$build/test-output
rm -rf "$logs" "$out"
mkdir -p "$logs" "$out"

wrapper=$build/larder-valgrind
cat >"$wrapper" <<EOF
#!/bin/sh
# larder under valgrind, one log per process: $logs/larder.<pid>.log
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \\
    --num-callers=30 --log-file="$logs/larder.%p.log" "$build/larder" "\$@"
EOF
chmod +x "$wrapper"

# the test programs that start larder, themselves or through a header of tests/
starters() {
    grep -l 'h_larder_start' "$root"/tests/test_*.c
    for h in $(grep -l 'h_larder_start' "$root"/tests/*.h 2>/dev/null); do
        grep -l "#include \"$(basename "$h")\"" "$root"/tests/test_*.c
    done
}
all=$(starters | xargs -n1 basename | sed 's/\.c$//' | sort -u)
tests=$(echo "$all" | grep -E "$only" | grep -Ev "$skip")
skipped=$(echo "$all" | grep -E "$skip")
echo "memcheck: larder under valgrind for: $(echo $tests)"
[ -n "$skipped" ] && echo "memcheck: left out (MEMCHECK_SKIP): $(echo $skipped)"

# run them in $jobs lanes, round-robin; each test writes <name>.rc
run_one() {
    name=$1
    t0=$(date +%s)
    (cd "$build/tests" &&
     LARDER_BIN="$wrapper" LARDER_TEST_SLOW="$slow" LARDER_FIXTURE_DIR="$build/tests" \
     LARDER_SOURCE_DIR="$root" LARDER_BUILD_DIR="$build" \
     "./$name" >"$out/$name.log" 2>&1)
    rc=$?
    echo "$rc" >"$out/$name.rc"
    echo "memcheck: $name: exit $rc in $(( $(date +%s) - t0 ))s"
}
lane=0
while [ "$lane" -lt "$jobs" ]; do
    (
        i=0
        for t in $tests; do
            [ $((i % jobs)) -eq "$lane" ] && run_one "$t"
            i=$((i + 1))
        done
    ) &
    lane=$((lane + 1))
done
wait

# verdict: every larder log must be complete and clean
runs=0; bad=0; incomplete=0
for f in "$logs"/larder.*.log; do
    [ -f "$f" ] || continue
    runs=$((runs + 1))
    if ! grep -q 'ERROR SUMMARY:' "$f"; then
        # only SIGKILL stops valgrind from writing its summary (a crash is
        # reported as an error): the harness killed larder after its test
        # failed or it would not stop. Listed, not judged.
        incomplete=$((incomplete + 1))
        echo "memcheck: $f: killed before valgrind's summary (not judged)"
        continue
    fi
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
       grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
        bad=$((bad + 1))
        echo "memcheck: $f:"
        sed -n '/== [A-Z].*\(Invalid\|uninitialised\|Conditional\|Syscall\|Mismatched\|definitely\|indirectly\|lost in loss\)/,/^==[0-9]*== $/p' "$f" |
            head -n 60
        grep 'ERROR SUMMARY' "$f"
    fi
done

failed_tests=""
for t in $tests; do
    rc=$(cat "$out/$t.rc" 2>/dev/null || echo "?")
    [ "$rc" = 0 ] || failed_tests="$failed_tests $t($rc)"
done

echo "memcheck: $runs larder runs under valgrind: $((runs - bad - incomplete)) clean," \
     "$bad with errors or leaks, $incomplete killed before the end;" \
     "$(( $(date +%s) - start ))s in all"
if [ -n "$failed_tests" ]; then
    echo "memcheck: test programs that failed under valgrind (outputs in $out):$failed_tests"
fi
if [ "$runs" -eq 0 ]; then
    echo "memcheck: no larder ran under valgrind" >&2
    exit 1
fi
[ "$bad" -eq 0 ] && [ "$incomplete" -lt "$runs" ]
