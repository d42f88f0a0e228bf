/* The stream consumer (see consumer.h and docs/consumer.md). */
#include "consume/consumer.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/pyjson.h"
#include "common/retry.h"
#include "consume/lease_store.h"
#include "function/event.h"
#include "monitor/dashboard.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"
#include "stream/kafka/kafka.h"
#include "stream/kafka/kafka_group.h"

#define LEASE_MS_DEFAULT 10000
#define LOG_MS_DEFAULT 5000
/* Waits between attempts: 100 ms doubling to 5 s (the attempts count is
 * unused: the consumer retries as long as it must). */
static const rp__retry_policy backoff = {0, 100, 5000};
/* Read no further ahead than one full event's worth of raw record bytes. */
#define ARENA_READ_LIMIT RP_EVENT_MAX_BYTES
/* A page holds at most 10 MiB (both backends); with what is pending, the
 * arena stays under this cap. */
#define ARENA_MAX ((size_t)24 * 1024 * 1024)
#define SPLIT_STACK_MAX 64

/* One record read and not yet checkpointed, in the worker's arena. */
typedef struct rec {
    size_t off; /* seq NUL pk NUL data, at arena.data + off */
    uint32_t seq_len;
    uint32_t pk_len;
    size_t data_len;
    int64_t arrival_ms;
} rec;

typedef struct shard_worker shard_worker;

/* A batch of the pipeline: its predictions' put, how many records of the
 * arena it covers, and the last one's sequence number (its commit). */
typedef struct in_flight {
    rp__kafka_put_call *call;
    size_t k;
    char seq[RP_STREAM_SEQ_MAX];
    rp__buf preds; /* the predictions, which librdkafka points at until answered */
} in_flight;

/* Counters, in the metrics registry (rendered by --metrics-listen). */
typedef struct stats {
    rp__counter *records_read, *records_handled, *published, *batches, *invocations, *item_failures,
        *function_errors, *retries, *dead_lettered, *discarded, *expired, *stall_retries, *checkpoints,
        *leases_lost, *leases_taken, *leases_stolen, *lease_requests, *lease_throttles;
    rp__gauge *behind, *iterator_age, *shards_held, *shards_stalled, *workers_live;
    rp__histogram *invoke_seconds;
} stats;

struct rp__consumer {
    rp__consumer_config cfg;
    rp_stream_backend in_backend, dl_backend;
    char in_name[RP_STREAM_NAME_MAX + 1], dl_name[RP_STREAM_NAME_MAX + 1];
    char source[RP_STREAM_NAME_MAX + 16];
    char group[512];
    rp__lease_store *store; /* checkpoints and leases (not for a Kafka source) */
    char owner[RP_CKPT_OWNER_MAX];
    char initial_start[RP_CKPT_START_MAX];
    char out_spec[RP_STREAM_NAME_MAX + 16];
    rp__event_source source_fields; /* what every event record repeats after its eventID */
    uint32_t lease_ms, poll_ms, log_ms, sync_ms;
    atomic_bool stop;
    rp__metrics *metrics;
    stats st;
    rp__monitor_live *live; /* monitoring, or NULL */
    pthread_mutex_t mu;     /* guards workers (list) */
    shard_worker *workers;
    /* A Kafka source: the group assigns partitions (no checkpoint store). */
    rp__kafka_group *kg;
    char bootstrap[1024]; /* the events' bootstrapServers */
    int32_t *assigned;    /* the partitions the group gave this member (coordinator thread) */
    size_t n_assigned, cap_assigned;
};

struct shard_worker {
    shard_worker *next;
    rp__consumer *c;
    rp__ckpt_shard row;
    int32_t partition; /* a Kafka source's partition */
    bool rewind;       /* Kafka: another worker read this partition before: start at its committed offset */
    pthread_t thread;
    atomic_bool done, lost, release;
    /* Read by the coordinator for the gauges. */
    atomic_llong behind_ms;   /* MillisBehindLatest of the last read that worked */
    atomic_llong read_ok_ms;  /* when that read was (monotonic ms) */
    atomic_bool read_failing; /* reads fail since then */
    atomic_llong oldest_ms;   /* arrival (epoch ms) of the oldest record not checkpointed; 0: none */
    atomic_bool stalled;      /* waiting for the infrastructure (streams, store) to come back */
    /* Thread-owned state. */
    rp_stream_conn *in, *dl, *out;
    const char *out_name; /* the predictions stream's name, owned by the function */
    rp_handler *h;        /* publishes nothing: the worker publishes (publish_until_stored) */
    rp__lease *ckpt;
    rp__kafka_txn *txn; /* --exactly-once: predictions and offsets in one transaction */
    uint64_t rng;       /* backoff jitter */
    char iter[RP_STREAM_ITER_MAX];
    char read_seq[RP_STREAM_SEQ_MAX]; /* the last record read into the arena */
    rp__buf arena;
    rec *recs;
    size_t n, cap;
    bool oom;
    rp__buf event;
    size_t *todo; /* outcomes still to publish (publish_until_stored) */
    /* A batch's predictions, put in one call (the backend chunks them as
     * its API wants: a Kafka producer takes them all at once). */
    rp_stream_entry *put;
    rp_stream_put_result *put_res;
    /* The pipeline (a Kafka output, --max-in-flight > 1): batches whose
     * predictions are queued to the cluster and not yet all acknowledged,
     * oldest first.  Their records stay at the front of the arena (the
     * first `sent`) until the batch is acknowledged and committed. */
    rp__kafka *out_kafka; /* w->out's Kafka connection when the pipeline is on */
    in_flight *pipe;
    size_t pipe_n, pipe_cap, sent;
    bool careful; /* a batch of the pipeline failed: the next goes the careful way */
    /* --checkpoint-interval-ms: the latest checkpoint not yet written
     * ("" none) and when the last one was written (monotonic ms). */
    char deferred[RP_STREAM_SEQ_MAX];
    int64_t ckpt_ms;
};

/* ---- small helpers -------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(const shard_worker *w)
{
    return atomic_load(&w->c->stop) || atomic_load(&w->release) || atomic_load(&w->lost);
}

/* Sleeps up to ms, waking early when the worker must stop.  Returns true
 * when it must. */
