/* XGBoost JSON / UBJSON models → native image (see xgboost.h,
 * docs/models.md).
 *
 * Both encodings are read into the same small document tree; arrays whose
 * elements are all numbers are kept packed as doubles (a tree's arrays are
 * most of a model).  Every count is checked against the bytes left, so
 * memory stays proportional to the input. */
#include "model/xgboost.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/json.h"
#include "model/budget.h"
#include "model/image.h"
#include "model/model.h"
#include "model/xgboost_lib.h"

/* ---- the document tree ---------------------------------------------------- */

typedef enum xv_type {
    XV_NULL,
    XV_BOOL,
    XV_NUM,
    XV_STR,
    XV_ARR,
    XV_OBJ,
    XV_NUMS
} xv_type;

typedef struct xv {
    xv_type type;
    bool b;
    double num;       /* XV_NUM */
    char *s;          /* XV_STR: decoded bytes (NUL-terminated) */
    size_t n;         /* XV_STR: bytes; XV_ARR/XV_NUMS: elements; XV_OBJ: members */
    struct xv *items; /* XV_ARR: n values; XV_OBJ: 2n (key, value) */
    double *nums;     /* XV_NUMS */
    size_t cap;
} xv;

static void xv_free(xv *v)
{
    if (v->type == XV_ARR || v->type == XV_OBJ) {
        size_t k = v->type == XV_OBJ ? 2 * v->n : v->n;
        for (size_t i = 0; i < k; i++)
            xv_free(&v->items[i]);
    }
    free(v->items);
    free(v->nums);
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* What parsing may allocate: the load's budget (budget.h), and where
 * errors go. */
typedef struct xalloc {
    rp__model_budget *budget;
    rp_error *err;
} xalloc;

static int xtake(xalloc *a, size_t n)
{
    return rp__budget_take(a->budget, n, a->err, "the parsed document");
}

static int nomem(xalloc *a)
{
    return rp_error_set(a->err, RP_ERR_NOMEM, "out of memory");
}

/* Appends a number to an array (packed while every element is a number). */
static int arr_push_num(xalloc *al, xv *a, double d)
{
    size_t cap = a->cap;
    if (a->type == XV_NUMS) {
        if (a->n == cap && xtake(al, (cap ? cap : 16) * sizeof *a->nums) < 0)
            return -1;
        double *p = rp__array_grow(a->nums, a->n, &a->cap, sizeof *a->nums, 16);
        if (!p)
            return nomem(al);
        a->nums = p;
        a->nums[a->n++] = d;
        return 0;
    }
    xv v = {.type = XV_NUM, .num = d};
    if (a->n == cap && xtake(al, (cap ? cap : 8) * sizeof *a->items) < 0)
        return -1;
    xv *p = rp__array_grow(a->items, a->n, &a->cap, sizeof *a->items, 8);
    if (!p)
        return nomem(al);
    a->items = p;
    a->items[a->n++] = v;
    return 0;
}

/* Makes room for one more value (or key + value) in a container and returns
 * the slot, or NULL with the error set; a packed array becomes a generic
 * one. */
static xv *cont_slot(xalloc *al, xv *c)
{
    if (c->type == XV_NUMS) {
        if (xtake(al, (c->n + 8) * sizeof(xv)) < 0)
            return NULL;
        xv *items = calloc(c->n + 8, sizeof *items);
        if (!items) {
            nomem(al);
            return NULL;
        }
        for (size_t i = 0; i < c->n; i++)
            items[i] = (xv){.type = XV_NUM, .num = c->nums[i]};
        free(c->nums);
        c->nums = NULL;
        c->items = items;
        c->cap = c->n + 8;
        c->type = XV_ARR;
    }
    size_t per = c->type == XV_OBJ ? 2 : 1;
    if ((c->n + 1) * per > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8 * per;
        if (xtake(al, (cap - c->cap) * sizeof(xv)) < 0)
            return NULL;
        xv *p = realloc(c->items, cap * sizeof *p);
        if (!p) {
            nomem(al);
            return NULL;
        }
        c->items = p;
        c->cap = cap;
    }
    xv *s = &c->items[c->n * per];
    memset(s, 0, per * sizeof *s);
    c->n++;
    return s;
}

/* ---- UBJSON ----------------------------------------------------------------
 * Big-endian numbers; markers Z N T F i U I l L d D H C S [ {; optimised
 * containers ($type and #count, then no closing marker); object keys are a
 * length (an integer with its marker) and bytes, without the 'S'. */

typedef struct ubj {
    const unsigned char *p, *end, *start;
    rp_error *err;
    int depth;
    xalloc al;
} ubj;

static int ubj_fail(ubj *u, const char *what)
{
    return rp_error_set(u->err, RP_ERR_INVALID, "not valid UBJSON: %s at byte %zu", what,
                        (size_t)(u->p - u->start));
}

static size_t ubj_size(unsigned char t)
{
    switch (t) {
    case 'i':
    case 'U':
    case 'C': return 1;
    case 'I': return 2;
    case 'l':
    case 'd': return 4;
    case 'L':
    case 'D': return 8;
    default: return 0;
    }
}

static uint64_t be(const unsigned char *p, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | p[i];
    return x;
}

/* A scalar number of type t; *is_int tells integers. */
static int ubj_number(ubj *u, unsigned char t, double *out, int64_t *iout, bool *is_int)
{
    size_t n = ubj_size(t);
    if (!n || t == 'C')
        return ubj_fail(u, "expected a number");
    if ((size_t)(u->end - u->p) < n)
        return ubj_fail(u, "truncated number");
    uint64_t x = be(u->p, n);
    u->p += n;
    *is_int = true;
    int64_t i = 0;
    switch (t) {
    case 'i': i = (int8_t)x; break;
    case 'U': i = (uint8_t)x; break;
    case 'I': i = (int16_t)x; break;
    case 'l': i = (int32_t)x; break;
    case 'L': i = (int64_t)x; break;
    case 'd': {
        uint32_t b32 = (uint32_t)x;
        float f;
        memcpy(&f, &b32, 4);
        *out = f;
        *is_int = false;
        return 0;
    }
    default: {
        double d;
        memcpy(&d, &x, 8);
        *out = d;
        *is_int = false;
        return 0;
    }
    }
    *out = (double)i;
    if (iout)
        *iout = i;
    return 0;
}

/* A length: an integer marker and value, >= 0 and at most the bytes left
 * (every counted thing takes at least a byte, but for zero-size typed
 * elements, bounded the same way). */
static int ubj_length(ubj *u, size_t *out)
{
    if (u->p >= u->end)
        return ubj_fail(u, "truncated length");
    unsigned char t = *u->p++;
    if (t != 'i' && t != 'U' && t != 'I' && t != 'l' && t != 'L')
        return ubj_fail(u, "a length must be an integer");
    double d;
    int64_t i = 0;
    bool is_int;
    if (ubj_number(u, t, &d, &i, &is_int) < 0)
        return -1;
    if (i < 0 || (uint64_t)i > (uint64_t)(u->end - u->p))
        return ubj_fail(u, "length out of range");
    *out = (size_t)i;
    return 0;
}

static int ubj_string_body(ubj *u, xv *v)
{
    size_t n;
    if (ubj_length(u, &n) < 0)
        return -1;
    v->type = XV_STR;
    if (xtake(&u->al, n + 1) < 0)
        return -1;
    v->s = malloc(n + 1);
    if (!v->s)
        return rp_error_set(u->err, RP_ERR_NOMEM, "out of memory");
    memcpy(v->s, u->p, n);
    v->s[n] = '\0';
    v->n = n;
    u->p += n;
    return 0;
}

static int ubj_value(ubj *u, unsigned char t, xv *v);

/* After '[' or '{': the optional $type and #count. */
static int ubj_header(ubj *u, unsigned char *type, bool *counted, size_t *count)
{
    *type = 0;
    *counted = false;
    if (u->p < u->end && *u->p == '$') {
        u->p++;
        if (u->p >= u->end)
            return ubj_fail(u, "truncated container type");
        *type = *u->p++;
        if (!strchr("ZTFiUIlLdDHCS[{", *type) || *type == 0)
            return ubj_fail(u, "bad container type");
        if (u->p >= u->end || *u->p != '#')
            return ubj_fail(u, "a container type needs a count");
    }
    if (u->p < u->end && *u->p == '#') {
        u->p++;
        if (ubj_length(u, count) < 0)
            return -1;
        *counted = true;
        size_t sz = ubj_size(*type);
        if (sz && *count > (size_t)(u->end - u->p) / sz)
            return ubj_fail(u, "container count beyond the data");
    }
    return 0;
}

static int ubj_container(ubj *u, bool object, xv *v)
{
    if (++u->depth > RP_XGB_MAX_DEPTH)
        return rp_error_set(u->err, RP_ERR_LIMIT, "UBJSON nested deeper than %d", RP_XGB_MAX_DEPTH);
    unsigned char type;
    bool counted;
    size_t count = 0;
    if (ubj_header(u, &type, &counted, &count) < 0)
        return -1;
    v->type = object ? XV_OBJ : XV_NUMS;
    for (size_t k = 0;; k++) {
        if (counted) {
            if (k == count)
                break;
        } else {
            while (u->p < u->end && *u->p == 'N')
                u->p++;
            if (u->p >= u->end)
                return ubj_fail(u, "truncated container");
            if (*u->p == (object ? '}' : ']')) {
                u->p++;
                break;
            }
        }
        xv key = {0};
        if (object) {
            if (ubj_string_body(u, &key) < 0) {
                xv_free(&key);
                return -1;
            }
        }
        unsigned char t = type;
        if (!t) {
            if (u->p >= u->end) {
                xv_free(&key);
                return ubj_fail(u, "truncated container");
            }
            t = *u->p++;
        }
        if (!object && ubj_size(t) && t != 'C') {
            double d;
            bool is_int;
            if (ubj_number(u, t, &d, NULL, &is_int) < 0)
                return -1;
            if (arr_push_num(&u->al, v, d) < 0)
                return -1;
            continue;
        }
        xv *slot = cont_slot(&u->al, v);
        if (!slot) {
            xv_free(&key);
            return -1;
        }
        if (object) {
            slot[0] = key;
            slot++;
        }
        if (ubj_value(u, t, slot) < 0)
            return -1;
    }
    u->depth--;
    return 0;
}

static int ubj_value(ubj *u, unsigned char t, xv *v)
{
    switch (t) {
    case 'Z': v->type = XV_NULL; return 0;
    case 'T':
    case 'F':
        v->type = XV_BOOL;
        v->b = t == 'T';
        return 0;
    case 'S': return ubj_string_body(u, v);
    case 'H': /* a high-precision number: its decimal text */
        if (ubj_string_body(u, v) < 0)
            return -1;
        {
            char *e;
            double d = strtod(v->s, &e);
            if (e == v->s || *e)
                return ubj_fail(u, "bad high-precision number");
            free(v->s);
            v->s = NULL;
            v->n = 0;
            v->type = XV_NUM;
            v->num = d;
        }
        return 0;
    case 'C':
        if (u->p >= u->end)
            return ubj_fail(u, "truncated char");
        v->type = XV_STR;
        if (xtake(&u->al, 2) < 0)
            return -1;
        v->s = malloc(2);
        if (!v->s)
            return rp_error_set(u->err, RP_ERR_NOMEM, "out of memory");
        v->s[0] = (char)*u->p++;
        v->s[1] = '\0';
        v->n = 1;
        return 0;
    case '[': return ubj_container(u, false, v);
    case '{': return ubj_container(u, true, v);
    default:
        if (ubj_size(t)) {
            bool is_int;
            v->type = XV_NUM;
            return ubj_number(u, t, &v->num, NULL, &is_int);
        }
        u->p--;
        return ubj_fail(u, "unknown marker");
    }
}

static int parse_ubjson(const unsigned char *data, size_t len, rp__model_budget *budget, xv *root,
                        rp_error *err)
{
    ubj u = {data, data + len, data, err, 0, {budget, err}};
    while (u.p < u.end && *u.p == 'N')
        u.p++;
    if (u.p >= u.end)
        return ubj_fail(&u, "empty document");
    unsigned char t = *u.p++;
    if (ubj_value(&u, t, root) < 0)
        return -1;
    if (u.p != u.end)
        return ubj_fail(&u, "data after the document");
    return 0;
}

/* ---- JSON (with the project's pull reader) --------------------------------- */

static int json_value(rp__json_reader *r, const rp__json_value *jv, xv *v, xalloc *al);

static int json_fail(rp__json_reader *r, rp_error *err)
{
    return rp_error_set(err, RP_ERR_INVALID, "not valid JSON: %s", r->err.msg);
}

static int json_string(const rp__json_value *jv, xv *v, xalloc *al)
{
    v->type = XV_STR;
    if (xtake(al, jv->len + 1) < 0)
        return -1;
    v->s = malloc(jv->len + 1);
    if (!v->s)
        return nomem(al);
    v->n = rp__json_str_decode(jv, v->s);
    v->s[v->n] = '\0';
    return 0;
}

static int json_value(rp__json_reader *r, const rp__json_value *jv, xv *v, xalloc *al)
{
    rp_error *err = al->err;
    int rc;
    switch (jv->type) {
    case RP_JSON_NULL: v->type = XV_NULL; return 0;
    case RP_JSON_TRUE:
    case RP_JSON_FALSE:
        v->type = XV_BOOL;
        v->b = jv->type == RP_JSON_TRUE;
        return 0;
    case RP_JSON_NUMBER:
        v->type = XV_NUM;
        v->num = rp__json_number(jv);
        return 0;
    case RP_JSON_STRING: return json_string(jv, v, al);
    case RP_JSON_ARRAY:
        v->type = XV_NUMS;
        while ((rc = rp__json_element(r)) == 1) {
            rp__json_value e;
            if (rp__json_next(r, &e) < 0)
                return json_fail(r, err);
            if (e.type == RP_JSON_NUMBER && v->type == XV_NUMS) {
                if (arr_push_num(al, v, rp__json_number(&e)) < 0)
                    return -1;
                continue;
            }
            xv *slot = cont_slot(al, v);
            if (!slot)
                return -1;
            if (json_value(r, &e, slot, al) < 0)
                return -1;
        }
        return rc < 0 ? json_fail(r, err) : 0;
    case RP_JSON_OBJECT:
        v->type = XV_OBJ;
        for (;;) {
            rp__json_value k, e;
            rc = rp__json_member(r, &k);
            if (rc <= 0)
                break;
            xv *slot = cont_slot(al, v);
            if (!slot)
                return -1;
            if (json_string(&k, &slot[0], al) < 0)
                return -1;
            if (rp__json_next(r, &e) < 0)
                return json_fail(r, err);
            if (json_value(r, &e, &slot[1], al) < 0)
                return -1;
        }
        return rc < 0 ? json_fail(r, err) : 0;
    }
    return rp_error_set(err, RP_ERR_INVALID, "not valid JSON");
}

static int parse_json(const char *text, size_t len, rp__model_budget *budget, xv *root, rp_error *err)
{
    rp__json_reader r;
    rp__json_init(&r, text, len, RP_XGB_MAX_DEPTH);
    rp__json_value jv;
    xalloc al = {budget, err};
    if (rp__json_next(&r, &jv) < 0)
        return json_fail(&r, err);
    if (json_value(&r, &jv, root, &al) < 0)
        return -1;
    if (rp__json_end(&r) < 0)
        return json_fail(&r, err);
    return 0;
}

/* ---- sniffing ---------------------------------------------------------------- */

rp__xgb_kind rp__xgb_sniff(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len >= 4 && !memcmp(p, "binf", 4))
        return RP_XGB_LEGACY;
    if (len >= 2 && p[0] == '{' && strchr("iUIlL#$N", p[1]) && p[1])
        return RP_XGB_UBJSON;
    /* JSON: a top-level key "learner". */
    rp__json_reader r;
    rp__json_init(&r, data, len, RP_XGB_MAX_DEPTH);
    rp__json_value v, k;
    if (rp__json_next(&r, &v) < 0 || v.type != RP_JSON_OBJECT)
        return RP_XGB_NOT;
    while (rp__json_member(&r, &k) == 1) {
        if (rp__json_str_eq(&k, "learner", 7))
            return RP_XGB_JSON;
        if (rp__json_str_eq(&k, "format", 6))
            return RP_XGB_NOT; /* ridepred.model/1 */
        if (rp__json_skip(&r, NULL) < 0)
            return RP_XGB_NOT;
    }
    return RP_XGB_NOT;
}

