/* SPDX-License-Identifier: MIT */
/* log.c - the levelled error log, the access-log line, and reopening both. */
#include "larder/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The open streams. NULL err means stderr; NULL acc means no access log.
 * A path is kept only for real files, which are the ones reopen touches. */
static struct {
    FILE *err;
    char *err_path;
    FILE *acc;
    char *acc_path;
    int level;
} g_log = { NULL, NULL, NULL, NULL, LARDER_LOG_INFO };

static const char *const level_names[LARDER_LOG_LEVEL_COUNT] = {
    "error", "warn", "info", "debug",
};

int larder_log_level_parse(const char *s)
{
    int i;

    if (!s)
        return -1;
    for (i = 0; i < LARDER_LOG_LEVEL_COUNT; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

const char *larder_log_level_name(enum larder_log_level lvl)
{
    if ((int)lvl < 0 || lvl >= LARDER_LOG_LEVEL_COUNT)
        return "?";
    return level_names[lvl];
}

/* ---- bounded line builder ---------------------------------------------- */

/* Appends to buf[0..cap) like a chain of snprintf calls: <len> counts every
 * byte asked for, only the prefix that fits (leaving room for the NUL) is
 * stored. */
struct line {
    char *buf;
    size_t cap;
    size_t len;
};

static void put_char(struct line *l, char c)
{
    if (l->len + 1 < l->cap)
        l->buf[l->len] = c;
    l->len++;
}

static void put_str(struct line *l, const char *s)
{
    while (*s)
        put_char(l, *s++);
}

static void put_hex(struct line *l, char lead, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";

    put_char(l, lead);
    put_char(l, hex[c >> 4]);
    put_char(l, hex[c & 0xf]);
}

static void put_u64(struct line *l, uint64_t v)
{
    char tmp[24];

    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    put_str(l, tmp);
}

/* An access-log field: "-" when absent, else the bytes with anything that
 * could break the line or the field split written as %XX. */
static void put_field(struct line *l, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (!s || !*s) {
        put_char(l, '-');
        return;
    }
    for (; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"')
            put_hex(l, '%', *p);
        else
            put_char(l, (char)*p);
    }
}

/* "2026-11-28T04:10:00.123Z" */
static void put_time(struct line *l, const struct timeval *tv)
{
    char tmp[96];             /* room for any int year the compiler can imagine */
    struct tm tm;
    time_t sec = tv->tv_sec;
    unsigned ms = tv->tv_usec >= 0 && tv->tv_usec < 1000000 ? (unsigned)(tv->tv_usec / 1000) : 0;

    if (!gmtime_r(&sec, &tm)) {
        put_str(l, "-");
        return;
    }
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    put_str(l, tmp);
}

static void put_status(struct line *l, int status)
{
    char tmp[16];

    if (status == 0) {
        put_char(l, '-');
        return;
    }
    snprintf(tmp, sizeof tmp, "%d", status);
    put_str(l, tmp);
}

static void line_finish(struct line *l)
{
    if (l->cap > 0)
        l->buf[l->len < l->cap ? l->len : l->cap - 1] = '\0';
}

/* ---- streams ----------------------------------------------------------- */

static FILE *open_append(const char *path)
{
    /* "e": close-on-exec, so children never inherit the log descriptors. */
    FILE *f = fopen(path, "ae");

    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

static int error_is_stderr(const char *path)
{
    return !path || strcmp(path, "-") == 0 || strcmp(path, "stderr") == 0;
}

static int access_is_off(const char *path)
{
    return !path || strcmp(path, "off") == 0;
}

static int access_is_stdout(const char *path)
{
    return strcmp(path, "-") == 0 || strcmp(path, "stdout") == 0;
}

static void close_stream(FILE *f)
{
    if (f && f != stdout && f != stderr)
        fclose(f);
}

int larder_log_open(const char *error_path, const char *access_path,
                    enum larder_log_level level)
{
    FILE *ef = NULL, *af = NULL;
    char *ep = NULL, *ap = NULL;
    int saved;

    if ((int)level < 0 || level >= LARDER_LOG_LEVEL_COUNT) {
        errno = EINVAL;
        return -1;
    }
    /* Open everything first, so a failure leaves the current logs intact. */
    if (!error_is_stderr(error_path)) {
        if (!(ep = strdup(error_path)) || !(ef = open_append(ep)))
            goto fail;
    }
    if (!access_is_off(access_path)) {
        if (access_is_stdout(access_path)) {
            af = stdout;
        } else if (!(ap = strdup(access_path)) || !(af = open_append(ap))) {
            goto fail;
        }
    }

    larder_log_close();
    g_log.err = ef;
    g_log.err_path = ep;
    g_log.acc = af;
    g_log.acc_path = ap;
    g_log.level = level;
    return 0;

fail:
    saved = errno;
    close_stream(ef);
    close_stream(af);
    free(ep);
    free(ap);
    errno = saved;
    return -1;
}

/* Swaps in a fresh stream for <path>; keeps the old one if that fails. */
static int reopen_one(FILE **fp, const char *path)
{
    FILE *f;

    if (!path)
        return 0;             /* stdout, stderr or off: nothing to reopen */
    if (!(f = open_append(path)))
        return -1;
    close_stream(*fp);
    *fp = f;
    return 0;
}

int larder_log_reopen(void)
{
    int rc = 0;

    if (reopen_one(&g_log.err, g_log.err_path) != 0) {
        larder_log(LARDER_LOG_ERROR, "cannot reopen error log %s: %s",
                   g_log.err_path, strerror(errno));
        rc = -1;
    }
    if (reopen_one(&g_log.acc, g_log.acc_path) != 0) {
        larder_log(LARDER_LOG_ERROR, "cannot reopen access log %s: %s",
                   g_log.acc_path, strerror(errno));
        rc = -1;
    }
    return rc;
}

void larder_log_close(void)
{
    if (g_log.acc)
        fflush(g_log.acc);
    close_stream(g_log.err);
    close_stream(g_log.acc);
    free(g_log.err_path);
    free(g_log.acc_path);
    g_log.err = NULL;
    g_log.err_path = NULL;
    g_log.acc = NULL;
    g_log.acc_path = NULL;
    g_log.level = LARDER_LOG_INFO;
}

int larder_log_enabled(enum larder_log_level lvl)
{
    return (int)lvl <= g_log.level;
}

/* Writes l->buf as one fwrite, so a line is never interleaved with another
 * writer's, then flushes so that readers (tail, tests) see it at once. */
static void write_line(FILE *f, const struct line *l)
{
    fwrite(l->buf, 1, l->len, f);
    fflush(f);
}

/* ---- error log --------------------------------------------------------- */

static void build_error_line(struct line *l, const struct timeval *tv,
                             enum larder_log_level lvl, const char *msg)
{
    const unsigned char *p;

    put_time(l, tv);
    put_char(l, ' ');
    put_str(l, larder_log_level_name(lvl));
    put_char(l, ' ');
    for (p = (const unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            put_char(l, '\\');
            put_hex(l, 'x', *p);
        } else {
            put_char(l, (char)*p);
        }
    }
    put_char(l, '\n');
    line_finish(l);
}

void larder_log(enum larder_log_level lvl, const char *fmt, ...)
{
    char msg_stack[1024], line_stack[1280];
    char *msg = msg_stack;
    struct line l = { line_stack, sizeof line_stack, 0 };
    struct timeval tv;
    va_list ap;
    int n;

    if (!larder_log_enabled(lvl))
        return;
    gettimeofday(&tv, NULL);

    va_start(ap, fmt);
    n = vsnprintf(msg_stack, sizeof msg_stack, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof msg_stack && (msg = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    } else if (!msg) {
        msg = msg_stack;      /* out of memory: log the truncated message */
    }

    build_error_line(&l, &tv, lvl, msg);
    if (l.len >= l.cap) {
        char *big = malloc(l.len + 1);

        if (big) {
            l.buf = big;
            l.cap = l.len + 1;
            l.len = 0;
            build_error_line(&l, &tv, lvl, msg);
        } else {
            l.len = l.cap - 1; /* write the truncated line */
            l.buf[l.len - 1] = '\n';
        }
    }
    write_line(g_log.err ? g_log.err : stderr, &l);

    if (l.buf != line_stack)
        free(l.buf);
    if (msg != msg_stack)
        free(msg);
}

/* ---- access log -------------------------------------------------------- */

int larder_log_format_access(char *buf, size_t cap, const struct larder_access_entry *e)
{
    struct line l = { buf, cap, 0 };

    put_time(&l, &e->start);
    put_char(&l, ' ');
    put_field(&l, e->client);
    put_char(&l, ' ');
    put_field(&l, e->method);
    put_char(&l, ' ');
    put_field(&l, e->url);
    put_char(&l, ' ');
    put_status(&l, e->status);
    put_char(&l, ' ');
    put_u64(&l, e->bytes);
    put_char(&l, ' ');
    put_u64(&l, e->duration_us / 1000);
    put_char(&l, '.');
    put_char(&l, (char)('0' + e->duration_us % 1000 / 100));
    put_char(&l, (char)('0' + e->duration_us % 100 / 10));
    put_char(&l, (char)('0' + e->duration_us % 10));
    put_char(&l, ' ');
    put_field(&l, e->outcome);
    put_char(&l, ' ');
    put_status(&l, e->upstream_status);
    line_finish(&l);
    return l.len > 0x7fffffff ? 0x7fffffff : (int)l.len;
}

void larder_log_access(const struct larder_access_entry *e)
{
    char stack[2048];
    struct line l = { stack, sizeof stack, 0 };
    int n;

    if (!g_log.acc)
        return;
    n = larder_log_format_access(stack, sizeof stack - 1, e);
    if ((size_t)n >= sizeof stack - 1) {
        /* Long URL: format again into a buffer that fits. */
        if (!(l.buf = malloc((size_t)n + 2)))
            return;
        larder_log_format_access(l.buf, (size_t)n + 1, e);
    }
    l.len = (size_t)n;
    l.buf[l.len++] = '\n';
    write_line(g_log.acc, &l);
    if (l.buf != stack)
        free(l.buf);
}
