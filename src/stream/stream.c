/* The stream interface: naming rules and dispatch to a backend (the local
 * store, src/stream/local/, or Amazon Kinesis, src/stream/kinesis/). */
#include "ridepred/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/credentials.h"
#include "stream/kafka/kafka.h"
#include "stream/kinesis/kinesis.h"
#include "stream/local/local_store.h"

struct rp_stream_conn {
    rp_stream_backend backend;
    rp__local_store *local; /* RP_STREAM_BACKEND_LOCAL */
    rp__kinesis *kinesis;   /* RP_STREAM_BACKEND_KINESIS */
    rp__kafka *kafka;       /* RP_STREAM_BACKEND_KAFKA */
    int replication_factor; /* Kafka: topics made by rp_stream_create */
};

const char *rp_stream_backend_name(rp_stream_backend b)
{
    switch (b) {
    case RP_STREAM_BACKEND_KINESIS: return "kinesis";
    case RP_STREAM_BACKEND_LOCAL: return "local";
    case RP_STREAM_BACKEND_KAFKA: return "kafka";
    default: return "auto";
    }
}

/* The copy and its strings in one allocation: the struct, the pair
 * pointers, then the text. */
rp_stream_config *rp_stream_config_dup(const rp_stream_config *cfg)
{
    const char *strs[] = {cfg->local_store, cfg->endpoint_url,  cfg->endpoint_source,
                          cfg->region,      cfg->kafka_brokers, cfg->kafka_config_file};
    size_t ns = sizeof strs / sizeof strs[0], text = 0;
    for (size_t i = 0; i < ns; i++)
        text += strs[i] ? strlen(strs[i]) + 1 : 0;
    for (size_t i = 0; i < cfg->kafka_config_n; i++)
        text += strlen(cfg->kafka_config[i]) + 1;
    size_t head = sizeof *cfg + cfg->kafka_config_n * sizeof(char *);
    rp_stream_config *c = malloc(head + text);
    if (!c)
        return NULL;
    *c = *cfg;
    const char **pairs = (const char **)(c + 1);
    char *p = (char *)c + head;
    const char **dst[] = {&c->local_store, &c->endpoint_url,  &c->endpoint_source,
                          &c->region,      &c->kafka_brokers, &c->kafka_config_file};
    for (size_t i = 0; i < ns; i++) {
        if (!strs[i])
            continue;
        size_t l = strlen(strs[i]) + 1;
        memcpy(p, strs[i], l);
        *dst[i] = p;
        p += l;
    }
    for (size_t i = 0; i < cfg->kafka_config_n; i++) {
        size_t l = strlen(cfg->kafka_config[i]) + 1;
        memcpy(p, cfg->kafka_config[i], l);
        pairs[i] = p;
        p += l;
    }
    c->kafka_config = cfg->kafka_config_n ? pairs : NULL;
    return c;
}

