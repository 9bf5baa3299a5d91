#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh - `make bench`: larder against Squid, nginx, Varnish and
# Traffic Server as caching forward proxies, side by side in one run.
#
# Builds larder Release, starts an nginx origin and every proxy (each pinned
# to BENCH_PROXY_CPU with taskset), then for each scenario runs wrk (pinned
# to BENCH_LOAD_CPU, with the origin) against each proxy in turn, and
# prints req/s, p50/p99 latency, CPU per request, RSS, origin requests per
# request and larder's ratio to each peer. See docs/performance.md.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS      timed seconds per scenario and proxy [10]
#   BENCH_ROUNDS       rounds those seconds are split into, interleaved
#                      across proxies; the median round is reported [3]
#   BENCH_WARMUP       warm-up seconds before the check run [1]
#   BENCH_SCENARIOS    subset of: hit1k hit256k reval hot pass tunnel memory [all]
#   BENCH_PEERS        subset of: squid nginx varnish trafficserver [all]
#   BENCH_INSTALL      1: apt-get install what is missing (as root) [1]
#   BENCH_CONNECTIONS  wrk keep-alive connections [50]
#   BENCH_TUNNELS      concurrent CONNECT tunnels [10]
#   BENCH_MEM_OBJECTS  distinct objects in the memory scenario [100000]
#   BENCH_PORT_BASE    first of 8 consecutive loopback ports [28400]
#   BENCH_PROXY_CPU    core for the proxy under test [0]
#   BENCH_LOAD_CPU     core for wrk, the origin, the tunnel source [1]
#   BENCH_NICE         niceness of everything the benchmark runs [-10 as
#                      root, else 0]: on a shared machine, other work on
#                      the two cores then takes less of their time
#   BENCH_KEEP         1: keep the work directory (configs, logs) [0]
#   BENCH_PAUSE        1: pause (SIGSTOP) every server on the proxy core but
#                      the one being measured [1]; 0: leave them running
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-1}
SCENARIOS=${BENCH_SCENARIOS:-"hit1k hit256k reval hot pass tunnel memory"}
PEERS_WANTED=${BENCH_PEERS-"squid nginx varnish trafficserver"}
INSTALL=${BENCH_INSTALL:-1}
CONNS=${BENCH_CONNECTIONS:-50}
TUNNELS=${BENCH_TUNNELS:-10}
MEM_OBJECTS=${BENCH_MEM_OBJECTS:-100000}
PORT_BASE=${BENCH_PORT_BASE:-28400}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
KEEP=${BENCH_KEEP:-0}
PAUSE=${BENCH_PAUSE:-1}
SETTLE=0.5                      # seconds a continued server gets before it is timed
NICE=${BENCH_NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}
ROUNDS=${BENCH_ROUNDS:-3}
RSECS=$((SECS / ROUNDS)); [ "$RSECS" -ge 1 ] || RSECS=1

ORIGIN_PORT=$PORT_BASE
TUNNEL_PORT=$((PORT_BASE + 1))
declare -A PORT=(
    [larder]=$((PORT_BASE + 2)) [squid]=$((PORT_BASE + 3)) [nginx]=$((PORT_BASE + 4))
    [varnish]=$((PORT_BASE + 5)) [trafficserver]=$((PORT_BASE + 6)) [ceiling]=$((PORT_BASE + 7))
)
CLK_TCK=$(getconf CLK_TCK)
RELEASE=$ROOT/build/release
LARDER=$RELEASE/larder
TUNNEL=$ROOT/build/bench/tunnel
CEILING=$ROOT/build/bench/ceiling

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Replaces the (sub)shell with a command on one core at the benchmark's
# niceness: use it as `pin ... &` (then $! is the command's own pid), in
# $(...) or a pipeline, or in ( ) - never bare.
pin() {
    local cpu=$1
    shift
    exec nice -n "$NICE" taskset -c "$cpu" "$@"
}

# ---------------------------------------------------------------- set-up --

# Packages: wrk and nginx are required (load generator, origin); the peers
# are installed too when we can, and skipped when they are not there.
install_missing() {
    local want="wrk nginx" missing="" p
    for p in $PEERS_WANTED; do
        case $p in
        squid) want="$want squid" ;;
        varnish) want="$want varnish" ;;
        trafficserver) want="$want trafficserver" ;;
        esac
    done
    for p in $want; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$INSTALL" != 1 ] || [ "$(id -u)" != 0 ]; then
        say "bench: not installing$missing (BENCH_INSTALL=$INSTALL, uid $(id -u))"
        return 0
    fi
    say "bench: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Debian starts the packages' own services on install; we never use
    # them (every server here runs from bench/ configs on our own ports).
    apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1 || true
        apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
            say "bench: apt-get could not install all of$missing; going on without"
    }
}

