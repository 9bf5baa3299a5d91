/* SPDX-License-Identifier: MIT */
/* test_log.c - error-log levels and lines, the access-log format and its
 * escaping, and reopening files after rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "larder/log.h"

static char tmpdir[] = "/tmp/larder-test-log-XXXXXX";

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

/* Every test leaves the logs as it found them: closed (stderr, no access). */
static int test_teardown(void **state)
{
    (void)state;
    larder_log_close();
    return 0;
}

static char *tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    return buf;
}

/* Reads a whole file into a new NUL-terminated string ("" if missing). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ---- levels ------------------------------------------------------------ */

static void test_level_names(void **state)
{
    static const struct { const char *text; int level; } cases[] = {
        { "error", LARDER_LOG_ERROR }, { "warn", LARDER_LOG_WARN },
        { "info", LARDER_LOG_INFO }, { "debug", LARDER_LOG_DEBUG },
        { "ERROR", LARDER_LOG_ERROR }, { "Debug", LARDER_LOG_DEBUG },
        { "warning", -1 }, { "", -1 }, { "inf", -1 }, { "info ", -1 }, { "3", -1 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (larder_log_level_parse(cases[i].text) != cases[i].level)
            fail_msg("level '%s' parsed as %d", cases[i].text,
                     larder_log_level_parse(cases[i].text));
    assert_int_equal(larder_log_level_parse(NULL), -1);
    assert_string_equal(larder_log_level_name(LARDER_LOG_ERROR), "error");
    assert_string_equal(larder_log_level_name(LARDER_LOG_WARN), "warn");
    assert_string_equal(larder_log_level_name(LARDER_LOG_INFO), "info");
    assert_string_equal(larder_log_level_name(LARDER_LOG_DEBUG), "debug");
    assert_string_equal(larder_log_level_name(LARDER_LOG_LEVEL_COUNT), "?");
}

static void test_levels_filter(void **state)
{
    char path[256];
    char *text;

    (void)state;
    tmp_path(path, sizeof path, "levels.log");
    /* before any open: info */
    assert_true(larder_log_enabled(LARDER_LOG_INFO));
    assert_false(larder_log_enabled(LARDER_LOG_DEBUG));

    assert_int_equal(larder_log_open(path, "off", LARDER_LOG_WARN), 0);
    assert_true(larder_log_enabled(LARDER_LOG_ERROR));
    assert_true(larder_log_enabled(LARDER_LOG_WARN));
    assert_false(larder_log_enabled(LARDER_LOG_INFO));
    assert_false(larder_log_enabled(LARDER_LOG_DEBUG));
    larder_log(LARDER_LOG_ERROR, "first %d", 42);
    larder_log(LARDER_LOG_WARN, "second %s", "x");
    larder_log(LARDER_LOG_INFO, "third");
    larder_log(LARDER_LOG_DEBUG, "fourth");

    /* flushed per line: readable before close */
    text = slurp(path);
    assert_int_equal(count_char(text, '\n'), 2);
    assert_non_null(strstr(text, "Z error first 42\n"));
    assert_non_null(strstr(text, "Z warn second x\n"));
    assert_null(strstr(text, "third"));
    assert_null(strstr(text, "fourth"));
    free(text);

    assert_int_equal(larder_log_open(path, "off", LARDER_LOG_DEBUG), 0);
    larder_log(LARDER_LOG_DEBUG, "fifth");
    text = slurp(path);   /* append mode: old lines stay */
    assert_int_equal(count_char(text, '\n'), 3);
    assert_non_null(strstr(text, "Z debug fifth\n"));
    free(text);

    larder_log_close();
    assert_true(larder_log_enabled(LARDER_LOG_INFO));
    assert_false(larder_log_enabled(LARDER_LOG_DEBUG));
    unlink(path);
}

/* "2026-11-28T04:10:00.123Z warn message": checks the timestamp's shape. */
static void assert_timestamp(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    size_t i;

    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (line[i] < '0' || line[i] > '9') : line[i] != shape[i])
            fail_msg("bad timestamp at %zu in '%s'", i, line);
    }
}

static void test_error_line_format(void **state)
{
    char path[256], big[3000];
    char *text, *nl;

    (void)state;
    tmp_path(path, sizeof path, "format.log");
    assert_int_equal(larder_log_open(path, NULL, LARDER_LOG_INFO), 0);

    /* a message that tries to start a forged second line */
    larder_log(LARDER_LOG_INFO, "host %s refused", "evil\n2026-01-01T00:00:00.000Z error forged\r\x7f\t");
    memset(big, 'a', sizeof big - 2);
    big[sizeof big - 2] = 'z';
    big[sizeof big - 1] = '\0';
    larder_log(LARDER_LOG_ERROR, "%s", big);   /* longer than any stack buffer */

    text = slurp(path);
    assert_int_equal(count_char(text, '\n'), 2);
    assert_timestamp(text);
    nl = strchr(text, '\n');
    *nl = '\0';
    assert_string_equal(text + 25, "info host evil\\x0A2026-01-01T00:00:00.000Z error "
                                   "forged\\x0D\\x7F\\x09 refused");
    assert_timestamp(nl + 1);
    assert_memory_equal(nl + 1 + 25, "error aaa", 9);
    assert_int_equal(strlen(nl + 1), 25 + 6 + strlen(big) + 1);
    assert_string_equal(nl + 1 + 25 + 6 + strlen(big) - 1, "z\n");
    free(text);
    unlink(path);
}

