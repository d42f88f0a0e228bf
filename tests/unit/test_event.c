/* The event codec (src/function/event.h, ride.h): the Kinesis events the
 * consumer builds, byte for byte; the bound it plans batches with; what the
 * handler reads back from them; Kafka events written and scanned (order,
 * keys, shapes that fail the invocation, repeated keys); ride events as
 * json.dumps writes them. */
#include <math.h>
#include <stdlib.h>

#include "common/buf.h"
#include "function/event.h"
#include "function/ride.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"
#include "testing.h"

static const char model_json[] =
    "{\"format\": \"ridepred.model/1\", \"version\": \"v1\", \"features\": [\"trip_distance\"], "
    "\"estimator\": {\"type\": \"linear\", \"coef\": [2.0], \"intercept\": 1.0}}";

TEST(kinesis_event_bytes)
{
    rp__event_source src;
    rp_error err;
    CHECK(rp__event_source_init(&src, "eu-west-1", "ride_events", &err) == 0);
    rp__event_record r = {.sequence_number = "4963",
                          .sequence_number_len = 4,
                          .partition_key = "p\xc3\xa9",
                          .partition_key_len = 3,
                          .data = (const unsigned char *)"hi",
                          .data_len = 2,
                          .arrival_ms = 1764103531497};
    rp__buf b;
    rp__buf_init(&b, 1 << 20);
    rp__event_begin(&b);
    rp__event_append(&b, &src, "shardId-000000000001", &r, true);
    rp__event_append(&b, &src, "shardId-000000000001", &r, false);
    rp__event_end(&b);
    static const char one[] =
        "{\"kinesis\": {\"kinesisSchemaVersion\": \"1.0\", \"partitionKey\": \"p\\u00e9\", "
        "\"sequenceNumber\": \"4963\", \"data\": \"aGk=\", \"approximateArrivalTimestamp\": 1764103531.497}, "
        "\"eventSource\": \"aws:kinesis\", \"eventVersion\": \"1.0\", \"eventID\": \"shardId-000000000001:4963\", "
        "\"eventName\": \"aws:kinesis:record\", \"invokeIdentityArn\": "
        "\"arn:aws:iam::000000000000:role/ridepred-consume\", \"awsRegion\": \"eu-west-1\", "
        "\"eventSourceARN\": \"arn:aws:kinesis:eu-west-1:000000000000:stream/ride_events\"}";
    char want[4096];
    snprintf(want, sizeof want, "{\"Records\": [%s, %s]}", one, one);
    CHECK_MEM(b.data, b.len, want);
    /* The bound the consumer plans batches with holds for every record. */
    size_t record_len = strlen(one);
    CHECK(rp__event_record_bound(&src, &r, strlen("shardId-000000000001")) >= record_len);
    CHECK(b.len <= RP_EVENT_ENVELOPE_BYTES + 2 * record_len + 2);
    rp__buf_cleanup(&b);
    rp__event_source_cleanup(&src);
}

/* Random records: the bound is never below what is written (a batch
 * planned under 6 MiB stays under it). */
TEST(record_bound_holds)
{
    rp__event_source src;
    rp_error err;
    CHECK(rp__event_source_init(&src, "us-east-1", "s", &err) == 0);
    rp__buf b;
    rp__buf_init(&b, 8 << 20);
    unsigned char data[3000];
    char pk[1024], seq[80];
    srand(11);
    for (int t = 0; t < 2000; t++) {
        size_t dl = (size_t)rand() % sizeof data, pl = 1 + (size_t)rand() % 256, sl = 1 + (size_t)rand() % 60;
        for (size_t i = 0; i < dl; i++)
            data[i] = (unsigned char)rand();
        for (size_t i = 0; i < pl; i++)
            pk[i] = (char)(1 + rand() % 127); /* control characters escape to six bytes */
        for (size_t i = 0; i < sl; i++)
            seq[i] = (char)('0' + rand() % 10);
        rp__event_record r = {.sequence_number = seq,
                              .sequence_number_len = sl,
                              .partition_key = pk,
                              .partition_key_len = pl,
                              .data = data,
                              .data_len = dl,
                              .arrival_ms = (int64_t)rand() * 1000 + rand() % 1000};
        rp__buf_reset(&b);
        rp__event_append(&b, &src, "shardId-000000000000", &r, t % 2 == 0);
        CHECK(!b.failed && b.len <= rp__event_record_bound(&src, &r, 20));
    }
    rp__buf_cleanup(&b);
    rp__event_source_cleanup(&src);
}

