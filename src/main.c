/* SPDX-License-Identifier: MIT */
/* main.c - the larder command: arguments, start-up, signals and graceful
 * shutdown. No protocol logic lives here. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "larder/cache.h"
#include "larder/client.h"
#include "larder/config.h"
#include "larder/dns.h"
#include "larder/fill.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/stats.h"
#include "larder/upstream.h"
#include "larder/util.h"

struct larder_main {
    struct larder_proxy px;
    struct larder_config cfg;
    struct evconnlistener **listeners;
    size_t nlisteners;
    struct event *sig_term, *sig_int, *sig_usr1;
    struct event *deadline;
    struct sockaddr_storage *local_ips; /* every address of this host */
    size_t nlocal;
};

/* ---- own addresses ----------------------------------------------------------- */

static int same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family == AF_INET && b->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return 0;
}

static uint16_t port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static int is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    return sa->sa_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int is_local_ip(const struct larder_main *m, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127)
        return 1;
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr))
        return 1;
    for (size_t i = 0; i < m->nlocal; i++)
        if (same_ip((const struct sockaddr *)&m->local_ips[i], sa))
            return 1;
    return 0;
}

static struct larder_main *main_of(struct larder_proxy *px)
{
    return (struct larder_main *)((char *)px - offsetof(struct larder_main, px));
}

/* The address a connection to <sa> really reaches: an IPv4-mapped IPv6
 * address is its IPv4 address, and the unspecified addresses (0.0.0.0, ::)
 * reach this host's loopback. */
static const struct sockaddr *reached(const struct sockaddr *sa, struct sockaddr_storage *tmp)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)tmp;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            memset(tmp, 0, sizeof(*tmp));
            v4->sin_family = AF_INET;
            v4->sin_port = s6->sin6_port;
            memcpy(&v4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
            sa = (const struct sockaddr *)tmp;
        } else if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr)) {
            struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)tmp;
            memset(tmp, 0, sizeof(*tmp));
            t6->sin6_family = AF_INET6;
            t6->sin6_port = s6->sin6_port;
            t6->sin6_addr = in6addr_loopback;
            return (const struct sockaddr *)tmp;
        }
    }
    if (sa->sa_family == AF_INET &&
        ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY)) {
        uint16_t port = ((const struct sockaddr_in *)sa)->sin_port;
        memset(tmp, 0, sizeof(*tmp));
        v4->sin_family = AF_INET;
        v4->sin_port = port;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa = (const struct sockaddr *)tmp;
    }
    return sa;
}

int larder_proxy_is_self(const struct sockaddr *sa, void *arg)
{
    struct larder_proxy *px = arg;
    struct larder_main *m = main_of(px);
    struct sockaddr_storage tmp;

    sa = reached(sa, &tmp);
    for (size_t i = 0; i < px->nlisten; i++) {
        const struct sockaddr *l = (const struct sockaddr *)&px->listen_addrs[i];
        if (port_of(l) != port_of(sa))
            continue;
        /* listeners are bound IPV6_V6ONLY: a wildcard takes its own family */
        if (is_wildcard(l) ? l->sa_family == sa->sa_family && is_local_ip(m, sa)
                           : same_ip(l, sa))
            return 1;
    }
    return 0;
}

static void load_local_ips(struct larder_main *m)
{
    struct ifaddrs *ifa, *i;

    if (getifaddrs(&ifa) != 0)
        return;
    for (i = ifa; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL ||
            (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        m->local_ips = larder_xrealloc(m->local_ips, (m->nlocal + 1) * sizeof(*m->local_ips));
        memset(&m->local_ips[m->nlocal], 0, sizeof(m->local_ips[0]));
        memcpy(&m->local_ips[m->nlocal], i->ifa_addr,
               i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                 : sizeof(struct sockaddr_in6));
        m->nlocal++;
    }
    freeifaddrs(ifa);
}

/* ---- listening ------------------------------------------------------------------ */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int len, void *arg)
{
    (void)l;
    larder_client_accept(arg, fd, sa, (socklen_t)len);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    (void)arg;
    /* EMFILE and friends: keep running, the listener retries */
    larder_log(LARDER_LOG_WARN, "accept: %s", evutil_socket_error_to_string(err));
}

