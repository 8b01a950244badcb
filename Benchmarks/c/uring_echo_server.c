/*
 * uring_echo_server.c - a minimal single-threaded io_uring echo server: the
 * limit this machine allows, measured beside Benchmarks/c/echo_server.c
 * (epoll) with the same load driver.  Raw mode only.
 *
 * What it does, and nothing more:
 *   - one ring, SINGLE_ISSUER | DEFER_TASKRUN | SUBMIT_ALL (falls back to
 *     plain flags on an older kernel), its descriptor registered;
 *   - one multishot accept; one multishot recv per connection into a shared
 *     provided buffer ring;
 *   - each received buffer is sent back as it is (no copy) and returned to
 *     the ring when its last byte is sent; at most one send in flight per
 *     connection, the rest queued in order;
 *   - all SQEs of a loop turn go in with the one io_uring_submit_and_wait
 *     that also waits for the next completions.
 *
 * The shared ring must not be a shared fate: a client that never reads
 * would otherwise pin every buffer its recv picks up.  Only an idle
 * connection's echo is sent straight from its ring buffer; bytes that
 * arrive while a send is in flight, and the rest of a short send, are
 * copied to the connection's own queue and their buffer goes back at once.
 * At --pending-bound copied bytes the recv is cancelled until the queue is
 * down to half.  So a stalled client pins at most one ring buffer (its
 * first send's) and its own memory: --pending-bound plus what its multishot
 * recv had already drained from the socket when the cancel landed (at most
 * one receive queue; about 150 KiB in all per client measured here at the
 * 64 KiB bound, against about 64 KiB for the epoll server).  A recv
 * that finds the ring empty ends with ENOBUFS and is re-armed once buffers
 * have come back.
 *
 * Usage: uring_echo_server [--host 127.0.0.1] [--port 0] [--raw]
 *                          [--buffers 2048] [--buffer-size 4096]
 *                          [--pending-bound 65536]
 *                          [--no-defer-taskrun]
 * Prints `listening on HOST:PORT (mode raw, FLAGS)` on stdout when ready.
 * Built on liburing (Debian's liburing-dev): cc ... -luring.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_GROUP 0

enum kind { KIND_ACCEPT = 1, KIND_RECV = 2, KIND_SEND = 3, KIND_CANCEL = 4 };

/* Bytes waiting to be echoed: a ring buffer (bid >= 0) only at the head of
 * an idle connection's queue; every other chunk is a private copy. */
struct chunk {
    uint8_t *data;
    uint32_t len;
    int32_t bid; /* -1: malloc'd copy */
};

struct conn {
    struct chunk *queue; /* circular, grows by doubling (the kernel reads
                            chunk data, never this array) */
    uint32_t q_cap, q_head, q_len;
    uint32_t head_sent;    /* bytes of the head chunk already sent */
    uint32_t copied_bytes; /* private copies queued: the bounded memory */
    uint8_t open, recv_armed, send_in_flight, closing, paused, starved, cancelling;
};

static struct io_uring ring;
static struct io_uring_buf_ring *buf_ring;
static uint8_t *buffers;
static unsigned buffer_count = 2048, buffer_size = 4096, pending_bound = 65536;
static int buf_mask;
static int returned_this_turn; /* buffers added to the ring, not yet published */
static struct conn *conns;
static int conns_cap;
static int *starved; /* connections whose recv ended with ENOBUFS */
static int starved_len;
static int listener, spare_fd;

static void die(const char *what, int err) {
    fprintf(stderr, "uring_echo_server: %s: %s\n", what, strerror(err));
    exit(71);
}

static uint64_t tag(enum kind kind, int fd) { return (uint64_t)kind << 32 | (uint32_t)fd; }

static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (sqe == NULL) die("io_uring_get_sqe", EBUSY);
    }
    return sqe;
}

static void arm_accept(void) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, listener, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(KIND_ACCEPT, listener));
}

static void arm_recv(int fd) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUFFER_GROUP;
    io_uring_sqe_set_data64(sqe, tag(KIND_RECV, fd));
    conns[fd].recv_armed = 1;
    conns[fd].cancelling = 0;
}

