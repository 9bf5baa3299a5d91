/* SPDX-License-Identifier: MIT */
/* upstream.h - connections to origins: resolve, connect (trying each address
 * in turn, with a timeout), and a pool of idle keep-alive connections per
 * host:port with an idle timeout and a cap per host.
 *
 *     struct larder_upconn *uc = larder_upstream_take_idle(up, host, port);
 *     if (uc == NULL)
 *         pending = larder_upstream_connect(up, host, port, on_connected, me);
 *     ... use larder_upconn_conn(uc) ...
 *     larder_upstream_release(uc, reusable);   // back to the pool, or closed
 */
#ifndef LARDER_UPSTREAM_H
#define LARDER_UPSTREAM_H

#include <stdint.h>
#include <sys/socket.h>

struct larder_conn;
struct event_base;
struct larder_config;
struct larder_dns;
struct larder_failure;
struct larder_upstream;
struct larder_upconn;
struct larder_upconnect;

struct larder_upstream_stats {
    uint64_t connects;        /* TCP connections opened */
    uint64_t connect_failures;
    uint64_t reused;          /* requests sent on a pooled connection */
    unsigned active;          /* connections open and in use */
    unsigned idle;            /* connections waiting in the pool */
};

/* Says whether <sa> is one of larder's own listening addresses. */
typedef int (*larder_self_fn)(const struct sockaddr *sa, void *arg);

/* Called once with a connected connection, or with NULL and what failed. */
typedef void (*larder_upconnect_cb)(struct larder_upconn *uc,
                                    const struct larder_failure *fail, void *arg);

struct larder_upstream *larder_upstream_new(struct event_base *base,
                                            const struct larder_config *cfg,
                                            struct larder_dns *dns,
                                            larder_self_fn is_self, void *self_arg);
/* Closes pooled connections and frees. Connections in use must be gone. */
void larder_upstream_free(struct larder_upstream *up);

/* A pooled idle connection to host:port, or NULL. */
struct larder_upconn *larder_upstream_take_idle(struct larder_upstream *up,
                                                const char *host, uint16_t port);

/* Starts resolving and connecting; <cb> is always called later, never from
 * inside this call, unless larder_upstream_connect_cancel() comes first. */
struct larder_upconnect *larder_upstream_connect(struct larder_upstream *up,
                                                 const char *host, uint16_t port,
                                                 larder_upconnect_cb cb, void *arg);
void larder_upstream_connect_cancel(struct larder_upconnect *pc);

/* Gives a connection back: pooled when <reusable> and the pool has room,
 * else closed. The caller must not touch it afterwards. */
void larder_upstream_release(struct larder_upconn *uc, int reusable);

struct larder_conn *larder_upconn_conn(const struct larder_upconn *uc);
int larder_upconn_reused(const struct larder_upconn *uc); /* served before */
const char *larder_upconn_peer(const struct larder_upconn *uc); /* "1.2.3.4:80" */

/* Closes every idle pooled connection (on shutdown). */
void larder_upstream_close_idle(struct larder_upstream *up);

const struct larder_upstream_stats *larder_upstream_get_stats(const struct larder_upstream *up);

#endif /* LARDER_UPSTREAM_H */
