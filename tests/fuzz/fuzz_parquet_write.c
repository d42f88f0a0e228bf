/* libFuzzer target: the Parquet writer's round trip.  The input chooses a
 * schema (1 to 6 columns of every kind, required or optional, dictionary
 * auto / always / never, timestamp units), the options (codec, row groups
 * of 1 to 64 rows or a byte bound, pages of a few bytes, small dictionary
 * limits), up to 400 rows of values and the batch sizes; the file written
 * in memory is read back by ridepred's reader, and every value, null, row
 * count and null_count / int min-max statistic must equal what was put
 * (else abort). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/parquet.h"
#include "data/parquet_write.h"

typedef struct in {
    const uint8_t *p;
    size_t n;
} in;

static uint64_t take(in *s, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | (s->n ? *s->p : 0);
        if (s->n) {
            s->p++;
            s->n--;
        }
    }
    return v;
}

#define MAXC 6
#define MAXR 400

typedef struct col {
    rp__pqw_column spec;
    char name[8];
    uint8_t valid[MAXR];
    int64_t i64[MAXR];
    int32_t i32[MAXR];
    double f64[MAXR];
    uint64_t off[MAXR + 1];
    uint8_t data[MAXR * 12];
} col;

static col cols[MAXC];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in s = {data, size};
    size_t nc = 1 + take(&s, 1) % MAXC;
    rp__pqw_column spec[MAXC];
    for (size_t i = 0; i < nc; i++) {
        col *c = &cols[i];
        uint64_t b = take(&s, 1);
        memset(&c->spec, 0, sizeof c->spec);
        snprintf(c->name, sizeof c->name, "c%zu", i);
        c->spec.name = c->name;
        c->spec.kind = (rp__pqw_kind)(b % 5);
        c->spec.optional = (b >> 3) & 1;
        c->spec.dictionary = (rp__pqw_dict)((b >> 4) % 3);
        c->spec.unit = (rp__pq_time_unit)(1 + (b >> 6) % 3);
        c->spec.utc_adjusted = (b >> 7) & 1;
        spec[i] = c->spec;
    }
    uint64_t o = take(&s, 4);
    rp__pqw_options opt = {
        .codec = (rp__pqw_codec)(o % 4),
        .row_group_rows = (o >> 2) & 1 ? 1 + (o >> 3) % 64 : 0,
        .row_group_bytes = (o >> 9) & 1 ? 8 + (o >> 10) % 2048 : 0,
        .page_bytes = 1 + (o >> 21) % 512,
        .dict_max_values = (o >> 30) & 1 ? 1 + (o >> 3) % 16 : 0,
    };
    size_t rows = (size_t)take(&s, 2) % (MAXR + 1);
    int64_t nulls_total[MAXC] = {0};
    for (size_t i = 0; i < nc; i++) {
        col *c = &cols[i];
        uint64_t at = 0;
        c->off[0] = 0;
        uint64_t few = take(&s, 1) % 4; /* 0: any values, else values below 2^(4 * few) */
        for (size_t r = 0; r < rows; r++) {
            uint64_t v = take(&s, 8);
            if (few)
                v &= ((uint64_t)1 << (4 * few)) - 1;
            c->valid[r] = !c->spec.optional || (v & 7) != 0;
            nulls_total[i] += !c->valid[r];
            c->i64[r] = c->valid[r] ? (int64_t)v : 0;
            c->i32[r] = c->valid[r] ? (int32_t)v : 0;
            memcpy(&c->f64[r], &v, 8);
            if (!c->valid[r])
                c->f64[r] = 0;
            size_t len = c->valid[r] ? (v >> 3) % 12 : 0;
            for (size_t k = 0; k < len; k++)
                c->data[at + k] = (uint8_t)(v >> (k % 8 * 8)) ^ (uint8_t)k;
            at += len;
            c->off[r + 1] = at;
        }
    }
    rp__buf out;
    rp__buf_init(&out, (size_t)64 << 20);
    rp__pqw_sink sink = rp__pqw_buf_sink(&out);
    rp__pqw *w;
    rp_error err;
    if (rp__pqw_open_sink(&sink, "fuzz", spec, nc, &opt, &w, &err) < 0)
        abort(); /* every schema made here is valid */
    for (size_t a = 0; a < rows;) {
        size_t b = a + 1 + take(&s, 1) % 64;
        if (b > rows)
            b = rows;
        for (size_t i = 0; i < nc; i++) {
            col *c = &cols[i];
            const uint8_t *valid = c->spec.optional ? c->valid + a : NULL;
            int rc;
            switch (c->spec.kind) {
            case RP_PQW_STRING: rc = rp__pqw_put_bytes(w, i, c->data, c->off + a, valid, b - a, &err); break;
            case RP_PQW_INT32: rc = rp__pqw_put_i32(w, i, c->i32 + a, valid, b - a, &err); break;
            case RP_PQW_DOUBLE: rc = rp__pqw_put_double(w, i, c->f64 + a, valid, b - a, &err); break;
            default: rc = rp__pqw_put_i64(w, i, c->i64 + a, valid, b - a, &err); break;
            }
            if (rc < 0)
                abort();
        }
        a = b;
    }
    if (rp__pqw_close(w, &err) < 0)
        abort();
    rp__parquet *p;
    if (rp__parquet_open_mem(out.data, out.len, "fuzz", &p, &err) < 0)
        abort();
    if (rp__parquet_num_rows(p) != (int64_t)rows || rp__parquet_num_columns(p) != nc)
        abort();
    for (size_t i = 0; i < nc; i++) {
        col *c = &cols[i];
        rp__parquet_values v;
        if (rp__parquet_read_column(p, i, 0, &v, &err) < 0 || v.n != rows)
            abort();
        for (size_t r = 0; r < rows; r++) {
            if ((v.valid ? v.valid[r] : 1) != c->valid[r])
                abort();
            bool same;
            switch (c->spec.kind) {
            case RP_PQW_STRING:
                /* the reader's data is NULL when every string is empty */
                same = v.off[r + 1] - v.off[r] == c->off[r + 1] - c->off[r] &&
                       (c->off[r + 1] == c->off[r] ||
                        !memcmp(v.data + v.off[r], c->data + c->off[r], (size_t)(c->off[r + 1] - c->off[r])));
                break;
            case RP_PQW_INT32: same = v.v.i32[r] == c->i32[r]; break;
            case RP_PQW_DOUBLE: same = !memcmp(&v.v.f64[r], &c->f64[r], 8); break;
            default: same = v.v.i64[r] == c->i64[r]; break;
            }
            if (!same)
                abort();
        }
        rp__parquet_values_free(&v);
        /* statistics: null counts add up; int min / max are the row group's */
        int64_t nulls = 0;
        size_t row = 0;
        for (size_t g = 0; g < rp__parquet_num_row_groups(p); g++) {
            rp__parquet_chunk_info ci;
            size_t k = (size_t)rp__parquet_row_group_rows(p, g);
            if (rp__parquet_chunk_at(p, g, i, &ci) < 0 || !ci.has_null_count || ci.num_values != (int64_t)k)
                abort();
            nulls += ci.null_count;
            if (c->spec.kind == RP_PQW_INT64 || c->spec.kind == RP_PQW_TIMESTAMP) {
                int64_t lo = INT64_MAX, hi = INT64_MIN, a, b;
                bool any = false;
                for (size_t r = row; r < row + k; r++)
                    if (c->valid[r]) {
                        any = true;
                        lo = c->i64[r] < lo ? c->i64[r] : lo;
                        hi = c->i64[r] > hi ? c->i64[r] : hi;
                    }
                if (any != (ci.min != NULL) || (any && (ci.min_len != 8 || ci.max_len != 8)))
                    abort();
                if (any) {
                    memcpy(&a, ci.min, 8);
                    memcpy(&b, ci.max, 8);
                    if (a != lo || b != hi)
                        abort();
                }
            }
            row += k;
        }
        if (nulls != nulls_total[i] || row != rows)
            abort();
    }
    rp__parquet_close(p);
    rp__buf_cleanup(&out);
    return 0;
}
