/* parquet_dump: prints what ridepred's Parquet and trip readers see, for the
 * parity tests (test tooling, not a command of ridepred).
 *
 *   parquet_dump FILE --schema
 *       one JSON object per column: name, type, logical, unit, bits, signed,
 *       optional, nested; then {"rows": N, "row_groups": G}
 *   parquet_dump FILE [--columns A,B,...] [--limit N] [--format jsonl|csv]
 *       the columns (default: all), one JSON array (or CSV line) per row;
 *       nulls are null (CSV: empty); strings as JSON strings; other byte
 *       arrays, FIXED_LEN_BYTE_ARRAY and INT96 as "hex:..."; doubles in
 *       Python's repr (NaN, Infinity, -Infinity in JSON)
 *   parquet_dump FILE --trips [--limit N]
 *       rp__trips_read (Parquet or CSV): [pickup_us, dropoff_us, PU, DO,
 *       trip_distance] per row, as tests/tools/rides.mjs prints them
 *
 * Exit status 0, 1 when the file is refused (the message on stderr), 2 on
 * a usage error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pyfloat.h"
#include "data/parquet.h"
#include "data/trips.h"

static void usage(void)
{
    fprintf(
        stderr,
        "usage: parquet_dump FILE [--schema | --trips | --columns A,B] [--limit N] [--format jsonl|csv]\n");
    exit(2);
}

static void put_double(double d, bool json)
{
    if (isnan(d)) {
        fputs(json ? "NaN" : "nan", stdout);
    } else if (isinf(d)) {
        fputs(d > 0 ? (json ? "Infinity" : "inf") : (json ? "-Infinity" : "-inf"), stdout);
    } else {
        char b[RP_PYFLOAT_MAX];
        size_t n = rp__pyfloat_repr(d, b);
        fwrite(b, 1, n, stdout);
    }
}

static void put_json_string(const uint8_t *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_csv_string(const uint8_t *s, size_t n)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putchar('"');
        putchar(s[i]);
    }
    putchar('"');
}

static void put_value(const rp__parquet_column *c, const rp__parquet_values *v, size_t i, bool json)
{
    if (v->valid && !v->valid[i]) {
        if (json)
            fputs("null", stdout);
        return;
    }
    bool uns = c->logical == RP_PQ_LOGICAL_INT && !c->int_signed;
    switch (v->type) {
    case RP_PQ_BOOLEAN: fputs(v->v.b[i] ? "true" : "false", stdout); break;
    case RP_PQ_INT32:
        if (uns)
            printf("%u", (unsigned)(uint32_t)v->v.i32[i]);
        else
            printf("%d", v->v.i32[i]);
        break;
    case RP_PQ_INT64:
        if (uns)
            printf("%llu", (unsigned long long)(uint64_t)v->v.i64[i]);
        else
            printf("%lld", (long long)v->v.i64[i]);
        break;
    case RP_PQ_FLOAT: put_double(v->v.f32[i], json); break;
    case RP_PQ_DOUBLE: put_double(v->v.f64[i], json); break;
    default: {
        const uint8_t *s = v->data + v->off[i];
        size_t n = (size_t)(v->off[i + 1] - v->off[i]);
        if (v->type == RP_PQ_BYTE_ARRAY && c->logical == RP_PQ_LOGICAL_STRING) {
            if (json)
                put_json_string(s, n);
            else
                put_csv_string(s, n);
        } else {
            fputs(json ? "\"hex:" : "hex:", stdout);
            for (size_t k = 0; k < n; k++)
                printf("%02x", s[k]);
            if (json)
                putchar('"');
        }
    }
    }
}

static const char *logical_name(const rp__parquet_column *c)
{
    static const char *const names[] = {"NONE", "STRING", "TIMESTAMP", "INT", "DATE", "DECIMAL", "OTHER"};
    return names[c->logical];
}

static int schema(rp__parquet *p)
{
    static const char *const units[] = {"", "MILLIS", "MICROS", "NANOS"};
    for (size_t i = 0; i < rp__parquet_num_columns(p); i++) {
        const rp__parquet_column *c = rp__parquet_column_at(p, i);
        printf("{\"name\": ");
        put_json_string((const uint8_t *)c->name, strlen(c->name));
        printf(", \"type\": \"%s\", \"logical\": \"%s\", \"unit\": \"%s\", \"utc\": %s, \"bits\": %d, "
               "\"signed\": %s, \"optional\": %s, \"nested\": %s}\n",
               rp__parquet_type_name(c->type), logical_name(c), units[c->time_unit],
               c->utc_adjusted ? "true" : "false", c->int_bits, c->int_signed ? "true" : "false",
               c->optional ? "true" : "false", c->nested ? "true" : "false");
    }
    printf("{\"rows\": %lld, \"row_groups\": %zu}\n", (long long)rp__parquet_num_rows(p),
           rp__parquet_num_row_groups(p));
    return 0;
}

static int trips(const char *path, size_t limit)
{
    rp__trips t;
    rp_error err;
    if (rp__trips_read(path, limit, &t, &err) < 0) {
        fprintf(stderr, "parquet_dump: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < t.n; i++) {
        putchar('[');
        if (t.pickup_us[i] == RP_TRIPS_NULL_TIME)
            fputs("null", stdout);
        else
            printf("%lld", (long long)t.pickup_us[i]);
        fputs(", ", stdout);
        if (t.dropoff_us[i] == RP_TRIPS_NULL_TIME)
            fputs("null", stdout);
        else
            printf("%lld", (long long)t.dropoff_us[i]);
        fputs(", ", stdout);
        if (t.pu[i] == RP_TRIPS_NULL_ID)
            fputs("null", stdout);
        else
            printf("%d", t.pu[i]);
        fputs(", ", stdout);
        if (t.dor[i] == RP_TRIPS_NULL_ID)
            fputs("null", stdout);
        else
            printf("%d", t.dor[i]);
        fputs(", ", stdout);
        if (isnan(t.distance[i]))
            fputs("null", stdout);
        else
            put_double(t.distance[i], true);
        fputs("]\n", stdout);
    }
    rp__trips_free(&t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *columns = NULL, *format = "jsonl";
    bool want_schema = false, want_trips = false;
    size_t limit = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--schema") == 0)
            want_schema = true;
        else if (strcmp(argv[i], "--trips") == 0)
            want_trips = true;
        else if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc)
            columns = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] == '-' || path)
            usage();
        else
            path = argv[i];
    }
    bool json = strcmp(format, "jsonl") == 0;
    if (!path || (!json && strcmp(format, "csv") != 0))
        usage();
    if (want_trips)
        return trips(path, limit);
    rp__parquet *p;
    rp_error err;
    if (rp__parquet_open(path, &p, &err) < 0) {
        fprintf(stderr, "parquet_dump: %s\n", err.msg);
        return 1;
    }
    if (want_schema) {
        schema(p);
        rp__parquet_close(p);
        return 0;
    }
    size_t ncols = rp__parquet_num_columns(p), n = 0;
    size_t *idx = calloc(ncols ? ncols : 1, sizeof *idx);
    if (columns) {
        char *list = strdup(columns), *save = NULL;
        for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            int c = rp__parquet_find_column(p, name);
            if (c < 0 || n >= ncols) {
                fprintf(stderr, "parquet_dump: %s: no column %s\n", path, name);
                free(list);
                free(idx);
                rp__parquet_close(p);
                return 1;
            }
            idx[n++] = (size_t)c;
        }
        free(list);
    } else {
        for (; n < ncols; n++)
            idx[n] = n;
    }
    rp__parquet_values *v = calloc(n ? n : 1, sizeof *v);
    int rc = 0;
    for (size_t k = 0; k < n; k++)
        if (rp__parquet_read_column(p, idx[k], limit, &v[k], &err) < 0) {
            fprintf(stderr, "parquet_dump: %s\n", err.msg);
            rc = 1;
            goto out;
        }
    if (!json)
        for (size_t k = 0; k < n; k++) {
            const char *name = rp__parquet_column_at(p, idx[k])->name;
            if (k)
                putchar(',');
            put_csv_string((const uint8_t *)name, strlen(name));
        }
    if (!json)
        putchar('\n');
    size_t rows = n ? v[0].n : 0;
    for (size_t i = 0; i < rows; i++) {
        if (json)
            putchar('[');
        for (size_t k = 0; k < n; k++) {
            if (k)
                fputs(json ? ", " : ",", stdout);
            put_value(rp__parquet_column_at(p, idx[k]), &v[k], i, json);
        }
        fputs(json ? "]\n" : "\n", stdout);
    }
out:
    for (size_t k = 0; k < n; k++)
        rp__parquet_values_free(&v[k]);
    free(v);
    free(idx);
    rp__parquet_close(p);
    return rc;
}
