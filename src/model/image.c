/* Building a native model image from a validated source description. */
#include "model/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

_Static_assert(sizeof(rp_img_meta) == 88, "meta layout");
_Static_assert(sizeof(rp_img_node) == 16, "node layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the native format is little-endian");

uint32_t rp_img_hash(const char *s, size_t n)
{
    return (uint32_t)XXH3_64bits(s, n);
}

/* The float32 threshold t32 such that, for every float32 x,
 * (x <= t32) == (x <= t) for `le` and (x <= t32) == (x < t) for `lt`. */
static float f32_threshold(double t, rp_model_split split)
{
    float f = (float)t;
    if (split == RP_SPLIT_LE) {
        if ((double)f > t)
            f = nextafterf(f, -INFINITY);
    } else {
        if ((double)f >= t)
            f = nextafterf(f, -INFINITY);
    }
    return f;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

typedef struct img_section {
    uint32_t id;
    const void *data;
    size_t size;
} img_section;

typedef struct work {
    uint32_t src;      /* node in the source arrays */
    uint32_t parent;   /* new index of the parent, UINT32_MAX for the root */
    uint32_t depth;
    uint8_t is_left;
} work;

/* Lays one tree out in preorder into nodes/leaves, validating it. */
static int build_tree(const rp_img_src *src, uint32_t t, rp_img_node *nodes, uint64_t *n_nodes,
                      double *leaves, uint64_t *n_leaves, uint32_t *max_depth, work *stack,
                      uint8_t *seen, rp_error *err)
{
    const rp_img_tree_src *tr = &src->trees[t];
    uint32_t n = tr->n;
    memset(seen, 0, n);
    size_t sp = 0;
    stack[sp++] = (work){0, UINT32_MAX, 0, 0};
    while (sp) {
        work w = stack[--sp];
        uint32_t i = w.src;
        if (seen[i])
            return rp_error_set(err, RP_ERR_INVALID, "tree %u: node %u is reached twice (not a tree)", t, i);
        seen[i] = 1;
        uint64_t me = (*n_nodes)++;
        if (me >= UINT32_MAX - 1)
            return rp_error_set(err, RP_ERR_LIMIT, "too many nodes (limit %u)", UINT32_MAX - 2);
        if (w.parent != UINT32_MAX) {
            if (w.is_left)
                nodes[w.parent].left = (uint32_t)me;
            else
                nodes[w.parent].right = (uint32_t)me;
        }
        if (w.depth > *max_depth)
            *max_depth = w.depth;
        rp_img_node *nd = &nodes[me];
        int64_t l = tr->left[i], r = tr->right[i];
        if (l == -1 || r == -1) {
            if (l != -1 || r != -1)
                return rp_error_set(err, RP_ERR_INVALID, "tree %u: node %u has one child (left %lld, right %lld)", t, i, (long long)l, (long long)r);
            double v = tr->value[i];
            if (!isfinite(v))
                return rp_error_set(err, RP_ERR_INVALID, "tree %u: leaf %u has a non-finite value", t, i);
            nd->feature = RP_NODE_LEAF;
            nd->threshold = 0;
            nd->left = (uint32_t)*n_leaves;
            nd->right = 0;
            leaves[(*n_leaves)++] = v;
            continue;
        }
        if (l < 0 || l >= n || r < 0 || r >= n)
            return rp_error_set(err, RP_ERR_INVALID, "tree %u: node %u has a child out of range (left %lld, right %lld, %u nodes)", t, i, (long long)l, (long long)r, n);
        int64_t f = tr->feature[i];
        if (f < 0 || f >= src->n_features)
            return rp_error_set(err, RP_ERR_INVALID, "tree %u: node %u tests feature %lld, but the model has %u features", t, i, (long long)f, src->n_features);
        double th = tr->threshold[i];
        if (isnan(th))
            return rp_error_set(err, RP_ERR_INVALID, "tree %u: node %u has a NaN threshold", t, i);
        nd->feature = (uint32_t)f;
        if (tr->default_left)
            nd->feature |= RP_NODE_HAS_DEFAULT | (tr->default_left[i] ? RP_NODE_DEFAULT_LEFT : 0);
        nd->threshold = f32_threshold(th, src->split);
        nd->left = nd->right = 0;
        /* Right pushed first so that the left child comes next (preorder). */
        stack[sp++] = (work){(uint32_t)r, (uint32_t)me, w.depth + 1, 0};
        stack[sp++] = (work){(uint32_t)l, (uint32_t)me, w.depth + 1, 1};
    }
    return 0;
}

int rp_img_build(const rp_img_src *src, rp_buf *out, rp_error *err)
{
    int rc = -1;
    uint32_t *slots = NULL;
    uint32_t *all = NULL;
    rp_img_node *nodes = NULL;
    double *leaves = NULL;
    work *stack = NULL;
    uint8_t *seen = NULL;
    uint32_t *tree_start = NULL;
    uint32_t nf = src->n_features;

    if (nf > RP_NODE_FEATURE_MASK) {
        rp_error_set(err, RP_ERR_LIMIT, "too many features (%u)", nf);
        goto out;
    }
    /* Feature names: unique; one-hot ones ("KEY=VALUE") go in the vocabulary. */
    size_t strs_len = src->name_len + src->version_len;
    uint32_t n_onehot = 0, td = UINT32_MAX;
    for (uint32_t i = 0; i < nf; i++) {
        strs_len += src->feature_lens[i];
        if (memchr(src->feature_names[i], '=', src->feature_lens[i]))
            n_onehot++;
        else if (src->feature_lens[i] == 13 && !memcmp(src->feature_names[i], "trip_distance", 13))
            td = i;
    }
    if (strs_len > UINT32_MAX) {
        rp_error_set(err, RP_ERR_LIMIT, "feature names too long");
        goto out;
    }
    uint32_t all_slots = 8;
    while (all_slots < 2 * (uint64_t)nf)
        all_slots *= 2;
    all = calloc(all_slots, sizeof *all);
    uint32_t vslots = 0;
    if (n_onehot) {
        vslots = 8;
        while (vslots < 2 * (uint64_t)n_onehot)
            vslots *= 2;
    }
    slots = calloc(vslots ? 2 * (size_t)vslots : 1, sizeof *slots);
    if (!all || !slots) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < nf; i++) {
        const char *s = src->feature_names[i];
        size_t len = src->feature_lens[i];
        uint32_t h = rp_img_hash(s, len);
        for (uint32_t j = h & (all_slots - 1);; j = (j + 1) & (all_slots - 1)) {
            if (!all[j]) {
                all[j] = i + 1;
                break;
            }
            uint32_t o = all[j] - 1;
            if (src->feature_lens[o] == len && !memcmp(src->feature_names[o], s, len)) {
                rp_error_set(err, RP_ERR_INVALID, "feature %u (\"%.*s\") appears twice", i, (int)(len > 64 ? 64 : len), s);
                goto out;
            }
        }
        if (vslots && memchr(s, '=', len)) {
            for (uint32_t j = h & (vslots - 1);; j = (j + 1) & (vslots - 1)) {
                if (!slots[2 * j + 1]) {
                    slots[2 * j] = h;
                    slots[2 * j + 1] = i + 1;
                    break;
                }
            }
        }
    }

    /* Trees. */
    uint64_t total_src = 0;
    uint32_t max_depth = 0;
    uint64_t n_nodes = 0, n_leaves = 0;
    if (src->kind == RP_MODEL_TREES) {
        if (src->n_trees == 0) {
            rp_error_set(err, RP_ERR_INVALID, "a tree model needs at least one tree");
            goto out;
        }
        uint32_t biggest = 0;
        for (uint32_t t = 0; t < src->n_trees; t++) {
            if (src->trees[t].n == 0) {
                rp_error_set(err, RP_ERR_INVALID, "tree %u has no nodes", t);
                goto out;
            }
            total_src += src->trees[t].n;
            if (src->trees[t].n > biggest)
                biggest = src->trees[t].n;
        }
        if (total_src >= UINT32_MAX - 1) {
            rp_error_set(err, RP_ERR_LIMIT, "too many nodes (%llu)", (unsigned long long)total_src);
            goto out;
        }
        nodes = malloc(total_src * sizeof *nodes);
        leaves = malloc(total_src * sizeof *leaves);
        stack = malloc((size_t)biggest * sizeof *stack + sizeof *stack);
        seen = malloc(biggest);
        tree_start = malloc(((size_t)src->n_trees + 1) * sizeof *tree_start);
        if (!nodes || !leaves || !stack || !seen || !tree_start) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (uint32_t t = 0; t < src->n_trees; t++) {
            tree_start[t] = (uint32_t)n_nodes;
            if (build_tree(src, t, nodes, &n_nodes, leaves, &n_leaves, &max_depth, stack, seen, err) < 0)
                goto out;
        }
        tree_start[src->n_trees] = (uint32_t)n_nodes;
        if (!isfinite(src->base)) {
            rp_error_set(err, RP_ERR_INVALID, "base is not a finite number");
            goto out;
        }
    } else {
        for (uint32_t i = 0; i < nf; i++) {
            if (!isfinite(src->coef[i])) {
                rp_error_set(err, RP_ERR_INVALID, "coefficient %u is not a finite number", i);
                goto out;
            }
        }
        if (!isfinite(src->intercept)) {
            rp_error_set(err, RP_ERR_INVALID, "intercept is not a finite number");
            goto out;
        }
    }

    /* Layout. */
    img_section sec[8];
    uint32_t ns = 0;
    rp_img_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.n_features = nf;
    meta.n_onehot = n_onehot;
    meta.n_trees = src->kind == RP_MODEL_TREES ? src->n_trees : 0;
    meta.combine = src->combine;
    meta.split = src->split;
    meta.max_depth = max_depth;
    meta.vocab_slots = vslots;
    meta.trip_distance = td;
    meta.n_nodes = n_nodes;
    meta.n_leaves = n_leaves;
    meta.base = src->kind == RP_MODEL_TREES ? src->base : src->intercept;
    meta.name_off = 0;
    meta.name_len = (uint32_t)src->name_len;
    meta.version_off = (uint32_t)src->name_len;
    meta.version_len = (uint32_t)src->version_len;

    char *strs = malloc(strs_len + 1);
    uint32_t *featoff = malloc(((size_t)nf + 1) * sizeof *featoff);
    if (!strs || !featoff) {
        free(strs);
        free(featoff);
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t pos = 0;
    if (src->name_len)
        memcpy(strs + pos, src->name, src->name_len);
    pos += src->name_len;
    if (src->version_len)
        memcpy(strs + pos, src->version, src->version_len);
    pos += src->version_len;
    for (uint32_t i = 0; i < nf; i++) {
        featoff[i] = (uint32_t)pos;
        memcpy(strs + pos, src->feature_names[i], src->feature_lens[i]);
        pos += src->feature_lens[i];
    }
    featoff[nf] = (uint32_t)pos;

    sec[ns++] = (img_section){RP_SEC_META, &meta, sizeof meta};
    sec[ns++] = (img_section){RP_SEC_STRS, strs, strs_len};
    sec[ns++] = (img_section){RP_SEC_FEATOFF, featoff, ((size_t)nf + 1) * sizeof *featoff};
    sec[ns++] = (img_section){RP_SEC_VOCAB, slots, (size_t)vslots * 2 * sizeof *slots};
    if (src->kind == RP_MODEL_LINEAR) {
        sec[ns++] = (img_section){RP_SEC_COEF, src->coef, (size_t)nf * sizeof(double)};
    } else {
        sec[ns++] = (img_section){RP_SEC_TREES, tree_start, ((size_t)src->n_trees + 1) * sizeof *tree_start};
        sec[ns++] = (img_section){RP_SEC_NODES, nodes, n_nodes * sizeof *nodes};
        sec[ns++] = (img_section){RP_SEC_LEAVES, leaves, n_leaves * sizeof *leaves};
    }
    size_t off = RP_IMG_HEADER_SIZE + align8((size_t)ns * 24);
    size_t total = off;
    for (uint32_t i = 0; i < ns; i++)
        total += align8(sec[i].size);

    rp_buf_reset(out);
    if (rp_buf_grow(out, total) != 0) {
        free(strs);
        free(featoff);
        rp_error_set(err, RP_ERR_NOMEM, "model image of %zu bytes does not fit", total);
        goto out;
    }
    unsigned char *img = (unsigned char *)out->data;
    memset(img, 0, total);
    unsigned char *tab = img + RP_IMG_HEADER_SIZE;
    for (uint32_t i = 0; i < ns; i++) {
        uint64_t o64 = off, s64 = sec[i].size;
        memcpy(tab + 24 * i, &sec[i].id, 4);
        memcpy(tab + 24 * i + 8, &o64, 8);
        memcpy(tab + 24 * i + 16, &s64, 8);
        if (sec[i].size)
            memcpy(img + off, sec[i].data, sec[i].size);
        off += align8(sec[i].size);
    }
    free(strs);
    free(featoff);
    uint32_t version = RP_IMG_VERSION, hsize = RP_IMG_HEADER_SIZE, kind = src->kind;
    uint64_t fsize = total;
    memcpy(img, RP_IMG_MAGIC, 8);
    memcpy(img + 8, &version, 4);
    memcpy(img + 12, &hsize, 4);
    memcpy(img + 16, &fsize, 8);
    memcpy(img + 32, &kind, 4);
    memcpy(img + 36, &ns, 4);
    uint64_t pay = XXH3_64bits(img + RP_IMG_HEADER_SIZE, total - RP_IMG_HEADER_SIZE);
    memcpy(img + 24, &pay, 8);
    uint64_t hsum = XXH3_64bits(img, 56);
    memcpy(img + 56, &hsum, 8);
    out->len = total;
    rc = 0;
out:
    free(slots);
    free(all);
    free(nodes);
    free(leaves);
    free(stack);
    free(seen);
    free(tree_start);
    return rc;
}
