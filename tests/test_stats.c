/* SPDX-License-Identifier: MIT */
/* test_stats.c - unit tests of the stats module: counters, latency
 * buckets, the bounded top-host tables, and the stats.json and Prometheus
 * renderings (checked by python3's json module and by promtool). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "larder/stats.h"

/* ---- helpers ---------------------------------------------------------------- */

/* The evbuffer's bytes as a malloc'd NUL-terminated string. */
static char *drain_string(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);

    assert_non_null(s);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    return s;
}

/* Writes <data> to a temp file and returns its malloc'd path. */
static char *temp_file(const char *data)
{
    char *path = h_fmt("%s/larder-test-stats-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    size_t len = strlen(data);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Runs python3 <script> with <json> on stdin; returns its exit status and
 * its stdout in *out (may be NULL). */
static int python_on(const char *json, const char *script, char **out)
{
    char *path = temp_file(json), *err = NULL;
    char *cmd = h_fmt("python3 -c '%s' < %s", script, path);
    int rc = h_run(cmd, out, &err, 20000);

    if (rc != 0)
        fprintf(stderr, "python3 said: %s\n", err ? err : "(nothing)");
    unlink(path);
    free(path);
    free(cmd);
    free(err);
    return rc;
}

static void env_sample(struct larder_stats_env *env)
{
    memset(env, 0, sizeof(*env));
    env->now = 1700000000;
    env->uptime = 42;
    env->clients_active = 3;
    env->cache_objects = 7;
    env->cache_bytes = 7000;
    env->cache_budget = 1 << 20;
    env->cache_inserts = 9;
    env->cache_evictions = 2;
    env->cache_invalidations = 1;
    env->upstream_connects = 5;
    env->upstream_connect_failures = 1;
    env->upstream_reused = 4;
    env->upstream_active = 1;
    env->upstream_idle = 2;
    env->dns_lookups = 6;
    env->dns_cache_hits = 3;
    env->dns_failures = 1;
}

/* A known sequence, used by several tests. */
static struct larder_stats *sample_stats(void)
{
    struct larder_stats *s = larder_stats_new();

    larder_stats_request(s, LARDER_OUTCOME_MISS, "Origin.Test", 1000, 900, 2000);
    larder_stats_request(s, LARDER_OUTCOME_MISS, "origin.test", 1000, 900, 3000);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "origin.test", 1000, 0, 80);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "other.test", 500, 0, 120);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "origin.test", 1000, 0, 90);
    larder_stats_request(s, LARDER_OUTCOME_REVALIDATED, "origin.test", 1000, 200, 1500);
    larder_stats_request(s, LARDER_OUTCOME_REFRESHED, "other.test", 700, 650, 4000);
    larder_stats_request(s, LARDER_OUTCOME_STALE, "other.test", 300, 0, 50);
    larder_stats_request(s, LARDER_OUTCOME_PASS, "pass.test", 400, 380, 6000);
    larder_stats_request(s, LARDER_OUTCOME_TUNNEL, "secure.test", 5000, 4800, 900000);
    larder_stats_request(s, LARDER_OUTCOME_ERROR, NULL, 200, 0, 10);
    larder_stats_request(s, LARDER_OUTCOME_ADMIN, NULL, 12345, 0, 300);
    larder_stats_error(s, LARDER_ERR_DNS);
    larder_stats_error(s, LARDER_ERR_DNS);
    larder_stats_error(s, LARDER_ERR_DENIED);
    larder_stats_client_accepted(s);
    larder_stats_client_accepted(s);
    larder_stats_client_refused(s);
    larder_stats_coalesced(s);
    return s;
}

/* ---- counters --------------------------------------------------------------- */

