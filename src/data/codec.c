/* See codec.h.  One function table per library, filled once per process
 * by rp__dl_once_load (src/common/dl.h). */
#include "data/codec.h"

#include <limits.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/dl.h"

/* ---- zlib ------------------------------------------------------------------- */

typedef struct zlib_api {
    const char *(*version)(void);
    int (*inflate_init2)(z_streamp strm, int window_bits, const char *version, int stream_size);
    int (*inflate)(z_streamp strm, int flush);
    int (*inflate_reset)(z_streamp strm);
    int (*inflate_end)(z_streamp strm);
    int (*deflate_init2)(z_streamp strm, int level, int method, int window_bits, int mem_level, int strategy,
                         const char *version, int stream_size);
    int (*deflate)(z_streamp strm, int flush);
    int (*deflate_end)(z_streamp strm);
    uLong (*deflate_bound)(z_streamp strm, uLong source_len);
} zlib_api;

static zlib_api zl;
static rp__dl_once zlib_lib = RP_DL_ONCE_INIT;

static void zlib_setup(void)
{
    static const char *const sonames[] = {"libz.so.1", NULL};
    static const rp__dl_sym syms[] = {
        {"zlibVersion", offsetof(zlib_api, version)},
        {"inflateInit2_", offsetof(zlib_api, inflate_init2)},
        {"inflate", offsetof(zlib_api, inflate)},
        {"inflateReset", offsetof(zlib_api, inflate_reset)},
        {"inflateEnd", offsetof(zlib_api, inflate_end)},
        {"deflateInit2_", offsetof(zlib_api, deflate_init2)},
        {"deflate", offsetof(zlib_api, deflate)},
        {"deflateEnd", offsetof(zlib_api, deflate_end)},
        {"deflateBound", offsetof(zlib_api, deflate_bound)},
    };
    rp__dl_once_load(&zlib_lib, "zlib (GZIP)", sonames, syms, sizeof syms / sizeof syms[0], &zl,
                     "zlib1g (Debian: apt-get install zlib1g)");
}

/* Inflates src (gzip or zlib framing, members one after another) through
 * the callback-free loop below; out grows in chunks. */
typedef struct sink {
    uint8_t *dst; /* fixed output (rp__codec_gzip) */
    size_t dst_len;
    rp__buf *buf; /* growing output (rp__codec_gunzip_buf) */
} sink;

static int gunzip(const uint8_t *src, size_t src_len, sink *s, size_t *produced, rp_error *err)
{
    if (rp__dl_once_run(&zlib_lib, zlib_setup, err) < 0)
        return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 32: a gzip or zlib header, detected. */
    if (zl.inflate_init2(&z, 15 + 32, zl.version(), (int)sizeof z) != Z_OK)
        return rp_error_set(err, RP_ERR_NOMEM, "gzip: cannot initialise zlib");
    int rc = -1;
    size_t in_pos = 0, out_total = 0;
    uint8_t spare[1];
    for (;;) {
        size_t in_chunk = src_len - in_pos < UINT_MAX ? src_len - in_pos : UINT_MAX;
        z.next_in = (Bytef *)(uintptr_t)(src + in_pos);
        z.avail_in = (uInt)in_chunk;
        uint8_t *out;
        size_t room;
        if (s->buf) {
            if (rp__buf_grow(s->buf, 1 << 16) < 0) {
                rp_error_set(err, s->buf->toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                             "gzip: inflated data over the limit of %zu bytes", s->buf->max);
                goto out;
            }
            out = (uint8_t *)s->buf->data + s->buf->len;
            room = s->buf->cap - s->buf->len - 1;
        } else if (out_total < s->dst_len) {
            out = s->dst + out_total;
            room = s->dst_len - out_total;
        } else {
            out = spare; /* full: anything more inflated is an error */
            room = sizeof spare;
        }
        if (room > UINT_MAX)
            room = UINT_MAX;
        z.next_out = out;
        z.avail_out = (uInt)room;
        int zr = zl.inflate(&z, Z_NO_FLUSH);
        size_t used_in = in_chunk - z.avail_in, made = room - z.avail_out;
        in_pos += used_in;
        if (out != spare)
            out_total += made;
        if (s->buf) {
            s->buf->len += made;
            s->buf->data[s->buf->len] = '\0';
        } else if (out == spare && made) {
            rp_error_set(err, RP_ERR_CORRUPT, "gzip: data inflates to more than the %zu bytes expected",
                         s->dst_len);
            goto out;
        }
        if (zr == Z_STREAM_END) {
            if (in_pos == src_len)
                break;
            /* another gzip member follows */
            if (zl.inflate_reset(&z) != Z_OK) {
                rp_error_set(err, RP_ERR_CORRUPT, "gzip: cannot reset the stream");
                goto out;
            }
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rp_error_set(err, RP_ERR_CORRUPT, "gzip: %s", z.msg ? z.msg : "bad data");
            goto out;
        }
        if (used_in == 0 && made == 0) {
            rp_error_set(err, RP_ERR_CORRUPT, "gzip: data ends in the middle of the stream");
            goto out;
        }
    }
    *produced = out_total;
    rc = 0;
out:
    zl.inflate_end(&z);
    return rc;
}

