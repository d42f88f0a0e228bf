/* Monitoring while serving: see live.h. */
#include "monitor/live.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pyfloat.h"
#include "monitor/db.h"
#include "monitor/report.h"
#include "ridepred/log.h"

const double rp__monitor_live_bounds[RP_MONITOR_LIVE_BOUNDS] = {2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22,
                                                                24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44,
                                                                46, 48, 50, 52, 54, 56, 58, 60, 90, 120};

#define NB (RP_MONITOR_LIVE_BOUNDS + 1) /* buckets with +Inf */

/* A closed window waiting for its sink write. */
typedef struct pending {
    rp__monitor_live_window w;
} pending;

struct rp__monitor_live {
    rp__monitor_spec spec;
    int c_pu, c_do, c_td, c_pred; /* the serving columns in spec */
    rp__monitor_sample ref;
    rp__monitor_prepared prep; /* ref, each column sorted once */
    char source[16];
    int64_t window_us;
    size_t cap;
    int64_t (*clock_us)(void *);
    void *clock_ctx;
    rp__monitor_live_sink sink;
    void *sink_ctx;
    char *db_url, *db_table;
    rp__monitor_db *db; /* connected on the first write (close_mu) */
    size_t ref_hist[NB];

    /* The current window: guarded by mu. */
    pthread_mutex_t mu;
    rp__monitor_sample cur, spare; /* spare: the closed window, compared outside mu */
    bool spare_pending;            /* spare holds a closed window not yet compared */
    int64_t spare_start;           /* ... which began then */
    int64_t start_us;              /* of the current window */
    uint64_t seen;                 /* rides recorded in the current window */
    uint64_t rng;
    size_t cur_hist[NB];

    /* Closing: one at a time (close_mu), results under res_mu. */
    pthread_mutex_t close_mu;
    pthread_mutex_t res_mu;
    rp__monitor_live_window ring[RP_MONITOR_LIVE_HISTORY];
    size_t ring_n, ring_head; /* ring_head: the oldest when full */
    pending queue[RP_MONITOR_LIVE_PENDING];
    size_t q_n, q_head;

    /* Metrics (NULL handles are ignored). */
    rp__histogram *h_pred;
    rp__gauge *g_drift, *g_drifted, *g_cols, *g_dataset, *g_missing, *g_rides;
    rp__counter *c_windows, *c_db_failures;

    /* The background thread. */
    pthread_t thread;
    bool running, stop;
    pthread_cond_t cond;
};

/* The sink of db_url: connects when not connected, writes the row. */
static int db_sink(void *ctx, const char *source, const rp__monitor_spec *spec,
                   const rp__monitor_live_window *w, rp_error *err)
{
    rp__monitor_live *l = ctx;
    if (!l->db && rp__monitor_db_open(l->db_url, l->db_table, &l->db, err) < 0)
        return -1;
    rp__monitor_db_row row = {
        .source = source, .start_us = w->start_us, .end_us = w->end_us, .spec = spec, .result = &w->result};
    return rp__monitor_db_write(l->db, &row, err);
}

static int64_t realtime_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_us(const rp__monitor_live *l)
{
    return l->clock_us(l->clock_ctx);
}

static int64_t window_start(const rp__monitor_live *l, int64_t t)
{
    int64_t k = t / l->window_us;
    if (t < 0 && t % l->window_us)
        k--;
    return k * l->window_us;
}

/* splitmix64: small, fast, and good enough to pick reservoir slots. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias of at most
 * n / 2^64 is far below what a window can show). */
static uint64_t uniform(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)next_rand(s) * n) >> 64);
}

/* The bucket of x: the first bound >= x, as Prometheus counts (NaN: +Inf).
 * The bounds are 2, 4, ..., 60, 90, 120: x / 2 and its ceiling are exact. */
static size_t bucket(double x)
{
    if (x <= 2)
        return 0;
    if (x <= 60)
        return (size_t)ceil(x / 2) - 1;
    if (x <= 90)
        return RP_MONITOR_LIVE_BOUNDS - 2;
    if (x <= 120)
        return RP_MONITOR_LIVE_BOUNDS - 1;
    return RP_MONITOR_LIVE_BOUNDS;
}

