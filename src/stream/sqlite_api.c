/* SQLite, loaded on first use (see sqlite_api.h). */
#include "stream/sqlite_api.h"

#include <stdlib.h>
#include <string.h>

#include "common/dl.h"
#include "common/file.h"

rp__sqlite_api rp__sq;

/* Each pointer has exactly the type of the function sqlite3.h declares. */
#define RP_SQLITE_CHECK(ret, name, args)                                                                     \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&sqlite3_##name), ret(*) args),                   \
                   "sqlite3_" #name ": the pointer type differs from sqlite3.h");
RP_SQLITE_FUNCS(RP_SQLITE_CHECK)
#undef RP_SQLITE_CHECK

static rp__dl_once lib = RP_DL_ONCE_INIT;

static void load(void)
{
    static const char *const sonames[] = {RP_LIBSQLITE_SONAME, NULL};
    static const rp__dl_sym syms[] = {
#define RP_SQLITE_SYM(ret, name, args) {"sqlite3_" #name, offsetof(rp__sqlite_api, name)},
        RP_SQLITE_FUNCS(RP_SQLITE_SYM)
#undef RP_SQLITE_SYM
    };
    rp__dl_once_load(&lib, "SQLite", sonames, syms, sizeof syms / sizeof syms[0], &rp__sq,
                     "libsqlite3 (Debian: apt-get install libsqlite3-0)");
}

int rp__sqlite_load(rp_error *err)
{
    return rp__dl_once_run(&lib, load, err);
}

int rp__sqlite_check_files(const char *path, rp_error *err)
{
    if (rp__file_check_regular(path, err) < 0)
        return -1;
    static const char *const companions[] = {"-wal", "-journal", "-shm"};
    size_t n = strlen(path);
    char *p = malloc(n + 16);
    if (!p)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < sizeof companions / sizeof companions[0] && rc == 0; i++) {
        memcpy(p, path, n);
        strcpy(p + n, companions[i]);
        rc = rp__file_check_regular(p, err);
    }
    free(p);
    return rc;
}
