/* See trips.h.  The Parquet and CSV readers fill rp__trips. */
#include "data/trips.h"

#include "common/file.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "data/codec.h"
#include "data/parquet.h"

/* A gzip'd CSV inflates to at most this. */
#define CSV_GZ_MAX_BYTES ((size_t)8 << 30)

const char *const rp__trips_pickup_names[] = {"lpep_pickup_datetime", "tpep_pickup_datetime",
                                              "pickup_datetime", NULL};
const char *const rp__trips_dropoff_names[] = {"lpep_dropoff_datetime", "tpep_dropoff_datetime",
                                               "dropOff_datetime", "dropoff_datetime", NULL};
const char *const rp__trips_pu_names[] = {"PULocationID", "PUlocationID", NULL};
const char *const rp__trips_do_names[] = {"DOLocationID", "DOlocationID", NULL};
const char *const rp__trips_distance_names[] = {"trip_distance", NULL};

void rp__trips_free(rp__trips *t)
{
    if (!t)
        return;
    free(t->pickup_us);
    free(t->dropoff_us);
    free(t->pu);
    free(t->dor);
    free(t->distance);
    for (size_t k = 0; k < RP_TRIPS_MAX_EXTRA; k++)
        free(t->extra[k]);
    *t = (rp__trips){0};
}

bool rp__trips_keep(const rp__trips *t, size_t i, double *duration_min)
{
    int64_t a = t->pickup_us[i], b = t->dropoff_us[i];
    if (a == RP_TRIPS_NULL_TIME || b == RP_TRIPS_NULL_TIME || t->pu[i] == RP_TRIPS_NULL_ID ||
        t->dor[i] == RP_TRIPS_NULL_ID)
        return false;
    /* pandas: Timedelta.total_seconds() is microseconds / 1e6, then / 60. */
    double d = ((double)(b - a) / 1e6) / 60.0;
    if (!(d >= 1.0 && d <= 60.0))
        return false;
    *duration_min = d;
    return true;
}

/* ---- shared --------------------------------------------------------------- */

enum {
    COL_PICKUP,
    COL_DROPOFF,
    COL_PU,
    COL_DO,
    COL_DIST,
    NCOLS
};

static const char *const *const col_names[NCOLS] = {rp__trips_pickup_names, rp__trips_dropoff_names,
                                                    rp__trips_pu_names, rp__trips_do_names,
                                                    rp__trips_distance_names};

static int alloc_trips(rp__trips *t, size_t n, size_t n_extra)
{
    size_t m = n ? n : 1;
    t->n = n;
    t->n_extra = n_extra;
    for (size_t k = 0; k < n_extra; k++)
        if (!(t->extra[k] = malloc(m * sizeof *t->extra[k])))
            return -1;
    t->pickup_us = malloc(m * sizeof *t->pickup_us);
    t->dropoff_us = malloc(m * sizeof *t->dropoff_us);
    t->pu = malloc(m * sizeof *t->pu);
    t->dor = malloc(m * sizeof *t->dor);
    t->distance = malloc(m * sizeof *t->distance);
    return t->pickup_us && t->dropoff_us && t->pu && t->dor && t->distance ? 0 : -1;
}

/* "a, b or c" */
static void names_list(const char *const *names, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
        int k = snprintf(out + len, size - len, "%s%s", sep, names[i]);
        if (k < 0 || (size_t)k >= size - len)
            break;
        len += (size_t)k;
    }
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- Parquet ---------------------------------------------------------------- */

static int find_pq_column(rp__parquet *p, int which, const char *file, rp_error *err)
{
    for (size_t i = 0; col_names[which][i]; i++) {
        int c = rp__parquet_find_column(p, col_names[which][i]);
        if (c >= 0)
            return c;
    }
    char list[256];
    names_list(col_names[which], list, sizeof list);
    return rp_error_set(err, RP_ERR_INVALID, "%s: no column %s", file, list);
}

int rp__trips_int96_us(const uint8_t *b, int64_t *us)
{
    /* nanoseconds of the day (8 bytes) and the Julian day (4 bytes), little-endian */
    uint64_t ns = 0;
    uint32_t jd = 0;
    for (int k = 7; k >= 0; k--)
        ns = ns << 8 | b[k];
    for (int k = 3; k >= 0; k--)
        jd = jd << 8 | b[8 + k];
    if (ns >= UINT64_C(86400000000000))
        return -1;
    *us = ((int64_t)jd - 2440588) * INT64_C(86400000000) + (int64_t)(ns / 1000);
    return 0;
}

