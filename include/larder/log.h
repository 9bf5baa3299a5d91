/* SPDX-License-Identifier: MIT */
/* log.h - the error log (levelled) and the access log (one line per request).
 * The only module besides main.c that keeps global state: the open streams. */
#ifndef LARDER_LOG_H
#define LARDER_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

enum larder_log_level {
    LARDER_LOG_ERROR = 0,
    LARDER_LOG_WARN,
    LARDER_LOG_INFO,
    LARDER_LOG_DEBUG,
    LARDER_LOG_LEVEL_COUNT    /* keep last */
};

/* Parses "error", "warn", "info", "debug" (any case). Returns the level or -1. */
int larder_log_level_parse(const char *s);
const char *larder_log_level_name(enum larder_log_level lvl);

/* Opens the logs. <error_path>: a file, or NULL / "-" / "stderr" for stderr.
 * <access_path>: a file, "-" / "stdout" for stdout, or NULL / "off" for none.
 * Returns 0, or -1 with errno set (nothing changed). */
int larder_log_open(const char *error_path, const char *access_path,
                    enum larder_log_level level);

/* Reopens the files by path in append mode (after rotation, on SIGUSR1).
 * stdout and stderr are left alone. A file that cannot be reopened keeps its
 * old stream and the failure goes to the error log. Returns 0, or -1 if any
 * reopen failed. Not async-signal-safe: call it from the event loop (e.g. a
 * libevent signal event), never from a raw signal handler. */
int larder_log_reopen(void);

void larder_log_close(void);

int larder_log_enabled(enum larder_log_level lvl);

/* Writes "TIME LEVEL message" to the error log when <lvl> is enabled, e.g.
 *   2026-11-28T04:10:00.123Z warn upstream example.com:80: connection refused
 * Control bytes in the message (below 0x20, and 0x7f) are written as \xNN,
 * so every message stays on one line. Before larder_log_open() the error
 * log is stderr at level info. */
void larder_log(enum larder_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One finished request, as the access log writes it. */
struct larder_access_entry {
    struct timeval start;     /* when the request head was complete */
    const char *client;       /* client address text */
    const char *method;
    const char *url;          /* as requested */
    int status;               /* status sent to the client, 0 if none */
    uint64_t bytes;           /* bytes sent to the client (head and body) */
    uint64_t duration_us;
    const char *outcome;      /* HIT, MISS, REVALIDATED, STALE, PASS, TUNNEL, ERROR, ... */
    int upstream_status;      /* status from the origin, 0 if none */
};

/* Formats one entry as a single line (documented in docs/logging.md):
 *   2026-11-28T04:10:00.123Z 127.0.0.1 GET http://h/p 200 1234 5.012 MISS 200
 * Fields: start time (UTC, milliseconds), client, method, url, status,
 * bytes, duration in milliseconds with 3 decimals, outcome, upstream status.
 * A status of 0 and a NULL or empty string are written as "-". In the text
 * fields, bytes below 0x20, 0x7f and above, space and '"' are written as %XX,
 * so a client cannot inject a line break or split a field.
 * No trailing newline. Returns the length of the full line, even when it
 * did not fit in <cap> (snprintf semantics: the output is truncated and
 * NUL-terminated when cap > 0). */
int larder_log_format_access(char *buf, size_t cap, const struct larder_access_entry *e);

/* Writes the formatted entry and a newline to the access log, if open. */
void larder_log_access(const struct larder_access_entry *e);

#endif /* LARDER_LOG_H */
