/* SPDX-License-Identifier: MIT */
/* stats.c - counters, latency histograms and bounded top-host tables of what
 * the proxy has done, and their rendering as stats.json and Prometheus text. */
#include "larder/stats.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>

#include "larder/util.h"

/* Appends string literal <lit> without its NUL. */
#define ADD_LIT(buf, lit) evbuffer_add((buf), (lit), sizeof(lit) - 1)

/* One tracked host of a space-saving table (see stats.h). */
struct host_slot {
    char name[LARDER_STATS_HOST_MAX + 1];
    uint64_t value;               /* estimate: true count + at most error */
    uint64_t error;               /* count inherited from the host replaced */
    UT_hash_handle hh;
};

struct host_table {
    struct host_slot slots[LARDER_STATS_HOST_SLOTS];
    struct host_slot *index;      /* uthash by name over the used slots */
    unsigned used;                /* slots[0 .. used) are in the index */
};

struct larder_stats {
    struct larder_stats_counters c;
    struct host_table hosts[LARDER_RANK_COUNT];
};

static const char *const outcome_names[LARDER_OUTCOME_COUNT] = {
    "HIT", "MISS", "REVALIDATED", "REFRESHED", "STALE", "PASS", "TUNNEL", "ADMIN", "ERROR"
};

/* The same, as stats.json keys and metric label values. */
static const char *const outcome_keys[LARDER_OUTCOME_COUNT] = {
    "hit", "miss", "revalidated", "refreshed", "stale", "pass", "tunnel", "admin", "error"
};

static const char *const error_names[LARDER_ERR_KIND_COUNT] = {
    "bad_request", "denied", "client_timeout", "dns", "connect", "upstream_timeout",
    "bad_response", "truncated", "unavailable", "other"
};

static const char *const latency_names[LARDER_LATENCY_COUNT] = { "hit", "miss" };

/* 100 us to 10 s, roughly 1-2.5-5 per decade: a fresh hit on loopback lands
 * in the first buckets, a slow origin in the last. */
static const uint64_t latency_bounds_us[LARDER_STATS_LATENCY_BOUNDS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};

const char *larder_outcome_name(enum larder_outcome o)
{
    return o < LARDER_OUTCOME_COUNT ? outcome_names[o] : "?";
}

const char *larder_error_kind_name(enum larder_error_kind k)
{
    return k < LARDER_ERR_KIND_COUNT ? error_names[k] : "?";
}

uint64_t larder_stats_latency_bound_us(unsigned i)
{
    return i < LARDER_STATS_LATENCY_BOUNDS ? latency_bounds_us[i] : UINT64_MAX;
}

struct larder_stats *larder_stats_new(void)
{
    return larder_xcalloc(1, sizeof(struct larder_stats));
}

void larder_stats_free(struct larder_stats *s)
{
    if (s == NULL)
        return;
    for (int r = 0; r < LARDER_RANK_COUNT; r++)
        HASH_CLEAR(hh, s->hosts[r].index);
    free(s);
}

/* ---- the hot path ---------------------------------------------------------- */

