/* SPDX-License-Identifier: MIT */
/* fill.h - one upstream fetch for a cacheable GET, shared by every client
 * that asks for the same URL while it is in flight: coalescing, deciding
 * whether the response may be stored, writing it into a cache object that
 * clients read while it fills, and revalidating a stale object with a
 * conditional request (304: merge and serve the stored body).
 *
 *     struct larder_fill_waiter w = { .ops = &ops, .arg = client, .req = &req->head };
 *     f = larder_fill_find(px, key);              // in flight already?
 *     if (f) larder_fill_join(f, &w);
 *     else   larder_fill_start(px, key, &spec, req, stale, &w);
 *     ... exactly one of ops->on_object / on_takeover / on_pass / on_error ...
 *     larder_fill_leave(&w);                      // when the client is done
 *
 * A fill lives on without clients while it is storing an object (the
 * object is the point), and stops when nobody wants what it fetches.
 */
#ifndef LARDER_FILL_H
#define LARDER_FILL_H

#include <stdint.h>

#include "larder/stats.h"

struct evbuffer;
struct larder_failure;
struct larder_fetch;
struct larder_fetch_spec;
struct larder_fill;
struct larder_http_head;
struct larder_http_msg;
struct larder_object;
struct larder_proxy;

/* What a waiting client is told: exactly one call per join. Each may run
 * inside another client's event handling, so it must not free other
 * clients; heavy work belongs in the client's own next loop turn. */
struct larder_fill_ops {
    /* A 100 or 103 interim response, for the client that asked first
     * while it waits. May be NULL. */
    void (*on_interim)(void *arg, struct larder_http_head *interim);
    /* Serve <o> (a new reference the client releases; possibly FILLING).
     * <how>: MISS (fetched and stored), REVALIDATED (304 merged into the
     * stale object), REFRESHED (a new response replaced it), STALE (the
     * origin failed; the stale object may be served). <fwd_status> is what
     * the origin answered (0: no answer). */
    void (*on_object)(void *arg, struct larder_object *o, enum larder_outcome how,
                      int fwd_status);
    /* The response may not be shared and this client asked first: it takes
     * the fetch over as a plain pass-through, starting with head <resp>
     * (owned by the client). */
    void (*on_takeover)(void *arg, struct larder_fetch *f, struct larder_http_msg *resp);
    /* Not shareable with this client (or it waited too long): it should go
     * upstream on its own. <why> is static, for logs. */
    void (*on_pass)(void *arg, const char *why);
    /* The fetch failed before a response: answer what <fail> says. */
    void (*on_error)(void *arg, const struct larder_failure *fail);
    /* The owner is reading the object and it outgrew max_object_size: the
     * object is dropped from the cache; the owner gets the fetch to stream
     * the rest straight through, after the object's bytes, starting with
     * <data> (the client must take all of it). */
    void (*on_overflow)(void *arg, struct larder_fetch *f, struct evbuffer *data);
};

/* Embedded in the client. */
struct larder_fill_waiter {
    const struct larder_fill_ops *ops;
    void *arg;
    const struct larder_http_head *req; /* the client's request (Vary matching) */
    struct larder_fill *fill;           /* private: attached fill */
    int owner;                          /* private: started the fill */
    int decided;                        /* private: told what to do */
    char *own_fields;                   /* field lines for this client only (the
                                           Set-Cookie of its own response, which
                                           the stored copy drops); the client
                                           frees it */
    struct larder_fill_waiter *prev, *next;
};

/* The fill in flight for <key> that a request may join, or NULL. */
struct larder_fill *larder_fill_find(struct larder_proxy *px, const char *key);

/* Waits for <f>'s response. */
void larder_fill_join(struct larder_fill *f, struct larder_fill_waiter *w);

/* Starts fetching <spec> for <key> on behalf of <owner> (may be NULL: a
 * background revalidation). <req> is the request as the client sent it (the
 * fill keeps a copy for storing decisions). <stale> (may be NULL) is the
 * stored object being revalidated; <spec> then carries the conditional
 * fields. <shared>: other requests may join (false for requests with
 * Authorization). Returns the fill. */
struct larder_fill *larder_fill_start(struct larder_proxy *px, const char *key,
                                      const struct larder_fetch_spec *spec,
                                      const struct larder_http_msg *req,
                                      struct larder_object *stale, int shared,
                                      struct larder_fill_waiter *owner);

/* The client is gone or done: detaches <w> (no callback afterwards). */
void larder_fill_leave(struct larder_fill_waiter *w);

/* RFC 9111 4.3.5: a 200 answer <resp> to a HEAD request <req> that larder
 * forwarded updates the stored GET response for <key> that <req> would
 * have chosen, when the validators and Content-Length it carries agree with
 * it; otherwise that stored response is dropped as outdated. <request_time>:
 * when the HEAD was sent (wall clock, seconds). */
void larder_fill_head_update(struct larder_proxy *px, const char *key,
                             const struct larder_http_head *req, struct larder_http_head *resp,
                             int64_t request_time);

/* Stops every fill (shutdown). */
void larder_fill_shutdown(struct larder_proxy *px);

#endif /* LARDER_FILL_H */
