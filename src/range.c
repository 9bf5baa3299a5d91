/* SPDX-License-Identifier: MIT */
/* range.c - the Range and If-Range request fields (RFC 9110 14.2, 13.1.5)
 * against a stored response: pure functions, no I/O. */
#include "larder/range.h"

#include <string.h>
#include <strings.h>

#include "larder/freshness.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads 1*DIGIT at s[*i]; -1 for none or more than fits. */
static int read_digits(const char *s, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        (*i)++;
    }
    if (*i == start)
        return -1;
    *out = v;
    return 0;
}

enum larder_range_result larder_range_parse(const char *s, size_t len, uint64_t size,
                                            uint64_t *first, uint64_t *last)
{
    size_t i = 0;
    uint64_t a = 0, b = 0;
    int has_first, has_last;

    while (len > 0 && is_ows(s[len - 1]))
        len--;
    while (i < len && is_ows(s[i]))
        i++;
    if (len - i < 6 || strncasecmp(s + i, "bytes=", 6) != 0)
        return LARDER_RANGE_WHOLE;
    i += 6;
    while (i < len && is_ows(s[i]))
        i++;
    if (memchr(s + i, ',', len - i) != NULL)
        return LARDER_RANGE_WHOLE; /* several ranges: the whole body answers them */
    has_first = i < len && s[i] != '-';
    if (has_first && read_digits(s, len, &i, &a) != 0)
        return LARDER_RANGE_WHOLE;
    if (i >= len || s[i] != '-')
        return LARDER_RANGE_WHOLE;
    i++;
    has_last = i < len;
    if (has_last && read_digits(s, len, &i, &b) != 0)
        return LARDER_RANGE_WHOLE;
    if (i != len || (!has_first && !has_last))
        return LARDER_RANGE_WHOLE;
    if (!has_first) {                     /* the last b bytes */
        if (b == 0 || size == 0)
            return LARDER_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return LARDER_RANGE_ONE;
    }
    if (has_last && b < a)
        return LARDER_RANGE_WHOLE;        /* invalid: ignored */
    if (a >= size)
        return LARDER_RANGE_UNSATISFIABLE;
    *first = a;
    *last = !has_last || b >= size ? size - 1 : b;
    return LARDER_RANGE_ONE;
}

int larder_range_if_range_holds(const char *v, size_t len, const struct larder_http_head *stored,
                                int64_t now)
{
    int i, k;

    while (len > 0 && is_ows(v[len - 1]))
        len--;
    while (len > 0 && is_ows(v[0]))
        v++, len--;
    if (len > 0 && (v[0] == '"' || (len > 1 && v[0] == 'W' && v[1] == '/'))) {
        /* an entity-tag: strong comparison, so a weak one never matches */
        if (v[0] == 'W')
            return 0;
        i = larder_http_find(stored, "etag", 0);
        return i >= 0 && stored->fields[i].value_len == len &&
               memcmp(stored->fields[i].value, v, len) == 0;
    }
    i = larder_http_find(stored, "last-modified", 0);
    k = larder_http_find(stored, "date", 0);
    if (i < 0 || k < 0)
        return 0;
    {
        int64_t want = larder_freshness_date_parse(v, len, now);
        int64_t have = larder_freshness_date_parse(stored->fields[i].value,
                                                   stored->fields[i].value_len, now);
        int64_t date = larder_freshness_date_parse(stored->fields[k].value,
                                                   stored->fields[k].value_len, now);
        /* a date is a strong validator only if the response was sent at
         * least a second after it (RFC 9110 8.8.2.2): a change within
         * that second would not show */
        return want >= 0 && have >= 0 && want == have && date >= have + 1;
    }
}
