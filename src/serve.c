/* SPDX-License-Identifier: MIT */
/* serve.c - answering GET and HEAD through the cache: lookup and the RFC 9111
 * decision, waiting on a shared fetch, and streaming stored objects by
 * reference (a small fresh header block, then the stored head and body
 * blocks), with 304s for the client's own conditionals. */
#include <event2/buffer.h>
#include "larder/conn.h"
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "larder/config.h"
#include "larder/failure.h"
#include "larder/fetch.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/range.h"
#include "larder/util.h"
#include "session.h"

/* Queued references to stored blocks cost no memory of their own (a chain
 * each): a whole object of this size goes out in one write. */
#define SERVE_HIWAT (2 * 1024 * 1024)

/* Fields a 304 carries over from the stored 200 (RFC 9110 15.4.5). */
static const char *const not_modified_fields[] = {
    "cache-control", "content-location", "date", "etag", "expires", "vary",
    "last-modified", "via", NULL
};

/* ---- choosing the stored variant ---------------------------------------------- */

static int match_variant(const struct larder_object *o, void *arg)
{
    const struct larder_client *cl = arg;

    return larder_object_variant_matches(o, &cl->req->head);
}

/* ---- sending an object --------------------------------------------------------- */

/* Writes the lines every answer from the cache adds to the stored head,
 * "Via: 1.x <name>\r\nAge: <age>\r\n", into buf (cap >= 330); returns
 * their length. */
static size_t hit_lines(const struct larder_client *cl, const struct larder_object *o,
                        int64_t age, char *buf)
{
    size_t n = strlen(cl->px->via_name);

    if (n > 280)
        n = 280;
    memcpy(buf, larder_object_received_version(o) >= 11 ? "Via: 1.1 " : "Via: 1.0 ", 9);
    memcpy(buf + 9, cl->px->via_name, n);
    n += 9;
    memcpy(buf + n, "\r\nAge: ", 7);
    n += 7;
    n += larder_fmt_u64(buf + n, (uint64_t)age);
    memcpy(buf + n, "\r\n", 2);
    return n + 2;
}

static void send_not_modified(struct larder_client *cl, struct larder_object *o, int64_t age)
{
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before = evbuffer_get_length(out);
    struct larder_http_head sh;

    larder_object_head(o, &sh, cl->px->scratch, cl->px->scratch_cap);
    evbuffer_add(out, "HTTP/1.1 304 Not Modified\r\n", 27);
    for (unsigned i = 0; i < sh.nfields; i++)
        for (const char *const *n = not_modified_fields; *n != NULL; n++)
            if (larder_http_field_is(&sh.fields[i], *n))
                evbuffer_add_printf(out, "%.*s: %.*s\r\n", (int)sh.fields[i].name_len,
                                    sh.fields[i].name, (int)sh.fields[i].value_len,
                                    sh.fields[i].value);
    if (cl->fw.own_fields != NULL) /* the Set-Cookie of the response that answered us */
        evbuffer_add(out, cl->fw.own_fields, strlen(cl->fw.own_fields));
    {
        char pre[400];
        larder_client_end_head(cl, out, pre, hit_lines(cl, o, age, pre));
    }
    cl->bytes_out += evbuffer_get_length(out) - before;
    cl->status = 304;
    cl->resp_started = 1;
    larder_client_finish_response(cl);
}

static int has_conditionals(const struct larder_http_head *req)
{
    for (unsigned i = 0; i < req->nfields; i++) {
        const struct larder_http_field *f = &req->fields[i];
        if (f->name_len > 3 && strncasecmp(f->name, "if-", 3) == 0)
            return 1;
    }
    return 0;
}

/* Starts the response from object <o> (the client's reference is moved in). */
static void serve_object(struct larder_client *cl, struct larder_object *o);

/* The response head is queued (the output held <before> bytes before it):
 * count it, and start sending the object's body. */
static void start_body(struct larder_client *cl, size_t before)
{
    cl->bytes_out += evbuffer_get_length(larder_conn_output(cl->conn)) - before;
    cl->resp_started = 1;
    larder_client_set_state(cl, CLIENT_SERVE);
    larder_serve_pump(cl);
}

/* A GET with Range answered from a COMPLETE stored 200 (RFC 9110 14): 206
 * with one range of the stored body, by reference, or 416. Returns 0 when
 * the Range does not apply (If-Range fails, several ranges, not bytes...):
 * the whole response answers it then. */
