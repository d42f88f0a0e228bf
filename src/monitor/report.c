/* See report.h. */
#include "monitor/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/pyjson.h"

/* H. Hinnant's civil_from_days. */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void rp__monitor_time_iso(int64_t us, char out[RP_MONITOR_TIME_MAX])
{
    int64_t s = us / 1000000 - (us % 1000000 < 0);
    int64_t days = s / 86400 - (s % 86400 < 0);
    int64_t sod = s - days * 86400;
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(out, RP_MONITOR_TIME_MAX, "out-of-range");
        return;
    }
    unsigned hh = (unsigned)(sod / 3600) % 24, mm = (unsigned)(sod / 60 % 60), ss = (unsigned)(sod % 60);
    unsigned frac = (unsigned)(us - s * 1000000); /* 0 .. 999999 */
    if (frac)
        snprintf(out, RP_MONITOR_TIME_MAX, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", (unsigned)y % 10000,
                 m % 100, d % 100, hh, mm, ss, frac % 1000000);
    else
        snprintf(out, RP_MONITOR_TIME_MAX, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000, m % 100,
                 d % 100, hh, mm, ss);
}

void rp__monitor_json_number(rp__buf *b, double x)
{
    if (isfinite(x))
        rp__pyjson_double(b, x);
    else
        rp__buf_lit(b, "null");
}

void rp__monitor_window_json(rp__buf *b, const rp__monitor_spec *spec, int64_t start_us, int64_t end_us,
                             const rp__monitor_result *r)
{
    char s[RP_MONITOR_TIME_MAX], e[RP_MONITOR_TIME_MAX];
    rp__monitor_time_iso(start_us, s);
    rp__monitor_time_iso(end_us, e);
    rp__buf_printf(b, "{\"start\": \"%s\", \"end\": \"%s\", \"rides\": %zu, \"prediction_drift\": ", s, e,
                   r->rides);
    rp__monitor_json_number(b, r->prediction_drift);
    rp__buf_printf(b,
                   ", \"prediction_drifted\": %s, \"num_drifted_columns\": %zu, \"share_drifted_columns\": ",
                   r->prediction_drifted ? "true" : "false", r->num_drifted_columns);
    rp__monitor_json_number(b, r->share_drifted_columns);
    rp__buf_printf(
        b, ", \"dataset_drift\": %s, \"share_missing_values\": ", r->dataset_drift ? "true" : "false");
    rp__monitor_json_number(b, r->share_missing_values);
    rp__buf_lit(b, ", \"columns\": {");
    for (size_t j = 0; j < r->ncols && j < spec->n; j++) {
        const rp__monitor_column_result *c = &r->col[j];
        if (j)
            rp__buf_lit(b, ", ");
        rp__pyjson_utf8(b, spec->col[j].name, strlen(spec->col[j].name));
        rp__buf_lit(b, ": {\"test\": ");
        if (c->status == RP_MONITOR_COLUMN_OK)
            rp__buf_printf(b, "\"%s\"", rp__drift_test_name(c->drift.test));
        else
            rp__buf_lit(b, "null");
        rp__buf_lit(b, ", \"score\": ");
        rp__monitor_json_number(b, c->status == RP_MONITOR_COLUMN_OK ? c->drift.score : NAN);
        rp__buf_printf(b, ", \"drifted\": %s, \"missing\": %zu}",
                       c->status == RP_MONITOR_COLUMN_OK && c->drift.drifted ? "true" : "false", c->missing);
    }
    rp__buf_lit(b, "}}");
}
