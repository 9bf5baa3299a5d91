-- SPDX-License-Identifier: MIT
-- fill.lua - wrk script for the memory scenario of bench/run.sh: requests
-- each of N distinct absolute URIs exactly once through the proxy.
--
--   wrk -t1 ... -s bench/fill.lua http://127.0.0.1:<proxy>/ -- ORIGIN PATH N DONEFILE
--
-- URLs are http://ORIGIN/PATH0 .. PATH<N-1>. Once all N have been sent,
-- connections repeat http://ORIGIN/hit/1k (a hit, stored by the earlier
-- warm-up, so the origin sees PATH requests only for the N fills). Once
-- N + 64 answers have come back (each connection waits for an answer
-- before it sends again, so all N distinct ones are among them) the
-- script creates DONEFILE and stops its thread; wrk itself only ends at -d or SIGINT, which run.sh sends
-- when it sees DONEFILE. Answers other than 200 are counted in DONEFILE.

local origin, path, n, donefile
local sent, answered, bad, finished = 0, 0, 0, false
local again                     -- the request repeated after the N

function init(args)
    origin, path, n, donefile = args[1], args[2], tonumber(args[3]), args[4]
    wrk.headers["Host"] = origin
    again = wrk.format("GET", "http://" .. origin .. "/hit/1k")
end

-- wrk 4.1 calls request() once more than it sends (the first result is
-- dropped), so the first call returns the repeated hit: whether or not it
-- is sent, every PATH<k> is sent exactly once.
function request()
    sent = sent + 1
    if sent == 1 or sent > n + 1 then return again end
    return wrk.format("GET", "http://" .. origin .. path .. (sent - 2))
end

function response(status, headers, body)
    answered = answered + 1
    if status ~= 200 then bad = bad + 1 end
    if answered >= n + 64 and not finished then
        finished = true
        local f = io.open(donefile, "w")
        f:write(string.format("answered=%d non200=%d\n", answered, bad))
        f:close()
        wrk.thread:stop()
    end
end
