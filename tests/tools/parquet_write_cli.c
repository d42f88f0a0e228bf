/* parquet_write_cli: writes Parquet files with ridepred's writer
 * (src/data/parquet_write.h) for tests/integration/test_parquet_write.py,
 * which reads them with independent readers (test tooling, not a command
 * of ridepred).
 *
 *   parquet_write_cli OUTDIR
 *
 * Writes into OUTDIR: every codec (SNAPPY, ZSTD, GZIP, UNCOMPRESSED) times
 * every dictionary setting (auto, always, never) over 14 columns of every
 * kind and null pattern in 4 row groups of several pages; the columns the
 * score command writes (3,000 rows, default options); row groups bounded
 * by bytes; a file of 0 rows.  OUTDIR/manifest.json lists them with what
 * was put:
 *   [{"file": F, "codec": "SNAPPY", "dictionary": "auto", "row_group_rows": N | null,
 *     "row_group_bytes": N | null, "rows": N,
 *     "columns": [{"name": C, "kind": "string|int32|int64|double|timestamp",
 *                  "unit": "MILLIS|MICROS|NANOS" | null, "utc": B, "optional": B,
 *                  "values": [...]}]}]
 * Values: integers (timestamps in their unit) as JSON numbers, doubles as
 * "0x" and their 16 hex digits of IEEE bits, strings as JSON strings, nulls
 * as null.  Exit status 0, 1 when a file cannot be written (the message on
 * stderr), 2 on a usage error. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/parquet_write.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef enum nulls {
    REQUIRED,
    NONE,
    ALL,
    MIXED
} nulls;

typedef enum pattern {
    RANDOM,
    FEW,
    EDGES,
    SEQUENCE, /* ride ids, times a second apart */
    CONSTANT,
} pattern;

typedef struct col {
    const char *name;
    rp__pqw_kind kind;
    rp__pq_time_unit unit;
    bool utc;
    nulls nulls;
    pattern pat;
    /* values */
    uint8_t *valid;
    int64_t *i64;
    int32_t *i32;
    double *f64;
    uint8_t *data;
    uint64_t *off;
} col;

static const char *const WORDS[] = {"",          "a", "é",         "€uro",    "🚕 taxi",
                                    "Manhattan", "z", "tab\there", "quote\"", "日本"};
#define NWORDS (sizeof WORDS / sizeof WORDS[0])

static void fill(col *c, size_t n)
{
    c->valid = calloc(n + 1, 1);
    c->i64 = calloc(n + 1, 8);
    c->i32 = calloc(n + 1, 4);
    c->f64 = calloc(n + 1, 8);
    c->off = calloc(n + 1, 8);
    c->data = malloc(n * 48 + 1);
    if (!c->valid || !c->i64 || !c->i32 || !c->f64 || !c->off || !c->data) {
        fprintf(stderr, "parquet_write_cli: out of memory\n");
        exit(1);
    }
    static const int64_t e64[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
    static const int32_t e32[] = {INT32_MIN, INT32_MAX, 0, -1, 1};
    static const double ed[] = {0.0, -0.0, 1.5, -2.25, 1e308, -1e-308, 5e-324, INFINITY, -INFINITY, NAN};
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        bool v = c->nulls == REQUIRED || c->nulls == NONE || (c->nulls == MIXED && r % 3);
        c->valid[i] = v;
        r = rnd();
        size_t len = 0;
        switch (c->pat) {
        case RANDOM:
            c->i32[i] = (int32_t)(uint32_t)r;
            c->i64[i] = (int64_t)r;
            /* times in 2000-2030 in the column's unit; other int64 any */
            if (c->kind == RP_PQW_TIMESTAMP) {
                int64_t us = 946684800000000 + (int64_t)(r % 946684800000000);
                c->i64[i] = c->unit == RP_PQ_MILLIS ? us / 1000 : c->unit == RP_PQ_NANOS ? us * 1000 + 7 : us;
            }
            c->f64[i] = (double)(int64_t)(r >> 11) / 1024.0 - 4e12;
            len = (size_t)snprintf((char *)c->data + at, 48, "%s-%" PRIu64, WORDS[r % NWORDS], r >> 24);
            break;
        case FEW:
            c->i32[i] = (int32_t)(r % 5) - 2;
            c->i64[i] = (int64_t)(r % 4) * 1000000007;
            c->f64[i] = (double)(r % 3) / 4;
            len = strlen(WORDS[r % NWORDS]);
            memcpy(c->data + at, WORDS[r % NWORDS], len);
            break;
        case EDGES:
            c->i32[i] = e32[r % 5];
            c->i64[i] = e64[r % 7];
            c->f64[i] = ed[r % 10];
            break;
        case SEQUENCE:
            c->i64[i] = 1612137600000000 + (int64_t)i * 1000000 + (int64_t)(r % 1000000);
            len = (size_t)snprintf((char *)c->data + at, 48, "2021/02_%zu", i);
            break;
        case CONSTANT:
            len = strlen("m-7f3c9a");
            memcpy(c->data + at, "m-7f3c9a", len);
            break;
        }
        if (!v) {
            c->i32[i] = 0;
            c->i64[i] = 0;
            c->f64[i] = 0;
            len = 0;
        }
        at += len;
        c->off[i + 1] = at;
    }
}

