/* libFuzzer target: the XGBoost readers (UBJSON and JSON via the schema),
 * then predictions on a few rows of whatever they accept.  The first byte
 * picks the path: even = rp__xgb_from_buffer (sniffed), odd = the bare
 * JSON / UBJSON parsers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/xgboost.h"
#include "ridepred/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_error err;
    if (size && (data[0] & 1)) {
        rp__xgb_parse_only(data + 1, size - 1, (data[0] & 2) != 0, &err);
        return 0;
    }
    if (size)
        data++, size--;
    /* The legacy binary format goes to libxgboost itself (not ours to fuzz,
     * and not instrumented). */
    if (size >= 4 && !memcmp(data, "binf", 4))
        return 0;
    static const char *const names[4] = {"PU_DO=1_2", "trip_distance", "PU_DO=3_4", "x"};
    static const size_t lens[4] = {9, 13, 9, 1};
    rp_model *m = NULL;
    if (rp__xgb_from_buffer(data, size, NULL, &m, &err) < 0) {
        /* again with names from a "preprocessor", for models without them */
        for (uint32_t n = 1; n <= 4 && !m; n++) {
            rp__xgb_opts xo = {.n_features = n, .feature_names = names, .feature_lens = lens};
            if (rp__xgb_from_buffer(data, size, &xo, &m, &err) < 0)
                m = NULL;
        }
        if (!m)
            return 0;
    }
    rp_model_info info;
    rp_model_get_info(m, &info);
    double pred;
    for (uint32_t f = 0; f < info.n_features && f < 4; f++) {
        rp_row row = {.n = 2, .idx = {f, (f + 1) % info.n_features}, .val = {1.0, 3.66}};
        rp_model_predict(m, &row, &pred, &err);
    }
    rp_row empty = {.n = 0};
    rp_model_predict(m, &empty, &pred, &err);
    rp_model_release(m);
    return 0;
}
