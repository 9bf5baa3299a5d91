/* SPDX-License-Identifier: MIT */
/* dns.c - non-blocking resolution: literals, /etc/hosts, a TTL-honouring
 * cache with bounded size, and evdns A + AAAA queries coalesced per name. */
#include "larder/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "larder/config.h"
#include "larder/log.h"
#include "larder/util.h"

#define GRACE_MS 100 /* wait this long for the other family after one answers */

struct dns_query;

struct larder_dns_req {
    struct dns_query *q;
    uint16_t port;
    larder_dns_cb cb;
    void *arg;
    struct larder_dns_req *prev, *next;
};

struct dns_entry {
    char *name;                   /* lower-cased; the hash key */
    UT_hash_handle hh;
    unsigned n;
    struct sockaddr_storage addr[LARDER_DNS_MAX_ADDRS]; /* port 0 */
    socklen_t len[LARDER_DNS_MAX_ADDRS];
    const char *error;
    int timed_out;
    uint64_t expires_ms;          /* when the answer goes stale */
    struct dns_query *query;      /* in flight, else NULL */
    struct dns_entry *prev, *next; /* cache age order, oldest first */
};

struct dns_query {
    struct larder_dns *d;         /* NULL once the resolver is gone */
    struct dns_entry *entry;
    int pending;                  /* evdns callbacks still to come */
    int answered;                 /* waiters have been told */
    struct sockaddr_storage v4[LARDER_DNS_MAX_ADDRS], v6[LARDER_DNS_MAX_ADDRS];
    unsigned n4, n6;
    int err4, err6;               /* DNS_ERR_* or -1 while pending */
    uint32_t ttl;
    struct event *grace;
    struct larder_dns_req *waiters;
    struct dns_query *prev, *next; /* all queries, for shutdown */
};

struct larder_dns {
    struct event_base *base;
    struct evdns_base *edns;
    const struct larder_config *cfg;
    struct dns_entry *hosts;      /* from /etc/hosts, never expire */
    struct dns_entry loopback;    /* localhost and *.localhost not in hosts */
    struct dns_entry *cache;      /* answers and failures */
    struct dns_entry *age;        /* cache entries, oldest first */
    unsigned ncache;
    struct dns_query *queries;
    struct larder_dns_stats stats;
};

/* ---- entries ------------------------------------------------------------- */

static void lower_copy(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static void entry_add_addr(struct dns_entry *e, const void *ip, int family)
{
    struct sockaddr_storage *ss;

    if (e->n >= LARDER_DNS_MAX_ADDRS)
        return;
    ss = &e->addr[e->n];
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip, sizeof(sin->sin_addr));
        e->len[e->n] = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip, sizeof(sin6->sin6_addr));
        e->len[e->n] = sizeof(*sin6);
    }
    e->n++;
}

static void fill_result(const struct dns_entry *e, uint16_t port,
                        struct larder_dns_result *res)
{
    memset(res, 0, sizeof(*res));
    res->n = e->n;
    res->error = e->error;
    res->timed_out = e->timed_out;
    for (unsigned i = 0; i < e->n; i++) {
        res->addr[i] = e->addr[i];
        res->len[i] = e->len[i];
        if (res->addr[i].ss_family == AF_INET)
            ((struct sockaddr_in *)&res->addr[i])->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)&res->addr[i])->sin6_port = htons(port);
    }
    if (res->n == 0 && res->error == NULL)
        res->error = "no address for host";
}

static void cache_remove(struct larder_dns *d, struct dns_entry *e)
{
    HASH_DEL(d->cache, e);
    DL_DELETE2(d->age, e, prev, next);
    d->ncache--;
    free(e->name);
    free(e);
}

static void cache_trim(struct larder_dns *d)
{
    struct dns_entry *e, *tmp;

    DL_FOREACH_SAFE2(d->age, e, tmp, next) {
        if (d->ncache <= d->cfg->dns_cache_entries)
            break;
        if (e->query == NULL)
            cache_remove(d, e);
    }
}

/* ---- /etc/hosts ------------------------------------------------------------ */

static struct dns_entry *hosts_entry(struct larder_dns *d, const char *name)
{
    struct dns_entry *e;
    char key[256];

    lower_copy(key, name, sizeof(key));
    HASH_FIND_STR(d->hosts, key, e);
    if (e == NULL) {
        e = larder_xcalloc(1, sizeof(*e));
        e->name = larder_xstrdup(key);
        HASH_ADD_KEYPTR(hh, d->hosts, e->name, strlen(e->name), e);
    }
    return e;
}