/* The Kafka writers' bounds hold for random records and names (control
 * characters, astral characters, keys or values absent), envelope and all:
 * the consumer plans its Kafka events with them. */
TEST(kafka_bounds_hold)
{
    rp__buf b;
    rp__buf_init(&b, 8 << 20);
    unsigned char key[300], val[3000];
    char topic[160], servers[300], arn[200];
    srand(13);
    for (int t = 0; t < 2000; t++) {
        size_t tl = 1 + (size_t)rand() % 128, sv = (size_t)rand() % 256, al = (size_t)rand() % 180;
        for (size_t i = 0; i < tl; i++)
            topic[i] = (char)(1 + rand() % 127);
        topic[tl] = '\0';
        for (size_t i = 0; i < sv; i++)
            servers[i] = (char)(1 + rand() % 127);
        servers[sv] = '\0';
        if (t % 3 == 0) /* a 4-byte UTF-8 character: two six-byte escapes for four bytes */
            memcpy(servers, "\xf0\x9f\x9a\x95", sv >= 4 ? 4 : 0);
        for (size_t i = 0; i < al; i++)
            arn[i] = (char)(32 + rand() % 95);
        arn[al] = '\0';
        size_t kl = (size_t)rand() % sizeof key, vl = (size_t)rand() % sizeof val;
        for (size_t i = 0; i < vl; i++)
            val[i] = (unsigned char)rand();
        for (size_t i = 0; i < kl; i++)
            key[i] = (unsigned char)rand();
        rp__event_kafka_record r = {.offset = (int64_t)rand() * rand() * (t % 5 ? 1 : -1),
                                    .timestamp_ms = (int64_t)rand() * 1000,
                                    .key = t % 4 ? key : NULL,
                                    .key_len = kl,
                                    .value = t % 7 ? val : NULL,
                                    .value_len = vl};
        int32_t part = t % 2 ? INT32_MAX : rand();
        const char *a = t % 2 ? arn : NULL;
        rp__event_kafka_begin(&b, a, servers);
        rp__event_kafka_partition(&b, topic, part, true);
        size_t env = b.len;
        rp__event_kafka_append(&b, topic, part, &r, true);
        rp__event_kafka_append(&b, topic, part, &r, false);
        size_t recs = b.len - env;
        rp__event_kafka_partition_end(&b);
        rp__event_kafka_end(&b);
        CHECK(!b.failed);
        CHECK(recs <= 2 * rp__event_kafka_record_bound(tl, &r));
        CHECK(b.len - recs <= rp__event_kafka_envelope_bound(a ? al : 0, sv, tl));
    }
    rp__buf_cleanup(&b);
}

/* What the consumer writes, the handler reads: every record served, in
 * order, its partition key the ride_id. */
TEST(round_trip_through_the_handler)
{
    rp_model *m;
    rp_error err;
    CHECK(rp_model_from_json(model_json, sizeof model_json - 1, &m, &err) == 0);
    rp_handler *h = rp_handler_new(m, NULL, &err);
    rp__event_source src;
    CHECK(rp__event_source_init(&src, "local", "ride_events", &err) == 0);
    rp__buf rides, ev;
    rp__buf_init(&rides, 1 << 20);
    rp__buf_init(&ev, 1 << 20);
    size_t off[3], len[3];
    for (int i = 0; i < 3; i++) {
        off[i] = rides.len;
        rp__ride_row row = {.pu = 1, .dol = 2, .distance = 1.5 * i, .ride_id = (uint64_t)i + 40};
        rp__ride_encode(&rides, &row);
        len[i] = rides.len - off[i];
    }
    rp__event_begin(&ev);
    for (int i = 0; i < 3; i++) {
        char seq[8];
        snprintf(seq, sizeof seq, "%d", 100 + i);
        rp__event_record r = {.sequence_number = seq,
                              .sequence_number_len = 3,
                              .partition_key = "k",
                              .partition_key_len = 1,
                              .data = (const unsigned char *)rides.data + off[i],
                              .data_len = len[i],
                              .arrival_ms = 1000};
        rp__event_append(&ev, &src, "shardId-000000000000", &r, i == 0);
    }
    rp__event_end(&ev);
    rp_invoke_result res;
    CHECK(rp_handler_invoke(h, ev.data, ev.len, &res) == 0);
    CHECK(res.status == RP_INVOKE_OK && res.served == 3 && res.failed == 0);
    size_t n;
    const rp_record_outcome *o = rp_handler_outcomes(h, &n);
    CHECK(o && n == 3);
    for (size_t i = 0; o && i < n; i++) {
        char pk[24], pred[256];
        snprintf(pk, sizeof pk, "%zu", i + 40);
        CHECK_MEM(o[i].partition_key, o[i].partition_key_len, pk);
        snprintf(pred, sizeof pred,
                 "{\"model\": \"ride_duration_prediction_model\", \"version\": \"v1\", \"prediction\": "
                 "{\"ride_duration\": %s, \"ride_id\": %zu}}",
                 i == 0   ? "1.0"
                 : i == 1 ? "4.0"
                          : "7.0",
                 i + 40);
        CHECK_MEM(o[i].prediction, o[i].prediction_len, pred);
    }
    rp__buf_cleanup(&rides);
    rp__buf_cleanup(&ev);
    rp__event_source_cleanup(&src);
    rp_handler_free(h);
    rp_model_release(m);
}

