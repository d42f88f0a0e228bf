/* Building a native model image from a validated source description. */
#include "model/image.h"

#include "common/pyjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

_Static_assert(sizeof(rp__img_meta) == 88, "meta layout");
_Static_assert(sizeof(rp__img_node) == 16, "node layout");
_Static_assert(sizeof(rp__img_fast_meta) == 64, "fast meta layout");
_Static_assert(sizeof(rp__img_fast_col) == 32, "fast column layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the native format is little-endian");

uint32_t rp__img_hash(const char *s, size_t n)
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

/* One step of the sum accumulator: in double, or in float32 (XGBoost). */
static inline double acc_add(double acc, double v, bool f32)
{
    return f32 ? (double)((float)acc + (float)v) : acc + v;
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
    uint32_t src;    /* node in the source arrays */
    uint32_t parent; /* new index of the parent, UINT32_MAX for the root */
    uint32_t depth;
    uint8_t is_left;
} work;

/* Lays one tree out in preorder into nodes/leaves, validating it. */
static int build_tree(const rp__img_src *src, uint32_t t, rp__img_node *nodes, uint64_t *n_nodes,
                      double *leaves, uint64_t *n_leaves, uint32_t *max_depth, work *stack, uint8_t *seen,
                      rp_error *err)
{
    const rp__img_tree_src *tr = &src->trees[t];
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
        rp__img_node *nd = &nodes[me];
        int64_t l = tr->left[i], r = tr->right[i];
        if (l == -1 || r == -1) {
            if (l != -1 || r != -1)
                return rp_error_set(err, RP_ERR_INVALID,
                                    "tree %u: node %u has one child (left %lld, right %lld)", t, i,
                                    (long long)l, (long long)r);
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
            return rp_error_set(err, RP_ERR_INVALID,
                                "tree %u: node %u has a child out of range (left %lld, right %lld, %u nodes)",
                                t, i, (long long)l, (long long)r, n);
        int64_t f = tr->feature[i];
        if (f < 0 || f >= src->n_features)
            return rp_error_set(err, RP_ERR_INVALID,
                                "tree %u: node %u tests feature %lld, but the model has %u features", t, i,
                                (long long)f, src->n_features);
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

/* ---- The ride fast path (image.h, docs/model-format.md) ----------------
 *
 * Table rows: 0 = x absent, 1 + i = x in the i-th interval of the bounds.
 * A set of rows is a range [lo, hi) of interval rows plus, when `absent`,
 * row 0. */

/* Where a row goes at an internal node when the node's column is absent:
 * the node's missing direction, else the value 0 (as the walk does). */
static inline int absent_left(const rp__img_node *nd)
{
    if (nd->feature & RP_NODE_HAS_DEFAULT)
        return (nd->feature & RP_NODE_DEFAULT_LEFT) != 0;
    return 0.0f <= nd->threshold;
}

/* The number of bounds < x. */
static uint32_t bound_rank(const float *b, uint32_t nb, float x)
{
    uint32_t lo = 0, n = nb;
    while (n > 0) {
        uint32_t h = n / 2;
        if (b[lo + h] < x) {
            lo += h + 1;
            n -= h + 1;
        } else {
            n = h;
        }
    }
    return lo;
}

/* An order-preserving key of a float (no NaN), and back. */
static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u ^ ((u >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

static float key_float(uint32_t k)
{
    uint32_t u = k ^ ((k >> 31) ? 0x80000000u : 0xFFFFFFFFu);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Sorts n keys ascending (LSD radix, through tmp[n]). */
static void sort_keys(uint32_t *a, uint32_t *tmp, size_t n)
{
    uint32_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[((src[i] >> shift) & 0xFF) + 1]++;
        for (int k = 0; k < 256; k++)
            cnt[k + 1] += cnt[k];
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 0xFF]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    /* an even number of passes: the result is in a */
}

typedef struct frame {
    uint32_t node, lo, hi;
    uint32_t absent;
    uint32_t exit; /* an exit marker: the key + 1 whose flag to clear */
} frame;

/* Where a present column, in one mode, first leaves the no-column path. */
typedef struct diverge {
    uint32_t key;   /* column info index * 2 + mode */
    uint32_t child; /* where a row in that mode goes */
    uint32_t lo, hi, absent;
} diverge;

typedef struct fctx {
    const rp__img_node *nodes;
    const double *leaves;
    const float *bounds;
    const uint32_t *cols;  /* column → 1 + column info index, or 0 */
    const uint32_t *xrank; /* node testing x → the number of bounds < its threshold */
    uint32_t xcol, nb;
    frame *stack;
} fctx;

static void set_rows(double *out, uint32_t lo, uint32_t hi, uint32_t absent, double v)
{
    for (uint32_t r = lo; r < hi; r++)
        out[r] = v;
    if (absent)
        out[0] = v;
}

/* Splits the rows of w at a node testing x: pushes the children's parts. */
static size_t split_x(const fctx *cx, const rp__img_node *nd, const frame *w, size_t sp)
{
    uint32_t k = cx->xrank[w->node] + 2; /* rows < k: x <= threshold */
    uint32_t al = (uint32_t)absent_left(nd);
    uint32_t mid_lo = w->lo > k ? w->lo : k, mid_hi = w->hi < k ? w->hi : k;
    if (w->lo < mid_hi || (w->absent && al))
        cx->stack[sp++] = (frame){nd->left, w->lo, mid_hi, w->absent & al, 0};
    if (mid_lo < w->hi || (w->absent && !al))
        cx->stack[sp++] = (frame){nd->right, mid_lo, w->hi, w->absent & !al, 0};
    return sp;
}

/* Walks the subtree at `root` for a set of rows, with the column of `key`
 * (column info index * 2 + mode) present and every test of it going left
 * (mode 0) or right (mode 1), every other column but x absent; writes each
 * row's leaf value. */
static void fill(const fctx *cx, uint32_t root, uint32_t lo, uint32_t hi, uint32_t absent, uint32_t key,
                 double *out)
{
    size_t sp = 0;
    cx->stack[sp++] = (frame){root, lo, hi, absent, 0};
    while (sp) {
        frame w = cx->stack[--sp];
        const rp__img_node *nd = &cx->nodes[w.node];
        if (nd->feature == RP_NODE_LEAF) {
            set_rows(out, w.lo, w.hi, w.absent, cx->leaves[nd->left]);
            continue;
        }
        uint32_t col = nd->feature & RP_NODE_FEATURE_MASK;
        if (col == cx->xcol) {
            sp = split_x(cx, nd, &w, sp);
        } else {
            int left = cx->cols[col] - 1 == key / 2 ? (key & 1) == 0 : absent_left(nd);
            cx->stack[sp++] = (frame){left ? nd->left : nd->right, w.lo, w.hi, w.absent, 0};
        }
    }
}

/* fill for every row with no column present, from the tree's root; also
 * records in `div` where a present column would first leave that path. */
static size_t fill_base(const fctx *cx, uint32_t root, double *out, uint8_t *flag, diverge *div)
{
    size_t sp = 0, n_div = 0;
    cx->stack[sp++] = (frame){root, 1, cx->nb + 2, 1, 0};
    while (sp) {
        frame w = cx->stack[--sp];
        if (w.exit) {
            flag[w.exit - 1] = 0;
            continue;
        }
        const rp__img_node *nd = &cx->nodes[w.node];
        if (nd->feature == RP_NODE_LEAF) {
            set_rows(out, w.lo, w.hi, w.absent, cx->leaves[nd->left]);
            continue;
        }
        uint32_t col = nd->feature & RP_NODE_FEATURE_MASK;
        if (col == cx->xcol) {
            sp = split_x(cx, nd, &w, sp);
            continue;
        }
        /* A present column goes the other way in exactly one mode: right
         * (mode 1) where absence goes left, left (mode 0) where it goes
         * right; unless, in that mode, it already left this path above. */
        int al = absent_left(nd);
        uint32_t key = (cx->cols[col] - 1) * 2 + (al ? 1u : 0u);
        if (!flag[key]) {
            div[n_div++] = (diverge){key, al ? nd->right : nd->left, w.lo, w.hi, w.absent};
            flag[key] = 1;
            cx->stack[sp++] = (frame){0, 0, 0, 0, key + 1};
        }
        cx->stack[sp++] = (frame){al ? nd->left : nd->right, w.lo, w.hi, w.absent, 0};
    }
    return n_div;
}

static int cmp_diverge(const void *a, const void *b)
{
    const diverge *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->lo < y->lo ? -1 : x->lo > y->lo);
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The rows of a divergence group (div[a..b)), marked with `stamp`, and
 * the tree's leaf for each of them in the column's mode. */
static void fill_group(const fctx *cx, const diverge *div, size_t a, size_t b, uint32_t key, double *g,
                       uint32_t *mark, uint32_t stamp)
{
    for (size_t d = a; d < b; d++) {
        fill(cx, div[d].child, div[d].lo, div[d].hi, div[d].absent, key, g);
        for (uint32_t r = div[d].lo; r < div[d].hi; r++)
            mark[r] = stamp;
        if (div[d].absent)
            mark[0] = stamp;
    }
}

typedef struct fast_out {
    rp__img_fast_meta meta;
    float *bounds;
    double *sums;
    uint32_t *cols;
    rp__img_fast_col *colinfo;
} fast_out;

static void fast_free(fast_out *fo)
{
    free(fo->bounds);
    free(fo->sums);
    free(fo->cols);
    free(fo->colinfo);
    memset(fo, 0, sizeof *fo);
}

typedef struct span {
    uint32_t lo, hi, key;
} span;

static int cmp_span_width(const void *a, const void *b)
{
    const span *x = a, *y = b;
    uint32_t wx = x->hi - x->lo, wy = y->hi - y->lo;
    return wx > wy ? -1 : wx < wy ? 1 : (x->key > y->key) - (x->key < y->key);
}

/* Builds the fast-path sections from the laid-out trees.  Leaves fo empty
 * (and returns 0) when the model has no x column or even the no-column sums
 * are over `budget` bytes; column modes that do not fit are left to the
 * walk, the widest first. */
static int build_fast(uint32_t xcol, uint32_t nf, uint32_t T, const rp__img_node *nodes, uint64_t n_nodes,
                      const double *leaves, const uint32_t *tree_start, double init, bool f32, size_t budget,
                      fast_out *fo, rp_error *err)
{
    int rc = -1;
    uint8_t *flag = NULL;
    frame *stack = NULL;
    diverge *div = NULL;
    double *f = NULL, *g = NULL;
    uint32_t *mark = NULL, *xrank = NULL;
    span *sp = NULL, *order = NULL;
    memset(fo, 0, sizeof *fo);
    if (xcol == UINT32_MAX || xcol >= nf)
        return 0;

    /* The x thresholds, sorted and distinct. */
    uint32_t nb = 0, biggest = 0;
    for (uint64_t i = 0; i < n_nodes; i++)
        if (nodes[i].feature != RP_NODE_LEAF && (nodes[i].feature & RP_NODE_FEATURE_MASK) == xcol)
            nb++;
    for (uint32_t t = 0; t < T; t++)
        if (tree_start[t + 1] - tree_start[t] > biggest)
            biggest = tree_start[t + 1] - tree_start[t];
    fo->bounds = malloc(((size_t)nb + 1) * sizeof *fo->bounds);
    uint32_t *keys = malloc(((size_t)nb + 1) * sizeof *keys), *tmp = malloc(((size_t)nb + 1) * sizeof *tmp);
    if (!fo->bounds || !keys || !tmp) {
        free(keys);
        free(tmp);
        goto nomem;
    }
    nb = 0;
    for (uint64_t i = 0; i < n_nodes; i++)
        if (nodes[i].feature != RP_NODE_LEAF && (nodes[i].feature & RP_NODE_FEATURE_MASK) == xcol)
            keys[nb++] = float_key(nodes[i].threshold);
    sort_keys(keys, tmp, nb);
    uint32_t u = 0;
    for (uint32_t i = 0; i < nb; i++) {
        float t = key_float(keys[i]);
        if (u == 0 || t != fo->bounds[u - 1]) /* -0.0 and 0.0 are one bound */
            fo->bounds[u++] = t;
    }
    free(keys);
    free(tmp);
    nb = u;
    uint32_t nr = nb + 2;
    size_t fixed =
        sizeof(rp__img_fast_meta) + align8((size_t)nb * 4) + (size_t)nr * 8 + align8((size_t)nf * 4);

    /* The columns tested anywhere, with their threshold range. */
    fo->cols = calloc(nf, sizeof *fo->cols);
    if (!fo->cols)
        goto nomem;
    uint32_t n_cols = 0;
    for (uint64_t i = 0; i < n_nodes; i++) {
        uint32_t ft = nodes[i].feature;
        if (ft != RP_NODE_LEAF && (ft & RP_NODE_FEATURE_MASK) != xcol)
            fo->cols[ft & RP_NODE_FEATURE_MASK] = 1;
    }
    for (uint32_t c = 0; c < nf; c++)
        if (fo->cols[c])
            fo->cols[c] = ++n_cols;
    fixed += (size_t)n_cols * sizeof(rp__img_fast_col);
    if (fixed > budget)
        goto skip;
    fo->colinfo = calloc(n_cols ? n_cols : 1, sizeof *fo->colinfo);
    flag = calloc(2 * (size_t)n_cols + 1, 1);
    stack = malloc(2 * ((size_t)biggest + 1) * sizeof *stack);
    div = malloc(((size_t)biggest + 1) * sizeof *div);
    f = malloc((size_t)nr * sizeof *f);
    g = malloc((size_t)nr * sizeof *g);
    mark = calloc(nr, sizeof *mark);
    xrank = malloc((size_t)n_nodes * sizeof *xrank);
    sp = malloc((2 * (size_t)n_cols + 1) * sizeof *sp);
    order = malloc((2 * (size_t)n_cols + 1) * sizeof *order);
    fo->sums = malloc((size_t)nr * sizeof *fo->sums);
    if (!fo->colinfo || !flag || !stack || !div || !f || !g || !mark || !xrank || !sp || !order || !fo->sums)
        goto nomem;
    for (uint32_t c = 0; c < n_cols; c++) {
        fo->colinfo[c].tmin = INFINITY;
        fo->colinfo[c].tmax = -INFINITY;
    }
    for (uint64_t i = 0; i < n_nodes; i++) {
        uint32_t ft = nodes[i].feature;
        if (ft == RP_NODE_LEAF || (ft & RP_NODE_FEATURE_MASK) == xcol)
            continue;
        rp__img_fast_col *ci = &fo->colinfo[fo->cols[ft & RP_NODE_FEATURE_MASK] - 1];
        if (nodes[i].threshold < ci->tmin)
            ci->tmin = nodes[i].threshold;
        if (nodes[i].threshold > ci->tmax)
            ci->tmax = nodes[i].threshold;
    }
    for (uint64_t i = 0; i < n_nodes; i++)
        if (nodes[i].feature != RP_NODE_LEAF && (nodes[i].feature & RP_NODE_FEATURE_MASK) == xcol)
            xrank[i] = bound_rank(fo->bounds, nb, nodes[i].threshold);
    fctx cx = {nodes, leaves, fo->bounds, fo->cols, xrank, xcol, nb, stack};
    uint32_t nk = 2 * n_cols;
    for (uint32_t k = 0; k < nk; k++)
        sp[k] = (span){UINT32_MAX, 0, k};
    for (uint32_t r = 0; r < nr; r++)
        fo->sums[r] = init;

    /* Pass 1: the no-column sums (each tree's leaf added in tree order), and
     * for each column mode the rows where some tree's leaf differs. */
    uint32_t stamp = 0;
    for (uint32_t t = 0; t < T; t++) {
        size_t nd = fill_base(&cx, tree_start[t], f, flag, div);
        for (uint32_t r = 0; r < nr; r++)
            fo->sums[r] = acc_add(fo->sums[r], f[r], f32);
        if (nd > 1)
            qsort(div, nd, sizeof *div, cmp_diverge);
        for (size_t a = 0, b; a < nd; a = b) {
            uint32_t key = div[a].key;
            for (b = a; b < nd && div[b].key == key; b++)
                ;
            stamp++;
            fill_group(&cx, div, a, b, key, g, mark, stamp);
            for (size_t d = a; d < b; d++) {
                for (uint32_t r = div[d].lo; r < div[d].hi; r++)
                    if (!same_bits(g[r], f[r])) {
                        if (r < sp[key].lo)
                            sp[key].lo = r;
                        if (r + 1 > sp[key].hi)
                            sp[key].hi = r + 1;
                    }
                if (div[d].absent && !same_bits(g[0], f[0])) {
                    sp[key].lo = 0;
                    if (sp[key].hi < 1)
                        sp[key].hi = 1;
                }
            }
        }
    }

    /* The spans that fit in the budget, the narrowest first. */
    uint64_t total = 0;
    for (uint32_t k = 0; k < nk; k++) {
        if (sp[k].lo >= sp[k].hi)
            sp[k].lo = sp[k].hi = 0;
        order[k] = sp[k];
        total += sp[k].hi - sp[k].lo;
    }
    qsort(order, nk, sizeof *order, cmp_span_width);
    for (uint32_t i = 0; i < nk && (fixed + total * 8 > budget || nr + total > UINT32_MAX); i++) {
        span *s = &sp[order[i].key];
        total -= s->hi - s->lo;
        s->lo = UINT32_MAX; /* left to the walk */
        s->hi = 0;
    }
    uint64_t n_sums = nr;
    for (uint32_t k = 0; k < nk; k++) {
        rp__img_fast_col *ci = &fo->colinfo[k / 2];
        int m = (int)(k % 2);
        if (sp[k].lo == UINT32_MAX) {
            ci->lo[m] = ci->width[m] = 0;
            ci->off[m] = RP_FAST_WALK;
        } else {
            ci->lo[m] = sp[k].lo;
            ci->width[m] = sp[k].hi - sp[k].lo;
            ci->off[m] = ci->width[m] ? (uint32_t)n_sums : 0;
            n_sums += ci->width[m];
        }
    }
    double *all = realloc(fo->sums, (size_t)n_sums * sizeof *all);
    if (!all)
        goto nomem;
    fo->sums = all;
    for (uint64_t i = nr; i < n_sums; i++)
        fo->sums[i] = init;

    /* Pass 2: each column mode's sums over its rows, tree by tree. */
    if (n_sums > nr) {
        for (uint32_t t = 0; t < T; t++) {
            size_t nd = fill_base(&cx, tree_start[t], f, flag, div);
            if (nd > 1)
                qsort(div, nd, sizeof *div, cmp_diverge);
            size_t a = 0;
            for (uint32_t k = 0; k < nk; k++) {
                size_t b = a;
                while (b < nd && div[b].key == k)
                    b++;
                const rp__img_fast_col *ci = &fo->colinfo[k / 2];
                uint32_t w = ci->width[k % 2], lo = ci->lo[k % 2];
                if (w && ci->off[k % 2] != RP_FAST_WALK) {
                    double *acc = fo->sums + ci->off[k % 2];
                    if (b > a) {
                        stamp++;
                        fill_group(&cx, div, a, b, k, g, mark, stamp);
                        for (uint32_t i = 0; i < w; i++)
                            acc[i] = acc_add(acc[i], mark[lo + i] == stamp ? g[lo + i] : f[lo + i], f32);
                    } else {
                        for (uint32_t i = 0; i < w; i++)
                            acc[i] = acc_add(acc[i], f[lo + i], f32);
                    }
                }
                a = b;
            }
        }
    }
    rp__img_fast_meta *fm = &fo->meta;
    fm->xcol = xcol;
    fm->n_trees = T;
    fm->n_features = nf;
    fm->n_bounds = nb;
    fm->n_rows = nr;
    fm->n_cols = n_cols;
    fm->n_sums = (uint32_t)n_sums;
    rc = 0;
    goto out;
skip:
    fast_free(fo);
    rc = 0;
    goto out;
nomem:
    fast_free(fo);
    rp_error_set(err, RP_ERR_NOMEM, "out of memory");
out:
    free(flag);
    free(stack);
    free(div);
    free(f);
    free(g);
    free(mark);
    free(xrank);
    free(sp);
    free(order);
    return rc;
}

static void source_key(rp__buf *b, const char *key)
{
    rp__buf_puts(b, b->len ? ", " : "{");
    rp__pyjson_utf8(b, key, strlen(key));
    rp__buf_puts(b, ": ");
}

void rp__img_source_strn(rp__buf *b, const char *key, const char *val, size_t len)
{
    if (!val)
        return;
    source_key(b, key);
    rp__pyjson_utf8(b, val, len);
}

void rp__img_source_str(rp__buf *b, const char *key, const char *val)
{
    if (val)
        rp__img_source_strn(b, key, val, strlen(val));
}

void rp__img_source_int(rp__buf *b, const char *key, long long val)
{
    source_key(b, key);
    rp__buf_printf(b, "%lld", val);
}

void rp__img_source_members(rp__buf *b, const char *members)
{
    if (!members || !*members)
        return;
    rp__buf_puts(b, b->len ? ", " : "{");
    rp__buf_puts(b, members);
}

void rp__img_source_end(rp__buf *b)
{
    if (b->len)
        rp__buf_putc(b, '}');
    if (b->failed) /* over RP_IMG_SOURCE_MAX: it is only information, drop it */
        rp__buf_reset(b);
}

int rp__img_build(const rp__img_src *src, rp__buf *out, rp_error *err)
{
    if (src->source_len > RP_IMG_SOURCE_MAX)
        return rp_error_set(err, RP_ERR_LIMIT, "model source description of %zu bytes (at most %zu)",
                            src->source_len, RP_IMG_SOURCE_MAX);
    int rc = -1;
    uint32_t *slots = NULL;
    uint32_t *all = NULL;
    rp__img_node *nodes = NULL;
    double *leaves = NULL;
    work *stack = NULL;
    uint8_t *seen = NULL;
    uint32_t *tree_start = NULL;
    fast_out fo;
    memset(&fo, 0, sizeof fo);
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
        uint32_t h = rp__img_hash(s, len);
        for (uint32_t j = h & (all_slots - 1);; j = (j + 1) & (all_slots - 1)) {
            if (!all[j]) {
                all[j] = i + 1;
                break;
            }
            uint32_t o = all[j] - 1;
            if (src->feature_lens[o] == len && !memcmp(src->feature_names[o], s, len)) {
                rp_error_set(err, RP_ERR_INVALID, "feature %u (\"%.*s\") appears twice", i,
                             (int)(len > 64 ? 64 : len), s);
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
        /* The ride fast path, within a budget: at most the size of the
         * nodes and leaves, plus 1 MiB. */
        size_t budget =
            (size_t)n_nodes * sizeof(rp__img_node) + (size_t)n_leaves * sizeof(double) + ((size_t)1 << 20);
        if (src->sum_f32 && src->combine != RP_COMBINE_SUM) {
            rp_error_set(err, RP_ERR_INVALID, "float32 accumulation needs combine sum");
            goto out;
        }
        double init = src->combine == RP_COMBINE_SUM ? src->base : 0.0;
        if (src->sum_f32)
            init = (double)(float)init;
        if (build_fast(td, nf, src->n_trees, nodes, n_nodes, leaves, tree_start, init, src->sum_f32, budget,
                       &fo, err) < 0)
            goto out;
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
    img_section sec[RP_IMG_MAX_SECTIONS];
    uint32_t ns = 0;
    rp__img_meta meta;
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
    if (src->kind == RP_MODEL_TREES && src->sum_f32) {
        meta.flags |= RP_META_SUM_F32;
        meta.base = (double)(float)meta.base;
    }
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
    if (src->source_len)
        sec[ns++] = (img_section){RP_SEC_SOURCE, src->source, src->source_len};
    if (src->kind == RP_MODEL_LINEAR) {
        sec[ns++] = (img_section){RP_SEC_COEF, src->coef, (size_t)nf * sizeof(double)};
    } else {
        sec[ns++] = (img_section){RP_SEC_TREES, tree_start, ((size_t)src->n_trees + 1) * sizeof *tree_start};
        sec[ns++] = (img_section){RP_SEC_NODES, nodes, n_nodes * sizeof *nodes};
        sec[ns++] = (img_section){RP_SEC_LEAVES, leaves, n_leaves * sizeof *leaves};
        if (fo.sums) {
            const rp__img_fast_meta *fm = &fo.meta;
            sec[ns++] = (img_section){RP_SEC_FAST_META, fm, sizeof *fm};
            sec[ns++] = (img_section){RP_SEC_FAST_BOUNDS, fo.bounds, (size_t)fm->n_bounds * sizeof(float)};
            sec[ns++] = (img_section){RP_SEC_FAST_SUMS, fo.sums, (size_t)fm->n_sums * sizeof(double)};
            sec[ns++] = (img_section){RP_SEC_FAST_COLS, fo.cols, (size_t)nf * sizeof(uint32_t)};
            sec[ns++] =
                (img_section){RP_SEC_FAST_COLINFO, fo.colinfo, (size_t)fm->n_cols * sizeof(rp__img_fast_col)};
        }
    }
    size_t off = RP_IMG_HEADER_SIZE + align8((size_t)ns * 24);
    size_t total = off;
    for (uint32_t i = 0; i < ns; i++)
        total += align8(sec[i].size);

    rp__buf_reset(out);
    if (rp__buf_grow(out, total) != 0) {
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
    fast_free(&fo);
    return rc;
}
