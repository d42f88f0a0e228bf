/* The Lambda Runtime API loop (see lambda.h). */
#include "lambda/lambda.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "common/buf.h"
#include "common/pyfloat.h"
#include "common/pyjson.h"
#include "function/event.h"
#include "lambda/rapi.h"
#include "ridepred/log.h"

#define API_PREFIX "/2018-06-01/runtime"
#define REQUEST_ID_MAX 256
#define TRACE_ID_MAX 1024
#define ARN_MAX 512
/* Bodies of the Runtime API's answers to posts (errors are small JSON). */
#define POST_ANSWER_MAX ((size_t)64 * 1024)

/* The deadline watchdog: a thread that holds the worker's publishing when
 * an invocation's hold time comes while the handler still runs.  Arming is
 * cheap: an uncontended mutex (no system call), and the thread is woken
 * only when the new hold time is earlier than the one it sleeps towards.
 * Hold times are the deadlines (epoch ms, CLOCK_REALTIME) minus the margin,
 * exactly, so the equal or growing deadlines of successive invocations
 * never wake it: it wakes once per expired hold time, not per invocation. */
typedef struct watchdog {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_REALTIME: the clock of the deadlines */
    bool stop;
    bool armed;
    struct timespec hold_at; /* CLOCK_REALTIME */
    bool sleeping_forever;   /* waiting without a time */
    struct timespec sleeping_until;
    bool fired; /* for the current arming */
    rp__worker *w;
    char request_id[REQUEST_ID_MAX + 1];
} watchdog;

struct rp__lambda {
    rp__lambda_config cfg;
    char *runtime_api;
    char *metrics_namespace;
    char *function_name;
    uint32_t margin_ms;
    rp__rapi *api;           /* the Runtime API client (src/lambda/rapi.h) */
    rp__buf path;            /* request paths */
    rp__buf line;            /* EMF line, error bodies */
    rp__buf emf_head;        /* the constant start of the EMF line */
    rp__buf emf_mid;         /* the constant part after the timestamp... */
    rp__buf emf_mid_monitor; /* ... the same with the monitoring metrics */
    rp__monitor_live *live;  /* monitoring, or NULL */
    char *oversized;         /* RP_EVENT_MAX_BYTES + 1 blanks, made once when needed */
    rp__lambda_stats stats;
    watchdog wd;
};

/* ---- time ------------------------------------------------------------------- */

static uint64_t now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Epoch milliseconds as a CLOCK_REALTIME time. */
static struct timespec epoch_ts(uint64_t ms)
{
    return (struct timespec){(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- watchdog ---------------------------------------------------------------- */

static void *watchdog_main(void *arg)
{
    watchdog *wd = arg;
    pthread_mutex_lock(&wd->mu);
    while (!wd->stop) {
        if (!wd->armed) {
            wd->sleeping_forever = true;
            pthread_cond_wait(&wd->cv, &wd->mu);
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!ts_before(&now, &wd->hold_at)) {
            rp__worker_hold_publishing(wd->w, true);
            wd->fired = true;
            wd->armed = false;
            rp_log_set_request_id(wd->request_id);
            rp_log(RP_LOG_WARN,
                   "deadline near: publishing held, unpublished records are reported as batchItemFailures",
                   NULL);
            rp_log_set_request_id(NULL);
            continue;
        }
        wd->sleeping_forever = false;
        wd->sleeping_until = wd->hold_at;
        pthread_cond_timedwait(&wd->cv, &wd->mu, &wd->sleeping_until);
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

static int watchdog_start(watchdog *wd, rp_error *err)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&wd->mu, NULL) != 0)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot create the deadline watchdog's mutex");
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_REALTIME) != 0 ||
        pthread_cond_init(&wd->cv, &ca) != 0) {
        pthread_mutex_destroy(&wd->mu);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot create the deadline watchdog's condition");
    }
    pthread_condattr_destroy(&ca);
    wd->stop = wd->armed = wd->fired = false;
    wd->sleeping_forever = false;
    int rc = pthread_create(&wd->thread, NULL, watchdog_main, wd);
    if (rc != 0) {
        pthread_cond_destroy(&wd->cv);
        pthread_mutex_destroy(&wd->mu);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot start the deadline watchdog thread: %s", strerror(rc));
    }
    wd->started = true;
    return 0;
}

