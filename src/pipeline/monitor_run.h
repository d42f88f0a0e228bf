/* `ridepred monitor` (docs/monitoring.md): trip files predicted with a
 * model, cut into windows by pickup time, each window compared with a
 * reference (src/monitor/monitor.h), as the course's week 5 does with
 * Evidently.
 *
 * Which rows, as the course:
 *   - the reference: the rides of REF that the course's preparation keeps
 *     (rp__trips_keep: 1 to 60 minutes, locations present), with the
 *     model's predictions: the course's reference.parquet is its prepared
 *     validation data with predictions.  At most RP_MONITOR_REFERENCE_CAP
 *     rides; beyond, a uniform sample of that many (seeded, file order
 *     kept).
 *   - a window: every row of CURRENT whose pickup time falls in it,
 *     unfiltered (the course's evidently_metrics_calculation.py takes the
 *     raw rows of each day).
 *   - predictions: the model's features (PU_DO one-hot and trip_distance)
 *     with the course's fillna(0): a null trip_distance is predicted as 0;
 *     a null location gives no PU_DO column (a name no vocabulary holds).
 *     A row the model refuses (a tree model and a value beyond float32
 *     range, as the serving path refuses it) gets a missing prediction,
 *     counted in unscored.
 * The monitored columns come from the spec: trip_distance, PULocationID,
 * DOLocationID and prediction from the ride, any other name as a numeric
 * column of the file (rp__trips_read_extra).
 *
 * A source may also be a stream of ride events (rp__monitor_is_stream:
 * "local:NAME", "kinesis:NAME", "kafka:TOPIC"), read whole from its start
 * (rp_stream_scan).  Each record is a ride event as the function takes it
 * ({"ride": {...}, "ride_id": ...}); a record the function would refuse
 * (docs/handler.md) is counted in `unreadable` and left out.  Its time is
 * the record's arrival in the stream (a ride event carries no pickup time),
 * its prediction the model's, made now.  A stream carries trip_distance,
 * PULocationID and DOLocationID only: a spec naming another column is
 * refused.  Location ids count as the serving side counts them
 * (rp__ride_location_value: a string of decimal digits as its number,
 * another string missing).  A reference from a
 * stream takes every readable record (no duration filter: an event has no
 * duration), sampled as above.
 *
 * It prints nothing; the CLI formats the report (src/monitor/report.h). */
#ifndef RP_PIPELINE_MONITOR_RUN_H
#define RP_PIPELINE_MONITOR_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/monitor.h"
#include "ridepred/error.h"
#include "ridepred/model.h"
#include "ridepred/stream.h"

#define RP_MONITOR_REFERENCE_CAP 100000 /* rides in a reference sample at most */
#define RP_MONITOR_REFERENCE_SEED 15    /* the sample's seed (issue 15) */
#define RP_MONITOR_MAX_WINDOWS 100000   /* windows in one run at most */

/* What scoring rows with the model came to. */
typedef struct rp__monitor_scored {
    size_t rows;     /* rows read (every file) */
    size_t used;     /* rows in the sample (the reference: kept and sampled; current: with a pickup time) */
    size_t unscored; /* rows the model refused: prediction missing */
    char first_unscored[160];   /* "FILE row N: why", "" when none */
    size_t unreadable;          /* stream records that are no ride event the function takes: left out */
    char first_unreadable[200]; /* "STREAM record SEQ: why", "" when none */
} rp__monitor_scored;

/* Whether name is a stream ("local:", "kinesis:" or "kafka:" and a name)
 * rather than a file. */
bool rp__monitor_is_stream(const char *name);

/* The reference sample of the trip files (or streams, when streams is not
 * NULL) with the model's predictions (see above), spec's columns.  Returns
 * 0 with *out filled (caller frees), or -1 with err naming the file or
 * stream: not readable (RP_ERR_NOT_FOUND / RP_ERR_IO), a spec column it
 * lacks, no ride kept. */