void rp_stream_config_free(rp_stream_config *cfg)
{
    free(cfg);
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > RP_STREAM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int rp_stream_parse_name(const char *spec, const rp_stream_config *cfg, rp_stream_backend *backend,
                         char name[RP_STREAM_NAME_MAX + 1], rp_error *err)
{
    rp_stream_backend b = RP_STREAM_BACKEND_AUTO;
    const char *n = spec;
    if (!strncmp(spec, "kinesis:", 8)) {
        b = RP_STREAM_BACKEND_KINESIS;
        n = spec + 8;
    } else if (!strncmp(spec, "local:", 6)) {
        b = RP_STREAM_BACKEND_LOCAL;
        n = spec + 6;
    } else if (!strncmp(spec, "kafka:", 6)) {
        b = RP_STREAM_BACKEND_KAFKA;
        n = spec + 6;
    }
    size_t len = strlen(n);
    if (!valid_name(n, len))
        return rp_error_set(
            err, RP_ERR_INVALID,
            "stream name '%.*s' is not 1 to %d characters of letters, digits, '_', '.', '-' (optionally prefixed kinesis:, local: or kafka:)",
            (int)(len > 140 ? 140 : len), n, RP_STREAM_NAME_MAX);
    if (b == RP_STREAM_BACKEND_AUTO && cfg && cfg->backend != RP_STREAM_BACKEND_AUTO)
        b = cfg->backend;
    if (b == RP_STREAM_BACKEND_AUTO) {
        const char *from;
        bool endpoint =
            (cfg && cfg->endpoint_url && *cfg->endpoint_url) || rp__aws_endpoint_from_env("KINESIS", &from);
        bool brokers = cfg && cfg->kafka_brokers && *cfg->kafka_brokers;
        b = endpoint  ? RP_STREAM_BACKEND_KINESIS
            : brokers ? RP_STREAM_BACKEND_KAFKA
                      : RP_STREAM_BACKEND_LOCAL;
    }
    memcpy(name, n, len + 1);
    *backend = b;
    return 0;
}

int rp_stream_open(rp_stream_backend backend, const rp_stream_config *cfg, rp_stream_conn **out,
                   rp_error *err)
{
    *out = NULL;
    if (backend != RP_STREAM_BACKEND_LOCAL && backend != RP_STREAM_BACKEND_KINESIS &&
        backend != RP_STREAM_BACKEND_KAFKA)
        return rp_error_set(err, RP_ERR_INVALID, "no backend chosen");
    rp_stream_conn *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    s->backend = backend;
    s->replication_factor = cfg && cfg->kafka_replication_factor > 0 ? cfg->kafka_replication_factor : -1;
    int rc;
    if (backend == RP_STREAM_BACKEND_KINESIS) {
        rp__kinesis_options ko = {
            .endpoint_url = cfg ? cfg->endpoint_url : NULL,
            .endpoint_source = cfg ? cfg->endpoint_source : NULL,
            .region = cfg ? cfg->region : NULL,
        };
        rc = rp__kinesis_open(&ko, &s->kinesis, err);
    } else if (backend == RP_STREAM_BACKEND_KAFKA) {
        rc = rp__kafka_open(cfg, &s->kafka, err);
    } else {
        rc = rp__local_open(cfg ? cfg->local_store : NULL, &s->local, err);
    }
    if (rc < 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void rp_stream_close(rp_stream_conn *s)
{
    if (!s)
        return;
    rp__local_close(s->local);
    rp__kinesis_close(s->kinesis);
    rp__kafka_close(s->kafka);
    free(s);
}

rp_stream_backend rp_stream_conn_backend(const rp_stream_conn *s)
{
    return s->backend;
}

int rp_stream_create(rp_stream_conn *s, const char *name, uint32_t shards, rp_error *err)
{
    if (s->kafka)
        return rp__kafka_create_topic(s->kafka, name, shards, s->replication_factor, err);
    if (s->kinesis)
        return rp__kinesis_create_stream(s->kinesis, name, shards, err);
    return rp__local_create_stream(s->local, name, shards, 0, err);
}

int rp_stream_delete(rp_stream_conn *s, const char *name, rp_error *err)
{
    if (s->kafka)
        return rp__kafka_delete_topic(s->kafka, name, err);
    if (s->kinesis)
        return rp__kinesis_delete_stream(s->kinesis, name, err);
    return rp__local_delete_stream(s->local, name, err);
}

int rp_stream_list(rp_stream_conn *s, rp_stream_info **out, size_t *count, rp_error *err)
{
    if (s->kafka)
        return rp__kafka_list_topics(s->kafka, out, count, err);
    if (s->kinesis)
        return rp__kinesis_list_streams(s->kinesis, out, count, err);
    return rp__local_list_streams(s->local, out, count, err);
}

int rp_stream_describe(rp_stream_conn *s, const char *name, rp_stream_info *out, rp_error *err)
{
    if (s->kafka)
        return rp__kafka_describe_topic(s->kafka, name, out, err);
    if (s->kinesis)
        return rp__kinesis_describe_stream(s->kinesis, name, out, err);
    return rp__local_describe_stream(s->local, name, out, err);
}

int rp_stream_list_shards(rp_stream_conn *s, const char *name, rp_stream_shard **out, size_t *count,
                          rp_error *err)
{
    if (s->kafka)
        return rp__kafka_list_partitions(s->kafka, name, out, count, err);
    if (s->kinesis)
        return rp__kinesis_list_shards(s->kinesis, name, out, count, err);
    return rp__local_list_shards(s->local, name, out, count, err);
}

int rp_stream_update_shard_count(rp_stream_conn *s, const char *name, uint32_t target, rp_error *err)
{
    if (s->kafka)
        return rp_error_set(
            err, RP_ERR_UNSUPPORTED,
            "Kafka topics are not resharded by ridepred: add partitions with the cluster's tools (kafka-topics --alter --partitions N)");
    if (s->kinesis)
        return rp__kinesis_update_shard_count(s->kinesis, name, target, err);
    return rp__local_update_shard_count(s->local, name, target, err);
}

rp__kafka *rp__stream_kafka(rp_stream_conn *s)
{
    return s ? s->kafka : NULL;
}

int rp_stream_put(rp_stream_conn *s, const char *name, const rp_stream_entry *entries, size_t n,
                  rp_stream_put_result *results, rp_error *err)
{
    if (s->kafka)
        return rp__kafka_put(s->kafka, name, entries, n, results, err);
    /* Kinesis: chunks, per-entry retries and reporting in the client. */
    if (s->kinesis)
        return rp__kinesis_put_records(s->kinesis, name, entries, n, results, err);
    /* Chunks as PutRecords takes them.  The local store refuses only
     * invalid entries or fails as a whole (a busy file is retried inside
     * SQLite's busy timeout), so there is nothing to retry here. */
    size_t i = 0;
    while (i < n) {
        size_t j = i, bytes = 0;
        while (j < n && j - i < RP_STREAM_PUT_BATCH_MAX) {
            size_t b = entries[j].data_len + entries[j].partition_key_len;
            if (j > i && bytes + b > RP_STREAM_PUT_BYTES_MAX)
                break;
            bytes += b;
            j++;
        }
        if (rp__local_put_records(s->local, name, entries + i, j - i, results + i, err) < 0) {
            for (size_t k = j; k < n; k++) {
                results[k].ok = false;
                snprintf(results[k].error_code, sizeof results[k].error_code, "NotAttempted");
                snprintf(results[k].error_message, sizeof results[k].error_message,
                         "an earlier chunk failed");
            }
            return -1;
        }
        i = j;
    }
    return 0;
}

int rp_stream_get_iterator(rp_stream_conn *s, const char *name, const char *shard_id, rp_stream_iterator type,
                           const char *sequence_number, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                           rp_error *err)
{
    if (s->kafka)
        return rp__kafka_get_iterator(s->kafka, name, shard_id, type, sequence_number, timestamp_ms, iter,
                                      err);
    if (s->kinesis)
        return rp__kinesis_get_iterator(s->kinesis, name, shard_id, type, sequence_number, timestamp_ms, iter,
                                        err);
    return rp__local_get_iterator(s->local, name, shard_id, type, sequence_number, timestamp_ms, iter, err);
}

int rp_stream_get_records(rp_stream_conn *s, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                          void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                          rp_error *err)
{
    if (s->kafka)
        return rp__kafka_get_records(s->kafka, iter, limit, cb, ctx, next_iter, millis_behind_latest, err);
    if (s->kinesis)
        return rp__kinesis_get_records(s->kinesis, iter, limit, cb, ctx, next_iter, millis_behind_latest,
                                       err);
    return rp__local_get_records(s->local, iter, limit, cb, ctx, next_iter, millis_behind_latest, err);
}

/* rp_stream_scan's callback: counts the records of a page and passes
 * them on. */
typedef struct scan_page {
    rp_stream_record_fn cb;
    void *ctx;
    size_t n;
} scan_page;

static int count_record(void *ctx, const rp_stream_record *rec)
{
    scan_page *p = ctx;
    p->n++;
    return p->cb(p->ctx, rec);
}

int rp_stream_scan(rp_stream_conn *s, const char *name, rp_stream_record_fn cb, void *ctx, rp_error *err)
{
    rp_stream_shard *shards = NULL;
    size_t n = 0;
    if (rp_stream_list_shards(s, name, &shards, &n, err) < 0)
        return -1;
    int rc = 0;
    char iter[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rp_stream_get_iterator(s, name, shards[i].shard_id, RP_STREAM_TRIM_HORIZON, NULL, 0, iter, err) <
            0) {
            rc = -1;
            break;
        }
        while (iter[0]) {
            int64_t behind = 0;
            scan_page c = {cb, ctx, 0};
            if (rp_stream_get_records(s, iter, 10000, count_record, &c, next, &behind, err) < 0) {
                rc = -1;
                break;
            }
            memcpy(iter, next, sizeof next);
            if (c.n == 0 && behind == 0)
                break; /* at the tip of this shard */
        }
    }
    free(shards);
    return rc;
}

void rp_stream_put_reason(const rp_stream_put_result *r, char *buf, size_t cap)
{
    size_t cl = strlen(r->error_code);
    if (cl && !strncmp(r->error_message, r->error_code, cl))
        snprintf(buf, cap, "%s", r->error_message);
    else
        snprintf(buf, cap, "%s: %s", r->error_code, r->error_message);
}
