/* A member of a Kafka consumer group (kafka_group.h, docs/kafka.md). */
#include "stream/kafka/kafka_group.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ridepred/log.h"
#include "stream/kafka/kafka.h"
#include "stream/kafka/kafka_internal.h"

#define READ_CHUNK 512
#define META_TIMEOUT_MS 10000

/* An assigned partition: its queue, and the messages taken from the queue
 * that a read could not deliver (over its byte budget, or the callback
 * failed), delivered first by the next read. */
typedef struct part {
    rd_kafka_queue_t *q;
    rd_kafka_message_t *stash[READ_CHUNK];
    size_t stash_off, stash_n;
} part;

struct rp__kafka_group {
    rd_kafka_t *rk;
    rp__kafka_config cfg;
    rp__kafka_group_events ev;
    char topic[RP_STREAM_NAME_MAX + 1];
    char group[512];
    rp_stream_iterator start;
    int64_t start_ts;
    pthread_mutex_t mu; /* guards parts (the array; each part is its worker's) */
    part **parts;       /* by partition number; NULL: not assigned here */
    size_t n_parts;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static part *part_of(rp__kafka_group *g, int32_t p)
{
    pthread_mutex_lock(&g->mu);
    part *pt = p >= 0 && (size_t)p < g->n_parts ? g->parts[p] : NULL;
    pthread_mutex_unlock(&g->mu);
    return pt;
}

static void part_free(part *pt)
{
    if (!pt)
        return;
    for (size_t i = pt->stash_off; i < pt->stash_n; i++)
        rp__rdk.message_destroy(pt->stash[i]);
    if (pt->q)
        rp__rdk.queue_destroy(pt->q);
    free(pt);
}

/* Gives partition p a queue of its own (NULL: takes it away, with what
 * was fetched and not delivered). */
static int set_queue(rp__kafka_group *g, int32_t p, rd_kafka_queue_t *q)
{
    part *pt = NULL;
    if (q && !(pt = calloc(1, sizeof *pt))) {
        rp__rdk.queue_destroy(q);
        return -1;
    }
    if (pt)
        pt->q = q;
    pthread_mutex_lock(&g->mu);
    if ((size_t)p >= g->n_parts) {
        size_t n = (size_t)p + 16;
        part **np = realloc(g->parts, n * sizeof *np);
        if (!np) {
            pthread_mutex_unlock(&g->mu);
            part_free(pt);
            return -1;
        }
        memset(np + g->n_parts, 0, (n - g->n_parts) * sizeof *np);
        g->parts = np;
        g->n_parts = n;
    }
    part *old = g->parts[p];
    g->parts[p] = pt;
    pthread_mutex_unlock(&g->mu);
    part_free(old);
    return 0;
}

/* Partitions never committed start at the time asked for (AT_TIMESTAMP):
 * librdkafka's auto.offset.reset knows only earliest and latest. */
static void start_at_time(rp__kafka_group *g, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *c = rp__rdk.tpl_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        rp__rdk.tpl_add(c, parts->elems[i].topic, parts->elems[i].partition);
    if (rp__rdk.committed(g->rk, c, META_TIMEOUT_MS) == 0) {
        rd_kafka_topic_partition_list_t *t = rp__rdk.tpl_new(parts->cnt);
        for (int i = 0; i < c->cnt; i++)
            if (c->elems[i].offset < 0)
                rp__rdk.tpl_add(t, c->elems[i].topic, c->elems[i].partition)->offset = g->start_ts;
        if (t->cnt && rp__rdk.offsets_for_times(g->rk, t, META_TIMEOUT_MS) == 0) {
            for (int i = 0; i < t->cnt; i++)
                for (int j = 0; j < parts->cnt; j++)
                    if (parts->elems[j].partition == t->elems[i].partition && !t->elems[i].err)
                        parts->elems[j].offset =
                            t->elems[i].offset >= 0 ? t->elems[i].offset : RD_KAFKA_OFFSET_END;
        }
        rp__rdk.tpl_destroy(t);
    } else {
        rp_log(RP_LOG_WARN, "cannot read the committed offsets: partitions start as auto.offset.reset says",
               "topic", g->topic, NULL);
    }
    rp__rdk.tpl_destroy(c);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    rp__kafka_group *g = opaque;
    bool coop = !strcmp(rp__rdk.rebalance_protocol(rk), "COOPERATIVE");
    int32_t *ids = parts->cnt ? calloc((size_t)parts->cnt, sizeof *ids) : NULL;
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++)
        if (ids && !strcmp(parts->elems[i].topic, g->topic))
            ids[n++] = parts->elems[i].partition;
    rd_kafka_error_t *err = NULL;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (g->start == RP_STREAM_AT_TIMESTAMP)
            start_at_time(g, parts);
        /* Each partition's messages to its own queue, before any is fetched. */
        for (size_t i = 0; i < n; i++) {
            rd_kafka_queue_t *q = rp__rdk.queue_get_partition(rk, g->topic, ids[i]);
            if (q) {
                rp__rdk.queue_forward(q, NULL);
                if (set_queue(g, ids[i], q) < 0)
                    rp_log(RP_LOG_ERROR, "out of memory taking a partition", NULL);
            }
        }
        if (coop)
            err = rp__rdk.incremental_assign(rk, parts);
        else
            rp__rdk.assign(rk, parts);
        if (err) {
            char why[512];
            snprintf(why, sizeof why, "%s", rp__rdk.error_string(err));
            rp__rdk.error_destroy(err);
            rp_log(RP_LOG_ERROR, "cannot take the partitions the group assigned", "error", why, NULL);
        } else if (n) {
            g->ev.assigned(g->ev.ctx, ids, n);
        }
    } else {
        bool lost = rp__rdk.assignment_lost(rk) != 0;
        if (n)
            g->ev.revoked(g->ev.ctx, ids, n, lost);
        for (size_t i = 0; i < n; i++)
            set_queue(g, ids[i], NULL);
        if (coop)
            err = rp__rdk.incremental_unassign(rk, parts);
        else
            rp__rdk.assign(rk, NULL);
        if (err)
            rp__rdk.error_destroy(err);
    }
    free(ids);
}

