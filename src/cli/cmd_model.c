/* ridepred model convert | inspect. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyjson.h"
#include "ridepred/log.h"

static const char help[] =
    "usage: ridepred model convert [--preprocessor PICKLE] [--max-model-bytes N] SRC DST\n"
    "       ridepred model inspect [--json] [--preprocessor PICKLE] [--max-model-bytes N] PATH\n"
    "\n"
    "convert  reads a model (JSON ridepred.model/1 or native) and writes it in the\n"
    "         native format (docs/model-format.md): checksummed, mmap'd at load,\n"
    "         so serving starts in milliseconds.  DST is replaced atomically.\n"
    "inspect  prints what a model is: kind, features, trees, nodes, depth,\n"
    "         version, bytes, and where it came from (MLflow flavor, files,\n"
    "         library versions, estimator classes; kept by convert);\n"
    "         --json for a machine-readable object.  Loading\n"
    "         verifies a native file's checksum and structure.\n"
    "\n"
    "SRC/PATH: a JSON or native model, a scikit-learn pickle, an XGBoost JSON or\n"
    "UBJSON booster (with --preprocessor, its pickled DictVectorizer, unless the\n"
    "booster carries feature names), or an MLflow model directory (sklearn,\n"
    "xgboost, python_function or ridepred flavor), local or s3://BUCKET/PREFIX\n"
    "(downloaded once, cached under $RIDEPRED_MODEL_CACHE_DIR, default\n"
    "/tmp/ridepred-models; RIDEPRED_MODEL_CACHE=off downloads again).\n"
    "\n"
    "--max-model-bytes N: the memory a converted model (pickle, XGBoost) may\n"
    "build, e.g. 8G (default: $RIDEPRED_MAX_MODEL_BYTES, else 32 x its file's\n"
    "size + 64M, at most 4G); a model that needs more is refused.\n"
    "\n"
    "options (anywhere after 'model'):\n" RP_LOG_OPTS_HELP "  -h, --help            this help\n"
    "\n"
    "exit status: 0 done; 2 bad usage; 3 the model could not be read or written.\n";

static const char *preprocessor;

/* Takes every "--NAME VALUE" and "--NAME=VALUE" off argv[0..*argc) (the
 * last one wins) into *value.  Returns 0, or -1 (printed) when the last
 * argument is --NAME with no value. */
static int take_opt(int *argc, char **argv, const char *name, const char **value)
{
    size_t nl = strlen(name);
    for (int i = 0; i < *argc;) {
        const char *a = argv[i];
        int used = 0;
        if (!strncmp(a, "--", 2) && !strncmp(a + 2, name, nl) && a[2 + nl] == '=') {
            *value = a + 3 + nl;
            used = 1;
        } else if (!strncmp(a, "--", 2) && !strcmp(a + 2, name)) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "ridepred model: --%s needs a value\n", name);
                return -1;
            }
            *value = argv[i + 1];
            used = 2;
        } else {
            i++;
            continue;
        }
        for (int j = i; j + used < *argc; j++)
            argv[j] = argv[j + used];
        *argc -= used;
    }
    return 0;
}

/* Takes --preprocessor PICKLE and --max-model-bytes N off the arguments.
 * Returns 0, or -1 (printed) on bad usage. */
static int take_options(int *argc, char **argv)
{
    const char *max = NULL;
    if (take_opt(argc, argv, "preprocessor", &preprocessor) < 0 ||
        take_opt(argc, argv, "max-model-bytes", &max) < 0)
        return -1;
    return max && rp__cli_max_model_bytes_opt(max) < 0 ? -1 : 0;
}

