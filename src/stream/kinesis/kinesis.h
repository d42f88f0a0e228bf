/* ridepred: the Amazon Kinesis Data Streams backend (docs/streams.md, issue 3).
 *
 * A client of Kinesis's JSON 1.1 API: every call is `POST /` with
 * `X-Amz-Target: Kinesis_20131202.<Operation>` and
 * `Content-Type: application/x-amz-json-1.1`, signed with SigV4 (service
 * "kinesis") by src/aws/sigv4.h, sent by the HTTP client of src/aws/http.h
 * (one libcurl connection kept for the handle's life, and its retry policy:
 * exponential backoff with full jitter on throttling, 5xx and network
 * errors).  docs/streams.md describes the backend; docs/aws.md the AWS
 * pieces.
 *
 * Semantics are those of the local store (src/stream/local/local_store.h),
 * which mirrors Kinesis; where the two differ, this file says so.
 *
 * Configuration, resolved by rp__kinesis_open:
 *  - endpoint: the options' endpoint_url, else the SDKs' variables
 *    AWS_ENDPOINT_URL_KINESIS, else AWS_ENDPOINT_URL (src/aws:
 *    rp__aws_endpoint_from_env), else https://kinesis.REGION.amazonaws.com
 *    (amazonaws.com.cn for cn- regions);
 *  - region: the options' region, else the AWS chain (AWS_REGION,
 *    AWS_DEFAULT_REGION, the profile's region); none is an error that says
 *    to set AWS_REGION;
 *  - credentials: the options' static credentials, else the AWS chain
 *    (src/aws/credentials.h), resolved again before a call when they expire
 *    within ten minutes, and once more when Kinesis answers
 *    ExpiredTokenException;
 *  - attempts per request: the options' retry policy, else AWS_MAX_ATTEMPTS
 *    (botocore's variable, 1..100) with the default delays, else
 *    RP_RETRY_POLICY_DEFAULT (5 attempts, 100 ms base, 20 s cap).
 *
 * Errors: every fallible call returns 0 or -1 and fills the rp_error.  When
 * Kinesis answered, the message is "<AWS error code>: <AWS message>" (for
 * example "ResourceNotFoundException: Stream ride_events under account
 * 000000000000 not found."), followed by " (N attempts)" when the request
 * was retried; the code is RP_ERR_NOT_FOUND for ResourceNotFoundException,
 * RP_ERR_LIMIT for LimitExceededException and HTTP 413, RP_ERR_INVALID for
 * the other 4xx answers (ResourceInUseException, ValidationException,
 * InvalidArgumentException, ExpiredIteratorException, AccessDenied...),
 * RP_ERR_IO for throttling and 5xx; err->retriable is set when the last
 * failure was worth retrying (the attempts ran out).  When Kinesis could
 * not be reached, the message starts with "Kinesis endpoint URL:" and gives
 * libcurl's reason and the attempts (RP_ERR_IO, retriable for refused or
 * reset connections and timeouts).  An answer that is not what the API
 * documents is RP_ERR_IO: "Kinesis answered Operation with ...".
 * Configuration errors are RP_ERR_INVALID (a bad endpoint URL),
 * RP_ERR_NOT_FOUND (no region, no credentials), or those of the chain.
 * Messages never contain a secret.
 *
 * A handle belongs to one thread at a time and must not cross fork(). */
#ifndef RIDEPRED_KINESIS_H
#define RIDEPRED_KINESIS_H

#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/jsonapi.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RP_KINESIS_TARGET_PREFIX "Kinesis_20131202."
#define RP_KINESIS_CONTENT_TYPE "application/x-amz-json-1.1"
#define RP_KINESIS_GET_LIMIT_MAX 10000                            /* GetRecords: records per call */
#define RP_KINESIS_WAIT_MS_DEFAULT RP_AWS_JSONAPI_WAIT_MS_DEFAULT /* waiting for ACTIVE / deletion */
#define RP_KINESIS_MAX_RESPONSE_BYTES ((size_t)32 * 1024 * 1024)  /* 10 MiB of records, base64 */
#define RP_KINESIS_ENDPOINT_MAX 1024

