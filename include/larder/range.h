/* SPDX-License-Identifier: MIT */
/* range.h - byte ranges of a stored response (RFC 9110 section 14): the
 * Range and If-Range request fields, pure and free of I/O.
 *
 *     uint64_t first, last;
 *     if (larder_range_if_range_holds(if_range, n, stored_head, now))
 *         switch (larder_range_parse(range, len, body_size, &first, &last)) {
 *         case LARDER_RANGE_ONE:           206, bytes first..last
 *         case LARDER_RANGE_UNSATISFIABLE: 416
 *         default:                         200, the whole body
 *         }
 */
#ifndef LARDER_RANGE_H
#define LARDER_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "larder/http_parse.h"

enum larder_range_result {
    LARDER_RANGE_WHOLE,         /* no usable range: answer with the whole body */
    LARDER_RANGE_ONE,           /* one satisfiable range: 206 */
    LARDER_RANGE_UNSATISFIABLE, /* no range overlaps the body: 416 */
};

/* Reads a Range field value against a body of <size> bytes. One
 * "bytes=first-last", "bytes=first-" or "bytes=-suffix" range gives
 * LARDER_RANGE_ONE with the byte positions (inclusive, clipped to the
 * body). Anything larder does not serve as one range gives
 * LARDER_RANGE_WHOLE: another unit, invalid syntax (ignored, RFC 9110
 * 14.2), or several ranges (a server may answer them with the whole
 * body). A single range that starts at or past the end, or an empty
 * suffix, is unsatisfiable. */
enum larder_range_result larder_range_parse(const char *value, size_t len, uint64_t size,
                                            uint64_t *first, uint64_t *last);

/* RFC 9110 13.1.5: whether If-Range <value> lets the Range apply to the
 * stored response <stored>: an entity-tag must equal its strong ETag
 * (strong comparison), an HTTP date must equal its Last-Modified, which
 * must be at least a second older than its Date (a strong date). <now>
 * places two-digit years (larder_freshness_date_parse). */
int larder_range_if_range_holds(const char *value, size_t len,
                                const struct larder_http_head *stored, int64_t now);

#endif /* LARDER_RANGE_H */