static void register_metrics(rp__monitor_live *l, rp__metrics *m)
{
    if (!m)
        return;
    l->h_pred = rp__metrics_histogram(m, "ridepred_prediction_minutes",
                                      "Predicted ride durations (minutes), every ride predicted.", NULL,
                                      rp__monitor_live_bounds, RP_MONITOR_LIVE_BOUNDS);
    l->g_drift =
        rp__metrics_gauge(m, "ridepred_monitor_prediction_drift",
                          "Drift score of the prediction in the last closed window (NaN before one).", NULL);
    l->g_drifted = rp__metrics_gauge(m, "ridepred_monitor_prediction_drifted",
                                     "1 when the prediction drifted in the last closed window.", NULL);
    l->g_cols = rp__metrics_gauge(m, "ridepred_monitor_drifted_columns",
                                  "Drifted columns in the last closed window.", NULL);
    l->g_dataset = rp__metrics_gauge(m, "ridepred_monitor_dataset_drift",
                                     "1 when the last closed window showed dataset drift.", NULL);
    l->g_missing =
        rp__metrics_gauge(m, "ridepred_monitor_share_missing_values",
                          "Share of missing cells in the last closed window (NaN before one).", NULL);
    l->c_windows =
        rp__metrics_counter(m, "ridepred_monitor_windows_total", "Monitoring windows closed.", NULL);
    l->g_rides =
        rp__metrics_gauge(m, "ridepred_monitor_window_rides", "Rides in the current window so far.", NULL);
    l->c_db_failures = rp__metrics_counter(m, "ridepred_monitor_db_failures_total",
                                           "Failed writes of monitoring rows to the database.", NULL);
    rp__gauge_set(l->g_drift, NAN);
    rp__gauge_set(l->g_missing, NAN);
}

int rp__monitor_live_new(const rp__monitor_live_config *cfg, rp__monitor_live **out, rp_error *err)
{
    *out = NULL;
    double window_s = cfg->window_s ? cfg->window_s : RP_MONITOR_LIVE_WINDOW_DEFAULT;
    size_t cap = cfg->cap ? cfg->cap : RP_MONITOR_LIVE_CAP_DEFAULT;
    if (!cfg->reference || !*cfg->reference)
        return rp_error_set(err, RP_ERR_INVALID, "monitoring needs a reference file (--monitor-reference)");
    if (!(window_s >= 0.001 && window_s <= RP_MONITOR_LIVE_WINDOW_MAX))
        return rp_error_set(err, RP_ERR_INVALID,
                            "the monitoring window must be 0.001 s to %.0f s (31 days); set --monitor-window",
                            RP_MONITOR_LIVE_WINDOW_MAX);
    if (cap > RP_MONITOR_LIVE_CAP_MAX)
        return rp_error_set(err, RP_ERR_INVALID,
                            "--monitor-cap %zu is over %d rides (each costs 64 bytes); lower it", cap,
                            RP_MONITOR_LIVE_CAP_MAX);
    rp__monitor_live *l = calloc(1, sizeof *l);
    if (!l)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->close_mu, NULL);
    pthread_mutex_init(&l->res_mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    snprintf(l->source, sizeof l->source, "%s", cfg->source ? cfg->source : "serve");
    l->window_us = (int64_t)llround(window_s * 1e6);
    l->cap = cap;
    l->clock_us = cfg->clock_us ? cfg->clock_us : realtime_us;
    l->clock_ctx = cfg->clock_ctx;
    l->sink = cfg->sink;
    l->sink_ctx = cfg->sink_ctx;
    if (!l->sink && cfg->db_url && *cfg->db_url) {
        l->db_url = strdup(cfg->db_url);
        l->db_table = cfg->db_table ? strdup(cfg->db_table) : NULL;
        if (!l->db_url || (cfg->db_table && !l->db_table)) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        l->sink = db_sink;
        l->sink_ctx = l;
    }
    l->rng = cfg->seed ? cfg->seed : 0x5eed5eed12345678ULL;
    rp__monitor_spec_serving(&l->spec);
    l->c_pu = rp__monitor_spec_find(&l->spec, "PULocationID");
    l->c_do = rp__monitor_spec_find(&l->spec, "DOLocationID");
    l->c_td = rp__monitor_spec_find(&l->spec, "trip_distance");
    l->c_pred = rp__monitor_spec_find(&l->spec, RP_MONITOR_PREDICTION);
    if (l->c_pu < 0 || l->c_do < 0 || l->c_td < 0 || l->c_pred < 0) {
        rp_error_set(err, RP_ERR_INVALID, "the serving spec lacks a column of ride events (a bug)");
        goto fail;
    }
    if (rp__monitor_reference_read(cfg->reference, &l->spec, &l->ref, NULL, err) < 0)
        goto fail;
    if (l->ref.n == 0) {
        rp_error_set(err, RP_ERR_INVALID,
                     "%s: the reference has no rows; write one with `ridepred monitor "
                     "--write-reference` or `ridepred train`",
                     cfg->reference);
        goto fail;
    }
    if (rp__monitor_prepare(&l->spec, &l->ref, &l->prep, err) < 0)
        goto fail;
    for (size_t i = 0; i < l->ref.n; i++) {
        double p = l->ref.col[l->c_pred][i];
        if (isfinite(p))
            l->ref_hist[bucket(p)]++;
    }
    if (rp__monitor_sample_init(&l->cur, l->spec.n, cap, err) < 0 ||
        rp__monitor_sample_init(&l->spare, l->spec.n, cap, err) < 0)
        goto fail;
    l->start_us = window_start(l, now_us(l));
    register_metrics(l, cfg->metrics);
    *out = l;
    return 0;
fail:
    rp__monitor_live_free(l);
    return -1;
}

