/* ridepred: streams (docs/streams.md).  One interface, three backends: Amazon
 * Kinesis (JSON 1.1 API over HTTPS), an embedded local store (SQLite) and
 * Apache Kafka (librdkafka; docs/kafka.md).
 *
 * Backends: src/stream/local/ (SQLite), src/stream/kinesis/ (the JSON 1.1
 * API through src/aws/) and src/stream/kafka/; docs/streams.md.
 *
 * Semantics shared by Kinesis and the local store (Kafka's topics,
 * partitions and offsets map onto them as src/stream/kafka/kafka.h says): a stream has shards, each owning an
 * equal slice of the 128-bit hash-key space; a record goes to the shard
 * whose range holds MD5(partition key) read as a 128-bit big-endian number
 * (or an explicit hash key); sequence numbers are decimal strings that
 * increase within a shard; iterators start at TRIM_HORIZON, LATEST,
 * AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP.
 *
 * Every name here starts rp_stream_ (types and functions) or RP_STREAM_
 * (constants); a connection to a backend is an rp_stream_conn. */
#ifndef RIDEPRED_STREAM_H
#define RIDEPRED_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RP_STREAM_NAME_MAX 128    /* Kinesis: 1-128 of [a-zA-Z0-9_.-] */
#define RP_STREAM_SHARD_ID_MAX 64 /* "shardId-000000000000" */
#define RP_STREAM_SEQ_MAX 128     /* decimal digits */
#define RP_STREAM_ITER_MAX 1024   /* opaque iterator text (Kinesis: up to 512, plus the shard id) */
#define RP_STREAM_RECORD_MAX ((size_t)1024 * 1024) /* data + partition key */
#define RP_STREAM_PK_MAX 256                       /* partition key: 1-256 characters */
#define RP_STREAM_PUT_BATCH_MAX 500                /* PutRecords: records per call */
#define RP_STREAM_PUT_BYTES_MAX ((size_t)5 * 1024 * 1024)

typedef enum rp_stream_iterator {
    RP_STREAM_TRIM_HORIZON = 1,
    RP_STREAM_LATEST,
    RP_STREAM_AT_SEQUENCE_NUMBER,
    RP_STREAM_AFTER_SEQUENCE_NUMBER,
    RP_STREAM_AT_TIMESTAMP
} rp_stream_iterator;

typedef struct rp_stream_shard {
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    char parent_shard_id[RP_STREAM_SHARD_ID_MAX];                  /* "" when none */
    char adjacent_parent_shard_id[RP_STREAM_SHARD_ID_MAX];         /* "" when none */
    char hash_start[40], hash_end[40];                             /* decimal, inclusive */
    char seq_start[RP_STREAM_SEQ_MAX], seq_end[RP_STREAM_SEQ_MAX]; /* seq_end "" while open */
} rp_stream_shard;

typedef struct rp_stream_info {
    char name[RP_STREAM_NAME_MAX + 1];
    char status[16]; /* CREATING, ACTIVE, UPDATING, DELETING */
    uint32_t open_shards;
    uint32_t retention_hours;
    int64_t created_ms; /* epoch milliseconds */
} rp_stream_info;

/* One record to put.  The library copies nothing: the views must live
 * until the call returns. */
typedef struct rp_stream_entry {
    const void *data;
    size_t data_len;
    const char *partition_key;
    size_t partition_key_len;
} rp_stream_entry;

/* The outcome of one put entry, as PutRecords reports it. */
typedef struct rp_stream_put_result {
    bool ok;
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    char sequence_number[RP_STREAM_SEQ_MAX];
    char error_code[64]; /* e.g. ProvisionedThroughputExceededException */
    char error_message[256];
    bool too_large; /* refused for its size (Kafka: over message.max.bytes): a smaller record may pass */
} rp_stream_put_result;

/* A record read back.  Views into the backend's buffers, valid during the
 * callback only. */
typedef struct rp_stream_record {
    const char *shard_id;
    const char *sequence_number;
    const char *partition_key;
    size_t partition_key_len;
    const unsigned char *data;
    size_t data_len;
    int64_t arrival_ms; /* approximate arrival, epoch milliseconds */
} rp_stream_record;

typedef int (*rp_stream_record_fn)(void *ctx, const rp_stream_record *rec);

/* ---- Choosing a backend and naming streams (docs/handler.md §9) ---- */

typedef enum rp_stream_backend {
    RP_STREAM_BACKEND_AUTO = 0, /* decide by the rules of rp_stream_parse_name */
    RP_STREAM_BACKEND_KINESIS,
    RP_STREAM_BACKEND_LOCAL,
    RP_STREAM_BACKEND_KAFKA
} rp_stream_backend;

/* Where the streams are.  The library reads no environment for these: the
 * command line fills them (src/cli/stream_opts.c: flags, then variables). */