TEST(kafka_event_bytes)
{
    rp__buf b;
    rp__buf_init(&b, 1 << 20);
    rp__event_kafka_record r = {.offset = 15,
                                .timestamp_ms = 1545084650987,
                                .key = (const unsigned char *)"recordKey",
                                .key_len = 9,
                                .value = (const unsigned char *)"{\"key\":\"value\"}",
                                .value_len = 15};
    rp__event_kafka_begin(
        &b,
        "arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2",
        "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092");
    rp__event_kafka_partition(&b, "my\"topic", 0, true);
    rp__event_kafka_append(&b, "my\"topic", 0, &r, true);
    r.offset = 16;
    r.key = NULL;
    rp__event_kafka_append(&b, "my\"topic", 0, &r, false);
    rp__event_kafka_partition_end(&b);
    rp__event_kafka_partition(&b, "t", 12, false);
    r.value = NULL;
    rp__event_kafka_append(&b, "t", 12, &r, true);
    rp__event_kafka_partition_end(&b);
    rp__event_kafka_end(&b);
    CHECK(!b.failed);
    CHECK_MEM(
        b.data, b.len,
        "{\"eventSource\": \"aws:kafka\", \"eventSourceArn\": "
        "\"arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2\", "
        "\"bootstrapServers\": \"b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092\", "
        "\"records\": {\"my\\\"topic-0\": [{\"topic\": \"my\\\"topic\", \"partition\": 0, \"offset\": 15, "
        "\"timestamp\": 1545084650987, \"timestampType\": \"CREATE_TIME\", \"key\": \"cmVjb3JkS2V5\", "
        "\"value\": \"eyJrZXkiOiJ2YWx1ZSJ9\", \"headers\": []}, {\"topic\": \"my\\\"topic\", \"partition\": 0, "
        "\"offset\": 16, \"timestamp\": 1545084650987, \"timestampType\": \"CREATE_TIME\", "
        "\"value\": \"eyJrZXkiOiJ2YWx1ZSJ9\", \"headers\": []}], \"t-12\": [{\"topic\": \"t\", \"partition\": 12, "
        "\"offset\": 16, \"timestamp\": 1545084650987, \"timestampType\": \"CREATE_TIME\", \"headers\": []}]}}");
    rp__event_kafka_begin(&b, NULL, "kafka-1:9092,kafka-2:9092");
    rp__event_kafka_end(&b);
    CHECK_STR(b.data,
              "{\"eventSource\": \"SelfManagedKafka\", \"bootstrapServers\": \"kafka-1:9092,kafka-2:9092\", "
              "\"records\": {}}");
    rp__buf_cleanup(&b);
}

/* What rp__event_scan reports, as text: "K<key>" for a key of records,
 * "R<index>:<offset>" (Kafka) or "R<index>:<sequenceNumber>" for a record,
 * "-" for a start over. */
typedef struct scan_log {
    char text[512];
} scan_log;

