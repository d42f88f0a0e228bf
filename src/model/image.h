/* The native model image: layout, builder and reader.
 *
 * Layout (docs/model-format.md is the reference; all integers little-endian,
 * every section 8-byte aligned):
 *
 *   header   64 bytes: magic "RIDEPRED", u32 version, u32 header size,
 *            u64 file size, u64 XXH3-64 of bytes [64, file size), u32 kind,
 *            u32 section count, 16 reserved bytes, u64 XXH3-64 of bytes [0, 56)
 *   table    section count x {u32 id, u32 reserved, u64 offset, u64 size}
 *   sections META, STRS, FEATOFF, VOCAB, and COEF (linear) or
 *            TREES + NODES + LEAVES (trees), and for trees optionally the
 *            ride fast path FAST_META .. FAST_RUNS (ids 9-15, see below)
 *
 * Readers ignore section ids they do not know, so optional sections are
 * added without a version bump (a reader of version 1 without the fast path
 * serves the same file by walking the nodes).
 */
#ifndef RP_MODEL_IMAGE_H
#define RP_MODEL_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ridepred/model.h"

#define RP_IMG_MAGIC "RIDEPRED"
#define RP_IMG_VERSION 1u
#define RP_IMG_HEADER_SIZE 64u
#define RP_IMG_MAX_SECTIONS 16u

enum {
    RP_SEC_META = 1,
    RP_SEC_STRS = 2,    /* bytes: model name, version, feature names */
    RP_SEC_FEATOFF = 3, /* u32[n_features + 1]: feature name offsets in STRS */
    RP_SEC_VOCAB = 4,   /* {u32 hash, u32 column + 1}[vocab_slots], 0 = empty */
    RP_SEC_COEF = 5,    /* f64[n_features] */
    RP_SEC_TREES = 6,   /* u32[n_trees + 1]: first node of each tree, then total */
    RP_SEC_NODES = 7,   /* rp__img_node[n_nodes] */
    RP_SEC_LEAVES = 8,  /* f64[n_leaves] */
    /* The ride fast path (optional, trees only; all five or none). */
    RP_SEC_FAST_META = 9,     /* rp__img_fast_meta */
    RP_SEC_FAST_BOUNDS = 10,  /* f32[n_bounds]: the x column's thresholds, sorted, distinct */
    RP_SEC_FAST_SUMS = 11,    /* f64[n_sums]: rows [0, n_rows) for no column, then the spans */
    RP_SEC_FAST_COLS = 12,    /* u32[n_features]: 0, or 1 + index into FAST_COLINFO */
    RP_SEC_FAST_COLINFO = 13, /* rp__img_fast_col[n_cols] */
    /* Optional, any kind: where the model came from, a UTF-8 JSON object
     * (flavor, files, library versions, estimator classes) that `model
     * inspect` shows; at most RP_IMG_SOURCE_MAX bytes.  Never used to
     * predict. */
    RP_SEC_SOURCE = 14,
};

#define RP_IMG_SOURCE_MAX ((size_t)64 * 1024)

typedef struct rp__img_meta {
    uint32_t n_features;
    uint32_t n_onehot;
    uint32_t n_trees;
    uint32_t combine;
    uint32_t split;
    uint32_t max_depth;
    uint32_t vocab_slots;   /* a power of two, or 0 */
    uint32_t trip_distance; /* column, or UINT32_MAX */
    uint64_t n_nodes;
    uint64_t n_leaves;
    double base; /* trees: base; linear: intercept */
    uint32_t name_off, name_len;
    uint32_t version_off, version_len;
    uint32_t flags; /* RP_META_* bits; 0 in files before they existed */
    uint8_t reserved[12];
} rp__img_meta; /* 88 bytes */

/* META.flags.  Readers refuse bits they do not know. */
#define RP_META_SUM_F32                                                                                      \
    0x1u /* trees, combine sum: the accumulator is float32
                               * (XGBoost's predictor): acc = (float)base, then
                               * acc = (float)(acc + (float)leaf) in tree order */
#define RP_META_KNOWN_FLAGS RP_META_SUM_F32

/* A tree node.  Internal: feature column in the low 30 bits, flags above;
 * threshold already rounded to float32 so that `x <= threshold` on the
 * float32 feature value is exactly the source model's test (see model.c);
 * left/right are node indices, always greater than the node's own.
 * Leaf: feature == RP_NODE_LEAF, left = index into LEAVES. */
typedef struct rp__img_node {
    uint32_t feature;
    float threshold;
    uint32_t left;
    uint32_t right;
} rp__img_node;