static void test_counters(void **state)
{
    struct larder_stats *s = sample_stats();
    const struct larder_stats_counters *c = larder_stats_get(s);

    (void)state;
    assert_int_equal(c->requests[LARDER_OUTCOME_HIT], 3);
    assert_int_equal(c->requests[LARDER_OUTCOME_MISS], 2);
    assert_int_equal(c->requests[LARDER_OUTCOME_REVALIDATED], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_REFRESHED], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_STALE], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_PASS], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_TUNNEL], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_ERROR], 1);
    assert_int_equal(c->requests[LARDER_OUTCOME_ADMIN], 1);
    /* admin pages are not traffic: no bytes, no latency, no host */
    assert_int_equal(c->bytes_out[LARDER_OUTCOME_ADMIN], 0);
    assert_int_equal(c->bytes_to_clients, 1000 + 1000 + 1000 + 500 + 1000 + 1000 + 700 + 300 +
                                          400 + 5000 + 200);
    assert_int_equal(c->bytes_from_origins, 900 + 900 + 200 + 650 + 380 + 4800);
    /* saved: what HIT, REVALIDATED and STALE sent */
    assert_int_equal(c->bytes_saved, 1000 + 500 + 1000 + 1000 + 300);
    assert_int_equal(c->errors[LARDER_ERR_DNS], 2);
    assert_int_equal(c->errors[LARDER_ERR_DENIED], 1);
    assert_int_equal(c->errors[LARDER_ERR_CONNECT], 0);
    assert_int_equal(c->clients_accepted, 2);
    assert_int_equal(c->clients_refused, 1);
    assert_int_equal(c->coalesced, 1);
    /* 5 of 9 HTTP requests from the store (hit 3, revalidated 1, stale 1) */
    assert_float_equal(larder_stats_hit_ratio(c), 5.0 / 9.0, 1e-12);
    assert_float_equal(larder_stats_byte_hit_ratio(c), 3800.0 / 6900.0, 1e-12);
    larder_stats_free(s);
}

static void test_empty_ratios(void **state)
{
    struct larder_stats *s = larder_stats_new();

    (void)state;
    assert_float_equal(larder_stats_hit_ratio(larder_stats_get(s)), 0.0, 0.0);
    assert_float_equal(larder_stats_byte_hit_ratio(larder_stats_get(s)), 0.0, 0.0);
    /* tunnels and errors alone are no HTTP traffic */
    larder_stats_request(s, LARDER_OUTCOME_TUNNEL, "x.test", 10, 10, 10);
    larder_stats_request(s, LARDER_OUTCOME_ERROR, NULL, 10, 0, 10);
    assert_float_equal(larder_stats_hit_ratio(larder_stats_get(s)), 0.0, 0.0);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "x.test", 10, 0, 10);
    assert_float_equal(larder_stats_hit_ratio(larder_stats_get(s)), 1.0, 0.0);
    larder_stats_free(s);
    larder_stats_free(NULL);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(larder_outcome_name(LARDER_OUTCOME_HIT), "HIT");
    assert_string_equal(larder_outcome_name(LARDER_OUTCOME_ERROR), "ERROR");
    assert_string_equal(larder_outcome_name(LARDER_OUTCOME_COUNT), "?");
    assert_string_equal(larder_error_kind_name(LARDER_ERR_UPSTREAM_TIMEOUT), "upstream_timeout");
    assert_string_equal(larder_error_kind_name(LARDER_ERR_KIND_COUNT), "?");
}

/* ---- latency histograms -------------------------------------------------- */

static void test_histogram_buckets(void **state)
{
    struct larder_stats *s = larder_stats_new();
    const struct larder_stats_histogram *hit, *miss;
    const unsigned top = LARDER_STATS_LATENCY_BOUNDS;

    (void)state;
    for (unsigned i = 1; i < LARDER_STATS_LATENCY_BOUNDS; i++)
        assert_true(larder_stats_latency_bound_us(i) > larder_stats_latency_bound_us(i - 1));
    assert_int_equal(larder_stats_latency_bound_us(0), 100);
    assert_int_equal(larder_stats_latency_bound_us(top - 1), 10000000);
    assert_true(larder_stats_latency_bound_us(top) == UINT64_MAX);

    /* "le": a duration equal to a bound belongs to that bound's bucket */
    larder_stats_request(s, LARDER_OUTCOME_HIT, "h", 1, 0, 0);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "h", 1, 0, 100);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "h", 1, 0, 101);
    larder_stats_request(s, LARDER_OUTCOME_STALE, "h", 1, 0, 250);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "h", 1, 0, 10000000);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "h", 1, 0, 10000001);
    larder_stats_request(s, LARDER_OUTCOME_MISS, "h", 1, 0, 999);
    larder_stats_request(s, LARDER_OUTCOME_MISS, "h", 1, 0, 1000);
    larder_stats_request(s, LARDER_OUTCOME_REVALIDATED, "h", 1, 0, 1001);
    larder_stats_request(s, LARDER_OUTCOME_REFRESHED, "h", 1, 0, 60000000);
    /* not timed */
    larder_stats_request(s, LARDER_OUTCOME_PASS, "h", 1, 0, 5);
    larder_stats_request(s, LARDER_OUTCOME_TUNNEL, "h", 1, 0, 5);
    larder_stats_request(s, LARDER_OUTCOME_ERROR, "h", 1, 0, 5);
    larder_stats_request(s, LARDER_OUTCOME_ADMIN, NULL, 1, 0, 5);

    hit = &larder_stats_get(s)->latency[LARDER_LATENCY_HIT];
    miss = &larder_stats_get(s)->latency[LARDER_LATENCY_MISS];
    assert_int_equal(hit->counts[0], 2);        /* 0, 100 */
    assert_int_equal(hit->counts[1], 2);        /* 101, 250 */
    assert_int_equal(hit->counts[top - 1], 1);  /* 10 s exactly */
    assert_int_equal(hit->counts[top], 1);      /* above every bound */
    assert_int_equal(hit->count, 6);
    assert_int_equal(hit->sum_us, 0 + 100 + 101 + 250 + 10000000 + 10000001);
    assert_int_equal(miss->counts[3], 2);       /* 999, 1000: le 1 ms */
    assert_int_equal(miss->counts[4], 1);       /* 1001: le 2.5 ms */
    assert_int_equal(miss->counts[top], 1);
    assert_int_equal(miss->count, 4);
    larder_stats_free(s);
}

