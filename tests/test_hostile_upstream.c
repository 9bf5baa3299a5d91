/* SPDX-License-Identifier: MIT */
/* test_hostile_upstream.c - hostile origins and faults (issue 5, points 2 and
 * 5): malformed or ambiguous responses give 502 and the upstream connection
 * is never reused; bytes an origin sends past a response never reach another
 * request; resets, truncations, dropped pooled connections, DNS failure and
 * timeout, refused connections and clients that go away. Nothing truncated
 * is stored or passed off as complete.
 *
 * Most origins are fixture_origin (raw= responses, rst, abort_after,
 * drop_next). Two things it cannot do are done by a small scripted origin
 * in this file ("mini"): sending bytes on an idle keep-alive connection some
 * time after a response, and telling whether a download was cut off by the
 * proxy or sent to its end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define VIA_NAME "larder-test"
#define BASE_CONF "via_name " VIA_NAME "\n"

static struct h_proc *origin, *larder;
static int OP;                    /* fixture_origin's port */
static int LP;                    /* the shared larder's port */

static int group_setup(void **state)
{
    (void)state;
    origin = h_origin_start();
    larder = h_larder_start(BASE_CONF);
    if (!origin || !larder)
        return -1;
    OP = origin->port;
    LP = larder->port;
    return 0;
}

