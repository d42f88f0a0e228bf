/* XGBoost reader: UBJSON parsing, the schema, refusals, float32 sums. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/buf.h"
#include "model/xgboost.h"
#include "ridepred/model.h"
#include "testing.h"

/* ---- a tiny UBJSON writer (as XGBoost writes: L lengths, typed arrays) -- */

typedef struct w {
    unsigned char b[8192];
    size_t n;
} w;

static void put(w *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put_c(w *o, char c)
{
    o->b[o->n++] = (unsigned char)c;
}
static void put_be(w *o, uint64_t x, int n)
{
    for (int i = n - 1; i >= 0; i--)
        o->b[o->n++] = (unsigned char)(x >> (8 * i));
}
static void key(w *o, const char *k)
{
    put_c(o, 'L');
    put_be(o, strlen(k), 8);
    put(o, k, strlen(k));
}
static void sval(w *o, const char *s)
{
    put_c(o, 'S');
    key(o, s);
}
static void f32arr(w *o, const float *v, size_t n)
{
    put(o, "[$d#L", 5);
    put_be(o, n, 8);
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], 4);
        put_be(o, b, 4);
    }
}
static void i32arr(w *o, const int32_t *v, size_t n)
{
    put(o, "[$l#L", 5);
    put_be(o, n, 8);
    for (size_t i = 0; i < n; i++)
        put_be(o, (uint32_t)v[i], 4);
}
static void u8arr(w *o, const uint8_t *v, size_t n)
{
    put(o, "[$U#L", 5);
    put_be(o, n, 8);
    put(o, v, n);
}

/* One stump per tree: x0 < thr ? a : b, default_left dl; feature names
 * "PU_DO=1_2", "trip_distance". */
static void model_ubj(w *o, const char *objective, const char *booster, const char *base, size_t ntrees,
                      const float *thr, const float *a, const float *b, int dl, bool names)
{
    o->n = 0;
    put_c(o, '{');
    key(o, "learner");
    put_c(o, '{');
    key(o, "feature_names");
    if (names) {
        put(o, "[#L", 3);
        put_be(o, 2, 8);
        sval(o, "PU_DO=1_2");
        sval(o, "trip_distance");
    } else {
        put(o, "[]", 2);
    }
    key(o, "gradient_booster");
    put_c(o, '{');
    key(o, "model");
    put_c(o, '{');
    key(o, "trees");
    put_c(o, '[');
    for (size_t t = 0; t < ntrees; t++) {
        put_c(o, '{');
        int32_t l[3] = {1, -1, -1}, r[3] = {2, -1, -1}, f[3] = {1, 0, 0};
        float sc[3] = {thr[t], a[t], b[t]};
        uint8_t d[3] = {(uint8_t)dl, 0, 0};
        key(o, "left_children");
        i32arr(o, l, 3);
        key(o, "right_children");
        i32arr(o, r, 3);
        key(o, "split_indices");
        i32arr(o, f, 3);
        key(o, "split_conditions");
        f32arr(o, sc, 3);
        key(o, "default_left");
        u8arr(o, d, 3);
        put_c(o, '}');
    }
    put_c(o, ']');
    key(o, "tree_info");
    put(o, "[#L", 3);
    put_be(o, ntrees, 8);
    for (size_t t = 0; t < ntrees; t++)
        put(o, "i\0", 2);
    put_c(o, '}');
    key(o, "name");
    sval(o, booster);
    put_c(o, '}');
    key(o, "learner_model_param");
    put_c(o, '{');
    key(o, "base_score");
    sval(o, base);
    key(o, "num_feature");
    sval(o, "2");
    put_c(o, '}');
    key(o, "objective");
    put_c(o, '{');
    key(o, "name");
    sval(o, objective);
    put_c(o, '}');
    put_c(o, '}');
    key(o, "version");
    put(o, "[$i#i\x03\x01\x07\x04", 9);
    put_c(o, '}');
}

static double predict(rp_model *m, int n, const uint32_t *idx, const double *val)
{
    rp_row row = {.n = n};
    for (int i = 0; i < n; i++) {
        row.idx[i] = idx[i];
        row.val[i] = val[i];
    }
    double y = NAN;
    rp_error err;
    if (rp_model_predict(m, &row, &y, &err) < 0)
        return NAN;
    return y;
}

