/* SPDX-License-Identifier: MIT */
/* freshness.h - every RFC 9111 decision a shared cache makes, as pure
 * functions over parsed heads: Cache-Control, HTTP dates, storability,
 * freshness and age, serve/revalidate, stale-on-error, 304 merge, client
 * conditionals, Vary, invalidation and the Cache-Status header (RFC 9211).
 *
 * Nothing here does I/O, reads a clock, allocates or logs: time is always a
 * parameter in seconds since the epoch, results go into caller structs and
 * buffers, and strings returned are static. docs/caching.md explains the
 * rules for users; every judgment call where the RFCs leave room is there.
 *
 * Storing (request sent at <request_time>, response head received at
 * <response_time>):
 *
 *     struct larder_cc req_cc, resp_cc;
 *     larder_freshness_cc_request(req, &req_cc);
 *     larder_freshness_cc_response(resp, &resp_cc);
 *     const char *why = larder_freshness_storable(req, &req_cc, resp, &resp_cc);
 *     if (why == NULL) {             // else log <why> and just forward
 *         larder_freshness_init(&obj->fresh, resp, &resp_cc, request_time,
 *                               response_time, cfg->max_heuristic_freshness);
 *         larder_freshness_vary_list(resp, vary, sizeof vary, &vary_len);
 *         larder_freshness_vary_key(vary, vary_len, req, key, sizeof key, &key_len);
 *     }
 *
 * Serving (request head parsed, variant chosen by its Vary key):
 *
 *     switch (larder_freshness_decide(&obj->fresh, &req_cc, now)) {
 *     case LARDER_SERVE_FRESH:  larder_freshness_conditional(req, stored, &obj->fresh)
 *                               tells 304 / 412 / full response; ...
 *     case LARDER_SERVE_REVALIDATE: conditional GET upstream (If-None-Match from
 *                               the stored ETag, If-Modified-Since from the stored
 *                               Last-Modified), then:
 *         304 -> if larder_freshness_304_matches(stored, r304): replace the stored
 *                fields named by the 304's fields for which
 *                larder_freshness_304_replaces() is true, then
 *                larder_freshness_refresh(); else refetch unconditionally
 *         500/502/503/504 or unreachable -> larder_freshness_stale_on_error()
 *     ...
 *     }
 *
 * No stored response at all: answer 504 when req_cc.flags has
 * LARDER_CC_F_ONLY_IF_CACHED, else forward (Cache-Status fwd=uri-miss).
 * Any unsafe request answered: larder_freshness_invalidation().
 * Every response: larder_freshness_cache_status() and
 * larder_freshness_outcome_name() for the access log.
 */
#ifndef LARDER_FRESHNESS_H
#define LARDER_FRESHNESS_H

#include <stddef.h>
#include <stdint.h>

struct larder_http_head;
struct larder_http_field;

/* The largest delta-seconds larder represents: bigger values, and results
 * that would overflow, become this (RFC 9111 section 1.2.2). */
#define LARDER_DELTA_MAX INT64_C(2147483648)

/* ---- Cache-Control ------------------------------------------------------ */

/* Seconds directives hold a value >= 0, or one of these. Anything negative
 * means "not in effect". */
#define LARDER_CC_ABSENT  (-1)        /* directive not given */
#define LARDER_CC_IGNORED (-2)        /* given, but invalid or conflicting */
#define LARDER_CC_ANY     INT64_MAX   /* max-stale without a value */

#define LARDER_CC_F_PRESENT          0x0001u /* a Cache-Control field line was seen */
#define LARDER_CC_F_NO_CACHE         0x0002u /* no-cache (also from Pragma, requests) */
#define LARDER_CC_F_NO_STORE         0x0004u
#define LARDER_CC_F_PRIVATE          0x0008u
#define LARDER_CC_F_PUBLIC           0x0010u
#define LARDER_CC_F_MUST_REVALIDATE  0x0020u
#define LARDER_CC_F_PROXY_REVALIDATE 0x0040u
#define LARDER_CC_F_IMMUTABLE        0x0080u
#define LARDER_CC_F_ONLY_IF_CACHED   0x0100u
#define LARDER_CC_F_NO_TRANSFORM     0x0200u
#define LARDER_CC_F_MUST_UNDERSTAND  0x0400u
#define LARDER_CC_F_FIELD_LIST       0x0800u /* no-cache or private named fields;
                                                treated as the unqualified form */
