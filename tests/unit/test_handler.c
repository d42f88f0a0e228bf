/* The handler: byte-exact answers (docs/handler.md §3) and every bad-input
 * case of §6-§7, one test each.  Model: coef PU_DO=130_205 1.5, PU_DO=1_2 2.0,
 * trip_distance 3.25, intercept 10.1; expected floats from CPython
 * (repr(0.0 + 1.0*1.5 + 3.66*3.25 + 10.1) == '23.494999999999997'). */
#include <math.h>
#include <stdlib.h>

#include "common/base64.h"
#include "common/buf.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"
#include "testing.h"

static const char model_json[] =
    "{\"format\": \"ridepred.model/1\", \"version\": \"model-v\", \"features\": [\"PU_DO=130_205\", "
    "\"PU_DO=1_2\", \"trip_distance\"], \"estimator\": {\"type\": \"linear\", \"coef\": [1.5, 2.0, 3.25], "
    "\"intercept\": 10.1}}";

static rp_model *model;
static rp_handler *h;

#define E_PREFIX "{\"model\": \"ride_duration_prediction_model\", \"version\": \"v\", \"prediction\": "
#define RIDE                                                                                                 \
    "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 256}"

/* Builds {"Records": [{"kinesis": {"data": b64(rec[i]), "sequenceNumber": "i+1"}}, ...]};
 * a record text starting with '!' is used as the data string itself. */
static char *kinesis(int n, const char *const *recs)
{
    rp__buf b;
    rp__buf_init(&b, 64u << 20);
    rp__buf_lit(&b, "{\"Records\": [");
    for (int i = 0; i < n; i++) {
        if (i)
            rp__buf_lit(&b, ", ");
        rp__buf_lit(&b, "{\"kinesis\": {\"data\": \"");
        if (recs[i][0] == '!') {
            rp__buf_puts(&b, recs[i] + 1);
        } else {
            size_t len = strlen(recs[i]);
            char *enc = malloc(RP_BASE64_ENCODED_LEN(len) + 1);
            size_t e = rp__base64_encode((const unsigned char *)recs[i], len, enc);
            rp__buf_append(&b, enc, e);
            free(enc);
        }
        rp__buf_printf(
            &b, "\", \"sequenceNumber\": \"%d\", \"partitionKey\": \"1\"}, \"eventSource\": \"aws:kinesis\"}",
            i + 1);
    }
    rp__buf_lit(&b, "]}");
    return rp__buf_steal(&b, NULL);
}

/* Builds a Kafka event (Amazon MSK's shape): record i under the key
 * "rides-P" (P = part[i], keys in order of first use, records of a key in
 * order), offset 10 + i, value b64(rec[i]); a record text starting with
 * '!' is written as the value string itself, "#null" as a null value and
 * "#none" leaves the value out. */
static char *kafka(int n, const char *const *recs, const int *part)
{
    rp__buf b;
    rp__buf_init(&b, 64u << 20);
    rp__buf_lit(&b, "{\"eventSource\": \"aws:kafka\", \"eventSourceArn\": "
                    "\"arn:aws:kafka:eu-west-1:123456789012:cluster/rides/abcd-1\", \"bootstrapServers\": "
                    "\"b-1.rides.kafka.eu-west-1.amazonaws.com:9098\", \"records\": {");
    bool done[8] = {false};
    for (int k = 0, first = 1; k < n; k++) {
        int p = part ? part[k] : 0;
        if (done[p])
            continue;
        done[p] = true;
        rp__buf_printf(&b, "%s\"rides-%d\": [", first ? "" : ", ", p);
        first = 0;
        for (int i = 0, firstrec = 1; i < n; i++) {
            if ((part ? part[i] : 0) != p)
                continue;
            rp__buf_printf(
                &b,
                "%s{\"topic\": \"rides\", \"partition\": %d, \"offset\": %d, \"timestamp\": 1545084650987, "
                "\"timestampType\": \"CREATE_TIME\", \"key\": \"cmVjb3JkS2V5\"",
                firstrec ? "" : ", ", p, 10 + i);
            firstrec = 0;
            if (!strcmp(recs[i], "#null")) {
                rp__buf_lit(&b, ", \"value\": null");
            } else if (strcmp(recs[i], "#none") != 0) {
                rp__buf_lit(&b, ", \"value\": \"");
                if (recs[i][0] == '!') {
                    rp__buf_puts(&b, recs[i] + 1);
                } else {
                    size_t len = strlen(recs[i]);
                    char *enc = malloc(RP_BASE64_ENCODED_LEN(len) + 1);
                    size_t e = rp__base64_encode((const unsigned char *)recs[i], len, enc);
                    rp__buf_append(&b, enc, e);
                    free(enc);
                }
                rp__buf_putc(&b, '"');
            }
            rp__buf_lit(
                &b,
                ", \"headers\": [{\"headerKey\": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}]}");
        }
        rp__buf_putc(&b, ']');
    }
    rp__buf_lit(&b, "}}");
    return rp__buf_steal(&b, NULL);
}

