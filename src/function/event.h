/* Lambda events (docs/handler.md §2): a Kinesis event {"Records": [...]} or a direct
 * ride event {"ride": ..., "ride_id": ...}.
 *
 * rp__event_scan walks the event once and calls back for each Kinesis
 * record as soon as the record's object closes, with views of its fields,
 * so the handler works in one pass without building a document. */
#ifndef RP_EVENT_EVENT_H
#define RP_EVENT_EVENT_H

#include <stdbool.h>

#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "function/ride.h"

/* Lambda's synchronous payload limit (docs/handler.md §7). */
#define RP_EVENT_MAX_BYTES ((size_t)6 * 1024 * 1024)
/* Kinesis's record size limit: the decoded data of one record. */
#define RP_RECORD_MAX_BYTES ((size_t)1024 * 1024)
#define RP_EVENT_MAX_DEPTH 64

typedef enum rp__event_kind {
    RP_EVENT_KINESIS = 1,
    RP_EVENT_DIRECT = 2
} rp__event_kind;

typedef struct rp__kinesis_record {
    size_t index; /* position in Records */
    bool has_data, has_seq, has_pk;
    rp__json_value data, seq, pk; /* kinesis.data / sequenceNumber / partitionKey */
} rp__kinesis_record;

/* Called per record; rec == NULL means a repeated "Records" key starts
 * over (Python keeps the last), so the callee discards what it has.
 * Return 0 to go on, -1 to stop the scan (set err). */
typedef int (*rp__event_record_fn)(void *ctx, const rp__kinesis_record *rec, rp_error *err);

typedef struct rp__event {
    rp__event_kind kind;
    rp__ride_fields direct; /* kind == RP_EVENT_DIRECT */
    size_t n_records;
} rp__event;

/* Scans an event.  Returns 0 with ev filled, or -1 with err set: the event
 * is not JSON, not an object, neither shape, or a record lacks its
 * sequenceNumber (then the whole invocation fails: docs/handler.md §3.3). */
int rp__event_scan(const char *event, size_t len, rp__event_record_fn fn, void *ctx, rp__event *ev,
                   rp_error *err);

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
void rp__event_response_end(rp__buf *b);

/* The answer to a direct ride event: {"ride_duration": x, "ride_id": ID}. */
void rp__event_response_direct(rp__buf *b, double x, const rp__json_value *ride_id);

/* A function error: {"errorMessage": msg, "errorType": type}. */
void rp__event_response_error(rp__buf *b, const char *type, const char *msg);

#endif