TEST(ubjson_stump_and_missing)
{
    w o;
    float thr[1] = {2.5f}, a[1] = {1.25f}, b[1] = {-3.5f};
    model_ubj(&o, "reg:squarederror", "gbtree", "5E-1", 1, thr, a, b, 1, true);
    CHECK(rp__xgb_sniff(o.b, o.n) == RP_XGB_UBJSON);
    rp_model *m = NULL;
    rp_error err;
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) == 0);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    rp_model_info in;
    rp_model_get_info(m, &in);
    CHECK(in.sum_f32);
    CHECK(in.split == RP_SPLIT_LT);
    CHECK(rp_model_trip_distance(m) == 1);
    uint32_t idx[1] = {1};
    double v;
    v = 2.4;
    CHECK(predict(m, 1, idx, &v) == 0.5 + 1.25);
    v = 2.5; /* x < 2.5 is false: right */
    CHECK(predict(m, 1, idx, &v) == 0.5 - 3.5);
    v = 0.0; /* present 0 is a value */
    CHECK(predict(m, 1, idx, &v) == 0.5 + 1.25);
    /* absent: missing, default_left */
    CHECK(predict(m, 0, idx, &v) == 0.5 + 1.25);
    rp_model_release(m);

    /* default right: absent goes right, although 0 < 2.5 */
    model_ubj(&o, "reg:squarederror", "gbtree", "5E-1", 1, thr, a, b, 0, true);
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) == 0);
    if (m) {
        CHECK(predict(m, 0, idx, &v) == 0.5 - 3.5);
        v = 0.0;
        CHECK(predict(m, 1, idx, &v) == 0.5 + 1.25);
        rp_model_release(m);
    }
}

TEST(float32_accumulation)
{
    /* base 1, then 1e-8 twice: float32 keeps 1 (each step rounds back),
     * double would give 1.00000002. */
    w o;
    float thr[3] = {1, 1, 1}, a[3] = {1e-8f, 1e-8f, 0.1f}, b[3] = {0, 0, 0};
    model_ubj(&o, "reg:linear", "gbtree", "1", 3, thr, a, b, 1, true);
    rp_model *m = NULL;
    rp_error err;
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) == 0);
    if (!m)
        return;
    float acc = 1.0f;
    acc += 1e-8f;
    acc += 1e-8f;
    acc += 0.1f;
    uint32_t idx[1] = {1};
    double v = 0.5;
    CHECK(predict(m, 1, idx, &v) == (double)acc);
    CHECK(predict(m, 0, idx, &v) == (double)acc);
    /* the batch walk without the fast path agrees */
    rp_row rows[2] = {{.n = 1, .idx = {1}, .val = {0.5}}, {.n = 0}};
    double out[2];
    rp_code st[2];
    rp_model_predict_batch(m, rows, 2, out, st);
    CHECK(out[0] == (double)acc && out[1] == (double)acc);
    /* native round trip keeps the flag */
    CHECK(rp_model_write_native(m, "/tmp/rp-test-xgb-f32.bin", &err) == 0);
    rp_model *n = NULL;
    CHECK(rp_model_load("/tmp/rp-test-xgb-f32.bin", NULL, &n, &err) == 0);
    if (n) {
        CHECK(predict(n, 1, idx, &v) == (double)acc);
        rp_model_release(n);
    }
    remove("/tmp/rp-test-xgb-f32.bin");
    rp_model_release(m);
}