static rp_invoke_result run(const char *event, size_t len)
{
    rp_invoke_result res;
    CHECK(rp_handler_invoke(h, event, len, &res) == 0);
    return res;
}

/* One record through a Kinesis event: "" when it failed (and is named in
 * batchItemFailures), else the response. */
static void one(const char *rec, const char *want_pred)
{
    char *ev = kinesis(1, &rec);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    if (want_pred) {
        char want[1024];
        snprintf(want, sizeof want, "{\"predictions\": [" E_PREFIX "%s}]}", want_pred);
        CHECK_MEM(res.body, res.body_len, want);
    } else {
        CHECK_MEM(res.body, res.body_len,
                  "{\"predictions\": [], \"batchItemFailures\": [{\"itemIdentifier\": \"1\"}]}");
        CHECK(res.failed == 1);
    }
    free(ev);
}

static void invalid_event(const char *ev, const char *msg_part)
{
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_FUNCTION_ERROR);
    CHECK(res.error_type && !strcmp(res.error_type, "InvalidEvent"));
    CHECK(res.body_len > 0 && strstr(res.body, "\"errorType\": \"InvalidEvent\"}"));
    /* the same message, typed (msg_part as it reads in the JSON body) */
    CHECK(res.error_message && (!msg_part || strchr(msg_part, '\\') || strstr(res.error_message, msg_part)));
    if (msg_part && !strstr(res.body, msg_part)) {
        CHECK(!"error message names the problem");
        fprintf(stderr, "  body: %s\n  want: %s\n", res.body, msg_part);
    }
}

TEST(course_event_byte_exact)
{
    one(RIDE, "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}");
}

TEST(direct_event)
{
    const char *ev = RIDE;
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len, "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}");
}

TEST(good_and_bad_records_in_order)
{
    const char *recs[] = {
        RIDE,
        "!not base64 at all!",
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": \"x\"}",
        "{\"ride\": {}}",
    };
    char *ev = kinesis(4, recs);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK(res.records == 4 && res.served == 2 && res.failed == 2);
    CHECK_MEM(res.body, res.body_len,
              "{\"predictions\": [" E_PREFIX
              "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}, " E_PREFIX
              "{\"ride_duration\": 12.1, \"ride_id\": \"x\"}}], "
              "\"batchItemFailures\": [{\"itemIdentifier\": \"2\"}, {\"itemIdentifier\": \"4\"}]}");
    free(ev);
}

TEST(bad_base64)
{
    one("!YWJ", NULL); /* Incorrect padding */
    one("!Y", NULL);
    one("!w6k=", NULL); /* decodes, but to "é" alone: not JSON */
}

TEST(non_ascii_in_base64)
{
    one("!\\u00e9eyJ9", NULL);
}

TEST(bad_utf8)
{
    one("{\"ride\": {\"PULocationID\": \"\xff\", \"DOLocationID\": 2, \"trip_distance\": 1}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": \"\xed\xa0\x80\", \"DOLocationID\": 2, \"trip_distance\": 1}, \"ride_id\": 1}",
        NULL);
    one("\xef\xbb\xbf" RIDE, NULL); /* a BOM: Python's json refuses it */
}

TEST(bad_json)
{
    one("{\"ride\": ", NULL);
    one(RIDE " x", NULL);
    one("[1, 2]", NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66,}, \"ride_id\": 1}",
        NULL);
}

TEST(missing_fields)
{
    one("{\"ride_id\": 1}", NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}}", NULL);
    one("{\"ride\": {\"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1}", NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"trip_distance\": 3.66}, \"ride_id\": 1}", NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205}, \"ride_id\": 1}", NULL);
}

TEST(wrong_types)
{
    one("{\"ride\": [1], \"ride_id\": 1}", NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": \"3.66\"}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": true}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": null}, \"ride_id\": 1}",
        NULL);
}

TEST(trip_distance_not_finite)
{
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": NaN}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": Infinity}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": -Infinity}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 1e400}, \"ride_id\": 1}",
        NULL);
}

TEST(location_types)
{
    one("{\"ride\": {\"PULocationID\": true, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": null, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        NULL);
    one("{\"ride\": {\"PULocationID\": {}, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        NULL);
    /* Strings and floats are formed as '%s' does: "130.0_205" is unseen. */
    one("{\"ride\": {\"PULocationID\": \"130\", \"DOLocationID\": \"205\", \"trip_distance\": 3.66}, \"ride_id\": 1}",
        "{\"ride_duration\": 23.494999999999997, \"ride_id\": 1}");
    one("{\"ride\": {\"PULocationID\": 130.0, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        "{\"ride_duration\": 21.994999999999997, \"ride_id\": 1}");
    one("{\"ride\": {\"PULocationID\": 1e2, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        "{\"ride_duration\": 21.994999999999997, \"ride_id\": 1}");
}

TEST(ride_id_types_and_length)
{
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1.5}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": true}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": null}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"\"}",
        NULL);
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": -0}",
        "{\"ride_duration\": 23.494999999999997, \"ride_id\": 0}");
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"\\u00e9\\ud83d\\ude00\\\"\\/\"}",
        "{\"ride_duration\": 23.494999999999997, \"ride_id\": \"\\u00e9\\ud83d\\ude00\\\"/\"}");
    one("{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"\xc3\xa9\x7f\"}",
        "{\"ride_duration\": 23.494999999999997, \"ride_id\": \"\\u00e9\\u007f\"}");
    char rec[1200], want[1200], id[300];
    memset(id, 'a', 256);
    id[256] = '\0';
    snprintf(
        rec, sizeof rec,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"%s\"}",
        id);
    snprintf(want, sizeof want, "{\"ride_duration\": 23.494999999999997, \"ride_id\": \"%s\"}", id);
    one(rec, want);
    strcat(id, "b"); /* 257 characters */
    snprintf(
        rec, sizeof rec,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"%s\"}",
        id);
    one(rec, NULL);
    memset(id, '9', 257);
    id[257] = '\0';
    snprintf(
        rec, sizeof rec,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": %s}",
        id);
    one(rec, NULL);
}

