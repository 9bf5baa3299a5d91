/* SPDX-License-Identifier: MIT */
/* http_parse.c - strict, pure RFC 9112 parsing of heads, framing and chunked
 * bodies. The rules are listed in docs/http-parsing.md. */
#include "larder/http_parse.h"

#include <string.h>
#include <strings.h>

#include "larder/url.h"

/* ---- character classes -------------------------------------------------- */

/* Byte classes, one table lookup each: every byte of every head goes
 * through these. */
#define C_TCHAR 0x1  /* token character (RFC 9110 5.6.2) */
#define C_VALUE 0x2  /* field-vchar, SP, HTAB, obs-text */
#define C_VCHAR 0x4  /* visible ASCII */

/* C_* bits for each byte value (generated from the definitions above). */
static const unsigned char char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static unsigned char cls(unsigned char c)
{
    return char_class[c];
}

int larder_http_is_tchar(unsigned char c)
{
    return (cls(c) & C_TCHAR) != 0;
}

static int is_vchar(unsigned char c)
{
    return (cls(c) & C_VCHAR) != 0;
}

/* field-vchar, SP, HTAB and obs-text: what a field value may hold */
static int is_value_char(unsigned char c)
{
    return (cls(c) & C_VALUE) != 0;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* uri-host [ ":" port ] as it may appear in Host: unreserved, pct-encoded,
 * sub-delims, ':' and the brackets of an IPv6 literal. */
static int is_host_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
        return 1;
    return c != 0 && strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
}

static int eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && strncasecmp(a, b, blen) == 0;
}

/* ---- field helpers ------------------------------------------------------ */

int larder_http_field_is(const struct larder_http_field *f, const char *name)
{
    return eq_nocase(f->name, f->name_len, name);
}

int larder_http_field_is_n(const struct larder_http_field *f, const char *name, size_t len)
{
    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

int larder_http_find(const struct larder_http_head *head, const char *name,
                     unsigned from)
{
    for (unsigned i = from; i < head->nfields; i++)
        if (larder_http_field_is(&head->fields[i], name))
            return (int)i;
    return -1;
}

int larder_http_list_each(const char *value, size_t len, larder_http_list_cb fn,
                          void *arg)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i, end;
        int quoted = 0;

        for (; i < len; i++) {
            char c = value[i];
            if (quoted) {
                if (c == '\\' && i + 1 < len)
                    i++;
                else if (c == '"')
                    quoted = 0;
            } else if (c == '"') {
                quoted = 1;
            } else if (c == ',') {
                break;
            }
        }
        end = i;
        while (start < end && is_ows((unsigned char)value[start]))
            start++;
        while (end > start && is_ows((unsigned char)value[end - 1]))
            end--;
        if (end > start) {
            int rc = fn(value + start, end - start, arg);
            if (rc != 0)
                return rc;
        }
        i++; /* past the comma */
    }
    return 0;
}

static int list_has_cb(const char *item, size_t len, void *arg)
{
    return eq_nocase(item, len, arg);
}

int larder_http_list_has(const char *value, size_t len, const char *token)
{
    return larder_http_list_each(value, len, list_has_cb, (void *)token);
}

/* ---- heads --------------------------------------------------------------- */

void larder_http_head_init(struct larder_http_head *head,
                           struct larder_http_field *fields, unsigned cap)
{
    memset(head, 0, sizeof(*head));
    head->fields = fields;
    head->fields_cap = cap;
}

static int fail(struct larder_http_head *h, int status, const char *reason)
{
    h->error_status = status;
    h->error_reason = reason;
    return LARDER_PARSE_ERROR;
}

