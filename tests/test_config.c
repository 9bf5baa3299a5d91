/* SPDX-License-Identifier: MIT */
/* test_config.c - defaults, every value type, the config file, the command
 * line, precedence and list replacement, validation and --help. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "larder/config.h"
#include "larder/log.h"

static char tmpdir[] = "/tmp/larder-test-config-XXXXXX";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes <content> to a file in the test directory; returns its path in buf. */
static const char *write_file(char *buf, size_t len, const char *name, const char *content)
{
    FILE *f;

    snprintf(buf, len, "%s/%s", tmpdir, name);
    f = fopen(buf, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* The numeric value of an option, read from the struct by the test's own
 * mapping (not config.c's table). */
static uint64_t get_number(const struct larder_config *c, const char *name)
{
#define F(n, expr) if (strcmp(name, n) == 0) return (uint64_t)(c->expr)
    F("max_connections", max_connections);
    F("max_request_line", limits.max_line);
    F("max_header_block", limits.max_head);
    F("max_header_fields", limits.max_fields);
    F("max_chunk_ext", limits.max_chunk_ext);
    F("client_head_timeout", client_head_timeout);
    F("client_body_timeout", client_body_timeout);
    F("keepalive_timeout", keepalive_timeout);
    F("upstream_connect_timeout", upstream_connect_timeout);
    F("upstream_first_byte_timeout", upstream_first_byte_timeout);
    F("upstream_read_timeout", upstream_read_timeout);
    F("upstream_idle_timeout", upstream_idle_timeout);
    F("tunnel_idle_timeout", tunnel_idle_timeout);
    F("shutdown_timeout", shutdown_timeout);
    F("dns_timeout", dns_timeout);
    F("upstream_max_idle_per_host", upstream_max_idle_per_host);
    F("dns_cache_entries", dns_cache_entries);
    F("dns_max_ttl", dns_max_ttl);
    F("dns_negative_ttl", dns_negative_ttl);
    F("log_level", log_level);
    F("cache_size", cache_size);
    F("max_object_size", max_object_size);
    F("max_heuristic_freshness", max_heuristic_freshness);
    F("serve_stale_on_error", serve_stale_on_error);
    F("coalesce_timeout", coalesce_timeout);
    F("uncacheable_ttl", uncacheable_ttl);
#undef F
    fail_msg("no numeric option '%s'", name);
    return 0;
}

static int acl_has(const struct larder_acl *acl, const char *text)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
    }
    return larder_acl_match(acl, (struct sockaddr *)&ss);
}

#define MB ((uint64_t)1 << 20)

/* ---- defaults ---------------------------------------------------------- */

static const struct { const char *name; uint64_t value; } default_numbers[] = {
    { "max_connections", 4096 },
    { "max_request_line", 8192 },
    { "max_header_block", 65536 },
    { "max_header_fields", 128 },
    { "max_chunk_ext", 4096 },
    { "client_head_timeout", 30000 },
    { "client_body_timeout", 60000 },
    { "keepalive_timeout", 60000 },
    { "upstream_connect_timeout", 10000 },
    { "upstream_first_byte_timeout", 60000 },
    { "upstream_read_timeout", 60000 },
    { "upstream_idle_timeout", 30000 },
    { "tunnel_idle_timeout", 300000 },
    { "shutdown_timeout", 10000 },
    { "dns_timeout", 5000 },
    { "upstream_max_idle_per_host", 64 },
    { "dns_cache_entries", 1024 },
    { "dns_max_ttl", 300 },
    { "dns_negative_ttl", 10 },
    { "log_level", LARDER_LOG_INFO },
    { "cache_size", 256 * MB },
    { "max_object_size", 16 * MB },
    { "max_heuristic_freshness", 86400 },
    { "serve_stale_on_error", 0 },
    { "coalesce_timeout", 10000 },
    { "uncacheable_ttl", 60 },
};

static void test_defaults(void **state)
{
    struct larder_config cfg;
    const struct sockaddr_in *sin;
    char err[256];
    size_t i;

    (void)state;
    larder_config_defaults(&cfg);
    for (i = 0; i < sizeof default_numbers / sizeof default_numbers[0]; i++) {
        if (get_number(&cfg, default_numbers[i].name) != default_numbers[i].value)
            fail_msg("default %s is %llu, want %llu", default_numbers[i].name,
                     (unsigned long long)get_number(&cfg, default_numbers[i].name),
                     (unsigned long long)default_numbers[i].value);
    }

    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:3128");
    sin = (const struct sockaddr_in *)&cfg.listen[0].ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 3128);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(cfg.listen[0].len, sizeof(struct sockaddr_in));

    assert_true(acl_has(&cfg.client_allow, "127.0.0.1"));
    assert_true(acl_has(&cfg.client_allow, "127.3.2.1"));
    assert_true(acl_has(&cfg.client_allow, "::1"));
    assert_true(acl_has(&cfg.client_allow, "::ffff:127.0.0.1"));
    assert_false(acl_has(&cfg.client_allow, "10.0.0.1"));
    assert_false(acl_has(&cfg.client_allow, "::2"));
    assert_true(acl_has(&cfg.admin_allow, "127.0.0.1"));
    assert_true(acl_has(&cfg.admin_allow, "::1"));
    assert_false(acl_has(&cfg.admin_allow, "192.168.1.1"));

    assert_true(larder_ports_match(&cfg.connect_ports, 443));
    assert_false(larder_ports_match(&cfg.connect_ports, 80));
    assert_false(larder_ports_match(&cfg.connect_ports, 8443));

    assert_string_equal(cfg.via_name, "");
    assert_string_equal(cfg.access_log, "-");
    assert_string_equal(cfg.error_log, "-");

    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), 0);
    larder_config_free(&cfg);
    larder_config_free(&cfg);     /* twice is harmless */
}

