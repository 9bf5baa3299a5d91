/* SPDX-License-Identifier: MIT */
/* test_fixtures.c - proves fixture_origin, fixture_echo and the harness by
 * talking to them directly, without larder. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MiB (1024u * 1024u)

struct fixtures {
    struct h_proc *origin;
    struct h_proc *echo;
};

static int origin_port;           /* set by group_setup, for brevity */

static int group_setup(void **state)
{
    struct fixtures *fx = calloc(1, sizeof *fx);

    if (!fx)
        return -1;
    fx->origin = h_origin_start();
    fx->echo = h_echo_start();
    *state = fx;
    if (!fx->origin || !fx->echo)
        return -1;
    origin_port = fx->origin->port;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixtures *fx = *state;
    int rc = 0;

    /* exit 0 after SIGTERM: also no leaks under ASan */
    if (h_proc_stop(fx->origin) != 0)
        rc = -1;
    if (h_proc_stop(fx->echo) != 0)
        rc = -1;
    free(fx);
    return rc;
}

static int reset_origin(void **state)
{
    (void)state;
    return h_origin_reset(origin_port);
}

/* GET <path> straight from the origin on a new connection. */
static struct h_response *get(const char *path)
{
    struct h_response *r = h_get(origin_port, origin_port, path, NULL);

    if (!r)
        fail_msg("GET %s: %s", path, h_error());
    return r;
}

/* Sends one request on <c> and reads its response. */
static struct h_response *roundtrip(struct h_conn *c, const char *method, const char *path,
                                    const char *extra)
{
    char *req = h_req(method, origin_port, path, extra);
    struct h_response *r = NULL;

    if (h_conn_send_str(c, req) == 0)
        r = h_conn_read_response(c, method, H_TIMEOUT_MS);
    free(req);
    if (!r)
        fail_msg("%s %s: %s", method, path, h_error());
    return r;
}

static time_t parse_date(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    assert_non_null(s);
    assert_non_null(strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm));
    return timegm(&tm);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------ */

static void test_default_response(void **state)
{
    struct h_response *r = get("/hello");

    (void)state;
    assert_int_equal(r->status, 200);
    assert_string_equal(r->reason, "OK");
    assert_int_equal(r->minor, 1);
    assert_true(r->complete);
    assert_false(r->chunked);
    assert_string_equal(r->body, "origin /hello version 0\n");
    assert_string_equal(h_header_get(r, "content-type"), "text/plain");
    assert_string_equal(h_header_get(r, "Content-Length"), "24");
    assert_null(h_header_get(r, "Connection"));
    assert_true(labs((long)(parse_date(h_header_get(r, "Date")) - time(NULL))) <= 2);
    h_response_free(r);
}

static void test_status_reason_headers(void **state)
{
    struct h_response *r;

    (void)state;
    r = get("/x?status=404&reason=Gone%20Fishing&h=X-A:b&h=Vary:Accept&h=X-A:%20c"
            "&cc=max-age%3D60");
    assert_int_equal(r->status, 404);
    assert_string_equal(r->reason, "Gone Fishing");
    assert_int_equal(h_header_count(r, "X-A"), 2);
    assert_string_equal(h_header_get(r, "x-a"), "b");
    assert_string_equal(r->headers[r->nheaders - 2].value, "c");  /* order kept */
    assert_string_equal(h_header_get(r, "Vary"), "Accept");
    assert_string_equal(h_header_get(r, "Cache-Control"), "max-age=60");
    assert_string_equal(r->body, "origin /x version 0\n");
    h_response_free(r);

    r = get("/x?status=503&h=Content-Type:application/json&body=%7B%7D");
    assert_int_equal(r->status, 503);
    assert_string_equal(r->reason, "Service Unavailable");
    assert_int_equal(h_header_count(r, "Content-Type"), 1);
    assert_string_equal(h_header_get(r, "Content-Type"), "application/json");
    assert_string_equal(r->body, "{}");
    h_response_free(r);

    r = get("/x?status=204");
    assert_int_equal(r->status, 204);
    assert_null(h_header_get(r, "Content-Length"));
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
}

static void test_bodies(void **state)
{
    struct h_response *r;

    (void)state;
    r = get("/b?body=hello%20world%0A");
    assert_string_equal(r->body, "hello world\n");
    assert_string_equal(h_header_get(r, "Content-Length"), "12");
    h_response_free(r);

    r = get("/b?len=100000");
    assert_true(r->complete);
    assert_int_equal(r->body_len, 100000);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 100000), 100000);
    assert_memory_equal(r->body, "0123456789abcdefghijklmnopqrstuvwxyz0123", 40);
    h_response_free(r);

    r = get("/b?len=0");
    assert_true(r->complete);
    assert_int_equal(r->body_len, 0);
    assert_string_equal(h_header_get(r, "Content-Length"), "0");
    h_response_free(r);
}

