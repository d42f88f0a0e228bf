/* The AWS Lambda custom runtime: the Runtime API 2018-06-01 loop.
 *
 *   GET  /2018-06-01/runtime/invocation/next           (no timeout: blocks
 *                                                        until an event comes)
 *   POST /2018-06-01/runtime/invocation/{id}/response  the handler's answer
 *   POST /2018-06-01/runtime/invocation/{id}/error     a function error
 *                                                        (InvalidEvent), with
 *                                                        Lambda-Runtime-Function-Error-Type
 *   POST /2018-06-01/runtime/init/error                 init failed (then exit)
 *
 * The loop runs events through one rp__worker of an rp__function made once at
 * init (model, version, predictions stream), so it answers and publishes
 * exactly as `ridepred invoke` does.  Per invocation it:
 *
 *   - puts the request id (Lambda-Runtime-Aws-Request-Id) in every log line
 *     of the thread (rp_log_set_request_id);
 *   - passes Lambda-Runtime-Trace-Id on as the environment variable
 *     _X_AMZN_TRACE_ID (unset when the header is absent);
 *   - honours Lambda-Runtime-Deadline-Ms: when less than the margin is left
 *     (at the start, or later while the handler runs: a watchdog thread),
 *     publishing is held (rp__worker_hold_publishing) so the records not yet
 *     published are answered as batchItemFailures instead of the function
 *     being killed in the middle of a batch;
 *   - writes one CloudWatch Embedded Metric Format line to stdout (records,
 *     failures, records published, function errors, handler time);
 *   - with monitoring (rp__lambda_monitor), records the invocation's rides
 *     and, once the answer is posted, closes the window when it is due (no
 *     thread: the sandbox is frozen between invocations); the EMF line of
 *     the invocation that closed a window with rides gains its figures
 *     (PredictionDrift, DriftedColumns, ShareMissingValues, DatasetDrift,
 *     and the properties MonitorWindowStart and MonitorRides).
 *
 * The Runtime API is spoken through src/lambda/rapi.h, a small HTTP/1.1
 * client over one keep-alive connection (libcurl cost about 4 times the
 * loop's whole budget of 50 µs per invocation).  Connections the Runtime
 * API refuses or drops are retried with the full-jitter backoff of
 * src/aws/http.h (default 5 attempts); when they run
 * out, the loop returns -1 with a message naming AWS_LAMBDA_RUNTIME_API.  An
 * HTTP 5xx from the Runtime API ("container error, non-recoverable") also
 * ends the loop; a 4xx on a response (unknown or already answered request)
 * is logged and the loop goes on.  A response the Runtime API refuses as too
 * large (413) is reported on /error as Function.ResponseSizeTooLarge.
 *
 * An event over RP_EVENT_MAX_BYTES (6 MiB) is not read further than one byte
 * past the limit; the handler answers it with its size error (InvalidEvent).
 * Memory is bounded by the event limit: the event buffer is kept between
 * invocations and never grows past RP_EVENT_MAX_BYTES + 1. */
#ifndef RP_SERVICE_LAMBDA_H
#define RP_SERVICE_LAMBDA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/retry.h"
#include "function/function.h"
#include "lambda/rapi.h"
#include "monitor/live.h"
#include "ridepred/error.h"

/* Defaults of rp__lambda_config's zero values. */
#define RP_LAMBDA_DEADLINE_MARGIN_MS_DEFAULT 500u
#define RP_LAMBDA_POST_TIMEOUT_MS_DEFAULT 30000u
/* 5 attempts, 100 ms base, 2 s cap: at most about 3.1 s of waiting. */
#define RP_LAMBDA_RETRY_DEFAULT ((rp__retry_policy){5, 100, 2000})

