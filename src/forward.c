/* SPDX-License-Identifier: MIT */
/* forward.c - passing a request through to its origin: the request head
 * larder sends (origin-form, Host from the URI, hop-by-hop fields removed,
 * Via, larder's own framing), the request body with back-pressure, and the
 * response streamed back re-framed; invalidation after unsafe methods. */
#include <event2/buffer.h>
#include "larder/conn.h"
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "larder/config.h"
#include "larder/failure.h"
#include "larder/fill.h"
#include "larder/fetch.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/util.h"
#include "session.h"

#define BODY_HIWAT (256 * 1024) /* request body queued toward the origin */

static const char allow_methods[] =
    "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT";

/* ---- invalidation (RFC 9111 4.4) ------------------------------------------------ */

static void invalidate_key(struct larder_client *cl, const struct larder_url *u)
{
    char key[4096];
    size_t n = larder_url_key(u, key, sizeof(key));

    if (n < sizeof(key) && larder_cache_invalidate(cl->px->cache, key) > 0)
        larder_log(LARDER_LOG_DEBUG, "client %s: invalidated %s", cl->addr, key);
}

/* Invalidates a Location or Content-Location value when it names the same
 * authority as the request (absolute, or a path on the same host). */
static void invalidate_ref(struct larder_client *cl, const char *ref, size_t len)
{
    struct larder_url u;

    if (ref == NULL || len == 0)
        return;
    if (ref[0] == '/' && (len < 2 || ref[1] != '/')) {
        u = cl->url;
        u.path = ref;
        u.path_len = len;
        invalidate_key(cl, &u);
        return;
    }
    if (larder_url_parse_absolute(ref, len, &u) != NULL || !larder_url_scheme_is(&u, "http"))
        return;
    if (u.port != cl->url.port || u.host_len != cl->url.host_len ||
        strncasecmp(u.host, cl->url.host, u.host_len) != 0)
        return;
    invalidate_key(cl, &u);
}

static void invalidate_after(struct larder_client *cl, const struct larder_http_head *resp)
{
    struct larder_invalidation inv;

    if (cl->px->cache == NULL || !larder_freshness_invalidation(&cl->req->head, resp, &inv))
        return;
    invalidate_key(cl, &cl->url);
    invalidate_ref(cl, inv.location, inv.location_len);
    invalidate_ref(cl, inv.content_location, inv.content_location_len);
}

/* Appends our Via entry for a message received with HTTP version <version>. */
static void add_via(const struct larder_client *cl, struct evbuffer *out, int version)
{
    char v[300];
    size_t n = strlen(cl->px->via_name);

    if (n > sizeof(v) - 5)
        n = sizeof(v) - 5;
    memcpy(v, version >= 11 ? "1.1 " : "1.0 ", 4);
    memcpy(v + 4, cl->px->via_name, n);
    larder_http_add_field(out, "Via", v, n + 4);
}

/* ---- the origin's side ----------------------------------------------------------- */

void larder_forward_interim(void *arg, struct larder_http_head *h)
{
    struct larder_client *cl = arg;
    struct evbuffer *out = larder_conn_output(cl->conn);

    /* RFC 9110 15.2: a proxy forwards every 1xx (101 never gets here: it
     * answers an Upgrade, which larder does not forward), to HTTP/1.1
     * clients only */
    if (larder_client_is_10(cl))
        return;
    /* an origin sending 1xx after 1xx to a client that does not read
     * would grow our buffer without end: past the mark they are dropped */
    if (evbuffer_get_length(out) >= OUT_HIWAT)
        return;
    larder_http_mark_hop_by_hop(h);
    evbuffer_add_printf(out, "HTTP/1.1 %d ", h->status);
    if (h->reason_len > 0)
        evbuffer_add(out, h->reason, h->reason_len);
    else
        evbuffer_add_printf(out, "%s", larder_http_reason(h->status));
    evbuffer_add(out, "\r\n", 2);
    larder_http_write_fields(out, h);
    evbuffer_add(out, "\r\n", 2);
}

