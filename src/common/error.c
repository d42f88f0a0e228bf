#include "ridepred/error.h"

#include <stdio.h>
#include <string.h>

int rp_error_vset(rp_error *err, rp_code code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        err->retriable = false;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return -1;
}

int rp_error_set(rp_error *err, rp_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rp_error_vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

void rp_error_prefix(rp_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[RP_ERROR_MSG_MAX];
    char old[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t h = strlen(head), o = strlen(old), cap = sizeof err->msg - 1;
    if (h > cap)
        h = cap;
    memcpy(err->msg, head, h);
    size_t n = h;
    if (n + 2 <= cap) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
    }
    if (o > cap - n)
        o = cap - n;
    memcpy(err->msg + n, old, o);
    err->msg[n + o] = '\0';
}

void rp_error_clear(rp_error *err)
{
    if (err) {
        err->code = RP_OK;
        err->retriable = false;
        err->msg[0] = '\0';
    }
}

const char *rp_code_name(rp_code code)
{
    switch (code) {
    case RP_OK: return "ok";
    case RP_ERR_INVALID: return "invalid";
    case RP_ERR_IO: return "io";
    case RP_ERR_NOMEM: return "nomem";
    case RP_ERR_LIMIT: return "limit";
    case RP_ERR_CORRUPT: return "corrupt";
    case RP_ERR_UNSUPPORTED: return "unsupported";
    case RP_ERR_NOT_FOUND: return "not_found";
    case RP_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
