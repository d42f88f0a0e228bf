/* The ride fast path of tree models (docs/model-format.md, "The ride fast
 * path") against the plain node-by-node walk and against an independent
 * reference written here from the JSON arrays: random forests (le and lt
 * splits, with and without default_left, mean and sum, a few columns tested
 * by most trees, another numeric column), random rows of 0 to 4 present
 * columns with values on, beside and between the thresholds.  Every answer
 * must be the same bit for bit.  Then damaged images: every byte flipped,
 * unverified, must never read out of bounds (ASan), and images without the
 * fast sections (older files) or with a column left to the walk must give
 * the same answers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/buf.h"
#include "model/image.h"
#include "model/model.h"
#include "ridepred/model.h"
#include "testing.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* ---- random models ---------------------------------------------------- */

#define MAX_FEATS 48
#define MAX_TREES 24
#define MAX_NODES 256 /* a full tree of depth 7 has 255 */

typedef struct tree {
    int n;
    int64_t left[MAX_NODES], right[MAX_NODES], feature[MAX_NODES];
    double threshold[MAX_NODES], value[MAX_NODES];
    int default_left[MAX_NODES];
} tree;

typedef struct model {
    int nf, td, other; /* feature count, trip_distance column, another numeric (-1: none) */
    int hot[3];        /* columns tested by most trees */
    int n_trees;
    bool lt, mean, has_default;
    double base;
    tree trees[MAX_TREES];
} model;

static const double td_pool[] = {0.5, 1.0,  1.5, 2.25, 3.66, 3.6600000858306885,  5.0,       10.0, -1.0,
                                 0.0, -0.0, 7.2, 0.1,  1e30, 0.30000000000000004, 16777217.0};
static const double oh_pool[] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.0, -0.5, 1.0, 0.25, 1.5};

static double td_threshold(void)
{
    if (below(4) == 0)
        return -2.0 + 14.0 * unit();
    return td_pool[below(sizeof td_pool / sizeof *td_pool)];
}

static double leaf_value(void)
{
    switch (below(8)) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return (unit() - 0.5) * 1e6;
    case 3: return (unit() - 0.5) * 1e-6;
    default: return (unit() - 0.2) * 40.0;
    }
}

static int grow(model *M, tree *T, int depth)
{
    int i = T->n++;
    T->default_left[i] = (int)below(2);
    if (depth >= 7 || (depth > 0 && below(5) == 0)) {
        T->left[i] = T->right[i] = -1;
        T->feature[i] = -2;
        T->threshold[i] = -2;
        T->value[i] = leaf_value();
        return i;
    }
    uint32_t pick = below(20);
    int f;
    if (pick < 9)
        f = M->td;
    else if (pick < 13)
        f = M->hot[below(3)];
    else if (pick < 15 && M->other >= 0)
        f = M->other;
    else
        f = (int)below((uint32_t)M->nf);
    T->feature[i] = f;
    T->threshold[i] =
        f == M->td || f == M->other ? td_threshold() : oh_pool[below(sizeof oh_pool / sizeof *oh_pool)];
    T->value[i] = leaf_value(); /* ignored for internal nodes */
    T->left[i] = grow(M, T, depth + 1);
    T->right[i] = grow(M, T, depth + 1);
    return i;
}

static void random_model(model *M)
{
    memset(M, 0, sizeof *M);
    M->nf = 3 + (int)below(MAX_FEATS - 3);
    M->td = (int)below((uint32_t)M->nf);
    M->other = below(3) == 0 ? (M->td + 1) % M->nf : -1;
    for (int k = 0; k < 3; k++) {
        do
            M->hot[k] = (int)below((uint32_t)M->nf);
        while (M->hot[k] == M->td || M->hot[k] == M->other);
    }
    M->n_trees = 1 + (int)below(MAX_TREES);
    M->lt = below(2);
    M->mean = below(2);
    M->has_default = below(3) == 0;
    M->base = below(2) ? 0.0 : (unit() - 0.5) * 30.0;
    for (int t = 0; t < M->n_trees; t++)
        grow(M, &M->trees[t], 0);
}

static void put_array_i(rp__buf *b, const char *key, const int64_t *v, int n)
{
    rp__buf_printf(b, "\"%s\": [", key);
    for (int i = 0; i < n; i++)
        rp__buf_printf(b, "%s%lld", i ? ", " : "", (long long)v[i]);
    rp__buf_lit(b, "]");
}

static void put_array_d(rp__buf *b, const char *key, const double *v, int n)
{
    rp__buf_printf(b, "\"%s\": [", key);
    for (int i = 0; i < n; i++)
        rp__buf_printf(b, "%s%.17g", i ? ", " : "", v[i]);
    rp__buf_lit(b, "]");
}