/* ---- one option at a time ---------------------------------------------- */

struct good_case {
    const char *name;
    const char *value;
    uint64_t want;
};

static const struct good_case good_cases[] = {
    /* counts */
    { "max_connections", "1", 1 },
    { "max_connections", "4294967295", UINT_MAX },
    { "max_connections", "007", 7 },
    { "max_connections", " 12 ", 12 },
    { "max-connections", "13", 13 },
    { "max_header_fields", "1", 1 },
    { "max_header_fields", "65535", 65535 },
    { "upstream_max_idle_per_host", "0", 0 },
    { "dns_cache_entries", "0", 0 },
    /* sizes */
    { "max_request_line", "100", 100 },
    { "max_request_line", "8k", 8192 },
    { "max_request_line", "8K", 8192 },
    { "max_header_block", "1m", MB },
    { "max_header_block", "1G", (uint64_t)1 << 30 },
    { "max_chunk_ext", "0", 0 },
    { "cache_size", "256M", 256 * MB },
    { "cache_size", "3g", (uint64_t)3 << 30 },
    { "cache_size", "1024G", (uint64_t)1 << 40 },
    { "cache_size", "512", 512 },
    { "cache_size", "0", 0 },
    { "max_object_size", "100k", 102400 },
    /* durations in milliseconds */
    { "client_head_timeout", "250ms", 250 },
    { "client_head_timeout", "1ms", 1 },
    { "client_head_timeout", "2", 2000 },
    { "client_head_timeout", "2s", 2000 },
    { "client_body_timeout", "5m", 300000 },
    { "keepalive_timeout", "1h", 3600000 },
    { "tunnel_idle_timeout", "1d", 86400000 },
    { "upstream-connect-timeout", "3s", 3000 },
    { "upstream_first_byte_timeout", "90", 90000 },
    { "upstream_read_timeout", "15s", 15000 },
    { "upstream_idle_timeout", "1m", 60000 },
    { "shutdown_timeout", "5", 5000 },
    { "dns_timeout", "1500ms", 1500 },
    { "coalesce_timeout", "100ms", 100 },
    /* durations in seconds */
    { "dns_max_ttl", "300", 300 },
    { "dns_max_ttl", "5m", 300 },
    { "dns_max_ttl", "1h", 3600 },
    { "dns_max_ttl", "2000ms", 2 },
    { "dns_negative_ttl", "0", 0 },
    { "dns_negative_ttl", "30s", 30 },
    { "max_heuristic_freshness", "1d", 86400 },
    { "max_heuristic_freshness", "2h", 7200 },
    { "max_heuristic_freshness", "0", 0 },
    /* booleans */
    { "serve_stale_on_error", "on", 1 },
    { "serve_stale_on_error", "off", 0 },
    { "serve_stale_on_error", "yes", 1 },
    { "serve_stale_on_error", "no", 0 },
    { "serve_stale_on_error", "true", 1 },
    { "serve_stale_on_error", "false", 0 },
    { "serve_stale_on_error", "1", 1 },
    { "serve_stale_on_error", "0", 0 },
    { "serve_stale_on_error", "ON", 1 },
    { "serve_stale_on_error", "Yes", 1 },
    /* log levels */
    { "log_level", "error", LARDER_LOG_ERROR },
    { "log_level", "warn", LARDER_LOG_WARN },
    { "log_level", "info", LARDER_LOG_INFO },
    { "log_level", "debug", LARDER_LOG_DEBUG },
    { "log_level", "DEBUG", LARDER_LOG_DEBUG },
};

static void test_set_good_values(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good_cases / sizeof good_cases[0]; i++) {
        const struct good_case *c = &good_cases[i];
        struct larder_config cfg;
        char err[256], canon[64];
        const char *r;
        size_t j;

        larder_config_defaults(&cfg);
        r = larder_config_set(&cfg, c->name, c->value, err, sizeof err);
        if (r)
            fail_msg("%s '%s' rejected: %s", c->name, c->value, r);
        for (j = 0; c->name[j] && j < sizeof canon - 1; j++)
            canon[j] = c->name[j] == '-' ? '_' : c->name[j];
        canon[j] = '\0';
        if (get_number(&cfg, canon) != c->want)
            fail_msg("%s '%s' gave %llu, want %llu", c->name, c->value,
                     (unsigned long long)get_number(&cfg, canon),
                     (unsigned long long)c->want);
        larder_config_free(&cfg);
    }
}

struct bad_case {
    const char *name;
    const char *value;
    const char *want;         /* substring of the message, besides the name */
};

