/* Loading a library on first use (src/common/dl.c): the first soname that
 * loads is taken, every symbol lands in its slot, and a missing library or
 * symbol is refused with a message that names it and what to install; the
 * once-per-process state runs a setup once and repeats its failure. */
#include "common/dl.h"
#include "testing.h"

#include <dlfcn.h>

typedef struct zapi {
    const char *(*zlibVersion)(void);
    unsigned long (*crc32)(unsigned long, const unsigned char *, unsigned);
} zapi;

static const rp__dl_sym zsyms[] = {
    {"zlibVersion", offsetof(zapi, zlibVersion)},
    {"crc32", offsetof(zapi, crc32)},
};

TEST(loads_the_first_that_exists)
{
    static const char *const sonames[] = {"libridepred-no-such-library.so.9", "libz.so.1", NULL};
    zapi api = {0};
    rp_error err;
    void *lib = rp__dl_load("zlib", sonames, zsyms, 2, &api, "zlib1g", &err);
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
    CHECK(rp__dl_load("the frobnicator", sonames, zsyms, 2, &api, "libfrob1", &err) == NULL);
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "the frobnicator is not available (") == err.msg);
    CHECK(strstr(err.msg, "libridepred-no-such-library.so.9") != NULL); /* dlerror's words */
    CHECK(strstr(err.msg, "install libfrob1") != NULL);
    CHECK(api.zlibVersion == NULL);
}

TEST(missing_symbol)
{
    static const char *const sonames[] = {"libz.so.1", NULL};
    static const rp__dl_sym syms[] = {
        {"zlibVersion", offsetof(zapi, zlibVersion)},
        {"rp_no_such_function", offsetof(zapi, crc32)},
    };
    zapi api = {0};
    rp_error err;
    CHECK(rp__dl_load("zlib", sonames, syms, 2, &api, "zlib1g", &err) == NULL);
    CHECK(err.code == RP_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "zlib (libz.so.1) lacks rp_no_such_function: install a current zlib1g");
}

/* rp__dl_once: the setup runs once however often the library is asked for;
 * its failure is reported every time, with the same message. */
static rp__dl_once good = RP_DL_ONCE_INIT, bad = RP_DL_ONCE_INIT, broken = RP_DL_ONCE_INIT;
static zapi good_api, bad_api;
static int good_runs, bad_runs, broken_runs;

static void good_setup(void)
{
    static const char *const sonames[] = {"libz.so.1", NULL};
    good_runs++;
    rp__dl_once_load(&good, "zlib", sonames, zsyms, 2, &good_api, "zlib1g");
}

static void bad_setup(void)
{
    static const char *const sonames[] = {"libridepred-no-such-library.so.9", NULL};
    bad_runs++;
    rp__dl_once_load(&bad, "the frobnicator", sonames, zsyms, 2, &bad_api, "libfrob1");
}

static void broken_setup(void)
{
    static const char *const sonames[] = {"libz.so.1", NULL};
    broken_runs++;
    if (rp__dl_once_load(&broken, "zlib", sonames, zsyms, 2, &bad_api, "zlib1g"))
        rp__dl_once_fail(&broken, "zlib initialisation failed: %d", 42);
}

TEST(once_per_process)
{
    rp_error err;
    for (int i = 0; i < 3; i++) {
        CHECK(rp__dl_once_run(&good, good_setup, &err) == 0);
        CHECK(rp__dl_once_run(&bad, bad_setup, &err) == -1);
        CHECK(err.code == RP_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "the frobnicator is not available (") == err.msg);
        CHECK(rp__dl_once_run(&broken, broken_setup, &err) == -1);
        CHECK_STR(err.msg, "zlib initialisation failed: 42");
    }
    CHECK(good_runs == 1 && bad_runs == 1 && broken_runs == 1);
    CHECK(good.ready && good.handle != NULL && good_api.zlibVersion != NULL);
    CHECK(!bad.ready && bad.handle == NULL);
    CHECK(!broken.ready && broken.handle != NULL); /* loaded, kept, but not usable */
}

int main(void)
{
    RUN(loads_the_first_that_exists);
    RUN(missing_library);
    RUN(missing_symbol);
    RUN(once_per_process);
    return rp_t_done();
}