static void test_dates(void **state)
{
    struct h_response *r;

    (void)state;
    r = get("/d?lm=1000000000&date_offset=-3600");
    assert_string_equal(h_header_get(r, "Last-Modified"), "Sun, 09 Sep 2001 01:46:40 GMT");
    long off = (long)(parse_date(h_header_get(r, "Date")) - time(NULL));
    assert_true(off >= -3602 && off <= -3598);
    h_response_free(r);

    r = get("/d?nodate=1");
    assert_null(h_header_get(r, "Date"));
    h_response_free(r);
}

static void test_chunked(void **state)
{
    struct h_response *r;
    struct h_conn *c;
    char *req, *wire;
    size_t len;

    (void)state;
    r = get("/c?chunked=1&len=20000&chunk=1000");
    assert_true(r->chunked);
    assert_true(r->complete);
    assert_null(h_header_get(r, "Content-Length"));
    assert_string_equal(h_header_get(r, "Transfer-Encoding"), "chunked");
    assert_int_equal(r->body_len, 20000);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 20000), 20000);
    h_response_free(r);

    /* the framing on the wire: 20 chunks of 0x3e8 bytes, then the last one */
    c = h_conn_open(origin_port);
    assert_non_null(c);
    req = h_req("GET", origin_port, "/c?chunked=1&len=20000&chunk=1000&close=1", NULL);
    assert_int_equal(h_conn_send_str(c, req), 0);
    wire = h_conn_read_until_close(c, H_TIMEOUT_MS, &len);
    assert_true(c->eof);
    assert_int_equal(count_of(wire, "\r\n3e8\r\n"), 20);
    assert_memory_equal(wire + len - 7, "\r\n0\r\n\r\n", 7);
    free(wire);
    free(req);
    h_conn_close(c);

    r = get("/c?chunked=1&body=abc");
    assert_true(r->chunked);
    assert_string_equal(r->body, "abc");
    h_response_free(r);
}

static void test_conditional_etag(void **state)
{
    const char *path = "/e?etag=%22v1%22&cc=max-age%3D5&h=Vary:Accept";
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;

    (void)state;
    assert_non_null(c);
    r = roundtrip(c, "GET", path, "If-None-Match: \"v1\"\r\n");
    assert_int_equal(r->status, 304);
    assert_string_equal(h_header_get(r, "ETag"), "\"v1\"");
    assert_string_equal(h_header_get(r, "Cache-Control"), "max-age=5");
    assert_string_equal(h_header_get(r, "Vary"), "Accept");
    assert_non_null(h_header_get(r, "Date"));
    assert_null(h_header_get(r, "Content-Length"));
    assert_int_equal(r->body_len, 0);
    h_response_free(r);

    /* weak comparison, lists and "*" match; another tag does not */
    r = roundtrip(c, "GET", path, "If-None-Match: W/\"v1\"\r\n");
    assert_int_equal(r->status, 304);
    h_response_free(r);
    r = roundtrip(c, "GET", path, "If-None-Match: \"x\", \"v1\"\r\n");
    assert_int_equal(r->status, 304);
    h_response_free(r);
    r = roundtrip(c, "HEAD", path, "If-None-Match: *\r\n");
    assert_int_equal(r->status, 304);
    h_response_free(r);
    r = roundtrip(c, "GET", path, "If-None-Match: \"v2\"\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /e version 0\n");
    assert_string_equal(h_header_get(r, "ETag"), "\"v1\"");
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_origin_count(origin_port, "/e"), 5);
}

static void test_conditional_ims(void **state)
{
    const char *path = "/m?lm=1000000000";
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;

    (void)state;
    assert_non_null(c);
    r = roundtrip(c, "GET", path, "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n");
    assert_int_equal(r->status, 304);
    assert_string_equal(h_header_get(r, "Last-Modified"), "Sun, 09 Sep 2001 01:46:40 GMT");
    h_response_free(r);
    r = roundtrip(c, "GET", path, "If-Modified-Since: Mon, 10 Sep 2001 00:00:00 GMT\r\n");
    assert_int_equal(r->status, 304);
    h_response_free(r);
    r = roundtrip(c, "GET", path, "If-Modified-Since: Sun, 09 Sep 2001 01:46:39 GMT\r\n");
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, strlen("origin /m version 0\n"));
    h_response_free(r);
    /* If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2) */
    r = roundtrip(c, "GET", "/m?lm=1000000000&etag=%22a%22",
                  "If-None-Match: \"b\"\r\nIf-Modified-Since: Mon, 10 Sep 2001 00:00:00 GMT\r\n");
    assert_int_equal(r->status, 200);
    h_response_free(r);
    h_conn_close(c);
}

