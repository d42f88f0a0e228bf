/* ridepred invoke: the handler once on an event. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/function_opts.h"
#include "function/event.h"
#include "function/function.h"
#include "ridepred/handler.h"

static const char help[] =
    "usage: ridepred invoke [--model PATH] [OPTIONS] [EVENT_FILE | -]\n"
    "\n"
    "Runs the handler once on a Lambda event (a Kinesis event {\"Records\": [...]}\n"
    "or a direct ride event {\"ride\": {...}, \"ride_id\": ...}) read from EVENT_FILE\n"
    "or stdin, and prints the response, byte for byte what the Python function's\n"
    "json.dumps prints.\n"
    "\n"
    "options:\n" RP_FUNCTION_MODEL_OPTS_HELP RP_FUNCTION_PUBLISH_OPTS_HELP RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "Publishing: unless TEST_RUN is exactly True (or --test-run), each prediction\n"
    "of a Kinesis event is put to the predictions stream (Data: the prediction\n"
    "event, PartitionKey: str(ride_id)); a record that could not be published\n"
    "is named in batchItemFailures.  Direct ride events are never published.\n"
    "\n"
    "exit status: 0 answered; 1 the answer is an error (InvalidEvent: printed\n"
    "first); 2 bad usage; 3 could not run (model, file).\n";

int rp__cmd_invoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        RP_FUNCTION_MODEL_LONGOPTS,
        RP_FUNCTION_PUBLISH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp__cli_function_opts fo = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_function_opt(c, optarg, &fo);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "ridepred invoke: one event file at most\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    rp__function_config fcfg;
    if (rp__cli_function_config(&fo, &fcfg) < 0)
        return RP_EXIT_USAGE;
    const char *path = optind < argc ? argv[optind] : "-";

    int rc = RP_EXIT_FAILURE;
    rp__function *fn = NULL;
    rp__worker *w = NULL;
    char *event = NULL;
    size_t len = 0;
    rp_error err;
    if (rp__function_open(&fcfg, &fn, &err) < 0 || !(w = rp__worker_new(fn, &err))) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    /* One byte over the limit is enough to know the event is too large. */
    event = rp__cli_read_file(path, RP_EVENT_MAX_BYTES + 1, &len, &err);
    if (!event) {
        if (err.code != RP_ERR_LIMIT) {
            rp__cli_error("%s", err.msg);
            goto out;
        }
        /* Too large: the handler answers with its error shape. */
        len = RP_EVENT_MAX_BYTES + 1;
        event = calloc(1, len);
        if (!event)
            goto out;
    }
    rp_invoke_result res;
    if (rp__worker_invoke(w, event, len, &res) < 0) {
        rp__cli_error("out of memory");
        goto out;
    }
    fwrite(res.body, 1, res.body_len, stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0) {
        rp__cli_error("cannot write the response");
        goto out;
    }
    rc = res.status == RP_INVOKE_OK ? RP_EXIT_OK : RP_EXIT_FUNCTION_ERROR;
out:
    free(event);
    rp__worker_free(w);
    rp__function_close(fn);
    return rc;
}
