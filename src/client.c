/* SPDX-License-Identifier: MIT */
/* client.c - one client connection: request heads in order, routing (cache,
 * pass-through, CONNECT, larder's own pages), keep-alive, timeouts, closing,
 * error responses and the access log line. */
#include "larder/client.h"

#include <arpa/inet.h>
#include <assert.h>
#include <event2/buffer.h>
#include "larder/conn.h"
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utlist.h>

#include "larder/acl.h"
#include "larder/admin.h"
#include "larder/config.h"
#include "larder/failure.h"
#include "larder/fetch.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/tunnel.h"
#include "larder/util.h"
#include "session.h"

#define LINGER_MS 2000 /* read and discard this long after our FIN */

static const char allow_methods[] =
    "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT";

static const char *const state_name[CLIENT_STATE_COUNT] = {
    "READ_HEAD", "ADMIN_BODY", "FORWARD", "WAIT_FILL", "SERVE", "TUNNEL", "CLOSING"
};

static void on_read(struct larder_conn *c, void *arg);
static void on_write(struct larder_conn *c, void *arg);
static void on_event(struct larder_conn *c, short what, void *arg);

void larder_client_set_state(struct larder_client *cl, enum client_state st)
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

void larder_client_set_timeouts(struct larder_client *cl, uint64_t read_ms)
{
    larder_conn_set_timeouts(cl->conn, read_ms, cl->px->cfg->upstream_read_timeout);
}

int larder_client_is_head(const struct larder_client *cl)
{
    return cl->method != NULL && strcmp(cl->method, "HEAD") == 0;
}

int larder_client_is_10(const struct larder_client *cl)
{
    return cl->req != NULL && cl->req->head.version < 11;
}

/* ---- lifetime ------------------------------------------------------------------- */

static void reset_request(struct larder_client *cl)
{
    larder_serve_release(cl);
    larder_http_msg_free(cl->req);
    cl->req = NULL;
    free(cl->method);
    cl->method = NULL;
    free(cl->host);
    cl->host = NULL;
    free(cl->key);
    cl->key = NULL;
    cl->resp_started = cl->resp_paused = cl->body_blocked = 0;
    cl->status = cl->upstream_status = 0;
    cl->bytes_out = cl->bytes_in = 0;
    cl->framing = OUT_NONE;
    cl->body_done = 1;
    memset(&cl->cs, 0, sizeof(cl->cs));
    cl->cs.kind = LARDER_CS_BYPASS;
}

static void client_free(struct larder_client *cl)
{
    struct larder_proxy *px = cl->px;

    larder_fetch_abort(cl->fetch);
    cl->fetch = NULL;
    larder_tunnel_free(cl->tunnel);
    reset_request(cl);
    event_free(cl->timer);
    event_free(cl->wake);
    larder_conn_free(cl->conn);
    evbuffer_free(cl->scratch);
    evbuffer_free(cl->framed);
    evbuffer_free(cl->headbuf);
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
    larder_conn_disable_read(cl->conn);
    event_active(cl->timer, EV_TIMEOUT, 0);
}

/* Flushes what is queued, sends our FIN, then reads and discards for a
 * moment, so a client still sending does not get a reset that destroys the
 * response it has not read yet. */
static void close_after_flush(struct larder_client *cl)
{
    larder_fetch_abort(cl->fetch);
    cl->fetch = NULL;
    larder_serve_release(cl);
    larder_client_set_state(cl, CLIENT_CLOSING);
    evtimer_del(cl->timer);
    larder_conn_set_read_limit(cl->conn, 0);
    if (!cl->peer_eof)
        larder_conn_enable_read(cl->conn);
    larder_client_set_timeouts(cl, 0);
    if (evbuffer_get_length(larder_conn_output(cl->conn)) == 0)
        on_write(cl->conn, cl);
}

static void reject_head(struct larder_client *cl, int status, const char *reason);

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct larder_client *cl = arg;
    (void)fd;
    (void)what;

    if (cl->free_pending)
        client_free(cl);
    else if (cl->state == CLIENT_READ_HEAD && cl->head_started)
        reject_head(cl, 408, "request head not received in time");
    else if (cl->state == CLIENT_WAIT_FILL)
        larder_serve_wait_expired(cl);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    larder_serve_on_wake(arg);
}