static int pq_times(const rp__parquet_column *c, const rp__parquet_values *v, int64_t *out, const char *file,
                    rp_error *err)
{
    if (c->type == RP_PQ_INT96) {
        for (size_t i = 0; i < v->n; i++) {
            if (v->valid && !v->valid[i])
                out[i] = RP_TRIPS_NULL_TIME;
            else if (rp__trips_int96_us(v->data + v->off[i], &out[i]) < 0)
                return rp_error_set(err, RP_ERR_CORRUPT,
                                    "%s: column %s: INT96 time of day out of range (row %zu)", file, c->name,
                                    i);
        }
        return 0;
    }
    if (c->type != RP_PQ_INT64)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s: column %s is %s: expected INT64 TIMESTAMP or INT96",
                            file, c->name, rp__parquet_type_name(c->type));
    if (c->logical != RP_PQ_LOGICAL_TIMESTAMP)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s: column %s is INT64 without a TIMESTAMP annotation",
                            file, c->name);
    for (size_t i = 0; i < v->n; i++) {
        if (v->valid && !v->valid[i]) {
            out[i] = RP_TRIPS_NULL_TIME;
            continue;
        }
        int64_t x = v->v.i64[i];
        switch (c->time_unit) {
        case RP_PQ_MILLIS:
            if (x > INT64_MAX / 1000 || x < INT64_MIN / 1000 + 1)
                return rp_error_set(err, RP_ERR_INVALID,
                                    "%s: column %s: timestamp %lld ms out of range (row %zu)", file, c->name,
                                    (long long)x, i);
            x *= 1000;
            break;
        case RP_PQ_NANOS: x = floor_div(x, 1000); break;
        default: break;
        }
        if (x == RP_TRIPS_NULL_TIME)
            return rp_error_set(err, RP_ERR_INVALID, "%s: column %s: timestamp out of range (row %zu)", file,
                                c->name, i);
        out[i] = x;
    }
    return 0;
}

static int pq_ids(const rp__parquet_column *c, const rp__parquet_values *v, int32_t *out, const char *file,
                  rp_error *err)
{
    bool is_unsigned = c->logical == RP_PQ_LOGICAL_INT && !c->int_signed;
    for (size_t i = 0; i < v->n; i++) {
        if (v->valid && !v->valid[i]) {
            out[i] = RP_TRIPS_NULL_ID;
            continue;
        }
        bool ok;
        int64_t x = 0;
        switch (c->type) {
        case RP_PQ_INT32:
            x = is_unsigned ? (int64_t)(uint32_t)v->v.i32[i] : v->v.i32[i];
            ok = true;
            break;
        case RP_PQ_INT64:
            ok = !(is_unsigned && v->v.i64[i] < 0);
            x = v->v.i64[i];
            break;
        case RP_PQ_FLOAT:
        case RP_PQ_DOUBLE: {
            double d = c->type == RP_PQ_FLOAT ? v->v.f32[i] : v->v.f64[i];
            if (isnan(d)) {
                out[i] = RP_TRIPS_NULL_ID;
                continue;
            }
            ok = d == floor(d) && d > (double)INT32_MIN && d <= (double)INT32_MAX;
            if (!ok)
                return rp_error_set(err, RP_ERR_INVALID, "%s: column %s: %g is not a location id (row %zu)",
                                    file, c->name, d, i);
            x = (int64_t)d;
            break;
        }
        default:
            return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s: column %s is %s: expected an integer", file,
                                c->name, rp__parquet_type_name(c->type));
        }
        if (!ok || x <= INT32_MIN || x > INT32_MAX)
            return rp_error_set(err, RP_ERR_INVALID,
                                "%s: column %s: %lld does not fit a location id (row %zu)", file, c->name,
                                (long long)x, i);
        out[i] = (int32_t)x;
    }
    return 0;
}

