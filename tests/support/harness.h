/* SPDX-License-Identifier: MIT */
/* harness.h - what integration tests stand on: child processes (larder,
 * fixture_origin, fixture_echo, curl), a blocking HTTP/1.1 client over raw
 * sockets with timeouts, the body pattern, and the origin's control API.
 *
 *     struct h_proc *origin = h_origin_start();
 *     struct h_proc *larder = h_larder_start("cache_size 64M\n");
 *     char *req = h_req("GET", origin->port, "/a?cc=max-age%3D60", NULL);
 *     struct h_response *r = h_request(larder->port, req, H_TIMEOUT_MS);
 *     assert_int_equal(r->status, 200);
 *     assert_int_equal(h_origin_count(origin->port, "/a"), 1);
 *     h_response_free(r);
 *     free(req);
 *     assert_int_equal(h_larder_stop(larder), 0);   // clean exit, no leaks
 *     assert_int_equal(h_proc_stop(origin), 0);
 *
 * Conventions: functions returning pointers return NULL on failure, int
 * actions 0 / -1; h_error() tells why (process failures also go to stderr).
 * Every char * a function returns is malloc'd and NUL-terminated; the
 * caller frees it. Ports are TCP ports on 127.0.0.1. Timeouts are in ms.
 *
 * Environment: LARDER_BIN (the proxy), LARDER_FIXTURE_DIR (fixture
 * executables); both default to paths next to the test executable.
 * Each process gets a temp dir; h_proc_stop() removes it after exit 0 and
 * keeps it (naming it on stderr) otherwise. LARDER_TEST_KEEP=1 keeps all.
 */
#ifndef LARDER_TEST_HARNESS_H
#define LARDER_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_TIMEOUT_MS 10000        /* a generous default for one wait */

/* ------------------------------------------------------------------ */
/* Child processes                                                     */

struct h_proc {
    pid_t pid;
    int port;                     /* where it listens */
    char *dir;                    /* temp dir for the files below */
    char *stdout_path;            /* <dir>/stdout */
    char *stderr_path;            /* <dir>/stderr */
    char *config_path;            /* larder only: <dir>/larder.conf */
    char *access_log_path;        /* larder only: <dir>/access.log */
    int _exited;                  /* private: reaped, _status valid */
    int _status;
};

/* Starts fixture_origin / fixture_echo on an ephemeral port and waits (up
 * to H_TIMEOUT_MS) for its "PORT n" line. The caller stops it with
 * h_proc_stop(). */
struct h_proc *h_origin_start(void);
struct h_proc *h_echo_start(void);

/* Like h_origin_start(), but on <port> (e.g. 80, to test default-port
 * handling). NULL when fixture_origin cannot listen there (port taken, no
 * permission); the caller may skip. */
struct h_proc *h_origin_start_port(int port);

/* Starts "$LARDER_BIN --config <dir>/larder.conf". The file holds
 * "listen 127.0.0.1:<free port>", "access_log <dir>/access.log", then
 * <extra_config_lines> ("name value" lines, NULL for none; later lines
 * override scalar options). stdout/stderr go to files in <dir>. Waits up to
 * H_TIMEOUT_MS for the port to accept connections; NULL (with larder's
 * stderr printed) if it exits or never listens. */
struct h_proc *h_larder_start(const char *extra_config_lines);

/* Same, with extra environment for larder: <env> is a NULL-terminated list
 * of "NAME=value" (e.g. "ASAN_OPTIONS=quarantine_size_mb=1"), or NULL. */
struct h_proc *h_larder_start_env(const char *extra_config_lines, const char *const *env);

/* Sends SIGTERM, waits up to 15 s (then SIGKILL), frees <p> and returns the
 * exit status: 0..255 for an exit, 128+N for death by signal N, -1 when it
 * had to be killed. A non-zero status prints the process's stderr and keeps
 * its temp dir; otherwise the dir is removed. NULL gives -1. */
int h_proc_stop(struct h_proc *p);
int h_larder_stop(struct h_proc *p);   /* the same, for readability */

/* Sends <sig> (e.g. SIGUSR1, SIGKILL). Returns 0 / -1. */
int h_proc_signal(struct h_proc *p, int sig);

/* Waits up to <timeout_ms> for the process to exit on its own. Returns its
 * status as h_proc_stop() would, or -2 if it is still running. <p> stays
 * valid; free it with h_proc_stop(), which then only cleans up. */
int h_proc_wait(struct h_proc *p, int timeout_ms);

/* Resident set size of <pid> in kB (VmRSS in /proc/<pid>/status), or -1. */
long h_rss_kb(pid_t pid);