static unsigned bucket_of(uint64_t us)
{
    unsigned lo = 0, hi = LARDER_STATS_LATENCY_BOUNDS;

    /* first bound >= us; LARDER_STATS_LATENCY_BOUNDS when above them all */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (latency_bounds_us[mid] < us)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void observe(struct larder_stats_histogram *h, uint64_t us)
{
    h->counts[bucket_of(us)]++;
    h->count++;
    h->sum_us += us;
}

/* Space-saving update of <t> by <weight> for <name> (already normalized).
 * No allocation once the index has its buckets: slots are fixed, and the
 * index never empties again after the first insert. */
static void host_add(struct host_table *t, const char *name, size_t len, uint64_t weight)
{
    struct host_slot *slot;

    HASH_FIND(hh, t->index, name, len, slot);
    if (slot != NULL) {
        slot->value += weight;
        return;
    }
    if (t->used < LARDER_STATS_HOST_SLOTS) {
        slot = &t->slots[t->used++];
        slot->error = 0;
        slot->value = weight;
    } else {
        /* replace the smallest; O(slots), only for hosts not tracked */
        struct host_slot *min = &t->slots[0];
        for (unsigned i = 1; i < LARDER_STATS_HOST_SLOTS; i++)
            if (t->slots[i].value < min->value)
                min = &t->slots[i];
        HASH_DELETE(hh, t->index, min);
        slot = min;
        slot->error = slot->value;
        slot->value += weight;
    }
    memcpy(slot->name, name, len);
    slot->name[len] = '\0';
    HASH_ADD(hh, t->index, name[0], len, slot);
}

void larder_stats_request(struct larder_stats *s, enum larder_outcome o, const char *host,
                          uint64_t bytes_out, uint64_t bytes_in, uint64_t duration_us)
{
    struct larder_stats_counters *c = &s->c;
    char name[LARDER_STATS_HOST_MAX + 1];
    size_t len = 0;

    if (o >= LARDER_OUTCOME_COUNT)
        return;
    c->requests[o]++;
    if (o == LARDER_OUTCOME_ADMIN)
        return;                   /* our own pages are not traffic */
    c->bytes_out[o] += bytes_out;
    c->bytes_to_clients += bytes_out;
    c->bytes_from_origins += bytes_in;
    switch (o) {
    case LARDER_OUTCOME_HIT:
    case LARDER_OUTCOME_STALE:
        c->bytes_saved += bytes_out;
        observe(&c->latency[LARDER_LATENCY_HIT], duration_us);
        break;
    case LARDER_OUTCOME_REVALIDATED:
        c->bytes_saved += bytes_out;
        observe(&c->latency[LARDER_LATENCY_MISS], duration_us);
        break;
    case LARDER_OUTCOME_MISS:
    case LARDER_OUTCOME_REFRESHED:
        observe(&c->latency[LARDER_LATENCY_MISS], duration_us);
        break;
    default:
        break;
    }
    if (host == NULL || host[0] == '\0')
        return;
    while (host[len] != '\0' && len < LARDER_STATS_HOST_MAX) {
        name[len] = (char)tolower((unsigned char)host[len]);
        len++;
    }
    name[len] = '\0';
    host_add(&s->hosts[LARDER_RANK_REQUESTS], name, len, 1);
    if (bytes_out > 0)
        host_add(&s->hosts[LARDER_RANK_BYTES], name, len, bytes_out);
}

void larder_stats_error(struct larder_stats *s, enum larder_error_kind k)
{
    if (k < LARDER_ERR_KIND_COUNT)
        s->c.errors[k]++;
}

void larder_stats_client_accepted(struct larder_stats *s)
{
    s->c.clients_accepted++;
}

void larder_stats_client_refused(struct larder_stats *s)
{
    s->c.clients_refused++;
}

void larder_stats_coalesced(struct larder_stats *s)
{
    s->c.coalesced++;
}

/* ---- reading --------------------------------------------------------------- */

const struct larder_stats_counters *larder_stats_get(const struct larder_stats *s)
{
    return &s->c;
}

/* Of per-outcome values <v>: those served from the store. */
static uint64_t from_store(const uint64_t *v)
{
    return v[LARDER_OUTCOME_HIT] + v[LARDER_OUTCOME_REVALIDATED] + v[LARDER_OUTCOME_STALE];
}

/* Of per-outcome values <v>: those of HTTP requests answered (not tunnels,
 * admin pages or errors). */
static uint64_t http_answered(const uint64_t *v)
{
    return v[LARDER_OUTCOME_HIT] + v[LARDER_OUTCOME_REVALIDATED] + v[LARDER_OUTCOME_STALE] +
           v[LARDER_OUTCOME_MISS] + v[LARDER_OUTCOME_REFRESHED] + v[LARDER_OUTCOME_PASS];
}

double larder_stats_hit_ratio(const struct larder_stats_counters *c)
{
    uint64_t all = http_answered(c->requests);

    return all ? (double)from_store(c->requests) / (double)all : 0.0;
}

double larder_stats_byte_hit_ratio(const struct larder_stats_counters *c)
{
    uint64_t all = http_answered(c->bytes_out);

    return all ? (double)c->bytes_saved / (double)all : 0.0;
}

static int cmp_host(const void *a, const void *b)
{
    const struct larder_stats_host *x = a, *y = b;

    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return strcmp(x->name, y->name);
}

size_t larder_stats_top_hosts(const struct larder_stats *s, enum larder_stats_rank r,
                              struct larder_stats_host *out, size_t max)
{
    struct larder_stats_host all[LARDER_STATS_HOST_SLOTS];
    const struct host_table *t;
    size_t n;

    if (r >= LARDER_RANK_COUNT)
        return 0;
    t = &s->hosts[r];
    for (n = 0; n < t->used; n++) {
        all[n].name = t->slots[n].name;
        all[n].value = t->slots[n].value;
        all[n].error = t->slots[n].error;
    }
    qsort(all, n, sizeof(all[0]), cmp_host);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(all[0]));
    return n;
}

