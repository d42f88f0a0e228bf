#include "function/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/pyjson.h"

/* A record with none of its fields seen yet.  Only the flags are cleared
 * (the views are set with them): this runs twice per Kinesis record. */
static inline void rec_clear(rp__event_rec *rec, rp__event_kind kind, size_t index)
{
    rec->kind = kind;
    rec->is_key = false;
    rec->index = index;
    rec->has_data = rec->has_seq = rec->has_pk = false;
}

static int kinesis_object(rp__json_reader *r, rp__event_rec *rec)
{
    rp__json_value k, v;
    int rc;
    while ((rc = rp__json_member(r, &k)) == 1) {
        if (rp__json_next(r, &v) < 0)
            return -1;
        if (rp__json_str_eq(&k, "data", 4)) {
            rec->data = v;
            rec->has_data = true;
        } else if (rp__json_str_eq(&k, "sequenceNumber", 14)) {
            rec->seq = v;
            rec->has_seq = true;
        } else if (rp__json_str_eq(&k, "partitionKey", 12)) {
            rec->pk = v;
            rec->has_pk = true;
        }
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
            return -1;
    }
    return rc;
}

/* Walks one "Records" array.  A structurally bad record (docs/handler.md §2: the
 * whole invocation fails) is remembered in *bad, the rest of the array is
 * only validated, and the caller decides at the end: a later "Records" key
 * replaces this one, as in Python.  Returns -1 only on a JSON error or when
 * the callback stops the scan. */
static int records_array(rp__json_reader *r, rp__event_record_fn fn, void *ctx, rp__event *ev, bool *bad,
                         rp_error *bad_err, rp_error *err)
{
    rp__json_value v, k;
    int rc;
    ev->n_records = 0;
    *bad = false;
    if (fn(ctx, NULL, err) < 0)
        return -1;
    while ((rc = rp__json_element(r)) == 1) {
        if (rp__json_next(r, &v) < 0)
            goto json;
        size_t index = ev->n_records++;
        if (*bad || v.type != RP_JSON_OBJECT) {
            if (!*bad)
                rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] is not an object", index);
            *bad = true;
            if (rp__json_skip(r, &v) < 0)
                goto json;
            continue;
        }
        rp__event_rec rec;
        rec_clear(&rec, RP_EVENT_KINESIS, index);
        bool has_kinesis = false;
        int more;
        while ((more = rp__json_member(r, &k)) == 1) {
            if (rp__json_next(r, &v) < 0)
                goto json;
            if (rp__json_str_eq(&k, "kinesis", 7)) {
                rec_clear(&rec, RP_EVENT_KINESIS, index);
                has_kinesis = v.type == RP_JSON_OBJECT;
                if (has_kinesis) {
                    if (kinesis_object(r, &rec) < 0)
                        goto json;
                    continue;
                }
            }
            if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
                goto json;
        }
        if (more < 0)
            goto json;
        if (!has_kinesis)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] has no \"kinesis\" object", index);
        else if (!rec.has_seq)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] has no kinesis.sequenceNumber", index);
        else if (rec.seq.type != RP_JSON_STRING)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu]: kinesis.sequenceNumber is not a string",
                         index);
        else if (fn(ctx, &rec, err) < 0)
            return -1;
        else
            continue;
        *bad = true;
    }
    if (rc < 0)
        goto json;
    return 0;
json:
    return rp_error_set(err, RP_ERR_INVALID, "event is not valid JSON: %s", r->err.msg);
}

/* A key of "records" as the messages name it: "topic-0" when it is short
 * plain ASCII, else by its position. */
static void key_name(const rp__json_value *k, size_t group, char *out, size_t cap)
{
    bool plain = !k->escaped && k->len <= 64;
    for (size_t i = 0; plain && i < k->len; i++)
        plain = k->ptr[i] >= 0x20 && k->ptr[i] < 0x7f;
    if (plain)
        snprintf(out, cap, "\"%.*s\"", (int)k->len, k->ptr);
    else
        snprintf(out, cap, "(key %zu)", group + 1);
}

