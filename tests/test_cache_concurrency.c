/* SPDX-License-Identifier: MIT */
/* test_cache_concurrency.c - the cache end to end (issue 3), part 2:
 * coalescing and read-while-writer with many clients, the LRU byte budget,
 * truncated and over-size responses. */
#include "test_cache_common.h"

/* ------------------------------------------------------------------ */
/* 7. Coalescing and read-while-writer                                 */

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
            /* a chunked response's head (and its Cache-Status) leaves
             * before its size is known: "stored" may be said there */
            if (k == 0)
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

/* Two clients GET <path> (<len> pattern bytes): the second once the first
 * has <first> bytes. The first must get all of it; the second all of it or
 * a cut connection, never a fake end. */
static void two_readers(const char *path, uint64_t len, uint64_t first)
{
    struct job jobs[2];
    uint64_t deadline;
    char *raw = h_req("GET", OP, path, NULL);

    job_open(&jobs[0], 1);
    job_open(&jobs[1], 1);
    job_send(&jobs[0], raw);
    deadline = h_now_ms() + READ_MS;
    while (__atomic_load_n(&jobs[0].seen, __ATOMIC_ACQUIRE) < first && h_now_ms() < deadline)
        h_sleep_ms(5);
    job_send(&jobs[1], raw);
    free(raw);
    job_join(&jobs[0]);
    job_join(&jobs[1]);
    assert_job_pattern(&jobs[0], 0, len);
    if (jobs[1].r && jobs[1].r->status == 200) {
        if (jobs[1].r->complete && jobs[1].pc.checked != len)
            fail_msg("the second client got a complete response of %llu bytes",
                     (unsigned long long)jobs[1].pc.checked);
        assert_int_equal(jobs[1].pc.bad, 0);
    }
    job_free(&jobs[0]);
    job_free(&jobs[1]);
}

/* A chunked response that grows past max_object_size mid-stream still
 * reaches the first client complete; a client reading the object as it
 * filled gets either all of it or a cut connection, never a fake end. */
static void test_oversize_chunked_mid_stream(void **state)
{
    enum { LEN = 2000000 };
    const char *path = "/bigd?cc=max-age%3D60&len=2000000&chunked=1&chunk=50000"
                       "&drip_ms=50&drip_bytes=200000";
    struct h_response *r;

    (void)state;
    start("cache_size 8M\nmax_object_size 1M\n");
    two_readers(path, LEN, 200000);
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

/* The response head and more than max_object_size of body in larder's
 * first read from the origin: the client still gets the whole response,
 * head first, and the next pipelined request its own; a client whose
 * conditional request is answered with 304 keeps its connection usable. */
static void test_oversize_in_first_read(void **state)
{
    enum { LEN = 200000 };
    const char *path = "/ov?cc=max-age%3D60&etag=%22v%22&len=200000&chunked=1&chunk=200000";
    struct h_conn *c;
    struct h_response *r;
    char *one, *two;

    (void)state;
    start("max_object_size 4k\n");
    one = h_req("GET", OP, path, NULL);
    two = h_fmt("%s%s", one, one);
    c = h_conn_open(LP);
    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, two), 0);
    for (int i = 0; i < 2; i++) {
        r = h_conn_read_response(c, "GET", READ_MS);
        if (!r || r->status != 200 || !r->complete || r->body_len != LEN)
            fail_msg("pipelined response %d: %s", i + 1,
                     r ? r->head : h_error());
        h_response_free(r);
    }
    h_conn_close(c);
    free(one);
    free(two);

    /* the client's own validator matches: 304, then the connection goes on */
    one = h_req("GET", OP, path, "If-None-Match: \"v\"\r\n");
    two = h_req("GET", OP, "/after?cc=max-age%3D60", NULL);
    c = h_conn_open(LP);
    assert_non_null(c);
    assert_int_equal(h_conn_send_str(c, one), 0);
    r = h_conn_read_response(c, "GET", READ_MS);
    assert_non_null(r);
    if (r->status != 304 && !(r->status == 200 && r->complete && r->body_len == LEN))
        fail_msg("conditional request: %s", r->head);
    h_response_free(r);
    assert_int_equal(h_conn_send_str(c, two), 0);
    r = h_conn_read_response(c, "GET", READ_MS);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_true(r->complete);
    h_response_free(r);
    h_conn_close(c);
    free(one);
    free(two);
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_coalescing_cold_100),
        T(test_coalescing_revalidation_100),
        T(test_streaming_while_filling),
        T(test_unstorable_waiters_go_upstream),
        T(test_coalesce_timeout),
        T(test_lru_eviction),
        T(test_truncated_not_stored),
        T(test_oversize_streams_unstored),
        T(test_oversize_chunked_mid_stream),
        T(test_oversize_in_first_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
