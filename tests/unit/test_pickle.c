/* The restricted unpickler and the scikit-learn conversion on hand-built
 * pickles: hostile ones (code execution, deep nesting, huge declared sizes,
 * truncation at every length, bad memo indices) are refused with clear
 * messages; a small hand-built Pipeline-free (dv, LinearRegression) tuple is
 * served. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model/pickle.h"
#include "model/sklearn.h"
#include "ridepred/model.h"
#include "testing.h"

typedef struct pb {
    unsigned char d[1 << 20];
    size_t n;
} pb;

static void raw(pb *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void op(pb *b, unsigned char c)
{
    b->d[b->n++] = c;
}
static void sstr(pb *b, const char *s) /* SHORT_BINUNICODE */
{
    op(b, 0x8c);
    op(b, (unsigned char)strlen(s));
    raw(b, s, strlen(s));
}
static void sbytes(pb *b, const void *p, size_t n) /* SHORT_BINBYTES */
{
    op(b, 'C');
    op(b, (unsigned char)n);
    raw(b, p, n);
}
static void gl(pb *b, const char *m, const char *n) /* STACK_GLOBAL */
{
    sstr(b, m);
    sstr(b, n);
    op(b, 0x93);
}
static void start(pb *b)
{
    b->n = 0;
    op(b, 0x80);
    op(b, 4);
}

/* Loads b as a model; returns the rc and leaves the message in err. */
static int load(const pb *b, rp_error *err)
{
    rp_model *m = NULL;
    int rc = rp__sklearn_from_pickle(b->d, b->n, NULL, &m, err);
    if (m)
        rp_model_release(m);
    return rc;
}

static int has(const rp_error *e, const char *s)
{
    if (strstr(e->msg, s))
        return 1;
    fprintf(stderr, "  message: %s\n  wanted:  %s\n", e->msg, s);
    return 0;
}

/* A numpy float64 array of n values via _reconstruct + BUILD. */
static void f8_array(pb *b, const double *v, size_t n)
{
    gl(b, "numpy.core.multiarray", "_reconstruct");
    gl(b, "numpy", "ndarray");
    op(b, 'K');
    op(b, 0);
    op(b, 0x85);
    sbytes(b, "b", 1);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 1);
    op(b, 'K');
    op(b, (unsigned char)n);
    op(b, 0x85);
    gl(b, "numpy", "dtype");
    sstr(b, "f8");
    op(b, 0x89);
    op(b, 0x88);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 3);
    sstr(b, "<");
    op(b, 'N');
    op(b, 'N');
    op(b, 'N');
    op(b, 'J');
    raw(b, "\xff\xff\xff\xff", 4);
    op(b, 'J');
    raw(b, "\xff\xff\xff\xff", 4);
    op(b, 'K');
    op(b, 0);
    op(b, 't');
    op(b, 'b');
    op(b, 0x89);
    sbytes(b, v, n * 8);
    op(b, 't');
    op(b, 'b');
}

/* (DictVectorizer, LinearRegression) for features a=x, b=y and trip_distance. */
static void course_tuple(pb *b)
{
    start(b);
    gl(b, "sklearn.feature_extraction._dict_vectorizer", "DictVectorizer");
    op(b, ')');
    op(b, 0x81);
    op(b, '}');
    op(b, '(');
    sstr(b, "feature_names_");
    op(b, ']');
    op(b, '(');
    sstr(b, "PU_DO=1_2");
    sstr(b, "PU_DO=3_4");
    sstr(b, "trip_distance");
    op(b, 'e');
    sstr(b, "separator");
    sstr(b, "=");
    op(b, 'u');
    op(b, 'b');
    gl(b, "sklearn.linear_model._base", "LinearRegression");
    op(b, ')');
    op(b, 0x81);
    op(b, '}');
    op(b, '(');
    sstr(b, "coef_");
    double c[3] = {1.5, -2.25, 3.0};
    f8_array(b, c, 3);
    sstr(b, "intercept_");
    op(b, 'G');
    raw(b, "\x40\x24\x00\x00\x00\x00\x00\x00", 8); /* 10.0, big-endian */
    op(b, 'u');
    op(b, 'b');
    op(b, 0x86);
    op(b, '.');
}

