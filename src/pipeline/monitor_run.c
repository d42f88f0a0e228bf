/* See monitor_run.h. */
#include "pipeline/monitor_run.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/file.h"
#include "data/trips.h"
#include "function/ride.h"
#include "monitor/report.h"

/* Where a spec column's values come from. */
enum {
    SRC_DIST = -1,
    SRC_PU = -2,
    SRC_DO = -3,
    SRC_PRED = -4
    /* >= 0: extra column k */
};

typedef struct plan {
    int src[RP_MONITOR_MAX_COLUMNS];
    const char *extra[RP_TRIPS_MAX_EXTRA];
    size_t n_extra;
} plan;

static int make_plan(const rp__monitor_spec *spec, plan *p, rp_error *err)
{
    memset(p, 0, sizeof *p);
    for (size_t j = 0; j < spec->n; j++) {
        const char *nm = spec->col[j].name;
        if (!strcmp(nm, "trip_distance"))
            p->src[j] = SRC_DIST;
        else if (!strcmp(nm, "PULocationID"))
            p->src[j] = SRC_PU;
        else if (!strcmp(nm, "DOLocationID"))
            p->src[j] = SRC_DO;
        else if (!strcmp(nm, RP_MONITOR_PREDICTION))
            p->src[j] = SRC_PRED;
        else {
            if (p->n_extra == RP_TRIPS_MAX_EXTRA)
                return rp_error_set(err, RP_ERR_INVALID, "more than %d file columns monitored",
                                    RP_TRIPS_MAX_EXTRA);
            p->src[j] = (int)p->n_extra;
            p->extra[p->n_extra++] = nm;
        }
    }
    return 0;
}

/* Rows gathered column by column (spec order), with their pickup times. */
typedef struct acc {
    size_t ncols, n, cap;
    double *col[RP_MONITOR_MAX_COLUMNS];
    int64_t *pickup;
} acc;

static void acc_free(acc *a)
{
    for (size_t j = 0; j < RP_MONITOR_MAX_COLUMNS; j++)
        free(a->col[j]);
    free(a->pickup);
    memset(a, 0, sizeof *a);
}

static int acc_reserve(acc *a, size_t extra, rp_error *err)
{
    if (a->n + extra <= a->cap)
        return 0;
    size_t cap = a->cap ? a->cap : 4096;
    while (cap < a->n + extra)
        cap *= 2;
    for (size_t j = 0; j < a->ncols; j++) {
        double *x = realloc(a->col[j], cap * sizeof *x);
        if (!x)
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory for %zu rides", cap);
        a->col[j] = x;
    }
    int64_t *t = realloc(a->pickup, cap * sizeof *t);
    if (!t)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory for %zu rides", cap);
    a->pickup = t;
    a->cap = cap;
    return 0;
}

/* The model's one-hot column of (pu, do), through a small direct-mapped
 * cache (a month holds a few thousand pairs). */
typedef struct onehot_cache {
    uint64_t key[4096];
    int32_t col[4096];
    bool used[4096];
} onehot_cache;

static int32_t onehot(const rp_model *m, onehot_cache *c, int32_t pu, int32_t dol)
{
    if (pu == RP_TRIPS_NULL_ID || dol == RP_TRIPS_NULL_ID)
        return -1;
    uint64_t key = (uint64_t)(uint32_t)pu << 32 | (uint32_t)dol;
    size_t h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 52);
    if (c->used[h] && c->key[h] == key)
        return c->col[h];
    char name[40];
    int len = snprintf(name, sizeof name, "PU_DO=%" PRId32 "_%" PRId32, pu, dol);
    int32_t col = rp_model_onehot(m, name, (size_t)len);
    c->used[h] = true;
    c->key[h] = key;
    c->col[h] = col;
    return col;
}