static void test_delay_drip_early_hints(void **state)
{
    struct h_response *r;
    uint64_t t0;

    (void)state;
    t0 = h_now_ms();
    r = get("/slow?delay_ms=300");
    assert_true(h_now_ms() - t0 >= 295);
    assert_int_equal(r->status, 200);
    h_response_free(r);

    t0 = h_now_ms();
    r = get("/drip?len=60&drip_ms=40&drip_bytes=20");
    assert_true(h_now_ms() - t0 >= 115);    /* three pieces, 40 ms apart */
    assert_true(r->complete);
    assert_int_equal(r->body_len, 60);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 60), 60);
    h_response_free(r);

    r = get("/hints?early_hints=1&delay_ms=50");
    assert_int_equal(r->status, 200);
    assert_int_equal(r->ninterim, 1);
    assert_int_equal(r->interim[0], 103);
    assert_non_null(strstr(r->interim_heads, "HTTP/1.1 103 Early Hints\r\n"));
    assert_non_null(strstr(r->interim_heads, "Link: </style.css>; rel=preload\r\n"));
    assert_null(h_header_get(r, "Link"));
    h_response_free(r);
}

static void test_abort_and_reset(void **state)
{
    struct h_response *r;
    struct h_conn *c;
    char *req;

    (void)state;
    c = h_conn_open(origin_port);
    assert_non_null(c);
    r = roundtrip(c, "GET", "/a?len=100000&abort_after=1000", NULL);
    assert_string_equal(h_header_get(r, "Content-Length"), "100000");
    assert_false(r->complete);
    assert_int_equal(r->body_len, 1000);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 1000), 1000);
    assert_true(c->eof);
    assert_false(c->reset);
    h_response_free(r);
    h_conn_close(c);

    r = get("/a?len=10000&chunked=1&abort_after=2500");
    assert_true(r->chunked);
    assert_false(r->complete);
    assert_int_equal(r->body_len, 2500);
    h_response_free(r);

    /* abortive close after the bytes */
    c = h_conn_open(origin_port);
    assert_non_null(c);
    r = roundtrip(c, "GET", "/a?len=5000&abort_after=500&rst=1", NULL);
    assert_false(r->complete);
    assert_int_equal(r->body_len, 500);
    assert_true(c->reset);
    h_response_free(r);
    h_conn_close(c);

    /* abortive close instead of any response */
    c = h_conn_open(origin_port);
    assert_non_null(c);
    req = h_req("GET", origin_port, "/a?rst=1", NULL);
    assert_int_equal(h_conn_send_str(c, req), 0);
    assert_null(h_conn_read_response(c, "GET", H_TIMEOUT_MS));
    assert_true(c->reset);
    free(req);
    h_conn_close(c);
    assert_int_equal(h_origin_count(origin_port, "/a"), 4);
}

static void test_head(void **state)
{
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;

    (void)state;
    assert_non_null(c);
    r = roundtrip(c, "HEAD", "/h?len=5000", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(h_header_get(r, "Content-Length"), "5000");
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
    r = roundtrip(c, "HEAD", "/h?chunked=1&len=5000", NULL);
    assert_string_equal(h_header_get(r, "Transfer-Encoding"), "chunked");
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
    /* nothing stray after the bodiless heads: the next answer parses */
    r = roundtrip(c, "GET", "/h2", NULL);
    assert_string_equal(r->body, "origin /h2 version 0\n");
    h_response_free(r);
    h_conn_close(c);
}

static void test_keepalive_and_stats(void **state)
{
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;
    long conns = -1, reqs = -1;
    int i;

    (void)state;
    assert_non_null(c);
    for (i = 0; i < 3; i++) {
        r = roundtrip(c, "GET", "/k", NULL);
        assert_int_equal(r->status, 200);
        h_response_free(r);
    }
    assert_int_equal(h_origin_stats(origin_port, &conns, &reqs), 0);
    assert_int_equal(conns, 1);
    assert_int_equal(reqs, 3);
    h_conn_close(c);

    r = get("/k");
    h_response_free(r);
    assert_int_equal(h_origin_stats(origin_port, &conns, &reqs), 0);
    assert_int_equal(conns, 2);
    assert_int_equal(reqs, 4);

    /* HTTP/1.0 without keep-alive: close after the response */
    c = h_conn_open(origin_port);
    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, "GET /k10 HTTP/1.0\r\n\r\n"), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(h_header_get(r, "Connection"), "close");
    assert_string_equal(r->body, "origin /k10 version 0\n");
    h_response_free(r);
    free(h_conn_read_until_close(c, H_TIMEOUT_MS, NULL));
    assert_true(c->eof);
    h_conn_close(c);
}

