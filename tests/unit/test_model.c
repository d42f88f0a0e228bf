/* Models: the JSON format's rules, tree semantics (float32 values, le/lt,
 * default_left, mean/sum + base), the native format's round trip and its
 * refusal of damaged files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "model/image.h"
#include "model/model.h"
#include "ridepred/model.h"
#include "testing.h"

static rp_model *load(const char *json, rp_error *err)
{
    rp_model *m = NULL;
    if (rp_model_from_json(json, strlen(json), &m, err) < 0)
        return NULL;
    return m;
}

static void refused(const char *json, const char *msg_part)
{
    rp_error err;
    rp_model *m = load(json, &err);
    CHECK(m == NULL);
    if (m) {
        rp_model_release(m);
        return;
    }
    if (!strstr(err.msg, msg_part)) {
        CHECK(!"error names the problem");
        fprintf(stderr, "  got: %s\n  want: %s\n", err.msg, msg_part);
    }
}

static double predict(rp_model *m, int n, const uint32_t *idx, const double *val)
{
    rp_row row = {.n = n};
    for (int i = 0; i < n; i++) {
        row.idx[i] = idx[i];
        row.val[i] = val[i];
    }
    double out = NAN;
    rp_error err;
    CHECK(rp_model_predict(m, &row, &out, &err) == 0);
    return out;
}

#define TREE1(th, split, extra)                                                                              \
    "{\"format\": \"ridepred.model/1\", \"features\": [\"PU_DO=a_b\", \"trip_distance\"], "                  \
    "\"estimator\": {\"type\": \"trees\", \"split\": \"" split "\", " extra "\"trees\": "                    \
    "[{\"left\": [1, -1, -1], \"right\": [2, -1, -1], \"feature\": [1, -2, -2], "                            \
    "\"threshold\": [" th ", -2, -2], \"value\": [0, 1.0, 2.0]}]}}"

TEST(linear_sums_in_row_order)
{
    rp_error err;
    rp_model *m = load("{\"format\": \"ridepred.model/1\", \"features\": [\"PU_DO=1_2\", \"trip_distance\"], "
                       "\"estimator\": {\"type\": \"linear\", \"coef\": [1.5, 3.25], \"intercept\": 10.1}}",
                       &err);
    CHECK(m != NULL);
    if (!m)
        return;
    uint32_t idx[] = {0, 1};
    double val[] = {1.0, 3.66};
    CHECK(predict(m, 2, idx, val) == 0.0 + 1.0 * 1.5 + 3.66 * 3.25 + 10.1);
    CHECK(rp_model_onehot(m, "PU_DO=1_2", 9) == 0);
    CHECK(rp_model_onehot(m, "PU_DO=1_3", 9) == -1);
    CHECK(rp_model_onehot(m, "trip_distance", 13) == -1);
    CHECK(rp_model_trip_distance(m) == 1);
    rp_model_release(m);
}

TEST(trees_compare_float32_values)
{
    rp_error err;
    /* float32(3.66) = 3.6600000858306885 > 3.66: scikit-learn goes right. */
    rp_model *m = load(TREE1("3.66", "le", ""), &err);
    CHECK(m != NULL);
    if (!m)
        return;
    uint32_t idx[] = {1};
    double v = 3.66;
    CHECK(predict(m, 1, idx, &v) == 2.0);
    v = 3.6599999;
    CHECK(predict(m, 1, idx, &v) == 1.0);
    rp_model_release(m);
    /* threshold exactly float32(3.66): le goes left, lt goes right */
    m = load(TREE1("3.6600000858306885", "le", ""), &err);
    v = 3.66;
    CHECK(m && predict(m, 1, idx, &v) == 1.0);
    rp_model_release(m);
    m = load(TREE1("3.6600000858306885", "lt", ""), &err);
    CHECK(m && predict(m, 1, idx, &v) == 2.0);
    rp_model_release(m);
}

