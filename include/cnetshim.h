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

#ifdef __cplusplus
}
#endif

#endif /* CNETSHIM_H */