static const struct bad_case bad_cases[] = {
    /* counts */
    { "max_connections", "abc", "'abc' is not a number" },
    { "max_connections", "-1", "not a number" },
    { "max_connections", "+1", "not a number" },
    { "max_connections", "1.5", "not a whole number" },
    { "max_connections", "12 34", "not a whole number" },
    { "max_connections", "1k", "not a whole number" },
    { "max_connections", "0", "below the minimum of 1" },
    { "max_connections", "4294967296", "above the maximum of 4294967295" },
    { "max_connections", "99999999999999999999999", "too large" },
    { "max_connections", "", "missing value" },
    { "max_connections", "   ", "missing value" },
    { "max_connections", NULL, "missing value" },
    { "max_header_fields", "0", "below the minimum" },
    { "max_header_fields", "65536", "above the maximum of 65535" },
    /* sizes */
    { "max_request_line", "8x", "not a size" },
    { "max_request_line", "k", "not a size" },
    { "max_request_line", "8kb", "not a size" },
    { "max_request_line", "8 k", "not a size" },
    { "max_request_line", "-8k", "not a size" },
    { "max_request_line", "0", "below the minimum of 1 bytes" },
    { "max_header_block", "2G", "above the maximum of 1073741824 bytes" },
    { "max_chunk_ext", "1.5k", "not a size" },
    { "cache_size", "18446744073709551615k", "too large" },
    { "cache_size", "99999999999999999999", "too large" },
    { "cache_size", "1T", "not a size" },
    /* durations */
    { "client_head_timeout", "0", "below the minimum of 1ms" },
    { "client_head_timeout", "0ms", "below the minimum of 1ms" },
    { "client_head_timeout", "5x", "not a duration" },
    { "client_head_timeout", "1.5s", "not a duration" },
    { "client_head_timeout", "s", "not a duration" },
    { "client_head_timeout", "-5s", "not a duration" },
    { "client_head_timeout", "5 s", "not a duration" },
    { "client_head_timeout", "5S", "not a duration" },
    { "client_head_timeout", "5sec", "not a duration" },
    { "shutdown_timeout", "0s5", "not a duration" },
    { "keepalive_timeout", "99999999999999999999", "too large" },
    { "keepalive_timeout", "999999999999999999d", "too large" },
    { "dns_max_ttl", "1500ms", "whole number of seconds" },
    { "dns_negative_ttl", "ten", "not a duration" },
    { "max_heuristic_freshness", "1w", "not a duration" },
    /* booleans and levels */
    { "serve_stale_on_error", "maybe", "not a boolean" },
    { "serve_stale_on_error", "2", "not a boolean" },
    { "serve_stale_on_error", "", "missing value" },
    { "log_level", "verbose", "not a log level" },
    { "log_level", "warning", "not a log level" },
    /* listen addresses */
    { "listen", "127.0.0.1", "has no port" },
    { "listen", "3128", "has no port" },
    { "listen", "127.0.0.1:0", "port out of range" },
    { "listen", "127.0.0.1:65536", "port out of range" },
    { "listen", "127.0.0.1:", "bad port" },
    { "listen", "1.2.3.4:80x", "bad port" },
    { "listen", "1.2.3.4:-80", "bad port" },
    { "listen", "::1:3128", "[ADDR]:PORT" },
    { "listen", "[::1]3128", "[ADDR]:PORT" },
    { "listen", "[::1:3128", "[ADDR]:PORT" },
    { "listen", "[1.2.3.4]:80", "not a numeric IPv6" },
    { "listen", "localhost:3128", "not a numeric IPv4" },
    { "listen", "*:3128", "not a numeric IPv4" },
    { "listen", "127.0.0.1:80 bogus:81", "'bogus:81'" },
    { "listen", "", "missing value" },
    { "listen", " , ", "missing value" },
    /* networks and ports */
    { "client_allow", "10.0.0.1/8", "host bits set beyond the prefix: '10.0.0.1/8'" },
    { "client_allow", "10.0.0.0/8 10.0.0.0/33", "'10.0.0.0/33'" },
    { "client_allow", "garbage", "bad address: 'garbage'" },
    { "admin_allow", "none ::1", "alone" },
    { "admin_allow", "", "missing value" },
    { "connect_ports", "0", "out of range" },
    { "connect_ports", "443 70000", "'70000'" },
    { "connect_ports", "100-50", "backwards: '100-50'" },
    { "connect_ports", "https", "bad port: 'https'" },
    /* strings */
    { "access_log", "", "missing value" },
    { "error_log", "", "missing value" },
};

/* Which field to compare before and after a failed set. */
static int unchanged(const struct larder_config *a, const struct larder_config *b,
                     const char *name)
{
    if (strcmp(name, "listen") == 0)
        return a->nlisten == b->nlisten
            && memcmp(a->listen, b->listen, a->nlisten * sizeof *a->listen) == 0;
    if (strcmp(name, "client_allow") == 0)
        return a->client_allow.n == b->client_allow.n;
    if (strcmp(name, "admin_allow") == 0)
        return a->admin_allow.n == b->admin_allow.n;
    if (strcmp(name, "connect_ports") == 0)
        return a->connect_ports.n == b->connect_ports.n
            && larder_ports_match(&a->connect_ports, 443);
    if (strcmp(name, "access_log") == 0)
        return strcmp(a->access_log, b->access_log) == 0;
    if (strcmp(name, "error_log") == 0)
        return strcmp(a->error_log, b->error_log) == 0;
    return get_number(a, name) == get_number(b, name);
}

static void test_set_bad_values(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct larder_config cfg, ref;
        char err[256], want_prefix[64];
        const char *r;

        larder_config_defaults(&cfg);
        larder_config_defaults(&ref);
        r = larder_config_set(&cfg, c->name, c->value, err, sizeof err);
        if (!r)
            fail_msg("%s '%s' accepted", c->name, c->value ? c->value : "(null)");
        assert_ptr_equal(r, err);
        /* the message begins with the option's name */
        snprintf(want_prefix, sizeof want_prefix, "%s: ", c->name);
        if (strncmp(err, want_prefix, strlen(want_prefix)) != 0 || !strstr(err, c->want))
            fail_msg("%s '%s': message '%s' lacks '%s'", c->name,
                     c->value ? c->value : "(null)", err, c->want);
        if (!unchanged(&cfg, &ref, c->name))
            fail_msg("%s '%s' changed the option although rejected", c->name,
                     c->value ? c->value : "(null)");
        larder_config_free(&cfg);
        larder_config_free(&ref);
    }
}

