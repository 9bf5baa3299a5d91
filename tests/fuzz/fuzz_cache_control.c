/* SPDX-License-Identifier: MIT */
/* fuzz_cache_control.c - libFuzzer target: Cache-Control values of any bytes
 * give directives inside their documented ranges, consistent flags, the same
 * result line by line as joined with commas, and storing decisions that
 * private and no-store always veto. */
/* fuzz-sources: src/freshness.c src/http_parse.c src/url.c src/util.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "larder/freshness.h"
#include "larder/http_parse.h"

#define MAX_LINES 16

#define ALL_FLAGS (LARDER_CC_F_PRESENT | LARDER_CC_F_NO_CACHE | LARDER_CC_F_NO_STORE |    \
                   LARDER_CC_F_PRIVATE | LARDER_CC_F_PUBLIC | LARDER_CC_F_MUST_REVALIDATE | \
                   LARDER_CC_F_PROXY_REVALIDATE | LARDER_CC_F_IMMUTABLE |                   \
                   LARDER_CC_F_ONLY_IF_CACHED | LARDER_CC_F_NO_TRANSFORM |                  \
                   LARDER_CC_F_MUST_UNDERSTAND | LARDER_CC_F_FIELD_LIST |                   \
                   LARDER_CC_F_INVALID | LARDER_CC_F_PRAGMA)

/* Field names a line may get, chosen by its first byte. */
static const char *const names[] = {
    "Cache-Control", "cache-control", "CACHE-CONTROL", "Pragma", "X-Cache-Control",
    "Authorization", "Set-Cookie", "Expires",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void die(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_cache_control: %s (input %zu bytes: \"%.*s\")\n", what, size,
            (int)(size > 200 ? 200 : size), (const char *)data);
    abort();
}

static int delta_ok(int64_t v)
{
    return v >= 0 && v <= LARDER_DELTA_MAX;
}

/* Every value where the header says it may be, every flag a known one. */
static void check_ranges(const struct larder_cc *cc, const uint8_t *data, size_t size)
{
    if (cc->flags & ~ALL_FLAGS)
        die("unknown flag bits", data, size);
    /* max-age and s-maxage resolve invalid values to 0, never "ignored" */
    if (cc->max_age != LARDER_CC_ABSENT && !delta_ok(cc->max_age))
        die("max_age out of range", data, size);
    if (cc->s_maxage != LARDER_CC_ABSENT && !delta_ok(cc->s_maxage))
        die("s_maxage out of range", data, size);
    if (cc->max_stale != LARDER_CC_ABSENT && cc->max_stale != LARDER_CC_IGNORED &&
        cc->max_stale != LARDER_CC_ANY && !delta_ok(cc->max_stale))
        die("max_stale out of range", data, size);
    if (cc->min_fresh != LARDER_CC_ABSENT && cc->min_fresh != LARDER_CC_IGNORED &&
        !delta_ok(cc->min_fresh))
        die("min_fresh out of range", data, size);
    if (cc->stale_while_revalidate != LARDER_CC_ABSENT &&
        cc->stale_while_revalidate != LARDER_CC_IGNORED && !delta_ok(cc->stale_while_revalidate))
        die("stale_while_revalidate out of range", data, size);
    if (cc->stale_if_error != LARDER_CC_ABSENT && cc->stale_if_error != LARDER_CC_IGNORED &&
        !delta_ok(cc->stale_if_error))
        die("stale_if_error out of range", data, size);
    /* an ignored value only comes from an invalid or conflicting one */
    if ((cc->max_stale == LARDER_CC_IGNORED || cc->min_fresh == LARDER_CC_IGNORED ||
         cc->stale_while_revalidate == LARDER_CC_IGNORED ||
         cc->stale_if_error == LARDER_CC_IGNORED) && !(cc->flags & LARDER_CC_F_INVALID))
        die("a directive is ignored but INVALID is not set", data, size);
    if ((cc->flags & LARDER_CC_F_FIELD_LIST) &&
        !(cc->flags & (LARDER_CC_F_NO_CACHE | LARDER_CC_F_PRIVATE)))
        die("FIELD_LIST without no-cache or private", data, size);
    if ((cc->flags & LARDER_CC_F_PRAGMA) && !(cc->flags & LARDER_CC_F_NO_CACHE))
        die("PRAGMA without NO_CACHE", data, size);
    if ((cc->flags & ~LARDER_CC_F_PRAGMA & ~LARDER_CC_F_NO_CACHE) != 0 &&
        !(cc->flags & LARDER_CC_F_PRESENT))
        die("directives without PRESENT", data, size);
}

static int cc_equal(const struct larder_cc *a, const struct larder_cc *b)
{
    return a->max_age == b->max_age && a->s_maxage == b->s_maxage &&
           a->max_stale == b->max_stale && a->min_fresh == b->min_fresh &&
           a->stale_while_revalidate == b->stale_while_revalidate &&
           a->stale_if_error == b->stale_if_error && a->flags == b->flags;
}

/* Copies <n> bytes into an exactly-sized allocation, so ASan sees any read
 * past the value. */
static char *exact_copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);

    if (c == NULL)
        abort();
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

