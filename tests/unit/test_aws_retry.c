/* The retry policy of the HTTP client, with injected failures: a scripted
 * transport (throttling, 500, connection reset, 400...), a recording sleep
 * that never sleeps, and a scripted random source.  Then the real libcurl
 * transport against small servers on 127.0.0.1 run by this test (a refused
 * port, a server that resets the connection, keep-alive reuse, the body
 * cap). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/http.h"
#include "testing.h"

/* ---- the scripted transport ------------------------------------------------ */

enum {
    STEP_HTTP,
    STEP_RESET,
    STEP_REFUSED,
    STEP_TIMEOUT,
    STEP_FATAL
};

typedef struct step {
    int kind;
    long status;
    const char *body;
    const char *headers; /* raw "Name: value\r\n" lines */
} step;

typedef struct script {
    const step *steps;
    size_t n;
    unsigned calls;
    char seen_header[16][64]; /* the X-Attempt header of each call */
} script;

static int scripted(void *ctx, rp__http_client *c, const rp__http_request *req, rp__http_response *resp,
                    rp_error *err)
{
    (void)c;
    script *s = ctx;
    unsigned i = s->calls++;
    for (size_t k = 0; k < req->n_headers; k++)
        if (!strcmp(req->headers[k].name, "X-Attempt") && i < 16)
            snprintf(s->seen_header[i], sizeof s->seen_header[i], "%s", req->headers[k].value);
    const step *st = &s->steps[i < s->n ? i : s->n - 1];
    switch (st->kind) {
    case STEP_RESET:
        rp_error_set(err, RP_ERR_IO, "Recv failure: Connection reset by peer");
        err->retriable = true;
        return -1;
    case STEP_REFUSED:
        rp_error_set(err, RP_ERR_IO, "Failed to connect to 127.0.0.1 port 9: Connection refused");
        err->retriable = true;
        return -1;
    case STEP_TIMEOUT:
        rp_error_set(err, RP_ERR_IO, "Operation timed out after 3000 milliseconds");
        err->retriable = true;
        return -1;
    case STEP_FATAL:
        rp_error_set(err, RP_ERR_INVALID, "URL using bad/illegal format or missing URL");
        return -1;
    default:
        resp->status = st->status;
        if (st->body)
            rp__buf_puts(&resp->body, st->body);
        if (st->headers)
            rp__buf_puts(&resp->headers, st->headers);
        return 0;
    }
}

typedef struct sleeps {
    uint32_t ms[64];
    unsigned n;
} sleeps;

static void record_sleep(void *ctx, uint32_t ms)
{
    sleeps *s = ctx;
    if (s->n < 64)
        s->ms[s->n] = ms;
    s->n++;
}

/* Random values: a fixed list, then a xorshift sequence. */
typedef struct randoms {
    const uint64_t *v;
    size_t n, i;
    uint64_t x;
} randoms;

static uint64_t scripted_random(void *ctx)
{
    randoms *r = ctx;
    if (r->i < r->n)
        return r->v[r->i++];
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}

typedef struct fixture {
    rp__http_client c;
    script s;
    sleeps sl;
    randoms rnd;
    rp__http_response resp;
} fixture;

static void setup(fixture *f, const step *steps, size_t n, rp__retry_policy p)
{
    memset(f, 0, sizeof *f);
    rp__http_options o = {.retry = p};
    rp__http_client_init(&f->c, &o, NULL);
    f->s.steps = steps;
    f->s.n = n;
    f->rnd.x = 0x9E3779B97F4A7C15ULL;
    f->c.transport = scripted;
    f->c.transport_ctx = &f->s;
    f->c.sleep_ms = record_sleep;
    f->c.sleep_ctx = &f->sl;
    f->c.random = scripted_random;
    f->c.random_ctx = &f->rnd;
    rp__http_response_init(&f->resp, 1 << 20);
}