static int group_teardown(void **state)
{
    int rc = 0;

    (void)state;
    if (h_larder_stop(larder) != 0)
        rc = -1;
    if (h_proc_stop(origin) != 0)
        rc = -1;
    return rc;
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
    struct h_proc *p = h_larder_start(all);

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

/* GET <path> from the origin <oport> through larder <lport>, new connection */
static struct h_response *get_via(int lport, int oport, const char *path, const char *extra)
{
    struct h_response *r = h_get(lport, oport, path, extra);

    if (!r)
        fail_msg("no response for %s: %s", path, h_error());
    return r;
}

static struct h_response *get(const char *path)
{
    return get_via(LP, OP, path, NULL);
}

static void origin_stats(long *conns, long *reqs)
{
    assert_int_equal(h_origin_stats(OP, conns, reqs), 0);
}

static long origin_count(const char *path)
{
    long n = h_origin_count(OP, path);

    assert_true(n >= 0);
    return n;
}

static void assert_status(const struct h_response *r, int status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: status %d, expected %d; head:\n%s", what, r->status, status, r->head);
}

/* A 200 whose body is exactly <n> pattern bytes, complete. */
static void assert_pattern_body(const struct h_response *r, uint64_t n, const char *what)
{
    assert_status(r, 200, what);
    if (!r->complete || r->body_len != n)
        fail_msg("%s: complete %d, %llu bytes, expected %llu", what, r->complete,
                 (unsigned long long)r->body_len, (unsigned long long)n);
    assert_int_equal(h_pattern_mismatch(r->body, 0, (size_t)n), (size_t)n);
}

/* A 200 whose body broke off: never complete, what came is the pattern's
 * start, and the connection is gone. */
static void assert_truncated(const struct h_response *r, struct h_conn *c, const char *what)
{
    assert_status(r, 200, what);
    if (r->complete)
        fail_msg("%s: a truncated body was passed off as complete (%llu bytes)", what,
                 (unsigned long long)r->body_len);
    assert_int_equal(h_pattern_mismatch(r->body, 0, (size_t)r->body_len), r->body_len);
    if (c)
        assert_true(c->eof || c->reset);
}

/* A truncated response read on a connection of its own. */
static void get_truncated(int lport, const char *path, const char *what)
{
    struct h_conn *c = conn_to(lport);
    char *raw = h_req("GET", OP, path, NULL);
    struct h_response *r;

    assert_int_equal(h_conn_send_str(c, raw), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    if (!r)
        fail_msg("%s: no response head: %s", what, h_error());
    assert_truncated(r, c, what);
    h_response_free(r);
    h_conn_close(c);
    free(raw);
}

static int script(const char *path, const char *params)
{
    return h_origin_script(OP, path, params);
}

/* ------------------------------------------------------------------ */
/* mini: a scripted origin for what fixture_origin cannot do            */

#define MINI_MAX_CONNS 64
#define MINI_PIECE (64 * 1024)    /* drip: bytes per piece */
#define MINI_PIECE_MS 10          /* drip: pause between pieces */

struct mini_conn {
    int fd;
    pthread_t th;
    struct mini *m;
    int requests;                 /* request heads received */
    uint64_t total;               /* drip: body bytes promised */
    uint64_t sent;                /* drip: body bytes sent */
    int send_failed;              /* drip: the peer went away (EPIPE, reset) */
    int completed;                /* drip: the whole body was sent */
};

struct mini {
    int lfd, port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int stop;
    int nconns;
    struct mini_conn conns[MINI_MAX_CONNS];
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one request head into buf (NUL-terminated). 0, or -1 at close. */
static int read_head(struct mini *m, int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        ssize_t k;

        if (poll(&pfd, 1, 100) == 0) {
            int stop;

            pthread_mutex_lock(&m->mu);
            stop = m->stop;
            pthread_mutex_unlock(&m->mu);
            if (stop)
                return -1;
            continue;
        }
        /* one byte at a time: a pipelined request stays in the socket */
        k = recv(fd, buf + len, 1, 0);
        if (k <= 0)
            return -1;
        len++;
        buf[len] = '\0';
        if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
            return 0;
    }
    return -1;
}

/* Value of query parameter <name> in the request line of <head>, or NULL. */
static char *param(const char *head, const char *name)
{
    const char *q = strchr(head, '?'), *end = strchr(head, '\r');
    size_t n = strlen(name);

    if (!q || !end || q > end)
        return NULL;
    for (const char *p = q + 1; p && p < end; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t vl = strcspn(v, "& \r"), o = 0;
            char *d = malloc(vl + 1);

            if (!d)
                abort();
            for (size_t i = 0; i < vl; i++) {   /* percent-decode */
                unsigned x;

                if (v[i] == '%' && i + 2 < vl + 1 && sscanf(v + i + 1, "%2x", &x) == 1) {
                    d[o++] = (char)x;
                    i += 2;
                } else {
                    d[o++] = v[i];
                }
            }
            d[o] = '\0';
            return d;
        }
    }
    return NULL;
}

static void *mini_conn_main(void *arg)
{
    struct mini_conn *mc = arg;
    struct mini *m = mc->m;
    char head[8192];

    while (read_head(m, mc->fd, head, sizeof head) == 0) {
        char path[256] = "";
        char *cc = param(head, "cc"), *total = param(head, "total"), *nolen = param(head, "nolen");
        char *resp;

        sscanf(head, "%*s %255s", path);
        pthread_mutex_lock(&m->mu);
        mc->requests++;
        pthread_mutex_unlock(&m->mu);
        if (strncmp(path, "/junk", 5) == 0) {
            /* an answer, then, once the proxy has pooled the connection,
             * a second "answer" nobody asked for */
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                     "Cache-Control: no-store\r\n\r\nok";
            static const char evil[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
                                       "Cache-Control: max-age=600\r\n\r\nEVIL";

            send_all(mc->fd, ok, sizeof ok - 1);
            h_sleep_ms(150);
            send_all(mc->fd, evil, sizeof evil - 1);
        } else if (strncmp(path, "/drip", 5) == 0) {
            uint64_t n = total ? strtoull(total, NULL, 10) : 1024 * 1024;
            char *piece = malloc(MINI_PIECE);
            int failed = 0;

            if (!piece)
                abort();          /* no cmocka asserts off the main thread */

            pthread_mutex_lock(&m->mu);
            mc->total = n;
            pthread_mutex_unlock(&m->mu);
            if (nolen)
                resp = h_fmt("HTTP/1.1 200 OK\r\nCache-Control: %s\r\nConnection: close\r\n\r\n",
                             cc ? cc : "no-store");
            else
                resp = h_fmt("HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nCache-Control: %s\r\n\r\n",
                             (unsigned long long)n, cc ? cc : "no-store");
            failed = send_all(mc->fd, resp, strlen(resp)) < 0;
            free(resp);
            for (uint64_t off = 0; !failed && off < n;) {
                size_t k = n - off < MINI_PIECE ? (size_t)(n - off) : MINI_PIECE;

                h_pattern_fill(piece, off, k);
                if (send_all(mc->fd, piece, k) < 0) {
                    failed = 1;
                    break;
                }
                off += k;
                pthread_mutex_lock(&m->mu);
                mc->sent = off;
                pthread_mutex_unlock(&m->mu);
                if (off < n)
                    h_sleep_ms(MINI_PIECE_MS);
            }
            pthread_mutex_lock(&m->mu);
            mc->send_failed = failed;
            mc->completed = !failed;
            pthread_mutex_unlock(&m->mu);
            free(piece);
            free(cc);
            free(total);
            free(nolen);
            break;               /* one download per connection */
        } else {
            resp = h_fmt("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n\r\n%s",
                         strlen(path), path);
            send_all(mc->fd, resp, strlen(resp));
            free(resp);
        }
        free(cc);
        free(total);
        free(nolen);
    }
    shutdown(mc->fd, SHUT_RDWR);
    return NULL;
}

static void *mini_accept_main(void *arg)
{
    struct mini *m = arg;

    for (;;) {
        struct pollfd pfd = { m->lfd, POLLIN, 0 };
        int fd, stop;

        poll(&pfd, 1, 50);
        pthread_mutex_lock(&m->mu);
        stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
        if (!(pfd.revents & POLLIN))
            continue;
        fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&m->mu);
        if (m->nconns == MINI_MAX_CONNS) {
            pthread_mutex_unlock(&m->mu);
            close(fd);
            continue;
        }
        {
            struct mini_conn *mc = &m->conns[m->nconns];

            memset(mc, 0, sizeof *mc);
            mc->fd = fd;
            mc->m = m;
            if (pthread_create(&mc->th, NULL, mini_conn_main, mc) == 0)
                m->nconns++;
            else
                close(fd);
        }
        pthread_mutex_unlock(&m->mu);
    }
    return NULL;
}

static struct mini *mini_start(void)
{
    struct mini *m = calloc(1, sizeof *m);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int one = 1;

    assert_non_null(m);
    pthread_mutex_init(&m->mu, NULL);
    m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(m->lfd >= 0);
    setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(m->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(m->lfd, 64), 0);
    assert_int_equal(getsockname(m->lfd, (struct sockaddr *)&sin, &len), 0);
    m->port = ntohs(sin.sin_port);
    assert_int_equal(pthread_create(&m->acceptor, NULL, mini_accept_main, m), 0);
    return m;
}

static void mini_stop(struct mini *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->acceptor, NULL);
    for (int i = 0; i < m->nconns; i++) {
        shutdown(m->conns[i].fd, SHUT_RDWR);
        pthread_join(m->conns[i].th, NULL);
        close(m->conns[i].fd);
    }
    close(m->lfd);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* A consistent copy of connection <i>'s record. */
static struct mini_conn mini_conn(struct mini *m, int i)
{
    struct mini_conn c;

    pthread_mutex_lock(&m->mu);
    c = m->conns[i];
    pthread_mutex_unlock(&m->mu);
    return c;
}

static int mini_nconns(struct mini *m)
{
    int n;

    pthread_mutex_lock(&m->mu);
    n = m->nconns;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* Waits up to <ms> (stretched by LARDER_TEST_SLOW) for connection <i>'s
 * download to end, sent in full or cut off. */
static struct mini_conn mini_wait_download(struct mini *m, int i, int ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)ms * (uint64_t)h_slow();
    struct mini_conn c;

    for (;;) {
        c = mini_conn(m, i);
        if (c.completed || c.send_failed || h_now_ms() > deadline)
            return c;
        h_sleep_ms(20);
    }
}

/* ------------------------------------------------------------------ */
/* Point 2: malformed and ambiguous responses                           */

/* Connections the origin has accepted since its last reset. */
static long origin_conns(void)
{
    long conns = -1;

    origin_stats(&conns, NULL);
    return conns;
}

/* The next request through <lport> must open a new origin connection: the
 * one the last response came on was not pooled. Only exact with a larder of
 * the test's own, used one request at a time, so that at most one idle
 * connection can be in its pool. */
static void assert_next_on_new_connection(int lport, const char *what)
{
    long before = origin_conns(), after;
    struct h_response *r = get_via(lport, OP, "/next?cc=no-store", NULL);

    assert_status(r, 200, what);
    if (strcmp(r->body, "origin /next version 0\n") != 0)
        fail_msg("%s: the next request got \"%s\"", what, r->body);
    h_response_free(r);
    after = origin_conns();
    if (after != before + 1)
        fail_msg("%s: the next request did not open a new origin connection (%ld -> %ld): "
                 "the connection that carried the bad response was reused", what, before, after);
}

/* Asks for a response the origin sends as <raw> on a keep-alive
 * connection, expects <status>, then checks that the connection is gone. */
static void expect_bad_response(int lport, const char *raw, int status, const char *method)
{
    char *enc = h_pct_encode(raw);
    char *path = h_fmt("/bad?cc=no-store&raw=%s", enc);
    char *req = h_req(method, OP, path, strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : NULL);
    struct h_conn *c;
    struct h_response *r;
    char what[300];

    snprintf(what, sizeof what, "%s for origin response %.200s", method, raw);
    c = conn_to(lport);
    assert_int_equal(h_conn_send_str(c, req), 0);
    r = h_conn_read_response(c, method, H_TIMEOUT_MS);
    if (!r)
        fail_msg("%s: no response: %s", what, h_error());
    assert_status(r, status, what);
    assert_null(strstr(r->head, "Set-Cookie"));
    h_response_free(r);
    h_conn_close(c);
    assert_next_on_new_connection(lport, what);
    free(req);
    free(path);
    free(enc);
}

static void test_ambiguous_response_framing_502(void **state)
{
    static const char *const raws[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nhello",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello",
        /* response splitting: a CR, LF or NUL inside a field value */
        "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        /* status lines that are not HTTP/1.x */
        "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        "ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
        "hello, no head at all\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        NULL
    };

    struct h_proc *l = own_larder(NULL);

    (void)state;
    for (const char *const *raw = raws; *raw; raw++) {
        expect_bad_response(l->port, *raw, 502, "GET");
        expect_bad_response(l->port, *raw, 502, "POST");
    }
    assert_int_equal(h_larder_stop(l), 0);
}

static void test_response_head_over_limit_502(void **state)
{
    struct h_proc *l = own_larder("max_request_line 2k\nmax_header_block 4k\nmax_header_fields 20\n");
    char *pad = calloc(1, 8192), *raw, *enc, *params;
    struct h_response *r;
    const char *what = "head over max_header_block";

    (void)state;
    memset(pad, 'a', 5000);
    /* over the byte limit (the request carries the script, not the raw) */
    raw = h_fmt("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: %s\r\n\r\nok", pad);
    enc = h_pct_encode(raw);
    params = h_fmt("cc=no-store&raw=%s", enc);
    assert_int_equal(script("/big", params), 0);
    r = get_via(l->port, OP, "/big", NULL);
    assert_status(r, 502, what);
    h_response_free(r);
    assert_next_on_new_connection(l->port, what);
    free(params);
    free(enc);
    free(raw);

    /* over the field count */
    h_origin_reset(OP);
    {
        char *fields = strdup("");

        for (int i = 0; i < 25; i++) {
            char *next = h_fmt("%sX-F%d: %d\r\n", fields, i, i);

            free(fields);
            fields = next;
        }
        raw = h_fmt("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n%s\r\nok", fields);
        free(fields);
    }
    enc = h_pct_encode(raw);
    params = h_fmt("cc=no-store&raw=%s", enc);
    assert_int_equal(script("/many", params), 0);
    r = get_via(l->port, OP, "/many", NULL);
    assert_status(r, 502, "too many response fields");
    h_response_free(r);
    assert_next_on_new_connection(l->port, "too many response fields");
    free(params);
    free(enc);
    free(raw);

    /* just under the limit is fine */
    h_origin_reset(OP);
    pad[3000] = '\0';
    raw = h_fmt("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: %s\r\n\r\nok", pad);
    enc = h_pct_encode(raw);
    params = h_fmt("cc=no-store&raw=%s", enc);
    assert_int_equal(script("/fits", params), 0);
    r = get_via(l->port, OP, "/fits", NULL);
    assert_status(r, 200, "head under the limit");
    assert_string_equal(r->body, "ok");
    h_response_free(r);
    free(params);
    free(enc);
    free(raw);
    free(pad);
    assert_int_equal(h_larder_stop(l), 0);
}

/* A chunked response body that breaks its framing: the head has gone out,
 * so the client's response is cut off, never completed. */
static void test_bad_response_body_cut_off(void **state)
{
    static const char *const raws[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n012345\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n01234\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\n01234\r\n0\r\n\r\n",
        NULL
    };

    struct h_proc *l = own_larder(NULL);

    (void)state;
    for (const char *const *raw = raws; *raw; raw++) {
        char *enc = h_pct_encode(*raw);
        char *path = h_fmt("/cut?cc=max-age%%3D60&raw=%s", enc);
        char *req = h_req("GET", OP, path, NULL);

        h_origin_reset(OP);
        for (int round = 0; round < 2; round++) {
            struct h_conn *c = conn_to(l->port);
            struct h_response *r;

            assert_int_equal(h_conn_send_str(c, req), 0);
            r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
            if (r) {
                assert_false(r->complete);
                assert_true(c->eof || c->reset);
            }
            h_response_free(r);
            h_conn_close(c);
            assert_next_on_new_connection(l->port, *raw);
        }
        /* not stored: both rounds went to the origin */
        assert_int_equal(origin_count("/cut"), 2);
        free(req);
        free(path);
        free(enc);
    }
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* Point 2: a pooled connection never gives one request another's answer */

static void test_bytes_after_response_not_handed_on(void **state)
{
    static const struct {
        const char *method;
        const char *raw;
        const char *body;         /* what the client gets */
    } cases[] = {
        { "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok"
          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\nEVIL", "ok" },
        { "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: no-store\r\n\r\n"
          "2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL", "ok" },
        { "POST", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEVIL", "ok" },
        /* bodies on responses that have none */
        { "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL", "" },
        { "GET", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
          "" },
        { "POST", "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
          "" },
        /* a 1xx, the answer, then more */
        { "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
          "Cache-Control: no-store\r\n\r\nokEVIL", "ok" },
    };

    struct h_proc *l = own_larder(NULL);

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *enc = h_pct_encode(cases[i].raw);
        char *path = h_fmt("/extra?cc=no-store&raw=%s", enc);
        int post = strcmp(cases[i].method, "POST") == 0;
        char *req = h_req(cases[i].method, OP, path, post ? "Content-Length: 0\r\n" : NULL);
        char *next = h_req("GET", OP, "/own?cc=no-store", NULL);
        struct h_conn *c = conn_to(l->port);
        struct h_response *r;
        long before;

        h_origin_reset(OP);
        assert_int_equal(h_conn_send_str(c, req), 0);
        r = h_conn_read_response(c, cases[i].method, H_TIMEOUT_MS);
        if (!r)
            fail_msg("case %zu: no response: %s", i, h_error());
        if (!r->complete || strcmp(r->body, cases[i].body) != 0)
            fail_msg("case %zu: got \"%s\" (complete %d), expected \"%s\"", i, r->body,
                     r->complete, cases[i].body);
        h_response_free(r);
        /* the same client connection goes on in step, and its next request
         * is not answered from the leftovers: the origin connection that
         * had them was closed, never pooled */
        before = origin_conns();
        assert_int_equal(h_conn_send_str(c, next), 0);
        r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
        if (!r || r->status != 200 || strcmp(r->body, "origin /own version 0\n") != 0)
            fail_msg("case %zu: the next request got \"%s\"", i, r ? r->body : h_error());
        h_response_free(r);
        if (origin_conns() != before + 1)
            fail_msg("case %zu: the connection with leftover bytes was reused", i);
        /* and a new client gets its own answer too */
        r = get_via(l->port, OP, "/own?cc=no-store", NULL);
        assert_string_equal(r->body, "origin /own version 0\n");
        h_response_free(r);
        h_conn_close(c);
        free(next);
        free(req);
        free(path);
        free(enc);
    }
    assert_int_equal(h_larder_stop(l), 0);
}

/* Bytes arriving on a pooled connection while it sits idle: discarded
 * with the connection, never read as the next request's response. */
static void test_unsolicited_bytes_on_idle_connection(void **state)
{
    struct mini *m = mini_start();
    struct h_response *r;

    (void)state;
    r = get_via(LP, m->port, "/junk", NULL);
    assert_status(r, 200, "first request");
    assert_string_equal(r->body, "ok");
    h_response_free(r);
    h_sleep_ms(400 * h_slow());     /* the junk arrives while the connection is idle */
    r = get_via(LP, m->port, "/second", NULL);
    assert_status(r, 200, "second request");
    if (strcmp(r->body, "/second") != 0)
        fail_msg("the second request got \"%s\"", r->body);
    h_response_free(r);
    /* again, and from the cache's point of view: the EVIL response said
     * max-age=600; nothing of it may have been stored */
    r = get_via(LP, m->port, "/second", NULL);
    assert_string_equal(r->body, "/second");
    h_response_free(r);
    assert_int_equal(mini_nconns(m), 2);
    assert_int_equal(mini_conn(m, 0).requests, 1);
    assert_int_equal(mini_conn(m, 1).requests, 2);
    mini_stop(m);
}

/* ------------------------------------------------------------------ */
/* Point 5: the origin resets or stops in the middle of a body          */

static void test_reset_mid_body_never_stored(void **state)
{
    static const char *const breaks[] = {
        "abort_after=50000&rst=1",                /* RST, Content-Length */
        "abort_after=50000",                      /* FIN, Content-Length */
        "chunked=1&chunk=10000&abort_after=50000&rst=1", /* RST, chunked */
        "chunked=1&chunk=10000&abort_after=50000",       /* FIN, chunked */
        "nolen=1&abort_after=50000&rst=1",        /* RST, ends at close */
        NULL
    };

    (void)state;
    for (const char *const *b = breaks; *b; b++) {
        char *bad = h_fmt("len=200000&cc=max-age%%3D60&%s", *b);
        struct h_response *r;

        h_origin_reset(OP);
        /* pass-through */
        {
            char *path = h_fmt("/pass?cc=no-store&len=200000&%s", *b);

            get_truncated(LP, path, *b);
            free(path);
        }
        /* cacheable: truncated, then fixed at the origin */
        assert_int_equal(script("/rm", bad), 0);
        get_truncated(LP, "/rm", *b);
        assert_int_equal(script("/rm", "len=200000&cc=max-age%3D60"), 0);
        r = get("/rm");
        assert_pattern_body(r, 200000, *b);
        assert_int_equal(origin_count("/rm"), 2);   /* nothing was stored */
        h_response_free(r);
        r = get("/rm");                               /* now a hit */
        assert_pattern_body(r, 200000, *b);
        assert_int_equal(origin_count("/rm"), 2);
        h_response_free(r);
        /* forget it for the next round */
        {
            char *purge = h_fmt("PURGE http://127.0.0.1:%d/rm HTTP/1.1\r\nHost: x\r\n\r\n", OP);

            h_response_free(h_request(LP, purge, H_TIMEOUT_MS));
            free(purge);
        }
        free(bad);
    }
}

/* Clients reading a fill as it arrives all see the break, none an end */
static void test_truncated_fill_cuts_every_reader(void **state)
{
    struct h_conn *a, *b;
    char *raw = h_req("GET", OP, "/shared", NULL);
    struct h_response *ra, *rb;

    (void)state;
    assert_int_equal(script("/shared", "len=400000&drip_ms=30&drip_bytes=20000&"
                                       "abort_after=200000&rst=1&cc=max-age%3D60"), 0);
    a = conn_to(LP);
    assert_int_equal(h_conn_send_str(a, raw), 0);
    h_sleep_ms(150);
    b = conn_to(LP);
    assert_int_equal(h_conn_send_str(b, raw), 0);
    ra = h_conn_read_response(a, "GET", H_TIMEOUT_MS);
    rb = h_conn_read_response(b, "GET", H_TIMEOUT_MS);
    assert_non_null(ra);
    assert_truncated(ra, a, "first reader");
    if (rb)
        assert_truncated(rb, b, "second reader");
    assert_int_equal(origin_count("/shared"), 1);   /* they shared one fetch */
    h_response_free(ra);
    h_response_free(rb);
    h_conn_close(a);
    h_conn_close(b);
    /* and nothing was stored */
    assert_int_equal(script("/shared", "len=1000&cc=max-age%3D60"), 0);
    ra = get("/shared");
    assert_pattern_body(ra, 1000, "after the break");
    assert_int_equal(origin_count("/shared"), 2);
    h_response_free(ra);
    free(raw);
}

/* ------------------------------------------------------------------ */
/* Point 5: the origin closes a pooled connection as it is reused        */

static void test_dropped_pooled_connection_retried_once(void **state)
{
    struct h_proc *l = own_larder(NULL);
    struct h_response *r;
    long conns = -1;
    char *raw;

    (void)state;
    /* a cacheable GET is sent again on a new connection, once */
    r = get_via(l->port, OP, "/p1?cc=no-store&drop_next=1", NULL);
    assert_status(r, 200, "priming");
    h_response_free(r);
    r = get_via(l->port, OP, "/p2?cc=max-age%3D60", NULL);
    assert_status(r, 200, "retried GET");
    assert_string_equal(r->body, "origin /p2 version 0\n");
    h_response_free(r);
    assert_int_equal(origin_count("/p2"), 2);
    origin_stats(&conns, NULL);
    assert_int_equal(conns, 2);
    r = get_via(l->port, OP, "/p2?cc=max-age%3D60", NULL);   /* stored whole: a hit */
    assert_string_equal(r->body, "origin /p2 version 0\n");
    assert_int_equal(origin_count("/p2"), 2);
    h_response_free(r);

    /* a POST is never sent twice */
    h_origin_reset(OP);
    r = get_via(l->port, OP, "/p3?cc=no-store&drop_next=1", NULL);
    h_response_free(r);
    raw = h_fmt("POST http://127.0.0.1:%d/p4 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata",
                OP);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_status(r, 502, "POST on a dropped connection");
    h_response_free(r);
    free(raw);
    assert_int_equal(origin_count("/p4"), 1);

    /* the retry itself failing is not retried again */
    h_origin_reset(OP);
    r = get_via(l->port, OP, "/p5?cc=no-store&drop_next=1", NULL);
    h_response_free(r);
    r = get_via(l->port, OP, "/p6?cc=max-age%3D60&rst=1", NULL);
    assert_status(r, 502, "retry reset too");
    h_response_free(r);
    assert_int_equal(origin_count("/p6"), 2);
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* Point 5: DNS failure and timeout, refused connections                 */

static void test_dns_failure_and_refused(void **state)
{
    static const char *const names[] = { "nonexistent.invalid", "invalid", "a.b.INVALID", NULL };
    int port = h_free_port();

    (void)state;
    for (const char *const *n = names; *n; n++) {
        char *raw = h_fmt("GET http://%s/x HTTP/1.1\r\nHost: %s\r\n\r\n", *n, *n);
        uint64_t t0 = h_now_ms();
        struct h_response *r = h_request(LP, raw, H_TIMEOUT_MS);

        assert_non_null(r);
        assert_status(r, 502, *n);
        assert_true(h_now_ms() - t0 < 2000ull * (uint64_t)h_slow());
        h_response_free(r);
        free(raw);
    }
    /* nothing listens there: refused, at once, for GET and POST */
    for (int post = 0; post < 2; post++) {
        char *raw = post ? h_fmt("POST http://127.0.0.1:%d/x HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Length: 2\r\n\r\nhi", port)
                         : h_fmt("GET http://127.0.0.1:%d/x?cc=max-age%%3D60 HTTP/1.1\r\n"
                                 "Host: x\r\n\r\n", port);
        uint64_t t0 = h_now_ms();
        struct h_response *r = h_request(LP, raw, H_TIMEOUT_MS);

        assert_non_null(r);
        assert_status(r, 502, "refused");
        assert_non_null(strcasestr(r->body, "refused"));
        assert_true(h_now_ms() - t0 < 2000ull * (uint64_t)h_slow());
        h_response_free(r);
        free(raw);
    }
    /* the fixture origin was never involved */
    {
        long conns = -1, reqs = -1;

        origin_stats(&conns, &reqs);
        assert_int_equal(conns, 0);
        assert_int_equal(reqs, 0);
    }
}

/* larder as given by LARDER_BIN, or next to the tests as the harness finds it */
static char *larder_bin(void)
{
    const char *bin = getenv("LARDER_BIN");
    char self[4096];
    ssize_t n;

    if (bin && *bin)
        return strdup(bin);
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    return h_fmt("%s/../larder", self);
}

/* A DNS server that never answers: a UDP socket nobody reads until the end.
 * larder reads /etc/resolv.conf, so it runs in a mount namespace of its own
 * where that file names this socket. Skipped where namespaces are not
 * available (not root, or no CAP_SYS_ADMIN). */
static void test_dns_timeout_504(void **state)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    char dir[] = "/tmp/larder-dns-XXXXXX";
    char *resolv, *wrapper, *real, *check, *out = NULL, *old;
    struct h_proc *l;
    struct h_response *r;
    uint64_t t0, took;
    int queries = 0, rc;
    char buf[512];
    FILE *f;

    (void)state;
    assert_true(ufd >= 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ufd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(ufd, (struct sockaddr *)&sin, &len), 0);
    assert_non_null(mkdtemp(dir));
    resolv = h_fmt("%s/resolv.conf", dir);
    wrapper = h_fmt("%s/larder-ns", dir);
    f = fopen(resolv, "w");
    assert_non_null(f);
    fprintf(f, "nameserver 127.0.0.1:%d\n", ntohs(sin.sin_port));
    fclose(f);

    check = h_fmt("unshare -m sh -c 'mount --bind \"$1\" /etc/resolv.conf && "
                  "cat /etc/resolv.conf' sh %s 2>&1", resolv);
    rc = h_run(check, &out, NULL, 10000);
    if (rc != 0 || !out || !strstr(out, "nameserver 127.0.0.1:")) {
        fprintf(stderr, "note: no mount namespace here (%s); DNS timeout test skipped\n",
                out ? out : "?");
        free(out);
        free(check);
        unlink(resolv);
        rmdir(dir);
        free(resolv);
        free(wrapper);
        close(ufd);
        skip();
    }
    free(out);
    free(check);

    real = larder_bin();
    f = fopen(wrapper, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\nexec unshare -m sh -c 'mount --bind \"$1\" /etc/resolv.conf && "
               "shift && exec \"$@\"' sh '%s' '%s' \"$@\"\n", resolv, real);
    fclose(f);
    assert_int_equal(chmod(wrapper, 0755), 0);
    old = getenv("LARDER_BIN") ? strdup(getenv("LARDER_BIN")) : NULL;
    setenv("LARDER_BIN", wrapper, 1);
    l = own_larder("dns_timeout 600ms\n");
    if (old)
        setenv("LARDER_BIN", old, 1);
    else
        unsetenv("LARDER_BIN");

    {
        char *raw = h_fmt("GET http://never-answered.larder-test.example/x HTTP/1.1\r\n"
                          "Host: never-answered.larder-test.example\r\n\r\n");

        t0 = h_now_ms();
        r = h_request(l->port, raw, H_TIMEOUT_MS);
        took = h_now_ms() - t0;
        free(raw);
    }
    assert_non_null(r);
    assert_status(r, 504, "DNS timeout");
    if (took < 400 || took > 4000ull * (uint64_t)h_slow())
        fail_msg("DNS timeout answered after %llu ms, expected about 600",
                 (unsigned long long)took);
    h_response_free(r);
    /* the "server" did get the questions */
    while (recv(ufd, buf, sizeof buf, 0) > 0)
        queries++;
    assert_true(queries >= 1);
    assert_int_equal(h_larder_stop(l), 0);

    close(ufd);
    unlink(wrapper);
    unlink(resolv);
    rmdir(dir);
    free(real);
    free(old);
    free(resolv);
    free(wrapper);
}

/* ------------------------------------------------------------------ */
/* Point 5: the client goes away in the middle of a response             */

/* Starts a download of <path> from the mini origin, reads its head and some
 * body, then closes the connection with bytes unread (a reset). */
static void start_and_abandon(int lport, struct mini *m, const char *path)
{
    struct h_conn *c = conn_to(lport);
    char *raw = h_req("GET", m->port, path, NULL);
    char buf[100000];

    assert_int_equal(h_conn_send_str(c, raw), 0);
    assert_int_equal(h_conn_read_exact(c, buf, sizeof buf, H_TIMEOUT_MS), 0);
    assert_non_null(strstr(buf, "200 OK"));
    h_conn_close(c);
    free(raw);
}

static void test_client_gone_pass_through_stops_fetch(void **state)
{
    struct mini *m = mini_start();
    struct mini_conn mc;
    const uint64_t total = 16ull * 1024 * 1024;   /* 2.6 s at the drip rate */
    char *path = h_fmt("/drip?cc=no-store&total=%llu", (unsigned long long)total);

    (void)state;
    start_and_abandon(LP, m, path);
    mc = mini_wait_download(m, 0, 5000);
    if (!mc.send_failed || mc.sent >= total / 2)
        fail_msg("pass-through: the origin sent %llu of %llu bytes, failed %d: the fetch "
                 "went on without a reader", (unsigned long long)mc.sent,
                 (unsigned long long)total, mc.send_failed);
    free(path);
    mini_stop(m);
}

static void test_client_gone_cacheable_fetch_completes(void **state)
{
    struct mini *m = mini_start();
    struct mini_conn mc;
    const uint64_t total = 4ull * 1024 * 1024;    /* 0.65 s at the drip rate */
    char *path = h_fmt("/drip?cc=max-age%%3D60&total=%llu", (unsigned long long)total);
    struct h_response *r;

    (void)state;
    start_and_abandon(LP, m, path);
    mc = mini_wait_download(m, 0, 10000);
    if (!mc.completed || mc.sent != total)
        fail_msg("cacheable: the origin sent %llu of %llu bytes, failed %d: the fill "
                 "stopped with its client", (unsigned long long)mc.sent,
                 (unsigned long long)total, mc.send_failed);
    h_sleep_ms(100);
    r = get_via(LP, m->port, path, NULL);          /* stored whole: a hit */
    assert_pattern_body(r, total, "hit after the client left");
    assert_non_null(strstr(h_header_get(r, "Cache-Status"), "hit"));
    h_response_free(r);
    assert_int_equal(mini_nconns(m), 1);
    free(path);
    mini_stop(m);
}

static void test_client_gone_too_big_to_store_stops_fetch(void **state)
{
    struct h_proc *l = own_larder("cache_size 8M\nmax_object_size 1M\n");
    struct mini *m = mini_start();
    struct mini_conn mc;
    const uint64_t total = 16ull * 1024 * 1024;
    char *path = h_fmt("/drip?cc=max-age%%3D60&total=%llu", (unsigned long long)total);
    char *path2 = h_fmt("/drip2?cc=max-age%%3D60&nolen=1&total=%llu", (unsigned long long)total);

    (void)state;
    /* known too big from its Content-Length */
    start_and_abandon(l->port, m, path);
    mc = mini_wait_download(m, 0, 5000);
    if (!mc.send_failed || mc.sent >= total / 2)
        fail_msg("too big (Content-Length): origin sent %llu of %llu, failed %d",
                 (unsigned long long)mc.sent, (unsigned long long)total, mc.send_failed);
    /* found too big while storing (no length): the fill is abandoned too */
    start_and_abandon(l->port, m, path2);
    mc = mini_wait_download(m, 1, 5000);
    if (!mc.send_failed || mc.sent >= total / 2)
        fail_msg("too big (read to close): origin sent %llu of %llu, failed %d",
                 (unsigned long long)mc.sent, (unsigned long long)total, mc.send_failed);
    free(path);
    free(path2);
    mini_stop(m);
    assert_int_equal(h_larder_stop(l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ambiguous_response_framing_502, reset_origin),
        cmocka_unit_test_setup(test_response_head_over_limit_502, reset_origin),
        cmocka_unit_test_setup(test_bad_response_body_cut_off, reset_origin),
        cmocka_unit_test_setup(test_bytes_after_response_not_handed_on, reset_origin),
        cmocka_unit_test_setup(test_unsolicited_bytes_on_idle_connection, reset_origin),
        cmocka_unit_test_setup(test_reset_mid_body_never_stored, reset_origin),
        cmocka_unit_test_setup(test_truncated_fill_cuts_every_reader, reset_origin),
        cmocka_unit_test_setup(test_dropped_pooled_connection_retried_once, reset_origin),
        cmocka_unit_test_setup(test_dns_failure_and_refused, reset_origin),
        cmocka_unit_test_setup(test_dns_timeout_504, reset_origin),
        cmocka_unit_test_setup(test_client_gone_pass_through_stops_fetch, reset_origin),
        cmocka_unit_test_setup(test_client_gone_cacheable_fetch_completes, reset_origin),
        cmocka_unit_test_setup(test_client_gone_too_big_to_store_stops_fetch, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
