/* SPDX-License-Identifier: MIT */
/* http_parse.h - strict, pure RFC 9112 parsing: request and response heads,
 * message framing, and the chunked transfer coding.
 *
 * Nothing here does I/O, allocates or logs. Results point into the caller's
 * buffer, so the caller keeps those bytes alive and unmoved while it uses them.
 *
 * Heads: call larder_http_parse_request() (or _response()) with everything
 * received so far. It returns the number of bytes the head occupies (request
 * or status line, field lines and the empty line), LARDER_PARSE_INCOMPLETE
 * when more bytes are needed, or LARDER_PARSE_ERROR with head->error_status and
 * head->error_reason set. The result for a prefix never contradicts the
 * result for the whole: feeding byte by byte gives INCOMPLETE until the same
 * final answer the whole buffer gives.
 *
 *     struct larder_http_field fields[128];
 *     struct larder_http_head head;
 *     larder_http_head_init(&head, fields, 128);
 *     int n = larder_http_parse_request(buf, len, &limits, &head);
 *
 * Chunked bodies: a struct larder_chunked walks the framing byte by byte and
 * hands data runs back to the caller, so data can be moved without copying:
 *
 *     larder_chunked_init(&ck, &limits);
 *     while (!larder_chunked_done(&ck)) {
 *         if (larder_chunked_data_left(&ck)) { move up to that many bytes;
 *                                              larder_chunked_data_consumed(&ck, n); }
 *         else n = larder_chunked_parse(&ck, p, len);  // framing bytes only
 *     }
 */
#ifndef LARDER_HTTP_PARSE_H
#define LARDER_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define LARDER_PARSE_ERROR (-1)
#define LARDER_PARSE_INCOMPLETE (-2)

/* Size limits. Exceeding max_line gives 414 for a request line; exceeding
 * max_head or max_fields gives 431. For responses the caller maps any error
 * to 502. */
struct larder_http_limits {
    size_t max_line;      /* request/status line, bytes excluding CRLF */
    size_t max_head;      /* whole head, start line to final CRLF inclusive */
    unsigned max_fields;  /* field lines in a head or trailer section */
    size_t max_chunk_ext; /* bytes after the chunk size on one size line */
};

#define LARDER_FIELD_F_DROP 0x1u /* not to be forwarded (hop-by-hop, replaced) */

/* One field line. Name and value point into the parsed buffer; the value has
 * leading and trailing whitespace removed and may be empty. */
struct larder_http_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    unsigned flags;       /* LARDER_FIELD_F_* */
};

enum larder_target_form {
    LARDER_TARGET_ORIGIN = 0, /* /path?query */
    LARDER_TARGET_ABSOLUTE,   /* scheme://authority/path */
    LARDER_TARGET_AUTHORITY,  /* host:port, CONNECT only */
    LARDER_TARGET_ASTERISK,   /* *, OPTIONS only */
    LARDER_TARGET_FORM_COUNT  /* keep last */
};

enum larder_body_kind {
    LARDER_BODY_NONE = 0,     /* no body at all */
    LARDER_BODY_LENGTH,       /* exactly content_length bytes */
    LARDER_BODY_CHUNKED,      /* chunked transfer coding */
    LARDER_BODY_CLOSE,        /* response delimited by connection close */
    LARDER_BODY_KIND_COUNT    /* keep last */
};

/* Facts about the head that the parser establishes while validating. */
#define LARDER_HEAD_F_CONN_CLOSE      0x01u /* Connection: close */
#define LARDER_HEAD_F_CONN_KEEPALIVE  0x02u /* Connection: keep-alive */
#define LARDER_HEAD_F_EXPECT_CONTINUE 0x04u /* Expect: 100-continue */
#define LARDER_HEAD_F_HAS_HOST        0x08u /* exactly one valid Host field */
#define LARDER_HEAD_F_HAS_TE          0x10u /* Transfer-Encoding present */
#define LARDER_HEAD_F_HAS_CL          0x20u /* Content-Length present */

struct larder_http_head {
    /* request line (requests only) */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    enum larder_target_form form;

    /* status line (responses only) */
    int status;               /* 100..599 */
    const char *reason;
    size_t reason_len;

    int version;              /* 10 for HTTP/1.0, 11 for HTTP/1.1 (and 1.x > 1) */

    /* field lines, in order; storage supplied by larder_http_head_init() */
    struct larder_http_field *fields;
    unsigned nfields;
    unsigned fields_cap;