static void watchdog_stop(watchdog *wd)
{
    if (!wd->started)
        return;
    pthread_mutex_lock(&wd->mu);
    wd->stop = true;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
    wd->started = false;
}

/* Arms the watchdog to hold w's publishing at hold_ms (epoch ms). */
static void watchdog_arm(watchdog *wd, rp__worker *w, uint64_t hold_ms, const char *request_id)
{
    struct timespec at = epoch_ts(hold_ms);
    pthread_mutex_lock(&wd->mu);
    wd->w = w;
    wd->hold_at = at;
    wd->armed = true;
    wd->fired = false;
    size_t n = strnlen(request_id, sizeof wd->request_id - 1);
    memcpy(wd->request_id, request_id, n);
    wd->request_id[n] = '\0';
    if (wd->sleeping_forever || ts_before(&at, &wd->sleeping_until))
        pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
}

/* Returns true when the watchdog held publishing during this arming. */
static bool watchdog_disarm(watchdog *wd)
{
    pthread_mutex_lock(&wd->mu);
    wd->armed = false;
    bool fired = wd->fired;
    wd->fired = false;
    pthread_mutex_unlock(&wd->mu);
    return fired;
}

static int emf_prepare(rp__lambda *l);

/* ---- setup ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The address itself is checked by rp__rapi_new: HOST:PORT, [V6]:PORT or
 * HOST, nothing that would change the request line. */
static int check_address(const char *api, rp_error *err)
{
    if (!api || !*api)
        return rp_error_set(err, RP_ERR_INVALID,
                            "no Runtime API address: AWS_LAMBDA_RUNTIME_API is not set (Lambda sets "
                            "it; outside Lambda give --runtime-api HOST:PORT)");
    return 0;
}