static void teardown(fixture *f)
{
    rp__http_response_cleanup(&f->resp);
    rp__http_client_cleanup(&f->c);
}

static const rp__http_header kinesis_headers[] = {
    {"X-Amz-Target", "Kinesis_20131202.PutRecord"},
    {"Content-Type", "application/x-amz-json-1.1"},
};
static const rp__http_request kreq = {.method = "POST",
                                      .url = "https://kinesis.us-east-1.amazonaws.com/",
                                      .headers = kinesis_headers,
                                      .n_headers = 2,
                                      .body = "{}",
                                      .body_len = 2};

#define PTEE                                                                                                 \
    "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"Rate exceeded for shard shardId-000000000000\"}"

/* Every recorded delay within the full-jitter bounds of its retry. */
static bool delays_within_bounds(const fixture *f, const rp__retry_policy *p)
{
    for (unsigned i = 0; i < f->sl.n && i < 64; i++) {
        uint32_t ceiling = rp__retry_ceiling_ms(p, i + 1);
        if (f->sl.ms[i] > ceiling) {
            fprintf(stderr, "  delay %u: %u ms > ceiling %u ms\n", i + 1, f->sl.ms[i], ceiling);
            return false;
        }
    }
    return true;
}

TEST(throttling_then_success)
{
    rp__retry_policy p = {5, 100, 20000};
    step steps[] = {
        {STEP_HTTP, 400, PTEE, NULL},
        {STEP_HTTP, 400, "{\"__type\":\"ThrottlingException\",\"message\":\"slow down\"}", NULL},
        {STEP_HTTP, 200, "{\"ShardId\":\"shardId-000000000000\",\"SequenceNumber\":\"1\"}", NULL}};
    fixture f;
    setup(&f, steps, 3, p);
    rp_error err;
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == 0);
    CHECK(f.s.calls == 3);
    CHECK(f.c.last_attempts == 3);
    CHECK(f.sl.n == 2);
    CHECK(delays_within_bounds(&f, &p));
    CHECK(f.resp.status == 200);
    CHECK(f.resp.body.data && strstr(f.resp.body.data, "SequenceNumber"));
    CHECK(f.c.last_slept_ms == (uint64_t)f.sl.ms[0] + f.sl.ms[1]);
    teardown(&f);
}

TEST(server_errors_exhaust_attempts)
{
    rp__retry_policy p = {4, 50, 1000};
    step steps[] = {{STEP_HTTP, 500, "{\"__type\":\"InternalFailure\",\"message\":\"boom\"}", NULL}};
    fixture f;
    setup(&f, steps, 1, p);
    rp_error err;
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 4);
    CHECK(f.sl.n == 3);
    CHECK(delays_within_bounds(&f, &p));
    CHECK(err.code == RP_ERR_IO);
    CHECK(err.retriable);
    CHECK_STR(err.msg, "HTTP 500 InternalFailure: boom (4 attempts)");
    CHECK(f.resp.status == 500); /* the last response is kept */
    teardown(&f);

    /* 502, 503 and 504 too, and a 503 SlowDown from S3 (XML). */
    step s3[] = {{STEP_HTTP, 502, "", NULL},
                 {STEP_HTTP, 503,
                  "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>", NULL},
                 {STEP_HTTP, 504, NULL, NULL}};
    setup(&f, s3, 3, (rp__retry_policy){3, 10, 100});
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 3);
    CHECK_STR(err.msg, "HTTP 504 (3 attempts)");
    teardown(&f);
}

