/* libxgboost, loaded on demand (dlopen), for what only XGBoost itself does:
 * reading the legacy binary model format (XGBoost < 1.0 and `.xgb`/`.model`
 * files written by later versions, e.g. MLflow's `model.xgb`), and training
 * boosters (`ridepred train --algo xgboost`, src/pipeline/xgb.c).
 *
 * One table of the C API functions ridepred calls, loaded once per process.
 * The types are restated here so that building needs no XGBoost headers
 * (Amazon Linux, the Lambda image's build stage, packages none).  Serving
 * never pays libxgboost's start-up: a legacy file is converted to XGBoost's
 * JSON schema once and read by our JSON reader into the native engine
 * (`ridepred model convert` keeps the result). */
#ifndef RP_MODEL_XGBOOST_LIB_H
#define RP_MODEL_XGBOOST_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

typedef uint64_t rp__xgb_ulong; /* bst_ulong */
typedef void *rp__xgb_handle;   /* DMatrixHandle, BoosterHandle */

/* <xgboost/c_api.h>, XGBoost >= 1.6; every function returns 0 or -1 (then
 * GetLastError says why). */
typedef struct rp__xgb_lib {
    const char *(*GetLastError)(void);
    void (*Version)(int *major, int *minor, int *patch);
    int (*CreateFromCSREx)(const size_t *indptr, const unsigned *indices, const float *data, size_t nindptr,
                           size_t nelem, size_t num_col, rp__xgb_handle *out);
    int (*SetFloatInfo)(rp__xgb_handle dmat, const char *field, const float *info, rp__xgb_ulong len);
    int (*DMatrixFree)(rp__xgb_handle dmat);
    int (*BoosterCreate)(const rp__xgb_handle dmats[], rp__xgb_ulong len, rp__xgb_handle *out);
    int (*BoosterFree)(rp__xgb_handle booster);
    int (*SetParam)(rp__xgb_handle booster, const char *name, const char *value);
    int (*UpdateOneIter)(rp__xgb_handle booster, int iter, rp__xgb_handle dtrain);
    int (*EvalOneIter)(rp__xgb_handle booster, int iter, rp__xgb_handle dmats[], const char *names[],
                       rp__xgb_ulong len, const char **out);
    int (*Slice)(rp__xgb_handle booster, int begin, int end, int step, rp__xgb_handle *out);
    int (*LoadFromBuffer)(rp__xgb_handle booster, const void *buf, rp__xgb_ulong len);
    int (*SaveToBuffer)(rp__xgb_handle booster, const char *config, rp__xgb_ulong *out_len, const char **out);
} rp__xgb_lib;

/* The table, loaded on the first call (thread-safe); NULL with err naming
 * the package to install when libxgboost is not there. */
const rp__xgb_lib *rp__xgb_lib_load(rp_error *err);

/* Converts a model in the legacy binary format to XGBoost's JSON.  *json is
 * malloc'd (caller frees).  Fails with RP_ERR_UNSUPPORTED naming the package
 * to install when libxgboost is not there, RP_ERR_INVALID with XGBoost's
 * message when it refuses the bytes. */
int rp__xgb_legacy_to_json(const void *data, size_t len, char **json, size_t *json_len, rp_error *err);

#endif
