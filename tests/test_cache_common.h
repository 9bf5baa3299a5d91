/* SPDX-License-Identifier: MIT */
/* test_cache_common.h - what the cache's end-to-end tests (issue 3) share:
 * per-test processes (an origin and larder each), requests through larder,
 * Cache-Status parsing, the origin's view (counts, logged request heads),
 * the access log, stats.json, and concurrent clients read by threads.
 * Included by tests/test_cache*.c only; every helper is static and may go
 * unused in a given file.
 *
 * Each test starts its own origin and larder, so no state leaks between
 * tests. Staleness is made without sleeping: the origin's first answer
 * carries "Age: 1000" (scripted with /__script, so the cache key does not
 * change), and the script is changed before the revalidation. */
#ifndef LARDER_TEST_CACHE_COMMON_H
#define LARDER_TEST_CACHE_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "harness.h"

#define TC_HELPER static __attribute__((unused))

/* A failed assertion longjmps out of a test and abandons what it had
 * allocated; LeakSanitizer would then bury the failure under reports about
 * the test's own memory. Leaks in larder itself are still caught: finish()
 * asserts that larder exits 0, which it does not when ASan finds a leak. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}

#define LM 1000000000                           /* lm= used throughout */
#define LM_DATE "Sun, 09 Sep 2001 01:46:40 GMT" /* the same, as sent */
#define READ_MS 20000                           /* per wait, for slow runs */
#define DEFAULT_CONF "cache_size 64M\nlog_level debug\n"

/* ------------------------------------------------------------------ */
/* Per-test processes                                                  */

static struct h_proc *origin;     /* started by start() */
static struct h_proc *origin2;    /* a second authority, when needed */
static struct h_proc *larder;
static int OP, OP2, LP;           /* their ports */

TC_HELPER int setup(void **state)
{
    (void)state;
    origin = origin2 = larder = NULL;
    OP = OP2 = LP = 0;
    return 0;
}

/* Stops whatever a failed test left running; a passing test has already
 * stopped (and checked) everything itself. */
TC_HELPER int teardown(void **state)
{
    (void)state;
    if (larder)
        h_larder_stop(larder);
    if (origin)
        h_proc_stop(origin);
    if (origin2)
        h_proc_stop(origin2);
    larder = origin = origin2 = NULL;
    return 0;
}

TC_HELPER void start_larder(const char *conf)
{
    larder = h_larder_start(conf ? conf : DEFAULT_CONF);
    if (!larder)
        fail_msg("larder did not start: %s", h_error());
    LP = larder->port;
}

/* Starts an origin and larder with DEFAULT_CONF plus <extra> lines. */
TC_HELPER void start(const char *extra)
{
    char *conf = h_fmt("%s%s", DEFAULT_CONF, extra ? extra : "");

    origin = h_origin_start();
    if (!origin)
        fail_msg("origin did not start: %s", h_error());
    OP = origin->port;
    start_larder(conf);
    free(conf);
}

TC_HELPER void start_origin2(void)
{
    origin2 = h_origin_start();
    if (!origin2)
        fail_msg("second origin did not start: %s", h_error());
    OP2 = origin2->port;
}

/* Stops everything, asserting clean exits (no leaks under ASan). */
TC_HELPER void finish(void)
{
    struct h_proc *l = larder, *o = origin, *o2 = origin2;

    larder = origin = origin2 = NULL;
    if (l)
        assert_int_equal(h_larder_stop(l), 0);
    if (o)
        assert_int_equal(h_proc_stop(o), 0);
    if (o2)
        assert_int_equal(h_proc_stop(o2), 0);
}

/* ------------------------------------------------------------------ */
/* Requests and what came back                                         */

/* GET <path> of the origin on <oport> through larder; never NULL. */
TC_HELPER struct h_response *get_from(int oport, const char *path, const char *hdrs)
{
    struct h_response *r = h_get(LP, oport, path, hdrs);

    if (!r)
        fail_msg("GET %s through larder: no response (%s)", path, h_error());
    return r;
}

TC_HELPER struct h_response *get(const char *path, const char *hdrs)
{
    return get_from(OP, path, hdrs);
}

/* <method> <path> through larder (h_req framing); never NULL. */
TC_HELPER struct h_response *req(const char *method, const char *path, const char *hdrs)
{
    char *raw = h_req(method, OP, path, hdrs);
    struct h_response *r = h_request(LP, raw, READ_MS);

    if (!r)
        fail_msg("%s %s through larder: no response (%s)", method, path, h_error());
    free(raw);
    return r;
}

