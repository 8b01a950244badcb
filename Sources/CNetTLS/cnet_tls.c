/*
 * cnet_tls.c - TLS on OpenSSL 3 through memory BIOs (see cnet_tls.h).
 *
 * The caller's reactor owns the socket; a connection's SSL object reads
 * ciphertext from one memory BIO (filled by cnet_tls_feed) and writes
 * ciphertext to another (emptied by cnet_tls_take). Nothing here blocks or
 * touches a descriptor, so the same code serves the epoll and the io_uring
 * backend.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "cnet_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct cnet_tls_ctx {
    SSL_CTX *ssl_ctx;
    int insecure;
};

struct cnet_tls_conn {
    SSL *ssl;
    BIO *in;  /* ciphertext from the peer; owned by ssl */
    BIO *out; /* ciphertext to the peer; owned by ssl */
    char error[256];
};

/* The session id context that server-side sessions are bound to (needed
 * for resumption when client certificates are verified). */
static const unsigned char cnet_tls_session_context[] = "trustctl";

/* ------------------------------------------------------------------------
 * Errors
 */

static void cnet_tls_set_text(char *err, size_t err_size, const char *text) {
    if (err == NULL || err_size == 0) {
        return;
    }
    snprintf(err, err_size, "%s", text);
}

/* OpenSSL's reason for the last failure on this thread (the first queued
 * error is the cause, later ones are context); the queue is emptied. */
static void cnet_tls_take_reason(char *err, size_t err_size, const char *fallback) {
    unsigned long first = ERR_get_error();
    const char *reason = first != 0 ? ERR_reason_error_string(first) : NULL;
    if (reason != NULL) {
        cnet_tls_set_text(err, err_size, reason);
    } else if (first != 0) {
        char buffer[256];
        ERR_error_string_n(first, buffer, sizeof buffer);
        cnet_tls_set_text(err, err_size, buffer);
    } else {
        cnet_tls_set_text(err, err_size, fallback);
    }
    ERR_clear_error();
}

/* The largest certificate, key or CA file read (a system CA bundle is a
 * few hundred KiB). */
#define CNET_TLS_MAX_FILE (16L * 1024 * 1024)

/* A file OpenSSL will read: checked here so that a missing or unreadable
 * file is reported with its errno, not a PEM parse error, and so that a
 * FIFO, a device or a huge file is refused instead of blocking the start
 * (opened non-blocking, then fstat'ed). */
static int cnet_tls_check_readable(const char *path, char *err, size_t err_size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;
        cnet_tls_set_text(err, err_size, strerror(saved));
        return -saved;
    }
    struct stat info;
    int rc = fstat(fd, &info);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        cnet_tls_set_text(err, err_size, strerror(saved));
        return -saved;
    }
    if (!S_ISREG(info.st_mode)) {
        cnet_tls_set_text(err, err_size, "not a regular file");
        return -EINVAL;
    }
    if (info.st_size > CNET_TLS_MAX_FILE) {
        cnet_tls_set_text(err, err_size, "larger than 16 MiB: not a PEM file");
        return -EFBIG;
    }
    return 0;
}

/* A failure of cnet_tls_check_readable: its text is already in err. */
static int cnet_tls_which(int rc, int file, int *which) {
    if (which != NULL) {
        *which = file;
    }
    return rc;
}

static int cnet_tls_fail(int rc, int file, int *which, char *err, size_t err_size, const char *fallback) {
    if (which != NULL) {
        *which = file;
    }
    if (rc == -EINVAL) {
        cnet_tls_take_reason(err, err_size, fallback);
    }
    return rc;
}

/* Loads a certificate chain and its key into ctx and checks they match. */
static int cnet_tls_load_identity(SSL_CTX *ctx, const char *cert_file, const char *key_file, int *which,
                                  char *err, size_t err_size) {
    int rc = cnet_tls_check_readable(cert_file, err, err_size);
    if (rc < 0) {
        return cnet_tls_which(rc, CNET_TLS_FILE_CERT, which);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        return cnet_tls_fail(-EINVAL, CNET_TLS_FILE_CERT, which, err, err_size, "not a PEM certificate");
    }
    rc = cnet_tls_check_readable(key_file, err, err_size);
    if (rc < 0) {
        return cnet_tls_which(rc, CNET_TLS_FILE_KEY, which);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        return cnet_tls_fail(-EINVAL, CNET_TLS_FILE_KEY, which, err, err_size, "not a PEM private key");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return cnet_tls_fail(-EINVAL, CNET_TLS_FILE_KEY, which, err, err_size,
                             "the key does not match the certificate");
    }
    return 0;
}

