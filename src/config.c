/* SPDX-License-Identifier: MIT */
/* config.c - the option table and everything it drives: defaults, the config
 * file, the command line, --help and validation. */
#include "larder/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "larder/log.h"

/* ---- the option table -------------------------------------------------- */

enum opt_type {
    OPT_LISTEN = 0,           /* struct larder_listen_addr list (cfg->listen) */
    OPT_ACL,                  /* struct larder_acl */
    OPT_PORTS,                /* struct larder_ports */
    OPT_UINT,                 /* unsigned, plain number */
    OPT_BYTES,                /* uint64_t, size with k/M/G suffix */
    OPT_BYTES_SZ,             /* size_t, size with k/M/G suffix */
    OPT_MSEC,                 /* uint64_t milliseconds, duration */
    OPT_SECONDS,              /* uint64_t seconds, duration in whole seconds */
    OPT_BOOL,                 /* int 0/1 */
    OPT_STRING,               /* char *, owned */
    OPT_LEVEL,                /* int, enum larder_log_level */
    OPT_TYPE_COUNT            /* keep last */
};

#define OPT_F_EMPTY_OK 0x1u   /* an empty value is a value, not a missing one */

struct config_option {
    const char *name;         /* canonical, with underscores */
    enum opt_type type;
    const char *def;          /* default, in the syntax a user would write */
    size_t offset;            /* of the field in struct larder_config */
    uint64_t min, max;        /* allowed range for numbers; max 0: the type's */
    unsigned flags;           /* OPT_F_* */
    const char *metavar;      /* NULL: the type's */
    const char *help;
};

#define OFF(field) offsetof(struct larder_config, field)
#define GIB ((uint64_t)1 << 30)

