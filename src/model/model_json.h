/* Reading the JSON interchange model ridepred.model/1 (docs/model-format.md):
 * the reader behind rp_model_from_json (ridepred/model.h). */
#ifndef RP_MODEL_JSON_H
#define RP_MODEL_JSON_H

#include "ridepred/model.h"

/* JSON model files larger than this are refused (convert them once to the
 * native format instead of serving them). */
#define RP_MODEL_JSON_MAX_BYTES (1u << 30)

#endif