static bool nap(const shard_worker *w, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        if (stopping(w))
            return true;
        int64_t left = end - mono_ms();
        if (left <= 0)
            return false;
        if (left > 20)
            left = 20;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wait before attempt n + 1: "equal jitter" over the retry policy's
 * ceiling (src/aws/http.h), half of it plus a random part of the other
 * half, so that workers stalled by one outage do not come back in step and
 * a stalled shard never spins. */
static int64_t backoff_ms(shard_worker *w, int attempt)
{
    uint32_t ceiling = rp__retry_ceiling_ms(&backoff, (unsigned)attempt);
    return ceiling / 2 + (int64_t)(rp__retry_random(&w->rng) % (ceiling / 2 + 1));
}

/* An infrastructure failure: the shard stalls (gauge), one log line per
 * backoff step says why, and the worker waits.  Returns true when it must
 * stop instead (then nothing past the failure is checkpointed). */
static bool stall(shard_worker *w, int attempt, const char *what, const char *error)
{
    int64_t ms = backoff_ms(w, attempt);
    atomic_store(&w->stalled, true);
    rp__counter_add(w->c->st.stall_retries, 1);
    char att[16], wait[24];
    snprintf(att, sizeof att, "%d", attempt);
    snprintf(wait, sizeof wait, "%lld", (long long)ms);
    rp_log(RP_LOG_WARN, what, "shard", w->row.shard_id, "error", error, "attempt", att, "retry_in_ms", wait,
           NULL);
    return nap(w, ms);
}

static void unstall(shard_worker *w, int attempts, const char *what)
{
    atomic_store(&w->stalled, false);
    if (attempts > 0) {
        char att[16];
        snprintf(att, sizeof att, "%d", attempts);
        rp_log(RP_LOG_INFO, what, "shard", w->row.shard_id, "failed_attempts", att, NULL);
    }
}

static const char *rec_seq(const shard_worker *w, size_t i)
{
    return w->arena.data + w->recs[i].off;
}

static const char *rec_pk(const shard_worker *w, size_t i)
{
    return w->arena.data + w->recs[i].off + w->recs[i].seq_len + 1;
}

static const unsigned char *rec_data(const shard_worker *w, size_t i)
{
    return (const unsigned char *)w->arena.data + w->recs[i].off + w->recs[i].seq_len + 1 +
           w->recs[i].pk_len + 1;
}

static void u64s(char *buf, size_t cap, uint64_t v)
{
    snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* ---- reading ---------------------------------------------------------------- */

static int on_record(void *ctx, const rp_stream_record *r)
{
    shard_worker *w = ctx;
    size_t sl = strlen(r->sequence_number);
    rec *nr = rp__array_grow(w->recs, w->n, &w->cap, sizeof *w->recs, 256);
    if (!nr) {
        w->oom = true;
        return -1;
    }
    w->recs = nr;
    size_t off = w->arena.len;
    rp__buf_append(&w->arena, r->sequence_number, sl + 1);
    rp__buf_append(&w->arena, r->partition_key, r->partition_key_len);
    rp__buf_putc(&w->arena, '\0');
    rp__buf_append(&w->arena, r->data, r->data_len);
    if (w->arena.failed) {
        w->oom = true;
        return -1;
    }
    w->recs[w->n++] = (rec){.off = off,
                            .seq_len = (uint32_t)sl,
                            .pk_len = (uint32_t)r->partition_key_len,
                            .data_len = r->data_len,
                            .arrival_ms = r->arrival_ms};
    if (sl >= sizeof w->read_seq) /* the stream backends keep them shorter */
        sl = sizeof w->read_seq - 1;
    memcpy(w->read_seq, r->sequence_number, sl);
    w->read_seq[sl] = '\0';
    return 0;
}

/* Cuts the arena back to its first n records (a read that failed part way
 * left more, or half a record). */
static void arena_truncate(shard_worker *w, size_t n)
{
    w->n = n;
    w->arena.len = n ? w->recs[n - 1].off + w->recs[n - 1].seq_len + 1 + w->recs[n - 1].pk_len + 1 +
                           w->recs[n - 1].data_len
                     : 0;
    if (w->arena.data)
        w->arena.data[w->arena.len] = '\0';
    w->arena.failed = false;
}

/* Drops the first k records of the arena (handled). */
static void arena_drop(shard_worker *w, size_t k)
{
    if (k >= w->n) {
        w->n = 0;
        rp__buf_reset(&w->arena);
        return;
    }
    size_t base = w->recs[k].off;
    memmove(w->arena.data, w->arena.data + base, w->arena.len - base);
    w->arena.len -= base;
    w->arena.data[w->arena.len] = '\0';
    memmove(w->recs, w->recs + k, (w->n - k) * sizeof *w->recs);
    w->n -= k;
    for (size_t i = 0; i < w->n; i++)
        w->recs[i].off -= base;
}

static int make_iterator(shard_worker *w, rp_error *err)
{
    rp__consumer *c = w->c;
    const char *seq = w->read_seq[0] ? w->read_seq : w->row.checkpoint;
    if (seq[0])
        return rp_stream_get_iterator(w->in, c->in_name, w->row.shard_id,
                                      !w->read_seq[0] && w->row.at_checkpoint
                                          ? RP_STREAM_AT_SEQUENCE_NUMBER
                                          : RP_STREAM_AFTER_SEQUENCE_NUMBER,
                                      seq, 0, w->iter, err);
    rp_stream_iterator t = RP_STREAM_TRIM_HORIZON;
    int64_t ts = 0;
    if (!strcmp(w->row.start, "LATEST")) {
        t = RP_STREAM_LATEST;
    } else if (!strncmp(w->row.start, "AT_TIMESTAMP:", 13)) {
        t = RP_STREAM_AT_TIMESTAMP;
        ts = strtoll(w->row.start + 13, NULL, 10);
    }
    return rp_stream_get_iterator(w->in, c->in_name, w->row.shard_id, t, NULL, ts, w->iter, err);
}

/* ---- events ------------------------------------------------------------------- */

/* Record i of the arena as the event codec takes it. */
static rp__event_record event_record(const shard_worker *w, size_t i)
{
    const rec *r = &w->recs[i];
    return (rp__event_record){.sequence_number = rec_seq(w, i),
                              .sequence_number_len = r->seq_len,
                              .partition_key = rec_pk(w, i),
                              .partition_key_len = r->pk_len,
                              .data = rec_data(w, i),
                              .data_len = r->data_len,
                              .arrival_ms = r->arrival_ms};
}

/* Record i as a record of Lambda's Kafka event (a Kafka source). */
static rp__event_kafka_record kafka_record(const shard_worker *w, size_t i)
{
    const rec *r = &w->recs[i];
    return (rp__event_kafka_record){.offset = strtoll(rec_seq(w, i), NULL, 10),
                                    .timestamp_ms = r->arrival_ms,
                                    .key = r->pk_len ? (const unsigned char *)rec_pk(w, i) : NULL,
                                    .key_len = r->pk_len,
                                    .value = rec_data(w, i),
                                    .value_len = r->data_len};
}

/* How many records from base on make one event: batch_size at most, and
 * under the handler's event limit (at least one). */
static size_t batch_prefix(const shard_worker *w, size_t base)
{
    const rp__consumer *c = w->c;
    size_t k = 0, sl = strlen(w->row.shard_id), tl = strlen(c->in_name);
    size_t total =
        c->kg ? rp__event_kafka_envelope_bound(0, strlen(c->bootstrap), tl) : RP_EVENT_ENVELOPE_BYTES;
    while (base + k < w->n && k < c->cfg.batch_size) {
        size_t b;
        if (c->kg) {
            rp__event_kafka_record kr = kafka_record(w, base + k);
            b = rp__event_kafka_record_bound(tl, &kr);
        } else {
            rp__event_record r = event_record(w, base + k);
            b = rp__event_record_bound(&c->source_fields, &r, sl);
        }
        if (k > 0 && total + b > RP_EVENT_MAX_BYTES)
            break;
        total += b;
        k++;
    }
    return k;
}

/* The Lambda-shaped event of records [lo, hi) into b (docs/consumer.md):
 * a Kinesis event, or for a Kafka source the self-managed Kafka event
 * Lambda's Kafka event source mapping sends (one topic-partition). */
static int build_event(shard_worker *w, rp__buf *b, size_t lo, size_t hi)
{
    const rp__consumer *c = w->c;
    if (c->kg) {
        rp__event_kafka_begin(b, NULL, c->bootstrap);
        rp__event_kafka_partition(b, c->in_name, w->partition, true);
        for (size_t i = lo; i < hi; i++) {
            rp__event_kafka_record r = kafka_record(w, i);
            rp__event_kafka_append(b, c->in_name, w->partition, &r, i == lo);
        }
        rp__event_kafka_partition_end(b);
        rp__event_kafka_end(b);
        return b->failed ? -1 : 0;
    }
    rp__event_begin(b);
    for (size_t i = lo; i < hi; i++) {
        rp__event_record r = event_record(w, i);
        rp__event_append(b, &w->c->source_fields, w->row.shard_id, &r, i == lo);
    }
    rp__event_end(b);
    return b->failed ? -1 : 0;
}

/* ---- checkpoints and dead letters ------------------------------------------- */

/* Returns 0 stored, 1 the worker must stop (lease lost, or stopping while
 * the store stays unwritable). */
static int commit(shard_worker *w, const char *seq, bool ended)
{
    rp__consumer *c = w->c;
    /* --checkpoint-interval-ms (checkpoint stores only): a checkpoint
     * within the interval of the last one written waits in w->deferred
     * (flush_deferred writes it); SHARD_END is never deferred. */
    if (!w->txn && !c->kg && c->cfg.ckpt_interval_ms && !ended) {
        if (mono_ms() - w->ckpt_ms < (int64_t)c->cfg.ckpt_interval_ms) {
            snprintf(w->deferred, sizeof w->deferred, "%s", seq);
            return 0;
        }
    }
    for (int attempt = 1;; attempt++) {
        rp_error err;
        int r = w->txn  ? rp__kafka_txn_commit(w->txn, seq, &err)
                : c->kg ? rp__kafka_group_commit(c->kg, w->partition, seq, &err)
                        : rp__lease_commit(w->ckpt, w->row.shard_id, seq, ended, &err);
        if (r == 1 && w->txn) {
            /* Aborted or fenced: nothing of the transaction is visible.
             * The worker stops; if the partition is still this member's, a
             * new one reads again from the committed offset. */
            atomic_store(&w->lost, true);
            rp_log(RP_LOG_WARN, "transaction aborted; the partition is read again from its committed offset",
                   "partition", w->row.shard_id, "error", err.msg, NULL);
            return 1;
        }
        if (r == 0) {
            w->deferred[0] = '\0';
            w->ckpt_ms = mono_ms();
            rp__counter_add(c->st.checkpoints, 1);
            if (attempt > 1)
                unstall(w, attempt - 1, "checkpoint written again; the shard goes on");
            return 0;
        }
        if (r == 1) {
            if (!atomic_exchange(&w->lost, true))
                rp__counter_add(c->st.leases_lost, 1);
            rp_log(
                RP_LOG_WARN,
                "lease lost: another consumer owns the shard or the lease expired; stopping this shard's worker",
                "shard", w->row.shard_id, NULL);
            return 1;
        }
        bool must_stop =
            stall(w, attempt, "cannot write the checkpoint; the shard waits and retries", err.msg);
        if (must_stop && !atomic_load(&w->release) && !atomic_load(&w->c->stop))
            return 1;
        if (atomic_load(&w->c->stop) && attempt >= 3)
            return 1;
    }
}

/* Writes the checkpoint --checkpoint-interval-ms deferred, when there is
 * one and (unless `now`) its interval has passed.  Returns commit's answer
 * (0 also when there was nothing to write). */
static int flush_deferred(shard_worker *w, bool now)
{
    if (!w->deferred[0] || atomic_load(&w->lost))
        return 0;
    if (!now && mono_ms() - w->ckpt_ms < (int64_t)w->c->cfg.ckpt_interval_ms)
        return 0;
    char seq[RP_STREAM_SEQ_MAX];
    memcpy(seq, w->deferred, sizeof seq);
    w->ckpt_ms = 0; /* due: commit writes it */
    return commit(w, seq, false);
}

/* A dead letter's first fields: {"stream": ..., "shard": "...",
 * "sequenceNumber": "..." (the object left open). */
static void dead_letter_head(rp__buf *d, const shard_worker *w, size_t i)
{
    rp__buf_lit(d, "{\"stream\": ");
    rp__pyjson_utf8(d, w->c->source, strlen(w->c->source));
    rp__buf_lit(d, ", \"shard\": \"");
    rp__buf_puts(d, w->row.shard_id);
    rp__buf_lit(d, "\", \"sequenceNumber\": \"");
    rp__buf_append(d, rec_seq(w, i), w->recs[i].seq_len);
    rp__buf_putc(d, '"');
}

/* Whether record i of [lo, hi) goes to the dead letters: every record
 * when the function failed as a whole (o NULL), else the ones the handler
 * refused (o[i - lo]). */
/* A dead letter without the record's data (too large to carry in
 * base64): the metadata and why the data is not there, into d. */
static void dead_letter_omitted(rp__buf *d, const shard_worker *w, size_t i, const char *att, const char *why)
{
    rp__buf_reset(d);
    dead_letter_head(d, w, i);
    rp__buf_lit(d, ", \"attempts\": ");
    rp__buf_puts(d, att);
    rp__buf_lit(d, ", \"reason\": ");
    rp__pyjson_utf8(d, why, strlen(why));
    rp__buf_lit(
        d,
        ", \"data_omitted\": \"the record is too large to carry in base64: read it from the source stream by its sequence number\"}");
}

static bool refused(const rp_record_outcome *o, size_t lo, size_t i)
{
    return !o || o[i - lo].status == RP_RECORD_REFUSED;
}

/* Why record i failed, for its log line and dead letter. */
static const char *failure_reason(const rp_record_outcome *o, size_t lo, size_t i, const char *fn_reason,
                                  char *buf, size_t cap)
{
    if (!o)
        return fn_reason;
    snprintf(buf, cap, "the handler refused the record: %s", o[i - lo].reason ? o[i - lo].reason : "");
    return buf;
}

/* Sends the failed records of [lo, hi) (see refused) to the dead-letter
 * stream, or logs and discards them without one.  The dead-letter stream
 * is retried until it takes them.  Returns 0, or 1 when the worker must
 * stop before they are all stored. */
static int dead_letter(shard_worker *w, size_t lo, size_t hi, const rp_record_outcome *o,
                       const char *fn_reason, int attempts)
{
    rp__consumer *c = w->c;
    size_t n = 0;
    char whybuf[RP_ERROR_MSG_MAX + 64];
    for (size_t i = lo; i < hi; i++)
        if (refused(o, lo, i))
            n++;
    if (!n)
        return 0;
    char att[16];
    snprintf(att, sizeof att, "%d", attempts);
    if (!w->dl) {
        for (size_t i = lo; i < hi; i++) {
            if (!refused(o, lo, i))
                continue;
            const char *why = failure_reason(o, lo, i, fn_reason, whybuf, sizeof whybuf);
            rp_log(RP_LOG_ERROR, "record discarded after its retries (no --dead-letter stream)", "shard",
                   w->row.shard_id, "sequence_number", rec_seq(w, i), "attempts", att, "reason", why, NULL);
            rp__counter_add(c->st.discarded, 1);
        }
        return 0;
    }
    rp__buf *docs = calloc(n, sizeof *docs);
    rp_stream_entry *e = calloc(n, sizeof *e);
    rp_stream_put_result *res = calloc(n, sizeof *res);
    bool *done = calloc(n, sizeof *done), *omitted = calloc(n, sizeof *omitted), retry_now = false;
    size_t *idx = calloc(n, sizeof *idx); /* the record of each dead letter */
    int rc = 1;
    if (!docs || !e || !res || !done || !omitted || !idx)
        goto out;
    size_t j = 0;
    char ts[64];
    for (size_t i = lo; i < hi; i++) {
        if (!refused(o, lo, i))
            continue;
        const rec *r = &w->recs[i];
        const char *why = failure_reason(o, lo, i, fn_reason, whybuf, sizeof whybuf);
        rp__buf *d = &docs[j];
        rp__buf_init(d, RP_STREAM_RECORD_MAX * 2);
        dead_letter_head(d, w, i);
        rp__buf_lit(d, ", \"partitionKey\": ");
        rp__pyjson_utf8(d, rec_pk(w, i), r->pk_len);
        snprintf(ts, sizeof ts, ", \"approximateArrivalTimestamp\": %lld.%03lld",
                 (long long)(r->arrival_ms / 1000), (long long)(r->arrival_ms % 1000));
        rp__buf_puts(d, ts);
        rp__buf_lit(d, ", \"attempts\": ");
        rp__buf_puts(d, att);
        rp__buf_lit(d, ", \"reason\": ");
        rp__pyjson_utf8(d, why, strlen(why));
        rp__buf_lit(d, ", \"group\": ");
        rp__pyjson_utf8(d, c->group, strlen(c->group));
        rp__buf_lit(d, ", \"data\": \"");
        if (rp__buf_grow(d, RP_BASE64_ENCODED_LEN(r->data_len) + 1) == 0) {
            d->len += rp__base64_encode(rec_data(w, i), r->data_len, d->data + d->len);
            d->data[d->len] = '\0';
        }
        rp__buf_lit(d, "\"}");
        if (d->failed)
            goto out;
        /* A record of 1 MiB grows by a third in base64: past Kinesis's
         * limit, the dead letter keeps the metadata and says so. */
        if (d->len + r->pk_len > RP_STREAM_RECORD_MAX) {
            dead_letter_omitted(d, w, i, att, why);
            omitted[j] = true;
        }
        idx[j] = i;
        e[j] = (rp_stream_entry){.data = d->data,
                                 .data_len = d->len,
                                 .partition_key = rec_pk(w, i),
                                 .partition_key_len = r->pk_len};
        j++;
    }
    for (int attempt = 1;; attempt++) {
        rp_stream_entry send[RP_STREAM_PUT_BATCH_MAX];
        rp_stream_put_result got[RP_STREAM_PUT_BATCH_MAX];
        size_t map[RP_STREAM_PUT_BATCH_MAX];
        size_t left = 0;
        for (size_t x = 0; x < n;) {
            size_t m = 0;
            for (; x < n && m < RP_STREAM_PUT_BATCH_MAX; x++)
                if (!done[x]) {
                    send[m] = e[x];
                    map[m++] = x;
                }
            if (!m)
                break;
            rp_error err;
            rp_stream_put(w->dl, c->dl_name, send, m, got, &err);
            for (size_t y = 0; y < m; y++) {
                size_t k = map[y];
                if (got[y].ok) {
                    done[k] = true;
                    rp__counter_add(c->st.dead_lettered, 1);
                    continue;
                }
                res[k] = got[y];
                left++;
                if (got[y].too_large && !omitted[k]) {
                    /* Under our cap but over the stream's own (a Kafka
                     * topic's message.max.bytes): the metadata goes, at
                     * once, without the data. */
                    size_t i = idx[k];
                    dead_letter_omitted(&docs[k], w, i, att,
                                        failure_reason(o, lo, i, fn_reason, whybuf, sizeof whybuf));
                    if (docs[k].failed)
                        goto out;
                    e[k].data = docs[k].data;
                    e[k].data_len = docs[k].len;
                    omitted[k] = true;
                    retry_now = true;
                }
            }
        }
        if (!left) {
            unstall(w, attempt - 1, "the dead-letter stream took the records; the shard goes on");
            rc = 0;
            break;
        }
        if (retry_now) {
            retry_now = false;
            attempt--;
            continue;
        }
        char why[400] = "";
        for (size_t x = 0; x < n; x++)
            if (!done[x]) {
                rp_stream_put_reason(&res[x], why, sizeof why);
                break;
            }
        if (stall(w, attempt, "the dead-letter stream did not take records; the shard waits and retries",
                  why))
            break;
    }
out:
    if (docs)
        for (size_t x = 0; x < n; x++)
            rp__buf_cleanup(&docs[x]);
    free(docs);
    free(e);
    free(res);
    free(done);
    free(omitted);
    free(idx);
    return rc;
}

/* ---- one batch ---------------------------------------------------------------- */

typedef struct seg {
    size_t lo, hi;
    int attempts;
} seg;

static bool exhausted(const rp__consumer *c, int attempts)
{
    return c->cfg.max_retries >= 0 && attempts > c->cfg.max_retries;
}

/* Whether record i is older than --max-record-age. */
static bool expired(const shard_worker *w, size_t i, int64_t now_ms)
{
    int64_t age = w->c->cfg.max_record_age_s;
    return age >= 0 && w->recs[i].arrival_ms < now_ms - age * 1000;
}

static void log_expired(shard_worker *w, size_t i, const char *what)
{
    rp__counter_add(w->c->st.expired, 1);
    char age[24];
    snprintf(age, sizeof age, "%lld", (long long)(wall_ms() - w->recs[i].arrival_ms));
    rp_log(RP_LOG_WARN, what, "shard", w->row.shard_id, "sequence_number", rec_seq(w, i), "age_ms", age,
           NULL);
}

/* Drops the records at the front of s older than --max-record-age (each
 * logged and counted) and checkpoints past them.  Arrival times grow along
 * a shard, so the first young record ends the search.  0, or 1 when the
 * worker must stop. */
static int expire_front(shard_worker *w, seg *s)
{
    if (w->c->cfg.max_record_age_s < 0)
        return 0;
    int64_t now = wall_ms();
    size_t lo = s->lo;
    while (s->lo < s->hi && expired(w, s->lo, now))
        log_expired(w, s->lo++, "record dropped: older than --max-record-age");
    if (s->lo == lo)
        return 0;
    rp__counter_add(w->c->st.records_handled, s->lo - lo);
    return commit(w, rec_seq(w, s->lo - 1), false) != 0;
}

/* Publishes the predictions of the served records among o[a, b) (records
 * base + a ... of the arena) and waits until the output stream has taken
 * every one.  An output stream that is missing, throttled or unreachable
 * is not the records' fault: the shard stalls and retries, with backoff,
 * as long as it takes; only --max-record-age drops a prediction here.
 * Predictions the stream refused are put again, the others not.  Returns
 * 0, or 1 when the worker must stop first (then nothing past them is
 * checkpointed). */
static int publish_until_stored(shard_worker *w, const rp_record_outcome *o, size_t base, size_t a, size_t b)
{
    rp__consumer *c = w->c;
    size_t *todo = w->todo, n = 0;
    for (size_t i = a; i < b; i++)
        if (o[i].status == RP_RECORD_SERVED)
            todo[n++] = i;
    for (int attempt = 0;;) {
        size_t kept = 0;
        char why[400] = "";
        for (size_t x = 0; x < n;) {
            size_t k = n - x < c->cfg.batch_size ? n - x : c->cfg.batch_size;
            for (size_t j = 0; j < k; j++) {
                const rp_record_outcome *e = &o[todo[x + j]];
                w->put[j] = (rp_stream_entry){e->prediction, e->prediction_len, e->partition_key,
                                              e->partition_key_len};
            }
            rp_error err;
            if (w->txn) {
                if (rp__kafka_txn_put(w->txn, w->out_name, w->put, k, w->put_res, &err) < 0) {
                    /* The transaction is aborted with every prediction in it. */
                    atomic_store(&w->lost, true);
                    rp_log(RP_LOG_WARN,
                           "cannot publish in the transaction; it is aborted and the partition is read again "
                           "from its committed offset",
                           "partition", w->row.shard_id, "error", err.msg, NULL);
                    return 1;
                }
            } else {
                rp_stream_put(w->out, w->out_name, w->put, k, w->put_res, &err);
            }
            size_t ok = 0;
            for (size_t j = 0; j < k; j++) {
                if (w->put_res[j].ok) {
                    ok++;
                    continue;
                }
                if (!why[0])
                    rp_stream_put_reason(&w->put_res[j], why, sizeof why);
                todo[kept++] = todo[x + j]; /* kept <= x + j: compaction in place */
            }
            rp__counter_add(c->st.published, ok);
            x += k;
        }
        n = kept;
        if (!n) {
            unstall(w, attempt, "the output stream takes predictions again; the shard goes on");
            return 0;
        }
        if (stall(w, ++attempt, "cannot publish predictions; the shard waits and retries", why))
            return 1;
        if (c->cfg.max_record_age_s >= 0) {
            int64_t now = wall_ms();
            kept = 0;
            for (size_t x = 0; x < n; x++) {
                if (expired(w, base + todo[x], now))
                    log_expired(w, base + todo[x],
                                "prediction dropped unpublished: its record is older than --max-record-age");
                else
                    todo[kept++] = todo[x];
            }
            n = kept;
        }
    }
}

/* Retries are exhausted for [s->lo, s->hi): its failed records (o, or all
 * with fn_reason) go to the dead letters, and the shard moves on past the
 * segment.  0, or 1 when the worker must stop first. */
static int give_up(shard_worker *w, const seg *s, const rp_record_outcome *o, const char *fn_reason)
{
    if (dead_letter(w, s->lo, s->hi, o, fn_reason, s->attempts) != 0)
        return 1;
    rp__counter_add(w->c->st.records_handled, s->hi - s->lo);
    return commit(w, rec_seq(w, s->hi - 1), false) != 0;
}

/* Runs the handler on the event of [s->lo, s->hi).  Returns 0 with the
 * per-record outcomes in *o, 1 when the function failed as a whole
 * (InvalidEvent), or -1 when it could not run (memory ran short, the event
 * outgrew its buffer: not the records' fault, the caller waits and tries
 * again); reason says why. */
static int invoke(shard_worker *w, const seg *s, const rp_record_outcome **o, char *reason, size_t cap)
{
    rp__consumer *c = w->c;
    if (build_event(w, &w->event, s->lo, s->hi) < 0) {
        snprintf(reason, cap, "%s", w->event.toobig ? "the event outgrew its buffer" : "out of memory");
        return -1;
    }
    struct timespec t0, t1;
    rp_invoke_result res;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = rp_handler_invoke(w->h, w->event.data, w->event.len, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rp__histogram_observe(c->st.invoke_seconds,
                          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    rp__counter_add(c->st.invocations, 1);
    snprintf(reason, cap, "out of memory");
    if (r < 0)
        return -1;
    if (res.status != RP_INVOKE_OK) {
        if (!strcmp(res.error_type, "ResponseTooLarge"))
            return -1;
        snprintf(reason, cap, "function error: %s", res.error_message ? res.error_message : res.error_type);
        return 1;
    }
    size_t n;
    *o = rp_handler_outcomes(w->h, &n);
    return *o && n == s->hi - s->lo ? 0 : -1;
}

/* Monitoring: the rides of the first k records of the last invocation
 * (handled for good: they are not invoked again). */
static void monitor_record(shard_worker *w, size_t k)
{
    rp_handler_rides r;
    if (!w->c->live || rp_handler_last_rides(w->h, &r) < 0)
        return;
    if (k > r.n)
        k = r.n;
    rp__monitor_live_record(w->c->live, r.pu, r.dol, r.distance, r.prediction, k);
}

/* Runs records [0, k) through the handler, publishes their predictions
 * (waiting out any outage of the output stream), retries the records the
 * handler refuses (bisecting a batch that fails as a whole, when asked),
 * sends them to the dead letters after their retries, and checkpoints as
 * it goes.  Returns 0 when every record is handled and checkpointed, 1
 * when the worker must stop first. */
static int process(shard_worker *w, size_t k)
{
    rp__consumer *c = w->c;
    seg stack[SPLIT_STACK_MAX];
    int sp = 0, oom = 0;
    stack[sp++] = (seg){0, k, 0};
    rp__counter_add(c->st.batches, 1);
    while (sp > 0) {
        seg *s = &stack[sp - 1];
        if (atomic_load(&w->lost))
            return 1;
        if (expire_front(w, s) != 0)
            return 1;
        if (s->lo == s->hi) {
            sp--;
            continue;
        }
        const rp_record_outcome *o = NULL;
        char reason[300];
        int r = invoke(w, s, &o, reason, sizeof reason);
        if (r < 0) {
            if (stall(w, ++oom, "the handler could not run; the shard waits and retries", reason))
                return 1;
            continue;
        }
        if (oom) {
            unstall(w, oom, "the handler runs again; the shard goes on");
            oom = 0;
        }
        if (r == 0) {
            size_t n = s->hi - s->lo, f = 0, bad = 0;
            while (f < n && o[f].status != RP_RECORD_REFUSED)
                f++;
            for (size_t i = f; i < n; i++)
                bad += o[i].status == RP_RECORD_REFUSED;
            /* Publish what precedes the first refused record; on the last
             * attempt, every prediction of the segment. */
            bool last = bad && exhausted(c, s->attempts + 1);
            if (publish_until_stored(w, o, s->lo, 0, last ? n : f) != 0)
                return 1;
            monitor_record(w, !bad || last ? n : f);
            if (!bad) {
                rp__counter_add(c->st.records_handled, n);
                if (commit(w, rec_seq(w, s->hi - 1), false) != 0)
                    return 1;
                sp--;
                continue;
            }
            rp__counter_add(c->st.item_failures, bad);
            if (f > 0) {
                rp__counter_add(c->st.records_handled, f);
                if (commit(w, rec_seq(w, s->lo + f - 1), false) != 0)
                    return 1;
            }
            s->attempts++;
            if (last) {
                seg rest = {s->lo + f, s->hi, s->attempts};
                if (give_up(w, &rest, o + f, NULL) != 0)
                    return 1;
                sp--;
                continue;
            }
            s->lo += f;
            rp__counter_add(c->st.retries, 1);
            if (rp_log_enabled(RP_LOG_INFO)) {
                char att[16];
                snprintf(att, sizeof att, "%d", s->attempts);
                rp_log(RP_LOG_INFO, "batchItemFailures: retrying from the lowest failed record", "shard",
                       w->row.shard_id, "sequence_number", rec_seq(w, s->lo), "attempt", att, NULL);
            }
            if (nap(w, backoff_ms(w, s->attempts)))
                return 1;
            continue;
        }
        /* The function failed as a whole (InvalidEvent): the records' fault. */
        rp__counter_add(c->st.function_errors, 1);
        rp_log(RP_LOG_WARN, "the function failed on a batch", "shard", w->row.shard_id, "first",
               rec_seq(w, s->lo), "reason", reason, NULL);
        if (c->cfg.bisect_on_error && s->hi - s->lo > 1 && sp < SPLIT_STACK_MAX) {
            size_t mid = s->lo + (s->hi - s->lo) / 2;
            seg second = {mid, s->hi, s->attempts};
            seg first = {s->lo, mid, s->attempts};
            stack[sp - 1] = second;
            stack[sp++] = first;
            continue;
        }
        s->attempts++;
        if (exhausted(c, s->attempts)) {
            if (give_up(w, s, NULL, reason) != 0)
                return 1;
            sp--;
            continue;
        }
        rp__counter_add(c->st.retries, 1);
        if (nap(w, backoff_ms(w, s->attempts)))
            return 1;
    }
    return 0;
}

/* ---- the pipeline ------------------------------------------------------------------ */

static void note_pending(shard_worker *w);

/* With a Kafka output, a batch's predictions are queued to the cluster and
 * the worker goes on with the next batches while they are acknowledged, up
 * to --max-in-flight batches (docs/kafka.md).  Offsets are still committed
 * in order and only once every prediction of the batch is acknowledged.
 * Anything out of the ordinary (a record refused, the function failing, a
 * prediction the cluster did not take) empties the pipeline, and the
 * records not committed go the careful way (process): retries, stalls and
 * dead letters as without the pipeline.  Predictions acknowledged in a
 * batch that is then handled again are published twice, as after a crash:
 * at most --max-in-flight batches per shard. */

static bool pipe_on(const shard_worker *w)
{
    return w->pipe && !w->careful;
}

/* Queues the predictions of records [w->sent, w->sent + k).  Returns 0
 * queued, or 2 when the batch must go the careful way (nothing of it is
 * queued). */
static int pipe_send(shard_worker *w, size_t k)
{
    rp__consumer *c = w->c;
    seg s = {w->sent, w->sent + k, 0};
    const rp_record_outcome *o = NULL;
    char reason[300];
    if (invoke(w, &s, &o, reason, sizeof reason) != 0)
        return 2;
    /* The handler's buffers serve the next batch: the predictions are
     * copied into the slot's own buffer, in one piece. */
    in_flight *f = &w->pipe[w->pipe_n];
    rp__buf_reset(&f->preds);
    for (size_t i = 0; i < k; i++) {
        if (o[i].status != RP_RECORD_SERVED)
            return 2;
        rp__buf_append(&f->preds, o[i].prediction, o[i].prediction_len);
    }
    if (f->preds.failed)
        return 2;
    for (size_t i = 0, off = 0; i < k; off += o[i].prediction_len, i++)
        w->put[i] = (rp_stream_entry){f->preds.data + off, o[i].prediction_len, o[i].partition_key,
                                      o[i].partition_key_len};
    rp_error err;
    rp__kafka_put_call *call;
    if (rp__kafka_put_start(w->out_kafka, w->out_name, w->put, k, &call, &err) < 0)
        return 2;
    monitor_record(w, k);
    w->pipe_n++;
    f->call = call;
    f->k = k;
    size_t last = w->sent + k - 1;
    memcpy(f->seq, rec_seq(w, last), w->recs[last].seq_len + 1);
    w->sent += k;
    rp__counter_add(c->st.batches, 1);
    return 0;
}

/* Drops the pipeline: every batch's answers awaited (or purged, when the
 * process stops), nothing committed; their records stay in the arena. */
static void pipe_drop(shard_worker *w)
{
    if (w->pipe_n && atomic_load(&w->c->stop))
        rp__kafka_purge(w->out_kafka);
    for (size_t i = 0; i < w->pipe_n; i++)
        rp__kafka_put_free(w->pipe[i].call);
    w->pipe_n = 0;
    w->sent = 0;
}

/* Takes the oldest batch in flight once its answers are in, waiting up to
 * wait_ms (-1: as long as it takes): commits it and drops its records.
 * Returns 0 taken, 3 not answered yet, 1 the worker must stop, 2 a
 * prediction was not taken: the pipeline is dropped and the next batch
 * goes the careful way. */
static int pipe_take(shard_worker *w, int wait_ms)
{
    in_flight *f = &w->pipe[0];
    if (!rp__kafka_put_wait(f->call, wait_ms))
        return 3;
    size_t first = 0;
    if (rp__kafka_put_failures(f->call, &first)) {
        char why[400];
        rp_stream_put_result r;
        rp__kafka_put_result(f->call, first, &r);
        rp_stream_put_reason(&r, why, sizeof why);
        rp_log(RP_LOG_WARN,
               "predictions not taken by the output stream; the batches not committed are handled again",
               "shard", w->row.shard_id, "not_taken", why, NULL);
        pipe_drop(w);
        w->careful = true;
        return 2;
    }
    rp__counter_add(w->c->st.published, f->k);
    rp__counter_add(w->c->st.records_handled, f->k);
    if (commit(w, f->seq, false) != 0)
        return 1;
    rp__kafka_put_free(f->call);
    size_t k = f->k;
    in_flight done = *f; /* its buffer goes to the end, for reuse */
    memmove(w->pipe, w->pipe + 1, (w->pipe_n - 1) * sizeof *w->pipe);
    w->pipe[--w->pipe_n] = done;
    arena_drop(w, k);
    w->sent -= k;
    note_pending(w);
    return 0;
}

/* Takes every batch in flight, in order.  Returns 0 (the pipeline is empty:
 * all committed, or dropped on a failure), or 1 the worker must stop. */
static int pipe_drain(shard_worker *w)
{
    while (w->pipe_n) {
        int r = pipe_take(w, -1);
        if (r == 1)
            return 1;
    }
    return 0;
}

/* The worker stops: batches answered in time are committed in order; the
 * rest are left to whoever reads the shard next.  A worker that lost its
 * shard commits nothing. */
static void pipe_finish(shard_worker *w)
{
    if (!w->pipe)
        return;
    while (w->pipe_n && !atomic_load(&w->lost)) {
        /* A rebalance lets the answers come (message.timeout.ms at most);
         * a stopping process waits a second, then purges. */
        int r = pipe_take(w, atomic_load(&w->c->stop) ? 1000 : -1);
        if (r != 0)
            break;
    }
    pipe_drop(w);
}

/* ---- the worker thread ---------------------------------------------------------- */

static void worker_close(shard_worker *w)
{
    rp_stream_close(w->in);
    rp_stream_close(w->dl);
    rp_stream_close(w->out);
    rp_handler_free(w->h);
    rp__lease_close(w->ckpt);
    rp__kafka_txn_close(w->txn);
    w->txn = NULL;
    rp__buf_cleanup(&w->arena);
    rp__buf_cleanup(&w->event);
    free(w->recs);
    free(w->todo);
    free(w->put);
    free(w->put_res);
    for (size_t i = 0; w->pipe && i < w->pipe_cap; i++)
        rp__buf_cleanup(&w->pipe[i].preds);
    free(w->pipe);
    w->pipe = NULL;
    w->put = NULL;
    w->put_res = NULL;
    w->in = w->dl = w->out = NULL;
    w->h = NULL;
    w->ckpt = NULL;
    w->recs = NULL;
    w->todo = NULL;
}

/* What the coordinator reads for the gauges, after the arena changed. */
static void note_pending(shard_worker *w)
{
    atomic_store(&w->oldest_ms, w->n ? w->recs[0].arrival_ms : 0);
}

/* A read that worked, after `before` records were in the arena: the
 * counters and gauges, and the end of a stall.  Returns the records read. */
static size_t read_done(shard_worker *w, size_t before, int64_t behind, int *read_errors, const char *resumed)
{
    if (*read_errors)
        unstall(w, *read_errors, resumed);
    *read_errors = 0;
    size_t got = w->n - before;
    rp__counter_add(w->c->st.records_read, got);
    atomic_store(&w->behind_ms, behind);
    atomic_store(&w->read_ok_ms, mono_ms());
    atomic_store(&w->read_failing, false);
    note_pending(w);
    return got;
}

static void *worker_main(void *arg)
{
    shard_worker *w = arg;
    rp__consumer *c = w->c;
    rp_error err;
    bool ended = false;
    rp__buf_init(&w->arena, ARENA_MAX);
    rp__buf_init(&w->event, RP_EVENT_MAX_BYTES + 4096);
    w->todo = calloc(c->cfg.batch_size, sizeof *w->todo);
    w->put = calloc(c->cfg.batch_size, sizeof *w->put);
    w->put_res = calloc(c->cfg.batch_size, sizeof *w->put_res);
    w->rng = rp__retry_seed(w);
    if (!w->todo || !w->put || !w->put_res) {
        rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((!c->kg && rp_stream_open(c->in_backend, &c->cfg.streams, &w->in, &err) < 0) ||
        (c->cfg.dead_letter && rp_stream_open(c->dl_backend, &c->cfg.streams, &w->dl, &err) < 0) ||
        rp__function_output_open(c->cfg.function, &w->out, &w->out_name, &err) < 0 ||
        !(w->h = rp__function_handler_new(c->cfg.function, &err)) ||
        (!c->kg && rp__lease_open(c->store, &w->ckpt, &err) < 0))
        goto fail;
    if (c->live)
        rp_handler_keep_rides(w->h, true);
    for (int attempt = 1; c->cfg.exactly_once && rp__kafka_txn_open(c->kg, w->partition, &w->txn, &err) < 0;
         attempt++)
        if (stall(w, attempt, "cannot start the partition's transactions; retrying", err.msg))
            goto stopped;
    uint32_t depth = c->cfg.max_in_flight ? c->cfg.max_in_flight : RP_CONSUME_IN_FLIGHT_DEFAULT;
    w->out_kafka = rp__stream_kafka(w->out);
    if (w->out_kafka && !w->txn && depth > 1 && c->cfg.max_record_age_s < 0) {
        if (!(w->pipe = calloc(depth, sizeof *w->pipe))) {
            rp_error_set(&err, RP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        w->pipe_cap = depth;
        for (size_t i = 0; i < depth; i++)
            rp__buf_init(&w->pipe[i].preds, RP_HANDLER_PREDICTIONS_MAX);
    }
    for (int attempt = 1; w->rewind && rp__kafka_group_rewind(c->kg, w->partition, &err) < 0; attempt++)
        if (stall(w, attempt, "cannot move the partition back to its committed offset; retrying", err.msg))
            goto stopped;
    if (c->kg)
        rp_log(RP_LOG_INFO, "partition assigned", "partition", w->row.shard_id, "topic", c->in_name, NULL);
    else
        rp_log(RP_LOG_INFO, "shard lease taken", "shard", w->row.shard_id, "checkpoint",
               w->row.checkpoint[0] ? w->row.checkpoint : "(none)", "start", w->row.start, NULL);

    bool at_end = false;
    int64_t first_ms = 0;
    int read_errors = 0;
    for (;;) {
        if (stopping(w))
            break;
        /* Batches of the pipeline answered since: committed. */
        int taken = 0;
        while (w->pipe_n && (taken = pipe_take(w, 0)) == 0)
            ;
        if (taken == 1)
            break;
        size_t pending = w->n - w->sent; /* read, not yet handled */
        bool need_read = !at_end && pending < c->cfg.batch_size && w->arena.len < ARENA_READ_LIMIT;
        size_t got = 0;
        int64_t behind = 0;
        if (need_read && c->kg) {
            size_t before = w->n;
            uint32_t limit = c->cfg.batch_size - (uint32_t)pending;
            int wait = pending || w->pipe_n ? 0 : (int)c->poll_ms;
            size_t budget = ARENA_READ_LIMIT - w->arena.len;
            int rr =
                rp__kafka_group_read(c->kg, w->partition, limit, budget, wait, on_record, w, &behind, &err);
            if (w->oom) { /* the record that did not fit waits in the group's stash */
                arena_truncate(w, w->n);
                w->oom = false;
            }
            if (rr < 0) {
                atomic_store(&w->read_failing, true);
                if (stall(w, ++read_errors, "cannot read the partition; the worker waits and retries",
                          err.msg))
                    break;
                continue;
            }
            got = read_done(w, before, behind, &read_errors, "the partition is read again");
            if (got && before == w->sent)
                first_ms = mono_ms();
            if (!got && w->n == 0)
                continue; /* the read waited poll_ms */
        } else if (need_read) {
            if (!w->iter[0] && make_iterator(w, &err) < 0) {
                atomic_store(&w->read_failing, true);
                if (stall(w, ++read_errors, "cannot get a shard iterator; the shard waits and retries",
                          err.msg))
                    break;
                continue;
            }
            size_t before = w->n;
            char saved_seq[RP_STREAM_SEQ_MAX];
            memcpy(saved_seq, w->read_seq, sizeof saved_seq);
            uint32_t limit = c->cfg.batch_size - (uint32_t)pending;
            char next[RP_STREAM_ITER_MAX];
            if (rp_stream_get_records(w->in, w->iter, limit, on_record, w, next, &behind, &err) < 0) {
                /* Records of a page cut short are read again. */
                arena_truncate(w, before);
                memcpy(w->read_seq, saved_seq, sizeof saved_seq);
                w->iter[0] = '\0';
                if (w->oom) {
                    w->oom = false;
                    if (stall(w, ++read_errors, "out of memory reading records; the shard waits and retries",
                              "out of memory"))
                        break;
                } else if (strncmp(err.msg, "ExpiredIteratorException", 24) != 0) {
                    atomic_store(&w->read_failing, true);
                    if (stall(w, ++read_errors, "cannot read the shard; the shard waits and retries",
                              err.msg))
                        break;
                }
                continue;
            }
            got = read_done(w, before, behind, &read_errors, "the shard is read again");
            memcpy(w->iter, next, sizeof next);
            if (!next[0])
                at_end = true;
            if (got && before == w->sent)
                first_ms = mono_ms();
        }
        if (w->n == w->sent && w->pipe_n) {
            /* Nothing to handle: wait for the oldest batch's answers. */
            int r = pipe_take(w, (int)c->poll_ms);
            if (r == 1)
                break;
            continue;
        }
        if (w->n == 0) {
            if (at_end) {
                if (commit(w, "", true) == 0)
                    ended = true;
                break;
            }
            if (!got && flush_deferred(w, false) != 0)
                break;
            if (!got && nap(w, c->poll_ms))
                break;
            continue;
        }
        bool full = w->n - w->sent >= c->cfg.batch_size || w->arena.len >= ARENA_READ_LIMIT;
        if (!full && !at_end && c->cfg.batch_window_ms > 0) {
            int64_t waited = mono_ms() - first_ms;
            if (waited < (int64_t)c->cfg.batch_window_ms) {
                if (!(got && behind > 0)) {
                    int64_t left = (int64_t)c->cfg.batch_window_ms - waited;
                    if (nap(w, left < c->poll_ms ? left : c->poll_ms) && atomic_load(&w->c->stop))
                        break;
                }
                continue;
            }
        }
        if (pipe_on(w)) {
            int r = 0;
            if (w->pipe_n == (c->cfg.max_in_flight ? c->cfg.max_in_flight : RP_CONSUME_IN_FLIGHT_DEFAULT))
                r = pipe_take(w, -1); /* full: the oldest batch's answers first */
            if (r == 1)
                break;
            if (r == 2)
                continue;
            if (pipe_send(w, batch_prefix(w, w->sent)) == 0) {
                if (w->n > w->sent)
                    first_ms = mono_ms();
                continue;
            }
            /* This batch goes the careful way, after the batches before it. */
            if (pipe_drain(w) != 0)
                break;
        }
        size_t k = batch_prefix(w, 0);
        if (process(w, k) != 0)
            break;
        w->careful = false;
        arena_drop(w, k);
        note_pending(w);
        if (w->n)
            first_ms = mono_ms();
    }
    pipe_finish(w);
    if (!ended)
        flush_deferred(w, true); /* before the hand-over: the next owner starts after it */
    if (!ended && !atomic_load(&w->lost) && w->ckpt && rp__lease_release(w->ckpt, w->row.shard_id, &err) < 0)
        rp_log(RP_LOG_WARN, "cannot hand the lease back (it will expire)", "shard", w->row.shard_id, "error",
               err.msg, NULL);
stopped:
    rp_log(RP_LOG_INFO, ended ? "shard read to its end" : "shard worker stopped", "shard", w->row.shard_id,
           NULL);
    worker_close(w);
    atomic_store(&w->done, true);
    return NULL;
fail:
    rp_log(RP_LOG_ERROR, "shard worker cannot start; the lease is handed back", "shard", w->row.shard_id,
           "error", err.msg, NULL);
    if (w->ckpt)
        rp__lease_release(w->ckpt, w->row.shard_id, NULL);
    worker_close(w);
    atomic_store(&w->done, true);
    return NULL;
}

/* ---- the coordinator -------------------------------------------------------------- */

static void register_stats(rp__consumer *c)
{
    char labels[RP_STREAM_NAME_MAX * 2 + 64];
    rp__buf lb;
    rp__buf_init(&lb, sizeof labels - 1);
    rp__buf_lit(&lb, "source=");
    rp__pyjson_utf8(&lb, c->source, strlen(c->source));
    snprintf(labels, sizeof labels, "%s", lb.failed ? "" : lb.data);
    rp__buf_cleanup(&lb);
    rp__metrics *m = c->metrics;
    stats *s = &c->st;
#define CTR(field, name, help) s->field = rp__metrics_counter(m, "ridepred_consume_" name, help, labels)
    CTR(records_read, "records_read_total", "Records read from the source stream.");
    CTR(records_handled, "records_handled_total",
        "Records handled and checkpointed (published, or dead-lettered).");
    CTR(published, "predictions_published_total",
        "Predictions published to the output stream (retries count again).");
    CTR(batches, "batches_total", "Batches taken from the shards.");
    CTR(invocations, "invocations_total", "Handler invocations (retries and bisected halves included).");
    CTR(item_failures, "item_failures_total", "Records named in batchItemFailures.");
    CTR(function_errors, "function_errors_total", "Invocations that failed as a whole.");
    CTR(retries, "retries_total", "Batch retries.");
    CTR(dead_lettered, "dead_lettered_total", "Records sent to the dead-letter stream.");
    CTR(discarded, "discarded_total", "Records dropped after their retries without a dead-letter stream.");
    CTR(expired, "expired_total", "Records dropped because they were older than --max-record-age.");
    CTR(stall_retries, "stall_retries_total",
        "Retries after an infrastructure failure (output, dead-letter or source stream, checkpoint store).");
    CTR(checkpoints, "checkpoints_total", "Checkpoints written.");
    CTR(leases_lost, "leases_lost_total", "Shard leases lost to expiry or to another consumer.");
    CTR(leases_taken, "leases_taken_total", "Shard leases taken (free, expired or stolen ones).");
    CTR(leases_stolen, "leases_stolen_total",
        "Shard leases taken from another live consumer to balance the group (DynamoDB store).");
    CTR(lease_requests, "lease_table_requests_total",
        "HTTP requests to the DynamoDB lease table (retries included).");
    CTR(lease_throttles, "lease_table_throttles_total",
        "Lease table answers that were throttling (ProvisionedThroughputExceeded, ThrottlingException, ...).");
#undef CTR
    s->behind = rp__metrics_gauge(m, "ridepred_consume_millis_behind_latest",
                                  "The largest MillisBehindLatest over the shards held.", labels);
    s->shards_held = rp__metrics_gauge(m, "ridepred_consume_shards_held", "Shard leases held.", labels);
    s->shards_stalled =
        rp__metrics_gauge(m, "ridepred_consume_shards_stalled",
                          "Shards waiting for a stream or the checkpoint store to come back.", labels);
    s->iterator_age =
        rp__metrics_gauge(m, "ridepred_consume_iterator_age_milliseconds",
                          "Age of the oldest record read and not yet checkpointed, or of the "
                          "shard's position when reads fail (the largest over the shards held).",
                          labels);
    s->workers_live = rp__metrics_gauge(m, "ridepred_consume_group_consumers",
                                        "Live consumers of the group (this one included).", labels);
    s->invoke_seconds = rp__metrics_histogram(m, "ridepred_consume_invocation_seconds",
                                              "Handler invocation time (publishing not included).", labels,
                                              rp__metrics_latency_buckets, RP_METRICS_LATENCY_BUCKETS);
    /* As serve's, for the live page's uptime and any Prometheus dashboard. */
    rp__gauge *start = rp__metrics_gauge(m, "process_start_time_seconds",
                                         "Start time of the process since the Unix epoch in seconds.", NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rp__gauge_set(start, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
}

static void owner_id(char *out, size_t cap)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    unsigned char rnd[6] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(rnd, 1, sizeof rnd, f) != sizeof rnd)
            memset(rnd, 0, sizeof rnd);
        fclose(f);
    }
    snprintf(out, cap, "%s:%ld:%02x%02x%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
}

/* Whether a stream call failed because the service is unavailable
 * (unreachable, throttled, 5xx: retriable), not because of what was asked. */
static bool unavailable(const rp_error *e)
{
    return e->retriable || e->code == RP_ERR_IO;
}

/* Checks that a stream exists.  A service that cannot be reached now is
 * not a reason to refuse to start: the consumer waits for it (logged);
 * a stream that does not exist is (a wrong name is fixed by the user). */
static int check_stream(rp_stream_backend b, const rp_stream_config *sc, const char *name, const char *what,
                        rp_error *err)
{
    rp_stream_conn *s = NULL;
    rp_stream_info info;
    int rc = -1;
    if (rp_stream_open(b, sc, &s, err) < 0)
        goto fail;
    if (rp_stream_describe(s, name, &info, err) < 0) {
        if (!unavailable(err))
            goto fail;
        rp_log(RP_LOG_WARN, "cannot reach a stream yet; consume starts and waits for it", "stream", name,
               "role", what, "error", err->msg, NULL);
    }
    rc = 0;
    goto out;
fail:
    rp_error_prefix(err, "%s stream '%s:%s'", what, rp_stream_backend_name(b), name);
out:
    rp_stream_close(s);
    return rc;
}

int rp__consumer_new(const rp__consumer_config *cfg, rp__consumer **out, rp_error *err)
{
    *out = NULL;
    if (!cfg->function || !cfg->from)
        return rp_error_set(err, RP_ERR_INVALID, "a consumer needs a source stream and a function");
    if (cfg->batch_size < 1 || cfg->batch_size > RP_CONSUME_BATCH_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "batch size must be 1 to %d", RP_CONSUME_BATCH_MAX);
    if (cfg->batch_window_ms > RP_CONSUME_WINDOW_MS_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "batch window must be at most %d ms",
                            RP_CONSUME_WINDOW_MS_MAX);
    if (cfg->ckpt_interval_ms > RP_CONSUME_CKPT_MS_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "checkpoint interval must be at most %d ms",
                            RP_CONSUME_CKPT_MS_MAX);
    if (cfg->max_retries < -1 || cfg->max_retries > RP_CONSUME_RETRIES_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "max retries must be -1 (until the records expire) to %d",
                            RP_CONSUME_RETRIES_MAX);
    if (cfg->max_record_age_s == 0 || cfg->max_record_age_s < -1 ||
        cfg->max_record_age_s > RP_CONSUME_RECORD_AGE_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "max record age must be -1 (never) or 1 to %d seconds",
                            RP_CONSUME_RECORD_AGE_MAX);
    if (!rp__function_publishes(cfg->function))
        return rp_error_set(err, RP_ERR_INVALID,
                            "the consumer publishes its predictions: TEST_RUN=True is not for consume");
    rp__consumer *c = calloc(1, sizeof *c);
    if (!c)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    c->cfg = *cfg;
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->stop, false);
    if (rp_stream_parse_name(cfg->from, &cfg->streams, &c->in_backend, c->in_name, err) < 0) {
        rp_error_prefix(err, "--from");
        goto fail;
    }
    snprintf(c->source, sizeof c->source, "%s:%s", rp_stream_backend_name(c->in_backend), c->in_name);
    if (cfg->ckpt_interval_ms && c->in_backend == RP_STREAM_BACKEND_KAFKA) {
        rp_error_set(err, RP_ERR_INVALID,
                     "--checkpoint-interval-ms is for checkpoint stores (Kinesis and local sources); a Kafka "
                     "source commits its group's offsets after every batch: drop the option");
        goto fail;
    }
    snprintf(c->out_spec, sizeof c->out_spec, "%s", rp__function_predictions_stream(cfg->function));
    if (!strcmp(c->source, c->out_spec)) {
        rp_error_set(err, RP_ERR_INVALID,
                     "the output stream is the source stream (%s): every prediction would be read again",
                     c->source);
        goto fail;
    }
    if (cfg->dead_letter &&
        rp_stream_parse_name(cfg->dead_letter, &cfg->streams, &c->dl_backend, c->dl_name, err) < 0) {
        rp_error_prefix(err, "--dead-letter");
        goto fail;
    }
    if (check_stream(c->in_backend, &cfg->streams, c->in_name, "source", err) < 0)
        goto fail;
    {
        rp_stream_backend ob;
        char oname[RP_STREAM_NAME_MAX + 1];
        const char *colon = strchr(c->out_spec, ':');
        if (rp_stream_parse_name(c->out_spec, &cfg->streams, &ob, oname, err) < 0 ||
            check_stream(ob, &cfg->streams, oname, "output", err) < 0)
            goto fail;
        (void)colon;
    }
    if (cfg->dead_letter && check_stream(c->dl_backend, &cfg->streams, c->dl_name, "dead-letter", err) < 0)
        goto fail;
    if (cfg->exactly_once &&
        (c->in_backend != RP_STREAM_BACKEND_KAFKA || strncmp(c->out_spec, "kafka:", 6) != 0)) {
        rp_error_set(
            err, RP_ERR_INVALID,
            "--exactly-once needs a Kafka source and a Kafka output (Kafka transactions hold both the "
            "predictions and the offsets): %s -> %s",
            c->source, c->out_spec);
        goto fail;
    }
    snprintf(c->group, sizeof c->group, "%s", cfg->group && *cfg->group ? cfg->group : c->out_spec);
    if (c->in_backend == RP_STREAM_BACKEND_KAFKA) {
        /* The cluster keeps the offsets; no checkpoint store. */
        snprintf(c->bootstrap, sizeof c->bootstrap, "%s",
                 cfg->streams.kafka_brokers ? cfg->streams.kafka_brokers : "");
    } else if (!cfg->checkpoint_store || !*cfg->checkpoint_store) {
        rp_error_set(err, RP_ERR_INVALID, "no checkpoint store given");
        goto fail;
    }
    owner_id(c->owner, sizeof c->owner);
    switch (cfg->start_type) {
    case RP_STREAM_LATEST: snprintf(c->initial_start, sizeof c->initial_start, "LATEST"); break;
    case RP_STREAM_AT_TIMESTAMP:
        snprintf(c->initial_start, sizeof c->initial_start, "AT_TIMESTAMP:%lld",
                 (long long)cfg->start_timestamp_ms);
        break;
    default: snprintf(c->initial_start, sizeof c->initial_start, "TRIM_HORIZON"); break;
    }
    c->lease_ms = cfg->lease_ms ? cfg->lease_ms : LEASE_MS_DEFAULT;
    c->poll_ms = cfg->poll_ms ? cfg->poll_ms
                              : (c->in_backend == RP_STREAM_BACKEND_LOCAL   ? 10
                                 : c->in_backend == RP_STREAM_BACKEND_KAFKA ? 100
                                                                            : 250);
    c->log_ms = cfg->log_interval_ms ? cfg->log_interval_ms : LOG_MS_DEFAULT;
    c->sync_ms = c->lease_ms / 3 < 1000 ? c->lease_ms / 3 : 1000;
    if (c->sync_ms < 50)
        c->sync_ms = 50;

    /* The fields after eventID, the same for every record. */
    {
        const char *region = cfg->event_region;
        if (c->in_backend == RP_STREAM_BACKEND_LOCAL)
            region = "local";
        else if (!region || !*region)
            region = "us-east-1";
        if (rp__event_source_init(&c->source_fields, region, c->in_name, err) < 0)
            goto fail;
    }
    c->metrics = rp__metrics_new();
    if (!c->metrics) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    register_stats(c);
    if (cfg->monitor) {
        rp__monitor_live_config mc = *cfg->monitor;
        mc.source = "consume";
        mc.metrics = c->metrics;
        if (rp__monitor_live_new(&mc, &c->live, err) < 0)
            goto fail;
    }
    /* The checkpoint store must open now, with a clear error if not. */
    if (c->in_backend != RP_STREAM_BACKEND_KAFKA) {
        rp__lease_config lc = {.spec = cfg->checkpoint_store,
                               .group = c->group,
                               .source = c->source,
                               .owner = c->owner,
                               .lease_ms = c->lease_ms,
                               .max_steal = cfg->max_steal,
                               .region = cfg->streams.region,
                               .requests = c->st.lease_requests,
                               .throttles = c->st.lease_throttles};
        if (rp__lease_store_open(&lc, &c->store, err) < 0)
            goto fail;
        /* A lease table is scanned more often: another worker's lease
         * counts as expired a lease time after a scan saw its counter move,
         * so that failover takes at most the lease time and two scans
         * (renewals stay at a third of the lease: lease_dynamodb.h). */
        if (rp__lease_store_kind(c->store) == RP_LEASE_DYNAMODB) {
            c->sync_ms = c->lease_ms / 5 < 500 ? c->lease_ms / 5 : 500;
            if (c->sync_ms < 50)
                c->sync_ms = 50;
        }
    }
    *out = c;
    return 0;
fail:
    rp__consumer_free(c);
    return -1;
}

void rp__consumer_free(rp__consumer *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    rp__lease_store_close(c->store);
    free(c->assigned);
    rp__event_source_cleanup(&c->source_fields);
    rp__monitor_live_free(c->live);
    rp__metrics_free(c->metrics);
    free(c);
}

static void metrics_route(void *ctx, const rp__http_request *req, rp__http_reply *reply)
{
    rp__consumer *c = ctx;
    /* The live page, with monitoring's windows when it is on. */
    if (rp__dashboard_route(c->metrics, c->live, req, reply))
        return;
    if (strcmp(req->path, "/metrics") != 0) {
        reply->status = strcmp(req->path, "/healthz") ? 404 : 200;
        reply->content_type = "text/plain";
        reply->body = reply->status == 200 ? "ok\n"
                                           : "not found: GET /metrics, GET /healthz, GET " RP_DASHBOARD_PATH
                                             " or GET " RP_DASHBOARD_JSON_PATH "\n";
        reply->body_len = strlen(reply->body);
        return;
    }
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    if (rp__metrics_render(c->metrics, &out) < 0) {
        rp__buf_cleanup(&out);
        reply->status = 500;
        return;
    }
    size_t len;
    char *body = rp__buf_steal(&out, &len);
    reply->status = 200;
    reply->content_type = RP_METRICS_CONTENT_TYPE;
    reply->body = body ? body : "";
    reply->body_len = body ? len : 0;
    reply->body_owned = body != NULL;
}

void rp__consumer_get_stats(rp__consumer *c, rp__consumer_stats *o)
{
    stats *s = &c->st;
    *o = (rp__consumer_stats){
        .records_read = rp__counter_value(s->records_read),
        .records_handled = rp__counter_value(s->records_handled),
        .predictions_published = rp__counter_value(s->published),
        .batches = rp__counter_value(s->batches),
        .invocations = rp__counter_value(s->invocations),
        .item_failures = rp__counter_value(s->item_failures),
        .function_errors = rp__counter_value(s->function_errors),
        .retries = rp__counter_value(s->retries),
        .dead_lettered = rp__counter_value(s->dead_lettered),
        .discarded = rp__counter_value(s->discarded),
        .checkpoints = rp__counter_value(s->checkpoints),
        .leases_lost = rp__counter_value(s->leases_lost),
        .expired = rp__counter_value(s->expired),
        .stall_retries = rp__counter_value(s->stall_retries),
        .leases_taken = rp__counter_value(s->leases_taken),
        .leases_stolen = rp__counter_value(s->leases_stolen),
        .lease_requests = rp__counter_value(s->lease_requests),
        .lease_throttles = rp__counter_value(s->lease_throttles),
        .millis_behind_latest = (int64_t)rp__gauge_value(s->behind),
        .iterator_age_ms = (int64_t)rp__gauge_value(s->iterator_age),
        .shards_held = (uint32_t)rp__gauge_value(s->shards_held),
        .shards_stalled = (uint32_t)rp__gauge_value(s->shards_stalled),
    };
}

/* Joins the workers that finished; returns how many. */
static size_t reap(rp__consumer *c)
{
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (shard_worker **pp = &c->workers; *pp;) {
        shard_worker *w = *pp;
        if (atomic_load(&w->done)) {
            pthread_join(w->thread, NULL);
            *pp = w->next;
            free(w);
            n++;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

static shard_worker *find_worker(rp__consumer *c, const char *id)
{
    for (shard_worker *w = c->workers; w; w = w->next)
        if (!strcmp(w->row.shard_id, id))
            return w;
    return NULL;
}

/* Starts a worker on a shard (partition >= 0: a Kafka partition; rewind:
 * from its committed offset).  0, or -1 when it could not start (logged). */
static int spawn(rp__consumer *c, const rp__ckpt_shard *row, int32_t partition, bool rewind)
{
    shard_worker *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->c = c;
    w->row = *row;
    w->partition = partition;
    w->rewind = rewind;
    atomic_init(&w->done, false);
    atomic_init(&w->lost, false);
    atomic_init(&w->release, false);
    atomic_init(&w->behind_ms, 0);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        rp_log(RP_LOG_ERROR, "cannot start a thread for a shard", "shard", w->row.shard_id, NULL);
        free(w);
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    w->next = c->workers;
    c->workers = w;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static void sync_leases(rp__consumer *c, rp_stream_conn *in, rp__lease *ck, rp_stream_shard **shards,
                        size_t *n_shards)
{
    rp_error err;
    rp_stream_shard *list = NULL;
    size_t n = 0;
    if (rp_stream_list_shards(in, c->in_name, &list, &n, &err) < 0) {
        rp_log(RP_LOG_WARN, "cannot list the source's shards; keeping the last list", "stream", c->source,
               "error", err.msg, NULL);
    } else {
        free(*shards);
        *shards = list;
        *n_shards = n;
    }
    size_t n_held = 0;
    for (shard_worker *w = c->workers; w; w = w->next)
        n_held++;
    char(*held)[RP_STREAM_SHARD_ID_MAX] = calloc(n_held ? n_held : 1, sizeof *held);
    if (!held)
        return;
    size_t i = 0;
    for (shard_worker *w = c->workers; w; w = w->next)
        snprintf(held[i++], RP_STREAM_SHARD_ID_MAX, "%s", w->row.shard_id);
    rp__ckpt_plan plan;
    if (rp__lease_sync(ck, *shards, *n_shards, c->initial_start, (const char(*)[RP_STREAM_SHARD_ID_MAX])held,
                       n_held, &plan, &err) < 0) {
        rp_log(RP_LOG_WARN, "cannot sync the shard leases; retrying", "error", err.msg, NULL);
        free(held);
        return;
    }
    free(held);
    for (size_t j = 0; j < plan.n_lost; j++) {
        shard_worker *w = find_worker(c, plan.lost[j]);
        if (w && !atomic_load(&w->done) && !atomic_exchange(&w->lost, true)) {
            rp__counter_add(c->st.leases_lost, 1);
            rp_log(RP_LOG_WARN, "lease lost: stopping the shard's worker", "shard", plan.lost[j], NULL);
        }
    }
    for (size_t j = 0; j < plan.n_release; j++) {
        shard_worker *w = find_worker(c, plan.release[j]);
        if (w && !atomic_exchange(&w->release, true))
            rp_log(RP_LOG_INFO, "handing a lease back to balance the group", "shard", plan.release[j], NULL);
    }
    rp__counter_add(c->st.leases_taken, plan.n_acquired);
    rp__counter_add(c->st.leases_stolen, plan.n_stolen);
    for (size_t j = 0; j < plan.n_acquired; j++)
        if (spawn(c, &plan.acquired[j], -1, false) < 0)
            rp__lease_release(ck, plan.acquired[j].shard_id, NULL);
    rp__gauge_set(c->st.workers_live, (double)plan.live_workers);
    rp__ckpt_plan_free(&plan);
}

/* The gauges from the workers' state: shards held and stalled, the largest
 * MillisBehindLatest and iterator age.  The iterator age grows while a
 * shard is stalled: its oldest record waits, or its reads fail. */
static void update_gauges(rp__consumer *c)
{
    int64_t now = mono_ms(), wall = wall_ms();
    uint32_t held = 0, stalled = 0;
    int64_t behind = 0, age = 0;
    pthread_mutex_lock(&c->mu);
    for (shard_worker *w = c->workers; w; w = w->next) {
        if (atomic_load(&w->done))
            continue;
        held++;
        stalled += atomic_load(&w->stalled);
        int64_t b = atomic_load(&w->behind_ms), a = b;
        if (b > behind)
            behind = b;
        int64_t ok = atomic_load(&w->read_ok_ms);
        if (atomic_load(&w->read_failing) && ok)
            a = b + (now - ok);
        int64_t oldest = atomic_load(&w->oldest_ms);
        if (oldest && wall - oldest > a)
            a = wall - oldest;
        if (a > age)
            age = a;
    }
    pthread_mutex_unlock(&c->mu);
    rp__gauge_set(c->st.shards_held, held);
    rp__gauge_set(c->st.shards_stalled, stalled);
    rp__gauge_set(c->st.behind, (double)behind);
    rp__gauge_set(c->st.iterator_age, (double)age);
}

static void log_summary(rp__consumer *c, uint64_t *last_handled, int64_t *last_ms, bool final)
{
    int64_t now = mono_ms();
    update_gauges(c);
    rp__consumer_stats s;
    rp__consumer_get_stats(c, &s);
    double secs = (double)(now - *last_ms) / 1000.0;
    char rate[32], total[32], pub[32], fails[32], fnerr[32], dl[32], disc[32], exp[32], lag[32], age[32],
        sh[16], st[16], lost[32];
    snprintf(rate, sizeof rate, "%.0f", secs > 0 ? (double)(s.records_handled - *last_handled) / secs : 0.0);
    u64s(total, sizeof total, s.records_handled);
    u64s(pub, sizeof pub, s.predictions_published);
    u64s(fails, sizeof fails, s.item_failures);
    u64s(fnerr, sizeof fnerr, s.function_errors);
    u64s(dl, sizeof dl, s.dead_lettered);
    u64s(disc, sizeof disc, s.discarded);
    u64s(exp, sizeof exp, s.expired);
    u64s(lost, sizeof lost, s.leases_lost);
    snprintf(lag, sizeof lag, "%lld", (long long)s.millis_behind_latest);
    snprintf(age, sizeof age, "%lld", (long long)s.iterator_age_ms);
    snprintf(sh, sizeof sh, "%u", s.shards_held);
    snprintf(st, sizeof st, "%u", s.shards_stalled);
    rp_log(RP_LOG_INFO, final ? "consume: stopped" : "consume: summary", "records_per_s", rate,
           "records_handled", total, "published", pub, "item_failures", fails, "function_errors", fnerr,
           "dead_lettered", dl, "discarded", disc, "expired", exp, "millis_behind_latest", lag,
           "iterator_age_ms", age, "shards_held", sh, "shards_stalled", st, "leases_lost", lost, NULL);
    *last_handled = s.records_handled;
    *last_ms = now;
}

/* At the end of a run: waits for every worker (each finishes its batch,
 * checkpoints and stops), logs the final summary, frees them. */
static void join_workers(rp__consumer *c, uint64_t *last_handled, int64_t *last_log)
{
    pthread_mutex_lock(&c->mu);
    for (shard_worker *w = c->workers; w; w = w->next)
        pthread_join(w->thread, NULL);
    pthread_mutex_unlock(&c->mu);
    log_summary(c, last_handled, last_log, true);
    while (c->workers) {
        shard_worker *w = c->workers;
        c->workers = w->next;
        free(w);
    }
}

/* ---- a Kafka source: the consumer group assigns the partitions ------------------ */

#define REVOKE_WAIT_MS 30000

static void kafka_assigned(void *ctx, const int32_t *parts, size_t n)
{
    rp__consumer *c = ctx;
    for (size_t i = 0; i < n; i++) {
        int32_t *na = rp__array_grow(c->assigned, c->n_assigned, &c->cap_assigned, sizeof *c->assigned, 16);
        if (!na) {
            rp_log(RP_LOG_ERROR, "out of memory taking a partition", NULL);
            return;
        }
        c->assigned = na;
        c->assigned[c->n_assigned++] = parts[i];
        rp__ckpt_shard row = {0};
        snprintf(row.shard_id, sizeof row.shard_id, "%d", (int)parts[i]);
        spawn(c, &row, parts[i], false); /* if it cannot start, kafka_restart tries again */
    }
}

/* Stops the workers of partitions leaving this member; each commits what
 * it handled first (unless the partitions are lost: another member may
 * have them already).  Returns when they stopped: the next owner starts
 * at the offsets committed. */
static void kafka_revoked(void *ctx, const int32_t *parts, size_t n, bool lost)
{
    rp__consumer *c = ctx;
    pthread_mutex_lock(&c->mu);
    for (shard_worker *w = c->workers; w; w = w->next)
        for (size_t i = 0; i < n; i++)
            if (w->partition == parts[i]) {
                if (lost) {
                    if (!atomic_exchange(&w->lost, true))
                        rp__counter_add(c->st.leases_lost, 1);
                } else {
                    atomic_store(&w->release, true);
                }
            }
    pthread_mutex_unlock(&c->mu);
    char what[16];
    snprintf(what, sizeof what, "%zu", n);
    rp_log(
        lost ? RP_LOG_WARN : RP_LOG_INFO,
        lost
            ? "partitions lost (the group ended this member's session or generation; another may have them): "
              "stopping their workers without commit"
            : "partitions revoked by a rebalance: their workers commit and stop",
        "partitions", what, NULL);
    for (int64_t start = mono_ms();;) {
        bool busy = false;
        pthread_mutex_lock(&c->mu);
        for (shard_worker *w = c->workers; w; w = w->next)
            for (size_t i = 0; i < n; i++)
                if (w->partition == parts[i] && !atomic_load(&w->done))
                    busy = true;
        if (busy && mono_ms() - start > REVOKE_WAIT_MS) /* a commit that does not go through: give up on it */
            for (shard_worker *w = c->workers; w; w = w->next)
                for (size_t i = 0; i < n; i++)
                    if (w->partition == parts[i])
                        atomic_store(&w->lost, true);
        pthread_mutex_unlock(&c->mu);
        if (!busy)
            break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    size_t k = 0;
    for (size_t j = 0; j < c->n_assigned; j++) {
        bool gone = false;
        for (size_t i = 0; i < n; i++)
            gone |= c->assigned[j] == parts[i];
        if (!gone)
            c->assigned[k++] = c->assigned[j];
    }
    c->n_assigned = k;
}

/* A partition still assigned whose worker stopped (it could not start, or
 * stopped on a commit the group refused) gets a new one, which starts at
 * the committed offset: the old one's records past it are read again. */
static void kafka_restart(rp__consumer *c)
{
    for (size_t j = 0; j < c->n_assigned; j++) {
        bool live = false;
        pthread_mutex_lock(&c->mu);
        for (shard_worker *w = c->workers; w; w = w->next)
            live |= w->partition == c->assigned[j] && !atomic_load(&w->done);
        pthread_mutex_unlock(&c->mu);
        if (live)
            continue;
        rp__ckpt_shard row = {0};
        snprintf(row.shard_id, sizeof row.shard_id, "%d", (int)c->assigned[j]);
        rp_log(RP_LOG_WARN, "the partition's worker stopped; starting another at the committed offset",
               "partition", row.shard_id, NULL);
        spawn(c, &row, c->assigned[j], true);
    }
}

static int run_kafka(rp__consumer *c, volatile sig_atomic_t *stop, rp_error *err)
{
    rp__kafka_group_config gc = {.streams = &c->cfg.streams,
                                 .topic = c->in_name,
                                 .group = c->group,
                                 .start = c->cfg.start_type,
                                 .start_timestamp_ms = c->cfg.start_timestamp_ms,
                                 .read_committed = c->cfg.exactly_once};
    rp__kafka_group_events ev = {.ctx = c, .assigned = kafka_assigned, .revoked = kafka_revoked};
    if (rp__kafka_group_open(&gc, &ev, &c->kg, err) < 0) {
        rp_error_prefix(err, "consumer group '%s'", c->group);
        return -1;
    }
    {
        char batch[16];
        snprintf(batch, sizeof batch, "%u", c->cfg.batch_size);
        rp_log(RP_LOG_INFO, "consume: started", "from", c->source, "to", c->out_spec, "group", c->group,
               "owner", c->owner, "batch_size", batch, NULL);
    }
    int rc = 0;
    int64_t last_log = mono_ms(), next_log = last_log + c->log_ms, next_restart = mono_ms() + 1000;
    uint64_t last_handled = 0;
    while (!*stop) {
        if (rp__kafka_group_poll(c->kg, 20, err) < 0) {
            rc = -1;
            break;
        }
        reap(c);
        int64_t now = mono_ms();
        if (now >= next_restart) {
            kafka_restart(c);
            next_restart = now + 1000;
        }
        if (now >= next_log) {
            log_summary(c, &last_handled, &last_log, false);
            next_log = now + c->log_ms;
        } else {
            update_gauges(c);
        }
    }
    /* Leaving the group revokes every partition: the workers finish their
     * batch, commit and stop. */
    atomic_store(&c->stop, true);
    rp__kafka_group_close(c->kg);
    c->kg = NULL;
    join_workers(c, &last_handled, &last_log);
    return rc;
}

/* The /metrics endpoint, when asked for (--metrics-listen). */
static int start_metrics(rp__consumer *c, rp__http_server **http, rp_error *err)
{
    *http = NULL;
    if (!c->cfg.metrics_listen)
        return 0;
    rp__http_server_config hc = {.listen = c->cfg.metrics_listen,
                                 .threads = 1,
                                 .max_connections = 64,
                                 .route = metrics_route,
                                 .route_ctx = c};
    if (rp__http_server_start(&hc, http, err) < 0) {
        rp_error_prefix(err, "--metrics-listen %s", c->cfg.metrics_listen);
        return -1;
    }
    char port[16];
    snprintf(port, sizeof port, "%u", rp__http_server_port(*http));
    rp_log(RP_LOG_INFO, "metrics at /metrics", "listen", c->cfg.metrics_listen, "port", port, NULL);
    return 0;
}

static int run_streams(rp__consumer *c, volatile sig_atomic_t *stop, rp_error *err);

int rp__consumer_run(rp__consumer *c, volatile sig_atomic_t *stop, rp_error *err)
{
    if (c->live && rp__monitor_live_start(c->live, err) < 0)
        return -1;
    int rc = run_streams(c, stop, err);
    if (c->live)
        rp__monitor_live_stop(c->live);
    return rc;
}

static int run_streams(rp__consumer *c, volatile sig_atomic_t *stop, rp_error *err)
{
    if (c->in_backend == RP_STREAM_BACKEND_KAFKA) {
        rp__http_server *http = NULL;
        if (start_metrics(c, &http, err) < 0)
            return -1;
        int rc = run_kafka(c, stop, err);
        if (http)
            rp__http_server_stop(http, 1000);
        return rc;
    }
    int rc = -1;
    rp_stream_conn *in = NULL;
    rp__lease *ck = NULL;
    rp__http_server *http = NULL;
    rp_stream_shard *shards = NULL;
    size_t n_shards = 0;
    if (rp_stream_open(c->in_backend, &c->cfg.streams, &in, err) < 0 ||
        rp__lease_open(c->store, &ck, err) < 0)
        goto out;
    for (int attempt = 1; rp_stream_list_shards(in, c->in_name, &shards, &n_shards, err) < 0; attempt++) {
        if (!unavailable(err)) {
            rp_error_prefix(err, "source stream '%s'", c->source);
            goto out;
        }
        int64_t ms = rp__retry_ceiling_ms(&backoff, (unsigned)attempt);
        char wait[24];
        snprintf(wait, sizeof wait, "%lld", (long long)ms);
        rp_log(RP_LOG_WARN, "cannot list the source's shards; waiting for the stream", "stream", c->source,
               "error", err->msg, "retry_in_ms", wait, NULL);
        for (int64_t end = mono_ms() + ms; !*stop && mono_ms() < end;) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (*stop) {
            rc = 0; /* stopped while waiting: nothing was read, nothing to checkpoint */
            goto out;
        }
    }
    if (start_metrics(c, &http, err) < 0)
        goto out;
    {
        char lease[16], batch[16];
        snprintf(lease, sizeof lease, "%u", c->lease_ms);
        snprintf(batch, sizeof batch, "%u", c->cfg.batch_size);
        rp_log(RP_LOG_INFO, "consume: started", "from", c->source, "to", c->out_spec, "group", c->group,
               "checkpoint_store", rp__lease_store_spec(c->store), "owner", c->owner, "lease_ms", lease,
               "batch_size", batch, NULL);
    }
    int64_t next_sync = 0, last_log = mono_ms(), next_log = last_log + c->log_ms;
    uint64_t last_handled = 0;
    while (!*stop) {
        int64_t now = mono_ms();
        if (reap(c) > 0)
            next_sync = 0; /* a shard may have ended: its children wait */
        if (now >= next_sync) {
            sync_leases(c, in, ck, &shards, &n_shards);
            next_sync = now + c->sync_ms;
        }
        if (now >= next_log) {
            log_summary(c, &last_handled, &last_log, false);
            next_log = now + c->log_ms;
        } else {
            update_gauges(c);
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_store(&c->stop, true);
    join_workers(c, &last_handled, &last_log);
    rp_error e2;
    if (rp__lease_leave(ck, &e2) < 0)
        rp_log(RP_LOG_WARN, "cannot remove this consumer from the group table", "error", e2.msg, NULL);
    rc = 0;
out:
    if (http)
        rp__http_server_stop(http, 1000);
    free(shards);
    rp__lease_close(ck);
    rp_stream_close(in);
    return rc;
}
