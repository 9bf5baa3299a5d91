/* SPDX-License-Identifier: MIT */
/* cache.c - the store: index by URL with variants, LRU under a byte budget,
 * refcounted objects made of immutable refcounted blocks. */
#include "larder/cache.h"

#include <assert.h>
#include <event2/buffer.h>
#include <malloc.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "larder/http_parse.h"
#include "larder/util.h"

#define MALLOC_OVERHEAD 16          /* per allocation, beyond its usable size */
#define BLOCK_MIN (16 * 1024)       /* body block sizes when the length is unknown */
#define BLOCK_MAX (256 * 1024)
#define BLOCK_EXACT_MAX (1024 * 1024) /* known lengths up to this get one exact block */

/* An immutable (append-only) run of bytes, shared by the object and every
 * evbuffer that references it. */
struct block {
    unsigned refs;
    size_t len;               /* bytes written; never shrinks */
    size_t cap;
    char data[];
};

struct key_entry {
    UT_hash_handle hh;
    struct larder_object *variants; /* most recently stored first */
    char key[];
};

struct larder_object {
    unsigned refs;
    enum larder_object_state state;
    struct larder_cache *cache;     /* set while linked */
    struct key_entry *entry;
    char *key;
    char *variant_key;
    char *vary;
    struct block *head;             /* status line and fields */
    struct larder_http_field *fields; /* point into head->data */
    unsigned nfields;
    int status;
    struct larder_freshness fresh;
    struct block **blocks;
    size_t nblocks, blocks_cap;
    uint64_t body_size;
    uint64_t expected;
    uint64_t cost;                  /* bytes all of this takes */
    uint64_t hits;
    struct larder_object_waiter *waiters;
    struct larder_object *vprev, *vnext; /* variants of one key */
    struct larder_object *lprev, *lnext; /* LRU, most recent first */
};

struct larder_cache {
    struct key_entry *index;
    struct larder_object *lru;
    uint64_t bytes;                 /* objects and index entries */
    struct larder_cache_stats stats;
};

static size_t alloc_cost(const void *p)
{
    return p != NULL ? malloc_usable_size((void *)p) + MALLOC_OVERHEAD : 0;
}

/* ---- blocks ----------------------------------------------------------------- */

static struct block *block_new(size_t cap)
{
    struct block *b = larder_xmalloc(sizeof(*b) + cap);
    b->refs = 1;
    b->len = 0;
    b->cap = cap;
    return b;
}

static struct block *block_retain(struct block *b)
{
    b->refs++;
    return b;
}

static void block_release(struct block *b)
{
    if (b != NULL && --b->refs == 0)
        free(b);
}

static void on_reference_done(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    block_release(arg);
}

/* Adds a reference to b->data[off..off+len) to <out>. */
static int send_ref(struct evbuffer *out, struct block *b, size_t off, size_t len)
{
    if (evbuffer_add_reference(out, b->data + off, len, on_reference_done,
                               block_retain(b)) != 0) {
        block_release(b); /* libevent never calls the cleanup on failure */
        return -1;
    }
    return 0;
}

/* ---- accounting -------------------------------------------------------------- */

static void cost_change(struct larder_object *o, int64_t delta)
{
    o->cost = (uint64_t)((int64_t)o->cost + delta);
    if (o->cache != NULL) {
        o->cache->bytes = (uint64_t)((int64_t)o->cache->bytes + delta);
        o->cache->stats.bytes = o->cache->bytes;
    }
}

static void unlink_object(struct larder_cache *c, struct larder_object *o)
{
    struct key_entry *e = o->entry;

    assert(o->cache == c);
    DL_DELETE2(e->variants, o, vprev, vnext);
    if (e->variants == NULL) {
        HASH_DEL(c->index, e);
        c->bytes -= alloc_cost(e);
        free(e);
    }
    DL_DELETE2(c->lru, o, lprev, lnext);
    c->bytes -= o->cost;
    c->stats.objects--;
    c->stats.bytes = c->bytes;
    o->cache = NULL;
    o->entry = NULL;
    larder_object_release(o);
}

/* Evicts least recently used objects other than <keep> until the budget
 * holds. */
