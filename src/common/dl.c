/* See dl.h. */
#include "common/dl.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void *rp__dl_load(const char *what, const char *const *sonames, const rp__dl_sym *syms, size_t nsyms,
                  void *api, const char *install, rp_error *err)
{
    void *lib = NULL;
    const char *why = NULL;
    for (size_t i = 0; sonames[i] && !lib; i++) {
        lib = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib)
            why = dlerror();
    }
    if (!lib) {
        rp_error_set(err, RP_ERR_UNSUPPORTED, "%s is not available (%s): install %s", what,
                     why ? why : "cannot load it", install);
        return NULL;
    }
    for (size_t i = 0; i < nsyms; i++) {
        void *f = dlsym(lib, syms[i].name);
        if (!f) {
            rp_error_set(err, RP_ERR_UNSUPPORTED, "%s (%s) lacks %s: install a current %s", what, sonames[0],
                         syms[i].name, install);
            dlclose(lib);
            return NULL;
        }
        /* POSIX guarantees that a dlsym result converts to a function pointer. */
        memcpy((char *)api + syms[i].offset, &f, sizeof f);
    }
    return lib;
}

void *rp__dl_once_load(rp__dl_once *o, const char *what, const char *const *sonames, const rp__dl_sym *syms,
                       size_t nsyms, void *api, const char *install)
{
    rp_error err;
    o->handle = rp__dl_load(what, sonames, syms, nsyms, api, install, &err);
    o->ready = o->handle != NULL;
    if (!o->ready)
        snprintf(o->error, sizeof o->error, "%s", err.msg);
    return o->handle;
}

void rp__dl_once_fail(rp__dl_once *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error, sizeof o->error, fmt, ap);
    va_end(ap);
    o->ready = false;
}

int rp__dl_once_run(rp__dl_once *o, void (*setup)(void), rp_error *err)
{
    pthread_once(&o->once, setup);
    if (!o->ready)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s", o->error);
    return 0;
}
