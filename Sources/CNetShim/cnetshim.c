/*
 * cnetshim.c - implementation of include/cnetshim.h.
 * Every function returns >= 0 or -errno and retries EINTR (close excepted).
 *
 * accept4, signalfd, eventfd, EPOLLEXCLUSIVE and EAI_NODATA are GNU/Linux
 * interfaces: the file asks for them itself, before the first include, so
 * it builds the same with or without -D_GNU_SOURCE and under -std=c11.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "cnetshim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int set_int_option(int fd, int level, int name, int value) {
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return -errno;
    return 0;
}

/* ---------------------------------------------------------------- addresses */

/* A getaddrinfo failure as this library returns it (see the header). */
static int gai_failure(int rc) {
    if (rc == EAI_SYSTEM) return errno > 0 ? -errno : CNET_GAI_ERROR(EAI_SYSTEM);
    if (rc == EAI_MEMORY) return -ENOMEM;
    return CNET_GAI_ERROR(rc);
}

int cnet_resolve_all(const char *host, uint16_t port, int passive,
                     struct cnet_address *out, int max) {
    if (out == NULL || max < 1) return -EINVAL;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (passive && host == NULL) host = "0.0.0.0";
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) return gai_failure(rc);
    int count = 0;
    for (struct addrinfo *ai = found; ai != NULL && count < max; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(out[0].addr))
            continue;
        memset(&out[count], 0, sizeof(out[count]));
        memcpy(&out[count].addr, ai->ai_addr, ai->ai_addrlen);
        out[count].len = (socklen_t)ai->ai_addrlen;
        count++;
    }
    freeaddrinfo(found);
    /* Resolved, but to no IPv4 or IPv6 address: as good as unknown. */
    return count > 0 ? count : CNET_GAI_ERROR(EAI_NONAME);
}

int cnet_resolve(const char *host, uint16_t port, int passive,
                 struct sockaddr_storage *out, socklen_t *out_len) {
    if (out == NULL || out_len == NULL) return -EINVAL;
    struct cnet_address first;
    memset(&first, 0, sizeof(first));
    int rc = cnet_resolve_all(host, port, passive, &first, 1);
    if (rc < 0) return rc;
    memcpy(out, &first.addr, sizeof(*out));
    *out_len = first.len;
    return 0;
}

int cnet_sockaddr_format(const struct sockaddr *addr, socklen_t len,
                         char *buf, size_t buf_len) {
    if (addr == NULL || buf == NULL || buf_len == 0) return -EINVAL;
    buf[0] = '\0'; /* NUL-terminated on every error path too */
    char ip[INET6_ADDRSTRLEN];
    int n;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)) == NULL) return -errno;
        n = snprintf(buf, buf_len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)) == NULL) return -errno;
        n = snprintf(buf, buf_len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        return -EAFNOSUPPORT;
    }
    if (n < 0) return -EINVAL;
    if ((size_t)n >= buf_len) return -ENOSPC;
    return n;
}

int cnet_local_port(int fd) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/* ---------------------------------------------------------------- lifecycle */

