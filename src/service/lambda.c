/* The Lambda Runtime API loop (see lambda.h). */
#include "service/lambda.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "event/event.h"
#include "ridepred/log.h"

#define API_PREFIX "/2018-06-01/runtime"
#define REQUEST_ID_MAX 256
#define TRACE_ID_MAX 1024
#define ARN_MAX 512
#define TRACE_ENV "_X_AMZN_TRACE_ID="
/* Bodies of the Runtime API's answers to posts (errors are small JSON). */
#define POST_ANSWER_MAX ((size_t)64 * 1024)

/* The deadline watchdog: a thread that holds the worker's publishing when
 * an invocation's hold time comes while the handler still runs.  Arming is
 * cheap: the thread is woken only when the new hold time is earlier than
 * the one it sleeps towards (deadlines of successive invocations grow, so
 * it mostly wakes once per stale deadline, not per invocation). */
typedef struct watchdog {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    bool stop;
    bool armed;
    struct timespec hold_at;   /* monotonic */
    bool sleeping_forever;     /* waiting without a time */
    struct timespec sleeping_until;
    bool fired;                /* for the current arming */
    rp_worker *w;
    char request_id[REQUEST_ID_MAX + 1];
} watchdog;

struct rp_lambda {
    rp_lambda_config cfg;
    char *runtime_api;
    char *metrics_namespace;
    char *function_name;
    uint32_t margin_ms;
    rp_http_client http;
    rp_http_response next;      /* the event: capped at RP_EVENT_MAX_BYTES + 1 */
    rp_http_response answer;    /* answers to posts */
    rp_buf url;
    rp_buf line;                /* EMF line, error bodies */
    rp_lambda_stats stats;
    watchdog wd;
    /* "_X_AMZN_TRACE_ID=<value>", given to putenv once and then rewritten
     * in place: setenv would keep every value ever set (glibc never frees
     * replaced values), an unbounded growth over millions of invocations. */
    char trace_env[sizeof TRACE_ENV + TRACE_ID_MAX];
    bool trace_env_set;
};

/* ---- time ------------------------------------------------------------------- */

