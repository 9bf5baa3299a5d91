/* SPDX-License-Identifier: MIT */
/* client.c - one client connection: request heads in order, routing,
 * request and response bodies with back-pressure, keep-alive, timeouts,
 * error responses and the access log line. */
#include "larder/client.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utlist.h>

#include "larder/acl.h"
#include "larder/body.h"
#include "larder/config.h"
#include "larder/fetch.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/stats.h"
#include "larder/tunnel.h"
#include "larder/url.h"
#include "larder/util.h"

#define OUT_HIWAT (256 * 1024)  /* pause the origin above this much unsent */
#define OUT_LOWAT (64 * 1024)   /* and resume below this */
#define BODY_HIWAT (256 * 1024) /* request body queued toward the origin */
#define LINGER_MS 2000          /* read and discard this long after our FIN */

static const char allow_methods[] = "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT";

enum client_state {
    CLIENT_READ_HEAD = 0,     /* waiting for a complete request head */
    CLIENT_FORWARD,           /* request going out, response coming back */
    CLIENT_TUNNEL,            /* a CONNECT tunnel has the connection */
    CLIENT_CLOSING,           /* flushing the output, then closing */
    CLIENT_STATE_COUNT        /* keep last */
};

static const char *const state_name[CLIENT_STATE_COUNT] = {
    "READ_HEAD", "FORWARD", "TUNNEL", "CLOSING"
};

enum out_framing {
    OUT_NONE = 0,             /* no body (HEAD, 204, 304) */
    OUT_LENGTH,               /* Content-Length */
    OUT_CHUNKED,              /* chunked, for HTTP/1.1 clients */
    OUT_CLOSE,                /* HTTP/1.0 client, unknown length: close ends it */
};

struct larder_client {
    struct larder_proxy *px;
    struct bufferevent *bev;
    char addr[64];
    int allowed;              /* in client_allow */
    enum client_state state;
    struct event *timer;      /* head deadline; deferred free */
    int head_started;         /* bytes of the next head have arrived */
    size_t scanned;           /* input bytes known to hold no LF */
    int shut;                 /* we sent our FIN (lingering close) */
    int peer_eof;             /* the client sent its FIN */
    int free_pending;         /* free from the timer callback */
    int reset;                /* end with RST: the response was cut short */
    struct larder_client *prev, *next;

    /* the request in progress */
    struct larder_http_msg *req;
    char *method;             /* NUL-terminated copies for fetch and logs */
    char *host;
    struct larder_url url;    /* points into req->raw */
    int keepalive;            /* keep the connection after this response */
    struct larder_body_reader body;
    int body_done;            /* the whole request body has been read */
    int body_blocked;         /* reading paused: the origin is behind */
    int body_chunked_out;
    struct evbuffer *scratch; /* de-framed request body */
    struct evbuffer *framed;  /* re-framed request body */
    struct larder_fetch *fetch;
    struct larder_tunnel *tunnel;

    /* the response in progress */
    int resp_started;         /* a status line has been written */
    int resp_paused;          /* the origin is paused for our output */
    int status;
    int upstream_status;
    enum out_framing framing;
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t start_ms;
    struct timeval start_tv;
    enum larder_outcome outcome;
};

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void reject_head(struct larder_client *cl, int status, const char *reason);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void read_heads(struct larder_client *cl);

static void set_state(struct larder_client *cl, enum client_state st)
{
    assert(st < CLIENT_STATE_COUNT);
    if (larder_log_enabled(LARDER_LOG_DEBUG))
        larder_log(LARDER_LOG_DEBUG, "client %s: %s -> %s", cl->addr,
                   state_name[cl->state], state_name[st]);
    cl->state = st;
}

static struct timeval ms_tv(uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    return tv;
}

/* Read timeout <read_ms> (0: none); writing always has one. */
static void set_timeouts(struct larder_client *cl, uint64_t read_ms)
{
    struct timeval rt = ms_tv(read_ms);
    struct timeval wt = ms_tv(cl->px->cfg->upstream_read_timeout);

    bufferevent_set_timeouts(cl->bev, read_ms ? &rt : NULL, &wt);
}

/* ---- lifetime -------------------------------------------------------------- */