typedef struct rp__lambda_config {
    /* "host:port" of the Runtime API ($AWS_LAMBDA_RUNTIME_API).  Required. */
    const char *runtime_api;
    /* Hold publishing when less than this is left before the deadline.
     * 0: RP_LAMBDA_DEADLINE_MARGIN_MS_DEFAULT; use no_deadline_margin to
     * hold only once the deadline has passed. */
    uint32_t deadline_margin_ms;
    bool no_deadline_margin;
    /* Return 0 after this many invocations (tests); 0: never. */
    uint64_t max_invocations;
    /* Retries of refused or dropped connections; max_attempts 0:
     * RP_LAMBDA_RETRY_DEFAULT. */
    rp__retry_policy retry;
    /* Timeout of the /response, /error and /init/error posts; 0: 30 s.
     * /next never times out. */
    uint32_t post_timeout_ms;
    /* No Embedded Metric Format line per invocation. */
    bool no_metrics;
    /* The EMF namespace; NULL: "ridepred". */
    const char *metrics_namespace;
    /* The EMF FunctionName dimension (the command line gives
     * $AWS_LAMBDA_FUNCTION_NAME); NULL: "ridepred". */
    const char *function_name;
    /* Called with each invocation's X-Ray trace id (NULL: none) before the
     * handler runs.  The Runtime API contract has a runtime pass it to the
     * SDKs in its process as _X_AMZN_TRACE_ID; the library reads and writes
     * no environment, so the command line does that here
     * (src/cli/cmd_lambda.c).  May be NULL. */
    void (*on_trace_id)(void *ctx, const char *trace_id);
    void *on_trace_ctx;
} rp__lambda_config;

typedef struct rp__lambda rp__lambda;

/* Counters since rp__lambda_new. */
typedef struct rp__lambda_stats {
    uint64_t invocations;     /* events received */
    uint64_t function_errors; /* answered on /error */
    uint64_t records;         /* records in the events */
    uint64_t failures;        /* records named in batchItemFailures */
    uint64_t deadline_holds;  /* invocations whose publishing was held */
    uint64_t refused_answers; /* responses the Runtime API refused (4xx) */
} rp__lambda_stats;

/* Checks the configuration (the Runtime API address) and prepares the
 * Runtime API client (it connects on the first request).  The strings of cfg are
 * copied.  Returns 0, or -1 with err set (RP_ERR_INVALID: a bad address,
 * named with AWS_LAMBDA_RUNTIME_API). */
int rp__lambda_new(const rp__lambda_config *cfg, rp__lambda **out, rp_error *err);

/* Unsets _X_AMZN_TRACE_ID when the loop set it, and frees. */
void rp__lambda_free(rp__lambda *l);

/* Reports an init failure: POST /runtime/init/error with
 * Lambda-Runtime-Function-Error-Type: error_type and the body
 * {"errorMessage": message, "errorType": error_type}.  The caller exits
 * non-zero afterwards.  Returns 0 when the Runtime API accepted it, -1 with
 * err set otherwise. */
int rp__lambda_init_error(rp__lambda *l, const char *error_type, const char *message, rp_error *err);

/* Runs the loop on the function: makes one worker (its stream client; a
 * failure is posted to /init/error as Runtime.StreamClientError), then
 * serves invocations until max_invocations (returns 0) or a fatal Runtime
 * API failure (returns -1 with err set: attempts exhausted, a 5xx, a broken
 * answer to /next). */
int rp__lambda_run(rp__lambda *l, rp__function *f, rp_error *err);

void rp__lambda_get_stats(const rp__lambda *l, rp__lambda_stats *out);

/* Turns monitoring on (before rp__lambda_run): reads the reference of cfg
 * (source "lambda"; no metrics registry: the figures go to the EMF line and
 * the log).  Returns 0, or -1 with err (a bad reference: see
 * rp__monitor_live_new). */
int rp__lambda_monitor(rp__lambda *l, const rp__monitor_live_config *cfg, rp_error *err);

/* The Runtime API client, so that tests can inject an exchange, a sleep
 * and a random source (rp__rapi_get_hooks). */
rp__rapi *rp__lambda_rapi(rp__lambda *l);

#endif
