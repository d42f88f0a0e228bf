/* Random forest regressor on the ride design (see train.h, docs/train.md).
 *
 * scikit-learn's RandomForestRegressor algorithm: each tree is grown on a
 * bootstrap sample (drawn with replacement; a ride drawn k times weighs k),
 * depth first, and every node takes the best split over every feature by
 * the squared-error criterion (the largest sum_l^2/w_l + sum_r^2/w_r), with
 * min_samples_leaf counted in distinct rides as scikit-learn counts them.
 * Leaves hold the weighted mean duration.  The design makes the search
 * cheap:
 *
 * - a one-hot column PU_DO=v splits the node into "not v" (left: the value
 *   0 <= threshold 0.5) and "v" (right); one pass over the node's rides
 *   gathers the weight and sum of every category present, so all of them
 *   are evaluated in O(rides + categories);
 * - trip_distance splits are found by a scan of the node's rides in
 *   increasing distance order: the rides are sorted once, and every node
 *   keeps its rides in that order (both kinds of split partition them
 *   stably).  Values are compared as float32, as scikit-learn's trees do,
 *   and the threshold is scikit-learn's: the midpoint of two adjacent
 *   distinct values (in double), or the lower value when the midpoint
 *   rounds to the upper one.
 *
 * Trees are independent: worker threads take them in turn, each from its
 * own random generator seeded by (seed, tree index), so a seed gives the
 * same forest whatever the number of threads.  The random numbers are not
 * numpy's, so the forest is not scikit-learn's tree for tree. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/train.h"

#define FEATURE_THRESHOLD 1e-7 /* scikit-learn: values closer than this are not split */

void rp__forest_params_default(rp__forest_params *p)
{
    *p = (rp__forest_params){.n_estimators = 100,
                             .max_depth = 20,
                             .min_samples_leaf = 10,
                             .min_samples_split = 2,
                             .max_samples = 1.0,
                             .bootstrap = true};
}

static void tree_free(rp__forest_tree *t)
{
    free(t->left);
    free(t->right);
    free(t->feature);
    free(t->threshold);
    free(t->value);
    *t = (rp__forest_tree){0};
}

void rp__forest_free(rp__forest *f)
{
    if (!f)
        return;
    for (uint32_t i = 0; i < f->n_trees; i++)
        if (f->trees)
            tree_free(&f->trees[i]);
    free(f->trees);
    *f = (rp__forest){0};
}

/* ---- random numbers: xoshiro256** seeded with splitmix64 ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) (Lemire's multiply-shift with rejection). */
static uint64_t rng_below(rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (unsigned __int128)rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* ---- shared, read-only ---- */

typedef struct shared {
    const rp__train_set *s;
    const rp__forest_params *p;
    uint32_t K; /* one-hot columns; trip_distance is column K */
    size_t n;
    uint32_t *order; /* rides by increasing float32 distance (ties: by index) */
    float *xf;       /* float32 distance of each ride */
    uint64_t seed;
    rp__forest *out;
    atomic_size_t next; /* next tree to grow */
    atomic_int failed;
    rp_error err;
    pthread_mutex_t lock;
    size_t done;
    rp__train_progress_fn progress;
    void *progress_ctx;
} shared;

/* ---- per worker ---- */

typedef struct frame {
    size_t start, end;
    uint32_t depth;
    int64_t parent;
    bool is_left;
} frame;

typedef struct work {
    shared *sh;
    uint32_t *cnt; /* per ride: times drawn (0: out of bag) */
    uint32_t *idx; /* the node segments, each in distance order */
    uint32_t *tmp;
    uint32_t *ccount; /* per category: rides in the node */
    double *cw, *cs;  /* per category: weight and weighted sum */
    uint32_t *touched;
    frame *stack;
    size_t stack_cap;
} work;

static int push_node(rp__forest_tree *t, double value, rp_error *err)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        if (cap < t->cap)
            return rp_error_set(err, RP_ERR_LIMIT, "a tree has too many nodes");
        int64_t *l = realloc(t->left, cap * sizeof *l);
        if (l)
            t->left = l;
        int64_t *r = realloc(t->right, cap * sizeof *r);
        if (r)
            t->right = r;
        int64_t *f = realloc(t->feature, cap * sizeof *f);
        if (f)
            t->feature = f;
        double *th = realloc(t->threshold, cap * sizeof *th);
        if (th)
            t->threshold = th;
        double *v = realloc(t->value, cap * sizeof *v);
        if (v)
            t->value = v;
        if (!l || !r || !f || !th || !v)
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory for a tree");
        t->cap = cap;
    }
    uint32_t i = t->n++;
    t->left[i] = t->right[i] = -1;
    t->feature[i] = -2;
    t->threshold[i] = -2.0;
    t->value[i] = value;
    return 0;
}