static void model_json(const model *M, rp__buf *b)
{
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"format\": \"ridepred.model/1\", \"features\": [");
    for (int i = 0; i < M->nf; i++) {
        if (i == M->td)
            rp__buf_printf(b, "%s\"trip_distance\"", i ? ", " : "");
        else if (i == M->other)
            rp__buf_printf(b, "%s\"other\"", i ? ", " : "");
        else
            rp__buf_printf(b, "%s\"PU_DO=%d_%d\"", i ? ", " : "", i, 7 * i + 1);
    }
    rp__buf_printf(b,
                   "], \"estimator\": {\"type\": \"trees\", \"combine\": \"%s\", \"base\": %.17g, "
                   "\"split\": \"%s\", \"trees\": [",
                   M->mean ? "mean" : "sum", M->base, M->lt ? "lt" : "le");
    for (int t = 0; t < M->n_trees; t++) {
        const tree *T = &M->trees[t];
        rp__buf_puts(b, t ? ", {" : "{");
        put_array_i(b, "left", T->left, T->n);
        rp__buf_lit(b, ", ");
        put_array_i(b, "right", T->right, T->n);
        rp__buf_lit(b, ", ");
        put_array_i(b, "feature", T->feature, T->n);
        rp__buf_lit(b, ", ");
        put_array_d(b, "threshold", T->threshold, T->n);
        rp__buf_lit(b, ", ");
        put_array_d(b, "value", T->value, T->n);
        if (M->has_default) {
            rp__buf_lit(b, ", \"default_left\": [");
            for (int i = 0; i < T->n; i++)
                rp__buf_printf(b, "%s%s", i ? ", " : "", T->default_left[i] ? "true" : "false");
            rp__buf_lit(b, "]");
        }
        rp__buf_lit(b, "}");
    }
    rp__buf_lit(b, "]}}");
}

/* The reference: docs/model-format.md read literally, on the source arrays. */
static rp_code reference(const model *M, const rp_row *row, double *out)
{
    for (int k = 0; k < row->n; k++)
        if (!isfinite((float)row->val[k]))
            return RP_ERR_INVALID;
    double acc = M->mean ? 0.0 : M->base;
    for (int t = 0; t < M->n_trees; t++) {
        const tree *T = &M->trees[t];
        int64_t i = 0;
        while (T->left[i] != -1) {
            int k = 0;
            while (k < row->n && row->idx[k] != (uint32_t)T->feature[i])
                k++;
            bool left;
            if (k == row->n && M->has_default) {
                left = T->default_left[i];
            } else {
                double x = k < row->n ? (double)(float)row->val[k] : 0.0;
                left = M->lt ? x < T->threshold[i] : x <= T->threshold[i];
            }
            i = left ? T->left[i] : T->right[i];
        }
        acc += T->value[i];
    }
    if (M->mean) {
        acc /= (double)M->n_trees;
        if (M->base != 0.0)
            acc += M->base;
    }
    *out = acc;
    return RP_OK;
}

/* ---- random rows ------------------------------------------------------ */

static double x_value(const model *M)
{
    (void)M;
    switch (below(10)) {
    case 0: return (double)nextafterf((float)td_threshold(), INFINITY);
    case 1: return (double)nextafterf((float)td_threshold(), -INFINITY);
    case 2: return (double)(float)td_threshold();
    case 3: return td_threshold();
    case 4: return below(2) ? 0.0 : -0.0;
    case 5: return below(8) == 0 ? 1e39 : 3.0e38; /* beyond float32: refused */
    default: return -3.0 + 16.0 * unit();
    }
}

static double j_value(void)
{
    static const double v[] = {1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.25, 0.75, 2.0, -1.0, 1.5, -0.5};
    return v[below(sizeof v / sizeof *v)];
}

static uint32_t j_column(const model *M)
{
    uint32_t c;
    do {
        switch (below(6)) {
        case 0:
        case 1: c = (uint32_t)M->hot[below(3)]; break;
        case 2: c = (uint32_t)M->nf + below(5); break; /* not a column of the model */
        default: c = below((uint32_t)M->nf); break;
        }
    } while (c == (uint32_t)M->td);
    return c;
}