static int log_rec(void *ctx, const rp__event_rec *rec, rp_error *err)
{
    (void)err;
    scan_log *l = ctx;
    size_t n = strlen(l->text);
    if (!rec)
        snprintf(l->text + n, sizeof l->text - n, "- ");
    else if (rec->is_key)
        snprintf(l->text + n, sizeof l->text - n, "K%zu=%.*s ", rec->group, (int)rec->partition.len,
                 rec->partition.ptr);
    else if (rec->kind == RP_EVENT_KAFKA)
        snprintf(l->text + n, sizeof l->text - n, "R%zu:%.*s@%zu ", rec->index, (int)rec->seq.len,
                 rec->seq.ptr, rec->group);
    else
        snprintf(l->text + n, sizeof l->text - n, "R%zu:%.*s ", rec->index, (int)rec->seq.len, rec->seq.ptr);
    return 0;
}

static void scan(const char *ev, int want_rc, rp__event_kind want_kind, const char *want_log,
                 const char *want_err)
{
    scan_log l = {{0}};
    rp__event e;
    rp_error err;
    rp_error_clear(&err);
    int rc = rp__event_scan(ev, strlen(ev), log_rec, &l, &e, &err);
    CHECK(rc == want_rc);
    if (rc == 0)
        CHECK(e.kind == want_kind);
    if (want_log)
        CHECK_STR(l.text, want_log);
    if (want_err && !strstr(err.msg, want_err)) {
        CHECK(!"the error names the problem");
        fprintf(stderr, "  %s\n  want: %s\n", err.msg, want_err);
    }
}

TEST(kafka_scan)
{
    /* Keys in order (an empty list too), then each list's records. */
    scan("{\"eventSource\": \"aws:kafka\", \"records\": {\"t-1\": [{\"offset\": 7, \"value\": \"x\"}, "
         "{\"value\": \"y\", \"offset\": 9}], \"t-0\": [], \"u-3\": [{\"offset\": 1}]}}",
         0, RP_EVENT_KAFKA, "- K0=t-1 R0:7@0 R1:9@0 K1=t-0 K2=u-3 R2:1@2 ", NULL);
    scan("{\"records\": {}}", 0, RP_EVENT_KAFKA, "- ", NULL);
    /* A repeated "records" starts over (the last counts, as in Python). */
    scan("{\"records\": {\"a-0\": [{\"offset\": 1}]}, \"records\": {\"b-0\": [{\"offset\": 2}]}}", 0,
         RP_EVENT_KAFKA, "- K0=a-0 R0:1@0 - K0=b-0 R0:2@0 ", NULL);
    scan("{\"records\": {\"a-0\": 1}, \"records\": {}}", 0, RP_EVENT_KAFKA, NULL, NULL);
    /* "Records" makes it a Kinesis event, before or after "records". */
    scan(
        "{\"records\": {\"a-0\": [{\"offset\": 1}]}, \"Records\": [{\"kinesis\": {\"sequenceNumber\": \"5\"}}]}",
        0, RP_EVENT_KINESIS, "- K0=a-0 R0:1@0 - R0:5 ", NULL);
    scan("{\"Records\": [], \"records\": {\"a-0\": [{\"offset\": 1}]}}", 0, RP_EVENT_KINESIS, "- ", NULL);
    scan("{\"Records\": [], \"records\": 5}", 0, RP_EVENT_KINESIS, "- ", NULL);
    /* A direct event's keys next to "records" do not make it direct. */
    scan("{\"ride\": {}, \"ride_id\": 1, \"records\": {}}", 0, RP_EVENT_KAFKA, "- ", NULL);
    /* Shapes that cannot be answered record by record. */
    scan("{\"records\": []}", -1, 0, NULL, "\"records\" (a Kafka event's) is not an object");
    scan("{\"records\": null}", -1, 0, NULL, "is not an object");
    scan("{\"records\": {\"t-0\": {}}}", -1, 0, NULL, "records[\"t-0\"] is not an array");
    scan("{\"records\": {\"t-0\": [{\"offset\": 1}, 3]}}", -1, 0, NULL,
         "records[\"t-0\"][1] is not an object");
    scan("{\"records\": {\"t-0\": [{\"value\": \"eyJ9\"}]}}", -1, 0, NULL,
         "records[\"t-0\"][0] has no offset");
    scan("{\"records\": {\"t-0\": [{\"offset\": \"1\"}]}}", -1, 0, NULL, "offset is not an integer");
    scan("{\"records\": {\"t-0\": [{\"offset\": 1.0}]}}", -1, 0, NULL, "offset is not an integer");
    scan("{\"records\": {\"t-0\": [{\"offset\": null}]}}", -1, 0, NULL, "offset is not an integer");
    scan("{\"records\": {\"\\u00e9-0\": 1}}", -1, 0, NULL, "records[(key 1)] is not an array");
    /* ... unless a later "records" replaces them. */
    scan("{\"records\": {\"t-0\": [{}]}, \"records\": {}}", 0, RP_EVENT_KAFKA, NULL, NULL);
    scan("{\"records\": {\"t-0\": [{}]}, \"Records\": []}", 0, RP_EVENT_KINESIS, NULL, NULL);
    /* The value is the record's concern, not the event's. */
    scan("{\"records\": {\"t-0\": [{\"offset\": 3, \"value\": null}, {\"offset\": 4, \"value\": 5}]}}", 0,
         RP_EVENT_KAFKA, "- K0=t-0 R0:3@0 R1:4@0 ", NULL);
    scan("{\"recordz\": {}}", -1, 0, NULL, "neither");
}