void larder_client_wake(struct larder_client *cl)
{
    event_active(cl->wake, EV_TIMEOUT, 0);
}

/* ---- logging -------------------------------------------------------------------- */

static void log_request(struct larder_client *cl)
{
    struct larder_access_entry e;
    char *url = NULL, saved = 0;
    uint64_t dur = larder_now_us() - cl->start_us;

    if (cl->req != NULL) {
        /* the target in our copy of the head is followed by a space: end it
         * there for a moment rather than copy it */
        url = (char *)cl->req->head.target;
        saved = url[cl->req->head.target_len];
        url[cl->req->head.target_len] = '\0';
    }
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
    larder_stats_request(cl->px->stats, cl->outcome, cl->host, cl->bytes_out, cl->bytes_in, dur);
    if (cl->outcome == LARDER_OUTCOME_ERROR)
        larder_stats_error(cl->px->stats, cl->error_kind);
    if (url != NULL)
        url[cl->req->head.target_len] = saved;
}

static void begin_request(struct larder_client *cl)
{
    cl->start_us = larder_now_us();
    gettimeofday(&cl->start_tv, NULL);
    cl->outcome = LARDER_OUTCOME_ERROR;
    cl->error_kind = LARDER_ERR_OTHER;
}

void larder_client_finish_response(struct larder_client *cl)
{
    log_request(cl);
    if (!cl->body_done || cl->px->draining)
        cl->keepalive = 0;
    if (!cl->keepalive) {
        close_after_flush(cl);
        return;
    }
    reset_request(cl);
    larder_client_set_state(cl, CLIENT_READ_HEAD);
    if (cl->peer_eof && evbuffer_get_length(larder_conn_input(cl->conn)) == 0) {
        close_after_flush(cl); /* nothing more will come */
        return;
    }
    larder_client_set_timeouts(cl, cl->px->cfg->keepalive_timeout);
    if (!cl->peer_eof)
        larder_conn_enable_read(cl->conn);
    /* a pipelined request may be waiting: take it from the loop */
    if (evbuffer_get_length(larder_conn_input(cl->conn)) > 0)
        larder_conn_trigger_read(cl->conn);
}

void larder_client_cut_short(struct larder_client *cl, const char *reason,
                             enum larder_error_kind kind)
{
    larder_log(LARDER_LOG_INFO, "client %s: response cut short: %s", cl->addr, reason);
    cl->outcome = LARDER_OUTCOME_ERROR;
    cl->error_kind = kind;
    cl->keepalive = 0;
    cl->reset = 1;
    log_request(cl);
    close_after_flush(cl);
}

/* ---- responses larder writes itself ------------------------------------------------ */

void larder_client_end_head(struct larder_client *cl, struct evbuffer *out,
                            const char *pre, size_t pre_len)
{
    char buf[800];
    size_t n = 0;

    if (pre_len > 0 && pre_len < 440) {
        memcpy(buf, pre, pre_len);
        n = pre_len;
    } else if (pre_len > 0) {
        evbuffer_add(out, pre, pre_len);
    }
    memcpy(buf + n, "Cache-Status: ", 14);
    n += 14;
    n += larder_freshness_cache_status(&cl->cs, "larder", buf + n, 256);
    if (n > 440 + 14 + 255)
        n = 440 + 14 + 255; /* truncated status: still one line */
    memcpy(buf + n, "\r\n", 2);
    n += 2;
    if (!cl->keepalive) {
        memcpy(buf + n, "Connection: close\r\n", 19);
        n += 19;
    } else if (larder_client_is_10(cl)) {
        memcpy(buf + n, "Connection: keep-alive\r\n", 24);
        n += 24;
    }
    memcpy(buf + n, "\r\n", 2);
    evbuffer_add(out, buf, n + 2);
}

const char *larder_client_date(struct larder_client *cl)
{
    int64_t now = larder_wall_s();

    if (now != cl->px->date_at) {
        larder_freshness_date_format(now, cl->px->date);
        cl->px->date_at = now;
    }
    return cl->px->date;
}