typedef struct split {
    double proxy;
    int64_t feature; /* -1: none */
    size_t pos;      /* distance: first ride of the right side */
    double threshold;
} split;

/* The best split of idx[start, end) (weight W, sum S), or feature -1. */
static void best_split(work *wk, size_t start, size_t end, double W, double S, split *best)
{
    const shared *sh = wk->sh;
    const rp__train_set *s = sh->s;
    const uint32_t msl = sh->p->min_samples_leaf ? sh->p->min_samples_leaf : 1;
    const uint32_t *idx = wk->idx;
    size_t m = end - start;
    best->proxy = -INFINITY;
    best->feature = -1;
    best->pos = start;
    best->threshold = 0;

    /* One-hot columns: per-category weight and sum. */
    size_t nt = 0;
    for (size_t a = start; a < end; a++) {
        uint32_t i = idx[a], c = s->cat[i];
        double w = wk->cnt[i];
        if (!wk->ccount[c]++) {
            wk->touched[nt++] = c;
            wk->cw[c] = 0;
            wk->cs[c] = 0;
        }
        wk->cw[c] += w;
        wk->cs[c] += w * s->y[i];
    }
    for (size_t k = 0; k < nt; k++) {
        uint32_t c = wk->touched[k];
        uint32_t n_right = wk->ccount[c];
        wk->ccount[c] = 0;
        if (n_right < msl || m - n_right < msl)
            continue;
        double wr = wk->cw[c], sr = wk->cs[c], wl = W - wr, sl = S - sr;
        double proxy = sl * sl / wl + sr * sr / wr;
        if (proxy > best->proxy ||
            (proxy == best->proxy && best->feature >= 0 && (int64_t)c < best->feature)) {
            best->proxy = proxy;
            best->feature = c;
            best->threshold = 0.5;
        }
    }

    /* trip_distance: the rides are in distance order. */
    double wl = 0, sl = 0;
    const float *xf = sh->xf;
    for (size_t a = start; a + 1 < end; a++) {
        uint32_t i = idx[a];
        double w = wk->cnt[i];
        wl += w;
        sl += w * s->y[i];
        size_t pos = a + 1, n_left = pos - start;
        if (n_left < msl)
            continue;
        if (end - pos < msl)
            break;
        float lo = xf[i], hi = xf[idx[pos]];
        if ((double)hi <= (double)lo + FEATURE_THRESHOLD)
            continue;
        double wr = W - wl, sr = S - sl;
        double proxy = sl * sl / wl + sr * sr / wr;
        if (proxy > best->proxy) {
            best->proxy = proxy;
            best->feature = sh->K;
            best->pos = pos;
            double t = (double)lo / 2.0 + (double)hi / 2.0;
            if (t == (double)hi || isinf(t))
                t = (double)lo;
            best->threshold = t;
        }
    }
}