static int open_listeners(struct larder_main *m)
{
    struct larder_proxy *px = &m->px;

    m->listeners = larder_xcalloc(m->cfg.nlisten, sizeof(*m->listeners));
    px->listen_addrs = larder_xcalloc(m->cfg.nlisten, sizeof(*px->listen_addrs));
    px->listen_lens = larder_xcalloc(m->cfg.nlisten, sizeof(*px->listen_lens));
    for (size_t i = 0; i < m->cfg.nlisten; i++) {
        const struct larder_listen_addr *la = &m->cfg.listen[i];
        struct evconnlistener *l;
        unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

        if (la->ss.ss_family == AF_INET6)
            flags |= LEV_OPT_BIND_IPV6ONLY;
        l = evconnlistener_new_bind(px->base, on_accept, px, flags, 1024,
                                    (const struct sockaddr *)&la->ss, (int)la->len);
        if (l == NULL) {
            fprintf(stderr, "larder: cannot listen on %s: %s\n", la->text, strerror(errno));
            return -1;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        m->listeners[m->nlisteners++] = l;
        px->listen_lens[px->nlisten] = sizeof(px->listen_addrs[0]);
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&px->listen_addrs[px->nlisten],
                    &px->listen_lens[px->nlisten]);
        px->nlisten++;
    }
    return 0;
}

static void close_listeners(struct larder_main *m)
{
    for (size_t i = 0; i < m->nlisteners; i++)
        evconnlistener_free(m->listeners[i]);
    m->nlisteners = 0;
}

/* ---- signals and shutdown -------------------------------------------------------- */

static void on_drained(struct larder_proxy *px)
{
    event_base_loopexit(px->base, NULL);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct larder_main *m = arg;
    (void)fd;
    (void)what;
    larder_log(LARDER_LOG_WARN, "shutdown: %u connections still open at the deadline; closing",
               m->px.nclients);
    event_base_loopexit(m->px.base, NULL);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct larder_main *m = arg;
    struct larder_proxy *px = &m->px;
    struct timeval tv = { (time_t)(m->cfg.shutdown_timeout / 1000),
                          (suseconds_t)(m->cfg.shutdown_timeout % 1000) * 1000 };
    (void)what;

    if (px->draining) {
        larder_log(LARDER_LOG_WARN, "second signal %d: stopping now", (int)sig);
        event_base_loopexit(px->base, NULL);
        return;
    }
    larder_log(LARDER_LOG_INFO, "signal %d: no new connections; finishing %u open ones "
               "(at most %.1f s)", (int)sig, px->nclients, (double)m->cfg.shutdown_timeout / 1000.0);
    px->draining = 1;
    px->on_drained = on_drained;
    close_listeners(m);
    larder_upstream_close_idle(px->upstream);
    larder_client_close_idle(px);
    if (px->nclients == 0) {
        event_base_loopexit(px->base, NULL);
        return;
    }
    m->deadline = evtimer_new(px->base, on_deadline, m);
    evtimer_add(m->deadline, &tv);
}

static void on_reopen(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    if (larder_log_reopen() != 0)
        larder_log(LARDER_LOG_ERROR, "SIGUSR1: cannot reopen logs: %s", strerror(errno));
    else
        larder_log(LARDER_LOG_INFO, "SIGUSR1: logs reopened");
}

/* ---- start-up ------------------------------------------------------------------ */

static int setup(struct larder_main *m)
{
    struct larder_proxy *px = &m->px;

    px->cfg = &m->cfg;
    px->started = time(NULL);
    if (m->cfg.via_name != NULL && m->cfg.via_name[0] != '\0')
        snprintf(px->via_name, sizeof(px->via_name), "%s", m->cfg.via_name);
    else if (gethostname(px->via_name, sizeof(px->via_name) - 1) != 0 || px->via_name[0] == '\0')
        snprintf(px->via_name, sizeof(px->via_name), "larder");
    px->base = event_base_new();
    if (px->base == NULL) {
        fprintf(stderr, "larder: cannot create the event loop\n");
        return -1;
    }
    px->scratch_cap = m->cfg.limits.max_fields + 16;
    px->scratch = larder_xcalloc(px->scratch_cap, sizeof(*px->scratch));
    px->stats = larder_stats_new();
    px->decoded = evbuffer_new();
    px->dns = larder_dns_new(px->base, &m->cfg);
    if (px->dns == NULL) {
        fprintf(stderr, "larder: cannot start the resolver\n");
        return -1;
    }
    px->upstream = larder_upstream_new(px->base, &m->cfg, px->dns, larder_proxy_is_self, px);
    px->cache = larder_cache_new(m->cfg.cache_size);
    load_local_ips(m);
    if (open_listeners(m) != 0)
        return -1;
    m->sig_term = evsignal_new(px->base, SIGTERM, on_stop, m);
    m->sig_int = evsignal_new(px->base, SIGINT, on_stop, m);
    m->sig_usr1 = evsignal_new(px->base, SIGUSR1, on_reopen, m);
    evsignal_add(m->sig_term, NULL);
    evsignal_add(m->sig_int, NULL);
    evsignal_add(m->sig_usr1, NULL);
    return 0;
}

