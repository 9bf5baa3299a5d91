/* SPDX-License-Identifier: MIT */
/* acl.c - parsing and matching of network lists (CIDR) and CONNECT port lists. */
#include "larder/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SEPARATORS " \t\r\n,"

/* ---- tokens ------------------------------------------------------------ */

/* Finds the next token in *pp; returns its length (0 at the end) and
 * leaves *pp pointing at its first byte, *next_out just past it. */
static size_t next_token(const char **pp, const char **next_out)
{
    const char *p = *pp + strspn(*pp, SEPARATORS);
    size_t n = strcspn(p, SEPARATORS);

    *pp = p;
    *next_out = p + n;
    return n;
}

static int token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(tok, word, len) == 0;
}

/* Counts tokens and checks the rule that "none" stands alone. Returns NULL
 * or a reason; *count_out gets the number of tokens, *none_out whether the
 * text was exactly "none". */
static const char *scan_tokens(const char *text, size_t *count_out, int *none_out)
{
    const char *p = text ? text : "";
    const char *next;
    size_t len, count = 0;
    int none = 0;

    while ((len = next_token(&p, &next)) > 0) {
        if (token_is(p, len, "none"))
            none = 1;
        count++;
        p = next;
    }
    if (count == 0)
        return "empty list";
    if (none && count > 1)
        return "'none' must stand alone";
    *count_out = count;
    *none_out = none;
    return NULL;
}

/* Parses the decimal digits tok[0..len) into *out. Returns 0, -1 when the
 * text is not all digits, or -2 when the value exceeds <max>. */
static int parse_decimal(const char *tok, size_t len, unsigned long max,
                         unsigned long *out)
{
    unsigned long v = 0;
    int over = 0;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        if (!over)
            v = v * 10 + (unsigned long)(tok[i] - '0');
        if (v > max)
            over = 1;         /* keep scanning: garbage beats overflow */
    }
    if (over)
        return -2;
    *out = v;
    return 0;
}

/* ---- networks ---------------------------------------------------------- */

/* Whether every bit of addr[] after the first <prefix> bits is zero. */
static int host_bits_clear(const uint8_t *addr, unsigned bytes, unsigned prefix)
{
    unsigned i;

    for (i = 0; i < bytes; i++) {
        unsigned keep = prefix <= 8 * i ? 0 : prefix - 8 * i; /* network bits here */
        uint8_t host_mask = keep >= 8 ? 0 : (uint8_t)(0xffu >> keep);

        if (addr[i] & host_mask)
            return 0;
    }
    return 1;
}

/* Parses one "ADDR" or "ADDR/PREFIX" token into *out. */
static const char *parse_cidr(const char *tok, size_t len, struct larder_cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = memchr(tok, '/', len);
    size_t alen = slash ? (size_t)(slash - tok) : len;
    unsigned long prefix;
    unsigned max_prefix;
    int rc;

    if (alen == 0 || alen >= sizeof buf)
        return "bad address";
    memcpy(buf, tok, alen);
    buf[alen] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = 4;
        max_prefix = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = 6;
        max_prefix = 128;
    } else {
        return "bad address";
    }

    if (!slash) {
        prefix = max_prefix;
    } else if ((rc = parse_decimal(slash + 1, len - alen - 1, max_prefix, &prefix)) != 0) {
        return rc == -2 ? "prefix length too long for the address family"
                        : "bad prefix length";
    }
    out->prefix = (uint8_t)prefix;
    if (!host_bits_clear(out->addr, max_prefix / 8, out->prefix))
        return "host bits set beyond the prefix";
    return NULL;
}

const char *larder_acl_parse(struct larder_acl *acl, const char *text)
{
    const char *p = text, *next, *reason;
    struct larder_cidr *v, *grown;
    size_t count, n = 0, len;
    int none;

    if ((reason = scan_tokens(text, &count, &none)) != NULL)
        return reason;
    if (none)
        return NULL;

    /* "all" yields two entries, so size for the worst case. Parse into a
     * scratch array first so that <acl> is untouched on any error. */
    v = calloc(2 * count, sizeof *v);
    if (!v)
        return "out of memory";
    while ((len = next_token(&p, &next)) > 0) {
        if (token_is(p, len, "all")) {
            v[n].family = 4;      /* 0.0.0.0/0 */
            n++;
            v[n].family = 6;      /* ::/0 */
            n++;
        } else if ((reason = parse_cidr(p, len, &v[n])) != NULL) {
            free(v);
            return reason;
        } else {
            n++;
        }
        p = next;
    }

    grown = realloc(acl->v, (acl->n + n) * sizeof *grown);
    if (!grown) {
        free(v);
        return "out of memory";
    }
    memcpy(grown + acl->n, v, n * sizeof *v);
    acl->v = grown;
    acl->n += n;
    free(v);
    return NULL;
}

