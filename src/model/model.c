/* The model object: opening native model images, and prediction (the
 * bottom of src/model with image.c; loading files of every format is
 * load.c's).
 *
 * Opening checks the header, its checksum, the section table and every
 * section's size against the counts in META: O(1) in the model's size but
 * for the tree table (O(trees)) and, when asked, the payload checksum (one
 * XXH3 pass).  Nothing else is read at open: node and vocabulary indices are
 * checked as they are used, so a corrupt image fails a prediction with an
 * error instead of reading out of bounds. */
#include "model/model.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "model/image.h"
#include "ridepred/model.h"

struct rp_model {
    atomic_int refs;
    const unsigned char *base;
    size_t size;
    void *owned;        /* malloc'd image, or NULL */
    void *mapped;       /* mmap'd image, or NULL */
    const char *format; /* "native" or "json" */
    uint32_t kind;
    const rp__img_meta *meta;
    const char *strs;
    size_t strs_len;
    const uint32_t *featoff;
    const uint32_t *vocab;
    const double *coef;
    const uint32_t *tree_start;
    const rp__img_node *nodes;
    const double *leaves;
    /* the ride fast path (image.h), or fm == NULL */
    const rp__img_fast_meta *fm;
    const float *bounds;
    const double *sums;
    const uint32_t *cols;
    const rp__img_fast_col *colinfo;
    bool sum_f32;       /* META flag RP_META_SUM_F32 */
    const char *source; /* the SOURCE section, or NULL */
    size_t source_len;
};

static bool has_section(const unsigned char *img, uint32_t ns, uint32_t id)
{
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t sid;
        memcpy(&sid, img + RP_IMG_HEADER_SIZE + 24 * i, 4);
        if (sid == id)
            return true;
    }
    return false;
}

static int find_section(const unsigned char *img, size_t size, uint32_t ns, uint32_t id, size_t want,
                        bool exact, const void **ptr, size_t *got, rp_error *err)
{
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t sid;
        uint64_t off, len;
        memcpy(&sid, img + RP_IMG_HEADER_SIZE + 24 * i, 4);
        if (sid != id)
            continue;
        memcpy(&off, img + RP_IMG_HEADER_SIZE + 24 * i + 8, 8);
        memcpy(&len, img + RP_IMG_HEADER_SIZE + 24 * i + 16, 8);
        if (off % 8 || off > size || len > size - off)
            return rp_error_set(err, RP_ERR_CORRUPT,
                                "section %u lies outside the file (offset %llu, size %llu, file %zu bytes)",
                                id, (unsigned long long)off, (unsigned long long)len, size);
        if (exact ? len != want : len < want)
            return rp_error_set(err, RP_ERR_CORRUPT, "section %u has %llu bytes, expected %zu", id,
                                (unsigned long long)len, want);
        *ptr = img + off;
        if (got)
            *got = len;
        return 0;
    }
    return rp_error_set(err, RP_ERR_CORRUPT, "section %u is missing", id);
}

