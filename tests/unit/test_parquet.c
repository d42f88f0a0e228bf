/* The Thrift compact decoder, the RLE / bit-packed hybrid decoder and the
 * Parquet reader on hand-built files: values, and every malformed input
 * refused (truncations, flipped bytes, bad sizes) without reading out of
 * bounds.  Files written by other writers are tested in
 * tests/integration/test_parquet.py. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "data/parquet.h"
#include "data/thrift.h"
#include "data/trips.h"
#include "testing.h"

/* ---- a small compact-protocol writer ------------------------------------------- */

typedef struct wbuf {
    uint8_t b[4096];
    size_t n;
    int16_t last[16];
    int depth;
} wbuf;

static void put(wbuf *w, uint8_t c)
{
    if (w->n < sizeof w->b)
        w->b[w->n++] = c;
}

static void putn(wbuf *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(w, ((const uint8_t *)p)[i]);
}

static void uvar(wbuf *w, uint64_t v)
{
    while (v >= 0x80) {
        put(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put(w, (uint8_t)v);
}

static void zz(wbuf *w, int64_t v)
{
    uvar(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void fld(wbuf *w, int16_t id, uint8_t type)
{
    int16_t d = (int16_t)(id - w->last[w->depth]);
    if (d > 0 && d <= 15) {
        put(w, (uint8_t)(d << 4 | type));
    } else {
        put(w, type);
        zz(w, id);
    }
    w->last[w->depth] = id;
}

static void begin(wbuf *w)
{
    w->last[++w->depth] = 0;
}

static void stop(wbuf *w)
{
    put(w, 0);
    w->depth--;
}

static void f_i32(wbuf *w, int16_t id, int64_t v)
{
    fld(w, id, RP_THRIFT_I32);
    zz(w, v);
}

static void f_i64(wbuf *w, int16_t id, int64_t v)
{
    fld(w, id, RP_THRIFT_I64);
    zz(w, v);
}

static void f_str(wbuf *w, int16_t id, const char *s)
{
    fld(w, id, RP_THRIFT_BINARY);
    uvar(w, strlen(s));
    putn(w, s, strlen(s));
}

static void list_hdr(wbuf *w, uint8_t et, uint32_t n)
{
    if (n < 15) {
        put(w, (uint8_t)(n << 4 | et));
    } else {
        put(w, 0xf0 | et);
        uvar(w, n);
    }
}

/* ---- Thrift --------------------------------------------------------------------- */

TEST(thrift_values)
{
    wbuf w = {0};
    begin(&w);
    f_i32(&w, 1, -1);
    f_i32(&w, 2, INT32_MAX);
    f_i64(&w, 3, INT64_MIN);
    f_str(&w, 4, "hello");
    fld(&w, 5, RP_THRIFT_TRUE);
    fld(&w, 6, RP_THRIFT_FALSE);
    f_i32(&w, 300, 7); /* long-form id */
    f_i32(&w, 2, 9);   /* negative delta: long form */
    fld(&w, 7, RP_THRIFT_LIST);
    list_hdr(&w, RP_THRIFT_I32, 20); /* long-form size */
    for (int i = 0; i < 20; i++)
        zz(&w, i - 10);
    fld(&w, 8, RP_THRIFT_LIST);
    list_hdr(&w, RP_THRIFT_TRUE, 3);
    put(&w, 1), put(&w, 2), put(&w, 0);
    fld(&w, 9, RP_THRIFT_DOUBLE);
    double d = 3.25;
    putn(&w, &d, 8); /* little-endian hosts */
    stop(&w);

    rp_error err;
    rp__thrift t;
    rp__thrift_init(&t, w.b, w.n, "test", &err);
    CHECK(rp__thrift_struct_begin(&t) == 0);
    int16_t id;
    uint8_t ty;
    int32_t i32;
    int64_t i64;
    bool b;
    const uint8_t *s;
    size_t len;
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 1 && ty == RP_THRIFT_I32);
    CHECK(rp__thrift_i32(&t, ty, &i32) == 0 && i32 == -1);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 2 && rp__thrift_i32(&t, ty, &i32) == 0 &&
          i32 == INT32_MAX);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 3 && rp__thrift_i64(&t, ty, &i64) == 0 &&
          i64 == INT64_MIN);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 4 && rp__thrift_binary(&t, &s, &len) == 0 &&
          len == 5 && memcmp(s, "hello", 5) == 0);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 5 && rp__thrift_field_bool(&t, ty, &b) == 0 && b);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 6 && rp__thrift_field_bool(&t, ty, &b) == 0 && !b);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 300 && rp__thrift_i32(&t, ty, &i32) == 0 && i32 == 7);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 2 && rp__thrift_i32(&t, ty, &i32) == 0 && i32 == 9);
    uint8_t et;
    uint32_t n;
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 7 && rp__thrift_list_begin(&t, &et, &n) == 0 &&
          n == 20 && et == RP_THRIFT_I32);
    bool all = true;
    for (int i = 0; i < 20; i++)
        all = all && rp__thrift_i32(&t, et, &i32) == 0 && i32 == i - 10;
    CHECK(all);
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 8 && rp__thrift_list_begin(&t, &et, &n) == 0 &&
          n == 3);
    bool b1, b2, b3;
    CHECK(rp__thrift_list_bool(&t, &b1) == 0 && rp__thrift_list_bool(&t, &b2) == 0 &&
          rp__thrift_list_bool(&t, &b3) == 0 && b1 && !b2 && !b3);
    double dv;
    CHECK(rp__thrift_field(&t, &id, &ty) == 1 && id == 9 && rp__thrift_double(&t, &dv) == 0 && dv == 3.25);
    CHECK(rp__thrift_field(&t, &id, &ty) == 0);
    CHECK(rp__thrift_offset(&t) == w.n && !t.failed);

    /* The same bytes skipped whole. */
    rp__thrift_init(&t, w.b, w.n, "test", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == 0 && rp__thrift_offset(&t) == w.n);
    /* Every truncation fails cleanly, with the reader's name in the message. */
    int bad = 0;
    for (size_t cut = 0; cut < w.n; cut++) {
        rp__thrift_init(&t, w.b, cut, "test", &err);
        if (rp__thrift_skip(&t, RP_THRIFT_STRUCT) == 0 || !strstr(err.msg, "test: "))
            bad++;
    }
    CHECK(bad == 0);
}

