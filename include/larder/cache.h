/* SPDX-License-Identifier: MIT */
/* cache.h - the in-memory store: a uthash index from normalized URL to the
 * variants stored under it, LRU eviction under a byte budget that counts
 * everything an object costs, and reference-counted objects whose head and
 * body live in immutable, reference-counted blocks that clients send
 * without copying (evbuffer_add_reference).
 *
 * Filling (one writer):
 *     o = larder_object_new(key, variant_key, vary, head_len, expected_size);
 *     larder_object_set_head(o, head, head_len, status);
 *     larder_cache_insert(c, o);            // index takes its own reference
 *     larder_object_append(o, in);  ...     // readers are woken
 *     larder_object_complete(o);            // or larder_object_abort(o)
 *     larder_object_release(o);
 *
 * Reading (any number, while FILLING or COMPLETE):
 *     o = larder_cache_lookup(c, key, match, arg);   // new reference
 *     larder_object_send_head(o, out);
 *     n = larder_object_send_body(o, &cursor, max, out); // references, no copy
 *     larder_object_wait(o, &waiter);  // woken on more data, completion, abort
 *     larder_object_release(o);
 *
 * Blocks are append-only: bytes already written never change, so a reader
 * may reference them while the object is still FILLING. An ABORTED object
 * is never handed to a new reader. Eviction only unlinks: memory goes when
 * the last reference (index, reader, or in-flight write) is dropped.
 */
#ifndef LARDER_CACHE_H
#define LARDER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "larder/freshness.h"

struct evbuffer;
struct larder_cache;
struct larder_object;
struct larder_http_field;
struct larder_http_head;

enum larder_object_state {
    LARDER_OBJ_FILLING = 0,   /* body still arriving */
    LARDER_OBJ_COMPLETE,      /* whole body stored */
    LARDER_OBJ_ABORTED,       /* truncated or dropped: never served again */
    LARDER_OBJ_STATE_COUNT    /* keep last */
};

struct larder_cache_stats {
    uint64_t objects;         /* responses in the index (not counting the marks
                                 of uncacheable URLs, whose bytes count) */
    uint64_t bytes;           /* what they cost, all included */
    uint64_t budget;          /* cache_size */
    uint64_t inserts;
    uint64_t evictions;       /* objects dropped to stay within budget */
    uint64_t invalidations;   /* objects dropped by unsafe requests or purge */
};

/* A reader's position in an object's body. Zero-initialize to start. */
struct larder_object_cursor {
    size_t block;             /* index of the block being sent */
    size_t off;               /* bytes of that block already sent */
    uint64_t pos;             /* body bytes sent in all */
};

typedef void (*larder_object_wake_fn)(void *arg);

/* Registration for wake-ups; embed it in the reader. */
struct larder_object_waiter {
    larder_object_wake_fn fn;
    void *arg;
    int waiting;              /* private */
    struct larder_object_waiter *prev, *next;
};

/* ---- the store ------------------------------------------------------------ */

struct larder_cache *larder_cache_new(uint64_t budget);

/* Unlinks everything (objects still referenced stay alive) and frees. */
void larder_cache_free(struct larder_cache *c);

/* Decides whether stored object <o> answers the request in <arg>. */
typedef int (*larder_cache_match_fn)(const struct larder_object *o, void *arg);

/* The first object under <key> (most recently stored first) that is not
 * ABORTED and for which <match> (when not NULL) says yes; a new reference,
 * or NULL. Marks it recently used. */
struct larder_object *larder_cache_lookup(struct larder_cache *c, const char *key,
                                          larder_cache_match_fn match, void *arg);

/* Whether anything (any variant) is stored under <key>. */
int larder_cache_has_key(const struct larder_cache *c, const char *key);

/* Links <o> into the index (taking a reference) in place of any object with
 * the same key and variant key, then evicts least recently used objects
 * until the budget holds. Returns 0, or -1 when <o> alone exceeds the
 * budget (it is not linked). */
int larder_cache_insert(struct larder_cache *c, struct larder_object *o);

/* Remembers, until <until> (wall-clock seconds), that the response for
 * <key> could not be stored: a mark takes the place of its variants, and
 * larder_cache_lookup() returns it like an object (see
 * larder_object_is_mark()). */
void larder_cache_mark_uncacheable(struct larder_cache *c, const char *key, int64_t until);

/* Unlinks <o> if it is linked. */
void larder_cache_remove(struct larder_cache *c, struct larder_object *o);

/* Unlinks every variant stored under <key>. Returns how many. */
unsigned larder_cache_invalidate(struct larder_cache *c, const char *key);

const struct larder_cache_stats *larder_cache_get_stats(const struct larder_cache *c);

/* Calls <fn> for each linked object, most recently used first, until it
 * returns non-zero. */
void larder_cache_each(struct larder_cache *c, int (*fn)(struct larder_object *o, void *arg),
                       void *arg);

/* ---- objects ------------------------------------------------------------- */

