-- SPDX-License-Identifier: MIT
-- proxy.lua - wrk script for bench/run.sh: sends absolute-URI requests
-- ("GET http://<origin>/path HTTP/1.1", Host: <origin>) to the proxy wrk
-- connects to, and prints one machine-readable RESULT line when done.
--
--   wrk ... -s bench/proxy.lua http://127.0.0.1:<proxy>/ -- ORIGIN PATH [N]
--
--   ORIGIN  host:port of the origin, e.g. 127.0.0.1:28400
--   PATH    path of the object; with N, the URLs are PATH0 .. PATH<N-1>,
--           cycled in order (built once in init, so Lua costs little)
--
-- bench/fill.lua is the same with each URL sent once (the memory scenario).

local reqs, n, i = {}, 1, 0

function init(args)
    local origin, path = args[1], args[2]
    n = tonumber(args[3] or "1")
    wrk.headers["Host"] = origin
    if n == 1 then
        reqs[1] = wrk.format("GET", "http://" .. origin .. path)
    else
        for k = 0, n - 1 do
            reqs[k + 1] = wrk.format("GET", "http://" .. origin .. path .. k)
        end
    end
end

function request()
    i = i % n + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