TEST(thrift_malformed)
{
    rp_error err;
    rp__thrift t;
    /* 11-byte varint */
    static const uint8_t longvar[] = {0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01, 0};
    rp__thrift_init(&t, longvar, sizeof longvar, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == -1 && strstr(err.msg, "varint"));
    /* i32 field holding a value over 32 bits */
    wbuf w = {0};
    begin(&w);
    f_i64(&w, 1, (int64_t)1 << 40);
    stop(&w);
    rp__thrift_init(&t, w.b, w.n, "v", &err);
    int16_t id;
    uint8_t ty = 0;
    int32_t i32;
    CHECK(rp__thrift_struct_begin(&t) == 0 && rp__thrift_field(&t, &id, &ty) == 1);
    CHECK(rp__thrift_i32(&t, ty, &i32) == -1 && err.code == RP_ERR_CORRUPT &&
          strstr(err.msg, "out of range"));
    /* a list claiming more elements than bytes left */
    static const uint8_t biglist[] = {0x19, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    rp__thrift_init(&t, biglist, sizeof biglist, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == -1 && strstr(err.msg, "list of 4294967295 elements"));
    /* a string past the end */
    static const uint8_t bigstr[] = {0x18, 0x7f, 'a', 0};
    rp__thrift_init(&t, bigstr, sizeof bigstr, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == -1 && strstr(err.msg, "past the end"));
    /* an unknown type */
    static const uint8_t unk[] = {0x1e, 0};
    rp__thrift_init(&t, unk, sizeof unk, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == -1 && strstr(err.msg, "unknown field type 14"));
    /* nesting past the limit: struct in struct in ... */
    uint8_t deep[200];
    for (int i = 0; i < 100; i++)
        deep[i] = 0x1c; /* field 1, struct */
    memset(deep + 100, 0, 100);
    rp__thrift_init(&t, deep, sizeof deep, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == -1 && err.code == RP_ERR_LIMIT &&
          strstr(err.msg, "deeper than 32"));
    /* ... and 30 levels are fine */
    uint8_t ok[61];
    for (int i = 0; i < 30; i++)
        ok[i] = 0x1c;
    memset(ok + 30, 0, 31);
    rp__thrift_init(&t, ok, sizeof ok, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == 0);
    /* a map with bool values and an empty map skip */
    static const uint8_t map[] = {0x1b, 0x02, 0x81, 0x01, 'a', 0x01, 0x01, 'b', 0x02, 0x1b, 0x00, 0x00};
    rp__thrift_init(&t, map, sizeof map, "v", &err);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_STRUCT) == 0 && rp__thrift_offset(&t) == sizeof map);
    /* errors are sticky: the first message stays */
    rp__thrift_init(&t, bigstr, sizeof bigstr, "v", &err);
    rp__thrift_skip(&t, RP_THRIFT_STRUCT);
    char first[RP_ERROR_MSG_MAX];
    snprintf(first, sizeof first, "%s", err.msg);
    CHECK(rp__thrift_skip(&t, RP_THRIFT_I32) == -1 && strcmp(first, err.msg) == 0);
}