static void test_pipelining(void **state)
{
    struct h_conn *c = h_conn_open(origin_port);
    char *a = h_req("GET", origin_port, "/p1?delay_ms=100", NULL);
    char *b = h_req("HEAD", origin_port, "/p2?len=7", NULL);
    char *d = h_req("GET", origin_port, "/p3?chunked=1", NULL);
    char *all = h_fmt("%s%s%s", a, b, d);
    struct h_response *r;
    long conns, reqs;

    (void)state;
    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, all), 0);     /* one write */
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_true(r->complete);
    assert_string_equal(r->body, "origin /p1 version 0\n");
    h_response_free(r);
    r = h_conn_read_response(c, "HEAD", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(h_header_get(r, "Content-Length"), "7");
    h_response_free(r);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_true(r->chunked);
    assert_true(r->complete);
    assert_string_equal(r->body, "origin /p3 version 0\n");
    h_response_free(r);
    assert_int_equal(h_origin_stats(origin_port, &conns, &reqs), 0);
    assert_int_equal(conns, 1);
    assert_int_equal(reqs, 3);
    free(a);
    free(b);
    free(d);
    free(all);
    h_conn_close(c);
}

static void test_control_api(void **state)
{
    struct h_response *r;
    char *log;
    char *body;
    size_t len;
    long conns, reqs;

    (void)state;
    assert_int_equal(h_origin_count(origin_port, "/c"), 0);
    h_response_free(h_get(origin_port, origin_port, "/c?a=1", "X-Test: one\r\n"));
    h_response_free(h_get(origin_port, origin_port, "/c?a=2", "X-Test: two\r\n"));
    assert_int_equal(h_origin_count(origin_port, "/c"), 2);   /* query ignored */

    log = h_origin_log(origin_port, "/c");
    assert_non_null(log);
    assert_int_equal(count_of(log, "\r\n\r\n----\n"), 2);
    char *first = strstr(log, "X-Test: one\r\n");
    char *second = strstr(log, "X-Test: two\r\n");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second);                       /* most recent last */
    char *line = h_fmt("GET http://127.0.0.1:%d/c?a=1 HTTP/1.1\r\n", origin_port);
    assert_true(strncmp(log, line, strlen(line)) == 0);
    free(line);
    free(log);

    /* a script changes what the path returns; the query overrides it */
    assert_int_equal(h_origin_script(origin_port, "/s", "status=201&body=first"), 0);
    r = get("/s");
    assert_int_equal(r->status, 201);
    assert_string_equal(r->body, "first");
    h_response_free(r);
    r = get("/s?status=202");
    assert_int_equal(r->status, 202);
    assert_string_equal(r->body, "first");
    h_response_free(r);
    assert_int_equal(h_origin_script(origin_port, "/s", "version=1&cc=max-age%3D9"), 0);
    r = get("/s");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /s version 1\n");
    assert_string_equal(h_header_get(r, "Cache-Control"), "max-age=9");
    h_response_free(r);
    assert_int_equal(h_origin_script(origin_port, "/s", "version=2"), 0);
    r = get("/s");
    assert_string_equal(r->body, "origin /s version 2\n");
    h_response_free(r);
    assert_int_equal(h_origin_script(origin_port, "/s", NULL), 0);   /* cleared */
    r = get("/s");
    assert_string_equal(r->body, "origin /s version 0\n");
    h_response_free(r);

    /* /__body keeps the last request body */
    char *req = h_req("POST", origin_port, "/up", "Content-Length: 3\r\n");
    char *full = h_fmt("%sabc", req);
    r = h_request(origin_port, full, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "received 3 sum 294\n");
    h_response_free(r);
    free(req);
    free(full);
    body = h_origin_body(origin_port, "/up", &len);
    assert_non_null(body);
    assert_int_equal(len, 3);
    assert_string_equal(body, "abc");
    free(body);

    /* control requests and their connections are not counted */
    assert_int_equal(h_origin_stats(origin_port, &conns, &reqs), 0);
    assert_int_equal(conns, 8);
    assert_int_equal(reqs, 8);
    r = get("/__nonsense");
    assert_int_equal(r->status, 404);
    h_response_free(r);

    assert_int_equal(h_origin_reset(origin_port), 0);
    assert_int_equal(h_origin_count(origin_port, "/c"), 0);
    assert_int_equal(h_origin_stats(origin_port, &conns, &reqs), 0);
    assert_int_equal(conns, 0);
    assert_int_equal(reqs, 0);
    log = h_origin_log(origin_port, "/c");
    assert_string_equal(log, "");
    free(log);
    r = get("/s?x=1");
    assert_string_equal(r->body, "origin /s version 0\n");
    h_response_free(r);
}