build() {
    "$ROOT/scripts/deps.sh" build
    cmake -S "$ROOT" -B "$RELEASE" -DCMAKE_BUILD_TYPE=Release -DLARDER_TESTS=OFF >/dev/null
    cmake --build "$RELEASE" -j "$(nproc)" >/dev/null
    mkdir -p "$ROOT/build/bench"
    cc -O2 -Wall -Wextra -o "$TUNNEL" "$BENCH_DIR/tunnel.c"
    cc -O2 -Wall -Wextra -o "$CEILING" "$BENCH_DIR/ceiling.c"
}

# ------------------------------------------------------------- processes --

STARTED=()                      # "name pid" of everything we started

tree() {                        # pid and all its descendants
    local c
    echo "$1"
    for c in $(pgrep -P "$1" 2>/dev/null); do tree "$c"; done
}

stop_pid() {                    # TERM the tree, wait, KILL what is left
    local pids p i
    pids=$(tree "$1")
    kill -TERM "$1" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$1" 2>/dev/null || true
}

# The servers on the proxy core share it: an idle one still wakes for its
# timers and housekeeping threads (Traffic Server's event threads, Varnish's
# expiry and pool threads), and those wake-ups land in the rounds of the
# one being measured. focus NAME continues NAME's process tree and stops
# every other server's, so only the one measured can run there; focus ""
# continues them all.
FOCUS=""
focus() {                       # name, or "" for all
    local n p
    [ "$PAUSE" = 1 ] || [ -z "$1" ] || return 0
    [ -z "$1" ] || [ "$1" != "$FOCUS" ] || return 0
    FOCUS=$1
    for n in "${!PID[@]}"; do
        [ "$n" = "$1" ] && continue
        [ -z "$1" ] || for p in $(tree "${PID[$n]}"); do kill -STOP "$p" 2>/dev/null || true; done
    done
    for n in "${!PID[@]}"; do
        [ -z "$1" ] || [ "$n" = "$1" ] || continue
        for p in $(tree "${PID[$n]}"); do kill -CONT "$p" 2>/dev/null || true; done
    done
    # a server just continued catches up on its overdue timers first
    [ -z "$1" ] || sleep "$SETTLE"
}

cleanup() {
    local e
    trap - EXIT INT TERM HUP
    focus ""                    # a stopped process would not see TERM
    for e in "${STARTED[@]}"; do stop_pid "${e#* }"; done
    rm -rf "${SHM:-}"
    if [ "$KEEP" = 1 ]; then say "bench: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}

wait_port() {                   # port name pid: wait until it accepts
    local i
    for i in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { say "bench: $2 exited at start-up"; return 1; }
        sleep 0.1
    done
    say "bench: $2 did not listen on $1 in 30 s"
    return 1
}

fill() {                        # template > copy with our ports and paths
    sed -e "s|@WORK@|$WORK|g; s|@ROOT@|$WORK/root|g; s|@ORIGIN_PORT@|$ORIGIN_PORT|g" \
        -e "s|@TUNNEL_PORT@|$TUNNEL_PORT|g; s|@PORT@|$2|g; s|@CACHE@|$SHM/nginx-cache|g" "$1"
}

start_origin() {
    mkdir -p "$WORK/root/hit"
    head -c 1024 /dev/urandom >"$WORK/root/hit/1k"
    head -c 262144 /dev/urandom >"$WORK/root/hit/256k"
    fill "$BENCH_DIR/origin/nginx.conf" "$ORIGIN_PORT" >"$WORK/origin.conf"
    pin "$LOAD_CPU" nginx -e "$WORK/origin-error.log" -c "$WORK/origin.conf" \
        -p "$WORK/" >"$WORK/origin.out" 2>&1 &
    STARTED+=("origin $!")
    ORIGIN_LOG=$WORK/origin-access.log
    wait_port "$ORIGIN_PORT" origin $! || die "origin nginx did not start: $(cat "$WORK/origin.out")"
    pin "$LOAD_CPU" "$TUNNEL" source "$TUNNEL_PORT" >"$WORK/tunnel-source.out" 2>&1 &
    STARTED+=("tunnel-source $!")
    wait_port "$TUNNEL_PORT" tunnel-source $! || die "tunnel source did not start"
}

declare -A PID=()               # proxy -> pid we measure (tree: children too)

start_proxy() {                 # name; sets PID[name] or returns 1
    local name=$1 port=${PORT[$1]} d=$WORK/$1 pid
    mkdir -p "$d"
    case $name in
    larder)
        # cache_size: room for the memory scenario; 64 idle origin
        # connections, as nginx's keepalive 64.
        pin "$PROXY_CPU" "$LARDER" --listen "127.0.0.1:$port" --cache-size 2G \
            --max-object-size 1M --access-log off --log-level warn \
            --connect-ports "$TUNNEL_PORT" --upstream-max-idle-per-host 64 \
            >"$d/out" 2>&1 &
        ;;
    squid)
        command -v squid >/dev/null || return 1
        chown proxy "$d" 2>/dev/null || true
        fill "$BENCH_DIR/squid/squid.conf" "$port" >"$d/squid.conf"
        pin "$PROXY_CPU" squid -N -f "$d/squid.conf" >"$d/out" 2>&1 &
        ;;
    nginx)
        fill "$BENCH_DIR/nginx/nginx.conf" "$port" >"$d/nginx.conf"
        mkdir -p "$SHM/nginx-cache"
        pin "$PROXY_CPU" nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d/" \
            >"$d/out" 2>&1 &
        ;;
    varnish)
        command -v varnishd >/dev/null || return 1
        fill "$BENCH_DIR/varnish/default.vcl" "$port" >"$d/default.vcl"
        pin "$PROXY_CPU" varnishd -F -a "127.0.0.1:$port" -T none -f "$d/default.vcl" \
            -s malloc,2G -n "$d/n" -p thread_pools=1 >"$d/out" 2>&1 &
        ;;
    ceiling)
        # Not a proxy: the load generator's ceiling (bench/ceiling.c).
        pin "$PROXY_CPU" "$CEILING" "$port" "$WORK/root/hit/256k" >"$d/out" 2>&1 &
        ;;
    trafficserver)
        command -v traffic_server >/dev/null || return 1
        mkdir -p "$d/etc" "$d/run" "$d/log" "$d/var" "$d/cache"
        cp -r /etc/trafficserver/. "$d/etc/"
        fill "$BENCH_DIR/trafficserver/records.config" "$port" >"$d/etc/records.config"
        fill "$BENCH_DIR/trafficserver/storage.config" "$port" >"$d/etc/storage.config"
        cat >"$d/runroot.yaml" <<EOF
prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $d/etc
datadir: $d/var
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $d/var
runtimedir: $d/run
logdir: $d/log
cachedir: $d/cache
EOF
        chown -R trafficserver "$d" 2>/dev/null || true
        pin "$PROXY_CPU" traffic_server --run-root="$d/runroot.yaml" >"$d/out" 2>&1 &
        ;;
    esac
    pid=$!
    STARTED+=("$name $pid")
    if ! wait_port "$port" "$name" "$pid"; then
        tail -5 "$d/out" 2>/dev/null | sed 's/^/    /'
        return 1
    fi
    PID[$name]=$pid
}

cpu_ticks() {                   # utime + stime of the tree, in clock ticks
    local t=0 p s f
    for p in $(tree "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

rss_kb() {                      # VmRSS of the tree, KiB
    local t=0 p r
    for p in $(tree "$1"); do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        t=$((t + ${r:-0}))
    done
    echo "$t"
}

# ---------------------------------------------------------------- origin --

# The origin's log is buffered and flushed every 100 ms: wait 300 ms before
# reading it, so that every request made so far is in it.
origin_mark() {                 # -> the log's size now
    sleep 0.3
    stat -c %s "$ORIGIN_LOG" 2>/dev/null || echo 0
}

origin_since() {                # offset [path-prefix] -> "requests 304s" logged since
    sleep 0.3
    tail -c +$(($1 + 1)) "$ORIGIN_LOG" |
        awk -v p="${2:-}" 'index($2, p) == 1 { n++; if ($1 == 304) m++ } END { print n + 0, m + 0 }'
}

# ------------------------------------------------------------------- wrk --

wrk_run() {                     # port seconds path n -> RESULT line, parsed into R_*
    local out
    out=$(pin "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$2"s --latency \
        -s "$BENCH_DIR/proxy.lua" "http://127.0.0.1:$1/" -- "127.0.0.1:$ORIGIN_PORT" "$3" "$4" 2>&1 |
        grep '^RESULT' || true)
    R_requests=0 R_duration_us=1 R_p50_us=0 R_p99_us=0 R_err_status=0
    R_err_connect=0 R_err_read=0 R_err_write=0 R_err_timeout=0 R_bytes=0
    local kv
    for kv in $out; do
        case $kv in *=*) printf -v "R_${kv%%=*}" '%s' "${kv#*=}" ;; esac
    done
}

# Results for the ratios and the summary, keyed "scenario proxy": the
# median round's req/s (MiB/s for tunnels) and p99 (us), CPU us per request
# over all rounds, and a note when the proxy was not timed or misbehaved.
declare -A RPS=() P99=() NOTE=() CPU=() MEMB=() SKIP=()
# Per round, keyed "scenario proxy round"; totals over rounds, "scenario proxy".
declare -A R_RPS=() R_P50=() R_P99=() T_REQ=() T_TICKS=() T_DUR=() T_ON=() T_304=() T_ERR=() RSS=()

fmt_row() {                     # proxy req/s range p50 p99 cpu-us core rss origin/req note
    printf '  %-14s %9s %6s %7s %7s %8s %5s %7s %10s  %s\n' "$@"
}

ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }   # us -> ms

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a > 0) printf "%.2fx", a / b; else print "-" }'; }

