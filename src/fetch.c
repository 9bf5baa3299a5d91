/* SPDX-License-Identifier: MIT */
/* fetch.c - one exchange with an origin: connection, request out, interim and
 * final heads in, the response body de-framed with back-pressure, one retry
 * on a fresh connection, and the connection back to the pool. */
#include "larder/fetch.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <string.h>

#include "larder/body.h"
#include "larder/config.h"
#include "larder/conn.h"
#include "larder/failure.h"
#include "larder/http_msg.h"
#include "larder/http_parse.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/upstream.h"
#include "larder/util.h"

#define WRITE_LOWAT (64 * 1024) /* ask the sink for more request body below this */

enum fetch_state {
    F_CONNECTING = 0,         /* waiting for a connection */
    F_HEAD,                   /* request going out, waiting for the final head */
    F_BODY,                   /* reading the response body */
    F_DONE,                   /* on_end called */
    F_STATE_COUNT             /* keep last */
};

struct larder_fetch {
    struct larder_proxy *px;
    const struct larder_fetch_ops *ops;
    void *arg;
    char *host;
    uint16_t port;
    char *method;
    int has_body;             /* request body comes through larder_fetch_write */
    int req_done;             /* all request bytes handed to us */
    int retryable;            /* idempotent without a body: may be sent twice */
    int retried;
    int got_bytes;            /* any response byte arrived on this connection */
    int paused;
    int resp_keepalive;       /* the origin allows reuse after this response */
    int in_cb;                /* inside a sink callback */
    int dead;                 /* aborted by the sink while in a callback */
    enum fetch_state state;
    struct evbuffer *pending; /* request bytes waiting for a connection (or NULL) */
    char *head_copy;          /* the request head again, for the retry */
    size_t head_len;
    struct larder_upconnect *connecting;
    struct larder_upconn *uc;
    struct larder_body_reader body;
    int status;
    uint64_t bytes_in;
};

static void fetch_free(struct larder_fetch *f)
{
    if (f->connecting != NULL)
        larder_upstream_connect_cancel(f->connecting);
    if (f->uc != NULL) {
        larder_conn_setcb(larder_upconn_conn(f->uc), NULL, NULL, NULL, NULL);
        larder_upstream_release(f->uc, 0);
    }
    if (f->pending != NULL)
        evbuffer_free(f->pending);
    free(f); /* host, method and head copy live in the same allocation */
}

/* Brackets a sink callback. Returns -1 when the sink aborted the fetch in
 * it; the fetch is freed then and the caller must return at once. */
static void enter_cb(struct larder_fetch *f)
{
    f->in_cb++;
}

static int leave_cb(struct larder_fetch *f)
{
    f->in_cb--;
    if (f->dead && f->in_cb == 0) {
        fetch_free(f);
        return -1;
    }
    return 0;
}

static void set_timeouts(struct larder_fetch *f)
{
    const struct larder_config *cfg = f->px->cfg;
    uint64_t r = f->state == F_BODY ? cfg->upstream_read_timeout
                                    : cfg->upstream_first_byte_timeout;

    /* while the request body is still going out, only writing is timed */
    larder_conn_set_timeouts(larder_upconn_conn(f->uc),
                             f->req_done || f->state == F_BODY ? r : 0,
                             cfg->upstream_read_timeout);
}

/* Ends the exchange: settles the connection, tells the sink, frees. */
static void finish(struct larder_fetch *f, const struct larder_failure *fail)
{
    if (f->uc != NULL) {
        struct larder_conn *c = larder_upconn_conn(f->uc);
        int reusable = fail == NULL && f->resp_keepalive && f->req_done &&
                       f->body.kind != LARDER_BODY_CLOSE &&
                       evbuffer_get_length(larder_conn_input(c)) == 0;
        larder_conn_setcb(c, NULL, NULL, NULL, NULL);
        larder_upstream_release(f->uc, reusable);
        f->uc = NULL;
    }
    if (fail != NULL)
        larder_log(LARDER_LOG_INFO, "fetch %s:%u: %s", f->host, (unsigned)f->port, fail->reason);
    f->state = F_DONE;
    enter_cb(f);
    f->ops->on_end(f->arg, fail);
    f->in_cb--;
    fetch_free(f);
}