/* ---- top hosts ---------------------------------------------------------------- */

static void test_top_hosts_order(void **state)
{
    struct larder_stats *s = sample_stats();
    struct larder_stats_host top[8];
    size_t n;

    (void)state;
    n = larder_stats_top_hosts(s, LARDER_RANK_REQUESTS, top, 8);
    assert_int_equal(n, 4);           /* origin, other, pass, secure; no NULL host */
    assert_string_equal(top[0].name, "origin.test");    /* Origin.Test folded in */
    assert_int_equal(top[0].value, 5);
    assert_int_equal(top[0].error, 0);
    assert_string_equal(top[1].name, "other.test");
    assert_int_equal(top[1].value, 3);
    /* ties by name */
    assert_string_equal(top[2].name, "pass.test");
    assert_string_equal(top[3].name, "secure.test");

    n = larder_stats_top_hosts(s, LARDER_RANK_BYTES, top, 2);
    assert_int_equal(n, 2);
    /* 5 x 1000 bytes against one 5000-byte tunnel: a tie, broken by name */
    assert_string_equal(top[0].name, "origin.test");
    assert_int_equal(top[0].value, 5000);
    assert_string_equal(top[1].name, "secure.test");
    assert_int_equal(top[1].value, 5000);
    assert_int_equal(larder_stats_top_hosts(s, LARDER_RANK_COUNT, top, 8), 0);
    larder_stats_free(s);
}

static void test_top_hosts_bounded(void **state)
{
    struct larder_stats *s = larder_stats_new();
    struct larder_stats_host top[LARDER_STATS_HOST_SLOTS + 10];
    char name[64], longname[600];
    size_t n;
    uint64_t prev;

    (void)state;
    /* 5000 hosts seen once, with a heavy and a medium host mixed in */
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "host%d.test", i);
        larder_stats_request(s, LARDER_OUTCOME_MISS, name, 10, 10, 10);
        if (i % 5 == 0)
            larder_stats_request(s, LARDER_OUTCOME_HIT, "heavy.test", 1000, 0, 10);
        if (i % 12 == 0)
            larder_stats_request(s, LARDER_OUTCOME_HIT, "MEDIUM.test", 10, 0, 10);
    }
    n = larder_stats_top_hosts(s, LARDER_RANK_REQUESTS, top, LARDER_STATS_HOST_SLOTS + 10);
    assert_int_equal(n, LARDER_STATS_HOST_SLOTS);      /* memory stays bounded */
    /* heavy (1000 requests, more than total / slots) is tracked and first;
     * the estimate is never low and at most its error too high */
    assert_string_equal(top[0].name, "heavy.test");
    assert_true(top[0].value >= 1000);
    assert_true(top[0].value - top[0].error <= 1000);
    prev = top[0].value;
    for (size_t i = 1; i < n; i++) {
        assert_true(top[i].value <= prev);
        prev = top[i].value;
    }
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(top[i].name, "medium.test") == 0) {
            found = 1;
            assert_true(top[i].value >= 417);
            assert_true(top[i].value - top[i].error <= 417);
        }
    assert_true(found);

    n = larder_stats_top_hosts(s, LARDER_RANK_BYTES, top, 3);
    assert_int_equal(n, 3);
    assert_string_equal(top[0].name, "heavy.test");
    assert_true(top[0].value >= 1000 * 1000);

    /* long names are cut, not overflowed */
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    for (int i = 0; i < 3000; i++)
        larder_stats_request(s, LARDER_OUTCOME_MISS, longname, 1, 1, 1);
    n = larder_stats_top_hosts(s, LARDER_RANK_REQUESTS, top, 1);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(top[0].name), LARDER_STATS_HOST_MAX);
    larder_stats_free(s);
}