static void test_close_nolen_raw(void **state)
{
    struct h_conn *c;
    struct h_response *r;
    char *raw, *path, *rest;

    (void)state;
    c = h_conn_open(origin_port);
    assert_non_null(c);
    r = roundtrip(c, "GET", "/z?close=1", NULL);
    assert_string_equal(h_header_get(r, "Connection"), "close");
    h_response_free(r);
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, NULL);
    assert_string_equal(rest, "");
    assert_true(c->eof);
    free(rest);
    h_conn_close(c);

    r = get("/z?nolen=1&len=5000");
    assert_null(h_header_get(r, "Content-Length"));
    assert_string_equal(h_header_get(r, "Connection"), "close");
    assert_true(r->complete);
    assert_int_equal(r->body_len, 5000);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 5000), 5000);
    h_response_free(r);

    raw = h_pct_encode("HTTP/1.1 299 Odd\r\nContent-Length: 2\r\nX-Raw: yes\r\n\r\nhi");
    path = h_fmt("/raw?raw=%s", raw);
    c = h_conn_open(origin_port);
    assert_non_null(c);
    r = roundtrip(c, "GET", path, NULL);
    assert_int_equal(r->status, 299);
    assert_string_equal(r->reason, "Odd");
    assert_string_equal(h_header_get(r, "X-Raw"), "yes");
    assert_string_equal(r->body, "hi");
    assert_null(h_header_get(r, "Date"));
    h_response_free(r);
    r = roundtrip(c, "GET", "/after-raw", NULL);     /* still alive */
    assert_string_equal(r->body, "origin /after-raw version 0\n");
    h_response_free(r);
    h_conn_close(c);
    free(raw);
    free(path);
}

static void test_expect_continue(void **state)
{
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;
    char *req;

    (void)state;
    assert_non_null(c);
    req = h_req("POST", origin_port, "/up?continue=1",
                "Content-Length: 5\r\nExpect: 100-continue\r\n");
    assert_int_equal(h_conn_send_str(c, req), 0);
    free(req);
    r = h_conn_read_interim(c, H_TIMEOUT_MS);       /* before any body byte */
    assert_non_null(r);
    assert_int_equal(r->status, 100);
    h_response_free(r);
    assert_int_equal(h_conn_send_str(c, "hello"), 0);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->ninterim, 0);
    assert_string_equal(r->body, "received 5 sum 532\n");
    h_response_free(r);

    /* without Expect there is no 100 */
    req = h_req("POST", origin_port, "/up?continue=1", "Content-Length: 2\r\n");
    assert_int_equal(h_conn_send_str(c, req), 0);
    assert_int_equal(h_conn_send_str(c, "hi"), 0);
    free(req);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->ninterim, 0);
    assert_string_equal(r->body, "received 2 sum 209\n");
    h_response_free(r);
    h_conn_close(c);
}

static void test_big_streamed_body(void **state)
{
    const uint64_t n = 64 * (uint64_t)MiB;
    struct h_pattern_check pc = { 0, 0, 0 };
    char *path = h_fmt("/big?len=%llu", (unsigned long long)n);
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;
    char *req;

    (void)state;
    assert_non_null(c);
    req = h_req("GET", origin_port, path, NULL);
    assert_int_equal(h_conn_send_str(c, req), 0);
    r = h_conn_read_response_cb(c, "GET", H_TIMEOUT_MS, h_pattern_check_cb, &pc);
    assert_non_null(r);
    assert_true(r->complete);
    assert_null(r->body);
    assert_int_equal(r->body_len, n);
    assert_int_equal(pc.checked, n);
    assert_int_equal(pc.bad, 0);
    h_response_free(r);

    /* the checker notices a wrong byte */
    struct h_pattern_check bad = { 0, 0, 0 };
    char buf[100];
    h_pattern_fill(buf, 0, sizeof buf);
    buf[57] = '!';
    h_pattern_check_cb(buf, 50, &bad);
    h_pattern_check_cb(buf + 50, 50, &bad);
    assert_int_equal(bad.bad, 1);
    assert_int_equal(bad.first_bad, 57);
    free(req);
    free(path);
    h_conn_close(c);
}

