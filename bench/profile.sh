#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/profile.sh - where larder's time goes on the hit path and the
# revalidation path: callgrind (instruction counts, repeatable on a noisy
# machine) and, when the kernel allows it, perf (sampled CPU time, kernel
# included). See docs/performance.md, "Profile".
#
# Builds larder with the Release flags plus -g and frame pointers in
# build/bench/profile, starts the benchmark origin (bench/origin/nginx.conf)
# and larder, and drives them with wrk and bench/proxy.lua:
#   hit     GET of one fresh 1 KiB object, answered from the cache
#   reval   GETs cycling over 1000 max-age=0 URLs, each revalidated (304)
#   pass    GET of one no-store 1 KiB object: every request goes to the origin
# Writes the raw outputs to build/bench/profile-<date>/ and prints the top
# entries.
#
# Environment: PROFILE_SECONDS [10] per run under callgrind (about 50x
# slower than native), PROFILE_TOP [25] entries shown, PROFILE_PORT_BASE
# [28450] (4 ports), BENCH_PROXY_CPU [0], BENCH_LOAD_CPU [1].
set -eu                         # no pipefail: the reports end in `| head`

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${PROFILE_SECONDS:-10}
TOP=${PROFILE_TOP:-25}
PORT_BASE=${PROFILE_PORT_BASE:-28450}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
ORIGIN_PORT=$PORT_BASE
LARDER_PORT=$((PORT_BASE + 1))
BUILD=$ROOT/build/bench/profile
OUT=$ROOT/build/bench/profile-$(date +%Y%m%d-%H%M%S)
CONNS=10                        # callgrind serializes everything anyway

command -v valgrind >/dev/null || { echo "profile: valgrind is missing" >&2; exit 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null ||
    { echo "profile: needs wrk and nginx (make bench installs them)" >&2; exit 1; }

"$ROOT/scripts/deps.sh" build
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLARDER_TESTS=OFF \
    -DCMAKE_C_FLAGS="-g -fno-omit-frame-pointer" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
LARDER=$BUILD/larder
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/larder-profile.XXXXXX)
chmod 755 "$WORK"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
    local i
    for i in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "profile: nothing listens on $1" >&2
    return 1
}

load() {                        # seconds path n -> wrk RESULT line
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$1"s --timeout 10s -s "$ROOT/bench/proxy.lua" \
        "http://127.0.0.1:$LARDER_PORT/" -- "127.0.0.1:$ORIGIN_PORT" "$2" "$3" | grep '^RESULT'
}

