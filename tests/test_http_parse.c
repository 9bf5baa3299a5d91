/* SPDX-License-Identifier: MIT */
/* test_http_parse.c - table-driven tests of the HTTP/1.1 head, framing and
 * chunked parsers, each sample fed whole, byte by byte and in random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "larder/http_parse.h"

/* ======================================================================== */
/* ---- limits, sample tables --------------------------------------------- */

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))
#define FIELD_CAP 256           /* >= every max_fields used below */
#define RANDOM_ROUNDS 50        /* random splits per sample */
#define DENSE_PREFIX_MAX 20000  /* longer samples get a sparse prefix walk */

static const struct larder_http_limits lim_default = {
    .max_line = 8192, .max_head = 65536, .max_fields = 128, .max_chunk_ext = 4096,
};

/* Small limits for boundary samples. */
static const struct larder_http_limits lim_small = {
    .max_line = 32, .max_head = 128, .max_fields = 4, .max_chunk_ext = 8,
};

#define EXPECT_OK 0
#define EXPECT_MORE 1           /* the whole sample is still INCOMPLETE */

/* One request or response head sample. For EXPECT_OK samples every listed
 * result is checked; errors compare error_status only. */
struct head_sample {
    const char *name;
    const char *text;
    size_t len;
    size_t tail;                /* bytes after the head (body, next message) */
    const struct larder_http_limits *lim;   /* NULL: lim_default */
    const char *req_method;     /* responses: method of the request (NULL: GET) */
    int expect;                 /* EXPECT_OK, EXPECT_MORE or an error status */
    const char *method;         /* requests */
    const char *target;
    enum larder_target_form form;
    int status;                 /* responses */
    const char *reason;
    int version;
    enum larder_body_kind body;
    uint64_t content_length;    /* checked when body is LENGTH */
    unsigned flags;
    const char *const *fields;  /* name, value, ..., NULL; NULL: use nfields */
    unsigned nfields;           /* checked when fields is NULL */
};

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_FIELDS ((const char *const[]){ NULL })

#define T_ORIGIN LARDER_TARGET_ORIGIN
#define T_ABS LARDER_TARGET_ABSOLUTE
#define T_AUTH LARDER_TARGET_AUTHORITY
#define T_STAR LARDER_TARGET_ASTERISK
#define B_NONE LARDER_BODY_NONE
#define B_LEN LARDER_BODY_LENGTH
#define B_CHUNKED LARDER_BODY_CHUNKED
#define B_CLOSE LARDER_BODY_CLOSE
#define F_CLOSE LARDER_HEAD_F_CONN_CLOSE
#define F_KA LARDER_HEAD_F_CONN_KEEPALIVE
#define F_EXP LARDER_HEAD_F_EXPECT_CONTINUE
#define F_HOST LARDER_HEAD_F_HAS_HOST
#define F_TE LARDER_HEAD_F_HAS_TE
#define F_CL LARDER_HEAD_F_HAS_CL

/* A valid request with <tl> bytes after the head. */
#define REQ_T(nm, txt, tl, meth, tgt, frm, ver, bdy, cl, flg, flds) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .tail = (tl), \
      .expect = EXPECT_OK, .method = (meth), .target = (tgt), .form = (frm), \
      .version = (ver), .body = (bdy), .content_length = (cl), .flags = (flg), \
      .fields = flds }
#define REQ(nm, txt, meth, tgt, frm, ver, bdy, cl, flg, flds) \
    REQ_T(nm, txt, 0, meth, tgt, frm, ver, bdy, cl, flg, flds)
/* A sample whole-parsed as error <st> (or EXPECT_MORE). */
#define BAD(nm, txt, st) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .expect = (st) }
#define BAD_M(nm, meth, txt, st) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .req_method = (meth), \
      .expect = (st) }
/* A valid response to <meth> with <tl> bytes after the head. */
#define RESP(nm, meth, txt, tl, st, rsn, ver, bdy, cl, flg, flds) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .tail = (tl), \
      .req_method = (meth), .expect = EXPECT_OK, .status = (st), .reason = (rsn), \
      .version = (ver), .body = (bdy), .content_length = (cl), .flags = (flg), \
      .fields = flds }

#define HOST "Host: example.com\r\n"
#define GET11 "GET / HTTP/1.1\r\n"
#define POST11 "POST /up HTTP/1.1\r\n" HOST
#define HOSTF "Host", "example.com"

/* ---- requests: valid ---------------------------------------------------- */

