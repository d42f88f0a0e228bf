/* ridepred: a client of Amazon DynamoDB, what a lease table needs (issue 14:
 * KCL-compatible leases and checkpoints for `ridepred consume`).
 *
 * DynamoDB's JSON 1.0 API: every call is `POST /` with
 * `X-Amz-Target: DynamoDB_20120810.<Operation>` and
 * `Content-Type: application/x-amz-json-1.0`, signed with SigV4 (service
 * "dynamodb"), over the shared JSON RPC client of src/aws/jsonapi.h (one
 * libcurl connection kept for the handle's life; retries with full-jitter
 * backoff on throttling, 5xx and network errors).  docs/aws.md describes it.
 *
 * Configuration, resolved by rp__dynamodb_open:
 *  - endpoint: the options' endpoint_url, else AWS_ENDPOINT_URL_DYNAMODB,
 *    else AWS_ENDPOINT_URL, else https://dynamodb.REGION.amazonaws.com
 *    (amazonaws.com.cn for cn- regions);
 *  - region: the options' region, else the AWS chain (AWS_REGION,
 *    AWS_DEFAULT_REGION, the profile's region);
 *  - credentials: the options' static credentials, else the AWS chain,
 *    resolved again before they expire and once on ExpiredTokenException;
 *  - attempts per request: the options' retry policy, else AWS_MAX_ATTEMPTS,
 *    else RP_RETRY_POLICY_DEFAULT (5 attempts, 100 ms base, 20 s cap).
 *
 * Outcomes.  Every fallible call returns 0 on success or -1 with the
 * rp_error filled; some return 1 for an expected negative outcome, which is
 * never retried and never an error of the service:
 *  - a conditional write (PutItem, UpdateItem, DeleteItem with a
 *    ConditionExpression) whose condition is false returns
 *    RP_DDB_CONDITION_FAILED (1), err set to "ConditionalCheckFailedException:
 *    ..." (RP_ERR_INVALID, not retriable) and rp__dynamodb_last_code() to
 *    "ConditionalCheckFailedException";
 *  - GetItem of a key with no item returns 1;
 *  - CreateTable of a table that exists returns 1.
 * Errors (-1): when DynamoDB answered, the message is "<AWS error code>:
 * <AWS message>", with " (N attempts)" when the request was retried; the
 * code is RP_ERR_NOT_FOUND for ResourceNotFoundException (no such table),
 * RP_ERR_LIMIT for LimitExceededException and HTTP 413, RP_ERR_INVALID for
 * other 4xx answers not worth retrying (ValidationException, AccessDenied,
 * ...), RP_ERR_IO for throttling (ProvisionedThroughputExceededException,
 * ThrottlingException, RequestLimitExceeded) and 5xx once the attempts ran
 * out, with err->retriable set.  When DynamoDB could not be reached, the
 * message starts with "DynamoDB endpoint URL:" and gives libcurl's reason
 * (RP_ERR_IO, retriable for refused or reset connections and timeouts).  An
 * answer that is not what the API documents is RP_ERR_IO: "DynamoDB answered
 * Operation with ...".  Arguments refused before any request (a bad item,
 * table name or expression) are RP_ERR_INVALID.  Messages never contain a
 * secret.
 *
 * A handle belongs to one thread at a time and must not cross fork(). */
#ifndef RP_AWS_DYNAMODB_H
#define RP_AWS_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/jsonapi.h"
#include "common/buf.h"
#include "ridepred/error.h"

#define RP_DYNAMODB_TARGET_PREFIX "DynamoDB_20120810."
#define RP_DYNAMODB_CONTENT_TYPE "application/x-amz-json-1.0"
#define RP_DYNAMODB_WAIT_MS_DEFAULT RP_AWS_JSONAPI_WAIT_MS_DEFAULT /* waiting for ACTIVE / deletion */
#define RP_DYNAMODB_MAX_RESPONSE_BYTES ((size_t)16 * 1024 * 1024)  /* a Scan page is 1 MB of data */
#define RP_DYNAMODB_TABLE_MAX 255                                  /* characters of a table name */
#define RP_DDB_CONDITION_FAILED 1

