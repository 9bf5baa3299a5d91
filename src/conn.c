/* SPDX-License-Identifier: MIT */
/* conn.c - buffered non-blocking sockets on the event loop: one readv per
 * readable event, output written at the end of the loop turn it was queued
 * in, writability polled only while the kernel is full. */
#include "larder/conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "larder/util.h"

#define READ_MIN (16 * 1024)   /* first read size; grows while reads fill it */
#define READ_MAX (256 * 1024)

struct larder_conn {
    struct event_base *base;
    evutil_socket_t fd;
    struct evbuffer *in, *out;
    struct event *rev;            /* readable (persistent, read timeout) */
    struct event *wev;            /* writable or connected (persistent) */
    struct event *flush;          /* deferred write of what was queued */
    struct event *kick;           /* deferred read callback */
    larder_conn_cb read_cb, write_cb;
    larder_conn_event_cb event_cb;
    void *arg;
    uint64_t read_ms, write_ms;
    size_t hiwat, lowat;
    size_t read_size;
    int connect_errno;            /* a connect that failed at once */
    unsigned reading : 1;         /* the owner wants input */
    unsigned read_paused : 1;     /* input is at the high-water mark */
    unsigned rev_added : 1;
    unsigned wev_added : 1;
    unsigned connecting : 1;
    unsigned shut_pending : 1;    /* FIN once the output is written */
    unsigned shut_done : 1;
    unsigned flush_pending : 1;   /* the flush event is active */
    unsigned write_cb_due : 1;    /* a direct write left the output low */
};

static struct timeval ms_tv(uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    return tv;
}

static void add_with_timeout(struct event *ev, uint64_t ms)
{
    struct timeval tv = ms_tv(ms);
    event_add(ev, ms ? &tv : NULL);
}

/* ---- reading -------------------------------------------------------------------- */

static void update_read(struct larder_conn *c)
{
    int want = c->reading && !c->read_paused && !c->connecting;

    if (want && !c->rev_added) {
        add_with_timeout(c->rev, c->read_ms);
        c->rev_added = 1;
    } else if (!want && c->rev_added) {
        event_del(c->rev);
        c->rev_added = 0;
    }
}

static void do_read(struct larder_conn *c)
{
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    int nv = evbuffer_reserve_space(c->in, (ev_ssize_t)c->read_size, v, 2);
    ssize_t n;

    if (nv <= 0)
        return;
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    n = readv(c->fd, iov, nv);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        c->reading = 0;
        update_read(c);
        if (c->event_cb != NULL)
            c->event_cb(c, LARDER_CONN_ERROR | LARDER_CONN_READING, c->arg);
        return;
    }
    if (n == 0) {
        c->reading = 0;
        update_read(c);
        if (c->event_cb != NULL)
            c->event_cb(c, LARDER_CONN_EOF | LARDER_CONN_READING, c->arg);
        return;
    }
    if ((size_t)n <= v[0].iov_len) {
        v[0].iov_len = (size_t)n;
        nv = 1;
    } else {
        v[1].iov_len = (size_t)n - v[0].iov_len;
    }
    evbuffer_commit_space(c->in, v, nv);
    if ((size_t)n == c->read_size && c->read_size < READ_MAX)
        c->read_size *= 2;
    if (c->hiwat > 0 && evbuffer_get_length(c->in) >= c->hiwat) {
        c->read_paused = 1;
        update_read(c);
    }
    if (c->read_cb != NULL)
        c->read_cb(c, c->arg);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct larder_conn *c = arg;
    (void)fd;

    if (what & EV_TIMEOUT) {
        if (c->event_cb != NULL)
            c->event_cb(c, LARDER_CONN_TIMEOUT | LARDER_CONN_READING, c->arg);
        return;
    }
    do_read(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct larder_conn *c = arg;
    (void)fd;
    (void)what;

    if (c->read_cb != NULL)
        c->read_cb(c, c->arg);
}

