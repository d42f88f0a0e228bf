/* ridepred: the handler of SPEC §1–§3.  Event bytes in, response bytes out,
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

/* Publishes prediction records (SPEC §2: Data = the prediction event as
 * json.dumps writes it, PartitionKey = str(ride_id)).  Fills results[i] for
 * each entry; returns 0, or -1 when the call failed as a whole (then every
 * result is marked failed).  Records not published are named in
 * batchItemFailures and left out of predictions (SPEC §3). */
typedef int (*rp_publish_fn)(void *ctx, const rp_put_entry *entries, size_t n,
                             rp_put_result *results, rp_error *err);

typedef struct rp_handler_config {
    /* The "version" reported.  NULL: rp_handler_version() of the model. */
    const char *version;
    /* Log every failed record (default true). */
    bool log_failures;
    /* Where predictions of Kinesis events go; NULL: nowhere (TEST_RUN).
     * Direct ride events are answered, never published. */
    rp_publish_fn publish;
    void *publish_ctx;
} rp_handler_config;

/* The version SPEC §2 reports: MODEL_VERSION if set (non-empty), else
 * RUN_ID, else the model's own version, else "unknown".  The returned
 * pointer is to the environment or a static string; for the model's
 * version, a copy is written to buf (size cap). */
const char *rp_handler_version(const rp_model *m, char *buf, size_t cap);

/* Creates a handler; it takes its own reference to m. */
rp_handler *rp_handler_new(rp_model *m, const rp_handler_config *cfg, rp_error *err);
void rp_handler_free(rp_handler *h);

typedef enum rp_invoke_status {
    RP_INVOKE_OK = 0,
    RP_INVOKE_FUNCTION_ERROR = 1 /* body is {"errorMessage", "errorType"} */
} rp_invoke_status;

typedef struct rp_invoke_result {
    rp_invoke_status status;
    const char *body;        /* owned by the handler, valid until the next call */
    size_t body_len;
    const char *error_type;  /* "InvalidEvent", ... when status != OK */
    size_t records;          /* records in the event (1 for a direct event) */
    size_t served;
    size_t failed;
} rp_invoke_result;

/* Runs the handler on one event.  Always produces a body; returns 0, or -1
 * only when not even an error body could be built (out of memory). */
int rp_handler_invoke(rp_handler *h, const char *event, size_t len, rp_invoke_result *res);

#ifdef __cplusplus
}
#endif
#endif