rotated() {                     # round: the scenario's servers, starting at a different one each round
    local i n=${#LIST[@]}
    for i in $(seq 0 $((n - 1))); do echo "${LIST[$(((i + $1) % n))]}"; done
}

median_round() {                # scenario proxy -> round with the median req/s
    local r
    for r in $(seq "$ROUNDS"); do echo "${R_RPS[$1 $2 $r]:-0} $r"; done |
        sort -n | awk -v m=$(((ROUNDS + 1) / 2)) 'NR == m { print $2 }'
}

spread() {                      # scenario proxy -> (max - min) / median, as +-N%
    local r
    for r in $(seq "$ROUNDS"); do echo "${R_RPS[$1 $2 $r]:-0}"; done | sort -n |
        awk -v m=$(((ROUNDS + 1) / 2)) '{ v[NR] = $1 } END { if (v[m] > 0 && NR > 1) printf "%.0f%%", (v[NR] - v[1]) / v[m] * 100; else print "-" }'
}

# Before timing: warm up, then a 1 s check run whose origin requests show
# that the cache does what the scenario needs. Sets NOTE, and SKIP when the
# proxy must not be timed (a hit that is not a hit, errors).
http_check() {                  # scenario kind path n proxy
    local s=$1 kind=$2 path=$3 n=$4 p=$5 port=${PORT[$5]} off on o304 note="" first=$3
    [ "$n" -gt 1 ] && first=${path}0
    focus "$p"
    curl -s -o /dev/null -x "127.0.0.1:$port" "http://127.0.0.1:$ORIGIN_PORT$first" || true
    wrk_run "$port" "$WARMUP" "$path" "$n"
    off=$(origin_mark)
    wrk_run "$port" 1 "$path" "$n"
    read -r on o304 <<<"$(origin_since "$off")"
    if [ "$R_requests" -eq 0 ]; then
        note="no answers in the check run"; SKIP["$s $p"]=1
    elif [ $((R_err_status + R_err_connect + R_err_read + R_err_write + R_err_timeout)) -gt 0 ]; then
        note="errors in the check run (status $R_err_status, read $R_err_read, timeout $R_err_timeout)"
        SKIP["$s $p"]=1
    else
        case $kind in
        hit)
            [ "$on" -eq 0 ] || { note="NOT CACHED: $on origin requests for $R_requests"; SKIP["$s $p"]=1; } ;;
        reval)
            # A revalidating cache sends conditional requests: the origin
            # answers 304. A cache that does not store max-age=0 responses
            # (nginx) fetches 200s: timed, but not compared.
            if [ "$on" -eq 0 ]; then
                note="no origin requests: not revalidating"; SKIP["$s $p"]=1
            elif [ $((o304 * 2)) -lt "$on" ]; then
                note="does not revalidate: origin sent $((on - o304)) 200s, $o304 304s"
            fi ;;
        pass)
            [ $((on * 100)) -ge $((R_requests * 99)) ] ||
                { note="not pass-through: $on origin requests for $R_requests"; SKIP["$s $p"]=1; } ;;
        esac
    fi
    [ -n "$note" ] && NOTE["$s $p"]=$note
    return 0
}

http_round() {                  # scenario path n proxy round
    local s=$1 p=$4 port=${PORT[$4]} pid=${PID[$4]} off c0 c1 on o304 k="$1 $4"
    focus "$p"
    off=$(origin_mark)
    c0=$(cpu_ticks "$pid")
    wrk_run "$port" "$RSECS" "$2" "$3"
    c1=$(cpu_ticks "$pid")
    RSS[$k]=$(rss_kb "$pid")
    read -r on o304 <<<"$(origin_since "$off")"
    R_RPS["$k $5"]=$(awk -v r="$R_requests" -v d="$R_duration_us" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
    R_P50["$k $5"]=$R_p50_us R_P99["$k $5"]=$R_p99_us
    T_REQ[$k]=$((${T_REQ[$k]:-0} + R_requests))
    T_TICKS[$k]=$((${T_TICKS[$k]:-0} + c1 - c0))
    T_DUR[$k]=$((${T_DUR[$k]:-0} + R_duration_us))
    T_ON[$k]=$((${T_ON[$k]:-0} + on)) T_304[$k]=$((${T_304[$k]:-0} + o304))
    T_ERR[$k]=$((${T_ERR[$k]:-0} + R_err_status + R_err_connect + R_err_read + R_err_write + R_err_timeout))
}

http_report() {                 # scenario kind proxy
    local s=$1 p=$3 k="$1 $3" m note cpu core opr req
    if [ -n "${SKIP[$k]:-}" ]; then
        fmt_row "$p" - - - - - - - - "${NOTE[$k]}"
        return 0
    fi
    m=$(median_round "$s" "$p")
    req=${T_REQ[$k]}
    cpu=$(awk -v t="${T_TICKS[$k]}" -v c="$CLK_TCK" -v r="$req" 'BEGIN { printf "%.1f", r ? t / c / r * 1e6 : 0 }')
    core=$(awk -v t="${T_TICKS[$k]}" -v c="$CLK_TCK" -v d="${T_DUR[$k]}" 'BEGIN { printf "%.0f%%", t / c / (d / 1e6) * 100 }')
    opr=$(awk -v o="${T_ON[$k]}" -v r="$req" 'BEGIN { printf "%.3f", r ? o / r : 0 }')
    [ "$2" = reval ] && [ "${T_ON[$k]}" -gt 0 ] && opr="$opr ($((T_304[$k] * 100 / T_ON[$k]))% 304)"
    note=${NOTE[$k]:-}
    [ "${T_ERR[$k]}" -gt 0 ] && note="${note:+$note; }${T_ERR[$k]} wrk errors" && NOTE[$k]=$note
    fmt_row "$p" "${R_RPS[$k $m]}" "$(spread "$s" "$p")" \
        "$(awk -v v="${R_P50[$k $m]}" 'BEGIN { printf "%.2f", v / 1000 }')" \
        "$(awk -v v="${R_P99[$k $m]}" 'BEGIN { printf "%.2f", v / 1000 }')" \
        "$cpu" "$core" "$(awk -v v="${RSS[$k]}" 'BEGIN { printf "%.1fM", v / 1024 }')" "$opr" "$note"
    RPS[$k]=${R_RPS[$k $m]} P99[$k]=${R_P99[$k $m]} CPU[$k]=$cpu
    return 0
}

tunnel_check() {                # proxy
    local p=$1
    case $p in nginx | varnish)
        NOTE["tunnel $p"]="no CONNECT support"; SKIP["tunnel $p"]=1; return 0 ;;
    esac
    focus "$p"
    (pin "$LOAD_CPU" "$TUNNEL" client "${PORT[$p]}" "$TUNNEL_PORT" 1 "$TUNNELS") >/dev/null 2>&1 ||
        { NOTE["tunnel $p"]="CONNECT refused or failed"; SKIP["tunnel $p"]=1; }
    return 0
}

