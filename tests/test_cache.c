/* SPDX-License-Identifier: MIT */
/* test_cache.c - the cache end to end (issue 3), part 1: fresh hits,
 * revalidation, client conditionals and HEAD, Vary, what is never stored or
 * shared, invalidation, the cache key and curl. Each test asserts what the
 * client got and what reached the origin (counts, conditional headers).
 * Part 2 is test_cache_concurrency.c, part 3 test_cache_directives.c;
 * shared helpers are in test_cache_common.h. */
#include "test_cache_common.h"

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

/* A 304 carrying Content-Length: 0 (as some origins send) must not
 * replace the stored body's framing (docs/caching.md, 304 merge). */
static void test_revalidation_304_keeps_content_length(void **state)
{
    const char *path = "/rv0?cc=max-age%3D60&etag=%22z%22&len=3000";
    char *raw304, *params;
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/rv0", "h=Age:1000");
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    assert_int_equal(r->body_len, 3000);
    h_response_free(r);

    raw304 = h_pct_encode("HTTP/1.1 304 Not Modified\r\nETag: \"z\"\r\n"
                          "Cache-Control: max-age=60\r\nContent-Length: 0\r\n"
                          "X-After: 304\r\n\r\n");
    params = h_fmt("raw=%s", raw304);
    script("/rv0", params);
    free(params);
    free(raw304);
    for (int i = 0; i < 2; i++) {
        r = get(path, NULL);
        assert_int_equal(r->status, 200);
        assert_true(r->complete);
        assert_int_equal(r->body_len, 3000);
        assert_int_equal(h_pattern_mismatch(r->body, 0, 3000), 3000);
        assert_string_equal(hdr(r, "Content-Length"), "3000");
        assert_int_equal(h_header_count(r, "Content-Length"), 1);
        assert_string_equal(hdr(r, "X-After"), "304");
        ASSERT_CS(r, i == 0 ? "fwd-status=304" : "hit");
        h_response_free(r);
    }
    ASSERT_COUNT("/rv0", 2);
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

/* RFC 9111 4.3.5: a HEAD that larder forwards because the stored GET
 * response is stale freshens it when the validators agree (the next GET
 * is a hit), and drops it when they do not (the next GET goes out). */
/* Stores <path> as a stale response (<stored>), then scripts the origin with
 * <now> and sends a HEAD through larder, which forwards it. */
static void head_after(const char *path, const char *stored, const char *now)
{
    script(path, stored);
    h_response_free(get(path, NULL));
    script(path, now);
    h_response_free(req("HEAD", path, NULL));
}

static void test_head_freshens_stored_get(void **state)
{
    struct h_response *r;

    (void)state;
    start(NULL);
    script("/hf", "cc=max-age%3D0&etag=%22a%22&len=300");
    r = get("/hf", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    /* the origin now says a minute: the HEAD brings that to the stored GET */
    script("/hf", "cc=max-age%3D60&etag=%22a%22&len=300&h=X-New:1");
    r = req("HEAD", "/hf", NULL);
    assert_int_equal(r->status, 200);
    ASSERT_NO_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/hf", 2);
    r = get("/hf", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 300);
    ASSERT_CS(r, "hit");
    assert_string_equal(hdr(r, "X-New"), "1");
    h_response_free(r);
    ASSERT_COUNT("/hf", 2);

    /* a HEAD whose validator differs: what is stored is outdated */
    head_after("/hg", "cc=max-age%3D0&etag=%22a%22&len=300", "cc=max-age%3D60&etag=%22b%22&len=300");
    ASSERT_COUNT("/hg", 2);
    r = get("/hg", NULL);
    assert_int_equal(r->status, 200);
    ASSERT_NO_CS(r, "hit");
    assert_string_equal(hdr(r, "ETag"), "\"b\"");
    h_response_free(r);
    ASSERT_COUNT("/hg", 3);

    /* a HEAD answer without the stored validator cannot vouch for it */
    head_after("/hn", "cc=max-age%3D0&etag=%22a%22&len=300", "cc=max-age%3D60&len=300");
    r = get("/hn", NULL);
    ASSERT_NO_CS(r, "hit");
    assert_null(h_header_get(r, "ETag"));
    h_response_free(r);
    ASSERT_COUNT("/hn", 3);

    /* the same when only the length differs */
    head_after("/hl", "cc=max-age%3D0&etag=%22a%22&len=300", "cc=max-age%3D60&etag=%22a%22&len=301");
    r = get("/hl", NULL);
    ASSERT_NO_CS(r, "hit");
    assert_int_equal(r->body_len, 301);
    h_response_free(r);
    ASSERT_COUNT("/hl", 3);
    finish();
}

/* A GET with Range is answered from a fresh stored 200 (RFC 9110 14): 206
 * with the bytes asked for, 416 past the end, the whole body when the Range
 * cannot be served as one range or If-Range does not hold; with nothing
 * fresh stored it goes to the origin as it is, and nothing is stored. */
static void test_range_from_cache(void **state)
{
    static const struct {
        const char *fields;
        int status;
        const char *content_range;   /* NULL: none */
        uint64_t from, len;          /* the body: pattern bytes from..from+len */
    } cases[] = {
        { "Range: bytes=10-19\r\n", 206, "bytes 10-19/1000", 10, 10 },
        { "Range: bytes=-5\r\n", 206, "bytes 995-999/1000", 995, 5 },
        { "Range: bytes=990-\r\n", 206, "bytes 990-999/1000", 990, 10 },
        { "Range: bytes=0-5000\r\n", 206, "bytes 0-999/1000", 0, 1000 },
        { "Range: bytes=1000-\r\n", 416, "bytes */1000", 0, 0 },
        { "Range: bytes=0-1,5-6\r\n", 200, NULL, 0, 1000 },
        { "Range: bytes=0-1\r\nRange: bytes=5-9\r\n", 200, NULL, 0, 1000 },
        { "Range: lines=1-2\r\n", 200, NULL, 0, 1000 },
        { "Range: bytes=5-9\r\nIf-Range: \"r\"\r\n", 206, "bytes 5-9/1000", 5, 5 },
        { "Range: bytes=5-9\r\nIf-Range: \"other\"\r\n", 200, NULL, 0, 1000 },
        { "Range: bytes=5-9\r\nIf-Range: W/\"r\"\r\n", 200, NULL, 0, 1000 },
    };
    const char *path = "/rg?cc=max-age%3D60&len=1000&etag=%22r%22";
    struct h_response *r;

    (void)state;
    start(NULL);
    /* nothing stored: the range request goes to the origin, and is not stored */
    r = get(path, "Range: bytes=0-9\r\n");
    ASSERT_NO_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/rg", 1);
    r = get(path, NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/rg", 2);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *cr;

        r = get(path, cases[i].fields);
        cr = h_header_get(r, "Content-Range");
        if (r->status != cases[i].status || !r->complete ||
            (cases[i].status != 416 && r->body_len != cases[i].len) ||
            (cases[i].content_range == NULL) != (cr == NULL) ||
            (cr != NULL && strcmp(cr, cases[i].content_range) != 0))
            fail_msg("[%s]: status %d, Content-Range %s, %llu body bytes; head:\n%s", cases[i].fields,
                     r->status, cr ? cr : "-", (unsigned long long)r->body_len, r->head);
        if (cases[i].status != 416 &&
            h_pattern_mismatch(r->body, cases[i].from, (size_t)r->body_len) != r->body_len)
            fail_msg("[%s]: not the stored bytes from %llu", cases[i].fields,
                     (unsigned long long)cases[i].from);
        ASSERT_CS(r, "hit");
        if (cases[i].status == 416 && strncmp(r->head, "HTTP/1.1 416 Range Not Satisfiable\r\n", 36) != 0)
            fail_msg("416 status line: %.40s", r->head);
        h_response_free(r);
    }
    ASSERT_COUNT("/rg", 2);

    /* ranges inside and across the blocks of a larger body */
    {
        const char *big = "/rgbig?cc=max-age%3D60&len=300000";
        static const uint64_t spans[][2] = {
            { 0, 1 }, { 65535, 2 }, { 70000, 180000 }, { 200000, 100 }, { 299999, 1 },
        };

        h_response_free(get(big, NULL));
        for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
            char *fields = h_fmt("Range: bytes=%llu-%llu\r\n", (unsigned long long)spans[i][0],
                                 (unsigned long long)(spans[i][0] + spans[i][1] - 1));

            r = get(big, fields);
            if (r->status != 206 || r->body_len != spans[i][1] ||
                h_pattern_mismatch(r->body, spans[i][0], (size_t)r->body_len) != r->body_len)
                fail_msg("[%s]: status %d, %llu bytes", fields, r->status,
                         (unsigned long long)r->body_len);
            h_response_free(r);
            free(fields);
        }
        ASSERT_COUNT("/rgbig", 1);
    }

    /* the connection goes on after a 206 and a 416 */
    {
        struct h_conn *c = h_conn_open(LP);
        char *a = h_req("GET", OP, path, "Range: bytes=1-2\r\n");
        char *b = h_req("GET", OP, path, "Range: bytes=5000-\r\n");

        assert_non_null(c);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(h_conn_send_str(c, k == 0 ? a : b), 0);
            r = h_conn_read_response(c, NULL, READ_MS);
            assert_non_null(r);
            assert_int_equal(r->status, k == 0 ? 206 : 416);
            h_response_free(r);
        }
        assert_int_equal(h_conn_send_str(c, a), 0);
        r = h_conn_read_response(c, NULL, READ_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 206);
        assert_int_equal(r->body_len, 2);
        h_response_free(r);
        h_conn_close(c);
        free(a);
        free(b);
    }
    finish();
}