/* ---- the access-log line ----------------------------------------------- */

/* 2026-11-28T04:10:00Z */
#define T_20261128 1795839000

static struct larder_access_entry sample_entry(void)
{
    struct larder_access_entry e;

    memset(&e, 0, sizeof e);
    e.start.tv_sec = T_20261128;
    e.start.tv_usec = 123456;
    e.client = "127.0.0.1";
    e.method = "GET";
    e.url = "http://h/p";
    e.status = 200;
    e.bytes = 1234;
    e.duration_us = 5012;
    e.outcome = "MISS";
    e.upstream_status = 200;
    return e;
}

static void test_access_format_exact(void **state)
{
    struct larder_access_entry e = sample_entry();
    char buf[256];
    int n;

    (void)state;
    n = larder_log_format_access(buf, sizeof buf, &e);
    assert_string_equal(buf, "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200");
    assert_int_equal(n, (int)strlen(buf));
}

struct access_case {
    const char *label;
    void (*edit)(struct larder_access_entry *e);
    const char *want;
};

static void edit_epoch(struct larder_access_entry *e)
{
    e->start.tv_sec = 0;
    e->start.tv_usec = 999999;            /* milliseconds are truncated */
}

static void edit_no_status(struct larder_access_entry *e)
{
    e->status = 0;
    e->upstream_status = 0;
    e->bytes = 0;
    e->duration_us = 0;
    e->outcome = "ERROR";
}

static void edit_hit(struct larder_access_entry *e)
{
    e->upstream_status = 0;
    e->outcome = "HIT";
    e->duration_us = 999;
    e->bytes = UINT64_MAX;
}

static void edit_long_duration(struct larder_access_entry *e)
{
    e->duration_us = 1234567;
    e->status = 304;
    e->upstream_status = 304;
    e->outcome = "REVALIDATED";
}

static void edit_exact_ms(struct larder_access_entry *e)
{
    e->duration_us = 1000;
}

static void edit_missing_fields(struct larder_access_entry *e)
{
    e->client = NULL;
    e->method = "";
    e->url = NULL;
    e->outcome = NULL;
}

static void edit_connect(struct larder_access_entry *e)
{
    e->client = "::1";
    e->method = "CONNECT";
    e->url = "example.com:443";
    e->outcome = "TUNNEL";
    e->upstream_status = 0;
}

static void edit_injection(struct larder_access_entry *e)
{
    e->method = "GE\nT";
    e->url = "http://h/a b\"c\r\n2026-01-01T00:00:00.000Z 1.2.3.4 GET /x 200\x7f\x01\x80\xff%41";
}

static void edit_bad_usec(struct larder_access_entry *e)
{
    e->start.tv_usec = 1000000;           /* not a valid timeval: no garbage */
}

static const struct access_case access_cases[] = {
    { "epoch", edit_epoch,
      "1970-01-01T00:00:00.999Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200" },
    { "no status", edit_no_status,
      "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p - 0 0.000 ERROR -" },
    { "hit", edit_hit,
      "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 18446744073709551615 0.999 HIT -" },
    { "long duration", edit_long_duration,
      "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 304 1234 1234.567 REVALIDATED 304" },
    { "exact ms", edit_exact_ms,
      "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 1.000 MISS 200" },
    { "missing fields", edit_missing_fields,
      "2026-11-28T04:10:00.123Z - - - 200 1234 5.012 - 200" },
    { "connect", edit_connect,
      "2026-11-28T04:10:00.123Z ::1 CONNECT example.com:443 200 1234 5.012 TUNNEL -" },
    { "injection", edit_injection,
      "2026-11-28T04:10:00.123Z 127.0.0.1 GE%0AT "
      "http://h/a%20b%22c%0D%0A2026-01-01T00:00:00.000Z%201.2.3.4%20GET%20/x%20200%7F%01%80%FF%41"
      " 200 1234 5.012 MISS 200" },
    { "bad usec", edit_bad_usec,
      "2026-11-28T04:10:00.000Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200" },
};