static void test_streamed_uploads(void **state)
{
    const uint64_t n = 8 * (uint64_t)MiB;
    struct h_conn *c = h_conn_open(origin_port);
    struct h_response *r;
    char *req, *want;

    (void)state;
    assert_non_null(c);
    req = h_req("POST", origin_port, "/up", "Transfer-Encoding: chunked\r\n");
    assert_int_equal(h_conn_send_str(c, req), 0);
    free(req);
    assert_int_equal(h_conn_send_pattern(c, 0, n, 65536), 0);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    want = h_fmt("received %llu sum %u\n", (unsigned long long)n,
                 (unsigned)h_pattern_sum(0, n));
    assert_string_equal(r->body, want);
    free(want);
    h_response_free(r);

    /* Content-Length framing at an odd offset, same connection */
    req = h_req("PUT", origin_port, "/up", "Content-Length: 3000001\r\n");
    assert_int_equal(h_conn_send_str(c, req), 0);
    free(req);
    assert_int_equal(h_conn_send_pattern(c, 7, 3000001, 0), 0);
    r = h_conn_read_response(c, "PUT", H_TIMEOUT_MS);
    assert_non_null(r);
    want = h_fmt("received 3000001 sum %u\n", (unsigned)h_pattern_sum(7, 3000001));
    assert_string_equal(r->body, want);
    free(want);
    h_response_free(r);

    /* body= wins over the received/sum reply */
    req = h_req("POST", origin_port, "/up?body=thanks", "Content-Length: 4\r\n");
    assert_int_equal(h_conn_send_str(c, req), 0);
    assert_int_equal(h_conn_send_str(c, "data"), 0);
    free(req);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "thanks");
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_origin_count(origin_port, "/up"), 3);
}

static void test_echo(void **state)
{
    struct fixtures *fx = *state;
    long before = h_echo_connections(fx->echo);
    struct h_conn *c = h_conn_open(fx->echo->port);
    char *buf = malloc(MiB);
    char *back = malloc(MiB);
    char *rest;
    size_t len;
    uint64_t off;

    assert_non_null(c);
    assert_non_null(buf);
    assert_non_null(back);
    assert_int_equal(h_conn_send_str(c, "hello"), 0);
    assert_int_equal(h_conn_read_exact(c, back, 5, H_TIMEOUT_MS), 0);
    assert_memory_equal(back, "hello", 5);

    /* 4 MiB through, 64 KiB at a time */
    for (off = 0; off < 4 * (uint64_t)MiB; off += 65536) {
        h_pattern_fill(buf, off, 65536);
        assert_int_equal(h_conn_send(c, buf, 65536), 0);
        assert_int_equal(h_conn_read_exact(c, back, 65536, H_TIMEOUT_MS), 0);
        assert_int_equal(h_pattern_mismatch(back, off, 65536), 65536);
    }

    /* half-close: the rest comes back, then the echo's FIN */
    h_pattern_fill(buf, 0, 256 * 1024);
    assert_int_equal(h_conn_send(c, buf, 256 * 1024), 0);
    assert_int_equal(h_conn_shutdown_write(c), 0);
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &len);
    assert_true(c->eof);
    assert_false(c->reset);
    assert_int_equal(len, 256 * 1024);
    assert_int_equal(h_pattern_mismatch(rest, 0, len), len);
    free(rest);
    h_conn_close(c);
    assert_int_equal(h_echo_connections(fx->echo), before + 1);
    free(buf);
    free(back);
}

/* Sends more than the kernel buffers hold, half-closes, and reads in bursts
 * with pauses, so the echo's back-pressure engages: every byte comes back,
 * in order, and then the echo's FIN. */