requests_of() { sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$1"; }

# The origin.
mkdir -p "$WORK/root/hit"
head -c 1024 /dev/urandom >"$WORK/root/hit/1k"
sed -e "s|@WORK@|$WORK|g; s|@ROOT@|$WORK/root|g; s|@ORIGIN_PORT@|$ORIGIN_PORT|g" \
    "$ROOT/bench/origin/nginx.conf" >"$WORK/origin.conf"
taskset -c "$LOAD_CPU" nginx -e "$WORK/origin-error.log" -c "$WORK/origin.conf" -p "$WORK/" \
    >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$ORIGIN_PORT"

LARDER_ARGS=(--listen "127.0.0.1:$LARDER_PORT" --cache-size 1G --access-log off
    --log-level warn --upstream-max-idle-per-host 64)

# ------------------------------------------------------------ callgrind --
# Instrumentation starts off (start-up and priming run at near native
# speed), is switched on for each run, and each run is dumped on its own.
taskset -c "$PROXY_CPU" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$OUT/callgrind.out" "$LARDER" "${LARDER_ARGS[@]}" \
    >"$OUT/callgrind.log" 2>&1 &
VG=$!
PIDS+=("$VG")
wait_port "$LARDER_PORT"
cg() { callgrind_control "$@" "$VG" >/dev/null 2>&1; }

curl -s -o /dev/null -x "127.0.0.1:$LARDER_PORT" "http://127.0.0.1:$ORIGIN_PORT/hit/1k"
load 2 /reval/ 1000 >/dev/null  # store the 1000 revalidation URLs
cg -i on
load 1 /hit/1k 1 >/dev/null     # warm the instrumented code
cg -z
HIT=$(load "$SECS" /hit/1k 1)
cg -d hit
load 1 /reval/ 1000 >/dev/null
cg -z
REVAL=$(load "$SECS" /reval/ 1000)
cg -d reval
load 1 /nostore/1k 1 >/dev/null
cg -z
PASS=$(load "$SECS" /nostore/1k 1)
cg -d pass
kill -TERM "$VG"
wait "$VG" 2>/dev/null || true

summary() {                     # name wrk-result
    local f n ir
    f=$(grep -l "^desc: Trigger: dump $1\$" "$OUT"/callgrind.out.* | head -1 || true)
    [ -n "$f" ] || { echo "profile: no callgrind dump for $1" >&2; return 0; }
    n=$(requests_of "$2")
    callgrind_annotate --inclusive=yes "$f" >"$OUT/$1-inclusive.txt"
    callgrind_annotate --inclusive=no "$f" >"$OUT/$1-self.txt"
    ir=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$OUT/$1-self.txt")
    echo "== callgrind, $1: $n requests, $ir instructions, $((ir / (n > 0 ? n : 1))) per request"
    # Lines without "[object]" repeat a function under its absolute path.
    echo "-- inclusive (function and all it calls), top $TOP"
    grep -E '^ *[0-9,]+ \(.*\[' "$OUT/$1-inclusive.txt" | head -"$TOP"
    echo "-- self (the function's own instructions), top $TOP"
    grep -E '^ *[0-9,]+ \(.*\[' "$OUT/$1-self.txt" | head -"$TOP"
    echo
}
{
    echo "larder $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src include CMakeLists.txt || echo '+changes'), Release -g, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "wrk: 1 thread, $CONNS connections, ${SECS}s per run under callgrind"
    echo
    summary hit "$HIT"
    summary reval "$REVAL"
    summary pass "$PASS"
} | tee "$OUT/callgrind-summary.txt"

# ----------------------------------------------------------------- perf --
# Sampled wall-clock CPU profile at full speed, kernel included: the share
# of time spent in system calls and the network stack, which callgrind
# cannot see. Needs perf and a kernel that lets us sample (cpu-clock is a
# software event, so it works where hardware counters do not).
SYSCALLS=$(for c in read readv recvfrom write writev sendto sendmsg sendfile64 epoll_wait epoll_ctl \
    accept4 connect socket close setsockopt getsockopt shutdown; do
    printf 'syscalls:sys_enter_%s,' "$c"; done)
SYSCALLS=${SYSCALLS%,}
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$WORK/probe.data" true 2>/dev/null; then
    taskset -c "$PROXY_CPU" "$LARDER" "${LARDER_ARGS[@]}" >"$OUT/perf-larder.log" 2>&1 &
    LP=$!
    PIDS+=("$LP")
    wait_port "$LARDER_PORT"
    curl -s -o /dev/null -x "127.0.0.1:$LARDER_PORT" "http://127.0.0.1:$ORIGIN_PORT/hit/1k"
    load 2 /reval/ 1000 >/dev/null
    for run in hit reval pass; do
        case $run in
        hit) path=/hit/1k n=1 ;;
        reval) path=/reval/ n=1000 ;;
        pass) path=/nostore/1k n=1 ;;
        esac
        perf record -q -e cpu-clock -F 4999 -g -p "$LP" -o "$OUT/perf-$run.data" -- sleep "$SECS" \
            >/dev/null 2>&1 &
        PR=$!
        R=$(load "$SECS" "$path" "$n")
        wait "$PR" 2>/dev/null || true
        # System calls per request, from the kernel's tracepoints.
        perf stat -x, -e "$SYSCALLS" -p "$LP" -o "$OUT/syscalls-$run.csv" -- sleep 3 >/dev/null 2>&1 &
        PS=$!
        RS=$(load 3 "$path" "$n")
        wait "$PS" 2>/dev/null || true
        {
            echo "== system calls per request, $run ($(requests_of "$RS") requests in 3s)"
            awk -F, -v n="$(requests_of "$RS")" '$1 ~ /^[0-9]+$/ && $1 > 0 {
                sub("syscalls:sys_enter_", "", $3); printf "  %-12s %6.2f\n", $3, $1 / n }' \
                "$OUT/syscalls-$run.csv"
            echo
        } | tee "$OUT/syscalls-$run.txt"
        {
            echo "== perf (cpu-clock samples, kernel included), $run: $(requests_of "$R") requests in ${SECS}s at full speed"
            echo "-- by object (kernel, libevent, libc, larder)"
            perf report -i "$OUT/perf-$run.data" --no-children --stdio --sort dso -g none 2>/dev/null |
                grep -E '^ +[0-9.]+%' | head -8
            echo "-- self, top $TOP"
            perf report -i "$OUT/perf-$run.data" --no-children --stdio --sort sym -g none 2>/dev/null |
                grep -E '^ +[0-9.]+%' | head -"$TOP"
            echo "-- inclusive (children), top $TOP"
            perf report -i "$OUT/perf-$run.data" --children --stdio --sort sym -g none 2>/dev/null |
                grep -E '^ +[0-9.]+%' | head -"$TOP"
            echo
        } | tee "$OUT/perf-$run.txt"
    done
else
    echo "profile: perf cannot sample here; callgrind only"
fi
echo "profile: raw outputs in ${OUT#$ROOT/}"