/* The input was drained: take reading up again below the high-water mark. */
static void on_input_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct larder_conn *c = arg;

    if (info->n_deleted > 0 && c->read_paused && evbuffer_get_length(buf) < c->hiwat) {
        c->read_paused = 0;
        update_read(c);
    }
}

/* ---- writing -------------------------------------------------------------------- */

static void do_write(struct larder_conn *c)
{
    size_t len = evbuffer_get_length(c->out);
    int wrote = 0;

    if (c->connecting)
        return;
    if (len > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            if (c->wev_added) {
                event_del(c->wev);
                c->wev_added = 0;
            }
            if (c->event_cb != NULL)
                c->event_cb(c, LARDER_CONN_ERROR | LARDER_CONN_WRITING, c->arg);
            return;
        }
        wrote = n > 0;
        len = evbuffer_get_length(c->out);
    }
    if (len > 0) {
        if (!c->wev_added) {
            add_with_timeout(c->wev, c->write_ms);
            c->wev_added = 1;
        }
    } else {
        if (c->wev_added) {
            event_del(c->wev);
            c->wev_added = 0;
        }
        if (c->shut_pending && !c->shut_done) {
            shutdown(c->fd, SHUT_WR);
            c->shut_done = 1;
        }
    }
    if (wrote && len <= c->lowat && c->write_cb != NULL)
        c->write_cb(c, c->arg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct larder_conn *c = arg;
    (void)fd;
    (void)what;

    c->flush_pending = 0;
    if (c->wev_added)
        return;
    if (c->write_cb_due && evbuffer_get_length(c->out) == 0) {
        c->write_cb_due = 0;
        if (c->write_cb != NULL)
            c->write_cb(c, c->arg);
        return;
    }
    c->write_cb_due = 0;
    do_write(c);
}

void larder_conn_write_now(struct larder_conn *c)
{
    size_t len = evbuffer_get_length(c->out);
    int n;

    if (len == 0 || c->wev_added || c->connecting)
        return;
    n = evbuffer_write(c->out, c->fd);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return; /* the flush from the loop meets the error and reports it */
    if (evbuffer_get_length(c->out) > 0) {
        add_with_timeout(c->wev, c->write_ms);
        c->wev_added = 1;
        return;
    }
    if (c->shut_pending && !c->shut_done) {
        shutdown(c->fd, SHUT_WR);
        c->shut_done = 1;
    }
    if (n > 0 && c->write_cb != NULL) {
        c->write_cb_due = 1;
        if (!c->flush_pending) {
            c->flush_pending = 1;
            event_active(c->flush, EV_TIMEOUT, 0);
        }
    }
}

static void on_connected(struct larder_conn *c)
{
    int err = c->connect_errno;
    socklen_t len = sizeof(err);

    if (err == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    event_del(c->wev);
    c->wev_added = 0;
    if (err != 0) {
        errno = err;
        if (c->event_cb != NULL)
            c->event_cb(c, LARDER_CONN_ERROR | LARDER_CONN_WRITING, c->arg);
        return;
    }
    c->connecting = 0;
    update_read(c);
    if (evbuffer_get_length(c->out) > 0 && !c->flush_pending) {
        c->flush_pending = 1;
        event_active(c->flush, EV_TIMEOUT, 0);
    }
    if (c->event_cb != NULL)
        c->event_cb(c, LARDER_CONN_CONNECTED, c->arg);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct larder_conn *c = arg;
    (void)fd;

    if (what & EV_TIMEOUT) {
        if (c->event_cb != NULL)
            c->event_cb(c, LARDER_CONN_TIMEOUT | LARDER_CONN_WRITING, c->arg);
        return;
    }
    if (c->connecting)
        on_connected(c);
    else
        do_write(c);
}

/* Queued output goes out at the end of this loop turn, in one writev. */
static void on_output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct larder_conn *c = arg;
    (void)buf;

    if (info->n_added > 0 && !c->wev_added && !c->connecting && !c->flush_pending) {
        c->flush_pending = 1;
        event_active(c->flush, EV_TIMEOUT, 0);
    }
}