static void test_access_format_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof access_cases / sizeof access_cases[0]; i++) {
        struct larder_access_entry e = sample_entry();
        char buf[512];
        int n;

        access_cases[i].edit(&e);
        n = larder_log_format_access(buf, sizeof buf, &e);
        if (strcmp(buf, access_cases[i].want) != 0)
            fail_msg("%s:\n got  '%s'\n want '%s'", access_cases[i].label, buf,
                     access_cases[i].want);
        assert_int_equal(n, (int)strlen(access_cases[i].want));
        /* one line, nine fields */
        assert_null(strpbrk(buf, "\r\n"));
        assert_int_equal(count_char(buf, ' '), 8);
    }
}

static void test_access_format_truncates(void **state)
{
    struct larder_access_entry e = sample_entry();
    const char *full = "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200";
    char buf[16];
    size_t cap;

    (void)state;
    for (cap = 1; cap <= sizeof buf; cap++) {
        memset(buf, 'X', sizeof buf);
        assert_int_equal(larder_log_format_access(buf, cap, &e), (int)strlen(full));
        assert_int_equal(strlen(buf), cap - 1);          /* NUL-terminated prefix */
        assert_memory_equal(buf, full, cap - 1);
        if (cap < sizeof buf)
            assert_int_equal(buf[cap], 'X');             /* nothing past cap */
    }
    assert_int_equal(larder_log_format_access(NULL, 0, &e), (int)strlen(full));
}

static void test_access_log_file(void **state)
{
    struct larder_access_entry e = sample_entry();
    char path[256], want[9000], *url, *text;
    size_t i;

    (void)state;
    tmp_path(path, sizeof path, "access.log");
    larder_log_access(&e);                    /* not open yet: dropped */
    assert_int_equal(larder_log_open(NULL, path, LARDER_LOG_INFO), 0);
    larder_log_access(&e);

    /* a URL longer than the writer's stack buffer, with bytes to escape */
    url = malloc(3001);
    assert_non_null(url);
    strcpy(url, "http://h/");
    for (i = strlen(url); i < 3000; i++)
        url[i] = i % 100 == 0 ? ' ' : 'u';
    url[3000] = '\0';
    e.url = url;
    larder_log_access(&e);
    assert_true(larder_log_format_access(want, sizeof want, &e) > 3000);

    text = slurp(path);
    assert_int_equal(count_char(text, '\n'), 2);
    assert_memory_equal(text, "2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200\n",
                        strlen("2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200\n"));
    assert_string_equal(strchr(text, '\n') + 1, strcat(want, "\n"));
    free(text);
    free(url);

    /* "off": nothing is written anywhere */
    assert_int_equal(larder_log_open(NULL, "off", LARDER_LOG_INFO), 0);
    e.url = "http://h/after-off";
    larder_log_access(&e);
    text = slurp(path);
    assert_null(strstr(text, "after-off"));
    free(text);
    unlink(path);
}

/* "-" is standard output, and each line is flushed at once even when
 * stdout is fully buffered (a pipe, as under ctest, or a file as here). */
static void test_access_log_stdout(void **state)
{
    struct larder_access_entry e = sample_entry();
    char path[256], *text;
    int saved, fd;

    (void)state;
    tmp_path(path, sizeof path, "stdout.log");
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);

    assert_int_equal(larder_log_open(NULL, "-", LARDER_LOG_INFO), 0);
    e.url = "http://h/stdout";
    larder_log_access(&e);
    text = slurp(path);           /* read before anyone flushes stdout */

    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    larder_log_close();           /* must not close stdout */
    assert_int_equal(fcntl(STDOUT_FILENO, F_GETFD) >= 0, 1);

    assert_non_null(strstr(text, " GET http://h/stdout 200 "));
    assert_int_equal(count_char(text, '\n'), 1);
    free(text);
    unlink(path);
}

/* ---- open failures and reopen ------------------------------------------ */