    /* framing, as RFC 9112 section 6 determines it */
    enum larder_body_kind body;
    uint64_t content_length;  /* valid when body == LARDER_BODY_LENGTH */
    unsigned flags;           /* LARDER_HEAD_F_* */

    /* set when a parse returns LARDER_PARSE_ERROR */
    int error_status;         /* 400, 414, 431, 501, 505 (requests); 502 (responses) */
    const char *error_reason; /* static, short, human readable */
};

/* Prepares <head> to receive up to <cap> fields into <fields>. */
void larder_http_head_init(struct larder_http_head *head,
                           struct larder_http_field *fields, unsigned cap);

/* Parses a request head from buf[0..len). Leading empty lines (CRLF) before
 * the request line are skipped and counted in the return value. Returns the
 * head length, LARDER_PARSE_INCOMPLETE or LARDER_PARSE_ERROR. The field array
 * capacity must be at least lim->max_fields. */
int larder_http_parse_request(const char *buf, size_t len,
                              const struct larder_http_limits *lim,
                              struct larder_http_head *head);

/* Parses a response head. <request_method> (with its length) decides framing:
 * responses to HEAD have no body. Returns as larder_http_parse_request(); 1xx
 * heads parse like any other (body NONE) and the caller reads the next one. */
int larder_http_parse_response(const char *buf, size_t len,
                               const struct larder_http_limits *lim,
                               const char *request_method, size_t method_len,
                               struct larder_http_head *head);

/* ---- field helpers (pure) ---------------------------------------------- */

/* Case-insensitive comparison of a field name with a NUL-terminated name,
 * or with <len> bytes of <name>; LARDER_FIELD_IS takes a string literal. */
int larder_http_field_is(const struct larder_http_field *f, const char *name);
int larder_http_field_is_n(const struct larder_http_field *f, const char *name, size_t len);
#define LARDER_FIELD_IS(f, lit) larder_http_field_is_n((f), (lit), sizeof(lit) - 1)

/* Index of the first field named <name> at or after <from>, or -1. */
int larder_http_find(const struct larder_http_head *head, const char *name,
                     unsigned from);

/* Whether the comma-separated list <value> holds the token <token>
 * (case-insensitive, surrounding whitespace ignored). */
int larder_http_list_has(const char *value, size_t len, const char *token);

/* Calls <fn> for each non-empty element of a comma-separated list, trimmed.
 * Quoted strings are kept whole (commas inside them do not split).
 * Stops early and returns the callback's value when it is non-zero. */
typedef int (*larder_http_list_cb)(const char *item, size_t len, void *arg);
int larder_http_list_each(const char *value, size_t len, larder_http_list_cb fn,
                          void *arg);

/* Whether <c> is a tchar (RFC 9110 5.6.2). */
int larder_http_is_tchar(unsigned char c);

/* ---- chunked transfer coding ------------------------------------------- */

struct larder_chunked {
    int state;                /* private: where in the framing we are */
    uint64_t remaining;       /* data bytes left in the current chunk */
    unsigned digits;          /* hex digits of the size seen so far */
    size_t line_len;          /* bytes on the current size or trailer line */
    size_t trailer_len;       /* bytes in the trailer section so far */
    unsigned trailer_fields;  /* trailer field lines so far */
    const struct larder_http_limits *lim;
    const char *error_reason; /* static; set on LARDER_PARSE_ERROR */
};

void larder_chunked_init(struct larder_chunked *c, const struct larder_http_limits *lim);

/* Consumes framing bytes (size lines, extensions, CRLFs, trailers) from
 * buf[0..len). Returns the number consumed, which stops short of len when a
 * data run begins (larder_chunked_data_left() > 0) or the body ends
 * (larder_chunked_done()); or LARDER_PARSE_ERROR. Consumes nothing while a
 * data run is pending. */
long larder_chunked_parse(struct larder_chunked *c, const char *buf, size_t len);

/* Data bytes that follow before the next framing byte. */
uint64_t larder_chunked_data_left(const struct larder_chunked *c);

/* The caller has taken <n> (<= data_left) data bytes. */
void larder_chunked_data_consumed(struct larder_chunked *c, uint64_t n);

/* Whether the last chunk and the trailer section have been consumed. */
int larder_chunked_done(const struct larder_chunked *c);

#endif /* LARDER_HTTP_PARSE_H */
