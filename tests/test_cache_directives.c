/* SPDX-License-Identifier: MIT */
/* test_cache_directives.c - the cache end to end (issue 3), part 3:
 * request directives (only-if-cached, no-cache, Pragma, max-age,
 * max-stale), must-revalidate, stale-if-error, serve_stale_on_error with a
 * failing or absent origin, stale-while-revalidate, and the access-log
 * outcomes docs/caching.md lists. */
#include "test_cache_common.h"

/* ------------------------------------------------------------------ */
/* 10. Request directives                                              */

static void test_only_if_cached(void **state)
{
    const char *path = "/oic?cc=max-age%3D60";
    const char *oic = "Cache-Control: only-if-cached\r\n";
    struct h_response *r;
    char *raw;

    (void)state;
    start(NULL);
    r = get(path, oic);
    assert_int_equal(r->status, 504);
    ASSERT_CS(r, "detail=only-if-cached");
    h_response_free(r);
    ASSERT_COUNT("/oic", 0);
    assert_int_equal(origin_heads(OP, "/oic"), 0);

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

    /* a GET with a body is never answered from the cache, so it is a 504
     * too: only-if-cached never reaches the origin */
    raw = h_fmt("GET http://127.0.0.1:%d/oicb HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Cache-Control: only-if-cached\r\nContent-Length: 3\r\n\r\nabc", OP, OP);
    r = raw_req(raw);
    free(raw);
    assert_int_equal(r->status, 504);
    h_response_free(r);
    ASSERT_COUNT("/oicb", 0);
    finish();
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
    store_scripted(path, "/rmax", "h=Age:5", "version=2");
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

    /* min-fresh: 55 s left is not enough for min-fresh=100 */
    store_scripted("/rminf?cc=max-age%3D60&etag=%22r2%22", "/rminf", "h=Age:5", "");
    r = get("/rminf?cc=max-age%3D60&etag=%22r2%22", "Cache-Control: min-fresh=10\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    r = get("/rminf?cc=max-age%3D60&etag=%22r2%22", "Cache-Control: min-fresh=100\r\n");
    ASSERT_CS(r, "fwd=request");
    h_response_free(r);
    ASSERT_COUNT("/rminf", 2);

    /* a fresh immutable response stands for a reload (max-age=0), not for
     * a forced one (no-cache) */
    store_scripted("/rimm?cc=max-age%3D60,immutable&etag=%22r3%22", "/rimm", "h=Age:5", "");
    r = get("/rimm?cc=max-age%3D60,immutable&etag=%22r3%22", "Cache-Control: max-age=0\r\n");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/rimm", 1);
    r = get("/rimm?cc=max-age%3D60,immutable&etag=%22r3%22", "Cache-Control: no-cache\r\n");
    ASSERT_CS(r, "fwd=request");
    h_response_free(r);
    ASSERT_COUNT("/rimm", 2);
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
    store_scripted(ms, "/mstale", "h=Age:100", "version=2");    /* 40 s stale */
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

    store_scripted(mr, "/mreval", "h=Age:100", "version=2");
    store_scripted(pr, "/preval", "h=Age:100", "version=2");
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
    const char *sie = "/sie?etag=%22e1%22";
    const char *nosie = "/nosie?etag=%22e2%22";
    const char *mr = "/siemr?etag=%22e3%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    store_scripted(sie, "/sie", "h=Age:100&cc=max-age=60,stale-if-error=3600", "status=503");
    store_scripted(nosie, "/nosie", "h=Age:100&cc=max-age=60", "status=503");
    store_scripted(mr, "/siemr", "h=Age:100&cc=max-age=60,stale-if-error=3600,must-revalidate",
                   "status=503");

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
    ASSERT_NO_CS(r, "detail=stale");
    h_response_free(r);
    ASSERT_COUNT("/siemr", 2);
    assert_origin_field("/siemr", 1, "If-None-Match", "\"e3\"");
    finish();
}

/* serve_stale_on_error on: a stale copy when the origin fails or is down,
 * never for must-revalidate. */
static void test_serve_stale_on_error_origin_down(void **state)
{
    const char *p = "/down?etag=%22d1%22";
    const char *mr = "/downmr?etag=%22d2%22";
    const char *nc = "/downnc?etag=%22d3%22";
    struct h_response *r;
    struct h_proc *o;

    (void)state;
    start("serve_stale_on_error on\n");
    store_scripted(p, "/down", "h=Age:100&cc=max-age=60", "status=503");
    store_scripted(mr, "/downmr", "h=Age:100&cc=max-age=60,must-revalidate", "status=503");
    store_scripted(nc, "/downnc", "cc=no-cache", "status=503");

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
    if (r->status < 500 || r->status == 503)
        fail_msg("must-revalidate with the origin down: status %d", r->status);
    ASSERT_NO_CS(r, "detail=stale");
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    finish();
}

/* Without stale-if-error or serve_stale_on_error, a down origin means an
 * error, not the stale copy. */
static void test_no_stale_on_error_by_default(void **state)
{
    const char *p = "/down2?etag=%22x%22";
    struct h_response *r;
    struct h_proc *o;

    (void)state;
    start(NULL);
    store_scripted(p, "/down2", "h=Age:100&cc=max-age=60", "");
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

/* The access-log outcomes docs/caching.md and docs/logging.md list for
 * stale-if-error (STALE, with the origin's status) and only-if-cached
 * (ERROR, no origin status). */
static void test_access_log_documented_outcomes(void **state)
{
    const char *sie = "/lsie?cc=max-age%3D60,stale-if-error%3D3600";
    struct h_response *r;

    (void)state;
    start(NULL);
    store_scripted(sie, "/lsie", "h=Age:100", "status=503");
    r = get(sie, NULL);
    assert_int_equal(r->status, 200);
    ASSERT_CS(r, "detail=stale");
    h_response_free(r);
    r = get("/loic", "Cache-Control: only-if-cached\r\n");
    assert_int_equal(r->status, 504);
    h_response_free(r);
    assert_logged("/lsie?", "STALE 503");
    assert_logged("/loic", "ERROR -");
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_only_if_cached),
        T(test_request_no_cache_and_pragma),
        T(test_request_max_age),
        T(test_max_stale_and_must_revalidate),
        T(test_stale_if_error),
        T(test_serve_stale_on_error_origin_down),
        T(test_no_stale_on_error_by_default),
        T(test_stale_while_revalidate),
        T(test_access_log_documented_outcomes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
