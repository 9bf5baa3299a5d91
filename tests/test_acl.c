/* SPDX-License-Identifier: MIT */
/* test_acl.c - network lists and CONNECT port lists: parsing, errors, matching. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "larder/acl.h"

/* Builds an AF_INET or AF_INET6 socket address from text. */
static const struct sockaddr *sa_from(const char *text, struct sockaddr_storage *ss)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(40000);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(40000);
    }
    return (const struct sockaddr *)ss;
}

static int acl_has(const struct larder_acl *acl, const char *addr)
{
    struct sockaddr_storage ss;

    return larder_acl_match(acl, sa_from(addr, &ss));
}

/* ---- networks: what a list matches ------------------------------------- */

struct acl_case {
    const char *text;
    size_t entries;
    const char *in[6];        /* NULL-terminated */
    const char *out[6];       /* NULL-terminated */
};

static const struct acl_case acl_cases[] = {
    { "127.0.0.0/8 ::1", 2,
      { "127.0.0.1", "127.255.255.255", "::1", "::ffff:127.0.0.1", NULL },
      { "128.0.0.1", "126.255.255.255", "::2", "10.0.0.1", "::ffff:10.0.0.1", NULL } },
    { "10.0.0.0/8,192.168.1.0/24", 2,
      { "10.1.2.3", "192.168.1.200", "::ffff:192.168.1.1", NULL },
      { "192.168.2.1", "11.0.0.0", "9.255.255.255", NULL } },
    { "  192.168.1.7\t", 1,
      { "192.168.1.7", "::ffff:192.168.1.7", NULL },
      { "192.168.1.6", "192.168.1.8", NULL } },
    { "10.1.2.0/23", 1,                    /* prefix inside a byte */
      { "10.1.2.0", "10.1.3.255", NULL },
      { "10.1.4.0", "10.1.1.255", NULL } },
    { "all", 2,
      { "1.2.3.4", "::1", "2001:db8::1", "::ffff:8.8.8.8", "0.0.0.0", NULL },
      { NULL } },
    { "0.0.0.0/0", 1,                      /* every IPv4, no native IPv6 */
      { "1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4", NULL },
      { "::1", "2001:db8::1", NULL } },
    { "::/0", 1,                           /* every IPv6, mapped ones too */
      { "::1", "2001:db8::1", "::ffff:1.2.3.4", NULL },
      { "1.2.3.4", NULL } },
    /* 2001:0db8:: shares its first bytes with 32.1.13.184: families apart */
    { "2001:db8::/32", 1,
      { "2001:db8::1", "2001:db8:ffff::1", NULL },
      { "2001:db9::1", "32.1.13.184", "::ffff:32.1.13.184", NULL } },
    { "fe80::/10, 2001:db8::7/128", 2,
      { "fe80::1", "febf::1", "2001:db8::7", NULL },
      { "fec0::1", "2001:db8::8", NULL } },
    { "none", 0,
      { NULL },
      { "127.0.0.1", "::1", NULL } },
};

static void test_acl_match_table(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof acl_cases / sizeof acl_cases[0]; i++) {
        const struct acl_case *c = &acl_cases[i];
        struct larder_acl acl = { NULL, 0 };

        if (larder_acl_parse(&acl, c->text) != NULL || acl.n != c->entries)
            fail_msg("acl '%s': rejected or wrong entry count %zu", c->text, acl.n);
        for (j = 0; c->in[j]; j++) {
            if (!acl_has(&acl, c->in[j]))
                fail_msg("'%s' should match %s", c->text, c->in[j]);
        }
        for (j = 0; c->out[j]; j++) {
            if (acl_has(&acl, c->out[j]))
                fail_msg("'%s' should not match %s", c->text, c->out[j]);
        }
        larder_acl_free(&acl);
        assert_null(acl.v);
        assert_int_equal(acl.n, 0);
    }
}

