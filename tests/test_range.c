/* SPDX-License-Identifier: MIT */
/* test_range.c - the Range and If-Range rules (src/range.c), value by
 * value: single ranges clipped to the body, what is unsatisfiable, what
 * is ignored (the whole body answers), and If-Range's strong comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "larder/range.h"

static void test_range_parse(void **state)
{
    static const struct {
        const char *v;
        uint64_t size;
        enum larder_range_result want;
        uint64_t first, last;
    } cases[] = {
        { "bytes=0-9", 100, LARDER_RANGE_ONE, 0, 9 },
        { "bytes=10-19", 100, LARDER_RANGE_ONE, 10, 19 },
        { "BYTES=10-19", 100, LARDER_RANGE_ONE, 10, 19 },       /* unit: any case */
        { " bytes=10-19 ", 100, LARDER_RANGE_ONE, 10, 19 },
        { "bytes= 10-19", 100, LARDER_RANGE_ONE, 10, 19 },
        { "bytes=90-", 100, LARDER_RANGE_ONE, 90, 99 },
        { "bytes=90-1000", 100, LARDER_RANGE_ONE, 90, 99 },     /* clipped */
        { "bytes=99-99", 100, LARDER_RANGE_ONE, 99, 99 },
        { "bytes=0-", 100, LARDER_RANGE_ONE, 0, 99 },
        { "bytes=-10", 100, LARDER_RANGE_ONE, 90, 99 },          /* the last 10 */
        { "bytes=-1000", 100, LARDER_RANGE_ONE, 0, 99 },
        { "bytes=-1", 1, LARDER_RANGE_ONE, 0, 0 },
        { "bytes=00010-00019", 100, LARDER_RANGE_ONE, 10, 19 },
        { "bytes=100-", 100, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=100-200", 100, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-0", 100, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=0-0", 0, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-5", 0, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        /* ignored: the whole body answers */
        { "bytes=19-10", 100, LARDER_RANGE_WHOLE, 0, 0 },        /* last < first */
        { "bytes=0-1,5-6", 100, LARDER_RANGE_WHOLE, 0, 0 },      /* several */
        { "bytes=0-1, 200-300", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "items=0-1", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes 0-1", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=-", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=a-b", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=1-2x", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=+1-2", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=1 - 2", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=0x10-0x20", 100, LARDER_RANGE_WHOLE, 0, 0 },
        { "bytes=99999999999999999999-", 100, LARDER_RANGE_WHOLE, 0, 0 }, /* overflow */
        { "bytes=18446744073709551615-", 100, LARDER_RANGE_UNSATISFIABLE, 0, 0 },
        { "", 100, LARDER_RANGE_WHOLE, 0, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t first = 0, last = 0;
        enum larder_range_result got =
            larder_range_parse(cases[i].v, strlen(cases[i].v), cases[i].size, &first, &last);

        if (got != cases[i].want ||
            (got == LARDER_RANGE_ONE && (first != cases[i].first || last != cases[i].last)))
            fail_msg("\"%s\" of %llu bytes: got %d %llu-%llu, want %d %llu-%llu", cases[i].v,
                     (unsigned long long)cases[i].size, got, (unsigned long long)first,
                     (unsigned long long)last, cases[i].want,
                     (unsigned long long)cases[i].first, (unsigned long long)cases[i].last);
    }
}

/* A stored head with the given ETag and Last-Modified lines (NULL: none)
 * and a Date a minute after that Last-Modified. */
struct stored {
    struct larder_http_field f[3];
    struct larder_http_head h;
};

static const struct larder_http_head *stored_head(struct stored *s, const char *etag,
                                                  const char *lm)
{
    memset(s, 0, sizeof(*s));
    s->h.fields = s->f;
    s->h.fields_cap = 3;
    s->f[s->h.nfields].name = "Date";
    s->f[s->h.nfields].name_len = 4;
    s->f[s->h.nfields].value = "Sun, 06 Nov 1994 08:50:37 GMT";
    s->f[s->h.nfields++].value_len = 29;
    if (etag != NULL) {
        s->f[s->h.nfields].name = "ETag";
        s->f[s->h.nfields].name_len = 4;
        s->f[s->h.nfields].value = etag;
        s->f[s->h.nfields++].value_len = strlen(etag);
    }
    if (lm != NULL) {
        s->f[s->h.nfields].name = "Last-Modified";
        s->f[s->h.nfields].name_len = 13;
        s->f[s->h.nfields].value = lm;
        s->f[s->h.nfields++].value_len = strlen(lm);
    }
    return &s->h;
}

static void test_if_range(void **state)
{
    static const char lm[] = "Sun, 06 Nov 1994 08:49:37 GMT";
    static const struct {
        const char *value, *etag, *lm;
        int want;
    } cases[] = {
        { "\"v1\"", "\"v1\"", NULL, 1 },
        { " \"v1\" ", "\"v1\"", NULL, 1 },
        { "\"v2\"", "\"v1\"", NULL, 0 },
        { "\"v1\"", NULL, lm, 0 },            /* no stored ETag */
        { "W/\"v1\"", "W/\"v1\"", NULL, 0 },  /* weak never matches (strong comparison) */
        { "\"v1\"", "W/\"v1\"", NULL, 0 },
        { "W/\"v1\"", "\"v1\"", NULL, 0 },
        { lm, "\"v1\"", lm, 1 },
        { "Sunday, 06-Nov-94 08:49:37 GMT", NULL, lm, 1 }, /* the same date, RFC 850 */
        { "Sun Nov  6 08:49:37 1994", NULL, lm, 1 },       /* asctime */
        { "Sun, 06 Nov 1994 08:49:38 GMT", NULL, lm, 0 },
        { lm, "\"v1\"", NULL, 0 },            /* no stored Last-Modified */
        { "yesterday", NULL, lm, 0 },
        { "", "\"v1\"", lm, 0 },
    };
    /* a Last-Modified less than a second older than the Date is weak */
    static const char same_second[] = "Sun, 06 Nov 1994 08:50:37 GMT";

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stored s;
        const struct larder_http_head *h = stored_head(&s, cases[i].etag, cases[i].lm);
        int got = larder_range_if_range_holds(cases[i].value, strlen(cases[i].value), h,
                                              (int64_t)1700000000);

        if (got != cases[i].want)
            fail_msg("If-Range %s against ETag %s, Last-Modified %s: got %d", cases[i].value,
                     cases[i].etag ? cases[i].etag : "-", cases[i].lm ? cases[i].lm : "-", got);
    }
    {
        struct stored s;
        const struct larder_http_head *h = stored_head(&s, NULL, same_second);
        assert_false(larder_range_if_range_holds(same_second, strlen(same_second), h,
                                                 (int64_t)1700000000));
        s.h.nfields = 1;          /* Last-Modified only, no Date: not strong either */
        s.f[0] = s.f[1];
        assert_false(larder_range_if_range_holds(same_second, strlen(same_second), &s.h,
                                                 (int64_t)1700000000));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_if_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
