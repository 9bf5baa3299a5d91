/* SPDX-License-Identifier: MIT */
/* fill.c - shared upstream fetches for cacheable GETs: coalescing, the
 * store-or-pass decision, filling objects that clients read as they grow,
 * and revalidation of stale objects (304 merge). */
#include "larder/fill.h"

#include <event2/buffer.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "larder/cache.h"
#include "larder/config.h"
#include "larder/failure.h"
#include "larder/fetch.h"
#include "larder/freshness.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/util.h"

#define VARY_MAX 512        /* longest Vary list stored */

struct larder_fill {
    struct larder_proxy *px;
    char *key;
    UT_hash_handle hh;
    int in_index;                 /* in px->fills: may be joined */
    struct larder_fill *prev, *next; /* px->fill_list */
    struct larder_http_msg *req;  /* the first request, for storing decisions */
    struct larder_cc req_cc;
    struct larder_fetch *fetch;   /* NULL once handed over or gone */
    struct larder_object *stale;  /* being revalidated */
    struct larder_object *obj;    /* being filled */
    struct larder_fill_waiter *waiters; /* waiting for the decision */
    struct larder_fill_waiter *owner;   /* the first client, while attached */
    int decided;                  /* the response head has been dealt with */
    int discard;                  /* ignore the body (stale served instead) */
    int64_t request_time;
};

static void unindex(struct larder_fill *f)
{
    if (f->in_index) {
        HASH_DEL(f->px->fills, f);
        f->in_index = 0;
    }
}

static void fill_free(struct larder_fill *f)
{
    struct larder_fill_waiter *w, *tmp;

    unindex(f);
    DL_DELETE(f->px->fill_list, f);
    DL_FOREACH_SAFE(f->waiters, w, tmp) {
        DL_DELETE(f->waiters, w);
        w->fill = NULL;
    }
    if (f->owner != NULL)
        f->owner->fill = NULL;
    if (f->fetch != NULL) {
        larder_stats_origin_bytes(f->px->stats, larder_fetch_bytes_in(f->fetch));
        larder_fetch_abort(f->fetch);
    }
    larder_object_release(f->stale);
    larder_object_release(f->obj);
    larder_http_msg_free(f->req);
    free(f->key);
    free(f);
}

/* Removes <w> from the waiting list before telling it what to do. */
static struct larder_fill_waiter *take_waiter(struct larder_fill *f)
{
    struct larder_fill_waiter *w = f->waiters;

    if (w == NULL)
        return NULL;
    DL_DELETE(f->waiters, w);
    w->decided = 1;
    if (w->owner && w->fill == f)
        f->owner = w;             /* still attached: it may read our object */
    else
        w->fill = NULL;
    return w;
}

static void tell_error(struct larder_fill *f, const struct larder_failure *fail)
{
    struct larder_fill_waiter *w;

    while ((w = take_waiter(f)) != NULL) {
        w->fill = NULL;
        if (f->owner == w)
            f->owner = NULL;
        w->ops->on_error(w->arg, fail);
    }
}

static char *own_fields(const struct larder_http_head *h);

/* Hands <o> to every waiter. The first client gets it whatever it is (the
 * response answered its own request) and, from <own> when given, that
 * response's Set-Cookie, which <o> never holds. A client that joined gets
 * <o> only when <o> may be shared (<unshared> is NULL, else why not) and
 * answers its request (variant, Authorization); else it goes upstream on
 * its own. */
static void tell_object(struct larder_fill *f, struct larder_object *o,
                        enum larder_outcome how, int fwd_status,
                        const struct larder_http_head *own, const char *unshared)
{
    struct larder_fill_waiter *w;

    while ((w = take_waiter(f)) != NULL) {
        if (!w->owner) {
            const char *why = unshared;
            if (why == NULL && w->req != NULL && !larder_object_variant_matches(o, w->req))
                why = "another variant";
            if (why == NULL && w->req != NULL && !larder_object_authorization_allows(o, w->req))
                why = "authorization";
            if (why != NULL) {
                w->fill = NULL;
                w->ops->on_pass(w->arg, why);
                continue;
            }
        }
        if (f->owner != w)
            w->fill = NULL;
        if (w->owner && own != NULL)
            w->own_fields = own_fields(own);
        w->ops->on_object(w->arg, larder_object_retain(o), how, fwd_status);
    }
}

/* ---- building stored heads ----------------------------------------------------- */

struct head_builder {
    char *buf;
    size_t len, cap;
    struct larder_http_field *fields;
    unsigned n, cap_fields;
};