static int serve_range(struct larder_client *cl, struct larder_object *o, int64_t age)
{
    const struct larder_http_field *rf = larder_http_get(&cl->req->head, "range");
    const struct larder_http_field *ir = larder_http_get(&cl->req->head, "if-range");
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before = evbuffer_get_length(out), n;
    uint64_t size = larder_object_body_size(o), first = 0, last = 0;
    char pre[480];

    if (rf == NULL ||
        larder_http_find(&cl->req->head, "range", (unsigned)(rf - cl->req->head.fields) + 1) >= 0)
        return 0; /* none, or several lines: the whole response */
    if (ir != NULL) {
        struct larder_http_head sh;
        larder_object_head(o, &sh, cl->px->scratch, cl->px->scratch_cap);
        if (!larder_range_if_range_holds(ir->value, ir->value_len, &sh, larder_wall_s()))
            return 0;
    }
    switch (larder_range_parse(rf->value, rf->value_len, size, &first, &last)) {
    case LARDER_RANGE_UNSATISFIABLE: {
        char fields[64];
        snprintf(fields, sizeof(fields), "Content-Range: bytes */%llu\r\n",
                 (unsigned long long)size);
        larder_object_release(o);
        larder_client_respond(cl, 416, fields, "text/plain; charset=utf-8",
                              "range not satisfiable\n", 22);
        larder_client_finish_response(cl);
        return 1;
    }
    case LARDER_RANGE_ONE:
        break;
    default:
        return 0;
    }
    cl->obj = o;
    larder_object_seek(o, &cl->cursor, first);
    cl->body_end = last + 1;
    cl->status = 206;
    evbuffer_add(out, "HTTP/1.1 206 Partial Content\r\n", 30);
    larder_object_send_fields(o, out);
    n = hit_lines(cl, o, age, pre);
    n += (size_t)snprintf(pre + n, sizeof(pre) - n,
                          "Content-Range: bytes %llu-%llu/%llu\r\nContent-Length: %llu\r\n",
                          (unsigned long long)first, (unsigned long long)last,
                          (unsigned long long)size, (unsigned long long)(last - first + 1));
    cl->framing = OUT_LENGTH;
    larder_client_end_head(cl, out, pre, n);
    start_body(cl, before);
    return 1;
}

static void serve_object(struct larder_client *cl, struct larder_object *o)
{
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before = evbuffer_get_length(out);
    struct larder_freshness frs, *fr = &frs;
    int64_t now = larder_wall_s();
    int64_t age;

    int status = larder_object_status(o);
    enum larder_object_state st = larder_object_state(o);
    struct larder_http_head sh;

    larder_object_get_freshness(o, fr);
    age = larder_freshness_age(fr, now);
    cl->cs.has_ttl = 1;
    cl->cs.ttl = larder_freshness_ttl(fr, now);
    larder_object_count_hit(o);
    /* the stored head is parsed only when the client sent conditionals */
    if (status >= 200 && status < 300 && has_conditionals(&cl->req->head)) {
        larder_object_head(o, &sh, cl->px->scratch, cl->px->scratch_cap);
        switch (larder_freshness_conditional(&cl->req->head, &sh, fr)) {
        case LARDER_COND_NOT_MODIFIED:
            send_not_modified(cl, o, age);
            larder_object_release(o);
            return;
        case LARDER_COND_PRECONDITION_FAILED:
            larder_object_release(o);
            larder_client_respond(cl, 412, NULL, "text/plain; charset=utf-8",
                                  "precondition failed\n", 20);
            larder_client_finish_response(cl);
            return;
        default:
            break;
        }
    }
    cl->body_end = 0;
    if (cl->range_req && status == 200 && st == LARDER_OBJ_COMPLETE && serve_range(cl, o, age))
        return;
    cl->obj = o;
    memset(&cl->cursor, 0, sizeof(cl->cursor));
    cl->status = status;
    larder_object_send_head(o, out);
    if (cl->fw.own_fields != NULL) {
        evbuffer_add(out, cl->fw.own_fields, strlen(cl->fw.own_fields));
        free(cl->fw.own_fields);
        cl->fw.own_fields = NULL;
    }
    {
        char pre[400];
        size_t n = hit_lines(cl, o, age, pre);

        if (status == 204 || status == 304) {
            cl->framing = OUT_NONE;
        } else if (st == LARDER_OBJ_COMPLETE || larder_object_expected(o) > 0) {
            uint64_t len = st == LARDER_OBJ_COMPLETE ? larder_object_body_size(o)
                                                     : larder_object_expected(o);
            memcpy(pre + n, "Content-Length: ", 16);
            n += 16;
            n += larder_fmt_u64(pre + n, len);
            memcpy(pre + n, "\r\n", 2);
            n += 2;
            cl->framing = OUT_LENGTH;
        } else if (!larder_client_is_10(cl)) {
            if (!larder_client_is_head(cl)) {
                memcpy(pre + n, "Transfer-Encoding: chunked\r\n", 28);
                n += 28;
            }
            cl->framing = OUT_CHUNKED;
        } else {
            cl->framing = OUT_CLOSE;
            cl->keepalive = 0;
        }
        if (larder_client_is_head(cl))
            cl->framing = OUT_NONE;
        larder_client_end_head(cl, out, pre, n);
    }
    start_body(cl, before);
}

