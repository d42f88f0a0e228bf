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
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/pyjson.h"
#include "function/event.h"
#include "function/ride.h"
#include "monitor/dashboard.h"
#include "ridepred/log.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
/* A /metrics rendering is a few KiB; the cap only guards a bug. */
#define METRICS_MAX_BYTES ((size_t)1 << 20)

/* What one pool thread keeps: its worker for the invoke route, its
 * buffers for /predict.  Freed at stop. */
typedef struct thread_state {
    rp__worker *w;   /* made on the thread's first invocation */
    rp__buf scratch; /* /predict: the PU_DO feature name */
    rp__buf answer;  /* /predict: the body answered */
    struct thread_state *next;
} thread_state;

struct rp__serve {
    rp__function *fn;
    rp__http_server *http;
    pthread_key_t key;     /* this thread's thread_state */
    pthread_mutex_t lock;  /* guards threads */
    thread_state *threads; /* every thread's state, freed at stop */
    char *health;          /* the /healthz body */
    size_t health_len;
    char *predict_tail; /* /predict: what follows the duration */
    size_t predict_tail_len;
    struct timespec started;

    rp__metrics *m;
    rp__monitor_live *live; /* monitoring, or NULL */
    rp__counter *inv_ok, *inv_error, *inv_too_large, *inv_internal;
    rp__counter *records, *record_failures, *published;
    rp__counter *http_not_found, *http_bad_method;
    rp__histogram *latency;
    rp__counter *pred_ok, *pred_bad, *pred_too_large, *pred_internal;
    rp__histogram *pred_latency;
};

static const char too_large_body[] =
    "{\"Type\": \"User\", \"message\": \"Request must be smaller than 6291456 bytes "
    "for the InvokeFunction operation\"}";
static const char not_found_body[] =
    "{\"message\": \"not found: POST " RP_SERVE_INVOKE_PATH ", POST " RP_SERVE_PREDICT_PATH
    ", GET /healthz, GET /metrics, GET " RP_DASHBOARD_PATH " or GET " RP_DASHBOARD_JSON_PATH "\"}";
static const char bad_method_body[] = "{\"message\": \"method not allowed\"}";
static const char internal_body[] =
    "{\"errorMessage\": \"the server could not run the function: see its log\", "
    "\"errorType\": \"ServiceException\"}";

/* /predict's own answers: compact JSON and a newline, as Flask's jsonify. */
static const char predict_bad_method_body[] =
    "{\"error\":\"method not allowed: POST a ride to " RP_SERVE_PREDICT_PATH "\"}\n";
static const char predict_too_large_body[] =
    "{\"error\":\"the body is over 6291456 bytes; a ride is a small JSON object\"}\n";
static const char predict_internal_body[] = "{\"error\":\"the server could not predict: see its log\"}\n";
/* The longest /predict error message (rp_error's) and duration. */
#define PREDICT_ANSWER_MAX (6 * (size_t)RP_ERROR_MSG_MAX + 64)

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void set_body(rp__http_reply *r, int status, const char *body, size_t len)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = body;
    r->body_len = len;
}

#define SET_LIT(r, status, lit) set_body((r), (status), (lit), sizeof(lit) - 1)

/* This thread's state, made on its first use; NULL when out of memory. */
static thread_state *thread_get(rp__serve *s)
{
    thread_state *ts = pthread_getspecific(s->key);
    if (ts)
        return ts;
    ts = calloc(1, sizeof *ts);
    if (!ts || pthread_setspecific(s->key, ts) != 0) {
        rp_log(RP_LOG_ERROR, "cannot make a thread's state: out of memory", NULL);
        free(ts);
        return NULL;
    }
    /* Room for "PU_DO=" and the two locations of any body buffered. */
    rp__buf_init(&ts->scratch, RP_EVENT_MAX_BYTES + 16);
    rp__buf_init(&ts->answer, PREDICT_ANSWER_MAX + s->predict_tail_len);
    pthread_mutex_lock(&s->lock);
    ts->next = s->threads;
    s->threads = ts;
    pthread_mutex_unlock(&s->lock);
    return ts;
}

/* This thread's worker, made on its first use. */
static rp__worker *thread_worker(rp__serve *s)
{
    thread_state *ts = thread_get(s);
    if (!ts)
        return NULL;
    if (ts->w)
        return ts->w;
    rp_error err;
    rp__worker *w = rp__worker_new(s->fn, &err);
    if (!w) {
        rp_log(RP_LOG_ERROR, "cannot make a worker", "error", err.msg, NULL);
        return NULL;
    }
    if (s->live)
        rp_handler_keep_rides(rp__worker_handler(w), true);
    ts->w = w;
    return w;
}