static void hb_put(struct head_builder *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->buf = larder_xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* Field offsets are kept as indexes until the buffer stops moving. */
static void hb_field(struct head_builder *b, const char *name, size_t nlen,
                     const char *value, size_t vlen)
{
    struct larder_http_field *f;

    if (b->n == b->cap_fields) {
        b->cap_fields = b->cap_fields ? b->cap_fields * 2 : 16;
        b->fields = larder_xrealloc(b->fields, b->cap_fields * sizeof(*b->fields));
    }
    f = &b->fields[b->n++];
    f->name = (const char *)(uintptr_t)b->len;
    f->name_len = nlen;
    hb_put(b, name, nlen);
    hb_put(b, ": ", 2);
    f->value = (const char *)(uintptr_t)b->len;
    f->value_len = vlen;
    f->flags = 0;
    hb_put(b, value, vlen);
    hb_put(b, "\r\n", 2);
}

static void hb_fix(struct head_builder *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        b->fields[i].name = b->buf + (uintptr_t)b->fields[i].name;
        b->fields[i].value = b->buf + (uintptr_t)b->fields[i].value;
    }
}

static void hb_free(struct head_builder *b)
{
    free(b->buf);
    free(b->fields);
}

/* Whether a field of a response is kept in the stored copy. */
static int stored_field(const struct larder_http_field *f)
{
    return !(f->flags & LARDER_FIELD_F_DROP) && !larder_http_field_is(f, "age") &&
           !larder_http_field_is(f, "set-cookie") && !larder_http_field_is(f, "set-cookie2");
}

/* The Set-Cookie lines of <h>, serialized, or NULL: the stored copy drops
 * them, but the client whose request this was must still get them. */
static char *own_fields(const struct larder_http_head *h)
{
    struct head_builder b = { 0 };
    char *out;

    for (unsigned i = 0; i < h->nfields; i++)
        if (larder_http_field_is(&h->fields[i], "set-cookie") ||
            larder_http_field_is(&h->fields[i], "set-cookie2"))
            hb_field(&b, h->fields[i].name, h->fields[i].name_len, h->fields[i].value,
                     h->fields[i].value_len);
    if (b.len == 0)
        return NULL;
    hb_put(&b, "", 1);
    out = b.buf;
    free(b.fields);
    return out;
}

static void hb_status(struct head_builder *b, int status, const char *reason, size_t rlen)
{
    char line[64];
    int n;

    if (rlen == 0) {
        reason = larder_http_reason(status);
        rlen = strlen(reason);
    }
    n = snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    hb_put(b, line, (size_t)n);
    hb_put(b, reason, rlen);
    hb_put(b, "\r\n", 2);
}

/* The stored head for response <h>: its status line and its end-to-end
 * fields but Age and Set-Cookie, and a Date if it had none. Our Via is
 * added when it is sent. */
static void build_stored_head(struct larder_http_head *h, struct head_builder *b)
{
    larder_http_mark_hop_by_hop(h);
    hb_status(b, h->status, h->reason, h->reason_len);
    for (unsigned i = 0; i < h->nfields; i++)
        if (stored_field(&h->fields[i]))
            hb_field(b, h->fields[i].name, h->fields[i].name_len, h->fields[i].value,
                     h->fields[i].value_len);
    if (larder_http_find(h, "date", 0) < 0) {
        /* RFC 9110 6.6.1: stored without Date, it is dated when received */
        char date[32];
        larder_freshness_date_format(larder_wall_s(), date);
        hb_field(b, "Date", 4, date, strlen(date));
    }
    hb_fix(b);
}

/* The stored head of <o> updated from 304 <r>: each field the 304 may
 * replace takes the place of the stored fields of that name. */
static void build_merged_head(struct larder_proxy *px, struct larder_object *o,
                              struct larder_http_head *r, int64_t now, struct head_builder *b)
{
    struct larder_http_head stored;
    size_t raw_len, status_len;
    const char *raw = larder_object_head_bytes(o, &raw_len);
    const char *eol = memchr(raw, '\n', raw_len);
    int has_date = larder_http_find(r, "date", 0) >= 0;
    unsigned char small[64], *replaces = r->nfields <= sizeof(small) ? small
                                           : larder_xmalloc(r->nfields);

