/* SPDX-License-Identifier: MIT */
/* util.h - allocation that aborts on failure, monotonic time, small string
 * helpers shared by every module. */
#ifndef LARDER_UTIL_H
#define LARDER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

/* Small allocations: abort with a message when memory is exhausted. Budget
 * refusals (cache full, connection limit) are ordinary returns elsewhere. */
void *larder_xmalloc(size_t n);
void *larder_xcalloc(size_t n, size_t size);
void *larder_xrealloc(void *p, size_t n);
char *larder_xstrdup(const char *s);
char *larder_xstrndup(const char *s, size_t n);

/* Milliseconds and microseconds from a monotonic clock. */
uint64_t larder_now_ms(void);
uint64_t larder_now_us(void);

/* Seconds since the epoch (wall clock), for HTTP dates and ages. */
int64_t larder_wall_s(void);

/* Writes <v> in decimal at <buf> (room for 20 digits, no NUL); returns
 * the number of digits. */
size_t larder_fmt_u64(char *buf, uint64_t v);

/* Escapes <s> for HTML text into buf (always NUL-terminated). */
void larder_html_escape(const char *s, char *buf, size_t cap);

#endif /* LARDER_UTIL_H */
