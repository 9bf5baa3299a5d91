/* SPDX-License-Identifier: MIT */
/* harness.c - child processes, a blocking HTTP/1.1 client and fixture
 * helpers for the integration tests; see harness.h for the contracts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_ALPHABET "0123456789abcdefghijklmnopqrstuvwxyz"
#define PATTERN_PERIOD 36
#define READ_PIECE (64 * 1024)    /* bytes asked of each recv() */
#define MAX_HEAD (1024 * 1024)    /* a response head larger than this fails */
#define STOP_TIMEOUT_MS 15000
#define STDERR_TAIL (16 * 1024)   /* printed when a process fails */

static char last_error[1024];    /* test-only state: the last failure */

static void set_error(int print, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(int print, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (print)
        fprintf(stderr, "harness: %s\n", last_error);
}

const char *h_error(void)
{
    return last_error;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = xmalloc(n + 1);

    memcpy(d, s, n + 1);
    return d;
}

char *h_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    va_end(ap);
    return s;
}

uint64_t h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int h_slow(void)
{
    const char *v = getenv("LARDER_TEST_SLOW");
    int n = v && *v ? atoi(v) : 1;

    return n < 1 ? 1 : n > 100 ? 100 : n;
}

/* <ms> stretched by LARDER_TEST_SLOW, for the harness's own waits on larder. */
static int slow_ms(int ms)
{
    int64_t n = (int64_t)ms * h_slow();

    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Milliseconds left until <deadline>, at least 0. */
static int ms_left(uint64_t deadline)
{
    uint64_t now = h_now_ms();

    return now >= deadline ? 0 : (int)(deadline - now);
}

char *h_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap + 1);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

int h_wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        char *text = h_read_file(path, NULL);
        int found = text && strstr(text, needle) != NULL;

        free(text);
        if (found)
            return 0;
        if (ms_left(deadline) == 0) {
            set_error(0, "%s does not contain \"%s\"", path, needle);
            return -1;
        }
        h_sleep_ms(10);
    }
}

char *h_pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *d = xmalloc(strlen(s) * 3 + 1);
    char *p = d;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return d;
}

/* ------------------------------------------------------------------ */
/* Child processes                                                     */

/* Directory of the running test executable (malloc'd). */
static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    char *slash;

    if (n <= 0)
        return xstrdup(".");
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(buf);
}

static char *fixture_path(const char *name)
{
    const char *dir = getenv("LARDER_FIXTURE_DIR");
    char *def = NULL;
    char *path;

    if (!dir || !*dir)
        dir = def = exe_dir();
    path = h_fmt("%s/%s", dir, name);
    free(def);
    return path;
}

static char *larder_path(void)
{
    const char *bin = getenv("LARDER_BIN");
    char *dir, *path;

    if (bin && *bin)
        return xstrdup(bin);
    dir = exe_dir();
    path = h_fmt("%s/../larder", dir);
    free(dir);
    return path;
}

static struct h_proc *proc_new(void)
{
    const char *tmp = getenv("TMPDIR");
    struct h_proc *p = xmalloc(sizeof *p);
    char *tmpl;

