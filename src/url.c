/* SPDX-License-Identifier: MIT */
/* url.c - pure parsing of absolute-form and authority-form targets, and the
 * normalized cache key. */
#include "larder/url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "larder/util.h"

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_regname_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_ipv6_char(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

/* Parses host [":" port] from s[0..len). An empty port keeps <default_port>.
 * <port_required> makes a missing or empty port an error. */
static const char *parse_host_port(const char *s, size_t len, uint16_t default_port,
                                   int port_required, struct larder_url *u)
{
    size_t i = 0;

    if (len == 0)
        return "empty host";
    if (memchr(s, '@', len) != NULL)
        return "userinfo in URI";
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return "unterminated IPv6 literal";
        u->host = s + 1;
        u->host_len = (size_t)(close - s) - 1;
        u->host_is_ipv6 = 1;
        if (u->host_len < 2 || u->host_len >= INET6_ADDRSTRLEN)
            return "invalid IPv6 literal";
        for (size_t k = 0; k < u->host_len; k++)
            if (!is_ipv6_char((unsigned char)u->host[k]))
                return "invalid IPv6 literal";
        {
            char text[INET6_ADDRSTRLEN];
            unsigned char bin[16];
            memcpy(text, u->host, u->host_len);
            text[u->host_len] = '\0';
            if (inet_pton(AF_INET6, text, bin) != 1)
                return "invalid IPv6 literal";
        }
        i = (size_t)(close - s) + 1;
    } else {
        while (i < len && s[i] != ':') {
            if (!is_regname_char((unsigned char)s[i]))
                return "invalid host";
            i++;
        }
        if (i == 0)
            return "empty host";
        u->host = s;
        u->host_len = i;
        u->host_is_ipv6 = 0;
    }
    u->port = default_port;
    u->port_explicit = 0;
    if (i == len) {
        if (port_required)
            return "missing port";
        return NULL;
    }
    if (s[i] != ':')
        return "invalid authority";
    i++;
    if (i == len) {
        if (port_required)
            return "missing port";
        return NULL;
    }
    {
        unsigned long port = 0;
        size_t digits = len - i;
        if (digits > 5)
            return "invalid port";
        for (; i < len; i++) {
            if (!is_digit((unsigned char)s[i]))
                return "invalid port";
            port = port * 10 + (unsigned long)(s[i] - '0');
        }
        if (port == 0 || port > 65535)
            return "invalid port";
        u->port = (uint16_t)port;
        u->port_explicit = 1;
    }
    return NULL;
}

static uint16_t default_port_for(const char *scheme, size_t len)
{
    if (len == 4 && strncasecmp(scheme, "http", 4) == 0)
        return 80;
    if (len == 5 && strncasecmp(scheme, "https", 5) == 0)
        return 443;
    if (len == 3 && strncasecmp(scheme, "ftp", 3) == 0)
        return 21;
    return 0;
}

const char *larder_url_parse_absolute(const char *s, size_t len, struct larder_url *out)
{
    size_t i = 0, auth_start, auth_end;
    const char *reason;

    memset(out, 0, sizeof(*out));
    if (len == 0 || !is_alpha((unsigned char)s[0]))
        return "invalid scheme";
    while (i < len && s[i] != ':') {
        unsigned char c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return "invalid scheme";
        i++;
    }
    if (len - i < 3 || memcmp(s + i, "://", 3) != 0)
        return "not an absolute URI";
    out->scheme = s;
    out->scheme_len = i;
    auth_start = i + 3;
    auth_end = auth_start;
    while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
        auth_end++;
    reason = parse_host_port(s + auth_start, auth_end - auth_start,
                             default_port_for(s, i), 0, out);
    if (reason != NULL)
        return reason;
    if (memchr(s + auth_end, '#', len - auth_end) != NULL)
        return "fragment in URI";
    out->path = s + auth_end;
    out->path_len = len - auth_end;
    return NULL;
}

const char *larder_url_parse_authority(const char *s, size_t len, struct larder_url *out)
{
    memset(out, 0, sizeof(*out));
    out->path = s + len;
    return parse_host_port(s, len, 0, 1, out);
}

int larder_url_scheme_is(const struct larder_url *u, const char *scheme)
{
    size_t n = strlen(scheme);
    return u->scheme_len == n && strncasecmp(u->scheme, scheme, n) == 0;
}

/* Appends bytes to buf while there is room (keeping one byte for the NUL);
 * always counts them. */
static void put(char *buf, size_t cap, size_t *pos, const char *s, size_t n, int lower)
{
    size_t room = *pos + 1 < cap ? cap - 1 - *pos : 0;
    size_t k = n < room ? n : room;

    if (lower) {
        for (size_t i = 0; i < k; i++) {
            char c = s[i];
            buf[*pos + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    } else if (k > 0) {
        memcpy(buf + *pos, s, k);
    }
    *pos += n;
}

static void put_host_port(char *buf, size_t cap, size_t *pos, const struct larder_url *u,
                          uint16_t default_port)
{
    if (u->host_is_ipv6)
        put(buf, cap, pos, "[", 1, 0);
    put(buf, cap, pos, u->host, u->host_len, 1);
    if (u->host_is_ipv6)
        put(buf, cap, pos, "]", 1, 0);
    if (u->port != default_port) {
        char port[8];
        port[0] = ':';
        put(buf, cap, pos, port, 1 + larder_fmt_u64(port + 1, u->port), 0);
    }
}

static size_t finish(char *buf, size_t cap, size_t pos)
{
    if (cap > 0)
        buf[pos < cap ? pos : cap - 1] = '\0';
    return pos;
}

size_t larder_url_key(const struct larder_url *u, char *buf, size_t cap)
{
    size_t pos = 0;

    put(buf, cap, &pos, "http://", 7, 0);
    put_host_port(buf, cap, &pos, u, 80);
    if (u->path_len == 0 || u->path[0] == '?')
        put(buf, cap, &pos, "/", 1, 0);
    put(buf, cap, &pos, u->path, u->path_len, 0);
    return finish(buf, cap, pos);
}

size_t larder_url_host_field(const struct larder_url *u, char *buf, size_t cap)
{
    size_t pos = 0;

    put_host_port(buf, cap, &pos, u, 80);
    return finish(buf, cap, pos);
}
