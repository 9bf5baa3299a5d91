/* SPDX-License-Identifier: MIT */
/* test_freshness.c - table-driven tests of every RFC 9111 decision in
 * src/freshness.c; time is a parameter, nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "larder/freshness.h"
#include "larder/http_parse.h"

/* ---- building heads by hand ---------------------------------------------- */

#define MAXF 16

struct msg {
    struct larder_http_field fields[MAXF];
    struct larder_http_head head;
};

/* <lines> is "Name: value\nName: value"; pointers go into it, so it must
 * outlive the head (string literals do). */
static const struct larder_http_head *mk(struct msg *m, const char *method, int status,
                                         const char *lines)
{
    const char *p = lines;

    memset(m, 0, sizeof(*m));
    m->head.fields = m->fields;
    m->head.fields_cap = MAXF;
    m->head.method = method;
    m->head.method_len = method != NULL ? strlen(method) : 0;
    m->head.status = status;
    m->head.version = 11;
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        const char *colon, *v, *e;
        struct larder_http_field *f;

        if (eol == NULL)
            eol = p + strlen(p);
        colon = memchr(p, ':', (size_t)(eol - p));
        assert_non_null(colon);
        assert_true(m->head.nfields < MAXF);
        f = &m->fields[m->head.nfields++];
        f->name = p;
        f->name_len = (size_t)(colon - p);
        v = colon + 1;
        e = eol;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        f->value = v;
        f->value_len = (size_t)(e - v);
        p = *eol != '\0' ? eol + 1 : eol;
    }
    return &m->head;
}

static const struct larder_http_head *mk_req(struct msg *m, const char *method, const char *lines)
{
    return mk(m, method, 0, lines);
}

static const struct larder_http_head *mk_resp(struct msg *m, int status, const char *lines)
{
    return mk(m, NULL, status, lines);
}

#define CHECK_INT(i, what, got, want)                                                    \
    do {                                                                                 \
        long long got_ = (long long)(got), want_ = (long long)(want);                    \
        if (got_ != want_)                                                               \
            fail_msg("case %zu (%s): %s = %lld, want %lld", (size_t)(i), what, #got,     \
                     got_, want_);                                                       \
    } while (0)

#define CHECK_STR(i, what, got, want)                                                    \
    do {                                                                                 \
        const char *got_ = (got), *want_ = (want);                                       \
        if ((got_ == NULL) != (want_ == NULL) ||                                         \
            (got_ != NULL && strcmp(got_, want_) != 0))                                  \
            fail_msg("case %zu (%s): %s = \"%s\", want \"%s\"", (size_t)(i), what, #got,  \
                     got_ ? got_ : "(null)", want_ ? want_ : "(null)");                  \
    } while (0)

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* T is "Sun, 06 Nov 1994 08:49:37 GMT"; dates below are offsets from it. */
#define T INT64_C(784111777)
#define D_T        "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_T_M50    "Sun, 06 Nov 1994 08:48:47 GMT"   /* T - 50 */
#define D_T_M1000  "Sun, 06 Nov 1994 08:32:57 GMT"   /* T - 1000 */
#define D_T_P200   "Sun, 06 Nov 1994 08:52:57 GMT"   /* T + 200 */
#define D_T_P300   "Sun, 06 Nov 1994 08:54:37 GMT"   /* T + 300 */
#define D_T_P600   "Sun, 06 Nov 1994 08:59:37 GMT"   /* T + 600 */
#define D_T_P3600  "Sun, 06 Nov 1994 09:49:37 GMT"   /* T + 3600 */
#define D_T_P4200  "Sun, 06 Nov 1994 09:59:37 GMT"   /* T + 4200 */

#define NOCHECK INT64_MIN

/* ---- Cache-Control ------------------------------------------------------- */

struct cc_case {
    const char *value;
    int64_t max_age, s_maxage, max_stale, min_fresh, swr, sie;
    unsigned flags;       /* exact flags expected */
};

#define A LARDER_CC_ABSENT
#define IG LARDER_CC_IGNORED
#define P LARDER_CC_F_PRESENT
#define INV LARDER_CC_F_INVALID

static const struct cc_case cc_cases[] = {
    {"max-age=60", 60, A, A, A, A, A, P},
    {"MAX-AGE=60", 60, A, A, A, A, A, P},
    {"max-age=\"60\"", 60, A, A, A, A, A, P},            /* recipients accept both forms */
    {"max-age=\"6\\0\"", 60, A, A, A, A, A, P},          /* quoted-pair */
    {"max-age=\"60", 0, A, A, A, A, A, P | INV},         /* unterminated quote */
    {"max-age=\"60\\\"", 0, A, A, A, A, A, P | INV},     /* closing quote escaped */
    {"max-age = 60", 60, A, A, A, A, A, P},              /* lenient about spaces around = */
    {"max-age=0", 0, A, A, A, A, A, P},
    {"max-age=abc", 0, A, A, A, A, A, P | INV},          /* invalid: stale */
    {"max-age=-1", 0, A, A, A, A, A, P | INV},
    {"max-age=1.5", 0, A, A, A, A, A, P | INV},
    {"max-age=", 0, A, A, A, A, A, P | INV},
    {"max-age", 0, A, A, A, A, A, P | INV},
    {"max-age=\" 60\"", 0, A, A, A, A, A, P | INV},
    {"max-age=60, max-age=60", 60, A, A, A, A, A, P},    /* same value twice is fine */
    {"max-age=60, max-age=120", 0, A, A, A, A, A, P | INV}, /* conflict: stale */
    {"max-age=abc, max-age=60", 0, A, A, A, A, A, P | INV},
    {"max-age=2147483647", 2147483647, A, A, A, A, A, P},
    {"max-age=2147483648", LARDER_DELTA_MAX, A, A, A, A, A, P},
    {"max-age=99999999999999999999999", LARDER_DELTA_MAX, A, A, A, A, A, P},
    {"s-maxage=30", A, 30, A, A, A, A, P},
    {"s-maxage=x", A, 0, A, A, A, A, P | INV},
    {"max-stale", A, A, LARDER_CC_ANY, A, A, A, P},
    {"max-stale=30", A, A, 30, A, A, A, P},
    {"max-stale=x", A, A, IG, A, A, A, P | INV},
    {"max-stale=10, max-stale=20", A, A, IG, A, A, A, P | INV},
    {"max-stale, max-stale=20", A, A, IG, A, A, A, P | INV},
    {"min-fresh=10", A, A, A, 10, A, A, P},
    {"min-fresh=10, min-fresh=20", A, A, A, 20, A, A, P | INV},   /* the larger */
    {"min-fresh=20, min-fresh=10", A, A, A, 20, A, A, P | INV},
    {"min-fresh=x", A, A, A, IG, A, A, P | INV},
    {"min-fresh=x, min-fresh=5", A, A, A, 5, A, A, P | INV},
    {"stale-while-revalidate=30, stale-if-error=60", A, A, A, A, 30, 60, P},
    {"stale-while-revalidate", A, A, A, A, IG, A, P | INV},
    {"stale-if-error=1, stale-if-error=2", A, A, A, A, A, IG, P | INV},
    {"no-cache", A, A, A, A, A, A, P | LARDER_CC_F_NO_CACHE},
    {"No-Cache", A, A, A, A, A, A, P | LARDER_CC_F_NO_CACHE},
    {"no-cache=\"Set-Cookie, max-age=5\", max-age=7", 7, A, A, A, A, A,
     P | LARDER_CC_F_NO_CACHE | LARDER_CC_F_FIELD_LIST},          /* comma inside quotes */
    {"private=\"X-Foo\"", A, A, A, A, A, A,
     P | LARDER_CC_F_PRIVATE | LARDER_CC_F_FIELD_LIST},
    {"private", A, A, A, A, A, A, P | LARDER_CC_F_PRIVATE},
    {"no-store", A, A, A, A, A, A, P | LARDER_CC_F_NO_STORE},
    {"public, must-revalidate, proxy-revalidate, immutable", A, A, A, A, A, A,
     P | LARDER_CC_F_PUBLIC | LARDER_CC_F_MUST_REVALIDATE | LARDER_CC_F_PROXY_REVALIDATE |
         LARDER_CC_F_IMMUTABLE},
    {"only-if-cached, no-transform, must-understand", A, A, A, A, A, A,
     P | LARDER_CC_F_ONLY_IF_CACHED | LARDER_CC_F_NO_TRANSFORM | LARDER_CC_F_MUST_UNDERSTAND},
    {"foo=bar, x-ext, max-age=5", 5, A, A, A, A, A, P},      /* extensions ignored */
    {"foo=\"a,max-age=9\", max-age=5", 5, A, A, A, A, A, P},
    {",, max-age=5 ,,", 5, A, A, A, A, A, P},
    {"", A, A, A, A, A, A, P},
};

static void test_cc_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cc_cases); i++) {
        const struct cc_case *c = &cc_cases[i];
        struct larder_cc cc;

        larder_freshness_cc_init(&cc);
        larder_freshness_cc_add(&cc, c->value, strlen(c->value));
        CHECK_INT(i, c->value, cc.max_age, c->max_age);
        CHECK_INT(i, c->value, cc.s_maxage, c->s_maxage);
        CHECK_INT(i, c->value, cc.max_stale, c->max_stale);
        CHECK_INT(i, c->value, cc.min_fresh, c->min_fresh);
        CHECK_INT(i, c->value, cc.stale_while_revalidate, c->swr);
        CHECK_INT(i, c->value, cc.stale_if_error, c->sie);
        CHECK_INT(i, c->value, cc.flags, c->flags);
    }
}