    memset(p, 0, sizeof *p);
    p->pid = -1;
    tmpl = h_fmt("%s/larder-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        set_error(1, "mkdtemp %s: %s", tmpl, strerror(errno));
        free(tmpl);
        free(p);
        return NULL;
    }
    p->dir = tmpl;
    p->stdout_path = h_fmt("%s/stdout", p->dir);
    p->stderr_path = h_fmt("%s/stderr", p->dir);
    return p;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = h_fmt("%s/%s", dir, de->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
    rmdir(dir);
}

static void proc_free(struct h_proc *p, int keep_dir)
{
    if (keep_dir)
        fprintf(stderr, "harness: kept %s\n", p->dir);
    else
        remove_dir(p->dir);
    free(p->dir);
    free(p->stdout_path);
    free(p->stderr_path);
    free(p->config_path);
    free(p->access_log_path);
    free(p);
}

static void print_stderr(const struct h_proc *p, const char *what)
{
    size_t len;
    char *text = h_read_file(p->stderr_path, &len);
    const char *from = text;

    if (text && len > STDERR_TAIL)
        from = text + len - STDERR_TAIL;
    fprintf(stderr, "harness: %s (pid %d); its stderr%s:\n%s\n", what, (int)p->pid,
            from != text ? " (tail)" : "", text ? from : "(unreadable)");
    free(text);
}

static int status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* In the child after fork(): die with the parent, drop inherited fds. */
static void child_setup(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int devnull = open("/dev/null", O_RDONLY);

    if (devnull >= 0) {
        dup2(devnull, 0);
        if (devnull > 2)
            close(devnull);
    }
}

/* The environment with <extra> "NAME=value" entries replacing or adding
 * to it: a malloc'd array of borrowed strings, built before fork() so the
 * child does not allocate. */
static char **build_env(const char *const *extra)
{
    extern char **environ;
    size_t n = 0, k = 0, i, j;
    char **envp;

    while (environ[n])
        n++;
    for (j = 0; extra && extra[j]; j++)
        ;
    envp = xmalloc((n + j + 1) * sizeof *envp);
    for (i = 0; i < n; i++) {
        size_t nlen = strcspn(environ[i], "=");
        int replaced = 0;

        for (j = 0; extra && extra[j]; j++)
            if (strncmp(environ[i], extra[j], nlen) == 0 && extra[j][nlen] == '=')
                replaced = 1;
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (j = 0; extra && extra[j]; j++)
        if (strchr(extra[j], '='))
            envp[k++] = (char *)extra[j];
    envp[k] = NULL;
    return envp;
}

/* fork + exec <argv> with stdout/stderr to p's files and extra <env>. */
static int spawn(struct h_proc *p, char *const argv[], const char *const *env)
{
    pid_t parent = getpid();
    char **envp = build_env(env);
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        set_error(1, "fork: %s", strerror(errno));
        free(envp);
        return -1;
    }
    if (pid == 0) {
        int out = open(p->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(p->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        child_setup(parent);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execve(argv[0], argv, envp);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(envp);
    p->pid = pid;
    return 0;
}

/* Reaps the child if it has exited. Returns 1 if it has. */
static int proc_poll(struct h_proc *p)
{
    int status;

    if (p->_exited)
        return 1;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->_exited = 1;
        p->_status = status_code(status);
        return 1;
    }
    return 0;
}

int h_proc_wait(struct h_proc *p, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;

    if (!p)
        return -1;
    while (!proc_poll(p)) {
        if (ms_left(deadline) == 0)
            return -2;
        h_sleep_ms(5);
    }
    return p->_status;
}

int h_proc_signal(struct h_proc *p, int sig)
{
    if (!p || p->_exited)
        return -1;
    return kill(p->pid, sig);
}

int h_proc_stop(struct h_proc *p)
{
    int code;

    if (!p)
        return -1;
    if (!p->_exited) {
        kill(p->pid, SIGTERM);
        code = h_proc_wait(p, slow_ms(STOP_TIMEOUT_MS));
        if (code == -2) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            print_stderr(p, "did not exit after SIGTERM; killed");
            proc_free(p, 1);
            return -1;
        }
    }
    code = p->_status;
    if (code != 0) {
        char what[64];

        snprintf(what, sizeof what, "exited with status %d", code);
        print_stderr(p, what);
    }
    proc_free(p, code != 0 || getenv("LARDER_TEST_KEEP") != NULL);
    return code;
}

int h_larder_stop(struct h_proc *p)
{
    return h_proc_stop(p);
}

/* A start failed: print what the process said, then remove every trace. */
static void discard(struct h_proc *p)
{
    if (!proc_poll(p)) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    print_stderr(p, "failed to start");
    if (p->config_path) {
        char *conf = h_read_file(p->config_path, NULL);

        fprintf(stderr, "harness: its config:\n%s\n", conf ? conf : "(unreadable)");
        free(conf);
    }
    proc_free(p, getenv("LARDER_TEST_KEEP") != NULL);
}

/* Starts a fixture on <port> (0: ephemeral) and waits for its "PORT n"
 * line. */
static struct h_proc *fixture_start_port(const char *name, int port)
{
    struct h_proc *p = proc_new();
    char *path = fixture_path(name);
    char portarg[16];
    char *argv[] = { path, "--port", portarg, NULL };
    uint64_t deadline = h_now_ms() + H_TIMEOUT_MS;

    snprintf(portarg, sizeof portarg, "%d", port);
    if (!p || spawn(p, argv, NULL) < 0) {
        free(path);
        if (p)
            proc_free(p, 0);
        return NULL;
    }
    for (;;) {
        char *text = h_read_file(p->stdout_path, NULL);
        const char *line = text ? strstr(text, "PORT ") : NULL;
        int done = line && strchr(line, '\n') != NULL;

        if (done)
            p->port = atoi(line + 5);
        free(text);
        if (done && p->port > 0)
            break;
        if (proc_poll(p) || ms_left(deadline) == 0) {
            set_error(1, "%s did not report its port", path);
            free(path);
            discard(p);
            return NULL;
        }
        h_sleep_ms(5);
    }
    free(path);
    return p;
}

struct h_proc *h_origin_start(void)
{
    return fixture_start_port("fixture_origin", 0);
}

struct h_proc *h_origin_start_port(int port)
{
    return fixture_start_port("fixture_origin", port);
}

struct h_proc *h_echo_start(void)
{
    return fixture_start_port("fixture_echo", 0);
}

long h_echo_connections(const struct h_proc *echo)
{
    char *text = h_read_file(echo->stdout_path, NULL);
    const char *s;
    long n = 0;

    if (!text)
        return -1;
    for (s = text; (s = strstr(s, "ACCEPT ")) != NULL; s += 7)
        n++;
    free(text);
    return n;
}

int h_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0
        && getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

/* Does 127.0.0.1:<port> accept a connection right now? */
static int port_accepts(int port)
{
    struct h_conn *c = h_conn_open(port);

    if (!c)
        return 0;
    h_conn_close(c);
    return 1;
}

/* Did larder fail because its port was taken meanwhile (by a parallel test)? */
static int lost_port_race(const struct h_proc *p)
{
    char *text = h_read_file(p->stderr_path, NULL);
    int lost = text && strstr(text, "in use") != NULL;

    free(text);
    return lost;
}

/* One attempt at h_larder_start_env(); *retry_out set when worth another. */
static struct h_proc *larder_try(const char *extra_config_lines, const char *const *env,
                                 int *retry_out)
{
    struct h_proc *p = proc_new();
    uint64_t deadline = h_now_ms() + (uint64_t)slow_ms(H_TIMEOUT_MS);
    char *bin, *conf;
    FILE *f;

    *retry_out = 0;
    if (!p)
        return NULL;
    p->port = h_free_port();
    p->config_path = h_fmt("%s/larder.conf", p->dir);
    p->access_log_path = h_fmt("%s/access.log", p->dir);
    f = fopen(p->config_path, "w");
    if (!f || p->port <= 0) {
        set_error(1, "cannot write %s", p->config_path);
        if (f)
            fclose(f);
        proc_free(p, 0);
        return NULL;
    }
    fprintf(f, "listen 127.0.0.1:%d\naccess_log %s\n", p->port, p->access_log_path);
    if (extra_config_lines) {
        size_t n = strlen(extra_config_lines);

        fputs(extra_config_lines, f);
        if (n > 0 && extra_config_lines[n - 1] != '\n')
            fputc('\n', f);
    }
    fclose(f);

    bin = larder_path();
    conf = xstrdup(p->config_path);
    {
        char *argv[] = { bin, "--config", conf, NULL };
        int rc = spawn(p, argv, env);

        free(bin);
        free(conf);
        if (rc < 0) {
            proc_free(p, 0);
            return NULL;
        }
    }

    while (!port_accepts(p->port)) {
        if (proc_poll(p)) {
            if (lost_port_race(p)) {
                *retry_out = 1;
                proc_free(p, 0);
                return NULL;
            }
            set_error(1, "larder exited with status %d before listening", p->_status);
            discard(p);
            return NULL;
        }
        if (ms_left(deadline) == 0) {
            set_error(1, "larder did not listen on port %d in time", p->port);
            discard(p);
            return NULL;
        }
        h_sleep_ms(10);
    }
    return p;
}

struct h_proc *h_larder_start_env(const char *extra_config_lines, const char *const *env)
{
    struct h_proc *p = NULL;
    int attempt, retry = 1;

    for (attempt = 0; attempt < 3 && retry; attempt++)
        p = larder_try(extra_config_lines, env, &retry);
    if (!p && retry)
        set_error(1, "larder could not bind a free port in 3 attempts");
    return p;
}

struct h_proc *h_larder_start(const char *extra_config_lines)
{
    return h_larder_start_env(extra_config_lines, NULL);
}

long h_rss_kb(pid_t pid)
{
    char *path = h_fmt("/proc/%d/status", (int)pid);
    char *text = h_read_file(path, NULL);
    const char *line;
    long kb = -1;

    free(path);
    if (!text)
        return -1;
    line = strstr(text, "\nVmRSS:");
    if (line)
        kb = strtol(line + 7, NULL, 10);
    free(text);
    return kb;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */

struct capture {
    char *buf;
    size_t len;
    size_t cap;
};

static void capture_add(struct capture *cp, const char *data, size_t n)
{
    if (cp->len + n + 1 > cp->cap) {
        cp->cap = (cp->len + n + 1) * 2;
        cp->buf = xrealloc(cp->buf, cp->cap);
    }
    memcpy(cp->buf + cp->len, data, n);
    cp->len += n;
    cp->buf[cp->len] = '\0';
}

int h_run(const char *cmd, char **out, char **err, int timeout_ms)
{
    static const char *const proxy_vars[] = {
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
        "ALL_PROXY", "no_proxy", "NO_PROXY", NULL
    };
    uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;
    struct capture cap[2];
    struct pollfd pfd[2];
    int pout[2], perr[2];
    pid_t parent = getpid();
    pid_t pid;
    int status, code = -1, i;

    memset(cap, 0, sizeof cap);
    capture_add(&cap[0], "", 0);
    capture_add(&cap[1], "", 0);
    if (pipe2(pout, O_CLOEXEC) < 0)
        goto fail_start;
    if (pipe2(perr, O_CLOEXEC) < 0) {
        close(pout[0]);
        close(pout[1]);
        goto fail_start;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(pout[0]);
        close(pout[1]);
        close(perr[0]);
        close(perr[1]);
        goto fail_start;
    }
    if (pid == 0) {
        setpgid(0, 0);
        child_setup(parent);
        for (i = 0; proxy_vars[i]; i++)
            unsetenv(proxy_vars[i]);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close_range(3, ~0U, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);            /* also here: no race with the kill below */
    close(pout[1]);
    close(perr[1]);
    pfd[0].fd = pout[0];
    pfd[1].fd = perr[0];
    pfd[0].events = pfd[1].events = POLLIN;

    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int left = ms_left(deadline);
        int n;

        if (left == 0)
            break;
        n = poll(pfd, 2, left);
        if (n < 0 && errno != EINTR)
            break;
        for (i = 0; i < 2 && n > 0; i++) {
            char buf[8192];
            ssize_t got;

            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            got = read(pfd[i].fd, buf, sizeof buf);
            if (got > 0) {
                capture_add(&cap[i], buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(pfd[i].fd);
                pfd[i].fd = -1;   /* poll() ignores negative fds */
            }
        }
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid) {
            code = status_code(status);
            break;
        }
        if (ms_left(deadline) == 0) {
            kill(-pid, SIGKILL);
            waitpid(pid, NULL, 0);
            set_error(0, "command timed out after %d ms: %s", timeout_ms, cmd);
            code = -1;
            break;
        }
        h_sleep_ms(2);
    }
    for (i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    goto done;

fail_start:
    set_error(1, "cannot run %s: %s", cmd, strerror(errno));
done:
    if (out)
        *out = cap[0].buf;
    else
        free(cap[0].buf);
    if (err)
        *err = cap[1].buf;
    else
        free(cap[1].buf);
    return code;
}

/* ------------------------------------------------------------------ */
/* Client connections                                                  */

enum fill_result {
    FILL_OK = 0,                  /* bytes were added */
    FILL_EOF,
    FILL_RESET,                   /* reset or another socket error */
    FILL_TIMEOUT,
};

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = { fd, events, 0 };
    int n;

    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n;                     /* 1 ready, 0 timeout, -1 error */
}

struct h_conn *h_conn_open(int port)
{
    struct sockaddr_in sin;
    struct h_conn *c;
    int fd, one = 1, soerr = 0;
    socklen_t len = sizeof soerr;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        set_error(0, "socket: %s", strerror(errno));
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        if (errno != EINPROGRESS
            || wait_fd(fd, POLLOUT, H_TIMEOUT_MS) != 1
            || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
            set_error(0, "connect to port %d: %s", port,
                      strerror(soerr ? soerr : errno ? errno : ETIMEDOUT));
            close(fd);
            return NULL;
        }
    }
    c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->fd = fd;
    return c;
}

void h_conn_close(struct h_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->_buf);
    free(c);
}

int h_conn_send(struct h_conn *c, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c->fd, POLLOUT, slow_ms(H_TIMEOUT_MS)) != 1) {
                set_error(0, "send: no room for %d ms", H_TIMEOUT_MS);
                return -1;
            }
        } else {
            if (errno == ECONNRESET)
                c->reset = 1;
            set_error(0, "send: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

int h_conn_send_str(struct h_conn *c, const char *s)
{
    return h_conn_send(c, s, strlen(s));
}

int h_conn_send_pattern(struct h_conn *c, uint64_t offset, uint64_t n, size_t chunk)
{
    char buf[PATTERN_PERIOD * 1820];
    uint64_t sent = 0;

    while (sent < n) {
        uint64_t piece = n - sent;
        char line[32];

        if (chunk && piece > chunk)
            piece = chunk;
        if (chunk) {
            snprintf(line, sizeof line, "%llx\r\n", (unsigned long long)piece);
            if (h_conn_send_str(c, line) < 0)
                return -1;
        }
        for (uint64_t done = 0; done < piece;) {
            size_t k = piece - done < sizeof buf ? (size_t)(piece - done) : sizeof buf;

            h_pattern_fill(buf, offset + sent + done, k);
            if (h_conn_send(c, buf, k) < 0)
                return -1;
            done += k;
        }
        sent += piece;
        if (chunk && h_conn_send(c, "\r\n", 2) < 0)
            return -1;
    }
    if (chunk)
        return h_conn_send(c, "0\r\n\r\n", 5);
    return 0;
}

int h_conn_shutdown_write(struct h_conn *c)
{
    return shutdown(c->fd, SHUT_WR);
}

/* Reads what is available (waiting up to <timeout_ms>) into c->_buf. */
static enum fill_result fill(struct h_conn *c, int timeout_ms)
{
    ssize_t n;

    if (c->reset)
        return FILL_RESET;
    if (c->eof)
        return FILL_EOF;
    if (c->_cap - c->_len < READ_PIECE + 1) {
        c->_cap = c->_len + READ_PIECE + 1 > 2 * c->_cap ? c->_len + READ_PIECE + 1
                                                        : 2 * c->_cap;
        c->_buf = xrealloc(c->_buf, c->_cap);
    }
    for (;;) {
        n = recv(c->fd, c->_buf + c->_len, READ_PIECE, 0);
        if (n > 0) {
            c->_len += (size_t)n;
            c->_buf[c->_len] = '\0';
            return FILL_OK;
        }
        if (n == 0) {
            c->eof = 1;
            return FILL_EOF;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            c->reset = 1;
            set_error(0, "recv: %s", strerror(errno));
            return FILL_RESET;
        }
        int w = wait_fd(c->fd, POLLIN, timeout_ms);

        if (w == 0) {
            set_error(0, "no data for %d ms", timeout_ms);
            return FILL_TIMEOUT;
        }
        if (w < 0) {
            c->reset = 1;
            return FILL_RESET;
        }
    }
}

/* Drops the first <n> buffered bytes. */
static void consume(struct h_conn *c, size_t n)
{
    if (n == 0)
        return;
    memmove(c->_buf, c->_buf + n, c->_len - n);
    c->_len -= n;
}

char *h_conn_read_until_close(struct h_conn *c, int timeout_ms, size_t *len_out)
{
    uint64_t deadline = h_now_ms() + (uint64_t)slow_ms(timeout_ms);
    struct capture cp;

    memset(&cp, 0, sizeof cp);
    capture_add(&cp, "", 0);
    for (;;) {
        if (c->_len) {
            capture_add(&cp, c->_buf, c->_len);
            consume(c, c->_len);
        }
        if (c->eof || c->reset || ms_left(deadline) == 0)
            break;
        if (fill(c, ms_left(deadline)) == FILL_TIMEOUT)
            break;
    }
    if (len_out)
        *len_out = cp.len;
    return cp.buf;
}

int h_conn_read_exact(struct h_conn *c, void *buf, size_t n, int timeout_ms)
{
    uint64_t deadline = h_now_ms() + (uint64_t)slow_ms(timeout_ms);
    char *p = buf;

    while (n > 0) {
        size_t k = c->_len < n ? c->_len : n;

        if (k)
            memcpy(p, c->_buf, k);
        consume(c, k);
        p += k;
        n -= k;
        if (n == 0)
            break;
        if (ms_left(deadline) == 0 || fill(c, ms_left(deadline)) != FILL_OK) {
            set_error(0, "read_exact: %zu bytes short", n);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

void h_response_free(struct h_response *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->reason);
    free(r->head);
    free(r->body);
    free(r->interim_heads);
    free(r);
}

const char *h_header_get(const struct h_response *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

size_t h_header_count(const struct h_response *r, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            n++;
    return n;
}

static void clear_head(struct h_response *r)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->reason);
    free(r->head);
    r->headers = NULL;
    r->nheaders = 0;
    r->reason = NULL;
    r->head = NULL;
}

/* Parses head text (NUL-terminated, CRLF or LF lines) into <r>. */
static int parse_head(struct h_response *r, char *text)
{
    char *line = text;
    char *eol;

    eol = strchr(line, '\n');
    if (!eol)
        return -1;
    *eol = '\0';
    if (eol > line && eol[-1] == '\r')
        eol[-1] = '\0';
    if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7])
        || line[8] != ' ' || !isdigit((unsigned char)line[9])
        || !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11])
        || (line[12] != ' ' && line[12] != '\0'))
        return -1;
    r->minor = line[7] - '0';
    r->status = atoi(line + 9);
    r->reason = xstrdup(line[12] ? line + 13 : "");

    for (line = eol + 1; *line; line = eol + 1) {
        char *colon, *value, *end;

        eol = strchr(line, '\n');
        if (!eol)
            break;
        *eol = '\0';
        if (eol > line && eol[-1] == '\r')
            eol[-1] = '\0';
        if (!*line)
            break;
        colon = strchr(line, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        end = value + strlen(value);
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
        r->headers[r->nheaders].name = xstrdup(line);
        r->headers[r->nheaders].value = xstrdup(value);
        r->nheaders++;
    }
    return 0;
}

