/* src/monitor/live: the bounded, reservoir-sampled window, closing windows
 * by an injected clock, the history ring, the gauges, the sink's retries
 * and the JSON of /dashboard.json's "monitor" object. */
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "common/json.h"
#include "common/metrics.h"
#include "monitor/live.h"
#include "ridepred/log.h"
#include "testing.h"

#define S 1000000LL /* microseconds per second */

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static char dir[512];

/* A reference of n rides: distance 1..10, locations 1..5, predictions 5..25 minutes. */
static void write_reference(const char *path, size_t n)
{
    rp__monitor_spec spec;
    rp__monitor_spec_serving(&spec);
    rp__monitor_sample s;
    rp_error err;
    CHECK(rp__monitor_sample_init(&s, spec.n, n, &err) == 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < spec.n; j++) {
            const char *name = spec.col[j].name;
            double v = !strcmp(name, "trip_distance")  ? 1 + (double)(i % 10)
                       : !strcmp(name, "PULocationID") ? 1 + (double)(i % 5)
                       : !strcmp(name, "DOLocationID") ? 1 + (double)((i / 5) % 5)
                                                       : 5 + (double)(i % 21);
            s.col[j][i] = v;
        }
    }
    s.n = n;
    CHECK(rp__monitor_reference_write(path, &spec, &s, &err) == 0);
    rp__monitor_sample_free(&s);
}

static char ref_path[600];

static rp__monitor_live *open_live(size_t cap, double window_s, rp__metrics *m, rp__monitor_live_sink sink,
                                   void *sink_ctx)
{
    rp__monitor_live_config cfg = {.reference = ref_path,
                                   .source = "consume",
                                   .window_s = window_s,
                                   .cap = cap,
                                   .seed = 42,
                                   .metrics = m,
                                   .clock_us = fake_clock,
                                   .sink = sink,
                                   .sink_ctx = sink_ctx};
    rp__monitor_live *l = NULL;
    rp_error err;
    int r = rp__monitor_live_new(&cfg, &l, &err);
    if (r < 0)
        fprintf(stderr, "rp__monitor_live_new: %s\n", err.msg);
    CHECK(r == 0 && l);
    return l;
}

/* Records rides i = from .. to-1: pu = 1 + i % 7, do = 2, distance = i, prediction = 10 + i % 30. */
static void record_range(rp__monitor_live *l, size_t from, size_t to)
{
    enum {
        B = 256
    };
    double pu[B], dol[B], td[B], pr[B];
    while (from < to) {
        size_t k = 0;
        for (; k < B && from < to; k++, from++) {
            pu[k] = 1 + (double)(from % 7);
            dol[k] = 2;
            td[k] = (double)from;
            pr[k] = 10 + (double)(from % 30);
        }
        rp__monitor_live_record(l, pu, dol, td, pr, k);
    }
}

TEST(test_cap_holds)
{
    fake_now = 1000 * S;
    rp__monitor_live *l = open_live(100, 3600, NULL, NULL, NULL);
    if (!l)
        return;
    record_range(l, 0, 50000);
    uint64_t rides;
    size_t sampled;
    rp__monitor_live_current(l, &rides, &sampled);
    CHECK(rides == 50000);
    CHECK(sampled == 100);
    static double got[200];
    size_t n = rp__monitor_live_sample_column(l, "trip_distance", got, 200);
    CHECK(n == 100);
    /* Every sampled row is a ride that was recorded, with its own columns. */
    double pu[200], pr[200];
    CHECK(rp__monitor_live_sample_column(l, "PULocationID", pu, 200) == 100);
    CHECK(rp__monitor_live_sample_column(l, RP_MONITOR_PREDICTION, pr, 200) == 100);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = (size_t)got[i];
        bad +=
            got[i] < 0 || got[i] >= 50000 || pu[i] != 1 + (double)(r % 7) || pr[i] != 10 + (double)(r % 30);
    }
    CHECK(bad == 0);
    /* A NaN prediction is a record that was not predicted: not counted. */
    double one = 1, nan_ = NAN;
    rp__monitor_live_record(l, &one, &one, &one, &nan_, 1);
    rp__monitor_live_current(l, &rides, &sampled);
    CHECK(rides == 50000);
    rp__monitor_live_free(l);
}

