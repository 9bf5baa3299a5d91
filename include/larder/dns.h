/* SPDX-License-Identifier: MIT */
/* dns.h - name resolution that never blocks the loop: IP literals, the
 * hosts file, a small cache honouring TTLs, and libevent's evdns for A and
 * AAAA queries (both asked at once; IPv4 answers are listed first).
 *
 *     struct larder_dns_result res;
 *     switch (larder_dns_resolve(d, "origin.test", 80, &res, on_resolved, me, &req)) {
 *     case 0: use res now (res.n == 0: res.error says why)
 *     case 1: on_resolved(&res, me) comes later, unless larder_dns_cancel(req)
 *     }
 */
#ifndef LARDER_DNS_H
#define LARDER_DNS_H

#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct larder_config;
struct larder_dns;
struct larder_dns_req;

#define LARDER_DNS_MAX_ADDRS 8

struct larder_dns_result {
    unsigned n;                                    /* 0: failed */
    struct sockaddr_storage addr[LARDER_DNS_MAX_ADDRS];
    socklen_t len[LARDER_DNS_MAX_ADDRS];
    const char *error;                             /* static reason when n == 0 */
    int timed_out;                                 /* the failure was a timeout */
};

struct larder_dns_stats {
    uint64_t lookups;         /* names asked of the resolver (not literals) */
    uint64_t cache_hits;      /* answered from the hosts file or the cache */
    uint64_t failures;        /* lookups that found no address */
};

typedef void (*larder_dns_cb)(const struct larder_dns_result *res, void *arg);

/* Creates a resolver reading /etc/resolv.conf and /etc/hosts. NULL on error. */
struct larder_dns *larder_dns_new(struct event_base *base, const struct larder_config *cfg);

/* The same with other files (tests point it at their own name server). */
struct larder_dns *larder_dns_new_from(struct event_base *base, const struct larder_config *cfg,
                                       const char *resolv_conf, const char *hosts);

/* Fails every query in flight (their callbacks are not called) and frees. */
void larder_dns_free(struct larder_dns *d);

/* Resolves <host> (name, IPv4 or IPv6 literal without brackets); every
 * address gets <port>. Returns 0 when *res holds the answer now, or 1 when
 * <cb> will be called later with it (cancel with larder_dns_cancel(*req_out)
 * before then). Names under .invalid fail at once (RFC 6761). */
int larder_dns_resolve(struct larder_dns *d, const char *host, uint16_t port,
                       struct larder_dns_result *res, larder_dns_cb cb, void *arg,
                       struct larder_dns_req **req_out);

/* Withdraws a pending request: its callback will not be called. */
void larder_dns_cancel(struct larder_dns_req *req);

const struct larder_dns_stats *larder_dns_get_stats(const struct larder_dns *d);

/* Number of names in the cache (answers and remembered failures). */
unsigned larder_dns_cache_count(const struct larder_dns *d);

#endif /* LARDER_DNS_H */
