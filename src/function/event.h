/* Lambda events (docs/handler.md §2): a Kinesis event {"Records": [...]}, a
 * Kafka event (Amazon MSK or self-managed Kafka: {"records": {"topic-0":
 * [...], ...}}) or a direct ride event {"ride": ..., "ride_id": ...}.
 *
 * rp__event_scan walks the event once and calls back for each record as
 * soon as the record's object closes, with views of its fields, so the
 * handler works in one pass without building a document. */
#ifndef RP_EVENT_EVENT_H
#define RP_EVENT_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "function/ride.h"

/* Lambda's synchronous payload limit (docs/handler.md §7). */
#define RP_EVENT_MAX_BYTES ((size_t)6 * 1024 * 1024)
/* Kinesis's record size limit: the decoded data of one record (of either
 * kind of event). */
#define RP_RECORD_MAX_BYTES ((size_t)1024 * 1024)
#define RP_EVENT_MAX_DEPTH 64

typedef enum rp__event_kind {
    RP_EVENT_KINESIS = 1,
    RP_EVENT_DIRECT = 2,
    RP_EVENT_KAFKA = 3
} rp__event_kind;

/* One record of a Kinesis or a Kafka event, or (Kafka, is_key) the start
 * of a key of "records". */
typedef struct rp__event_rec {
    rp__event_kind kind; /* RP_EVENT_KINESIS or RP_EVENT_KAFKA */
    bool is_key;         /* Kafka: no record; the key `partition` (number `group`) begins */
    size_t index;        /* position among the event's records */
    bool has_data, has_seq, has_pk;
    /* Kinesis: kinesis.data / sequenceNumber (a string) / partitionKey.
     * Kafka: the record's value / offset (an integer) / unused.  Each is
     * set only when its has_ flag is. */
    rp__json_value data, seq, pk;
    /* Kafka only (left unset for a Kinesis record): the key of "records"
     * the record is listed under ("topic-partition") and its position
     * among those keys (0, 1, ...). */
    rp__json_value partition;
    size_t group;
} rp__event_rec;

/* Called per record, and (Kafka) at the start of each key of "records"
 * with is_key set, before that key's records (also for an empty list).
 * rec == NULL means a repeated "Records" / "records" key (or a "Records"
 * after "records") starts over (Python keeps the last), so the callee
 * discards what it has.  Return 0 to go on, -1 to stop the scan (set err). */
typedef int (*rp__event_record_fn)(void *ctx, const rp__event_rec *rec, rp_error *err);

typedef struct rp__event {
    rp__event_kind kind;
    rp__ride_fields direct; /* kind == RP_EVENT_DIRECT */
    size_t n_records;
} rp__event;

/* Scans an event.  Returns 0 with ev filled, or -1 with err set: the event
 * is not JSON, not an object, none of the shapes, or a record cannot be
 * named in batchItemFailures (a Kinesis record without its sequenceNumber,
 * a Kafka record without an integer offset): then the whole invocation
 * fails (docs/handler.md §3.3).  A Kafka event's keys are not checked for
 * repeats here (the callee sees them all: rp__event_kafka_repeat). */
int rp__event_scan(const char *event, size_t len, rp__event_record_fn fn, void *ctx, rp__event *ev,
                   rp_error *err);

/* A key of a Kafka event's "records", decoded: len bytes at base + off. */
typedef struct rp__event_key {
    uint32_t off, len;
} rp__event_key;

/* Of the count keys (decoded, in base), the index of the first that equals
 * an earlier one, or -1 when all differ.  order (count entries, the
 * caller's scratch) is left sorted by key.  O(count log count). */
long rp__event_kafka_repeat(const char *base, const rp__event_key *keys, uint32_t *order, size_t count);

/* ---- Writing Lambda's Kinesis events (what the consumer sends) ---------- */

/* One Kinesis record of an event: views of what a shard read returned. */
typedef struct rp__event_record {
    const char *sequence_number;
    size_t sequence_number_len;
    const char *partition_key; /* UTF-8 */
    size_t partition_key_len;
    const unsigned char *data; /* the record's bytes (written in base64) */
    size_t data_len;
    int64_t arrival_ms; /* approximateArrivalTimestamp, epoch ms */
} rp__event_record;

/* What every record of one source repeats after its eventID: eventName,
 * invokeIdentityArn, awsRegion, eventSourceARN (account 000000000000).
 * Made once by rp__event_source_init (the caller owns it, freed by
 * rp__event_source_cleanup).  Returns 0, or -1 when out of memory. */
typedef struct rp__event_source {
    char *tail;
    size_t tail_len;
} rp__event_source;

int rp__event_source_init(rp__event_source *src, const char *region, const char *stream_name, rp_error *err);
void rp__event_source_cleanup(rp__event_source *src);