static const struct config_option options[] = {
    /* network */
    { "listen", OPT_LISTEN, "127.0.0.1:3128", OFF(listen), 0, 0, 0, NULL,
      "Address and port to accept clients on: 127.0.0.1:3128, [::1]:3128, "
      "0.0.0.0:8080. Give several separated by spaces, or repeat the option." },
    { "client_allow", OPT_ACL, "127.0.0.0/8 ::1", OFF(client_allow), 0, 0, 0, NULL,
      "Networks whose clients may use the proxy: addresses or CIDR blocks "
      "separated by spaces, 'all' or 'none'." },
    { "admin_allow", OPT_ACL, "127.0.0.0/8 ::1", OFF(admin_allow), 0, 0, 0, NULL,
      "Networks whose clients may see the proxy's own /larder/ pages "
      "(same syntax as client_allow)." },
    { "connect_ports", OPT_PORTS, "443", OFF(connect_ports), 0, 0, 0, NULL,
      "Ports that CONNECT tunnels may reach: ports and ranges such as "
      "'443 563 8000-8100', 'all' or 'none'." },
    { "max_connections", OPT_UINT, "4096", OFF(max_connections), 1, 0, 0, NULL,
      "Most client connections open at once." },

    /* HTTP message limits */
    { "max_request_line", OPT_BYTES_SZ, "8k", OFF(limits.max_line), 1, GIB, 0, NULL,
      "Longest request line accepted; longer ones get 414." },
    { "max_header_block", OPT_BYTES_SZ, "64k", OFF(limits.max_head), 1, GIB, 0, NULL,
      "Largest message head (start line and header fields) accepted; a "
      "larger request gets 431, a larger response 502." },
    { "max_header_fields", OPT_UINT, "128", OFF(limits.max_fields), 1, 65535, 0, NULL,
      "Most header field lines in one message head." },
    { "max_chunk_ext", OPT_BYTES_SZ, "4k", OFF(limits.max_chunk_ext), 0, GIB, 0, NULL,
      "Longest chunk extension on one chunk-size line of a chunked body." },

    /* timeouts */
    { "client_head_timeout", OPT_MSEC, "30s", OFF(client_head_timeout), 1, 0, 0, NULL,
      "Time a client has to send a complete request head, from its first byte." },
    { "client_body_timeout", OPT_MSEC, "60s", OFF(client_body_timeout), 1, 0, 0, NULL,
      "Longest pause between bytes of a request body." },
    { "keepalive_timeout", OPT_MSEC, "60s", OFF(keepalive_timeout), 1, 0, 0, NULL,
      "How long an idle client connection is kept open between requests." },
    { "upstream_connect_timeout", OPT_MSEC, "10s", OFF(upstream_connect_timeout), 1, 0, 0, NULL,
      "Time to establish a connection to an origin server." },
    { "upstream_first_byte_timeout", OPT_MSEC, "60s", OFF(upstream_first_byte_timeout),
      1, 0, 0, NULL,
      "Time from sending a request to an origin until its response head has arrived." },
    { "upstream_read_timeout", OPT_MSEC, "60s", OFF(upstream_read_timeout), 1, 0, 0, NULL,
      "Longest pause between bytes of a response body from an origin." },
    { "upstream_idle_timeout", OPT_MSEC, "30s", OFF(upstream_idle_timeout), 1, 0, 0, NULL,
      "How long an idle origin connection is kept in the pool for reuse." },
    { "tunnel_idle_timeout", OPT_MSEC, "300s", OFF(tunnel_idle_timeout), 1, 0, 0, NULL,
      "How long a CONNECT tunnel may carry no data in either direction." },
    { "shutdown_timeout", OPT_MSEC, "10s", OFF(shutdown_timeout), 1, 0, 0, NULL,
      "On shutdown, how long requests in flight may take to finish." },
    { "dns_timeout", OPT_MSEC, "5s", OFF(dns_timeout), 1, 0, 0, NULL,
      "Time to resolve an origin's host name." },

    /* upstream */
    { "upstream_max_idle_per_host", OPT_UINT, "64", OFF(upstream_max_idle_per_host),
      0, 0, 0, NULL,
      "Most idle origin connections kept in the pool per host:port." },
    { "dns_cache_entries", OPT_UINT, "1024", OFF(dns_cache_entries), 0, 0, 0, NULL,
      "Most host names kept in the DNS cache." },
    { "dns_max_ttl", OPT_SECONDS, "300", OFF(dns_max_ttl), 0, 0, 0, NULL,
      "Longest time a DNS answer is reused, whatever TTL it carries." },
    { "dns_negative_ttl", OPT_SECONDS, "10", OFF(dns_negative_ttl), 0, 0, 0, NULL,
      "How long a failed lookup is remembered before the name is asked again." },
    { "via_name", OPT_STRING, "", OFF(via_name), 0, 0, OPT_F_EMPTY_OK, "NAME",
      "Name larder gives itself in the Via header; empty means the machine's host name." },

    /* logs */
    { "access_log", OPT_STRING, "-", OFF(access_log), 0, 0, 0, "PATH",
      "Access log file, one line per request; '-' for standard output, 'off' for none." },
    { "error_log", OPT_STRING, "-", OFF(error_log), 0, 0, 0, "PATH",
      "Error log file; '-' for standard error." },
    { "log_level", OPT_LEVEL, "info", OFF(log_level), 0, 0, 0, NULL,
      "Least severe error-log messages written: error, warn, info or debug." },

    /* cache */
    { "cache_size", OPT_BYTES, "256M", OFF(cache_size), 0, 0, 0, NULL,
      "Memory the in-memory cache may use for stored responses." },
    { "max_object_size", OPT_BYTES, "16M", OFF(max_object_size), 0, 0, 0, NULL,
      "Largest response the cache stores; no more than cache_size." },
    { "max_heuristic_freshness", OPT_SECONDS, "1d", OFF(max_heuristic_freshness), 0, 0, 0, NULL,
      "Longest freshness the cache grants a response that carries no explicit "
      "expiry, estimated from its Last-Modified." },
    { "serve_stale_on_error", OPT_BOOL, "off", OFF(serve_stale_on_error), 0, 0, 0, NULL,
      "Serve a stale cached response when the origin cannot be reached or "
      "fails, instead of an error." },
    { "coalesce_timeout", OPT_MSEC, "10s", OFF(coalesce_timeout), 1, 0, 0, NULL,
      "How long a request waits for an identical request already being fetched "
      "from the origin before it goes to the origin itself." },
    { "uncacheable_ttl", OPT_SECONDS, "60s", OFF(uncacheable_ttl), 0, 0, 0, NULL,
      "After a response for a URL could not be stored (no-store, private, ...), "
      "requests for it go straight to the origin, without waiting on each "
      "other, for this long; 0 turns this off." },
};

#define NOPTIONS (sizeof options / sizeof options[0])

/* One bit per option marks the list options already given in the source
 * being read. */
typedef uint64_t seen_mask;
_Static_assert(sizeof(options) / sizeof(options[0]) <= 64, "seen_mask is too small");