TEST(unseen_category_contributes_nothing)
{
    one("{\"ride\": {\"PULocationID\": 7, \"DOLocationID\": 8, \"trip_distance\": 3.66}, \"ride_id\": 1}",
        "{\"ride_duration\": 21.994999999999997, \"ride_id\": 1}");
}

TEST(duplicate_keys_last_wins)
{
    one("{\"ride\": {\"PULocationID\": 9, \"DOLocationID\": 205, \"trip_distance\": 3.66, \"PULocationID\": 130}, \"ride_id\": 5, \"ride_id\": 256}",
        "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}");
}

TEST(record_too_large)
{
    size_t pad = 1024 * 1024;
    char *rec = malloc(pad + 200);
    int n = snprintf(
        rec, 200,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1, \"x\": \"");
    memset(rec + n, 'x', pad);
    strcpy(rec + n + pad, "\"}");
    const char *r = rec;
    char *ev = kinesis(1, &r);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK && res.failed == 1);
    free(ev);
    free(rec);
}

static char *nested(int depth)
{
    /* {"ride": ..., "ride_id": 1, "x": [[[...]]]} with `depth` levels in all */
    char *s = malloc((size_t)depth * 2 + 200);
    int n = sprintf(
        s,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1, \"x\": ");
    for (int i = 1; i < depth; i++)
        s[n++] = '[';
    for (int i = 1; i < depth; i++)
        s[n++] = ']';
    strcpy(s + n, "}");
    return s;
}

TEST(nesting_limit)
{
    char *ok = nested(64), *deep = nested(65);
    one(ok, "{\"ride_duration\": 23.494999999999997, \"ride_id\": 1}");
    one(deep, NULL);
    free(ok);
    free(deep);
}

TEST(invalid_events)
{
    invalid_event("", "not valid JSON");
    invalid_event("{\"Records\": [", "not valid JSON");
    invalid_event("[]", "not a JSON object");
    invalid_event("\"Records\"", "not a JSON object");
    invalid_event("{}", "neither");
    invalid_event("{\"recordz\": []}", "neither");
    invalid_event("{\"Records\": {}}", "not an array");
    invalid_event("{\"Records\": [1]}", "not an object");
    invalid_event("{\"Records\": [{\"eventSource\": \"aws:kinesis\"}]}", "no \\\"kinesis\\\"");
    invalid_event("{\"Records\": [{\"kinesis\": {\"data\": \"\"}}]}", "sequenceNumber");
    invalid_event("{\"Records\": [{\"kinesis\": {\"data\": \"\", \"sequenceNumber\": 1}}]}",
                  "sequenceNumber");
    invalid_event("{\"ride\": {\"PULocationID\": 130}, \"ride_id\": 1}", "DOLocationID is missing");
    invalid_event("{\"Records\": []} trailing", "extra data");
    invalid_event("{\"Records\": [], \"Records\": [1]}", "not an object");
}

TEST(duplicate_records_key_last_wins)
{
    /* Python's json keeps the last "Records": an earlier bad array does not count. */
    const char *ev = "{\"Records\": [1, {}], \"Records\": []}";
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
}

TEST(event_size_limit)
{
    size_t n = 6 * 1024 * 1024 + 1;
    char *ev = malloc(n);
    memset(ev, ' ', n);
    memcpy(ev, "{\"Records\": []}", 15);
    {
        rp_invoke_result res = run(ev, n);
        CHECK(res.status == RP_INVOKE_FUNCTION_ERROR);
        CHECK(strstr(res.body, "6291456") != NULL);
    }
    /* Exactly at the limit is accepted. */
    rp_invoke_result res = run(ev, n - 1);
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    free(ev);
}

TEST(empty_records)
{
    rp_invoke_result res = run("{\"Records\": []}", 15);
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
}

static void check_version(const rp_model *m, const char *model_version, const char *run_id, const char *want)
{
    size_t len = 0;
    const char *v = rp_handler_version(m, model_version, run_id, &len);
    CHECK_MEM(v, len, want);
}

/* MODEL_VERSION, else RUN_ID, else the model's own, else "unknown"; empty
 * counts as unset (the command line reads the variables and flags). */
