/* SPDX-License-Identifier: MIT */
/* admin.c - larder's own pages: the dashboard, stats.json, Prometheus
 * metrics, the stored-object list, purge and the PAC file. */
#include "larder/admin.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "larder/cache.h"
#include "larder/config.h"
#include "larder/dns.h"
#include "larder/freshness.h"
#include "larder/proxy.h"
#include "larder/stats.h"
#include "larder/upstream.h"
#include "larder/url.h"
#include "larder/util.h"

/* Appends string literal <lit> without its NUL. */
#define ADD_LIT(buf, lit) evbuffer_add((buf), (lit), sizeof(lit) - 1)

#define OBJECTS_LIMIT_DEFAULT 200   /* /larder/objects without limit= */
#define OBJECTS_LIMIT_MAX 100000
#define QUERY_VALUE_MAX 1024        /* longest decoded q= we search for */

/* src/admin_dashboard.html, embedded at build time (cmake/embed.cmake). */
extern const unsigned char larder_admin_dashboard_html[];
extern const size_t larder_admin_dashboard_html_len;

static const char json_type[] = "application/json";
static const char text_type[] = "text/plain; charset=utf-8";

/* ---- small helpers ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into out (cap > 0; always NUL-terminated,
 * truncated to fit). '+' stays a plus: what we decode are URLs and
 * substrings of URLs, which never hold a space, and this way both a form
 * encoder's %2B and a hand-typed + mean +. Returns the decoded length. */
static size_t pct_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

/* Finds parameter <name> in the form-encoded s[0..len): *val_out and
 * *vlen_out get its raw (still encoded) value. Returns 1 if found. */
