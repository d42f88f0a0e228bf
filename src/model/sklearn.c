/* scikit-learn object graphs (from the restricted unpickler) → native image.
 * Semantics: docs/models.md and docs/model-format.md. */
#include "model/sklearn.h"

#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/pyjson.h"
#include "model/budget.h"
#include "model/image.h"
#include "model/model.h"
#include "model/pickle.h"

typedef struct conv {
    rp_error *err;
    const char **names;
    size_t *lens;
    uint32_t nf;
    double *coef;
    rp__img_tree_src *trees;
    void **blocks; /* one allocation per tree */
    size_t ntrees;
    const pk_value *root, *dv, *est; /* for the model's source */
    rp__model_budget *budget;
} conv;

static void conv_free(conv *c)
{
    free(c->names);
    free(c->lens);
    free(c->coef);
    for (size_t i = 0; i < c->ntrees; i++)
        free(c->blocks[i]);
    free(c->blocks);
    free(c->trees);
}

static int bad(conv *c, const char *what, const pk_value *v)
{
    return rp_error_set(c->err, RP_ERR_INVALID, "%s (found %s)", what, pk_type_name(v));
}

/* ---- DictVectorizer ------------------------------------------------------- */

int rp__sklearn_dv_columns(const pk_value *dv, const char ***names_out, size_t **lens_out, uint32_t *nf,
                           rp_error *err)
{
    *names_out = NULL;
    *lens_out = NULL;
    *nf = 0;
    if (!pk_is(dv, "DictVectorizer"))
        return rp_error_set(
            err, RP_ERR_UNSUPPORTED,
            "expected a DictVectorizer, found %s (ridepred's rows are DictVectorizer columns)",
            pk_type_name(dv));
    const pk_value *sep = pk_attr(dv, "separator");
    if (sep && !pk_str_eq(sep, "="))
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "DictVectorizer separator must be \"=\"");
    const pk_value *dtype = pk_attr(dv, "dtype");
    if (dtype && !(dtype->type == PK_GLOBAL && !strcmp(pk_name(dtype), "float64")))
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "DictVectorizer dtype must be numpy.float64 (found %s)",
                            pk_type_name(dtype));
    const pk_value *fn = pk_attr(dv, "feature_names_");
    const pk_value *voc = pk_attr(dv, "vocabulary_");
    size_t n;
    if (fn) {
        if (fn->type != PK_LIST)
            return rp_error_set(err, RP_ERR_INVALID, "DictVectorizer.feature_names_ is not a list (found %s)",
                                pk_type_name(fn));
        n = fn->n;
    } else if (voc) {
        if (voc->type != PK_DICT)
            return rp_error_set(err, RP_ERR_INVALID, "DictVectorizer.vocabulary_ is not a dict (found %s)",
                                pk_type_name(voc));
        n = voc->n;
    } else {
        return rp_error_set(err, RP_ERR_INVALID,
                            "the DictVectorizer is not fitted (no feature_names_ or vocabulary_)");
    }
    if (n == 0 || n > RP_NODE_FEATURE_MASK)
        return rp_error_set(err, RP_ERR_INVALID, "DictVectorizer has %zu features", n);
    const char **names = calloc(n, sizeof *names);
    size_t *lens = calloc(n, sizeof *lens);
    if (!names || !lens)
        goto nomem;
    if (fn) {
        for (size_t i = 0; i < n; i++) {
            if (fn->items[i]->type != PK_STR) {
                rp_error_set(err, RP_ERR_INVALID, "DictVectorizer.feature_names_ has a non-string (found %s)",
                             pk_type_name(fn->items[i]));
                goto fail;
            }
            names[i] = fn->items[i]->s;
            lens[i] = fn->items[i]->n;
        }
    }
    if (voc) {
        if (voc->type != PK_DICT) {
            rp_error_set(err, RP_ERR_INVALID, "DictVectorizer.vocabulary_ is not a dict (found %s)",
                         pk_type_name(voc));
            goto fail;
        }
        if (voc->n != n) {
            rp_error_set(err, RP_ERR_INVALID,
                         "DictVectorizer.vocabulary_ has %zu entries for %zu feature names", voc->n, n);
            goto fail;
        }
        for (size_t i = 0; i < voc->n; i++) {
            const pk_value *k = voc->items[2 * i];
            int64_t col;
            if (k->type != PK_STR || !pk_int(voc->items[2 * i + 1], &col) || col < 0 || (uint64_t)col >= n) {
                rp_error_set(err, RP_ERR_INVALID,
                             "DictVectorizer.vocabulary_ must map strings to columns 0..%zu", n - 1);
                goto fail;
            }
            if (fn) {
                if (lens[col] != k->n || memcmp(names[col], k->s, k->n)) {
                    rp_error_set(err, RP_ERR_INVALID,
                                 "DictVectorizer.vocabulary_ and feature_names_ disagree at column %lld",
                                 (long long)col);
                    goto fail;
                }
            } else {
                if (names[col]) {
                    rp_error_set(err, RP_ERR_INVALID,
                                 "DictVectorizer.vocabulary_ maps two names to column %lld", (long long)col);
                    goto fail;
                }
                names[col] = k->s;
                lens[col] = k->n;
            }
        }
    }
    *names_out = names;
    *lens_out = lens;
    *nf = (uint32_t)n;
    return 0;