TEST(version_resolution)
{
    check_version(model, NULL, NULL, "model-v");
    check_version(model, NULL, "run-1", "run-1");
    check_version(model, "mv", "run-1", "mv");
    check_version(model, "", "run-1", "run-1");
    check_version(model, "", "", "model-v");
    check_version(NULL, NULL, NULL, "unknown");
}

/* A model's version is kept whole: a NUL inside it is written as \u0000
 * (json.dumps does), one of RP_HANDLER_VERSION_MAX bytes is served, a
 * longer one refused by name, never cut or replaced. */
TEST(version_kept_whole)
{
    static const char js[] =
        "{\"format\": \"ridepred.model/1\", \"version\": \"a\\u0000b\", \"features\": [\"trip_distance\"], "
        "\"estimator\": {\"type\": \"linear\", \"coef\": [1.0], \"intercept\": 0.5}}";
    rp_model *m = NULL;
    rp_error err;
    CHECK(rp_model_from_json(js, sizeof js - 1, &m, &err) == 0);
    size_t len = 0;
    const char *v = rp_handler_version(m, NULL, NULL, &len);
    CHECK(len == 3 && !memcmp(v, "a\0b", 3));
    rp_handler *hv = rp_handler_new(m, NULL, &err);
    CHECK(hv != NULL);
    const char *rec =
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 2.0}, \"ride_id\": 1}";
    char *ev = kinesis(1, &rec);
    rp_invoke_result res;
    CHECK(rp_handler_invoke(hv, ev, strlen(ev), &res) == 0);
    CHECK_MEM(
        res.body, res.body_len,
        "{\"predictions\": [{\"model\": \"ride_duration_prediction_model\", \"version\": \"a\\u0000b\", "
        "\"prediction\": {\"ride_duration\": 2.5, \"ride_id\": 1}}]}");
    rp_handler_free(hv);
    free(ev);

    char *big = malloc(RP_HANDLER_VERSION_MAX + 2);
    memset(big, '\x01', RP_HANDLER_VERSION_MAX + 1);
    big[RP_HANDLER_VERSION_MAX + 1] = '\0';
    rp_handler_config cfg = {.version = big, .version_len = RP_HANDLER_VERSION_MAX};
    hv = rp_handler_new(m, &cfg, &err); /* the largest, each byte escaped to six */
    CHECK(hv != NULL);
    if (hv) {
        ev = kinesis(1, &rec);
        CHECK(rp_handler_invoke(hv, ev, strlen(ev), &res) == 0 && res.served == 1);
        CHECK(res.body_len > 6 * RP_HANDLER_VERSION_MAX);
        free(ev);
    }
    rp_handler_free(hv);
    cfg.version_len = RP_HANDLER_VERSION_MAX + 1;
    CHECK(rp_handler_new(m, &cfg, &err) == NULL);
    CHECK(err.code == RP_ERR_LIMIT && strstr(err.msg, "1025 bytes") && strstr(err.msg, "MODEL_VERSION"));
    free(big);
    rp_model_release(m);
}

/* A record as the contract allows at its largest: a ride_id of 256 astral
 * characters (12 bytes each as json.dumps writes them).  Chunks of the
 * handler hold 128 records; 128 and 300 such records are all served. */
static char *emoji_record(int i)
{
    rp__buf b;
    rp__buf_init(&b, 1 << 16);
    rp__buf_lit(
        &b,
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": \"");
    for (int k = 0; k < 256; k++)
        rp__buf_puts(&b, k == 0 && i % 2 ? "\xf0\x9f\x98\x81" : "\xf0\x9f\x98\x80"); /* U+1F600, U+1F601 */
    rp__buf_lit(&b, "\"}");
    return rp__buf_steal(&b, NULL);
}

