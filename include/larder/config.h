/* SPDX-License-Identifier: MIT */
/* config.h - every option larder has: built-in defaults, the config file
 * ("name value" lines, # comments) and the command line, with errors that
 * name the option and, for files, file:line.
 *
 *     struct larder_config cfg;
 *     char err[256];
 *     larder_config_defaults(&cfg);
 *     switch (larder_config_from_args(&cfg, argc, argv, &action, err, sizeof err)) ...
 *     larder_config_free(&cfg);
 *
 * Precedence: defaults, then the config file (--config), then the rest of
 * the command line. A list option given in a source replaces the list from
 * the sources before it; given several times in one source, it accumulates.
 */
#ifndef LARDER_CONFIG_H
#define LARDER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "larder/acl.h"
#include "larder/http_parse.h"

struct larder_listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];            /* as "127.0.0.1:3128" or "[::1]:3128" */
};

struct larder_config {
    /* network */
    struct larder_listen_addr *listen; /* listen: ADDR:PORT, repeatable */
    size_t nlisten;
    struct larder_acl client_allow;    /* client_allow: who may use the proxy */
    struct larder_acl admin_allow;     /* admin_allow: who may see /larder/ pages */
    struct larder_ports connect_ports; /* connect_ports: where CONNECT may go */
    unsigned max_connections;          /* client connections at once */

    /* HTTP message limits */
    struct larder_http_limits limits;  /* max_request_line, max_header_block,
                                          max_header_fields, max_chunk_ext */

    /* timeouts, in milliseconds */
    uint64_t client_head_timeout;      /* first byte to complete request head */
    uint64_t client_body_timeout;      /* between request body bytes */
    uint64_t keepalive_timeout;        /* idle client between requests */
    uint64_t upstream_connect_timeout;
    uint64_t upstream_first_byte_timeout; /* request sent to response head */
    uint64_t upstream_read_timeout;    /* between response body bytes */
    uint64_t upstream_idle_timeout;    /* pooled idle origin connection */
    uint64_t tunnel_idle_timeout;
    uint64_t shutdown_timeout;         /* grace for requests in flight */
    uint64_t dns_timeout;

    /* upstream */
    unsigned upstream_max_idle_per_host;
    unsigned dns_cache_entries;
    uint64_t dns_max_ttl;              /* seconds; caps TTLs from answers */
    uint64_t dns_negative_ttl;         /* seconds a failed name is remembered */
    char *via_name;                    /* pseudonym in Via; default: host name */

    /* logs */
    char *access_log;                  /* path, "-" for stdout, "off" */
    char *error_log;                   /* path, "-" for stderr */
    int log_level;                     /* enum larder_log_level */

    /* cache */
    uint64_t cache_size;               /* bytes */
    uint64_t max_object_size;          /* bytes */
    uint64_t max_heuristic_freshness;  /* seconds */
    int serve_stale_on_error;          /* boolean */
    uint64_t coalesce_timeout;         /* milliseconds */
    uint64_t uncacheable_ttl;          /* seconds a URL whose response could not be
                                          stored goes straight to the origin */
};

/* What the command line asks larder to do. */
enum larder_action {
    LARDER_ACTION_RUN = 0,
    LARDER_ACTION_HELP,
    LARDER_ACTION_VERSION,
    LARDER_ACTION_CHECK_CONFIG,        /* --check-config FILE: validate, exit */
    LARDER_ACTION_COUNT                /* keep last */
};

/* Fills every option with its built-in default. <cfg> is treated as
 * uninitialized (nothing in it is freed); pair with larder_config_free(). */
void larder_config_defaults(struct larder_config *cfg);

/* Sets option <name> (underscores; dashes are accepted too) from text.
 * Each call is a source of its own: for a list option the value replaces
 * the list. Returns NULL on success; on error the option keeps its value and
 * the return is <err>, holding "NAME: message" (e.g. "max_connections: 'abc'
 * is not a number", "unknown option 'foo'"), or a static reason when <err>
 * is NULL. */
const char *larder_config_set(struct larder_config *cfg, const char *name,
                              const char *value, char *err, size_t errlen);

/* Reads a config file. Returns 0, or -1 with "FILE:LINE: message" in <err>. */
int larder_config_load_file(struct larder_config *cfg, const char *path,
                            char *err, size_t errlen);

/* Parses the command line: --help/-h, --version/-V, --check-config FILE,
 * --config FILE, and --NAME VALUE / --NAME=VALUE for every option. The file
 * is applied first, wherever --config appears. --help and --version return
 * at once, before any value is applied. Does not call
 * larder_config_validate(); the caller does, for RUN and CHECK_CONFIG alike.
 * Returns 0 with *action_out set, or -1 with a message in <err> (the caller
 * prints it and exits with status 2). */
int larder_config_from_args(struct larder_config *cfg, int argc, char **argv,
                            enum larder_action *action_out,
                            char *err, size_t errlen);

/* Checks the whole configuration for consistency: at least one listen
 * address and no duplicate, max_connections >= 1, max_header_fields >= 1,
 * max_request_line <= max_header_block, max_object_size <= cache_size.
 * Returns 0, or -1 with a message in <err>. */
int larder_config_validate(const struct larder_config *cfg, char *err, size_t errlen);

/* Prints usage and every option with its default and meaning. */
void larder_config_print_help(FILE *out);

void larder_config_free(struct larder_config *cfg);

#endif /* LARDER_CONFIG_H */
