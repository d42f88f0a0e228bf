/* See xgboost_lib.h. */
#include "model/xgboost_lib.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dl.h"

/* The few functions of XGBoost's C API used here (<xgboost/c_api.h>; only
 * the types are restated so that building needs no XGBoost headers). */
typedef uint64_t xgb_ulong;
typedef struct xgb_api {
    const char *(*last_error)(void);
    int (*create)(void *const dmats[], xgb_ulong n, void **out);
    int (*load_buffer)(void *h, const void *buf, xgb_ulong len);
    int (*save_buffer)(void *h, const char *config, xgb_ulong *out_len, const char **out);
    int (*free_booster)(void *h);
} xgb_api;

static xgb_api api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static rp_error load_err;
static void *lib;

static void load(void)
{
    static const char *const sonames[] = {"libxgboost.so.0", "libxgboost.so", NULL};
    static const rp_dl_sym syms[] = {
        {"XGBGetLastError", offsetof(xgb_api, last_error)},
        {"XGBoosterCreate", offsetof(xgb_api, create)},
        {"XGBoosterLoadModelFromBuffer", offsetof(xgb_api, load_buffer)},
        {"XGBoosterSaveModelToBuffer", offsetof(xgb_api, save_buffer)},
        {"XGBoosterFree", offsetof(xgb_api, free_booster)},
    };
    lib = rp_dl_load("libxgboost", sonames, syms, sizeof syms / sizeof syms[0], &api,
                     "libxgboost0 (Debian: apt-get install libxgboost0) to read legacy binary XGBoost models, "
                     "or re-save the model with booster.save_model(\"model.json\")",
                     &load_err);
}

int rp_xgb_legacy_to_json(const void *data, size_t len, char **json, size_t *json_len,
                          rp_error *err)
{
    *json = NULL;
    *json_len = 0;
    pthread_once(&once, load);
    if (!lib) {
        if (err)
            *err = load_err;
        return -1;
    }
    void *h = NULL;
    if (api.create(NULL, 0, &h) != 0)
        return rp_error_set(err, RP_ERR_INTERNAL, "libxgboost: XGBoosterCreate failed: %s", api.last_error());
    int rc = -1;
    const char *out = NULL;
    xgb_ulong out_len = 0;
    if (api.load_buffer(h, data, (xgb_ulong)len) != 0) {
        rp_error_set(err, RP_ERR_INVALID, "libxgboost cannot read it as a legacy binary model: %s", api.last_error());
        goto done;
    }
    if (api.save_buffer(h, "{\"format\": \"json\"}", &out_len, &out) != 0 || !out) {
        rp_error_set(err, RP_ERR_INTERNAL, "libxgboost cannot write it as JSON: %s", api.last_error());
        goto done;
    }
    *json = malloc((size_t)out_len + 1);
    if (!*json) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(*json, out, (size_t)out_len);
    (*json)[out_len] = '\0';
    *json_len = (size_t)out_len;
    rc = 0;
done:
    api.free_booster(h);
    return rc;
}