static void reset_request(struct larder_client *cl)
{
    larder_http_msg_free(cl->req);
    cl->req = NULL;
    free(cl->method);
    cl->method = NULL;
    free(cl->host);
    cl->host = NULL;
    cl->resp_started = cl->resp_paused = cl->body_blocked = 0;
    cl->status = cl->upstream_status = 0;
    cl->bytes_out = cl->bytes_in = 0;
    cl->framing = OUT_NONE;
    cl->body_done = 1;
}

static void client_free(struct larder_client *cl)
{
    struct larder_proxy *px = cl->px;

    larder_fetch_abort(cl->fetch);
    larder_tunnel_free(cl->tunnel);
    reset_request(cl);
    event_free(cl->timer);
    bufferevent_free(cl->bev);
    evbuffer_free(cl->scratch);
    evbuffer_free(cl->framed);
    DL_DELETE(px->clients, cl);
    px->nclients--;
    free(cl);
    if (px->draining && px->nclients == 0 && px->on_drained != NULL)
        px->on_drained(px);
}

/* Frees <cl> from the loop, never under a caller still using it. */
static void free_later(struct larder_client *cl)
{
    cl->free_pending = 1;
    bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
    event_active(cl->timer, EV_TIMEOUT, 0);
}

/* Flushes what is queued, sends our FIN, then reads and discards for a
 * moment so that a client still sending does not get a reset that destroys
 * the response it has not read yet. */
static void close_after_flush(struct larder_client *cl)
{
    larder_fetch_abort(cl->fetch);
    cl->fetch = NULL;
    set_state(cl, CLIENT_CLOSING);
    evtimer_del(cl->timer);
    bufferevent_setwatermark(cl->bev, EV_READ, 0, 0);
    bufferevent_enable(cl->bev, cl->peer_eof ? EV_WRITE : EV_READ | EV_WRITE);
    set_timeouts(cl, 0);
    if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)
        on_write(cl->bev, cl);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct larder_client *cl = arg;
    (void)fd;
    (void)what;

    if (cl->free_pending) {
        client_free(cl);
        return;
    }
    if (cl->state == CLIENT_READ_HEAD && cl->head_started)
        reject_head(cl, 408, "request head not received in time");
}

/* ---- logging --------------------------------------------------------------- */

static void log_request(struct larder_client *cl)
{
    struct larder_access_entry e;
    char *url = NULL;
    uint64_t dur = (larder_now_ms() - cl->start_ms) * 1000u;

    if (cl->req != NULL)
        url = larder_xstrndup(cl->req->head.target, cl->req->head.target_len);
    memset(&e, 0, sizeof(e));
    e.start = cl->start_tv;
    e.client = cl->addr;
    e.method = cl->method != NULL ? cl->method : "-";
    e.url = url != NULL ? url : "-";
    e.status = cl->status;
    e.bytes = cl->bytes_out;
    e.duration_us = dur;
    e.outcome = larder_outcome_name(cl->outcome);
    e.upstream_status = cl->upstream_status;
    larder_log_access(&e);
    larder_stats_request(cl->px->stats, cl->outcome, cl->bytes_out, cl->bytes_in, dur);
    free(url);
}

static void begin_request(struct larder_client *cl)
{
    cl->start_ms = larder_now_ms();
    gettimeofday(&cl->start_tv, NULL);
    cl->outcome = LARDER_OUTCOME_ERROR;
}

