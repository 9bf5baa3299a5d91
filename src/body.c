/* SPDX-License-Identifier: MIT */
/* body.c - de-framing bodies received and framing bodies sent. */
#include "larder/body.h"

#include <event2/buffer.h>
#include <string.h>

void larder_body_reader_init(struct larder_body_reader *r, enum larder_body_kind kind,
                             uint64_t length, const struct larder_http_limits *lim)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->remaining = kind == LARDER_BODY_LENGTH ? length : 0;
    larder_chunked_init(&r->ck, lim);
    r->done = kind == LARDER_BODY_NONE || (kind == LARDER_BODY_LENGTH && length == 0);
}

static size_t move(struct larder_body_reader *r, struct evbuffer *in,
                   struct evbuffer *out, uint64_t want)
{
    size_t avail = evbuffer_get_length(in);
    size_t n = want < avail ? (size_t)want : avail;

    if (n > 0)
        evbuffer_remove_buffer(in, out, n);
    r->total += n;
    return n;
}

static int read_chunked(struct larder_body_reader *r, struct evbuffer *in,
                        struct evbuffer *out, size_t max)
{
    size_t moved = 0;

    while (!larder_chunked_done(&r->ck)) {
        uint64_t left = larder_chunked_data_left(&r->ck);
        struct evbuffer_iovec v;
        long used;

        if (left > 0) {
            size_t n;
            if (moved >= max)
                return 0;
            if (left > max - moved)
                left = max - moved;
            n = move(r, in, out, left);
            if (n == 0)
                return 0;
            larder_chunked_data_consumed(&r->ck, n);
            moved += n;
            continue;
        }
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            return 0;
        used = larder_chunked_parse(&r->ck, v.iov_base, v.iov_len);
        if (used < 0) {
            r->error = r->ck.error_reason;
            return -1;
        }
        evbuffer_drain(in, (size_t)used);
    }
    r->done = 1;
    return 1;
}

int larder_body_read(struct larder_body_reader *r, struct evbuffer *in,
                     struct evbuffer *out, size_t max)
{
    if (r->done)
        return 1;
    if (r->error != NULL)
        return -1;
    switch (r->kind) {
    case LARDER_BODY_LENGTH:
        r->remaining -= move(r, in, out, r->remaining < max ? r->remaining : max);
        if (r->remaining == 0)
            r->done = 1;
        return r->done;
    case LARDER_BODY_CHUNKED:
        return read_chunked(r, in, out, max);
    case LARDER_BODY_CLOSE:
        move(r, in, out, max);
        return 0;
    default:
        r->done = 1;
        return 1;
    }
}

int larder_body_reader_eof(struct larder_body_reader *r)
{
    if (r->done)
        return 1;
    if (r->kind == LARDER_BODY_CLOSE) {
        r->done = 1;
        return 1;
    }
    r->error = "connection closed before the end of the body";
    return -1;
}

int larder_body_write_chunk(struct evbuffer *out, struct evbuffer *data)
{
    size_t n = evbuffer_get_length(data);

    if (n == 0)
        return 0;
    if (evbuffer_add_printf(out, "%zx\r\n", n) < 0 ||
        evbuffer_add_buffer(out, data) != 0 ||
        evbuffer_add(out, "\r\n", 2) != 0)
        return -1;
    return 0;
}

int larder_body_write_last_chunk(struct evbuffer *out)
{
    return evbuffer_add(out, "0\r\n\r\n", 5);
}
