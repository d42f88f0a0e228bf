/* Fitted models -> model images (rp__img_build), and their evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/image.h"
#include "model/model.h"
#include "pipeline/train.h"

/* Column names: the vocabulary, then trip_distance. */
static int names(const rp__vocab *v, const char ***out, size_t **lens, rp_error *err)
{
    size_t p = (size_t)v->n + 1;
    *out = malloc(p * sizeof **out);
    *lens = malloc(p * sizeof **lens);
    if (!*out || !*lens) {
        free(*out);
        free(*lens);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < v->n; i++) {
        (*out)[i] = v->text + v->off[i];
        (*lens)[i] = v->len[i];
    }
    (*out)[v->n] = "trip_distance";
    (*lens)[v->n] = strlen("trip_distance");
    return 0;
}

static int build(rp__img_src *src, const rp__vocab *v, const rp__train_opts *o, rp_model **out, rp_error *err)
{
    const char **nm = NULL;
    size_t *lens = NULL;
    if (names(v, &nm, &lens, err) < 0)
        return -1;
    src->name = o && o->name ? o->name : "";
    src->name_len = strlen(src->name);
    src->version = o && o->version ? o->version : "";
    src->version_len = strlen(src->version);
    src->n_features = v->n + 1;
    src->feature_names = nm;
    src->feature_lens = lens;
    int rc = rp__model_build(src, "native", out, err);
    free(nm);
    free(lens);
    return rc;
}

int rp__train_linear_model(const rp__vocab *v, const rp__linear_fit *f, const rp__train_opts *o,
                           rp_model **out, rp_error *err)
{
    rp__img_src src;
    memset(&src, 0, sizeof src);
    src.kind = RP_MODEL_LINEAR;
    src.coef = f->coef;
    src.intercept = f->intercept;
    return build(&src, v, o, out, err);
}

int rp__train_forest_model(const rp__vocab *v, const rp__forest *f, const rp__train_opts *o, rp_model **out,
                           rp_error *err)
{
    rp__img_tree_src *trees = calloc(f->n_trees ? f->n_trees : 1, sizeof *trees);
    if (!trees)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const rp__forest_tree *ft = &f->trees[t];
        trees[t] = (rp__img_tree_src){.n = ft->n,
                                      .left = ft->left,
                                      .right = ft->right,
                                      .feature = ft->feature,
                                      .threshold = ft->threshold,
                                      .value = ft->value,
                                      .default_left = NULL};
    }
    rp__img_src src;
    memset(&src, 0, sizeof src);
    src.kind = RP_MODEL_TREES;
    src.combine = RP_COMBINE_MEAN;
    src.split = RP_SPLIT_LE;
    src.base = 0.0;
    src.n_trees = f->n_trees;
    src.trees = trees;
    int rc = build(&src, v, o, out, err);
    free(trees);
    return rc;
}

int rp__train_predict(const rp_model *m, const rp__train_set *s, double *pred, rp_error *err)
{
    int32_t xcol = rp_model_trip_distance(m);
    if (xcol < 0)
        return rp_error_set(err, RP_ERR_INTERNAL, "the model has no trip_distance column");
    enum {
        CHUNK = 1024
    };
    rp_row rows[CHUNK];
    rp_code status[CHUNK];
    for (size_t i = 0; i < s->n; i += CHUNK) {
        size_t k = s->n - i < CHUNK ? s->n - i : CHUNK;
        for (size_t j = 0; j < k; j++) {
            rp_row *r = &rows[j];
            r->n = 0;
            if (s->cat[i + j] != RP_TRAIN_NO_CAT) {
                r->idx[r->n] = s->cat[i + j];
                r->val[r->n++] = 1.0;
            }
            r->idx[r->n] = (uint32_t)xcol;
            r->val[r->n++] = s->x[i + j];
        }
        rp_model_predict_batch(m, rows, k, pred + i, status);
        for (size_t j = 0; j < k; j++)
            if (status[j] != RP_OK)
                return rp_error_set(err, status[j], "ride %zu: %s", i + j,
                                    rp_model_status_message(status[j]));
    }
    return 0;
}

double rp__train_rmse(const rp__train_set *s, const double *pred)
{
    if (!s->n)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        double d = pred[i] - s->y[i];
        sum += d * d;
    }
    return sqrt(sum / (double)s->n);
}
