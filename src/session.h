/* SPDX-License-Identifier: MIT */
/* session.h - private to client.c, forward.c and serve.c: the state of one
 * client connection and the calls between those three files.
 *
 * client.c owns the connection (heads, routing, keep-alive, closing, error
 * responses, the access log); forward.c passes a request through to the
 * origin and streams the answer back; serve.c answers from the cache
 * (lookups, waiting on a shared fetch, streaming stored objects). */
#ifndef LARDER_SESSION_H
#define LARDER_SESSION_H

#include <stdint.h>
#include <sys/time.h>

#include "larder/body.h"
#include "larder/cache.h"
#include "larder/fill.h"
#include "larder/freshness.h"
#include "larder/stats.h"
#include "larder/url.h"

struct larder_conn;
struct event;
struct evbuffer;
struct larder_fetch;
struct larder_http_msg;
struct larder_proxy;
struct larder_tunnel;

#define OUT_HIWAT (256 * 1024)  /* stop producing above this much unsent */
#define OUT_LOWAT (64 * 1024)   /* and go on below this */

enum client_state {
    CLIENT_READ_HEAD = 0,     /* waiting for a complete request head */
    CLIENT_ADMIN_BODY,        /* reading a small body for larder's own pages */
    CLIENT_FORWARD,           /* passing through: request out, response back */
    CLIENT_WAIT_FILL,         /* waiting on a shared fetch's response head */
    CLIENT_SERVE,             /* streaming a stored object */
    CLIENT_TUNNEL,            /* a CONNECT tunnel has the connection */
    CLIENT_CLOSING,           /* flushing the output, then closing */
    CLIENT_STATE_COUNT        /* keep last */
};

enum out_framing {
    OUT_NONE = 0,             /* no body (HEAD, 204, 304) */
    OUT_LENGTH,               /* Content-Length */
    OUT_CHUNKED,              /* chunked, for HTTP/1.1 clients */
    OUT_CLOSE,                /* HTTP/1.0 client, unknown length: close ends it */
};

/* What a shared fetch said, kept until the client's next turn. */
enum fill_verdict {
    VERDICT_NONE = 0,
    VERDICT_OBJECT,           /* serve verdict_obj */
    VERDICT_PASS,             /* go upstream alone */
    VERDICT_ERROR,            /* answer verdict_status */
};

struct larder_client {
    struct larder_proxy *px;
    struct larder_conn *conn;
    char addr[64];
    int allowed;              /* in client_allow */
    int admin_allowed;        /* in admin_allow */
    enum client_state state;
    struct event *timer;      /* head deadline, coalesce timeout, deferred free */
    struct event *wake;       /* runs serve.c's work on the next loop turn */
    int head_started;         /* bytes of the next head have arrived */
    size_t scanned;           /* input bytes known to hold no LF */
    int shut;                 /* we sent our FIN (lingering close) */
    int peer_eof;             /* the client sent its FIN */
    int wait_drain;           /* paused: too many answers unread */
    int free_pending;         /* free from the timer callback */
    int reset;                /* end with RST: the response was cut short */
    struct larder_client *prev, *next;

    /* the request in progress */
    struct larder_http_msg *req;
    char *method;             /* NUL-terminated copies for fetch and logs */
    char *host;
    char *key;                /* cache key, for GET and HEAD */
    struct larder_url url;    /* points into req->raw */
    struct larder_cc req_cc;
    int keepalive;            /* keep the connection after this response */
    struct larder_body_reader body;
    int body_done;            /* the whole request body has been read */
    int body_blocked;         /* reading paused: the origin is behind */
    int body_chunked_out;
    struct evbuffer *scratch; /* de-framed request body */
    struct evbuffer *framed;  /* re-framed request body */
    struct evbuffer *headbuf; /* a response head being put together: it joins
                                 the output in one move */