void larder_client_respond(struct larder_client *cl, int status, const char *fields,
                           const char *type, const char *body, size_t body_len)
{
    struct evbuffer *hb = cl->headbuf;
    const char *date = larder_client_date(cl);

    larder_http_add_status_line(hb, status, NULL, 0);
    /* larder speaks for itself here: it dates what it says (RFC 9110 6.6.1) */
    larder_http_add_field(hb, "Date", date, strlen(date));
    if (type != NULL)
        larder_http_add_field(hb, "Content-Type", type, strlen(type));
    larder_http_add_field_u64(hb, "Content-Length", body_len);
    if (fields != NULL)
        evbuffer_add(hb, fields, strlen(fields));
    larder_client_end_head(cl, hb, NULL, 0);
    if (!larder_client_is_head(cl))
        evbuffer_add(hb, body, body_len);
    cl->bytes_out += evbuffer_get_length(hb);
    evbuffer_add_buffer(larder_conn_output(cl->conn), hb);
    cl->status = status;
    cl->resp_started = 1;
}

void larder_client_send_error(struct larder_client *cl, int status, const char *reason,
                              enum larder_error_kind kind)
{
    char esc[512], body[1024];
    int n;

    larder_fetch_abort(cl->fetch);
    cl->fetch = NULL;
    larder_serve_release(cl);
    /* after a framing error, or with request body bytes unread, the next
     * request's start is unknown: close */
    if (cl->req == NULL || !cl->body_done || status == 400 || status == 408 ||
        status == 413 || status == 414 || status == 431 || status == 505)
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
    cl->error_kind = kind;
    larder_client_respond(cl, status, "Cache-Control: no-store\r\n", "text/html; charset=utf-8",
                          body, (size_t)n);
    larder_log(LARDER_LOG_INFO, "client %s: %d %s", cl->addr, status, reason);
    larder_client_finish_response(cl);
}

/* An error before a request head was complete: there is no request. */
static void reject_head(struct larder_client *cl, int status, const char *reason)
{
    evtimer_del(cl->timer);
    cl->head_started = 0;
    begin_request(cl);
    larder_client_send_error(cl, status, reason,
                             status == 408 ? LARDER_ERR_CLIENT_TIMEOUT : LARDER_ERR_BAD_REQUEST);
}

/* ---- CONNECT ---------------------------------------------------------------------- */

static void on_tunnel_done(void *arg, const struct larder_failure *fail,
                           uint64_t bytes_up, uint64_t bytes_down)
{
    struct larder_client *cl = arg;

    cl->tunnel = NULL;
    larder_conn_setcb(cl->conn, on_read, on_write, on_event, cl);
    if (fail != NULL) {
        cl->keepalive = 0;
        larder_client_send_error(cl, fail->status, fail->reason, fail->kind);
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
        larder_client_send_error(cl, 400, "CONNECT target is not host:port", LARDER_ERR_BAD_REQUEST);
        return;
    }
    cl->host = larder_xstrndup(u.host, u.host_len);
    if (!larder_ports_match(&cl->px->cfg->connect_ports, u.port)) {
        larder_client_send_error(cl, 403, "CONNECT to this port is not allowed", LARDER_ERR_DENIED);
        return;
    }
    if (!cl->body_done) {
        larder_client_send_error(cl, 400, "CONNECT with a body", LARDER_ERR_BAD_REQUEST);
        return;
    }
    larder_client_set_state(cl, CLIENT_TUNNEL);
    larder_client_set_timeouts(cl, 0);
    cl->tunnel = larder_tunnel_start(cl->px, cl->conn, cl->host, u.port, on_tunnel_done, cl);
}

/* ---- larder's own pages --------------------------------------------------------------- */

/* The authority of the absolute URI, "host[:port]", as a string to free. */
static char *url_authority(const struct larder_client *cl)
{
    size_t n = larder_url_host_field(&cl->url, NULL, 0);
    char *s = larder_xmalloc(n + 1);

    larder_url_host_field(&cl->url, s, n + 1);
    return s;
}

/* The value of request field <name> as a string to free, or NULL. */
static char *field_text(const struct larder_client *cl, const char *name)
{
    const struct larder_http_field *f = larder_http_get(&cl->req->head, name);

    return f != NULL ? larder_xstrndup(f->value, f->value_len) : NULL;
}

