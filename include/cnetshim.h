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
 *     in cnet_resolve / cnet_tcp_listen_host / cnet_tcp_connect_host uses
 *     getaddrinfo, which allocates; it runs once per listen or connect).
 *   - descriptors created here are close-on-exec.
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
 * Resolve host (a name, an IPv4 literal or an IPv6 literal, without
 * brackets) and port into *out.  passive != 0 resolves for bind()
 * (AI_PASSIVE; host NULL means the IPv4 wildcard).  The first address
 * getaddrinfo prefers is returned.
 * Errors: -EADDRNOTAVAIL when the name does not resolve, -EAGAIN when the
 * resolver failed temporarily, -EINVAL for malformed input.
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

/* cnet_resolve(host, port, passive=1) followed by cnet_tcp_listen. */
int cnet_tcp_listen_host(const char *host, uint16_t port, int backlog,
                         int flags, uint16_t *bound_port);

/*
 * Accept one connection: accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
 * peer / peer_len may be NULL.  -EAGAIN when nothing is pending.
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

/* cnet_resolve(host, port, passive=0) followed by cnet_tcp_connect. */
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
 * count; an interrupted wait returns 0 (the caller's loop goes round). */
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
 * Block the given signals in the calling thread (threads created later
 * inherit the mask) and return a non-blocking, close-on-exec signalfd that
 * delivers them as readable events.  Call it before starting threads.
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
 * or negative (-errno as returned above).  Unknown values give "EUNKNOWN".
 * The string is static; never free it.
 */
const char *cnet_errno_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* CNETSHIM_H */
