/*
 * cnetshim.h - the C socket shim under trustctl.
 *
 * A small, prefix-named TCP helper API in the spirit of Redis's anet.c, for
 * trustctl's Swift core and for later servers written in plain C:
 *
 *     cc prog.c $(pkg-config --cflags --libs cnetshim)
 *
 * Conventions, for every function below unless it says otherwise:
 *   - returns >= 0 on success and -errno on failure; the caller never reads
 *     the global errno;
 *   - EINTR is retried inside the call (close() is the one exception: on
 *     Linux the descriptor is gone after an interrupted close, so retrying
 *     could close a descriptor another thread just opened);
 *   - sends use MSG_NOSIGNAL, so a closed peer gives -EPIPE, never SIGPIPE;
 *   - no global state, and no allocation on the IO path (name resolution
 *     in cnet_resolve* / cnet_tcp_listen_host / cnet_tcp_connect_host uses
 *     getaddrinfo, which allocates; it runs once per listen or connect).
 *   - descriptors created here are close-on-exec.
 *   - a failed name lookup is not an errno: it is returned as a resolver
 *     error, -(CNET_GAI_ERROR_BASE + |EAI_*|), outside the errno range;
 *     cnet_is_gai_error tells the two apart and cnet_gai_strerror gives
 *     getaddrinfo's own text (see "Errors" below).
 */
#ifndef CNETSHIM_H
#define CNETSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Flags
 * ------------------------------------------------------------------------ */

/* cnet_tcp_listen*: also set SO_REUSEPORT (SO_REUSEADDR is always set). */
#define CNET_LISTEN_REUSEPORT 0x1
/* cnet_tcp_listen* / cnet_tcp_connect*: leave the socket non-blocking. */
#define CNET_NONBLOCK 0x2

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

/*
 * One socket address, as resolved: storage big enough for IPv4 and IPv6
 * and the length that is in use.  A plain struct so that callers (and
 * Swift) can hold arrays of them.
 */
struct cnet_address {
    struct sockaddr_storage addr;
    socklen_t len;
};

/* The most addresses cnet_resolve_all returns and cnet_tcp_connect_list
 * tries; further ones are ignored. */
#define CNET_MAX_ADDRESSES 16

/*
 * Resolve host (a name, an IPv4 literal or an IPv6 literal, without
 * brackets) and port into up to max addresses, IPv4 and IPv6 only, in
 * getaddrinfo's order (RFC 6724: on a stock system IPv6 first).
 * passive != 0 resolves for bind() (AI_PASSIVE; host NULL means the IPv4
 * wildcard).  Returns how many were written (>= 1).
 * Errors: a resolver error (cnet_is_gai_error) when the name does not
 * resolve (EAI_NONAME), the resolver failed temporarily (EAI_AGAIN) or
 * permanently (EAI_FAIL); -ENOMEM (EAI_MEMORY); the -errno of EAI_SYSTEM;
 * -EINVAL for malformed input (out NULL, max < 1).
 */
int cnet_resolve_all(const char *host, uint16_t port, int passive,
                     struct cnet_address *out, int max);

/*
 * The first address cnet_resolve_all gives, into *out / *out_len (the
 * storage is zeroed first).  Errors as for cnet_resolve_all.
 */
int cnet_resolve(const char *host, uint16_t port, int passive,
                 struct sockaddr_storage *out, socklen_t *out_len);

/*
 * Format an IPv4 or IPv6 socket address as "1.2.3.4:80" or "[::1]:80"
 * into buf (always NUL-terminated).  Returns the length written, or
 * -EAFNOSUPPORT / -ENOSPC.  CNET_ADDRSTRLEN is always enough.
 */
#define CNET_ADDRSTRLEN 64
int cnet_sockaddr_format(const struct sockaddr *addr, socklen_t len,
                         char *buf, size_t buf_len);

/* The local port a socket is bound to (after bind with port 0). */
int cnet_local_port(int fd);

/* ------------------------------------------------------------------------
 * Socket lifecycle
 * ------------------------------------------------------------------------ */

/*
 * Create a TCP listening socket on addr: SO_REUSEADDR (an immediate restart
 * on the same port works), SO_REUSEPORT if CNET_LISTEN_REUSEPORT, IPv6
 * sockets are dual-stack (IPV6_V6ONLY off, so "::" also takes IPv4),
 * bind, listen(backlog).  *bound_port (may be NULL) receives the real port,
 * which matters when addr asked for port 0.  Returns the descriptor.
 */
