/* See evaluate.h. */
#include "pipeline/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "data/trips.h"

typedef struct join {
    size_t n;        /* rows */
    int64_t *in_ms;  /* per ride id: arrival in the rides stream, or -1 */
    int64_t *out_ms; /* per ride id: first prediction's arrival, or -1 */
    double *pred;
    rp__eval_report *r;
} join;

/* A ride id: a decimal partition key below n. */
static bool ride_id(const char *s, size_t len, size_t n, size_t *out)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= n)
        return false;
    *out = (size_t)v;
    return true;
}

static int on_ride(void *ctx, const rp_stream_record *rec)
{
    join *j = ctx;
    size_t id;
    if (!ride_id(rec->partition_key, rec->partition_key_len, j->n, &id))
        return 0;
    if (j->in_ms[id] < 0) {
        j->in_ms[id] = rec->arrival_ms;
        j->r->rides_in++;
    }
    return 0;
}

/* {"model": ..., "version": ..., "prediction": {"ride_duration": X, "ride_id": N}} */
static bool parse_prediction(const char *data, size_t len, double *dur, int64_t *id)
{
    rp__json_reader r;
    rp__json_value v, k;
    bool have_d = false, have_id = false;
    rp__json_init(&r, data, len, 8);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return false;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return false;
        if (rp__json_str_eq(&k, "prediction", 10) && v.type == RP_JSON_OBJECT) {
            int rc2;
            rp__json_value k2, v2;
            while ((rc2 = rp__json_member(&r, &k2)) == 1) {
                if (rp__json_next(&r, &v2) != 1)
                    return false;
                if (rp__json_str_eq(&k2, "ride_duration", 13) && v2.type == RP_JSON_NUMBER) {
                    *dur = rp__json_number(&v2);
                    have_d = true;
                } else if (rp__json_str_eq(&k2, "ride_id", 7) && v2.type == RP_JSON_NUMBER && v2.is_int) {
                    double d = rp__json_number(&v2);
                    if (d < 0 || d > 9e15)
                        return false;
                    *id = (int64_t)d;
                    have_id = true;
                } else if ((v2.type == RP_JSON_OBJECT || v2.type == RP_JSON_ARRAY) &&
                           rp__json_skip(&r, &v2) < 0) {
                    return false;
                }
            }
            if (rc2 < 0)
                return false;
        } else if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(&r, &v) < 0) {
            return false;
        }
    }
    return rc == 0 && have_d && have_id;
}

