/* The Parquet writer (src/data/parquet_write.c), read back by ridepred's
 * own reader: every column kind, every codec, nulls (none, all, mixed),
 * empty files, row groups bounded by rows and by bytes, dictionary and
 * PLAIN (chosen and forced), statistics in the format's orders (NaN, -0.0,
 * INT64 extremes, strings as unsigned bytes), multi-byte UTF-8 and empty
 * strings; the Thrift encoder and the RLE / bit-packed encoder against
 * their decoders; errors: an unwritable path, a sink or a file that fails
 * half way (no file left), misuse.  Independent readers (hyparquet,
 * parquet-wasm) are in tests/integration/test_parquet_write.py. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "common/buf.h"
#include "data/parquet.h"
#include "data/parquet_write.h"
#include "data/thrift.h"
#include "testing.h"

static uint64_t rng = 88172645463325252u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- a table of test values ------------------------------------------------------ */

typedef enum nulls {
    NULLS_REQUIRED,
    NULLS_NONE, /* optional, no null */
    NULLS_ALL,
    NULLS_MIXED
} nulls;

typedef enum pattern {
    PAT_RANDOM,
    PAT_FEW, /* a handful of distinct values */
    PAT_EDGES,
} pattern;

typedef struct tcol {
    rp__pqw_column spec;
    nulls nulls;
    pattern pat;
    size_t n;
    uint8_t *valid;
    int32_t *i32;
    int64_t *i64;
    double *f64;
    uint8_t *data;
    uint64_t *off;
} tcol;

static const char *const WORDS[] = {"", "a", "é", "€uro", "🚕 taxi", "Manhattan", "z", "a\tb"};

static void fill(tcol *c, size_t n)
{
    c->n = n;
    c->valid = calloc(n + 1, 1);
    c->i32 = calloc(n + 1, 4);
    c->i64 = calloc(n + 1, 8);
    c->f64 = calloc(n + 1, 8);
    c->off = calloc(n + 1, 8);
    c->data = malloc(n * 40 + 1);
    static const int64_t e64[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
    static const int32_t e32[] = {INT32_MIN, INT32_MAX, 0, -1, 1};
    static const double ed[] = {0.0, -0.0, 1.5, -2.25, 1e308, -1e-308, 5e-324, INFINITY, -INFINITY};
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        bool v =
            c->nulls == NULLS_REQUIRED || c->nulls == NULLS_NONE || (c->nulls == NULLS_MIXED && rnd() % 3);
        c->valid[i] = v;
        uint64_t r = rnd();
        switch (c->pat) {
        case PAT_RANDOM:
            c->i32[i] = (int32_t)(uint32_t)r;
            c->i64[i] = (int64_t)r;
            memcpy(&c->f64[i], &r, 8); /* any bits: NaNs with payloads too */
            break;
        case PAT_FEW:
            c->i32[i] = (int32_t)(r % 5) - 2;
            c->i64[i] = (int64_t)(r % 4) * 1000000007;
            c->f64[i] = (double)(r % 3) / 4;
            break;
        case PAT_EDGES:
            c->i32[i] = e32[r % 5];
            c->i64[i] = e64[r % 7];
            c->f64[i] = r % 10 == 9 ? NAN : ed[r % 9];
            break;
        }
        if (!v) { /* what the reader gives for a null */
            c->i32[i] = 0;
            c->i64[i] = 0;
            c->f64[i] = 0;
        }
        size_t len = 0;
        if (v) {
            if (c->pat == PAT_FEW) {
                const char *w = WORDS[r % 8];
                len = strlen(w);
                memcpy(c->data + at, w, len);
            } else { /* distinct-ish strings of words and random bytes */
                const char *w = WORDS[r % 8];
                len = (size_t)snprintf((char *)c->data + at, 40, "%s%llu", w, (unsigned long long)(r >> 20));
            }
        }
        at += len;
        c->off[i + 1] = at;
    }
}

static void tcol_free(tcol *c)
{
    free(c->valid);
    free(c->i32);
    free(c->i64);
    free(c->f64);
    free(c->data);
    free(c->off);
}

/* Puts rows [from, to) of column i of t. */
static int put_rows(rp__pqw *w, size_t i, const tcol *c, size_t from, size_t to, rp_error *err)
{
    const uint8_t *valid = c->nulls == NULLS_REQUIRED ? NULL : c->valid + from;
    size_t n = to - from;
    switch (c->spec.kind) {
    case RP_PQW_STRING: {
        /* the slice's offsets still index c->data */
        return rp__pqw_put_bytes(w, i, c->data, c->off + from, valid, n, err);
    }
    case RP_PQW_INT32: return rp__pqw_put_i32(w, i, c->i32 + from, valid, n, err);
    case RP_PQW_DOUBLE: return rp__pqw_put_double(w, i, c->f64 + from, valid, n, err);
    default: return rp__pqw_put_i64(w, i, c->i64 + from, valid, n, err);
    }
}

/* Writes the columns in batches of `batch` rows (column by column). */
static int write_table(rp__pqw *w, const tcol *cols, size_t ncols, size_t rows, size_t batch, rp_error *err)
{
    for (size_t a = 0; a < rows; a += batch) {
        size_t b = a + batch < rows ? a + batch : rows;
        for (size_t i = 0; i < ncols; i++)
            if (put_rows(w, i, &cols[i], a, b, err) < 0)
                return -1;
    }
    return 0;
}

static int write_mem(const tcol *cols, size_t ncols, size_t rows, size_t batch, const rp__pqw_options *opt,
                     rp__buf *out, rp_error *err)
{
    rp__pqw_column spec[32];
    for (size_t i = 0; i < ncols; i++) {
        spec[i] = cols[i].spec;
        spec[i].optional = cols[i].nulls != NULLS_REQUIRED;
    }
    rp__buf_init(out, (size_t)1 << 30);
    rp__pqw_sink sink = rp__pqw_buf_sink(out);
    rp__pqw *w;
    if (rp__pqw_open_sink(&sink, "mem.parquet", spec, ncols, opt, &w, err) < 0)
        return -1;
    if (write_table(w, cols, ncols, rows, batch, err) < 0) {
        rp__pqw_abort(w);
        return -1;
    }
    return rp__pqw_close(w, err);
}