/* The members of one record of a Kafka event. */
static int kafka_object(rp__json_reader *r, rp__event_rec *rec)
{
    rp__json_value k, v;
    int rc;
    while ((rc = rp__json_member(r, &k)) == 1) {
        if (rp__json_next(r, &v) < 0)
            return -1;
        if (rp__json_str_eq(&k, "value", 5)) {
            rec->data = v;
            rec->has_data = true;
        } else if (rp__json_str_eq(&k, "offset", 6)) {
            rec->seq = v;
            rec->has_seq = true;
        }
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
            return -1;
    }
    return rc;
}

/* Walks the "records" object of a Kafka event: per key ("topic-partition")
 * its array of records, in order.  As records_array: a structurally bad
 * part is remembered in *bad and decided at the end (a later "records" or
 * "Records" replaces this one). */
static int kafka_records(rp__json_reader *r, rp__event_record_fn fn, void *ctx, rp__event *ev, bool *bad,
                         rp_error *bad_err, rp_error *err)
{
    rp__json_value k, v;
    int rc;
    char name[80];
    ev->n_records = 0;
    *bad = false;
    if (fn(ctx, NULL, err) < 0)
        return -1;
    for (size_t group = 0; (rc = rp__json_member(r, &k)) == 1; group++) {
        if (rp__json_next(r, &v) < 0)
            goto json;
        if (*bad || v.type != RP_JSON_ARRAY) {
            if (!*bad) {
                key_name(&k, group, name, sizeof name);
                rp_error_set(bad_err, RP_ERR_INVALID, "records[%s] is not an array", name);
            }
            *bad = true;
            if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
                goto json;
            continue;
        }
        rp__event_rec rec;
        memset(&rec, 0, sizeof rec);
        rec.kind = RP_EVENT_KAFKA;
        rec.is_key = true;
        rec.partition = k;
        rec.group = group;
        if (fn(ctx, &rec, err) < 0)
            return -1;
        int more;
        for (size_t pos = 0; (more = rp__json_element(r)) == 1; pos++) {
            if (rp__json_next(r, &v) < 0)
                goto json;
            size_t index = ev->n_records++;
            if (*bad || v.type != RP_JSON_OBJECT) {
                if (!*bad) {
                    key_name(&k, group, name, sizeof name);
                    rp_error_set(bad_err, RP_ERR_INVALID, "records[%s][%zu] is not an object", name, pos);
                }
                *bad = true;
                if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
                    goto json;
                continue;
            }
            rec_clear(&rec, RP_EVENT_KAFKA, index);
            rec.partition = k;
            rec.group = group;
            if (kafka_object(r, &rec) < 0)
                goto json;
            if (rec.has_seq && rec.seq.type == RP_JSON_NUMBER && rec.seq.is_int) {
                if (fn(ctx, &rec, err) < 0)
                    return -1;
                continue;
            }
            key_name(&k, group, name, sizeof name); /* for the message only: not per record */
            if (!rec.has_seq)
                rp_error_set(bad_err, RP_ERR_INVALID, "records[%s][%zu] has no offset", name, pos);
            else
                rp_error_set(bad_err, RP_ERR_INVALID, "records[%s][%zu]: offset is not an integer", name,
                             pos);
            *bad = true;
        }
        if (more < 0)
            goto json;
    }
    if (rc < 0)
        goto json;
    return 0;
json:
    return rp_error_set(err, RP_ERR_INVALID, "event is not valid JSON: %s", r->err.msg);
}