TEST(connection_reset)
{
    rp__retry_policy p = {5, 100, 20000};
    step steps[] = {{STEP_RESET, 0, NULL, NULL}, {STEP_HTTP, 200, "{}", NULL}};
    fixture f;
    setup(&f, steps, 2, p);
    rp_error err;
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == 0);
    CHECK(f.s.calls == 2);
    CHECK(f.sl.n == 1 && f.sl.ms[0] <= 100);
    teardown(&f);

    step always[] = {
        {STEP_REFUSED, 0, NULL, NULL}, {STEP_TIMEOUT, 0, NULL, NULL}, {STEP_RESET, 0, NULL, NULL}};
    setup(&f, always, 3, (rp__retry_policy){3, 100, 20000});
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 3);
    CHECK(err.retriable);
    CHECK(err.code == RP_ERR_IO);
    CHECK_STR(err.msg, "Recv failure: Connection reset by peer (3 attempts)");
    CHECK(f.resp.status == 0);
    teardown(&f);
}

TEST(not_retried)
{
    rp__retry_policy p = {5, 100, 20000};
    step bad[] = {{STEP_HTTP, 400,
                   "{\"__type\":\"ValidationException\",\"message\":\"1 validation error detected\"}", NULL}};
    fixture f;
    setup(&f, bad, 1, p);
    rp_error err;
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1);
    CHECK(f.sl.n == 0);
    CHECK(!err.retriable);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK_STR(err.msg, "HTTP 400 ValidationException: 1 validation error detected (1 attempt)");
    teardown(&f);

    step nf[] = {{STEP_HTTP, 400,
                  "{\"__type\":\"com.amazonaws.kinesis.v20131202#ResourceNotFoundException\","
                  "\"message\":\"Stream ride_events under account 000000000000 not found.\"}",
                  NULL}};
    setup(&f, nf, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "HTTP 400 ResourceNotFoundException: Stream ride_events") == err.msg);
    teardown(&f);

    step s3nf[] = {
        {STEP_HTTP, 404,
         "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
         NULL}};
    setup(&f, s3nf, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && !err.retriable && f.s.calls == 1);
    CHECK_STR(err.msg, "HTTP 404 NoSuchKey: The specified key does not exist. (1 attempt)");
    teardown(&f);

    step moved[] = {{STEP_HTTP, 301,
                     "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting "
                     "to access must be addressed using the specified endpoint.</Message></Error>",
                     NULL}};
    setup(&f, moved, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1 && !err.retriable && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "HTTP 301 PermanentRedirect: The bucket") == err.msg);
    teardown(&f);

    step ni[] = {{STEP_HTTP, 501, "", NULL}};
    setup(&f, ni, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1 && !err.retriable);
    teardown(&f);

    step expired[] = {
        {STEP_HTTP, 400,
         "{\"__type\":\"ExpiredTokenException\",\"message\":\"The security token included in the request is expired\"}",
         NULL}};
    setup(&f, expired, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1 && !err.retriable && err.code == RP_ERR_INVALID);
    teardown(&f);

    /* Raw non-ASCII in a URL: refused before any attempt (libcurl would
     * encode it, and what is sent would not be what was signed). */
    step ok[] = {{STEP_HTTP, 200, "{}", NULL}};
    setup(&f, ok, 1, p);
    rp__http_request raw = kreq;
    raw.url = "https://s3.amazonaws.com/bucket/caf\xc3\xa9";
    CHECK(rp__http_execute(&f.c, &raw, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 0 && err.code == RP_ERR_INVALID && !err.retriable);
    CHECK(strstr(err.msg, "percent-encode") != NULL);
    teardown(&f);

    step fatal[] = {{STEP_FATAL, 0, NULL, NULL}};
    setup(&f, fatal, 1, p);
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1 && f.sl.n == 0 && !err.retriable);
    teardown(&f);
}