int rp__kafka_group_open(const rp__kafka_group_config *cfg, const rp__kafka_group_events *ev,
                         rp__kafka_group **out, rp_error *err)
{
    *out = NULL;
    if (rp__kafka_load(err) < 0)
        return -1;
    rp__kafka_group *g = calloc(1, sizeof *g);
    if (!g)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    g->ev = *ev;
    g->start = cfg->start;
    g->start_ts = cfg->start_timestamp_ms;
    snprintf(g->topic, sizeof g->topic, "%s", cfg->topic);
    snprintf(g->group, sizeof g->group, "%s", cfg->group);
    if (rp__kafka_config_load(cfg->streams, &g->cfg, err) < 0) {
        rp__kafka_group_close(g);
        return -1;
    }
    char group[600], reset[64];
    snprintf(group, sizeof group, "group.id=%s", cfg->group);
    snprintf(reset, sizeof reset, "auto.offset.reset=%s",
             cfg->start == RP_STREAM_LATEST ? "latest" : "earliest");
    const char *extra[] = {
        group, reset,
        cfg->read_committed ? "isolation.level=read_committed" : "isolation.level=read_uncommitted", NULL};
    rd_kafka_conf_t *conf = rp__kafka_conf(&g->cfg, RP_KAFKA_GROUP_CONSUMER, extra, err);
    if (!conf) {
        rp__kafka_group_close(g);
        return -1;
    }
    rp__rdk.conf_set_rebalance_cb(conf, rebalance_cb);
    rp__rdk.conf_set_opaque(conf, g);
    if (!(g->rk = rp__kafka_handle_new(RD_KAFKA_CONSUMER, conf, err))) {
        rp__kafka_group_close(g);
        return -1;
    }
    rp__rdk.poll_set_consumer(g->rk);
    rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
    rp__rdk.tpl_add(l, g->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rp__rdk.subscribe(g->rk, l);
    rp__rdk.tpl_destroy(l);
    if (e) {
        rp__kafka_error(err, e, "subscribing to %s", g->topic);
        rp__kafka_group_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

int rp__kafka_group_poll(rp__kafka_group *g, int timeout_ms, rp_error *err)
{
    rd_kafka_message_t *m = rp__rdk.consumer_poll(g->rk, timeout_ms);
    if (!m)
        return 0;
    int rc = 0;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t fe = rp__rdk.fatal_error(g->rk, why, sizeof why);
        rc = rp__kafka_error(err, fe, "the consumer failed: %s", why);
    } else if (m->err) {
        /* The cluster is unreachable, a broker went away...: librdkafka
         * retries on its own; say so. */
        char why[256];
        snprintf(why, sizeof why, "%s: %.*s", rp__rdk.err2name(m->err), (int)(m->len < 200 ? m->len : 200),
                 m->payload ? (const char *)m->payload : "");
        rp_log(RP_LOG_WARN, "Kafka consumer: the cluster reports a problem; librdkafka retries", "topic",
               g->topic, "error", why, NULL);
    }
    rp__rdk.message_destroy(m);
    return rc;
}

int rp__kafka_group_read(rp__kafka_group *g, int32_t partition, uint32_t limit, size_t max_bytes,
                         int timeout_ms, rp_stream_record_fn cb, void *ctx, int64_t *lag_ms, rp_error *err)
{
    part *pt = part_of(g, partition);
    if (lag_ms)
        *lag_ms = 0;
    if (!pt)
        return rp_error_set(err, RP_ERR_NOT_FOUND,
                            "partition %" PRId32 " of %s is not assigned to this consumer", partition,
                            g->topic);
    char seq[RP_I64_DEC_MAX], shard[16];
    snprintf(shard, sizeof shard, "%" PRId32, partition);
    uint32_t got = 0;
    size_t bytes = 0;
    int64_t last = -1, last_ts = 0;
    int rc = 0;
    bool full = false;
    while (got < limit && !full && rc == 0) {
        if (pt->stash_off == pt->stash_n) {
            size_t want = limit - got < READ_CHUNK ? limit - got : READ_CHUNK;
            ssize_t n = rp__rdk.consume_batch_queue(pt->q, got ? 0 : timeout_ms, pt->stash, want);
            if (n <= 0)
                break;
            pt->stash_off = 0;
            pt->stash_n = (size_t)n;
        }
        while (pt->stash_off < pt->stash_n && got < limit) {
            rd_kafka_message_t *m = pt->stash[pt->stash_off];
            if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                /* What came before is good; the error is the caller's only
                 * when nothing did (the message is consumed: it is a
                 * report, not a record). */
                if (!got)
                    rc = rp__kafka_error(err, m->err, "reading %s partition %" PRId32, g->topic, partition);
                pt->stash_off++;
                rp__rdk.message_destroy(m);
                if (rc)
                    break;
                continue;
            }
            if (m->err) { /* end of partition */
                pt->stash_off++;
                rp__rdk.message_destroy(m);
                continue;
            }
            size_t b = m->len + m->key_len;
            if (got && bytes + b > max_bytes) {
                full = true; /* this one waits in the stash for the next read */
                break;
            }
            rp_stream_record r;
            rp__kafka_record(m, shard, seq, &r);
            if (cb(ctx, &r) != 0) {
                /* Kept in the stash: the next read delivers it again. */
                rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory holding the records read");
                break;
            }
            last_ts = r.arrival_ms;
            last = m->offset;
            bytes += b;
            got++;
            pt->stash_off++;
            rp__rdk.message_destroy(m);
        }
    }
    if (got)
        rc = 0; /* what was delivered is the caller's; an error comes back next time */
    if (rc == 0 && lag_ms && last >= 0) {
        int64_t lo = 0, hi = 0;
        if (pt->stash_off < pt->stash_n) {
            *lag_ms = 1;
        } else if (!rp__rdk.get_watermark_offsets(g->rk, g->topic, partition, &lo, &hi) && hi > last + 1) {
            int64_t age = wall_ms() - last_ts;
            *lag_ms = last_ts && age > 0 ? age : 1;
        }
    }
    return rc;
}

int rp__kafka_group_commit(rp__kafka_group *g, int32_t partition, const char *offset, rp_error *err)
{
    char *end;
    long long off = strtoll(offset, &end, 10);
    if (!*offset || *end || off < 0)
        return rp_error_set(err, RP_ERR_INVALID, "not a Kafka offset: '%s'", offset);
    if (!part_of(g, partition))
        return 1;
    rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
    rp__rdk.tpl_add(l, g->topic, partition)->offset = off + 1;
    rd_kafka_resp_err_t e = rp__rdk.offsets_store(g->rk, l);
    if (!e)
        e = l->elems[0].err;
    rp__rdk.tpl_destroy(l);
    if (!e)
        return 0;
    if (e == RD_KAFKA_RESP_ERR__STATE || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return 1; /* no longer assigned here */
    return rp__kafka_error(err, e, "storing the offset of %s partition %" PRId32 " at %lld", g->topic,
                           partition, off + 1);
}

int rp__kafka_group_rewind(rp__kafka_group *g, int32_t partition, rp_error *err)
{
    rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
    rp__rdk.tpl_add(l, g->topic, partition);
    rd_kafka_resp_err_t e = rp__rdk.committed(g->rk, l, META_TIMEOUT_MS);
    if (!e)
        e = l->elems[0].err;
    if (e) {
        rp__rdk.tpl_destroy(l);
        return rp__kafka_error(err, e, "reading the committed offset of %s partition %" PRId32, g->topic,
                               partition);
    }
    if (l->elems[0].offset < 0) {
        int64_t lo = 0, hi = 0;
        e = rp__rdk.query_watermark_offsets(g->rk, g->topic, partition, &lo, &hi, META_TIMEOUT_MS);
        if (e) {
            rp__rdk.tpl_destroy(l);
            return rp__kafka_error(err, e, "offsets of %s partition %" PRId32, g->topic, partition);
        }
        l->elems[0].offset = g->start == RP_STREAM_LATEST ? hi : lo;
    }
    /* What this process fetched past the committed offset goes. */
    part *pt = part_of(g, partition);
    if (pt) {
        for (size_t i = pt->stash_off; i < pt->stash_n; i++)
            rp__rdk.message_destroy(pt->stash[i]);
        pt->stash_off = pt->stash_n = 0;
    }
    rd_kafka_error_t *se = rp__rdk.seek_partitions(g->rk, l, META_TIMEOUT_MS);
    if (!se && l->elems[0].err)
        e = l->elems[0].err;
    rp__rdk.tpl_destroy(l);
    if (se)
        return rp__kafka_error_obj(err, se, "moving back to the committed offset");
    if (e)
        return rp__kafka_error(err, e, "moving %s partition %" PRId32 " back to its committed offset",
                               g->topic, partition);
    return 0;
}

/* ---- transactions ------------------------------------------------------------- */

struct rp__kafka_txn {
    rp__kafka_group *g;
    rd_kafka_t *rk;
    int32_t partition;
    bool open;   /* a transaction begun and not yet ended */
    int pending; /* deliveries not reported yet (this thread polls) */
    rp_stream_put_result *results;
};

static void txn_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    rp__kafka_txn *t = opaque;
    rp__kafka_delivery_result(m, &t->results[(size_t)(uintptr_t)m->_private]);
    t->pending--;
}

int rp__kafka_txn_open(rp__kafka_group *g, int32_t partition, rp__kafka_txn **out, rp_error *err)
{
    *out = NULL;
    rp__kafka_txn *t = calloc(1, sizeof *t);
    if (!t)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    t->g = g;
    t->partition = partition;
    char id[900];
    /* group, topic and partition: stable across processes and restarts. */
    snprintf(id, sizeof id, "transactional.id=ridepred-%s-%s-%" PRId32, g->group, g->topic, partition);
    const char *extra[] = {id, NULL};
    rd_kafka_conf_t *conf = rp__kafka_conf(&g->cfg, RP_KAFKA_TXN_PRODUCER, extra, err);
    if (!conf) {
        free(t);
        return -1;
    }
    rp__rdk.conf_set_dr_msg_cb(conf, txn_dr_cb);
    rp__rdk.conf_set_opaque(conf, t);
    if (!(t->rk = rp__kafka_handle_new(RD_KAFKA_PRODUCER, conf, err))) {
        free(t);
        return -1;
    }
    rd_kafka_error_t *e = rp__rdk.init_transactions(t->rk, 30000);
    if (e) {
        rp__kafka_error_obj(err, e, "initialising the partition's transactions");
        rp__rdk.destroy(t->rk);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static int txn_begin(rp__kafka_txn *t, rp_error *err)
{
    if (t->open)
        return 0;
    rd_kafka_error_t *e = rp__rdk.begin_transaction(t->rk);
    if (e)
        return rp__kafka_error_obj(err, e, "beginning a transaction");
    t->open = true;
    return 0;
}

/* Aborts the open transaction (best effort: a fenced producer cannot). */
static void txn_abort(rp__kafka_txn *t)
{
    if (!t->open)
        return;
    rd_kafka_error_t *e = rp__rdk.abort_transaction(t->rk, 30000);
    if (e)
        rp__rdk.error_destroy(e);
    t->open = false;
}

int rp__kafka_txn_put(rp__kafka_txn *t, const char *topic, const rp_stream_entry *entries, size_t n,
                      rp_stream_put_result *results, rp_error *err)
{
    for (size_t i = 0; i < n; i++)
        results[i] = (rp_stream_put_result){0};
    if (txn_begin(t, err) < 0)
        return -1;
    rd_kafka_topic_t *rkt = rp__rdk.topic_new(t->rk, topic, NULL);
    if (!rkt)
        return rp__kafka_error(err, rp__rdk.last_error(), "topic %s (producing in a transaction)", topic);
    t->results = results;
    t->pending = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rp__kafka_produce(t->rk, rkt, &entries[i], (void *)(uintptr_t)i, &results[i]) != 0)
            rc = rp_error_set(err, RP_ERR_IO, "%s: %s (producing in a transaction)", results[i].error_code,
                              results[i].error_message);
        else
            t->pending++;
    }
    while (t->pending > 0)
        rp__rdk.poll(t->rk, 5);
    rp__rdk.topic_destroy(rkt);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!results[i].ok)
            rc = rp_error_set(err, RP_ERR_IO, "%s: %s (a prediction in a transaction)", results[i].error_code,
                              results[i].error_message);
    t->results = NULL;
    if (rc < 0)
        txn_abort(t);
    return rc;
}

