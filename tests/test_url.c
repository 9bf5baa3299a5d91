/* SPDX-License-Identifier: MIT */
/* test_url.c - table-driven tests of absolute- and authority-form parsing,
 * the cache key and the upstream Host value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "larder/url.h"

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One URI sample. For valid samples, NULL expectations are not checked. */
struct url_sample {
    const char *name;
    const char *text;
    int ok;
    const char *scheme;
    const char *host;
    int ipv6;
    unsigned port;
    int port_explicit;
    const char *path;
    const char *key;            /* larder_url_key() */
    const char *host_field;     /* larder_url_host_field() */
};

#define OK(nm, txt, sch, hst, v6, prt, expl, pth, ky, hf) \
    { .name = (nm), .text = (txt), .ok = 1, .scheme = (sch), .host = (hst), .ipv6 = (v6), \
      .port = (prt), .port_explicit = (expl), .path = (pth), .key = (ky), .host_field = (hf) }
#define BAD(nm, txt) { .name = (nm), .text = (txt), .ok = 0 }

/* ---- absolute-form -------------------------------------------------------- */

static const struct url_sample absolute[] = {
    OK("plain http", "http://example.com/", "http", "example.com", 0, 80, 0, "/",
       "http://example.com/", "example.com"),
    OK("path and query kept as received", "http://example.com/a%20b/../c?x=%41&y=/z",
       "http", "example.com", 0, 80, 0, "/a%20b/../c?x=%41&y=/z",
       "http://example.com/a%20b/../c?x=%41&y=/z", "example.com"),
    OK("missing path", "http://example.com", "http", "example.com", 0, 80, 0, "",
       "http://example.com/", "example.com"),
    OK("query without path", "http://example.com?x=1", "http", "example.com", 0, 80, 0, "?x=1",
       NULL, "example.com"),
    OK("explicit port", "http://example.com:8080/p", "http", "example.com", 0, 8080, 1, "/p",
       "http://example.com:8080/p", "example.com:8080"),
    OK("explicit port without path", "http://example.com:8080", "http", "example.com", 0, 8080,
       1, "", "http://example.com:8080/", "example.com:8080"),
    OK("explicit default port elided", "http://example.com:80/p", "http", "example.com", 0, 80,
       1, "/p", "http://example.com/p", "example.com"),
    OK("default port with leading zeros", "http://example.com:0080/", "http", "example.com", 0,
       80, 1, "/", "http://example.com/", "example.com"),
    OK("empty port means default", "http://example.com:/p", "http", "example.com", 0, 80, 0,
       "/p", "http://example.com/p", "example.com"),
    OK("empty port, no path", "http://example.com:", "http", "example.com", 0, 80, 0, "",
       "http://example.com/", "example.com"),
    OK("port 1", "http://example.com:1/", "http", "example.com", 0, 1, 1, "/",
       "http://example.com:1/", "example.com:1"),
    OK("port 65535", "http://example.com:65535/", "http", "example.com", 0, 65535, 1, "/",
       "http://example.com:65535/", "example.com:65535"),
    OK("upper-case host lowered in key", "http://Example.COM/A/B?Q=R", "http", "Example.COM", 0,
       80, 0, "/A/B?Q=R", "http://example.com/A/B?Q=R", NULL),
    OK("upper-case scheme", "HTTP://example.com/", "HTTP", "example.com", 0, 80, 0, "/",
       "http://example.com/", "example.com"),
    OK("mixed-case scheme", "HtTp://example.com:81/", "HtTp", "example.com", 0, 81, 1, "/",
       "http://example.com:81/", "example.com:81"),
    OK("reg-name characters", "http://a-b_c~d.e1.example/", "http", "a-b_c~d.e1.example", 0,
       80, 0, "/", "http://a-b_c~d.e1.example/", "a-b_c~d.e1.example"),
    OK("IPv4", "http://192.0.2.1:8080/x", "http", "192.0.2.1", 0, 8080, 1, "/x",
       "http://192.0.2.1:8080/x", "192.0.2.1:8080"),
    OK("IPv6 loopback", "http://[::1]/", "http", "::1", 1, 80, 0, "/", "http://[::1]/",
       "[::1]"),
    OK("IPv6 with port", "http://[2001:db8::1]:8080/x?y", "http", "2001:db8::1", 1, 8080, 1,
       "/x?y", "http://[2001:db8::1]:8080/x?y", "[2001:db8::1]:8080"),
    OK("IPv6 upper case lowered in key", "http://[2001:DB8::A]:80/", "http", "2001:DB8::A", 1,
       80, 1, "/", "http://[2001:db8::a]/", NULL),
    OK("IPv6 without path", "http://[::1]:81", "http", "::1", 1, 81, 1, "",
       "http://[::1]:81/", "[::1]:81"),
    OK("IPv6 empty port", "http://[::1]:/", "http", "::1", 1, 80, 0, "/", "http://[::1]/",
       "[::1]"),
    OK("IPv4-mapped IPv6", "http://[::ffff:192.0.2.1]/", "http", "::ffff:192.0.2.1", 1, 80, 0,
       "/", "http://[::ffff:192.0.2.1]/", "[::ffff:192.0.2.1]"),
    OK("full IPv6", "http://[1:2:3:4:5:6:7:8]/", "http", "1:2:3:4:5:6:7:8", 1, 80, 0, "/",
       "http://[1:2:3:4:5:6:7:8]/", "[1:2:3:4:5:6:7:8]"),
    OK("https default port", "https://example.com/", "https", "example.com", 0, 443, 0, "/",
       NULL, "example.com:443"),
    OK("HTTPS default port", "HTTPS://example.com/", "HTTPS", "example.com", 0, 443, 0, "/",
       NULL, "example.com:443"),
    OK("ftp default port", "ftp://example.com/f", "ftp", "example.com", 0, 21, 0, "/f",
       NULL, NULL),
    OK("other scheme has port 0", "gopher://example.com/", "gopher", "example.com", 0, 0, 0,
       "/", NULL, NULL),
    OK("scheme with + - . and digits", "a1+b-c.d://example.com/", "a1+b-c.d", "example.com", 0,
       0, 0, "/", NULL, NULL),
    OK("https explicit port", "https://example.com:8443/", "https", "example.com", 0, 8443, 1,
       "/", NULL, "example.com:8443"),
    OK("path with colon and at sign", "http://example.com/a:b@c", "http", "example.com", 0, 80,
       0, "/a:b@c", "http://example.com/a:b@c", "example.com"),
    OK("query with slash and question", "http://example.com/?a=/b?c", "http", "example.com", 0,
       80, 0, "/?a=/b?c", "http://example.com/?a=/b?c", "example.com"),
    /* invalid */
    BAD("empty", ""),
    BAD("scheme only", "http"),
    BAD("scheme and colon", "http:"),
    BAD("no slashes", "http:example.com/"),
    BAD("one slash", "http:/example.com/"),
    BAD("no colon", "http//example.com/"),
    BAD("empty scheme", "://example.com/"),
    BAD("scheme starting with digit", "1http://example.com/"),
    BAD("scheme starting with +", "+http://example.com/"),
    BAD("scheme with underscore", "ht_tp://example.com/"),
    BAD("scheme with space", "ht tp://example.com/"),
    BAD("empty host", "http:///path"),
    BAD("empty host with port", "http://:80/"),
    BAD("nothing after slashes", "http://"),
    BAD("userinfo", "http://user@example.com/"),
    BAD("userinfo with password", "http://user:pw@example.com/"),
    BAD("empty userinfo", "http://@example.com/"),
    BAD("fragment", "http://example.com/a#frag"),
    BAD("fragment without path", "http://example.com#f"),
    BAD("empty fragment", "http://example.com/#"),
    BAD("port 0", "http://example.com:0/"),
    BAD("port 00", "http://example.com:00/"),
    BAD("port 65536", "http://example.com:65536/"),
    BAD("port 65616 (wraps to 80)", "http://example.com:65616/"),
    BAD("port 2^32+80 (wraps to 80)", "http://example.com:4294967376/"),
    BAD("port 99999999999999999999", "http://example.com:99999999999999999999/"),
    BAD("port not digits", "http://example.com:8a/"),
    BAD("port with sign", "http://example.com:+80/"),
    BAD("port negative", "http://example.com:-1/"),
    BAD("port with space", "http://example.com: 80/"),
    BAD("port named", "http://example.com:http/"),
    BAD("two ports", "http://example.com:80:81/"),
    BAD("host with space", "http://exa mple.com/"),
    BAD("host with percent", "http://exa%41mple.com/"),
    BAD("host with sub-delim", "http://a!b.example/"),
    BAD("host with comma", "http://a,b.example/"),
    BAD("host with backslash", "http://a\\b.example/"),
    BAD("host with obs-text", "http://caf\xc3\xa9.example/"),
    BAD("host with control", "http://a\x01.example/"),
    BAD("unclosed IPv6", "http://[::1/"),
    BAD("unclosed IPv6 at end", "http://[::1"),
    BAD("empty IPv6", "http://[]/"),
    BAD("IPv6 with non-hex", "http://[::g]/"),
    BAD("IPv6 group too long", "http://[12345::1]/"),
    BAD("IPv6 too many groups", "http://[1:2:3:4:5:6:7:8:9]/"),
    BAD("IPv6 without brackets", "http://::1/"),
    BAD("bytes after IPv6", "http://[::1]x/"),
    BAD("IPv6 stray bracket", "http://::1]/"),
};

