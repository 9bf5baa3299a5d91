/* SPDX-License-Identifier: MIT */
/* conn.h - one non-blocking socket with an input and an output evbuffer on
 * the event loop: the part of libevent's bufferevent larder needs, with
 * fewer system calls on the hot path. It reads with a single readv (no
 * FIONREAD, no 4 KiB cap), writes what was queued at the end of the current
 * loop turn with one writev, and polls for writability only while the
 * kernel's send buffer is full, so a request answered at once costs no
 * epoll_ctl at all.
 *
 *     c = larder_conn_new(base, fd);
 *     larder_conn_setcb(c, on_read, on_write, on_event, arg);
 *     larder_conn_enable_read(c);
 *     evbuffer_add(larder_conn_output(c), ...);  // goes out this loop turn
 *
 * Callbacks: read when input arrived (or larder_conn_trigger_read()),
 * write when the output drained to the low-water mark after a write,
 * event with LARDER_CONN_* flags. Each callback is the last thing the
 * connection does in its turn, so a callback may free the connection.
 */
#ifndef LARDER_CONN_H
#define LARDER_CONN_H

#include <event2/util.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct larder_conn;

#define LARDER_CONN_READING   0x01 /* what failed was reading */
#define LARDER_CONN_WRITING   0x02 /* ... or writing */
#define LARDER_CONN_EOF       0x10 /* the peer closed its side */
#define LARDER_CONN_ERROR     0x20 /* a socket error; errno says which */
#define LARDER_CONN_TIMEOUT   0x40 /* no progress within the timeout */
#define LARDER_CONN_CONNECTED 0x80 /* an outgoing connect completed */

typedef void (*larder_conn_cb)(struct larder_conn *c, void *arg);
typedef void (*larder_conn_event_cb)(struct larder_conn *c, short what, void *arg);

/* Wraps connected socket <fd> (made non-blocking; closed by free). */
struct larder_conn *larder_conn_new(struct event_base *base, evutil_socket_t fd);

/* Starts a non-blocking connect to <sa>; the event callback gets
 * LARDER_CONN_CONNECTED, or ERROR / TIMEOUT (after <timeout_ms>). Returns
 * NULL when no socket could be made. */
struct larder_conn *larder_conn_connect(struct event_base *base, const struct sockaddr *sa,
                                        socklen_t len, uint64_t timeout_ms);

void larder_conn_free(struct larder_conn *c);

void larder_conn_setcb(struct larder_conn *c, larder_conn_cb read_cb, larder_conn_cb write_cb,
                       larder_conn_event_cb event_cb, void *arg);

struct evbuffer *larder_conn_input(struct larder_conn *c);
struct evbuffer *larder_conn_output(struct larder_conn *c);
evutil_socket_t larder_conn_fd(const struct larder_conn *c);

void larder_conn_enable_read(struct larder_conn *c);
void larder_conn_disable_read(struct larder_conn *c);
int larder_conn_reading(const struct larder_conn *c);

/* Idle timeouts in milliseconds (0: none). Reading is timed while reading
 * is enabled; writing while output waits for the kernel. */
void larder_conn_set_timeouts(struct larder_conn *c, uint64_t read_ms, uint64_t write_ms);

/* Reading pauses while the input holds <hiwat> bytes or more (0: never). */
void larder_conn_set_read_limit(struct larder_conn *c, size_t hiwat);

/* The write callback runs when a write leaves at most <lowat> bytes. */
void larder_conn_set_write_lowat(struct larder_conn *c, size_t lowat);

/* Runs the read callback on this loop turn, from the loop. */
void larder_conn_trigger_read(struct larder_conn *c);

/* Writes what is queued right now instead of at the end of the loop turn:
 * an answer goes out before the next client's request is read. The write
 * callback, if due, still runs from the loop. */
void larder_conn_write_now(struct larder_conn *c);

/* Sends FIN once the output is written. */
void larder_conn_shutdown_write(struct larder_conn *c);

/* Close with a reset (SO_LINGER 0) instead of a FIN when freed. */
void larder_conn_set_reset(struct larder_conn *c);

#endif /* LARDER_CONN_H */
