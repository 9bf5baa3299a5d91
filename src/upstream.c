/* SPDX-License-Identifier: MIT */
/* upstream.c - origin connections: resolve, connect address by address with
 * a timeout, and the per host:port pool of idle keep-alive connections. */
#include "larder/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "larder/config.h"
#include "larder/conn.h"
#include "larder/dns.h"
#include "larder/failure.h"
#include "larder/log.h"
#include "larder/util.h"

struct pool;

struct larder_upconn {
    struct larder_upstream *up;
    struct larder_conn *conn;
    char *key;                    /* "host:port", lower-cased */
    int reused;                   /* has served a request before */
    char peer[64];
    struct pool *pool;            /* set while idle in the pool */
    struct larder_upconn *prev, *next;
};

struct pool {
    char *key;
    UT_hash_handle hh;
    struct larder_upconn *idle;   /* most recently used last */
    unsigned n;
};

struct larder_upconnect {
    struct larder_upstream *up;
    char *host;
    uint16_t port;
    larder_upconnect_cb cb;
    void *arg;
    struct larder_dns_req *dreq;
    struct larder_dns_result res;
    unsigned next_addr;
    struct larder_conn *conn;     /* the attempt in flight */
    struct event *later;          /* runs the next step outside the caller */
    const struct larder_failure *fail; /* the failure so far */
    struct larder_upconnect *prev, *next;
};

struct larder_upstream {
    struct event_base *base;
    const struct larder_config *cfg;
    struct larder_dns *dns;
    larder_self_fn is_self;
    void *self_arg;
    struct pool *pools;
    struct larder_upconnect *connecting;
    struct larder_upstream_stats stats;
};

/* Writes "host:port", lower-cased, into buf, which must hold
 * strlen(host) + 8 bytes. */
static void write_key(char *buf, const char *host, uint16_t port)
{
    size_t i = 0;

    for (; host[i] != '\0'; i++)
        buf[i] = (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] - 'A' + 'a') : host[i];
    buf[i++] = ':';
    i += larder_fmt_u64(buf + i, port);
    buf[i] = '\0';
}

static char *make_key(const char *host, uint16_t port)
{
    char *buf = larder_xmalloc(strlen(host) + 8);

    write_key(buf, host, port);
    return buf;
}

static void addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, ntohs(sin->sin_port));
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    }
}

struct larder_upstream *larder_upstream_new(struct event_base *base,
                                            const struct larder_config *cfg,
                                            struct larder_dns *dns,
                                            larder_self_fn is_self, void *self_arg)
{
    struct larder_upstream *up = larder_xcalloc(1, sizeof(*up));

    up->base = base;
    up->cfg = cfg;
    up->dns = dns;
    up->is_self = is_self;
    up->self_arg = self_arg;
    return up;
}

static void upconn_free(struct larder_upconn *uc)
{
    larder_conn_free(uc->conn);
    free(uc->key);
    free(uc);
}

#define KEEP_EMPTY_POOLS 256 /* empty per-host pools kept for reuse */

static void pool_free(struct larder_upstream *up, struct pool *p);

static void pool_remove(struct larder_upconn *uc)
{
    struct pool *p = uc->pool;

    DL_DELETE(p->idle, uc);
    p->n--;
    uc->pool = NULL;
    uc->up->stats.idle--;
    /* an empty pool is kept for the connection that will come back to it,
     * unless there are many: then empty ones go */
    if (p->n == 0 && HASH_COUNT(uc->up->pools) > KEEP_EMPTY_POOLS)
        pool_free(uc->up, p);
}

static void pool_free(struct larder_upstream *up, struct pool *p)
{
    HASH_DEL(up->pools, p);
    free(p->key);
    free(p);
}

void larder_upstream_close_idle(struct larder_upstream *up)
{
    struct pool *p, *tmp;

    HASH_ITER(hh, up->pools, p, tmp) {
        while (p->n > 0) {
            struct larder_upconn *uc = p->idle;
            DL_DELETE(p->idle, uc);
            p->n--;
            up->stats.idle--;
            uc->pool = NULL;
            upconn_free(uc);
        }
        pool_free(up, p);
    }
}

void larder_upstream_free(struct larder_upstream *up)
{
    struct larder_upconnect *pc, *tmp;

    if (up == NULL)
        return;
    larder_upstream_close_idle(up);
    DL_FOREACH_SAFE(up->connecting, pc, tmp)
        larder_upstream_connect_cancel(pc);
    free(up);
}