/* The response is fully queued: next request, or close. */
static void finish_response(struct larder_client *cl)
{
    log_request(cl);
    if (!cl->body_done || cl->px->draining)
        cl->keepalive = 0;
    if (!cl->keepalive) {
        close_after_flush(cl);
        return;
    }
    reset_request(cl);
    set_state(cl, CLIENT_READ_HEAD);
    set_timeouts(cl, cl->px->cfg->keepalive_timeout);
    bufferevent_enable(cl->bev, EV_READ);
    /* a pipelined request may be waiting: take it from the loop */
    if (evbuffer_get_length(bufferevent_get_input(cl->bev)) > 0)
        bufferevent_trigger(cl->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* ---- responses larder writes itself ---------------------------------------- */

static int is_head_request(const struct larder_client *cl)
{
    return cl->method != NULL && strcmp(cl->method, "HEAD") == 0;
}

static int client_is_10(const struct larder_client *cl)
{
    return cl->req != NULL && cl->req->head.version < 11;
}

/* Writes "Connection" for the current keep-alive decision. */
static void add_connection_field(struct larder_client *cl, struct evbuffer *out)
{
    if (!cl->keepalive)
        evbuffer_add(out, "Connection: close\r\n", 19);
    else if (client_is_10(cl))
        evbuffer_add(out, "Connection: keep-alive\r\n", 24);
}

/* A complete small response: status, extra field lines, body. */
static void respond(struct larder_client *cl, int status, const char *fields,
                    const char *type, const char *body, size_t body_len)
{
    struct evbuffer *out = bufferevent_get_output(cl->bev);
    size_t before = evbuffer_get_length(out);

    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, larder_http_reason(status));
    if (type != NULL)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", type);
    evbuffer_add_printf(out, "Content-Length: %zu\r\n%s", body_len, fields ? fields : "");
    add_connection_field(cl, out);
    evbuffer_add(out, "\r\n", 2);
    if (!is_head_request(cl))
        evbuffer_add(out, body, body_len);
    cl->bytes_out += evbuffer_get_length(out) - before;
    cl->status = status;
    cl->resp_started = 1;
}

static void send_error(struct larder_client *cl, int status, const char *reason)
{
    char esc[512], body[1024];
    int n;

    larder_fetch_abort(cl->fetch);
    cl->fetch = NULL;
    /* after a framing error or with request body bytes unread, the next
     * request's start is unknown: close */
    if (cl->req == NULL || !cl->body_done || status == 400 || status == 408 ||
        status == 414 || status == 431 || status == 505)
        cl->keepalive = 0;
    larder_html_escape(reason, esc, sizeof(esc));
    n = snprintf(body, sizeof(body),
                 "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                 "<body><h1>%d %s</h1>\n<p>%s</p>\n<hr><address>larder/%s</address></body></html>\n",
                 status, larder_http_reason(status), status, larder_http_reason(status), esc,
                 LARDER_VERSION);
    if (n < 0 || (size_t)n >= sizeof(body))
        n = (int)strlen(body);
    cl->outcome = LARDER_OUTCOME_ERROR;
    respond(cl, status, "Cache-Control: no-store\r\n", "text/html; charset=utf-8",
            body, (size_t)n);
    larder_log(LARDER_LOG_INFO, "client %s: %d %s", cl->addr, status, reason);
    finish_response(cl);
}

/* An error before a request head was complete: there is no request. */
static void reject_head(struct larder_client *cl, int status, const char *reason)
{
    evtimer_del(cl->timer);
    cl->head_started = 0;
    begin_request(cl);
    send_error(cl, status, reason);
}

/* ---- forwarding: the origin's side ------------------------------------------ */

static void on_fetch_interim(void *arg, struct larder_http_head *h)
{
    struct larder_client *cl = arg;
    struct evbuffer *out = bufferevent_get_output(cl->bev);

    /* 1xx go to HTTP/1.1 clients only (RFC 9110 15.2) */
    if (client_is_10(cl) || (h->status != 100 && h->status != 103))
        return;
    larder_http_mark_hop_by_hop(h);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", h->status, larder_http_reason(h->status));
    if (h->status == 103)
        larder_http_write_fields(out, h);
    evbuffer_add(out, "\r\n", 2);
}

static void on_fetch_head(void *arg, struct larder_http_msg *resp)
{
    struct larder_client *cl = arg;
    struct larder_http_head *h = &resp->head;
    struct evbuffer *out = bufferevent_get_output(cl->bev);
    size_t before = evbuffer_get_length(out);
    int no_body = is_head_request(cl) || h->status == 204 || h->status == 304;

    cl->upstream_status = h->status;
    cl->status = h->status;
    cl->outcome = LARDER_OUTCOME_PASS;
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
    } else if (!client_is_10(cl)) {
        cl->framing = OUT_CHUNKED;
    } else {
        cl->framing = OUT_CLOSE;
        cl->keepalive = 0;
    }
    if (h->reason_len > 0)
        evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n", h->status, (int)h->reason_len, h->reason);
    else
        evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", h->status, larder_http_reason(h->status));
    larder_http_write_fields(out, h);
    evbuffer_add_printf(out, "Via: %s %s\r\n", h->version >= 11 ? "1.1" : "1.0",
                        cl->px->via_name);
    if (cl->framing == OUT_LENGTH)
        evbuffer_add_printf(out, "Content-Length: %llu\r\n", (unsigned long long)h->content_length);
    else if (cl->framing == OUT_CHUNKED)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    add_connection_field(cl, out);
    evbuffer_add(out, "\r\n", 2);
    cl->bytes_out += evbuffer_get_length(out) - before;
    cl->resp_started = 1;
    larder_http_msg_free(resp);
}

