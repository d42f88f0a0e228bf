/* Leases as the Kinesis Client Library 2.x keeps them in DynamoDB, and
 * KCL's rules for taking them (docs/consumer.md, "Many machines: a
 * DynamoDB lease table"), as pure functions over one scan of the table and
 * this worker's observations: the DynamoDB store (lease_dynamodb.c) does
 * the calls, these decide, so that the rules are tested with any clock and
 * without DynamoDB (tests/unit/test_lease_kcl.c).
 *
 * The attributes, their DynamoDB types and meaning, as KCL's
 * DynamoDBLeaseSerializer writes them (one item per shard, hash key
 * leaseKey):
 *
 *   leaseKey                      S   the shard id
 *   leaseOwner                    S   the worker holding the lease; absent: free
 *   leaseCounter                  N   incremented by every write of the lease
 *                                     (renewal, take, checkpoint, eviction);
 *                                     each write is conditional on the value
 *                                     the writer last saw: the fence
 *   checkpoint                    S   the last sequence number processed, or
 *                                     TRIM_HORIZON / LATEST / AT_TIMESTAMP (no
 *                                     record processed yet), or SHARD_END
 *   checkpointSubSequenceNumber   N   the user record inside a KPL-aggregated
 *                                     record (0: the whole record)
 *   ownerSwitchesSinceCheckpoint  N   takes by another worker since the last
 *                                     checkpoint
 *   parentShardId                 SS  the parent shards (resharding)
 *   childShardIds                 SS  the child shards, once at SHARD_END
 *   startingHashKey, endingHashKey S  the shard's hash key range (decimal)
 *   pendingCheckpoint (S), pendingCheckpointSubSequenceNumber (N),
 *   pendingCheckpointState (B)        KCL's two-phase checkpoint: read,
 *                                     never written; a checkpoint removes them */
#ifndef RP_CONSUME_LEASE_KCL_H
#define RP_CONSUME_LEASE_KCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/dynamodb.h"
#include "consume/checkpoint.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

#define RP_KCL_LEASE_KEY "leaseKey"
#define RP_KCL_LEASE_OWNER "leaseOwner"
#define RP_KCL_LEASE_COUNTER "leaseCounter"
#define RP_KCL_CHECKPOINT "checkpoint"
#define RP_KCL_CHECKPOINT_SUB "checkpointSubSequenceNumber"
#define RP_KCL_OWNER_SWITCHES "ownerSwitchesSinceCheckpoint"
#define RP_KCL_PENDING_CHECKPOINT "pendingCheckpoint"
#define RP_KCL_PENDING_CHECKPOINT_SUB "pendingCheckpointSubSequenceNumber"
#define RP_KCL_PENDING_CHECKPOINT_STATE "pendingCheckpointState"
#define RP_KCL_PARENT_SHARD_ID "parentShardId"
#define RP_KCL_CHILD_SHARD_IDS "childShardIds"
#define RP_KCL_STARTING_HASH_KEY "startingHashKey"
#define RP_KCL_ENDING_HASH_KEY "endingHashKey"

/* KCL's sentinel checkpoints (SentinelCheckpoint). */
#define RP_KCL_TRIM_HORIZON "TRIM_HORIZON"
#define RP_KCL_LATEST "LATEST"
#define RP_KCL_AT_TIMESTAMP "AT_TIMESTAMP"
#define RP_KCL_SHARD_END "SHARD_END"

#define RP_KCL_OWNER_MAX 256
#define RP_KCL_PARENTS_MAX 2
/* changed_ms of a lease never seen renewed: expired at once. */
#define RP_KCL_NEVER (INT64_MIN / 4)

typedef struct rp__kcl_lease {
    char key[RP_STREAM_SHARD_ID_MAX];
    char owner[RP_KCL_OWNER_MAX]; /* "" when free */
    int64_t counter;
    char checkpoint[RP_STREAM_SEQ_MAX]; /* digits or a sentinel */
    int64_t sub_seq;
    int64_t owner_switches;
    char parents[RP_KCL_PARENTS_MAX][RP_STREAM_SHARD_ID_MAX];
    size_t n_parents;
    bool has_children; /* childShardIds is there */
} rp__kcl_lease;

/* Reads one item of a lease table.  Returns 0 with *out filled, or 1 when
 * the item is not a lease this store can use, err saying why: no leaseKey
 * S, no integer leaseCounter N, a checkpoint that is neither digits nor a
 * sentinel, a value too long, more than two parents.  Absent optional
 * attributes read as KCL reads them: no owner, checkpoint TRIM_HORIZON,
 * sub-sequence 0, owner switches 0. */