int rp__event_scan(const char *event, size_t len, rp__event_record_fn fn, void *ctx, rp__event *ev,
                   rp_error *err)
{
    rp__json_reader r;
    rp__json_value v, k;
    memset(ev, 0, sizeof *ev);
    if (len > RP_EVENT_MAX_BYTES)
        return rp_error_set(err, RP_ERR_LIMIT,
                            "event is larger than %zu bytes (Lambda's synchronous payload limit)",
                            RP_EVENT_MAX_BYTES);
    rp__json_init(&r, event, len, RP_EVENT_MAX_DEPTH);
    if (rp__json_next(&r, &v) < 0)
        goto json;
    if (v.type != RP_JSON_OBJECT) {
        if (rp__json_skip(&r, &v) < 0 || rp__json_end(&r) < 0)
            goto json;
        return rp_error_set(err, RP_ERR_INVALID, "event is not a JSON object");
    }
    /* "Records" makes a Kinesis event, else "records" a Kafka event (its
     * records are read only while no "Records" came before them). */
    bool has_records = false, records_ok = false, records_bad = false;
    bool has_kafka = false, kafka_ok = false, kafka_bad = false;
    rp_error bad_err, kafka_err;
    rp_error_clear(&bad_err);
    rp_error_clear(&kafka_err);
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_str_eq(&k, "Records", 7)) {
            has_records = true;
            if (rp__json_next(&r, &v) < 0)
                goto json;
            records_ok = v.type == RP_JSON_ARRAY;
            records_bad = false;
            if (records_ok) {
                if (records_array(&r, fn, ctx, ev, &records_bad, &bad_err, err) < 0)
                    return -1;
            } else if (rp__json_skip(&r, &v) < 0) {
                goto json;
            }
            continue;
        }
        if (rp__json_str_eq(&k, "records", 7)) {
            has_kafka = true;
            if (rp__json_next(&r, &v) < 0)
                goto json;
            kafka_ok = v.type == RP_JSON_OBJECT;
            kafka_bad = false;
            if (kafka_ok && !has_records) {
                if (kafka_records(&r, fn, ctx, ev, &kafka_bad, &kafka_err, err) < 0)
                    return -1;
            } else if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(&r, &v) < 0) {
                goto json;
            }
            continue;
        }
        int m = rp__ride_member(&r, &k, &ev->direct);
        if (m < 0 || (m == 0 && rp__json_skip(&r, NULL) < 0))
            goto json;
    }
    if (rc < 0 || rp__json_end(&r) < 0)
        goto json;
    if (has_records) {
        if (!records_ok)
            return rp_error_set(err, RP_ERR_INVALID, "event \"Records\" is not an array");
        if (records_bad) {
            *err = bad_err;
            return -1;
        }
        ev->kind = RP_EVENT_KINESIS;
        return 0;
    }
    if (has_kafka) {
        if (!kafka_ok)
            return rp_error_set(err, RP_ERR_INVALID, "event \"records\" (a Kafka event's) is not an object");
        if (kafka_bad) {
            *err = kafka_err;
            return -1;
        }
        ev->kind = RP_EVENT_KAFKA;
        return 0;
    }
    if (ev->direct.has_ride || ev->direct.has_ride_id) {
        ev->kind = RP_EVENT_DIRECT;
        return 0;
    }
    return rp_error_set(err, RP_ERR_INVALID,
                        "event is neither a Kinesis event (\"Records\"), a Kafka event (\"records\") nor a "
                        "ride event (\"ride\", \"ride_id\")");
json:
    return rp_error_set(err, RP_ERR_INVALID, "event is not valid JSON: %s", r.err.msg);
}

/* Heap sort of order[] by key (key i: n[i] bytes at p[i]): C11 has no
 * qsort with a context, and this is O(n log n) whatever the keys. */
static int key_cmp(const char *base, const rp__event_key *k, uint32_t a, uint32_t b)
{
    uint32_t m = k[a].len < k[b].len ? k[a].len : k[b].len;
    int c = m ? memcmp(base + k[a].off, base + k[b].off, m) : 0;
    return c ? c : (k[a].len > k[b].len) - (k[a].len < k[b].len);
}

static void sift_down(const char *base, const rp__event_key *k, uint32_t *o, size_t i, size_t count)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= count)
            return;
        if (c + 1 < count && key_cmp(base, k, o[c + 1], o[c]) > 0)
            c++;
        if (key_cmp(base, k, o[c], o[i]) <= 0)
            return;
        uint32_t t = o[i];
        o[i] = o[c];
        o[c] = t;
        i = c;
    }
}

