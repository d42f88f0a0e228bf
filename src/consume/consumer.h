/* The stream consumer: what Lambda's Kinesis event source mapping does, in
 * one process (docs/consumer.md; docs/architecture.md draws the path).
 *
 * A coordinator thread lists the source stream's shards, takes shard leases
 * in the checkpoint store (src/consume/checkpoint.h) and runs one worker
 * thread per leased shard.  A worker reads its shard in order, builds
 * Lambda-shaped Kinesis events of up to batch_size records (and at most the
 * handler's 6 MiB event limit), runs them through a handler that publishes
 * nothing, publishes the predictions itself, and checkpoints once the batch
 * is handled: every prediction stored, or the record dead-lettered after
 * its retries.  Records the handler refuses (their fault) move the
 * checkpoint to just before the lowest of them and the batch is retried
 * from there; a function error fails the whole batch (bisected when
 * asked).  An unavailable stream or checkpoint store (not the records'
 * fault) stalls the shard, retried with backoff for as long as it takes:
 * only --max-record-age drops a record then.  A closed shard is read to
 * its end before its children start.  Delivery is at least once. */
#ifndef RP_CONSUME_CONSUMER_H
#define RP_CONSUME_CONSUMER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "function/function.h"
#include "monitor/live.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

#define RP_CONSUME_BATCH_MAX 10000       /* Lambda's maximum for Kinesis */
#define RP_CONSUME_WINDOW_MS_MAX 300000  /* Lambda's MaximumBatchingWindowInSeconds: 300 */
#define RP_CONSUME_CKPT_MS_MAX 600000    /* --checkpoint-interval-ms: 10 minutes */
#define RP_CONSUME_RETRIES_MAX 10000     /* Lambda's MaximumRetryAttempts */
#define RP_CONSUME_RECORD_AGE_MAX 604800 /* Lambda's MaximumRecordAgeInSeconds: 7 days */
#define RP_CONSUME_IN_FLIGHT_MAX 16
#define RP_CONSUME_IN_FLIGHT_DEFAULT 4

typedef struct rp__consumer_config {
    const char *from;              /* the source stream spec (rp_stream_parse_name) */
    const char *dead_letter;       /* the dead-letter stream spec, or NULL */
    rp_stream_config streams;      /* backend choice for both */
    rp__function *function;        /* opened by the caller; publishes to the output stream */
    uint32_t batch_size;           /* 1..RP_CONSUME_BATCH_MAX */
    uint32_t batch_window_ms;      /* 0: invoke as soon as records are read */
    uint32_t ckpt_interval_ms;     /* --checkpoint-interval-ms (not Kafka): a shard's checkpoint
                                      written at most this often, the latest deferred until then,
                                      when idle, or the stop / hand-over; 0: after every batch */
    rp_stream_iterator start_type; /* TRIM_HORIZON, LATEST or AT_TIMESTAMP */
    int64_t start_timestamp_ms;    /* AT_TIMESTAMP */
    int32_t max_retries;           /* retries of records the handler refuses; -1: forever */
    int32_t max_record_age_s;      /* drop records older than this (seconds); -1: never */
    bool bisect_on_error;
    bool exactly_once;            /* Kafka -> Kafka: transactions (docs/kafka.md) */
    uint32_t max_in_flight;       /* Kafka output: batches per shard whose predictions may await
                                     their acknowledgements while the next are handled
                                     (docs/kafka.md); 0: RP_CONSUME_IN_FLIGHT_DEFAULT, 1: none */
    const char *group;            /* NULL: the output stream spec */
    const char *checkpoint_store; /* checkpoints and leases: a SQLite file's path, or "dynamodb:TABLE"
                                     (src/consume/lease_store.h); required unless the source is Kafka */
    const char *event_region;     /* awsRegion of the events (Kinesis source); NULL: us-east-1 */
    uint32_t lease_ms;            /* 0: 10000 */
    uint32_t max_steal;           /* DynamoDB store: leases taken from busy consumers per sync; 0: 1 */
    uint32_t poll_ms;             /* idle poll per shard; 0: 10 (local), 250 (Kinesis) */
    uint32_t log_interval_ms;     /* summary log; 0: 5000 */
    const char *metrics_listen;   /* HOST:PORT, or NULL */
    /* Monitoring while serving (src/monitor/live.h), or NULL: off.  The
     * consumer sets its source ("consume") and metrics registry; the rides
     * of each batch are recorded once handled (a batch retried after a
     * refused record records the records before it once, and the others
     * when they are handled; at least once, as the predictions). */
    const rp__monitor_live_config *monitor;
} rp__consumer_config;

/* Counters since start, for the summary log and the metrics endpoint. */
typedef struct rp__consumer_stats {
    uint64_t records_read, records_handled, predictions_published, batches, invocations, item_failures,
        function_errors, retries, dead_lettered, discarded, checkpoints, leases_lost, expired, stall_retries,
        leases_taken, leases_stolen, lease_requests, lease_throttles;
    int64_t millis_behind_latest; /* the largest over the shards held */
    int64_t iterator_age_ms;      /* the largest over the shards held; grows while stalled */
    uint32_t shards_held;
    uint32_t shards_stalled; /* waiting for a stream or the checkpoint store */
} rp__consumer_stats;

typedef struct rp__consumer rp__consumer;

/* Checks the streams (the source, the output, the dead-letter stream exist)
 * and the checkpoint store; errors say what to fix. */
int rp__consumer_new(const rp__consumer_config *cfg, rp__consumer **out, rp_error *err);
void rp__consumer_free(rp__consumer *c);

/* Runs until *stop becomes non-zero (a signal handler sets it): then every
 * worker finishes the batch in hand, checkpoints and hands its lease back.
 * Returns 0 after a clean stop, -1 when the consumer could not run. */
int rp__consumer_run(rp__consumer *c, volatile sig_atomic_t *stop, rp_error *err);

void rp__consumer_get_stats(rp__consumer *c, rp__consumer_stats *out);

#endif
