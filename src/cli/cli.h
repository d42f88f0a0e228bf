/* Shared pieces of the command-line front end.  Only src/cli/ prints,
 * parses arguments and exits. */
#ifndef RP_CLI_H
#define RP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "function/function.h"
#include "ridepred/error.h"
#include "ridepred/model.h"

/* Exit codes, documented in every --help. */
enum {
    RP_EXIT_OK = 0,
    RP_EXIT_FUNCTION_ERROR = 1, /* the handler answered with an error body */
    RP_EXIT_USAGE = 2,
    RP_EXIT_FAILURE = 3 /* could not run: model, file, I/O */
};

int rp__cmd_invoke(int argc, char **argv);
int rp__cmd_predict(int argc, char **argv);
int rp__cmd_model(int argc, char **argv);
int rp__cmd_streams(int argc, char **argv);
int rp__cmd_put(int argc, char **argv);
int rp__cmd_read(int argc, char **argv);
int rp__cmd_lambda(int argc, char **argv);
int rp__cmd_serve(int argc, char **argv);
int rp__cmd_consume(int argc, char **argv);
int rp__cmd_train(int argc, char **argv);
int rp__cmd_replay(int argc, char **argv);
int rp__cmd_evaluate(int argc, char **argv);
int rp__cmd_monitor(int argc, char **argv);

/* Parses a decimal integer in [min, max] (no sign for min >= 0, no
 * trailing characters).  Returns 0, or -1; when opt is not NULL it also
 * prints "ridepred: OPT must be a whole number from MIN to MAX, not 'ARG'". */
int rp__cli_parse_int(const char *opt, const char *arg, long long min, long long max, long long *out);

/* Parses a size in bytes: a whole number >= 1, optionally followed by K, M
 * or G (KiB, MiB, GiB).  Returns 0, or -1 when it is not one. */
int rp__cli_parse_bytes(const char *arg, size_t *out);

/* --max-model-bytes N: parses it (printing why it is bad: returns -1) and
 * keeps it for rp__cli_max_model_bytes. */
int rp__cli_max_model_bytes_opt(const char *arg);

/* What loading a model may build (rp_model_load_opts.max_build_bytes):
 * --max-model-bytes when given, else $RIDEPRED_MAX_MODEL_BYTES, else 0 (the
 * library's default).  Returns 0, or -1 with the reason in why (at most cap
 * bytes) when the variable is set but not a size. */
int rp__cli_max_model_bytes(size_t *out, char *why, size_t cap);

/* Parses an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SS[.fff][Z|+00:00]" into
 * milliseconds since the epoch.  Returns 0, or -1 when it is not one. */
int rp__cli_parse_time_ms(const char *iso, int64_t *ms);

/* A file in ridepred's state directory: $XDG_STATE_HOME/ridepred/FILE when
 * XDG_STATE_HOME is an absolute path, else $HOME/.local/state/ridepred/FILE.
 * Creates nothing.  Returns 0, or -1 when neither variable gives a place
 * or the path does not fit in cap bytes. */
int rp__cli_state_path(const char *file, char *buf, size_t cap);

/* Prints "ridepred: <msg>" (text) or a JSON log line, at error level. */
void rp__cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Applies --log-format / --log-level values (NULL: keep); returns -1 and
 * prints an error when a value is unknown. */
int rp__cli_logging(const char *format, const char *level);

/* --log-format and --log-level, which every command takes alike: the help
 * lines, the getopt_long entries (values 0x300, 0x301; stream options are
 * 0x100.., function options 0x200..) and where they land. */
#define RP_LOG_OPTS_HELP                                                                                     \
    "  --log-format F        text or json (default: $AWS_LAMBDA_LOG_FORMAT, else text)\n"                    \
    "  --log-level L         debug, info, warn, error or off (default:\n"                                    \
    "                        $RIDEPRED_LOG_LEVEL, else $AWS_LAMBDA_LOG_LEVEL, else info)\n"
#define RP_LOG_LONGOPTS                                                                                      \
    {"log-format", required_argument, NULL, 0x300},                                                          \
    {                                                                                                        \
        "log-level", required_argument, NULL, 0x301                                                          \
    }

typedef struct rp__cli_log_opts {
    const char *format, *level; /* NULL: not given */
} rp__cli_log_opts;

/* Takes one of those options: returns 1 when c was one (kept in o), else 0.
 * The values are checked by rp__cli_logging(o->format, o->level). */
int rp__cli_log_opt(int c, const char *arg, rp__cli_log_opts *o);

/* Reads a whole file ("-" is stdin) up to max bytes; a path must name a
 * regular file (rp__file_open: a FIFO or device is refused, not waited on).
 * Returns a malloc'd buffer (caller frees) or NULL with err set;
 * RP_ERR_LIMIT when larger. */
char *rp__cli_read_file(const char *path, size_t max, size_t *len, rp_error *err);

/* The run id: the flag (--run-id), else $RUN_ID; NULL when neither. */
const char *rp__cli_run_id(const char *flag);

/* The version to report: the flag (--model-version), else $MODEL_VERSION;
 * NULL when neither. */
const char *rp__cli_model_version(const char *flag);

/* The model location: the flag, else MODEL_LOCATION, else
 * s3://$MODEL_BUCKET/${MLFLOW_EXPERIMENT_ID:-1}/RUN_ID/artifacts/model with
 * run_id (rp__cli_run_id).  NULL with an error printed when neither is
 * given. */
const char *rp__cli_model_location(const char *flag, const char *run_id);

/* Fills src for a model at location: the preprocessor, no_cache (the flag,
 * or RIDEPRED_MODEL_CACHE=off|0|false), the cache directory
 * ($RIDEPRED_MODEL_CACHE_DIR), skip_checksum (RIDEPRED_MODEL_VERIFY=0),
 * the build limit (rp__cli_max_model_bytes).  Returns 0, or -1 with err set
 * (a bad RIDEPRED_MAX_MODEL_BYTES). */
int rp__cli_model_source(const char *location, const char *preprocessor, bool no_cache, rp__model_source *src,
                         rp_error *err);

/* Loads the model at location (rp__cli_model_source, rp__model_source_load)
 * or prints why; NULL on failure. */
rp_model *rp__cli_load_model(const char *location, const char *preprocessor, bool no_cache);

#endif