/* "{\"Records\": [" and "]}" around the records: this many bytes. */
#define RP_EVENT_ENVELOPE_BYTES 32

/* An upper bound of what rp__event_append writes for r. */
size_t rp__event_record_bound(const rp__event_source *src, const rp__event_record *r, size_t shard_id_len);

/* Writes an event as Lambda's event source mapping sends it (json.dumps
 * spacing; approximateArrivalTimestamp as a Python float):
 * rp__event_begin, rp__event_append per record (first: no separator), then
 * rp__event_end.  Errors are b's sticky failed flag. */
void rp__event_begin(rp__buf *b);
void rp__event_append(rp__buf *b, const rp__event_source *src, const char *shard_id,
                      const rp__event_record *r, bool first);
void rp__event_end(rp__buf *b);

/* ---- Writing Lambda's Kafka events ------------------------------------- */

/* One record of a Kafka event: views of what a partition fetch returned. */
typedef struct rp__event_kafka_record {
    int64_t offset;
    int64_t timestamp_ms;     /* written as a CREATE_TIME timestamp */
    const unsigned char *key; /* NULL: the record has no key (not written) */
    size_t key_len;
    const unsigned char *value; /* NULL: a tombstone (no "value" written) */
    size_t value_len;
} rp__event_kafka_record;

/* Writes an event as Lambda's Kafka event source mappings send it
 * (json.dumps spacing): rp__event_kafka_begin, then per topic-partition
 * rp__event_kafka_partition (first: the event's first), its records with
 * rp__event_kafka_append (first: the partition's first) and
 * rp__event_kafka_partition_end, then rp__event_kafka_end.  The caller
 * groups the records by topic-partition, each key once.  With an
 * event_source_arn it is an Amazon MSK event ("aws:kafka"), without one a
 * self-managed Kafka event ("SelfManagedKafka").  Errors are b's sticky
 * failed flag. */
void rp__event_kafka_begin(rp__buf *b, const char *event_source_arn, const char *bootstrap_servers);
/* Upper bounds of what the writers below put down: the event around one
 * topic-partition (begin, partition, partition_end, end) and one record
 * (with its ", " separator), for a consumer planning batches under the
 * handler's event limit. */
size_t rp__event_kafka_envelope_bound(size_t event_source_arn_len, size_t bootstrap_servers_len,
                                      size_t topic_len);
size_t rp__event_kafka_record_bound(size_t topic_len, const rp__event_kafka_record *r);
void rp__event_kafka_partition(rp__buf *b, const char *topic, int32_t partition, bool first);
void rp__event_kafka_append(rp__buf *b, const char *topic, int32_t partition, const rp__event_kafka_record *r,
                            bool first);
void rp__event_kafka_partition_end(rp__buf *b);
void rp__event_kafka_end(rp__buf *b);

/* ---- Writing the handler's answers (docs/handler.md §3-§4) ------------- */

/* The start of every prediction record:
 * {"model": "ride_duration_prediction_model", "version": V, "prediction": {"ride_duration": 
 * with V (len bytes) as json.dumps writes it. */
void rp__event_prediction_prefix(rp__buf *b, const char *version, size_t len);

/* A prediction record: the prefix above, x as repr(float), the ride_id as
 * JSON (id_json, already written as json.dumps writes it). */
void rp__event_prediction(rp__buf *b, const char *prefix, size_t prefix_len, double x, const char *id_json,
                          size_t id_len);

/* {"predictions": [ ... then rp__event_response_failures before the first
 * batchItemFailures item (if any), rp__event_response_failure per failed
 * record, and rp__event_response_end.  The predictions themselves are
 * appended by the caller, ", "-separated, as rp__event_prediction wrote
 * them. */
void rp__event_response_begin(rp__buf *b);
void rp__event_response_failures(rp__buf *b);
void rp__event_response_failure(rp__buf *b, const rp__json_value *sequence_number, bool first);
/* A failed record of a Kafka event: {"itemIdentifier": {"partition": KEY,
 * "offset": N}}, KEY the record's key of "records" ("topic-partition"), N
 * its offset, each as json.dumps writes what json.loads read. */
void rp__event_response_kafka_failure(rp__buf *b, const rp__json_value *partition,
                                      const rp__json_value *offset, bool first);
void rp__event_response_end(rp__buf *b);

/* The answer to a direct ride event: {"ride_duration": x, "ride_id": ID}. */
void rp__event_response_direct(rp__buf *b, double x, const rp__json_value *ride_id);

/* A function error: {"errorMessage": msg, "errorType": type}. */
void rp__event_response_error(rp__buf *b, const char *type, const char *msg);

#endif
