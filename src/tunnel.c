/* SPDX-License-Identifier: MIT */
/* tunnel.c - CONNECT tunnels: connect, 200, splice with back-pressure and
 * half-close, idle timeout. */
#include "larder/tunnel.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>
#include <sys/socket.h>

#include "larder/config.h"
#include "larder/log.h"
#include "larder/proxy.h"
#include "larder/upstream.h"
#include "larder/util.h"

#define SPLICE_HIWAT (256 * 1024) /* stop reading a side above this much queued */

struct side {
    struct bufferevent *bev;
    int eof;                  /* it will send nothing more */
    int shut;                 /* we have shut down writing toward it */
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

static struct side *other(struct larder_tunnel *t, struct side *s)
{
    return s == &t->c ? &t->o : &t->c;
}

/* Shuts down writing toward <to> once <from> has ended and everything it
 * sent has been written; ends the tunnel when both directions are done. */
static int settle(struct larder_tunnel *t)
{
    struct side *sides[2] = { &t->c, &t->o };

    for (int i = 0; i < 2; i++) {
        struct side *from = sides[i], *to = other(t, from);
        if (from->eof && !to->shut &&
            evbuffer_get_length(bufferevent_get_output(to->bev)) == 0) {
            shutdown(bufferevent_getfd(to->bev), SHUT_WR);
            to->shut = 1;
        }
    }
    if (t->c.shut && t->o.shut) {
        tunnel_end(t, NULL);
        return -1;
    }
    return 0;
}

static void pump(struct larder_tunnel *t, struct side *from)
{
    struct side *to = other(t, from);
    struct evbuffer *in = bufferevent_get_input(from->bev);
    struct evbuffer *out = bufferevent_get_output(to->bev);
    size_t n = evbuffer_get_length(in);

    if (n == 0)
        return;
    from->bytes += n;
    t->last_activity = larder_now_ms();
    evbuffer_add_buffer(out, in);
    if (evbuffer_get_length(out) >= SPLICE_HIWAT)
        bufferevent_disable(from->bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct larder_tunnel *t = arg;
    pump(t, bev == t->c.bev ? &t->c : &t->o);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct larder_tunnel *t = arg;
    struct side *to = bev == t->c.bev ? &t->c : &t->o;
    struct side *from = other(t, to);

    t->last_activity = larder_now_ms();
    if (!from->eof && evbuffer_get_length(bufferevent_get_output(bev)) < SPLICE_HIWAT / 2)
        bufferevent_enable(from->bev, EV_READ);
    settle(t);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct larder_tunnel *t = arg;
    struct side *s = bev == t->c.bev ? &t->c : &t->o;

    if (what & BEV_EVENT_EOF) {
        pump(t, s);
        s->eof = 1;
        settle(t);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        larder_log(LARDER_LOG_DEBUG, "tunnel %s:%u: %s side reset", t->host,
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
    t->o.bev = larder_upconn_bev(uc);
    t->last_activity = larder_now_ms();
    bufferevent_write(t->c.bev, established, sizeof(established) - 1);
    bufferevent_setcb(t->c.bev, on_read, on_write, on_event, t);
    bufferevent_setcb(t->o.bev, on_read, on_write, on_event, t);
    bufferevent_set_timeouts(t->c.bev, NULL, NULL);
    bufferevent_set_timeouts(t->o.bev, NULL, NULL);
    bufferevent_setwatermark(t->c.bev, EV_READ, 0, 0);
    bufferevent_setwatermark(t->c.bev, EV_WRITE, SPLICE_HIWAT / 2, 0);
    bufferevent_setwatermark(t->o.bev, EV_WRITE, SPLICE_HIWAT / 2, 0);
    bufferevent_enable(t->c.bev, EV_READ | EV_WRITE);
    bufferevent_enable(t->o.bev, EV_READ | EV_WRITE);
    t->idle = evtimer_new(t->px->base, on_idle, t);
    evtimer_add(t->idle, &tv);
    /* the client may have sent its first bytes (a TLS hello) already */
    pump(t, &t->c);
}

struct larder_tunnel *larder_tunnel_start(struct larder_proxy *px, struct bufferevent *client,
                                          const char *host, uint16_t port,
                                          larder_tunnel_done_cb done, void *arg)
{
    struct larder_tunnel *t = larder_xcalloc(1, sizeof(*t));

    t->px = px;
    t->c.bev = client;
    t->host = larder_xstrdup(host);
    t->port = port;
    t->done = done;
    t->arg = arg;
    /* hold the client's bytes until the origin is there */
    bufferevent_disable(client, EV_READ);
    bufferevent_setcb(client, NULL, NULL, NULL, NULL);
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
        bufferevent_setcb(t->o.bev, NULL, NULL, NULL, NULL);
        larder_upstream_release(t->uc, 0);
    }
    if (t->idle != NULL)
        event_free(t->idle);
    bufferevent_setcb(t->c.bev, NULL, NULL, NULL, NULL);
    free(t->host);
    free(t);
}
