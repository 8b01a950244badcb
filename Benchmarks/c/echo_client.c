/*
 * echo_client.c - a minimal single-threaded epoll load driver for echo
 * servers, used by Benchmarks/run_bench.py.
 *
 * Load mode: N connections, each keeps D messages in flight; every echo is
 * compared byte for byte with what was sent, and each verified echo sends
 * the next message. After --warmup seconds a measurement window of
 * --duration seconds starts; only round trips completing inside it count.
 * Latency (send of a message to the last byte of its verified echo) goes
 * into a log-linear histogram. Prints one JSON line and exits 0 only if no
 * error of any kind happened.
 *
 * With --server-pid, the server's utime+stime is read from /proc at the
 * exact window edges, so the harness gets server CPU per round trip.
 * With --announce, `window_start` / `window_end` lines go to stderr.
 *
 * Idle mode (--idle): opens N connections (batches; optionally one verified
 * round trip each with --one-round-trip), prints `ready N`, then reads
 * commands from stdin: `roundtrip` does one verified round trip on every
 * connection and prints `roundtrip done N`; end of input closes everything.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
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
#include <time.h>
#include <unistd.h>

#define STAMP_BYTES 8
#define SUB_BITS 5 /* 32 sub-buckets per power of two: under 3.2% error */
#define SUB_COUNT (1 << SUB_BITS)
#define HIST_BUCKETS (SUB_COUNT * 40)

struct conn {
    int fd;
    int state;            /* 0 connecting, 1 open, 2 dead */
    uint64_t tx_seq;      /* next message number to send */
    uint64_t rx_seq;      /* message number whose echo is being read */
    uint32_t tx_off;      /* bytes of message tx_seq already sent */
    uint32_t rx_off;      /* bytes of message rx_seq already verified */
    uint32_t tx_queued;   /* messages due to send (tx_seq .. tx_seq+queued) */
    uint32_t want_out;    /* EPOLLOUT currently requested */
    uint64_t *sent_ns;    /* ring of send times, one per message in flight */
};

static struct {
    const char *host;
    int port, connections, payload, pipeline, framed, idle, one_rt, announce, batch;
    double duration, warmup;
    int server_pid;
} opt = {"127.0.0.1", 0, 1, 64, 1, 0, 0, 0, 0, 100, 5.0, 1.0, 0};

static struct conn *conns;
static int epfd;
static uint8_t *msg_template; /* header + payload; stamp bytes overwritten per message */
static uint32_t msg_len;
static uint64_t hist[HIST_BUCKETS];
static uint64_t lat_max, counted_rt;
static int counting;
static uint64_t err_mismatch, err_closed, err_connect, err_io;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hist_index(uint64_t v) {
    if (v < SUB_COUNT) return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - SUB_BITS;
    int idx = (shift + 1) * SUB_COUNT + (int)((v >> shift) & (SUB_COUNT - 1));
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Upper edge of a bucket, so a reported percentile never understates. */
static uint64_t hist_value(int idx) {
    if (idx < SUB_COUNT) return (uint64_t)idx;
    int shift = idx / SUB_COUNT - 1;
    uint64_t sub = (uint64_t)(idx % SUB_COUNT) | SUB_COUNT;
    return ((sub + 1) << shift) - 1;
}

static double percentile_us(double q) {
    if (counted_rt == 0) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)counted_rt);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return (double)(v < lat_max ? v : lat_max) / 1000.0;
        }
    }
    return (double)lat_max / 1000.0;
}

static void stamp(uint8_t *out, uint64_t seq) { /* little-endian message number */
    for (int i = 0; i < STAMP_BYTES; i++) out[i] = (uint8_t)(seq >> (8 * i));
}

/* Byte i of message seq on connection c: template except for the stamp. */
static uint32_t stamp_at(void) { return opt.framed ? 4u : 0u; }
static uint32_t stamp_len(void) { return (uint32_t)(opt.payload < STAMP_BYTES ? opt.payload : STAMP_BYTES); }

static void kill_conn(struct conn *c, uint64_t *counter) {
    if (c->state == 2) return;
    (*counter)++;
    close(c->fd);
    c->state = 2;
}