static void on_fetch_head(void *arg, struct larder_http_msg *resp)
{
    struct larder_client *cl = arg;
    struct larder_http_head *h = &resp->head;
    struct evbuffer *out = cl->headbuf;
    int no_body = larder_client_is_head(cl) || h->status == 204 || h->status == 304;

    cl->upstream_status = h->status;
    cl->status = h->status;
    cl->cs.fwd_status = h->status;
    invalidate_after(cl, h);
    if (cl->key != NULL && larder_client_is_head(cl))
        larder_fill_head_update(cl->px, cl->key, &cl->req->head, h,
                                larder_wall_s() -
                                    (int64_t)((larder_now_us() - cl->start_us) / 1000000));
    larder_http_mark_hop_by_hop(h);
    if (no_body) {
        cl->framing = OUT_NONE;
        /* for HEAD and 304 the origin's Content-Length describes the
         * representation, not this message: pass it on */
        if (h->status != 204)
            for (unsigned i = 0; i < h->nfields; i++)
                if (larder_http_field_is(&h->fields[i], "content-length"))
                    h->fields[i].flags &= ~LARDER_FIELD_F_DROP;
    } else if (h->body == LARDER_BODY_LENGTH) {
        cl->framing = OUT_LENGTH;
    } else if (!larder_client_is_10(cl)) {
        cl->framing = OUT_CHUNKED;
    } else {
        cl->framing = OUT_CLOSE;
        cl->keepalive = 0;
    }
    larder_http_add_status_line(out, h->status, h->reason, h->reason_len);
    larder_http_write_fields(out, h);
    if (larder_http_find(h, "date", 0) < 0) {
        /* RFC 9110 6.6.1: a response forwarded without Date gets one */
        const char *date = larder_client_date(cl);
        larder_http_add_field(out, "Date", date, strlen(date));
    }
    add_via(cl, out, h->version);
    if (cl->framing == OUT_LENGTH)
        larder_http_add_field_u64(out, "Content-Length", h->content_length);
    else if (cl->framing == OUT_CHUNKED)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    larder_client_end_head(cl, out, NULL, 0);
    cl->bytes_out += evbuffer_get_length(out);
    evbuffer_add_buffer(larder_conn_output(cl->conn), out);
    cl->resp_started = 1;
    larder_http_msg_free(resp);
}

static void on_fetch_body(void *arg, struct evbuffer *data)
{
    struct larder_client *cl = arg;
    struct evbuffer *out = larder_conn_output(cl->conn);
    size_t before = evbuffer_get_length(out);

    switch (cl->framing) {
    case OUT_CHUNKED:
        larder_body_write_chunk(out, data);
        break;
    case OUT_LENGTH:
    case OUT_CLOSE:
        evbuffer_add_buffer(out, data);
        break;
    default:
        evbuffer_drain(data, evbuffer_get_length(data));
        break;
    }
    cl->bytes_out += evbuffer_get_length(out) - before;
    if (evbuffer_get_length(out) >= OUT_HIWAT && !cl->resp_paused && cl->fetch != NULL) {
        cl->resp_paused = 1;
        larder_fetch_pause(cl->fetch);
    }
}

static void on_fetch_end(void *arg, const struct larder_failure *fail)
{
    struct larder_client *cl = arg;

    cl->bytes_in += larder_fetch_bytes_in(cl->fetch);
    cl->fetch = NULL;
    if (fail == NULL) {
        struct larder_conn *c = cl->conn;
        if (cl->framing == OUT_CHUNKED) {
            larder_body_write_last_chunk(larder_conn_output(c));
            cl->bytes_out += 5;
        }
        larder_client_finish_response(cl);
        larder_conn_write_now(c); /* the answer is whole: send it now */
        return;
    }
    if (!cl->resp_started) {
        larder_client_send_error(cl, fail->status, fail->reason, fail->kind);
        return;
    }
    larder_client_cut_short(cl, fail->reason, fail->kind);
}

static void on_fetch_drain(void *arg)
{
    struct larder_client *cl = arg;

    if (cl->body_blocked) {
        cl->body_blocked = 0;
        larder_conn_enable_read(cl->conn);
        larder_forward_pump_body(cl);
    }
}

const struct larder_fetch_ops larder_forward_ops = {
    .on_interim = larder_forward_interim,
    .on_head = on_fetch_head,
    .on_body = on_fetch_body,
    .on_end = on_fetch_end,
    .on_drain = on_fetch_drain,
};

void larder_forward_on_writable(struct larder_client *cl)
{
    if (cl->resp_paused && cl->fetch != NULL) {
        cl->resp_paused = 0;
        larder_fetch_resume(cl->fetch);
    }
}

void larder_forward_takeover(struct larder_client *cl, struct larder_fetch *f,
                             struct larder_http_msg *resp)
{
    cl->fetch = f;
    larder_fetch_set_sink(f, &larder_forward_ops, cl);
    larder_client_set_state(cl, CLIENT_FORWARD);
    on_fetch_head(cl, resp);
}

/* ---- the client's side ----------------------------------------------------------------- */

