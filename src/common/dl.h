/* Loading a shared library on first use instead of linking it.
 *
 * Linking a library costs every start of the program its dynamic loading
 * (libcurl: ~5 ms with its ~30 dependencies; libmicrohttpd brings GnuTLS;
 * snappy brings libstdc++), and most runs (one `invoke`, a Lambda cold
 * start) never use it.  A module describes the functions it calls as a
 * table of (symbol, offset in its function-pointer struct) and loads them
 * all at once; only the library's headers are used at build time. */
#ifndef RP_COMMON_DL_H
#define RP_COMMON_DL_H

#include <stddef.h>

#include "ridepred/error.h"

typedef struct rp_dl_sym {
    const char *name;  /* symbol */
    size_t offset;     /* offsetof(api struct, its function pointer) */
} rp_dl_sym;

/* dlopens the first of sonames (NULL-terminated) that loads, resolves every
 * symbol into api, and returns the handle; NULL with err set ("<what> is
 * not available (...): install <install>", or the missing symbol) when
 * any step fails.  Not synchronised: call it under
 * pthread_once. */
void *rp_dl_load(const char *what, const char *const *sonames, const rp_dl_sym *syms, size_t nsyms, void *api,
                 const char *install, rp_error *err);

#endif
