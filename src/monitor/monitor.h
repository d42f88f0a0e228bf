/* Windows of rides compared with a reference, as the course's Evidently
 * report does (docs/monitoring.md): the drift of every monitored column
 * (src/monitor/drift.h picks and runs each column's test), the drift of
 * the prediction, the number of drifted columns, dataset drift and the
 * share of missing cells.
 *
 * A sample holds the monitored columns of some rides column by column, as
 * doubles; a missing cell is NaN (+Infinity and -Infinity are missing too,
 * as Evidently counts them).  Location ids are stored as their integer
 * value.  The same sample type holds a reference and a window, whether they
 * come from a trip file (`ridepred monitor`) or from the rides a serving
 * command predicted (src/monitor/live.h).
 *
 * Nothing here is thread-safe: a sample belongs to one thread at a time. */
#ifndef RP_MONITOR_MONITOR_H
#define RP_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/drift.h"
#include "ridepred/error.h"

#define RP_MONITOR_MAX_COLUMNS 16
#define RP_MONITOR_NAME_MAX 63 /* bytes of a column name */

/* The name of the prediction column, in every spec that monitors it. */
#define RP_MONITOR_PREDICTION "prediction"

typedef struct rp__monitor_column {
    char name[RP_MONITOR_NAME_MAX + 1];
    rp__drift_kind kind; /* numerical or categorical, as the course declares it */
} rp__monitor_column;

/* The monitored columns, in report order. */
typedef struct rp__monitor_spec {
    size_t n;
    rp__monitor_column col[RP_MONITOR_MAX_COLUMNS];
} rp__monitor_spec;

/* The course's column set (week 5, evidently_metrics_calculation.py):
 * numerical passenger_count, trip_distance, fare_amount, total_amount;
 * categorical PULocationID, DOLocationID; and the prediction (numerical). */
void rp__monitor_spec_course(rp__monitor_spec *s);

/* What a ride event carries, for the serving commands: trip_distance,
 * PULocationID, DOLocationID and the prediction. */
void rp__monitor_spec_serving(rp__monitor_spec *s);

/* The column of spec s named name, or -1. */
int rp__monitor_spec_find(const rp__monitor_spec *s, const char *name);

/* A sample: n rows of spec->n columns; col[j][i] is row i of column j. */
typedef struct rp__monitor_sample {
    size_t ncols;
    size_t n, cap;
    double *col[RP_MONITOR_MAX_COLUMNS];
} rp__monitor_sample;

/* Allocates room for cap rows of ncols columns (ncols <=
 * RP_MONITOR_MAX_COLUMNS).  Returns 0, or -1 (RP_ERR_NOMEM / RP_ERR_INVALID)
 * with s left empty and safe to free. */
int rp__monitor_sample_init(rp__monitor_sample *s, size_t ncols, size_t cap, rp_error *err);
void rp__monitor_sample_free(rp__monitor_sample *s);

/* The comparison of one column. */
typedef enum rp__monitor_column_status {
    RP_MONITOR_COLUMN_OK,    /* result holds the test */
    RP_MONITOR_COLUMN_EMPTY, /* no finite value on one side: Evidently raises
                                "An empty column ... was provided for drift
                                calculation"; here the column is not counted
                                as drifted and its score is NaN */
} rp__monitor_column_status;

typedef struct rp__monitor_column_result {
    rp__monitor_column_status status;
    rp__drift_result drift;
    size_t missing; /* missing cells of the current sample in this column */
} rp__monitor_column_result;

/* What the course's report gives for one window. */
typedef struct rp__monitor_result {
    size_t rides; /* rows of the current sample */
    size_t ncols;
    rp__monitor_column_result col[RP_MONITOR_MAX_COLUMNS];
    int prediction;          /* the prediction's column, or -1 when not monitored */
    double prediction_drift; /* its drift score (NaN when empty or not monitored) */
    bool prediction_drifted;
    size_t num_drifted_columns;
    double share_drifted_columns;
    bool dataset_drift; /* share_drifted_columns >= RP_DRIFT_SHARE */
    size_t missing_cells, cells;
    double share_missing_values; /* missing_cells / cells; NaN when cells == 0 */
} rp__monitor_result;

/* Compares cur with ref column by column (both with spec->n columns, in
 * spec order).  An empty current sample (no rows) is not an error: every
 * column is RP_MONITOR_COLUMN_EMPTY and rides is 0.  Returns 0, or -1 with
 * err (RP_ERR_NOMEM, or RP_ERR_INVALID for mismatched column counts). */
int rp__monitor_compare(const rp__monitor_spec *spec, const rp__monitor_sample *ref,
                        const rp__monitor_sample *cur, rp__monitor_result *out, rp_error *err);

/* A reference prepared once for comparing many windows (each column's
 * finite values sorted: rp__drift_ref): rp__monitor_compare_prepared gives
 * the same result as rp__monitor_compare, bit for bit, without sorting the
 * reference again for every window. */
typedef struct rp__monitor_prepared {
    size_t ncols;
    size_t n; /* rows of the reference */
    rp__drift_ref col[RP_MONITOR_MAX_COLUMNS];
} rp__monitor_prepared;

/* Prepares ref (spec->n columns).  Returns 0, or -1 with err (RP_ERR_NOMEM,
 * RP_ERR_INVALID for a column count that is not spec's); *out is then
 * empty and safe to free. */
int rp__monitor_prepare(const rp__monitor_spec *spec, const rp__monitor_sample *ref,
                        rp__monitor_prepared *out, rp_error *err);
void rp__monitor_prepared_free(rp__monitor_prepared *p); /* NULL ignored */
int rp__monitor_compare_prepared(const rp__monitor_spec *spec, const rp__monitor_prepared *ref,
                                 const rp__monitor_sample *cur, rp__monitor_result *out, rp_error *err);

/* A reference sample stored beside a model (`ridepred train`, `ridepred
 * monitor --write-reference`): the file name in a model directory. */
#define RP_MONITOR_REFERENCE_FILE "ridepred-reference.csv"

/* Writes spec's columns of s to path: a CSV file with a header line of the
 * column names, each prefixed by its kind ("num:trip_distance",
 * "cat:PULocationID"), and one line per row; a missing cell is empty.
 * Numbers are written so that they read back bit for bit.  The file is
 * written to a temporary name and renamed.  Returns 0, or -1 with err
 * naming the path. */
int rp__monitor_reference_write(const char *path, const rp__monitor_spec *spec, const rp__monitor_sample *s,
                                rp_error *err);

/* Reads a reference written by rp__monitor_reference_write into s (caller
 * frees), with the columns of want in want's order.  Fails (RP_ERR_INVALID)
 * naming the file and the column when one of want's columns is not in the
 * file or has another kind, or naming the line of a cell that does not
 * parse.  *spec_out (may be NULL) receives the file's own columns. */
int rp__monitor_reference_read(const char *path, const rp__monitor_spec *want, rp__monitor_sample *s,
                               rp__monitor_spec *spec_out, rp_error *err);

#endif