static void on_connected(struct larder_upconn *uc, const struct larder_failure *fail,
                         void *arg);

static int can_retry(const struct larder_fetch *f)
{
    return f->uc != NULL && larder_upconn_reused(f->uc) && !f->retried && f->retryable &&
           !f->got_bytes && f->state == F_HEAD;
}

static void retry(struct larder_fetch *f)
{
    larder_log(LARDER_LOG_DEBUG, "fetch %s:%u: reused connection failed, retrying",
               f->host, (unsigned)f->port);
    larder_conn_setcb(larder_upconn_conn(f->uc), NULL, NULL, NULL, NULL);
    larder_upstream_release(f->uc, 0);
    f->uc = NULL;
    f->retried = 1;
    f->state = F_CONNECTING;
    if (f->pending == NULL)
        f->pending = evbuffer_new();
    evbuffer_drain(f->pending, evbuffer_get_length(f->pending));
    evbuffer_add(f->pending, f->head_copy, f->head_len);
    f->connecting = larder_upstream_connect(f->px->upstream, f->host, f->port, on_connected, f);
}

/* ---- reading the response ------------------------------------------------ */

/* Returns 1 when a head was consumed (read on), 0 to wait, -1 when f is gone. */
static int read_head(struct larder_fetch *f, struct evbuffer *in)
{
    const struct larder_config *cfg = f->px->cfg;
    size_t len = evbuffer_get_length(in);
    size_t take = len < cfg->limits.max_head ? len : cfg->limits.max_head;
    struct larder_http_head h;
    struct larder_http_msg *msg;
    const char *p;
    int n;

    if (len == 0)
        return 0;
    p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
    larder_http_head_init(&h, f->px->scratch, cfg->limits.max_fields);
    n = larder_http_parse_response(p, take, &cfg->limits, f->method, strlen(f->method), &h);
    if (n == LARDER_PARSE_INCOMPLETE) {
        if (len >= cfg->limits.max_head) {
            finish(f, &larder_fail_head_too_large);
            return -1;
        }
        return 0;
    }
    if (n == LARDER_PARSE_ERROR) {
        larder_log(LARDER_LOG_INFO, "fetch %s:%u: malformed response: %s", f->host,
                   (unsigned)f->port, h.error_reason);
        finish(f, &larder_fail_bad_response);
        return -1;
    }
    if (h.status < 200) {
        if (h.status == 101) {
            finish(f, &larder_fail_unexpected_101);
            return -1;
        }
        if (f->ops->on_interim != NULL) {
            enter_cb(f);
            f->ops->on_interim(f->arg, &h);
            if (leave_cb(f) < 0)
                return -1;
        }
        evbuffer_drain(in, (size_t)n);
        f->bytes_in += (uint64_t)n;
        return 1;
    }
    msg = larder_http_msg_new(p, (size_t)n, &h);
    evbuffer_drain(in, (size_t)n);
    f->bytes_in += (uint64_t)n;
    f->status = h.status;
    f->resp_keepalive = !(h.flags & LARDER_HEAD_F_CONN_CLOSE) &&
                        (h.version >= 11 || (h.flags & LARDER_HEAD_F_CONN_KEEPALIVE));
    larder_body_reader_init(&f->body, h.body, h.content_length, &cfg->limits);
    f->state = F_BODY;
    set_timeouts(f);
    enter_cb(f);
    f->ops->on_head(f->arg, msg);
    if (leave_cb(f) < 0)
        return -1;
    if (f->body.done) {
        finish(f, NULL);
        return -1;
    }
    return 1;
}

