/* SPDX-License-Identifier: MIT */
/* stats.c - counters of what the proxy has done. */
#include "larder/stats.h"

#include "larder/util.h"

static const char *const outcome_names[LARDER_OUTCOME_COUNT] = {
    "HIT", "MISS", "REVALIDATED", "REFRESHED", "STALE", "PASS", "TUNNEL", "ADMIN", "ERROR"
};

const char *larder_outcome_name(enum larder_outcome o)
{
    return o < LARDER_OUTCOME_COUNT ? outcome_names[o] : "?";
}

struct larder_stats *larder_stats_new(void)
{
    return larder_xcalloc(1, sizeof(struct larder_stats));
}

void larder_stats_free(struct larder_stats *s)
{
    free(s);
}

void larder_stats_request(struct larder_stats *s, enum larder_outcome o,
                          uint64_t bytes_out, uint64_t bytes_in, uint64_t duration_us)
{
    (void)duration_us;
    if (o < LARDER_OUTCOME_COUNT)
        s->requests[o]++;
    s->bytes_to_clients += bytes_out;
    s->bytes_from_origins += bytes_in;
}
