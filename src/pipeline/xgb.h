/* Gradient-boosted trees through libxgboost's C API (docs/train.md).
 *
 * libxgboost is loaded with dlopen on first use (src/common/dl.h), never
 * linked: other commands do not pay for it.  The rides become a CSR
 * DMatrix with only the present entries (an absent one-hot column is
 * "missing" for XGBoost, as in the course's sparse DMatrix), rounds run
 * with early stopping on the validation set (xgboost.train's
 * early_stopping_rounds), the best rounds are kept (XGBoosterSlice), and the
 * booster is saved as JSON and converted by the project's XGBoost reader
 * (src/model/xgboost.c) with the vocabulary as feature names. */
#ifndef RP_TRAIN_XGB_H
#define RP_TRAIN_XGB_H

#include <stddef.h>

#include "common/buf.h"
#include "pipeline/train.h"

/* Defaults (docs/train.md): the course's week-2 regularisation
 * (reg_alpha, reg_lambda, min_child_weight) with a shallower, faster
 * schedule: its max_depth 30 / learning_rate 0.0958 / exact method takes
 * well over ten minutes on two cores; these reach a validation RMSE of
 * 6.38 on 2021-02 in under 30 s. */
#define RP_XGB_DEFAULT_MAX_DEPTH "16"
#define RP_XGB_DEFAULT_LEARNING_RATE "0.3"
#define RP_XGB_DEFAULT_TREE_METHOD "hist"
#define RP_XGB_DEFAULT_ROUNDS 300
#define RP_XGB_DEFAULT_ROUNDS_S "300"

#define RP_XGB_MAX_PARAMS 32

typedef struct rp__xgb_params {
    int num_boost_round;
    int early_stopping_rounds;            /* 0: none */
    const char *value[RP_XGB_MAX_PARAMS]; /* per known booster parameter; NULL: XGBoost's default */
} rp__xgb_params;

/* Applies --param KEY=VALUE over the defaults; refuses unknown keys and bad
 * values naming them. */
int rp__xgb_params_resolve(const rp__train_param *params, size_t n, rp__xgb_params *out, rp_error *err);

/* Appends the effective parameters as JSON members ("k": v, ...). */
void rp__xgb_params_json(const rp__xgb_params *p, rp__buf *b);

typedef struct rp__xgb_result {
    rp_model *model; /* the converted booster (a reference) */
    char *json;      /* the booster as XGBoost saved it (JSON) */
    size_t json_len;
    int rounds;         /* rounds trained */
    int best_iteration; /* 0-based; the model keeps rounds [0, best_iteration] */
    double best_score;  /* validation RMSE XGBoost reported for it */
    char xgb_version[32];
} rp__xgb_result;

int rp__train_xgboost(const rp__train_set *tr, const rp__train_set *va, const rp__vocab *v,
                      const rp__xgb_params *p, const rp__train_opts *o, rp__xgb_result *res, rp_error *err);
void rp__xgb_result_free(rp__xgb_result *r);

#endif