static void teardown(struct larder_main *m)
{
    struct larder_proxy *px = &m->px;

    if (px->base != NULL)
        larder_client_close_all(px);
    larder_fill_shutdown(px);
    larder_cache_free(px->cache);
    close_listeners(m);
    larder_upstream_free(px->upstream);
    larder_dns_free(px->dns);
    larder_stats_free(px->stats);
    if (px->decoded != NULL)
        evbuffer_free(px->decoded);
    if (m->sig_term != NULL)
        event_free(m->sig_term);
    if (m->sig_int != NULL)
        event_free(m->sig_int);
    if (m->sig_usr1 != NULL)
        event_free(m->sig_usr1);
    if (m->deadline != NULL)
        event_free(m->deadline);
    if (px->base != NULL)
        event_base_free(px->base);
    free(px->scratch);
    free(px->listen_addrs);
    free(px->listen_lens);
    free(m->listeners);
    free(m->local_ips);
}

static void print_banner(const struct larder_main *m)
{
    const struct larder_proxy *px = &m->px;
    const char *first = m->cfg.listen[0].text;

    printf("larder %s listening on", LARDER_VERSION);
    for (size_t i = 0; i < m->cfg.nlisten; i++)
        printf(" %s", m->cfg.listen[i].text);
    printf(" - try: curl -x http://%s http://example.org/  (Ctrl-C stops)\n", first);
    fflush(stdout);
    (void)px;
}

int main(int argc, char **argv)
{
    struct larder_main m;
    enum larder_action action;
    char err[512];
    int rc = 0;

    memset(&m, 0, sizeof(m));
    larder_config_defaults(&m.cfg);
    if (larder_config_from_args(&m.cfg, argc, argv, &action, err, sizeof(err)) != 0) {
        fprintf(stderr, "larder: %s\n", err);
        fprintf(stderr, "larder: see larder --help\n");
        larder_config_free(&m.cfg);
        return 2;
    }
    switch (action) {
    case LARDER_ACTION_HELP:
        larder_config_print_help(stdout);
        larder_config_free(&m.cfg);
        return 0;
    case LARDER_ACTION_VERSION:
        printf("larder %s\n", LARDER_VERSION);
        larder_config_free(&m.cfg);
        return 0;
    default:
        break;
    }
    if (larder_config_validate(&m.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "larder: %s\n", err);
        larder_config_free(&m.cfg);
        return 2;
    }
    if (action == LARDER_ACTION_CHECK_CONFIG) {
        printf("larder: configuration OK\n");
        larder_config_free(&m.cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    /* a proxy's heap breathes with its traffic: without these, glibc gives
     * memory back and takes it again with a brk call every few requests */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    if (larder_log_open(m.cfg.error_log, m.cfg.access_log, (enum larder_log_level)m.cfg.log_level) != 0) {
        fprintf(stderr, "larder: cannot open the logs: %s\n", strerror(errno));
        larder_config_free(&m.cfg);
        return 1;
    }
    if (setup(&m) != 0) {
        rc = 1;
    } else {
        print_banner(&m);
        larder_log(LARDER_LOG_INFO, "larder %s started, via name \"%s\"", LARDER_VERSION,
                   m.px.via_name);
        event_base_dispatch(m.px.base);
        larder_log(LARDER_LOG_INFO, "larder stopped");
    }
    teardown(&m);
    larder_log_close();
    larder_config_free(&m.cfg);
    return rc;
}