/* A whole raw request through larder; never NULL. */
TC_HELPER struct h_response *raw_req(const char *raw)
{
    struct h_response *r = h_request(LP, raw, READ_MS);

    if (!r)
        fail_msg("request through larder: no response (%s)\n%s", h_error(), raw);
    return r;
}

TC_HELPER const char *hdr(const struct h_response *r, const char *name)
{
    const char *v = h_header_get(r, name);

    return v ? v : "(none)";
}

/* Whether r's Cache-Status is larder's member and has parameter <param>
 * (exactly, or as a prefix when <param> ends with '='). */
TC_HELPER int cs_has(const struct h_response *r, const char *param)
{
    const char *v = h_header_get(r, "Cache-Status");
    size_t plen = strlen(param);
    int prefix = plen > 0 && param[plen - 1] == '=';
    int first = 1, found = 0;
    char *copy, *tok, *save = NULL;

    if (!v)
        return 0;
    copy = strdup(v);
    for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *end;

        while (*tok == ' ' || *tok == '\t')
            tok++;
        end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (first) {
            first = 0;
            if (strcmp(tok, "larder") != 0)
                break;            /* not larder's member */
            continue;
        }
        if (prefix ? strncmp(tok, param, plen) == 0 : strcmp(tok, param) == 0)
            found = 1;
    }
    free(copy);
    return found;
}

#define ASSERT_CS(r, param)                                                    \
    do {                                                                       \
        if (!cs_has((r), (param)))                                             \
            fail_msg("Cache-Status \"%s\" lacks \"%s\"", hdr((r), "Cache-Status"), \
                     (param));                                                 \
    } while (0)

#define ASSERT_NO_CS(r, param)                                                 \
    do {                                                                       \
        if (cs_has((r), (param)))                                              \
            fail_msg("Cache-Status \"%s\" has \"%s\"", hdr((r), "Cache-Status"), \
                     (param));                                                 \
    } while (0)

/* A miss of either kind (the variant tests do not depend on which one
 * larder names; test_vary_miss_cache_status does). */
#define ASSERT_MISS(r)                                                         \
    do {                                                                       \
        if (cs_has((r), "hit")                                                 \
            || (!cs_has((r), "fwd=uri-miss") && !cs_has((r), "fwd=vary-miss"))) \
            fail_msg("Cache-Status \"%s\" is not a miss", hdr((r), "Cache-Status")); \
    } while (0)

/* How many requests for <path> the origin received; must be <n>. */
#define ASSERT_COUNT(path, n) assert_count_at(OP, (path), (n), __LINE__)
#define ASSERT_COUNT2(path, n) assert_count_at(OP2, (path), (n), __LINE__)

TC_HELPER void assert_count_at(int oport, const char *path, long n, int line)
{
    long got = h_origin_count(oport, path);

    if (got != n)
        fail_msg("line %d: origin received %ld requests for %s, expected %ld", line, got,
                 path, n);
}

/* Waits up to <ms> for the origin's count for <path> to reach <n>. */
TC_HELPER int wait_count(const char *path, long n, int ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)ms;

    while (h_origin_count(OP, path) < n) {
        if (h_now_ms() > deadline)
            return -1;
        h_sleep_ms(10);
    }
    return 0;
}

/* Asserts an Age header: digits only, between <lo> and <hi>. */
TC_HELPER void assert_age(const struct h_response *r, long lo, long hi)
{
    const char *v = h_header_get(r, "Age");
    char *end;
    long age;

    if (!v)
        fail_msg("no Age header; head:\n%s", r->head);
    age = strtol(v, &end, 10);
    if (end == v || *end || age < lo || age > hi)
        fail_msg("Age \"%s\" not in [%ld, %ld]", v, lo, hi);
    assert_int_equal(h_header_count(r, "Age"), 1);
}

/* The default body fixture_origin makes for <path> (without query). */
TC_HELPER void assert_body(const struct h_response *r, const char *path, int version)
{
    char *want = h_fmt("origin %s version %d\n", path, version);

    assert_non_null(r->body);
    assert_true(r->complete);
    assert_string_equal(r->body, want);
    free(want);
}