#define LARDER_CC_F_INVALID          0x1000u /* a seconds value was invalid or a
                                                directive was repeated with
                                                another value (for logs) */
#define LARDER_CC_F_PRAGMA           0x2000u /* no-cache came from Pragma */

/* Directives of one head. Invalid or conflicting values are resolved toward
 * the safer reading: max-age and s-maxage become 0 (stale), max-stale,
 * stale-while-revalidate and stale-if-error become LARDER_CC_IGNORED, and
 * min-fresh ignores invalid values and keeps the largest valid one. */
struct larder_cc {
    int64_t max_age;                 /* request or response */
    int64_t s_maxage;                /* response */
    int64_t max_stale;               /* request; LARDER_CC_ANY without value */
    int64_t min_fresh;               /* request */
    int64_t stale_while_revalidate;  /* response (RFC 5861) */
    int64_t stale_if_error;          /* request or response (RFC 5861) */
    unsigned flags;                  /* LARDER_CC_F_* */
};

/* Empties <cc>: every seconds directive LARDER_CC_ABSENT, no flags. */
void larder_freshness_cc_init(struct larder_cc *cc);

/* Adds the directives of one Cache-Control field value to <cc> and sets
 * LARDER_CC_F_PRESENT. Directive names are case-insensitive; arguments may
 * be tokens or quoted strings (max-age="60" is 60); unknown directives are
 * ignored. Call once per field line, in order. */
void larder_freshness_cc_add(struct larder_cc *cc, const char *value, size_t len);

/* Parses every Cache-Control line of a request head. When the request has
 * no Cache-Control line at all, "Pragma: no-cache" sets LARDER_CC_F_NO_CACHE
 * (and LARDER_CC_F_PRAGMA). */
void larder_freshness_cc_request(const struct larder_http_head *req, struct larder_cc *out);

/* Parses every Cache-Control line of a response head (Pragma is ignored). */
void larder_freshness_cc_response(const struct larder_http_head *resp, struct larder_cc *out);

/* ---- HTTP dates (RFC 9110 section 5.6.7) -------------------------------- */

#define LARDER_HTTP_DATE_LEN 29      /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Parses an IMF-fixdate, RFC 850 or asctime date occupying all of s[0..len).
 * Returns seconds since the epoch, 0 for any valid date before 1970, or -1
 * when invalid (unknown day or month name, day not in the month, hour > 23,
 * minute > 59, second > 60, zone other than GMT, stray bytes). Names and
 * "GMT" match case-insensitively; the day name is not checked against the
 * date. An RFC 850 two-digit year is placed within 50 years of the year of
 * <now> (more than 50 years ahead means the previous century). */
int64_t larder_freshness_date_parse(const char *s, size_t len, int64_t now);

/* Writes <t> as IMF-fixdate plus a NUL into buf, which must hold at least
 * LARDER_HTTP_DATE_LEN + 1 bytes. <t> is clamped to 1970..9999. Returns buf. */
char *larder_freshness_date_format(int64_t t, char *buf);

/* ---- storing (RFC 9111 section 3) --------------------------------------- */

/* Whether a shared cache may store <resp>, the answer to <req>. Returns NULL
 * when it may, else a short static reason for logs: "method" (not GET),
 * "status" (1xx, 206, 304), "no-store", "must-understand" (status not
 * understood), "private", "authorization", "vary-star" (Vary: * or an
 * unparsable Vary), "no-freshness" (no explicit freshness and not
 * heuristically cacheable; error statuses always need explicit freshness),
 * "no-validator" (heuristic only, but no Last-Modified nor ETag), or
 * "set-cookie" (Set-Cookie without public or s-maxage). */
const char *larder_freshness_storable(const struct larder_http_head *req,
                                      const struct larder_cc *req_cc,
                                      const struct larder_http_head *resp,
                                      const struct larder_cc *resp_cc);

/* ---- freshness and age (RFC 9111 section 4.2) --------------------------- */

#define LARDER_FRESH_F_NO_CACHE         0x01u /* response no-cache: validate every use */
#define LARDER_FRESH_F_MUST_REVALIDATE  0x02u /* must-revalidate */
#define LARDER_FRESH_F_PROXY_REVALIDATE 0x04u /* proxy-revalidate, or s-maxage present */
#define LARDER_FRESH_F_IMMUTABLE        0x08u /* immutable (RFC 8246) */
#define LARDER_FRESH_F_PUBLIC           0x10u /* public */
#define LARDER_FRESH_F_HEURISTIC        0x20u /* lifetime is heuristic */
#define LARDER_FRESH_F_HAS_VALIDATOR    0x40u /* valid ETag or Last-Modified */