TEST(absent_features_are_zero_or_default)
{
    rp_error err;
    rp_model *m = load(TREE1("0.5", "le", ""), &err);
    CHECK(m && predict(m, 0, NULL, NULL) == 1.0); /* 0 <= 0.5 */
    rp_model_release(m);
    m = load(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"PU_DO=a_b\", \"trip_distance\"], "
        "\"estimator\": {\"type\": \"trees\", \"split\": \"lt\", \"trees\": "
        "[{\"left\": [1, -1, -1], \"right\": [2, -1, -1], \"feature\": [1, 0, 0], "
        "\"threshold\": [0.5, 0, 0], \"value\": [0, 1.0, 2.0], \"default_left\": [false, true, true]}]}}",
        &err);
    CHECK(m != NULL);
    CHECK(m && predict(m, 0, NULL, NULL) == 2.0); /* missing goes right */
    uint32_t idx[] = {1};
    double v = 0.0;
    CHECK(m && predict(m, 1, idx, &v) == 1.0); /* present 0 < 0.5 goes left */
    rp_model_release(m);
}

TEST(combine_mean_and_sum)
{
    rp_error err;
    const char *two =
        "{\"format\": \"ridepred.model/1\", \"features\": [\"trip_distance\"], \"estimator\": {\"type\": \"trees\", "
        "\"combine\": \"%s\", \"base\": %s, \"trees\": [{\"left\": [-1], \"right\": [-1], \"feature\": [0], "
        "\"threshold\": [0], \"value\": [0.1]}, {\"left\": [-1], \"right\": [-1], \"feature\": [0], \"threshold\": [0], "
        "\"value\": [0.2]}, {\"left\": [-1], \"right\": [-1], \"feature\": [0], \"threshold\": [0], \"value\": [0.4]}]}}";
    char doc[1024];
    snprintf(doc, sizeof doc, two, "mean", "0");
    rp_model *m = load(doc, &err);
    volatile double a = 0.1, b = 0.2, c = 0.4, base = 5.5;
    CHECK(m && predict(m, 0, NULL, NULL) == (0.0 + a + b + c) / 3.0);
    rp_model_release(m);
    snprintf(doc, sizeof doc, two, "mean", "5.5");
    m = load(doc, &err);
    CHECK(m && predict(m, 0, NULL, NULL) == (0.0 + a + b + c) / 3.0 + base);
    rp_model_release(m);
    snprintf(doc, sizeof doc, two, "sum", "5.5");
    m = load(doc, &err);
    CHECK(m && predict(m, 0, NULL, NULL) == base + a + b + c);
    rp_model_release(m);
}

TEST(float32_overflow_refused_for_trees)
{
    rp_error err;
    rp_model *m = load(TREE1("0.5", "le", ""), &err);
    rp_row row = {.n = 1, .idx = {1}, .val = {1e39}};
    double out;
    CHECK(m && rp_model_predict(m, &row, &out, &err) == -1);
    CHECK(strstr(err.msg, "float32") != NULL);
    rp_model_release(m);
}

