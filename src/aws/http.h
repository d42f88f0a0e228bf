/* A small HTTP client for the AWS APIs (Kinesis, S3, the container
 * credentials endpoint), and the retry policy they share.
 *
 * libcurl is loaded with dlopen("libcurl.so.4") on the first request, not
 * linked: most runs never speak HTTP and should not pay for loading it.
 *
 * One client owns one libcurl easy handle, kept between requests so that
 * the connection (and its TLS session) is reused: a client is for one
 * thread at a time.  Responses go into capped buffers.
 *
 * rp__http_execute() runs one request under the client's retry policy:
 * exponential backoff with AWS's "full jitter" (sleep a uniformly random
 * time in [0, min(max_delay, base_delay * 2^(retry - 1))] before retry
 * number `retry`, counting from 1), retrying network errors (connection
 * refused or reset, timeouts), HTTP 5xx except 501, 429, and the AWS
 * throttling / transient error codes (see rp__aws_error_is_retriable).
 *
 * The transport, the sleep and the random source are function pointers in
 * the client, so that unit tests can inject failures and check attempts and
 * delays without a network and without sleeping. */
#ifndef RP_AWS_HTTP_H
#define RP_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/retry.h"
#include "ridepred/error.h"

/* A request or response header: NUL-terminated name and value, borrowed. */
typedef struct rp__http_header {
    const char *name;
    const char *value;
} rp__http_header;

typedef struct rp__http_request {
    const char *method;             /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    const char *url;                /* http:// or https://, as sent (encoded) */
    const rp__http_header *headers; /* sent as given, in order */
    size_t n_headers;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
} rp__http_request;

#define RP_HTTP_HEADERS_MAX_BYTES ((size_t)64 * 1024)

/* The final response of a request (interim 1xx responses are dropped).
 * `headers` holds the raw header lines ("Name: value\r\n"), `body` the body;
 * both are capped. */
typedef struct rp__http_response {
    long status; /* 0 until a response arrived */
    rp__buf headers;
    rp__buf body;
} rp__http_response;

/* max_body_bytes caps the body; the header block is capped at
 * RP_HTTP_HEADERS_MAX_BYTES.  Nothing is allocated until data arrives. */
void rp__http_response_init(rp__http_response *r, size_t max_body_bytes);
void rp__http_response_reset(rp__http_response *r);
void rp__http_response_cleanup(rp__http_response *r);

/* Finds a response header by name (case-insensitive).  Returns true and a
 * view of its value (surrounding blanks trimmed, not NUL-terminated) into
 * r->headers, or false. */
bool rp__http_response_header(const rp__http_response *r, const char *name, const char **value, size_t *len);

/* A URL split as Python's urllib.parse.urlsplit splits it (views into the
 * string).  Only http and https; blanks and control characters anywhere
 * are refused (a URL must be encoded as it will be sent). */
typedef struct rp__http_url {
    const char *scheme; /* "http" or "https", any case */
    size_t scheme_len;
    const char *host; /* without user info; an IPv6 literal */
    size_t host_len;  /* keeps its brackets */
    int port;         /* -1 when absent or empty */
    const char *path; /* "" when absent */
    size_t path_len;
    const char *query; /* after '?', before any '#' */
    size_t query_len;
} rp__http_url;

/* Returns 0, or -1 with RP_ERR_INVALID naming what is wrong (the message
 * does not quote the URL, which may hold a credentials path). */
int rp__http_url_parse(const char *url, rp__http_url *out, rp_error *err);

/* True for https. */
bool rp__http_url_is_https(const rp__http_url *u);

/* True when the host is a loopback address (localhost, 127.x.y.z, [::1]):
 * a local test endpoint, which no proxy should see. */
bool rp__http_url_is_loopback(const rp__http_url *u);

/* True when an AWS error code is worth retrying: it ends in one of the
 * throttling / transient codes that botocore's standard retry mode knows
 * (ThrottlingException, ProvisionedThroughputExceededException,
 * LimitExceededException, RequestLimitExceeded, SlowDown, Throttling,
 * TooManyRequestsException, RequestTimeout, PriorRequestNotComplete, ...).
 * KMSThrottlingException ends in ThrottlingException and so counts. */
bool rp__aws_error_is_retriable(const char *code, size_t len);

/* An AWS error answer, as botocore reads it: the code from a JSON body's
 * "__type" (what follows the last '#'), else its "code"/"Code", else an XML
 * body's <Code>, else the x-amzn-ErrorType header (up to ':'); the message
 * from "message"/"Message" or <Message>.  Both are cut to fit and reduced to
 * printable ASCII.  Empty strings when absent. */
typedef struct rp__aws_error_info {
    char code[128];
    char message[256];
} rp__aws_error_info;