/* Predicts rows sel[0..k) of t (the course's features, fillna(0)) into out. */
static void predict(const rp_model *m, onehot_cache *cache, const rp__trips *t, const size_t *sel, size_t k,
                    double *out, const char *file, rp__monitor_scored *st)
{
    enum {
        CHUNK = 512
    };
    rp_row rows[CHUNK];
    rp_code status[CHUNK];
    int32_t xcol = rp_model_trip_distance(m);
    for (size_t i = 0; i < k; i += CHUNK) {
        size_t c = k - i < CHUNK ? k - i : CHUNK;
        for (size_t j = 0; j < c; j++) {
            size_t r = sel[i + j];
            rp_row *row = &rows[j];
            row->n = 0;
            int32_t col = onehot(m, cache, t->pu[r], t->dor[r]);
            if (col >= 0) {
                row->idx[row->n] = (uint32_t)col;
                row->val[row->n++] = 1.0;
            }
            if (xcol >= 0) {
                row->idx[row->n] = (uint32_t)xcol;
                row->val[row->n++] = isnan(t->distance[r]) ? 0.0 : t->distance[r];
            }
        }
        rp_model_predict_batch(m, rows, c, out + i, status);
        for (size_t j = 0; j < c; j++)
            if (status[j] != RP_OK) {
                out[i + j] = NAN;
                if (!st->unscored++)
                    snprintf(st->first_unscored, sizeof st->first_unscored, "%s row %zu: %s", file,
                             sel[i + j], rp_model_status_message(status[j]));
            }
    }
}

static double id_value(int32_t id)
{
    return id == RP_TRIPS_NULL_ID ? NAN : (double)id;
}

bool rp__monitor_is_stream(const char *name)
{
    static const char *const prefixes[] = {"local:", "kinesis:", "kafka:"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(name, prefixes[i], n) && name[n])
            return true;
    }
    return false;
}

typedef struct stream_ctx {
    const rp_model *m;
    const plan *p;
    acc *a;
    rp__monitor_scored *st;
    const char *name;
    rp__buf scratch; /* PU_DO of the record */
    rp_error *err;
    bool failed;
} stream_ctx;

/* One record of a stream of ride events (see monitor_run.h). */
static int on_stream_record(void *ctx, const rp_stream_record *rec)
{
    stream_ctx *c = ctx;
    if (c->failed)
        return 1;
    c->st->rows++;
    rp__ride_fields f;
    rp_row row;
    rp_error why;
    if (rp__ride_parse((const char *)rec->data, rec->data_len, &f, &why) < 0 ||
        rp__ride_features(&f, c->m, &c->scratch, &row, &why) < 0) {
        if (!c->st->unreadable++)
            snprintf(c->st->first_unreadable, sizeof c->st->first_unreadable, "%.60s record %.40s: %.80s",
                     c->name, rec->sequence_number ? rec->sequence_number : "?", why.msg);
        return 0;
    }
    double pred;
    if (rp_model_predict(c->m, &row, &pred, &why) < 0) {
        pred = NAN;
        if (!c->st->unscored++)
            snprintf(c->st->first_unscored, sizeof c->st->first_unscored, "%.50s record %.30s: %.60s",
                     c->name, rec->sequence_number ? rec->sequence_number : "?", why.msg);
    }
    if (acc_reserve(c->a, 1, c->err) < 0) {
        c->failed = true;
        return 1;
    }
    size_t i = c->a->n;
    for (size_t j = 0; j < c->a->ncols; j++) {
        double v;
        switch (c->p->src[j]) {
        case SRC_DIST: v = rp__json_number(&f.td); break;
        case SRC_PU: v = rp__ride_location_value(&f.pu); break;
        case SRC_DO: v = rp__ride_location_value(&f.do_); break;
        default: v = pred; break; /* SRC_PRED: make_stream_plan allows nothing else */
        }
        c->a->col[j][i] = v;
    }
    c->a->pickup[i] = rec->arrival_ms * 1000;
    c->a->n++;
    c->st->used++;
    return 0;
}

/* Reads a stream of ride events whole and appends its rides to a,
 * predicted (see monitor_run.h). */
