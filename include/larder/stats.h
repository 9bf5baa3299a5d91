/* SPDX-License-Identifier: MIT */
/* stats.h - what the proxy has done, as counters cheap enough for the hot
 * path: one call per finished request, a few per connection. The admin
 * module renders them (stats.json, Prometheus metrics). */
#ifndef LARDER_STATS_H
#define LARDER_STATS_H

#include <stddef.h>
#include <stdint.h>

/* How a request was answered; also the access log's outcome column. */
enum larder_outcome {
    LARDER_OUTCOME_HIT = 0,       /* fresh from the cache */
    LARDER_OUTCOME_MISS,          /* fetched (and stored, if storable) */
    LARDER_OUTCOME_REVALIDATED,   /* stale, origin said 304, served stored */
    LARDER_OUTCOME_REFRESHED,     /* stale, origin sent a new response */
    LARDER_OUTCOME_STALE,         /* served stale (error, or while revalidating) */
    LARDER_OUTCOME_PASS,          /* not cacheable: forwarded */
    LARDER_OUTCOME_TUNNEL,        /* CONNECT */
    LARDER_OUTCOME_ADMIN,         /* larder's own pages */
    LARDER_OUTCOME_ERROR,         /* larder answered with an error */
    LARDER_OUTCOME_COUNT          /* keep last */
};

/* Why larder answered with an error (LARDER_OUTCOME_ERROR). */
enum larder_error_kind {
    LARDER_ERR_BAD_REQUEST = 0,   /* malformed request: 400, 414, 431, 501, 505 */
    LARDER_ERR_DENIED,            /* ACL, CONNECT port, forwarding loop: 403 */
    LARDER_ERR_CLIENT_TIMEOUT,    /* request head or body too slow: 408 */
    LARDER_ERR_DNS,               /* origin name did not resolve: 502/504 */
    LARDER_ERR_CONNECT,           /* origin refused or unreachable: 502 */
    LARDER_ERR_UPSTREAM_TIMEOUT,  /* origin too slow: 504 */
    LARDER_ERR_BAD_RESPONSE,      /* malformed or unframeable response: 502 */
    LARDER_ERR_TRUNCATED,         /* origin response cut short mid-body */
    LARDER_ERR_UNAVAILABLE,       /* only-if-cached with nothing stored: 504 */
    LARDER_ERR_OTHER,
    LARDER_ERR_KIND_COUNT         /* keep last */
};

const char *larder_outcome_name(enum larder_outcome o);     /* "HIT", "MISS", ... */
const char *larder_error_kind_name(enum larder_error_kind k); /* "bad_request", ... */

struct larder_stats;

struct larder_stats *larder_stats_new(void);
void larder_stats_free(struct larder_stats *s);

/* One finished request: <host> is the origin host (NULL for admin, errors
 * before a target was known); bytes_out went to the client (head and
 * body), bytes_in came from the origin; duration from complete request head
 * to last byte queued. Costs a few additions, a bucket search over 16
 * bounds and two hash lookups of the host; it allocates nothing once the
 * top-host index has its buckets (at most LARDER_STATS_HOST_SLOTS entries). */
void larder_stats_request(struct larder_stats *s, enum larder_outcome o, const char *host,
                          uint64_t bytes_out, uint64_t bytes_in, uint64_t duration_us);

void larder_stats_error(struct larder_stats *s, enum larder_error_kind k);

/* Response bytes read from an origin by a fetch no single request owns
 * (a shared cache fill); requests count their own through bytes_in. */
void larder_stats_origin_bytes(struct larder_stats *s, uint64_t n);

/* A client connection was accepted, or refused at max_connections. */
void larder_stats_client_accepted(struct larder_stats *s);
void larder_stats_client_refused(struct larder_stats *s);

/* A request joined a fetch already in flight for the same URL. */
void larder_stats_coalesced(struct larder_stats *s);

/* ---- reading -------------------------------------------------------------
 *
 * Admin pages only: none of this runs on the request path.
 *
 * Latency: two histograms with fixed bounds (Prometheus "le" buckets, in
 * microseconds): "hit" for requests answered from the store without asking
 * the origin (HIT, STALE), "miss" for those that waited for it (MISS,
 * REVALIDATED, REFRESHED). PASS, TUNNEL, ADMIN and ERROR are not timed.
 *
 * Top hosts: two fixed tables of LARDER_STATS_HOST_SLOTS hosts, one ranked
 * by requests, one by bytes sent to clients, kept with the space-saving
 * rule (Metwally et al. 2005): a host already tracked is incremented; a new
 * one takes a free slot, else replaces the host with the smallest count and
 * inherits that count (recorded as its error). Memory never grows, counts
 * are never under-estimated, any count is at most <error> too high, and
 * every host with more than 1/LARDER_STATS_HOST_SLOTS of the total is
 * tracked. Host names are lower-cased and cut to LARDER_STATS_HOST_MAX
 * bytes. ADMIN requests and a NULL host are not counted.
 */