static void on_object_wake(void *arg)
{
    larder_client_wake(arg);
}

void larder_serve_pump(struct larder_client *cl)
{
    struct larder_object *o = cl->obj;
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before = evbuffer_get_length(out);

    if (o == NULL || cl->state != CLIENT_SERVE)
        return;
    if (cl->framing != OUT_NONE) {
        while (evbuffer_get_length(out) < SERVE_HIWAT) {
            size_t room = SERVE_HIWAT - evbuffer_get_length(out), n;
            if (cl->body_end != 0 && cl->body_end - cl->cursor.pos < room)
                room = (size_t)(cl->body_end - cl->cursor.pos); /* a range ends here */
            if (room == 0)
                break;
            if (cl->framing == OUT_CHUNKED) {
                n = larder_object_send_body(o, &cl->cursor, room, cl->scratch);
                if (n > 0)
                    larder_body_write_chunk(out, cl->scratch);
            } else {
                n = larder_object_send_body(o, &cl->cursor, room, out);
            }
            if (n == 0)
                break;
        }
    }
    cl->bytes_out += evbuffer_get_length(out) - before;
    if (evbuffer_get_length(out) >= SERVE_HIWAT)
        return; /* on_write brings us back */
    if (cl->framing != OUT_NONE &&
        cl->cursor.pos < (cl->body_end != 0 ? cl->body_end : larder_object_body_size(o)))
        return;
    switch (larder_object_state(o)) {
    case LARDER_OBJ_COMPLETE:
        if (cl->framing == OUT_CHUNKED) {
            larder_body_write_last_chunk(out);
            cl->bytes_out += 5;
        }
        larder_serve_release(cl);
        larder_client_finish_response(cl);
        break;
    case LARDER_OBJ_ABORTED:
        larder_serve_release(cl);
        larder_client_cut_short(cl, "the stored response was cut short", LARDER_ERR_TRUNCATED);
        break;
    default:
        if (cl->framing == OUT_NONE && larder_client_is_head(cl)) {
            /* a HEAD needs only the head */
            larder_serve_release(cl);
            larder_client_finish_response(cl);
            break;
        }
        cl->ow.fn = on_object_wake;
        cl->ow.arg = cl;
        larder_object_wait(o, &cl->ow);
        break;
    }
}

/* ---- the shared fetch's verdicts --------------------------------------------------- */

static void on_fill_object(void *arg, struct larder_object *o, enum larder_outcome how,
                           int fwd_status)
{
    struct larder_client *cl = arg;

    cl->verdict = VERDICT_OBJECT;
    cl->verdict_obj = o;
    cl->outcome = how;
    cl->upstream_status = fwd_status;
    cl->cs.fwd_status = fwd_status;
    if (how == LARDER_OUTCOME_MISS || how == LARDER_OUTCOME_REFRESHED)
        cl->cs.stored = larder_object_linked(o);
    if (how == LARDER_OUTCOME_STALE)
        cl->cs.kind = LARDER_CS_STALE_ON_ERROR;
    larder_client_wake(cl);
}

static void on_fill_pass(void *arg, const char *why)
{
    struct larder_client *cl = arg;

    larder_log(LARDER_LOG_DEBUG, "client %s: going upstream alone (%s)", cl->addr, why);
    cl->verdict = VERDICT_PASS;
    larder_client_wake(cl);
}

