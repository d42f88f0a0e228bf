/* ridepred lambda (also the binary run as `bootstrap`): the AWS Lambda
 * custom runtime (src/lambda/lambda.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/function_opts.h"
#include "cli/monitor_opts.h"
#include "function/function.h"
#include "lambda/lambda.h"
#include "ridepred/log.h"

static const char help[] =
    "usage: ridepred lambda [--model PATH] [OPTIONS]\n"
    "       bootstrap        (the same binary, named bootstrap: what Lambda runs)\n"
    "\n"
    "The AWS Lambda custom runtime: loads the model once, then serves events from\n"
    "the Lambda Runtime API (2018-06-01) at $AWS_LAMBDA_RUNTIME_API: GET\n"
    "/runtime/invocation/next, POST .../response with the handler's answer (the\n"
    "same bytes as `ridepred invoke`), POST .../error for a function error\n"
    "(InvalidEvent) with Lambda-Runtime-Function-Error-Type.  An init failure (no\n"
    "model, a model that does not load, a bad configuration) is posted to\n"
    "/runtime/init/error and the process exits non-zero.\n"
    "\n"
    "Per invocation: the request id in every log line (\"requestId\" in JSON),\n"
    "Lambda-Runtime-Trace-Id passed on as _X_AMZN_TRACE_ID, and when less than the\n"
    "deadline margin is left before Lambda-Runtime-Deadline-Ms, publishing stops\n"
    "and the unpublished records are answered as batchItemFailures.  One\n"
    "CloudWatch Embedded Metric Format line per invocation goes to stdout\n"
    "(Records, Failures, Published, FunctionErrors, HandlerMs).  Refused or\n"
    "dropped connections to the Runtime API are retried (5 attempts, full-jitter\n"
    "backoff), then the runtime exits non-zero.  See docs/lambda.md.\n"
    "\n"
    "Monitoring (docs/monitoring.md, \"While serving\"): with a reference,\n"
    "$RIDEPRED_MONITOR_REFERENCE or ridepred-reference.csv in the model's\n"
    "directory, the rides are compared with it per window of\n"
    "$RIDEPRED_MONITOR_WINDOW (default 1h; 90s, 30m, 1d) sampled to\n"
    "$RIDEPRED_MONITOR_CAP rides (default 100000); the invocation that closes a\n"
    "window adds PredictionDrift, DriftedColumns, ShareMissingValues and\n"
    "DatasetDrift to its EMF line, and $RIDEPRED_MONITOR_DB (postgresql://...)\n"
    "gets a row per window.\n"
    "\n"
    "options:\n"
    "  --runtime-api HOST:PORT  the Runtime API (default: $AWS_LAMBDA_RUNTIME_API)\n" RP_FUNCTION_MODEL_OPTS_HELP
        RP_FUNCTION_PUBLISH_OPTS_HELP RP_STREAM_OPTS_HELP
    "  --deadline-margin-ms MS  stop publishing when less than MS is left before\n"
    "                        the invocation's deadline (default:\n"
    "                        $RIDEPRED_DEADLINE_MARGIN_MS, else 500; 0: only once\n"
    "                        the deadline has passed)\n"
    "  --no-metrics          no Embedded Metric Format line per invocation (also\n"
    "                        RIDEPRED_METRICS=off)\n"
    "  --max-invocations N   exit 0 after N invocations (tests; default: never)\n" RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 after --max-invocations; 2 bad usage; 3 init failed (posted to\n"
    "/runtime/init/error) or the Runtime API failed or went away.\n";

/* _X_AMZN_TRACE_ID for the SDKs of this process, as the Runtime API
 * contract asks of a runtime: the one variable ridepred writes, here at
 * the edge.  "_X_AMZN_TRACE_ID=<value>" is given to putenv once and then
 * rewritten in place (empty for an invocation without a trace header, which
 * the SDKs read as none): replacing the variable would keep every value ever set (glibc
 * never frees replaced values), an unbounded growth over millions of
 * invocations.  The Runtime API's trace ids are at most 1,024 bytes
 * (src/lambda/lambda.c). */
static void set_trace_env(void *ctx, const char *trace)
{
    static char env[sizeof "_X_AMZN_TRACE_ID=" + 1024];
    static bool given;
    (void)ctx;
    snprintf(env, sizeof env, "_X_AMZN_TRACE_ID=%s", trace ? trace : "");
    if (!given && putenv(env) == 0)
        given = true;
}