static void run_admin(struct larder_client *cl, const char *path, size_t path_len)
{
    struct larder_admin_request areq;
    struct larder_admin_response aresp;
    char *host_text = cl->req->head.form == LARDER_TARGET_ORIGIN ? field_text(cl, "host")
                                                                  : url_authority(cl);
    char *origin_text = field_text(cl, "origin");
    char *site_text = field_text(cl, "sec-fetch-site");
    size_t n;

    memset(&areq, 0, sizeof(areq));
    memset(&aresp, 0, sizeof(aresp));
    areq.method = cl->method;
    areq.path = path;
    areq.path_len = path_len;
    n = evbuffer_get_length(cl->scratch);
    areq.body = n > 0 ? (const char *)evbuffer_pullup(cl->scratch, (ev_ssize_t)n) : NULL;
    areq.body_len = n;
    areq.host = host_text;
    areq.origin = origin_text;
    areq.fetch_site = site_text;
    aresp.body = evbuffer_new();
    larder_admin_handle(cl->px, &areq, &aresp);
    cl->outcome = LARDER_OUTCOME_ADMIN;
    n = evbuffer_get_length(aresp.body);
    {
        char fields[300];
        snprintf(fields, sizeof(fields), "Cache-Control: no-store\r\n%s", aresp.fields);
        larder_client_respond(cl, aresp.status, fields, aresp.content_type,
                              (const char *)evbuffer_pullup(aresp.body, -1), n);
    }
    evbuffer_free(aresp.body);
    evbuffer_drain(cl->scratch, evbuffer_get_length(cl->scratch));
    free(host_text);
    free(origin_text);
    free(site_text);
    larder_client_finish_response(cl);
}

/* The path of an admin request: origin-form target, or the path of an
 * absolute URI naming larder itself. */
static void admin_path(const struct larder_client *cl, const char **path, size_t *len)
{
    if (cl->req->head.form == LARDER_TARGET_ORIGIN) {
        *path = cl->req->head.target;
        *len = cl->req->head.target_len;
    } else {
        *path = cl->url.path_len > 0 ? cl->url.path : "/";
        *len = cl->url.path_len > 0 ? cl->url.path_len : 1;
    }
}

/* Reads an admin request's (small) body, then answers. */
static void admin_body(struct larder_client *cl)
{
    const char *path;
    size_t len;
    int rc = larder_body_read(&cl->body, larder_conn_input(cl->conn), cl->scratch,
                              LARDER_ADMIN_MAX_BODY + 1);

    if (rc < 0) {
        larder_client_send_error(cl, 400, "malformed request body", LARDER_ERR_BAD_REQUEST);
        return;
    }
    if (evbuffer_get_length(cl->scratch) > LARDER_ADMIN_MAX_BODY) {
        larder_client_send_error(cl, 413, "request body too large for this page",
                                 LARDER_ERR_BAD_REQUEST);
        return;
    }
    if (rc == 0)
        return;
    cl->body_done = 1;
    larder_client_set_timeouts(cl, 0);
    admin_path(cl, &path, &len);
    run_admin(cl, path, len);
}

static void handle_admin(struct larder_client *cl)
{
    const char *path;
    size_t len;

    if (!cl->admin_allowed) {
        larder_client_send_error(cl, 403, "larder's own pages are not open to your address",
                                 LARDER_ERR_DENIED);
        return;
    }
    if (!cl->body_done) {
        larder_client_set_state(cl, CLIENT_ADMIN_BODY);
        admin_body(cl);
        return;
    }
    admin_path(cl, &path, &len);
    run_admin(cl, path, len);
}

static void handle_purge(struct larder_client *cl)
{
    const struct larder_http_head *h = &cl->req->head;
    unsigned n;
    char body[64];
    int len;

    if (!cl->admin_allowed) {
        larder_client_send_error(cl, 403, "PURGE is not open to your address", LARDER_ERR_DENIED);
        return;
    }
    n = larder_admin_purge(cl->px, h->target, h->target_len);
    len = snprintf(body, sizeof(body), "%u purged\n", n);
    cl->outcome = LARDER_OUTCOME_ADMIN;
    larder_client_respond(cl, n > 0 ? 200 : 404, "Cache-Control: no-store\r\n",
                          "text/plain; charset=utf-8", body, (size_t)len);
    larder_client_finish_response(cl);
}

