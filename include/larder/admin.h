/* SPDX-License-Identifier: MIT */
/* admin.h - larder's own pages, served on its own address to admin_allow
 * networks and never forwarded or cached: the dashboard (/larder/),
 * /larder/stats.json, /larder/metrics (Prometheus), /larder/objects,
 * POST /larder/purge, the PURGE method, and /larder/proxy.pac.
 *
 * The client module routes here (origin-form requests, and absolute URIs
 * naming one of larder's listening addresses), checks admin_allow, reads
 * any request body (at most LARDER_ADMIN_MAX_BODY bytes) and writes the
 * response this module describes.
 */
#ifndef LARDER_ADMIN_H
#define LARDER_ADMIN_H

#include <stddef.h>

struct evbuffer;
struct larder_proxy;

#define LARDER_ADMIN_MAX_BODY 4096

struct larder_admin_request {
    const char *method;       /* NUL-terminated, e.g. "GET" */
    const char *path;         /* path and query as received: "/larder/objects?q=x" */
    size_t path_len;
    const char *body;         /* request body, or NULL */
    size_t body_len;
    const char *host;         /* NUL-terminated Host the client used ("127.0.0.1:3128"),
                                 or for an absolute URI its authority, or NULL;
                                 the PAC file points browsers at it */
    const char *origin;       /* NUL-terminated Origin field, or NULL */
    const char *fetch_site;   /* NUL-terminated Sec-Fetch-Site field, or NULL */
};

struct larder_admin_response {
    int status;               /* 200, 404, 405, ... */
    const char *content_type; /* static */
    struct evbuffer *body;    /* allocated by the caller; the handler fills it */
    char fields[256];         /* extra field lines ("Name: value\r\n"), may be empty */
};

/* Answers one admin request into <resp>. */
void larder_admin_handle(struct larder_proxy *px, const struct larder_admin_request *req,
                         struct larder_admin_response *resp);

/* PURGE <url>: removes what is stored for the absolute http URL. Returns the
 * number of objects removed (0: nothing was stored, answer 404). */
unsigned larder_admin_purge(struct larder_proxy *px, const char *url, size_t len);

#endif /* LARDER_ADMIN_H */
