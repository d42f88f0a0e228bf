/* Shard leases and checkpoints in a DynamoDB table in the shape the Kinesis
 * Client Library 2.x writes (lease_kcl.h lists the attributes), so that
 * consumers on any number of machines share the shards of a Kinesis stream,
 * and an operator's KCL tools read the table (docs/consumer.md, "Many
 * machines: a DynamoDB lease table").
 *
 * One store per consumer process (rp__ddb_leases_open), one handle per
 * thread (rp__ddb_leases_connect: a DynamoDB client with its own
 * connection).  The store remembers, for each lease this process holds, the
 * leaseCounter it last wrote; every write is conditional on it (and on
 * leaseOwner being this process), and adds one, as KCL's are:
 *
 *   renew       SET leaseCounter+1                 every lease_ms / 3
 *   take        SET leaseOwner=me, leaseCounter+1 (ownerSwitchesSinceCheckpoint+1
 *               when it had another owner); conditional on the counter seen in
 *               the scan only, as KCL's takeLease
 *   checkpoint  SET checkpoint, checkpointSubSequenceNumber=0,
 *               ownerSwitchesSinceCheckpoint=0, leaseCounter+1, REMOVE the
 *               pending checkpoint (and leaseOwner at SHARD_END)
 *   release     REMOVE leaseOwner, SET leaseCounter+1 (KCL's evictLease)
 *
 * Writes of one lease are serialised inside the process (the coordinator's
 * renewals and the shard worker's checkpoints share the counter).  A write
 * whose condition fails is read back once: when the item shows the write
 * went through (a retried request whose first answer was lost), it counts
 * as done; otherwise the lease is lost: the write is refused and logged with
 * the counter and owner the table holds.
 *
 * Sync (the coordinator's step) renews what is due, scans the table
 * (consistent), adds the leases of new shards (PutItem if absent), writes
 * childShardIds on ended parents, and takes leases by KCL's rules
 * (rp__kcl_choose): a lease is expired when its counter did not move for
 * lease_ms as this process observed it.  A lease this process could not
 * renew for lease_ms (DynamoDB unreachable) counts as lost here.
 *
 * The store reads no environment itself: the DynamoDB client takes its
 * endpoint, region and credentials as the AWS SDKs do (src/aws/dynamodb.h). */
#ifndef RP_CONSUME_LEASE_DYNAMODB_H
#define RP_CONSUME_LEASE_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/dynamodb.h"
#include "common/metrics.h"
#include "consume/checkpoint.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

typedef struct rp__ddb_leases_config {
    const char *table;           /* the lease table (one per group and stream, as KCL's application) */
    const char *owner;           /* this process: leaseOwner */
    int64_t lease_ms;            /* failover time */
    uint32_t max_steal;          /* 0: 1 */
    rp__dynamodb_options ddb;    /* endpoint_url, region, credentials; retry and timeouts: 0 for the
                                    store's (3 attempts, 50 ms..1 s; a request at most
                                    clamp(lease_ms / 3, 1 s, 10 s)) */
    rp__counter *requests;       /* HTTP requests (may be NULL) */
    rp__counter *throttles;      /* throttling answers (may be NULL) */
    int64_t (*clock)(void *ctx); /* monotonic ms; NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
} rp__ddb_leases_config;

typedef struct rp__ddb_leases rp__ddb_leases;
typedef struct rp__ddb_lease_conn rp__ddb_lease_conn;

/* Makes the store (strings copied) and checks the table: created when it
 * does not exist (hash key leaseKey S, PAY_PER_REQUEST), refused when its
 * hash key is not leaseKey S.  When DynamoDB cannot be reached (a retriable
 * error) the store opens anyway and checks the table at the first sync.
 * Returns 0 with *out, or -1. */
int rp__ddb_leases_open(const rp__ddb_leases_config *cfg, rp__ddb_leases **out, rp_error *err);

/* Frees the store (every handle closed first).  NULL is ignored. */
void rp__ddb_leases_close(rp__ddb_leases *s);

/* A handle for one thread.  Returns 0 with *out, or -1. */
int rp__ddb_leases_connect(rp__ddb_leases *s, rp__ddb_lease_conn **out, rp_error *err);
void rp__ddb_leases_disconnect(rp__ddb_lease_conn *x);

/* The coordinator's step (rp__lease_sync's contract; plan->n_release is
 * always 0: balance comes from stealing).  A scan that fails is logged and
 * the plan then holds only the leases found lost; -1 only when memory ran
 * short or the table cannot be used (its key schema is wrong). */
int rp__ddb_leases_sync(rp__ddb_lease_conn *x, const rp_stream_shard *shards, size_t n_shards,
                        const char *initial_start, const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held,
                        rp__ckpt_plan *plan, rp_error *err);

/* The checkpoint write (above).  Always asks DynamoDB, even for a lease this
 * process already knows it lost, so that the fence is what refuses it.
 * Returns 0 stored, 1 refused (the lease is lost; logged), -1 DynamoDB could
 * not be reached or failed (err; try again). */
int rp__ddb_leases_commit(rp__ddb_lease_conn *x, const char *shard_id, const char *sequence_number,
                          bool ended, rp_error *err);

/* The release write (above), when this process holds the lease.  Returns 0
 * (also when the lease was lost already), -1 on failure (it will expire). */
int rp__ddb_leases_release(rp__ddb_lease_conn *x, const char *shard_id, rp_error *err);

#endif
