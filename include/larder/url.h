/* SPDX-License-Identifier: MIT */
/* url.h - pure parsing of request targets (absolute-form and authority-form
 * URIs) and the normalized cache key built from them. No I/O. */
#ifndef LARDER_URL_H
#define LARDER_URL_H

#include <stddef.h>
#include <stdint.h>

/* A parsed URI. Every pointer points into the parsed string. */
struct larder_url {
    const char *scheme;       /* as received, without "://" */
    size_t scheme_len;
    const char *host;         /* reg-name, IPv4, or IPv6 without brackets */
    size_t host_len;
    int host_is_ipv6;         /* host was a bracketed IPv6 literal */
    uint16_t port;            /* explicit port, or the scheme's default */
    int port_explicit;        /* a non-empty port was given */
    const char *path;         /* path and query as received ("" when absent) */
    size_t path_len;
};

/* Parses an absolute URI "scheme://host[:port][/path][?query]" (no userinfo,
 * no fragment). The default port is 80 for http, 443 for https, 21 for ftp,
 * else 0. Returns NULL on success or a static reason. */
const char *larder_url_parse_absolute(const char *s, size_t len, struct larder_url *out);

/* Parses authority-form "host:port" (the port is required, 1..65535).
 * Returns NULL on success or a static reason. */
const char *larder_url_parse_authority(const char *s, size_t len, struct larder_url *out);

/* Whether the URL's scheme is (case-insensitively) <scheme>. */
int larder_url_scheme_is(const struct larder_url *u, const char *scheme);

/* Writes the normalized cache key: "http://" + lower-cased host (IPv6 in
 * brackets) + ":port" unless default + path (or "/" when empty). Returns
 * the key length (excluding NUL); if that is >= cap the key was truncated. */
size_t larder_url_key(const struct larder_url *u, char *buf, size_t cap);

/* Writes "host" or "[v6]" followed by ":port" when the port is not 80,
 * as the Host field value to send upstream. Same return as larder_url_key(). */
size_t larder_url_host_field(const struct larder_url *u, char *buf, size_t cap);

#endif /* LARDER_URL_H */
