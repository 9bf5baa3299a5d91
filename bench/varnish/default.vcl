# Varnish as the benchmark's caching forward proxy. bench/run.sh fills in
# the @...@ values and runs
#   taskset -c 0 varnishd -F -f <this> -s malloc,2G -p thread_pools=1 ...
#
# Stock Varnish has no forward-proxy mode (no dynamic backends without a
# vmod, no CONNECT): it gets the one benchmark origin as its backend, and
# turns absolute-URI requests into origin-form here. The tunnel scenario is
# skipped for it.
vcl 4.1;

backend origin {
    .host = "127.0.0.1";
    .port = "@ORIGIN_PORT@";
}

sub vcl_recv {
    if (req.url ~ "^http://") {
        set req.http.host = regsub(req.url, "^http://([^/]+).*$", "\1");
        set req.url = regsub(req.url, "^http://[^/]+", "");
    }
    set req.backend_hint = origin;
}

sub vcl_backend_response {
    # Store max-age=0 responses that can be revalidated, and keep them past
    # their TTL so the next request sends If-None-Match/If-Modified-Since
    # (the builtin VCL would mark them hit-for-miss instead). No grace:
    # like larder, answer only after the revalidation. The TTL must be
    # above zero: Varnish never reuses a ttl=0 object, not even for a
    # conditional fetch, so 1 ms is the closest it gets to max-age=0
    # (requests in that millisecond after a 304 are served as hits).
    if (beresp.ttl <= 0s && (beresp.http.ETag || beresp.http.Last-Modified)
        && beresp.http.Cache-Control !~ "no-store|private") {
        set beresp.ttl = 0.001s;
        set beresp.grace = 0s;
        set beresp.keep = 1d;
        return (deliver);
    }
}