/* ---- the schema -------------------------------------------------------------- */

static const xv *get(const xv *o, const char *key)
{
    if (!o || o->type != XV_OBJ)
        return NULL;
    const xv *found = NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < o->n; i++)
        if (o->items[2 * i].n == kl && !memcmp(o->items[2 * i].s, key, kl))
            found = &o->items[2 * i + 1]; /* the last one wins, as in Python */
    return found;
}

static const char *str(const xv *v)
{
    return v && v->type == XV_STR ? v->s : NULL;
}

/* A number written as a number or as a string ("5E-1", "[5E-1]"). */
static bool num_or_str(const xv *v, double *out)
{
    if (!v)
        return false;
    if (v->type == XV_NUM) {
        *out = v->num;
        return true;
    }
    if (v->type == XV_NUMS && v->n == 1) {
        *out = v->nums[0];
        return true;
    }
    if (v->type != XV_STR || !v->n || strlen(v->s) != v->n)
        return false;
    const char *s = v->s;
    size_t n = v->n;
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *e;
    errno = 0;
    double d = strtod(buf, &e);
    if (e == buf || *e)
        return false;
    *out = d;
    return true;
}

/* A packed numeric array of at least `n` elements (an empty array is
 * packed too). */
static const double *nums(const xv *v, size_t n)
{
    if (!v || v->type != XV_NUMS || v->n < n)
        return NULL;
    return v->nums ? v->nums : (const double *)"";
}