static void u16(pb *b, unsigned v) /* BININT2 */
{
    op(b, 'M');
    op(b, (unsigned char)(v & 0xff));
    op(b, (unsigned char)(v >> 8));
}

/* A built numpy dtype "i8" or "f8", little-endian. */
static void simple_dtype(pb *b, const char *spec)
{
    gl(b, "numpy", "dtype");
    sstr(b, spec);
    op(b, 0x89);
    op(b, 0x88);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 3);
    sstr(b, "<");
    op(b, 'N');
    op(b, 'N');
    op(b, 'N');
    op(b, 'J');
    raw(b, "\xff\xff\xff\xff", 4);
    op(b, 'J');
    raw(b, "\xff\xff\xff\xff", 4);
    op(b, 'K');
    op(b, 0);
    op(b, 't');
    op(b, 'b');
}

/* A 1-d array of n items of the dtype `push_dtype` pushes, from BINBYTES. */
static void array_1d(pb *b, void (*push_dtype)(pb *), unsigned n, const void *data, size_t len)
{
    gl(b, "numpy.core.multiarray", "_reconstruct");
    gl(b, "numpy", "ndarray");
    op(b, 'K');
    op(b, 0);
    op(b, 0x85);
    sbytes(b, "b", 1);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 1);
    u16(b, n);
    op(b, 0x85);
    push_dtype(b);
    op(b, 0x89);
    op(b, 'B');
    uint32_t l = (uint32_t)len;
    raw(b, &l, 4);
    raw(b, data, len);
    op(b, 't');
    op(b, 'b');
}

/* scikit-learn's node record, reduced to the fields ridepred reads. */
static void node_dtype(pb *b)
{
    static const char *const names[] = {"left_child", "right_child", "feature", "threshold"};
    gl(b, "numpy", "dtype");
    sstr(b, "V32");
    op(b, 0x89);
    op(b, 0x88);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 3);
    sstr(b, "|");
    op(b, 'N');
    op(b, '(');
    for (int i = 0; i < 4; i++)
        sstr(b, names[i]);
    op(b, 't');
    op(b, '}');
    op(b, '(');
    for (int i = 0; i < 4; i++) {
        sstr(b, names[i]);
        simple_dtype(b, i == 3 ? "f8" : "i8");
        op(b, 'K');
        op(b, (unsigned char)(8 * i));
        op(b, 0x86);
    }
    op(b, 'u');
    op(b, 'K');
    op(b, 32);
    op(b, 'K');
    op(b, 1);
    op(b, 'K');
    op(b, 16);
    op(b, 't');
    op(b, 'b');
}

static void f8_dtype(pb *b)
{
    simple_dtype(b, "f8");
}

/* The DictVectorizer of course_tuple: PU_DO=1_2, PU_DO=3_4, trip_distance. */
static void dict_vectorizer(pb *b)
{
    gl(b, "sklearn.feature_extraction._dict_vectorizer", "DictVectorizer");
    op(b, ')');
    op(b, 0x81);
    op(b, '}');
    op(b, '(');
    sstr(b, "feature_names_");
    op(b, ']');
    op(b, '(');
    sstr(b, "PU_DO=1_2");
    sstr(b, "PU_DO=3_4");
    sstr(b, "trip_distance");
    op(b, 'e');
    sstr(b, "separator");
    sstr(b, "=");
    op(b, 'u');
    op(b, 'b');
}

/* (dv, RandomForestRegressor) whose estimators_ list one fitted tree of
 * `nodes` nodes (a complete binary tree on trip_distance) `refs` times: the
 * tree is pickled once, memoized, and referenced again by BINGET, as
 * pickle does for a list holding one object many times. */