void larder_forward_pump_body(struct larder_client *cl)
{
    struct evbuffer *in = larder_conn_input(cl->conn);

    while (!cl->body_done && cl->fetch != NULL) {
        int rc;

        if (larder_fetch_backlog(cl->fetch) >= BODY_HIWAT) {
            cl->body_blocked = 1;
            larder_conn_disable_read(cl->conn);
            return;
        }
        rc = larder_body_read(&cl->body, in, cl->scratch, BODY_HIWAT);
        if (evbuffer_get_length(cl->scratch) > 0) {
            if (cl->body_chunked_out) {
                larder_body_write_chunk(cl->framed, cl->scratch);
                larder_fetch_write(cl->fetch, cl->framed);
            } else {
                larder_fetch_write(cl->fetch, cl->scratch);
            }
        } else if (rc == 0) {
            return; /* wait for more */
        }
        if (rc < 0) {
            larder_log(LARDER_LOG_INFO, "client %s: bad request body: %s", cl->addr,
                       cl->body.error);
            cl->keepalive = 0;
            if (!cl->resp_started)
                larder_client_send_error(cl, 400, "malformed request body", LARDER_ERR_BAD_REQUEST);
            else
                larder_client_cut_short(cl, "malformed request body", LARDER_ERR_BAD_REQUEST);
            return;
        }
        if (rc == 1) {
            if (cl->body_chunked_out) {
                larder_body_write_last_chunk(cl->framed);
                larder_fetch_write(cl->fetch, cl->framed);
            }
            cl->body_done = 1;
            larder_fetch_write_done(cl->fetch);
            larder_client_set_timeouts(cl, 0);
        }
    }
}

/* TRACE or OPTIONS with Max-Forwards: 0 is answered here (RFC 9110 7.6.2). */
static void answer_max_forwards(struct larder_client *cl)
{
    const struct larder_http_head *h = &cl->req->head;

    cl->outcome = LARDER_OUTCOME_PASS;
    if (strcmp(cl->method, "TRACE") == 0) {
        struct evbuffer *echo = evbuffer_new();
        size_t n;
        evbuffer_add_printf(echo, "%s %.*s HTTP/1.%d\r\n", cl->method, (int)h->target_len,
                            h->target, h->version == 10 ? 0 : 1);
        for (unsigned i = 0; i < h->nfields; i++) {
            const struct larder_http_field *f = &h->fields[i];
            /* never echo credentials (RFC 9110 9.3.8) */
            if (larder_http_field_is(f, "authorization") ||
                larder_http_field_is(f, "proxy-authorization") ||
                larder_http_field_is(f, "cookie"))
                continue;
            evbuffer_add_printf(echo, "%.*s: %.*s\r\n", (int)f->name_len, f->name,
                                (int)f->value_len, f->value);
        }
        evbuffer_add(echo, "\r\n", 2);
        n = evbuffer_get_length(echo);
        larder_client_respond(cl, 200, NULL, "message/http",
                              (const char *)evbuffer_pullup(echo, -1), n);
        evbuffer_free(echo);
    } else {
        char fields[160];
        snprintf(fields, sizeof(fields), "Allow: %s\r\n", allow_methods);
        larder_client_respond(cl, 200, fields, NULL, "", 0);
    }
    larder_client_finish_response(cl);
}

/* Max-Forwards of an OPTIONS or TRACE request, or -1. */
#define MAX_FORWARDS_CAP 255L /* the most larder passes on (RFC 9110 7.6.2) */

struct mf_scan {
    long least;                   /* smallest value seen, -1: none yet */
    int bad;
};

static int mf_member(const char *item, size_t len, void *arg)
{
    struct mf_scan *s = arg;
    long v = 0;

    if (len == 0 || strspn(item, "0123456789") < len) {
        s->bad = 1;
        return 1;
    }
    for (size_t i = 0; i < len && v <= MAX_FORWARDS_CAP; i++)
        v = v * 10 + (item[i] - '0');
    if (v > MAX_FORWARDS_CAP)
        v = MAX_FORWARDS_CAP + 1;
    if (s->least < 0 || v < s->least)
        s->least = v;
    return 0;
}

/* Max-Forwards of an OPTIONS or TRACE: the least of its values (several
 * lines or a list: the strictest counts), capped; -1 when absent or not
 * all digits (then it is dropped, not passed on unread). */
static long max_forwards(const struct larder_client *cl)
{
    const struct larder_http_head *h = &cl->req->head;
    struct mf_scan s = { -1, 0 };

    if (strcmp(cl->method, "OPTIONS") != 0 && strcmp(cl->method, "TRACE") != 0)
        return -1;
    for (int i = larder_http_find(h, "max-forwards", 0); i >= 0 && !s.bad;
         i = larder_http_find(h, "max-forwards", (unsigned)i + 1))
        if (larder_http_list_each(h->fields[i].value, h->fields[i].value_len, mf_member, &s) != 0 ||
            h->fields[i].value_len == 0)
            s.bad = 1;
    return s.bad ? -1 : s.least;
}