void rp__monitor_live_free(rp__monitor_live *l)
{
    if (!l)
        return;
    rp__monitor_live_stop(l);
    rp__monitor_db_close(l->db);
    free(l->db_url);
    free(l->db_table);
    rp__monitor_prepared_free(&l->prep);
    rp__monitor_sample_free(&l->ref);
    rp__monitor_sample_free(&l->cur);
    rp__monitor_sample_free(&l->spare);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->close_mu);
    pthread_mutex_destroy(&l->res_mu);
    pthread_cond_destroy(&l->cond);
    free(l);
}

/* Under mu: the current window (which ended) becomes the spare, to be
 * compared; the window holding now begins empty. */
static void rotate(rp__monitor_live *l, int64_t now)
{
    rp__monitor_sample t = l->cur;
    l->cur = l->spare;
    l->spare = t;
    l->cur.n = 0;
    l->seen = 0;
    memset(l->cur_hist, 0, sizeof l->cur_hist);
    l->spare_start = l->start_us;
    l->spare_pending = true;
    l->start_us = window_start(l, now);
}

void rp__monitor_live_record(rp__monitor_live *l, const double *pu, const double *dol, const double *distance,
                             const double *prediction, size_t n)
{
    if (!n)
        return;
    /* The histogram of the batch, counted here, added once. */
    uint64_t counts[NB] = {0};
    double sum = 0;
    uint64_t added = 0;
    for (size_t i = 0; i < n; i++) {
        double p = prediction[i];
        if (isnan(p))
            continue;
        counts[bucket(p)]++;
        sum += p;
        added++;
    }
    if (!added)
        return;
    rp__histogram_add(l->h_pred, counts, sum);
    /* Rides go to the window of their arrival: a window that ended is
     * handed over here (its comparison is the closing thread's), unless the
     * one before is still being compared. */
    int64_t now = now_us(l);
    pthread_mutex_lock(&l->mu);
    bool rotated = false;
    if (now >= l->start_us + l->window_us && !l->spare_pending) {
        rotate(l, now);
        rotated = true;
    }
    for (size_t b = 0; b < NB; b++)
        l->cur_hist[b] += counts[b];
    rp__monitor_sample *s = &l->cur;
    double *cpu = s->col[l->c_pu], *cdo = s->col[l->c_do], *ctd = s->col[l->c_td], *cpr = s->col[l->c_pred];
    for (size_t i = 0; i < n; i++) {
        double p = prediction[i];
        if (isnan(p))
            continue;
        uint64_t t = l->seen++; /* this ride is the t-th (0-based) of the window */
        size_t k;
        if (s->n < l->cap) {
            k = s->n++;
        } else {
            uint64_t j = uniform(&l->rng, t + 1); /* Algorithm R: kept with probability cap / (t + 1) */
            if (j >= l->cap)
                continue;
            k = (size_t)j;
        }
        cpu[k] = pu[i];
        cdo[k] = dol[i];
        ctd[k] = distance[i];
        cpr[k] = p;
    }
    uint64_t seen = l->seen;
    pthread_mutex_unlock(&l->mu);
    rp__gauge_set(l->g_rides, (double)seen);
    if (rotated) { /* wake the closing thread, if there is one */
        pthread_mutex_lock(&l->res_mu);
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->res_mu);
    }
}

