/* SPDX-License-Identifier: MIT */
/* test_cache.c - the cache end to end (issue 3): larder between real clients
 * and fixture_origin, asserting both what each client got and what reached
 * the origin (request counts, conditional headers).
 *
 * Each test starts its own origin and larder, so no state leaks between
 * tests. Staleness is made without sleeping: the origin's first answer
 * carries "Age: 1000" (scripted with /__script, so the cache key does not
 * change), and the script is changed before the revalidation. */
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

static int setup(void **state)
{
    (void)state;
    origin = origin2 = larder = NULL;
    OP = OP2 = LP = 0;
    return 0;
}

/* Stops whatever a failed test left running; a passing test has already
 * stopped (and checked) everything itself. */
static int teardown(void **state)
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

static void start_larder(const char *conf)
{
    larder = h_larder_start(conf ? conf : DEFAULT_CONF);
    if (!larder)
        fail_msg("larder did not start: %s", h_error());
    LP = larder->port;
}

/* Starts an origin and larder with DEFAULT_CONF plus <extra> lines. */
static void start(const char *extra)
{
    char *conf = h_fmt("%s%s", DEFAULT_CONF, extra ? extra : "");

    origin = h_origin_start();
    if (!origin)
        fail_msg("origin did not start: %s", h_error());
    OP = origin->port;
    start_larder(conf);
    free(conf);
}

static void start_origin2(void)
{
    origin2 = h_origin_start();
    if (!origin2)
        fail_msg("second origin did not start: %s", h_error());
    OP2 = origin2->port;
}

/* Stops everything, asserting clean exits (no leaks under ASan). */
static void finish(void)
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
static struct h_response *get_from(int oport, const char *path, const char *hdrs)
{
    struct h_response *r = h_get(LP, oport, path, hdrs);

    if (!r)
        fail_msg("GET %s through larder: no response (%s)", path, h_error());
    return r;
}

static struct h_response *get(const char *path, const char *hdrs)
{
    return get_from(OP, path, hdrs);
}

/* <method> <path> through larder (h_req framing); never NULL. */
static struct h_response *req(const char *method, const char *path, const char *hdrs)
{
    char *raw = h_req(method, OP, path, hdrs);
    struct h_response *r = h_request(LP, raw, READ_MS);

    if (!r)
        fail_msg("%s %s through larder: no response (%s)", method, path, h_error());
    free(raw);
    return r;
}

/* A whole raw request through larder; never NULL. */
static struct h_response *raw_req(const char *raw)
{
    struct h_response *r = h_request(LP, raw, READ_MS);

    if (!r)
        fail_msg("request through larder: no response (%s)\n%s", h_error(), raw);
    return r;
}

static const char *hdr(const struct h_response *r, const char *name)
{
    const char *v = h_header_get(r, name);

    return v ? v : "(none)";
}

/* Whether r's Cache-Status is larder's member and has parameter <param>
 * (exactly, or as a prefix when <param> ends with '='). */
static int cs_has(const struct h_response *r, const char *param)
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

/* How many requests for <path> the origin received; must be <n>. */
#define ASSERT_COUNT(path, n) assert_count_at(OP, (path), (n), __LINE__)
#define ASSERT_COUNT2(path, n) assert_count_at(OP2, (path), (n), __LINE__)

static void assert_count_at(int oport, const char *path, long n, int line)
{
    long got = h_origin_count(oport, path);

    if (got != n)
        fail_msg("line %d: origin received %ld requests for %s, expected %ld", line, got,
                 path, n);
}

/* Waits up to <ms> for the origin's count for <path> to reach <n>. */
static int wait_count(const char *path, long n, int ms)
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
static void assert_age(const struct h_response *r, long lo, long hi)
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
static void assert_body(const struct h_response *r, const char *path, int version)
{
    char *want = h_fmt("origin %s version %d\n", path, version);

    assert_non_null(r->body);
    assert_true(r->complete);
    assert_string_equal(r->body, want);
    free(want);
}

/* The <n>th (0-based) request head the origin logged for <path>, or NULL. */
static char *origin_head(int oport, const char *path, int n)
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
static int origin_heads(int oport, const char *path)
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
static char *head_field(const char *head, const char *name, int *count_out)
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
static void assert_origin_field(const char *path, int n, const char *name, const char *want)
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

static void script(const char *path, const char *params)
{
    if (h_origin_script(OP, path, params) != 0)
        fail_msg("scripting %s: %s", path, h_error());
}

/* Waits for an access-log line containing <url_part> and ending with
 * " <outcome> <upstream>" (e.g. "HIT -"). */
static void assert_logged(const char *url_part, const char *tail)
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

static void http_date(time_t t, char *buf, size_t n)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* One number from larder's /larder/stats.json: "<section>":{..."<key>":N}.
 * Returns -1 when the page or the field is missing. */
static long long stats_value(const char *section, const char *key)
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

static void job_body(const char *data, size_t n, void *arg)
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

static void *job_run(void *arg)
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
static void job_open(struct job *j, int pattern)
{
    memset(j, 0, sizeof *j);
    j->pattern = pattern;
    j->c = h_conn_open(LP);
    if (!j->c)
        fail_msg("connect to larder: %s", h_error());
    if (pthread_create(&j->th, NULL, job_run, j) != 0)
        fail_msg("pthread_create failed");
}

static void job_send(struct job *j, const char *raw)
{
    j->t_sent = h_now_ms();
    if (h_conn_send_str(j->c, raw) != 0)
        fail_msg("send to larder: %s", h_error());
}

static void job_join(struct job *j)
{
    pthread_join(j->th, NULL);
    h_conn_close(j->c);
    j->c = NULL;
}

static void job_free(struct job *j)
{
    h_response_free(j->r);
    j->r = NULL;
}

/* Asserts job <j> got a complete 200 whose body is <len> pattern bytes. */
static void assert_job_pattern(const struct job *j, int i, uint64_t len)
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

/* ------------------------------------------------------------------ */
/* 1. Fresh hits                                                       */

static void test_fresh_hit_never_contacts_origin(void **state)
{
    const char *path = "/fresh?cc=max-age%3D60&etag=%22f1%22";
    struct h_response *r;
    struct h_conn *c;
    char *raw;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/fresh", 0);
    ASSERT_CS(r, "fwd=uri-miss");
    ASSERT_CS(r, "fwd-status=200");
    ASSERT_CS(r, "stored");
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/fresh", 1);

    for (int i = 0; i < 4; i++) {
        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        assert_body(r, "/fresh", 0);
        ASSERT_CS(r, "hit");
        ASSERT_CS(r, "ttl=");
        ASSERT_NO_CS(r, "fwd=uri-miss");
        assert_age(r, 0, 5);
        assert_string_equal(hdr(r, "ETag"), "\"f1\"");
        assert_string_equal(hdr(r, "Cache-Control"), "max-age=60");
        h_response_free(r);
        ASSERT_COUNT("/fresh", 1);
    }

    /* several hits on one keep-alive connection */
    c = h_conn_open(LP);
    assert_non_null(c);
    raw = h_req("GET", OP, path, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h_conn_send_str(c, raw), 0);
        r = h_conn_read_response(c, NULL, READ_MS);
        assert_non_null(r);
        assert_body(r, "/fresh", 0);
        ASSERT_CS(r, "hit");
        assert_age(r, 0, 5);
        h_response_free(r);
    }
    free(raw);
    h_conn_close(c);
    ASSERT_COUNT("/fresh", 1);
    assert_logged("/fresh?", "MISS 200");
    assert_logged("/fresh?", "HIT -");
    finish();
}

/* The origin's own Age counts: a response 30 s old with max-age=60 is
 * served with Age >= 30 and is still a hit. */
static void test_age_includes_origin_age(void **state)
{
    const char *path = "/aged?cc=max-age%3D60&h=Age:30";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_age(r, 30, 35);
    h_response_free(r);
    r = get(path, NULL);
    ASSERT_CS(r, "hit");
    assert_age(r, 30, 35);
    h_response_free(r);
    ASSERT_COUNT("/aged", 1);
    finish();
}

/* ------------------------------------------------------------------ */
/* 2. Revalidation                                                     */

/* Stale object, 304: one conditional GET with the stored validators; the
 * 304's fields are merged, the stored body served, the age restarts. */