static void evict(struct larder_cache *c, const struct larder_object *keep)
{
    struct larder_object *o = c->lru != NULL ? c->lru->lprev : NULL; /* the oldest */

    while (c->bytes > c->stats.budget && o != NULL) {
        struct larder_object *prev = o == c->lru ? NULL : o->lprev;
        if (o != keep) {
            c->stats.evictions++;
            unlink_object(c, o);
        }
        o = prev;
    }
}

/* ---- the store ----------------------------------------------------------------- */

struct larder_cache *larder_cache_new(uint64_t budget)
{
    struct larder_cache *c = larder_xcalloc(1, sizeof(*c));
    c->stats.budget = budget;
    return c;
}

void larder_cache_free(struct larder_cache *c)
{
    if (c == NULL)
        return;
    while (c->lru != NULL)
        unlink_object(c, c->lru);
    free(c);
}

struct larder_object *larder_cache_lookup(struct larder_cache *c, const char *key,
                                          larder_cache_match_fn match, void *arg)
{
    struct key_entry *e;
    struct larder_object *o;

    HASH_FIND_STR(c->index, key, e);
    if (e == NULL)
        return NULL;
    DL_FOREACH2(e->variants, o, vnext) {
        if (o->state == LARDER_OBJ_ABORTED)
            continue;
        if (match == NULL || match(o, arg)) {
            DL_DELETE2(c->lru, o, lprev, lnext);
            DL_PREPEND2(c->lru, o, lprev, lnext);
            return larder_object_retain(o);
        }
    }
    return NULL;
}

int larder_cache_has_key(const struct larder_cache *c, const char *key)
{
    struct key_entry *e;

    HASH_FIND_STR(c->index, key, e);
    return e != NULL;
}

static int same_variant(const struct larder_object *a, const struct larder_object *b)
{
    if (a->variant_key == NULL || b->variant_key == NULL)
        return a->variant_key == b->variant_key;
    return strcmp(a->variant_key, b->variant_key) == 0;
}

int larder_cache_insert(struct larder_cache *c, struct larder_object *o)
{
    struct key_entry *e;
    struct larder_object *v, *tmp;

    assert(o->cache == NULL);
    if (o->cost > c->stats.budget)
        return -1;
    HASH_FIND_STR(c->index, o->key, e);
    if (e != NULL) {
        DL_FOREACH_SAFE2(e->variants, v, tmp, vnext) {
            /* the same variant is replaced; a response without Vary
             * replaces them all, and one with Vary replaces the plain one */
            if (same_variant(v, o) || o->vary == NULL || v->vary == NULL) {
                int last = e->variants == v && v->vnext == NULL;
                unlink_object(c, v);
                if (last) {
                    e = NULL; /* the entry went with its last variant */
                    break;
                }
            }
        }
    }
    if (e == NULL) {
        size_t n = strlen(o->key);
        e = larder_xcalloc(1, sizeof(*e) + n + 1);
        memcpy(e->key, o->key, n + 1);
        HASH_ADD_KEYPTR(hh, c->index, e->key, n, e);
        c->bytes += alloc_cost(e);
    }
    o->entry = e;
    o->cache = c;
    DL_PREPEND2(e->variants, o, vprev, vnext);
    DL_PREPEND2(c->lru, o, lprev, lnext);
    larder_object_retain(o);
    c->bytes += o->cost;
    c->stats.objects++;
    c->stats.inserts++;
    c->stats.bytes = c->bytes;
    evict(c, o);
    return 0;
}

void larder_cache_remove(struct larder_cache *c, struct larder_object *o)
{
    if (o->cache == c)
        unlink_object(c, o);
}

unsigned larder_cache_invalidate(struct larder_cache *c, const char *key)
{
    struct key_entry *e;
    unsigned n = 0;

    HASH_FIND_STR(c->index, key, e);
    while (e != NULL) {
        int last = e->variants->vnext == NULL;
        unlink_object(c, e->variants);
        c->stats.invalidations++;
        n++;
        if (last)
            break;
    }
    return n;
}

const struct larder_cache_stats *larder_cache_get_stats(const struct larder_cache *c)
{
    return &c->stats;
}