nomem:
    rp_error_set(err, RP_ERR_NOMEM, "out of memory");
fail:
    free(names);
    free(lens);
    return -1;
}

static int dict_vectorizer(conv *c, const pk_value *dv)
{
    return rp__sklearn_dv_columns(dv, &c->names, &c->lens, &c->nf, c->err);
}

/* ---- linear models -------------------------------------------------------- */

static int linear(conv *c, const pk_value *est, rp__img_src *src)
{
    const pk_value *coef = pk_attr(est, "coef_");
    if (!coef || coef->type != PK_ARRAY || !pk_dtype_numeric(coef->dtype))
        return bad(c, "the linear model has no numeric coef_ array (not fitted?)", coef);
    if (coef->count != c->nf || (coef->ndim == 2 && coef->shape[0] != 1) || coef->ndim > 2)
        return rp_error_set(c->err, RP_ERR_INVALID,
                            "coef_ has %llu values for %u features (multi-output models are not supported)",
                            (unsigned long long)coef->count, c->nf);
    c->coef = malloc(c->nf * sizeof *c->coef);
    if (!c->coef)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < c->nf; i++)
        c->coef[i] = pk_elem_f64(coef->data + (size_t)i * coef->dtype->itemsize, coef->dtype);
    const pk_value *ic = pk_attr(est, "intercept_");
    double b;
    if (ic && ic->type == PK_ARRAY && pk_dtype_numeric(ic->dtype) && ic->count == 1)
        b = pk_elem_f64(ic->data, ic->dtype);
    else if (!pk_number(ic, &b))
        return bad(c, "intercept_ is not a number", ic);
    src->kind = RP_MODEL_LINEAR;
    src->coef = c->coef;
    src->intercept = b;
    return 0;
}

/* ---- trees ---------------------------------------------------------------- */

/* One fitted DecisionTreeRegressor / ExtraTreeRegressor, leaf values times
 * `scale` when `scaled` (gradient boosting). */