/* ---- authority-form ------------------------------------------------------- */

static const struct url_sample authority[] = {
    OK("host and port", "example.com:443", NULL, "example.com", 0, 443, 1, "", NULL, NULL),
    OK("upper-case host kept", "Example.COM:8443", NULL, "Example.COM", 0, 8443, 1, "", NULL,
       NULL),
    OK("IPv4", "192.0.2.1:22", NULL, "192.0.2.1", 0, 22, 1, "", NULL, NULL),
    OK("IPv6", "[::1]:8443", NULL, "::1", 1, 8443, 1, "", NULL, NULL),
    OK("IPv6 full", "[2001:db8::1]:443", NULL, "2001:db8::1", 1, 443, 1, "", NULL, NULL),
    OK("port 1", "example.com:1", NULL, "example.com", 0, 1, 1, "", NULL, NULL),
    OK("port 65535", "example.com:65535", NULL, "example.com", 0, 65535, 1, "", NULL, NULL),
    OK("port 80", "example.com:80", NULL, "example.com", 0, 80, 1, "", NULL, NULL),
    BAD("empty", ""),
    BAD("no port", "example.com"),
    BAD("empty port", "example.com:"),
    BAD("no host", ":443"),
    BAD("port 0", "example.com:0"),
    BAD("port 65536", "example.com:65536"),
    BAD("port 2^32+443", "example.com:4294967739"),
    BAD("port not digits", "example.com:44a"),
    BAD("port named", "example.com:https"),
    BAD("userinfo", "user@example.com:443"),
    BAD("path", "example.com:443/"),
    BAD("query", "example.com:443?x"),
    BAD("absolute URI", "http://example.com:443"),
    BAD("IPv6 without port", "[::1]"),
    BAD("IPv6 with empty port", "[::1]:"),
    BAD("IPv6 without brackets", "::1:443"),
    BAD("host with space", "exa mple.com:443"),
    BAD("asterisk", "*"),
    BAD("two ports", "example.com:443:443"),
};