static void fmt_num(char *out, double x)
{
    if (isnan(x))
        strcpy(out, "nan");
    else
        out[rp__pyfloat_repr(x, out)] = '\0';
}

static void log_window(const rp__monitor_live *l, const rp__monitor_live_window *w)
{
    if (!rp_log_enabled(RP_LOG_INFO))
        return;
    const rp__monitor_result *r = &w->result;
    char start[40], end[40], rides[24], drift[32], cols[24], missing[32], share[32];
    rp__monitor_time_iso(w->start_us, start);
    rp__monitor_time_iso(w->end_us, end);
    snprintf(rides, sizeof rides, "%zu", r->rides);
    fmt_num(drift, r->prediction_drift);
    snprintf(cols, sizeof cols, "%zu", r->num_drifted_columns);
    fmt_num(missing, r->share_missing_values);
    fmt_num(share, r->share_drifted_columns);
    /* Each column's score as score_<name> (test_<name>: its test). */
    char keys[RP_MONITOR_MAX_COLUMNS][2][RP_MONITOR_NAME_MAX + 8], vals[RP_MONITOR_MAX_COLUMNS][32];
    const char *kv[RP_MONITOR_MAX_COLUMNS * 4];
    size_t k = 0;
    for (size_t j = 0; j < r->ncols && j < 4; j++) {
        snprintf(keys[j][0], sizeof keys[j][0], "score_%s", l->spec.col[j].name);
        snprintf(keys[j][1], sizeof keys[j][1], "test_%s", l->spec.col[j].name);
        const rp__monitor_column_result *c = &r->col[j];
        fmt_num(vals[j], c->status == RP_MONITOR_COLUMN_OK ? c->drift.score : NAN);
        kv[k++] = keys[j][0];
        kv[k++] = vals[j];
        kv[k++] = keys[j][1];
        kv[k++] = c->status == RP_MONITOR_COLUMN_OK ? rp__drift_test_name(c->drift.test) : "empty";
    }
    while (k < 16)
        kv[k++] = NULL;
    rp_log(RP_LOG_INFO, "monitoring window closed", "source", l->source, "start", start, "end", end, "rides",
           rides, "prediction_drift", drift, "prediction_drifted", r->prediction_drifted ? "true" : "false",
           "num_drifted_columns", cols, "share_drifted_columns", share, "dataset_drift",
           r->dataset_drift ? "true" : "false", "share_missing_values", missing, kv[0], kv[1], kv[2], kv[3],
           kv[4], kv[5], kv[6], kv[7], kv[8], kv[9], kv[10], kv[11], kv[12], kv[13], kv[14], kv[15], NULL);
}

/* Writes the pending windows, oldest first, then w (NULL: none); a window
 * whose write fails waits in the queue (the oldest dropped when full).
 * Called under close_mu. */
static void sink_windows(rp__monitor_live *l, const rp__monitor_live_window *w)
{
    if (w) {
        if (l->q_n == RP_MONITOR_LIVE_PENDING) {
            char start[40];
            rp__monitor_time_iso(l->queue[l->q_head].w.start_us, start);
            rp_log(RP_LOG_WARN,
                   "monitoring: too many windows wait for the database; the oldest is dropped "
                   "(monitoring rows are not rides: nothing else is lost)",
                   "start", start, NULL);
            l->q_head = (l->q_head + 1) % RP_MONITOR_LIVE_PENDING;
            l->q_n--;
        }
        l->queue[(l->q_head + l->q_n) % RP_MONITOR_LIVE_PENDING].w = *w;
        l->q_n++;
    }
    while (l->q_n) {
        rp_error err;
        const rp__monitor_live_window *head = &l->queue[l->q_head].w;
        if (l->sink(l->sink_ctx, l->source, &l->spec, head, &err) < 0) {
            rp__counter_add(l->c_db_failures, 1);
            char pend[24];
            snprintf(pend, sizeof pend, "%zu", l->q_n);
            rp_log(RP_LOG_WARN,
                   "monitoring: the window could not be written to the database; retried at the "
                   "next window",
                   "reason", err.msg, "pending", pend, NULL);
            return;
        }
        l->q_head = (l->q_head + 1) % RP_MONITOR_LIVE_PENDING;
        l->q_n--;
    }
}

