/* src/common/metrics: registration, updates from threads, and the exact
 * Prometheus text rendering. */
#include <math.h>
#include <pthread.h>

#include "common/metrics.h"
#include "testing.h"

TEST(test_render_exact)
{
    rp__metrics *m = rp__metrics_new();
    CHECK(m != NULL);
    rp__counter *ok = rp__metrics_counter(m, "x_total", "Things \\ done.", "outcome=\"ok\"");
    rp__counter *bad = rp__metrics_counter(m, "x_total", "ignored", "outcome=\"bad\"");
    rp__gauge *g = rp__metrics_gauge(m, "x_start_seconds", "Start.", NULL);
    static const double bounds[] = {0.001, 0.5, 1};
    rp__histogram *h = rp__metrics_histogram(m, "x_seconds", "Latency.", "k=\"v\"", bounds, 3);
    CHECK(ok && bad && g && h);
    rp__counter_add(ok, 3);
    rp__counter_add(bad, 1);
    rp__gauge_set(g, 1700000000.25);
    rp__histogram_observe(h, 0.0005);
    rp__histogram_observe(h, 0.001); /* on a bound: that bucket */
    rp__histogram_observe(h, 0.75);
    rp__histogram_observe(h, 20);
    rp__buf out;
    rp__buf_init(&out, 1 << 16);
    CHECK(rp__metrics_render(m, &out) == 0);
    CHECK_STR(out.data, "# HELP x_total Things \\\\ done.\n"
                        "# TYPE x_total counter\n"
                        "x_total{outcome=\"ok\"} 3\n"
                        "x_total{outcome=\"bad\"} 1\n"
                        "# HELP x_start_seconds Start.\n"
                        "# TYPE x_start_seconds gauge\n"
                        "x_start_seconds 1700000000.25\n"
                        "# HELP x_seconds Latency.\n"
                        "# TYPE x_seconds histogram\n"
                        "x_seconds_bucket{k=\"v\",le=\"0.001\"} 2\n"
                        "x_seconds_bucket{k=\"v\",le=\"0.5\"} 2\n"
                        "x_seconds_bucket{k=\"v\",le=\"1.0\"} 3\n"
                        "x_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"
                        "x_seconds_sum{k=\"v\"} 20.7515\n"
                        "x_seconds_count{k=\"v\"} 4\n");
    CHECK(rp__histogram_count(h) == 4);
    CHECK(fabs(rp__histogram_sum(h) - 20.7515) < 1e-12);
    rp__buf_cleanup(&out);
    rp__metrics_free(m);
}

TEST(test_bad_registrations)
{
    rp__metrics *m = rp__metrics_new();
    CHECK(rp__metrics_counter(m, "", "h", NULL) == NULL);
    CHECK(rp__metrics_counter(m, "9lives", "h", NULL) == NULL);
    CHECK(rp__metrics_counter(m, "has space", "h", NULL) == NULL);
    CHECK(rp__metrics_counter(m, "x", "two\nlines", NULL) == NULL);
    CHECK(rp__metrics_counter(m, "x", "h", "a=\"1\"\n") == NULL);
    static const double unsorted[] = {1, 0.5};
    static const double dup[] = {1, 1};
    const double inf[] = {INFINITY};
    CHECK(rp__metrics_histogram(m, "h", "h", NULL, unsorted, 2) == NULL);
    CHECK(rp__metrics_histogram(m, "h", "h", NULL, dup, 2) == NULL);
    CHECK(rp__metrics_histogram(m, "h", "h", NULL, inf, 1) == NULL);
    CHECK(rp__metrics_counter(NULL, "x", "h", NULL) == NULL);
    /* Nothing registered: an empty rendering. */
    rp__buf out;
    rp__buf_init(&out, 1024);
    CHECK(rp__metrics_render(m, &out) == 0 && out.len == 0);
    /* NULL handles are ignored. */
    rp__counter_add(NULL, 1);
    rp__gauge_set(NULL, 1);
    rp__histogram_observe(NULL, 1);
    CHECK(rp__counter_value(NULL) == 0);
    rp__buf_cleanup(&out);
    rp__metrics_free(m);
    rp__metrics_free(NULL);
}

TEST(test_render_cap)
{
    rp__metrics *m = rp__metrics_new();
    CHECK(rp__metrics_counter(m, "a_rather_long_metric_name_total", "Help text.", NULL) != NULL);
    rp__buf out;
    rp__buf_init(&out, 16);
    CHECK(rp__metrics_render(m, &out) == -1 && out.toobig);
    rp__buf_cleanup(&out);
    rp__metrics_free(m);
}

typedef struct {
    rp__counter *c;
    rp__gauge *g;
    rp__histogram *h;
} shared;

static void *hammer(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < 100000; i++) {
        rp__counter_add(s->c, 1);
        rp__gauge_add(s->g, 0.5);
        rp__histogram_observe(s->h, (i % 4) * 0.25);
    }
    return NULL;
}