/* The repeated-key check against a quadratic one, on random key lists
 * drawn from a few values (runs of equal keys in every order). */
TEST(kafka_repeated_keys)
{
    static const char base[] = "aababcbaa";
    rp__event_key keys[64];
    uint32_t order[64];
    /* "a" "ab" "abc" "b" "a": key 4 repeats key 0 */
    rp__event_key fixed[] = {{0, 1}, {1, 2}, {3, 3}, {6, 1}, {1, 1}};
    CHECK(rp__event_kafka_repeat(base, fixed, order, 5) == 4);
    CHECK(rp__event_kafka_repeat(base, fixed, order, 4) == -1);
    CHECK(rp__event_kafka_repeat(base, fixed, order, 1) == -1);
    CHECK(rp__event_kafka_repeat(base, fixed, order, 0) == -1);
    rp__event_key empty[] = {{0, 0}, {3, 0}};
    CHECK(rp__event_kafka_repeat(base, empty, order, 2) == 1);
    srand(5);
    for (int t = 0; t < 3000; t++) {
        size_t n = (size_t)rand() % 64;
        for (size_t i = 0; i < n; i++) {
            keys[i] = (rp__event_key){(uint32_t)rand() % 7, (uint32_t)rand() % 3};
        }
        long want = -1;
        for (size_t i = 1; i < n && want < 0; i++)
            for (size_t j = 0; j < i && want < 0; j++)
                if (keys[i].len == keys[j].len &&
                    !memcmp(base + keys[i].off, base + keys[j].off, keys[i].len))
                    want = (long)i;
        long got = rp__event_kafka_repeat(base, keys, order, n);
        CHECK(got == want);
        if (got != want) {
            fprintf(stderr, "  n=%zu: got %ld, want %ld\n", n, got, want);
            break;
        }
    }
}

/* A Kafka event of rides, written by the encoder, answers with the same
 * bytes as the Kinesis event of the same rides (when the records' order
 * is the same): predictions, partition keys, outcomes. */