long rp__event_kafka_repeat(const char *base, const rp__event_key *k, uint32_t *order, size_t count)
{
    for (size_t i = 0; i < count; i++)
        order[i] = (uint32_t)i;
    for (size_t i = count / 2; i-- > 0;)
        sift_down(base, k, order, i, count);
    for (size_t end = count; end > 1; end--) {
        uint32_t t = order[0];
        order[0] = order[end - 1];
        order[end - 1] = t;
        sift_down(base, k, order, 0, end - 1);
    }
    /* In each run of equal keys, the second smallest index repeats the
     * smallest; the answer is the least of those. */
    long found = -1;
    for (size_t i = 0; i < count;) {
        size_t j = i + 1;
        uint32_t lo = order[i], second = UINT32_MAX;
        for (; j < count && key_cmp(base, k, order[i], order[j]) == 0; j++) {
            uint32_t x = order[j];
            if (x < lo) {
                second = lo;
                lo = x;
            } else if (x < second) {
                second = x;
            }
        }
        if (second != UINT32_MAX && (found < 0 || second < (uint32_t)found))
            found = second;
        i = j;
    }
    return found;
}

/* ---- writing events -------------------------------------------------------- */

/* The literal parts of an event record as rp__event_append writes them. */
#define REC_HEAD "{\"kinesis\": {\"kinesisSchemaVersion\": \"1.0\", \"partitionKey\": "
#define REC_SEQ ", \"sequenceNumber\": \""
#define REC_DATA "\", \"data\": \""
#define REC_TIME "\", \"approximateArrivalTimestamp\": "
#define REC_ID "}, \"eventSource\": \"aws:kinesis\", \"eventVersion\": \"1.0\", \"eventID\": \""
/* Bytes of an event record besides its data, partition key, sequence
 * number, shard id and the source's tail: the literals, the separator
 * ", ", the key's quotes, the ':' of eventID, and the timestamp (repr of a
 * float: at most 24 characters). */
#define RECORD_FIXED                                                                                         \
    (sizeof REC_HEAD + sizeof REC_SEQ + sizeof REC_DATA + sizeof REC_TIME + sizeof REC_ID - 5 + 2 + 2 + 1 +  \
     24)

int rp__event_source_init(rp__event_source *src, const char *region, const char *stream_name, rp_error *err)
{
    rp__buf t;
    rp__buf_init(&t, 4096);
    rp__buf_lit(&t, "\", \"eventName\": \"aws:kinesis:record\", \"invokeIdentityArn\": ");
    rp__buf_lit(&t, "\"arn:aws:iam::000000000000:role/ridepred-consume\", \"awsRegion\": ");
    rp__pyjson_utf8(&t, region, strlen(region));
    rp__buf_lit(&t, ", \"eventSourceARN\": ");
    char arn[512];
    snprintf(arn, sizeof arn, "arn:aws:kinesis:%s:000000000000:stream/%s", region, stream_name);
    rp__pyjson_utf8(&t, arn, strlen(arn));
    rp__buf_putc(&t, '}');
    if (t.failed) {
        rp__buf_cleanup(&t);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    src->tail = rp__buf_steal(&t, &src->tail_len);
    return 0;
}

void rp__event_source_cleanup(rp__event_source *src)
{
    free(src->tail);
    src->tail = NULL;
    src->tail_len = 0;
}

size_t rp__event_record_bound(const rp__event_source *src, const rp__event_record *r, size_t shard_id_len)
{
    return RP_BASE64_ENCODED_LEN(r->data_len) + r->partition_key_len * 6 + 2 * r->sequence_number_len +
           shard_id_len + src->tail_len + RECORD_FIXED;
}

void rp__event_begin(rp__buf *b)
{
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"Records\": [");
}

