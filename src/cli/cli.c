#define _XOPEN_SOURCE 700 /* strptime */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "ridepred/log.h"

int rp__cli_state_path(const char *file, char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') /* the XDG spec ignores relative paths */
        n = snprintf(buf, cap, "%s/ridepred/%s", xdg, file);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.local/state/ridepred/%s", home, file);
    else
        return -1;
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void rp__cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp_log(RP_LOG_ERROR, msg, NULL);
}

int rp__cli_logging(const char *format, const char *level)
{
    rp_log_format f = RP_LOG_TEXT;
    rp_log_level l = RP_LOG_INFO;
    const char *ef = getenv("AWS_LAMBDA_LOG_FORMAT");
    if (ef && *ef)
        rp_log_format_parse(ef, &f);
    const char *el = getenv("RIDEPRED_LOG_LEVEL");
    if (!el || !*el)
        el = getenv("AWS_LAMBDA_LOG_LEVEL");
    if (el && *el)
        rp_log_level_parse(el, &l);
    if (format && rp_log_format_parse(format, &f) < 0) {
        fprintf(stderr, "ridepred: --log-format must be text or json, not '%s'\n", format);
        return -1;
    }
    if (level && rp_log_level_parse(level, &l) < 0) {
        fprintf(stderr, "ridepred: --log-level must be debug, info, warn, error or off, not '%s'\n", level);
        return -1;
    }
    rp_log_configure(l, f);
    return 0;
}

int rp__cli_log_opt(int c, const char *arg, rp__cli_log_opts *o)
{
    switch (c) {
    case 0x300: o->format = arg; return 1;
    case 0x301: o->level = arg; return 1;
    default: return 0;
    }
}

char *rp__cli_read_file(const char *path, size_t max, size_t *len, rp_error *err)
{
    /* "-" is stdin, a pipe by intent; a path must be a regular file (a FIFO
     * is refused at once rather than waited on). */
    FILE *f = strcmp(path, "-") ? rp__file_fopen(path, err) : stdin;
    if (!f)
        return NULL;
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap > max) {
                free(buf);
                buf = NULL;
                rp_error_set(err, RP_ERR_LIMIT, "%s is larger than %zu bytes", path, max);
                break;
            }
            cap *= 2;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                buf = NULL;
                rp_error_set(err, RP_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
                rp_error_set(err, RP_ERR_IO, "cannot read %s", path);
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf && n > max) {
        free(buf);
        rp_error_set(err, RP_ERR_LIMIT, "%s is %zu bytes or more; the limit is %zu", path, n, max);
        return NULL;
    }
    if (buf) {
        buf[n] = '\0';
        *len = n;
    } else if (err && err->code == RP_OK) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory reading %s", path);
    }
    return buf;
}

const char *rp__cli_model_location(const char *flag, const char *run_id)
{
    if (flag && *flag)
        return flag;
    const char *env = getenv("MODEL_LOCATION");
    if (env && *env)
        return env;
    /* The Python version's default: the MLflow run's artifacts in S3. */
    static char from_run[1100];
    const char *bucket = getenv("MODEL_BUCKET");
    if (bucket && *bucket && run_id && *run_id) {
        const char *exp = getenv("MLFLOW_EXPERIMENT_ID");
        if (!exp || !*exp)
            exp = "1";
        if ((size_t)snprintf(from_run, sizeof from_run, "s3://%s/%s/%s/artifacts/model", bucket, exp,
                             run_id) >= sizeof from_run) {
            rp__cli_error(
                "MODEL_BUCKET, MLFLOW_EXPERIMENT_ID and RUN_ID make a model location that is too long");
            return NULL;
        }
        return from_run;
    }
    rp__cli_error(
        "no model: give --model PATH or set MODEL_LOCATION (a JSON or native model file, a "
        "scikit-learn pickle, an MLflow model directory, or s3://BUCKET/PREFIX), or set "
        "MODEL_BUCKET and RUN_ID (s3://$MODEL_BUCKET/${MLFLOW_EXPERIMENT_ID:-1}/$RUN_ID/artifacts/model)");
    return NULL;
}