static int convert(int argc, char **argv)
{
    if (take_options(&argc, argv) < 0)
        return RP_EXIT_USAGE;
    if (argc != 2) {
        fprintf(stderr, "ridepred model convert: needs SRC and DST\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rp_model *m = rp__cli_load_model(argv[0], preprocessor, false);
    if (!m)
        return RP_EXIT_FAILURE;
    rp_error err;
    int rc = RP_EXIT_OK;
    if (rp_model_write_native(m, argv[1], &err) < 0) {
        rp__cli_error("%s", err.msg);
        rc = RP_EXIT_FAILURE;
    } else {
        rp_model_info info;
        rp_model_get_info(m, &info);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        char bytes[32], took[32];
        snprintf(bytes, sizeof bytes, "%zu", info.bytes);
        snprintf(took, sizeof took, "%.1f", ms);
        rp_log(RP_LOG_INFO, "model converted", "from", argv[0], "to", argv[1], "bytes", bytes, "ms", took,
               NULL);
    }
    rp_model_release(m);
    return rc;
}

/* The model's source (rp_model_info.source) as text lines "  key: value";
 * arrays are joined with ", ".  Returns -1 when it is not a JSON object. */
static int source_text(rp__buf *b, const char *src, size_t len)
{
    rp__json_reader r;
    rp__json_value v, k;
    rp__json_init(&r, src, len, 4);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return -1;
    size_t start = b->len;
    char *tmp = malloc(len + 1);
    if (!tmp)
        return -1;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        size_t kl = rp__json_str_decode(&k, tmp);
        rp__buf_printf(b, "  %-26.*s ", (int)kl, tmp);
        if (rp__json_next(&r, &v) != 1)
            goto bad;
        if (v.type == RP_JSON_ARRAY) {
            bool first = true;
            while ((rc = rp__json_element(&r)) == 1) {
                if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_STRING)
                    goto bad;
                rp__buf_puts(b, first ? "" : ", ");
                rp__buf_append(b, tmp, rp__json_str_decode(&v, tmp));
                first = false;
            }
            if (rc < 0)
                goto bad;
        } else if (v.type == RP_JSON_STRING) {
            rp__buf_append(b, tmp, rp__json_str_decode(&v, tmp));
        } else if (v.type == RP_JSON_NUMBER) {
            rp__buf_append(b, v.ptr, v.len);
        } else {
            goto bad;
        }
        rp__buf_putc(b, '\n');
    }
    if (rc < 0 || rp__json_end(&r) != 1)
        goto bad;
    free(tmp);
    return 0;
bad:
    free(tmp);
    b->len = start;
    return -1;
}

/* A name or version for people: as it is when it is printable UTF-8,
 * else quoted and escaped as json.dumps would (a NUL, a control byte or
 * bad UTF-8 is shown, never cuts the value or garbles the terminal). */
static void text_value(rp__buf *b, const char *s, size_t n)
{
    bool plain = n > 0;
    for (size_t i = 0; plain && i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"') {
            plain = false;
        } else if (c < 0x80) {
            i++;
        } else {
            const unsigned char *u = (const unsigned char *)s;
            size_t k = rp__utf8_seq(u + i, u + n);
            plain = k > 0;
            i += k;
        }
    }
    if (plain)
        rp__buf_append(b, s, n);
    else
        rp__pyjson_utf8(b, s, n);
}