static void memo_forest(pb *b, unsigned nodes, unsigned refs)
{
    start(b);
    dict_vectorizer(b);
    gl(b, "sklearn.ensemble._forest", "RandomForestRegressor");
    op(b, ')');
    op(b, 0x81);
    op(b, '}');
    op(b, '(');
    sstr(b, "estimators_");
    op(b, ']');
    op(b, '(');
    gl(b, "sklearn.tree._classes", "DecisionTreeRegressor");
    op(b, ')');
    op(b, 0x81);
    op(b, '}');
    op(b, '(');
    sstr(b, "tree_");
    gl(b, "sklearn.tree._tree", "Tree");
    op(b, 'K');
    op(b, 3);
    op(b, 'K');
    op(b, 1);
    op(b, 'K');
    op(b, 1);
    op(b, 0x87);
    op(b, 'R');
    op(b, '}');
    op(b, '(');
    sstr(b, "node_count");
    u16(b, nodes);
    sstr(b, "nodes");
    unsigned char *rec = malloc((size_t)nodes * 32);
    double *val = malloc((size_t)nodes * 8);
    for (unsigned i = 0; i < nodes; i++) {
        bool leaf = 2 * i + 2 >= nodes;
        int64_t l = leaf ? -1 : (int64_t)(2 * i + 1), r = leaf ? -1 : (int64_t)(2 * i + 2), f = leaf ? -2 : 2;
        double t = leaf ? -2.0 : (double)i, v = (double)i;
        memcpy(rec + 32 * i, &l, 8);
        memcpy(rec + 32 * i + 8, &r, 8);
        memcpy(rec + 32 * i + 16, &f, 8);
        memcpy(rec + 32 * i + 24, &t, 8);
        memcpy(val + i, &v, 8);
    }
    array_1d(b, node_dtype, nodes, rec, (size_t)nodes * 32);
    sstr(b, "values");
    array_1d(b, f8_dtype, nodes, val, (size_t)nodes * 8);
    free(rec);
    free(val);
    op(b, 'u');
    op(b, 'b'); /* the Tree's state */
    op(b, 'u');
    op(b, 'b');  /* the DecisionTreeRegressor's */
    op(b, 0x94); /* MEMOIZE: memo 0 */
    for (unsigned i = 1; i < refs; i++) {
        op(b, 'h');
        op(b, 0);
    }
    op(b, 'e');
    op(b, 'u');
    op(b, 'b');
    op(b, 0x86);
    op(b, '.');
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A 200 KB pickle whose forest lists one 3,999-node tree 20,000 times used
 * to build 80 million nodes (6.3 GB, 48 s in `model inspect`).  Everything
 * the trees would take is counted before any is converted, and such a
 * file is refused for the cost of unpickling it, naming the limit and how
 * to raise it. */
TEST(memo_forest_refused_by_budget)
{
    pb *b = malloc(sizeof *b);
    rp_error err;
    rp_model *m = NULL;
    /* Three references: a forest of three equal trees, served. */
    memo_forest(b, 3999, 3);
    int rc = rp__sklearn_from_pickle(b->d, b->n, NULL, &m, &err);
    if (rc < 0)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(rc == 0);
    if (m) {
        rp_model_info in;
        rp_model_get_info(m, &in);
        CHECK(in.n_trees == 3 && in.n_nodes == 3 * 3999);
        rp_row row = {.n = 1, .idx = {(uint32_t)rp_model_trip_distance(m)}, .val = {-1.0}};
        double y = -1;
        CHECK(rp_model_predict(m, &row, &y, &err) == 0);
        CHECK(y == 2047.0); /* the leftmost leaf: x <= every threshold, 0 up */
        rp_model_release(m);
        m = NULL;
    }
    /* The same with a budget set below what it takes: refused, "as set". */
    rp__sklearn_opts small = {.max_build_bytes = 100000};
    CHECK(rp__sklearn_from_pickle(b->d, b->n, &small, &m, &err) == -1 && m == NULL);
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(has(&err, "3 trees of 11997 nodes in all), over the limit of 100000 bytes (as set)"));
    /* 20,000 references. */
    memo_forest(b, 3999, 20000);
    CHECK(b->n < 250000);
    long rss0 = max_rss_kb();
    clock_t c0 = clock();
    CHECK(rp__sklearn_from_pickle(b->d, b->n, NULL, &m, &err) == -1 && m == NULL);
    double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    long grew = max_rss_kb() - rss0;
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(has(&err, "(20000 trees of 79980000 nodes in all), over the limit of"));
    CHECK(has(&err, "raise it with --max-model-bytes BYTES or RIDEPRED_MAX_MODEL_BYTES"));
    fprintf(
        stderr,
        "  %zu-byte pickle listing a 3999-node tree 20000 times: refused in %.1f ms of CPU, max RSS +%ld KB\n",
        b->n, cpu * 1e3, grew);
    CHECK(cpu < 2.0);
    CHECK(grew < 64 * 1024);
    free(b);
}

TEST(serves_hand_built_tuple)
{
    pb *b = malloc(sizeof *b);
    course_tuple(b);
    rp_model *m = NULL;
    rp_error err;
    int rc = rp__sklearn_from_pickle(b->d, b->n, NULL, &m, &err);
    if (rc < 0)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(rc == 0);
    if (m) {
        rp_row row = {
            .n = 2,
            .idx = {(uint32_t)rp_model_onehot(m, "PU_DO=3_4", 9), (uint32_t)rp_model_trip_distance(m)},
            .val = {1.0, 2.0}};
        double y = 0;
        CHECK(rp_model_predict(m, &row, &y, &err) == 0);
        CHECK(y == (0.0 + 1.0 * -2.25 + 2.0 * 3.0) + 10.0);
        rp_model_release(m);
    }
    /* Truncated at every length: refused, never a crash. */
    int refused = 0;
    size_t full = b->n;
    for (size_t n = 0; n < full; n++) {
        b->n = n;
        refused += load(b, &err) < 0;
    }
    CHECK(refused == (int)full);
    /* Every byte flipped: no crash (most are refused). */
    b->n = full;
    for (size_t i = 0; i < full; i++) {
        b->d[i] ^= 0xA5;
        (void)load(b, &err);
        b->d[i] ^= 0xA5;
    }
    free(b);
}

TEST(refuses_code_execution)
{
    pb *b = malloc(sizeof *b);
    rp_error err;
    /* REDUCE of os.system via STACK_GLOBAL */
    start(b);
    gl(b, "os", "system");
    sstr(b, "touch /tmp/ridepred-pwned");
    op(b, 0x85);
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load os.system: not a class ridepred can serve"));
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    /* posix.system via GLOBAL (protocol 2) */
    b->n = 0;
    op(b, 0x80);
    op(b, 2);
    raw(b, "cposix\nsystem\n", 14);
    sstr(b, "id");
    op(b, 0x85);
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load posix.system"));
    /* builtins.eval, both ways */
    start(b);
    raw(b, "cbuiltins\neval\n", 15);
    sstr(b, "1+1");
    op(b, 0x85);
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load builtins.eval"));
    start(b);
    gl(b, "builtins", "eval");
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load builtins.eval"));
    start(b);
    gl(b, "subprocess", "Popen");
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load subprocess.Popen"));
    /* A non-printable name is shown safely */
    start(b);
    gl(b, "os\n", "sys\x01tem");
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load os?.sys?tem"));
    /* REDUCE of an allowed non-class: calling numpy.ndarray directly */
    start(b);
    gl(b, "numpy", "ndarray");
    op(b, ')');
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "calling numpy.ndarray"));
    /* REDUCE of a non-global (a string) */
    start(b);
    sstr(b, "os.system");
    op(b, ')');
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "calling a str"));
    /* _codecs.encode to something else than latin1 */
    start(b);
    gl(b, "_codecs", "encode");
    sstr(b, "x");
    sstr(b, "rot13");
    op(b, 0x86);
    op(b, 'R');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "latin1"));
    /* Out-of-band buffers */
    b->n = 0;
    op(b, 0x80);
    op(b, 5);
    op(b, 0x97);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "out-of-band buffers"));
    b->n = 0;
    op(b, 0x80);
    op(b, 5);
    op(b, 0x98);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "READONLY_BUFFER"));
    /* Protocol 0/1 INST, persistent ids */
    start(b);
    raw(b, "(ios\nsystem\n.", 13);
    CHECK(load(b, &err) < 0 && has(&err, "opcode 0x69 is not supported"));
    start(b);
    op(b, 'N');
    op(b, 'Q');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "opcode 0x51"));
    /* Protocol 6 */
    b->n = 0;
    op(b, 0x80);
    op(b, 6);
    op(b, 'N');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "protocol 6"));
    free(b);
}