tunnel_round() {                # proxy round
    local p=$1 k="tunnel $1" pid=${PID[$1]} c0 c1 out kv
    focus "$p"
    c0=$(cpu_ticks "$pid")
    out=$(pin "$LOAD_CPU" "$TUNNEL" client "${PORT[$p]}" "$TUNNEL_PORT" "$RSECS" "$TUNNELS" 2>&1 |
        grep '^RESULT' || true)
    c1=$(cpu_ticks "$pid")
    RSS[$k]=$(rss_kb "$pid")
    R_bytes=0 R_duration_us=1
    for kv in $out; do case $kv in *=*) printf -v "R_${kv%%=*}" '%s' "${kv#*=}" ;; esac; done
    R_RPS["$k $2"]=$(awk -v b="$R_bytes" -v d="$R_duration_us" 'BEGIN { printf "%.0f", b / 1048576 / (d / 1e6) }')
    T_REQ[$k]=$((${T_REQ[$k]:-0} + R_bytes))
    T_TICKS[$k]=$((${T_TICKS[$k]:-0} + c1 - c0))
    T_DUR[$k]=$((${T_DUR[$k]:-0} + R_duration_us))
}

tunnel_report() {               # proxy
    local p=$1 k="tunnel $1" m cpu core
    if [ -n "${SKIP[$k]:-}" ]; then
        fmt_row "$p" - - - - - - - - "${NOTE[$k]}"
        return 0
    fi
    m=$(median_round tunnel "$p")
    cpu=$(awk -v t="${T_TICKS[$k]}" -v c="$CLK_TCK" -v b="${T_REQ[$k]}" 'BEGIN { printf "%.2f", b ? t / c / (b / 1073741824) : 0 }')
    core=$(awk -v t="${T_TICKS[$k]}" -v c="$CLK_TCK" -v d="${T_DUR[$k]}" 'BEGIN { printf "%.0f%%", t / c / (d / 1e6) * 100 }')
    # Columns reused: MiB/s for req/s, CPU seconds per GiB for us/req.
    fmt_row "$p" "${R_RPS[$k $m]}" "$(spread tunnel "$p")" - - "${cpu}s" "$core" \
        "$(awk -v v="${RSS[$k]}" 'BEGIN { printf "%.1fM", v / 1024 }')" - ""
    RPS[$k]=${R_RPS[$k $m]} CPU[$k]=$cpu
}

# Waits for fill.lua's DONEFILE, then ends wrk with SIGINT. wrk's handler
# only sets a flag, and its sleeping main thread wakes only when it is the
# thread that gets the signal, so send it until wrk is gone.
wrk_finish() {                  # wrk-pid donefile
    while [ ! -e "$2" ] && kill -0 "$1" 2>/dev/null; do sleep 0.2; done
    while kill -0 "$1" 2>/dev/null; do
        kill -INT "$1" 2>/dev/null || true
        sleep 0.2
    done
    wait "$1" 2>/dev/null || true
}

larder_memory_bytes() {         # port -> cache.memory_bytes from stats.json, or nothing
    curl -s --max-time 2 "http://127.0.0.1:$1/larder/stats.json" 2>/dev/null |
        grep -o '"memory_bytes":[0-9]*' | head -1 | cut -d: -f2 || true
}