static void test_acl_entries(void **state)
{
    struct larder_acl acl = { NULL, 0 };
    static const uint8_t net10[4] = { 10, 0, 0, 0 };
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

    (void)state;
    assert_null(larder_acl_parse(&acl, "10.0.0.0/8 2001:db8::/32 1.2.3.4"));
    assert_int_equal(acl.n, 3);
    assert_int_equal(acl.v[0].family, 4);
    assert_int_equal(acl.v[0].prefix, 8);
    assert_memory_equal(acl.v[0].addr, net10, 4);
    assert_int_equal(acl.v[1].family, 6);
    assert_int_equal(acl.v[1].prefix, 32);
    assert_memory_equal(acl.v[1].addr, v6, 16);
    assert_int_equal(acl.v[2].family, 4);
    assert_int_equal(acl.v[2].prefix, 32);   /* a bare address is a host */
    larder_acl_free(&acl);
}

static void test_acl_appends(void **state)
{
    struct larder_acl acl = { NULL, 0 };

    (void)state;
    assert_null(larder_acl_parse(&acl, "10.0.0.0/8"));
    assert_null(larder_acl_parse(&acl, "::1"));
    assert_int_equal(acl.n, 2);
    assert_true(acl_has(&acl, "10.9.9.9"));
    assert_true(acl_has(&acl, "::1"));
    assert_null(larder_acl_parse(&acl, "none"));   /* adds nothing */
    assert_int_equal(acl.n, 2);
    larder_acl_free(&acl);
}

struct bad_case {
    const char *text;
    const char *reason;       /* expected substring of the reason */
};

static const struct bad_case acl_bad[] = {
    { "", "empty" },
    { "   ", "empty" },
    { " , ,", "empty" },
    { NULL, "empty" },
    { "10.0.0.0/33", "too long" },
    { "::/129", "too long" },
    { "10.0.0.0/99999999999999999999", "too long" },
    { "10.0.0.1/8", "host bits" },
    { "10.1.3.0/23", "host bits" },
    { "2001:db8::1/32", "host bits" },
    { "::1/0", "host bits" },
    { "10.0.0.0/", "prefix" },
    { "10.0.0.0/8x", "prefix" },
    { "10.0.0.0/-1", "prefix" },
    { "10.0.0.0/+8", "prefix" },
    { "10.0.0.0/8/8", "prefix" },
    { "10.0.0.0//8", "prefix" },
    { "/8", "address" },
    { "10.0.0", "address" },
    { "10.0.0.256", "address" },
    { "bogus", "address" },
    { "localhost", "address" },
    { "::1::2", "address" },
    { "192.168.0.0/16;", "prefix" },
    { "10.0.0.0/8 oops", "address" },
    { "all none", "alone" },
    { "none ::1", "alone" },
    { "ALL", "address" },
};

static void test_acl_rejects(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof acl_bad / sizeof acl_bad[0]; i++) {
        struct larder_acl acl = { NULL, 0 };
        struct larder_cidr *before;
        const char *reason;

        assert_null(larder_acl_parse(&acl, "172.16.0.0/12"));
        before = acl.v;
        reason = larder_acl_parse(&acl, acl_bad[i].text);
        if (!reason || !strstr(reason, acl_bad[i].reason))
            fail_msg("acl '%s': got %s, want a reason with '%s'",
                     acl_bad[i].text ? acl_bad[i].text : "(null)",
                     reason ? reason : "(accepted)", acl_bad[i].reason);
        /* the list is untouched */
        assert_ptr_equal(acl.v, before);
        assert_int_equal(acl.n, 1);
        assert_true(acl_has(&acl, "172.31.0.1"));
        larder_acl_free(&acl);
    }
}

static void test_acl_odd_inputs(void **state)
{
    struct larder_acl empty = { NULL, 0 }, acl = { NULL, 0 };
    struct sockaddr_un sun;

    (void)state;
    assert_false(acl_has(&empty, "127.0.0.1"));
    assert_false(acl_has(&empty, "::1"));
    assert_false(larder_acl_match(NULL, NULL));

    assert_null(larder_acl_parse(&acl, "all"));
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    assert_false(larder_acl_match(&acl, (const struct sockaddr *)&sun));
    assert_false(larder_acl_match(&acl, NULL));
    larder_acl_free(&acl);
    larder_acl_free(&acl);    /* twice is harmless */
    larder_acl_free(NULL);
}

/* ---- ports ------------------------------------------------------------- */

struct ports_case {
    const char *text;
    size_t entries;
    unsigned in[6];           /* 0-terminated */
    unsigned out[6];          /* 0-terminated */
};

