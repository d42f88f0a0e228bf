/* The training pipeline of `ridepred train` (docs/train.md): reads the
 * trip files, prepares the rides as the course does (pipeline/train.h),
 * fits the algorithm, predicts the training and validation rides, writes
 * the model directory (pipeline/output.h) and, when asked, the validation
 * predictions as CSV.
 *
 * Everything it needs comes in rp__train_config: the CLI parses the flags
 * (and reads the environment) and calls.  It prints nothing: progress goes
 * to the config's callbacks, each step to rp_log ("read trips" per file,
 * "training", "trained"), the outcome to rp__train_report. */
#ifndef RP_PIPELINE_TRAIN_RUN_H
#define RP_PIPELINE_TRAIN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/train.h"
#include "ridepred/error.h"

typedef enum rp__train_algo {
    RP_TRAIN_LINEAR = 0, /* scikit-learn's LinearRegression */
    RP_TRAIN_FOREST = 1, /* RandomForestRegressor */
    RP_TRAIN_XGBOOST = 2 /* libxgboost (dlopen'ed on first use) */
} rp__train_algo;

/* "linear", "forest" or "xgboost" into *out.  Returns 0, or -1 with
 * RP_ERR_INVALID naming the value and the choices. */
int rp__train_algo_parse(const char *name, rp__train_algo *out, rp_error *err);

/* The name rp__train_algo_parse takes ("linear", ...); never NULL. */
const char *rp__train_algo_name(rp__train_algo algo);

/* Called once a step that may have reported progress is over (a bar that
 * did not reach 100 %, as XGBoost's rounds under early stopping, ends its
 * line there, before the next log line). */
typedef void (*rp__train_progress_end_fn)(void *ctx);

typedef struct rp__train_config {
    const char *const *train_files; /* Parquet or CSV trip files; at least one */
    size_t n_train_files;
    const char *const *val_files; /* at least one */
    size_t n_val_files;
    rp__train_algo algo;
    const rp__train_param *params; /* the algorithm's KEY=VALUE parameters (may be NULL when n_params is 0) */
    size_t n_params;
    const char *out_dir;          /* the model directory to write: new, or empty */
    const char *predictions_path; /* also write the validation predictions as CSV there; NULL: no */
    unsigned threads;             /* forest and xgboost; 0: one per online CPU */
    uint64_t seed;
    rp__train_progress_fn progress;         /* may be NULL; called from the trainer's threads, serialised */
    rp__train_progress_end_fn progress_end; /* may be NULL */
    void *progress_ctx;                     /* passed to both */
} rp__train_config;

typedef struct rp__train_report {
    char run_id[33];     /* 32 hex digits: the model's version and the MLflow run id */
    size_t n_train;      /* training rides the course's filter kept (every file) */
    size_t n_val;        /* validation rides kept */
    uint32_t vocabulary; /* PU_DO values seen in training (one-hot columns) */
    double seconds;      /* the fit alone, wall clock */
    double rmse_train;   /* minutes */
    double rmse_val;
} rp__train_report;

/* Checks the algorithm's parameters without reading a file (so that a
 * typo fails before minutes of work).  Returns 0, or -1 with
 * RP_ERR_INVALID naming the parameter and what it takes.  rp__train checks
 * them again. */
int rp__train_check_params(rp__train_algo algo, const rp__train_param *params, size_t n, rp_error *err);

/* Runs the whole pipeline: checks the parameters and out_dir, reads the
 * training files, builds the vocabulary, reads the validation files, fits,
 * predicts both sets, writes out_dir, then the predictions CSV.  Returns 0
 * with *r filled, or -1 with err set (and *r zeroed): a bad parameter; a
 * file that cannot be read or holds a bad value (the message names it and
 * its role, "training" or "validation"); no rides left after the course's
 * filter; an out_dir that exists and is not an empty directory; the
 * algorithm failing (the message starts with its name); out of memory; the
 * directory or the CSV not written.  out_dir appears complete or not at
 * all; the CSV is written after it, so when only the CSV fails the model
 * directory is there.  The config's strings are only read during the call. */
int rp__train(const rp__train_config *c, rp__train_report *r, rp_error *err);

#endif