static void random_row(const model *M, rp_row *r)
{
    r->n = 0;
    uint32_t shape = below(16);
    if (shape == 0)
        return;
    if (shape <= 2) { /* one column */
        if (below(2)) {
            r->idx[0] = (uint32_t)M->td;
            r->val[0] = x_value(M);
        } else {
            r->idx[0] = j_column(M);
            r->val[0] = j_value();
        }
        r->n = 1;
        return;
    }
    if (shape <= 11) { /* the ride shape, either order */
        int a = below(4) == 0;
        r->idx[a] = j_column(M);
        r->val[a] = j_value();
        r->idx[!a] = (uint32_t)M->td;
        r->val[!a] = x_value(M);
        r->n = 2;
        return;
    }
    if (shape == 12) { /* two others, or x twice */
        r->idx[0] = below(2) ? j_column(M) : (uint32_t)M->td;
        r->val[0] = r->idx[0] == (uint32_t)M->td ? x_value(M) : j_value();
        r->idx[1] = below(2) ? j_column(M) : (uint32_t)M->td;
        r->val[1] = r->idx[1] == (uint32_t)M->td ? x_value(M) : j_value();
        r->n = 2;
        return;
    }
    /* three or four columns */
    r->n = 3 + (shape == 15);
    for (int k = 0; k < r->n; k++) {
        uint32_t p = below(3);
        if (p == 0) {
            r->idx[k] = (uint32_t)M->td;
            r->val[k] = x_value(M);
        } else if (p == 1 && M->other >= 0) {
            r->idx[k] = (uint32_t)M->other;
            r->val[k] = x_value(M);
        } else {
            r->idx[k] = j_column(M);
            r->val[k] = j_value();
        }
    }
}

static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- the checks ------------------------------------------------------- */

#define ROWS 512

static long fast_served, fast_column_rows, compared;

/* Predicts the rows with m every way there is and compares with the
 * reference; returns the number of mismatches. */
static int check_rows(const model *M, const rp_model *m, const rp_row *rows, int n)
{
    static double a[ROWS], b[ROWS];
    static rp_code sa[ROWS], sb[ROWS];
    int bad = 0;
    rp_model_predict_batch(m, rows, (size_t)n, a, sa);
    rp__model_predict_batch_walk(m, rows, (size_t)n, b, sb);
    for (int i = 0; i < n; i++) {
        double want = 0.0, one = 0.0, fast = 0.0;
        rp_code sw = reference(M, &rows[i], &want), sf = RP_OK;
        rp_error err;
        int rc = rp_model_predict(m, &rows[i], &one, &err);
        bool served = rp__model_predict_fast(m, &rows[i], &fast, &sf);
        if (served) {
            fast_served++;
            if (rows[i].n == 2 || (rows[i].n == 1 && rows[i].idx[0] != (uint32_t)M->td))
                fast_column_rows++;
        }
        compared++;
        bool ok = sa[i] == sw && sb[i] == sw && (rc == 0) == (sw == RP_OK) && (!served || sf == sw);
        if (ok && sw == RP_OK)
            ok = same(a[i], want) && same(b[i], want) && same(one, want) && (!served || same(fast, want));
        if (!ok) {
            if (bad++ < 5) {
                fprintf(stderr, "  row %d (n=%d:", i, rows[i].n);
                for (int k = 0; k < rows[i].n; k++)
                    fprintf(stderr, " %u=%.17g", rows[i].idx[k], rows[i].val[k]);
                fprintf(stderr,
                        "): want %d %.17g, batch %d %.17g, walk %d %.17g, one %d %.17g, fast %d %d %.17g\n",
                        sw, want, sa[i], a[i], sb[i], b[i], rc, one, served, sf, fast);
            }
        }
    }
    return bad;
}

static rp_model *from_json(const rp__buf *json)
{
    rp_error err;
    rp_model *m = NULL;
    if (rp_model_from_json(json->data, json->len, &m, &err) < 0) {
        fprintf(stderr, "  model refused: %s\n", err.msg);
        return NULL;
    }
    return m;
}

/* The native image of m, through a file (rp_model_write_native). */
static rp__buf native_bytes(const rp_model *m)
{
    rp__buf b;
    rp__buf_init(&b, 1 << 26);
    rp_error err;
    char path[] = "/tmp/rp-test-fast-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(rp_model_write_native(m, path, &err) == 0);
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rp__buf_append(&b, chunk, n);
    if (f)
        fclose(f);
    unlink(path);
    return b;
}

