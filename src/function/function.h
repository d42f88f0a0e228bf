/* The function: what the Python Lambda function builds at init (a model,
 * the version it reports, the predictions stream it publishes to unless
 * TEST_RUN) made once per process, and the workers that run the handler on
 * events.  `invoke`, `lambda`, `serve` and `consume` all run events through
 * it, so they answer and publish identically.
 *
 * A function is shared by threads (read-only after open).  A worker is for
 * one thread: its own handler (scratch buffers) and its own connection to
 * the predictions stream (a stream handle is for one thread at a time). */
#ifndef RP_SERVICE_FUNCTION_H
#define RP_SERVICE_FUNCTION_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"
#include "ridepred/handler.h"
#include "ridepred/model.h"
#include "ridepred/stream.h"

/* Where a model comes from and how it is loaded.  Nothing here is read from
 * the environment: the command line fills it (src/cli/cli.c). */
typedef struct rp__model_source {
    /* A file, an MLflow directory or s3://BUCKET/PREFIX (downloaded through
     * the cache of src/aws/s3.c).  Required. */
    const char *location;
    /* A pickled DictVectorizer for an XGBoost booster, or NULL. */
    const char *preprocessor;
    /* Skip a native model's payload checksum (its structure is still
     * bounds-checked). */
    bool skip_checksum;
    /* rp_model_load_opts.max_build_bytes: 0 for the default. */
    size_t max_build_bytes;
    /* s3://: download again instead of using the cached copy. */
    bool no_cache;
    /* s3://: the cache directory; NULL: RP_S3_DEFAULT_CACHE_DIR. */
    const char *cache_dir;
} rp__model_source;

/* Loads the model src names (downloading an s3:// location first).
 * Returns 0 with *out (the caller releases it), or -1 with err set. */
int rp__model_source_load(const rp__model_source *src, rp_model **out, rp_error *err);

typedef struct rp__function_config {
    rp__model_source model;
    /* The version reported (docs/contract.md): model_version when not
     * NULL or empty, else run_id, else the model's own, else "unknown". */
    const char *model_version;
    const char *run_id;
    /* Where predictions go, a spec of rp_stream_parse_name; NULL:
     * "ride_predictions". */
    const char *predictions_stream;
    /* Publish nothing (TEST_RUN=True). */
    bool test_run;
    /* Backend choice for the predictions stream. */
    rp_stream_config streams;
} rp__function_config;

typedef struct rp__function rp__function;
typedef struct rp__worker rp__worker;

/* Loads the model and checks the predictions stream's name (not its
 * existence: a worker connects).  Errors say what to fix. */
int rp__function_open(const rp__function_config *cfg, rp__function **out, rp_error *err);
void rp__function_close(rp__function *f);

rp_model *rp__function_model(const rp__function *f);
/* The version every answer reports (docs/handler.md §4.5), NUL-terminated; its length
 * in *len when len is not NULL (it may hold NUL bytes, from the model). */
const char *rp__function_version(const rp__function *f, size_t *len);
/* False under TEST_RUN. */
bool rp__function_publishes(const rp__function *f);
/* "kinesis:NAME" / "local:NAME", or "" under TEST_RUN. */
const char *rp__function_predictions_stream(const rp__function *f);

/* A handler of the function's model and version that publishes nothing:
 * for a caller that publishes the predictions itself (the consumer, which
 * retries what the stream does not take).  For one thread; the caller
 * frees it with rp_handler_free. */
rp_handler *rp__function_handler_new(rp__function *f, rp_error *err);

/* Opens a connection to the predictions stream, for one thread: *out to
 * rp_stream_put to *name (owned by f).  -1 under TEST_RUN or when the
 * backend cannot be opened. */
int rp__function_output_open(const rp__function *f, rp_stream_conn **out, const char **name, rp_error *err);

/* A worker for one thread; connects to the predictions stream when the
 * function publishes. */
rp__worker *rp__worker_new(rp__function *f, rp_error *err);
void rp__worker_free(rp__worker *w);

/* Runs the handler on one event (see rp_handler_invoke). */
int rp__worker_invoke(rp__worker *w, const char *event, size_t len, rp_invoke_result *res);

/* The worker's handler (for rp_handler_keep_rides / rp_handler_last_rides). */
rp_handler *rp__worker_handler(rp__worker *w);

/* Records this worker has published so far (puts the stream accepted). */
unsigned long long rp__worker_published(const rp__worker *w);

/* Stops (true) or resumes (false) publishing for the next invocations: a
 * Lambda deadline that is too close.  Records not published are reported
 * as batchItemFailures, as a failed put would be. */
void rp__worker_hold_publishing(rp__worker *w, bool hold);

#endif