static int add_tree(conv *c, const pk_value *est, bool scaled, double scale, size_t idx)
{
    if (!pk_is(est, "DecisionTreeRegressor") && !pk_is(est, "ExtraTreeRegressor"))
        return bad(c, "expected a fitted DecisionTreeRegressor", est);
    const pk_value *t = pk_attr(est, "tree_");
    if (!pk_is(t, "Tree"))
        return bad(c, "a DecisionTreeRegressor without tree_ (not fitted?)", t);
    int64_t n_outputs = 1;
    if (t->args && t->args->type == PK_TUPLE && t->args->n >= 3 && !pk_int(t->args->items[2], &n_outputs))
        return bad(c, "Tree n_outputs is not an integer", t->args->items[2]);
    if (n_outputs != 1)
        return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                            "multi-output trees are not supported (n_outputs %lld)", (long long)n_outputs);
    const pk_value *state = t->state;
    if (state && state->type == PK_TUPLE && state->n == 2)
        state = state->items[0];
    int64_t node_count;
    if (!pk_int(pk_dict_get(state, "node_count"), &node_count) || node_count <= 0 ||
        node_count > (int64_t)(UINT32_MAX / 2))
        return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: bad node_count", idx);
    const pk_value *nodes = pk_dict_get(state, "nodes"), *values = pk_dict_get(state, "values");
    if (!nodes || nodes->type != PK_ARRAY || !nodes->data || nodes->ndim != 1 ||
        nodes->count < (uint64_t)node_count)
        return rp_error_set(c->err, RP_ERR_INVALID, "tree %zu: nodes is not an array of node_count records",
                            idx);
    if (!values || values->type != PK_ARRAY || !pk_dtype_numeric(values->dtype) ||
        (values->ndim == 3 ? values->shape[1] * values->shape[2] != 1 : values->ndim != 1) ||
        values->count < (uint64_t)node_count)
        return rp_error_set(c->err, RP_ERR_INVALID,
                            "tree %zu: values is not a (node_count, 1, 1) numeric array", idx);
    uint32_t oL, oR, oF, oT;
    const pk_value *dL, *dR, *dF, *dT;
    if (!pk_dtype_field(nodes->dtype, "left_child", &oL, &dL) ||
        !pk_dtype_field(nodes->dtype, "right_child", &oR, &dR) ||
        !pk_dtype_field(nodes->dtype, "feature", &oF, &dF) ||
        !pk_dtype_field(nodes->dtype, "threshold", &oT, &dT))
        return rp_error_set(c->err, RP_ERR_INVALID,
                            "tree %zu: node records lack left_child, right_child, feature or threshold", idx);
    size_t n = (size_t)node_count;
    void *blk = malloc(n * 5 * 8);
    if (!blk)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->blocks[idx] = blk;
    int64_t *left = blk, *right = left + n, *feat = right + n;
    double *thr = (double *)(feat + n), *val = thr + n;
    size_t isz = nodes->dtype->itemsize, vsz = values->dtype->itemsize;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *rec = nodes->data + i * isz;
        left[i] = pk_elem_i64(rec + oL, dL);
        right[i] = pk_elem_i64(rec + oR, dR);
        feat[i] = pk_elem_i64(rec + oF, dF);
        thr[i] = pk_elem_f64(rec + oT, dT);
        double v = pk_elem_f64(values->data + i * vsz, values->dtype);
        val[i] = scaled ? scale * v : v;
        if (left[i] == -1 && right[i] == -1) {
            /* scikit-learn's TREE_LEAF: children -1, feature and threshold -2 */
            feat[i] = 0;
            thr[i] = 0.0;
        }
    }
    c->trees[idx] = (rp__img_tree_src){(uint32_t)n, left, right, feat, thr, val, NULL};
    return 0;
}

/* The nodes of a fitted tree estimator as its Tree declares them, or 0
 * when it is not one (add_tree then says why). */
static uint64_t tree_nodes(const pk_value *est)
{
    const pk_value *t = pk_attr(est, "tree_");
    if (!pk_is(t, "Tree"))
        return 0;
    const pk_value *state = t->state;
    if (state && state->type == PK_TUPLE && state->n == 2)
        state = state->items[0];
    int64_t n;
    const pk_value *nodes = pk_dict_get(state, "nodes");
    if (!pk_int(pk_dict_get(state, "node_count"), &n) || n <= 0 || !nodes || nodes->type != PK_ARRAY ||
        nodes->count < (uint64_t)n)
        return 0;
    return (uint64_t)n;
}

/* Counts what converting and laying out `trees` trees of `nodes` nodes in
 * all will allocate, before any of it is: a forest whose estimators_ list
 * one memoized tree 20,000 times is refused here, for the cost of the
 * pickle it is. */
