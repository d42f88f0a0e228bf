/* The build budget of one model load (see budget.h). */
#include "model/budget.h"

#include <stdarg.h>
#include <stdio.h>

#include "ridepred/model.h"

void rp__budget_init(rp__model_budget *b, size_t max_build_bytes, size_t input)
{
    b->used = 0;
    b->input = input;
    b->given = max_build_bytes != 0;
    if (b->given) {
        b->limit = max_build_bytes;
        return;
    }
    size_t lim = rp__budget_mul(input, RP_MODEL_BUILD_RATIO);
    lim = lim > RP_MODEL_BUILD_MAX - RP_MODEL_BUILD_BASE ? RP_MODEL_BUILD_MAX : lim + RP_MODEL_BUILD_BASE;
    b->limit = lim;
}

int rp__budget_take(rp__model_budget *b, size_t n, rp_error *err, const char *fmt, ...)
{
    if (!b)
        return 0;
    if (n <= b->limit && b->used <= b->limit - n) {
        b->used += n;
        return 0;
    }
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t want = n > (size_t)-1 - b->used ? (size_t)-1 : b->used + n;
    char why[160];
    if (b->given)
        snprintf(why, sizeof why, "as set");
    else
        snprintf(why, sizeof why, "the default: %u x the file's %zu bytes + %zu MiB, at most %zu MiB",
                 (unsigned)RP_MODEL_BUILD_RATIO, b->input, RP_MODEL_BUILD_BASE >> 20,
                 RP_MODEL_BUILD_MAX >> 20);
    return rp_error_set(
        err, RP_ERR_LIMIT,
        "building this model takes over %zu bytes (%s), over the limit of %zu bytes (%s); "
        "raise it with --max-model-bytes BYTES or RIDEPRED_MAX_MODEL_BYTES if the file is trusted",
        want, what, b->limit, why);
}
