/* Monitoring while serving (docs/monitoring.md, "While serving"): the rides
 * a serving command predicts (`consume`, `serve`, `lambda`) gathered in
 * windows of wall-clock time and each closed window compared with a
 * reference sample (src/monitor/monitor.h), as the course's Evidently report
 * does for a day of rides.
 *
 * A window is [k * window, (k + 1) * window) of wall-clock time (UTC) at the
 * rides' arrival: ride events carry no pickup time.  Its sample holds at
 * most `cap` rides; beyond that the sample is kept uniform over all the
 * window's rides by reservoir sampling (Algorithm R, Vitter 1985) with a
 * seeded PRNG, so a window costs cap x 4 doubles whatever its traffic: two
 * buffers of them (the current window's, and the closed one being compared
 * while the next one fills), 2 x cap x 32 bytes (6.4 MB at the default cap).
 * The monitored columns are those of rp__monitor_spec_serving: a ride
 * event has trip_distance, PULocationID and DOLocationID, and the
 * prediction; passenger_count, fare_amount and total_amount are not in
 * ride events and are not monitored while serving.
 *
 * Closing a window swaps the buffers under the lock: the first
 * rp__monitor_live_record after the window's end does it (so a ride counts
 * in the window of its arrival), else rp__monitor_live_tick; the closed
 * window is then compared by rp__monitor_live_tick (from the background
 * thread of rp__monitor_live_start, woken by the hand-over, or from the
 * caller) outside the lock: recording never waits for a comparison.  Each closed window's result goes to a ring of the last
 * RP_MONITOR_LIVE_HISTORY windows, to the gauges of contract 3
 * (ridepred_monitor_*), to an info log line with its figures, and to the
 * sink when one is set (the PostgreSQL rows of --monitor-db: the caller's
 * hook; a failed write is retried at the next close, RP_MONITOR_LIVE_PENDING
 * windows at most, the oldest dropped with a log line: monitoring rows are
 * not rides).  Every prediction recorded is also counted in the histogram
 * ridepred_prediction_minutes (bounds rp__monitor_live_bounds).
 *
 * Thread-safety: rp__monitor_live_record, _tick, _json, _history and _last
 * may be called from any thread concurrently; _new, _start, _stop and _free
 * from one owning thread. */
#ifndef RP_MONITOR_LIVE_H
#define RP_MONITOR_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "monitor/monitor.h"
#include "ridepred/error.h"

#define RP_MONITOR_LIVE_WINDOW_DEFAULT 3600.0     /* seconds: --monitor-window */
#define RP_MONITOR_LIVE_CAP_DEFAULT 100000        /* rides per window: --monitor-cap */
#define RP_MONITOR_LIVE_CAP_MAX 100000000         /* 3.2 GB per buffer: beyond, refused */
#define RP_MONITOR_LIVE_WINDOW_MAX (31.0 * 86400) /* seconds */
#define RP_MONITOR_LIVE_HISTORY 48                /* closed windows kept for /dashboard.json */
#define RP_MONITOR_LIVE_PENDING 48                /* closed windows whose sink write waits for a retry */

/* Upper bounds (minutes) of the buckets of ridepred_prediction_minutes and
 * of the page's histograms: 2, 4, ..., 60, then 90 and 120 (+Inf implied):
 * the course's target is 1..60 minutes; longer rides are few. */
#define RP_MONITOR_LIVE_BOUNDS 32
extern const double rp__monitor_live_bounds[RP_MONITOR_LIVE_BOUNDS];

/* A closed window. */
typedef struct rp__monitor_live_window {
    int64_t start_us, end_us; /* [start, end), microseconds since the epoch (UTC) */
    rp__monitor_result result;
} rp__monitor_live_window;

/* Receives each closed window on the thread that closed it (the
 * comparison's, never a recording one).  Returns 0, or -1 with err (then
 * the window is kept for a retry at the next close and
 * ridepred_monitor_db_failures_total counts the failure). */
typedef int (*rp__monitor_live_sink)(void *ctx, const char *source, const rp__monitor_spec *spec,
                                     const rp__monitor_live_window *w, rp_error *err);