/* ---- checks ----------------------------------------------------------------- */

static int failures;

static void report(const struct url_sample *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(const struct url_sample *s, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL: %s (\"%s\"): ", s->name, s->text);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    failures++;
}

static void end_samples(void)
{
    int n = failures;

    failures = 0;
    if (n > 0)
        fail_msg("%d check(s) failed", n);
}

static int span_is(const char *p, size_t n, const char *want)
{
    return strlen(want) == n && (n == 0 || memcmp(p, want, n) == 0);
}

/* A pointer of the result lies in the parsed copy. */
static int inside(const char *buf, size_t len, const char *p, size_t n)
{
    if (n == 0)
        return 1;
    return p != NULL && p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

/* Checks a writer of the larder_url_key() kind: full output, exact fit and
 * every truncation. */
typedef size_t (*url_writer)(const struct larder_url *u, char *buf, size_t cap);

static void check_writer(const struct url_sample *s, const char *what, url_writer fn,
                         const struct larder_url *u, const char *want)
{
    char buf[512], small[512];
    size_t n = fn(u, buf, sizeof(buf)), cap, m;

    if (n >= sizeof(buf) || strlen(buf) != n || (want && strcmp(buf, want) != 0)) {
        report(s, "%s is \"%s\" (%zu), want \"%s\"", what, buf, n, want ? want : "?");
        return;
    }
    for (cap = 0; cap <= n + 1; cap++) {
        memset(small, '#', sizeof(small));
        m = fn(u, small, cap);
        if (m != n) {
            report(s, "%s with cap %zu returned %zu, want %zu", what, cap, m, n);
            return;
        }
        if (cap == 0) {
            if (small[0] != '#')
                report(s, "%s with cap 0 wrote to the buffer", what);
            continue;
        }
        /* like snprintf: cap-1 bytes of the key and a NUL */
        {
            size_t keep = cap - 1 < n ? cap - 1 : n;

            if (memcmp(small, buf, keep) != 0 || small[keep] != '\0' || small[cap] != '#') {
                report(s, "%s with cap %zu is not the NUL-terminated prefix", what, cap);
                return;
            }
        }
    }
}

typedef const char *(*url_parser)(const char *s, size_t len, struct larder_url *out);

static void check_sample(const struct url_sample *s, url_parser parse)
{
    size_t len = strlen(s->text);
    char *copy = malloc(len ? len : 1);  /* exactly sized: ASan sees over-reads */
    struct larder_url u;
    const char *err;

    assert_non_null(copy);
    memcpy(copy, s->text, len);
    memset(&u, 0xa5, sizeof(u));
    err = parse(copy, len, &u);
    if (!s->ok) {
        if (err == NULL)
            report(s, "accepted (host \"%.*s\", port %u, path \"%.*s\")", (int)u.host_len,
                   u.host, u.port, (int)u.path_len, u.path);
        else if (err[0] == '\0')
            report(s, "empty reason");
        free(copy);
        return;
    }
    if (err != NULL) {
        report(s, "rejected: %s", err);
        free(copy);
        return;
    }
    if (!inside(copy, len, u.host, u.host_len) || !inside(copy, len, u.path, u.path_len) ||
        (s->scheme && !inside(copy, len, u.scheme, u.scheme_len))) {
        report(s, "a result points outside the input");
        free(copy);
        return;
    }
    if (s->scheme && !span_is(u.scheme, u.scheme_len, s->scheme))
        report(s, "scheme \"%.*s\", want \"%s\"", (int)u.scheme_len, u.scheme, s->scheme);
    if (!span_is(u.host, u.host_len, s->host))
        report(s, "host \"%.*s\", want \"%s\"", (int)u.host_len, u.host, s->host);
    if (!u.host_is_ipv6 != !s->ipv6)
        report(s, "host_is_ipv6 %d, want %d", u.host_is_ipv6, s->ipv6);
    if (u.port != s->port)
        report(s, "port %u, want %u", u.port, s->port);
    if (!u.port_explicit != !s->port_explicit)
        report(s, "port_explicit %d, want %d", u.port_explicit, s->port_explicit);
    if (s->path && !span_is(u.path, u.path_len, s->path))
        report(s, "path \"%.*s\", want \"%s\"", (int)u.path_len, u.path, s->path);
    if (s->key)
        check_writer(s, "key", larder_url_key, &u, s->key);
    if (s->host_field)
        check_writer(s, "host field", larder_url_host_field, &u, s->host_field);
    free(copy);
}

static void test_absolute(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ITEMS(absolute); i++)
        check_sample(&absolute[i], larder_url_parse_absolute);
    end_samples();
}

static void test_authority(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ITEMS(authority); i++)
        check_sample(&authority[i], larder_url_parse_authority);
    end_samples();
}

