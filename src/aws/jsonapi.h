/* A client of an AWS service that speaks the JSON RPC protocol (Kinesis's
 * JSON 1.1, DynamoDB's JSON 1.0): what src/stream/kinesis/kinesis.c and
 * src/aws/dynamodb.c share.  Every call is `POST /` with
 * `X-Amz-Target: <TargetPrefix><Operation>` and the service's Content-Type,
 * a JSON body, signed with SigV4 (src/aws/sigv4.h) and sent by the HTTP
 * client of src/aws/http.h (one connection kept for the client's life; its
 * retry policy: full-jitter backoff on throttling, 5xx and network errors).
 *
 * Configuration, resolved by rp__aws_jsonapi_init:
 *  - endpoint: the options' endpoint_url, else AWS_ENDPOINT_URL_<ENV_ID>,
 *    else AWS_ENDPOINT_URL (rp__aws_endpoint_from_env), else
 *    https://<host_prefix>.REGION.amazonaws.com (amazonaws.com.cn for cn-
 *    regions); a loopback endpoint bypasses proxies;
 *  - region: the options' region, else the AWS chain (AWS_REGION,
 *    AWS_DEFAULT_REGION, the profile's region); none is an error that says
 *    to set AWS_REGION;
 *  - credentials: the options' static credentials, else the AWS chain
 *    (src/aws/credentials.h), resolved again before a call when they expire
 *    within ten minutes, and once more when the service answers
 *    ExpiredTokenException (or ExpiredToken, RequestExpired);
 *  - attempts per request: the options' retry policy, else AWS_MAX_ATTEMPTS
 *    with the default delays, else RP_RETRY_POLICY_DEFAULT.
 *
 * Errors of rp__aws_jsonapi_call: when the service answered, the message is
 * "<AWS error code>: <AWS message>", followed by " (N attempts)" when the
 * request was retried; the code is RP_ERR_NOT_FOUND for
 * ResourceNotFoundException, RP_ERR_LIMIT for LimitExceededException and
 * HTTP 413, RP_ERR_INVALID for the other 3xx/4xx answers that are not worth
 * retrying, RP_ERR_IO otherwise (throttling, 5xx); err->retriable is set
 * when the last failure was worth retrying.  The AWS code is kept in
 * last_code.  When the service could not be reached, the message starts
 * with "<Name> endpoint URL:" and gives libcurl's reason (RP_ERR_IO,
 * retriable for refused or reset connections and timeouts).  Messages never
 * contain a secret.
 *
 * A client belongs to one thread at a time and must not cross fork(). */
#ifndef RP_AWS_JSONAPI_H
#define RP_AWS_JSONAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/buf.h"
#include "common/json.h"
#include "ridepred/error.h"

#define RP_AWS_JSONAPI_ENDPOINT_MAX 1024
#define RP_AWS_JSONAPI_DEPTH 32                /* nesting accepted in answers */
#define RP_AWS_JSONAPI_WAIT_MS_DEFAULT 300000u /* waiting for ACTIVE / deletion */

/* What tells one service from another (static data of the service's file). */
typedef struct rp__aws_jsonapi_service {
    const char *name;          /* in messages: "Kinesis", "DynamoDB" */
    const char *signing_name;  /* SigV4 service and default host prefix: "kinesis" */
    const char *env_id;        /* AWS_ENDPOINT_URL_<env_id>: "KINESIS" */
    const char *target_prefix; /* "Kinesis_20131202." */
    const char *content_type;  /* "application/x-amz-json-1.1" */
    size_t max_request_bytes;
    size_t max_response_bytes;
} rp__aws_jsonapi_service;

/* What a caller configures (rp__kinesis_options and rp__dynamodb_options
 * are this type). */
typedef struct rp__aws_jsonapi_options {
    const char *endpoint_url;               /* NULL: the variables, else AWS's */
    const char *endpoint_source;            /* where endpoint_url came from, for errors
                                                 (NULL: "--endpoint-url") */
    const char *region;                     /* NULL: the AWS chain */
    const rp__aws_credentials *credentials; /* copied; NULL: the AWS chain */
    const char *profile;                    /* the chain's profile; NULL: AWS_PROFILE... */
    rp__retry_policy retry;                 /* max_attempts 0: AWS_MAX_ATTEMPTS, else default */
    uint32_t connect_timeout_ms;            /* 0: 3000 */
    uint32_t timeout_ms;                    /* a whole request; 0: 30000 */
    uint32_t wait_timeout_ms;               /* rp__aws_jsonapi_poll's limit;
                                                 0: RP_AWS_JSONAPI_WAIT_MS_DEFAULT */
} rp__aws_jsonapi_options;

