/* ridepred: the embedded local stream store (docs/local-store.md, issue 3).
 *
 * Kinesis semantics over one SQLite file in WAL mode, no server: streams with
 * shards owning equal slices of the 128-bit hash-key space, records routed by
 * MD5(partition key), sequence numbers increasing per shard, shard iterators,
 * retention, and uniform resharding.  Several processes may produce and
 * consume on the same file at once; writers serialise on SQLite's write lock
 * (waiting up to RP_LOCAL_BUSY_TIMEOUT_MS), readers never block writers.
 * docs/local-store.md describes the file, the schema and the semantics, and
 * lists what differs from Kinesis.
 *
 * Errors: every fallible call returns 0 or -1 and fills the rp_error.  The
 * message starts with the name Kinesis gives the same error
 * ("ResourceNotFoundException: ...", "ResourceInUseException: ...",
 * "ValidationException: ..." (a parameter out of its documented range or
 * pattern), "InvalidArgumentException: ...", "LimitExceededException: ...",
 * "ExpiredIteratorException: ..."); the code is RP_ERR_NOT_FOUND for
 * ResourceNotFoundException, RP_ERR_LIMIT for LimitExceededException,
 * RP_ERR_INVALID for the other four.  Failures of the file itself start with
 * "local store:": RP_ERR_IO (retriable) when it stayed locked longer than the
 * busy timeout, RP_ERR_CORRUPT when it is not a store, RP_ERR_IO otherwise.
 *
 * A handle belongs to one thread at a time and must not cross fork(): open
 * one per process (or thread).  Handles are cheap: a file descriptor, a few
 * prepared statements and an MD5 context. */
#ifndef RIDEPRED_LOCAL_STORE_H
#define RIDEPRED_LOCAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RP_LOCAL_RETENTION_HOURS_DEFAULT 24
#define RP_LOCAL_RETENTION_HOURS_MAX 8760                 /* Kinesis: one year */
#define RP_LOCAL_SHARDS_MAX 10000                         /* open shards per stream */
#define RP_LOCAL_GET_LIMIT_MAX 10000                      /* GetRecords: records per call */
#define RP_LOCAL_GET_BYTES_MAX ((size_t)10 * 1024 * 1024) /* GetRecords: bytes per call */
#define RP_LOCAL_ITER_TTL_MS 300000                       /* iterators expire after 5 minutes */
#define RP_LOCAL_BUSY_TIMEOUT_MS 30000                    /* wait for another writer this long */
#define RP_LOCAL_SEQ_LEN 33                               /* every sequence number has 33 digits */

typedef struct rp__local_store rp__local_store;

/* Opens the store at path (the command line gives its default: docs/
 * local-store.md), creating the
 * missing parent directories (mode 0700), the file and its schema, and puts
 * the file in WAL mode.  *out receives a handle the caller releases with
 * rp__local_close.  Returns -1 with *out NULL when a directory or the file
 * cannot be created or opened (RP_ERR_IO), when the file is not a SQLite
 * database or belongs to another application (RP_ERR_CORRUPT), or when it
 * was written by a newer schema (RP_ERR_UNSUPPORTED). */
int rp__local_open(const char *path, rp__local_store **out, rp_error *err);

/* Closes the handle and frees everything it owns.  NULL is ignored. */
void rp__local_close(rp__local_store *s);

/* Replaces the clock the store reads (epoch milliseconds; the default is
 * CLOCK_REALTIME) for this handle only: arrival timestamps, retention,
 * AT_TIMESTAMP checks and iterator expiry all use it.  For tests; now_ms NULL
 * restores the real clock. */
void rp__local_set_clock(rp__local_store *s, int64_t (*now_ms)(void *ctx), void *ctx);

/* Creates a stream of shard_count shards (1..RP_LOCAL_SHARDS_MAX) with equal
 * hash-key ranges, as Kinesis's CreateStream does; retention_hours 0 means
 * RP_LOCAL_RETENTION_HOURS_DEFAULT, otherwise 1..RP_LOCAL_RETENTION_HOURS_MAX.
 * The stream is ACTIVE at once.  Fails with ResourceInUseException when the
 * name exists, ValidationException for a bad name (1-128 characters of
 * [a-zA-Z0-9_.-]) or a shard count of 0, LimitExceededException for more
 * than RP_LOCAL_SHARDS_MAX shards, InvalidArgumentException for a retention
 * above the maximum. */
int rp__local_create_stream(rp__local_store *s, const char *name, uint32_t shard_count,
                            uint32_t retention_hours, rp_error *err);

/* Deletes a stream, its shards and its records at once (Kinesis keeps the
 * stream DELETING for a while; here it is gone when the call returns).
 * Iterators on it then fail with ResourceNotFoundException.  Fails with
 * ResourceNotFoundException when there is no such stream. */
int rp__local_delete_stream(rp__local_store *s, const char *name, rp_error *err);

/* Lists every stream, ordered by name.  On success *out is a malloc'd array
 * of *count entries (NULL when there is none) that the caller frees with
 * free(); on failure *out is NULL and *count 0. */
int rp__local_list_streams(rp__local_store *s, rp_stream_info **out, size_t *count, rp_error *err);

/* Fills *out with the stream's summary (status is always "ACTIVE").  Fails
 * with ResourceNotFoundException when there is no such stream. */