/* Returns 0 to wait for more, -1 when f is gone. */
static int read_body(struct larder_fetch *f, struct evbuffer *in)
{
    while (!f->paused) {
        size_t before = evbuffer_get_length(in);
        struct evbuffer *decoded = f->px->decoded;
        int rc = larder_body_read(&f->body, in, decoded, SIZE_MAX);

        f->bytes_in += before - evbuffer_get_length(in);
        if (evbuffer_get_length(decoded) > 0) {
            enter_cb(f);
            f->ops->on_body(f->arg, decoded);
            if (leave_cb(f) < 0)
                return -1;
            evbuffer_drain(decoded, evbuffer_get_length(decoded));
        }
        if (rc < 0) {
            larder_log(LARDER_LOG_INFO, "fetch %s:%u: bad response body: %s", f->host,
                       (unsigned)f->port, f->body.error);
            finish(f, &larder_fail_bad_body);
            return -1;
        }
        if (rc == 1) {
            finish(f, NULL);
            return -1;
        }
        if (evbuffer_get_length(in) == before)
            break;
    }
    return 0;
}

static void on_read(struct larder_conn *c, void *arg)
{
    struct larder_fetch *f = arg;
    struct evbuffer *in = larder_conn_input(c);

    if (evbuffer_get_length(in) > 0)
        f->got_bytes = 1;
    while (f->state == F_HEAD) {
        int rc = read_head(f, in);
        if (rc < 0)
            return;
        if (rc == 0)
            break;
    }
    if (f->state == F_BODY)
        read_body(f, in);
}

static void on_write(struct larder_conn *c, void *arg)
{
    struct larder_fetch *f = arg;
    (void)c;

    if (f->has_body && !f->req_done && f->ops->on_drain != NULL) {
        enter_cb(f);
        f->ops->on_drain(f->arg);
        leave_cb(f);
    }
}

static void on_event(struct larder_conn *c, short what, void *arg)
{
    struct larder_fetch *f = arg;

    if (what & LARDER_CONN_TIMEOUT) {
        if (what & LARDER_CONN_WRITING)
            finish(f, &larder_fail_write_timeout);
        else if (f->state == F_HEAD)
            finish(f, &larder_fail_first_byte_timeout);
        else
            finish(f, &larder_fail_read_timeout);
        return;
    }
    if (what & (LARDER_CONN_EOF | LARDER_CONN_ERROR)) {
        if (f->state == F_HEAD) {
            if (can_retry(f)) {
                retry(f);
                return;
            }
            finish(f, f->got_bytes ? &larder_fail_closed_in_head : &larder_fail_no_answer);
            return;
        }
        if (f->state == F_BODY) {
            /* anything still buffered was handed on by on_read already */
            if ((what & LARDER_CONN_EOF) && larder_body_reader_eof(&f->body) == 1 &&
                evbuffer_get_length(larder_conn_input(c)) == 0)
                finish(f, NULL);
            else
                finish(f, &larder_fail_truncated);
        }
    }
}

static void attach(struct larder_fetch *f, struct larder_upconn *uc)
{
    struct larder_conn *c = larder_upconn_conn(uc);

    f->uc = uc;
    f->state = F_HEAD;
    f->got_bytes = 0;
    larder_conn_setcb(c, on_read, on_write, on_event, f);
    larder_conn_set_write_lowat(c, WRITE_LOWAT);
    larder_conn_set_read_limit(c, 0);
    if (f->pending != NULL)
        evbuffer_add_buffer(larder_conn_output(c), f->pending);
    set_timeouts(f);
    larder_conn_enable_read(c);
}

static void on_connected(struct larder_upconn *uc, const struct larder_failure *fail,
                         void *arg)
{
    struct larder_fetch *f = arg;

    f->connecting = NULL;
    if (uc == NULL) {
        finish(f, fail);
        return;
    }
    attach(f, uc);
}

/* ---- API ------------------------------------------------------------------- */

static int idempotent(const char *m)
{
    static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", NULL };
    for (const char *const *s = safe; *s != NULL; s++)
        if (strcmp(m, *s) == 0)
            return 1;
    return 0;
}

