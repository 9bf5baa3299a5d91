/* SPDX-License-Identifier: MIT */
/* test_admin.c - larder's own pages end to end: exact counters after a known
 * request sequence, stats.json through python3's json module, metrics
 * through promtool, objects, purge, the PAC file, the admin ACL, and the
 * dashboard rendered by a real headless Chromium. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CHROMIUM "/usr/bin/chromium"
#define PROMTOOL "/usr/bin/promtool"

static int origin_port;           /* shared fixture_origin, reset per test */

static int group_setup(void **state)
{
    struct h_proc *origin = h_origin_start();

    *state = origin;
    if (origin == NULL)
        return -1;
    origin_port = origin->port;
    return 0;
}

static int group_teardown(void **state)
{
    return h_proc_stop(*state) == 0 ? 0 : -1;
}

static int test_setup(void **state)
{
    (void)state;
    return h_origin_reset(origin_port);
}

/* ---- helpers ----------------------------------------------------------------- */

/* One request to larder's own pages, origin-form, on a new connection. */
static struct h_response *admin(int port, const char *method, const char *path,
                                const char *body)
{
    char *req, *ctype;
    struct h_response *r;

    ctype = body != NULL ? h_fmt("Content-Type: application/x-www-form-urlencoded\r\n"
                                 "Content-Length: %zu\r\n", strlen(body))
                         : strdup("");
    req = h_fmt("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n%s", method,
                path, port, ctype, body != NULL ? body : "");
    r = h_request(port, req, H_TIMEOUT_MS);
    if (r == NULL)
        fail_msg("%s %s: no response (%s)", method, path, h_error());
    free(req);
    free(ctype);
    return r;
}

/* A proxied GET of <path> on the shared origin; returns bytes received
 * (head and body) and checks the status. */
static uint64_t fetch(int port, const char *path, int status)
{
    struct h_response *r = h_get(port, origin_port, path, NULL);
    uint64_t n;

    if (r == NULL)
        fail_msg("GET %s: no response (%s)", path, h_error());
    assert_int_equal(r->status, status);
    assert_true(r->complete);
    n = strlen(r->head) + r->body_len;
    h_response_free(r);
    return n;
}

/* Sends the raw request <req> to larder on <port> and checks the status. */
static void expect_status(int port, const char *req, int status)
{
    struct h_response *r = h_request(port, req, H_TIMEOUT_MS);

    assert_non_null(r);
    assert_int_equal(r->status, status);
    h_response_free(r);
}

static char *temp_path(const char *tag)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    char *path = h_fmt("%s/larder-test-admin-%s-XXXXXX", tmp, tag);
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    return path;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Parses <json> with python3's json module and flattens it to lines
 * "\na.b.0.c=<value as JSON>" so that C can look values up. Fails the test
 * when it is not valid JSON. */
static char *flatten_json(const char *json, size_t len)
{
    static const char script[] =
        "import json, sys\n"
        "def walk(p, v):\n"
        "    if isinstance(v, dict):\n"
        "        for k, x in v.items(): walk(p + [k], x)\n"
        "    elif isinstance(v, list):\n"
        "        print(\".\".join(p + [\"length\"]) + \"=\" + str(len(v)))\n"
        "        for i, x in enumerate(v): walk(p + [str(i)], x)\n"
        "    else:\n"
        "        print(\".\".join(p) + \"=\" + json.dumps(v))\n"
        "walk([], json.loads(sys.stdin.buffer.read().decode(\"utf-8\")))\n";
    char *path = temp_path("json"), *cmd, *out = NULL, *err = NULL, *flat;
    int rc;

    write_file(path, json, len);
    cmd = h_fmt("python3 -c '%s' < %s", script, path);
    rc = h_run(cmd, &out, &err, 20000);
    if (rc != 0)
        fail_msg("not valid JSON (python3: %s): %.400s", err ? err : "?", json);
    flat = h_fmt("\n%s", out);
    unlink(path);
    free(path);
    free(cmd);
    free(out);
    free(err);
    return flat;
}

/* The raw JSON text of <key> in a flattened document, or NULL. Borrowed
 * until the next call. */