static void load_hosts(struct larder_dns *d, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *ip, *name;
        unsigned char buf[16];
        int family;
        char *hash = strchr(line, '#');

        if (hash != NULL)
            *hash = '\0';
        ip = strtok_r(line, " \t\r\n", &save);
        if (ip == NULL)
            continue;
        if (inet_pton(AF_INET, ip, buf) == 1)
            family = AF_INET;
        else if (inet_pton(AF_INET6, ip, buf) == 1)
            family = AF_INET6;
        else
            continue;
        while ((name = strtok_r(NULL, " \t\r\n", &save)) != NULL)
            entry_add_addr(hosts_entry(d, name), buf, family);
    }
    fclose(f);
}

/* IPv4 addresses first: they are what most origins here answer on. */
static void sort_v4_first(struct dns_entry *e)
{
    struct sockaddr_storage tmp[LARDER_DNS_MAX_ADDRS];
    socklen_t tlen[LARDER_DNS_MAX_ADDRS];
    unsigned k = 0;

    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < e->n; i++)
            if ((e->addr[i].ss_family == AF_INET) == (pass == 0)) {
                tmp[k] = e->addr[i];
                tlen[k++] = e->len[i];
            }
    memcpy(e->addr, tmp, sizeof(tmp[0]) * e->n);
    memcpy(e->len, tlen, sizeof(tlen[0]) * e->n);
}

/* ---- queries --------------------------------------------------------------- */

static void query_maybe_free(struct dns_query *q)
{
    if (q->pending > 0 || (q->d != NULL && !q->answered))
        return;
    if (q->d != NULL)
        DL_DELETE(q->d->queries, q);
    if (q->grace != NULL)
        event_free(q->grace);
    free(q);
}

/* Tells the waiters and settles the cache entry. */
static void query_answer(struct dns_query *q)
{
    struct larder_dns *d = q->d;
    struct dns_entry *e = q->entry;
    struct larder_dns_req *w, *tmp;
    struct larder_dns_result res;
    int cacheable;

    q->answered = 1;
    if (q->grace != NULL)
        event_del(q->grace);
    e->n = 0;
    for (unsigned i = 0; i < q->n4; i++)
        entry_add_addr(e, &((struct sockaddr_in *)&q->v4[i])->sin_addr, AF_INET);
    for (unsigned i = 0; i < q->n6; i++)
        entry_add_addr(e, &((struct sockaddr_in6 *)&q->v6[i])->sin6_addr, AF_INET6);
    e->query = NULL;
    e->timed_out = 0;
    if (e->n > 0) {
        uint64_t ttl = q->ttl < d->cfg->dns_max_ttl ? q->ttl : d->cfg->dns_max_ttl;
        e->error = NULL;
        e->expires_ms = larder_now_ms() + ttl * 1000u;
        cacheable = ttl > 0;
    } else {
        int timeout = q->err4 == DNS_ERR_TIMEOUT || q->err6 == DNS_ERR_TIMEOUT;
        e->timed_out = timeout;
        e->error = timeout ? "DNS lookup timed out" : "unknown host";
        e->expires_ms = larder_now_ms() + d->cfg->dns_negative_ttl * 1000u;
        /* a timeout says nothing about the name: ask again next time */
        cacheable = !timeout && d->cfg->dns_negative_ttl > 0;
        d->stats.failures++;
    }
    DL_FOREACH_SAFE(q->waiters, w, tmp) {
        DL_DELETE(q->waiters, w);
        fill_result(e, w->port, &res);
        w->cb(&res, w->arg);
        free(w);
    }
    q->entry = NULL;
    if (!cacheable)
        cache_remove(d, e);
    else
        cache_trim(d);
    query_maybe_free(q);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct dns_query *q = arg;
    (void)fd;
    (void)what;
    if (!q->answered && q->d != NULL)
        query_answer(q);
}