static int all_tchar(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!larder_http_is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Scans the line starting at <start> byte by byte, so that whatever is
 * wrong first, in byte order, is what gets reported, for a prefix as for
 * the whole: a byte past the head limit (431), a content byte past
 * <max_content> (<long_status>), a CR not followed by LF, or an LF not
 * preceded by CR (400). Returns 1 with the content end and the next line's
 * start, 0 when the line is not complete yet, or -1 with the error set. */
static int scan_line(struct larder_http_head *h, const char *buf, size_t len, size_t start,
                     size_t max_content, int long_status, const struct larder_http_limits *lim,
                     int err, size_t *end_out, size_t *next_out)
{
    int big = err == 400 ? 431 : err;
    const char *lf = memchr(buf + start, '\n', len - start);
    size_t stop = lf != NULL ? (size_t)(lf - buf) : len;
    const char *cr = memchr(buf + start, '\r', stop - start);

    /* the common case in two memchr: a clean line within every limit */
    if (lf != NULL && stop > start && cr == lf - 1 && stop + 1 <= lim->max_head &&
        stop - 1 - start <= max_content) {
        *end_out = stop - 1;
        *next_out = stop + 1;
        return 1;
    }
    if (lf == NULL && len <= lim->max_head && len - start <= max_content &&
        (cr == NULL || cr == buf + len - 1))
        return 0;
    /* something is off: find what comes first, byte by byte */
    for (size_t p = start; p < len; p++) {
        char c = buf[p];

        if (p >= lim->max_head)
            return fail(h, big, "header section too large");
        if (c == '\n') {
            if (p == start || buf[p - 1] != '\r')
                return fail(h, err, "bare LF line ending");
            *end_out = p - 1;
            *next_out = p + 1;
            return 1;
        }
        if (c == '\r') {
            if (p + 1 < len && buf[p + 1] != '\n')
                return fail(h, err, "bare CR");
            continue;
        }
        if (p - start >= max_content) {
            /* RFC 9112 3: a method longer than any implemented gets 501 */
            if (long_status == 414 && all_tchar(buf + start, p - start))
                return fail(h, 501, "request method too long");
            return fail(h, long_status, long_status == 414 ? "request line too long"
                                                          : "header section too large");
        }
    }
    return 0;
}

/* Parses "HTTP/x.y" exactly; returns 10/11, or sets an error. */
static int parse_version(struct larder_http_head *h, const char *p, size_t n,
                         int err_status)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) ||
        p[6] != '.' || !is_digit((unsigned char)p[7]))
        return fail(h, err_status, "malformed HTTP version");
    if (p[5] != '1')
        return fail(h, err_status == 400 ? 505 : err_status, "unsupported HTTP version");
    h->version = p[7] == '0' ? 10 : 11;
    return 0;
}

static int parse_request_line(struct larder_http_head *h, const char *s, size_t n)
{
    size_t i = 0, t;
    struct larder_url url;

    while (i < n && larder_http_is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ' ')
        return fail(h, 400, "malformed request line");
    h->method = s;
    h->method_len = i;
    t = ++i;
    while (i < n && is_vchar((unsigned char)s[i]))
        i++;
    if (i == t || i >= n || s[i] != ' ')
        return fail(h, 400, "malformed request target");
    h->target = s + t;
    h->target_len = i - t;
    i++;
    if (parse_version(h, s + i, n - i, 400) != 0)
        return LARDER_PARSE_ERROR;

    if (h->method_len == 7 && memcmp(h->method, "CONNECT", 7) == 0) {
        if (larder_url_parse_authority(h->target, h->target_len, &url) != NULL)
            return fail(h, 400, "CONNECT target is not host:port");
        h->form = LARDER_TARGET_AUTHORITY;
    } else if (h->target_len == 1 && h->target[0] == '*') {
        if (!(h->method_len == 7 && memcmp(h->method, "OPTIONS", 7) == 0))
            return fail(h, 400, "asterisk target is for OPTIONS only");
        h->form = LARDER_TARGET_ASTERISK;
    } else if (h->target[0] == '/') {
        h->form = LARDER_TARGET_ORIGIN;
    } else {
        /* absolute-form: scheme ":" ...; the url module validates the rest */
        size_t k = 0;
        unsigned char c0 = (unsigned char)h->target[0];
        if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
            return fail(h, 400, "malformed request target");
        while (k < h->target_len && h->target[k] != ':') {
            unsigned char c = (unsigned char)h->target[k];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                  c == '+' || c == '-' || c == '.'))
                return fail(h, 400, "malformed request target");
            k++;
        }
        if (k == h->target_len)
            return fail(h, 400, "malformed request target");
        h->form = LARDER_TARGET_ABSOLUTE;
    }
    return 0;
}

