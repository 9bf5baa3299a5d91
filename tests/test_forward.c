/* SPDX-License-Identifier: MIT */
/* test_forward.c - end-to-end tests of larder as a forward proxy (issue 2,
 * sections 4, 5, 7): the request head sent upstream, hop-by-hop fields,
 * Via, Max-Forwards, every method, bodies and framing both ways,
 * Expect/1xx, schemes, keep-alive, pipelining, the upstream pool and its
 * retry, upstream errors and timeouts, the client ACL, loops, limits.
 *
 * Each test checks what the client got and what fixture_origin received
 * (its /__log of request heads, /__body, /__stats). GETs carry
 * cc=no-store so the cache passes them through. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

/* <s> begins with string literal <lit> */
#define STARTS_WITH(s, lit) (strncmp((s), (lit), sizeof(lit) - 1) == 0)

/* <ms> stretched for a slow larder (LARDER_TEST_SLOW, see harness.h) */
#define SLOW(ms) ((uint64_t)(ms) * (uint64_t)h_slow())

#define VIA_NAME "larder-test"
#define VIA "1.1 " VIA_NAME
#define BASE_CONF "via_name " VIA_NAME "\n"

struct fx {
    struct h_proc *origin;
    struct h_proc *larder;        /* shared, default limits */
};

static int OP;                    /* origin port */
static int LP;                    /* shared larder's port */

static int group_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    if (!fx)
        return -1;
    *state = fx;
    fx->origin = h_origin_start();
    fx->larder = h_larder_start(BASE_CONF);
    if (!fx->origin || !fx->larder)
        return -1;
    OP = fx->origin->port;
    LP = fx->larder->port;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    /* exit 0 after SIGTERM: a clean shutdown, and no leaks under ASan */
    if (h_larder_stop(fx->larder) != 0)
        rc = -1;
    if (h_proc_stop(fx->origin) != 0)
        rc = -1;
    free(fx);
    return rc;
}

static int reset_origin(void **state)
{
    (void)state;
    return h_origin_reset(OP);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Starts a larder of the test's own (BASE_CONF + <conf>), or fails. */
static struct h_proc *own_larder(const char *conf)
{
    char *all = h_fmt("%s%s", BASE_CONF, conf ? conf : "");
    struct h_proc *p = h_larder_start(all);

    free(all);
    if (!p)
        fail_msg("larder did not start: %s", h_error());
    return p;
}

static void stop_larder(struct h_proc *p)
{
    assert_int_equal(h_larder_stop(p), 0);
}

/* One raw request on a new connection to <port>; fails on no response. */
static struct h_response *ask_port(int port, const char *raw)
{
    struct h_response *r = h_request(port, raw, H_TIMEOUT_MS);

    if (!r)
        fail_msg("no response to %.200s: %s", raw, h_error());
    return r;
}

static struct h_response *ask(const char *raw)
{
    return ask_port(LP, raw);
}

/* Sends <raw> on <c> and reads one response to <method>. */
static struct h_response *roundtrip(struct h_conn *c, const char *method, const char *raw)
{
    struct h_response *r = NULL;

    if (h_conn_send_str(c, raw) == 0)
        r = h_conn_read_response(c, method, H_TIMEOUT_MS);
    if (!r)
        fail_msg("no response to %.200s: %s", raw, h_error());
    return r;
}

static struct h_conn *conn_to(int port)
{
    struct h_conn *c = h_conn_open(port);

    if (!c)
        fail_msg("connect to %d: %s", port, h_error());
    return c;
}

/* The single request head the origin logged for <path>. */
static char *only_head(const char *path)
{
    char *log = h_origin_log(OP, path);
    char *head;

    assert_non_null(log);
    if (h_log_count(log) != 1)
        fail_msg("origin logged %zu requests for %s, expected 1:\n%s", h_log_count(log),
                 path, log);
    head = h_log_entry(log, 0);
    free(log);
    assert_non_null(head);
    return head;
}

static long origin_count(const char *path)
{
    long n = h_origin_count(OP, path);

    assert_true(n >= 0);
    return n;
}

static void origin_stats(long *conns, long *reqs)
{
    assert_int_equal(h_origin_stats(OP, conns, reqs), 0);
}

/* The origin has seen no connection and no request since its reset. */
static void assert_origin_untouched(void)
{
    long conns = -1, reqs = -1;

    origin_stats(&conns, &reqs);
    assert_int_equal(reqs, 0);
    assert_int_equal(conns, 0);
}

/* Every field line of <head> matches one of <fields> (NULL-terminated,
 * "Name: value") and the other way round, each used once; the start line
 * is <start>. Order is free except among lines with the same name, which
 * must keep the order given. */
static void assert_head_is(const char *head, const char *start, const char *const *fields)
{
    size_t nf = 0, i, k;
    const char *p, *eol;
    char **lines = NULL;
    size_t nlines = 0;

    while (fields[nf])
        nf++;
    eol = strstr(head, "\r\n");
    assert_non_null(eol);
    if (strlen(start) != (size_t)(eol - head) || strncmp(head, start, strlen(start)) != 0)
        fail_msg("start line is \"%.*s\", expected \"%s\"", (int)(eol - head), head, start);
    for (p = eol + 2; *p && strncmp(p, "\r\n", 2) != 0; p = eol + 2) {
        eol = strstr(p, "\r\n");
        assert_non_null(eol);
        lines = realloc(lines, (nlines + 1) * sizeof *lines);
        lines[nlines++] = strndup(p, (size_t)(eol - p));
    }
    assert_string_equal(p, "\r\n");    /* the head ends right there */
    for (i = 0; i < nf; i++) {
        for (k = 0; k < nlines; k++)
            if (lines[k] && strcmp(lines[k], fields[i]) == 0)
                break;
        if (k == nlines)
            fail_msg("field \"%s\" missing from head:\n%s", fields[i], head);
        /* same-name lines keep their order: none of that name before k */
        for (size_t j = 0; j < k; j++) {
            size_t n = strcspn(fields[i], ":");

            if (lines[j] && strncasecmp(lines[j], fields[i], n) == 0 && lines[j][n] == ':')
                fail_msg("field \"%s\" out of order in head:\n%s", fields[i], head);
        }
        free(lines[k]);
        lines[k] = NULL;
    }
    for (k = 0; k < nlines; k++)
        if (lines[k])
            fail_msg("unexpected field \"%s\" in head:\n%s", lines[k], head);
    free(lines);
}

/* A short HTML error page from larder with <status> and <reason_part>. */
static void assert_error_page(const struct h_response *r, int status, const char *reason_part)
{
    const char *type = h_header_get(r, "Content-Type");

    if (r->status != status)
        fail_msg("status %d, expected %d; head:\n%s\nbody:\n%s", r->status, status, r->head,
                 r->body ? r->body : "");
    assert_true(r->complete);
    assert_non_null(type);
    assert_true(strncasecmp(type, "text/html", 9) == 0);
    assert_true(r->body_len > 0 && r->body_len < 2048);
    assert_non_null(strcasestr(r->body, "<html"));
    {
        char *code = h_fmt("%d", status);

        assert_non_null(strstr(r->body, code));
        free(code);
    }
    if (reason_part && !strcasestr(r->body, reason_part))
        fail_msg("error page lacks \"%s\":\n%s", reason_part, r->body);
}

/* The connection ends (FIN or RST) within a few seconds, with nothing more. */
static void assert_closes(struct h_conn *c)
{
    size_t n = 0;
    char *rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);

    if (!(c->eof || c->reset))
        fail_msg("connection still open");
    if (n != 0)
        fail_msg("%zu unexpected bytes before close: %.200s", n, rest);
    free(rest);
}

/* "received <n> sum <sum>\n" for pattern bytes [0, n) */
static char *received_line(uint64_t n)
{
    return h_fmt("received %llu sum %u\n", (unsigned long long)n,
                 (unsigned)h_pattern_sum(0, n));
}

/* Absolute-form request to the origin with a literal body. */
static char *req_body(const char *method, const char *path, const char *extra,
                      const char *body)
{
    char *hdr = h_fmt("%sContent-Length: %zu\r\n", extra ? extra : "", strlen(body));
    char *head = h_req(method, OP, path, hdr);
    char *all = h_fmt("%s%s", head, body);

    free(hdr);
    free(head);
    return all;
}

/* ------------------------------------------------------------------ */
/* The request head sent upstream                                      */

