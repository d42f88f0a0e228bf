/* Test driver for XGBoost models: loads MODEL (with --preprocessor PICKLE
 * when given) and, for each stdin line "PU_DO TRIP_DISTANCE", prints the
 * prediction as %.17g (or "error: ..." for a row that fails).  A load
 * error goes to stderr with exit status 2.
 *
 *   xgb_predict [--preprocessor PICKLE] [--native OUT] MODEL < rows */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ridepred/model.h"

int main(int argc, char **argv)
{
    const char *pre = NULL, *native = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--preprocessor") && i + 1 < argc)
            pre = argv[++i];
        else if (!strcmp(argv[i], "--native") && i + 1 < argc)
            native = argv[++i];
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: xgb_predict [--preprocessor PICKLE] [--native OUT] MODEL < rows\n");
        return 2;
    }
    rp_model *m = NULL;
    rp_error err;
    int rc = pre ? rp_model_load_preprocessed(path, pre, NULL, NULL, &m, &err)
                 : rp_model_load(path, NULL, &m, &err);
    if (rc < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    if (native) {
        /* serve the native round trip instead */
        rp_model *n = NULL;
        if (rp_model_write_native(m, native, &err) < 0 || rp_model_load(native, NULL, &n, &err) < 0) {
            fprintf(stderr, "error: %s\n", err.msg);
            return 2;
        }
        rp_model_release(m);
        m = n;
    }
    int32_t td = rp_model_trip_distance(m);
    char line[512], key[256];
    double x;
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%200s %lf", key + 6, &x) != 2)
            continue;
        memcpy(key, "PU_DO=", 6);
        rp_row row = {0};
        int32_t c = rp_model_onehot(m, key, strlen(key));
        if (c >= 0) {
            row.idx[row.n] = (uint32_t)c;
            row.val[row.n++] = 1.0;
        }
        if (td >= 0) {
            row.idx[row.n] = (uint32_t)td;
            row.val[row.n++] = x;
        }
        double y;
        if (rp_model_predict(m, &row, &y, &err) < 0)
            printf("error: %s\n", err.msg);
        else
            printf("%.17g\n", y);
    }
    rp_model_release(m);
    return 0;
}
