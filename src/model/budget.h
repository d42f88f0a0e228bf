/* What loading one model may build (rp_model_load_opts.max_build_bytes).
 *
 * A converted model (a scikit-learn pickle, an XGBoost JSON or UBJSON model)
 * is built in memory: the unpickled graph or parsed document, the trees in
 * the converter's arrays, then the native image.  A small file can describe
 * far more than its size (a pickle's memo lets one tree be listed 20,000
 * times; a UBJSON container of zero-size elements declares a count it does
 * not store), so every reader counts what it is about to allocate against
 * one budget per load, before allocating it, and refuses the model with
 * RP_ERR_LIMIT once the budget is spent.  The default budget is a multiple
 * of the file's size plus a floor, under an absolute cap (model.h). */
#ifndef RP_MODEL_BUDGET_H
#define RP_MODEL_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

typedef struct rp__model_budget {
    size_t limit; /* bytes that may be built */
    size_t used;  /* counted so far */
    size_t input; /* the file's bytes (for the default and the message) */
    bool given;   /* limit given by the caller, not the default */
} rp__model_budget;

/* Memory the image builder (rp__img_build) takes per source node, counted
 * with the converter's own arrays before either is allocated: its node and
 * leaf arrays (16 + 8), the ride fast path (at most as much again), and the
 * image itself (as much as both). */
#define RP_BUDGET_IMAGE_PER_NODE ((size_t)96)

/* The budget for a file of `input` bytes: max_build_bytes when not 0, else
 * the default RP_MODEL_BUILD_RATIO * input + RP_MODEL_BUILD_BASE, at most
 * RP_MODEL_BUILD_MAX. */
void rp__budget_init(rp__model_budget *b, size_t max_build_bytes, size_t input);

/* Counts n more bytes.  Returns 0, or -1 with err set (RP_ERR_LIMIT):
 * "building this model takes more than N bytes (WHAT), over the limit of
 * L bytes (...); raise the limit with --max-model-bytes ..." where WHAT is
 * the printf-formatted fmt.  A NULL budget counts nothing. */
int rp__budget_take(rp__model_budget *b, size_t n, rp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* n * each, saturating at SIZE_MAX (a count from a file times a size). */
static inline size_t rp__budget_mul(size_t n, size_t each)
{
    return each && n > (size_t)-1 / each ? (size_t)-1 : n * each;
}

#endif
