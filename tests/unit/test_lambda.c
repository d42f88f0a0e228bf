/* The Lambda runtime loop (src/lambda/lambda.c) against a scripted Runtime
 * API injected as the exchange of its client (src/lambda/rapi.h): exact
 * paths, methods, headers, bodies and timeouts; retries and their delays;
 * every failure answer; the EMF line; the request-id log context.  The
 * scripted answers go through the client's real parser (rp__rapi_parse).
 * tests/unit/test_rapi.c tests the client over real sockets, and
 * tests/integration/test_lambda_runtime.py drives the real binary. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "function/event.h"
#include "function/function.h"
#include "lambda/lambda.h"
#include "ridepred/log.h"
#include "testing.h"

#define BASE "/2018-06-01/runtime"
#define FAR_DEADLINE "Lambda-Runtime-Deadline-Ms: 99999999999999\r\n"
#define DIRECT                                                                                               \
    "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 3.0}, \"ride_id\": 7}"

typedef struct step {
    const char *method;
    const char *path;    /* expected */
    long status;         /* 0: a refused connection (retriable transport failure) */
    const char *headers; /* raw header lines of the answer */
    const char *body;
    size_t body_len; /* 0: strlen(body) */
} step;

#define MAX_REQ 32
static char current_trace[1100]; /* see on_trace */
typedef struct fake {
    const step *steps;
    size_t n, i;
    int mismatches;
    char path[MAX_REQ][512];
    bool wait[MAX_REQ];
    char body[MAX_REQ][256];
    size_t body_len[MAX_REQ];
    char etype[MAX_REQ][64];
    uint32_t timeout[MAX_REQ];
    char trace[MAX_REQ][128]; /* the trace id last handed to on_trace_id */
    unsigned sleeps;
    uint32_t slept[MAX_REQ];
    uint64_t rand[MAX_REQ]; /* what the random source returns, in turn */
    unsigned rands;
} fake;

static int fake_exchange(void *ctx, rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp,
                         rp_error *err)
{
    fake *f = ctx;
    if (f->i >= f->n || f->i >= MAX_REQ)
        return rp_error_set(err, RP_ERR_IO, "the script ended");
    size_t k = f->i;
    const step *s = &f->steps[f->i++];
    snprintf(f->path[k], sizeof f->path[k], "%s", req->path);
    f->body_len[k] = req->body_len;
    snprintf(f->body[k], sizeof f->body[k], "%.*s", (int)(req->body_len < 255 ? req->body_len : 255),
             req->body ? (const char *)req->body : "");
    snprintf(f->etype[k], sizeof f->etype[k], "%s", req->error_type ? req->error_type : "");
    f->wait[k] = req->wait;
    f->timeout[k] = req->wait ? 0 : rp__rapi_get_options(c)->timeout_ms;
    snprintf(f->trace[k], sizeof f->trace[k], "%.100s", current_trace[0] ? current_trace : "(unset)");
    if (strcmp(req->method, s->method) || strcmp(req->path, s->path)) {
        fprintf(stderr, "request %zu: got %s %s, want %s %s\n", k, req->method, req->path, s->method,
                s->path);
        f->mismatches++;
    }
    if (!s->status) {
        rp_error_set(err, RP_ERR_IO, "cannot connect to 127.0.0.1:9001: Connection refused");
        err->retriable = true;
        return -1;
    }
    /* The answer as bytes on the wire, through the client's parser. */
    size_t bl = s->body_len ? s->body_len : strlen(s->body ? s->body : "");
    const char *hd = s->headers ? s->headers : "";
    size_t cap = strlen(hd) + bl + 128;
    char *raw = malloc(cap);
    int n = snprintf(raw, cap, "HTTP/1.1 %ld Status\r\n%sContent-Length: %zu\r\n\r\n", s->status, hd, bl);
    memcpy(raw + n, s->body ? s->body : "", bl);
    int rc = rp__rapi_parse(c, raw, (size_t)n + bl, 0, req->body_max, resp, err);
    free(raw);
    return rc;
}

static void fake_sleep(void *ctx, uint32_t ms)
{
    fake *f = ctx;
    if (f->sleeps < MAX_REQ)
        f->slept[f->sleeps] = ms;
    f->sleeps++;
}

static uint64_t fake_random(void *ctx)
{
    fake *f = ctx;
    return f->rands < MAX_REQ ? f->rand[f->rands++] : 0;
}

static char model_path[64];
static rp__function *fn;

