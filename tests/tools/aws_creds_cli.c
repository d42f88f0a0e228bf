/* aws_creds_cli: the credential chain and the shared-file parser, for the
 * integration tests (tests/integration/test_aws_credentials_endpoint.py,
 * tests/integration/test_aws_ini.py).
 *
 *   aws_creds_cli [--profile NAME] [--region] [--timeout-ms N] [--attempts N]
 *     Resolves credentials (and the region with --region) and prints
 *       source=container-endpoint
 *       access_key_id=ASIA...
 *       session_token=yes|no
 *       expiration=<seconds since the epoch, 0 for none>
 *       region=<region>            (with --region)
 *     never the secret nor the token.  On failure prints
 *     "error: <code>: <message>" and "retriable: yes|no" on stderr and
 *     exits 1.  Logs (the HTTP client's retries at debug level) follow
 *     RIDEPRED_LOG_LEVEL / AWS_LAMBDA_LOG_FORMAT.
 *
 *   aws_creds_cli --ini FILE...
 *     Parses each file as ~/.aws/config is parsed and prints one JSON line
 *     per file: {"ok": true, "sections": {SECTION: {KEY: VALUE}}} where a
 *     section lists its own keys and those inherited from [DEFAULT], or
 *     {"ok": false, "error": "..."}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/ini.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "ridepred/log.h"

typedef struct dump {
    rp__buf *out;
    const char *section; /* the section being written */
    const rp__ini *ini;
    bool first_key;
    bool defaults_pass;
} dump;

static void put_key(dump *d, const char *key, const char *value)
{
    if (!d->first_key)
        rp__buf_lit(d->out, ", ");
    d->first_key = false;
    rp__pyjson_utf8(d->out, key, strlen(key));
    rp__buf_lit(d->out, ": ");
    rp__pyjson_utf8(d->out, value, strlen(value));
}

/* A section's own keys. */
static void visit_own(void *ctx, const char *section, const char *key, const char *value, int line,
                      bool nested)
{
    (void)line;
    (void)nested;
    dump *d = ctx;
    if (strcmp(section, d->section) == 0 && strcmp(section, "DEFAULT") != 0)
        put_key(d, key, value);
}

/* The [DEFAULT] keys the section does not override. */
static void visit_inherited(void *ctx, const char *section, const char *key, const char *value, int line,
                            bool nested)
{
    (void)line;
    (void)nested;
    dump *d = ctx;
    if (strcmp(section, "DEFAULT") != 0)
        return;
    bool own_nested;
    const char *own = rp__ini_get(d->ini, d->section, key, NULL, &own_nested);
    if (own == value) /* inherited (rp__ini_get fell back to [DEFAULT]) */
        put_key(d, key, value);
}

static int dump_ini(const char *path, rp__buf *out)
{
    rp__ini *ini = NULL;
    rp_error err;
    if (rp__ini_load(path, &ini, &err) != 0) {
        rp__buf_lit(out, "{\"ok\": false, \"error\": ");
        rp__pyjson_utf8(out, err.msg, strlen(err.msg));
        rp__buf_lit(out, "}\n");
        return 0;
    }
    rp__buf_lit(out, "{\"ok\": true, \"sections\": {");
    for (size_t i = 0; i < rp__ini_section_count(ini); i++) {
        const char *name = rp__ini_section_name(ini, i);
        if (i)
            rp__buf_lit(out, ", ");
        rp__pyjson_utf8(out, name, strlen(name));
        rp__buf_lit(out, ": {");
        dump d = {.out = out, .section = name, .ini = ini, .first_key = true};
        rp__ini_foreach(ini, visit_own, &d);
        rp__ini_foreach(ini, visit_inherited, &d);
        rp__buf_putc(out, '}');
    }
    rp__buf_lit(out, "}}\n");
    rp__ini_free(ini);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: aws_creds_cli [--profile NAME] [--region] [--timeout-ms N] [--attempts N]\n"
                    "       aws_creds_cli --ini FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* As the CLI reads them (src/cli/cli.c): the level of the retries' lines. */
    rp_log_level level = RP_LOG_INFO;
    const char *lv = getenv("RIDEPRED_LOG_LEVEL");
    if (lv && *lv)
        rp_log_level_parse(lv, &level);
    rp_log_configure(level, RP_LOG_TEXT);
    if (argc >= 2 && strcmp(argv[1], "--ini") == 0) {
        rp__buf out;
        rp__buf_init(&out, (size_t)64 * 1024 * 1024);
        for (int i = 2; i < argc; i++) {
            rp__buf_reset(&out);
            dump_ini(argv[i], &out);
            if (out.failed) {
                fprintf(stderr, "aws_creds_cli: output too large\n");
                rp__buf_cleanup(&out);
                return 2;
            }
            fwrite(out.data, 1, out.len, stdout);
        }
        rp__buf_cleanup(&out);
        return 0;
    }
    rp__aws_chain_options opt = {0};
    bool want_region = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--profile") && i + 1 < argc)
            opt.profile = argv[++i];
        else if (!strcmp(argv[i], "--region"))
            want_region = true;
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
            opt.container_timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--attempts") && i + 1 < argc)
            opt.container_retry = (rp__retry_policy){(unsigned)strtoul(argv[++i], NULL, 10), 50, 200};
        else
            return usage();
    }
    rp__aws_credentials c;
    rp_error err;
    if (rp__aws_credentials_resolve(&c, &opt, &err) != 0) {
        fprintf(stderr, "error: %s: %s\nretriable: %s\n", rp_code_name(err.code), err.msg,
                err.retriable ? "yes" : "no");
        return 1;
    }
    printf("source=%s\naccess_key_id=%s\nsession_token=%s\nexpiration=%lld\n", c.source, c.access_key_id,
           c.session_token[0] ? "yes" : "no", (long long)c.expiration);
    rp__aws_credentials_clear(&c);
    if (want_region) {
        char region[RP_AWS_REGION_MAX + 1];
        if (rp__aws_region_resolve(region, sizeof region, &opt, &err) != 0) {
            fprintf(stderr, "error: %s: %s\nretriable: no\n", rp_code_name(err.code), err.msg);
            return 1;
        }
        printf("region=%s\n", region);
    }
    return 0;
}
