/* czlibshim.h - the two zlib calls the load tester's HdrHistogram codec
 * needs (V2 compressed histograms are zlib streams), behind prefixed names. */
#ifndef CZLIBSHIM_H
#define CZLIBSHIM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes a zlib stream of `length` input bytes needs at most. */
size_t czlib_bound(size_t length);

/* Compresses src into dst (capacity *dst_length, at least czlib_bound);
 * on success returns 0 and sets *dst_length to the stream's length;
 * otherwise -EINVAL (bad arguments) or -ENOBUFS (dst too small). */
int czlib_compress(const uint8_t *src, size_t src_length, uint8_t *dst, size_t *dst_length);

/* Inflates the zlib stream src into dst (capacity *dst_length); on success
 * returns 0 and sets *dst_length to the bytes written; -ENOBUFS when dst
 * is too small, -EBADMSG when src is not a complete zlib stream. */
int czlib_uncompress(const uint8_t *src, size_t src_length, uint8_t *dst, size_t *dst_length);

#endif