/* ---- the pool -------------------------------------------------------------- */

/* An idle pooled connection only ever sees the origin close it (or time
 * out); any byte it sends is unsolicited and makes it unusable. */
static void on_idle_read(struct larder_conn *c, void *arg)
{
    struct larder_upconn *uc = arg;
    (void)c;
    larder_log(LARDER_LOG_DEBUG, "upstream %s: unsolicited bytes on an idle connection", uc->peer);
    pool_remove(uc);
    upconn_free(uc);
}

static void on_idle_event(struct larder_conn *c, short what, void *arg)
{
    struct larder_upconn *uc = arg;
    (void)c;
    (void)what;
    pool_remove(uc);
    upconn_free(uc);
}

struct larder_upconn *larder_upstream_take_idle(struct larder_upstream *up,
                                                const char *host, uint16_t port)
{
    char small[300], *key = strlen(host) + 8 <= sizeof(small) ? small : make_key(host, port);
    struct pool *p;
    struct larder_upconn *uc;

    if (key == small)
        write_key(key, host, port);
    HASH_FIND_STR(up->pools, key, p);
    if (key != small)
        free(key);
    if (p == NULL || p->n == 0)
        return NULL;
    uc = p->idle->prev;           /* the most recently used */
    pool_remove(uc);
    /* reading and its timeout stay on: the new owner sets its callbacks
     * and timeouts right away, and turning reading off and on again would
     * cost two epoll_ctl */
    larder_conn_setcb(uc->conn, NULL, NULL, NULL, NULL);
    up->stats.active++;
    up->stats.reused++;
    return uc;
}

void larder_upstream_release(struct larder_upconn *uc, int reusable)
{
    struct larder_upstream *up = uc->up;
    struct pool *p;

    up->stats.active--;
    if (!reusable || up->cfg->upstream_max_idle_per_host == 0 ||
        evbuffer_get_length(larder_conn_input(uc->conn)) > 0 ||
        evbuffer_get_length(larder_conn_output(uc->conn)) > 0) {
        upconn_free(uc);
        return;
    }
    HASH_FIND_STR(up->pools, uc->key, p);
    if (p == NULL) {
        p = larder_xcalloc(1, sizeof(*p));
        p->key = larder_xstrdup(uc->key);
        HASH_ADD_KEYPTR(hh, up->pools, p->key, strlen(p->key), p);
    }
    if (p->n >= up->cfg->upstream_max_idle_per_host) {
        /* the pool is full: drop its oldest connection for this fresher one */
        struct larder_upconn *old = p->idle;
        DL_DELETE(p->idle, old);
        p->n--;
        up->stats.idle--;
        old->pool = NULL;
        upconn_free(old);
    }
    uc->reused = 1;
    uc->pool = p;
    DL_APPEND(p->idle, uc);
    p->n++;
    up->stats.idle++;
    larder_conn_setcb(uc->conn, on_idle_read, NULL, on_idle_event, uc);
    larder_conn_set_timeouts(uc->conn, up->cfg->upstream_idle_timeout, 0);
    larder_conn_enable_read(uc->conn);
}

struct larder_conn *larder_upconn_conn(const struct larder_upconn *uc)
{
    return uc->conn;
}

int larder_upconn_reused(const struct larder_upconn *uc)
{
    return uc->reused;
}

const char *larder_upconn_peer(const struct larder_upconn *uc)
{
    return uc->peer;
}

const struct larder_upstream_stats *larder_upstream_get_stats(const struct larder_upstream *up)
{
    return &up->stats;
}

/* ---- connecting ------------------------------------------------------------ */

static void connect_finish(struct larder_upconnect *pc, struct larder_upconn *uc)
{
    struct larder_upstream *up = pc->up;
    larder_upconnect_cb cb = pc->cb;
    void *arg = pc->arg;
    const struct larder_failure *fail = pc->fail;

    DL_DELETE(up->connecting, pc);
    if (pc->later != NULL)
        event_free(pc->later);
    if (pc->conn != NULL)
        larder_conn_free(pc->conn);
    free(pc->host);
    free(pc);
    if (uc == NULL)
        up->stats.connect_failures++;
    cb(uc, uc != NULL ? NULL : fail, arg);
}

static void try_next(struct larder_upconnect *pc);

