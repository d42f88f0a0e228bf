/* ridepred: errors.
 *
 * Every fallible library call takes an rp_error * (may be NULL) and returns
 * 0 on success or -1 on failure, after filling the error.  The error lives in
 * caller memory: nothing is allocated to report a failure. */
#ifndef RIDEPRED_ERROR_H
#define RIDEPRED_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rp_code {
    RP_OK = 0,
    RP_ERR_INVALID,     /* bad input: event, record, argument, model content */
    RP_ERR_IO,          /* a file or socket operation failed */
    RP_ERR_NOMEM,       /* allocation failed */
    RP_ERR_LIMIT,       /* a hard size/depth limit was exceeded */
    RP_ERR_CORRUPT,     /* a file fails its checksum or structural checks */
    RP_ERR_UNSUPPORTED, /* valid but not something we serve */
    RP_ERR_NOT_FOUND,   /* a named thing does not exist */
    RP_ERR_INTERNAL
} rp_code;

#define RP_ERROR_MSG_MAX 512

typedef struct rp_error {
    rp_code code;
    bool retriable;
    char msg[RP_ERROR_MSG_MAX];
} rp_error;

/* Sets code and a printf-style message; a NULL err is ignored.  Returns -1 so
 * that `return rp_error_set(...)` reads naturally. */
int rp_error_set(rp_error *err, rp_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rp_error_vset(rp_error *err, rp_code code, const char *fmt, va_list ap);

/* Prepends "context: " to an error already set. */
void rp_error_prefix(rp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void rp_error_clear(rp_error *err);

/* A short stable name of the code, e.g. "invalid", "corrupt". */
const char *rp_code_name(rp_code code);

#ifdef __cplusplus
}
#endif
#endif