/* The reservoir keeps a uniform sample of the whole window: the mean of
 * 1,000 sampled values of 0..N-1 is near (N-1)/2 (its standard error is
 * N / sqrt(12 * 1000) ~ 0.009 N; 4 of them allowed), and as many come from
 * each half.  Keeping the first cap rows would give a mean near 500. */
TEST(test_reservoir_uniform)
{
    fake_now = 1000 * S;
    rp__monitor_live *l = open_live(1000, 3600, NULL, NULL, NULL);
    if (!l)
        return;
    const size_t N = 200000;
    record_range(l, 0, N);
    static double got[1000];
    size_t n = rp__monitor_live_sample_column(l, "trip_distance", got, 1000);
    CHECK(n == 1000);
    double sum = 0;
    size_t low = 0, last_tenth = 0;
    for (size_t i = 0; i < n; i++) {
        sum += got[i];
        low += got[i] < (double)N / 2;
        last_tenth += got[i] >= 0.9 * (double)N;
    }
    double mean = sum / (double)n, want = (double)(N - 1) / 2, se = (double)N / sqrt(12.0 * 1000);
    CHECK(fabs(mean - want) < 4 * se);
    CHECK(low > 430 && low < 570);              /* binomial(1000, 0.5): sd 15.8 */
    CHECK(last_tenth > 55 && last_tenth < 145); /* binomial(1000, 0.1): sd 9.5 */
    rp__monitor_live_free(l);
}

TEST(test_window_closes_by_clock)
{
    fake_now = 7200 * S + 10 * S; /* 10 s into a 60 s window */
    rp__metrics *m = rp__metrics_new();
    rp__monitor_live *l = open_live(100000, 60, m, NULL, NULL);
    if (!l) {
        rp__metrics_free(m);
        return;
    }
    record_range(l, 0, 3000);
    CHECK(rp__monitor_live_tick(l) == 0); /* not due */
    fake_now = 7200 * S + 60 * S - 1;
    CHECK(rp__monitor_live_tick(l) == 0);
    rp__monitor_live_window w;
    CHECK(rp__monitor_live_last(l, &w) == 0);
    fake_now = 7200 * S + 60 * S; /* the window's end */
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(rp__monitor_live_tick(l) == 0);
    CHECK(rp__monitor_live_last(l, &w) == 1);
    CHECK(w.start_us == 7200 * S && w.end_us == 7260 * S);
    CHECK(w.result.rides == 3000);
    uint64_t rides;
    rp__monitor_live_current(l, &rides, NULL);
    CHECK(rides == 0);

    /* The gauges are the comparison's figures: the same window compared
     * here directly (cap above the rides: the window is exact). */
    rp__monitor_spec spec;
    rp__monitor_spec_serving(&spec);
    rp__monitor_sample ref, cur;
    rp_error err;
    CHECK(rp__monitor_reference_read(ref_path, &spec, &ref, NULL, &err) == 0);
    CHECK(rp__monitor_sample_init(&cur, spec.n, 3000, &err) == 0);
    for (size_t i = 0; i < 3000; i++) {
        cur.col[rp__monitor_spec_find(&spec, "PULocationID")][i] = 1 + (double)(i % 7);
        cur.col[rp__monitor_spec_find(&spec, "DOLocationID")][i] = 2;
        cur.col[rp__monitor_spec_find(&spec, "trip_distance")][i] = (double)i;
        cur.col[rp__monitor_spec_find(&spec, RP_MONITOR_PREDICTION)][i] = 10 + (double)(i % 30);
    }
    cur.n = 3000;
    rp__monitor_result want;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &want, &err) == 0);
    CHECK(w.result.prediction_drift == want.prediction_drift);
    CHECK(w.result.num_drifted_columns == want.num_drifted_columns);
    CHECK(want.num_drifted_columns >= 2); /* trip_distance 0..2999 and DOLocationID 2 against 1..10, 1..5 */
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    CHECK(rp__metrics_render(m, &out) == 0);
    char line[200];
    snprintf(line, sizeof line, "ridepred_monitor_drifted_columns %zu.0\n", want.num_drifted_columns);
    CHECK(strstr(out.data, line) != NULL);
    CHECK(strstr(out.data, "ridepred_monitor_windows_total 1\n") != NULL);
    CHECK(strstr(out.data, "ridepred_monitor_window_rides 0.0\n") != NULL);
    snprintf(line, sizeof line, "ridepred_monitor_dataset_drift %d.0\n", want.dataset_drift ? 1 : 0);
    CHECK(strstr(out.data, line) != NULL);
    CHECK(strstr(out.data, "ridepred_monitor_share_missing_values 0.0\n") != NULL);
    /* Every prediction is in the histogram: 3000 rides, 10..39 minutes. */
    CHECK(strstr(out.data, "ridepred_prediction_minutes_count 3000\n") != NULL);
    CHECK(strstr(out.data, "ridepred_prediction_minutes_bucket{le=\"8.0\"} 0\n") != NULL);
    CHECK(strstr(out.data, "ridepred_prediction_minutes_bucket{le=\"10.0\"} 100\n") != NULL);
    CHECK(strstr(out.data, "ridepred_prediction_minutes_bucket{le=\"+Inf\"} 3000\n") != NULL);
    double gauge_drift = NAN;
    const char *g = strstr(out.data, "\nridepred_monitor_prediction_drift ");
    CHECK(g != NULL);
    if (g)
        gauge_drift = strtod(g + strlen("\nridepred_monitor_prediction_drift "), NULL);
    CHECK(fabs(gauge_drift - want.prediction_drift) <= 1e-12 * fabs(want.prediction_drift));

    /* Hours later: one (empty) window closes, the next holds the present. */
    fake_now = 7200 * S + 3 * 3600 * S + 5 * S;
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(rp__monitor_live_last(l, &w) == 1);
    CHECK(w.start_us == 7260 * S && w.result.rides == 0);
    CHECK(isnan(w.result.prediction_drift));
    fake_now += 55 * S;
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(rp__monitor_live_last(l, &w) == 1);
    CHECK(w.start_us == 7200 * S + 3 * 3600 * S);
    rp__monitor_sample_free(&ref);
    rp__monitor_sample_free(&cur);
    rp__buf_cleanup(&out);
    rp__monitor_live_free(l);
    rp__metrics_free(m);
}