    /* which of the 304's fields replace stored ones: asked once each; what
     * a stored copy never keeps (Set-Cookie, Age) stays out of it */
    for (unsigned k = 0; k < r->nfields; k++)
        replaces[k] = (unsigned char)(larder_freshness_304_replaces(r, &r->fields[k]) &&
                                      stored_field(&r->fields[k]));
    /* the status line runs up to the first field (or is all of the head) */
    status_len = eol != NULL ? (size_t)(eol - raw) + 1 : raw_len;
    hb_put(b, raw, status_len);
    larder_object_head(o, &stored, px->scratch, px->scratch_cap);
    for (unsigned i = 0; i < stored.nfields; i++) {
        const struct larder_http_field *f = &stored.fields[i];
        int replaced = 0;
        for (unsigned k = 0; k < r->nfields && !replaced; k++)
            if (replaces[k] && r->fields[k].name_len == f->name_len &&
                strncasecmp(r->fields[k].name, f->name, f->name_len) == 0)
                replaced = 1;
        if (has_date == 0 && larder_http_field_is(f, "date"))
            replaced = 1; /* a 304 without Date: the stored Date is now wrong */
        if (!replaced)
            hb_field(b, f->name, f->name_len, f->value, f->value_len);
    }
    for (unsigned k = 0; k < r->nfields; k++)
        if (replaces[k] && !larder_http_field_is(&r->fields[k], "via"))
            hb_field(b, r->fields[k].name, r->fields[k].name_len, r->fields[k].value,
                     r->fields[k].value_len);
    if (replaces != small)
        free(replaces);
    if (!has_date) {
        char date[32];
        larder_freshness_date_format(now, date);
        hb_field(b, "Date", 4, date, strlen(date));
    }
    hb_fix(b);
}

/* ---- the fetch's sink ------------------------------------------------------------- */

static void on_fill_head(void *arg, struct larder_http_msg *resp);
static void on_fill_body(void *arg, struct evbuffer *data);
static void on_fill_end(void *arg, const struct larder_failure *fail);

/* 1xx go to the first client only: the request was its own. */
static void on_fill_interim(void *arg, struct larder_http_head *h)
{
    struct larder_fill *f = arg;
    struct larder_fill_waiter *w;

    DL_FOREACH(f->waiters, w)
        if (w->owner && w->ops->on_interim != NULL)
            w->ops->on_interim(w->arg, h);
}

static const struct larder_fetch_ops fill_fetch_ops = {
    .on_interim = on_fill_interim,
    .on_head = on_fill_head,
    .on_body = on_fill_body,
    .on_end = on_fill_end,
    .on_drain = NULL,
};

static int serve_stale_on_error(struct larder_fill *f)
{
    struct larder_freshness fr;

    if (f->stale == NULL)
        return 0;
    larder_object_get_freshness(f->stale, &fr);
    return larder_freshness_stale_on_error(&fr, &f->req_cc, larder_wall_s(),
                                           f->px->cfg->serve_stale_on_error);
}

/* Updates stored <o> from <r>, a 304 or a 200 to a HEAD (RFC 9111 3.2,
 * 4.3.4, 4.3.5): its fields, then its freshness from the new times. The
 * update may take back what made the response shareable (private,
 * no-store): then it is unlinked, and the reason returned; else NULL. */
static const char *refresh_stored(struct larder_proxy *px, struct larder_object *o,
                                  struct larder_http_head *r, int64_t request_time)
{
    struct head_builder b = { 0 };
    struct larder_http_head merged;
    struct larder_cc merged_cc;
    struct larder_freshness fr;
    int64_t now = larder_wall_s();
    const char *why;

    larder_http_mark_hop_by_hop(r);
    build_merged_head(px, o, r, now, &b);
    larder_object_set_head(o, b.buf, b.len, larder_object_status(o));
    hb_free(&b);
    larder_object_head(o, &merged, px->scratch, px->scratch_cap);
    larder_freshness_cc_response(&merged, &merged_cc);
    larder_object_get_freshness(o, &fr);
    larder_freshness_refresh(&fr, &merged, &merged_cc, r, request_time, now,
                             (int64_t)px->cfg->max_heuristic_freshness);
    larder_object_set_freshness(o, &fr);
    /* what the response now says of itself (who asked does not matter:
     * the stored copy was fine for them before) */
    {
        /* the variant was chosen by the Vary it was stored with: a new one
         * (or "*") means the stored key no longer says who it is for */
        char vary[VARY_MAX];
        size_t vlen;
        const char *was = larder_object_vary(o);
        int vr = larder_freshness_vary_list(&merged, vary, sizeof(vary), &vlen);

        why = (merged_cc.flags & LARDER_CC_F_PRIVATE) ? "private"
              : ((merged_cc.flags & LARDER_CC_F_NO_STORE) &&
                 !(merged_cc.flags & LARDER_CC_F_MUST_UNDERSTAND)) ? "no-store"
              : (vr != 0 || vlen >= sizeof(vary) ||
                 strcmp(vlen > 0 ? vary : "", was != NULL ? was : "") != 0) ? "Vary changed"
              : NULL;
    }
    if (why != NULL)
        larder_cache_remove(px->cache, o);
    return why;
}

