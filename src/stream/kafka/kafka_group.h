/* ridepred: a member of a Kafka consumer group (docs/kafka.md, "Consumer
 * groups"), for `consume --from kafka:TOPIC`.
 *
 * The cluster coordinates: the group protocol assigns the topic's
 * partitions to the members (cooperative-sticky: a rebalance moves only the
 * partitions that must move), and offsets are committed in the cluster.
 * This module is the thin layer between librdkafka's consumer and the
 * consumer's partition workers (src/consume/consumer.c):
 *  - rp__kafka_group_poll serves the group (heartbeats, rebalances) and
 *    calls back, in the polling thread, for partitions assigned and revoked;
 *    `revoked` must not return before the partitions' workers stopped and
 *    committed what they handled (the next owner starts there);
 *  - each assigned partition's messages go to a queue of its own, which one
 *    worker thread reads with rp__kafka_group_read;
 *  - rp__kafka_group_commit stores a partition's offset once a batch is
 *    handled; librdkafka commits what is stored, also when a partition
 *    leaves in a rebalance.
 *
 * Offsets are never stored automatically: only what the consumer stores
 * after a batch's predictions are acknowledged is committed (at least
 * once).  A partition without a committed offset starts at the start
 * position (earliest, latest or a time).
 *
 * Threads: poll, open and close in one thread (the coordinator); read and
 * commit from the workers, each on its own partition. */
#ifndef RP_STREAM_KAFKA_GROUP_H
#define RP_STREAM_KAFKA_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

typedef struct rp__kafka_group rp__kafka_group;

typedef struct rp__kafka_group_events {
    void *ctx;
    /* Partitions now this member's: start reading them. */
    void (*assigned)(void *ctx, const int32_t *partitions, size_t n);
    /* Partitions leaving this member: stop their workers, which commit what
     * they handled, and return once they stopped.  lost: the group already
     * gave them to another member (this one missed its session): commit
     * nothing. */
    void (*revoked)(void *ctx, const int32_t *partitions, size_t n, bool lost);
} rp__kafka_group_events;

typedef struct rp__kafka_group_config {
    const rp_stream_config *streams; /* brokers and properties */
    const char *topic;
    const char *group;          /* group.id */
    rp_stream_iterator start;   /* TRIM_HORIZON, LATEST or AT_TIMESTAMP: for partitions never committed */
    int64_t start_timestamp_ms; /* AT_TIMESTAMP */
    bool read_committed;        /* isolation.level=read_committed */
} rp__kafka_group_config;

/* Joins the group (subscribes; the first assignment comes through
 * rp__kafka_group_poll).  The events are copied. */
int rp__kafka_group_open(const rp__kafka_group_config *cfg, const rp__kafka_group_events *ev,
                         rp__kafka_group **out, rp_error *err);

/* Serves the group for up to timeout_ms.  Returns 0, or -1 when the
 * consumer failed fatally (err says why: it cannot go on). */
int rp__kafka_group_poll(rp__kafka_group *g, int timeout_ms, rp_error *err);

/* Reads up to limit messages (and about max_bytes of keys and values: at
 * least one message) of an assigned partition, waiting up to timeout_ms for
 * the first; cb sees each (shard_id = the partition,
 * sequence_number = the offset).  *lag_ms: 0 when the partition is read to
 * its end, else how old the last message read is.  A message taken from
 * librdkafka and not delivered (over the budget, or cb returned non-zero)
 * is kept and delivered first by the next read: none is lost.  Returns 0
 * when records were delivered or none came; -1 with err set when none
 * was (retriable when the cluster cannot be reached; RP_ERR_NOMEM when cb
 * failed). */
int rp__kafka_group_read(rp__kafka_group *g, int32_t partition, uint32_t limit, size_t max_bytes,
                         int timeout_ms, rp_stream_record_fn cb, void *ctx, int64_t *lag_ms, rp_error *err);

/* Records "the partition is handled up to and including offset" (offset
 * is a sequence number read from the partition): the offset is stored, and
 * librdkafka commits what is stored every auto.commit.interval.ms (100 ms
 * by default here) and as the partition leaves this member in a
 * rebalance, at the group's current generation.  Returns 0 stored, 1 the
 * partition is no longer this member's (nothing stored), -1 with err set. */
int rp__kafka_group_commit(rp__kafka_group *g, int32_t partition, const char *offset, rp_error *err);

/* Moves an assigned partition's reading back to its committed offset (the
 * start position when none), dropping what was fetched past it: for a
 * worker that starts on a partition another worker of this process read
 * and stopped without handling everything.  0, or -1 with err set. */
int rp__kafka_group_rewind(rp__kafka_group *g, int32_t partition, rp_error *err);

/* ---- Exactly once: a transactional producer per partition --------------
 *
 * consume-transform-produce as Kafka transactions make it exactly once
 * (docs/kafka.md, "Exactly once"): the predictions of a batch and the
 * partition's consumer offset are committed in one transaction, so a
 * read_committed reader sees each prediction once, even across kill -9.
 * One producer per input partition, its transactional.id derived from the
 * group, topic and partition: the next owner of the partition (after a
 * rebalance or a crash) opens the same id, which fences the previous owner
 * and aborts what it left open. */
typedef struct rp__kafka_txn rp__kafka_txn;

/* Opens the partition's transactional producer and initialises its
 * transactions (fencing any earlier producer of the same partition).
 * Returns 0, or -1 with err set (retriable when the cluster is away). */
int rp__kafka_txn_open(rp__kafka_group *g, int32_t partition, rp__kafka_txn **out, rp_error *err);

/* Produces n records to topic inside the open transaction (beginning one
 * when none is), waiting for each's acknowledgement (results[i]).
 * Returns 0, or -1 when the transaction must be aborted (err says why). */
int rp__kafka_txn_put(rp__kafka_txn *t, const char *topic, const rp_stream_entry *entries, size_t n,
                      rp_stream_put_result *results, rp_error *err);

/* Adds "the partition is handled up to and including offset" to the
 * transaction (beginning one when none is) and commits it.  Returns 0
 * committed; 1 when the transaction was aborted or this producer was
 * fenced (nothing of it is visible: the caller reads again from the
 * committed offset); -1 with err set when the outcome is not known yet
 * (retriable: call again). */
int rp__kafka_txn_commit(rp__kafka_txn *t, const char *offset, rp_error *err);

/* Aborts the open transaction, if any, and closes.  NULL is ignored. */
void rp__kafka_txn_close(rp__kafka_txn *t);

/* Leaves the group: the last revocation runs through the events (so the
 * workers commit), then the consumer closes.  NULL is ignored. */
void rp__kafka_group_close(rp__kafka_group *g);

#endif