static void test_cc_heads(void **state)
{
    struct msg m;
    struct larder_cc cc;

    (void)state;
    /* directives accumulate over lines; conflicts across lines count */
    larder_freshness_cc_response(mk_resp(&m, 200, "Cache-Control: public\n"
                                                  "cache-control: max-age=5"), &cc);
    assert_int_equal(cc.max_age, 5);
    assert_true(cc.flags & LARDER_CC_F_PUBLIC);
    larder_freshness_cc_response(mk_resp(&m, 200, "Cache-Control: max-age=5\n"
                                                  "Cache-Control: max-age=10"), &cc);
    assert_int_equal(cc.max_age, 0);

    /* no Cache-Control line at all */
    larder_freshness_cc_response(mk_resp(&m, 200, "Content-Type: text/plain"), &cc);
    assert_int_equal(cc.flags, 0);
    assert_int_equal(cc.max_age, LARDER_CC_ABSENT);

    /* Pragma: no-cache counts for requests without Cache-Control only */
    larder_freshness_cc_request(mk_req(&m, "GET", "Pragma: no-cache"), &cc);
    assert_int_equal(cc.flags, LARDER_CC_F_NO_CACHE | LARDER_CC_F_PRAGMA);
    larder_freshness_cc_request(mk_req(&m, "GET", "Pragma: foo, No-Cache"), &cc);
    assert_true(cc.flags & LARDER_CC_F_NO_CACHE);
    larder_freshness_cc_request(mk_req(&m, "GET", "Pragma: no-cache\n"
                                                  "Cache-Control: max-age=5"), &cc);
    assert_false(cc.flags & LARDER_CC_F_NO_CACHE);
    assert_int_equal(cc.max_age, 5);
    larder_freshness_cc_request(mk_req(&m, "GET", "Pragma: x-no-cache"), &cc);
    assert_false(cc.flags & LARDER_CC_F_NO_CACHE);
    /* responses ignore Pragma */
    larder_freshness_cc_response(mk_resp(&m, 200, "Pragma: no-cache"), &cc);
    assert_false(cc.flags & LARDER_CC_F_NO_CACHE);
}

/* ---- HTTP dates ---------------------------------------------------------- */

struct date_case {
    const char *s;
    int64_t now;
    int64_t want;
};

#define NOW_2024 INT64_C(1717200000)   /* 2024-06-01 */
#define NOW_2090 INT64_C(3799958400)   /* 2090-06-01 */

/* expected values computed independently (Python calendar.timegm) */
static const struct date_case date_cases[] = {
    {"Sun, 06 Nov 1994 08:49:37 GMT", NOW_2024, 784111777},
    {"Sunday, 06-Nov-94 08:49:37 GMT", NOW_2024, 784111777},
    {"Sun Nov  6 08:49:37 1994", NOW_2024, 784111777},
    {"Sun Nov 06 08:49:37 1994", NOW_2024, 784111777},
    {"sun, 06 nov 1994 08:49:37 gmt", NOW_2024, 784111777},   /* names any case */
    {"Thu, 01 Jan 1970 00:00:00 GMT", NOW_2024, 0},
    {"Wed, 31 Dec 1969 23:59:59 GMT", NOW_2024, 0},             /* before 1970: 0 */
    {"Mon, 01 Jan 0001 00:00:00 GMT", NOW_2024, 0},
    {"Thu, 29 Feb 2024 12:00:00 GMT", NOW_2024, 1709208000},
    {"Tue, 29 Feb 2000 00:00:00 GMT", NOW_2024, 951782400},    /* 400-year leap */
    {"Tue, 29 Feb 1972 00:00:00 GMT", NOW_2024, 68169600},
    {"Mon, 01 Mar 2100 00:00:00 GMT", NOW_2024, 4107542400},
    {"Tue, 19 Jan 2038 03:14:08 GMT", NOW_2024, 2147483648},
    {"Sun, 31 Dec 2023 23:59:59 GMT", NOW_2024, 1704067199},
    {"Fri, 31 Dec 9999 23:59:59 GMT", NOW_2024, 253402300799},
    {"Sun, 06 Nov 1994 08:49:60 GMT", NOW_2024, 784111800},    /* leap second */
    /* the day name is not checked against the date */
    {"Mon, 06 Nov 1994 08:49:37 GMT", NOW_2024, 784111777},
    /* invalid */
    {"Sux, 06 Nov 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sunday, 06 Nov 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 06-Nov-94 08:49:37 GMT", NOW_2024, -1},              /* short name in RFC 850 */
    {"Sunday, 06-Nov-1994 08:49:37 GMT", NOW_2024, -1},
    {"Sunnyday, 06-Nov-94 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 06 Foo 1994 08:49:37 GMT", NOW_2024, -1},
    {"Wed, 29 Feb 2023 00:00:00 GMT", NOW_2024, -1},
    {"Fri, 30 Feb 2024 00:00:00 GMT", NOW_2024, -1},
    {"Thu, 29 Feb 1900 00:00:00 GMT", NOW_2024, -1},            /* 1900 not leap */
    {"Thu, 31 Apr 2024 00:00:00 GMT", NOW_2024, -1},
    {"Sun, 00 Nov 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 32 Jan 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 1994 24:00:00 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 1994 08:60:00 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 1994 08:49:61 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 1994 08:49:37 UTC", NOW_2024, -1},
    {"Sun, 06 Nov 1994 08:49:37 GMT ", NOW_2024, -1},
    {"Sun, 06 Nov 1994 08:49:37", NOW_2024, -1},
    {"Sun, 6 Nov 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 94 08:49:37 GMT", NOW_2024, -1},
    {"Sun,  06 Nov 1994 08:49:37 GMT", NOW_2024, -1},
    {"Sun, 06 Nov 1994 8:49:37 GMT", NOW_2024, -1},
    {"Sun Nov 6 08:49:37 1994", NOW_2024, -1},
    {"Sun Nov  6 08:49:37 94", NOW_2024, -1},
    {"Sun Nov  6 08:49:37 1994 GMT", NOW_2024, -1},
    {"", NOW_2024, -1},
    {"0", NOW_2024, -1},
    {"-1", NOW_2024, -1},
    {"Sun", NOW_2024, -1},
    /* RFC 850 two-digit years: within 50 years of now, else the century before */
    {"Friday, 06-Nov-74 08:49:37 GMT", NOW_2024, 3308719777},   /* 2074: 50 years ahead */
    {"Thursday, 06-Nov-75 08:49:37 GMT", NOW_2024, 184495777},  /* 2075 > +50: 1975 */
    {"Friday, 01-Jan-99 00:00:00 GMT", NOW_2024, 915148800},
    {"Saturday, 01-Jan-00 00:00:00 GMT", NOW_2024, 946684800},
    {"Monday, 01-Mar-10 00:00:00 GMT", NOW_2090, 4423075200},   /* 2010 is too far back: 2110 */
    {"Friday, 31-Dec-99 23:59:59 GMT", NOW_2090, 4102444799},   /* 2099 */
};

static void test_date_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(date_cases); i++) {
        const struct date_case *c = &date_cases[i];
        CHECK_INT(i, c->s, larder_freshness_date_parse(c->s, strlen(c->s), c->now), c->want);
    }
    /* parsing stops at len, not at a NUL */
    assert_int_equal(larder_freshness_date_parse("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29, 0),
                     784111777);
    assert_int_equal(larder_freshness_date_parse(NULL, 0, 0), -1);
}