TEST(refuses_huge_and_deep)
{
    pb *b = malloc(sizeof *b);
    rp_error err;
    /* Declared lengths beyond the input */
    static const unsigned char ops8[] = {0x8d, 0x8e, 0x96, 0x95};
    for (size_t i = 0; i < sizeof ops8; i++) {
        start(b);
        op(b, ops8[i]);
        raw(b, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
        CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    }
    start(b);
    op(b, 'X');
    raw(b, "\xff\xff\xff\xff", 4);
    CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    start(b);
    op(b, 'B');
    raw(b, "\x00\x00\x00\x80", 4);
    CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    start(b);
    op(b, 0x8b);
    raw(b, "\xff\xff\xff\xff", 4);
    CHECK(load(b, &err) < 0 && has(&err, "negative length"));
    start(b);
    op(b, 0x8b);
    raw(b, "\x00\x00\x00\x7f", 4);
    CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    /* Deep nesting: MARKs */
    start(b);
    for (int i = 0; i < 5000; i++)
        op(b, '(');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "nested MARKs"));
    /* Deep nesting: lists in lists (no recursion anywhere: just refused at the end) */
    start(b);
    for (int i = 0; i < 20000; i++)
        op(b, ']');
    for (int i = 0; i < 19999; i++)
        op(b, 'a');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "ridepred serves a Pipeline"));
    /* A list containing itself */
    start(b);
    op(b, ']');
    op(b, 0x94);
    op(b, 'h');
    op(b, 0);
    op(b, 'a');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "a list"));
    /* An array declaring a huge shape */
    start(b);
    gl(b, "numpy.core.multiarray", "_reconstruct");
    gl(b, "numpy", "ndarray");
    op(b, 'K');
    op(b, 0);
    op(b, 0x85);
    sbytes(b, "b", 1);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K');
    op(b, 1);
    op(b, 'J');
    raw(b, "\xff\xff\xff\x7f", 4);
    op(b, 'J');
    raw(b, "\xff\xff\xff\x7f", 4);
    op(b, 0x86);
    op(b, '.');
    CHECK(load(b, &err) < 0);
    free(b);
}