static void test_origin_form_and_host_from_uri(void **state)
{
    struct h_response *r;
    char *raw, *head, *host, *start;
    const char *fields[5];

    (void)state;
    /* a client Host that disagrees with the URI is replaced */
    raw = h_fmt("GET http://127.0.0.1:%d/of/a?x=1&cc=no-store HTTP/1.1\r\n"
                "Host: wrong.example:81\r\nUser-Agent: t/1\r\nX-Latin: caf\xe9 \"q\"\r\n\r\n",
                OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /of/a version 0\n");
    head = only_head("/of/a");
    host = h_fmt("Host: 127.0.0.1:%d", OP);
    fields[0] = host;
    fields[1] = "User-Agent: t/1";
    fields[2] = "X-Latin: caf\xe9 \"q\"";  /* obs-text passes as is */
    fields[3] = "Via: " VIA;
    fields[4] = NULL;
    assert_head_is(head, "GET /of/a?x=1&cc=no-store HTTP/1.1", fields);
    free(head);
    free(raw);
    h_response_free(r);

    /* no path: "/" */
    raw = h_fmt("POST http://127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Length: 0\r\n\r\n", OP, OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/");
    assert_true(STARTS_WITH(head, "POST / HTTP/1.1\r\n"));
    {
        /* an empty body is still announced: the origin must not wait */
        char *cl = h_head_field(head, "Content-Length");

        assert_non_null(cl);
        assert_string_equal(cl, "0");
        free(cl);
    }
    free(head);
    free(raw);
    h_response_free(r);

    /* query without a path: "/?q" */
    raw = h_fmt("GET http://127.0.0.1:%d?cc=no-store HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                OP, OP);
    h_origin_reset(OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/");
    assert_true(STARTS_WITH(head, "GET /?cc=no-store HTTP/1.1\r\n"));
    free(head);
    free(raw);
    h_response_free(r);

    /* Host is the URI's authority as written (a name here), exactly once;
     * an HTTP/1.0 request without Host gets one */
    raw = h_fmt("POST http://localhost:%d/of/b HTTP/1.0\r\nContent-Length: 0\r\n\r\n", OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/of/b");
    start = h_fmt("localhost:%d", OP);
    assert_int_equal(h_head_field_count(head, "Host"), 1);
    {
        char *v = h_head_field(head, "Host");

        assert_string_equal(v, start);
        free(v);
    }
    assert_true(STARTS_WITH(head, "POST /of/b HTTP/1.1\r\n"));
    free(start);
    free(head);
    free(raw);
    h_response_free(r);

    /* the scheme and host are case-insensitive; the path and query go on
     * byte for byte, percent-encoding and all */
    raw = h_fmt("POST HTTP://127.0.0.1:%d/of/a%%20b;p=1/%%7E/%%2f?q=%%2F%%3F&r=a+b&& HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n", OP, OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/of/a%20b;p=1/%7E/%2f");
    assert_true(STARTS_WITH(head, "POST /of/a%20b;p=1/%7E/%2f?q=%2F%3F&r=a+b&& HTTP/1.1\r\n"));
    assert_int_equal(h_head_field_count(head, "Host"), 1);
    {
        char *v = h_head_field(head, "Host");

        assert_string_equal(v, host + 6);
        free(v);
    }
    free(head);
    free(raw);
    h_response_free(r);
    free(host);
}

static void test_hop_by_hop_request_fields_removed(void **state)
{
    struct h_response *r;
    char *raw, *head, *host;
    const char *fields[7];

    (void)state;
    raw = h_fmt("POST http://127.0.0.1:%d/hbh HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\n"
                "Connection: keep-alive, X-Foo\r\n"
                "X-Foo: named by Connection\r\n"
                "connection: x-bar\r\n"
                "X-Bar: named by the second Connection line\r\n"
                "Keep-Alive: timeout=5\r\n"
                "Proxy-Connection: keep-alive\r\n"
                "Proxy-Authorization: Basic eDp5\r\n"
                "Proxy-Authenticate: Basic\r\n"
                "TE: trailers\r\n"
                "Trailer: X-T\r\n"
                "Upgrade: h2c\r\n"
                "X-Keep: yes\r\n"
                "X-Multi: 1\r\n"
                "X-Multi: 2\r\n"
                "Content-Length: 3\r\n\r\nabc", OP, OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "received 3 sum 294\n");
    head = only_head("/hbh");
    host = h_fmt("Host: 127.0.0.1:%d", OP);
    fields[0] = host;
    fields[1] = "X-Keep: yes";
    fields[2] = "X-Multi: 1";
    fields[3] = "X-Multi: 2";
    fields[4] = "Via: " VIA;
    fields[5] = "Content-Length: 3";
    fields[6] = NULL;
    assert_head_is(head, "POST /hbh HTTP/1.1", fields);
    free(head);
    free(raw);
    h_response_free(r);

    /* the same on the cache's path (GET) */
    raw = h_fmt("GET http://127.0.0.1:%d/hbh-get?cc=no-store HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\nConnection: X-Foo\r\nX-Foo: 1\r\n"
                "Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n"
                "Keep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Keep: yes\r\n\r\n", OP, OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/hbh-get");
    fields[0] = host;
    fields[1] = "X-Keep: yes";
    fields[2] = "Via: " VIA;
    fields[3] = NULL;
    assert_head_is(head, "GET /hbh-get?cc=no-store HTTP/1.1", fields);
    free(head);
    free(raw);
    h_response_free(r);
    free(host);
}

static void test_hop_by_hop_response_fields_removed(void **state)
{
    static const char *const gone[] = {
        "X-R", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Upgrade",
        "Trailer", "TE", "Proxy-Connection", NULL
    };
    const char *methods[2] = { "POST", "GET" };

    (void)state;
    for (int i = 0; i < 2; i++) {
        struct h_conn *c = conn_to(LP);
        char *raw = h_req(methods[i], OP,
                          "/hbr?cc=no-store&len=1000&h=Connection:X-R&h=X-R:1"
                          "&h=Keep-Alive:timeout%3D5&h=Proxy-Authenticate:Basic"
                          "&h=Proxy-Authorization:Basic%20eDp5"
                          "&h=Upgrade:h2c&h=Trailer:X-T&h=TE:trailers"
                          "&h=Proxy-Connection:keep-alive&h=X-Stay:1",
                          i == 0 ? "Content-Length: 0\r\n" : NULL);
        struct h_response *r = roundtrip(c, methods[i], raw);
        const char *conn;

        assert_int_equal(r->status, 200);
        assert_true(r->complete);
        assert_int_equal(r->body_len, 1000);
        assert_int_equal(h_pattern_mismatch(r->body, 0, 1000), 1000);
        for (const char *const *g = gone; *g; g++)
            if (h_header_get(r, *g))
                fail_msg("%s: hop-by-hop \"%s\" reached the client:\n%s", methods[i], *g,
                         r->head);
        assert_string_equal(h_header_get(r, "X-Stay"), "1");
        assert_int_equal(h_header_count(r, "Via"), 1);
        assert_string_equal(h_header_get(r, "Via"), VIA);
        conn = h_header_get(r, "Connection");
        assert_true(conn == NULL || strcasestr(conn, "X-R") == NULL);
        /* still a keep-alive connection: larder's, not the origin's say */
        h_response_free(r);
        r = roundtrip(c, methods[i], raw);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        free(raw);
        h_conn_close(c);
    }
}

/* ------------------------------------------------------------------ */
/* Via                                                                 */

/* All Via values of a head, joined with ", ". */
static char *via_list_head(const char *head)
{
    char *all = strdup("");
    const char *p = head;

    for (;;) {
        const char *line = strcasestr(p, "\r\nVia:");
        const char *v, *e;
        char *next;

        if (!line)
            break;
        v = line + 6;
        while (*v == ' ')
            v++;
        e = strstr(v, "\r\n");
        next = h_fmt("%s%s%.*s", all, *all ? ", " : "", (int)(e - v), v);
        free(all);
        all = next;
        p = e;
    }
    return all;
}

static void test_via_added_both_ways(void **state)
{
    struct h_response *r;
    char *raw, *head, *via;

    (void)state;
    /* request: appended after the client's own Via */
    raw = req_body("POST", "/via1", "Via: 1.0 alpha\r\n", "x");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/via1");
    via = via_list_head(head);
    assert_string_equal(via, "1.0 alpha, " VIA);
    free(via);
    free(head);
    free(raw);
    h_response_free(r);

    /* an HTTP/1.0 client's request is received as 1.0 */
    raw = h_fmt("POST http://127.0.0.1:%d/via2 HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    head = only_head("/via2");
    via = via_list_head(head);
    assert_string_equal(via, "1.0 " VIA_NAME);
    free(via);
    free(head);
    free(raw);
    h_response_free(r);

    /* response: appended after the origin's Via */
    raw = req_body("POST", "/via3?h=Via:1.1%20upstream", NULL, "");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    via = via_list_head(r->head);
    assert_string_equal(via, "1.1 upstream, " VIA);
    free(via);
    free(raw);
    h_response_free(r);

    /* a response received as HTTP/1.0 */
    {
        char *rawresp = h_pct_encode("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        char *path = h_fmt("/via4?cc=no-store&close=1&raw=%s", rawresp);

        raw = h_req("GET", OP, path, NULL);
        r = ask(raw);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, "ok");
        via = via_list_head(r->head);
        assert_string_equal(via, "1.0 " VIA_NAME);
        free(via);
        free(raw);
        free(path);
        free(rawresp);
        h_response_free(r);
    }
}

static void test_via_default_name_is_host_name(void **state)
{
    struct h_proc *l = h_larder_start(NULL);   /* no via_name */
    char host[256] = "";
    char *raw, *head, *via, *want;
    struct h_response *r;

    (void)state;
    assert_non_null(l);
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    raw = req_body("POST", "/via-default", NULL, "");
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    want = h_fmt("1.1 %s", host);
    head = only_head("/via-default");
    via = via_list_head(head);
    assert_string_equal(via, want);
    free(via);
    via = via_list_head(r->head);
    assert_string_equal(via, want);
    free(via);
    free(want);
    free(head);
    free(raw);
    h_response_free(r);
    stop_larder(l);
}

static void test_via_loop_refused(void **state)
{
    static const char *const vias[] = {
        "Via: 1.1 " VIA_NAME "\r\n",
        "Via: 1.0 other, 1.1 " VIA_NAME " (larder/0.1)\r\n",
        "Via: 1.0 other\r\nVia: 1.1 " VIA_NAME "\r\n",
        NULL
    };

    (void)state;
    for (const char *const *v = vias; *v; v++) {
        char *raw = h_req("GET", OP, "/vloop?cc=no-store", *v);
        struct h_response *r = ask(raw);

        assert_error_page(r, 403, "loop");
        h_response_free(r);
        free(raw);
    }
    assert_origin_untouched();
}

/* ------------------------------------------------------------------ */
/* Max-Forwards                                                        */

static void test_max_forwards_zero_answered_by_larder(void **state)
{
    struct h_response *r;
    char *raw, *want;

    (void)state;
    raw = h_req("OPTIONS", OP, "/mf0", "Max-Forwards: 0\r\n");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_non_null(h_header_get(r, "Allow"));
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
    free(raw);

    raw = h_req("TRACE", OP, "/mf0", "Max-Forwards: 0\r\nX-Trace: 1\r\n");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_non_null(h_header_get(r, "Content-Type"));
    assert_true(strncasecmp(h_header_get(r, "Content-Type"), "message/http", 12) == 0);
    want = h_fmt("TRACE http://127.0.0.1:%d/mf0 HTTP/1.1\r\n", OP);
    assert_true(strncmp(r->body, want, strlen(want)) == 0);
    assert_non_null(strstr(r->body, "\r\nX-Trace: 1\r\n"));
    free(want);
    h_response_free(r);
    free(raw);

    assert_origin_untouched();
}

static void test_max_forwards_decremented(void **state)
{
    struct {
        const char *method, *path, *mf, *want;
    } cases[] = {
        { "OPTIONS", "/mf-o3", "3", "2" },
        { "TRACE", "/mf-t1", "1", "0" },
        { "OPTIONS", "/mf-none", NULL, NULL },
        { "TRACE", "/mf-none-t", NULL, NULL },
        /* capped, then decremented (RFC 9110 7.6.2: the lesser of the two) */
        { "TRACE", "/mf-huge", "99999999999999999999999", "255" },
        /* a list, or several lines: the strictest value counts */
        { "OPTIONS", "/mf-list", "7, 3", "2" },
        { "TRACE", "/mf-lines", "7\r\nMax-Forwards: 4", "3" },
        /* not a number: not passed on unread */
        { "TRACE", "/mf-neg", "-1", NULL },
        { "OPTIONS", "/mf-junk", "5x", NULL },
        { "OPTIONS", "/mf-part", "5, x", NULL },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *extra = cases[i].mf ? h_fmt("Max-Forwards: %s\r\n", cases[i].mf) : NULL;
        char *raw = h_req(cases[i].method, OP, cases[i].path, extra);
        struct h_response *r = ask(raw);
        char *head, *line;

        assert_int_equal(r->status, 200);
        assert_string_equal(h_header_get(r, "Via"), VIA);
        head = only_head(cases[i].path);
        line = h_fmt("%s %s HTTP/1.1\r\n", cases[i].method, cases[i].path);
        assert_true(strncmp(head, line, strlen(line)) == 0);
        if (cases[i].want) {
            char *v = h_head_field(head, "Max-Forwards");

            assert_int_equal(h_head_field_count(head, "Max-Forwards"), 1);
            assert_string_equal(v, cases[i].want);
            free(v);
        } else {
            assert_int_equal(h_head_field_count(head, "Max-Forwards"), 0);
        }
        free(line);
        free(head);
        free(raw);
        free(extra);
        h_response_free(r);
    }
}

/* Max-Forwards 0 anywhere in a list or on any line stops the request
 * here; OPTIONS for an absolute URI without a path asks about the server
 * and goes out in asterisk-form (RFC 9112 3.2.4). */
static void test_max_forwards_least_and_options_asterisk(void **state)
{
    struct h_response *r;
    char *raw, *log;

    (void)state;
    raw = h_req("OPTIONS", OP, "/mf-z", "Max-Forwards: 5\r\nMax-Forwards: 0\r\n");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_non_null(h_header_get(r, "Allow"));
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/mf-z"), 0);

    raw = h_fmt("OPTIONS http://127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", OP, OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    log = h_origin_log(OP, "*");
    assert_non_null(log);
    if (strncmp(log, "OPTIONS * HTTP/1.1\r\n", 20) != 0)
        fail_msg("the origin received:\n%s", log);
    free(log);
    /* with a query there is a path: "/?q" */
    raw = h_fmt("OPTIONS http://127.0.0.1:%d?q HTTP/1.1\r\nHost: x\r\n\r\n", OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    log = h_origin_log(OP, "/");
    assert_non_null(log);
    assert_non_null(strstr(log, "OPTIONS /?q HTTP/1.1\r\n"));
    free(log);
}

/* Field names that servers read as the framing fields ("Content_Length")
 * never reach the origin next to larder's own framing. */
static void test_underscored_framing_names_dropped(void **state)
{
    char *raw = h_fmt("POST http://127.0.0.1:%d/us HTTP/1.1\r\nHost: x\r\n"
                      "Content_Length: 50\r\nTRANSFER_ENCODING: chunked\r\n"
                      "Content-Length: 2\r\nX_Other: kept\r\n\r\nok", OP);
    struct h_response *r = ask(raw);
    char *head;

    (void)state;
    assert_int_equal(r->status, 200);
    head = only_head("/us");
    if (strstr(head, "Content_Length") || strstr(head, "TRANSFER_ENCODING") ||
        !strstr(head, "X_Other: kept\r\n") || !strstr(head, "Content-Length: 2\r\n"))
        fail_msg("the origin received:\n%s", head);
    free(head);
    h_response_free(r);
    free(raw);
}

/* A response that comes without Date is dated by larder, forwarded or
 * stored (RFC 9110 6.6.1), and hits carry that Date. */
static void test_date_added_when_missing(void **state)
{
    const char *paths[] = { "/nd?nodate=1&cc=no-store", "/ndc?nodate=1&cc=max-age%3D60" };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            char *raw = h_req("GET", OP, paths[i], NULL);
            struct h_response *r = ask(raw);

            assert_int_equal(r->status, 200);
            if (h_header_count(r, "Date") != 1)
                fail_msg("%s (%d): %zu Date fields:\n%s", paths[i], k, h_header_count(r, "Date"),
                         r->head);
            h_response_free(r);
            free(raw);
        }
    }
    assert_int_equal(origin_count("/ndc"), 1);
}

/* ------------------------------------------------------------------ */
/* Methods and bodies                                                  */

static void test_every_method(void **state)
{
    static const char *const bodyless[] = {
        "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "BREW", "X_Y.Z-1!", NULL
    };
    static const char *const with_body[] = { "POST", "PUT", "PATCH", "REPORT", NULL };
    struct h_conn *c = conn_to(LP);

    (void)state;
    /* all on one client connection */
    for (const char *const *m = bodyless; *m; m++) {
        char *path = h_fmt("/m/%s", *m);
        char *target = h_fmt("%s?cc=no-store", path);
        char *raw = h_req(*m, OP, target, NULL);
        struct h_response *r = roundtrip(c, *m, raw);
        char *head = only_head(path);
        char *line = h_fmt("%s %s HTTP/1.1\r\n", *m, target);
        char *body = h_fmt("origin %s version 0\n", path);

        if (r->status != 200)
            fail_msg("%s: status %d", *m, r->status);
        assert_true(strncmp(head, line, strlen(line)) == 0);
        assert_int_equal(h_head_field_count(head, "Content-Length"), 0);
        assert_int_equal(h_head_field_count(head, "Transfer-Encoding"), 0);
        if (strcmp(*m, "HEAD") == 0) {
            char *cl = h_fmt("%zu", strlen(body));

            assert_int_equal(r->body_len, 0);
            assert_string_equal(h_header_get(r, "Content-Length"), cl);
            free(cl);
        } else {
            assert_string_equal(r->body, body);
        }
        free(body);
        free(line);
        free(head);
        free(raw);
        free(target);
        free(path);
        h_response_free(r);
    }
    for (const char *const *m = with_body; *m; m++) {
        char *path = h_fmt("/mb/%s", *m);
        char *data = h_fmt("body of %s", *m);
        char *raw = req_body(*m, path, NULL, data);
        struct h_response *r = roundtrip(c, *m, raw);
        char *head = only_head(path);
        char *line = h_fmt("%s %s HTTP/1.1\r\n", *m, path);
        char *want = h_fmt("received %zu sum %u\n", strlen(data), h_sum(data, strlen(data)));
        char *cl = h_fmt("%zu", strlen(data));
        char *got_cl = h_head_field(head, "Content-Length");
        size_t blen = 0;
        char *got = h_origin_body(OP, path, &blen);

        if (r->status != 200)
            fail_msg("%s: status %d", *m, r->status);
        assert_true(strncmp(head, line, strlen(line)) == 0);
        assert_string_equal(got_cl, cl);
        assert_string_equal(r->body, want);
        assert_int_equal(blen, strlen(data));
        assert_memory_equal(got, data, blen);
        free(got);
        free(got_cl);
        free(cl);
        free(want);
        free(line);
        free(head);
        free(raw);
        free(data);
        free(path);
        h_response_free(r);
    }
    h_conn_close(c);
}

static void test_request_body_content_length(void **state)
{
    const size_t n = 300 * 1024;  /* past larder's 256 KiB queue mark */
    struct h_conn *c = conn_to(LP);
    char *head = h_fmt("PUT http://127.0.0.1:%d/rb-cl HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Content-Length: %zu\r\n\r\n", OP, OP, n);
    struct h_response *r;
    char *got, *want, *cl;
    size_t blen = 0;

    (void)state;
    assert_int_equal(h_conn_send_str(c, head), 0);
    assert_int_equal(h_conn_send_pattern(c, 0, n, 0), 0);
    r = h_conn_read_response(c, "PUT", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    want = received_line(n);
    assert_string_equal(r->body, want);
    free(head);
    head = only_head("/rb-cl");
    cl = h_head_field(head, "Content-Length");
    assert_string_equal(cl, "307200");
    assert_int_equal(h_head_field_count(head, "Transfer-Encoding"), 0);
    got = h_origin_body(OP, "/rb-cl", &blen);
    assert_int_equal(blen, n);
    assert_int_equal(h_pattern_mismatch(got, 0, n), n);
    free(got);
    free(cl);
    free(want);
    free(head);
    h_response_free(r);
    h_conn_close(c);
}

static void test_request_body_chunked(void **state)
{
    const size_t n = 200000;
    struct h_conn *c = conn_to(LP);
    char *head = h_fmt("POST http://127.0.0.1:%d/rb-ch HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n", OP, OP);
    struct h_response *r;
    char *got, *want, *logged;
    size_t blen = 0;

    (void)state;
    /* big, in odd chunk sizes */
    assert_int_equal(h_conn_send_str(c, head), 0);
    assert_int_equal(h_conn_send_pattern(c, 0, n, 4093), 0);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    want = received_line(n);
    assert_string_equal(r->body, want);
    free(want);
    h_response_free(r);
    logged = only_head("/rb-ch");
    assert_int_equal(h_head_field_count(logged, "Content-Length"), 0);
    assert_int_equal(h_head_field_count(logged, "Transfer-Encoding"), 1);
    {
        char *te = h_head_field(logged, "Transfer-Encoding");

        assert_string_equal(te, "chunked");
        free(te);
    }
    free(logged);
    got = h_origin_body(OP, "/rb-ch", &blen);
    assert_int_equal(blen, n);
    assert_int_equal(h_pattern_mismatch(got, 0, n), n);
    free(got);
    free(head);

    /* extensions and trailers are consumed; the decoded bytes go on, and
     * the connection goes on after the body */
    h_origin_reset(OP);
    head = h_fmt("POST http://127.0.0.1:%d/rb-ext HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "3;a=b\r\nabc\r\n1A ; x = \"y\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                 "0\r\nX-Trailer: 1\r\n\r\n", OP, OP);
    r = roundtrip(c, "POST", head);
    assert_int_equal(r->status, 200);
    want = h_fmt("received 29 sum %u\n",
                 h_sum("abcabcdefghijklmnopqrstuvwxyz", 29));
    assert_string_equal(r->body, want);
    free(want);
    got = h_origin_body(OP, "/rb-ext", &blen);
    assert_int_equal(blen, 29);
    assert_memory_equal(got, "abcabcdefghijklmnopqrstuvwxyz", 29);
    free(got);
    h_response_free(r);
    free(head);

    /* an empty chunked body is still chunked upstream */
    head = h_fmt("POST http://127.0.0.1:%d/rb-empty HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", OP, OP);
    r = roundtrip(c, "POST", head);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "received 0 sum 0\n");
    logged = only_head("/rb-empty");
    assert_int_equal(h_head_field_count(logged, "Transfer-Encoding"), 1);
    assert_int_equal(h_head_field_count(logged, "Content-Length"), 0);
    free(logged);
    h_response_free(r);
    free(head);
    h_conn_close(c);
}

/* One response to <method> <path> with the client's <version>, checked as
 * <mode>: 'L' Content-Length, 'C' chunked, 'E' ends at close. The body is
 * <n> pattern bytes. Returns the connection state: 1 if still usable. */
static int check_framing(struct h_conn *c, const char *method, const char *path,
                         const char *version, const char *extra, uint64_t n, char mode)
{
    char *raw = h_fmt("%s http://127.0.0.1:%d%s %s\r\nHost: 127.0.0.1:%d\r\n%s%s\r\n",
                      method, OP, path, version, OP, extra ? extra : "",
                      strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
    struct h_response *r = roundtrip(c, method, raw);
    int open;

    if (r->status != 200 || !r->complete)
        fail_msg("%s %s %s: status %d, complete %d", method, path, version, r->status,
                 r->complete);
    assert_int_equal(r->body_len, n);
    assert_int_equal(h_pattern_mismatch(r->body, 0, (size_t)n), (size_t)n);
    switch (mode) {
    case 'L':
        assert_false(r->chunked);
        assert_non_null(h_header_get(r, "Content-Length"));
        assert_null(h_header_get(r, "Transfer-Encoding"));
        break;
    case 'C':
        assert_true(r->chunked);
        assert_null(h_header_get(r, "Content-Length"));
        assert_int_equal(h_header_count(r, "Transfer-Encoding"), 1);
        assert_string_equal(h_header_get(r, "Transfer-Encoding"), "chunked");
        break;
    default:
        assert_false(r->chunked);
        assert_null(h_header_get(r, "Content-Length"));
        assert_null(h_header_get(r, "Transfer-Encoding"));
        assert_true(c->eof);
        assert_false(c->reset);
        break;
    }
    open = !c->eof && !c->reset;
    h_response_free(r);
    free(raw);
    return open;
}

static void test_response_framing(void **state)
{
    static const char *const methods[] = { "GET", "POST", NULL };
    struct h_conn *c;

    (void)state;
    for (const char *const *m = methods; *m; m++) {
        /* HTTP/1.1: Content-Length kept; chunked stays chunked; a body that
         * ends at the origin's close is re-framed chunked, keeping the
         * client's connection */
        c = conn_to(LP);
        assert_true(check_framing(c, *m, "/fr-l?cc=no-store&len=100000", "HTTP/1.1", NULL,
                                  100000, 'L'));
        assert_true(check_framing(c, *m, "/fr-c?cc=no-store&len=100000&chunked=1&chunk=999",
                                  "HTTP/1.1", NULL, 100000, 'C'));
        assert_true(check_framing(c, *m, "/fr-e?cc=no-store&len=70000&nolen=1", "HTTP/1.1",
                                  NULL, 70000, 'C'));
        assert_true(check_framing(c, *m, "/fr-l2?cc=no-store&len=10", "HTTP/1.1", NULL, 10,
                                  'L'));
        h_conn_close(c);

        /* HTTP/1.0: never chunked; an unknown length ends at close, even
         * when the client asked for keep-alive */
        c = conn_to(LP);
        assert_false(check_framing(c, *m, "/fr10-c?cc=no-store&len=50000&chunked=1",
                                   "HTTP/1.0", NULL, 50000, 'E'));
        h_conn_close(c);
        c = conn_to(LP);
        assert_false(check_framing(c, *m, "/fr10-c?cc=no-store&len=50000&chunked=1",
                                   "HTTP/1.0", "Connection: keep-alive\r\n", 50000, 'E'));
        h_conn_close(c);
        c = conn_to(LP);
        assert_false(check_framing(c, *m, "/fr10-e?cc=no-store&len=5000&nolen=1",
                                   "HTTP/1.0", "Connection: keep-alive\r\n", 5000, 'E'));
        h_conn_close(c);
        c = conn_to(LP);
        assert_true(check_framing(c, *m, "/fr10-l?cc=no-store&len=5000", "HTTP/1.0",
                                  "Connection: keep-alive\r\n", 5000, 'L'));
        assert_true(check_framing(c, *m, "/fr10-l?cc=no-store&len=5", "HTTP/1.0",
                                  "Connection: keep-alive\r\n", 5, 'L'));
        h_conn_close(c);
    }
}

static void test_bodyless_responses(void **state)
{
    struct h_conn *c = conn_to(LP);
    struct h_response *r;
    char *raw;

    (void)state;
    /* 204: no body, and the connection goes on */
    raw = req_body("POST", "/nb204?status=204", NULL, "x");
    r = roundtrip(c, "POST", raw);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);
    assert_null(h_header_get(r, "Transfer-Encoding"));
    h_response_free(r);
    free(raw);

    /* HEAD: the origin's Content-Length describes the GET; no body */
    raw = h_req("HEAD", OP, "/nbhead?cc=no-store&len=5000", NULL);
    r = roundtrip(c, "HEAD", raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(h_header_get(r, "Content-Length"), "5000");
    h_response_free(r);
    free(raw);
    raw = h_req("HEAD", OP, "/nbhead-ch?cc=no-store&len=5000&chunked=1", NULL);
    r = roundtrip(c, "HEAD", raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);

    /* had any body bytes been sent, they would be read as this response */
    raw = req_body("POST", "/nb-after", NULL, "");
    r = roundtrip(c, "POST", raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "received 0 sum 0\n");
    h_response_free(r);
    free(raw);
    h_conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Expect and 1xx                                                      */

static void test_expect_100_continue(void **state)
{
    struct h_conn *c = conn_to(LP);
    char *head = h_fmt("POST http://127.0.0.1:%d/ec?continue=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n", OP, OP);
    struct h_response *r;

    (void)state;
    assert_int_equal(h_conn_send_str(c, head), 0);
    /* the body is not sent until the 100 arrives */
    r = h_conn_read_interim(c, H_TIMEOUT_MS);
    if (!r)
        fail_msg("no 100 Continue before the body: %s", h_error());
    assert_int_equal(r->status, 100);
    h_response_free(r);
    assert_int_equal(h_conn_send_str(c, "0123456789"), 0);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    {
        char *want = h_fmt("received 10 sum %u\n", h_sum("0123456789", 10));

        assert_string_equal(r->body, want);
        free(want);
    }
    h_response_free(r);
    free(head);
    h_conn_close(c);
}

static void test_interim_forwarded_to_http11_only(void **state)
{
    struct h_response *r;
    char *raw;

    (void)state;
    raw = req_body("POST", "/eh?early_hints=1", NULL, "x");
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->ninterim, 1);
    assert_int_equal(r->interim[0], 103);
    assert_non_null(strstr(r->interim_heads, "Link: </style.css>; rel=preload\r\n"));
    h_response_free(r);
    free(raw);

    /* HTTP/1.0: no 1xx at all, neither 103 nor 100 */
    raw = h_fmt("POST http://127.0.0.1:%d/eh?early_hints=1 HTTP/1.0\r\n"
                "Content-Length: 1\r\n\r\nx", OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->ninterim, 0);
    h_response_free(r);
    free(raw);
    raw = h_fmt("POST http://127.0.0.1:%d/ec10?continue=1 HTTP/1.0\r\n"
                "Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx", OP);
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->ninterim, 0);
    assert_string_equal(r->body, "received 1 sum 120\n");
    h_response_free(r);
    free(raw);
}

/* Every 1xx but 101 is forwarded (RFC 9110 15.2), with its fields and its
 * reason phrase, in order, before the final response. */
static void test_interim_any_1xx_forwarded(void **state)
{
    static const char raw_resp[] =
        "HTTP/1.1 102 Processing\r\n\r\n"
        "HTTP/1.1 199 Something New\r\nX-Progress: 50\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char *enc = h_pct_encode(raw_resp), *path = h_fmt("/any1xx?raw=%s", enc);
    char *raw = h_req("GET", OP, path, NULL);
    struct h_response *r = ask(raw);

    (void)state;
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok");
    if (r->ninterim != 2 || r->interim[0] != 102 || r->interim[1] != 199)
        fail_msg("expected 102 then 199, got %zu interim responses:\n%s", r->ninterim,
                 r->interim_heads);
    assert_non_null(strstr(r->interim_heads, "HTTP/1.1 102 Processing\r\n"));
    assert_non_null(strstr(r->interim_heads, "HTTP/1.1 199 Something New\r\nX-Progress: 50\r\n"));
    h_response_free(r);
    free(raw);
    free(path);
    free(enc);
}

/* The same for a GET, which goes through the cache's fetch. */
static void test_interim_103_on_get(void **state)
{
    char *raw = h_req("GET", OP, "/eh-get?cc=no-store&early_hints=1", NULL);
    struct h_response *r = ask(raw);

    (void)state;
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /eh-get version 0\n");
    if (r->ninterim != 1 || r->interim[0] != 103)
        fail_msg("GET: expected one 103 before the 200, got %zu interim responses", r->ninterim);
    assert_non_null(strstr(r->interim_heads, "Link: </style.css>; rel=preload\r\n"));
    h_response_free(r);
    free(raw);
}

/* ------------------------------------------------------------------ */
/* Schemes                                                             */

static void test_other_schemes_501(void **state)
{
    const char *fmts[] = {
        "GET ftp://127.0.0.1:%d/f HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET https://127.0.0.1:%d/s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET file://localhost/etc/passwd?%d HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET file:///etc/passwd?%d HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "POST gopher://127.0.0.1:%d/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        NULL
    };

    (void)state;
    for (const char **f = fmts; *f; f++) {
        char *raw = h_fmt(*f, OP);
        struct h_response *r = ask(raw);

        if (r->status != 501)
            fail_msg("%.60s: status %d, expected 501", raw, r->status);
        assert_error_page(r, 501, NULL);
        h_response_free(r);
        free(raw);
    }
    assert_origin_untouched();
}

/* ------------------------------------------------------------------ */
/* Client connections                                                  */

static void test_pipelined_requests_answered_in_order(void **state)
{
    struct h_conn *c = conn_to(LP);
    char *reqs[6];
    struct h_response *r;
    char *all;

    (void)state;
    /* slow first, fast later: answers must still come in request order */
    reqs[0] = h_req("GET", OP, "/pl1?cc=no-store&delay_ms=600", NULL);
    reqs[1] = req_body("POST", "/pl2", NULL, "hello");
    reqs[2] = h_req("GET", OP, "/pl3?cc=no-store&delay_ms=200&chunked=1", NULL);
    reqs[3] = h_req("HEAD", OP, "/pl4?cc=no-store", NULL);
    reqs[4] = h_fmt("POST http://127.0.0.1:%d/pl5 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", OP, OP);
    reqs[5] = h_req("GET", OP, "/pl6?cc=no-store", NULL);
    all = h_fmt("%s%s%s%s%s%s", reqs[0], reqs[1], reqs[2], reqs[3], reqs[4], reqs[5]);
    assert_int_equal(h_conn_send_str(c, all), 0);

    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "origin /pl1 version 0\n");
    h_response_free(r);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "received 5 sum 532\n");
    h_response_free(r);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "origin /pl3 version 0\n");
    h_response_free(r);
    r = h_conn_read_response(c, "HEAD", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "received 2 sum 209\n");
    h_response_free(r);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "origin /pl6 version 0\n");
    h_response_free(r);

    /* each reached the origin once; the connection is still open */
    assert_int_equal(origin_count("/pl1"), 1);
    assert_int_equal(origin_count("/pl2"), 1);
    assert_int_equal(origin_count("/pl5"), 1);
    r = roundtrip(c, "GET", reqs[5]);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    for (int i = 0; i < 6; i++)
        free(reqs[i]);
    free(all);
    h_conn_close(c);
}

static void test_keepalive_http10_only_when_asked(void **state)
{
    struct h_conn *c;
    struct h_response *r;
    char *raw;

    (void)state;
    /* HTTP/1.0 without keep-alive: closed after the response */
    c = conn_to(LP);
    raw = h_fmt("GET http://127.0.0.1:%d/ka10?cc=no-store HTTP/1.0\r\n\r\n", OP);
    r = roundtrip(c, "GET", raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /ka10 version 0\n");
    assert_true(h_header_get(r, "Connection") == NULL
                || strcasestr(h_header_get(r, "Connection"), "keep-alive") == NULL);
    assert_closes(c);
    h_response_free(r);
    free(raw);
    h_conn_close(c);

    /* HTTP/1.0 asking for keep-alive: told so, and kept */
    c = conn_to(LP);
    raw = h_fmt("GET http://127.0.0.1:%d/ka10?cc=no-store HTTP/1.0\r\n"
                "Connection: keep-alive\r\n\r\n", OP);
    r = roundtrip(c, "GET", raw);
    assert_int_equal(r->status, 200);
    assert_non_null(h_header_get(r, "Connection"));
    assert_non_null(strcasestr(h_header_get(r, "Connection"), "keep-alive"));
    h_response_free(r);
    r = roundtrip(c, "GET", raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    h_conn_close(c);

    /* HTTP/1.1: kept by default, closed on Connection: close */
    c = conn_to(LP);
    raw = h_req("GET", OP, "/ka11?cc=no-store", NULL);
    r = roundtrip(c, "GET", raw);
    assert_int_equal(r->status, 200);
    assert_true(h_header_get(r, "Connection") == NULL
                || strcasestr(h_header_get(r, "Connection"), "close") == NULL);
    h_response_free(r);
    free(raw);
    raw = h_req("GET", OP, "/ka11?cc=no-store", "Connection: close\r\n");
    r = roundtrip(c, "GET", raw);
    assert_int_equal(r->status, 200);
    assert_non_null(strcasestr(h_header_get(r, "Connection"), "close"));
    assert_closes(c);
    h_response_free(r);
    free(raw);
    h_conn_close(c);
}

static void test_get_with_body_forwarded(void **state)
{
    char *raw = req_body("GET", "/gwb?cc=max-age%3D60", NULL, "query-in-body");
    struct h_response *r;
    char *want, *got;
    size_t blen = 0;

    (void)state;
    /* not the cache's business: passed on with its body, twice */
    for (int i = 0; i < 2; i++) {
        r = ask(raw);
        assert_int_equal(r->status, 200);
        want = h_fmt("received 13 sum %u\n", h_sum("query-in-body", 13));
        assert_string_equal(r->body, want);
        free(want);
        h_response_free(r);
    }
    assert_int_equal(origin_count("/gwb"), 2);
    got = h_origin_body(OP, "/gwb", &blen);
    assert_int_equal(blen, 13);
    assert_memory_equal(got, "query-in-body", 13);
    free(got);
    free(raw);
}

static void test_client_body_timeout_408(void **state)
{
    struct h_proc *l = own_larder("client_body_timeout 700ms\n");
    struct h_conn *c = conn_to(l->port);
    char *head = h_req("POST", OP, "/cbt", "Content-Length: 10\r\n");
    struct h_response *r;
    uint64_t t0;

    (void)state;
    assert_int_equal(h_conn_send_str(c, head), 0);
    assert_int_equal(h_conn_send_str(c, "abc"), 0);   /* then nothing */
    t0 = h_now_ms();
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    if (!r)
        fail_msg("no answer to a stalled request body: %s", h_error());
    assert_error_page(r, 408, NULL);
    assert_true(h_now_ms() - t0 >= 500 && h_now_ms() - t0 < SLOW(5000));
    assert_closes(c);
    /* the origin never got a complete body */
    {
        size_t blen = 1;
        char *got = h_origin_body(OP, "/cbt", &blen);

        assert_true(got == NULL || blen == 0);
        free(got);
    }
    h_response_free(r);
    free(head);
    h_conn_close(c);
    stop_larder(l);
}

static void test_upstream_head_limits_502(void **state)
{
    struct h_proc *l = own_larder("max_request_line 2k\nmax_header_block 4k\n"
                                  "max_header_fields 20\n");
    char *big = calloc(1, 5001), *many = strdup(""), *script;
    const char *paths[] = { "/uh-big", "/uh-many", "/uh-101", NULL };

    (void)state;
    memset(big, 'b', 5000);
    script = h_fmt("cc=no-store&h=X-Big:%s", big);
    assert_int_equal(h_origin_script(OP, "/uh-big", script), 0);
    free(script);
    for (int i = 0; i < 25; i++) {
        char *next = h_fmt("%s&h=X-F%d:%d", many, i, i);

        free(many);
        many = next;
    }
    script = h_fmt("cc=no-store%s", many);
    assert_int_equal(h_origin_script(OP, "/uh-many", script), 0);
    free(script);
    {
        char *enc = h_pct_encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                                 "Connection: upgrade\r\n\r\n");

        script = h_fmt("close=1&raw=%s", enc);
        assert_int_equal(h_origin_script(OP, "/uh-101", script), 0);
        free(script);
        free(enc);
    }
    for (const char **p = paths; *p; p++) {
        char *raw = h_req("GET", OP, *p, NULL);
        struct h_response *r = ask_port(l->port, raw);

        if (r->status != 502)
            fail_msg("GET %s: status %d, expected 502", *p, r->status);
        assert_error_page(r, 502, NULL);
        assert_int_equal(origin_count(*p), 1);
        h_response_free(r);
        free(raw);
    }
    free(many);
    free(big);
    stop_larder(l);
}

static void test_half_close_after_request(void **state)
{
    (void)state;
    /* the client says it is done sending: it still gets its answer. The
     * answer races the FIN inside larder, so try many times */
    for (int i = 0; i < 100; i++) {
        struct h_conn *c = conn_to(LP);
        char *path = h_fmt("/hc/%d", i);
        char *target = h_fmt("%s%s", path, i % 2 ? "" : "?cc=no-store");
        char *raw = i % 2 ? req_body("POST", target, NULL, "hello")
                          : h_req("GET", OP, target, NULL);
        struct h_response *r;

        assert_int_equal(h_conn_send_str(c, raw), 0);
        assert_int_equal(h_conn_shutdown_write(c), 0);
        r = h_conn_read_response(c, i % 2 ? "POST" : "GET", H_TIMEOUT_MS);
        if (!r || !r->complete)
            fail_msg("attempt %d, %s %s then FIN: %s (the origin got the request %ld "
                     "times)", i, i % 2 ? "POST" : "GET", path,
                     r ? "incomplete response" : h_error(), origin_count(path));
        assert_int_equal(r->status, 200);
        if (i % 2)
            assert_string_equal(r->body, "received 5 sum 532\n");
        assert_closes(c);
        h_response_free(r);
        free(raw);
        free(target);
        free(path);
        h_conn_close(c);
    }
}

static void test_pipelined_then_half_close(void **state)
{
    struct h_conn *c = conn_to(LP);
    char *a = h_req("GET", OP, "/hcp1?cc=no-store&delay_ms=200", NULL);
    char *b = req_body("POST", "/hcp2", NULL, "x");
    char *all = h_fmt("%s%s", a, b);
    struct h_response *r;

    (void)state;
    /* "printf 'req1req2' | nc": both requests arrived before the FIN, so
     * both are answered, in order (RFC 9112 9.3.2) */
    assert_int_equal(h_conn_send_str(c, all), 0);
    assert_int_equal(h_conn_shutdown_write(c), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->body, "origin /hcp1 version 0\n");
    h_response_free(r);
    r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
    if (!r)
        fail_msg("the second pipelined request, received before the client's FIN, "
                 "was not answered (origin saw it %ld times)", origin_count("/hcp2"));
    assert_string_equal(r->body, "received 1 sum 120\n");
    h_response_free(r);
    free(all);
    free(b);
    free(a);
    h_conn_close(c);
}

static void test_many_concurrent_clients(void **state)
{
    enum { CLIENTS = 40, EACH = 4 };
    struct h_conn *cs[CLIENTS];
    long reqs = -1;

    (void)state;
    /* every client pipelines its requests at once; all are in flight together */
    for (int i = 0; i < CLIENTS; i++) {
        char *all = strdup("");

        cs[i] = conn_to(LP);
        for (int k = 0; k < EACH; k++) {
            char *path = h_fmt("/cc/%d/%d?cc=no-store&delay_ms=%d&len=%d", i, k, (i * 7 + k) % 50,
                               1000 * (k + 1));
            char *raw = k % 2 ? req_body("POST", path, NULL, "data")
                              : h_req("GET", OP, path, NULL);
            char *next = h_fmt("%s%s", all, raw);

            free(all);
            all = next;
            free(raw);
            free(path);
        }
        assert_int_equal(h_conn_send_str(cs[i], all), 0);
        free(all);
    }
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < EACH; k++) {
            struct h_response *r = h_conn_read_response(cs[i], k % 2 ? "POST" : "GET",
                                                         H_TIMEOUT_MS);

            if (!r || r->status != 200 || !r->complete || r->body_len != 1000u * (k + 1))
                fail_msg("client %d request %d: %s", i, k, r ? "bad response" : h_error());
            assert_int_equal(h_pattern_mismatch(r->body, 0, r->body_len), r->body_len);
            h_response_free(r);
        }
        h_conn_close(cs[i]);
    }
    origin_stats(NULL, &reqs);
    assert_int_equal(reqs, CLIENTS * EACH);
}

/* ------------------------------------------------------------------ */
/* Upstream connections                                                */

static void post_ok(int port, const char *path)
{
    char *raw = req_body("POST", path, NULL, "");
    struct h_response *r = ask_port(port, raw);

    if (r->status != 200)
        fail_msg("POST %s: status %d\n%s", path, r->status, r->body);
    h_response_free(r);
    free(raw);
}

static void test_upstream_connection_reused(void **state)
{
    struct h_proc *l = own_larder(NULL);
    long conns = -1, reqs = -1;
    struct h_conn *c;

    (void)state;
    /* separate client connections share one origin connection */
    for (int i = 0; i < 5; i++)
        post_ok(l->port, "/reuse");
    /* and so do GETs through the cache on one client connection */
    c = conn_to(l->port);
    for (int i = 0; i < 5; i++) {
        char *raw = h_req("GET", OP, "/reuse-get?cc=no-store", NULL);
        struct h_response *r = roundtrip(c, "GET", raw);

        assert_int_equal(r->status, 200);
        h_response_free(r);
        free(raw);
    }
    h_conn_close(c);
    origin_stats(&conns, &reqs);
    assert_int_equal(reqs, 10);
    assert_int_equal(conns, 1);
    stop_larder(l);
}

static void test_upstream_not_reused_after_close(void **state)
{
    struct h_proc *l = own_larder(NULL);
    long conns = -1, reqs = -1;

    struct h_conn *c;
    char *rawresp = h_pct_encode("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    char *paths[5];

    (void)state;
    paths[0] = h_fmt("/nr1?close=1");     /* Connection: close */
    paths[1] = h_fmt("/nr2");
    paths[2] = h_fmt("/nr3?raw=%s", rawresp);   /* HTTP/1.0, no keep-alive */
    paths[3] = h_fmt("/nr4");
    paths[4] = NULL;
    /* all on one client connection: the origin's close is not the client's */
    c = conn_to(l->port);
    for (char **p = paths; *p; p++) {
        char *raw = req_body("POST", *p, NULL, "");
        struct h_response *r = roundtrip(c, "POST", raw);

        assert_int_equal(r->status, 200);
        assert_true(r->complete);
        assert_null(h_header_get(r, "Connection"));
        h_response_free(r);
        free(raw);
        free(*p);
    }
    h_conn_close(c);
    origin_stats(&conns, &reqs);
    assert_int_equal(reqs, 4);
    assert_int_equal(conns, 3);   /* nr1 | nr2 nr3 | nr4 */
    free(rawresp);
    stop_larder(l);
}

static void test_upstream_idle_timeout(void **state)
{
    struct h_proc *l = own_larder("upstream_idle_timeout 300ms\n");
    long conns = -1;

    (void)state;
    post_ok(l->port, "/it1");
    post_ok(l->port, "/it2");
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 1);
    h_sleep_ms(1500);             /* well past the idle timeout */
    post_ok(l->port, "/it3");
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 2);
    stop_larder(l);
}

/* Sends <n> slow POSTs at once on separate connections, reads them all. */
static void concurrent_posts(int port, int n)
{
    struct h_conn *cs[8];
    char *raw = req_body("POST", "/cap?delay_ms=400", NULL, "");

    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        cs[i] = conn_to(port);
        assert_int_equal(h_conn_send_str(cs[i], raw), 0);
    }
    for (int i = 0; i < n; i++) {
        struct h_response *r = h_conn_read_response(cs[i], "POST", H_TIMEOUT_MS);

        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        h_conn_close(cs[i]);
    }
    free(raw);
}

static void test_upstream_idle_cap_per_host(void **state)
{
    struct h_proc *l = own_larder("upstream_max_idle_per_host 1\n");
    long conns = -1;

    (void)state;
    concurrent_posts(l->port, 3);
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 3);
    /* one was kept: two more are needed */
    concurrent_posts(l->port, 3);
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 5);
    stop_larder(l);
}