static void on_fill_error(void *arg, const struct larder_failure *fail)
{
    struct larder_client *cl = arg;

    cl->verdict = VERDICT_ERROR;
    cl->verdict_status = fail->status;
    cl->verdict_reason = fail->reason;
    cl->error_kind = fail->kind;
    larder_client_wake(cl);
}

static void on_fill_takeover(void *arg, struct larder_fetch *f, struct larder_http_msg *resp)
{
    struct larder_client *cl = arg;

    evtimer_del(cl->timer);
    cl->outcome = cl->cs.kind == LARDER_CS_STALE || cl->cs.kind == LARDER_CS_REQUEST
                      ? LARDER_OUTCOME_REFRESHED : LARDER_OUTCOME_MISS;
    larder_forward_takeover(cl, f, resp);
}

static void on_fill_overflow(void *arg, struct larder_fetch *f, struct evbuffer *data)
{
    struct larder_client *cl = arg;
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before;

    if (cl->state == CLIENT_WAIT_FILL && cl->verdict == VERDICT_OBJECT) {
        /* the head and too much body came in one read: the client has not
         * started on the object yet; its response head goes first */
        struct larder_object *o = cl->verdict_obj;
        cl->verdict = VERDICT_NONE;
        cl->verdict_obj = NULL;
        evtimer_del(cl->timer);
        serve_object(cl, o);
    }
    if (cl->state != CLIENT_SERVE || cl->obj == NULL) {
        /* answered without the body (304, 412): nobody wants the rest */
        evbuffer_drain(data, evbuffer_get_length(data));
        larder_fetch_abort(f);
        return;
    }
    before = evbuffer_get_length(out);
    /* everything the object holds first (references, no copies), then the
     * rest straight from the origin */
    if (cl->obj != NULL && cl->framing != OUT_NONE) {
        size_t n;
        while ((n = larder_object_send_body(cl->obj, &cl->cursor, SIZE_MAX,
                                            cl->framing == OUT_CHUNKED ? cl->scratch : out)) > 0)
            if (cl->framing == OUT_CHUNKED)
                larder_body_write_chunk(out, cl->scratch);
    }
    cl->bytes_out += evbuffer_get_length(out) - before;
    if (cl->obj != NULL) {
        larder_object_unwait(cl->obj, &cl->ow);
        larder_object_release(cl->obj);
        cl->obj = NULL;
    }
    cl->fetch = f;
    larder_fetch_set_sink(f, &larder_forward_ops, cl);
    larder_client_set_state(cl, CLIENT_FORWARD);
    larder_forward_ops.on_body(cl, data);
}

static const struct larder_fill_ops fill_ops = {
    .on_interim = larder_forward_interim,
    .on_object = on_fill_object,
    .on_takeover = on_fill_takeover,
    .on_pass = on_fill_pass,
    .on_error = on_fill_error,
    .on_overflow = on_fill_overflow,
};

/* ---- deciding ---------------------------------------------------------------------- */

/* Fetches for the cache: joins the fetch in flight for the key, or starts
 * one (a conditional one when <stale> is given). */
static void fetch_for_cache(struct larder_client *cl, struct larder_object *stale)
{
    struct larder_proxy *px = cl->px;
    int shared = larder_http_get(&cl->req->head, "authorization") == NULL;
    struct larder_fill *f = shared ? larder_fill_find(px, cl->key) : NULL;

    free(cl->fw.own_fields);
    memset(&cl->fw, 0, sizeof(cl->fw));
    cl->fw.ops = &fill_ops;
    cl->fw.arg = cl;
    cl->fw.req = &cl->req->head;
    cl->verdict = VERDICT_NONE;
    larder_client_set_state(cl, CLIENT_WAIT_FILL);
    if (f != NULL) {
        struct timeval tv = { (time_t)(px->cfg->coalesce_timeout / 1000),
                              (suseconds_t)(px->cfg->coalesce_timeout % 1000) * 1000 };
        cl->cs.collapsed = 1;
        larder_fill_join(f, &cl->fw);
        evtimer_add(cl->timer, &tv);
        return;
    }
    {
        struct evbuffer *head = evbuffer_new();
        struct larder_fetch_spec spec;

        larder_forward_build_head(cl, head, 1, stale);
        memset(&spec, 0, sizeof(spec));
        spec.host = cl->host;
        spec.port = cl->url.port;
        spec.method = "GET";
        spec.head = head;
        larder_fill_start(px, cl->key, &spec, cl->req, stale, shared, &cl->fw);
        evbuffer_free(head);
    }
}