/* ---- lifetime -------------------------------------------------------------------- */

static struct larder_conn *conn_alloc(struct event_base *base, evutil_socket_t fd)
{
    struct larder_conn *c = larder_xcalloc(1, sizeof(*c));

    c->base = base;
    c->fd = fd;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->flush = event_new(base, -1, 0, on_flush, c);
    c->kick = event_new(base, -1, 0, on_kick, c);
    c->read_size = READ_MIN;
    evbuffer_add_cb(c->out, on_output_changed, c);
    evbuffer_add_cb(c->in, on_input_changed, c);
    return c;
}

struct larder_conn *larder_conn_new(struct event_base *base, evutil_socket_t fd)
{
    evutil_make_socket_nonblocking(fd);
    return conn_alloc(base, fd);
}

struct larder_conn *larder_conn_connect(struct event_base *base, const struct sockaddr *sa,
                                        socklen_t len, uint64_t timeout_ms)
{
    evutil_socket_t fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct larder_conn *c;

    if (fd < 0)
        return NULL;
    c = conn_alloc(base, fd);
    c->connecting = 1;
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
        /* refused at once (loopback does that): report it from the loop */
        c->connect_errno = errno;
        event_active(c->wev, EV_WRITE, 0);
    }
    add_with_timeout(c->wev, timeout_ms);
    c->wev_added = 1;
    return c;
}

void larder_conn_free(struct larder_conn *c)
{
    if (c == NULL)
        return;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->flush);
    event_free(c->kick);
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    close(c->fd);
    free(c);
}

/* ---- settings -------------------------------------------------------------------- */

void larder_conn_setcb(struct larder_conn *c, larder_conn_cb read_cb, larder_conn_cb write_cb,
                       larder_conn_event_cb event_cb, void *arg)
{
    c->read_cb = read_cb;
    c->write_cb = write_cb;
    c->event_cb = event_cb;
    c->arg = arg;
}

struct evbuffer *larder_conn_input(struct larder_conn *c)
{
    return c->in;
}

struct evbuffer *larder_conn_output(struct larder_conn *c)
{
    return c->out;
}

evutil_socket_t larder_conn_fd(const struct larder_conn *c)
{
    return c->fd;
}

void larder_conn_enable_read(struct larder_conn *c)
{
    c->reading = 1;
    update_read(c);
}

void larder_conn_disable_read(struct larder_conn *c)
{
    c->reading = 0;
    update_read(c);
}

int larder_conn_reading(const struct larder_conn *c)
{
    return c->reading;
}

void larder_conn_set_timeouts(struct larder_conn *c, uint64_t read_ms, uint64_t write_ms)
{
    if (read_ms != c->read_ms) {
        c->read_ms = read_ms;
        if (c->rev_added)
            add_with_timeout(c->rev, read_ms);
    }
    if (write_ms != c->write_ms) {
        c->write_ms = write_ms;
        if (c->wev_added && !c->connecting)
            add_with_timeout(c->wev, write_ms);
    }
}

void larder_conn_set_read_limit(struct larder_conn *c, size_t hiwat)
{
    c->hiwat = hiwat;
    if (c->read_paused && (hiwat == 0 || evbuffer_get_length(c->in) < hiwat)) {
        c->read_paused = 0;
        update_read(c);
    }
}

void larder_conn_set_write_lowat(struct larder_conn *c, size_t lowat)
{
    c->lowat = lowat;
}

void larder_conn_trigger_read(struct larder_conn *c)
{
    event_active(c->kick, EV_TIMEOUT, 0);
}

void larder_conn_shutdown_write(struct larder_conn *c)
{
    c->shut_pending = 1;
    if (evbuffer_get_length(c->out) == 0 && !c->connecting && !c->shut_done) {
        shutdown(c->fd, SHUT_WR);
        c->shut_done = 1;
    }
}

void larder_conn_set_reset(struct larder_conn *c)
{
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}
