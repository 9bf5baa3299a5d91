/* SPDX-License-Identifier: MIT */
/* body.h - moving message bodies between evbuffers: taking the framing off
 * what a peer sent (Content-Length, chunked, close-delimited) and putting
 * larder's own framing on what it forwards. Bytes move without copying. */
#ifndef LARDER_BODY_H
#define LARDER_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "larder/http_parse.h"

struct evbuffer;

struct larder_body_reader {
    enum larder_body_kind kind;
    uint64_t remaining;       /* LENGTH: bytes still to come */
    uint64_t total;           /* decoded bytes moved so far */
    struct larder_chunked ck; /* CHUNKED: framing state */
    int done;                 /* the whole body has been read */
    const char *error;        /* static reason after a -1 */
};

void larder_body_reader_init(struct larder_body_reader *r, enum larder_body_kind kind,
                             uint64_t length, const struct larder_http_limits *lim);

/* Moves up to <max> decoded body bytes from <in> to <out>, consuming the
 * framing around them. Returns 1 when the body is complete, 0 when more
 * input is needed (or <max> was reached), -1 on a framing error. A
 * close-delimited body completes only through larder_body_reader_eof(). */
int larder_body_read(struct larder_body_reader *r, struct evbuffer *in,
                     struct evbuffer *out, size_t max);

/* The peer closed the connection. Returns 1 when that ends the body
 * properly (close-delimited, or already complete), -1 when it truncates it. */
int larder_body_reader_eof(struct larder_body_reader *r);

/* Appends all of <data> to <out> as one chunk (nothing when empty). */
int larder_body_write_chunk(struct evbuffer *out, struct evbuffer *data);

/* Appends the last chunk and an empty trailer section. */
int larder_body_write_last_chunk(struct evbuffer *out);

#endif /* LARDER_BODY_H */