static const char *flat_raw(const char *flat, const char *key)
{
    static char value[4096];
    char *needle = h_fmt("\n%s=", key);
    const char *p = strstr(flat, needle);
    size_t n;

    if (p == NULL) {
        free(needle);
        return NULL;
    }
    p += strlen(needle);
    free(needle);
    n = strcspn(p, "\n");
    if (n >= sizeof(value))
        n = sizeof(value) - 1;
    memcpy(value, p, n);
    value[n] = '\0';
    return value;
}

static long long flat_num(const char *flat, const char *key)
{
    const char *v = flat_raw(flat, key);

    if (v == NULL)
        fail_msg("stats.json has no %s", key);
    return strtoll(v, NULL, 10);
}

/* GET /larder/stats.json, checked and flattened. */
static char *stats(int port)
{
    struct h_response *r = admin(port, "GET", "/larder/stats.json", NULL);
    char *flat;

    assert_int_equal(r->status, 200);
    assert_non_null(h_header_get(r, "Content-Type"));
    assert_string_equal(h_header_get(r, "Content-Type"), "application/json");
    assert_non_null(h_header_get(r, "Cache-Control"));
    assert_non_null(strstr(h_header_get(r, "Cache-Control"), "no-store"));
    flat = flatten_json(r->body, r->body_len);
    h_response_free(r);
    return flat;
}

/* Runs promtool check metrics on <text>; fails the test on complaints. */
static void promtool_check(const char *text)
{
    char *path, *cmd, *out = NULL, *err = NULL;

    if (access(PROMTOOL, X_OK) != 0) {
        fprintf(stderr, "note: %s missing (scripts/deps.sh test): metrics not linted\n", PROMTOOL);
        return;
    }
    path = temp_path("metrics");
    write_file(path, text, strlen(text));
    cmd = h_fmt("%s check metrics < %s", PROMTOOL, path);
    if (h_run(cmd, &out, &err, 20000) != 0)
        fail_msg("promtool check metrics: %s%s", out ? out : "", err ? err : "");
    unlink(path);
    free(path);
    free(cmd);
    free(out);
    free(err);
}

/* ---- counters ---------------------------------------------------------------- */

/* 3 misses, 4 hits, then one more URL stored stale (a miss) and revalidated
 * (304): every counter is known exactly. */