static int pq_doubles(const rp__parquet_column *c, const rp__parquet_values *v, double *out, const char *file,
                      rp_error *err)
{
    bool is_unsigned = c->logical == RP_PQ_LOGICAL_INT && !c->int_signed;
    if (c->type != RP_PQ_DOUBLE && c->type != RP_PQ_FLOAT && c->type != RP_PQ_INT32 && c->type != RP_PQ_INT64)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s: column %s is %s: expected a number", file, c->name,
                            rp__parquet_type_name(c->type));
    for (size_t i = 0; i < v->n; i++) {
        if (v->valid && !v->valid[i]) {
            out[i] = NAN;
            continue;
        }
        switch (c->type) {
        case RP_PQ_DOUBLE: out[i] = v->v.f64[i]; break;
        case RP_PQ_FLOAT: out[i] = v->v.f32[i]; break;
        case RP_PQ_INT32: out[i] = is_unsigned ? (double)(uint32_t)v->v.i32[i] : (double)v->v.i32[i]; break;
        default: out[i] = is_unsigned ? (double)(uint64_t)v->v.i64[i] : (double)v->v.i64[i]; break;
        }
    }
    return 0;
}

static int check_extra(size_t n_extra, rp_error *err)
{
    if (n_extra > RP_TRIPS_MAX_EXTRA)
        return rp_error_set(err, RP_ERR_INVALID, "%zu extra columns: at most %d", n_extra,
                            RP_TRIPS_MAX_EXTRA);
    return 0;
}

int rp__trips_from_parquet(rp__parquet *p, size_t max_rows, rp__trips *out, rp_error *err)
{
    return rp__trips_from_parquet_extra(p, max_rows, NULL, 0, out, err);
}

int rp__trips_from_parquet_extra(rp__parquet *p, size_t max_rows, const char *const *extra, size_t n_extra,
                                 rp__trips *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_extra(n_extra, err) < 0)
        return -1;
    int idx[NCOLS + RP_TRIPS_MAX_EXTRA];
    const char *file = "parquet";
    rp__parquet_values v[NCOLS + RP_TRIPS_MAX_EXTRA];
    memset(v, 0, sizeof v);
    int rc = -1, nc = NCOLS + (int)n_extra;
    for (int k = 0; k < NCOLS; k++)
        if ((idx[k] = find_pq_column(p, k, file, err)) < 0)
            return -1;
    for (size_t k = 0; k < n_extra; k++)
        if ((idx[NCOLS + k] = rp__parquet_find_column(p, extra[k])) < 0)
            return rp_error_set(err, RP_ERR_INVALID, "%s: no column %s", file, extra[k]);
    for (int k = 0; k < nc; k++)
        if (rp__parquet_read_column(p, (size_t)idx[k], max_rows, &v[k], err) < 0)
            goto out;
    if (alloc_trips(out, v[0].n, n_extra) < 0) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for %zu trips", v[0].n);
        goto out;
    }
    const rp__parquet_column *c[NCOLS];
    for (int k = 0; k < NCOLS; k++)
        c[k] = rp__parquet_column_at(p, (size_t)idx[k]);
    if (pq_times(c[COL_PICKUP], &v[COL_PICKUP], out->pickup_us, file, err) < 0 ||
        pq_times(c[COL_DROPOFF], &v[COL_DROPOFF], out->dropoff_us, file, err) < 0 ||
        pq_ids(c[COL_PU], &v[COL_PU], out->pu, file, err) < 0 ||
        pq_ids(c[COL_DO], &v[COL_DO], out->dor, file, err) < 0 ||
        pq_doubles(c[COL_DIST], &v[COL_DIST], out->distance, file, err) < 0)
        goto out;
    for (size_t k = 0; k < n_extra; k++) {
        const rp__parquet_column *ce = rp__parquet_column_at(p, (size_t)idx[NCOLS + k]);
        if (v[NCOLS + k].n != v[0].n) {
            rp_error_set(err, RP_ERR_CORRUPT, "%s: column %s has %zu values, %s %zu", file, extra[k],
                         v[NCOLS + k].n, c[0]->name, v[0].n);
            goto out;
        }
        if (pq_doubles(ce, &v[NCOLS + k], out->extra[k], file, err) < 0)
            goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < nc; k++)
        rp__parquet_values_free(&v[k]);
    if (rc < 0)
        rp__trips_free(out);
    return rc;
}

/* ---- CSV -------------------------------------------------------------------- */

typedef struct csv {
    const char *p, *end;
    const char *name;
    size_t line; /* of the current record's start */
    size_t cur_line;
    rp_error *err;
} csv;

typedef struct field {
    const char *s;
    size_t len;
    bool escaped; /* quoted with "" inside: unescape before use */
} field;

/* A NUL byte would cut a field short where it is copied as a C string:
 * the file is refused, naming the line. */
