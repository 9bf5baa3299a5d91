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
#define EMBED_MAX (64 * 1024)       /* bodies up to this live inside the object */

/* An immutable (append-only) run of bytes, shared by the object and every
 * evbuffer that references it. A block embedded in its object's own
 * allocation has no count of its own: references to it hold the object. */
struct block {
    uint32_t refs;            /* standalone blocks: references held */
    uint32_t len;             /* bytes written; never shrinks */
    uint32_t cap;
    uint32_t owner_off;       /* embedded: bytes back to the object; else 0 */
    char data[];
};

/* struct larder_freshness, packed: an object carries it for life, and on a
 * 1 KiB object every byte of metadata counts (docs/performance.md). */
/* Only what later decisions read is kept: a 304 recomputes the rest from
 * the merged head (larder_freshness_refresh). */
struct packed_freshness {
    int64_t response_time;
    int64_t date;
    int64_t last_modified;
    uint32_t lifetime;        /* these are <= LARDER_DELTA_MAX (2^31) */
    uint32_t corrected_initial_age;
    uint32_t swr;             /* UINT32_MAX: none */
    uint32_t sie;             /* UINT32_MAX: none */
    uint16_t status;
    uint16_t flags;
};

/* Variants are rare: what they need lives apart. */
struct variant {
    char *vary;               /* normalized Vary field names */
    char key[];               /* the variant key */
};

/* One allocation: this struct, the key, then (for small objects) room for
 * the head and the body as embedded blocks. The first variant stored under
 * a key is in the uthash index; the others hang off it through vnext. */
struct larder_object {
    UT_hash_handle hh;
    unsigned refs;
    uint8_t state;                  /* enum larder_object_state */
    uint8_t embed_body;             /* room for the body follows the head's */
    uint8_t mark;                   /* not a response: "uncacheable until" */
    uint8_t http10;                 /* the origin answered with HTTP/1.0 */
    uint16_t key_len;
    uint32_t hits;
    uint32_t nblocks;               /* body blocks: b0, then more[] */
    uint32_t more_cap;
    uint32_t head_room;             /* bytes set aside for the head, or 0 */
    uint32_t cost;                  /* bytes all of this takes */
    struct larder_cache *cache;     /* set while linked */
    struct variant *variant;        /* NULL: the response had no Vary */
    struct block *head;             /* status line and fields */
    struct block *b0;
    struct block **more;
    uint32_t body_size;             /* objects stay under 4 GiB (config.c) */
    uint32_t expected;
    struct packed_freshness fresh;
    struct larder_object_waiter *waiters;
    struct larder_object *vnext;    /* variants of one key, primary first */
    struct larder_object *lprev, *lnext; /* LRU, most recent first */
    char key[];
};

struct larder_cache {
    struct larder_object *index;    /* primaries, by key */
    struct larder_object *lru;
    uint64_t bytes;                 /* objects (the index table is added on read) */
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
    b->cap = (uint32_t)cap;
    b->owner_off = 0;
    return b;
}

static struct larder_object *block_owner(struct block *b)
{
    return (struct larder_object *)((char *)b - b->owner_off);
}

static struct block *block_retain(struct block *b)
{
    if (b->owner_off != 0)
        larder_object_retain(block_owner(b));
    else
        b->refs++;
    return b;
}

static void block_release(struct block *b)
{
    if (b == NULL)
        return;
    if (b->owner_off != 0)
        larder_object_release(block_owner(b));
    else if (--b->refs == 0)
        free(b);
}

/* The object's own hold on a block (nothing for embedded ones). */
static void block_drop(struct block *b)
{
    if (b != NULL && b->owner_off == 0)
        block_release(b);
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
    o->cost = (uint32_t)((int64_t)o->cost + delta);
    if (o->cache != NULL)
        o->cache->bytes = (uint64_t)((int64_t)o->cache->bytes + delta);
}

/* What the index's bucket table costs (uthash grows it with the count). */
static uint64_t index_cost(const struct larder_cache *c)
{
    if (c->index == NULL)
        return 0;
    return sizeof(UT_hash_table) + c->index->hh.tbl->num_buckets * sizeof(UT_hash_bucket) +
           2 * MALLOC_OVERHEAD;
}