static void test_date_format(void **state)
{
    static const struct {
        int64_t t;
        const char *s;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {68169600, "Tue, 29 Feb 1972 00:00:00 GMT"},
        {1709208000, "Thu, 29 Feb 2024 12:00:00 GMT"},
        {1704067199, "Sun, 31 Dec 2023 23:59:59 GMT"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
        {-5, "Thu, 01 Jan 1970 00:00:00 GMT"},                 /* clamped */
        {INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT"},          /* clamped */
    };
    char buf[LARDER_HTTP_DATE_LEN + 1];

    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        memset(buf, 'x', sizeof(buf));
        CHECK_STR(i, "format", larder_freshness_date_format(cases[i].t, buf), cases[i].s);
    }
    /* round trip over ~270 years in irregular steps */
    for (int64_t t = 0; t < INT64_C(8600000000); t += INT64_C(7777777) + t % 86399) {
        larder_freshness_date_format(t, buf);
        if (larder_freshness_date_parse(buf, strlen(buf), 0) != t)
            fail_msg("round trip of %lld gave \"%s\"", (long long)t, buf);
    }
}

/* ---- storable ------------------------------------------------------------ */

struct store_case {
    const char *method;
    const char *req;
    int status;
    const char *resp;
    const char *want;
};

static const struct store_case store_cases[] = {
    {"GET", "", 200, "Cache-Control: max-age=60", NULL},
    {"GET", "", 200, "Expires: " D_T, NULL},
    {"GET", "", 200, "Cache-Control: s-maxage=60", NULL},
    {"GET", "", 200, "Cache-Control: max-age=abc", NULL},       /* explicit, stale */
    {"GET", "", 200, "Expires: 0", NULL},                       /* explicit, stale */
    {"HEAD", "", 200, "Cache-Control: max-age=60", "method"},
    {"POST", "", 200, "Cache-Control: max-age=60", "method"},
    {"get", "", 200, "Cache-Control: max-age=60", "method"},    /* methods are case-sensitive */
    {"GET", "", 100, "Cache-Control: max-age=60", "status"},
    {"GET", "", 101, "Cache-Control: max-age=60", "status"},
    {"GET", "", 206, "Cache-Control: max-age=60", "status"},
    {"GET", "", 304, "Cache-Control: max-age=60", "status"},
    {"GET", "Cache-Control: no-store", 200, "Cache-Control: max-age=60", "no-store"},
    {"GET", "", 200, "Cache-Control: max-age=60, no-store", "no-store"},
    {"GET", "", 200, "Cache-Control: must-understand, no-store, max-age=60", NULL},
    {"GET", "", 299, "Cache-Control: must-understand, no-store, max-age=60", "must-understand"},
    {"GET", "", 418, "Cache-Control: must-understand, max-age=60", "must-understand"},
    {"GET", "Cache-Control: no-store", 200, "Cache-Control: must-understand, max-age=60",
     "no-store"},
    {"GET", "", 418, "Cache-Control: max-age=60", NULL},        /* explicit: any final status */
    {"GET", "", 200, "Cache-Control: private, max-age=60", "private"},
    {"GET", "", 200, "Cache-Control: private=\"X-User\", max-age=60", "private"},
    {"GET", "Authorization: Basic eDp5", 200, "Cache-Control: max-age=60", "authorization"},
    {"GET", "Authorization: Basic eDp5", 200, "Cache-Control: max-age=60, public", NULL},
    {"GET", "Authorization: Basic eDp5", 200, "Cache-Control: s-maxage=60", NULL},
    {"GET", "Authorization: Basic eDp5", 200, "Cache-Control: max-age=60, must-revalidate", NULL},
    {"GET", "Proxy-Authorization: Basic eDp5", 200, "Cache-Control: max-age=60", NULL},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary: *", "vary-star"},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary: Accept, *", "vary-star"},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary: Accept\nVary: *", "vary-star"},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary: Acc ept", "vary-star"},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary: Accept-Encoding", NULL},
    {"GET", "", 200, "Cache-Control: max-age=60\nVary:", NULL},  /* empty Vary: no variance */
    /* heuristic freshness needs a heuristically cacheable status and a validator */
    {"GET", "", 200, "", "no-validator"},
    {"GET", "", 200, "Date: " D_T, "no-validator"},
    {"GET", "", 200, "Last-Modified: bogus", "no-validator"},
    {"GET", "", 200, "Last-Modified: " D_T_M1000, NULL},
    {"GET", "", 200, "ETag: \"v1\"", NULL},
    {"GET", "", 301, "Last-Modified: " D_T_M1000, NULL},
    {"GET", "", 204, "ETag: \"v1\"", NULL},
    {"GET", "", 302, "Last-Modified: " D_T_M1000, "no-freshness"},
    {"GET", "", 302, "Cache-Control: public\nLast-Modified: " D_T_M1000, NULL},
    {"GET", "", 302, "Cache-Control: max-age=60", NULL},
    /* errors only with explicit freshness, even the heuristically cacheable ones */
    {"GET", "", 404, "Last-Modified: " D_T_M1000, "no-freshness"},
    {"GET", "", 404, "Cache-Control: public\nETag: \"x\"", "no-freshness"},
    {"GET", "", 404, "Cache-Control: max-age=60", NULL},
    {"GET", "", 410, "Expires: " D_T_P300, NULL},
    {"GET", "", 500, "", "no-freshness"},
    {"GET", "", 503, "Cache-Control: max-age=5", NULL},
    /* no-cache responses are stored (and always revalidated) */
    {"GET", "", 200, "Cache-Control: no-cache\nETag: \"v1\"", NULL},
    {"GET", "", 404, "Cache-Control: no-cache", "no-freshness"},
    /* request no-cache does not prevent storing */
    {"GET", "Cache-Control: no-cache", 200, "Cache-Control: max-age=60", NULL},
    /* Set-Cookie only when the origin says the response is for everybody */
    {"GET", "", 200, "Cache-Control: max-age=60\nSet-Cookie: a=b", "set-cookie"},
    {"GET", "", 200, "Cache-Control: max-age=60, public\nSet-Cookie: a=b", NULL},
    {"GET", "", 200, "Cache-Control: s-maxage=60\nSet-Cookie: a=b", NULL},
};

static void test_storable(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(store_cases); i++) {
        const struct store_case *c = &store_cases[i];
        struct msg mq, mr;
        struct larder_cc qcc, rcc;
        const struct larder_http_head *req = mk_req(&mq, c->method, c->req);
        const struct larder_http_head *resp = mk_resp(&mr, c->status, c->resp);

        larder_freshness_cc_request(req, &qcc);
        larder_freshness_cc_response(resp, &rcc);
        CHECK_STR(i, c->resp, larder_freshness_storable(req, &qcc, resp, &rcc), c->want);
    }
}

/* ---- freshness lifetime and age ------------------------------------------ */

struct age_case {
    const char *what;
    int status;
    const char *resp;
    int64_t req_off, resp_off;    /* request_time, response_time relative to T */
    int64_t max_heuristic;
    int64_t date_off;             /* expected f.date - T */
    int64_t age_value, cia, lifetime;
    int64_t expires;              /* expected f.expires, or NOCHECK */
    unsigned set, clear;          /* LARDER_FRESH_F_* that must be set / clear */
};

#define H LARDER_FRESH_F_HEURISTIC
#define V LARDER_FRESH_F_HAS_VALIDATOR
#define PR LARDER_FRESH_F_PROXY_REVALIDATE

static const struct age_case age_cases[] = {
    /* RFC 9111 4.2.3 worked through: apparent_age = max(0, response_time - date);
     * corrected_age_value = age_value + (response_time - request_time);
     * corrected_initial_age = max(apparent_age, corrected_age_value) */
    {"plain max-age", 200, "Date: " D_T "\nCache-Control: max-age=100",
     0, 0, 86400, 0, 0, 0, 100, -1, 0, H | PR},
    {"Age plus request delay", 200, "Date: " D_T "\nAge: 30\nCache-Control: max-age=100",
     -2, 0, 86400, 0, 30, 32, 100, NOCHECK, 0, 0},
    {"old Date: apparent age wins", 200, "Date: " D_T_M50 "\nCache-Control: max-age=100",
     -1, 0, 86400, -50, 0, 50, 100, NOCHECK, 0, 0},
    {"Age beats apparent age", 200, "Date: " D_T_M50 "\nAge: 80\nCache-Control: max-age=100",
     -1, 0, 86400, -50, 80, 81, 100, NOCHECK, 0, 0},
    {"Date in the future", 200, "Date: " D_T_P3600 "\nExpires: " D_T_P4200,
     -1, 0, 86400, 3600, 0, 1, 600, T + 4200, 0, H},
    {"Date missing", 200, "Expires: " D_T_P300,
     0, 0, 86400, 0, 0, 0, 300, T + 300, 0, 0},
    {"Date missing, late response", 200, "Expires: " D_T_P300,
     -10, 100, 86400, 100, 0, 110, 200, T + 300, 0, 0},
    {"Date invalid", 200, "Date: yesterday\nExpires: " D_T_P300,
     0, 0, 86400, 0, 0, 0, 300, NOCHECK, 0, 0},
    {"Date on lines that differ", 200, "Date: " D_T "\nDate: " D_T_M50 "\nCache-Control: max-age=10",
     5, 5, 86400, 5, 0, 0, 10, NOCHECK, 0, 0},
    {"Age invalid is ignored", 200, "Date: " D_T "\nAge: abc\nCache-Control: max-age=100",
     0, 0, 86400, 0, 0, 0, 100, NOCHECK, 0, 0},
    {"Age list: first member", 200, "Date: " D_T "\nAge: 5, 9\nCache-Control: max-age=100",
     0, 0, 86400, 0, 5, 5, 100, NOCHECK, 0, 0},
    {"Age second line ignored", 200, "Date: " D_T "\nAge: 7\nAge: 100\nCache-Control: max-age=100",
     0, 0, 86400, 0, 7, 7, 100, NOCHECK, 0, 0},
    {"Age negative is ignored", 200, "Date: " D_T "\nAge: -1\nCache-Control: max-age=100",
     0, 0, 86400, 0, 0, 0, 100, NOCHECK, 0, 0},
    {"Age huge clamps", 200, "Date: " D_T "\nAge: 99999999999999\nCache-Control: max-age=100",
     0, 0, 86400, 0, LARDER_DELTA_MAX, LARDER_DELTA_MAX, 100, NOCHECK, 0, 0},
    {"response before request (clock step)", 200, "Date: " D_T "\nCache-Control: max-age=100",
     10, 0, 86400, 0, 0, 0, 100, NOCHECK, 0, 0},
    {"Expires invalid: stale", 200, "Date: " D_T "\nExpires: 0",
     0, 0, 86400, 0, 0, 0, 0, 0, 0, H},
    {"Expires before Date", 200, "Date: " D_T "\nExpires: " D_T_M50,
     0, 0, 86400, 0, 0, 0, 0, T - 50, 0, H},
    {"Expires on lines that differ: stale", 200,
     "Date: " D_T "\nExpires: " D_T_P300 "\nExpires: " D_T_P600,
     0, 0, 86400, 0, 0, 0, 0, 0, 0, H},
    {"Expires repeated identically", 200, "Date: " D_T "\nExpires: " D_T_P300 "\nExpires: " D_T_P300,
     0, 0, 86400, 0, 0, 0, 300, T + 300, 0, 0},
    {"max-age overrides Expires", 200, "Date: " D_T "\nExpires: " D_T_P300 "\nCache-Control: max-age=60",
     0, 0, 86400, 0, 0, 0, 60, -1, 0, 0},
    {"invalid max-age overrides Expires", 200,
     "Date: " D_T "\nExpires: " D_T_P300 "\nCache-Control: max-age=x",
     0, 0, 86400, 0, 0, 0, 0, -1, 0, 0},
    {"s-maxage beats max-age", 200, "Date: " D_T "\nCache-Control: max-age=60, s-maxage=30",
     0, 0, 86400, 0, 0, 0, 30, -1, PR, 0},
    {"huge max-age clamps", 200, "Date: " D_T "\nCache-Control: max-age=99999999999",
     0, 0, 86400, 0, 0, 0, LARDER_DELTA_MAX, -1, 0, 0},
    {"heuristic: 10% of Date - Last-Modified", 200, "Date: " D_T "\nLast-Modified: " D_T_M1000,
     0, 0, 86400, 0, 0, 0, 100, -1, H | V, 0},
    {"heuristic capped", 200, "Date: " D_T "\nLast-Modified: " D_T_M1000,
     0, 0, 50, 0, 0, 0, 50, -1, H, 0},
    {"heuristic, negative cap", 200, "Date: " D_T "\nLast-Modified: " D_T_M1000,
     0, 0, -5, 0, 0, 0, 0, -1, H, 0},
    {"heuristic, Last-Modified after Date", 200, "Date: " D_T "\nLast-Modified: " D_T_P300,
     0, 0, 86400, 0, 0, 0, 0, -1, H, 0},
    {"heuristic, no Last-Modified", 200, "Date: " D_T "\nETag: \"a\"",
     0, 0, 86400, 0, 0, 0, 0, -1, H | V, 0},
    {"no heuristic for 404", 404, "Date: " D_T "\nLast-Modified: " D_T_M1000,
     0, 0, 86400, 0, 0, 0, 0, -1, V, H},
    {"no heuristic for 302", 302, "Date: " D_T "\nLast-Modified: " D_T_M1000,
     0, 0, 86400, 0, 0, 0, 0, -1, 0, H},
    {"heuristic for public 302", 302,
     "Date: " D_T "\nLast-Modified: " D_T_M1000 "\nCache-Control: public",
     0, 0, 86400, 0, 0, 0, 100, -1, H | LARDER_FRESH_F_PUBLIC, 0},
    {"no validator", 200, "Date: " D_T "\nETag: unquoted\nCache-Control: max-age=1",
     0, 0, 86400, 0, 0, 0, 1, NOCHECK, 0, V},
};

