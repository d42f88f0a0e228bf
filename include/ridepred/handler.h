/* ridepred: the handler of docs/handler.md.  Event bytes in, response bytes out,
 * byte-identical to the Python reference's json.dumps.
 *
 * A handler holds a model reference and reusable scratch buffers: one per
 * thread; invocations on one handler must not overlap.  Memory is bounded:
 * every buffer has a hard cap, and nothing grows per record beyond the
 * response itself. */
#ifndef RIDEPRED_HANDLER_H
#define RIDEPRED_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"
#include "ridepred/model.h"
#include "ridepred/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_handler rp_handler;

/* Publishes prediction records (docs/handler.md §8: Data = the prediction event as
 * json.dumps writes it, PartitionKey = str(ride_id)).  Fills results[i] for
 * each entry; returns 0, or -1 when the call failed as a whole (then every
 * result is marked failed).  Records not published are named in
 * batchItemFailures and left out of predictions (docs/handler.md §8). */
typedef int (*rp_publish_fn)(void *ctx, const rp_stream_entry *entries, size_t n,
                             rp_stream_put_result *results, rp_error *err);

/* The longest version the handler reports, in bytes.  A longer one (from
 * the model, MODEL_VERSION or RUN_ID) is refused by rp_handler_new, never
 * cut: every prediction carries it. */
#define RP_HANDLER_VERSION_MAX 1024
/* An invocation's predictions, all together, take at most this many bytes
 * (a record whose prediction would pass it fails instead). */
#define RP_HANDLER_PREDICTIONS_MAX ((size_t)64 * 1024 * 1024)

typedef struct rp_handler_config {
    /* The "version" reported, version_len bytes (0: up to its NUL; it may
     * hold NUL bytes when version_len says so).  NULL: the model's own
     * (rp_handler_version(m, NULL, NULL, ...)). */
    const char *version;
    size_t version_len;
    /* Log every failed record (default true). */
    bool log_failures;
    /* Where predictions of Kinesis and Kafka events go; NULL: nowhere
     * (TEST_RUN).  Direct ride events are answered, never published. */
    rp_publish_fn publish;
    void *publish_ctx;
} rp_handler_config;

/* The version (docs/handler.md §4.5): model_version if not NULL or empty (the
 * command line gives MODEL_VERSION or --model-version), else run_id
 * (RUN_ID, --run-id), else the model's own version, else "unknown".
 * Returns one of those pointers (m's is valid while m is) or a static
 * string, and its length in *len (a model's version is not NUL-terminated
 * and may hold NUL bytes). */
const char *rp_handler_version(const rp_model *m, const char *model_version, const char *run_id, size_t *len);

/* 0 when a version of len bytes can be reported, else -1 with err set
 * (RP_ERR_LIMIT, naming the limit and how to report another). */
int rp_handler_check_version(size_t len, rp_error *err);

/* Creates a handler; it takes its own reference to m.  Returns NULL with
 * err set when out of memory or when the version is longer than
 * RP_HANDLER_VERSION_MAX. */
rp_handler *rp_handler_new(rp_model *m, const rp_handler_config *cfg, rp_error *err);
void rp_handler_free(rp_handler *h);

typedef enum rp_invoke_status {
    RP_INVOKE_OK = 0,
    RP_INVOKE_FUNCTION_ERROR = 1 /* body is {"errorMessage", "errorType"} */
} rp_invoke_status;

typedef struct rp_invoke_result {
    rp_invoke_status status;
    const char *body; /* owned by the handler, valid until the next call */
    size_t body_len;
    const char *error_type;    /* "InvalidEvent", ... when status != OK */
    const char *error_message; /* its errorMessage, NUL-terminated (owned by the handler, valid
                                * until the next call); NULL when status is OK */
    size_t records;            /* records in the event (1 for a direct event) */
    size_t served;
    size_t failed;
} rp_invoke_result;

/* Runs the handler on one event.  Always produces a body; returns 0, or -1
 * only when not even an error body could be built (out of memory).  With a
 * publish function, the predictions are published after the whole event
 * was scanned, in record order, before the body is written: a record
 * whose prediction the stream did not take is in batchItemFailures. */
int rp_handler_invoke(rp_handler *h, const char *event, size_t len, rp_invoke_result *res);

/* What became of one record of a Kinesis or Kafka event. */
typedef enum rp_record_status {
    RP_RECORD_SERVED = 0,     /* predicted (and published, when the handler publishes) */
    RP_RECORD_REFUSED = 1,    /* the record's fault: bad base64, UTF-8, JSON or fields, or a
                               * limit (docs/handler.md §6): refused again on a retry */
    RP_RECORD_UNPUBLISHED = 2 /* predicted, but the output stream did not take it: not the
                               * record's fault */
} rp_record_status;

typedef struct rp_record_outcome {
    rp_record_status status;
    rp_code code;       /* RP_OK when served */
    const char *reason; /* NULL when served; else why, NUL-terminated */
    /* The prediction record (docs/handler.md §8: json.dumps of the prediction event)
     * and its partition key str(ride_id); NULL/0 when refused. */
    const char *prediction;
    size_t prediction_len;
    const char *partition_key;
    size_t partition_key_len;
} rp_record_outcome;

/* The outcome of every record of the last rp_handler_invoke, in record
 * order (*n of them: none after a direct event or a function error; a
 * Kafka event's in the answer's order, key by key).  The
 * array and the strings it points to are owned by the handler and valid
 * until its next call.  Returns NULL (with *n = 0) when out of memory. */
const rp_record_outcome *rp_handler_outcomes(rp_handler *h, size_t *n);

/* The rides of the last rp_handler_invoke, for monitoring (src/monitor/live.h):
 * per record, in record order (the order of rp_handler_outcomes; one for a
 * direct event; none after a function error), its PULocationID,
 * DOLocationID and trip_distance as numbers and its prediction (minutes).
 * A location given as a string is its number when it is decimal digits,
 * else NaN; the prediction is NaN for a record that was
 * not predicted (refused).  A record predicted but not published keeps its
 * prediction. */
typedef struct rp_handler_rides {
    size_t n;
    const double *pu, *dol, *distance, *prediction; /* n each; owned by the handler, valid until its next
                                                        call */
} rp_handler_rides;

/* Keeps the rides of each invocation from now on (keep true) or stops
 * (false, the default: then an invocation does no work for them).
 * Keeping costs four stores per record and memory for four doubles per
 * record of the largest event. */
void rp_handler_keep_rides(rp_handler *h, bool keep);

/* The rides of the last invocation into *out (out->n == 0 when rides are
 * not kept).  Returns 0, or -1 (with out->n == 0) when out of memory made
 * the handler stop keeping them for that invocation. */
int rp_handler_last_rides(const rp_handler *h, rp_handler_rides *out);

#ifdef __cplusplus
}
#endif
#endif
