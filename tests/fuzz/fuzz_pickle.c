/* libFuzzer target: the restricted unpickler and the scikit-learn
 * conversion, then predictions on a few rows of whatever is accepted.
 * Seeds: small scikit-learn pickles (protocols 2, 4 and 5) written at fuzz
 * time by tests/fuzz/seeds/make_pickle_seeds.py. */
#include <stddef.h>
#include <stdint.h>

#include "model/pickle.h"
#include "model/sklearn.h"
#include "ridepred/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The unpickler alone (also walks what it built). */
    pk_graph g;
    rp_error err;
    if (pk_load(data, size, &g, &err) == 0) {
        (void)pk_type_name(g.root);
        (void)pk_attr(g.root, "steps");
    }
    pk_free(&g);

    rp_model *m = NULL;
    if (rp__sklearn_from_pickle(data, size, NULL, &m, &err) < 0)
        return 0;
    rp_model_info info;
    rp_model_get_info(m, &info);
    for (uint32_t f = 0; f < info.n_features && f < 4; f++) {
        rp_row row = {.n = 2, .idx = {f, (f + 1) % info.n_features}, .val = {1.0, 3.66}};
        double pred;
        rp_model_predict(m, &row, &pred, &err);
    }
    rp_row empty = {.n = 0};
    double pred;
    rp_model_predict(m, &empty, &pred, &err);
    rp_model_release(m);
    return 0;
}
