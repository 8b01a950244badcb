/*
 * cnet_uring.c - the io_uring part of include/cnetshim.h, on liburing 2.3
 * (Debian bookworm's liburing-dev).  Everything this layer needs is in
 * liburing 2.3 (multishot accept and recv, buffer rings, the EXT_ARG timed
 * wait, the setup flags up to DEFER_TASKRUN), so there are no raw syscalls
 * and no private copies of kernel definitions: one liburing call per helper.
 * Every function returns >= 0 or -errno; no global state.
 */
/* liburing.h and this file use GNU/Linux names (AT_FDCWD, MAP_ANONYMOUS,
 * O_CLOEXEC under -std=c11): defined here, before the first include, so it
 * builds the same with or without -D_GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "cnetshim.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

_Static_assert(CNET_URING_SETUP_SUBMIT_ALL == IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL");
_Static_assert(CNET_URING_SETUP_COOP_TASKRUN == IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN");
_Static_assert(CNET_URING_SETUP_SINGLE_ISSUER == IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER");
_Static_assert(CNET_URING_SETUP_DEFER_TASKRUN == IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN");
_Static_assert(CNET_URING_SETUP_PREFERRED ==
                   (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL),
               "PREFERRED");
_Static_assert(CNET_URING_CQE_F_BUFFER == IORING_CQE_F_BUFFER, "CQE_F_BUFFER");
_Static_assert(CNET_URING_CQE_F_MORE == IORING_CQE_F_MORE, "CQE_F_MORE");
_Static_assert(CNET_URING_CQE_F_SOCK_NONEMPTY == IORING_CQE_F_SOCK_NONEMPTY, "CQE_F_SOCK_NONEMPTY");
_Static_assert(CNET_URING_CQE_BUFFER_SHIFT == IORING_CQE_BUFFER_SHIFT, "CQE_BUFFER_SHIFT");
/* cnet_uring_peek hands out the kernel's CQ ring memory as cnet_uring_cqe. */
_Static_assert(sizeof(cnet_uring_cqe) == sizeof(struct io_uring_cqe), "cqe size");
_Static_assert(offsetof(cnet_uring_cqe, user_data) == offsetof(struct io_uring_cqe, user_data), "cqe user_data");
_Static_assert(offsetof(cnet_uring_cqe, res) == offsetof(struct io_uring_cqe, res), "cqe res");
_Static_assert(offsetof(cnet_uring_cqe, flags) == offsetof(struct io_uring_cqe, flags), "cqe flags");

#define MAX_SQ_ENTRIES 32768u

struct cnet_uring_bufring {
    struct cnet_uring *ring;
    struct cnet_uring_bufring *next; /* the ring's list, freed with it */
    struct io_uring_buf_ring *br;    /* shared with the kernel */
    size_t br_bytes;
    uint8_t *buffers;
    size_t buffers_bytes;
    unsigned entries;
    unsigned buffer_size;
    unsigned headroom; /* writable bytes before each buffer */
    size_t stride;     /* headroom + buffer_size, 16-byte aligned */
    int mask;
    uint16_t group;
};

struct cnet_uring {
    struct io_uring ring;
    struct cnet_uring_bufring *bufrings;
    unsigned setup_flags;
    unsigned attempts;
    int ring_fd_registered;
};

/* ---------------------------------------------------------------- setup */

/* The flags this layer knows how to fall back from; anything else the caller
 * asks for is dropped first when the kernel refuses. */
#define KNOWN_FLAGS (IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | \
                     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

/* The next rung of the fallback ladder below flags, or flags itself when
 * there is nothing left to drop. */
static unsigned fallback_flags(unsigned flags) {
    if (flags & ~KNOWN_FLAGS) return flags & KNOWN_FLAGS;
    if (flags & IORING_SETUP_DEFER_TASKRUN)
        return (flags & ~IORING_SETUP_DEFER_TASKRUN) | IORING_SETUP_COOP_TASKRUN;
    if (flags & IORING_SETUP_SINGLE_ISSUER) return flags & ~IORING_SETUP_SINGLE_ISSUER;
    if (flags & IORING_SETUP_COOP_TASKRUN) return flags & ~IORING_SETUP_COOP_TASKRUN;
    return flags & ~IORING_SETUP_SUBMIT_ALL;
}

/* io_uring_queue_init_params down the ladder; EINVAL is the kernel's "I do
 * not know this flag (combination)", anything else is final. */
