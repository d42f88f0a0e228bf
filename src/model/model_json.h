/* Reading the JSON interchange model ridepred.model/1 (SPEC §5). */
#ifndef RP_MODEL_JSON_H
#define RP_MODEL_JSON_H

#include <stddef.h>

#include "ridepred/model.h"

/* JSON model files larger than this are refused (convert them once to the
 * native format instead of serving them). */
#define RP_MODEL_JSON_MAX_BYTES (1u << 30)

/* Internal: wraps a malloc'd native image (ownership passes). */
int rp__model_adopt_image(void *image, size_t len, const char *format, rp_model **out, rp_error *err);

#endif
