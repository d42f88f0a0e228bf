/* Gradient-boosted trees through libxgboost's C API (see xgb.h). */
#include "pipeline/xgb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "model/xgboost.h"
#include "model/xgboost_lib.h"

/* ---- the library (src/model/xgboost_lib.h), loaded on first use ---- */

static const rp__xgb_lib *X;

static int api(rp_error *err)
{
    /* rp__xgb_lib_load is thread-safe and returns the same table each time. */
    const rp__xgb_lib *x = rp__xgb_lib_load(err);
    if (!x)
        return -1;
    X = x;
    return 0;
}

static int xerr(rp_error *err, const char *what)
{
    const char *m = X && X->GetLastError ? X->GetLastError() : NULL;
    return rp_error_set(err, RP_ERR_INVALID, "XGBoost %s: %s", what, m && m[0] ? m : "failed");
}

/* ---- parameters ---- */

typedef enum {
    P_INT,
    P_POS,
    P_NONNEG,
    P_FRAC,
    P_REAL,
    P_CHOICE
} ptype;

typedef struct pspec {
    const char *key;
    ptype type;
    const char *choices; /* P_CHOICE: "a|b|c" */
    const char *dflt;    /* NULL: XGBoost's own default */
} pspec;

/* The known booster parameters and their defaults (see xgb.h). */
static const pspec specs[] = {
    {"max_depth", P_INT, NULL, RP_XGB_DEFAULT_MAX_DEPTH},
    {"learning_rate", P_POS, NULL, RP_XGB_DEFAULT_LEARNING_RATE},
    {"reg_alpha", P_NONNEG, NULL, "0.018060244040060163"},
    {"reg_lambda", P_NONNEG, NULL, "0.011658731377413597"},
    {"min_child_weight", P_NONNEG, NULL, "1.060597050922164"},
    {"tree_method", P_CHOICE, "exact|approx|hist|auto", RP_XGB_DEFAULT_TREE_METHOD},
    {"objective", P_CHOICE, "reg:squarederror|reg:linear", "reg:squarederror"},
    {"gamma", P_NONNEG, NULL, NULL},
    {"subsample", P_FRAC, NULL, NULL},
    {"colsample_bytree", P_FRAC, NULL, NULL},
    {"colsample_bylevel", P_FRAC, NULL, NULL},
    {"colsample_bynode", P_FRAC, NULL, NULL},
    {"max_delta_step", P_NONNEG, NULL, NULL},
    {"max_bin", P_INT, NULL, NULL},
    {"max_leaves", P_INT, NULL, NULL},
    {"grow_policy", P_CHOICE, "depthwise|lossguide", NULL},
    {"base_score", P_REAL, NULL, NULL},
};
#define N_SPECS (sizeof specs / sizeof specs[0])
_Static_assert(N_SPECS <= RP_XGB_MAX_PARAMS, "rp__xgb_params.value is too small");

/* Aliases XGBoost also accepts, mapped to the names above. */
static const char *canonical(const char *key)
{
    if (!strcmp(key, "eta"))
        return "learning_rate";
    if (!strcmp(key, "alpha"))
        return "reg_alpha";
    if (!strcmp(key, "lambda"))
        return "reg_lambda";
    if (!strcmp(key, "min_split_loss"))
        return "gamma";
    return key;
}

static int check_value(const pspec *s, const char *v, rp_error *err)
{
    if (s->type == P_CHOICE) {
        size_t n = strlen(v);
        for (const char *p = s->choices; *p;) {
            const char *e = strchr(p, '|');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == n && !memcmp(p, v, n))
                return 0;
            p += l + (e ? 1 : 0);
        }
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected one of %s", s->key, v, s->choices);
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d))
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected a number", s->key, v);
    switch (s->type) {
    case P_INT:
        if (d != floor(d) || d < 0 || d > 1e9)
            return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected a non-negative integer", s->key,
                                v);
        break;
    case P_POS:
        if (!(d > 0))
            return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected a number > 0", s->key, v);
        break;
    case P_NONNEG:
        if (!(d >= 0))
            return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected a number >= 0", s->key, v);
        break;
    case P_FRAC:
        if (!(d > 0 && d <= 1))
            return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected a number in (0, 1]", s->key, v);
        break;
    default: break;
    }
    return 0;
}

static int parse_count(const char *key, const char *v, long min, long max, long *out, rp_error *err)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < min || n > max)
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected an integer from %ld to %ld", key, v,
                            min, max);
    *out = n;
    return 0;
}

