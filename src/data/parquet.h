/* A Parquet column reader for flat files (what the NYC TLC publishes).
 *
 * Opens a file (mmap) or a buffer, decodes the footer (Thrift compact
 * protocol, src/data/thrift.h) and reads whole columns: every row group,
 * every page, only the columns asked for.
 *
 * Supported: codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD (libsnappy, zlib and
 * libzstd are loaded with dlopen on first use); encodings PLAIN,
 * PLAIN_DICTIONARY / RLE_DICTIONARY, RLE (booleans, levels); data pages v1
 * and v2 and dictionary pages; physical types BOOLEAN, INT32, INT64, INT96
 * (raw 12 bytes), FLOAT, DOUBLE, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY; flat
 * columns, required or optional (nulls).
 * Refused, with a message naming the feature: other codecs (LZO, BROTLI,
 * LZ4, LZ4_RAW), DELTA_* and BYTE_STREAM_SPLIT encodings, BIT_PACKED levels,
 * nested columns (groups, lists, maps, repeated fields), encrypted files,
 * column data in other files.
 *
 * Untrusted input: every offset and length is checked against the file,
 * page sizes and output sizes have hard caps (rp__parquet_limits). */
#ifndef RP_DATA_PARQUET_H
#define RP_DATA_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

/* Physical types (the values are the format's). */
typedef enum rp__pq_type {
    RP_PQ_BOOLEAN = 0,
    RP_PQ_INT32 = 1,
    RP_PQ_INT64 = 2,
    RP_PQ_INT96 = 3,
    RP_PQ_FLOAT = 4,
    RP_PQ_DOUBLE = 5,
    RP_PQ_BYTE_ARRAY = 6,
    RP_PQ_FIXED_LEN_BYTE_ARRAY = 7,
} rp__pq_type;

/* What a column's values mean (from its LogicalType, else its ConvertedType). */
typedef enum rp__pq_logical {
    RP_PQ_LOGICAL_NONE = 0,
    RP_PQ_LOGICAL_STRING,    /* STRING / UTF8, ENUM, JSON */
    RP_PQ_LOGICAL_TIMESTAMP, /* see time_unit */
    RP_PQ_LOGICAL_INT,       /* see int_bits, int_signed */
    RP_PQ_LOGICAL_DATE,
    RP_PQ_LOGICAL_DECIMAL,
    RP_PQ_LOGICAL_OTHER, /* TIME, UUID, ...: values are returned raw */
} rp__pq_logical;

typedef enum rp__pq_time_unit {
    RP_PQ_MILLIS = 1,
    RP_PQ_MICROS = 2,
    RP_PQ_NANOS = 3
} rp__pq_time_unit;

typedef struct rp__parquet_column {
    const char *name; /* dotted path for nested leaves ("a.b.c") */
    rp__pq_type type;
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY: bytes per value */
    rp__pq_logical logical;
    rp__pq_time_unit time_unit; /* TIMESTAMP */
    bool utc_adjusted;          /* TIMESTAMP */
    int int_bits;               /* INT: 8, 16, 32 or 64 */
    bool int_signed;            /* INT */
    bool optional;              /* may hold nulls */
    bool nested;                /* in a group or repeated: not readable here */
} rp__parquet_column;

typedef struct rp__parquet rp__parquet;

/* Hard caps while reading; 0 in a field means its default. */
typedef struct rp__parquet_limits {
    size_t max_page_bytes; /* one page, compressed or not (default 256 MiB) */
    size_t max_bytes;      /* all values of one column read (default 4 GiB) */
} rp__parquet_limits;

/* Opens path (mmap'd; kept open until rp__parquet_close).  Errors name the
 * file: RP_ERR_NOT_FOUND, RP_ERR_IO, RP_ERR_CORRUPT (not Parquet, bad
 * footer), RP_ERR_UNSUPPORTED (encrypted, ...). */
