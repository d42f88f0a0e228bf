/* Where the consumer keeps its shard leases and checkpoints: one interface,
 * two stores (docs/consumer.md, "Checkpoints and leases").
 *
 *  - SQLite (checkpoint.h): one file, shared by the consumers of one
 *    machine; a heartbeat table counts the live consumers.
 *  - DynamoDB (lease_dynamodb.h): a lease table in the shape the Kinesis
 *    Client Library 2.x writes, shared by consumers on any number of
 *    machines (and readable by KCL's tools); every write of a lease is
 *    conditional on the leaseCounter last seen.
 *
 * `--checkpoint-store PATH` chooses SQLite, `--checkpoint-store
 * dynamodb:TABLE` DynamoDB (rp__lease_store_parse).  The consumer opens the
 * store once (rp__lease_store_open) and one handle per thread
 * (rp__lease_open): the coordinator's for rp__lease_sync and rp__lease_leave,
 * each shard worker's for rp__lease_commit and rp__lease_release.  The plan
 * and shard types are checkpoint.h's, for both stores.
 *
 * Return values, for every store: 0 done; rp__lease_commit 1 when the lease
 * is lost (nothing stored: the worker must stop); -1 with err set when the
 * store cannot be reached or refused the call (err->retriable when trying
 * again may work). */
#ifndef RP_CONSUME_LEASE_STORE_H
#define RP_CONSUME_LEASE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "consume/checkpoint.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

#define RP_LEASE_DYNAMODB_PREFIX "dynamodb:"
#define RP_LEASE_STEAL_DEFAULT 1 /* KCL's maxLeasesToStealAtOneTime */

typedef enum rp__lease_kind {
    RP_LEASE_SQLITE = 1,
    RP_LEASE_DYNAMODB
} rp__lease_kind;

/* A monotonic clock in milliseconds (tests inject one). */
typedef int64_t (*rp__lease_clock_fn)(void *ctx);

typedef struct rp__lease_config {
    const char *spec;         /* a SQLite file's path, or "dynamodb:TABLE" */
    const char *group;        /* the consumer group (SQLite: a column; DynamoDB: the table is the group's) */
    const char *source;       /* "backend:name" of the source stream */
    const char *owner;        /* this consumer process: "host:pid:random" */
    int64_t lease_ms;         /* how long a lease lives without renewal */
    uint32_t max_steal;       /* DynamoDB: leases taken from busy workers per sync; 0: 1 */
    const char *region;       /* DynamoDB: NULL: the AWS chain (AWS_REGION, ...) */
    const char *endpoint_url; /* DynamoDB: NULL: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, AWS's */
    rp__counter *requests;    /* DynamoDB: HTTP requests to the lease table (may be NULL) */
    rp__counter *throttles;   /* DynamoDB: answers that were throttling (may be NULL) */
    rp__lease_clock_fn clock; /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
} rp__lease_config;

typedef struct rp__lease_store rp__lease_store;
typedef struct rp__lease rp__lease;

/* Which store a spec names: DynamoDB for "dynamodb:TABLE" (*table points
 * into spec), else a SQLite file.  Returns 0, or -1 with RP_ERR_INVALID for
 * an empty spec or a table name DynamoDB refuses (3..255 characters of
 * [A-Za-z0-9_.-]). */
int rp__lease_store_parse(const char *spec, rp__lease_kind *kind, const char **table, rp_error *err);

/* Opens the store for one group's view of one source stream: the SQLite
 * file (made with its schema when missing), or the DynamoDB lease table
 * (created when missing, as KCL does: hash key leaseKey S, on-demand; when
 * DynamoDB cannot be reached now the table is checked at the first sync).
 * cfg's strings are copied.  Returns 0 with *out (free with
 * rp__lease_store_close), or -1 (a file that is not a checkpoint store, a
 * table whose key is not leaseKey S, no region or credentials, ...). */
int rp__lease_store_open(const rp__lease_config *cfg, rp__lease_store **out, rp_error *err);

/* Frees the store; every handle must be closed first.  NULL is ignored. */
void rp__lease_store_close(rp__lease_store *s);

rp__lease_kind rp__lease_store_kind(const rp__lease_store *s);

/* The spec the store was opened with, for logs. */
const char *rp__lease_store_spec(const rp__lease_store *s);

/* A handle for one thread (a SQLite connection, or a DynamoDB client with
 * its own connection).  Returns 0 with *out, or -1. */
int rp__lease_open(rp__lease_store *s, rp__lease **out, rp_error *err);
void rp__lease_close(rp__lease *l);

/* The coordinator's periodic step: renews the leases held (held[0..n_held),
 * the shards this process has a worker for), reports those it no longer
 * holds, adds the shards not known yet (start initial_start when the group
 * has no lease for this source at all, TRIM_HORIZON for shards found later:
 * children of resharding), and takes leases of eligible shards (not ended,
 * every listed parent ended) towards the fair share.  SQLite: the rules of
 * rp__ckpt_sync.  DynamoDB: KCL's (lease_dynamodb.h).  The caller frees the
 * plan with rp__ckpt_plan_free. */
int rp__lease_sync(rp__lease *l, const rp_stream_shard *shards, size_t n_shards, const char *initial_start,
                   const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held, rp__ckpt_plan *plan,
                   rp_error *err);

/* Stores the checkpoint after sequence_number ("" with ended: none new) and,
 * when ended, marks the shard read to its end and frees its lease, if and
 * only if this consumer still holds the lease.  Returns 0 stored, 1 lease
 * lost (nothing stored), -1 the store failed (try again). */
int rp__lease_commit(rp__lease *l, const char *shard_id, const char *sequence_number, bool ended,
                     rp_error *err);

/* Hands a lease back (its owner removed) if this consumer holds it. */
int rp__lease_release(rp__lease *l, const char *shard_id, rp_error *err);

/* A clean exit: SQLite removes this consumer's heartbeat; DynamoDB has
 * nothing to do (KCL keeps no table of workers). */
int rp__lease_leave(rp__lease *l, rp_error *err);

#endif