static void test_exact_counters(void **state)
{
    struct h_proc *larder = h_larder_start(NULL);
    struct h_response *r;
    uint64_t all = 0, saved = 0, n;
    long long base_clients;
    char *flat, *want;
    const char *v;

    (void)state;
    assert_non_null(larder);
    /* the harness's start-up probe was a connection too: take a baseline */
    flat = stats(larder->port);
    base_clients = flat_num(flat, "connections.clients_total");
    assert_int_equal(flat_num(flat, "requests.total"), 0);
    free(flat);

    all += fetch(larder->port, "/m1?cc=max-age%3D60&len=1000", 200);
    all += fetch(larder->port, "/m2?cc=max-age%3D60&len=2000", 200);
    all += fetch(larder->port, "/m3?cc=max-age%3D60&len=3000", 200);
    for (int i = 0; i < 4; i++) {
        static const char *const paths[] = {
            "/m1?cc=max-age%3D60&len=1000", "/m1?cc=max-age%3D60&len=1000",
            "/m2?cc=max-age%3D60&len=2000", "/m3?cc=max-age%3D60&len=3000"
        };
        n = fetch(larder->port, paths[i], 200);
        all += n;
        saved += n;
    }
    /* max-age=0 with an ETag: stored stale, so the next request revalidates
     * and the origin answers 304 */
    all += fetch(larder->port, "/r?cc=max-age%3D0&etag=%22v1%22&len=500", 200);
    n = fetch(larder->port, "/r?cc=max-age%3D0&etag=%22v1%22&len=500", 200);
    all += n;
    saved += n;
    assert_int_equal(h_origin_count(origin_port, "/m1"), 1);
    assert_int_equal(h_origin_count(origin_port, "/m2"), 1);
    assert_int_equal(h_origin_count(origin_port, "/r"), 2);

    flat = stats(larder->port);
    assert_int_equal(flat_num(flat, "requests.miss"), 4);
    assert_int_equal(flat_num(flat, "requests.hit"), 4);
    assert_int_equal(flat_num(flat, "requests.revalidated"), 1);
    assert_int_equal(flat_num(flat, "requests.refreshed"), 0);
    assert_int_equal(flat_num(flat, "requests.stale"), 0);
    assert_int_equal(flat_num(flat, "requests.pass"), 0);
    assert_int_equal(flat_num(flat, "requests.tunnel"), 0);
    assert_int_equal(flat_num(flat, "requests.error"), 0);
    assert_int_equal(flat_num(flat, "requests.admin"), 1);   /* the baseline; not this one */
    assert_int_equal(flat_num(flat, "requests.total"), 10);
    v = flat_raw(flat, "hit_ratio.requests");
    assert_non_null(v);
    assert_true(strtod(v, NULL) > 5.0 / 9 - 1e-6 && strtod(v, NULL) < 5.0 / 9 + 1e-6);
    assert_int_equal(flat_num(flat, "bytes.to_clients"), all);
    assert_int_equal(flat_num(flat, "bytes.saved"), saved);
    v = flat_raw(flat, "hit_ratio.bytes");
    assert_true(strtod(v, NULL) > (double)saved / all - 1e-6 &&
                strtod(v, NULL) < (double)saved / all + 1e-6);
    /* at least the four bodies fetched came from the origin */
    assert_true(flat_num(flat, "bytes.from_origins") >= 1000 + 2000 + 3000 + 500);
    assert_int_equal(flat_num(flat, "cache.objects"), 4);
    assert_true(flat_num(flat, "cache.memory_bytes") >= 1000 + 2000 + 3000 + 500);
    assert_true(flat_num(flat, "cache.budget_bytes") > 0);
    assert_int_equal(flat_num(flat, "cache.evictions"), 0);
    assert_int_equal(flat_num(flat, "coalesced"), 0);
    /* nine proxied requests, each on its own connection, plus this one */
    assert_int_equal(flat_num(flat, "connections.clients_total"), base_clients + 10);
    assert_true(flat_num(flat, "connections.clients_active") >= 1);
    assert_true(flat_num(flat, "connections.upstream_connects") >= 1);
    assert_int_equal(flat_num(flat, "errors.total"), 0);
    assert_int_equal(flat_num(flat, "latency.hit.count"), 4);
    assert_int_equal(flat_num(flat, "latency.miss.count"), 5);
    assert_int_equal(flat_num(flat, "latency.hit.counts.length"), 17);
    assert_int_equal(flat_num(flat, "latency.bounds_us.length"), 16);
    assert_string_equal(flat_raw(flat, "top_hosts.by_requests.0.host"), "\"127.0.0.1\"");
    assert_int_equal(flat_num(flat, "top_hosts.by_requests.0.requests"), 9);
    assert_int_equal(flat_num(flat, "top_hosts.by_bytes.0.bytes"), all);
    assert_true(flat_num(flat, "uptime_seconds") >= 0);
    free(flat);

    /* the same numbers in Prometheus form, and promtool accepts it */
    r = admin(larder->port, "GET", "/larder/metrics", NULL);
    assert_int_equal(r->status, 200);
    assert_true(strncmp(h_header_get(r, "Content-Type"), "text/plain; version=0.0.4", 25) == 0);
    assert_non_null(strstr(r->body, "\nlarder_requests_total{outcome=\"hit\"} 4\n"));
    assert_non_null(strstr(r->body, "\nlarder_requests_total{outcome=\"miss\"} 4\n"));
    assert_non_null(strstr(r->body, "\nlarder_requests_total{outcome=\"revalidated\"} 1\n"));
    assert_non_null(strstr(r->body, "\nlarder_requests_total{outcome=\"admin\"} 2\n"));
    assert_non_null(strstr(r->body, "\nlarder_cache_objects 4\n"));
    assert_non_null(strstr(r->body,
                           "\nlarder_request_duration_seconds_count{cache=\"hit\"} 4\n"));
    want = h_fmt("\nlarder_saved_bytes_total %llu\n", (unsigned long long)saved);
    assert_non_null(strstr(r->body, want));
    free(want);
    assert_non_null(strstr(r->body, "le=\"+Inf\"}"));
    promtool_check(r->body);
    h_response_free(r);
    assert_int_equal(h_larder_stop(larder), 0);
}