/* ---- RLE / bit-packed hybrid --------------------------------------------------------- */

TEST(rle_vectors)
{
    rp_error err;
    uint32_t out[64];
    /* the format's example: 0..7 bit-packed with width 3 */
    static const uint8_t bp[] = {0x03, 0x88, 0xc6, 0xfa};
    CHECK(rp__pq_rle_decode(bp, sizeof bp, 3, out, 8, &err) == 0);
    bool ok = true;
    for (uint32_t i = 0; i < 8; i++)
        ok = ok && out[i] == i;
    CHECK(ok);
    /* fewer values than the group holds */
    CHECK(rp__pq_rle_decode(bp, sizeof bp, 3, out, 5, &err) == 0 && out[4] == 4);
    /* a run of 5 threes (width 2), then bit-packed 1,0,1,... (width 2), then a run of 300 ones */
    static const uint8_t mix[] = {0x0a, 0x03, 0x03, 0x11, 0x11, 0xd8, 0x04, 0x01};
    uint32_t big[400];
    CHECK(rp__pq_rle_decode(mix, sizeof mix, 2, big, 5 + 8 + 300, &err) == 0);
    CHECK(big[0] == 3 && big[4] == 3 && big[5] == 1 && big[6] == 0 && big[12] == 0 && big[13] == 1 &&
          big[312] == 1);
    /* width 0: no value bytes */
    static const uint8_t zero[] = {0x14};
    CHECK(rp__pq_rle_decode(zero, sizeof zero, 0, out, 10, &err) == 0 && out[9] == 0);
    /* width 32 */
    static const uint8_t w32[] = {0x04, 0xff, 0xff, 0xff, 0xff};
    CHECK(rp__pq_rle_decode(w32, sizeof w32, 32, out, 2, &err) == 0 && out[1] == UINT32_MAX);
    /* width 20 bit-packed: the values 0x12345, 0xfffff, 0, 1, ... */
    uint8_t w20[1 + 20] = {0x03};
    uint32_t want20[8] = {0x12345, 0xfffff, 0, 1, 0x80000, 7, 0x55555, 0xaaaaa};
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 20; b++)
            if (want20[i] >> b & 1)
                w20[1 + (i * 20 + b) / 8] |= (uint8_t)(1 << ((i * 20 + b) % 8));
    CHECK(rp__pq_rle_decode(w20, sizeof w20, 20, out, 8, &err) == 0 &&
          memcmp(out, want20, sizeof want20) == 0);
    /* the last bit-packed run cut short of its padding is accepted */
    static const uint8_t cut[] = {0x03, 0x88};
    CHECK(rp__pq_rle_decode(cut, sizeof cut, 3, out, 2, &err) == 0 && out[0] == 0 && out[1] == 1);
    /* n = 0 reads nothing */
    CHECK(rp__pq_rle_decode(NULL, 0, 5, out, 0, &err) == 0);
}

