/* SPDX-License-Identifier: MIT */
/* http_msg.h - a parsed message that owns its bytes, the hop-by-hop rules of
 * RFC 9110 7.6.1, and writing field lines out.
 *
 *     struct larder_http_msg *m = larder_http_msg_new(raw, n, &parsed);
 *     larder_http_mark_hop_by_hop(&m->head);
 *     larder_http_write_fields(out, &m->head);    // what may be forwarded
 *     larder_http_msg_free(m);
 */
#ifndef LARDER_HTTP_MSG_H
#define LARDER_HTTP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "larder/http_parse.h"

struct evbuffer;

struct larder_http_msg {
    char *raw;                     /* owned copy of the head bytes */
    size_t raw_len;
    struct larder_http_head head;  /* points into raw; fields owned */
};

/* Copies the <len> head bytes at <raw> and the parse result <parsed> (which
 * points into <raw>) into a message that owns them. Aborts on OOM. */
struct larder_http_msg *larder_http_msg_new(const char *raw, size_t len,
                                            const struct larder_http_head *parsed);
/* A copy of <m> (flags included). */
struct larder_http_msg *larder_http_msg_dup(const struct larder_http_msg *m);
void larder_http_msg_free(struct larder_http_msg *m);

/* Marks with LARDER_FIELD_F_DROP every field a proxy must not forward:
 * Connection and each field it names, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Upgrade, Proxy-Authenticate, Proxy-Authorization, and the framing
 * fields Content-Length and Transfer-Encoding, which larder writes itself,
 * also when spelt with underscores (Content_Length), which some servers
 * read as the same field. */
void larder_http_mark_hop_by_hop(struct larder_http_head *h);

/* Marks every field named <name> with LARDER_FIELD_F_DROP. */
void larder_http_drop(struct larder_http_head *h, const char *name);

/* Appends "Name: value\r\n" for every field not marked DROP. Returns 0/-1. */
int larder_http_write_fields(struct evbuffer *out, const struct larder_http_head *h);

/* Appends "HTTP/1.1 <status> <reason>\r\n" (the standard reason when
 * <reason_len> is 0). */
void larder_http_add_status_line(struct evbuffer *out, int status, const char *reason,
                                 size_t reason_len);

/* Appends "<name>: <value>\r\n", and the same with a decimal value. */
void larder_http_add_field(struct evbuffer *out, const char *name, const char *value,
                           size_t value_len);
void larder_http_add_field_u64(struct evbuffer *out, const char *name, uint64_t value);

/* Value of the first field named <name> (not dropped), or NULL. */
const struct larder_http_field *larder_http_get(const struct larder_http_head *h,
                                                const char *name);

/* Standard reason phrase for a status code ("Bad Gateway"), or "Unknown". */
const char *larder_http_reason(int status);

#endif /* LARDER_HTTP_MSG_H */