int rp__xgb_params_resolve(const rp__train_param *params, size_t n, rp__xgb_params *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    out->num_boost_round = RP_XGB_DEFAULT_ROUNDS;
    out->early_stopping_rounds = 50;
    for (size_t i = 0; i < N_SPECS; i++)
        out->value[i] = specs[i].dflt;
    for (size_t i = 0; i < n; i++) {
        const char *key = canonical(params[i].key), *v = params[i].value;
        long l;
        if (!strcmp(key, "num_boost_round") || !strcmp(key, "n_estimators")) {
            if (parse_count(params[i].key, v, 1, 100000, &l, err) < 0)
                return -1;
            out->num_boost_round = (int)l;
            continue;
        }
        if (!strcmp(key, "early_stopping_rounds")) {
            if (parse_count(params[i].key, v, 0, 100000, &l, err) < 0)
                return -1;
            out->early_stopping_rounds = (int)l;
            continue;
        }
        size_t j = 0;
        while (j < N_SPECS && strcmp(specs[j].key, key))
            j++;
        if (j == N_SPECS) {
            char known[600];
            size_t k = (size_t)snprintf(known, sizeof known, "num_boost_round, early_stopping_rounds");
            for (size_t q = 0; q < N_SPECS && k < sizeof known; q++)
                k += (size_t)snprintf(known + k, sizeof known - k, ", %s", specs[q].key);
            return rp_error_set(
                err, RP_ERR_INVALID,
                "--param %s: not a parameter of --algo xgboost (known: %s; seed and threads are --seed and --threads)",
                params[i].key, known);
        }
        if (check_value(&specs[j], v, err) < 0)
            return -1;
        out->value[j] = v;
    }
    return 0;
}

void rp__xgb_params_json(const rp__xgb_params *p, rp__buf *b)
{
    rp__buf_printf(b, "\"num_boost_round\": %d, \"early_stopping_rounds\": %d", p->num_boost_round,
                   p->early_stopping_rounds);
    for (size_t i = 0; i < N_SPECS; i++)
        if (p->value[i]) {
            char *end;
            double d = strtod(p->value[i], &end);
            bool num = specs[i].type != P_CHOICE && end != p->value[i] && !*end && isfinite(d);
            if (num)
                rp__buf_printf(b, ", \"%s\": %s", specs[i].key, p->value[i]);
            else
                rp__buf_printf(b, ", \"%s\": \"%s\"", specs[i].key, p->value[i]);
        }
}

/* ---- training ---- */

/* The CSR of a set: one row per ride, only the present entries (an absent
 * one-hot is missing for XGBoost, as in the course's sparse DMatrix). */
static int dmatrix(const rp__train_set *s, uint32_t ncol, rp__xgb_handle *out, rp_error *err)
{
    size_t n = s->n;
    size_t *indptr = malloc((n + 1) * sizeof *indptr);
    unsigned *indices = malloc(2 * n * sizeof *indices);
    float *data = malloc(2 * n * sizeof *data), *label = malloc((n ? n : 1) * sizeof *label);
    int rc = -1;
    if (!indptr || !indices || !data || !label) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the XGBoost matrix");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        indptr[i] = k;
        if (s->cat[i] != RP_TRAIN_NO_CAT) {
            indices[k] = s->cat[i];
            data[k++] = 1.0f;
        }
        indices[k] = ncol - 1;
        data[k++] = (float)s->x[i];
        label[i] = (float)s->y[i];
    }
    indptr[n] = k;
    if (X->CreateFromCSREx(indptr, indices, data, n + 1, k, ncol, out) != 0) {
        xerr(err, "cannot build the DMatrix");
        goto out;
    }
    if (X->SetFloatInfo(*out, "label", label, n) != 0) {
        xerr(err, "cannot set the labels");
        X->DMatrixFree(*out);
        *out = NULL;
        goto out;
    }
    rc = 0;
out:
    free(indptr);
    free(indices);
    free(data);
    free(label);
    return rc;
}

/* "[3]\ttrain-rmse:1.5\tval-rmse:2.5" -> the value after name + "-rmse:". */
static int eval_value(const char *text, const char *name, double *out)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\t%s-rmse:", name);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? -1 : 0;
}

void rp__xgb_result_free(rp__xgb_result *r)
{
    if (!r)
        return;
    rp_model_release(r->model);
    free(r->json);
    memset(r, 0, sizeof *r);
}