TEST(json_models_refused_with_reasons)
{
    refused("[]", "JSON object");
    refused("{\"format\": \"x\"}", "ridepred.model/1");
    refused("{\"format\": \"ridepred.model/1\", \"estimator\": {\"type\": \"linear\"}}", "features");
    refused("{\"format\": \"ridepred.model/1\", \"features\": [\"a\"]}", "estimator");
    refused("{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"svm\"}}",
            "svm");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"linear\", \"coef\": [1, 2], \"intercept\": 0}}",
        "2 values for 1 features");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\", \"a\"], \"estimator\": {\"type\": \"linear\", \"coef\": [1, 2], \"intercept\": 0}}",
        "appears twice");
    refused("{\"format\": \"ridepred.model/1\", \"features\": [1], \"estimator\": {}}", "features[0]");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"linear\", \"coef\": [NaN], \"intercept\": 0}}",
        "finite");
    refused(TREE1("NaN", "le", ""), "NaN threshold");
    refused(TREE1("1", "ge", ""), "split");
    refused(TREE1("1", "le", "\"combine\": \"max\", "), "combine");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": []}}",
        "at least one tree");
    /* a cycle, a shared node, a child out of range, a feature out of range */
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [1, 0], \"right\": [1, 0], \"feature\": [0, 0], \"threshold\": [0, 0], \"value\": [0, 0]}]}}",
        "reached twice");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [5, -1], \"right\": [1, -1], \"feature\": [0, 0], \"threshold\": [0, 0], \"value\": [0, 0]}]}}",
        "out of range");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [1, -1, -1], \"right\": [2, -1, -1], \"feature\": [3, 0, 0], \"threshold\": [0, 0, 0], \"value\": [0, 0, 0]}]}}",
        "tests feature 3");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [-1], \"right\": [-1, 2], \"feature\": [0], \"threshold\": [0], \"value\": [0]}]}}",
        "same length");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [1.5], \"right\": [-1], \"feature\": [0], \"threshold\": [0], \"value\": [0]}]}}",
        "integers");
    refused(
        "{\"format\": \"ridepred.model/1\", \"features\": [\"a\"], \"estimator\": {\"type\": \"trees\", \"trees\": [{\"left\": [-1], \"right\": [3], \"feature\": [0], \"threshold\": [0], \"value\": [0]}]}}",
        "one child");
    refused("{\"format\": \"ridepred.model/1\"", "not valid JSON");
}

static rp__buf native_of(const char *json)
{
    rp__buf b;
    rp__buf_init(&b, 1 << 24);
    rp_error err;
    rp_model *m = load(json, &err);
    CHECK(m != NULL);
    char path[] = "/tmp/rp-test-model-XXXXXX";
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
    rp_model_release(m);
    return b;
}

TEST(native_round_trip_and_damage)
{
    const char *json = TREE1("3.66", "le", "\"combine\": \"mean\", \"base\": 0.25, ");
    rp__buf b = native_of(json);
    rp_error err;
    rp_model *m = NULL;
    CHECK(rp_model_from_native(b.data, b.len, true, NULL, &m, &err) == 0);
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(in.kind == RP_MODEL_TREES && in.n_trees == 1 && in.n_nodes == 3 && in.n_leaves == 2 &&
              in.max_depth == 1);
        CHECK(!strcmp(in.format, "native"));
        uint32_t idx[] = {1};
        double v = 3.66;
        CHECK(predict(m, 1, idx, &v) == 2.0 + 0.25);
        rp_model_release(m);
    }
    /* truncated at every length */
    for (size_t n = 0; n < b.len; n += 7) {
        m = NULL;
        CHECK(rp_model_from_native(b.data, n, true, NULL, &m, &err) == -1);
        rp_model_release(m);
    }
    /* every single-byte flip is caught (checksums), or, unverified, never
     * read out of bounds (ASan runs this) */
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x5a;
        m = NULL;
        CHECK(rp_model_from_native(b.data, b.len, true, NULL, &m, &err) == -1);
        rp_model_release(m);
        rp_model_load_opts noverify = {.verify_checksum = false};
        m = NULL;
        if (rp_model_from_native(b.data, b.len, true, &noverify, &m, &err) == 0) {
            rp_row row = {.n = 1, .idx = {1}, .val = {3.66}};
            double out;
            rp_model_predict(m, &row, &out, &err);
            rp_model_release(m);
        }
        b.data[i] ^= 0x5a;
    }
    CHECK(rp_model_from_native("RIDEPREX", 8, true, NULL, &m, &err) == -1);
    CHECK(strstr(err.msg, "not a ridepred native model") != NULL);
    rp__buf_cleanup(&b);
}

