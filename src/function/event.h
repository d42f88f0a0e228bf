/* Lambda events (docs/handler.md §2): a Kinesis event {"Records": [...]} or a direct
 * ride event {"ride": ..., "ride_id": ...}.
 *
 * rp_event_scan walks the event once and calls back for each Kinesis
 * record as soon as the record's object closes, with views of its fields,
 * so the handler works in one pass without building a document. */
#ifndef RP_EVENT_EVENT_H
#define RP_EVENT_EVENT_H

#include <stdbool.h>

#include "common/json.h"
#include "function/ride.h"

/* Lambda's synchronous payload limit (docs/handler.md §7). */
#define RP_EVENT_MAX_BYTES ((size_t)6 * 1024 * 1024)
/* Kinesis's record size limit: the decoded data of one record. */
#define RP_RECORD_MAX_BYTES ((size_t)1024 * 1024)
#define RP_EVENT_MAX_DEPTH 64

typedef enum rp_event_kind { RP_EVENT_KINESIS = 1, RP_EVENT_DIRECT = 2 } rp_event_kind;

typedef struct rp_kinesis_record {
    size_t index;                 /* position in Records */
    bool has_data, has_seq, has_pk;
    rp_json_value data, seq, pk;  /* kinesis.data / sequenceNumber / partitionKey */
} rp_kinesis_record;

/* Called per record; rec == NULL means a repeated "Records" key starts
 * over (Python keeps the last), so the callee discards what it has.
 * Return 0 to go on, -1 to stop the scan (set err). */
typedef int (*rp_record_fn)(void *ctx, const rp_kinesis_record *rec, rp_error *err);

typedef struct rp_event {
    rp_event_kind kind;
    rp_ride_fields direct;        /* kind == RP_EVENT_DIRECT */
    size_t n_records;
} rp_event;

/* Scans an event.  Returns 0 with ev filled, or -1 with err set: the event
 * is not JSON, not an object, neither shape, or a record lacks its
 * sequenceNumber (then the whole invocation fails: docs/handler.md §3.3). */
int rp_event_scan(const char *event, size_t len, rp_record_fn fn, void *ctx, rp_event *ev,
                  rp_error *err);

#endif
