/* Training sets and the DictVectorizer vocabulary (see train.h). */
#include "pipeline/train.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp__train_set_free(rp__train_set *s)
{
    if (!s)
        return;
    free(s->key);
    free(s->cat);
    free(s->x);
    free(s->y);
    *s = (rp__train_set){0};
}

static int reserve(rp__train_set *s, size_t extra, rp_error *err)
{
    if (s->n + extra <= s->cap)
        return 0;
    if (s->n + extra > RP_TRAIN_MAX_ROWS)
        return rp_error_set(err, RP_ERR_LIMIT, "more than %zu rides: train on fewer files",
                            RP_TRAIN_MAX_ROWS);
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->n + extra)
        cap *= 2;
    uint64_t *k = realloc(s->key, cap * sizeof *k);
    if (k)
        s->key = k;
    uint32_t *c = realloc(s->cat, cap * sizeof *c);
    if (c)
        s->cat = c;
    double *x = realloc(s->x, cap * sizeof *x);
    if (x)
        s->x = x;
    double *y = realloc(s->y, cap * sizeof *y);
    if (y)
        s->y = y;
    if (!k || !c || !x || !y)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory for %zu rides", cap);
    s->cap = cap;
    return 0;
}

static uint64_t make_key(int32_t pu, int32_t dol)
{
    return (uint64_t)(uint32_t)pu << 32 | (uint32_t)dol;
}

int rp__train_set_push(rp__train_set *s, int32_t pu, int32_t dol, double x, double y, rp_error *err)
{
    if (reserve(s, 1, err) < 0)
        return -1;
    s->key[s->n] = make_key(pu, dol);
    s->cat[s->n] = RP_TRAIN_NO_CAT;
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

int rp__train_set_add(rp__train_set *s, const rp__trips *t, const char *what, rp__train_file_stats *st,
                      rp_error *err)
{
    if (reserve(s, t->n, err) < 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        double d;
        if (!rp__trips_keep(t, i, &d))
            continue;
        if (isnan(t->distance[i]))
            return rp_error_set(
                err, RP_ERR_INVALID,
                "%s: row %zu is kept by the duration filter but has no trip_distance (null): the trainers, as scikit-learn, cannot use it",
                what, i);
        size_t j = s->n++;
        s->key[j] = make_key(t->pu[i], t->dor[i]);
        s->cat[j] = RP_TRAIN_NO_CAT;
        s->x[j] = t->distance[i];
        s->y[j] = d;
        kept++;
    }
    if (st) {
        st->rows = t->n;
        st->kept = kept;
    }
    return 0;
}

/* ---- vocabulary ---- */

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* The column of key, or RP_TRAIN_NO_CAT. */
static uint32_t lookup(const rp__vocab *v, uint64_t key)
{
    if (!v->slots)
        return RP_TRAIN_NO_CAT;
    size_t mask = v->slots - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (!v->slot_col[i])
            return RP_TRAIN_NO_CAT;
        if (v->slot_key[i] == key)
            return v->slot_col[i] - 1;
    }
}

/* Inserts key with column+1 = col1 unless present; returns the column + 1
 * stored for it. */
static uint32_t insert(rp__vocab *v, uint64_t key, uint32_t col1)
{
    size_t mask = v->slots - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (!v->slot_col[i]) {
            v->slot_key[i] = key;
            v->slot_col[i] = col1;
            return col1;
        }
        if (v->slot_key[i] == key)
            return v->slot_col[i];
    }
}

static int alloc_slots(rp__vocab *v, size_t want, rp_error *err)
{
    size_t slots = 16;
    while (slots < 2 * want)
        slots *= 2;
    free(v->slot_key);
    free(v->slot_col);
    v->slot_key = malloc(slots * sizeof *v->slot_key);
    v->slot_col = calloc(slots, sizeof *v->slot_col);
    v->slots = slots;
    if (!v->slot_key || !v->slot_col)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory for the vocabulary");
    return 0;
}