static void setup_function(void)
{
    snprintf(model_path, sizeof model_path, "/tmp/rp-test-lambda-%d.json", (int)getpid());
    FILE *f = fopen(model_path, "w");
    fputs("{\"format\": \"ridepred.model/1\", \"version\": \"v1\", \"features\": [\"trip_distance\"], "
          "\"estimator\": {\"type\": \"linear\", \"coef\": [2.0], \"intercept\": 1.0}}",
          f);
    fclose(f);
    rp__function_config cfg = {.model = {.location = model_path}, .test_run = true};
    rp_error err;
    if (rp__function_open(&cfg, &fn, &err) < 0) {
        fprintf(stderr, "cannot open the test model: %s\n", err.msg);
        exit(1);
    }
}

static bool with_metrics; /* EMF lines on (emf_line) */

/* Runs the loop on a script; returns rp__lambda_run's result. */
/* What the runtime hands on_trace_id (the CLI sets _X_AMZN_TRACE_ID from it). */
static void on_trace(void *ctx, const char *trace)
{
    (void)ctx;
    snprintf(current_trace, sizeof current_trace, "%s", trace ? trace : "");
}

static int run(const step *steps, size_t n, uint64_t max, fake *f, rp__lambda_stats *stats, rp_error *err,
               rp__lambda_config *over, const uint64_t *rand, size_t n_rand)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n_rand && i < MAX_REQ; i++)
        f->rand[i] = rand[i];
    f->steps = steps;
    f->n = n;
    rp__lambda_config cfg = over ? *over : (rp__lambda_config){0};
    cfg.runtime_api = "127.0.0.1:9001";
    cfg.max_invocations = max;
    cfg.no_metrics = !with_metrics;
    cfg.on_trace_id = on_trace;
    current_trace[0] = '\0';
    rp__lambda *l;
    if (rp__lambda_new(&cfg, &l, err) < 0)
        return -2;
    rp__rapi_hooks *h = rp__rapi_get_hooks(rp__lambda_rapi(l));
    h->exchange = fake_exchange;
    h->exchange_ctx = f;
    h->sleep_ms = fake_sleep;
    h->sleep_ctx = f;
    h->random = fake_random;
    h->random_ctx = f;
    int rc = rp__lambda_run(l, fn, err);
    if (stats)
        rp__lambda_get_stats(l, stats);
    rp__lambda_free(l);
    return rc;
}

TEST(serves_a_direct_event)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 200,
         "Lambda-Runtime-Aws-Request-Id: r-1\r\n" FAR_DEADLINE
         "Lambda-Runtime-Trace-Id: Root=1-abc;Sampled=1\r\n",
         DIRECT, 0},
        {"POST", BASE "/invocation/r-1/response", 202, "", "{\"status\": \"OK\"}", 0},
    };
    fake f;
    rp__lambda_stats st;
    rp_error err;
    int rc = run(s, 2, 1, &f, &st, &err, NULL, NULL, 0);
    CHECK(rc == 0);
    CHECK(f.i == 2 && f.mismatches == 0);
    CHECK_STR(f.body[1], "{\"ride_duration\": 7.0, \"ride_id\": 7}");
    CHECK(f.etype[1][0] == '\0');
    CHECK_STR(f.trace[0], "(unset)");
    CHECK_STR(f.trace[1], "Root=1-abc;Sampled=1"); /* set while the invocation runs */
    CHECK(f.wait[0] && !f.wait[1]);                /* /next waits for ever */
    CHECK(f.timeout[1] == RP_LAMBDA_POST_TIMEOUT_MS_DEFAULT);
    CHECK(st.invocations == 1 && st.records == 1 && st.failures == 0 && st.function_errors == 0);
    CHECK(getenv("_X_AMZN_TRACE_ID") == NULL); /* the library sets no variable */
    CHECK_STR(rp_log_request_id(), "");
}

TEST(invalid_event_goes_to_error)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-2\r\n", "[1, 2]", 0},
        {"POST", BASE "/invocation/r-2/error", 202, "", "", 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-3\r\n", "{\"Records\": []}",
         0},
        {"POST", BASE "/invocation/r-3/response", 202, "", "", 0},
    };
    fake f;
    rp__lambda_stats st;
    rp_error err;
    CHECK(run(s, 4, 2, &f, &st, &err, NULL, NULL, 0) == 0);
    CHECK(f.mismatches == 0 && f.i == 4);
    CHECK_STR(f.etype[1], "InvalidEvent");
    CHECK(strstr(f.body[1], "\"errorType\": \"InvalidEvent\"") != NULL);
    CHECK_STR(f.body[3], "{\"predictions\": []}");
    CHECK(st.function_errors == 1 && st.invocations == 2);
}