static void test_echo_backpressure(void **state)
{
    struct fixtures *fx = *state;
    const size_t total = 8 * MiB;
    struct h_conn *c = h_conn_open(fx->echo->port);
    uint64_t deadline = h_now_ms() + 20000;
    size_t sent = 0, got = 0;
    int shut = 0, fin = 0;
    static char buf[65536];

    assert_non_null(c);
    while (!fin && h_now_ms() < deadline) {
        struct pollfd pfd = { c->fd, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0 };

        assert_true(poll(&pfd, 1, 1000) >= 0);
        if ((pfd.revents & POLLOUT) && sent < total) {
            size_t k = total - sent < sizeof buf ? total - sent : sizeof buf;
            ssize_t n;

            h_pattern_fill(buf, sent, k);
            n = send(c->fd, buf, k, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            if (sent == total && !shut)
                shut = shutdown(c->fd, SHUT_WR) == 0;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t burst = 0;

            while (burst < 512 * 1024 && !fin) {
                ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

                if (n < 0) {
                    assert_true(errno == EAGAIN);
                    break;
                }
                fin = n == 0;
                assert_int_equal(h_pattern_mismatch(buf, got, (size_t)n), (size_t)n);
                got += (size_t)n;
                burst += (size_t)n;
            }
            h_sleep_ms(5);
        }
    }
    assert_true(shut);
    assert_true(fin);
    assert_int_equal(got, total);
    h_conn_close(c);
}

static void test_curl(void **state)
{
    char *out = NULL, *err = NULL;
    char *cmd;
    uint64_t t0;

    (void)state;
    cmd = h_fmt("curl -sS -D - 'http://127.0.0.1:%d/curl?body=hello&h=X-From:origin'",
                origin_port);
    assert_int_equal(h_run(cmd, &out, &err, H_TIMEOUT_MS), 0);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "X-From: origin\r\n"));
    assert_int_equal(strcmp(out + strlen(out) - 5, "hello"), 0);
    assert_string_equal(err, "");
    free(out);
    free(err);
    free(cmd);

    cmd = h_fmt("head -c 100000 /dev/zero | curl -sS -H 'Expect:' -T - 'http://127.0.0.1:%d/put'",
                origin_port);
    assert_int_equal(h_run(cmd, &out, NULL, H_TIMEOUT_MS), 0);
    assert_string_equal(out, "received 100000 sum 0\n");       /* chunked by curl */
    free(out);
    free(cmd);
    assert_int_equal(h_origin_count(origin_port, "/curl"), 1);

    /* exit codes, stderr, timeouts */
    assert_int_equal(h_run("echo oops >&2; exit 3", &out, &err, H_TIMEOUT_MS), 3);
    assert_string_equal(out, "");
    assert_string_equal(err, "oops\n");
    free(out);
    free(err);
    t0 = h_now_ms();
    assert_int_equal(h_run("sleep 5", NULL, NULL, 200), -1);
    assert_true(h_now_ms() - t0 < 2000);
    assert_int_equal(h_run("echo ${http_proxy:-none}", &out, NULL, H_TIMEOUT_MS), 0);
    assert_string_equal(out, "none\n");
    free(out);
}

static void test_harness_misc(void **state)
{
    char buf[1000];
    char *enc;
    uint64_t off;
    size_t n;

    (void)state;
    assert_true(h_free_port() > 0);
    assert_true(h_rss_kb(getpid()) > 0);
    assert_int_equal(h_rss_kb(-1), -1);
    for (off = 0; off < 80; off += 13)
        for (n = 0; n < sizeof buf; n += 97) {
            h_pattern_fill(buf, off, n);
            assert_int_equal(h_pattern_sum(off, n), h_sum(buf, n));
        }
    enc = h_pct_encode("a b/c%d~\r\n");
    assert_string_equal(enc, "a%20b%2Fc%25d~%0D%0A");
    free(enc);
}

/* A stand-in for larder: serves the configured port with fixture_echo. */
static char *write_stand_in(const char *dir)
{
    char *path = h_fmt("%s/fake-larder", dir);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n"
               "[ \"$1\" = --config ] || exit 2\n"
               "grep -q '^max_connections 7$' \"$2\" || exit 3\n"
               "grep -q '^access_log .*/access.log$' \"$2\" || exit 4\n"
               "if [ -n \"$STAND_IN_RACE\" ] && [ ! -e \"$STAND_IN_RACE\" ]; then\n"
               "    : > \"$STAND_IN_RACE\"\n"
               "    echo 'larder: cannot listen: Address already in use' >&2; exit 1\n"
               "fi\n"
               "port=$(sed -n 's/^listen 127\\.0\\.0\\.1://p' \"$2\")\n"
               "echo \"starting on $port\" >&2\n"
               "exec \"$STAND_IN_ECHO\" --port \"$port\"\n");
    fclose(f);
    chmod(path, 0755);
    return path;
}