static void test_revalidation_304_merges_headers(void **state)
{
    const char *path = "/rv?cc=max-age%3D60&etag=%22v1%22&lm=1000000000";
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/rv", "h=Age:1000");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rv", 0);
    ASSERT_CS(r, "stored");
    assert_age(r, 1000, 1010);
    assert_null(h_header_get(r, "X-Version"));
    h_response_free(r);
    ASSERT_COUNT("/rv", 1);
    assert_origin_field("/rv", 0, "If-None-Match", NULL);
    assert_origin_field("/rv", 0, "If-Modified-Since", NULL);

    /* the origin now says "unchanged" with a new header; a 200 would say
     * version 7 */
    script("/rv", "version=7&h=X-Version:2");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rv", 0);
    assert_string_equal(hdr(r, "X-Version"), "2");
    assert_int_equal(h_header_count(r, "X-Version"), 1);
    assert_string_equal(hdr(r, "ETag"), "\"v1\"");
    assert_string_equal(hdr(r, "Last-Modified"), LM_DATE);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=304");
    assert_age(r, 0, 5);
    h_response_free(r);
    ASSERT_COUNT("/rv", 2);
    assert_origin_field("/rv", 1, "If-None-Match", "\"v1\"");
    assert_origin_field("/rv", 1, "If-Modified-Since", LM_DATE);
    assert_logged("/rv?", "REVALIDATED 304");

    /* fresh again: a hit that shows the merged header */
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rv", 0);
    assert_string_equal(hdr(r, "X-Version"), "2");
    ASSERT_CS(r, "hit");
    assert_age(r, 0, 5);
    h_response_free(r);
    ASSERT_COUNT("/rv", 2);
    finish();
}

/* A 304 carrying a new Cache-Control replaces the stored one: the object
 * stored with max-age=0 becomes fresh for 60 s. */
static void test_revalidation_304_new_cache_control(void **state)
{
    const char *path = "/rvcc?etag=%22a%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/rvcc", "cc=max-age=0");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    ASSERT_CS(r, "stored");
    h_response_free(r);

    script("/rvcc", "cc=max-age=60&version=9");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rvcc", 0);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=304");
    assert_string_equal(hdr(r, "Cache-Control"), "max-age=60");
    assert_int_equal(h_header_count(r, "Cache-Control"), 1);
    h_response_free(r);
    ASSERT_COUNT("/rvcc", 2);
    assert_origin_field("/rvcc", 1, "If-None-Match", "\"a\"");

    r = get(path, NULL);
    assert_body(r, "/rvcc", 0);
    ASSERT_CS(r, "hit");
    assert_string_equal(hdr(r, "Cache-Control"), "max-age=60");
    h_response_free(r);
    ASSERT_COUNT("/rvcc", 2);
    finish();
}

/* Without an ETag, the conditional GET carries only If-Modified-Since. */
static void test_revalidation_last_modified_only(void **state)
{
    const char *path = "/rvlm?cc=max-age%3D60&lm=1000000000";
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/rvlm", "h=Age:1000");
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script("/rvlm", "version=3");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rvlm", 0);
    ASSERT_CS(r, "fwd-status=304");
    h_response_free(r);
    ASSERT_COUNT("/rvlm", 2);
    assert_origin_field("/rvlm", 1, "If-Modified-Since", LM_DATE);
    assert_origin_field("/rvlm", 1, "If-None-Match", NULL);
    finish();
}

/* A 200 on revalidation replaces the stored object. */
static void test_revalidation_200_replaces(void **state)
{
    const char *path = "/rep?cc=max-age%3D60";
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/rep", "h=Age:1000&etag=%22v1%22");
    r = get(path, NULL);
    assert_body(r, "/rep", 0);
    ASSERT_CS(r, "stored");
    h_response_free(r);

    script("/rep", "etag=%22v2%22&version=2");
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/rep", 2);
    assert_string_equal(hdr(r, "ETag"), "\"v2\"");
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=200");
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/rep", 2);
    assert_origin_field("/rep", 1, "If-None-Match", "\"v1\"");
    assert_logged("/rep?", "REFRESHED 200");

    r = get(path, NULL);
    assert_body(r, "/rep", 2);
    assert_string_equal(hdr(r, "ETag"), "\"v2\"");
    ASSERT_CS(r, "hit");
    assert_age(r, 0, 5);
    h_response_free(r);
    ASSERT_COUNT("/rep", 2);
    finish();
}

/* A no-cache response is stored but validated before every use. */
static void test_no_cache_response_always_revalidated(void **state)
{
    const char *path = "/rnc?cc=no-cache&etag=%22n1%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script("/rnc", "version=5");
    for (int i = 0; i < 2; i++) {
        r = get(path, NULL);
        assert_body(r, "/rnc", 0);
        ASSERT_CS(r, "fwd=stale");
        ASSERT_CS(r, "fwd-status=304");
        h_response_free(r);
        ASSERT_COUNT("/rnc", 2 + i);
        assert_origin_field("/rnc", 1 + i, "If-None-Match", "\"n1\"");
    }
    finish();
}

/* ------------------------------------------------------------------ */
/* 3. Client conditionals and HEAD                                     */

static void expect_304(const char *path, const char *hdrs)
{
    struct h_response *r = get(path, hdrs);

    if (r->status != 304)
        fail_msg("with \"%s\": status %d, expected 304", hdrs, r->status);
    assert_int_equal(r->body_len, 0);
    ASSERT_CS(r, "hit");
    assert_age(r, 0, 5);
    h_response_free(r);
}

static void expect_200(const char *path, const char *bare, const char *hdrs)
{
    struct h_response *r = get(path, hdrs);

    if (r->status != 200)
        fail_msg("with \"%s\": status %d, expected 200", hdrs, r->status);
    assert_body(r, bare, 0);
    ASSERT_CS(r, "hit");
    h_response_free(r);
}

static void test_client_conditionals_from_cache(void **state)
{
    const char *path = "/cond?cc=max-age%3D60&etag=%22v1%22&lm=1000000000";
    const char *wpath = "/condw?cc=max-age%3D60&etag=W/%22w1%22";
    char later[64], earlier[64], *h;
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);

    r = get(path, "If-None-Match: \"v1\"\r\n");
    assert_int_equal(r->status, 304);
    assert_string_equal(hdr(r, "ETag"), "\"v1\"");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    expect_304(path, "If-None-Match: W/\"v1\"\r\n");         /* weak comparison */
    expect_304(path, "If-None-Match: \"x\", \"v1\"\r\n");    /* a list */
    expect_304(path, "If-None-Match: *\r\n");
    expect_200(path, "/cond", "If-None-Match: \"x\"\r\n");

    expect_304(path, "If-Modified-Since: " LM_DATE "\r\n");
    http_date(LM + 86400, later, sizeof later);
    h = h_fmt("If-Modified-Since: %s\r\n", later);
    expect_304(path, h);
    free(h);
    http_date(LM - 86400, earlier, sizeof earlier);
    h = h_fmt("If-Modified-Since: %s\r\n", earlier);
    expect_200(path, "/cond", h);
    free(h);
    /* If-None-Match wins over If-Modified-Since */
    expect_200(path, "/cond", "If-None-Match: \"x\"\r\nIf-Modified-Since: " LM_DATE "\r\n");
    ASSERT_COUNT("/cond", 1);

    /* a weak stored ETag matches a strong-looking client tag */
    r = get(wpath, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    expect_304(wpath, "If-None-Match: \"w1\"\r\n");
    ASSERT_COUNT("/condw", 1);
    assert_logged("/cond?", "HIT -");
    finish();
}

static void test_head_from_stored_get(void **state)
{
    const char *path = "/head?cc=max-age%3D60&len=5000";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 5000);
    ASSERT_CS(r, "stored");
    h_response_free(r);

    for (int i = 0; i < 2; i++) {
        r = req("HEAD", path, NULL);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 0);
        assert_string_equal(hdr(r, "Content-Length"), "5000");
        ASSERT_CS(r, "hit");
        assert_age(r, 0, 5);
        h_response_free(r);
    }
    /* the connection stays usable after a HEAD hit (no body was sent) */
    {
        struct h_conn *c = h_conn_open(LP);
        char *raw = h_req("HEAD", OP, path, NULL);
        char *raw2 = h_req("GET", OP, path, NULL);

        assert_non_null(c);
        assert_int_equal(h_conn_send_str(c, raw), 0);
        r = h_conn_read_response(c, "HEAD", READ_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        h_response_free(r);
        assert_int_equal(h_conn_send_str(c, raw2), 0);
        r = h_conn_read_response(c, NULL, READ_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 5000);
        assert_true(r->complete);
        h_response_free(r);
        free(raw);
        free(raw2);
        h_conn_close(c);
    }
    ASSERT_COUNT("/head", 1);
    finish();
}

/* ------------------------------------------------------------------ */
/* 4. Vary                                                             */

