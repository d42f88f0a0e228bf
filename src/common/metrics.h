/* Process metrics rendered in the Prometheus text exposition format
 * (version 0.0.4): counters, gauges and histograms.
 *
 * A registry (rp_metrics) owns its metrics.  Registration is done once at
 * start-up, before any thread updates or renders (it is not synchronised);
 * after that, updates are lock-free atomics and may come from any thread,
 * concurrently with rp_metrics_render.  A rendering is a consistent snapshot
 * per value, not across values (as with every Prometheus client).
 *
 * Names and label strings are copied at registration.  Several metrics may
 * share a name with different labels (`outcome="ok"`, `outcome="error"`):
 * they are rendered together under one # HELP / # TYPE, in registration
 * order; the help and type of the first registration are used.
 *
 * Usage:
 *     rp_metrics *m = rp_metrics_new();
 *     rp_counter *ok = rp_metrics_counter(m, "ridepred_invocations_total",
 *                                         "Invocations by outcome.", "outcome=\"ok\"");
 *     rp_histogram *lat = rp_metrics_histogram(m, "ridepred_invocation_seconds",
 *                                              "Invocation latency.", NULL,
 *                                              rp_metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
 *     ... rp_counter_add(ok, 1); rp_histogram_observe(lat, 0.00012);
 *     rp_buf out; rp_buf_init(&out, 1 << 20); rp_metrics_render(m, &out);
 */
#ifndef RP_SERVICE_METRICS_H
#define RP_SERVICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The media type of the rendering, for a Content-Type header. */
#define RP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct rp_metrics rp_metrics;
typedef struct rp_counter rp_counter;
typedef struct rp_gauge rp_gauge;
typedef struct rp_histogram rp_histogram;

/* Latency buckets in seconds suited to the handler (25 µs .. 10 s). */
#define RP_METRICS_LATENCY_BUCKETS 16
extern const double rp_metrics_latency_buckets[RP_METRICS_LATENCY_BUCKETS];

/* NULL when out of memory. */
rp_metrics *rp_metrics_new(void);
/* Frees the registry and every metric in it (NULL is ignored). */
void rp_metrics_free(rp_metrics *m);

/* Registers a metric.  name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line;
 * labels: NULL, or the inside of the braces, already escaped
 * (`outcome="ok",stream="x"`).  Returns a handle owned by the registry, or
 * NULL on a bad name or out of memory. */
rp_counter *rp_metrics_counter(rp_metrics *m, const char *name, const char *help, const char *labels);
rp_gauge *rp_metrics_gauge(rp_metrics *m, const char *name, const char *help, const char *labels);
/* bounds: the upper bounds of the buckets, strictly increasing, finite
 * (+Inf is added); copied. */
rp_histogram *rp_metrics_histogram(rp_metrics *m, const char *name, const char *help, const char *labels,
                                   const double *bounds, size_t nbounds);

/* Updates (thread-safe, lock-free; a NULL handle is ignored). */
void rp_counter_add(rp_counter *c, uint64_t n);
uint64_t rp_counter_value(const rp_counter *c);
void rp_gauge_set(rp_gauge *g, double v);
void rp_gauge_add(rp_gauge *g, double delta);
double rp_gauge_value(const rp_gauge *g);
/* Counts v in the first bucket whose bound is >= v, and adds it to the sum. */
void rp_histogram_observe(rp_histogram *h, double v);
uint64_t rp_histogram_count(const rp_histogram *h);
double rp_histogram_sum(const rp_histogram *h);

/* Appends the text exposition of every metric to out.  Returns 0, or -1 when
 * out refused an append (out->failed: over its cap or out of memory). */
int rp_metrics_render(const rp_metrics *m, rp_buf *out);

#endif