static void test_retry_idempotent_once_on_reused_connection(void **state)
{
    struct h_proc *l = own_larder(NULL);
    struct h_response *r;
    char *raw;
    long conns = -1;

    (void)state;
    /* GET: the origin drops the pooled connection as the request arrives */
    raw = h_req("GET", OP, "/rt1?cc=no-store&drop_next=1", NULL);
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    raw = h_req("GET", OP, "/rt2?cc=no-store", NULL);
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /rt2 version 0\n");
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/rt2"), 2);   /* dropped, then retried */
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 2);

    /* DELETE (idempotent, no body) too */
    h_origin_reset(OP);
    post_ok(l->port, "/rt3?drop_next=1");
    raw = h_req("DELETE", OP, "/rt4", NULL);
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /rt4 version 0\n");
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/rt4"), 2);
    stop_larder(l);
}

static void test_no_retry_for_post(void **state)
{
    struct h_proc *l = own_larder(NULL);
    struct h_response *r;
    char *raw;

    (void)state;
    post_ok(l->port, "/nrp1?drop_next=1");
    raw = req_body("POST", "/nrp2", NULL, "data");
    r = ask_port(l->port, raw);
    assert_error_page(r, 502, NULL);
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/nrp2"), 1);
    stop_larder(l);
}

static void test_retry_only_once(void **state)
{
    struct h_proc *l = own_larder(NULL);
    struct h_response *r;
    char *raw;

    (void)state;
    post_ok(l->port, "/ro1?drop_next=1");
    /* dropped on the pooled connection, then reset on the new one */
    raw = h_req("GET", OP, "/ro2?cc=no-store&rst=1", NULL);
    r = ask_port(l->port, raw);
    assert_error_page(r, 502, NULL);
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/ro2"), 2);
    /* a failure on a fresh connection is not retried at all */
    raw = h_req("GET", OP, "/ro3?cc=no-store&rst=1", NULL);
    r = ask_port(l->port, raw);
    assert_error_page(r, 502, NULL);
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/ro3"), 1);
    stop_larder(l);
}