static void test_set_messages_and_names(void **state)
{
    struct larder_config cfg;
    char err[256], tiny[8];
    const char *r;

    (void)state;
    larder_config_defaults(&cfg);

    r = larder_config_set(&cfg, "foo", "1", err, sizeof err);
    assert_ptr_equal(r, err);
    assert_string_equal(err, "unknown option 'foo'");
    assert_non_null(larder_config_set(&cfg, "max_connections ", "1", err, sizeof err));
    assert_non_null(larder_config_set(&cfg, "", "1", err, sizeof err));
    assert_non_null(larder_config_set(&cfg, NULL, "1", err, sizeof err));
    assert_string_equal(err, "unknown option ''");

    /* exact wording of the common errors */
    larder_config_set(&cfg, "max_connections", "abc", err, sizeof err);
    assert_string_equal(err, "max_connections: 'abc' is not a number");
    larder_config_set(&cfg, "max-connections", "", err, sizeof err);
    assert_string_equal(err, "max_connections: missing value");

    /* without a buffer: still a reason */
    r = larder_config_set(&cfg, "max_connections", "abc", NULL, 0);
    assert_non_null(r);
    assert_non_null(larder_config_set(&cfg, "nope", "1", NULL, 0));
    /* a small buffer is truncated, not overrun */
    r = larder_config_set(&cfg, "max_connections", "abc", tiny, sizeof tiny);
    assert_ptr_equal(r, tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);

    /* strings: spaces kept, via_name may be empty */
    assert_null(larder_config_set(&cfg, "via_name", "my cache", err, sizeof err));
    assert_string_equal(cfg.via_name, "my cache");
    assert_null(larder_config_set(&cfg, "via-name", "", err, sizeof err));
    assert_string_equal(cfg.via_name, "");
    assert_null(larder_config_set(&cfg, "access_log", "/var/log/larder/access.log", err, sizeof err));
    assert_string_equal(cfg.access_log, "/var/log/larder/access.log");
    assert_null(larder_config_set(&cfg, "access_log", "off", err, sizeof err));
    assert_string_equal(cfg.access_log, "off");
    assert_null(larder_config_set(&cfg, "error_log", "/tmp/e.log", err, sizeof err));
    assert_string_equal(cfg.error_log, "/tmp/e.log");
    larder_config_free(&cfg);
}

static void test_listen_values(void **state)
{
    struct larder_config cfg;
    const struct sockaddr_in6 *sin6;
    const struct sockaddr_in *sin;
    char err[256];

    (void)state;
    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "listen", "[::1]:3128", err, sizeof err));
    assert_int_equal(cfg.nlisten, 1);
    sin6 = (const struct sockaddr_in6 *)&cfg.listen[0].ss;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 3128);
    assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    assert_int_equal(cfg.listen[0].len, sizeof(struct sockaddr_in6));
    assert_string_equal(cfg.listen[0].text, "[::1]:3128");

    assert_null(larder_config_set(&cfg, "listen", "0.0.0.0:8080", err, sizeof err));
    sin = (const struct sockaddr_in *)&cfg.listen[0].ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
    assert_int_equal(ntohs(sin->sin_port), 8080);
    assert_string_equal(cfg.listen[0].text, "0.0.0.0:8080");

    /* several in one value; the text is canonical */
    assert_null(larder_config_set(&cfg, "listen",
                                  "127.0.0.1:1 [0:0::1]:2,[::]:65535\t10.0.0.1:3", err, sizeof err));
    assert_int_equal(cfg.nlisten, 4);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:1");
    assert_string_equal(cfg.listen[1].text, "[::1]:2");
    assert_string_equal(cfg.listen[2].text, "[::]:65535");
    assert_string_equal(cfg.listen[3].text, "10.0.0.1:3");

    /* each set call replaces the list */
    assert_null(larder_config_set(&cfg, "listen", "127.0.0.1:9", err, sizeof err));
    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:9");
    larder_config_free(&cfg);
}

static void test_acl_and_port_values(void **state)
{
    struct larder_config cfg;
    char err[256];

    (void)state;
    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "client_allow", "10.0.0.0/8, 192.168.0.0/16", err, sizeof err));
    assert_true(acl_has(&cfg.client_allow, "10.1.1.1"));
    assert_true(acl_has(&cfg.client_allow, "::ffff:192.168.3.4"));
    assert_false(acl_has(&cfg.client_allow, "127.0.0.1"));    /* replaced */
    assert_null(larder_config_set(&cfg, "client_allow", "all", err, sizeof err));
    assert_true(acl_has(&cfg.client_allow, "8.8.8.8"));
    assert_true(acl_has(&cfg.client_allow, "2001:db8::1"));
    assert_null(larder_config_set(&cfg, "admin_allow", "none", err, sizeof err));
    assert_int_equal(cfg.admin_allow.n, 0);
    assert_false(acl_has(&cfg.admin_allow, "127.0.0.1"));

    assert_null(larder_config_set(&cfg, "connect_ports", "443 563 8000-8100", err, sizeof err));
    assert_true(larder_ports_match(&cfg.connect_ports, 563));
    assert_true(larder_ports_match(&cfg.connect_ports, 8080));
    assert_false(larder_ports_match(&cfg.connect_ports, 80));
    assert_null(larder_config_set(&cfg, "connect-ports", "all", err, sizeof err));
    assert_true(larder_ports_match(&cfg.connect_ports, 80));
    assert_null(larder_config_set(&cfg, "connect_ports", "none", err, sizeof err));
    assert_false(larder_ports_match(&cfg.connect_ports, 443));
    larder_config_free(&cfg);
}

/* ---- the config file --------------------------------------------------- */

