/* libFuzzer target: the Kinesis client's reading of answers
 * (src/stream/kinesis/kinesis.c), what any endpoint may send back.
 *
 * Input: byte 0 picks the operation (GetRecords, ListShards,
 * DescribeStreamSummary, ListStreams, PutRecords, GetShardIterator) and the
 * HTTP status (200, or 400 for an error body); the rest is the first
 * answer's body.  Later requests of the same call (pages, retries) are
 * answered "{}", so that a call ends.  The transport is injected: no
 * socket.  Whatever the answer, the call returns 0 or -1, and what it
 * hands back is well formed: NUL-terminated strings within their fields,
 * record views inside the answer's decoded buffers, one result per entry. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ridepred/log.h"
#include "stream/kinesis/kinesis.h"

typedef struct answer {
    const uint8_t *data;
    size_t len;
    long status;
    unsigned calls;
} answer;

static int transport(void *ctx, rp__http_client *c, const rp__http_request *req, rp__http_response *resp,
                     rp_error *err)
{
    (void)c;
    (void)req;
    (void)err;
    answer *a = ctx;
    if (a->calls++ == 0) {
        resp->status = a->status;
        rp__buf_append(&resp->body, a->data, a->len);
    } else {
        resp->status = 200;
        rp__buf_lit(&resp->body, "{}");
    }
    return 0;
}

static void no_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    (void)ms;
}

static void check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

static int on_record(void *ctx, const rp_stream_record *r)
{
    size_t *n = ctx;
    (*n)++;
    if (!r->sequence_number || !r->partition_key || (!r->data && r->data_len))
        abort();
    /* Touch every byte, so that ASan sees a view past its buffer. */
    unsigned sum = 0;
    for (size_t i = 0; i < r->data_len; i++)
        sum += r->data[i];
    for (size_t i = 0; i < r->partition_key_len; i++)
        sum += (unsigned char)r->partition_key[i];
    sum += (unsigned)strlen(r->sequence_number);
    return sum == 0xFFFFFFFFu; /* never: keeps the reads */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rp__kinesis *k;
    static answer a;
    if (!k) {
        rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
        rp__aws_credentials cr = {0};
        strcpy(cr.access_key_id, "AKIDFUZZ");
        strcpy(cr.secret_access_key, "fuzz");
        strcpy(cr.source, "static");
        rp__kinesis_options o = {.endpoint_url = "http://127.0.0.1:1",
                                 .region = "us-east-1",
                                 .credentials = &cr,
                                 .retry = {.max_attempts = 1},
                                 .wait_timeout_ms = 1};
        rp_error err;
        if (rp__kinesis_open(&o, &k, &err) != 0)
            abort();
        rp__http_client *h = rp__kinesis_http(k);
        h->transport = transport;
        h->transport_ctx = &a;
        h->sleep_ms = no_sleep;
    }
    if (size < 1)
        return 0;
    a = (answer){data + 1, size - 1, (data[0] & 0x80) ? 400 : 200, 0};
    rp_error err;
    memset(&err, 0, sizeof err);
    switch (data[0] % 6) {
    case 0: {
        char next[RP_STREAM_ITER_MAX];
        int64_t behind = 0;
        size_t n = 0;
        if (rp__kinesis_get_records(k, "shardId-000000000000|AAAA", 0, on_record, &n, next, &behind, &err) ==
            0)
            check_str(next, sizeof next);
        break;
    }
    case 1: {
        rp_stream_shard *v = NULL;
        size_t n = 0;
        if (rp__kinesis_list_shards(k, "s", &v, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++) {
                check_str(v[i].shard_id, sizeof v[i].shard_id);
                check_str(v[i].parent_shard_id, sizeof v[i].parent_shard_id);
                check_str(v[i].hash_start, sizeof v[i].hash_start);
                check_str(v[i].hash_end, sizeof v[i].hash_end);
                check_str(v[i].seq_start, sizeof v[i].seq_start);
                check_str(v[i].seq_end, sizeof v[i].seq_end);
            }
        } else if (v || n) {
            abort();
        }
        free(v);
        break;
    }
    case 2: {
        rp_stream_info info;
        if (rp__kinesis_describe_stream(k, "s", &info, &err) == 0) {
            check_str(info.name, sizeof info.name);
            check_str(info.status, sizeof info.status);
        }
        break;
    }
    case 3: {
        rp_stream_info *v = NULL;
        size_t n = 0;
        if (rp__kinesis_list_streams(k, &v, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                check_str(v[i].name, sizeof v[i].name);
        } else if (v || n) {
            abort();
        }
        free(v);
        break;
    }
    case 4: {
        rp_stream_entry e[3] = {{"a", 1, "k1", 2}, {"bb", 2, "k2", 2}, {"ccc", 3, "k3", 2}};
        rp_stream_put_result r[3];
        memset(r, 0, sizeof r);
        (void)rp__kinesis_put_records(k, "s", e, 3, r, &err);
        for (int i = 0; i < 3; i++) {
            check_str(r[i].error_code, sizeof r[i].error_code);
            check_str(r[i].error_message, sizeof r[i].error_message);
            if (r[i].ok) {
                check_str(r[i].shard_id, sizeof r[i].shard_id);
                check_str(r[i].sequence_number, sizeof r[i].sequence_number);
            } else if (!r[i].error_code[0]) {
                abort(); /* every entry not stored says why */
            }
        }
        break;
    }
    default: {
        char iter[RP_STREAM_ITER_MAX];
        if (rp__kinesis_get_iterator(k, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, iter,
                                     &err) == 0)
            check_str(iter, sizeof iter);
        break;
    }
    }
    check_str(err.msg, sizeof err.msg);
    return 0;
}