static void on_fetch_body(void *arg, struct evbuffer *data)
{
    struct larder_client *cl = arg;
    struct evbuffer *out = bufferevent_get_output(cl->bev);
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
    if (evbuffer_get_length(out) >= OUT_HIWAT && !cl->resp_paused) {
        cl->resp_paused = 1;
        larder_fetch_pause(cl->fetch);
    }
}

static void on_fetch_end(void *arg, int status, const char *reason)
{
    struct larder_client *cl = arg;

    cl->bytes_in = larder_fetch_bytes_in(cl->fetch);
    cl->fetch = NULL;
    if (status == 0) {
        if (cl->framing == OUT_CHUNKED) {
            larder_body_write_last_chunk(bufferevent_get_output(cl->bev));
            cl->bytes_out += 5;
        }
        finish_response(cl);
        return;
    }
    if (!cl->resp_started) {
        send_error(cl, status, reason);
        return;
    }
    /* cut short after the head went out: never fake an end of body */
    larder_log(LARDER_LOG_INFO, "client %s: response cut short: %s", cl->addr, reason);
    cl->outcome = LARDER_OUTCOME_ERROR;
    cl->keepalive = 0;
    cl->reset = 1;
    log_request(cl);
    close_after_flush(cl);
}

static void pump_body(struct larder_client *cl);

static void on_fetch_drain(void *arg)
{
    struct larder_client *cl = arg;

    if (cl->body_blocked) {
        cl->body_blocked = 0;
        bufferevent_enable(cl->bev, EV_READ);
        pump_body(cl);
    }
}

static const struct larder_fetch_ops fetch_ops = {
    .on_interim = on_fetch_interim,
    .on_head = on_fetch_head,
    .on_body = on_fetch_body,
    .on_end = on_fetch_end,
    .on_drain = on_fetch_drain,
};

/* ---- forwarding: the client's side ------------------------------------------ */

/* Moves request body bytes from the client toward the origin. */
static void pump_body(struct larder_client *cl)
{
    struct evbuffer *in = bufferevent_get_input(cl->bev);

    while (!cl->body_done && cl->fetch != NULL) {
        int rc;

        if (larder_fetch_backlog(cl->fetch) >= BODY_HIWAT) {
            cl->body_blocked = 1;
            bufferevent_disable(cl->bev, EV_READ);
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
            if (!cl->resp_started) {
                send_error(cl, 400, "malformed request body");
            } else {
                cl->reset = 1;
                log_request(cl);
                close_after_flush(cl);
            }
            return;
        }
        if (rc == 1) {
            if (cl->body_chunked_out) {
                larder_body_write_last_chunk(cl->framed);
                larder_fetch_write(cl->fetch, cl->framed);
            }
            cl->body_done = 1;
            larder_fetch_write_done(cl->fetch);
            set_timeouts(cl, 0);
        }
    }
}

static int via_names_us_cb(const char *item, size_t len, void *arg)
{
    const char *name = arg;
    size_t n = strlen(name), i = 0;

    /* received-protocol SP received-by [comment] */
    while (i < len && item[i] != ' ' && item[i] != '\t')
        i++;
    while (i < len && (item[i] == ' ' || item[i] == '\t'))
        i++;
    return len - i >= n && strncasecmp(item + i, name, n) == 0 &&
           (len - i == n || item[i + n] == ' ' || item[i + n] == '\t');
}

static int via_loop(const struct larder_client *cl)
{
    const struct larder_http_head *h = &cl->req->head;

    for (unsigned i = 0; i < h->nfields; i++)
        if (larder_http_field_is(&h->fields[i], "via") &&
            larder_http_list_each(h->fields[i].value, h->fields[i].value_len,
                                  via_names_us_cb, cl->px->via_name))
            return 1;
    return 0;
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
        respond(cl, 200, NULL, "message/http", (const char *)evbuffer_pullup(echo, -1), n);
        evbuffer_free(echo);
    } else {
        char fields[160];
        snprintf(fields, sizeof(fields), "Allow: %s\r\n", allow_methods);
        respond(cl, 200, fields, NULL, "", 0);
    }
    finish_response(cl);
}