typedef struct name_ref {
    const char *s;
    uint64_t key;
} name_ref;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const name_ref *)a)->s, ((const name_ref *)b)->s);
}

void rp__vocab_free(rp__vocab *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->off);
    free(v->len);
    free(v->key);
    free(v->slot_key);
    free(v->slot_col);
    *v = (rp__vocab){0};
}

int rp__vocab_build(rp__vocab *v, rp__train_set *train, rp_error *err)
{
    memset(v, 0, sizeof *v);
    int rc = -1;
    name_ref *refs = NULL;
    char *tmp = NULL;
    uint64_t *keys = NULL;
    /* Distinct keys in order of appearance. */
    if (alloc_slots(v, train->n ? train->n : 1, err) < 0)
        goto out;
    keys = malloc((train->n ? train->n : 1) * sizeof *keys);
    if (!keys) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the vocabulary");
        goto out;
    }
    uint32_t nk = 0;
    for (size_t i = 0; i < train->n; i++)
        if (insert(v, train->key[i], nk + 1) == nk + 1)
            keys[nk++] = train->key[i];
    if (nk >= (1u << 30)) {
        rp_error_set(err, RP_ERR_LIMIT, "%u distinct PU_DO values: too many columns", nk);
        goto out;
    }
    /* Their names: "PU_DO=" + '%s_%s' of two ints (at most 6 + 11 + 1 + 11). */
    enum {
        NAME_MAX_LEN = 32
    };
    tmp = malloc((size_t)nk * NAME_MAX_LEN + 1);
    refs = malloc(((size_t)nk + 1) * sizeof *refs);
    if (!tmp || !refs) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the vocabulary");
        goto out;
    }
    for (uint32_t i = 0; i < nk; i++) {
        char *p = tmp + (size_t)i * NAME_MAX_LEN;
        snprintf(p, NAME_MAX_LEN, "PU_DO=%" PRId32 "_%" PRId32, (int32_t)(uint32_t)(keys[i] >> 32),
                 (int32_t)(uint32_t)keys[i]);
        refs[i] = (name_ref){p, keys[i]};
    }
    qsort(refs, nk, sizeof *refs, cmp_name);
    /* Pack the names in column order and index them. */
    size_t total = 0;
    for (uint32_t i = 0; i < nk; i++)
        total += strlen(refs[i].s) + 1;
    v->text = malloc(total ? total : 1);
    v->off = malloc(((size_t)nk + 1) * sizeof *v->off);
    v->len = malloc(((size_t)nk + 1) * sizeof *v->len);
    v->key = malloc(((size_t)nk + 1) * sizeof *v->key);
    if (!v->text || !v->off || !v->len || !v->key) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the vocabulary");
        goto out;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < nk; i++) {
        size_t l = strlen(refs[i].s);
        memcpy(v->text + at, refs[i].s, l + 1);
        v->off[i] = at;
        v->len[i] = l;
        v->key[i] = refs[i].key;
        at += l + 1;
    }
    v->n = nk;
    if (alloc_slots(v, nk ? nk : 1, err) < 0)
        goto out;
    for (uint32_t i = 0; i < nk; i++)
        insert(v, v->key[i], i + 1);
    rp__vocab_map(v, train);
    rc = 0;
out:
    free(keys);
    free(refs);
    free(tmp);
    if (rc < 0)
        rp__vocab_free(v);
    return rc;
}

void rp__vocab_map(const rp__vocab *v, rp__train_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->cat[i] = lookup(v, s->key[i]);
}

int rp__train_param_split(char *arg, rp__train_param *out, rp_error *err)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return rp_error_set(err, RP_ERR_INVALID, "--param %s: expected KEY=VALUE", arg);
    *eq = '\0';
    out->key = arg;
    out->value = eq + 1;
    if (!out->value[0])
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=: the value is empty", arg);
    return 0;
}