static void col_free(col *c)
{
    free(c->valid);
    free(c->i64);
    free(c->i32);
    free(c->f64);
    free(c->data);
    free(c->off);
}

static const char *kind_name(rp__pqw_kind k)
{
    static const char *const names[] = {"string", "int32", "int64", "double", "timestamp"};
    return names[k];
}

static void json_string(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

typedef struct file_spec {
    const char *file;
    rp__pqw_codec codec;
    rp__pqw_dict dict;
    const char *dict_name;
    size_t row_group_rows, row_group_bytes, page_bytes;
    size_t rows;
} file_spec;

static const char *codec_name(rp__pqw_codec c)
{
    switch (c) {
    case RP_PQW_SNAPPY: return "SNAPPY";
    case RP_PQW_ZSTD: return "ZSTD";
    case RP_PQW_GZIP: return "GZIP";
    default: return "UNCOMPRESSED";
    }
}

static int write_file(const char *dir, const file_spec *fs, col *cols, size_t nc, FILE *manifest, bool first)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, fs->file);
    rp__pqw_column spec[32];
    for (size_t i = 0; i < nc; i++) {
        fill(&cols[i], fs->rows);
        spec[i] = (rp__pqw_column){.name = cols[i].name,
                                   .kind = cols[i].kind,
                                   .optional = cols[i].nulls != REQUIRED,
                                   .unit = cols[i].unit,
                                   .utc_adjusted = cols[i].utc,
                                   .dictionary = fs->dict};
    }
    rp__pqw_options opt = {.codec = fs->codec,
                           .row_group_rows = fs->row_group_rows,
                           .row_group_bytes = fs->row_group_bytes,
                           .page_bytes = fs->page_bytes};
    rp__pqw *w;
    rp_error err;
    if (rp__pqw_open_path(path, spec, nc, &opt, &w, &err) < 0)
        goto fail;
    /* batches of 111 rows, column by column */
    for (size_t a = 0; a < fs->rows; a += 111) {
        size_t b = a + 111 < fs->rows ? a + 111 : fs->rows;
        for (size_t i = 0; i < nc; i++) {
            col *c = &cols[i];
            const uint8_t *valid = c->nulls == REQUIRED ? NULL : c->valid + a;
            int rc;
            switch (c->kind) {
            case RP_PQW_STRING: rc = rp__pqw_put_bytes(w, i, c->data, c->off + a, valid, b - a, &err); break;
            case RP_PQW_INT32: rc = rp__pqw_put_i32(w, i, c->i32 + a, valid, b - a, &err); break;
            case RP_PQW_DOUBLE: rc = rp__pqw_put_double(w, i, c->f64 + a, valid, b - a, &err); break;
            default: rc = rp__pqw_put_i64(w, i, c->i64 + a, valid, b - a, &err); break;
            }
            if (rc < 0) {
                rp__pqw_abort(w);
                goto fail;
            }
        }
    }
    if (rp__pqw_close(w, &err) < 0)
        goto fail;
    fprintf(manifest, "%s\n {\"file\": ", first ? "" : ",");
    json_string(manifest, (const uint8_t *)fs->file, strlen(fs->file));
    fprintf(manifest,
            ", \"codec\": \"%s\", \"dictionary\": \"%s\", \"row_group_rows\": ", codec_name(fs->codec),
            fs->dict_name);
    if (fs->row_group_rows)
        fprintf(manifest, "%zu", fs->row_group_rows);
    else
        fputs("null", manifest);
    fputs(", \"row_group_bytes\": ", manifest);
    if (fs->row_group_bytes)
        fprintf(manifest, "%zu", fs->row_group_bytes);
    else
        fputs("null", manifest);
    fprintf(manifest, ", \"rows\": %zu, \"columns\": [", fs->rows);
    for (size_t i = 0; i < nc; i++) {
        col *c = &cols[i];
        static const char *const units[] = {"null", "\"MILLIS\"", "\"MICROS\"", "\"NANOS\""};
        fprintf(
            manifest,
            "%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"unit\": %s, \"utc\": %s, \"optional\": %s, \"values\": [",
            i ? "," : "", c->name, kind_name(c->kind),
            c->kind == RP_PQW_TIMESTAMP ? units[c->unit ? c->unit : RP_PQ_MICROS] : "null",
            c->utc ? "true" : "false", c->nulls != REQUIRED ? "true" : "false");
        for (size_t r = 0; r < fs->rows; r++) {
            if (r)
                fputs(", ", manifest);
            if (!c->valid[r]) {
                fputs("null", manifest);
                continue;
            }
            switch (c->kind) {
            case RP_PQW_STRING:
                json_string(manifest, c->data + c->off[r], (size_t)(c->off[r + 1] - c->off[r]));
                break;
            case RP_PQW_INT32: fprintf(manifest, "%" PRId32, c->i32[r]); break;
            case RP_PQW_DOUBLE: {
                uint64_t bits;
                memcpy(&bits, &c->f64[r], 8);
                fprintf(manifest, "\"0x%016" PRIx64 "\"", bits);
                break;
            }
            default: fprintf(manifest, "%" PRId64, c->i64[r]); break;
            }
        }
        fputs("]}", manifest);
    }
    fputs("]}", manifest);
    for (size_t i = 0; i < nc; i++)
        col_free(&cols[i]);
    return 0;