/* ---- JSON ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..len), or 0 (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        if (s[0] == 0xe0)
            lo = 0xa0;
        else if (s[0] == 0xed)
            hi = 0x9f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        if (s[0] == 0xf0)
            lo = 0x90;
        else if (s[0] == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

void larder_stats_json_string(struct evbuffer *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    ADD_LIT(out, "\"");
    while (i < len) {
        unsigned char ch = p[i];
        size_t n;

        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            i++;
            run++;
            continue;
        }
        if (ch >= 0x80 && (n = utf8_len(p + i, len - i)) > 0) {
            i += n;
            run += n;
            continue;
        }
        evbuffer_add(out, p + i - run, run);   /* the plain bytes before */
        run = 0;
        switch (ch) {
        case '"':  ADD_LIT(out, "\\\""); break;
        case '\\': ADD_LIT(out, "\\\\"); break;
        case '\n': ADD_LIT(out, "\\n"); break;
        case '\r': ADD_LIT(out, "\\r"); break;
        case '\t': ADD_LIT(out, "\\t"); break;
        default:   evbuffer_add_printf(out, "\\u%04x", ch); break; /* control, stray byte */
        }
        i++;
    }
    evbuffer_add(out, p + i - run, run);
    ADD_LIT(out, "\"");
}

static void json_u64(struct evbuffer *out, const char *key, uint64_t v, int comma)
{
    evbuffer_add_printf(out, "%s\"%s\":%llu", comma ? "," : "", key, (unsigned long long)v);
}

static void json_histogram(struct evbuffer *out, const struct larder_stats_histogram *h)
{
    ADD_LIT(out, "{\"counts\":[");
    for (unsigned i = 0; i <= LARDER_STATS_LATENCY_BOUNDS; i++)
        evbuffer_add_printf(out, "%s%llu", i ? "," : "", (unsigned long long)h->counts[i]);
    ADD_LIT(out, "]");
    json_u64(out, "count", h->count, 1);
    json_u64(out, "sum_us", h->sum_us, 1);
    ADD_LIT(out, "}");
}

static void json_hosts(const struct larder_stats *s, enum larder_stats_rank r, const char *unit,
                       struct evbuffer *out)
{
    struct larder_stats_host top[LARDER_STATS_TOP_SHOWN];
    size_t n = larder_stats_top_hosts(s, r, top, LARDER_STATS_TOP_SHOWN);

    ADD_LIT(out, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ADD_LIT(out, ",");
        ADD_LIT(out, "{\"host\":");
        larder_stats_json_string(out, top[i].name, strlen(top[i].name));
        json_u64(out, unit, top[i].value, 1);
        json_u64(out, "max_error", top[i].error, 1);
        ADD_LIT(out, "}");
    }
    ADD_LIT(out, "]");
}

void larder_stats_render_json(const struct larder_stats *s, const struct larder_stats_env *env,
                              struct evbuffer *out)
{
    const struct larder_stats_counters *c = &s->c;
    uint64_t total = 0, errors = 0;