typedef struct rp__kinesis rp__kinesis;

/* endpoint_url (NULL: the variables above, else AWS's), endpoint_source
 * (where endpoint_url came from, for errors; NULL: "--endpoint-url"),
 * region (NULL: the chain), credentials (copied; NULL: the chain), profile,
 * retry (max_attempts 0: AWS_MAX_ATTEMPTS, else the default),
 * connect_timeout_ms (0: 3000), timeout_ms (a whole request; 0: 30000),
 * wait_timeout_ms (0: RP_KINESIS_WAIT_MS_DEFAULT): see src/aws/jsonapi.h. */
typedef rp__aws_jsonapi_options rp__kinesis_options;

/* Resolves endpoint, region and credentials as above and makes a handle
 * (no request is sent: the connection is made by the first call).  opt may
 * be NULL.  Returns -1 with *out NULL when the endpoint is not an http(s)
 * URL, when no region or no credentials are found, or when the chain fails. */
int rp__kinesis_open(const rp__kinesis_options *opt, rp__kinesis **out, rp_error *err);

/* Closes the connection and wipes the credentials.  NULL is ignored. */
void rp__kinesis_close(rp__kinesis *k);

/* The endpoint requests go to, and the signing region. */
const char *rp__kinesis_endpoint(const rp__kinesis *k);
const char *rp__kinesis_region(const rp__kinesis *k);

/* The handle's HTTP client, for tests: they may replace its transport, sleep
 * and random source (rp__http_client's hooks) and read last_attempts.  The
 * waits and PutRecords' entry retries sleep through the same sleep hook. */
rp__http_client *rp__kinesis_http(rp__kinesis *k);

/* CreateStream with shard_count shards (provisioned mode), then waits until
 * the stream is ACTIVE (DescribeStreamSummary, polling every 50 ms at first,
 * backing off to 1 s, for up to wait_timeout_ms), so that a put may follow at
 * once.  Kinesis's errors: ResourceInUseException when the name exists,
 * LimitExceededException over the account's shard limit, ... */
int rp__kinesis_create_stream(rp__kinesis *k, const char *name, uint32_t shard_count, rp_error *err);

/* DeleteStream, then waits until DescribeStreamSummary answers
 * ResourceNotFoundException (the local store deletes at once; Kinesis keeps
 * the stream DELETING for a while), so that the name may be created again.
 * When the stream is still DELETING after wait_timeout_ms, the call returns
 * 0 (the deletion was accepted) and logs a warning. */
int rp__kinesis_delete_stream(rp__kinesis *k, const char *name, rp_error *err);

/* ListStreams, following every page (NextToken when the endpoint gives one,
 * else ExclusiveStartStreamName while HasMoreStreams), sorted by name.
 * Unlike the local store, only name is always set: status and created_ms
 * come from StreamSummaries when the endpoint sends them (AWS does; the
 * test peers do not), open_shards and retention_hours are 0 (one
 * DescribeStreamSummary per stream would cost a call each).  *out: a
 * malloc'd array the caller frees (NULL when empty); NULL and 0 on failure. */
int rp__kinesis_list_streams(rp__kinesis *k, rp_stream_info **out, size_t *count, rp_error *err);

/* DescribeStreamSummary: name, status (CREATING, ACTIVE, UPDATING,
 * DELETING), open shard count, retention, creation time. */
int rp__kinesis_describe_stream(rp__kinesis *k, const char *name, rp_stream_info *out, rp_error *err);

/* ListShards, following NextToken, sorted by shard id (so parents come
 * before their children), with seq_end set for closed shards.  *out: a
 * malloc'd array the caller frees; NULL and 0 on failure. */
