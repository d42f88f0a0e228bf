/* ridepred: streams (SPEC §6).  One interface, two backends: Amazon Kinesis
 * (JSON 1.1 API over HTTPS) and an embedded local store (SQLite).
 *
 * STATUS: interface of the stream layer (issue 3).  The local backend is
 * implemented in src/stream/local/; the Kinesis backend, the naming rules and
 * the commands are not yet.
 *
 * Semantics shared by both backends: a stream has shards, each owning an
 * equal slice of the 128-bit hash-key space; a record goes to the shard
 * whose range holds MD5(partition key) read as a 128-bit big-endian number
 * (or an explicit hash key); sequence numbers are decimal strings that
 * increase within a shard; iterators start at TRIM_HORIZON, LATEST,
 * AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP. */
#ifndef RIDEPRED_STREAM_H
#define RIDEPRED_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RP_STREAM_NAME_MAX 128          /* Kinesis: 1-128 of [a-zA-Z0-9_.-] */
#define RP_STREAM_SHARD_ID_MAX 64       /* "shardId-000000000000" */
#define RP_STREAM_SEQ_MAX 128           /* decimal digits */
#define RP_STREAM_ITER_MAX 512          /* opaque iterator text */
#define RP_STREAM_RECORD_MAX ((size_t)1024 * 1024) /* data + partition key */
#define RP_STREAM_PK_MAX 256            /* partition key: 1-256 characters */
#define RP_STREAM_PUT_BATCH_MAX 500     /* PutRecords: records per call */
#define RP_STREAM_PUT_BYTES_MAX ((size_t)5 * 1024 * 1024)

typedef enum rp_iterator_type {
    RP_ITER_TRIM_HORIZON = 1,
    RP_ITER_LATEST,
    RP_ITER_AT_SEQUENCE_NUMBER,
    RP_ITER_AFTER_SEQUENCE_NUMBER,
    RP_ITER_AT_TIMESTAMP
} rp_iterator_type;

typedef struct rp_shard_info {
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    char parent_shard_id[RP_STREAM_SHARD_ID_MAX];          /* "" when none */
    char adjacent_parent_shard_id[RP_STREAM_SHARD_ID_MAX]; /* "" when none */
    char hash_start[40], hash_end[40];                     /* decimal, inclusive */
    char seq_start[RP_STREAM_SEQ_MAX], seq_end[RP_STREAM_SEQ_MAX]; /* seq_end "" while open */
} rp_shard_info;

typedef struct rp_stream_info {
    char name[RP_STREAM_NAME_MAX + 1];
    char status[16];            /* CREATING, ACTIVE, UPDATING, DELETING */
    uint32_t open_shards;
    uint32_t retention_hours;
    int64_t created_ms;         /* epoch milliseconds */
} rp_stream_info;

/* One record to put.  The library copies nothing: the views must live
 * until the call returns. */
typedef struct rp_put_entry {
    const void *data;
    size_t data_len;
    const char *partition_key;
    size_t partition_key_len;
} rp_put_entry;

/* The outcome of one put entry, as PutRecords reports it. */
typedef struct rp_put_result {
    bool ok;
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    char sequence_number[RP_STREAM_SEQ_MAX];
    char error_code[64];        /* e.g. ProvisionedThroughputExceededException */
    char error_message[256];
} rp_put_result;

/* A record read back.  Views into the backend's buffers, valid during the
 * callback only. */
typedef struct rp_stream_record {
    const char *shard_id;
    const char *sequence_number;
    const char *partition_key;
    size_t partition_key_len;
    const unsigned char *data;
    size_t data_len;
    int64_t arrival_ms;         /* approximate arrival, epoch milliseconds */
} rp_stream_record;

typedef int (*rp_record_cb)(void *ctx, const rp_stream_record *rec);

#ifdef __cplusplus
}
#endif
#endif
