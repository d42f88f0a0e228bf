/* MLflow model directories (docs/models.md): `MLmodel` is read with libyaml;
 * the flavors served are `ridepred` (a native or JSON model file named by
 * `model:`), `sklearn` (`pickled_model`, serialization_format pickle or
 * cloudpickle) and `python_function` with `loader_module: mlflow.sklearn`
 * (`model_path`).  A pickled model's version is MLmodel's run_id. */
#ifndef RP_MODEL_MLFLOW_H
#define RP_MODEL_MLFLOW_H

#include "ridepred/model.h"

/* MLmodel files over this size are refused. */
#define RP_MLMODEL_MAX_BYTES (1u << 20)
/* MLmodel nested deeper than this (mappings and sequences) is refused as
 * it is parsed; real ones nest 4 or 5 levels. */
#define RP_MLMODEL_MAX_DEPTH 64

int rp_mlflow_load(const char *dir, const rp_model_load_opts *opts, rp_model **out, rp_error *err);

#endif
