/* The model object's own interface inside src/model (model.c): what the
 * loaders and the trainers build models with, and hooks for tests and
 * benchmarks.  model.c is the bottom of src/model with image.c: it opens
 * native images and predicts, and knows no source format; the readers
 * (model_json.c, sklearn.c, xgboost.c) end in rp__model_build, and
 * load.c maps native files with rp__model_map_file.  The public API is
 * ridepred/model.h. */
#ifndef RP_MODEL_MODEL_H
#define RP_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/image.h"
#include "ridepred/model.h"

/* Lays out a source model as a native image (rp__img_build) and opens it as
 * a model whose rp_model_info.format is `format` (a static string).  What
 * every reader and the trainers end with.  Returns 0 with *out a new
 * reference, or -1 with err set (rp__img_build's refusals, RP_ERR_NOMEM);
 * nothing is kept of src. */
int rp__model_build(const rp__img_src *src, const char *format, rp_model **out, rp_error *err);

/* Maps the native model file open on fd (size bytes, as fstat says)
 * read-only and opens it as a model of format "native" that owns the map
 * (unmapped with its last reference); fd may be closed afterwards.  path
 * names the file in messages.  Returns 0 with *out set, or -1 with err:
 * "cannot map model PATH: <strerror>" (RP_ERR_IO), "model PATH: <why the
 * image is refused>" (RP_ERR_CORRUPT, RP_ERR_UNSUPPORTED), RP_ERR_NOMEM. */
int rp__model_map_file(int fd, size_t size, const char *path, const rp_model_load_opts *opts, rp_model **out,
                       rp_error *err);

/* rp_model_predict_batch without the ride fast path: every tree walked node
 * by node.  The results must be the same, bit for bit. */
void rp__model_predict_batch_walk(const rp_model *m, const rp_row *rows, size_t n, double *out,
                                  rp_code *status);

/* Whether the model carries (and uses) the ride fast-path sections. */
bool rp__model_has_fast_path(const rp_model *m);

/* The ride fast path alone for one row: true when it served the row (then
 * *out and *status are set), false when the row needs the walk. */
bool rp__model_predict_fast(const rp_model *m, const rp_row *row, double *out, rp_code *status);

#endif
