/* SPDX-License-Identifier: MIT */
/* test_curl.c - the real curl binary through larder (issue 2, section 9):
 * curl -x for GET, POST (plain, chunked, with Expect), HEAD and HTTP/1.0,
 * and curl -p -x (CONNECT) to the fixture origin. (curl's telnet:// does
 * not end on the end of its input, so the echo server is left to
 * test_connect.c.) */
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

#define CURL_TIMEOUT_MS 30000

struct fx {
    struct h_proc *origin;
    struct h_proc *larder;
    char *dir;                    /* scratch files */
};

static int OP, LP;
static const char *scratch_dir;   /* the shared larder's temp dir */

static int group_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    char *conf;

    if (!fx)
        return -1;
    *state = fx;
    if (h_run("curl --version", NULL, NULL, CURL_TIMEOUT_MS) != 0) {
        fprintf(stderr, "test_curl: curl is not installed\n");
        return -1;
    }
    fx->origin = h_origin_start();
    if (!fx->origin)
        return -1;
    OP = fx->origin->port;
    conf = h_fmt("via_name larder-test\nconnect_ports %d\n", OP);
    fx->larder = h_larder_start(conf);
    free(conf);
    if (!fx->larder)
        return -1;
    LP = fx->larder->port;
    fx->dir = strdup(fx->larder->dir);
    scratch_dir = fx->dir;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    free(fx->dir);
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

/* Runs curl with <args> through larder; returns stdout, fails on a
 * non-zero exit. -sS: quiet but with errors; -D writes the headers to
 * <hdr_out> when non-NULL. */
static char *curl(const char *args, char **hdr_out)
{
    char *hdr_file = h_fmt("%s/curl-headers", scratch_dir);
    char *cmd, *out = NULL, *err = NULL;
    int rc;

    cmd = h_fmt("curl -sS --max-time 20 -x http://127.0.0.1:%d -D %s %s", LP, hdr_file, args);
    rc = h_run(cmd, &out, &err, CURL_TIMEOUT_MS);
    if (rc != 0)
        fail_msg("%s\nexit %d, stderr: %s", cmd, rc, err ? err : "");
    if (hdr_out)
        *hdr_out = h_read_file(hdr_file, NULL);
    unlink(hdr_file);
    free(hdr_file);
    free(cmd);
    free(err);
    return out;
}

/* The last response head in curl's -D output (after any 1xx or the
 * CONNECT's 200). */
static const char *last_head(const char *hdrs)
{
    const char *p = hdrs, *next;

    while ((next = strstr(p + 1, "\r\n\r\nHTTP/")) != NULL)
        p = next + 4;
    return p;
}

/* The one logged request head for <path>. */
static char *only_head(const char *path)
{
    char *log = h_origin_log(OP, path);
    char *head;

    assert_non_null(log);
    if (h_log_count(log) != 1)
        fail_msg("origin logged %zu requests for %s:\n%s", h_log_count(log), path, log);
    head = h_log_entry(log, 0);
    free(log);
    return head;
}

static void assert_field(const char *head, const char *name, const char *value)
{
    char *v = h_head_field(head, name);

    if (!v || strcmp(v, value) != 0)
        fail_msg("%s is \"%s\", expected \"%s\" in:\n%s", name, v ? v : "(none)", value, head);
    free(v);
}

/* ------------------------------------------------------------------ */

static void test_curl_get(void **state)
{
    char *hdrs = NULL, *out, *args, *head, *host;

    (void)state;
    args = h_fmt("'http://127.0.0.1:%d/cg?cc=no-store&h=X-From:origin'", OP);
    out = curl(args, &hdrs);
    assert_string_equal(out, "origin /cg version 0\n");
    assert_true(STARTS_WITH(last_head(hdrs), "HTTP/1.1 200"));
    assert_non_null(strcasestr(hdrs, "\r\nVia: 1.1 larder-test\r\n"));
    assert_non_null(strcasestr(hdrs, "\r\nX-From: origin\r\n"));
    head = only_head("/cg");
    assert_true(STARTS_WITH(head, "GET /cg?cc=no-store&h=X-From:origin HTTP/1.1\r\n"));
    host = h_fmt("127.0.0.1:%d", OP);
    assert_field(head, "Host", host);
    assert_field(head, "Via", "1.1 larder-test");
    assert_int_equal(h_head_field_count(head, "Proxy-Connection"), 0);
    free(host);
    free(head);
    free(out);
    free(hdrs);
    free(args);

    /* a 1 MiB body, compared with curl's own count */
    args = h_fmt("-o /dev/null -w '%%{size_download} %%{http_code}' "
                 "'http://127.0.0.1:%d/cg-big?cc=no-store&len=1048576&chunked=1'", OP);
    out = curl(args, NULL);
    assert_string_equal(out, "1048576 200");
    free(out);
    free(args);
}