int cnet_tcp_listen(const struct sockaddr *addr, socklen_t len, int backlog,
                    int flags, uint16_t *bound_port);

/* cnet_resolve(host, port, passive=1) followed by cnet_tcp_listen; a name
 * that does not resolve gives a resolver error (cnet_is_gai_error). */
int cnet_tcp_listen_host(const char *host, uint16_t port, int backlog,
                         int flags, uint16_t *bound_port);

/*
 * Accept one connection: accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
 * peer / peer_len may be NULL; *peer is zeroed before the kernel fills in
 * the address.  -EAGAIN when nothing is pending.
 */
int cnet_accept(int listen_fd, struct sockaddr_storage *peer,
                socklen_t *peer_len);

/*
 * Connect to addr, waiting at most timeout_ms (<= 0: no limit).
 * Returns a connected descriptor, blocking unless CNET_NONBLOCK.
 * -ETIMEDOUT when the timeout expires, -ECONNREFUSED, -ENETUNREACH ...
 */
int cnet_tcp_connect(const struct sockaddr *addr, socklen_t len,
                     int timeout_ms, int flags);

/* RFC 8305's "connection attempt delay": how long an attempt may go
 * unanswered before the next address is tried beside it. */
#define CNET_CONNECT_ATTEMPT_DELAY_MS 250

/*
 * Happy eyeballs (RFC 8305 section 5) over an address list: connect to the
 * first of list[0..count) that answers.  The addresses are tried IPv6
 * first, families interleaved (v6, v4, v6, ...), each family in the given
 * order.  The next attempt starts when the previous one failed, or after
 * CNET_CONNECT_ATTEMPT_DELAY_MS while earlier attempts stay in flight; the
 * first to connect wins and the others are closed.  timeout_ms (<= 0: no
 * limit) bounds the whole call.  *chosen (may be NULL) receives the index
 * into list of the address that connected.
 * Returns the connected descriptor (blocking unless CNET_NONBLOCK);
 * -ETIMEDOUT when time ran out with attempts unanswered; otherwise, when
 * every address failed, the error of the last attempt to fail;
 * -EINVAL for a NULL list or count < 1.  At most CNET_MAX_ADDRESSES
 * entries are used.
 */
int cnet_tcp_connect_list(const struct cnet_address *list, int count,
                          int timeout_ms, int flags, int *chosen);

/* cnet_resolve_all(host, port, passive=0) followed by
 * cnet_tcp_connect_list: every address of the name is tried. */
int cnet_tcp_connect_host(const char *host, uint16_t port, int timeout_ms,
                          int flags);

/*
 * Start a non-blocking connect and return at once: the descriptor is
 * returned whether the connection completed or is still in progress.
 * Wait for it to become writable, then call cnet_connect_result().
 */
int cnet_connect_start(const struct sockaddr *addr, socklen_t len);

/* cnet_connect_start from a chosen local address (its port 0): binds
 * before connecting, with IP_BIND_ADDRESS_NO_PORT so the kernel picks the
 * port at connect time. -EINVAL when the families differ; a local address
 * the machine does not have gives -EADDRNOTAVAIL. */
int cnet_connect_start_from(const struct sockaddr *addr, socklen_t len, const struct sockaddr *local,
                            socklen_t local_len);

/* The outcome of a connect started by cnet_connect_start (SO_ERROR):
 * 0 when connected, -errno otherwise. */
int cnet_connect_result(int fd);

/* Half-close: no more sends from this side (shutdown SHUT_WR). */
int cnet_shutdown_write(int fd);

/* close(2) without retrying EINTR (see the conventions above). */
int cnet_close(int fd);

/* ------------------------------------------------------------------------
 * Blocking IO loops (for blocking sockets, optionally with timeouts set by
 * cnet_set_recv_timeout / cnet_set_send_timeout)
 * ------------------------------------------------------------------------ */

/*
 * The IO calls below take len up to SSIZE_MAX (their result must fit in
 * ssize_t); a larger len is -EINVAL, and nothing moves.
 *
 * Send all len bytes.  Returns len, or -errno: -EAGAIN when the send
 * timeout expired, -EPIPE / -ECONNRESET when the peer went away.
 * *sent (may be NULL) receives how many bytes moved, also on failure.
 */
ssize_t cnet_send_all(int fd, const void *buf, size_t len, size_t *sent);

/*
 * Receive exactly len bytes, or fewer if the peer closed first: the short
 * count is returned (0 = closed before anything arrived).  -EAGAIN when the
 * receive timeout expired.  *received (may be NULL) receives how many bytes
 * moved, also on failure.
 */