int cnet_tcp_listen(const struct sockaddr *addr, socklen_t len, int backlog,
                    int flags, uint16_t *bound_port) {
    if (addr == NULL) return -EINVAL;
    int type = SOCK_STREAM | SOCK_CLOEXEC | ((flags & CNET_NONBLOCK) ? SOCK_NONBLOCK : 0);
    int fd = socket(addr->sa_family, type, 0);
    if (fd < 0) return -errno;
    int rc = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && (flags & CNET_LISTEN_REUSEPORT)) rc = set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    /* Dual stack: "::" should also take IPv4 clients, whatever the sysctl says. */
    if (rc == 0 && addr->sa_family == AF_INET6) rc = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (rc == 0 && bind(fd, addr, len) < 0) rc = -errno;
    if (rc == 0 && listen(fd, backlog) < 0) rc = -errno;
    if (rc == 0 && bound_port != NULL) {
        int port = cnet_local_port(fd);
        if (port < 0) rc = port; else *bound_port = (uint16_t)port;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int cnet_tcp_listen_host(const char *host, uint16_t port, int backlog,
                         int flags, uint16_t *bound_port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len = 0;
    int rc = cnet_resolve(host, port, 1, &ss, &len);
    if (rc < 0) return rc;
    return cnet_tcp_listen((struct sockaddr *)&ss, len, backlog, flags, bound_port);
}

int cnet_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len) {
    socklen_t fallback_len = sizeof(struct sockaddr_storage);
    socklen_t *lenp = peer_len;
    if (peer != NULL && lenp == NULL) lenp = &fallback_len;
    if (peer != NULL) {
        memset(peer, 0, sizeof(*peer));
        *lenp = sizeof(struct sockaddr_storage);
    }
    for (;;) {
        int fd = accept4(listen_fd, (struct sockaddr *)peer, peer ? lenp : NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) return fd;
        if (errno == EINTR) continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Milliseconds on the monotonic clock, for connect's deadline. */
static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cnet_connect_start(const struct sockaddr *addr, socklen_t len) {
    if (addr == NULL) return -EINVAL;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* A non-blocking connect interrupted by a signal goes on in the kernel:
     * EINTR, like EINPROGRESS, means "wait for writability". */
    if (connect(fd, addr, len) < 0 && errno != EINPROGRESS && errno != EINTR) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cnet_connect_start_from(const struct sockaddr *addr, socklen_t len, const struct sockaddr *local,
                            socklen_t local_len) {
    if (addr == NULL || local == NULL || local->sa_family != addr->sa_family) return -EINVAL;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* The port is chosen at connect, per (local, remote) pair, not at bind:
     * each source address then has its own 64k ports to every server. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, local, local_len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (connect(fd, addr, len) < 0 && errno != EINPROGRESS && errno != EINTR) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cnet_connect_result(int fd) {
    int err = cnet_socket_error(fd);
    return err > 0 ? -err : err;
}

int cnet_tcp_connect(const struct sockaddr *addr, socklen_t len, int timeout_ms, int flags) {
    if (addr == NULL || len > sizeof(struct sockaddr_storage)) return -EINVAL;
    struct cnet_address one;
    memset(&one, 0, sizeof(one));
    memcpy(&one.addr, addr, len);
    one.len = len;
    return cnet_tcp_connect_list(&one, 1, timeout_ms, flags, NULL);
}

/* RFC 8305 section 4: IPv6 first, then the families take turns; each
 * family keeps the caller's order.  Writes count indexes into order. */
static void order_for_connect(const struct cnet_address *list, int count, int *order) {
    int v6[CNET_MAX_ADDRESSES], other[CNET_MAX_ADDRESSES];
    int n6 = 0, nother = 0;
    for (int i = 0; i < count; i++) {
        if (list[i].addr.ss_family == AF_INET6) v6[n6++] = i; else other[nother++] = i;
    }
    int k = 0, i6 = 0, iother = 0;
    while (i6 < n6 || iother < nother) {
        if (i6 < n6) order[k++] = v6[i6++];
        if (iother < nother) order[k++] = other[iother++];
    }
}

/* The attempts of one cnet_tcp_connect_list call still waiting for an
 * answer, in the order they were started. */
struct connect_attempts {
    struct pollfd poll[CNET_MAX_ADDRESSES];
    int index[CNET_MAX_ADDRESSES];
    int count;
};

static void close_attempts(struct connect_attempts *attempts) {
    for (int k = 0; k < attempts->count; k++) close(attempts->poll[k].fd);
    attempts->count = 0;
}

/* Milliseconds from now to at, for poll: at least 0, at most INT_MAX. */
static int poll_wait_ms(int64_t now, int64_t at) {
    if (at <= now) return 0;
    return at - now > INT_MAX ? INT_MAX : (int)(at - now);
}

int cnet_tcp_connect_list(const struct cnet_address *list, int count,
                          int timeout_ms, int flags, int *chosen) {
    if (list == NULL || count < 1) return -EINVAL;
    if (count > CNET_MAX_ADDRESSES) count = CNET_MAX_ADDRESSES;
    int order[CNET_MAX_ADDRESSES];
    order_for_connect(list, count, order);

    struct connect_attempts attempts;
    attempts.count = 0;
    int started = 0;
    int last_error = -ECONNREFUSED; /* replaced by the first real failure */
    const int64_t start = monotonic_ms();
    const int64_t deadline = timeout_ms > 0 ? start + timeout_ms : INT64_MAX;
    int64_t next_attempt_at = start;

    for (;;) {
        int64_t now = monotonic_ms();
        if (now >= deadline) break;
        if (started < count && (attempts.count == 0 || now >= next_attempt_at)) {
            int i = order[started++];
            int fd = cnet_connect_start((const struct sockaddr *)&list[i].addr, list[i].len);
            if (fd < 0) {
                last_error = fd; /* failed at once: the next address starts now */
                continue;
            }
            attempts.poll[attempts.count] = (struct pollfd){.fd = fd, .events = POLLOUT, .revents = 0};
            attempts.index[attempts.count++] = i;
            next_attempt_at = now + CNET_CONNECT_ATTEMPT_DELAY_MS;
            continue;
        }
        if (attempts.count == 0) return last_error; /* every address failed */

        int64_t wake_at = started < count && next_attempt_at < deadline ? next_attempt_at : deadline;
        int wait_ms = wake_at == INT64_MAX ? -1 : poll_wait_ms(now, wake_at);
        int ready = poll(attempts.poll, (nfds_t)attempts.count, wait_ms);
        if (ready < 0) {
            if (errno == EINTR) continue;
            int err = -errno;
            close_attempts(&attempts);
            return err;
        }
        /* Answered attempts leave the set; of those that connected, the
         * earliest started wins and every other attempt is closed. */
        int kept = 0, winner = -1, winner_index = -1;
        for (int k = 0; k < attempts.count; k++) {
            struct pollfd entry = attempts.poll[k];
            if (winner < 0 && entry.revents != 0) {
                int rc = cnet_connect_result(entry.fd);
                if (rc == 0 && !(flags & CNET_NONBLOCK)) rc = cnet_set_nonblocking(entry.fd, 0);
                if (rc == 0) {
                    winner = entry.fd;
                    winner_index = attempts.index[k];
                    continue;
                }
                close(entry.fd);
                last_error = rc;
                next_attempt_at = now; /* a failure starts the next attempt at once */
                continue;
            }
            attempts.poll[kept] = entry;
            attempts.index[kept++] = attempts.index[k];
        }
        attempts.count = kept;
        if (winner >= 0) {
            close_attempts(&attempts);
            if (chosen != NULL) *chosen = winner_index;
            return winner;
        }
    }
    close_attempts(&attempts);
    return -ETIMEDOUT;
}

int cnet_tcp_connect_host(const char *host, uint16_t port, int timeout_ms, int flags) {
    struct cnet_address list[CNET_MAX_ADDRESSES];
    memset(list, 0, sizeof(list));
    int count = cnet_resolve_all(host, port, 0, list, CNET_MAX_ADDRESSES);
    if (count < 0) return count;
    return cnet_tcp_connect_list(list, count, timeout_ms, flags, NULL);
}

int cnet_shutdown_write(int fd) {
    return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

int cnet_close(int fd) {
    return close(fd) < 0 ? -errno : 0;
}

/* ---------------------------------------------------------------- blocking loops */

ssize_t cnet_send_all(int fd, const void *buf, size_t len, size_t *sent) {
    if (sent != NULL) *sent = 0;
    if (len > SSIZE_MAX) return -EINVAL;
    const char *p = buf;
    size_t done = 0;
    ssize_t result = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n >= 0) { done += (size_t)n; continue; }
        if (errno == EINTR) continue;
        result = errno == EWOULDBLOCK ? -EAGAIN : -errno;
        break;
    }
    if (sent != NULL) *sent = done;
    return result < 0 ? result : (ssize_t)done;
}

ssize_t cnet_recv_all(int fd, void *buf, size_t len, size_t *received) {
    if (received != NULL) *received = 0;
    if (len > SSIZE_MAX) return -EINVAL;
    char *p = buf;
    size_t done = 0;
    ssize_t result = 0;
    while (done < len) {
        ssize_t n = recv(fd, p + done, len - done, 0);
        if (n > 0) { done += (size_t)n; continue; }
        if (n == 0) break; /* peer closed: the short count is the answer */
        if (errno == EINTR) continue;
        result = errno == EWOULDBLOCK ? -EAGAIN : -errno;
        break;
    }
    if (received != NULL) *received = done;
    return result < 0 ? result : (ssize_t)done;
}

/* ---------------------------------------------------------------- non-blocking */

ssize_t cnet_send(int fd, const void *buf, size_t len) {
    if (len > SSIZE_MAX) return -EINVAL; /* the result must fit in ssize_t */
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t cnet_recv(int fd, void *buf, size_t len) {
    if (len > SSIZE_MAX) return -EINVAL; /* the result must fit in ssize_t */
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t cnet_send_some(int fd, const void *buf, size_t len) {
    if (len > SSIZE_MAX) return -EINVAL; /* the result must fit in ssize_t */
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = cnet_send(fd, p + done, len - done);
        if (n == -EAGAIN) break;
        if (n < 0) return done > 0 ? (ssize_t)done : n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t cnet_recv_some(int fd, void *buf, size_t len) {
    if (len > SSIZE_MAX) return -EINVAL; /* the result must fit in ssize_t */
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = cnet_recv(fd, p + done, len - done);
        if (n == 0) break;
        if (n < 0) {
            if (done > 0) break;
            return n;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* ---------------------------------------------------------------- options */

int cnet_set_reuseaddr(int fd, int on) { return set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0); }
int cnet_set_reuseport(int fd, int on) { return set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0); }
int cnet_set_nodelay(int fd, int on) { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }
int cnet_set_send_buffer(int fd, int bytes) { return set_int_option(fd, SOL_SOCKET, SO_SNDBUF, bytes); }
int cnet_set_recv_buffer(int fd, int bytes) { return set_int_option(fd, SOL_SOCKET, SO_RCVBUF, bytes); }

int cnet_set_nonblocking(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0) return -errno;
    return 0;
}

int cnet_set_cloexec(int fd, int on) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) return -errno;
    int want = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
    if (want != fl && fcntl(fd, F_SETFD, want) < 0) return -errno;
    return 0;
}

static int set_timeout_option(int fd, int name, int timeout_ms) {
    if (timeout_ms < 0) return -EINVAL;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) < 0) return -errno;
    return 0;
}

int cnet_set_recv_timeout(int fd, int timeout_ms) { return set_timeout_option(fd, SO_RCVTIMEO, timeout_ms); }
int cnet_set_send_timeout(int fd, int timeout_ms) { return set_timeout_option(fd, SO_SNDTIMEO, timeout_ms); }

int cnet_set_linger_reset(int fd) {
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0) return -errno;
    return 0;
}

