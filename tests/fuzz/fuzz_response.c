/* SPDX-License-Identifier: MIT */
/* fuzz_response.c - libFuzzer target: a response head parses the same whole
 * and as growing prefixes, for GET and HEAD, with results inside the input. */
/* fuzz-sources: src/http_parse.c src/url.c src/util.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "larder/http_parse.h"

#define FIELD_CAP 128

static const struct larder_http_limits limits[] = {
    { .max_line = 8192, .max_head = 65536, .max_fields = 128, .max_chunk_ext = 4096 },
    { .max_line = 40, .max_head = 160, .max_fields = 4, .max_chunk_ext = 8 },
};

/* One parse result, with pointers as offsets into the input. */
struct result {
    int ret;
    int error_status;
    int status, version, body;
    size_t reason_off, reason_len;
    uint64_t content_length;
    unsigned flags, nfields;
    size_t f[FIELD_CAP][4];
};

static void die(const char *what, size_t len, int ret)
{
    fprintf(stderr, "fuzz_response: %s (input %zu bytes, ret %d)\n", what, len, ret);
    abort();
}

static size_t off_in(const char *buf, size_t end, const char *p, size_t n, size_t len)
{
    if (n == 0)
        return 0;
    if (p == NULL || p < buf || p > buf + end || n > (size_t)(buf + end - p))
        die("a result points outside the head", len, (int)end);
    return (size_t)(p - buf);
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Parses an exactly-sized copy of data[0..len) as a response to <method>
 * and checks what must hold for any result. */
static void parse(const char *data, size_t len, const struct larder_http_limits *lim,
                  const char *method, struct larder_http_head *h, struct result *r)
{
    char *buf = malloc(len ? len : 1);
    int is_head = strcmp(method, "HEAD") == 0;
    unsigned i;
    size_t end, k;
    const char *line;

    if (buf == NULL)
        abort();
    memcpy(buf, data, len);
    memset(r, 0, sizeof(*r));
    r->ret = larder_http_parse_response(buf, len, lim, method, strlen(method), h);
    if (r->ret == LARDER_PARSE_INCOMPLETE)
        goto out;
    if (r->ret == LARDER_PARSE_ERROR) {
        r->error_status = h->error_status;
        if (h->error_status != 502)
            die("response error other than 502", len, h->error_status);
        if (h->error_reason == NULL || h->error_reason[0] == '\0')
            die("error without a reason", len, r->ret);
        goto out;
    }
    if (r->ret <= 0 || (size_t)r->ret > len)
        die("consumed length out of range", len, r->ret);
    end = (size_t)r->ret;
    if (end > lim->max_head)
        die("head over max_head", len, r->ret);
    if (end < 4 || memcmp(buf + end - 4, "\r\n\r\n", 4) != 0)
        die("head does not end with an empty line", len, r->ret);
    line = (const char *)memchr(buf, '\n', end);
    if (line == NULL || (size_t)(line - buf) - 1 > lim->max_line)
        die("status line over max_line", len, r->ret);
    if (memcmp(buf, "HTTP/1.", 7) != 0)
        die("status line not HTTP/1.x", len, r->ret);
    if (h->nfields > lim->max_fields)
        die("more fields than max_fields", len, r->ret);
    if (h->status < 100 || h->status > 999)
        die("status out of range", len, h->status);
    if (h->version != 10 && h->version != 11)
        die("bad version", len, h->version);
    if ((unsigned)h->body >= LARDER_BODY_KIND_COUNT)
        die("bad body kind", len, (int)h->body);
    if ((is_head || h->status < 200 || h->status == 204 || h->status == 304) &&
        h->body != LARDER_BODY_NONE)
        die("a body where there can be none", len, (int)h->body);
    if ((h->flags & LARDER_HEAD_F_HAS_TE) && (h->flags & LARDER_HEAD_F_HAS_CL))
        die("Transfer-Encoding with Content-Length accepted", len, r->ret);
    if ((h->flags & LARDER_HEAD_F_HAS_TE) && h->version == 10)
        die("Transfer-Encoding in HTTP/1.0 accepted", len, r->ret);
    if (h->body == LARDER_BODY_CHUNKED && !(h->flags & LARDER_HEAD_F_HAS_TE))
        die("chunked without Transfer-Encoding", len, r->ret);
    if (h->body == LARDER_BODY_LENGTH && !(h->flags & LARDER_HEAD_F_HAS_CL))
        die("length without Content-Length", len, r->ret);
    if (h->body == LARDER_BODY_CLOSE && (h->flags & LARDER_HEAD_F_HAS_CL))
        die("close-delimited despite Content-Length", len, r->ret);
    for (k = 0; k < h->reason_len; k++)
        if (is_ctl((unsigned char)h->reason[k]))
            die("control byte in the reason", len, r->ret);
    r->status = h->status;
    r->version = h->version;
    r->body = (int)h->body;
    r->reason_off = off_in(buf, end, h->reason, h->reason_len, len);
    r->reason_len = h->reason_len;
    r->content_length = h->body == LARDER_BODY_LENGTH ? h->content_length : 0;
    r->flags = h->flags;
    r->nfields = h->nfields;
    for (i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];

        if (f->name_len == 0)
            die("empty field name", len, r->ret);
        for (k = 0; k < f->name_len; k++)
            if (!larder_http_is_tchar((unsigned char)f->name[k]))
                die("field name not a token", len, r->ret);
        for (k = 0; k < f->value_len; k++)
            if (is_ctl((unsigned char)f->value[k]))
                die("control byte in a field value", len, r->ret);
        if (f->value_len > 0 &&
            (is_ows((unsigned char)f->value[0]) ||
             is_ows((unsigned char)f->value[f->value_len - 1])))
            die("field value not trimmed", len, r->ret);
        r->f[i][0] = off_in(buf, end, f->name, f->name_len, len);
        r->f[i][1] = f->name_len;
        r->f[i][2] = off_in(buf, end, f->value, f->value_len, len);
        r->f[i][3] = f->value_len;
    }
out:
    free(buf);
}

