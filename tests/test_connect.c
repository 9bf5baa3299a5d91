/* SPDX-License-Identifier: MIT */
/* test_connect.c - end-to-end tests of CONNECT tunnels (issue 2, section 6):
 * the 200, splicing to fixture_echo both ways with back-pressure,
 * half-close, large transfers with bounded memory, the port check (403),
 * failures to reach the target, the idle timeout and the access log. */
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

/* <ms> stretched for a slow larder (LARDER_TEST_SLOW, see harness.h) */
#define SLOW(ms) ((uint64_t)(ms) * (uint64_t)h_slow())

#define MiB (1024u * 1024u)
#define RSS_BUDGET_KB (16 * 1024)
#define PUMP_PIECE (64 * 1024)

static const char *const asan_env[] = {
    "ASAN_OPTIONS=quarantine_size_mb=1:malloc_context_size=2", NULL
};

struct fx {
    struct h_proc *echo;
    struct h_proc *origin;
    struct h_proc *larder;        /* connect_ports: the echo's and origin's */
};

static int EP, OP, LP;

static int group_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    char *conf;

    if (!fx)
        return -1;
    *state = fx;
    fx->echo = h_echo_start();
    fx->origin = h_origin_start();
    if (!fx->echo || !fx->origin)
        return -1;
    EP = fx->echo->port;
    OP = fx->origin->port;
    conf = h_fmt("connect_ports %d %d\nvia_name larder-test\n", EP, OP);
    fx->larder = h_larder_start_env(conf, asan_env);
    free(conf);
    if (!fx->larder)
        return -1;
    LP = fx->larder->port;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    if (h_larder_stop(fx->larder) != 0)
        rc = -1;
    if (h_proc_stop(fx->echo) != 0)
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

static struct h_conn *conn_to(int port)
{
    struct h_conn *c = h_conn_open(port);

    if (!c)
        fail_msg("connect to %d: %s", port, h_error());
    return c;
}

/* Sends CONNECT for <authority> (plus <early> bytes in the same write) and
 * reads the answer's head. */
static struct h_response *connect_via(struct h_conn *c, const char *authority,
                                      const char *early)
{
    char *raw = h_fmt("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", authority, authority,
                      early ? early : "");
    struct h_response *r = NULL;

    if (h_conn_send_str(c, raw) == 0)
        r = h_conn_read_response(c, "CONNECT", H_TIMEOUT_MS);
    free(raw);
    if (!r)
        fail_msg("no answer to CONNECT %s: %s", authority, h_error());
    return r;
}

/* A tunnel to 127.0.0.1:<port> through larder <lport>, established. */
static struct h_conn *tunnel_to(int lport, int port)
{
    struct h_conn *c = conn_to(lport);
    char *auth = h_fmt("127.0.0.1:%d", port);
    struct h_response *r = connect_via(c, auth, NULL);

    if (r->status != 200)
        fail_msg("CONNECT %s: status %d", auth, r->status);
    /* a 2xx to CONNECT has no framing fields (RFC 9110 9.3.6) */
    assert_null(h_header_get(r, "Content-Length"));
    assert_null(h_header_get(r, "Transfer-Encoding"));
    h_response_free(r);
    free(auth);
    return c;
}

static void assert_error_page(const struct h_response *r, int status)
{
    const char *type = h_header_get(r, "Content-Type");

    if (r->status != status)
        fail_msg("status %d, expected %d:\n%s", r->status, status, r->head);
    assert_true(r->complete);
    assert_non_null(type);
    assert_true(strncasecmp(type, "text/html", 9) == 0);
    assert_true(r->body_len > 0 && r->body_len < 2048);
}

/* Waits until fixture_echo has accepted <n> connections in all. */
static void wait_echo_connections(const struct h_proc *echo, long n)
{
    uint64_t deadline = h_now_ms() + SLOW(H_TIMEOUT_MS);

    while (h_echo_connections(echo) < n && h_now_ms() < deadline)
        h_sleep_ms(10);
    assert_int_equal(h_echo_connections(echo), n);
}

struct pump {
    uint64_t sent;
    struct h_pattern_check in;    /* what came back */
    int eof;                      /* clean FIN */
    int reset;
    long rss_base_kb;             /* larder's RSS when the pump started */
    long rss_peak_kb;
};