int cnet_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return err;
}

/* ---------------------------------------------------------------- errors */

/* The magnitude of a resolver error, |EAI_*|, or 0 for any other value. */
static int gai_magnitude(int rc) {
    /* -INT_MIN overflows (undefined behaviour); it is no error code anyway. */
    if (rc == INT_MIN) return 0;
    if (rc < 0) rc = -rc;
    return rc > CNET_GAI_ERROR_BASE && rc < 2 * CNET_GAI_ERROR_BASE ? rc - CNET_GAI_ERROR_BASE : 0;
}

int cnet_is_gai_error(int rc) { return gai_magnitude(rc) != 0; }

int cnet_gai_code(int rc) {
    int magnitude = gai_magnitude(rc);
    /* glibc's EAI_* values are negative, the BSDs' positive. */
    return EAI_NONAME < 0 ? -magnitude : magnitude;
}

const char *cnet_gai_strerror(int rc) {
    if (!cnet_is_gai_error(rc)) return "Unknown resolver error";
    return gai_strerror(cnet_gai_code(rc));
}

static const char *gai_name(int code) {
    switch (code) {
#define CNET_NAME(e) case e: return #e;
    CNET_NAME(EAI_BADFLAGS) CNET_NAME(EAI_NONAME) CNET_NAME(EAI_AGAIN)
    CNET_NAME(EAI_FAIL) CNET_NAME(EAI_FAMILY) CNET_NAME(EAI_SOCKTYPE)
    CNET_NAME(EAI_SERVICE) CNET_NAME(EAI_MEMORY) CNET_NAME(EAI_SYSTEM)
    CNET_NAME(EAI_OVERFLOW)
#ifdef EAI_NODATA
    CNET_NAME(EAI_NODATA)
#endif
#ifdef EAI_ADDRFAMILY
    CNET_NAME(EAI_ADDRFAMILY)
#endif
#undef CNET_NAME
    default: return "EUNKNOWN";
    }
}