static int inspect(int argc, char **argv)
{
    if (take_options(&argc, argv) < 0)
        return RP_EXIT_USAGE;
    bool json = false;
    int i = 0;
    if (i < argc && !strcmp(argv[i], "--json")) {
        json = true;
        i++;
    }
    if (argc - i != 1) {
        fprintf(stderr, "ridepred model inspect: needs one PATH\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    rp_model *m = rp__cli_load_model(argv[i], preprocessor, false);
    if (!m)
        return RP_EXIT_FAILURE;
    rp_model_info in;
    rp_model_get_info(m, &in);
    const char *kind = in.kind == RP_MODEL_LINEAR ? "linear" : "trees";
    rp__buf b;
    rp__buf_init(&b, 1 << 20);
    if (json) {
        rp__buf_lit(&b, "{\"path\": ");
        rp__pyjson_utf8(&b, argv[i], strlen(argv[i]));
        rp__buf_printf(&b, ", \"format\": \"%s\", \"kind\": \"%s\", \"name\": ", in.format, kind);
        rp__pyjson_utf8(&b, in.name, in.name_len);
        rp__buf_lit(&b, ", \"version\": ");
        rp__pyjson_utf8(&b, in.version, in.version_len);
        rp__buf_printf(&b, ", \"features\": %u, \"onehot_features\": %u", in.n_features, in.n_onehot);
        if (in.kind == RP_MODEL_TREES) {
            rp__buf_printf(
                &b,
                ", \"trees\": %u, \"nodes\": %llu, \"leaves\": %llu, \"max_depth\": %u, \"combine\": \"%s\", \"sum_float32\": %s, \"split\": \"%s\", \"base\": ",
                in.n_trees, (unsigned long long)in.n_nodes, (unsigned long long)in.n_leaves, in.max_depth,
                in.combine == RP_COMBINE_MEAN ? "mean" : "sum", in.sum_f32 ? "true" : "false",
                in.split == RP_SPLIT_LT ? "lt" : "le");
        } else {
            rp__buf_lit(&b, ", \"intercept\": ");
        }
        rp__pyjson_double(&b, in.base);
        rp__buf_printf(&b, ", \"bytes\": %zu, \"source\": ", in.bytes);
        if (!in.source || rp__json_compact(&b, in.source, in.source_len, 4) < 0)
            rp__buf_lit(&b, "null");
        rp__buf_lit(&b, "}\n");
    } else {
        rp__buf_printf(&b, "path:       %s\nformat:     %s\nkind:       %s\n", argv[i], in.format, kind);
        rp__buf_lit(&b, "name:       ");
        text_value(&b, in.name, in.name_len);
        rp__buf_lit(&b, "\nversion:    ");
        text_value(&b, in.version, in.version_len);
        rp__buf_putc(&b, '\n');
        rp__buf_printf(&b, "features:   %u (%u one-hot)\n", in.n_features, in.n_onehot);
        if (in.kind == RP_MODEL_TREES) {
            rp__buf_printf(
                &b,
                "trees:      %u (%s%s, split %s)\nnodes:      %llu (%llu leaves)\nmax depth:  %u\nbase:       ",
                in.n_trees, in.combine == RP_COMBINE_MEAN ? "mean" : "sum",
                in.sum_f32 ? " in float32, as XGBoost" : "", in.split == RP_SPLIT_LT ? "x < t" : "x <= t",
                (unsigned long long)in.n_nodes, (unsigned long long)in.n_leaves, in.max_depth);
        } else {
            rp__buf_lit(&b, "intercept:  ");
        }
        rp__pyjson_double(&b, in.base);
        rp__buf_printf(&b, "\nbytes:      %zu (native image)\n", in.bytes);
        rp__buf_lit(&b, "source:");
        if (!in.source)
            rp__buf_lit(
                &b,
                "     not recorded (a ridepred.model/1 JSON model, or one converted before ridepred recorded it)\n");
        else if (rp__buf_putc(&b, '\n'), source_text(&b, in.source, in.source_len) < 0)
            rp__buf_lit(&b, "  (unreadable)\n");
    }
    fwrite(b.data, 1, b.len, stdout);
    rp__buf_cleanup(&b);
    rp_model_release(m);
    return RP_EXIT_OK;
}

int rp__cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? RP_EXIT_USAGE : RP_EXIT_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return RP_EXIT_OK;
        }
    }
    /* The log options anywhere after "model", the subcommand first of the rest. */
    rp__cli_log_opts lo = {0};
    int n = argc - 1;
    if (take_opt(&n, argv + 1, "log-format", &lo.format) < 0 ||
        take_opt(&n, argv + 1, "log-level", &lo.level) < 0 || rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    argc = n + 1;
    if (argc < 2) {
        fputs(help, stderr);
        return RP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "convert"))
        return convert(argc - 2, argv + 2);
    if (!strcmp(argv[1], "inspect"))
        return inspect(argc - 2, argv + 2);
    fprintf(stderr, "ridepred model: unknown subcommand '%s'\n\n%s", argv[1], help);
    return RP_EXIT_USAGE;
}