static int setup_with_fallback(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                               unsigned flags, unsigned *taken, unsigned *attempts,
                               unsigned *features) {
    *attempts = 0;
    for (;;) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = flags;
        if (cq_entries > 0) {
            params.flags |= IORING_SETUP_CQSIZE;
            params.cq_entries = cq_entries;
        }
        (*attempts)++;
        int rc = io_uring_queue_init_params(sq_entries, ring, &params);
        if (rc == 0) {
            *taken = flags;
            *features = params.features;
            return 0;
        }
        unsigned next = fallback_flags(flags);
        if (rc != -EINVAL || next == flags) return rc;
        flags = next;
    }
}

int cnet_uring_create(unsigned sq_entries, unsigned cq_entries, unsigned flags, cnet_uring **out) {
    if (out == NULL) return -EINVAL;
    *out = NULL;
    if (sq_entries == 0 || sq_entries > MAX_SQ_ENTRIES) return -EINVAL;
    if (cq_entries != 0 && cq_entries < sq_entries) return -EINVAL;
    struct cnet_uring *r = calloc(1, sizeof(*r));
    if (r == NULL) return -ENOMEM;
    unsigned features = 0;
    int rc = setup_with_fallback(&r->ring, sq_entries, cq_entries, flags, &r->setup_flags,
                                 &r->attempts, &features);
    if (rc < 0) {
        free(r);
        return rc;
    }
    /* liburing opens the ring without O_CLOEXEC. */
    if (fcntl(r->ring.ring_fd, F_SETFD, FD_CLOEXEC) < 0) {
        rc = -errno;
        io_uring_queue_exit(&r->ring);
        free(r);
        return rc;
    }
    /* A registered ring index spares every io_uring_enter the fdget/fdput
     * reference count a multithreaded process pays; it is per thread, like
     * SINGLE_ISSUER, so it costs no flexibility.  Optional: older kernels
     * (before 5.18) just go without. */
    r->ring_fd_registered = io_uring_register_ring_fd(&r->ring) == 1;
    *out = r;
    return 0;
}

void cnet_uring_destroy(cnet_uring *r) {
    if (r == NULL) return;
    while (r->bufrings != NULL) cnet_uring_bufring_destroy(r->bufrings);
    io_uring_queue_exit(&r->ring);
    free(r);
}

int cnet_uring_fd(const cnet_uring *r) { return r->ring.ring_fd; }

void cnet_uring_get_info(const cnet_uring *r, cnet_uring_info *out) {
    memset(out, 0, sizeof(*out));
    out->setup_flags = r->setup_flags;
    out->features = r->ring.features;
    out->attempts = r->attempts;
    out->sq_entries = r->ring.sq.ring_entries;
    out->cq_entries = r->ring.cq.ring_entries;
    out->ring_fd_registered = r->ring_fd_registered;
}

/* ---------------------------------------------------------------- SQEs */

/* The next free SQE; when the queue is full, submit what it holds first. */
static struct io_uring_sqe *next_sqe(struct cnet_uring *r, int *err) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (sqe != NULL) return sqe;
    int rc = io_uring_submit(&r->ring);
    if (rc < 0 && rc != -EINTR) {
        *err = rc;
        return NULL;
    }
    sqe = io_uring_get_sqe(&r->ring);
    if (sqe == NULL) *err = -EBUSY;
    return sqe;
}