static int csv_nul(csv *c)
{
    return rp_error_set(c->err, RP_ERR_INVALID,
                        "%s:%zu: a NUL byte in a field: the file is damaged or not a text CSV "
                        "(tr -d '\\000' removes NUL bytes)",
                        c->name, c->cur_line);
}

/* Reads one field; *last is set when it ends its record (or the input).
 * Refuses a field with a NUL byte in it. */
static int csv_field(csv *c, field *f, bool *last)
{
    const char *p = c->p;
    *last = false;
    if (p < c->end && *p == '"') {
        const char *s = ++p;
        f->escaped = false;
        for (;;) {
            if (p >= c->end)
                return rp_error_set(c->err, RP_ERR_INVALID, "%s:%zu: a quoted field is not closed", c->name,
                                    c->line);
            if (*p == '"') {
                if (p + 1 < c->end && p[1] == '"') {
                    f->escaped = true;
                    p += 2;
                    continue;
                }
                break;
            }
            if (*p == '\n')
                c->cur_line++;
            else if (*p == '\0')
                return csv_nul(c);
            p++;
        }
        f->s = s;
        f->len = (size_t)(p - s);
        p++; /* the closing quote */
        if (p < c->end && *p == '\r' && (p + 1 == c->end || p[1] == '\n'))
            p++;
        if (p < c->end && *p != ',' && *p != '\n')
            return rp_error_set(c->err, RP_ERR_INVALID,
                                "%s:%zu: '%c' after a closing quote (quote the whole field)", c->name,
                                c->cur_line, *p);
    } else {
        const char *s = p;
        while (p < c->end && *p != ',' && *p != '\n' && *p != '\0')
            p++;
        if (p < c->end && *p == '\0')
            return csv_nul(c);
        f->s = s;
        f->len = (size_t)(p - s);
        f->escaped = false;
        if (f->len && s[f->len - 1] == '\r' && (p == c->end || *p == '\n'))
            f->len--;
    }
    if (p >= c->end || *p == '\n') {
        *last = true;
        if (p < c->end) {
            p++;
            c->cur_line++;
        }
    } else {
        p++; /* ',' */
    }
    c->p = p;
    return 0;
}

/* Copies field f (unescaped) as a NUL-terminated string into buf. */
static int field_text(csv *c, const field *f, char *buf, size_t size, const char *col)
{
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (n + 1 >= size)
            return rp_error_set(c->err, RP_ERR_INVALID, "%s:%zu: column %s: a field of %zu bytes is too long",
                                c->name, c->line, col, f->len);
        buf[n++] = f->s[i];
        if (f->escaped && f->s[i] == '"')
            i++;
    }
    buf[n] = '\0';
    return 0;
}

static bool digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