int rp__codec_gzip(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err)
{
    sink s = {.dst = dst, .dst_len = dst_len};
    size_t got;
    if (gunzip(src, src_len, &s, &got, err) < 0)
        return -1;
    if (got != dst_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "gzip: data inflates to %zu bytes, expected %zu", got,
                            dst_len);
    return 0;
}

int rp__codec_gunzip_buf(const uint8_t *src, size_t src_len, rp__buf *out, rp_error *err)
{
    sink s = {.buf = out};
    size_t got;
    return gunzip(src, src_len, &s, &got, err);
}

/* ---- snappy ------------------------------------------------------------------- */

typedef struct snappy_api {
    snappy_status (*uncompressed_length)(const char *in, size_t in_len, size_t *result);
    snappy_status (*uncompress)(const char *in, size_t in_len, char *out, size_t *out_len);
    snappy_status (*compress)(const char *in, size_t in_len, char *out, size_t *out_len);
    size_t (*max_compressed_length)(size_t source_len);
} snappy_api;

static snappy_api sn;
static rp__dl_once snappy_lib = RP_DL_ONCE_INIT;

static void snappy_setup(void)
{
    static const char *const sonames[] = {"libsnappy.so.1", NULL};
    static const rp__dl_sym syms[] = {
        {"snappy_uncompressed_length", offsetof(snappy_api, uncompressed_length)},
        {"snappy_uncompress", offsetof(snappy_api, uncompress)},
        {"snappy_compress", offsetof(snappy_api, compress)},
        {"snappy_max_compressed_length", offsetof(snappy_api, max_compressed_length)},
    };
    rp__dl_once_load(&snappy_lib, "libsnappy (SNAPPY)", sonames, syms, sizeof syms / sizeof syms[0], &sn,
                     "libsnappy1v5 (Debian: apt-get install libsnappy1v5)");
}

int rp__codec_snappy(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err)
{
    if (rp__dl_once_run(&snappy_lib, snappy_setup, err) < 0)
        return -1;
    size_t n;
    if (sn.uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK)
        return rp_error_set(err, RP_ERR_CORRUPT, "snappy: bad data (no length header)");
    if (n != dst_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "snappy: data says %zu bytes, expected %zu", n, dst_len);
    size_t out_len = dst_len;
    if (sn.uncompress((const char *)src, src_len, (char *)dst, &out_len) != SNAPPY_OK || out_len != dst_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "snappy: bad data");
    return 0;
}

/* ---- zstd ------------------------------------------------------------------- */

typedef struct zstd_api {
    unsigned long long (*get_frame_content_size)(const void *src, size_t src_len);
    size_t (*decompress)(void *dst, size_t dst_cap, const void *src, size_t src_len);
    unsigned (*is_error)(size_t code);
    const char *(*error_name)(size_t code);
    size_t (*compress)(void *dst, size_t dst_cap, const void *src, size_t src_len, int level);
    size_t (*compress_bound)(size_t src_len);
} zstd_api;

static zstd_api zs;
static rp__dl_once zstd_lib = RP_DL_ONCE_INIT;

static void zstd_setup(void)
{
    static const char *const sonames[] = {"libzstd.so.1", NULL};
    static const rp__dl_sym syms[] = {
        {"ZSTD_getFrameContentSize", offsetof(zstd_api, get_frame_content_size)},
        {"ZSTD_decompress", offsetof(zstd_api, decompress)},
        {"ZSTD_isError", offsetof(zstd_api, is_error)},
        {"ZSTD_getErrorName", offsetof(zstd_api, error_name)},
        {"ZSTD_compress", offsetof(zstd_api, compress)},
        {"ZSTD_compressBound", offsetof(zstd_api, compress_bound)},
    };
    rp__dl_once_load(&zstd_lib, "libzstd (ZSTD)", sonames, syms, sizeof syms / sizeof syms[0], &zs,
                     "libzstd1 (Debian: apt-get install libzstd1)");
}

