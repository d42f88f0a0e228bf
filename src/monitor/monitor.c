/* See monitor.h. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, fsync */
#include "monitor/monitor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/pyfloat.h"

/* A reference file is read whole: at most this many bytes. */
#define REFERENCE_MAX_BYTES ((size_t)2 << 30)

static void add(rp__monitor_spec *s, const char *name, rp__drift_kind kind)
{
    rp__monitor_column *c = &s->col[s->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = kind;
}

void rp__monitor_spec_course(rp__monitor_spec *s)
{
    memset(s, 0, sizeof *s);
    add(s, "passenger_count", RP_DRIFT_NUM);
    add(s, "trip_distance", RP_DRIFT_NUM);
    add(s, "fare_amount", RP_DRIFT_NUM);
    add(s, "total_amount", RP_DRIFT_NUM);
    add(s, "PULocationID", RP_DRIFT_CAT);
    add(s, "DOLocationID", RP_DRIFT_CAT);
    add(s, RP_MONITOR_PREDICTION, RP_DRIFT_NUM);
}

void rp__monitor_spec_serving(rp__monitor_spec *s)
{
    memset(s, 0, sizeof *s);
    add(s, "trip_distance", RP_DRIFT_NUM);
    add(s, "PULocationID", RP_DRIFT_CAT);
    add(s, "DOLocationID", RP_DRIFT_CAT);
    add(s, RP_MONITOR_PREDICTION, RP_DRIFT_NUM);
}

int rp__monitor_spec_find(const rp__monitor_spec *s, const char *name)
{
    for (size_t j = 0; j < s->n; j++)
        if (!strcmp(s->col[j].name, name))
            return (int)j;
    return -1;
}

void rp__monitor_sample_free(rp__monitor_sample *s)
{
    if (!s)
        return;
    for (size_t j = 0; j < RP_MONITOR_MAX_COLUMNS; j++)
        free(s->col[j]);
    memset(s, 0, sizeof *s);
}

int rp__monitor_sample_init(rp__monitor_sample *s, size_t ncols, size_t cap, rp_error *err)
{
    memset(s, 0, sizeof *s);
    if (ncols > RP_MONITOR_MAX_COLUMNS)
        return rp_error_set(err, RP_ERR_INVALID, "%zu columns: a sample holds at most %d", ncols,
                            RP_MONITOR_MAX_COLUMNS);
    if (cap > SIZE_MAX / sizeof(double))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory for a sample of %zu rows", cap);
    for (size_t j = 0; j < ncols; j++) {
        s->col[j] = malloc((cap ? cap : 1) * sizeof(double));
        if (!s->col[j]) {
            rp__monitor_sample_free(s);
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory for a sample of %zu rows", cap);
        }
    }
    s->ncols = ncols;
    s->cap = cap;
    return 0;
}

static size_t count_finite(const double *x, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += isfinite(x[i]) != 0;
    return k;
}

int rp__monitor_compare(const rp__monitor_spec *spec, const rp__monitor_sample *ref, const rp__monitor_sample *cur,
                        rp__monitor_result *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    out->prediction = -1;
    out->prediction_drift = NAN;
    out->share_missing_values = NAN;
    out->share_drifted_columns = NAN;
    if (spec->n > RP_MONITOR_MAX_COLUMNS || ref->ncols != spec->n || cur->ncols != spec->n)
        return rp_error_set(err, RP_ERR_INVALID,
                            "the spec has %zu columns, the reference %zu and the current sample %zu", spec->n,
                            ref->ncols, cur->ncols);
    out->rides = cur->n;
    out->ncols = spec->n;
    for (size_t j = 0; j < spec->n; j++) {
        rp__monitor_column_result *c = &out->col[j];
        c->missing = rp__count_missing(cur->col[j], cur->n);
        out->missing_cells += c->missing;
        c->drift.score = NAN;
        c->status = RP_MONITOR_COLUMN_EMPTY;
        if (cur->n == c->missing || count_finite(ref->col[j], ref->n) == 0)
            continue;
        if (rp__column_drift(ref->col[j], ref->n, cur->col[j], cur->n, spec->col[j].kind, &c->drift, err) < 0) {
            rp_error_prefix(err, "column %s", spec->col[j].name);
            return -1;
        }
        c->status = RP_MONITOR_COLUMN_OK;
        out->num_drifted_columns += c->drift.drifted;
    }
    out->cells = cur->n * spec->n;
    if (out->cells)
        out->share_missing_values = (double)out->missing_cells / (double)out->cells;
    if (spec->n)
        out->share_drifted_columns = (double)out->num_drifted_columns / (double)spec->n;
    out->dataset_drift = rp__dataset_drift(out->num_drifted_columns, spec->n, RP_DRIFT_SHARE);
    out->prediction = rp__monitor_spec_find(spec, RP_MONITOR_PREDICTION);
    if (out->prediction >= 0) {
        const rp__monitor_column_result *p = &out->col[out->prediction];
        out->prediction_drift = p->status == RP_MONITOR_COLUMN_OK ? p->drift.score : NAN;
        out->prediction_drifted = p->status == RP_MONITOR_COLUMN_OK && p->drift.drifted;
    }
    return 0;
}

/* ---- the reference file ---- */

static const char *kind_prefix(rp__drift_kind k)
{
    return k == RP_DRIFT_CAT ? "cat" : "num";
}

int rp__monitor_reference_write(const char *path, const rp__monitor_spec *spec, const rp__monitor_sample *s,
                                rp_error *err)
{
    if (s->ncols != spec->n)
        return rp_error_set(err, RP_ERR_INVALID, "%s: the spec has %zu columns, the sample %zu", path, spec->n,
                            s->ncols);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory writing %s", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rp_error_set(err, RP_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    for (size_t j = 0; j < spec->n; j++)
        fprintf(f, "%s%s:%s", j ? "," : "", kind_prefix(spec->col[j].kind), spec->col[j].name);
    fputc('\n', f);
    char num[RP_PYFLOAT_MAX];
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < spec->n; j++) {
            if (j)
                fputc(',', f);
            double x = s->col[j][i];
            if (!isnan(x)) {
                size_t len = rp__pyfloat_repr(x, num);
                fwrite(num, 1, len, f);
            }
        }
        fputc('\n', f);
    }
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(bad ? saved : errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* One header field "num:NAME" / "cat:NAME" into c.  false when malformed. */
static bool parse_header_field(const char *s, size_t len, rp__monitor_column *c)
{
    if (len < 5 || s[3] != ':' || len - 4 > RP_MONITOR_NAME_MAX)
        return false;
    if (!memcmp(s, "num", 3))
        c->kind = RP_DRIFT_NUM;
    else if (!memcmp(s, "cat", 3))
        c->kind = RP_DRIFT_CAT;
    else
        return false;
    memcpy(c->name, s + 4, len - 4);
    c->name[len - 4] = '\0';
    return memchr(c->name, '\0', len - 4) == NULL;
}

/* A cell: empty (NaN) or a whole number text, e.g. "1.5", "inf", "-inf". */
static bool parse_cell(const char *s, size_t len, double *out)
{
    if (len == 0) {
        *out = NAN;
        return true;
    }
    char buf[64];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == ' ' || buf[0] == '\t')
        return false;
    char *e;
    *out = strtod(buf, &e);
    return e != buf && *e == '\0';
}

