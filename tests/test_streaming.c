/* SPDX-License-Identifier: MIT */
/* test_streaming.c - bodies stream through larder with back-pressure
 * (issue 2, section 4): a 1 GiB upload and a 1 GiB download pass while
 * larder's RSS (VmRSS from /proc) grows by less than 16 MiB; the bytes are
 * checked against the pattern on the far side. Also chunked both ways and
 * a reader that stops for a while. */
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

#include "harness.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)
#define RSS_BUDGET_KB (16 * 1024)
#define SAMPLE_EVERY (4 * MiB)
#define STREAM_TIMEOUT_MS 30000   /* longest wait for the next bytes */

/* ASan's quarantine would hold freed buffers and count as growth */
static const char *const asan_env[] = {
    "ASAN_OPTIONS=quarantine_size_mb=1:malloc_context_size=2", NULL
};

struct fx {
    struct h_proc *origin;
    struct h_proc *larder;
};

static int OP;

static int group_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    if (!fx)
        return -1;
    *state = fx;
    fx->origin = h_origin_start();
    fx->larder = h_larder_start_env("via_name larder-test\n", asan_env);
    if (!fx->origin || !fx->larder)
        return -1;
    OP = fx->origin->port;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

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

struct rss {
    pid_t pid;
    long base_kb;
    long peak_kb;
};

static void rss_start(struct rss *m, pid_t pid)
{
    m->pid = pid;
    m->base_kb = m->peak_kb = h_rss_kb(pid);
    assert_true(m->base_kb > 0);
}

static void rss_sample(struct rss *m)
{
    long kb = h_rss_kb(m->pid);

    if (kb > m->peak_kb)
        m->peak_kb = kb;
}

static void rss_check(const struct rss *m, const char *what, uint64_t bytes, uint64_t ms)
{
    long grew = m->peak_kb - m->base_kb;

    print_message("%s: %llu MiB in %llu ms, larder RSS %ld kB -> peak %ld kB (+%ld kB)\n",
                  what, (unsigned long long)(bytes / MiB), (unsigned long long)ms,
                  m->base_kb, m->peak_kb, grew);
    if (grew >= RSS_BUDGET_KB)
        fail_msg("%s: larder's RSS grew by %ld kB (budget %d kB)", what, grew, RSS_BUDGET_KB);
}

/* Uploads <n> pattern bytes (chunked in <chunk>-byte chunks, or with
 * Content-Length when 0) and checks the origin got exactly them. */
static void upload(struct h_proc *larder, const char *path, uint64_t n, size_t chunk)
{
    struct h_conn *c = h_conn_open(larder->port);
    char *framing = chunk ? h_fmt("Transfer-Encoding: chunked\r\n")
                          : h_fmt("Content-Length: %llu\r\n", (unsigned long long)n);
    char *head = h_fmt("POST http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
                       OP, path, OP, framing);
    struct h_response *r;
    struct rss m;
    uint64_t sent = 0, t0;
    char *want, *kept;
    size_t kept_len = 0;

    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, head), 0);
    rss_start(&m, larder->pid);
    t0 = h_now_ms();
    while (sent < n) {
        uint64_t piece = n - sent < 8 * MiB ? n - sent : 8 * MiB;

        if (chunk) {
            /* whole chunks of <chunk> bytes; the last chunk comes at the end */
            char line[32];
            uint64_t done = 0;

            while (done < piece) {
                uint64_t k = piece - done < chunk ? piece - done : chunk;

                snprintf(line, sizeof line, "%llx\r\n", (unsigned long long)k);
                assert_int_equal(h_conn_send_str(c, line), 0);
                assert_int_equal(h_conn_send_pattern(c, sent + done, k, 0), 0);
                assert_int_equal(h_conn_send_str(c, "\r\n"), 0);
                done += k;
            }
        } else {
            assert_int_equal(h_conn_send_pattern(c, sent, piece, 0), 0);
        }
        sent += piece;
        rss_sample(&m);
    }
    if (chunk)
        assert_int_equal(h_conn_send_str(c, "0\r\n\r\n"), 0);
    r = h_conn_read_response(c, "POST", STREAM_TIMEOUT_MS);
    rss_sample(&m);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    want = h_fmt("received %llu sum %u\n", (unsigned long long)n, (unsigned)h_pattern_sum(0, n));
    assert_string_equal(r->body, want);
    rss_check(&m, path, n, h_now_ms() - t0);

    /* what the origin saw: larder's framing, and the first MiB verbatim */
    kept = h_origin_body(OP, path, &kept_len);
    assert_non_null(kept);
    assert_int_equal(kept_len, n < MiB ? n : MiB);
    assert_int_equal(h_pattern_mismatch(kept, 0, kept_len), kept_len);
    free(kept);
    {
        char *log = h_origin_log(OP, path);
        char *entry = log ? h_log_entry(log, 0) : NULL;
        char *v;

        assert_non_null(entry);
        if (chunk) {
            v = h_head_field(entry, "Transfer-Encoding");
            assert_string_equal(v, "chunked");
            assert_int_equal(h_head_field_count(entry, "Content-Length"), 0);
        } else {
            char *len = h_fmt("%llu", (unsigned long long)n);

            v = h_head_field(entry, "Content-Length");
            assert_string_equal(v, len);
            assert_int_equal(h_head_field_count(entry, "Transfer-Encoding"), 0);
            free(len);
        }
        free(v);
        free(entry);
        free(log);
    }
    h_response_free(r);
    free(want);
    free(framing);
    free(head);
    h_conn_close(c);
}