static void test_origin_by_host_name(void **state)
{
    /* a name, resolved by larder (the origin listens on 127.0.0.1 only) */
    char *raw = h_fmt("POST http://localhost:%d/lh HTTP/1.1\r\nHost: localhost:%d\r\n"
                      "Content-Length: 0\r\n\r\n", OP, OP);
    struct h_response *r = ask(raw);

    (void)state;
    assert_int_equal(r->status, 200);
    assert_int_equal(origin_count("/lh"), 1);
    h_response_free(r);
    free(raw);
}

/* ------------------------------------------------------------------ */
/* Upstream failures                                                   */

static void test_dns_failure_502(void **state)
{
    const char *raws[] = {
        "GET http://nonexistent.invalid/x HTTP/1.1\r\nHost: nonexistent.invalid\r\n\r\n",
        "POST http://nonexistent.invalid/x HTTP/1.1\r\nHost: nonexistent.invalid\r\n"
        "Content-Length: 3\r\n\r\nabc",
        NULL
    };

    (void)state;
    for (const char **raw = raws; *raw; raw++) {
        struct h_response *r = ask(*raw);

        assert_error_page(r, 502, NULL);
        h_response_free(r);
    }
}

static void test_connect_refused_502(void **state)
{
    int port = h_free_port();
    char *raw = h_fmt("GET http://127.0.0.1:%d/cr?cc=no-store HTTP/1.1\r\n"
                      "Host: 127.0.0.1:%d\r\n\r\n", port, port);
    struct h_response *r = ask(raw);

    (void)state;
    assert_error_page(r, 502, "refused");
    h_response_free(r);
    free(raw);
    raw = h_fmt("PUT http://127.0.0.1:%d/cr HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Length: 2\r\n\r\nhi", port, port);
    r = ask(raw);
    assert_error_page(r, 502, "refused");
    h_response_free(r);
    free(raw);
}

