/*
 * cnet_echo_once.c - the smallest complete use of CNetShim from C.
 *
 * Listens on 127.0.0.1 port 0, connects to itself, accepts, sends a message,
 * reads it on the accepted side, echoes it back and checks the echo.
 *
 *     cc examples/cnet_echo_once.c $(pkg-config --cflags --libs cnetshim)
 *
 * Every shim call returns >= 0 or -errno, so errors are plain return values.
 */
#include <cnetshim.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One line on stderr naming the failed step and the error, exit status 1. */
static int fail(const char *op, long rc) {
    fprintf(stderr, "cnet_echo_once: %s: %s\n", op, cnet_errno_name((int)rc));
    return 1;
}

int main(void) {
    static const char message[] = "hello from cnet_echo_once";
    const size_t len = sizeof(message) - 1;
    char received[sizeof(message)];
    char echoed[sizeof(message)];

    uint16_t port = 0;
    int listener = cnet_tcp_listen_host("127.0.0.1", 0, 16, 0, &port);
    if (listener < 0) return fail("listen", listener);

    int client = cnet_tcp_connect_host("127.0.0.1", port, 5000, 0);
    if (client < 0) return fail("connect", client);

    /* The listener is blocking, so accept waits for the queued connection;
     * the accepted socket comes back non-blocking and is made blocking
     * here for the simple send_all / recv_all calls below. */
    int server = cnet_accept(listener, NULL, NULL);
    if (server < 0) return fail("accept", server);
    int rc = cnet_set_nonblocking(server, 0);
    if (rc < 0) return fail("set_nonblocking", rc);

    /* Timeouts so a broken peer can never hang the program. */
    if ((rc = cnet_set_recv_timeout(server, 5000)) < 0) return fail("set_recv_timeout", rc);
    if ((rc = cnet_set_recv_timeout(client, 5000)) < 0) return fail("set_recv_timeout", rc);

    ssize_t n = cnet_send_all(client, message, len, NULL);
    if (n < 0) return fail("send_all", n);

    n = cnet_recv_all(server, received, len, NULL);
    if (n < 0) return fail("recv_all (server)", n);
    /* A short count means the peer closed early: no errno, so say ENODATA. */
    if ((size_t)n != len) return fail("recv_all (server)", -ENODATA);

    n = cnet_send_all(server, received, len, NULL);
    if (n < 0) return fail("send_all (echo)", n);

    n = cnet_recv_all(client, echoed, len, NULL);
    if (n < 0) return fail("recv_all (client)", n);
    if ((size_t)n != len) return fail("recv_all (client)", -ENODATA);
    if (memcmp(echoed, message, len) != 0) return fail("verify", -EBADMSG);

    cnet_close(server);
    cnet_close(client);
    cnet_close(listener);
    printf("cnet_echo_once: ok (%zu bytes via port %u)\n", len, (unsigned)port);
    return 0;
}