int rp__kcl_lease_read(const rp__ddb_item *it, rp__kcl_lease *out, rp_error *err);

/* The item of a new lease, as KCL's shard sync writes one: leaseKey,
 * leaseCounter 0, checkpoint (a sentinel), checkpointSubSequenceNumber 0,
 * ownerSwitchesSinceCheckpoint 0, parentShardId when the shard has parents,
 * startingHashKey and endingHashKey when the shard has a range.  *out is
 * replaced.  Returns 0, or -1 (RP_ERR_NOMEM, RP_ERR_INVALID). */
int rp__kcl_lease_item(const rp_stream_shard *shard, const char *checkpoint, rp__ddb_item *out,
                       rp_error *err);

/* The sentinel checkpoint of a new lease for a start position of the
 * consumer (TRIM_HORIZON, LATEST, AT_TIMESTAMP:MS): TRIM_HORIZON, LATEST or
 * AT_TIMESTAMP (KCL keeps the time in its configuration, not in the row). */
const char *rp__kcl_start_sentinel(const char *start);

/* True when the checkpoint is SHARD_END: read to its end, children may start. */
bool rp__kcl_ended(const rp__kcl_lease *l);

/* The consumer's view of a lease: a sequence number checkpoint (resumed
 * after it; at it when checkpointSubSequenceNumber > 0: part of that
 * aggregated record was not processed), or the start position of a
 * sentinel (AT_TIMESTAMP takes its time from initial_start when that is
 * AT_TIMESTAMP:MS, else TRIM_HORIZON), or ended. */
void rp__kcl_lease_shard(const rp__kcl_lease *l, const char *initial_start, rp__ckpt_shard *out);

/* Which leases may be processed now, into eligible[0..n): the shard is
 * listed, its lease is not at SHARD_END, and every parent (the shard
 * list's and the lease's parentShardId) that is still listed has a lease at
 * SHARD_END. */
void rp__kcl_eligible(const rp_stream_shard *shards, size_t n_shards, const rp__kcl_lease *leases, size_t n,
                      bool *eligible);

/* When this worker last saw a lease's counter change (DynamoDBLeaseTaker's
 * lastCounterIncrementNanos), given the previous observation (seen false:
 * none) and a scan that ended at scan_ms: a lease seen for the first time
 * counts as renewed at scan_ms when it has an owner, never when it has
 * none; a counter that moved counts from scan_ms; one that did not keeps
 * the previous time. */
int64_t rp__kcl_observe(bool seen, int64_t seen_counter, int64_t seen_changed_ms, const rp__kcl_lease *l,
                        int64_t scan_ms);

/* Expired as this worker sees it: no owner, or the counter unchanged for
 * more than lease_ms. */
bool rp__kcl_expired(const rp__kcl_lease *l, int64_t changed_ms, int64_t now_ms, int64_t lease_ms);

/* One lease row as the taker sees it. */
typedef struct rp__kcl_row {
    const rp__kcl_lease *lease;
    bool eligible;      /* rp__kcl_eligible */
    bool held;          /* this process holds it (has a worker for it) */
    int64_t changed_ms; /* rp__kcl_observe */
} rp__kcl_row;

typedef struct rp__kcl_choice {
    size_t workers; /* live workers: owners of unexpired eligible leases, and this one */
    size_t target;  /* the fair share: ceil(eligible / workers) */
    size_t mine;    /* eligible leases this worker holds */
    size_t n_pick;
    size_t *pick; /* indices into the rows, n_pick of them (caller's array of n) */
    bool *steal;  /* steal[i]: pick[i] is taken from a live worker (caller's array of n) */
} rp__kcl_choice;

/* DynamoDBLeaseTaker.computeLeasesToTake: which leases this worker (me)
 * takes now.  The available leases are the eligible ones that are free or
 * expired (and those the table says are mine but this process does not
 * hold).  target = ceil(eligible / workers) (1 when workers >= eligible);
 * needed = target - mine.  When needed > 0 and leases are available, up to
 * needed of them, in random order; when none is available, steal from the
 * most loaded worker: when it holds more than target, min(needed, its
 * excess), else 1 when needed > 1, at most max_steal (0: 1), chosen at
 * random among its leases.  rng is a rp__retry_random state.  out->pick and
 * out->steal must have room for n entries. */
void rp__kcl_choose(const rp__kcl_row *rows, size_t n, const char *me, int64_t now_ms, int64_t lease_ms,
                    uint32_t max_steal, uint64_t *rng, rp__kcl_choice *out);

#endif
