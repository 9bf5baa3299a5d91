/* SPDX-License-Identifier: MIT */
/* proxy.h - the running proxy: what every session module shares (event loop,
 * configuration, resolver, origin pool, cache, counters, client list).
 * main.c builds one; nothing else keeps global state. */
#ifndef LARDER_PROXY_H
#define LARDER_PROXY_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct event_base;
struct evbuffer;
struct larder_cache;
struct larder_client;
struct larder_config;
struct larder_dns;
struct larder_fill;
struct larder_http_field;
struct larder_stats;
struct larder_upstream;

struct larder_proxy {
    struct event_base *base;
    const struct larder_config *cfg;
    struct larder_dns *dns;
    struct larder_upstream *upstream;
    struct larder_cache *cache;
    struct larder_fill *fills;           /* shareable fills in flight, by key */
    struct larder_fill *fill_list;       /* every fill in flight */
    struct larder_stats *stats;
    char via_name[256];                  /* pseudonym sent in Via */
    char date[32];                       /* IMF-fixdate of date_at, for Date */
    int64_t date_at;
    struct sockaddr_storage *listen_addrs; /* bound addresses, for loop checks */
    socklen_t *listen_lens;
    size_t nlisten;
    struct larder_client *clients;       /* every open client connection */
    unsigned nclients;
    int draining;                        /* shutting down: finish, don't start */
    void (*on_drained)(struct larder_proxy *px); /* the last client has gone */
    struct larder_http_field *scratch;   /* parse slots for one head at a time */
    struct evbuffer *decoded;            /* a response body on its way to a sink,
                                            which takes it all at once */
    unsigned scratch_cap;                /* cfg->limits.max_fields + room for ours */
    time_t started;                      /* wall clock at start-up */
};

/* Whether <sa> is one of the proxy's own listening addresses (a request to
 * it would loop). Wildcard listeners match every local address on their port. */
int larder_proxy_is_self(const struct sockaddr *sa, void *proxy);

#endif /* LARDER_PROXY_H */
