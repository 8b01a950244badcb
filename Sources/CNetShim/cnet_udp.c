/*
 * cnet_udp.c - the UDP part of include/cnetshim.h: bind with destination
 * address reporting (IP_PKTINFO / IPV6_RECVPKTINFO) and recvmmsg / sendmmsg
 * over caller-owned slots (struct cnet_udp_dgram).  The kernel structures
 * of one batch (mmsghdr, iovec, control buffers) live on this call's stack:
 * no allocation, no global state.  Every function returns >= 0 or -errno.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "cnetshim.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for one IPv4 or IPv6 pktinfo control message. */
#define CNET_UDP_CONTROL_LEN                                                                      \
    (CMSG_SPACE(sizeof(struct in6_pktinfo)) > CMSG_SPACE(sizeof(struct in_pktinfo))              \
         ? CMSG_SPACE(sizeof(struct in6_pktinfo))                                                 \
         : CMSG_SPACE(sizeof(struct in_pktinfo)))

/* A control buffer aligned for struct cmsghdr (whose strictest member is
 * size_t; cmsghdr itself has a flexible array member, so not used here). */
union cnet_udp_control {
    char buf[CNET_UDP_CONTROL_LEN];
    size_t align;
};

static int udp_set_int(int fd, int level, int name, int value) {
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return -errno;
    return 0;
}

static int udp_family(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    return ss.ss_family;
}

int cnet_udp_enable_pktinfo(int fd) {
    int family = udp_family(fd);
    if (family < 0) return family;
    if (family == AF_INET) return udp_set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
    if (family == AF_INET6) return udp_set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    return -EAFNOSUPPORT;
}

int cnet_udp_bind(const struct sockaddr *addr, socklen_t len, int flags, uint16_t *bound_port) {
    if (addr == NULL) return -EINVAL;
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) return -EAFNOSUPPORT;
    int type = SOCK_DGRAM | SOCK_CLOEXEC | ((flags & CNET_NONBLOCK) ? SOCK_NONBLOCK : 0);
    int fd = socket(addr->sa_family, type, 0);
    if (fd < 0) return -errno;
    /* No SO_REUSEADDR: UDP has no TIME_WAIT to outlive, and on a datagram
     * socket it would let a second server bind the same port silently. */
    int rc = 0;
    if (flags & CNET_UDP_REUSEPORT) rc = udp_set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (rc == 0 && addr->sa_family == AF_INET6) rc = udp_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (rc == 0 && bind(fd, addr, len) < 0) rc = -errno;
    if (rc == 0) rc = cnet_udp_enable_pktinfo(fd);
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

int cnet_udp_bind_host(const char *host, uint16_t port, int flags, uint16_t *bound_port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len = 0;
    int rc = cnet_resolve(host, port, 1, &ss, &len);
    if (rc < 0) return rc;
    return cnet_udp_bind((struct sockaddr *)&ss, len, flags, bound_port);
}

/* The destination address of a received datagram, from its pktinfo. */
static void udp_read_local(struct msghdr *msg, struct cnet_udp_dgram *d) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            struct sockaddr_in *sin = (struct sockaddr_in *)&d->local;
            sin->sin_family = AF_INET;
            sin->sin_addr = info.ipi_addr;
            d->local_len = sizeof(*sin);
            d->ifindex = info.ipi_ifindex;
            d->flags |= CNET_UDP_HAS_LOCAL;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->local;
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = info.ipi6_addr;
            d->local_len = sizeof(*sin6);
            d->ifindex = (int)info.ipi6_ifindex;
            d->flags |= CNET_UDP_HAS_LOCAL;
        }
    }
}

int cnet_udp_recv_batch(int fd, struct cnet_udp_dgram *d, int count) {
    if (d == NULL || count < 1 || count > CNET_UDP_BATCH_MAX) return -EINVAL;
    struct mmsghdr msgs[CNET_UDP_BATCH_MAX];
    struct iovec iov[CNET_UDP_BATCH_MAX];
    union cnet_udp_control control[CNET_UDP_BATCH_MAX];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = d[i].buf;
        iov[i].iov_len = d[i].cap;
        msgs[i].msg_hdr.msg_name = &d[i].peer;
        msgs[i].msg_hdr.msg_namelen = sizeof(d[i].peer);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof(control[i].buf);
    }
    int n;
    do {
        /* MSG_TRUNC: msg_len is the datagram's real length, even when
         * longer than the slot (so truncation can be counted). */
        n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT | MSG_TRUNC, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (int i = 0; i < n; i++) {
        d[i].len = msgs[i].msg_len;
        d[i].peer_len = msgs[i].msg_hdr.msg_namelen;
        d[i].flags = 0;
        d[i].local_len = 0;
        d[i].ifindex = 0;
        if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || d[i].len > d[i].cap) d[i].flags |= CNET_UDP_TRUNCATED;
        udp_read_local(&msgs[i].msg_hdr, &d[i]);
    }
    return n;
}

/* The pktinfo control message that makes datagram d leave from d->local.
 * Returns the control length used (0: none). */
static size_t udp_write_local(const struct cnet_udp_dgram *d, union cnet_udp_control *control) {
    if (!(d->flags & CNET_UDP_HAS_LOCAL)) return 0;
    memset(control, 0, sizeof(*control));
    struct cmsghdr *c = (struct cmsghdr *)control->buf;
    if (d->local.ss_family == AF_INET) {
        struct in_pktinfo info;
        memset(&info, 0, sizeof(info));
        /* ipi_spec_dst is the source address; ifindex 0 lets routing pick
         * the interface (a reply need not leave where the request came in). */
        info.ipi_spec_dst = ((const struct sockaddr_in *)&d->local)->sin_addr;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(c), &info, sizeof(info));
        return CMSG_SPACE(sizeof(info));
    }
    if (d->local.ss_family == AF_INET6) {
        struct in6_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.ipi6_addr = ((const struct sockaddr_in6 *)&d->local)->sin6_addr;
        /* The arrival interface: needed for link-local sources. */
        info.ipi6_ifindex = (unsigned)d->ifindex;
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(c), &info, sizeof(info));
        return CMSG_SPACE(sizeof(info));
    }
    return 0;
}

int cnet_udp_send_batch(int fd, const struct cnet_udp_dgram *d, int count) {
    if (d == NULL || count < 1 || count > CNET_UDP_BATCH_MAX) return -EINVAL;
    struct mmsghdr msgs[CNET_UDP_BATCH_MAX];
    struct iovec iov[CNET_UDP_BATCH_MAX];
    union cnet_udp_control control[CNET_UDP_BATCH_MAX];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        /* sendmmsg takes non-const pointers but does not write through them. */
        iov[i].iov_base = d[i].buf;
        iov[i].iov_len = d[i].len;
        msgs[i].msg_hdr.msg_name = (void *)&d[i].peer;
        msgs[i].msg_hdr.msg_namelen = d[i].peer_len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        size_t clen = udp_write_local(&d[i], &control[i]);
        msgs[i].msg_hdr.msg_control = clen ? control[i].buf : NULL;
        msgs[i].msg_hdr.msg_controllen = clen;
    }
    int n;
    do {
        n = sendmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}

ssize_t cnet_udp_send_to(int fd, const void *buf, size_t len, const struct sockaddr *addr,
                         socklen_t addr_len) {
    ssize_t n;
    do {
        n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, addr, addr_len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}
