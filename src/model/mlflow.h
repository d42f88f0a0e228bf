/* MLflow model directories (docs/models.md): `MLmodel` is read with libyaml;
 * the flavors served are `ridepred` (a native or JSON model file named by
 * `model:`), `sklearn` (`pickled_model`, serialization_format pickle or
 * cloudpickle) and `python_function` with `loader_module: mlflow.sklearn`
 * (`model_path`).  A pickled model's version is MLmodel's run_id. */
#ifndef RP_MODEL_MLFLOW_H
#define RP_MODEL_MLFLOW_H

#include "model/xgboost.h"
#include "ridepred/model.h"

/* MLmodel files over this size are refused. */
#define RP_MLMODEL_MAX_BYTES (1u << 20)
/* MLmodel nested deeper than this (mappings and sequences) is refused as
 * it is parsed; real ones nest 4 or 5 levels. */
#define RP_MLMODEL_MAX_DEPTH 64

/* Loads the model of the MLflow directory dir.  The ridepred flavor's file
 * is loaded by rp_model_load (any format it reads).  Returns 0 with *out a
 * new reference, or -1 with err set, prefixed "MLflow model DIR". */
int rp__mlflow_load(const char *dir, const rp_model_load_opts *opts, rp_model **out, rp_error *err);

/* rp__mlflow_load for an XGBoost booster whose columns are those of `xo`
 * (rp_model_load_preprocessed): only the xgboost flavor (or
 * python_function with loader_module mlflow.xgboost) is served. */
int rp__mlflow_load_xgb(const char *dir, const rp_model_load_opts *opts, const rp__xgb_opts *xo,
                        rp_model **out, rp_error *err);

#endif