int rp__lambda_new(const rp__lambda_config *cfg, rp__lambda **out, rp_error *err)
{
    *out = NULL;
    if (check_address(cfg->runtime_api, err) < 0)
        return -1;
    rp__lambda *l = calloc(1, sizeof *l);
    if (!l)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    l->runtime_api = strdup(cfg->runtime_api);
    l->metrics_namespace = dup_or_null(cfg->metrics_namespace);
    const char *fname = cfg->function_name;
    if (!fname || !*fname)
        fname = "ridepred";
    l->function_name = strdup(fname);
    if (!l->runtime_api || !l->function_name || (cfg->metrics_namespace && !l->metrics_namespace)) {
        rp__lambda_free(l);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    l->cfg.runtime_api = l->runtime_api;
    l->cfg.metrics_namespace = l->metrics_namespace ? l->metrics_namespace : "ridepred";
    l->cfg.function_name = l->function_name;
    if (!l->cfg.retry.max_attempts)
        l->cfg.retry = RP_LAMBDA_RETRY_DEFAULT;
    if (!l->cfg.post_timeout_ms)
        l->cfg.post_timeout_ms = RP_LAMBDA_POST_TIMEOUT_MS_DEFAULT;
    l->margin_ms = cfg->no_deadline_margin   ? 0
                   : cfg->deadline_margin_ms ? cfg->deadline_margin_ms
                                             : RP_LAMBDA_DEADLINE_MARGIN_MS_DEFAULT;
    rp__rapi_options ro = {.timeout_ms = l->cfg.post_timeout_ms, .retry = l->cfg.retry};
    if (rp__rapi_new(l->runtime_api, &ro, &l->api, err) < 0) {
        rp_error_prefix(err, "AWS_LAMBDA_RUNTIME_API must be HOST:PORT (e.g. 127.0.0.1:9001)");
        rp__lambda_free(l);
        return -1;
    }
    rp__buf_init(&l->path, 4096);
    rp__buf_init(&l->line, 64 * 1024);
    rp__buf_init(&l->emf_head, 4096);
    rp__buf_init(&l->emf_mid, 4096);
    if (emf_prepare(l) < 0) {
        rp__lambda_free(l);
        return rp_error_set(err, RP_ERR_LIMIT, "the metrics namespace or function name is too long");
    }
    *out = l;
    return 0;
}

void rp__lambda_free(rp__lambda *l)
{
    if (!l)
        return;
    watchdog_stop(&l->wd);
    rp__rapi_free(l->api);
    rp__buf_cleanup(&l->path);
    rp__buf_cleanup(&l->line);
    rp__buf_cleanup(&l->emf_head);
    rp__buf_cleanup(&l->emf_mid);
    rp__buf_cleanup(&l->emf_mid_monitor);
    rp__monitor_live_free(l->live);
    free(l->oversized);
    free(l->runtime_api);
    free(l->metrics_namespace);
    free(l->function_name);
    free(l);
}

void rp__lambda_get_stats(const rp__lambda *l, rp__lambda_stats *out)
{
    *out = l->stats;
}

rp__rapi *rp__lambda_rapi(rp__lambda *l)
{
    return l->api;
}

/* ---- Runtime API calls ----------------------------------------------------------- */

/* Sets l->path to /2018-06-01/runtime<path1><id encoded><path2>. */
static int make_path(rp__lambda *l, const char *path1, const char *id, const char *path2, rp_error *err)
{
    rp__buf_reset(&l->path);
    rp__buf_lit(&l->path, API_PREFIX);
    rp__buf_puts(&l->path, path1);
    if (id)
        rp__sigv4_uri_encode(&l->path, id, strlen(id), false);
    rp__buf_puts(&l->path, path2);
    if (l->path.failed)
        return rp_error_set(err, RP_ERR_LIMIT, "Runtime API path too long");
    return 0;
}

/* {"errorMessage": msg, "errorType": type} into l->line. */
static void error_body(rp__lambda *l, const char *type, const char *msg)
{
    rp__buf_reset(&l->line);
    rp__buf_lit(&l->line, "{\"errorMessage\": ");
    rp__pyjson_utf8(&l->line, msg, strlen(msg));
    rp__buf_lit(&l->line, ", \"errorType\": ");
    rp__pyjson_utf8(&l->line, type, strlen(type));
    rp__buf_putc(&l->line, '}');
}

/* A short printable excerpt of an answer's body, for messages. */
static void body_excerpt(const rp__rapi_response *r, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->body_len && n + 1 < cap && i < 200; i++) {
        unsigned char c = (unsigned char)r->body[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[n] = '\0';
}

/* POSTs a body to l->path, with Lambda-Runtime-Function-Error-Type when
 * error_type is not NULL.  Returns 0 with the answer in *ans, or -1 with
 * err set when no answer came. */
static int post(rp__lambda *l, const char *error_type, const char *body, size_t len, rp__rapi_response *ans,
                rp_error *err)
{
    rp__rapi_request req = {.method = "POST",
                            .path = l->path.data,
                            .error_type = error_type,
                            .body = body ? body : "",
                            .body_len = len,
                            .body_max = POST_ANSWER_MAX};
    return rp__rapi_call(l->api, &req, ans, err);
}

int rp__lambda_init_error(rp__lambda *l, const char *error_type, const char *message, rp_error *err)
{
    rp_error local;
    if (!err)
        err = &local;
    if (make_path(l, "/init/error", NULL, "", err) < 0)
        return -1;
    error_body(l, error_type, message);
    if (l->line.failed)
        return rp_error_set(err, RP_ERR_LIMIT, "init error message too long");
    rp__rapi_response ans;
    if (post(l, error_type, l->line.data, l->line.len, &ans, err) < 0)
        return -1;
    if (ans.status < 200 || ans.status >= 300) {
        char ex[256];
        body_excerpt(&ans, ex, sizeof ex);
        return rp_error_set(err, RP_ERR_IO, "the Lambda Runtime API answered /init/error with HTTP %d: %s",
                            ans.status, ex);
    }
    return 0;
}

/* ---- one invocation ------------------------------------------------------------------- */

/* Copies a header of the /next answer into out (NUL-terminated).  Returns
 * 1 when present and fits, 0 when absent, -1 when longer than cap - 1. */
static int header_copy(rp__rapi_str v, char *out, size_t cap)
{
    out[0] = '\0';
    if (!v.p)
        return 0;
    if (v.n >= cap)
        return -1;
    memcpy(out, v.p, v.n);
    out[v.n] = '\0';
    return 1;
}

static bool printable_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* The constant parts of the EMF line, made once: everything between the
 * timestamp and the request id. */
static void emf_mid(rp__lambda *l, rp__buf *b, bool monitor)
{
    rp__buf_lit(b, ", \"CloudWatchMetrics\": [{\"Namespace\": ");
    rp__pyjson_utf8(b, l->cfg.metrics_namespace, strlen(l->cfg.metrics_namespace));
    rp__buf_lit(b, ", \"Dimensions\": [[\"FunctionName\"]], \"Metrics\": ["
                   "{\"Name\": \"Records\", \"Unit\": \"Count\"}, "
                   "{\"Name\": \"Failures\", \"Unit\": \"Count\"}, "
                   "{\"Name\": \"Published\", \"Unit\": \"Count\"}, "
                   "{\"Name\": \"FunctionErrors\", \"Unit\": \"Count\"}, "
                   "{\"Name\": \"HandlerMs\", \"Unit\": \"Milliseconds\"}");
    if (monitor)
        rp__buf_lit(b, ", {\"Name\": \"PredictionDrift\", \"Unit\": \"None\"}, "
                       "{\"Name\": \"DriftedColumns\", \"Unit\": \"Count\"}, "
                       "{\"Name\": \"ShareMissingValues\", \"Unit\": \"None\"}, "
                       "{\"Name\": \"DatasetDrift\", \"Unit\": \"None\"}");
    rp__buf_lit(b, "]}]}, \"FunctionName\": ");
    rp__pyjson_utf8(b, l->cfg.function_name, strlen(l->cfg.function_name));
    rp__buf_lit(b, ", \"requestId\": ");
}

static int emf_prepare(rp__lambda *l)
{
    emf_mid(l, &l->emf_mid, false);
    rp__buf_lit(&l->emf_head, "{\"_aws\": {\"Timestamp\": ");
    return l->emf_mid.failed || l->emf_head.failed ? -1 : 0;
}

/* Decimal digits of v into b. */
static void put_u64(rp__buf *b, uint64_t v)
{
    char d[24];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rp__buf_append(b, d + k, sizeof d - k);
}

/* The Embedded Metric Format line: built in a reused buffer from the
 * parts made once (no printf, no allocation once the buffer has grown),
 * written with one write(2). */
static void emit_metrics(rp__lambda *l, const rp_invoke_result *res, uint64_t handler_ns,
                         unsigned long long published, const char *request_id,
                         const rp__monitor_live_window *mw)
{
    rp__buf *b = &l->line;
    rp__buf_reset(b);
    rp__buf_append(b, l->emf_head.data, l->emf_head.len);
    put_u64(b, now_ms(CLOCK_REALTIME));
    if (mw)
        rp__buf_append(b, l->emf_mid_monitor.data, l->emf_mid_monitor.len);
    else
        rp__buf_append(b, l->emf_mid.data, l->emf_mid.len);
    rp__pyjson_utf8(b, request_id, strlen(request_id));
    rp__buf_lit(b, ", \"Records\": ");
    put_u64(b, res->records);
    rp__buf_lit(b, ", \"Failures\": ");
    put_u64(b, res->failed);
    rp__buf_lit(b, ", \"Published\": ");
    put_u64(b, published);
    rp__buf_lit(b, ", \"FunctionErrors\": ");
    rp__buf_putc(b, res->status == RP_INVOKE_OK ? '0' : '1');
    rp__buf_lit(b, ", \"HandlerMs\": ");
    /* Milliseconds with 3 decimals, rounded from nanoseconds (as "%.3f"). */
    uint64_t us = (handler_ns + 500) / 1000;
    put_u64(b, us / 1000);
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10)};
    rp__buf_append(b, frac, sizeof frac);
    if (mw) {
        /* A closed window with rides: its figures are finite. */
        const rp__monitor_result *r = &mw->result;
        char x[RP_PYFLOAT_MAX];
        rp__buf_lit(b, ", \"PredictionDrift\": ");
        rp__buf_append(b, x, rp__pyfloat_repr(r->prediction_drift, x));
        rp__buf_lit(b, ", \"DriftedColumns\": ");
        put_u64(b, r->num_drifted_columns);
        rp__buf_lit(b, ", \"ShareMissingValues\": ");
        rp__buf_append(b, x, rp__pyfloat_repr(r->share_missing_values, x));
        rp__buf_lit(b, ", \"DatasetDrift\": ");
        rp__buf_putc(b, r->dataset_drift ? '1' : '0');
        rp__buf_lit(b, ", \"MonitorWindowStart\": ");
        put_u64(b, (uint64_t)(mw->start_us / 1000000));
        rp__buf_lit(b, ", \"MonitorRides\": ");
        put_u64(b, r->rides);
    }
    rp__buf_lit(b, "}\n");
    if (b->failed)
        return;
    /* One write: the line is whole even when stdout is shared. */
    ssize_t w = write(STDOUT_FILENO, b->data, b->len);
    (void)w;
}