static const char *const type_metavar[OPT_TYPE_COUNT] = {
    [OPT_LISTEN] = "ADDR:PORT...",
    [OPT_ACL] = "CIDR...",
    [OPT_PORTS] = "PORTS...",
    [OPT_UINT] = "N",
    [OPT_BYTES] = "SIZE",
    [OPT_BYTES_SZ] = "SIZE",
    [OPT_MSEC] = "DURATION",
    [OPT_SECONDS] = "DURATION",
    [OPT_BOOL] = "on|off",
    [OPT_STRING] = "TEXT",
    [OPT_LEVEL] = "LEVEL",
};

static void *field(struct larder_config *cfg, const struct config_option *o)
{
    return (char *)cfg + o->offset;
}

/* Finds an option by name; '-' and '_' are the same character here.
 * <len> bytes of <name> are compared (the whole must match). */
static const struct config_option *find_option(const char *name, size_t len)
{
    size_t i, j;

    for (i = 0; i < NOPTIONS; i++) {
        const char *cand = options[i].name;

        if (strlen(cand) != len)
            continue;
        for (j = 0; j < len; j++) {
            char c = name[j] == '-' ? '_' : name[j];

            if (c != cand[j])
                break;
        }
        if (j == len)
            return &options[i];
    }
    return NULL;
}

static int is_list(const struct config_option *o)
{
    return o->type == OPT_LISTEN || o->type == OPT_ACL || o->type == OPT_PORTS;
}

static seen_mask option_bit(const struct config_option *o)
{
    return (seen_mask)1 << (o - options);
}

/* ---- value parsers (static reasons) ------------------------------------ */

/* Parses leading decimal digits of s into *v; *end_out points past them. */
static const char *parse_digits(const char *s, uint64_t *v, const char **end_out)
{
    uint64_t n = 0;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return "is not a number";
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (n > (UINT64_MAX - d) / 10)
            return "is too large";
        n = n * 10 + d;
    }
    *v = n;
    *end_out = p;
    return NULL;
}

static const char *scale(uint64_t *v, uint64_t mult)
{
    if (mult && *v > UINT64_MAX / mult)
        return "is too large";
    *v *= mult;
    return NULL;
}

static const char *parse_count(const char *s, uint64_t *v)
{
    const char *end, *reason;

    if ((reason = parse_digits(s, v, &end)) != NULL)
        return reason;
    if (*end)
        return "is not a whole number";
    return NULL;
}

/* "256M": binary multiples. */
static const char *parse_size(const char *s, uint64_t *v)
{
    const char *end, *reason;
    uint64_t mult = 1;

    if ((reason = parse_digits(s, v, &end)) != NULL)
        return *s >= '0' && *s <= '9' ? reason
             : "is not a size (a number with an optional k, M or G suffix)";
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mult = (uint64_t)1 << 10; break;
        case 'm': case 'M': mult = (uint64_t)1 << 20; break;
        case 'g': case 'G': mult = (uint64_t)1 << 30; break;
        default:
            return "is not a size (a number with an optional k, M or G suffix)";
        }
        if (end[1])
            return "is not a size (a number with an optional k, M or G suffix)";
    }
    return scale(v, mult);
}

/* "30s", "250ms", "5m", "1h", "1d"; a bare number is seconds. Gives ms. */
static const char *parse_duration_ms(const char *s, uint64_t *v)
{
    static const struct { const char *suffix; uint64_t ms; } units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
        { "h", 3600000 }, { "d", 86400000 },
    };
    const char *end;
    size_t i;

    if (*s < '0' || *s > '9')
        return "is not a duration (a number with an optional ms, s, m, h or d suffix)";
    if (parse_digits(s, v, &end) != NULL)
        return "is too large";
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0)
            return scale(v, units[i].ms);
    return "is not a duration (a number with an optional ms, s, m, h or d suffix)";
}

static const char *parse_bool(const char *s, uint64_t *v)
{
    static const char *const yes[] = { "on", "yes", "true", "1" };
    static const char *const no[] = { "off", "no", "false", "0" };
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *v = 1;
            return NULL;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *v = 0;
            return NULL;
        }
    }
    return "is not a boolean (on/off, yes/no, true/false, 1/0)";
}

/* One "ADDR:PORT" or "[ADDR6]:PORT" into *out. */
static const char *parse_listen_one(const char *tok, size_t len,
                                    struct larder_listen_addr *out)
{
    char buf[80], host[INET6_ADDRSTRLEN];
    char *hostp, *portp, *colon;
    uint64_t port;
    const char *end;
    int v6 = 0;

