/* ridepred: ride-duration models (docs/model-format.md, docs/models.md).
 *
 * A model maps a sparse feature row (DictVectorizer columns) to a duration.
 * Whatever its source (the JSON interchange format ridepred.model/1 or the
 * native binary format), a loaded model is the same immutable image: the
 * native layout of docs/model-format.md, mmap'd from a file or built in
 * memory.  It is shared between threads and refcounted; prediction never
 * allocates. */
#ifndef RIDEPRED_MODEL_H
#define RIDEPRED_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_model rp_model;

typedef enum rp_model_kind {
    RP_MODEL_LINEAR = 1,
    RP_MODEL_TREES = 2
} rp_model_kind;
typedef enum rp_model_combine {
    RP_COMBINE_SUM = 0,
    RP_COMBINE_MEAN = 1
} rp_model_combine;
typedef enum rp_model_split {
    RP_SPLIT_LE = 0,
    RP_SPLIT_LT = 1
} rp_model_split;

typedef struct rp_model_load_opts {
    /* Verify the payload checksum of a native file at load (default true:
     * it costs one pass over the file; structure is bounds-checked either
     * way). */
    bool verify_checksum;
    /* The most memory, in bytes, that loading may build from a model it
     * converts (a scikit-learn pickle, an XGBoost JSON or UBJSON model):
     * the unpickled or parsed document, the converted trees and the native
     * image, counted before they are allocated.  0: the default,
     * RP_MODEL_BUILD_RATIO times the file's size plus RP_MODEL_BUILD_BASE,
     * at most RP_MODEL_BUILD_MAX.  A model over it is refused (RP_ERR_LIMIT,
     * the message names the limit and how to raise it).  The command line
     * sets it from --max-model-bytes or RIDEPRED_MAX_MODEL_BYTES.  Native
     * and ridepred.model/1 JSON files are not converted this way (no
     * references, no declared counts) and are bounded by their size. */
    size_t max_build_bytes;
} rp_model_load_opts;

/* The default build budget (rp_model_load_opts.max_build_bytes 0).  A
 * scikit-learn or XGBoost model builds 2 to 8 times its file's size, up to
 * about 20 times for a pickle that is mostly a DictVectorizer; a file that
 * would build more than RATIO times its size describes more than it holds
 * (memo references, declared counts). */
#define RP_MODEL_BUILD_RATIO 32u
#define RP_MODEL_BUILD_BASE ((size_t)64 << 20)
#define RP_MODEL_BUILD_MAX ((size_t)4 << 30)

/* Loads a model file, native (recognised by its magic) or JSON.  On
 * success *out holds a new reference (release it).  opts may be NULL. */
int rp_model_load(const char *path, const rp_model_load_opts *opts, rp_model **out, rp_error *err);

/* The course's week-2 layout: an XGBoost booster (a JSON or UBJSON model
 * file, or an MLflow directory with the xgboost flavor) whose columns are
 * those of a DictVectorizer pickled separately (`preprocessor.b`).  The
 * version is the model's version (NULL: none; for an MLflow directory, its
 * run_id).  Anything but an XGBoost booster is refused. */
int rp_model_load_preprocessed(const char *path, const char *preprocessor, const rp_model_load_opts *opts,
                               const char *version, rp_model **out, rp_error *err);

/* Builds a model from a ridepred.model/1 JSON document in memory. */
int rp_model_from_json(const char *json, size_t len, rp_model **out, rp_error *err);

/* Opens a native image in memory.  The bytes are copied when `copy` is
 * true; otherwise they must outlive the model. */
int rp_model_from_native(const void *data, size_t len, bool copy, const rp_model_load_opts *opts,
                         rp_model **out, rp_error *err);

/* Writes the model in the native format (atomically: a temporary file then
 * rename). */
int rp_model_write_native(const rp_model *m, const char *path, rp_error *err);

rp_model *rp_model_retain(rp_model *m);
void rp_model_release(rp_model *m);

/* A sparse feature row in insertion order (the order the reference's
 * feature dict has: PU_DO first, then trip_distance).  The order matters:
 * linear models sum the entries in it, as scipy's CSR product does. */
#define RP_ROW_MAX 4
typedef struct rp_row {
    int n;
    uint32_t idx[RP_ROW_MAX];
    double val[RP_ROW_MAX];
} rp_row;

/* The column of a one-hot feature named exactly `name` ("PU_DO=130_205"),
 * or -1.  O(1). */
int32_t rp_model_onehot(const rp_model *m, const char *name, size_t len);

/* The column of the numeric feature trip_distance, or -1. */
int32_t rp_model_trip_distance(const rp_model *m);

/* Predicts.  Fails (RP_ERR_INVALID) for a value that a tree model cannot
 * take (beyond float32 range, as scikit-learn refuses), or RP_ERR_CORRUPT
 * if a tree walk leaves its bounds. */
int rp_model_predict(const rp_model *m, const rp_row *row, double *out, rp_error *err);

/* Predicts n rows at once: the same results, bit for bit, as n calls of
 * rp_model_predict, but tree walks of many rows are interleaved so that
 * their memory accesses overlap (several times faster on forests).
 * status[i] is RP_OK or the error code of row i (its message:
 * rp_model_status_message).  Never allocates. */
void rp_model_predict_batch(const rp_model *m, const rp_row *rows, size_t n, double *out, rp_code *status);

/* The message for a status of rp_model_predict_batch. */
const char *rp_model_status_message(rp_code status);

typedef struct rp_model_info {
    rp_model_kind kind;
    const char *format; /* "native" or "json": where it was loaded from */
    uint32_t n_features;
    uint32_t n_onehot;
    uint32_t n_trees;
    uint64_t n_nodes;
    uint64_t n_leaves;
    uint32_t max_depth;
    rp_model_combine combine;
    rp_model_split split;
    double base;      /* trees: the base; linear: the intercept */
    const char *name; /* not NUL-terminated: see name_len */
    size_t name_len;
    const char *version;
    size_t version_len;
    size_t bytes; /* size of the native image */
    bool sum_f32; /* trees summed in float32 (XGBoost's predictor) */
    /* Where the model came from: a JSON object (flavor, files, library
     * versions, estimator classes), not NUL-terminated; NULL when unknown. */
    const char *source;
    size_t source_len;
} rp_model_info;

void rp_model_get_info(const rp_model *m, rp_model_info *info);

/* The name of feature column i (not NUL-terminated), or NULL. */
const char *rp_model_feature_name(const rp_model *m, uint32_t i, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
