/* SPDX-License-Identifier: MIT */
/* fuzz_request.c - libFuzzer target: a request head parses the same whole and
 * as growing prefixes, and every result lies inside the input. */
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
    size_t method_off, method_len, target_off, target_len;
    int form, version, body;
    uint64_t content_length;
    unsigned flags, nfields;
    size_t f[FIELD_CAP][4];
};

static void die(const char *what, size_t len, int ret)
{
    fprintf(stderr, "fuzz_request: %s (input %zu bytes, ret %d)\n", what, len, ret);
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

/* Parses buf[0..len) (an exactly-sized copy) and checks what must hold for
 * any result. */
static void parse(const char *data, size_t len, const struct larder_http_limits *lim,
                  struct larder_http_head *h, struct result *r)
{
    char *buf = malloc(len ? len : 1);
    unsigned i;
    size_t end, skip;
    const char *line;

    if (buf == NULL)
        abort();
    memcpy(buf, data, len);
    memset(r, 0, sizeof(*r));
    r->ret = larder_http_parse_request(buf, len, lim, h);
    if (r->ret == LARDER_PARSE_INCOMPLETE)
        goto out;
    if (r->ret == LARDER_PARSE_ERROR) {
        r->error_status = h->error_status;
        if (h->error_status != 400 && h->error_status != 414 && h->error_status != 431 &&
            h->error_status != 501 && h->error_status != 505)
            die("unexpected error status", len, h->error_status);
        if (h->error_reason == NULL || h->error_reason[0] == '\0')
            die("error without a reason", len, r->ret);
        goto out;
    }
    if (r->ret <= 0 || (size_t)r->ret > len)
        die("consumed length out of range", len, r->ret);
    end = (size_t)r->ret;
    for (skip = 0; skip + 1 < end && buf[skip] == '\r' && buf[skip + 1] == '\n'; skip += 2)
        ;
    if (end - skip > lim->max_head)
        die("head over max_head", len, r->ret);
    line = (const char *)memchr(buf + skip, '\n', end - skip);
    if (line == NULL || (size_t)(line - (buf + skip)) - 1 > lim->max_line)
        die("request line over max_line", len, r->ret);
    if (end < 4 || memcmp(buf + end - 4, "\r\n\r\n", 4) != 0)
        die("head does not end with an empty line", len, r->ret);
    if (h->nfields > lim->max_fields)
        die("more fields than max_fields", len, r->ret);
    if (h->version != 10 && h->version != 11)
        die("bad version", len, h->version);
    if ((unsigned)h->form >= LARDER_TARGET_FORM_COUNT)
        die("bad target form", len, (int)h->form);
    if (h->body != LARDER_BODY_NONE && h->body != LARDER_BODY_LENGTH &&
        h->body != LARDER_BODY_CHUNKED)
        die("bad request body kind", len, (int)h->body);
    if (h->body == LARDER_BODY_CHUNKED &&
        (!(h->flags & LARDER_HEAD_F_HAS_TE) || (h->flags & LARDER_HEAD_F_HAS_CL) ||
         h->version != 11))
        die("chunked framing without exactly TE", len, (int)h->flags);
    if (h->body == LARDER_BODY_LENGTH &&
        (!(h->flags & LARDER_HEAD_F_HAS_CL) || (h->flags & LARDER_HEAD_F_HAS_TE)))
        die("length framing without exactly CL", len, (int)h->flags);
    if ((h->flags & (LARDER_HEAD_F_HAS_TE | LARDER_HEAD_F_HAS_CL)) && h->body == LARDER_BODY_NONE)
        die("framing fields but no body", len, (int)h->flags);
    if (h->version == 11 && !(h->flags & LARDER_HEAD_F_HAS_HOST))
        die("HTTP/1.1 request without Host accepted", len, r->ret);
    if (h->method_len == 0 || h->target_len == 0)
        die("empty method or target", len, r->ret);
    for (i = 0; i < h->method_len; i++)
        if (!larder_http_is_tchar((unsigned char)h->method[i]))
            die("method not a token", len, r->ret);
    for (i = 0; i < h->target_len; i++)
        if ((unsigned char)h->target[i] <= 0x20 || (unsigned char)h->target[i] >= 0x7f)
            die("target byte outside VCHAR", len, r->ret);
    r->method_off = off_in(buf, end, h->method, h->method_len, len);
    r->method_len = h->method_len;
    r->target_off = off_in(buf, end, h->target, h->target_len, len);
    r->target_len = h->target_len;
    r->form = (int)h->form;
    r->version = h->version;
    r->body = (int)h->body;
    r->content_length = h->body == LARDER_BODY_LENGTH ? h->content_length : 0;
    r->flags = h->flags;
    r->nfields = h->nfields;
    for (i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        size_t k;

        if (f->name_len == 0)
            die("empty field name", len, r->ret);
        for (k = 0; k < f->name_len; k++)
            if (!larder_http_is_tchar((unsigned char)f->name[k]))
                die("field name not a token", len, r->ret);
        for (k = 0; k < f->value_len; k++) {
            unsigned char c = (unsigned char)f->value[k];

            if ((c < 0x20 && c != '\t') || c == 0x7f)
                die("control byte in a field value", len, r->ret);
        }
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

static int same(const struct result *a, const struct result *b)
{
    if (a->ret != b->ret)
        return 0;
    if (a->ret == LARDER_PARSE_ERROR)
        return a->error_status == b->error_status;
    if (a->ret < 0)
        return 1;
    return a->method_off == b->method_off && a->method_len == b->method_len &&
           a->target_off == b->target_off && a->target_len == b->target_len &&
           a->form == b->form && a->version == b->version && a->body == b->body &&
           a->content_length == b->content_length && a->flags == b->flags &&
           a->nfields == b->nfields &&
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
static struct result whole, part;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint64_t hv = hash(data, size);
    size_t li, k, cuts[4];
    struct larder_http_head head;

    if (size > 200000)
        return 0;
    for (li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        const struct larder_http_limits *lim = &limits[li];

        larder_http_head_init(&head, fields, FIELD_CAP);
        parse(text, size, lim, &head, &whole);

        /* two random prefixes, plus the edges of the answer when there is one */
        cuts[0] = (size_t)(hv % (size + 1));
        cuts[1] = (size_t)((hv >> 32) % (size + 1));
        if (cuts[0] > cuts[1]) {
            size_t t = cuts[0];
            cuts[0] = cuts[1];
            cuts[1] = t;
        }
        cuts[2] = whole.ret > 0 ? (size_t)whole.ret - 1 : cuts[1];
        cuts[3] = whole.ret > 0 ? (size_t)whole.ret : cuts[1];
        larder_http_head_init(&head, fields, FIELD_CAP);  /* reused below, as a caller would */
        for (k = 0; k < 4; k++) {
            parse(text, cuts[k], lim, &head, &part);
            if (part.ret == LARDER_PARSE_INCOMPLETE) {
                if (whole.ret > 0 && cuts[k] >= (size_t)whole.ret)
                    die("a prefix holding the whole head is INCOMPLETE", cuts[k], whole.ret);
                if (k == 1 && cuts[0] != cuts[1]) {
                    /* the earlier, shorter cut must not have answered */
                    struct result first;
                    parse(text, cuts[0], lim, &head, &first);
                    if (first.ret != LARDER_PARSE_INCOMPLETE)
                        die("a longer prefix went back to INCOMPLETE", cuts[1], first.ret);
                }
                continue;
            }
            if (!same(&whole, &part))
                die("a prefix answers differently from the whole", cuts[k], part.ret);
        }
        /* parsing twice with the same head gives the same answer */
        parse(text, size, lim, &head, &part);
        if (!same(&whole, &part))
            die("a second parse differs", size, part.ret);
    }
    return 0;
}
