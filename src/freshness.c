/* SPDX-License-Identifier: MIT */
/* freshness.c - pure RFC 9111 decisions: what is stored, how fresh it is,
 * when it is served, revalidated or invalidated, and how that is reported. */
#include "larder/freshness.h"

#include <string.h>
#include <strings.h>

#include "larder/http_parse.h"

/* ---- small helpers ------------------------------------------------------- */

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && strncasecmp(a, b, blen) == 0;
}

static int eq_exact(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && memcmp(a, b, blen) == 0;
}

static int name_is(const struct larder_http_field *f, const char *name, size_t len)
{
    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ows((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ows((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* a + b for values of either sign, saturating instead of overflowing */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    if (b == INT64_MIN)
        return a >= 0 ? INT64_MAX : a - b; /* a - MIN fits when a < 0 */
    return sat_add(a, -b);
}

/* Parses 1*DIGIT, clamping at LARDER_DELTA_MAX. Returns -1 when invalid. */
static int64_t parse_delta(const char *s, size_t len)
{
    int64_t v = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        if (v < LARDER_DELTA_MAX)
            v = v * 10 + (s[i] - '0');
    }
    return min64(v, LARDER_DELTA_MAX);
}

/* How the lines of one field agree: 0 when the field is absent, 1 when
 * present once (or on several lines with byte-identical values; *v points
 * to the first), -1 when the lines differ. */
static int single_field(const struct larder_http_head *h, const char *name,
                        const char **v, size_t *vlen)
{
    int n = 0;

    *v = NULL;
    *vlen = 0;
    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (!larder_http_field_is(f, name))
            continue;
        if (n == 0) {
            *v = f->value;
            *vlen = f->value_len;
            n = 1;
        } else if (f->value_len != *vlen || memcmp(f->value, *v, *vlen) != 0) {
            return -1;
        }
    }
    return n;
}

static int has_field(const struct larder_http_head *h, const char *name)
{
    return larder_http_find(h, name, 0) >= 0;
}

/* ---- Cache-Control ------------------------------------------------------- */

void larder_freshness_cc_init(struct larder_cc *cc)
{
    cc->max_age = LARDER_CC_ABSENT;
    cc->s_maxage = LARDER_CC_ABSENT;
    cc->max_stale = LARDER_CC_ABSENT;
    cc->min_fresh = LARDER_CC_ABSENT;
    cc->stale_while_revalidate = LARDER_CC_ABSENT;
    cc->stale_if_error = LARDER_CC_ABSENT;
    cc->flags = 0;
}

/* max-age, s-maxage: invalid or conflicting means 0, i.e. stale
 * (RFC 9111 section 4.2.1 lets us choose "stale" over "first"). */
static void set_strict(struct larder_cc *cc, int64_t *slot, int64_t v)
{
    if (v < 0) {
        v = 0;
        cc->flags |= LARDER_CC_F_INVALID;
    }
    if (*slot == LARDER_CC_ABSENT) {
        *slot = v;
    } else if (*slot != v) {
        *slot = 0;
        cc->flags |= LARDER_CC_F_INVALID;
    }
}

/* max-stale, stale-while-revalidate, stale-if-error: these only ever allow
 * more staleness, so an invalid or conflicting value disables them. */
static void set_lax(struct larder_cc *cc, int64_t *slot, int64_t v)
{
    if (v < 0) {
        v = LARDER_CC_IGNORED;
        cc->flags |= LARDER_CC_F_INVALID;
    }
    if (*slot == LARDER_CC_ABSENT) {
        *slot = v;
    } else if (*slot != v) {
        *slot = LARDER_CC_IGNORED;
        cc->flags |= LARDER_CC_F_INVALID;
    }
}

/* min-fresh asks for more freshness: keep the largest valid value. */
static void set_min_fresh(struct larder_cc *cc, int64_t v)
{
    if (v < 0) {
        cc->flags |= LARDER_CC_F_INVALID;
        if (cc->min_fresh == LARDER_CC_ABSENT)
            cc->min_fresh = LARDER_CC_IGNORED;
        return;
    }
    if (cc->min_fresh >= 0 && cc->min_fresh != v)
        cc->flags |= LARDER_CC_F_INVALID;
    cc->min_fresh = max64(cc->min_fresh, v);
}

/* Value of a directive argument as delta-seconds: a token, or a quoted
 * string whose unescaped content is digits. -1 when invalid or missing. */
static int64_t arg_delta(const char *v, size_t len, int has_arg)
{
    char tmp[32];
    size_t n = 0;

    if (!has_arg)
        return -1;
    if (len == 0 || v[0] != '"')
        return parse_delta(v, len);
    if (len < 2 || v[len - 1] != '"')
        return -1;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = v[i];
        if (c == '\\') {
            if (i + 2 >= len)
                return -1;   /* the backslash escapes the closing quote */
            c = v[++i];
        } else if (c == '"') {
            return -1;
        }
        if (n == sizeof(tmp))
            return -1;
        tmp[n++] = c;
    }
    return parse_delta(tmp, n);
}

static int cc_directive(const char *item, size_t len, void *arg)
{
    struct larder_cc *cc = arg;
    const char *name = item, *val = NULL;
    size_t nlen = len, vlen = 0;
    const char *eq = memchr(item, '=', len);
    int has_arg = eq != NULL;

    if (eq != NULL) {
        nlen = (size_t)(eq - item);
        val = eq + 1;
        vlen = len - nlen - 1;
        trim(&name, &nlen);
        trim(&val, &vlen);
    }

    if (eq_nocase(name, nlen, "max-age"))
        set_strict(cc, &cc->max_age, arg_delta(val, vlen, has_arg));
    else if (eq_nocase(name, nlen, "s-maxage"))
        set_strict(cc, &cc->s_maxage, arg_delta(val, vlen, has_arg));
    else if (eq_nocase(name, nlen, "max-stale"))
        set_lax(cc, &cc->max_stale, has_arg ? arg_delta(val, vlen, 1) : LARDER_CC_ANY);
    else if (eq_nocase(name, nlen, "min-fresh"))
        set_min_fresh(cc, arg_delta(val, vlen, has_arg));
    else if (eq_nocase(name, nlen, "stale-while-revalidate"))
        set_lax(cc, &cc->stale_while_revalidate, arg_delta(val, vlen, has_arg));
    else if (eq_nocase(name, nlen, "stale-if-error"))
        set_lax(cc, &cc->stale_if_error, arg_delta(val, vlen, has_arg));
    else if (eq_nocase(name, nlen, "no-cache"))
        cc->flags |= LARDER_CC_F_NO_CACHE | (vlen > 0 ? LARDER_CC_F_FIELD_LIST : 0);
    else if (eq_nocase(name, nlen, "private"))
        cc->flags |= LARDER_CC_F_PRIVATE | (vlen > 0 ? LARDER_CC_F_FIELD_LIST : 0);
    else if (eq_nocase(name, nlen, "no-store"))
        cc->flags |= LARDER_CC_F_NO_STORE;
    else if (eq_nocase(name, nlen, "public"))
        cc->flags |= LARDER_CC_F_PUBLIC;
    else if (eq_nocase(name, nlen, "must-revalidate"))
        cc->flags |= LARDER_CC_F_MUST_REVALIDATE;
    else if (eq_nocase(name, nlen, "proxy-revalidate"))
        cc->flags |= LARDER_CC_F_PROXY_REVALIDATE;
    else if (eq_nocase(name, nlen, "immutable"))
        cc->flags |= LARDER_CC_F_IMMUTABLE;
    else if (eq_nocase(name, nlen, "only-if-cached"))
        cc->flags |= LARDER_CC_F_ONLY_IF_CACHED;
    else if (eq_nocase(name, nlen, "no-transform"))
        cc->flags |= LARDER_CC_F_NO_TRANSFORM;
    else if (eq_nocase(name, nlen, "must-understand"))
        cc->flags |= LARDER_CC_F_MUST_UNDERSTAND;
    /* anything else is an extension we do not implement: ignored */
    return 0;
}

void larder_freshness_cc_add(struct larder_cc *cc, const char *value, size_t len)
{
    cc->flags |= LARDER_CC_F_PRESENT;
    larder_http_list_each(value, len, cc_directive, cc);
}

static void cc_from_head(const struct larder_http_head *h, struct larder_cc *out)
{
    larder_freshness_cc_init(out);
    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (larder_http_field_is(f, "cache-control"))
            larder_freshness_cc_add(out, f->value, f->value_len);
    }
}