static int open_image(rp_model *m, const rp_model_load_opts *opts, rp_error *err)
{
    const unsigned char *img = m->base;
    size_t size = m->size;
    if (size < RP_IMG_HEADER_SIZE || memcmp(img, RP_IMG_MAGIC, 8) != 0)
        return rp_error_set(err, RP_ERR_CORRUPT,
                            "not a ridepred native model (bad magic or shorter than its header)");
    uint32_t version, hsize, ns;
    uint64_t fsize, pay, hsum;
    memcpy(&version, img + 8, 4);
    memcpy(&hsize, img + 12, 4);
    memcpy(&fsize, img + 16, 8);
    memcpy(&pay, img + 24, 8);
    memcpy(&m->kind, img + 32, 4);
    memcpy(&ns, img + 36, 4);
    memcpy(&hsum, img + 56, 8);
    if (XXH3_64bits(img, 56) != hsum)
        return rp_error_set(err, RP_ERR_CORRUPT, "header checksum mismatch");
    if (version != RP_IMG_VERSION)
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "native model format version %u; this ridepred reads version %u", version,
                            RP_IMG_VERSION);
    if (hsize != RP_IMG_HEADER_SIZE)
        return rp_error_set(err, RP_ERR_CORRUPT, "header size %u", hsize);
    if (fsize != size)
        return rp_error_set(err, RP_ERR_CORRUPT, "file is %zu bytes but its header says %llu (truncated?)",
                            size, (unsigned long long)fsize);
    if (ns == 0 || ns > RP_IMG_MAX_SECTIONS || RP_IMG_HEADER_SIZE + 24 * (size_t)ns > size)
        return rp_error_set(err, RP_ERR_CORRUPT, "bad section count %u", ns);
    if (m->kind != RP_MODEL_LINEAR && m->kind != RP_MODEL_TREES)
        return rp_error_set(err, RP_ERR_CORRUPT, "unknown model kind %u", m->kind);
    if ((!opts || opts->verify_checksum) &&
        XXH3_64bits(img + RP_IMG_HEADER_SIZE, size - RP_IMG_HEADER_SIZE) != pay)
        return rp_error_set(err, RP_ERR_CORRUPT, "payload checksum mismatch (the file is damaged)");

    const void *p;
    if (find_section(img, size, ns, RP_SEC_META, sizeof(rp__img_meta), true, &p, NULL, err) < 0)
        return -1;
    m->meta = p;
    const rp__img_meta *mt = m->meta;
    if (mt->flags & ~RP_META_KNOWN_FLAGS)
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "native model uses features this ridepred does not know (META flags 0x%x)",
                            mt->flags);
    m->sum_f32 = m->kind == RP_MODEL_TREES && (mt->flags & RP_META_SUM_F32);
    if (mt->n_features > RP_NODE_FEATURE_MASK)
        return rp_error_set(err, RP_ERR_CORRUPT, "bad feature count");
    if (find_section(img, size, ns, RP_SEC_STRS, 0, false, &p, &m->strs_len, err) < 0)
        return -1;
    m->strs = p;
    if ((uint64_t)mt->name_off + mt->name_len > m->strs_len ||
        (uint64_t)mt->version_off + mt->version_len > m->strs_len)
        return rp_error_set(err, RP_ERR_CORRUPT, "name or version outside the string section");
    if (find_section(img, size, ns, RP_SEC_FEATOFF, ((size_t)mt->n_features + 1) * 4, true, &p, NULL, err) <
        0)
        return -1;
    m->featoff = p;
    if (mt->vocab_slots & (mt->vocab_slots - 1))
        return rp_error_set(err, RP_ERR_CORRUPT, "vocabulary size %u is not a power of two", mt->vocab_slots);
    if (find_section(img, size, ns, RP_SEC_VOCAB, (size_t)mt->vocab_slots * 8, true, &p, NULL, err) < 0)
        return -1;
    m->vocab = p;
    if (mt->trip_distance != UINT32_MAX && mt->trip_distance >= mt->n_features)
        return rp_error_set(err, RP_ERR_CORRUPT, "trip_distance column out of range");
    if (has_section(img, ns, RP_SEC_SOURCE)) {
        if (find_section(img, size, ns, RP_SEC_SOURCE, 0, false, &p, &m->source_len, err) < 0)
            return -1;
        if (m->source_len > RP_IMG_SOURCE_MAX)
            return rp_error_set(err, RP_ERR_CORRUPT, "source section of %zu bytes (at most %zu)",
                                m->source_len, RP_IMG_SOURCE_MAX);
        m->source = p;
    }
    if (m->kind == RP_MODEL_LINEAR) {
        if (find_section(img, size, ns, RP_SEC_COEF, (size_t)mt->n_features * 8, true, &p, NULL, err) < 0)
            return -1;
        m->coef = p;
        return 0;
    }
    if (mt->n_trees == 0 || mt->n_nodes >= UINT32_MAX || mt->n_leaves > mt->n_nodes)
        return rp_error_set(err, RP_ERR_CORRUPT, "bad tree counts");
    if (mt->combine > RP_COMBINE_MEAN || mt->split > RP_SPLIT_LT)
        return rp_error_set(err, RP_ERR_CORRUPT, "bad combine or split");
    if ((mt->flags & RP_META_SUM_F32) && mt->combine != RP_COMBINE_SUM)
        return rp_error_set(err, RP_ERR_CORRUPT, "float32 accumulation with combine mean");
    if (find_section(img, size, ns, RP_SEC_TREES, ((size_t)mt->n_trees + 1) * 4, true, &p, NULL, err) < 0)
        return -1;
    m->tree_start = p;
    if (find_section(img, size, ns, RP_SEC_NODES, mt->n_nodes * sizeof(rp__img_node), true, &p, NULL, err) <
        0)
        return -1;
    m->nodes = p;
    if (find_section(img, size, ns, RP_SEC_LEAVES, mt->n_leaves * 8, true, &p, NULL, err) < 0)
        return -1;
    m->leaves = p;
    for (uint32_t t = 0; t < mt->n_trees; t++)
        if (m->tree_start[t] >= m->tree_start[t + 1])
            return rp_error_set(err, RP_ERR_CORRUPT, "tree %u is empty or out of order", t);
    if (m->tree_start[0] != 0 || m->tree_start[mt->n_trees] != mt->n_nodes)
        return rp_error_set(err, RP_ERR_CORRUPT, "tree table does not cover the nodes");
    if (!has_section(img, ns, RP_SEC_FAST_META))
        return 0;
    /* The ride fast path: sizes only, O(1); indices are checked at use. */
    if (find_section(img, size, ns, RP_SEC_FAST_META, sizeof(rp__img_fast_meta), true, &p, NULL, err) < 0)
        return -1;
    const rp__img_fast_meta *fm = p;
    if (fm->n_trees != mt->n_trees || fm->n_features != mt->n_features || fm->xcol >= mt->n_features ||
        fm->n_bounds > UINT32_MAX - 2 || fm->n_rows != fm->n_bounds + 2)
        return rp_error_set(err, RP_ERR_CORRUPT, "fast-path counts do not match the model");
    if (fm->n_sums < fm->n_rows)
        return rp_error_set(err, RP_ERR_CORRUPT, "fast-path sums fewer than its rows");
    if (find_section(img, size, ns, RP_SEC_FAST_BOUNDS, (size_t)fm->n_bounds * 4, true, &p, NULL, err) < 0)
        return -1;
    m->bounds = p;
    if (find_section(img, size, ns, RP_SEC_FAST_SUMS, (size_t)fm->n_sums * 8, true, &p, NULL, err) < 0)
        return -1;
    m->sums = p;
    if (find_section(img, size, ns, RP_SEC_FAST_COLS, (size_t)fm->n_features * 4, true, &p, NULL, err) < 0)
        return -1;
    m->cols = p;
    if (find_section(img, size, ns, RP_SEC_FAST_COLINFO, (size_t)fm->n_cols * sizeof(rp__img_fast_col), true,
                     &p, NULL, err) < 0)
        return -1;
    m->colinfo = p;
    m->fm = fm;
    return 0;
}