    if (len >= sizeof buf)
        return "is not an address:port";
    memcpy(buf, tok, len);
    buf[len] = '\0';

    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (!close || close[1] != ':')
            return "is not an address:port (write IPv6 as [ADDR]:PORT)";
        *close = '\0';
        hostp = buf + 1;
        portp = close + 2;
        v6 = 1;
    } else {
        if (!(colon = strrchr(buf, ':')))
            return "has no port (write ADDR:PORT)";
        if (memchr(buf, ':', (size_t)(colon - buf)))
            return "is not an address:port (write IPv6 as [ADDR]:PORT)";
        *colon = '\0';
        hostp = buf;
        portp = colon + 1;
    }

    if (parse_digits(portp, &port, &end) != NULL || *end)
        return "has a bad port";
    if (port < 1 || port > 65535)
        return "has a port out of range (1-65535)";

    memset(out, 0, sizeof *out);
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

        if (inet_pton(AF_INET6, hostp, &sin6->sin6_addr) != 1)
            return "is not a numeric IPv6 address";
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *sin6;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "[%s]:%u", host, (unsigned)port);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

        if (inet_pton(AF_INET, hostp, &sin->sin_addr) != 1)
            return "is not a numeric IPv4 address:port";
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        out->len = sizeof *sin;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "%s:%u", host, (unsigned)port);
    }
    return NULL;
}

/* ---- setting one option ------------------------------------------------ */

#define LIST_SEPARATORS " \t,"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Writes a number in the option's own unit ("1ms", "300s", "65535"). */
static void format_amount(char *buf, size_t len, const struct config_option *o, uint64_t v)
{
    const char *unit = o->type == OPT_MSEC ? "ms"
                     : o->type == OPT_SECONDS ? "s"
                     : o->type == OPT_BYTES || o->type == OPT_BYTES_SZ ? " bytes" : "";

    snprintf(buf, len, "%llu%s", (unsigned long long)v, unit);
}

static const char *set_listen(struct larder_config *cfg, const struct config_option *o,
                              const char *value, int replace, char *err, size_t errlen)
{
    struct larder_listen_addr *v, *grown;
    const char *p = value, *reason;
    size_t n = 0, cap = 0, len;

    v = NULL;
    for (;;) {
        p += strspn(p, LIST_SEPARATORS);
        if (!*p)
            break;
        len = strcspn(p, LIST_SEPARATORS);
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            if (!(grown = realloc(v, cap * sizeof *v))) {
                free(v);
                set_err(err, errlen, "%s: out of memory", o->name);
                return "out of memory";
            }
            v = grown;
        }
        if ((reason = parse_listen_one(p, len, &v[n])) != NULL) {
            free(v);
            set_err(err, errlen, "%s: '%.*s' %s", o->name, (int)len, p, reason);
            return reason;
        }
        n++;
        p += len;
    }
    if (n == 0) {
        set_err(err, errlen, "%s: missing value", o->name);
        return "missing value";
    }

    if (replace) {
        free(cfg->listen);
        cfg->listen = v;
        cfg->nlisten = n;
        return NULL;
    }
    if (!(grown = realloc(cfg->listen, (cfg->nlisten + n) * sizeof *grown))) {
        free(v);
        set_err(err, errlen, "%s: out of memory", o->name);
        return "out of memory";
    }
    memcpy(grown + cfg->nlisten, v, n * sizeof *v);
    cfg->listen = grown;
    cfg->nlisten += n;
    free(v);
    return NULL;
}

/* The acl and port parsers give a static reason for the whole text; find
 * the token at fault so that the message can quote it. */
static void quote_bad_token(const struct config_option *o, const char *value,
                            const char *reason, char *err, size_t errlen)
{
    const char *p = value;
    char tok[128];
    size_t len;

    for (;;) {
        p += strspn(p, LIST_SEPARATORS);
        if (!*p)
            break;
        len = strcspn(p, LIST_SEPARATORS);
        if (len < sizeof tok) {
            const char *r;

            memcpy(tok, p, len);
            tok[len] = '\0';
            if (o->type == OPT_ACL) {
                struct larder_acl a = { NULL, 0 };

                r = larder_acl_parse(&a, tok);
                larder_acl_free(&a);
            } else {
                struct larder_ports pp = { NULL, 0 };

                r = larder_ports_parse(&pp, tok);
                larder_ports_free(&pp);
            }
            if (r) {
                set_err(err, errlen, "%s: %s: '%s'", o->name, r, tok);
                return;
            }
        }
        p += len;
    }
    set_err(err, errlen, "%s: %s in '%s'", o->name, reason, value);
}