static void astral_ride_ids(int n)
{
    char **recs = calloc((size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++)
        recs[i] = emoji_record(i);
    char *ev = kinesis(n, (const char *const *)recs);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK(res.served == (size_t)n && res.failed == 0);
    CHECK(!strstr(res.body, "batchItemFailures"));
    size_t no = 0;
    const rp_record_outcome *o = rp_handler_outcomes(h, &no);
    CHECK(o && no == (size_t)n);
    for (size_t i = 0; o && i < no; i++) {
        CHECK(o[i].status == RP_RECORD_SERVED);
        CHECK(o[i].partition_key_len == 256 * 4); /* str(ride_id) in UTF-8 */
    }
    for (int i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
    free(ev);
}

TEST(largest_ride_ids_fill_chunks)
{
    astral_ride_ids(128);
    astral_ride_ids(300);
}

/* The outcome of every record: served ones with their prediction record
 * and partition key, refused ones with their reason. */
TEST(outcomes_per_record)
{
    const char *recs[] = {
        RIDE,
        "!not base64 at all!",
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": \"x\"}",
    };
    char *ev = kinesis(3, recs);
    rp_invoke_result res = run(ev, strlen(ev));
    size_t n = 0;
    const rp_record_outcome *o = rp_handler_outcomes(h, &n);
    CHECK(o && n == 3);
    if (o && n == 3) {
        CHECK(o[0].status == RP_RECORD_SERVED && o[0].code == RP_OK && !o[0].reason);
        CHECK_MEM(o[0].prediction, o[0].prediction_len,
                  E_PREFIX "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}");
        CHECK_MEM(o[0].partition_key, o[0].partition_key_len, "256");
        CHECK(o[1].status == RP_RECORD_REFUSED && o[1].code == RP_ERR_INVALID && !o[1].prediction);
        CHECK(o[1].reason && strstr(o[1].reason, "bad base64"));
        CHECK(o[2].status == RP_RECORD_SERVED);
        CHECK_MEM(o[2].partition_key, o[2].partition_key_len, "x");
    }
    free(ev);
    /* A function error has no outcomes. */
    res = run("[]", 2);
    CHECK(res.status == RP_INVOKE_FUNCTION_ERROR);
    o = rp_handler_outcomes(h, &n);
    CHECK(n == 0);
}

/* A publish function that refuses every second entry, the first time with
 * a message that repeats its code. */
static int publish_some(void *ctx, const rp_stream_entry *e, size_t n, rp_stream_put_result *r, rp_error *err)
{
    int *calls = ctx;
    (*calls)++;
    (void)e;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].ok = i % 2 == 0;
        if (!r[i].ok) {
            snprintf(r[i].error_code, sizeof r[i].error_code, "Throttled");
            snprintf(r[i].error_message, sizeof r[i].error_message, "%s",
                     i == 1 ? "Throttled: slow down" : "busy");
        }
    }
    return 0;
}

TEST(unpublished_records_fail)
{
    int calls = 0;
    rp_error err;
    rp_handler_config cfg = {
        .version = "v", .log_failures = false, .publish = publish_some, .publish_ctx = &calls};
    rp_handler *hp = rp_handler_new(model, &cfg, &err);
    const char *recs[] = {RIDE, RIDE, RIDE, "!bad!", RIDE};
    char *ev = kinesis(5, recs);
    rp_invoke_result res;
    CHECK(rp_handler_invoke(hp, ev, strlen(ev), &res) == 0);
    CHECK(calls == 1 && res.served == 2 && res.failed == 3);
    CHECK(strstr(res.body,
                 "\"batchItemFailures\": [{\"itemIdentifier\": \"2\"}, {\"itemIdentifier\": \"4\"}, "
                 "{\"itemIdentifier\": \"5\"}]"));
    size_t n = 0;
    const rp_record_outcome *o = rp_handler_outcomes(hp, &n);
    CHECK(o && n == 5);
    if (o && n == 5) {
        CHECK(o[0].status == RP_RECORD_SERVED && o[2].status == RP_RECORD_SERVED);
        CHECK(o[1].status == RP_RECORD_UNPUBLISHED && o[1].code == RP_ERR_IO && o[1].prediction);
        CHECK_STR(o[1].reason, "not published: Throttled: slow down");
        CHECK(o[3].status == RP_RECORD_REFUSED);
        CHECK(o[4].status == RP_RECORD_UNPUBLISHED);
        CHECK_STR(o[4].reason, "not published: Throttled: busy");
    }
    free(ev);
    rp_handler_free(hp);
}

/* docs/handler.md §3.1: a Kafka event answers what the Kinesis event of
 * the same rides answers, byte for byte; its failures are named by
 * topic-partition and offset. */
TEST(kafka_event_as_kinesis)
{
    const char *recs[] = {
        RIDE,
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": \"x\"}",
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 1e-7}, \"ride_id\": -0}",
    };
    char *kin = kinesis(3, recs), *kaf = kafka(3, recs, NULL);
    rp_invoke_result res = run(kin, strlen(kin));
    char *want = strndup(res.body, res.body_len);
    res = run(kaf, strlen(kaf));
    CHECK(res.status == RP_INVOKE_OK && res.records == 3 && res.served == 3 && res.failed == 0);
    CHECK_MEM(res.body, res.body_len, want);
    CHECK(!strstr(want, "batchItemFailures") && strstr(want, "\"ride_id\": \"x\""));
    free(want);
    free(kin);
    free(kaf);
}

TEST(kafka_records_in_key_order)
{
    /* rides-1 is named first: its records come first, then rides-0's. */
    const char *recs[] = {
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": 1}",
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": 2}",
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": 3}",
    };
    int part[] = {1, 0, 1};
    char *ev = kafka(3, recs, part);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len,
              "{\"predictions\": [" E_PREFIX "{\"ride_duration\": 12.1, \"ride_id\": 1}}, " E_PREFIX
              "{\"ride_duration\": 12.1, \"ride_id\": 3}}, " E_PREFIX
              "{\"ride_duration\": 12.1, \"ride_id\": 2}}]}");
    size_t n = 0;
    const rp_record_outcome *o = rp_handler_outcomes(h, &n);
    CHECK(o && n == 3);
    if (o && n == 3) {
        CHECK_MEM(o[0].partition_key, o[0].partition_key_len, "1");
        CHECK_MEM(o[1].partition_key, o[1].partition_key_len, "3");
        CHECK_MEM(o[2].partition_key, o[2].partition_key_len, "2");
    }
    free(ev);
}

