/* ridepred invoke: the handler once on an event. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "event/event.h"
#include "ridepred/handler.h"
#include "service/function.h"

static const char help[] =
    "usage: ridepred invoke [--model PATH] [OPTIONS] [EVENT_FILE | -]\n"
    "\n"
    "Runs the handler once on a Lambda event (a Kinesis event {\"Records\": [...]}\n"
    "or a direct ride event {\"ride\": {...}, \"ride_id\": ...}) read from EVENT_FILE\n"
    "or stdin, and prints the response, byte for byte what the Python function's\n"
    "json.dumps prints.\n"
    "\n"
    "options:\n"
    "  --model PATH          a model: JSON (ridepred.model/1), native, scikit-learn\n"
    "                        pickle, XGBoost JSON/UBJSON, or an MLflow model\n"
    "                        directory, local or s3://BUCKET/PREFIX (default:\n"
    "                        $MODEL_LOCATION, else s3://$MODEL_BUCKET/\n"
    "                        ${MLFLOW_EXPERIMENT_ID:-1}/$RUN_ID/artifacts/model)\n"
    "  --no-cache            download an s3:// model again instead of using the\n"
    "                        cached copy (also RIDEPRED_MODEL_CACHE=off)\n"
    "  --preprocessor PICKLE the DictVectorizer of an XGBoost booster (the\n"
    "                        course's week-2 preprocessor.b)\n"
    "  --run-id ID           the version reported, unless --model-version (default: $RUN_ID)\n"
    "  --model-version V     the version reported (default: $MODEL_VERSION, else the\n"
    "                        run id, else the model's own version, else \"unknown\")\n"
    "  --predictions-stream S  where predictions are published (default:\n"
    "                        $PREDICTIONS_STREAM_NAME, else ride_predictions)\n"
    "  --test-run            compute and answer, publish nothing (as TEST_RUN=True)\n"
    RP_STREAM_OPTS_HELP
    "  --log-format F        text or json\n"
    "  --log-level L         debug, info, warn, error or off\n"
    "  -h, --help            this help\n"
    "\n"
    "Publishing: unless TEST_RUN is exactly True (or --test-run), each prediction\n"
    "of a Kinesis event is put to the predictions stream (Data: the prediction\n"
    "event, PartitionKey: str(ride_id)); a record that could not be published\n"
    "is named in batchItemFailures.  Direct ride events are never published.\n"
    "\n"
    "exit status: 0 answered; 1 the answer is an error (InvalidEvent: printed\n"
    "first); 2 bad usage; 3 could not run (model, file).\n";

int rp_cmd_invoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"run-id", required_argument, NULL, 'r'},
        {"model-version", required_argument, NULL, 'v'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"predictions-stream", required_argument, NULL, 'P'},
        {"preprocessor", required_argument, NULL, 'X'},
        {"no-cache", no_argument, NULL, 'C'},
        {"test-run", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config scfg = {0};
    const char *out_stream = NULL, *preprocessor = NULL;
    bool test_run = false;
    const char *model_flag = NULL, *run_id = NULL, *model_version = NULL, *log_format = NULL,
               *log_level = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp_cli_stream_opt(c, optarg, &scfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'P': out_stream = optarg; break;
        case 'X': preprocessor = optarg; break;
        case 'C': setenv("RIDEPRED_MODEL_CACHE", "off", 1); break;
        case 'T': test_run = true; break;
        case 'm': model_flag = optarg; break;
        case 'r': run_id = optarg; break;
        case 'v': model_version = optarg; break;
        case 'F': log_format = optarg; break;
        case 'L': log_level = optarg; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "ridepred invoke: one event file at most\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    if (rp_cli_logging(log_format, log_level) < 0)
        return RP_EXIT_USAGE;
    if (run_id)
        setenv("RUN_ID", run_id, 1);
    if (model_version)
        setenv("MODEL_VERSION", model_version, 1);
    const char *location = rp_cli_model_location(model_flag);
    if (!location)
        return RP_EXIT_USAGE;
    const char *path = optind < argc ? argv[optind] : "-";

    int rc = RP_EXIT_FAILURE;
    rp_function *fn = NULL;
    rp_worker *w = NULL;
    char *event = NULL;
    size_t len = 0;
    rp_error err;
    rp_function_config fcfg = {.model_location = location,
                               .preprocessor = preprocessor,
                               .predictions_stream = out_stream,
                               .test_run = test_run,
                               .streams = scfg};
    if (rp_function_open(&fcfg, &fn, &err) < 0 || !(w = rp_worker_new(fn, &err))) {
        rp_cli_error("%s", err.msg);
        goto out;
    }
    /* One byte over the limit is enough to know the event is too large. */
    event = rp_cli_read_file(path, RP_EVENT_MAX_BYTES + 1, &len, &err);
    if (!event) {
        if (err.code != RP_ERR_LIMIT) {
            rp_cli_error("%s", err.msg);
            goto out;
        }
        /* Too large: the handler answers with its error shape. */
        len = RP_EVENT_MAX_BYTES + 1;
        event = calloc(1, len);
        if (!event)
            goto out;
    }
    rp_invoke_result res;
    if (rp_worker_invoke(w, event, len, &res) < 0) {
        rp_cli_error("out of memory");
        goto out;
    }
    fwrite(res.body, 1, res.body_len, stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0) {
        rp_cli_error("cannot write the response");
        goto out;
    }
    rc = res.status == RP_INVOKE_OK ? RP_EXIT_OK : RP_EXIT_FUNCTION_ERROR;
out:
    free(event);
    rp_worker_free(w);
    rp_function_close(fn);
    return rc;
}
