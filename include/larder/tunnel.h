/* SPDX-License-Identifier: MIT */
/* tunnel.h - CONNECT: connect to the origin, answer 200, then splice bytes
 * both ways with back-pressure, passing half-closes on, until both sides
 * are done or the tunnel sits idle too long. */
#ifndef LARDER_TUNNEL_H
#define LARDER_TUNNEL_H

#include <stdint.h>

struct larder_conn;
struct larder_failure;
struct larder_proxy;
struct larder_tunnel;

/* Called once when the tunnel is over. <fail> set: it never opened, the
 * client has been sent nothing, and <fail> says what to answer. NULL: it
 * ran and is closed on the origin side; the client side may still hold
 * unsent bytes. The tunnel is freed after. */
typedef void (*larder_tunnel_done_cb)(void *arg, const struct larder_failure *fail,
                                      uint64_t bytes_up, uint64_t bytes_down);

/* Starts a tunnel for the client connection <client> (borrowed, not freed;
 * its callbacks are taken over until done). Bytes already in its input are
 * sent to the origin once connected. */
struct larder_tunnel *larder_tunnel_start(struct larder_proxy *px, struct larder_conn *client,
                                          const char *host, uint16_t port,
                                          larder_tunnel_done_cb done, void *arg);

/* Tears the tunnel down at once (shutdown, or the client went away).
 * The done callback is not called. */
void larder_tunnel_free(struct larder_tunnel *t);

#endif /* LARDER_TUNNEL_H */
