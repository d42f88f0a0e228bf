/* A Parquet writer for flat files: the reader's counterpart (parquet.h).
 *
 * Columns: strings (BYTE_ARRAY, STRING logical type, UTF8 converted type),
 * INT32, INT64, DOUBLE, and timestamps (INT64 with the TIMESTAMP logical
 * type in MILLIS, MICROS or NANOS, isAdjustedToUTC as asked, false by
 * default as pandas writes naive datetimes, and the matching
 * TIMESTAMP_MILLIS / TIMESTAMP_MICROS converted type); each required or
 * optional (nulls, as definition levels in the RLE / bit-packed hybrid).
 *
 * Values are appended column by column in batches of any size; the rows
 * every column has are cut into row groups of at most row_group_rows rows
 * and about row_group_bytes bytes of values, each column chunk of a row
 * group into data pages (v1) of about page_bytes.  A chunk is dictionary
 * encoded (a PLAIN dictionary page, RLE_DICTIONARY data pages) when that
 * is smaller than PLAIN and the dictionary stays under dict_max_bytes and
 * dict_max_values, else PLAIN; both can be forced per column.  Every chunk
 * has statistics (null_count, and min_value / max_value in the format's
 * orders: signed for the integers and timestamps, unsigned bytes for
 * strings, IEEE order without NaN for doubles with -0.0 as a zero minimum
 * and +0.0 as a zero maximum; no min/max when every value is null or NaN,
 * or for strings longer than 4,096 bytes).  Pages are compressed with
 * SNAPPY (default), ZSTD, GZIP or not at all (src/data/codec.h: the
 * libraries are loaded on first use).  docs/parquet-writer.md has more.
 *
 * Output goes to a sink: a path (written under a temporary name in the
 * same directory and renamed into place by rp__pqw_close, so that a failed
 * write never leaves a file that looks complete), an rp__buf in memory, or
 * any function taking bytes in order (an upload).
 *
 * Not written: nested columns, booleans, floats, decimals, v2 data pages,
 * page indexes, bloom filters, encryption. */
#ifndef RP_DATA_PARQUET_WRITE_H
#define RP_DATA_PARQUET_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "data/parquet.h"
#include "ridepred/error.h"

/* What a column holds. */
typedef enum rp__pqw_kind {
    RP_PQW_STRING = 0, /* BYTE_ARRAY, STRING / UTF8 (bytes are not checked for UTF-8) */
    RP_PQW_INT32,
    RP_PQW_INT64,
    RP_PQW_DOUBLE,
    RP_PQW_TIMESTAMP, /* INT64 TIMESTAMP(unit, utc_adjusted) */
} rp__pqw_kind;

typedef enum rp__pqw_dict {
    RP_PQW_DICT_AUTO = 0, /* dictionary when smaller and within the limits */
    RP_PQW_DICT_ALWAYS,   /* dictionary whenever the chunk has a value (no limits) */
    RP_PQW_DICT_NEVER,    /* PLAIN */
} rp__pqw_dict;

typedef struct rp__pqw_column {
    const char *name; /* copied; not empty, no two alike */
    rp__pqw_kind kind;
    bool optional;         /* may hold nulls */
    rp__pq_time_unit unit; /* TIMESTAMP: RP_PQ_MILLIS, RP_PQ_MICROS (0 means MICROS), RP_PQ_NANOS */
    bool utc_adjusted;     /* TIMESTAMP: isAdjustedToUTC */
    rp__pqw_dict dictionary;
} rp__pqw_column;

/* Page compression (the default, 0, is SNAPPY). */
typedef enum rp__pqw_codec {
    RP_PQW_SNAPPY = 0,
    RP_PQW_ZSTD,
    RP_PQW_GZIP,
    RP_PQW_UNCOMPRESSED,
} rp__pqw_codec;

/* 0 in a field means its default. */
typedef struct rp__pqw_options {
    rp__pqw_codec codec;       /* SNAPPY by default */
    int level;                 /* GZIP 1-9 (6), ZSTD 1-22 (3) */
    size_t row_group_rows;     /* default 1,048,576 */
    size_t row_group_bytes;    /* values (PLAIN size) per row group, default 128 MiB */
    size_t page_bytes;         /* values (PLAIN size) per data page, default 1 MiB */
    size_t dict_max_bytes;     /* a dictionary's PLAIN size (AUTO), default 1 MiB */
    size_t dict_max_values;    /* distinct values (AUTO), default 65,536 */
    size_t max_buffered_bytes; /* values held before a row group is written, default 1 GiB */
    const char *created_by;    /* default "ridepred version VERSION" */
    bool fsync;                /* paths: fsync the file and its directory before and after the rename */
} rp__pqw_options;

/* Where the bytes go: write(ctx, data, len, err) takes len bytes (all of
 * them) or fails returning -1 with err set; it is called in file order,
 * never again after it failed. */