    for (int o = 0; o < LARDER_OUTCOME_COUNT; o++)
        total += c->requests[o];
    for (int k = 0; k < LARDER_ERR_KIND_COUNT; k++)
        errors += c->errors[k];

    evbuffer_add_printf(out, "{\"version\":\"%s\",\"now\":%lld,\"uptime_seconds\":%lld",
                        LARDER_VERSION, (long long)env->now, (long long)env->uptime);

    ADD_LIT(out, ",\"requests\":{");
    json_u64(out, "total", total, 0);
    for (int o = 0; o < LARDER_OUTCOME_COUNT; o++)
        json_u64(out, outcome_keys[o], c->requests[o], 1);
    ADD_LIT(out, "}");

    evbuffer_add_printf(out, ",\"hit_ratio\":{\"requests\":%.6f,\"bytes\":%.6f}",
                        larder_stats_hit_ratio(c), larder_stats_byte_hit_ratio(c));

    ADD_LIT(out, ",\"bytes\":{");
    json_u64(out, "to_clients", c->bytes_to_clients, 0);
    json_u64(out, "from_origins", c->bytes_from_origins, 1);
    json_u64(out, "saved", c->bytes_saved, 1);
    ADD_LIT(out, ",\"to_clients_by_outcome\":{");
    for (int o = 0, n = 0; o < LARDER_OUTCOME_COUNT; o++)
        if (o != LARDER_OUTCOME_ADMIN)
            json_u64(out, outcome_keys[o], c->bytes_out[o], n++);
    ADD_LIT(out, "}}");

    ADD_LIT(out, ",\"cache\":{");
    json_u64(out, "objects", env->cache_objects, 0);
    json_u64(out, "memory_bytes", env->cache_bytes, 1);
    json_u64(out, "budget_bytes", env->cache_budget, 1);
    json_u64(out, "inserts", env->cache_inserts, 1);
    json_u64(out, "evictions", env->cache_evictions, 1);
    json_u64(out, "invalidations", env->cache_invalidations, 1);
    ADD_LIT(out, "}");

    json_u64(out, "coalesced", c->coalesced, 1);

    ADD_LIT(out, ",\"connections\":{");
    json_u64(out, "clients_active", env->clients_active, 0);
    json_u64(out, "clients_total", c->clients_accepted, 1);
    json_u64(out, "clients_refused", c->clients_refused, 1);
    json_u64(out, "upstream_active", env->upstream_active, 1);
    json_u64(out, "upstream_idle", env->upstream_idle, 1);
    json_u64(out, "upstream_reused", env->upstream_reused, 1);
    json_u64(out, "upstream_connects", env->upstream_connects, 1);
    json_u64(out, "upstream_connect_failures", env->upstream_connect_failures, 1);
    ADD_LIT(out, "}");

    ADD_LIT(out, ",\"dns\":{");
    json_u64(out, "lookups", env->dns_lookups, 0);
    json_u64(out, "cache_hits", env->dns_cache_hits, 1);
    json_u64(out, "failures", env->dns_failures, 1);
    ADD_LIT(out, "}");

    ADD_LIT(out, ",\"errors\":{");
    json_u64(out, "total", errors, 0);
    for (int k = 0; k < LARDER_ERR_KIND_COUNT; k++)
        json_u64(out, error_names[k], c->errors[k], 1);
    ADD_LIT(out, "}");

    ADD_LIT(out, ",\"latency\":{\"bounds_us\":[");
    for (unsigned i = 0; i < LARDER_STATS_LATENCY_BOUNDS; i++)
        evbuffer_add_printf(out, "%s%llu", i ? "," : "", (unsigned long long)latency_bounds_us[i]);
    ADD_LIT(out, "]");
    for (int l = 0; l < LARDER_LATENCY_COUNT; l++) {
        evbuffer_add_printf(out, ",\"%s\":", latency_names[l]);
        json_histogram(out, &c->latency[l]);
    }
    ADD_LIT(out, "}");