static uint64_t total_bytes(const struct larder_cache *c)
{
    return c->bytes + index_cost(c);
}

static struct larder_object *primary(const struct larder_cache *c, const char *key)
{
    struct larder_object *p;

    HASH_FIND_STR(c->index, key, p);
    return p;
}

static void unlink_object(struct larder_cache *c, struct larder_object *o)
{
    struct larder_object *head = primary(c, o->key);

    assert(o->cache == c && head != NULL);
    if (head == o) {
        HASH_DEL(c->index, o);
        if (o->vnext != NULL)
            HASH_ADD_KEYPTR(hh, c->index, o->vnext->key, o->vnext->key_len, o->vnext);
    } else {
        struct larder_object *prev = head;
        while (prev->vnext != o)
            prev = prev->vnext;
        prev->vnext = o->vnext;
    }
    o->vnext = NULL;
    DL_DELETE2(c->lru, o, lprev, lnext);
    c->bytes -= o->cost;
    if (!o->mark)
        c->stats.objects--;
    o->cache = NULL;
    larder_object_release(o);
}

/* Evicts least recently used objects other than <keep> until the budget
 * holds. */
static void evict(struct larder_cache *c, const struct larder_object *keep)
{
    struct larder_object *o = c->lru != NULL ? c->lru->lprev : NULL; /* the oldest */

    while (total_bytes(c) > c->stats.budget && o != NULL) {
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
    struct larder_object *o;

    for (o = primary(c, key); o != NULL; o = o->vnext) {
        if (o->state == LARDER_OBJ_ABORTED)
            continue;
        if (match == NULL || match(o, arg)) {
            if (c->lru != o) {
                DL_DELETE2(c->lru, o, lprev, lnext);
                DL_PREPEND2(c->lru, o, lprev, lnext);
            }
            return larder_object_retain(o);
        }
    }
    return NULL;
}

int larder_cache_has_key(const struct larder_cache *c, const char *key)
{
    return primary(c, key) != NULL;
}

static int same_variant(const struct larder_object *a, const struct larder_object *b)
{
    if (a->variant == NULL || b->variant == NULL)
        return a->variant == b->variant;
    return strcmp(a->variant->key, b->variant->key) == 0;
}

int larder_cache_insert(struct larder_cache *c, struct larder_object *o)
{
    struct larder_object *v, *next, *head;

    assert(o->cache == NULL);
    if (o->cost > c->stats.budget)
        return -1;
    /* the same variant is replaced; a response without Vary replaces them
     * all, and one with Vary replaces the plain one */
    for (v = primary(c, o->key); v != NULL; v = next) {
        next = v->vnext;
        if (same_variant(v, o) || o->variant == NULL || v->variant == NULL)
            unlink_object(c, v);
    }
    /* the newest variant is found first: it becomes the primary */
    head = primary(c, o->key);
    if (head != NULL)
        HASH_DEL(c->index, head);
    o->vnext = head;
    HASH_ADD_KEYPTR(hh, c->index, o->key, o->key_len, o);
    o->cache = c;
    DL_PREPEND2(c->lru, o, lprev, lnext);
    larder_object_retain(o);
    c->bytes += o->cost;
    if (!o->mark) {
        c->stats.objects++;
        c->stats.inserts++;
    }
    evict(c, o);
    return 0;
}

void larder_cache_mark_uncacheable(struct larder_cache *c, const char *key, int64_t until)
{
    struct larder_object *o = larder_object_new(key, NULL, NULL, 0, 0);

    o->mark = 1;
    o->state = LARDER_OBJ_COMPLETE;
    o->fresh.date = until; /* a mark has no response: its date is its end */
    larder_cache_insert(c, o);
    larder_object_release(o);
}

void larder_cache_remove(struct larder_cache *c, struct larder_object *o)
{
    if (o->cache == c)
        unlink_object(c, o);
}

unsigned larder_cache_invalidate(struct larder_cache *c, const char *key)
{
    struct larder_object *o;
    unsigned n = 0;

    while ((o = primary(c, key)) != NULL) {
        unlink_object(c, o);
        c->stats.invalidations++;
        n++;
    }
    return n;
}

const struct larder_cache_stats *larder_cache_get_stats(const struct larder_cache *c)
{
    struct larder_cache_stats *st = (struct larder_cache_stats *)&c->stats;

    st->bytes = total_bytes(c);
    return st;
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

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static size_t at_head(const struct larder_object *o)
{
    return align8(sizeof(struct larder_object) + o->key_len + 1);
}

static size_t at_body(const struct larder_object *o)
{
    return align8(at_head(o) + sizeof(struct block) + o->head_room);
}

static struct block *embed_block(struct larder_object *o, size_t at, size_t cap)
{
    struct block *b = (struct block *)((char *)o + at);

    b->refs = 0;
    b->len = 0;
    b->cap = (uint32_t)cap;
    b->owner_off = (uint32_t)at;
    return b;
}

struct larder_object *larder_object_new(const char *key, const char *variant_key,
                                        const char *vary, size_t head_len, uint64_t expected)
{
    size_t klen = strlen(key);
    struct larder_object probe;
    size_t size;
    struct larder_object *o;

    /* the key length is capped by the callers (4 KiB); keep the math honest */
    if (klen > UINT16_MAX)
        klen = UINT16_MAX;
    memset(&probe, 0, sizeof(probe));
    probe.key_len = (uint16_t)klen;
    probe.head_room = head_len <= UINT16_MAX ? (uint32_t)head_len : 0;
    probe.embed_body = expected > 0 && expected <= EMBED_MAX;
    size = probe.embed_body ? at_body(&probe) + sizeof(struct block) + (size_t)expected
                            : at_head(&probe) + sizeof(struct block) + probe.head_room;
    o = larder_xmalloc(size);
    *o = probe;
    memcpy(o->key, key, klen);
    o->key[klen] = '\0';
    o->refs = 1;
    o->state = LARDER_OBJ_FILLING;
    o->expected = expected <= UINT32_MAX ? (uint32_t)expected : 0;
    if (variant_key != NULL) {
        size_t vk = strlen(variant_key);
        o->variant = larder_xmalloc(sizeof(*o->variant) + vk + 1);
        memcpy(o->variant->key, variant_key, vk + 1);
        o->variant->vary = larder_xstrdup(vary != NULL ? vary : "");
    }
    o->cost = (uint32_t)(alloc_cost(o) + (o->variant != NULL ? alloc_cost(o->variant) +
                                          alloc_cost(o->variant->vary) : 0));
    return o;
}

struct larder_object *larder_object_retain(struct larder_object *o)
{
    o->refs++;
    return o;
}

static struct block *body_block(const struct larder_object *o, size_t i)
{
    return i == 0 ? o->b0 : o->more[i - 1];
}

void larder_object_release(struct larder_object *o)
{
    if (o == NULL || --o->refs > 0)
        return;
    assert(o->cache == NULL);
    assert(o->waiters == NULL);
    for (size_t i = 0; i < o->nblocks; i++)
        block_drop(body_block(o, i));
    free(o->more);
    block_drop(o->head);
    if (o->variant != NULL) {
        free(o->variant->vary);
        free(o->variant);
    }
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

void larder_object_set_head(struct larder_object *o, const char *head, size_t len,
                            int status)
{
    struct block *b;
    int64_t delta = 0;

    if (o->head == NULL && o->head_room > 0 && o->head_room >= len) {
        b = embed_block(o, at_head(o), o->head_room); /* the room made at birth */
    } else {
        b = block_new(len);
        delta += (int64_t)alloc_cost(b);
    }
    memcpy(b->data, head, len);
    b->len = (uint32_t)len;
    if (o->head != NULL && o->head->owner_off == 0)
        delta -= (int64_t)alloc_cost(o->head);
    block_drop(o->head);
    o->head = b;
    o->fresh.status = (uint16_t)status;
    cost_change(o, delta);
    if (o->cache != NULL && delta > 0)
        evict(o->cache, o);
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

static struct block *add_block(struct larder_object *o, size_t want)
{
    struct block *b;
    int64_t delta = 0;

    if (o->nblocks == 0 && o->embed_body) {
        b = embed_block(o, at_body(o), (size_t)o->expected);
    } else {
        b = block_new(next_block_size(o, want));
        delta += (int64_t)alloc_cost(b);
    }
    if (o->nblocks == 0) {
        o->b0 = b;
    } else {
        if (o->nblocks - 1 == o->more_cap) {
            size_t before = alloc_cost(o->more);
            o->more_cap = o->more_cap ? o->more_cap * 2 : 4;
            o->more = larder_xrealloc(o->more, o->more_cap * sizeof(*o->more));
            delta += (int64_t)alloc_cost(o->more) - (int64_t)before;
        }
        o->more[o->nblocks - 1] = b;
    }
    o->nblocks++;
    cost_change(o, delta);
    return b;
}

int larder_object_append(struct larder_object *o, struct evbuffer *data)
{
    size_t left = evbuffer_get_length(data);

    if (left == 0)
        return 0;
    while (left > 0) {
        struct block *b = o->nblocks > 0 ? body_block(o, o->nblocks - 1) : NULL;
        size_t room, n;

        if (b == NULL || b->len == b->cap)
            b = add_block(o, left);
        room = b->cap - b->len;
        n = left < room ? left : room;
        evbuffer_remove(data, b->data + b->len, n);
        b->len += (uint32_t)n;
        o->body_size += n;
        left -= n;
    }
    if (o->cache != NULL) {
        struct larder_cache *c = o->cache;
        evict(c, o);
        if (total_bytes(c) > c->stats.budget) {
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
    return (enum larder_object_state)o->state;
}

int larder_object_is_mark(const struct larder_object *o, int64_t *until_out)
{
    if (o->mark && until_out != NULL)
        *until_out = o->fresh.date;
    return o->mark;
}

const char *larder_object_key(const struct larder_object *o)
{
    return o->key;
}

const char *larder_object_variant_key(const struct larder_object *o)
{
    return o->variant != NULL ? o->variant->key : NULL;
}

const char *larder_object_vary(const struct larder_object *o)
{
    return o->variant != NULL ? o->variant->vary : NULL;
}

int larder_object_variant_matches(const struct larder_object *o,
                                  const struct larder_http_head *req)
{
    const char *vary = larder_object_vary(o), *stored = larder_object_variant_key(o);
    char key[LARDER_VARIANT_KEY_MAX];
    size_t len;

    if (vary == NULL)
        return 1;
    if (stored == NULL ||
        larder_freshness_vary_key(vary, strlen(vary), req, key, sizeof(key), &len) != 0 ||
        len >= sizeof(key))
        return 0;
    return strcmp(key, stored) == 0;
}

int larder_object_authorization_allows(const struct larder_object *o,
                                       const struct larder_http_head *req)
{
    struct larder_freshness fr;

    if (larder_http_find(req, "authorization", 0) < 0)
        return 1;
    larder_object_get_freshness(o, &fr);
    return (fr.flags & (LARDER_FRESH_F_PUBLIC | LARDER_FRESH_F_MUST_REVALIDATE |
                        LARDER_FRESH_F_PROXY_REVALIDATE)) != 0;
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

unsigned larder_object_head(const struct larder_object *o, struct larder_http_head *out,
                            struct larder_http_field *fields, unsigned cap)
{
    const char *p, *end;
    unsigned n = 0;

    memset(out, 0, sizeof(*out));
    out->fields = fields;
    out->fields_cap = cap;
    out->status = o->fresh.status;
    out->version = 11;
    if (o->head == NULL)
        return 0;
    p = o->head->data;
    end = p + o->head->len;
    /* skip the status line; then "Name: value\r\n" lines that larder wrote */
    p = memchr(p, '\n', (size_t)(end - p));
    p = p != NULL ? p + 1 : end;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *v, *ve;

        if (eol == NULL)
            eol = end;
        if (colon != NULL && colon < eol) {
            if (n < cap) {
                v = colon + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                    v++;
                ve = eol > v && eol[-1] == '\r' ? eol - 1 : eol;
                fields[n].name = p;
                fields[n].name_len = (size_t)(colon - p);
                fields[n].value = v;
                fields[n].value_len = (size_t)(ve - v);
                fields[n].flags = 0;
            }
            n++;
        }
        p = eol + 1;
    }
    out->nfields = n < cap ? n : cap;
    return n;
}

int larder_object_status(const struct larder_object *o)
{
    return o->fresh.status;
}

static uint32_t pack_delta(int64_t v)
{
    return v < 0 ? UINT32_MAX : (uint32_t)(v < LARDER_DELTA_MAX ? v : LARDER_DELTA_MAX);
}

static int64_t unpack_delta(uint32_t v)
{
    return v == UINT32_MAX ? -1 : (int64_t)v;
}

void larder_object_get_freshness(const struct larder_object *o, struct larder_freshness *f)
{
    const struct packed_freshness *p = &o->fresh;

    f->response_time = p->response_time;
    f->request_time = p->response_time;
    f->date = p->date;
    f->age_value = 0;
    f->expires = -1;
    f->last_modified = p->last_modified;
    f->lifetime = (int64_t)p->lifetime;
    f->corrected_initial_age = (int64_t)p->corrected_initial_age;
    f->stale_while_revalidate = unpack_delta(p->swr);
    f->stale_if_error = unpack_delta(p->sie);
    f->status = p->status;
    f->flags = p->flags;
}

void larder_object_set_freshness(struct larder_object *o, const struct larder_freshness *f)
{
    struct packed_freshness *p = &o->fresh;

    p->response_time = f->response_time;
    p->date = f->date;
    p->last_modified = f->last_modified;
    p->lifetime = pack_delta(f->lifetime);
    p->corrected_initial_age = pack_delta(f->corrected_initial_age);
    p->swr = pack_delta(f->stale_while_revalidate);
    p->sie = pack_delta(f->stale_if_error);
    p->status = (uint16_t)f->status;
    p->flags = (uint16_t)f->flags;
}

void larder_object_set_received_version(struct larder_object *o, int version)
{
    o->http10 = version < 11;
}

int larder_object_received_version(const struct larder_object *o)
{
    return o->http10 ? 10 : 11;
}

const char *larder_object_head_bytes(const struct larder_object *o, size_t *len_out)
{
    *len_out = o->head != NULL ? o->head->len : 0;
    return o->head != NULL ? o->head->data : "";
}

size_t larder_object_send_head(struct larder_object *o, struct evbuffer *out)
{
    if (o->head == NULL || send_ref(out, o->head, 0, o->head->len) != 0)
        return 0;
    return o->head->len;
}

size_t larder_object_send_fields(struct larder_object *o, struct evbuffer *out)
{
    const char *eol = o->head != NULL ? memchr(o->head->data, '\n', o->head->len) : NULL;
    size_t off = eol != NULL ? (size_t)(eol - (const char *)o->head->data) + 1 : 0;

    if (eol == NULL || off == o->head->len)
        return 0;
    if (send_ref(out, o->head, off, o->head->len - off) != 0)
        return 0;
    return o->head->len - off;
}

void larder_object_seek(const struct larder_object *o, struct larder_object_cursor *cur,
                        uint64_t pos)
{
    memset(cur, 0, sizeof(*cur));
    while (cur->block < o->nblocks && pos > 0) {
        const struct block *b = body_block(o, cur->block);
        if (pos < b->len) {
            cur->off = (size_t)pos;
            cur->pos += pos;
            return;
        }
        pos -= b->len;
        cur->pos += b->len;
        cur->block++;
    }
}

size_t larder_object_send_body(struct larder_object *o, struct larder_object_cursor *cur,
                               size_t max, struct evbuffer *out)
{
    size_t sent = 0;

    while (sent < max && cur->block < o->nblocks) {
        struct block *b = body_block(o, cur->block);
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