/* ---- JSON ---------------------------------------------------------------------- */

static void test_json_string(void **state)
{
    struct evbuffer *b = evbuffer_new();
    /* quote, backslash, control bytes, valid UTF-8 (é, U+20AC, U+1F600),
     * then invalid bytes: stray continuation, overlong, surrogate, truncated */
    static const char in[] = "a\"b\\c\n\t\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
                             " \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82";
    char *json, *out = NULL;

    (void)state;
    larder_stats_json_string(b, in, sizeof(in) - 1);
    json = drain_string(b);
    /* every byte printable ASCII: safe to embed anywhere */
    assert_non_null(strstr(json, "\\\"b\\\\c\\n\\t\\u0001\\u001f"));
    assert_non_null(strstr(json, "\xc3\xa9"));
    assert_non_null(strstr(json, "\\u0080"));
    assert_non_null(strstr(json, "\\u00c0\\u00af"));
    assert_int_equal(python_on(json,
        "import json,sys; s=json.load(sys.stdin); "
        "exp=\"a\\\"b\\\\c\\n\\t\\x01\\x1f\\x7f \\xe9 \\u20ac \\U0001F600"
        " \\x80 \\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x82\"; "
        "sys.exit(0 if s == exp else print(repr(s)) or 1)", &out), 0);
    free(out);
    free(json);

    larder_stats_json_string(b, "", 0);
    json = drain_string(b);
    assert_string_equal(json, "\"\"");
    free(json);
    evbuffer_free(b);
}

static void test_json_render(void **state)
{
    struct larder_stats *s = sample_stats();
    struct larder_stats_env env;
    struct evbuffer *b = evbuffer_new();
    char *json, *out = NULL;

    (void)state;
    env_sample(&env);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "we\"ird\\host\x01", 1, 0, 1);
    larder_stats_render_json(s, &env, b);
    json = drain_string(b);
    /* a real JSON parser reads it, and the numbers are where docs/stats.md says */
    assert_int_equal(python_on(json,
        "import json,sys\n"
        "d=json.load(sys.stdin)\n"
        "r=d[\"requests\"]\n"
        "assert d[\"uptime_seconds\"]==42 and d[\"now\"]==1700000000, d\n"
        "assert (r[\"hit\"],r[\"miss\"],r[\"revalidated\"],r[\"refreshed\"],r[\"stale\"])==(4,2,1,1,1), r\n"
        "assert (r[\"pass\"],r[\"tunnel\"],r[\"error\"],r[\"admin\"],r[\"total\"])==(1,1,1,1,13), r\n"
        "assert abs(d[\"hit_ratio\"][\"requests\"]-6/10)<1e-6, d[\"hit_ratio\"]\n"
        "assert abs(d[\"hit_ratio\"][\"bytes\"]-3801/6901)<1e-6, d[\"hit_ratio\"]\n"
        "b=d[\"bytes\"]\n"
        "assert (b[\"to_clients\"],b[\"from_origins\"],b[\"saved\"])==(12101,7830,3801), b\n"
        "assert sum(b[\"to_clients_by_outcome\"].values())==b[\"to_clients\"], b\n"
        "c=d[\"cache\"]\n"
        "assert (c[\"objects\"],c[\"memory_bytes\"],c[\"budget_bytes\"],c[\"evictions\"])==(7,7000,1048576,2), c\n"
        "assert (c[\"inserts\"],c[\"invalidations\"])==(9,1), c\n"
        "assert d[\"coalesced\"]==1\n"
        "k=d[\"connections\"]\n"
        "assert (k[\"clients_active\"],k[\"clients_total\"],k[\"clients_refused\"])==(3,2,1), k\n"
        "assert (k[\"upstream_active\"],k[\"upstream_idle\"],k[\"upstream_reused\"])==(1,2,4), k\n"
        "assert (k[\"upstream_connects\"],k[\"upstream_connect_failures\"])==(5,1), k\n"
        "assert d[\"dns\"]=={\"lookups\":6,\"cache_hits\":3,\"failures\":1}, d[\"dns\"]\n"
        "e=d[\"errors\"]\n"
        "assert e[\"dns\"]==2 and e[\"denied\"]==1 and e[\"total\"]==3, e\n"
        "l=d[\"latency\"]\n"
        "assert len(l[\"bounds_us\"])==16 and l[\"bounds_us\"][0]==100, l\n"
        "assert len(l[\"hit\"][\"counts\"])==17 and l[\"hit\"][\"count\"]==5, l\n"
        "assert sum(l[\"hit\"][\"counts\"])==5 and l[\"miss\"][\"count\"]==4, l\n"
        "assert l[\"hit\"][\"sum_us\"]==80+120+90+50+1, l\n"
        "t=d[\"top_hosts\"]\n"
        "assert t[\"slots\"]==64, t\n"
        "assert t[\"by_requests\"][0]=={\"host\":\"origin.test\",\"requests\":5,\"max_error\":0}, t\n"
        "assert t[\"by_bytes\"][0][\"host\"]==\"origin.test\" or t[\"by_bytes\"][0][\"host\"]==\"secure.test\", t\n"
        "assert any(h[\"host\"]==\"we\\\"ird\\\\host\\x01\" for h in t[\"by_requests\"]), t\n",
        &out), 0);
    free(out);
    free(json);
    evbuffer_free(b);
    larder_stats_free(s);
}

