/* Internal hooks of the model code, for tests and benchmarks. */
#ifndef RP_MODEL_INTERNAL_H
#define RP_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/model.h"

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