TEST(load_detects_format)
{
    rp_error err;
    rp_model *m = NULL;
    CHECK(rp_model_load("/nonexistent/model.json", NULL, &m, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    char path[] = "/tmp/rp-test-json-XXXXXX";
    int fd = mkstemp(path);
    const char *json = TREE1("1", "le", "");
    CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    CHECK(rp_model_load(path, NULL, &m, &err) == 0);
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(!strcmp(in.format, "json"));
        rp_model_release(m);
    }
    unlink(path);
}

static void put(const char *dir, const char *name, const char *text, size_t len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(2);
    }
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* rp_model_load picks the reader by the first bytes (load.c's table, in
 * order: directory, pickle PROTO, XGBoost UBJSON, native magic, else JSON:
 * XGBoost's when it has a top-level "learner"), each error prefixed with
 * the path and the reader; no descriptor stays open, loaded or refused. */
TEST(load_dispatches_by_first_bytes)
{
    char dir[256], p[600], want[800];
    rp_t_tmpdir(dir, sizeof dir, "rp_model_sniff");
    rp_error err;
    rp_model *m = NULL;
    int fds = open_fds();
    CHECK(fds > 0);
    static const struct {
        const char *name, *bytes;
        size_t len;
        const char *msg; /* after "model PATH: " */
    } refused[] = {
        {"p.pkl", "\x80\x02garbage", 9, "pickle (offset 2): opcode 0x67 is not supported"},
        {"u.ubj", "{i\x01", 3, "XGBoost UBJSON model: not valid UBJSON"},
        {"x.json", "{\"learner\": 1}", 14, "XGBoost JSON model: not an XGBoost model: no \"learner\" object"},
        {"magic", "RIDEPRED", 8, "not a ridepred native model"},
        {"short", "RIDEPRE", 7, "not valid JSON: expecting value at byte 0"},
        {"empty", "", 0, "not valid JSON: expecting value at byte 0"},
        {"one", "\x80", 1, "not valid JSON: expecting value at byte 0"},
        {"j.json", "{\"format\": \"ridepred.model/2\"}", 30, "not a ridepred.model/1 document"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        put(dir, refused[i].name, refused[i].bytes, refused[i].len);
        snprintf(p, sizeof p, "%s/%s", dir, refused[i].name);
        m = NULL;
        CHECK(rp_model_load(p, NULL, &m, &err) == -1 && m == NULL);
        snprintf(want, sizeof want, "model %s: %s", p, refused[i].msg);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fprintf(stderr, "  %s: got %s\n", refused[i].name, err.msg);
        CHECK(strncmp(err.msg, want, strlen(want)) == 0);
    }
    /* Served: JSON, native (mapped), an MLflow directory naming either. */
    const char *json = TREE1("1", "le", "");
    put(dir, "m.json", json, strlen(json));
    rp__buf nat = native_of(json);
    put(dir, "m.rpm", nat.data, nat.len);
    rp__buf_cleanup(&nat);
    static const char mlmodel[] = "flavors:\n  ridepred:\n    model: m.rpm\n";
    put(dir, "MLmodel", mlmodel, sizeof mlmodel - 1);
    static const struct {
        const char *name, *format;
    } served[] = {{"m.json", "json"}, {"m.rpm", "native"}, {"", "native"}};
    for (size_t i = 0; i < sizeof served / sizeof *served; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, served[i].name);
        m = NULL;
        CHECK(rp_model_load(p, NULL, &m, &err) == 0);
        if (m) {
            rp_model_info in;
            rp_model_get_info(m, &in);
            CHECK_STR(in.format, served[i].format);
            uint32_t idx[] = {1};
            double v = 2.0;
            CHECK(predict(m, 1, idx, &v) == 2.0);
            rp_model_release(m);
        }
    }
    CHECK(open_fds() == fds);
    CHECK(rp_t_rmtree(dir) == 0);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A FIFO where a model file is expected (the model itself, an MLflow
 * directory's MLmodel or model.pkl) is refused at once with its path: it
 * used to block the load forever. */
TEST(model_paths_must_be_files)
{
    char dir[256], p[600];
    rp_t_tmpdir(dir, sizeof dir, "rp_model_fifo");
    rp_error err;
    rp_model *m = NULL;
    snprintf(p, sizeof p, "%s/f.rpm", dir);
    CHECK(mkfifo(p, 0600) == 0);
    CHECK(rp_model_load(p, NULL, &m, &err) == -1 && m == NULL);
    CHECK(err.code == RP_ERR_IO);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "is a FIFO, not a regular file or a directory"));
    /* model.pkl inside an MLflow directory */
    static const char mlmodel[] =
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n";
    put(dir, "MLmodel", mlmodel, sizeof mlmodel - 1);
    snprintf(p, sizeof p, "%s/model.pkl", dir);
    CHECK(mkfifo(p, 0600) == 0);
    CHECK(rp_model_load(dir, NULL, &m, &err) == -1 && m == NULL);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "is a FIFO, not a regular file"));
    /* MLmodel itself */
    snprintf(p, sizeof p, "%s/MLmodel", dir);
    CHECK(unlink(p) == 0 && mkfifo(p, 0600) == 0);
    CHECK(rp_model_load(dir, NULL, &m, &err) == -1 && m == NULL);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "is a FIFO, not a regular file"));
    /* A directory where model.pkl should be */
    CHECK(unlink(p) == 0);
    put(dir, "MLmodel", mlmodel, sizeof mlmodel - 1);
    snprintf(p, sizeof p, "%s/model.pkl", dir);
    CHECK(unlink(p) == 0 && mkdir(p, 0700) == 0);
    CHECK(rp_model_load(dir, NULL, &m, &err) == -1 && m == NULL);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "is a directory, not a regular file"));
    CHECK(rp_t_rmtree(dir) == 0);
}