/* Every prefix of a valid sample parses or fails without reading past it. */
static void test_prefixes(void **state)
{
    size_t i, n;

    (void)state;
    for (i = 0; i < N_ITEMS(absolute); i++) {
        const char *t = absolute[i].text;

        for (n = 0; n <= strlen(t); n++) {
            char *copy = malloc(n ? n : 1);
            struct larder_url u;

            assert_non_null(copy);
            memcpy(copy, t, n);
            (void)larder_url_parse_absolute(copy, n, &u);
            (void)larder_url_parse_authority(copy, n, &u);
            free(copy);
        }
    }
}

static void test_scheme_is(void **state)
{
    struct larder_url u;
    static const char http[] = "HtTp://example.com/";
    static const char https[] = "https://example.com/";

    (void)state;
    assert_null(larder_url_parse_absolute(http, sizeof(http) - 1, &u));
    assert_true(larder_url_scheme_is(&u, "http"));
    assert_true(larder_url_scheme_is(&u, "HTTP"));
    assert_false(larder_url_scheme_is(&u, "https"));
    assert_false(larder_url_scheme_is(&u, "htt"));
    assert_false(larder_url_scheme_is(&u, ""));
    assert_null(larder_url_parse_absolute(https, sizeof(https) - 1, &u));
    assert_true(larder_url_scheme_is(&u, "https"));
    assert_false(larder_url_scheme_is(&u, "http"));
}