static const char *set_acl(struct larder_config *cfg, const struct config_option *o,
                           const char *value, int replace, char *err, size_t errlen)
{
    struct larder_acl *acl = field(cfg, o);
    struct larder_acl fresh = { NULL, 0 };
    const char *reason;

    /* Parse into a fresh list when replacing, so an error keeps the old one. */
    reason = larder_acl_parse(replace ? &fresh : acl, value);
    if (reason) {
        larder_acl_free(&fresh);
        quote_bad_token(o, value, reason, err, errlen);
        return reason;
    }
    if (replace) {
        larder_acl_free(acl);
        *acl = fresh;
    }
    return NULL;
}

static const char *set_ports(struct larder_config *cfg, const struct config_option *o,
                             const char *value, int replace, char *err, size_t errlen)
{
    struct larder_ports *ports = field(cfg, o);
    struct larder_ports fresh = { NULL, 0 };
    const char *reason;

    reason = larder_ports_parse(replace ? &fresh : ports, value);
    if (reason) {
        larder_ports_free(&fresh);
        quote_bad_token(o, value, reason, err, errlen);
        return reason;
    }
    if (replace) {
        larder_ports_free(ports);
        *ports = fresh;
    }
    return NULL;
}

static const char *set_number(struct larder_config *cfg, const struct config_option *o,
                              const char *value, char *err, size_t errlen)
{
    const char *reason;
    uint64_t v = 0, max;
    char amount[48];

    switch (o->type) {
    case OPT_UINT:
        reason = parse_count(value, &v);
        max = UINT_MAX;
        break;
    case OPT_BYTES:
        reason = parse_size(value, &v);
        max = UINT64_MAX;
        break;
    case OPT_BYTES_SZ:
        reason = parse_size(value, &v);
        max = SIZE_MAX;
        break;
    case OPT_MSEC:
        reason = parse_duration_ms(value, &v);
        max = UINT64_MAX;
        break;
    case OPT_SECONDS:
        reason = parse_duration_ms(value, &v);
        if (!reason && v % 1000 != 0)
            reason = "is not a whole number of seconds";
        v /= 1000;
        max = UINT64_MAX;
        break;
    case OPT_BOOL:
        reason = parse_bool(value, &v);
        max = 1;
        break;
    case OPT_LEVEL: {
        int lvl = larder_log_level_parse(value);

        reason = lvl < 0 ? "is not a log level (error, warn, info, debug)" : NULL;
        v = lvl < 0 ? 0 : (uint64_t)lvl;
        max = LARDER_LOG_LEVEL_COUNT - 1;
        break;
    }
    default:
        reason = "has no parser";
        max = 0;
        break;
    }
    if (reason) {
        set_err(err, errlen, "%s: '%s' %s", o->name, value, reason);
        return reason;
    }

    if (o->max && o->max < max)
        max = o->max;
    if (v < o->min) {
        format_amount(amount, sizeof amount, o, o->min);
        set_err(err, errlen, "%s: '%s' is below the minimum of %s", o->name, value, amount);
        return "is below the minimum";
    }
    if (v > max) {
        format_amount(amount, sizeof amount, o, max);
        set_err(err, errlen, "%s: '%s' is above the maximum of %s", o->name, value, amount);
        return "is above the maximum";
    }

    switch (o->type) {
    case OPT_UINT:
        *(unsigned *)field(cfg, o) = (unsigned)v;
        break;
    case OPT_BYTES_SZ:
        *(size_t *)field(cfg, o) = (size_t)v;
        break;
    case OPT_BOOL:
    case OPT_LEVEL:
        *(int *)field(cfg, o) = (int)v;
        break;
    default:
        *(uint64_t *)field(cfg, o) = v;
        break;
    }
    return NULL;
}

static const char *set_string(struct larder_config *cfg, const struct config_option *o,
                              const char *value, char *err, size_t errlen)
{
    char **slot = field(cfg, o);
    char *copy = strdup(value);

    if (!copy) {
        set_err(err, errlen, "%s: out of memory", o->name);
        return "out of memory";
    }
    free(*slot);
    *slot = copy;
    return NULL;
}

/* Sets option <o> from <value>. <seen> tracks the list options given in the
 * current source: the first time a list option appears in a source its
 * value replaces the list, later times add to it. On error the option keeps
 * its value, a static reason is returned and "NAME: ..." is put in <err>. */