/* Builds "GET http://a.test/ HTTP/1.1" / "HTTP/1.1 200 OK" heads by hand:
 * the parser is not what is under test here, and values may hold bytes it
 * would reject. */
static void head_init(struct larder_http_head *h, struct larder_http_field *f, unsigned cap,
                      int request)
{
    larder_http_head_init(h, f, cap);
    h->version = 11;
    if (request) {
        h->method = "GET";
        h->method_len = 3;
        h->target = "http://a.test/";
        h->target_len = 14;
        h->form = LARDER_TARGET_ABSOLUTE;
    } else {
        h->status = 200;
        h->reason = "OK";
        h->reason_len = 2;
        h->body = LARDER_BODY_LENGTH;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct larder_http_field fields[MAX_LINES];
    struct larder_http_field req_fields[MAX_LINES + 1];
    struct larder_http_head resp, req;
    struct larder_cc one, byline, joined, again, resp_cc, req_cc, manual;
    char *lines[MAX_LINES];
    size_t lens[MAX_LINES];
    unsigned nlines = 0, i;
    int quote_seen = 0, has_cc = 0, has_pragma_nc = 0;
    size_t pos = 0;
    const char *why;

    if (size > 8192)
        return 0;

    /* 1. the whole input as one value */
    {
        char *v = exact_copy(data, size);

        larder_freshness_cc_init(&one);
        larder_freshness_cc_add(&one, v, size);
        if (!(one.flags & LARDER_CC_F_PRESENT))
            die("PRESENT not set", data, size);
        if (one.flags & LARDER_CC_F_PRAGMA)
            die("cc_add set PRAGMA", data, size);
        check_ranges(&one, data, size);
        /* the same value again is no conflict: nothing changes but maybe INVALID */
        again = one;
        larder_freshness_cc_add(&again, v, size);
        again.flags &= ~LARDER_CC_F_INVALID;
        {
            struct larder_cc o = one;
            o.flags &= ~LARDER_CC_F_INVALID;
            /* min-fresh keeps the largest, the rest keep equal values */
            if (!cc_equal(&o, &again))
                die("adding the same value twice changed the result", data, size);
        }
        free(v);
    }

    /* 2. split at LF into lines: byte 0 of each line picks its field name */
    while (pos < size && nlines < MAX_LINES) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;

        lines[nlines] = exact_copy(data + pos, end - pos);
        lens[nlines] = end - pos;
        nlines++;
        pos = end + 1;
    }

    /* Cache-Control lines one by one must equal them joined with commas, as
     * long as no quoted string can swallow a comma (RFC 9110 5.3) */
    larder_freshness_cc_init(&byline);
    larder_freshness_cc_init(&manual);
    {
        size_t cap = size + MAX_LINES + 1, jl = 0;
        char *join = malloc(cap);

        if (join == NULL)
            abort();
        for (i = 0; i < nlines; i++) {
            const char *v = lens[i] > 0 ? lines[i] + 1 : lines[i];
            size_t vl = lens[i] > 0 ? lens[i] - 1 : 0;
            struct larder_cc before = byline;

            larder_freshness_cc_add(&byline, v, vl);
            if ((before.flags & byline.flags) != before.flags)
                die("a later line took a flag away", data, size);
            check_ranges(&byline, data, size);
            if (memchr(v, '"', vl) != NULL)
                quote_seen = 1;
            if (jl > 0)
                join[jl++] = ',';
            memcpy(join + jl, v, vl);
            jl += vl;
        }
        {
            char *j = exact_copy((const uint8_t *)join, jl);

            larder_freshness_cc_init(&joined);
            if (nlines > 0)
                larder_freshness_cc_add(&joined, j, jl);
            if (nlines > 0 && !quote_seen && !cc_equal(&byline, &joined))
                die("lines one by one differ from the lines joined", data, size);
            free(j);
        }
        free(join);
    }

    /* 3. the lines as fields of a response and of a request */
    head_init(&resp, fields, MAX_LINES, 0);
    head_init(&req, req_fields, MAX_LINES + 1, 1);
    req_fields[0].name = "Host";
    req_fields[0].name_len = 4;
    req_fields[0].value = "a.test";
    req_fields[0].value_len = 6;
    req_fields[0].flags = 0;
    req.nfields = 1;
    for (i = 0; i < nlines; i++) {
        const char *name = names[lens[i] > 0 ? (unsigned char)lines[i][0] % NNAMES : 0];
        struct larder_http_field f;

        f.name = name;
        f.name_len = strlen(name);
        f.value = lens[i] > 0 ? lines[i] + 1 : lines[i];
        f.value_len = lens[i] > 0 ? lens[i] - 1 : 0;
        f.flags = 0;
        resp.fields[resp.nfields++] = f;
        req.fields[req.nfields++] = f;
        if (larder_http_field_is(&f, "cache-control")) {
            has_cc = 1;
            larder_freshness_cc_add(&manual, f.value, f.value_len);
        } else if (larder_http_field_is(&f, "pragma") &&
                   larder_http_list_has(f.value, f.value_len, "no-cache")) {
            has_pragma_nc = 1;
        }
    }
    larder_freshness_cc_response(&resp, &resp_cc);
    larder_freshness_cc_request(&req, &req_cc);
    check_ranges(&resp_cc, data, size);
    check_ranges(&req_cc, data, size);
    if (!cc_equal(&resp_cc, &manual))
        die("cc_response differs from its Cache-Control lines added in order", data, size);
    if (resp_cc.flags & LARDER_CC_F_PRAGMA)
        die("Pragma counted in a response", data, size);
    if (has_cc != !!(resp_cc.flags & LARDER_CC_F_PRESENT))
        die("PRESENT does not match the Cache-Control lines", data, size);
    if (has_cc) {
        /* with Cache-Control, Pragma is ignored: request == response */
        if (!cc_equal(&req_cc, &resp_cc))
            die("cc_request differs from cc_response with Cache-Control present", data, size);
    } else {
        unsigned want = has_pragma_nc ? (LARDER_CC_F_NO_CACHE | LARDER_CC_F_PRAGMA) : 0;

        if (req_cc.flags != want)
            die("Pragma: no-cache not applied as documented", data, size);
        if (req_cc.max_age != LARDER_CC_ABSENT || req_cc.min_fresh != LARDER_CC_ABSENT)
            die("values without any Cache-Control line", data, size);
    }

    /* 4. whatever the tricks, private and no-store keep a response out */
    why = larder_freshness_storable(&req, &req_cc, &resp, &resp_cc);
    if (why == NULL) {
        if (resp_cc.flags & LARDER_CC_F_PRIVATE)
            die("a private response is storable", data, size);
        if (req_cc.flags & LARDER_CC_F_NO_STORE)
            die("stored against the request's no-store", data, size);
        if ((resp_cc.flags & LARDER_CC_F_NO_STORE) &&
            !(resp_cc.flags & LARDER_CC_F_MUST_UNDERSTAND))
            die("a no-store response is storable", data, size);
        if (larder_http_find(&req, "authorization", 0) >= 0 &&
            !(resp_cc.flags & (LARDER_CC_F_PUBLIC | LARDER_CC_F_MUST_REVALIDATE)) &&
            resp_cc.s_maxage == LARDER_CC_ABSENT)
            die("a response to Authorization is storable without public, s-maxage "
                "or must-revalidate", data, size);
        if (larder_http_find(&resp, "set-cookie", 0) >= 0 &&
            !(resp_cc.flags & LARDER_CC_F_PUBLIC) && resp_cc.s_maxage == LARDER_CC_ABSENT)
            die("a response with Set-Cookie is storable without public or s-maxage",
                data, size);
    } else if (why[0] == '\0') {
        die("empty reason", data, size);
    }
    {
        struct larder_freshness fr;
        int64_t now = 1700000000;

        larder_freshness_init(&fr, &resp, &resp_cc, now - 1, now, 86400);
        if (fr.lifetime < 0 || fr.lifetime > LARDER_DELTA_MAX)
            die("lifetime out of range", data, size);
        if (larder_freshness_age(&fr, now + 10) < 0)
            die("negative age", data, size);
        (void)larder_freshness_decide(&fr, &req_cc, now + 10);
        if (resp_cc.s_maxage >= 0 && fr.lifetime != resp_cc.s_maxage)
            die("s-maxage is not the lifetime", data, size);
        if (resp_cc.s_maxage < 0 && resp_cc.max_age >= 0 && fr.lifetime != resp_cc.max_age)
            die("max-age is not the lifetime", data, size);
    }
    for (i = 0; i < nlines; i++)
        free(lines[i]);
    return 0;
}