/* ---- objects and JSON escaping ------------------------------------------------- */

static void test_objects(void **state)
{
    struct h_proc *larder = h_larder_start(NULL);
    struct h_response *r;
    char *flat, *want;

    (void)state;
    assert_non_null(larder);
    fetch(larder->port, "/obj-a?cc=max-age%3D60&len=100", 200);
    fetch(larder->port, "/obj-b?cc=max-age%3D60&len=200", 200);
    fetch(larder->port, "/obj-b?cc=max-age%3D60&len=200", 200);
    fetch(larder->port, "/other?cc=max-age%3D60&len=300", 200);
    /* quotes and backslashes are legal in a request target: JSON must escape them */
    fetch(larder->port, "/we\"ird\\path?cc=max-age%3D60&len=10", 200);

    r = admin(larder->port, "GET", "/larder/objects?q=obj-", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(h_header_get(r, "Content-Type"), "application/json");
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "length"), 2);
    /* most recently used first */
    want = h_fmt("\"http://127.0.0.1:%d/obj-b?cc=max-age%%3D60&len=200\"", origin_port);
    assert_string_equal(flat_raw(flat, "0.url"), want);
    free(want);
    assert_int_equal(flat_num(flat, "0.size"), 200);
    assert_true(flat_num(flat, "0.hits") >= 1);
    assert_true(flat_num(flat, "0.ttl") > 0 && flat_num(flat, "0.ttl") <= 60);
    assert_true(flat_num(flat, "0.age") >= 0 && flat_num(flat, "0.age") < 30);
    assert_true(flat_num(flat, "0.cost") > 200);
    assert_string_equal(flat_raw(flat, "0.state"), "\"complete\"");
    free(flat);
    h_response_free(r);

    /* case-insensitive substring; percent-decoded */
    r = admin(larder->port, "GET", "/larder/objects?q=OBJ%2DA", NULL);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "length"), 1);
    assert_int_equal(flat_num(flat, "0.size"), 100);
    free(flat);
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/objects?limit=2", NULL);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "length"), 2);
    free(flat);
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/objects", NULL);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "length"), 4);
    free(flat);
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/objects?q=ird", NULL);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "length"), 1);
    want = h_fmt("\"http://127.0.0.1:%d/we\\\"ird\\\\path?cc=max-age%%3D60&len=10\"", origin_port);
    assert_string_equal(flat_raw(flat, "0.url"), want);
    free(want);
    free(flat);
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/objects?limit=many", NULL);
    assert_int_equal(r->status, 400);
    h_response_free(r);

    /* stats.json stays valid with such a host in the tables */
    free(stats(larder->port));
    assert_int_equal(h_larder_stop(larder), 0);
}

/* ---- purge ------------------------------------------------------------------------ */