static void test_age_calculation(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(age_cases); i++) {
        const struct age_case *c = &age_cases[i];
        struct msg m;
        struct larder_cc cc;
        struct larder_freshness f;
        const struct larder_http_head *resp = mk_resp(&m, c->status, c->resp);

        larder_freshness_cc_response(resp, &cc);
        larder_freshness_init(&f, resp, &cc, T + c->req_off, T + c->resp_off, c->max_heuristic);
        CHECK_INT(i, c->what, f.date - T, c->date_off);
        CHECK_INT(i, c->what, f.age_value, c->age_value);
        CHECK_INT(i, c->what, f.corrected_initial_age, c->cia);
        CHECK_INT(i, c->what, f.lifetime, c->lifetime);
        CHECK_INT(i, c->what, f.status, c->status);
        if (c->expires != NOCHECK)
            CHECK_INT(i, c->what, f.expires, c->expires);
        CHECK_INT(i, c->what, f.flags & c->set, c->set);
        CHECK_INT(i, c->what, f.flags & c->clear, 0);
        /* current_age = corrected_initial_age + resident time */
        CHECK_INT(i, c->what, larder_freshness_age(&f, T + c->resp_off),
                  c->cia < LARDER_DELTA_MAX ? c->cia : LARDER_DELTA_MAX);
        CHECK_INT(i, c->what, larder_freshness_age(&f, T + c->resp_off + 7),
                  c->cia + 7 < LARDER_DELTA_MAX ? c->cia + 7 : LARDER_DELTA_MAX);
    }
}

static void test_fresh_boundary(void **state)
{
    struct msg m;
    struct larder_cc cc;
    struct larder_freshness f;
    const struct larder_http_head *resp;

    (void)state;
    /* lifetime 100, age 0 at T: fresh while lifetime > age */
    resp = mk_resp(&m, 200, "Date: " D_T "\nCache-Control: max-age=100");
    larder_freshness_cc_response(resp, &cc);
    larder_freshness_init(&f, resp, &cc, T, T, 0);
    assert_true(larder_freshness_is_fresh(&f, T));
    assert_true(larder_freshness_is_fresh(&f, T + 99));
    assert_int_equal(larder_freshness_ttl(&f, T + 99), 1);
    assert_false(larder_freshness_is_fresh(&f, T + 100));
    assert_int_equal(larder_freshness_ttl(&f, T + 100), 0);
    assert_int_equal(larder_freshness_ttl(&f, T + 130), -30);
    /* a clock that steps back does not make the response younger */
    assert_int_equal(larder_freshness_age(&f, T - 1000), 0);

    /* same with Age: 30 and a 2 s round trip: stale 32 s earlier */
    resp = mk_resp(&m, 200, "Date: " D_T "\nAge: 30\nCache-Control: max-age=100");
    larder_freshness_cc_response(resp, &cc);
    larder_freshness_init(&f, resp, &cc, T - 2, T, 0);
    assert_true(larder_freshness_is_fresh(&f, T + 67));
    assert_false(larder_freshness_is_fresh(&f, T + 68));

    /* max-age=0 is stale on arrival */
    resp = mk_resp(&m, 200, "Date: " D_T "\nCache-Control: max-age=0");
    larder_freshness_cc_response(resp, &cc);
    larder_freshness_init(&f, resp, &cc, T, T, 0);
    assert_false(larder_freshness_is_fresh(&f, T));

    /* the age written in Age never exceeds 2^31 */
    resp = mk_resp(&m, 200, "Date: Thu, 01 Jan 1970 00:00:00 GMT\nCache-Control: max-age=1");
    larder_freshness_cc_response(resp, &cc);
    larder_freshness_init(&f, resp, &cc, INT64_C(9000000000), INT64_C(9000000000), 0);
    assert_int_equal(larder_freshness_age(&f, INT64_C(9000000000)), LARDER_DELTA_MAX);
    assert_false(larder_freshness_is_fresh(&f, INT64_C(9000000000)));
}

/* ---- serve decision ------------------------------------------------------ */

struct decide_case {
    const char *resp_cc;
    const char *req_cc;
    int64_t age;
    enum larder_serve want;
};

#define FRESH LARDER_SERVE_FRESH
#define STALE LARDER_SERVE_STALE
#define SWR LARDER_SERVE_STALE_REVALIDATE
#define REVAL LARDER_SERVE_REVALIDATE
#define REVAL_REQ LARDER_SERVE_REVALIDATE_REQUEST
#define GW504 LARDER_SERVE_GATEWAY_TIMEOUT

static const struct decide_case decide_cases[] = {
    {"max-age=100", "", 0, FRESH},
    {"max-age=100", "", 99, FRESH},
    {"max-age=100", "", 100, REVAL},
    {"max-age=0", "", 0, REVAL},
    /* request no-cache revalidates, it is not a plain miss */
    {"max-age=100", "no-cache", 10, REVAL_REQ},
    {"max-age=100", "no-cache", 150, REVAL},
    /* request max-age */
    {"max-age=100", "max-age=10", 10, FRESH},
    {"max-age=100", "max-age=5", 10, REVAL_REQ},
    {"max-age=100", "max-age=0", 0, FRESH},
    {"max-age=100", "max-age=0", 1, REVAL_REQ},
    {"max-age=100", "max-age=x", 1, REVAL_REQ},         /* invalid request max-age is 0 */
    /* immutable stands for a reload (max-age) but not a forced one (no-cache) */
    {"max-age=100, immutable", "max-age=0", 10, FRESH},
    {"max-age=100, immutable", "no-cache", 10, REVAL_REQ},
    {"max-age=100, immutable", "", 150, REVAL},
    {"max-age=100, immutable", "max-age=0", 150, REVAL},
    /* min-fresh: remaining freshness must be at least that */
    {"max-age=100", "min-fresh=20", 80, FRESH},
    {"max-age=100", "min-fresh=20", 81, REVAL_REQ},
    {"max-age=100", "min-fresh=0, max-stale=10", 105, REVAL},
    {"max-age=100", "min-fresh=x", 50, FRESH},
    /* max-stale */
    {"max-age=100", "max-stale=50", 150, STALE},
    {"max-age=100", "max-stale=50", 151, REVAL},
    {"max-age=100", "max-stale=0", 100, STALE},
    {"max-age=100", "max-stale", 1000000, STALE},
    {"max-age=100", "max-stale=x", 101, REVAL},
    {"max-age=100", "max-age=200, max-stale=10", 105, STALE},
    {"max-age=100", "max-age=104, max-stale=10", 105, REVAL},
    /* directives that forbid serving stale */
    {"max-age=100, must-revalidate", "max-stale", 150, REVAL},
    {"max-age=100, proxy-revalidate", "max-stale", 150, REVAL},
    {"s-maxage=100", "max-stale", 150, REVAL},
    {"max-age=100, no-cache", "", 10, REVAL},
    {"max-age=100, no-cache", "max-stale", 150, REVAL},
    {"max-age=100, no-cache", "no-cache", 10, REVAL},
    /* stale-while-revalidate: serve now, refresh behind */
    {"max-age=100, stale-while-revalidate=30", "", 100, SWR},
    {"max-age=100, stale-while-revalidate=30", "", 130, SWR},
    {"max-age=100, stale-while-revalidate=30", "", 131, REVAL},
    {"max-age=100, stale-while-revalidate=30", "", 50, FRESH},
    {"max-age=100, stale-while-revalidate=30, must-revalidate", "", 110, REVAL},
    {"s-maxage=100, stale-while-revalidate=30", "", 110, REVAL},
    {"max-age=100, stale-while-revalidate=30", "no-cache", 110, REVAL},
    {"max-age=100, stale-while-revalidate=30", "max-age=200", 110, REVAL},
    {"max-age=100, stale-while-revalidate=30", "max-age=200, max-stale=5", 110, SWR},
    {"max-age=100, stale-while-revalidate=30", "max-stale=100", 150, STALE},
    {"max-age=100, stale-while-revalidate=x", "", 110, REVAL},
    /* only-if-cached: 504 whenever the origin would be needed */
    {"max-age=100", "only-if-cached", 50, FRESH},
    {"max-age=100", "only-if-cached", 150, GW504},
    {"max-age=100", "only-if-cached, max-stale", 150, STALE},
    {"max-age=100", "only-if-cached, no-cache", 10, GW504},
    {"max-age=100, must-revalidate", "only-if-cached, max-stale", 150, GW504},
    {"max-age=100, stale-while-revalidate=60", "only-if-cached", 120, SWR},
};