/* Every value and null of column i equals c's; the schema is c's. */
static bool same_column(rp__parquet *p, size_t i, const tcol *c, const char *ctx)
{
    const rp__parquet_column *pc = rp__parquet_column_at(p, i);
    bool ok = pc && !strcmp(pc->name, c->spec.name) && pc->optional == (c->nulls != NULLS_REQUIRED);
    if (ok) {
        switch (c->spec.kind) {
        case RP_PQW_STRING: ok = pc->type == RP_PQ_BYTE_ARRAY && pc->logical == RP_PQ_LOGICAL_STRING; break;
        case RP_PQW_INT32: ok = pc->type == RP_PQ_INT32 && pc->logical == RP_PQ_LOGICAL_NONE; break;
        case RP_PQW_INT64: ok = pc->type == RP_PQ_INT64 && pc->logical == RP_PQ_LOGICAL_NONE; break;
        case RP_PQW_DOUBLE: ok = pc->type == RP_PQ_DOUBLE && pc->logical == RP_PQ_LOGICAL_NONE; break;
        case RP_PQW_TIMESTAMP:
            ok = pc->type == RP_PQ_INT64 && pc->logical == RP_PQ_LOGICAL_TIMESTAMP &&
                 pc->time_unit == (c->spec.unit ? c->spec.unit : RP_PQ_MICROS) &&
                 pc->utc_adjusted == c->spec.utc_adjusted;
            break;
        }
    }
    if (!ok) {
        fprintf(stderr, "%s: column %zu (%s): schema differs\n", ctx, i, c->spec.name);
        return false;
    }
    rp__parquet_values v;
    rp_error err;
    if (rp__parquet_read_column(p, i, 0, &v, &err) < 0) {
        fprintf(stderr, "%s: column %s: %s\n", ctx, c->spec.name, err.msg);
        return false;
    }
    ok = v.n == c->n;
    for (size_t r = 0; ok && r < c->n; r++) {
        bool valid = v.valid ? v.valid[r] : true;
        if (valid != (bool)c->valid[r]) {
            fprintf(stderr, "%s: column %s row %zu: null %d, want %d\n", ctx, c->spec.name, r, !valid,
                    !c->valid[r]);
            ok = false;
            break;
        }
        switch (c->spec.kind) {
        case RP_PQW_STRING: {
            size_t len = (size_t)(v.off[r + 1] - v.off[r]), want = (size_t)(c->off[r + 1] - c->off[r]);
            ok = len == want && (!len || !memcmp(v.data + v.off[r], c->data + c->off[r], len));
            break;
        }
        case RP_PQW_INT32: ok = v.v.i32[r] == c->i32[r]; break;
        case RP_PQW_DOUBLE: ok = !memcmp(&v.v.f64[r], &c->f64[r], 8); break; /* bits: -0.0, NaN payloads */
        default: ok = v.v.i64[r] == c->i64[r]; break;
        }
        if (!ok)
            fprintf(stderr, "%s: column %s row %zu differs\n", ctx, c->spec.name, r);
    }
    if (v.n != c->n)
        fprintf(stderr, "%s: column %s: %zu rows, want %zu\n", ctx, c->spec.name, v.n, c->n);
    rp__parquet_values_free(&v);
    return ok;
}

static bool uses_dict(rp__parquet *p, size_t g, size_t col)
{
    rp__parquet_chunk_info ci;
    rp__parquet_chunk_at(p, g, col, &ci);
    bool page = ci.dictionary_page_offset >= 0, listed = (ci.encodings >> 8) & 1;
    if (page != listed)
        fprintf(stderr, "row group %zu column %zu: dictionary page %d, RLE_DICTIONARY listed %d\n", g, col,
                page, listed);
    return page && listed;
}

/* Data pages of the chunk (row group g, column col): the page headers
 * walked from the first page (their types and compressed sizes). */
static int count_data_pages(const rp__buf *file, rp__parquet *p, size_t g, size_t col)
{
    rp__parquet_chunk_info ci;
    if (rp__parquet_chunk_at(p, g, col, &ci) < 0)
        return -1;
    int64_t pos = ci.dictionary_page_offset >= 0 ? ci.dictionary_page_offset : ci.data_page_offset;
    int64_t end = pos + ci.total_compressed_size;
    int pages = 0;
    while (pos < end) {
        rp__thrift t;
        rp_error err;
        rp__thrift_init(&t, file->data + pos, (size_t)(end - pos), "page header", &err);
        int16_t id;
        uint8_t ty;
        int32_t type = -1, csize = -1;
        if (rp__thrift_struct_begin(&t) < 0)
            return -1;
        while (rp__thrift_field(&t, &id, &ty) > 0) {
            if (id == 1)
                rp__thrift_i32(&t, ty, &type);
            else if (id == 3)
                rp__thrift_i32(&t, ty, &csize);
            else
                rp__thrift_skip(&t, ty);
        }
        if (t.failed || csize < 0)
            return -1;
        pages += type == 0;
        pos += (int64_t)rp__thrift_offset(&t) + csize;
    }
    return pos == end ? pages : -1;
}

/* ---- round trips ------------------------------------------------------------------ */

#define NCOLS 14
static void make_cols(tcol *c, size_t rows, rp__pqw_dict dict)
{
    memset(c, 0, NCOLS * sizeof *c);
    c[0] = (tcol){.spec = {.name = "s_few", .kind = RP_PQW_STRING}, .nulls = NULLS_REQUIRED, .pat = PAT_FEW};
    c[1] =
        (tcol){.spec = {.name = "s_mixed", .kind = RP_PQW_STRING}, .nulls = NULLS_MIXED, .pat = PAT_RANDOM};
    c[2] = (tcol){.spec = {.name = "s_all_null", .kind = RP_PQW_STRING}, .nulls = NULLS_ALL, .pat = PAT_FEW};
    c[3] = (tcol){.spec = {.name = "i32", .kind = RP_PQW_INT32}, .nulls = NULLS_REQUIRED, .pat = PAT_EDGES};
    c[4] =
        (tcol){.spec = {.name = "i32_few_mixed", .kind = RP_PQW_INT32}, .nulls = NULLS_MIXED, .pat = PAT_FEW};
    c[5] = (tcol){
        .spec = {.name = "i64_edges", .kind = RP_PQW_INT64}, .nulls = NULLS_REQUIRED, .pat = PAT_EDGES};
    c[6] = (tcol){
        .spec = {.name = "i64_none_null", .kind = RP_PQW_INT64}, .nulls = NULLS_NONE, .pat = PAT_RANDOM};
    c[7] =
        (tcol){.spec = {.name = "i64_all_null", .kind = RP_PQW_INT64}, .nulls = NULLS_ALL, .pat = PAT_RANDOM};
    c[8] = (tcol){
        .spec = {.name = "f64_bits", .kind = RP_PQW_DOUBLE}, .nulls = NULLS_REQUIRED, .pat = PAT_RANDOM};
    c[9] =
        (tcol){.spec = {.name = "f64_edges", .kind = RP_PQW_DOUBLE}, .nulls = NULLS_MIXED, .pat = PAT_EDGES};
    c[10] = (tcol){.spec = {.name = "ts_ms", .kind = RP_PQW_TIMESTAMP, .unit = RP_PQ_MILLIS},
                   .nulls = NULLS_MIXED,
                   .pat = PAT_RANDOM};
    c[11] =
        (tcol){.spec = {.name = "ts_us", .kind = RP_PQW_TIMESTAMP}, .nulls = NULLS_REQUIRED, .pat = PAT_FEW};
    c[12] = (tcol){
        .spec = {.name = "ts_ns_utc", .kind = RP_PQW_TIMESTAMP, .unit = RP_PQ_NANOS, .utc_adjusted = true},
        .nulls = NULLS_NONE,
        .pat = PAT_EDGES};
    c[13] = (tcol){.spec = {.name = "f64_few", .kind = RP_PQW_DOUBLE}, .nulls = NULLS_NONE, .pat = PAT_FEW};
    for (size_t i = 0; i < NCOLS; i++) {
        c[i].spec.dictionary = dict;
        fill(&c[i], rows);
    }
}