/* Where the fixtures are: as the harness finds them. */
static char *fixture_dir(void)
{
    const char *env = getenv("LARDER_FIXTURE_DIR");
    char self[4096];
    ssize_t k;

    if (env && *env)
        return strdup(env);
    k = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(k > 0);
    self[k] = '\0';
    *strrchr(self, '/') = '\0';
    return strdup(self);
}

/* h_larder_start with a stand-in binary: config file, port wait, extra
 * environment, port-race retry, early-exit report, clean stop. */
static void test_larder_start_stop(void **state)
{
    struct fixtures *fx = *state;
    char tmpl[] = "/tmp/larder-fx-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *old = getenv("LARDER_BIN") ? strdup(getenv("LARDER_BIN")) : NULL;
    char *fdir = fixture_dir();
    char *env0 = h_fmt("STAND_IN_ECHO=%s/fixture_echo", fdir);
    char *race, *env1, *script, *conf, *want;
    const char *env[] = { env0, NULL };
    const char *race_env[] = { env0, NULL, NULL };
    struct h_proc *p;
    struct h_conn *c;
    char back[3];
    uint64_t t0;

    assert_non_null(dir);
    script = write_stand_in(dir);
    race = h_fmt("%s/race", dir);
    env1 = h_fmt("STAND_IN_RACE=%s", race);
    race_env[1] = env1;
    setenv("LARDER_BIN", script, 1);

    p = h_larder_start_env("max_connections 7", env);
    assert_non_null(p);
    assert_true(p->port > 0 && p->port != fx->echo->port);
    conf = h_read_file(p->config_path, NULL);
    assert_non_null(conf);
    want = h_fmt("listen 127.0.0.1:%d\naccess_log %s\nmax_connections 7\n", p->port,
                 p->access_log_path);
    assert_string_equal(conf, want);
    free(want);
    free(conf);
    c = h_conn_open(p->port);
    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, "abc"), 0);
    assert_int_equal(h_conn_read_exact(c, back, 3, H_TIMEOUT_MS), 0);
    h_conn_close(c);
    assert_true(h_rss_kb(p->pid) > 0);
    assert_int_equal(h_wait_file_contains(p->stderr_path, "starting on", H_TIMEOUT_MS), 0);
    assert_int_equal(h_proc_wait(p, 20), -2);      /* still running */
    assert_int_equal(h_larder_stop(p), 0);

    /* losing the free port to another process is retried on a new one */
    p = h_larder_start_env("max_connections 7", race_env);
    assert_non_null(p);
    assert_int_equal(access(race, F_OK), 0);       /* the first attempt failed */
    assert_int_equal(h_larder_stop(p), 0);

    /* a "larder" that refuses its config is reported quickly, not waited for */
    fprintf(stderr, "(an expected start failure follows)\n");
    t0 = h_now_ms();
    assert_null(h_larder_start_env("max_connections 8", env));
    assert_true(h_now_ms() - t0 < 5000);

    if (old)
        setenv("LARDER_BIN", old, 1);
    else
        unsetenv("LARDER_BIN");
    unlink(race);
    unlink(script);
    rmdir(dir);
    free(old);
    free(fdir);
    free(env0);
    free(env1);
    free(race);
    free(script);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_default_response, reset_origin),
        cmocka_unit_test_setup(test_status_reason_headers, reset_origin),
        cmocka_unit_test_setup(test_bodies, reset_origin),
        cmocka_unit_test_setup(test_dates, reset_origin),
        cmocka_unit_test_setup(test_chunked, reset_origin),
        cmocka_unit_test_setup(test_conditional_etag, reset_origin),
        cmocka_unit_test_setup(test_conditional_ims, reset_origin),
        cmocka_unit_test_setup(test_delay_drip_early_hints, reset_origin),
        cmocka_unit_test_setup(test_abort_and_reset, reset_origin),
        cmocka_unit_test_setup(test_head, reset_origin),
        cmocka_unit_test_setup(test_keepalive_and_stats, reset_origin),
        cmocka_unit_test_setup(test_pipelining, reset_origin),
        cmocka_unit_test_setup(test_control_api, reset_origin),
        cmocka_unit_test_setup(test_close_nolen_raw, reset_origin),
        cmocka_unit_test_setup(test_expect_continue, reset_origin),
        cmocka_unit_test_setup(test_big_streamed_body, reset_origin),
        cmocka_unit_test_setup(test_streamed_uploads, reset_origin),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_echo_backpressure),
        cmocka_unit_test_setup(test_curl, reset_origin),
        cmocka_unit_test(test_harness_misc),
        cmocka_unit_test(test_larder_start_stop),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
