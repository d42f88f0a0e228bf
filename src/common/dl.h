/* Loading a shared library on first use instead of linking it.
 *
 * Linking a library costs every start of the program its dynamic loading
 * (libcurl: ~5 ms with its ~30 dependencies; snappy brings libstdc++), and most runs (one `invoke`, a Lambda cold
 * start) never use it.  A module describes the functions it calls as a
 * table of (symbol, offset in its function-pointer struct) and loads them
 * all at once; only the library's headers are used at build time. */
#ifndef RP_COMMON_DL_H
#define RP_COMMON_DL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

typedef struct rp__dl_sym {
    const char *name; /* symbol */
    size_t offset;    /* offsetof(api struct, its function pointer) */
} rp__dl_sym;

/* dlopens the first of sonames (NULL-terminated) that loads, resolves every
 * symbol into api, and returns the handle; NULL with err set ("<what> is
 * not available (...): install <install>", or the missing symbol) when
 * any step fails.  Not synchronised: call it under
 * pthread_once. */
void *rp__dl_load(const char *what, const char *const *sonames, const rp__dl_sym *syms, size_t nsyms,
                  void *api, const char *install, rp_error *err);

/* The once-per-process state of a library loaded on first use: a module
 * keeps one (static, RP_DL_ONCE_INIT) per library and a setup function
 * without arguments that loads it with rp__dl_once_load; its public entry
 * points call rp__dl_once_run(&state, setup, err) before using the table. */
typedef struct rp__dl_once {
    pthread_once_t once;
    bool ready;                   /* the table is filled and usable */
    void *handle;                 /* the dlopen handle (kept for the process) */
    char error[RP_ERROR_MSG_MAX]; /* why not, when not ready */
} rp__dl_once;

#define RP_DL_ONCE_INIT                                                                                      \
    {                                                                                                        \
        .once = PTHREAD_ONCE_INIT                                                                            \
    }

/* For a setup function: rp__dl_load, then the outcome recorded in o (ready
 * and handle, or the error).  Returns the handle, NULL on failure. */
void *rp__dl_once_load(rp__dl_once *o, const char *what, const char *const *sonames, const rp__dl_sym *syms,
                       size_t nsyms, void *api, const char *install);

/* For a setup function whose library loaded but could not start (an init
 * call failed): o is not ready, with this message. */
void rp__dl_once_fail(rp__dl_once *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs setup once per process (pthread_once).  Returns 0 when it left o
 * ready, else -1 with err set to o's error (RP_ERR_UNSUPPORTED). */
int rp__dl_once_run(rp__dl_once *o, void (*setup)(void), rp_error *err);

#endif