void rp__event_append(rp__buf *b, const rp__event_source *src, const char *shard_id,
                      const rp__event_record *r, bool first)
{
    if (!first)
        rp__buf_lit(b, ", ");
    rp__buf_lit(b, REC_HEAD);
    rp__pyjson_utf8(b, r->partition_key, r->partition_key_len);
    rp__buf_lit(b, REC_SEQ);
    rp__buf_append(b, r->sequence_number, r->sequence_number_len);
    rp__buf_lit(b, REC_DATA);
    size_t enc = RP_BASE64_ENCODED_LEN(r->data_len);
    if (rp__buf_grow(b, enc + 1) == 0) {
        b->len += rp__base64_encode(r->data, r->data_len, b->data + b->len);
        b->data[b->len] = '\0';
    }
    rp__buf_lit(b, REC_TIME);
    rp__pyjson_double(b, (double)r->arrival_ms / 1000.0);
    rp__buf_lit(b, REC_ID);
    rp__buf_puts(b, shard_id);
    rp__buf_putc(b, ':');
    rp__buf_append(b, r->sequence_number, r->sequence_number_len);
    rp__buf_append(b, src->tail, src->tail_len);
}

void rp__event_end(rp__buf *b)
{
    rp__buf_lit(b, "]}");
}

/* ---- writing Kafka events ----------------------------------------------- */

/* A JSON string of n bytes of UTF-8 as json.dumps writes it (ensure_ascii):
 * at most 6 characters a byte ("\\u00XX" for control bytes; a 4-byte
 * character becomes two 6-character escapes), plus the quotes. */
#define JSON_STR_BOUND(n) (6 * (n) + 2)

size_t rp__event_kafka_envelope_bound(size_t event_source_arn_len, size_t bootstrap_servers_len,
                                      size_t topic_len)
{
    /* {"eventSource": "SelfManagedKafka", "bootstrapServers": ..., "records": {
     * or the MSK form with its eventSourceArn; "TOPIC-N": [ ]}} */
    return 96 + JSON_STR_BOUND(event_source_arn_len) + JSON_STR_BOUND(bootstrap_servers_len) +
           JSON_STR_BOUND(topic_len) + 16 + 4;
}

size_t rp__event_kafka_record_bound(size_t topic_len, const rp__event_kafka_record *r)
{
    /* ", {"topic": T, "partition": P, "offset": O, "timestamp": S,
     * "timestampType": "CREATE_TIME", "key": K, "value": V, "headers": []}" */
    return 2 + 10 + JSON_STR_BOUND(topic_len) + 96 + 32 +
           (r->key ? 9 + RP_BASE64_ENCODED_LEN(r->key_len) + 2 : 0) +
           (r->value ? 11 + RP_BASE64_ENCODED_LEN(r->value_len) + 2 : 0) + 16;
}

void rp__event_kafka_begin(rp__buf *b, const char *event_source_arn, const char *bootstrap_servers)
{
    rp__buf_reset(b);
    if (event_source_arn) {
        rp__buf_lit(b, "{\"eventSource\": \"aws:kafka\", \"eventSourceArn\": ");
        rp__pyjson_utf8(b, event_source_arn, strlen(event_source_arn));
        rp__buf_lit(b, ", \"bootstrapServers\": ");
    } else {
        rp__buf_lit(b, "{\"eventSource\": \"SelfManagedKafka\", \"bootstrapServers\": ");
    }
    rp__pyjson_utf8(b, bootstrap_servers, strlen(bootstrap_servers));
    rp__buf_lit(b, ", \"records\": {");
}

void rp__event_kafka_partition(rp__buf *b, const char *topic, int32_t partition, bool first)
{
    char tail[32];
    if (!first)
        rp__buf_lit(b, ", ");
    /* "topic-partition": the topic as a JSON string, its closing quote
     * moved after "-N" (which needs no escape) */
    rp__pyjson_utf8(b, topic, strlen(topic));
    if (!b->failed)
        b->len--;
    snprintf(tail, sizeof tail, "-%" PRId32 "\": [", partition);
    rp__buf_puts(b, tail);
}

static void base64_string(rp__buf *b, const unsigned char *p, size_t n)
{
    rp__buf_putc(b, '"');
    size_t enc = RP_BASE64_ENCODED_LEN(n);
    if (rp__buf_grow(b, enc + 1) == 0) {
        b->len += rp__base64_encode(p, n, b->data + b->len);
        b->data[b->len] = '\0';
    }
    rp__buf_putc(b, '"');
}

