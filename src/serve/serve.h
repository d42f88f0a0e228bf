/* The local invoke endpoint: the function behind HTTP at the URL of the
 * Lambda container image's Runtime Interface Emulator (docs/serve.md), answering
 * as Lambda's Invoke API does (docs/serve.md says where the emulator differs):
 *
 *   POST /2015-03-31/functions/function/invocations
 *        200 + the handler's response; a function error (InvalidEvent, ...)
 *        is 200 too, with the error body and X-Amz-Function-Error: Unhandled;
 *        a body over 6 MiB: 413 (not buffered); another method: 405
 *   POST /predict   the course's Flask API (04-deployment web-service):
 *        a ride {"PULocationID": P, "DOLocationID": Q, "trip_distance": X}
 *        -> 200 {"duration":PREDICTION} (+ "model_version" when
 *        predict_model_version), compact with a newline as Flask's jsonify;
 *        a bad ride: 400 {"error":"..."}; over 6 MiB: 413; another method:
 *        405
 *   GET  /healthz   200 {"status": "ok", "version": ..., ...}
 *   GET  /metrics   Prometheus text (see docs/serve.md for the series)
 *   anything else   404
 *
 * Requests are served in parallel by a pool of threads; each thread runs its
 * own rp__worker (made on its first invocation, freed at stop), so answers and
 * published records are those of `ridepred invoke`. */
#ifndef RP_SERVICE_SERVE_H
#define RP_SERVICE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "function/function.h"
#include "monitor/live.h"
#include "ridepred/error.h"

#define RP_SERVE_INVOKE_PATH "/2015-03-31/functions/function/invocations"
#define RP_SERVE_PREDICT_PATH "/predict"

/* 0 in any field: the default of http_server.h. */
typedef struct rp__serve_config {
    const char *listen;              /* HOST:PORT, [IPV6]:PORT; NULL: 127.0.0.1:8080 */
    unsigned threads;                /* 0: the number of online CPUs */
    unsigned max_connections;        /* 0: 1024 */
    unsigned max_client_connections; /* from one client address; 0: 256 */
    unsigned timeout_s;              /* idle connection timeout; 0: 30 */
    unsigned header_timeout_s;       /* a whole request head; 0: 10 */
    unsigned body_timeout_s;         /* a body: this plus its size / body_min_rate; 0: 10 */
    size_t body_min_rate;            /* bytes per second; 0: 65536 */
    /* Monitoring while serving (src/monitor/live.h), or NULL: off.  The
     * server sets its source ("serve") and its metrics registry; the
     * rides of every invocation answered are recorded. */
    const rp__monitor_live_config *monitor;
    /* /predict answers "model_version" (the function's version, as the
     * invoke route reports it): set when RUN_ID was given, as the course's
     * web-service-mlflow/predict.py answers os.getenv('RUN_ID'). */
    bool predict_model_version;
} rp__serve_config;

typedef struct rp__serve rp__serve;

/* What was served so far (also on /metrics). */
typedef struct rp__serve_stats {
    uint64_t invocations;     /* every POST to the invoke path */
    uint64_t ok;              /* answered by the handler */
    uint64_t function_errors; /* answered with an error body */
    uint64_t too_large;       /* refused with 413 */
    uint64_t internal_errors; /* 500: no worker, out of memory */
    uint64_t records, record_failures, published;
    uint64_t predict_requests; /* every POST to /predict */
    uint64_t predict_ok;       /* answered with a duration */
} rp__serve_stats;

/* Starts serving fn (which must outlive the server).  Returns 0, or -1 with
 * err saying why (RP_ERR_INVALID: a bad address; RP_ERR_IO: port in use). */
int rp__serve_start(rp__function *fn, const rp__serve_config *cfg, rp__serve **out, rp_error *err);

/* The port bound (useful with port 0). */
unsigned rp__serve_port(const rp__serve *s);

void rp__serve_stats_get(const rp__serve *s, rp__serve_stats *out);

/* Stops accepting, lets the requests in flight finish (up to drain_ms),
 * closes every connection, fills *final (when not NULL) with the stats of
 * the whole run, and frees the workers and s (NULL is ignored).  Returns
 * the number of requests abandoned (0 on a clean stop). */
unsigned rp__serve_stop(rp__serve *s, unsigned drain_ms, rp__serve_stats *final);

#endif