static void test_curl_post(void **state)
{
    struct fx *fx = *state;
    char *file = h_fmt("%s/post-body", fx->dir);
    FILE *f = fopen(file, "wb");
    const size_t n = 3 * 1024 * 1024 + 7;
    char *buf = malloc(n);
    char *args, *out, *want, *head, *got, *hdrs = NULL;
    size_t got_len = 0;

    assert_non_null(f);
    assert_non_null(buf);
    h_pattern_fill(buf, 0, n);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    want = h_fmt("received %zu sum %u\n", n, h_sum(buf, n));

    /* Content-Length, and curl's Expect: 100-continue answered */
    args = h_fmt("-H 'Expect: 100-continue' --expect100-timeout 15 --data-binary @%s "
                 "'http://127.0.0.1:%d/cp?continue=1'", file, OP);
    out = curl(args, &hdrs);
    assert_string_equal(out, want);
    /* the origin's 100 reached curl before it sent the body */
    assert_true(STARTS_WITH(hdrs, "HTTP/1.1 100 Continue\r\n"));
    assert_true(STARTS_WITH(last_head(hdrs), "HTTP/1.1 200"));
    free(hdrs);
    head = only_head("/cp");
    assert_true(STARTS_WITH(head, "POST /cp?continue=1 HTTP/1.1\r\n"));
    {
        char *len = h_fmt("%zu", n);

        assert_field(head, "Content-Length", len);
        free(len);
    }
    got = h_origin_body(OP, "/cp", &got_len);
    assert_int_equal(got_len, 1024 * 1024);
    assert_memory_equal(got, buf, got_len);
    free(got);
    free(head);
    free(out);
    free(args);

    /* chunked upload */
    args = h_fmt("-H 'Transfer-Encoding: chunked' --data-binary @%s "
                 "'http://127.0.0.1:%d/cp-ch'", file, OP);
    out = curl(args, NULL);
    assert_string_equal(out, want);
    head = only_head("/cp-ch");
    assert_field(head, "Transfer-Encoding", "chunked");
    assert_int_equal(h_head_field_count(head, "Content-Length"), 0);
    free(head);
    free(out);
    free(args);

    /* a form */
    args = h_fmt("-d 'a=1&b=2' 'http://127.0.0.1:%d/cp-form'", OP);
    out = curl(args, NULL);
    free(want);
    want = h_fmt("received 7 sum %u\n", h_sum("a=1&b=2", 7));
    assert_string_equal(out, want);
    free(out);
    free(args);

    unlink(file);
    free(file);
    free(want);
    free(buf);
}

static void test_curl_head(void **state)
{
    char *hdrs = NULL, *out, *args, *head;

    (void)state;
    args = h_fmt("-I 'http://127.0.0.1:%d/ch?cc=no-store&len=4321'", OP);
    out = curl(args, &hdrs);
    assert_true(STARTS_WITH(out, "HTTP/1.1 200"));
    assert_non_null(strcasestr(out, "\r\nContent-Length: 4321\r\n"));
    assert_non_null(strcasestr(out, "\r\nVia: 1.1 larder-test\r\n"));
    head = only_head("/ch");
    assert_true(STARTS_WITH(head, "HEAD /ch?cc=no-store&len=4321 HTTP/1.1\r\n"));
    free(head);
    free(out);
    free(hdrs);
    free(args);
}

static void test_curl_http10(void **state)
{
    char *hdrs = NULL, *out, *args, *head;

    (void)state;
    args = h_fmt("-0 'http://127.0.0.1:%d/c10?cc=no-store&len=100000&chunked=1' "
                 "-o /dev/null -w '%%{size_download}'", OP);
    out = curl(args, &hdrs);
    assert_string_equal(out, "100000");
    assert_null(strcasestr(hdrs, "Transfer-Encoding"));
    head = only_head("/c10");
    assert_field(head, "Via", "1.0 larder-test");
    free(head);
    free(out);
    free(hdrs);
    free(args);
}

static void test_curl_connect_to_origin(void **state)
{
    struct fx *fx = *state;
    char *hdrs = NULL, *out, *args, *head, *line;

    /* curl -p: CONNECT, then the request inside the tunnel */
    args = h_fmt("-p 'http://127.0.0.1:%d/cc?len=200000'  -o /dev/null "
                 "-w '%%{size_download} %%{http_code} %%{http_connect}'", OP);
    out = curl(args, &hdrs);
    assert_string_equal(out, "200000 200 200");
    assert_true(STARTS_WITH(hdrs, "HTTP/1.1 200"));   /* the CONNECT's */
    head = only_head("/cc");
    /* untouched by larder: no Via inside a tunnel */
    assert_true(STARTS_WITH(head, "GET /cc?len=200000 HTTP/1.1\r\n"));
    assert_int_equal(h_head_field_count(head, "Via"), 0);
    line = h_fmt(" CONNECT 127.0.0.1:%d 200 ", OP);
    assert_int_equal(h_wait_file_contains(fx->larder->access_log_path, line, H_TIMEOUT_MS), 0);
    free(line);
    free(head);
    free(out);
    free(hdrs);
    free(args);
}

static void test_curl_errors(void **state)
{
    char *out, *args;

    (void)state;
    /* a CONNECT to a port not allowed: curl reports larder's 403 */
    args = h_fmt("-p -o /dev/null -w '%%{http_connect}' 'http://127.0.0.1:%d/'",
                 h_free_port());
    {
        char *cmd = h_fmt("curl -sS --max-time 20 -x http://127.0.0.1:%d %s", LP, args);
        char *err = NULL;
        int rc = h_run(cmd, &out, &err, CURL_TIMEOUT_MS);

        assert_true(rc != 0);           /* curl fails the transfer */
        assert_string_equal(out, "403");
        free(err);
        free(cmd);
        free(out);
    }
    free(args);

    /* a name that does not resolve: 502 */
    out = curl("-o /dev/null -w '%{http_code}' http://nonexistent.invalid/", NULL);
    assert_string_equal(out, "502");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_curl_get, reset_origin),
        cmocka_unit_test_setup(test_curl_post, reset_origin),
        cmocka_unit_test_setup(test_curl_head, reset_origin),
        cmocka_unit_test_setup(test_curl_http10, reset_origin),
        cmocka_unit_test_setup(test_curl_connect_to_origin, reset_origin),
        cmocka_unit_test_setup(test_curl_errors, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
