/* SPDX-License-Identifier: MIT */
/* test_hostile_exhaust.c - exhaustion (issue 5, point 3): hundreds of
 * half-open request heads (slowloris) and slow request bodies do not keep
 * larder from serving others promptly; the head and body timeouts end them;
 * max_connections holds; and larder's memory stays within what its
 * configuration allows while clients send slowly, or pipeline large
 * requests and never read the answers.
 *
 * Every test runs a larder of its own with the limits it exercises, and
 * checks the origin's side too: nothing of an unfinished request reaches it
 * as complete. Timing expectations stretch with LARDER_TEST_SLOW; the
 * memory bounds are only checked without it (valgrind has its own RSS). */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define BASE_CONF "via_name larder-test\n"
#define SLOW_CONNS 300

/* ASan's quarantine would hold freed memory and count as growth */
static const char *const asan_env[] = {
    "ASAN_OPTIONS=quarantine_size_mb=1:malloc_context_size=2", NULL
};

static struct h_proc *origin;
static int OP;

static int group_setup(void **state)
{
    (void)state;
    origin = h_origin_start();
    if (!origin)
        return -1;
    OP = origin->port;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return h_proc_stop(origin) == 0 ? 0 : -1;
}

static int reset_origin(void **state)
{
    (void)state;
    return h_origin_reset(OP);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static struct h_proc *own_larder(const char *conf)
{
    char *all = h_fmt("%s%s", BASE_CONF, conf ? conf : "");
    struct h_proc *p = h_larder_start_env(all, asan_env);

    free(all);
    if (!p)
        fail_msg("larder did not start: %s", h_error());
    return p;
}

static struct h_conn *conn_to(int port)
{
    struct h_conn *c = h_conn_open(port);

    if (!c)
        fail_msg("connect to %d: %s", port, h_error());
    return c;
}

static long origin_count(const char *path)
{
    long n = h_origin_count(OP, path);

    assert_true(n >= 0);
    return n;
}

static uint64_t slow(uint64_t ms)
{
    return ms * (uint64_t)h_slow();
}

/* A normal client: <raw> on a new connection, answered with 200 within
 * <limit_ms>. Returns how long it took. */
static uint64_t served_within(int lport, const char *raw, const char *want_body,
                              uint64_t limit_ms, const char *what)
{
    uint64_t t0 = h_now_ms(), took;
    struct h_response *r = h_request(lport, raw, H_TIMEOUT_MS);

    took = h_now_ms() - t0;
    if (!r)
        fail_msg("%s: no answer: %s", what, h_error());
    if (r->status != 200 || (want_body && strcmp(r->body, want_body) != 0))
        fail_msg("%s: status %d, body \"%s\"", what, r->status, r->body ? r->body : "");
    if (took > slow(limit_ms))
        fail_msg("%s: answered after %llu ms, more than %llu", what, (unsigned long long)took,
                 (unsigned long long)slow(limit_ms));
    h_response_free(r);
    return took;
}

/* The answer to a client stopped halfway: a 408 then the close, or just
 * the close; returns 1 when it came before <deadline>. */
static int ended_by(struct h_conn *c, uint64_t deadline)
{
    uint64_t now = h_now_ms();
    int left = deadline > now ? (int)(deadline - now) : 1;
    size_t n = 0;
    char *got = h_conn_read_until_close(c, left, &n);
    int ok = c->eof || c->reset;

    if (ok && n > 0 && strncmp(got, "HTTP/1.1 408 ", 13) != 0)
        fail_msg("unexpected answer to an unfinished request: %.100s", got);
    free(got);
    return ok;
}

/* Sends as much of <data> (repeated) as the socket takes without blocking,
 * until it has refused for <stall_ms>; returns the bytes sent. */
static uint64_t flood(struct h_conn *c, const char *data, size_t len, uint64_t max,
                      int stall_ms)
{
    uint64_t sent = 0;
    size_t off = 0;
    uint64_t stalled_since = 0;

    while (sent < max) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            sent += (uint64_t)n;
            off = (off + (size_t)n) % len;
            stalled_since = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { c->fd, POLLOUT, 0 };

            if (stalled_since == 0)
                stalled_since = h_now_ms();
            else if (h_now_ms() - stalled_since > (uint64_t)stall_ms)
                break;
            poll(&pfd, 1, 20);
            continue;
        }
        break;                    /* closed or reset */
    }
    return sent;
}