static int take_trees(conv *c, size_t trees, uint64_t nodes)
{
    size_t per_node = 5 * 8 + RP_BUDGET_IMAGE_PER_NODE;
    size_t per_tree = sizeof(rp__img_tree_src) + sizeof(void *) + 4;
    size_t n = rp__budget_mul((size_t)nodes, per_node), t = rp__budget_mul(trees, per_tree);
    return rp__budget_take(c->budget, n > (size_t)-1 - t ? (size_t)-1 : n + t, c->err,
                           "%zu trees of %llu nodes in all", trees, (unsigned long long)nodes);
}

static int alloc_trees(conv *c, size_t n)
{
    if (n == 0 || n > UINT32_MAX)
        return rp_error_set(c->err, RP_ERR_INVALID, "the ensemble has %zu trees", n);
    c->trees = calloc(n, sizeof *c->trees);
    c->blocks = calloc(n, sizeof *c->blocks);
    if (!c->trees || !c->blocks)
        return rp_error_set(c->err, RP_ERR_NOMEM, "out of memory");
    c->ntrees = n;
    return 0;
}

static int forest(conv *c, const pk_value *est, rp__img_src *src)
{
    const pk_value *list = pk_attr(est, "estimators_");
    if (!list || list->type != PK_LIST)
        return bad(c, "the forest has no estimators_ list (not fitted?)", list);
    uint64_t nodes = 0;
    for (size_t i = 0; i < list->n; i++)
        nodes += tree_nodes(list->items[i]);
    if (take_trees(c, list->n, nodes) < 0 || alloc_trees(c, list->n) < 0)
        return -1;
    for (size_t i = 0; i < list->n; i++)
        if (add_tree(c, list->items[i], false, 1.0, i) < 0)
            return -1;
    src->kind = RP_MODEL_TREES;
    src->combine = RP_COMBINE_MEAN;
    src->base = 0.0;
    return 0;
}

static int boosting(conv *c, const pk_value *est, rp__img_src *src)
{
    const pk_value *loss = pk_attr(est, "loss");
    static const char *const ok_losses[] = {"squared_error", "ls",    "absolute_error",
                                            "lad",           "huber", "quantile"};
    if (loss) {
        bool ok = false;
        for (size_t i = 0; i < sizeof ok_losses / sizeof ok_losses[0]; i++)
            ok = ok || pk_str_eq(loss, ok_losses[i]);
        if (!ok)
            return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                                "GradientBoostingRegressor loss %.*s is not supported",
                                loss->type == PK_STR ? (int)(loss->n > 40 ? 40 : loss->n) : 1,
                                loss->type == PK_STR ? loss->s : "?");
    }
    double lr;
    if (!pk_number(pk_attr(est, "learning_rate"), &lr))
        return bad(c, "GradientBoostingRegressor.learning_rate is not a number",
                   pk_attr(est, "learning_rate"));
    const pk_value *init = pk_attr(est, "init_");
    double base;
    if (pk_str_eq(init, "zero")) {
        base = 0.0;
    } else if (pk_is(init, "DummyRegressor")) {
        const pk_value *k = pk_attr(init, "constant_");
        if (k && k->type == PK_ARRAY && pk_dtype_numeric(k->dtype) && k->count == 1)
            base = pk_elem_f64(k->data, k->dtype);
        else if (!pk_number(k, &base))
            return bad(c, "DummyRegressor.constant_ is not a single number", k);
    } else {
        return rp_error_set(c->err, RP_ERR_UNSUPPORTED,
                            "GradientBoostingRegressor init_ must be a DummyRegressor or 'zero' (found %s)",
                            pk_type_name(init));
    }
    const pk_value *arr = pk_attr(est, "estimators_");
    if (!arr || arr->type != PK_ARRAY || !arr->dtype || arr->dtype->kind != 'O' || arr->ndim != 2 ||
        arr->shape[1] != 1)
        return bad(c, "GradientBoostingRegressor.estimators_ is not an (n, 1) object array (not fitted?)",
                   arr);
    uint64_t nodes = 0;
    for (size_t i = 0; i < arr->count; i++)
        nodes += tree_nodes(pk_array_item(arr, i));
    if (take_trees(c, (size_t)arr->count, nodes) < 0 || alloc_trees(c, (size_t)arr->count) < 0)
        return -1;
    for (size_t i = 0; i < arr->count; i++) {
        const pk_value *t = pk_array_item(arr, i);
        if (!t)
            return rp_error_set(c->err, RP_ERR_INVALID, "GradientBoostingRegressor.estimators_ is damaged");
        if (add_tree(c, t, true, lr, i) < 0)
            return -1;
    }
    src->kind = RP_MODEL_TREES;
    src->combine = RP_COMBINE_SUM;
    src->base = base;
    return 0;
}