int rp__monitor_reference_from_trips(const rp_model *m, const char *const *files, size_t n,
                                     const rp__monitor_spec *spec, size_t cap, uint64_t seed,
                                     const rp_stream_config *streams, rp__monitor_sample *out,
                                     rp__monitor_scored *st, rp_error *err);

/* Where a reference comes from. */
typedef enum rp__monitor_ref_source {
    RP_MONITOR_REF_TRIPS,     /* a trip file, predicted now */
    RP_MONITOR_REF_FILE,      /* a reference CSV (RP_MONITOR_REFERENCE_FILE format) */
    RP_MONITOR_REF_MODEL_DIR, /* a directory holding RP_MONITOR_REFERENCE_FILE */
    RP_MONITOR_REF_STREAM     /* a stream of ride events, predicted now */
} rp__monitor_ref_source;

/* Loads the reference named ref: a stream (rp__monitor_is_stream; streams
 * must then be given), a directory (its RP_MONITOR_REFERENCE_FILE), a
 * reference CSV (its first line starts with "num:" or "cat:"), else a trip
 * file (rp__monitor_reference_from_trips with the default cap and seed; m
 * must then be a model).  *src (may be NULL) says which. */
int rp__monitor_reference_load(const rp_model *m, const char *ref, const rp__monitor_spec *spec,
                               const rp_stream_config *streams, rp__monitor_sample *out,
                               rp__monitor_ref_source *src, rp__monitor_scored *st, rp_error *err);

typedef struct rp__monitor_window {
    int64_t start_us, end_us; /* [start, end), as written in the file (taken as UTC) */
    rp__monitor_result result;
} rp__monitor_window;

typedef struct rp__monitor_config {
    const rp_model *model;
    const char *reference; /* see rp__monitor_reference_load */
    const char *const *current;
    size_t n_current;
    int64_t window_us;               /* > 0; windows start at multiples of it since the epoch */
    const rp__monitor_spec *spec;    /* the monitored columns */
    const rp_stream_config *streams; /* where streams are; NULL: sources are files only */
} rp__monitor_config;

typedef struct rp__monitor_report {
    rp__monitor_ref_source ref_source;
    size_t reference_rides;
    rp__monitor_scored ref_scored, cur_scored;
    size_t no_pickup; /* current rows without a pickup time: in no window */
    bool by_arrival;  /* a current source was a stream: its windows are by arrival */
    size_t n;         /* windows, from the earliest pickup's to the latest's (empty ones included) */
    rp__monitor_window *w;
} rp__monitor_report;

/* Loads the reference, reads and predicts the current files, compares
 * every window.  Returns 0 with *r filled (free with
 * rp__monitor_report_free), or -1 with err naming the file or column at
 * fault (RP_ERR_NOT_FOUND / RP_ERR_IO: a file that cannot be read;
 * RP_ERR_INVALID: bad content, a missing column; RP_ERR_LIMIT: more than
 * RP_MONITOR_MAX_WINDOWS windows). */
int rp__monitor_run(const rp__monitor_config *c, rp__monitor_report *r, rp_error *err);
void rp__monitor_report_free(rp__monitor_report *r);

/* --window: "1d", "6h", "30m", "90s" or plain seconds, at least 1 second,
 * at most 366 days.  Returns 0 with *us, or -1. */
int rp__monitor_parse_window(const char *s, int64_t *us);

/* --columns: "num:a,b;cat:c,d" (groups separated by ';', each "KIND:" then
 * names separated by ','), into spec; the prediction is added as the last
 * column unless the list names it or holds "-prediction".  Returns 0, or
 * -1 with err (RP_ERR_INVALID) saying what is wrong. */
int rp__monitor_parse_columns(const char *s, rp__monitor_spec *spec, rp_error *err);

/* An SVG picture of the windows: prediction drift per window (a line, its
 * threshold dashed when every tested window used one test) and the number
 * of drifted columns (bars).  Self-contained (no fonts, scripts or links).
 * Returns 0, or -1 with err naming path. */
int rp__monitor_write_svg(const char *path, const rp__monitor_spec *spec, const rp__monitor_report *r,
                          rp_error *err);

#endif