static void test_file_syntax(void **state)
{
    struct larder_config cfg;
    char path[256], err[512];

    (void)state;
    write_file(path, sizeof path, "syntax.conf",
               "# larder.conf\n"
               "   # indented comment\n"
               "\n"
               "\t\n"
               "listen 127.0.0.1:8080   # trailing comment\n"
               "listen [::1]:8080\n"
               "client_allow 10.0.0.0/8 192.168.0.0/16\n"
               "via_name cache#1\n"
               "max-connections 10\n"
               "access_log /var/log/larder access.log\n"
               "\t cache_size\t 64M \r\n"
               "keepalive_timeout 5s\r\n"
               "serve_stale_on_error yes#not a comment? no: no blank before it\n"
               "log_level debug");      /* no final newline */
    larder_config_defaults(&cfg);
    if (larder_config_load_file(&cfg, path, err, sizeof err) == 0)
        fail_msg("accepted a bad boolean");
    assert_non_null(strstr(err, ":13: serve_stale_on_error: 'yes#not a comment? no: no blank before it'"));
    larder_config_free(&cfg);

    write_file(path, sizeof path, "syntax.conf",
               "# larder.conf\n"
               "   # indented comment\n"
               "\n"
               "\t\n"
               "listen 127.0.0.1:8080   # trailing comment\n"
               "listen [::1]:8080\n"
               "client_allow 10.0.0.0/8 192.168.0.0/16\n"
               "via_name cache#1\n"
               "max-connections 10\n"
               "access_log /var/log/larder access.log\n"
               "\t cache_size\t 64M \r\n"
               "keepalive_timeout 5s\r\n"
               "serve_stale_on_error yes #it is a comment here\n"
               "log_level debug");
    larder_config_defaults(&cfg);
    if (larder_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.nlisten, 2);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:8080");
    assert_string_equal(cfg.listen[1].text, "[::1]:8080");
    assert_true(acl_has(&cfg.client_allow, "10.2.3.4"));
    assert_true(acl_has(&cfg.client_allow, "192.168.200.1"));
    assert_false(acl_has(&cfg.client_allow, "127.0.0.1"));
    assert_string_equal(cfg.via_name, "cache#1");
    assert_int_equal(cfg.max_connections, 10);
    assert_string_equal(cfg.access_log, "/var/log/larder access.log");
    assert_int_equal(cfg.cache_size, 64 * MB);
    assert_int_equal(cfg.keepalive_timeout, 5000);
    assert_int_equal(cfg.serve_stale_on_error, 1);
    assert_int_equal(cfg.log_level, LARDER_LOG_DEBUG);
    /* options the file does not mention keep their defaults */
    assert_int_equal(cfg.client_head_timeout, 30000);
    assert_true(acl_has(&cfg.admin_allow, "127.0.0.1"));
    larder_config_free(&cfg);
}

struct file_error_case {
    const char *content;
    unsigned line;
    const char *want;         /* after "FILE:LINE: " */
};

static const struct file_error_case file_errors[] = {
    { "max_connections 10\nfoo 1\n", 2, "unknown option 'foo'" },
    { "\n\nmax_connections\n", 3, "max_connections: missing value" },
    { "max_connections    \t\n", 1, "max_connections: missing value" },
    { "max_connections # only a comment\n", 1, "max_connections: missing value" },
    { "# ok\nmax_connections 10 # c\nmax_connections abc\n", 3,
      "max_connections: 'abc' is not a number" },
    { "listen 127.0.0.1:0\n", 1, "listen: '127.0.0.1:0' has a port out of range" },
    { "# x\nclient_allow 10.0.0.1/8\n", 2, "client_allow: host bits" },
    { "connect_ports 443\nconnect_ports 8000-80\n", 2, "connect_ports: port range runs backwards" },
    { "cache_size 1T\n", 1, "cache_size: '1T' is not a size" },
    { "dns_max_ttl 10ms\n", 1, "dns_max_ttl: '10ms' is not a whole number of seconds" },
    { "--listen 127.0.0.1:1\n", 1, "unknown option '--listen'" },
    { "config other.conf\n", 1, "unknown option 'config'" },
    { "max_connections=10\n", 1, "unknown option 'max_connections=10'" },
    { "via_name\n", 1, "via_name: missing value" },
};

static void test_file_errors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof file_errors / sizeof file_errors[0]; i++) {
        struct larder_config cfg;
        char path[256], err[512], want[768];

        write_file(path, sizeof path, "bad.conf", file_errors[i].content);
        snprintf(want, sizeof want, "%s:%u: %s", path, file_errors[i].line, file_errors[i].want);
        larder_config_defaults(&cfg);
        if (larder_config_load_file(&cfg, path, err, sizeof err) != -1)
            fail_msg("file '%s' accepted", file_errors[i].content);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("file '%s':\n got  '%s'\n want '%s...'", file_errors[i].content, err, want);
        larder_config_free(&cfg);
    }
}

static void test_file_unreadable(void **state)
{
    struct larder_config cfg;
    char path[256], err[512];

    (void)state;
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    larder_config_defaults(&cfg);
    assert_int_equal(larder_config_load_file(&cfg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, "No such file"));
    /* a directory opens but cannot be read */
    assert_int_equal(larder_config_load_file(&cfg, tmpdir, err, sizeof err), -1);
    assert_non_null(strstr(err, tmpdir));
    larder_config_free(&cfg);
}