/* MLmodel nesting deeper than 64 levels is refused while libyaml streams it:
 * 200 KB of "[" took libyaml a minute of CPU to build into a document. */
TEST(mlmodel_depth_refused_while_streaming)
{
    char dir[256];
    rp_t_tmpdir(dir, sizeof dir, "rp_model_deep");
    rp_error err;
    rp_model *m = NULL;
    size_t levels = 100000;
    char *text = malloc(2 * levels + 16);
    size_t n = (size_t)sprintf(text, "flavors: ");
    memset(text + n, '[', levels);
    memset(text + n + levels, ']', levels);
    n += 2 * levels;
    text[n++] = '\n';
    put(dir, "MLmodel", text, n);
    double t0 = cpu_seconds();
    CHECK(rp_model_load(dir, NULL, &m, &err) == -1 && m == NULL);
    double took = cpu_seconds() - t0;
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(strstr(err.msg, "MLmodel nests deeper than 64 levels"));
    fprintf(stderr, "  200 KB MLmodel nested 100000 deep: refused in %.1f ms of CPU\n", took * 1e3);
    CHECK(took < 1.0); /* about 0.1 ms; a minute before */
    /* Flow mappings likewise. */
    n = (size_t)sprintf(text, "flavors: ");
    for (size_t i = 0; i < 20000; i++)
        n += (size_t)sprintf(text + n, "{a: ");
    memset(text + n, '}', 20000);
    n += 20000;
    text[n++] = '\n';
    put(dir, "MLmodel", text, n);
    CHECK(rp_model_load(dir, NULL, &m, &err) == -1 && err.code == RP_ERR_LIMIT);
    CHECK(strstr(err.msg, "deeper than 64 levels"));
    /* 64 levels are read (the root mapping and 63 sequences); 65 are not. */
    for (size_t depth = 64; depth <= 65; depth++) {
        n = (size_t)sprintf(text, "flavors: ");
        memset(text + n, '[', depth - 1);
        memset(text + n + depth - 1, ']', depth - 1);
        n += 2 * (depth - 1);
        text[n++] = '\n';
        put(dir, "MLmodel", text, n);
        CHECK(rp_model_load(dir, NULL, &m, &err) == -1);
        CHECK(depth == 64 ? strstr(err.msg, "MLmodel has no \"flavors\" mapping") != NULL
                          : strstr(err.msg, "deeper than 64 levels") != NULL);
    }
    free(text);
    CHECK(rp_t_rmtree(dir) == 0);
}