memory_scenario() {             # proxy
    local p=$1 port=${PORT[$1]} pid=${PID[$1]} r0 r1 f0=0 f1=0 m0="" m1="" off on n2 wp per extra="" note=""
    local done_file=$WORK/fill-$p.done
    focus "$p"
    # Warm the 50 connections' buffers first, so only the objects count.
    wrk_run "$port" 1 /hit/1k 1
    sleep 0.5
    r0=$(rss_kb "$pid")
    [ "$p" = nginx ] && f0=$(du -s --block-size=1 "$SHM/nginx-cache" | cut -f1)
    [ "$p" = larder ] && m0=$(larder_memory_bytes "$port")
    off=$(origin_mark)
    pin "$LOAD_CPU" wrk -t1 -c"$CONNS" -d300s -s "$BENCH_DIR/fill.lua" \
        "http://127.0.0.1:$port/" -- "127.0.0.1:$ORIGIN_PORT" /mem/ "$MEM_OBJECTS" "$done_file" \
        >"$WORK/fill-$p.out" 2>&1 &
    wp=$!
    wrk_finish "$wp" "$done_file"
    sleep 1
    r1=$(rss_kb "$pid")
    [ "$p" = nginx ] && f1=$(du -s --block-size=1 "$SHM/nginx-cache" | cut -f1)
    [ "$p" = larder ] && m1=$(larder_memory_bytes "$port")
    read -r on _ <<<"$(origin_since "$off" /mem/)"
    # Ask for all of them again: a stored object costs no origin request.
    off=$(origin_mark)
    rm -f "$done_file"
    pin "$LOAD_CPU" wrk -t1 -c"$CONNS" -d300s -s "$BENCH_DIR/fill.lua" \
        "http://127.0.0.1:$port/" -- "127.0.0.1:$ORIGIN_PORT" /mem/ "$MEM_OBJECTS" "$done_file" \
        >/dev/null 2>&1 &
    wp=$!
    wrk_finish "$wp" "$done_file"
    read -r n2 _ <<<"$(origin_since "$off" /mem/)"
    [ "$on" -ne "$MEM_OBJECTS" ] && note="origin saw $on of $MEM_OBJECTS fills"
    [ "$n2" -gt 0 ] && note="${note:+$note; }$n2 of $MEM_OBJECTS were not kept (fetched again)"
    per=$(awk -v a="$r0" -v b="$r1" -v f0="$f0" -v f1="$f1" -v n="$MEM_OBJECTS" \
        'BEGIN { printf "%.0f", ((b - a) * 1024 + (f1 - f0)) / n }')
    case $p in
    nginx) extra="RSS $(((r1 - r0) * 1024 / MEM_OBJECTS)) + cache files on tmpfs $(((f1 - f0) / MEM_OBJECTS))" ;;
    larder) [ -n "$m0" ] && [ -n "$m1" ] &&
        extra="larder's own count (stats.json cache.memory_bytes): $(((m1 - m0) / MEM_OBJECTS)) B/object" ;;
    trafficserver)
        # Its objects go to the cache file (storage.config), whose
        # directory is allocated at start-up; the RAM cache fills on reads.
        note="not comparable: objects are written to the cache file, not kept in RSS" ;;
    esac
    printf '  %-14s %6s B/object   RSS %7.1fM -> %7.1fM   %s%s\n' "$p" "$per" \
        "$(awk -v v="$r0" 'BEGIN { print v / 1024 }')" "$(awk -v v="$r1" 'BEGIN { print v / 1024 }')" \
        "$extra" "${note:+ $note}"
    MEMB["$p"]=$per
    [ -n "$note" ] && NOTE["memory $p"]=$note
    return 0
}

# ------------------------------------------------------------------ main --

[ "$(nproc)" -ge 2 ] || say "bench: only $(nproc) core: load and proxy share it; numbers mean little"
install_missing
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
command -v nginx >/dev/null || die "nginx is missing (apt-get install nginx): it is the origin"
build

for port in $(seq "$PORT_BASE" $((PORT_BASE + 7))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use; set BENCH_PORT_BASE to a free range of 8 ports"
    fi
done

WORK=$(mktemp -d /tmp/larder-bench.XXXXXX)
chmod 755 "$WORK"               # squid, nginx and ATS workers read it
SHM=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )/larder-bench.XXXXXX")
chmod 755 "$SHM"
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$ROOT/build/bench"
RESULTS=$ROOT/build/bench/results-$(date +%Y%m%d-%H%M%S).txt
exec > >(tee "$RESULTS") 2>&1

start_origin
PROXIES=(larder)
start_proxy larder || die "larder did not start: $(cat "$WORK/larder/out")"
for p in $PEERS_WANTED; do
    if start_proxy "$p"; then PROXIES+=("$p"); else say "bench: $p not run (not installed, or did not start)"; fi
done
# The 256 KiB hit is bounded by wrk, not by the proxies: bench/ceiling.c on
# the proxy core measures that bound in the same rounds (not a peer: it is
# left out of the ratios).
CEIL=""
if start_proxy ceiling; then CEIL=ceiling; else say "bench: the ceiling server did not start"; fi