/* Spellings of one resource share a key (RFC 9110 4.2.3); others do not. */
static void test_key_equivalence(void **state)
{
    static const char *const same[] = {
        "http://example.com/", "http://example.com", "HTTP://EXAMPLE.COM/",
        "http://example.com:80/", "http://example.com:/", "http://Example.Com:080",
    };
    static const char *const differ[] = {
        "http://example.com/?", "http://example.com:8080/", "http://example.org/",
        "http://example.com/A", "http://example.com//", "http://example.com/?a",
    };
    char want[256], got[256];
    struct larder_url u;
    size_t i;

    (void)state;
    assert_null(larder_url_parse_absolute(same[0], strlen(same[0]), &u));
    larder_url_key(&u, want, sizeof(want));
    for (i = 1; i < N_ITEMS(same); i++) {
        assert_null(larder_url_parse_absolute(same[i], strlen(same[i]), &u));
        larder_url_key(&u, got, sizeof(got));
        assert_string_equal(got, want);
    }
    for (i = 0; i < N_ITEMS(differ); i++) {
        assert_null(larder_url_parse_absolute(differ[i], strlen(differ[i]), &u));
        larder_url_key(&u, got, sizeof(got));
        if (strcmp(got, want) == 0)
            fail_msg("\"%s\" has the key of \"%s\"", differ[i], same[0]);
    }
}

/* An empty path before a query is "/" too (RFC 9110 4.2.3, RFC 9112 3.2.1). */
static void test_key_query_without_path(void **state)
{
    static const char text[] = "http://example.com?x=1";
    struct larder_url u;
    char key[128];

    (void)state;
    assert_null(larder_url_parse_absolute(text, sizeof(text) - 1, &u));
    larder_url_key(&u, key, sizeof(key));
    assert_string_equal(key, "http://example.com/?x=1");
}

/* Keys made by hand: a host and path longer than a typical buffer. */
static void test_key_long(void **state)
{
    char text[2100], key[2200];
    struct larder_url u;
    size_t n;

    (void)state;
    strcpy(text, "http://example.com/");
    memset(text + 19, 'p', 2000);
    text[2019] = '\0';
    assert_null(larder_url_parse_absolute(text, strlen(text), &u));
    n = larder_url_key(&u, key, sizeof(key));
    assert_int_equal(n, 2019);
    assert_string_equal(key, text);
    n = larder_url_key(&u, key, 100);
    assert_int_equal(n, 2019);
    assert_int_equal(strlen(key), 99);
}

/* ---- seed corpus ------------------------------------------------------------ */

/* With LARDER_DUMP_CORPUS=DIR set, writes every sample to DIR/fuzz_url. */
static void dump_corpus(const char *dir)
{
    char path[512];
    size_t i;
    FILE *f;

    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/fuzz_url", dir);
    mkdir(path, 0755);
    for (i = 0; i < N_ITEMS(absolute) + N_ITEMS(authority); i++) {
        const struct url_sample *s = i < N_ITEMS(absolute) ? &absolute[i]
                                                           : &authority[i - N_ITEMS(absolute)];

        snprintf(path, sizeof(path), "%s/fuzz_url/%s-%03zu", dir,
                 i < N_ITEMS(absolute) ? "absolute" : "authority", i);
        f = fopen(path, "wb");
        if (f == NULL)
            continue;
        fwrite(s->text, 1, strlen(s->text), f);
        fclose(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_authority),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_scheme_is),
        cmocka_unit_test(test_key_equivalence),
        cmocka_unit_test(test_key_query_without_path),
        cmocka_unit_test(test_key_long),
    };
    const char *dump = getenv("LARDER_DUMP_CORPUS");

    if (dump != NULL && dump[0] != '\0') {
        dump_corpus(dump);
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