ssize_t cnet_recv_all(int fd, void *buf, size_t len, size_t *received);

/* ------------------------------------------------------------------------
 * Non-blocking IO
 * ------------------------------------------------------------------------ */

/* One send(MSG_NOSIGNAL) call: bytes moved, or -errno (-EAGAIN when the
 * socket buffer is full).  The event loop's hot path. */
ssize_t cnet_send(int fd, const void *buf, size_t len);

/* One recv call: bytes moved, 0 at end of stream, or -errno (-EAGAIN when
 * nothing is ready).  The event loop's hot path. */
ssize_t cnet_recv(int fd, void *buf, size_t len);

/*
 * Send as much as possible until done or EAGAIN.  Returns the bytes moved
 * (0 if the socket could take nothing), or -errno if an error came before
 * any byte moved (an error after some bytes is reported by the next call).
 */
ssize_t cnet_send_some(int fd, const void *buf, size_t len);

/*
 * Receive as much as possible until buf is full or EAGAIN.  Returns the
 * bytes moved; 0 at end of stream with nothing moved; -EAGAIN when nothing
 * was ready; other -errno on error before any byte moved.  End of stream
 * after some bytes is reported (as 0) by the next call.
 */
ssize_t cnet_recv_some(int fd, void *buf, size_t len);

/* ------------------------------------------------------------------------
 * Socket options: one function each
 * ------------------------------------------------------------------------ */

int cnet_set_reuseaddr(int fd, int on);
int cnet_set_reuseport(int fd, int on);
int cnet_set_nodelay(int fd, int on);
int cnet_set_nonblocking(int fd, int on);
int cnet_set_cloexec(int fd, int on);
/* SO_RCVTIMEO / SO_SNDTIMEO in milliseconds; 0 clears the timeout. */
int cnet_set_recv_timeout(int fd, int timeout_ms);
int cnet_set_send_timeout(int fd, int timeout_ms);
/* SO_LINGER {on, 0}: the next close sends RST instead of FIN. */
int cnet_set_linger_reset(int fd);
/* SO_SNDBUF / SO_RCVBUF (the kernel doubles and clamps the value). */
int cnet_set_send_buffer(int fd, int bytes);
int cnet_set_recv_buffer(int fd, int bytes);
/* SO_ERROR: the pending socket error as a positive errno, 0 if none. */
int cnet_socket_error(int fd);

/* ------------------------------------------------------------------------
 * Event loop plumbing: epoll, eventfd, signalfd (Linux)
 *
 * Thin wrappers so Swift (whose Glibc module does not export these) and C
 * servers share one -errno convention.  Each epoll registration carries a
 * 64-bit token chosen by the caller (trustctl packs a descriptor and a
 * generation into it).
 * ------------------------------------------------------------------------ */

/* Plain literals so Swift imports them; cnetshim.c asserts they equal the
 * EPOLL* values. */
#define CNET_EV_READ 0x001u
#define CNET_EV_WRITE 0x004u
#define CNET_EV_ERROR 0x008u
#define CNET_EV_HANGUP 0x010u
/* Registration flag: wake only one of the loops waiting on a shared
 * descriptor (a listening socket shared by worker loops). */
#define CNET_EV_EXCLUSIVE 0x10000000u

/* epoll_create1(EPOLL_CLOEXEC). */
int cnet_epoll_create(void);
/* Register fd for events (level-triggered) with a caller token. */
int cnet_epoll_add(int epfd, int fd, uint32_t events, uint64_t token);
/* Change the events or token of a registered fd. */
int cnet_epoll_modify(int epfd, int fd, uint32_t events, uint64_t token);
/* Remove fd (closing the last descriptor of a socket also removes it). */
int cnet_epoll_remove(int epfd, int fd);
/* Wait for up to max events; timeout_ms < 0 waits forever.  Returns the
 * count; an interrupted wait (EINTR) returns 0 (the caller's loop goes
 * round); any other failure is -errno (-EBADF, -EINVAL ...), which a loop
 * must not treat as "no events". */
int cnet_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms);
/* The token and the event bits of events[i] (epoll_event is a packed
 * struct on x86-64; these accessors keep that detail on the C side). */
uint64_t cnet_epoll_event_token(const struct epoll_event *events, int i);
uint32_t cnet_epoll_event_flags(const struct epoll_event *events, int i);

/* A non-blocking, close-on-exec eventfd used to wake a loop. */
int cnet_eventfd_create(void);
/* Add 1 to the eventfd counter (async-signal-safe). */
int cnet_eventfd_signal(int fd);
/* Read and reset the counter: its value, or -EAGAIN when zero. */
int64_t cnet_eventfd_drain(int fd);

