/* The restricted unpickler and the scikit-learn conversion on hand-built
 * pickles: hostile ones (code execution, deep nesting, huge declared sizes,
 * truncation at every length, bad memo indices) are refused with clear
 * messages; a small hand-built Pipeline-free (dv, LinearRegression) tuple is
 * served. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/pickle.h"
#include "model/sklearn.h"
#include "ridepred/model.h"
#include "testing.h"

typedef struct pb {
    unsigned char d[65536];
    size_t n;
} pb;

static void raw(pb *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void op(pb *b, unsigned char c) { b->d[b->n++] = c; }
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
    int rc = rp_sklearn_from_pickle(b->d, b->n, NULL, &m, err);
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
    op(b, 'K'); op(b, 0); op(b, 0x85);
    sbytes(b, "b", 1);
    op(b, 0x87);
    op(b, 'R');
    op(b, '(');
    op(b, 'K'); op(b, 1);
    op(b, 'K'); op(b, (unsigned char)n); op(b, 0x85);
    gl(b, "numpy", "dtype");
    sstr(b, "f8"); op(b, 0x89); op(b, 0x88); op(b, 0x87); op(b, 'R');
    op(b, '('); op(b, 'K'); op(b, 3); sstr(b, "<"); op(b, 'N'); op(b, 'N'); op(b, 'N');
    op(b, 'J'); raw(b, "\xff\xff\xff\xff", 4); op(b, 'J'); raw(b, "\xff\xff\xff\xff", 4);
    op(b, 'K'); op(b, 0); op(b, 't'); op(b, 'b');
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
    op(b, ')'); op(b, 0x81);
    op(b, '}'); op(b, '(');
    sstr(b, "feature_names_"); op(b, ']'); op(b, '(');
    sstr(b, "PU_DO=1_2"); sstr(b, "PU_DO=3_4"); sstr(b, "trip_distance"); op(b, 'e');
    sstr(b, "separator"); sstr(b, "=");
    op(b, 'u'); op(b, 'b');
    gl(b, "sklearn.linear_model._base", "LinearRegression");
    op(b, ')'); op(b, 0x81);
    op(b, '}'); op(b, '(');
    sstr(b, "coef_");
    double c[3] = {1.5, -2.25, 3.0};
    f8_array(b, c, 3);
    sstr(b, "intercept_");
    op(b, 'G');
    raw(b, "\x40\x24\x00\x00\x00\x00\x00\x00", 8); /* 10.0, big-endian */
    op(b, 'u'); op(b, 'b');
    op(b, 0x86);
    op(b, '.');
}

TEST(serves_hand_built_tuple)
{
    pb *b = malloc(sizeof *b);
    course_tuple(b);
    rp_model *m = NULL;
    rp_error err;
    int rc = rp_sklearn_from_pickle(b->d, b->n, NULL, &m, &err);
    if (rc < 0)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(rc == 0);
    if (m) {
        rp_row row = {.n = 2, .idx = {(uint32_t)rp_model_onehot(m, "PU_DO=3_4", 9), (uint32_t)rp_model_trip_distance(m)}, .val = {1.0, 2.0}};
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
    sstr(b, "touch /tmp/ridepred-pwned"); op(b, 0x85); op(b, 'R'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load os.system: not a class ridepred can serve"));
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    /* posix.system via GLOBAL (protocol 2) */
    b->n = 0;
    op(b, 0x80); op(b, 2);
    raw(b, "cposix\nsystem\n", 14);
    sstr(b, "id"); op(b, 0x85); op(b, 'R'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "refusing to load posix.system"));
    /* builtins.eval, both ways */
    start(b);
    raw(b, "cbuiltins\neval\n", 15);
    sstr(b, "1+1"); op(b, 0x85); op(b, 'R'); op(b, '.');
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
    op(b, ')'); op(b, 'R'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "calling numpy.ndarray"));
    /* REDUCE of a non-global (a string) */
    start(b);
    sstr(b, "os.system"); op(b, ')'); op(b, 'R'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "calling a str"));
    /* _codecs.encode to something else than latin1 */
    start(b);
    gl(b, "_codecs", "encode");
    sstr(b, "x"); sstr(b, "rot13"); op(b, 0x86); op(b, 'R'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "latin1"));
    /* Out-of-band buffers */
    b->n = 0; op(b, 0x80); op(b, 5); op(b, 0x97); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "out-of-band buffers"));
    b->n = 0; op(b, 0x80); op(b, 5); op(b, 0x98); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "READONLY_BUFFER"));
    /* Protocol 0/1 INST, persistent ids */
    start(b); raw(b, "(ios\nsystem\n.", 13);
    CHECK(load(b, &err) < 0 && has(&err, "opcode 0x69 is not supported"));
    start(b); op(b, 'N'); op(b, 'Q'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "opcode 0x51"));
    /* Protocol 6 */
    b->n = 0; op(b, 0x80); op(b, 6); op(b, 'N'); op(b, '.');
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
    start(b); op(b, 'X'); raw(b, "\xff\xff\xff\xff", 4);
    CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    start(b); op(b, 'B'); raw(b, "\x00\x00\x00\x80", 4);
    CHECK(load(b, &err) < 0 && has(&err, "exceeds the"));
    start(b); op(b, 0x8b); raw(b, "\xff\xff\xff\xff", 4);
    CHECK(load(b, &err) < 0 && has(&err, "negative length"));
    start(b); op(b, 0x8b); raw(b, "\x00\x00\x00\x7f", 4);
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
    start(b); op(b, ']'); op(b, 0x94); op(b, 'h'); op(b, 0); op(b, 'a'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "a list"));
    /* An array declaring a huge shape */
    start(b);
    gl(b, "numpy.core.multiarray", "_reconstruct");
    gl(b, "numpy", "ndarray");
    op(b, 'K'); op(b, 0); op(b, 0x85); sbytes(b, "b", 1); op(b, 0x87); op(b, 'R');
    op(b, '('); op(b, 'K'); op(b, 1);
    op(b, 'J'); raw(b, "\xff\xff\xff\x7f", 4); op(b, 'J'); raw(b, "\xff\xff\xff\x7f", 4); op(b, 0x86);
    op(b, '.');
    CHECK(load(b, &err) < 0);
    free(b);
}

TEST(refuses_bad_memo)
{
    pb *b = malloc(sizeof *b);
    rp_error err;
    start(b); op(b, 'h'); op(b, 3); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "memo index 3 was never stored"));
    start(b); op(b, 'N'); op(b, 'r'); raw(b, "\xff\xff\xff\xff", 4); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "out of range"));
    start(b); op(b, 'j'); raw(b, "\xff\xff\xff\x7f", 4); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "never stored"));
    start(b); op(b, 0x94); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    /* Stack misuse */
    start(b); op(b, 'a'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    start(b); op(b, 'N'); op(b, 'N'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "STOP with 2 values"));
    start(b); op(b, '('); op(b, 'N'); op(b, 'u'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "stack underflow"));
    start(b); op(b, 'N'); op(b, '('); op(b, 'N'); op(b, 'u'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "SETITEM(S) on a None"));
    start(b); op(b, 't'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "no MARK"));
    start(b); op(b, 'N'); op(b, 'N'); op(b, 'b'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "BUILD on a None"));
    b->n = 0; op(b, 'N'); op(b, '.');
    CHECK(load(b, &err) < 0 && has(&err, "no PROTO"));
    free(b);
}

int main(void)
{
    RUN(serves_hand_built_tuple);
    RUN(refuses_code_execution);
    RUN(refuses_huge_and_deep);
    RUN(refuses_bad_memo);
    return rp_t_done();
}