static const char *const conditionals[] = {
    "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", NULL
};

void larder_forward_build_head(struct larder_client *cl, struct evbuffer *head, int for_cache,
                               struct larder_object *stale)
{
    struct larder_http_head *h = &cl->req->head;
    const char *path = cl->url.path;
    size_t path_len = cl->url.path_len;
    char hostfield[300];
    long mf = max_forwards(cl);

    {
        const char *m = for_cache ? "GET" : cl->method;
        evbuffer_add(head, m, strlen(m));
        if (path_len == 0 && strcmp(m, "OPTIONS") == 0) {
            /* "OPTIONS http://host" asks about the server: RFC 9112 3.2.4 */
            evbuffer_add(head, " *", 2);
        } else {
            evbuffer_add(head, path_len == 0 || path[0] == '?' ? " /" : " ",
                         path_len == 0 || path[0] == '?' ? 2 : 1);
            evbuffer_add(head, path, path_len);
        }
        evbuffer_add(head, " HTTP/1.1\r\n", 11);
    }
    {
        size_t hn = larder_url_host_field(&cl->url, hostfield, sizeof(hostfield));
        if (hn < sizeof(hostfield)) {
            larder_http_add_field(head, "Host", hostfield, hn);
        } else { /* a long name: never send it cut */
            char *big = larder_xmalloc(hn + 1);
            larder_url_host_field(&cl->url, big, hn + 1);
            larder_http_add_field(head, "Host", big, hn);
            free(big);
        }
    }
    larder_http_mark_hop_by_hop(h);
    larder_http_drop(h, "host");
    if (strcmp(cl->method, "OPTIONS") == 0 || strcmp(cl->method, "TRACE") == 0) {
        larder_http_drop(h, "max-forwards");
        if (mf > 0)
            evbuffer_add_printf(head, "Max-Forwards: %ld\r\n", mf - 1);
    }
    if (for_cache) {
        /* the cache wants the whole response, whatever the client holds */
        for (const char *const *c = conditionals; *c != NULL; c++)
            larder_http_drop(h, *c);
    }
    larder_http_write_fields(head, h);
    /* undo, so the client's own conditionals still count for its answer;
     * what is hop-by-hop stays marked (Vary matching ignores it) */
    for (unsigned i = 0; i < h->nfields; i++)
        h->fields[i].flags &= ~LARDER_FIELD_F_DROP;
    larder_http_mark_hop_by_hop(h);
    if (stale != NULL) {
        struct larder_http_head sh;
        const struct larder_http_field *etag, *lm;
        larder_object_head(stale, &sh, cl->px->scratch, cl->px->scratch_cap);
        etag = larder_http_get(&sh, "etag");
        lm = larder_http_get(&sh, "last-modified");
        if (etag != NULL)
            larder_http_add_field(head, "If-None-Match", etag->value, etag->value_len);
        if (lm != NULL)
            larder_http_add_field(head, "If-Modified-Since", lm->value, lm->value_len);
    }
    add_via(cl, head, h->version);
    if (!for_cache) {
        if (h->body == LARDER_BODY_LENGTH)
            larder_http_add_field_u64(head, "Content-Length", h->content_length);
        else if (h->body == LARDER_BODY_CHUNKED)
            evbuffer_add(head, "Transfer-Encoding: chunked\r\n", 28);
    }
    evbuffer_add(head, "\r\n", 2);
}

void larder_forward_start(struct larder_client *cl)
{
    struct larder_http_head *h = &cl->req->head;
    struct evbuffer *head;
    struct larder_fetch_spec spec;

    if (strcmp(cl->method, "GET") != 0 && strcmp(cl->method, "HEAD") != 0)
        cl->cs.kind = LARDER_CS_METHOD;
    if (cl->outcome == LARDER_OUTCOME_ERROR)
        cl->outcome = LARDER_OUTCOME_PASS;
    if (max_forwards(cl) == 0) {
        answer_max_forwards(cl);
        return;
    }
    head = evbuffer_new();
    larder_forward_build_head(cl, head, 0, NULL);
    cl->body_chunked_out = h->body == LARDER_BODY_CHUNKED;
    memset(&spec, 0, sizeof(spec));
    spec.host = cl->host;
    spec.port = cl->url.port;
    spec.method = cl->method;
    spec.head = head;
    spec.has_body = !cl->body_done;
    larder_client_set_state(cl, CLIENT_FORWARD);
    cl->fetch = larder_fetch_start(cl->px, &spec, &larder_forward_ops, cl);
    evbuffer_free(head);
    if (!cl->body_done)
        larder_forward_pump_body(cl);
}