static int cnet_tls_load_ca(SSL_CTX *ctx, const char *ca_file, int *which, char *err, size_t err_size) {
    int rc = cnet_tls_check_readable(ca_file, err, err_size);
    if (rc < 0) {
        return cnet_tls_which(rc, CNET_TLS_FILE_CA, which);
    }
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        return cnet_tls_fail(-EINVAL, CNET_TLS_FILE_CA, which, err, err_size, "no certificate in the CA file");
    }
    return 0;
}

/* An encrypted private key is refused rather than prompted for: OpenSSL's
 * default would read a pass phrase from the terminal, blocking the start. */
static int cnet_tls_no_password(char *buf, int size, int rwflag, void *userdata) {
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return 0;
}

static SSL_CTX *cnet_tls_ssl_ctx_new(const SSL_METHOD *method) {
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, cnet_tls_no_password);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Idle connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

static cnet_tls_ctx *cnet_tls_wrap(SSL_CTX *ssl_ctx, int insecure) {
    cnet_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }
    ctx->ssl_ctx = ssl_ctx;
    ctx->insecure = insecure;
    return ctx;
}

/* ------------------------------------------------------------------------
 * Contexts
 */

int cnet_tls_server_ctx_new(const char *cert_file, const char *key_file, const char *client_ca_file,
                            cnet_tls_ctx **out, int *which, char *err, size_t err_size) {
    if (which != NULL) {
        *which = CNET_TLS_FILE_NONE;
    }
    cnet_tls_set_text(err, err_size, "");
    if (cert_file == NULL || key_file == NULL || out == NULL) {
        return -EINVAL;
    }
    ERR_clear_error();
    SSL_CTX *ssl_ctx = cnet_tls_ssl_ctx_new(TLS_server_method());
    if (ssl_ctx == NULL) {
        cnet_tls_take_reason(err, err_size, "out of memory");
        return -ENOMEM;
    }
    int rc = cnet_tls_load_identity(ssl_ctx, cert_file, key_file, which, err, err_size);
    if (rc == 0 && client_ca_file != NULL) {
        rc = cnet_tls_load_ca(ssl_ctx, client_ca_file, which, err, err_size);
        if (rc == 0) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca_file);
            if (names != NULL) {
                SSL_CTX_set_client_CA_list(ssl_ctx, names);
            }
            ERR_clear_error();
            SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (rc < 0) {
        SSL_CTX_free(ssl_ctx);
        return rc;
    }
    SSL_CTX_set_session_id_context(ssl_ctx, cnet_tls_session_context, sizeof cnet_tls_session_context - 1);
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_SERVER);
    cnet_tls_ctx *ctx = cnet_tls_wrap(ssl_ctx, 0);
    if (ctx == NULL) {
        return -ENOMEM;
    }
    *out = ctx;
    return 0;
}