static void test_decide(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(decide_cases); i++) {
        const struct decide_case *c = &decide_cases[i];
        struct larder_cc rcc, qcc;
        struct larder_freshness f;
        struct msg m;
        const struct larder_http_head *resp = mk_resp(&m, 200, "Date: " D_T);
        char what[160];

        larder_freshness_cc_init(&rcc);
        larder_freshness_cc_add(&rcc, c->resp_cc, strlen(c->resp_cc));
        larder_freshness_cc_init(&qcc);
        if (c->req_cc[0] != '\0')
            larder_freshness_cc_add(&qcc, c->req_cc, strlen(c->req_cc));
        larder_freshness_init(&f, resp, &rcc, T, T, 0);
        snprintf(what, sizeof(what), "%s | %s | age %lld", c->resp_cc, c->req_cc,
                 (long long)c->age);
        enum larder_serve got = larder_freshness_decide(&f, &qcc, T + c->age);
        if (got != c->want)
            fail_msg("case %zu (%s): got %s, want %s", i, what,
                     larder_freshness_serve_name(got), larder_freshness_serve_name(c->want));
    }
}

static void test_decide_pragma(void **state)
{
    struct msg mq, mr;
    struct larder_cc qcc, rcc;
    struct larder_freshness f;
    const struct larder_http_head *resp =
        mk_resp(&mr, 200, "Date: " D_T "\nCache-Control: max-age=100");

    (void)state;
    larder_freshness_cc_response(resp, &rcc);
    larder_freshness_init(&f, resp, &rcc, T, T, 0);
    larder_freshness_cc_request(mk_req(&mq, "GET", "Pragma: no-cache"), &qcc);
    assert_int_equal(larder_freshness_decide(&f, &qcc, T + 1), LARDER_SERVE_REVALIDATE_REQUEST);
    larder_freshness_cc_request(mk_req(&mq, "GET", "Pragma: no-cache\nCache-Control: max-stale"),
                                &qcc);
    assert_int_equal(larder_freshness_decide(&f, &qcc, T + 1), LARDER_SERVE_FRESH);
    assert_string_equal(larder_freshness_serve_name(LARDER_SERVE_COUNT), "?");
}

/* ---- stale on error ------------------------------------------------------ */

struct soe_case {
    const char *resp_cc;
    const char *req_cc;
    int64_t age;
    int config;
    int want;
};

static const struct soe_case soe_cases[] = {
    {"max-age=100", "", 200, 0, 0},
    {"max-age=100", "", 200, 1, 1},
    {"max-age=100", "", 50, 1, 1},                        /* fresh, revalidated on request */
    {"max-age=100, stale-if-error=60", "", 160, 0, 1},
    {"max-age=100, stale-if-error=60", "", 161, 0, 0},
    {"max-age=100, stale-if-error=60", "", 161, 1, 1},
    {"max-age=100", "stale-if-error=30", 130, 0, 1},
    {"max-age=100", "stale-if-error=30", 131, 0, 0},
    {"max-age=100, must-revalidate", "", 200, 1, 0},
    {"max-age=100, must-revalidate, stale-if-error=999", "stale-if-error=999", 200, 1, 0},
    {"max-age=100, proxy-revalidate", "", 200, 1, 0},
    {"s-maxage=100, stale-if-error=999", "", 200, 1, 0},
    {"max-age=100, no-cache", "", 200, 1, 0},
    {"max-age=100", "no-cache", 200, 1, 0},               /* client insisted on validation */
    {"max-age=100, stale-if-error=999", "no-cache", 200, 0, 0},
    {"max-age=100", "no-cache, stale-if-error=1000", 200, 0, 1},
    {"max-age=100, stale-if-error=x", "", 101, 0, 0},
};

static void test_stale_on_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(soe_cases); i++) {
        const struct soe_case *c = &soe_cases[i];
        struct larder_cc rcc, qcc;
        struct larder_freshness f;
        struct msg m;
        const struct larder_http_head *resp = mk_resp(&m, 200, "Date: " D_T);

        larder_freshness_cc_init(&rcc);
        larder_freshness_cc_add(&rcc, c->resp_cc, strlen(c->resp_cc));
        larder_freshness_cc_init(&qcc);
        larder_freshness_cc_add(&qcc, c->req_cc, strlen(c->req_cc));
        larder_freshness_init(&f, resp, &rcc, T, T, 0);
        CHECK_INT(i, c->resp_cc, larder_freshness_stale_on_error(&f, &qcc, T + c->age, c->config),
                  c->want);
    }
    assert_true(larder_freshness_is_error_status(500));
    assert_true(larder_freshness_is_error_status(502));
    assert_true(larder_freshness_is_error_status(503));
    assert_true(larder_freshness_is_error_status(504));
    assert_false(larder_freshness_is_error_status(501));
    assert_false(larder_freshness_is_error_status(505));
    assert_false(larder_freshness_is_error_status(404));
    assert_false(larder_freshness_is_error_status(200));
}

/* ---- entity-tags, 304 ---------------------------------------------------- */

static void test_etag_match(void **state)
{
    static const struct {
        const char *a, *b;
        int strong, want;
    } cases[] = {
        {"\"x\"", "\"x\"", 1, 1},
        {"\"x\"", "\"x\"", 0, 1},
        {"W/\"x\"", "\"x\"", 1, 0},
        {"W/\"x\"", "\"x\"", 0, 1},
        {"W/\"x\"", "W/\"x\"", 1, 0},
        {"W/\"x\"", "W/\"x\"", 0, 1},
        {"\"x\"", "\"y\"", 0, 0},
        {"\"x\"", "\"X\"", 0, 0},              /* opaque tags are case-sensitive */
        {"\"\"", "\"\"", 1, 1},                /* empty opaque tag is valid */
        {"x", "x", 0, 0},                      /* unquoted: not an entity-tag */
        {"w/\"x\"", "w/\"x\"", 0, 0},          /* W is upper case */
        {"\"x", "\"x", 0, 0},
        {"\"a\"b\"", "\"a\"b\"", 0, 0},
        {"\"a b\"", "\"a b\"", 0, 0},          /* SP is not etagc */
        {" \"x\" ", "\"x\"", 1, 1},            /* surrounding OWS ignored */
        {"\"a,b\"", "\"a,b\"", 1, 1},
        {"\"\xe9t\xe9\"", "\"\xe9t\xe9\"", 1, 1}, /* obs-text */
    };

    (void)state;
    for (size_t i = 0; i < N(cases); i++)
        CHECK_INT(i, cases[i].a,
                  larder_freshness_etag_match(cases[i].a, strlen(cases[i].a), cases[i].b,
                                              strlen(cases[i].b), cases[i].strong),
                  cases[i].want);
}

static void test_304_matches(void **state)
{
    static const struct {
        const char *stored, *r304;
        int want;
    } cases[] = {
        {"ETag: \"a\"", "ETag: \"a\"", 1},
        {"ETag: \"a\"", "ETag: \"b\"", 0},
        {"ETag: W/\"a\"", "ETag: W/\"a\"", 1},
        {"ETag: \"a\"", "ETag: W/\"a\"", 1},           /* weak validator, weak comparison */
        {"ETag: W/\"a\"", "ETag: \"a\"", 0},           /* strong validator needs strong */
        {"", "ETag: \"a\"", 0},
        {"Last-Modified: " D_T, "ETag: \"a\"", 0},
        {"ETag: \"a\"\nLast-Modified: " D_T, "Last-Modified: " D_T, 1},
        {"Last-Modified: " D_T, "Last-Modified: " D_T_M50, 0},
        {"ETag: \"a\"", "Last-Modified: " D_T, 0},
        {"ETag: \"a\"", "", 1},                        /* answers our own conditional */
        {"ETag: \"a\"", "Date: " D_T "\nCache-Control: max-age=5", 1},
        {"ETag: \"a\"", "ETag: garbage", 1},           /* invalid ETag: no validator */
        {"ETag: \"a\"\nETag: \"b\"", "ETag: \"a\"", 0}, /* conflicting stored ETag */
    };

    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct msg ms, mn;
        CHECK_INT(i, cases[i].r304,
                  larder_freshness_304_matches(mk_resp(&ms, 200, cases[i].stored),
                                               mk_resp(&mn, 304, cases[i].r304)),
                  cases[i].want);
    }
}

