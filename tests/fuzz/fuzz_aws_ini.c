/* libFuzzer target: the AWS shared config / credentials file parser on
 * arbitrary bytes (passed as is: the parser must not read past len nor need
 * a NUL), then the lookups the credentials chain makes on what it accepts:
 * every section's name and a few keys in each, the usual profiles, and a
 * walk over every option.  Values and names handed back must be
 * NUL-terminated strings that live as long as the rp__ini. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws/ini.h"

static const char *const keys[] = {
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "s3", "",
};
static const char *const profiles[] = {
    "default", "DEFAULT", "profile default", "dev", "profile dev", "", "[",
};

typedef struct walk {
    const rp__ini *ini;
    size_t n, bytes;
} walk;

static void visit(void *ctx, const char *section, const char *key, const char *value, int line, bool nested)
{
    walk *w = ctx;
    if (!section || !key || !value || line < 1)
        __builtin_trap();
    w->n++;
    w->bytes += strlen(section) + strlen(key) + strlen(value) + (nested ? 1 : 0);
    /* What a section holds (its own, or from [DEFAULT]) is found again. */
    bool is_default = strcmp(section, "DEFAULT") == 0;
    if (!is_default && !rp__ini_has_section(w->ini, section))
        __builtin_trap();
    if (is_default)
        return;
    int l2 = 0;
    bool n2 = false;
    const char *v = rp__ini_get(w->ini, section, key, &l2, &n2);
    if (!v || strcmp(v, value) != 0 || l2 != line || n2 != nested)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size && i < 64; i++)
        (void)rp__py_space_len((const char *)data + i, (const char *)data + size);

    rp__ini *ini = NULL;
    rp_error err;
    if (rp__ini_parse((const char *)data, size, "fuzz/credentials", &ini, &err) != 0) {
        if (ini || !err.msg[0])
            __builtin_trap();
        return 0;
    }
    if (strcmp(rp__ini_path(ini), "fuzz/credentials") != 0)
        __builtin_trap();

    size_t n = rp__ini_section_count(ini);
    for (size_t i = 0; i < n; i++) {
        const char *name = rp__ini_section_name(ini, i);
        if (!name || !rp__ini_has_section(ini, name))
            __builtin_trap();
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            int line = 0;
            bool nested = false;
            const char *v = rp__ini_get(ini, name, keys[k], &line, &nested);
            if (v && (line < 1 || strlen(v) > size))
                __builtin_trap();
        }
    }
    for (size_t p = 0; p < sizeof profiles / sizeof *profiles; p++) {
        (void)rp__ini_has_section(ini, profiles[p]);
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            (void)rp__ini_get(ini, profiles[p], keys[k], NULL, NULL);
    }
    walk w = {.ini = ini};
    rp__ini_foreach(ini, visit, &w);
    rp__ini_free(ini);
    return 0;
}