typedef struct conv {
    rp_error *err;
    rp__img_tree_src *trees;
    void **blocks;
    size_t ntrees;
    const char **names;
    size_t *lens;
    /* for the model's source */
    const char *objective;
    size_t trees_in_file;
    double best_iteration; /* -1: none, or not applied */
    rp__model_budget *budget;
} conv;

static void conv_free(conv *c)
{
    for (size_t i = 0; i < c->ntrees; i++)
        free(c->blocks[i]);
    free(c->blocks);
    free(c->trees);
    free(c->names);
    free(c->lens);
}

static int schema(conv *c, const char *what)
{
    return rp_error_set(c->err, RP_ERR_INVALID, "not an XGBoost model: %s", what);
}

static int tree(conv *c, const xv *t, size_t idx, uint32_t nf)
{
    const xv *L = get(t, "left_children"), *R = get(t, "right_children");
    const xv *F = get(t, "split_indices"), *S = get(t, "split_conditions");
    const xv *D = get(t, "default_left"), *ST = get(t, "split_type");
    const xv *tp = get(t, "tree_param");
    double slv = 0;
    if (num_or_str(get(tp, "size_leaf_vector"), &slv) && slv != 0 && slv != 1)
        return rp_error_set(
            c->err, RP_ERR_UNSUPPORTED,
            "tree %zu has vector leaves (size_leaf_vector %g): multi-target models are not supported", idx,
            slv);
    if (!L || L->type != XV_NUMS)
        return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: left_children is not an array of integers",
                            idx);
    size_t n = L->n;
    if (n == 0 || n > UINT32_MAX / 2)
        return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu has %zu nodes", idx, n);
    const double *l = nums(L, n), *r = nums(R, n), *f = nums(F, n), *s = nums(S, n);
    if (!l || !r || !f || !s || R->n != n || F->n != n || S->n != n)
        return rp_error_set(
            c->err, RP_ERR_INVALID,
            "tree %zu: left_children, right_children, split_indices and split_conditions must be numeric arrays of one length",
            idx);
    const double *d = NULL;
    if (D && D->type == XV_NUMS && D->n == n) {
        d = nums(D, n);
    } else if (D && D->type == XV_ARR && D->n == n) {
        /* booleans */
    } else {
        return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: default_left is not an array of %zu flags",
                            idx, n);
    }
    if (ST && ST->type == XV_NUMS && ST->n) {
        if (ST->n != n)
            return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: split_type has %zu entries for %zu nodes",
                                idx, ST->n, n);
        for (size_t i = 0; i < n; i++)
            if (ST->nums[i] != 0 && l[i] != -1)
                return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                                    "tree %zu: categorical splits are not supported", idx);
    }
    void *blk = malloc(n * (5 * 8 + 1));
    if (!blk)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->blocks[idx] = blk;
    int64_t *left = blk, *right = left + n, *feat = right + n;
    double *thr = (double *)(feat + n), *val = thr + n;
    uint8_t *dl = (uint8_t *)(val + n);
    for (size_t i = 0; i < n; i++) {
        double a = l[i], b = r[i], fi = f[i];
        if (a != floor(a) || b != floor(b) || a < -1 || b < -1 || a >= (double)n || b >= (double)n)
            return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: node %zu has a child out of range", idx,
                                i);
        left[i] = (int64_t)a;
        right[i] = (int64_t)b;
        /* split_conditions are float32: a threshold, or a leaf's value. */
        float v32 = (float)s[i];
        bool leaf = left[i] == -1;
        if (leaf) {
            feat[i] = 0;
            thr[i] = 0.0;
            val[i] = v32;
        } else {
            if (fi != floor(fi) || fi < 0 || fi >= (double)nf)
                return rp_error_set(c->err, RP_ERR_INVALID,
                                    "tree %zu: node %zu tests feature %g, but the model has %u features", idx,
                                    i, fi, nf);
            feat[i] = (int64_t)fi;
            thr[i] = v32;
            val[i] = 0.0;
        }
        dl[i] = d ? d[i] != 0
                  : (D->items[i].type == XV_BOOL ? D->items[i].b
                                                 : D->items[i].type == XV_NUM && D->items[i].num != 0);
    }
    c->trees[idx] = (rp__img_tree_src){(uint32_t)n, left, right, feat, thr, val, dl};
    return 0;
}

