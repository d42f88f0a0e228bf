/* Loading a library on first use (src/common/dl.c): the first soname that
 * loads is taken, every symbol lands in its slot, and a missing library or
 * symbol is refused with a message that names it and what to install. */
#include "common/dl.h"
#include "testing.h"

#include <dlfcn.h>

typedef struct zapi {
    const char *(*zlibVersion)(void);
    unsigned long (*crc32)(unsigned long, const unsigned char *, unsigned);
} zapi;

static const rp_dl_sym zsyms[] = {
    {"zlibVersion", offsetof(zapi, zlibVersion)},
    {"crc32", offsetof(zapi, crc32)},
};

TEST(loads_the_first_that_exists)
{
    static const char *const sonames[] = {"libridepred-no-such-library.so.9", "libz.so.1", NULL};
    zapi api = {0};
    rp_error err;
    void *lib = rp_dl_load("zlib", sonames, zsyms, 2, &api, "zlib1g", &err);
    CHECK(lib != NULL);
    if (!lib)
        return;
    CHECK(api.zlibVersion != NULL && api.zlibVersion()[0] == '1');
    /* CRC-32 of "123456789", the standard check value. */
    CHECK(api.crc32 && api.crc32(0, (const unsigned char *)"123456789", 9) == 0xCBF43926UL);
    dlclose(lib);
}

TEST(missing_library)
{
    static const char *const sonames[] = {"libridepred-no-such-library.so.9", NULL};
    zapi api = {0};
    rp_error err;
    CHECK(rp_dl_load("the frobnicator", sonames, zsyms, 2, &api, "libfrob1", &err) == NULL);
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "the frobnicator is not available (") == err.msg);
    CHECK(strstr(err.msg, "libridepred-no-such-library.so.9") != NULL); /* dlerror's words */
    CHECK(strstr(err.msg, "install libfrob1") != NULL);
    CHECK(api.zlibVersion == NULL);
}

TEST(missing_symbol)
{
    static const char *const sonames[] = {"libz.so.1", NULL};
    static const rp_dl_sym syms[] = {
        {"zlibVersion", offsetof(zapi, zlibVersion)},
        {"rp_no_such_function", offsetof(zapi, crc32)},
    };
    zapi api = {0};
    rp_error err;
    CHECK(rp_dl_load("zlib", sonames, syms, 2, &api, "zlib1g", &err) == NULL);
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "zlib (libz.so.1) lacks rp_no_such_function: install a current zlib1g");
}

int main(void)
{
    RUN(loads_the_first_that_exists);
    RUN(missing_library);
    RUN(missing_symbol);
    return rp_t_done();
}
