/*
 * echo_server.c - a minimal single-threaded epoll echo server, the C
 * reference trustctl's echo server is measured against.
 *
 * It does what any echo server must and nothing more: nonblocking sockets,
 * level-triggered epoll, one shared read buffer, a pending-output buffer only
 * while a client is not reading (and no reading from that client meanwhile,
 * so memory per connection stays bounded), and in framed mode a cut-through
 * scan of 4-byte big-endian length headers: valid frames are echoed as their
 * bytes arrive; a header over --max-frame closes the connection before any
 * byte of that frame is echoed.
 *
 * Usage: echo_server [--host 127.0.0.1] [--port 0] [--raw|--framed]
 *                    [--max-frame 65536]
 * Prints `listening on HOST:PORT (mode M)` on stdout when ready.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define HEADER_SIZE 4

struct conn {
    uint8_t *pending;      /* unsent echo bytes, NULL while the client keeps up */
    uint32_t pending_len;
    uint32_t pending_off;
    uint32_t frame_left;   /* framed: payload bytes still to pass in this frame */
    uint8_t header[HEADER_SIZE]; /* framed: header bytes held back so far */
    uint8_t header_len;
    uint8_t open;
};

static struct conn *conns;  /* indexed by descriptor */
static int conns_cap;
static int framed;
static uint32_t max_frame = 65536;
static int epfd;
/* HEADER_SIZE bytes of room in front so held header bytes can be put back
 * before the new data and the output stays one contiguous span. */
static uint8_t read_buf[HEADER_SIZE + READ_CHUNK];

static void die(const char *what) {
    fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
    exit(71);
}

static void close_conn(int fd) {
    struct conn *c = &conns[fd];
    free(c->pending);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

static void watch(int fd, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(epfd, op, fd, &ev) < 0) die("epoll_ctl");
}

/* Sends what it can; keeps the rest and switches the connection to
 * write-only interest (stop reading) until the client drains it.
 * Returns -1 if the connection was closed. */
static int send_or_keep(int fd, const uint8_t *data, size_t len) {
    struct conn *c = &conns[fd];
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) { sent += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close_conn(fd);
        return -1;
    }
    if (sent == len) return 0;
    c->pending_len = (uint32_t)(len - sent);
    c->pending_off = 0;
    c->pending = malloc(c->pending_len);
    if (!c->pending) die("malloc");
    memcpy(c->pending, data + sent, c->pending_len);
    watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    return 0;
}

static void on_writable(int fd) {
    struct conn *c = &conns[fd];
    while (c->pending_off < c->pending_len) {
        ssize_t n = send(fd, c->pending + c->pending_off, c->pending_len - c->pending_off,
                         MSG_NOSIGNAL);
        if (n > 0) { c->pending_off += (uint32_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_conn(fd);
        return;
    }
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = 0;
    watch(fd, EPOLLIN, EPOLL_CTL_MOD);
}

/* Walks frame headers in data[0..len). Returns how many leading bytes are
 * whole-header-validated and may be echoed; trailing bytes of an incomplete
 * header are stored in the connection. On an oversize header it stops there
 * and sets *oversize: the frames before it are still echoed. */
static size_t scan_frames(struct conn *c, const uint8_t *data, size_t len, int *oversize) {
    size_t pos = 0;
    while (pos < len) {
        if (c->frame_left > 0) {
            size_t take = len - pos < c->frame_left ? len - pos : c->frame_left;
            c->frame_left -= (uint32_t)take;
            pos += take;
            continue;
        }
        if (len - pos < HEADER_SIZE) {
            c->header_len = (uint8_t)(len - pos);
            memcpy(c->header, data + pos, c->header_len);
            return pos;
        }
        uint32_t size = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                        (uint32_t)data[pos + 2] << 8 | data[pos + 3];
        if (size > max_frame) { *oversize = 1; return pos; }
        c->frame_left = size;
        pos += HEADER_SIZE;
    }
    c->header_len = 0;
    return pos;
}

static void on_readable(int fd) {
    struct conn *c = &conns[fd];
    ssize_t n = recv(fd, read_buf + HEADER_SIZE, READ_CHUNK, 0);
    if (n == 0) { close_conn(fd); return; }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        close_conn(fd);
        return;
    }
    if (!framed) { send_or_keep(fd, read_buf + HEADER_SIZE, (size_t)n); return; }
    uint8_t *start = read_buf + HEADER_SIZE - c->header_len;
    memcpy(start, c->header, c->header_len);
    size_t len = (size_t)n + c->header_len;
    c->header_len = 0;
    int oversize = 0;
    size_t ok = scan_frames(c, start, len, &oversize);
    if (ok > 0 && send_or_keep(fd, start, ok) < 0) return;
    /* Best effort: echoes still pending when a client sends an oversize
     * header are dropped with the connection; a reference server need not
     * linger for them. */
    if (oversize) close_conn(fd);
}

static void on_acceptable(int listener, int *spare) {
    for (int i = 0; i < 256; i++) { /* bounded: other clients get their turn */
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Shed the pending connection instead of spinning on it. */
                close(*spare);
                int shed = accept(listener, NULL, NULL);
                if (shed >= 0) close(shed);
                *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return; /* EAGAIN, or a connection that died in the queue */
        }
        if (fd >= conns_cap) { close(fd); continue; }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[fd].open = 1;
        watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
}

static void usage(void) {
    fprintf(stderr, "usage: echo_server [--host ADDR] [--port P] [--raw|--framed] "
                    "[--max-frame BYTES]\n");
    exit(64);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--raw")) framed = 0;
        else if (!strcmp(argv[i], "--framed")) framed = 1;
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535) usage();
        } else if (!strcmp(argv[i], "--max-frame") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 0x7fffffffL) usage();
            max_frame = (uint32_t)v;
        } else usage();
    }
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    conns_cap = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
    conns = calloc((size_t)conns_cap, sizeof *conns); /* pages touched only when used */
    if (!conns) die("calloc");

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_server: not an IPv4 address: %s\n", host);
        return 64;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(listener, SOMAXCONN) < 0) die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    watch(listener, EPOLLIN, EPOLL_CTL_ADD);
    printf("listening on %s:%d (mode %s)\n", host, ntohs(addr.sin_port), framed ? "framed" : "raw");
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) { /* serves until killed */
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) { on_acceptable(listener, &spare); continue; }
            if (!conns[fd].open) continue;
            if (conns[fd].pending) {
                if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(fd);
            } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                on_readable(fd);
            }
        }
    }
}