static int grow(work *wk, uint32_t ti, rp__forest_tree *tree, rp_error *err)
{
    shared *sh = wk->sh;
    const rp__train_set *s = sh->s;
    const rp__forest_params *p = sh->p;
    size_t n = sh->n;
    rng r;
    rng_seed(&r, sh->seed, ti);

    /* The bootstrap sample. */
    if (p->bootstrap) {
        memset(wk->cnt, 0, n * sizeof *wk->cnt);
        size_t nb = (size_t)round(p->max_samples * (double)n); /* scikit-learn's max(round(n * f), 1) */
        if (nb < 1)
            nb = 1;
        if (nb > n)
            nb = n;
        for (size_t j = 0; j < nb; j++)
            wk->cnt[rng_below(&r, n)]++;
    } else {
        for (size_t i = 0; i < n; i++)
            wk->cnt[i] = 1;
    }
    size_t m = 0;
    for (size_t a = 0; a < n; a++)
        if (wk->cnt[sh->order[a]])
            wk->idx[m++] = sh->order[a];

    const uint32_t msl = p->min_samples_leaf ? p->min_samples_leaf : 1;
    const uint32_t mss = p->min_samples_split > 2 ? p->min_samples_split : 2;
    size_t sp = 0;
    wk->stack[sp++] = (frame){0, m, 0, -1, false};
    while (sp) {
        frame f = wk->stack[--sp];
        double W = 0, S = 0, Q = 0;
        for (size_t a = f.start; a < f.end; a++) {
            uint32_t i = wk->idx[a];
            double w = wk->cnt[i], y = s->y[i];
            W += w;
            S += w * y;
            Q += w * y * y;
        }
        int64_t id = tree->n;
        if (push_node(tree, S / W, err) < 0)
            return -1;
        if (f.parent >= 0) {
            if (f.is_left)
                tree->left[f.parent] = id;
            else
                tree->right[f.parent] = id;
        }
        size_t cnt = f.end - f.start;
        double impurity = Q / W - (S / W) * (S / W);
        if ((p->max_depth && f.depth >= p->max_depth) || cnt < mss || cnt < 2 * (size_t)msl ||
            impurity <= 2.220446049250313e-16)
            continue;
        split b;
        best_split(wk, f.start, f.end, W, S, &b);
        if (b.feature < 0)
            continue;
        /* Stable partition: left first, both halves keep distance order. */
        size_t nl = 0, nr = 0;
        uint32_t *seg = wk->idx + f.start;
        if (b.feature == (int64_t)sh->K) {
            nl = b.pos - f.start;
        } else {
            uint32_t c = (uint32_t)b.feature;
            for (size_t a = 0; a < cnt; a++) {
                uint32_t i = seg[a];
                if (s->cat[i] == c)
                    wk->tmp[nr++] = i;
                else
                    seg[nl++] = i;
            }
            memcpy(seg + nl, wk->tmp, nr * sizeof *seg);
        }
        tree->feature[id] = b.feature;
        tree->threshold[id] = b.threshold;
        if (sp + 2 > wk->stack_cap)
            return rp_error_set(err, RP_ERR_INTERNAL, "tree stack overflow");
        wk->stack[sp++] = (frame){f.start + nl, f.end, f.depth + 1, id, false};
        wk->stack[sp++] = (frame){f.start, f.start + nl, f.depth + 1, id, true};
    }
    return 0;
}

static void *worker(void *arg)
{
    work *wk = arg;
    shared *sh = wk->sh;
    rp_error err;
    for (;;) {
        if (atomic_load(&sh->failed))
            break;
        size_t t = atomic_fetch_add(&sh->next, 1);
        if (t >= sh->p->n_estimators)
            break;
        if (grow(wk, (uint32_t)t, &sh->out->trees[t], &err) < 0) {
            pthread_mutex_lock(&sh->lock);
            if (!atomic_load(&sh->failed))
                sh->err = err;
            atomic_store(&sh->failed, 1);
            pthread_mutex_unlock(&sh->lock);
            break;
        }
        pthread_mutex_lock(&sh->lock);
        sh->done++;
        if (sh->progress)
            sh->progress(sh->progress_ctx, "trees", sh->done, sh->p->n_estimators);
        pthread_mutex_unlock(&sh->lock);
    }
    return NULL;
}

static void work_free(work *wk)
{
    free(wk->cnt);
    free(wk->idx);
    free(wk->tmp);
    free(wk->ccount);
    free(wk->cw);
    free(wk->cs);
    free(wk->touched);
    free(wk->stack);
}

