/*
 * cnet_tls.h - TLS for trustctl on OpenSSL 3, kept apart from CNetShim so
 * that plain C users of the socket shim never link OpenSSL.
 *
 * TLS here only transforms bytes: the caller owns the socket and does every
 * recv and send itself (epoll or io_uring alike). A connection has two
 * memory buffers: ciphertext received from the network goes in with
 * cnet_tls_feed, ciphertext to send comes out with cnet_tls_take; between
 * them cnet_tls_handshake, cnet_tls_read and cnet_tls_write move plaintext.
 *
 * Conventions:
 *   - >= 0 on success, -errno on failure: -EAGAIN means "more input needed"
 *     (feed more ciphertext, after sending what cnet_tls_take gives),
 *     -EPROTO a TLS failure whose reason cnet_tls_conn_error returns
 *     (OpenSSL's reason string, with the certificate check's if one failed);
 *   - no global state beyond OpenSSL's own; one connection is used by one
 *     thread at a time; a context may be shared by threads.
 *   - a connection keeps its context alive (reference counted), so a
 *     context may be freed (replaced on reload) while connections use it.
 */
#ifndef CNET_TLS_H
#define CNET_TLS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cnet_tls_ctx cnet_tls_ctx;
typedef struct cnet_tls_conn cnet_tls_conn;
typedef struct cnet_tls_session cnet_tls_session;

/* Which file a context failed on (the *which out-parameter). */
enum {
    CNET_TLS_FILE_NONE = 0,
    CNET_TLS_FILE_CERT = 1,
    CNET_TLS_FILE_KEY = 2,
    CNET_TLS_FILE_CA = 3
};

/*
 * A server context from PEM files: the certificate (chain), its private key
 * (checked against the certificate) and, if client_ca is not NULL, the CAs
 * that client certificates must chain to (mutual TLS: a client without a
 * valid certificate fails the handshake). TLS 1.2 minimum, session tickets
 * and a server session cache for resumption, SSL_MODE_RELEASE_BUFFERS.
 * On failure returns -errno (-ENOENT, -EACCES... for a file that cannot be
 * opened, -EINVAL for one OpenSSL refuses), sets *which to the file, and
 * writes the reason into err (err_size bytes, NUL-terminated).
 */
int cnet_tls_server_ctx_new(const char *cert_file, const char *key_file, const char *client_ca_file,
                            cnet_tls_ctx **out, int *which, char *err, size_t err_size);

/*
 * A client context. ca_file: the CAs the server must chain to (NULL: the
 * system's default store). insecure != 0: no certificate check at all.
 * cert_file/key_file (both or neither, may be NULL): a client certificate
 * for mutual TLS. Errors as for cnet_tls_server_ctx_new.
 */
int cnet_tls_client_ctx_new(const char *ca_file, int insecure, const char *cert_file, const char *key_file,
                            cnet_tls_ctx **out, int *which, char *err, size_t err_size);

void cnet_tls_ctx_free(cnet_tls_ctx *ctx);

/*
 * A server-side connection, or NULL when out of memory.
 */
cnet_tls_conn *cnet_tls_conn_new_server(cnet_tls_ctx *ctx);

/*
 * A client-side connection. server_name (may be NULL) is sent as SNI when
 * it is a host name (not an address literal) and, unless the context is
 * insecure, the server's certificate must match it (host name or IP
 * address). NULL when out of memory or the name is refused.
 */
cnet_tls_conn *cnet_tls_conn_new_client(cnet_tls_ctx *ctx, const char *server_name);

void cnet_tls_conn_free(cnet_tls_conn *conn);

/* Ciphertext received from the peer: all len bytes are kept. 0 or -ENOMEM. */
int cnet_tls_feed(cnet_tls_conn *conn, const void *bytes, size_t len);

/* Ciphertext waiting to be sent, in bytes. */
size_t cnet_tls_pending(const cnet_tls_conn *conn);

/* Moves up to cap bytes of ciphertext to send into buf; returns the count. */
size_t cnet_tls_take(cnet_tls_conn *conn, void *buf, size_t cap);

/*
 * Ciphertext to send without copying: *data points at the first pending
 * byte, valid until the next call on conn; returns how many are pending.
 * cnet_tls_consume drops the first n of them once the socket took them.
 */
size_t cnet_tls_peek(cnet_tls_conn *conn, const void **data);
void cnet_tls_consume(cnet_tls_conn *conn, size_t n);

/*
 * One step of the handshake: 1 once it is complete, -EAGAIN while it needs
 * more input, -EPROTO when it failed (an alert to send may be pending).
 * Send what cnet_tls_pending reports after every call.
 */
int cnet_tls_handshake(cnet_tls_conn *conn);

/* 1 once the handshake has completed. */
int cnet_tls_is_established(const cnet_tls_conn *conn);

/*
 * Decrypted bytes: > 0 bytes read into buf, 0 when the peer sent
 * close_notify, -EAGAIN when no complete record is buffered, -EPROTO on a
 * TLS failure. (A read may also produce output, e.g. a key update's answer.)
 */
long cnet_tls_read(cnet_tls_conn *conn, void *buf, size_t cap);

/*
 * Encrypts all len bytes (after the handshake); the ciphertext is then
 * pending. Returns len, or -EPROTO / -EAGAIN (handshake not finished).
 */
long cnet_tls_write(cnet_tls_conn *conn, const void *bytes, size_t len);

/* Queues close_notify (pending afterwards). 0, or -EPROTO. */
int cnet_tls_close_notify(cnet_tls_conn *conn);

/* The reason of the last -EPROTO (never NULL; "" when none). */
const char *cnet_tls_conn_error(const cnet_tls_conn *conn);

/* "TLSv1.3", cipher name, server name the client sent (NULL if none). */
const char *cnet_tls_conn_version(const cnet_tls_conn *conn);
const char *cnet_tls_conn_cipher(const cnet_tls_conn *conn);
const char *cnet_tls_conn_server_name(const cnet_tls_conn *conn);

/* 1 when the handshake resumed a session. */
int cnet_tls_conn_session_reused(const cnet_tls_conn *conn);

/*
 * Client session resumption: take the connection's session after its
 * handshake (with TLS 1.3 the server's ticket arrives with the first
 * records read after it; NULL while there is no resumable session), and
 * offer it on a new connection before its first handshake step.
 */
cnet_tls_session *cnet_tls_conn_get_session(cnet_tls_conn *conn);
int cnet_tls_conn_set_session(cnet_tls_conn *conn, cnet_tls_session *session);
void cnet_tls_session_free(cnet_tls_session *session);

#ifdef __cplusplus
}
#endif

#endif /* CNET_TLS_H */