static void test_upstream_timeout_504(void **state)
{
    struct h_proc *l = own_larder("upstream_first_byte_timeout 1s\n");
    const char *methods[] = { "GET", "POST", NULL };

    (void)state;
    for (const char **m = methods; *m; m++) {
        char *path = h_fmt("/slow-%s", *m);
        char *target = h_fmt("%s?cc=no-store&delay_ms=4000", path);
        char *raw = strcmp(*m, "POST") == 0 ? req_body("POST", target, NULL, "x")
                                            : h_req("GET", OP, target, NULL);
        uint64_t t0 = h_now_ms();
        struct h_response *r = ask_port(l->port, raw);
        uint64_t took = h_now_ms() - t0;

        assert_error_page(r, 504, NULL);
        if (took < 900 || took > SLOW(3800))
            fail_msg("%s: 504 after %llu ms, expected about 1000", *m,
                     (unsigned long long)took);
        assert_int_equal(origin_count(path), 1);
        h_response_free(r);
        free(raw);
        free(target);
        free(path);
    }
    stop_larder(l);
}

static void test_malformed_upstream_response_502(void **state)
{
    const char *raws[] = {
        "garbage\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        NULL
    };

    (void)state;
    for (const char **raw = raws; *raw; raw++) {
        char *enc = h_pct_encode(*raw);
        char *path = h_fmt("/bad?cc=no-store&close=1&raw=%s", enc);
        char *req = h_req("GET", OP, path, NULL);
        struct h_response *r = ask(req);

        if (r->status != 502)
            fail_msg("origin sent %s: status %d, expected 502", *raw, r->status);
        assert_error_page(r, 502, NULL);
        h_response_free(r);
        free(req);
        free(path);
        free(enc);
    }
}