static const struct head_sample req_valid[] = {
    REQ("simple GET", GET11 HOST "\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("one leading CRLF", "\r\n" GET11 HOST "\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("three leading CRLFs", "\r\n\r\n\r\n" GET11 HOST "\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("origin-form with query", "GET /a/b?x=1&y=%20z HTTP/1.1\r\n" HOST "\r\n",
        "GET", "/a/b?x=1&y=%20z", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("origin-form all VCHAR", "GET /!\"$&'()*+,-.:;<=>?@[\\]^_`{|}~ HTTP/1.1\r\n" HOST "\r\n",
        "GET", "/!\"$&'()*+,-.:;<=>?@[\\]^_`{|}~", T_ORIGIN, 11, B_NONE, 0, F_HOST,
        FIELDS(HOSTF)),
    REQ("absolute-form", "GET http://example.com/x?y HTTP/1.1\r\n" HOST "\r\n",
        "GET", "http://example.com/x?y", T_ABS, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("absolute-form without path", "GET http://example.com HTTP/1.1\r\n" HOST "\r\n",
        "GET", "http://example.com", T_ABS, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("absolute-form port and case",
        "GET HTTP://Example.COM:8080/p?q HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n",
        "GET", "HTTP://Example.COM:8080/p?q", T_ABS, 11, B_NONE, 0, F_HOST,
        FIELDS("Host", "Example.COM:8080")),
    REQ("absolute-form https (501 is the proxy's call)",
        "GET https://example.com/ HTTP/1.1\r\n" HOST "\r\n",
        "GET", "https://example.com/", T_ABS, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("CONNECT authority-form",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "CONNECT", "example.com:443", T_AUTH, 11, B_NONE, 0, F_HOST,
        FIELDS("Host", "example.com:443")),
    REQ("CONNECT IPv6 authority",
        "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
        "CONNECT", "[::1]:8443", T_AUTH, 11, B_NONE, 0, F_HOST,
        FIELDS("Host", "[::1]:8443")),
    REQ("CONNECT IPv4 authority",
        "CONNECT 192.0.2.1:22 HTTP/1.1\r\nHost: 192.0.2.1:22\r\n\r\n",
        "CONNECT", "192.0.2.1:22", T_AUTH, 11, B_NONE, 0, F_HOST,
        FIELDS("Host", "192.0.2.1:22")),
    REQ("OPTIONS asterisk-form", "OPTIONS * HTTP/1.1\r\n" HOST "\r\n",
        "OPTIONS", "*", T_STAR, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("OPTIONS origin-form", "OPTIONS / HTTP/1.1\r\n" HOST "\r\n",
        "OPTIONS", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n",
        "GET", "/", T_ORIGIN, 10, B_NONE, 0, 0, NO_FIELDS),
    REQ("HTTP/1.0 with Host", "GET / HTTP/1.0\r\n" HOST "\r\n",
        "GET", "/", T_ORIGIN, 10, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("HTTP/1.2 read as 1.1", "GET / HTTP/1.2\r\n" HOST "\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("HTTP/1.9 read as 1.1", "GET / HTTP/1.9\r\n" HOST "\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("lower-case method is a token", "get / HTTP/1.1\r\n" HOST "\r\n",
        "get", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ("method of every tchar", "X-!#$%&'*+.^_`|~09az / HTTP/1.1\r\n" HOST "\r\n",
        "X-!#$%&'*+.^_`|~09az", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ_T("POST with Content-Length", POST11 "Content-Length: 5\r\n\r\nhello", 5,
          "POST", "/up", T_ORIGIN, 11, B_LEN, 5, F_HOST | F_CL,
          FIELDS(HOSTF, "Content-Length", "5")),
    REQ("Content-Length 0", POST11 "Content-Length: 0\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 0, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "0")),
    REQ("Content-Length leading zeros", POST11 "Content-Length: 007\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 7, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "007")),
    REQ("Content-Length 19 digits", POST11 "Content-Length: 9999999999999999999\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, UINT64_C(9999999999999999999), F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "9999999999999999999")),
    REQ("Content-Length 19 digits with leading zeros",
        POST11 "Content-Length: 0000000000000000042\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 42, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "0000000000000000042")),
    REQ("Content-Length equal list", POST11 "Content-Length: 5, 5\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 5, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "5, 5")),
    REQ("Content-Length equal list without space", POST11 "Content-Length: 5,5,5\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 5, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "5,5,5")),
    REQ("Content-Length equal on two lines",
        POST11 "Content-Length: 5\r\ncontent-length: 5\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 5, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "5", "content-length", "5")),
    REQ("Content-Length list and line equal",
        POST11 "Content-Length: 5 , 5\r\nContent-Length: 5\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 5, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "5 , 5", "Content-Length", "5")),
    REQ("Content-Length with OWS", POST11 "Content-Length: \t 12 \t\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 12, F_HOST | F_CL,
        FIELDS(HOSTF, "Content-Length", "12")),
    REQ_T("Transfer-Encoding chunked", POST11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5,
          "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
          FIELDS(HOSTF, "Transfer-Encoding", "chunked")),
    REQ("Transfer-Encoding Chunked", POST11 "Transfer-Encoding: Chunked\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
        FIELDS(HOSTF, "Transfer-Encoding", "Chunked")),
    REQ("Transfer-Encoding CHUNKED", POST11 "Transfer-Encoding: CHUNKED\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
        FIELDS(HOSTF, "Transfer-Encoding", "CHUNKED")),
    REQ("Transfer-Encoding with tabs around", POST11 "Transfer-Encoding:\tchunked\t\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
        FIELDS(HOSTF, "Transfer-Encoding", "chunked")),
    REQ("Transfer-Encoding with spaces around",
        POST11 "Transfer-Encoding:   chunked  \r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
        FIELDS(HOSTF, "Transfer-Encoding", "chunked")),
    REQ("transfer-encoding name in lower case", POST11 "transfer-encoding: chunked\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE,
        FIELDS(HOSTF, "transfer-encoding", "chunked")),
    REQ("Connection: close", GET11 HOST "Connection: close\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST | F_CLOSE,
        FIELDS(HOSTF, "Connection", "close")),
    REQ("Connection: keep-alive in 1.0", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        "GET", "/", T_ORIGIN, 10, B_NONE, 0, F_KA, FIELDS("Connection", "Keep-Alive")),
    REQ("Connection list with close", GET11 HOST "Connection: Upgrade, Close\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST | F_CLOSE,
        FIELDS(HOSTF, "Connection", "Upgrade, Close")),
    REQ("Connection close and keep-alive", GET11 HOST "Connection: close,keep-alive\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST | F_CLOSE | F_KA,
        FIELDS(HOSTF, "Connection", "close,keep-alive")),
    REQ("Connection on two lines",
        GET11 HOST "Connection: foo\r\nconnection: keep-alive\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST | F_KA,
        FIELDS(HOSTF, "Connection", "foo", "connection", "keep-alive")),
    REQ("Connection other token", GET11 HOST "Connection: upgrade\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "Connection", "upgrade")),
    REQ("Connection token containing close", GET11 HOST "Connection: closed, xclose\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST,
        FIELDS(HOSTF, "Connection", "closed, xclose")),
    REQ("Expect: 100-continue", POST11 "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 3, F_HOST | F_CL | F_EXP,
        FIELDS(HOSTF, "Content-Length", "3", "Expect", "100-continue")),
    REQ("Expect: 100-Continue any case", POST11 "Content-Length: 3\r\nexpect: 100-Continue\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_LEN, 3, F_HOST | F_CL | F_EXP,
        FIELDS(HOSTF, "Content-Length", "3", "expect", "100-Continue")),
    REQ("Expect other value", GET11 HOST "Expect: foo\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "Expect", "foo")),
    REQ("obs-text in value", GET11 HOST "X-Name: caf\xc3\xa9 \xff\x80\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST,
        FIELDS(HOSTF, "X-Name", "caf\xc3\xa9 \xff\x80")),
    REQ("HTAB inside value", GET11 HOST "X: a\tb\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X", "a\tb")),
    REQ("empty value", GET11 HOST "X-Empty:\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X-Empty", "")),
    REQ("whitespace-only value", GET11 HOST "X-Empty: \t \r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X-Empty", "")),
    REQ("value trimmed", GET11 HOST "X:  a b \t\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X", "a b")),
    REQ("no space after colon", GET11 HOST "X:a\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X", "a")),
    REQ("colons in value", GET11 HOST "X: a:b: c\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF, "X", "a:b: c")),
    REQ("tchar field name", GET11 HOST "!#$%&'*+-.^_`|~09Az: v\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST,
        FIELDS(HOSTF, "!#$%&'*+-.^_`|~09Az", "v")),
    REQ("fields kept in order",
        GET11 "Accept: */*\r\n" HOST "User-Agent: t/1\r\nAccept: text/html\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST,
        FIELDS("Accept", "*/*", HOSTF, "User-Agent", "t/1", "Accept", "text/html")),
    REQ("Host with port", GET11 "Host: example.com:8080\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS("Host", "example.com:8080")),
    REQ("Host IPv4", GET11 "Host: 192.0.2.1\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS("Host", "192.0.2.1")),
    REQ("Host IPv6 with port", GET11 "Host: [2001:db8::1]:8080\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS("Host", "[2001:db8::1]:8080")),
    REQ("Host reg-name characters", GET11 "Host: a-b_c~d.example\r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS("Host", "a-b_c~d.example")),
    REQ("HOST name upper case", GET11 "HOST: example.com  \r\n\r\n",
        "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS("HOST", "example.com")),
    REQ_T("pipelined second request not consumed",
          GET11 HOST "\r\nGET /2 HTTP/1.1\r\n" HOST "\r\n", 38,
          "GET", "/", T_ORIGIN, 11, B_NONE, 0, F_HOST, FIELDS(HOSTF)),
    REQ_T("HTTP/1.0 POST with body and close",
          "POST /f HTTP/1.0\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab", 2,
          "POST", "/f", T_ORIGIN, 10, B_LEN, 2, F_CL | F_CLOSE,
          FIELDS("Content-Length", "2", "Connection", "close")),
    REQ("chunked with Expect",
        POST11 "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        "POST", "/up", T_ORIGIN, 11, B_CHUNKED, 0, F_HOST | F_TE | F_EXP,
        FIELDS(HOSTF, "Transfer-Encoding", "chunked", "Expect", "100-continue")),
    {   /* max_line limits only the request line */
        .name = "field line longer than max_line", .lim = &lim_small,
        .text = GET11 HOST "X-Long: 0123456789012345678901234567890123456789\r\n\r\n",
        .len = sizeof(GET11 HOST "X-Long: 0123456789012345678901234567890123456789\r\n\r\n") - 1,
        .method = "GET", .target = "/", .form = T_ORIGIN, .version = 11, .body = B_NONE,
        .flags = F_HOST,
        .fields = FIELDS(HOSTF, "X-Long", "0123456789012345678901234567890123456789"),
    },
};

/* ---- requests: invalid -------------------------------------------------- */

static const struct head_sample req_invalid[] = {
    /* line endings */
    BAD("bare LF after request line", "GET / HTTP/1.1\n" HOST "\r\n", 400),
    BAD("bare LF after field", GET11 "Host: example.com\n\r\n", 400),
    BAD("bare LF ends head", GET11 HOST "\n", 400),
    BAD("all bare LF", "GET / HTTP/1.1\nHost: example.com\n\n", 400),
    BAD("leading bare LF", "\n" GET11 HOST "\r\n", 400),
    BAD("bare CR in request line", "GET /\r HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("bare CR after request line", "GET / HTTP/1.1\r" HOST "\r\n", 400),
    BAD("CR CR LF", "GET / HTTP/1.1\r\r\n" HOST "\r\n", 400),
    BAD("bare CR inside value", GET11 "Host: example.com\r\nX: a\rb\r\n\r\n", 400),
    BAD("bare CR ends head", GET11 HOST "\rX", 400),
    BAD("leading bare CR", "\rGET / HTTP/1.1\r\n" HOST "\r\n", 400),
    /* controls in values and names */
    BAD("NUL in value", GET11 HOST "X: a\0b\r\n\r\n", 400),
    BAD("SOH in value", GET11 HOST "X: a\x01" "b\r\n\r\n", 400),
    BAD("ESC in value", GET11 HOST "X: \x1b[0m\r\n\r\n", 400),
    BAD("DEL in value", GET11 HOST "X: a\x7f" "b\r\n\r\n", 400),
    BAD("VT in value", GET11 HOST "X: a\vb\r\n\r\n", 400),
    BAD("FF in value", GET11 HOST "X: a\fb\r\n\r\n", 400),
    BAD("NUL at end of value", GET11 HOST "X: a\0\r\n\r\n", 400),
    BAD("NUL in name", GET11 HOST "X\0Y: a\r\n\r\n", 400),
    /* obs-fold */
    BAD("obs-fold with SP", GET11 HOST "X: a\r\n b\r\n\r\n", 400),
    BAD("obs-fold with HTAB", GET11 HOST "X: a\r\n\tb\r\n\r\n", 400),
    BAD("SP before first field line", GET11 " Host: example.com\r\n\r\n", 400),
    /* field names */
    BAD("space before colon", GET11 "Host : example.com\r\n\r\n", 400),
    BAD("tab before colon", GET11 HOST "X\t: a\r\n\r\n", 400),
    BAD("name with parenthesis", GET11 HOST "X(y): z\r\n\r\n", 400),
    BAD("name with space", GET11 HOST "X Y: z\r\n\r\n", 400),
    BAD("name with slash", GET11 HOST "X/Y: z\r\n\r\n", 400),
    BAD("empty name", GET11 HOST ": z\r\n\r\n", 400),
    BAD("line without colon", GET11 HOST "NoColon\r\n\r\n", 400),
    BAD("obs-text in name", GET11 HOST "X\xc3\xa9: z\r\n\r\n", 400),
    /* request line */
    BAD("method with parenthesis", "GE(T / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("method with @", "G@T / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("method with NUL", "G\0T / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("method with obs-text", "G\xc3\xa9T / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("empty method", " / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("two SP after method", "GET  / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("two SP before version", "GET /  HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("HTAB as separator", "GET\t/ HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("trailing SP after version", "GET / HTTP/1.1 \r\n" HOST "\r\n", 400),
    BAD("empty target", "GET  HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("missing version", "GET / \r\n" HOST "\r\n", 400),
    BAD("empty request line", "\r\n \r\n" HOST "\r\n", 400),
    BAD("target with control", "GET /a\x01" "b HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("target with DEL", "GET /a\x7f" "b HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("target with NUL", "GET /a\0b HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("target non-ASCII", "GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("target with HTAB", "GET /a\tb HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("target of no form", "GET foo HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("asterisk with GET", "GET * HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("asterisk with CONNECT", "CONNECT * HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("asterisk followed by more", "OPTIONS *x HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("CONNECT origin-form", "CONNECT / HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("CONNECT absolute-form",
        "CONNECT http://example.com:443/ HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
    BAD("CONNECT without port", "CONNECT example.com HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("CONNECT with empty port", "CONNECT example.com: HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("CONNECT with port not digits",
        "CONNECT example.com:https HTTP/1.1\r\n" HOST "\r\n", 400),
    BAD("CONNECT with userinfo",
        "CONNECT user@example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
    /* versions */
    BAD("HTTP/1.10", "GET / HTTP/1.10\r\n" HOST "\r\n", 400),
    BAD("lower-case http/1.1", "GET / http/1.1\r\n" HOST "\r\n", 400),
    BAD("HTTP/1 without minor", "GET / HTTP/1\r\n" HOST "\r\n", 400),
    BAD("HTTP/11 without dot", "GET / HTTP/11\r\n" HOST "\r\n", 400),
    BAD("HTTP/1.a", "GET / HTTP/1.a\r\n" HOST "\r\n", 400),
    BAD("HTTP/1.1x", "GET / HTTP/1.1x\r\n" HOST "\r\n", 400),
    BAD("HTTPS/1.1", "GET / HTTPS/1.1\r\n" HOST "\r\n", 400),
    BAD("HTTP/0.9-style line", "GET /\r\n" HOST "\r\n", 400),
    BAD("HTTP/0.9-style line alone", "GET /\r\n\r\n", 400),
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\n" HOST "\r\n", 505),
    BAD("HTTP/2.0 without Host", "GET / HTTP/2.0\r\n\r\n", 505),
    BAD("HTTP/3.0", "GET / HTTP/3.0\r\n" HOST "\r\n", 505),
    BAD("HTTP/0.9 version string", "GET / HTTP/0.9\r\n" HOST "\r\n", 505),
    BAD("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    /* Host */
    BAD("HTTP/1.1 without Host", GET11 "Accept: */*\r\n\r\n", 400),
    BAD("HTTP/1.1 without any field", GET11 "\r\n", 400),
    BAD("absolute-form without Host", "GET http://example.com/ HTTP/1.1\r\n\r\n", 400),
    BAD("two Host lines", GET11 HOST HOST "\r\n", 400),
    BAD("two different Host lines", GET11 HOST "host: other.example\r\n\r\n", 400),
    BAD("two Host lines in 1.0", "GET / HTTP/1.0\r\n" HOST HOST "\r\n", 400),
    BAD("Host with space", GET11 "Host: exa mple.com\r\n\r\n", 400),
    BAD("Host with path", GET11 "Host: example.com/path\r\n\r\n", 400),
    BAD("Host with userinfo", GET11 "Host: user@example.com\r\n\r\n", 400),
    BAD("Host with query", GET11 "Host: example.com?q\r\n\r\n", 400),
    BAD("Host with fragment", GET11 "Host: example.com#f\r\n\r\n", 400),
    BAD("Host as a list", GET11 "Host: a.example, b.example\r\n\r\n", 400),
    BAD("Host with obs-text", GET11 "Host: caf\xc3\xa9.example\r\n\r\n", 400),
    /* Content-Length */
    BAD("Content-Length differing lines",
        POST11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    BAD("Content-Length differing list", POST11 "Content-Length: 5, 6\r\n\r\n", 400),
    BAD("Content-Length list and line differ",
        POST11 "Content-Length: 5, 5\r\nContent-Length: 6\r\n\r\n", 400),
    BAD("Content-Length negative", POST11 "Content-Length: -5\r\n\r\n", 400),
    BAD("Content-Length plus sign", POST11 "Content-Length: +5\r\n\r\n", 400),
    BAD("Content-Length hex", POST11 "Content-Length: 0x5\r\n\r\n", 400),
    BAD("Content-Length hex digits", POST11 "Content-Length: 5a\r\n\r\n", 400),
    BAD("Content-Length empty", POST11 "Content-Length:\r\n\r\n", 400),
    BAD("Content-Length blank", POST11 "Content-Length:   \r\n\r\n", 400),
    BAD("Content-Length inner space", POST11 "Content-Length: 5 5\r\n\r\n", 400),
    BAD("Content-Length exponent", POST11 "Content-Length: 1e3\r\n\r\n", 400),
    BAD("Content-Length decimal", POST11 "Content-Length: 5.0\r\n\r\n", 400),
    BAD("Content-Length 20 digits", POST11 "Content-Length: 00000000000000000005\r\n\r\n", 400),
    BAD("Content-Length 2^64", POST11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
    BAD("Content-Length 2^64+5 (wraps to 5)",
        POST11 "Content-Length: 18446744073709551621\r\n\r\n", 400),
    BAD("Content-Length 20 nines", POST11 "Content-Length: 99999999999999999999\r\n\r\n", 400),
    /* Transfer-Encoding */
    BAD("Transfer-Encoding chunked, chunked",
        POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding identity", POST11 "Transfer-Encoding: identity\r\n\r\n", 400),
    BAD("Transfer-Encoding xchunked", POST11 "Transfer-Encoding: xchunked\r\n\r\n", 400),
    BAD("Transfer-Encoding chunkedx", POST11 "Transfer-Encoding: chunkedx\r\n\r\n", 400),
    BAD("Transfer-Encoding empty", POST11 "Transfer-Encoding:\r\n\r\n", 400),
    BAD("Transfer-Encoding gzip", POST11 "Transfer-Encoding: gzip\r\n\r\n", 400),
    BAD("Transfer-Encoding chunked, gzip", POST11 "Transfer-Encoding: chunked, gzip\r\n\r\n",
        400),
    BAD("Transfer-Encoding on two lines",
        POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding gzip and chunked lines",
        POST11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding VT before", POST11 "Transfer-Encoding: \vchunked\r\n\r\n", 400),
    BAD("Transfer-Encoding FF after", POST11 "Transfer-Encoding: chunked\f\r\n\r\n", 400),
    BAD("Transfer-Encoding trailing comma", POST11 "Transfer-Encoding: chunked,\r\n\r\n", 400),
    BAD("Transfer-Encoding leading comma", POST11 "Transfer-Encoding: , chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding invalid coding then chunked",
        POST11 "Transfer-Encoding: x@y, chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding gzip, chunked", POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
        501),
    BAD("Transfer-Encoding gzip,chunked", POST11 "Transfer-Encoding: gzip,chunked\r\n\r\n",
        501),
    BAD("Transfer-Encoding deflate, gzip, chunked",
        POST11 "Transfer-Encoding: deflate, gzip, Chunked\r\n\r\n", 501),
    BAD("Transfer-Encoding and Content-Length",
        POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    BAD("Content-Length and Transfer-Encoding",
        POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding and Content-Length 0",
        POST11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
    BAD("Transfer-Encoding in HTTP/1.0",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("spaces inside the target", "GET /a b c HTTP/1.1\r\n" HOST "\r\n", 400),
};

/* ---- requests: incomplete ----------------------------------------------- */

static const struct head_sample req_incomplete[] = {
    BAD("empty", "", EXPECT_MORE),
    BAD("one CRLF", "\r\n", EXPECT_MORE),
    BAD("two CRLFs", "\r\n\r\n", EXPECT_MORE),
    BAD("CR alone", "\r", EXPECT_MORE),
    BAD("method only", "GET", EXPECT_MORE),
    BAD("request line without CRLF", "GET / HTTP/1.1", EXPECT_MORE),
    BAD("request line and CR", "GET / HTTP/1.1\r", EXPECT_MORE),
    BAD("request line only", GET11, EXPECT_MORE),
    BAD("field without end", GET11 HOST, EXPECT_MORE),
    BAD("field and CR", GET11 HOST "\r", EXPECT_MORE),
    BAD("field cut in value", GET11 HOST "X: a", EXPECT_MORE),
    BAD("field cut in name", GET11 HOST "X-Lo", EXPECT_MORE),
};

/* ---- responses: valid --------------------------------------------------- */

static const struct head_sample resp_valid[] = {
    RESP("200 with Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
         5, 200, "OK", 11, B_LEN, 5, F_CL, FIELDS("Content-Length", "5")),
    RESP("200 close-delimited", "GET", "HTTP/1.1 200 OK\r\n\r\nbody until close", 16,
         200, "OK", 11, B_CLOSE, 0, 0, NO_FIELDS),
    RESP("no reason, no SP", "GET", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0,
         200, "", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("empty reason after SP", "GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0,
         200, "", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("reason with spaces", "GET", "HTTP/1.1 404 Not  Found Here\r\nContent-Length: 0\r\n\r\n",
         0, 404, "Not  Found Here", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("reason with HTAB and obs-text", "GET",
         "HTTP/1.1 200 O\tK \xc3\x96\r\nContent-Length: 0\r\n\r\n",
         0, 200, "O\tK \xc3\x96", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("reason of VCHARs", "GET", "HTTP/1.1 500 (!#:;/@)\r\nContent-Length: 0\r\n\r\n",
         0, 500, "(!#:;/@)", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("HTTP/1.0 with Content-Length", "GET",
         "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 2,
         200, "OK", 10, B_LEN, 2, F_CL, FIELDS("Content-Length", "2")),
    RESP("HTTP/1.0 close-delimited", "GET", "HTTP/1.0 200 OK\r\n\r\n", 0,
         200, "OK", 10, B_CLOSE, 0, 0, NO_FIELDS),
    RESP("HTTP/1.2 read as 1.1", "GET", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
         200, "OK", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("100 Continue before the final response", "POST",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38,
         100, "Continue", 11, B_NONE, 0, 0, NO_FIELDS),
    RESP("101 Switching Protocols", "GET",
         "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
         0, 101, "Switching Protocols", 11, B_NONE, 0, 0,
         FIELDS("Connection", "upgrade", "Upgrade", "websocket")),
    RESP("103 Early Hints", "GET",
         "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 0,
         103, "Early Hints", 11, B_NONE, 0, 0, FIELDS("Link", "</s.css>; rel=preload")),
    RESP("1xx with Content-Length has no body", "GET",
         "HTTP/1.1 102 Processing\r\nContent-Length: 10\r\n\r\n", 0,
         102, "Processing", 11, B_NONE, 0, F_CL, FIELDS("Content-Length", "10")),
    RESP("204 with Content-Length", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
         0, 204, "No Content", 11, B_NONE, 0, F_CL, FIELDS("Content-Length", "10")),
    RESP("204 alone", "DELETE", "HTTP/1.1 204 No Content\r\n\r\n",
         0, 204, "No Content", 11, B_NONE, 0, 0, NO_FIELDS),
    RESP("304 with Content-Length", "GET",
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n",
         0, 304, "Not Modified", 11, B_NONE, 0, F_CL,
         FIELDS("Content-Length", "1234", "ETag", "\"x\"")),
    RESP("304 alone", "GET", "HTTP/1.1 304 Not Modified\r\n\r\n",
         0, 304, "Not Modified", 11, B_NONE, 0, 0, NO_FIELDS),
    RESP("HEAD response with Content-Length", "HEAD",
         "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
         0, 200, "OK", 11, B_NONE, 0, F_CL, FIELDS("Content-Length", "1234")),
    RESP("HEAD response chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
         0, 200, "OK", 11, B_NONE, 0, F_TE, FIELDS("Transfer-Encoding", "chunked")),
    RESP("HEAD response without framing", "HEAD", "HTTP/1.1 200 OK\r\n\r\n",
         0, 200, "OK", 11, B_NONE, 0, 0, NO_FIELDS),
    RESP("chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5,
         200, "OK", 11, B_CHUNKED, 0, F_TE, FIELDS("Transfer-Encoding", "chunked")),
    RESP("Chunked any case", "GET", "HTTP/1.1 200 OK\r\ntransfer-encoding:  CHUNKED \r\n\r\n", 0,
         200, "OK", 11, B_CHUNKED, 0, F_TE, FIELDS("transfer-encoding", "CHUNKED")),
    RESP("404 chunked", "GET", "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
         404, "Not Found", 11, B_CHUNKED, 0, F_TE, FIELDS("Transfer-Encoding", "chunked")),
    RESP("Content-Length equal list", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", 0,
         200, "OK", 11, B_LEN, 7, F_CL, FIELDS("Content-Length", "7, 7")),
    RESP("Content-Length equal lines", "GET",
         "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", 0,
         200, "OK", 11, B_LEN, 7, F_CL, FIELDS("Content-Length", "7", "Content-Length", "7")),
    RESP("Content-Length 0", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
         200, "OK", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("Connection: close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 0,
         200, "OK", 11, B_CLOSE, 0, F_CLOSE, FIELDS("Connection", "close")),
    RESP("Connection: keep-alive in 1.0", "GET",
         "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0,
         200, "OK", 10, B_LEN, 0, F_KA | F_CL,
         FIELDS("Connection", "keep-alive", "Content-Length", "0")),
    RESP("status 599", "GET", "HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\n", 0,
         599, "Odd", 11, B_LEN, 0, F_CL, FIELDS("Content-Length", "0")),
    RESP("status 100 to POST", "POST", "HTTP/1.1 100 \r\n\r\n", 0,
         100, "", 11, B_NONE, 0, 0, NO_FIELDS),
    RESP("obs-text field value", "GET",
         "HTTP/1.1 200 OK\r\nX: \xe2\x82\xac\r\nContent-Length: 0\r\n\r\n", 0,
         200, "OK", 11, B_LEN, 0, F_CL, FIELDS("X", "\xe2\x82\xac", "Content-Length", "0")),
    RESP("Host not required", "GET", "HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 1\r\n\r\nx",
         1, 200, "OK", 11, B_LEN, 1, F_CL, FIELDS("Server", "t", "Content-Length", "1")),
};

/* ---- responses: invalid (every error is 502) ----------------------------- */

static const struct head_sample resp_invalid[] = {
    BAD("HTTP/2.0 status line", "HTTP/2.0 200 OK\r\n\r\n", 502),
    BAD("HTTP/1.10", "HTTP/1.10 200 OK\r\n\r\n", 502),
    BAD("lower-case version", "http/1.1 200 OK\r\n\r\n", 502),
    BAD("version without minor", "HTTP/1 200 OK\r\n\r\n", 502),
    BAD("status two digits", "HTTP/1.1 20 OK\r\n\r\n", 502),
    BAD("status four digits", "HTTP/1.1 2000 OK\r\n\r\n", 502),
    BAD("status four digits, no reason", "HTTP/1.1 2000\r\n\r\n", 502),
    BAD("status letters", "HTTP/1.1 abc OK\r\n\r\n", 502),
    BAD("status 099", "HTTP/1.1 099 Low\r\n\r\n", 502),
    /* RFC 9110 15: valid status codes are 100..599 */
    BAD("status 600", "HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n", 502),
    BAD("status 999", "HTTP/1.1 999 High\r\nContent-Length: 0\r\n\r\n", 502),
    BAD("status with sign", "HTTP/1.1 +20 OK\r\n\r\n", 502),
    BAD("two SP before status", "HTTP/1.1  200 OK\r\n\r\n", 502),
    BAD("HTAB before status", "HTTP/1.1\t200 OK\r\n\r\n", 502),
    BAD("reason glued to status", "HTTP/1.1 200OK\r\n\r\n", 502),
    BAD("missing status", "HTTP/1.1\r\n\r\n", 502),
    BAD("missing status after SP", "HTTP/1.1 \r\n\r\n", 502),
    BAD("leading SP", " HTTP/1.1 200 OK\r\n\r\n", 502),
    BAD("request line instead", "GET / HTTP/1.1\r\n\r\n", 502),
    BAD("reason with control", "HTTP/1.1 200 O\x01K\r\n\r\n", 502),
    BAD("reason with NUL", "HTTP/1.1 200 O\0K\r\n\r\n", 502),
    BAD("reason with DEL", "HTTP/1.1 200 O\x7fK\r\n\r\n", 502),
    BAD("bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 502),
    BAD("bare LF ends head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", 502),
    BAD("bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", 502),
    BAD("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502),
    BAD("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", 502),
    BAD("bad field name", "HTTP/1.1 200 OK\r\nX Y: z\r\n\r\n", 502),
    BAD("NUL in value", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 502),
    BAD("line without colon", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", 502),
    BAD("Transfer-Encoding and Content-Length",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 502),
    BAD_M("TE and CL in a HEAD response", "HEAD",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 502),
    BAD("TE and CL in a 304",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        502),
    BAD("Content-Length differing lines",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 502),
    BAD("Content-Length differing list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 502),
    BAD("Content-Length not digits", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", 502),
    BAD("Content-Length negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 502),
    BAD("Content-Length empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 502),
    BAD("Content-Length 20 digits",
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", 502),
    BAD_M("invalid Content-Length in a HEAD response", "HEAD",
          "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 502),
    BAD("invalid Content-Length in a 204", "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
        502),
    BAD("Transfer-Encoding in HTTP/1.0",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
    BAD("Transfer-Encoding in an HTTP/1.0 304",
        "HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
    BAD("Transfer-Encoding gzip, chunked",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 502),
    BAD("Transfer-Encoding chunked, gzip",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 502),
    BAD("Transfer-Encoding gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502),
    BAD("Transfer-Encoding identity",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", 502),
    BAD("Transfer-Encoding chunked, chunked",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 502),
    BAD("Transfer-Encoding on two lines",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
    BAD("Transfer-Encoding empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", 502),
    BAD_M("Transfer-Encoding gzip in a HEAD response", "HEAD",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502),
    BAD("Transfer-Encoding gzip in a 204",
        "HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n", 502),
    BAD("incomplete: empty", "", EXPECT_MORE),
    BAD("incomplete: status line only", "HTTP/1.1 200 OK\r\n", EXPECT_MORE),
    BAD("incomplete: no empty line", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", EXPECT_MORE),
    BAD("incomplete: cut in version", "HTTP/1.", EXPECT_MORE),
};

/* ---- chunked bodies ------------------------------------------------------ */

enum chunk_expect {
    CK_DONE = 0,                /* the body ended; <tail> bytes left over */
    CK_MORE,                    /* everything consumed, more input needed */
    CK_ERROR,                   /* LARDER_PARSE_ERROR */
};

struct chunk_sample {
    const char *name;
    const char *text;
    size_t len;
    const struct larder_http_limits *lim;   /* NULL: lim_default */
    enum chunk_expect expect;
    const char *data;           /* data handed back (before an error) */
    size_t data_len;
    size_t tail;                /* CK_DONE: bytes after the body */
};

#define CK(nm, txt, ex, dat) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .expect = (ex), \
      .data = (dat), .data_len = sizeof(dat) - 1 }
#define CK_T(nm, txt, dat, tl) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .expect = CK_DONE, \
      .data = (dat), .data_len = sizeof(dat) - 1, .tail = (tl) }
#define CK_L(nm, lm, txt, ex, dat) \
    { .name = (nm), .text = (txt), .len = sizeof(txt) - 1, .lim = (lm), .expect = (ex), \
      .data = (dat), .data_len = sizeof(dat) - 1 }

#define END "0\r\n\r\n"

static const struct chunk_sample chunk_samples[] = {
    /* valid */
    CK("last chunk only", END, CK_DONE, ""),
    CK("one chunk", "5\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("two chunks", "3\r\nabc\r\n4\r\ndefg\r\n" END, CK_DONE, "abcdefg"),
    CK("one-byte chunks", "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n" END, CK_DONE, "abc"),
    CK("upper-case hex", "A\r\n0123456789\r\n" END, CK_DONE, "0123456789"),
    CK("lower-case hex", "a\r\n0123456789\r\n" END, CK_DONE, "0123456789"),
    CK("mixed-case hex 1F", "1F\r\n0123456789abcdefghijklmnopqrstu\r\n" END, CK_DONE,
       "0123456789abcdefghijklmnopqrstu"),
    CK("size of 16 digits", "0000000000000005\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("last chunk of 16 zeros", "0000000000000000\r\n\r\n", CK_DONE, ""),
    CK("CRLF inside data", "4\r\n\r\n\r\n\r\n" END, CK_DONE, "\r\n\r\n"),
    CK("NUL inside data", "3\r\na\0b\r\n" END, CK_DONE, "a\0b"),
    CK("extension name", "5;name\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("extension with token value", "5;name=value\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("extension with quoted value", "5;name=\"a quoted; value, =\"\r\nhello\r\n" END,
       CK_DONE, "hello"),
    CK("extension with escaped quote", "5;n=\"a\\\"b\\\\\"\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("extension with obs-text in quotes", "5;n=\"\xc3\xa9\"\r\nhello\r\n" END, CK_DONE,
       "hello"),
    CK("extension BWS with spaces", "5 ; name = value\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("extension BWS with tabs", "5\t;\tname\t=\tvalue\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("several extensions", "5;a=1;b;c=\"x\"\r\nhello\r\n" END, CK_DONE, "hello"),
    CK("extension on last chunk", "0;end=1\r\n\r\n", CK_DONE, ""),
    CK("trailer field", "5\r\nhello\r\n0\r\nExpires: never\r\n\r\n", CK_DONE, "hello"),
    CK("two trailer fields", "0\r\nA: 1\r\nb-2: two words \r\n\r\n", CK_DONE, ""),
    CK("trailer with empty value", "0\r\nX:\r\n\r\n", CK_DONE, ""),
    CK("trailer with obs-text and HTAB", "0\r\nX: a\tb\xff\r\n\r\n", CK_DONE, ""),
    CK_T("bytes after the body stay", "2\r\nhi\r\n" END "GET / HTTP/1.1\r\n", "hi", 16),
    CK_T("next body after the body stays", END END, "", 5),
    /* incomplete */
    CK("empty", "", CK_MORE, ""),
    CK("size only", "5", CK_MORE, ""),
    CK("size and CR", "5\r", CK_MORE, ""),
    CK("size line", "5\r\n", CK_MORE, ""),
    CK("part of the data", "5\r\nhel", CK_MORE, "hel"),
    CK("all the data", "5\r\nhello", CK_MORE, "hello"),
    CK("data and CR", "5\r\nhello\r", CK_MORE, "hello"),
    CK("data and CRLF", "5\r\nhello\r\n", CK_MORE, "hello"),
    CK("inside an extension", "5;ext=\"a", CK_MORE, ""),
    CK("last chunk line", "0\r\n", CK_MORE, ""),
    CK("last chunk and CR", "0\r\n\r", CK_MORE, ""),
    CK("inside a trailer", "0\r\nX: y", CK_MORE, ""),
    CK("after a trailer", "0\r\nX: y\r\n", CK_MORE, ""),
    CK("largest chunk size", "FFFFFFFFFFFFFFFF\r\nabc", CK_MORE, "abc"),
    /* errors */
    CK("no digits", "\r\nhello\r\n", CK_ERROR, ""),
    CK("extension without size", ";ext\r\n", CK_ERROR, ""),
    CK("non-hex size", "g\r\n", CK_ERROR, ""),
    CK("hex then garbage", "5g\r\nhello\r\n", CK_ERROR, ""),
    CK("17 digits", "00000000000000005\r\nhello\r\n" END, CK_ERROR, ""),
    CK("17 digits overflow", "10000000000000000\r\n", CK_ERROR, ""),
    CK("20 digits", "FFFFFFFFFFFFFFFFFFFF\r\n", CK_ERROR, ""),
    CK("0x prefix", "0x5\r\nhello\r\n" END, CK_ERROR, ""),
    CK("plus sign", "+5\r\nhello\r\n", CK_ERROR, ""),
    CK("minus sign", "-5\r\nhello\r\n", CK_ERROR, ""),
    CK("leading space", " 5\r\nhello\r\n", CK_ERROR, ""),
    CK("space before CRLF", "5 \r\nhello\r\n", CK_ERROR, ""),
    CK("tab before CRLF", "5\t\r\nhello\r\n", CK_ERROR, ""),
    CK("space after extension", "5;a \r\nhello\r\n", CK_ERROR, ""),
    CK("bare LF after size", "5\nhello\r\n" END, CK_ERROR, ""),
    CK("bare CR after size", "5\rhello\r\n" END, CK_ERROR, ""),
    CK("data not followed by CRLF", "5\r\nhelloX\r\n" END, CK_ERROR, "hello"),
    CK("data followed by bare LF", "5\r\nhello\n" END, CK_ERROR, "hello"),
    CK("data followed by CR and a byte", "5\r\nhello\rX", CK_ERROR, "hello"),
    CK("second chunk bad", "2\r\nhi\r\nzz\r\n", CK_ERROR, "hi"),
    CK("extension with bare CR", "5;a\rb\r\nhello\r\n", CK_ERROR, ""),
    CK("extension with bare LF", "5;a\nb\r\nhello\r\n", CK_ERROR, ""),
    CK("extension with NUL", "5;a\0\r\nhello\r\n", CK_ERROR, ""),
    CK("extension with control", "5;a=\x01\r\nhello\r\n", CK_ERROR, ""),
    CK("extension with DEL", "5;a=b\x7f\r\nhello\r\n", CK_ERROR, ""),
    CK("quoted extension with bare CR", "5;a=\"x\ry\"\r\nhello\r\n", CK_ERROR, ""),
    CK("quoted extension with LF", "5;a=\"x\ny\"\r\nhello\r\n", CK_ERROR, ""),
    CK("unterminated quote", "5;a=\"x\r\nhello\r\n", CK_ERROR, ""),
    CK("extension without name", "5;\r\nhello\r\n", CK_ERROR, ""),
    CK("extension with empty name", "5;=v\r\nhello\r\n", CK_ERROR, ""),
    CK("extension name not a token", "5;a@b\r\nhello\r\n", CK_ERROR, ""),
    CK("last chunk with bare LF", "0\r\n\n", CK_ERROR, ""),
    CK("last chunk with bare CR", "0\r\n\rX", CK_ERROR, ""),
    CK("trailer with bad name", "0\r\nBad Name: x\r\n\r\n", CK_ERROR, ""),
    CK("trailer space before colon", "0\r\nX : y\r\n\r\n", CK_ERROR, ""),
    CK("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", CK_ERROR, ""),
    CK("trailer with NUL", "0\r\nX: a\0b\r\n\r\n", CK_ERROR, ""),
    CK("trailer with bare LF", "0\r\nX: y\n\r\n", CK_ERROR, ""),
    CK("trailer ends in bare LF", "0\r\nX: y\r\n\n", CK_ERROR, ""),
    CK("trailer with bare CR", "0\r\nX: a\rb\r\n\r\n", CK_ERROR, ""),
    CK("trailer without colon", "0\r\nnocolon\r\n\r\n", CK_ERROR, ""),
    CK("trailer with empty name", "0\r\n: v\r\n\r\n", CK_ERROR, ""),
    /* small limits: max_chunk_ext 8, max_fields 4, max_head 128 */
    CK_L("extension of max_chunk_ext bytes", &lim_small, "5;abcdefg\r\nhello\r\n" END,
         CK_DONE, "hello"),
    CK_L("extension of max_chunk_ext+1 bytes", &lim_small, "5;abcdefgh\r\nhello\r\n" END,
         CK_ERROR, ""),
    CK_L("BWS counts towards max_chunk_ext", &lim_small, "5    ;abcd\r\nhello\r\n" END,
         CK_ERROR, ""),
    CK_L("four trailer fields", &lim_small, "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
         CK_DONE, ""),
    CK_L("five trailer fields", &lim_small, "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
         CK_ERROR, ""),
    CK_L("trailer section within max_head", &lim_small,
         "0\r\nX-Trailer: 0123456789012345678901234567890123456789\r\n\r\n", CK_DONE, ""),
    CK_L("trailer section over max_head", &lim_small,
         "0\r\nX-Trailer: 0123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789\r\n\r\n", CK_ERROR, ""),
};

/* ======================================================================== */
/* ---- deterministic randomness ------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 0x1234567;
    if (rng_state == 0)
        rng_state = 1;
}

static uint64_t rng_next(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* Uniform-ish value in [0, n]. */
static size_t rng_upto(size_t n)
{
    return (size_t)(rng_next() % ((uint64_t)n + 1));
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

/* ======================================================================== */
/* ---- per-sample failures ------------------------------------------------ */

/* A failing sample is reported and the run goes on with the next one, so one
 * run lists every disagreement; the test fails at its end. Buffers a sample
 * allocates are tracked so a failure does not leak them. */
static jmp_buf sample_env;
static int sample_failures;
static void *scratch[16];

static void *t_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    size_t i;

    assert_non_null(p);
    for (i = 0; i < N_ITEMS(scratch); i++) {
        if (scratch[i] == NULL) {
            scratch[i] = p;
            return p;
        }
    }
    fail_msg("too many scratch buffers");
    return NULL;
}

static void t_free(void *p)
{
    size_t i;

    for (i = 0; i < N_ITEMS(scratch); i++) {
        if (scratch[i] == p)
            scratch[i] = NULL;
    }
    free(p);
}

static void t_free_all(void)
{
    size_t i;

    for (i = 0; i < N_ITEMS(scratch); i++) {
        free(scratch[i]);
        scratch[i] = NULL;
    }
}

static void sample_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void sample_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    sample_failures++;
    longjmp(sample_env, 1);
}

/* Runs one sample check; a failure inside it returns here. */
#define RUN_SAMPLE(call) \
    do { \
        if (setjmp(sample_env) == 0) { \
            call; \
        } \
        t_free_all(); \
    } while (0)

/* Fails the current test if any of its samples failed. */
static void end_samples(void)
{
    int n = sample_failures;

    sample_failures = 0;
    if (n > 0)
        fail_msg("%d sample(s) failed", n);
}

/* ======================================================================== */
/* ---- heads: results as offsets, so buffers can be copied ----------------- */

struct field_view {
    size_t name_off, name_len, value_off, value_len;
    unsigned flags;
};

struct head_view {
    int ret;
    int error_status;
    size_t method_off, method_len, target_off, target_len;
    int form;
    int status;
    size_t reason_off, reason_len;
    int version;
    int body;
    uint64_t content_length;
    unsigned flags;
    unsigned nfields;
    struct field_view f[FIELD_CAP];
};

static const struct larder_http_limits *sample_lim(const struct head_sample *s)
{
    return s->lim ? s->lim : &lim_default;
}

/* Offset of [p, p+n) inside buf[0..end); fails when it lies outside. */
static size_t span_off(const struct head_sample *s, const char *what, const char *buf,
                       size_t end, const char *p, size_t n)
{
    if (n == 0)
        return 0;               /* an empty span may point anywhere */
    if (p == NULL || p < buf || p > buf + end || n > (size_t)(buf + end - p))
        sample_fail("%s: %s (%zu bytes) lies outside the %zu-byte head", s->name, what, n, end);
    return (size_t)(p - buf);
}

static void capture(const struct head_sample *s, int is_request, int ret,
                    const struct larder_http_head *h, const char *buf, size_t len,
                    struct head_view *v)
{
    unsigned i;
    size_t end;

    memset(v, 0, sizeof(*v));
    v->ret = ret;
    if (ret == LARDER_PARSE_INCOMPLETE)
        return;
    if (ret == LARDER_PARSE_ERROR) {
        v->error_status = h->error_status;
        if (h->error_reason == NULL || h->error_reason[0] == '\0')
            sample_fail("%s: error %d without a reason", s->name, h->error_status);
        return;
    }
    if (ret <= 0 || (size_t)ret > len)
        sample_fail("%s: parse of %zu bytes returned %d", s->name, len, ret);
    end = (size_t)ret;
    if (is_request) {
        v->method_off = span_off(s, "method", buf, end, h->method, h->method_len);
        v->method_len = h->method_len;
        v->target_off = span_off(s, "target", buf, end, h->target, h->target_len);
        v->target_len = h->target_len;
        v->form = (int)h->form;
    } else {
        v->status = h->status;
        v->reason_off = span_off(s, "reason", buf, end, h->reason, h->reason_len);
        v->reason_len = h->reason_len;
    }
    v->version = h->version;
    v->body = (int)h->body;
    v->content_length = h->body == LARDER_BODY_LENGTH ? h->content_length : 0;
    v->flags = h->flags;
    v->nfields = h->nfields;
    if (h->nfields > FIELD_CAP || h->nfields > sample_lim(s)->max_fields)
        sample_fail("%s: %u fields over the limit", s->name, h->nfields);
    for (i = 0; i < h->nfields; i++) {
        const struct larder_http_field *f = &h->fields[i];

        if (f->name_len == 0)
            sample_fail("%s: field %u has an empty name", s->name, i);
        v->f[i].name_off = span_off(s, "field name", buf, end, f->name, f->name_len);
        v->f[i].name_len = f->name_len;
        v->f[i].value_off = span_off(s, "field value", buf, end, f->value, f->value_len);
        v->f[i].value_len = f->value_len;
        v->f[i].flags = f->flags;
    }
}

static void describe(const struct head_view *v, char *out, size_t cap)
{
    if (v->ret == LARDER_PARSE_INCOMPLETE)
        snprintf(out, cap, "INCOMPLETE");
    else if (v->ret == LARDER_PARSE_ERROR)
        snprintf(out, cap, "ERROR %d", v->error_status);
    else
        snprintf(out, cap, "%d bytes (version %d, body %d, flags %#x, %u fields)",
                 v->ret, v->version, v->body, v->flags, v->nfields);
}

/* Fails unless <got> (from <how>) is exactly <want>. */
static void expect_same(const struct head_sample *s, const char *how,
                        const struct head_view *want, const struct head_view *got)
{
    char a[128], b[128];
    unsigned i;
    int same = want->ret == got->ret;

    if (same && want->ret == LARDER_PARSE_ERROR)
        same = want->error_status == got->error_status;
    if (same && want->ret > 0) {
        same = want->method_off == got->method_off && want->method_len == got->method_len &&
               want->target_off == got->target_off && want->target_len == got->target_len &&
               want->form == got->form && want->status == got->status &&
               want->reason_off == got->reason_off && want->reason_len == got->reason_len &&
               want->version == got->version && want->body == got->body &&
               want->content_length == got->content_length && want->flags == got->flags &&
               want->nfields == got->nfields;
        for (i = 0; same && i < want->nfields; i++)
            same = memcmp(&want->f[i], &got->f[i], sizeof(want->f[i])) == 0;
    }
    if (!same) {
        describe(want, a, sizeof(a));
        describe(got, b, sizeof(b));
        sample_fail("%s: %s gave %s, whole gave %s", s->name, how, b, a);
    }
}

/* Parses text[0..n) from an exactly-sized heap copy (so ASan sees any read
 * past n) into <head>, which may hold the results of earlier calls. */
static void parse_prefix(const struct head_sample *s, int is_request, size_t n,
                         struct larder_http_head *head, struct head_view *v)
{
    char *copy = t_alloc(n);
    const char *meth = s->req_method ? s->req_method : "GET";
    int ret;

    assert_non_null(copy);
    memcpy(copy, s->text, n);
    if (is_request)
        ret = larder_http_parse_request(copy, n, sample_lim(s), head);
    else
        ret = larder_http_parse_response(copy, n, sample_lim(s), meth, strlen(meth), head);
    capture(s, is_request, ret, head, copy, n, v);
    t_free(copy);
}

static int span_is(const char *text, size_t off, size_t len, const char *want)
{
    return strlen(want) == len && (len == 0 || memcmp(text + off, want, len) == 0);
}

/* Checks the whole-buffer answer against the sample's expectations. */
static void check_head_expected(const struct head_sample *s, int is_request,
                           const struct head_view *w)
{
    char d[128];
    unsigned i, n;

    describe(w, d, sizeof(d));
    if (s->expect == EXPECT_MORE) {
        if (w->ret != LARDER_PARSE_INCOMPLETE)
            sample_fail("%s: want INCOMPLETE, got %s", s->name, d);
        return;
    }
    if (s->expect != EXPECT_OK) {
        if (w->ret != LARDER_PARSE_ERROR || w->error_status != s->expect)
            sample_fail("%s: want ERROR %d, got %s", s->name, s->expect, d);
        return;
    }
    if (w->ret != (int)(s->len - s->tail))
        sample_fail("%s: want %zu bytes, got %s", s->name, s->len - s->tail, d);
    if (is_request) {
        if (!span_is(s->text, w->method_off, w->method_len, s->method))
            sample_fail("%s: method is \"%.*s\", want \"%s\"", s->name, (int)w->method_len,
                     s->text + w->method_off, s->method);
        if (!span_is(s->text, w->target_off, w->target_len, s->target))
            sample_fail("%s: target is \"%.*s\", want \"%s\"", s->name, (int)w->target_len,
                     s->text + w->target_off, s->target);
        if (w->form != (int)s->form)
            sample_fail("%s: target form %d, want %d", s->name, w->form, (int)s->form);
    } else {
        if (w->status != s->status)
            sample_fail("%s: status %d, want %d", s->name, w->status, s->status);
        if (s->reason && !span_is(s->text, w->reason_off, w->reason_len, s->reason))
            sample_fail("%s: reason is \"%.*s\", want \"%s\"", s->name, (int)w->reason_len,
                     s->text + w->reason_off, s->reason);
    }
    if (w->version != s->version)
        sample_fail("%s: version %d, want %d", s->name, w->version, s->version);
    if (w->body != (int)s->body)
        sample_fail("%s: body kind %d, want %d", s->name, w->body, (int)s->body);
    if (s->body == LARDER_BODY_LENGTH && w->content_length != s->content_length)
        sample_fail("%s: content_length %llu, want %llu", s->name,
                 (unsigned long long)w->content_length, (unsigned long long)s->content_length);
    if (w->flags != s->flags)
        sample_fail("%s: flags %#x, want %#x", s->name, w->flags, s->flags);
    if (s->fields == NULL) {
        if (w->nfields != s->nfields)
            sample_fail("%s: %u fields, want %u", s->name, w->nfields, s->nfields);
        return;
    }
    for (n = 0; s->fields[2 * n] != NULL; n++)
        ;
    if (w->nfields != n)
        sample_fail("%s: %u fields, want %u", s->name, w->nfields, n);
    for (i = 0; i < n; i++) {
        const struct field_view *f = &w->f[i];

        if (!span_is(s->text, f->name_off, f->name_len, s->fields[2 * i]) ||
            !span_is(s->text, f->value_off, f->value_len, s->fields[2 * i + 1]))
            sample_fail("%s: field %u is \"%.*s\" = \"%.*s\", want \"%s\" = \"%s\"", s->name, i,
                     (int)f->name_len, s->text + f->name_off, (int)f->value_len,
                     s->text + f->value_off, s->fields[2 * i], s->fields[2 * i + 1]);
    }
}

/* The three feeding modes of one head sample; they must agree exactly. */
static void check_head_sample(const struct head_sample *s, int is_request, uint64_t seed)
{
    struct larder_http_field *fields = t_alloc(sizeof(*fields) * FIELD_CAP);
    struct head_view *whole = t_alloc(sizeof(*whole));
    struct head_view *v = t_alloc(sizeof(*v));
    struct larder_http_head head;
    size_t p, last = 0, d = SIZE_MAX, cuts[8];
    int rnd, i, ncuts;


    /* 1: whole, into poisoned storage that only init and the parser prepare */
    memset(&head, 0xa5, sizeof(head));
    memset(fields, 0xa5, sizeof(*fields) * FIELD_CAP);
    larder_http_head_init(&head, fields, FIELD_CAP);
    parse_prefix(s, is_request, s->len, &head, whole);
    check_head_expected(s, is_request, whole);

    /* 2: growing prefixes, one byte at a time, with one reused head. The
     * first non-INCOMPLETE answer (at d) and all later ones are the whole's. */
    larder_http_head_init(&head, fields, FIELD_CAP);
    for (p = 0; p <= s->len; p++) {
        int dense = s->len <= DENSE_PREFIX_MAX || p < 1024 || s->len - p < 1024 ||
                    p % 251 == 0 || d != SIZE_MAX;

        if (!dense)
            continue;
        parse_prefix(s, is_request, p, &head, v);
        if (d == SIZE_MAX && v->ret != LARDER_PARSE_INCOMPLETE) {
            if (p > last + 1) {         /* skipped some: find the exact point */
                p = last;
                d = SIZE_MAX - 1;       /* dense from here, not yet found */
                continue;
            }
            d = p;
        } else if (d == SIZE_MAX - 1 && v->ret != LARDER_PARSE_INCOMPLETE) {
            d = p;
        }
        if (d < SIZE_MAX - 1)
            expect_same(s, "a byte-by-byte prefix", whole, v);
        last = p;
    }
    if (d >= SIZE_MAX - 1) {
        d = s->len + 1;                 /* never answered */
        if (whole->ret != LARDER_PARSE_INCOMPLETE)
            sample_fail("%s: every prefix is INCOMPLETE but the whole is not", s->name);
    }
    if (whole->ret > 0 && d != (size_t)whole->ret)
        sample_fail("%s: answered at %zu bytes, the head is %d", s->name, d, whole->ret);

    /* 3: growing prefixes cut at random points, one head per round */
    rng_seed(seed);
    for (rnd = 0; rnd < RANDOM_ROUNDS; rnd++) {
        ncuts = 1 + (int)rng_upto(6);
        for (i = 0; i < ncuts; i++) {
            /* half the cuts near the answer, where it matters most */
            if ((rng_next() & 1) && d <= s->len) {
                size_t lo = d > 8 ? d - 8 : 0;
                cuts[i] = lo + rng_upto(16);
                if (cuts[i] > s->len)
                    cuts[i] = s->len;
            } else {
                cuts[i] = rng_upto(s->len);
            }
        }
        cuts[ncuts++] = s->len;
        qsort(cuts, (size_t)ncuts, sizeof(cuts[0]), cmp_size);
        larder_http_head_init(&head, fields, FIELD_CAP);
        for (i = 0; i < ncuts; i++) {
            char how[64];

            parse_prefix(s, is_request, cuts[i], &head, v);
            snprintf(how, sizeof(how), "a random prefix of %zu bytes", cuts[i]);
            if (cuts[i] < d) {
                if (v->ret != LARDER_PARSE_INCOMPLETE)
                    sample_fail("%s: %s answered before byte %zu", s->name, how, d);
            } else {
                expect_same(s, how, whole, v);
            }
        }
    }
    t_free(v);
    t_free(whole);
    t_free(fields);
}

static void check_head_table(const struct head_sample *t, size_t n, int is_request,
                             uint64_t seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        RUN_SAMPLE(check_head_sample(&t[i], is_request, seed + i));
}

/* ======================================================================== */
/* ---- heads built at run time: limits ----------------------------------- */

struct built {
    char *buf;
    size_t len, cap;
};

static void b_add(struct built *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->buf = realloc(b->buf, b->cap);
        assert_non_null(b->buf);
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void b_str(struct built *b, const char *s)
{
    b_add(b, s, strlen(s));
}

static void b_fill(struct built *b, char c, size_t n)
{
    while (n-- > 0)
        b_add(b, &c, 1);
}

/* A request "GET /aaa... HTTP/1.1" whose line is exactly <line> bytes. */
static void b_request_line(struct built *b, size_t line)
{
    assert_true(line >= 14);
    b_str(b, "GET /");
    b_fill(b, 'a', line - 14);
    b_str(b, " HTTP/1.1\r\n");
}

static void run_built(struct built *b, const char *name, const struct larder_http_limits *lim,
                      int is_request, int expect, unsigned nfields, uint64_t seed)
{
    struct head_sample s = {
        .name = name, .text = b->buf, .len = b->len, .lim = lim, .expect = expect,
        .method = "GET", .form = T_ORIGIN, .version = 11, .body = B_NONE,
        .status = 200, .reason = "OK", .nfields = nfields,
    };
    char *target = NULL;

    if (is_request && expect == EXPECT_OK) {
        /* the target is whatever sits between the two spaces */
        const char *sp = memchr(b->buf, ' ', b->len);
        const char *sp2 = memchr(sp + 1, ' ', b->len - (size_t)(sp + 1 - b->buf));

        target = strndup(sp + 1, (size_t)(sp2 - sp - 1));
        assert_non_null(target);
        s.target = target;
        s.form = target[0] == '/' ? T_ORIGIN : T_ABS;
        s.flags = F_HOST;
    }
    if (!is_request)
        s.body = B_CLOSE;
    RUN_SAMPLE(check_head_sample(&s, is_request, seed));
    free(target);
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

static void request_line_limit(const struct larder_http_limits *lim, uint64_t seed)
{
    struct built b = { 0 };

    b_request_line(&b, lim->max_line);
    b_str(&b, HOST "\r\n");
    run_built(&b, "request line of exactly max_line", lim, 1, EXPECT_OK, 1, seed);

    b_request_line(&b, lim->max_line + 1);
    b_str(&b, HOST "\r\n");
    run_built(&b, "request line of max_line+1", lim, 1, 414, 0, seed + 1);

    b_request_line(&b, lim->max_line + 1);
    b.len -= 2;                 /* no CRLF yet: the length alone decides */
    run_built(&b, "request line of max_line+1 still open", lim, 1, 414, 0, seed + 2);

    b_request_line(&b, lim->max_line + 100);
    b_str(&b, HOST "\r\n");
    run_built(&b, "request line far over max_line", lim, 1, 414, 0, seed + 3);

    /* a long absolute-form target is limited the same way */
    b_str(&b, "GET http://example.com/");
    b_fill(&b, 'x', lim->max_line - 32);
    b_str(&b, " HTTP/1.1\r\n" HOST "\r\n");
    run_built(&b, "absolute-form line of exactly max_line", lim, 1, EXPECT_OK, 1, seed + 4);
    b_str(&b, "GET http://example.com/");
    b_fill(&b, 'x', lim->max_line - 31);
    b_str(&b, " HTTP/1.1\r\n" HOST "\r\n");
    run_built(&b, "absolute-form line of max_line+1", lim, 1, 414, 0, seed + 5);

    /* a method longer than any implemented is 501 (RFC 9112 3), whether
     * its line has ended or not */
    b_fill(&b, 'M', lim->max_line + 1);
    run_built(&b, "method of max_line+1, line still open", lim, 1, 501, 0, seed + 6);
    b_fill(&b, 'M', lim->max_line + 1);
    b_str(&b, " / HTTP/1.1\r\n" HOST "\r\n");
    run_built(&b, "method of max_line+1", lim, 1, 501, 0, seed + 7);
    /* bytes that are no method at all stay a line too long */
    b_fill(&b, 'M', lim->max_line / 2);
    b_fill(&b, '\x01', lim->max_line);
    run_built(&b, "control bytes past max_line", lim, 1, 414, 0, seed + 8);
}

static void test_request_line_limit(void **state)
{
    (void)state;
    request_line_limit(&lim_small, 1000);
    request_line_limit(&lim_default, 1100);
    end_samples();
}

/* "GET / HTTP/1.1" CRLF "Host: example.com" CRLF "X-Pad: ..." CRLF CRLF,
 * exactly <size> bytes. */
static void b_head_of_size(struct built *b, const char *start, size_t size)
{
    size_t fixed = strlen(start) + strlen(HOST) + strlen("X-Pad: \r\n") + 2;

    assert_true(size > fixed);
    b_str(b, start);
    b_str(b, HOST "X-Pad: ");
    b_fill(b, 'p', size - fixed);
    b_str(b, "\r\n\r\n");
    assert_int_equal(b->len, size);
}

static void head_size_limit(const struct larder_http_limits *lim, uint64_t seed)
{
    struct built b = { 0 };
    size_t pad, n;

    b_head_of_size(&b, GET11, lim->max_head);
    run_built(&b, "request head of exactly max_head", lim, 1, EXPECT_OK, 2, seed);
    b_head_of_size(&b, GET11, lim->max_head + 1);
    run_built(&b, "request head of max_head+1", lim, 1, 431, 0, seed + 1);
    b_head_of_size(&b, GET11, lim->max_head + 3);
    b.len -= 2;                 /* max_head+1 bytes, the empty line not there yet */
    run_built(&b, "open request head over max_head", lim, 1, 431, 0, seed + 2);
    b_head_of_size(&b, GET11, lim->max_head + 20);
    b.len = lim->max_head + 1;  /* cut inside the last field line */
    run_built(&b, "request head over max_head inside a line", lim, 1, 431, 0, seed + 6);

    /* many field lines adding up to exactly max_head */
    n = lim->max_fields - 1;
    pad = lim->max_head - strlen(GET11 HOST) - 2;
    b_str(&b, GET11 HOST);
    while (n > 0) {
        size_t line = pad / n, i;   /* "X-NNN: ..." CRLF */
        char name[16];

        snprintf(name, sizeof(name), "X-%03zu: ", n);
        b_str(&b, name);
        for (i = strlen(name) + 2; i < line; i++)
            b_add(&b, "v", 1);
        b_str(&b, "\r\n");
        pad -= line;
        n--;
    }
    b_str(&b, "\r\n");
    assert_int_equal(b.len, lim->max_head);
    run_built(&b, "max_fields lines filling max_head", lim, 1, EXPECT_OK, lim->max_fields,
              seed + 3);

    b_head_of_size(&b, "HTTP/1.1 200 OK\r\n", lim->max_head);
    run_built(&b, "response head of exactly max_head", lim, 0, EXPECT_OK, 2, seed + 4);
    b_head_of_size(&b, "HTTP/1.1 200 OK\r\n", lim->max_head + 1);
    run_built(&b, "response head of max_head+1", lim, 0, 502, 0, seed + 5);
}

static void test_head_size_limit(void **state)
{
    (void)state;
    head_size_limit(&lim_small, 2000);
    head_size_limit(&lim_default, 2100);
    end_samples();
}

static void b_fields(struct built *b, const char *start, unsigned n)
{
    unsigned i;
    char line[32];

    b_str(b, start);
    b_str(b, HOST);
    for (i = 1; i < n; i++) {
        snprintf(line, sizeof(line), "X-%u: %u\r\n", i, i);
        b_str(b, line);
    }
    b_str(b, "\r\n");
}

static void field_count_limit(const struct larder_http_limits *lim, uint64_t seed)
{
    struct built b = { 0 };

    b_fields(&b, GET11, lim->max_fields);
    run_built(&b, "max_fields field lines", lim, 1, EXPECT_OK, lim->max_fields, seed);
    b_fields(&b, GET11, lim->max_fields + 1);
    run_built(&b, "max_fields+1 field lines", lim, 1, 431, 0, seed + 1);
    b_fields(&b, "HTTP/1.1 200 OK\r\n", lim->max_fields);
    run_built(&b, "response with max_fields field lines", lim, 0, EXPECT_OK,
              lim->max_fields, seed + 2);
    b_fields(&b, "HTTP/1.1 200 OK\r\n", lim->max_fields + 1);
    run_built(&b, "response with max_fields+1 field lines", lim, 0, 502, 0, seed + 3);
}

static void test_field_count_limit(void **state)
{
    static const struct larder_http_limits lim_fields = {
        .max_line = 64, .max_head = 4096, .max_fields = 4, .max_chunk_ext = 16,
    };

    (void)state;
    field_count_limit(&lim_fields, 3000);
    field_count_limit(&lim_default, 3100);
    end_samples();
}

static void test_status_line_limit(void **state)
{
    struct built b = { 0 };

    (void)state;
    /* "HTTP/1.1 200 " + reason is the status line */
    b_str(&b, "HTTP/1.1 200 ");
    b_fill(&b, 'r', lim_small.max_line - 13);
    b_str(&b, "\r\n\r\n");
    {
        struct head_sample s = {
            .name = "status line of exactly max_line", .text = b.buf, .len = b.len,
            .lim = &lim_small, .expect = EXPECT_OK, .status = 200, .version = 11,
            .body = B_CLOSE, .fields = NO_FIELDS,
        };
        RUN_SAMPLE(check_head_sample(&s, 0, 4000));
    }
    free(b.buf);
    memset(&b, 0, sizeof(b));
    b_str(&b, "HTTP/1.1 200 ");
    b_fill(&b, 'r', lim_small.max_line - 12);
    b_str(&b, "\r\n\r\n");
    run_built(&b, "status line of max_line+1", &lim_small, 0, 502, 0, 4001);
    end_samples();
}

/* ======================================================================== */
/* ---- head tables --------------------------------------------------------- */

static void test_request_valid(void **state)
{
    (void)state;
    check_head_table(req_valid, N_ITEMS(req_valid), 1, 100);
    end_samples();
}

static void test_request_invalid(void **state)
{
    (void)state;
    check_head_table(req_invalid, N_ITEMS(req_invalid), 1, 200);
    end_samples();
}

static void test_request_incomplete(void **state)
{
    (void)state;
    check_head_table(req_incomplete, N_ITEMS(req_incomplete), 1, 300);
    end_samples();
}

static void test_response_table(void **state)
{
    (void)state;
    check_head_table(resp_valid, N_ITEMS(resp_valid), 0, 400);
    check_head_table(resp_invalid, N_ITEMS(resp_invalid), 0, 500);
    end_samples();
}

/* The same bytes framed for GET and for HEAD differ only in the body kind. */
static void test_response_head_vs_get(void **state)
{
    static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    struct larder_http_field fields[8];
    struct larder_http_head head;

    (void)state;
    larder_http_head_init(&head, fields, 8);
    assert_int_equal(larder_http_parse_response(text, sizeof(text) - 1, &lim_default,
                                                "GET", 3, &head), (int)sizeof(text) - 1);
    assert_int_equal(head.body, LARDER_BODY_LENGTH);
    assert_int_equal(head.content_length, 10);
    /* the method is compared by its bytes and length, not a NUL */
    assert_int_equal(larder_http_parse_response(text, sizeof(text) - 1, &lim_default,
                                                "HEADX", 4, &head), (int)sizeof(text) - 1);
    assert_int_equal(head.body, LARDER_BODY_NONE);
    assert_int_equal(larder_http_parse_response(text, sizeof(text) - 1, &lim_default,
                                                "HEA", 3, &head), (int)sizeof(text) - 1);
    assert_int_equal(head.body, LARDER_BODY_LENGTH);
}

/* A field array smaller than the default is fine when max_fields fits. */
static void test_field_storage(void **state)
{
    static const char text[] = GET11 HOST "A: 1\r\nB: 2\r\n\r\n";
    static const struct larder_http_limits lim3 = {
        .max_line = 64, .max_head = 256, .max_fields = 3, .max_chunk_ext = 16,
    };
    struct larder_http_field fields[3];
    struct larder_http_head head;

    (void)state;
    larder_http_head_init(&head, fields, 3);
    assert_int_equal(head.fields_cap, 3);
    assert_int_equal(larder_http_parse_request(text, sizeof(text) - 1, &lim3, &head),
                     (int)sizeof(text) - 1);
    assert_int_equal(head.nfields, 3);
    assert_ptr_equal(head.fields, fields);
}

/* ======================================================================== */
/* ---- chunked ------------------------------------------------------------ */

struct ck_result {
    int error;
    int done;
    size_t consumed;            /* framing and data bytes taken */
    char *data;                 /* data handed back */
    size_t data_len;
};

static const struct larder_http_limits *ck_lim(const struct chunk_sample *s)
{
    return s->lim ? s->lim : &lim_default;
}

/* Feeds one piece (an exactly-sized heap copy) to <c>, moving data runs to
 * <r>. <take> > 0 caps how many data bytes the caller moves per step.
 * Returns the bytes of the piece consumed. */
static size_t ck_feed(const struct chunk_sample *s, struct larder_chunked *c,
                      const char *piece, size_t plen, size_t take, struct ck_result *r)
{
    char *copy = t_alloc(plen);
    size_t pos = 0;

    assert_non_null(copy);
    memcpy(copy, piece, plen);
    while (!r->error && !larder_chunked_done(c)) {
        uint64_t left = larder_chunked_data_left(c);
        long n;

        if (left > 0) {
            size_t k = plen - pos;

            if ((uint64_t)k > left)
                k = (size_t)left;
            if (take > 0 && k > take)
                k = take;
            if (k == 0)
                break;
            memcpy(r->data + r->data_len, copy + pos, k);
            r->data_len += k;
            larder_chunked_data_consumed(c, k);
            if (larder_chunked_data_left(c) != left - k)
                sample_fail("%s: data_left %llu after taking %zu of %llu", s->name,
                         (unsigned long long)larder_chunked_data_left(c), k,
                         (unsigned long long)left);
            /* framing calls consume nothing while data is pending */
            if (left - k > 0 && pos + k < plen &&
                larder_chunked_parse(c, copy + pos + k, plen - pos - k) != 0)
                sample_fail("%s: parse consumed bytes while data was pending", s->name);
            pos += k;
            continue;
        }
        if (pos == plen)
            break;
        n = larder_chunked_parse(c, copy + pos, plen - pos);
        if (n == LARDER_PARSE_ERROR) {
            if (c->error_reason == NULL || c->error_reason[0] == '\0')
                sample_fail("%s: chunked error without a reason", s->name);
            r->error = 1;
            break;
        }
        if (n < 0 || (size_t)n > plen - pos)
            sample_fail("%s: parse of %zu bytes returned %ld", s->name, plen - pos, n);
        if (n == 0 && larder_chunked_data_left(c) == 0 && !larder_chunked_done(c))
            sample_fail("%s: parse made no progress on %zu bytes", s->name, plen - pos);
        pos += (size_t)n;
    }
    r->done = larder_chunked_done(c);
    t_free(copy);
    return pos;
}

/* Feeds s->text in pieces ending at cuts[0..n) (the last is s->len). */
static void ck_run(const struct chunk_sample *s, const size_t *cuts, size_t n, size_t take,
                   struct ck_result *r)
{
    struct larder_chunked c;
    size_t i, start = 0;

    memset(r, 0, sizeof(*r));
    r->data = t_alloc(s->len + 1);
    assert_non_null(r->data);
    memset(&c, 0x5a, sizeof(c));
    larder_chunked_init(&c, ck_lim(s));
    for (i = 0; i < n && !r->error && !r->done; i++) {
        size_t plen = cuts[i] - start;
        size_t used = ck_feed(s, &c, s->text + start, plen, take, r);

        r->consumed += used;
        if (!r->error && !r->done && used != plen)
            sample_fail("%s: %zu of a %zu-byte piece left unconsumed", s->name, plen - used,
                     plen);
        start = cuts[i];
    }
}

static void ck_same(const struct chunk_sample *s, const char *how, const struct ck_result *want,
                    const struct ck_result *got)
{
    if (want->error != got->error || want->done != got->done ||
        want->data_len != got->data_len || memcmp(want->data, got->data, want->data_len) != 0 ||
        (!want->error && want->consumed != got->consumed))
        sample_fail("%s: %s gave error %d done %d consumed %zu data %zu bytes; whole gave "
                 "error %d done %d consumed %zu data %zu bytes", s->name, how, got->error,
                 got->done, got->consumed, got->data_len, want->error, want->done,
                 want->consumed, want->data_len);
}

static void check_chunk_sample(const struct chunk_sample *s, uint64_t seed)
{
    struct ck_result whole, r;
    size_t *cuts = t_alloc(sizeof(*cuts) * (s->len + 2));
    size_t i, n;
    int rnd;
    const char *want_state[] = { "done", "more", "error" };
    int got_state;

    assert_non_null(cuts);

    /* 1: whole */
    cuts[0] = s->len;
    ck_run(s, cuts, 1, 0, &whole);
    got_state = whole.error ? CK_ERROR : whole.done ? CK_DONE : CK_MORE;
    if (got_state != (int)s->expect)
        sample_fail("%s: want %s, got %s", s->name, want_state[s->expect], want_state[got_state]);
    if (whole.data_len != s->data_len || memcmp(whole.data, s->data, s->data_len) != 0)
        sample_fail("%s: data \"%.*s\", want \"%.*s\"", s->name, (int)whole.data_len, whole.data,
                 (int)s->data_len, s->data);
    if (s->expect == CK_DONE && whole.consumed != s->len - s->tail)
        sample_fail("%s: consumed %zu, want %zu", s->name, whole.consumed, s->len - s->tail);
    if (s->expect == CK_MORE && whole.consumed != s->len)
        sample_fail("%s: consumed %zu of %zu", s->name, whole.consumed, s->len);

    /* 2: one byte per piece */
    for (i = 0; i < s->len; i++)
        cuts[i] = i + 1;
    if (s->len > 0) {
        ck_run(s, cuts, s->len, 0, &r);
        ck_same(s, "byte-by-byte feeding", &whole, &r);
        t_free(r.data);
    }

    /* 3: random pieces, with the caller taking data in random amounts */
    rng_seed(seed);
    for (rnd = 0; rnd < RANDOM_ROUNDS; rnd++) {
        char how[64];

        n = rng_upto(s->len < 8 ? s->len : 8);
        for (i = 0; i < n; i++)
            cuts[i] = rng_upto(s->len);
        cuts[n++] = s->len;
        qsort(cuts, n, sizeof(cuts[0]), cmp_size);
        ck_run(s, cuts, n, rnd % 3 == 0 ? 0 : 1 + rng_upto(6), &r);
        snprintf(how, sizeof(how), "random round %d (%zu pieces)", rnd, n);
        ck_same(s, how, &whole, &r);
        t_free(r.data);
    }
    t_free(whole.data);
    t_free(cuts);
}

static void test_chunked_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ITEMS(chunk_samples); i++)
        RUN_SAMPLE(check_chunk_sample(&chunk_samples[i], 600 + i));
    end_samples();
}

static void run_chunk_built(struct built *b, const char *name,
                            const struct larder_http_limits *lim, enum chunk_expect ex,
                            const char *data, uint64_t seed)
{
    struct chunk_sample s = {
        .name = name, .text = b->buf, .len = b->len, .lim = lim, .expect = ex,
        .data = data, .data_len = strlen(data),
    };

    RUN_SAMPLE(check_chunk_sample(&s, seed));
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

static void chunk_limits(const struct larder_http_limits *lim, uint64_t seed)
{
    struct built b = { 0 };
    unsigned i;
    char line[32];

    /* ";" + name: the extension is max_chunk_ext bytes, then one more */
    b_str(&b, "5;");
    b_fill(&b, 'e', lim->max_chunk_ext - 1);
    b_str(&b, "\r\nhello\r\n" END);
    run_chunk_built(&b, "extension of exactly max_chunk_ext", lim, CK_DONE, "hello", seed);
    b_str(&b, "5;");
    b_fill(&b, 'e', lim->max_chunk_ext);
    b_str(&b, "\r\nhello\r\n" END);
    run_chunk_built(&b, "extension of max_chunk_ext+1", lim, CK_ERROR, "", seed + 1);
    b_str(&b, "5;");
    b_fill(&b, 'e', lim->max_chunk_ext + 50);
    run_chunk_built(&b, "open extension over max_chunk_ext", lim, CK_ERROR, "", seed + 2);
    b_str(&b, "0;");
    b_fill(&b, 'e', lim->max_chunk_ext);
    b_str(&b, "\r\n\r\n");
    run_chunk_built(&b, "last-chunk extension of max_chunk_ext+1", lim, CK_ERROR, "",
                    seed + 3);
    /* the limit is per size line */
    b_str(&b, "1;");
    b_fill(&b, 'e', lim->max_chunk_ext - 1);
    b_str(&b, "\r\na\r\n1;");
    b_fill(&b, 'e', lim->max_chunk_ext - 1);
    b_str(&b, "\r\nb\r\n" END);
    run_chunk_built(&b, "max_chunk_ext on each of two lines", lim, CK_DONE, "ab", seed + 4);

    b_str(&b, "0\r\n");
    for (i = 0; i < lim->max_fields; i++) {
        snprintf(line, sizeof(line), "T-%u: %u\r\n", i, i);
        b_str(&b, line);
    }
    b_str(&b, "\r\n");
    run_chunk_built(&b, "max_fields trailer lines", lim, CK_DONE, "", seed + 5);
    b_str(&b, "0\r\n");
    for (i = 0; i <= lim->max_fields; i++) {
        snprintf(line, sizeof(line), "T-%u: %u\r\n", i, i);
        b_str(&b, line);
    }
    b_str(&b, "\r\n");
    run_chunk_built(&b, "max_fields+1 trailer lines", lim, CK_ERROR, "", seed + 6);

    b_str(&b, "0\r\nX-Big: ");
    b_fill(&b, 'v', lim->max_head + 10);
    b_str(&b, "\r\n\r\n");
    run_chunk_built(&b, "trailer over max_head", lim, CK_ERROR, "", seed + 7);
    b_str(&b, "0\r\nX-Big: ");
    b_fill(&b, 'v', lim->max_head + 10);
    run_chunk_built(&b, "open trailer over max_head", lim, CK_ERROR, "", seed + 8);
    b_str(&b, "0\r\nX-Big: ");
    b_fill(&b, 'v', lim->max_head / 2);
    b_str(&b, "\r\n\r\n");
    run_chunk_built(&b, "trailer of half max_head", lim, CK_DONE, "", seed + 9);
}

static void test_chunked_limits(void **state)
{
    (void)state;
    chunk_limits(&lim_small, 700);
    chunk_limits(&lim_default, 800);
    end_samples();
}

/* Every size width from 1 to 16 hex digits is read exactly; 17 is not. */
static void test_chunked_size_digits(void **state)
{
    struct built b = { 0 };
    struct larder_chunked c;
    char line[40], name[64];
    unsigned d;

    (void)state;
    for (d = 1; d <= 17; d++) {
        /* zero-padded: "0...03" with d digits, the whole body through the table checks */
        b_fill(&b, '0', d - 1);
        b_str(&b, "3\r\nabc\r\n");
        b_fill(&b, '0', d);
        b_str(&b, "\r\n\r\n");
        snprintf(name, sizeof(name), "chunk size of %u digits", d);
        run_chunk_built(&b, name, &lim_default, d <= 16 ? CK_DONE : CK_ERROR,
                        d <= 16 ? "abc" : "", 900 + d);

        /* d significant digits: "1" then d-1 zeros is 16^(d-1) */
        memset(line, '0', sizeof(line));
        line[0] = d % 2 ? 'a' : 'A';
        memcpy(line + d, "\r\n", 3);
        larder_chunked_init(&c, &lim_default);
        if (d <= 16) {
            uint64_t want = UINT64_C(10) << (4 * (d - 1));

            assert_int_equal(larder_chunked_parse(&c, line, d + 2), (long)d + 2);
            if (larder_chunked_data_left(&c) != want)
                fail_msg("size \"%.*s\" gave %llu, want %llu", (int)d, line,
                         (unsigned long long)larder_chunked_data_left(&c),
                         (unsigned long long)want);
        } else {
            assert_int_equal(larder_chunked_parse(&c, line, d + 2), LARDER_PARSE_ERROR);
        }
    }
    end_samples();
}

/* Large data runs: the size digits map to data_left, across pieces. */
static void test_chunked_api(void **state)
{
    struct larder_chunked c;
    static const char big[] = "FFFFFFFFFFFFFFFF\r\n";
    static const char mid[] = "123456789abcdef0;x=y\r\n";
    static const char two[] = "3\r\nabc\r\n0\r\n\r\n";
    long n;

    (void)state;
    larder_chunked_init(&c, &lim_default);
    assert_false(larder_chunked_done(&c));
    assert_int_equal(larder_chunked_data_left(&c), 0);
    n = larder_chunked_parse(&c, big, sizeof(big) - 1);
    assert_int_equal(n, (long)sizeof(big) - 1);
    assert_true(larder_chunked_data_left(&c) == UINT64_MAX);
    assert_int_equal(larder_chunked_parse(&c, "xyz", 3), 0);
    larder_chunked_data_consumed(&c, UINT64_MAX - 1);
    assert_true(larder_chunked_data_left(&c) == 1);
    larder_chunked_data_consumed(&c, 1);
    assert_int_equal(larder_chunked_data_left(&c), 0);
    assert_int_equal(larder_chunked_parse(&c, "\r\n0\r\n\r\n", 7), 7);
    assert_true(larder_chunked_done(&c));

    larder_chunked_init(&c, &lim_default);
    assert_int_equal(larder_chunked_parse(&c, mid, sizeof(mid) - 1), (long)sizeof(mid) - 1);
    assert_true(larder_chunked_data_left(&c) == UINT64_C(0x123456789abcdef0));

    /* a parse stops where the data run begins, and where the body ends */
    larder_chunked_init(&c, &lim_default);
    assert_int_equal(larder_chunked_parse(&c, two, sizeof(two) - 1), 3);
    assert_int_equal(larder_chunked_data_left(&c), 3);
    larder_chunked_data_consumed(&c, 3);
    assert_int_equal(larder_chunked_parse(&c, two + 6, sizeof(two) - 7), (long)sizeof(two) - 7);
    assert_true(larder_chunked_done(&c));
    assert_int_equal(larder_chunked_data_left(&c), 0);

    /* the reason is set on error */
    larder_chunked_init(&c, &lim_default);
    assert_int_equal(larder_chunked_parse(&c, "zz\r\n", 4), LARDER_PARSE_ERROR);
    assert_non_null(c.error_reason);

    /* an empty call is harmless */
    larder_chunked_init(&c, &lim_default);
    assert_int_equal(larder_chunked_parse(&c, "", 0), 0);
    assert_false(larder_chunked_done(&c));
}

/* ======================================================================== */
/* ---- field helpers ------------------------------------------------------ */

static void set_field(struct larder_http_field *f, const char *name, const char *value)
{
    f->name = name;
    f->name_len = strlen(name);
    f->value = value;
    f->value_len = strlen(value);
    f->flags = 0;
}

static void test_field_is_and_find(void **state)
{
    struct larder_http_field fields[5];
    struct larder_http_head head;
    /* names that are not NUL-terminated at their length */
    static const char names[] = "Hostx-aX-AAccept";

    (void)state;
    larder_http_head_init(&head, fields, 5);
    set_field(&fields[0], "", "example.com");
    fields[0].name = names;
    fields[0].name_len = 4;
    set_field(&fields[1], "", "1");
    fields[1].name = names + 4;
    fields[1].name_len = 3;
    set_field(&fields[2], "", "2");
    fields[2].name = names + 7;
    fields[2].name_len = 3;
    set_field(&fields[3], "", "*/*");
    fields[3].name = names + 10;
    fields[3].name_len = 6;
    head.nfields = 4;

    assert_true(larder_http_field_is(&fields[0], "Host"));
    assert_true(larder_http_field_is(&fields[0], "HOST"));
    assert_true(larder_http_field_is(&fields[0], "host"));
    assert_false(larder_http_field_is(&fields[0], "Hos"));
    assert_false(larder_http_field_is(&fields[0], "Hostx"));
    assert_false(larder_http_field_is(&fields[0], ""));
    assert_true(larder_http_field_is(&fields[1], "X-A"));
    assert_false(larder_http_field_is(&fields[1], "X_A"));

    assert_int_equal(larder_http_find(&head, "host", 0), 0);
    assert_int_equal(larder_http_find(&head, "x-a", 0), 1);
    assert_int_equal(larder_http_find(&head, "X-A", 1), 1);
    assert_int_equal(larder_http_find(&head, "X-A", 2), 2);
    assert_int_equal(larder_http_find(&head, "x-a", 3), -1);
    assert_int_equal(larder_http_find(&head, "ACCEPT", 0), 3);
    assert_int_equal(larder_http_find(&head, "accep", 0), -1);
    assert_int_equal(larder_http_find(&head, "missing", 0), -1);
    assert_int_equal(larder_http_find(&head, "host", 4), -1);
    assert_int_equal(larder_http_find(&head, "host", 1000), -1);
    /* only the first nfields count */
    set_field(&fields[4], "Late", "x");
    assert_int_equal(larder_http_find(&head, "Late", 0), -1);
}

static void test_list_has(void **state)
{
    static const char buf[] = "close, x";

    (void)state;
    assert_true(larder_http_list_has("close", 5, "close"));
    assert_true(larder_http_list_has("Keep-Alive, Close", 17, "close"));
    assert_true(larder_http_list_has("keep-alive, Close", 17, "KEEP-ALIVE"));
    assert_true(larder_http_list_has(" \tclose\t ", 9, "close"));
    assert_true(larder_http_list_has("a,close,b", 9, "close"));
    assert_true(larder_http_list_has("a , b", 5, "b"));
    assert_true(larder_http_list_has(",,b,,", 5, "b"));
    assert_false(larder_http_list_has("closed", 6, "close"));
    assert_false(larder_http_list_has("xclose", 6, "close"));
    assert_false(larder_http_list_has("close", 5, "closed"));
    assert_false(larder_http_list_has("clo se", 6, "close"));
    assert_false(larder_http_list_has("", 0, "close"));
    assert_false(larder_http_list_has(", ,", 3, "close"));
    /* only <len> bytes count */
    assert_true(larder_http_list_has(buf, 5, "close"));
    assert_false(larder_http_list_has(buf, 4, "close"));
    assert_false(larder_http_list_has(buf, 5, "x"));
    assert_true(larder_http_list_has(buf, 8, "x"));
}

#define MAX_ITEMS 8

struct items {
    int n;
    char item[MAX_ITEMS][32];
    int stop_at;                /* return 7 from this call (1-based), 0: never */
};

static int collect(const char *item, size_t len, void *arg)
{
    struct items *it = arg;

    assert_true(it->n < MAX_ITEMS);
    assert_true(len > 0 && len < sizeof(it->item[0]));
    memcpy(it->item[it->n], item, len);
    it->item[it->n][len] = '\0';
    it->n++;
    return it->stop_at == it->n ? 7 : 0;
}

/* Runs list_each on an exactly-sized copy and compares the items with the
 * NULL-terminated <want>. */
static void list_case(const char *value, const char *const *want, int stop_at, int want_ret)
{
    struct items it = { .stop_at = stop_at };
    size_t len = strlen(value);
    char *copy = malloc(len ? len : 1);
    int i, ret;

    assert_non_null(copy);
    memcpy(copy, value, len);
    ret = larder_http_list_each(copy, len, collect, &it);
    free(copy);
    if (ret != want_ret)
        fail_msg("list_each(\"%s\") returned %d, want %d", value, ret, want_ret);
    for (i = 0; want[i] != NULL; i++) {
        if (i >= it.n || strcmp(it.item[i], want[i]) != 0)
            fail_msg("list_each(\"%s\") item %d is \"%s\", want \"%s\"", value, i,
                     i < it.n ? it.item[i] : "(none)", want[i]);
    }
    if (it.n != i)
        fail_msg("list_each(\"%s\") gave %d items, want %d", value, it.n, i);
}

static void test_list_each(void **state)
{
    (void)state;
    list_case("", NO_FIELDS, 0, 0);
    list_case(" , ,,\t", NO_FIELDS, 0, 0);
    list_case("a", FIELDS("a"), 0, 0);
    list_case("a,b", FIELDS("a", "b"), 0, 0);
    list_case(" a , b\t,c ", FIELDS("a", "b", "c"), 0, 0);
    list_case("a, b,,c , ", FIELDS("a", "b", "c"), 0, 0);
    list_case(",a", FIELDS("a"), 0, 0);
    list_case("gzip, chunked", FIELDS("gzip", "chunked"), 0, 0);
    list_case("a b, c", FIELDS("a b", "c"), 0, 0);
    list_case("a, \"b, c\", d", FIELDS("a", "\"b, c\"", "d"), 0, 0);
    list_case("x;q=\"1,2\", y", FIELDS("x;q=\"1,2\"", "y"), 0, 0);
    list_case("\"x\\\",\" , y", FIELDS("\"x\\\",\"", "y"), 0, 0);
    list_case("\",\"", FIELDS("\",\""), 0, 0);
    list_case("a, b, c", FIELDS("a"), 1, 7);
    list_case("a, b, c", FIELDS("a", "b"), 2, 7);
    list_case("a, b, c", FIELDS("a", "b", "c"), 3, 7);
}

static void test_is_tchar(void **state)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || (c != 0 && strchr(extra, c) != NULL);

        if (!larder_http_is_tchar((unsigned char)c) != !want)
            fail_msg("is_tchar(0x%02x) is %d, want %d", c,
                     larder_http_is_tchar((unsigned char)c), want);
    }
}

/* ======================================================================== */
/* ---- seed corpora -------------------------------------------------------- */

/* With LARDER_DUMP_CORPUS=DIR set, writes every sample of the tables to
 * DIR/fuzz_request, DIR/fuzz_response and DIR/fuzz_chunked, the seeds of
 * the libFuzzer targets in tests/fuzz. */
static void dump_one(const char *dir, const char *target, const char *prefix, size_t i,
                     const char *text, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s-%03zu", dir, target, prefix, i);
    f = fopen(path, "wb");
    if (f == NULL)
        return;
    fwrite(text, 1, len, f);
    fclose(f);
}

static void dump_corpus(const char *dir)
{
    size_t i;

    mkdir(dir, 0755);
    for (i = 0; i < N_ITEMS(req_valid); i++)
        dump_one(dir, "fuzz_request", "valid", i, req_valid[i].text, req_valid[i].len);
    for (i = 0; i < N_ITEMS(req_invalid); i++)
        dump_one(dir, "fuzz_request", "invalid", i, req_invalid[i].text, req_invalid[i].len);
    for (i = 0; i < N_ITEMS(resp_valid); i++)
        dump_one(dir, "fuzz_response", "valid", i, resp_valid[i].text, resp_valid[i].len);
    for (i = 0; i < N_ITEMS(resp_invalid); i++)
        dump_one(dir, "fuzz_response", "invalid", i, resp_invalid[i].text, resp_invalid[i].len);
    for (i = 0; i < N_ITEMS(chunk_samples); i++)
        dump_one(dir, "fuzz_chunked", "sample", i, chunk_samples[i].text, chunk_samples[i].len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_valid),
        cmocka_unit_test(test_request_invalid),
        cmocka_unit_test(test_request_incomplete),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_head_size_limit),
        cmocka_unit_test(test_field_count_limit),
        cmocka_unit_test(test_status_line_limit),
        cmocka_unit_test(test_response_table),
        cmocka_unit_test(test_response_head_vs_get),
        cmocka_unit_test(test_field_storage),
        cmocka_unit_test(test_chunked_table),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_chunked_size_digits),
        cmocka_unit_test(test_chunked_api),
        cmocka_unit_test(test_field_is_and_find),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_list_each),
        cmocka_unit_test(test_is_tchar),
    };
    const char *dump = getenv("LARDER_DUMP_CORPUS");

    if (dump != NULL && dump[0] != '\0') {
        dump_corpus(dump);
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