/* Rides recorded after a window's end belong to the next window, even
 * before the window is closed (compared): the recording hands it over. */
TEST(test_rides_by_arrival)
{
    fake_now = 100 * S;
    rp__monitor_live *l = open_live(1000, 10, NULL, NULL, NULL);
    if (!l)
        return;
    record_range(l, 0, 30);
    fake_now = 110 * S; /* the window [100, 110) ended; nobody closed it yet */
    record_range(l, 0, 7);
    uint64_t rides;
    rp__monitor_live_current(l, &rides, NULL);
    CHECK(rides == 7);
    record_range(l, 0, 5); /* the handed-over window waits: no second hand-over */
    CHECK(rp__monitor_live_tick(l) == 1);
    rp__monitor_live_window w;
    CHECK(rp__monitor_live_last(l, &w) == 1 && w.start_us == 100 * S && w.result.rides == 30);
    CHECK(rp__monitor_live_tick(l) == 0);
    fake_now = 125 * S; /* [110, 120) ended too: closed by tick, 12 rides */
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(rp__monitor_live_last(l, &w) == 1 && w.start_us == 110 * S && w.result.rides == 12);
    rp__monitor_live_free(l);
}

TEST(test_history_ring)
{
    fake_now = 0;
    rp__monitor_live *l = open_live(1000, 1, NULL, NULL, NULL);
    if (!l)
        return;
    for (size_t k = 1; k <= 50; k++) { /* window k holds k rides */
        record_range(l, 0, k);
        fake_now += S;
        CHECK(rp__monitor_live_tick(l) == 1);
    }
    static rp__monitor_live_window h[60];
    size_t n = rp__monitor_live_history(l, h, 60);
    CHECK(n == RP_MONITOR_LIVE_HISTORY);
    CHECK(h[0].result.rides == 3 && h[0].start_us == 2 * S); /* the oldest two are gone */
    CHECK(h[47].result.rides == 50 && h[47].start_us == 49 * S);
    int order = 0;
    for (size_t i = 1; i < n; i++)
        order += h[i].start_us != h[i - 1].start_us + S;
    CHECK(order == 0);
    CHECK(rp__monitor_live_history(l, h, 2) == 2 && h[1].result.rides == 50 && h[0].result.rides == 49);
    rp__monitor_live_free(l);
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* Inside an object the reader entered: positions r at key's value (read
 * into v; a container is entered).  False when missing. */