static void set_out(struct conn *c, int want) {
    if ((uint32_t)want == c->want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = (uint32_t)want;
}

/* Sends queued messages until done or the socket is full. */
static void flush_tx(struct conn *c) {
    uint8_t st[STAMP_BYTES];
    while (c->tx_queued > 0 && c->state == 1) {
        if (c->tx_off == 0) c->sent_ns[c->tx_seq % (uint64_t)opt.pipeline] = now_ns();
        stamp(st, c->tx_seq);
        uint32_t sa = stamp_at(), sl = stamp_len();
        /* Message = template with the stamp spliced in: send in up to 3 parts. */
        struct iovec iov[3];
        int n_iov = 0;
        uint32_t off = c->tx_off;
        if (off < sa) iov[n_iov++] = (struct iovec){msg_template + off, sa - off};
        if (off < sa + sl) {
            uint32_t from = off > sa ? off - sa : 0;
            iov[n_iov++] = (struct iovec){st + from, sl - from};
        }
        uint32_t rest = off > sa + sl ? off : sa + sl;
        if (rest < msg_len) iov[n_iov++] = (struct iovec){msg_template + rest, msg_len - rest};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) { set_out(c, 1); return; }
            kill_conn(c, &err_io);
            return;
        }
        c->tx_off += (uint32_t)n;
        if (c->tx_off == msg_len) { c->tx_off = 0; c->tx_seq++; c->tx_queued--; }
    }
    set_out(c, 0);
}

/* Verifies received bytes against the expected stream; every completed
 * message is timed and triggers the next send when `refill` is set.
 * Returns completed round trips. */
static uint64_t verify(struct conn *c, const uint8_t *data, size_t len, int refill, uint64_t now) {
    uint64_t done = 0;
    uint8_t st[STAMP_BYTES];
    uint32_t sa = stamp_at(), sl = stamp_len();
    size_t pos = 0;
    while (pos < len) {
        if (c->rx_seq >= c->tx_seq + (c->tx_off ? 1 : 0)) { kill_conn(c, &err_mismatch); return done; }
        uint32_t take = msg_len - c->rx_off;
        if (take > len - pos) take = (uint32_t)(len - pos);
        stamp(st, c->rx_seq);
        for (uint32_t i = 0; i < take;) { /* compare in runs: template, stamp, template */
            uint32_t at = c->rx_off + i;
            const uint8_t *want;
            uint32_t run;
            if (at >= sa && at < sa + sl) { want = st + (at - sa); run = sa + sl - at; }
            else { want = msg_template + at; run = at < sa ? sa - at : msg_len - at; }
            if (run > take - i) run = take - i;
            if (memcmp(data + pos + i, want, run) != 0) { kill_conn(c, &err_mismatch); return done; }
            i += run;
        }
        pos += take;
        c->rx_off += take;
        if (c->rx_off == msg_len) {
            uint64_t lat = now - c->sent_ns[c->rx_seq % (uint64_t)opt.pipeline];
            if (counting) {
                hist[hist_index(lat)]++;
                if (lat > lat_max) lat_max = lat;
                counted_rt++;
            }
            c->rx_off = 0;
            c->rx_seq++;
            done++;
            if (refill) c->tx_queued++;
        }
    }
    if (refill && c->tx_queued) flush_tx(c);
    return done;
}

static uint8_t rx_buf[1 << 17];

static uint64_t on_event(struct conn *c, uint32_t events, int refill) {
    uint64_t done = 0;
    if (c->state == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (events & (EPOLLERR | EPOLLHUP))) { kill_conn(c, &err_connect); return 0; }
        c->state = 1;
        set_out(c, 0);
        return 0;
    }
    if (c->state != 1) return 0;
    if (events & EPOLLIN) {
        ssize_t n = recv(c->fd, rx_buf, sizeof rx_buf, 0);
        if (n == 0) { kill_conn(c, &err_closed); return 0; }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) kill_conn(c, &err_io);
        } else {
            done += verify(c, rx_buf, (size_t)n, refill, now_ns());
        }
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        kill_conn(c, &err_closed);
        return done;
    }
    if (c->state == 1 && (events & EPOLLOUT)) flush_tx(c);
    return done;
}

/* Runs the loop until `target` round trips completed (or connections of
 * the range [from,to) are all open when target is 0), or the deadline. */
static int pump(int from, int to, uint64_t target, uint64_t deadline) {
    struct epoll_event evs[512];
    uint64_t done = 0;
    for (;;) {
        if (target == 0) {
            int pending = 0;
            for (int i = from; i < to; i++) pending += conns[i].state == 0;
            if (!pending) return 0;
        } else if (done >= target) return 0;
        int alive = 0;
        for (int i = from; i < to && !alive; i++) alive = conns[i].state != 2;
        if (!alive) return -1;
        uint64_t now = now_ns();
        if (now >= deadline) return -1;
        int wait_ms = (int)((deadline - now) / 1000000ull) + 1;
        int n = epoll_wait(epfd, evs, 512, wait_ms > 100 ? 100 : wait_ms);
        for (int i = 0; i < n; i++) done += on_event(evs[i].data.ptr, evs[i].events, 0);
    }
}