/* Starts a background revalidation unless one is in flight. */
static void revalidate_in_background(struct larder_client *cl, struct larder_object *stale)
{
    struct evbuffer *head;
    struct larder_fetch_spec spec;

    if (larder_fill_find(cl->px, cl->key) != NULL)
        return;
    head = evbuffer_new();
    larder_forward_build_head(cl, head, 1, stale);
    memset(&spec, 0, sizeof(spec));
    spec.host = cl->host;
    spec.port = cl->url.port;
    spec.method = "GET";
    spec.head = head;
    larder_fill_start(cl->px, cl->key, &spec, cl->req, stale, 1, NULL);
    evbuffer_free(head);
}

/* only-if-cached (RFC 9111 5.2.1.7): a stored response or a 504, never
 * a request to the origin */
static void unavailable(struct larder_client *cl, const char *reason)
{
    cl->cs.kind = LARDER_CS_UNAVAILABLE;
    larder_client_send_error(cl, 504, reason, LARDER_ERR_UNAVAILABLE);
}

/* Neither answered from the cache nor stored: forwarded as asked, or with
 * only-if-cached a 504 giving <reason>. */
static void bypass(struct larder_client *cl, const char *reason)
{
    if (cl->req_cc.flags & LARDER_CC_F_ONLY_IF_CACHED) {
        unavailable(cl, reason);
        return;
    }
    cl->cs.kind = LARDER_CS_BYPASS;
    cl->outcome = LARDER_OUTCOME_PASS;
    larder_forward_start(cl);
}

static void pass_through(struct larder_client *cl)
{
    larder_serve_release(cl);
    cl->outcome = LARDER_OUTCOME_MISS;
    larder_forward_start(cl);
}

void larder_serve_request(struct larder_client *cl)
{
    struct larder_proxy *px = cl->px;
    const struct larder_http_head *h = &cl->req->head;
    struct larder_object *o = NULL;
    struct larder_freshness fresh;
    int64_t until = 0;
    char key[4096];
    size_t n;
    int64_t now = larder_wall_s();

    larder_freshness_cc_request(h, &cl->req_cc);
    /* what is not forwarded cannot select a variant (see vary_key) */
    larder_http_mark_hop_by_hop(&cl->req->head);
    n = larder_url_key(&cl->url, key, sizeof(key));
    cl->range_req = larder_http_get(h, "range") != NULL;
    /* bodies on GET are not the cache's business, nor HEAD with Range */
    if (px->cache == NULL || n >= sizeof(key) || !cl->body_done ||
        (cl->range_req && larder_client_is_head(cl))) {
        bypass(cl, "only-if-cached: this request is not answered from the cache");
        return;
    }
    cl->key = larder_xstrdup(key);
    o = larder_cache_lookup(px->cache, key, match_variant, cl);
    if (o != NULL && larder_object_is_mark(o, &until)) {
        int fresh_mark = until > now;
        if (!fresh_mark)
            larder_cache_remove(px->cache, o);
        larder_object_release(o);
        o = NULL;
        if (fresh_mark && !(cl->req_cc.flags & LARDER_CC_F_ONLY_IF_CACHED)) {
            /* known not to be storable: no fill, no waiting on others */
            cl->cs.kind = LARDER_CS_URI_MISS;
            cl->outcome = LARDER_OUTCOME_MISS;
            larder_forward_start(cl);
            return;
        }
    }
    if (o != NULL && !larder_object_authorization_allows(o, &cl->req->head)) {
        larder_object_release(o);
        o = NULL;
    }
    if (cl->range_req) {
        /* a range comes from a fresh, whole stored 200; anything else goes
         * to the origin as asked, and nothing is stored from its answer */
        if (o != NULL && larder_object_state(o) == LARDER_OBJ_COMPLETE &&
            larder_object_status(o) == 200) {
            larder_object_get_freshness(o, &fresh);
            if (larder_freshness_decide(&fresh, &cl->req_cc, now) == LARDER_SERVE_FRESH) {
                cl->cs.kind = LARDER_CS_HIT;
                cl->outcome = LARDER_OUTCOME_HIT;
                serve_object(cl, o);
                return;
            }
        }
        larder_object_release(o);
        bypass(cl, "only-if-cached: nothing suitable is stored");
        return;
    }
    if (o == NULL) {
        cl->cs.kind = larder_cache_has_key(px->cache, key) ? LARDER_CS_VARY_MISS : LARDER_CS_URI_MISS;
        if (cl->req_cc.flags & LARDER_CC_F_ONLY_IF_CACHED) {
            unavailable(cl, "only-if-cached: nothing suitable is stored");
            return;
        }
        if (larder_client_is_head(cl)) {
            pass_through(cl); /* HEAD does not fill the cache */
            return;
        }
        fetch_for_cache(cl, NULL);
        return;
    }
    if (larder_object_state(o) == LARDER_OBJ_FILLING &&
        !(cl->req_cc.flags & LARDER_CC_F_NO_CACHE)) {
        /* read while it is written: the response is arriving right now, as
         * current as a new fetch would be (collapsed forwarding) */
        cl->cs.kind = LARDER_CS_HIT;
        cl->cs.collapsed = 1;
        cl->outcome = LARDER_OUTCOME_HIT;
        larder_stats_coalesced(px->stats);
        serve_object(cl, o);
        return;
    }
    larder_object_get_freshness(o, &fresh);
    switch (larder_freshness_decide(&fresh, &cl->req_cc, now)) {
    case LARDER_SERVE_FRESH:
        cl->cs.kind = LARDER_CS_HIT;
        cl->outcome = LARDER_OUTCOME_HIT;
        serve_object(cl, o);
        return;
    case LARDER_SERVE_STALE:
        cl->cs.kind = LARDER_CS_HIT_STALE;
        cl->outcome = LARDER_OUTCOME_STALE;
        serve_object(cl, o);
        return;
    case LARDER_SERVE_STALE_REVALIDATE:
        cl->cs.kind = LARDER_CS_HIT_STALE;
        cl->outcome = LARDER_OUTCOME_STALE;
        revalidate_in_background(cl, o);
        serve_object(cl, o);
        return;
    case LARDER_SERVE_GATEWAY_TIMEOUT:
        larder_object_release(o);
        unavailable(cl, "only-if-cached: the stored response would need revalidation");
        return;
    case LARDER_SERVE_REVALIDATE_REQUEST:
        cl->cs.kind = LARDER_CS_REQUEST;
        break;
    default:
        cl->cs.kind = LARDER_CS_STALE;
        break;
    }
    if (larder_client_is_head(cl)) {
        larder_object_release(o);
        pass_through(cl);
        return;
    }
    fetch_for_cache(cl, o);
    larder_object_release(o);
}