/* Bad records fail alone, as on Kinesis (§6), with the Kafka identifier. */
TEST(kafka_bad_records)
{
    const char *recs[] = {
        RIDE, "#null", "#none", "!not base64 at all!", "{\"ride\": {}}", "!1234", RIDE, "!\\u00e9eyJ9",
    };
    int part[] = {0, 0, 1, 1, 0, 0, 1, 1};
    char *ev = kafka(8, recs, part);
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK && res.records == 8 && res.served == 2 && res.failed == 6);
    CHECK_MEM(res.body, res.body_len,
              "{\"predictions\": [" E_PREFIX
              "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}, " E_PREFIX
              "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}], \"batchItemFailures\": ["
              "{\"itemIdentifier\": {\"partition\": \"rides-0\", \"offset\": 11}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-0\", \"offset\": 14}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-0\", \"offset\": 15}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-1\", \"offset\": 12}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-1\", \"offset\": 13}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-1\", \"offset\": 17}}]}");
    size_t n = 0;
    const rp_record_outcome *o = rp_handler_outcomes(h, &n);
    CHECK(o && n == 8);
    if (o && n == 8) {
        /* outcomes in the answer's order: rides-0's records (0, 1, 4, 5), then rides-1's (2, 3, 6, 7) */
        CHECK(o[0].status == RP_RECORD_SERVED);
        CHECK(o[1].status == RP_RECORD_REFUSED && o[1].reason &&
              strstr(o[1].reason, "value is null (a tombstone)"));
        CHECK(o[2].status == RP_RECORD_REFUSED && o[2].reason && strstr(o[2].reason, "is missing"));
        CHECK(o[3].status == RP_RECORD_REFUSED && o[3].reason &&
              strstr(o[3].reason, "record is not valid JSON"));
        CHECK(o[4].status == RP_RECORD_REFUSED && o[4].reason && strstr(o[4].reason, "value is missing"));
        CHECK(o[5].status == RP_RECORD_REFUSED && o[5].reason && strstr(o[5].reason, "bad base64"));
        CHECK(o[6].status == RP_RECORD_SERVED);
        CHECK(o[7].status == RP_RECORD_REFUSED && o[7].reason && strstr(o[7].reason, "bad base64"));
    }
    free(ev);
    /* A value that is not a string. */
    const char *ev2 = "{\"records\": {\"t-0\": [{\"offset\": 4, \"value\": 5}]}}";
    res = run(ev2, strlen(ev2));
    CHECK_MEM(
        res.body, res.body_len,
        "{\"predictions\": [], \"batchItemFailures\": [{\"itemIdentifier\": {\"partition\": \"t-0\", \"offset\": "
        "4}}]}");
    o = rp_handler_outcomes(h, &n);
    CHECK(o && n == 1 && o[0].reason && strstr(o[0].reason, "value is not a string"));
}

/* The identifier is written back as json.dumps writes what json.loads
 * read (§4.3): the key's escapes, the offset as an integer. */
TEST(kafka_identifiers_written_back)
{
    const char *ev = "{\"records\": {\"\\u00e9v\\/\\ud83d\\ude00-0\": [{\"offset\": -0, \"value\": \"!\"}, "
                     "{\"offset\": 123456789012345678901234567890, \"value\": \"!\"}], "
                     "\"\xc3\xa9\": [{\"offset\": 1, \"value\": \"!\"}]}}";
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len,
              "{\"predictions\": [], \"batchItemFailures\": ["
              "{\"itemIdentifier\": {\"partition\": \"\\u00e9v/\\ud83d\\ude00-0\", \"offset\": 0}}, "
              "{\"itemIdentifier\": {\"partition\": \"\\u00e9v/\\ud83d\\ude00-0\", \"offset\": "
              "123456789012345678901234567890}}, "
              "{\"itemIdentifier\": {\"partition\": \"\\u00e9\", \"offset\": 1}}]}");
}

TEST(kafka_invalid_events)
{
    invalid_event("{\"records\": []}", "not an object");
    invalid_event("{\"eventSource\": \"aws:kafka\", \"records\": \"x\"}", "not an object");
    invalid_event("{\"records\": {\"t-0\": {\"offset\": 1}}}", "records[\\\"t-0\\\"] is not an array");
    invalid_event("{\"records\": {\"t-0\": [{\"offset\": 1, \"value\": \"\"}, null]}}",
                  "records[\\\"t-0\\\"][1] is not an object");
    invalid_event("{\"records\": {\"t-0\": [{\"value\": \"eyJ9\"}]}}", "has no offset");
    invalid_event("{\"records\": {\"t-0\": [{\"offset\": 1.5}]}}", "offset is not an integer");
    invalid_event("{\"records\": {\"t-0\": [{\"offset\": \"15\"}]}}", "offset is not an integer");
    /* A topic-partition named twice, literally or through an escape. */
    invalid_event("{\"records\": {\"t-0\": [], \"t-1\": [], \"t-0\": [{\"offset\": 1}]}}",
                  "has the key \\\"t-0\\\" twice");
    invalid_event("{\"records\": {\"t-0\": [{\"offset\": 1}], \"\\u0074-0\": []}}",
                  "has the key \\\"t-0\\\" twice");
    invalid_event("{\"records\": {\"\\u00e9\": [], \"\xc3\xa9\": []}}", "key 2 repeats an earlier key");
    /* ... and nothing of such an event is served. */
    size_t n = 1;
    CHECK(rp_handler_outcomes(h, &n) && n == 0);
}