/*
 * Return a non-blocking, close-on-exec signalfd for the given signals and
 * block them in the calling thread (threads created later inherit the
 * mask), so that they arrive as readable events.  The descriptor is made
 * first and the mask changed only once it exists: on any failure the mask
 * is left as it was and no signal stays blocked.  Call it before starting
 * threads.  -EINVAL for a bad signal number, count < 0 or signals NULL.
 */
int cnet_signalfd_open(const int *signals, int count);
/* Read one pending signal: its number, or -EAGAIN when none is pending. */
int cnet_signalfd_read(int fd);
/* Ignore SIGPIPE process-wide (belt and braces next to MSG_NOSIGNAL:
 * a write to a closed stdout pipe must not kill a server either). */
int cnet_ignore_sigpipe(void);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/*
 * The symbolic name of an errno value ("ECONNRESET"); err may be positive
 * or negative (-errno as returned above).  A resolver error gives the
 * EAI_* name ("EAI_NONAME").  Unknown values give "EUNKNOWN".
 * The string is static; never free it.
 */
const char *cnet_errno_name(int err);

/*
 * Resolver errors.  getaddrinfo's codes (EAI_*) overlap errno values, so
 * the functions that resolve names return them as
 *     CNET_GAI_ERROR(eai) == -(CNET_GAI_ERROR_BASE + |eai|)
 * which lies below every -errno.  Each function below takes the value with
 * either sign, as cnet_errno_name does.
 */
#define CNET_GAI_ERROR_BASE 0x10000
#define CNET_GAI_ERROR(eai) (-(CNET_GAI_ERROR_BASE + ((eai) < 0 ? -(eai) : (eai))))
/* 1 when rc is a resolver error, 0 otherwise (an errno, or success). */
int cnet_is_gai_error(int rc);
/* The EAI_* code a resolver error carries (EAI_NONAME ...), 0 otherwise. */
int cnet_gai_code(int rc);
/* getaddrinfo's own text for a resolver error (gai_strerror: "Name or
 * service not known"); "Unknown resolver error" for any other value.
 * The string is static; never free it. */
const char *cnet_gai_strerror(int rc);

/* ------------------------------------------------------------------------
 * io_uring (Linux 6.0 or later; implemented on liburing, see docs/io_uring.md)
 *
 * One ring per event loop, created, used and destroyed by one thread: the
 * ring's descriptor is registered for the creating thread (another thread's
 * submit or wait fails with -EINVAL), and CNET_URING_SETUP_SINGLE_ISSUER
 * also binds the ring to it in the kernel (-EEXIST).  Everything is allocated
 * by cnet_uring_create / cnet_uring_bufring_create; the prep, submit and
 * completion calls allocate nothing.
 *
 * A loop turn:
 *
 *     cnet_uring_prep_*(...)                     queue SQEs (no syscall)
 *     cnet_uring_submit_and_wait(r, 1, t)        one io_uring_enter
 *     while ((n = cnet_uring_peek(r, &cqe)) > 0) {
 *         for (i = 0; i < n; i++) handle(cqe[i]); // may prep more SQEs
 *         cnet_uring_cq_advance(r, n);
 *     }
 *
 * user_data is the caller's 64-bit tag, echoed in the CQE.  The suggested
 * layout (cnet_uring_user_data below): kind in bits 56-63, generation in
 * bits 32-55, slot in bits 0-31, so the slot half matches the epoll token
 * layout.  Never use all ones: liburing reserves it on kernels without
 * IORING_FEAT_EXT_ARG.
 * ------------------------------------------------------------------------ */

/* Setup flags, the kernel's IORING_SETUP_* values (plain literals so Swift
 * imports them; cnet_uring.c asserts they match). */
#define CNET_URING_SETUP_SUBMIT_ALL 0x0080u    /* keep submitting past a bad SQE */
#define CNET_URING_SETUP_COOP_TASKRUN 0x0100u  /* no IPI for completions */
#define CNET_URING_SETUP_SINGLE_ISSUER 0x1000u /* one thread submits (6.0) */
#define CNET_URING_SETUP_DEFER_TASKRUN 0x2000u /* completions run only in our enter (6.1) */
/* What a loop asks for: SINGLE_ISSUER | DEFER_TASKRUN | SUBMIT_ALL. */
#define CNET_URING_SETUP_PREFERRED 0x3080u