static void forward(struct larder_client *cl)
{
    struct larder_http_head *h = &cl->req->head;
    struct evbuffer *head = evbuffer_new();
    struct larder_fetch_spec spec;
    char hostfield[300];
    const char *path = cl->url.path;
    size_t path_len = cl->url.path_len;
    long max_forwards = -1;

    if ((strcmp(cl->method, "OPTIONS") == 0 || strcmp(cl->method, "TRACE") == 0)) {
        int i = larder_http_find(h, "max-forwards", 0);
        if (i >= 0) {
            const struct larder_http_field *f = &h->fields[i];
            char digits[12];
            if (f->value_len > 0 && f->value_len < sizeof(digits) &&
                strspn(f->value, "0123456789") >= f->value_len) {
                memcpy(digits, f->value, f->value_len);
                digits[f->value_len] = '\0';
                max_forwards = strtol(digits, NULL, 10);
            }
        }
        if (max_forwards == 0) {
            evbuffer_free(head);
            answer_max_forwards(cl);
            return;
        }
    }
    evbuffer_add_printf(head, "%s %s%.*s HTTP/1.1\r\n", cl->method,
                        path_len == 0 || path[0] == '?' ? "/" : "", (int)path_len, path);
    larder_url_host_field(&cl->url, hostfield, sizeof(hostfield));
    evbuffer_add_printf(head, "Host: %s\r\n", hostfield);
    larder_http_mark_hop_by_hop(h);
    larder_http_drop(h, "host");
    if (max_forwards > 0) {
        larder_http_drop(h, "max-forwards");
        evbuffer_add_printf(head, "Max-Forwards: %ld\r\n", max_forwards - 1);
    }
    larder_http_write_fields(head, h);
    evbuffer_add_printf(head, "Via: %s %s\r\n", h->version >= 11 ? "1.1" : "1.0",
                        cl->px->via_name);
    if (h->body == LARDER_BODY_LENGTH)
        evbuffer_add_printf(head, "Content-Length: %llu\r\n",
                            (unsigned long long)h->content_length);
    else if (h->body == LARDER_BODY_CHUNKED)
        evbuffer_add(head, "Transfer-Encoding: chunked\r\n", 28);
    evbuffer_add(head, "\r\n", 2);

    cl->body_chunked_out = h->body == LARDER_BODY_CHUNKED;
    memset(&spec, 0, sizeof(spec));
    spec.host = cl->host;
    spec.port = cl->url.port;
    spec.method = cl->method;
    spec.head = head;
    spec.has_body = !cl->body_done;
    set_state(cl, CLIENT_FORWARD);
    cl->fetch = larder_fetch_start(cl->px, &spec, &fetch_ops, cl);
    evbuffer_free(head);
    if (!cl->body_done)
        pump_body(cl);
}

/* ---- CONNECT ------------------------------------------------------------------- */

static void on_tunnel_done(void *arg, int status, const char *reason,
                           uint64_t bytes_up, uint64_t bytes_down)
{
    struct larder_client *cl = arg;

    cl->tunnel = NULL;
    bufferevent_setcb(cl->bev, on_read, on_write, on_event, cl);
    if (status != 0) {
        cl->keepalive = 0;
        send_error(cl, status, reason);
        return;
    }
    cl->status = 200;
    cl->outcome = LARDER_OUTCOME_TUNNEL;
    cl->bytes_out = bytes_down;
    cl->bytes_in = bytes_down;
    (void)bytes_up;
    cl->keepalive = 0;
    log_request(cl);
    close_after_flush(cl);
}

static void handle_connect(struct larder_client *cl)
{
    const struct larder_http_head *h = &cl->req->head;
    struct larder_url u;

    if (larder_url_parse_authority(h->target, h->target_len, &u) != NULL) {
        send_error(cl, 400, "CONNECT target is not host:port");
        return;
    }
    if (!larder_ports_match(&cl->px->cfg->connect_ports, u.port)) {
        send_error(cl, 403, "CONNECT to this port is not allowed");
        return;
    }
    if (!cl->body_done) {
        send_error(cl, 400, "CONNECT with a body");
        return;
    }
    cl->host = larder_xstrndup(u.host, u.host_len);
    set_state(cl, CLIENT_TUNNEL);
    set_timeouts(cl, 0);
    cl->tunnel = larder_tunnel_start(cl->px, cl->bev, cl->host, u.port, on_tunnel_done, cl);
}

/* ---- routing ------------------------------------------------------------------- */