    evbuffer_add_printf(out, ",\"top_hosts\":{\"slots\":%d,\"by_requests\":",
                        LARDER_STATS_HOST_SLOTS);
    json_hosts(s, LARDER_RANK_REQUESTS, "requests", out);
    ADD_LIT(out, ",\"by_bytes\":");
    json_hosts(s, LARDER_RANK_BYTES, "bytes", out);
    ADD_LIT(out, "}}\n");
}

/* ---- Prometheus ------------------------------------------------------------ */

static void prom_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_u64(struct evbuffer *out, const char *name, const char *type, const char *help,
                     uint64_t v)
{
    prom_head(out, name, type, help);
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value: backslash, double quote and line feed escaped. */
static void prom_label_value(struct evbuffer *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            ADD_LIT(out, "\\\\");
        else if (*s == '"')
            ADD_LIT(out, "\\\"");
        else if (*s == '\n')
            ADD_LIT(out, "\\n");
        else
            evbuffer_add(out, s, 1);
    }
}

static void prom_hosts(const struct larder_stats *s, enum larder_stats_rank r, const char *name,
                       const char *help, struct evbuffer *out)
{
    struct larder_stats_host top[LARDER_STATS_TOP_SHOWN];
    size_t n = larder_stats_top_hosts(s, r, top, LARDER_STATS_TOP_SHOWN);

    prom_head(out, name, "gauge", help);
    for (size_t i = 0; i < n; i++) {
        evbuffer_add_printf(out, "%s{host=\"", name);
        prom_label_value(out, top[i].name);
        evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)top[i].value);
    }
}