static rp_model *model_new(void)
{
    rp_model *m = calloc(1, sizeof *m);
    if (m)
        atomic_init(&m->refs, 1);
    return m;
}

static void model_free(rp_model *m)
{
    if (!m)
        return;
    if (m->mapped)
        munmap(m->mapped, m->size);
    free(m->owned);
    free(m);
}

int rp_model_from_native(const void *data, size_t len, bool copy, const rp_model_load_opts *opts,
                         rp_model **out, rp_error *err)
{
    rp_model *m = model_new();
    if (!m)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    m->format = "native";
    if (copy) {
        /* malloc aligns to 16, which the sections need. */
        m->owned = malloc(len ? len : 1);
        if (!m->owned) {
            model_free(m);
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        }
        memcpy(m->owned, data, len);
        m->base = m->owned;
    } else {
        if ((uintptr_t)data % 8) {
            model_free(m);
            return rp_error_set(err, RP_ERR_INVALID, "model image is not 8-byte aligned");
        }
        m->base = data;
    }
    m->size = len;
    if (open_image(m, opts, err) < 0) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* Takes ownership of a malloc'd image built from another format. */
static int adopt_image(void *image, size_t len, const char *format, rp_model **out, rp_error *err)
{
    rp_model *m = model_new();
    if (!m) {
        free(image);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    m->owned = image;
    m->base = image;
    m->size = len;
    m->format = format;
    rp_model_load_opts opts = {.verify_checksum = false};
    if (open_image(m, &opts, err) < 0) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int rp__model_build(const rp__img_src *src, const char *format, rp_model **out, rp_error *err)
{
    rp__buf img;
    rp__buf_init(&img, (size_t)1 << 36);
    if (rp__img_build(src, &img, err) < 0) {
        rp__buf_cleanup(&img);
        return -1;
    }
    size_t len;
    char *image = rp__buf_steal(&img, &len);
    return adopt_image(image, len, format, out, err);
}

int rp__model_map_file(int fd, size_t size, const char *path, const rp_model_load_opts *opts, rp_model **out,
                       rp_error *err)
{
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return rp_error_set(err, RP_ERR_IO, "cannot map model %s: %s", path, strerror(errno));
    rp_model *m = model_new();
    if (!m) {
        munmap(map, size);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    m->mapped = map;
    m->base = map;
    m->size = size;
    m->format = "native";
    if (open_image(m, opts, err) < 0) {
        model_free(m);
        rp_error_prefix(err, "model %s", path);
        return -1;
    }
    *out = m;
    return 0;
}

rp_model *rp_model_retain(rp_model *m)
{
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void rp_model_release(rp_model *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        model_free(m);
}

const char *rp_model_feature_name(const rp_model *m, uint32_t i, size_t *len)
{
    if (i >= m->meta->n_features)
        return NULL;
    uint32_t a = m->featoff[i], b = m->featoff[i + 1];
    if (a > b || b > m->strs_len)
        return NULL;
    *len = b - a;
    return m->strs + a;
}

int32_t rp_model_onehot(const rp_model *m, const char *name, size_t len)
{
    uint32_t slots = m->meta->vocab_slots;
    if (!slots)
        return -1;
    uint32_t h = rp__img_hash(name, len);
    uint32_t mask = slots - 1;
    for (uint32_t probe = 0, j = h & mask; probe < slots; probe++, j = (j + 1) & mask) {
        uint32_t col = m->vocab[2 * j + 1];
        if (!col)
            return -1;
        if (m->vocab[2 * j] != h)
            continue;
        size_t flen;
        const char *f = rp_model_feature_name(m, col - 1, &flen);
        if (f && flen == len && memcmp(f, name, len) == 0)
            return (int32_t)(col - 1);
    }
    return -1;
}

int32_t rp_model_trip_distance(const rp_model *m)
{
    return m->meta->trip_distance == UINT32_MAX ? -1 : (int32_t)m->meta->trip_distance;
}

static const char msg_f32[] =
    "a feature value is beyond float32 range (tree models compare float32 values, as scikit-learn does)";
static const char msg_walk[] = "model is corrupt: a tree walk leaves its bounds";

const char *rp_model_status_message(rp_code status)
{
    switch (status) {
    case RP_OK: return "ok";
    case RP_ERR_INVALID: return msg_f32;
    case RP_ERR_CORRUPT: return msg_walk;
    default: return rp_code_name(status);
    }
}

/* Rows walked in lockstep: independent node loads in flight together hide
 * the latency of nodes that are not in cache. */
#define LANES 8

/* A row as the tree walk sees it.  Rows have at most RP_ROW_MAX entries,
 * and ride rows two (the PU_DO one-hot column and trip_distance), so the
 * first two are kept in registers-friendly fields; UINT32_MAX is "none". */
typedef struct lane {
    uint32_t c0, c1;
    float x0, x1;
    uint32_t n;
    uint32_t idx[RP_ROW_MAX];
    float x[RP_ROW_MAX];
} lane;

/* One step from internal node nd for a row: the child index. */
static inline uint32_t step(const rp__img_node *nd, uint32_t f, const lane *L)
{
    uint32_t col = f & RP_NODE_FEATURE_MASK;
    float x;
    if (col == L->c0) {
        x = L->x0;
    } else if (col == L->c1) {
        x = L->x1;
    } else {
        uint32_t j = 2;
        while (j < L->n && L->idx[j] != col)
            j++;
        if (j < L->n)
            x = L->x[j];
        else if (f & RP_NODE_HAS_DEFAULT)
            return (f & RP_NODE_DEFAULT_LEFT) ? nd->left : nd->right;
        else
            x = 0.0f;
    }
    return x <= nd->threshold ? nd->left : nd->right;
}

/* Walks tree t for up to LANES rows at once; adds each leaf to acc[k]. */
static void walk_tree(const rp_model *m, uint32_t t, const lane *ln, size_t nl, double *acc, rp_code *st)
{
    const rp__img_node *nodes = m->nodes;
    uint32_t start = m->tree_start[t], end = m->tree_start[t + 1];
    uint32_t cur[LANES];
    uint32_t live = 0, alive[LANES];
    for (size_t k = 0; k < nl; k++)
        if (st[k] == RP_OK) {
            cur[live] = start;
            alive[live++] = (uint32_t)k;
        }
    while (live) {
        uint32_t still = 0;
        for (uint32_t a = 0; a < live; a++) {
            uint32_t k = alive[a], i = cur[a];
            const rp__img_node *nd = &nodes[i];
            uint32_t f = nd->feature;
            if (f == RP_NODE_LEAF) {
                uint32_t leaf = nd->left;
                if (leaf >= m->meta->n_leaves)
                    st[k] = RP_ERR_CORRUPT;
                else if (m->sum_f32)
                    acc[k] = (double)((float)acc[k] + (float)m->leaves[leaf]);
                else
                    acc[k] += m->leaves[leaf];
                continue;
            }
            uint32_t next = step(nd, f, &ln[k]);
            if (next <= i || next >= end) {
                st[k] = RP_ERR_CORRUPT;
                continue;
            }
            cur[still] = next;
            alive[still++] = k;
        }
        live = still;
    }
}

/* The answer from the accumulator: sum: the base first, then each stage in
 * order (gradient boosting); mean: the trees from 0, divided by their
 * count, then the base. */
static inline double finish(const rp__img_meta *mt, double acc)
{
    if (mt->combine == RP_COMBINE_MEAN) {
        acc /= (double)mt->n_trees;
        if (mt->base != 0.0)
            acc += mt->base;
    }
    return acc;
}

/* Walks every tree node by node for the rows rows[idx[0 .. nl)], nl <= LANES. */
static void walk_rows(const rp_model *m, const rp_row *rows, const size_t *idx, size_t nl, double *out,
                      rp_code *status)
{
    const rp__img_meta *mt = m->meta;
    lane ln[LANES];
    double acc[LANES];
    rp_code st[LANES];
    for (size_t k = 0; k < nl; k++) {
        const rp_row *row = &rows[idx[k]];
        lane *L = &ln[k];
        st[k] = RP_OK;
        acc[k] = mt->combine == RP_COMBINE_SUM ? mt->base : 0.0;
        L->n = 0;
        L->c0 = L->c1 = UINT32_MAX;
        L->x0 = L->x1 = 0.0f;
        if (row->n < 0 || row->n > RP_ROW_MAX) {
            st[k] = RP_ERR_INVALID;
            continue;
        }
        L->n = (uint32_t)row->n;
        for (int j = 0; j < row->n; j++) {
            L->idx[j] = row->idx[j];
            /* scikit-learn casts X to float32 and refuses what overflows it. */
            L->x[j] = (float)row->val[j];
            if (!isfinite(L->x[j]))
                st[k] = RP_ERR_INVALID;
        }
        if (row->n > 0) {
            L->c0 = row->idx[0];
            L->x0 = L->x[0];
        }
        if (row->n > 1) {
            L->c1 = row->idx[1];
            L->x1 = L->x[1];
        }
    }
    for (uint32_t t = 0; t < mt->n_trees; t++)
        walk_tree(m, t, ln, nl, acc, st);
    for (size_t k = 0; k < nl; k++) {
        out[idx[k]] = finish(mt, acc[k]);
        status[idx[k]] = st[k];
    }
}

/* The ride fast path (image.h): O(1) for a row of at most one x and one
 * other column.  Returns false when the row is not of that shape, or its
 * column's value or mode is not precomputed (then the walk serves it);
 * else sets *out and *st. */
static bool fast_row(const rp_model *m, const rp_row *row, double *out, rp_code *st)
{
    const rp__img_fast_meta *fm = m->fm;
    uint32_t xcol = fm->xcol;
    bool has_x = false, has_j = false;
    float x = 0.0f, v = 0.0f;
    uint32_t j = 0;
    if (row->n < 0 || row->n > 2)
        return false;
    for (int k = 0; k < row->n; k++) {
        float f = (float)row->val[k];
        if (!isfinite(f))
            return false;
        if (row->idx[k] == xcol) {
            if (has_x)
                return false;
            has_x = true;
            x = f;
        } else {
            if (has_j)
                return false;
            has_j = true;
            j = row->idx[k];
            v = f;
        }
    }
    /* The row: 1 + the number of bounds < x (a branch-free binary search),
     * or 0 when x is absent. */
    uint32_t r = 0;
    if (has_x) {
        const float *b = m->bounds;
        uint32_t n = fm->n_bounds;
        if (n) {
            while (n > 1) {
                uint32_t h = n / 2;
                b = b[h - 1] < x ? b + h : b;
                n -= h;
            }
            b += *b < x;
        }
        r = (uint32_t)(b - m->bounds) + 1;
    }
    double acc = m->sums[r];
    if (has_j && j < fm->n_features && m->cols[j]) {
        uint32_t ci = m->cols[j] - 1;
        if (ci >= fm->n_cols)
            goto corrupt;
        const rp__img_fast_col *col = &m->colinfo[ci];
        int mode;
        if (v <= col->tmin)
            mode = 0;
        else if (v > col->tmax)
            mode = 1;
        else
            return false; /* the column's tests do not all go one way */
        uint32_t off = col->off[mode], rel = r - col->lo[mode];
        if (off == RP_FAST_WALK)
            return false;
        if (rel < col->width[mode]) {
            if (off > fm->n_sums || col->width[mode] > fm->n_sums - off)
                goto corrupt;
            acc = m->sums[off + rel];
        }
    }
    *out = finish(m->meta, acc);
    *st = RP_OK;
    return true;
corrupt:
    *out = 0.0;
    *st = RP_ERR_CORRUPT;
    return true;
}

static void predict_trees(const rp_model *m, const rp_row *rows, size_t n, double *out, rp_code *st,
                          bool fast)
{
    size_t pend[LANES], np = 0;
    for (size_t i = 0; i < n; i++) {
        if (fast && fast_row(m, &rows[i], &out[i], &st[i]))
            continue;
        pend[np++] = i;
        if (np == LANES) {
            walk_rows(m, rows, pend, np, out, st);
            np = 0;
        }
    }
    if (np)
        walk_rows(m, rows, pend, np, out, st);
}

static double predict_linear(const rp_model *m, const rp_row *row)
{
    /* As scipy's csr_matvec, then numpy's + intercept_. */
    double s = 0.0;
    for (int k = 0; k < row->n; k++)
        s += row->val[k] * m->coef[row->idx[k]];
    return s + m->meta->base;
}

void rp_model_predict_batch(const rp_model *m, const rp_row *rows, size_t n, double *out, rp_code *status)
{
    if (m->kind == RP_MODEL_LINEAR) {
        for (size_t i = 0; i < n; i++) {
            out[i] = predict_linear(m, &rows[i]);
            status[i] = RP_OK;
        }
        return;
    }
    predict_trees(m, rows, n, out, status, m->fm != NULL);
}

void rp__model_predict_batch_walk(const rp_model *m, const rp_row *rows, size_t n, double *out,
                                  rp_code *status)
{
    if (m->kind == RP_MODEL_LINEAR) {
        rp_model_predict_batch(m, rows, n, out, status);
        return;
    }
    predict_trees(m, rows, n, out, status, false);
}

bool rp__model_has_fast_path(const rp_model *m)
{
    return m->fm != NULL;
}

bool rp__model_predict_fast(const rp_model *m, const rp_row *row, double *out, rp_code *status)
{
    return m->kind == RP_MODEL_TREES && m->fm && fast_row(m, row, out, status);
}

int rp_model_predict(const rp_model *m, const rp_row *row, double *out, rp_error *err)
{
    rp_code st;
    rp_model_predict_batch(m, row, 1, out, &st);
    if (st != RP_OK)
        return rp_error_set(err, st, "%s", rp_model_status_message(st));
    return 0;
}

void rp_model_get_info(const rp_model *m, rp_model_info *info)
{
    const rp__img_meta *mt = m->meta;
    memset(info, 0, sizeof *info);
    info->kind = (rp_model_kind)m->kind;
    info->format = m->format;
    info->n_features = mt->n_features;
    info->n_onehot = mt->n_onehot;
    info->n_trees = mt->n_trees;
    info->n_nodes = mt->n_nodes;
    info->n_leaves = mt->n_leaves;
    info->max_depth = mt->max_depth;
    info->combine = (rp_model_combine)mt->combine;
    info->split = (rp_model_split)mt->split;
    info->base = mt->base;
    info->sum_f32 = m->sum_f32;
    info->name = m->strs + mt->name_off;
    info->name_len = mt->name_len;
    info->version = m->strs + mt->version_off;
    info->version_len = mt->version_len;
    info->bytes = m->size;
    info->source = m->source;
    info->source_len = m->source_len;
}

int rp_model_write_native(const rp_model *m, const char *path, rp_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int rc = -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rp_error_set(err, RP_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fwrite(m->base, 1, m->size, f) != m->size || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}