/* "YYYY-MM-DD[ HH:MM:SS[.f...]]" (or 'T' between) as microseconds. */
static bool parse_time(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    int64_t frac = 0;
    if (n > 10) {
        if ((s[10] != ' ' && s[10] != 'T') || n < 19 || !digits(s + 11, 2, &h) || s[13] != ':' ||
            !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
            return false;
        if (n > 19) {
            if (s[19] != '.' || n == 20 || n > 29)
                return false;
            int64_t scale = 100000;
            for (size_t i = 20; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                    return false;
                frac += (s[i] - '0') * scale; /* digits past microseconds are dropped */
                scale /= 10;
            }
        }
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 59)
        return false;
    *us =
        (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se) * INT64_C(1000000) +
        frac;
    return true;
}

static int csv_value(csv *c, int which, const field *f, rp__trips *t, size_t row)
{
    const char *col = col_names[which][0];
    if (f->len == 0) {
        switch (which) {
        case COL_PICKUP: t->pickup_us[row] = RP_TRIPS_NULL_TIME; break;
        case COL_DROPOFF: t->dropoff_us[row] = RP_TRIPS_NULL_TIME; break;
        case COL_PU: t->pu[row] = RP_TRIPS_NULL_ID; break;
        case COL_DO: t->dor[row] = RP_TRIPS_NULL_ID; break;
        default: t->distance[row] = NAN; break;
        }
        return 0;
    }
    char buf[64];
    if (field_text(c, f, buf, sizeof buf, col) < 0)
        return -1;
    if (which == COL_PICKUP || which == COL_DROPOFF) {
        int64_t us;
        if (!parse_time(buf, &us))
            return rp_error_set(c->err, RP_ERR_INVALID,
                                "%s:%zu: column %s: \"%s\" is not a time (YYYY-MM-DD HH:MM:SS[.ffffff])",
                                c->name, c->line, col, buf);
        (which == COL_PICKUP ? t->pickup_us : t->dropoff_us)[row] = us;
        return 0;
    }
    char *e;
    errno = 0;
    double d = strtod(buf, &e);
    if (e == buf || *e || isspace((unsigned char)buf[0]))
        return rp_error_set(c->err, RP_ERR_INVALID, "%s:%zu: column %s: \"%s\" is not a number", c->name,
                            c->line, col, buf);
    if (which == COL_DIST) {
        t->distance[row] = d;
        return 0;
    }
    if (isnan(d)) {
        (which == COL_PU ? t->pu : t->dor)[row] = RP_TRIPS_NULL_ID;
        return 0;
    }
    if (d != floor(d) || !(d > (double)INT32_MIN && d <= (double)INT32_MAX))
        return rp_error_set(c->err, RP_ERR_INVALID, "%s:%zu: column %s: \"%s\" is not a location id", c->name,
                            c->line, col, buf);
    (which == COL_PU ? t->pu : t->dor)[row] = (int32_t)d;
    return 0;
}

static int grow_trips(rp__trips *t, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t m = *cap ? *cap * 2 : 4096;
    while (m < need)
        m *= 2;
    for (size_t k = 0; k < t->n_extra; k++) {
        double *x = realloc(t->extra[k], m * sizeof *x);
        if (!x)
            return -1;
        t->extra[k] = x;
    }
    void *a = realloc(t->pickup_us, m * sizeof *t->pickup_us);
    if (a)
        t->pickup_us = a;
    void *b = realloc(t->dropoff_us, m * sizeof *t->dropoff_us);
    if (b)
        t->dropoff_us = b;
    void *c = realloc(t->pu, m * sizeof *t->pu);
    if (c)
        t->pu = c;
    void *d = realloc(t->dor, m * sizeof *t->dor);
    if (d)
        t->dor = d;
    void *e = realloc(t->distance, m * sizeof *t->distance);
    if (e)
        t->distance = e;
    if (!a || !b || !c || !d || !e)
        return -1;
    *cap = m;
    return 0;
}

/* An extra column's cell: empty (NaN) or a number. */
static int csv_extra(csv *c, const char *col, const field *f, double *out)
{
    if (f->len == 0) {
        *out = NAN;
        return 0;
    }
    char buf[64];
    if (field_text(c, f, buf, sizeof buf, col) < 0)
        return -1;
    char *e;
    double d = strtod(buf, &e);
    if (e == buf || *e || isspace((unsigned char)buf[0]))
        return rp_error_set(c->err, RP_ERR_INVALID, "%s:%zu: column %s: \"%s\" is not a number", c->name,
                            c->line, col, buf);
    *out = d;
    return 0;
}

int rp__trips_read_csv_mem(const char *data, size_t len, const char *name, size_t max_rows, rp__trips *out,
                           rp_error *err)
{
    return rp__trips_read_csv_mem_extra(data, len, name, max_rows, NULL, 0, out, err);
}

int rp__trips_read_csv_mem_extra(const char *data, size_t len, const char *name, size_t max_rows,
                                 const char *const *extra, size_t n_extra, rp__trips *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_extra(n_extra, err) < 0)
        return -1;
    int epos[RP_TRIPS_MAX_EXTRA];
    for (size_t k = 0; k < n_extra; k++)
        epos[k] = -1;
    csv c = {.p = data, .end = data + len, .name = name ? name : "csv", .line = 1, .cur_line = 1, .err = err};
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;
    /* the header */
    int pos[NCOLS], rank[NCOLS];
    for (int k = 0; k < NCOLS; k++)
        pos[k] = rank[k] = -1;
    size_t ncols = 0;
    bool last = false;
    if (c.p >= c.end)
        return rp_error_set(err, RP_ERR_INVALID, "%s: empty file: expected a header line", c.name);
    while (!last) {
        field f;
        if (csv_field(&c, &f, &last) < 0)
            return -1;
        char h[256];
        if (f.len < sizeof h && field_text(&c, &f, h, sizeof h, "header") == 0) {
            for (int k = 0; k < NCOLS; k++)
                for (int j = 0; col_names[k][j]; j++)
                    if (strcmp(h, col_names[k][j]) == 0 && (rank[k] < 0 || j < rank[k])) {
                        rank[k] = j;
                        pos[k] = (int)ncols;
                    }
            for (size_t k = 0; k < n_extra; k++)
                if (epos[k] < 0 && strcmp(h, extra[k]) == 0)
                    epos[k] = (int)ncols;
        }
        if (++ncols > 100000)
            return rp_error_set(err, RP_ERR_LIMIT, "%s: header of more than 100000 columns", c.name);
    }
    for (int k = 0; k < NCOLS; k++)
        if (pos[k] < 0) {
            char list[256];
            names_list(col_names[k], list, sizeof list);
            return rp_error_set(err, RP_ERR_INVALID, "%s: the header has no column %s", c.name, list);
        }
    for (size_t k = 0; k < n_extra; k++)
        if (epos[k] < 0)
            return rp_error_set(err, RP_ERR_INVALID, "%s: the header has no column %s", c.name, extra[k]);
    out->n_extra = n_extra;
    size_t cap = 0, n = 0;
    int rc = -1;
    while (c.p < c.end && (!max_rows || n < max_rows)) {
        c.line = c.cur_line;
        /* a blank line (as pandas, skipped) */
        if (*c.p == '\n' || (*c.p == '\r' && (c.p + 1 == c.end || c.p[1] == '\n'))) {
            c.p += *c.p == '\r' ? (c.p + 1 < c.end ? 2 : 1) : 1;
            c.cur_line++;
            continue;
        }
        if (grow_trips(out, &cap, n + 1) < 0) {
            rp_error_set(err, RP_ERR_NOMEM, "%s: out of memory at line %zu", c.name, c.line);
            goto out;
        }
        size_t i = 0;
        last = false;
        while (!last) {
            field f;
            if (csv_field(&c, &f, &last) < 0)
                goto out;
            if (i < ncols)
                for (int k = 0; k < NCOLS; k++)
                    if (pos[k] == (int)i) {
                        if (csv_value(&c, k, &f, out, n) < 0)
                            goto out;
                    }
            if (n_extra && i < ncols)
                for (size_t k = 0; k < n_extra; k++)
                    if (epos[k] == (int)i && csv_extra(&c, extra[k], &f, &out->extra[k][n]) < 0)
                        goto out;
            i++;
        }
        if (i != ncols) {
            rp_error_set(err, RP_ERR_INVALID, "%s:%zu: %zu fields, the header has %zu", c.name, c.line, i,
                         ncols);
            goto out;
        }
        n++;
    }
    out->n = n;
    rc = 0;
out:
    if (rc < 0)
        rp__trips_free(out);
    return rc;
}