void larder_cache_each(struct larder_cache *c, int (*fn)(struct larder_object *o, void *arg),
                       void *arg)
{
    struct larder_object *o;

    DL_FOREACH2(c->lru, o, lnext)
        if (fn(o, arg) != 0)
            break;
}

/* ---- objects --------------------------------------------------------------------- */

struct larder_object *larder_object_new(const char *key, const char *variant_key,
                                        const char *vary, uint64_t expected)
{
    struct larder_object *o = larder_xcalloc(1, sizeof(*o));

    o->refs = 1;
    o->state = LARDER_OBJ_FILLING;
    o->key = larder_xstrdup(key);
    o->variant_key = variant_key != NULL ? larder_xstrdup(variant_key) : NULL;
    o->vary = vary != NULL ? larder_xstrdup(vary) : NULL;
    o->expected = expected;
    o->cost = alloc_cost(o) + alloc_cost(o->key) + alloc_cost(o->variant_key) +
              alloc_cost(o->vary);
    return o;
}

struct larder_object *larder_object_retain(struct larder_object *o)
{
    o->refs++;
    return o;
}

void larder_object_release(struct larder_object *o)
{
    if (o == NULL || --o->refs > 0)
        return;
    assert(o->cache == NULL);
    assert(o->waiters == NULL);
    for (size_t i = 0; i < o->nblocks; i++)
        block_release(o->blocks[i]);
    free(o->blocks);
    block_release(o->head);
    free(o->fields);
    free(o->key);
    free(o->variant_key);
    free(o->vary);
    free(o);
}

static void notify(struct larder_object *o)
{
    struct larder_object_waiter *list = o->waiters, *w, *tmp;

    if (list == NULL)
        return;
    o->waiters = NULL;
    larder_object_retain(o); /* a waiter may drop the last reference */
    DL_FOREACH_SAFE(list, w, tmp) {
        DL_DELETE(list, w);
        w->waiting = 0;
        w->fn(w->arg);
    }
    larder_object_release(o);
}

int larder_object_set_head(struct larder_object *o, const char *head, size_t len,
                           const struct larder_http_field *fields, unsigned nfields,
                           int status)
{
    struct block *b = block_new(len);
    struct larder_http_field *copy = larder_xcalloc(nfields ? nfields : 1, sizeof(*copy));
    int64_t delta;

    memcpy(b->data, head, len);
    b->len = len;
    for (unsigned i = 0; i < nfields; i++) {
        copy[i] = fields[i];
        copy[i].name = b->data + (fields[i].name - head);
        copy[i].value = b->data + (fields[i].value - head);
        copy[i].flags = 0;
    }
    delta = (int64_t)(alloc_cost(b) + alloc_cost(copy)) -
            (int64_t)(alloc_cost(o->head) + alloc_cost(o->fields));
    block_release(o->head);
    free(o->fields);
    o->head = b;
    o->fields = copy;
    o->nfields = nfields;
    o->status = status;
    cost_change(o, delta);
    if (o->cache != NULL && delta > 0)
        evict(o->cache, o);
    return 0;
}

static size_t next_block_size(const struct larder_object *o, size_t want)
{
    if (o->expected > o->body_size && o->expected - o->body_size <= BLOCK_EXACT_MAX)
        return (size_t)(o->expected - o->body_size);
    if (o->expected > o->body_size)
        return BLOCK_EXACT_MAX;
    {
        size_t n = (size_t)(o->body_size / 2);
        if (n < BLOCK_MIN)
            n = BLOCK_MIN;
        if (n > BLOCK_MAX)
            n = BLOCK_MAX;
        return n < want ? (want < BLOCK_MAX ? want : BLOCK_MAX) : n;
    }
}