TEST(refusals)
{
    w o;
    float thr[1] = {2.5f}, a[1] = {1.25f}, b[1] = {-3.5f};
    rp_model *m = NULL;
    rp_error err;
    model_ubj(&o, "reg:logistic", "gbtree", "5E-1", 1, thr, a, b, 1, true);
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "objective reg:logistic is not supported") != NULL);
    model_ubj(&o, "reg:squarederror", "gblinear", "5E-1", 1, thr, a, b, 1, true);
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "booster gblinear is not supported") != NULL);
    model_ubj(&o, "reg:squarederror", "dart", "5E-1", 1, thr, a, b, 1, true);
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "booster dart is not supported") != NULL);
    model_ubj(&o, "reg:squarederror", "gbtree", "5E-1", 1, thr, a, b, 1, false);
    CHECK(rp__xgb_from_buffer(o.b, o.n, NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "no feature names") != NULL);
    /* names from a preprocessor */
    const char *names[2] = {"PU_DO=1_2", "trip_distance"};
    size_t lens[2] = {9, 13};
    rp__xgb_opts xo = {.n_features = 2, .feature_names = names, .feature_lens = lens, .version = "v1"};
    CHECK(rp__xgb_from_buffer(o.b, o.n, &xo, &m, &err) == 0);
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(in.version_len == 2 && !memcmp(in.version, "v1", 2));
        rp_model_release(m);
    }
    xo.n_features = 1;
    CHECK(rp__xgb_from_buffer(o.b, o.n, &xo, &m, &err) < 0);
    CHECK(strstr(err.msg, "preprocessor has 1 columns") != NULL);
    /* legacy binary: recognised here; read through libxgboost, which the
     * integration test (test_xgboost_parity.py) covers: libxgboost is C++
     * and throws internally, which a sanitized C test binary cannot host. */
    CHECK(rp__xgb_sniff("binf\0\0\0\0", 8) == RP_XGB_LEGACY);
    /* neither '{' nor the "binf" magic: refused without loading libxgboost */
    CHECK(rp__xgb_from_buffer("\x01\x02\x03\x04\x05", 5, NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "not an XGBoost model") != NULL);
    /* every truncation of a good model is refused, without a crash */
    model_ubj(&o, "reg:squarederror", "gbtree", "5E-1", 1, thr, a, b, 1, true);
    int refused = 0;
    for (size_t k = 0; k < o.n; k++) {
        if (rp__xgb_from_buffer(o.b, k, NULL, &m, &err) < 0)
            refused++;
        else
            rp_model_release(m);
    }
    CHECK(refused == (int)o.n);
}

TEST(ubjson_reader)
{
    rp_error err;
    /* the UBJSON forms: uncounted, counted, typed, no-op N, H numbers, C */
    static const unsigned char ok1[] = "{i\x01"
                                       "a[i\x01U\xffI\x01\x00l\x00\x00\x00\x01]i\x01"
                                       "b[#i\x02SU\x01xZ}";
    CHECK(rp__xgb_parse_only(ok1, sizeof ok1 - 1, false, &err) == 0);
    static const unsigned char ok2[] = "[N$d#i\x01\x3f\x80\x00\x00";
    CHECK(rp__xgb_parse_only(ok2, sizeof ok2 - 1, false, &err) < 0); /* N before $ is not allowed */
    static const unsigned char ok3[] = "[$d#i\x01\x3f\x80\x00\x00";
    CHECK(rp__xgb_parse_only(ok3, sizeof ok3 - 1, false, &err) == 0);
    static const unsigned char ok4[] = "[HU\x03"
                                       "1.5CxTFZD\x3f\xf0\x00\x00\x00\x00\x00\x00]";
    CHECK(rp__xgb_parse_only(ok4, sizeof ok4 - 1, false, &err) == 0);
    /* counts beyond the data */
    static const unsigned char big[] = "[$d#L\x00\x00\x00\x00\xff\xff\xff\xff";
    CHECK(rp__xgb_parse_only(big, sizeof big - 1, false, &err) < 0);
    CHECK(strstr(err.msg, "UBJSON") != NULL);
    static const unsigned char neg[] = "[#i\xff";
    CHECK(rp__xgb_parse_only(neg, sizeof neg - 1, false, &err) < 0);
    static const unsigned char zs[] = "[$Z#L\x00\x00\x00\x00\x7f\xff\xff\xff";
    CHECK(rp__xgb_parse_only(zs, sizeof zs - 1, false, &err) < 0);
    /* bad markers, trailing bytes, a key without length marker */
    CHECK(rp__xgb_parse_only("[q]", 3, false, &err) < 0);
    CHECK(rp__xgb_parse_only("[]x", 3, false, &err) < 0);
    CHECK(rp__xgb_parse_only("{Sa}", 4, false, &err) < 0);
    CHECK(rp__xgb_parse_only("[$q#i\x01", 6, false, &err) < 0);
    CHECK(rp__xgb_parse_only("[$d]", 4, false, &err) < 0);
    /* deep nesting */
    unsigned char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(rp__xgb_parse_only(deep, 200, false, &err) < 0);
    CHECK(strstr(err.msg, "deeper") != NULL);
    /* JSON through the project's reader */
    const char *js = "{\"a\": [1, 2.5, \"x\", {\"b\": null}]}";
    CHECK(rp__xgb_parse_only(js, strlen(js), true, &err) == 0);
    CHECK(rp__xgb_parse_only("{\"a\": [1, 2.5,", 14, true, &err) < 0);
}