TEST(kafka_round_trip_through_the_handler)
{
    rp_model *m;
    rp_error err;
    CHECK(rp_model_from_json(model_json, sizeof model_json - 1, &m, &err) == 0);
    rp_handler *h = rp_handler_new(m, NULL, &err);
    rp__event_source src;
    CHECK(rp__event_source_init(&src, "local", "ride_events", &err) == 0);
    rp__buf rides, kin, kaf;
    rp__buf_init(&rides, 1 << 20);
    rp__buf_init(&kin, 1 << 20);
    rp__buf_init(&kaf, 1 << 20);
    enum {
        N = 300
    }; /* more than a chunk of the handler */
    size_t off[N], len[N];
    for (int i = 0; i < N; i++) {
        off[i] = rides.len;
        rp__ride_row row = {.pu = 1, .dol = 2, .distance = 0.25 * i, .ride_id = (uint64_t)i * 7};
        rp__ride_encode(&rides, &row);
        len[i] = rides.len - off[i];
    }
    /* Kinesis: all in one order; Kafka: partition 0 holds the first 100,
     * partition 1 the rest (the answer lists keys in order). */
    rp__event_begin(&kin);
    rp__event_kafka_begin(&kaf, "arn:aws:kafka:eu-west-1:000000000000:cluster/rides/x-1", "b-1:9098");
    for (int i = 0; i < N; i++) {
        char seq[8];
        snprintf(seq, sizeof seq, "%d", 100 + i);
        rp__event_record r = {.sequence_number = seq,
                              .sequence_number_len = 3,
                              .partition_key = "k",
                              .partition_key_len = 1,
                              .data = (const unsigned char *)rides.data + off[i],
                              .data_len = len[i],
                              .arrival_ms = 1000};
        rp__event_append(&kin, &src, "shardId-000000000000", &r, i == 0);
        int part = i < 100 ? 0 : 1;
        if (i == 0 || i == 100) {
            if (i)
                rp__event_kafka_partition_end(&kaf);
            rp__event_kafka_partition(&kaf, "ride_events", part, i == 0);
        }
        rp__event_kafka_record k = {.offset = 5000 + i,
                                    .timestamp_ms = 1700000000000,
                                    .key = (const unsigned char *)"k",
                                    .key_len = 1,
                                    .value = (const unsigned char *)rides.data + off[i],
                                    .value_len = len[i]};
        rp__event_kafka_append(&kaf, "ride_events", part, &k, i == 0 || i == 100);
    }
    rp__event_end(&kin);
    rp__event_kafka_partition_end(&kaf);
    rp__event_kafka_end(&kaf);
    CHECK(!kin.failed && !kaf.failed);
    rp_invoke_result rk, rf;
    CHECK(rp_handler_invoke(h, kin.data, kin.len, &rk) == 0);
    char *kin_body = malloc(rk.body_len + 1);
    memcpy(kin_body, rk.body, rk.body_len);
    size_t kin_len = rk.body_len, n = 0;
    char **pk = calloc(N, sizeof *pk);
    const rp_record_outcome *o = rp_handler_outcomes(h, &n);
    CHECK(o && n == N);
    for (size_t i = 0; o && i < n; i++)
        pk[i] = strndup(o[i].partition_key, o[i].partition_key_len);
    CHECK(rp_handler_invoke(h, kaf.data, kaf.len, &rf) == 0);
    CHECK(rf.status == RP_INVOKE_OK && rf.records == N && rf.served == N && rf.failed == 0);
    CHECK(rk.status == RP_INVOKE_OK && rk.served == N);
    CHECK(rf.body_len == kin_len && !memcmp(rf.body, kin_body, kin_len));
    o = rp_handler_outcomes(h, &n);
    CHECK(o && n == N);
    for (size_t i = 0; o && i < n; i++)
        CHECK(o[i].status == RP_RECORD_SERVED && pk[i] && strlen(pk[i]) == o[i].partition_key_len &&
              !memcmp(pk[i], o[i].partition_key, o[i].partition_key_len));
    for (size_t i = 0; i < N; i++)
        free(pk[i]);
    free(pk);
    free(kin_body);
    rp__buf_cleanup(&rides);
    rp__buf_cleanup(&kin);
    rp__buf_cleanup(&kaf);
    rp__event_source_cleanup(&src);
    rp_handler_free(h);
    rp_model_release(m);
}

TEST(ride_events)
{
    rp__buf b;
    rp__buf_init(&b, 4096);
    rp__ride_row r = {.pu = 130, .dol = 205, .distance = 3.66, .ride_id = 7};
    rp__ride_encode(&b, &r);
    CHECK_STR(
        b.data,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 7}");
    rp__buf_reset(&b);
    r = (rp__ride_row){.pu_null = true, .dol = 1, .distance = NAN, .ride_id = 0};
    rp__ride_encode(&b, &r);
    CHECK_STR(
        b.data,
        "{\"ride\": {\"PULocationID\": null, \"DOLocationID\": 1, \"trip_distance\": null}, \"ride_id\": 0}");
    rp__buf_reset(&b);
    r = (rp__ride_row){.pu = 1, .do_null = true, .distance = 1e-05, .ride_id = 18446744073709551615ull};
    rp__ride_encode(&b, &r);
    CHECK_STR(b.data, "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": null, \"trip_distance\": 1e-05}, "
                      "\"ride_id\": 18446744073709551615}");
    rp__ride_fields f;
    rp_error why;
    CHECK(rp__ride_parse(b.data, b.len, &f, &why) == 0 && f.has_ride_id && f.has_td);
    rp__buf_cleanup(&b);
}

/* A bare ride (serve's POST /predict): the same row as the same ride inside
 * an event, messages without "ride.", and the refusals. */