static void handle_request(struct larder_client *cl)
{
    struct larder_http_head *h = &cl->req->head;
    const struct larder_config *cfg = cl->px->cfg;
    const char *reason;

    cl->method = larder_xstrndup(h->method, h->method_len);
    cl->keepalive = h->version >= 11 ? !(h->flags & LARDER_HEAD_F_CONN_CLOSE)
                                     : !!(h->flags & LARDER_HEAD_F_CONN_KEEPALIVE);
    if (cl->px->draining)
        cl->keepalive = 0;
    larder_body_reader_init(&cl->body, h->body, h->content_length, &cfg->limits);
    cl->body_done = cl->body.done;
    set_timeouts(cl, cl->body_done ? 0 : cfg->client_body_timeout);

    if (!cl->allowed) {
        send_error(cl, 403, "your address may not use this proxy");
        return;
    }
    switch (h->form) {
    case LARDER_TARGET_AUTHORITY:
        handle_connect(cl);
        return;
    case LARDER_TARGET_ASTERISK: {
        char fields[160];
        snprintf(fields, sizeof(fields), "Allow: %s\r\n", allow_methods);
        cl->outcome = LARDER_OUTCOME_ADMIN;
        respond(cl, 200, fields, NULL, "", 0);
        finish_response(cl);
        return;
    }
    case LARDER_TARGET_ORIGIN:
        send_error(cl, 400, "this is a proxy: set it as your HTTP proxy");
        return;
    default:
        break;
    }
    reason = larder_url_parse_absolute(h->target, h->target_len, &cl->url);
    if (reason != NULL) {
        send_error(cl, 400, reason);
        return;
    }
    if (!larder_url_scheme_is(&cl->url, "http")) {
        send_error(cl, 501, "only http:// URLs are fetched; https:// goes through CONNECT");
        return;
    }
    if (via_loop(cl)) {
        send_error(cl, 403, "forwarding loop: the request already passed through this proxy");
        return;
    }
    cl->host = larder_xstrndup(cl->url.host, cl->url.host_len);
    forward(cl);
}

/* ---- reading heads ---------------------------------------------------------------- */

static void read_heads(struct larder_client *cl)
{
    const struct larder_config *cfg = cl->px->cfg;
    struct evbuffer *in = bufferevent_get_input(cl->bev);
    size_t len = evbuffer_get_length(in), take;
    struct larder_http_head h;
    const char *p;
    int n;

    if (len == 0 || cl->state != CLIENT_READ_HEAD)
        return;
    if (!cl->head_started) {
        struct timeval tv = ms_tv(cfg->client_head_timeout);
        cl->head_started = 1;
        evtimer_add(cl->timer, &tv);
        set_timeouts(cl, cfg->client_head_timeout);
    }
    /* parse again only once a line has ended or a limit may be crossed:
     * a head trickling in byte by byte costs one parse per line */
    if (len <= cfg->limits.max_line && len <= cfg->limits.max_head) {
        struct evbuffer_ptr ptr;
        evbuffer_ptr_set(in, &ptr, cl->scanned, EVBUFFER_PTR_SET);
        if (evbuffer_search(in, "\n", 1, &ptr).pos < 0) {
            cl->scanned = len;
            return;
        }
    }
    take = len < cfg->limits.max_head + 1 ? len : cfg->limits.max_head + 1;
    p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
    larder_http_head_init(&h, cl->px->scratch, cfg->limits.max_fields);
    n = larder_http_parse_request(p, take, &cfg->limits, &h);
    if (n == LARDER_PARSE_INCOMPLETE) {
        cl->scanned = len;
        return;
    }
    evtimer_del(cl->timer);
    cl->head_started = 0;
    cl->scanned = 0;
    begin_request(cl);
    if (n == LARDER_PARSE_ERROR) {
        send_error(cl, h.error_status, h.error_reason);
        return;
    }
    cl->req = larder_http_msg_new(p, (size_t)n, &h);
    evbuffer_drain(in, (size_t)n);
    handle_request(cl);
}

