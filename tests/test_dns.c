/* SPDX-License-Identifier: MIT */
/* test_dns.c - the resolver against a name server of the test's own on
 * 127.0.0.1: literals, the hosts file, .invalid, TTLs honoured and capped,
 * failures remembered briefly but timeouts not, coalesced and cancelled
 * lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "larder/config.h"
#include "larder/dns.h"

/* ---- a name server that answers what the test says ---------------------------- */

struct fake_ns {
    int fd;
    int port;
    struct event *ev;
    unsigned queries[2];      /* A, AAAA */
};

/* Per-name behaviour, read from the first label: "nx*" NXDOMAIN, "drop*"
 * no answer, "ttl<N>-*" A 127.0.0.2 with TTL N (AAAA: no data), else TTL 600. */
static void answer(struct fake_ns *ns, const unsigned char *q, size_t n,
                   const struct sockaddr *from, socklen_t fromlen)
{
    unsigned char out[512];
    size_t qend = 12, len;
    char label[64] = "";
    unsigned ttl = 600;
    int type;

    if (n < 17)
        return;
    if (q[12] > 0 && q[12] < sizeof(label)) {
        memcpy(label, q + 13, q[12]);
        label[q[12]] = '\0';
    }
    while (qend < n && q[qend] != 0)
        qend += (size_t)q[qend] + 1;
    qend += 5; /* root label, type, class */
    if (qend > n || qend > sizeof(out) - 32)
        return;
    type = (q[qend - 4] << 8) | q[qend - 3];
    ns->queries[type == 28 ? 1 : 0]++;
    if (strncmp(label, "drop", 4) == 0)
        return;
    if (strncmp(label, "ttl", 3) == 0)
        ttl = (unsigned)atoi(label + 3);
    memcpy(out, q, qend);
    out[2] = 0x81;            /* response, recursion desired */
    out[3] = 0x80;            /* recursion available, no error */
    out[6] = out[7] = 0;      /* answers */
    out[8] = out[9] = out[10] = out[11] = 0;
    len = qend;
    if (strncmp(label, "nx", 2) == 0) {
        out[3] |= 3;          /* NXDOMAIN */
    } else if (type == 1) {
        static const unsigned char rr[] = { 0xc0, 0x0c, 0, 1, 0, 1 };
        out[7] = 1;
        memcpy(out + len, rr, sizeof(rr));
        len += sizeof(rr);
        out[len++] = (unsigned char)(ttl >> 24);
        out[len++] = (unsigned char)(ttl >> 16);
        out[len++] = (unsigned char)(ttl >> 8);
        out[len++] = (unsigned char)ttl;
        out[len++] = 0;
        out[len++] = 4;
        out[len++] = 127;
        out[len++] = 0;
        out[len++] = 0;
        out[len++] = 2;
    }
    sendto(ns->fd, out, len, 0, from, fromlen);
}