TEST(bare_rides)
{
    rp_model *m;
    rp_error err, why;
    CHECK(rp_model_from_json(model_json, sizeof model_json - 1, &m, &err) == 0);
    rp__buf scratch;
    rp__buf_init(&scratch, 1 << 20);
    rp__ride_fields f, g;
    rp_row a, b;
    static const char bare[] = "{\"x\": [1, {\"y\": 2}], \"PULocationID\": 1, \"DOLocationID\": \"2\", "
                               "\"trip_distance\": 3.5, \"trip_distance\": 4.5}";
    static const char event[] = "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": \"2\", "
                                "\"trip_distance\": 4.5}, \"ride_id\": 9}";
    CHECK(rp__ride_parse_bare(bare, sizeof bare - 1, &f, &why) == 0);
    CHECK(rp__ride_fields_features(&f, m, "", &scratch, &a, &why) == 0);
    CHECK(rp__ride_parse(event, sizeof event - 1, &g, &why) == 0);
    CHECK(rp__ride_features(&g, m, &scratch, &b, &why) == 0);
    CHECK(a.n == b.n && a.n > 0 && memcmp(a.idx, b.idx, (size_t)a.n * sizeof a.idx[0]) == 0 &&
          memcmp(a.val, b.val, (size_t)a.n * sizeof a.val[0]) == 0);
    CHECK(rp_model_trip_distance(m) < 0 || a.val[a.n - 1] == 4.5); /* the last of a repeated key */

    static const struct {
        const char *body, *why;
    } bad[] = {
        {"", "the body is not valid JSON: "},
        {"[1]", "the body is an array; expected a ride object such as {"},
        {"{\"PULocationID\": 1} x", "the body is not valid JSON: "},
        {"{}", "PULocationID is missing; expected a ride such as {"},
        {"{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 3}}",
         "PULocationID is missing; expected a ride such as {"},
        {"{\"PULocationID\": 1, \"DOLocationID\": null, \"trip_distance\": 3}",
         "DOLocationID is null; expected an integer, a float or a string"},
        {"{\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": \"3\"}",
         "trip_distance is a string; expected a number"},
        {"{\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": Infinity}",
         "trip_distance is not a finite number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&why, 0, sizeof why);
        int rc = rp__ride_parse_bare(bad[i].body, strlen(bad[i].body), &f, &why);
        if (rc == 0)
            rc = rp__ride_fields_features(&f, m, "", &scratch, &a, &why);
        CHECK(rc < 0 && why.code == RP_ERR_INVALID);
        CHECK(strncmp(why.msg, bad[i].why, strlen(bad[i].why)) == 0);
    }
    /* A location that does not fit the scratch buffer says so (a number
     * as well as a string). */
    rp__buf small;
    rp__buf_init(&small, 16);
    static const char longnum[] =
        "{\"PULocationID\": 12345, \"DOLocationID\": 123456789012345, \"trip_distance\": 1}";
    CHECK(rp__ride_parse_bare(longnum, sizeof longnum - 1, &f, &why) == 0);
    memset(&why, 0, sizeof why);
    CHECK(rp__ride_fields_features(&f, m, "", &small, &a, &why) < 0 && why.code == RP_ERR_LIMIT);
    CHECK_STR(why.msg, "DOLocationID is too long");
    rp__buf_cleanup(&small);
    rp__buf_cleanup(&scratch);
    rp_model_release(m);
}

TEST(answers)
{
    rp__buf b;
    rp__buf_init(&b, 4096);
    rp__event_response_error(&b, "InvalidEvent", "bad \"x\"\n");
    CHECK_STR(b.data, "{\"errorMessage\": \"bad \\\"x\\\"\\n\", \"errorType\": \"InvalidEvent\"}");
    rp__buf_reset(&b);
    rp__event_prediction_prefix(&b, "a\0b", 3);
    CHECK_STR(b.data, "{\"model\": \"ride_duration_prediction_model\", \"version\": \"a\\u0000b\", "
                      "\"prediction\": {\"ride_duration\": ");
    rp__buf_cleanup(&b);
}

int main(void)
{
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    RUN(kinesis_event_bytes);
    RUN(record_bound_holds);
    RUN(round_trip_through_the_handler);
    RUN(kafka_event_bytes);
    RUN(kafka_bounds_hold);
    RUN(kafka_scan);
    RUN(kafka_repeated_keys);
    RUN(kafka_round_trip_through_the_handler);
    RUN(ride_events);
    RUN(bare_rides);
    RUN(answers);
    return rp_t_done();
}