say "larder benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(nproc) cores, $(uname -r)"
say "  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
say "  larder $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || echo '+changes'), Release"
for p in "${PROXIES[@]}" $CEIL; do
    case $p in
    larder) v="larder $("$LARDER" --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1 || true)" ;;
    squid) v=$(squid -v | head -1 || true) ;;
    nginx) v=$(nginx -v 2>&1) ;;
    ceiling) v="not a proxy: bench/ceiling.c answers every request from one buffer" ;;
    varnish) v=$(varnishd -V 2>&1 | head -1 || true) ;;
    trafficserver) v=$(traffic_server --version 2>/dev/null | head -1 || true) ;;
    esac
    say "  $p: port ${PORT[$p]}, pid ${PID[$p]}, $v"
done
say "  proxies on core $PROXY_CPU; wrk (1 thread, $CONNS keep-alive connections), origin nginx and tunnel source on core $LOAD_CPU"
say "  per scenario and proxy: ${WARMUP}s warm-up, a 1s check run, then $ROUNDS timed rounds of ${RSECS}s,"
say "  interleaved across proxies (each round starts with a different proxy)"
[ "$PAUSE" = 1 ] &&
    say "  while one server is measured the others on core $PROXY_CPU are paused (SIGSTOP); BENCH_PAUSE=0: not"
say "  everything at niceness $NICE; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
STAT0=$(grep '^cpu ' /proc/stat)
say ""
say "Columns: req/s of the median round; range = (max - min) / median of the rounds' req/s;"
say "latency p50 and p99 of the median round (ms); proxy CPU (user+sys, all its processes and"
say "threads) per request over all rounds (us); core = that CPU time / wall time (100%: the proxy"
say "used its whole core); RSS at the end (MiB); origin requests per request (and share of 304s)."

declare -A TITLE=(
    [hit1k]="hit, 1 KiB object (max-age=86400, one URL)"
    [hit256k]="hit, 256 KiB object (max-age=86400, one URL)"
    [reval]="revalidation, 1000 max-age=0 URLs, origin answers 304"
    [hot]="revalidation, one hot max-age=0 URL (coalescing)"
    [pass]="pass-through, no-store 1 KiB (one URL)"
    [tunnel]="CONNECT tunnel throughput, origin to client, $TUNNELS tunnels (MiB/s, CPU s per GiB)"
    [memory]="RSS growth for $MEM_OBJECTS distinct 1 KiB objects, bytes per object"
)
declare -A KIND=([hit1k]=hit [hit256k]=hit [reval]=reval [hot]=reval [pass]=pass)
declare -A PATHN=([hit1k]="/hit/1k 1" [hit256k]="/hit/256k 1" [reval]="/reval/ 1000"
    [hot]="/reval/hot 1" [pass]="/nostore/1k 1")

for s in $SCENARIOS; do
    [ -n "${TITLE[$s]:-}" ] || die "unknown scenario '$s'"
    say ""
    say "== $s: ${TITLE[$s]}"
    case $s in
    tunnel)
        LIST=("${PROXIES[@]}")
        for p in "${PROXIES[@]}"; do tunnel_check "$p"; done
        for r in $(seq "$ROUNDS"); do
            for p in $(rotated "$r"); do [ -n "${SKIP[tunnel $p]:-}" ] || tunnel_round "$p" "$r"; done
        done
        fmt_row proxy MiB/s range - - CPU/GiB core RSS - ""
        for p in "${PROXIES[@]}"; do tunnel_report "$p"; done ;;
    memory)
        for p in "${PROXIES[@]}"; do memory_scenario "$p"; done ;;
    *)
        read -r path n <<<"${PATHN[$s]}"
        LIST=("${PROXIES[@]}")
        [ "$s" = hit256k ] && [ -n "$CEIL" ] && LIST+=(ceiling)
        for p in "${LIST[@]}"; do http_check "$s" "${KIND[$s]}" "$path" "$n" "$p"; done
        for r in $(seq "$ROUNDS"); do
            for p in $(rotated "$r"); do
                [ -n "${SKIP[$s $p]:-}" ] || http_round "$s" "$path" "$n" "$p" "$r"
            done
        done
        fmt_row proxy req/s range p50 p99 "CPU us" core RSS origin/req ""
        for p in "${LIST[@]}"; do http_report "$s" "${KIND[$s]}" "$p"; done ;;
    esac
done

# ------------------------------------------------------------- summary --