static int work_init(work *wk, shared *sh)
{
    memset(wk, 0, sizeof *wk);
    wk->sh = sh;
    size_t n = sh->n, K = sh->K ? sh->K : 1;
    /* Depth-first: at most one pending right sibling per level, plus the
     * unlimited-depth worst case of one level per ride. */
    size_t depth = sh->p->max_depth ? sh->p->max_depth : n;
    wk->stack_cap = 2 * depth + 4;
    wk->cnt = malloc(n * sizeof *wk->cnt);
    wk->idx = malloc(n * sizeof *wk->idx);
    wk->tmp = malloc(n * sizeof *wk->tmp);
    wk->ccount = calloc(K, sizeof *wk->ccount);
    wk->cw = malloc(K * sizeof *wk->cw);
    wk->cs = malloc(K * sizeof *wk->cs);
    wk->touched = malloc(K * sizeof *wk->touched);
    wk->stack = malloc(wk->stack_cap * sizeof *wk->stack);
    if (!wk->cnt || !wk->idx || !wk->tmp || !wk->ccount || !wk->cw || !wk->cs || !wk->touched || !wk->stack) {
        work_free(wk);
        return -1;
    }
    return 0;
}

typedef struct keyed {
    float x;
    uint32_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

int rp__train_forest(const rp__train_set *s, const rp__vocab *v, const rp__forest_params *p,
                     const rp__train_opts *o, rp__forest *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (s->n == 0)
        return rp_error_set(err, RP_ERR_INVALID, "no training rides");
    if (s->n > UINT32_MAX)
        return rp_error_set(err, RP_ERR_LIMIT, "the forest trains on at most %u rides", UINT32_MAX);
    if (p->n_estimators == 0)
        return rp_error_set(err, RP_ERR_INVALID, "n_estimators must be at least 1");
    for (size_t i = 0; i < s->n; i++) {
        if (s->cat[i] >= v->n)
            return rp_error_set(err, RP_ERR_INTERNAL, "training ride %zu has no one-hot column", i);
        if (!isfinite((float)s->x[i]))
            return rp_error_set(
                err, RP_ERR_INVALID,
                "training ride %zu: trip_distance %g does not fit a float32 (scikit-learn refuses it too)", i,
                s->x[i]);
    }
    int rc = -1;
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.s = s;
    sh.p = p;
    sh.K = v->n;
    sh.n = s->n;
    sh.seed = o ? o->seed : 0;
    sh.out = out;
    sh.progress = o ? o->progress : NULL;
    sh.progress_ctx = o ? o->progress_ctx : NULL;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.failed, 0);
    pthread_mutex_init(&sh.lock, NULL);
    unsigned threads = o && o->threads ? o->threads : 0;
    if (!threads) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    if (threads > p->n_estimators)
        threads = p->n_estimators;
    if (threads > 256)
        threads = 256;
    work *wk = calloc(threads, sizeof *wk);
    pthread_t *tid = calloc(threads, sizeof *tid);
    unsigned started = 0, inited = 0;
    sh.order = malloc(s->n * sizeof *sh.order);
    sh.xf = malloc(s->n * sizeof *sh.xf);
    out->trees = calloc(p->n_estimators, sizeof *out->trees);
    if (!wk || !tid || !sh.order || !sh.xf || !out->trees) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the forest");
        goto out;
    }
    out->n_trees = p->n_estimators;
    keyed *ks = malloc(s->n * sizeof *ks);
    if (!ks) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the forest");
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        sh.xf[i] = (float)s->x[i];
        ks[i] = (keyed){sh.xf[i], (uint32_t)i};
    }
    qsort(ks, s->n, sizeof *ks, cmp_keyed);
    for (size_t i = 0; i < s->n; i++)
        sh.order[i] = ks[i].i;
    free(ks);
    for (; inited < threads; inited++)
        if (work_init(&wk[inited], &sh) < 0) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory for the forest's workers");
            goto out;
        }
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &wk[started]) != 0)
            break;
    if (!started) {
        rp_error_set(err, RP_ERR_INTERNAL, "cannot start a thread");
        goto out;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    started = 0;
    if (atomic_load(&sh.failed)) {
        if (err)
            *err = sh.err;
        goto out;
    }
    rc = 0;
out:
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (unsigned i = 0; i < inited; i++)
        work_free(&wk[i]);
    free(wk);
    free(tid);
    free(sh.order);
    free(sh.xf);
    pthread_mutex_destroy(&sh.lock);
    if (rc < 0)
        rp__forest_free(out);
    return rc;
}