/* Reads one response whose body must break off: returns it. */
static struct h_response *truncated(struct h_conn *c, const char *method, const char *raw)
{
    struct h_response *r = roundtrip(c, method, raw);

    assert_int_equal(r->status, 200);
    if (r->complete)
        fail_msg("a truncated body was passed off as complete (%llu bytes):\n%s",
                 (unsigned long long)r->body_len, r->head);
    /* what did arrive is the start of the body */
    assert_int_equal(h_pattern_mismatch(r->body, 0, (size_t)r->body_len), r->body_len);
    assert_true(c->eof || c->reset);
    return r;
}

static void test_upstream_failure_mid_body_closes_client(void **state)
{
    const char *methods[] = { "GET", "POST", NULL };

    (void)state;
    for (const char **m = methods; *m; m++) {
        const char *extra = strcmp(*m, "POST") == 0 ? "Content-Length: 0\r\n" : NULL;
        struct h_conn *c;
        struct h_response *r;
        char *raw;

        /* Content-Length: the client sees fewer bytes, then the close */
        c = conn_to(LP);
        raw = h_req(*m, OP, "/mid-l?cc=no-store&len=1000000&abort_after=300000", extra);
        r = truncated(c, *m, raw);
        assert_string_equal(h_header_get(r, "Content-Length"), "1000000");
        assert_true(r->body_len >= 1 && r->body_len < 1000000);
        h_response_free(r);
        free(raw);
        h_conn_close(c);

        /* chunked: no last chunk */
        c = conn_to(LP);
        raw = h_req(*m, OP, "/mid-c?cc=no-store&len=1000000&chunked=1&abort_after=300000",
                    extra);
        r = truncated(c, *m, raw);
        assert_true(r->chunked);
        h_response_free(r);
        free(raw);
        h_conn_close(c);

        /* the origin's abortive close */
        c = conn_to(LP);
        raw = h_req(*m, OP, "/mid-r?cc=no-store&len=1000000&chunked=1&abort_after=1000&rst=1",
                    extra);
        r = truncated(c, *m, raw);
        h_response_free(r);
        free(raw);
        h_conn_close(c);

        /* HTTP/1.0, close-delimited: only a reset tells the client */
        c = conn_to(LP);
        raw = h_fmt("%s http://127.0.0.1:%d/mid-10?cc=no-store&len=1000000&chunked=1"
                    "&abort_after=300000 HTTP/1.0\r\n%s\r\n", *m, OP, extra ? extra : "");
        r = roundtrip(c, *m, raw);
        assert_int_equal(r->status, 200);
        assert_null(h_header_get(r, "Content-Length"));
        if (!c->reset)
            fail_msg("%s: HTTP/1.0 close-delimited body cut short after %llu bytes, "
                     "but the connection ended with a clean FIN", *m,
                     (unsigned long long)r->body_len);
        h_response_free(r);
        free(raw);
        h_conn_close(c);
    }
}

