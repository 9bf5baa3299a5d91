/* SPDX-License-Identifier: MIT */
/* upstream.c - origin connections: resolve, connect address by address with
 * a timeout, and the per host:port pool of idle keep-alive connections. */
#include "larder/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "larder/config.h"
#include "larder/dns.h"
#include "larder/failure.h"
#include "larder/log.h"
#include "larder/util.h"

struct pool;

struct larder_upconn {
    struct larder_upstream *up;
    struct bufferevent *bev;
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
    struct bufferevent *bev;      /* the attempt in flight */
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

static char *make_key(const char *host, uint16_t port)
{
    char buf[300];
    size_t i;

    snprintf(buf, sizeof(buf), "%s:%u", host, (unsigned)port);
    for (i = 0; buf[i] != '\0'; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    return larder_xstrdup(buf);
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
    bufferevent_free(uc->bev);
    free(uc->key);
    free(uc);
}

static void pool_remove(struct larder_upconn *uc)
{
    struct pool *p = uc->pool;

    DL_DELETE(p->idle, uc);
    p->n--;
    uc->pool = NULL;
    uc->up->stats.idle--;
    if (p->n == 0) {
        HASH_DEL(uc->up->pools, p);
        free(p->key);
        free(p);
    }
}

void larder_upstream_close_idle(struct larder_upstream *up)
{
    struct pool *p, *tmp;

    HASH_ITER(hh, up->pools, p, tmp) {
        while (p->n > 0) {
            struct larder_upconn *uc = p->idle;
            int last = p->n == 1;
            pool_remove(uc);
            upconn_free(uc);
            if (last)
                break; /* p is gone */
        }
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
static void on_idle_read(struct bufferevent *bev, void *arg)
{
    struct larder_upconn *uc = arg;
    (void)bev;
    larder_log(LARDER_LOG_DEBUG, "upstream %s: unsolicited bytes on an idle connection", uc->peer);
    pool_remove(uc);
    upconn_free(uc);
}

static void on_idle_event(struct bufferevent *bev, short what, void *arg)
{
    struct larder_upconn *uc = arg;
    (void)bev;
    (void)what;
    pool_remove(uc);
    upconn_free(uc);
}

struct larder_upconn *larder_upstream_take_idle(struct larder_upstream *up,
                                                const char *host, uint16_t port)
{
    char *key = make_key(host, port);
    struct pool *p;
    struct larder_upconn *uc;

    HASH_FIND_STR(up->pools, key, p);
    free(key);
    if (p == NULL)
        return NULL;
    uc = p->idle->prev;           /* the most recently used */
    pool_remove(uc);
    bufferevent_setcb(uc->bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(uc->bev, NULL, NULL);
    bufferevent_disable(uc->bev, EV_READ);
    up->stats.active++;
    up->stats.reused++;
    return uc;
}

void larder_upstream_release(struct larder_upconn *uc, int reusable)
{
    struct larder_upstream *up = uc->up;
    struct pool *p;
    struct timeval tv;

    up->stats.active--;
    if (!reusable || up->cfg->upstream_max_idle_per_host == 0 ||
        evbuffer_get_length(bufferevent_get_input(uc->bev)) > 0 ||
        evbuffer_get_length(bufferevent_get_output(uc->bev)) > 0) {
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
    tv.tv_sec = (time_t)(up->cfg->upstream_idle_timeout / 1000);
    tv.tv_usec = (suseconds_t)(up->cfg->upstream_idle_timeout % 1000) * 1000;
    bufferevent_setcb(uc->bev, on_idle_read, NULL, on_idle_event, uc);
    bufferevent_set_timeouts(uc->bev, &tv, NULL);
    bufferevent_enable(uc->bev, EV_READ);
}

struct bufferevent *larder_upconn_bev(const struct larder_upconn *uc)
{
    return uc->bev;
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
    if (pc->bev != NULL)
        bufferevent_free(pc->bev);
    free(pc->host);
    free(pc);
    if (uc == NULL)
        up->stats.connect_failures++;
    cb(uc, uc != NULL ? NULL : fail, arg);
}

static void try_next(struct larder_upconnect *pc);

static void on_connect_event(struct bufferevent *bev, short what, void *arg)
{
    struct larder_upconnect *pc = arg;
    struct larder_upstream *up = pc->up;
    const struct sockaddr *sa = (const struct sockaddr *)&pc->res.addr[pc->next_addr - 1];
    char peer[64];

    addr_text(sa, peer, sizeof(peer));
    if (what & BEV_EVENT_CONNECTED) {
        struct larder_upconn *uc = larder_xcalloc(1, sizeof(*uc));
        int one = 1;

        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        uc->up = up;
        uc->bev = bev;
        uc->key = make_key(pc->host, pc->port);
        memcpy(uc->peer, peer, sizeof(peer));
        pc->bev = NULL;
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        up->stats.connects++;
        up->stats.active++;
        larder_log(LARDER_LOG_DEBUG, "upstream %s:%u: connected to %s", pc->host,
                   (unsigned)pc->port, peer);
        connect_finish(pc, uc);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        pc->fail = &larder_fail_connect_timeout;
    } else {
        int err = EVUTIL_SOCKET_ERROR();
        pc->fail = err == ECONNREFUSED ? &larder_fail_refused : &larder_fail_connect;
    }
    larder_log(LARDER_LOG_INFO, "upstream %s:%u: connect to %s failed: %s", pc->host,
               (unsigned)pc->port, peer, pc->fail->reason);
    bufferevent_free(bev);
    pc->bev = NULL;
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
        struct timeval tv;

        pc->next_addr++;
        if (up->is_self != NULL && up->is_self(sa, up->self_arg)) {
            pc->fail = &larder_fail_loop;
            continue;
        }
        pc->bev = bufferevent_socket_new(up->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (pc->bev == NULL)
            break;
        tv.tv_sec = (time_t)(up->cfg->upstream_connect_timeout / 1000);
        tv.tv_usec = (suseconds_t)(up->cfg->upstream_connect_timeout % 1000) * 1000;
        bufferevent_setcb(pc->bev, NULL, NULL, on_connect_event, pc);
        bufferevent_set_timeouts(pc->bev, &tv, &tv);
        if (bufferevent_socket_connect(pc->bev, sa, (int)len) == 0)
            return; /* on_connect_event follows */
        bufferevent_free(pc->bev);
        pc->bev = NULL;
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
    if (pc->bev != NULL)
        bufferevent_free(pc->bev);
    if (pc->later != NULL)
        event_free(pc->later);
    DL_DELETE(pc->up->connecting, pc);
    free(pc->host);
    free(pc);
}
