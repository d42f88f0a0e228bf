/* ridepred.model/1 → native image, with the streaming JSON reader: no DOM,
 * memory proportional to the numbers kept.  Keys may come in any order; a
 * repeated key replaces the earlier value (as Python's json does). */
#include "model/model_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "model/image.h"
#include "model/model.h"

#define MODEL_MAX_DEPTH 16

typedef struct vec {
    void *data;
    size_t len, cap, elem;
} vec;

static int vec_push(vec *v, const void *x)
{
    void *p = rp__array_grow(v->data, v->len, &v->cap, v->elem, 64);
    if (!p)
        return -1;
    v->data = p;
    memcpy((char *)v->data + v->len * v->elem, x, v->elem);
    v->len++;
    return 0;
}

static void vec_free(vec *v)
{
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

typedef struct tree_arrays {
    vec left, right, feature, threshold, value, default_left;
    bool has_default_left;
} tree_arrays;

typedef struct parse {
    rp__json_reader r;
    rp_error *err;
    char path[160];
    /* top level */
    bool has_format, format_ok, has_features, has_estimator;
    rp__buf strs; /* decoded feature names, name, version */
    vec feat_off; /* {offset, length} pairs into strs */
    size_t name_off, name_len, version_off, version_len;
    bool has_name, has_version;
    /* estimator */
    char type[16], combine[16], split[16];
    bool has_type, has_coef, has_intercept, has_trees, has_combine, has_split, has_base;
    vec coef;
    double intercept, base;
    tree_arrays *trees;
    size_t n_trees, cap_trees;
} parse;

static int perr(parse *ps, const char *what)
{
    return rp_error_set(ps->err, RP_ERR_INVALID, "%s: %s", ps->path[0] ? ps->path : "model", what);
}

static int rerr(parse *ps)
{
    rp_error_set(ps->err, RP_ERR_INVALID, "not valid JSON: %s", ps->r.err.msg);
    return -1;
}

static int expect(parse *ps, rp__json_value *v, rp__json_type t, const char *what)
{
    if (rp__json_next(&ps->r, v) < 0)
        return rerr(ps);
    if (v->type != t)
        return perr(ps, what);
    return 0;
}

/* A short string value (type, combine, split) into a fixed buffer. */
static int read_word(parse *ps, char *out, size_t cap)
{
    rp__json_value v;
    if (expect(ps, &v, RP_JSON_STRING, "expected a string") < 0)
        return -1;
    if (v.len >= cap) {
        out[0] = '?';
        out[1] = '\0';
        return 0;
    }
    size_t n = rp__json_str_decode(&v, out);
    out[n] = '\0';
    return 0;
}

/* A string appended to strs; its offset and length returned. */
static int read_string(parse *ps, size_t *off, size_t *len)
{
    rp__json_value v;
    if (expect(ps, &v, RP_JSON_STRING, "expected a string") < 0)
        return -1;
    if (rp__buf_grow(&ps->strs, v.len) != 0)
        return rp_error_set(ps->err, RP_ERR_NOMEM, "out of memory");
    *off = ps->strs.len;
    *len = rp__json_str_decode(&v, ps->strs.data + ps->strs.len);
    ps->strs.len += *len;
    return 0;
}

static int read_number(parse *ps, double *out)
{
    rp__json_value v;
    if (expect(ps, &v, RP_JSON_NUMBER, "expected a number") < 0)
        return -1;
    *out = rp__json_number(&v);
    return 0;
}

static int read_numbers(parse *ps, vec *out)
{
    rp__json_value v;
    vec_free(out);
    out->elem = sizeof(double);
    if (expect(ps, &v, RP_JSON_ARRAY, "expected an array of numbers") < 0)
        return -1;
    int rc;
    while ((rc = rp__json_element(&ps->r)) == 1) {
        if (expect(ps, &v, RP_JSON_NUMBER, "expected an array of numbers") < 0)
            return -1;
        double d = rp__json_number(&v);
        if (vec_push(out, &d) < 0)
            return rp_error_set(ps->err, RP_ERR_NOMEM, "out of memory");
    }
    return rc < 0 ? rerr(ps) : 0;
}

static int read_ints(parse *ps, vec *out, bool allow_bool)
{
    rp__json_value v;
    vec_free(out);
    out->elem = sizeof(int64_t);
    if (expect(ps, &v, RP_JSON_ARRAY, "expected an array of integers") < 0)
        return -1;
    int rc;
    while ((rc = rp__json_element(&ps->r)) == 1) {
        if (rp__json_next(&ps->r, &v) < 0)
            return rerr(ps);
        int64_t x;
        if (allow_bool && (v.type == RP_JSON_TRUE || v.type == RP_JSON_FALSE)) {
            x = v.type == RP_JSON_TRUE;
        } else if (v.type == RP_JSON_NUMBER && !v.nonfinite) {
            double d = rp__json_number(&v);
            /* Integral values written as floats (-1.0) are accepted. */
            if (d != floor(d) || d < -2147483648.0 || d > 4294967295.0)
                return perr(ps, "expected an array of integers in 32-bit range");
            x = (int64_t)d;
        } else {
            return perr(ps, allow_bool ? "expected an array of booleans" : "expected an array of integers");
        }
        if (vec_push(out, &x) < 0)
            return rp_error_set(ps->err, RP_ERR_NOMEM, "out of memory");
    }
    return rc < 0 ? rerr(ps) : 0;
}

static int read_tree(parse *ps, tree_arrays *t)
{
    rp__json_value v, k;
    if (expect(ps, &v, RP_JSON_OBJECT, "expected a tree object") < 0)
        return -1;
    size_t base = strlen(ps->path);
    int rc;
    while ((rc = rp__json_member(&ps->r, &k)) == 1) {
        snprintf(ps->path + base, sizeof ps->path - base, ".%.*s", (int)(k.len > 20 ? 20 : k.len), k.ptr);
        if (rp__json_str_eq(&k, "left", 4))
            rc = read_ints(ps, &t->left, false);
        else if (rp__json_str_eq(&k, "right", 5))
            rc = read_ints(ps, &t->right, false);
        else if (rp__json_str_eq(&k, "feature", 7))
            rc = read_ints(ps, &t->feature, false);
        else if (rp__json_str_eq(&k, "threshold", 9))
            rc = read_numbers(ps, &t->threshold);
        else if (rp__json_str_eq(&k, "value", 5))
            rc = read_numbers(ps, &t->value);
        else if (rp__json_str_eq(&k, "default_left", 12)) {
            rc = read_ints(ps, &t->default_left, true);
            t->has_default_left = true;
        } else
            rc = rp__json_skip(&ps->r, NULL) < 0 ? rerr(ps) : 0;
        if (rc < 0)
            return -1;
    }
    ps->path[base] = '\0';
    return rc < 0 ? rerr(ps) : 0;
}

static void free_trees(parse *ps)
{
    for (size_t i = 0; i < ps->n_trees; i++) {
        tree_arrays *t = &ps->trees[i];
        vec_free(&t->left);
        vec_free(&t->right);
        vec_free(&t->feature);
        vec_free(&t->threshold);
        vec_free(&t->value);
        vec_free(&t->default_left);
    }
    free(ps->trees);
    ps->trees = NULL;
    ps->n_trees = ps->cap_trees = 0;
}

static int read_trees(parse *ps)
{
    rp__json_value v;
    free_trees(ps);
    if (expect(ps, &v, RP_JSON_ARRAY, "expected an array of trees") < 0)
        return -1;
    size_t base = strlen(ps->path);
    int rc;
    while ((rc = rp__json_element(&ps->r)) == 1) {
        if (ps->n_trees == ps->cap_trees) {
            size_t cap = ps->cap_trees ? ps->cap_trees * 2 : 16;
            tree_arrays *p = realloc(ps->trees, cap * sizeof *p);
            if (!p)
                return rp_error_set(ps->err, RP_ERR_NOMEM, "out of memory");
            ps->trees = p;
            ps->cap_trees = cap;
        }
        tree_arrays *t = &ps->trees[ps->n_trees++];
        memset(t, 0, sizeof *t);
        snprintf(ps->path + base, sizeof ps->path - base, "[%zu]", ps->n_trees - 1);
        if (read_tree(ps, t) < 0)
            return -1;
    }
    ps->path[base] = '\0';
    return rc < 0 ? rerr(ps) : 0;
}

static int read_estimator(parse *ps)
{
    rp__json_value v, k;
    if (expect(ps, &v, RP_JSON_OBJECT, "expected an object") < 0)
        return -1;
    int rc;
    while ((rc = rp__json_member(&ps->r, &k)) == 1) {
        snprintf(ps->path, sizeof ps->path, "estimator.%.*s", (int)(k.len > 20 ? 20 : k.len), k.ptr);
        if (rp__json_str_eq(&k, "type", 4)) {
            rc = read_word(ps, ps->type, sizeof ps->type);
            ps->has_type = true;
        } else if (rp__json_str_eq(&k, "coef", 4)) {
            rc = read_numbers(ps, &ps->coef);
            ps->has_coef = true;
        } else if (rp__json_str_eq(&k, "intercept", 9)) {
            rc = read_number(ps, &ps->intercept);
            ps->has_intercept = true;
        } else if (rp__json_str_eq(&k, "combine", 7)) {
            rc = read_word(ps, ps->combine, sizeof ps->combine);
            ps->has_combine = true;
        } else if (rp__json_str_eq(&k, "split", 5)) {
            rc = read_word(ps, ps->split, sizeof ps->split);
            ps->has_split = true;
        } else if (rp__json_str_eq(&k, "base", 4)) {
            rc = read_number(ps, &ps->base);
            ps->has_base = true;
        } else if (rp__json_str_eq(&k, "trees", 5)) {
            rc = read_trees(ps);
            ps->has_trees = true;
        } else {
            rc = rp__json_skip(&ps->r, NULL) < 0 ? rerr(ps) : 0;
        }
        if (rc < 0)
            return -1;
    }
    return rc < 0 ? rerr(ps) : 0;
}

static int read_features(parse *ps)
{
    rp__json_value v;
    ps->feat_off.len = 0;
    ps->feat_off.elem = 2 * sizeof(size_t);
    if (expect(ps, &v, RP_JSON_ARRAY, "expected an array of strings") < 0)
        return -1;
    int rc;
    while ((rc = rp__json_element(&ps->r)) == 1) {
        size_t off = 0, len = 0;
        snprintf(ps->path, sizeof ps->path, "features[%zu]", ps->feat_off.len);
        if (read_string(ps, &off, &len) < 0)
            return -1;
        size_t pair[2] = {off, len};
        if (vec_push(&ps->feat_off, pair) < 0)
            return rp_error_set(ps->err, RP_ERR_NOMEM, "out of memory");
    }
    return rc < 0 ? rerr(ps) : 0;
}

static int build(parse *ps, rp_model **out)
{
    rp_error *err = ps->err;
    ps->path[0] = '\0';
    if (!ps->has_format || !ps->format_ok)
        return rp_error_set(err, RP_ERR_INVALID,
                            "not a ridepred.model/1 document (\"format\" must be \"ridepred.model/1\")");
    if (!ps->has_features)
        return rp_error_set(err, RP_ERR_INVALID, "\"features\" is missing");
    if (!ps->has_estimator || !ps->has_type)
        return rp_error_set(err, RP_ERR_INVALID, "\"estimator\" with a \"type\" is missing");
    size_t nf = ps->feat_off.len;
    if (nf > RP_NODE_FEATURE_MASK)
        return rp_error_set(err, RP_ERR_LIMIT, "too many features");
    const char **names = malloc((nf + 1) * sizeof *names);
    size_t *lens = malloc((nf + 1) * sizeof *lens);
    rp__img_tree_src *trees = NULL;
    int rc = -1;
    if (!names || !lens) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const size_t *pairs = ps->feat_off.data;
    for (size_t i = 0; i < nf; i++) {
        names[i] = ps->strs.data + pairs[2 * i];
        lens[i] = pairs[2 * i + 1];
    }
    rp__img_src src;
    memset(&src, 0, sizeof src);
    src.name = ps->has_name ? ps->strs.data + ps->name_off : "";
    src.name_len = ps->has_name ? ps->name_len : 0;
    src.version = ps->has_version ? ps->strs.data + ps->version_off : "";
    src.version_len = ps->has_version ? ps->version_len : 0;
    src.n_features = (uint32_t)nf;
    src.feature_names = names;
    src.feature_lens = lens;
    if (!strcmp(ps->type, "linear")) {
        src.kind = RP_MODEL_LINEAR;
        if (!ps->has_coef || !ps->has_intercept) {
            rp_error_set(err, RP_ERR_INVALID, "a linear estimator needs \"coef\" and \"intercept\"");
            goto out;
        }
        if (ps->coef.len != nf) {
            rp_error_set(err, RP_ERR_INVALID, "estimator.coef has %zu values for %zu features", ps->coef.len,
                         nf);
            goto out;
        }
        src.coef = ps->coef.data;
        src.intercept = ps->intercept;
    } else if (!strcmp(ps->type, "trees")) {
        src.kind = RP_MODEL_TREES;
        if (!ps->has_trees) {
            rp_error_set(err, RP_ERR_INVALID, "a trees estimator needs \"trees\"");
            goto out;
        }
        if (!ps->has_combine || !strcmp(ps->combine, "sum"))
            src.combine = RP_COMBINE_SUM;
        else if (!strcmp(ps->combine, "mean"))
            src.combine = RP_COMBINE_MEAN;
        else {
            rp_error_set(err, RP_ERR_INVALID, "estimator.combine must be \"mean\" or \"sum\"");
            goto out;
        }
        if (!ps->has_split || !strcmp(ps->split, "le"))
            src.split = RP_SPLIT_LE;
        else if (!strcmp(ps->split, "lt"))
            src.split = RP_SPLIT_LT;
        else {
            rp_error_set(err, RP_ERR_INVALID, "estimator.split must be \"le\" or \"lt\"");
            goto out;
        }
        src.base = ps->has_base ? ps->base : 0.0;
        if (ps->n_trees > UINT32_MAX) {
            rp_error_set(err, RP_ERR_LIMIT, "too many trees");
            goto out;
        }
        trees = calloc(ps->n_trees ? ps->n_trees : 1, sizeof *trees);
        if (!trees) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t t = 0; t < ps->n_trees; t++) {
            tree_arrays *ta = &ps->trees[t];
            size_t n = ta->left.len;
            if (ta->right.len != n || ta->feature.len != n || ta->threshold.len != n || ta->value.len != n ||
                (ta->has_default_left && ta->default_left.len != n)) {
                rp_error_set(
                    err, RP_ERR_INVALID,
                    "estimator.trees[%zu]: left, right, feature, threshold, value (and default_left) must have the same length",
                    t);
                goto out;
            }
            if (n > UINT32_MAX / 2) {
                rp_error_set(err, RP_ERR_LIMIT, "estimator.trees[%zu]: too many nodes", t);
                goto out;
            }
            uint8_t *dl = NULL;
            if (ta->has_default_left) {
                /* Narrow in place: int64 → uint8. */
                int64_t *src64 = ta->default_left.data;
                dl = (uint8_t *)ta->default_left.data;
                for (size_t i = 0; i < n; i++)
                    dl[i] = src64[i] != 0;
            }
            trees[t] = (rp__img_tree_src){(uint32_t)n,
                                          ta->left.data,
                                          ta->right.data,
                                          ta->feature.data,
                                          ta->threshold.data,
                                          ta->value.data,
                                          dl};
        }
        src.n_trees = (uint32_t)ps->n_trees;
        src.trees = trees;
    } else {
        rp_error_set(err, RP_ERR_UNSUPPORTED, "estimator.type \"%s\" is not one of \"linear\", \"trees\"",
                     ps->type);
        goto out;
    }
    rc = rp__model_build(&src, "json", out, err);
out:
    free(names);
    free(lens);
    free(trees);
    return rc;
}

