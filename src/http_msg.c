/* SPDX-License-Identifier: MIT */
/* http_msg.c - owned parsed messages, hop-by-hop removal, field output. */
#include "larder/http_msg.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <string.h>

#include "larder/util.h"

/* One allocation holds the message, its field array and the head bytes. */
struct larder_http_msg *larder_http_msg_new(const char *raw, size_t len,
                                            const struct larder_http_head *parsed)
{
    size_t nf = parsed->nfields;
    struct larder_http_msg *m = larder_xmalloc(sizeof(*m) + nf * sizeof(struct larder_http_field) +
                                               len + 1);
    struct larder_http_field *fields = (struct larder_http_field *)(m + 1);
    char *copy = (char *)(fields + nf);

    memcpy(copy, raw, len);
    copy[len] = '\0';
    m->raw = copy;
    m->raw_len = len;
    m->head = *parsed;
#define REBASE(p) do { if ((p) != NULL) (p) = copy + ((p) - raw); } while (0)
    REBASE(m->head.method);
    REBASE(m->head.target);
    REBASE(m->head.reason);
    m->head.fields = fields;
    m->head.fields_cap = (unsigned)nf;
    for (size_t i = 0; i < nf; i++) {
        fields[i] = parsed->fields[i];
        REBASE(fields[i].name);
        REBASE(fields[i].value);
    }
#undef REBASE
    return m;
}

struct larder_http_msg *larder_http_msg_dup(const struct larder_http_msg *m)
{
    return larder_http_msg_new(m->raw, m->raw_len, &m->head);
}

void larder_http_msg_free(struct larder_http_msg *m)
{
    free(m);
}

#define NAME(s) { s, sizeof(s) - 1 }
static const struct {
    const char *name;
    size_t len;
} hop_by_hop[] = {
    NAME("connection"), NAME("keep-alive"), NAME("proxy-connection"), NAME("te"),
    NAME("trailer"), NAME("upgrade"), NAME("proxy-authenticate"),
    NAME("proxy-authorization"), NAME("content-length"), NAME("transfer-encoding"),
};
#undef NAME

struct named_ctx {
    struct larder_http_head *h;
};

static int drop_named_cb(const char *item, size_t len, void *arg)
{
    struct named_ctx *ctx = arg;

    for (unsigned i = 0; i < ctx->h->nfields; i++) {
        struct larder_http_field *f = &ctx->h->fields[i];
        if (f->name_len == len && strncasecmp(f->name, item, len) == 0)
            f->flags |= LARDER_FIELD_F_DROP;
    }
    return 0;
}

/* Whether <f> is named <name> with some dashes written as underscores
 * ("Content_Length"): valid tokens, but CGI-style servers map both to one
 * variable, so such a field could pass for the framing larder wrote. */
static int underscored(const struct larder_http_field *f, const char *name, size_t len)
{
    int any = 0;

    if (f->name_len != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = f->name[i];
        if (c == '_' && name[i] == '-')
            any = 1;
        else if (tolower((unsigned char)c) != name[i])
            return 0;
    }
    return any;
}

void larder_http_mark_hop_by_hop(struct larder_http_head *h)
{
    struct named_ctx ctx = { h };

    for (unsigned i = 0; i < h->nfields; i++) {
        struct larder_http_field *f = &h->fields[i];
        if (underscored(f, "content-length", 14) || underscored(f, "transfer-encoding", 17)) {
            f->flags |= LARDER_FIELD_F_DROP;
            continue;
        }
        for (size_t k = 0; k < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); k++)
            if (larder_http_field_is_n(f, hop_by_hop[k].name, hop_by_hop[k].len)) {
                f->flags |= LARDER_FIELD_F_DROP;
                /* each field named by Connection (or Proxy-Connection) too */
                if (k == 0 || k == 2)
                    larder_http_list_each(f->value, f->value_len, drop_named_cb, &ctx);
                break;
            }
    }
}