static void cancel_recv(int fd) {
    if (conns[fd].cancelling) return;
    conns[fd].cancelling = 1;
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_cancel64(sqe, tag(KIND_RECV, fd), 0);
    io_uring_sqe_set_data64(sqe, tag(KIND_CANCEL, fd));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

static uint8_t *buffer_of(uint16_t bid) { return buffers + (size_t)bid * buffer_size; }

/* Back to the ring; published (one store) at the end of the turn. */
static void return_buffer(uint16_t bid) {
    io_uring_buf_ring_add(buf_ring, buffer_of(bid), buffer_size, bid, buf_mask, returned_this_turn++);
}

static void push_chunk(struct conn *c, struct chunk chunk) {
    if (c->q_len == c->q_cap) {
        uint32_t cap = c->q_cap ? c->q_cap * 2 : 4;
        struct chunk *grown = malloc(cap * sizeof(*grown));
        if (grown == NULL) die("malloc", ENOMEM);
        for (uint32_t i = 0; i < c->q_len; i++) grown[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = grown;
        c->q_cap = cap;
        c->q_head = 0;
    }
    c->queue[(c->q_head + c->q_len) % c->q_cap] = chunk;
    c->q_len++;
}

/* A private copy of bytes, so their ring buffer can go back at once. */
static struct chunk copy_chunk(struct conn *c, const uint8_t *data, uint32_t len) {
    uint8_t *copy = malloc(len);
    if (copy == NULL) die("malloc", ENOMEM);
    memcpy(copy, data, len);
    c->copied_bytes += len;
    return (struct chunk){copy, len, -1};
}

static void release_chunk(struct conn *c, struct chunk *chunk) {
    if (chunk->bid >= 0) {
        return_buffer((uint16_t)chunk->bid);
    } else {
        c->copied_bytes -= chunk->len;
        free(chunk->data);
    }
}

static void start_send(int fd) {
    struct conn *c = &conns[fd];
    struct chunk *head = &c->queue[c->q_head];
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, fd, head->data + c->head_sent, head->len - c->head_sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(KIND_SEND, fd));
    c->send_in_flight = 1;
}

/* Closes once nothing of this connection is in flight. */
static void maybe_close(int fd) {
    struct conn *c = &conns[fd];
    if (c->recv_armed) {
        cancel_recv(fd);
        return;
    }
    if (c->send_in_flight) return;
    for (; c->q_len > 0; c->q_len--, c->q_head = (c->q_head + 1) % c->q_cap)
        release_chunk(c, &c->queue[c->q_head]);
    free(c->queue);
    memset(c, 0, sizeof(*c));
    close(fd);
}

static void on_accept(struct io_uring_cqe *cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
    int fd = cqe->res;
    if (fd == -EMFILE || fd == -ENFILE) {
        /* Shed the pending connection instead of spinning on it. */
        close(spare_fd);
        int shed = accept(listener, NULL, NULL);
        if (shed >= 0) close(shed);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
    }
    if (fd < 0) return;
    if (fd >= conns_cap) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd].open = 1;
    arm_recv(fd);
}

static void on_recv(int fd, struct io_uring_cqe *cqe) {
    struct conn *c = &conns[fd];
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) c->recv_armed = 0;
    if (cqe->res > 0) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (c->closing) {
            return_buffer(bid);
        } else if (c->q_len == 0 && !c->send_in_flight) {
            /* The fast path: echo straight from the ring buffer. */
            push_chunk(c, (struct chunk){buffer_of(bid), (uint32_t)cqe->res, bid});
            start_send(fd);
        } else {
            /* The client is behind: keep a copy, give the buffer back now,
             * and stop receiving at the bound (bytes already on their way
             * when the cancel lands are copied too). */
            push_chunk(c, copy_chunk(c, buffer_of(bid), (uint32_t)cqe->res));
            return_buffer(bid);
            if (c->copied_bytes >= pending_bound && c->recv_armed && !c->paused) {
                c->paused = 1;
                cancel_recv(fd);
            }
        }
    }
    if (more) return;
    if (c->closing) {
        maybe_close(fd);
    } else if (cqe->res == -ENOBUFS) {
        if (!c->starved) {
            c->starved = 1;
            starved[starved_len++] = fd;
        }
    } else if (cqe->res == -ECANCELED || cqe->res > 0) {
        if (!c->paused) arm_recv(fd); /* the kernel ended it (e.g. CQ overflow) */
    } else { /* end of stream or an error */
        c->closing = 1;
        maybe_close(fd);
    }
}

static void on_send(int fd, struct io_uring_cqe *cqe) {
    struct conn *c = &conns[fd];
    c->send_in_flight = 0;
    if (cqe->res < 0 || c->closing) {
        c->closing = 1;
        maybe_close(fd);
        return;
    }
    struct chunk *head = &c->queue[c->q_head];
    c->head_sent += (uint32_t)cqe->res;
    if (c->head_sent < head->len && head->bid >= 0) {
        /* A short send from a ring buffer: the client is not keeping up,
         * so the rest moves to a copy and the buffer goes back. */
        struct chunk rest = copy_chunk(c, head->data + c->head_sent, head->len - c->head_sent);
        return_buffer((uint16_t)head->bid);
        *head = rest;
        c->head_sent = 0;
    } else if (c->head_sent == head->len) {
        release_chunk(c, head);
        c->head_sent = 0;
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
    }
    if (c->q_len > 0) start_send(fd);
    if (c->paused && c->copied_bytes <= pending_bound / 2 && !c->recv_armed) {
        c->paused = 0;
        arm_recv(fd);
    }
}