/* ---- Prometheus ------------------------------------------------------------------ */

static void test_metrics_render(void **state)
{
    struct larder_stats *s = sample_stats();
    struct larder_stats_env env;
    struct evbuffer *b = evbuffer_new();
    char *text, *line, *save = NULL, *copy, *path, *cmd, *out = NULL, *err = NULL;
    uint64_t prev = 0;
    int buckets = 0, inf = 0;

    (void)state;
    env_sample(&env);
    larder_stats_request(s, LARDER_OUTCOME_HIT, "quote\"back\\slash", 1, 0, 1);
    larder_stats_render_metrics(s, &env, b);
    text = drain_string(b);

    assert_non_null(strstr(text, "# TYPE larder_requests_total counter\n"));
    assert_non_null(strstr(text, "larder_requests_total{outcome=\"hit\"} 4\n"));
    assert_non_null(strstr(text, "larder_requests_total{outcome=\"revalidated\"} 1\n"));
    assert_non_null(strstr(text, "larder_saved_bytes_total 3801\n"));
    assert_non_null(strstr(text, "larder_cache_memory_bytes 7000\n"));
    assert_non_null(strstr(text, "larder_cache_budget_bytes 1048576\n"));
    assert_non_null(strstr(text, "larder_client_connections 3\n"));
    assert_non_null(strstr(text, "larder_upstream_connections{state=\"idle\"} 2\n"));
    assert_non_null(strstr(text, "larder_errors_total{kind=\"dns\"} 2\n"));
    assert_non_null(strstr(text, "# TYPE larder_request_duration_seconds histogram\n"));
    assert_non_null(strstr(text, "larder_request_duration_seconds_count{cache=\"hit\"} 5\n"));
    assert_non_null(strstr(text, "larder_request_duration_seconds_sum{cache=\"hit\"} 0.000341\n"));
    assert_non_null(strstr(text, "larder_top_host_requests{host=\"quote\\\"back\\\\slash\"} 1\n"));

    /* every sample is larder_*, every family has HELP and TYPE, the hit
     * histogram's buckets are cumulative and end with +Inf == _count */
    copy = strdup(text);
    for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP larder_", 14) == 0 ||
                        strncmp(line, "# TYPE larder_", 14) == 0);
            continue;
        }
        assert_true(strncmp(line, "larder_", 7) == 0);
        if (strncmp(line, "larder_request_duration_seconds_bucket{cache=\"hit\"", 50) == 0) {
            uint64_t v = strtoull(strrchr(line, ' ') + 1, NULL, 10);
            assert_true(v >= prev);
            prev = v;
            buckets++;
            if (strstr(line, "le=\"+Inf\"") != NULL) {
                inf = 1;
                assert_int_equal(v, 5);
            }
        }
    }
    assert_int_equal(buckets, LARDER_STATS_LATENCY_BOUNDS + 1);
    assert_true(inf);
    free(copy);

    /* promtool is the reference (Debian package prometheus) */
    if (access("/usr/bin/promtool", X_OK) == 0) {
        path = temp_file(text);
        cmd = h_fmt("promtool check metrics < %s", path);
        if (h_run(cmd, &out, &err, 20000) != 0)
            fail_msg("promtool check metrics: %s%s", out ? out : "", err ? err : "");
        unlink(path);
        free(path);
        free(cmd);
        free(out);
        free(err);
    } else {
        fprintf(stderr, "note: /usr/bin/promtool missing (scripts/deps.sh test), not run\n");
    }
    free(text);
    evbuffer_free(b);
    larder_stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_empty_ratios),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_top_hosts_order),
        cmocka_unit_test(test_top_hosts_bounded),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_json_render),
        cmocka_unit_test(test_metrics_render),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
