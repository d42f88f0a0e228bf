/* libFuzzer target: the native model reader.  The header checksum is fixed
 * up and the payload checksum not verified, so that mutations reach the
 * structural checks, which alone must keep every read in bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ridepred/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (size >= 64) {
        uint64_t h = XXH3_64bits(copy, 56);
        memcpy(copy + 56, &h, 8);
    }
    rp_model *m = NULL;
    rp_error err;
    rp_model_load_opts opts = {.verify_checksum = false};
    if (rp_model_from_native(copy, size, true, &opts, &m, &err) == 0) {
        rp_model_info info;
        rp_model_get_info(m, &info);
        for (uint32_t f = 0; f < info.n_features && f < 8; f++) {
            size_t len;
            const char *name = rp_model_feature_name(m, f, &len);
            if (name)
                rp_model_onehot(m, name, len);
            rp_row row = {.n = 1, .idx = {f}, .val = {0.5 * f}};
            double pred;
            rp_model_predict(m, &row, &pred, &err);
        }
        rp_row empty = {.n = 0};
        double pred;
        rp_model_predict(m, &empty, &pred, &err);
        rp_model_release(m);
    }
    free(copy);
    return 0;
}