/* Whether the absolute URI names one of larder's listening addresses. */
static int targets_self(const struct larder_client *cl)
{
    struct sockaddr_storage ss;
    char host[64];

    size_t i;

    /* a port larder does not listen on settles it without parsing */
    for (i = 0; i < cl->px->nlisten; i++) {
        const struct sockaddr *l = (const struct sockaddr *)&cl->px->listen_addrs[i];
        uint16_t port = l->sa_family == AF_INET
                            ? ntohs(((const struct sockaddr_in *)l)->sin_port)
                            : ntohs(((const struct sockaddr_in6 *)l)->sin6_port);
        if (port == cl->url.port)
            break;
    }
    if (i == cl->px->nlisten)
        return 0;
    memset(&ss, 0, sizeof(ss));
    if (cl->url.host_len >= sizeof(host))
        return 0;
    memcpy(host, cl->url.host, cl->url.host_len);
    host[cl->url.host_len] = '\0';
    if (strcasecmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(cl->url.port);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(cl->url.port);
    } else {
        return 0;
    }
    return larder_proxy_is_self((const struct sockaddr *)&ss, cl->px);
}

/* ---- routing ------------------------------------------------------------------------ */

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
    if (!cl->body_done)
        larder_client_set_timeouts(cl, cfg->client_body_timeout);

    if (!cl->allowed) {
        larder_client_send_error(cl, 403, "your address may not use this proxy", LARDER_ERR_DENIED);
        return;
    }
    /* whatever its form: a request larder itself sent here (to its own
     * pages too, or a tunnel to itself) is a loop */
    if (via_loop(cl)) {
        larder_client_send_error(cl, 403, "forwarding loop: the request already passed through this proxy",
                                 LARDER_ERR_DENIED);
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
        larder_client_respond(cl, 200, fields, NULL, "", 0);
        larder_client_finish_response(cl);
        return;
    }
    case LARDER_TARGET_ORIGIN:
        handle_admin(cl);
        return;
    default:
        break;
    }
    if (!(h->target_len > 5 && strncasecmp(h->target, "http:", 5) == 0)) {
        larder_client_send_error(cl, 501, "only http:// URLs are fetched; https:// goes through CONNECT",
                                 LARDER_ERR_BAD_REQUEST);
        return;
    }
    reason = larder_url_parse_absolute(h->target, h->target_len, &cl->url);
    if (reason != NULL) {
        larder_client_send_error(cl, 400, reason, LARDER_ERR_BAD_REQUEST);
        return;
    }
    if (targets_self(cl)) {
        handle_admin(cl);
        return;
    }
    cl->host = larder_xstrndup(cl->url.host, cl->url.host_len);
    if (strcmp(cl->method, "PURGE") == 0) {
        handle_purge(cl);
        return;
    }
    if (strcmp(cl->method, "GET") == 0 || strcmp(cl->method, "HEAD") == 0)
        larder_serve_request(cl);
    else
        larder_forward_start(cl);
}

/* ---- reading heads -------------------------------------------------------------------- */

/* Part of a head is here: from now on it must be complete within
 * client_head_timeout, however slowly it trickles (a head that arrives in
 * one read never starts this clock). */
static void head_incomplete(struct larder_client *cl)
{
    if (cl->peer_eof) {
        close_after_flush(cl); /* the rest of this head will never come */
        return;
    }
    if (!cl->head_started) {
        struct timeval tv = ms_tv(cl->px->cfg->client_head_timeout);
        cl->head_started = 1;
        evtimer_add(cl->timer, &tv);
        larder_client_set_timeouts(cl, cl->px->cfg->client_head_timeout);
    }
}