static int on_prediction(void *ctx, const rp_stream_record *rec)
{
    join *j = ctx;
    rp__eval_report *r = j->r;
    r->predictions++;
    double dur;
    int64_t id;
    if (!parse_prediction((const char *)rec->data, rec->data_len, &dur, &id) || (uint64_t)id >= j->n) {
        r->unreadable++;
        return 0;
    }
    if (j->out_ms[id] >= 0) {
        r->duplicates++;
        return 0;
    }
    j->out_ms[id] = rec->arrival_ms;
    j->pred[id] = dur;
    r->predicted++;
    for (size_t e = 0; e < RP_EVAL_EXAMPLES; e++) {
        if (!r->examples[e]) {
            r->examples[e] = strndup((const char *)rec->data, rec->data_len);
            break;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int write_svg(const char *path, const rp__trips *t, const join *j, size_t max_points, double rmse,
                     rp_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const double W = 640, H = 640, M = 60, P = W - 2 * M; /* plot area P x P, 0..60 minutes */
    fprintf(
        f,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
        W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(
        f,
        "<text x=\"%.0f\" y=\"30\" text-anchor=\"middle\" font-size=\"15\">Predicted vs real ride duration (RMSE %.3f min)</text>\n",
        W / 2, rmse);
    for (int m = 0; m <= 60; m += 10) {
        double x = M + P * m / 60.0, y = H - M - P * m / 60.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, H - M, x,
                (double)M);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", (double)M, y,
                W - M, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x, H - M + 18, m);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", M - 6, y + 4, m);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">real duration (minutes)</text>\n", W / 2,
            H - 18);
    fprintf(
        f,
        "<text x=\"18\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.0f)\">predicted duration (minutes)</text>\n",
        H / 2, H / 2);
    size_t total = 0;
    for (size_t i = 0; i < t->n; i++) {
        double d;
        if (j->out_ms[i] >= 0 && isfinite(j->pred[i]) && rp__trips_keep(t, i, &d))
            total++;
    }
    size_t step = total > max_points ? (total + max_points - 1) / max_points : 1, k = 0;
    fprintf(f, "<g fill=\"#1f77b4\" fill-opacity=\"0.25\">\n");
    for (size_t i = 0; i < t->n; i++) {
        double real;
        if (j->out_ms[i] < 0 || !isfinite(j->pred[i]) || !rp__trips_keep(t, i, &real) || k++ % step)
            continue;
        double p = j->pred[i] < 0 ? 0 : j->pred[i] > 60 ? 60 : j->pred[i];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\"/>\n", M + P * real / 60.0,
                H - M - P * p / 60.0);
    }
    fprintf(
        f,
        "</g>\n<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\n",
        M, H - M, W - M, (double)M);
    fprintf(
        f,
        "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n</svg>\n",
        M, M, P, P);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s", path);
    return 0;
}

int rp__evaluate(const char *trip_file, rp_stream_conn *s, const char *rides, const char *predictions,
                 const rp__eval_opts *o, rp__eval_report *r, rp_error *err)
{
    memset(r, 0, sizeof *r);
    rp__trips t = {0};
    join j = {0};
    double *lat = NULL;
    int rc = -1;
    if (rp__trips_read(trip_file, 0, &t, err) < 0)
        return -1;
    r->rows = t.n;
    j.n = t.n;
    j.r = r;
    j.in_ms = malloc((t.n + 1) * sizeof *j.in_ms);
    j.out_ms = malloc((t.n + 1) * sizeof *j.out_ms);
    j.pred = calloc(t.n + 1, sizeof *j.pred);
    lat = malloc((t.n + 1) * sizeof *lat);
    if (!j.in_ms || !j.out_ms || !j.pred || !lat) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t.n; i++)
        j.in_ms[i] = j.out_ms[i] = -1;
    if (rp_stream_scan(s, rides, on_ride, &j, err) < 0) {
        rp_error_prefix(err, "rides stream %s", rides);
        goto out;
    }
    if (rp_stream_scan(s, predictions, on_prediction, &j, err) < 0) {
        rp_error_prefix(err, "predictions stream %s", predictions);
        goto out;
    }
    double se = 0, ae = 0;
    size_t nl = 0;
    int64_t first_in = INT64_MAX, last_out = INT64_MIN;
    for (size_t i = 0; i < t.n; i++) {
        double real;
        bool keep = rp__trips_keep(&t, i, &real);
        r->kept += keep;
        if (j.in_ms[i] >= 0 && j.in_ms[i] < first_in)
            first_in = j.in_ms[i];
        if (j.in_ms[i] >= 0 && j.out_ms[i] < 0)
            r->missing++;
        if (j.out_ms[i] < 0)
            continue;
        if (j.out_ms[i] > last_out)
            last_out = j.out_ms[i];
        if (j.in_ms[i] >= 0)
            lat[nl++] = (double)(j.out_ms[i] - j.in_ms[i]);
        if (!isfinite(j.pred[i])) {
            r->nonfinite++;
            r->kept_nonfinite += keep;
            continue;
        }
        if (keep) {
            double e = j.pred[i] - real;
            se += e * e;
            ae += fabs(e);
            r->kept_predicted++;
        }
    }
    if (r->kept_predicted) {
        r->rmse = sqrt(se / (double)r->kept_predicted);
        r->mae = ae / (double)r->kept_predicted;
    }
    if (nl) {
        qsort(lat, nl, sizeof *lat, cmp_double);
        static const double q[3] = {0.50, 0.90, 0.99};
        for (int k = 0; k < 3; k++)
            r->latency_ms[k] = lat[(size_t)ceil(q[k] * (double)nl) - 1];
        r->latency_ms[3] = lat[nl - 1];
    }
    if (first_in != INT64_MAX && last_out != INT64_MIN && last_out > first_in) {
        r->span_s = (double)(last_out - first_in) / 1000.0;
        r->rides_per_s = (double)r->predicted / r->span_s;
    }
    if (o && o->svg_path &&
        write_svg(o->svg_path, &t, &j, o->max_points ? o->max_points : 5000, r->rmse, err) < 0)
        goto out;
    rc = 0;
out:
    free(j.in_ms);
    free(j.out_ms);
    free(j.pred);
    free(lat);
    rp__trips_free(&t);
    if (rc < 0)
        rp__eval_report_free(r);
    return rc;
}

void rp__eval_report_free(rp__eval_report *r)
{
    for (size_t e = 0; e < RP_EVAL_EXAMPLES; e++) {
        free(r->examples[e]);
        r->examples[e] = NULL;
    }
}