int cnet_tls_client_ctx_new(const char *ca_file, int insecure, const char *cert_file, const char *key_file,
                            cnet_tls_ctx **out, int *which, char *err, size_t err_size) {
    if (which != NULL) {
        *which = CNET_TLS_FILE_NONE;
    }
    cnet_tls_set_text(err, err_size, "");
    if (out == NULL || (cert_file == NULL) != (key_file == NULL)) {
        return -EINVAL;
    }
    ERR_clear_error();
    SSL_CTX *ssl_ctx = cnet_tls_ssl_ctx_new(TLS_client_method());
    if (ssl_ctx == NULL) {
        cnet_tls_take_reason(err, err_size, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (insecure) {
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
        if (ca_file != NULL) {
            rc = cnet_tls_load_ca(ssl_ctx, ca_file, which, err, err_size);
        } else if (SSL_CTX_set_default_verify_paths(ssl_ctx) != 1) {
            rc = cnet_tls_fail(-EINVAL, CNET_TLS_FILE_CA, which, err, err_size, "no default CA store");
        }
    }
    if (rc == 0 && cert_file != NULL) {
        rc = cnet_tls_load_identity(ssl_ctx, cert_file, key_file, which, err, err_size);
    }
    if (rc < 0) {
        SSL_CTX_free(ssl_ctx);
        return rc;
    }
    cnet_tls_ctx *ctx = cnet_tls_wrap(ssl_ctx, insecure != 0);
    if (ctx == NULL) {
        return -ENOMEM;
    }
    *out = ctx;
    return 0;
}

void cnet_tls_ctx_free(cnet_tls_ctx *ctx) {
    if (ctx == NULL) {
        return;
    }
    SSL_CTX_free(ctx->ssl_ctx); /* connections hold their own reference */
    free(ctx);
}

/* ------------------------------------------------------------------------
 * Connections
 */

static cnet_tls_conn *cnet_tls_conn_new(cnet_tls_ctx *ctx) {
    if (ctx == NULL) {
        return NULL;
    }
    cnet_tls_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        return NULL;
    }
    conn->ssl = SSL_new(ctx->ssl_ctx);
    conn->in = BIO_new(BIO_s_mem());
    conn->out = BIO_new(BIO_s_mem());
    if (conn->ssl == NULL || conn->in == NULL || conn->out == NULL) {
        BIO_free(conn->in);
        BIO_free(conn->out);
        SSL_free(conn->ssl);
        free(conn);
        ERR_clear_error();
        return NULL;
    }
    /* An empty input BIO means "retry later", never end of file. */
    BIO_set_mem_eof_return(conn->in, -1);
    SSL_set_bio(conn->ssl, conn->in, conn->out);
    return conn;
}

cnet_tls_conn *cnet_tls_conn_new_server(cnet_tls_ctx *ctx) {
    cnet_tls_conn *conn = cnet_tls_conn_new(ctx);
    if (conn != NULL) {
        SSL_set_accept_state(conn->ssl);
    }
    return conn;
}

static int cnet_tls_is_address(const char *name) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buffer) == 1 || inet_pton(AF_INET6, name, buffer) == 1;
}

cnet_tls_conn *cnet_tls_conn_new_client(cnet_tls_ctx *ctx, const char *server_name) {
    cnet_tls_conn *conn = cnet_tls_conn_new(ctx);
    if (conn == NULL) {
        return NULL;
    }
    SSL_set_connect_state(conn->ssl);
    if (server_name != NULL && server_name[0] != '\0') {
        int ok = 1;
        if (cnet_tls_is_address(server_name)) {
            /* RFC 6066: SNI carries host names only. */
            if (!ctx->insecure) {
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), server_name) == 1;
            }
        } else {
            ok = SSL_set_tlsext_host_name(conn->ssl, server_name) == 1;
            if (ok && !ctx->insecure) {
                ok = SSL_set1_host(conn->ssl, server_name) == 1;
            }
        }
        if (!ok) {
            ERR_clear_error();
            cnet_tls_conn_free(conn);
            return NULL;
        }
    }
    return conn;
}

void cnet_tls_conn_free(cnet_tls_conn *conn) {
    if (conn == NULL) {
        return;
    }
    SSL_free(conn->ssl); /* frees both BIOs */
    free(conn);
}

int cnet_tls_feed(cnet_tls_conn *conn, const void *bytes, size_t len) {
    const char *cursor = bytes;
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int written = BIO_write(conn->in, cursor, chunk);
        if (written <= 0) {
            ERR_clear_error();
            return -ENOMEM;
        }
        cursor += written;
        len -= (size_t)written;
    }
    return 0;
}

size_t cnet_tls_pending(const cnet_tls_conn *conn) {
    return BIO_ctrl_pending(conn->out);
}

size_t cnet_tls_take(cnet_tls_conn *conn, void *buf, size_t cap) {
    int chunk = cap > INT_MAX ? INT_MAX : (int)cap;
    int taken = BIO_read(conn->out, buf, chunk);
    return taken > 0 ? (size_t)taken : 0;
}

size_t cnet_tls_peek(cnet_tls_conn *conn, const void **data) {
    char *pointer = NULL;
    long length = BIO_get_mem_data(conn->out, &pointer);
    *data = pointer;
    return length > 0 ? (size_t)length : 0;
}

void cnet_tls_consume(cnet_tls_conn *conn, size_t n) {
    char discard[4096];
    while (n > 0) {
        int chunk = n > sizeof discard ? (int)sizeof discard : (int)n;
        int taken = BIO_read(conn->out, discard, chunk);
        if (taken <= 0) {
            return;
        }
        n -= (size_t)taken;
    }
}

/* The reason of a failed SSL call: the certificate check's verdict when it
 * failed, else OpenSSL's queued reason. */