static void test_open_failure_changes_nothing(void **state)
{
    struct larder_access_entry e = sample_entry();
    char err_path[256], acc_path[256], bad[256];
    char *text;

    (void)state;
    tmp_path(err_path, sizeof err_path, "keep-error.log");
    tmp_path(acc_path, sizeof acc_path, "keep-access.log");
    tmp_path(bad, sizeof bad, "no/such/dir.log");
    assert_int_equal(larder_log_open(err_path, acc_path, LARDER_LOG_WARN), 0);

    errno = 0;
    assert_int_equal(larder_log_open(bad, acc_path, LARDER_LOG_DEBUG), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(larder_log_open(err_path, bad, LARDER_LOG_DEBUG), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(larder_log_open(err_path, acc_path, LARDER_LOG_LEVEL_COUNT), -1);
    assert_int_equal(errno, EINVAL);

    /* still the first configuration: warn level, same files */
    assert_false(larder_log_enabled(LARDER_LOG_INFO));
    larder_log(LARDER_LOG_WARN, "still here");
    larder_log_access(&e);
    text = slurp(err_path);
    assert_non_null(strstr(text, "warn still here\n"));
    free(text);
    text = slurp(acc_path);
    assert_int_equal(count_char(text, '\n'), 1);
    free(text);
    unlink(err_path);
    unlink(acc_path);
}

static void test_reopen_after_rename(void **state)
{
    struct larder_access_entry e = sample_entry();
    char err_path[256], acc_path[256], err_old[256], acc_old[256];
    char *text;

    (void)state;
    tmp_path(err_path, sizeof err_path, "rot-error.log");
    tmp_path(acc_path, sizeof acc_path, "rot-access.log");
    tmp_path(err_old, sizeof err_old, "rot-error.log.1");
    tmp_path(acc_old, sizeof acc_old, "rot-access.log.1");
    assert_int_equal(larder_log_open(err_path, acc_path, LARDER_LOG_INFO), 0);

    e.url = "http://h/before";
    larder_log_access(&e);
    larder_log(LARDER_LOG_INFO, "before rotation");

    /* what logrotate does, then SIGUSR1 */
    assert_int_equal(rename(err_path, err_old), 0);
    assert_int_equal(rename(acc_path, acc_old), 0);
    e.url = "http://h/between";               /* still goes to the old file */
    larder_log_access(&e);
    assert_int_equal(larder_log_reopen(), 0);

    e.url = "http://h/after";
    larder_log_access(&e);
    larder_log(LARDER_LOG_INFO, "after rotation");

    text = slurp(acc_old);
    assert_non_null(strstr(text, "http://h/before "));
    assert_non_null(strstr(text, "http://h/between "));
    assert_null(strstr(text, "http://h/after "));
    free(text);
    text = slurp(acc_path);
    assert_int_equal(count_char(text, '\n'), 1);
    assert_non_null(strstr(text, "http://h/after "));
    free(text);

    text = slurp(err_old);
    assert_non_null(strstr(text, "info before rotation\n"));
    assert_null(strstr(text, "after rotation"));
    free(text);
    text = slurp(err_path);
    assert_int_equal(count_char(text, '\n'), 1);
    assert_non_null(strstr(text, "info after rotation\n"));
    free(text);

    /* reopen without rotation appends to the same files */
    assert_int_equal(larder_log_reopen(), 0);
    larder_log(LARDER_LOG_INFO, "again");
    text = slurp(err_path);
    assert_int_equal(count_char(text, '\n'), 2);
    free(text);

    unlink(err_path);
    unlink(acc_path);
    unlink(err_old);
    unlink(acc_old);
}

static void test_reopen_failure_keeps_old_stream(void **state)
{
    struct larder_access_entry e = sample_entry();
    char dir[256], dir_old[256], acc_path[256], err_path[256], moved[256];
    char *text;

    (void)state;
    tmp_path(dir, sizeof dir, "logdir");
    tmp_path(dir_old, sizeof dir_old, "logdir.old");
    tmp_path(err_path, sizeof err_path, "reopen-fail-error.log");
    assert_int_equal(mkdir(dir, 0700), 0);
    tmp_path(acc_path, sizeof acc_path, "logdir/access.log");
    tmp_path(moved, sizeof moved, "logdir.old/access.log");
    assert_int_equal(larder_log_open(err_path, acc_path, LARDER_LOG_INFO), 0);

    /* the directory goes away: the path cannot be opened again */
    assert_int_equal(rename(dir, dir_old), 0);
    assert_int_equal(larder_log_reopen(), -1);
    e.url = "http://h/kept";
    larder_log_access(&e);

    text = slurp(moved);
    assert_non_null(strstr(text, "http://h/kept "));
    free(text);
    text = slurp(err_path);                   /* the failure is reported */
    assert_non_null(strstr(text, "error cannot reopen access log"));
    assert_non_null(strstr(text, acc_path));
    free(text);

    larder_log_close();
    unlink(moved);
    rmdir(dir_old);
    unlink(err_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_level_names, test_teardown),
        cmocka_unit_test_teardown(test_levels_filter, test_teardown),
        cmocka_unit_test_teardown(test_error_line_format, test_teardown),
        cmocka_unit_test_teardown(test_access_format_exact, test_teardown),
        cmocka_unit_test_teardown(test_access_format_table, test_teardown),
        cmocka_unit_test_teardown(test_access_format_truncates, test_teardown),
        cmocka_unit_test_teardown(test_access_log_file, test_teardown),
        cmocka_unit_test_teardown(test_access_log_stdout, test_teardown),
        cmocka_unit_test_teardown(test_open_failure_changes_nothing, test_teardown),
        cmocka_unit_test_teardown(test_reopen_after_rename, test_teardown),
        cmocka_unit_test_teardown(test_reopen_failure_keeps_old_stream, test_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