int rp__monitor_reference_read(const char *path, const rp__monitor_spec *want, rp__monitor_sample *s,
                               rp__monitor_spec *spec_out, rp_error *err)
{
    memset(s, 0, sizeof *s);
    unsigned char *data = NULL;
    size_t len = 0;
    if (rp__file_read(path, REFERENCE_MAX_BYTES, &data, &len, err) < 0)
        return -1;
    const char *p = (const char *)data, *end = p + len;
    rp__monitor_spec file;
    memset(&file, 0, sizeof file);
    int rc = -1;
    /* the header */
    const char *eol = memchr(p, '\n', len);
    if (!eol)
        eol = end;
    if (p == eol) {
        rp_error_set(err, RP_ERR_INVALID, "%s:1: no header line: not a reference file (%s)", path,
                     "num:NAME,cat:NAME,...");
        goto out;
    }
    for (const char *f = p; f <= eol;) {
        const char *comma = memchr(f, ',', (size_t)(eol - f));
        const char *fe = comma ? comma : eol;
        size_t fl = (size_t)(fe - f);
        if (fl && f[fl - 1] == '\r')
            fl--;
        if (file.n == RP_MONITOR_MAX_COLUMNS) {
            rp_error_set(err, RP_ERR_INVALID, "%s:1: more than %d columns", path, RP_MONITOR_MAX_COLUMNS);
            goto out;
        }
        if (!parse_header_field(f, fl, &file.col[file.n])) {
            rp_error_set(err, RP_ERR_INVALID,
                         "%s:1: header field \"%.*s\" is not KIND:NAME (num:trip_distance, cat:PULocationID)",
                         path, (int)(fl > 80 ? 80 : fl), f);
            goto out;
        }
        file.n++;
        f = fe + 1;
    }
    /* the columns wanted, in want's order */
    rp__monitor_spec w = want ? *want : file;
    int map[RP_MONITOR_MAX_COLUMNS]; /* file column -> sample column, or -1 */
    for (size_t k = 0; k < file.n; k++)
        map[k] = -1;
    for (size_t j = 0; j < w.n; j++) {
        int k = rp__monitor_spec_find(&file, w.col[j].name);
        if (k < 0) {
            rp_error_set(err, RP_ERR_INVALID,
                         "%s: the reference has no column %s (it has %zu columns; write one with the column: "
                         "ridepred monitor --write-reference)",
                         path, w.col[j].name, file.n);
            goto out;
        }
        if (file.col[k].kind != w.col[j].kind) {
            rp_error_set(err, RP_ERR_INVALID, "%s: column %s is %s:%s in the reference, %s:%s is wanted", path,
                         w.col[j].name, kind_prefix(file.col[k].kind), w.col[j].name,
                         kind_prefix(w.col[j].kind), w.col[j].name);
            goto out;
        }
        map[k] = (int)j;
    }
    /* the rows: count the lines first */
    size_t lines = 0;
    for (const char *q = eol < end ? eol + 1 : end; q < end;) {
        const char *n = memchr(q, '\n', (size_t)(end - q));
        lines++;
        q = n ? n + 1 : end;
    }
    if (rp__monitor_sample_init(s, w.n, lines, err) < 0)
        goto out;
    size_t line = 1;
    for (const char *q = eol < end ? eol + 1 : end; q < end;) {
        const char *le = memchr(q, '\n', (size_t)(end - q));
        if (!le)
            le = end;
        line++;
        size_t ll = (size_t)(le - q);
        if (ll && q[ll - 1] == '\r')
            ll--;
        if (ll == 0 && file.n > 1) { /* a blank line */
            q = le + 1;
            continue;
        }
        size_t k = 0;
        const char *f = q, *lend = q + ll;
        for (;;) {
            const char *comma = memchr(f, ',', (size_t)(lend - f));
            const char *fe = comma ? comma : lend;
            if (k >= file.n) {
                rp_error_set(err, RP_ERR_INVALID, "%s:%zu: more fields than the header's %zu", path, line,
                             file.n);
                goto out;
            }
            double x = NAN;
            if (!parse_cell(f, (size_t)(fe - f), &x)) {
                rp_error_set(err, RP_ERR_INVALID, "%s:%zu: column %s: \"%.*s\" is not a number", path, line,
                             file.col[k].name, (int)((size_t)(fe - f) > 40 ? 40 : (size_t)(fe - f)), f);
                goto out;
            }
            if (map[k] >= 0)
                s->col[map[k]][s->n] = x;
            k++;
            if (!comma)
                break;
            f = comma + 1;
        }
        if (k != file.n) {
            rp_error_set(err, RP_ERR_INVALID, "%s:%zu: %zu fields, the header has %zu", path, line, k, file.n);
            goto out;
        }
        s->n++;
        q = le + 1;
    }
    if (spec_out)
        *spec_out = file;
    rc = 0;
out:
    free(data);
    if (rc < 0)
        rp__monitor_sample_free(s);
    return rc;
}