static void on_connect_event(struct larder_conn *c, short what, void *arg)
{
    struct larder_upconnect *pc = arg;
    struct larder_upstream *up = pc->up;
    const struct sockaddr *sa = (const struct sockaddr *)&pc->res.addr[pc->next_addr - 1];
    char peer[64];

    addr_text(sa, peer, sizeof(peer));
    if (what & LARDER_CONN_CONNECTED) {
        struct larder_upconn *uc = larder_xcalloc(1, sizeof(*uc));
        int one = 1;

        setsockopt(larder_conn_fd(c), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        uc->up = up;
        uc->conn = c;
        uc->key = make_key(pc->host, pc->port);
        memcpy(uc->peer, peer, sizeof(peer));
        pc->conn = NULL;
        larder_conn_setcb(c, NULL, NULL, NULL, NULL);
        larder_conn_set_timeouts(c, 0, 0);
        up->stats.connects++;
        up->stats.active++;
        larder_log(LARDER_LOG_DEBUG, "upstream %s:%u: connected to %s", pc->host,
                   (unsigned)pc->port, peer);
        connect_finish(pc, uc);
        return;
    }
    if (what & LARDER_CONN_TIMEOUT) {
        pc->fail = &larder_fail_connect_timeout;
    } else {
        pc->fail = errno == ECONNREFUSED ? &larder_fail_refused : &larder_fail_connect;
    }
    larder_log(LARDER_LOG_INFO, "upstream %s:%u: connect to %s failed: %s", pc->host,
               (unsigned)pc->port, peer, pc->fail->reason);
    larder_conn_free(c);
    pc->conn = NULL;
    try_next(pc);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_next(arg);
}

static void try_next(struct larder_upconnect *pc)
{
    struct larder_upstream *up = pc->up;

    while (pc->next_addr < pc->res.n) {
        const struct sockaddr *sa = (const struct sockaddr *)&pc->res.addr[pc->next_addr];
        socklen_t len = pc->res.len[pc->next_addr];

        pc->next_addr++;
        if (up->is_self != NULL && up->is_self(sa, up->self_arg)) {
            pc->fail = &larder_fail_loop;
            continue;
        }
        pc->conn = larder_conn_connect(up->base, sa, len, up->cfg->upstream_connect_timeout);
        if (pc->conn != NULL) {
            larder_conn_setcb(pc->conn, NULL, NULL, on_connect_event, pc);
            return; /* on_connect_event follows */
        }
        pc->fail = &larder_fail_connect;
    }
    connect_finish(pc, NULL);
}

static void on_resolved(const struct larder_dns_result *res, void *arg)
{
    struct larder_upconnect *pc = arg;

    pc->dreq = NULL;
    pc->res = *res;
    if (res->n == 0)
        pc->fail = res->timed_out ? &larder_fail_dns_timeout : &larder_fail_dns;
    try_next(pc);
}

struct larder_upconnect *larder_upstream_connect(struct larder_upstream *up,
                                                 const char *host, uint16_t port,
                                                 larder_upconnect_cb cb, void *arg)
{
    struct larder_upconnect *pc = larder_xcalloc(1, sizeof(*pc));
    struct larder_dns_req *dreq = NULL;

    pc->up = up;
    pc->host = larder_xstrdup(host);
    pc->port = port;
    pc->cb = cb;
    pc->arg = arg;
    pc->fail = &larder_fail_connect;
    DL_APPEND(up->connecting, pc);
    if (larder_dns_resolve(up->dns, host, port, &pc->res, on_resolved, pc, &dreq) == 1) {
        pc->dreq = dreq;
        return pc;
    }
    if (pc->res.n == 0)
        pc->fail = pc->res.timed_out ? &larder_fail_dns_timeout : &larder_fail_dns;
    /* never call back from inside this call */
    pc->later = evtimer_new(up->base, on_later, pc);
    event_active(pc->later, EV_TIMEOUT, 0);
    return pc;
}

void larder_upstream_connect_cancel(struct larder_upconnect *pc)
{
    if (pc == NULL)
        return;
    if (pc->dreq != NULL)
        larder_dns_cancel(pc->dreq);
    if (pc->conn != NULL)
        larder_conn_free(pc->conn);
    if (pc->later != NULL)
        event_free(pc->later);
    DL_DELETE(pc->up->connecting, pc);
    free(pc->host);
    free(pc);
}