typedef struct rp_stream_config {
    rp_stream_backend backend;   /* for bare names; AUTO: see rp_stream_parse_name */
    const char *local_store;     /* the local store's file (required for the local backend) */
    const char *endpoint_url;    /* Kinesis endpoint; NULL: the AWS SDKs' variables, else AWS's */
    const char *endpoint_source; /* where endpoint_url came from, for errors; NULL: "--endpoint-url" */
    const char *region;          /* NULL: the AWS chain (AWS_REGION, AWS_DEFAULT_REGION, profile) */
    /* Kafka (docs/kafka.md): the bootstrap brokers "HOST:PORT,...", then a
     * properties file and KEY=VALUE librdkafka properties (later wins). */
    const char *kafka_brokers;
    const char *kafka_config_file;
    const char *const *kafka_config;
    size_t kafka_config_n;
    bool kafka_msk_iam;           /* SASL/OAUTHBEARER tokens for Amazon MSK IAM */
    int kafka_replication_factor; /* topics made by rp_stream_create; 0 or -1: the broker's default */
} rp_stream_config;

/* A deep copy of cfg (every string and the Kafka pairs), owned by the
 * caller, freed with rp_stream_config_free.  NULL when out of memory. */
rp_stream_config *rp_stream_config_dup(const rp_stream_config *cfg);
void rp_stream_config_free(rp_stream_config *cfg);

/* Parses "kinesis:NAME", "local:NAME", "kafka:NAME" or a bare NAME.  A bare name goes to
 * cfg->backend when set, else to Kinesis when a Kinesis endpoint is known
 * (cfg->endpoint_url, or the SDKs' AWS_ENDPOINT_URL_KINESIS or
 * AWS_ENDPOINT_URL), else to Kafka when brokers are given
 * (cfg->kafka_brokers), else to the local store.
 * Writes the bare name (1-128 of [a-zA-Z0-9_.-]) into name.  Returns 0, or
 * -1 (RP_ERR_INVALID) for a bad name or backend value. */
int rp_stream_parse_name(const char *spec, const rp_stream_config *cfg, rp_stream_backend *backend,
                         char name[RP_STREAM_NAME_MAX + 1], rp_error *err);

/* "kinesis", "local" or "kafka". */
const char *rp_stream_backend_name(rp_stream_backend b);

/* ---- One interface over both backends ---- */

typedef struct rp_stream_conn rp_stream_conn;

/* Connects to a backend (AUTO is not accepted here: parse a name first).
 * The handle is for one thread at a time.  Returns -1 when the backend
 * cannot be reached or is not available in this build. */
int rp_stream_open(rp_stream_backend backend, const rp_stream_config *cfg, rp_stream_conn **out,
                   rp_error *err);
void rp_stream_close(rp_stream_conn *s);
rp_stream_backend rp_stream_conn_backend(const rp_stream_conn *s);

int rp_stream_create(rp_stream_conn *s, const char *name, uint32_t shards, rp_error *err);
int rp_stream_delete(rp_stream_conn *s, const char *name, rp_error *err);
/* *out: malloc'd array the caller frees. */
int rp_stream_list(rp_stream_conn *s, rp_stream_info **out, size_t *count, rp_error *err);
int rp_stream_describe(rp_stream_conn *s, const char *name, rp_stream_info *out, rp_error *err);
/* *out: malloc'd array the caller frees. */
int rp_stream_list_shards(rp_stream_conn *s, const char *name, rp_stream_shard **out, size_t *count,
                          rp_error *err);
int rp_stream_update_shard_count(rp_stream_conn *s, const char *name, uint32_t target, rp_error *err);

/* Why a put entry failed, "CODE: MESSAGE" into buf (cap bytes), the code
 * written once when the message already starts with it. */
void rp_stream_put_reason(const rp_stream_put_result *r, char *buf, size_t cap);

/* Puts n records, in chunks of at most RP_STREAM_PUT_BATCH_MAX records /
 * RP_STREAM_PUT_BYTES_MAX bytes; entries that fail retriably (throttling)
 * are retried with backoff; results[i] tells each entry's fate.  Returns -1
 * only when the call as a whole failed (then every result says why). */
int rp_stream_put(rp_stream_conn *s, const char *name, const rp_stream_entry *entries, size_t n,
                  rp_stream_put_result *results, rp_error *err);

int rp_stream_get_iterator(rp_stream_conn *s, const char *name, const char *shard_id, rp_stream_iterator type,
                           const char *sequence_number, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                           rp_error *err);

/* Reads one page; next_iter "" when the shard is closed and drained. */
int rp_stream_get_records(rp_stream_conn *s, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                          void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                          rp_error *err);

/* Reads every record of every shard from the trim horizon to the tip of
 * each shard (shards in list order: parents before their children), and
 * calls cb for each.  A callback returning non-zero stops the page (see
 * the backends); records put meanwhile may or may not be seen. */
int rp_stream_scan(rp_stream_conn *s, const char *name, rp_stream_record_fn cb, void *ctx, rp_error *err);

#ifdef __cplusplus
}
#endif
#endif