static const char *apply(struct larder_config *cfg, const struct config_option *o,
                         const char *value, seen_mask *seen, char *err, size_t errlen)
{
    const char *reason;
    char *trimmed = NULL;
    int replace = 1;

    if (!value)
        value = "";
    if (o->type != OPT_STRING) {
        /* Surrounding blanks are no part of a number or list. */
        size_t len;

        value += strspn(value, " \t");
        len = strlen(value);
        while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
            len--;
        if (!(trimmed = strndup(value, len))) {
            set_err(err, errlen, "%s: out of memory", o->name);
            return "out of memory";
        }
        value = trimmed;
    }
    if (!*value && !(o->flags & OPT_F_EMPTY_OK)) {
        free(trimmed);
        set_err(err, errlen, "%s: missing value", o->name);
        return "missing value";
    }

    if (is_list(o) && seen)
        replace = !(*seen & option_bit(o));

    switch (o->type) {
    case OPT_LISTEN:
        reason = set_listen(cfg, o, value, replace, err, errlen);
        break;
    case OPT_ACL:
        reason = set_acl(cfg, o, value, replace, err, errlen);
        break;
    case OPT_PORTS:
        reason = set_ports(cfg, o, value, replace, err, errlen);
        break;
    case OPT_STRING:
        reason = set_string(cfg, o, value, err, errlen);
        break;
    default:
        reason = set_number(cfg, o, value, err, errlen);
        break;
    }
    if (!reason && is_list(o) && seen)
        *seen |= option_bit(o);
    free(trimmed);
    return reason;
}

/* ---- public: defaults, set, free --------------------------------------- */

void larder_config_defaults(struct larder_config *cfg)
{
    size_t i;

    memset(cfg, 0, sizeof *cfg);
    for (i = 0; i < NOPTIONS; i++) {
        const char *reason = apply(cfg, &options[i], options[i].def, NULL, NULL, 0);

        /* A default that does not parse is a bug in the table above. */
        if (reason) {
            fprintf(stderr, "larder: bad built-in default for %s: %s\n",
                    options[i].name, reason);
            abort();
        }
    }
}

const char *larder_config_set(struct larder_config *cfg, const char *name,
                              const char *value, char *err, size_t errlen)
{
    const struct config_option *o = name ? find_option(name, strlen(name)) : NULL;
    const char *reason;

    if (!o) {
        set_err(err, errlen, "unknown option '%s'", name ? name : "");
        return err && errlen ? err : "unknown option";
    }
    /* Each call is a source of its own: a list value replaces the list. */
    reason = apply(cfg, o, value, NULL, err, errlen);
    if (!reason)
        return NULL;
    return err && errlen ? err : reason;
}

void larder_config_free(struct larder_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->listen);
    cfg->listen = NULL;
    cfg->nlisten = 0;
    larder_acl_free(&cfg->client_allow);
    larder_acl_free(&cfg->admin_allow);
    larder_ports_free(&cfg->connect_ports);
    free(cfg->via_name);
    free(cfg->access_log);
    free(cfg->error_log);
    cfg->via_name = NULL;
    cfg->access_log = NULL;
    cfg->error_log = NULL;
}

/* ---- the config file --------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Handles one line (modified in place). Returns 0, or -1 with the message
 * (without the FILE:LINE prefix) in <msg>. */
static int load_line(struct larder_config *cfg, char *line, seen_mask *seen,
                     char *msg, size_t msglen)
{
    char *p, *end, *name, *value;
    const struct config_option *o;
    size_t name_len;

    /* '#' begins a comment at the start of the line or after a blank, so a
     * value may still contain one ("via_name cache#1"). */
    for (p = line; *p; p++) {
        if (*p == '#' && (p == line || is_blank(p[-1]))) {
            *p = '\0';
            break;
        }
    }
    for (name = line; is_blank(*name); name++)
        ;
    end = name + strlen(name);
    while (end > name && is_blank(end[-1]))
        *--end = '\0';
    if (!*name)
        return 0;

    name_len = 0;
    while (name[name_len] && !is_blank(name[name_len]))
        name_len++;
    for (value = name + name_len; is_blank(*value); value++)
        ;
    o = find_option(name, name_len);
    if (!o) {
        set_err(msg, msglen, "unknown option '%.*s'", (int)name_len, name);
        return -1;
    }
    if (!*value) {
        /* Even via_name: a bare name is more likely a slip than a wish for
         * the default, which is what leaving the line out gives. */
        set_err(msg, msglen, "%s: missing value", o->name);
        return -1;
    }
    return apply(cfg, o, value, seen, msg, msglen) ? -1 : 0;
}

