/* SPDX-License-Identifier: MIT */
/* client.h - client connections: read request heads (pipelined, in order),
 * route them (forward, CONNECT, larder's own pages), stream bodies both ways
 * with back-pressure, keep-alive, timeouts, error responses, access log. */
#ifndef LARDER_CLIENT_H
#define LARDER_CLIENT_H

#include <event2/util.h>
#include <sys/socket.h>

struct larder_proxy;

/* Takes over an accepted socket. Enforces max_connections: when full, an
 * idle keep-alive connection is closed to make room, or the newcomer gets a
 * 503 and is closed. */
void larder_client_accept(struct larder_proxy *px, evutil_socket_t fd,
                          const struct sockaddr *sa, socklen_t len);

/* Shutdown: closes connections that sit between requests; the others get
 * Connection: close on their current response. */
void larder_client_close_idle(struct larder_proxy *px);

/* Closes every client connection now. */
void larder_client_close_all(struct larder_proxy *px);

#endif /* LARDER_CLIENT_H */