static int estimator(conv *c, const pk_value *est, rp__img_src *src)
{
    if (pk_is(est, "LinearRegression") || pk_is(est, "Ridge") || pk_is(est, "Lasso") ||
        pk_is(est, "ElasticNet"))
        return linear(c, est, src);
    if (pk_is(est, "DecisionTreeRegressor") || pk_is(est, "ExtraTreeRegressor")) {
        if (take_trees(c, 1, tree_nodes(est)) < 0 || alloc_trees(c, 1) < 0 ||
            add_tree(c, est, false, 1.0, 0) < 0)
            return -1;
        src->kind = RP_MODEL_TREES;
        src->combine = RP_COMBINE_SUM;
        src->base = 0.0;
        return 0;
    }
    if (pk_is(est, "RandomForestRegressor") || pk_is(est, "ExtraTreesRegressor"))
        return forest(c, est, src);
    if (pk_is(est, "GradientBoostingRegressor"))
        return boosting(c, est, src);
    return rp_error_set(
        c->err, RP_ERR_UNSUPPORTED,
        "%s is not a regressor ridepred serves (LinearRegression, Ridge, Lasso, ElasticNet, DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor, GradientBoostingRegressor)",
        pk_type_name(est));
}

static int convert(conv *c, const pk_value *root, rp__img_src *src)
{
    const pk_value *dv = NULL, *est = NULL;
    if (pk_is(root, "Pipeline")) {
        const pk_value *steps = pk_attr(root, "steps");
        if (!steps || (steps->type != PK_LIST && steps->type != PK_TUPLE))
            return bad(c, "Pipeline.steps is not a list", steps);
        if (steps->n != 2)
            return rp_error_set(
                c->err, RP_ERR_UNSUPPORTED,
                "a Pipeline of %zu steps: ridepred serves Pipeline(DictVectorizer, regressor)", steps->n);
        for (size_t i = 0; i < 2; i++) {
            const pk_value *s = steps->items[i];
            if (s->type != PK_TUPLE || s->n != 2)
                return bad(c, "a Pipeline step is not a (name, estimator) tuple", s);
        }
        dv = steps->items[0]->items[1];
        est = steps->items[1]->items[1];
    } else if (root->type == PK_TUPLE && root->n == 2) {
        dv = root->items[0];
        est = root->items[1];
    } else if (root->type == PK_OBJECT) {
        return rp_error_set(
            c->err, RP_ERR_UNSUPPORTED,
            "the pickle holds a bare %s: ridepred serves a Pipeline(DictVectorizer, regressor) or a (DictVectorizer, regressor) tuple",
            pk_type_name(root));
    } else {
        return rp_error_set(
            c->err, RP_ERR_UNSUPPORTED,
            "the pickle holds a %s: ridepred serves a Pipeline(DictVectorizer, regressor) or a (DictVectorizer, regressor) tuple",
            pk_type_name(root));
    }
    c->root = root;
    c->dv = dv;
    c->est = est;
    if (dict_vectorizer(c, dv) < 0)
        return -1;
    src->n_features = c->nf;
    src->feature_names = c->names;
    src->feature_lens = c->lens;
    if (estimator(c, est, src) < 0)
        return -1;
    src->split = RP_SPLIT_LE;
    src->n_trees = (uint32_t)c->ntrees;
    src->trees = c->trees;
    return 0;
}