static void test_purge(void **state)
{
    struct h_proc *larder = h_larder_start(NULL);
    struct h_response *r;
    char *url, *body, *req, *flat;

    (void)state;
    assert_non_null(larder);
    url = h_fmt("http://127.0.0.1:%d/p?cc=max-age%%3D60&len=64", origin_port);
    fetch(larder->port, "/p?cc=max-age%3D60&len=64", 200);
    fetch(larder->port, "/p?cc=max-age%3D60&len=64", 200);
    assert_int_equal(h_origin_count(origin_port, "/p"), 1);

    /* POST /larder/purge, form-encoded */
    char *enc = h_pct_encode(url);
    body = h_fmt("url=%s", enc);
    free(enc);
    r = admin(larder->port, "POST", "/larder/purge", body);
    assert_int_equal(r->status, 200);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "purged"), 1);
    free(flat);
    h_response_free(r);
    r = admin(larder->port, "POST", "/larder/purge", body);
    assert_int_equal(r->status, 404);
    flat = flatten_json(r->body, r->body_len);
    assert_int_equal(flat_num(flat, "purged"), 0);
    free(flat);
    h_response_free(r);
    free(body);

    /* gone: the next request is a miss again */
    fetch(larder->port, "/p?cc=max-age%3D60&len=64", 200);
    assert_int_equal(h_origin_count(origin_port, "/p"), 2);

    /* the raw URL as the body works too (a trailing newline is fine) */
    body = h_fmt("%s\n", url);
    r = admin(larder->port, "POST", "/larder/purge", body);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(body);

    /* a raw URL whose query looks like a form is still a raw URL */
    fetch(larder->port, "/f?a=1&url=2&cc=max-age%3D60", 200);
    body = h_fmt("http://127.0.0.1:%d/f?a=1&url=2&cc=max-age%%3D60", origin_port);
    r = admin(larder->port, "POST", "/larder/purge", body);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(body);

    /* the PURGE method with the absolute URL */
    fetch(larder->port, "/p?cc=max-age%3D60&len=64", 200);
    assert_int_equal(h_origin_count(origin_port, "/p"), 3);
    req = h_fmt("PURGE %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", url,
                origin_port);
    expect_status(larder->port, req, 200);
    expect_status(larder->port, req, 404);
    free(req);
    fetch(larder->port, "/p?cc=max-age%3D60&len=64", 200);
    assert_int_equal(h_origin_count(origin_port, "/p"), 4);

    /* nothing there, nothing parsable */
    r = admin(larder->port, "POST", "/larder/purge", "url=http%3A%2F%2F127.0.0.1%3A1%2Fnone");
    assert_int_equal(r->status, 404);
    h_response_free(r);
    r = admin(larder->port, "POST", "/larder/purge", "");
    assert_int_equal(r->status, 400);
    h_response_free(r);
    r = admin(larder->port, "GET", "/larder/purge", NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(h_header_get(r, "Allow"), "POST");
    h_response_free(r);

    flat = stats(larder->port);
    assert_int_equal(flat_num(flat, "cache.invalidations"), 4);
    assert_int_equal(flat_num(flat, "requests.miss"), 5);
    assert_int_equal(flat_num(flat, "requests.hit"), 1);
    free(flat);
    free(url);
    assert_int_equal(h_larder_stop(larder), 0);
}

/* A web page can make a browser POST a form to larder's address: such a
 * cross-site purge is refused, and nothing is removed. larder's own
 * dashboard (same origin) and clients that say nothing (curl) purge. */