static void test_304_replaces(void **state)
{
    static const struct {
        const char *name;
        int want;
    } expect[] = {
        {"Cache-Control", 1}, {"Expires", 1}, {"Date", 1}, {"ETag", 1},
        {"Content-Type", 1}, {"Last-Modified", 1}, {"Vary", 1}, {"X-Foo", 1},
        {"Content-Length", 0}, {"content-encoding", 0}, {"Content-Range", 0},
        {"Age", 0}, {"Connection", 0}, {"Keep-Alive", 0}, {"Transfer-Encoding", 0},
        {"TE", 0}, {"Trailer", 0}, {"Upgrade", 0}, {"Proxy-Connection", 0},
        {"Proxy-Authenticate", 0}, {"X-Hop", 0}, {"x-other-hop", 0},
    };
    struct msg m;
    const struct larder_http_head *r304 = mk_resp(
        &m, 304,
        "Cache-Control: max-age=5\nExpires: " D_T "\nDate: " D_T "\nETag: \"a\"\n"
        "Content-Type: text/plain\nLast-Modified: " D_T "\nVary: Accept\nX-Foo: 1\n"
        "Content-Length: 0\ncontent-encoding: gzip\nContent-Range: bytes 0-1/2\n"
        "Age: 3\nConnection: close, X-Hop\nConnection: x-OTHER-hop");
    struct larder_http_field extra[] = {
        {"Keep-Alive", 10, "", 0, 0}, {"Transfer-Encoding", 17, "", 0, 0},
        {"TE", 2, "", 0, 0}, {"Trailer", 7, "", 0, 0}, {"Upgrade", 7, "", 0, 0},
        {"Proxy-Connection", 16, "", 0, 0}, {"Proxy-Authenticate", 18, "", 0, 0},
        {"X-Hop", 5, "", 0, 0}, {"x-other-hop", 11, "", 0, 0},
    };
    struct larder_http_field dropped = {"X-Foo", 5, "1", 1, LARDER_FIELD_F_DROP};

    (void)state;
    for (size_t i = 0; i < N(expect); i++) {
        const struct larder_http_field *f = NULL;
        for (unsigned j = 0; j < r304->nfields && f == NULL; j++)
            if (larder_http_field_is(&r304->fields[j], expect[i].name))
                f = &r304->fields[j];
        for (size_t j = 0; j < N(extra) && f == NULL; j++)
            if (larder_http_field_is(&extra[j], expect[i].name))
                f = &extra[j];
        assert_non_null(f);
        CHECK_INT(i, expect[i].name, larder_freshness_304_replaces(r304, f), expect[i].want);
    }
    assert_false(larder_freshness_304_replaces(r304, &dropped));
}

static void test_refresh(void **state)
{
    struct msg ms, m304, mm;
    struct larder_cc cc;
    struct larder_freshness f;
    const struct larder_http_head *stored, *r304, *merged;

    (void)state;
    stored = mk_resp(&ms, 200, "Date: " D_T "\nCache-Control: max-age=100\nETag: \"v1\"");
    larder_freshness_cc_response(stored, &cc);
    larder_freshness_init(&f, stored, &cc, T, T, 0);
    assert_false(larder_freshness_is_fresh(&f, T + 150));

    /* 304 at T+200 (sent T+199) with a new Date and a longer max-age */
    r304 = mk_resp(&m304, 304, "Date: " D_T_P200 "\nCache-Control: max-age=300\nETag: \"v1\"");
    assert_true(larder_freshness_304_matches(stored, r304));
    merged = mk_resp(&mm, 304, "Date: " D_T_P200 "\nCache-Control: max-age=300\nETag: \"v1\"");
    larder_freshness_cc_response(merged, &cc);
    larder_freshness_refresh(&f, merged, &cc, r304, T + 199, T + 200, 0);
    assert_int_equal(f.status, 200);                   /* the stored status stays */
    assert_int_equal(f.date, T + 200);
    assert_int_equal(f.lifetime, 300);
    assert_int_equal(f.corrected_initial_age, 1);
    assert_int_equal(f.request_time, T + 199);
    assert_int_equal(f.response_time, T + 200);
    assert_true(larder_freshness_is_fresh(&f, T + 200 + 298));
    assert_false(larder_freshness_is_fresh(&f, T + 200 + 299));

    /* 304 without Date at T+1000: dated when received, not with the stored
     * Date still in the merged head (that would make it 800 s old) */
    r304 = mk_resp(&m304, 304, "ETag: \"v1\"");
    merged = mk_resp(&mm, 200, "Date: " D_T_P200 "\nCache-Control: max-age=300\nETag: \"v1\"");
    larder_freshness_cc_response(merged, &cc);
    larder_freshness_refresh(&f, merged, &cc, r304, T + 1000, T + 1000, 0);
    assert_int_equal(f.date, T + 1000);
    assert_int_equal(f.corrected_initial_age, 0);
    assert_true(larder_freshness_is_fresh(&f, T + 1299));

    /* the Age of the 304 counts, the stored one does not */
    r304 = mk_resp(&m304, 304, "Age: 20");
    merged = mk_resp(&mm, 200, "Age: 500\nCache-Control: max-age=300, must-revalidate");
    larder_freshness_cc_response(merged, &cc);
    larder_freshness_refresh(&f, merged, &cc, r304, T + 2000, T + 2000, 0);
    assert_int_equal(f.age_value, 20);
    assert_int_equal(f.corrected_initial_age, 20);
    assert_true(f.flags & LARDER_FRESH_F_MUST_REVALIDATE);
}

/* ---- client conditionals ------------------------------------------------- */

struct cond_case {
    const char *method;
    const char *req;
    int status;
    const char *stored;
    enum larder_cond want;
};

#define STORED "ETag: \"v1\"\nLast-Modified: " D_T_M1000 "\nDate: " D_T
#define NONE LARDER_COND_NONE
#define NM LARDER_COND_NOT_MODIFIED
#define PF LARDER_COND_PRECONDITION_FAILED

static const struct cond_case cond_cases[] = {
    {"GET", "", 200, STORED, NONE},
    {"GET", "If-None-Match: \"v1\"", 200, STORED, NM},
    {"HEAD", "If-None-Match: \"v1\"", 200, STORED, NM},
    {"GET", "If-None-Match: W/\"v1\"", 200, STORED, NM},            /* weak comparison */
    {"GET", "If-None-Match: \"v1\"", 200, "ETag: W/\"v1\"", NM},
    {"GET", "If-None-Match: \"v2\"", 200, STORED, NONE},
    {"GET", "If-None-Match: \"v2\", \"v1\"", 200, STORED, NM},
    {"GET", "If-None-Match: \"v2\",W/\"v1\"", 200, STORED, NM},
    {"GET", "If-None-Match: \"v2\"\nIf-None-Match: \"v1\"", 200, STORED, NM},
    {"GET", "If-None-Match: *", 200, STORED, NM},
    {"GET", "If-None-Match: *", 200, "Date: " D_T, NM},
    {"GET", "If-None-Match: \"v1\"", 200, "Date: " D_T, NONE},      /* nothing to compare */
    {"GET", "If-None-Match: \"a,b\"", 200, "ETag: \"a,b\"", NM},
    {"GET", "If-None-Match: \"x\", \"a,b\"", 200, "ETag: \"a,b\"", NM},
    {"GET", "If-None-Match: v1", 200, STORED, NONE},                /* unparsable: ignored */
    {"GET", "If-None-Match: \"v1\" \"v2\"", 200, STORED, NONE},
    {"OPTIONS", "If-None-Match: \"v1\"", 200, STORED, NONE},
    /* If-None-Match present: If-Modified-Since ignored */
    {"GET", "If-None-Match: \"v2\"\nIf-Modified-Since: " D_T, 200, STORED, NONE},
    {"GET", "If-None-Match: v1\nIf-Modified-Since: " D_T, 200, STORED, NONE},
    /* If-Modified-Since against Last-Modified (T - 1000) */
    {"GET", "If-Modified-Since: " D_T, 200, STORED, NM},
    {"GET", "If-Modified-Since: " D_T_M1000, 200, STORED, NM},       /* equal */
    {"GET", "If-Modified-Since: Sunday, 06-Nov-94 08:32:57 GMT", 200, STORED, NM},
    {"GET", "If-Modified-Since: " D_T_M1000 "\nX: y", 200, STORED, NM},
    {"HEAD", "If-Modified-Since: " D_T, 200, STORED, NM},
    {"GET", "If-Modified-Since: Sun, 06 Nov 1994 08:32:56 GMT", 200, STORED, NONE},
    {"GET", "If-Modified-Since: yesterday", 200, STORED, NONE},
    {"GET", "If-Modified-Since: " D_T "\nIf-Modified-Since: " D_T_M50, 200, STORED, NONE},
    {"OPTIONS", "If-Modified-Since: " D_T, 200, STORED, NONE},
    /* no Last-Modified: the stored Date stands in */
    {"GET", "If-Modified-Since: " D_T, 200, "Date: " D_T, NM},
    {"GET", "If-Modified-Since: " D_T_M50, 200, "Date: " D_T, NONE},
    /* If-Match (strong) and If-Unmodified-Since */
    {"GET", "If-Match: \"v1\"", 200, STORED, NONE},
    {"GET", "If-Match: \"v2\"", 200, STORED, PF},
    {"GET", "If-Match: W/\"v1\"", 200, STORED, PF},
    {"GET", "If-Match: *", 200, STORED, NONE},
    {"GET", "If-Match: \"v1\"\nIf-None-Match: \"v1\"", 200, STORED, NM},
    {"GET", "If-Unmodified-Since: " D_T_M50, 200, STORED, NONE},
    {"GET", "If-Unmodified-Since: Sun, 06 Nov 1994 08:32:56 GMT", 200, STORED, PF},
    {"GET", "If-Unmodified-Since: Sun, 06 Nov 1994 08:32:56 GMT", 200, "ETag: \"v1\"", NONE},
    {"GET", "If-Match: \"v1\"\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:32:56 GMT", 200,
     STORED, NONE},                                                  /* If-Match wins */
    /* only for 2xx stored responses */
    {"GET", "If-None-Match: *", 404, STORED, NONE},
    {"GET", "If-Modified-Since: " D_T, 301, STORED, NONE},
    {"GET", "If-None-Match: \"v1\"", 203, STORED, NM},
};