const char *cnet_errno_name(int err) {
    if (cnet_is_gai_error(err)) return gai_name(cnet_gai_code(err));
    /* -INT_MIN overflows (undefined behaviour); it is no errno anyway. */
    if (err == INT_MIN) return "EUNKNOWN";
    if (err < 0) err = -err;
    switch (err) {
#define CNET_NAME(e) case e: return #e;
    CNET_NAME(EPERM) CNET_NAME(ENOENT) CNET_NAME(ESRCH) CNET_NAME(EINTR)
    CNET_NAME(EIO) CNET_NAME(ENXIO) CNET_NAME(E2BIG) CNET_NAME(ENOEXEC)
    CNET_NAME(EBADF) CNET_NAME(ECHILD) CNET_NAME(EAGAIN) CNET_NAME(ENOMEM)
    CNET_NAME(EACCES) CNET_NAME(EFAULT) CNET_NAME(EBUSY) CNET_NAME(EEXIST)
    CNET_NAME(EXDEV) CNET_NAME(ENODEV) CNET_NAME(ENOTDIR) CNET_NAME(EISDIR)
    CNET_NAME(EINVAL) CNET_NAME(ENFILE) CNET_NAME(EMFILE) CNET_NAME(ENOTTY)
    CNET_NAME(EFBIG) CNET_NAME(ENOSPC) CNET_NAME(ESPIPE) CNET_NAME(EROFS)
    CNET_NAME(EMLINK) CNET_NAME(EPIPE) CNET_NAME(EDOM) CNET_NAME(ERANGE)
    CNET_NAME(EDEADLK) CNET_NAME(ENAMETOOLONG) CNET_NAME(ENOLCK)
    CNET_NAME(ENOSYS) CNET_NAME(ENOTEMPTY) CNET_NAME(ELOOP)
    CNET_NAME(ENOMSG) CNET_NAME(ENOSTR) CNET_NAME(ENODATA) CNET_NAME(ETIME)
    CNET_NAME(ENOSR) CNET_NAME(EPROTO) CNET_NAME(EBADMSG) CNET_NAME(EOVERFLOW)
    CNET_NAME(EILSEQ) CNET_NAME(EUSERS) CNET_NAME(ENOTSOCK)
    CNET_NAME(EDESTADDRREQ) CNET_NAME(EMSGSIZE) CNET_NAME(EPROTOTYPE)
    CNET_NAME(ENOPROTOOPT) CNET_NAME(EPROTONOSUPPORT)
    CNET_NAME(ESOCKTNOSUPPORT) CNET_NAME(EOPNOTSUPP) CNET_NAME(EPFNOSUPPORT)
    CNET_NAME(EAFNOSUPPORT) CNET_NAME(EADDRINUSE) CNET_NAME(EADDRNOTAVAIL)
    CNET_NAME(ENETDOWN) CNET_NAME(ENETUNREACH) CNET_NAME(ENETRESET)
    CNET_NAME(ECONNABORTED) CNET_NAME(ECONNRESET) CNET_NAME(ENOBUFS)
    CNET_NAME(EISCONN) CNET_NAME(ENOTCONN) CNET_NAME(ESHUTDOWN)
    CNET_NAME(ETOOMANYREFS) CNET_NAME(ETIMEDOUT) CNET_NAME(ECONNREFUSED)
    CNET_NAME(EHOSTDOWN) CNET_NAME(EHOSTUNREACH) CNET_NAME(EALREADY)
    CNET_NAME(EINPROGRESS) CNET_NAME(ESTALE) CNET_NAME(EDQUOT)
    CNET_NAME(ECANCELED) CNET_NAME(EOWNERDEAD) CNET_NAME(ENOTRECOVERABLE)
#undef CNET_NAME
    default: return "EUNKNOWN";
    }
}