static int form_param(const char *s, size_t len, const char *name, const char **val_out,
                      size_t *vlen_out)
{
    size_t nlen = strlen(name), i = 0;

    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        if (end - i > nlen && memcmp(s + i, name, nlen) == 0 && s[i + nlen] == '=') {
            *val_out = s + i + nlen + 1;
            *vlen_out = end - i - nlen - 1;
            return 1;
        }
        if (end - i == nlen && memcmp(s + i, name, nlen) == 0) {
            *val_out = s + end;
            *vlen_out = 0;
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

static void set_text(struct larder_admin_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = text_type;
    evbuffer_add(resp->body, text, strlen(text));
}

/* ---- stats.json and metrics -------------------------------------------------- */

static void gather_env(struct larder_proxy *px, struct larder_stats_env *env)
{
    memset(env, 0, sizeof(*env));
    env->now = larder_wall_s();
    env->uptime = px->started > 0 ? env->now - (int64_t)px->started : 0;
    if (env->uptime < 0)
        env->uptime = 0;
    env->clients_active = px->nclients;
    if (px->cache != NULL) {
        const struct larder_cache_stats *cs = larder_cache_get_stats(px->cache);
        env->cache_objects = cs->objects;
        env->cache_bytes = cs->bytes;
        env->cache_budget = cs->budget;
        env->cache_inserts = cs->inserts;
        env->cache_evictions = cs->evictions;
        env->cache_invalidations = cs->invalidations;
    } else if (px->cfg != NULL) {
        env->cache_budget = px->cfg->cache_size;
    }
    if (px->upstream != NULL) {
        const struct larder_upstream_stats *us = larder_upstream_get_stats(px->upstream);
        env->upstream_connects = us->connects;
        env->upstream_connect_failures = us->connect_failures;
        env->upstream_reused = us->reused;
        env->upstream_active = us->active;
        env->upstream_idle = us->idle;
    }
    if (px->dns != NULL) {
        const struct larder_dns_stats *ds = larder_dns_get_stats(px->dns);
        env->dns_lookups = ds->lookups;
        env->dns_cache_hits = ds->cache_hits;
        env->dns_failures = ds->failures;
    }
}

static void page_stats(struct larder_proxy *px, const struct larder_admin_request *req,
                       const char *query, size_t qlen, struct larder_admin_response *resp)
{
    struct larder_stats_env env;

    (void)req;
    (void)query;
    (void)qlen;
    gather_env(px, &env);
    larder_stats_render_json(px->stats, &env, resp->body);
    resp->content_type = json_type;
}

static void page_metrics(struct larder_proxy *px, const struct larder_admin_request *req,
                         const char *query, size_t qlen, struct larder_admin_response *resp)
{
    struct larder_stats_env env;

    (void)req;
    (void)query;
    (void)qlen;
    gather_env(px, &env);
    larder_stats_render_metrics(px->stats, &env, resp->body);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- the dashboard ----------------------------------------------------------- */

static void page_dashboard(struct larder_proxy *px, const struct larder_admin_request *req,
                           const char *query, size_t qlen, struct larder_admin_response *resp)
{
    (void)px;
    (void)req;
    (void)query;
    (void)qlen;
    /* static bytes: referenced, never copied or freed */
    evbuffer_add_reference(resp->body, larder_admin_dashboard_html,
                           larder_admin_dashboard_html_len, NULL, NULL);
    resp->content_type = "text/html; charset=utf-8";
}

/* ---- stored objects ----------------------------------------------------------- */

struct object_walk {
    struct evbuffer *out;
    const char *q;                /* substring to find in the URL, "" for all */
    unsigned long limit;
    unsigned long n;
    int64_t now;
};

static const char *const state_names[LARDER_OBJ_STATE_COUNT] = {
    "filling", "complete", "aborted"
};

static int on_object(struct larder_object *o, void *arg)
{
    struct object_walk *w = arg;
    const char *key = larder_object_key(o);
    const char *vary = larder_object_vary(o);
    struct larder_freshness fr, *f = &fr;
    enum larder_object_state st = larder_object_state(o);

    larder_object_get_freshness(o, f);
    if (larder_object_is_mark(o, NULL))
        return 0; /* not a response */
    if (w->n >= w->limit)
        return 1;
    if (w->q[0] != '\0' && strcasestr(key, w->q) == NULL)
        return 0;
    if (w->n > 0)
        ADD_LIT(w->out, ",");
    ADD_LIT(w->out, "\n{\"url\":");
    larder_stats_json_string(w->out, key, strlen(key));
    evbuffer_add_printf(w->out,
                        ",\"size\":%llu,\"cost\":%llu,\"age\":%lld,\"ttl\":%lld,\"hits\":%llu,"
                        "\"status\":%d,\"state\":\"%s\",\"vary\":",
                        (unsigned long long)larder_object_body_size(o),
                        (unsigned long long)larder_object_cost(o),
                        (long long)larder_freshness_age(f, w->now),
                        (long long)larder_freshness_ttl(f, w->now),
                        (unsigned long long)larder_object_hits(o), larder_object_status(o),
                        st < LARDER_OBJ_STATE_COUNT ? state_names[st] : "?");
    if (vary != NULL)
        larder_stats_json_string(w->out, vary, strlen(vary));
    else
        ADD_LIT(w->out, "null");
    ADD_LIT(w->out, "}");
    w->n++;
    return 0;
}

static void page_objects(struct larder_proxy *px, const struct larder_admin_request *req,
                         const char *query, size_t qlen, struct larder_admin_response *resp)
{
    struct object_walk w;
    char q[QUERY_VALUE_MAX + 1], num[32];
    const char *v;
    size_t vlen;

    (void)req;
    q[0] = '\0';
    if (form_param(query, qlen, "q", &v, &vlen))
        pct_decode(v, vlen, q, sizeof(q));
    memset(&w, 0, sizeof(w));
    w.out = resp->body;
    w.q = q;
    w.limit = OBJECTS_LIMIT_DEFAULT;
    w.now = larder_wall_s();
    if (form_param(query, qlen, "limit", &v, &vlen)) {
        char *end;
        unsigned long n;

        pct_decode(v, vlen, num, sizeof(num));
        n = strtoul(num, &end, 10);
        if (num[0] < '0' || num[0] > '9' || *end != '\0') {
            set_text(resp, 400, "limit must be a number\n");
            return;
        }
        w.limit = n > OBJECTS_LIMIT_MAX ? OBJECTS_LIMIT_MAX : n;
    }
    ADD_LIT(resp->body, "[");
    if (px->cache != NULL)
        larder_cache_each(px->cache, on_object, &w);
    ADD_LIT(resp->body, "\n]\n");
    resp->content_type = json_type;
}

/* ---- purge ------------------------------------------------------------------------ */

unsigned larder_admin_purge(struct larder_proxy *px, const char *url, size_t len)
{
    struct larder_url u;
    char *key;
    size_t cap, n;
    unsigned removed = 0;

    if (px->cache == NULL || larder_url_parse_absolute(url, len, &u) != NULL ||
        !larder_url_scheme_is(&u, "http"))
        return 0;
    cap = len + 16;               /* a key is never much longer than its URL */
    key = larder_xmalloc(cap);
    n = larder_url_key(&u, key, cap);
    if (n < cap)
        removed = larder_cache_invalidate(px->cache, key);
    free(key);
    return removed;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void page_purge(struct larder_proxy *px, const struct larder_admin_request *req,
                       const char *query, size_t qlen, struct larder_admin_response *resp)
{
    char url[LARDER_ADMIN_MAX_BODY + 1];
    const char *body = req->body != NULL ? req->body : "", *v;
    size_t len = req->body != NULL ? req->body_len : 0, vlen, n;
    unsigned removed;

    (void)query;
    (void)qlen;
    while (len > 0 && is_space(body[0]))
        body++, len--;
    while (len > 0 && is_space(body[len - 1]))
        len--;
    if (len > LARDER_ADMIN_MAX_BODY)
        len = LARDER_ADMIN_MAX_BODY;
    /* a raw URL may hold "&url=" in its query: only a body that is not a
     * URL is read as a form */
    if (!(len > 7 && strncasecmp(body, "http://", 7) == 0) &&
        form_param(body, len, "url", &v, &vlen)) {
        n = pct_decode(v, vlen, url, sizeof(url));
    } else {
        memcpy(url, body, len);
        url[len] = '\0';
        n = len;
    }
    if (n == 0) {
        set_text(resp, 400, "send the URL to purge as the body, or as url=<percent-encoded URL>\n");
        return;
    }
    removed = larder_admin_purge(px, url, n);
    resp->status = removed ? 200 : 404;
    resp->content_type = json_type;
    evbuffer_add_printf(resp->body, "{\"purged\":%u,\"url\":", removed);
    larder_stats_json_string(resp->body, url, n);
    ADD_LIT(resp->body, "}\n");
}

/* ---- proxy.pac -------------------------------------------------------------------- */

/* Whether <s> can go into the PAC file's string as it is: a host[:port]. */
static int safe_authority(const char *s)
{
    size_t n = 0;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return n <= 300;
}

static void page_pac(struct larder_proxy *px, const struct larder_admin_request *req,
                     const char *query, size_t qlen, struct larder_admin_response *resp)
{
    const char *proxy = NULL;

    (void)query;
    (void)qlen;
    /* the address the browser reached us at is the one it can reach again */
    if (safe_authority(req->host))
        proxy = req->host;
    else if (px->cfg != NULL && px->cfg->nlisten > 0 && safe_authority(px->cfg->listen[0].text))
        proxy = px->cfg->listen[0].text;
    else
        proxy = "127.0.0.1:3128";
    evbuffer_add_printf(resp->body,
        "// larder proxy auto-configuration: http and https go through larder,\n"
        "// this machine and plain (dotless) host names go direct.\n"
        "function FindProxyForURL(url, host) {\n"
        "    if (isPlainHostName(host) || host === \"localhost\" ||\n"
        "        dnsDomainIs(host, \".localhost\") || shExpMatch(host, \"127.*\") ||\n"
        "        host === \"::1\" || host === \"[::1]\")\n"
        "        return \"DIRECT\";\n"
        "    if (url.substring(0, 5) === \"http:\" || url.substring(0, 6) === \"https:\")\n"
        "        return \"PROXY %s\";\n"
        "    return \"DIRECT\";\n"
        "}\n", proxy);
    resp->content_type = "application/x-ns-proxy-autoconfig";
}

/* ---- routing ---------------------------------------------------------------------- */

typedef void (*page_fn)(struct larder_proxy *px, const struct larder_admin_request *req,
                        const char *query, size_t qlen, struct larder_admin_response *resp);

struct route {
    const char *path;
    int post;                     /* POST only; else GET and HEAD */
    page_fn fn;
};

static const struct route routes[] = {
    { "/larder/", 0, page_dashboard },
    { "/larder/stats.json", 0, page_stats },
    { "/larder/metrics", 0, page_metrics },
    { "/larder/objects", 0, page_objects },
    { "/larder/proxy.pac", 0, page_pac },
    { "/larder/purge", 1, page_purge },
};

/* Whether Host <host> ("name[:port]") names larder the way one reaches it
 * directly: an address, localhost, or its own name (via_name, by default
 * the host name). A web page can make its own name resolve to larder's
 * address (DNS rebinding) and then read larder's pages as its own origin;
 * it sends its own name, and is refused. */
static int host_is_ours(const struct larder_proxy *px, const char *host)
{
    char name[256], addr[16];
    size_t n;

    if (host == NULL)
        return 1;                 /* no Host: HTTP/1.0 */
    if (host[0] == '[') {         /* an IPv6 literal */
        n = strcspn(host, "]");
        if (host[n] != ']' || n - 1 >= sizeof(name))
            return 0;
        memcpy(name, host + 1, n - 1);
        name[n - 1] = '\0';
        return inet_pton(AF_INET6, name, addr) == 1;
    }
    n = strcspn(host, ":");
    if (n == 0 || n >= sizeof(name))
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (inet_pton(AF_INET, name, addr) == 1 || strcasecmp(name, "localhost") == 0 ||
        (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0))
        return 1;
    return strcasecmp(name, px->via_name) == 0;
}

/* Whether a browser sent this request on behalf of a page from another
 * site: a form on any web page can POST to larder's address (cross-site
 * request forgery). Browsers say where a request comes from in
 * Sec-Fetch-Site and Origin; curl and scripts send neither, and pass. */
static int cross_site(const struct larder_admin_request *req)
{
    size_t n;

    if (req->fetch_site != NULL && strcasecmp(req->fetch_site, "same-origin") != 0 &&
        strcasecmp(req->fetch_site, "none") != 0)
        return 1;
    if (req->origin == NULL)
        return 0;
    if (req->host == NULL || strncasecmp(req->origin, "http://", 7) != 0)
        return 1;
    n = strlen(req->host);
    return strlen(req->origin) != 7 + n || strncasecmp(req->origin + 7, req->host, n) != 0;
}

void larder_admin_handle(struct larder_proxy *px, const struct larder_admin_request *req,
                         struct larder_admin_response *resp)
{
    const char *path = req->path, *query = "";
    size_t plen = req->path_len, qlen = 0;
    const char *q = memchr(path, '?', plen);
    int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    int is_post = strcmp(req->method, "POST") == 0;

    resp->status = 200;
    resp->content_type = NULL;
    resp->fields[0] = '\0';

    if (q != NULL) {
        query = q + 1;
        qlen = plen - (size_t)(q - path) - 1;
        plen = (size_t)(q - path);
    }
    /* "/" and "/larder" lead to the dashboard */
    if ((plen == 1 || (plen == 7 && memcmp(path, "/larder", 7) == 0)) && path[0] == '/' && is_get) {
        set_text(resp, 302, "see /larder/\n");
        snprintf(resp->fields, sizeof(resp->fields), "Location: /larder/\r\n");
        return;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];

        if (strlen(r->path) != plen || memcmp(r->path, path, plen) != 0)
            continue;
        if (r->post ? !is_post : !is_get) {
            set_text(resp, 405, "method not allowed\n");
            snprintf(resp->fields, sizeof(resp->fields), "Allow: %s\r\n",
                     r->post ? "POST" : "GET, HEAD");
            return;
        }
        /* the PAC file holds no secret: any name for larder may fetch it */
        if (r->fn != page_pac && !host_is_ours(px, req->host)) {
            set_text(resp, 403, "larder's pages answer to its address, localhost or its host name\n");
            return;
        }
        if (r->post && cross_site(req)) {
            set_text(resp, 403, "refused: a page from another site sent this request\n");
            return;
        }
        r->fn(px, req, query, qlen, resp);
        return;
    }
    set_text(resp, 404, "not found: larder's pages are under /larder/\n");
}