/* CQE flags (IORING_CQE_F_*). */
#define CNET_URING_CQE_F_BUFFER 0x1u        /* bits 16-31 hold a buffer id */
#define CNET_URING_CQE_F_MORE 0x2u          /* the multishot request stays armed */
#define CNET_URING_CQE_F_SOCK_NONEMPTY 0x4u /* more data was waiting after this recv */
#define CNET_URING_CQE_BUFFER_SHIFT 16

/* cnet_uring_probe: which step failed. */
#define CNET_URING_STEP_NONE 0
#define CNET_URING_STEP_SETUP 1          /* io_uring_setup */
#define CNET_URING_STEP_BUFFER_RING 2    /* registering a provided buffer ring */
#define CNET_URING_STEP_MULTISHOT_RECV 3 /* a multishot recv on a socketpair */

/* Buffer ring limits: entries is a power of two up to 32768 (the kernel's),
 * buffer ids are 16 bits. */
#define CNET_URING_BUFRING_MAX_ENTRIES 32768u

/* The kernel's struct io_uring_cqe (16-byte CQEs), same layout; read the
 * fields straight from the ring memory cnet_uring_peek points at. */
typedef struct cnet_uring_cqe {
    uint64_t user_data;
    int32_t res;    /* >= 0 result, or -errno */
    uint32_t flags; /* CNET_URING_CQE_F_* and the buffer id */
} cnet_uring_cqe;

typedef struct cnet_uring cnet_uring;                 /* opaque: one ring */
typedef struct cnet_uring_bufring cnet_uring_bufring; /* opaque: one provided buffer ring */

/* What cnet_uring_create got from the kernel. */
typedef struct cnet_uring_info {
    unsigned setup_flags;    /* the CNET_URING_SETUP_* the kernel took */
    unsigned features;       /* IORING_FEAT_* the kernel reported */
    unsigned attempts;       /* io_uring_setup calls made (1 = no fallback) */
    unsigned sq_entries;     /* as sized by the kernel */
    unsigned cq_entries;
    int ring_fd_registered;  /* 1: enter uses the registered ring index */
} cnet_uring_info;

/* Why io_uring can or cannot be used here (cnet_uring_probe). */
#define CNET_URING_REASON_LEN 256
typedef struct cnet_uring_support {
    int error;            /* 0 when usable, else -errno of the failing step */
    int step;             /* CNET_URING_STEP_* that failed; NONE when usable */
    int disabled_sysctl;  /* kernel.io_uring_disabled (0, 1, 2), -1 if absent */
    unsigned setup_flags; /* flags the probe ring got (when setup worked) */
    unsigned features;
    char reason[CNET_URING_REASON_LEN]; /* one line for humans; "" when usable */
} cnet_uring_support;

/*
 * Can this process use the io_uring backend?  Creates a throwaway ring with
 * the preferred flags (falling back as cnet_uring_create does), registers a
 * one-buffer ring and runs one multishot recv on a socketpair, then tears it
 * all down.  Fills *out and returns out->error: 0, or the -errno that stopped
 * it, with out->reason saying why in words: the kernel.io_uring_disabled
 * sysctl, a seccomp filter (EPERM or ENOSYS, such as Docker's default
 * profile), the RLIMIT_MEMLOCK limit (ENOMEM), or a kernel too old for a
 * needed feature (EINVAL).  Call it once at start, from any thread.
 */
int cnet_uring_probe(cnet_uring_support *out);
/* out->reason as a C string (for Swift, which sees the array as a tuple). */
const char *cnet_uring_support_reason(const cnet_uring_support *support);

/*
 * Create a ring with sq_entries submission entries (1..32768, rounded up to
 * a power of two) and cq_entries completion entries (0: the kernel's
 * default of twice sq_entries; more is wise with multishot requests).
 * flags: CNET_URING_SETUP_* wanted, normally CNET_URING_SETUP_PREFERRED.
 * When the kernel refuses (EINVAL) it falls back one step at a time: first
 * drop flags this layer does not know, then DEFER_TASKRUN becomes
 * COOP_TASKRUN, then drop SINGLE_ISSUER, then COOP_TASKRUN, then
 * SUBMIT_ALL; cnet_uring_get_info says what took.  Other errors (EPERM,
 * ENOSYS, ENOMEM) are returned at once; cnet_uring_probe explains them.
 * The ring's descriptor is close-on-exec.  Returns 0 and *out, or -errno.
 */
int cnet_uring_create(unsigned sq_entries, unsigned cq_entries, unsigned flags,
                      cnet_uring **out);