static int parse_status_line(struct larder_http_head *h, const char *s, size_t n)
{
    if (n < 12 || s[8] != ' ')
        return fail(h, 502, "malformed status line");
    if (parse_version(h, s, 8, 502) != 0)
        return LARDER_PARSE_ERROR;
    if (!is_digit((unsigned char)s[9]) || !is_digit((unsigned char)s[10]) ||
        !is_digit((unsigned char)s[11]))
        return fail(h, 502, "malformed status code");
    h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (h->status < 100 || h->status > 599)
        return fail(h, 502, "status code out of range");
    h->reason = s + n;
    h->reason_len = 0;
    if (n > 12) {
        if (s[12] != ' ')
            return fail(h, 502, "malformed status line");
        for (size_t i = 13; i < n; i++)
            if (!is_value_char((unsigned char)s[i]))
                return fail(h, 502, "invalid byte in reason phrase");
        h->reason = s + 13;
        h->reason_len = n - 13;
    }
    return 0;
}

static int parse_field_line(struct larder_http_head *h, const char *s, size_t n,
                            int err_status)
{
    size_t i = 0, vs, ve;
    struct larder_http_field *f;

    if (is_ows((unsigned char)s[0]))
        return fail(h, err_status, "obsolete line folding");
    while (i < n && larder_http_is_tchar((unsigned char)s[i]))
        i++;
    if (i == n || s[i] != ':') {
        if (i < n && is_ows((unsigned char)s[i]))
            return fail(h, err_status, "whitespace before colon in field");
        return fail(h, err_status, "invalid field name");
    }
    if (i == 0)
        return fail(h, err_status, "empty field name");
    vs = i + 1;
    for (size_t k = vs; k < n; k++)
        if (!is_value_char((unsigned char)s[k]))
            return fail(h, err_status, "invalid byte in field value");
    while (vs < n && is_ows((unsigned char)s[vs]))
        vs++;
    ve = n;
    while (ve > vs && is_ows((unsigned char)s[ve - 1]))
        ve--;
    if (h->nfields >= h->fields_cap)
        return fail(h, err_status == 400 ? 431 : err_status, "too many header fields");
    f = &h->fields[h->nfields++];
    f->name = s;
    f->name_len = i;
    f->value = s + vs;
    f->value_len = ve - vs;
    f->flags = 0;
    return 0;
}

/* Walks the lines of a head. <is_request> picks the start-line grammar and
 * the error statuses. Returns the head length, INCOMPLETE or ERROR. */
static int parse_lines(const char *buf, size_t len, const struct larder_http_limits *lim,
                       struct larder_http_head *h, int is_request)
{
    int err = is_request ? 400 : 502;
    size_t pos = 0, end, next;
    unsigned max_fields = lim->max_fields < h->fields_cap ? lim->max_fields : h->fields_cap;
    int first = 1, rc;

    h->nfields = 0;
    if (is_request) {
        /* RFC 9112 2.2: ignore empty lines before the request line */
        while (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n' && pos + 2 <= lim->max_head)
            pos += 2;
    }
    for (;;) {
        rc = first ? scan_line(h, buf, len, pos, lim->max_line, is_request ? 414 : 502, lim, err,
                               &end, &next)
                   : scan_line(h, buf, len, pos, SIZE_MAX, err, lim, err, &end, &next);
        if (rc <= 0)
            return rc < 0 ? LARDER_PARSE_ERROR : LARDER_PARSE_INCOMPLETE;
        if (first) {
            rc = is_request ? parse_request_line(h, buf + pos, end - pos)
                            : parse_status_line(h, buf + pos, end - pos);
            if (rc != 0)
                return LARDER_PARSE_ERROR;
            first = 0;
        } else if (end == pos) {
            return (int)next; /* the empty line ends the head */
        } else {
            if (h->nfields >= max_fields)
                return fail(h, is_request ? 431 : 502, "too many header fields");
            if (parse_field_line(h, buf + pos, end - pos, err) != 0)
                return LARDER_PARSE_ERROR;
        }
        pos = next;
    }
}

/* ---- framing ------------------------------------------------------------- */

struct cl_state {
    int seen;
    int bad;
    uint64_t value;
};

static int content_length_cb(const char *item, size_t len, void *arg)
{
    struct cl_state *st = arg;
    uint64_t v = 0;

    if (len == 0 || len > 19) {
        st->bad = 1;
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)item[i])) {
            st->bad = 1;
            return 1;
        }
        v = v * 10 + (uint64_t)(item[i] - '0');
    }
    if (st->seen && v != st->value) {
        st->bad = 2;
        return 1;
    }
    st->seen = 1;
    st->value = v;
    return 0;
}