/* What RFC 9111 needs of a stored response, computed once at store time and
 * again on each 304. Plain data: copy it, keep it with the object. */
struct larder_freshness {
    int64_t request_time;            /* request sent upstream */
    int64_t response_time;           /* response head received */
    int64_t date;                    /* Date, or response_time when missing,
                                        invalid or conflicting */
    int64_t age_value;               /* Age, 0 when absent or invalid */
    int64_t expires;                 /* -1 absent or overridden by max-age /
                                        s-maxage; 0 when invalid (the past) */
    int64_t last_modified;           /* -1 absent or invalid */
    int64_t lifetime;                /* freshness lifetime, 0..LARDER_DELTA_MAX */
    int64_t corrected_initial_age;   /* RFC 9111 section 4.2.3 */
    int64_t stale_while_revalidate;  /* seconds, -1 none */
    int64_t stale_if_error;          /* seconds, -1 none */
    int status;                      /* stored status code */
    unsigned flags;                  /* LARDER_FRESH_F_* */
};

/* Computes <f> for response <resp> (its directives in <resp_cc>).
 * Lifetime: s-maxage, else max-age, else Expires - Date (0 when Expires is
 * invalid or repeated with another value), else, for 200, 203, 204, 300,
 * 301, 308 (and any other 2xx/3xx marked public), 10% of Date -
 * Last-Modified capped at <max_heuristic> seconds, else 0. */
void larder_freshness_init(struct larder_freshness *f, const struct larder_http_head *resp,
                           const struct larder_cc *resp_cc, int64_t request_time,
                           int64_t response_time, int64_t max_heuristic);

/* Recomputes <f> after a matching 304 received at <response_time>:
 * <merged> is the stored head with the 304's fields already merged in and
 * <merged_cc> its directives; Date and Age are taken from <r304> itself (a
 * 304 without Date is dated <response_time>, not with the stored Date). The
 * stored status is kept. The caller should also give the stored head a Date
 * when the 304 had none. */
void larder_freshness_refresh(struct larder_freshness *f, const struct larder_http_head *merged,
                              const struct larder_cc *merged_cc,
                              const struct larder_http_head *r304, int64_t request_time,
                              int64_t response_time, int64_t max_heuristic);

/* current_age = corrected_initial_age + (now - response_time), at least 0
 * and at most LARDER_DELTA_MAX: the value to send in Age. */
int64_t larder_freshness_age(const struct larder_freshness *f, int64_t now);

/* Remaining freshness, lifetime - current_age; <= 0 means stale. This is
 * Cache-Status ttl. */
int64_t larder_freshness_ttl(const struct larder_freshness *f, int64_t now);

/* Whether lifetime > current_age. */
int larder_freshness_is_fresh(const struct larder_freshness *f, int64_t now);

/* ---- serving (RFC 9111 section 4, RFC 5861) ----------------------------- */

enum larder_serve {
    LARDER_SERVE_FRESH = 0,          /* serve the stored response (hit) */
    LARDER_SERVE_STALE,              /* stale, accepted by request max-stale:
                                        serve it, no revalidation */
    LARDER_SERVE_STALE_REVALIDATE,   /* inside stale-while-revalidate: serve it
                                        now, revalidate in the background */
    LARDER_SERVE_REVALIDATE,         /* stale, or response no-cache: conditional
                                        request first (Cache-Status fwd=stale) */
    LARDER_SERVE_REVALIDATE_REQUEST, /* fresh, but the request (no-cache,
                                        max-age, min-fresh) wants it validated
                                        (Cache-Status fwd=request) */
    LARDER_SERVE_GATEWAY_TIMEOUT,    /* only-if-cached and the origin would be
                                        needed: answer 504 */
    LARDER_SERVE_COUNT               /* keep last */
};

/* Decides how to use the stored response <f> for a request with directives
 * <req_cc> at <now>. Vary must already have matched. Stale responses are
 * never served without validation when they carry no-cache,
 * must-revalidate, proxy-revalidate or s-maxage. A fresh immutable response
 * satisfies a request max-age (a browser reload) but not a request
 * no-cache. */