/* Close the ring (the kernel cancels what is in flight) and free it and
 * its buffer rings.  NULL is ignored.  Call it on the creating thread: the
 * registered index holds the ring, so from another thread the kernel
 * releases it only when the creating thread exits. */
void cnet_uring_destroy(cnet_uring *ring);
/* The ring's descriptor (for diagnostics; the calls below take the ring). */
int cnet_uring_fd(const cnet_uring *ring);
void cnet_uring_get_info(const cnet_uring *ring, cnet_uring_info *out);

/*
 * Queue one SQE each (no syscall).  They return 0, or -EBUSY when the
 * submission queue is full even after submitting what it held (that submit
 * is the only syscall a prep call can make), or the submit's -errno.
 */

/* Multishot accept4(SOCK_CLOEXEC, plus SOCK_NONBLOCK if flags has
 * CNET_NONBLOCK): one CQE per connection, res = the new descriptor.  A CQE
 * without F_MORE (e.g. res = -EMFILE) ends it: re-arm.  (Linux 5.19) */
int cnet_uring_prep_accept_multishot(cnet_uring *ring, int listen_fd, int flags,
                                     uint64_t user_data);
/* Multishot recv into buffers picked from bufring: one CQE per arrival,
 * res = bytes, F_BUFFER set and the buffer id in the flags; the buffer is
 * the caller's until cnet_uring_bufring_return.  It ends (no F_MORE) at end
 * of stream (res 0), on an error, on -ENOBUFS when the ring has no buffer
 * left, or when the kernel chooses to (a last CQE may still carry data):
 * re-arm if the connection lives on.  (Linux 6.0) */
int cnet_uring_prep_recv_multishot(cnet_uring *ring, int fd, const cnet_uring_bufring *bufring,
                                   uint64_t user_data);
/* One recv into one buffer picked from bufring (res, F_BUFFER and the
 * buffer id as for the multishot form; never F_MORE): the kernel takes at
 * most one buffer's worth per request. */
int cnet_uring_prep_recv_select(cnet_uring *ring, int fd, const cnet_uring_bufring *bufring,
                                uint64_t user_data);
/* One recv into the caller's buffer (kept valid until the CQE). */
int cnet_uring_prep_recv(cnet_uring *ring, int fd, void *buf, size_t len, uint64_t user_data);
/* One send(MSG_NOSIGNAL) of buf[0..len) (kept valid until the CQE):
 * res = bytes sent, which can be less than len (send the rest next), or
 * -EPIPE / -ECONNRESET, never SIGPIPE.  Keep one send in flight per
 * connection: two in flight may complete out of order. */
int cnet_uring_prep_send(cnet_uring *ring, int fd, const void *buf, size_t len, uint64_t user_data);
/* The same send with MSG_DONTWAIT: when the socket cannot take anything
 * now it completes with -EAGAIN at once instead of waiting in the kernel
 * (so the caller can keep its own copy and release the buffer). */
int cnet_uring_prep_send_nowait(cnet_uring *ring, int fd, const void *buf, size_t len,
                                uint64_t user_data);
/* One read(2) into buf (an eventfd's 8 bytes, a signalfd_siginfo); a
 * non-blocking eventfd or signalfd waits for data like a blocking one. */
int cnet_uring_prep_read(cnet_uring *ring, int fd, void *buf, unsigned len, uint64_t user_data);
/* Poll fd for CNET_EV_* events: res = the events that fired.  multishot != 0
 * keeps it armed (F_MORE) and posts a CQE on every wake-up.  (5.13) */
int cnet_uring_prep_poll(cnet_uring *ring, int fd, uint32_t events, int multishot,
                         uint64_t user_data);
/* Cancel the request tagged target (all != 0: every request with that
 * tag).  The cancelled request completes with -ECANCELED (a multishot
 * without F_MORE); this SQE's own CQE has res 0, -ENOENT if nothing
 * matched, -EALREADY if it was already running (with all: the count
 * cancelled, 0 if none). */
int cnet_uring_prep_cancel(cnet_uring *ring, uint64_t target, int all, uint64_t user_data);
/* Cancel every request on fd (res = how many, 0 if none).  Queue it
 * before closing fd: close() does not cancel, and a request in flight keeps
 * the socket open (the peer sees no FIN) until it completes.  (5.19) */
int cnet_uring_prep_cancel_fd(cnet_uring *ring, int fd, uint64_t user_data);
/* A no-op that completes with res 0. */
int cnet_uring_prep_nop(cnet_uring *ring, uint64_t user_data);