typedef struct rp__monitor_live_config {
    const char *reference; /* the reference CSV (RP_MONITOR_REFERENCE_FILE's format); required */
    const char *source;    /* "consume", "serve", "lambda": in logs and sink rows; NULL: "serve" */
    double window_s;       /* window length in seconds; 0: RP_MONITOR_LIVE_WINDOW_DEFAULT */
    size_t cap;            /* rides sampled per window; 0: RP_MONITOR_LIVE_CAP_DEFAULT */
    uint64_t seed;         /* the reservoir's PRNG; 0: a fixed default (sampling is reproducible) */
    rp__metrics *metrics;  /* registers the histogram and gauges there (before any thread renders
                              it); NULL: none */
    /* The clock, microseconds since the epoch; NULL: CLOCK_REALTIME (tests inject their own). */
    int64_t (*clock_us)(void *ctx);
    void *clock_ctx;
    rp__monitor_live_sink sink; /* NULL: the database of db_url, if any */
    void *sink_ctx;
    /* PostgreSQL (src/monitor/db.h): a row per closed window, written by the
     * closing thread; connected on the first closed window (an unreachable
     * server is logged and counted, never fatal).  NULL: none. */
    const char *db_url;
    const char *db_table; /* NULL: RP_MONITOR_DB_TABLE */
} rp__monitor_live_config;

typedef struct rp__monitor_live rp__monitor_live;

/* Reads the reference (rp__monitor_reference_read with
 * rp__monitor_spec_serving: a file without one of those columns fails
 * naming it), allocates both window buffers and registers the metrics.
 * Returns 0 with *out (free with rp__monitor_live_free), or -1 with err
 * (RP_ERR_INVALID for a bad option or reference, RP_ERR_IO naming a file
 * that cannot be read, RP_ERR_NOMEM). */
int rp__monitor_live_new(const rp__monitor_live_config *cfg, rp__monitor_live **out, rp_error *err);

/* Stops the background thread (if started) and frees everything.  The
 * current window is not closed.  NULL is ignored. */
void rp__monitor_live_free(rp__monitor_live *l);

/* Records n predicted rides (column arrays; a NaN prediction is a record
 * that was not predicted: skipped; a NaN location or distance is a missing
 * cell) in the window of the present: when the current window has ended
 * it is handed over for comparison first (unless the window before is
 * still being compared: then the rides count in the ended one).  One lock
 * and one clock reading per call: record a batch at a time. */
void rp__monitor_live_record(rp__monitor_live *l, const double *pu, const double *dol, const double *distance,
                             const double *prediction, size_t n);

/* Closes the window handed over by rp__monitor_live_record, else the
 * current window when the clock has passed its end: compares it (on the
 * calling thread), keeps the result, updates the gauges, logs, and writes
 * it (and any pending window) to the sink.  The next window is the
 * one that holds the present time (windows without a ride in between are
 * skipped, not closed).  Returns 1 when a window was closed, 0 when none
 * was due, -1 when the comparison failed (logged; the window is lost). */
int rp__monitor_live_tick(rp__monitor_live *l);

/* Starts a thread that calls rp__monitor_live_tick at each window's end.
 * Returns 0, or -1 with err.  rp__monitor_live_stop (or _free) ends it. */
int rp__monitor_live_start(rp__monitor_live *l, rp_error *err);
void rp__monitor_live_stop(rp__monitor_live *l);

/* The last closed window into *out: 1, or 0 when none closed yet. */
int rp__monitor_live_last(rp__monitor_live *l, rp__monitor_live_window *out);

/* Up to cap of the last closed windows, oldest first; returns how many. */
size_t rp__monitor_live_history(rp__monitor_live *l, rp__monitor_live_window *out, size_t cap);

/* Rides recorded in the current window (all of them, sampled or not) and
 * rows in its sample (at most cap). */
void rp__monitor_live_current(rp__monitor_live *l, uint64_t *rides, size_t *sampled);

/* The current window's sample rows of column `name` (a column of
 * rp__monitor_spec_serving) copied into out (up to cap values); returns
 * how many.  For tests and diagnostics. */
size_t rp__monitor_live_sample_column(rp__monitor_live *l, const char *name, double *out, size_t cap);

/* Appends the "monitor" object of /dashboard.json (contract 3 of issue 15,
 * docs/monitoring.md): window_seconds, columns, reference_rides,
 * prediction_bounds, reference_histogram, current and the last windows,
 * oldest first.  Returns 0, or -1 when out refused an append. */
int rp__monitor_live_json(const rp__monitor_live *l, rp__buf *out);

#endif