static void on_query(evutil_socket_t fd, short what, void *arg)
{
    unsigned char buf[512];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
    (void)what;

    if (n > 0)
        answer(arg, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
}

/* ---- fixture --------------------------------------------------------------------- */

struct world {
    struct event_base *base;
    struct larder_config cfg;
    struct fake_ns ns;
    struct larder_dns *dns;
    char dir[64];
    char resolv[96], hosts[96];
};

struct answer_box {
    int called;
    struct larder_dns_result res;
};

static void on_resolved(const struct larder_dns_result *res, void *arg)
{
    struct answer_box *b = arg;
    b->called++;
    b->res = *res;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    char conf[128];

    w->base = event_base_new();
    larder_config_defaults(&w->cfg);
    w->cfg.dns_timeout = 600;        /* two tries of 300 ms */
    w->cfg.dns_negative_ttl = 30;
    w->ns.fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(w->ns.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(w->ns.fd, (struct sockaddr *)&sin, &len);
    w->ns.port = ntohs(sin.sin_port);
    evutil_make_socket_nonblocking(w->ns.fd);
    w->ns.ev = event_new(w->base, w->ns.fd, EV_READ | EV_PERSIST, on_query, &w->ns);
    event_add(w->ns.ev, NULL);
    strcpy(w->dir, "/tmp/larder-dns-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->resolv, sizeof(w->resolv), "%s/resolv.conf", w->dir);
    snprintf(w->hosts, sizeof(w->hosts), "%s/hosts", w->dir);
    snprintf(conf, sizeof(conf), "nameserver 127.0.0.1:%d\n", w->ns.port);
    write_file(w->resolv, conf);
    write_file(w->hosts, "# a comment\n10.1.2.3   myhost.test  alias.test\n::5 myhost.test\n");
    *state = w;
    return 0;
}

static struct larder_dns *start_dns(struct world *w)
{
    w->dns = larder_dns_new_from(w->base, &w->cfg, w->resolv, w->hosts);
    assert_non_null(w->dns);
    return w->dns;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[160];

    larder_dns_free(w->dns);
    event_free(w->ns.ev);
    close(w->ns.fd);
    event_base_free(w->base);
    larder_config_free(&w->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", w->dir);
    free(w);
    return 0;
}

/* Runs the loop until <b> was called or <ms> passed. */
static void wait_for(struct world *w, struct answer_box *b, int ms)
{
    struct timeval tv = { 0, 10000 };
    for (int waited = 0; (b == NULL || b->called == 0) && waited < ms; waited += 10) {
        event_base_loopexit(w->base, &tv);
        event_base_dispatch(w->base);
    }
}

static const char *ip_of(const struct larder_dns_result *r, unsigned i, char *buf, size_t cap)
{
    const struct sockaddr *sa = (const struct sockaddr *)&r->addr[i];
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
    return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)cap);
}

static int resolve(struct world *w, const char *name, struct larder_dns_result *res,
                   struct answer_box *b, struct larder_dns_req **req)
{
    struct larder_dns_req *dummy;
    return larder_dns_resolve(w->dns, name, 8080, res, on_resolved, b, req ? req : &dummy);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_literals_hosts_invalid(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    char ip[64];

    start_dns(w);
    assert_int_equal(resolve(w, "192.0.2.7", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 1);
    assert_string_equal(ip_of(&res, 0, ip, sizeof(ip)), "192.0.2.7");
    assert_int_equal(ntohs(((struct sockaddr_in *)&res.addr[0])->sin_port), 8080);
    assert_int_equal(resolve(w, "2001:db8::1", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 1);
    assert_string_equal(ip_of(&res, 0, ip, sizeof(ip)), "2001:db8::1");

    /* the hosts file, any case, IPv4 listed first */
    assert_int_equal(resolve(w, "MyHost.TEST", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 2);
    assert_string_equal(ip_of(&res, 0, ip, sizeof(ip)), "10.1.2.3");
    assert_string_equal(ip_of(&res, 1, ip, sizeof(ip)), "::5");
    assert_int_equal(resolve(w, "alias.test", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 1);

    /* RFC 6761: .invalid never resolves, localhost always does */
    assert_int_equal(resolve(w, "anything.invalid", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 0);
    assert_non_null(res.error);
    assert_int_equal(resolve(w, "localhost", &res, NULL, NULL), 0);
    assert_true(res.n >= 1);
    assert_int_equal(w->ns.queries[0] + w->ns.queries[1], 0);
}

static void test_answer_cached_for_its_ttl(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    struct answer_box b = { 0 };
    char ip[64];

    start_dns(w);
    assert_int_equal(resolve(w, "www.example.test", &res, &b, NULL), 1);
    wait_for(w, &b, 3000);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.res.n, 1);
    assert_string_equal(ip_of(&b.res, 0, ip, sizeof(ip)), "127.0.0.2");
    assert_int_equal(w->ns.queries[0], 1);
    assert_int_equal(w->ns.queries[1], 1); /* A and AAAA asked at once */
    /* TTL 600 (and an AAAA with no data): answered from the cache now */
    assert_int_equal(resolve(w, "WWW.example.test", &res, NULL, NULL), 0);
    assert_int_equal(res.n, 1);
    assert_int_equal(w->ns.queries[0], 1);
    assert_int_equal(larder_dns_get_stats(w->dns)->cache_hits, 1);
}

static void test_short_ttl_expires(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    struct answer_box b = { 0 };

    start_dns(w);
    assert_int_equal(resolve(w, "ttl1-a.test", &res, &b, NULL), 1);
    wait_for(w, &b, 3000);
    assert_int_equal(b.res.n, 1);
    assert_int_equal(resolve(w, "ttl1-a.test", &res, NULL, NULL), 0); /* still fresh */
    assert_int_equal(w->ns.queries[0], 1);
    wait_for(w, NULL, 1300);
    b.called = 0;
    assert_int_equal(resolve(w, "ttl1-a.test", &res, &b, NULL), 1); /* expired: asked again */
    wait_for(w, &b, 3000);
    assert_int_equal(w->ns.queries[0], 2);
}

static void test_dns_max_ttl_caps(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    struct answer_box b = { 0 };

    w->cfg.dns_max_ttl = 1;
    start_dns(w);
    assert_int_equal(resolve(w, "capped.test", &res, &b, NULL), 1); /* TTL 600 */
    wait_for(w, &b, 3000);
    wait_for(w, NULL, 1300);
    b.called = 0;
    assert_int_equal(resolve(w, "capped.test", &res, &b, NULL), 1);
    wait_for(w, &b, 3000);
    assert_int_equal(w->ns.queries[0], 2);
}

static void test_failure_remembered_timeout_not(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    struct answer_box b = { 0 };

    start_dns(w);
    assert_int_equal(resolve(w, "nx-host.test", &res, &b, NULL), 1);
    wait_for(w, &b, 3000);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.res.n, 0);
    assert_false(b.res.timed_out);
    assert_int_equal(resolve(w, "nx-host.test", &res, NULL, NULL), 0); /* negative cache */
    assert_int_equal(res.n, 0);
    assert_int_equal(w->ns.queries[0], 1);

    b.called = 0;
    assert_int_equal(resolve(w, "drop-host.test", &res, &b, NULL), 1);
    wait_for(w, &b, 5000);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.res.n, 0);
    assert_true(b.res.timed_out);
    b.called = 0;
    assert_int_equal(resolve(w, "drop-host.test", &res, &b, NULL), 1); /* asked again */
    wait_for(w, &b, 5000);
    assert_int_equal(b.called, 1);
    assert_true(b.res.timed_out);
    /* every lookup that found no address counts, from the cache or not */
    assert_int_equal(larder_dns_get_stats(w->dns)->failures, 4);
}

static void test_coalesced_and_cancelled(void **state)
{
    struct world *w = *state;
    struct larder_dns_result res;
    struct answer_box a = { 0 }, b = { 0 }, c = { 0 };
    struct larder_dns_req *req = NULL;

    start_dns(w);
    assert_int_equal(resolve(w, "co.test", &res, &a, NULL), 1);
    assert_int_equal(resolve(w, "co.test", &res, &b, NULL), 1);
    assert_int_equal(resolve(w, "co.test", &res, &c, &req), 1);
    larder_dns_cancel(req);
    wait_for(w, &b, 3000);
    wait_for(w, &a, 3000);
    assert_int_equal(a.called, 1);
    assert_int_equal(b.called, 1);
    assert_int_equal(c.called, 0);
    assert_int_equal(a.res.n, 1);
    assert_int_equal(w->ns.queries[0], 1); /* one question for three askers */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literals_hosts_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_cached_for_its_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_ttl_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_max_ttl_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_remembered_timeout_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced_and_cancelled, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
