/* SPDX-License-Identifier: MIT */
/* util.c - aborting allocators, clocks, HTML escaping. */
#include "larder/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "larder: out of memory allocating %zu bytes\n", n);
    abort();
}

void *larder_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        out_of_memory(n);
    return p;
}

void *larder_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *larder_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        out_of_memory(n);
    return q;
}

char *larder_xstrdup(const char *s)
{
    return larder_xstrndup(s, strlen(s));
}

char *larder_xstrndup(const char *s, size_t n)
{
    char *p = larder_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

uint64_t larder_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t larder_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t larder_wall_s(void)
{
    return (int64_t)time(NULL);
}

size_t larder_fmt_u64(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

void larder_html_escape(const char *s, char *buf, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return;
    for (; *s != '\0'; s++) {
        const char *rep = NULL;
        char one[2] = { *s, '\0' };
        switch (*s) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: rep = one; break;
        }
        size_t n = strlen(rep);
        if (o + n >= cap)
            break;
        memcpy(buf + o, rep, n);
        o += n;
    }
    buf[o] = '\0';
}