int larder_object_append(struct larder_object *o, struct evbuffer *data)
{
    size_t left = evbuffer_get_length(data);

    if (left == 0)
        return 0;
    while (left > 0) {
        struct block *b = o->nblocks > 0 ? o->blocks[o->nblocks - 1] : NULL;
        size_t room, n;

        if (b == NULL || b->len == b->cap) {
            size_t before_blocks = alloc_cost(o->blocks);
            b = block_new(next_block_size(o, left));
            if (o->nblocks == o->blocks_cap) {
                o->blocks_cap = o->blocks_cap ? o->blocks_cap * 2 : 4;
                o->blocks = larder_xrealloc(o->blocks, o->blocks_cap * sizeof(*o->blocks));
            }
            o->blocks[o->nblocks++] = b;
            cost_change(o, (int64_t)(alloc_cost(b) + alloc_cost(o->blocks) - before_blocks));
        }
        room = b->cap - b->len;
        n = left < room ? left : room;
        evbuffer_remove(data, b->data + b->len, n);
        b->len += n;
        o->body_size += n;
        left -= n;
    }
    if (o->cache != NULL) {
        struct larder_cache *c = o->cache;
        evict(c, o);
        if (c->bytes > c->stats.budget) {
            unlink_object(c, o);
            notify(o);
            return -1;
        }
    }
    notify(o);
    return 0;
}

void larder_object_complete(struct larder_object *o)
{
    if (o->state != LARDER_OBJ_FILLING)
        return;
    o->state = LARDER_OBJ_COMPLETE;
    notify(o);
}

void larder_object_abort(struct larder_object *o)
{
    if (o->state == LARDER_OBJ_ABORTED)
        return;
    o->state = LARDER_OBJ_ABORTED;
    if (o->cache != NULL)
        unlink_object(o->cache, o);
    notify(o);
}

enum larder_object_state larder_object_state(const struct larder_object *o)
{
    return o->state;
}

const char *larder_object_key(const struct larder_object *o)
{
    return o->key;
}

const char *larder_object_variant_key(const struct larder_object *o)
{
    return o->variant_key;
}

const char *larder_object_vary(const struct larder_object *o)
{
    return o->vary;
}

uint64_t larder_object_body_size(const struct larder_object *o)
{
    return o->body_size;
}

uint64_t larder_object_expected(const struct larder_object *o)
{
    return o->expected;
}

uint64_t larder_object_cost(const struct larder_object *o)
{
    return o->cost;
}

uint64_t larder_object_hits(const struct larder_object *o)
{
    return o->hits;
}

void larder_object_count_hit(struct larder_object *o)
{
    o->hits++;
}

int larder_object_linked(const struct larder_object *o)
{
    return o->cache != NULL;
}

void larder_object_head(const struct larder_object *o, struct larder_http_head *out)
{
    memset(out, 0, sizeof(*out));
    out->fields = o->fields;
    out->nfields = o->nfields;
    out->fields_cap = o->nfields;
    out->status = o->status;
    out->version = 11;
}

int larder_object_status(const struct larder_object *o)
{
    return o->status;
}

struct larder_freshness *larder_object_freshness(struct larder_object *o)
{
    return &o->fresh;
}

size_t larder_object_send_head(struct larder_object *o, struct evbuffer *out)
{
    if (o->head == NULL || send_ref(out, o->head, 0, o->head->len) != 0)
        return 0;
    return o->head->len;
}

size_t larder_object_send_body(struct larder_object *o, struct larder_object_cursor *cur,
                               size_t max, struct evbuffer *out)
{
    size_t sent = 0;

    while (sent < max && cur->block < o->nblocks) {
        struct block *b = o->blocks[cur->block];
        size_t n = b->len - cur->off;

        if (n > max - sent)
            n = max - sent;
        if (n > 0) {
            if (send_ref(out, b, cur->off, n) != 0)
                break;
            cur->off += n;
            cur->pos += n;
            sent += n;
        }
        if (cur->off < b->cap)
            break; /* this block may still grow */
        cur->block++;
        cur->off = 0;
    }
    return sent;
}

void larder_object_wait(struct larder_object *o, struct larder_object_waiter *w)
{
    if (w->waiting)
        return;
    w->waiting = 1;
    DL_APPEND(o->waiters, w);
}

void larder_object_unwait(struct larder_object *o, struct larder_object_waiter *w)
{
    if (!w->waiting)
        return;
    w->waiting = 0;
    DL_DELETE(o->waiters, w);
}
