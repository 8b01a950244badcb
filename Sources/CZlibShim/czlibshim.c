#define _GNU_SOURCE
#include "czlibshim.h"

#include <errno.h>
#include <limits.h>
#include <zlib.h>

size_t czlib_bound(size_t length) {
    if (length > ULONG_MAX / 2) return 0;
    return (size_t)compressBound((uLong)length);
}

int czlib_compress(const uint8_t *src, size_t src_length, uint8_t *dst, size_t *dst_length) {
    if ((src == NULL && src_length > 0) || dst == NULL || dst_length == NULL) return -EINVAL;
    if (src_length > ULONG_MAX / 2 || *dst_length > ULONG_MAX) return -EINVAL;
    uLongf out = (uLongf)*dst_length;
    int rc = compress2(dst, &out, src, (uLong)src_length, Z_DEFAULT_COMPRESSION);
    if (rc == Z_BUF_ERROR) return -ENOBUFS;
    if (rc != Z_OK) return -EINVAL;
    *dst_length = (size_t)out;
    return 0;
}

int czlib_uncompress(const uint8_t *src, size_t src_length, uint8_t *dst, size_t *dst_length) {
    if ((src == NULL && src_length > 0) || dst == NULL || dst_length == NULL) return -EINVAL;
    if (src_length > ULONG_MAX || *dst_length > ULONG_MAX) return -EINVAL;
    uLongf out = (uLongf)*dst_length;
    uLong in = (uLong)src_length;
    int rc = uncompress2(dst, &out, src, &in);
    if (rc == Z_BUF_ERROR && out == (uLongf)*dst_length) return -ENOBUFS;
    if (rc != Z_OK) return -EBADMSG;
    *dst_length = (size_t)out;
    return 0;
}