static struct h_response *get_lang(const char *path, const char *lang_line)
{
    return get(path, lang_line);
}

static void test_vary_variants(void **state)
{
    const char *path = "/vary?cc=max-age%3D60&h=Vary:Accept-Language&echo=Accept-Language";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get_lang(path, "Accept-Language: en\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "en");
    ASSERT_CS(r, "fwd=uri-miss");
    ASSERT_CS(r, "stored");
    h_response_free(r);

    r = get_lang(path, "Accept-Language: fr\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
    ASSERT_CS(r, "fwd=vary-miss");
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/vary", 2);

    for (int i = 0; i < 2; i++) {
        r = get_lang(path, "Accept-Language: en\r\n");
        assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "en");
        ASSERT_CS(r, "hit");
        h_response_free(r);
        r = get_lang(path, "Accept-Language: fr\r\n");
        assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
        ASSERT_CS(r, "hit");
        h_response_free(r);
    }
    /* request field names are case-insensitive */
    r = get_lang(path, "accept-LANGUAGE: fr\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/vary", 2);

    /* absent is a variant of its own, and differs from empty */
    r = get_lang(path, NULL);
    assert_null(h_header_get(r, "X-Echo-Accept-Language"));
    ASSERT_CS(r, "fwd=vary-miss");
    h_response_free(r);
    ASSERT_COUNT("/vary", 3);
    r = get_lang(path, NULL);
    assert_null(h_header_get(r, "X-Echo-Accept-Language"));
    ASSERT_CS(r, "hit");
    h_response_free(r);
    r = get_lang(path, "Accept-Language:\r\n");
    ASSERT_CS(r, "fwd=vary-miss");
    h_response_free(r);
    ASSERT_COUNT("/vary", 4);
    finish();
}

/* Vary names in any case; values compared after whitespace normalization,
 * letter case kept. */
static void test_vary_normalization(void **state)
{
    const char *path = "/varyn?cc=max-age%3D60&h=Vary:aCCEPT-encoding,%20X-Extra&echo=Accept-Encoding";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, "Accept-Encoding: gzip, deflate\r\nX-Extra: a  b\r\n");
    ASSERT_CS(r, "stored");
    h_response_free(r);

    r = get(path, "Accept-Encoding: gzip,deflate\r\nX-Extra: a b\r\n");
    ASSERT_CS(r, "hit");
    assert_string_equal(hdr(r, "X-Echo-Accept-Encoding"), "gzip, deflate");
    h_response_free(r);
    r = get(path, "Accept-Encoding:   gzip ,  deflate  \r\nX-Extra: a b\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    r = get(path, "Accept-Encoding: gzip\r\nX-Extra: a b\r\nAccept-Encoding: deflate\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/varyn", 1);

    r = get(path, "Accept-Encoding: GZIP, deflate\r\nX-Extra: a b\r\n");
    ASSERT_NO_CS(r, "hit");
    ASSERT_CS(r, "fwd=vary-miss");
    assert_string_equal(hdr(r, "X-Echo-Accept-Encoding"), "GZIP, deflate");
    h_response_free(r);
    ASSERT_COUNT("/varyn", 2);
    r = get(path, "Accept-Encoding: gzip, deflate\r\nX-Extra: ab\r\n");
    ASSERT_CS(r, "fwd=vary-miss");
    h_response_free(r);
    ASSERT_COUNT("/varyn", 3);
    finish();
}

static void test_vary_star_never_stored(void **state)
{
    const char *path = "/vstar?cc=max-age%3D60&h=Vary:*";
    struct h_response *r;

    (void)state;
    start(NULL);
    for (int i = 0; i < 3; i++) {
        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        assert_body(r, "/vstar", 0);
        ASSERT_NO_CS(r, "stored");
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        ASSERT_COUNT("/vstar", i + 1);
    }
    finish();
}

/* Clients of different variants arriving together: each gets its own. */
static void test_vary_concurrent_variants(void **state)
{
    const char *path = "/vcon?cc=max-age%3D60&h=Vary:Accept-Language&echo=Accept-Language&delay_ms=800";
    const char *langs[] = { "en", "fr", "en", "de", "fr", "en" };
    enum { N = 6 };
    struct job jobs[N];

    (void)state;
    start(NULL);
    for (int i = 0; i < N; i++)
        job_open(&jobs[i], 0);
    for (int i = 0; i < N; i++) {
        char *lang = h_fmt("Accept-Language: %s\r\n", langs[i]);
        char *raw = h_req("GET", OP, path, lang);

        job_send(&jobs[i], raw);
        free(raw);
        free(lang);
    }
    for (int i = 0; i < N; i++)
        job_join(&jobs[i]);
    for (int i = 0; i < N; i++) {
        assert_non_null(jobs[i].r);
        assert_int_equal(jobs[i].r->status, 200);
        assert_body(jobs[i].r, "/vcon", 0);
        if (strcmp(hdr(jobs[i].r, "X-Echo-Accept-Language"), langs[i]) != 0)
            fail_msg("client %d asked for %s, got the %s variant", i, langs[i],
                     hdr(jobs[i].r, "X-Echo-Accept-Language"));
        job_free(&jobs[i]);
    }
    {
        long n = h_origin_count(OP, "/vcon");
        if (n < 1 || n > 3 + 3)
            fail_msg("origin received %ld requests", n);
    }
    finish();
}

/* ------------------------------------------------------------------ */
/* 5. What is never stored or shared                                   */

static void test_no_store_and_private(void **state)
{
    struct h_response *r;

    (void)state;
    start(NULL);
    for (int i = 0; i < 2; i++) {
        r = get("/ns?cc=no-store", NULL);
        assert_body(r, "/ns", 0);
        ASSERT_NO_CS(r, "stored");
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        r = get("/priv?cc=private,max-age%3D60", NULL);
        assert_body(r, "/priv", 0);
        ASSERT_NO_CS(r, "stored");
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        r = get("/privf?cc=private%3D%22X-A%22,max-age%3D60", NULL);
        ASSERT_NO_CS(r, "stored");
        h_response_free(r);
    }
    ASSERT_COUNT("/ns", 2);
    ASSERT_COUNT("/priv", 2);
    ASSERT_COUNT("/privf", 2);

    /* request no-store: not stored, though the response allows it */
    r = get("/nsr?cc=max-age%3D60", "Cache-Control: no-store\r\n");
    assert_body(r, "/nsr", 0);
    ASSERT_NO_CS(r, "stored");
    h_response_free(r);
    r = get("/nsr?cc=max-age%3D60", NULL);
    ASSERT_CS(r, "fwd=uri-miss");
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/nsr", 2);
    r = get("/nsr?cc=max-age%3D60", NULL);       /* the control: now a hit */
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/nsr", 2);
    finish();
}

static void test_authorization(void **state)
{
    const char *auth = "Authorization: Basic dXNlcjE6cHc=\r\n";
    const char *auth2 = "Authorization: Basic dXNlcjI6cHc=\r\n";
    const char *shared[] = { "/auth-pub?cc=public,max-age%3D60", "/auth-smax?cc=s-maxage%3D60",
                             "/auth-mr?cc=must-revalidate,max-age%3D60" };
    const char *bare[] = { "/auth-pub", "/auth-smax", "/auth-mr" };
    struct h_response *r;

    (void)state;
    start(NULL);
    /* plain max-age: not stored for a request with Authorization */
    r = get("/auth?cc=max-age%3D60", auth);
    assert_body(r, "/auth", 0);
    ASSERT_NO_CS(r, "stored");
    h_response_free(r);
    r = get("/auth?cc=max-age%3D60", auth);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    r = get("/auth?cc=max-age%3D60", NULL);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/auth", 3);
    assert_origin_field("/auth", 0, "Authorization", "Basic dXNlcjE6cHc=");

    /* public, s-maxage, must-revalidate: stored and shared */
    for (int i = 0; i < 3; i++) {
        r = get(shared[i], auth);
        ASSERT_CS(r, "stored");
        h_response_free(r);
        r = get(shared[i], auth2);
        ASSERT_CS(r, "hit");
        assert_body(r, bare[i], 0);
        h_response_free(r);
        r = get(shared[i], NULL);
        ASSERT_CS(r, "hit");
        h_response_free(r);
        ASSERT_COUNT(bare[i], 1);
    }

    /* a response stored for an anonymous request is not used for one with
     * Authorization unless it said it may be (RFC 9111 3.5) */
    r = get("/auth-anon?cc=max-age%3D60", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = get("/auth-anon?cc=max-age%3D60", auth);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/auth-anon", 2);
    assert_origin_field("/auth-anon", 1, "Authorization", "Basic dXNlcjE6cHc=");
    finish();
}

/* Set-Cookie is never handed to another client: without public/s-maxage
 * the response is not stored; with them it is stored without the cookie. */
static void test_set_cookie_never_shared(void **state)
{
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get("/ck?cc=max-age%3D60&h=Set-Cookie:id=42", NULL);
    assert_string_equal(hdr(r, "Set-Cookie"), "id=42");
    ASSERT_NO_CS(r, "stored");
    h_response_free(r);
    r = get("/ck?cc=max-age%3D60&h=Set-Cookie:id=42", NULL);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/ck", 2);

    r = get("/ckp?cc=public,max-age%3D60&h=Set-Cookie:id=42&h=X-Other:kept", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    for (int i = 0; i < 2; i++) {
        r = get("/ckp?cc=public,max-age%3D60&h=Set-Cookie:id=42&h=X-Other:kept", NULL);
        ASSERT_CS(r, "hit");
        assert_null(h_header_get(r, "Set-Cookie"));
        assert_string_equal(hdr(r, "X-Other"), "kept");
        assert_body(r, "/ckp", 0);
        h_response_free(r);
    }
    ASSERT_COUNT("/ckp", 1);

    /* a coalesced waiter is another client too */
    {
        const char *p = "/ckw?cc=s-maxage%3D60&h=Set-Cookie:id=7&delay_ms=800";
        struct job jobs[3];
        int with_cookie = 0;

        for (int i = 0; i < 3; i++)
            job_open(&jobs[i], 0);
        for (int i = 0; i < 3; i++) {
            char *raw = h_req("GET", OP, p, NULL);

            job_send(&jobs[i], raw);
            free(raw);
        }
        for (int i = 0; i < 3; i++) {
            job_join(&jobs[i]);
            assert_non_null(jobs[i].r);
            assert_body(jobs[i].r, "/ckw", 0);
            with_cookie += h_header_get(jobs[i].r, "Set-Cookie") != NULL;
            job_free(&jobs[i]);
        }
        if (with_cookie > 1)
            fail_msg("%d clients got the origin's Set-Cookie for one request", with_cookie);
        ASSERT_COUNT("/ckw", 1);
    }
    finish();
}

/* The client whose request made the origin send Set-Cookie receives it,
 * even when the response is stored (without the cookie) for others. */
static void test_set_cookie_reaches_requesting_client(void **state)
{
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get("/ckr?cc=public,max-age%3D60&h=Set-Cookie:id=42", NULL);
    assert_int_equal(r->status, 200);
    ASSERT_CS(r, "stored");
    if (!h_header_get(r, "Set-Cookie"))
        fail_msg("the client that caused the fetch lost the origin's Set-Cookie:\n%s", r->head);
    assert_string_equal(hdr(r, "Set-Cookie"), "id=42");
    h_response_free(r);
    r = get("/ckr?cc=public,max-age%3D60&h=Set-Cookie:id=42", NULL);
    ASSERT_CS(r, "hit");
    assert_null(h_header_get(r, "Set-Cookie"));
    h_response_free(r);
    ASSERT_COUNT("/ckr", 1);
    finish();
}

/* Error statuses are stored only with explicit freshness; heuristic
 * freshness needs a validator. */
static void test_error_and_heuristic_storing(void **state)
{
    struct h_response *r;

    (void)state;
    start(NULL);
    for (int i = 0; i < 2; i++) {
        r = get("/e404?status=404", NULL);
        assert_int_equal(r->status, 404);
        ASSERT_NO_CS(r, "hit");
        ASSERT_NO_CS(r, "stored");
        h_response_free(r);
        r = get("/e404l?status=404&lm=1000000000", NULL);  /* no heuristics for 404 */
        assert_int_equal(r->status, 404);
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        r = get("/e500?status=500&lm=1000000000", NULL);
        assert_int_equal(r->status, 500);
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        r = get("/nofresh", NULL);             /* neither freshness nor validator */
        assert_body(r, "/nofresh", 0);
        ASSERT_NO_CS(r, "hit");
        ASSERT_NO_CS(r, "stored");
        h_response_free(r);
    }
    ASSERT_COUNT("/e404", 2);
    ASSERT_COUNT("/e404l", 2);
    ASSERT_COUNT("/e500", 2);
    ASSERT_COUNT("/nofresh", 2);

    r = get("/e404s?status=404&cc=max-age%3D60", NULL);
    assert_int_equal(r->status, 404);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = get("/e404s?status=404&cc=max-age%3D60", NULL);
    assert_int_equal(r->status, 404);
    ASSERT_CS(r, "hit");
    assert_age(r, 0, 5);
    h_response_free(r);
    ASSERT_COUNT("/e404s", 1);

    /* heuristic: 10% of Date - Last-Modified (decades), capped at a day */
    r = get("/heur?lm=1000000000", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = get("/heur?lm=1000000000", NULL);
    ASSERT_CS(r, "hit");
    assert_body(r, "/heur", 0);
    h_response_free(r);
    ASSERT_COUNT("/heur", 1);
    finish();
}

/* ------------------------------------------------------------------ */
/* 6. Invalidation                                                     */

static void store_and_check(int oport, const char *path, const char *bare)
{
    struct h_response *r = get_from(oport, path, NULL);

    if (!cs_has(r, "stored") && !cs_has(r, "hit"))
        fail_msg("%s was not stored: Cache-Status %s", path, hdr(r, "Cache-Status"));
    h_response_free(r);
    r = get_from(oport, path, NULL);
    if (!cs_has(r, "hit"))
        fail_msg("%s is not a hit: Cache-Status %s", path, hdr(r, "Cache-Status"));
    assert_body(r, bare, 0);
    h_response_free(r);
}

static void test_invalidation_unsafe_methods(void **state)
{
    const char *methods[] = { "POST", "PUT", "DELETE", "PATCH" };
    struct h_response *r;

    (void)state;
    start(NULL);
    for (int i = 0; i < 4; i++) {
        char *bare = h_fmt("/inv-%s", methods[i]);
        char *path = h_fmt("%s?cc=max-age%%3D60", bare);

        store_and_check(OP, path, bare);
        ASSERT_COUNT(bare, 1);
        r = req(methods[i], path, "Content-Length: 0\r\n");
        assert_int_equal(r->status, 200);
        ASSERT_CS(r, "fwd=method");
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
        ASSERT_COUNT(bare, 2);
        r = get(path, NULL);
        if (!cs_has(r, "fwd=uri-miss"))
            fail_msg("GET after %s 200: Cache-Status %s, expected a miss", methods[i],
                     hdr(r, "Cache-Status"));
        assert_body(r, bare, 0);
        h_response_free(r);
        ASSERT_COUNT(bare, 3);
        free(path);
        free(bare);
    }
    assert_logged("/inv-POST?", "PASS 200");

    /* an error answer invalidates nothing */
    store_and_check(OP, "/inv-err", "/inv-err");
    script("/inv-err", "status=500");
    r = req("POST", "/inv-err", "Content-Length: 0\r\n");
    assert_int_equal(r->status, 500);
    h_response_free(r);
    script("/inv-err", "");
    r = get("/inv-err", NULL);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/inv-err", 2);           /* GET, POST */
    finish();
}

/* Location and Content-Location of the same authority are invalidated
 * too; another authority's entries are not. */
static void test_invalidation_location(void **state)
{
    const char *targets[] = { "/t-loc", "/t-cl", "/t-rel", "/t-keep" };
    struct h_response *r;
    char *form;

    (void)state;
    start(NULL);
    start_origin2();
    for (int i = 0; i < 4; i++) {
        script(targets[i], "cc=max-age=60");
        store_and_check(OP, targets[i], targets[i]);
    }
    if (h_origin_script(OP2, "/t-other", "cc=max-age=60") != 0)
        fail_msg("script: %s", h_error());
    store_and_check(OP2, "/t-other", "/t-other");

    form = h_fmt("/form?status=201&h=Location:http://127.0.0.1:%d/t-loc"
                 "&h=Content-Location:http://127.0.0.1:%d/t-cl", OP, OP);
    r = req("POST", form, "Content-Length: 0\r\n");
    assert_int_equal(r->status, 201);
    h_response_free(r);
    free(form);
    /* a relative Location is of the same authority */
    r = req("POST", "/form2?status=303&h=Location:/t-rel", "Content-Length: 0\r\n");
    assert_int_equal(r->status, 303);
    h_response_free(r);
    /* another authority (port) is left alone */
    form = h_fmt("/form3?h=Location:http://127.0.0.1:%d/t-other"
                 "&h=Content-Location:http://127.0.0.1:%d/t-other", OP2, OP2);
    r = req("POST", form, "Content-Length: 0\r\n");
    assert_int_equal(r->status, 200);
    h_response_free(r);
    free(form);

    for (int i = 0; i < 3; i++) {
        r = get(targets[i], NULL);
        if (!cs_has(r, "fwd=uri-miss"))
            fail_msg("%s should have been invalidated: Cache-Status %s", targets[i],
                     hdr(r, "Cache-Status"));
        h_response_free(r);
        ASSERT_COUNT(targets[i], 2);
    }
    r = get("/t-keep", NULL);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/t-keep", 1);
    r = get_from(OP2, "/t-other", NULL);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT2("/t-other", 1);
    finish();
}

/* ------------------------------------------------------------------ */
/* 7. Coalescing and read-while-writer                                 */

/* Sends <raw> on <n> fresh connections at once; the jobs read. */
static void crowd(struct job *jobs, int n, const char *raw, int pattern)
{
    for (int i = 0; i < n; i++)
        job_open(&jobs[i], pattern);
    for (int i = 0; i < n; i++)
        job_send(&jobs[i], raw);
    for (int i = 0; i < n; i++)
        job_join(&jobs[i]);
}

static void test_coalescing_cold_100(void **state)
{
    enum { N = 100, LEN = 50000 };
    const char *path = "/cold?cc=max-age%3D60&len=50000&delay_ms=1500";
    struct job *jobs = calloc(N, sizeof *jobs);
    char *raw;
    int collapsed = 0, stored = 0;

    (void)state;
    start(NULL);
    raw = h_req("GET", OP, path, NULL);
    crowd(jobs, N, raw, 1);
    free(raw);
    for (int i = 0; i < N; i++) {
        assert_job_pattern(&jobs[i], i, LEN);
        collapsed += cs_has(jobs[i].r, "collapsed");
        stored += cs_has(jobs[i].r, "fwd=uri-miss") && !cs_has(jobs[i].r, "collapsed");
        job_free(&jobs[i]);
    }
    free(jobs);
    ASSERT_COUNT("/cold", 1);
    if (collapsed != N - 1 || stored != 1)
        fail_msg("%d responses say collapsed, %d are the one miss; expected %d and 1",
                 collapsed, stored, N - 1);
    if (stats_value("requests", "hit") < 0)
        fail_msg("no stats.json");
    finish();
}

static void test_coalescing_revalidation_100(void **state)
{
    enum { N = 100, LEN = 30000 };
    const char *path = "/hot?cc=max-age%3D60&etag=%22h1%22&len=30000";
    struct job *jobs = calloc(N, sizeof *jobs);
    struct h_response *r;
    char *raw;

    (void)state;
    start(NULL);
    script("/hot", "h=Age:1000");
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    assert_int_equal(r->body_len, LEN);
    h_response_free(r);

    /* the origin would now send a different body length on a 200 */
    script("/hot", "delay_ms=1500&len=10");
    raw = h_req("GET", OP, path, NULL);
    crowd(jobs, N, raw, 1);
    free(raw);
    for (int i = 0; i < N; i++) {
        assert_job_pattern(&jobs[i], i, LEN);
        if (!cs_has(jobs[i].r, "fwd-status=304") && !cs_has(jobs[i].r, "hit"))
            fail_msg("client %d: Cache-Status %s", i, hdr(jobs[i].r, "Cache-Status"));
        job_free(&jobs[i]);
    }
    free(jobs);
    ASSERT_COUNT("/hot", 2);
    assert_int_equal(origin_heads(OP, "/hot"), 2);
    assert_origin_field("/hot", 1, "If-None-Match", "\"h1\"");
    r = get(path, NULL);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/hot", 2);
    finish();
}

/* Clients receive the body as it arrives: a dripping origin (20 pieces
 * 100 ms apart) is seen piecewise by the first client, by a coalesced
 * waiter and by a client that arrives mid-stream. */
static void test_streaming_while_filling(void **state)
{
    enum { LEN = 4000 };
    const char *path = "/drip?cc=max-age%3D60&len=4000&drip_ms=100&drip_bytes=200";
    struct job jobs[3];
    uint64_t deadline;
    char *raw;

    (void)state;
    start(NULL);
    raw = h_req("GET", OP, path, NULL);
    for (int i = 0; i < 3; i++)
        job_open(&jobs[i], 1);
    job_send(&jobs[0], raw);
    job_send(&jobs[1], raw);
    /* the third asks once the first has part of the body */
    deadline = h_now_ms() + READ_MS;
    while (__atomic_load_n(&jobs[0].seen, __ATOMIC_ACQUIRE) < 600 && h_now_ms() < deadline)
        h_sleep_ms(5);
    job_send(&jobs[2], raw);
    free(raw);
    for (int i = 0; i < 3; i++)
        job_join(&jobs[i]);
    for (int i = 0; i < 3; i++) {
        const struct job *j = &jobs[i];

        assert_job_pattern(j, i, LEN);
        /* if larder waited for the whole body, it would arrive at once */
        if (j->len_first >= LEN || j->t_last - j->t_first < 500)
            fail_msg("client %d: first piece %llu bytes, body spread over %llu ms; "
                     "expected streaming", i, (unsigned long long)j->len_first,
                     (unsigned long long)(j->t_last - j->t_first));
    }
    if (jobs[2].t_first >= jobs[0].t_last)
        fail_msg("the mid-stream client saw its first bytes only after the body ended");
    ASSERT_CS(jobs[2].r, "hit");
    for (int i = 0; i < 3; i++)
        job_free(&jobs[i]);
    ASSERT_COUNT("/drip", 1);
    finish();
}

/* A response that turns out not to be storable: every waiter still gets a
 * full, correct response of its own. */
static void test_unstorable_waiters_go_upstream(void **state)
{
    enum { N = 30, LEN = 20000 };
    const char *cases[] = { "cc=no-store&delay_ms=800&len=20000",
                            "cc=private,max-age=60&delay_ms=800&len=20000",
                            "h=Vary:*&cc=max-age=60&delay_ms=800&len=20000" };
    const char *paths[] = { "/nost", "/nopriv", "/novary" };
    struct job *jobs = calloc(N, sizeof *jobs);

    (void)state;
    start(NULL);
    for (int k = 0; k < 3; k++) {
        char *raw = h_req("GET", OP, paths[k], NULL);
        long n;

        script(paths[k], cases[k]);
        crowd(jobs, N, raw, 1);
        free(raw);
        for (int i = 0; i < N; i++) {
            assert_job_pattern(&jobs[i], i, LEN);
            ASSERT_NO_CS(jobs[i].r, "stored");
            ASSERT_NO_CS(jobs[i].r, "hit");
            job_free(&jobs[i]);
        }
        n = h_origin_count(OP, paths[k]);
        if (n < 1 || n > N)
            fail_msg("%s: origin received %ld requests for %d clients", paths[k], n, N);
    }
    free(jobs);
    finish();
}

/* A waiter that waits longer than coalesce_timeout goes upstream alone. */
static void test_coalesce_timeout(void **state)
{
    const char *path = "/slow?cc=max-age%3D60&delay_ms=2500";
    struct job jobs[2];
    char *raw;

    (void)state;
    start("coalesce_timeout 300ms\n");
    raw = h_req("GET", OP, path, NULL);
    job_open(&jobs[0], 0);
    job_open(&jobs[1], 0);
    job_send(&jobs[0], raw);
    if (wait_count("/slow", 1, READ_MS) != 0)
        fail_msg("the first request never reached the origin");
    job_send(&jobs[1], raw);
    free(raw);
    job_join(&jobs[0]);
    job_join(&jobs[1]);
    for (int i = 0; i < 2; i++) {
        assert_non_null(jobs[i].r);
        assert_int_equal(jobs[i].r->status, 200);
        assert_body(jobs[i].r, "/slow", 0);
        ASSERT_NO_CS(jobs[i].r, "collapsed");
        job_free(&jobs[i]);
    }
    ASSERT_COUNT("/slow", 2);
    finish();
}

/* ------------------------------------------------------------------ */
/* 8. The budget: LRU eviction                                         */

static void test_lru_eviction(void **state)
{
    enum { N = 20, LEN = 100 * 1024 };
    struct h_response *r;
    long long objects, bytes, budget, evictions;

    (void)state;
    start("cache_size 1M\nmax_object_size 256k\n");
    for (int i = 0; i < N; i++) {
        char *path = h_fmt("/lru%d?cc=max-age%%3D60&len=%d", i, LEN);

        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, LEN);
        assert_true(r->complete);
        ASSERT_CS(r, "stored");
        h_response_free(r);
        free(path);
    }
    objects = stats_value("cache", "objects");
    bytes = stats_value("cache", "memory_bytes");
    budget = stats_value("cache", "budget_bytes");
    evictions = stats_value("cache", "evictions");
    if (objects < 0 || bytes < 0 || budget < 0 || evictions < 0)
        fail_msg("stats.json lacks cache fields");
    assert_int_equal(budget, 1024 * 1024);
    if (bytes > budget || bytes < objects * LEN || objects < 3 || objects > 10
        || evictions < N - 10 || objects + evictions != N)
        fail_msg("after %d objects of %d bytes: %lld objects, %lld bytes, budget %lld, "
                 "%lld evictions", N, LEN, objects, bytes, budget, evictions);

    /* the most recent ones are hits */
    for (int i = N - 1; i >= N - 3; i--) {
        char *path = h_fmt("/lru%d?cc=max-age%%3D60&len=%d", i, LEN);
        char *bare = h_fmt("/lru%d", i);

        r = get(path, NULL);
        ASSERT_CS(r, "hit");
        assert_int_equal(r->body_len, LEN);
        h_response_free(r);
        ASSERT_COUNT(bare, 1);
        free(path);
        free(bare);
    }
    /* the first ones were evicted */
    for (int i = 0; i < 2; i++) {
        char *path = h_fmt("/lru%d?cc=max-age%%3D60&len=%d", i, LEN);
        char *bare = h_fmt("/lru%d", i);

        r = get(path, NULL);
        ASSERT_CS(r, "fwd=uri-miss");
        assert_int_equal(r->body_len, LEN);
        h_response_free(r);
        ASSERT_COUNT(bare, 2);
        free(path);
        free(bare);
    }
    bytes = stats_value("cache", "memory_bytes");
    if (bytes > budget || bytes <= 0)
        fail_msg("memory_bytes %lld, budget %lld", bytes, budget);
    finish();
}

/* ------------------------------------------------------------------ */
/* 9. Never a truncated object; over-size objects                      */

static void test_truncated_not_stored(void **state)
{
    const char *paths[] = { "/trunc?cc=max-age%3D60&len=100000&abort_after=30000",
                            "/truncc?cc=max-age%3D60&len=100000&abort_after=30000&chunked=1",
                            "/truncd?cc=max-age%3D60&len=100000&abort_after=30000&drip_ms=50&drip_bytes=10000" };
    const char *bare[] = { "/trunc", "/truncc", "/truncd" };
    struct h_response *r;

    (void)state;
    start(NULL);
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2; i++) {
            struct h_conn *c = h_conn_open(LP);
            char *raw = h_req("GET", OP, paths[k], NULL);

            assert_non_null(c);
            assert_int_equal(h_conn_send_str(c, raw), 0);
            r = h_conn_read_response(c, NULL, READ_MS);
            if (r && r->status == 200 && (r->complete || r->body_len >= 100000))
                fail_msg("%s: a truncated response reached the client as complete", paths[k]);
            if (r && r->status == 200) {
                assert_true(c->eof || c->reset);
                assert_true(r->body_len <= 30000);
                assert_int_equal(h_pattern_mismatch(r->body, 0, (size_t)r->body_len),
                                 r->body_len);
            }
            h_response_free(r);
            free(raw);
            h_conn_close(c);
            ASSERT_COUNT(bare[k], i + 1);
        }
    }

    /* several clients streaming it: none sees a fake complete response */
    {
        enum { N = 5 };
        struct job jobs[N];
        char *raw = h_req("GET", OP,
                          "/truncw?cc=max-age%3D60&len=100000&abort_after=50000"
                          "&delay_ms=500&drip_ms=50&drip_bytes=10000", NULL);

        crowd(jobs, N, raw, 1);
        free(raw);
        for (int i = 0; i < N; i++) {
            if (jobs[i].r && jobs[i].r->status == 200 && jobs[i].r->complete)
                fail_msg("client %d got a complete 200 for a truncated response", i);
            if (jobs[i].pc.bad || jobs[i].pc.checked > 50000)
                fail_msg("client %d: %llu bytes, %llu bad", i,
                         (unsigned long long)jobs[i].pc.checked,
                         (unsigned long long)jobs[i].pc.bad);
            job_free(&jobs[i]);
        }
        r = get("/truncw?cc=max-age%3D60&len=100000&abort_after=50000"
                "&delay_ms=500&drip_ms=50&drip_bytes=10000", NULL);
        ASSERT_NO_CS(r, "hit");
        h_response_free(r);
    }
    finish();
}

static void test_oversize_streams_unstored(void **state)
{
    enum { LEN = 2000000 };
    const char *paths[] = { "/big?cc=max-age%3D60&len=2000000",
                            "/bigc?cc=max-age%3D60&len=2000000&chunked=1&chunk=65536" };
    const char *bare[] = { "/big", "/bigc" };

    (void)state;
    start("cache_size 8M\nmax_object_size 1M\n");
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 2; i++) {
            struct job j;
            char *raw = h_req("GET", OP, paths[k], NULL);

            job_open(&j, 1);
            job_send(&j, raw);
            job_join(&j);
            free(raw);
            assert_job_pattern(&j, i, LEN);
            ASSERT_NO_CS(j.r, "stored");
            ASSERT_NO_CS(j.r, "hit");
            job_free(&j);
            ASSERT_COUNT(bare[k], i + 1);
        }
    }
    {
        long long objects = stats_value("cache", "objects");

        if (objects != 0)
            fail_msg("%lld objects stored, expected none", objects);
    }
    finish();
}

