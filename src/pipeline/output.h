/* The model directory `ridepred train` writes (docs/train.md):
 *
 *   MLmodel         MLflow's descriptor with the `ridepred` flavor (and the
 *                   `xgboost` flavor for a booster)
 *   model.rpm       the native model (docs/model-format.md)
 *   model.xgb.json  XGBoost only: the booster as XGBoost saved it
 *   metrics.json    RMSE on the training and validation rides, counts, time
 *   params.json     the algorithm and every effective parameter
 *   data.json       the files trained and validated on, rows read and kept
 *   ridepred-reference.csv  the monitoring reference (src/monitor/monitor.h:
 *                   the validation rides with their predictions, sampled)
 *
 * The directory is written under a temporary name beside DIR and renamed
 * into place, so DIR appears complete or not at all. */
#ifndef RP_TRAIN_OUTPUT_H
#define RP_TRAIN_OUTPUT_H

#include <stddef.h>

#include "monitor/monitor.h"
#include "pipeline/train.h"
#include "ridepred/error.h"
#include "ridepred/model.h"

#define RP_TRAIN_MODEL_FILE "model.rpm"
#define RP_TRAIN_XGB_FILE "model.xgb.json"

typedef struct rp__train_file {
    const char *path;
    size_t rows;
    size_t kept;
} rp__train_file;

typedef struct rp__train_run {
    const char *algo;
    const char *run_id; /* 32 hex digits */
    const rp_model *model;
    const char *params_json;  /* members of params.json after "algo" ("k": v, ...) */
    const char *metrics_json; /* extra members of metrics.json, or "" */
    double rmse_train, rmse_val;
    size_t n_train, n_val;
    uint32_t vocabulary;
    double seconds;
    const rp__train_file *train, *val;
    size_t n_train_files, n_val_files;
    const char *xgb_json; /* NULL unless xgboost */
    size_t xgb_json_len;
    const char *xgb_version;
    /* the monitoring reference written as RP_MONITOR_REFERENCE_FILE; NULL: none */
    const rp__monitor_spec *ref_spec;
    const rp__monitor_sample *ref_sample;
} rp__train_run;

/* A random run id: 32 lowercase hex digits (a uuid4 without dashes, as
 * MLflow's run ids).  out has room for 33 bytes. */
int rp__train_run_id(char out[33], rp_error *err);

/* 0 when dir can be written: it does not exist, or is an empty
 * directory (checked again when writing). */
int rp__train_check_out(const char *dir, rp_error *err);

/* Writes the directory.  DIR must not exist, or be an empty directory. */
int rp__train_write_dir(const char *dir, const rp__train_run *r, rp_error *err);

#endif
