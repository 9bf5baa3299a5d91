#!/bin/sh
# SPDX-License-Identifier: MIT
# soak.sh - mixed load through larder for a long while, with a misbehaving
# origin on the side; fails on any error that was not injected, or when
# larder's memory keeps growing once warm.
#
#   scripts/soak.sh [BUILD_DIR]            (default build/soak; `make soak`)
#   SOAK_SECONDS=120 scripts/soak.sh       (default 600)
#
# Two fixture_origin processes, two wrk runs at once, one larder:
#   good   16 connections to origin A: cache hits, misses (every one a new
#          URL, so the cache fills and evicts), revalidations (max-age=1
#          with an ETag, and no-cache), pass-through GETs and POSTs, 1 MiB
#          objects, chunked responses. Every answer must be 2xx or 3xx and
#          no socket error may happen: these are the errors that count.
#   faulty  4 connections to origin B: resets in the middle of a body and
#          before the head, truncated bodies (some of them cacheable), slow
#          drips, drips that stall past upstream_read_timeout, garbage
#          responses, keep-alive connections the origin drops as they are
#          reused. Their errors are injected and only reported.
# The origins are separate so that a fault can never land on a good request
# through larder's connection pool (drop_next poisons the next request).
#
# larder's RSS is sampled every 5 s. "warm" is the sample at a fifth of the
# run (the cache is full by then); the samples at the middle and the end
# must stay within 10% of it. Exit 0 when all holds, 1 otherwise.
set -u

build=${1:-build/soak}
seconds=${SOAK_SECONDS:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
case $seconds in
''|*[!0-9]*) echo "soak: SOAK_SECONDS must be a whole number" >&2; exit 2 ;;
esac
[ "$seconds" -ge 30 ] || { echo "soak: SOAK_SECONDS must be at least 30" >&2; exit 2; }

install_pkg() {
    if ! command -v "$1" >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "soak: installing $1" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" \
                >/dev/null 2>&1 || {
                apt-get update -q >/dev/null
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                    "$1" >/dev/null
            }
        fi
        command -v "$1" >/dev/null 2>&1 || { echo "soak: $1 not found" >&2; exit 1; }
    fi
}
install_pkg wrk
install_pkg curl

mkdir -p "$build" || exit 1
build=$(cd "$build" && pwd)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLARDER_SANITIZE=OFF \
    >/dev/null || exit 1
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target larder fixture_origin \
    >"$build/build.log" 2>&1 || {
    tail -n 30 "$build/build.log" >&2
    echo "soak: build failed (see $build/build.log)" >&2
    exit 1
}

run=$build/run
rm -rf "$run"
mkdir -p "$run"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

# ---- processes ---------------------------------------------------------------

start_origin() {   # $1: name; prints the port
    "$build/tests/fixture_origin" --port 0 >"$run/$1.out" 2>"$run/$1.err" &
    echo $! >"$run/$1.pid"
    i=0
    while ! grep -q '^PORT ' "$run/$1.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "soak: $1 did not start" >&2; exit 1; }
        sleep 0.05
    done
    sed -n 's/^PORT //p' "$run/$1.out"
}
good_port=$(start_origin origin-good) || exit 1
pids="$pids $(cat "$run/origin-good.pid")"
bad_port=$(start_origin origin-faulty) || exit 1
pids="$pids $(cat "$run/origin-faulty.pid")"

lport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$run/larder.conf" <<EOF
listen 127.0.0.1:$lport
access_log off
log_level warn
cache_size 32M
max_object_size 2M
upstream_read_timeout 1s
upstream_first_byte_timeout 5s
EOF
"$build/larder" --config "$run/larder.conf" >"$run/larder.out" 2>"$run/larder.err" &
lpid=$!
pids="$pids $lpid"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$lport/larder/stats.json"; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "soak: larder did not start" >&2; cat "$run/larder.err" >&2; exit 1; }
    sleep 0.1
done

# ---- the load ------------------------------------------------------------------

cat >"$run/soak.lua" <<'EOF'
-- soak.lua: args: <origin port> <good|faulty>
port, role = nil, nil  -- globals: done() reads role from a thread
local n = 0
threads = {}
ok2, ok3, c4, c5, cother = 0, 0, 0, 0, 0

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

function init(args)
    port = args[1]
    role = args[2]
    math.randomseed(os.time() * 100 + (tid or 0))
    wrk.headers["Host"] = "127.0.0.1:" .. port
end

