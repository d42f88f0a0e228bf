/* The local invoke endpoint (see serve.h): routes over the HTTP server, a
 * worker per pool thread, and the metrics of what was served. */
#include "serve/serve.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/pyjson.h"
#include "function/event.h"
#include "ridepred/log.h"
#include "common/http_server.h"
#include "common/metrics.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
/* A /metrics rendering is a few KiB; the cap only guards a bug. */
#define METRICS_MAX_BYTES ((size_t)1 << 20)

typedef struct worker_node {
    rp_worker *w;
    struct worker_node *next;
} worker_node;

struct rp_serve {
    rp_function *fn;
    rp_http_server *http;
    pthread_key_t key;          /* this thread's rp_worker */
    pthread_mutex_t lock;       /* guards workers */
    worker_node *workers;       /* every worker made, freed at stop */
    char *health;               /* the /healthz body */
    size_t health_len;
    struct timespec started;

    rp_metrics *m;
    rp_counter *inv_ok, *inv_error, *inv_too_large, *inv_internal;
    rp_counter *records, *record_failures, *published;
    rp_counter *http_not_found, *http_bad_method;
    rp_histogram *latency;
};

static const char too_large_body[] = "{\"Type\": \"User\", \"message\": \"Request must be smaller than 6291456 bytes "
                                     "for the InvokeFunction operation\"}";
static const char not_found_body[] = "{\"message\": \"not found: POST " RP_SERVE_INVOKE_PATH
                                     ", GET /healthz or GET /metrics\"}";
static const char bad_method_body[] = "{\"message\": \"method not allowed\"}";
static const char internal_body[] = "{\"errorMessage\": \"the server could not run the function: see its log\", "
                                    "\"errorType\": \"ServiceException\"}";

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void set_body(rp_http_reply *r, int status, const char *body, size_t len)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = body;
    r->body_len = len;
}

#define SET_LIT(r, status, lit) set_body((r), (status), (lit), sizeof(lit) - 1)

/* This thread's worker, made on its first use. */
static rp_worker *thread_worker(rp_serve *s)
{
    rp_worker *w = pthread_getspecific(s->key);
    if (w)
        return w;
    rp_error err;
    worker_node *node = malloc(sizeof *node);
    if (!node) {
        rp_log(RP_LOG_ERROR, "cannot make a worker: out of memory", NULL);
        return NULL;
    }
    w = rp_worker_new(s->fn, &err);
    if (!w) {
        rp_log(RP_LOG_ERROR, "cannot make a worker", "error", err.msg, NULL);
        free(node);
        return NULL;
    }
    if (pthread_setspecific(s->key, w) != 0) {
        rp_worker_free(w);
        free(node);
        return NULL;
    }
    node->w = w;
    pthread_mutex_lock(&s->lock);
    node->next = s->workers;
    s->workers = node;
    pthread_mutex_unlock(&s->lock);
    return w;
}

static void route_invoke(rp_serve *s, const rp_http_request *req, rp_http_reply *reply)
{
    if (strcmp(req->method, "POST") != 0) {
        rp_counter_add(s->http_bad_method, 1);
        SET_LIT(reply, 405, bad_method_body);
        rp_http_reply_header(reply, "Allow", "POST");
        return;
    }
    if (req->body_too_large) {
        rp_counter_add(s->inv_too_large, 1);
        SET_LIT(reply, 413, too_large_body);
        rp_http_reply_header(reply, "X-Amzn-ErrorType", "RequestTooLargeException");
        return;
    }
    rp_worker *w = thread_worker(s);
    rp_invoke_result res;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long published_before = w ? rp_worker_published(w) : 0;
    if (!w || rp_worker_invoke(w, req->body ? req->body : "", req->body_len, &res) < 0) {
        rp_counter_add(s->inv_internal, 1);
        SET_LIT(reply, 500, internal_body);
        return;
    }
    rp_histogram_observe(s->latency, seconds_since(&t0));
    rp_counter_add(res.status == RP_INVOKE_OK ? s->inv_ok : s->inv_error, 1);
    if (res.status == RP_INVOKE_OK) {
        /* A function error answers no record (the whole event is refused). */
        rp_counter_add(s->records, res.records);
        rp_counter_add(s->record_failures, res.failed);
    }
    rp_counter_add(s->published, rp_worker_published(w) - published_before);
    set_body(reply, 200, res.body, res.body_len);
    if (res.status != RP_INVOKE_OK)
        rp_http_reply_header(reply, "X-Amz-Function-Error", "Unhandled");
}

static void route(void *ctx, const rp_http_request *req, rp_http_reply *reply)
{
    rp_serve *s = ctx;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->path, RP_SERVE_INVOKE_PATH) == 0) {
        route_invoke(s, req, reply);
    } else if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/metrics") == 0) {
        if (!get) {
            rp_counter_add(s->http_bad_method, 1);
            SET_LIT(reply, 405, bad_method_body);
            rp_http_reply_header(reply, "Allow", "GET, HEAD");
        } else if (req->path[1] == 'h') {
            set_body(reply, 200, s->health, s->health_len);
        } else {
            rp_buf out;
            rp_buf_init(&out, METRICS_MAX_BYTES);
            if (rp_metrics_render(s->m, &out) < 0) {
                rp_buf_cleanup(&out);
                SET_LIT(reply, 500, internal_body);
                return;
            }
            reply->status = 200;
            reply->content_type = RP_METRICS_CONTENT_TYPE;
            reply->body = rp_buf_steal(&out, &reply->body_len);
            reply->body_owned = true;
        }
    } else {
        rp_counter_add(s->http_not_found, 1);
        SET_LIT(reply, 404, not_found_body);
    }
}