/* A chunked response that grows past max_object_size mid-stream still
 * reaches the first client complete; a client reading the object as it
 * filled gets either all of it or a cut connection, never a fake end. */
static void test_oversize_chunked_mid_stream(void **state)
{
    enum { LEN = 2000000 };
    const char *path = "/bigd?cc=max-age%3D60&len=2000000&chunked=1&chunk=50000"
                       "&drip_ms=50&drip_bytes=200000";
    struct job jobs[2];
    uint64_t deadline;
    struct h_response *r;
    char *raw;

    (void)state;
    start("cache_size 8M\nmax_object_size 1M\n");
    raw = h_req("GET", OP, path, NULL);
    job_open(&jobs[0], 1);
    job_open(&jobs[1], 1);
    job_send(&jobs[0], raw);
    deadline = h_now_ms() + READ_MS;
    while (__atomic_load_n(&jobs[0].seen, __ATOMIC_ACQUIRE) < 200000 && h_now_ms() < deadline)
        h_sleep_ms(5);
    job_send(&jobs[1], raw);
    free(raw);
    job_join(&jobs[0]);
    job_join(&jobs[1]);
    assert_job_pattern(&jobs[0], 0, LEN);
    if (jobs[1].r && jobs[1].r->status == 200) {
        if (jobs[1].r->complete && jobs[1].pc.checked != LEN)
            fail_msg("the second client got a complete response of %llu bytes",
                     (unsigned long long)jobs[1].pc.checked);
        assert_int_equal(jobs[1].pc.bad, 0);
    }
    job_free(&jobs[0]);
    job_free(&jobs[1]);
    r = get(path, NULL);
    assert_int_equal(r->status, 200);
    assert_true(r->complete);
    assert_int_equal(r->body_len, LEN);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    {
        long n = h_origin_count(OP, "/bigd");
        if (n < 2 || n > 3)
            fail_msg("origin received %ld requests for /bigd", n);
    }
    finish();
}