static const struct ports_case ports_cases[] = {
    { "443", 1, { 443, 0 }, { 442, 444, 80, 0 } },
    { "443 563 8000-8100", 3, { 443, 563, 8000, 8050, 8100, 0 }, { 7999, 8101, 80, 564, 0 } },
    { "80,443", 2, { 80, 443, 0 }, { 81, 0 } },
    { "5-5", 1, { 5, 0 }, { 4, 6, 0 } },
    { "all", 1, { 1, 443, 65535, 0 }, { 0 } },
    { "1-65535", 1, { 1, 65535, 0 }, { 0 } },
    { "65535", 1, { 65535, 0 }, { 65534, 1, 0 } },
    { "none", 0, { 0 }, { 443, 1, 65535, 0 } },
};

static void test_ports_match_table(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof ports_cases / sizeof ports_cases[0]; i++) {
        const struct ports_case *c = &ports_cases[i];
        struct larder_ports p = { NULL, 0 };

        if (larder_ports_parse(&p, c->text) != NULL || p.n != c->entries)
            fail_msg("ports '%s': rejected or wrong entry count %zu", c->text, p.n);
        for (j = 0; c->in[j]; j++) {
            if (!larder_ports_match(&p, (uint16_t)c->in[j]))
                fail_msg("'%s' should match %u", c->text, c->in[j]);
        }
        for (j = 0; c->out[j]; j++) {
            if (larder_ports_match(&p, (uint16_t)c->out[j]))
                fail_msg("'%s' should not match %u", c->text, c->out[j]);
        }
        assert_false(larder_ports_match(&p, 0));   /* never a port */
        larder_ports_free(&p);
    }
}

static void test_ports_ranges_and_append(void **state)
{
    struct larder_ports p = { NULL, 0 };

    (void)state;
    assert_null(larder_ports_parse(&p, "8000-8100"));
    assert_int_equal(p.v[0].lo, 8000);
    assert_int_equal(p.v[0].hi, 8100);
    assert_null(larder_ports_parse(&p, "443"));
    assert_int_equal(p.n, 2);
    assert_int_equal(p.v[1].lo, 443);
    assert_int_equal(p.v[1].hi, 443);
    assert_true(larder_ports_match(&p, 8001));
    assert_true(larder_ports_match(&p, 443));
    larder_ports_free(&p);
    assert_false(larder_ports_match(&p, 443));
    assert_false(larder_ports_match(NULL, 443));
}

static const struct bad_case ports_bad[] = {
    { "", "empty" },
    { " ,", "empty" },
    { NULL, "empty" },
    { "0", "range" },
    { "65536", "range" },
    { "70000", "range" },
    { "99999999999999999999999", "range" },
    { "0-10", "range" },
    { "10-65536", "range" },
    { "100-50", "backwards" },
    { "-1", "bad port" },
    { "1-", "bad port" },
    { "-5", "bad port" },
    { "1-2-3", "bad port" },
    { "8000 - 8100", "bad port" },
    { "abc", "bad port" },
    { "443x", "bad port" },
    { "+443", "bad port" },
    { "0x1bb", "bad port" },
    { "443 foo", "bad port" },
    { "all none", "alone" },
};

static void test_ports_rejects(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof ports_bad / sizeof ports_bad[0]; i++) {
        struct larder_ports p = { NULL, 0 };
        const char *reason;

        assert_null(larder_ports_parse(&p, "22"));
        reason = larder_ports_parse(&p, ports_bad[i].text);
        if (!reason || !strstr(reason, ports_bad[i].reason))
            fail_msg("ports '%s': got %s, want a reason with '%s'",
                     ports_bad[i].text ? ports_bad[i].text : "(null)",
                     reason ? reason : "(accepted)", ports_bad[i].reason);
        assert_int_equal(p.n, 1);
        assert_true(larder_ports_match(&p, 22));
        larder_ports_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acl_match_table),
        cmocka_unit_test(test_acl_entries),
        cmocka_unit_test(test_acl_appends),
        cmocka_unit_test(test_acl_rejects),
        cmocka_unit_test(test_acl_odd_inputs),
        cmocka_unit_test(test_ports_match_table),
        cmocka_unit_test(test_ports_ranges_and_append),
        cmocka_unit_test(test_ports_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