fail:
    fprintf(stderr, "parquet_write_cli: %s\n", err.msg);
    for (size_t i = 0; i < nc; i++)
        col_free(&cols[i]);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: parquet_write_cli OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    FILE *manifest = fopen(mpath, "w");
    if (!manifest) {
        perror(mpath);
        return 1;
    }
    fputc('[', manifest);
    bool first = true;
    static const rp__pqw_codec codecs[] = {RP_PQW_SNAPPY, RP_PQW_ZSTD, RP_PQW_GZIP, RP_PQW_UNCOMPRESSED};
    static const rp__pqw_dict dicts[] = {RP_PQW_DICT_AUTO, RP_PQW_DICT_ALWAYS, RP_PQW_DICT_NEVER};
    static const char *const dict_names[] = {"auto", "always", "never"};
    for (size_t ci = 0; ci < 4; ci++) {
        for (size_t di = 0; di < 3; di++) {
            col cols[] = {
                {.name = "s_few",
                 .kind = RP_PQW_STRING,
                 .unit = 0,
                 .utc = false,
                 .nulls = REQUIRED,
                 .pat = FEW},
                {.name = "s_mixed",
                 .kind = RP_PQW_STRING,
                 .unit = 0,
                 .utc = false,
                 .nulls = MIXED,
                 .pat = RANDOM},
                {.name = "s_all_null",
                 .kind = RP_PQW_STRING,
                 .unit = 0,
                 .utc = false,
                 .nulls = ALL,
                 .pat = FEW},
                {.name = "i32",
                 .kind = RP_PQW_INT32,
                 .unit = 0,
                 .utc = false,
                 .nulls = REQUIRED,
                 .pat = RANDOM},
                {.name = "i32_few_mixed",
                 .kind = RP_PQW_INT32,
                 .unit = 0,
                 .utc = false,
                 .nulls = MIXED,
                 .pat = FEW},
                {.name = "i64_edges",
                 .kind = RP_PQW_INT64,
                 .unit = 0,
                 .utc = false,
                 .nulls = REQUIRED,
                 .pat = EDGES},
                {.name = "i64_none_null",
                 .kind = RP_PQW_INT64,
                 .unit = 0,
                 .utc = false,
                 .nulls = NONE,
                 .pat = RANDOM},
                {.name = "i64_all_null",
                 .kind = RP_PQW_INT64,
                 .unit = 0,
                 .utc = false,
                 .nulls = ALL,
                 .pat = RANDOM},
                {.name = "f64",
                 .kind = RP_PQW_DOUBLE,
                 .unit = 0,
                 .utc = false,
                 .nulls = REQUIRED,
                 .pat = RANDOM},
                {.name = "f64_edges",
                 .kind = RP_PQW_DOUBLE,
                 .unit = 0,
                 .utc = false,
                 .nulls = MIXED,
                 .pat = EDGES},
                {.name = "ts_ms",
                 .kind = RP_PQW_TIMESTAMP,
                 .unit = RP_PQ_MILLIS,
                 .utc = false,
                 .nulls = MIXED,
                 .pat = RANDOM},
                {.name = "ts_us",
                 .kind = RP_PQW_TIMESTAMP,
                 .unit = RP_PQ_MICROS,
                 .utc = false,
                 .nulls = REQUIRED,
                 .pat = RANDOM},
                {.name = "ts_ns_utc",
                 .kind = RP_PQW_TIMESTAMP,
                 .unit = RP_PQ_NANOS,
                 .utc = true,
                 .nulls = NONE,
                 .pat = RANDOM},
                {.name = "f64_few", .kind = RP_PQW_DOUBLE, .unit = 0, .utc = false, .nulls = NONE, .pat = FEW},
            };
            char name[64];
            snprintf(name, sizeof name, "%s-%s.parquet", codec_name(codecs[ci]), dict_names[di]);
            file_spec fs = {name, codecs[ci], dicts[di], dict_names[di], 300, 0, 2000, 1000};
            if (write_file(dir, &fs, cols, sizeof cols / sizeof cols[0], manifest, first) < 0)
                return 1;
            first = false;
        }
    }
    col score[] = {
        {.name = "ride_id", .kind = RP_PQW_STRING, .unit = 0, .utc = false, .nulls = REQUIRED, .pat = SEQUENCE},
        {.name = "lpep_pickup_datetime",
         .kind = RP_PQW_TIMESTAMP,
         .unit = RP_PQ_MICROS,
         .utc = false,
         .nulls = NONE,
         .pat = SEQUENCE},
        {.name = "PULocationID", .kind = RP_PQW_INT64, .unit = 0, .utc = false, .nulls = NONE, .pat = FEW},
        {.name = "DOLocationID", .kind = RP_PQW_INT64, .unit = 0, .utc = false, .nulls = MIXED, .pat = FEW},
        {.name = "actual_duration",
         .kind = RP_PQW_DOUBLE,
         .unit = 0,
         .utc = false,
         .nulls = REQUIRED,
         .pat = RANDOM},
        {.name = "predicted_duration",
         .kind = RP_PQW_DOUBLE,
         .unit = 0,
         .utc = false,
         .nulls = REQUIRED,
         .pat = RANDOM},
        {.name = "diff", .kind = RP_PQW_DOUBLE, .unit = 0, .utc = false, .nulls = REQUIRED, .pat = FEW},
        {.name = "model_version",
         .kind = RP_PQW_STRING,
         .unit = 0,
         .utc = false,
         .nulls = REQUIRED,
         .pat = CONSTANT},
    };
    file_spec fs = {"score.parquet", RP_PQW_SNAPPY, RP_PQW_DICT_AUTO, "auto", 0, 0, 0, 3000};
    if (write_file(dir, &fs, score, sizeof score / sizeof score[0], manifest, first) < 0)
        return 1;
    col bytes[] = {
        {.name = "s", .kind = RP_PQW_STRING, .unit = 0, .utc = false, .nulls = MIXED, .pat = RANDOM},
        {.name = "x", .kind = RP_PQW_INT64, .unit = 0, .utc = false, .nulls = REQUIRED, .pat = RANDOM}};
    fs = (file_spec){"bytes.parquet", RP_PQW_ZSTD, RP_PQW_DICT_AUTO, "auto", 0, 4096, 0, 1000};
    if (write_file(dir, &fs, bytes, 2, manifest, false) < 0)
        return 1;
    col empty[] = {
        {.name = "s", .kind = RP_PQW_STRING, .unit = 0, .utc = false, .nulls = MIXED, .pat = RANDOM},
        {.name = "t",
         .kind = RP_PQW_TIMESTAMP,
         .unit = RP_PQ_MICROS,
         .utc = false,
         .nulls = REQUIRED,
         .pat = RANDOM},
        {.name = "d", .kind = RP_PQW_DOUBLE, .unit = 0, .utc = false, .nulls = MIXED, .pat = RANDOM}};
    fs = (file_spec){"empty.parquet", RP_PQW_SNAPPY, RP_PQW_DICT_AUTO, "auto", 0, 0, 0, 0};
    if (write_file(dir, &fs, empty, 3, manifest, false) < 0)
        return 1;
    fputs("\n]\n", manifest);
    if (fclose(manifest) != 0) {
        perror(mpath);
        return 1;
    }
    return 0;
}