/* ---------------------------------------------------------------- event loop plumbing */

_Static_assert(CNET_EV_READ == EPOLLIN, "CNET_EV_READ");
_Static_assert(CNET_EV_WRITE == EPOLLOUT, "CNET_EV_WRITE");
_Static_assert(CNET_EV_ERROR == EPOLLERR, "CNET_EV_ERROR");
_Static_assert(CNET_EV_HANGUP == EPOLLHUP, "CNET_EV_HANGUP");
_Static_assert(CNET_EV_EXCLUSIVE == (uint32_t)EPOLLEXCLUSIVE, "CNET_EV_EXCLUSIVE");

int cnet_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int epoll_control(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int cnet_epoll_add(int epfd, int fd, uint32_t events, uint64_t token) {
    return epoll_control(epfd, EPOLL_CTL_ADD, fd, events, token);
}

int cnet_epoll_modify(int epfd, int fd, uint32_t events, uint64_t token) {
    return epoll_control(epfd, EPOLL_CTL_MOD, fd, events, token);
}

int cnet_epoll_remove(int epfd, int fd) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

int cnet_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms) {
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n >= 0) return n;
    return errno == EINTR ? 0 : -errno;
}

uint64_t cnet_epoll_event_token(const struct epoll_event *events, int i) { return events[i].data.u64; }
uint32_t cnet_epoll_event_flags(const struct epoll_event *events, int i) { return events[i].events; }