#define RP_NODE_LEAF 0xFFFFFFFFu
#define RP_NODE_HAS_DEFAULT 0x40000000u
#define RP_NODE_DEFAULT_LEFT 0x80000000u
#define RP_NODE_FEATURE_MASK 0x3FFFFFFFu

/* The ride fast path (docs/model-format.md, "The ride fast path").
 *
 * A ride row has at most two present columns: the numeric column x
 * (trip_distance) and one other column j (its PU_DO one-hot).  Every tree's
 * leaf then depends on x only through the interval of the sorted distinct x
 * thresholds (FAST_BOUNDS) that x falls in: the row r = 1 + the number of
 * bounds < x (1 .. n_bounds + 1), or r = 0 when x is absent.  FAST_SUMS[r]
 * is the accumulator of the walk for a row with x in row r and no other
 * column present (the base for `sum`, 0.0 for `mean`, then each tree's leaf
 * value added in tree order): the answer before the final division.
 *
 * A present column j changes the sum only on some rows.  For a value v of
 * j with v <= tmin (every node testing j sends it left: mode 0) or v > tmax
 * (every node sends it right: mode 1), the accumulators for the rows
 * [lo, lo + width) are FAST_SUMS[off .. off + width), computed the same
 * way; the other rows are those of no column.  off == RP_FAST_WALK: not
 * precomputed (over the size budget).  Other values of v, and rows of other
 * shapes, are served by the node walk. */
#define RP_FAST_WALK 0xFFFFFFFFu

typedef struct rp__img_fast_meta {
    uint32_t xcol;       /* the numeric column (trip_distance) */
    uint32_t n_trees;    /* == META.n_trees */
    uint32_t n_features; /* == META.n_features: entries of FAST_COLS */
    uint32_t n_bounds;
    uint32_t n_rows; /* n_bounds + 2: row 0 for an absent x, then the intervals */
    uint32_t n_cols; /* entries of FAST_COLINFO */
    uint32_t n_sums; /* entries of FAST_SUMS, >= n_rows */
    uint8_t reserved[36];
} rp__img_fast_meta; /* 64 bytes */

typedef struct rp__img_fast_col {
    float tmin, tmax;  /* smallest and largest threshold of the column's nodes */
    uint32_t lo[2];    /* per mode (0: v <= tmin, 1: v > tmax): first row that differs */
    uint32_t width[2]; /* rows that differ, from lo (0: none) */
    uint32_t off[2];   /* where their accumulators start in FAST_SUMS, or RP_FAST_WALK */
} rp__img_fast_col;    /* 32 bytes */

/* The hash used by the vocabulary (low 32 bits of XXH3-64). */
uint32_t rp__img_hash(const char *s, size_t n);

/* Building an image: the JSON loader (and later the pickle and XGBoost
 * readers) fill this and call rp__img_build. */
typedef struct rp__img_tree_src {
    uint32_t n; /* nodes in the source arrays */
    const int64_t *left, *right, *feature;
    const double *threshold, *value;
    const uint8_t *default_left; /* NULL: absent features are 0 */
} rp__img_tree_src;

typedef struct rp__img_src {
    rp_model_kind kind;
    const char *name;
    size_t name_len;
    const char *version;
    size_t version_len;
    uint32_t n_features;
    const char *const *feature_names;
    const size_t *feature_lens;
    /* linear */
    const double *coef;
    double intercept;
    /* trees */
    rp_model_combine combine;
    rp_model_split split;
    double base;
    bool sum_f32; /* combine sum in float32 (RP_META_SUM_F32) */
    uint32_t n_trees;
    const rp__img_tree_src *trees;
    /* The SOURCE section (a JSON object), or source_len 0 for none. */
    const char *source;
    size_t source_len;
} rp__img_src;

/* Building the SOURCE text: each call appends one member ("key": value) to
 * b, opening the object on the first; rp__img_source_end closes it (an
 * empty b stays empty).  NULL values are skipped. */
void rp__img_source_str(rp__buf *b, const char *key, const char *val);
void rp__img_source_strn(rp__buf *b, const char *key, const char *val, size_t len);
void rp__img_source_int(rp__buf *b, const char *key, long long val);
/* Appends members given as JSON text without braces ("a": 1, "b": "x"). */
void rp__img_source_members(rp__buf *b, const char *members);
void rp__img_source_end(rp__buf *b);

/* Validates the source model and lays it out as a native image in `out`. */
int rp__img_build(const rp__img_src *src, rp__buf *out, rp_error *err);

#endif