/* ---- items ---------------------------------------------------------------
 *
 * An item is a list of attributes, each a name and a typed value.  The
 * types a lease table uses are S, N and SS; BOOL, NULL and NS are here too.
 * Any other type (B, BS, L, M) read from DynamoDB is kept as RP_DDB_RAW: its
 * DynamoDB JSON text (e.g. {"L": [{"S": "a"}]}), written back as it came.
 * An item owns all its memory (names, strings, sets); setters copy. */

typedef enum rp__ddb_type {
    RP_DDB_S = 1, /* a string: UTF-8 */
    RP_DDB_N,     /* a number: its decimal text, kept as DynamoDB sent it */
    RP_DDB_BOOL,
    RP_DDB_NULL,
    RP_DDB_SS, /* a set of strings */
    RP_DDB_NS, /* a set of numbers (decimal texts) */
    RP_DDB_RAW /* another type: the value's DynamoDB JSON object */
} rp__ddb_type;

/* A counted string; ptr is also NUL-terminated (an S value may hold NULs). */
typedef struct rp__ddb_str {
    char *ptr;
    size_t len;
} rp__ddb_str;

typedef struct rp__ddb_value {
    rp__ddb_type type;
    rp__ddb_str s;    /* S, N, RAW */
    bool b;           /* BOOL */
    rp__ddb_str *set; /* SS, NS: n elements, in the order given or received */
    size_t n;
} rp__ddb_value;

typedef struct rp__ddb_attr {
    char *name; /* UTF-8, no NUL */
    rp__ddb_value v;
} rp__ddb_attr;

typedef struct rp__ddb_item {
    rp__ddb_attr *attrs; /* in insertion order; names unique */
    size_t n, cap;
} rp__ddb_item;

/* An empty item (all zero is empty too). */
void rp__ddb_item_init(rp__ddb_item *it);

/* Frees what the item owns and leaves it empty.  NULL is ignored. */
void rp__ddb_item_free(rp__ddb_item *it);

/* Setters: add the attribute, or replace the value of the one of that name.
 * Names must be 1..65535 bytes of UTF-8 without NUL; strings UTF-8.  Return
 * 0, or -1 with the item unchanged: RP_ERR_INVALID for a bad name or value
 * (invalid UTF-8; an N that is not a decimal number, -?D[.D][e[+-]D]; a set
 * that is empty or has a duplicate, which DynamoDB refuses), RP_ERR_NOMEM. */
int rp__ddb_item_set_s(rp__ddb_item *it, const char *name, const char *s, size_t len, rp_error *err);
int rp__ddb_item_set_n(rp__ddb_item *it, const char *name, const char *decimal, rp_error *err);
int rp__ddb_item_set_i64(rp__ddb_item *it, const char *name, int64_t x, rp_error *err);
int rp__ddb_item_set_bool(rp__ddb_item *it, const char *name, bool b, rp_error *err);
int rp__ddb_item_set_null(rp__ddb_item *it, const char *name, rp_error *err);
int rp__ddb_item_set_ss(rp__ddb_item *it, const char *name, const char *const *v, size_t n, rp_error *err);
int rp__ddb_item_set_ns(rp__ddb_item *it, const char *name, const char *const *v, size_t n, rp_error *err);
/* A copy of value v (any type, RAW included) under name. */
int rp__ddb_item_set(rp__ddb_item *it, const char *name, const rp__ddb_value *v, rp_error *err);

/* Removes the attribute.  Returns true when it was there. */
bool rp__ddb_item_remove(rp__ddb_item *it, const char *name);

/* The attribute's value (valid until the item changes), or NULL. */
const rp__ddb_value *rp__ddb_item_get(const rp__ddb_item *it, const char *name);

/* The attribute's S value (NUL-terminated), or NULL when it is absent or of
 * another type. */
const char *rp__ddb_item_get_s(const rp__ddb_item *it, const char *name);

/* An N value as an int64_t.  Returns 0, or -1 when the attribute is absent,
 * not an N, or not an integer in range (a fraction, an exponent, too many
 * digits): such a value stays readable as text in v->s. */
int rp__ddb_item_get_i64(const rp__ddb_item *it, const char *name, int64_t *out);
int rp__ddb_value_i64(const rp__ddb_value *v, int64_t *out);

/* Appends the item as a DynamoDB JSON object, {"name": {"S": "..."}, ...}
 * (json.dumps escapes).  Returns 0, or -1 with RP_ERR_INVALID for an item
 * that was not built by the setters (a NULL name, an unknown type) or with
 * the buffer's error (RP_ERR_LIMIT over its cap, RP_ERR_NOMEM). */