TEST(kafka_empty_and_precedence)
{
    const char *ev =
        "{\"eventSource\": \"SelfManagedKafka\", \"bootstrapServers\": \"k:9092\", \"records\": {}}";
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    ev = "{\"records\": {\"t-0\": [], \"t-1\": []}}";
    res = run(ev, strlen(ev));
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    /* "Records" wins: this is a Kinesis event whatever "records" holds. */
    ev = "{\"records\": {\"t-0\": [{\"offset\": 1, \"value\": \"!\"}]}, \"Records\": []}";
    res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK && res.records == 0);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    ev = "{\"Records\": [], \"records\": {\"t-0\": [{\"offset\": 1, \"value\": \"!\"}]}}";
    res = run(ev, strlen(ev));
    CHECK(res.status == RP_INVOKE_OK && res.records == 0);
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    ev = "{\"Records\": [], \"records\": 7}";
    res = run(ev, strlen(ev));
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
    /* The last "records" counts. */
    ev =
        "{\"records\": {\"t-0\": [{\"offset\": 1}, 2]}, \"records\": {\"u-0\": [{\"offset\": 3, \"value\": \"!\"}]}}";
    res = run(ev, strlen(ev));
    CHECK_MEM(
        res.body, res.body_len,
        "{\"predictions\": [], \"batchItemFailures\": [{\"itemIdentifier\": {\"partition\": \"u-0\", \"offset\": "
        "3}}]}");
    /* A ride event that also holds "records" is a Kafka event. */
    ev =
        "{\"ride\": {\"PULocationID\": 130, \"DOLocationID\": 205, \"trip_distance\": 3.66}, \"ride_id\": 1, "
        "\"records\": {}}";
    res = run(ev, strlen(ev));
    CHECK_MEM(res.body, res.body_len, "{\"predictions\": []}");
}

/* A publish function that keeps what it was given and refuses the second
 * entry. */
typedef struct kept {
    char data[4][512];
    char key[4][64];
    int n;
} kept;

static int publish_keep(void *ctx, const rp_stream_entry *e, size_t n, rp_stream_put_result *r, rp_error *err)
{
    kept *k = ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        if (k->n < 4) {
            snprintf(k->data[k->n], sizeof k->data[0], "%.*s", (int)e[i].data_len, (const char *)e[i].data);
            snprintf(k->key[k->n], sizeof k->key[0], "%.*s", (int)e[i].partition_key_len, e[i].partition_key);
            k->n++;
        }
        memset(&r[i], 0, sizeof r[i]);
        r[i].ok = i != 1;
        if (!r[i].ok)
            snprintf(r[i].error_code, sizeof r[i].error_code, "ProvisionedThroughputExceededException");
    }
    return 0;
}

/* §8: the predictions of a Kafka event are published as a Kinesis event's
 * are (data the prediction, partition key str(ride_id)); one the stream
 * does not take fails its record by topic-partition and offset. */
TEST(kafka_published)
{
    kept k = {.n = 0};
    rp_error err;
    rp_handler_config cfg = {
        .version = "v", .log_failures = false, .publish = publish_keep, .publish_ctx = &k};
    rp_handler *hp = rp_handler_new(model, &cfg, &err);
    const char *recs[] = {
        RIDE,
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": \"x\\u00e9\"}",
        "#null",
        "{\"ride\": {\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 0}, \"ride_id\": 77}",
    };
    int part[] = {0, 3, 0, 3};
    char *ev = kafka(4, recs, part);
    rp_invoke_result res;
    CHECK(rp_handler_invoke(hp, ev, strlen(ev), &res) == 0);
    CHECK(k.n == 3 && res.served == 2 && res.failed == 2);
    CHECK_STR(k.data[0], E_PREFIX "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}");
    CHECK_STR(k.key[0], "256");
    CHECK_STR(k.data[1], E_PREFIX "{\"ride_duration\": 12.1, \"ride_id\": \"x\\u00e9\"}}");
    CHECK_STR(k.key[1], "x\xc3\xa9");
    CHECK_STR(k.key[2], "77");
    CHECK_MEM(res.body, res.body_len,
              "{\"predictions\": [" E_PREFIX
              "{\"ride_duration\": 23.494999999999997, \"ride_id\": 256}}, " E_PREFIX
              "{\"ride_duration\": 12.1, \"ride_id\": 77}}], \"batchItemFailures\": ["
              "{\"itemIdentifier\": {\"partition\": \"rides-0\", \"offset\": 12}}, "
              "{\"itemIdentifier\": {\"partition\": \"rides-3\", \"offset\": 11}}]}");
    free(ev);
    rp_handler_free(hp);
}

