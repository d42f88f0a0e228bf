/* scikit-learn pickles → ridepred models (docs/models.md).
 *
 * The pickle is read by the restricted unpickler (pickle.h), never run; the
 * object graph is then turned into the native image: a DictVectorizer's
 * columns and one regressor (LinearRegression, Ridge, Lasso, ElasticNet,
 * DecisionTreeRegressor, ExtraTreeRegressor, RandomForestRegressor,
 * ExtraTreesRegressor, GradientBoostingRegressor), given as a Pipeline of
 * the two or as the course's (dv, model) tuple. */
#ifndef RP_MODEL_SKLEARN_H
#define RP_MODEL_SKLEARN_H

#include <stddef.h>
#include <stdint.h>

#include "ridepred/model.h"

/* Pickle files over this size are refused. */
#define RP_PICKLE_MAX_FILE ((size_t)1 << 30)

typedef struct rp__sklearn_opts {
    const char *version; /* the model's version (e.g. an MLflow run id); may be NULL */
    const char *format;  /* rp_model_info.format: "pickle" when NULL */
    const char *file;    /* the file's name, for the model's source; may be NULL */
    /* Members about the container (JSON text without braces, e.g. MLmodel's
     * flavor and versions) put first in the model's source; may be NULL. */
    const char *origin;
    /* rp_model_load_opts.max_build_bytes (0: the default budget). */
    size_t max_build_bytes;
} rp__sklearn_opts;

/* Builds a model from the bytes of a pickle.  opts may be NULL. */
int rp__sklearn_from_pickle(const void *data, size_t len, const rp__sklearn_opts *opts, rp_model **out,
                            rp_error *err);

/* The columns of a fitted DictVectorizer in an unpickled graph (pickle.h):
 * names[i] / lens[i] are views into the graph, in malloc'd arrays the caller
 * frees.  Checks separator "=", dtype float64, and that feature_names_ and
 * vocabulary_ (either or both) agree. */
struct pk_value;
int rp__sklearn_dv_columns(const struct pk_value *dv, const char ***names, size_t **lens, uint32_t *nf,
                           rp_error *err);

/* Reads a pickle file (at most RP_PICKLE_MAX_FILE bytes) and builds it. */
int rp__sklearn_load_file(const char *path, const rp__sklearn_opts *opts, rp_model **out, rp_error *err);

#endif