int rp__cmd_lambda(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runtime-api", required_argument, NULL, 'A'},
        {"deadline-margin-ms", required_argument, NULL, 'D'},
        {"no-metrics", no_argument, NULL, 'N'},
        {"max-invocations", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        RP_FUNCTION_MODEL_LONGOPTS,
        RP_FUNCTION_PUBLISH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp__cli_function_opts fo = {0};
    const char *runtime_api = NULL, *margin = NULL;
    bool no_metrics = false;
    uint64_t max_invocations = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_function_opt(c, optarg, &fo);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'A': runtime_api = optarg; break;
        case 'D': margin = optarg; break;
        case 'N': no_metrics = true; break;
        case 'I': {
            long long v;
            if (rp__cli_parse_int("--max-invocations", optarg, 1, LLONG_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            max_invocations = (uint64_t)v;
            break;
        }
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ridepred lambda: unexpected argument '%s'\n\n%s", argv[optind], help);
        return RP_EXIT_USAGE;
    }
    if (rp__cli_logging(fo.log.format, fo.log.level) < 0)
        return RP_EXIT_USAGE;

    rp__lambda_config lcfg = {.runtime_api = runtime_api ? runtime_api : getenv("AWS_LAMBDA_RUNTIME_API"),
                              .max_invocations = max_invocations,
                              .no_metrics = no_metrics,
                              .function_name = getenv("AWS_LAMBDA_FUNCTION_NAME"),
                              .on_trace_id = set_trace_env};
    const char *mv = getenv("RIDEPRED_METRICS");
    if (mv && !strcmp(mv, "off"))
        lcfg.no_metrics = true;
    const char *margin_src = margin ? "--deadline-margin-ms" : "RIDEPRED_DEADLINE_MARGIN_MS";
    if (!margin && (margin = getenv("RIDEPRED_DEADLINE_MARGIN_MS")) && !*margin)
        margin = NULL;
    const char *bad_config = NULL;
    char bad_buf[RP_ERROR_MSG_MAX + 64];
    if (margin) {
        long long ms;
        if (rp__cli_parse_int(NULL, margin, 0, 3600 * 1000, &ms) < 0) {
            snprintf(bad_buf, sizeof bad_buf,
                     "%s must be a number of milliseconds (0 to 3600000), not '%.64s'", margin_src, margin);
            bad_config = bad_buf;
        } else {
            lcfg.deadline_margin_ms = (uint32_t)ms;
            lcfg.no_deadline_margin = ms == 0;
        }
    }

    int rc = RP_EXIT_FAILURE;
    rp__lambda *l = NULL;
    rp__function *fn = NULL;
    rp_error err;
    if (rp__lambda_new(&lcfg, &l, &err) < 0) {
        /* Nowhere to report it but the log. */
        rp__cli_error("%s", err.msg);
        return RP_EXIT_FAILURE;
    }
    rp__function_config fcfg = {.run_id = rp__cli_run_id(fo.run_id),
                                .model_version = rp__cli_model_version(fo.model_version),
                                .predictions_stream = fo.predictions_stream,
                                .test_run = fo.test_run,
                                .streams = fo.streams};
    const char *tr = getenv("TEST_RUN");
    if (tr && !strcmp(tr, "True"))
        fcfg.test_run = true;
    if (!fcfg.predictions_stream || !*fcfg.predictions_stream)
        fcfg.predictions_stream = getenv("PREDICTIONS_STREAM_NAME");
    const char *location = bad_config ? NULL : rp__cli_model_location(fo.model, fcfg.run_id);
    if (location && !bad_config &&
        rp__cli_model_source(location, fo.preprocessor, fo.no_cache, &fcfg.model, &err) < 0) {
        snprintf(bad_buf, sizeof bad_buf, "%s", err.msg);
        bad_config = bad_buf;
    }
    if (!bad_config && rp__cli_stream_resolve(&fcfg.streams) < 0)
        bad_config = "RIDEPRED_STREAM_BACKEND must be kinesis or local";
    if (!location || bad_config) {
        const char *msg = bad_config
                              ? bad_config
                              : "no model: set MODEL_LOCATION (a model file, an MLflow model directory "
                                "or s3://BUCKET/PREFIX), or MODEL_BUCKET and RUN_ID";
        if (bad_config)
            rp__cli_error("%s", bad_config);
        if (rp__lambda_init_error(l, "Runtime.InvalidConfiguration", msg, &err) < 0)
            rp__cli_error("cannot report the init error: %s", err.msg);
        goto out;
    }
    if (rp__function_open(&fcfg, &fn, &err) < 0) {
        rp__cli_error("%s", err.msg);
        rp_error ie;
        if (rp__lambda_init_error(l, "Runtime.InitError", err.msg, &ie) < 0)
            rp__cli_error("cannot report the init error: %s", ie.msg);
        goto out;
    }
    /* Monitoring: RIDEPRED_MONITOR_REFERENCE (else the reference in the
     * model's directory), RIDEPRED_MONITOR_WINDOW, RIDEPRED_MONITOR_CAP,
     * RIDEPRED_MONITOR_DB.  Without a reference nothing is read. */
    {
        static rp__cli_monitor_opts mo;
        rp__monitor_live_config mcfg;
        const rp__monitor_live_config *mon = NULL;
        const char *cap = getenv("RIDEPRED_MONITOR_CAP");
        long long capv = 0;
        const char *why = NULL;
        if (cap && *cap && rp__cli_parse_int(NULL, cap, 1, RP_MONITOR_LIVE_CAP_MAX, &capv) < 0)
            why = "RIDEPRED_MONITOR_CAP must be a number of rides (1 to 100000000)";
        mo.cap = (size_t)capv;
        if (!why && rp__cli_monitor_config(&mo, fcfg.model.location, &mcfg, &mon) < 0)
            why =
                "RIDEPRED_MONITOR_WINDOW must be a duration from 0.001s to 31d (90s, 30m, 1h, 1d, or seconds)";
        if (!why && mon && rp__lambda_monitor(l, mon, &err) < 0)
            why = err.msg;
        if (why) {
            char msg[RP_ERROR_MSG_MAX + 32];
            snprintf(msg, sizeof msg, "monitoring: %s", why);
            rp__cli_error("%s", msg);
            rp_error ie;
            if (rp__lambda_init_error(l, "Runtime.InvalidConfiguration", msg, &ie) < 0)
                rp__cli_error("cannot report the init error: %s", ie.msg);
            goto out;
        }
    }
    if (rp_log_enabled(RP_LOG_INFO))
        rp_log(RP_LOG_INFO, "runtime ready", "version", rp__function_version(fn, NULL), "publishes",
               rp__function_publishes(fn) ? rp__function_predictions_stream(fn) : "nothing (TEST_RUN)", NULL);
    if (rp__lambda_run(l, fn, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    rc = RP_EXIT_OK;
out:
    rp__function_close(fn);
    rp__lambda_free(l);
    return rc;
}