/* Content-Length across all its lines: 0 none, 1 valid (value set), -1
 * invalid, -2 differing values. Empty list elements are invalid here. */
static int content_length(const struct larder_http_head *h, uint64_t *value)
{
    struct cl_state st = { 0, 0, 0 };
    int any = 0;

    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (!LARDER_FIELD_IS(f, "content-length"))
            continue;
        any = 1;
        /* an empty element (", 5", "5,,5", "") is not a Content-Length */
        if (f->value_len == 0 || f->value[0] == ',' || f->value[f->value_len - 1] == ',')
            return -1;
        for (size_t k = 0; k + 1 < f->value_len; k++) {
            if (f->value[k] == ',') {
                size_t j = k + 1;
                while (j < f->value_len && is_ows((unsigned char)f->value[j]))
                    j++;
                if (j == f->value_len || f->value[j] == ',')
                    return -1;
            }
        }
        if (larder_http_list_each(f->value, f->value_len, content_length_cb, &st) != 0)
            return st.bad == 2 ? -2 : -1;
    }
    if (!any)
        return 0;
    *value = st.value;
    return 1;
}

struct te_state {
    unsigned count;
    int last_chunked;
    int chunked_before_last;
    int bad;
};

static int te_cb(const char *item, size_t len, void *arg)
{
    struct te_state *st = arg;
    size_t n = 0;

    /* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
    while (n < len && larder_http_is_tchar((unsigned char)item[n]))
        n++;
    if (n == 0 || (n < len && item[n] != ';' && !is_ows((unsigned char)item[n])))
        st->bad = 1;
    if (st->last_chunked)
        st->chunked_before_last = 1;
    st->last_chunked = eq_nocase(item, n, "chunked") && n == len;
    st->count++;
    return 0;
}

static void scan_connection(struct larder_http_head *h)
{
    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (LARDER_FIELD_IS(f, "connection")) {
            if (larder_http_list_has(f->value, f->value_len, "close"))
                h->flags |= LARDER_HEAD_F_CONN_CLOSE;
            if (larder_http_list_has(f->value, f->value_len, "keep-alive"))
                h->flags |= LARDER_HEAD_F_CONN_KEEPALIVE;
        }
    }
}

static int request_framing(struct larder_http_head *h)
{
    int te = -1, hosts = 0, te_lines = 0, cl;
    uint64_t len = 0;

    for (unsigned i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];
        if (LARDER_FIELD_IS(f, "transfer-encoding")) {
            te = (int)i;
            te_lines++;
        } else if (LARDER_FIELD_IS(f, "host")) {
            hosts++;
            for (size_t k = 0; k < f->value_len; k++)
                if (!is_host_char((unsigned char)f->value[k]))
                    return fail(h, 400, "invalid Host");
        } else if (LARDER_FIELD_IS(f, "expect")) {
            if (larder_http_list_has(f->value, f->value_len, "100-continue"))
                h->flags |= LARDER_HEAD_F_EXPECT_CONTINUE;
        }
    }
    scan_connection(h);
    if (hosts > 1)
        return fail(h, 400, "more than one Host");
    if (hosts == 1)
        h->flags |= LARDER_HEAD_F_HAS_HOST;
    else if (h->version >= 11)
        return fail(h, 400, "missing Host");

    cl = content_length(h, &len);
    if (cl != 0)
        h->flags |= LARDER_HEAD_F_HAS_CL;
    if (te >= 0) {
        const struct larder_http_field *f = &h->fields[te];
        struct te_state st = { 0, 0, 0, 0 };

        h->flags |= LARDER_HEAD_F_HAS_TE;
        if (cl != 0)
            return fail(h, 400, "both Content-Length and Transfer-Encoding");
        if (h->version < 11)
            return fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (te_lines > 1)
            return fail(h, 400, "more than one Transfer-Encoding");
        if (eq_nocase(f->value, f->value_len, "chunked")) {
            h->body = LARDER_BODY_CHUNKED;
            return 0;
        }
        larder_http_list_each(f->value, f->value_len, te_cb, &st);
        if (!st.bad && st.last_chunked && !st.chunked_before_last && st.count > 1)
            return fail(h, 501, "unsupported transfer coding");
        return fail(h, 400, "invalid Transfer-Encoding");
    }
    if (cl == -2)
        return fail(h, 400, "differing Content-Length values");
    if (cl < 0)
        return fail(h, 400, "invalid Content-Length");
    if (cl == 1) {
        h->body = LARDER_BODY_LENGTH;
        h->content_length = len;
    }
    return 0;
}

static int response_framing(struct larder_http_head *h, const char *method, size_t method_len)
{
    int te = -1, te_lines = 0, cl;
    uint64_t len = 0;

    for (unsigned i = 0; i < h->nfields; i++) {
        if (LARDER_FIELD_IS(&h->fields[i], "transfer-encoding")) {
            te = (int)i;
            te_lines++;
        }
    }
    scan_connection(h);
    cl = content_length(h, &len);
    if (cl != 0)
        h->flags |= LARDER_HEAD_F_HAS_CL;
    if (te >= 0) {
        h->flags |= LARDER_HEAD_F_HAS_TE;
        if (cl != 0)
            return fail(h, 502, "both Content-Length and Transfer-Encoding");
        if (h->version < 11)
            return fail(h, 502, "Transfer-Encoding in an HTTP/1.0 response");
        if (te_lines > 1 || !eq_nocase(h->fields[te].value, h->fields[te].value_len, "chunked"))
            return fail(h, 502, "unsupported Transfer-Encoding");
    }
    if (cl == -2)
        return fail(h, 502, "differing Content-Length values");
    if (cl < 0)
        return fail(h, 502, "invalid Content-Length");

    if ((method_len == 4 && memcmp(method, "HEAD", 4) == 0) || h->status < 200 ||
        h->status == 204 || h->status == 304) {
        h->body = LARDER_BODY_NONE;
    } else if (te >= 0) {
        h->body = LARDER_BODY_CHUNKED;
    } else if (cl == 1) {
        h->body = LARDER_BODY_LENGTH;
        h->content_length = len;
    } else {
        h->body = LARDER_BODY_CLOSE;
    }
    return 0;
}

static void reset_results(struct larder_http_head *h)
{
    struct larder_http_field *fields = h->fields;
    unsigned cap = h->fields_cap;

    larder_http_head_init(h, fields, cap);
}

int larder_http_parse_request(const char *buf, size_t len,
                              const struct larder_http_limits *lim,
                              struct larder_http_head *head)
{
    int n;

    reset_results(head);
    n = parse_lines(buf, len, lim, head, 1);
    if (n < 0)
        return n;
    if (request_framing(head) != 0)
        return LARDER_PARSE_ERROR;
    return n;
}

int larder_http_parse_response(const char *buf, size_t len,
                               const struct larder_http_limits *lim,
                               const char *request_method, size_t method_len,
                               struct larder_http_head *head)
{
    int n;

    reset_results(head);
    n = parse_lines(buf, len, lim, head, 0);
    if (n < 0)
        return n;
    if (response_framing(head, request_method, method_len) != 0)
        return LARDER_PARSE_ERROR;
    return n;
}

/* ---- chunked ------------------------------------------------------------- */

enum chunk_state {
    CK_SIZE = 0,      /* hex digits of the chunk size */
    CK_SIZE_WS,       /* BWS after the size, before ';' */
    CK_EXT_PRE_NAME,  /* after ';', BWS then an extension name */
    CK_EXT_NAME,      /* extension name */
    CK_EXT_NAME_WS,   /* BWS after the name: '=' or ';' follows */
    CK_EXT_PRE_VAL,   /* after '=', BWS then the value */
    CK_EXT_TOKEN,     /* token value */
    CK_EXT_VAL_WS,    /* BWS after a value: ';' follows */
    CK_EXT_QUOTED,    /* inside a quoted-string value */
    CK_EXT_QUOTED_ESC, /* after a backslash in it */
    CK_EXT_QUOTE_END, /* right after the closing quote */
    CK_SIZE_LF,       /* CR seen after the size line */
    CK_DATA,          /* chunk data pending */
    CK_DATA_CR,       /* CR expected after data */
    CK_DATA_LF,       /* LF expected after data */
    CK_TRAILER,       /* start of a trailer line (or the final CRLF) */
    CK_TRAILER_NAME,  /* trailer field name */
    CK_TRAILER_VALUE, /* trailer field value */
    CK_TRAILER_LF,    /* CR seen at the end of a trailer field */
    CK_END_LF,        /* CR seen on the empty line that ends the body */
    CK_DONE,
    CK_ERROR,
    CK_STATE_COUNT    /* keep last */
};

void larder_chunked_init(struct larder_chunked *c, const struct larder_http_limits *lim)
{
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE;
    c->lim = lim;
}

uint64_t larder_chunked_data_left(const struct larder_chunked *c)
{
    return c->state == CK_DATA ? c->remaining : 0;
}

void larder_chunked_data_consumed(struct larder_chunked *c, uint64_t n)
{
    if (c->state != CK_DATA || n > c->remaining)
        return;
    c->remaining -= n;
    if (c->remaining == 0)
        c->state = CK_DATA_CR;
}

int larder_chunked_done(const struct larder_chunked *c)
{
    return c->state == CK_DONE;
}

static long chunk_fail(struct larder_chunked *c, const char *reason)
{
    c->state = CK_ERROR;
    c->error_reason = reason;
    return LARDER_PARSE_ERROR;
}

/* One byte of a chunk extension (RFC 9112 7.1.1):
 *   *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
 * Returns 0, or -1 when the byte cannot be there. */
static int chunk_ext_byte(struct larder_chunked *c, unsigned char ch)
{
    int tok = larder_http_is_tchar(ch), ws = is_ows(ch);

    switch (c->state) {
    case CK_SIZE_WS:
        if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (!ws)
            return -1;
        return 0;
    case CK_EXT_PRE_NAME:
        if (tok)
            c->state = CK_EXT_NAME;
        else if (!ws)
            return -1;
        return 0;
    case CK_EXT_NAME:
        if (ch == '=')
            c->state = CK_EXT_PRE_VAL;
        else if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (ws)
            c->state = CK_EXT_NAME_WS;
        else if (!tok)
            return -1;
        return 0;
    case CK_EXT_NAME_WS:
        if (ch == '=')
            c->state = CK_EXT_PRE_VAL;
        else if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (!ws)
            return -1;
        return 0;
    case CK_EXT_PRE_VAL:
        if (ch == '"')
            c->state = CK_EXT_QUOTED;
        else if (tok)
            c->state = CK_EXT_TOKEN;
        else if (!ws)
            return -1;
        return 0;
    case CK_EXT_TOKEN:
        if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (ws)
            c->state = CK_EXT_VAL_WS;
        else if (!tok)
            return -1;
        return 0;
    case CK_EXT_VAL_WS:
        if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (!ws)
            return -1;
        return 0;
    case CK_EXT_QUOTED:
        if (ch == '"')
            c->state = CK_EXT_QUOTE_END;
        else if (ch == '\\')
            c->state = CK_EXT_QUOTED_ESC;
        else if (!(ws || ch == 0x21 || (ch >= 0x23 && ch <= 0x5b) || (ch >= 0x5d && ch <= 0x7e) ||
                   ch >= 0x80))
            return -1;
        return 0;
    case CK_EXT_QUOTED_ESC:
        if (!(ws || is_vchar(ch) || ch >= 0x80))
            return -1;
        c->state = CK_EXT_QUOTED;
        return 0;
    case CK_EXT_QUOTE_END:
        if (ch == ';')
            c->state = CK_EXT_PRE_NAME;
        else if (ws)
            c->state = CK_EXT_VAL_WS;
        else
            return -1;
        return 0;
    default:
        return -1;
    }
}

long larder_chunked_parse(struct larder_chunked *c, const char *buf, size_t len)
{
    size_t i = 0;

    if (c->state == CK_ERROR)
        return LARDER_PARSE_ERROR;
    while (i < len) {
        unsigned char ch = (unsigned char)buf[i];
        int h;

        switch (c->state) {
        case CK_SIZE:
            h = hex_value(ch);
            if (h >= 0) {
                if (++c->digits > 16)
                    return chunk_fail(c, "chunk size too long");
                c->remaining = (c->remaining << 4) | (uint64_t)h;
                break;
            }
            if (c->digits == 0)
                return chunk_fail(c, "invalid chunk size");
            c->line_len = 0;
            if (ch == '\r') {
                c->state = CK_SIZE_LF;
                break;
            }
            if (ch == ';')
                c->state = CK_EXT_PRE_NAME;
            else if (is_ows(ch))
                c->state = CK_SIZE_WS;
            else
                return chunk_fail(c, "invalid chunk size");
            c->line_len = 1;
            break;
        case CK_SIZE_WS:
        case CK_EXT_PRE_NAME:
        case CK_EXT_NAME:
        case CK_EXT_NAME_WS:
        case CK_EXT_PRE_VAL:
        case CK_EXT_TOKEN:
        case CK_EXT_VAL_WS:
        case CK_EXT_QUOTED:
        case CK_EXT_QUOTED_ESC:
        case CK_EXT_QUOTE_END:
            if (ch == '\r' && (c->state == CK_EXT_NAME || c->state == CK_EXT_TOKEN ||
                               c->state == CK_EXT_QUOTE_END)) {
                c->state = CK_SIZE_LF;
                break;
            }
            if (++c->line_len > c->lim->max_chunk_ext)
                return chunk_fail(c, "chunk extension too long");
            if (chunk_ext_byte(c, ch) != 0)
                return chunk_fail(c, "invalid chunk extension");
            break;
        case CK_SIZE_LF:
            if (ch != '\n')
                return chunk_fail(c, "bare CR in chunk size line");
            c->digits = 0;
            if (c->remaining == 0) {
                c->state = CK_TRAILER;
            } else {
                c->state = CK_DATA;
                return (long)(i + 1);
            }
            break;
        case CK_DATA:
            return (long)i;
        case CK_DATA_CR:
            if (ch != '\r')
                return chunk_fail(c, "chunk data not followed by CRLF");
            c->state = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (ch != '\n')
                return chunk_fail(c, "chunk data not followed by CRLF");
            c->state = CK_SIZE;
            c->remaining = 0;
            break;
        case CK_TRAILER:
            if (ch == '\r') {
                c->state = CK_END_LF;
            } else if (larder_http_is_tchar(ch)) {
                if (c->trailer_fields >= c->lim->max_fields)
                    return chunk_fail(c, "too many trailer fields");
                c->trailer_fields++;
                c->line_len = 0;
                c->state = CK_TRAILER_NAME;
            } else {
                return chunk_fail(c, "invalid trailer field");
            }
            break;
        case CK_TRAILER_NAME:
            if (ch == ':')
                c->state = CK_TRAILER_VALUE;
            else if (!larder_http_is_tchar(ch))
                return chunk_fail(c, "invalid trailer field name");
            break;
        case CK_TRAILER_VALUE:
            if (ch == '\r')
                c->state = CK_TRAILER_LF;
            else if (!is_value_char(ch))
                return chunk_fail(c, "invalid byte in trailer field");
            break;
        case CK_TRAILER_LF:
            if (ch != '\n')
                return chunk_fail(c, "bare CR in trailer field");
            c->state = CK_TRAILER;
            break;
        case CK_END_LF:
            if (ch != '\n')
                return chunk_fail(c, "bare CR after the last chunk");
            c->state = CK_DONE;
            return (long)(i + 1);
        case CK_DONE:
            return (long)i;
        default:
            return chunk_fail(c, "chunked parser in a bad state");
        }
        if (c->state >= CK_TRAILER && c->state <= CK_END_LF &&
            ++c->trailer_len > c->lim->max_head)
            return chunk_fail(c, "trailer section too large");
        i++;
    }
    return (long)i;
}