TEST(round_trip_every_kind_codec_and_encoding)
{
    static const rp__pqw_codec codecs[] = {RP_PQW_SNAPPY, RP_PQW_ZSTD, RP_PQW_GZIP, RP_PQW_UNCOMPRESSED};
    static const int codec_ids[] = {1, 6, 2, 0};
    static const rp__pqw_dict dicts[] = {RP_PQW_DICT_AUTO, RP_PQW_DICT_ALWAYS, RP_PQW_DICT_NEVER};
    const size_t rows = 1000;
    for (size_t ci = 0; ci < 4; ci++) {
        for (size_t di = 0; di < 3; di++) {
            char ctx[64];
            snprintf(ctx, sizeof ctx, "codec %zu dictionary %zu", ci, di);
            tcol cols[NCOLS];
            make_cols(cols, rows, dicts[di]);
            rp__pqw_options opt = {.codec = codecs[ci], .row_group_rows = 300, .page_bytes = 700};
            rp__buf out;
            rp_error err;
            int rc = write_mem(cols, NCOLS, rows, 137, &opt, &out, &err);
            CHECK(rc == 0);
            if (rc < 0)
                fprintf(stderr, "%s: %s\n", ctx, err.msg);
            rp__parquet *p = NULL;
            CHECK(rc == 0 && rp__parquet_open_mem(out.data, out.len, "mem", &p, &err) == 0);
            if (p) {
                CHECK(rp__parquet_num_rows(p) == (int64_t)rows);
                CHECK(rp__parquet_num_row_groups(p) == 4);
                CHECK(rp__parquet_num_columns(p) == NCOLS);
                CHECK(rp__parquet_row_group_rows(p, 0) == 300 && rp__parquet_row_group_rows(p, 3) == 100);
                for (size_t i = 0; i < NCOLS; i++)
                    CHECK(same_column(p, i, &cols[i], ctx));
                /* pages of about 700 bytes: 300 doubles in 4 pages (87 a page), 100 in 2 */
                CHECK(count_data_pages(&out, p, 0, 8) == 4);
                CHECK(count_data_pages(&out, p, 3, 8) == 2);
                size_t bad_codec = 0, bad_dict = 0;
                for (size_t g = 0; g < 4; g++) {
                    for (size_t i = 0; i < NCOLS; i++) {
                        rp__parquet_chunk_info info;
                        rp__parquet_chunk_at(p, g, i, &info);
                        bad_codec += info.codec != codec_ids[ci];
                        bool all_null = cols[i].nulls == NULLS_ALL;
                        bool want = dicts[di] == RP_PQW_DICT_ALWAYS ? !all_null
                                    : dicts[di] == RP_PQW_DICT_NEVER
                                        ? false
                                        : cols[i].pat != PAT_RANDOM && !all_null; /* AUTO: few values pay */
                        if (uses_dict(p, g, i) != want) {
                            fprintf(stderr, "%s: row group %zu column %s: dictionary %d, want %d\n", ctx, g,
                                    cols[i].spec.name, !want, want);
                            bad_dict++;
                        }
                    }
                }
                CHECK(bad_codec == 0);
                CHECK(bad_dict == 0);
                rp__parquet_close(p);
            }
            rp__buf_cleanup(&out);
            for (size_t i = 0; i < NCOLS; i++)
                tcol_free(&cols[i]);
        }
    }
}