static void test_upstream_read_timeout_mid_body(void **state)
{
    struct h_proc *l = own_larder("upstream_read_timeout 1s\n");
    struct h_conn *c = conn_to(l->port);
    char *raw = h_req("GET", OP, "/stall?cc=no-store&len=10&drip_ms=5000&drip_bytes=10", NULL);
    struct h_response *r;
    uint64_t t0 = h_now_ms();

    (void)state;
    r = truncated(c, "GET", raw);
    assert_true(h_now_ms() - t0 < SLOW(4500));
    assert_int_equal(r->body_len, 0);
    h_response_free(r);
    free(raw);
    h_conn_close(c);
    stop_larder(l);
}

/* ------------------------------------------------------------------ */
/* Access control and loops                                            */

static void test_client_acl_403(void **state)
{
    struct h_proc *l = own_larder("client_allow 10.0.0.0/8\nconnect_ports 1-65535\n");
    char *raws[4];

    (void)state;
    raws[0] = h_req("GET", OP, "/acl?cc=no-store", NULL);
    raws[1] = req_body("POST", "/acl", NULL, "x");
    raws[2] = h_fmt("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", OP, OP);
    raws[3] = NULL;
    for (char **raw = raws; *raw; raw++) {
        struct h_response *r = ask_port(l->port, *raw);

        assert_error_page(r, 403, NULL);
        h_response_free(r);
        free(*raw);
    }
    assert_origin_untouched();
    stop_larder(l);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (*s == '\n')
            n++;
    return n;
}

static void test_request_to_own_address_not_forwarded(void **state)
{
    struct h_proc *l = own_larder(NULL);
    const char *fmts[] = {
        "GET http://127.0.0.1:%d/loop?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST http://127.0.0.1:%d/loop HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        "GET http://localhost:%d/loop?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n",
        "DELETE http://LOCALHOST:%d/loop HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://127.0.0.1:%d/larder/ HTTP/1.1\r\nHost: x\r\n\r\n",
        /* addresses a connection to which reaches larder all the same */
        "GET http://0.0.0.0:%d/larder/stats.json HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://[::ffff:127.0.0.1]:%d/larder/stats.json HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://[::ffff:7f00:1]:%d/loop?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST http://0.0.0.0:%d/larder/purge HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        NULL
    };
    size_t n = 0;
    char *log;

    (void)state;
    for (const char **f = fmts; *f; f++, n++) {
        char *raw = h_fmt(*f, l->port);
        struct h_response *r = h_request(l->port, raw, H_TIMEOUT_MS);

        if (!r)
            fail_msg("no answer to a request for larder's own address: %s", h_error());
        assert_true(r->status >= 200 && r->status != 502 && r->status != 504);
        h_response_free(r);
        free(raw);
    }
    /* one access-log line per request: none came back in through larder */
    /* a request larder sent itself would finish, and be logged, before
     * the one that caused it: once the last line is there, all are */
    assert_int_equal(h_wait_file_contains(l->access_log_path, "/larder/", H_TIMEOUT_MS), 0);
    log = h_read_file(l->access_log_path, NULL);
    assert_non_null(log);
    if (count_lines(log) != n)
        fail_msg("%zu requests, %zu access-log lines:\n%s", n, count_lines(log), log);
    free(log);
    assert_origin_untouched();
    stop_larder(l);
}

/* A tunnel to larder's own port, by any address that reaches it, and a
 * request of any form that carries larder's own Via, are loops: 403. */
static void test_loops_by_other_names_refused(void **state)
{
    struct h_proc *l = own_larder("connect_ports all\n");
    const char *fmts[] = {
        "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n",
        "CONNECT 0.0.0.0:%d HTTP/1.1\r\nHost: x\r\n\r\n",
        "CONNECT [::ffff:127.0.0.1]:%d HTTP/1.1\r\nHost: x\r\n\r\n",
        "CONNECT [::ffff:7f00:1]:%d HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /larder/stats.json HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nVia: 1.1 " VIA_NAME "\r\n\r\n",
        NULL
    };

    (void)state;
    for (const char **f = fmts; *f; f++) {
        char *raw = h_fmt(*f, l->port);
        struct h_response *r = h_request(l->port, raw, H_TIMEOUT_MS);

        if (!r || r->status != 403)
            fail_msg("%s: %s", raw, r ? r->head : h_error());
        assert_non_null(strstr(r->body, "loop"));
        h_response_free(r);
        free(raw);
    }
    stop_larder(l);
}

/* A wildcard listener is larder for its own address family only (the
 * listeners are IPv6-only or IPv4): [::1] on the port of 0.0.0.0 is
 * somebody else, and is forwarded to. */