/* ------------------------------------------------------------------ */
/* Slowloris                                                           */

static void test_slowloris_others_served_promptly(void **state)
{
    struct h_proc *l = own_larder("client_head_timeout 3s\n");
    struct h_conn **slow_c = calloc(SLOW_CONNS, sizeof *slow_c);
    char *part = h_fmt("GET http://127.0.0.1:%d/slow HTTP/1.1\r\nHost: x\r\nX-Pad: ", OP);
    char *fast = h_fmt("GET http://127.0.0.1:%d/fast?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n", OP);
    char *cached = h_fmt("GET http://127.0.0.1:%d/cached?cc=max-age%%3D60 HTTP/1.1\r\n"
                         "Host: x\r\n\r\n", OP);
    char *post = h_fmt("POST http://127.0.0.1:%d/post HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 3\r\n\r\nabc", OP);
    uint64_t started, worst = 0, t;
    int closed = 0;

    (void)state;
    assert_non_null(slow_c);
    for (int i = 0; i < SLOW_CONNS; i++) {
        slow_c[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(slow_c[i], part), 0);
    }
    started = h_now_ms();
    /* the attack goes on: a byte now and then on every connection */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < SLOW_CONNS; i++)
            h_conn_send_str(slow_c[i], "a");
        /* while others are served at once */
        t = served_within(l->port, fast, "origin /fast version 0\n", 2000, "pass-through");
        worst = t > worst ? t : worst;
        t = served_within(l->port, cached, "origin /cached version 0\n", 2000, "cacheable");
        worst = t > worst ? t : worst;
        t = served_within(l->port, post, "received 3 sum 294\n", 2000, "POST");
        worst = t > worst ? t : worst;
        h_sleep_ms(300);
    }
    print_message("slowloris: %d half-open heads, slowest other request %llu ms\n", SLOW_CONNS,
                  (unsigned long long)worst);
    assert_int_equal(origin_count("/cached"), 1);
    /* trickling does not extend the head timeout (counted from the first
     * byte): every one is ended about 3 s after it started */
    for (int i = 0; i < SLOW_CONNS; i++) {
        closed += ended_by(slow_c[i], started + slow(3000 + 3000));
        h_conn_close(slow_c[i]);
    }
    if (closed != SLOW_CONNS)
        fail_msg("%d of %d half-open heads still open after the head timeout", SLOW_CONNS - closed,
                 SLOW_CONNS);
    /* none of them reached the origin */
    assert_int_equal(origin_count("/slow"), 0);
    /* and larder is fine afterwards */
    served_within(l->port, fast, "origin /fast version 0\n", 2000, "after");
    free(slow_c);
    free(part);
    free(fast);
    free(cached);
    free(post);
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* Slow request bodies                                                 */

