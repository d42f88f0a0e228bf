/* ridepred predict: one ride from flags or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyfloat.h"
#include "common/pyjson.h"
#include "function/ride.h"

static const char help[] =
    "usage: ridepred predict [--model PATH] --pu P --do D --distance X\n"
    "       ridepred predict [--model PATH] '{\"PULocationID\": P, \"DOLocationID\": D, \"trip_distance\": X}'\n"
    "\n"
    "Prints the predicted duration in minutes, as Python prints the float.\n"
    "P and D are used as given: a number stays a number (130 forms PU_DO \"130_...\",\n"
    "130.0 forms \"130.0_...\"), anything else is a string.\n"
    "\n"
    "options:\n"
    "  --model PATH          a model file or MLflow directory (default: $MODEL_LOCATION)\n"
    "  --preprocessor P      the pickled DictVectorizer of an XGBoost booster\n"
    "  --no-cache            download an s3:// model again (RIDEPRED_MODEL_CACHE=off)\n"
    "  --max-model-bytes N   memory a converted model may build, e.g. 8G (default:\n"
    "                        $RIDEPRED_MAX_MODEL_BYTES, else 32 x its file's size + 64M,\n"
    "                        at most 4G)\n"
    "  --pu P                PULocationID\n"
    "  --do D                DOLocationID\n"
    "  --distance X          trip_distance (a finite number)\n" RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 printed; 1 the ride cannot be served (reason on stderr);\n"
    "2 bad usage; 3 could not run (model).\n";

/* A flag value as JSON: itself when it is a JSON number, else a string. */
static void put_scalar(rp__buf *b, const char *s)
{
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, s, strlen(s), 1);
    if (rp__json_next(&r, &v) == 1 && v.type == RP_JSON_NUMBER && rp__json_end(&r) == 1)
        rp__buf_puts(b, s);
    else
        rp__pyjson_utf8(b, s, strlen(s));
}

int rp__cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"pu", required_argument, NULL, 'p'},
        {"do", required_argument, NULL, 'd'},
        {"distance", required_argument, NULL, 'x'},
        {"preprocessor", required_argument, NULL, 'X'},
        {"no-cache", no_argument, NULL, 'C'},
        {"max-model-bytes", required_argument, NULL, 'B'},
        RP_LOG_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_flag = NULL, *pu = NULL, *dol = NULL, *dist = NULL, *preprocessor = NULL;
    rp__cli_log_opts lo = {0};
    bool no_cache = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (rp__cli_log_opt(c, optarg, &lo))
            continue;
        switch (c) {
        case 'm': model_flag = optarg; break;
        case 'p': pu = optarg; break;
        case 'd': dol = optarg; break;
        case 'x': dist = optarg; break;
        case 'X': preprocessor = optarg; break;
        case 'C': no_cache = true; break;
        case 'B':
            if (rp__cli_max_model_bytes_opt(optarg) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    bool flags = pu || dol || dist;
    if ((flags && optind != argc) || (!flags && argc - optind != 1) || (flags && (!pu || !dol || !dist))) {
        fprintf(stderr, "ridepred predict: give --pu, --do and --distance, or one JSON ride\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    const char *location = rp__cli_model_location(model_flag, rp__cli_run_id(NULL));
    if (!location)
        return RP_EXIT_USAGE;

    int rc = RP_EXIT_FAILURE;
    rp__buf doc, scratch;
    rp__buf_init(&doc, 2 * 1024 * 1024);
    rp__buf_init(&scratch, 2 * 1024 * 1024);
    rp_model *m = rp__cli_load_model(location, preprocessor, no_cache);
    if (!m)
        goto out;
    rp__buf_lit(&doc, "{\"ride\": ");
    if (flags) {
        rp__buf_lit(&doc, "{\"PULocationID\": ");
        put_scalar(&doc, pu);
        rp__buf_lit(&doc, ", \"DOLocationID\": ");
        put_scalar(&doc, dol);
        rp__buf_lit(&doc, ", \"trip_distance\": ");
        put_scalar(&doc, dist);
        rp__buf_putc(&doc, '}');
    } else {
        rp__buf_puts(&doc, argv[optind]);
    }
    rp__buf_lit(&doc, ", \"ride_id\": 0}");
    if (doc.failed) {
        rp__cli_error("the ride is too large");
        goto out;
    }
    rp__ride_fields f;
    rp_row row;
    rp_error why;
    double pred;
    if (rp__ride_parse(doc.data, doc.len, &f, &why) < 0 ||
        rp__ride_features(&f, m, &scratch, &row, &why) < 0 || rp_model_predict(m, &row, &pred, &why) < 0) {
        rp__cli_error("cannot predict this ride: %s", why.msg);
        rc = RP_EXIT_FUNCTION_ERROR;
        goto out;
    }
    char text[RP_PYFLOAT_MAX];
    rp__pyfloat_repr(pred, text);
    printf("%s\n", text);
    rc = RP_EXIT_OK;
out:
    rp__buf_cleanup(&doc);
    rp__buf_cleanup(&scratch);
    rp_model_release(m);
    return rc;
}