static void read_heads(struct larder_client *cl)
{
    const struct larder_config *cfg = cl->px->cfg;
    struct evbuffer *in = larder_conn_input(cl->conn);
    size_t len = evbuffer_get_length(in), take;
    struct larder_http_head h;
    const char *p;
    int n;

    if (len == 0 || cl->state != CLIENT_READ_HEAD)
        return;
    if (evbuffer_get_length(larder_conn_output(cl->conn)) >= OUT_HIWAT) {
        /* answers are piling up unread: take no more requests until the
         * client reads (on_write resumes) */
        cl->wait_drain = 1;
        larder_conn_disable_read(cl->conn);
        return;
    }
    /* parse again only once a line has ended or a limit may be crossed:
     * a head trickling in byte by byte costs one parse per line */
    if (len <= cfg->limits.max_line && len <= cfg->limits.max_head) {
        struct evbuffer_ptr ptr;
        evbuffer_ptr_set(in, &ptr, cl->scanned, EVBUFFER_PTR_SET);
        if (evbuffer_search(in, "\n", 1, &ptr).pos < 0) {
            cl->scanned = len;
            head_incomplete(cl);
            return;
        }
    }
    take = len < cfg->limits.max_head + 1 ? len : cfg->limits.max_head + 1;
    p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
    larder_http_head_init(&h, cl->px->scratch, cfg->limits.max_fields);
    n = larder_http_parse_request(p, take, &cfg->limits, &h);
    if (n == LARDER_PARSE_INCOMPLETE) {
        cl->scanned = len;
        head_incomplete(cl);
        return;
    }
    if (cl->head_started) {
        evtimer_del(cl->timer);
        cl->head_started = 0;
    }
    cl->scanned = 0;
    begin_request(cl);
    if (n == LARDER_PARSE_ERROR) {
        larder_client_send_error(cl, h.error_status, h.error_reason, LARDER_ERR_BAD_REQUEST);
        return;
    }
    cl->req = larder_http_msg_new(p, (size_t)n, &h);
    evbuffer_drain(in, (size_t)n);
    handle_request(cl);
}

/* ---- connection callbacks ------------------------------------------------------------ */

static void on_read(struct larder_conn *c, void *arg)
{
    struct larder_client *cl = arg;

    switch (cl->state) {
    case CLIENT_READ_HEAD:
        read_heads(cl);
        /* an answer ready at once (a hit) goes out before the next client
         * is heard: the loop's batch does not add to its latency */
        if (!cl->free_pending)
            larder_conn_write_now(c);
        break;
    case CLIENT_ADMIN_BODY:
        admin_body(cl);
        break;
    case CLIENT_FORWARD:
        if (!cl->body_done)
            larder_forward_pump_body(cl);
        break;
    case CLIENT_CLOSING:
        evbuffer_drain(larder_conn_input(c), evbuffer_get_length(larder_conn_input(c)));
        break;
    default:
        break; /* pipelined bytes wait for their turn */
    }
}

static void on_write(struct larder_conn *c, void *arg)
{
    struct larder_client *cl = arg;
    size_t left = evbuffer_get_length(larder_conn_output(c));

    if (cl->wait_drain && left <= OUT_LOWAT && cl->state == CLIENT_READ_HEAD) {
        cl->wait_drain = 0;
        if (!cl->peer_eof)
            larder_conn_enable_read(cl->conn);
        larder_conn_trigger_read(cl->conn);
    }
    if (cl->state == CLIENT_FORWARD && left <= OUT_LOWAT)
        larder_forward_on_writable(cl);
    else if (cl->state == CLIENT_SERVE && left <= OUT_LOWAT)
        larder_serve_pump(cl);
    if (cl->state == CLIENT_CLOSING && left == 0 && !cl->shut && !cl->free_pending) {
        if (cl->reset) {
            larder_conn_set_reset(c);
            free_later(cl);
            return;
        }
        if (cl->peer_eof) {
            free_later(cl);
            return;
        }
        cl->shut = 1;
        larder_conn_shutdown_write(c);
        larder_client_set_timeouts(cl, LINGER_MS);
    }
}