/* ------------------------------------------------------------------ */
/* 10. Request directives                                              */

static void test_only_if_cached(void **state)
{
    const char *path = "/oic?cc=max-age%3D60";
    const char *oic = "Cache-Control: only-if-cached\r\n";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, oic);
    assert_int_equal(r->status, 504);
    ASSERT_CS(r, "detail=only-if-cached");
    h_response_free(r);
    ASSERT_COUNT("/oic", 0);
    assert_int_equal(origin_heads(OP, "/oic"), 0);
    assert_logged("/oic?", "UNAVAILABLE -");

    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = get(path, oic);
    assert_int_equal(r->status, 200);
    assert_body(r, "/oic", 0);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/oic", 1);

    /* stored but stale: still 504, no origin contact */
    script("/oics", "h=Age:1000");
    r = get("/oics?cc=max-age%3D60", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = get("/oics?cc=max-age%3D60", oic);
    assert_int_equal(r->status, 504);
    h_response_free(r);
    ASSERT_COUNT("/oics", 1);
    /* ... unless the request accepts it stale */
    r = get("/oics?cc=max-age%3D60", "Cache-Control: only-if-cached, max-stale\r\n");
    assert_int_equal(r->status, 200);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/oics", 1);
    finish();
}

/* Stores <path> (with "h=Age:<age>" scripted for <bare>, then the script
 * set to <after>), returning nothing; the object is then <age> seconds old. */