static int open_connections(void) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_client: not an IPv4 address: %s\n", opt.host);
        exit(64);
    }
    for (int from = 0; from < opt.connections; from += opt.batch) {
        int to = from + opt.batch < opt.connections ? from + opt.batch : opt.connections;
        for (int i = from; i < to; i++) {
            struct conn *c = &conns[i];
            c->sent_ns = calloc((size_t)opt.pipeline, sizeof(uint64_t));
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0 || !c->sent_ns) {
                fprintf(stderr, "echo_client: socket %d: %s\n", i, strerror(errno));
                return -1;
            }
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            int r = connect(c->fd, (struct sockaddr *)&addr, sizeof addr);
            if (r < 0 && errno != EINPROGRESS) {
                fprintf(stderr, "echo_client: connect %d: %s\n", i, strerror(errno));
                return -1;
            }
            c->state = r == 0 ? 1 : 0;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
            c->want_out = 1;
        }
        if (pump(from, to, 0, now_ns() + 10000000000ull) < 0) {
            fprintf(stderr, "echo_client: connections %d..%d did not open in 10 s\n", from, to);
            return -1;
        }
        for (int i = from; i < to; i++) if (conns[i].state != 1) return -1;
        /* One verified round trip per connection proves the server accepted
         * the batch before the next one, so its accept backlog never overflows. */
        if (!opt.idle || opt.one_rt) {
            for (int i = from; i < to; i++) { conns[i].tx_queued = 1; flush_tx(&conns[i]); }
            if (pump(from, to, (uint64_t)(to - from), now_ns() + 10000000000ull) < 0) {
                fprintf(stderr, "echo_client: first round trips %d..%d failed\n", from, to);
                return -1;
            }
        }
    }
    return 0;
}

static uint64_t server_ticks(void) {
    if (!opt.server_pid) return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (uint64_t)ut + st;
}

static double own_cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static int run_load(void) {
    for (int i = 0; i < opt.connections; i++) {
        conns[i].tx_queued = (uint32_t)opt.pipeline;
        flush_tx(&conns[i]);
    }
    uint64_t start = now_ns() + (uint64_t)(opt.warmup * 1e9);
    uint64_t end = start + (uint64_t)(opt.duration * 1e9);
    uint64_t ticks0 = 0, ticks1 = 0;
    double cpu0 = 0, cpu1 = 0;
    int phase = 0; /* 0 warmup, 1 measuring */
    struct epoll_event evs[512];
    for (;;) {
        uint64_t now = now_ns();
        if (phase == 0 && now >= start) {
            ticks0 = server_ticks();
            cpu0 = own_cpu_us();
            counting = 1;
            phase = 1;
            if (opt.announce) { fprintf(stderr, "window_start\n"); fflush(stderr); }
        }
        if (phase == 1 && now >= end) {
            ticks1 = server_ticks();
            cpu1 = own_cpu_us();
            counting = 0;
            if (opt.announce) { fprintf(stderr, "window_end\n"); fflush(stderr); }
            break;
        }
        uint64_t next = phase == 0 ? start : end;
        int wait_ms = (int)((next - now) / 1000000ull);
        if (wait_ms > 100) wait_ms = 100;
        int n = epoll_wait(epfd, evs, 512, wait_ms);
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events, 1);
        int alive = 0;
        for (int i = 0; i < opt.connections && !alive; i++) alive = conns[i].state == 1;
        if (!alive) break;
    }
    double secs = opt.duration;
    double rate = (double)counted_rt / secs;
    uint64_t errors = err_mismatch + err_closed + err_connect + err_io;
    printf("{\"connections\":%d,\"payload\":%d,\"pipeline\":%d,\"mode\":\"%s\",\"window_s\":%.3f,"
           "\"round_trips\":%" PRIu64 ",\"rt_per_s\":%.1f,\"mb_per_s\":%.3f,"
           "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
           "\"errors\":{\"mismatch\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"connect\":%" PRIu64
           ",\"io\":%" PRIu64 "},\"errors_total\":%" PRIu64 ","
           "\"server_cpu_ticks\":%" PRIu64 ",\"clk_tck\":%ld,\"client_cpu_us\":%.0f}\n",
           opt.connections, opt.payload, opt.pipeline, opt.framed ? "framed" : "raw", secs,
           counted_rt, rate, rate * opt.payload / 1e6, percentile_us(0.5), percentile_us(0.9),
           percentile_us(0.99), percentile_us(0.999), (double)lat_max / 1000.0, err_mismatch,
           err_closed, err_connect, err_io, errors, opt.server_pid ? ticks1 - ticks0 : 0,
           sysconf(_SC_CLK_TCK), cpu1 - cpu0);
    fflush(stdout);
    return errors ? 1 : 0;
}