/* Whether the first <prefix> bits of a and b agree. */
static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

int larder_acl_match(const struct larder_acl *acl, const struct sockaddr *sa)
{
    const uint8_t *a4 = NULL, *a6 = NULL;
    size_t i;

    if (!acl || !sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        a4 = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *in6 =
            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

        a6 = in6->s6_addr;
        /* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they
         * must be judged by the IPv4 entries too. */
        if (IN6_IS_ADDR_V4MAPPED(in6))
            a4 = in6->s6_addr + 12;
    } else {
        return 0;
    }

    for (i = 0; i < acl->n; i++) {
        const struct larder_cidr *c = &acl->v[i];

        if (c->family == 4 && a4 && prefix_equal(c->addr, a4, c->prefix))
            return 1;
        if (c->family == 6 && a6 && prefix_equal(c->addr, a6, c->prefix))
            return 1;
    }
    return 0;
}

void larder_acl_free(struct larder_acl *acl)
{
    if (!acl)
        return;
    free(acl->v);
    acl->v = NULL;
    acl->n = 0;
}

/* ---- ports ------------------------------------------------------------- */

static const char *parse_port(const char *tok, size_t len, uint16_t *out)
{
    unsigned long v;
    int rc = parse_decimal(tok, len, 65535, &v);

    if (rc == -1)
        return "bad port";
    if (rc == -2 || v == 0)
        return "port out of range (1-65535)";
    *out = (uint16_t)v;
    return NULL;
}

static const char *parse_port_range(const char *tok, size_t len,
                                    struct larder_port_range *out)
{
    const char *dash = memchr(tok, '-', len);
    const char *reason;

    if (token_is(tok, len, "all")) {
        out->lo = 1;
        out->hi = 65535;
        return NULL;
    }
    if (!dash) {
        if ((reason = parse_port(tok, len, &out->lo)) != NULL)
            return reason;
        out->hi = out->lo;
        return NULL;
    }
    if ((reason = parse_port(tok, (size_t)(dash - tok), &out->lo)) != NULL)
        return reason;
    if ((reason = parse_port(dash + 1, len - (size_t)(dash - tok) - 1, &out->hi)) != NULL)
        return reason;
    if (out->lo > out->hi)
        return "port range runs backwards";
    return NULL;
}

const char *larder_ports_parse(struct larder_ports *p, const char *text)
{
    const char *s = text, *next, *reason;
    struct larder_port_range *v, *grown;
    size_t count, n = 0, len;
    int none;

    if ((reason = scan_tokens(text, &count, &none)) != NULL)
        return reason;
    if (none)
        return NULL;

    v = calloc(count, sizeof *v);
    if (!v)
        return "out of memory";
    while ((len = next_token(&s, &next)) > 0) {
        if ((reason = parse_port_range(s, len, &v[n])) != NULL) {
            free(v);
            return reason;
        }
        n++;
        s = next;
    }

    grown = realloc(p->v, (p->n + n) * sizeof *grown);
    if (!grown) {
        free(v);
        return "out of memory";
    }
    memcpy(grown + p->n, v, n * sizeof *v);
    p->v = grown;
    p->n += n;
    free(v);
    return NULL;
}

int larder_ports_match(const struct larder_ports *p, uint16_t port)
{
    size_t i;

    if (!p)
        return 0;
    for (i = 0; i < p->n; i++)
        if (port >= p->v[i].lo && port <= p->v[i].hi)
            return 1;
    return 0;
}

void larder_ports_free(struct larder_ports *p)
{
    if (!p)
        return;
    free(p->v);
    p->v = NULL;
    p->n = 0;
}