static int convert(conv *c, const xv *root, const rp__xgb_opts *opts, rp__img_src *src)
{
    if (!root || root->type != XV_OBJ)
        return schema(c, "the document is not an object");
    const xv *learner = get(root, "learner");
    if (!learner || learner->type != XV_OBJ)
        return schema(c, "no \"learner\" object");
    const char *obj = str(get(get(learner, "objective"), "name"));
    if (!obj)
        return schema(c, "no learner.objective.name");
    if (strcmp(obj, "reg:squarederror") && strcmp(obj, "reg:linear"))
        return rp_error_set(
            c->err, RP_ERR_UNSUPPORTED,
            "XGBoost objective %.60s is not supported (ridepred serves reg:squarederror and reg:linear)",
            obj);
    const xv *gb = get(learner, "gradient_booster");
    const char *booster = str(get(gb, "name"));
    if (!booster)
        return schema(c, "no learner.gradient_booster.name");
    if (strcmp(booster, "gbtree"))
        return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                            "XGBoost booster %.60s is not supported (ridepred serves gbtree)", booster);
    const xv *lmp = get(learner, "learner_model_param");
    double base, v;
    if (!num_or_str(get(lmp, "base_score"), &base) || !isfinite(base))
        return schema(c, "learner.learner_model_param.base_score is not a number");
    if (num_or_str(get(lmp, "num_class"), &v) && v > 1)
        return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                            "XGBoost model with %g classes: ridepred serves single-output regression", v);
    if (num_or_str(get(lmp, "num_target"), &v) && v > 1)
        return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                            "XGBoost model with %g targets: ridepred serves single-output regression", v);
    double nfd;
    if (!num_or_str(get(lmp, "num_feature"), &nfd) || nfd < 1 || nfd > RP_NODE_FEATURE_MASK ||
        nfd != floor(nfd))
        return schema(c, "learner.learner_model_param.num_feature is not a positive integer");
    uint32_t nf = (uint32_t)nfd;

    /* Feature names: the preprocessor's, else the model's. */
    const xv *fn = get(learner, "feature_names");
    const xv *ft = get(learner, "feature_types");
    if (ft && ft->type == XV_ARR)
        for (size_t i = 0; i < ft->n; i++)
            if (ft->items[i].type == XV_STR && !strcmp(ft->items[i].s, "c"))
                return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                                    "XGBoost model with categorical features: not supported");
    if (opts && opts->n_features) {
        if (opts->n_features != nf)
            return rp_error_set(
                c->err, RP_ERR_INVALID,
                "the preprocessor has %u columns but the XGBoost model was trained on %u features",
                opts->n_features, nf);
        src->feature_names = opts->feature_names;
        src->feature_lens = opts->feature_lens;
    } else if (fn && fn->type == XV_ARR && fn->n) {
        if (fn->n != nf)
            return rp_error_set(c->err, RP_ERR_INVALID,
                                "the XGBoost model has %zu feature names for %u features", fn->n, nf);
        c->names = calloc(nf, sizeof *c->names);
        c->lens = calloc(nf, sizeof *c->lens);
        if (!c->names || !c->lens)
            return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < nf; i++) {
            if (fn->items[i].type != XV_STR)
                return schema(c, "learner.feature_names has a non-string");
            c->names[i] = fn->items[i].s;
            c->lens[i] = fn->items[i].n;
        }
        src->feature_names = c->names;
        src->feature_lens = c->lens;
    } else {
        return rp_error_set(
            c->err, RP_ERR_INVALID,
            "the XGBoost model has no feature names: give the DictVectorizer it was trained with (--preprocessor preprocessor.b), or train with DMatrix(..., feature_names=dv.feature_names_)");
    }
    src->n_features = nf;

    const xv *model = get(gb, "model");
    const xv *trees = get(model, "trees");
    if (!trees || (trees->type != XV_ARR && !(trees->type == XV_NUMS && trees->n == 0)))
        return schema(c, "no learner.gradient_booster.model.trees array");
    if (trees->n == 0 || trees->n > UINT32_MAX)
        return rp_error_set(c->err, RP_ERR_INVALID, "the XGBoost model has %zu trees", trees->n);
    const xv *info = get(model, "tree_info");
    if (info) {
        const double *ti = nums(info, trees->n);
        if (!ti)
            return schema(c, "tree_info does not list every tree");
        for (size_t i = 0; i < trees->n; i++)
            if (ti[i] != 0)
                return rp_error_set(
                    c->err, RP_ERR_UNSUPPORTED,
                    "XGBoost model with several output groups: ridepred serves single-output regression");
    }
    /* Early stopping.  Booster.predict uses every tree, best_iteration or
     * not (xgb.train keeps the rounds after the best); the scikit-learn
     * wrapper's predict (XGBRegressor, saved with a "scikit_learn"
     * attribute) stops at best_iteration.  Serve what the model's own
     * predict serves. */
    size_t used = trees->n;
    c->objective = obj;
    c->trees_in_file = trees->n;
    c->best_iteration = -1;
    const xv *attrs = get(learner, "attributes");
    double best, npt = 1;
    if (get(attrs, "scikit_learn") && num_or_str(get(attrs, "best_iteration"), &best)) {
        num_or_str(get(get(model, "gbtree_model_param"), "num_parallel_tree"), &npt);
        if (best < 0 || best != floor(best) || npt < 1 || npt != floor(npt))
            return schema(c, "best_iteration or num_parallel_tree is not a count");
        if ((best + 1) * npt < (double)used)
            used = (size_t)((best + 1) * npt);
        c->best_iteration = best;
    }
    /* Everything the trees will take, counted before any is converted. */
    uint64_t nodes = 0;
    for (size_t i = 0; i < used; i++) {
        const xv *L = get(&trees->items[i], "left_children");
        if (L && L->type == XV_NUMS)
            nodes += L->n;
    }
    size_t per_node = 5 * 8 + 1 + RP_BUDGET_IMAGE_PER_NODE;
    size_t per_tree = sizeof(rp__img_tree_src) + sizeof(void *) + 4;
    size_t nb = rp__budget_mul((size_t)nodes, per_node), tb = rp__budget_mul(used, per_tree);
    if (rp__budget_take(c->budget, nb > (size_t)-1 - tb ? (size_t)-1 : nb + tb, c->err,
                        "%zu trees of %llu nodes in all", used, (unsigned long long)nodes) < 0)
        return -1;
    c->trees = calloc(used, sizeof *c->trees);
    c->blocks = calloc(used, sizeof *c->blocks);
    if (!c->trees || !c->blocks)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->ntrees = used;
    for (size_t i = 0; i < used; i++) {
        if (trees->items[i].type != XV_OBJ)
            return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu is not an object", i);
        if (tree(c, &trees->items[i], i, nf) < 0)
            return -1;
    }
    src->kind = RP_MODEL_TREES;
    src->combine = RP_COMBINE_SUM;
    src->split = RP_SPLIT_LT;
    /* reg:squarederror's margin is base_score itself; XGBoost keeps it as
     * a float32. */
    src->base = (float)base;
    src->sum_f32 = true;
    src->n_trees = (uint32_t)used;
    src->trees = c->trees;
    return 0;
}

