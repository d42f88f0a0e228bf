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
 *            TREES + NODES + LEAVES (trees)
 */
#ifndef RP_MODEL_IMAGE_H
#define RP_MODEL_IMAGE_H

#include <stdint.h>
#include <stddef.h>

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
    RP_SEC_NODES = 7,   /* rp_img_node[n_nodes] */
    RP_SEC_LEAVES = 8,  /* f64[n_leaves] */
};

typedef struct rp_img_meta {
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
    double base;            /* trees: base; linear: intercept */
    uint32_t name_off, name_len;
    uint32_t version_off, version_len;
    uint8_t reserved[16];
} rp_img_meta;              /* 88 bytes */

/* A tree node.  Internal: feature column in the low 30 bits, flags above;
 * threshold already rounded to float32 so that `x <= threshold` on the
 * float32 feature value is exactly the source model's test (see model.c);
 * left/right are node indices, always greater than the node's own.
 * Leaf: feature == RP_NODE_LEAF, left = index into LEAVES. */
typedef struct rp_img_node {
    uint32_t feature;
    float threshold;
    uint32_t left;
    uint32_t right;
} rp_img_node;

#define RP_NODE_LEAF 0xFFFFFFFFu
#define RP_NODE_HAS_DEFAULT 0x40000000u
#define RP_NODE_DEFAULT_LEFT 0x80000000u
#define RP_NODE_FEATURE_MASK 0x3FFFFFFFu

/* The hash used by the vocabulary (low 32 bits of XXH3-64). */
uint32_t rp_img_hash(const char *s, size_t n);

/* Building an image: the JSON loader (and later the pickle and XGBoost
 * readers) fill this and call rp_img_build. */
typedef struct rp_img_tree_src {
    uint32_t n;            /* nodes in the source arrays */
    const int64_t *left, *right, *feature;
    const double *threshold, *value;
    const uint8_t *default_left; /* NULL: absent features are 0 */
} rp_img_tree_src;

typedef struct rp_img_src {
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
    uint32_t n_trees;
    const rp_img_tree_src *trees;
} rp_img_src;

/* Validates the source model and lays it out as a native image in `out`. */
int rp_img_build(const rp_img_src *src, rp_buf *out, rp_error *err);

#endif