/* Posts the handler's answer.  Returns 0 (also when the Runtime API
 * refused it with a 4xx, which is logged), -1 on a fatal failure. */
static int answer(rp__lambda *l, const char *id, const rp_invoke_result *res, rp_error *err)
{
    bool is_error = res->status != RP_INVOKE_OK;
    const char *etype = res->error_type && *res->error_type ? res->error_type : "Unhandled";
    if (make_path(l, "/invocation/", id, is_error ? "/error" : "/response", err) < 0)
        return -1;
    rp__rapi_response ans;
    if (post(l, is_error ? etype : NULL, res->body, res->body_len, &ans, err) < 0)
        return -1;
    int status = ans.status;
    if (status >= 200 && status < 300)
        return 0;
    char ex[256], st[16];
    body_excerpt(&ans, ex, sizeof ex);
    snprintf(st, sizeof st, "%d", status);
    if (status >= 500)
        return rp_error_set(
            err, RP_ERR_IO,
            "the Lambda Runtime API answered %s with HTTP %d (a container error: the runtime exits): %s",
            is_error ? "/error" : "/response", status, ex);
    l->stats.refused_answers++;
    if (status == 413 && !is_error) {
        /* Over Lambda's 6 MB: the Runtime API has already failed the
         * invocation (Function.ResponseSizeTooLarge).  That is final: an
         * /error posted after it is refused ("State transition is not
         * allowed"), so none is. */
        char bytes[24];
        snprintf(bytes, sizeof bytes, "%zu", res->body_len);
        rp_log(RP_LOG_ERROR,
               "the Runtime API refused the response as too large: Lambda fails the invocation "
               "(Function.ResponseSizeTooLarge)",
               "status", st, "bytes", bytes, "answer", ex, NULL);
        return 0;
    }
    rp_log(RP_LOG_ERROR,
           is_error ? "the Runtime API refused the error" : "the Runtime API refused the response", "status",
           st, "answer", ex, NULL);
    return 0;
}