void larder_http_drop(struct larder_http_head *h, const char *name)
{
    for (unsigned i = 0; i < h->nfields; i++)
        if (larder_http_field_is(&h->fields[i], name))
            h->fields[i].flags |= LARDER_FIELD_F_DROP;
}

/* Field lines are gathered on the stack and added in few evbuffer_add
 * calls: each call costs a chain check and the buffer's callbacks. */
int larder_http_write_fields(struct evbuffer *out, const struct larder_http_head *h)
{
    char buf[2048];
    size_t n = 0;

    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        size_t need = f->name_len + f->value_len + 4;

        if (f->flags & LARDER_FIELD_F_DROP)
            continue;
        if (n + need > sizeof(buf)) {
            if (n > 0 && evbuffer_add(out, buf, n) != 0)
                return -1;
            n = 0;
        }
        if (need > sizeof(buf)) {
            if (evbuffer_add(out, f->name, f->name_len) != 0 ||
                evbuffer_add(out, ": ", 2) != 0 ||
                evbuffer_add(out, f->value, f->value_len) != 0 ||
                evbuffer_add(out, "\r\n", 2) != 0)
                return -1;
            continue;
        }
        memcpy(buf + n, f->name, f->name_len);
        n += f->name_len;
        buf[n++] = ':';
        buf[n++] = ' ';
        memcpy(buf + n, f->value, f->value_len);
        n += f->value_len;
        buf[n++] = '\r';
        buf[n++] = '\n';
    }
    return n > 0 ? evbuffer_add(out, buf, n) : 0;
}

/* These build a line on the stack and add it with one evbuffer_add: they
 * run for every response, and printf costs several times as much. */
void larder_http_add_status_line(struct evbuffer *out, int status, const char *reason,
                                 size_t reason_len)
{
    char line[160];
    size_t n = 9;

    if (reason_len == 0) {
        reason = larder_http_reason(status);
        reason_len = strlen(reason);
    }
    if (reason_len > sizeof(line) - 16)
        reason_len = sizeof(line) - 16;
    memcpy(line, "HTTP/1.1 ", 9);
    if (status < 100 || status > 999)
        status = 500;
    line[n++] = (char)('0' + status / 100);
    line[n++] = (char)('0' + status / 10 % 10);
    line[n++] = (char)('0' + status % 10);
    line[n++] = ' ';
    memcpy(line + n, reason, reason_len);
    n += reason_len;
    line[n++] = '\r';
    line[n++] = '\n';
    evbuffer_add(out, line, n);
}

void larder_http_add_field(struct evbuffer *out, const char *name, const char *value,
                           size_t value_len)
{
    char line[512];
    size_t nlen = strlen(name);

    if (nlen + value_len + 4 > sizeof(line)) {
        evbuffer_add(out, name, nlen);
        evbuffer_add(out, ": ", 2);
        evbuffer_add(out, value, value_len);
        evbuffer_add(out, "\r\n", 2);
        return;
    }
    memcpy(line, name, nlen);
    line[nlen] = ':';
    line[nlen + 1] = ' ';
    memcpy(line + nlen + 2, value, value_len);
    memcpy(line + nlen + 2 + value_len, "\r\n", 2);
    evbuffer_add(out, line, nlen + value_len + 4);
}

void larder_http_add_field_u64(struct evbuffer *out, const char *name, uint64_t value)
{
    char digits[24];

    larder_http_add_field(out, name, digits, larder_fmt_u64(digits, value));
}

const struct larder_http_field *larder_http_get(const struct larder_http_head *h,
                                                const char *name)
{
    for (unsigned i = 0; i < h->nfields; i++)
        if (!(h->fields[i].flags & LARDER_FIELD_F_DROP) &&
            larder_http_field_is(&h->fields[i], name))
            return &h->fields[i];
    return NULL;
}

const char *larder_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 508: return "Loop Detected";
    default: return "Unknown";
    }
}