/* "module.Name" of an object, or its Python type name. */
static void class_name(rp__buf *b, const pk_value *v)
{
    const char *mod = v && (v->type == PK_OBJECT || v->type == PK_GLOBAL) ? pk_module(v) : NULL;
    rp__buf tmp;
    rp__buf_init(&tmp, 1024);
    if (mod)
        rp__buf_printf(&tmp, "%s.%s", mod, pk_name(v));
    else
        rp__buf_puts(&tmp, pk_type_name(v));
    rp__pyjson_utf8(b, tmp.data ? tmp.data : "", tmp.len);
    rp__buf_cleanup(&tmp);
}

/* The model's source: container members, the pickle, the classes and the
 * scikit-learn version the estimator was pickled with. */
static void describe(const conv *c, const pk_graph *g, const rp__sklearn_opts *opts, size_t len, rp__buf *b)
{
    rp__img_source_members(b, opts ? opts->origin : NULL);
    rp__img_source_str(b, "file", opts ? opts->file : NULL);
    rp__img_source_str(b, "serialization", "pickle");
    rp__img_source_int(b, "pickle_protocol", g->protocol);
    rp__img_source_int(b, "file_bytes", (long long)len);
    rp__img_source_members(b, "\"classes\": [");
    if (c->root && c->root->type == PK_OBJECT) {
        class_name(b, c->root);
        rp__buf_puts(b, ", ");
    }
    class_name(b, c->dv);
    rp__buf_puts(b, ", ");
    class_name(b, c->est);
    rp__buf_putc(b, ']');
    const pk_value *ver = pk_attr(c->est, "_sklearn_version");
    if (!ver || ver->type != PK_STR)
        ver = pk_attr(c->dv, "_sklearn_version");
    if (ver && ver->type == PK_STR)
        rp__img_source_strn(b, "sklearn_version", ver->s, ver->n);
    if (c->ntrees)
        rp__img_source_int(b, "estimators", (long long)c->ntrees);
    rp__img_source_end(b);
}

int rp__sklearn_from_pickle(const void *data, size_t len, const rp__sklearn_opts *opts, rp_model **out,
                            rp_error *err)
{
    pk_graph g;
    conv c;
    memset(&c, 0, sizeof c);
    c.err = err;
    rp__model_budget budget;
    rp__budget_init(&budget, opts ? opts->max_build_bytes : 0, len);
    c.budget = &budget;
    int rc = -1;
    if (pk_load_budget(data, len, &budget, &g, err) < 0)
        goto done;
    rp__img_src src;
    memset(&src, 0, sizeof src);
    src.name = "";
    src.version = opts && opts->version ? opts->version : "";
    src.version_len = strlen(src.version);
    if (convert(&c, g.root, &src) < 0) {
        rp_error_prefix(err, "scikit-learn model");
        goto done;
    }
    rp__buf source;
    rp__buf_init(&source, RP_IMG_SOURCE_MAX);
    describe(&c, &g, opts, len, &source);
    src.source = source.data;
    src.source_len = source.len;
    rc = rp__model_build(&src, opts && opts->format ? opts->format : "pickle", out, err);
    rp__buf_cleanup(&source);
    if (rc < 0)
        rp_error_prefix(err, "scikit-learn model");
done:
    conv_free(&c);
    pk_free(&g);
    return rc;
}

int rp__sklearn_load_file(const char *path, const rp__sklearn_opts *opts, rp_model **out, rp_error *err)
{
    unsigned char *buf;
    size_t size;
    if (rp__file_read(path, RP_PICKLE_MAX_FILE, &buf, &size, err) < 0)
        return -1;
    rp__sklearn_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.file)
        o.file = rp__file_basename(path);
    int rc = rp__sklearn_from_pickle(buf, size, &o, out, err);
    free(buf);
    if (rc < 0)
        rp_error_prefix(err, "model %s", path);
    return rc;
}
