/* SPDX-License-Identifier: MIT */
/* test_hostile_cache.c - cache safety under attack (issue 5, point 4): a
 * stored variant is never served to a request of another variant; private,
 * no-store, Set-Cookie and Authorization rules hold whatever tricks the
 * fields play; error responses without explicit freshness are never stored
 * (no poisoning by error pages, including larder's own); the cache key keeps
 * authorities and queries apart, and one site cannot purge another's
 * entries.
 *
 * Every check looks at both ends: what the client got (body, Cache-Status,
 * the X-Echo-* fields fixture_origin adds to show whose request a response
 * answered) and how many requests the origin received for the path. */
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

#include "harness.h"

static struct h_proc *origin_a, *origin_b, *larder;
static int OA, OB;                /* two origins: two authorities */
static int LP;

static int group_setup(void **state)
{
    (void)state;
    origin_a = h_origin_start();
    origin_b = h_origin_start();
    larder = h_larder_start("via_name larder-test\ncache_size 64M\n");
    if (!origin_a || !origin_b || !larder)
        return -1;
    OA = origin_a->port;
    OB = origin_b->port;
    LP = larder->port;
    return 0;
}

static int group_teardown(void **state)
{
    int rc = 0;

    (void)state;
    if (h_larder_stop(larder) != 0)
        rc = -1;
    if (h_proc_stop(origin_a) != 0)
        rc = -1;
    if (h_proc_stop(origin_b) != 0)
        rc = -1;
    return rc;
}