void larder_freshness_cc_request(const struct larder_http_head *req, struct larder_cc *out)
{
    cc_from_head(req, out);
    if (out->flags & LARDER_CC_F_PRESENT)
        return;   /* Pragma only counts without Cache-Control (RFC 9111 5.4) */
    for (unsigned i = 0; i < req->nfields; i++) {
        const struct larder_http_field *f = &req->fields[i];
        if (larder_http_field_is(f, "pragma") &&
            larder_http_list_has(f->value, f->value_len, "no-cache"))
            out->flags |= LARDER_CC_F_NO_CACHE | LARDER_CC_F_PRAGMA;
    }
}

void larder_freshness_cc_response(const struct larder_http_head *resp, struct larder_cc *out)
{
    cc_from_head(resp, out);
}

/* ---- HTTP dates ---------------------------------------------------------- */

static const char *const day_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const month_name[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
static const int days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

#define DAYS_PER_400_YEARS 146097
#define LAST_FORMATTABLE INT64_C(253402300799) /* 9999-12-31 23:59:59 */

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d, for y >= 1970, 1 <= m <= 12. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t n = y - 1;
    /* leap years in 1..y-1, minus the 477 in 1..1969 */
    int64_t leaps = n / 4 - n / 100 + n / 400 - 477;
    int64_t days = 365 * (y - 1970) + leaps + days_before_month[m - 1] + (d - 1);

    if (m > 2 && is_leap(y))
        days++;
    return days;
}

/* Inverse of days_from_civil() for days >= 0. */
static void civil_from_days(int64_t days, int64_t *y_out, int *m_out, int *d_out)
{
    int64_t y = 1970 + 400 * (days / DAYS_PER_400_YEARS); /* any 400 years hold 97 leap days */
    int m;

    days %= DAYS_PER_400_YEARS;
    for (;;) {
        int64_t ylen = is_leap(y) ? 366 : 365;
        if (days < ylen)
            break;
        days -= ylen;
        y++;
    }
    for (m = 0; m < 11; m++) {
        int mlen = month_days[m] + (m == 1 && is_leap(y));
        if (days < mlen)
            break;
        days -= mlen;
    }
    *y_out = y;
    *m_out = m + 1;
    *d_out = (int)days + 1;
}

/* A cursor over the date text: each matcher consumes on success. */
struct cursor {
    const char *s;
    size_t len, pos;
};

static int take_char(struct cursor *c, char ch)
{
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return 1;
    }
    return 0;
}

static int take_digits(struct cursor *c, size_t n, int *out)
{
    int v = 0;

    if (c->len - c->pos < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->s[c->pos + i];
        if (!is_digit(ch))
            return 0;
        v = v * 10 + (ch - '0');
    }
    c->pos += n;
    *out = v;
    return 1;
}

/* Matches one of <names> exactly (case-insensitively); returns its index. */
static int take_name(struct cursor *c, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if (c->len - c->pos >= n && strncasecmp(c->s + c->pos, names[i], n) == 0) {
            c->pos += n;
            return i;
        }
    }
    return -1;
}

/* "HH:MM:SS" */
static int take_time(struct cursor *c, int *h, int *mi, int *s)
{
    return take_digits(c, 2, h) && take_char(c, ':') && take_digits(c, 2, mi) &&
           take_char(c, ':') && take_digits(c, 2, s);
}

