/* TLC trip files: the columns the course uses, read from Parquet or CSV.
 *
 * rp__trips_read() loads the five columns of a green/yellow/FHV trip file
 * that ride-duration work needs, in file order, with nulls kept as nulls:
 * the course's preparation (rp_trips_prepare) decides what to drop. */
#ifndef RP_DATA_TRIPS_H
#define RP_DATA_TRIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

#define RP_TRIPS_NULL_TIME INT64_MIN /* a null timestamp */
#define RP_TRIPS_NULL_ID INT32_MIN   /* a null location id */
/* A null trip_distance is NaN. */
#define RP_TRIPS_MAX_EXTRA 16 /* extra numeric columns a read may ask for */

typedef struct rp__trips {
    size_t n;
    int64_t *pickup_us; /* microseconds since the epoch (as written: local time) */
    int64_t *dropoff_us;
    int32_t *pu;      /* PULocationID */
    int32_t *dor;     /* DOLocationID */
    double *distance; /* trip_distance */
    /* Extra numeric columns asked for by name (rp__trips_read_extra), in
     * the order asked, as doubles; a null is NaN.  n_extra 0 otherwise. */
    size_t n_extra;
    double *extra[RP_TRIPS_MAX_EXTRA];
} rp__trips;

/* Column names looked up in a file: the first of each list that exists.
 * Green files say lpep_*, yellow tpep_*, FHV pickup_datetime /
 * dropOff_datetime (and PUlocationID / DOlocationID). */
extern const char *const rp__trips_pickup_names[];
extern const char *const rp__trips_dropoff_names[];
extern const char *const rp__trips_pu_names[];
extern const char *const rp__trips_do_names[];
extern const char *const rp__trips_distance_names[];

/* Reads path (Parquet when it starts with "PAR1", else CSV with a header
 * line).  max_rows 0: all.  Errors name the file and, for an unsupported
 * feature, the feature (codec, encoding, type). */
int rp__trips_read(const char *path, size_t max_rows, rp__trips *out, rp_error *err);

/* rp__trips_read, and also the numeric columns named extra[0..n_extra)
 * (exact names, e.g. "fare_amount"; at most RP_TRIPS_MAX_EXTRA) into
 * out->extra[] as doubles (Parquet DOUBLE, FLOAT or an integer; CSV a
 * number or empty; null: NaN).  A column that is not in the file fails
 * (RP_ERR_INVALID) naming the file and the column.  The same for the two
 * readers below (rp__trips_from_parquet_extra, rp__trips_read_csv_mem_extra). */
int rp__trips_read_extra(const char *path, size_t max_rows, const char *const *extra, size_t n_extra,
                         rp__trips *out, rp_error *err);
void rp__trips_free(rp__trips *t);

/* The same from an opened Parquet file (src/data/parquet.h).  Timestamps
 * in milli- or nanoseconds (INT64 TIMESTAMP) and INT96 timestamps become
 * microseconds (nanoseconds rounded down); location ids of any integer
 * type, or integral FLOAT/DOUBLE (NaN: null), must fit an int32;
 * trip_distance may be DOUBLE, FLOAT or an integer. */
struct rp__parquet;
int rp__trips_from_parquet(struct rp__parquet *p, size_t max_rows, rp__trips *out, rp_error *err);
int rp__trips_from_parquet_extra(struct rp__parquet *p, size_t max_rows, const char *const *extra,
                                 size_t n_extra, rp__trips *out, rp_error *err);

/* Internal, for tests: an INT96 timestamp (nanoseconds of the day, Julian
 * day; 12 bytes little-endian) as microseconds.  -1 when the time of day
 * is out of range. */
int rp__trips_int96_us(const uint8_t *b, int64_t *us);

/* CSV (RFC 4180, a header line naming the columns; empty field = null;
 * timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]") from len bytes at data; name
 * is used in messages.  rp__trips_read also inflates gzip'd CSV.  Returns 0
 * with out filled (caller frees with rp__trips_free), or -1 with err naming
 * the file and line: a value that does not parse, a wrong field count, an
 * unclosed quote, a NUL byte in any field read (up to max_rows rows). */
int rp__trips_read_csv_mem(const char *data, size_t len, const char *name, size_t max_rows, rp__trips *out,
                           rp_error *err);
int rp__trips_read_csv_mem_extra(const char *data, size_t len, const char *name, size_t max_rows,
                                 const char *const *extra, size_t n_extra, rp__trips *out, rp_error *err);

/* The course's preparation of one row: duration = (dropoff - pickup) in
 * minutes (as pandas: total_seconds() / 60), kept when 1 <= duration <= 60
 * and the locations are not null.  Returns true and sets *duration_min
 * when row i is kept.  (A null trip_distance is kept: DictVectorizer would
 * see NaN; the course files have none among kept rows.) */
bool rp__trips_keep(const rp__trips *t, size_t i, double *duration_min);

#endif