int rp__train_xgboost(const rp__train_set *tr, const rp__train_set *va, const rp__vocab *v,
                      const rp__xgb_params *p, const rp__train_opts *o, rp__xgb_result *res, rp_error *err)
{
    memset(res, 0, sizeof *res);
    if (tr->n == 0)
        return rp_error_set(err, RP_ERR_INVALID, "no training rides");
    if (api(err) < 0)
        return -1;
    uint32_t ncol = v->n + 1;
    rp__xgb_handle dtr = NULL, dva = NULL;
    rp__xgb_handle b = NULL, best = NULL;
    const char **names = NULL;
    size_t *lens = NULL;
    int rc = -1;
    if (dmatrix(tr, ncol, &dtr, err) < 0 || (va->n && dmatrix(va, ncol, &dva, err) < 0))
        goto out;
    rp__xgb_handle mats[2] = {dtr, dva};
    if (X->BoosterCreate(mats, dva ? 2 : 1, &b) != 0) {
        xerr(err, "cannot create the booster");
        goto out;
    }
    char buf[64];
    unsigned threads = o && o->threads ? o->threads : 0;
    if (!threads) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    snprintf(buf, sizeof buf, "%u", threads);
    if (X->SetParam(b, "nthread", buf) != 0 || X->SetParam(b, "verbosity", "1") != 0)
        goto param_fail;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(o ? o->seed : 0));
    if (X->SetParam(b, "seed", buf) != 0)
        goto param_fail;
    for (size_t i = 0; i < N_SPECS; i++)
        if (p->value[i] && X->SetParam(b, specs[i].key, p->value[i]) != 0)
            goto param_fail;

    double best_score = INFINITY;
    int best_iter = -1, rounds = 0;
    for (int it = 0; it < p->num_boost_round; it++) {
        if (X->UpdateOneIter(b, it, dtr) != 0) {
            xerr(err, "training failed");
            goto out;
        }
        rounds = it + 1;
        if (dva) {
            const char *evname[1] = {"val"};
            const char *text = NULL;
            rp__xgb_handle ev[1] = {dva};
            double score;
            if (X->EvalOneIter(b, it, ev, evname, 1, &text) != 0) {
                xerr(err, "evaluation failed");
                goto out;
            }
            if (!text || eval_value(text, "val", &score) < 0) {
                rp_error_set(err, RP_ERR_INTERNAL, "XGBoost evaluation answered \"%.80s\": no val-rmse",
                             text ? text : "");
                goto out;
            }
            /* xgboost.callback.EarlyStopping: a strictly better score. */
            if (score < best_score) {
                best_score = score;
                best_iter = it;
            }
        } else {
            best_iter = it;
        }
        if (o && o->progress)
            o->progress(o->progress_ctx, "rounds", (size_t)rounds, (size_t)p->num_boost_round);
        if (dva && p->early_stopping_rounds && it - best_iter >= p->early_stopping_rounds)
            break;
    }
    res->rounds = rounds;
    res->best_iteration = best_iter;
    res->best_score = best_score;
    /* Keep the trees of rounds [0, best_iter]. */
    rp__xgb_handle keep = b;
    if (best_iter + 1 < rounds) {
        if (X->Slice(b, 0, best_iter + 1, 1, &best) != 0) {
            xerr(err, "cannot keep the best rounds");
            goto out;
        }
        keep = best;
    }
    rp__xgb_ulong jlen = 0;
    const char *jdata = NULL;
    if (X->SaveToBuffer(keep, "{\"format\": \"json\"}", &jlen, &jdata) != 0) {
        xerr(err, "cannot save the model");
        goto out;
    }
    res->json = malloc(jlen + 1);
    if (!res->json) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the XGBoost model");
        goto out;
    }
    memcpy(res->json, jdata, jlen);
    res->json[jlen] = '\0';
    res->json_len = jlen;
    /* Convert with the project's reader, our vocabulary as the names. */
    names = malloc((size_t)ncol * sizeof *names);
    lens = malloc((size_t)ncol * sizeof *lens);
    if (!names || !lens) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < v->n; i++) {
        names[i] = v->text + v->off[i];
        lens[i] = v->len[i];
    }
    names[v->n] = "trip_distance";
    lens[v->n] = strlen("trip_distance");
    rp__xgb_opts xo = {.version = o ? o->version : NULL,
                       .format = "native",
                       .n_features = ncol,
                       .feature_names = names,
                       .feature_lens = lens};
    if (rp__xgb_from_buffer(res->json, res->json_len, &xo, &res->model, err) < 0) {
        rp_error_prefix(err, "converting the trained booster");
        goto out;
    }
    int maj = 0, min = 0, pat = 0;
    X->Version(&maj, &min, &pat);
    snprintf(res->xgb_version, sizeof res->xgb_version, "%d.%d.%d", maj, min, pat);
    rc = 0;
    goto out;
param_fail:
    xerr(err, "refused a parameter");
out:
    if (best)
        X->BoosterFree(best);
    if (b)
        X->BoosterFree(b);
    if (dtr)
        X->DMatrixFree(dtr);
    if (dva)
        X->DMatrixFree(dva);
    free(names);
    free(lens);
    if (rc < 0)
        rp__xgb_result_free(res);
    return rc;
}
