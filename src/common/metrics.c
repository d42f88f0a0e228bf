/* Prometheus metrics: a registry of atomically updated values and their
 * text exposition (see metrics.h). */
#include "common/metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/pyfloat.h"
#include "common/pyjson.h"

const double rp__metrics_latency_buckets[RP_METRICS_LATENCY_BUCKETS] = {
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,     0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    10.0,
};

typedef enum {
    KIND_COUNTER,
    KIND_GAUGE,
    KIND_HISTOGRAM
} kind;

struct rp__counter {
    _Atomic uint64_t v;
};

/* A double kept as its bit pattern, so that it can be updated atomically. */
struct rp__gauge {
    _Atomic uint64_t bits;
};

struct rp__histogram {
    size_t n; /* finite bounds; n + 1 buckets */
    double *bounds;
    _Atomic uint64_t *buckets; /* not cumulative; the last is +Inf */
    _Atomic uint64_t sum_bits;
};

typedef struct entry {
    kind kind;
    char *name, *help, *labels;
    union {
        struct rp__counter c;
        struct rp__gauge g;
        struct rp__histogram h;
    } u;
} entry;

struct rp__metrics {
    entry **v;
    size_t n, cap;
};

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static double bitsd(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbits(bitsd(old) + delta), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

rp__metrics *rp__metrics_new(void)
{
    return calloc(1, sizeof(rp__metrics));
}

static void entry_free(entry *e)
{
    if (!e)
        return;
    if (e->kind == KIND_HISTOGRAM) {
        free(e->u.h.bounds);
        free((void *)e->u.h.buckets);
    }
    free(e->name);
    free(e->help);
    free(e->labels);
    free(e);
}

void rp__metrics_free(rp__metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        entry_free(m->v[i]);
    free(m->v);
    free(m);
}

static bool valid_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static entry *add(rp__metrics *m, kind k, const char *name, const char *help, const char *labels)
{
    if (!m || !valid_name(name) || (help && strchr(help, '\n')) || (labels && strchr(labels, '\n')))
        return NULL;
    entry **v = rp__array_grow(m->v, m->n, &m->cap, sizeof *m->v, 16);
    if (!v)
        return NULL;
    m->v = v;
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    bool oom = false;
    e->kind = k;
    e->name = dup_or_null(name, &oom);
    e->help = dup_or_null(help ? help : "", &oom);
    e->labels = labels && *labels ? dup_or_null(labels, &oom) : NULL;
    if (oom) {
        entry_free(e);
        return NULL;
    }
    m->v[m->n++] = e;
    return e;
}

rp__counter *rp__metrics_counter(rp__metrics *m, const char *name, const char *help, const char *labels)
{
    entry *e = add(m, KIND_COUNTER, name, help, labels);
    return e ? &e->u.c : NULL;
}

rp__gauge *rp__metrics_gauge(rp__metrics *m, const char *name, const char *help, const char *labels)
{
    entry *e = add(m, KIND_GAUGE, name, help, labels);
    if (!e)
        return NULL;
    atomic_init(&e->u.g.bits, dbits(0.0));
    return &e->u.g;
}

rp__histogram *rp__metrics_histogram(rp__metrics *m, const char *name, const char *help, const char *labels,
                                     const double *bounds, size_t nbounds)
{
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return NULL;
    double *b = malloc((nbounds ? nbounds : 1) * sizeof *b);
    _Atomic uint64_t *buckets = calloc(nbounds + 1, sizeof *buckets);
    if (!b || !buckets) {
        free(b);
        free((void *)buckets);
        return NULL;
    }
    entry *e = add(m, KIND_HISTOGRAM, name, help, labels);
    if (!e) {
        free(b);
        free((void *)buckets);
        return NULL;
    }
    if (nbounds)
        memcpy(b, bounds, nbounds * sizeof *b);
    for (size_t i = 0; i <= nbounds; i++)
        atomic_init(&buckets[i], 0);
    e->u.h.n = nbounds;
    e->u.h.bounds = b;
    e->u.h.buckets = buckets;
    atomic_init(&e->u.h.sum_bits, dbits(0.0));
    return &e->u.h;
}

void rp__counter_add(rp__counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t rp__counter_value(const rp__counter *c)
{
    return c ? atomic_load_explicit(&((rp__counter *)c)->v, memory_order_relaxed) : 0;
}

void rp__gauge_set(rp__gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, dbits(v), memory_order_relaxed);
}

void rp__gauge_add(rp__gauge *g, double delta)
{
    if (g)
        atomic_add_double(&g->bits, delta);
}

double rp__gauge_value(const rp__gauge *g)
{
    return g ? bitsd(atomic_load_explicit(&((rp__gauge *)g)->bits, memory_order_relaxed)) : 0.0;
}

void rp__histogram_observe(rp__histogram *h, double v)
{
    if (!h)
        return;
    /* Linear search: a handful of buckets, most observations in the first. */
    size_t i = 0;
    while (i < h->n && !(v <= h->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

void rp__histogram_add(rp__histogram *h, const uint64_t *counts, double sum)
{
    if (!h)
        return;
    for (size_t i = 0; i <= h->n; i++)
        if (counts[i])
            atomic_fetch_add_explicit(&h->buckets[i], counts[i], memory_order_relaxed);
    atomic_add_double(&h->sum_bits, sum);
}

uint64_t rp__histogram_count(const rp__histogram *h)
{
    uint64_t n = 0;
    if (h)
        for (size_t i = 0; i <= h->n; i++)
            n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

double rp__histogram_sum(const rp__histogram *h)
{
    return h ? bitsd(atomic_load_explicit(&((rp__histogram *)h)->sum_bits, memory_order_relaxed)) : 0.0;
}

/* Prometheus reads Go's float syntax: Python's repr is a subset of it,
 * except for the names of the non-finite values. */
static void put_double(rp__buf *out, double v)
{
    if (isnan(v)) {
        rp__buf_lit(out, "NaN");
    } else if (isinf(v)) {
        rp__buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    } else {
        char s[RP_PYFLOAT_MAX];
        size_t n = rp__pyfloat_repr(v, s);
        rp__buf_append(out, s, n);
    }
}

static void put_help(rp__buf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            rp__buf_lit(out, "\\\\");
        else
            rp__buf_putc(out, *p);
    }
}

/* name{labels,extra} or name{extra} or name{labels} or name. */
static void put_series(rp__buf *out, const char *name, const char *suffix, const char *labels,
                       const char *extra)
{
    rp__buf_puts(out, name);
    rp__buf_puts(out, suffix);
    if (labels || extra) {
        rp__buf_putc(out, '{');
        if (labels)
            rp__buf_puts(out, labels);
        if (labels && extra)
            rp__buf_putc(out, ',');
        if (extra)
            rp__buf_puts(out, extra);
        rp__buf_putc(out, '}');
    }
    rp__buf_putc(out, ' ');
}

static void render_entry(const entry *e, rp__buf *out)
{
    switch (e->kind) {
    case KIND_COUNTER:
        put_series(out, e->name, "", e->labels, NULL);
        rp__buf_printf(out, "%llu\n", (unsigned long long)rp__counter_value(&e->u.c));
        break;
    case KIND_GAUGE:
        put_series(out, e->name, "", e->labels, NULL);
        put_double(out, rp__gauge_value(&e->u.g));
        rp__buf_putc(out, '\n');
        break;
    case KIND_HISTOGRAM: {
        const struct rp__histogram *h = &e->u.h;
        uint64_t cum = 0;
        for (size_t i = 0; i <= h->n; i++) {
            cum += atomic_load_explicit(&((struct rp__histogram *)h)->buckets[i], memory_order_relaxed);
            char le[RP_PYFLOAT_MAX + 8];
            if (i < h->n) {
                char s[RP_PYFLOAT_MAX];
                rp__pyfloat_repr(h->bounds[i], s);
                snprintf(le, sizeof le, "le=\"%s\"", s);
            } else {
                snprintf(le, sizeof le, "le=\"+Inf\"");
            }
            put_series(out, e->name, "_bucket", e->labels, le);
            rp__buf_printf(out, "%llu\n", (unsigned long long)cum);
        }
        put_series(out, e->name, "_sum", e->labels, NULL);
        put_double(out, rp__histogram_sum(h));
        rp__buf_putc(out, '\n');
        /* The count is the +Inf bucket of the same snapshot. */
        put_series(out, e->name, "_count", e->labels, NULL);
        rp__buf_printf(out, "%llu\n", (unsigned long long)cum);
        break;
    }
    }
}

static const char *kind_name(kind k)
{
    return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

int rp__metrics_render(const rp__metrics *m, rp__buf *out)
{
    if (!m)
        return out->failed ? -1 : 0;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = m->v[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->v[j]->name, e->name) == 0;
        if (seen)
            continue;
        rp__buf_printf(out, "# HELP %s ", e->name);
        put_help(out, e->help);
        rp__buf_printf(out, "\n# TYPE %s %s\n", e->name, kind_name(e->kind));
        for (size_t j = i; j < m->n; j++)
            if (strcmp(m->v[j]->name, e->name) == 0)
                render_entry(m->v[j], out);
    }
    return out->failed ? -1 : 0;
}

/* A finite double as Python's repr (valid JSON), null otherwise. */
static void put_json_double(rp__buf *out, double v)
{
    if (!isfinite(v)) {
        rp__buf_lit(out, "null");
    } else {
        char s[RP_PYFLOAT_MAX];
        size_t n = rp__pyfloat_repr(v, s);
        rp__buf_append(out, s, n);
    }
}

/* The key: name{labels} as a JSON string (the labels are already escaped
 * for the text format; JSON escapes them once more). */
static void put_json_key(rp__buf *out, const entry *e)
{
    rp__buf key;
    rp__buf_init(&key, out->max);
    rp__buf_puts(&key, e->name);
    if (e->labels) {
        rp__buf_putc(&key, '{');
        rp__buf_puts(&key, e->labels);
        rp__buf_putc(&key, '}');
    }
    if (key.failed) {
        out->failed = true;
    } else {
        rp__pyjson_utf8(out, key.data, key.len);
        rp__buf_lit(out, ": ");
    }
    rp__buf_cleanup(&key);
}

int rp__metrics_render_json(const rp__metrics *m, rp__buf *out)
{
    rp__buf_putc(out, '{');
    for (size_t i = 0; m && i < m->n; i++) {
        const entry *e = m->v[i];
        if (i)
            rp__buf_lit(out, ", ");
        put_json_key(out, e);
        switch (e->kind) {
        case KIND_COUNTER: rp__buf_printf(out, "%llu", (unsigned long long)rp__counter_value(&e->u.c)); break;
        case KIND_GAUGE: put_json_double(out, rp__gauge_value(&e->u.g)); break;
        case KIND_HISTOGRAM: {
            const struct rp__histogram *h = &e->u.h;
            uint64_t cum = 0;
            rp__buf_lit(out, "{\"buckets\": [");
            for (size_t b = 0; b <= h->n; b++) {
                cum += atomic_load_explicit(&((struct rp__histogram *)h)->buckets[b], memory_order_relaxed);
                rp__buf_puts(out, b ? ", [" : "[");
                if (b < h->n)
                    put_json_double(out, h->bounds[b]);
                else
                    rp__buf_lit(out, "\"+Inf\"");
                rp__buf_printf(out, ", %llu]", (unsigned long long)cum);
            }
            rp__buf_lit(out, "], \"sum\": ");
            put_json_double(out, rp__histogram_sum(h));
            rp__buf_printf(out, ", \"count\": %llu}", (unsigned long long)cum);
            break;
        }
        }
    }
    rp__buf_putc(out, '}');
    return out->failed ? -1 : 0;
}