int rp_model_from_json(const char *json, size_t len, rp_model **out, rp_error *err)
{
    parse ps;
    memset(&ps, 0, sizeof ps);
    ps.err = err;
    rp__buf_init(&ps.strs, RP_MODEL_JSON_MAX_BYTES);
    ps.coef.elem = sizeof(double);
    ps.feat_off.elem = 2 * sizeof(size_t);
    rp__json_init(&ps.r, json, len, MODEL_MAX_DEPTH);
    int rc = -1;
    rp__json_value v, k;
    if (expect(&ps, &v, RP_JSON_OBJECT, "the model must be a JSON object") < 0)
        goto out;
    int more;
    while ((more = rp__json_member(&ps.r, &k)) == 1) {
        snprintf(ps.path, sizeof ps.path, "%.*s", (int)(k.len > 20 ? 20 : k.len), k.ptr);
        int r = 0;
        if (rp__json_str_eq(&k, "format", 6)) {
            char fmt[32];
            r = read_word(&ps, fmt, sizeof fmt);
            ps.has_format = true;
            ps.format_ok = r == 0 && !strcmp(fmt, "ridepred.model/1");
        } else if (rp__json_str_eq(&k, "name", 4)) {
            r = read_string(&ps, &ps.name_off, &ps.name_len);
            ps.has_name = true;
        } else if (rp__json_str_eq(&k, "version", 7)) {
            r = read_string(&ps, &ps.version_off, &ps.version_len);
            ps.has_version = true;
        } else if (rp__json_str_eq(&k, "features", 8)) {
            r = read_features(&ps);
            ps.has_features = true;
        } else if (rp__json_str_eq(&k, "estimator", 9)) {
            r = read_estimator(&ps);
            ps.has_estimator = true;
        } else {
            r = rp__json_skip(&ps.r, NULL) < 0 ? rerr(&ps) : 0;
        }
        if (r < 0)
            goto out;
    }
    if (more < 0 || rp__json_end(&ps.r) < 0) {
        rerr(&ps);
        goto out;
    }
    rc = build(&ps, out);
out:
    rp__buf_cleanup(&ps.strs);
    vec_free(&ps.feat_off);
    vec_free(&ps.coef);
    free_trees(&ps);
    return rc;
}
