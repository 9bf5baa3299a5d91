/* SPDX-License-Identifier: MIT */
/* acl.h - access rules: client and admin networks (CIDR lists) and the ports
 * CONNECT may reach. Pure: parsing and matching only. */
#ifndef LARDER_ACL_H
#define LARDER_ACL_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct larder_cidr {
    uint8_t family;           /* 4 or 6 */
    uint8_t prefix;           /* 0..32 or 0..128 */
    uint8_t addr[16];         /* network bytes; 4 used for IPv4 */
};

/* A list of networks. Zero-initialized is the empty list (matches nobody). */
struct larder_acl {
    struct larder_cidr *v;
    size_t n;
};

/* Appends the networks in <text>: addresses or CIDRs ("127.0.0.0/8",
 * "::1/128", "192.168.1.7") separated by spaces or commas; "all" means
 * 0.0.0.0/0 and ::/0; "none", standing alone, appends nothing (so a config
 * option can be set to the empty list). Host bits beyond the prefix must be
 * zero. Returns NULL on success, else a static reason (empty text is an
 * error); on error <acl> is unchanged. */
const char *larder_acl_parse(struct larder_acl *acl, const char *text);

/* Whether <sa> (AF_INET or AF_INET6) is in the list. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) matches IPv4 entries. */
int larder_acl_match(const struct larder_acl *acl, const struct sockaddr *sa);

void larder_acl_free(struct larder_acl *acl);

struct larder_port_range {
    uint16_t lo, hi;          /* inclusive */
};

/* A list of ports. Zero-initialized is the empty list (matches nothing). */
struct larder_ports {
    struct larder_port_range *v;
    size_t n;
};

/* Appends ports or ranges from <text>: "443 563 8000-8100", separated by
 * spaces or commas; "all" means 1-65535; "none", standing alone, appends
 * nothing. Ports are 1..65535 and a range needs lo <= hi. Returns NULL or a
 * static reason (empty text is an error); on error <p> is unchanged. */
const char *larder_ports_parse(struct larder_ports *p, const char *text);

int larder_ports_match(const struct larder_ports *p, uint16_t port);

void larder_ports_free(struct larder_ports *p);

#endif /* LARDER_ACL_H */
