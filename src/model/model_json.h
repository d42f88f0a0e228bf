/* Reading the JSON interchange model ridepred.model/1 (docs/model-format.md). */
#ifndef RP_MODEL_JSON_H
#define RP_MODEL_JSON_H

#include <stddef.h>

#include "ridepred/model.h"

/* JSON model files larger than this are refused (convert them once to the
 * native format instead of serving them). */
#define RP_MODEL_JSON_MAX_BYTES (1u << 30)

/* Internal: lays out a source model as a native image (rp_img_build) and
 * opens it as a model whose rp_model_info.format is `format` (a static
 * string).  What every reader and the trainers end with. */
struct rp_img_src;
int rp__model_build(const struct rp_img_src *src, const char *format, rp_model **out, rp_error *err);

#endif