local function pick(list)
    local r, acc = math.random(100), 0
    for _, e in ipairs(list) do
        acc = acc + e[1]
        if r <= acc then return e[2]() end
    end
    return list[#list][2]()
end

local body = string.rep("p", 1024)
local good = {
    { 40, function() return "GET", "/hit/" .. math.random(200) .. "?len=4096&cc=max-age%3D3600" end },
    { 15, function() return "GET", "/miss/" .. (tid or 0) .. "-" .. n .. "?len=2048&cc=max-age%3D600" end },
    { 10, function() return "GET", "/reval/" .. math.random(20) .. "?len=8192&cc=max-age%3D1&etag=%22v1%22" end },
    { 5,  function() return "GET", "/nc/" .. math.random(10) .. "?len=1024&cc=no-cache&etag=%22n1%22" end },
    { 10, function() return "GET", "/pass/" .. math.random(50) .. "?len=2048&cc=no-store" end },
    { 10, function() return "POST", "/post/" .. math.random(50) end },
    { 5,  function() return "GET", "/big/" .. math.random(8) .. "?len=1048576&cc=max-age%3D3600" end },
    { 5,  function() return "GET", "/chunk/" .. math.random(20) .. "?len=20000&chunked=1&chunk=3000&cc=max-age%3D600" end },
}
local faulty = {
    { 20, function() return "GET", "/f/rst/" .. n .. "?len=100000&abort_after=20000&rst=1&cc=no-store" end },
    { 15, function() return "GET", "/f/trunc/" .. math.random(20) .. "?len=100000&abort_after=30000&cc=max-age%3D60" end },
    { 15, function() return "GET", "/f/drip/" .. n .. "?len=30000&drip_ms=20&drip_bytes=3000&cc=no-store" end },
    { 10, function() return "GET", "/f/stall/" .. math.random(10) .. "?len=30000&drip_ms=1500&drip_bytes=10000&cc=max-age%3D60" end },
    { 10, function() return "GET", "/f/rst0/" .. n .. "?rst=1&cc=no-store" end },
    { 10, function() return "GET", "/f/bad/" .. n .. "?raw=garbage%0D%0A%0D%0A&close=1" end },
    { 10, function() return "GET", "/f/drop/" .. n .. "?cc=no-store&drop_next=1" end },
    { 10, function() return "POST", "/f/postdrop/" .. n .. "?drop_next=1" end },
}

function request()
    n = n + 1
    local method, path = pick(role == "good" and good or faulty)
    local url = "http://127.0.0.1:" .. port .. path
    if method == "POST" then
        return wrk.format("POST", url, { ["Content-Length"] = #body }, body)
    end
    return wrk.format("GET", url)
end

function response(status, headers, b)
    if status >= 200 and status < 300 then ok2 = ok2 + 1
    elseif status < 400 then ok3 = ok3 + 1
    elseif status < 500 then c4 = c4 + 1
    elseif status < 600 then c5 = c5 + 1
    else cother = cother + 1 end
end

function done(summary, latency, requests)
    local t = { ok2 = 0, ok3 = 0, c4 = 0, c5 = 0, cother = 0 }
    for _, th in ipairs(threads) do
        for k, _ in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
    end
    local e = summary.errors
    role = threads[1] and threads[1]:get("role") or role   -- init() ran in the threads
    io.write(string.format("SOAK role=%s requests=%d 2xx=%d 3xx=%d 4xx=%d 5xx=%d other=%d "
        .. "connect=%d read=%d write=%d timeout=%d p99_ms=%.1f\n", role or "?",
        summary.requests, t.ok2, t.ok3, t.c4, t.c5, t.cother, e.connect, e.read, e.write,
        e.timeout, latency:percentile(99) / 1000))
end
EOF

echo "soak: larder on $lport (pid $lpid), origins $good_port (good) and $bad_port (faulty)," \
     "${seconds}s"
# warm the hits first so the run starts with something stored
i=1
while [ $i -le 200 ]; do
    curl -s -o /dev/null -x "http://127.0.0.1:$lport" \
        "http://127.0.0.1:$good_port/hit/$i?len=4096&cc=max-age%3D3600"
    i=$((i + 1))
done

wrk -t1 -c16 -d"${seconds}s" --timeout 10s -s "$run/soak.lua" "http://127.0.0.1:$lport/" \
    -- "$good_port" good >"$run/wrk-good.out" 2>&1 &
wgood=$!
wrk -t1 -c4 -d"${seconds}s" --timeout 10s -s "$run/soak.lua" "http://127.0.0.1:$lport/" \
    -- "$bad_port" faulty >"$run/wrk-faulty.out" 2>&1 &
wbad=$!
pids="$pids $wgood $wbad"

# RSS samples every 5 s while wrk runs
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$lpid/status" 2>/dev/null || echo 0; }
t=0
: >"$run/rss"
while kill -0 "$wgood" 2>/dev/null || kill -0 "$wbad" 2>/dev/null; do
    echo "$t $(rss)" >>"$run/rss"
    sleep 5
    t=$((t + 5))
done
wait "$wgood"; rc_good=$?
wait "$wbad"; rc_bad=$?
echo "$t $(rss)" >>"$run/rss"

# ---- verdict -------------------------------------------------------------------

status=0
sample_at() {   # RSS of the first sample at or after second $1
    awk -v s="$1" '$1 >= s { print $2; exit }' "$run/rss"
}
warm_t=$((seconds / 5))
[ $warm_t -lt 10 ] && warm_t=10
warm=$(sample_at "$warm_t")
mid=$(sample_at $((seconds / 2)))
end=$(tail -n 1 "$run/rss" | awk '{ print $2 }')
first=$(head -n 1 "$run/rss" | awk '{ print $2 }')

good_line=$(grep '^SOAK role=good' "$run/wrk-good.out")
bad_line=$(grep '^SOAK role=faulty' "$run/wrk-faulty.out")
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "soak: wrk (good):"
sed -n '/Thread Stats/,/Transfer\/sec/p' "$run/wrk-good.out" | sed 's/^/    /'
echo "soak: wrk (faulty):"
sed -n '/Thread Stats/,/Transfer\/sec/p' "$run/wrk-faulty.out" | sed 's/^/    /'
if [ -z "$good_line" ] || [ -z "$bad_line" ] || [ $rc_good -ne 0 ] || [ $rc_bad -ne 0 ]; then
    echo "soak: FAIL: wrk did not finish properly (see $run/wrk-*.out)"
    status=1
else
    g_req=$(field "$good_line" requests); b_req=$(field "$bad_line" requests)
    g_err=$(( $(field "$good_line" 4xx) + $(field "$good_line" 5xx) + $(field "$good_line" other) ))
    g_sock=$(( $(field "$good_line" connect) + $(field "$good_line" read) +
               $(field "$good_line" write) + $(field "$good_line" timeout) ))
    b_err=$(( $(field "$bad_line" 4xx) + $(field "$bad_line" 5xx) ))
    b_sock=$(( $(field "$bad_line" connect) + $(field "$bad_line" read) +
               $(field "$bad_line" write) + $(field "$bad_line" timeout) ))
    echo "soak: requests served: $((g_req + b_req)) ($g_req good, $b_req to the faulty origin)"
    echo "soak: good:   2xx $(field "$good_line" 2xx), 3xx $(field "$good_line" 3xx)," \
         "error statuses $g_err, socket errors $g_sock, p99 $(field "$good_line" p99_ms) ms"
    echo "soak: faulty: 2xx $(field "$bad_line" 2xx), error statuses $b_err (injected)," \
         "socket errors $b_sock (injected: resets, cut bodies)"
    echo "soak: errors other than the injected ones: $((g_err + g_sock))"
    [ $((g_err + g_sock)) -eq 0 ] || status=1
    [ "$g_req" -gt 0 ] || status=1
fi

echo "soak: larder RSS (kB): first $first, warm (${warm_t}s) $warm, middle $mid, end $end"
if [ -z "$warm" ] || [ -z "$mid" ] || [ -z "$end" ] || [ "$warm" -le 0 ]; then
    echo "soak: FAIL: no RSS samples"
    status=1
else
    for v in $mid $end; do
        if [ $((v * 100)) -gt $((warm * 110)) ] || [ $((v * 100)) -lt $((warm * 90)) ]; then
            echo "soak: FAIL: RSS $v kB is more than 10% away from the warm $warm kB"
            status=1
        fi
    done
fi

# larder still answers, then shuts down cleanly
if ! curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$lport" \
        "http://127.0.0.1:$good_port/after?cc=no-store" | grep -q 200; then
    echo "soak: FAIL: larder no longer answers"
    status=1
fi
stats=$(curl -s "http://127.0.0.1:$lport/larder/stats.json")
echo "soak: larder stats: $(echo "$stats" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d.get("requests", {})
c = d.get("cache", {})
print(", ".join("%s %s" % (k, r[k]) for k in ("total", "hit", "miss", "revalidated", "refreshed", "pass", "error") if k in r)
      + "; cache objects %s, %s bytes, evictions %s" % (c.get("objects"), c.get("memory_bytes"), c.get("evictions")))
' 2>/dev/null || echo "(unreadable)")"
kill -TERM "$lpid"
wait "$lpid"; lrc=$?
if [ $lrc -ne 0 ]; then
    echo "soak: FAIL: larder exited with status $lrc"
    tail -n 20 "$run/larder.err"
    status=1
fi
echo "soak: $( [ $status -eq 0 ] && echo PASS || echo FAIL ) (files in $run)"
exit $status