int cnet_eventfd_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cnet_eventfd_signal(int fd) {
    uint64_t one = 1;
    for (;;) {
        if (write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one)) return 0;
        if (errno == EINTR) continue;
        /* EAGAIN: the counter is at its maximum, so the loop is woken anyway. */
        return errno == EAGAIN ? 0 : -errno;
    }
}

int64_t cnet_eventfd_drain(int fd) {
    uint64_t value = 0;
    for (;;) {
        if (read(fd, &value, sizeof(value)) == (ssize_t)sizeof(value)) return (int64_t)value;
        if (errno == EINTR) continue;
        return -errno;
    }
}

int cnet_signalfd_open(const int *signals, int count) {
    if (count < 0 || (count > 0 && signals == NULL)) return -EINVAL;
    sigset_t mask;
    sigemptyset(&mask);
    for (int i = 0; i < count; i++)
        if (sigaddset(&mask, signals[i]) < 0) return -EINVAL;
    /* The descriptor first: if it cannot be made, no signal was blocked, so
     * SIGINT/SIGTERM keep their default action and a Ctrl-C still works. */
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = pthread_sigmask(SIG_BLOCK, &mask, NULL);
    if (rc != 0) {
        close(fd);
        return -rc;
    }
    return fd;
}

int cnet_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof(info));
        if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        return -EIO;
    }
}

int cnet_ignore_sigpipe(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL) < 0 ? -errno : 0;
}