/* Equal results; <body_too> 0 compares all but the body kind and length. */
static int same(const struct result *a, const struct result *b, int body_too)
{
    if (a->ret != b->ret)
        return 0;
    if (a->ret == LARDER_PARSE_ERROR)
        return a->error_status == b->error_status;
    if (a->ret < 0)
        return 1;
    if (body_too && (a->body != b->body || a->content_length != b->content_length))
        return 0;
    return a->status == b->status && a->version == b->version &&
           a->reason_off == b->reason_off && a->reason_len == b->reason_len &&
           a->flags == b->flags && a->nfields == b->nfields &&
           memcmp(a->f, b->f, sizeof(a->f[0]) * a->nfields) == 0;
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);

    while (n-- > 0)
        h = (h ^ *p++) * UINT64_C(1099511628211);
    return h;
}

static struct larder_http_field fields[FIELD_CAP];
static struct result whole, part, as_head;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = { "GET", "HEAD" };
    const char *text = (const char *)data;
    uint64_t hv = hash(data, size);
    size_t li, mi, k, cuts[4];
    struct larder_http_head head;

    if (size > 200000)
        return 0;
    for (li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        const struct larder_http_limits *lim = &limits[li];

        for (mi = 0; mi < 2; mi++) {
            larder_http_head_init(&head, fields, FIELD_CAP);
            parse(text, size, lim, methods[mi], &head, &whole);
            if (mi == 0) {
                parse(text, size, lim, "HEAD", &head, &as_head);
                /* framing errors do not depend on the method either */
                if (!same(&whole, &as_head, 0))
                    die("GET and HEAD parse the head differently", size, as_head.ret);
            }
            cuts[0] = (size_t)(hv % (size + 1));
            cuts[1] = (size_t)((hv >> 32) % (size + 1));
            cuts[2] = whole.ret > 0 ? (size_t)whole.ret - 1 : cuts[1];
            cuts[3] = whole.ret > 0 ? (size_t)whole.ret : cuts[1];
            for (k = 0; k < 4; k++) {
                parse(text, cuts[k], lim, methods[mi], &head, &part);
                if (part.ret == LARDER_PARSE_INCOMPLETE) {
                    if (whole.ret > 0 && cuts[k] >= (size_t)whole.ret)
                        die("a prefix holding the whole head is INCOMPLETE", cuts[k],
                            whole.ret);
                    continue;
                }
                if (!same(&whole, &part, 1))
                    die("a prefix answers differently from the whole", cuts[k], part.ret);
            }
        }
    }
    return 0;
}
