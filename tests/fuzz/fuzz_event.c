/* libFuzzer target: the handler on arbitrary event bytes, with a small model
 * whose vocabulary the fuzzer can hit.  Also decodes the input as a single
 * record (the path kinesis.data takes after base64) and as a bare ride
 * (serve's POST /predict). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "function/ride.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"

static const char model_json[] =
    "{\"format\": \"ridepred.model/1\", \"version\": \"fuzz\", \"features\": [\"PU_DO=130_205\", "
    "\"PU_DO=1_2\", \"trip_distance\"], \"estimator\": {\"type\": \"trees\", \"combine\": \"mean\", "
    "\"trees\": [{\"left\": [1, -1, -1], \"right\": [2, -1, -1], \"feature\": [2, 0, 0], "
    "\"threshold\": [3.5, 0, 0], \"value\": [0, 10.5, 20.25]}]}}";

static rp_handler *h;
static rp_model *m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!h) {
        rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
        rp_error err;
        if (rp_model_from_json(model_json, sizeof model_json - 1, &m, &err) < 0)
            __builtin_trap();
        h = rp_handler_new(m, NULL, &err);
        if (!h)
            __builtin_trap();
    }
    rp_invoke_result res;
    if (rp_handler_invoke(h, (const char *)data, size, &res) < 0)
        __builtin_trap();
    if (!res.body || res.body_len == 0)
        __builtin_trap();

    rp__ride_fields f;
    rp_error why;
    rp__buf scratch;
    rp__buf_init(&scratch, 1 << 20);
    rp_row row;
    double pred;
    if (rp__ride_parse((const char *)data, size, &f, &why) == 0 &&
        rp__ride_features(&f, m, &scratch, &row, &why) == 0)
        rp_model_predict(m, &row, &pred, &why);
    /* The same bytes as a bare ride (serve's POST /predict). */
    if (rp__ride_parse_bare((const char *)data, size, &f, &why) == 0 &&
        rp__ride_fields_features(&f, m, "", &scratch, &row, &why) == 0)
        rp_model_predict(m, &row, &pred, &why);
    rp__buf_cleanup(&scratch);
    return 0;
}