TEST(oversized_event_gets_the_size_error)
{
    size_t n = RP_EVENT_MAX_BYTES + 100;
    char *big = malloc(n);
    memset(big, ' ', n);
    const step s[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: big\r\n", big, n},
        {"POST", BASE "/invocation/big/error", 202, "", "", 0},
    };
    fake f;
    rp_error err;
    CHECK(run(s, 2, 1, &f, NULL, &err, NULL, NULL, 0) == 0);
    CHECK(f.mismatches == 0 && f.i == 2);
    CHECK_STR(f.etype[1], "InvalidEvent");
    CHECK(strstr(f.body[1], "larger than") != NULL);
    free(big);
}

TEST(retries_then_gives_up_naming_the_variable)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
    };
    fake f;
    rp_error err;
    /* Each draw equals its range's top: taken as is only if the range
     * (100, 200, 400, 800 ms) is right. */
    const uint64_t rnd[] = {100, 200, 400, 800};
    CHECK(run(s, 6, 0, &f, NULL, &err, NULL, rnd, 4) == -1);
    CHECK(f.i == 5); /* 5 attempts, not 6 */
    CHECK(f.sleeps == 4);
    CHECK(f.slept[0] == 100 && f.slept[1] == 200 && f.slept[2] == 400 && f.slept[3] == 800);
    CHECK(strstr(err.msg, "cannot reach the Lambda Runtime API at 127.0.0.1:9001 (AWS_LAMBDA_RUNTIME_API) "
                          "after 5 attempts") != NULL);
    CHECK(strstr(err.msg, "Connection refused") != NULL);
}

TEST(retries_then_recovers)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 0, NULL, NULL, 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-4\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/r-4/response", 0, NULL, NULL, 0},
        {"POST", BASE "/invocation/r-4/response", 202, "", "", 0},
    };
    fake f;
    rp_error err;
    rp__lambda_config cfg = {.retry = {3, 10, 15}};
    /* Ranges [0, 10], [0, 15] (20 capped), then [0, 10] for the post. */
    const uint64_t rnd[] = {10, 15, 15};
    CHECK(run(s, 5, 1, &f, NULL, &err, &cfg, rnd, 3) == 0);
    CHECK(f.i == 5 && f.mismatches == 0);
    CHECK(f.sleeps == 3 && f.slept[0] == 10 && f.slept[1] == 15 && f.slept[2] == 15 % 11);
    CHECK_STR(f.body[4], "{\"ride_duration\": 7.0, \"ride_id\": 7}");
}

TEST(fatal_answers)
{
    rp_error err;
    fake f;
    const step s500[] = {{"GET", BASE "/invocation/next", 500, "", "{\"errorType\": \"Container\"}", 0}};
    CHECK(run(s500, 1, 0, &f, NULL, &err, NULL, NULL, 0) == -1);
    CHECK(strstr(err.msg, "/invocation/next with HTTP 500") != NULL && strstr(err.msg, "Container") != NULL);

    const step noid[] = {{"GET", BASE "/invocation/next", 200, FAR_DEADLINE, DIRECT, 0}};
    CHECK(run(noid, 1, 0, &f, NULL, &err, NULL, NULL, 0) == -1);
    CHECK(strstr(err.msg, "Lambda-Runtime-Aws-Request-Id") != NULL);

    const step blank[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: a b\r\n", DIRECT, 0}};
    CHECK(run(blank, 1, 0, &f, NULL, &err, NULL, NULL, 0) == -1);

    const step post500[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-5\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/r-5/response", 500, "", "", 0},
    };
    CHECK(run(post500, 2, 0, &f, NULL, &err, NULL, NULL, 0) == -1);
    CHECK(strstr(err.msg, "/response with HTTP 500") != NULL);
}

TEST(refused_answers_go_on)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: a/b?c\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/a%2Fb%3Fc/response", 400, "", "{\"errorType\": \"InvalidRequestID\"}", 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-6\r\n", DIRECT, 0},
        /* 413 is final (Lambda fails the invocation itself): no /error
         * after it, the next request is /next. */
        {"POST", BASE "/invocation/r-6/response", 413, "", "", 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-6b\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/r-6b/response", 202, "", "", 0},
    };
    fake f;
    rp__lambda_stats st;
    rp_error err;
    CHECK(run(s, 6, 3, &f, &st, &err, NULL, NULL, 0) == 0);
    CHECK(f.i == 6 && f.mismatches == 0);
    CHECK(st.refused_answers == 2);
}

TEST(deadline_near_holds_publishing)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 200,
         "Lambda-Runtime-Aws-Request-Id: r-7\r\nLambda-Runtime-Deadline-Ms: 1000\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/r-7/response", 202, "", "", 0},
        {"GET", BASE "/invocation/next", 200,
         "Lambda-Runtime-Aws-Request-Id: r-8\r\nLambda-Runtime-Deadline-Ms: soon\r\n", DIRECT, 0},
        {"POST", BASE "/invocation/r-8/response", 202, "", "", 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-9\r\n" FAR_DEADLINE, DIRECT,
         0},
        {"POST", BASE "/invocation/r-9/response", 202, "", "", 0},
        {"GET", BASE "/invocation/next", 200,
         "Lambda-Runtime-Aws-Request-Id: r-10\r\nLambda-Runtime-Deadline-Ms: 18446744073709551615\r\n",
         DIRECT, 0},
        {"POST", BASE "/invocation/r-10/response", 202, "", "", 0},
    };
    fake f;
    rp__lambda_stats st;
    rp_error err;
    CHECK(run(s, 8, 4, &f, &st, &err, NULL, NULL, 0) == 0);
    CHECK(f.i == 8 && f.mismatches == 0);
    /* The past deadline only: not the unreadable one, not the far ones (the
     * largest does not wrap around into the past). */
    CHECK(st.deadline_holds == 1);
}