/* Submit the queued SQEs without waiting: how many were submitted. */
int cnet_uring_submit(cnet_uring *ring);
/*
 * The loop's one syscall: submit the queued SQEs and wait until at least
 * wait_nr CQEs are ready or timeout_ns passes (< 0: no limit; 0: do not
 * block).  Returns the number of CQEs ready (0 on timeout, or when a signal
 * interrupted the wait), or -errno: -EBUSY / -EAGAIN mean the kernel could
 * not take the SQEs now (they stay queued): reap CQEs and call again.
 */
int cnet_uring_submit_and_wait(cnet_uring *ring, unsigned wait_nr, int64_t timeout_ns);
/* Ready CQEs, without a syscall: *first points at the oldest; returns how
 * many follow it contiguously (at most the rest, up to the ring's wrap).
 * They stay valid until cnet_uring_cq_advance; call again until it is 0. */
unsigned cnet_uring_peek(cnet_uring *ring, const cnet_uring_cqe **first);
/* Mark the next count CQEs seen (their slots go back to the kernel). */
void cnet_uring_cq_advance(cnet_uring *ring, unsigned count);
/* SQEs queued and not yet submitted. */
unsigned cnet_uring_sq_pending(const cnet_uring *ring);

/*
 * A provided buffer ring: entries buffers of buffer_size bytes in one
 * mapping, registered as buffer group `group`, all handed to the kernel.
 * entries: a power of two, 1..CNET_URING_BUFRING_MAX_ENTRIES.  The ring
 * owns it (cnet_uring_destroy frees it).  Returns 0 and *out, or -errno
 * (-EINVAL for a bad size, -EEXIST when the group is taken).  (5.19)
 */
int cnet_uring_bufring_create(cnet_uring *ring, uint16_t group, unsigned entries,
                              unsigned buffer_size, cnet_uring_bufring **out);
/* The same with `headroom` writable bytes in front of every buffer (a
 * protocol may prepend bytes to a received chunk and send both at once);
 * buffers then sit at cnet_uring_bufring_buffer(), not base + id * size. */
int cnet_uring_bufring_create_headroom(cnet_uring *ring, uint16_t group, unsigned entries,
                                       unsigned buffer_size, unsigned headroom,
                                       cnet_uring_bufring **out);
/* Unregister and free one buffer ring before its ring ends.  NULL ignored. */
void cnet_uring_bufring_destroy(cnet_uring_bufring *bufring);
/* Buffer id's memory: cnet_uring_bufring_buffer (base + id * buffer_size
 * when the ring has no headroom). */
uint8_t *cnet_uring_bufring_buffer(const cnet_uring_bufring *bufring, uint16_t buffer_id);
uint8_t *cnet_uring_bufring_base(const cnet_uring_bufring *bufring);
unsigned cnet_uring_bufring_buffer_size(const cnet_uring_bufring *bufring);
unsigned cnet_uring_bufring_entries(const cnet_uring_bufring *bufring);
uint16_t cnet_uring_bufring_group(const cnet_uring_bufring *bufring);
/* Hand buffer id back to the kernel, visible at once.  Return each id
 * exactly once per CQE that delivered it: a double return lets two recvs
 * share one buffer.  -EINVAL for an id outside the ring. */
int cnet_uring_bufring_return(cnet_uring_bufring *bufring, uint16_t buffer_id);

/* CQE flag helpers. */
static inline int cnet_uring_cqe_has_more(uint32_t flags) {
    return (flags & CNET_URING_CQE_F_MORE) != 0;
}
static inline int cnet_uring_cqe_has_buffer(uint32_t flags) {
    return (flags & CNET_URING_CQE_F_BUFFER) != 0;
}
static inline uint16_t cnet_uring_cqe_buffer_id(uint32_t flags) {
    return (uint16_t)(flags >> CNET_URING_CQE_BUFFER_SHIFT);
}

/* The suggested user_data layout: kind (0..254; 255 would make all ones
 * possible) in bits 56-63, generation (24 bits, wraps) in bits 32-55, slot
 * in bits 0-31. */
static inline uint64_t cnet_uring_user_data(uint8_t kind, uint32_t slot, uint32_t generation) {
    return (uint64_t)kind << 56 | (uint64_t)(generation & 0xffffffu) << 32 | slot;
}
static inline uint8_t cnet_uring_user_data_kind(uint64_t user_data) {
    return (uint8_t)(user_data >> 56);
}
static inline uint32_t cnet_uring_user_data_generation(uint64_t user_data) {
    return (uint32_t)(user_data >> 32) & 0xffffffu;
}
static inline uint32_t cnet_uring_user_data_slot(uint64_t user_data) {
    return (uint32_t)user_data;
}


