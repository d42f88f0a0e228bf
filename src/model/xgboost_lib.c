/* See xgboost_lib.h. */
#include "model/xgboost_lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dl.h"

static rp__xgb_lib api;
static rp__dl_once lib = RP_DL_ONCE_INIT;

static void load(void)
{
    static const char *const sonames[] = {"libxgboost.so.0", "libxgboost.so", NULL};
    static const rp__dl_sym syms[] = {
        {"XGBGetLastError", offsetof(rp__xgb_lib, GetLastError)},
        {"XGBoostVersion", offsetof(rp__xgb_lib, Version)},
        {"XGDMatrixCreateFromCSREx", offsetof(rp__xgb_lib, CreateFromCSREx)},
        {"XGDMatrixSetFloatInfo", offsetof(rp__xgb_lib, SetFloatInfo)},
        {"XGDMatrixFree", offsetof(rp__xgb_lib, DMatrixFree)},
        {"XGBoosterCreate", offsetof(rp__xgb_lib, BoosterCreate)},
        {"XGBoosterFree", offsetof(rp__xgb_lib, BoosterFree)},
        {"XGBoosterSetParam", offsetof(rp__xgb_lib, SetParam)},
        {"XGBoosterUpdateOneIter", offsetof(rp__xgb_lib, UpdateOneIter)},
        {"XGBoosterEvalOneIter", offsetof(rp__xgb_lib, EvalOneIter)},
        {"XGBoosterSlice", offsetof(rp__xgb_lib, Slice)},
        {"XGBoosterLoadModelFromBuffer", offsetof(rp__xgb_lib, LoadFromBuffer)},
        {"XGBoosterSaveModelToBuffer", offsetof(rp__xgb_lib, SaveToBuffer)},
    };
    rp__dl_once_load(&lib, "libxgboost", sonames, syms, sizeof syms / sizeof syms[0], &api,
                     "libxgboost0 (Debian: apt-get install libxgboost0); for a legacy binary model, "
                     "re-saving it with booster.save_model(\"model.json\") also works");
}

const rp__xgb_lib *rp__xgb_lib_load(rp_error *err)
{
    return rp__dl_once_run(&lib, load, err) == 0 ? &api : NULL;
}

int rp__xgb_legacy_to_json(const void *data, size_t len, char **json, size_t *json_len, rp_error *err)
{
    *json = NULL;
    *json_len = 0;
    const rp__xgb_lib *x = rp__xgb_lib_load(err);
    if (!x)
        return -1;
    rp__xgb_handle h = NULL;
    if (x->BoosterCreate(NULL, 0, &h) != 0)
        return rp_error_set(err, RP_ERR_INTERNAL, "libxgboost: XGBoosterCreate failed: %s",
                            x->GetLastError());
    int rc = -1;
    const char *out = NULL;
    rp__xgb_ulong out_len = 0;
    if (x->LoadFromBuffer(h, data, (rp__xgb_ulong)len) != 0) {
        rp_error_set(err, RP_ERR_INVALID, "libxgboost cannot read it as a legacy binary model: %s",
                     x->GetLastError());
        goto done;
    }
    if (x->SaveToBuffer(h, "{\"format\": \"json\"}", &out_len, &out) != 0 || !out) {
        rp_error_set(err, RP_ERR_INTERNAL, "libxgboost cannot write it as JSON: %s", x->GetLastError());
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
    x->BoosterFree(h);
    return rc;
}