/* The model's source: container members, the file, XGBoost's version. */
static void describe(const conv *c, const xv *root, const rp__xgb_opts *opts, bool ubjson, size_t len,
                     rp__buf *b)
{
    rp__img_source_members(b, opts ? opts->origin : NULL);
    rp__img_source_str(b, "file", opts ? opts->file : NULL);
    rp__img_source_str(b, "serialization",
                       opts && opts->legacy ? "xgboost-legacy-binary (read by libxgboost)"
                       : ubjson             ? "xgboost-ubjson"
                                            : "xgboost-json");
    rp__img_source_int(b, "file_bytes", (long long)len);
    const xv *ver = get(root, "version");
    const double *vn = nums(ver, 3);
    if (vn && ver->n == 3) {
        char txt[64];
        snprintf(txt, sizeof txt, "%.0f.%.0f.%.0f", vn[0], vn[1], vn[2]);
        rp__img_source_str(b, "xgboost_version", txt);
    }
    rp__img_source_str(b, "objective", c->objective);
    rp__img_source_int(b, "trees_in_file", (long long)c->trees_in_file);
    if (c->best_iteration >= 0)
        rp__img_source_int(b, "best_iteration", (long long)c->best_iteration);
    rp__img_source_end(b);
}

static int from_buffer(const void *data, size_t len, const rp__xgb_opts *opts, rp__model_budget *budget,
                       rp_model **out, rp_error *err)
{
    const unsigned char *p = data;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i >= len || p[i] != '{') {
        if (len < 4 || memcmp(p, "binf", 4))
            return rp_error_set(
                err, RP_ERR_INVALID,
                "not an XGBoost model: JSON and UBJSON start with '{', the legacy binary format (XGBoost >= 1.0) with \"binf\"; re-save an older model with booster.save_model(\"model.json\")");
        /* The legacy binary format: only XGBoost reads it; convert it to
         * JSON through libxgboost. */
        char *json;
        size_t jlen;
        if (rp__xgb_legacy_to_json(data, len, &json, &jlen, err) < 0) {
            rp_error_prefix(err, "XGBoost model in the legacy binary format");
            return -1;
        }
        rp__xgb_opts o = {0};
        if (opts)
            o = *opts;
        o.legacy = true;
        int rc = rp__budget_take(budget, jlen, err, "the model converted to JSON by libxgboost");
        if (rc == 0)
            rc = from_buffer(json, jlen, &o, budget, out, err);
        else
            rp_error_prefix(err, "XGBoost model in the legacy binary format");
        free(json);
        return rc;
    }
    bool ubjson = i == 0 && len >= 2 && p[1] && strchr("iUIlL#$N}", p[1]);
    xv root = {0};
    conv c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.budget = budget;
    int rc = -1;
    if ((ubjson ? parse_ubjson(p, len, budget, &root, err) : parse_json(data, len, budget, &root, err)) < 0)
        goto done;
    rp__img_src src;
    memset(&src, 0, sizeof src);
    src.name = "";
    src.version = opts && opts->version ? opts->version : "";
    src.version_len = strlen(src.version);
    if (convert(&c, &root, opts, &src) < 0)
        goto done;
    rp__buf source;
    rp__buf_init(&source, RP_IMG_SOURCE_MAX);
    describe(&c, &root, opts, ubjson, len, &source);
    src.source = source.data;
    src.source_len = source.len;
    rc = rp__model_build(&src, opts && opts->format ? opts->format : "xgboost", out, err);
    rp__buf_cleanup(&source);