void larder_stats_render_metrics(const struct larder_stats *s,
                                 const struct larder_stats_env *env, struct evbuffer *out)
{
    const struct larder_stats_counters *c = &s->c;

    prom_u64(out, "larder_uptime_seconds", "gauge", "Seconds since larder started.",
             (uint64_t)(env->uptime > 0 ? env->uptime : 0));

    prom_head(out, "larder_requests_total", "counter", "Requests answered, by outcome.");
    for (int o = 0; o < LARDER_OUTCOME_COUNT; o++)
        evbuffer_add_printf(out, "larder_requests_total{outcome=\"%s\"} %llu\n", outcome_keys[o],
                            (unsigned long long)c->requests[o]);

    prom_head(out, "larder_hit_ratio", "gauge",
              "Share of HTTP requests (basis=requests) or bytes (basis=bytes) served from the cache.");
    evbuffer_add_printf(out, "larder_hit_ratio{basis=\"requests\"} %.6f\n",
                        larder_stats_hit_ratio(c));
    evbuffer_add_printf(out, "larder_hit_ratio{basis=\"bytes\"} %.6f\n",
                        larder_stats_byte_hit_ratio(c));

    prom_head(out, "larder_client_bytes_total", "counter",
              "Bytes sent to clients (heads and bodies), by outcome.");
    for (int o = 0; o < LARDER_OUTCOME_COUNT; o++)
        if (o != LARDER_OUTCOME_ADMIN)
            evbuffer_add_printf(out, "larder_client_bytes_total{outcome=\"%s\"} %llu\n",
                                outcome_keys[o], (unsigned long long)c->bytes_out[o]);
    prom_u64(out, "larder_origin_bytes_total", "counter",
             "Bytes received from origins (heads and bodies).", c->bytes_from_origins);
    prom_u64(out, "larder_saved_bytes_total", "counter",
             "Bytes sent to clients from the cache (hit, revalidated, stale).", c->bytes_saved);

    prom_u64(out, "larder_cache_objects", "gauge", "Objects stored.", env->cache_objects);
    prom_u64(out, "larder_cache_memory_bytes", "gauge",
             "Memory the stored objects cost, everything included.", env->cache_bytes);
    prom_u64(out, "larder_cache_budget_bytes", "gauge", "The cache_size budget.",
             env->cache_budget);
    prom_u64(out, "larder_cache_inserts_total", "counter", "Objects stored since start.",
             env->cache_inserts);
    prom_u64(out, "larder_cache_evictions_total", "counter",
             "Objects dropped to stay within the budget.", env->cache_evictions);
    prom_u64(out, "larder_cache_invalidations_total", "counter",
             "Objects dropped by unsafe requests or purges.", env->cache_invalidations);
    prom_u64(out, "larder_coalesced_requests_total", "counter",
             "Requests that joined a fetch already in flight.", c->coalesced);

    prom_u64(out, "larder_client_connections", "gauge", "Client connections open.",
             env->clients_active);
    prom_u64(out, "larder_client_connections_accepted_total", "counter",
             "Client connections accepted.", c->clients_accepted);
    prom_u64(out, "larder_client_connections_refused_total", "counter",
             "Client connections refused at max_connections.", c->clients_refused);
    prom_head(out, "larder_upstream_connections", "gauge",
              "Origin connections open, in use (state=active) or pooled (state=idle).");
    evbuffer_add_printf(out, "larder_upstream_connections{state=\"active\"} %u\n",
                        env->upstream_active);
    evbuffer_add_printf(out, "larder_upstream_connections{state=\"idle\"} %u\n",
                        env->upstream_idle);
    prom_u64(out, "larder_upstream_connects_total", "counter", "Origin connections opened.",
             env->upstream_connects);
    prom_u64(out, "larder_upstream_connect_failures_total", "counter",
             "Origin connection attempts that failed.", env->upstream_connect_failures);
    prom_u64(out, "larder_upstream_reused_total", "counter",
             "Requests sent on a pooled origin connection.", env->upstream_reused);

    prom_u64(out, "larder_dns_lookups_total", "counter", "Host names resolved.",
             env->dns_lookups);
    prom_u64(out, "larder_dns_cache_hits_total", "counter",
             "Host names answered from the hosts file or the DNS cache.", env->dns_cache_hits);
    prom_u64(out, "larder_dns_failures_total", "counter", "Host names that did not resolve.",
             env->dns_failures);

    prom_head(out, "larder_errors_total", "counter", "Error responses larder sent, by kind.");
    for (int k = 0; k < LARDER_ERR_KIND_COUNT; k++)
        evbuffer_add_printf(out, "larder_errors_total{kind=\"%s\"} %llu\n", error_names[k],
                            (unsigned long long)c->errors[k]);

    prom_head(out, "larder_request_duration_seconds", "histogram",
              "Time from request head to last response byte queued: cache=hit served from "
              "the store, cache=miss waited for the origin.");
    for (int l = 0; l < LARDER_LATENCY_COUNT; l++) {
        const struct larder_stats_histogram *h = &c->latency[l];
        uint64_t cum = 0;

        for (unsigned i = 0; i < LARDER_STATS_LATENCY_BOUNDS; i++) {
            cum += h->counts[i];
            evbuffer_add_printf(out,
                                "larder_request_duration_seconds_bucket{cache=\"%s\",le=\"%g\"} "
                                "%llu\n",
                                latency_names[l], (double)latency_bounds_us[i] / 1e6,
                                (unsigned long long)cum);
        }
        evbuffer_add_printf(out,
                            "larder_request_duration_seconds_bucket{cache=\"%s\",le=\"+Inf\"} %llu\n"
                            "larder_request_duration_seconds_sum{cache=\"%s\"} %.6f\n"
                            "larder_request_duration_seconds_count{cache=\"%s\"} %llu\n",
                            latency_names[l], (unsigned long long)h->count, latency_names[l],
                            (double)h->sum_us / 1e6, latency_names[l],
                            (unsigned long long)h->count);
    }

    prom_hosts(s, LARDER_RANK_REQUESTS, "larder_top_host_requests",
               "Requests to the busiest origin hosts (space-saving estimate, never low).", out);
    prom_hosts(s, LARDER_RANK_BYTES, "larder_top_host_bytes",
               "Bytes sent to clients for the busiest origin hosts (space-saving estimate).",
               out);
}

void larder_stats_origin_bytes(struct larder_stats *s, uint64_t n)
{
    s->c.bytes_from_origins += n;
}
