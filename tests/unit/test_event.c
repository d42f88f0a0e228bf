/* The event codec's writing side (src/function/event.h, ride.h): the
 * Kinesis events the consumer builds, byte for byte; the bound it plans
 * batches with; what the handler reads back from them; ride events as
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
    RUN(ride_events);
    RUN(answers);
    return rp_t_done();
}