static void on_cancel(int fd, struct io_uring_cqe *cqe) {
    (void)fd;
    (void)cqe; /* -ENOENT / -EALREADY: the recv had ended or was ending anyway */
}

static void setup_buffers(void) {
    size_t ring_bytes = (size_t)buffer_count * sizeof(struct io_uring_buf);
    buf_ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf_ring == MAP_FAILED) die("mmap", errno);
    buffers = mmap(NULL, (size_t)buffer_count * buffer_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffers == MAP_FAILED) die("mmap", errno);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)buf_ring, .ring_entries = buffer_count, .bgid = BUFFER_GROUP};
    int rc = io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc < 0) die("io_uring_register_buf_ring", -rc);
    io_uring_buf_ring_init(buf_ring);
    buf_mask = io_uring_buf_ring_mask(buffer_count);
    for (unsigned i = 0; i < buffer_count; i++)
        io_uring_buf_ring_add(buf_ring, buffers + (size_t)i * buffer_size, buffer_size, (unsigned short)i,
                              buf_mask, (int)i);
    io_uring_buf_ring_advance(buf_ring, (int)buffer_count);
}

static unsigned setup_ring(int defer_taskrun) {
    unsigned wanted[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    for (unsigned i = defer_taskrun ? 0 : 1; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        struct io_uring_params params = {.flags = wanted[i] | IORING_SETUP_CQSIZE, .cq_entries = 16384};
        int rc = io_uring_queue_init_params(4096, &ring, &params);
        if (rc == 0) {
            io_uring_register_ring_fd(&ring);
            return wanted[i];
        }
        if (rc != -EINVAL) die("io_uring_queue_init_params", -rc);
    }
    die("io_uring_queue_init_params", EINVAL);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: uring_echo_server [--host ADDR] [--port P] [--raw] [--buffers N] "
                    "[--buffer-size BYTES] [--pending-bound BYTES] [--no-defer-taskrun]\n");
    exit(64);
}

static long number_arg(const char *text, long lo, long hi) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    long port = 0;
    int defer_taskrun = 1;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--raw")) continue;
        else if (!strcmp(argv[i], "--framed")) {
            fprintf(stderr, "uring_echo_server: only --raw is supported\n");
            return 64;
        } else if (!strcmp(argv[i], "--host") && has) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && has) port = number_arg(argv[++i], 0, 65535);
        else if (!strcmp(argv[i], "--buffers") && has) buffer_count = (unsigned)number_arg(argv[++i], 1, 32768);
        else if (!strcmp(argv[i], "--buffer-size") && has) buffer_size = (unsigned)number_arg(argv[++i], 64, 1 << 20);
        else if (!strcmp(argv[i], "--pending-bound") && has)
            pending_bound = (unsigned)number_arg(argv[++i], 1, 1 << 30);
        else if (!strcmp(argv[i], "--no-defer-taskrun")) defer_taskrun = 0;
        else usage();
    }
    if (buffer_count & (buffer_count - 1)) {
        fprintf(stderr, "uring_echo_server: --buffers must be a power of two\n");
        return 64;
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
    starved = calloc((size_t)conns_cap, sizeof *starved);
    if (!conns || !starved) die("calloc", ENOMEM);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "uring_echo_server: not an IPv4 address: %s\n", host);
        return 64;
    }
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket", errno);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind", errno);
    if (listen(listener, SOMAXCONN) < 0) die("listen", errno);
    socklen_t alen = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &alen) < 0) die("getsockname", errno);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    unsigned flags = setup_ring(defer_taskrun);
    setup_buffers();
    arm_accept();
    printf("listening on %s:%d (mode raw, %s)\n", host, ntohs(addr.sin_port),
           flags & IORING_SETUP_DEFER_TASKRUN ? "defer-taskrun"
           : flags & IORING_SETUP_COOP_TASKRUN ? "coop-taskrun" : "plain");
    fflush(stdout);

    for (;;) { /* serves until killed */
        int rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) die("io_uring_submit_and_wait", -rc);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t ud = cqe->user_data;
            int fd = (int)(uint32_t)ud;
            switch ((enum kind)(ud >> 32)) {
            case KIND_ACCEPT: on_accept(cqe); break;
            case KIND_RECV: on_recv(fd, cqe); break;
            case KIND_SEND: on_send(fd, cqe); break;
            case KIND_CANCEL: on_cancel(fd, cqe); break;
            }
        }
        io_uring_cq_advance(&ring, seen);
        if (returned_this_turn > 0) {
            io_uring_buf_ring_advance(buf_ring, returned_this_turn);
            returned_this_turn = 0;
            for (int i = 0; i < starved_len; i++) {
                int fd = starved[i];
                conns[fd].starved = 0;
                if (conns[fd].open && !conns[fd].closing && !conns[fd].paused && !conns[fd].recv_armed)
                    arm_recv(fd);
            }
            starved_len = 0;
        }
    }
}
