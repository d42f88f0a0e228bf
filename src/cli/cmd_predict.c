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
    "  --distance X          trip_distance (a finite number)\n"
    RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 printed; 1 the ride cannot be served (reason on stderr);\n"
    "2 bad usage; 3 could not run (model).\n";

/* A flag value as JSON: itself when it is a JSON number, else a string. */
static void put_scalar(rp_buf *b, const char *s)
{
    rp_json_reader r;
    rp_json_value v;
    rp_json_init(&r, s, strlen(s), 1);
    if (rp_json_next(&r, &v) == 1 && v.type == RP_JSON_NUMBER && rp_json_end(&r) == 1)
        rp_buf_puts(b, s);
    else
        rp_pyjson_utf8(b, s, strlen(s));
}

int rp_cmd_predict(int argc, char **argv)
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
    rp_cli_log_opts lo = {0};
    bool no_cache = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (rp_cli_log_opt(c, optarg, &lo))
            continue;
        switch (c) {
        case 'm': model_flag = optarg; break;
        case 'p': pu = optarg; break;
        case 'd': dol = optarg; break;
        case 'x': dist = optarg; break;
        case 'X': preprocessor = optarg; break;
        case 'C': no_cache = true; break;
        case 'B':
            if (rp_cli_max_model_bytes_opt(optarg) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp_cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    bool flags = pu || dol || dist;
    if ((flags && optind != argc) || (!flags && argc - optind != 1) ||
        (flags && (!pu || !dol || !dist))) {
        fprintf(stderr, "ridepred predict: give --pu, --do and --distance, or one JSON ride\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    const char *location = rp_cli_model_location(model_flag, rp_cli_run_id(NULL));
    if (!location)
        return RP_EXIT_USAGE;

    int rc = RP_EXIT_FAILURE;
    rp_buf doc, scratch;
    rp_buf_init(&doc, 2 * 1024 * 1024);
    rp_buf_init(&scratch, 2 * 1024 * 1024);
    rp_model *m = rp_cli_load_model(location, preprocessor, no_cache);
    if (!m)
        goto out;
    rp_buf_lit(&doc, "{\"ride\": ");
    if (flags) {
        rp_buf_lit(&doc, "{\"PULocationID\": ");
        put_scalar(&doc, pu);
        rp_buf_lit(&doc, ", \"DOLocationID\": ");
        put_scalar(&doc, dol);
        rp_buf_lit(&doc, ", \"trip_distance\": ");
        put_scalar(&doc, dist);
        rp_buf_putc(&doc, '}');
    } else {
        rp_buf_puts(&doc, argv[optind]);
    }
    rp_buf_lit(&doc, ", \"ride_id\": 0}");
    if (doc.failed) {
        rp_cli_error("the ride is too large");
        goto out;
    }
    rp_ride_fields f;
    rp_row row;
    rp_error why;
    double pred;
    if (rp_ride_parse(doc.data, doc.len, &f, &why) < 0 ||
        rp_ride_features(&f, m, &scratch, &row, &why) < 0 ||
        rp_model_predict(m, &row, &pred, &why) < 0) {
        rp_cli_error("cannot predict this ride: %s", why.msg);
        rc = RP_EXIT_FUNCTION_ERROR;
        goto out;
    }
    char text[RP_PYFLOAT_MAX];
    rp_pyfloat_repr(pred, text);
    printf("%s\n", text);
    rc = RP_EXIT_OK;
out:
    rp_buf_cleanup(&doc);
    rp_buf_cleanup(&scratch);
    rp_model_release(m);
    return rc;
}