TEST(fast_path_equals_walk_and_reference)
{
    model *M = malloc(sizeof *M);
    rp__buf json;
    rp__buf_init(&json, 1 << 26);
    static rp_row rows[ROWS];
    int bad_models = 0, with_fast = 0;
    for (int iter = 0; iter < 300; iter++) {
        random_model(M);
        model_json(M, &json);
        rp_model *m = from_json(&json);
        CHECK(m != NULL);
        if (!m)
            continue;
        with_fast += rp__model_has_fast_path(m);
        for (int i = 0; i < ROWS; i++)
            random_row(M, &rows[i]);
        int bad = check_rows(M, m, rows, ROWS);
        /* the same from the native file, mmap'd */
        if (iter % 10 == 0) {
            rp__buf nb = native_bytes(m);
            rp_model *n2 = NULL;
            rp_error err;
            CHECK(rp_model_from_native(nb.data, nb.len, true, NULL, &n2, &err) == 0);
            if (n2) {
                CHECK(rp__model_has_fast_path(n2));
                bad += check_rows(M, n2, rows, ROWS);
                rp_model_release(n2);
            }
            rp__buf_cleanup(&nb);
        }
        if (bad) {
            bad_models++;
            fprintf(stderr, "  model %d: %d rows differ\n", iter, bad);
        }
        rp_model_release(m);
    }
    CHECK(bad_models == 0);
    CHECK(with_fast == 300); /* every model has trip_distance */
    /* and the fast path did serve many rows, with columns present (the
     * others: values between a column's thresholds, 3 or 4 columns, x
     * twice, values beyond float32) */
    fprintf(stderr, "  %ld rows compared, %ld served by the fast path (%ld with a column)\n", compared,
            fast_served, fast_column_rows);
    CHECK(fast_served > compared * 4 / 10);
    CHECK(fast_column_rows > compared * 3 / 10);
    rp__buf_cleanup(&json);
    free(M);
}

/* The course's shape at a small scale: many one-hot columns, 0.5 thresholds,
 * x-heavy trees, value 1.0: every ride row must be served by the fast path. */
TEST(ride_rows_take_the_fast_path)
{
    model *M = malloc(sizeof *M);
    rp__buf json;
    rp__buf_init(&json, 1 << 26);
    static rp_row rows[ROWS];
    random_model(M);
    M->has_default = false;
    M->lt = false;
    for (int t = 0; t < M->n_trees; t++)
        for (int i = 0; i < M->trees[t].n; i++)
            if (M->trees[t].left[i] != -1 && M->trees[t].feature[i] != M->td)
                M->trees[t].threshold[i] = 0.5;
    model_json(M, &json);
    rp_model *m = from_json(&json);
    CHECK(m != NULL);
    if (m) {
        for (int i = 0; i < ROWS; i++) {
            rows[i].n = 2;
            rows[i].idx[0] = j_column(M);
            rows[i].val[0] = 1.0;
            rows[i].idx[1] = (uint32_t)M->td;
            rows[i].val[1] = -3.0 + 16.0 * unit();
            double out;
            rp_code st;
            CHECK(rp__model_predict_fast(m, &rows[i], &out, &st) && st == RP_OK);
        }
        CHECK(check_rows(M, m, rows, ROWS) == 0);
        rp_model_release(m);
    }
    rp__buf_cleanup(&json);
    free(M);
}

/* Section table access for the image surgery below. */
static unsigned char *section(rp__buf *img, uint32_t id, uint64_t *size)
{
    uint32_t ns;
    memcpy(&ns, img->data + 36, 4);
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t sid;
        uint64_t off;
        memcpy(&sid, img->data + 64 + 24 * i, 4);
        memcpy(&off, img->data + 64 + 24 * i + 8, 8);
        memcpy(size, img->data + 64 + 24 * i + 16, 8);
        if (sid == id)
            return (unsigned char *)img->data + off;
    }
    return NULL;
}

static void fix_checksums(rp__buf *img)
{
    uint64_t pay = XXH3_64bits(img->data + 64, img->len - 64);
    memcpy(img->data + 24, &pay, 8);
    uint64_t h = XXH3_64bits(img->data, 56);
    memcpy(img->data + 56, &h, 8);
}