int rp__kinesis_list_shards(rp__kinesis *k, const char *name, rp_stream_shard **out, size_t *count,
                            rp_error *err);

/* UpdateShardCount with UNIFORM_SCALING.  Waits for the stream to be
 * ACTIVE first (Kinesis refuses to reshard an UPDATING stream) and after
 * (so that the children are listed and writable when the call returns).  A
 * target equal to the open shard count changes nothing.  When the endpoint
 * does not know the operation (kinesalite answers UnknownOperationException)
 * the same uniform layout is reached with SplitShard and MergeShards, as the
 * local store does it: open shards that straddle a new boundary are split,
 * then the pieces of each new range merged pairwise, waiting for ACTIVE
 * after each step. */
int rp__kinesis_update_shard_count(rp__kinesis *k, const char *name, uint32_t target, rp_error *err);

/* PutRecords for n entries (any n >= 1): entries that cannot be valid are
 * refused here, each on its own, as the local store refuses them
 * (ValidationException: a partition key that is not 1-256 characters of
 * valid UTF-8, data and key over RP_STREAM_RECORD_MAX bytes, data NULL with
 * a non-zero length), instead of failing their whole request; the others are
 * sent in order, in requests of at most RP_STREAM_PUT_BATCH_MAX records /
 * RP_STREAM_PUT_BYTES_MAX bytes of data and keys, Data in base64.  Entries
 * that Kinesis refuses with ProvisionedThroughputExceededException or
 * InternalFailure are sent again, with the full-jitter delays of the retry
 * policy, until they are stored or the policy's attempts are used up.
 * results[i] (the caller's array of n) tells entry i's fate: ok with its
 * shard id and sequence number, or the last error code and message.
 *
 * Returns 0 when every request got an answer (even if every entry was
 * refused).  Returns -1 when a request failed as a whole after the HTTP
 * retries (unknown stream, endpoint down, ...): the entries of that request
 * that were not stored carry the error (the AWS code, or
 * "ServiceUnavailable" when no answer came), the entries after it
 * "NotAttempted"; entries stored by earlier requests stay ok.  An entry
 * marked failed may still have been stored, when the connection broke after
 * the request was sent (puts are at least once, as with AWS's SDKs). */
int rp__kinesis_put_records(rp__kinesis *k, const char *name, const rp_stream_entry *entries, size_t n,
                            rp_stream_put_result *results, rp_error *err);

/* GetShardIterator.  The iterator written (opaque, at most
 * RP_STREAM_ITER_MAX - 1 characters) is "SHARD_ID|KINESIS_ITERATOR": the
 * shard id rides along because GetRecords answers without it.  Fails with
 * RP_ERR_LIMIT when Kinesis's iterator does not fit.  The types need
 * sequence_number / timestamp_ms as the local store's do. */
int rp__kinesis_get_iterator(rp__kinesis *k, const char *name, const char *shard_id, rp_stream_iterator type,
                             const char *sequence_number, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                             rp_error *err);

/* GetRecords on an iterator of rp__kinesis_get_iterator: decodes every
 * record (Data from base64; ApproximateArrivalTimestamp as epoch ms), then
 * calls cb for each, in order; limit 0 means RP_KINESIS_GET_LIMIT_MAX.  The
 * record passed to cb is valid during the callback only; cb must not call
 * into the same handle.  Then writes the next iterator into next_iter, or ""
 * when Kinesis sent no NextShardIterator (a closed shard read to its end),
 * and *millis_behind_latest (may be NULL) from MillisBehindLatest.  A cb
 * that returns non-zero stops the call, which returns -1 (RP_ERR_INTERNAL)
 * without touching next_iter.  A malformed iterator fails with
 * InvalidArgumentException (RP_ERR_INVALID) without a request. */
int rp__kinesis_get_records(rp__kinesis *k, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                            void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                            rp_error *err);

#ifdef __cplusplus
}
#endif
#endif