typedef struct rp__pqw_sink {
    int (*write)(void *ctx, const void *data, size_t len, rp_error *err);
    void *ctx;
} rp__pqw_sink;

/* A sink appending to out (whose cap bounds the file: RP_ERR_LIMIT past it). */
rp__pqw_sink rp__pqw_buf_sink(rp__buf *out);

/* A sink writing to the open descriptor fd (a pipe, stdout, a file the
 * caller opened), which the caller closes.  Its errors: "cannot write to
 * descriptor N: <strerror>" (RP_ERR_IO). */
rp__pqw_sink rp__pqw_fd_sink(int fd);

typedef struct rp__pqw rp__pqw;

/* Starts a file at path: a temporary file PATH.tmp-XXXXXX is created
 * beside it (mode 0666 & ~umask) and renamed to path by rp__pqw_close.
 * Returns 0 with *out set (free it with rp__pqw_close or rp__pqw_abort),
 * or -1 with err: RP_ERR_INVALID (a bad column list or option, named),
 * RP_ERR_IO / RP_ERR_NOT_FOUND "cannot create PATH: <strerror>" (the
 * directory is missing or not writable). */
int rp__pqw_open_path(const char *path, const rp__pqw_column *cols, size_t ncols, const rp__pqw_options *opt,
                      rp__pqw **out, rp_error *err);
/* Starts a file written to sink (which must outlive the writer); name is
 * used in messages.  Nothing is written before the first row group (or
 * rp__pqw_close).  Returns as rp__pqw_open_path. */
int rp__pqw_open_sink(const rp__pqw_sink *sink, const char *name, const rp__pqw_column *cols, size_t ncols,
                      const rp__pqw_options *opt, rp__pqw **out, rp_error *err);

/* Appends n values to column col (its kind must match the function).
 * valid: n flags, 0 = null (NULL: no nulls; a null in a required column
 * is refused); a null's value is ignored.  Strings: value i is
 * data[off[i] .. off[i + 1]) (n + 1 offsets, as the reader returns them),
 * or, for rp__pqw_put_cstr, the NUL-terminated s[i] (NULL = null).  Row
 * groups are written once every column holds enough rows.  Returns 0, or
 * -1 with err (RP_ERR_INVALID: wrong column or kind, a null in a required
 * column, bad offsets; RP_ERR_LIMIT: over max_buffered_bytes; the sink's
 * error).  After any failure the writer is failed: every call returns -1
 * with the first message, and rp__pqw_close removes the temporary file. */
int rp__pqw_put_i32(rp__pqw *w, size_t col, const int32_t *v, const uint8_t *valid, size_t n, rp_error *err);
int rp__pqw_put_i64(rp__pqw *w, size_t col, const int64_t *v, const uint8_t *valid, size_t n, rp_error *err);
int rp__pqw_put_double(rp__pqw *w, size_t col, const double *v, const uint8_t *valid, size_t n,
                       rp_error *err);
int rp__pqw_put_bytes(rp__pqw *w, size_t col, const uint8_t *data, const uint64_t *off, const uint8_t *valid,
                      size_t n, rp_error *err);
int rp__pqw_put_cstr(rp__pqw *w, size_t col, const char *const *s, size_t n, rp_error *err);

/* Rows written or buffered so far (those every column has). */
int64_t rp__pqw_rows(const rp__pqw *w);

/* Writes the rows left, the footer and the end; for a path, closes the
 * temporary file (fsync'd when asked) and renames it into place.  Every
 * column must hold the same number of rows.  Frees w in every case.
 * Returns 0, or -1 with err (the temporary file removed):
 * "NAME: column A has N rows, column B M" (RP_ERR_INVALID), a write, sync
 * or rename error naming the path (RP_ERR_IO), the sink's error. */
int rp__pqw_close(rp__pqw *w, rp_error *err);
/* Stops writing: frees w and removes the temporary file (a sink keeps what
 * it took).  NULL is fine. */
void rp__pqw_abort(rp__pqw *w);

/* "snappy", "zstd", "gzip", "none" / "uncompressed" (any case) into *codec.
 * Returns 0, or -1 with err naming the four (RP_ERR_INVALID). */
int rp__pqw_codec_parse(const char *name, rp__pqw_codec *codec, rp_error *err);

/* ---- internals exposed for unit tests ----------------------------------- */

/* Appends n values (each below 2^bit_width, bit_width 1..32) in the RLE /
 * bit-packed hybrid encoding to out: runs of 8 or more equal values as RLE
 * runs, the rest bit-packed in groups of 8 (the last padded with zeros).
 * Returns 0, or -1 when out refuses the bytes (its failed flag set). */
int rp__pq_rle_encode(const uint32_t *v, size_t n, int bit_width, rp__buf *out);

#endif