TEST(older_images_and_walk_markers_give_the_same_answers)
{
    model *M = malloc(sizeof *M);
    rp__buf json;
    rp__buf_init(&json, 1 << 26);
    static rp_row rows[ROWS];
    for (int iter = 0; iter < 40; iter++) {
        random_model(M);
        model_json(M, &json);
        rp_model *m = from_json(&json);
        if (!m) {
            CHECK(!"model loads");
            continue;
        }
        for (int i = 0; i < ROWS; i++)
            random_row(M, &rows[i]);
        rp__buf img = native_bytes(m);
        rp_model_release(m);

        /* Without the fast sections (a file of an older ridepred): they are
         * the last five of the table; drop them from the count. */
        rp__buf old;
        rp__buf_init(&old, 1 << 26);
        rp__buf_append(&old, img.data, img.len);
        uint32_t ns;
        memcpy(&ns, old.data + 36, 4);
        uint32_t last;
        memcpy(&last, old.data + 64 + 24 * (ns - 1), 4);
        CHECK(ns == 12 && last == RP_SEC_FAST_COLINFO);
        ns = 7;
        memcpy(old.data + 36, &ns, 4);
        fix_checksums(&old);
        rp_model *o = NULL;
        rp_error err;
        CHECK(rp_model_from_native(old.data, old.len, true, NULL, &o, &err) == 0);
        if (o) {
            CHECK(!rp__model_has_fast_path(o));
            CHECK(check_rows(M, o, rows, ROWS) == 0);
            rp_model_release(o);
        }
        rp__buf_cleanup(&old);

        /* Every column mode left to the walk (as when over the budget). */
        uint64_t size;
        unsigned char *ci = section(&img, RP_SEC_FAST_COLINFO, &size);
        CHECK(ci != NULL && size % sizeof(rp__img_fast_col) == 0);
        for (uint64_t k = 0; ci && k < size / sizeof(rp__img_fast_col); k++) {
            rp__img_fast_col c;
            memcpy(&c, ci + k * sizeof c, sizeof c);
            if (k % 2) {
                c.off[0] = c.off[1] = RP_FAST_WALK;
            } else {
                c.off[k % 4 == 0] = RP_FAST_WALK;
            }
            memcpy(ci + k * sizeof c, &c, sizeof c);
        }
        fix_checksums(&img);
        rp_model *w = NULL;
        CHECK(rp_model_from_native(img.data, img.len, true, NULL, &w, &err) == 0);
        if (w) {
            CHECK(rp__model_has_fast_path(w));
            CHECK(check_rows(M, w, rows, ROWS) == 0);
            rp_model_release(w);
        }
        rp__buf_cleanup(&img);
    }
    rp__buf_cleanup(&json);
    free(M);
}

/* Damage: every byte of an image flipped, the checksum not verified; the
 * structural checks and the checks at use must keep every read in bounds
 * (this test is run under ASan by `make asan`). */
TEST(damaged_images_never_read_out_of_bounds)
{
    model *M = malloc(sizeof *M);
    rp__buf json;
    rp__buf_init(&json, 1 << 26);
    static rp_row rows[64];
    static double out[64];
    static rp_code st[64];
    int models = 0;
    for (int iter = 0; iter < 200 && models < 3; iter++) {
        random_model(M);
        M->n_trees = 1 + (int)below(4);
        model_json(M, &json);
        rp_model *m = from_json(&json);
        if (!m)
            continue;
        rp__buf img = native_bytes(m);
        rp_model_release(m);
        uint64_t size;
        unsigned char *sums = section(&img, RP_SEC_FAST_SUMS, &size);
        if (img.len > 24000 || !sums || size <= 8 * 16) { /* small, with some column spans */
            rp__buf_cleanup(&img);
            continue;
        }
        models++;
        for (int i = 0; i < 64; i++)
            random_row(M, &rows[i]);
        /* also rows of every column, x present and not */
        for (int i = 0; i < 32 && i < M->nf; i++) {
            rows[i].n = 1 + (i % 2);
            rows[i].idx[0] = (uint32_t)i;
            rows[i].val[0] = 1.0;
            rows[i].idx[1] = (uint32_t)M->td;
            rows[i].val[1] = (double)i / 4.0;
        }
        rp_model_load_opts noverify = {.verify_checksum = false};
        static const unsigned char pat[] = {0x5a, 0xff, 0x80};
        char hdr[64];
        memcpy(hdr, img.data, 64);
        for (size_t i = 0; i < img.len; i++) {
            unsigned char p = pat[i % 3];
            img.data[i] ^= (char)p;
            if (i < 56) { /* let header damage reach the structure checks */
                uint64_t h = XXH3_64bits(img.data, 56);
                memcpy(img.data + 56, &h, 8);
            }
            rp_model *d = NULL;
            rp_error err;
            if (rp_model_from_native(img.data, img.len, true, &noverify, &d, &err) == 0) {
                rp_model_predict_batch(d, rows, 64, out, st);
                rp_model_release(d);
            }
            img.data[i] ^= (char)p;
            memcpy(img.data, hdr, 64);
        }
        rp__buf_cleanup(&img);
    }
    CHECK(models == 3);
    rp__buf_cleanup(&json);
    free(M);
}

int main(void)
{
    RUN(fast_path_equals_walk_and_reference);
    RUN(ride_rows_take_the_fast_path);
    RUN(older_images_and_walk_markers_give_the_same_answers);
    RUN(damaged_images_never_read_out_of_bounds);
    return rp_t_done();
}