void larder_serve_on_wake(struct larder_client *cl)
{
    enum fill_verdict v = cl->verdict;

    if (cl->state == CLIENT_SERVE) {
        larder_serve_pump(cl);
        return;
    }
    if (cl->state != CLIENT_WAIT_FILL || v == VERDICT_NONE)
        return;
    cl->verdict = VERDICT_NONE;
    evtimer_del(cl->timer);
    switch (v) {
    case VERDICT_OBJECT: {
        struct larder_object *o = cl->verdict_obj;
        cl->verdict_obj = NULL;
        if (larder_object_state(o) == LARDER_OBJ_ABORTED) {
            larder_fill_leave(&cl->fw);
            larder_object_release(o);
            larder_client_send_error(cl, 502, "the origin's response was cut short",
                                     LARDER_ERR_TRUNCATED);
            return;
        }
        serve_object(cl, o);
        return;
    }
    case VERDICT_PASS:
        pass_through(cl);
        return;
    case VERDICT_ERROR:
        larder_client_send_error(cl, cl->verdict_status, cl->verdict_reason, cl->error_kind);
        return;
    default:
        return;
    }
}

void larder_serve_wait_expired(struct larder_client *cl)
{
    if (cl->verdict != VERDICT_NONE)
        return; /* a verdict is on its way */
    larder_log(LARDER_LOG_INFO, "client %s: waited coalesce_timeout; going upstream alone",
               cl->addr);
    larder_fill_leave(&cl->fw);
    cl->cs.collapsed = 0;
    pass_through(cl);
}

void larder_serve_release(struct larder_client *cl)
{
    larder_fill_leave(&cl->fw);
    free(cl->fw.own_fields);
    cl->fw.own_fields = NULL;
    if (cl->obj != NULL) {
        larder_object_unwait(cl->obj, &cl->ow);
        larder_object_release(cl->obj);
        cl->obj = NULL;
    }
    if (cl->verdict_obj != NULL) {
        larder_object_release(cl->verdict_obj);
        cl->verdict_obj = NULL;
    }
    cl->verdict = VERDICT_NONE;
}