static int collect_stream(const rp_model *m, const char *spec_name, const plan *p,
                          const rp_stream_config *cfg, acc *a, rp__monitor_scored *st, rp_error *err)
{
    if (!cfg)
        return rp_error_set(err, RP_ERR_INVALID, "%s: streams are not read here", spec_name);
    if (p->n_extra)
        return rp_error_set(err, RP_ERR_INVALID,
                            "%s: a stream of ride events carries trip_distance, PULocationID and "
                            "DOLocationID only, not %s: monitor it with --columns \"num:trip_distance;"
                            "cat:PULocationID,DOLocationID\" (the default for streams)",
                            spec_name, p->extra[0]);
    if (!m)
        return rp_error_set(err, RP_ERR_INVALID, "%s: a stream's rides need a model (--model)", spec_name);
    rp_stream_backend b;
    char name[RP_STREAM_NAME_MAX + 1];
    if (rp_stream_parse_name(spec_name, cfg, &b, name, err) < 0)
        return -1;
    rp_stream_conn *conn = NULL;
    if (rp_stream_open(b, cfg, &conn, err) < 0) {
        rp_error_prefix(err, "%s", spec_name);
        return -1;
    }
    stream_ctx c = {.m = m, .p = p, .a = a, .st = st, .name = spec_name, .err = err};
    rp__buf_init(&c.scratch, 4096);
    int rc = rp_stream_scan(conn, name, on_stream_record, &c, err);
    if (rc < 0)
        rp_error_prefix(err, "%s", spec_name);
    else if (c.failed)
        rc = -1;
    rp__buf_cleanup(&c.scratch);
    rp_stream_close(conn);
    return rc;
}

/* Reads one file and appends its rows (the kept ones when reference, else
 * those with a pickup time) to a, predicted. */
static int collect(const rp_model *m, onehot_cache *cache, const char *path, const plan *p, bool reference,
                   const rp_stream_config *streams, acc *a, rp__monitor_scored *st, size_t *no_pickup,
                   rp_error *err)
{
    if (rp__monitor_is_stream(path))
        return collect_stream(m, path, p, streams, a, st, err);
    rp__trips t;
    if (rp__trips_read_extra(path, 0, p->extra, p->n_extra, &t, err) < 0) {
        if (strncmp(err->msg, path, strlen(path)) != 0)
            rp_error_prefix(err, "%s", path);
        return -1;
    }
    int rc = -1;
    double *pred = NULL;
    size_t *sel = malloc((t.n ? t.n : 1) * sizeof *sel);
    if (!sel) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < t.n; i++) {
        double d;
        if (reference ? rp__trips_keep(&t, i, &d) : t.pickup_us[i] != RP_TRIPS_NULL_TIME)
            sel[k++] = i;
        else if (!reference && no_pickup)
            (*no_pickup)++;
    }
    st->rows += t.n;
    st->used += k;
    bool need_pred = false;
    for (size_t j = 0; j < a->ncols; j++)
        need_pred |= p->src[j] == SRC_PRED;
    if (need_pred) {
        if (!m) {
            rp_error_set(err, RP_ERR_INVALID, "%s: predictions need a model (--model)", path);
            goto out;
        }
        pred = malloc((k ? k : 1) * sizeof *pred);
        if (!pred) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory reading %s", path);
            goto out;
        }
        predict(m, cache, &t, sel, k, pred, path, st);
    }
    if (k == 0) { /* nothing to add (and no column allocated yet) */
        rc = 0;
        goto out;
    }
    if (acc_reserve(a, k, err) < 0)
        goto out;
    for (size_t j = 0; j < a->ncols; j++) {
        double *dst = a->col[j] + a->n;
        switch (p->src[j]) {
        case SRC_DIST:
            for (size_t i = 0; i < k; i++)
                dst[i] = t.distance[sel[i]];
            break;
        case SRC_PU:
            for (size_t i = 0; i < k; i++)
                dst[i] = id_value(t.pu[sel[i]]);
            break;
        case SRC_DO:
            for (size_t i = 0; i < k; i++)
                dst[i] = id_value(t.dor[sel[i]]);
            break;
        case SRC_PRED: memcpy(dst, pred, k * sizeof *dst); break;
        default:
            for (size_t i = 0; i < k; i++)
                dst[i] = t.extra[p->src[j]][sel[i]];
            break;
        }
    }
    for (size_t i = 0; i < k; i++)
        a->pickup[a->n + i] = t.pickup_us[sel[i]];
    a->n += k;
    rc = 0;