static void route_invoke(rp__serve *s, const rp__http_request *req, rp__http_reply *reply)
{
    if (strcmp(req->method, "POST") != 0) {
        rp__counter_add(s->http_bad_method, 1);
        SET_LIT(reply, 405, bad_method_body);
        rp__http_reply_header(reply, "Allow", "POST");
        return;
    }
    if (req->body_too_large) {
        rp__counter_add(s->inv_too_large, 1);
        SET_LIT(reply, 413, too_large_body);
        rp__http_reply_header(reply, "X-Amzn-ErrorType", "RequestTooLargeException");
        return;
    }
    rp__worker *w = thread_worker(s);
    rp_invoke_result res;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long published_before = w ? rp__worker_published(w) : 0;
    if (!w || rp__worker_invoke(w, req->body ? req->body : "", req->body_len, &res) < 0) {
        rp__counter_add(s->inv_internal, 1);
        SET_LIT(reply, 500, internal_body);
        return;
    }
    rp__histogram_observe(s->latency, seconds_since(&t0));
    rp__counter_add(res.status == RP_INVOKE_OK ? s->inv_ok : s->inv_error, 1);
    if (res.status == RP_INVOKE_OK) {
        /* A function error answers no record (the whole event is refused). */
        rp__counter_add(s->records, res.records);
        rp__counter_add(s->record_failures, res.failed);
    }
    rp__counter_add(s->published, rp__worker_published(w) - published_before);
    rp_handler_rides rides;
    if (s->live && rp_handler_last_rides(rp__worker_handler(w), &rides) == 0)
        rp__monitor_live_record(s->live, rides.pu, rides.dol, rides.distance, rides.prediction, rides.n);
    set_body(reply, 200, res.body, res.body_len);
    if (res.status != RP_INVOKE_OK)
        rp__http_reply_header(reply, "X-Amz-Function-Error", "Unhandled");
}

/* Appends {"error":MESSAGE}\n to b (reset first). */
static void predict_error(rp__buf *b, const char *msg)
{
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"error\":");
    rp__pyjson_utf8(b, msg, strlen(msg));
    rp__buf_lit(b, "}\n");
}

/* POST /predict: the course's Flask API (web-service/predict.py and its
 * MLflow variant): a bare ride in, {"duration": PREDICTION} out, with
 * "model_version" when RUN_ID was given; as jsonify writes it. */
static void route_predict(rp__serve *s, const rp__http_request *req, rp__http_reply *reply)
{
    if (strcmp(req->method, "POST") != 0) {
        rp__counter_add(s->http_bad_method, 1);
        SET_LIT(reply, 405, predict_bad_method_body);
        rp__http_reply_header(reply, "Allow", "POST");
        return;
    }
    if (req->body_too_large) {
        rp__counter_add(s->pred_too_large, 1);
        SET_LIT(reply, 413, predict_too_large_body);
        return;
    }
    thread_state *ts = thread_get(s);
    if (!ts) {
        rp__counter_add(s->pred_internal, 1);
        SET_LIT(reply, 500, predict_internal_body);
        return;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const rp_model *m = rp__function_model(s->fn);
    rp__ride_fields f;
    rp_row row;
    rp_error why;
    double pred;
    rp__buf *b = &ts->answer;
    if (rp__ride_parse_bare(req->body ? req->body : "", req->body_len, &f, &why) < 0 ||
        rp__ride_fields_features(&f, m, "", &ts->scratch, &row, &why) < 0 ||
        rp_model_predict(m, &row, &pred, &why) < 0) {
        /* The ride's fault, but for a model that fails its own bounds
         * (RP_ERR_CORRUPT) or memory. */
        bool internal = why.code == RP_ERR_CORRUPT || why.code == RP_ERR_NOMEM;
        rp_log(internal ? RP_LOG_ERROR : RP_LOG_WARN, "invalid /predict request", "reason", why.msg, NULL);
        rp__counter_add(internal ? s->pred_internal : s->pred_bad, 1);
        predict_error(b, why.msg);
        if (b->failed) {
            SET_LIT(reply, 500, predict_internal_body);
            return;
        }
        set_body(reply, internal ? 500 : 400, b->data, b->len);
        return;
    }
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"duration\":");
    rp__pyjson_double(b, pred);
    rp__buf_append(b, s->predict_tail, s->predict_tail_len);
    if (b->failed) {
        rp__counter_add(s->pred_internal, 1);
        SET_LIT(reply, 500, predict_internal_body);
        return;
    }
    rp__histogram_observe(s->pred_latency, seconds_since(&t0));
    rp__counter_add(s->pred_ok, 1);
    if (s->live) {
        double pu = rp__ride_location_value(&f.pu), dol = rp__ride_location_value(&f.do_);
        double td = rp__json_number(&f.td);
        rp__monitor_live_record(s->live, &pu, &dol, &td, &pred, 1);
    }
    set_body(reply, 200, b->data, b->len);
}