int rp__cli_parse_bytes(const char *arg, size_t *out)
{
    if (!arg || *arg < '0' || *arg > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || v == 0)
        return -1;
    unsigned shift = 0;
    if (*end) {
        const char *units = "KkMmGg", *u = strchr(units, *end);
        if (!u || end[1])
            return -1;
        shift = 10 * (unsigned)(1 + (u - units) / 2);
    }
    if (v > (unsigned long long)SIZE_MAX >> shift)
        return -1;
    *out = (size_t)v << shift;
    return 0;
}

static size_t max_model_bytes_flag;

int rp__cli_max_model_bytes_opt(const char *arg)
{
    if (rp__cli_parse_bytes(arg, &max_model_bytes_flag) < 0) {
        rp__cli_error("--max-model-bytes must be a number of bytes (optionally with K, M or G), not '%s'",
                      arg);
        return -1;
    }
    return 0;
}

int rp__cli_max_model_bytes(size_t *out, char *why, size_t cap)
{
    *out = max_model_bytes_flag;
    const char *env = getenv("RIDEPRED_MAX_MODEL_BYTES");
    if (*out || !env || !*env)
        return 0;
    if (rp__cli_parse_bytes(env, out) < 0) {
        snprintf(
            why, cap,
            "RIDEPRED_MAX_MODEL_BYTES must be a number of bytes (optionally with K, M or G), not '%.64s'",
            env);
        return -1;
    }
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *rp__cli_run_id(const char *flag)
{
    return flag && *flag ? flag : env_nonempty("RUN_ID");
}

const char *rp__cli_model_version(const char *flag)
{
    return flag && *flag ? flag : env_nonempty("MODEL_VERSION");
}

int rp__cli_model_source(const char *location, const char *preprocessor, bool no_cache, rp__model_source *src,
                         rp_error *err)
{
    *src = (rp__model_source){.location = location, .preprocessor = preprocessor, .no_cache = no_cache};
    const char *v = getenv("RIDEPRED_MODEL_VERIFY");
    src->skip_checksum = v && !strcmp(v, "0");
    const char *cv = getenv("RIDEPRED_MODEL_CACHE");
    if (cv && (!strcasecmp(cv, "off") || !strcmp(cv, "0") || !strcasecmp(cv, "false")))
        src->no_cache = true;
    src->cache_dir = env_nonempty("RIDEPRED_MODEL_CACHE_DIR");
    if (rp__cli_max_model_bytes(&src->max_build_bytes, err ? err->msg : NULL, err ? sizeof err->msg : 0) <
        0) {
        if (err)
            err->code = RP_ERR_INVALID;
        return -1;
    }
    return 0;
}

rp_model *rp__cli_load_model(const char *location, const char *preprocessor, bool no_cache)
{
    rp__model_source src;
    rp_model *m = NULL;
    rp_error err;
    if (rp__cli_model_source(location, preprocessor, no_cache, &src, &err) < 0 ||
        rp__model_source_load(&src, &m, &err) < 0) {
        rp__cli_error("%s", err.msg);
        return NULL;
    }
    return m;
}

int rp__cli_parse_int(const char *opt, const char *arg, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = arg && *arg && !(min >= 0 && (*arg == '-' || *arg == '+')) ? strtoll(arg, &end, 10) : 0;
    if (!arg || !*arg || (min >= 0 && (*arg == '-' || *arg == '+')) || errno || *end || v < min || v > max) {
        if (opt)
            rp__cli_error("%s must be a whole number from %lld to %lld, not '%s'", opt, min, max,
                          arg ? arg : "");
        return -1;
    }
    *out = v;
    return 0;
}

int rp__cli_parse_time_ms(const char *iso, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    int64_t frac = 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*rest - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*rest && strcmp(rest, "Z") && strcmp(rest, "+00:00"))
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}