say ""
say "== larder / each peer, side by side in this run"
say "   req/s   larder's req/s (MiB/s for tunnel) / the peer's: >1, larder is faster"
say "   CPU     the peer's CPU per request (per GiB) / larder's: >1, larder needs less CPU;"
say "           steadier than req/s when other work shares the proxy's core"
say "   p99     larder's p99 / the peer's: <1, larder's tail latency is lower"
say "   memory  larder's bytes per object / the peer's: <1, larder stores objects in less"
say "   n/a     the peer was not timed, or does something else (see its note above)"
say "$(printf '  %-9s %-14s %-14s %8s %8s %8s' scenario larder peer req/s CPU p99)"
for s in $SCENARIOS; do
    label=$s                    # scenario and larder's figure on the first row only
    case $s in
    memory) lv="${MEMB[larder]:--} B/obj" ;;
    tunnel) lv="${RPS[$s larder]:--} MiB/s" ;;
    *) lv="${RPS[$s larder]:--}/s" ;;
    esac
    for p in "${PROXIES[@]}"; do
        [ "$p" = larder ] && continue
        if [ "$s" = memory ]; then
            if [ -n "${NOTE[memory $p]:-}" ] || [ -z "${MEMB[$p]:-}" ]; then a=n/a; else a=$(ratio "${MEMB[larder]:-0}" "${MEMB[$p]}"); fi
            say "$(printf '  %-9s %-14s %-14s %8s' "$label" "$lv" "$p" "$a")"
        elif [ -n "${NOTE[$s $p]:-}" ] || [ -z "${RPS[$s $p]:-}" ] || [ -z "${RPS[$s larder]:-}" ]; then
            say "$(printf '  %-9s %-14s %-14s %8s %8s %8s' "$label" "$lv" "$p" n/a n/a n/a)"
        elif [ "$s" = tunnel ]; then
            say "$(printf '  %-9s %-14s %-14s %8s %8s %8s' "$label" "$lv" "$p" \
                "$(ratio "${RPS[$s larder]}" "${RPS[$s $p]}")" "$(ratio "${CPU[$s $p]}" "${CPU[$s larder]}")" -)"
        else
            say "$(printf '  %-9s %-14s %-14s %8s %8s %8s' "$label" "$lv" "$p" \
                "$(ratio "${RPS[$s larder]}" "${RPS[$s $p]}")" "$(ratio "${CPU[$s $p]}" "${CPU[$s larder]}")" \
                "$(ratio "${P99[$s larder]}" "${P99[$s $p]}")")"
        fi
        label="" lv=""
    done
done

# Issue 6's targets, checked against this run's side-by-side numbers.
target() {                      # label scenario peer minimum-ratio
    local r
    if [ -z "${RPS[$2 larder]:-}" ] || [ -z "${RPS[$2 $3]:-}" ] || [ -n "${NOTE[$2 $3]:-}" ]; then
        say "  [ -- ] $1: not measured"; return
    fi
    r=$(awk -v a="${RPS[$2 larder]}" -v b="${RPS[$2 $3]}" 'BEGIN { printf "%.2f", a / b }')
    if awk -v r="$r" -v m="$4" 'BEGIN { exit !(r >= m) }'; then say "  [ ok ] $1: ${r}x"; else say "  [FAIL] $1: ${r}x"; fi
}
say ""
say "== issue 6 targets (this run)"
target "hit 1 KiB >= 1.3x nginx" hit1k nginx 1.3
target "hit 256 KiB >= 1.3x Varnish" hit256k varnish 1.3
if [ -n "${RPS[hit256k ceiling]:-}" ] && [ -n "${RPS[hit256k varnish]:-}" ] && [ -z "${NOTE[hit256k varnish]:-}" ]; then
    say "         what wrk can measure there (bench/ceiling.c on the proxy core) is" \
        "$(ratio "${RPS[hit256k ceiling]}" "${RPS[hit256k varnish]}") Varnish;" \
        "larder reached $(awk -v a="${RPS[hit256k larder]:-0}" -v b="${RPS[hit256k ceiling]}" 'BEGIN { printf "%.0f%%", a / b * 100 }') of it"
fi
target "revalidation >= 2x Squid" reval squid 2
target "hot-URL revalidation >= 1.5x Varnish" hot varnish 1.5
target "pass-through >= nginx" pass nginx 1
for s in hit1k hit256k reval hot pass; do
    [ -n "${P99[$s larder]:-}" ] || continue
    best="" bp=""
    for p in "${PROXIES[@]}"; do
        [ "$p" = larder ] || [ -n "${NOTE[$s $p]:-}" ] || [ -z "${P99[$s $p]:-}" ] && continue
        if [ -z "$best" ] || [ "${P99[$s $p]}" -lt "$best" ]; then best=${P99[$s $p]} bp=$p; fi
    done
    [ -n "$best" ] || continue
    if [ "${P99[$s larder]}" -le "$best" ]; then tag=" ok "; else tag=FAIL; fi
    say "  [$tag] $s p99 <= best peer's: larder $(ms "${P99[$s larder]}") ms, $bp $(ms "$best") ms"
done
if [ -n "${MEMB[larder]:-}" ]; then
    if [ "${MEMB[larder]}" -le 1600 ]; then tag=" ok "; else tag=FAIL; fi
    say "  [$tag] memory <= 1600 B per 1 KiB object: ${MEMB[larder]} B"
fi
# How noisy it was: time the hypervisor took from this VM (steal), and
# the load the rest of the machine added.
steal=$( (echo "$STAT0"; grep '^cpu ' /proc/stat) | awk '
    { t = 0; for (i = 2; i <= 9; i++) t += $i; tot[NR] = t; st[NR] = $9 }
    END { d = tot[2] - tot[1]; printf "%.1f%%", (d > 0) ? (st[2] - st[1]) / d * 100 : 0 }')
say ""
say "bench: CPU time stolen by the hypervisor during the run: $steal; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "bench: output saved in ${RESULTS#$ROOT/}"
