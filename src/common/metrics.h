/* Process metrics rendered in the Prometheus text exposition format
 * (version 0.0.4): counters, gauges and histograms.
 *
 * A registry (rp__metrics) owns its metrics.  Registration is done once at
 * start-up, before any thread updates or renders (it is not synchronised);
 * after that, updates are lock-free atomics and may come from any thread,
 * concurrently with rp__metrics_render.  A rendering is a consistent snapshot
 * per value, not across values (as with every Prometheus client).
 *
 * Names and label strings are copied at registration.  Several metrics may
 * share a name with different labels (`outcome="ok"`, `outcome="error"`):
 * they are rendered together under one # HELP / # TYPE, in registration
 * order; the help and type of the first registration are used.
 *
 * Usage:
 *     rp__metrics *m = rp__metrics_new();
 *     rp__counter *ok = rp__metrics_counter(m, "ridepred_invocations_total",
 *                                         "Invocations by outcome.", "outcome=\"ok\"");
 *     rp__histogram *lat = rp__metrics_histogram(m, "ridepred_invocation_seconds",
 *                                              "Invocation latency.", NULL,
 *                                              rp__metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
 *     ... rp__counter_add(ok, 1); rp__histogram_observe(lat, 0.00012);
 *     rp__buf out; rp__buf_init(&out, 1 << 20); rp__metrics_render(m, &out);
 */
#ifndef RP_SERVICE_METRICS_H
#define RP_SERVICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The media type of the rendering, for a Content-Type header. */
#define RP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct rp__metrics rp__metrics;
typedef struct rp__counter rp__counter;
typedef struct rp__gauge rp__gauge;
typedef struct rp__histogram rp__histogram;

/* Latency buckets in seconds suited to the handler (25 µs .. 10 s). */
#define RP_METRICS_LATENCY_BUCKETS 16
extern const double rp__metrics_latency_buckets[RP_METRICS_LATENCY_BUCKETS];

/* NULL when out of memory. */
rp__metrics *rp__metrics_new(void);
/* Frees the registry and every metric in it (NULL is ignored). */
void rp__metrics_free(rp__metrics *m);

/* Registers a metric.  name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line;
 * labels: NULL, or the inside of the braces, already escaped
 * (`outcome="ok",stream="x"`).  Returns a handle owned by the registry, or
 * NULL on a bad name or out of memory. */
rp__counter *rp__metrics_counter(rp__metrics *m, const char *name, const char *help, const char *labels);
rp__gauge *rp__metrics_gauge(rp__metrics *m, const char *name, const char *help, const char *labels);
/* bounds: the upper bounds of the buckets, strictly increasing, finite
 * (+Inf is added); copied. */
rp__histogram *rp__metrics_histogram(rp__metrics *m, const char *name, const char *help, const char *labels,
                                     const double *bounds, size_t nbounds);

/* Updates (thread-safe, lock-free; a NULL handle is ignored). */
void rp__counter_add(rp__counter *c, uint64_t n);
uint64_t rp__counter_value(const rp__counter *c);
void rp__gauge_set(rp__gauge *g, double v);
void rp__gauge_add(rp__gauge *g, double delta);
double rp__gauge_value(const rp__gauge *g);
/* Counts v in the first bucket whose bound is >= v, and adds it to the sum. */
void rp__histogram_observe(rp__histogram *h, double v);
/* Adds counts[i] observations to bucket i (i <= nbounds: the last one is
 * +Inf) and sum to the sum: what many rp__histogram_observe calls would
 * do, for a caller that counted a batch itself (one atomic per bucket
 * touched instead of per value). */
void rp__histogram_add(rp__histogram *h, const uint64_t *counts, double sum);
uint64_t rp__histogram_count(const rp__histogram *h);
double rp__histogram_sum(const rp__histogram *h);

/* Appends the text exposition of every metric to out.  Returns 0, or -1 when
 * out refused an append (out->failed: over its cap or out of memory). */
int rp__metrics_render(const rp__metrics *m, rp__buf *out);

/* Appends every metric as one JSON object (the "metrics" of the dashboard's
 * JSON, docs/monitoring.md), in registration order.  Each key is the series
 * as the text exposition writes it, name{labels} (name alone without
 * labels), as a JSON string.  A counter's value is an integer, a gauge's a
 * number (null when NaN or infinite: JSON has neither), a histogram's an
 * object {"buckets": [[le, cumulative count], ..., ["+Inf", count]],
 * "sum": s, "count": n} (le a number; the count is the +Inf bucket of the
 * same snapshot; sum null when not finite).  Returns 0, or -1 when out
 * refused an append (out->failed). */
int rp__metrics_render_json(const rp__metrics *m, rp__buf *out);

#endif