enum larder_serve larder_freshness_decide(const struct larder_freshness *f,
                                          const struct larder_cc *req_cc, int64_t now);

/* "fresh", "stale", "stale-revalidate", "revalidate", "revalidate-request",
 * "gateway-timeout"; for debug logs. */
const char *larder_freshness_serve_name(enum larder_serve s);

/* Whether <status> from the origin counts as an error that may let a stale
 * response be served instead: 500, 502, 503, 504 (RFC 5861 section 4). An
 * unreachable origin counts too; that is the caller's to know. */
int larder_freshness_is_error_status(int status);

/* Whether the stale (or fresh) stored response <f> may be served because
 * its revalidation failed. Never with no-cache, must-revalidate,
 * proxy-revalidate or s-maxage. Otherwise yes when the staleness at <now>
 * is within the request's stale-if-error; else not when the request has
 * no-cache; else yes within the response's stale-if-error, or at any
 * staleness when <serve_stale_on_error> (the config flag) is set. */
int larder_freshness_stale_on_error(const struct larder_freshness *f,
                                    const struct larder_cc *req_cc, int64_t now,
                                    int serve_stale_on_error);

/* ---- validation (RFC 9111 sections 3.2, 4.3.4; RFC 9110 section 13) ---- */

/* Compares two entity-tags (each a whole field value, e.g. W/"x"). Strong
 * comparison when <strong> (neither weak, opaque tags equal), else weak
 * (opaque tags equal). Returns 0 when either is not a valid entity-tag. */
int larder_freshness_etag_match(const char *a, size_t alen, const char *b, size_t blen,
                                int strong);

/* Whether the 304 <r304> identifies the stored response <stored> for update:
 * a strong ETag must match the stored ETag strongly, a weak one weakly; a
 * 304 without ETag but with Last-Modified must carry the stored
 * Last-Modified; a 304 with neither answers our own conditional request and
 * matches. Returns 1 to update, 0 when the stored response is not the one
 * the origin validated (refetch it). The same rule decides whether a 200
 * to a HEAD describes the stored response (RFC 9111 4.3.5). */
int larder_freshness_304_matches(const struct larder_http_head *stored,
                                 const struct larder_http_head *r304);

/* Whether field <f> of the 304 <r304> replaces the stored fields of the same
 * name. No for Content-Length, Content-Encoding and Content-Range (the
 * stored body depends on them), Age (kept in struct larder_freshness),
 * hop-by-hop fields and those named by the 304's Connection, proxy
 * authentication fields, and fields flagged LARDER_FIELD_F_DROP. */
int larder_freshness_304_replaces(const struct larder_http_head *r304,
                                  const struct larder_http_field *f);

enum larder_cond {
    LARDER_COND_NONE = 0,            /* send the stored response in full */
    LARDER_COND_NOT_MODIFIED,        /* answer 304 */
    LARDER_COND_PRECONDITION_FAILED, /* answer 412 */
    LARDER_COND_COUNT                /* keep last */
};

/* Evaluates the client's conditionals against the stored response (head
 * <stored>, metadata <f>) in RFC 9110 section 13.2.2 order: If-Match (strong
 * comparison), else If-Unmodified-Since; then If-None-Match (weak
 * comparison, "*", lists), else If-Modified-Since (GET and HEAD only, against
 * Last-Modified, else Date, else the time received). Only for a 2xx stored
 * response; a 304 only for GET and HEAD. Unparsable conditionals are
 * ignored. */
enum larder_cond larder_freshness_conditional(const struct larder_http_head *req,
                                              const struct larder_http_head *stored,
                                              const struct larder_freshness *f);

/* ---- Vary (RFC 9111 section 4.1) ---------------------------------------- */

/* Writes the response's Vary field names (all lines), lower-cased, without
 * duplicates, comma-separated without spaces, plus a NUL; *len_out is the
 * full length (>= cap means truncated: do not store). An empty list means
 * the response does not vary. Returns -1 for "*" or a name that is not a
 * token (never matches: do not store), else 0. */
int larder_freshness_vary_list(const struct larder_http_head *resp, char *buf, size_t cap,
                               size_t *len_out);

