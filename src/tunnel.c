/* SPDX-License-Identifier: MIT */
/* tunnel.c - CONNECT tunnels: connect, 200, splice with back-pressure and
 * half-close, idle timeout. */
#include "larder/tunnel.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <string.h>

#include "larder/config.h"
#include "larder/conn.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/upstream.h"
#include "larder/util.h"

#define SPLICE_HIWAT (256 * 1024) /* stop reading a side above this much queued */

struct side {
    struct larder_conn *conn;
    int eof;                  /* it will send nothing more */
    uint64_t bytes;           /* bytes read from it */
};

struct larder_tunnel {
    struct larder_proxy *px;
    struct side c, o;         /* client and origin */
    struct larder_upconn *uc;
    struct larder_upconnect *connecting;
    char *host;
    uint16_t port;
    larder_tunnel_done_cb done;
    void *arg;
    struct event *idle;
    uint64_t last_activity;
};

static void tunnel_end(struct larder_tunnel *t, const struct larder_failure *fail)
{
    larder_tunnel_done_cb done = t->done;
    void *arg = t->arg;
    uint64_t up = t->c.bytes, down = t->o.bytes;

    larder_tunnel_free(t);
    done(arg, fail, up, down);
}

static struct side *side_of(struct larder_tunnel *t, struct larder_conn *c)
{
    return c == t->c.conn ? &t->c : &t->o;
}

static struct side *other(struct larder_tunnel *t, struct side *s)
{
    return s == &t->c ? &t->o : &t->c;
}

/* The tunnel is over once both sides have ended and all they sent is out. */
static int settle(struct larder_tunnel *t)
{
    if (t->c.eof && t->o.eof && evbuffer_get_length(larder_conn_output(t->c.conn)) == 0 &&
        evbuffer_get_length(larder_conn_output(t->o.conn)) == 0) {
        tunnel_end(t, NULL);
        return -1;
    }
    return 0;
}

static void pump(struct larder_tunnel *t, struct side *from)
{
    struct side *to = other(t, from);
    struct evbuffer *in = larder_conn_input(from->conn);
    struct evbuffer *out = larder_conn_output(to->conn);
    size_t n = evbuffer_get_length(in);

    if (n == 0)
        return;
    from->bytes += n;
    t->last_activity = larder_now_ms();
    evbuffer_add_buffer(out, in);
    if (evbuffer_get_length(out) >= SPLICE_HIWAT)
        larder_conn_disable_read(from->conn);
}

static void on_read(struct larder_conn *c, void *arg)
{
    struct larder_tunnel *t = arg;
    pump(t, side_of(t, c));
}

static void on_write(struct larder_conn *c, void *arg)
{
    struct larder_tunnel *t = arg;
    struct side *to = side_of(t, c);
    struct side *from = other(t, to);

    t->last_activity = larder_now_ms();
    if (!from->eof && !larder_conn_reading(from->conn))
        larder_conn_enable_read(from->conn);
    settle(t);
}

static void on_event(struct larder_conn *c, short what, void *arg)
{
    struct larder_tunnel *t = arg;
    struct side *s = side_of(t, c);

    if (what & LARDER_CONN_EOF) {
        pump(t, s);
        s->eof = 1;
        /* pass the half-close on once what came before it is written */
        larder_conn_shutdown_write(other(t, s)->conn);
        settle(t);
        return;
    }
    if (what & (LARDER_CONN_ERROR | LARDER_CONN_TIMEOUT)) {
        larder_log(LARDER_LOG_DEBUG, "tunnel %s:%u: %s side failed", t->host,
                   (unsigned)t->port, s == &t->c ? "client" : "origin");
        tunnel_end(t, NULL);
    }
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    struct larder_tunnel *t = arg;
    uint64_t now = larder_now_ms(), limit = t->px->cfg->tunnel_idle_timeout;
    (void)fd;
    (void)what;

    if (now - t->last_activity >= limit) {
        larder_log(LARDER_LOG_INFO, "tunnel %s:%u: idle timeout", t->host, (unsigned)t->port);
        tunnel_end(t, NULL);
        return;
    }
    {
        uint64_t left = limit - (now - t->last_activity);
        struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
        evtimer_add(t->idle, &tv);
    }
}

static void on_connected(struct larder_upconn *uc, const struct larder_failure *fail,
                         void *arg)
{
    struct larder_tunnel *t = arg;
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    uint64_t limit = t->px->cfg->tunnel_idle_timeout;
    struct timeval tv = { (time_t)(limit / 1000), (suseconds_t)(limit % 1000) * 1000 };

    t->connecting = NULL;
    if (uc == NULL) {
        tunnel_end(t, fail);
        return;
    }
    t->uc = uc;
    t->o.conn = larder_upconn_conn(uc);
    t->last_activity = larder_now_ms();
    evbuffer_add(larder_conn_output(t->c.conn), established, sizeof(established) - 1);
    larder_conn_setcb(t->c.conn, on_read, on_write, on_event, t);
    larder_conn_setcb(t->o.conn, on_read, on_write, on_event, t);
    larder_conn_set_timeouts(t->c.conn, 0, 0);
    larder_conn_set_timeouts(t->o.conn, 0, 0);
    larder_conn_set_read_limit(t->c.conn, 0);
    larder_conn_set_read_limit(t->o.conn, 0);
    larder_conn_set_write_lowat(t->c.conn, SPLICE_HIWAT / 2);
    larder_conn_set_write_lowat(t->o.conn, SPLICE_HIWAT / 2);
    larder_conn_enable_read(t->c.conn);
    larder_conn_enable_read(t->o.conn);
    t->idle = evtimer_new(t->px->base, on_idle, t);
    evtimer_add(t->idle, &tv);
    /* the client may have sent its first bytes (a TLS hello) already */
    pump(t, &t->c);
}

struct larder_tunnel *larder_tunnel_start(struct larder_proxy *px, struct larder_conn *client,
                                          const char *host, uint16_t port,
                                          larder_tunnel_done_cb done, void *arg)
{
    struct larder_tunnel *t = larder_xcalloc(1, sizeof(*t));

    t->px = px;
    t->c.conn = client;
    t->host = larder_xstrdup(host);
    t->port = port;
    t->done = done;
    t->arg = arg;
    /* hold the client's bytes until the origin is there */
    larder_conn_disable_read(client);
    larder_conn_setcb(client, NULL, NULL, NULL, NULL);
    t->connecting = larder_upstream_connect(px->upstream, host, port, on_connected, t);
    return t;
}

void larder_tunnel_free(struct larder_tunnel *t)
{
    if (t == NULL)
        return;
    if (t->connecting != NULL)
        larder_upstream_connect_cancel(t->connecting);
    if (t->uc != NULL) {
        larder_conn_setcb(t->o.conn, NULL, NULL, NULL, NULL);
        larder_upstream_release(t->uc, 0);
    }
    if (t->idle != NULL)
        event_free(t->idle);
    larder_conn_setcb(t->c.conn, NULL, NULL, NULL, NULL);
    free(t->host);
    free(t);
}