int cnet_uring_prep_accept_multishot(cnet_uring *r, int listen_fd, int flags, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    int accept_flags = SOCK_CLOEXEC | ((flags & CNET_NONBLOCK) ? SOCK_NONBLOCK : 0);
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, accept_flags);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_recv_multishot(cnet_uring *r, int fd, const cnet_uring_bufring *bufring,
                                   uint64_t user_data) {
    if (bufring == NULL) return -EINVAL;
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = bufring->group;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_recv_select(cnet_uring *r, int fd, const cnet_uring_bufring *bufring,
                                uint64_t user_data) {
    if (bufring == NULL) return -EINVAL;
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_recv(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = bufring->group;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_recv(cnet_uring *r, int fd, void *buf, size_t len, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_send(cnet_uring *r, int fd, const void *buf, size_t len, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_send_nowait(cnet_uring *r, int fd, const void *buf, size_t len,
                                uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    /* MSG_DONTWAIT makes io_uring complete with -EAGAIN instead of parking
     * the request on the socket's poll queue. */
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_read(cnet_uring *r, int fd, void *buf, unsigned len, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    /* Offset -1: the file's own position, which is what read(2) uses and
     * what a stream (eventfd, signalfd, pipe) needs. */
    io_uring_prep_read(sqe, fd, buf, len, (__u64)-1);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_poll(cnet_uring *r, int fd, uint32_t events, int multishot, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    if (multishot) io_uring_prep_poll_multishot(sqe, fd, events);
    else io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_cancel(cnet_uring *r, uint64_t target, int all, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_cancel64(sqe, target, all ? IORING_ASYNC_CANCEL_ALL : 0);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_cancel_fd(cnet_uring *r, int fd, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int cnet_uring_prep_nop(cnet_uring *r, uint64_t user_data) {
    int err = 0;
    struct io_uring_sqe *sqe = next_sqe(r, &err);
    if (sqe == NULL) return err;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

/* ---------------------------------------------------------------- submit, wait, reap */

int cnet_uring_submit(cnet_uring *r) {
    int rc = io_uring_submit(&r->ring);
    return rc == -EINTR ? 0 : rc;
}

int cnet_uring_submit_and_wait(cnet_uring *r, unsigned wait_nr, int64_t timeout_ns) {
    int rc;
    if (wait_nr == 0 || timeout_ns == 0) {
        /* Not blocking still needs GETEVENTS: under DEFER_TASKRUN that is
         * what runs the pending completions. */
        rc = io_uring_submit_and_get_events(&r->ring);
    } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(&r->ring, wait_nr);
    } else {
        /* With IORING_FEAT_EXT_ARG (5.11) the timeout rides in the enter
         * call itself: no timeout SQE, no extra CQE, still one syscall. */
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ns / 1000000000,
            .tv_nsec = timeout_ns % 1000000000,
        };
        struct io_uring_cqe *cqe = NULL;
        rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
    }
    /* -ETIME: the timeout passed; -EINTR: a signal; both mean "go round". */
    if (rc < 0 && rc != -ETIME && rc != -EINTR) return rc;
    return (int)io_uring_cq_ready(&r->ring);
}

unsigned cnet_uring_peek(cnet_uring *r, const cnet_uring_cqe **first) {
    /* The acquire load of the kernel's tail inside io_uring_cq_ready orders
     * the reads of the entries after it. */
    unsigned ready = io_uring_cq_ready(&r->ring);
    if (ready == 0) {
        *first = NULL;
        return 0;
    }
    unsigned head = *r->ring.cq.khead;
    unsigned mask = r->ring.cq.ring_mask;
    unsigned index = head & mask;
    unsigned until_wrap = r->ring.cq.ring_entries - index;
    *first = (const cnet_uring_cqe *)&r->ring.cq.cqes[index];
    return ready < until_wrap ? ready : until_wrap;
}

void cnet_uring_cq_advance(cnet_uring *r, unsigned count) { io_uring_cq_advance(&r->ring, count); }

unsigned cnet_uring_sq_pending(const cnet_uring *r) { return io_uring_sq_ready(&r->ring); }

/* ---------------------------------------------------------------- buffer rings */

static size_t page_round(size_t bytes) {
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;
    return (bytes + p - 1) / p * p;
}

int cnet_uring_bufring_create(cnet_uring *r, uint16_t group, unsigned entries, unsigned buffer_size,
                              cnet_uring_bufring **out) {
    return cnet_uring_bufring_create_headroom(r, group, entries, buffer_size, 0, out);
}

int cnet_uring_bufring_create_headroom(cnet_uring *r, uint16_t group, unsigned entries,
                                       unsigned buffer_size, unsigned headroom,
                                       cnet_uring_bufring **out) {
    if (out == NULL) return -EINVAL;
    *out = NULL;
    if (r == NULL || entries == 0 || entries > CNET_URING_BUFRING_MAX_ENTRIES ||
        (entries & (entries - 1)) != 0 || buffer_size == 0)
        return -EINVAL;
    struct cnet_uring_bufring *b = calloc(1, sizeof(*b));
    if (b == NULL) return -ENOMEM;
    b->ring = r;
    b->entries = entries;
    b->buffer_size = buffer_size;
    b->headroom = headroom;
    b->stride = headroom == 0 ? buffer_size : ((size_t)headroom + buffer_size + 15) / 16 * 16;
    b->mask = io_uring_buf_ring_mask(entries);
    b->group = group;
    /* The ring must be page-aligned (the kernel pins it); anonymous maps are. */
    b->br_bytes = page_round((size_t)entries * sizeof(struct io_uring_buf));
    b->buffers_bytes = page_round((size_t)entries * b->stride);
    int rc = 0;
    void *br = mmap(NULL, b->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED) {
        rc = -errno;
        free(b);
        return rc;
    }
    b->br = br;
    /* MAP_POPULATE: the kernel cycles through every buffer of the ring, so
     * all of it becomes resident soon anyway; faulting it in now makes it a
     * fixed cost at start instead of growth that looks like per-connection
     * memory. */
    void *buffers = mmap(NULL, b->buffers_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buffers == MAP_FAILED) {
        rc = -errno;
        munmap(br, b->br_bytes);
        free(b);
        return rc;
    }
    b->buffers = buffers;
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)(uintptr_t)b->br;
    reg.ring_entries = entries;
    reg.bgid = group;
    rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (rc < 0) {
        munmap(buffers, b->buffers_bytes);
        munmap(br, b->br_bytes);
        free(b);
        return rc;
    }
    for (unsigned i = 0; i < entries; i++)
        io_uring_buf_ring_add(b->br, cnet_uring_bufring_buffer(b, (uint16_t)i), buffer_size,
                              (unsigned short)i, b->mask, (int)i);
    io_uring_buf_ring_advance(b->br, (int)entries);
    b->next = r->bufrings;
    r->bufrings = b;
    *out = b;
    return 0;
}

void cnet_uring_bufring_destroy(cnet_uring_bufring *b) {
    if (b == NULL) return;
    struct cnet_uring *r = b->ring;
    for (struct cnet_uring_bufring **p = &r->bufrings; *p != NULL; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    /* Unregister before unmapping: the kernel must not pick a buffer from
     * memory that is gone.  Requests still holding one of its buffers
     * complete with what they already received. */
    io_uring_unregister_buf_ring(&r->ring, b->group);
    munmap(b->buffers, b->buffers_bytes);
    munmap(b->br, b->br_bytes);
    free(b);
}

uint8_t *cnet_uring_bufring_base(const cnet_uring_bufring *b) { return b->buffers; }
uint8_t *cnet_uring_bufring_buffer(const cnet_uring_bufring *b, uint16_t buffer_id) {
    return b->buffers + (size_t)buffer_id * b->stride + b->headroom;
}
unsigned cnet_uring_bufring_buffer_size(const cnet_uring_bufring *b) { return b->buffer_size; }
unsigned cnet_uring_bufring_entries(const cnet_uring_bufring *b) { return b->entries; }
uint16_t cnet_uring_bufring_group(const cnet_uring_bufring *b) { return b->group; }

int cnet_uring_bufring_return(cnet_uring_bufring *b, uint16_t buffer_id) {
    if (buffer_id >= b->entries) return -EINVAL;
    io_uring_buf_ring_add(b->br, cnet_uring_bufring_buffer(b, buffer_id), b->buffer_size,
                          buffer_id, b->mask, 0);
    io_uring_buf_ring_advance(b->br, 1);
    return 0;
}

/* ---------------------------------------------------------------- probe */

/* kernel.io_uring_disabled (Linux 6.6+): 0, 1 or 2; -1 when absent. */
static int read_disabled_sysctl(void) {
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[16];
    ssize_t n;
    do n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    return atoi(buf);
}

/* The calling thread's seccomp mode from /proc/thread-self/status:
 * 0 none, 1 strict, 2 filter; -1 unknown. */
static int read_seccomp_mode(void) {
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1) break;
    }
    close(fd);
    buf[len] = '\0';
    const char *line = strstr(buf, "\nSeccomp:");
    return line == NULL ? -1 : atoi(line + strlen("\nSeccomp:"));
}

static void explain_setup_failure(cnet_uring_support *s) {
    size_t n = sizeof(s->reason);
    int err = -s->error;
    int seccomp = read_seccomp_mode();
    if (s->disabled_sysctl == 2) {
        snprintf(s->reason, n, "io_uring is disabled on this machine (sysctl kernel.io_uring_disabled = 2)");
    } else if (err == EPERM && s->disabled_sysctl == 1) {
        snprintf(s->reason, n,
                 "io_uring is restricted (sysctl kernel.io_uring_disabled = 1) and this process is "
                 "neither privileged nor in kernel.io_uring_group");
    } else if (err == EPERM && seccomp > 0) {
        snprintf(s->reason, n,
                 "io_uring_setup is blocked by a seccomp filter (EPERM), as container profiles such "
                 "as Docker's default do");
    } else if (err == EPERM) {
        snprintf(s->reason, n, "io_uring_setup is not permitted here (EPERM): a security policy blocks it");
    } else if (err == ENOSYS && seccomp > 0) {
        snprintf(s->reason, n, "io_uring_setup is blocked by a seccomp filter (ENOSYS)");
    } else if (err == ENOSYS) {
        snprintf(s->reason, n, "this kernel has no io_uring (io_uring_setup: ENOSYS)");
    } else if (err == ENOMEM) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            snprintf(s->reason, n,
                     "not enough locked memory for the ring (ENOMEM): RLIMIT_MEMLOCK is %llu KiB; "
                     "raise it (ulimit -l, LimitMEMLOCK=) or run with CAP_IPC_LOCK",
                     (unsigned long long)(rl.rlim_cur / 1024));
        else
            snprintf(s->reason, n, "the kernel could not allocate the ring (ENOMEM)");
    } else if (err == EINVAL) {
        snprintf(s->reason, n, "io_uring_setup refused every flag set (EINVAL): the kernel is too old");
    } else {
        snprintf(s->reason, n, "io_uring_setup failed: %s", cnet_errno_name(err));
    }
}

static void explain_feature_failure(cnet_uring_support *s, const char *what, const char *since) {
    size_t n = sizeof(s->reason);
    if (s->error == -EINVAL || s->error == -EOPNOTSUPP)
        snprintf(s->reason, n, "the kernel has no %s (needs Linux %s or later)", what, since);
    else if (s->error == -ENOMEM)
        snprintf(s->reason, n, "not enough locked memory for the %s (ENOMEM): RLIMIT_MEMLOCK is too low", what);
    else
        snprintf(s->reason, n, "%s failed: %s", what, cnet_errno_name(s->error));
}

/* One multishot recv on a socketpair must deliver one byte into the buffer
 * ring and stay armed: the whole data path of the backend in miniature. */
static int probe_multishot_recv(cnet_uring *r, cnet_uring_bufring *b) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
    int rc = cnet_uring_prep_recv_multishot(r, sv[0], b, 1);
    if (rc == 0 && write(sv[1], "x", 1) != 1) rc = -errno;
    if (rc == 0) {
        rc = -ETIMEDOUT;
        for (int turn = 0; turn < 10 && rc == -ETIMEDOUT; turn++) {
            int ready = cnet_uring_submit_and_wait(r, 1, 100 * 1000000LL);
            if (ready < 0) {
                rc = ready;
                break;
            }
            const cnet_uring_cqe *cqe;
            unsigned n = cnet_uring_peek(r, &cqe);
            for (unsigned i = 0; i < n && rc == -ETIMEDOUT; i++) {
                if (cqe[i].user_data != 1) continue;
                if (cqe[i].res < 0) rc = cqe[i].res;
                else if (cqe[i].res == 1 && (cqe[i].flags & IORING_CQE_F_BUFFER) &&
                         (cqe[i].flags & IORING_CQE_F_MORE))
                    rc = 0;
                else rc = -EINVAL; /* armed but not multishot: an old kernel */
            }
            cnet_uring_cq_advance(r, n);
        }
    }
    close(sv[0]);
    close(sv[1]);
    return rc;
}

int cnet_uring_probe(cnet_uring_support *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->disabled_sysctl = read_disabled_sysctl();
    cnet_uring *r = NULL;
    int rc = cnet_uring_create(8, 0, CNET_URING_SETUP_PREFERRED, &r);
    if (rc < 0) {
        out->error = rc;
        out->step = CNET_URING_STEP_SETUP;
        explain_setup_failure(out);
        return rc;
    }
    out->setup_flags = r->setup_flags;
    out->features = r->ring.features;
    cnet_uring_bufring *b = NULL;
    rc = cnet_uring_bufring_create(r, 0, 1, 64, &b);
    if (rc < 0) {
        out->error = rc;
        out->step = CNET_URING_STEP_BUFFER_RING;
        explain_feature_failure(out, "provided buffer ring", "5.19");
    } else {
        rc = probe_multishot_recv(r, b);
        if (rc < 0) {
            out->error = rc;
            out->step = CNET_URING_STEP_MULTISHOT_RECV;
            explain_feature_failure(out, "multishot recv", "6.0");
        }
    }
    cnet_uring_destroy(r);
    return rc;
}

const char *cnet_uring_support_reason(const cnet_uring_support *s) { return s->reason; }