TEST(test_threads)
{
    rp__metrics *m = rp__metrics_new();
    shared s = {
        rp__metrics_counter(m, "c_total", "c", NULL), rp__metrics_gauge(m, "g", "g", NULL),
        rp__metrics_histogram(m, "h", "h", NULL, rp__metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &s);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(rp__counter_value(s.c) == 400000);
    CHECK(rp__gauge_value(s.g) == 200000.0);
    CHECK(rp__histogram_count(s.h) == 400000);
    /* 0, 0.25, 0.5, 0.75 a quarter each: exact in binary. */
    CHECK(rp__histogram_sum(s.h) == 100000 * (0.25 + 0.5 + 0.75));
    rp__metrics_free(m);
}

/* The dashboard's JSON: the same series as the text exposition, keyed as
 * it writes them; cumulative buckets; NaN and infinities as null. */
TEST(test_render_json)
{
    rp__metrics *m = rp__metrics_new();
    rp__counter *ok = rp__metrics_counter(m, "x_total", "Done.", "outcome=\"ok\"");
    rp__counter *bad = rp__metrics_counter(m, "x_total", "ignored", "outcome=\"a\\\\b\"");
    rp__counter *plain = rp__metrics_counter(m, "y_total", "Plain.", NULL);
    rp__gauge *g = rp__metrics_gauge(m, "x_start_seconds", "Start.", NULL);
    rp__gauge *nan_g = rp__metrics_gauge(m, "x_drift", "Drift.", "w=\"1\"");
    rp__gauge *inf_g = rp__metrics_gauge(m, "x_inf", "Inf.", NULL);
    rp__gauge *ninf_g = rp__metrics_gauge(m, "x_ninf", "-Inf.", NULL);
    static const double bounds[] = {0.001, 0.5, 1};
    rp__histogram *h = rp__metrics_histogram(m, "x_seconds", "Latency.", "k=\"v\"", bounds, 3);
    rp__histogram *empty = rp__metrics_histogram(m, "x_empty", "Empty.", NULL, bounds, 1);
    CHECK(ok && bad && plain && g && nan_g && inf_g && ninf_g && h && empty);
    rp__counter_add(ok, 3);
    rp__counter_add(bad, 1);
    rp__counter_add(plain, 18446744073709551615ull);
    rp__gauge_set(g, 1700000000.25);
    rp__gauge_set(nan_g, NAN);
    rp__gauge_set(inf_g, INFINITY);
    rp__gauge_set(ninf_g, -INFINITY);
    rp__histogram_observe(h, 0.0005);
    rp__histogram_observe(h, 0.001);
    rp__histogram_observe(h, 0.75);
    rp__histogram_observe(h, 20);
    rp__buf out;
    rp__buf_init(&out, 1 << 16);
    CHECK(rp__metrics_render_json(m, &out) == 0);
    CHECK_STR(out.data,
              "{\"x_total{outcome=\\\"ok\\\"}\": 3, "
              "\"x_total{outcome=\\\"a\\\\\\\\b\\\"}\": 1, "
              "\"y_total\": 18446744073709551615, "
              "\"x_start_seconds\": 1700000000.25, "
              "\"x_drift{w=\\\"1\\\"}\": null, "
              "\"x_inf\": null, "
              "\"x_ninf\": null, "
              "\"x_seconds{k=\\\"v\\\"}\": {\"buckets\": [[0.001, 2], [0.5, 2], [1.0, 3], "
              "[\"+Inf\", 4]], \"sum\": 20.7515, \"count\": 4}, "
              "\"x_empty\": {\"buckets\": [[0.001, 0], [\"+Inf\", 0]], \"sum\": 0.0, \"count\": 0}}");
    /* An infinite sum is null too. */
    rp__histogram_observe(empty, INFINITY);
    rp__buf_reset(&out);
    CHECK(rp__metrics_render_json(m, &out) == 0);
    CHECK(strstr(out.data,
                 "\"x_empty\": {\"buckets\": [[0.001, 0], [\"+Inf\", 1]], \"sum\": null, \"count\": 1}}"));
    /* No registry: an empty object; a cap: -1. */
    rp__buf_reset(&out);
    CHECK(rp__metrics_render_json(NULL, &out) == 0);
    CHECK_STR(out.data, "{}");
    rp__buf small;
    rp__buf_init(&small, 40);
    CHECK(rp__metrics_render_json(m, &small) == -1 && small.failed);
    rp__buf_cleanup(&small);
    rp__buf_cleanup(&out);
    rp__metrics_free(m);
}

/* rp__histogram_add: the same buckets and sum as one observe per value. */
TEST(test_histogram_add)
{
    rp__metrics *m = rp__metrics_new();
    static const double bounds[] = {1, 2, 3};
    rp__histogram *a = rp__metrics_histogram(m, "a", "A.", NULL, bounds, 3);
    rp__histogram *b = rp__metrics_histogram(m, "b", "B.", NULL, bounds, 3);
    static const double v[] = {0.5, 1, 1.5, 2.5, 2.5, 7, 3};
    uint64_t counts[4] = {2, 1, 3, 1};
    double sum = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        rp__histogram_observe(a, v[i]);
        sum += v[i];
    }
    rp__histogram_add(b, counts, sum);
    rp__histogram_add(NULL, counts, sum); /* ignored */
    rp__buf out;
    rp__buf_init(&out, 1 << 16);
    CHECK(rp__metrics_render(m, &out) == 0);
    const char *ra = strstr(out.data, "a_bucket"), *rb = strstr(out.data, "b_bucket");
    CHECK(ra && rb);
    if (ra && rb) {
        size_t la = (size_t)(strstr(ra, "# HELP") - ra);
        char *ca = strndup(ra, la), *cb = strdup(rb);
        for (char *p = cb; *p; p++)
            if (*p == 'b' && (p == cb || p[-1] == '\n'))
                *p = 'a';
        CHECK_STR(cb, ca);
        free(ca);
        free(cb);
    }
    CHECK(rp__histogram_count(b) == 7 && rp__histogram_sum(b) == sum);
    rp__buf_cleanup(&out);
    rp__metrics_free(m);
}

int main(void)
{
    RUN(test_render_exact);
    RUN(test_render_json);
    RUN(test_bad_registrations);
    RUN(test_render_cap);
    RUN(test_threads);
    RUN(test_histogram_add);
    return rp_t_done();
}