TEST(rle_malformed)
{
    rp_error err;
    uint32_t out[64];
    static const uint8_t bp[] = {0x03, 0x88, 0xc6, 0xfa};
    CHECK(rp__pq_rle_decode(bp, 2, 3, out, 8, &err) == -1 && strstr(err.msg, "past the end"));
    CHECK(rp__pq_rle_decode(bp, sizeof bp, 3, out, 9, &err) == -1 && strstr(err.msg, "ends after 8 of 9"));
    static const uint8_t wide[] = {0x02, 0x04};
    CHECK(rp__pq_rle_decode(wide, sizeof wide, 2, out, 1, &err) == -1 &&
          strstr(err.msg, "wider than 2 bits"));
    static const uint8_t novalue[] = {0x02};
    CHECK(rp__pq_rle_decode(novalue, sizeof novalue, 8, out, 1, &err) == -1 && strstr(err.msg, "run value"));
    static const uint8_t longhdr[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(rp__pq_rle_decode(longhdr, sizeof longhdr, 1, out, 1, &err) == -1 && strstr(err.msg, "header"));
    CHECK(rp__pq_rle_decode(bp, sizeof bp, 33, out, 1, &err) == -1 && strstr(err.msg, "bit width 33"));
    /* empty runs make progress and then run out */
    static const uint8_t empty_runs[] = {0x00, 0x01, 0x00, 0x01};
    CHECK(rp__pq_rle_decode(empty_runs, sizeof empty_runs, 1, out, 1, &err) == -1);
}

/* ---- Parquet files built here -------------------------------------------------------- */

typedef struct file_opts {
    bool optional;   /* column OPTIONAL with def levels, row 1 null */
    bool dictionary; /* a dictionary page + RLE_DICTIONARY data page */
    int dict_index;  /* the index of row 2 (dictionary of 2 values) */
    int codec;
    int rows_claim; /* num_rows written in the footer (default 3) */
} file_opts;

/* One INT64 column "x" of rows 10, 20, 30 (or 10, null, 30), in one page. */
static size_t make_file(uint8_t *out, size_t cap, const file_opts *o)
{
    wbuf data = {0}, page = {0}, foot = {0};
    int rows = 3;
    int64_t vals[3] = {10, 20, 30};
    /* page body */
    if (o->optional) {
        uint8_t lv[] = {0x03, 0x05}; /* bit-packed width 1: 1,0,1 */
        uint32_t n = sizeof lv;
        putn(&data, &n, 4);
        putn(&data, lv, sizeof lv);
    }
    wbuf dict = {0};
    if (o->dictionary) {
        int64_t dv[2] = {10, 30};
        putn(&dict, dv, sizeof dv);
        put(&data, 2); /* bit width */
        /* bit-packed indices 0, 1 or dict_index ... */
        /* one bit-packed group (width 2): 0, 1, dict_index, or 0, dict_index for the 2 present rows */
        uint8_t packed[2] = {0, 0};
        if (!o->optional)
            packed[0] = (uint8_t)(0 | 1 << 2 | o->dict_index << 4);
        else
            packed[0] = (uint8_t)(0 | o->dict_index << 2);
        put(&data, 0x03);
        putn(&data, packed, 2);
    } else {
        for (int i = 0; i < 3; i++)
            if (!o->optional || i != 1)
                putn(&data, &vals[i], 8);
    }
    size_t start = 4;
    /* dictionary page */
    if (o->dictionary) {
        begin(&page);
        f_i32(&page, 1, 2);
        f_i32(&page, 2, (int64_t)dict.n);
        f_i32(&page, 3, (int64_t)dict.n);
        fld(&page, 7, RP_THRIFT_STRUCT);
        begin(&page);
        f_i32(&page, 1, 2);
        f_i32(&page, 2, 0);
        stop(&page);
        stop(&page);
        putn(&page, dict.b, dict.n);
    }
    size_t data_page_at = start + page.n;
    begin(&page);
    f_i32(&page, 1, 0);
    f_i32(&page, 2, (int64_t)data.n);
    f_i32(&page, 3, (int64_t)data.n);
    fld(&page, 5, RP_THRIFT_STRUCT);
    begin(&page);
    f_i32(&page, 1, rows);
    f_i32(&page, 2, o->dictionary ? 8 : 0);
    f_i32(&page, 3, 3);
    f_i32(&page, 4, 3);
    stop(&page);
    stop(&page);
    putn(&page, data.b, data.n);
    /* footer */
    begin(&foot);
    f_i32(&foot, 1, 1);
    fld(&foot, 2, RP_THRIFT_LIST);
    list_hdr(&foot, RP_THRIFT_STRUCT, 2);
    begin(&foot);
    f_str(&foot, 4, "schema");
    f_i32(&foot, 5, 1);
    stop(&foot);
    begin(&foot);
    f_i32(&foot, 1, RP_PQ_INT64);
    f_i32(&foot, 3, o->optional ? 1 : 0);
    f_str(&foot, 4, "x");
    stop(&foot);
    f_i64(&foot, 3, o->rows_claim ? o->rows_claim : rows);
    fld(&foot, 4, RP_THRIFT_LIST);
    list_hdr(&foot, RP_THRIFT_STRUCT, 1);
    begin(&foot);
    fld(&foot, 1, RP_THRIFT_LIST);
    list_hdr(&foot, RP_THRIFT_STRUCT, 1);
    begin(&foot);
    f_i64(&foot, 2, 4);
    fld(&foot, 3, RP_THRIFT_STRUCT);
    begin(&foot);
    f_i32(&foot, 1, RP_PQ_INT64);
    fld(&foot, 2, RP_THRIFT_LIST);
    list_hdr(&foot, RP_THRIFT_I32, 1);
    zz(&foot, 0);
    fld(&foot, 3, RP_THRIFT_LIST);
    list_hdr(&foot, RP_THRIFT_BINARY, 1);
    uvar(&foot, 1);
    put(&foot, 'x');
    f_i32(&foot, 4, o->codec);
    f_i64(&foot, 5, o->rows_claim ? o->rows_claim : rows);
    f_i64(&foot, 6, (int64_t)page.n);
    f_i64(&foot, 7, (int64_t)page.n);
    f_i64(&foot, 9, (int64_t)data_page_at);
    if (o->dictionary)
        f_i64(&foot, 11, 4);
    stop(&foot);
    stop(&foot);
    f_i64(&foot, 2, (int64_t)page.n);
    f_i64(&foot, 3, o->rows_claim ? o->rows_claim : rows);
    stop(&foot);
    stop(&foot);
    size_t n = 0;
    memcpy(out, "PAR1", 4), n = 4;
    memcpy(out + n, page.b, page.n), n += page.n;
    memcpy(out + n, foot.b, foot.n), n += foot.n;
    uint32_t fl = (uint32_t)foot.n;
    memcpy(out + n, &fl, 4), n += 4;
    memcpy(out + n, "PAR1", 4), n += 4;
    (void)cap;
    return n;
}

static int read_x(const uint8_t *f, size_t n, rp__parquet_values *v, rp_error *err)
{
    rp__parquet *p;
    if (rp__parquet_open_mem(f, n, "mem", &p, err) < 0)
        return -1;
    int rc = rp__parquet_read_column(p, 0, 0, v, err);
    rp__parquet_close(p);
    return rc;
}

TEST(parquet_built_files)
{
    uint8_t f[8192];
    rp_error err;
    rp__parquet_values v;
    size_t n = make_file(f, sizeof f, &(file_opts){0});
    CHECK(read_x(f, n, &v, &err) == 0 && v.n == 3 && !v.valid && v.v.i64[0] == 10 && v.v.i64[2] == 30);
    rp__parquet_values_free(&v);

    n = make_file(f, sizeof f, &(file_opts){.optional = true});
    CHECK(read_x(f, n, &v, &err) == 0 && v.n == 3 && v.valid && v.valid[0] && !v.valid[1] && v.valid[2] &&
          v.v.i64[0] == 10 && v.v.i64[1] == 0 && v.v.i64[2] == 30);
    rp__parquet_values_free(&v);

    n = make_file(f, sizeof f, &(file_opts){.dictionary = true, .dict_index = 1});
    CHECK(read_x(f, n, &v, &err) == 0 && v.n == 3 && v.v.i64[0] == 10 && v.v.i64[1] == 30 &&
          v.v.i64[2] == 30);
    rp__parquet_values_free(&v);
    n = make_file(f, sizeof f, &(file_opts){.dictionary = true, .optional = true, .dict_index = 1});
    CHECK(read_x(f, n, &v, &err) == 0 && v.n == 3 && v.v.i64[0] == 10 && !v.valid[1] && v.v.i64[2] == 30);
    rp__parquet_values_free(&v);

    /* a dictionary index past the dictionary */
    n = make_file(f, sizeof f, &(file_opts){.dictionary = true, .dict_index = 2});
    CHECK(read_x(f, n, &v, &err) == -1 && strstr(err.msg, "dictionary index 2 of a 2-value dictionary") &&
          strstr(err.msg, "mem: column x, row group 0, page 1"));
    /* codecs refused by name; an unknown codec number too */
    n = make_file(f, sizeof f, &(file_opts){.codec = 4});
    CHECK(read_x(f, n, &v, &err) == -1 && err.code == RP_ERR_UNSUPPORTED && strstr(err.msg, "codec BROTLI"));
    n = make_file(f, sizeof f, &(file_opts){.codec = 99});
    CHECK(read_x(f, n, &v, &err) == -1 && strstr(err.msg, "unknown codec"));
    /* a page that does not say what the codec makes of it */
    n = make_file(f, sizeof f, &(file_opts){.codec = 2});
    CHECK(read_x(f, n, &v, &err) == -1 && err.code == RP_ERR_CORRUPT && strstr(err.msg, "gzip"));
    n = make_file(f, sizeof f, &(file_opts){.codec = 6});
    CHECK(read_x(f, n, &v, &err) == -1 && strstr(err.msg, "zstd"));
    n = make_file(f, sizeof f, &(file_opts){.codec = 1});
    CHECK(read_x(f, n, &v, &err) == -1 && strstr(err.msg, "snappy"));
    /* more rows claimed than the pages hold */
    n = make_file(f, sizeof f, &(file_opts){.rows_claim = 5});
    CHECK(read_x(f, n, &v, &err) == -1 && strstr(err.msg, "ends after 3 of 5 values"));
    /* a huge row count is refused before anything is allocated for it */
    n = make_file(f, sizeof f, &(file_opts){.rows_claim = 2000000000});
    rp__parquet *p;
    CHECK(rp__parquet_open_mem(f, n, "mem", &p, &err) == 0);
    rp__parquet_set_limits(p, &(rp__parquet_limits){.max_bytes = 1 << 20});
    CHECK(rp__parquet_read_column(p, 0, 0, &v, &err) == -1 && err.code == RP_ERR_LIMIT &&
          strstr(err.msg, "limit"));
    /* ... and with max_rows the rows that exist are read */
    CHECK(rp__parquet_read_column(p, 0, 3, &v, &err) == 0 && v.n == 3 && v.v.i64[2] == 30);
    rp__parquet_values_free(&v);
    CHECK(rp__parquet_read_column(p, 1, 0, &v, &err) == -1 && strstr(err.msg, "no column 1"));
    CHECK(rp__parquet_find_column(p, "x") == 0 && rp__parquet_find_column(p, "y") == -1);
    rp__parquet_close(p);
    /* trips: the file has none of their columns */
    n = make_file(f, sizeof f, &(file_opts){0});
    CHECK(rp__parquet_open_mem(f, n, "mem", &p, &err) == 0);
    rp__trips t;
    CHECK(rp__trips_from_parquet(p, 0, &t, &err) == -1 && strstr(err.msg, "no column lpep_pickup_datetime"));
    const char *const extra[] = {"x"};
    CHECK(rp__trips_from_parquet_extra(p, 0, extra, 1, &t, &err) == -1 &&
          strstr(err.msg, "no column lpep_pickup_datetime"));
    rp__parquet_close(p);
}

TEST(parquet_malformed)
{
    uint8_t f[8192];
    rp_error err;
    rp__parquet_values v;
    rp__parquet *p;
    CHECK(rp__parquet_open_mem("PAR1", 4, "tiny", &p, &err) == -1 &&
          strstr(err.msg, "tiny: not a Parquet file"));
    CHECK(rp__parquet_open_mem("PAR1\0\0\0\0\0\0\0\0PAR2", 16, "m", &p, &err) == -1 &&
          strstr(err.msg, "no PAR1 at the end"));
    CHECK(rp__parquet_open_mem("PAR1\0\0\0\0\xff\0\0\0PAR1", 16, "m", &p, &err) == -1 &&
          strstr(err.msg, "footer length 255"));
    CHECK(rp__parquet_open_mem("PAR1\0\0\0\0\0\0\0\0PARE", 16, "m", &p, &err) == -1 &&
          err.code == RP_ERR_UNSUPPORTED && strstr(err.msg, "encrypted"));
    CHECK(rp__parquet_open("/nonexistent/x.parquet", &p, &err) == -1 && err.code == RP_ERR_NOT_FOUND);

    /* Every truncation and every single-bit flip of the dictionary file
     * is either read or refused; none reads outside the buffer (ASan). */
    size_t n = make_file(f, sizeof f, &(file_opts){.dictionary = true, .optional = true, .dict_index = 1});
    int refused = 0, read = 0;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t g[8192];
        memcpy(g, f, cut);
        if (read_x(g, cut, &v, &err) == 0) {
            read++;
            rp__parquet_values_free(&v);
        } else {
            refused++;
        }
    }
    CHECK(read == 0 && refused == (int)n);
    for (size_t i = 0; i < n * 8; i++) {
        uint8_t g[8192];
        memcpy(g, f, n);
        g[i / 8] ^= (uint8_t)(1 << (i % 8));
        if (read_x(g, n, &v, &err) == 0)
            rp__parquet_values_free(&v);
        else
            CHECK(err.msg[0] != '\0');
    }
}