/* Sends <n> pattern bytes through the tunnel on <c> while reading what
 * comes back (the echo: the same bytes), so neither side stalls. With
 * <shut>, half-closes after the last byte and reads until the peer
 * closes. Samples <pid>'s RSS as it goes (pid <= 0: none). Fails if no
 * progress is made for H_TIMEOUT_MS. */
static void pump_echo(struct h_conn *c, uint64_t n, int shut, pid_t pid, struct pump *pm)
{
    static char out[PUMP_PIECE + 64];
    static char in[PUMP_PIECE];
    uint64_t last_progress = h_now_ms(), next_sample = 0;
    int shut_done = 0;

    memset(pm, 0, sizeof *pm);
    if (pid > 0)
        pm->rss_base_kb = pm->rss_peak_kb = h_rss_kb(pid);
    for (;;) {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        int done_sending = pm->sent == n;
        int rc;

        if (done_sending && shut && !shut_done) {
            assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
            shut_done = 1;
        }
        if (pm->eof || pm->reset)
            break;
        if (done_sending && !shut && pm->in.checked >= n)
            break;
        if (!done_sending)
            pfd.events |= POLLOUT;
        rc = poll(&pfd, 1, 200);
        if (rc < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (h_now_ms() - last_progress > SLOW(H_TIMEOUT_MS))
            fail_msg("tunnel stalled: sent %llu of %llu, received %llu",
                     (unsigned long long)pm->sent, (unsigned long long)n,
                     (unsigned long long)pm->in.checked);
        if (rc <= 0)
            continue;
        if (pfd.revents & POLLOUT) {
            size_t k = n - pm->sent < PUMP_PIECE ? (size_t)(n - pm->sent) : PUMP_PIECE;
            ssize_t w;

            h_pattern_fill(out, pm->sent, k);
            w = send(c->fd, out, k, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                pm->sent += (uint64_t)w;
                last_progress = h_now_ms();
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fail_msg("send: %s after %llu bytes", strerror(errno),
                         (unsigned long long)pm->sent);
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = recv(c->fd, in, sizeof in, MSG_DONTWAIT);

            if (got > 0) {
                h_pattern_check_cb(in, (size_t)got, &pm->in);
                last_progress = h_now_ms();
            } else if (got == 0) {
                pm->eof = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                pm->reset = 1;
            }
        }
        if (pid > 0 && pm->in.checked >= next_sample) {
            long kb = h_rss_kb(pid);

            if (kb > pm->rss_peak_kb)
                pm->rss_peak_kb = kb;
            next_sample = pm->in.checked + 4 * MiB;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_connect_echo(void **state)
{
    struct fx *fx = *state;
    long before = h_echo_connections(fx->echo);
    struct h_conn *c = tunnel_to(LP, EP);
    char buf[32];
    char *line;

    assert_int_equal(h_conn_send_str(c, "hello tunnel\n"), 0);
    assert_int_equal(h_conn_read_exact(c, buf, 13, H_TIMEOUT_MS), 0);
    assert_memory_equal(buf, "hello tunnel\n", 13);
    /* the tunnel is a byte stream: no HTTP in it, both ways */
    assert_int_equal(h_conn_send_str(c, "GET / HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(h_conn_read_exact(c, buf, 18, H_TIMEOUT_MS), 0);
    assert_memory_equal(buf, "GET / HTTP/1.1\r\n\r\n", 18);
    wait_echo_connections(fx->echo, before + 1);
    h_conn_close(c);

    /* logged once the tunnel ends: CONNECT, host:port, 200, TUNNEL */
    line = h_fmt(" CONNECT 127.0.0.1:%d 200 ", EP);
    assert_int_equal(h_wait_file_contains(fx->larder->access_log_path, line, H_TIMEOUT_MS), 0);
    assert_int_equal(h_wait_file_contains(fx->larder->access_log_path, " TUNNEL ", 0), 0);
    free(line);
}

static void test_connect_bytes_sent_with_the_head(void **state)
{
    struct h_conn *c = conn_to(LP);
    char *auth = h_fmt("127.0.0.1:%d", EP);
    struct h_response *r;
    char buf[16];

    (void)state;
    /* as a TLS client does: the first bytes right behind the CONNECT */
    r = connect_via(c, auth, "early bytes!");
    assert_int_equal(r->status, 200);
    assert_int_equal(h_conn_read_exact(c, buf, 12, H_TIMEOUT_MS), 0);
    assert_memory_equal(buf, "early bytes!", 12);
    h_response_free(r);
    free(auth);
    h_conn_close(c);
}

static void test_connect_half_close(void **state)
{
    struct h_conn *c;
    struct pump pm;
    char *rest;
    size_t n = 0;

    (void)state;
    /* a short message, then FIN at once: the answer still comes back,
     * followed by a clean FIN */
    c = tunnel_to(LP, EP);
    assert_int_equal(h_conn_send_str(c, "last words"), 0);
    assert_int_equal(h_conn_shutdown_write(c), 0);
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);
    assert_true(c->eof);
    assert_false(c->reset);
    assert_int_equal(n, 10);
    assert_memory_equal(rest, "last words", 10);
    free(rest);
    h_conn_close(c);

    /* more than the buffers on the way hold: most of the echo flows back
     * after the client's FIN went through */
    c = tunnel_to(LP, EP);
    pump_echo(c, 8 * MiB, 1, 0, &pm);
    assert_true(pm.eof);
    assert_false(pm.reset);
    assert_int_equal(pm.in.checked, 8 * MiB);
    assert_int_equal(pm.in.bad, 0);
    h_conn_close(c);
}

static void test_connect_large_both_ways(void **state)
{
    struct fx *fx = *state;
    const uint64_t n = 256ull * MiB;
    struct h_conn *c = tunnel_to(LP, EP);
    struct pump pm;
    uint64_t t0 = h_now_ms();

    /* warm up the buffers before taking the baseline */
    pump_echo(c, 4 * MiB, 0, 0, &pm);
    assert_int_equal(pm.in.bad, 0);
    h_conn_close(c);
    c = tunnel_to(LP, EP);
    pump_echo(c, n, 1, fx->larder->pid, &pm);
    if (pm.in.checked != n || pm.in.bad != 0 || !pm.eof)
        fail_msg("echoed %llu of %llu bytes, %llu bad (first at %llu), eof %d reset %d",
                 (unsigned long long)pm.in.checked, (unsigned long long)n,
                 (unsigned long long)pm.in.bad, (unsigned long long)pm.in.first_bad, pm.eof,
                 pm.reset);
    if (pm.rss_peak_kb - pm.rss_base_kb >= RSS_BUDGET_KB)
        fail_msg("larder's RSS grew by %ld kB (from %ld kB) while tunnelling %llu MiB",
                 pm.rss_peak_kb - pm.rss_base_kb, pm.rss_base_kb,
                 (unsigned long long)(n / MiB));
    print_message("tunnelled %llu MiB each way in %llu ms, RSS +%ld kB\n",
                  (unsigned long long)(n / MiB), (unsigned long long)(h_now_ms() - t0),
                  pm.rss_peak_kb - pm.rss_base_kb);
    h_conn_close(c);
}

static void test_connect_target_closes_first(void **state)
{
    struct h_conn *c = tunnel_to(LP, OP);
    char *req = h_fmt("GET /tun HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", OP);
    struct h_response *r;
    char *log, *want;

    (void)state;
    /* plain HTTP through the tunnel: larder does not touch it */
    assert_int_equal(h_conn_send_str(c, req), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /tun version 0\n");
    assert_null(h_header_get(r, "Via"));
    h_response_free(r);
    {
        size_t n = 0;
        char *rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);

        assert_int_equal(n, 0);
        assert_true(c->eof);
        free(rest);
    }
    log = h_origin_log(OP, "/tun");
    want = h_fmt("%s----\n", req);
    assert_string_equal(log, want);   /* byte for byte as the client sent it */
    free(want);
    free(log);
    free(req);
    h_conn_close(c);
}

static void test_connect_port_not_allowed_403(void **state)
{
    struct fx *fx = *state;
    long before = h_echo_connections(fx->echo);
    struct h_proc *l;
    struct h_conn *c;
    struct h_response *r;
    char *auth = h_fmt("127.0.0.1:%d", EP);
    char *conf;

    /* the default: 443 only */
    l = h_larder_start(NULL);
    assert_non_null(l);
    c = conn_to(l->port);
    r = connect_via(c, auth, NULL);
    assert_error_page(r, 403);
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);

    /* a list and a range that miss the port by one */
    conf = h_fmt("connect_ports 443 %d-%d %d\n", EP + 1, EP + 100 > 65535 ? 65535 : EP + 100,
                 EP - 1);
    l = h_larder_start(conf);
    assert_non_null(l);
    c = conn_to(l->port);
    r = connect_via(c, auth, NULL);
    assert_error_page(r, 403);
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);
    free(conf);

    /* none */
    l = h_larder_start("connect_ports none\n");
    assert_non_null(l);
    c = conn_to(l->port);
    r = connect_via(c, auth, NULL);
    assert_error_page(r, 403);
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);

    /* the echo server never saw a connection */
    assert_int_equal(h_echo_connections(fx->echo), before);
    free(auth);
}

static void test_connect_failures(void **state)
{
    struct h_proc *l = h_larder_start("connect_ports all\n");
    int free_port = h_free_port();
    struct h_conn *c;
    struct h_response *r;
    char *auth;

    (void)state;
    assert_non_null(l);
    /* connection refused: 502 */
    auth = h_fmt("127.0.0.1:%d", free_port);
    c = conn_to(l->port);
    r = connect_via(c, auth, NULL);
    assert_error_page(r, 502);
    h_response_free(r);
    h_conn_close(c);
    free(auth);

    /* a name that does not resolve: 502 */
    c = conn_to(l->port);
    r = connect_via(c, "nonexistent.invalid:443", NULL);
    assert_error_page(r, 502);
    h_response_free(r);
    h_conn_close(c);

    /* larder's own address: refused, not a tunnel into itself */
    auth = h_fmt("127.0.0.1:%d", l->port);
    c = conn_to(l->port);
    r = connect_via(c, auth, NULL);
    assert_error_page(r, 403);
    h_response_free(r);
    h_conn_close(c);
    free(auth);

    /* not host:port */
    c = conn_to(l->port);
    r = connect_via(c, "127.0.0.1", NULL);
    assert_error_page(r, 400);
    h_response_free(r);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);
}

static void test_connect_idle_timeout(void **state)
{
    struct fx *fx = *state;
    char *conf = h_fmt("connect_ports %d\ntunnel_idle_timeout 1s\n", EP);
    struct h_proc *l = h_larder_start(conf);
    struct h_conn *c;
    char buf[4];
    char *rest;
    size_t n = 0;
    uint64_t t0;

    (void)fx;
    assert_non_null(l);
    c = tunnel_to(l->port, EP);
    /* traffic keeps it open past the timeout */
    for (int i = 0; i < 6; i++) {
        h_sleep_ms(300);
        assert_int_equal(h_conn_send_str(c, "ping"), 0);
        assert_int_equal(h_conn_read_exact(c, buf, 4, H_TIMEOUT_MS), 0);
    }
    /* silence closes it */
    t0 = h_now_ms();
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);
    assert_true(c->eof || c->reset);
    assert_int_equal(n, 0);
    assert_true(h_now_ms() - t0 >= 700);
    assert_true(h_now_ms() - t0 < SLOW(5000));
    free(rest);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);
    free(conf);
}