int rp__local_describe_stream(rp__local_store *s, const char *name, rp_stream_info *out, rp_error *err);

/* Lists the stream's shards, open and closed (closed ones until their records
 * expire), ordered by shard id: ids "shardId-%012u", hash-key ranges as
 * decimal strings, parent ids, and sequence-number ranges (seq_end set once a
 * shard is closed).  *out is a malloc'd array of *count entries the caller
 * frees with free(); NULL and 0 on failure.  Fails with
 * ResourceNotFoundException when there is no such stream. */
int rp__local_list_shards(rp__local_store *s, const char *name, rp_stream_shard **out, size_t *count,
                          rp_error *err);

/* PutRecords: routes each of the n entries (1..RP_STREAM_PUT_BATCH_MAX,
 * RP_STREAM_PUT_BYTES_MAX bytes of data and keys in all) to the open shard
 * whose hash-key range holds MD5(partition key), and appends the valid ones
 * in one transaction.  results[i] (the caller's array of n) reports entry i:
 * ok with its shard id and sequence number, or an error code and message for
 * an entry that was refused (ValidationException: a partition key that is
 * not 1-256 characters of valid UTF-8, data and key over RP_STREAM_RECORD_MAX
 * bytes, data NULL with a non-zero length); the others are stored (0 is
 * returned even when every entry was refused).  Returns -1, having stored
 * nothing, for an unknown stream (ResourceNotFoundException), bad arguments
 * or a count outside 1..500 (ValidationException), more than 5 MiB in all
 * (InvalidArgumentException), a busy or failing file; then every result is
 * marked failed with the error's name as its code (InternalFailure for file
 * errors).  The arrival time of a record is the store's clock, or the last
 * arrival in its shard when the clock went back. */
int rp__local_put_records(rp__local_store *s, const char *stream, const rp_stream_entry *entries, size_t n,
                          rp_stream_put_result *results, rp_error *err);

/* GetShardIterator: writes into iter an opaque iterator on the shard
 * shard_id ("shardId-" and up to 12 digits) of stream, valid for
 * RP_LOCAL_ITER_TTL_MS.  The position: TRIM_HORIZON the oldest record still
 * retained; LATEST just after the last record present now;
 * AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER at / after sequence_number (a
 * sequence number of this shard, required for these two types and refused
 * for the others); AT_TIMESTAMP the first record whose arrival is at or
 * after timestamp_ms (not later than now).  Fails with
 * ResourceNotFoundException for an unknown stream or shard (or a shard id
 * not of that form), ValidationException for a bad stream name or type, and
 * InvalidArgumentException for a bad sequence number or timestamp. */
int rp__local_get_iterator(rp__local_store *s, const char *stream, const char *shard_id,
                           rp_stream_iterator type, const char *sequence_number, int64_t timestamp_ms,
                           char iter[RP_STREAM_ITER_MAX], rp_error *err);

/* GetRecords: calls cb for each of at most limit records (0 means
 * RP_LOCAL_GET_LIMIT_MAX; at most that many) from the iterator's position,
 * in sequence-number order, skipping records past retention, stopping early
 * once RP_LOCAL_GET_BYTES_MAX bytes have been delivered.  The record passed
 * to cb is a view valid during the callback only; cb must not call into the
 * same handle.  Then writes the iterator of the next position into next_iter
 * (also after an empty page), or "" when the shard is closed and every record
 * of it has been read, and *millis_behind_latest (may be NULL): 0 when the
 * page reached the last record of the shard, else how long ago the last
 * record returned arrived.  A cb that returns non-zero stops the call, which
 * returns -1 (RP_ERR_INTERNAL) without touching next_iter.  Fails with
 * InvalidArgumentException for a malformed iterator or one from another
 * store, ExpiredIteratorException for one older than RP_LOCAL_ITER_TTL_MS,
 * ResourceNotFoundException when its stream or shard is gone,
 * ValidationException for a limit above RP_LOCAL_GET_LIMIT_MAX. */
int rp__local_get_records(rp__local_store *s, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                          void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                          rp_error *err);

/* UpdateShardCount with UNIFORM_SCALING: reshapes the open shards into
 * target_count shards of equal ranges through Kinesis's own operations: open
 * shards that straddle a new boundary are split (both children name the
 * split shard as parent), then the pieces that make up one new range are
 * merged pairwise (the child names both as parent and adjacent parent).
 * Every shard so replaced is closed: it takes no more records, its ending
 * sequence number is set, and its records stay readable until they expire;
 * intermediate shards are closed at once and hold no records.  A target equal
 * to the current count changes nothing.  Fails with LimitExceededException
 * for a target below half or above double the open shard count or above
 * RP_LOCAL_SHARDS_MAX, ValidationException for 0, ResourceNotFoundException
 * for an unknown stream. */
int rp__local_update_shard_count(rp__local_store *s, const char *stream, uint32_t target_count,
                                 rp_error *err);

/* Deletes every record past its stream's retention in the whole file, and
 * the closed shards whose records have all expired.  Puts already do this
 * piecemeal (see docs/local-store.md); this is the unbounded sweep. */
int rp__local_trim(rp__local_store *s, rp_error *err);

#ifdef __cplusplus
}
#endif
#endif
