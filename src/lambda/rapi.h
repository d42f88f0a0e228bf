/* A small HTTP/1.1 client for the Lambda Runtime API (2018-06-01), written
 * for one job: the runtime loop of src/lambda/lambda.c.
 *
 * Why not libcurl (src/aws/http.h): issue 5 gives the loop 50 µs of CPU per
 * invocation beyond the handler, and an invocation is two requests.  Through
 * libcurl each request cost about 25 µs of user time here (easy-handle
 * reset, option setting, header callbacks, allocations) plus poll/recv
 * round trips in the kernel: about 200 µs per invocation in all.  The
 * Runtime API needs none of what libcurl is for: it is plain HTTP/1.1 on a
 * local address (no TLS, no proxies, no redirects, no authentication, no
 * compression), and its requests and answers have a fixed, small shape.
 * This client sends a request with one sendmsg (head and body as two iovecs)
 * and parses the answer in place in a buffer kept between requests: in the
 * steady state, one send and one recv per request, no allocation.
 *
 * What it does:
 *   - one persistent keep-alive TCP connection to AWS_LAMBDA_RUNTIME_API
 *     (HOST:PORT, [IPv6]:PORT, or HOST for port 80), resolved once with
 *     getaddrinfo (every address is tried in turn when connecting);
 *   - answers framed by Content-Length, by chunked transfer-encoding
 *     (decoded in place; chunk extensions and trailers skipped), or by the
 *     end of the connection; interim 1xx answers skipped; "Connection:
 *     close" and HTTP/1.0 honoured (the next request reconnects);
 *   - bounded: the header block at RP_RAPI_HEAD_MAX, the body at the
 *     request's body_max (an answer whose body is larger is not read past
 *     the limit: body_toobig is set and the connection is dropped);
 *   - /next waits without a timeout (req->wait); other requests time out
 *     after timeout_ms without progress, and after 2 x timeout_ms in all;
 *   - a request that finds its kept connection closed by the server before
 *     any byte of an answer is sent again once on a new connection (what
 *     every keep-alive client does); refused, reset or dropped connections
 *     and timeouts are retriable failures, retried by rp__rapi_call with
 *     full-jitter backoff (rp__retry_delay_ms of src/common/retry.h);
 *   - a malformed answer (status line, header line, Content-Length,
 *     chunk size, a transfer-coding other than chunked) is an error that is
 *     not retried: the connection is dropped.
 *
 * A client is for one thread at a time. */
#ifndef RP_SERVICE_RAPI_H
#define RP_SERVICE_RAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/retry.h"
#include "ridepred/error.h"

/* The header block of an answer (status line included). */
#define RP_RAPI_HEAD_MAX ((size_t)64 * 1024)
/* A chunk-size line, extensions included. */
#define RP_RAPI_CHUNK_LINE_MAX ((size_t)4096)

typedef struct rp__rapi_options {
    uint32_t timeout_ms;         /* requests that do not wait; 0: 30000 */
    uint32_t connect_timeout_ms; /* 0: 3000 */
    rp__retry_policy retry;      /* max_attempts 0: {5, 100, 2000} */
} rp__rapi_options;

typedef struct rp__rapi_request {
    const char *method;     /* "GET" or "POST" */
    const char *path;       /* as sent, e.g. "/2018-06-01/runtime/invocation/next" */
    const char *error_type; /* Lambda-Runtime-Function-Error-Type; NULL: none */
    const void *body;       /* POST: sent with Content-Type: application/json */
    size_t body_len;
    size_t body_max; /* cap of the answer's body */
    bool wait;       /* no timeout (/next) */
} rp__rapi_request;

/* A view (not NUL-terminated); p is NULL when absent. */
typedef struct rp__rapi_str {
    const char *p;
    size_t n;
} rp__rapi_str;

/* An answer.  Every view points into the client's buffer and stays valid
 * until the next request on the client (or rp__rapi_free). */