static void test_connect_client_reset_then_next(void **state)
{
    struct h_conn *c = tunnel_to(LP, EP);
    struct linger lg = { 1, 0 };
    char buf[2];

    (void)state;
    assert_int_equal(h_conn_send_str(c, "x"), 0);
    assert_int_equal(h_conn_read_exact(c, buf, 1, H_TIMEOUT_MS), 0);
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    h_conn_close(c);             /* RST */
    /* larder goes on: another tunnel works (and the final stop is clean) */
    c = tunnel_to(LP, EP);
    assert_int_equal(h_conn_send_str(c, "ok"), 0);
    assert_int_equal(h_conn_read_exact(c, buf, 2, H_TIMEOUT_MS), 0);
    assert_memory_equal(buf, "ok", 2);
    h_conn_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_connect_echo, reset_origin),
        cmocka_unit_test_setup(test_connect_bytes_sent_with_the_head, reset_origin),
        cmocka_unit_test_setup(test_connect_half_close, reset_origin),
        cmocka_unit_test_setup(test_connect_large_both_ways, reset_origin),
        cmocka_unit_test_setup(test_connect_target_closes_first, reset_origin),
        cmocka_unit_test_setup(test_connect_port_not_allowed_403, reset_origin),
        cmocka_unit_test_setup(test_connect_failures, reset_origin),
        cmocka_unit_test_setup(test_connect_idle_timeout, reset_origin),
        cmocka_unit_test_setup(test_connect_client_reset_then_next, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
