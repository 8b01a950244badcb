/*
 * c_echo_server.c - an RFC 862 TCP echo server in plain C on CNetShim.
 *
 *     cc c_echo_server.c $(pkg-config --cflags --libs cnetshim) -o c_echo_server
 *     ./c_echo_server [HOST] PORT      # PORT 0 picks one; HOST defaults to 127.0.0.1
 *
 * One thread, one epoll, many clients. Every byte read is sent back as it
 * is. Backpressure: a client whose echo is still pending (the socket took
 * only part of it) is not read from until it is sent, so each client holds
 * at most one read's worth (CHUNK bytes) of pending output. A client that
 * half-closes gets the rest of its echo, then end of stream. SIGINT/SIGTERM
 * stop the server (exit 0). Sends use cnet_send, i.e. MSG_NOSIGNAL: a
 * vanished client is an -EPIPE, never a SIGPIPE.
 */
#include <cnetshim.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define CHUNK 65536    /* bytes read at once = the bound on pending output */
#define MAX_FDS 4096   /* clients are found by descriptor number */
#define LISTENER_TOKEN UINT64_MAX
#define SIGNAL_TOKEN (UINT64_MAX - 1)

struct client {
    size_t start, len;   /* pending output: buf[start .. start + len) */
    int peer_done;       /* the client half-closed: echo the rest, then close */
    int want_write;      /* registered for writability (and not readability) */
    unsigned char buf[CHUNK];
};

static struct client *clients[MAX_FDS];

static int fail(const char *what, long rc) {
    fprintf(stderr, "c_echo_server: %s: %s\n", what, cnet_errno_name((int)rc));
    return 1;
}

static void drop(int epfd, int fd) {
    cnet_epoll_remove(epfd, fd);
    cnet_close(fd);
    free(clients[fd]);
    clients[fd] = NULL;
}

/* Send what is pending until done or the socket is full; then watch for
 * writability (no reading) while something is left, else for reading. */
static void flush(int epfd, int fd) {
    struct client *c = clients[fd];
    while (c->len > 0) {
        ssize_t n = cnet_send(fd, c->buf + c->start, c->len);
        if (n == -EAGAIN) break;
        if (n < 0) { drop(epfd, fd); return; }   /* -EPIPE, -ECONNRESET ... */
        c->start += (size_t)n;
        c->len -= (size_t)n;
    }
    if (c->len == 0 && c->peer_done) { drop(epfd, fd); return; }
    int want_write = c->len > 0;
    if (want_write != c->want_write) {
        cnet_epoll_modify(epfd, fd, want_write ? CNET_EV_WRITE : CNET_EV_READ, (uint64_t)fd);
        c->want_write = want_write;
    }
}

static void on_readable(int epfd, int fd) {
    struct client *c = clients[fd];
    if (c->len > 0) return;   /* backpressure: the last echo is not out yet */
    ssize_t n = cnet_recv(fd, c->buf, CHUNK);
    if (n == -EAGAIN) return;
    if (n < 0) { drop(epfd, fd); return; }
    if (n == 0) c->peer_done = 1;   /* half-close: nothing is pending, so close */
    c->start = 0;
    c->len = (size_t)n;
    flush(epfd, fd);
}

static void accept_all(int epfd, int listener) {
    for (;;) {
        int fd = cnet_accept(listener, NULL, NULL);   /* non-blocking, close-on-exec */
        if (fd == -EAGAIN) return;
        if (fd < 0) { fail("accept", fd); return; }
        if (fd >= MAX_FDS || (clients[fd] = calloc(1, sizeof(struct client))) == NULL) {
            cnet_close(fd);
            continue;
        }
        int rc = cnet_epoll_add(epfd, fd, CNET_EV_READ, (uint64_t)fd);
        if (rc < 0) { fail("epoll_add", rc); drop(epfd, fd); }
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: c_echo_server [HOST] PORT\n");
        return 64;
    }
    const char *host = argc == 3 ? argv[1] : "127.0.0.1";
    char *end = NULL;
    long port_arg = strtol(argv[argc - 1], &end, 10);
    if (*argv[argc - 1] == '\0' || *end != '\0' || port_arg < 0 || port_arg > 65535) {
        fprintf(stderr, "c_echo_server: PORT must be 0..65535, got '%s'\n", argv[argc - 1]);
        return 64;
    }

    static const int stop_signals[] = {SIGINT, SIGTERM};
    int sigfd = cnet_signalfd_open(stop_signals, 2);
    if (sigfd < 0) return fail("signalfd", sigfd);
    uint16_t port = 0;
    int listener = cnet_tcp_listen_host(host, (uint16_t)port_arg, 128, CNET_NONBLOCK, &port);
    if (listener < 0) {
        if (cnet_is_gai_error(listener)) {
            fprintf(stderr, "c_echo_server: %s: %s\n", host, cnet_gai_strerror(listener));
            return 68;
        }
        return fail("listen", listener);
    }
    int epfd = cnet_epoll_create();
    if (epfd < 0) return fail("epoll_create", epfd);
    int rc = cnet_epoll_add(epfd, listener, CNET_EV_READ, LISTENER_TOKEN);
    if (rc == 0) rc = cnet_epoll_add(epfd, sigfd, CNET_EV_READ, SIGNAL_TOKEN);
    if (rc < 0) return fail("epoll_add", rc);
    printf("c_echo_server: listening on %s port %u\n", host, (unsigned)port);
    fflush(stdout);

    struct epoll_event events[64];
    for (int running = 1; running;) {
        int n = cnet_epoll_wait(epfd, events, 64, -1);   /* EINTR is 0 events */
        if (n < 0) return fail("epoll_wait", n);
        for (int i = 0; i < n; i++) {
            uint64_t token = cnet_epoll_event_token(events, i);
            uint32_t flags = cnet_epoll_event_flags(events, i);
            int fd = (int)token;
            if (token == LISTENER_TOKEN) accept_all(epfd, listener);
            else if (token == SIGNAL_TOKEN) running = cnet_signalfd_read(sigfd) < 0;
            else if (clients[fd] == NULL) continue;   /* dropped earlier in this batch */
            else if (clients[fd]->want_write) flush(epfd, fd);
            else if (flags & (CNET_EV_READ | CNET_EV_HANGUP | CNET_EV_ERROR)) on_readable(epfd, fd);
        }
    }
    for (int fd = 0; fd < MAX_FDS; fd++)
        if (clients[fd] != NULL) drop(epfd, fd);
    printf("c_echo_server: stopped\n");
    return 0;
}
