/* Training ride-duration models from TLC trips (docs/train.md).
 *
 * The course's preparation turns trips (data/trips.h) into rides: the
 * target is the duration in minutes (rp__trips_keep), the features those of
 * a DictVectorizer over {"PU_DO": "<PU>_<DO>", "trip_distance": x}.  Every
 * ride has exactly one one-hot column (its PU_DO) and trip_distance, so a
 * training set is stored as three columns: the ride's one-hot column
 * (`cat`), x and y.  The vocabulary holds the one-hot feature names sorted
 * as DictVectorizer sorts them; trip_distance is the column after them.
 *
 * The trainers fill the model structures of src/model (rp__img_src) and the
 * model is built with rp__img_build: the same image every loader makes. */
#ifndef RP_TRAIN_TRAIN_H
#define RP_TRAIN_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/trips.h"
#include "ridepred/error.h"
#include "ridepred/model.h"

/* cat of a validation ride whose PU_DO was not seen in training: no
 * one-hot column (DictVectorizer ignores it). */
#define RP_TRAIN_NO_CAT UINT32_MAX

/* The most rides a set may hold (all files together). */
#define RP_TRAIN_MAX_ROWS ((size_t)1 << 31)

typedef struct rp__train_set {
    size_t n, cap;
    uint64_t *key; /* (uint32)PU << 32 | (uint32)DO */
    uint32_t *cat; /* one-hot column, or RP_TRAIN_NO_CAT (set by vocab build/map) */
    double *x;     /* trip_distance */
    double *y;     /* duration, minutes */
} rp__train_set;

typedef struct rp__vocab {
    uint32_t n;  /* one-hot columns; trip_distance is column n */
    char *text;  /* every name, NUL-terminated, back to back */
    size_t *off; /* name i is text + off[i] */
    size_t *len;
    uint64_t *key; /* the (PU, DO) key of column i */
    /* key -> column (open addressing) */
    uint64_t *slot_key;
    uint32_t *slot_col; /* column + 1, 0: empty */
    size_t slots;
} rp__vocab;

void rp__train_set_free(rp__train_set *s);

/* What preparation kept of one file. */
typedef struct rp__train_file_stats {
    size_t rows; /* rows in the file */
    size_t kept; /* rides kept by the course's filter */
} rp__train_file_stats;

/* Appends the rides of `t` that the course keeps (rp__trips_keep).  A kept
 * ride without trip_distance (NaN) is refused, naming `what` and the row:
 * scikit-learn refuses NaN too.  Fails with RP_ERR_LIMIT past
 * RP_TRAIN_MAX_ROWS rides. */
int rp__train_set_add(rp__train_set *s, const rp__trips *t, const char *what, rp__train_file_stats *st,
                      rp_error *err);

/* Appends one ride (tests). */
int rp__train_set_push(rp__train_set *s, int32_t pu, int32_t dol, double x, double y, rp_error *err);

/* Builds the vocabulary of the training set (its distinct PU_DO names,
 * sorted as Python sorts strings) and sets train->cat. */
int rp__vocab_build(rp__vocab *v, rp__train_set *train, rp_error *err);

/* Sets s->cat from the vocabulary (unseen: RP_TRAIN_NO_CAT). */
void rp__vocab_map(const rp__vocab *v, rp__train_set *s);

void rp__vocab_free(rp__vocab *v);

/* ---- parameters ---- */

/* One --param KEY=VALUE. */
typedef struct rp__train_param {
    const char *key;
    const char *value;
} rp__train_param;

/* Splits "KEY=VALUE" (pointers into `arg`, which is modified). */
int rp__train_param_split(char *arg, rp__train_param *out, rp_error *err);

/* Progress of a long step, called from any thread (serialised by the
 * trainer): done of total units. */
typedef void (*rp__train_progress_fn)(void *ctx, const char *what, size_t done, size_t total);

typedef struct rp__train_opts {
    unsigned threads; /* 0: one per online CPU */
    uint64_t seed;
    rp__train_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const char *name;    /* model name written into the image */
    const char *version; /* model version (the run id) */
} rp__train_opts;

/* ---- linear ---- */

typedef enum rp__linear_solver {
    RP_LINEAR_LSQR = 0, /* scikit-learn's LinearRegression on sparse input */
    RP_LINEAR_EXACT = 1 /* the minimum-norm least-squares solution, closed form */
} rp__linear_solver;

typedef struct rp__linear_fit {
    double *coef; /* n_vocab + 1: one-hot columns, then trip_distance */
    double intercept;
    int iterations; /* LSQR iterations (0 for exact) */
    int istop;      /* LSQR's stopping reason */
} rp__linear_fit;

/* Fits LinearRegression(fit_intercept=True) on the set (cat must be set;
 * every column of the vocabulary used).  LSQR reproduces scikit-learn's
 * arithmetic operation by operation (docs/train.md). */
int rp__train_linear(const rp__train_set *s, const rp__vocab *v, rp__linear_solver solver,
                     rp__linear_fit *out, rp_error *err);
void rp__linear_fit_free(rp__linear_fit *f);

/* ---- random forest ---- */

typedef struct rp__forest_params {
    uint32_t n_estimators;
    uint32_t max_depth; /* 0: unlimited */
    uint32_t min_samples_leaf;
    uint32_t min_samples_split;
    double max_samples; /* bootstrap sample size as a fraction of rows, (0, 1] */
    bool bootstrap;
} rp__forest_params;

void rp__forest_params_default(rp__forest_params *p);

/* One fitted tree, in scikit-learn's tree_ arrays (node 0 the root). */
typedef struct rp__forest_tree {
    uint32_t n, cap;
    int64_t *left, *right, *feature;
    double *threshold, *value;
} rp__forest_tree;

typedef struct rp__forest {
    uint32_t n_trees;
    rp__forest_tree *trees;
} rp__forest;

/* Fits a random forest regressor (squared error, best split over every
 * feature at every node).  Deterministic for a seed, whatever the number of
 * threads. */
int rp__train_forest(const rp__train_set *s, const rp__vocab *v, const rp__forest_params *p,
                     const rp__train_opts *o, rp__forest *out, rp_error *err);
void rp__forest_free(rp__forest *f);

/* ---- models ---- */

/* Builds a model image from a linear fit / a forest (through rp__img_build). */
int rp__train_linear_model(const rp__vocab *v, const rp__linear_fit *f, const rp__train_opts *o,
                           rp_model **out, rp_error *err);
int rp__train_forest_model(const rp__vocab *v, const rp__forest *f, const rp__train_opts *o, rp_model **out,
                           rp_error *err);

/* Predicts every ride of the set with the model (as the handler would:
 * the PU_DO column when known, then trip_distance). */
int rp__train_predict(const rp_model *m, const rp__train_set *s, double *pred, rp_error *err);

/* Root mean squared error of pred against s->y. */
double rp__train_rmse(const rp__train_set *s, const double *pred);

#endif