int rp__codec_zstd(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, rp_error *err)
{
    if (rp__dl_once_run(&zstd_lib, zstd_setup, err) < 0)
        return -1;
    unsigned long long fs = zs.get_frame_content_size(src, src_len);
    if (fs == ZSTD_CONTENTSIZE_ERROR)
        return rp_error_set(err, RP_ERR_CORRUPT, "zstd: bad data (not a zstd frame)");
    /* A frame may leave its size out; several frames may follow each other. */
    if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs > dst_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "zstd: frame says %llu bytes, expected %zu", fs, dst_len);
    size_t r = zs.decompress(dst, dst_len, src, src_len);
    if (zs.is_error(r))
        return rp_error_set(err, RP_ERR_CORRUPT, "zstd: %s", zs.error_name(r));
    if (r != dst_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "zstd: data decompresses to %zu bytes, expected %zu", r,
                            dst_len);
    return 0;
}

/* ---- compression ------------------------------------------------------------- */

/* Makes room for bound more bytes in out; the error names the codec. */
static int room_for(rp__buf *out, size_t bound, const char *codec, rp_error *err)
{
    if (rp__buf_grow(out, bound) == 0)
        return 0;
    bool toobig = out->toobig;
    out->failed = out->toobig = false; /* out's content is unchanged: usable again */
    if (toobig)
        return rp_error_set(err, RP_ERR_LIMIT,
                            "%s: compressed data may need %zu bytes, over the limit of %zu", codec, bound,
                            out->max - out->len);
    return rp_error_set(err, RP_ERR_NOMEM, "%s: out of memory for %zu bytes", codec, bound);
}

static void produced(rp__buf *out, size_t n)
{
    out->len += n;
    out->data[out->len] = '\0';
}

int rp__codec_gzip_compress(const uint8_t *src, size_t src_len, int level, rp__buf *out, rp_error *err)
{
    if (rp__dl_once_run(&zlib_lib, zlib_setup, err) < 0)
        return -1;
    if (src_len > UINT_MAX / 2)
        return rp_error_set(err, RP_ERR_LIMIT, "gzip: %zu bytes to compress at once (at most %u)", src_len,
                            UINT_MAX / 2);
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 16: a gzip header and trailer around the deflate stream. */
    if (zl.deflate_init2(&z, level > 0 ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY, zl.version(), (int)sizeof z) != Z_OK)
        return rp_error_set(err, RP_ERR_NOMEM, "gzip: cannot initialise zlib's deflate");
    int rc = -1;
    size_t bound = zl.deflate_bound(&z, (uLong)src_len);
    if (room_for(out, bound, "gzip", err) < 0)
        goto done;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)src_len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)(bound < UINT_MAX ? bound : UINT_MAX);
    int zr = zl.deflate(&z, Z_FINISH);
    if (zr != Z_STREAM_END) {
        rp_error_set(err, RP_ERR_INTERNAL, "gzip: deflate failed (%d)", zr);
        goto done;
    }
    produced(out, (size_t)z.total_out);
    rc = 0;
done:
    zl.deflate_end(&z);
    return rc;
}

int rp__codec_snappy_compress(const uint8_t *src, size_t src_len, rp__buf *out, rp_error *err)
{
    if (rp__dl_once_run(&snappy_lib, snappy_setup, err) < 0)
        return -1;
    if (src_len > UINT32_MAX / 2)
        return rp_error_set(err, RP_ERR_LIMIT, "snappy: %zu bytes to compress at once (at most %u)", src_len,
                            UINT32_MAX / 2);
    size_t bound = sn.max_compressed_length(src_len);
    if (room_for(out, bound, "snappy", err) < 0)
        return -1;
    size_t n = bound;
    if (sn.compress((const char *)src, src_len, out->data + out->len, &n) != SNAPPY_OK)
        return rp_error_set(err, RP_ERR_INTERNAL, "snappy: compression failed");
    produced(out, n);
    return 0;
}

int rp__codec_zstd_compress(const uint8_t *src, size_t src_len, int level, rp__buf *out, rp_error *err)
{
    if (rp__dl_once_run(&zstd_lib, zstd_setup, err) < 0)
        return -1;
    size_t bound = zs.compress_bound(src_len);
    if (zs.is_error(bound))
        return rp_error_set(err, RP_ERR_LIMIT, "zstd: %zu bytes to compress at once", src_len);
    if (room_for(out, bound, "zstd", err) < 0)
        return -1;
    size_t r = zs.compress(out->data + out->len, bound, src, src_len, level > 0 ? level : 3);
    if (zs.is_error(r))
        return rp_error_set(err, RP_ERR_INTERNAL, "zstd: %s", zs.error_name(r));
    produced(out, r);
    return 0;
}
