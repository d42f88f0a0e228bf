/* Decompression for the data readers and compression for the Parquet
 * writer: GZIP (zlib), Snappy and ZSTD.
 *
 * The libraries are loaded with dlopen on first use (src/common/dl.h):
 * linking them would cost every start of the binary their loading, and
 * snappy brings libstdc++.  Only their headers are used at build time. */
#ifndef RP_DATA_CODEC_H
#define RP_DATA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ridepred/error.h"

/* Each decompresses src into exactly dst_len bytes at dst.  Returns 0, or
 * -1 with err set: RP_ERR_UNSUPPORTED when the library cannot be loaded
 * (the message says what to install), RP_ERR_CORRUPT when the data is bad
 * or does not decompress to exactly dst_len bytes. */
int rp__codec_gzip(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err);
int rp__codec_snappy(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err);
int rp__codec_zstd(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err);

/* Inflates a gzip stream (one or more members) of unknown size, appending
 * to out (whose cap bounds the result: RP_ERR_LIMIT past it). */
int rp__codec_gunzip_buf(const uint8_t *src, size_t src_len, rp__buf *out, rp_error *err);

/* Each compresses src_len bytes at src, appending the result to out (whose
 * cap bounds it).  GZIP writes one gzip member (RFC 1952 framing, as
 * Parquet's GZIP codec wants); level 0 means the library's default (zlib
 * 6, zstd 3).  Returns 0, or -1 with err set and out's content unchanged:
 * RP_ERR_UNSUPPORTED when the library cannot be loaded (the message says
 * what to install), RP_ERR_LIMIT past out's cap, RP_ERR_NOMEM,
 * RP_ERR_INTERNAL when the library fails. */
int rp__codec_gzip_compress(const uint8_t *src, size_t src_len, int level, rp__buf *out, rp_error *err);
int rp__codec_snappy_compress(const uint8_t *src, size_t src_len, rp__buf *out, rp_error *err);
int rp__codec_zstd_compress(const uint8_t *src, size_t src_len, int level, rp__buf *out, rp_error *err);

#endif