TEST(empty_file)
{
    tcol cols[NCOLS];
    make_cols(cols, 0, RP_PQW_DICT_AUTO);
    rp__buf out;
    rp_error err;
    CHECK(write_mem(cols, NCOLS, 0, 1, NULL, &out, &err) == 0);
    rp__parquet *p = NULL;
    CHECK(rp__parquet_open_mem(out.data, out.len, "empty", &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_rows(p) == 0);
        CHECK(rp__parquet_num_row_groups(p) == 0);
        CHECK(rp__parquet_num_columns(p) == NCOLS);
        for (size_t i = 0; i < NCOLS; i++)
            CHECK(same_column(p, i, &cols[i], "empty"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    for (size_t i = 0; i < NCOLS; i++)
        tcol_free(&cols[i]);
}

TEST(row_groups_bounded)
{
    rp_error err;
    rp__buf out;
    /* by rows: 250 rows in batches of 37 -> 100, 100, 50 */
    tcol c[2] = {{.spec = {.name = "x", .kind = RP_PQW_INT64}, .nulls = NULLS_MIXED, .pat = PAT_RANDOM},
                 {.spec = {.name = "s", .kind = RP_PQW_STRING}, .nulls = NULLS_REQUIRED, .pat = PAT_RANDOM}};
    fill(&c[0], 250);
    fill(&c[1], 250);
    rp__pqw_options opt = {.row_group_rows = 100};
    CHECK(write_mem(c, 2, 250, 37, &opt, &out, &err) == 0);
    rp__parquet *p = NULL;
    CHECK(rp__parquet_open_mem(out.data, out.len, "rows", &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_row_groups(p) == 3);
        CHECK(rp__parquet_row_group_rows(p, 0) == 100 && rp__parquet_row_group_rows(p, 1) == 100 &&
              rp__parquet_row_group_rows(p, 2) == 50);
        CHECK(same_column(p, 0, &c[0], "rows") && same_column(p, 1, &c[1], "rows"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    /* the same rows put in one batch larger than a row group */
    CHECK(write_mem(c, 2, 250, 250, &opt, &out, &err) == 0);
    CHECK(rp__parquet_open_mem(out.data, out.len, "one batch", &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_row_groups(p) == 3 && rp__parquet_row_group_rows(p, 2) == 50);
        CHECK(same_column(p, 0, &c[0], "one batch") && same_column(p, 1, &c[1], "one batch"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    /* by bytes: int64 (8 bytes a row) and strings (4 + length): each row
     * group's values within 1,000 bytes, and the groups full */
    opt = (rp__pqw_options){.row_group_bytes = 1000};
    CHECK(write_mem(c, 2, 250, 250, &opt, &out, &err) == 0);
    CHECK(rp__parquet_open_mem(out.data, out.len, "bytes", &p, &err) == 0);
    if (p) {
        size_t ng = rp__parquet_num_row_groups(p), row = 0, over = 0, underfull = 0;
        for (size_t g = 0; g < ng; g++) {
            size_t k = (size_t)rp__parquet_row_group_rows(p, g), bytes = 8 * k + 4 * k;
            bytes += (size_t)(c[1].off[row + k] - c[1].off[row]);
            over += bytes > 1000;
            /* one more row would not have fitted */
            if (g + 1 < ng)
                underfull += bytes + 12 + (size_t)(c[1].off[row + k + 1] - c[1].off[row + k]) <= 1000;
            row += k;
        }
        CHECK(ng >= 4);
        CHECK(row == 250);
        CHECK(over == 0);
        CHECK(underfull == 0);
        CHECK(same_column(p, 0, &c[0], "bytes") && same_column(p, 1, &c[1], "bytes"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    tcol_free(&c[0]);
    tcol_free(&c[1]);
}

TEST(dictionary_choice)
{
    rp_error err;
    rp__buf out;
    rp__parquet *p = NULL;
    /* AUTO: few values -> dictionary; unique values -> PLAIN */
    tcol c[3] = {
        {.spec = {.name = "few", .kind = RP_PQW_INT64}, .nulls = NULLS_REQUIRED, .pat = PAT_FEW},
        {.spec = {.name = "unique", .kind = RP_PQW_INT64}, .nulls = NULLS_REQUIRED, .pat = PAT_RANDOM},
        {.spec = {.name = "few_s", .kind = RP_PQW_STRING}, .nulls = NULLS_MIXED, .pat = PAT_FEW}};
    for (int i = 0; i < 3; i++)
        fill(&c[i], 500);
    CHECK(write_mem(c, 3, 500, 500, NULL, &out, &err) == 0);
    CHECK(rp__parquet_open_mem(out.data, out.len, "auto", &p, &err) == 0);
    if (p) {
        CHECK(uses_dict(p, 0, 0));
        CHECK(!uses_dict(p, 0, 1));
        CHECK(uses_dict(p, 0, 2));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    /* AUTO past the limits: 4 distinct int64s with dict_max_values 3; 8
     * distinct words (34 bytes PLAIN) with dict_max_bytes 20 */
    rp__pqw_options opt = {.dict_max_values = 3, .dict_max_bytes = 20};
    CHECK(write_mem(c, 3, 500, 500, &opt, &out, &err) == 0);
    CHECK(rp__parquet_open_mem(out.data, out.len, "limits", &p, &err) == 0);
    if (p) {
        CHECK(!uses_dict(p, 0, 0));
        CHECK(!uses_dict(p, 0, 2));
        for (int i = 0; i < 3; i++)
            CHECK(same_column(p, (size_t)i, &c[i], "limits"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    /* forced: ALWAYS on unique values (and past the limits), NEVER on few */
    c[0].spec.dictionary = RP_PQW_DICT_NEVER;
    c[1].spec.dictionary = RP_PQW_DICT_ALWAYS;
    c[2].spec.dictionary = RP_PQW_DICT_ALWAYS;
    CHECK(write_mem(c, 3, 500, 500, &opt, &out, &err) == 0);
    CHECK(rp__parquet_open_mem(out.data, out.len, "forced", &p, &err) == 0);
    if (p) {
        CHECK(!uses_dict(p, 0, 0));
        CHECK(uses_dict(p, 0, 1));
        CHECK(uses_dict(p, 0, 2));
        for (int i = 0; i < 3; i++)
            CHECK(same_column(p, (size_t)i, &c[i], "forced"));
        rp__parquet_close(p);
    }
    rp__buf_cleanup(&out);
    for (int i = 0; i < 3; i++)
        tcol_free(&c[i]);
}

/* A dictionary-encoded string column whose last pages hold only nulls:
 * the reader left those rows' offsets at 0 (found by fuzz_parquet_write),
 * so that a null after a value had a length of about 2^64. */
TEST(dictionary_page_of_only_nulls)
{
    rp__pqw_column spec = {
        .name = "s", .kind = RP_PQW_STRING, .optional = true, .dictionary = RP_PQW_DICT_ALWAYS};
    const char *s[12] = {"ab", "cd", "ab", "cd", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    rp__pqw_sink sink = rp__pqw_buf_sink(&out);
    rp__pqw *w;
    rp_error err;
    /* pages of about 12 bytes: 2 rows each, the last four pages only nulls */
    CHECK(rp__pqw_open_sink(&sink, "nulls", &spec, 1, &(rp__pqw_options){.page_bytes = 12}, &w, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 0, s, 12, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == 0);
    rp__parquet *p = NULL;
    CHECK(rp__parquet_open_mem(out.data, out.len, "nulls", &p, &err) == 0);
    rp__parquet_values v;
    if (p && rp__parquet_read_column(p, 0, 0, &v, &err) == 0) {
        CHECK(uses_dict(p, 0, 0));
        CHECK(v.n == 12 && v.off[4] == 8);
        size_t bad = 0;
        for (size_t i = 4; i < 12; i++)
            bad += v.valid[i] || v.off[i + 1] != 8;
        CHECK(bad == 0);
        rp__parquet_values_free(&v);
    } else {
        CHECK(!"read back");
    }
    rp__parquet_close(p);
    rp__buf_cleanup(&out);
}

/* ---- statistics --------------------------------------------------------------------- */

static bool stat_is(const uint8_t *got, size_t got_len, const void *want, size_t want_len)
{
    return got && got_len == want_len && !memcmp(got, want, want_len);
}

TEST(statistics)
{
    rp__pqw_column spec[] = {
        {.name = "i32", .kind = RP_PQW_INT32, .optional = true},
        {.name = "i64", .kind = RP_PQW_INT64},
        {.name = "s", .kind = RP_PQW_STRING, .optional = true},
        {.name = "d_nan", .kind = RP_PQW_DOUBLE},
        {.name = "d_zero", .kind = RP_PQW_DOUBLE},
        {.name = "d_negzero", .kind = RP_PQW_DOUBLE},
        {.name = "d_all_nan", .kind = RP_PQW_DOUBLE},
        {.name = "all_null", .kind = RP_PQW_INT64, .optional = true},
        {.name = "ts", .kind = RP_PQW_TIMESTAMP, .optional = true},
        {.name = "long_s", .kind = RP_PQW_STRING},
    };
    const size_t nc = sizeof spec / sizeof spec[0];
    rp__buf out;
    rp__buf_init(&out, 1 << 24);
    rp__pqw_sink sink = rp__pqw_buf_sink(&out);
    rp__pqw *w;
    rp_error err;
    CHECK(rp__pqw_open_sink(&sink, "stats", spec, nc, &(rp__pqw_options){.row_group_rows = 5}, &w, &err) ==
          0);
    /* row group 0: rows 0-4; row group 1: rows 5-9 */
    int32_t i32[10] = {5, -7, 3, 99, 0, 1, 1, 1, 1, 2};
    uint8_t v32[10] = {1, 1, 1, 0, 1, 0, 0, 0, 0, 1}; /* 99 is null: not the maximum */
    int64_t i64[10] = {0, INT64_MIN, INT64_MAX, 7, -7, 3, 3, 3, 3, 3};
    const char *s[10] = {"b", "a", "é", "", "z", "x", NULL, NULL, NULL, NULL};
    double dn[10] = {NAN, 1.5, -2.5, NAN, 0.5, NAN, NAN, 7, NAN, NAN};
    double dz[10] = {0.0, 0.0, 0.0, 0.0, 0.0, 1, 2, 0.0, 3, -0.0};
    double dnz[10] = {-0.0, -0.0, -0.0, -0.0, -0.0, -1, -2, -0.0, -3, 0.0};
    double dan[10] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    int64_t zero[10] = {0};
    uint8_t none[10] = {0};
    int64_t ts[10] = {1612137600000000, -1, 1612137600000001, 0, 5, 9, 8, 7, 6, 5};
    uint8_t vts[10] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    char big[5001];
    memset(big, 'z', 5000); /* the maximum */
    big[5000] = '\0';
    const char *longs[10] = {"short", big, "a", "a", "a", "b", "c", "d", "e", "f"};
    CHECK(rp__pqw_put_i32(w, 0, i32, v32, 10, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 1, i64, NULL, 10, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 2, s, 10, &err) == 0);
    CHECK(rp__pqw_put_double(w, 3, dn, NULL, 10, &err) == 0);
    CHECK(rp__pqw_put_double(w, 4, dz, NULL, 10, &err) == 0);
    CHECK(rp__pqw_put_double(w, 5, dnz, NULL, 10, &err) == 0);
    CHECK(rp__pqw_put_double(w, 6, dan, NULL, 10, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 7, zero, none, 10, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 8, ts, vts, 10, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 9, longs, 10, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == 0);
    rp__parquet *p = NULL;
    CHECK(rp__parquet_open_mem(out.data, out.len, "stats", &p, &err) == 0);
    if (!p) {
        rp__buf_cleanup(&out);
        return;
    }
    CHECK(rp__parquet_num_row_groups(p) == 2);
    rp__parquet_chunk_info c;
    int32_t a32, b32;
    int64_t a64, b64;
    double ad, bd;
    /* int32: signed order, nulls left out */
    rp__parquet_chunk_at(p, 0, 0, &c);
    a32 = -7, b32 = 5;
    CHECK(c.has_stats && c.has_null_count && c.null_count == 1);
    CHECK(stat_is(c.min, c.min_len, &a32, 4) && stat_is(c.max, c.max_len, &b32, 4));
    rp__parquet_chunk_at(p, 1, 0, &c);
    a32 = b32 = 2;
    CHECK(c.null_count == 4 && stat_is(c.min, c.min_len, &a32, 4) && stat_is(c.max, c.max_len, &b32, 4));
    /* int64 extremes */
    rp__parquet_chunk_at(p, 0, 1, &c);
    a64 = INT64_MIN, b64 = INT64_MAX;
    CHECK(c.null_count == 0 && stat_is(c.min, c.min_len, &a64, 8) && stat_is(c.max, c.max_len, &b64, 8));
    /* strings: unsigned bytes ("" < "a" < "z" < "é", whose first byte is 0xc3) */
    rp__parquet_chunk_at(p, 0, 2, &c);
    CHECK(c.null_count == 0 && stat_is(c.min, c.min_len, "", 0) && c.min != NULL);
    CHECK(stat_is(c.max, c.max_len, "é", strlen("é")));
    rp__parquet_chunk_at(p, 1, 2, &c);
    CHECK(c.null_count == 4 && stat_is(c.min, c.min_len, "x", 1) && stat_is(c.max, c.max_len, "x", 1));
    /* doubles: NaN left out */
    rp__parquet_chunk_at(p, 0, 3, &c);
    ad = -2.5, bd = 1.5;
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    rp__parquet_chunk_at(p, 1, 3, &c);
    ad = bd = 7;
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    /* zeros: the minimum -0.0, the maximum +0.0, whatever the values' signs */
    ad = -0.0, bd = 0.0;
    rp__parquet_chunk_at(p, 0, 4, &c);
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    rp__parquet_chunk_at(p, 0, 5, &c);
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    rp__parquet_chunk_at(p, 1, 5, &c); /* -1 -2 -0.0 -3 0.0: max +0.0 */
    ad = -3;
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    rp__parquet_chunk_at(p, 1, 4, &c); /* 1 2 0.0 3 -0.0: min -0.0 */
    ad = -0.0, bd = 3;
    CHECK(stat_is(c.min, c.min_len, &ad, 8) && stat_is(c.max, c.max_len, &bd, 8));
    /* only NaN: no min or max; only nulls: the count and no min or max */
    rp__parquet_chunk_at(p, 0, 6, &c);
    CHECK(c.has_stats && c.null_count == 0 && !c.min && !c.max);
    rp__parquet_chunk_at(p, 0, 7, &c);
    CHECK(c.has_stats && c.null_count == 5 && !c.min && !c.max);
    /* timestamps: signed */
    rp__parquet_chunk_at(p, 0, 8, &c);
    a64 = -1, b64 = 1612137600000001;
    CHECK(c.null_count == 1 && stat_is(c.min, c.min_len, &a64, 8) && stat_is(c.max, c.max_len, &b64, 8));
    /* a string over 4,096 bytes: no min or max (row group 0), the next has them */
    rp__parquet_chunk_at(p, 0, 9, &c);
    CHECK(c.has_stats && !c.min && !c.max);
    rp__parquet_chunk_at(p, 1, 9, &c);
    CHECK(stat_is(c.min, c.min_len, "b", 1) && stat_is(c.max, c.max_len, "f", 1));
    /* the values themselves */
    rp__parquet_values v;
    CHECK(rp__parquet_read_column(p, 9, 0, &v, &err) == 0 && v.off[2] - v.off[1] == 5000);
    rp__parquet_values_free(&v);
    CHECK(rp__parquet_read_column(p, 2, 0, &v, &err) == 0 && v.valid && v.valid[5] && !v.valid[6] &&
          v.off[4] == v.off[3] && v.valid[3]); /* "" is a value, not a null */
    rp__parquet_values_free(&v);
    size_t len;
    const char *by = rp__parquet_created_by(p, &len);
    CHECK(by && len > 17 && !memcmp(by, "ridepred version ", 17));
    rp__parquet_close(p);
    rp__buf_cleanup(&out);
}

/* ---- files on disk ------------------------------------------------------------------ */

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

TEST(path_round_trip)
{
    char dir[256], path[512];
    rp_t_tmpdir(dir, sizeof dir, "rp-pqw");
    snprintf(path, sizeof path, "%s/out.parquet", dir);
    tcol c = {.spec = {.name = "x", .kind = RP_PQW_STRING}, .nulls = NULLS_MIXED, .pat = PAT_RANDOM};
    fill(&c, 300);
    rp__pqw *w;
    rp_error err;
    rp__pqw_column spec = c.spec;
    spec.optional = true;
    CHECK(rp__pqw_open_path(path, &spec, 1, &(rp__pqw_options){.fsync = true, .row_group_rows = 100}, &w,
                            &err) == 0);
    CHECK(write_table(w, &c, 1, 300, 64, &err) == 0);
    /* row groups written so far are in the temporary file, not at path */
    CHECK(access(path, F_OK) != 0);
    CHECK(count_entries(dir) == 1);
    CHECK(rp__pqw_close(w, &err) == 0);
    CHECK(count_entries(dir) == 1); /* the file, no temporary left */
    rp__parquet *p = NULL;
    CHECK(rp__parquet_open(path, &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_row_groups(p) == 3);
        CHECK(same_column(p, 0, &c, "path"));
        rp__parquet_close(p);
    }
    /* written again over it: replaced whole */
    CHECK(rp__pqw_open_path(path, &spec, 1, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 0, (const char *const[]){"only"}, 1, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == 0);
    CHECK(rp__parquet_open(path, &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_rows(p) == 1);
        rp__parquet_close(p);
    }
    /* aborted: nothing new, the old file stays */
    CHECK(rp__pqw_open_path(path, &spec, 1, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 0, (const char *const[]){"x", "y"}, 2, &err) == 0);
    rp__pqw_abort(w);
    CHECK(count_entries(dir) == 1);
    CHECK(rp__parquet_open(path, &p, &err) == 0);
    if (p) {
        CHECK(rp__parquet_num_rows(p) == 1);
        rp__parquet_close(p);
    }
    tcol_free(&c);
    CHECK(rp_t_rmtree(dir) == 0);
}

/* A descriptor the caller opened: the file read back; a bad one refused
 * naming it. */
TEST(fd_sink)
{
    char dir[256], path[512];
    rp_t_tmpdir(dir, sizeof dir, "rp-pqw");
    snprintf(path, sizeof path, "%s/fd.parquet", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    rp__pqw_sink sink = rp__pqw_fd_sink(fd);
    rp__pqw_column spec = {.name = "t", .kind = RP_PQW_TIMESTAMP, .unit = RP_PQ_NANOS};
    int64_t t[3] = {1, -2, INT64_MAX};
    rp__pqw *w;
    rp_error err;
    CHECK(rp__pqw_open_sink(&sink, "fd", &spec, 1, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 0, t, NULL, 3, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == 0);
    close(fd);
    rp__parquet *p = NULL;
    rp__parquet_values v;
    CHECK(rp__parquet_open(path, &p, &err) == 0);
    CHECK(p && rp__parquet_read_column(p, 0, 0, &v, &err) == 0 && v.n == 3 && v.v.i64[1] == -2 &&
          v.v.i64[2] == INT64_MAX);
    if (p) {
        CHECK(rp__parquet_column_at(p, 0)->time_unit == RP_PQ_NANOS);
        rp__parquet_values_free(&v);
        rp__parquet_close(p);
    }
    sink = rp__pqw_fd_sink(-1); /* not a descriptor */
    CHECK(rp__pqw_open_sink(&sink, "fd", &spec, 1, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 0, t, NULL, 3, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == -1 && strstr(err.msg, "cannot write to descriptor") &&
          strstr(err.msg, "Bad file descriptor"));
    CHECK(rp_t_rmtree(dir) == 0);
}

TEST(unwritable_path)
{
    char dir[256], path[512];
    rp_t_tmpdir(dir, sizeof dir, "rp-pqw");
    rp__pqw_column spec = {.name = "x", .kind = RP_PQW_INT64};
    rp__pqw *w = (rp__pqw *)1;
    rp_error err;
    snprintf(path, sizeof path, "%s/missing/out.parquet", dir);
    CHECK(rp__pqw_open_path(path, &spec, 1, NULL, &w, &err) == -1 && w == NULL);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "No such file or directory"));
    /* a directory where the file should go */
    CHECK(rp__pqw_open_path(dir, &spec, 1, NULL, &w, &err) == -1);
    CHECK(strstr(err.msg, dir) && strstr(err.msg, "directory"));
    CHECK(count_entries(dir) == 0);
    /* not writable (root writes anyway: then only the message is not checked) */
    if (geteuid() != 0) {
        chmod(dir, 0555);
        snprintf(path, sizeof path, "%s/out.parquet", dir);
        CHECK(rp__pqw_open_path(path, &spec, 1, NULL, &w, &err) == -1);
        CHECK(strstr(err.msg, path) && strstr(err.msg, "Permission denied"));
        chmod(dir, 0755);
    }
    CHECK(count_entries(dir) == 0);
    CHECK(rp_t_rmtree(dir) == 0);
}

/* A sink that takes `left` bytes, then fails. */
typedef struct failing {
    rp__buf buf;
    size_t left;
    int calls_after;
    bool failed;
} failing;

static int failing_write(void *ctx, const void *data, size_t len, rp_error *err)
{
    failing *f = ctx;
    if (f->failed) {
        f->calls_after++;
        return rp_error_set(err, RP_ERR_IO, "called again after failing");
    }
    if (len > f->left) { /* what fits, then the failure (a short write) */
        rp__buf_append(&f->buf, data, f->left);
        f->failed = true;
        return rp_error_set(err, RP_ERR_IO, "injected failure after %zu bytes", f->buf.len);
    }
    f->left -= len;
    return rp__buf_append(&f->buf, data, len);
}

TEST(sink_fails_half_way)
{
    rp__pqw_column spec[] = {{.name = "s", .kind = RP_PQW_STRING, .optional = true},
                             {.name = "x", .kind = RP_PQW_INT64}};
    const char *s[400];
    int64_t x[400];
    for (int i = 0; i < 400; i++) {
        s[i] = i % 7 ? WORDS[i % 8] : NULL;
        x[i] = i * 3;
    }
    /* the whole file's size first */
    failing full = {.left = SIZE_MAX};
    rp__buf_init(&full.buf, 1 << 24);
    rp__pqw_sink sink = {failing_write, &full};
    rp__pqw *w;
    rp_error err;
    rp__pqw_options opt = {.row_group_rows = 100, .codec = RP_PQW_ZSTD};
    CHECK(rp__pqw_open_sink(&sink, "full", spec, 2, &opt, &w, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 0, s, 400, &err) == 0 && rp__pqw_put_i64(w, 1, x, NULL, 400, &err) == 0);
    CHECK(rp__pqw_close(w, &err) == 0);
    size_t total = full.buf.len;
    rp__buf_cleanup(&full.buf);
    CHECK(total > 100);
    size_t stops[] = {0, 1, 4, 5, 60, total / 2, total - 9, total - 5, total - 1};
    int bad = 0;
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++) {
        failing f = {.left = stops[k]};
        rp__buf_init(&f.buf, 1 << 24);
        sink.ctx = &f;
        CHECK(rp__pqw_open_sink(&sink, "half", spec, 2, &opt, &w, &err) == 0);
        int r1 = rp__pqw_put_cstr(w, 0, s, 400, &err);
        int r2 = rp__pqw_put_i64(w, 1, x, NULL, 400, &err); /* row groups written here */
        rp_error cerr;
        int r3 = rp__pqw_close(w, &cerr);
        if (r1 != 0 || r2 != -1 || r3 != -1 || !strstr(cerr.msg, "injected failure") || f.calls_after ||
            f.buf.len != stops[k]) {
            /* the last stops fall in the footer: the puts succeed, close fails */
            if (!(r1 == 0 && r2 == 0 && r3 == -1 && strstr(cerr.msg, "injected failure") && !f.calls_after &&
                  stops[k] > total / 2)) {
                fprintf(stderr, "stop %zu: puts %d %d, close %d: %s\n", stops[k], r1, r2, r3, cerr.msg);
                bad++;
            }
        }
        rp__buf_cleanup(&f.buf);
    }
    CHECK(bad == 0);
}

/* In a child limited to 3,000 bytes of file (RLIMIT_FSIZE): the write
 * fails with EFBIG half way; no file is left, temporary or final. */
TEST(file_write_fails_half_way)
{
    char dir[256], path[512];
    rp_t_tmpdir(dir, sizeof dir, "rp-pqw");
    snprintf(path, sizeof path, "%s/out.parquet", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {3000, 3000};
        setrlimit(RLIMIT_FSIZE, &rl);
        rp__pqw_column spec = {.name = "x", .kind = RP_PQW_INT64};
        rp__pqw *w;
        rp_error err;
        if (rp__pqw_open_path(path, &spec, 1,
                              &(rp__pqw_options){.row_group_rows = 100, .codec = RP_PQW_UNCOMPRESSED}, &w,
                              &err) < 0)
            _exit(10);
        int rc = 0;
        for (int64_t i = 0; i < 2000 && rc == 0; i++) {
            int64_t v = i * 7919;
            rc = rp__pqw_put_i64(w, 0, &v, NULL, 1, &err);
        }
        if (rc == 0)
            _exit(11); /* 16,000 bytes of values written under a 3,000-byte limit? */
        if (!strstr(err.msg, "File too large") || !strstr(err.msg, path))
            _exit(12);
        rp_error cerr;
        if (rp__pqw_close(w, &cerr) != -1 || strcmp(cerr.msg, err.msg) != 0)
            _exit(13);
        _exit(0);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        fprintf(stderr, "child status %d\n", st);
    CHECK(count_entries(dir) == 0);
    CHECK(rp_t_rmtree(dir) == 0);
}

TEST(misuse_refused)
{
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    rp__pqw_sink sink = rp__pqw_buf_sink(&out);
    rp__pqw *w = NULL;
    rp_error err;
    rp__pqw_column spec[] = {{.name = "a", .kind = RP_PQW_INT64},
                             {.name = "b", .kind = RP_PQW_STRING, .optional = true}};
    /* bad column lists */
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 0, NULL, &w, &err) == -1 && strstr(err.msg, "at least one"));
    rp__pqw_column dup[] = {{.name = "a", .kind = RP_PQW_INT64}, {.name = "a", .kind = RP_PQW_DOUBLE}};
    CHECK(rp__pqw_open_sink(&sink, "f", dup, 2, NULL, &w, &err) == -1 &&
          strstr(err.msg, "two columns named a"));
    rp__pqw_column noname[] = {{.name = "", .kind = RP_PQW_INT64}};
    CHECK(rp__pqw_open_sink(&sink, "f", noname, 1, NULL, &w, &err) == -1 && strstr(err.msg, "no name"));
    rp__pqw_column unit[] = {{.name = "t", .kind = RP_PQW_TIMESTAMP, .unit = 9}};
    CHECK(rp__pqw_open_sink(&sink, "f", unit, 1, NULL, &w, &err) == -1 && strstr(err.msg, "time unit"));
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, &(rp__pqw_options){.codec = 17}, &w, &err) == -1 &&
          strstr(err.msg, "codec"));
    /* a null in a required column, named with its row */
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, NULL, &w, &err) == 0);
    int64_t x[3] = {1, 2, 3};
    CHECK(rp__pqw_put_i64(w, 0, x, (const uint8_t[]){1, 1, 0}, 3, &err) == -1 &&
          strstr(err.msg, "column a is required: its row 2 is null"));
    /* failed for good: the same message again */
    CHECK(rp__pqw_put_i64(w, 0, x, NULL, 3, &err) == -1 && strstr(err.msg, "its row 2 is null"));
    CHECK(rp__pqw_close(w, &err) == -1 && strstr(err.msg, "its row 2 is null"));
    /* the wrong kind of values; no such column */
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 1, x, NULL, 3, &err) == -1 && strstr(err.msg, "column b holds strings"));
    rp__pqw_abort(w);
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_double(w, 0, (const double[]){1}, NULL, 1, &err) == -1 && strstr(err.msg, "int64s"));
    rp__pqw_abort(w);
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 2, x, NULL, 3, &err) == -1 && strstr(err.msg, "no column 2"));
    rp__pqw_abort(w);
    /* a required string column given a NULL */
    rp__pqw_column rs[] = {{.name = "r", .kind = RP_PQW_STRING}};
    CHECK(rp__pqw_open_sink(&sink, "f", rs, 1, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 0, (const char *const[]){"x", NULL}, 2, &err) == -1 &&
          strstr(err.msg, "column r is required: its row 1 is null"));
    rp__pqw_abort(w);
    /* columns of different lengths at the end */
    rp__buf_reset(&out);
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2, NULL, &w, &err) == 0);
    CHECK(rp__pqw_put_i64(w, 0, x, NULL, 3, &err) == 0);
    CHECK(rp__pqw_put_cstr(w, 1, (const char *const[]){"p", NULL}, 2, &err) == 0);
    CHECK(rp__pqw_rows(w) == 2);
    CHECK(rp__pqw_close(w, &err) == -1 && strstr(err.msg, "f: column a has 3 rows, column b 2"));
    CHECK(out.len == 0); /* nothing was written */
    /* one column far ahead of the others: refused past max_buffered_bytes */
    CHECK(rp__pqw_open_sink(&sink, "f", spec, 2,
                            &(rp__pqw_options){.max_buffered_bytes = 4000, .row_group_bytes = 1000}, &w,
                            &err) == 0);
    int64_t many[600] = {0};
    CHECK(rp__pqw_put_i64(w, 0, many, NULL, 600, &err) == -1 && strstr(err.msg, "over the limit of 4000"));
    rp__pqw_abort(w);
    rp__pqw_codec c;
    CHECK(rp__pqw_codec_parse("ZSTD", &c, &err) == 0 && c == RP_PQW_ZSTD);
    CHECK(rp__pqw_codec_parse("none", &c, &err) == 0 && c == RP_PQW_UNCOMPRESSED);
    CHECK(rp__pqw_codec_parse("snappy", &c, &err) == 0 && c == RP_PQW_SNAPPY);
    CHECK(rp__pqw_codec_parse("gzip", &c, &err) == 0 && c == RP_PQW_GZIP);
    CHECK(rp__pqw_codec_parse("lz4", &c, &err) == -1 && strstr(err.msg, "'lz4'") && strstr(err.msg, "zstd"));
    rp__buf_cleanup(&out);
}

/* ---- the encoders -------------------------------------------------------------------- */

TEST(thrift_encoder_round_trip)
{
    rp__buf b;
    rp__buf_init(&b, 1 << 16);
    rp__thrift_w w;
    rp__thrift_w_init(&w, &b);
    uint8_t blob[300];
    for (int i = 0; i < 300; i++)
        blob[i] = (uint8_t)(i * 7);
    rp__thrift_w_struct_begin(&w);
    rp__thrift_w_field_i32(&w, 1, INT32_MIN);
    rp__thrift_w_field_i64(&w, 2, INT64_MAX);
    rp__thrift_w_field_i64(&w, 40, INT64_MIN);   /* delta over 15 */
    rp__thrift_w_field_binary(&w, 3, blob, 300); /* a smaller id */
    rp__thrift_w_field_bool(&w, 4, true);
    rp__thrift_w_field_bool(&w, 5, false);
    rp__thrift_w_field(&w, 6, RP_THRIFT_DOUBLE);
    rp__thrift_w_double(&w, -0.1);
    rp__thrift_w_field(&w, 7, RP_THRIFT_LIST);
    rp__thrift_w_list_begin(&w, RP_THRIFT_I32, 20);
    for (int i = 0; i < 20; i++)
        rp__thrift_w_int(&w, i - 10);
    rp__thrift_w_field(&w, 8, RP_THRIFT_STRUCT);
    rp__thrift_w_struct_begin(&w);
    rp__thrift_w_field_binary(&w, 1, "", 0);
    rp__thrift_w_field_i32(&w, -3, 42); /* negative id */
    rp__thrift_w_struct_end(&w);
    rp__thrift_w_field_i32(&w, 9, 7);
    rp__thrift_w_field_i32(&w, 25, -25); /* a delta of 16: the long form */
    rp__thrift_w_struct_end(&w);
    rp_error err;
    CHECK(rp__thrift_w_done(&w, "test", &err) == 0);

    rp__thrift t;
    rp__thrift_init(&t, b.data, b.len, "test", &err);
    int16_t id;
    uint8_t ty;
    int seen = 0;
    CHECK(rp__thrift_struct_begin(&t) == 0);
    while (rp__thrift_field(&t, &id, &ty) > 0) {
        int32_t i32;
        int64_t i64;
        bool bv;
        double d;
        const uint8_t *s;
        size_t n;
        switch (id) {
        case 1: seen += rp__thrift_i32(&t, ty, &i32) == 0 && i32 == INT32_MIN; break;
        case 2: seen += rp__thrift_i64(&t, ty, &i64) == 0 && i64 == INT64_MAX; break;
        case 40: seen += rp__thrift_i64(&t, ty, &i64) == 0 && i64 == INT64_MIN; break;
        case 3: seen += rp__thrift_binary(&t, &s, &n) == 0 && n == 300 && !memcmp(s, blob, 300); break;
        case 4: seen += rp__thrift_field_bool(&t, ty, &bv) == 0 && bv; break;
        case 5: seen += rp__thrift_field_bool(&t, ty, &bv) == 0 && !bv; break;
        case 6: seen += rp__thrift_double(&t, &d) == 0 && d == -0.1; break;
        case 7: {
            uint8_t et;
            uint32_t cnt;
            int ok = rp__thrift_list_begin(&t, &et, &cnt) == 0 && et == RP_THRIFT_I32 && cnt == 20;
            for (uint32_t i = 0; ok && i < cnt; i++)
                ok = rp__thrift_i32(&t, et, &i32) == 0 && i32 == (int32_t)i - 10;
            seen += ok;
            break;
        }
        case 8: {
            int ok = rp__thrift_struct_begin(&t) == 0, k = 0;
            int16_t fid;
            uint8_t fty;
            while (ok && rp__thrift_field(&t, &fid, &fty) > 0) {
                if (fid == 1)
                    k += rp__thrift_binary(&t, &s, &n) == 0 && n == 0;
                else if (fid == -3)
                    k += rp__thrift_i32(&t, fty, &i32) == 0 && i32 == 42;
                else
                    ok = 0;
            }
            seen += ok && k == 2;
            break;
        }
        case 9: seen += rp__thrift_i32(&t, ty, &i32) == 0 && i32 == 7; break;
        case 25: seen += rp__thrift_i32(&t, ty, &i32) == 0 && i32 == -25; break;
        default: rp__thrift_skip(&t, ty); break;
        }
    }
    CHECK(!t.failed && rp__thrift_offset(&t) == b.len);
    CHECK(seen == 11);
    /* the buffer's cap: a LIMIT error naming what was written */
    rp__buf small;
    rp__buf_init(&small, 8);
    rp__thrift_w_init(&w, &small);
    rp__thrift_w_struct_begin(&w);
    rp__thrift_w_field_binary(&w, 1, blob, 100);
    rp__thrift_w_struct_end(&w);
    CHECK(rp__thrift_w_done(&w, "footer", &err) == -1 && err.code == RP_ERR_LIMIT &&
          strstr(err.msg, "footer"));
    rp__buf_cleanup(&small);
    /* misuse: a struct left open; a field outside any struct */
    rp__buf_reset(&b);
    rp__thrift_w_init(&w, &b);
    rp__thrift_w_struct_begin(&w);
    CHECK(rp__thrift_w_done(&w, "x", &err) == -1 && strstr(err.msg, "left open"));
    rp__thrift_w_init(&w, &b);
    rp__thrift_w_field_i32(&w, 1, 1);
    CHECK(rp__thrift_w_done(&w, "x", &err) == -1 && err.code == RP_ERR_INTERNAL);
    rp__buf_cleanup(&b);
}

TEST(rle_encoder_round_trip)
{
    static const int widths[] = {1, 2, 3, 7, 8, 9, 16, 20, 31, 32};
    int bad = 0;
    uint32_t v[700], back[700];
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        int bw = widths[wi];
        uint32_t mask = bw == 32 ? UINT32_MAX : (UINT32_C(1) << bw) - 1;
        for (int shape = 0; shape < 5; shape++) {
            for (size_t n = 0; n < 700; n += 1 + n / 3) {
                for (size_t i = 0; i < n; i++) {
                    uint32_t r = (uint32_t)rnd();
                    switch (shape) {
                    case 0: v[i] = r & mask; break;                                   /* random */
                    case 1: v[i] = (uint32_t)(i / 13) & mask; break;                  /* runs of 13 */
                    case 2: v[i] = (uint32_t)(i % 2) & mask; break;                   /* alternating */
                    case 3: v[i] = (r % 5 ? (i ? v[i - 1] : mask) : r) & mask; break; /* runs of any length */
                    default:
                        v[i] = i % 16 < 7 ? mask : (uint32_t)(i % 16) & mask;
                        break; /* runs of 7, then literals */
                    }
                }
                rp__buf out;
                rp__buf_init(&out, 1 << 20);
                rp_error err;
                memset(back, 0xAB, sizeof back);
                if (rp__pq_rle_encode(v, n, bw, &out) < 0 ||
                    rp__pq_rle_decode((const uint8_t *)out.data, out.len, bw, back, n, &err) < 0 ||
                    (n && memcmp(v, back, n * 4))) {
                    if (bad++ < 5)
                        fprintf(stderr, "width %d shape %d n %zu: round trip differs\n", bw, shape, n);
                }
                rp__buf_cleanup(&out);
            }
        }
    }
    CHECK(bad == 0);
    /* runs are RLE runs: 100,000 equal values in a few bytes; a run after
     * literals starts its own run (not bit-packed) */
    static uint32_t same[100000];
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    CHECK(rp__pq_rle_encode(same, 100000, 1, &out) == 0 && out.len <= 4);
    rp__buf_reset(&out);
    uint32_t mixed[24] = {1, 0, 1, 0, 1, 0, 1, 0};
    CHECK(rp__pq_rle_encode(mixed, 24, 1, &out) == 0 &&
          out.len == 4); /* 1 + 1 literal bytes, 1 + 1 run bytes */
    rp__buf_cleanup(&out);
    CHECK(rp__pq_rle_encode(same, 1, 0, &out) == -1);
}

int main(void)
{
    rp_t_watchdog(300);
    RUN(round_trip_every_kind_codec_and_encoding);
    RUN(empty_file);
    RUN(row_groups_bounded);
    RUN(dictionary_choice);
    RUN(dictionary_page_of_only_nulls);
    RUN(statistics);
    RUN(path_round_trip);
    RUN(fd_sink);
    RUN(unwritable_path);
    RUN(sink_fails_half_way);
    RUN(file_write_fails_half_way);
    RUN(misuse_refused);
    RUN(thrift_encoder_round_trip);
    RUN(rle_encoder_round_trip);
    return rp_t_done();
}