static void test_file_list_accumulates(void **state)
{
    struct larder_config cfg;
    char path[256], err[512];

    (void)state;
    write_file(path, sizeof path, "lists.conf",
               "listen 127.0.0.1:1\n"
               "listen 127.0.0.1:2 127.0.0.1:3\n"
               "client_allow 10.0.0.0/8\n"
               "client_allow 172.16.0.0/12\n"
               "connect_ports 443\n"
               "connect_ports 563\n"
               "admin_allow none\n"
               "max_connections 5\n"
               "max_connections 6\n");
    larder_config_defaults(&cfg);
    if (larder_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* the default list is replaced by the file's, whose lines add up */
    assert_int_equal(cfg.nlisten, 3);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:1");
    assert_string_equal(cfg.listen[2].text, "127.0.0.1:3");
    assert_true(acl_has(&cfg.client_allow, "10.0.0.1"));
    assert_true(acl_has(&cfg.client_allow, "172.20.0.1"));
    assert_false(acl_has(&cfg.client_allow, "127.0.0.1"));
    assert_true(larder_ports_match(&cfg.connect_ports, 443));
    assert_true(larder_ports_match(&cfg.connect_ports, 563));
    assert_int_equal(cfg.admin_allow.n, 0);
    assert_int_equal(cfg.max_connections, 6);             /* last one wins */

    /* a second file is a new source: it replaces again */
    write_file(path, sizeof path, "lists2.conf", "listen 127.0.0.1:4\n");
    if (larder_config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:4");

    /* an error after a replacement leaves a usable config (no leak, no crash) */
    write_file(path, sizeof path, "lists3.conf", "listen 127.0.0.1:5\nlisten bad\n");
    assert_int_equal(larder_config_load_file(&cfg, path, err, sizeof err), -1);
    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:5");
    larder_config_free(&cfg);
}

/* ---- the command line -------------------------------------------------- */

/* Runs larder_config_from_args on a NULL-terminated list after "larder". */
static int run_args(struct larder_config *cfg, enum larder_action *action,
                    char *err, size_t errlen, const char *const *args)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)"larder";
    while (*args) {
        assert_true(argc < 31);
        argv[argc++] = (char *)*args++;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return larder_config_from_args(cfg, argc, argv, action, err, errlen);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_args_forms(void **state)
{
    struct larder_config cfg;
    enum larder_action action = LARDER_ACTION_COUNT;
    char err[512];

    (void)state;
    larder_config_defaults(&cfg);
    assert_int_equal(run_args(&cfg, &action, err, sizeof err, ARGS(NULL)), 0);
    assert_int_equal(action, LARDER_ACTION_RUN);

    assert_int_equal(run_args(&cfg, &action, err, sizeof err,
                              ARGS("--max-connections", "5", "--cache-size=1G",
                                   "--serve_stale_on_error", "on", "--listen=[::1]:9000",
                                   "--via-name=", "--access-log", "-",
                                   "--client-allow", "10.0.0.0/8 ::1")), 0);
    assert_int_equal(action, LARDER_ACTION_RUN);
    assert_int_equal(cfg.max_connections, 5);
    assert_int_equal(cfg.cache_size, (uint64_t)1 << 30);
    assert_int_equal(cfg.serve_stale_on_error, 1);
    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(cfg.listen[0].text, "[::1]:9000");
    assert_string_equal(cfg.via_name, "");
    assert_string_equal(cfg.access_log, "-");
    assert_true(acl_has(&cfg.client_allow, "10.9.8.7"));
    assert_false(acl_has(&cfg.client_allow, "127.0.0.1"));
    larder_config_free(&cfg);
}

static void test_args_actions(void **state)
{
    static const struct {
        const char *args[4];
        enum larder_action want;
    } cases[] = {
        { { "--help", NULL }, LARDER_ACTION_HELP },
        { { "-h", NULL }, LARDER_ACTION_HELP },
        { { "--version", NULL }, LARDER_ACTION_VERSION },
        { { "-V", NULL }, LARDER_ACTION_VERSION },
        /* help wins over what follows, and values are not judged first */
        { { "--max-connections", "abc", "--help", NULL }, LARDER_ACTION_HELP },
        { { "--help", "--no-such-option", NULL }, LARDER_ACTION_HELP },
        { { "--listen", "1.2.3.4:5", "-V", NULL }, LARDER_ACTION_VERSION },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct larder_config cfg;
        enum larder_action action = LARDER_ACTION_COUNT;
        char err[512];

        larder_config_defaults(&cfg);
        assert_int_equal(run_args(&cfg, &action, err, sizeof err, cases[i].args), 0);
        assert_int_equal(action, cases[i].want);
        larder_config_free(&cfg);
    }
}

static void test_args_config_first(void **state)
{
    struct larder_config cfg;
    enum larder_action action = LARDER_ACTION_COUNT;
    char path[256], arg[300], err[512];

    (void)state;
    write_file(path, sizeof path, "prec.conf",
               "max_connections 100\n"
               "cache_size 1M\n"
               "listen 127.0.0.1:1\n"
               "listen 127.0.0.1:2\n"
               "connect_ports 443\n"
               "connect_ports 563\n");

    /* --config after an option still applies first: the command line wins */
    larder_config_defaults(&cfg);
    assert_int_equal(run_args(&cfg, &action, err, sizeof err,
                              ARGS("--max-connections", "5", "--config", path)), 0);
    assert_int_equal(action, LARDER_ACTION_RUN);
    assert_int_equal(cfg.max_connections, 5);
    assert_int_equal(cfg.cache_size, MB);                  /* from the file */
    assert_int_equal(cfg.max_object_size, 16 * MB);        /* default */
    assert_int_equal(cfg.nlisten, 2);                      /* file accumulates */
    larder_config_free(&cfg);

    /* a list on the command line replaces the file's; repeats accumulate */
    snprintf(arg, sizeof arg, "--config=%s", path);
    larder_config_defaults(&cfg);
    assert_int_equal(run_args(&cfg, &action, err, sizeof err,
                              ARGS("--listen", "127.0.0.1:3", arg,
                                   "--listen=127.0.0.1:4", "--connect-ports", "8000-8100")), 0);
    assert_int_equal(cfg.nlisten, 2);
    assert_string_equal(cfg.listen[0].text, "127.0.0.1:3");
    assert_string_equal(cfg.listen[1].text, "127.0.0.1:4");
    assert_false(larder_ports_match(&cfg.connect_ports, 443));
    assert_false(larder_ports_match(&cfg.connect_ports, 563));
    assert_true(larder_ports_match(&cfg.connect_ports, 8080));
    assert_int_equal(cfg.max_connections, 100);            /* from the file */
    larder_config_free(&cfg);

    /* --check-config loads the file and asks for a check */
    larder_config_defaults(&cfg);
    assert_int_equal(run_args(&cfg, &action, err, sizeof err,
                              ARGS("--check-config", path, "--max-connections=7")), 0);
    assert_int_equal(action, LARDER_ACTION_CHECK_CONFIG);
    assert_int_equal(cfg.max_connections, 7);
    assert_int_equal(cfg.cache_size, MB);
    larder_config_free(&cfg);
}

struct args_error_case {
    const char *args[6];
    const char *want;         /* substring; "@" stands for the test directory */
};

static const struct args_error_case args_errors[] = {
    { { "--foo", "1", NULL }, "unknown option '--foo'" },
    { { "-x", NULL }, "unknown option '-x'" },
    { { "-", NULL }, "unknown option '-'" },
    { { "--", NULL }, "unknown option '--'" },
    { { "foo", NULL }, "unexpected argument 'foo'" },
    { { "--max-connections", "5", "extra", NULL }, "unexpected argument 'extra'" },
    { { "--max-connections", NULL }, "option '--max-connections' needs a value" },
    { { "--max-connections", "--listen", "1.2.3.4:5", NULL },
      "option '--max-connections' needs a value" },
    { { "--max-connections=", NULL }, "max_connections: missing value" },
    { { "--max-connections=abc", NULL }, "max_connections: 'abc' is not a number" },
    { { "--max-connections", "abc", NULL }, "max_connections: 'abc' is not a number" },
    { { "--listen", "127.0.0.1:0", NULL }, "listen: '127.0.0.1:0' has a port out of range" },
    { { "--client-allow", "10.0.0.1/8", NULL }, "client_allow: host bits" },
    { { "--help=1", NULL }, "option '--help' takes no value" },
    { { "--config", NULL }, "option '--config' needs a value" },
    { { "--config=", NULL }, "option '--config' needs a value" },
    { { "--check-config", NULL }, "option '--check-config' needs a value" },
    { { "--config", "a", "--config", "b", NULL }, "only one --config or --check-config" },
    { { "--config", "a", "--check-config", "b", NULL }, "only one --config or --check-config" },
    { { "--config", "@/none.conf", NULL }, "@/none.conf: cannot open" },
    { { "--check-config", "@/none.conf", NULL }, "@/none.conf: cannot open" },
    { { "--check-config", "@/args-bad.conf", NULL }, "@/args-bad.conf:2: unknown option 'bogus'" },
    { { "--config", "@/args-bad.conf", NULL }, "@/args-bad.conf:2: unknown option 'bogus'" },
};

static void test_args_errors(void **state)
{
    char path[256];
    size_t i, j;

    (void)state;
    write_file(path, sizeof path, "args-bad.conf", "max_connections 9\nbogus 1\n");
    for (i = 0; i < sizeof args_errors / sizeof args_errors[0]; i++) {
        struct larder_config cfg;
        enum larder_action action = LARDER_ACTION_COUNT;
        char args_buf[6][300], want[512], err[512];
        const char *args[7];
        const char *at;

        for (j = 0; args_errors[i].args[j]; j++) {
            const char *a = args_errors[i].args[j];

            if (a[0] == '@')
                snprintf(args_buf[j], sizeof args_buf[j], "%s%s", tmpdir, a + 1);
            else
                snprintf(args_buf[j], sizeof args_buf[j], "%s", a);
            args[j] = args_buf[j];
        }
        args[j] = NULL;
        if ((at = strchr(args_errors[i].want, '@')) != NULL)
            snprintf(want, sizeof want, "%.*s%s%s", (int)(at - args_errors[i].want),
                     args_errors[i].want, tmpdir, at + 1);
        else
            snprintf(want, sizeof want, "%s", args_errors[i].want);

        larder_config_defaults(&cfg);
        if (run_args(&cfg, &action, err, sizeof err, args) != -1)
            fail_msg("case %zu accepted", i);
        if (!strstr(err, want))
            fail_msg("case %zu:\n got  '%s'\n want '%s'", i, err, want);
        larder_config_free(&cfg);
    }
}

/* ---- validation -------------------------------------------------------- */

static void test_validate(void **state)
{
    struct larder_config cfg;
    char err[256];

    (void)state;

    larder_config_defaults(&cfg);
    free(cfg.listen);
    cfg.listen = NULL;
    cfg.nlisten = 0;
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "listen: no address to listen on");
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "listen", "127.0.0.1:1 [::1]:1 127.0.0.1:01", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "listen: 127.0.0.1:1 given more than once");
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "cache_size", "1M", err, sizeof err));
    assert_null(larder_config_set(&cfg, "max_object_size", "1M", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), 0);   /* equal is fine */
    assert_null(larder_config_set(&cfg, "max_object_size", "1048577", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "max_object_size (1048577 bytes) is larger than cache_size (1048576 bytes)");
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "cache_size", "8G", err, sizeof err));
    assert_null(larder_config_set(&cfg, "max_object_size", "2G", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), 0);
    assert_null(larder_config_set(&cfg, "max_object_size", "2147483649", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "max_object_size: objects over 2 GiB are not cached; give at most 2G");
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    assert_null(larder_config_set(&cfg, "max_request_line", "64k", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), 0);   /* equal is fine */
    assert_null(larder_config_set(&cfg, "max_request_line", "65537", err, sizeof err));
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_string_equal(err, "max_request_line (65537 bytes) is larger than max_header_block (65536 bytes)");
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    cfg.limits.max_fields = 0;
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_header_fields"));
    larder_config_free(&cfg);

    larder_config_defaults(&cfg);
    cfg.max_connections = 0;
    assert_int_equal(larder_config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_connections"));
    larder_config_free(&cfg);
}

/* ---- help -------------------------------------------------------------- */

static const struct { const char *name; const char *def; } help_defaults[] = {
    { "listen", "127.0.0.1:3128" },
    { "client-allow", "127.0.0.0/8 ::1" },
    { "admin-allow", "127.0.0.0/8 ::1" },
    { "connect-ports", "443" },
    { "max-connections", "4096" },
    { "max-request-line", "8k" },
    { "max-header-block", "64k" },
    { "max-header-fields", "128" },
    { "max-chunk-ext", "4k" },
    { "client-head-timeout", "30s" },
    { "client-body-timeout", "60s" },
    { "keepalive-timeout", "60s" },
    { "upstream-connect-timeout", "10s" },
    { "upstream-first-byte-timeout", "60s" },
    { "upstream-read-timeout", "60s" },
    { "upstream-idle-timeout", "30s" },
    { "tunnel-idle-timeout", "300s" },
    { "shutdown-timeout", "10s" },
    { "dns-timeout", "5s" },
    { "upstream-max-idle-per-host", "64" },
    { "dns-cache-entries", "1024" },
    { "dns-max-ttl", "300" },
    { "dns-negative-ttl", "10" },
    { "via-name", "\"\"" },
    { "access-log", "-" },
    { "error-log", "-" },
    { "log-level", "info" },
    { "cache-size", "256M" },
    { "max-object-size", "16M" },
    { "max-heuristic-freshness", "1d" },
    { "serve-stale-on-error", "off" },
    { "coalesce-timeout", "10s" },
    { "uncacheable-ttl", "60s" },
};

static void test_help_lists_every_option(void **state)
{
    char *text = NULL;
    size_t len = 0, i, options_shown = 0;
    const char *p;
    FILE *f;

    (void)state;
    f = open_memstream(&text, &len);
    assert_non_null(f);
    larder_config_print_help(f);
    assert_int_equal(fclose(f), 0);

    assert_memory_equal(text, "usage: larder", 13);
    assert_non_null(strstr(text, "--config FILE"));
    assert_non_null(strstr(text, "--check-config FILE"));
    assert_non_null(strstr(text, "--help"));
    assert_non_null(strstr(text, "--version"));

    for (i = 0; i < sizeof help_defaults / sizeof help_defaults[0]; i++) {
        char head[96], def[96];
        const char *line, *eol;

        snprintf(head, sizeof head, "\n  --%s ", help_defaults[i].name);
        snprintf(def, sizeof def, "(default: %s)", help_defaults[i].def);
        line = strstr(text, head);
        if (!line)
            fail_msg("--help does not list %s", help_defaults[i].name);
        eol = strchr(line + 1, '\n');
        if (!eol || !strstr(line, def) || strstr(line, def) > eol)
            fail_msg("--help line for %s lacks %s", help_defaults[i].name, def);
        /* followed by an indented line of help text */
        if (strncmp(eol, "\n      ", 7) != 0 || eol[7] == ' ')
            fail_msg("--help gives no text for %s", help_defaults[i].name);
    }
    /* and nothing else carries a default: the table and the list agree */
    for (p = text; (p = strstr(p, "(default: ")) != NULL; p++)
        options_shown++;
    assert_int_equal(options_shown, sizeof help_defaults / sizeof help_defaults[0]);
    /* no line longer than a terminal */
    for (p = text; *p; ) {
        const char *eol = strchr(p, '\n');

        assert_non_null(eol);
        if (eol - p > 100)
            fail_msg("long help line: %.*s", (int)(eol - p), p);
        p = eol + 1;
    }
    free(text);
}

/* Every option the help shows is accepted by larder_config_set with its
 * own default, under both spellings. */
static void test_help_defaults_round_trip(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof help_defaults / sizeof help_defaults[0]; i++) {
        struct larder_config cfg, ref;
        char err[256], under[64];
        const char *def = strcmp(help_defaults[i].def, "\"\"") == 0 ? "" : help_defaults[i].def;

        for (j = 0; help_defaults[i].name[j]; j++)
            under[j] = help_defaults[i].name[j] == '-' ? '_' : help_defaults[i].name[j];
        under[j] = '\0';
        larder_config_defaults(&cfg);
        larder_config_defaults(&ref);
        if (larder_config_set(&cfg, under, def, err, sizeof err))
            fail_msg("%s", err);
        if (larder_config_set(&cfg, help_defaults[i].name, def, err, sizeof err))
            fail_msg("%s", err);
        if (strcmp(under, "listen") != 0 && strcmp(under, "client_allow") != 0
            && strcmp(under, "admin_allow") != 0 && strcmp(under, "connect_ports") != 0
            && strcmp(under, "via_name") != 0 && strcmp(under, "access_log") != 0
            && strcmp(under, "error_log") != 0)
            assert_int_equal(get_number(&cfg, under), get_number(&ref, under));
        larder_config_free(&cfg);
        larder_config_free(&ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_good_values),
        cmocka_unit_test(test_set_bad_values),
        cmocka_unit_test(test_set_messages_and_names),
        cmocka_unit_test(test_listen_values),
        cmocka_unit_test(test_acl_and_port_values),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_unreadable),
        cmocka_unit_test(test_file_list_accumulates),
        cmocka_unit_test(test_args_forms),
        cmocka_unit_test(test_args_actions),
        cmocka_unit_test(test_args_config_first),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_help_defaults_round_trip),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