static void store_aged(const char *path, const char *bare, int age, const char *after)
{
    char *s = h_fmt("h=Age:%d", age);
    struct h_response *r;

    script(bare, s);
    free(s);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script(bare, after);
}

static void test_request_no_cache_and_pragma(void **state)
{
    const char *path = "/rnoc?cc=max-age%3D60&etag=%22p1%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script("/rnoc", "version=4");

    r = get(path, "Cache-Control: no-cache\r\n");
    assert_body(r, "/rnoc", 0);
    ASSERT_CS(r, "fwd=request");
    ASSERT_CS(r, "fwd-status=304");
    h_response_free(r);
    ASSERT_COUNT("/rnoc", 2);
    assert_origin_field("/rnoc", 1, "If-None-Match", "\"p1\"");

    r = get(path, "Pragma: no-cache\r\n");
    assert_body(r, "/rnoc", 0);
    ASSERT_CS(r, "fwd=request");
    h_response_free(r);
    ASSERT_COUNT("/rnoc", 3);
    assert_origin_field("/rnoc", 2, "If-None-Match", "\"p1\"");

    /* Pragma counts only without Cache-Control */
    r = get(path, "Pragma: no-cache\r\nCache-Control: max-stale=5\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/rnoc", 3);
    r = get(path, NULL);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/rnoc", 3);
    assert_logged("/rnoc?", "REVALIDATED 304");
    finish();
}