int rp__monitor_live_tick(rp__monitor_live *l)
{
    pthread_mutex_lock(&l->close_mu);
    int64_t now = now_us(l);
    pthread_mutex_lock(&l->mu);
    bool handed = l->spare_pending; /* by rp__monitor_live_record */
    if (!handed && now < l->start_us + l->window_us) {
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_unlock(&l->close_mu);
        return 0;
    }
    if (!handed)
        rotate(l, now);
    rp__monitor_live_window w = {.start_us = l->spare_start, .end_us = l->spare_start + l->window_us};
    uint64_t seen = l->seen;
    pthread_mutex_unlock(&l->mu);
    if (!handed)
        rp__gauge_set(l->g_rides, (double)seen);

    /* spare is this thread's until spare_pending is cleared. */
    rp_error err;
    int rc = rp__monitor_compare_prepared(&l->spec, &l->prep, &l->spare, &w.result, &err);
    pthread_mutex_lock(&l->mu);
    l->spare_pending = false;
    pthread_mutex_unlock(&l->mu);
    if (rc < 0) {
        rp_log(RP_LOG_ERROR, "monitoring: the window could not be compared with the reference", "reason",
               err.msg, NULL);
        pthread_mutex_unlock(&l->close_mu);
        return -1;
    }
    pthread_mutex_lock(&l->res_mu);
    if (l->ring_n < RP_MONITOR_LIVE_HISTORY) {
        l->ring[(l->ring_head + l->ring_n++) % RP_MONITOR_LIVE_HISTORY] = w;
    } else {
        l->ring[l->ring_head] = w;
        l->ring_head = (l->ring_head + 1) % RP_MONITOR_LIVE_HISTORY;
    }
    pthread_mutex_unlock(&l->res_mu);
    const rp__monitor_result *r = &w.result;
    rp__gauge_set(l->g_drift, r->prediction_drift);
    rp__gauge_set(l->g_drifted, r->prediction_drifted ? 1 : 0);
    rp__gauge_set(l->g_cols, (double)r->num_drifted_columns);
    rp__gauge_set(l->g_dataset, r->dataset_drift ? 1 : 0);
    rp__gauge_set(l->g_missing, r->share_missing_values);
    rp__counter_add(l->c_windows, 1);
    log_window(l, &w);
    if (l->sink)
        sink_windows(l, &w);
    pthread_mutex_unlock(&l->close_mu);
    return 1;
}

static void *tick_main(void *arg)
{
    rp__monitor_live *l = arg;
    pthread_mutex_lock(&l->res_mu);
    while (!l->stop) {
        pthread_mutex_lock(&l->mu);
        int64_t end = l->start_us + l->window_us;
        bool handed = l->spare_pending; /* a recording thread closed the window */
        pthread_mutex_unlock(&l->mu);
        int64_t wait = handed ? 0 : end - now_us(l);
        if (wait > 0) {
            if (wait > 1000000) /* wake at least every second: the wall clock may be set */
                wait = 1000000;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (wait % 1000000) * 1000;
            ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&l->cond, &l->res_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&l->res_mu);
        rp__monitor_live_tick(l);
        pthread_mutex_lock(&l->res_mu);
    }
    pthread_mutex_unlock(&l->res_mu);
    return NULL;
}

int rp__monitor_live_start(rp__monitor_live *l, rp_error *err)
{
    if (l->running)
        return 0;
    l->stop = false;
    int e = pthread_create(&l->thread, NULL, tick_main, l);
    if (e)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot start the monitoring thread: %s", strerror(e));
    l->running = true;
    return 0;
}

void rp__monitor_live_stop(rp__monitor_live *l)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->res_mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->res_mu);
    pthread_join(l->thread, NULL);
    l->running = false;
}