/* ---- bufferevent callbacks ------------------------------------------------------ */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct larder_client *cl = arg;

    switch (cl->state) {
    case CLIENT_READ_HEAD:
        read_heads(cl);
        break;
    case CLIENT_FORWARD:
        if (!cl->body_done)
            pump_body(cl);
        break;
    case CLIENT_CLOSING:
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        break;
    default:
        break;
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct larder_client *cl = arg;
    size_t left = evbuffer_get_length(bufferevent_get_output(bev));

    if (cl->resp_paused && left <= OUT_LOWAT && cl->fetch != NULL) {
        cl->resp_paused = 0;
        larder_fetch_resume(cl->fetch);
    }
    if (cl->state == CLIENT_CLOSING && left == 0 && !cl->shut && !cl->free_pending) {
        if (cl->reset) {
            struct linger lg = { 1, 0 };
            setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            free_later(cl);
            return;
        }
        if (cl->peer_eof) {
            free_later(cl);
            return;
        }
        cl->shut = 1;
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        set_timeouts(cl, LINGER_MS);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct larder_client *cl = arg;
    (void)bev;

    if (what & BEV_EVENT_TIMEOUT) {
        if ((what & BEV_EVENT_READING) && cl->state == CLIENT_READ_HEAD && cl->head_started) {
            reject_head(cl, 408, "request head not received in time");
            return;
        }
        if ((what & BEV_EVENT_READING) && cl->state == CLIENT_FORWARD && !cl->resp_started &&
            !cl->body_done) {
            send_error(cl, 408, "request body not received in time");
            return;
        }
        client_free(cl);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        cl->peer_eof = 1;
        /* a client that half-closes after its request still gets the answer */
        if (cl->state == CLIENT_FORWARD && cl->body_done) {
            cl->keepalive = 0;
            return;
        }
        if (cl->state == CLIENT_CLOSING && !cl->shut &&
            evbuffer_get_length(bufferevent_get_output(cl->bev)) > 0)
            return; /* on_write frees once the answer is out */
        if (cl->state == CLIENT_TUNNEL)
            return;
        client_free(cl);
        return;
    }
    if (what & BEV_EVENT_ERROR)
        client_free(cl);
}

/* ---- accepting -------------------------------------------------------------------- */

static void addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s", ip);
}

/* Makes room under max_connections by closing a connection that sits idle
 * between requests. Returns 1 when one was closed. */
static int evict_idle(struct larder_proxy *px)
{
    struct larder_client *cl;

    DL_FOREACH(px->clients, cl) {
        if (cl->state == CLIENT_READ_HEAD && !cl->head_started && !cl->free_pending &&
            evbuffer_get_length(bufferevent_get_input(cl->bev)) == 0) {
            client_free(cl);
            return 1;
        }
    }
    return 0;
}

void larder_client_accept(struct larder_proxy *px, evutil_socket_t fd,
                          const struct sockaddr *sa, socklen_t len)
{
    const struct larder_config *cfg = px->cfg;
    struct larder_client *cl;
    int one = 1;
    (void)len;

    if (px->nclients >= cfg->max_connections && !evict_idle(px)) {
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
            "Content-Length: 25\r\nConnection: close\r\n\r\ntoo many connections open\n";
        ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        px->stats->client_refused++;
        close(fd);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    cl = larder_xcalloc(1, sizeof(*cl));
    cl->px = px;
    cl->bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (cl->bev == NULL) {
        close(fd);
        free(cl);
        return;
    }
    cl->timer = evtimer_new(px->base, on_timer, cl);
    cl->scratch = evbuffer_new();
    cl->framed = evbuffer_new();
    cl->allowed = larder_acl_match(&cfg->client_allow, sa);
    cl->body_done = 1;
    addr_text(sa, cl->addr, sizeof(cl->addr));
    bufferevent_setcb(cl->bev, on_read, on_write, on_event, cl);
    bufferevent_setwatermark(cl->bev, EV_READ, 0, cfg->limits.max_head + 4096);
    bufferevent_setwatermark(cl->bev, EV_WRITE, OUT_LOWAT, 0);
    set_timeouts(cl, cfg->client_head_timeout);
    bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
    DL_APPEND(px->clients, cl);
    px->nclients++;
    px->stats->client_connections++;
    if (!cl->allowed)
        larder_log(LARDER_LOG_INFO, "client %s: not in client_allow", cl->addr);
}

void larder_client_close_idle(struct larder_proxy *px)
{
    struct larder_client *cl, *tmp;

    DL_FOREACH_SAFE(px->clients, cl, tmp) {
        if (cl->state == CLIENT_READ_HEAD && !cl->head_started && !cl->free_pending &&
            evbuffer_get_length(bufferevent_get_input(cl->bev)) == 0)
            client_free(cl);
        else
            cl->keepalive = 0;
    }
}

void larder_client_close_all(struct larder_proxy *px)
{
    while (px->clients != NULL)
        client_free(px->clients);
}
