/* SPDX-License-Identifier: MIT */
/* fuzz_date.c - libFuzzer target: any bytes parse to -1 or a valid time that
 * formats and parses back to itself, and any time formats to a date that all
 * three HTTP date formats read back exactly. */
/* fuzz-sources: src/freshness.c src/http_parse.c src/url.c src/util.c */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "larder/freshness.h"

#define LAST_FORMATTABLE INT64_C(253402300799) /* 9999-12-31 23:59:59 */

/* "now" values for two-digit years: the epoch, 2001, 2023, 2100, 9000 */
static const int64_t nows[] = {
    0, INT64_C(1000000000), INT64_C(1700000000), INT64_C(4102444800), INT64_C(221845392000),
};
#define NNOWS (sizeof(nows) / sizeof(nows[0]))

static const char *const long_days[7] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

static void die(const char *what, const char *text, size_t len, int64_t a, int64_t b)
{
    fprintf(stderr, "fuzz_date: %s: \"%.*s\" (%lld vs %lld)\n", what, (int)len, text,
            (long long)a, (long long)b);
    abort();
}

/* Parses s[0..len) from an exactly-sized copy, so ASan catches over-reads. */
static int64_t parse(const char *s, size_t len, int64_t now)
{
    char *c = malloc(len ? len : 1);
    int64_t t;

    if (c == NULL)
        abort();
    if (len > 0)
        memcpy(c, s, len);
    t = larder_freshness_date_parse(c, len, now);
    free(c);
    return t;
}

/* The IMF-fixdate for <t> must read back as <t> in every format and case. */
static void round_trip(int64_t t)
{
    char imf[LARDER_HTTP_DATE_LEN + 1], alt[64];
    int64_t clamped = t < 0 ? 0 : t > LAST_FORMATTABLE ? LAST_FORMATTABLE : t;
    int64_t back;
    int n, day = -1, i;

    larder_freshness_date_format(t, imf);
    if (strlen(imf) != LARDER_HTTP_DATE_LEN || imf[3] != ',' ||
        memcmp(imf + LARDER_HTTP_DATE_LEN - 4, " GMT", 4) != 0)
        die("formatted date has the wrong shape", imf, strlen(imf), t, 0);
    back = parse(imf, LARDER_HTTP_DATE_LEN, clamped);
    if (back != clamped)
        die("IMF-fixdate round trip", imf, LARDER_HTTP_DATE_LEN, back, clamped);

    /* names and GMT in another case */
    for (i = 0; i < LARDER_HTTP_DATE_LEN; i++)
        alt[i] = (char)(i % 2 ? toupper((unsigned char)imf[i]) : tolower((unsigned char)imf[i]));
    back = parse(alt, LARDER_HTTP_DATE_LEN, clamped);
    if (back != clamped)
        die("IMF-fixdate in mixed case", alt, LARDER_HTTP_DATE_LEN, back, clamped);

    /* asctime: "Sun Nov  6 08:49:37 1994" */
    n = snprintf(alt, sizeof alt, "%.3s %.3s %2d %.8s %.4s", imf, imf + 8,
                 atoi(imf + 5), imf + 17, imf + 12);
    back = parse(alt, (size_t)n, clamped);
    if (back != clamped)
        die("asctime round trip", alt, (size_t)n, back, clamped);

    /* RFC 850 with "now" in the same year: "Sunday, 06-Nov-94 08:49:37 GMT" */
    for (i = 0; i < 7; i++)
        if (strncmp(long_days[i], imf, 3) == 0)
            day = i;
    if (day < 0)
        die("formatted day name unknown", imf, LARDER_HTTP_DATE_LEN, t, 0);
    n = snprintf(alt, sizeof alt, "%s, %.2s-%.3s-%.2s %.8s GMT", long_days[day], imf + 5,
                 imf + 8, imf + 14, imf + 17);
    back = parse(alt, (size_t)n, clamped);
    if (back != clamped)
        die("RFC 850 round trip", alt, (size_t)n, back, clamped);

    /* one byte more or less is never the same date */
    if (parse(imf, LARDER_HTTP_DATE_LEN - 1, clamped) != -1)
        die("a truncated date parsed", imf, LARDER_HTTP_DATE_LEN - 1, 0, 0);
    memcpy(alt, imf, LARDER_HTTP_DATE_LEN);
    alt[LARDER_HTTP_DATE_LEN] = ' ';
    if (parse(alt, LARDER_HTTP_DATE_LEN + 1, clamped) != -1)
        die("a date with a trailing byte parsed", alt, LARDER_HTTP_DATE_LEN + 1, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t k;

    if (size > 256)
        return 0;
    for (k = 0; k < NNOWS; k++) {
        int64_t t = parse(s, size, nows[k]);

        if (t == -1)
            continue;
        /* 9999-12-31 23:59:60, a leap second, is the one second past the end */
        if (t < 0 || t > LAST_FORMATTABLE + 1)
            die("parsed time out of range", s, size, t, nows[k]);
        /* IMF-fixdate is 29 bytes, asctime 24, RFC 850 30 to 33 (day names) */
        if (size != 24 && size != 29 && !(size >= 30 && size <= 33))
            die("a date of an impossible length parsed", s, size, t, nows[k]);
        round_trip(t);
    }
    /* the input's first 8 bytes as a time: format, then parse back */
    if (size >= 8) {
        uint64_t u = 0;

        for (k = 0; k < 8; k++)
            u = (u << 8) | data[k];
        round_trip((int64_t)(u % (uint64_t)(LAST_FORMATTABLE + 2)) - 1);
    }
    return 0;
}