TEST(trips_csv)
{
    rp__trips t;
    rp_error err;
    const char *csv = "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,DOLocationID,trip_distance\n"
                      "1,2021-01-01 00:00:00,2021-01-01 00:01:00.25,2,3.5\n"
                      "\"\",\"\",,\"7\",\n";
    CHECK(rp__trips_read_csv_mem(csv, strlen(csv), "t.csv", 0, &t, &err) == 0 && t.n == 2);
    CHECK(t.pu[0] == 1 && t.dor[0] == 2 && t.distance[0] == 3.5 &&
          t.pickup_us[0] == INT64_C(1609459200000000) && t.dropoff_us[0] == INT64_C(1609459260250000));
    CHECK(t.pu[1] == RP_TRIPS_NULL_ID && t.pickup_us[1] == RP_TRIPS_NULL_TIME &&
          t.dropoff_us[1] == RP_TRIPS_NULL_TIME && t.dor[1] == 7 && isnan(t.distance[1]));
    double dur;
    CHECK(rp__trips_keep(&t, 0, &dur) && dur == 1.0041666666666667 && !rp__trips_keep(&t, 1, &dur));
    rp__trips_free(&t);
    CHECK(rp__trips_read_csv_mem(csv, strlen(csv), "t.csv", 1, &t, &err) == 0 && t.n == 1);
    rp__trips_free(&t);
    /* every truncation is read or refused, never read past */
    for (size_t cut = 0; cut < strlen(csv); cut++) {
        char buf[256];
        memcpy(buf, csv, cut);
        if (rp__trips_read_csv_mem(buf, cut, "t.csv", 0, &t, &err) == 0)
            rp__trips_free(&t);
    }
    const char *bad = "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,DOLocationID,trip_distance\n"
                      "1,2021-13-01 00:00:00,,2,3\n";
    CHECK(rp__trips_read_csv_mem(bad, strlen(bad), "t.csv", 0, &t, &err) == -1 &&
          strstr(err.msg, "t.csv:2:") && strstr(err.msg, "is not a time"));
    /* a NUL byte in a field (it would cut "3.5\0x" to 3.5): refused with its line, quoted or
     * not, also as the last byte of the input */
#define H5 "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,DOLocationID,trip_distance\n"
    static const char nul_plain[] = H5 "1,,,2,3\n1,,,2,3.5\0x\n";
    static const char nul_quoted[] = H5 "1,,,2,3\n1,,,2,\"4\n\0\"\n";
    static const char nul_last[] = H5 "1,,,2,3\0";
    CHECK(rp__trips_read_csv_mem(nul_plain, sizeof nul_plain - 1, "t.csv", 0, &t, &err) == -1 &&
          strstr(err.msg, "t.csv:3: a NUL byte in a field"));
    CHECK(rp__trips_read_csv_mem(nul_quoted, sizeof nul_quoted - 1, "t.csv", 0, &t, &err) == -1 &&
          strstr(err.msg, "t.csv:4: a NUL byte in a field"));
    CHECK(rp__trips_read_csv_mem(nul_last, sizeof nul_last - 1, "t.csv", 0, &t, &err) == -1 &&
          strstr(err.msg, "t.csv:2: a NUL byte in a field"));
    /* reading stops before it (max_rows, as replay --limit): the rows read are served */
    CHECK(rp__trips_read_csv_mem(nul_plain, sizeof nul_plain - 1, "t.csv", 1, &t, &err) == 0 && t.n == 1);
    rp__trips_free(&t);
#undef H5
    /* extra numeric columns by name (the monitor's passenger_count, fare_amount, ...): in the order
     * asked, empty = NaN, over a buffer grown past its first 4096 rows */
    const char *const extra[] = {"fare_amount", "passenger_count"};
    const char *ex = "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,passenger_count,DOLocationID,"
                     "trip_distance,fare_amount\n"
                     "1,2021-01-01 00:00:00,,2,2,3.5,12.25\n"
                     "1,,,,2,3.5,\"-1e3\"\n"
                     "1,,,1.0,2,3.5,\n";
    CHECK(rp__trips_read_csv_mem_extra(ex, strlen(ex), "t.csv", 0, extra, 2, &t, &err) == 0 && t.n == 3);
    CHECK(t.n_extra == 2 && t.extra[0][0] == 12.25 && t.extra[1][0] == 2 && t.extra[0][1] == -1000 &&
          isnan(t.extra[1][1]) && isnan(t.extra[0][2]) && t.extra[1][2] == 1 && t.distance[2] == 3.5);
    rp__trips_free(&t);
    CHECK(rp__trips_read_csv_mem(ex, strlen(ex), "t.csv", 0, &t, &err) == 0 && t.n == 3 && t.n_extra == 0 &&
          !t.extra[0]);
    rp__trips_free(&t);
    {
        rp__buf big;
        rp__buf_init(&big, 1 << 24);
        rp__buf_puts(&big,
                     "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,DOLocationID,trip_distance,"
                     "fare_amount\n");
        for (int i = 0; i < 10000; i++)
            rp__buf_printf(&big, "1,,,2,1,%d\n", i);
        CHECK(rp__trips_read_csv_mem_extra(big.data, big.len, "big.csv", 0, extra, 1, &t, &err) == 0 &&
              t.n == 10000 && t.extra[0][0] == 0 && t.extra[0][9999] == 9999);
        rp__trips_free(&t);
        rp__buf_cleanup(&big);
    }
    const char *const nope[] = {"tip_amount"};
    CHECK(rp__trips_read_csv_mem_extra(ex, strlen(ex), "t.csv", 0, nope, 1, &t, &err) == -1 &&
          err.code == RP_ERR_INVALID && strstr(err.msg, "t.csv: the header has no column tip_amount"));
    const char *bad_extra =
        "PULocationID,lpep_pickup_datetime,lpep_dropoff_datetime,DOLocationID,trip_distance,"
        "fare_amount\n1,,,2,1,2\n1,,,2,1,abc\n";
    CHECK(rp__trips_read_csv_mem_extra(bad_extra, strlen(bad_extra), "t.csv", 0, extra, 1, &t, &err) == -1 &&
          strstr(err.msg, "t.csv:3: column fare_amount: \"abc\" is not a number"));
    CHECK(rp__trips_read_csv_mem_extra(ex, strlen(ex), "t.csv", 0, extra, RP_TRIPS_MAX_EXTRA + 1, &t, &err) ==
          -1);
}