int rp__ddb_item_encode(const rp__ddb_item *it, rp__buf *b, rp_error *err);

/* Decodes one DynamoDB JSON object (the whole of json[0..len)) into *out,
 * replacing its content.  A name given twice keeps the last value, as
 * json.loads does.  Returns 0, or -1 with RP_ERR_INVALID (malformed JSON, a
 * value that is not an object of exactly one known type, a type whose
 * content is wrong: S not a string, N not a decimal number, BOOL not a
 * boolean, NULL not true, a set not an array of strings) naming the
 * attribute; *out is then empty. */
int rp__ddb_item_decode(const char *json, size_t len, rp__ddb_item *out, rp_error *err);

/* ---- expressions ------------------------------------------------------- */

/* An ExpressionAttributeNames entry: "#o" stands for "leaseOwner". */
typedef struct rp__ddb_name {
    const char *placeholder;
    const char *name;
} rp__ddb_name;

/* A condition (ConditionExpression; Scan's FilterExpression) with the
 * placeholders it and an UpdateExpression use.  All borrowed.  values is an
 * item whose names are the ":value" placeholders; NULL or empty: none. */
typedef struct rp__ddb_expr {
    const char *condition; /* NULL: none */
    const rp__ddb_name *names;
    size_t n_names;
    const rp__ddb_item *values;
} rp__ddb_expr;

/* ---- the client --------------------------------------------------------- */

typedef struct rp__dynamodb rp__dynamodb;

/* endpoint_url (NULL: the variables above, else AWS's), endpoint_source
 * (where endpoint_url came from, for errors; NULL: "--endpoint-url"),
 * region (NULL: the chain), credentials (copied; NULL: the chain), profile,
 * retry (max_attempts 0: AWS_MAX_ATTEMPTS, else the default),
 * connect_timeout_ms (0: 3000), timeout_ms (a whole request; 0: 30000),
 * wait_timeout_ms (0: RP_DYNAMODB_WAIT_MS_DEFAULT): see src/aws/jsonapi.h. */
typedef rp__aws_jsonapi_options rp__dynamodb_options;

/* Resolves endpoint, region and credentials and makes a handle (no request
 * is sent).  opt may be NULL.  Returns 0, or -1 with *out NULL when the
 * endpoint is not an http(s) URL, when no region or no credentials are
 * found, or when the chain fails. */
int rp__dynamodb_open(const rp__dynamodb_options *opt, rp__dynamodb **out, rp_error *err);

/* Closes the connection and wipes the credentials.  NULL is ignored. */
void rp__dynamodb_close(rp__dynamodb *d);

/* The endpoint requests go to, and the signing region. */
const char *rp__dynamodb_endpoint(const rp__dynamodb *d);
const char *rp__dynamodb_region(const rp__dynamodb *d);

/* The AWS error code of the last call that DynamoDB refused
 * ("ConditionalCheckFailedException", "ResourceInUseException", ...); ""
 * after a success or when no answer came. */
const char *rp__dynamodb_last_code(const rp__dynamodb *d);

/* The handle's HTTP client, for tests: hooks (transport, sleep, random) and
 * last_attempts.  The waits sleep through the same sleep hook. */
rp__http_client *rp__dynamodb_http(rp__dynamodb *d);

/* A table as DescribeTable tells it. */
typedef struct rp__dynamodb_table {
    char name[RP_DYNAMODB_TABLE_MAX + 1];
    char status[32];       /* CREATING, ACTIVE, UPDATING, DELETING, ... */
    char hash_key[256];    /* the HASH key's attribute name ("" when over 255 bytes) */
    char hash_key_type[4]; /* its AttributeType: "S", "N", "B" */
    char billing_mode[32]; /* PAY_PER_REQUEST, PROVISIONED ("" when not told) */
    int64_t item_count;    /* ItemCount (updated by DynamoDB every ~6 hours) */
    int64_t created_ms;    /* CreationDateTime, epoch ms */
} rp__dynamodb_table;