int rp__kafka_txn_commit(rp__kafka_txn *t, const char *offset, rp_error *err)
{
    char *end;
    long long off = strtoll(offset, &end, 10);
    if (!*offset || *end || off < 0)
        return rp_error_set(err, RP_ERR_INVALID, "not a Kafka offset: '%s'", offset);
    if (txn_begin(t, err) < 0) {
        /* Fenced: another process took the partition. */
        return 1;
    }
    rd_kafka_topic_partition_list_t *l = rp__rdk.tpl_new(1);
    rp__rdk.tpl_add(l, t->g->topic, t->partition)->offset = off + 1;
    rd_kafka_consumer_group_metadata_t *md = rp__rdk.consumer_group_metadata(t->g->rk);
    rd_kafka_error_t *e = rp__rdk.send_offsets_to_transaction(t->rk, l, md, 30000);
    rp__rdk.consumer_group_metadata_destroy(md);
    rp__rdk.tpl_destroy(l);
    if (!e)
        e = rp__rdk.commit_transaction(t->rk, 30000);
    if (!e) {
        t->open = false;
        return 0;
    }
    bool abort = rp__rdk.error_txn_requires_abort(e), fatal = rp__rdk.error_is_fatal(e);
    bool retriable = rp__rdk.error_is_retriable(e);
    rp__kafka_error_obj(err, e, "committing a transaction");
    if (retriable && !abort && !fatal) {
        err->retriable = true;
        return -1;
    }
    txn_abort(t);
    return 1;
}

void rp__kafka_txn_close(rp__kafka_txn *t)
{
    if (!t)
        return;
    txn_abort(t);
    rp__rdk.destroy(t->rk);
    free(t);
}

void rp__kafka_group_close(rp__kafka_group *g)
{
    if (!g)
        return;
    if (g->rk) {
        rp__rdk.consumer_close(g->rk); /* the last revocation runs the events */
        for (size_t i = 0; i < g->n_parts; i++)
            part_free(g->parts[i]);
        rp__rdk.destroy(g->rk);
    }
    free(g->parts);
    rp__kafka_config_free(&g->cfg);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
