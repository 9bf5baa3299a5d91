/* SPDX-License-Identifier: MIT */
/* stats.h - what the proxy has done, as counters cheap enough for the hot
 * path: one call per finished request, a few per connection. */
#ifndef LARDER_STATS_H
#define LARDER_STATS_H

#include <stdint.h>

/* How a request was answered; also the access log's outcome column. */
enum larder_outcome {
    LARDER_OUTCOME_HIT = 0,       /* fresh from the cache */
    LARDER_OUTCOME_MISS,          /* fetched (and stored, if storable) */
    LARDER_OUTCOME_REVALIDATED,   /* stale, origin said 304, served stored */
    LARDER_OUTCOME_REFRESHED,     /* stale, origin sent a new 200 */
    LARDER_OUTCOME_STALE,         /* served stale (error, or while revalidating) */
    LARDER_OUTCOME_PASS,          /* not cacheable: forwarded */
    LARDER_OUTCOME_TUNNEL,        /* CONNECT */
    LARDER_OUTCOME_ADMIN,         /* larder's own pages */
    LARDER_OUTCOME_ERROR,         /* larder answered with an error */
    LARDER_OUTCOME_COUNT          /* keep last */
};

const char *larder_outcome_name(enum larder_outcome o); /* "HIT", "MISS", ... */

struct larder_stats {
    uint64_t requests[LARDER_OUTCOME_COUNT];
    uint64_t bytes_to_clients;    /* response bytes written to clients */
    uint64_t bytes_from_origins;  /* response bytes read from origins */
    uint64_t client_connections;  /* accepted since start */
    uint64_t client_refused;      /* closed at accept: max_connections */
};

struct larder_stats *larder_stats_new(void);
void larder_stats_free(struct larder_stats *s);

/* One finished request. */
void larder_stats_request(struct larder_stats *s, enum larder_outcome o,
                          uint64_t bytes_out, uint64_t bytes_in, uint64_t duration_us);

#endif /* LARDER_STATS_H */