struct larder_fetch *larder_fetch_start(struct larder_proxy *px,
                                        const struct larder_fetch_spec *spec,
                                        const struct larder_fetch_ops *ops, void *arg)
{
    size_t hl = strlen(spec->host), ml = strlen(spec->method);
    int retryable = idempotent(spec->method) && !spec->has_body;
    size_t head_len = evbuffer_get_length(spec->head);
    struct larder_fetch *f;
    struct larder_upconn *uc;
    char *p;

    /* one allocation: the fetch, its host and method, and for a request
     * that may be sent twice, a copy of its head */
    f = larder_xmalloc(sizeof(*f) + hl + ml + 2 + (retryable ? head_len : 0));
    memset(f, 0, sizeof(*f));
    p = (char *)(f + 1);
    f->host = memcpy(p, spec->host, hl + 1);
    f->method = memcpy(p + hl + 1, spec->method, ml + 1);
    f->px = px;
    f->ops = ops;
    f->arg = arg;
    f->port = spec->port;
    f->has_body = spec->has_body;
    f->req_done = !spec->has_body;
    f->retryable = retryable;
    f->state = F_CONNECTING;
    if (retryable) {
        f->head_copy = p + hl + ml + 2;
        f->head_len = head_len;
        evbuffer_copyout(spec->head, f->head_copy, head_len);
    }
    uc = larder_upstream_take_idle(px->upstream, spec->host, spec->port);
    if (uc != NULL) {
        evbuffer_add_buffer(larder_conn_output(larder_upconn_conn(uc)), spec->head);
        attach(f, uc);
    } else {
        f->pending = evbuffer_new();
        evbuffer_add_buffer(f->pending, spec->head);
        f->connecting = larder_upstream_connect(px->upstream, f->host, f->port, on_connected, f);
    }
    return f;
}

void larder_fetch_set_sink(struct larder_fetch *f, const struct larder_fetch_ops *ops,
                           void *arg)
{
    f->ops = ops;
    f->arg = arg;
}

void larder_fetch_write(struct larder_fetch *f, struct evbuffer *data)
{
    if (f->uc != NULL) {
        evbuffer_add_buffer(larder_conn_output(larder_upconn_conn(f->uc)), data);
    } else {
        if (f->pending == NULL)
            f->pending = evbuffer_new();
        evbuffer_add_buffer(f->pending, data);
    }
}

void larder_fetch_write_done(struct larder_fetch *f)
{
    f->req_done = 1;
    if (f->uc != NULL)
        set_timeouts(f);
}

size_t larder_fetch_backlog(const struct larder_fetch *f)
{
    size_t n = f->pending != NULL ? evbuffer_get_length(f->pending) : 0;
    if (f->uc != NULL)
        n += evbuffer_get_length(larder_conn_output(larder_upconn_conn(f->uc)));
    return n;
}

void larder_fetch_pause(struct larder_fetch *f)
{
    f->paused = 1;
    if (f->uc != NULL)
        larder_conn_disable_read(larder_upconn_conn(f->uc));
}

void larder_fetch_resume(struct larder_fetch *f)
{
    if (!f->paused)
        return;
    f->paused = 0;
    if (f->uc != NULL) {
        struct larder_conn *c = larder_upconn_conn(f->uc);
        larder_conn_enable_read(c);
        /* bytes that arrived before the pause: hand them on from the loop */
        if (evbuffer_get_length(larder_conn_input(c)) > 0)
            larder_conn_trigger_read(c);
    }
}

void larder_fetch_abort(struct larder_fetch *f)
{
    if (f == NULL)
        return;
    if (f->in_cb > 0) {
        f->dead = 1;
        return;
    }
    fetch_free(f);
}

uint64_t larder_fetch_bytes_in(const struct larder_fetch *f)
{
    return f->bytes_in;
}

int larder_fetch_status(const struct larder_fetch *f)
{
    return f->status;
}
