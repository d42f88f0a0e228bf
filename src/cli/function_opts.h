/* Command-line options of the commands that run the function (the model,
 * the version it reports, where predictions go, logs): invoke, lambda,
 * serve and consume take them alike. */
#ifndef RP_CLI_FUNCTION_OPTS_H
#define RP_CLI_FUNCTION_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "function/function.h"

#define RP_FUNCTION_MODEL_OPTS_HELP                                                                          \
    "  --model PATH          a model: JSON (ridepred.model/1), native, scikit-learn\n"                       \
    "                        pickle, XGBoost JSON/UBJSON/legacy, or an MLflow model\n"                       \
    "                        directory, local or s3://BUCKET/PREFIX (default:\n"                             \
    "                        $MODEL_LOCATION, else s3://$MODEL_BUCKET/\n"                                    \
    "                        ${MLFLOW_EXPERIMENT_ID:-1}/$RUN_ID/artifacts/model)\n"                          \
    "  --no-cache            download an s3:// model again instead of using the\n"                           \
    "                        cached copy (also RIDEPRED_MODEL_CACHE=off)\n"                                  \
    "  --preprocessor PICKLE the DictVectorizer of an XGBoost booster (the\n"                                \
    "                        course's week-2 preprocessor.b)\n"                                              \
    "  --max-model-bytes N   memory a converted model (pickle, XGBoost) may build,\n"                        \
    "                        e.g. 8G (default: $RIDEPRED_MAX_MODEL_BYTES, else 32 x\n"                       \
    "                        its file's size + 64M, at most 4G)\n"                                           \
    "  --run-id ID           the version reported, unless --model-version (default: $RUN_ID)\n"              \
    "  --model-version V     the version reported (default: $MODEL_VERSION, else the\n"                      \
    "                        run id, else the model's own version, else \"unknown\")\n"

#define RP_FUNCTION_PUBLISH_OPTS_HELP                                                                        \
    "  --predictions-stream S  where predictions are published (default:\n"                                  \
    "                        $PREDICTIONS_STREAM_NAME, else ride_predictions)\n"                             \
    "  --test-run            compute and answer, publish nothing (as TEST_RUN=True)\n"

/* getopt_long entries; their values are 0x200.. (stream options: 0x100..). */
#define RP_FUNCTION_MODEL_LONGOPTS                                                                           \
    {"model", required_argument, NULL, 0x200}, {"run-id", required_argument, NULL, 0x201},                   \
        {"model-version", required_argument, NULL, 0x202}, {"preprocessor", required_argument, NULL, 0x203}, \
        {"no-cache", no_argument, NULL, 0x204}, {"max-model-bytes", required_argument, NULL, 0x209},         \
        RP_LOG_LONGOPTS, RP_STREAM_LONGOPTS
#define RP_FUNCTION_PUBLISH_LONGOPTS                                                                         \
    {"predictions-stream", required_argument, NULL, 0x207},                                                  \
    {                                                                                                        \
        "test-run", no_argument, NULL, 0x208                                                                 \
    }

typedef struct rp__cli_function_opts {
    const char *model, *run_id, *model_version, *preprocessor, *predictions_stream;
    rp__cli_log_opts log;
    bool test_run, no_cache;
    rp_stream_config streams;
} rp__cli_function_opts;

/* Applies one of those options (or a log or stream option); returns 1 when
 * c was one, 0 when not, -1 on a bad value (printed). */
int rp__cli_function_opt(int c, const char *arg, rp__cli_function_opts *o);

/* After parsing: applies the log options and fills cfg from the flags,
 * else the environment (the one place these variables take effect):
 * --run-id / RUN_ID, --model-version / MODEL_VERSION, the model
 * (rp__cli_model_location, rp__cli_model_source), --test-run / TEST_RUN=True,
 * --predictions-stream / PREDICTIONS_STREAM_NAME, the streams
 * (rp__cli_stream_resolve).  cfg points into o and the environment.
 * Returns -1, printed, on bad usage (no model location, an unknown log
 * level, a bad RIDEPRED_MAX_MODEL_BYTES or RIDEPRED_STREAM_BACKEND). */
int rp__cli_function_config(const rp__cli_function_opts *o, rp__function_config *cfg);

#endif