out:
    free(pred);
    free(sel);
    rp__trips_free(&t);
    return rc;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

/* Keeps a uniform sample of cap rows of a (file order kept). */
static int sample_down(acc *a, size_t cap, uint64_t seed, rp_error *err)
{
    if (a->n <= cap)
        return 0;
    size_t *idx = malloc(a->n * sizeof *idx);
    if (!idx)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory sampling %zu rides", a->n);
    for (size_t i = 0; i < a->n; i++)
        idx[i] = i;
    uint64_t s = seed;
    for (size_t i = 0; i < cap; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)(splitmix64(&s) % (a->n - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, cap, sizeof *idx, cmp_size);
    for (size_t j = 0; j < a->ncols; j++)
        for (size_t i = 0; i < cap; i++)
            a->col[j][i] = a->col[j][idx[i]];
    for (size_t i = 0; i < cap; i++)
        a->pickup[i] = a->pickup[idx[i]];
    a->n = cap;
    free(idx);
    return 0;
}

/* Moves a's columns into a sample (a is left empty). */
static int acc_to_sample(acc *a, rp__monitor_sample *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!a->n) {
        if (rp__monitor_sample_init(out, a->ncols, 0, err) < 0)
            return -1;
        acc_free(a);
        return 0;
    }
    out->ncols = a->ncols;
    out->n = out->cap = a->n;
    for (size_t j = 0; j < a->ncols; j++) {
        out->col[j] = a->col[j];
        a->col[j] = NULL;
    }
    acc_free(a);
    return 0;
}

int rp__monitor_reference_from_trips(const rp_model *m, const char *const *files, size_t n,
                                     const rp__monitor_spec *spec, size_t cap, uint64_t seed,
                                     const rp_stream_config *streams, rp__monitor_sample *out,
                                     rp__monitor_scored *st, rp_error *err)
{
    memset(out, 0, sizeof *out);
    rp__monitor_scored local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    plan p;
    if (make_plan(spec, &p, err) < 0)
        return -1;
    acc a = {.ncols = spec->n};
    onehot_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        if (collect(m, cache, files[i], &p, true, streams, &a, st, NULL, err) < 0)
            goto out;
    if (!a.n) {
        rp_error_set(
            err, RP_ERR_INVALID,
            "%s%s: no rides left after the course's filter (duration from 1 to 60 minutes, locations "
            "present): a reference needs some",
            n ? files[0] : "(no file)", n > 1 ? " and the others" : "");
        goto out;
    }
    if (sample_down(&a, cap ? cap : RP_MONITOR_REFERENCE_CAP, seed, err) < 0)
        goto out;
    rc = acc_to_sample(&a, out, err);
out:
    free(cache);
    acc_free(&a);
    return rc;
}

/* Whether the file starts as a reference CSV ("num:" or "cat:"). */
static int sniff_reference(const char *path, bool *is_ref, rp_error *err)
{
    FILE *f = rp__file_fopen(path, err);
    if (!f)
        return -1;
    char b[4] = {0};
    size_t got = fread(b, 1, 4, f);
    fclose(f);
    *is_ref = got == 4 && (!memcmp(b, "num:", 4) || !memcmp(b, "cat:", 4));
    return 0;
}