TEST(retriable_answers)
{
    rp__retry_policy p = {2, 1, 1};
    struct {
        long status;
        const char *body, *headers;
        bool retried;
    } cases[] = {
        {429, "", NULL, true},
        {400, "{\"__type\":\"LimitExceededException\",\"message\":\"x\"}", NULL, true},
        {400, "{\"__type\":\"KMSThrottlingException\",\"message\":\"x\"}", NULL, true},
        {400, "{\"__type\":\"RequestLimitExceeded\"}", NULL, true},
        {400, "{\"code\":\"TooManyRequestsException\"}", NULL, true},
        {400, "", "x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/coral/\r\n", true},
        {400, "<Error><Code>RequestTimeout</Code></Error>", NULL, true},
        {403, "{\"__type\":\"AccessDeniedException\",\"Message\":\"no\"}", NULL, false},
        {400, "not json at all", NULL, false},
        {409, "{\"__type\":\"ResourceInUseException\"}", NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        step st[] = {{STEP_HTTP, cases[i].status, cases[i].body, cases[i].headers}};
        fixture f;
        setup(&f, st, 1, p);
        rp_error err;
        CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
        CHECK(f.s.calls == (cases[i].retried ? 2u : 1u));
        CHECK(err.retriable == cases[i].retried);
        if (f.s.calls != (cases[i].retried ? 2u : 1u))
            fprintf(stderr, "  case %zu: %u calls (%s)\n", i, f.s.calls, err.msg);
        teardown(&f);
    }
    CHECK(rp__aws_error_is_retriable("SlowDown", 8));
    CHECK(!rp__aws_error_is_retriable("ResourceNotFoundException", 25));
    CHECK(!rp__aws_error_is_retriable("", 0));
}

TEST(full_jitter_bounds)
{
    rp__retry_policy p = {10, 100, 1000};
    /* Ceilings: min(cap, base * 2^(retry-1)). */
    CHECK(rp__retry_ceiling_ms(&p, 0) == 0);
    CHECK(rp__retry_ceiling_ms(&p, 1) == 100);
    CHECK(rp__retry_ceiling_ms(&p, 2) == 200);
    CHECK(rp__retry_ceiling_ms(&p, 3) == 400);
    CHECK(rp__retry_ceiling_ms(&p, 4) == 800);
    CHECK(rp__retry_ceiling_ms(&p, 5) == 1000);
    CHECK(rp__retry_ceiling_ms(&p, 1000000) == 1000);
    rp__retry_policy big = {100, 0x80000000u, 0xFFFFFFFFu};
    CHECK(rp__retry_ceiling_ms(&big, 2) == 0xFFFFFFFFu);
    CHECK(rp__retry_ceiling_ms(&big, 99) == 0xFFFFFFFFu);
    rp__retry_policy zero = {3, 0, 1000};
    CHECK(rp__retry_ceiling_ms(&zero, 5) == 0 && rp__retry_delay_ms(&zero, 5, 12345) == 0);
    /* The delay spans [0, ceiling]: both ends are reached. */
    CHECK(rp__retry_delay_ms(&p, 3, 0) == 0);
    CHECK(rp__retry_delay_ms(&p, 3, 400) == 400);
    CHECK(rp__retry_delay_ms(&p, 3, 401) == 0);
    CHECK(rp__retry_delay_ms(&p, 9, UINT64_MAX) <= 1000);

    /* Through the client: 10 attempts, all throttled; the random source
     * gives the extremes first, then pseudo-random values. */
    uint64_t extremes[] = {UINT64_MAX, 0, 100, 200};
    step steps[] = {{STEP_HTTP, 400, PTEE, NULL}};
    uint32_t lo[10], hi[10];
    for (int i = 0; i < 10; i++) {
        lo[i] = UINT32_MAX;
        hi[i] = 0;
    }
    bool ok = true;
    for (int run = 0; run < 200; run++) {
        fixture f;
        setup(&f, steps, 1, p);
        f.rnd.v = run == 0 ? extremes : NULL;
        f.rnd.n = run == 0 ? 4 : 0;
        f.rnd.x += (uint64_t)run * 7919;
        rp_error err;
        ok &= rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1;
        ok &= f.s.calls == 10 && f.sl.n == 9;
        ok &= delays_within_bounds(&f, &p);
        for (unsigned i = 0; i < f.sl.n && i < 10; i++) {
            lo[i] = f.sl.ms[i] < lo[i] ? f.sl.ms[i] : lo[i];
            hi[i] = f.sl.ms[i] > hi[i] ? f.sl.ms[i] : hi[i];
        }
        if (run == 0) {
            ok &= f.sl.ms[1] == 0;   /* random 0 */
            ok &= f.sl.ms[2] == 100; /* 100 mod 401 */
            ok &= f.sl.ms[3] == 200; /* 200 mod 801 */
        }
        teardown(&f);
    }
    CHECK(ok);
    /* Full jitter, not "equal jitter": small delays happen at every retry,
     * and the later ones reach well past the earlier ceilings. */
    for (unsigned i = 0; i < 9; i++) {
        uint32_t ceiling = rp__retry_ceiling_ms(&p, i + 1);
        CHECK(lo[i] <= ceiling / 10);
        CHECK(hi[i] >= ceiling * 8 / 10);
    }
}

static int add_attempt_header(void *ctx, const rp__http_request *req, unsigned attempt,
                              rp__http_extra_headers *extra, rp_error *err)
{
    (void)req;
    (void)err;
    char(*vals)[16] = ctx;
    snprintf(vals[attempt], 16, "%u", attempt);
    extra->h[extra->n++] = (rp__http_header){"X-Attempt", vals[attempt]};
    return 0;
}

static int failing_prepare(void *ctx, const rp__http_request *req, unsigned attempt,
                           rp__http_extra_headers *extra, rp_error *err)
{
    (void)ctx;
    (void)req;
    (void)extra;
    if (attempt == 1)
        return rp_error_set(err, RP_ERR_NOT_FOUND, "no AWS credentials found");
    return 0;
}

TEST(prepare_runs_every_attempt)
{
    step steps[] = {{STEP_HTTP, 503, "", NULL}, {STEP_RESET, 0, NULL, NULL}, {STEP_HTTP, 200, "{}", NULL}};
    fixture f;
    setup(&f, steps, 3, (rp__retry_policy){5, 10, 100});
    char vals[8][16];
    rp_error err;
    CHECK(rp__http_execute(&f.c, &kreq, add_attempt_header, vals, &f.resp, &err) == 0);
    CHECK(f.s.calls == 3);
    CHECK_STR(f.s.seen_header[0], "0");
    CHECK_STR(f.s.seen_header[1], "1");
    CHECK_STR(f.s.seen_header[2], "2");
    teardown(&f);

    setup(&f, steps, 3, (rp__retry_policy){5, 10, 100});
    CHECK(rp__http_execute(&f.c, &kreq, failing_prepare, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    teardown(&f);

    /* One attempt only: nothing is retried. */
    setup(&f, steps, 3, (rp__retry_policy){1, 10, 100});
    CHECK(rp__http_execute(&f.c, &kreq, NULL, NULL, &f.resp, &err) == -1);
    CHECK(f.s.calls == 1 && f.sl.n == 0 && err.retriable);
    teardown(&f);
}

TEST(error_parse)
{
    rp__http_response r;
    rp__http_response_init(&r, 4096);
    rp__aws_error_info info;
    rp__buf_puts(&r.body,
                 "{\"message\": \"caf\\u00e9 \\n line\", \"__type\": \"a.b#C\", \"Message\": \"ignored\"}");
    rp__aws_error_parse(&r, &info);
    CHECK_STR(info.code, "C");
    CHECK_STR(info.message, "caf?? ? line"); /* printable ASCII only */
    rp__http_response_reset(&r);
    rp__buf_puts(&r.headers, "Content-Type: text/plain\r\nX-Amzn-ErrorType:  Foo:bar \r\n");
    rp__aws_error_parse(&r, &info);
    CHECK_STR(info.code, "Foo");
    const char *v;
    size_t n;
    CHECK(rp__http_response_header(&r, "content-type", &v, &n) && n == 10 && !memcmp(v, "text/plain", 10));
    CHECK(!rp__http_response_header(&r, "content", &v, &n));
    rp__http_response_cleanup(&r);
}

/* Error bodies that echo the request: what looks like a secret is
 * redacted from the code and the message (they reach logs and errors). */
static const char *parsed_message(rp__http_response *r, const char *body)
{
    static rp__aws_error_info info;
    rp__http_response_reset(r);
    rp__buf_puts(&r->body, body);
    rp__aws_error_parse(r, &info);
    return info.message;
}

TEST(error_redaction)
{
    rp__http_response r;
    rp__http_response_init(&r, 4096);
    /* headers echoed one a line, as a server that reflects its request */
    CHECK_STR(
        parsed_message(&r, "{\"code\": \"AccessDenied\", \"message\": \"you sent:\\nHost: h\\nAuthorization: "
                           "Bearer abc.def\\nX-Amz-Security-Token: IQoJ123\\nAccept: */*\\n\"}"),
        "you sent:?Host: h?Authorization: [redacted]?X-Amz-Security-Token: [redacted]?Accept: */*?");
    /* as a JSON or Python dict */
    CHECK_STR(
        parsed_message(
            &r,
            "{\"message\": \"headers {\\\"Authorization\\\": \\\"tok-1234\\\", \\\"Host\\\": \\\"h\\\"}\"}"),
        "headers {\"Authorization\": \"[redacted]\", \"Host\": \"h\"}");
    CHECK_STR(parsed_message(&r, "{\"message\": \"{'token': 'abc', 'x': 1}\"}"),
              "{'token': '[redacted]', 'x': 1}");
    /* a SigV4 Authorization value, a query string, a bare bearer token */
    CHECK_STR(
        parsed_message(&r, "{\"message\": \"sig AWS4-HMAC-SHA256 Credential=AKIAX/20250101/us-east-1/kinesis/"
                           "aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef0123\"}"),
        "sig AWS4-HMAC-SHA256 Credential=[redacted], SignedHeaders=host;x-amz-date, Signature=[redacted]");
    CHECK_STR(parsed_message(&r, "{\"message\": \"password=hunter2&user=bob&api_key=k1\"}"),
              "password=[redacted]&user=bob&api_key=[redacted]");
    CHECK_STR(parsed_message(&r, "{\"message\": \"use Bearer xyz123 please\"}"),
              "use Bearer [redacted] please");
    CHECK_STR(parsed_message(&r, "<Error><Code>X</Code><Message>SessionToken = abc</Message></Error>"),
              "SessionToken = [redacted]");
    /* ordinary AWS messages are left as they are */
    static const char *const plain[] = {
        "The security token included in the request is invalid.",
        "Rate exceeded for shard shardId-000000000000 in stream ride_events under account 000000000000.",
        "The specified key does not exist.",
        "1 validation error detected: Value 'x' at 'streamName' failed to satisfy constraint",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"message\": \"%s\"}", plain[i]);
        CHECK_STR(parsed_message(&r, body), plain[i]);
    }
    rp__http_response_cleanup(&r);

    /* The request's own secret headers, quoted anywhere, even cut short at
     * the end of the message. */
    static const rp__http_header hs[] = {{"Accept", "application/json"},
                                         {"Authorization", "secret-value-123456"}};
    rp__http_request req = {
        .method = "GET", .url = "http://127.0.0.1:9/creds", .headers = hs, .n_headers = 2};
    char long_msg[400];
    snprintf(long_msg, sizeof long_msg, "{\"message\": \"%0240d secret-value-123456\"}", 0);
    step steps[] = {{STEP_HTTP, 401, "{\"message\": \"bad token secret-value-123456 given\"}", NULL},
                    {STEP_HTTP, 401, long_msg, NULL}};
    fixture f;
    rp_error err;
    setup(&f, steps, 1, (rp__retry_policy){1, 10, 100});
    CHECK(rp__http_execute(&f.c, &req, NULL, NULL, &f.resp, &err) == -1);
    CHECK_STR(err.msg, "HTTP 401: bad token [redacted] given (1 attempt)");
    teardown(&f);
    setup(&f, steps + 1, 1, (rp__retry_policy){1, 10, 100});
    CHECK(rp__http_execute(&f.c, &req, NULL, NULL, &f.resp, &err) == -1);
    CHECK(strstr(err.msg, "secret-") == NULL && strstr(err.msg, " [redacted]") != NULL);
    teardown(&f);
}

/* ---- the libcurl transport against local servers ----------------------------- */

typedef struct server {
    int fd;
    int port;
    int mode; /* 0: answer keep-alive; 1: reset every connection; 2: big body */
    int connections;
    int requests;
    pthread_t th;
} server;

static int read_request(int c, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(c, buf + n, cap - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t have = n - (size_t)(end + 4 - buf);
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            while (have < want) {
                r = read(c, buf + n, cap - 1 - n);
                if (r <= 0)
                    return -1;
                n += (size_t)r;
                have += (size_t)r;
            }
            return 0;
        }
        if (n + 1 >= cap)
            return -1;
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        s->connections++;
        char buf[65536];
        while (read_request(c, buf, sizeof buf) == 0) {
            s->requests++;
            if (strstr(buf, "GET /quit")) {
                close(c);
                return NULL;
            }
            if (s->mode == 1) {
                struct linger l = {1, 0}; /* close with RST */
                setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                break;
            }
            char resp[512];
            if (s->mode == 2) {
                static char big[8192];
                memset(big, 'x', sizeof big);
                snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof big);
                if (write(c, resp, strlen(resp)) < 0 || write(c, big, sizeof big) < 0)
                    break;
                continue;
            }
            const char *body = s->requests == 1 ? "{\"__type\":\"ThrottlingException\"}" : "{\"ok\":true}";
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 %s\r\nContent-Type: application/x-amz-json-1.1\r\nX-Echo-Target: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     s->requests == 1 ? "400 Bad Request" : "200 OK",
                     strstr(buf, "X-Amz-Target: Kinesis_20131202.PutRecord") ? "yes" : "no", strlen(body),
                     body);
            if (write(c, resp, strlen(resp)) < 0)
                break;
        }
        close(c);
    }
}