TEST(refuses_bad_memo)
{
    pb *b = malloc(sizeof *b);
    rp_error err;
    start(b);
    op(b, 'h');
    op(b, 3);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "memo index 3 was never stored"));
    start(b);
    op(b, 'N');
    op(b, 'r');
    raw(b, "\xff\xff\xff\xff", 4);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "out of range"));
    start(b);
    op(b, 'j');
    raw(b, "\xff\xff\xff\x7f", 4);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "never stored"));
    start(b);
    op(b, 0x94);
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    /* Stack misuse */
    start(b);
    op(b, 'a');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    start(b);
    op(b, 'N');
    op(b, 'N');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "STOP with 2 values"));
    start(b);
    op(b, '(');
    op(b, 'N');
    op(b, 'u');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    start(b);
    op(b, 'N');
    op(b, '(');
    op(b, 'N');
    op(b, 'u');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "SETITEM(S) on a None"));
    start(b);
    op(b, 't');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "no MARK"));
    start(b);
    op(b, 'N');
    op(b, 'N');
    op(b, 'b');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "BUILD on a None"));
    b->n = 0;
    op(b, 'N');
    op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "no PROTO"));
    free(b);
}

int main(void)
{
    RUN(serves_hand_built_tuple);
    RUN(refuses_code_execution);
    RUN(refuses_huge_and_deep);
    RUN(refuses_bad_memo);
    RUN(memo_forest_refused_by_budget);
    return rp_t_done();
}