void rp__aws_error_parse(const rp__http_response *resp, rp__aws_error_info *out);

/* True when a received response should be retried: 429, 5xx other than 501,
 * or an error body whose AWS code is retriable (e.g. a 400 carrying
 * ProvisionedThroughputExceededException). */
bool rp__http_response_is_retriable(const rp__http_response *resp);

typedef struct rp__http_client rp__http_client;

/* Sends one request and fills `resp` (status, headers, body).  Returns 0
 * when a response arrived, whatever its status; -1 on a transport failure,
 * with err->retriable set for failures worth retrying (connection refused or
 * reset, timeouts, DNS).  The default is libcurl; tests inject their own. */
typedef int (*rp__http_transport_fn)(void *ctx, rp__http_client *c, const rp__http_request *req,
                                     rp__http_response *resp, rp_error *err);
typedef void (*rp__http_sleep_fn)(void *ctx, uint32_t ms);
typedef uint64_t (*rp__http_random_fn)(void *ctx);

#define RP_HTTP_EXTRA_HEADERS_MAX 8

/* Headers that an rp__http_prepare_fn adds to one attempt.  The strings are
 * owned by the hook's context and must stay valid until the attempt ends. */
typedef struct rp__http_extra_headers {
    rp__http_header h[RP_HTTP_EXTRA_HEADERS_MAX];
    size_t n;
} rp__http_extra_headers;

/* Called before every attempt (attempt counts from 0), e.g. to sign the
 * request afresh (rp__sigv4_prepare).  Returns 0, or -1 with err set: the
 * request is then abandoned without retry. */
typedef int (*rp__http_prepare_fn)(void *ctx, const rp__http_request *req, unsigned attempt,
                                   rp__http_extra_headers *extra, rp_error *err);

typedef struct rp__http_options {
    uint32_t connect_timeout_ms; /* 0: 3000 */
    uint32_t timeout_ms;         /* whole request; 0: 30000 */
    size_t max_response_bytes;   /* body cap; 0: 16 MiB */
    rp__retry_policy retry;      /* max_attempts 0: RP_RETRY_POLICY_DEFAULT */
    const char *user_agent;      /* copied; NULL: "ridepred/<version>" */
    bool no_proxy;               /* ignore http_proxy & co (local endpoints) */
} rp__http_options;

struct rp__http_client {
    rp__http_options opt;
    char user_agent[128];
    void *curl; /* CURL *, created on first use */

    /* Injectable for tests; rp__http_client_init sets the defaults
     * (libcurl, nanosleep, a xorshift generator seeded from getrandom). */
    rp__http_transport_fn transport;
    void *transport_ctx;
    rp__http_sleep_fn sleep_ms;
    void *sleep_ctx;
    rp__http_random_fn random;
    void *random_ctx;
    uint64_t rng; /* the default generator's state */

    /* About the last rp__http_execute call. */
    unsigned last_attempts;
    uint64_t last_slept_ms;
};

/* Fills the client from options (NULL: defaults).  Allocates nothing; the
 * libcurl handle is made on the first request.  Returns 0. */
int rp__http_client_init(rp__http_client *c, const rp__http_options *opt, rp_error *err);

/* Closes the connection and frees the handle.  The client may be
 * initialised again. */
void rp__http_client_cleanup(rp__http_client *c);

/* One attempt, through c->transport, without retries or prepare hook.
 * Returns as rp__http_transport_fn does; a URL holding raw non-ASCII bytes
 * is refused (RP_ERR_INVALID): libcurl would encode them, and what is sent
 * would no longer be what was signed. */
int rp__http_send(rp__http_client *c, const rp__http_request *req, rp__http_response *resp, rp_error *err);

/* Runs a request under the client's retry policy.  Before each attempt,
 * `prepare` (may be NULL) can add headers; between attempts the client
 * sleeps the full-jitter delay.
 *
 * Returns 0 when the final response has a 2xx status (or 304).  Otherwise
 * -1 with err set: for an HTTP error the message names the status, the AWS
 * error code and message, and the number of attempts; err->code is
 * RP_ERR_NOT_FOUND for 404 / *NotFound* / NoSuch* codes, RP_ERR_LIMIT for
 * 413, RP_ERR_INVALID for other 4xx and 3xx (a redirect means a wrong
 * endpoint or region: S3's PermanentRedirect), RP_ERR_IO otherwise; err->retriable is
 * true when the last failure was retriable (the attempts ran out).  `resp`
 * keeps the last response (status 0 after a transport failure), so the
 * caller can read the error body. */
int rp__http_execute(rp__http_client *c, const rp__http_request *req, rp__http_prepare_fn prepare,
                     void *prepare_ctx, rp__http_response *resp, rp_error *err);

#endif