/* The <n>th (0-based) request head the origin logged for <path>, or NULL. */
TC_HELPER char *origin_head(int oport, const char *path, int n)
{
    char *log = h_origin_log(oport, path);
    const char *p = log, *e;
    char *head;

    if (!log)
        return NULL;
    for (int i = 0; i < n && p; i++) {
        p = strstr(p, "----\n");
        if (p)
            p += 5;
    }
    e = p ? strstr(p, "----\n") : NULL;
    head = e ? strndup(p, (size_t)(e - p)) : NULL;
    free(log);
    return head;
}

/* How many request heads the origin logged for <path>. */
TC_HELPER int origin_heads(int oport, const char *path)
{
    char *log = h_origin_log(oport, path);
    int n = 0;

    for (const char *p = log; p && (p = strstr(p, "----\n")) != NULL; p += 5)
        n++;
    free(log);
    return n;
}

/* Value of field <name> in a raw head (first line of that name), malloc'd,
 * or NULL. *count_out (may be NULL) receives how many lines had the name. */
TC_HELPER char *head_field(const char *head, const char *name, int *count_out)
{
    size_t nlen = strlen(name);
    const char *p = head ? strstr(head, "\r\n") : NULL;
    char *val = NULL;
    int count = 0;

    while (p && p[2] != '\r' && p[2] != '\0') {
        const char *line = p + 2, *eol = strstr(line, "\r\n");

        if (!eol)
            break;
        if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0
            && line[nlen] == ':') {
            const char *v = line + nlen + 1, *e = eol;

            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (!val)
                val = strndup(v, (size_t)(e - v));
            count++;
        }
        p = eol;
    }
    if (count_out)
        *count_out = count;
    return val;
}

/* Asserts that the <n>th origin request for <path> carried field <name>
 * exactly once with value <want>, or not at all when <want> is NULL. */
TC_HELPER void assert_origin_field(const char *path, int n, const char *name, const char *want)
{
    char *head = origin_head(OP, path, n);
    int count = 0;
    char *v;

    if (!head)
        fail_msg("the origin logged no request #%d for %s", n, path);
    v = head_field(head, name, &count);
    if (want == NULL && v != NULL)
        fail_msg("origin request #%d for %s has %s: %s\n%s", n, path, name, v, head);
    if (want != NULL && (v == NULL || strcmp(v, want) != 0 || count != 1))
        fail_msg("origin request #%d for %s: %s is \"%s\" (%d lines), expected \"%s\"\n%s",
                 n, path, name, v ? v : "(none)", count, want, head);
    free(v);
    free(head);
}

TC_HELPER void script(const char *path, const char *params)
{
    if (h_origin_script(OP, path, params) != 0)
        fail_msg("scripting %s: %s", path, h_error());
}

/* Waits for an access-log line containing <url_part> and ending with
 * " <outcome> <upstream>" (e.g. "HIT -"). */
TC_HELPER void assert_logged(const char *url_part, const char *tail)
{
    uint64_t deadline = h_now_ms() + 5000;

    for (;;) {
        char *text = h_read_file(larder->access_log_path, NULL);
        int found = 0;

        for (char *line = text, *nl; line && *line && !found; line = nl ? nl + 1 : NULL) {
            size_t tlen = strlen(tail), llen;

            nl = strchr(line, '\n');
            llen = nl ? (size_t)(nl - line) : strlen(line);
            if (llen > tlen + 1 && memmem(line, llen, url_part, strlen(url_part))
                && line[llen - tlen - 1] == ' '
                && memcmp(line + llen - tlen, tail, tlen) == 0)
                found = 1;
        }
        if (found) {
            free(text);
            return;
        }
        if (h_now_ms() > deadline)
            fail_msg("no access-log line for %s ending \"%s\":\n%s", url_part, tail,
                     text ? text : "(unreadable)");
        free(text);
        h_sleep_ms(20);
    }
}

TC_HELPER void http_date(time_t t, char *buf, size_t n)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* One number from larder's /larder/stats.json: "<section>":{..."<key>":N}.
 * Returns -1 when the page or the field is missing. */
TC_HELPER long long stats_value(const char *section, const char *key)
{
    char *raw = h_fmt("GET /larder/stats.json HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", LP);
    struct h_response *r = h_request(LP, raw, READ_MS);
    long long v = -1;

    free(raw);
    if (r && r->status == 200 && r->body) {
        char *sec = h_fmt("\"%s\":{", section), *k = h_fmt("\"%s\":", key);
        const char *s = strstr(r->body, sec);
        const char *end = s ? strchr(s, '}') : NULL;
        const char *f = s ? strstr(s, k) : NULL;

        if (f && f < end)
            v = strtoll(f + strlen(k), NULL, 10);
        free(sec);
        free(k);
    }
    h_response_free(r);
    return v;
}

