/* SPDX-License-Identifier: MIT */
/* failure.h - the ways reaching an origin can fail, each with the status
 * the client gets, the error kind the stats count and a short reason. One
 * static descriptor per failure, passed by pointer (NULL means success). */
#ifndef LARDER_FAILURE_H
#define LARDER_FAILURE_H

#include "larder/stats.h"

struct larder_failure {
    int status;                   /* 403, 502, 504 */
    enum larder_error_kind kind;
    const char *reason;           /* for the error page and the log */
};

extern const struct larder_failure larder_fail_dns;
extern const struct larder_failure larder_fail_dns_timeout;
extern const struct larder_failure larder_fail_refused;
extern const struct larder_failure larder_fail_connect;
extern const struct larder_failure larder_fail_connect_timeout;
extern const struct larder_failure larder_fail_loop;
extern const struct larder_failure larder_fail_head_too_large;
extern const struct larder_failure larder_fail_bad_response;
extern const struct larder_failure larder_fail_unexpected_101;
extern const struct larder_failure larder_fail_bad_body;
extern const struct larder_failure larder_fail_no_answer;
extern const struct larder_failure larder_fail_closed_in_head;
extern const struct larder_failure larder_fail_truncated;
extern const struct larder_failure larder_fail_first_byte_timeout;
extern const struct larder_failure larder_fail_read_timeout;
extern const struct larder_failure larder_fail_write_timeout;

#endif /* LARDER_FAILURE_H */