/* A port on 127.0.0.1 that was free a moment ago (bound to :0, closed). */
int h_free_port(void);

/* Number of "ACCEPT" lines fixture_echo has printed: its connections. */
long h_echo_connections(const struct h_proc *echo);

/* ------------------------------------------------------------------ */
/* Commands                                                            */

/* Runs "/bin/sh -c <cmd>" (proxy variables such as http_proxy removed from
 * its environment) for at most <timeout_ms>; on timeout its whole process
 * group is killed. *out / *err (either may be NULL) receive its stdout /
 * stderr, malloc'd. Returns the exit status (128+N for signal N), or -1 on
 * timeout or failure to start. */
int h_run(const char *cmd, char **out, char **err, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Client connections                                                  */

struct h_conn {
    int fd;
    int eof;                      /* the peer closed (FIN) */
    int reset;                    /* the peer reset (ECONNRESET) */
    char *_buf;                   /* private: received, not yet consumed */
    size_t _len;
    size_t _cap;
};

struct h_header {
    char *name;
    char *value;
};

struct h_response {
    int status;                   /* of the final (non-1xx) response */
    int minor;                    /* HTTP/1.<minor> */
    char *reason;
    char *head;                   /* the raw final head, CRLFCRLF included */
    struct h_header *headers;     /* in order received */
    size_t nheaders;
    char *body;                   /* decoded body, NUL-terminated (NULL when
                                     streamed to a callback) */
    uint64_t body_len;            /* decoded body bytes received */
    int chunked;                  /* the body was chunked */
    int complete;                 /* the body ended as its framing says;
                                     0: truncated, or timed out */
    int timed_out;                /* a wait exceeded the timeout */
    int interim[8];               /* statuses of 1xx responses skipped */
    size_t ninterim;
    char *interim_heads;          /* their raw heads, concatenated ("" if none) */
};

/* Blocking connect to 127.0.0.1:<port> within H_TIMEOUT_MS. The socket is
 * close-on-exec and has TCP_NODELAY. Free with h_conn_close(). */
struct h_conn *h_conn_open(int port);
void h_conn_close(struct h_conn *c);

/* Sends all of <data> (waiting at most H_TIMEOUT_MS for each bit of room).
 * Returns 0 / -1. */
int h_conn_send(struct h_conn *c, const void *data, size_t len);
int h_conn_send_str(struct h_conn *c, const char *s);

/* Sends <n> pattern bytes starting at pattern offset <offset>, generated
 * piecewise (n may be many GiB). <chunk> 0: plain bytes; otherwise as HTTP
 * chunks of <chunk> bytes followed by the last chunk "0\r\n\r\n". */
int h_conn_send_pattern(struct h_conn *c, uint64_t offset, uint64_t n, size_t chunk);

/* Half-closes: shutdown(SHUT_WR). */
int h_conn_shutdown_write(struct h_conn *c);

/* Reads one response to a request with <method> (NULL means GET; HEAD and
 * a 2xx to CONNECT have no body; neither do 1xx, 204, 304). 1xx responses
 * before it (except 101) are skipped and recorded in interim[]. The body
 * is decoded from chunked, Content-Length or the connection's end.
 * <timeout_ms> bounds each wait for more bytes, not the whole response.
 * Returns NULL if no complete final head arrived (closed, reset, timeout
 * or garbage); otherwise a response, maybe with complete == 0. Bytes after
 * the response stay buffered for the next read. Free with h_response_free. */
struct h_response *h_conn_read_response(struct h_conn *c, const char *method, int timeout_ms);

/* Like h_conn_read_response(), but each piece of body goes to <cb> as it
 * arrives instead of into r->body (which stays NULL); r->body_len counts. */
typedef void (*h_body_cb)(const char *data, size_t len, void *arg);
struct h_response *h_conn_read_response_cb(struct h_conn *c, const char *method,
                                           int timeout_ms, h_body_cb cb, void *arg);

/* Reads exactly one response head, whatever its status, and no body: to
 * see a 100 Continue or 103 before acting. NULL on failure. */
struct h_response *h_conn_read_interim(struct h_conn *c, int timeout_ms);

/* Reads everything until the peer closes or <timeout_ms> passes (a total
 * deadline), buffered bytes included; c->eof / c->reset tell which. Returns
 * the bytes (malloc'd, NUL-terminated, maybe empty) and their count. */
char *h_conn_read_until_close(struct h_conn *c, int timeout_ms, size_t *len_out);

/* Reads exactly <n> bytes into <buf> (buffered bytes first) with a total
 * deadline. Returns 0, or -1 (closed, reset or timeout). */
int h_conn_read_exact(struct h_conn *c, void *buf, size_t n, int timeout_ms);

void h_response_free(struct h_response *r);

/* First value of header <name> (case-insensitive), or NULL. Borrowed. */
const char *h_header_get(const struct h_response *r, const char *name);

/* How many header lines are named <name>. */
size_t h_header_count(const struct h_response *r, const char *name);

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* "<method> http://127.0.0.1:<origin_port><path> HTTP/1.1\r\n"
 * "Host: 127.0.0.1:<origin_port>\r\n" <extra_headers> "\r\n".
 * <path> starts with '/' and may carry a query; <extra_headers> is NULL or
 * complete lines ("Name: value\r\n..."). Absolute-form, for a proxy;
 * fixture_origin accepts it too. */
char *h_req(const char *method, int origin_port, const char *path, const char *extra_headers);

/* One request on a new connection to <port>: sends <raw_request> (method
 * taken from its first word), reads one response, closes. NULL on failure. */
struct h_response *h_request(int port, const char *raw_request, int timeout_ms);

/* h_request(port, h_req("GET", origin_port, path, extra_headers), H_TIMEOUT_MS).
 * With port == origin_port, talks to the origin directly. */
struct h_response *h_get(int port, int origin_port, const char *path, const char *extra_headers);

/* ------------------------------------------------------------------ */
/* The body pattern: byte i is "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36] */

char h_pattern_byte(uint64_t i);
void h_pattern_fill(char *buf, uint64_t offset, size_t n);

/* Index in <buf> of the first byte that differs from the pattern at
 * <offset>, or n if none does. */
size_t h_pattern_mismatch(const char *buf, uint64_t offset, size_t n);

/* The 32-bit additive checksum fixture_origin reports ("sum"): of any
 * bytes, and of pattern bytes [offset, offset + n) computed directly. */
uint32_t h_sum(const void *data, size_t len);
uint32_t h_pattern_sum(uint64_t offset, uint64_t n);

/* Incremental pattern check, an h_body_cb: zero it, pass it as <arg>, then
 * bad == 0 and checked == expected length means the body was the pattern. */
struct h_pattern_check {
    uint64_t checked;             /* bytes seen */
    uint64_t bad;                 /* mismatching bytes */
    uint64_t first_bad;           /* offset of the first, if any */
};
void h_pattern_check_cb(const char *data, size_t len, void *arg);

/* ------------------------------------------------------------------ */
/* fixture_origin's control API (each call on a new connection)        */

long h_origin_count(int port, const char *path);            /* -1 on error */
int h_origin_stats(int port, long *conns_out, long *reqs_out);
char *h_origin_log(int port, const char *path);             /* request heads */
char *h_origin_body(int port, const char *path, size_t *len_out);
int h_origin_script(int port, const char *path, const char *params);
int h_origin_reset(int port);

/* ------------------------------------------------------------------ */
/* Miscellany                                                          */

/* printf into a malloc'd string. */
char *h_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Percent-encodes every byte but unreserved ones (A-Z a-z 0-9 - . _ ~),
 * for building parameter values such as raw=. */
char *h_pct_encode(const char *s);

/* Whole file, NUL-terminated, or NULL. <len_out> may be NULL. */
char *h_read_file(const char *path, size_t *len_out);

/* Polls file <path> until it contains <needle> (up to <timeout_ms>):
 * e.g. for an access-log line written after the response. Returns 0 / -1. */
int h_wait_file_contains(const char *path, const char *needle, int timeout_ms);

uint64_t h_now_ms(void);          /* monotonic clock */

/* LARDER_TEST_SLOW=N (1 to 100, default 1): larder runs N times slower than
 * usual (under valgrind, say). The harness stretches its own waits on it by
 * N: start, stop, sends and each wait for response bytes (also the deadline
 * of h_conn_read_until_close and h_conn_read_exact). Tests may use it to
 * stretch their timing expectations. */
int h_slow(void);
void h_sleep_ms(int ms);

/* The last failure's message, for assertions' output. Borrowed. */
const char *h_error(void);

/* ------------------------------------------------------------------ */
/* Raw message heads (as kept by fixture_origin's /__log)              */

/* Value of the first field line <name> (case-insensitive) in the raw head
 * <head> (start line first, CRLF lines), trimmed; malloc'd, or NULL if
 * absent. */
char *h_head_field(const char *head, const char *name);

/* How many field lines of <head> are named <name>. */
size_t h_head_field_count(const char *head, const char *name);

/* The <i>th (from 0) request head in an /__log text, malloc'd, or NULL. */
char *h_log_entry(const char *log, size_t i);

/* How many request heads an /__log text holds. */
size_t h_log_count(const char *log);

#endif /* LARDER_TEST_HARNESS_H */