TEST(init_error_posts_the_error_shape)
{
    fake f = {0};
    const step s[] = {{"POST", BASE "/init/error", 202, "", "", 0}};
    f.steps = s;
    f.n = 1;
    rp__lambda_config cfg = {.runtime_api = "127.0.0.1:9001"};
    rp__lambda *l;
    rp_error err;
    CHECK(rp__lambda_new(&cfg, &l, &err) == 0);
    rp__rapi_hooks *h = rp__rapi_get_hooks(rp__lambda_rapi(l));
    h->exchange = fake_exchange;
    h->exchange_ctx = &f;
    CHECK(rp__lambda_init_error(l, "Runtime.InitError", "cannot open model \"x\"\n", &err) == 0);
    CHECK(f.i == 1 && f.mismatches == 0);
    CHECK_STR(f.etype[0], "Runtime.InitError");
    CHECK_STR(f.body[0],
              "{\"errorMessage\": \"cannot open model \\\"x\\\"\\n\", \"errorType\": \"Runtime.InitError\"}");
    /* A refusal is reported. */
    const step s2[] = {{"POST", BASE "/init/error", 403, "", "{\"errorType\": \"Forbidden\"}", 0}};
    f.steps = s2;
    f.n = 1;
    f.i = 0;
    CHECK(rp__lambda_init_error(l, "Runtime.InitError", "m", &err) == -1);
    CHECK(strstr(err.msg, "HTTP 403") != NULL);
    rp__lambda_free(l);
}

TEST(addresses)
{
    const char *bad[] = {NULL,    "",   "http://127.0.0.1:9001", "127.0.0.1:9001/x", "a b:1", "u@h:1",
                         "h:1?x", "h:x"};
    const char *good[] = {"127.0.0.1:9001", "[::1]:9001", "localhost", "169.254.100.1:9001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp__lambda_config cfg = {.runtime_api = bad[i]};
        rp__lambda *l = NULL;
        rp_error err;
        CHECK(rp__lambda_new(&cfg, &l, &err) == -1 && l == NULL);
        CHECK(strstr(err.msg, "AWS_LAMBDA_RUNTIME_API") != NULL);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rp__lambda_config cfg = {.runtime_api = good[i]};
        rp__lambda *l = NULL;
        rp_error err;
        CHECK(rp__lambda_new(&cfg, &l, &err) == 0 && l != NULL);
        rp__lambda_free(l);
    }
}

/* Runs the loop with metrics on, stdout sent to a file; returns what was
 * written (malloc'd). */
static char *run_capturing_stdout(const step *steps, size_t n, uint64_t max, rp__lambda_config *cfg)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/rp-test-lambda-emf-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    fake f;
    rp_error err;
    with_metrics = true;
    int rc = run(steps, n, max, &f, NULL, &err, cfg, NULL, 0);
    with_metrics = false;
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    CHECK(rc == 0 && f.mismatches == 0);
    off_t len = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)len + 1);
    CHECK(pread(fd, out, (size_t)len, 0) == (ssize_t)len);
    close(fd);
    unlink(path);
    return out;
}