static int make_metrics(rp_serve *s)
{
    rp_metrics *m = s->m = rp_metrics_new();
    if (!m)
        return -1;
    static const char inv[] = "ridepred_invocations_total";
    static const char inv_help[] =
        "Invocations by outcome: ok (the handler answered), function_error (an error body, "
        "X-Amz-Function-Error), too_large (413), internal_error (500).";
    s->inv_ok = rp_metrics_counter(m, inv, inv_help, "outcome=\"ok\"");
    s->inv_error = rp_metrics_counter(m, inv, inv_help, "outcome=\"function_error\"");
    s->inv_too_large = rp_metrics_counter(m, inv, inv_help, "outcome=\"too_large\"");
    s->inv_internal = rp_metrics_counter(m, inv, inv_help, "outcome=\"internal_error\"");
    s->records = rp_metrics_counter(
        m, "ridepred_records_total", "Records in the events answered (events refused with a function error: none).",
        NULL);
    s->record_failures = rp_metrics_counter(m, "ridepred_record_failures_total",
                                            "Records answered as batchItemFailures.", NULL);
    s->published = rp_metrics_counter(m, "ridepred_published_records_total",
                                      "Prediction records put to the predictions stream.", NULL);
    s->latency = rp_metrics_histogram(m, "ridepred_invocation_duration_seconds",
                                      "Time in the function per invocation (handler and publishing).", NULL,
                                      rp_metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
    static const char http[] = "ridepred_http_rejected_total";
    static const char http_help[] = "HTTP requests refused before the function: unknown path, wrong method.";
    s->http_not_found = rp_metrics_counter(m, http, http_help, "code=\"404\"");
    s->http_bad_method = rp_metrics_counter(m, http, http_help, "code=\"405\"");
    rp_gauge *start = rp_metrics_gauge(m, "process_start_time_seconds",
                                       "Start time of the process since the Unix epoch in seconds.", NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rp_gauge_set(start, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    bool ok = s->inv_ok && s->inv_error && s->inv_too_large && s->inv_internal && s->records &&
              s->record_failures && s->published && s->latency && s->http_not_found && s->http_bad_method && start;
    return ok ? 0 : -1;
}

static int make_health(rp_serve *s)
{
    rp_buf b;
    rp_buf_init(&b, 6 * RP_HANDLER_VERSION_MAX + 1024);
    size_t vlen;
    const char *v = rp_function_version(s->fn, &vlen), *stream = rp_function_predictions_stream(s->fn);
    rp_buf_lit(&b, "{\"status\": \"ok\", \"version\": ");
    rp_pyjson_utf8(&b, v, vlen);
    rp_buf_lit(&b, ", \"publishes\": ");
    rp_buf_puts(&b, rp_function_publishes(s->fn) ? "true" : "false");
    rp_buf_lit(&b, ", \"predictions_stream\": ");
    rp_pyjson_utf8(&b, stream, strlen(stream));
    rp_buf_putc(&b, '}');
    if (b.failed) {
        rp_buf_cleanup(&b);
        return -1;
    }
    s->health = rp_buf_steal(&b, &s->health_len);
    return 0;
}

static void free_serve(rp_serve *s)
{
    worker_node *n = s->workers;
    while (n) {
        worker_node *next = n->next;
        rp_worker_free(n->w);
        free(n);
        n = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    rp_metrics_free(s->m);
    free(s->health);
    free(s);
}

int rp_serve_start(rp_function *fn, const rp_serve_config *cfg, rp_serve **out, rp_error *err)
{
    *out = NULL;
    rp_serve *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    s->fn = fn;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    if (pthread_key_create(&s->key, NULL) != 0) {
        free(s);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot create a thread key");
    }
    pthread_mutex_init(&s->lock, NULL);
    if (make_metrics(s) < 0 || make_health(s) < 0) {
        free_serve(s);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    rp_http_server_config hcfg = {
        .listen = cfg && cfg->listen ? cfg->listen : DEFAULT_LISTEN,
        .threads = cfg ? cfg->threads : 0,
        .max_connections = cfg ? cfg->max_connections : 0,
        .max_client_connections = cfg ? cfg->max_client_connections : 0,
        .max_body_bytes = RP_EVENT_MAX_BYTES,
        .timeout_s = cfg ? cfg->timeout_s : 0,
        .header_timeout_s = cfg ? cfg->header_timeout_s : 0,
        .body_timeout_s = cfg ? cfg->body_timeout_s : 0,
        .body_min_rate = cfg ? cfg->body_min_rate : 0,
        .route = route,
        .route_ctx = s,
    };
    if (rp_http_server_start(&hcfg, &s->http, err) < 0) {
        free_serve(s);
        return -1;
    }
    *out = s;
    return 0;
}

unsigned rp_serve_port(const rp_serve *s)
{
    return rp_http_server_port(s->http);
}

void rp_serve_stats_get(const rp_serve *s, rp_serve_stats *out)
{
    out->ok = rp_counter_value(s->inv_ok);
    out->function_errors = rp_counter_value(s->inv_error);
    out->too_large = rp_counter_value(s->inv_too_large);
    out->internal_errors = rp_counter_value(s->inv_internal);
    out->invocations = out->ok + out->function_errors + out->too_large + out->internal_errors;
    out->records = rp_counter_value(s->records);
    out->record_failures = rp_counter_value(s->record_failures);
    out->published = rp_counter_value(s->published);
}

unsigned rp_serve_stop(rp_serve *s, unsigned drain_ms, rp_serve_stats *final)
{
    if (!s)
        return 0;
    unsigned left = rp_http_server_stop(s->http, drain_ms);
    s->http = NULL;
    if (final)
        rp_serve_stats_get(s, final);
    free_serve(s);
    return left;
}