static void route(void *ctx, const rp__http_request *req, rp__http_reply *reply)
{
    rp__serve *s = ctx;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    /* The live page, with monitoring's windows when it is on. */
    if (rp__dashboard_route(s->m, s->live, req, reply)) {
        if (reply->status == 405)
            rp__counter_add(s->http_bad_method, 1);
        return;
    }
    if (strcmp(req->path, RP_SERVE_INVOKE_PATH) == 0) {
        route_invoke(s, req, reply);
    } else if (strcmp(req->path, RP_SERVE_PREDICT_PATH) == 0) {
        route_predict(s, req, reply);
    } else if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/metrics") == 0) {
        if (!get) {
            rp__counter_add(s->http_bad_method, 1);
            SET_LIT(reply, 405, bad_method_body);
            rp__http_reply_header(reply, "Allow", "GET, HEAD");
        } else if (req->path[1] == 'h') {
            set_body(reply, 200, s->health, s->health_len);
        } else {
            rp__buf out;
            rp__buf_init(&out, METRICS_MAX_BYTES);
            if (rp__metrics_render(s->m, &out) < 0) {
                rp__buf_cleanup(&out);
                SET_LIT(reply, 500, internal_body);
                return;
            }
            reply->status = 200;
            reply->content_type = RP_METRICS_CONTENT_TYPE;
            reply->body = rp__buf_steal(&out, &reply->body_len);
            reply->body_owned = true;
        }
    } else {
        rp__counter_add(s->http_not_found, 1);
        SET_LIT(reply, 404, not_found_body);
    }
}