static int run_idle(void) {
    printf("ready %d\n", opt.connections);
    fflush(stdout);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "roundtrip", 9) != 0) continue;
        for (int i = 0; i < opt.connections; i++) { conns[i].tx_queued = 1; flush_tx(&conns[i]); }
        if (pump(0, opt.connections, (uint64_t)opt.connections, now_ns() + 60000000000ull) < 0) {
            fprintf(stderr, "echo_client: idle round trips failed\n");
            return 1;
        }
        printf("roundtrip done %d\n", opt.connections);
        fflush(stdout);
    }
    return err_mismatch + err_closed + err_connect + err_io ? 1 : 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: echo_client --port P [--host H] [--connections N] [--payload B]\n"
            "       [--pipeline D] [--duration S] [--warmup S] [--raw|--framed]\n"
            "       [--batch K] [--server-pid PID] [--announce] [--idle [--one-round-trip]]\n");
    exit(64);
}

static double num_arg(const char *s, double lo, double hi) {
    char *end;
    double v = strtod(s, &end);
    if (*end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--raw")) opt.framed = 0;
        else if (!strcmp(a, "--framed")) opt.framed = 1;
        else if (!strcmp(a, "--idle")) opt.idle = 1;
        else if (!strcmp(a, "--one-round-trip")) opt.one_rt = 1;
        else if (!strcmp(a, "--announce")) opt.announce = 1;
        else if (!strcmp(a, "--host") && has) opt.host = argv[++i];
        else if (!strcmp(a, "--port") && has) opt.port = (int)num_arg(argv[++i], 1, 65535);
        else if (!strcmp(a, "--connections") && has) opt.connections = (int)num_arg(argv[++i], 1, 1000000);
        else if (!strcmp(a, "--payload") && has) opt.payload = (int)num_arg(argv[++i], 1, 16 << 20);
        else if (!strcmp(a, "--pipeline") && has) opt.pipeline = (int)num_arg(argv[++i], 1, 4096);
        else if (!strcmp(a, "--duration") && has) opt.duration = num_arg(argv[++i], 0.1, 3600);
        else if (!strcmp(a, "--warmup") && has) opt.warmup = num_arg(argv[++i], 0, 3600);
        else if (!strcmp(a, "--batch") && has) opt.batch = (int)num_arg(argv[++i], 1, 4096);
        else if (!strcmp(a, "--server-pid") && has) opt.server_pid = (int)num_arg(argv[++i], 1, 1 << 30);
        else usage();
    }
    if (!opt.port) usage();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if ((rlim_t)opt.connections + 16 > rl.rlim_cur) {
            fprintf(stderr, "echo_client: %d connections need more descriptors than the limit %lu\n",
                    opt.connections, (unsigned long)rl.rlim_cur);
            return 64;
        }
    }
    msg_len = (uint32_t)opt.payload + (opt.framed ? 4u : 0u);
    msg_template = malloc(msg_len);
    conns = calloc((size_t)opt.connections, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!msg_template || !conns || epfd < 0) { perror("echo_client"); return 71; }
    uint32_t p = 0;
    if (opt.framed) {
        msg_template[0] = (uint8_t)(opt.payload >> 24);
        msg_template[1] = (uint8_t)(opt.payload >> 16);
        msg_template[2] = (uint8_t)(opt.payload >> 8);
        msg_template[3] = (uint8_t)opt.payload;
        p = 4;
    }
    for (uint32_t i = p; i < msg_len; i++) msg_template[i] = (uint8_t)(i * 131u + 7u);
    if (open_connections() < 0) {
        printf("{\"connections\":%d,\"errors_total\":%" PRIu64 ",\"error\":\"connect phase failed\"}\n",
               opt.connections, err_mismatch + err_closed + err_connect + err_io + 1);
        return 1;
    }
    return opt.idle ? run_idle() : run_load();
}
