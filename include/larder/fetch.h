/* SPDX-License-Identifier: MIT */
/* fetch.h - one request/response exchange with an origin: get a connection
 * (pooled or new), send the head and stream the body, read interim and final
 * response heads, de-frame the response body with back-pressure, retry once
 * on a fresh connection when a reused one fails before any response byte,
 * and give the connection back to the pool when it can be reused.
 *
 *     f = larder_fetch_start(px, &spec, &ops, me);
 *     larder_fetch_write(f, body_bytes); ... larder_fetch_write_done(f);
 *     ops->on_head(me, resp) ... ops->on_body(me, data) ... ops->on_end(me, 0, NULL)
 *
 * The sink's callbacks may call larder_fetch_pause/resume/abort. After
 * on_end the fetch is gone. After larder_fetch_abort no callback comes.
 */
#ifndef LARDER_FETCH_H
#define LARDER_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct larder_failure;
struct larder_fetch;
struct larder_http_head;
struct larder_http_msg;
struct larder_proxy;

struct larder_fetch_ops {
    /* A 100 or 103 interim response arrived (never 101). May be NULL. */
    void (*on_interim)(void *arg, struct larder_http_head *interim);
    /* The final response head; the sink owns <resp> and frees it. */
    void (*on_head)(void *arg, struct larder_http_msg *resp);
    /* Decoded body bytes; the sink must take (drain) all of <data>. */
    void (*on_body)(void *arg, struct evbuffer *data);
    /* The exchange is over: <fail> NULL when the response is complete,
     * else what went wrong (before on_head: what to answer; after it: the
     * body was cut short). */
    void (*on_end)(void *arg, const struct larder_failure *fail);
    /* The origin took the request bytes queued so far. May be NULL. */
    void (*on_drain)(void *arg);
};

struct larder_fetch_spec {
    const char *host;         /* copied */
    uint16_t port;
    const char *method;       /* copied; decides HEAD framing and retries */
    struct evbuffer *head;    /* serialized request head, moved out */
    int has_body;             /* body bytes follow through larder_fetch_write */
};

struct larder_fetch *larder_fetch_start(struct larder_proxy *px,
                                        const struct larder_fetch_spec *spec,
                                        const struct larder_fetch_ops *ops, void *arg);

/* Hands the response over to another sink (callbacks go to <ops>/<arg>
 * from now on; allowed inside a callback). */
void larder_fetch_set_sink(struct larder_fetch *f, const struct larder_fetch_ops *ops,
                           void *arg);

/* Queues framed request body bytes (all of <data> is moved). */
void larder_fetch_write(struct larder_fetch *f, struct evbuffer *data);

/* The request body is complete (or there was none). */
void larder_fetch_write_done(struct larder_fetch *f);

/* Request bytes queued and not yet taken by the origin. */
size_t larder_fetch_backlog(const struct larder_fetch *f);

/* Stop / restart reading the response (back-pressure from the sink). */
void larder_fetch_pause(struct larder_fetch *f);
void larder_fetch_resume(struct larder_fetch *f);

/* The sink is gone: close the origin connection; no more callbacks. */
void larder_fetch_abort(struct larder_fetch *f);

/* Response bytes read from the origin so far (head and body, as framed). */
uint64_t larder_fetch_bytes_in(const struct larder_fetch *f);

/* Response status from the origin (0 before the final head). */
int larder_fetch_status(const struct larder_fetch *f);

#endif /* LARDER_FETCH_H */