int rp__monitor_reference_load(const rp_model *m, const char *ref, const rp__monitor_spec *spec,
                               const rp_stream_config *streams, rp__monitor_sample *out,
                               rp__monitor_ref_source *src, rp__monitor_scored *st, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (st)
        memset(st, 0, sizeof *st);
    if (rp__monitor_is_stream(ref)) {
        if (src)
            *src = RP_MONITOR_REF_STREAM;
        const char *names[1] = {ref};
        return rp__monitor_reference_from_trips(m, names, 1, spec, RP_MONITOR_REFERENCE_CAP,
                                                RP_MONITOR_REFERENCE_SEED, streams, out, st, err);
    }
    struct stat sb;
    if (stat(ref, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", ref, RP_MONITOR_REFERENCE_FILE) >= sizeof path)
            return rp_error_set(err, RP_ERR_LIMIT, "%s: path too long", ref);
        if (src)
            *src = RP_MONITOR_REF_MODEL_DIR;
        if (stat(path, &sb) != 0)
            return rp_error_set(err, RP_ERR_NOT_FOUND,
                                "%s: the directory holds no %s (models trained by ridepred train have one; "
                                "write one with ridepred monitor --model M --reference TRIPS "
                                "--write-reference %s)",
                                ref, RP_MONITOR_REFERENCE_FILE, ref);
        return rp__monitor_reference_read(path, spec, out, NULL, err);
    }
    bool is_ref;
    if (sniff_reference(ref, &is_ref, err) < 0)
        return -1;
    if (is_ref) {
        if (src)
            *src = RP_MONITOR_REF_FILE;
        return rp__monitor_reference_read(ref, spec, out, NULL, err);
    }
    if (src)
        *src = RP_MONITOR_REF_TRIPS;
    const char *files[1] = {ref};
    return rp__monitor_reference_from_trips(m, files, 1, spec, RP_MONITOR_REFERENCE_CAP,
                                            RP_MONITOR_REFERENCE_SEED, NULL, out, st, err);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void rp__monitor_report_free(rp__monitor_report *r)
{
    if (!r)
        return;
    free(r->w);
    memset(r, 0, sizeof *r);
}

int rp__monitor_run(const rp__monitor_config *c, rp__monitor_report *r, rp_error *err)
{
    memset(r, 0, sizeof *r);
    if (c->window_us <= 0)
        return rp_error_set(err, RP_ERR_INVALID, "the window must be at least 1 second");
    const rp__monitor_spec *spec = c->spec;
    plan p;
    if (make_plan(spec, &p, err) < 0)
        return -1;
    rp__monitor_sample ref = {0};
    rp__monitor_prepared prep = {0};
    acc a = {.ncols = spec->n};
    double *sorted[RP_MONITOR_MAX_COLUMNS] = {0};
    size_t *start = NULL, *wi = NULL;
    onehot_cache *cache = calloc(1, sizeof *cache);
    int rc = -1;
    if (!cache) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (rp__monitor_reference_load(c->model, c->reference, spec, c->streams, &ref, &r->ref_source,
                                   &r->ref_scored, err) < 0)
        goto out;
    r->reference_rides = ref.n;
    if (rp__monitor_prepare(spec, &ref, &prep, err) < 0)
        goto out;
    for (size_t i = 0; i < c->n_current; i++) {
        r->by_arrival |= rp__monitor_is_stream(c->current[i]);
        if (collect(c->model, cache, c->current[i], &p, false, c->streams, &a, &r->cur_scored, &r->no_pickup,
                    err) < 0)
            goto out;
    }
    if (!a.n) {
        rc = 0; /* no windows */
        goto out;
    }
    /* the windows: from the earliest pickup's to the latest's */
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < a.n; i++) {
        int64_t w = floor_div(a.pickup[i], c->window_us);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    if ((uint64_t)(hi - lo) >= RP_MONITOR_MAX_WINDOWS) {
        char f[RP_MONITOR_TIME_MAX], l[RP_MONITOR_TIME_MAX];
        rp__monitor_time_iso(lo * c->window_us, f);
        rp__monitor_time_iso(hi * c->window_us, l);
        rp_error_set(err, RP_ERR_LIMIT,
                     "the pickups span %s to %s: more than %d windows; give a larger --window", f, l,
                     RP_MONITOR_MAX_WINDOWS);
        goto out;
    }
    size_t nw = (size_t)(hi - lo) + 1;
    r->w = calloc(nw, sizeof *r->w);
    start = calloc(nw + 1, sizeof *start);
    wi = malloc(a.n * sizeof *wi);
    if (!r->w || !start || !wi) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for %zu windows", nw);
        goto out;
    }
    /* a counting sort of the rows by window, file order kept in each */
    for (size_t i = 0; i < a.n; i++) {
        wi[i] = (size_t)(floor_div(a.pickup[i], c->window_us) - lo);
        start[wi[i] + 1]++;
    }
    for (size_t k = 0; k < nw; k++)
        start[k + 1] += start[k];
    for (size_t j = 0; j < spec->n; j++)
        if (!(sorted[j] = malloc(a.n * sizeof(double)))) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
    {
        size_t *at = malloc(nw * sizeof *at);
        if (!at) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(at, start, nw * sizeof *at);
        for (size_t i = 0; i < a.n; i++) {
            size_t d = at[wi[i]]++;
            for (size_t j = 0; j < spec->n; j++)
                sorted[j][d] = a.col[j][i];
        }
        free(at);
    }
    for (size_t k = 0; k < nw; k++) {
        rp__monitor_window *w = &r->w[k];
        w->start_us = ((int64_t)k + lo) * c->window_us;
        w->end_us = w->start_us + c->window_us;
        rp__monitor_sample view = {.ncols = spec->n, .n = start[k + 1] - start[k]};
        view.cap = view.n;
        for (size_t j = 0; j < spec->n; j++)
            view.col[j] = sorted[j] + start[k];
        if (rp__monitor_compare_prepared(spec, &prep, &view, &w->result, err) < 0) {
            char s[RP_MONITOR_TIME_MAX];
            rp__monitor_time_iso(w->start_us, s);
            rp_error_prefix(err, "window %s", s);
            goto out;
        }
        r->n++;
    }
    rc = 0;
out:
    for (size_t j = 0; j < RP_MONITOR_MAX_COLUMNS; j++)
        free(sorted[j]);
    free(start);
    free(wi);
    free(cache);
    acc_free(&a);
    rp__monitor_prepared_free(&prep);
    rp__monitor_sample_free(&ref);
    if (rc < 0)
        rp__monitor_report_free(r);
    return rc;
}

int rp__monitor_parse_window(const char *s, int64_t *us)
{
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mult = 1;
    if (*end) {
        switch (*end) {
        case 'd': mult = 86400; break;
        case 'h': mult = 3600; break;
        case 'm': mult = 60; break;
        case 's': mult = 1; break;
        default: return -1;
        }
        if (end[1])
            return -1;
    }
    if (v == 0 || v > 366ULL * 86400 / mult)
        return -1;
    *us = (int64_t)(v * mult) * 1000000;
    return 0;
}

int rp__monitor_parse_columns(const char *s, rp__monitor_spec *spec, rp_error *err)
{
    memset(spec, 0, sizeof *spec);
    bool no_pred = false;
    const char *p = s;
    if (!*p)
        return rp_error_set(err, RP_ERR_INVALID, "--columns is empty: expected num:a,b;cat:c,d");
    while (*p) {
        const char *g = p, *ge = strchr(p, ';');
        if (!ge)
            ge = p + strlen(p);
        rp__drift_kind kind;
        if (ge - g >= 4 && !memcmp(g, "num:", 4))
            kind = RP_DRIFT_NUM;
        else if (ge - g >= 4 && !memcmp(g, "cat:", 4))
            kind = RP_DRIFT_CAT;
        else
            return rp_error_set(
                err, RP_ERR_INVALID,
                "--columns: \"%.*s\" does not start with num: or cat: (expected num:a,b;cat:c,d)",
                (int)(ge - g), g);
        for (const char *q = g + 4; q <= ge;) {
            const char *ne = memchr(q, ',', (size_t)(ge - q));
            if (!ne)
                ne = ge;
            size_t len = (size_t)(ne - q);
            if (len == 0)
                return rp_error_set(err, RP_ERR_INVALID, "--columns: an empty column name in \"%.*s\"",
                                    (int)(ge - g), g);
            if (len == strlen("-prediction") && !memcmp(q, "-prediction", len)) {
                no_pred = true;
            } else {
                if (len > RP_MONITOR_NAME_MAX)
                    return rp_error_set(err, RP_ERR_INVALID,
                                        "--columns: the name \"%.*s\" is longer than %d bytes", (int)len, q,
                                        RP_MONITOR_NAME_MAX);
                if (spec->n == RP_MONITOR_MAX_COLUMNS)
                    return rp_error_set(err, RP_ERR_INVALID, "--columns: more than %d columns",
                                        RP_MONITOR_MAX_COLUMNS);
                rp__monitor_column *c = &spec->col[spec->n];
                memcpy(c->name, q, len);
                c->name[len] = '\0';
                c->kind = kind;
                if (rp__monitor_spec_find(spec, c->name) >= 0)
                    return rp_error_set(err, RP_ERR_INVALID, "--columns: %s is named twice", c->name);
                spec->n++;
            }
            q = ne + 1;
        }
        p = *ge ? ge + 1 : ge;
    }
    int pi = rp__monitor_spec_find(spec, RP_MONITOR_PREDICTION);
    if (no_pred && pi >= 0)
        return rp_error_set(err, RP_ERR_INVALID, "--columns names prediction and -prediction");
    if (!no_pred && pi < 0) {
        if (spec->n == RP_MONITOR_MAX_COLUMNS)
            return rp_error_set(err, RP_ERR_INVALID, "--columns: more than %d columns with the prediction",
                                RP_MONITOR_MAX_COLUMNS);
        snprintf(spec->col[spec->n].name, sizeof spec->col[spec->n].name, "%s", RP_MONITOR_PREDICTION);
        spec->col[spec->n++].kind = RP_DRIFT_NUM;
    }
    if (!spec->n)
        return rp_error_set(err, RP_ERR_INVALID, "--columns: no column left to monitor");
    return 0;
}

int rp__monitor_write_svg(const char *path, const rp__monitor_spec *spec, const rp__monitor_report *r,
                          rp_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const double W = 900, H = 440, L = 70, R = 60, T = 50, B = 90;
    const double pw = W - L - R, ph = H - T - B;
    size_t n = r->n ? r->n : 1;
    double ymax = 0;
    bool one_test = true;
    int test = -1;
    double thr = NAN;
    for (size_t k = 0; k < r->n; k++) {
        const rp__monitor_result *x = &r->w[k].result;
        if (isfinite(x->prediction_drift) && x->prediction_drift > ymax)
            ymax = x->prediction_drift;
        if (x->prediction >= 0 && x->col[x->prediction].status == RP_MONITOR_COLUMN_OK) {
            int t = (int)x->col[x->prediction].drift.test;
            if (test >= 0 && t != test)
                one_test = false;
            test = t;
            thr = x->col[x->prediction].drift.threshold;
        }
    }
    if (test >= 0 && one_test && thr > ymax)
        ymax = thr;
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    double cmax = spec->n ? (double)spec->n : 1;
    fprintf(
        f,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
        "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
        W, H);
    fprintf(
        f,
        "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Prediction drift%s and drifted "
        "columns per window (%zu windows, reference %zu rides)</text>\n",
        W / 2, test >= 0 && one_test ? "" : " (tests differ by window)", r->n, r->reference_rides);
    if (test >= 0 && one_test)
        fprintf(
            f,
            "<text x=\"%.0f\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">test: %s, drift when %s %g</text>\n",
            W / 2, rp__drift_test_name((rp__drift_test)test),
            test == RP_DRIFT_TEST_WASSERSTEIN || test == RP_DRIFT_TEST_JENSENSHANNON ? "&gt;=" : "p &lt;",
            thr);
    /* axes */
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n",
            L, T, pw, ph);
    for (int g = 0; g <= 4; g++) {
        double y = T + ph - ph * g / 4.0;
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", L, y, L + pw,
                y);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%.3g</text>\n", L - 6,
                y + 4, ymax * g / 4.0);
    }
    for (size_t g = 0; g <= spec->n; g++) /* the drifted columns' axis: whole numbers */
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" fill=\"#d62728\">%zu</text>\n", L + pw + 6,
                T + ph - ph * (double)g / cmax + 4, g);
    fprintf(f,
            "<text x=\"14\" y=\"%.0f\" transform=\"rotate(-90 14 %.0f)\" text-anchor=\"middle\" "
            "fill=\"#1f77b4\">prediction drift</text>\n",
            T + ph / 2, T + ph / 2);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" transform=\"rotate(90 %.0f %.0f)\" text-anchor=\"middle\" "
            "fill=\"#d62728\">drifted columns (of %zu)</text>\n",
            W - 14, T + ph / 2, W - 14, T + ph / 2, spec->n);
    double bw = pw / (double)n;
    /* bars: drifted columns */
    fprintf(f, "<g fill=\"#d62728\" fill-opacity=\"0.25\">\n");
    for (size_t k = 0; k < r->n; k++) {
        double h = ph * (double)r->w[k].result.num_drifted_columns / cmax;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
                L + bw * (double)k + bw * 0.15, T + ph - h, bw * 0.7, h);
    }
    fprintf(f, "</g>\n");
    if (test >= 0 && one_test) {
        double y = T + ph - ph * thr / ymax;
        fprintf(
            f,
            "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#1f77b4\" stroke-dasharray=\"5,4\"/>\n",
            L, y, L + pw, y);
    }
    /* the line: prediction drift (gaps where a window has none) */
    fprintf(f, "<path fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" d=\"");
    bool pen = false;
    for (size_t k = 0; k < r->n; k++) {
        double v = r->w[k].result.prediction_drift;
        if (!isfinite(v)) {
            pen = false;
            continue;
        }
        fprintf(f, "%s%.1f %.1f ", pen ? "L" : "M", L + bw * ((double)k + 0.5), T + ph - ph * v / ymax);
        pen = true;
    }
    fprintf(f, "\"/>\n<g fill=\"#1f77b4\">\n");
    for (size_t k = 0; k < r->n; k++) {
        const rp__monitor_result *x = &r->w[k].result;
        if (!isfinite(x->prediction_drift))
            continue;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"%s/>\n", L + bw * ((double)k + 0.5),
                T + ph - ph * x->prediction_drift / ymax, x->prediction_drifted ? "4.5" : "2.5",
                x->prediction_drifted ? " stroke=\"black\"" : "");
    }
    fprintf(f, "</g>\n");
    /* window labels: at most about 16 */
    size_t step = r->n > 16 ? (r->n + 15) / 16 : 1;
    bool days = r->n && (r->w[0].end_us - r->w[0].start_us) % (INT64_C(86400) * 1000000) == 0;
    for (size_t k = 0; k < r->n; k += step) {
        char iso[RP_MONITOR_TIME_MAX], s[RP_MONITOR_TIME_MAX];
        rp__monitor_time_iso(r->w[k].start_us, iso);
        if (days) /* 2021-03-01 */
            snprintf(s, sizeof s, "%.10s", iso);
        else /* 03-01 06:00 */
            snprintf(s, sizeof s, "%.5s %.5s", iso + 5, iso + 11);
        double x = L + bw * ((double)k + 0.5);
        fprintf(
            f,
            "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"end\" transform=\"rotate(-35 %.1f %.0f)\">%s</text>\n",
            x, T + ph + 14, x, T + ph + 14, s);
    }
    fprintf(f, "</svg>\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s", path);
    return 0;
}