static void query_got(struct dns_query *q, int result, char type, int count,
                      int ttl, void *addresses)
{
    int v6 = type == DNS_IPv6_AAAA;
    unsigned *n = v6 ? &q->n6 : &q->n4;

    q->pending--;
    if (q->d == NULL || q->answered) {
        query_maybe_free(q);
        return;
    }
    if (v6)
        q->err6 = result;
    else
        q->err4 = result;
    if (result == DNS_ERR_NONE && (type == DNS_IPv4_A || type == DNS_IPv6_AAAA)) {
        for (int i = 0; i < count && *n < LARDER_DNS_MAX_ADDRS; i++) {
            struct sockaddr_storage *ss = v6 ? &q->v6[*n] : &q->v4[*n];
            memset(ss, 0, sizeof(*ss));
            if (v6) {
                ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
                memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr,
                       (struct in6_addr *)addresses + i, sizeof(struct in6_addr));
            } else {
                ((struct sockaddr_in *)ss)->sin_family = AF_INET;
                memcpy(&((struct sockaddr_in *)ss)->sin_addr,
                       (struct in_addr *)addresses + i, sizeof(struct in_addr));
            }
            (*n)++;
        }
        /* an empty answer (no AAAA, say) says nothing about how long the
         * other family's addresses hold */
        if (ttl < 0)
            ttl = 0;
        if (count > 0 && (uint32_t)ttl < q->ttl)
            q->ttl = (uint32_t)ttl;
    }
    if (q->pending == 0) {
        query_answer(q);
    } else if (q->n4 + q->n6 > 0) {
        struct timeval tv = { 0, GRACE_MS * 1000 };
        if (q->grace == NULL)
            q->grace = evtimer_new(q->d->base, on_grace, q);
        evtimer_add(q->grace, &tv);
    }
}

static void on_evdns(int result, char type, int count, int ttl, void *addresses, void *arg)
{
    query_got(arg, result, type, count, ttl, addresses);
}

static struct dns_query *query_start(struct larder_dns *d, struct dns_entry *e)
{
    struct dns_query *q = larder_xcalloc(1, sizeof(*q));

    q->d = d;
    q->entry = e;
    q->err4 = q->err6 = -1;
    q->ttl = UINT32_MAX;
    e->query = q;
    DL_APPEND(d->queries, q);
    /* evdns answers through deferred callbacks, never inside these calls */
    q->pending = 2;
    if (evdns_base_resolve_ipv4(d->edns, e->name, 0, on_evdns, q) == NULL) {
        q->pending--;
        q->err4 = DNS_ERR_UNKNOWN;
    }
    if (evdns_base_resolve_ipv6(d->edns, e->name, 0, on_evdns, q) == NULL) {
        q->pending--;
        q->err6 = DNS_ERR_UNKNOWN;
    }
    if (q->pending == 0) {
        query_answer(q);
        return NULL;
    }
    return q;
}

/* ---- API ------------------------------------------------------------------- */

/* evdns's own messages (a name server failing, coming back) go to our log. */
static void on_evdns_log(int is_warning, const char *msg)
{
    larder_log(is_warning ? LARDER_LOG_WARN : LARDER_LOG_DEBUG, "dns: %s", msg);
}

struct larder_dns *larder_dns_new(struct event_base *base, const struct larder_config *cfg)
{
    return larder_dns_new_from(base, cfg, "/etc/resolv.conf", "/etc/hosts");
}

struct larder_dns *larder_dns_new_from(struct event_base *base, const struct larder_config *cfg,
                                       const char *resolv_conf, const char *hosts)
{
    struct larder_dns *d = larder_xcalloc(1, sizeof(*d));
    char timeout[32];

    d->base = base;
    d->cfg = cfg;
    {
        /* RFC 6761: localhost names are loopback even without /etc/hosts;
         * one entry answers them all (none is kept per name asked) */
        struct in_addr v4 = { .s_addr = htonl(INADDR_LOOPBACK) };
        entry_add_addr(&d->loopback, &v4, AF_INET);
        entry_add_addr(&d->loopback, &in6addr_loopback, AF_INET6);
    }
    evdns_set_log_fn(on_evdns_log);
    d->edns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (d->edns == NULL) {
        free(d);
        return NULL;
    }
    if (evdns_base_resolv_conf_parse(d->edns, DNS_OPTION_NAMESERVERS | DNS_OPTION_SEARCH |
                                     DNS_OPTION_MISC, resolv_conf) != 0)
        larder_log(LARDER_LOG_WARN, "dns: could not read %s; names outside %s will not resolve",
                   resolv_conf, hosts);
    /* two attempts share the configured timeout */
    snprintf(timeout, sizeof(timeout), "%.3f", (double)cfg->dns_timeout / 2000.0);
    evdns_base_set_option(d->edns, "timeout:", timeout);
    evdns_base_set_option(d->edns, "attempts:", "2");
    evdns_base_set_option(d->edns, "randomize-case:", "0");
    load_hosts(d, hosts);
    {
        struct dns_entry *e, *tmp;
        HASH_ITER(hh, d->hosts, e, tmp)
            sort_v4_first(e);
    }
    return d;
}