/* Writes the variant key of <req> for the Vary list <vary> (as produced by
 * larder_freshness_vary_list(), or any comma-separated list of names): per
 * name, "name:value\n" when the request has the field, "name\n" when it
 * does not. The value joins all lines of the field with ",", drops spaces
 * around commas and empty list members, folds other whitespace runs to one
 * space and trims; quoted strings are kept as they are. Writes a NUL;
 * *len_out is the full length (>= cap means truncated: do not use). Two
 * requests match iff their keys are equal. Fields flagged
 * LARDER_FIELD_F_DROP (hop-by-hop: the origin does not get them) count as
 * absent. Returns -1 for "*" or a non-token name, else 0. */
int larder_freshness_vary_key(const char *vary, size_t vary_len,
                              const struct larder_http_head *req, char *buf, size_t cap,
                              size_t *len_out);

/* ---- invalidation (RFC 9111 section 4.4) -------------------------------- */

/* Whether <method> is safe: GET, HEAD, OPTIONS, TRACE (case-sensitive). */
int larder_freshness_method_is_safe(const char *method, size_t len);

/* Other URIs an invalidating response names; the caller resolves them
 * against the target and invalidates only those with the same authority. */
struct larder_invalidation {
    const char *location;            /* Location value, NULL when absent */
    size_t location_len;
    const char *content_location;    /* Content-Location value, NULL when absent */
    size_t content_location_len;
};

/* Whether the answer <resp> to <req> invalidates the target URI: an unsafe
 * method (anything but GET, HEAD, OPTIONS, TRACE; CONNECT excluded) answered
 * with 2xx or 3xx. Returns 1 with <out> filled (a field present on more than
 * one line is left NULL), else 0 with <out> zeroed. */
int larder_freshness_invalidation(const struct larder_http_head *req,
                                  const struct larder_http_head *resp,
                                  struct larder_invalidation *out);

/* ---- Cache-Status (RFC 9211) and access-log outcome --------------------- */

enum larder_cs_kind {
    LARDER_CS_HIT = 0,               /* fresh stored response, origin not asked */
    LARDER_CS_HIT_STALE,             /* stale stored response served without
                                        waiting (max-stale, stale-while-revalidate) */
    LARDER_CS_STALE_ON_ERROR,        /* revalidation failed, stale response served */
    LARDER_CS_URI_MISS,              /* nothing stored for the URI */
    LARDER_CS_VARY_MISS,             /* stored, but no variant matched */
    LARDER_CS_MISS,                  /* stored but unusable for another reason */
    LARDER_CS_STALE,                 /* stored stale or no-cache: validated upstream */
    LARDER_CS_REQUEST,               /* fresh, but the request demanded validation */
    LARDER_CS_BYPASS,                /* cache not consulted (policy, configuration) */
    LARDER_CS_METHOD,                /* method never served from the cache */
    LARDER_CS_UNAVAILABLE,           /* only-if-cached, nothing usable: 504 */
    LARDER_CS_KIND_COUNT             /* keep last */
};

struct larder_cache_status {
    enum larder_cs_kind kind;
    int fwd_status;                  /* status the next hop returned, 0 none */
    int has_ttl;                     /* add ttl= */
    int64_t ttl;                     /* larder_freshness_ttl() when sent */
    int stored;                      /* the forwarded response was stored */
    int collapsed;                   /* coalesced with a request in flight */
};

/* Writes the Cache-Status member for this cache, e.g. "larder; hit; ttl=42",
 * "larder; fwd=uri-miss; fwd-status=200; stored",
 * "larder; fwd=stale; fwd-status=304; ttl=60",
 * "larder; hit; ttl=-5; detail=stale". <name> is written as a token when it
 * is one, else as a quoted string. Parameter order: hit, fwd, fwd-status,
 * ttl, stored, collapsed, detail. Writes a NUL; returns the full length
 * (>= cap means truncated). */
size_t larder_freshness_cache_status(const struct larder_cache_status *cs, const char *name,
                                     char *buf, size_t cap);

/* Access-log outcome: "HIT", "STALE" (hit-stale), "STALE_ERROR",
 * "MISS" (uri-, vary-, other miss), "REVALIDATED" (stale or request with
 * fwd_status 304), "REFRESHED" (stale or request, any other answer),
 * "PASS" (bypass, method), "UNAVAILABLE". */
const char *larder_freshness_outcome_name(const struct larder_cache_status *cs);

#endif /* LARDER_FRESHNESS_H */