/* A new FILLING object holding one reference for the caller. <variant_key>
 * and <vary> (the normalized Vary field names) may be NULL. <head_len> is
 * the size of the head about to be stored and <expected> the body size when
 * known (from Content-Length), else 0: a small object then lives in a
 * single allocation with its key, head and body. */
struct larder_object *larder_object_new(const char *key, const char *variant_key,
                                        const char *vary, size_t head_len, uint64_t expected);

struct larder_object *larder_object_retain(struct larder_object *o); /* returns o */
void larder_object_release(struct larder_object *o);

/* Stores the serialized head <head> (status line and "Name: value" field
 * lines each ending in CRLF, without framing fields, Age or the final
 * empty line; larder builds it, so it is well formed). Copies it. Replaces
 * a previous head (after a 304): readers that already referenced the old
 * one keep it alive. */
void larder_object_set_head(struct larder_object *o, const char *head, size_t len,
                            int status);

/* Moves all of <data> into the body. Returns 0, or -1 when the budget cannot
 * take it (the object is then unlinked; the caller decides what to do). */
int larder_object_append(struct larder_object *o, struct evbuffer *data);

void larder_object_complete(struct larder_object *o);
void larder_object_abort(struct larder_object *o);

enum larder_object_state larder_object_state(const struct larder_object *o);

/* Whether <o> is a mark left by larder_cache_mark_uncacheable() rather than
 * a response; *until_out (may be NULL) gets its end. */
int larder_object_is_mark(const struct larder_object *o, int64_t *until_out);
const char *larder_object_key(const struct larder_object *o);
const char *larder_object_variant_key(const struct larder_object *o);
const char *larder_object_vary(const struct larder_object *o);   /* NULL: no Vary */

#define LARDER_VARIANT_KEY_MAX 4096 /* longest variant key stored */

/* Whether request <req> selects <o> (RFC 9111 4.1): the fields <o>'s Vary
 * names have the values <o> was stored for. Always true without Vary. */
int larder_object_variant_matches(const struct larder_object *o,
                                  const struct larder_http_head *req);

/* RFC 9111 3.5: whether <o> may answer <req>, which may carry
 * Authorization: only when the stored response said it may be shared
 * (public, must-revalidate, proxy-revalidate or s-maxage). */
int larder_object_authorization_allows(const struct larder_object *o,
                                       const struct larder_http_head *req);
uint64_t larder_object_body_size(const struct larder_object *o); /* bytes so far */
uint64_t larder_object_expected(const struct larder_object *o);  /* 0: unknown */
uint64_t larder_object_cost(const struct larder_object *o);
uint64_t larder_object_hits(const struct larder_object *o);
void larder_object_count_hit(struct larder_object *o);
int larder_object_linked(const struct larder_object *o);

/* Parses the stored head into <out>, with up to <cap> fields in <fields>
 * (they point into the head block: valid until the next
 * larder_object_set_head or the last release). Returns the number of fields
 * the head has, which may exceed <cap> (the rest are left out). */
unsigned larder_object_head(const struct larder_object *o, struct larder_http_head *out,
                            struct larder_http_field *fields, unsigned cap);
int larder_object_status(const struct larder_object *o);

/* The RFC 9111 facts kept with the object (packed inside it: these copy
 * them out and back in). */
void larder_object_get_freshness(const struct larder_object *o, struct larder_freshness *f);
void larder_object_set_freshness(struct larder_object *o, const struct larder_freshness *f);

/* The HTTP version the origin answered with (10 or 11): hits add a Via
 * entry saying so, rather than each object storing one. */
void larder_object_set_received_version(struct larder_object *o, int version);
int larder_object_received_version(const struct larder_object *o);

/* The stored head bytes (valid like larder_object_head's fields). */
const char *larder_object_head_bytes(const struct larder_object *o, size_t *len_out);

/* Adds a reference to the stored head bytes to <out>. Returns bytes added. */
size_t larder_object_send_head(struct larder_object *o, struct evbuffer *out);

/* Adds references to up to <max> body bytes from <cur> to <out> and
 * advances <cur>. Returns bytes added (0 when the reader has caught up). */
size_t larder_object_send_body(struct larder_object *o, struct larder_object_cursor *cur,
                               size_t max, struct evbuffer *out);

/* The stored head without its status line (references, no copy), for an
 * answer with another status (206); returns the bytes queued. */
size_t larder_object_send_fields(struct larder_object *o, struct evbuffer *out);

/* Sets <cur> to body byte <pos> of a COMPLETE object (a range's start). */
void larder_object_seek(const struct larder_object *o, struct larder_object_cursor *cur,
                        uint64_t pos);

/* Asks for one wake-up when data is appended or the state changes. */
void larder_object_wait(struct larder_object *o, struct larder_object_waiter *w);
void larder_object_unwait(struct larder_object *o, struct larder_object_waiter *w);

#endif /* LARDER_CACHE_H */