int rp__parquet_open(const char *path, rp__parquet **out, rp_error *err);
/* The same over len bytes at data, which the caller keeps alive and
 * unchanged until rp__parquet_close.  name is used in messages. */
int rp__parquet_open_mem(const void *data, size_t len, const char *name, rp__parquet **out, rp_error *err);
void rp__parquet_close(rp__parquet *p);
void rp__parquet_set_limits(rp__parquet *p, const rp__parquet_limits *limits);

int64_t rp__parquet_num_rows(const rp__parquet *p);
size_t rp__parquet_num_row_groups(const rp__parquet *p);
size_t rp__parquet_num_columns(const rp__parquet *p);
/* Leaf column i (0 <= i < rp__parquet_num_columns), owned by p. */
const rp__parquet_column *rp__parquet_column_at(const rp__parquet *p, size_t i);
/* The index of the column named name, or -1. */
int rp__parquet_find_column(const rp__parquet *p, const char *name);
/* "GZIP", "PLAIN", "INT64", "TIMESTAMP(MICROS)"...: names for messages. */
const char *rp__parquet_type_name(rp__pq_type t);
const char *rp__parquet_codec_name(int codec);
const char *rp__parquet_encoding_name(int encoding);

/* Rows of row group g, or -1 past the last. */
int64_t rp__parquet_row_group_rows(const rp__parquet *p, size_t g);

/* What the footer says of the chunk of column col in row group g (read
 * with the footer; nothing here is checked against the pages). */
typedef struct rp__parquet_chunk_info {
    int codec; /* the format's number: rp__parquet_codec_name */
    int64_t num_values;
    int64_t total_compressed_size, total_uncompressed_size;
    int64_t data_page_offset, dictionary_page_offset; /* -1: no dictionary page */
    uint32_t encodings;                               /* bit e set: encoding e listed */
    bool has_stats, has_null_count;
    int64_t null_count;
    /* min_value and max_value (PLAIN bytes, without a length for strings),
     * views into the file valid until rp__parquet_close; NULL when absent */
    const uint8_t *min, *max;
    size_t min_len, max_len;
} rp__parquet_chunk_info;

/* Fills *out; returns 0, or -1 (out zeroed) when g or col is out of range. */
int rp__parquet_chunk_at(const rp__parquet *p, size_t g, size_t col, rp__parquet_chunk_info *out);
/* The footer's created_by (*len bytes, not NUL-terminated; a view into the
 * file), or NULL. */
const char *rp__parquet_created_by(const rp__parquet *p, size_t *len);

/* One column, read whole (or its first max_rows rows). */
typedef struct rp__parquet_values {
    size_t n; /* rows */
    rp__pq_type type;
    uint8_t *valid; /* n flags, 1 = a value, 0 = null; NULL when the column is required */
    /* Fixed-width types: n values, a null's slot holds 0.  BOOLEAN: one byte each. */
    union {
        uint8_t *b;
        int32_t *i32;
        int64_t *i64;
        float *f32;
        double *f64;
        void *raw;
    } v;
    /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96 (12 bytes): value i is
     * data[off[i] .. off[i + 1]); a null is empty. */
    uint64_t *off; /* n + 1 offsets */
    uint8_t *data;
} rp__parquet_values;

/* Reads column col.  max_rows 0: every row.  out is zeroed first and
 * freed on failure.  Errors say the column, row group and page, and name
 * an unsupported codec, encoding or feature. */
int rp__parquet_read_column(rp__parquet *p, size_t col, size_t max_rows, rp__parquet_values *out,
                            rp_error *err);
void rp__parquet_values_free(rp__parquet_values *v);

/* ---- internals exposed for unit tests ----------------------------------- */

/* Decodes n values of the RLE / bit-packed hybrid encoding (bit_width
 * 0..32) from len bytes at data into out.  Returns 0, or -1 when the data
 * ends before n values or is malformed. */
int rp__pq_rle_decode(const uint8_t *data, size_t len, int bit_width, uint32_t *out, size_t n, rp_error *err);

#endif