/* ------------------------------------------------------------------ */
/* Concurrent clients: one thread reads each connection                */

struct job {
    struct h_conn *c;
    int pattern;                  /* body is pattern bytes: checked, not kept */
    struct h_response *r;
    struct h_pattern_check pc;
    uint64_t t_sent;              /* ms, h_now_ms() */
    uint64_t t_first;             /* first body bytes arrived (0: none) */
    uint64_t t_last;              /* last body bytes arrived */
    uint64_t len_first;           /* bytes in the first piece */
    uint64_t seen;                /* body bytes so far (atomic) */
    pthread_t th;
};

TC_HELPER void job_body(const char *data, size_t n, void *arg)
{
    struct job *j = arg;
    uint64_t now = h_now_ms();

    if (n == 0)
        return;
    if (j->t_first == 0) {
        j->t_first = now;
        j->len_first = n;
    }
    j->t_last = now;
    h_pattern_check_cb(data, n, &j->pc);
    __atomic_store_n(&j->seen, j->pc.checked, __ATOMIC_RELEASE);
}

TC_HELPER void *job_run(void *arg)
{
    struct job *j = arg;

    if (j->pattern)
        j->r = h_conn_read_response_cb(j->c, NULL, READ_MS, job_body, j);
    else
        j->r = h_conn_read_response(j->c, NULL, READ_MS);
    return NULL;
}

/* Opens a connection to larder and starts a thread that will read one
 * response from it; the request is sent by job_send(). */
TC_HELPER void job_open(struct job *j, int pattern)
{
    memset(j, 0, sizeof *j);
    j->pattern = pattern;
    j->c = h_conn_open(LP);
    if (!j->c)
        fail_msg("connect to larder: %s", h_error());
    if (pthread_create(&j->th, NULL, job_run, j) != 0)
        fail_msg("pthread_create failed");
}

TC_HELPER void job_send(struct job *j, const char *raw)
{
    j->t_sent = h_now_ms();
    if (h_conn_send_str(j->c, raw) != 0)
        fail_msg("send to larder: %s", h_error());
}

TC_HELPER void job_join(struct job *j)
{
    pthread_join(j->th, NULL);
    h_conn_close(j->c);
    j->c = NULL;
}

TC_HELPER void job_free(struct job *j)
{
    h_response_free(j->r);
    j->r = NULL;
}

/* Asserts job <j> got a complete 200 whose body is <len> pattern bytes. */
TC_HELPER void assert_job_pattern(const struct job *j, int i, uint64_t len)
{
    if (!j->r)
        fail_msg("client %d: no response", i);
    if (j->r->status != 200 || !j->r->complete || j->pc.checked != len || j->pc.bad != 0)
        fail_msg("client %d: status %d, complete %d, %llu body bytes (%llu bad), "
                 "expected 200 with %llu; Cache-Status %s",
                 i, j->r->status, j->r->complete, (unsigned long long)j->pc.checked,
                 (unsigned long long)j->pc.bad, (unsigned long long)len,
                 hdr(j->r, "Cache-Status"));
}

/* Stores <path> with the script for <bare> set to <before> (e.g.
 * "h=Age:100" to make it old), then sets the script to <after>. Fields
 * that only the stored response should carry (an error answer must not be
 * storable itself) go in <before>, not in the query. */
TC_HELPER void store_scripted(const char *path, const char *bare, const char *before,
                           const char *after)
{
    struct h_response *r;

    script(bare, before);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    assert_int_equal(r->status, 200);
    h_response_free(r);
    script(bare, after);
}

/* Sends <raw> on <n> fresh connections at once; the jobs read. */
TC_HELPER void crowd(struct job *jobs, int n, const char *raw, int pattern)
{
    for (int i = 0; i < n; i++)
        job_open(&jobs[i], pattern);
    for (int i = 0; i < n; i++)
        job_send(&jobs[i], raw);
    for (int i = 0; i < n; i++)
        job_join(&jobs[i]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

#endif /* LARDER_TEST_CACHE_COMMON_H */