TEST(emf_line)
{
    const step s[] = {
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-\"1\"\r\n" FAR_DEADLINE,
         DIRECT, 0},
        {"POST", BASE "/invocation/r-%221%22/response", 202, "", "", 0},
        {"GET", BASE "/invocation/next", 200, "Lambda-Runtime-Aws-Request-Id: r-2\r\n", "[1]", 0},
        {"POST", BASE "/invocation/r-2/error", 202, "", "", 0},
    };
    rp__lambda_config cfg = {.metrics_namespace = "ns \"x\"", .function_name = "fn\u00e9"};
    char *out = run_capturing_stdout(s, 4, 2, &cfg);
    /* Two lines, each whole; everything but the timestamp and the time. */
    char *l1 = out, *l2 = strchr(out, '\n');
    CHECK(l2 != NULL);
    if (l2) {
        *l2++ = '\0';
        char *end = strchr(l2, '\n');
        CHECK(end && end[1] == '\0');
        if (end)
            *end = '\0';
    }
    static const char mid[] =
        ", \"CloudWatchMetrics\": [{\"Namespace\": \"ns \\\"x\\\"\", \"Dimensions\": [[\"FunctionName\"]], "
        "\"Metrics\": [{\"Name\": \"Records\", \"Unit\": \"Count\"}, {\"Name\": \"Failures\", \"Unit\": \"Count\"}, "
        "{\"Name\": \"Published\", \"Unit\": \"Count\"}, {\"Name\": \"FunctionErrors\", \"Unit\": \"Count\"}, "
        "{\"Name\": \"HandlerMs\", \"Unit\": \"Milliseconds\"}]}]}, \"FunctionName\": \"fn\\u00e9\", "
        "\"requestId\": ";
    const char *lines[2] = {l1, l2 ? l2 : ""};
    const char *tails[2] = {
        "\"r-\\\"1\\\"\", \"Records\": 1, \"Failures\": 0, \"Published\": 0, \"FunctionErrors\": 0, "
        "\"HandlerMs\": ",
        "\"r-2\", \"Records\": 0, \"Failures\": 0, \"Published\": 0, \"FunctionErrors\": 1, "
        "\"HandlerMs\": "};
    for (int i = 0; i < 2; i++) {
        const char *x = lines[i];
        static const char pre[] = "{\"_aws\": {\"Timestamp\": ";
        CHECK(strncmp(x, pre, sizeof pre - 1) == 0);
        x += sizeof pre - 1;
        char *e;
        unsigned long long ts = strtoull(x, &e, 10);
        CHECK(ts > 1700000000000ull && e > x);
        CHECK(strncmp(e, mid, sizeof mid - 1) == 0);
        x = e + sizeof mid - 1;
        CHECK(strncmp(x, tails[i], strlen(tails[i])) == 0);
        x += strlen(tails[i]);
        /* Milliseconds with exactly three decimals, then the end. */
        size_t d = strspn(x, "0123456789");
        CHECK(d >= 1 && x[d] == '.' && strspn(x + d + 1, "0123456789") == 3 && strcmp(x + d + 4, "}") == 0);
    }
    free(out);
}

TEST(log_request_id_context)
{
    CHECK_STR(rp_log_request_id(), "");
    rp_log_set_request_id("abc-123");
    CHECK_STR(rp_log_request_id(), "abc-123");
    char longid[300];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    rp_log_set_request_id(longid);
    CHECK(strlen(rp_log_request_id()) == RP_LOG_REQUEST_ID_MAX);
    rp_log_set_request_id("");
    CHECK_STR(rp_log_request_id(), "");
    rp_log_set_request_id("y");
    rp_log_set_request_id(NULL);
    CHECK_STR(rp_log_request_id(), "");
}

int main(void)
{
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    unsetenv("_X_AMZN_TRACE_ID");
    unsetenv("TEST_RUN");
    setup_function();
    RUN(serves_a_direct_event);
    RUN(invalid_event_goes_to_error);
    RUN(oversized_event_gets_the_size_error);
    RUN(retries_then_gives_up_naming_the_variable);
    RUN(retries_then_recovers);
    RUN(fatal_answers);
    RUN(refused_answers_go_on);
    RUN(deadline_near_holds_publishing);
    RUN(init_error_posts_the_error_shape);
    RUN(addresses);
    RUN(emf_line);
    RUN(log_request_id_context);
    rp__function_close(fn);
    unlink(model_path);
    return rp_t_done();
}