int larder_config_load_file(struct larder_config *cfg, const char *path,
                            char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    seen_mask seen = 0;
    char *line = NULL, msg[512];
    size_t cap = 0;
    unsigned lineno = 0;
    ssize_t n;
    int rc = 0;

    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)n)) {
            set_err(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            rc = -1;
            break;
        }
        if (load_line(cfg, line, &seen, msg, sizeof msg) != 0) {
            set_err(err, errlen, "%s:%u: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- the command line -------------------------------------------------- */

enum arg_kind {
    ARG_OPTION = 0,           /* an entry of the option table */
    ARG_CONFIG,               /* --config FILE */
    ARG_CHECK_CONFIG,         /* --check-config FILE */
    ARG_HELP,
    ARG_VERSION,
    ARG_KIND_COUNT            /* keep last */
};

struct arg {
    enum arg_kind kind;
    const struct config_option *opt; /* ARG_OPTION */
    const char *value;        /* ARG_OPTION, ARG_CONFIG, ARG_CHECK_CONFIG */
};

/* Whether the argument <name> (without "--", <len> bytes) is <word>,
 * dashes and underscores alike. */
static int name_is(const char *name, size_t len, const char *word)
{
    size_t i;

    if (strlen(word) != len)
        return 0;
    for (i = 0; i < len; i++) {
        char a = name[i] == '_' ? '-' : name[i];

        if (a != word[i])
            return 0;
    }
    return 1;
}

/* Reads argv[*i], and the next element when it is the value; advances *i.
 * Returns 0, or -1 with a message in <err>. */
static int read_arg(int argc, char **argv, int *i, struct arg *a, char *err, size_t errlen)
{
    const char *s = argv[*i], *name, *eq;
    size_t len;
    int takes_value = 1;

    memset(a, 0, sizeof *a);
    (*i)++;
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
        a->kind = ARG_HELP;
        return 0;
    }
    if (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0) {
        a->kind = ARG_VERSION;
        return 0;
    }
    if (s[0] != '-') {
        set_err(err, errlen, "unexpected argument '%s'", s);
        return -1;
    }
    if (s[1] != '-' || s[2] == '\0') {
        set_err(err, errlen, "unknown option '%s'", s);
        return -1;
    }

    name = s + 2;
    eq = strchr(name, '=');
    len = eq ? (size_t)(eq - name) : strlen(name);
    if (name_is(name, len, "config")) {
        a->kind = ARG_CONFIG;
    } else if (name_is(name, len, "check-config")) {
        a->kind = ARG_CHECK_CONFIG;
    } else if (name_is(name, len, "help") || name_is(name, len, "version")) {
        takes_value = 0;
    } else if ((a->opt = find_option(name, len)) != NULL) {
        a->kind = ARG_OPTION;
    } else {
        set_err(err, errlen, "unknown option '--%.*s'", (int)len, name);
        return -1;
    }
    if (!takes_value) {
        set_err(err, errlen, "option '--%.*s' takes no value", (int)len, name);
        return -1;
    }

    if (eq) {
        a->value = eq + 1;
    } else if (*i < argc && strncmp(argv[*i], "--", 2) != 0) {
        /* A following "--x" is the next option, not this one's value. */
        a->value = argv[(*i)++];
    } else {
        set_err(err, errlen, "option '--%.*s' needs a value", (int)len, name);
        return -1;
    }
    return 0;
}

int larder_config_from_args(struct larder_config *cfg, int argc, char **argv,
                            enum larder_action *action_out,
                            char *err, size_t errlen)
{
    const char *config_path = NULL, *check_path = NULL;
    seen_mask seen = 0;
    struct arg a;
    char msg[512];
    int i;

    /* Pass 1: the shape of the command line, and the file to read first. */
    for (i = 1; i < argc;) {
        if (read_arg(argc, argv, &i, &a, err, errlen) != 0)
            return -1;
        switch (a.kind) {
        case ARG_HELP:
            *action_out = LARDER_ACTION_HELP;
            return 0;
        case ARG_VERSION:
            *action_out = LARDER_ACTION_VERSION;
            return 0;
        case ARG_CONFIG:
        case ARG_CHECK_CONFIG:
            if (config_path || check_path) {
                set_err(err, errlen, "only one --config or --check-config may be given");
                return -1;
            }
            if (!*a.value) {
                set_err(err, errlen, "option '--%s' needs a value",
                       a.kind == ARG_CONFIG ? "config" : "check-config");
                return -1;
            }
            if (a.kind == ARG_CONFIG)
                config_path = a.value;
            else
                check_path = a.value;
            break;
        default:
            break;
        }
    }

    if (config_path || check_path) {
        if (larder_config_load_file(cfg, config_path ? config_path : check_path,
                                    err, errlen) != 0)
            return -1;
    }

    /* Pass 2: the options themselves, one source after the file. */
    for (i = 1; i < argc;) {
        if (read_arg(argc, argv, &i, &a, err, errlen) != 0)
            return -1;
        if (a.kind != ARG_OPTION)
            continue;
        if (apply(cfg, a.opt, a.value, &seen, msg, sizeof msg) != NULL) {
            set_err(err, errlen, "%s", msg);
            return -1;
        }
    }

    *action_out = check_path ? LARDER_ACTION_CHECK_CONFIG : LARDER_ACTION_RUN;
    return 0;
}

/* ---- validation -------------------------------------------------------- */

int larder_config_validate(const struct larder_config *cfg, char *err, size_t errlen)
{
    size_t i, j;

    if (cfg->nlisten == 0) {
        set_err(err, errlen, "listen: no address to listen on");
        return -1;
    }
    for (i = 0; i < cfg->nlisten; i++) {
        for (j = i + 1; j < cfg->nlisten; j++) {
            if (strcmp(cfg->listen[i].text, cfg->listen[j].text) == 0) {
                set_err(err, errlen, "listen: %s given more than once",
                       cfg->listen[i].text);
                return -1;
            }
        }
    }
    if (cfg->max_connections < 1) {
        set_err(err, errlen, "max_connections: must be at least 1");
        return -1;
    }
    if (cfg->limits.max_fields < 1) {
        set_err(err, errlen, "max_header_fields: must be at least 1");
        return -1;
    }
    if (cfg->limits.max_line > cfg->limits.max_head) {
        set_err(err, errlen,
               "max_request_line (%zu bytes) is larger than max_header_block (%zu bytes)",
               cfg->limits.max_line, cfg->limits.max_head);
        return -1;
    }
    /* an object's cost (body, head, blocks) is counted in 32 bits */
    if (cfg->max_object_size > (uint64_t)2 << 30) {
        snprintf(err, errlen, "max_object_size: objects over 2 GiB are not cached; "
                 "give at most 2G");
        return -1;
    }
    if (cfg->max_object_size > cfg->cache_size) {
        set_err(err, errlen,
               "max_object_size (%llu bytes) is larger than cache_size (%llu bytes)",
               (unsigned long long)cfg->max_object_size,
               (unsigned long long)cfg->cache_size);
        return -1;
    }
    return 0;
}

/* ---- help -------------------------------------------------------------- */

/* Prints <text> wrapped at 78 columns, each line indented by <indent>. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    const int width = 78;
    const char *p = text;
    int col = 0;

    while (*p) {
        size_t word = strcspn(p, " ");

        if (col > 0 && col + 1 + (int)word > width) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0)
            col = fprintf(out, "%*s", indent, "");
        else
            col += fprintf(out, " ");
        col += fprintf(out, "%.*s", (int)word, p);
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', out);
}

void larder_config_print_help(FILE *out)
{
    size_t i;

    fputs("usage: larder [--config FILE] [--OPTION VALUE]...\n"
          "       larder --check-config FILE [--OPTION VALUE]...\n"
          "       larder --help | --version\n"
          "\n"
          "  -h, --help             show this help and exit\n"
          "  -V, --version          show the version and exit\n"
          "  --config FILE          read options from FILE (\"name value\" lines)\n"
          "  --check-config FILE    read FILE, check the configuration, exit\n"
          "\n", out);
    print_wrapped(out,
                  "Each option below is given as --name VALUE or --name=VALUE on the "
                  "command line, or as a \"name value\" line in the config file "
                  "(dashes and underscores are interchangeable). Defaults come first, "
                  "then the file, then the command line. Sizes take a k, M or G suffix "
                  "(binary multiples); durations take ms, s, m, h or d (a bare number "
                  "is seconds).", 0);
    fputs("\noptions:\n", out);

    for (i = 0; i < NOPTIONS; i++) {
        const struct config_option *o = &options[i];
        const char *metavar = o->metavar ? o->metavar : type_metavar[o->type];
        const char *c;

        fputs("  --", out);
        for (c = o->name; *c; c++)
            fputc(*c == '_' ? '-' : *c, out);
        fprintf(out, " %s  (default: %s%s%s)\n", metavar,
                *o->def ? "" : "\"", o->def, *o->def ? "" : "\"");
        print_wrapped(out, o->help, 6);
    }
}