/* ------------------------------------------------------------------------
 * UDP (Sources/CNetShim/cnet_udp.c)
 *
 * Datagram sockets for the UDP echo (RFC 862 §2): bind with the destination
 * address of each datagram reported (IP_PKTINFO / IPV6_RECVPKTINFO), and
 * batched receive and send (recvmmsg / sendmmsg) over caller-owned slots,
 * so that a reply from a wildcard bind leaves from the address the datagram
 * was sent to.  No allocation: the kernel structures for one batch live on
 * the stack of the call (at most CNET_UDP_BATCH_MAX datagrams per call).
 * ------------------------------------------------------------------------ */

/* The most datagrams one cnet_udp_recv_batch / cnet_udp_send_batch moves. */
#define CNET_UDP_BATCH_MAX 64
/* The largest UDP payload over IPv4 (65535 - 20 - 8). */
#define CNET_UDP_MAX_PAYLOAD 65507

/* cnet_udp_dgram.flags: the datagram was longer than the slot's capacity;
 * len holds its real length, only the first cap bytes are in buf. */
#define CNET_UDP_TRUNCATED 0x1
/* cnet_udp_dgram.flags: local holds the destination address (pktinfo). */
#define CNET_UDP_HAS_LOCAL 0x2

/*
 * One datagram slot, owned by the caller.  For a receive: buf/cap are the
 * caller's buffer; the call fills len, peer (source), local (destination,
 * from pktinfo, with its interface index) and flags.  For a send: buf/len
 * are the payload, peer the destination; when flags has CNET_UDP_HAS_LOCAL
 * the datagram leaves from local (and ifindex), else the kernel chooses.
 * So a received slot can be sent back as it is: that is an echo.
 */
struct cnet_udp_dgram {
    void *buf;
    size_t cap;
    size_t len;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct sockaddr_storage local;
    socklen_t local_len;
    int ifindex;
    int flags;
};

/* cnet_udp_bind: also set SO_REUSEPORT (never SO_REUSEADDR: UDP has no
 * TIME_WAIT, and on UDP it would let a second server share the port), and
 * CNET_NONBLOCK to leave the socket non-blocking. */
#define CNET_UDP_REUSEPORT CNET_LISTEN_REUSEPORT

/*
 * Create a UDP socket bound to addr: SO_REUSEPORT when
 * CNET_UDP_REUSEPORT, IPv6 sockets dual-stack (IPV6_V6ONLY off, so "::"
 * also takes IPv4), destination-address reporting on (cnet_udp_enable_pktinfo),
 * close-on-exec.  *bound_port (may be NULL) receives the real port.
 * Returns the descriptor.
 */
int cnet_udp_bind(const struct sockaddr *addr, socklen_t len, int flags, uint16_t *bound_port);

/* cnet_resolve(host, port, passive=1) followed by cnet_udp_bind. */
int cnet_udp_bind_host(const char *host, uint16_t port, int flags, uint16_t *bound_port);

/* Turn on IP_PKTINFO (AF_INET) or IPV6_RECVPKTINFO (AF_INET6, which also
 * covers IPv4 datagrams on a dual-stack socket, reported v4-mapped). */
int cnet_udp_enable_pktinfo(int fd);

/*
 * Receive up to count (<= CNET_UDP_BATCH_MAX) datagrams without blocking
 * (recvmmsg, MSG_DONTWAIT) into d[0..count).  Returns how many (>= 1),
 * -EAGAIN when none is queued, or -errno.  A datagram longer than its
 * slot is cut to cap bytes and marked CNET_UDP_TRUNCATED, len its real size.
 */
int cnet_udp_recv_batch(int fd, struct cnet_udp_dgram *d, int count);

/*
 * Send d[0..count) (count <= CNET_UDP_BATCH_MAX) without blocking
 * (sendmmsg, MSG_DONTWAIT | MSG_NOSIGNAL), each to its peer and from its
 * local address when it has one.  Returns how many were sent (>= 1; fewer
 * than count when the next one failed: call again from there), or -errno
 * for the first datagram (-EAGAIN: the send buffer is full).
 */
int cnet_udp_send_batch(int fd, const struct cnet_udp_dgram *d, int count);

/* One datagram (sendto) to addr, without blocking; for clients and tests. */
ssize_t cnet_udp_send_to(int fd, const void *buf, size_t len, const struct sockaddr *addr,
                         socklen_t addr_len);

#ifdef __cplusplus
}
#endif

#endif /* CNETSHIM_H */