static void cnet_tls_record_failure(cnet_tls_conn *conn, int code) {
    char reason[200];
    if (code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(conn->error, sizeof conn->error, "unexpected end of the TLS stream");
        return;
    }
    cnet_tls_take_reason(reason, sizeof reason, "TLS failure");
    long verify = SSL_get_verify_result(conn->ssl);
    if (verify != X509_V_OK) {
        snprintf(conn->error, sizeof conn->error, "%s: %s", reason, X509_verify_cert_error_string(verify));
    } else {
        snprintf(conn->error, sizeof conn->error, "%s", reason);
    }
}

/* Maps an SSL call's failure to the header's return codes. */
static int cnet_tls_result(cnet_tls_conn *conn, int rc) {
    int code = SSL_get_error(conn->ssl, rc);
    switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        cnet_tls_record_failure(conn, code);
        return -EPROTO;
    }
}

int cnet_tls_handshake(cnet_tls_conn *conn) {
    if (SSL_is_init_finished(conn->ssl)) {
        return 1;
    }
    ERR_clear_error();
    int rc = SSL_do_handshake(conn->ssl);
    if (rc == 1) {
        return 1;
    }
    int result = cnet_tls_result(conn, rc);
    if (result == 0) {
        snprintf(conn->error, sizeof conn->error, "the peer closed during the handshake");
        return -EPROTO;
    }
    return result;
}

int cnet_tls_is_established(const cnet_tls_conn *conn) {
    return SSL_is_init_finished(conn->ssl) ? 1 : 0;
}

long cnet_tls_read(cnet_tls_conn *conn, void *buf, size_t cap) {
    size_t got = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(conn->ssl, buf, cap, &got);
    if (rc == 1) {
        return (long)got;
    }
    return cnet_tls_result(conn, rc);
}

long cnet_tls_write(cnet_tls_conn *conn, const void *bytes, size_t len) {
    if (!SSL_is_init_finished(conn->ssl)) {
        return -EAGAIN;
    }
    if (len == 0) {
        return 0;
    }
    size_t written = 0;
    ERR_clear_error();
    int rc = SSL_write_ex(conn->ssl, bytes, len, &written);
    if (rc == 1) {
        return (long)written;
    }
    int result = cnet_tls_result(conn, rc);
    return result == 0 ? -EPROTO : result;
}

int cnet_tls_close_notify(cnet_tls_conn *conn) {
    if (!SSL_is_init_finished(conn->ssl)) {
        return 0; /* nothing to close politely */
    }
    ERR_clear_error();
    int rc = SSL_shutdown(conn->ssl);
    if (rc >= 0) {
        return 0;
    }
    int result = cnet_tls_result(conn, rc);
    return result == -EAGAIN ? 0 : -EPROTO;
}

const char *cnet_tls_conn_error(const cnet_tls_conn *conn) {
    return conn->error;
}

const char *cnet_tls_conn_version(const cnet_tls_conn *conn) {
    return SSL_get_version(conn->ssl);
}

const char *cnet_tls_conn_cipher(const cnet_tls_conn *conn) {
    const SSL_CIPHER *cipher = SSL_get_current_cipher(conn->ssl);
    return cipher != NULL ? SSL_CIPHER_get_name(cipher) : "";
}

const char *cnet_tls_conn_server_name(const cnet_tls_conn *conn) {
    return SSL_get_servername(conn->ssl, TLSEXT_NAMETYPE_host_name);
}

int cnet_tls_conn_session_reused(const cnet_tls_conn *conn) {
    return SSL_session_reused(conn->ssl) ? 1 : 0;
}

cnet_tls_session *cnet_tls_conn_get_session(cnet_tls_conn *conn) {
    SSL_SESSION *session = SSL_get1_session(conn->ssl);
    if (session != NULL && !SSL_SESSION_is_resumable(session)) {
        SSL_SESSION_free(session);
        session = NULL;
    }
    return (cnet_tls_session *)session;
}

int cnet_tls_conn_set_session(cnet_tls_conn *conn, cnet_tls_session *session) {
    if (session == NULL) {
        return -EINVAL;
    }
    if (SSL_set_session(conn->ssl, (SSL_SESSION *)session) != 1) {
        ERR_clear_error();
        return -EINVAL;
    }
    return 0;
}

void cnet_tls_session_free(cnet_tls_session *session) {
    SSL_SESSION_free((SSL_SESSION *)session);
}