static int make_metrics(rp__serve *s)
{
    rp__metrics *m = s->m = rp__metrics_new();
    if (!m)
        return -1;
    static const char inv[] = "ridepred_invocations_total";
    static const char inv_help[] =
        "Invocations by outcome: ok (the handler answered), function_error (an error body, "
        "X-Amz-Function-Error), too_large (413), internal_error (500).";
    s->inv_ok = rp__metrics_counter(m, inv, inv_help, "outcome=\"ok\"");
    s->inv_error = rp__metrics_counter(m, inv, inv_help, "outcome=\"function_error\"");
    s->inv_too_large = rp__metrics_counter(m, inv, inv_help, "outcome=\"too_large\"");
    s->inv_internal = rp__metrics_counter(m, inv, inv_help, "outcome=\"internal_error\"");
    s->records = rp__metrics_counter(
        m, "ridepred_records_total",
        "Records in the events answered (events refused with a function error: none).", NULL);
    s->record_failures = rp__metrics_counter(m, "ridepred_record_failures_total",
                                             "Records answered as batchItemFailures.", NULL);
    s->published = rp__metrics_counter(m, "ridepred_published_records_total",
                                       "Prediction records put to the predictions stream.", NULL);
    s->latency = rp__metrics_histogram(m, "ridepred_invocation_duration_seconds",
                                       "Time in the function per invocation (handler and publishing).", NULL,
                                       rp__metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
    static const char http[] = "ridepred_http_rejected_total";
    static const char http_help[] = "HTTP requests refused before the function: unknown path, wrong method.";
    s->http_not_found = rp__metrics_counter(m, http, http_help, "code=\"404\"");
    s->http_bad_method = rp__metrics_counter(m, http, http_help, "code=\"405\"");
    static const char pred[] = "ridepred_predict_requests_total";
    static const char pred_help[] =
        "POST /predict requests (the course's Flask API) by outcome: ok, bad_request (400), too_large (413), "
        "internal_error (500).";
    s->pred_ok = rp__metrics_counter(m, pred, pred_help, "outcome=\"ok\"");
    s->pred_bad = rp__metrics_counter(m, pred, pred_help, "outcome=\"bad_request\"");
    s->pred_too_large = rp__metrics_counter(m, pred, pred_help, "outcome=\"too_large\"");
    s->pred_internal = rp__metrics_counter(m, pred, pred_help, "outcome=\"internal_error\"");
    s->pred_latency =
        rp__metrics_histogram(m, "ridepred_predict_duration_seconds",
                              "Time to parse, predict and answer one POST /predict answered 200.", NULL,
                              rp__metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
    rp__gauge *start = rp__metrics_gauge(m, "process_start_time_seconds",
                                         "Start time of the process since the Unix epoch in seconds.", NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rp__gauge_set(start, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    bool ok = s->inv_ok && s->inv_error && s->inv_too_large && s->inv_internal && s->records &&
              s->record_failures && s->published && s->latency && s->http_not_found && s->http_bad_method &&
              s->pred_ok && s->pred_bad && s->pred_too_large && s->pred_internal && s->pred_latency && start;
    return ok ? 0 : -1;
}

static int make_health(rp__serve *s)
{
    rp__buf b;
    rp__buf_init(&b, 6 * RP_HANDLER_VERSION_MAX + 1024);
    size_t vlen;
    const char *v = rp__function_version(s->fn, &vlen), *stream = rp__function_predictions_stream(s->fn);
    rp__buf_lit(&b, "{\"status\": \"ok\", \"version\": ");
    rp__pyjson_utf8(&b, v, vlen);
    rp__buf_lit(&b, ", \"publishes\": ");
    rp__buf_puts(&b, rp__function_publishes(s->fn) ? "true" : "false");
    rp__buf_lit(&b, ", \"predictions_stream\": ");
    rp__pyjson_utf8(&b, stream, strlen(stream));
    rp__buf_putc(&b, '}');
    if (b.failed) {
        rp__buf_cleanup(&b);
        return -1;
    }
    s->health = rp__buf_steal(&b, &s->health_len);
    return 0;
}

/* What /predict writes after the duration: the version when RUN_ID was
 * given (the course's MLflow variant), then the end. */
static int make_predict_tail(rp__serve *s, bool with_version)
{
    rp__buf b;
    rp__buf_init(&b, 6 * RP_HANDLER_VERSION_MAX + 64);
    if (with_version) {
        size_t vlen;
        const char *v = rp__function_version(s->fn, &vlen);
        rp__buf_lit(&b, ",\"model_version\":");
        rp__pyjson_utf8(&b, v, vlen);
    }
    rp__buf_lit(&b, "}\n");
    if (b.failed) {
        rp__buf_cleanup(&b);
        return -1;
    }
    s->predict_tail = rp__buf_steal(&b, &s->predict_tail_len);
    return 0;
}

static void free_serve(rp__serve *s)
{
    thread_state *n = s->threads;
    while (n) {
        thread_state *next = n->next;
        rp__worker_free(n->w);
        rp__buf_cleanup(&n->scratch);
        rp__buf_cleanup(&n->answer);
        free(n);
        n = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    rp__monitor_live_free(s->live);
    rp__metrics_free(s->m);
    free(s->health);
    free(s->predict_tail);
    free(s);
}

int rp__serve_start(rp__function *fn, const rp__serve_config *cfg, rp__serve **out, rp_error *err)
{
    *out = NULL;
    rp__serve *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    s->fn = fn;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    if (pthread_key_create(&s->key, NULL) != 0) {
        free(s);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot create a thread key");
    }
    pthread_mutex_init(&s->lock, NULL);
    if (make_metrics(s) < 0 || make_health(s) < 0 ||
        make_predict_tail(s, cfg && cfg->predict_model_version) < 0) {
        free_serve(s);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    if (cfg && cfg->monitor) {
        rp__monitor_live_config mc = *cfg->monitor;
        mc.source = "serve";
        mc.metrics = s->m;
        if (rp__monitor_live_new(&mc, &s->live, err) < 0 || rp__monitor_live_start(s->live, err) < 0) {
            rp_error_prefix(err, "monitoring");
            free_serve(s);
            return -1;
        }
    }
    rp__http_server_config hcfg = {
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
    if (rp__http_server_start(&hcfg, &s->http, err) < 0) {
        free_serve(s);
        return -1;
    }
    *out = s;
    return 0;
}

unsigned rp__serve_port(const rp__serve *s)
{
    return rp__http_server_port(s->http);
}

void rp__serve_stats_get(const rp__serve *s, rp__serve_stats *out)
{
    out->ok = rp__counter_value(s->inv_ok);
    out->function_errors = rp__counter_value(s->inv_error);
    out->too_large = rp__counter_value(s->inv_too_large);
    out->internal_errors = rp__counter_value(s->inv_internal);
    out->invocations = out->ok + out->function_errors + out->too_large + out->internal_errors;
    out->records = rp__counter_value(s->records);
    out->record_failures = rp__counter_value(s->record_failures);
    out->published = rp__counter_value(s->published);
    out->predict_ok = rp__counter_value(s->pred_ok);
    out->predict_requests = out->predict_ok + rp__counter_value(s->pred_bad) +
                            rp__counter_value(s->pred_too_large) + rp__counter_value(s->pred_internal);
}

unsigned rp__serve_stop(rp__serve *s, unsigned drain_ms, rp__serve_stats *final)
{
    if (!s)
        return 0;
    unsigned left = rp__http_server_stop(s->http, drain_ms);
    s->http = NULL;
    if (final)
        rp__serve_stats_get(s, final);
    free_serve(s);
    return left;
}