static uint64_t now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static struct timespec mono_plus_ms(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
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
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!ts_before(&now, &wd->hold_at)) {
            rp_worker_hold_publishing(wd->w, true);
            wd->fired = true;
            wd->armed = false;
            rp_log_set_request_id(wd->request_id);
            rp_log(RP_LOG_WARN, "deadline near: publishing held, unpublished records are reported as batchItemFailures",
                   (const char *)NULL);
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
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
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
        return rp_error_set(err, RP_ERR_NOMEM, "cannot start the deadline watchdog thread: %s",
                            strerror(rc));
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

static void watchdog_arm(watchdog *wd, rp_worker *w, uint64_t in_ms, const char *request_id)
{
    struct timespec at = mono_plus_ms(in_ms);
    pthread_mutex_lock(&wd->mu);
    wd->w = w;
    wd->hold_at = at;
    wd->armed = true;
    wd->fired = false;
    snprintf(wd->request_id, sizeof wd->request_id, "%s", request_id);
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

/* ---- setup ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A Runtime API address is host:port (or host, or [v6]:port), as
 * AWS_LAMBDA_RUNTIME_API gives it: nothing that would change the URL. */
static int check_address(const char *api, rp_error *err)
{
    if (!api || !*api)
        return rp_error_set(err, RP_ERR_INVALID,
                            "no Runtime API address: AWS_LAMBDA_RUNTIME_API is not set (Lambda sets "
                            "it; outside Lambda give --runtime-api HOST:PORT)");
    if (strlen(api) > 255 || strpbrk(api, "/?#@\\ \t\r\n"))
        return rp_error_set(err, RP_ERR_INVALID,
                            "AWS_LAMBDA_RUNTIME_API must be HOST:PORT (e.g. 127.0.0.1:9001), "
                            "without scheme, path or user");
    char url[300];
    snprintf(url, sizeof url, "http://%s/", api);
    rp_http_url u;
    rp_error e;
    if (rp_http_url_parse(url, &u, &e) < 0 || !u.host_len)
        return rp_error_set(err, RP_ERR_INVALID,
                            "AWS_LAMBDA_RUNTIME_API must be HOST:PORT (e.g. 127.0.0.1:9001): %s",
                            u.host_len ? e.msg : "no host");
    return 0;
}

int rp_lambda_new(const rp_lambda_config *cfg, rp_lambda **out, rp_error *err)
{
    *out = NULL;
    if (check_address(cfg->runtime_api, err) < 0)
        return -1;
    rp_lambda *l = calloc(1, sizeof *l);
    if (!l)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    l->runtime_api = strdup(cfg->runtime_api);
    l->metrics_namespace = dup_or_null(cfg->metrics_namespace);
    const char *fname = cfg->function_name;
    if (!fname || !*fname)
        fname = getenv("AWS_LAMBDA_FUNCTION_NAME");
    if (!fname || !*fname)
        fname = "ridepred";
    l->function_name = strdup(fname);
    if (!l->runtime_api || !l->function_name || (cfg->metrics_namespace && !l->metrics_namespace)) {
        rp_lambda_free(l);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    l->cfg.runtime_api = l->runtime_api;
    l->cfg.metrics_namespace = l->metrics_namespace ? l->metrics_namespace : "ridepred";
    l->cfg.function_name = l->function_name;
    if (!l->cfg.retry.max_attempts)
        l->cfg.retry = RP_LAMBDA_RETRY_DEFAULT;
    if (!l->cfg.post_timeout_ms)
        l->cfg.post_timeout_ms = RP_LAMBDA_POST_TIMEOUT_MS_DEFAULT;
    l->margin_ms = cfg->no_deadline_margin ? 0
                   : cfg->deadline_margin_ms ? cfg->deadline_margin_ms
                                             : RP_LAMBDA_DEADLINE_MARGIN_MS_DEFAULT;
    rp_http_options ho = {.retry = {1, 0, 0}, .no_proxy = true};
    rp_http_client_init(&l->http, &ho, err);
    rp_http_response_init(&l->next, RP_EVENT_MAX_BYTES + 1);
    rp_http_response_init(&l->answer, POST_ANSWER_MAX);
    rp_buf_init(&l->url, 4096);
    rp_buf_init(&l->line, 64 * 1024);
    *out = l;
    return 0;
}

void rp_lambda_free(rp_lambda *l)
{
    if (!l)
        return;
    watchdog_stop(&l->wd);
    if (l->trace_env_set)
        unsetenv("_X_AMZN_TRACE_ID");
    rp_http_client_cleanup(&l->http);
    rp_http_response_cleanup(&l->next);
    rp_http_response_cleanup(&l->answer);
    rp_buf_cleanup(&l->url);
    rp_buf_cleanup(&l->line);
    free(l->runtime_api);
    free(l->metrics_namespace);
    free(l->function_name);
    free(l);
}

void rp_lambda_get_stats(const rp_lambda *l, rp_lambda_stats *out)
{
    *out = l->stats;
}

rp_http_client *rp_lambda_http_client(rp_lambda *l)
{
    return &l->http;
}

/* ---- Runtime API calls ----------------------------------------------------------- */

/* Sets l->url to http://API/2018-06-01/runtime<path1><id encoded><path2>. */
static int make_url(rp_lambda *l, const char *path1, const char *id, const char *path2, rp_error *err)
{
    rp_buf_reset(&l->url);
    rp_buf_printf(&l->url, "http://%s" API_PREFIX "%s", l->runtime_api, path1);
    if (id)
        rp_sigv4_uri_encode(&l->url, id, strlen(id), false);
    rp_buf_puts(&l->url, path2);
    if (l->url.failed)
        return rp_error_set(err, RP_ERR_LIMIT, "Runtime API URL too long");
    return 0;
}

/* Sends one request to the Runtime API, retrying refused or dropped
 * connections with full-jitter backoff.  timeout_ms 0: none.  Returns 0
 * when a response arrived (any status), -1 with err set otherwise. */
static int api_call(rp_lambda *l, const char *method, const rp_http_header *headers, size_t n_headers,
                    const void *body, size_t len, uint32_t timeout_ms, rp_http_response *resp,
                    rp_error *err)
{
    rp_http_request req = {.method = method,
                           .url = l->url.data,
                           .headers = headers,
                           .n_headers = n_headers,
                           .body = body,
                           .body_len = len};
    /* The client's options are read at each request: /next must wait for
     * as long as Lambda keeps the environment frozen between events. */
    l->http.opt.timeout_ms = timeout_ms;
    const rp_retry_policy *p = &l->cfg.retry;
    unsigned max = p->max_attempts ? p->max_attempts : 1;
    unsigned attempt = 0;
    for (;;) {
        attempt++;
        if (rp_http_send(&l->http, &req, resp, err) == 0)
            return 0;
        if (!err->retriable || attempt >= max)
            break;
        uint32_t ms = rp_retry_delay_ms(p, attempt, l->http.random(l->http.random_ctx));
        if (rp_log_enabled(RP_LOG_WARN)) {
            char a[16], d[16];
            snprintf(a, sizeof a, "%u", attempt + 1);
            snprintf(d, sizeof d, "%u", (unsigned)ms);
            rp_log(RP_LOG_WARN, "Runtime API unreachable, retrying", "attempt", a, "delay_ms", d,
                   "reason", err->msg, (const char *)NULL);
        }
        l->http.sleep_ms(l->http.sleep_ctx, ms);
    }
    if (err->retriable)
        rp_error_prefix(err,
                        "cannot reach the Lambda Runtime API at %s (AWS_LAMBDA_RUNTIME_API) after %u attempt%s",
                        l->runtime_api, attempt, attempt == 1 ? "" : "s");
    else
        rp_error_prefix(err, "Lambda Runtime API at %s (AWS_LAMBDA_RUNTIME_API)", l->runtime_api);
    return -1;
}

/* {"errorMessage": msg, "errorType": type} into l->line. */
static void error_body(rp_lambda *l, const char *type, const char *msg)
{
    rp_buf_reset(&l->line);
    rp_buf_lit(&l->line, "{\"errorMessage\": ");
    rp_pyjson_utf8(&l->line, msg, strlen(msg));
    rp_buf_lit(&l->line, ", \"errorType\": ");
    rp_pyjson_utf8(&l->line, type, strlen(type));
    rp_buf_putc(&l->line, '}');
}

/* A short printable excerpt of an answer's body, for messages. */
static void body_excerpt(const rp_http_response *r, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->body.len && n + 1 < cap && i < 200; i++) {
        unsigned char c = (unsigned char)r->body.data[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[n] = '\0';
}

/* POSTs a body.  Returns 0 with the answer's status in *status, or -1 with
 * err set when no answer came. */
static int post(rp_lambda *l, const rp_http_header *headers, size_t n, const char *body, size_t len,
                long *status, rp_error *err)
{
    if (api_call(l, "POST", headers, n, body ? body : "", len, l->cfg.post_timeout_ms, &l->answer, err) < 0)
        return -1;
    *status = l->answer.status;
    return 0;
}

int rp_lambda_init_error(rp_lambda *l, const char *error_type, const char *message, rp_error *err)
{
    rp_error local;
    if (!err)
        err = &local;
    if (make_url(l, "/init/error", NULL, "", err) < 0)
        return -1;
    error_body(l, error_type, message);
    if (l->line.failed)
        return rp_error_set(err, RP_ERR_LIMIT, "init error message too long");
    rp_http_header h[] = {{"Content-Type", "application/json"},
                          {"Lambda-Runtime-Function-Error-Type", error_type}};
    long status;
    if (post(l, h, 2, l->line.data, l->line.len, &status, err) < 0)
        return -1;
    if (status < 200 || status >= 300) {
        char ex[256];
        body_excerpt(&l->answer, ex, sizeof ex);
        return rp_error_set(err, RP_ERR_IO, "the Lambda Runtime API answered /init/error with HTTP %ld: %s",
                            status, ex);
    }
    return 0;
}

/* ---- one invocation ------------------------------------------------------------------- */

/* Copies a header of the /next answer into out (NUL-terminated).  Returns
 * 1 when present and fits, 0 when absent, -1 when longer than cap - 1. */
static int header_copy(const rp_http_response *r, const char *name, char *out, size_t cap)
{
    const char *v;
    size_t n;
    out[0] = '\0';
    if (!rp_http_response_header(r, name, &v, &n))
        return 0;
    if (n >= cap)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
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

/* Sets (or unsets) _X_AMZN_TRACE_ID without growing the environment. */
static void set_trace(rp_lambda *l, const char *trace)
{
    if (!trace || !*trace) {
        if (l->trace_env_set) {
            unsetenv("_X_AMZN_TRACE_ID");
            l->trace_env_set = false;
        }
        return;
    }
    snprintf(l->trace_env, sizeof l->trace_env, TRACE_ENV "%s", trace);
    if (!l->trace_env_set) {
        /* putenv keeps our buffer: later values are written into it. */
        if (putenv(l->trace_env) == 0)
            l->trace_env_set = true;
    }
}

static void emit_metrics(rp_lambda *l, const rp_invoke_result *res, double handler_ms,
                         unsigned long long published, const char *request_id)
{
    rp_buf *b = &l->line;
    rp_buf_reset(b);
    rp_buf_printf(b, "{\"_aws\": {\"Timestamp\": %" PRIu64 ", \"CloudWatchMetrics\": [{\"Namespace\": ",
                  now_ms(CLOCK_REALTIME));
    rp_pyjson_utf8(b, l->cfg.metrics_namespace, strlen(l->cfg.metrics_namespace));
    rp_buf_lit(b, ", \"Dimensions\": [[\"FunctionName\"]], \"Metrics\": ["
                  "{\"Name\": \"Records\", \"Unit\": \"Count\"}, "
                  "{\"Name\": \"Failures\", \"Unit\": \"Count\"}, "
                  "{\"Name\": \"Published\", \"Unit\": \"Count\"}, "
                  "{\"Name\": \"FunctionErrors\", \"Unit\": \"Count\"}, "
                  "{\"Name\": \"HandlerMs\", \"Unit\": \"Milliseconds\"}]}]}, \"FunctionName\": ");
    rp_pyjson_utf8(b, l->cfg.function_name, strlen(l->cfg.function_name));
    rp_buf_lit(b, ", \"requestId\": ");
    rp_pyjson_utf8(b, request_id, strlen(request_id));
    rp_buf_printf(b,
                  ", \"Records\": %zu, \"Failures\": %zu, \"Published\": %llu, \"FunctionErrors\": %d, "
                  "\"HandlerMs\": %.3f}\n",
                  res->records, res->failed, published, res->status == RP_INVOKE_OK ? 0 : 1, handler_ms);
    if (b->failed)
        return;
    /* One write: the line is whole even when stdout is shared. */
    ssize_t w = write(STDOUT_FILENO, b->data, b->len);
    (void)w;
}

/* Posts the handler's answer.  Returns 0 (also when the Runtime API
 * refused it with a 4xx, which is logged), -1 on a fatal failure. */
static int answer(rp_lambda *l, const char *id, const rp_invoke_result *res, rp_error *err)
{
    bool is_error = res->status != RP_INVOKE_OK;
    const char *etype = res->error_type && *res->error_type ? res->error_type : "Unhandled";
    if (make_url(l, "/invocation/", id, is_error ? "/error" : "/response", err) < 0)
        return -1;
    rp_http_header h[] = {{"Content-Type", "application/json"},
                          {"Lambda-Runtime-Function-Error-Type", etype}};
    long status;
    if (post(l, h, is_error ? 2 : 1, res->body, res->body_len, &status, err) < 0)
        return -1;
    if (status >= 200 && status < 300)
        return 0;
    char ex[256], st[16];
    body_excerpt(&l->answer, ex, sizeof ex);
    snprintf(st, sizeof st, "%ld", status);
    if (status >= 500)
        return rp_error_set(err, RP_ERR_IO,
                            "the Lambda Runtime API answered %s with HTTP %ld (a container error: the runtime exits): %s",
                            is_error ? "/error" : "/response", status, ex);
    l->stats.refused_answers++;
    rp_log(RP_LOG_ERROR, is_error ? "the Runtime API refused the error" : "the Runtime API refused the response",
           "status", st, "answer", ex, (const char *)NULL);
    if (status == 413 && !is_error) {
        /* Too large for Lambda: say so on /error, as Lambda's own runtimes do. */
        char msg[160];
        snprintf(msg, sizeof msg, "the response (%zu bytes) is larger than the Runtime API accepts",
                 res->body_len);
        if (make_url(l, "/invocation/", id, "/error", err) < 0)
            return -1;
        error_body(l, "Function.ResponseSizeTooLarge", msg);
        rp_http_header eh[] = {{"Content-Type", "application/json"},
                               {"Lambda-Runtime-Function-Error-Type", "Function.ResponseSizeTooLarge"}};
        if (post(l, eh, 2, l->line.data, l->line.len, &status, err) < 0)
            return -1;
        if (status >= 500)
            return rp_error_set(err, RP_ERR_IO, "the Lambda Runtime API answered /error with HTTP %ld", status);
        if (status >= 300) {
            snprintf(st, sizeof st, "%ld", status);
            rp_log(RP_LOG_ERROR, "the Runtime API refused the error", "status", st, (const char *)NULL);
        }
    }
    return 0;
}

/* Waits for the next event and serves it.  Returns 0, or -1 on a fatal
 * failure. */
static int serve_one(rp_lambda *l, rp_worker *w, rp_error *err)
{
    if (make_url(l, "/invocation/next", NULL, "", err) < 0)
        return -1;
    bool oversized = false;
    if (api_call(l, "GET", NULL, 0, NULL, 0, 0, &l->next, err) < 0) {
        /* An event over the cap: the headers came, the body was cut.  The
         * handler answers it with its size error. */
        const char *v;
        size_t vn;
        if (err->code == RP_ERR_LIMIT && l->next.body.toobig &&
            rp_http_response_header(&l->next, "Lambda-Runtime-Aws-Request-Id", &v, &vn))
            oversized = true;
        else
            return -1;
    } else if (l->next.status != 200) {
        char ex[256];
        body_excerpt(&l->next, ex, sizeof ex);
        return rp_error_set(err, RP_ERR_IO,
                            "the Lambda Runtime API at %s answered /invocation/next with HTTP %ld%s%s",
                            l->runtime_api, l->next.status, *ex ? ": " : "", ex);
    }

    char id[REQUEST_ID_MAX + 1], trace[TRACE_ID_MAX + 1], deadline[32], arn[ARN_MAX + 1];
    if (header_copy(&l->next, "Lambda-Runtime-Aws-Request-Id", id, sizeof id) != 1 || !printable_token(id))
        return rp_error_set(err, RP_ERR_INVALID,
                            "the Lambda Runtime API answered /invocation/next without a usable "
                            "Lambda-Runtime-Aws-Request-Id header");
    rp_log_set_request_id(id);
    l->stats.invocations++;
    int tr = header_copy(&l->next, "Lambda-Runtime-Trace-Id", trace, sizeof trace);
    if (tr < 0)
        rp_log(RP_LOG_WARN, "Lambda-Runtime-Trace-Id too long: not passed on", (const char *)NULL);
    set_trace(l, tr == 1 ? trace : NULL);
    if (header_copy(&l->next, "Lambda-Runtime-Invoked-Function-Arn", arn, sizeof arn) < 0)
        snprintf(arn, sizeof arn, "(too long)");

    /* The deadline: epoch milliseconds. */
    bool have_deadline = false;
    uint64_t deadline_ms = 0;
    if (header_copy(&l->next, "Lambda-Runtime-Deadline-Ms", deadline, sizeof deadline) == 1) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(deadline, &end, 10);
        if (!errno && end != deadline && !*end && deadline[0] != '-') {
            have_deadline = true;
            deadline_ms = v;
        } else {
            rp_log(RP_LOG_WARN, "Lambda-Runtime-Deadline-Ms is not a number: ignored", "value", deadline,
                   (const char *)NULL);
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
        snprintf(left, sizeof left, "%" PRId64, left_ms);
        snprintf(size, sizeof size, "%zu", l->next.body.len);
        /* The trace id as the process sees it (what X-Ray SDKs read). */
        const char *env_trace = getenv("_X_AMZN_TRACE_ID");
        rp_log(RP_LOG_DEBUG, "invocation", "traceId", env_trace ? env_trace : "", "functionArn", arn,
               "remainingMs", have_deadline ? left : "", "eventBytes", oversized ? "over the limit" : size,
               (const char *)NULL);
    }

    bool held = false;
    if (have_deadline) {
        if (left_ms <= (int64_t)l->margin_ms) {
            held = true;
            rp_worker_hold_publishing(w, true);
            char left[32];
            snprintf(left, sizeof left, "%" PRId64, left_ms);
            rp_log(RP_LOG_WARN, "deadline near: publishing held, records are reported as batchItemFailures",
                   "remainingMs", left, (const char *)NULL);
        } else {
            if (!l->wd.started && watchdog_start(&l->wd, err) < 0)
                return -1;
            watchdog_arm(&l->wd, w, (uint64_t)left_ms - l->margin_ms, id);
        }
    }

    const char *event = l->next.body.data ? l->next.body.data : "";
    size_t len = l->next.body.len;
    if (oversized) {
        /* Give the handler RP_EVENT_MAX_BYTES + 1 real bytes: it refuses on
         * the length, but never reads past what it is given. */
        rp_buf_reset(&l->next.body);
        if (rp_buf_grow(&l->next.body, RP_EVENT_MAX_BYTES + 1) < 0)
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        memset(l->next.body.data, ' ', RP_EVENT_MAX_BYTES + 1);
        l->next.body.len = RP_EVENT_MAX_BYTES + 1;
        event = l->next.body.data;
        len = l->next.body.len;
    }

    rp_invoke_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long published0 = rp_worker_published(w);
    int irc = rp_worker_invoke(w, event, len, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (have_deadline && !held)
        held = watchdog_disarm(&l->wd);
    if (held) {
        rp_worker_hold_publishing(w, false);
        l->stats.deadline_holds++;
    }
    if (irc < 0) {
        /* Not even an error body could be built. */
        static const char oom[] = "{\"errorMessage\": \"out of memory\", \"errorType\": \"Runtime.OutOfMemory\"}";
        res = (rp_invoke_result){.status = RP_INVOKE_FUNCTION_ERROR,
                                 .body = oom,
                                 .body_len = sizeof oom - 1,
                                 .error_type = "Runtime.OutOfMemory"};
    }
    l->stats.records += res.records;
    l->stats.failures += res.failed;
    if (res.status != RP_INVOKE_OK)
        l->stats.function_errors++;

    int rc = answer(l, id, &res, err);
    if (!l->cfg.no_metrics)
        emit_metrics(l, &res, elapsed_ms(&t0, &t1), rp_worker_published(w) - published0, id);
    rp_log_set_request_id(NULL);
    return rc;
}

int rp_lambda_run(rp_lambda *l, rp_function *f, rp_error *err)
{
    rp_error e;
    rp_worker *w = rp_worker_new(f, &e);
    if (!w) {
        rp_error ie;
        if (rp_lambda_init_error(l, "Runtime.StreamClientError", e.msg, &ie) < 0)
            rp_log(RP_LOG_ERROR, "cannot report the init error", "reason", ie.msg, (const char *)NULL);
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
    rp_worker_free(w);
    return rc;
}