/* CreateTable with one HASH key of type S named hash_key, PAY_PER_REQUEST,
 * then waits until DescribeTable says ACTIVE (polling every 50 ms at first,
 * backing off to 1 s, up to wait_timeout_ms), so that items may be written
 * at once.  Returns 0 when it created the table; 1 when a table of that
 * name existed already (ResourceInUseException; it is waited for too, and
 * its key schema is not checked: describe it); -1 on failure (a table
 * being deleted fails with RP_ERR_NOT_FOUND). */
int rp__dynamodb_create_table(rp__dynamodb *d, const char *table, const char *hash_key, rp_error *err);

/* DescribeTable.  RP_ERR_NOT_FOUND when there is no such table. */
int rp__dynamodb_describe_table(rp__dynamodb *d, const char *table, rp__dynamodb_table *out, rp_error *err);

/* Waits until the table is ACTIVE, as rp__dynamodb_create_table does; a
 * table not yet visible is waited for.  RP_ERR_IO (retriable) after
 * wait_timeout_ms. */
int rp__dynamodb_wait_active(rp__dynamodb *d, const char *table, rp_error *err);

/* DeleteTable, then waits until DescribeTable answers
 * ResourceNotFoundException, so that the name may be created again.  When
 * the table is still there after wait_timeout_ms, returns 0 (the deletion
 * was accepted) and logs a warning.  RP_ERR_NOT_FOUND when there is no such
 * table. */
int rp__dynamodb_delete_table(rp__dynamodb *d, const char *table, rp_error *err);

/* GetItem of the item whose key attributes are `key`; consistent sets
 * ConsistentRead (a lease table reads consistently).  Returns 0 with *out
 * the item (its content replaced), 1 with *out empty when there is no such
 * item, -1 on failure (*out empty). */
int rp__dynamodb_get_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key, bool consistent,
                          rp__ddb_item *out, rp_error *err);

/* PutItem of the whole item, under expr's condition (expr NULL, or its
 * condition NULL: unconditional).  Returns 0, RP_DDB_CONDITION_FAILED, or
 * -1. */
int rp__dynamodb_put_item(rp__dynamodb *d, const char *table, const rp__ddb_item *item,
                          const rp__ddb_expr *expr, rp_error *err);

/* UpdateItem of the item at key with UpdateExpression `update` (required:
 * "SET #c = :c ADD #n :one ..."), under expr's condition, with expr's
 * placeholders (used by both expressions; may be NULL).  When new_item is
 * not NULL, ReturnValues is ALL_NEW and *new_item receives the item as
 * written (its content replaced).  Returns 0, RP_DDB_CONDITION_FAILED (the
 * item unchanged, *new_item empty), or -1. */
int rp__dynamodb_update_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key, const char *update,
                             const rp__ddb_expr *expr, rp__ddb_item *new_item, rp_error *err);

/* DeleteItem of the item at key, under expr's condition.  Deleting an item
 * that is not there succeeds (as in DynamoDB) unless a condition says
 * otherwise ("attribute_exists(leaseKey)").  Returns 0,
 * RP_DDB_CONDITION_FAILED, or -1. */
int rp__dynamodb_delete_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key,
                             const rp__ddb_expr *expr, rp_error *err);

/* Called for each item of a Scan; the item is valid during the call only
 * and cb must not call into the same handle.  Non-zero stops the scan. */
typedef int (*rp__ddb_item_fn)(void *ctx, const rp__ddb_item *item);

typedef struct rp__dynamodb_scan_options {
    uint32_t page_limit;        /* Limit: items read per request; 0: DynamoDB's (1 MB of data) */
    bool consistent;            /* ConsistentRead */
    const rp__ddb_expr *filter; /* FilterExpression and its placeholders; NULL: none */
} rp__dynamodb_scan_options;

/* Scan of the whole table, page after page (ExclusiveStartKey from each
 * page's LastEvaluatedKey until there is none), calling cb for each item in
 * the order DynamoDB gives them.  opt may be NULL.  *pages (may be NULL)
 * receives the number of requests that succeeded.  Returns 0; -1 on
 * failure, after cb was called for the items of the pages before (a lease
 * scan that fails should be redone whole), or with RP_ERR_INTERNAL when cb
 * stopped it. */
int rp__dynamodb_scan(rp__dynamodb *d, const char *table, const rp__dynamodb_scan_options *opt,
                      rp__ddb_item_fn cb, void *ctx, size_t *pages, rp_error *err);

#endif
