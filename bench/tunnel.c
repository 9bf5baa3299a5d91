/* SPDX-License-Identifier: MIT */
/* tunnel.c - CONNECT tunnel throughput for bench/run.sh: a byte source
 * that stands in for an HTTPS origin, and a client that reads from it
 * through a proxy's CONNECT tunnels.
 *
 *   tunnel source PORT
 *       Listens on 127.0.0.1:PORT; to every connection it writes the same
 *       64 KiB buffer over and over until the peer goes away. Runs until
 *       SIGTERM or SIGINT.
 *   tunnel client PROXY_PORT TARGET_PORT SECONDS CONNECTIONS
 *       Opens CONNECTIONS connections to 127.0.0.1:PROXY_PORT, sends
 *       "CONNECT 127.0.0.1:TARGET_PORT HTTP/1.1" on each, checks for a 2xx
 *       answer, then reads (and discards) from all of them for SECONDS and
 *       prints
 *         RESULT bytes=B duration_us=D tunnels=C
 *       Exits 1, with a message, if a tunnel cannot be opened.
 *
 * The direction is the common one for HTTPS: origin to client. The proxy
 * reads every byte from one socket and writes it to another; the client
 * and the source only read or write, so they cost little of their core.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define MAX_TUNNELS 256

static unsigned char buf[CHUNK];

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int loopback_socket(int port, int listening)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd == -1)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listening) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(fd, 128) == -1) {
            close(fd);
            return -1;
        }
    } else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int run_source(int port)
{
    int lfd = loopback_socket(port, 1);

    if (lfd == -1) {
        fprintf(stderr, "tunnel source: cannot listen on %d: %s\n", port, strerror(errno));
        return 1;
    }
    signal(SIGCHLD, SIG_IGN);       /* children reap themselves */
    signal(SIGPIPE, SIG_IGN);
    printf("PORT %d\n", port);
    fflush(stdout);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);

        if (fd == -1) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (fork() == 0) {
            close(lfd);
            while (write(fd, buf, sizeof buf) > 0)
                ;
            _exit(0);
        }
        close(fd);
    }
}

/* Sends CONNECT on <fd> and reads the answer head. Returns 0 on a 2xx. */
static int open_tunnel(int fd, int target_port)
{
    char req[128], head[4096];
    size_t got = 0;
    int n = snprintf(req, sizeof req,
                     "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                     target_port, target_port);

    if (write(fd, req, (size_t)n) != n)
        return -1;
    /* Read byte by byte up to the blank line, so no tunnel data is eaten. */
    while (got < sizeof head - 1) {
        ssize_t r = read(fd, head + got, 1);

        if (r <= 0)
            return -1;
        got++;
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[got] = '\0';
    if (strncmp(head, "HTTP/1.", 7) != 0 || head[9] != '2') {
        fprintf(stderr, "tunnel client: CONNECT answered: %.*s\n",
                (int)strcspn(head, "\r\n"), head);
        return -1;
    }
    return 0;
}

static int run_client(int proxy_port, int target_port, double seconds, int conns)
{
    struct pollfd pfd[MAX_TUNNELS];
    unsigned long long bytes = 0;
    double start, end;
    int i;

    if (conns < 1 || conns > MAX_TUNNELS)
        conns = 1;
    for (i = 0; i < conns; i++) {
        pfd[i].fd = loopback_socket(proxy_port, 0);
        pfd[i].events = POLLIN;
        if (pfd[i].fd == -1 || open_tunnel(pfd[i].fd, target_port) == -1) {
            fprintf(stderr, "tunnel client: cannot open tunnel %d through port %d\n",
                    i, proxy_port);
            return 1;
        }
    }
    start = now_s();
    end = start + seconds;
    while (now_s() < end) {
        int ready = poll(pfd, (nfds_t)conns, 100);

        if (ready < 0 && errno != EINTR)
            return 1;
        for (i = 0; ready > 0 && i < conns; i++) {
            ssize_t r;

            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(pfd[i].fd, buf, sizeof buf);
            if (r <= 0) {
                fprintf(stderr, "tunnel client: tunnel %d closed early\n", i);
                return 1;
            }
            bytes += (unsigned long long)r;
        }
    }
    printf("RESULT bytes=%llu duration_us=%.0f tunnels=%d\n", bytes,
           (now_s() - start) * 1e6, conns);
    for (i = 0; i < conns; i++)
        close(pfd[i].fd);
    return 0;
}

int main(int argc, char **argv)
{
    memset(buf, 'x', sizeof buf);
    if (argc == 3 && strcmp(argv[1], "source") == 0)
        return run_source(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "client") == 0)
        return run_client(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: tunnel source PORT\n"
                    "       tunnel client PROXY_PORT TARGET_PORT SECONDS CONNECTIONS\n");
    return 2;
}