    /* where the response comes from */
    struct larder_fetch *fetch;        /* passing through */
    struct larder_tunnel *tunnel;
    struct larder_fill_waiter fw;      /* waiting on a shared fetch */
    enum fill_verdict verdict;
    struct larder_object *verdict_obj;
    int verdict_status;
    const char *verdict_reason;
    struct larder_object *obj;         /* being served */
    struct larder_object_cursor cursor;
    uint64_t body_end;                 /* where the body served ends (a range), 0: at its end */
    int range_req;                     /* a GET with Range */
    struct larder_object_waiter ow;

    /* the response in progress */
    int resp_started;         /* a status line has been written */
    int resp_paused;          /* the origin is paused for our output */
    int status;
    int upstream_status;
    enum out_framing framing;
    struct larder_cache_status cs;     /* what Cache-Status will say */
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t start_us;
    struct timeval start_tv;
    enum larder_outcome outcome;
    enum larder_error_kind error_kind;
};

/* ---- client.c ---- */
void larder_client_set_state(struct larder_client *cl, enum client_state st);
void larder_client_set_timeouts(struct larder_client *cl, uint64_t read_ms);
int larder_client_is_head(const struct larder_client *cl);
int larder_client_is_10(const struct larder_client *cl);
/* Ends the response head being written: <pre> (more field lines, may be
 * NULL), Cache-Status, Connection, and the empty line, in one write. */
void larder_client_end_head(struct larder_client *cl, struct evbuffer *out,
                            const char *pre, size_t pre_len);
/* A whole small response written by larder itself. */
/* The current time as an HTTP date (formatted once a second). */
const char *larder_client_date(struct larder_client *cl);

void larder_client_respond(struct larder_client *cl, int status, const char *fields,
                           const char *type, const char *body, size_t body_len);
void larder_client_send_error(struct larder_client *cl, int status, const char *reason,
                              enum larder_error_kind kind);
/* The response is fully queued: log it, then next request or close. */
void larder_client_finish_response(struct larder_client *cl);
/* The response broke after its head went out: close, never fake an end. */
void larder_client_cut_short(struct larder_client *cl, const char *reason,
                             enum larder_error_kind kind);
/* Runs serve.c's pending work from the loop. */
void larder_client_wake(struct larder_client *cl);

/* ---- forward.c ---- */
extern const struct larder_fetch_ops larder_forward_ops;
/* Passes the current request through to the origin. */
void larder_forward_start(struct larder_client *cl);
/* Passes a 100 or 103 on to an HTTP/1.1 client (a fetch or fill callback). */
void larder_forward_interim(void *arg, struct larder_http_head *h);
/* Moves request body bytes toward the origin. */
void larder_forward_pump_body(struct larder_client *cl);
/* Takes over a shared fetch whose response may not be stored. */
void larder_forward_takeover(struct larder_client *cl, struct larder_fetch *f,
                             struct larder_http_msg *resp);
/* Writes the request head larder sends upstream for the current request.
 * <for_cache>: drop the client's conditionals (the cache wants a full
 * response) and add validators from <stale> when given. */
void larder_forward_build_head(struct larder_client *cl, struct evbuffer *head, int for_cache,
                               struct larder_object *stale);
/* The client's output drained: resume a paused origin. */
void larder_forward_on_writable(struct larder_client *cl);

/* ---- serve.c ---- */
/* Answers a GET or HEAD through the cache. */
void larder_serve_request(struct larder_client *cl);
/* Streams more of the object being served (output drained, or woken). */
void larder_serve_pump(struct larder_client *cl);
/* Acts on a fill verdict or an object wake-up. */
void larder_serve_on_wake(struct larder_client *cl);
/* The coalescing wait ran out: go upstream alone. */
void larder_serve_wait_expired(struct larder_client *cl);
/* Drops the object, verdict and fill the client holds. */
void larder_serve_release(struct larder_client *cl);

#endif /* LARDER_SESSION_H */
