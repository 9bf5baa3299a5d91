/* SPDX-License-Identifier: MIT */
/* ceiling.c - the load generator's ceiling for bench/run.sh: the cheapest
 * possible "cache hit", so that the benchmark can say how much of what
 * wrk can measure a proxy reaches.
 *
 *   ceiling PORT FILE
 *       Listens on 127.0.0.1:PORT and answers every request with 200 and
 *       FILE's bytes, which it reads once at start. No parsing beyond
 *       finding the blank line that ends each request head (wrk sends GETs
 *       without bodies), no cache lookup, one writev per response from one
 *       prebuilt buffer. Runs until SIGTERM or SIGINT.
 *
 * When a proxy's req/s in a hit scenario is close to this server's, wrk
 * (one thread on the other core) is the bottleneck and req/s cannot show
 * how much faster one proxy is than another; their CPU per request can.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FDS 65536

/* Per connection: requests seen but not yet answered, how far into the
 * current response the kernel took us, and how much of "\r\n\r\n" the
 * last read ended with. */
struct peer {
    unsigned long pending;
    size_t sent;
    int matched;
    int writing;
};

static struct peer peers[MAX_FDS];
static char *resp;
static size_t resp_len;

static int load_response(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    int head;
    char hdr[160];

    if (fd == -1 || fstat(fd, &st) == -1)
        return -1;
    head = snprintf(hdr, sizeof hdr,
                    "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
                    "Cache-Control: public, max-age=86400\r\n\r\n",
                    (long long)st.st_size);
    resp_len = (size_t)head + (size_t)st.st_size;
    resp = malloc(resp_len);
    if (!resp)
        return -1;
    memcpy(resp, hdr, (size_t)head);
    for (size_t got = 0; got < (size_t)st.st_size;) {
        ssize_t n = read(fd, resp + head + got, (size_t)st.st_size - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

/* Counts the request heads that end in buf, carrying a partial "\r\n\r\n"
 * over from the previous read. */
static unsigned long count_ends(struct peer *p, const char *buf, size_t n)
{
    static const char end[] = "\r\n\r\n";
    unsigned long ends = 0;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] == end[p->matched])
            p->matched++;
        else
            p->matched = buf[i] == '\r' ? 1 : 0;
        if (p->matched == 4) {
            ends++;
            p->matched = 0;
        }
    }
    return ends;
}

/* Writes pending responses until done or the socket is full; returns -1
 * when the connection is gone. */
static int flush(int ep, int fd, struct peer *p)
{
    while (p->pending > 0) {
        ssize_t n = write(fd, resp + p->sent, resp_len - p->sent);
        if (n == -1) {
            if (errno != EAGAIN)
                return -1;
            if (!p->writing) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                p->writing = 1;
            }
            return 0;
        }
        p->sent += (size_t)n;
        if (p->sent == resp_len) {
            p->sent = 0;
            p->pending--;
        }
    }
    if (p->writing) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        p->writing = 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event evs[256];
    int one = 1, lfd, ep;
    char buf[65536];

    if (argc != 3 || load_response(argv[2]) == -1) {
        fprintf(stderr, "usage: ceiling PORT FILE\n");
        return 2;
    }
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(lfd, 4096) == -1) {
        perror("ceiling: listen");
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
                    if (c >= MAX_FDS) {
                        close(c);
                        continue;
                    }
                    memset(&peers[c], 0, sizeof peers[c]);
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            struct peer *p = &peers[fd];
            int gone = 0;
            if (evs[i].events & EPOLLIN) {
                ssize_t r = read(fd, buf, sizeof buf);
                if (r > 0)
                    p->pending += count_ends(p, buf, (size_t)r);
                else if (r == 0 || errno != EAGAIN)
                    gone = 1;
            }
            if (!gone && flush(ep, fd, p) == -1)
                gone = 1;
            if (gone || (evs[i].events & (EPOLLERR | EPOLLHUP)))
                close(fd);
        }
    }
}