static int server_start(server *s, int mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(server *s)
{
    /* Wake the accept loop with a request that ends it. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/quit", s->port);
    rp__http_client c;
    rp__http_options o = {.retry = {1, 0, 0}, .timeout_ms = 2000};
    rp__http_client_init(&c, &o, NULL);
    rp__http_response r;
    rp__http_response_init(&r, 1024);
    rp__http_request req = {.method = "GET", .url = url};
    rp_error err;
    if (s->mode == 1) {
        shutdown(s->fd, SHUT_RDWR);
    } else {
        rp__http_send(&c, &req, &r, &err);
    }
    pthread_join(s->th, NULL);
    close(s->fd);
    rp__http_response_cleanup(&r);
    rp__http_client_cleanup(&c);
}

static void real_client(rp__http_client *c, sleeps *sl, rp__retry_policy p, size_t max_body)
{
    rp__http_options o = {
        .retry = p, .connect_timeout_ms = 2000, .timeout_ms = 5000, .max_response_bytes = max_body};
    rp__http_client_init(c, &o, NULL);
    memset(sl, 0, sizeof *sl);
    c->sleep_ms = record_sleep; /* no real sleeping */
    c->sleep_ctx = sl;
}

TEST(curl_refused)
{
    /* A port nobody listens on: bind one, note it, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    rp__http_client c;
    sleeps sl;
    real_client(&c, &sl, (rp__retry_policy){3, 100, 1000}, 4096);
    rp__http_response r;
    rp__http_response_init(&r, 4096);
    rp__http_request req = {.method = "POST", .url = url, .body = "{}", .body_len = 2};
    rp_error err;
    CHECK(rp__http_execute(&c, &req, NULL, NULL, &r, &err) == -1);
    CHECK(c.last_attempts == 3 && sl.n == 2);
    CHECK(err.retriable && err.code == RP_ERR_IO);
    CHECK(strstr(err.msg, "127.0.0.1") && strstr(err.msg, "(3 attempts)"));
    rp__http_response_cleanup(&r);
    rp__http_client_cleanup(&c);
}

TEST(curl_reset)
{
    server s;
    CHECK(server_start(&s, 1) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    rp__http_client c;
    sleeps sl;
    real_client(&c, &sl, (rp__retry_policy){3, 100, 1000}, 4096);
    rp__http_response r;
    rp__http_response_init(&r, 4096);
    rp__http_request req = {.method = "POST", .url = url, .body = "{}", .body_len = 2};
    rp_error err;
    CHECK(rp__http_execute(&c, &req, NULL, NULL, &r, &err) == -1);
    CHECK(c.last_attempts == 3 && sl.n == 2);
    CHECK(err.retriable);
    fprintf(stderr, "  (reset reported as: %s)\n", err.msg);
    rp__http_response_cleanup(&r);
    rp__http_client_cleanup(&c);
    server_stop(&s);
    CHECK(s.requests == 3);
}

TEST(curl_keepalive_and_retry)
{
    server s;
    CHECK(server_start(&s, 0) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    rp__http_client c;
    sleeps sl;
    real_client(&c, &sl, (rp__retry_policy){3, 100, 1000}, 4096);
    rp__http_response r;
    rp__http_response_init(&r, 4096);
    rp_error err;
    /* First answer: a throttling 400, retried on the same connection. */
    rp__http_request req = kreq;
    req.url = url;
    CHECK(rp__http_execute(&c, &req, NULL, NULL, &r, &err) == 0);
    CHECK(c.last_attempts == 2 && sl.n == 1);
    CHECK(r.status == 200);
    for (int i = 0; i < 3; i++)
        CHECK(rp__http_execute(&c, &req, NULL, NULL, &r, &err) == 0);
    CHECK(r.body.data && !strcmp(r.body.data, "{\"ok\":true}"));
    const char *v;
    size_t n;
    CHECK(rp__http_response_header(&r, "x-echo-target", &v, &n) && n == 3 && !memcmp(v, "yes", 3));
    rp__http_response_cleanup(&r);
    rp__http_client_cleanup(&c);
    server_stop(&s);
    /* Every request on one kept-alive connection (and one for the stop). */
    CHECK(s.requests == 6);
    CHECK(s.connections == 2);
}

TEST(curl_body_cap)
{
    server s;
    CHECK(server_start(&s, 2) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", s.port);
    rp__http_client c;
    sleeps sl;
    real_client(&c, &sl, (rp__retry_policy){3, 100, 1000}, 1000);
    rp__http_response r;
    rp__http_response_init(&r, 1000);
    rp__http_request req = {.method = "GET", .url = url};
    rp_error err;
    CHECK(rp__http_execute(&c, &req, NULL, NULL, &r, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT && !err.retriable && c.last_attempts == 1);
    CHECK(strstr(err.msg, "larger than 1000 bytes"));
    rp__http_response_cleanup(&r);
    rp__http_client_cleanup(&c);
    server_stop(&s);
}

int main(void)
{
    RUN(throttling_then_success);
    RUN(server_errors_exhaust_attempts);
    RUN(connection_reset);
    RUN(not_retried);
    RUN(retriable_answers);
    RUN(full_jitter_bounds);
    RUN(prepare_runs_every_attempt);
    RUN(error_parse);
    RUN(error_redaction);
    RUN(curl_refused);
    RUN(curl_reset);
    RUN(curl_keepalive_and_retry);
    RUN(curl_body_cap);
    return rp_t_done();
}