static bool member(rp__json_reader *r, const char *key, rp__json_value *v)
{
    rp__json_value k;
    while (rp__json_member(r, &k) == 1) {
        if (rp__json_str_eq(&k, key, strlen(key)))
            return rp__json_next(r, v) == 1;
        if (rp__json_skip(r, NULL) < 0)
            return false;
    }
    return false;
}

/* The JSON text json, the value at key of the top-level object. */
static bool top(const char *json, const char *key, rp__json_reader *r, rp__json_value *v)
{
    rp__json_value root;
    rp__json_init(r, json, strlen(json), 64);
    if (rp__json_next(r, &root) != 1 || root.type != RP_JSON_OBJECT)
        return false;
    return member(r, key, v);
}

/* Sum of an array of numbers the reader just entered, and its length. */
static double array_sum(rp__json_reader *r, size_t *len)
{
    double s = 0;
    *len = 0;
    rp__json_value e;
    while (rp__json_element(r) == 1) {
        if (rp__json_next(r, &e) != 1 || e.type != RP_JSON_NUMBER)
            return NAN;
        s += rp__json_number(&e);
        (*len)++;
    }
    return s;
}

static int sink_calls, sink_fail;
static int64_t sink_starts[200];
static int count_sink(void *ctx, const char *source, const rp__monitor_spec *spec,
                      const rp__monitor_live_window *w, rp_error *err)
{
    (void)ctx;
    (void)spec;
    if (strcmp(source, "consume") != 0)
        return rp_error_set(err, RP_ERR_INVALID, "bad source");
    if (sink_fail)
        return rp_error_set(err, RP_ERR_IO, "connection refused");
    sink_starts[sink_calls++ % 200] = w->start_us;
    return 0;
}