static int reset_origins(void **state)
{
    (void)state;
    return h_origin_reset(OA) == 0 && h_origin_reset(OB) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* GET http://127.0.0.1:<oport><path> through larder with <extra> fields. */
static struct h_response *get(int oport, const char *path, const char *extra)
{
    struct h_response *r = h_get(LP, oport, path, extra);

    if (!r)
        fail_msg("no response for %s: %s", path, h_error());
    return r;
}

/* One raw request through larder. */
static struct h_response *ask(const char *raw)
{
    struct h_response *r = h_request(LP, raw, H_TIMEOUT_MS);

    if (!r)
        fail_msg("no response to %.200s: %s", raw, h_error());
    return r;
}

static long count(int oport, const char *path)
{
    long n = h_origin_count(oport, path);

    assert_true(n >= 0);
    return n;
}

static int is_hit(const struct h_response *r)
{
    const char *cs = h_header_get(r, "Cache-Status");

    return cs && strstr(cs, "; hit") != NULL;
}

static void script(int oport, const char *path, const char *params)
{
    assert_int_equal(h_origin_script(oport, path, params), 0);
}

/* The value of X-Echo-<name>, or "" when absent. */
static const char *echo(const struct h_response *r, const char *name)
{
    char field[64];
    const char *v;

    snprintf(field, sizeof field, "X-Echo-%s", name);
    v = h_header_get(r, field);
    return v ? v : "";
}

/* Purges <path> of origin <oport> so later tests start clean. */
static void purge(int oport, const char *path)
{
    char *raw = h_fmt("PURGE http://127.0.0.1:%d%s HTTP/1.1\r\nHost: x\r\n\r\n", oport, path);

    h_response_free(h_request(LP, raw, H_TIMEOUT_MS));
    free(raw);
}

/* ------------------------------------------------------------------ */
/* Vary                                                                */

struct vary_step {
    const char *fields;           /* request fields */
    const char *want_echo;        /* X-Echo-<name> of the answer */
    int want_hit;
    long want_count;              /* origin requests after this step */
};

static void run_vary(const char *path, const char *params, const char *name,
                     const struct vary_step *steps)
{
    script(OA, path, params);
    for (const struct vary_step *s = steps; s->fields; s++) {
        struct h_response *r = get(OA, path, s->fields);

        if (r->status != 200 || strcmp(echo(r, name), s->want_echo) != 0 ||
            is_hit(r) != s->want_hit || count(OA, path) != s->want_count)
            fail_msg("%s with [%s]: echo \"%s\" (want \"%s\"), hit %d (want %d), origin "
                     "count %ld (want %ld)", path, s->fields, echo(r, name), s->want_echo,
                     is_hit(r), s->want_hit, count(OA, path), s->want_count);
        h_response_free(r);
    }
}

static void test_vary_never_serves_another_variant(void **state)
{
    static const struct vary_step ae[] = {
        { "Accept-Encoding: gzip\r\n", "gzip", 0, 1 },
        { "Accept-Encoding: br\r\n", "br", 0, 2 },
        { "X-Other: 1\r\n", "", 0, 3 },                     /* none at all */
        { "Accept-Encoding: GZIP\r\n", "GZIP", 0, 4 },      /* case is kept */
        { "Accept-Encoding: gzip\r\n", "gzip", 1, 4 },
        { "Accept-Encoding: \t gzip  \r\n", "gzip", 1, 4 }, /* whitespace only */
        { "Accept-Encoding: gzip, br\r\n", "gzip, br", 0, 5 },
        { "Accept-Encoding: gzip\r\nAccept-Encoding: br\r\n", "gzip, br", 1, 5 },
        { "Accept-Encoding: br, gzip\r\n", "br, gzip", 0, 6 },  /* order counts */
        { NULL, NULL, 0, 0 }
    };
    /* a per-user page marked public but varying on the cookie */
    static const struct vary_step cookie[] = {
        { "Cookie: sid=alice\r\n", "sid=alice", 0, 1 },
        { "Cookie: sid=bob\r\n", "sid=bob", 0, 2 },
        { "X-Other: 1\r\n", "", 0, 3 },
        { "Cookie: sid=alice\r\n", "sid=alice", 1, 3 },
        { "Cookie: sid=alice; x=1\r\n", "sid=alice; x=1", 0, 4 },
        { "Cookie: SID=alice\r\n", "SID=alice", 0, 5 },
        { "Cookie: sid=bob\r\n", "sid=bob", 1, 5 },
        { NULL, NULL, 0, 0 }
    };
    /* several names over several lines, in any case */
    static const struct vary_step multi[] = {
        { "X-User: alice\r\nX-Role: admin\r\n", "alice", 0, 1 },
        { "X-User: alice\r\nX-Role: guest\r\n", "alice", 0, 2 },
        { "X-User: alice\r\n", "alice", 0, 3 },
        { "x-user: alice\r\nx-role: admin\r\n", "alice", 1, 3 },
        { "X-User: bob\r\nX-Role: admin\r\n", "bob", 0, 4 },
        { NULL, NULL, 0, 0 }
    };

    /* a field the client names in Connection is not forwarded: the origin
     * chose without it, so the answer is the variant for its absence */
    static const struct vary_step conn[] = {
        { "Accept-Language: en\r\nConnection: Accept-Language\r\n", "", 0, 1 },
        { "Accept-Language: en\r\n", "en", 0, 2 },
        { "X-Other: 1\r\n", "", 1, 2 },
        { "Accept-Language: en\r\n", "en", 1, 2 },
        { "Accept-Language: en\r\nConnection: accept-language, close\r\n", "", 1, 2 },
        { NULL, NULL, 0, 0 }
    };

    (void)state;
    run_vary("/vary-conn", "cc=max-age%3D60&h=Vary:Accept-Language&echo=Accept-Language",
             "Accept-Language", conn);
    run_vary("/vary-ae", "cc=max-age%3D60&h=Vary:Accept-Encoding&echo=Accept-Encoding",
             "Accept-Encoding", ae);
    run_vary("/vary-cookie", "cc=public%2C%20max-age%3D60&h=Vary:Cookie&echo=Cookie", "Cookie",
             cookie);
    run_vary("/vary-multi", "cc=max-age%3D60&h=Vary:x-user&h=VARY:X-Role&echo=X-User", "X-User",
             multi);
}

static void test_vary_star_never_stored(void **state)
{
    static const char *const varies[] = {
        "h=Vary:*", "h=Vary:Accept%2C%20*", "h=Vary:Accept&h=Vary:*", "h=Vary:bad%20name",
        NULL
    };

    (void)state;
    for (const char *const *v = varies; *v; v++) {
        char *params = h_fmt("cc=public%%2C%%20max-age%%3D60&%s", *v);
        struct h_response *r;

        h_origin_reset(OA);
        script(OA, "/vstar", params);
        for (int i = 1; i <= 2; i++) {
            r = get(OA, "/vstar", NULL);
            assert_int_equal(r->status, 200);
            assert_false(is_hit(r));
            h_response_free(r);
            if (count(OA, "/vstar") != i)
                fail_msg("%s: stored (origin count %ld after %d requests)", *v,
                         count(OA, "/vstar"), i);
        }
        free(params);
    }
}

/* ------------------------------------------------------------------ */
/* private, no-store, Set-Cookie, Authorization                        */

/* Two requests for <path> with <params> must both reach the origin. */
static void assert_not_stored(int oport, const char *path, const char *params,
                              const char *extra, const char *what)
{
    h_origin_reset(oport);
    script(oport, path, params);
    for (int i = 1; i <= 2; i++) {
        struct h_response *r = get(oport, path, extra);

        assert_int_equal(r->status, 200);
        if (is_hit(r) || count(oport, path) != i)
            fail_msg("%s: stored (hit %d, origin count %ld after %d requests)", what,
                     is_hit(r), count(oport, path), i);
        h_response_free(r);
    }
}

static void test_private_and_no_store_hold_under_tricks(void **state)
{
    static const char *const params[] = {
        "cc=public%2C%20private%2C%20max-age%3D60",
        "cc=private%2C%20public%2C%20s-maxage%3D60",
        "cc=max-age%3D60%2C%20private%3D%22Set-Cookie%22",
        "cc=PRIVATE%2C%20max-age%3D60",
        "cc=max-age%3D60%2C%20Private",
        "cc=max-age%3D60%2C%20no-store",
        "cc=No-Store%2C%20public%2C%20max-age%3D60",
        "cc=s-maxage%3D60%2C%20no-store%2C%20immutable",
        "cc=max-age%3D60%2C%20no-store%3D%22x%22",
        /* on a second Cache-Control line */
        "cc=public%2C%20max-age%3D60&h=Cache-Control:private",
        "cc=public%2C%20max-age%3D60&h=cache-control:no-store",
        "cc=max-age%3D60&h=CACHE-CONTROL:%20%20PRIVATE%20",
        /* max-age repeated with another value means stale, and without a
         * validator, not worth keeping: still never served as fresh */
        NULL
    };

    (void)state;
    for (const char *const *p = params; *p; p++)
        assert_not_stored(OA, "/priv", *p, NULL, *p);
    /* the request's own no-store, in any spelling */
    assert_not_stored(OA, "/rns", "cc=public%2C%20max-age%3D60", "Cache-Control: no-store\r\n",
                      "request no-store");
    assert_not_stored(OA, "/rns", "cc=public%2C%20max-age%3D60",
                      "Cache-Control: max-age=0\r\nCache-Control: NO-STORE\r\n",
                      "request no-store, second line");
    /* control: the same response without the trick is stored */
    h_origin_reset(OA);
    script(OA, "/ctl", "cc=public%2C%20max-age%3D60");
    h_response_free(get(OA, "/ctl", NULL));
    {
        struct h_response *r = get(OA, "/ctl", NULL);

        assert_true(is_hit(r));
        assert_int_equal(count(OA, "/ctl"), 1);
        h_response_free(r);
    }
}

static void test_set_cookie_never_shared(void **state)
{
    static const char *const shared[] = {
        "cc=public%2C%20max-age%3D60&h=Set-Cookie:sid%3Dalice",
        "cc=s-maxage%3D60&h=set-cookie:sid%3Dalice",
        "cc=public%2C%20max-age%3D60&h=Set-Cookie:sid%3Dalice&h=SET-COOKIE:other%3D1",
        NULL
    };
    struct h_response *r;

    (void)state;
    /* without public or s-maxage: not stored at all */
    assert_not_stored(OA, "/sc", "cc=max-age%3D60&h=Set-Cookie:sid%3Dalice", NULL,
                      "Set-Cookie with max-age");
    assert_not_stored(OA, "/sc", "cc=max-age%3D60&h=set-cookie:sid%3Dalice", NULL,
                      "set-cookie in lower case");
    assert_not_stored(OA, "/sc", "lm=1000000&etag=%22v%22&h=Set-Cookie:sid%3Dalice", NULL,
                      "Set-Cookie with heuristic freshness");
    /* shared on purpose: stored, but the cookie stays with its owner */
    for (const char *const *p = shared; *p; p++) {
        h_origin_reset(OA);
        purge(OA, "/scp");
        script(OA, "/scp", *p);
        h_response_free(get(OA, "/scp", "Cookie: sid=alice\r\n"));   /* alice fills */
        r = get(OA, "/scp", NULL);                           /* bob */
        if (!is_hit(r) || h_header_count(r, "Set-Cookie") != 0)
            fail_msg("%s: hit %d, Set-Cookie lines %zu; head:\n%s", *p, is_hit(r),
                     h_header_count(r, "Set-Cookie"), r->head);
        assert_int_equal(count(OA, "/scp"), 1);
        h_response_free(r);
    }
}

/* The client whose request fills the cache gets its own Set-Cookie: only
 * the stored copy goes without it. */
static void test_set_cookie_reaches_its_owner(void **state)
{
    struct h_response *r;

    (void)state;
    script(OA, "/sco", "cc=public%2C%20max-age%3D60&h=Set-Cookie:sid%3Dalice");
    r = get(OA, "/sco", NULL);
    assert_int_equal(r->status, 200);
    if (h_header_get(r, "Set-Cookie") == NULL)
        fail_msg("the response that filled the cache lost its Set-Cookie; head:\n%s", r->head);
    assert_string_equal(h_header_get(r, "Set-Cookie"), "sid=alice");
    h_response_free(r);
    purge(OA, "/sco");
}

/* A 304 refreshes a shared object: its Set-Cookie goes to the client whose
 * request it answered, never into the stored copy that others get. */
static void test_set_cookie_in_304_never_shared(void **state)
{
    struct h_response *r;

    (void)state;
    script(OA, "/sc304", "cc=public%2C%20max-age%3D0&etag=%22g%22");
    h_response_free(get(OA, "/sc304", NULL));
    assert_int_equal(count(OA, "/sc304"), 1);
    /* now every answer, 304s too, sets alice's session */
    script(OA, "/sc304", "cc=public%2C%20max-age%3D60&etag=%22g%22&h=Set-Cookie:sid%3Dalice");
    r = get(OA, "/sc304", "Cookie: sid=alice\r\n");
    assert_int_equal(r->status, 200);
    assert_int_equal(count(OA, "/sc304"), 2);
    if (strstr(h_header_get(r, "Cache-Status"), "fwd-status=304") == NULL ||
        h_header_get(r, "Set-Cookie") == NULL || strcmp(h_header_get(r, "Set-Cookie"), "sid=alice") != 0)
        fail_msg("alice's revalidation: want a 304 and her Set-Cookie; head:\n%s", r->head);
    h_response_free(r);
    r = get(OA, "/sc304", NULL);                          /* bob: a hit */
    if (!is_hit(r) || h_header_count(r, "Set-Cookie") != 0)
        fail_msg("bob: hit %d, Set-Cookie lines %zu; head:\n%s", is_hit(r),
                 h_header_count(r, "Set-Cookie"), r->head);
    assert_int_equal(count(OA, "/sc304"), 2);
    h_response_free(r);
    purge(OA, "/sc304");

    /* alice's own validator matches too: she gets a 304, with her cookie */
    h_origin_reset(OA);
    script(OA, "/sc304b", "cc=public%2C%20max-age%3D0&etag=%22g%22");
    h_response_free(get(OA, "/sc304b", NULL));
    script(OA, "/sc304b", "cc=public%2C%20max-age%3D60&etag=%22g%22&h=Set-Cookie:sid%3Dalice");
    r = get(OA, "/sc304b", "Cookie: sid=alice\r\nIf-None-Match: \"g\"\r\n");
    if (r->status != 304 || h_header_get(r, "Set-Cookie") == NULL)
        fail_msg("alice's conditional revalidation: want 304 with her Set-Cookie; head:\n%s",
                 r->head);
    h_response_free(r);
    r = get(OA, "/sc304b", NULL);
    if (!is_hit(r) || h_header_count(r, "Set-Cookie") != 0)
        fail_msg("bob after alice's 304: hit %d; head:\n%s", is_hit(r), r->head);
    h_response_free(r);
    purge(OA, "/sc304b");
}

/* A 304 that makes the response private (or no-store) ends its sharing:
 * the client it answered gets it, the next one goes to the origin. */
static void test_private_in_304_ends_sharing(void **state)
{
    static const char *const later[] = {
        "cc=private%2C%20max-age%3D60&etag=%22g%22",
        "cc=no-store%2C%20max-age%3D60&etag=%22g%22",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        struct h_response *r;

        h_origin_reset(OA);
        script(OA, "/p304", "cc=max-age%3D0&etag=%22g%22");
        h_response_free(get(OA, "/p304", NULL));
        script(OA, "/p304", later[i]);
        r = get(OA, "/p304", NULL);
        assert_int_equal(r->status, 200);
        assert_int_equal(count(OA, "/p304"), 2);
        h_response_free(r);
        r = get(OA, "/p304", NULL);
        if (is_hit(r) || count(OA, "/p304") != 3)
            fail_msg("%s: the next client got a hit (%d), origin count %ld (want 3)", later[i],
                     is_hit(r), count(OA, "/p304"));
        h_response_free(r);
        purge(OA, "/p304");
    }
    /* a 304 that brings a Vary the stored copy was not keyed by (or "*")
     * leaves it with no valid key: it is dropped */
    {
        static const char *const vary[] = { "h=Vary:*", "h=Vary:Accept-Language" };
        for (size_t i = 0; i < 2; i++) {
            char *then = h_fmt("cc=max-age%%3D60&etag=%%22g%%22&%s", vary[i]);
            struct h_response *r;

            h_origin_reset(OA);
            script(OA, "/v304", "cc=max-age%3D0&etag=%22g%22");
            h_response_free(get(OA, "/v304", NULL));
            script(OA, "/v304", then);
            h_response_free(get(OA, "/v304", NULL));          /* revalidated: 304 */
            r = get(OA, "/v304", "Accept-Language: de\r\n");
            if (is_hit(r) || count(OA, "/v304") != 3)
                fail_msg("%s: hit %d, origin count %ld", vary[i], is_hit(r), count(OA, "/v304"));
            h_response_free(r);
            purge(OA, "/v304");
            free(then);
        }
    }
    /* a client's own no-store does not take the stored copy away from
     * others: it only keeps its answer out of the cache */
    h_origin_reset(OA);
    script(OA, "/ns304", "cc=max-age%3D0&etag=%22g%22");
    h_response_free(get(OA, "/ns304", NULL));
    h_response_free(get(OA, "/ns304", "Cache-Control: no-store\r\n"));
    {
        struct h_response *r = get(OA, "/ns304", NULL);
        const char *cs = h_header_get(r, "Cache-Status");
        if (cs == NULL || strstr(cs, "fwd=stale") == NULL || strstr(cs, "fwd-status=304") == NULL)
            fail_msg("after a no-store revalidation the stored copy is gone: %s", cs ? cs : "-");
        h_response_free(r);
    }
    purge(OA, "/ns304");
}

/* Waits until the origin has seen <n> requests for <path>. */
static void wait_origin(int oport, const char *path, long n)
{
    for (int i = 0; i < 2000 && count(oport, path) < n; i++)
        h_sleep_ms(5);
    assert_int_equal(count(oport, path), n);
}

/* A client that joins a revalidation in flight gets its result only when
 * the stored response is its own variant and may answer its request: with
 * another Accept-Encoding, or with Authorization where the response was not
 * public, it goes to the origin on its own. */
static void test_joining_a_revalidation_keeps_variants_apart(void **state)
{
    static const struct {
        const char *params;     /* without the delay */
        const char *first;      /* fields of the request that stores */
        const char *joiner;     /* fields of the client that joins */
        const char *name;       /* echoed field that tells the answers apart */
        const char *want;       /* its echo in the joiner's answer */
    } cases[] = {
        { "cc=max-age%3D0&etag=%22g%22&h=Vary:Accept-Encoding&echo=Accept-Encoding",
          "Accept-Encoding: gzip\r\n", "", "Accept-Encoding", "" },
        { "cc=max-age%3D0&etag=%22g%22&h=Vary:Accept-Encoding&echo=Accept-Encoding",
          "Accept-Encoding: gzip\r\n", "Accept-Encoding: br\r\n", "Accept-Encoding", "br" },
        { "cc=max-age%3D0&etag=%22g%22&echo=Authorization",
          "", "Authorization: Bearer bob\r\n", "Authorization", "Bearer bob" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *slow = h_fmt("%s&delay_ms=800", cases[i].params), *req;
        struct h_conn *owner;
        struct h_response *r;

        h_origin_reset(OA);
        script(OA, "/vj", cases[i].params);
        h_response_free(get(OA, "/vj", cases[i].first));
        /* the owner's revalidation is held at the origin ... */
        script(OA, "/vj", slow);
        owner = h_conn_open(LP);
        assert_non_null(owner);
        req = h_req("GET", OA, "/vj", cases[i].first);
        assert_int_equal(h_conn_send_str(owner, req), 0);
        free(req);
        wait_origin(OA, "/vj", 2);
        /* ... while the other client arrives */
        r = get(OA, "/vj", cases[i].joiner);
        if (r->status != 200 || strcmp(echo(r, cases[i].name), cases[i].want) != 0)
            fail_msg("case %zu: the joiner got status %d, X-Echo-%s \"%s\" (want \"%s\"); head:\n%s",
                     i, r->status, cases[i].name, echo(r, cases[i].name), cases[i].want, r->head);
        assert_int_equal(count(OA, "/vj"), 3);
        h_response_free(r);
        r = h_conn_read_response(owner, "GET", H_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(h_header_get(r, "Cache-Status"), "fwd-status=304"));
        h_response_free(r);
        h_conn_close(owner);
        purge(OA, "/vj");
        free(slow);
    }
}

static void test_authorization_never_shared(void **state)
{
    static const char *const auth[] = {
        "Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
        "authorization: Bearer alice-token\r\n",
        "AUTHORIZATION: x\r\n",
        NULL
    };
    static const char *const params[] = {
        "cc=max-age%3D60&echo=Authorization",
        "cc=max-age%3D60%2C%20proxy-revalidate&echo=Authorization",      /* not enough */
        "lm=1000000&etag=%22v%22&echo=Authorization",                     /* heuristic */
        "cc=max-age%3D60&h=Cache-Control:immutable&echo=Authorization",
        NULL
    };

    (void)state;
    for (const char *const *a = auth; *a; a++) {
        for (const char *const *p = params; *p; p++) {
            struct h_response *r;

            h_origin_reset(OA);
            script(OA, "/auth", *p);
            r = get(OA, "/auth", *a);                        /* alice */
            assert_int_equal(r->status, 200);
            assert_true(strlen(echo(r, "Authorization")) > 0);
            h_response_free(r);
            r = get(OA, "/auth", NULL);                      /* bob, no credentials */
            if (strlen(echo(r, "Authorization")) != 0 || is_hit(r) ||
                count(OA, "/auth") != 2)
                fail_msg("[%s] %s: bob got alice's answer (echo \"%s\", hit %d, count %ld)",
                         *a, *p, echo(r, "Authorization"), is_hit(r), count(OA, "/auth"));
            h_response_free(r);
            purge(OA, "/auth");
        }
    }
}

/* ------------------------------------------------------------------ */
/* Error responses                                                     */

static void test_error_pages_never_poison(void **state)
{
    static const int statuses[] = { 400, 403, 404, 405, 410, 414, 429, 431, 500, 501, 502,
                                    503, 504, 0 };
    static const char *const extras[] = {
        "lm=1000000&etag=%22v%22",               /* heuristic material */
        "cc=public&lm=1000000",                   /* public, but no lifetime */
        "cc=public%2C%20must-revalidate&etag=%22v%22",
        "cc=no-cache&etag=%22v%22",
        NULL
    };
    struct h_response *r;

    (void)state;
    for (const int *s = statuses; *s; s++) {
        for (const char *const *e = extras; *e; e++) {
            char *params = h_fmt("status=%d&%s", *s, *e);

            h_origin_reset(OA);
            script(OA, "/err", params);
            r = get(OA, "/err", NULL);
            assert_int_equal(r->status, *s);
            h_response_free(r);
            /* the origin recovers: everyone gets the real page at once */
            script(OA, "/err", "cc=max-age%3D60");
            r = get(OA, "/err", NULL);
            if (r->status != 200 || count(OA, "/err") != 2)
                fail_msg("%s: after the error, status %d and origin count %ld", params,
                         r->status, count(OA, "/err"));
            h_response_free(r);
            purge(OA, "/err");
            free(params);
        }
    }
    /* control: an error the origin explicitly made cacheable is kept */
    h_origin_reset(OA);
    script(OA, "/err404", "status=404&cc=max-age%3D60");
    h_response_free(get(OA, "/err404", NULL));
    script(OA, "/err404", "cc=max-age%3D60");
    r = get(OA, "/err404", NULL);
    assert_int_equal(r->status, 404);
    assert_true(is_hit(r));
    assert_int_equal(count(OA, "/err404"), 1);
    h_response_free(r);
    purge(OA, "/err404");
}

/* larder's own 502 (origin down) and 504 are never stored either */
static void test_own_errors_never_stored(void **state)
{
    int port = h_free_port();
    char *raw = h_fmt("GET http://127.0.0.1:%d/down?cc=max-age%%3D60 HTTP/1.1\r\nHost: x\r\n\r\n",
                      port);
    struct h_response *r = ask(raw);
    struct h_proc *late;

    (void)state;
    assert_int_equal(r->status, 502);
    h_response_free(r);
    late = h_origin_start_port(port);
    if (!late) {
        free(raw);
        skip();                  /* the port was taken meanwhile */
    }
    r = ask(raw);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "origin /down version 0\n");
    assert_int_equal(h_origin_count(late->port, "/down"), 1);
    h_response_free(r);
    assert_int_equal(h_proc_stop(late), 0);
    free(raw);
}

/* ------------------------------------------------------------------ */
/* The cache key                                                       */

static void test_key_keeps_authorities_apart(void **state)
{
    struct h_response *r;
    char *raw;

    (void)state;
    script(OA, "/k", "body=from-a&cc=max-age%3D60");
    script(OB, "/k", "body=from-b&cc=max-age%3D60");
    for (int round = 0; round < 2; round++) {
        r = get(OA, "/k", NULL);
        assert_string_equal(r->body, "from-a");
        assert_int_equal(is_hit(r), round);
        h_response_free(r);
        r = get(OB, "/k", NULL);
        assert_string_equal(r->body, "from-b");
        assert_int_equal(is_hit(r), round);
        h_response_free(r);
    }
    assert_int_equal(count(OA, "/k"), 1);
    assert_int_equal(count(OB, "/k"), 1);

    /* a Host field naming B cannot file A's answer under B */
    script(OA, "/kh", "body=from-a&cc=max-age%3D60");
    script(OB, "/kh", "body=from-b&cc=max-age%3D60");
    raw = h_fmt("GET http://127.0.0.1:%d/kh HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", OA, OB);
    r = ask(raw);
    assert_string_equal(r->body, "from-a");
    h_response_free(r);
    free(raw);
    r = get(OB, "/kh", NULL);
    assert_string_equal(r->body, "from-b");
    assert_false(is_hit(r));
    h_response_free(r);
    assert_int_equal(count(OB, "/kh"), 1);

    /* an origin-form request is never proxied, whatever its Host says */
    raw = h_fmt("GET /kh HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", OA);
    r = ask(raw);
    assert_int_not_equal(r->status, 200);
    h_response_free(r);
    free(raw);
    assert_int_equal(count(OA, "/kh"), 1);

    /* the same authority written differently is the same entry */
    script(OA, "/kc", "body=case&cc=max-age%3D60");
    raw = h_fmt("GET http://LOCALHOST:%d/kc HTTP/1.1\r\nHost: LOCALHOST:%d\r\n\r\n", OA, OA);
    r = ask(raw);
    assert_string_equal(r->body, "case");
    h_response_free(r);
    free(raw);
    raw = h_fmt("GET http://localhost:%d/kc HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", OA, OA);
    r = ask(raw);
    assert_string_equal(r->body, "case");
    assert_true(is_hit(r));
    h_response_free(r);
    free(raw);
    assert_int_equal(count(OA, "/kc"), 1);
}

/* http://127.0.0.1:80/x and http://127.0.0.1/x are one entry (needs port 80) */
static void test_key_default_port(void **state)
{
    struct h_proc *o80 = h_origin_start_port(80);
    struct h_response *r;

    (void)state;
    if (!o80)
        skip();                  /* port 80 unavailable (not root, or taken) */
    assert_int_equal(h_origin_script(80, "/dp", "body=eighty&cc=max-age%3D60"), 0);
    r = ask("GET http://127.0.0.1:80/dp HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n");
    assert_string_equal(r->body, "eighty");
    h_response_free(r);
    r = ask("GET http://127.0.0.1/dp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_string_equal(r->body, "eighty");
    assert_true(is_hit(r));
    h_response_free(r);
    r = ask("GET http://127.0.0.1:/dp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");  /* empty port */
    assert_string_equal(r->body, "eighty");
    assert_true(is_hit(r));
    h_response_free(r);
    assert_int_equal(h_origin_count(80, "/dp"), 1);
    purge(80, "/dp");
    assert_int_equal(h_proc_stop(o80), 0);
}

static void test_key_keeps_queries_and_paths_apart(void **state)
{
    static const char *const paths[] = {
        "/q?x=1&body=one&cc=max-age%3D60",
        "/q?x=2&body=two&cc=max-age%3D60",
        "/q?X=1&body=three&cc=max-age%3D60",       /* queries are case-sensitive */
        "/q?x=1&cc=max-age%3D60&body=four",        /* order counts */
        "/Q?x=1&body=five&cc=max-age%3D60",        /* paths too */
        "/%71?x=1&body=six&cc=max-age%3D60",       /* encoded: another key */
        NULL
    };
    long n = 0;

    (void)state;
    for (int round = 0; round < 2; round++) {
        for (const char *const *p = paths; *p; p++) {
            struct h_response *r = get(OA, *p, NULL);
            const char *want = strstr(*p, "body=") + 5;
            size_t wl = strcspn(want, "&");

            if (r->body_len != wl || strncmp(r->body, want, wl) != 0 || is_hit(r) != round)
                fail_msg("%s (round %d): got \"%s\", hit %d", *p, round, r->body, is_hit(r));
            h_response_free(r);
        }
    }
    n = count(OA, "/q") + count(OA, "/Q") + count(OA, "/%71");
    assert_int_equal(n, 6);
}

/* An unsafe request to one site invalidates its own entries only, even
 * when its answer names another site in Location or Content-Location. */
static void test_no_cross_site_invalidation(void **state)
{
    char *params, *raw;
    struct h_response *r;

    (void)state;
    script(OB, "/victim", "body=b&cc=max-age%3D60");
    h_response_free(get(OB, "/victim", NULL));
    params = h_fmt("status=201&h=Location:http://127.0.0.1:%d/victim&"
                   "h=Content-Location:http://127.0.0.1:%d/victim", OB, OB);
    script(OA, "/attack", params);
    raw = h_fmt("POST http://127.0.0.1:%d/attack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                OA);
    r = ask(raw);
    assert_int_equal(r->status, 201);
    h_response_free(r);
    r = get(OB, "/victim", NULL);
    assert_true(is_hit(r));
    assert_string_equal(r->body, "b");
    h_response_free(r);
    assert_int_equal(count(OB, "/victim"), 1);
    /* while the same request to the victim's own site does invalidate */
    free(raw);
    raw = h_fmt("POST http://127.0.0.1:%d/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                OB);
    r = ask(raw);
    h_response_free(r);
    r = get(OB, "/victim", NULL);
    assert_false(is_hit(r));
    h_response_free(r);
    free(raw);
    free(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_vary_never_serves_another_variant, reset_origins),
        cmocka_unit_test_setup(test_vary_star_never_stored, reset_origins),
        cmocka_unit_test_setup(test_private_and_no_store_hold_under_tricks, reset_origins),
        cmocka_unit_test_setup(test_set_cookie_never_shared, reset_origins),
        cmocka_unit_test_setup(test_set_cookie_reaches_its_owner, reset_origins),
        cmocka_unit_test_setup(test_set_cookie_in_304_never_shared, reset_origins),
        cmocka_unit_test_setup(test_private_in_304_ends_sharing, reset_origins),
        cmocka_unit_test_setup(test_joining_a_revalidation_keeps_variants_apart, reset_origins),
        cmocka_unit_test_setup(test_authorization_never_shared, reset_origins),
        cmocka_unit_test_setup(test_error_pages_never_poison, reset_origins),
        cmocka_unit_test_setup(test_own_errors_never_stored, reset_origins),
        cmocka_unit_test_setup(test_key_keeps_authorities_apart, reset_origins),
        cmocka_unit_test_setup(test_key_default_port, reset_origins),
        cmocka_unit_test_setup(test_key_keeps_queries_and_paths_apart, reset_origins),
        cmocka_unit_test_setup(test_no_cross_site_invalidation, reset_origins),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