/* max-age=0 from a client revalidates an object older than 0 s; a larger
 * max-age the age does not exceed is a hit. */
static void test_request_max_age(void **state)
{
    const char *path = "/rmax?cc=max-age%3D60&etag=%22r1%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    store_aged(path, "/rmax", 5, "version=2");
    r = get(path, "Cache-Control: max-age=30\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/rmax", 1);
    r = get(path, "Cache-Control: max-age=0\r\n");
    assert_body(r, "/rmax", 0);
    ASSERT_CS(r, "fwd=request");
    ASSERT_CS(r, "fwd-status=304");
    h_response_free(r);
    ASSERT_COUNT("/rmax", 2);
    assert_origin_field("/rmax", 1, "If-None-Match", "\"r1\"");
    finish();
}

static void test_max_stale_and_must_revalidate(void **state)
{
    const char *ms = "/mstale?cc=max-age%3D60&etag=%22m1%22";
    const char *mr = "/mreval?cc=max-age%3D60,must-revalidate&etag=%22m2%22";
    const char *pr = "/preval?cc=max-age%3D60,proxy-revalidate&etag=%22m3%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    store_aged(ms, "/mstale", 100, "version=2");    /* 40 s stale */
    r = get(ms, "Cache-Control: max-stale=1000\r\n");
    assert_int_equal(r->status, 200);
    assert_body(r, "/mstale", 0);
    ASSERT_CS(r, "hit");
    ASSERT_CS(r, "detail=stale");
    assert_age(r, 100, 110);
    h_response_free(r);
    r = get(ms, "Cache-Control: max-stale\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/mstale", 1);
    assert_logged("/mstale?", "STALE -");
    r = get(ms, "Cache-Control: max-stale=10\r\n");     /* too stale for it */
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=304");
    h_response_free(r);
    ASSERT_COUNT("/mstale", 2);

    store_aged(mr, "/mreval", 100, "version=2");
    store_aged(pr, "/preval", 100, "version=2");
    r = get(mr, "Cache-Control: max-stale=1000\r\n");
    assert_body(r, "/mreval", 0);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_NO_CS(r, "detail=stale");
    h_response_free(r);
    ASSERT_COUNT("/mreval", 2);
    assert_origin_field("/mreval", 1, "If-None-Match", "\"m2\"");
    r = get(pr, "Cache-Control: max-stale=1000\r\n");
    ASSERT_CS(r, "fwd=stale");
    h_response_free(r);
    ASSERT_COUNT("/preval", 2);
    finish();
}

static void test_stale_if_error(void **state)
{
    const char *sie = "/sie?cc=max-age%3D60,stale-if-error%3D3600&etag=%22e1%22";
    const char *nosie = "/nosie?cc=max-age%3D60&etag=%22e2%22";
    const char *mr = "/siemr?cc=max-age%3D60,stale-if-error%3D3600,must-revalidate";
    struct h_response *r;

    (void)state;
    start(NULL);
    store_aged(sie, "/sie", 100, "status=503");
    store_aged(nosie, "/nosie", 100, "status=503");
    store_aged(mr, "/siemr", 100, "status=503&lm=1000000000");

    r = get(sie, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/sie", 0);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=503");
    ASSERT_CS(r, "detail=stale");
    assert_age(r, 100, 110);
    h_response_free(r);
    ASSERT_COUNT("/sie", 2);
    assert_origin_field("/sie", 1, "If-None-Match", "\"e1\"");
    assert_logged("/sie?", "STALE_ERROR 503");

    r = get(nosie, NULL);
    assert_int_equal(r->status, 503);
    ASSERT_NO_CS(r, "detail=stale");
    h_response_free(r);
    ASSERT_COUNT("/nosie", 2);
    /* the request may ask for it */
    r = get(nosie, "Cache-Control: stale-if-error=3600\r\n");
    assert_int_equal(r->status, 200);
    assert_body(r, "/nosie", 0);
    ASSERT_CS(r, "detail=stale");
    h_response_free(r);
    ASSERT_COUNT("/nosie", 3);

    r = get(mr, "Cache-Control: stale-if-error=3600\r\n");
    assert_int_equal(r->status, 503);
    h_response_free(r);
    ASSERT_COUNT("/siemr", 2);
    finish();
}

/* serve_stale_on_error on: a stale copy when the origin fails or is down,
 * never for must-revalidate. */
static void test_serve_stale_on_error_origin_down(void **state)
{
    const char *p = "/down?cc=max-age%3D60&etag=%22d1%22";
    const char *mr = "/downmr?cc=max-age%3D60,must-revalidate&etag=%22d2%22";
    const char *nc = "/downnc?cc=no-cache&etag=%22d3%22";
    struct h_response *r;
    struct h_proc *o;

    (void)state;
    start("serve_stale_on_error on\n");
    store_aged(p, "/down", 100, "status=503");
    store_aged(mr, "/downmr", 100, "status=503");
    store_aged(nc, "/downnc", 0, "status=503");

    r = get(p, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/down", 0);
    ASSERT_CS(r, "fwd-status=503");
    ASSERT_CS(r, "detail=stale");
    h_response_free(r);
    r = get(mr, NULL);
    assert_int_equal(r->status, 503);
    h_response_free(r);
    r = get(nc, NULL);
    assert_int_equal(r->status, 503);
    h_response_free(r);
    ASSERT_COUNT("/down", 2);
    ASSERT_COUNT("/downmr", 2);
    ASSERT_COUNT("/downnc", 2);

    /* the origin goes away */
    o = origin;
    origin = NULL;
    assert_int_equal(h_proc_stop(o), 0);
    r = get(p, NULL);
    assert_int_equal(r->status, 200);
    assert_body(r, "/down", 0);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "detail=stale");
    ASSERT_NO_CS(r, "fwd-status=");
    h_response_free(r);
    r = get(mr, NULL);
    if (r->status < 500)
        fail_msg("must-revalidate with the origin down: status %d", r->status);
    ASSERT_NO_CS(r, "detail=stale");
    h_response_free(r);
    finish();
}

/* Without stale-if-error or serve_stale_on_error, a down origin means an
 * error, not the stale copy. */
static void test_no_stale_on_error_by_default(void **state)
{
    const char *p = "/down2?cc=max-age%3D60&etag=%22x%22";
    struct h_response *r;
    struct h_proc *o;

    (void)state;
    start(NULL);
    store_aged(p, "/down2", 100, "");
    o = origin;
    origin = NULL;
    assert_int_equal(h_proc_stop(o), 0);
    r = get(p, NULL);
    if (r->status < 500)
        fail_msg("origin down, no stale allowed: status %d\n%s", r->status, r->head);
    ASSERT_NO_CS(r, "detail=stale");
    h_response_free(r);
    finish();
}

