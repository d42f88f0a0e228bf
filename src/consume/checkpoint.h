/* The consumer's checkpoints and shard leases, in one SQLite file
 * (docs/consumer.md, "Checkpoints and leases").
 *
 * A row per (group, source stream, shard): the last sequence number whose
 * batch was fully handled (the checkpoint), whether the shard was read to
 * its end, where a shard without a checkpoint starts, and the lease: the
 * owner (one consumer process) and when the lease expires.  A row per live
 * consumer of a group (its heartbeat) lets each take its fair share.
 *
 * Every write checks the lease in the same statement or transaction: a
 * checkpoint is stored only while its writer owns an unexpired lease, so two
 * consumers never both advance one shard, and a consumer that lost a lease
 * learns it at its next checkpoint.
 *
 * A handle is for one thread (one SQLite connection); open one per thread.
 * Several processes share the file (WAL mode, a busy timeout). */
#ifndef RP_CONSUME_CHECKPOINT_H
#define RP_CONSUME_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

#define RP_CKPT_OWNER_MAX 128
#define RP_CKPT_START_MAX 48
#define RP_CKPT_BUSY_TIMEOUT_MS 10000

typedef struct rp__ckpt rp__ckpt;

/* One shard as the lease table knows it. */
typedef struct rp__ckpt_shard {
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    char checkpoint[RP_STREAM_SEQ_MAX]; /* "" when none yet */
    char start[RP_CKPT_START_MAX];      /* TRIM_HORIZON, LATEST or AT_TIMESTAMP:MS */
    bool ended;                         /* read to its end: children may start */
    bool at_checkpoint;                 /* resume at the checkpoint, not after it (a KCL checkpoint
                                           inside a KPL-aggregated record; never for SQLite) */
} rp__ckpt_shard;

/* What one rp__ckpt_sync decided for the calling consumer. */
typedef struct rp__ckpt_plan {
    rp__ckpt_shard *acquired; /* leases just taken: start a worker for each */
    size_t n_acquired;
    size_t n_stolen; /* of the acquired: taken from another live consumer (DynamoDB store) */
    char (*lost)[RP_STREAM_SHARD_ID_MAX]; /* held leases now expired or owned by another */
    size_t n_lost;
    char (*release)[RP_STREAM_SHARD_ID_MAX]; /* held beyond the fair share: hand back */
    size_t n_release;
    size_t eligible;     /* shards that may be processed now (not ended, parents ended) */
    size_t live_workers; /* consumers of the group seen within the lease time */
    size_t held;         /* leases this consumer holds after the sync */
} rp__ckpt_plan;

void rp__ckpt_plan_free(rp__ckpt_plan *p);

/* Opens (creating the file, its parent directories and its schema) the
 * checkpoint store for one group's view of one source stream; owner names
 * this consumer process; lease_ms is how long a lease lives without
 * renewal.  RP_ERR_CORRUPT when the file belongs to something else. */
int rp__ckpt_open(const char *path, const char *group, const char *source, const char *owner,
                  int64_t lease_ms, rp__ckpt **out, rp_error *err);
void rp__ckpt_close(rp__ckpt *c);

/* The coordinator's periodic step, in one transaction: records this
 * consumer's heartbeat; adds a row for each listed shard not known yet
 * (start = initial_start when the group has no row for this source at all,
 * TRIM_HORIZON for shards found later: children of resharding); renews the
 * leases this consumer holds (held[0..n_held)); reports those it no longer
 * holds (expired, or taken); then takes free or expired leases of eligible
 * shards (not ended, every listed parent ended) up to the fair share,
 * ceil(eligible / live consumers), and names the held leases beyond it.
 * The caller frees the plan with rp__ckpt_plan_free. */
int rp__ckpt_sync(rp__ckpt *c, const rp_stream_shard *shards, size_t n_shards, const char *initial_start,
                  const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held, rp__ckpt_plan *plan,
                  rp_error *err);

/* Stores a checkpoint (and, when ended, marks the shard read to its end and
 * frees its lease) and renews the lease, if and only if this consumer still
 * owns an unexpired lease on the shard.  Returns 0 when stored, 1 when the
 * lease is lost (nothing stored), -1 on a database error. */
int rp__ckpt_commit(rp__ckpt *c, const char *shard_id, const char *sequence_number, bool ended,
                    rp_error *err);

/* Hands a lease back (owner cleared) if this consumer holds it. */
int rp__ckpt_release(rp__ckpt *c, const char *shard_id, rp_error *err);

/* Removes this consumer's heartbeat row (a clean exit). */
int rp__ckpt_leave(rp__ckpt *c, rp_error *err);

/* Reads one shard's row; returns 1 when found, 0 when not, -1 on error. */
int rp__ckpt_get(rp__ckpt *c, const char *shard_id, rp__ckpt_shard *out, char owner[RP_CKPT_OWNER_MAX],
                 int64_t *expires_ms, rp_error *err);

/* Epoch milliseconds (the clock leases use). */
int64_t rp__ckpt_now_ms(void);

#endif