void larder_dns_free(struct larder_dns *d)
{
    struct dns_entry *e, *tmp;
    struct dns_query *q, *qtmp;

    if (d == NULL)
        return;
    /* no callbacks from evdns after this: requests are dropped silently */
    evdns_base_free(d->edns, 0);
    DL_FOREACH_SAFE(d->queries, q, qtmp) {
        struct larder_dns_req *w, *wtmp;
        DL_FOREACH_SAFE(q->waiters, w, wtmp)
            free(w);
        if (q->grace != NULL)
            event_free(q->grace);
        free(q);
    }
    HASH_ITER(hh, d->cache, e, tmp) {
        HASH_DEL(d->cache, e);
        free(e->name);
        free(e);
    }
    HASH_ITER(hh, d->hosts, e, tmp) {
        HASH_DEL(d->hosts, e);
        free(e->name);
        free(e);
    }
    free(d);
}

static int literal(const char *host, uint16_t port, struct larder_dns_result *res)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&res->addr[0];
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&res->addr[0];

    memset(res, 0, sizeof(*res));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        res->len[0] = sizeof(*sin);
        res->n = 1;
        return 1;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        res->len[0] = sizeof(*sin6);
        res->n = 1;
        return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int larder_dns_resolve(struct larder_dns *d, const char *host, uint16_t port,
                       struct larder_dns_result *res, larder_dns_cb cb, void *arg,
                       struct larder_dns_req **req_out)
{
    char key[256];
    struct dns_entry *e;
    struct larder_dns_req *w;

    *req_out = NULL;
    if (literal(host, port, res))
        return 0;
    d->stats.lookups++;
    lower_copy(key, host, sizeof(key));
    if (strlen(host) >= sizeof(key) || strcmp(key, "invalid") == 0 || ends_with(key, ".invalid")) {
        memset(res, 0, sizeof(*res));
        res->error = "unknown host";
        d->stats.failures++;
        return 0;
    }
    HASH_FIND_STR(d->hosts, key, e);
    if (e == NULL && (strcmp(key, "localhost") == 0 || ends_with(key, ".localhost")))
        e = &d->loopback;
    if (e != NULL) {
        d->stats.cache_hits++;
        fill_result(e, port, res);
        return 0;
    }
    HASH_FIND_STR(d->cache, key, e);
    if (e != NULL && e->query == NULL) {
        if (e->expires_ms > larder_now_ms()) {
            d->stats.cache_hits++;
            if (e->n == 0)
                d->stats.failures++;
            fill_result(e, port, res);
            /* refresh its place in the age order */
            DL_DELETE2(d->age, e, prev, next);
            DL_APPEND2(d->age, e, prev, next);
            return 0;
        }
        cache_remove(d, e);
        e = NULL;
    }
    if (e == NULL) {
        e = larder_xcalloc(1, sizeof(*e));
        e->name = larder_xstrdup(key);
        HASH_ADD_KEYPTR(hh, d->cache, e->name, strlen(e->name), e);
        DL_APPEND2(d->age, e, prev, next);
        d->ncache++;
        if (query_start(d, e) == NULL) {
            /* answered synchronously (no nameserver, say); the entry may be gone */
            HASH_FIND_STR(d->cache, key, e);
            if (e != NULL && e->query == NULL) {
                fill_result(e, port, res);
            } else {
                memset(res, 0, sizeof(*res));
                res->error = "unknown host";
            }
            return 0;
        }
    }
    w = larder_xcalloc(1, sizeof(*w));
    w->q = e->query;
    w->port = port;
    w->cb = cb;
    w->arg = arg;
    DL_APPEND(e->query->waiters, w);
    *req_out = w;
    return 1;
}

void larder_dns_cancel(struct larder_dns_req *req)
{
    if (req == NULL)
        return;
    DL_DELETE(req->q->waiters, req);
    free(req);
}

const struct larder_dns_stats *larder_dns_get_stats(const struct larder_dns *d)
{
    return &d->stats;
}

unsigned larder_dns_cache_count(const struct larder_dns *d)
{
    return d->ncache;
}