/* stale-while-revalidate: the stale copy at once, one background
 * revalidation, then the new version. */
static void test_stale_while_revalidate(void **state)
{
    const char *path = "/swr?cc=max-age%3D60,stale-while-revalidate%3D3600";
    struct h_response *r;
    uint64_t t0, deadline;
    int fresh = 0;

    (void)state;
    start(NULL);
    script("/swr", "h=Age:100&etag=%22s1%22");
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script("/swr", "etag=%22s2%22&version=2&delay_ms=2000");

    t0 = h_now_ms();
    for (int i = 0; i < 4; i++) {
        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        assert_body(r, "/swr", 0);
        ASSERT_CS(r, "hit");
        ASSERT_CS(r, "detail=stale");
        h_response_free(r);
    }
    if (h_now_ms() - t0 > 1500)
        fail_msg("stale responses took %llu ms: they waited for the revalidation",
                 (unsigned long long)(h_now_ms() - t0));
    if (wait_count("/swr", 2, READ_MS) != 0)
        fail_msg("no background revalidation reached the origin");
    assert_origin_field("/swr", 1, "If-None-Match", "\"s1\"");
    assert_logged("/swr?", "STALE -");

    /* once it is done the new version is served, fresh */
    deadline = h_now_ms() + READ_MS;
    while (!fresh && h_now_ms() < deadline) {
        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        if (strcmp(r->body, "origin /swr version 2\n") == 0) {
            ASSERT_CS(r, "hit");
            ASSERT_NO_CS(r, "detail=stale");
            fresh = 1;
        } else {
            assert_body(r, "/swr", 0);
        }
        h_response_free(r);
        if (!fresh)
            h_sleep_ms(50);
    }
    assert_true(fresh);
    ASSERT_COUNT("/swr", 2);
    finish();
}

/* ------------------------------------------------------------------ */
/* 11. The cache key                                                   */

static void test_cache_key(void **state)
{
    struct h_response *r;
    char *raw;

    (void)state;
    start(NULL);
    start_origin2();

    /* the query is part of the key */
    for (int round = 0; round < 2; round++) {
        for (int q = 1; q <= 2; q++) {
            char *path = h_fmt("/qk?cc=max-age%%3D60&h=X-Q:%d", q);
            char *want = h_fmt("%d", q);

            r = get(path, NULL);
            assert_string_equal(hdr(r, "X-Q"), want);
            if (round == 1)
                ASSERT_CS(r, "hit");
            h_response_free(r);
            free(path);
            free(want);
        }
    }
    ASSERT_COUNT("/qk", 2);

    /* the path is case-sensitive */
    h_response_free(get("/CaseP?cc=max-age%3D60", NULL));
    r = get("/casep?cc=max-age%3D60", NULL);
    ASSERT_CS(r, "fwd=uri-miss");
    assert_body(r, "/casep", 0);
    h_response_free(r);

    /* the host is not */
    raw = h_fmt("GET http://LocalHost:%d/hk?cc=max-age%%3D60 HTTP/1.1\r\nHost: LocalHost:%d\r\n\r\n",
                OP, OP);
    r = raw_req(raw);
    assert_int_equal(r->status, 200);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    free(raw);
    raw = h_fmt("GET http://localhost:%d/hk?cc=max-age%%3D60 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n",
                OP, OP);
    r = raw_req(raw);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    free(raw);
    raw = h_fmt("GET HTTP://LOCALHOST:%d/hk?cc=max-age%%3D60 HTTP/1.1\r\nHost: LOCALHOST:%d\r\n\r\n",
                OP, OP);
    r = raw_req(raw);
    ASSERT_CS(r, "hit");
    h_response_free(r);
    free(raw);
    ASSERT_COUNT("/hk", 1);
    /* but another name is another authority */
    r = get("/hk?cc=max-age%3D60", NULL);           /* 127.0.0.1 */
    ASSERT_CS(r, "fwd=uri-miss");
    h_response_free(r);
    ASSERT_COUNT("/hk", 2);

    /* another port is another authority */
    script("/same", "cc=max-age=60&h=X-Origin:one");
    if (h_origin_script(OP2, "/same", "cc=max-age=60&h=X-Origin:two") != 0)
        fail_msg("script: %s", h_error());
    for (int round = 0; round < 2; round++) {
        r = get_from(OP, "/same", NULL);
        assert_string_equal(hdr(r, "X-Origin"), "one");
        h_response_free(r);
        r = get_from(OP2, "/same", NULL);
        assert_string_equal(hdr(r, "X-Origin"), "two");
        h_response_free(r);
    }
    ASSERT_COUNT("/same", 1);
    ASSERT_COUNT2("/same", 1);
    finish();
}

/* The default port is elided: http://h/p and http://h:80/p are one key.
 * Needs port 80 free on 127.0.0.1 (and the right to bind it). */
static void test_cache_key_default_port(void **state)
{
    struct h_proc *o80;
    struct h_response *r;

    (void)state;
    o80 = h_origin_start_port(80);
    if (!o80) {
        fprintf(stderr, "test_cache_key_default_port: cannot listen on port 80; skipped\n");
        skip();
    }
    origin = o80;
    OP = 80;
    start_larder(NULL);
    r = raw_req("GET http://127.0.0.1/dp?cc=max-age%3D60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_body(r, "/dp", 0);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = raw_req("GET http://127.0.0.1:80/dp?cc=max-age%3D60 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    r = raw_req("GET http://127.0.0.1:80/dp2?cc=max-age%3D60 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n");
    ASSERT_CS(r, "stored");
    h_response_free(r);
    r = raw_req("GET http://127.0.0.1/dp2?cc=max-age%3D60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/dp", 1);
    ASSERT_COUNT("/dp2", 1);
    finish();
}

/* ------------------------------------------------------------------ */
/* 12. With the real curl                                              */

static void test_curl_end_to_end(void **state)
{
    char *cmd, *out = NULL, *err = NULL;
    int rc;

    (void)state;
    start(NULL);
    cmd = h_fmt("curl -sS -i -x http://127.0.0.1:%d 'http://127.0.0.1:%d/curl?cc=max-age%%3D60'",
                LP, OP);
    rc = h_run(cmd, &out, &err, READ_MS);
    if (rc != 0)
        fail_msg("curl exited %d: %s", rc, err ? err : "");
    assert_non_null(strstr(out, "Cache-Status: larder; fwd=uri-miss"));
    assert_non_null(strstr(out, "origin /curl version 0\n"));
    free(out);
    free(err);
    rc = h_run(cmd, &out, &err, READ_MS);
    if (rc != 0)
        fail_msg("curl exited %d: %s", rc, err ? err : "");
    if (!strstr(out, "\r\nCache-Status: larder; hit") || !strstr(out, "\r\nAge: "))
        fail_msg("second curl output lacks a hit and an Age:\n%s", out);
    assert_non_null(strstr(out, "origin /curl version 0\n"));
    free(out);
    free(err);
    free(cmd);
    ASSERT_COUNT("/curl", 1);
    finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fresh_hit_never_contacts_origin),
        T(test_age_includes_origin_age),
        T(test_revalidation_304_merges_headers),
        T(test_revalidation_304_new_cache_control),
        T(test_revalidation_last_modified_only),
        T(test_revalidation_200_replaces),
        T(test_no_cache_response_always_revalidated),
        T(test_client_conditionals_from_cache),
        T(test_head_from_stored_get),
        T(test_vary_variants),
        T(test_vary_normalization),
        T(test_vary_star_never_stored),
        T(test_vary_concurrent_variants),
        T(test_no_store_and_private),
        T(test_authorization),
        T(test_set_cookie_never_shared),
        T(test_set_cookie_reaches_requesting_client),
        T(test_error_and_heuristic_storing),
        T(test_invalidation_unsafe_methods),
        T(test_invalidation_location),
        T(test_coalescing_cold_100),
        T(test_coalescing_revalidation_100),
        T(test_streaming_while_filling),
        T(test_unstorable_waiters_go_upstream),
        T(test_coalesce_timeout),
        T(test_lru_eviction),
        T(test_truncated_not_stored),
        T(test_oversize_streams_unstored),
        T(test_oversize_chunked_mid_stream),
        T(test_only_if_cached),
        T(test_request_no_cache_and_pragma),
        T(test_request_max_age),
        T(test_max_stale_and_must_revalidate),
        T(test_stale_if_error),
        T(test_serve_stale_on_error_origin_down),
        T(test_no_stale_on_error_by_default),
        T(test_stale_while_revalidate),
        T(test_cache_key),
        T(test_cache_key_default_port),
        T(test_curl_end_to_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