done:
    if (rc < 0)
        rp_error_prefix(err, "XGBoost %s model",
                        opts && opts->legacy ? "legacy binary"
                        : ubjson             ? "UBJSON"
                                             : "JSON");
    conv_free(&c);
    xv_free(&root);
    return rc;
}

int rp__xgb_from_buffer(const void *data, size_t len, const rp__xgb_opts *opts, rp_model **out, rp_error *err)
{
    rp__model_budget budget;
    rp__budget_init(&budget, opts ? opts->max_build_bytes : 0, len);
    return from_buffer(data, len, opts, &budget, out, err);
}

int rp__xgb_parse_only(const void *data, size_t len, bool json, rp_error *err)
{
    xv root = {0};
    rp__model_budget budget;
    rp__budget_init(&budget, 0, len);
    int rc = json ? parse_json(data, len, &budget, &root, err) : parse_ubjson(data, len, &budget, &root, err);
    xv_free(&root);
    return rc;
}

int rp__xgb_load_file(const char *path, const rp__xgb_opts *opts, rp_model **out, rp_error *err)
{
    unsigned char *buf;
    size_t size;
    if (rp__file_read(path, RP_XGB_MAX_FILE, &buf, &size, err) < 0)
        return -1;
    rp__xgb_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.file)
        o.file = rp__file_basename(path);
    int rc = rp__xgb_from_buffer(buf, size, &o, out, err);
    free(buf);
    if (rc < 0)
        rp_error_prefix(err, "model %s", path);
    return rc;
}