static void revalidated(struct larder_fill *f, struct larder_http_msg *resp)
{
    /* a 304 that ends sharing answers the first client's request only */
    const char *why = refresh_stored(f->px, f->stale, &resp->head, f->request_time);

    larder_log(LARDER_LOG_DEBUG, "fill %s: revalidated (304)%s%s", f->key,
               why != NULL ? "; no longer stored: " : "", why != NULL ? why : "");
    tell_object(f, f->stale, LARDER_OUTCOME_REVALIDATED, 304, &resp->head, why);
}

/* Sends every waiter upstream alone and ends the fill. */
static void pass_all(struct larder_fill *f, const char *why)
{
    struct larder_fill_waiter *w;

    while ((w = take_waiter(f)) != NULL) {
        w->fill = NULL;
        if (f->owner == w)
            f->owner = NULL;
        w->ops->on_pass(w->arg, why);
    }
    fill_free(f);
}

/* The response may not be stored: the first client takes the fetch, the
 * others go on their own. */
static void pass_on(struct larder_fill *f, struct larder_http_msg *resp, const char *why)
{
    struct larder_fill_waiter *w, *owner = NULL;

    larder_log(LARDER_LOG_DEBUG, "fill %s: not stored (%s)", f->key, why);
    DL_FOREACH(f->waiters, w)
        if (w->owner)
            owner = w;
    if (owner != NULL) {
        struct larder_fetch *fetch = f->fetch;
        DL_DELETE(f->waiters, owner);
        owner->decided = 1;
        owner->fill = NULL;
        f->owner = NULL;
        f->fetch = NULL;
        owner->ops->on_takeover(owner->arg, fetch, resp);
    } else {
        larder_http_msg_free(resp);
    }
    pass_all(f, why); /* aborts the fetch if nobody took it */
}

static void on_fill_head(void *arg, struct larder_http_msg *resp)
{
    struct larder_fill *f = arg;
    struct larder_proxy *px = f->px;
    struct larder_http_head *h = &resp->head;
    struct larder_cc resp_cc;
    const char *why;
    char vary[VARY_MAX], *variant = NULL;
    size_t vary_len = 0, variant_len = 0;
    struct head_builder b = { 0 };
    struct larder_object *o;

    f->decided = 1;
    unindex(f);
    if (f->stale != NULL && h->status == 304) {
        struct larder_http_head stored;
        larder_object_head(f->stale, &stored, px->scratch, px->scratch_cap);
        if (larder_freshness_304_matches(&stored, h)) {
            revalidated(f, resp);
            larder_http_msg_free(resp);
            f->discard = 1;
            return;
        }
        /* the origin validated something else: everyone refetches alone */
        larder_http_msg_free(resp);
        pass_all(f, "304 for another response");
        return;
    }
    if (f->stale != NULL && larder_freshness_is_error_status(h->status) &&
        serve_stale_on_error(f)) {
        tell_object(f, f->stale, LARDER_OUTCOME_STALE, h->status, NULL, NULL);
        larder_http_msg_free(resp);
        f->discard = 1;
        return;
    }
    larder_freshness_cc_response(h, &resp_cc);
    why = larder_freshness_storable(&f->req->head, &f->req_cc, h, &resp_cc);
    if (why == NULL && h->body == LARDER_BODY_LENGTH && h->content_length > px->cfg->max_object_size)
        why = "larger than max_object_size";
    if (why == NULL && (larder_freshness_vary_list(h, vary, sizeof(vary), &vary_len) != 0 ||
                        vary_len >= sizeof(vary)))
        why = "unusable Vary";
    if (why == NULL && vary_len > 0) {
        variant = larder_xmalloc(LARDER_VARIANT_KEY_MAX);
        if (larder_freshness_vary_key(vary, vary_len, &f->req->head, variant, LARDER_VARIANT_KEY_MAX,
                                      &variant_len) != 0 || variant_len >= LARDER_VARIANT_KEY_MAX)
            why = "unusable Vary";
    }
    if (why != NULL) {
        free(variant);
        /* a new answer supersedes what was stored, unless it is an error */
        if (f->stale != NULL && h->status < 500)
            larder_cache_remove(px->cache, f->stale);
        /* what the URL answers (not who asked, nor a passing failure) keeps
         * it out of the cache: say so, so the next requests pass straight */
        if (strcmp(why, "authorization") != 0 && !(f->req_cc.flags & LARDER_CC_F_NO_STORE) &&
            h->status < 500 && px->cfg->uncacheable_ttl > 0)
            larder_cache_mark_uncacheable(px->cache, f->key,
                                          larder_wall_s() + (int64_t)px->cfg->uncacheable_ttl);
        pass_on(f, resp, why);
        return;
    }
    build_stored_head(h, &b);
    o = larder_object_new(f->key, variant, vary_len > 0 ? vary : NULL, b.len,
                          h->body == LARDER_BODY_LENGTH ? h->content_length : 0);
    larder_object_set_received_version(o, h->version);
    free(variant);
    {
        struct larder_freshness fr;
        larder_freshness_init(&fr, h, &resp_cc, f->request_time, larder_wall_s(),
                              (int64_t)px->cfg->max_heuristic_freshness);
        larder_object_set_freshness(o, &fr);
    }
    larder_object_set_head(o, b.buf, b.len, h->status);
    hb_free(&b);
    if (f->stale != NULL)
        larder_cache_remove(px->cache, f->stale);
    if (larder_cache_insert(px->cache, o) != 0)
        larder_log(LARDER_LOG_INFO, "fill %s: larger than the whole cache; not stored", f->key);
    f->obj = o;
    larder_log(LARDER_LOG_DEBUG, "fill %s: storing %d", f->key, h->status);
    tell_object(f, o, f->stale != NULL ? LARDER_OUTCOME_REFRESHED : LARDER_OUTCOME_MISS,
                h->status, h, NULL);
    larder_http_msg_free(resp); /* a body-less response completes in on_fill_end */
}

