/* ridepred: the command-line front end.  Dispatches to one file per command. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ridepred/log.h"

#ifndef RIDEPRED_VERSION
#define RIDEPRED_VERSION "0.1.0"
#endif

static const char usage[] =
    "usage: ridepred COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Predicts taxi ride durations exactly as the Python Lambda function it\n"
    "replaces (see README.md and docs/).\n"
    "\n"
    "commands:\n"
    "  invoke    run the handler once on an event (file or stdin), print the response\n"
    "  predict   predict one ride from flags or JSON\n"
    "  model     convert | inspect models\n"
    "  streams   create | list | describe | delete | update-shard-count streams\n"
    "  put       put records into a stream\n"
    "  read      read a stream's records, decoded\n"
    "  lambda    the AWS Lambda custom runtime (also: the binary named bootstrap)\n"
    "  serve     the local invoke endpoint (as the Lambda container image's :8080)\n"
    "  consume   read one stream, run the handler, publish to another (Kinesis ESM)\n"
    "  train     train a model from the TLC trip files (Parquet or CSV)\n"
    "  replay    put the rides of a TLC trip file into a stream\n"
    "  evaluate  how good and how fast a streamed run was (RMSE, latency, throughput)\n"
    "  monitor   prediction drift, drifted columns, missing values per window (Evidently's)\n"
    "\n"
    "Run 'ridepred COMMAND --help' for a command's options.\n"
    "Logs go to stderr: --log-format text|json (or AWS_LAMBDA_LOG_FORMAT=JSON),\n"
    "--log-level debug|info|warn|error|off (or RIDEPRED_LOG_LEVEL / AWS_LAMBDA_LOG_LEVEL).\n";

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    if (!strcmp(prog, "bootstrap")) {
        /* Lambda runs the image's /var/runtime/bootstrap (or the function's
         * bootstrap) with no arguments: it is the runtime. */
        rp__cli_logging(NULL, NULL);
        return rp__cmd_lambda(argc, argv);
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? RP_EXIT_USAGE : RP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ridepred %s\n", RIDEPRED_VERSION);
        return RP_EXIT_OK;
    }
    rp__cli_logging(NULL, NULL); /* the variables; a command's flags win */
    const char *cmd = argv[1];
    if (!strcmp(cmd, "invoke"))
        return rp__cmd_invoke(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict"))
        return rp__cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "model"))
        return rp__cmd_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "streams"))
        return rp__cmd_streams(argc - 1, argv + 1);
    if (!strcmp(cmd, "put"))
        return rp__cmd_put(argc - 1, argv + 1);
    if (!strcmp(cmd, "read"))
        return rp__cmd_read(argc - 1, argv + 1);
    if (!strcmp(cmd, "lambda"))
        return rp__cmd_lambda(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return rp__cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "consume"))
        return rp__cmd_consume(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return rp__cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return rp__cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "evaluate"))
        return rp__cmd_evaluate(argc - 1, argv + 1);
    if (!strcmp(cmd, "monitor"))
        return rp__cmd_monitor(argc - 1, argv + 1);
    fprintf(stderr, "ridepred: unknown command '%s'\n\n%s", cmd, usage);
    return RP_EXIT_USAGE;
}