/* ---- files ------------------------------------------------------------------ */

int rp__trips_read(const char *path, size_t max_rows, rp__trips *out, rp_error *err)
{
    return rp__trips_read_extra(path, max_rows, NULL, 0, out, err);
}

int rp__trips_read_extra(const char *path, size_t max_rows, const char *const *extra, size_t n_extra,
                         rp__trips *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    void *map;
    size_t size;
    if (rp__file_map(path, &map, &size, err) < 0)
        return -1;
    if (size == 0)
        return rp_error_set(err, RP_ERR_INVALID, "%s: empty file: expected Parquet or CSV with a header line",
                            path);
    const unsigned char *magic = map;
    int rc;
    if (size >= 4 && memcmp(magic, "PAR1", 4) == 0) {
        /* One mapping for both the sniffing and the reading. */
        rp__parquet *p;
        rc = rp__parquet_open_mem(map, size, path, &p, err);
        if (rc == 0) {
            rc = rp__trips_from_parquet_extra(p, max_rows, extra, n_extra, out, err);
            rp__parquet_close(p);
        }
        if (rc < 0 && strncmp(err->msg, path, strlen(path)) != 0)
            rp_error_prefix(err, "%s", path);
    } else if (size >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        rp__buf b;
        rp__buf_init(&b, CSV_GZ_MAX_BYTES);
        rc = rp__codec_gunzip_buf(map, size, &b, err);
        if (rc < 0)
            rp_error_prefix(err, "%s", path);
        else
            rc = rp__trips_read_csv_mem_extra(b.data ? b.data : "", b.len, path, max_rows, extra, n_extra,
                                              out, err);
        rp__buf_cleanup(&b);
    } else {
        rc = rp__trips_read_csv_mem_extra(map, size, path, max_rows, extra, n_extra, out, err);
    }
    rp__file_unmap(map, size);
    return rc;
}