static void on_fill_body(void *arg, struct evbuffer *data)
{
    struct larder_fill *f = arg;
    struct larder_object *o = f->obj;
    size_t n = evbuffer_get_length(data);

    if (f->discard || o == NULL) {
        evbuffer_drain(data, n);
        return;
    }
    if (larder_object_body_size(o) + n > f->px->cfg->max_object_size) {
        struct larder_fill_waiter *owner = f->owner;
        struct larder_fetch *fetch = f->fetch;

        larder_log(LARDER_LOG_INFO, "fill %s: grew past max_object_size; not stored", f->key);
        if (owner != NULL) {
            /* the first client keeps its response; the object goes */
            owner->fill = NULL;
            f->owner = NULL;
            f->fetch = NULL;
            owner->ops->on_overflow(owner->arg, fetch, data);
        } else {
            evbuffer_drain(data, n);
        }
        larder_object_abort(o);
        fill_free(f);
        return;
    }
    larder_object_append(o, data);
}

static void on_fill_end(void *arg, const struct larder_failure *fail)
{
    struct larder_fill *f = arg;

    larder_stats_origin_bytes(f->px->stats, larder_fetch_bytes_in(f->fetch));
    f->fetch = NULL; /* it frees itself after this */
    if (fail == NULL) {
        if (f->obj != NULL)
            larder_object_complete(f->obj);
    } else if (!f->decided) {
        if (serve_stale_on_error(f))
            tell_object(f, f->stale, LARDER_OUTCOME_STALE, 0, NULL, NULL);
        else
            tell_error(f, fail);
    } else if (f->obj != NULL) {
        larder_log(LARDER_LOG_INFO, "fill %s: %s; dropped", f->key, fail->reason);
        larder_object_abort(f->obj);
    }
    fill_free(f);
}

/* ---- HEAD ------------------------------------------------------------------------ */

static int head_match(const struct larder_object *o, void *arg)
{
    return larder_object_variant_matches(o, arg);
}

/* Whether the Content-Length of HEAD answer <r>, if any, is <size>. */
static int same_length(const struct larder_http_head *r, uint64_t size)
{
    int i = larder_http_find(r, "content-length", 0);
    uint64_t v = 0;

    if (i < 0)
        return 1;
    for (size_t k = 0; k < r->fields[i].value_len; k++) {
        char c = r->fields[i].value[k];
        if (c < '0' || c > '9' || v > UINT64_MAX / 10)
            return 0;
        v = v * 10 + (uint64_t)(c - '0');
    }
    return r->fields[i].value_len > 0 && v == size;
}