/* ------------------------------------------------------------------ */
/* 4. Vary                                                             */

static void test_vary_variants(void **state)
{
    const char *path = "/vary?cc=max-age%3D60&h=Vary:Accept-Language&echo=Accept-Language";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, "Accept-Language: en\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "en");
    ASSERT_CS(r, "fwd=uri-miss");
    ASSERT_CS(r, "stored");
    h_response_free(r);

    r = get(path, "Accept-Language: fr\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
    ASSERT_MISS(r);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/vary", 2);

    for (int i = 0; i < 2; i++) {
        r = get(path, "Accept-Language: en\r\n");
        assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "en");
        ASSERT_CS(r, "hit");
        h_response_free(r);
        r = get(path, "Accept-Language: fr\r\n");
        assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
        ASSERT_CS(r, "hit");
        h_response_free(r);
    }
    /* request field names are case-insensitive */
    r = get(path, "accept-LANGUAGE: fr\r\n");
    assert_string_equal(hdr(r, "X-Echo-Accept-Language"), "fr");
    ASSERT_CS(r, "hit");
    h_response_free(r);
    ASSERT_COUNT("/vary", 2);

    /* absent is a variant of its own, and differs from empty */
    r = get(path, NULL);
    assert_null(h_header_get(r, "X-Echo-Accept-Language"));
    ASSERT_MISS(r);
    h_response_free(r);
    ASSERT_COUNT("/vary", 3);
    r = get(path, NULL);
    assert_null(h_header_get(r, "X-Echo-Accept-Language"));
    ASSERT_CS(r, "hit");
    h_response_free(r);
    r = get(path, "Accept-Language:\r\n");
    ASSERT_MISS(r);
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
    ASSERT_MISS(r);
    assert_string_equal(hdr(r, "X-Echo-Accept-Encoding"), "GZIP, deflate");
    h_response_free(r);
    ASSERT_COUNT("/varyn", 2);
    r = get(path, "Accept-Encoding: gzip, deflate\r\nX-Extra: ab\r\n");
    ASSERT_MISS(r);
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
        ASSERT_NO_CS(r, "stored");
        h_response_free(r);
        r = get("/e500?status=500&lm=1000000000&etag=%22x%22", NULL);
        assert_int_equal(r->status, 500);
        ASSERT_NO_CS(r, "hit");
        ASSERT_NO_CS(r, "stored");
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

/* docs/caching.md: "fwd=vary-miss means responses were stored for the
 * URI but none for this request's variant". */
static void test_vary_miss_cache_status(void **state)
{
    const char *path = "/vm?cc=max-age%3D60&h=Vary:Accept-Language";
    struct h_response *r;

    (void)state;
    start(NULL);
    r = get(path, "Accept-Language: en\r\n");
    ASSERT_CS(r, "fwd=uri-miss");
    h_response_free(r);
    r = get(path, "Accept-Language: fr\r\n");
    ASSERT_CS(r, "fwd=vary-miss");
    ASSERT_CS(r, "fwd-status=200");
    ASSERT_CS(r, "stored");
    h_response_free(r);
    ASSERT_COUNT("/vm", 2);
    finish();
}

/* Freshness from s-maxage (over max-age) and from Expires - Date; the
 * heuristic lifetime is capped by max_heuristic_freshness. */
static void test_explicit_and_heuristic_lifetimes(void **state)
{
    char exp[64], *path;
    struct h_response *r;

    (void)state;
    start("max_heuristic_freshness 10\n");
    /* s-maxage wins over max-age=0 in a shared cache */
    for (int i = 0; i < 2; i++) {
        r = get("/smax?cc=max-age%3D0,s-maxage%3D60", NULL);
        if (i == 1)
            ASSERT_CS(r, "hit");
        h_response_free(r);
    }
    ASSERT_COUNT("/smax", 1);

    /* Expires two minutes ahead of Date */
    http_date(time(NULL) + 120, exp, sizeof exp);
    {
        char *enc = h_pct_encode(exp);

        path = h_fmt("/expires?h=Expires:%s", enc);
        free(enc);
    }
    for (int i = 0; i < 2; i++) {
        r = get(path, NULL);
        assert_string_equal(hdr(r, "Expires"), exp);
        if (i == 1) {
            ASSERT_CS(r, "hit");
            ASSERT_CS(r, "ttl=");
        }
        h_response_free(r);
    }
    free(path);
    ASSERT_COUNT("/expires", 1);
    /* an invalid Expires means already expired: stored, then revalidated */
    for (int i = 0; i < 2; i++) {
        r = get("/badexp?h=Expires:0&etag=%22b%22", NULL);
        if (i == 1)
            ASSERT_CS(r, "fwd=stale");
        h_response_free(r);
    }
    ASSERT_COUNT("/badexp", 2);
    assert_origin_field("/badexp", 1, "If-None-Match", "\"b\"");

    /* heuristic freshness (decades since Last-Modified) capped at 10 s:
     * a response 20 s old is stale */
    script("/hcap", "h=Age:20");
    r = get("/hcap?lm=1000000000", NULL);
    ASSERT_CS(r, "stored");
    h_response_free(r);
    script("/hcap", "");
    r = get("/hcap?lm=1000000000", NULL);
    ASSERT_CS(r, "fwd=stale");
    ASSERT_CS(r, "fwd-status=304");
    assert_body(r, "/hcap", 0);
    h_response_free(r);
    ASSERT_COUNT("/hcap", 2);
    assert_origin_field("/hcap", 1, "If-Modified-Since", LM_DATE);
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
    script("/inv-err", "cc=max-age=60");
    store_and_check(OP, "/inv-err", "/inv-err");
    script("/inv-err", "cc=max-age=60&status=500");
    r = req("POST", "/inv-err", "Content-Length: 0\r\n");
    assert_int_equal(r->status, 500);
    h_response_free(r);
    script("/inv-err", "cc=max-age=60");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fresh_hit_never_contacts_origin),
        T(test_age_includes_origin_age),
        T(test_revalidation_304_merges_headers),
        T(test_revalidation_304_new_cache_control),
        T(test_revalidation_last_modified_only),
        T(test_revalidation_304_keeps_content_length),
        T(test_revalidation_200_replaces),
        T(test_no_cache_response_always_revalidated),
        T(test_client_conditionals_from_cache),
        T(test_head_from_stored_get),
        T(test_vary_variants),
        T(test_vary_normalization),
        T(test_vary_star_never_stored),
        T(test_vary_concurrent_variants),
        T(test_vary_miss_cache_status),
        T(test_no_store_and_private),
        T(test_authorization),
        T(test_set_cookie_never_shared),
        T(test_set_cookie_reaches_requesting_client),
        T(test_error_and_heuristic_storing),
        T(test_explicit_and_heuristic_lifetimes),
        T(test_invalidation_unsafe_methods),
        T(test_invalidation_location),
        T(test_head_freshens_stored_get),
        T(test_range_from_cache),
        T(test_cache_key),
        T(test_cache_key_default_port),
        T(test_curl_end_to_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