/* The SOURCE section: the builder's JSON text, its round trip through the
 * native format, its cap, and models without one. */
TEST(source_section)
{
    rp__buf b;
    rp__buf_init(&b, RP_IMG_SOURCE_MAX);
    rp__img_source_str(&b, "flavor", "sklearn");
    rp__img_source_str(&b, "skipped", NULL);
    rp__img_source_int(&b, "pickle_protocol", 4);
    rp__img_source_strn(&b, "quote", "a\"b\xc3\xa9", 5);
    rp__img_source_members(&b, "\"classes\": [\"x.Y\"]");
    rp__img_source_end(&b);
    CHECK_STR(
        b.data,
        "{\"flavor\": \"sklearn\", \"pickle_protocol\": 4, \"quote\": \"a\\\"b\\u00e9\", \"classes\": [\"x.Y\"]}");

    static const char *const names[] = {"PU_DO=1_2", "trip_distance"};
    static const size_t lens[] = {9, 13};
    static const double coef[] = {1.5, 2.0};
    rp__img_src src = {.kind = RP_MODEL_LINEAR,
                       .name = "",
                       .version = "v",
                       .version_len = 1,
                       .n_features = 2,
                       .feature_names = names,
                       .feature_lens = lens,
                       .coef = coef,
                       .intercept = 3.0,
                       .source = b.data,
                       .source_len = b.len};
    rp_error err;
    rp_model *m = NULL;
    CHECK(rp__model_build(&src, "test", &m, &err) == 0);
    char path[] = "/tmp/rp-test-source-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    if (m) {
        CHECK(rp_model_write_native(m, path, &err) == 0);
        rp_model_release(m);
        m = NULL;
        CHECK(rp_model_load(path, NULL, &m, &err) == 0);
    }
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(in.source && in.source_len == b.len && !memcmp(in.source, b.data, b.len));
        rp_model_release(m);
    }
    unlink(path);

    /* no source: info says so */
    src.source = NULL;
    src.source_len = 0;
    m = NULL;
    CHECK(rp__model_build(&src, "test", &m, &err) == 0);
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(in.source == NULL && in.source_len == 0);
        rp_model_release(m);
    }
    /* over the cap: refused by the builder; a builder overflow drops it */
    src.source = b.data;
    src.source_len = RP_IMG_SOURCE_MAX + 1;
    m = NULL;
    CHECK(rp__model_build(&src, "test", &m, &err) == -1 && m == NULL);
    CHECK(strstr(err.msg, "source") != NULL);
    rp__buf small;
    rp__buf_init(&small, 16);
    rp__img_source_str(&small, "flavor", "a value longer than the cap");
    rp__img_source_end(&small);
    CHECK(small.len == 0 && !small.failed);
    rp__buf_cleanup(&small);
    rp__buf_cleanup(&b);
}

int main(void)
{
    RUN(linear_sums_in_row_order);
    RUN(trees_compare_float32_values);
    RUN(absent_features_are_zero_or_default);
    RUN(combine_mean_and_sum);
    RUN(float32_overflow_refused_for_trees);
    RUN(json_models_refused_with_reasons);
    RUN(native_round_trip_and_damage);
    RUN(load_detects_format);
    RUN(load_dispatches_by_first_bytes);
    RUN(source_section);
    rp_t_watchdog(60);
    RUN(model_paths_must_be_files);
    RUN(mlmodel_depth_refused_while_streaming);
    return rp_t_done();
}