int rp__monitor_live_last(rp__monitor_live *l, rp__monitor_live_window *out)
{
    pthread_mutex_lock(&l->res_mu);
    int got = l->ring_n > 0;
    if (got)
        *out = l->ring[(l->ring_head + l->ring_n - 1) % RP_MONITOR_LIVE_HISTORY];
    pthread_mutex_unlock(&l->res_mu);
    return got;
}

size_t rp__monitor_live_history(rp__monitor_live *l, rp__monitor_live_window *out, size_t cap)
{
    pthread_mutex_lock(&l->res_mu);
    size_t n = l->ring_n < cap ? l->ring_n : cap;
    size_t skip = l->ring_n - n;
    for (size_t i = 0; i < n; i++)
        out[i] = l->ring[(l->ring_head + skip + i) % RP_MONITOR_LIVE_HISTORY];
    pthread_mutex_unlock(&l->res_mu);
    return n;
}

void rp__monitor_live_current(rp__monitor_live *l, uint64_t *rides, size_t *sampled)
{
    pthread_mutex_lock(&l->mu);
    if (rides)
        *rides = l->seen;
    if (sampled)
        *sampled = l->cur.n;
    pthread_mutex_unlock(&l->mu);
}

size_t rp__monitor_live_sample_column(rp__monitor_live *l, const char *name, double *out, size_t cap)
{
    int j = rp__monitor_spec_find(&l->spec, name);
    if (j < 0)
        return 0;
    pthread_mutex_lock(&l->mu);
    size_t n = l->cur.n < cap ? l->cur.n : cap;
    memcpy(out, l->cur.col[j], n * sizeof *out);
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void json_counts(rp__buf *b, const size_t *c)
{
    rp__buf_putc(b, '[');
    for (size_t i = 0; i < NB; i++)
        rp__buf_printf(b, "%s%zu", i ? ", " : "", c[i]);
    rp__buf_putc(b, ']');
}

static void json_time(rp__buf *b, int64_t us)
{
    char t[40];
    rp__monitor_time_iso(us, t);
    rp__buf_printf(b, "\"%s\"", t);
}

int rp__monitor_live_json(const rp__monitor_live *cl, rp__buf *b)
{
    rp__monitor_live *l = (rp__monitor_live *)cl; /* the locks only */
    rp__buf_lit(b, "{\"window_seconds\": ");
    rp__monitor_json_number(b, (double)l->window_us / 1e6);
    rp__buf_lit(b, ", \"columns\": [");
    for (size_t j = 0; j < l->spec.n; j++)
        rp__buf_printf(b, "%s{\"name\": \"%s\", \"kind\": \"%s\"}", j ? ", " : "", l->spec.col[j].name,
                       l->spec.col[j].kind == RP_DRIFT_CAT ? "cat" : "num");
    rp__buf_printf(b, "], \"reference_rides\": %zu, \"prediction_bounds\": [", l->ref.n);
    for (size_t i = 0; i < RP_MONITOR_LIVE_BOUNDS; i++) {
        if (i)
            rp__buf_lit(b, ", ");
        rp__monitor_json_number(b, rp__monitor_live_bounds[i]);
    }
    rp__buf_lit(b, "], \"reference_histogram\": ");
    json_counts(b, l->ref_hist);
    size_t hist[NB];
    pthread_mutex_lock(&l->mu);
    int64_t start = l->start_us;
    uint64_t seen = l->seen;
    memcpy(hist, l->cur_hist, sizeof hist);
    pthread_mutex_unlock(&l->mu);
    rp__buf_lit(b, ", \"current\": {\"start\": ");
    json_time(b, start);
    rp__buf_printf(b, ", \"rides\": %llu, \"histogram\": ", (unsigned long long)seen);
    json_counts(b, hist);
    rp__buf_lit(b, "}, \"windows\": [");
    pthread_mutex_lock(&l->res_mu);
    for (size_t i = 0; i < l->ring_n; i++) {
        if (i)
            rp__buf_lit(b, ", ");
        {
            const rp__monitor_live_window *w = &l->ring[(l->ring_head + i) % RP_MONITOR_LIVE_HISTORY];
            rp__monitor_window_json(b, &l->spec, w->start_us, w->end_us, &w->result);
        }
    }
    pthread_mutex_unlock(&l->res_mu);
    rp__buf_lit(b, "]}");
    return b->failed ? -1 : 0;
}