/* Whether HEAD answer <r> carries every validator <stored> has: without
 * them it cannot say the stored response is current. */
static int has_stored_validators(const struct larder_http_head *stored,
                                 const struct larder_http_head *r)
{
    return (larder_http_find(stored, "etag", 0) < 0 || larder_http_find(r, "etag", 0) >= 0) &&
           (larder_http_find(stored, "last-modified", 0) < 0 ||
            larder_http_find(r, "last-modified", 0) >= 0);
}

void larder_fill_head_update(struct larder_proxy *px, const char *key,
                             const struct larder_http_head *req, struct larder_http_head *resp,
                             int64_t request_time)
{
    struct larder_object *o;
    struct larder_http_head stored;
    int agrees;

    if (px->cache == NULL || resp->status != 200)
        return;
    o = larder_cache_lookup(px->cache, key, head_match, (void *)req);
    if (o == NULL)
        return;
    if (larder_object_is_mark(o, NULL) || larder_object_state(o) != LARDER_OBJ_COMPLETE ||
        larder_object_status(o) != 200) {
        larder_object_release(o);
        return;
    }
    larder_object_head(o, &stored, px->scratch, px->scratch_cap);
    /* the validators the HEAD answer carries (compared as for a 304), and
     * its Content-Length, must describe what is stored; with no validator
     * on either side, only a Content-Length can */
    agrees = has_stored_validators(&stored, resp) && larder_freshness_304_matches(&stored, resp) &&
             same_length(resp, larder_object_body_size(o)) &&
             (larder_http_find(resp, "etag", 0) >= 0 ||
              larder_http_find(resp, "last-modified", 0) >= 0 ||
              larder_http_find(resp, "content-length", 0) >= 0);
    if (!agrees) {
        larder_log(LARDER_LOG_DEBUG, "HEAD %s: the stored response is outdated; dropped", key);
        larder_cache_remove(px->cache, o);
    } else {
        refresh_stored(px, o, resp, request_time);
        larder_log(LARDER_LOG_DEBUG, "HEAD %s: the stored response is updated", key);
    }
    larder_object_release(o);
}

/* ---- API ------------------------------------------------------------------------ */

struct larder_fill *larder_fill_find(struct larder_proxy *px, const char *key)
{
    struct larder_fill *f;

    HASH_FIND_STR(px->fills, key, f);
    return f;
}

void larder_fill_join(struct larder_fill *f, struct larder_fill_waiter *w)
{
    w->fill = f;
    w->owner = 0;
    w->decided = 0;
    DL_APPEND(f->waiters, w);
    larder_stats_coalesced(f->px->stats);
}

struct larder_fill *larder_fill_start(struct larder_proxy *px, const char *key,
                                      const struct larder_fetch_spec *spec,
                                      const struct larder_http_msg *req,
                                      struct larder_object *stale, int shared,
                                      struct larder_fill_waiter *owner)
{
    struct larder_fill *f = larder_xcalloc(1, sizeof(*f));

    f->px = px;
    f->key = larder_xstrdup(key);
    f->req = larder_http_msg_dup(req);
    larder_freshness_cc_request(&f->req->head, &f->req_cc);
    f->stale = stale != NULL ? larder_object_retain(stale) : NULL;
    f->request_time = larder_wall_s();
    DL_APPEND(px->fill_list, f);
    if (shared && larder_fill_find(px, key) == NULL) {
        HASH_ADD_KEYPTR(hh, px->fills, f->key, strlen(f->key), f);
        f->in_index = 1;
    }
    if (owner != NULL) {
        owner->fill = f;
        owner->owner = 1;
        owner->decided = 0;
        DL_APPEND(f->waiters, owner);
    }
    f->fetch = larder_fetch_start(px, spec, &fill_fetch_ops, f);
    return f;
}

void larder_fill_leave(struct larder_fill_waiter *w)
{
    struct larder_fill *f = w->fill;

    if (f == NULL)
        return;
    w->fill = NULL;
    if (f->owner == w)
        f->owner = NULL;
    if (!w->decided)
        DL_DELETE(f->waiters, w);
    w->decided = 1;
}

void larder_fill_shutdown(struct larder_proxy *px)
{
    while (px->fill_list != NULL) {
        struct larder_fill *f = px->fill_list;
        if (f->obj != NULL)
            larder_object_abort(f->obj);
        fill_free(f);
    }
}