static int take_gmt(struct cursor *c)
{
    if (c->len - c->pos >= 3 && strncasecmp(c->s + c->pos, "GMT", 3) == 0) {
        c->pos += 3;
        return 1;
    }
    return 0;
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;

    civil_from_days(max64(t, 0) / 86400, &y, &m, &d);
    return y;
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years in the future means
 * the most recent past year with those digits. Resolved at year level. */
static int64_t full_year(int yy, int64_t now)
{
    int64_t cur = year_of(now);
    int64_t y = cur - cur % 100 + yy;

    if (y > cur + 50)
        y -= 100;
    else if (y + 100 <= cur + 50)
        y += 100;
    return y;
}

static int64_t make_time(int64_t y, int mon, int d, int h, int mi, int s)
{
    int mlen;

    if (mon < 0 || mon > 11 || d < 1 || h > 23 || mi > 59 || s > 60)
        return -1;
    mlen = month_days[mon] + (mon == 1 && is_leap(y));
    if (d > mlen)
        return -1;
    if (y < 1970)
        return 0;   /* valid, but before anything we can represent */
    return days_from_civil(y, mon + 1, d) * 86400 + h * 3600 + mi * 60 + s;
}

int64_t larder_freshness_date_parse(const char *s, size_t len, int64_t now)
{
    struct cursor c = {s, len, 0};
    int d, mon, yy, h, mi, sec;

    if (s == NULL)
        return -1;
    if (len >= 4 && s[3] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (take_name(&c, day_short, 7) < 0 || !take_char(&c, ',') || !take_char(&c, ' ') ||
            !take_digits(&c, 2, &d) || !take_char(&c, ' ') ||
            (mon = take_name(&c, month_name, 12)) < 0 || !take_char(&c, ' ') ||
            !take_digits(&c, 4, &yy) || !take_char(&c, ' ') || !take_time(&c, &h, &mi, &sec) ||
            !take_char(&c, ' ') || !take_gmt(&c) || c.pos != len)
            return -1;
        return make_time(yy, mon, d, h, mi, sec);
    }
    if (len >= 4 && s[3] == ' ') {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        if (take_name(&c, day_short, 7) < 0 || !take_char(&c, ' ') ||
            (mon = take_name(&c, month_name, 12)) < 0 || !take_char(&c, ' '))
            return -1;
        if (take_char(&c, ' ')) {
            if (!take_digits(&c, 1, &d))
                return -1;
        } else if (!take_digits(&c, 2, &d)) {
            return -1;
        }
        if (!take_char(&c, ' ') || !take_time(&c, &h, &mi, &sec) || !take_char(&c, ' ') ||
            !take_digits(&c, 4, &yy) || c.pos != len)
            return -1;
        return make_time(yy, mon, d, h, mi, sec);
    }
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    if (take_name(&c, day_long, 7) < 0 || !take_char(&c, ',') || !take_char(&c, ' ') ||
        !take_digits(&c, 2, &d) || !take_char(&c, '-') ||
        (mon = take_name(&c, month_name, 12)) < 0 || !take_char(&c, '-') ||
        !take_digits(&c, 2, &yy) || !take_char(&c, ' ') || !take_time(&c, &h, &mi, &sec) ||
        !take_char(&c, ' ') || !take_gmt(&c) || c.pos != len)
        return -1;
    return make_time(full_year(yy, now), mon, d, h, mi, sec);
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

char *larder_freshness_date_format(int64_t t, char *buf)
{
    int64_t days, rem, y;
    int m, d;

    t = min64(max64(t, 0), LAST_FORMATTABLE);
    days = t / 86400;
    rem = t % 86400;
    civil_from_days(days, &y, &m, &d);

    memcpy(buf, day_short[(days + 4) % 7], 3);    /* 1970-01-01 was a Thursday */
    memcpy(buf + 3, ", ", 2);
    put2(buf + 5, d);
    buf[7] = ' ';
    memcpy(buf + 8, month_name[m - 1], 3);
    buf[11] = ' ';
    put2(buf + 12, (int)(y / 100));
    put2(buf + 14, (int)(y % 100));
    buf[16] = ' ';
    put2(buf + 17, (int)(rem / 3600));
    buf[19] = ':';
    put2(buf + 20, (int)(rem / 60 % 60));
    buf[22] = ':';
    put2(buf + 23, (int)(rem % 60));
    memcpy(buf + 25, " GMT", 4);
    buf[LARDER_HTTP_DATE_LEN] = '\0';
    return buf;
}

/* A date field of <h>: -1 when absent, invalid or on lines that differ;
 * *state_out says which (0 absent, 1 valid, -1 invalid or conflicting). */
static int64_t date_field(const struct larder_http_head *h, const char *name, int64_t now,
                          int *state_out)
{
    const char *v;
    size_t vlen;
    int n = single_field(h, name, &v, &vlen);
    int64_t t;

    if (n <= 0) {
        *state_out = n;
        return -1;
    }
    t = larder_freshness_date_parse(v, vlen, now);
    *state_out = t < 0 ? -1 : 1;
    return t;
}

/* ---- entity-tags --------------------------------------------------------- */

/* Scans one entity-tag at s[0..len): [W/] DQUOTE *etagc DQUOTE. Returns the
 * bytes it occupies, or 0 when there is none. */
static size_t etag_scan(const char *s, size_t len, int *weak, const char **opaque,
                        size_t *opaque_len)
{
    size_t i = 0;

    *weak = 0;
    if (len >= 2 && s[0] == 'W' && s[1] == '/') {
        *weak = 1;
        i = 2;
    }
    if (i >= len || s[i] != '"')
        return 0;
    *opaque = s + i;
    for (i++; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *opaque_len = (size_t)(s + i + 1 - *opaque);
            return i + 1;
        }
        if (!(c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80))
            return 0;
    }
    return 0;
}

struct etag {
    int valid, weak;
    const char *opaque;   /* with its quotes */
    size_t len;
};

static struct etag etag_whole(const char *s, size_t len)
{
    struct etag e = {0, 0, NULL, 0};

    if (s != NULL) {
        trim(&s, &len);
        if (len > 0 && etag_scan(s, len, &e.weak, &e.opaque, &e.len) == len)
            e.valid = 1;
    }
    return e;
}

static int etag_eq(const struct etag *a, const struct etag *b, int strong)
{
    if (!a->valid || !b->valid)
        return 0;
    if (strong && (a->weak || b->weak))
        return 0;
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

int larder_freshness_etag_match(const char *a, size_t alen, const char *b, size_t blen,
                                int strong)
{
    struct etag ea = etag_whole(a, alen), eb = etag_whole(b, blen);
    return etag_eq(&ea, &eb, strong);
}

/* The ETag of a head: invalid when absent, malformed or conflicting. */
static struct etag head_etag(const struct larder_http_head *h)
{
    const char *v;
    size_t vlen;
    struct etag none = {0, 0, NULL, 0};

    if (single_field(h, "etag", &v, &vlen) != 1)
        return none;
    return etag_whole(v, vlen);
}

enum { ETAGS_NONE = 0, ETAGS_MATCH, ETAGS_NO_MATCH, ETAGS_INVALID };

/* Evaluates an If-Match / If-None-Match style field (all its lines) against
 * <stored>: "*" matches any stored response; a list matches when one
 * member compares equal. ETAGS_NONE when the field is absent. */
static int etag_list_match(const struct larder_http_head *req, const char *name,
                           const struct etag *stored, int strong)
{
    int seen = 0, star = 0, match = 0;

    for (unsigned i = 0; i < req->nfields; i++) {
        const struct larder_http_field *f = &req->fields[i];
        const char *s = f->value;
        size_t len = f->value_len, pos = 0;

        if (!larder_http_field_is(f, name))
            continue;
        seen = 1;
        trim(&s, &len);
        if (len == 1 && s[0] == '*') {
            star = 1;
            continue;
        }
        while (pos < len) {
            struct etag e = {1, 0, NULL, 0};
            size_t n;

            while (pos < len && (is_ows((unsigned char)s[pos]) || s[pos] == ','))
                pos++;
            if (pos == len)
                break;
            n = etag_scan(s + pos, len - pos, &e.weak, &e.opaque, &e.len);
            if (n == 0)
                return ETAGS_INVALID;
            pos += n;
            while (pos < len && is_ows((unsigned char)s[pos]))
                pos++;
            if (pos < len && s[pos] != ',')
                return ETAGS_INVALID;
            if (etag_eq(&e, stored, strong))
                match = 1;
        }
    }
    if (!seen)
        return ETAGS_NONE;
    return (star || match) ? ETAGS_MATCH : ETAGS_NO_MATCH;
}

/* ---- storing ------------------------------------------------------------- */

/* Statuses whose caching rules larder implements (for must-understand). */
static int status_understood(int st)
{
    switch (st) {
    case 200: case 203: case 204: case 300: case 301: case 302: case 303:
    case 307: case 308: case 404: case 405: case 410: case 414: case 501:
        return 1;
    default:
        return 0;
    }
}

/* Whether a heuristic lifetime may be given: the heuristically cacheable
 * statuses of RFC 9110 15.1 minus the errors, or any 2xx/3xx marked public.
 * Errors never get one (no caching of error pages the origin did not ask
 * for). */
static int heuristic_allowed(int st, unsigned cc_flags)
{
    switch (st) {
    case 200: case 203: case 204: case 300: case 301: case 308:
        return 1;
    default:
        return (cc_flags & LARDER_CC_F_PUBLIC) && st >= 200 && st < 400 &&
               st != 206 && st != 304;
    }
}

struct vary_scan {
    char *buf;
    size_t cap, len;
    int bad;
};

static int vary_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!larder_http_is_tchar((unsigned char)s[i]) || s[i] == '*')
            return 0;
    return 1;
}