static void test_purge_cross_site(void **state)
{
    struct h_proc *larder = h_larder_start(NULL);
    struct h_response *r;
    char *url, *enc, *body, *req;
    static const char *const forged[] = {
        "Origin: http://attacker.example\r\n",
        "Origin: null\r\n",
        "Origin: http://127.0.0.1:1\r\n",
        "Sec-Fetch-Site: cross-site\r\n",
        "Sec-Fetch-Site: same-site\r\n",
    };

    (void)state;
    assert_non_null(larder);
    url = h_fmt("http://127.0.0.1:%d/x?cc=max-age%%3D60&len=32", origin_port);
    fetch(larder->port, "/x?cc=max-age%3D60&len=32", 200);
    assert_int_equal(h_origin_count(origin_port, "/x"), 1);
    enc = h_pct_encode(url);
    body = h_fmt("url=%s", enc);
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        req = h_fmt("POST /larder/purge HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                    larder->port, forged[i], strlen(body), body);
        r = h_request(larder->port, req, H_TIMEOUT_MS);
        assert_non_null(r);
        if (r->status != 403)
            fail_msg("%s: status %d, want 403", forged[i], r->status);
        h_response_free(r);
        free(req);
    }
    /* still stored: a hit, no new origin request */
    fetch(larder->port, "/x?cc=max-age%3D60&len=32", 200);
    assert_int_equal(h_origin_count(origin_port, "/x"), 1);

    /* the dashboard's own request, as a browser sends it */
    req = h_fmt("POST /larder/purge HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Origin: http://127.0.0.1:%d\r\nSec-Fetch-Site: same-origin\r\n"
                "Content-Type: text/plain;charset=UTF-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                larder->port, larder->port, strlen(body), body);
    expect_status(larder->port, req, 200);
    free(req);
    fetch(larder->port, "/x?cc=max-age%3D60&len=32", 200);
    assert_int_equal(h_origin_count(origin_port, "/x"), 2);

    free(body);
    free(enc);
    free(url);
    assert_int_equal(h_proc_stop(larder), 0);
}

/* ---- pages, methods, PAC ---------------------------------------------------------- */

static void test_pages(void **state)
{
    struct h_proc *larder = h_larder_start(NULL);
    struct h_response *r;
    char *req, *want;

    (void)state;
    assert_non_null(larder);

    r = admin(larder->port, "GET", "/larder/proxy.pac", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(h_header_get(r, "Content-Type"), "application/x-ns-proxy-autoconfig");
    assert_non_null(strstr(r->body, "function FindProxyForURL(url, host)"));
    want = h_fmt("\"PROXY 127.0.0.1:%d\"", larder->port);   /* the Host we used */
    assert_non_null(strstr(r->body, want));
    free(want);
    assert_non_null(strstr(r->body, "\"DIRECT\""));
    assert_non_null(strstr(r->body, "\"localhost\""));
    assert_non_null(strstr(r->body, "https:"));
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(h_header_get(r, "Content-Type"), "text/html; charset=utf-8");
    assert_non_null(strstr(r->body, "id=\"hits\""));
    assert_non_null(strstr(r->body, "stats.json"));
    assert_null(strstr(r->body, "src=\"http"));   /* self-contained */
    assert_null(strstr(r->body, "href=\"http"));
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder", NULL);
    assert_int_equal(r->status, 302);
    assert_string_equal(h_header_get(r, "Location"), "/larder/");
    h_response_free(r);

    r = admin(larder->port, "GET", "/larder/nothing-here", NULL);
    assert_int_equal(r->status, 404);
    h_response_free(r);

    r = admin(larder->port, "POST", "/larder/stats.json", "x=1");
    assert_int_equal(r->status, 405);
    assert_string_equal(h_header_get(r, "Allow"), "GET, HEAD");
    h_response_free(r);

    r = admin(larder->port, "DELETE", "/larder/metrics", NULL);
    assert_int_equal(r->status, 405);
    h_response_free(r);

    r = admin(larder->port, "HEAD", "/larder/stats.json", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    h_response_free(r);

    /* an absolute URI naming larder itself is an admin request too */
    req = h_fmt("GET http://127.0.0.1:%d/larder/stats.json HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", larder->port, larder->port);
    r = h_request(larder->port, req, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    free(flatten_json(r->body, r->body_len));
    h_response_free(r);
    free(req);
    assert_int_equal(h_larder_stop(larder), 0);
}

/* ---- admin_allow --------------------------------------------------------------- */

/* A page whose own name resolves to larder's address (DNS rebinding) sends
 * its own name in Host: larder's pages answer only to larder's address,
 * localhost or its own name. */
static void test_admin_host_names(void **state)
{
    struct h_proc *larder = h_larder_start("via_name proxybox\n");
    static const struct {
        const char *host;
        int status;
    } cases[] = {
        { "127.0.0.1:%d", 200 }, { "localhost:%d", 200 }, { "LOCALHOST", 200 },
        { "app.localhost:%d", 200 }, { "[::1]:%d", 200 }, { "proxybox:%d", 200 },
        { "ProxyBox", 200 }, { "attacker.example:%d", 403 }, { "proxybox.attacker.example", 403 },
        { "127.0.0.1.attacker.example:%d", 403 }, { "[evil.example]:%d", 403 },
        { "[::1", 403 },
    };

    (void)state;
    assert_non_null(larder);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *host = h_fmt(cases[i].host, larder->port);
        char *req = h_fmt("GET /larder/stats.json HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                          host);
        struct h_response *r = h_request(larder->port, req, H_TIMEOUT_MS);

        assert_non_null(r);
        if (r->status != cases[i].status)
            fail_msg("Host: %s: status %d, want %d", host, r->status, cases[i].status);
        h_response_free(r);
        free(req);
        free(host);
    }
    /* the PAC file is no secret: browsers may fetch it by any name */
    {
        char *req = h_fmt("GET /larder/proxy.pac HTTP/1.1\r\nHost: wpad.example\r\n"
                          "Connection: close\r\n\r\n");
        expect_status(larder->port, req, 200);
        free(req);
    }
    assert_int_equal(h_proc_stop(larder), 0);
}

static void test_admin_acl(void **state)
{
    struct h_proc *larder = h_larder_start("admin_allow 10.0.0.0/8\n");
    struct h_response *r;
    char *req;

    (void)state;
    assert_non_null(larder);
    r = admin(larder->port, "GET", "/larder/stats.json", NULL);
    assert_int_equal(r->status, 403);
    assert_null(strstr(r->body, "\"requests\""));
    h_response_free(r);
    r = admin(larder->port, "GET", "/larder/", NULL);
    assert_int_equal(r->status, 403);
    h_response_free(r);
    r = admin(larder->port, "POST", "/larder/purge", "url=http%3A%2F%2Fx%2F");
    assert_int_equal(r->status, 403);
    h_response_free(r);
    req = h_fmt("GET http://127.0.0.1:%d/larder/metrics HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", larder->port, larder->port);
    expect_status(larder->port, req, 403);
    free(req);

    /* PURGE too, even for something stored; proxying itself still works */
    fetch(larder->port, "/acl?cc=max-age%3D60", 200);
    req = h_fmt("PURGE http://127.0.0.1:%d/acl?cc=max-age%%3D60 HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", origin_port, origin_port);
    expect_status(larder->port, req, 403);
    free(req);
    fetch(larder->port, "/acl?cc=max-age%3D60", 200);
    assert_int_equal(h_origin_count(origin_port, "/acl"), 1);   /* still stored */
    assert_int_equal(h_larder_stop(larder), 0);
}

/* ---- the dashboard in a real browser ---------------------------------------------- */

/* Runs headless Chromium with a fresh profile on <url> plus <args>;
 * its stdout goes to <out_path>. Returns the exit status. */
static int chromium(const char *url, const char *args, const char *out_path)
{
    char *profile = h_fmt("%s/larder-chromium-XXXXXX",
                          getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    char *cmd, *err = NULL, *rm;
    int rc;

    assert_non_null(mkdtemp(profile));
    cmd = h_fmt(CHROMIUM " --headless --no-sandbox --disable-gpu --disable-background-networking"
                " --disable-component-update --disable-sync --no-first-run"
                " --disable-crash-reporter --disable-breakpad --disable-dev-shm-usage"
                " --no-proxy-server --user-data-dir=%s %s '%s' > %s 2> %s/chromium.log",
                profile, args, url, out_path, profile);
    rc = h_run(cmd, NULL, &err, 90000);
    if (rc != 0) {
        char *log = h_fmt("%s/chromium.log", profile);
        char *text = h_read_file(log, NULL);
        fprintf(stderr, "chromium exited %d:\n%s\n", rc, text ? text : "");
        free(text);
        free(log);
    }
    rm = h_fmt("rm -rf '%s'", profile);
    h_run(rm, NULL, NULL, 20000);
    free(rm);
    free(err);
    free(cmd);
    free(profile);
    return rc;
}

/* Background traffic for the screenshot: a few seconds of hits, misses
 * and revalidations from a child process. */
static pid_t traffic(int port)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t end = h_now_ms() + 4000;
        int i = 0;

        while (h_now_ms() < end) {
            char *path = h_fmt("/page%d?cc=max-age%%3D600&len=%d", i % 7, 2000 + (i % 7) * 3000);
            struct h_response *r = h_get(port, origin_port, path, NULL);
            h_response_free(r);
            free(path);
            if (i % 4 == 0) {
                path = h_fmt("/fresh%d?len=4000", i);
                h_response_free(h_get(port, origin_port, path, NULL));
                free(path);
            }
            if (i % 5 == 0)
                h_response_free(h_get(port, origin_port,
                                      "/feed?cc=max-age%3D0&etag=%22v1%22&len=800", NULL));
            if (i % 3 == 0) {     /* another host name for the top-hosts table */
                char *req = h_fmt("GET http://localhost:%d/img%d?cc=max-age%%3D600&len=30000"
                                  " HTTP/1.1\r\nHost: localhost:%d\r\n\r\n",
                                  origin_port, i % 4, origin_port);
                h_response_free(h_request(port, req, H_TIMEOUT_MS));
                free(req);
            }
            h_sleep_ms(40);
            i++;
        }
        _exit(0);
    }
    return pid;
}

static void test_dashboard_chromium(void **state)
{
    struct h_proc *larder;
    char *url, *dom_path, *dom, *flat, *shot, *png, *args;
    const char *build = getenv("LARDER_BUILD_DIR") != NULL ? getenv("LARDER_BUILD_DIR") : ".";
    const char *p;
    long long dom_hits;
    size_t png_len = 0;
    int status;
    pid_t child;

    (void)state;
    if (access(CHROMIUM, X_OK) != 0) {
        fprintf(stderr, "note: %s missing (scripts/deps.sh test)\n", CHROMIUM);
        skip();
    }
    larder = h_larder_start(NULL);
    assert_non_null(larder);
    fetch(larder->port, "/d1?cc=max-age%3D600&len=5000", 200);
    fetch(larder->port, "/d2?cc=max-age%3D600&len=9000", 200);
    for (int i = 0; i < 3; i++)
        fetch(larder->port, "/d1?cc=max-age%3D600&len=5000", 200);
    fetch(larder->port, "/d2?cc=max-age%3D600&len=9000", 200);

    /* the page as the browser rendered it, after its scripts ran */
    url = h_fmt("http://127.0.0.1:%d/larder/", larder->port);
    dom_path = h_fmt("%s/dashboard-dom.html", build);
    assert_int_equal(chromium(url, "--virtual-time-budget=5000 --dump-dom", dom_path), 0);
    dom = h_read_file(dom_path, NULL);
    assert_non_null(dom);
    p = strstr(dom, "id=\"hits\"");
    if (p == NULL)
        fail_msg("no #hits in the rendered page: %.300s", dom);
    p = strstr(p, "data-value=\"");
    assert_non_null(p);
    dom_hits = strtoll(p + 12, NULL, 10);
    assert_non_null(strstr(dom, "data-samples=\""));      /* stats.json was polled */
    assert_non_null(strstr(dom, "id=\"status\" class=\"\">live<"));
    assert_non_null(strstr(dom, "/d2?cc=max-age%3D600&amp;len=9000"));   /* object list */

    flat = stats(larder->port);
    assert_int_equal(flat_num(flat, "requests.hit"), 4);
    assert_int_equal(dom_hits, flat_num(flat, "requests.hit"));
    free(flat);
    free(dom);
    free(dom_path);

    /* a screenshot with some traffic going on */
    shot = h_fmt("%s/dashboard.png", build);
    unlink(shot);
    child = traffic(larder->port);
    h_sleep_ms(1500);
    args = h_fmt("--virtual-time-budget=9000 --window-size=1280,900 --hide-scrollbars"
                 " --screenshot=%s", shot);
    assert_int_equal(chromium(url, args, "/dev/null"), 0);
    free(args);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    png = h_read_file(shot, &png_len);
    assert_non_null(png);
    assert_true(png_len > 20000);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    fprintf(stderr, "dashboard screenshot: %s\n", shot);
    free(png);
    free(shot);
    free(url);
    assert_int_equal(h_larder_stop(larder), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_exact_counters, test_setup),
        cmocka_unit_test_setup(test_objects, test_setup),
        cmocka_unit_test_setup(test_purge, test_setup),
        cmocka_unit_test_setup(test_purge_cross_site, test_setup),
        cmocka_unit_test_setup(test_pages, test_setup),
        cmocka_unit_test_setup(test_admin_acl, test_setup),
        cmocka_unit_test_setup(test_admin_host_names, test_setup),
        cmocka_unit_test_setup(test_dashboard_chromium, test_setup),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