struct down {
    struct h_pattern_check pc;
    struct rss *m;
    uint64_t next_sample;
    uint64_t pause_at;            /* stop reading for a while here; 0: never */
    int paused;
};

static void on_down_body(const char *data, size_t len, void *arg)
{
    struct down *d = arg;

    h_pattern_check_cb(data, len, &d->pc);
    if (d->pc.checked >= d->next_sample) {
        rss_sample(d->m);
        d->next_sample = d->pc.checked + SAMPLE_EVERY;
    }
    if (d->pause_at && !d->paused && d->pc.checked >= d->pause_at) {
        /* a reader that stops: larder must stop reading the origin */
        d->paused = 1;
        for (int i = 0; i < 10; i++) {
            h_sleep_ms(150);
            rss_sample(d->m);
        }
    }
}

/* Downloads <n> pattern bytes from <path> (which sets the framing). */
static void download(struct h_proc *larder, const char *path, uint64_t n, int chunked,
                     uint64_t pause_at)
{
    struct h_conn *c = h_conn_open(larder->port);
    char *raw = h_req("GET", OP, path, NULL);
    struct h_response *r;
    struct rss m;
    struct down d;
    uint64_t t0;

    assert_non_null(c);
    memset(&d, 0, sizeof d);
    d.m = &m;
    d.pause_at = pause_at;
    rss_start(&m, larder->pid);
    t0 = h_now_ms();
    assert_int_equal(h_conn_send_str(c, raw), 0);
    r = h_conn_read_response_cb(c, "GET", STREAM_TIMEOUT_MS, on_down_body, &d);
    rss_sample(&m);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->chunked, chunked);
    if (!r->complete || d.pc.checked != n || d.pc.bad != 0)
        fail_msg("%s: got %llu of %llu bytes, complete %d, %llu bad (first at %llu)", path,
                 (unsigned long long)d.pc.checked, (unsigned long long)n, r->complete,
                 (unsigned long long)d.pc.bad, (unsigned long long)d.pc.first_bad);
    rss_check(&m, path, n, h_now_ms() - t0);
    {
        char *p = strndup(path, strcspn(path, "?"));

        assert_int_equal(h_origin_count(OP, p), 1);
        free(p);
    }
    h_response_free(r);
    free(raw);
    h_conn_close(c);
}

/* Moves some bytes each way first, so buffers and pools are at their
 * working size before a baseline is taken. */
static void warm_up(struct h_proc *larder)
{
    download(larder, "/warm-down?cc=no-store&len=33554432", 32 * MiB, 0, 0);
    upload(larder, "/warm-up", 32 * MiB, 0);
    assert_int_equal(h_origin_reset(OP), 0);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_upload_1gib(void **state)
{
    struct fx *fx = *state;

    warm_up(fx->larder);
    upload(fx->larder, "/up-1g", GiB, 0);
}

static void test_download_1gib(void **state)
{
    struct fx *fx = *state;

    warm_up(fx->larder);
    download(fx->larder, "/down-1g?cc=no-store&len=1073741824", GiB, 0, 0);
}

static void test_chunked_both_ways(void **state)
{
    struct fx *fx = *state;

    warm_up(fx->larder);
    upload(fx->larder, "/up-ch", 256 * MiB, 65521);
    download(fx->larder, "/down-ch?cc=no-store&chunked=1&chunk=100000&len=268435456",
             256 * MiB, 1, 0);
}

static void test_download_to_a_reader_that_stops(void **state)
{
    struct fx *fx = *state;

    warm_up(fx->larder);
    /* the origin could send all 256 MiB in well under the pause */
    download(fx->larder, "/down-pause?cc=no-store&len=268435456", 256 * MiB, 0, 16 * MiB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_upload_1gib, reset_origin),
        cmocka_unit_test_setup(test_download_1gib, reset_origin),
        cmocka_unit_test_setup(test_chunked_both_ways, reset_origin),
        cmocka_unit_test_setup(test_download_to_a_reader_that_stops, reset_origin),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