/* Length of the head at the start of the buffer (through the empty line),
 * or 0 if it is not complete yet. */
static size_t head_end(const struct h_conn *c)
{
    size_t i;

    for (i = 0; i + 1 < c->_len; i++) {
        if (c->_buf[i] != '\n')
            continue;
        if (c->_buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < c->_len && c->_buf[i + 1] == '\r' && c->_buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Reads one head into <r> (previous head fields cleared). */
static int read_head(struct h_conn *c, struct h_response *r, int timeout_ms)
{
    size_t len;

    for (;;) {
        len = head_end(c);
        if (len)
            break;
        if (c->_len > MAX_HEAD) {
            set_error(0, "response head over %d bytes", MAX_HEAD);
            return -1;
        }
        enum fill_result f = fill(c, timeout_ms);

        if (f != FILL_OK) {
            if (f == FILL_TIMEOUT)
                r->timed_out = 1;
            else
                set_error(0, "connection %s before a complete response head",
                          f == FILL_EOF ? "closed" : "reset");
            return -1;
        }
    }
    clear_head(r);
    r->head = xmalloc(len + 1);
    memcpy(r->head, c->_buf, len);
    r->head[len] = '\0';
    consume(c, len);
    {
        char *copy = xstrdup(r->head);
        int rc = parse_head(r, copy);

        free(copy);
        if (rc < 0) {
            set_error(0, "malformed response head: %.80s", r->head);
            return -1;
        }
    }
    return 0;
}

struct body_sink {
    h_body_cb cb;
    void *arg;
    struct h_response *r;
    size_t cap;
};

static void deliver(struct body_sink *s, const char *data, size_t n)
{
    struct h_response *r = s->r;

    if (n == 0)
        return;
    if (s->cb) {
        s->cb(data, n, s->arg);
    } else {
        if (r->body_len + n + 1 > s->cap) {
            s->cap = (size_t)(r->body_len + n + 1) * 2;
            r->body = xrealloc(r->body, s->cap);
        }
        memcpy(r->body + r->body_len, data, n);
        r->body[r->body_len + n] = '\0';
    }
    r->body_len += n;
}

/* Moves up to <max> buffered body bytes to the sink; returns how many. */
static size_t deliver_buffered(struct h_conn *c, struct body_sink *s, uint64_t max)
{
    size_t n = c->_len < max ? c->_len : (size_t)max;

    deliver(s, c->_buf, n);
    consume(c, n);
    return n;
}

/* Notes why the body stopped early; returns 0 if more bytes arrived. */
static int more(struct h_conn *c, struct h_response *r, int timeout_ms)
{
    enum fill_result f = fill(c, timeout_ms);

    if (f == FILL_TIMEOUT)
        r->timed_out = 1;
    return f == FILL_OK ? 0 : -1;
}

/* A complete line (through LF) at the start of the buffer: its length
 * without the line end, with *adv set to the length with it. */
static int buffered_line(const struct h_conn *c, size_t *len_out, size_t *adv)
{
    const char *nl = memchr(c->_buf, '\n', c->_len);

    if (!nl)
        return 0;
    *adv = (size_t)(nl - c->_buf) + 1;
    *len_out = *adv - 1;
    if (*len_out > 0 && c->_buf[*len_out - 1] == '\r')
        (*len_out)--;
    return 1;
}

static void read_chunked(struct h_conn *c, struct body_sink *s, int timeout_ms)
{
    struct h_response *r = s->r;

    for (;;) {
        size_t llen, adv;
        unsigned long long size;
        char line[64];
        char *end;

        while (!buffered_line(c, &llen, &adv))
            if (more(c, r, timeout_ms) < 0)
                return;
        if (llen >= sizeof line)
            return;               /* malformed: incomplete */
        memcpy(line, c->_buf, llen);
        line[llen] = '\0';
        consume(c, adv);
        size = strtoull(line, &end, 16);
        if (end == line)
            return;
        if (size == 0)
            break;
        while (size > 0) {
            if (c->_len == 0 && more(c, r, timeout_ms) < 0)
                return;
            size -= deliver_buffered(c, s, size);
        }
        while (!buffered_line(c, &llen, &adv))
            if (more(c, r, timeout_ms) < 0)
                return;
        consume(c, adv);
        if (llen != 0)
            return;
    }
    for (;;) {                    /* trailer section */
        size_t llen, adv;

        while (!buffered_line(c, &llen, &adv))
            if (more(c, r, timeout_ms) < 0)
                return;
        consume(c, adv);
        if (llen == 0)
            break;
    }
    r->complete = 1;
}

static struct h_response *read_response(struct h_conn *c, const char *method, int timeout_ms,
                                        h_body_cb cb, void *arg, int interim_only)
{
    struct h_response *r = xmalloc(sizeof *r);
    struct body_sink sink = { cb, arg, r, 0 };
    const char *te, *cl;

    memset(r, 0, sizeof *r);
    r->interim_heads = xstrdup("");
    timeout_ms = slow_ms(timeout_ms);
    if (!method)
        method = "GET";
    for (;;) {
        if (read_head(c, r, timeout_ms) < 0) {
            h_response_free(r);
            return NULL;
        }
        if (interim_only || r->status < 100 || r->status >= 200 || r->status == 101)
            break;
        if (r->ninterim < sizeof r->interim / sizeof r->interim[0])
            r->interim[r->ninterim] = r->status;
        r->ninterim++;
        {
            char *joined = h_fmt("%s%s", r->interim_heads, r->head);

            free(r->interim_heads);
            r->interim_heads = joined;
        }
    }
    if (!cb) {
        r->body = xstrdup("");
        sink.cap = 1;
    }
    if (interim_only || strcasecmp(method, "HEAD") == 0
        || (strcasecmp(method, "CONNECT") == 0 && r->status / 100 == 2)
        || r->status / 100 == 1 || r->status == 204 || r->status == 304) {
        r->complete = 1;
        return r;
    }
    te = h_header_get(r, "Transfer-Encoding");
    cl = h_header_get(r, "Content-Length");
    if (te && strcasestr(te, "chunked")) {
        r->chunked = 1;
        read_chunked(c, &sink, timeout_ms);
    } else if (cl) {
        uint64_t left = strtoull(cl, NULL, 10);

        while (left > 0) {
            if (c->_len == 0 && more(c, r, timeout_ms) < 0)
                break;
            left -= deliver_buffered(c, &sink, left);
        }
        r->complete = left == 0;
    } else {
        for (;;) {
            deliver_buffered(c, &sink, UINT64_MAX);
            if (more(c, r, timeout_ms) < 0)
                break;
        }
        deliver_buffered(c, &sink, UINT64_MAX);
        r->complete = c->eof && !c->reset;
    }
    return r;
}

struct h_response *h_conn_read_response(struct h_conn *c, const char *method, int timeout_ms)
{
    return read_response(c, method, timeout_ms, NULL, NULL, 0);
}

struct h_response *h_conn_read_response_cb(struct h_conn *c, const char *method,
                                           int timeout_ms, h_body_cb cb, void *arg)
{
    return read_response(c, method, timeout_ms, cb, arg, 0);
}

struct h_response *h_conn_read_interim(struct h_conn *c, int timeout_ms)
{
    return read_response(c, "HEAD", timeout_ms, NULL, NULL, 1);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

char *h_req(const char *method, int origin_port, const char *path, const char *extra_headers)
{
    return h_fmt("%s http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
                 method, origin_port, path, origin_port,
                 extra_headers ? extra_headers : "");
}

struct h_response *h_request(int port, const char *raw_request, int timeout_ms)
{
    struct h_conn *c = h_conn_open(port);
    struct h_response *r = NULL;
    char method[32];
    size_t n = strcspn(raw_request, " ");

    if (!c)
        return NULL;
    if (n >= sizeof method)
        n = sizeof method - 1;
    memcpy(method, raw_request, n);
    method[n] = '\0';
    if (h_conn_send_str(c, raw_request) == 0)
        r = h_conn_read_response(c, method, timeout_ms);
    h_conn_close(c);
    return r;
}

struct h_response *h_get(int port, int origin_port, const char *path, const char *extra_headers)
{
    char *req = h_req("GET", origin_port, path, extra_headers);
    struct h_response *r = h_request(port, req, H_TIMEOUT_MS);

    free(req);
    return r;
}

/* ------------------------------------------------------------------ */
/* The body pattern                                                    */

char h_pattern_byte(uint64_t i)
{
    return PATTERN_ALPHABET[i % PATTERN_PERIOD];
}

void h_pattern_fill(char *buf, uint64_t offset, size_t n)
{
    size_t k = (size_t)(offset % PATTERN_PERIOD);
    size_t i;

    for (i = 0; i < n; i++) {
        buf[i] = PATTERN_ALPHABET[k];
        if (++k == PATTERN_PERIOD)
            k = 0;
    }
}

size_t h_pattern_mismatch(const char *buf, uint64_t offset, size_t n)
{
    size_t k = (size_t)(offset % PATTERN_PERIOD);
    size_t i;

    for (i = 0; i < n; i++) {
        if (buf[i] != PATTERN_ALPHABET[k])
            return i;
        if (++k == PATTERN_PERIOD)
            k = 0;
    }
    return n;
}

uint32_t h_sum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i < len; i++)
        sum += p[i];
    return sum;
}

uint32_t h_pattern_sum(uint64_t offset, uint64_t n)
{
    uint32_t period_sum = h_sum(PATTERN_ALPHABET, PATTERN_PERIOD);
    uint32_t sum = 0;

    /* walk to a period boundary, add whole periods, then the rest */
    while (n > 0 && offset % PATTERN_PERIOD != 0) {
        sum += (unsigned char)h_pattern_byte(offset++);
        n--;
    }
    sum += (uint32_t)((n / PATTERN_PERIOD) * period_sum);
    offset += n - n % PATTERN_PERIOD;
    for (n %= PATTERN_PERIOD; n > 0; n--)
        sum += (unsigned char)h_pattern_byte(offset++);
    return sum;
}

void h_pattern_check_cb(const char *data, size_t len, void *arg)
{
    struct h_pattern_check *pc = arg;
    size_t i = 0;

    while (i < len) {
        size_t ok = h_pattern_mismatch(data + i, pc->checked + i, len - i);

        i += ok;
        if (i < len) {
            if (pc->bad++ == 0)
                pc->first_bad = pc->checked + i;
            i++;
        }
    }
    pc->checked += len;
}

/* ------------------------------------------------------------------ */
/* fixture_origin's control API                                        */

/* One control request; returns the 200 response or NULL. */
static struct h_response *control(int port, const char *method, const char *what,
                                  const char *path, const char *body)
{
    char *enc = path ? h_pct_encode(path) : NULL;
    char *req = h_fmt("%s /__%s%s%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n\r\n%s", method, what,
                      enc ? "?path=" : "", enc ? enc : "", port,
                      body ? strlen(body) : 0, body ? body : "");
    struct h_response *r = h_request(port, req, H_TIMEOUT_MS);

    free(enc);
    free(req);
    if (r && (r->status != 200 || !r->complete)) {
        set_error(0, "origin /__%s answered %d", what, r->status);
        h_response_free(r);
        r = NULL;
    }
    return r;
}

long h_origin_count(int port, const char *path)
{
    struct h_response *r = control(port, "GET", "count", path, NULL);
    long n;

    if (!r)
        return -1;
    n = strtol(r->body, NULL, 10);
    h_response_free(r);
    return n;
}

int h_origin_stats(int port, long *conns_out, long *reqs_out)
{
    struct h_response *r = control(port, "GET", "stats", NULL, NULL);
    long conns, reqs;
    int ok;

    if (!r)
        return -1;
    ok = sscanf(r->body, "connections %ld requests %ld", &conns, &reqs) == 2;
    h_response_free(r);
    if (!ok)
        return -1;
    if (conns_out)
        *conns_out = conns;
    if (reqs_out)
        *reqs_out = reqs;
    return 0;
}

/* Takes the body out of <r> and frees the rest. */
static char *steal_body(struct h_response *r, size_t *len_out)
{
    char *body;

    if (!r)
        return NULL;
    body = r->body;
    if (len_out)
        *len_out = (size_t)r->body_len;
    r->body = NULL;
    h_response_free(r);
    return body;
}

char *h_origin_log(int port, const char *path)
{
    return steal_body(control(port, "GET", "log", path, NULL), NULL);
}

char *h_origin_body(int port, const char *path, size_t *len_out)
{
    return steal_body(control(port, "GET", "body", path, NULL), len_out);
}

int h_origin_script(int port, const char *path, const char *params)
{
    struct h_response *r = control(port, "POST", "script", path, params ? params : "");
    int rc = r ? 0 : -1;

    h_response_free(r);
    return rc;
}

int h_origin_reset(int port)
{
    struct h_response *r = control(port, "POST", "reset", NULL, NULL);
    int rc = r ? 0 : -1;

    h_response_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Raw message heads                                                   */

/* Steps from <p> to the next field line of a head: sets <line> and its
 * length, returns <line>, or NULL after the last field. */
static const char *next_field(const char *p, const char **line, size_t *len)
{
    const char *eol;

    p = strstr(p, "\r\n");              /* end of the start line or field */
    if (!p || p[2] == '\r' || p[2] == '\0')
        return NULL;
    *line = p + 2;
    eol = strstr(*line, "\r\n");
    *len = eol ? (size_t)(eol - *line) : strlen(*line);
    return *line;
}

static int field_named(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

char *h_head_field(const char *head, const char *name)
{
    const char *p = head, *line;
    size_t len;

    while ((p = next_field(p, &line, &len)) != NULL) {
        if (field_named(line, len, name)) {
            const char *v = line + strlen(name) + 1, *e = line + len;

            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            return strndup(v, (size_t)(e - v));
        }
    }
    return NULL;
}

size_t h_head_field_count(const char *head, const char *name)
{
    const char *p = head, *line;
    size_t len, n = 0;

    while ((p = next_field(p, &line, &len)) != NULL)
        if (field_named(line, len, name))
            n++;
    return n;
}

char *h_log_entry(const char *log, size_t i)
{
    static const char sep[] = "----\n";
    const char *p = log, *end;

    for (;;) {
        end = strstr(p, sep);
        if (!end)
            return NULL;
        if (i-- == 0)
            return strndup(p, (size_t)(end - p));
        p = end + sizeof sep - 1;
    }
}

size_t h_log_count(const char *log)
{
    size_t n = 0;
    const char *p;

    for (p = strstr(log, "----\n"); p; p = strstr(p + 5, "----\n"))
        n++;
    return n;
}