typedef struct rp__rapi_response {
    int status;
    rp__rapi_str head; /* the header lines, after the status line */
    const char *body;  /* NUL-terminated; "" when empty */
    size_t body_len;
    bool body_toobig; /* over body_max: not read (body is ""), connection dropped */
    /* The Runtime API's headers of /next, blanks trimmed. */
    rp__rapi_str request_id;   /* Lambda-Runtime-Aws-Request-Id */
    rp__rapi_str deadline_ms;  /* Lambda-Runtime-Deadline-Ms */
    rp__rapi_str trace_id;     /* Lambda-Runtime-Trace-Id */
    rp__rapi_str function_arn; /* Lambda-Runtime-Invoked-Function-Arn */
} rp__rapi_response;

typedef struct rp__rapi rp__rapi;

/* One attempt of a request; rp__rapi_send is the default.  Returns 0 when an
 * answer arrived (any status), -1 with err set otherwise (err->retriable
 * for refused, reset or dropped connections and timeouts). */
typedef int (*rp__rapi_exchange_fn)(void *ctx, rp__rapi *c, const rp__rapi_request *req,
                                    rp__rapi_response *resp, rp_error *err);
typedef void (*rp__rapi_sleep_fn)(void *ctx, uint32_t ms);
typedef uint64_t (*rp__rapi_random_fn)(void *ctx);

/* Injectable for tests (rp__rapi_hooks): the exchange, the sleep between
 * attempts and the random source of the jitter. */
typedef struct rp__rapi_hooks {
    rp__rapi_exchange_fn exchange;
    void *exchange_ctx;
    rp__rapi_sleep_fn sleep_ms;
    void *sleep_ctx;
    rp__rapi_random_fn random;
    void *random_ctx;
} rp__rapi_hooks;

/* Splits address (HOST:PORT, [V6]:PORT, HOST) and prepares the client;
 * nothing is resolved or connected before the first request.  Returns 0,
 * or -1 with RP_ERR_INVALID saying what is wrong with the address. */
int rp__rapi_new(const char *address, const rp__rapi_options *opt, rp__rapi **out, rp_error *err);

/* Closes the connection and frees the client (NULL is ignored). */
void rp__rapi_free(rp__rapi *c);

/* Runs a request: attempts through the exchange hook, retrying retriable
 * failures with full-jitter backoff (each retry logged at WARN as "Runtime
 * API unreachable, retrying").  Returns 0 when an answer arrived, whatever
 * its status; -1 with err set otherwise, the message naming the address
 * and AWS_LAMBDA_RUNTIME_API (and "after N attempts" when they ran out). */
int rp__rapi_call(rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp, rp_error *err);

/* One attempt over the connection (reconnecting when needed; see above). */
int rp__rapi_send(rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp, rp_error *err);

/* Parses an answer from memory, fed to the parser in pieces of `piece`
 * bytes (0: all at once), as rp__rapi_send parses what it receives; the end
 * of data is the end of the connection.  Views point into the client's
 * buffer.  Returns as rp__rapi_send.  For tests, fuzzing and injected
 * exchanges. */
int rp__rapi_parse(rp__rapi *c, const void *data, size_t len, size_t piece, size_t body_max,
                   rp__rapi_response *resp, rp_error *err);

/* Finds a header of an answer by name (case-insensitive): true and a view
 * of its first value, blanks trimmed; false when absent. */
bool rp__rapi_header(const rp__rapi_response *r, const char *name, rp__rapi_str *value);

rp__rapi_hooks *rp__rapi_get_hooks(rp__rapi *c);
const rp__rapi_options *rp__rapi_get_options(const rp__rapi *c);

/* About the client's use so far. */
typedef struct rp__rapi_stats {
    uint64_t requests;    /* attempts sent */
    uint64_t connections; /* connections opened */
    unsigned last_attempts;
} rp__rapi_stats;

void rp__rapi_get_stats(const rp__rapi *c, rp__rapi_stats *out);

#endif
