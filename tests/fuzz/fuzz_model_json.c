/* libFuzzer target: the JSON model reader, then predictions on a few rows
 * and a native round trip of whatever it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ridepred/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_model *m = NULL;
    rp_error err;
    if (rp_model_from_json((const char *)data, size, &m, &err) < 0)
        return 0;
    rp_model_info info;
    rp_model_get_info(m, &info);
    for (uint32_t f = 0; f < info.n_features && f < 4; f++) {
        rp_row row = {
            .n = 2, .idx = {f, (f + 1) % (info.n_features ? info.n_features : 1)}, .val = {1.0, 3.66}};
        double pred;
        rp_model_predict(m, &row, &pred, &err);
    }
    rp_row empty = {.n = 0};
    double pred;
    rp_model_predict(m, &empty, &pred, &err);
    rp_model_onehot(m, "PU_DO=1_2", 9);
    rp_model_release(m);
    return 0;
}