static void test_conditional(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cond_cases); i++) {
        const struct cond_case *c = &cond_cases[i];
        struct msg mq, ms;
        struct larder_cc cc;
        struct larder_freshness f;
        const struct larder_http_head *stored = mk_resp(&ms, c->status, c->stored);

        larder_freshness_cc_response(stored, &cc);
        larder_freshness_init(&f, stored, &cc, T + 5, T + 5, 0);
        CHECK_INT(i, c->req,
                  larder_freshness_conditional(mk_req(&mq, c->method, c->req), stored, &f),
                  c->want);
    }
}

static void test_conditional_received_time(void **state)
{
    struct msg mq, ms;
    struct larder_cc cc;
    struct larder_freshness f;
    const struct larder_http_head *stored = mk_resp(&ms, 200, "Cache-Control: max-age=60");

    (void)state;
    /* neither Last-Modified nor Date: the time the response was received */
    larder_freshness_cc_response(stored, &cc);
    larder_freshness_init(&f, stored, &cc, T, T, 0);
    assert_int_equal(larder_freshness_conditional(
                         mk_req(&mq, "GET", "If-Modified-Since: " D_T), stored, &f),
                     LARDER_COND_NOT_MODIFIED);
    larder_freshness_init(&f, stored, &cc, T + 1, T + 1, 0);
    assert_int_equal(larder_freshness_conditional(
                         mk_req(&mq, "GET", "If-Modified-Since: " D_T), stored, &f),
                     LARDER_COND_NONE);
}

/* ---- Vary ---------------------------------------------------------------- */

static void test_vary_list(void **state)
{
    struct msg m;
    char buf[64];
    size_t len;

    (void)state;
    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "Vary: Accept-Encoding\n"
                                                                 "X: y\n"
                                                                 "vary: accept-encoding, Accept-Language"),
                                                buf, sizeof(buf), &len), 0);
    assert_string_equal(buf, "accept-encoding,accept-language");
    assert_int_equal(len, strlen("accept-encoding,accept-language"));

    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "X: y"), buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");

    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "Vary: *"), buf, sizeof(buf), &len), -1);
    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "Vary: a\nVary: b, *"), buf,
                                                sizeof(buf), &len), -1);
    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "Vary: a b"), buf, sizeof(buf),
                                                &len), -1);

    /* truncation is reported through the length */
    assert_int_equal(larder_freshness_vary_list(mk_resp(&m, 200, "Vary: Accept-Encoding"), buf, 7,
                                                &len), 0);
    assert_int_equal(len, 15);
    assert_string_equal(buf, "accept");
}

struct vary_key_case {
    const char *vary;
    const char *req;
    int rc;
    const char *key;
};

static const struct vary_key_case vary_key_cases[] = {
    {"accept-encoding", "Accept-Encoding: gzip, deflate", 0, "accept-encoding:gzip,deflate\n"},
    {"accept-encoding", "Accept-Encoding:  gzip ,deflate  ", 0, "accept-encoding:gzip,deflate\n"},
    {"accept-encoding", "Accept-Encoding: gzip\nAccept-Encoding: deflate", 0,
     "accept-encoding:gzip,deflate\n"},
    {"accept-encoding", "Accept-Encoding: gzip,\nAccept-Encoding: , deflate", 0,
     "accept-encoding:gzip,deflate\n"},
    {"accept-encoding", "", 0, "accept-encoding\n"},                     /* absent */
    {"accept-encoding", "Accept-Encoding:", 0, "accept-encoding:\n"},    /* present, empty */
    {"Accept-Encoding", "accept-encoding: br", 0, "accept-encoding:br\n"},
    {"accept-language, accept-encoding", "Accept-Encoding: br\nAccept-Language: en",
     0, "accept-language:en\naccept-encoding:br\n"},
    {"accept", "Accept: text/html;  q=0.9,\t*/*", 0, "accept:text/html; q=0.9,*/*\n"},
    {"x", "X: \"a ,  b\" , c", 0, "x:\"a ,  b\",c\n"},                  /* quotes kept whole */
    {"x", "X: \"a\\\" ,b\", c", 0, "x:\"a\\\" ,b\",c\n"},                /* escaped quote */
    {"x", "X: a,,b, ,c", 0, "x:a,b,c\n"},                                /* empty members */
    {"x", "X: , a", 0, "x:a\n"},
    {"x", "X:\nX: a", 0, "x:a\n"},                                       /* empty first line */
    {"x", "X: a\nX:", 0, "x:a\n"},
    {"x", "X: GZIP", 0, "x:GZIP\n"},                                     /* values keep case */
    {"", "X: y", 0, ""},
    {"*", "X: y", -1, NULL},
    {"x, *", "X: y", -1, NULL},
    {"a b", "X: y", -1, NULL},
};

static void test_vary_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(vary_key_cases); i++) {
        const struct vary_key_case *c = &vary_key_cases[i];
        struct msg m;
        char buf[128];
        size_t len;
        int rc = larder_freshness_vary_key(c->vary, strlen(c->vary), mk_req(&m, "GET", c->req),
                                           buf, sizeof(buf), &len);

        CHECK_INT(i, c->req, rc, c->rc);
        if (c->key != NULL) {
            CHECK_STR(i, c->req, buf, c->key);
            CHECK_INT(i, c->req, len, strlen(c->key));
        }
    }
}

static void test_vary_key_truncated(void **state)
{
    struct msg m;
    char buf[8];
    size_t len;

    (void)state;
    assert_int_equal(larder_freshness_vary_key("accept-encoding", 15,
                                               mk_req(&m, "GET", "Accept-Encoding: gzip"), buf,
                                               sizeof(buf), &len), 0);
    assert_int_equal(len, strlen("accept-encoding:gzip\n"));
    assert_string_equal(buf, "accept-");
}

struct vary_match_case {
    const char *vary;
    const char *a, *b;
    int want;
};

static const struct vary_match_case vary_match_cases[] = {
    {"accept-encoding", "Accept-Encoding: gzip, deflate", "accept-encoding: gzip,deflate", 1},
    {"accept-encoding", "Accept-Encoding: gzip, deflate",
     "Accept-Encoding: gzip\nAccept-Encoding: deflate", 1},
    {"accept-encoding", "Accept-Encoding: gzip", "Accept-Encoding: br", 0},
    {"accept-encoding", "Accept-Encoding: gzip", "Accept-Encoding: GZIP", 0},
    {"accept-encoding", "Accept-Encoding: gzip", "Accept-Encoding: gzip, br", 0},
    {"accept-encoding", "Accept-Encoding: gzip", "Accept-Encoding: gzi", 0},
    {"accept-encoding", "", "Accept-Encoding:", 0},           /* absent vs present-empty */
    {"accept-encoding", "", "X: y", 1},                        /* both absent */
    {"ACCEPT-ENCODING", "accept-encoding: a", "Accept-Encoding: a", 1},
    {"a, b", "A: 1\nB: 2", "B: 2\nA: 1", 1},
    {"a, b", "A: 1\nB: 2", "A: 1\nB: 3", 0},
    {"x", "X: \"a  b\"", "X: \"a b\"", 0},                     /* inside quotes: exact */
    {"x", "X: a  b", "X: a b", 1},                             /* outside: folded */
    {"", "A: 1", "A: 2", 1},
    {"*", "", "", 0},
};

static void test_vary_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(vary_match_cases); i++) {
        const struct vary_match_case *c = &vary_match_cases[i];
        struct msg ma, mb;
        const struct larder_http_head *a = mk_req(&ma, "GET", c->a);
        const struct larder_http_head *b = mk_req(&mb, "GET", c->b);
        char ka[256], kb[256];
        size_t la = 0, lb = 0;
        /* two requests select the same variant iff their keys are equal;
         * "*" has no key and matches nothing */
        int ra = larder_freshness_vary_key(c->vary, strlen(c->vary), a, ka, sizeof(ka), &la);
        int rb = larder_freshness_vary_key(c->vary, strlen(c->vary), b, kb, sizeof(kb), &lb);

        CHECK_INT(i, c->a, ra == 0 && rb == 0 && la == lb && memcmp(ka, kb, la) == 0, c->want);
    }
}

/* ---- invalidation -------------------------------------------------------- */

struct inval_case {
    const char *method;
    int status;
    const char *resp;
    int want;
    const char *location, *content_location;
};

static const struct inval_case inval_cases[] = {
    {"POST", 200, "", 1, NULL, NULL},
    {"PUT", 201, "Location: /new", 1, "/new", NULL},
    {"DELETE", 204, "Content-Location: http://h/x", 1, NULL, "http://h/x"},
    {"PATCH", 302, "Location: /a\nContent-Location: /b", 1, "/a", "/b"},
    {"POST", 303, "Location: /a\nLocation: /b", 1, NULL, NULL},
    {"POST", 200, "Location: /a\nLocation: /a", 1, "/a", NULL},
    {"PURGE", 200, "", 1, NULL, NULL},              /* unknown methods are unsafe */
    {"get", 200, "", 1, NULL, NULL},                /* methods are case-sensitive */
    {"POST", 399, "", 1, NULL, NULL},
    {"POST", 404, "Location: /a", 0, NULL, NULL},
    {"POST", 500, "", 0, NULL, NULL},
    {"POST", 100, "", 0, NULL, NULL},
    {"POST", 199, "", 0, NULL, NULL},
    {"GET", 200, "Location: /a", 0, NULL, NULL},
    {"HEAD", 200, "", 0, NULL, NULL},
    {"OPTIONS", 200, "", 0, NULL, NULL},
    {"TRACE", 200, "", 0, NULL, NULL},
    {"CONNECT", 200, "", 0, NULL, NULL},
};