static void on_event(struct larder_conn *c, short what, void *arg)
{
    struct larder_client *cl = arg;
    (void)c;

    if (what & LARDER_CONN_TIMEOUT) {
        if ((what & LARDER_CONN_READING) && cl->state == CLIENT_READ_HEAD && cl->head_started) {
            reject_head(cl, 408, "request head not received in time");
            return;
        }
        if ((what & LARDER_CONN_READING) && !cl->resp_started && !cl->body_done &&
            (cl->state == CLIENT_FORWARD || cl->state == CLIENT_ADMIN_BODY)) {
            larder_client_send_error(cl, 408, "request body not received in time",
                                     LARDER_ERR_CLIENT_TIMEOUT);
            return;
        }
        if ((what & LARDER_CONN_READING) && cl->body_done &&
            (cl->state == CLIENT_FORWARD || cl->state == CLIENT_WAIT_FILL ||
             cl->state == CLIENT_SERVE))
            return; /* larder is the one answering: the write timeout guards it */
        client_free(cl);
        return;
    }
    if (what & LARDER_CONN_EOF) {
        cl->peer_eof = 1;
        switch (cl->state) {
        case CLIENT_FORWARD:
        case CLIENT_WAIT_FILL:
        case CLIENT_SERVE:
            /* a client that half-closes after its requests still gets the
             * answers (RFC 9112 9.6); finish_response decides what's next */
            if (cl->body_done)
                return;
            break;
        case CLIENT_TUNNEL:
            return;
        case CLIENT_READ_HEAD:
            /* answer what is complete in the input, then close */
            if (evbuffer_get_length(larder_conn_input(cl->conn)) > 0) {
                read_heads(cl);
                if (cl->state == CLIENT_READ_HEAD && !cl->free_pending)
                    close_after_flush(cl);
                return;
            }
            if (evbuffer_get_length(larder_conn_output(cl->conn)) > 0) {
                close_after_flush(cl);
                return;
            }
            break; /* nothing to say: free it now */
        case CLIENT_CLOSING:
            if (!cl->shut && evbuffer_get_length(larder_conn_output(cl->conn)) > 0)
                return; /* on_write frees once the answer is out */
            break;
        default:
            break;
        }
        client_free(cl);
        return;
    }
    if (what & LARDER_CONN_ERROR)
        client_free(cl);
}

/* ---- accepting ------------------------------------------------------------------------ */

static void addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s", ip);
}

static int is_idle(const struct larder_client *cl)
{
    return cl->state == CLIENT_READ_HEAD && !cl->head_started && !cl->free_pending &&
           evbuffer_get_length(larder_conn_input(cl->conn)) == 0;
}

/* Makes room under max_connections by closing a connection that sits idle
 * between requests. Returns 1 when one was closed. */
static int evict_idle(struct larder_proxy *px)
{
    struct larder_client *cl;

    DL_FOREACH(px->clients, cl) {
        if (is_idle(cl)) {
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
            "Content-Length: 26\r\nConnection: close\r\n\r\ntoo many connections open\n";
        ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        larder_stats_client_refused(px->stats);
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    cl = larder_xcalloc(1, sizeof(*cl));
    cl->px = px;
    cl->conn = larder_conn_new(px->base, fd);
    cl->timer = evtimer_new(px->base, on_timer, cl);
    cl->wake = event_new(px->base, -1, 0, on_wake, cl);
    cl->scratch = evbuffer_new();
    cl->framed = evbuffer_new();
    cl->headbuf = evbuffer_new();
    cl->allowed = larder_acl_match(&cfg->client_allow, sa);
    cl->admin_allowed = larder_acl_match(&cfg->admin_allow, sa);
    cl->body_done = 1;
    cl->cs.kind = LARDER_CS_BYPASS;
    addr_text(sa, cl->addr, sizeof(cl->addr));
    larder_conn_setcb(cl->conn, on_read, on_write, on_event, cl);
    larder_conn_set_read_limit(cl->conn, cfg->limits.max_head + 4096);
    larder_conn_set_write_lowat(cl->conn, OUT_LOWAT);
    larder_client_set_timeouts(cl, cfg->client_head_timeout);
    larder_conn_enable_read(cl->conn);
    DL_APPEND(px->clients, cl);
    px->nclients++;
    larder_stats_client_accepted(px->stats);
    if (!cl->allowed)
        larder_log(LARDER_LOG_INFO, "client %s: not in client_allow", cl->addr);
}

void larder_client_close_idle(struct larder_proxy *px)
{
    struct larder_client *cl, *tmp;

    DL_FOREACH_SAFE(px->clients, cl, tmp) {
        if (is_idle(cl))
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