static void test_slow_bodies_time_out(void **state)
{
    struct h_proc *l = own_larder("client_body_timeout 600ms\n");
    const char *parts[] = {
        /* Content-Length body that stops */
        "POST http://127.0.0.1:%d/sb1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
        /* chunked body that stops inside a chunk, and between chunks */
        "POST http://127.0.0.1:%d/sb2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "10\r\n01234",
        "POST http://127.0.0.1:%d/sb3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n01234\r\n",
        /* a GET with a body, and a body for larder's own pages */
        "GET http://127.0.0.1:%d/sb4 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01",
        NULL
    };
    char *fast = h_fmt("GET http://127.0.0.1:%d/fast?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n", OP);
    struct h_conn *cs[50];

    (void)state;
    for (const char **p = parts; *p; p++) {
        char *raw = h_fmt(*p, OP);
        struct h_conn *c = conn_to(l->port);
        uint64_t t0 = h_now_ms(), took;
        size_t n = 0;
        char *got;

        assert_int_equal(h_conn_send_str(c, raw), 0);
        got = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);
        took = h_now_ms() - t0;
        if (!(c->eof || c->reset))
            fail_msg("%s: still open", raw);
        if (n > 0 && strncmp(got, "HTTP/1.1 408 ", 13) != 0)
            fail_msg("%s: answered %.60s", raw, got);
        if (took < 500 || took > slow(3000))
            fail_msg("%s: ended after %llu ms, expected about 600", raw,
                     (unsigned long long)took);
        free(got);
        h_conn_close(c);
        free(raw);
    }
    /* the origin never got a complete body */
    for (const char *const *p = (const char *const[]){ "/sb1", "/sb2", "/sb3", "/sb4", NULL };
         *p; p++) {
        size_t blen = 0;
        char *b = h_origin_body(OP, *p, &blen);

        assert_true(b == NULL || blen == 0);
        free(b);
        assert_true(origin_count(*p) <= 1);
    }
    /* the timeout is a pause between bytes: a body that keeps coming,
     * slowly, is served */
    {
        char *raw = h_fmt("POST http://127.0.0.1:%d/trickle HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: 6\r\n\r\n", OP);
        struct h_conn *c = conn_to(l->port);
        struct h_response *r;

        assert_int_equal(h_conn_send_str(c, raw), 0);
        for (int i = 0; i < 6; i++) {
            h_sleep_ms(250);
            assert_int_equal(h_conn_send(c, "abcdef" + i, 1), 0);
        }
        r = h_conn_read_response(c, "POST", H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        h_conn_close(c);
        free(raw);
    }
    /* fifty stalled uploads at once do not hold anyone else up */
    for (int i = 0; i < 50; i++) {
        char *raw = h_fmt(parts[0], OP);

        cs[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(cs[i], raw), 0);
        free(raw);
    }
    served_within(l->port, fast, "origin /fast version 0\n", 2000, "beside 50 slow uploads");
    for (int i = 0; i < 50; i++) {
        assert_true(ended_by(cs[i], h_now_ms() + slow(4000)));
        h_conn_close(cs[i]);
    }
    free(fast);
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* max_connections                                                     */

static void test_max_connections(void **state)
{
    struct h_proc *l = own_larder("max_connections 20\nclient_head_timeout 20s\n");
    char *part = h_fmt("GET http://127.0.0.1:%d/busy HTTP/1.1\r\nHost: x\r\n", OP);
    char *fast = h_fmt("GET http://127.0.0.1:%d/fast?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n", OP);
    struct h_conn *cs[20];
    struct h_response *r;

    (void)state;
    /* twenty busy connections (a head under way each) fill it */
    for (int i = 0; i < 20; i++) {
        cs[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(cs[i], part), 0);
    }
    h_sleep_ms(300);
    for (int k = 0; k < 3; k++) {
        r = h_request(l->port, fast, H_TIMEOUT_MS);
        if (!r || r->status != 503)
            fail_msg("connection 21: %s", r ? r->head : h_error());
        h_response_free(r);
    }
    assert_int_equal(origin_count("/fast"), 0);
    /* room again once some go */
    for (int i = 0; i < 5; i++)
        h_conn_close(cs[i]);
    h_sleep_ms(300);
    served_within(l->port, fast, "origin /fast version 0\n", 2000, "after others left");
    for (int i = 5; i < 20; i++)
        h_conn_close(cs[i]);
    h_sleep_ms(300);

    /* idle keep-alive connections give way to a new client */
    for (int i = 0; i < 20; i++) {
        cs[i] = conn_to(l->port);
        r = NULL;
        assert_int_equal(h_conn_send_str(cs[i], fast), 0);
        r = h_conn_read_response(cs[i], "GET", H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
    }
    served_within(l->port, fast, "origin /fast version 0\n", 2000, "beside 20 idle");
    for (int i = 0; i < 20; i++)
        h_conn_close(cs[i]);
    free(part);
    free(fast);
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */

#define MEM_HEAD_BLOCK (16 * 1024)
#define FLOODERS 10

/* RSS of larder now, after the loop has had a moment. */
static long rss_settled(const struct h_proc *l)
{
    h_sleep_ms(500);
    return h_rss_kb(l->pid);
}

static void test_memory_bounded_by_configuration(void **state)
{
    struct h_proc *l;
    struct h_conn **slow_c;
    struct h_conn *fl[FLOODERS];
    char *pad, *part, *hit;
    long base, after_slow, after_flood, grow_slow, grow_flood, bound_slow, bound_flood;
    uint64_t flooded = 0;

    (void)state;
    if (h_slow() > 1) {
        print_message("memory bounds not checked under LARDER_TEST_SLOW\n");
        skip();
    }
    l = own_larder("max_header_block 16k\nmax_request_line 8k\nclient_head_timeout 30s\n"
                   "cache_size 64M\n");
    slow_c = calloc(SLOW_CONNS, sizeof *slow_c);
    pad = malloc(MEM_HEAD_BLOCK);
    assert_non_null(slow_c);
    assert_non_null(pad);
    /* warm up: a stored 64 KiB object, asked for with a large head */
    memset(pad, 'p', 7000);
    hit = h_fmt("GET http://127.0.0.1:%d/obj?len=65536&cc=max-age%%3D600 HTTP/1.1\r\n"
                "Host: x\r\nX-Pad: %.*s\r\n\r\n", OP, 7000, pad);
    for (int i = 0; i < 20; i++) {
        struct h_response *r = h_request(l->port, hit, H_TIMEOUT_MS);

        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
    }
    base = rss_settled(l);

    /* 300 connections, each with a head just under max_header_block */
    memset(pad, 'a', MEM_HEAD_BLOCK);
    part = h_fmt("GET http://127.0.0.1:%d/slow HTTP/1.1\r\nHost: x\r\nX-Pad: %.*s", OP,
                 MEM_HEAD_BLOCK - 200, pad);
    for (int i = 0; i < SLOW_CONNS; i++) {
        slow_c[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(slow_c[i], part), 0);
    }
    after_slow = rss_settled(l);

    /* ten clients pipeline large requests for the stored object, never
     * reading: larder must stop reading them instead of queueing answers */
    for (int i = 0; i < FLOODERS; i++) {
        fl[i] = conn_to(l->port);
        flooded += flood(fl[i], hit, strlen(hit), 64ull * 1024 * 1024, 300);
    }
    after_flood = rss_settled(l);

    grow_slow = after_slow - base;
    grow_flood = after_flood - after_slow;
    /* Per slow connection: its input buffer, capped by the read watermark
     * at max_header_block + 4 KiB, which parsing pulls up into one chain
     * (libevent may round that chain up to twice the size), plus the
     * connection's own state (client struct, bufferevent, two evbuffers,
     * timers: a few KiB); with margin for ASan's redzones and shadow. */
    bound_slow = SLOW_CONNS * (3 * (MEM_HEAD_BLOCK + 4096) + 8192) / 1024;
    /* Per flooding connection: the same input cap, plus the output larder
     * queues before it stops (OUT_HIWAT 256 KiB, plus one response: hits
     * are sent by reference, so that is mostly head blocks), doubled. */
    bound_flood = FLOODERS * 2 * (MEM_HEAD_BLOCK + 4096 + 256 * 1024 + 64 * 1024) / 1024;
    print_message("RSS: base %ld kB; +%ld kB with %d slow heads (bound %ld); +%ld kB with %d "
                  "pipelining clients, %llu bytes sent (bound %ld)\n",
                  base, grow_slow, SLOW_CONNS, bound_slow, grow_flood, FLOODERS,
                  (unsigned long long)flooded, bound_flood);
    if (grow_slow > bound_slow)
        fail_msg("slow heads: RSS grew %ld kB, bound %ld kB", grow_slow, bound_slow);
    if (grow_flood > bound_flood)
        fail_msg("pipelining: RSS grew %ld kB, bound %ld kB", grow_flood, bound_flood);

    for (int i = 0; i < SLOW_CONNS; i++)
        h_conn_close(slow_c[i]);
    for (int i = 0; i < FLOODERS; i++)
        h_conn_close(fl[i]);
    /* still serving */
    {
        struct h_response *r = h_request(l->port, hit, H_TIMEOUT_MS);

        assert_non_null(r);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 65536);
        h_response_free(r);
    }
    assert_int_equal(origin_count("/slow"), 0);
    free(slow_c);
    free(pad);
    free(part);
    free(hit);
    assert_int_equal(h_larder_stop(l), 0);
}

/* Pipelines 4 MiB of <requests> (repeated) on one connection that never
 * reads, and returns how much larder's RSS grew. */
/* The largest of the three numbers in /proc/sys/net/ipv4/<name>, or 0. */
static uint64_t tcp_buf_max(const char *name)
{
    char *path = h_fmt("/proc/sys/net/ipv4/%s", name);
    FILE *f = fopen(path, "r");
    unsigned long long lo = 0, def = 0, hi = 0;

    free(path);
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu %llu", &lo, &def, &hi) != 3)
        hi = 0;
    fclose(f);
    return hi;
}

/* More request bytes than the kernel alone can hold for a connection
 * whose server stops reading: its receive buffer grows up to tcp_rmem's
 * maximum (32 MiB on recent kernels) and the client's send buffer up to
 * tcp_wmem's; only a larder that kept reading takes more. */
static uint64_t flood_size(void)
{
    return tcp_buf_max("tcp_rmem") + tcp_buf_max("tcp_wmem") + 32ull * 1024 * 1024;
}

static long flood_growth(const struct h_proc *l, const char *requests, const char *what)
{
    long before, after;
    struct h_conn *c = conn_to(l->port);
    uint64_t n, max = flood_size();

    /* one flood first, so the allocator and ASan's shadow and quarantine
     * are warm: what a second flood adds is what larder keeps per flood */
    flood(c, requests, strlen(requests), 4ull * 1024 * 1024, 300);
    h_conn_close(c);
    before = rss_settled(l);
    c = conn_to(l->port);
    n = flood(c, requests, strlen(requests), max, 300);
    after = rss_settled(l);
    print_message("%s: %llu bytes of requests taken, RSS +%ld kB\n", what,
                  (unsigned long long)n, after - before);
    h_conn_close(c);
    /* a larder that kept reading would have taken the whole flood: only
     * the kernel's socket buffers and larder's read limit may hold it */
    if (n >= max)
        fail_msg("%s: larder took all %llu bytes of requests without the client reading",
                 what, (unsigned long long)n);
    return after - before;
}

/* Answers larder writes itself (its own pages, error pages, 403 to
 * clients it refuses) must wait for the client like any other: a client
 * pipelining such requests without reading may not make larder queue them
 * without limit. The bound, for a second flood after a first one warmed
 * the allocator: the read watermark (max_header_block + 4 KiB) plus
 * OUT_HIWAT (256 KiB) plus one answer, tripled for evbuffer chains and
 * ASan, plus ASan's quarantine. Queueing the answers to 4 MiB of requests
 * costs several times that. */
static void test_self_answered_pipelining_bounded(void **state)
{
    /* plus room for ASan's 1 MiB quarantine and allocator noise; a larder
     * that keeps reading would take the whole flood (flood_size) and queue
     * the answers to them */
    const long bound = 3 * (64 * 1024 + 4096 + 256 * 1024 + 64 * 1024) / 1024 + 4096;
    struct h_proc *l;
    char *own, *refused;
    long g_own, g_refused;

    (void)state;
    if (h_slow() > 1) {
        print_message("memory bounds not checked under LARDER_TEST_SLOW\n");
        skip();
    }
    own = h_fmt("GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET https://127.0.0.1:%d/x HTTP/1.1\r\nHost: x\r\n\r\n"
                "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", OP);
    refused = h_fmt("GET http://127.0.0.1:%d/x HTTP/1.1\r\nHost: x\r\n\r\n", OP);

    /* larder's own pages, a 501 and OPTIONS *, from an allowed client */
    l = own_larder(NULL);
    g_own = flood_growth(l, own, "own answers");
    assert_int_equal(h_larder_stop(l), 0);
    /* 403 to a client outside client_allow: anyone who can connect */
    l = own_larder("client_allow 192.0.2.1/32\nadmin_allow none\n");
    g_refused = flood_growth(l, refused, "refused client");
    assert_int_equal(h_larder_stop(l), 0);
    assert_int_equal(origin_count("/x"), 0);
    if (g_own > bound || g_refused > bound)
        fail_msg("pipelined requests larder answers itself: RSS grew %ld kB (own pages) and "
                 "%ld kB (refused client) for a flood of requests, bound %ld kB: the answers are "
                 "queued without limit", g_own, g_refused, bound);
    free(own);
    free(refused);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_slowloris_others_served_promptly, reset_origin),
        cmocka_unit_test_setup(test_slow_bodies_time_out, reset_origin),
        cmocka_unit_test_setup(test_max_connections, reset_origin),
        cmocka_unit_test_setup(test_memory_bounded_by_configuration, reset_origin),
        cmocka_unit_test_setup(test_self_answered_pipelining_bounded, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