TEST(trips_int96)
{
    /* 2021-01-01 00:15:56 (Julian day 2459216), the first ride of 2021-01 */
    uint8_t b[12];
    uint64_t ns = UINT64_C(956000000000) + 1999; /* sub-microsecond part dropped */
    uint32_t jd = 2459216;
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)(ns >> (8 * k));
    for (int k = 0; k < 4; k++)
        b[8 + k] = (uint8_t)(jd >> (8 * k));
    int64_t us = 0;
    CHECK(rp__trips_int96_us(b, &us) == 0 && us == INT64_C(1609460156000001));
    /* the epoch, and a day before it */
    memset(b, 0, sizeof b);
    jd = 2440588;
    for (int k = 0; k < 4; k++)
        b[8 + k] = (uint8_t)(jd >> (8 * k));
    CHECK(rp__trips_int96_us(b, &us) == 0 && us == 0);
    b[8] = (uint8_t)(jd - 1);
    CHECK(rp__trips_int96_us(b, &us) == 0 && us == -INT64_C(86400000000));
    /* a time of day of 24 h or more */
    ns = UINT64_C(86400000000000);
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)(ns >> (8 * k));
    CHECK(rp__trips_int96_us(b, &us) == -1);
}

int main(void)
{
    RUN(thrift_values);
    RUN(thrift_malformed);
    RUN(rle_vectors);
    RUN(rle_malformed);
    RUN(parquet_built_files);
    RUN(parquet_malformed);
    RUN(trips_csv);
    RUN(trips_int96);
    return rp_t_done();
}
