/* XGBoost models → ridepred models (docs/models.md, "XGBoost").
 *
 * Reads the model schema of XGBoost >= 1.0 saved as JSON or UBJSON
 * (Booster.save_model("model.json" / "model.ubj")): a gbtree booster with a
 * regression objective (reg:squarederror, reg:linear), converted to the
 * native image: split "lt", per-node default_left (an absent feature is
 * missing for XGBoost), combine "sum" from base_score, accumulated in
 * float32 as XGBoost's predictor does.  The legacy binary format is
 * converted to JSON by libxgboost (xgboost_lib.h), loaded only then.
 *
 * Feature names come from a DictVectorizer pickled separately (the course's
 * preprocessor.b) or, failing that, from the model's feature_names. */
#ifndef RP_MODEL_XGBOOST_H
#define RP_MODEL_XGBOOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/model.h"

/* Model files over this size are refused. */
#define RP_XGB_MAX_FILE ((size_t)1 << 30)
/* Nesting deeper than this is refused. */
#define RP_XGB_MAX_DEPTH 64

typedef struct rp__xgb_opts {
    const char *version; /* the model's version (e.g. an MLflow run id); may be NULL */
    const char *format;  /* rp_model_info.format: "xgboost" when NULL */
    const char *file;    /* the file's name, for the model's source; may be NULL */
    /* Members about the container (JSON text without braces) put first in
     * the model's source; may be NULL. */
    const char *origin;
    bool legacy; /* the bytes are JSON converted from the legacy format */
    /* Column names from a preprocessor (DictVectorizer), or n_features 0. */
    uint32_t n_features;
    const char *const *feature_names;
    const size_t *feature_lens;
    /* rp_model_load_opts.max_build_bytes (0: the default budget). */
    size_t max_build_bytes;
} rp__xgb_opts;

/* What the bytes look like. */
typedef enum rp__xgb_kind {
    RP_XGB_NOT = 0, /* not recognisably XGBoost */
    RP_XGB_JSON,    /* a JSON document whose top level has "learner" */
    RP_XGB_UBJSON,  /* '{' followed by a UBJSON marker */
    RP_XGB_LEGACY   /* the legacy binary format ("binf" magic) */
} rp__xgb_kind;

rp__xgb_kind rp__xgb_sniff(const void *data, size_t len);

/* Builds a model from the bytes of an XGBoost JSON or UBJSON model. */
int rp__xgb_from_buffer(const void *data, size_t len, const rp__xgb_opts *opts, rp_model **out,
                        rp_error *err);

/* Reads an XGBoost model file (at most RP_XGB_MAX_FILE bytes). */
int rp__xgb_load_file(const char *path, const rp__xgb_opts *opts, rp_model **out, rp_error *err);

/* Parses UBJSON (or JSON when json is true) and discards it: for tests and
 * fuzzing of the readers alone. */
int rp__xgb_parse_only(const void *data, size_t len, bool json, rp_error *err);

#endif