static void test_wildcard_listener_family(void **state)
{
    int port = h_free_port();
    char *conf = h_fmt("listen 0.0.0.0:%d\n", port);
    struct h_proc *l = own_larder(conf);
    char *raw;
    struct h_response *r;

    (void)state;
    raw = h_fmt("GET http://127.0.0.1:%d/larder/stats.json HTTP/1.1\r\nHost: x\r\n\r\n", port);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);             /* larder's own page */
    h_response_free(r);
    free(raw);
    raw = h_fmt("GET http://[::1]:%d/larder/stats.json HTTP/1.1\r\nHost: x\r\n\r\n", port);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    if (r->status != 502)                          /* nobody listens there */
        fail_msg("[::1] on an IPv4 wildcard's port: %s", r->head);
    h_response_free(r);
    free(raw);
    free(conf);
    stop_larder(l);
}

/* ------------------------------------------------------------------ */
/* Limits and malformed requests                                       */

static void test_request_limits_414_431(void **state)
{
    struct h_proc *l = own_larder("max_request_line 1k\nmax_header_block 4k\n"
                                  "max_header_fields 20\n");
    struct h_conn *c;
    struct h_response *r;
    char *raw, *pad, *fields;

    (void)state;
    /* under the limits: served */
    pad = calloc(1, 901);
    memset(pad, 'a', 900);
    raw = h_fmt("GET http://127.0.0.1:%d/lim/%s?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n", OP,
                pad);
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);

    /* request line over max_request_line: 414, then close */
    free(pad);
    pad = calloc(1, 2001);
    memset(pad, 'a', 2000);
    raw = h_fmt("GET http://127.0.0.1:%d/lim/%s HTTP/1.1\r\nHost: x\r\n\r\n", OP, pad);
    c = conn_to(l->port);
    r = roundtrip(c, "GET", raw);
    assert_error_page(r, 414, NULL);
    assert_closes(c);
    h_conn_close(c);
    h_response_free(r);
    free(raw);

    /* header block over max_header_block: 431 */
    raw = h_fmt("GET http://127.0.0.1:%d/lim2 HTTP/1.1\r\nHost: x\r\nX-Big: %s%s%s\r\n\r\n",
                OP, pad, pad, pad);
    c = conn_to(l->port);
    r = roundtrip(c, "GET", raw);
    assert_error_page(r, 431, NULL);
    assert_closes(c);
    h_conn_close(c);
    h_response_free(r);
    free(raw);

    /* 20 field lines pass, 21 do not */
    fields = strdup("");
    for (int i = 0; i < 19; i++) {
        char *next = h_fmt("%sX-F%d: %d\r\n", fields, i, i);

        free(fields);
        fields = next;
    }
    raw = h_fmt("GET http://127.0.0.1:%d/lim3?cc=no-store HTTP/1.1\r\nHost: x\r\n%s\r\n", OP,
                fields);
    r = ask_port(l->port, raw);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    raw = h_fmt("GET http://127.0.0.1:%d/lim4 HTTP/1.1\r\nHost: x\r\nX-Extra: 1\r\n%s\r\n",
                OP, fields);
    r = ask_port(l->port, raw);
    assert_error_page(r, 431, NULL);
    h_response_free(r);
    free(raw);
    free(fields);
    free(pad);

    assert_int_equal(origin_count("/lim2"), 0);
    assert_int_equal(origin_count("/lim4"), 0);
    stop_larder(l);
}

static void test_bad_framing_400_and_close(void **state)
{
    /* rejected with the head: nothing may reach the origin */
    const char *heads[] = {
        "POST http://127.0.0.1:%d/bf0 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST http://127.0.0.1:%d/bf1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        "Content-Length: 4\r\n\r\nabcd",
        "GET http://127.0.0.1:%d/bf2 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        "GET http://127.0.0.1:%d/bf3 HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
        "GET http://127.0.0.1:%d/bf4 HTTP/1.1\r\nHost: x\r\nX-A: a\x01" "b\r\n\r\n",
        "GET http://127.0.0.1:%d/bf5 HTTP/1.1\r\nX-No-Host: 1\r\n\r\n",
        "GET http://127.0.0.1:%d/bf6 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        NULL
    };
    long reqs = -1;

    (void)state;
    for (const char **f = heads; *f; f++) {
        char *raw = h_fmt(*f, OP);
        struct h_conn *c = conn_to(LP);
        struct h_response *r = roundtrip(c, "POST", raw);

        if (r->status != 400)
            fail_msg("status %d, expected 400, for:\n%s", r->status, raw);
        assert_error_page(r, 400, NULL);
        assert_closes(c);
        h_conn_close(c);
        h_response_free(r);
        free(raw);
    }
    origin_stats(NULL, &reqs);
    assert_int_equal(reqs, 0);

    /* a bad chunk size is found after the head went upstream: the client
     * still gets 400 and the close, and the origin no complete body */
    {
        char *raw = h_fmt("POST http://127.0.0.1:%d/bf9 HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", OP);
        struct h_conn *c = conn_to(LP);
        struct h_response *r = roundtrip(c, "POST", raw);

        assert_error_page(r, 400, NULL);
        assert_closes(c);
        size_t blen = 1;
        char *body = h_origin_body(OP, "/bf9", &blen);

        assert_true(body == NULL || blen == 0);
        free(body);
        h_conn_close(c);
        h_response_free(r);
        free(raw);
    }
}

static void test_client_head_timeout_408(void **state)
{
    struct h_proc *l = own_larder("client_head_timeout 700ms\n");
    struct h_conn *c = conn_to(l->port);
    char *part = h_fmt("GET http://127.0.0.1:%d/ht HTTP/1.1\r\nHost: x\r\n", OP);
    struct h_response *r;
    uint64_t t0 = h_now_ms(), took;

    (void)state;
    assert_int_equal(h_conn_send_str(c, part), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    took = h_now_ms() - t0;
    if (r) {
        assert_error_page(r, 408, NULL);
        assert_closes(c);
    } else {
        assert_true(c->eof || c->reset);   /* or just closed */
    }
    if (took < 600 || took > SLOW(5000))
        fail_msg("head timeout acted after %llu ms, expected about 700",
                 (unsigned long long)took);
    assert_int_equal(origin_count("/ht"), 0);
    h_response_free(r);
    free(part);
    h_conn_close(c);
    stop_larder(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_origin_form_and_host_from_uri, reset_origin),
        cmocka_unit_test_setup(test_hop_by_hop_request_fields_removed, reset_origin),
        cmocka_unit_test_setup(test_hop_by_hop_response_fields_removed, reset_origin),
        cmocka_unit_test_setup(test_via_added_both_ways, reset_origin),
        cmocka_unit_test_setup(test_via_default_name_is_host_name, reset_origin),
        cmocka_unit_test_setup(test_via_loop_refused, reset_origin),
        cmocka_unit_test_setup(test_loops_by_other_names_refused, reset_origin),
        cmocka_unit_test_setup(test_wildcard_listener_family, reset_origin),
        cmocka_unit_test_setup(test_max_forwards_zero_answered_by_larder, reset_origin),
        cmocka_unit_test_setup(test_max_forwards_decremented, reset_origin),
        cmocka_unit_test_setup(test_max_forwards_least_and_options_asterisk, reset_origin),
        cmocka_unit_test_setup(test_underscored_framing_names_dropped, reset_origin),
        cmocka_unit_test_setup(test_date_added_when_missing, reset_origin),
        cmocka_unit_test_setup(test_every_method, reset_origin),
        cmocka_unit_test_setup(test_request_body_content_length, reset_origin),
        cmocka_unit_test_setup(test_request_body_chunked, reset_origin),
        cmocka_unit_test_setup(test_response_framing, reset_origin),
        cmocka_unit_test_setup(test_bodyless_responses, reset_origin),
        cmocka_unit_test_setup(test_expect_100_continue, reset_origin),
        cmocka_unit_test_setup(test_interim_forwarded_to_http11_only, reset_origin),
        cmocka_unit_test_setup(test_interim_103_on_get, reset_origin),
        cmocka_unit_test_setup(test_interim_any_1xx_forwarded, reset_origin),
        cmocka_unit_test_setup(test_other_schemes_501, reset_origin),
        cmocka_unit_test_setup(test_half_close_after_request, reset_origin),
        cmocka_unit_test_setup(test_pipelined_then_half_close, reset_origin),
        cmocka_unit_test_setup(test_many_concurrent_clients, reset_origin),
        cmocka_unit_test_setup(test_get_with_body_forwarded, reset_origin),
        cmocka_unit_test_setup(test_client_body_timeout_408, reset_origin),
        cmocka_unit_test_setup(test_upstream_head_limits_502, reset_origin),
        cmocka_unit_test_setup(test_pipelined_requests_answered_in_order, reset_origin),
        cmocka_unit_test_setup(test_keepalive_http10_only_when_asked, reset_origin),
        cmocka_unit_test_setup(test_upstream_connection_reused, reset_origin),
        cmocka_unit_test_setup(test_upstream_not_reused_after_close, reset_origin),
        cmocka_unit_test_setup(test_upstream_idle_timeout, reset_origin),
        cmocka_unit_test_setup(test_upstream_idle_cap_per_host, reset_origin),
        cmocka_unit_test_setup(test_retry_idempotent_once_on_reused_connection, reset_origin),
        cmocka_unit_test_setup(test_no_retry_for_post, reset_origin),
        cmocka_unit_test_setup(test_retry_only_once, reset_origin),
        cmocka_unit_test_setup(test_origin_by_host_name, reset_origin),
        cmocka_unit_test_setup(test_dns_failure_502, reset_origin),
        cmocka_unit_test_setup(test_connect_refused_502, reset_origin),
        cmocka_unit_test_setup(test_upstream_timeout_504, reset_origin),
        cmocka_unit_test_setup(test_malformed_upstream_response_502, reset_origin),
        cmocka_unit_test_setup(test_upstream_failure_mid_body_closes_client, reset_origin),
        cmocka_unit_test_setup(test_upstream_read_timeout_mid_body, reset_origin),
        cmocka_unit_test_setup(test_client_acl_403, reset_origin),
        cmocka_unit_test_setup(test_request_to_own_address_not_forwarded, reset_origin),
        cmocka_unit_test_setup(test_request_limits_414_431, reset_origin),
        cmocka_unit_test_setup(test_bad_framing_400_and_close, reset_origin),
        cmocka_unit_test_setup(test_client_head_timeout_408, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
