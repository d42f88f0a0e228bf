/* libxgboost, loaded on demand (dlopen), for what only XGBoost itself can
 * read: the legacy binary model format (XGBoost < 1.0 and `.xgb`/`.model`
 * files written by later versions, e.g. MLflow's `model.xgb`).
 *
 * Serving never pays libxgboost's start-up: a legacy file is converted to
 * XGBoost's JSON schema once, through XGBoosterLoadModelFromBuffer +
 * XGBoosterSaveModelToBuffer, and then read by our JSON reader into the
 * native engine (`ridepred model convert` keeps the result). */
#ifndef RP_MODEL_XGBOOST_LIB_H
#define RP_MODEL_XGBOOST_LIB_H

#include <stddef.h>

#include "ridepred/error.h"

/* Converts a model in the legacy binary format to XGBoost's JSON.  *json is
 * malloc'd (caller frees).  Fails with RP_ERR_UNSUPPORTED naming the package
 * to install when libxgboost is not there, RP_ERR_INVALID with XGBoost's
 * message when it refuses the bytes. */
int rp_xgb_legacy_to_json(const void *data, size_t len, char **json, size_t *json_len,
                          rp_error *err);

#endif
