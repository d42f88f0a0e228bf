/* SQLite, loaded on first use (see sqlite_api.h). */
#include "stream/sqlite_api.h"

#include "common/dl.h"

rp_sqlite_api rp_sq;

/* Each pointer has exactly the type of the function sqlite3.h declares. */
#define RP_SQLITE_CHECK(ret, name, args)                                                      \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&sqlite3_##name), ret(*) args),   \
                   "sqlite3_" #name ": the pointer type differs from sqlite3.h");
RP_SQLITE_FUNCS(RP_SQLITE_CHECK)
#undef RP_SQLITE_CHECK

static rp_dl_once lib = RP_DL_ONCE_INIT;

static void load(void)
{
    static const char *const sonames[] = {RP_LIBSQLITE_SONAME, NULL};
    static const rp_dl_sym syms[] = {
#define RP_SQLITE_SYM(ret, name, args) {"sqlite3_" #name, offsetof(rp_sqlite_api, name)},
        RP_SQLITE_FUNCS(RP_SQLITE_SYM)
#undef RP_SQLITE_SYM
    };
    rp_dl_once_load(&lib, "SQLite", sonames, syms, sizeof syms / sizeof syms[0], &rp_sq,
                    "libsqlite3 (Debian: apt-get install libsqlite3-0)");
}

int rp_sqlite_load(rp_error *err)
{
    return rp_dl_once_run(&lib, load, err);
}