/* Whether the lower-cased name is already in buf[0..len) as a member. */
static int vary_seen(const struct vary_scan *vs, const char *name, size_t nlen)
{
    size_t i = 0, end = vs->len < vs->cap ? vs->len : 0;

    while (i < end) {
        size_t j = i;
        while (j < end && vs->buf[j] != ',')
            j++;
        if (j - i == nlen && strncasecmp(vs->buf + i, name, nlen) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

static int vary_collect(const char *item, size_t len, void *arg)
{
    struct vary_scan *vs = arg;

    if (!vary_name_ok(item, len)) {
        vs->bad = 1;
        return 1;
    }
    if (vs->buf == NULL || vary_seen(vs, item, len))
        return 0;
    if (vs->len > 0) {
        if (vs->len < vs->cap)
            vs->buf[vs->len] = ',';
        vs->len++;
    }
    for (size_t i = 0; i < len; i++, vs->len++) {
        if (vs->len < vs->cap) {
            char c = item[i];
            vs->buf[vs->len] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    }
    return 0;
}

static int vary_walk(const struct larder_http_head *resp, struct vary_scan *vs)
{
    for (unsigned i = 0; i < resp->nfields && !vs->bad; i++) {
        const struct larder_http_field *f = &resp->fields[i];
        if (larder_http_field_is(f, "vary"))
            larder_http_list_each(f->value, f->value_len, vary_collect, vs);
    }
    return vs->bad ? -1 : 0;
}

const char *larder_freshness_storable(const struct larder_http_head *req,
                                      const struct larder_cc *req_cc,
                                      const struct larder_http_head *resp,
                                      const struct larder_cc *resp_cc)
{
    int st = resp->status;
    int understood = status_understood(st);
    unsigned rf = resp_cc->flags;
    struct vary_scan vs = {NULL, 0, 0, 0};
    int explicit_fresh;

    /* HEAD answers have no body to store; other methods are not cacheable */
    if (!eq_exact(req->method, req->method_len, "GET"))
        return "method";
    if (st < 200 || st == 206 || st == 304)
        return "status";
    if (req_cc->flags & LARDER_CC_F_NO_STORE)
        return "no-store";
    if ((rf & LARDER_CC_F_MUST_UNDERSTAND) && !understood)
        return "must-understand";
    /* RFC 9111 5.2.2.3: must-understand with an understood status lets a
     * cache ignore no-store (origins send "must-understand, no-store") */
    if ((rf & LARDER_CC_F_NO_STORE) && !((rf & LARDER_CC_F_MUST_UNDERSTAND) && understood))
        return "no-store";
    if (rf & LARDER_CC_F_PRIVATE)
        return "private";
    if (has_field(req, "authorization") &&
        !(rf & (LARDER_CC_F_PUBLIC | LARDER_CC_F_MUST_REVALIDATE)) &&
        resp_cc->s_maxage == LARDER_CC_ABSENT)
        return "authorization";
    if (vary_walk(resp, &vs) < 0)
        return "vary-star";

    explicit_fresh = resp_cc->s_maxage != LARDER_CC_ABSENT ||
                     resp_cc->max_age != LARDER_CC_ABSENT || has_field(resp, "expires");
    if (!explicit_fresh) {
        int lm_state;
        if (!heuristic_allowed(st, rf))   /* never for errors */
            return "no-freshness";
        date_field(resp, "last-modified", 0, &lm_state);
        if (lm_state != 1 && !head_etag(resp).valid)
            return "no-validator";
    }
    /* a shared cache handing one user's cookie to everybody is a leak;
     * store only when the origin said the response is for everybody */
    if (has_field(resp, "set-cookie") && !(rf & LARDER_CC_F_PUBLIC) &&
        resp_cc->s_maxage == LARDER_CC_ABSENT)
        return "set-cookie";
    return NULL;
}

/* ---- freshness and age --------------------------------------------------- */

/* Age: the first member of the first line; invalid means absent
 * (RFC 9111 5.1). */
static int64_t age_field(const struct larder_http_head *h)
{
    int i = larder_http_find(h, "age", 0);
    const char *s, *comma;
    size_t len;
    int64_t v;

    if (i < 0)
        return 0;
    s = h->fields[i].value;
    len = h->fields[i].value_len;
    comma = memchr(s, ',', len);
    if (comma != NULL)
        len = (size_t)(comma - s);
    trim(&s, &len);
    v = parse_delta(s, len);
    return v < 0 ? 0 : v;
}

/* Fills <f> from <fields> (everything but Date and Age) and <dated> (Date
 * and Age: the response just received). */
static void compute(struct larder_freshness *f, int status,
                    const struct larder_http_head *fields, const struct larder_cc *cc,
                    const struct larder_http_head *dated, int64_t request_time,
                    int64_t response_time, int64_t max_heuristic)
{
    int state;
    int64_t apparent_age, response_delay, corrected_age_value;

    f->request_time = request_time;
    f->response_time = response_time;
    f->status = status;
    f->flags = 0;

    f->date = date_field(dated, "date", response_time, &state);
    if (state != 1)
        f->date = response_time;
    f->age_value = age_field(dated);

    f->last_modified = date_field(fields, "last-modified", response_time, &state);
    f->expires = date_field(fields, "expires", response_time, &state);
    if (state == -1)
        f->expires = 0;   /* invalid or conflicting: already expired (RFC 9111 5.3) */

    if (cc->s_maxage >= 0) {
        f->lifetime = cc->s_maxage;
        f->expires = -1;
    } else if (cc->max_age >= 0) {
        f->lifetime = cc->max_age;
        f->expires = -1;
    } else if (f->expires >= 0) {
        f->lifetime = max64(0, sat_sub(f->expires, f->date));
    } else if (heuristic_allowed(status, cc->flags)) {
        f->flags |= LARDER_FRESH_F_HEURISTIC;
        f->lifetime = 0;
        if (f->last_modified >= 0 && f->last_modified < f->date)
            f->lifetime = min64((f->date - f->last_modified) / 10, max64(max_heuristic, 0));
    } else {
        f->lifetime = 0;
    }
    f->lifetime = min64(f->lifetime, LARDER_DELTA_MAX);

    /* RFC 9111 4.2.3; negative clock differences count as 0 */
    apparent_age = max64(0, sat_sub(response_time, f->date));
    response_delay = max64(0, sat_sub(response_time, request_time));
    corrected_age_value = sat_add(f->age_value, response_delay);
    f->corrected_initial_age = min64(max64(apparent_age, corrected_age_value),
                                     LARDER_DELTA_MAX);

    f->stale_while_revalidate = cc->stale_while_revalidate >= 0 ? cc->stale_while_revalidate : -1;
    f->stale_if_error = cc->stale_if_error >= 0 ? cc->stale_if_error : -1;

    if (cc->flags & LARDER_CC_F_NO_CACHE)
        f->flags |= LARDER_FRESH_F_NO_CACHE;
    if (cc->flags & LARDER_CC_F_MUST_REVALIDATE)
        f->flags |= LARDER_FRESH_F_MUST_REVALIDATE;
    if ((cc->flags & LARDER_CC_F_PROXY_REVALIDATE) || cc->s_maxage != LARDER_CC_ABSENT)
        f->flags |= LARDER_FRESH_F_PROXY_REVALIDATE;  /* s-maxage implies it (5.2.2.10) */
    if (cc->flags & LARDER_CC_F_IMMUTABLE)
        f->flags |= LARDER_FRESH_F_IMMUTABLE;
    if (cc->flags & LARDER_CC_F_PUBLIC)
        f->flags |= LARDER_FRESH_F_PUBLIC;
    if (f->last_modified >= 0 || head_etag(fields).valid)
        f->flags |= LARDER_FRESH_F_HAS_VALIDATOR;
}

void larder_freshness_init(struct larder_freshness *f, const struct larder_http_head *resp,
                           const struct larder_cc *resp_cc, int64_t request_time,
                           int64_t response_time, int64_t max_heuristic)
{
    compute(f, resp->status, resp, resp_cc, resp, request_time, response_time, max_heuristic);
}

void larder_freshness_refresh(struct larder_freshness *f, const struct larder_http_head *merged,
                              const struct larder_cc *merged_cc,
                              const struct larder_http_head *r304, int64_t request_time,
                              int64_t response_time, int64_t max_heuristic)
{
    compute(f, f->status, merged, merged_cc, r304, request_time, response_time, max_heuristic);
}

int64_t larder_freshness_age(const struct larder_freshness *f, int64_t now)
{
    int64_t resident = max64(0, sat_sub(now, f->response_time));
    return min64(sat_add(f->corrected_initial_age, resident), LARDER_DELTA_MAX);
}

int64_t larder_freshness_ttl(const struct larder_freshness *f, int64_t now)
{
    return f->lifetime - larder_freshness_age(f, now);
}

int larder_freshness_is_fresh(const struct larder_freshness *f, int64_t now)
{
    return larder_freshness_ttl(f, now) > 0;
}

/* ---- serving ------------------------------------------------------------- */

#define NO_STALE_FLAGS (LARDER_FRESH_F_NO_CACHE | LARDER_FRESH_F_MUST_REVALIDATE | \
                        LARDER_FRESH_F_PROXY_REVALIDATE)

static enum larder_serve decide(const struct larder_freshness *f, const struct larder_cc *rq,
                                int64_t now)
{
    int64_t age = larder_freshness_age(f, now);
    int64_t ttl = f->lifetime - age;
    int64_t staleness = -ttl;
    int fresh = ttl > 0;
    int req_wants_validation;

    /* a fresh immutable response stands for a reload (max-age), not for a
     * forced reload (no-cache) */
    int immutable = fresh && (f->flags & LARDER_FRESH_F_IMMUTABLE);

    req_wants_validation = (rq->flags & LARDER_CC_F_NO_CACHE) ||
                           (rq->max_age >= 0 && age > rq->max_age && !immutable) ||
                           (rq->min_fresh >= 0 && ttl < rq->min_fresh);

    if (f->flags & LARDER_FRESH_F_NO_CACHE)
        return LARDER_SERVE_REVALIDATE;
    if (fresh)
        return req_wants_validation ? LARDER_SERVE_REVALIDATE_REQUEST : LARDER_SERVE_FRESH;
    if (req_wants_validation || (f->flags & NO_STALE_FLAGS))
        return LARDER_SERVE_REVALIDATE;

    /* a request max-age without max-stale does not want stale responses
     * (RFC 9111 5.2.1.1), not even while revalidating */
    if (f->stale_while_revalidate >= 0 && staleness <= f->stale_while_revalidate &&
        !(rq->max_age >= 0 && rq->max_stale < 0))
        return LARDER_SERVE_STALE_REVALIDATE;
    if (rq->max_stale >= 0 && staleness <= rq->max_stale)
        return LARDER_SERVE_STALE;
    return LARDER_SERVE_REVALIDATE;
}

enum larder_serve larder_freshness_decide(const struct larder_freshness *f,
                                          const struct larder_cc *req_cc, int64_t now)
{
    enum larder_serve s = decide(f, req_cc, now);

    if ((s == LARDER_SERVE_REVALIDATE || s == LARDER_SERVE_REVALIDATE_REQUEST) &&
        (req_cc->flags & LARDER_CC_F_ONLY_IF_CACHED))
        return LARDER_SERVE_GATEWAY_TIMEOUT;
    return s;
}

const char *larder_freshness_serve_name(enum larder_serve s)
{
    static const char *const names[LARDER_SERVE_COUNT] = {
        "fresh", "stale", "stale-revalidate", "revalidate", "revalidate-request",
        "gateway-timeout",
    };
    return (unsigned)s < LARDER_SERVE_COUNT ? names[s] : "?";
}

int larder_freshness_is_error_status(int status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

int larder_freshness_stale_on_error(const struct larder_freshness *f,
                                    const struct larder_cc *req_cc, int64_t now,
                                    int serve_stale_on_error)
{
    int64_t staleness = max64(0, -larder_freshness_ttl(f, now));

    if (f->flags & NO_STALE_FLAGS)
        return 0;
    if (req_cc->stale_if_error >= 0 && staleness <= req_cc->stale_if_error)
        return 1;
    if (req_cc->flags & LARDER_CC_F_NO_CACHE)
        return 0;   /* the client insisted on a validated answer */
    if (f->stale_if_error >= 0 && staleness <= f->stale_if_error)
        return 1;
    return serve_stale_on_error != 0;
}

/* ---- validation ---------------------------------------------------------- */

int larder_freshness_304_matches(const struct larder_http_head *stored,
                                 const struct larder_http_head *r304)
{
    struct etag new_tag = head_etag(r304), old_tag;
    int64_t new_lm, old_lm;
    int new_state, old_state;

    if (new_tag.valid) {
        old_tag = head_etag(stored);
        return etag_eq(&new_tag, &old_tag, !new_tag.weak);
    }
    new_lm = date_field(r304, "last-modified", 0, &new_state);
    if (new_state == 1) {
        old_lm = date_field(stored, "last-modified", 0, &old_state);
        return old_state == 1 && old_lm == new_lm;
    }
    /* no validator: the origin answered the conditional request we built
     * from this very stored response */
    return 1;
}

static int connection_lists(const struct larder_http_head *h, const char *name, size_t len)
{
    char tmp[64];

    if (len >= sizeof(tmp))
        return 0;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (larder_http_field_is(f, "connection") &&
            larder_http_list_has(f->value, f->value_len, tmp))
            return 1;
    }
    return 0;
}

int larder_freshness_304_replaces(const struct larder_http_head *r304,
                                  const struct larder_http_field *f)
{
    static const char *const kept[] = {
        /* the stored body depends on these */
        "content-length", "content-encoding", "content-range",
        /* recomputed from struct larder_freshness when serving */
        "age",
        /* hop-by-hop (RFC 9110 7.6.1) and the proxy's own */
        "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "proxy-authenticate",
        "proxy-authentication-info", "proxy-authorization",
    };

    if (f->flags & LARDER_FIELD_F_DROP)
        return 0;
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (larder_http_field_is(f, kept[i]))
            return 0;
    return !connection_lists(r304, f->name, f->name_len);
}

enum larder_cond larder_freshness_conditional(const struct larder_http_head *req,
                                              const struct larder_http_head *stored,
                                              const struct larder_freshness *f)
{
    struct etag tag = head_etag(stored);
    int get_or_head = eq_exact(req->method, req->method_len, "GET") ||
                      eq_exact(req->method, req->method_len, "HEAD");
    int r, state;
    int64_t t;

    if (f->status < 200 || f->status > 299)
        return LARDER_COND_NONE;

    r = etag_list_match(req, "if-match", &tag, 1);
    if (r == ETAGS_NO_MATCH)
        return LARDER_COND_PRECONDITION_FAILED;
    if (r == ETAGS_NONE) {
        t = date_field(req, "if-unmodified-since", f->response_time, &state);
        if (state == 1 && f->last_modified >= 0 && f->last_modified > t)
            return LARDER_COND_PRECONDITION_FAILED;
    }

    r = etag_list_match(req, "if-none-match", &tag, 0);
    if (r != ETAGS_NONE)
        return (r == ETAGS_MATCH && get_or_head) ? LARDER_COND_NOT_MODIFIED : LARDER_COND_NONE;

    if (!get_or_head)
        return LARDER_COND_NONE;
    t = date_field(req, "if-modified-since", f->response_time, &state);
    if (state != 1)
        return LARDER_COND_NONE;
    /* RFC 9111 4.3.2: Last-Modified, else Date, else the time received
     * (f->date already falls back to the latter) */
    if ((f->last_modified >= 0 ? f->last_modified : f->date) <= t)
        return LARDER_COND_NOT_MODIFIED;
    return LARDER_COND_NONE;
}

/* ---- Vary ---------------------------------------------------------------- */

int larder_freshness_vary_list(const struct larder_http_head *resp, char *buf, size_t cap,
                               size_t *len_out)
{
    struct vary_scan vs = {buf, cap, 0, 0};
    int rc = vary_walk(resp, &vs);

    if (cap > 0)
        buf[vs.len < cap ? vs.len : cap - 1] = '\0';
    *len_out = vs.len;
    return rc;
}

/* Streams the normalized value of every line of field <name> in <h>: lines
 * joined by commas, OWS around commas and empty members dropped, other OWS
 * runs folded to one SP, trimmed; quoted strings verbatim. */
struct norm {
    const struct larder_http_head *h;
    const char *name;
    size_t name_len;
    unsigned idx;             /* field being read; h->nfields when done */
    size_t pos;
    int emitted;              /* a value byte was produced */
    int pend_comma, pend_sp;
    int in_quote, escaped;
    int held;                 /* a byte held back behind a separator, or -1 */
};

static void norm_next_line(struct norm *n, unsigned from)
{
    n->idx = from;
    /* a field flagged not to be forwarded (named by Connection) is one the
     * origin never saw: it cannot have chosen the variant by it */
    while (n->idx < n->h->nfields &&
           (!name_is(&n->h->fields[n->idx], n->name, n->name_len) ||
            (n->h->fields[n->idx].flags & LARDER_FIELD_F_DROP)))
        n->idx++;
    n->pos = 0;
}

static void norm_init(struct norm *n, const struct larder_http_head *h, const char *name,
                      size_t name_len)
{
    memset(n, 0, sizeof(*n));
    n->h = h;
    n->name = name;
    n->name_len = name_len;
    n->held = -1;
    norm_next_line(n, 0);
}

static int norm_present(const struct norm *n)
{
    return n->idx < n->h->nfields;
}

/* Next byte of the normalized value, or -1 at the end. */
static int norm_getc(struct norm *n)
{
    if (n->held >= 0) {
        int c = n->held;
        n->held = -1;
        return c;
    }
    while (n->idx < n->h->nfields) {
        const struct larder_http_field *f = &n->h->fields[n->idx];
        unsigned char c;

        if (n->pos >= f->value_len) {
            /* a new line is a new list member; an unclosed quote ends here */
            n->in_quote = n->escaped = 0;
            n->pend_comma = 1;
            n->pend_sp = 0;
            norm_next_line(n, n->idx + 1);
            continue;
        }
        c = (unsigned char)f->value[n->pos++];
        if (n->in_quote) {
            if (n->escaped)
                n->escaped = 0;
            else if (c == '\\')
                n->escaped = 1;
            else if (c == '"')
                n->in_quote = 0;
        } else if (c == ',') {
            n->pend_comma = 1;
            n->pend_sp = 0;
            continue;
        } else if (is_ows(c)) {
            n->pend_sp = 1;     /* a pending comma wins when emitting */
            continue;
        } else if (c == '"') {
            n->in_quote = 1;
        }
        if (n->emitted && (n->pend_comma || n->pend_sp)) {
            int sep = n->pend_comma ? ',' : ' ';
            n->pend_comma = n->pend_sp = 0;
            n->held = c;
            return sep;
        }
        n->pend_comma = n->pend_sp = 0;
        n->emitted = 1;
        return c;
    }
    return -1;
}

/* Appends to a buffer, counting what would not fit. */
struct out {
    char *buf;
    size_t cap, len;
};

static void out_c(struct out *o, char c)
{
    if (o->len < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void out_s(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out_c(o, s[i]);
}

static void out_end(struct out *o)
{
    if (o->cap > 0)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

struct vary_key_ctx {
    const struct larder_http_head *req;
    struct out o;
};

static int vary_key_member(const char *item, size_t len, void *arg)
{
    struct vary_key_ctx *k = arg;
    struct norm n;
    int c;

    if (!vary_name_ok(item, len))
        return 1;
    for (size_t i = 0; i < len; i++) {
        char ch = item[i];
        out_c(&k->o, (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch);
    }
    norm_init(&n, k->req, item, len);
    if (norm_present(&n)) {
        out_c(&k->o, ':');
        while ((c = norm_getc(&n)) >= 0)
            out_c(&k->o, (char)c);
    }
    out_c(&k->o, '\n');
    return 0;
}

int larder_freshness_vary_key(const char *vary, size_t vary_len,
                              const struct larder_http_head *req, char *buf, size_t cap,
                              size_t *len_out)
{
    struct vary_key_ctx k = {req, {buf, cap, 0}};
    int rc = larder_http_list_each(vary, vary_len, vary_key_member, &k);

    out_end(&k.o);
    *len_out = k.o.len;
    return rc != 0 ? -1 : 0;
}

/* ---- invalidation -------------------------------------------------------- */

int larder_freshness_method_is_safe(const char *method, size_t len)
{
    return eq_exact(method, len, "GET") || eq_exact(method, len, "HEAD") ||
           eq_exact(method, len, "OPTIONS") || eq_exact(method, len, "TRACE");
}

int larder_freshness_invalidation(const struct larder_http_head *req,
                                  const struct larder_http_head *resp,
                                  struct larder_invalidation *out)
{
    memset(out, 0, sizeof(*out));
    if (larder_freshness_method_is_safe(req->method, req->method_len) ||
        eq_exact(req->method, req->method_len, "CONNECT"))
        return 0;
    if (resp->status < 200 || resp->status > 399)
        return 0;
    if (single_field(resp, "location", &out->location, &out->location_len) != 1) {
        out->location = NULL;
        out->location_len = 0;
    }
    if (single_field(resp, "content-location", &out->content_location,
                     &out->content_location_len) != 1) {
        out->content_location = NULL;
        out->content_location_len = 0;
    }
    return 1;
}

/* ---- Cache-Status -------------------------------------------------------- */

/* sf-token: ( ALPHA / "*" ) *( tchar / ":" / "/" ) (RFC 8941 3.3.4) */
static int is_sf_token(const char *s)
{
    unsigned char c0 = (unsigned char)s[0];

    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '*'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!larder_http_is_tchar((unsigned char)*p) && *p != ':' && *p != '/')
            return 0;
    return 1;
}

static void out_int(struct out *o, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u;

    if (v < 0) {
        out_c(o, '-');
        u = (uint64_t)(-(v + 1)) + 1;
    } else {
        u = (uint64_t)v;
    }
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    while (n > 0)
        out_c(o, tmp[--n]);
}

size_t larder_freshness_cache_status(const struct larder_cache_status *cs, const char *name,
                                     char *buf, size_t cap)
{
    static const char *const fwd[LARDER_CS_KIND_COUNT] = {
        [LARDER_CS_STALE_ON_ERROR] = "stale",
        [LARDER_CS_URI_MISS] = "uri-miss",
        [LARDER_CS_VARY_MISS] = "vary-miss",
        [LARDER_CS_MISS] = "miss",
        [LARDER_CS_STALE] = "stale",
        [LARDER_CS_REQUEST] = "request",
        [LARDER_CS_BYPASS] = "bypass",
        [LARDER_CS_METHOD] = "method",
    };
    struct out o = {buf, cap, 0};
    unsigned k = (unsigned)cs->kind;
    const int64_t sf_int_max = INT64_C(999999999999999);

    if (name == NULL || name[0] == '\0')
        name = "larder";
    if (is_sf_token(name)) {
        out_s(&o, name, strlen(name));
    } else {
        out_c(&o, '"');
        for (const char *p = name; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c > 0x7e)
                continue;   /* not allowed in an sf-string */
            if (c == '"' || c == '\\')
                out_c(&o, '\\');
            out_c(&o, (char)c);
        }
        out_c(&o, '"');
    }

    if (k == LARDER_CS_HIT || k == LARDER_CS_HIT_STALE)
        out_s(&o, "; hit", 5);
    if (k < LARDER_CS_KIND_COUNT && fwd[k] != NULL) {
        out_s(&o, "; fwd=", 6);
        out_s(&o, fwd[k], strlen(fwd[k]));
        if (cs->fwd_status > 0) {
            out_s(&o, "; fwd-status=", 13);
            out_int(&o, cs->fwd_status);
        }
    }
    if (cs->has_ttl) {
        out_s(&o, "; ttl=", 6);
        out_int(&o, max64(-sf_int_max, min64(cs->ttl, sf_int_max)));
    }
    if (cs->stored)
        out_s(&o, "; stored", 8);
    if (cs->collapsed)
        out_s(&o, "; collapsed", 11);
    if (k == LARDER_CS_HIT_STALE || k == LARDER_CS_STALE_ON_ERROR)
        out_s(&o, "; detail=stale", 14);
    else if (k == LARDER_CS_UNAVAILABLE)
        out_s(&o, "; detail=only-if-cached", 23);
    out_end(&o);
    return o.len;
}

const char *larder_freshness_outcome_name(const struct larder_cache_status *cs)
{
    switch (cs->kind) {
    case LARDER_CS_HIT:
        return "HIT";
    case LARDER_CS_HIT_STALE:
        return "STALE";
    case LARDER_CS_STALE_ON_ERROR:
        return "STALE_ERROR";
    case LARDER_CS_URI_MISS:
    case LARDER_CS_VARY_MISS:
    case LARDER_CS_MISS:
        return "MISS";
    case LARDER_CS_STALE:
    case LARDER_CS_REQUEST:
        return cs->fwd_status == 304 ? "REVALIDATED" : "REFRESHED";
    case LARDER_CS_BYPASS:
    case LARDER_CS_METHOD:
        return "PASS";
    case LARDER_CS_UNAVAILABLE:
        return "UNAVAILABLE";
    case LARDER_CS_KIND_COUNT:
        break;
    }
    return "?";
}
