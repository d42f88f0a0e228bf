/* How good and how fast a streamed run was: the rides put into a stream
 * (by `replay`), the predictions that came out (from `consume` or the
 * Lambda function), and the trip file they came from.
 *
 * Joins them by ride_id (the row number in the file): latency is the
 * prediction record's arrival minus the ride record's arrival (both the
 * streams' approximate arrival timestamps, milliseconds); accuracy is the
 * RMSE of the predicted durations against the real ones, over the rides
 * the course's filter keeps (1 to 60 minutes: what the model was
 * validated on) whose prediction is a finite number.  A prediction of
 * Infinity or NaN (the handler publishes what the model gives, as Python
 * does) is counted apart, not averaged into a NaN. */
#ifndef RP_SERVICE_EVALUATE_H
#define RP_SERVICE_EVALUATE_H

#include <stddef.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

#define RP_EVAL_EXAMPLES 3

typedef struct rp__eval_report {
    size_t rows;           /* rows in the trip file */
    size_t kept;           /* rows the course's filter keeps */
    size_t rides_in;       /* distinct ride ids in the rides stream */
    size_t predictions;    /* records in the predictions stream */
    size_t predicted;      /* distinct ride ids predicted */
    size_t duplicates;     /* predictions of a ride already predicted (at-least-once) */
    size_t unreadable;     /* prediction records not of the expected shape */
    size_t missing;        /* rides in without a prediction */
    size_t kept_predicted; /* kept rides with a finite prediction: the RMSE's sample */
    size_t nonfinite;      /* rides predicted as Infinity, -Infinity or NaN */
    size_t kept_nonfinite; /* of those, kept rides: left out of the RMSE and MAE */
    double rmse;           /* minutes */
    double mae;
    double span_s;                    /* first ride put to last prediction */
    double rides_per_s;               /* predicted / span_s */
    double latency_ms[4];             /* p50, p90, p99, max */
    char *examples[RP_EVAL_EXAMPLES]; /* raw prediction records (malloc'd) */
} rp__eval_report;

typedef struct rp__eval_opts {
    const char *svg_path; /* predicted vs real picture, or NULL */
    size_t max_points;    /* points drawn at most (default 5000) */
} rp__eval_opts;

/* Reads the file and both streams (from the trim horizon to their tips). */
int rp__evaluate(const char *trip_file, rp_stream_conn *s, const char *rides, const char *predictions,
                 const rp__eval_opts *o, rp__eval_report *r, rp_error *err);
void rp__eval_report_free(rp__eval_report *r);

#endif