void rp__event_kafka_append(rp__buf *b, const char *topic, int32_t partition, const rp__event_kafka_record *r,
                            bool first)
{
    if (!first)
        rp__buf_lit(b, ", ");
    rp__buf_lit(b, "{\"topic\": ");
    rp__pyjson_utf8(b, topic, strlen(topic));
    rp__buf_lit(b, ", \"partition\": ");
    rp__buf_put_i64(b, partition);
    rp__buf_lit(b, ", \"offset\": ");
    rp__buf_put_i64(b, r->offset);
    rp__buf_lit(b, ", \"timestamp\": ");
    rp__buf_put_i64(b, r->timestamp_ms);
    rp__buf_lit(b, ", \"timestampType\": \"CREATE_TIME\"");
    if (r->key) {
        rp__buf_lit(b, ", \"key\": ");
        base64_string(b, r->key, r->key_len);
    }
    if (r->value) {
        rp__buf_lit(b, ", \"value\": ");
        base64_string(b, r->value, r->value_len);
    }
    rp__buf_lit(b, ", \"headers\": []}");
}

void rp__event_kafka_partition_end(rp__buf *b)
{
    rp__buf_putc(b, ']');
}

void rp__event_kafka_end(rp__buf *b)
{
    rp__buf_lit(b, "}}");
}

/* ---- writing answers --------------------------------------------------------- */

void rp__event_prediction_prefix(rp__buf *b, const char *version, size_t len)
{
    rp__buf_lit(b, "{\"model\": \"ride_duration_prediction_model\", \"version\": ");
    rp__pyjson_utf8(b, version, len);
    rp__buf_lit(b, ", \"prediction\": {\"ride_duration\": ");
}

void rp__event_prediction(rp__buf *b, const char *prefix, size_t prefix_len, double x, const char *id_json,
                          size_t id_len)
{
    rp__buf_append(b, prefix, prefix_len);
    rp__pyjson_double(b, x);
    rp__buf_lit(b, ", \"ride_id\": ");
    rp__buf_append(b, id_json, id_len);
    rp__buf_lit(b, "}}");
}

void rp__event_response_begin(rp__buf *b)
{
    rp__buf_lit(b, "{\"predictions\": [");
}

void rp__event_response_failures(rp__buf *b)
{
    rp__buf_lit(b, "], \"batchItemFailures\": [");
}

void rp__event_response_failure(rp__buf *b, const rp__json_value *sequence_number, bool first)
{
    if (!first)
        rp__buf_lit(b, ", ");
    rp__buf_lit(b, "{\"itemIdentifier\": ");
    rp__pyjson_string(b, sequence_number);
    rp__buf_putc(b, '}');
}

void rp__event_response_kafka_failure(rp__buf *b, const rp__json_value *partition,
                                      const rp__json_value *offset, bool first)
{
    if (!first)
        rp__buf_lit(b, ", ");
    rp__buf_lit(b, "{\"itemIdentifier\": {\"partition\": ");
    rp__pyjson_string(b, partition);
    rp__buf_lit(b, ", \"offset\": ");
    rp__pyjson_int(b, offset);
    rp__buf_lit(b, "}}");
}

void rp__event_response_end(rp__buf *b)
{
    rp__buf_lit(b, "]}");
}

void rp__event_response_direct(rp__buf *b, double x, const rp__json_value *ride_id)
{
    rp__buf_lit(b, "{\"ride_duration\": ");
    rp__pyjson_double(b, x);
    rp__buf_lit(b, ", \"ride_id\": ");
    if (ride_id->type == RP_JSON_STRING)
        rp__pyjson_string(b, ride_id);
    else
        rp__pyjson_int(b, ride_id);
    rp__buf_putc(b, '}');
}

void rp__event_response_error(rp__buf *b, const char *type, const char *msg)
{
    rp__buf_lit(b, "{\"errorMessage\": ");
    rp__pyjson_utf8(b, msg, strlen(msg));
    rp__buf_lit(b, ", \"errorType\": ");
    rp__pyjson_utf8(b, type, strlen(type));
    rp__buf_putc(b, '}');
}
