/* SPDX-License-Identifier: MIT */
/* test_lifecycle.c - larder as a process (issue 2, sections 2, 5, 8): the
 * command line and --check-config, SIGTERM/SIGINT with requests in flight,
 * SIGUSR1 and log reopening, the access-log line, max_connections, and
 * clients that misbehave (malformed heads, slowloris, vanishing mid-body,
 * idle keep-alive) without hurting the others. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* <ms> stretched for a slow larder (LARDER_TEST_SLOW, see harness.h) */
#define SLOW(ms) ((uint64_t)(ms) * (uint64_t)h_slow())

#define CMD_TIMEOUT_MS 20000

struct fx {
    struct h_proc *origin;
    char *dir;                    /* scratch dir for config and log files */
};

static int OP;
static const char *scratch;

static int group_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    const char *tmp = getenv("TMPDIR");

    if (!fx)
        return -1;
    *state = fx;
    fx->origin = h_origin_start();
    if (!fx->origin)
        return -1;
    OP = fx->origin->port;
    fx->dir = h_fmt("%s/larder-lifecycle-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir))
        return -1;
    scratch = fx->dir;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    int rc = h_proc_stop(fx->origin) == 0 ? 0 : -1;
    char *cmd = h_fmt("rm -rf '%s'", fx->dir);

    h_run(cmd, NULL, NULL, CMD_TIMEOUT_MS);
    free(cmd);
    free(fx->dir);
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

static const char *larder_bin(void)
{
    const char *bin = getenv("LARDER_BIN");

    return bin && *bin ? bin : "../larder";
}

static struct h_proc *start(const char *conf)
{
    struct h_proc *p = h_larder_start(conf);

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

/* Writes <text> to <scratch>/<name>; returns the path. */
static char *write_file(const char *name, const char *text)
{
    char *path = h_fmt("%s/%s", scratch, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Runs larder with <args>; returns its exit status, output in out and err. */
static int run_larder(const char *args, char **out, char **err)
{
    char *cmd = h_fmt("'%s' %s", larder_bin(), args);
    int rc = h_run(cmd, out, err, CMD_TIMEOUT_MS);

    free(cmd);
    return rc;
}

/* Waits until <path> on the origin has been requested <n> times. */
static void wait_origin_count(const char *path, long n)
{
    uint64_t deadline = h_now_ms() + SLOW(H_TIMEOUT_MS);

    while (h_origin_count(OP, path) < n && h_now_ms() < deadline)
        h_sleep_ms(10);
    assert_int_equal(h_origin_count(OP, path), n);
}

/* Waits until connecting to <port> is refused. Returns 0, or -1. */
static int wait_refused(int port)
{
    uint64_t deadline = h_now_ms() + SLOW(H_TIMEOUT_MS);

    while (h_now_ms() < deadline) {
        struct h_conn *c = h_conn_open(port);

        if (!c)
            return 0;
        h_conn_close(c);
        h_sleep_ms(10);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void test_help_and_version(void **state)
{
    const char *helps[] = { "--help", "-h", NULL };
    const char *versions[] = { "--version", "-V", NULL };

    (void)state;
    for (const char **a = helps; *a; a++) {
        char *out = NULL, *err = NULL;

        assert_int_equal(run_larder(*a, &out, &err), 0);
        assert_non_null(strcasestr(out, "usage"));
        assert_non_null(strstr(out, "--check-config"));
        assert_non_null(strstr(out, "--listen"));
        assert_non_null(strstr(out, "--max-connections"));
        free(out);
        free(err);
    }
    for (const char **a = versions; *a; a++) {
        char *out = NULL, *err = NULL;

        assert_int_equal(run_larder(*a, &out, &err), 0);
        assert_true(strncmp(out, "larder ", 7) == 0);
        assert_true(out[7] >= '0' && out[7] <= '9');
        free(out);
        free(err);
    }
}

static void test_check_config_and_bad_options(void **state)
{
    char *good = write_file("good.conf", "# a comment\nlisten 127.0.0.1:3999\n\n"
                                         "via_name cache#1   # trailing comment\n"
                                         "max_connections 100\n");
    char *bad_name = write_file("bad-name.conf", "listen 127.0.0.1:3999\n\nmax_conections 5\n");
    char *bad_value = write_file("bad-value.conf", "listen 127.0.0.1:3999\n"
                                                   "max_connections lots\n");
    struct {
        char *args;
        int status;
        const char *needle[3];    /* in stderr */
    } cases[] = {
        { h_fmt("--check-config '%s'", good), 0, { NULL } },
        { h_fmt("--check-config '%s'", bad_name), 2, { ":3:", "max_conections", NULL } },
        { h_fmt("--check-config '%s'", bad_value), 2, { ":2:", "max_connections", "lots" } },
        { h_fmt("--check-config '%s' --max-connections 0", good), 2,
          { "max_connections", NULL } },
        { h_fmt("--check-config '%s' --keepalive-timeout 1.5s", good), 2,
          { "keepalive_timeout", NULL } },
        { h_fmt("--config '%s'", bad_name), 2, { "max_conections", NULL } },
        { h_fmt("--bogus-option 1"), 2, { "--bogus-option", NULL } },
        { h_fmt("--max-connections"), 2, { "--max-connections", NULL } },
        { h_fmt("--listen 127.0.0.1:0"), 2, { "listen", NULL } },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = run_larder(cases[i].args, &out, &err);

        if (rc != cases[i].status)
            fail_msg("larder %s: exit %d, expected %d; stderr: %s", cases[i].args, rc,
                     cases[i].status, err);
        for (int k = 0; k < 3 && cases[i].needle[k]; k++)
            if (!strstr(err, cases[i].needle[k]))
                fail_msg("larder %s: stderr does not name \"%s\": %s", cases[i].args,
                         cases[i].needle[k], err);
        if (rc == 2 && strstr(out, "listening"))
            fail_msg("larder %s started despite the error", cases[i].args);
        free(out);
        free(err);
        free(cases[i].args);
    }
    free(good);
    free(bad_name);
    free(bad_value);
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */

static void test_sigterm_finishes_request_in_flight(void **state)
{
    struct h_proc *l = start(NULL);
    struct h_conn *busy = conn_to(l->port);
    struct h_conn *idle = conn_to(l->port);
    char *raw = h_req("POST", OP, "/inflight?delay_ms=4000&len=300000",
                      "Content-Length: 0\r\n");
    struct h_response *r;
    char *rest;
    size_t n = 0;

    (void)state;
    assert_int_equal(h_conn_send_str(busy, raw), 0);
    wait_origin_count("/inflight", 1);     /* it is at the origin now */
    assert_int_equal(h_proc_signal(l, SIGTERM), 0);

    /* no new connections once the signal is handled */
    if (wait_refused(l->port) != 0)
        fail_msg("larder still accepts connections after SIGTERM");
    assert_int_equal(h_proc_wait(l, 0), -2);   /* still finishing */
    /* an idle connection is closed */
    rest = h_conn_read_until_close(idle, H_TIMEOUT_MS, &n);
    assert_true(idle->eof || idle->reset);
    assert_int_equal(n, 0);
    free(rest);

    /* the request in flight is answered in full, then the connection ends */
    r = h_conn_read_response(busy, "POST", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_true(r->complete);
    assert_int_equal(r->body_len, 300000);
    assert_int_equal(h_pattern_mismatch(r->body, 0, 300000), 300000);
    rest = h_conn_read_until_close(busy, H_TIMEOUT_MS, &n);
    assert_true(busy->eof);
    free(rest);
    assert_int_equal(h_proc_wait(l, H_TIMEOUT_MS), 0);
    assert_int_equal(h_larder_stop(l), 0);
    h_response_free(r);
    free(raw);
    h_conn_close(busy);
    h_conn_close(idle);
}

static void test_sigterm_deadline(void **state)
{
    struct h_proc *l = start("shutdown_timeout 1s\n");
    struct h_conn *c = conn_to(l->port);
    char *raw = h_req("POST", OP, "/too-slow?delay_ms=8000", "Content-Length: 0\r\n");
    uint64_t t0;
    int rc;
    char *rest;

    (void)state;
    assert_int_equal(h_conn_send_str(c, raw), 0);
    wait_origin_count("/too-slow", 1);
    t0 = h_now_ms();
    assert_int_equal(h_proc_signal(l, SIGTERM), 0);
    rc = h_proc_wait(l, H_TIMEOUT_MS);
    assert_int_equal(rc, 0);
    if (h_now_ms() - t0 > SLOW(5000))
        fail_msg("larder took %llu ms to stop with shutdown_timeout 1s",
                 (unsigned long long)(h_now_ms() - t0));
    /* the client is not left hanging */
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, NULL);
    assert_true(c->eof || c->reset);
    free(rest);
    assert_int_equal(h_larder_stop(l), 0);
    free(raw);
    h_conn_close(c);
}

static void test_sigint_stops_cleanly(void **state)
{
    struct h_proc *l = start(NULL);
    struct h_conn *c = conn_to(l->port);
    char *raw = h_req("GET", OP, "/int?cc=no-store", NULL);
    struct h_response *r;

    (void)state;
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    /* SIGPIPE is ignored: a client gone before its answer does not kill */
    assert_int_equal(h_conn_send_str(c, raw), 0);
    h_conn_close(c);
    assert_int_equal(h_proc_signal(l, SIGINT), 0);
    assert_int_equal(h_proc_wait(l, H_TIMEOUT_MS), 0);
    assert_int_equal(h_larder_stop(l), 0);
    free(raw);
}

static void test_sigusr1_reopens_logs(void **state)
{
    char *dir = h_fmt("%s/usr1", scratch);
    char *alog = h_fmt("%s/access.log", dir);
    char *elog = h_fmt("%s/error.log", dir);
    char *alog1 = h_fmt("%s.1", alog);
    char *elog1 = h_fmt("%s.1", elog);
    char *conf = h_fmt("access_log %s\nerror_log %s\nlog_level info\n", alog, elog);
    struct h_proc *l;
    struct h_response *r;
    char *raw, *text;

    (void)state;
    assert_int_equal(mkdir(dir, 0700), 0);
    l = start(conf);
    raw = h_req("GET", OP, "/before-rotation?cc=no-store", NULL);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    h_response_free(r);
    free(raw);
    assert_int_equal(h_wait_file_contains(alog, "/before-rotation", H_TIMEOUT_MS), 0);

    /* logrotate: rename, then SIGUSR1 */
    assert_int_equal(rename(alog, alog1), 0);
    assert_int_equal(rename(elog, elog1), 0);
    assert_int_equal(h_proc_signal(l, SIGUSR1), 0);
    /* larder says so in the new error log once it has reopened */
    if (h_wait_file_contains(elog, "reopen", H_TIMEOUT_MS) != 0)
        fail_msg("no new error log mentioning the reopen after SIGUSR1");
    raw = h_req("GET", OP, "/after-rotation?cc=no-store", NULL);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    assert_int_equal(h_wait_file_contains(alog, "/after-rotation", H_TIMEOUT_MS), 0);

    text = h_read_file(alog, NULL);
    assert_null(strstr(text, "/before-rotation"));
    free(text);
    text = h_read_file(alog1, NULL);
    assert_non_null(strstr(text, "/before-rotation"));
    assert_null(strstr(text, "/after-rotation"));
    free(text);
    assert_int_equal(h_larder_stop(l), 0);
    free(conf);
    free(elog1);
    free(alog1);
    free(elog);
    free(alog);
    free(dir);
}

/* ------------------------------------------------------------------ */
/* The access log                                                      */

/* The access-log line whose URL field ends with <url_tail>, split into
 * its fields (malloc'd copy in *line_out; fields point into it). */
static int log_fields(const char *path, const char *url_tail, char **line_out, char *f[12])
{
    char *text, *line, *save = NULL;
    int n = 0;

    assert_int_equal(h_wait_file_contains(path, url_tail, H_TIMEOUT_MS), 0);
    text = h_read_file(path, NULL);
    assert_non_null(text);
    line = strstr(text, url_tail);
    while (line > text && line[-1] != '\n')
        line--;
    *line_out = strndup(line, strcspn(line, "\n"));
    free(text);
    for (char *tok = strtok_r(*line_out, " ", &save); tok && n < 12;
         tok = strtok_r(NULL, " ", &save))
        f[n++] = tok;
    return n;
}

static void test_access_log_lines(void **state)
{
    struct h_proc *l = start("via_name larder-test\n");
    struct h_conn *c;
    struct h_response *r;
    char *raw, *line, *url, *bytes, *f[12];
    size_t got = 0;

    (void)state;
    /* a pass-through POST: the bytes field counts head and body sent */
    c = conn_to(l->port);
    raw = h_req("POST", OP, "/al-post?status=201&len=777",
                "Content-Length: 2\r\nConnection: close\r\n");
    assert_int_equal(h_conn_send_str(c, raw), 0);
    assert_int_equal(h_conn_send_str(c, "hi"), 0);
    free(h_conn_read_until_close(c, H_TIMEOUT_MS, &got));
    h_conn_close(c);
    free(raw);
    assert_int_equal(log_fields(l->access_log_path, "/al-post?status=201&len=777", &line, f), 9);
    /* 2026-11-28T04:10:00.123Z */
    assert_int_equal(strlen(f[0]), 24);
    assert_true(f[0][4] == '-' && f[0][10] == 'T' && f[0][19] == '.' && f[0][23] == 'Z');
    assert_string_equal(f[1], "127.0.0.1");
    assert_string_equal(f[2], "POST");
    url = h_fmt("http://127.0.0.1:%d/al-post?status=201&len=777", OP);
    assert_string_equal(f[3], url);
    assert_string_equal(f[4], "201");
    bytes = h_fmt("%zu", got);
    assert_string_equal(f[5], bytes);
    assert_non_null(strchr(f[6], '.'));
    assert_string_equal(f[7], "PASS");
    assert_string_equal(f[8], "201");
    free(bytes);
    free(url);
    free(line);

    /* an error larder answered itself: no upstream status */
    raw = h_req("GET", h_free_port(), "/al-refused?cc=no-store", NULL);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 502);
    h_response_free(r);
    free(raw);
    assert_int_equal(log_fields(l->access_log_path, "/al-refused?cc=no-store", &line, f), 9);
    assert_string_equal(f[4], "502");
    assert_string_equal(f[7], "ERROR");
    assert_string_equal(f[8], "-");
    free(line);

    /* a URL with a space-like byte cannot add a field (it is escaped) */
    raw = h_fmt("GET http://127.0.0.1:%d/al-\"quote\"?cc=no-store HTTP/1.1\r\nHost: x\r\n\r\n",
                OP);
    r = h_request(l->port, raw, H_TIMEOUT_MS);
    assert_non_null(r);
    h_response_free(r);
    free(raw);
    assert_int_equal(log_fields(l->access_log_path, "quote", &line, f), 9);
    free(line);
    assert_int_equal(h_larder_stop(l), 0);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void test_max_connections(void **state)
{
    struct h_proc *l = start("max_connections 4\n");
    struct h_conn *busy[4], *extra;
    struct h_response *r;
    char *raw = h_req("POST", OP, "/mc?delay_ms=1500", "Content-Length: 0\r\n");
    char *get = h_req("GET", OP, "/mc-next?cc=no-store", NULL);

    (void)state;
    /* four requests in flight fill the proxy */
    for (int i = 0; i < 4; i++) {
        busy[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(busy[i], raw), 0);
    }
    wait_origin_count("/mc", 4);

    /* the fifth: refused with 503 (or made to wait), never a hang or reset
     * without an answer */
    extra = conn_to(l->port);
    h_conn_send_str(extra, get);  /* may fail: larder may have closed already */
    r = h_conn_read_response(extra, "GET", H_TIMEOUT_MS);
    if (!r)
        fail_msg("fifth connection: no answer (%s)", h_error());
    if (r->status != 503 && r->status != 200)
        fail_msg("fifth connection: status %d", r->status);
    if (r->status == 503)
        assert_true(r->complete);
    h_response_free(r);
    h_conn_close(extra);
    /* the four are served in full */
    for (int i = 0; i < 4; i++) {
        r = h_conn_read_response(busy[i], "POST", H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        h_conn_close(busy[i]);
    }
    /* with room again, new clients are served */
    for (int i = 0; i < 6; i++) {
        r = h_request(l->port, get, H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
    }
    assert_int_equal(h_larder_stop(l), 0);
    free(get);
    free(raw);
}

static void test_max_connections_idle_ones(void **state)
{
    struct h_proc *l = start("max_connections 4\n");
    struct h_conn *idle[4];
    char *get = h_req("GET", OP, "/mci?cc=no-store", NULL);
    struct h_response *r;

    (void)state;
    /* four idle keep-alive connections (each served once) */
    for (int i = 0; i < 4; i++) {
        idle[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(idle[i], get), 0);
        r = h_conn_read_response(idle[i], "GET", H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
    }
    /* a new client gets an answer: served (an idle one closed) or 503 */
    r = h_request(l->port, get, H_TIMEOUT_MS);
    if (!r)
        fail_msg("fifth connection: no answer (%s)", h_error());
    assert_true(r->status == 200 || r->status == 503);
    h_response_free(r);
    for (int i = 0; i < 4; i++)
        h_conn_close(idle[i]);
    assert_int_equal(h_larder_stop(l), 0);
    free(get);
}

static void test_malformed_request_then_next_client(void **state)
{
    struct h_proc *l = start(NULL);
    struct h_conn *waiting = conn_to(l->port);   /* opened before the bad one */
    static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    const struct {
        const char *data;
        size_t len;
    } bad[] = {
        { "GARBAGE\r\n\r\n", 0 },
        { "GET http://127.0.0.1/\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 0 },
        { tls_hello, sizeof tls_hello - 1 },
        { "GET http://127.0.0.1/ HTTP/1.1\nHost: x\n\n", 0 },      /* bare LF */
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0 },
        { NULL, 0 }
    };
    char *get = h_req("GET", OP, "/after-bad?cc=no-store", NULL);
    struct h_response *r;

    (void)state;
    for (size_t i = 0; bad[i].data; i++) {
        struct h_conn *c = conn_to(l->port);
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].data);
        char *rest;
        size_t n = 0;

        assert_int_equal(h_conn_send(c, bad[i].data, len), 0);
        r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
        if (!r || r->status != 400)
            fail_msg("malformed request %zu: %s %d", i, r ? "status" : "no answer",
                     r ? r->status : 0);
        h_response_free(r);
        rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);
        assert_true(c->eof || c->reset);
        free(rest);
        h_conn_close(c);
    }
    /* the client that was already there, and a new one, are served */
    assert_int_equal(h_conn_send_str(waiting, get), 0);
    r = h_conn_read_response(waiting, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /after-bad version 0\n");
    h_response_free(r);
    r = h_request(l->port, get, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    h_conn_close(waiting);
    assert_int_equal(h_larder_stop(l), 0);
    free(get);
}

static void test_slowloris_does_not_block_others(void **state)
{
    enum { SLOW = 24 };
    struct h_proc *l = start("client_head_timeout 3s\n");
    struct h_conn *slow[SLOW], *drip;
    char *part = h_fmt("GET http://127.0.0.1:%d/slow HTTP/1.1\r\nHost: x\r\nX-A: ", OP);
    char *get = h_req("GET", OP, "/fast?cc=no-store", NULL);
    const char *rest = "1\r\nX-B: 2\r\n\r\n";
    struct h_response *r;
    uint64_t t0;

    (void)state;
    for (int i = 0; i < SLOW; i++) {
        slow[i] = conn_to(l->port);
        assert_int_equal(h_conn_send_str(slow[i], part), 0);
    }
    /* one that keeps trickling: the deadline runs from its first byte */
    drip = conn_to(l->port);
    assert_int_equal(h_conn_send_str(drip, part), 0);
    t0 = h_now_ms();

    /* others are served at once meanwhile */
    for (int i = 0; i < 5; i++) {
        uint64_t s = h_now_ms();

        r = h_request(l->port, get, H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        if (h_now_ms() - s > SLOW(2000))
            fail_msg("a normal request took %llu ms beside half-sent heads",
                     (unsigned long long)(h_now_ms() - s));
    }
    for (size_t k = 0; h_now_ms() - t0 < 2600 && k < strlen(rest) - 1; k++) {
        assert_int_equal(h_conn_send(drip, rest + k, 1), 0);
        h_sleep_ms(300);
    }
    /* every half head ends in 408 (or a close) at the head timeout */
    for (int i = 0; i < SLOW; i++) {
        r = h_conn_read_response(slow[i], "GET", H_TIMEOUT_MS);
        if (r)
            assert_int_equal(r->status, 408);
        else
            assert_true(slow[i]->eof || slow[i]->reset);
        h_response_free(r);
        h_conn_close(slow[i]);
    }
    r = h_conn_read_response(drip, "GET", H_TIMEOUT_MS);
    if (r)
        assert_int_equal(r->status, 408);
    else
        assert_true(drip->eof || drip->reset);
    if (h_now_ms() - t0 > SLOW(6000))
        fail_msg("the trickling head was cut only after %llu ms (timeout 3 s)",
                 (unsigned long long)(h_now_ms() - t0));
    h_response_free(r);
    h_conn_close(drip);
    assert_int_equal(h_origin_count(OP, "/slow"), 0);
    assert_int_equal(h_larder_stop(l), 0);
    free(get);
    free(part);
}

static void test_idle_keepalive_timeout(void **state)
{
    struct h_proc *l = start("keepalive_timeout 500ms\n");
    struct h_conn *c = conn_to(l->port);
    char *get = h_req("GET", OP, "/kat?cc=no-store", NULL);
    struct h_response *r;
    char *rest;
    size_t n = 0;
    uint64_t t0;

    (void)state;
    assert_int_equal(h_conn_send_str(c, get), 0);
    r = h_conn_read_response(c, "GET", H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    t0 = h_now_ms();
    rest = h_conn_read_until_close(c, H_TIMEOUT_MS, &n);
    assert_true(c->eof || c->reset);
    assert_int_equal(n, 0);
    assert_true(h_now_ms() - t0 >= 300);
    assert_true(h_now_ms() - t0 < SLOW(5000));
    free(rest);
    h_conn_close(c);
    assert_int_equal(h_larder_stop(l), 0);
    free(get);
}

static void test_client_gone_mid_response(void **state)
{
    struct h_proc *l = start(NULL);
    char *big = h_req("GET", OP, "/big?cc=no-store&len=104857600", NULL);
    char *small = h_req("GET", OP, "/small?cc=no-store", NULL);
    struct h_response *r;

    (void)state;
    for (int i = 0; i < 3; i++) {
        struct h_conn *c = conn_to(l->port);
        char buf[65536];

        assert_int_equal(h_conn_send_str(c, big), 0);
        assert_int_equal(h_conn_read_exact(c, buf, sizeof buf, H_TIMEOUT_MS), 0);
        h_conn_close(c);          /* unread data: an RST */
    }
    /* gone in the middle of an upload */
    {
        struct h_conn *c = conn_to(l->port);
        char *head = h_req("POST", OP, "/upload-gone", "Content-Length: 104857600\r\n");
        struct linger lg = { 1, 0 };

        assert_int_equal(h_conn_send_str(c, head), 0);
        assert_int_equal(h_conn_send_pattern(c, 0, 4 * 1024 * 1024, 0), 0);
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        h_conn_close(c);
        free(head);
    }
    /* gone while the origin thinks */
    {
        struct h_conn *c = conn_to(l->port);
        char *req = h_req("GET", OP, "/think?cc=no-store&delay_ms=500", NULL);

        assert_int_equal(h_conn_send_str(c, req), 0);
        wait_origin_count("/think", 1);
        h_conn_close(c);
        free(req);
    }
    r = h_request(l->port, small, H_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    h_response_free(r);
    assert_int_equal(h_larder_stop(l), 0);
    free(small);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_help_and_version, reset_origin),
        cmocka_unit_test_setup(test_check_config_and_bad_options, reset_origin),
        cmocka_unit_test_setup(test_sigterm_finishes_request_in_flight, reset_origin),
        cmocka_unit_test_setup(test_sigterm_deadline, reset_origin),
        cmocka_unit_test_setup(test_sigint_stops_cleanly, reset_origin),
        cmocka_unit_test_setup(test_sigusr1_reopens_logs, reset_origin),
        cmocka_unit_test_setup(test_access_log_lines, reset_origin),
        cmocka_unit_test_setup(test_max_connections, reset_origin),
        cmocka_unit_test_setup(test_max_connections_idle_ones, reset_origin),
        cmocka_unit_test_setup(test_malformed_request_then_next_client, reset_origin),
        cmocka_unit_test_setup(test_slowloris_does_not_block_others, reset_origin),
        cmocka_unit_test_setup(test_idle_keepalive_timeout, reset_origin),
        cmocka_unit_test_setup(test_client_gone_mid_response, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
