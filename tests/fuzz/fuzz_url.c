/* SPDX-License-Identifier: MIT */
/* fuzz_url.c - libFuzzer target: URI parsing stays inside the input, and cache
 * keys are stable, truncate like snprintf and parse back to themselves. */
/* fuzz-sources: src/url.c src/util.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "larder/url.h"

static void die(const char *what, const char *text, size_t len)
{
    fprintf(stderr, "fuzz_url: %s: \"%.*s\"\n", what, (int)len, text);
    abort();
}

static int inside(const char *buf, size_t len, const char *p, size_t n)
{
    if (n == 0)
        return 1;
    return p != NULL && p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static int is_regname(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_ipv6(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

typedef size_t (*writer)(const struct larder_url *u, char *buf, size_t cap);

/* Writes with a large buffer, then checks every truncation. Returns the
 * full output in <out>. */
static size_t check_writer(writer fn, const struct larder_url *u, char *out, size_t outcap,
                           const char *text, size_t len)
{
    size_t n = fn(u, out, outcap), cap, m;
    char *small;

    if (n >= outcap)
        die("output longer than any input could make", text, len);
    if (out[n] != '\0')
        die("output not NUL-terminated at its length", text, len);
    {
        char guard = '#';

        if (fn(u, &guard, 0) != n || guard != '#')
            die("cap 0 gives another length or writes", text, len);
    }
    for (cap = 1; cap <= n + 1; cap += 1 + cap / 8) {
        small = malloc(cap);    /* exactly sized: ASan sees an overflow */
        if (small == NULL)
            abort();
        m = fn(u, small, cap);
        if (m != n)
            die("truncated write returns another length", text, len);
        if (memcmp(small, out, cap - 1 < n ? cap - 1 : n) != 0 ||
            small[cap - 1 < n ? cap - 1 : n] != '\0')
            die("truncated write is not a NUL-terminated prefix", text, len);
        free(small);
    }
    return n;
}

static void check_url(const char *buf, size_t len, const struct larder_url *u, int absolute)
{
    size_t i;

    if (!inside(buf, len, u->host, u->host_len) || !inside(buf, len, u->path, u->path_len) ||
        (absolute && !inside(buf, len, u->scheme, u->scheme_len)))
        die("a result points outside the input", buf, len);
    if (u->host_len == 0)
        die("empty host accepted", buf, len);
    for (i = 0; i < u->host_len; i++) {
        unsigned char c = (unsigned char)u->host[i];

        if (u->host_is_ipv6 ? !is_ipv6(c) : !is_regname(c))
            die("host byte outside its grammar", buf, len);
    }
    if (u->port_explicit && u->port == 0)
        die("explicit port 0 accepted", buf, len);
    if (!absolute && !u->port_explicit)
        die("authority-form without a port accepted", buf, len);
    if (u->path_len > 0 && u->path[0] != '/' && u->path[0] != '?')
        die("path starts with neither / nor ?", buf, len);
    if (memchr(u->path, '#', u->path_len) != NULL)
        die("fragment accepted", buf, len);
    if (!absolute && u->path_len != 0)
        die("authority-form with a path accepted", buf, len);
    if (absolute) {
        if (u->scheme_len == 0 || !((u->scheme[0] | 0x20) >= 'a' && (u->scheme[0] | 0x20) <= 'z'))
            die("scheme does not start with a letter", buf, len);
        if (memchr(buf, '@', (size_t)(u->host - buf)) != NULL)
            die("userinfo accepted", buf, len);
        if (larder_url_scheme_is(u, "http") && !u->port_explicit && u->port != 80)
            die("http default port is not 80", buf, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, key[3 * 65536], again[3 * 65536], host[3 * 65536];
    struct larder_url u, v;
    size_t n, h;

    if (size > 60000)
        return 0;
    buf = malloc(size ? size : 1);
    if (buf == NULL)
        abort();
    memcpy(buf, data, size);

    if (larder_url_parse_authority(buf, size, &u) == NULL) {
        check_url(buf, size, &u, 0);
        check_writer(larder_url_host_field, &u, host, sizeof(host), buf, size);
    }
    if (larder_url_parse_absolute(buf, size, &u) == NULL) {
        check_url(buf, size, &u, 1);
        h = check_writer(larder_url_host_field, &u, host, sizeof(host), buf, size);
        if (h < u.host_len)
            die("Host value shorter than the host", buf, size);
        if (larder_url_scheme_is(&u, "http")) {
            n = check_writer(larder_url_key, &u, key, sizeof(key), buf, size);
            if (n < 8 || memcmp(key, "http://", 7) != 0)
                die("key does not start with http://", buf, size);
            /* the key is itself a URI whose key is the key */
            if (larder_url_parse_absolute(key, n, &v) != NULL)
                die("key does not parse back", key, n);
            if (larder_url_key(&v, again, sizeof(again)) != n || memcmp(again, key, n) != 0)
                die("key of the key differs", key, n);
            if (v.port != u.port || v.host_len != u.host_len ||
                strncasecmp(v.host, u.host, u.host_len) != 0)
                die("key names another origin", key, n);
        }
    }
    free(buf);
    return 0;
}