static void test_invalidation(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(inval_cases); i++) {
        const struct inval_case *c = &inval_cases[i];
        struct msg mq, mr;
        struct larder_invalidation inv;
        char loc[64] = "", cloc[64] = "";
        int got;

        memset(&inv, 0x5a, sizeof(inv));
        got = larder_freshness_invalidation(mk_req(&mq, c->method, ""),
                                            mk_resp(&mr, c->status, c->resp), &inv);
        CHECK_INT(i, c->method, got, c->want);
        if (inv.location != NULL)
            snprintf(loc, sizeof(loc), "%.*s", (int)inv.location_len, inv.location);
        if (inv.content_location != NULL)
            snprintf(cloc, sizeof(cloc), "%.*s", (int)inv.content_location_len,
                     inv.content_location);
        CHECK_STR(i, c->method, inv.location != NULL ? loc : NULL, c->location);
        CHECK_STR(i, c->method, inv.content_location != NULL ? cloc : NULL, c->content_location);
    }
    assert_true(larder_freshness_method_is_safe("GET", 3));
    assert_false(larder_freshness_method_is_safe("GETX", 4));
    assert_false(larder_freshness_method_is_safe("GE", 2));
}

/* ---- Cache-Status -------------------------------------------------------- */

struct cs_case {
    struct larder_cache_status cs;
    const char *name;
    const char *want;
    const char *outcome;
};

static const struct cs_case cs_cases[] = {
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, "larder", "larder; hit", "HIT"},
    {{LARDER_CS_HIT, 0, 1, 42, 0, 0}, "larder", "larder; hit; ttl=42", "HIT"},
    {{LARDER_CS_HIT_STALE, 0, 1, -5, 0, 0}, "larder", "larder; hit; ttl=-5; detail=stale",
     "STALE"},
    {{LARDER_CS_HIT_STALE, 0, 0, 0, 0, 0}, "larder", "larder; hit; detail=stale", "STALE"},
    {{LARDER_CS_URI_MISS, 200, 0, 0, 1, 0}, "larder",
     "larder; fwd=uri-miss; fwd-status=200; stored", "MISS"},
    {{LARDER_CS_URI_MISS, 0, 0, 0, 1, 0}, "larder", "larder; fwd=uri-miss; stored", "MISS"},
    {{LARDER_CS_MISS, 0, 0, 0, 1, 0}, "larder", "larder; fwd=miss; stored", "MISS"},
    {{LARDER_CS_VARY_MISS, 0, 0, 0, 0, 0}, "larder", "larder; fwd=vary-miss", "MISS"},
    {{LARDER_CS_STALE, 304, 0, 0, 0, 0}, "larder", "larder; fwd=stale; fwd-status=304",
     "REVALIDATED"},
    {{LARDER_CS_STALE, 304, 1, 60, 0, 0}, "larder", "larder; fwd=stale; fwd-status=304; ttl=60",
     "REVALIDATED"},
    {{LARDER_CS_STALE, 200, 1, 60, 1, 0}, "larder",
     "larder; fwd=stale; fwd-status=200; ttl=60; stored", "REFRESHED"},
    {{LARDER_CS_REQUEST, 304, 0, 0, 0, 0}, "larder", "larder; fwd=request; fwd-status=304",
     "REVALIDATED"},
    {{LARDER_CS_REQUEST, 200, 0, 0, 0, 0}, "larder", "larder; fwd=request; fwd-status=200",
     "REFRESHED"},
    {{LARDER_CS_BYPASS, 0, 0, 0, 0, 0}, "larder", "larder; fwd=bypass", "PASS"},
    {{LARDER_CS_METHOD, 201, 0, 0, 0, 0}, "larder", "larder; fwd=method; fwd-status=201", "PASS"},
    {{LARDER_CS_STALE_ON_ERROR, 503, 1, -30, 0, 0}, "larder",
     "larder; fwd=stale; fwd-status=503; ttl=-30; detail=stale", "STALE_ERROR"},
    {{LARDER_CS_STALE_ON_ERROR, 0, 0, 0, 0, 0}, "larder", "larder; fwd=stale; detail=stale",
     "STALE_ERROR"},
    {{LARDER_CS_UNAVAILABLE, 0, 0, 0, 0, 0}, "larder", "larder; detail=only-if-cached",
     "UNAVAILABLE"},
    {{LARDER_CS_URI_MISS, 200, 0, 0, 0, 1}, "larder", "larder; fwd=uri-miss; fwd-status=200; collapsed",
     "MISS"},
    {{LARDER_CS_HIT, 0, 1, INT64_MAX, 0, 0}, "larder", "larder; hit; ttl=999999999999999", "HIT"},
    {{LARDER_CS_HIT, 0, 1, INT64_MIN, 0, 0}, "larder", "larder; hit; ttl=-999999999999999", "HIT"},
    /* the cache's name: a token when it can be, else a string */
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, "proxy.example.net:3128", "proxy.example.net:3128; hit", "HIT"},
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, "1proxy", "\"1proxy\"; hit", "HIT"},
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, "a \"b\\", "\"a \\\"b\\\\\"; hit", "HIT"},
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, "", "larder; hit", "HIT"},
    {{LARDER_CS_HIT, 0, 0, 0, 0, 0}, NULL, "larder; hit", "HIT"},
};

static void test_cache_status(void **state)
{
    struct larder_cache_status bad = {LARDER_CS_KIND_COUNT, 0, 0, 0, 0, 0};
    char buf[128];

    (void)state;
    for (size_t i = 0; i < N(cs_cases); i++) {
        const struct cs_case *c = &cs_cases[i];
        size_t len = larder_freshness_cache_status(&c->cs, c->name, buf, sizeof(buf));
        CHECK_STR(i, c->want, buf, c->want);
        CHECK_INT(i, c->want, len, strlen(c->want));
        CHECK_STR(i, c->want, larder_freshness_outcome_name(&c->cs), c->outcome);
    }
    /* truncation: the full length is returned, the buffer stays terminated */
    assert_int_equal(larder_freshness_cache_status(&cs_cases[4].cs, "larder", buf, 8),
                     strlen(cs_cases[4].want));
    assert_string_equal(buf, "larder;");
    assert_int_equal(larder_freshness_cache_status(&cs_cases[4].cs, "larder", NULL, 0),
                     strlen(cs_cases[4].want));
    assert_string_equal(larder_freshness_outcome_name(&bad), "?");
}

/* ---- one request through the whole flow ---------------------------------- */

static void test_flow(void **state)
{
    struct msg mq, mr, mq2, mq3;
    struct larder_cc qcc, rcc;
    struct larder_freshness f;
    struct larder_cache_status cs = {LARDER_CS_HIT, 0, 1, 0, 0, 0};
    char vary[64], key[128], key2[128], hdr[64];
    size_t vlen, klen, klen2;
    const struct larder_http_head *req = mk_req(&mq, "GET", "Accept-Encoding: gzip, br");
    const struct larder_http_head *resp = mk_resp(
        &mr, 200,
        "Date: " D_T "\nCache-Control: max-age=60\nETag: \"v1\"\nVary: Accept-Encoding");
    const struct larder_http_head *req2;

    (void)state;
    larder_freshness_cc_request(req, &qcc);
    larder_freshness_cc_response(resp, &rcc);
    assert_null(larder_freshness_storable(req, &qcc, resp, &rcc));
    larder_freshness_init(&f, resp, &rcc, T, T, 3600);
    assert_int_equal(larder_freshness_vary_list(resp, vary, sizeof(vary), &vlen), 0);
    assert_int_equal(larder_freshness_vary_key(vary, vlen, req, key, sizeof(key), &klen), 0);

    /* a later request with other spacing selects the same variant */
    req2 = mk_req(&mq2, "GET", "accept-encoding: gzip,br\nIf-None-Match: \"v1\"");
    assert_int_equal(larder_freshness_vary_key(vary, vlen, req2, key2, sizeof(key2), &klen2), 0);
    assert_int_equal(klen, klen2);
    assert_memory_equal(key, key2, klen);
    larder_freshness_cc_request(req2, &qcc);
    assert_int_equal(larder_freshness_decide(&f, &qcc, T + 30), LARDER_SERVE_FRESH);
    assert_int_equal(larder_freshness_conditional(req2, resp, &f), LARDER_COND_NOT_MODIFIED);
    cs.ttl = larder_freshness_ttl(&f, T + 30);
    larder_freshness_cache_status(&cs, "larder", hdr, sizeof(hdr));
    assert_string_equal(hdr, "larder; hit; ttl=30");
    assert_int_equal(larder_freshness_age(&f, T + 30), 30);

    /* another encoding is another variant */
    {
        char key3[128];
        size_t klen3;
        assert_int_equal(larder_freshness_vary_key(vary, vlen,
                                                   mk_req(&mq3, "GET", "Accept-Encoding: identity"),
                                                   key3, sizeof(key3), &klen3), 0);
        assert_false(klen3 == klen && memcmp(key3, key, klen) == 0);
    }
    /* after 60 s it must be revalidated */
    assert_int_equal(larder_freshness_decide(&f, &qcc, T + 60), LARDER_SERVE_REVALIDATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cc_parse),
        cmocka_unit_test(test_cc_heads),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_storable),
        cmocka_unit_test(test_age_calculation),
        cmocka_unit_test(test_fresh_boundary),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_decide_pragma),
        cmocka_unit_test(test_stale_on_error),
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_304_matches),
        cmocka_unit_test(test_304_replaces),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_conditional),
        cmocka_unit_test(test_conditional_received_time),
        cmocka_unit_test(test_vary_list),
        cmocka_unit_test(test_vary_key),
        cmocka_unit_test(test_vary_key_truncated),
        cmocka_unit_test(test_vary_match),
        cmocka_unit_test(test_invalidation),
        cmocka_unit_test(test_cache_status),
        cmocka_unit_test(test_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