#define LARDER_STATS_LATENCY_BOUNDS 16 /* finite bucket bounds */
#define LARDER_STATS_HOST_SLOTS 64     /* hosts tracked per ranking */
#define LARDER_STATS_HOST_MAX 255      /* longest host name kept */
#define LARDER_STATS_TOP_SHOWN 10      /* hosts per ranking in stats.json, metrics */

enum larder_stats_latency {
    LARDER_LATENCY_HIT = 0,       /* HIT, STALE */
    LARDER_LATENCY_MISS,          /* MISS, REVALIDATED, REFRESHED */
    LARDER_LATENCY_COUNT          /* keep last */
};

enum larder_stats_rank {
    LARDER_RANK_REQUESTS = 0,     /* top hosts by requests */
    LARDER_RANK_BYTES,            /* top hosts by bytes sent to clients */
    LARDER_RANK_COUNT             /* keep last */
};

struct larder_stats_histogram {
    uint64_t counts[LARDER_STATS_LATENCY_BOUNDS + 1]; /* per bucket, not cumulative:
                                     counts[i] holds durations in
                                     (bound[i-1], bound[i]]; the last one
                                     those above the largest bound */
    uint64_t count;               /* all observations */
    uint64_t sum_us;              /* their total, microseconds */
};

struct larder_stats_counters {
    uint64_t requests[LARDER_OUTCOME_COUNT];  /* finished requests by outcome */
    uint64_t bytes_out[LARDER_OUTCOME_COUNT]; /* sent to clients by outcome
                                                 (ADMIN: always 0) */
    uint64_t bytes_to_clients;    /* sum of bytes_out */
    uint64_t bytes_from_origins;  /* read from origins (heads and bodies) */
    uint64_t bytes_saved;         /* bytes_out of HIT, REVALIDATED, STALE */
    uint64_t errors[LARDER_ERR_KIND_COUNT];
    uint64_t clients_accepted;
    uint64_t clients_refused;
    uint64_t coalesced;
    struct larder_stats_histogram latency[LARDER_LATENCY_COUNT];
};

/* One ranked host: a borrowed name, valid until the next larder_stats_request. */
struct larder_stats_host {
    const char *name;
    uint64_t value;               /* estimated requests or bytes (never low) */
    uint64_t error;               /* value may be this much too high */
};

/* What other modules know, gathered by the caller (admin.c) for rendering. */
struct larder_stats_env {
    int64_t now;                  /* wall clock, seconds since the epoch */
    int64_t uptime;               /* seconds since start-up */
    unsigned clients_active;      /* open client connections */
    uint64_t cache_objects;
    uint64_t cache_bytes;         /* what stored objects cost */
    uint64_t cache_budget;        /* cache_size */
    uint64_t cache_inserts;
    uint64_t cache_evictions;
    uint64_t cache_invalidations;
    uint64_t upstream_connects;
    uint64_t upstream_connect_failures;
    uint64_t upstream_reused;
    unsigned upstream_active;
    unsigned upstream_idle;
    uint64_t dns_lookups;
    uint64_t dns_cache_hits;
    uint64_t dns_failures;
};

/* Bound <i> (0 .. LARDER_STATS_LATENCY_BOUNDS - 1) of the latency buckets,
 * in microseconds, increasing. */
uint64_t larder_stats_latency_bound_us(unsigned i);

/* The counters; borrowed, updated in place. */
const struct larder_stats_counters *larder_stats_get(const struct larder_stats *s);

/* Requests served from the store (HIT, REVALIDATED, STALE) over HTTP
 * requests answered (those plus MISS, REFRESHED, PASS); 0 when none. */
double larder_stats_hit_ratio(const struct larder_stats_counters *c);

/* bytes_saved over the bytes sent for the same HTTP requests; 0 when none. */
double larder_stats_byte_hit_ratio(const struct larder_stats_counters *c);

/* Writes up to <max> hosts of ranking <r> into <out>, largest value first
 * (ties by name). Returns how many. */
size_t larder_stats_top_hosts(const struct larder_stats *s, enum larder_stats_rank r,
                              struct larder_stats_host *out, size_t max);

/* ---- rendering (docs/stats.md documents both formats) --------------------- */

struct evbuffer;

/* Appends the stats.json object. */
void larder_stats_render_json(const struct larder_stats *s, const struct larder_stats_env *env,
                              struct evbuffer *out);

/* Appends the Prometheus text exposition (format 0.0.4). */
void larder_stats_render_metrics(const struct larder_stats *s,
                                 const struct larder_stats_env *env, struct evbuffer *out);

/* Appends <s>[0..len) as a JSON string with its quotes: ", \ and control
 * bytes escaped, valid UTF-8 kept, any other byte written as \u00XX. */
void larder_stats_json_string(struct evbuffer *out, const char *s, size_t len);

#endif /* LARDER_STATS_H */