/* UBJSON containers of zero-size elements ($Z, $T, $F) declare counts that
 * take no bytes: each may claim the rest of the file, so 2,000 of them in
 * an 18 KB file made 32 million values (990 MB).  The parsed document is
 * counted against the load's build budget. */
TEST(ubjson_declared_counts_bounded)
{
    size_t k = 2000, len = 2 + 9 * k;
    unsigned char *d = malloc(len);
    size_t n = 0;
    d[n++] = '[';
    for (size_t i = 0; i < k; i++) {
        uint32_t left = (uint32_t)(len - n - 9);
        memcpy(d + n, "[$Z#l", 5);
        d[n + 5] = (unsigned char)(left >> 24);
        d[n + 6] = (unsigned char)(left >> 16);
        d[n + 7] = (unsigned char)(left >> 8);
        d[n + 8] = (unsigned char)left;
        n += 9;
    }
    d[n++] = ']';
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    rp_error err;
    CHECK(rp__xgb_parse_only(d, n, false, &err) < 0);
    getrusage(RUSAGE_SELF, &ru1);
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(strstr(err.msg, "(the parsed document), over the limit of") != NULL);
    CHECK(strstr(err.msg, "--max-model-bytes") != NULL);
    fprintf(stderr, "  %zu-byte UBJSON of zero-size counts: refused, max RSS +%ld KB\n", n,
            ru1.ru_maxrss - ru0.ru_maxrss);
    CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 256 * 1024); /* ASan included: 120 MB */
    /* As a model, under a budget of 1 MB: refused at once. */
    unsigned char *doc = malloc(n + 5);
    memcpy(doc, "{i\x01k", 4);
    memcpy(doc + 4, d, n);
    doc[n + 4] = '}';
    CHECK(rp__xgb_sniff(doc, n + 5) == RP_XGB_UBJSON);
    rp__xgb_opts xo = {.max_build_bytes = 1 << 20};
    rp_model *m = NULL;
    CHECK(rp__xgb_from_buffer(doc, n + 5, &xo, &m, &err) < 0 && m == NULL);
    CHECK(err.code == RP_ERR_LIMIT && strstr(err.msg, "over the limit of 1048576 bytes (as set)") != NULL);
    free(doc);
    free(d);
}

TEST(json_model)
{
    const char *doc =
        "{\"learner\":{\"feature_names\":[\"PU_DO=1_2\",\"trip_distance\"],"
        "\"gradient_booster\":{\"model\":{\"trees\":[{\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
        "\"split_indices\":[1,0,0],\"split_conditions\":[2.5,1.25,-3.5],\"default_left\":[true,false,false],"
        "\"split_type\":[0,0,0]}],\"tree_info\":[0]},\"name\":\"gbtree\"},"
        "\"learner_model_param\":{\"base_score\":\"[5E-1]\",\"num_feature\":\"2\",\"num_class\":\"0\"},"
        "\"objective\":{\"name\":\"reg:squarederror\"}},\"version\":[2,1,0]}";
    CHECK(rp__xgb_sniff(doc, strlen(doc)) == RP_XGB_JSON);
    CHECK(rp__xgb_sniff("{\"format\": \"ridepred.model/1\"}", 30) == RP_XGB_NOT);
    rp_model *m = NULL;
    rp_error err;
    CHECK(rp__xgb_from_buffer(doc, strlen(doc), NULL, &m, &err) == 0);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    uint32_t idx[1] = {1};
    double v = 1.0;
    CHECK(predict(m, 1, idx, &v) == 1.75);
    CHECK(predict(m, 0, idx, &v) == 1.75);
    rp_model_release(m);
    /* categorical split refused */
    char *cat = strdup(doc);
    char *p = strstr(cat, "\"split_type\":[0");
    p[14] = '1';
    CHECK(rp__xgb_from_buffer(cat, strlen(cat), NULL, &m, &err) < 0);
    CHECK(strstr(err.msg, "categorical") != NULL);
    free(cat);
}

int main(void)
{
    RUN(ubjson_stump_and_missing);
    RUN(float32_accumulation);
    RUN(refusals);
    RUN(ubjson_reader);
    RUN(json_model);
    RUN(ubjson_declared_counts_bounded);
    return rp_t_done();
}