typedef struct rp__aws_jsonapi {
    const rp__aws_jsonapi_service *svc;
    rp__http_client http;
    rp__http_response resp; /* the last answer */
    rp__buf body;           /* the request: reset, fill, then call */
    rp__aws_credentials creds;
    bool chain_creds; /* resolved (and refreshed) by the chain */
    rp__aws_chain_options chain;
    char profile[RP_AWS_PROFILE_MAX + 1];
    char region[RP_AWS_REGION_MAX + 1];
    char url[RP_AWS_JSONAPI_ENDPOINT_MAX + 2];   /* where requests are posted */
    char shown[RP_AWS_JSONAPI_ENDPOINT_MAX + 2]; /* the endpoint for messages (no user info) */
    char last_code[128];                         /* AWS error code of the last failed call */
    uint32_t wait_timeout_ms;
} rp__aws_jsonapi;

/* Resolves endpoint, region and credentials as above into *c (its memory is
 * the caller's; svc must outlive it).  No request is sent.  Returns 0, or -1
 * with *c cleaned up: RP_ERR_INVALID for a bad endpoint URL, region or
 * profile name, RP_ERR_NOT_FOUND for no region or no credentials, or the
 * chain's errors. */
int rp__aws_jsonapi_init(rp__aws_jsonapi *c, const rp__aws_jsonapi_service *svc,
                         const rp__aws_jsonapi_options *opt, rp_error *err);

/* Closes the connection, frees the buffers and wipes the credentials.  The
 * client may be initialised again. */
void rp__aws_jsonapi_cleanup(rp__aws_jsonapi *c);

/* Posts c->body as operation op (retrying as the policy says).  Returns 0
 * with c->resp holding the 2xx answer, or -1 with err set as described
 * above and c->last_code the AWS error code ("" when no answer came). */
int rp__aws_jsonapi_call(rp__aws_jsonapi *c, const char *op, rp_error *err);

/* Starts reading c->resp's body: the top-level object is entered.  Returns
 * 0, or -1 (RP_ERR_IO, "<Name> answered OP with ...") when it is not one. */
int rp__aws_jsonapi_answer(rp__aws_jsonapi *c, rp__json_reader *r, const char *op, rp_error *err);

/* "<service> answered <op> with <what>" as RP_ERR_IO.  Returns -1. */
int rp__aws_bad_answer(rp_error *err, const char *service, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* rp__aws_bad_answer for a JSON syntax error of r: "malformed JSON (...)". */
int rp__aws_json_error(const rp__json_reader *r, const char *service, const char *op, rp_error *err);

/* Skips the value just read by rp__json_next when it is a container (a
 * scalar is already consumed).  Returns 0, or -1 on malformed JSON. */
int rp__aws_json_skip(rp__json_reader *r, const rp__json_value *v);

/* Decodes a JSON string view into out (cap bytes with the NUL).  Returns 0,
 * or -1 when it is not a string, does not fit or holds a NUL. */
int rp__aws_json_copy_str(const rp__json_value *v, char *out, size_t cap);

/* Appends a JSON string (json.dumps style: non-ASCII as \u escapes). */
void rp__aws_json_str(rp__buf *b, const char *s);

/* A time as the JSON protocols write it: epoch seconds (a JSON number,
 * perhaps with a fraction); ISO 8601 strings are accepted too.  Returns 0
 * and epoch milliseconds, or -1. */
int rp__aws_json_time_ms(const rp__json_value *v, int64_t *ms);

/* A non-negative JSON integer of at most max.  Returns 0, or -1. */
int rp__aws_json_uint(const rp__json_value *v, uint64_t max, uint64_t *out);

/* Waiting for a resource's state (a stream or table ACTIVE, or gone): a
 * probe returns 1 when the wait is over, 0 to go on, -1 on failure (err
 * set).  rp__aws_jsonapi_poll calls it, sleeping through c->http's sleep
 * hook between calls (50 ms, doubling up to 1 s), until it returns non-zero
 * or c->wait_timeout_ms have passed (wall time, or the time slept when that is more:
 * an injected sleep ends the wait too).  Returns 0 when the probe said done,
 * 1 on timeout (the probe's last view tells what was seen), -1 when the
 * probe failed. */
typedef int (*rp__aws_probe_fn)(void *ctx, rp_error *err);
int rp__aws_jsonapi_poll(rp__aws_jsonapi *c, rp__aws_probe_fn probe, void *ctx, rp_error *err);

#endif