TEST(test_json_shape)
{
    fake_now = 1765119600LL * S; /* 2025-12-07T15:00:00Z */
    rp__monitor_live *l = open_live(1000, 3600, NULL, NULL, NULL);
    if (!l)
        return;
    record_range(l, 0, 500);
    fake_now += 3600 * S;
    CHECK(rp__monitor_live_tick(l) == 1);
    record_range(l, 0, 7);
    rp__buf b;
    rp__buf_init(&b, 1 << 20);
    CHECK(rp__monitor_live_json(l, &b) == 0);
    /* One valid JSON document. */
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, b.data, b.len, 64);
    CHECK(rp__json_skip(&r, NULL) == 1 && rp__json_end(&r) == 1);

    CHECK(top(b.data, "window_seconds", &r, &v) && v.type == RP_JSON_NUMBER && rp__json_number(&v) == 3600);
    CHECK(top(b.data, "reference_rides", &r, &v) && rp__json_number(&v) == 2000);
    size_t nb = 0, nh = 0;
    CHECK(top(b.data, "prediction_bounds", &r, &v) && v.type == RP_JSON_ARRAY);
    array_sum(&r, &nb);
    CHECK(nb == RP_MONITOR_LIVE_BOUNDS);
    CHECK(top(b.data, "reference_histogram", &r, &v) && v.type == RP_JSON_ARRAY);
    CHECK(array_sum(&r, &nh) == 2000 && nh == RP_MONITOR_LIVE_BOUNDS + 1);
    CHECK(top(b.data, "columns", &r, &v) && v.type == RP_JSON_ARRAY);
    CHECK(strstr(b.data, "{\"name\": \"trip_distance\", \"kind\": \"num\"}") != NULL);
    CHECK(strstr(b.data, "{\"name\": \"PULocationID\", \"kind\": \"cat\"}") != NULL);
    CHECK(top(b.data, "current", &r, &v) && v.type == RP_JSON_OBJECT);
    CHECK(member(&r, "start", &v) && v.type == RP_JSON_STRING &&
          rp__json_str_eq(&v, "2025-12-07T16:00:00Z", 20));
    CHECK(member(&r, "rides", &v) && rp__json_number(&v) == 7);
    CHECK(member(&r, "histogram", &v) && v.type == RP_JSON_ARRAY);
    CHECK(array_sum(&r, &nh) == 7 && nh == RP_MONITOR_LIVE_BOUNDS + 1);
    CHECK(top(b.data, "windows", &r, &v) && v.type == RP_JSON_ARRAY);
    CHECK(rp__json_element(&r) == 1 && rp__json_next(&r, &v) == 1 && v.type == RP_JSON_OBJECT);
    CHECK(member(&r, "start", &v) && rp__json_str_eq(&v, "2025-12-07T15:00:00Z", 20));
    CHECK(member(&r, "end", &v) && rp__json_str_eq(&v, "2025-12-07T16:00:00Z", 20));
    CHECK(member(&r, "rides", &v) && rp__json_number(&v) == 500);
    CHECK(member(&r, "prediction_drift", &v) && v.type == RP_JSON_NUMBER);
    CHECK(member(&r, "prediction_drifted", &v) && (v.type == RP_JSON_TRUE || v.type == RP_JSON_FALSE));
    CHECK(member(&r, "num_drifted_columns", &v) && v.type == RP_JSON_NUMBER);
    CHECK(member(&r, "share_drifted_columns", &v) && v.type == RP_JSON_NUMBER);
    CHECK(member(&r, "dataset_drift", &v) && (v.type == RP_JSON_TRUE || v.type == RP_JSON_FALSE));
    CHECK(member(&r, "share_missing_values", &v) && v.type == RP_JSON_NUMBER && rp__json_number(&v) == 0);
    CHECK(member(&r, "columns", &v) && v.type == RP_JSON_OBJECT);
    CHECK(member(&r, "trip_distance", &v) && v.type == RP_JSON_OBJECT);
    CHECK(member(&r, "test", &v) && v.type == RP_JSON_STRING && rp__json_str_eq(&v, "wasserstein", 11));
    CHECK(member(&r, "score", &v) && v.type == RP_JSON_NUMBER);
    CHECK(member(&r, "drifted", &v) && v.type == RP_JSON_TRUE);
    CHECK(member(&r, "missing", &v) && rp__json_number(&v) == 0);
    /* The window's figures are those of rp__monitor_live_last. */
    rp__monitor_live_window w;
    CHECK(rp__monitor_live_last(l, &w) == 1);
    char want[64];
    snprintf(want, sizeof want, "\"num_drifted_columns\": %zu,", w.result.num_drifted_columns);
    CHECK(strstr(b.data, want) != NULL);
    rp__buf_cleanup(&b);

    /* Before any window: "windows": [] and the prediction drift gauge NaN. */
    rp__metrics *m = rp__metrics_new();
    rp__monitor_live *l2 = open_live(10, 60, m, NULL, NULL);
    rp__buf_init(&b, 1 << 20);
    CHECK(l2 && rp__monitor_live_json(l2, &b) == 0 && strstr(b.data, "\"windows\": []}") != NULL);
    rp__buf_reset(&b);
    CHECK(rp__metrics_render(m, &b) == 0 &&
          strstr(b.data, "\nridepred_monitor_prediction_drift NaN\n") != NULL);
    rp__buf_cleanup(&b);
    rp__monitor_live_free(l2);
    rp__metrics_free(m);
    rp__monitor_live_free(l);
}