/* Parses Lambda-Runtime-Deadline-Ms: epoch milliseconds, digits only.
 * Returns true with the value, false when it is not such a number. */
static bool parse_deadline(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Waits for the next event and serves it.  Returns 0, or -1 on a fatal
 * failure. */
static int serve_one(rp__lambda *l, rp__worker *w, rp_error *err)
{
    if (make_path(l, "/invocation/next", NULL, "", err) < 0)
        return -1;
    rp__rapi_request req = {
        .method = "GET", .path = l->path.data, .body_max = RP_EVENT_MAX_BYTES + 1, .wait = true};
    rp__rapi_response next;
    if (rp__rapi_call(l->api, &req, &next, err) < 0)
        return -1;
    if (next.status != 200) {
        char ex[256];
        body_excerpt(&next, ex, sizeof ex);
        return rp_error_set(err, RP_ERR_IO,
                            "the Lambda Runtime API at %s answered /invocation/next with HTTP %d%s%s",
                            l->runtime_api, next.status, *ex ? ": " : "", ex);
    }
    /* An event over the cap: its body was not read (the connection was
     * dropped); the handler answers it with its size error. */
    bool oversized = next.body_toobig;

    char id[REQUEST_ID_MAX + 1], trace[TRACE_ID_MAX + 1], deadline[32], arn[ARN_MAX + 1];
    if (header_copy(next.request_id, id, sizeof id) != 1 || !printable_token(id))
        return rp_error_set(err, RP_ERR_INVALID,
                            "the Lambda Runtime API answered /invocation/next without a usable "
                            "Lambda-Runtime-Aws-Request-Id header");
    rp_log_set_request_id(id);
    l->stats.invocations++;
    int tr = header_copy(next.trace_id, trace, sizeof trace);
    if (tr < 0)
        rp_log(RP_LOG_WARN, "Lambda-Runtime-Trace-Id too long: not passed on", NULL);
    if (tr != 1)
        trace[0] = '\0';
    if (l->cfg.on_trace_id)
        l->cfg.on_trace_id(l->cfg.on_trace_ctx, trace[0] ? trace : NULL);

    /* The deadline: epoch milliseconds. */
    bool have_deadline = false;
    uint64_t deadline_ms = 0;
    int dr = header_copy(next.deadline_ms, deadline, sizeof deadline);
    if (dr != 0) {
        if (dr == 1 && parse_deadline(deadline, &deadline_ms)) {
            have_deadline = true;
        } else {
            rp_log(RP_LOG_WARN, "Lambda-Runtime-Deadline-Ms is not a number: ignored", "value",
                   dr == 1 ? deadline : "(too long)", NULL);
        }
    }
    /* Time left, clamped to about 24 days either way (a bogus far deadline
     * must not wrap around into the past). */
    int64_t left_ms = 0;
    if (have_deadline) {
        uint64_t now = now_ms(CLOCK_REALTIME);
        uint64_t d = deadline_ms >= now ? deadline_ms - now : now - deadline_ms;
        if (d > INT32_MAX)
            d = INT32_MAX;
        left_ms = deadline_ms >= now ? (int64_t)d : -(int64_t)d;
    }
    if (rp_log_enabled(RP_LOG_DEBUG)) {
        char left[32], size[32];
        if (header_copy(next.function_arn, arn, sizeof arn) < 0)
            snprintf(arn, sizeof arn, "(too long)");
        snprintf(left, sizeof left, "%" PRId64, left_ms);
        snprintf(size, sizeof size, "%zu", next.body_len);
        rp_log(RP_LOG_DEBUG, "invocation", "traceId", trace, "functionArn", arn, "remainingMs",
               have_deadline ? left : "", "eventBytes", oversized ? "over the limit" : size, NULL);
    }

    bool held = false;
    if (have_deadline) {
        if (left_ms <= (int64_t)l->margin_ms) {
            held = true;
            rp__worker_hold_publishing(w, true);
            char left[32];
            snprintf(left, sizeof left, "%" PRId64, left_ms);
            rp_log(RP_LOG_WARN, "deadline near: publishing held, records are reported as batchItemFailures",
                   "remainingMs", left, NULL);
        } else {
            if (!l->wd.started && watchdog_start(&l->wd, err) < 0)
                return -1;
            /* The hold time in the deadline's own clock, exactly: equal or
             * growing deadlines of successive invocations then never wake
             * the watchdog (a time recomputed as "now + left" would jitter
             * by a millisecond, earlier half of the time). */
            uint64_t hold_ms = left_ms < INT32_MAX
                                   ? deadline_ms - l->margin_ms
                                   : now_ms(CLOCK_REALTIME) + (uint64_t)left_ms - l->margin_ms;
            watchdog_arm(&l->wd, w, hold_ms, id);
        }
    }

    const char *event = next.body;
    size_t len = next.body_len;
    if (oversized) {
        /* Give the handler RP_EVENT_MAX_BYTES + 1 real bytes: it refuses on
         * the length, but never reads past what it is given.  Made once. */
        if (!l->oversized) {
            l->oversized = malloc(RP_EVENT_MAX_BYTES + 1);
            if (!l->oversized) {
                if (have_deadline && !held)
                    watchdog_disarm(&l->wd);
                return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            }
            memset(l->oversized, ' ', RP_EVENT_MAX_BYTES + 1);
        }
        event = l->oversized;
        len = RP_EVENT_MAX_BYTES + 1;
    }

    rp_invoke_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long published0 = rp__worker_published(w);
    int irc = rp__worker_invoke(w, event, len, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (have_deadline && !held)
        held = watchdog_disarm(&l->wd);
    if (held) {
        rp__worker_hold_publishing(w, false);
        l->stats.deadline_holds++;
    }
    if (irc < 0) {
        /* Not even an error body could be built. */
        static const char oom[] =
            "{\"errorMessage\": \"out of memory\", \"errorType\": \"Runtime.OutOfMemory\"}";
        res = (rp_invoke_result){.status = RP_INVOKE_FUNCTION_ERROR,
                                 .body = oom,
                                 .body_len = sizeof oom - 1,
                                 .error_type = "Runtime.OutOfMemory"};
    }
    l->stats.records += res.records;
    l->stats.failures += res.failed;
    if (res.status != RP_INVOKE_OK)
        l->stats.function_errors++;

    /* The event (a view into the client's buffer) is not used past here. */
    int rc = answer(l, id, &res, err);
    /* After the answer: a window that ended before this invocation is
     * compared now (the caller has its answer; the sandbox freezes only at
     * the next /next), then this invocation's rides go to the window of
     * the present (the handler's rides stay valid until its next call). */
    rp__monitor_live_window mw;
    bool closed = l->live && rp__monitor_live_tick(l->live) == 1 &&
                  rp__monitor_live_last(l->live, &mw) == 1 && mw.result.rides > 0 &&
                  isfinite(mw.result.prediction_drift) && isfinite(mw.result.share_missing_values);
    rp_handler_rides rides;
    if (l->live && irc == 0 && rp_handler_last_rides(rp__worker_handler(w), &rides) == 0)
        rp__monitor_live_record(l->live, rides.pu, rides.dol, rides.distance, rides.prediction, rides.n);
    if (!l->cfg.no_metrics) {
        uint64_t ns =
            (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
        emit_metrics(l, &res, ns, rp__worker_published(w) - published0, id, closed ? &mw : NULL);
    }
    rp_log_set_request_id(NULL);
    return rc;
}

int rp__lambda_monitor(rp__lambda *l, const rp__monitor_live_config *cfg, rp_error *err)
{
    rp__monitor_live_config mc = *cfg;
    mc.source = "lambda";
    mc.metrics = NULL;
    rp__buf_init(&l->emf_mid_monitor, 4096);
    emf_mid(l, &l->emf_mid_monitor, true);
    if (l->emf_mid_monitor.failed)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return rp__monitor_live_new(&mc, &l->live, err);
}

int rp__lambda_run(rp__lambda *l, rp__function *f, rp_error *err)
{
    rp_error e;
    rp__worker *w = rp__worker_new(f, &e);
    if (w && l->live)
        rp_handler_keep_rides(rp__worker_handler(w), true);
    if (!w) {
        rp_error ie;
        if (rp__lambda_init_error(l, "Runtime.StreamClientError", e.msg, &ie) < 0)
            rp_log(RP_LOG_ERROR, "cannot report the init error", "reason", ie.msg, NULL);
        if (err)
            *err = e;
        return -1;
    }
    if (!err)
        err = &e;
    int rc = 0;
    while (!l->cfg.max_invocations || l->stats.invocations < l->cfg.max_invocations) {
        if (serve_one(l, w, err) < 0) {
            rc = -1;
            break;
        }
    }
    rp_log_set_request_id(NULL);
    watchdog_stop(&l->wd);
    rp__worker_free(w);
    return rc;
}