/* rp_handler_keep_rides: each record's inputs and prediction, in record
 * order, NaN where a record was not decoded or not predicted. */
TEST(rides_kept)
{
    const char *recs[] = {
        RIDE,
        "!not base64 at all!",
        "{\"ride\": {\"PULocationID\": \"1\", \"DOLocationID\": 2.0, \"trip_distance\": 0}, \"ride_id\": \"x\"}",
        "{\"ride\": {}}",
        "{\"ride\": {\"PULocationID\": \"a\", \"DOLocationID\": \"b\", \"trip_distance\": 1.5}, \"ride_id\": 7}",
    };
    char *ev = kinesis(5, recs);
    rp_handler_rides r;
    rp_invoke_result res = run(ev, strlen(ev));
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == 0); /* not kept by default */
    rp_handler_keep_rides(h, true);
    res = run(ev, strlen(ev));
    CHECK(res.served == 3);
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == 5);
    if (r.n == 5) {
        CHECK(r.pu[0] == 130 && r.dol[0] == 205 && r.distance[0] == 3.66 &&
              r.prediction[0] == 23.494999999999997);
        CHECK(isnan(r.pu[1]) && isnan(r.dol[1]) && isnan(r.distance[1]) && isnan(r.prediction[1]));
        CHECK(r.pu[2] == 1 && r.dol[2] == 2 && r.distance[2] == 0 &&
              r.prediction[2] == 10.1); /* "1_2.0": unseen */
        CHECK(isnan(r.pu[3]) && isnan(r.prediction[3]));
        CHECK(isnan(r.pu[4]) && isnan(r.dol[4]) && r.distance[4] == 1.5 &&
              r.prediction[4] == 10.1 + 1.5 * 3.25);
    }
    free(ev);
    /* More records than a chunk and than the first allocation. */
    enum {
        N = 700
    };
    static char texts[N][160];
    const char *many[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i],
                 "{\"ride\": {\"PULocationID\": %d, \"DOLocationID\": 205, \"trip_distance\": %d.5}, "
                 "\"ride_id\": %d}",
                 i % 2 ? 130 : 7, i, i);
        many[i] = texts[i];
    }
    ev = kinesis(N, many);
    res = run(ev, strlen(ev));
    CHECK(res.served == N);
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == N);
    int bad = 0;
    for (int i = 0; i < N && r.n == N; i++) {
        double want = (i % 2 ? 1.5 : 0) + (i + 0.5) * 3.25 + 10.1;
        bad +=
            r.pu[i] != (i % 2 ? 130 : 7) || r.distance[i] != i + 0.5 || fabs(r.prediction[i] - want) > 1e-9;
    }
    CHECK(bad == 0);
    free(ev);
    /* A direct event: one ride. */
    const char *direct = RIDE;
    res = run(direct, strlen(direct));
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == 1 && r.pu[0] == 130 &&
          r.prediction[0] == 23.494999999999997);
    /* A function error: none. */
    res = run("[]", 2);
    CHECK(res.status == RP_INVOKE_FUNCTION_ERROR);
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == 0);
    rp_handler_keep_rides(h, false);
    res = run(direct, strlen(direct));
    CHECK(rp_handler_last_rides(h, &r) == 0 && r.n == 0);
}

int main(void)
{
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    rp_error err;
    if (rp_model_from_json(model_json, sizeof model_json - 1, &model, &err) < 0) {
        fprintf(stderr, "model: %s\n", err.msg);
        return 1;
    }
    rp_handler_config cfg = {.version = "v", .log_failures = false};
    h = rp_handler_new(model, &cfg, &err);
    RUN(course_event_byte_exact);
    RUN(direct_event);
    RUN(good_and_bad_records_in_order);
    RUN(bad_base64);
    RUN(non_ascii_in_base64);
    RUN(bad_utf8);
    RUN(bad_json);
    RUN(missing_fields);
    RUN(wrong_types);
    RUN(trip_distance_not_finite);
    RUN(location_types);
    RUN(ride_id_types_and_length);
    RUN(unseen_category_contributes_nothing);
    RUN(duplicate_keys_last_wins);
    RUN(record_too_large);
    RUN(nesting_limit);
    RUN(invalid_events);
    RUN(duplicate_records_key_last_wins);
    RUN(event_size_limit);
    RUN(empty_records);
    RUN(version_resolution);
    RUN(version_kept_whole);
    RUN(largest_ride_ids_fill_chunks);
    RUN(outcomes_per_record);
    RUN(unpublished_records_fail);
    RUN(kafka_event_as_kinesis);
    RUN(kafka_records_in_key_order);
    RUN(kafka_bad_records);
    RUN(kafka_identifiers_written_back);
    RUN(kafka_invalid_events);
    RUN(kafka_empty_and_precedence);
    RUN(kafka_published);
    RUN(rides_kept);
    rp_handler_free(h);
    rp_model_release(model);
    return rp_t_done();
}