TEST(test_sink_retries)
{
    fake_now = 0;
    rp__metrics *m = rp__metrics_new();
    rp__monitor_live *l = open_live(100, 1, m, count_sink, NULL);
    if (!l) {
        rp__metrics_free(m);
        return;
    }
    sink_calls = 0;
    sink_fail = 1;
    for (int k = 0; k < 3; k++) {
        record_range(l, 0, 10);
        fake_now += S;
        CHECK(rp__monitor_live_tick(l) == 1);
    }
    CHECK(sink_calls == 0);
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    CHECK(rp__metrics_render(m, &out) == 0 && strstr(out.data, "ridepred_monitor_db_failures_total 3\n"));
    /* The database is back: the pending windows go first, oldest first. */
    sink_fail = 0;
    fake_now += S;
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(sink_calls == 4);
    CHECK(sink_starts[0] == 0 && sink_starts[1] == S && sink_starts[2] == 2 * S && sink_starts[3] == 3 * S);
    /* A long outage: at most RP_MONITOR_LIVE_PENDING wait, the oldest dropped. */
    sink_calls = 0;
    sink_fail = 1;
    for (int k = 0; k < RP_MONITOR_LIVE_PENDING + 5; k++) {
        fake_now += S;
        CHECK(rp__monitor_live_tick(l) == 1);
    }
    sink_fail = 0;
    fake_now += S;
    CHECK(rp__monitor_live_tick(l) == 1);
    CHECK(sink_calls == RP_MONITOR_LIVE_PENDING);
    CHECK(sink_starts[RP_MONITOR_LIVE_PENDING - 1] == fake_now - S);
    CHECK(sink_starts[0] == fake_now - (int64_t)RP_MONITOR_LIVE_PENDING * S);
    rp__buf_cleanup(&out);
    rp__monitor_live_free(l);
    rp__metrics_free(m);
}

TEST(test_bad_options)
{
    rp__monitor_live_config cfg = {.reference = "/nonexistent/ref.csv"};
    rp__monitor_live *l = NULL;
    rp_error err;
    CHECK(rp__monitor_live_new(&cfg, &l, &err) < 0 && !l);
    CHECK(strstr(err.msg, "/nonexistent/ref.csv") != NULL);
    /* A reference without a column of the serving spec. */
    char p[700];
    snprintf(p, sizeof p, "%s/nocol.csv", dir);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("num:trip_distance,cat:PULocationID,num:prediction\n1,2,3\n", f);
        fclose(f);
    }
    cfg.reference = p;
    CHECK(rp__monitor_live_new(&cfg, &l, &err) < 0 && !l);
    CHECK(strstr(err.msg, "DOLocationID") != NULL);
    cfg.reference = ref_path;
    cfg.window_s = -1;
    CHECK(rp__monitor_live_new(&cfg, &l, &err) < 0 && strstr(err.msg, "--monitor-window"));
    cfg.window_s = 60;
    cfg.cap = (size_t)RP_MONITOR_LIVE_CAP_MAX + 1;
    CHECK(rp__monitor_live_new(&cfg, &l, &err) < 0 && strstr(err.msg, "--monitor-cap"));
}

/* The background thread closes windows by the real clock. */
TEST(test_thread_closes)
{
    rp__metrics *m = rp__metrics_new();
    rp__monitor_live_config cfg = {.reference = ref_path, .window_s = 0.05, .cap = 100, .metrics = m};
    rp__monitor_live *l = NULL;
    rp_error err;
    CHECK(rp__monitor_live_new(&cfg, &l, &err) == 0);
    CHECK(rp__monitor_live_start(l, &err) == 0);
    record_range(l, 0, 100);
    rp__monitor_live_window w = {0};
    for (int i = 0; i < 200 && !(rp__monitor_live_last(l, &w) && w.result.rides > 0); i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    CHECK(w.result.rides == 100);
    rp__monitor_live_stop(l);
    rp__monitor_live_free(l);
    rp__metrics_free(m);
}

int main(void)
{
    rp_t_watchdog(60);
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    rp_t_tmpdir(dir, sizeof dir, "monitor_live");
    snprintf(ref_path, sizeof ref_path, "%s/ref.csv", dir);
    write_reference(ref_path, 2000);
    RUN(test_cap_holds);
    RUN(test_reservoir_uniform);
    RUN(test_window_closes_by_clock);
    RUN(test_rides_by_arrival);
    RUN(test_history_ring);
    RUN(test_json_shape);
    RUN(test_sink_retries);
    RUN(test_bad_options);
    RUN(test_thread_closes);
    rp_t_rmtree(dir);
    return rp_t_done();
}
