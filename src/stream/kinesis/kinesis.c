/* The Amazon Kinesis Data Streams backend: Kinesis's JSON 1.1 API over the
 * AWS pieces of src/aws/ (see kinesis.h). */
#include "stream/kinesis/kinesis.h"
#include "stream/reshard.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/jsonapi.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyjson.h"
#include "ridepred/log.h"

typedef rp__u128 u128;

#define REQUEST_MAX ((size_t)16 * 1024 * 1024) /* 5 MiB of data is ~6.7 MiB of base64 */
#define SCRATCH_MAX ((size_t)64 * 1024 * 1024)
#define LIST_STREAMS_PAGE 100

/* A record of a GetRecords answer: views into the answer, then (once
 * decoded) offsets into the scratch buffer. */
typedef struct raw_record {
    rp__json_value data, pk, seq;
    int64_t arrival_ms;
    size_t seq_off, pk_off, pk_len, data_off, data_len;
} raw_record;

struct rp__kinesis {
    bool single_put;     /* this put is one record: PutRecord */
    rp__aws_jsonapi api; /* endpoint, region, credentials, connection, request and answer */
    rp__buf scratch;     /* GetRecords: decoded records */
    raw_record *recs;    /* GetRecords: the answer's records */
    size_t recs_cap;
};

static const rp__aws_jsonapi_service kinesis_service = {
    .name = "Kinesis",
    .signing_name = "kinesis",
    .env_id = "KINESIS",
    .target_prefix = RP_KINESIS_TARGET_PREFIX,
    .content_type = RP_KINESIS_CONTENT_TYPE,
    .max_request_bytes = REQUEST_MAX,
    .max_response_bytes = RP_KINESIS_MAX_RESPONSE_BYTES,
};

/* ---- small helpers ------------------------------------------------------ */

/* The shared JSON RPC pieces (src/aws/jsonapi.h) under this file's short names. */
#define jstr rp__aws_json_str
#define copy_str rp__aws_json_copy_str
#define skip_value rp__aws_json_skip
#define bad_answer(err, op, ...) rp__aws_bad_answer(err, "Kinesis", op, __VA_ARGS__)
#define json_error(r, op, err) rp__aws_json_error(r, "Kinesis", op, err)
#define call(k, op, err) rp__aws_jsonapi_call(&(k)->api, op, err)
#define answer_begin(k, r, op, err) rp__aws_jsonapi_answer(&(k)->api, r, op, err)

static void copy_trunc(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Decodes a JSON string view into out, cut to fit, printable ASCII only
 * (error codes and messages). */
static void decode_trunc(const rp__json_value *v, char *out, size_t cap)
{
    char tmp[1024];
    size_t n;
    const char *src;
    if (v->len <= sizeof tmp) {
        n = rp__json_str_decode(v, tmp);
        src = tmp;
    } else {
        n = v->len;
        src = v->ptr;
    }
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[o] = '\0';
}

/* The characters of UTF-8 text, or -1 when it is not valid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF refused). */
static long utf8_chars(const unsigned char *s, size_t n)
{
    long chars = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            chars++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return -1;
        }
        if (n - i < len)
            return -1;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += len;
        chars++;
    }
    return chars;
}

static int json_u32(const rp__json_value *v, uint32_t *out)
{
    uint64_t x;
    if (rp__aws_json_uint(v, UINT32_MAX, &x) != 0)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

int rp__kinesis_open(const rp__kinesis_options *opt, rp__kinesis **out, rp_error *err)
{
    if (!out)
        return rp_error_set(err, RP_ERR_INVALID, "kinesis: no output handle");
    *out = NULL;
    rp__kinesis *k = calloc(1, sizeof *k);
    if (!k)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    rp__buf_init(&k->scratch, SCRATCH_MAX);
    if (rp__aws_jsonapi_init(&k->api, &kinesis_service, opt, err) != 0) {
        free(k);
        return -1;
    }
    *out = k;
    return 0;
}

void rp__kinesis_close(rp__kinesis *k)
{
    if (!k)
        return;
    rp__aws_jsonapi_cleanup(&k->api);
    rp__buf_cleanup(&k->scratch);
    free(k->recs);
    free(k);
}

const char *rp__kinesis_endpoint(const rp__kinesis *k)
{
    return k->api.url;
}

const char *rp__kinesis_region(const rp__kinesis *k)
{
    return k->api.region;
}

rp__http_client *rp__kinesis_http(rp__kinesis *k)
{
    return &k->api.http;
}

static int check_name(const char *name, rp_error *err)
{
    if (!name || !*name)
        return rp_error_set(err, RP_ERR_INVALID, "ValidationException: stream name missing");
    return 0;
}

/* ---- describe and waiting ----------------------------------------------- */

int rp__kinesis_describe_stream(rp__kinesis *k, const char *name, rp_stream_info *out, rp_error *err)
{
    static const char op[] = "DescribeStreamSummary";
    if (check_name(name, err) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_putc(b, '}');
    if (call(k, op, err) != 0)
        return -1;
    rp__json_reader r;
    rp__json_value key, v;
    bool found = false;
    int rc;
    if (answer_begin(k, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return json_error(&r, op, err);
        if (!rp__json_str_eq(&key, "StreamDescriptionSummary", 24) || v.type != RP_JSON_OBJECT) {
            if (skip_value(&r, &v) != 0)
                return json_error(&r, op, err);
            continue;
        }
        found = true;
        int rc2;
        while ((rc2 = rp__json_member(&r, &key)) == 1) {
            if (rp__json_next(&r, &v) != 1)
                return json_error(&r, op, err);
            int bad = 0;
            if (rp__json_str_eq(&key, "StreamName", 10))
                bad = copy_str(&v, out->name, sizeof out->name);
            else if (rp__json_str_eq(&key, "StreamStatus", 12))
                bad = copy_str(&v, out->status, sizeof out->status);
            else if (rp__json_str_eq(&key, "OpenShardCount", 14))
                bad = json_u32(&v, &out->open_shards);
            else if (rp__json_str_eq(&key, "RetentionPeriodHours", 20))
                bad = json_u32(&v, &out->retention_hours);
            else if (rp__json_str_eq(&key, "StreamCreationTimestamp", 23))
                bad = rp__aws_json_time_ms(&v, &out->created_ms);
            else
                bad = skip_value(&r, &v);
            if (bad)
                return r.failed ? json_error(&r, op, err)
                                : bad_answer(err, op, "an unexpected value in StreamDescriptionSummary");
        }
        if (rc2 < 0)
            return json_error(&r, op, err);
    }
    if (rc < 0)
        return json_error(&r, op, err);
    if (!found || !out->status[0])
        return bad_answer(err, op, "no StreamDescriptionSummary.StreamStatus");
    if (!out->name[0])
        snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

enum wait_for {
    WAIT_ACTIVE,
    WAIT_ACTIVE_NEW,
    WAIT_GONE
};

typedef struct wait_ctx {
    rp__kinesis *k;
    const char *name;
    enum wait_for what;
    int rc; /* the last DescribeStreamSummary's */
    rp_stream_info in;
} wait_ctx;

static int wait_probe(void *ctx, rp_error *err)
{
    wait_ctx *w = ctx;
    rp_error e;
    rp_error_clear(&e);
    w->rc = rp__kinesis_describe_stream(w->k, w->name, &w->in, &e);
    if (w->what == WAIT_GONE) {
        if (w->rc != 0 && e.code == RP_ERR_NOT_FOUND)
            return 1;
    } else if (w->rc == 0 && !strcmp(w->in.status, "ACTIVE")) {
        return 1;
    } else if (w->rc == 0 && !strcmp(w->in.status, "DELETING")) {
        return rp_error_set(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException: stream %s is being deleted",
                            w->name);
    }
    if (w->rc != 0 && !(w->what == WAIT_ACTIVE_NEW && e.code == RP_ERR_NOT_FOUND)) {
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

/* Polls DescribeStreamSummary until the stream is ACTIVE (WAIT_ACTIVE_NEW:
 * a stream just created may not be visible yet) or gone.  *info (may be
 * NULL) receives the last description. */
static int wait_for(rp__kinesis *k, const char *name, enum wait_for what, rp_stream_info *info, rp_error *err)
{
    wait_ctx w = {.k = k, .name = name, .what = what};
    int rc = rp__aws_jsonapi_poll(&k->api, wait_probe, &w, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (info && what != WAIT_GONE)
            *info = w.in;
        return 0;
    }
    const char *status = w.rc == 0 ? w.in.status : "not visible";
    if (what == WAIT_GONE) {
        rp_log(RP_LOG_WARN, "Kinesis stream still being deleted; going on", "stream", name, "status", status,
               NULL);
        return 0;
    }
    rp_error_set(err, RP_ERR_IO, "Kinesis stream %s is still %s after %u ms (expected ACTIVE)", name, status,
                 k->api.wait_timeout_ms);
    if (err)
        err->retriable = true;
    return -1;
}

/* ---- streams ------------------------------------------------------------ */

int rp__kinesis_create_stream(rp__kinesis *k, const char *name, uint32_t shard_count, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_printf(b, ", \"ShardCount\": %u}", shard_count);
    if (call(k, "CreateStream", err) != 0)
        return -1;
    return wait_for(k, name, WAIT_ACTIVE_NEW, NULL, err);
}

int rp__kinesis_delete_stream(rp__kinesis *k, const char *name, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_putc(b, '}');
    if (call(k, "DeleteStream", err) != 0)
        return -1;
    return wait_for(k, name, WAIT_GONE, NULL, err);
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const rp_stream_info *)a)->name, ((const rp_stream_info *)b)->name);
}

static int push_info(rp_stream_info **arr, size_t *n, size_t *cap, rp_error *err)
{
    rp_stream_info *p = rp__array_grow(*arr, *n, cap, sizeof **arr, 16);
    if (!p)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    *arr = p;
    memset(&(*arr)[*n], 0, sizeof **arr);
    (*n)++;
    return 0;
}

/* The stream whose name is s, adding it when new (StreamNames and
 * StreamSummaries both name every stream of a page). */
static rp_stream_info *find_or_add(rp_stream_info **arr, size_t *n, size_t *cap, size_t from, const char *s,
                                   rp_error *err)
{
    for (size_t i = from; i < *n; i++)
        if (!strcmp((*arr)[i].name, s))
            return &(*arr)[i];
    if (push_info(arr, n, cap, err) != 0)
        return NULL;
    rp_stream_info *in = &(*arr)[*n - 1];
    snprintf(in->name, sizeof in->name, "%s", s);
    return in;
}

/* A NextToken's value into *token, malloc'd (NULL when empty); a token
 * already there (a key given twice) is replaced, not leaked. */
static int take_token(const rp__json_value *v, char **token, rp_error *err)
{
    free(*token);
    *token = NULL;
    char *t = malloc(v->len + 1);
    if (!t)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    size_t tl = rp__json_str_decode(v, t);
    t[tl] = '\0';
    if (tl)
        *token = t;
    else
        free(t);
    return 0;
}

int rp__kinesis_list_streams(rp__kinesis *k, rp_stream_info **out, size_t *count, rp_error *err)
{
    static const char op[] = "ListStreams";
    rp_stream_info *arr = NULL;
    size_t n = 0, cap = 0;
    char *token = NULL;
    char last[RP_STREAM_NAME_MAX + 1] = "";
    *out = NULL;
    *count = 0;
    for (int page = 0;; page++) {
        rp__buf *b = &k->api.body;
        rp__buf_reset(b);
        rp__buf_printf(b, "{\"Limit\": %d", LIST_STREAMS_PAGE);
        if (token) {
            rp__buf_lit(b, ", \"NextToken\": ");
            jstr(b, token);
        } else if (page > 0) {
            rp__buf_lit(b, ", \"ExclusiveStartStreamName\": ");
            jstr(b, last);
        }
        rp__buf_putc(b, '}');
        free(token);
        token = NULL;
        if (call(k, op, err) != 0)
            goto fail;
        size_t page_from = n;
        bool more = false;
        rp__json_reader r;
        rp__json_value key, v;
        int rc;
        if (answer_begin(k, &r, op, err) != 0)
            goto fail;
        while ((rc = rp__json_member(&r, &key)) == 1) {
            if (rp__json_next(&r, &v) != 1)
                goto json_fail;
            if (rp__json_str_eq(&key, "StreamNames", 11) && v.type == RP_JSON_ARRAY) {
                int e;
                while ((e = rp__json_element(&r)) == 1) {
                    char nm[RP_STREAM_NAME_MAX + 1];
                    if (rp__json_next(&r, &v) != 1)
                        goto json_fail;
                    if (copy_str(&v, nm, sizeof nm) != 0) {
                        bad_answer(err, op, "a stream name that is not a string of 1-128 bytes");
                        goto fail;
                    }
                    if (!find_or_add(&arr, &n, &cap, page_from, nm, err))
                        goto fail;
                }
                if (e < 0)
                    goto json_fail;
            } else if (rp__json_str_eq(&key, "StreamSummaries", 15) && v.type == RP_JSON_ARRAY) {
                int e;
                while ((e = rp__json_element(&r)) == 1) {
                    if (rp__json_next(&r, &v) != 1)
                        goto json_fail;
                    if (v.type != RP_JSON_OBJECT) {
                        bad_answer(err, op, "a StreamSummaries entry that is not an object");
                        goto fail;
                    }
                    rp_stream_info tmp = {0};
                    int m;
                    while ((m = rp__json_member(&r, &key)) == 1) {
                        if (rp__json_next(&r, &v) != 1)
                            goto json_fail;
                        int bad = 0;
                        if (rp__json_str_eq(&key, "StreamName", 10))
                            bad = copy_str(&v, tmp.name, sizeof tmp.name);
                        else if (rp__json_str_eq(&key, "StreamStatus", 12))
                            bad = copy_str(&v, tmp.status, sizeof tmp.status);
                        else if (rp__json_str_eq(&key, "StreamCreationTimestamp", 23))
                            bad = rp__aws_json_time_ms(&v, &tmp.created_ms);
                        else
                            bad = skip_value(&r, &v);
                        if (bad) {
                            if (r.failed)
                                goto json_fail;
                            bad_answer(err, op, "an unexpected value in StreamSummaries");
                            goto fail;
                        }
                    }
                    if (m < 0)
                        goto json_fail;
                    if (!tmp.name[0]) {
                        bad_answer(err, op, "a StreamSummaries entry without StreamName");
                        goto fail;
                    }
                    rp_stream_info *in = find_or_add(&arr, &n, &cap, page_from, tmp.name, err);
                    if (!in)
                        goto fail;
                    memcpy(in->status, tmp.status, sizeof in->status);
                    in->created_ms = tmp.created_ms;
                }
                if (e < 0)
                    goto json_fail;
            } else if (rp__json_str_eq(&key, "HasMoreStreams", 14)) {
                more = v.type == RP_JSON_TRUE;
            } else if (rp__json_str_eq(&key, "NextToken", 9) && v.type == RP_JSON_STRING) {
                if (take_token(&v, &token, err) != 0)
                    goto fail;
            } else if (skip_value(&r, &v) != 0) {
                goto json_fail;
            }
        }
        if (rc < 0)
            goto json_fail;
        if (!more) {
            free(token);
            token = NULL;
            break;
        }
        if (n == page_from) {
            bad_answer(err, op, "HasMoreStreams but no stream names");
            goto fail;
        }
        if (page > 100000) {
            bad_answer(err, op, "pages that never end");
            goto fail;
        }
        snprintf(last, sizeof last, "%s", arr[n - 1].name);
        continue;
    json_fail:
        json_error(&r, op, err);
        goto fail;
    }
    if (n > 1)
        qsort(arr, n, sizeof *arr, cmp_info);
    *out = arr;
    *count = n;
    return 0;
fail:
    free(token);
    free(arr);
    return -1;
}

/* ---- shards ------------------------------------------------------------- */

static int cmp_shard(const void *a, const void *b)
{
    return strcmp(((const rp_stream_shard *)a)->shard_id, ((const rp_stream_shard *)b)->shard_id);
}

/* Reads {"StartingX": "...", "EndingX": "..."} into lo / hi. */
static int read_range(rp__json_reader *r, const char *lo_key, char *lo, size_t lo_cap, const char *hi_key,
                      char *hi, size_t hi_cap)
{
    rp__json_value key, v;
    int rc;
    while ((rc = rp__json_member(r, &key)) == 1) {
        if (rp__json_next(r, &v) != 1)
            return -1;
        if (rp__json_str_eq(&key, lo_key, strlen(lo_key))) {
            if (copy_str(&v, lo, lo_cap) != 0)
                return -1;
        } else if (rp__json_str_eq(&key, hi_key, strlen(hi_key))) {
            if (v.type == RP_JSON_NULL)
                hi[0] = '\0';
            else if (copy_str(&v, hi, hi_cap) != 0)
                return -1;
        } else if (skip_value(r, &v) != 0) {
            return -1;
        }
    }
    return rc < 0 ? -1 : 0;
}

static int read_shard(rp__json_reader *r, rp_stream_shard *sh)
{
    rp__json_value key, v;
    int rc;
    memset(sh, 0, sizeof *sh);
    while ((rc = rp__json_member(r, &key)) == 1) {
        if (rp__json_next(r, &v) != 1)
            return -1;
        int bad = 0;
        if (rp__json_str_eq(&key, "ShardId", 7))
            bad = copy_str(&v, sh->shard_id, sizeof sh->shard_id);
        else if (rp__json_str_eq(&key, "ParentShardId", 13))
            bad = v.type == RP_JSON_NULL ? 0 : copy_str(&v, sh->parent_shard_id, sizeof sh->parent_shard_id);
        else if (rp__json_str_eq(&key, "AdjacentParentShardId", 21))
            bad = v.type == RP_JSON_NULL
                      ? 0
                      : copy_str(&v, sh->adjacent_parent_shard_id, sizeof sh->adjacent_parent_shard_id);
        else if (rp__json_str_eq(&key, "HashKeyRange", 12) && v.type == RP_JSON_OBJECT)
            bad = read_range(r, "StartingHashKey", sh->hash_start, sizeof sh->hash_start, "EndingHashKey",
                             sh->hash_end, sizeof sh->hash_end);
        else if (rp__json_str_eq(&key, "SequenceNumberRange", 19) && v.type == RP_JSON_OBJECT)
            bad = read_range(r, "StartingSequenceNumber", sh->seq_start, sizeof sh->seq_start,
                             "EndingSequenceNumber", sh->seq_end, sizeof sh->seq_end);
        else
            bad = skip_value(r, &v);
        if (bad)
            return -1;
    }
    return rc < 0 || !sh->shard_id[0] ? -1 : 0;
}

int rp__kinesis_list_shards(rp__kinesis *k, const char *name, rp_stream_shard **out, size_t *count,
                            rp_error *err)
{
    static const char op[] = "ListShards";
    rp_stream_shard *arr = NULL;
    size_t n = 0, cap = 0;
    char *token = NULL;
    *out = NULL;
    *count = 0;
    if (check_name(name, err) != 0)
        return -1;
    for (int page = 0;; page++) {
        rp__buf *b = &k->api.body;
        rp__buf_reset(b);
        if (token) {
            rp__buf_lit(b, "{\"NextToken\": ");
            jstr(b, token);
        } else {
            rp__buf_lit(b, "{\"StreamName\": ");
            jstr(b, name);
        }
        rp__buf_putc(b, '}');
        free(token);
        token = NULL;
        if (call(k, op, err) != 0)
            goto fail;
        rp__json_reader r;
        rp__json_value key, v;
        int rc;
        if (answer_begin(k, &r, op, err) != 0)
            goto fail;
        while ((rc = rp__json_member(&r, &key)) == 1) {
            if (rp__json_next(&r, &v) != 1)
                goto json_fail;
            if (rp__json_str_eq(&key, "Shards", 6) && v.type == RP_JSON_ARRAY) {
                int e;
                while ((e = rp__json_element(&r)) == 1) {
                    if (rp__json_next(&r, &v) != 1)
                        goto json_fail;
                    rp_stream_shard *p = rp__array_grow(arr, n, &cap, sizeof *arr, 8);
                    if (!p) {
                        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
                        goto fail;
                    }
                    arr = p;
                    if (v.type != RP_JSON_OBJECT || read_shard(&r, &arr[n]) != 0) {
                        if (r.failed)
                            goto json_fail;
                        bad_answer(err, op,
                                   "a shard without a usable ShardId, hash key or sequence number range");
                        goto fail;
                    }
                    n++;
                }
                if (e < 0)
                    goto json_fail;
            } else if (rp__json_str_eq(&key, "NextToken", 9) && v.type == RP_JSON_STRING) {
                if (take_token(&v, &token, err) != 0)
                    goto fail;
            } else if (skip_value(&r, &v) != 0) {
                goto json_fail;
            }
        }
        if (rc < 0)
            goto json_fail;
        if (!token)
            break;
        if (page > 100000) {
            bad_answer(err, op, "pages that never end");
            goto fail;
        }
        continue;
    json_fail:
        json_error(&r, op, err);
        goto fail;
    }
    if (n > 1)
        qsort(arr, n, sizeof *arr, cmp_shard);
    *out = arr;
    *count = n;
    return 0;
fail:
    free(token);
    free(arr);
    return -1;
}

/* ---- resharding --------------------------------------------------------- */

typedef rp__reshard_piece piece;

static int cmp_piece(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The child of a split or merge: the open shard whose parent is parent (and
 * adjacent parent adjacent, when given) and whose range starts at lo. */
static int find_child(rp__kinesis *k, const char *name, const char *parent, const char *adjacent, u128 lo,
                      piece *out, rp_error *err)
{
    rp_stream_shard *sh = NULL;
    size_t n = 0;
    if (rp__kinesis_list_shards(k, name, &sh, &n, err) != 0)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        u128 a, b;
        if (sh[i].seq_end[0] || strcmp(sh[i].parent_shard_id, parent) ||
            (adjacent && strcmp(sh[i].adjacent_parent_shard_id, adjacent)) ||
            rp__u128_from_dec(sh[i].hash_start, &a) || rp__u128_from_dec(sh[i].hash_end, &b) || a != lo)
            continue;
        snprintf(out->id, sizeof out->id, "%s", sh[i].shard_id);
        out->lo = a;
        out->hi = b;
        rc = 0;
        break;
    }
    free(sh);
    if (rc != 0)
        bad_answer(err, adjacent ? "MergeShards" : "SplitShard", "no child of %s in ListShards", parent);
    return rc;
}

/* The Kinesis side of the plan of src/stream/reshard.h, for servers
 * without UpdateShardCount: SplitShard / MergeShards, each waited for. */
typedef struct reshard_ctx {
    rp__kinesis *k;
    const char *name;
} reshard_ctx;

static int kinesis_split(void *ctx, const piece *p, u128 at, piece *left, piece *right, rp_error *err)
{
    reshard_ctx *c = ctx;
    char key[40];
    rp__u128_to_dec(at, key);
    rp__buf *b = &c->k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, c->name);
    rp__buf_lit(b, ", \"ShardToSplit\": ");
    jstr(b, p->id);
    rp__buf_printf(b, ", \"NewStartingHashKey\": \"%s\"}", key);
    if (call(c->k, "SplitShard", err) != 0 || wait_for(c->k, c->name, WAIT_ACTIVE, NULL, err) != 0 ||
        find_child(c->k, c->name, p->id, NULL, p->lo, left, err) != 0)
        return -1;
    return find_child(c->k, c->name, p->id, NULL, at, right, err);
}

static int kinesis_merge(void *ctx, const piece *a, const piece *b, piece *merged, rp_error *err)
{
    reshard_ctx *c = ctx;
    rp__buf *body = &c->k->api.body;
    rp__buf_reset(body);
    rp__buf_lit(body, "{\"StreamName\": ");
    jstr(body, c->name);
    rp__buf_lit(body, ", \"ShardToMerge\": ");
    jstr(body, a->id);
    rp__buf_lit(body, ", \"AdjacentShardToMerge\": ");
    jstr(body, b->id);
    rp__buf_putc(body, '}');
    if (call(c->k, "MergeShards", err) != 0 || wait_for(c->k, c->name, WAIT_ACTIVE, NULL, err) != 0)
        return -1;
    return find_child(c->k, c->name, a->id, b->id, a->lo, merged, err);
}

static int reshard_by_split_merge(rp__kinesis *k, const char *name, uint32_t target, rp_error *err)
{
    rp_stream_shard *sh = NULL;
    size_t nsh = 0, nopen = 0;
    piece *open = NULL;
    int rc = -1;
    if (rp__kinesis_list_shards(k, name, &sh, &nsh, err) != 0)
        return -1;
    open = calloc(nsh ? nsh : 1, sizeof *open);
    if (!open) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsh; i++) {
        if (sh[i].seq_end[0])
            continue;
        if (rp__u128_from_dec(sh[i].hash_start, &open[nopen].lo) ||
            rp__u128_from_dec(sh[i].hash_end, &open[nopen].hi)) {
            bad_answer(err, "ListShards", "a hash key range that is not two 128-bit decimals");
            goto out;
        }
        snprintf(open[nopen].id, sizeof open[nopen].id, "%s", sh[i].shard_id);
        nopen++;
    }
    qsort(open, nopen, sizeof *open, cmp_piece);
    if (nopen == 0 || (size_t)target > 2 * nopen || 2 * (size_t)target < nopen) {
        rp_error_set(err, RP_ERR_LIMIT,
                     "LimitExceededException: UpdateShardCount can scale between half and double "
                     "the open shard count. Current open shard count: %zu, Target shard count: %u",
                     nopen, target);
        goto out;
    }
    static const rp__reshard_ops ops = {kinesis_split, kinesis_merge, "kinesis"};
    reshard_ctx ctx = {k, name};
    if (rp__reshard(open, nopen, target, &ops, &ctx, err) != 0)
        goto out;
    rc = 0;
out:
    free(sh);
    free(open);
    return rc;
}

int rp__kinesis_update_shard_count(rp__kinesis *k, const char *name, uint32_t target, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    if (target < 1)
        return rp_error_set(err, RP_ERR_INVALID,
                            "ValidationException: target shard count must be at least 1");
    rp_stream_info in;
    if (wait_for(k, name, WAIT_ACTIVE, &in, err) != 0)
        return -1;
    if (in.open_shards == target)
        return 0;
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_printf(b, ", \"TargetShardCount\": %u, \"ScalingType\": \"UNIFORM_SCALING\"}", target);
    if (call(k, "UpdateShardCount", err) != 0) {
        if (strcmp(k->api.last_code, "UnknownOperationException") != 0)
            return -1;
        rp_log(RP_LOG_INFO,
               "the Kinesis endpoint has no UpdateShardCount; resharding with SplitShard and MergeShards",
               "stream", name, NULL);
        if (err)
            rp_error_clear(err);
        if (reshard_by_split_merge(k, name, target, err) != 0)
            return -1;
    }
    return wait_for(k, name, WAIT_ACTIVE, NULL, err);
}

/* ---- PutRecords --------------------------------------------------------- */

static bool entry_retriable(const char *code)
{
    return !strcmp(code, "ProvisionedThroughputExceededException") || !strcmp(code, "InternalFailure");
}

static void set_failed(rp_stream_put_result *r, const char *code, const char *msg)
{
    r->ok = false;
    r->shard_id[0] = r->sequence_number[0] = '\0';
    copy_trunc(r->error_code, sizeof r->error_code, code, strlen(code));
    copy_trunc(r->error_message, sizeof r->error_message, msg, strlen(msg));
}

/* Refuses entries that cannot be valid, as the local store does.  Returns
 * true when the entry may be sent. */
static bool entry_valid(const rp_stream_entry *e, rp_stream_put_result *r)
{
    if (!e->partition_key || !e->partition_key_len) {
        set_failed(r, "ValidationException", "the partition key must be 1 to 256 characters");
        return false;
    }
    long chars = utf8_chars((const unsigned char *)e->partition_key, e->partition_key_len);
    if (chars < 0) {
        set_failed(r, "ValidationException", "the partition key is not valid UTF-8");
        return false;
    }
    if (chars > RP_STREAM_PK_MAX) {
        set_failed(r, "ValidationException", "the partition key must be 1 to 256 characters");
        return false;
    }
    if (!e->data && e->data_len) {
        set_failed(r, "ValidationException", "record data missing");
        return false;
    }
    if (e->data_len > RP_STREAM_RECORD_MAX || e->data_len + e->partition_key_len > RP_STREAM_RECORD_MAX) {
        char msg[128];
        snprintf(msg, sizeof msg, "the record's data and partition key exceed %zu bytes",
                 (size_t)RP_STREAM_RECORD_MAX);
        set_failed(r, "ValidationException", msg);
        return false;
    }
    return true;
}

/* Sends the entries idx[0..m) of one request.  Fills their results from
 * the answer; *retry gets those to send again (retriable failures). */
/* One record: PutRecord (what `aws kinesis put-record` calls).  Throttling
 * comes back as an error answer, which the HTTP layer already retries. */
static int put_one(rp__kinesis *k, const char *name, const rp_stream_entry *e, rp_stream_put_result *res,
                   rp_error *err)
{
    static const char op[] = "PutRecord";
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_lit(b, ", \"Data\": \"");
    if (rp__buf_grow(b, RP_BASE64_ENCODED_LEN(e->data_len) + 1) == 0) {
        b->len += rp__base64_encode(e->data, e->data_len, b->data + b->len);
        b->data[b->len] = '\0';
    }
    rp__buf_lit(b, "\", \"PartitionKey\": ");
    rp__pyjson_utf8(b, e->partition_key, e->partition_key_len);
    rp__buf_putc(b, '}');
    if (call(k, op, err) != 0)
        return -1;
    rp__json_reader r;
    rp__json_value key, v;
    int rc;
    rp_stream_put_result tmp;
    memset(&tmp, 0, sizeof tmp);
    if (answer_begin(k, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return json_error(&r, op, err);
        int bad = 0;
        if (rp__json_str_eq(&key, "ShardId", 7))
            bad = copy_str(&v, tmp.shard_id, sizeof tmp.shard_id);
        else if (rp__json_str_eq(&key, "SequenceNumber", 14))
            bad = copy_str(&v, tmp.sequence_number, sizeof tmp.sequence_number);
        else
            bad = skip_value(&r, &v);
        if (bad)
            return r.failed ? json_error(&r, op, err) : bad_answer(err, op, "an unusable value");
    }
    if (rc < 0)
        return json_error(&r, op, err);
    if (!tmp.shard_id[0] || !tmp.sequence_number[0])
        return bad_answer(err, op, "no ShardId or SequenceNumber");
    res->ok = true;
    memcpy(res->shard_id, tmp.shard_id, sizeof res->shard_id);
    memcpy(res->sequence_number, tmp.sequence_number, sizeof res->sequence_number);
    res->error_code[0] = res->error_message[0] = '\0';
    return 0;
}

static int put_once(rp__kinesis *k, const char *name, const rp_stream_entry *entries,
                    rp_stream_put_result *results, const size_t *idx, size_t m, size_t *retry, size_t *nretry,
                    rp_error *err)
{
    static const char op[] = "PutRecords";
    if (m == 1 && k->single_put) {
        *nretry = 0;
        return put_one(k, name, &entries[idx[0]], &results[idx[0]], err);
    }
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_lit(b, ", \"Records\": [");
    for (size_t j = 0; j < m && !b->failed; j++) {
        const rp_stream_entry *e = &entries[idx[j]];
        if (j)
            rp__buf_lit(b, ", ");
        rp__buf_lit(b, "{\"Data\": \"");
        size_t need = RP_BASE64_ENCODED_LEN(e->data_len);
        if (rp__buf_grow(b, need + 1) != 0)
            break;
        b->len += rp__base64_encode(e->data, e->data_len, b->data + b->len);
        b->data[b->len] = '\0';
        rp__buf_lit(b, "\", \"PartitionKey\": ");
        rp__pyjson_utf8(b, e->partition_key, e->partition_key_len);
        rp__buf_putc(b, '}');
    }
    rp__buf_lit(b, "]}");
    if (call(k, op, err) != 0)
        return -1;

    rp__json_reader r;
    rp__json_value key, v;
    int rc;
    size_t got = 0;
    *nretry = 0;
    if (answer_begin(k, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return json_error(&r, op, err);
        if (!rp__json_str_eq(&key, "Records", 7) || v.type != RP_JSON_ARRAY) {
            if (skip_value(&r, &v) != 0)
                return json_error(&r, op, err);
            continue;
        }
        int e;
        while ((e = rp__json_element(&r)) == 1) {
            if (rp__json_next(&r, &v) != 1)
                return json_error(&r, op, err);
            if (v.type != RP_JSON_OBJECT || got >= m)
                return r.failed ? json_error(&r, op, err)
                                : bad_answer(err, op, "more results than records sent");
            rp_stream_put_result *res = &results[idx[got]];
            rp_stream_put_result tmp;
            memset(&tmp, 0, sizeof tmp);
            int mm;
            while ((mm = rp__json_member(&r, &key)) == 1) {
                if (rp__json_next(&r, &v) != 1)
                    return json_error(&r, op, err);
                int bad = 0;
                if (rp__json_str_eq(&key, "ShardId", 7))
                    bad = copy_str(&v, tmp.shard_id, sizeof tmp.shard_id);
                else if (rp__json_str_eq(&key, "SequenceNumber", 14))
                    bad = copy_str(&v, tmp.sequence_number, sizeof tmp.sequence_number);
                else if (rp__json_str_eq(&key, "ErrorCode", 9) && v.type == RP_JSON_STRING)
                    decode_trunc(&v, tmp.error_code, sizeof tmp.error_code);
                else if (rp__json_str_eq(&key, "ErrorMessage", 12) && v.type == RP_JSON_STRING)
                    decode_trunc(&v, tmp.error_message, sizeof tmp.error_message);
                else
                    bad = skip_value(&r, &v);
                if (bad)
                    return r.failed ? json_error(&r, op, err)
                                    : bad_answer(err, op, "a record result with an unusable value");
            }
            if (mm < 0)
                return json_error(&r, op, err);
            if (tmp.error_code[0] || !tmp.sequence_number[0] || !tmp.shard_id[0]) {
                if (!tmp.error_code[0])
                    snprintf(tmp.error_code, sizeof tmp.error_code, "InternalFailure");
                set_failed(res, tmp.error_code, tmp.error_message);
                if (entry_retriable(tmp.error_code))
                    retry[(*nretry)++] = idx[got];
            } else {
                res->ok = true;
                memcpy(res->shard_id, tmp.shard_id, sizeof res->shard_id);
                memcpy(res->sequence_number, tmp.sequence_number, sizeof res->sequence_number);
                res->error_code[0] = res->error_message[0] = '\0';
            }
            got++;
        }
        if (e < 0)
            return json_error(&r, op, err);
    }
    if (rc < 0)
        return json_error(&r, op, err);
    if (got != m)
        return bad_answer(err, op, "%zu results for %zu records", got, m);
    return 0;
}

int rp__kinesis_put_records(rp__kinesis *k, const char *name, const rp_stream_entry *entries, size_t n,
                            rp_stream_put_result *results, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    if (!entries || !results || n == 0)
        return rp_error_set(err, RP_ERR_INVALID, "ValidationException: no records to put");
    size_t *pending = malloc(n * sizeof *pending);
    size_t *chunk = malloc(RP_STREAM_PUT_BATCH_MAX * sizeof *chunk);
    size_t *retry = malloc(RP_STREAM_PUT_BATCH_MAX * sizeof *retry);
    int rc = -1;
    if (!pending || !chunk || !retry) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            set_failed(&results[i], "InternalFailure", "out of memory");
        goto out;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        if (entry_valid(&entries[i], &results[i]))
            pending[np++] = i;
    }
    /* A lone record goes as PutRecord, as `aws kinesis put-record` sends it;
     * batches (and their retries) as PutRecords. */
    k->single_put = np == 1;
    const rp__retry_policy *pol = &k->api.http.opt.retry;
    unsigned max_rounds = pol->max_attempts ? pol->max_attempts : 1;
    size_t p = 0;
    while (p < np) {
        /* One request: up to 500 records / 5 MiB of data and keys. */
        size_t m = 0, bytes = 0;
        while (p < np && m < RP_STREAM_PUT_BATCH_MAX) {
            const rp_stream_entry *e = &entries[pending[p]];
            size_t sz = e->data_len + e->partition_key_len;
            if (m && bytes + sz > RP_STREAM_PUT_BYTES_MAX)
                break;
            bytes += sz;
            chunk[m++] = pending[p++];
        }
        for (unsigned round = 0;; round++) {
            size_t nretry = 0;
            rp_error e;
            rp_error_clear(&e);
            if (put_once(k, name, entries, results, chunk, m, retry, &nretry, &e) != 0) {
                const char *code = k->api.last_code[0] ? k->api.last_code : "ServiceUnavailable";
                const char *msg = e.msg;
                size_t cl = strlen(code);
                if (!strncmp(msg, code, cl) && msg[cl] == ':' && msg[cl + 1] == ' ')
                    msg += cl + 2; /* the code is in error_code */
                for (size_t j = 0; j < m; j++)
                    set_failed(&results[chunk[j]], code, msg);
                for (size_t q = p; q < np; q++)
                    set_failed(&results[pending[q]], "NotAttempted",
                               "not sent: an earlier PutRecords request failed");
                if (err)
                    *err = e;
                goto out;
            }
            if (!nretry)
                break;
            if (round + 1 >= max_rounds) {
                rp_log(RP_LOG_WARN, "Kinesis refused records after every attempt", "stream", name, NULL);
                break;
            }
            uint32_t ms = rp__retry_delay_ms(pol, round + 1, k->api.http.random(k->api.http.random_ctx));
            if (rp_log_enabled(RP_LOG_DEBUG)) {
                char cnt[24], d[16];
                snprintf(cnt, sizeof cnt, "%zu", nretry);
                snprintf(d, sizeof d, "%u", (unsigned)ms);
                rp_log(RP_LOG_DEBUG, "retrying records Kinesis refused", "records", cnt, "delay_ms", d,
                       "reason", results[retry[0]].error_code, NULL);
            }
            k->api.http.sleep_ms(k->api.http.sleep_ctx, ms);
            memcpy(chunk, retry, nretry * sizeof *chunk);
            m = nretry;
        }
    }
    rc = 0;
out:
    free(pending);
    free(chunk);
    free(retry);
    return rc;
}

/* ---- iterators and GetRecords ------------------------------------------- */

static const char *iterator_type_name(rp_stream_iterator t)
{
    switch (t) {
    case RP_STREAM_TRIM_HORIZON: return "TRIM_HORIZON";
    case RP_STREAM_LATEST: return "LATEST";
    case RP_STREAM_AT_SEQUENCE_NUMBER: return "AT_SEQUENCE_NUMBER";
    case RP_STREAM_AFTER_SEQUENCE_NUMBER: return "AFTER_SEQUENCE_NUMBER";
    case RP_STREAM_AT_TIMESTAMP: return "AT_TIMESTAMP";
    default: return NULL;
    }
}

int rp__kinesis_get_iterator(rp__kinesis *k, const char *name, const char *shard_id, rp_stream_iterator type,
                             const char *sequence_number, int64_t timestamp_ms, char iter[RP_STREAM_ITER_MAX],
                             rp_error *err)
{
    static const char op[] = "GetShardIterator";
    if (check_name(name, err) != 0)
        return -1;
    const char *tn = iterator_type_name(type);
    if (!tn)
        return rp_error_set(err, RP_ERR_INVALID, "ValidationException: unknown shard iterator type");
    if (!shard_id || !*shard_id || strlen(shard_id) >= RP_STREAM_SHARD_ID_MAX || strchr(shard_id, '|'))
        return rp_error_set(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException: no shard '%.80s'",
                            shard_id ? shard_id : "");
    bool by_seq = type == RP_STREAM_AT_SEQUENCE_NUMBER || type == RP_STREAM_AFTER_SEQUENCE_NUMBER;
    bool have_seq = sequence_number && *sequence_number;
    if (by_seq != have_seq)
        return rp_error_set(err, RP_ERR_INVALID,
                            by_seq ? "InvalidArgumentException: %s needs a starting sequence number"
                                   : "InvalidArgumentException: %s takes no sequence number",
                            tn);
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"StreamName\": ");
    jstr(b, name);
    rp__buf_lit(b, ", \"ShardId\": ");
    jstr(b, shard_id);
    rp__buf_printf(b, ", \"ShardIteratorType\": \"%s\"", tn);
    if (by_seq) {
        rp__buf_lit(b, ", \"StartingSequenceNumber\": ");
        jstr(b, sequence_number);
    } else if (type == RP_STREAM_AT_TIMESTAMP) {
        if (timestamp_ms < 0)
            return rp_error_set(err, RP_ERR_INVALID, "InvalidArgumentException: timestamp before 1970");
        rp__buf_printf(b, ", \"Timestamp\": %lld.%03d", (long long)(timestamp_ms / 1000),
                       (int)(timestamp_ms % 1000));
    }
    rp__buf_putc(b, '}');
    if (call(k, op, err) != 0)
        return -1;
    rp__json_reader r;
    rp__json_value key, v;
    int rc;
    bool found = false;
    if (answer_begin(k, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return json_error(&r, op, err);
        if (rp__json_str_eq(&key, "ShardIterator", 13) && v.type == RP_JSON_STRING) {
            size_t sl = strlen(shard_id);
            if (sl + 1 + v.len >= RP_STREAM_ITER_MAX)
                return rp_error_set(err, RP_ERR_LIMIT,
                                    "Kinesis gave a shard iterator of %zu characters; at most %d fit", v.len,
                                    (int)(RP_STREAM_ITER_MAX - 2 - sl));
            memcpy(iter, shard_id, sl);
            iter[sl] = '|';
            size_t l = rp__json_str_decode(&v, iter + sl + 1);
            iter[sl + 1 + l] = '\0';
            if (!l)
                return bad_answer(err, op, "an empty ShardIterator");
            found = true;
        } else if (skip_value(&r, &v) != 0) {
            return json_error(&r, op, err);
        }
    }
    if (rc < 0)
        return json_error(&r, op, err);
    if (!found)
        return bad_answer(err, op, "no ShardIterator");
    return 0;
}

static int read_record(rp__json_reader *r, raw_record *rec)
{
    rp__json_value key, v;
    int rc;
    bool have_data = false, have_seq = false, have_pk = false;
    rec->arrival_ms = 0;
    while ((rc = rp__json_member(r, &key)) == 1) {
        if (rp__json_next(r, &v) != 1)
            return -1;
        if (rp__json_str_eq(&key, "Data", 4) && v.type == RP_JSON_STRING) {
            rec->data = v;
            have_data = true;
        } else if (rp__json_str_eq(&key, "PartitionKey", 12) && v.type == RP_JSON_STRING) {
            rec->pk = v;
            have_pk = true;
        } else if (rp__json_str_eq(&key, "SequenceNumber", 14) && v.type == RP_JSON_STRING) {
            rec->seq = v;
            have_seq = true;
        } else if (rp__json_str_eq(&key, "ApproximateArrivalTimestamp", 27)) {
            if (rp__aws_json_time_ms(&v, &rec->arrival_ms) != 0)
                return -1;
        } else if (skip_value(r, &v) != 0) {
            return -1;
        }
    }
    return rc < 0 || !have_data || !have_seq || !have_pk ? -1 : 0;
}

int rp__kinesis_get_records(rp__kinesis *k, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                            void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                            rp_error *err)
{
    static const char op[] = "GetRecords";
    const char *bar = iter ? strchr(iter, '|') : NULL;
    if (!bar || bar == iter || (size_t)(bar - iter) >= RP_STREAM_SHARD_ID_MAX || !bar[1])
        return rp_error_set(err, RP_ERR_INVALID,
                            "InvalidArgumentException: not a shard iterator of the Kinesis backend");
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    copy_trunc(shard_id, sizeof shard_id, iter, (size_t)(bar - iter));
    if (limit > RP_KINESIS_GET_LIMIT_MAX)
        return rp_error_set(err, RP_ERR_INVALID,
                            "ValidationException: GetRecords takes at most %d records per call",
                            RP_KINESIS_GET_LIMIT_MAX);
    rp__buf *b = &k->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"ShardIterator\": ");
    jstr(b, bar + 1);
    if (limit)
        rp__buf_printf(b, ", \"Limit\": %u", limit);
    rp__buf_putc(b, '}');
    if (call(k, op, err) != 0)
        return -1;

    rp__json_reader r;
    rp__json_value key, v, next = {0};
    bool have_next = false;
    int64_t behind = 0;
    size_t n = 0;
    int rc;
    if (answer_begin(k, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return json_error(&r, op, err);
        if (rp__json_str_eq(&key, "Records", 7) && v.type == RP_JSON_ARRAY) {
            int e;
            while ((e = rp__json_element(&r)) == 1) {
                if (rp__json_next(&r, &v) != 1)
                    return json_error(&r, op, err);
                raw_record *p = rp__array_grow(k->recs, n, &k->recs_cap, sizeof *k->recs, 256);
                if (!p)
                    return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
                k->recs = p;
                if (v.type != RP_JSON_OBJECT || read_record(&r, &k->recs[n]) != 0)
                    return r.failed
                               ? json_error(&r, op, err)
                               : bad_answer(err, op, "a record without Data, PartitionKey or SequenceNumber");
                n++;
            }
            if (e < 0)
                return json_error(&r, op, err);
        } else if (rp__json_str_eq(&key, "NextShardIterator", 17)) {
            if (v.type == RP_JSON_STRING && v.len) {
                next = v;
                have_next = true;
            } else if (v.type != RP_JSON_NULL && v.type != RP_JSON_STRING) {
                return bad_answer(err, op, "a NextShardIterator that is not a string");
            }
        } else if (rp__json_str_eq(&key, "MillisBehindLatest", 18) && v.type == RP_JSON_NUMBER) {
            double x = rp__json_number(&v);
            behind = isfinite(x) && x > 0 && x < 9e15 ? (int64_t)x : 0;
        } else if (skip_value(&r, &v) != 0) {
            return json_error(&r, op, err);
        }
    }
    if (rc < 0)
        return json_error(&r, op, err);
    size_t sl = strlen(shard_id);
    if (have_next && sl + 1 + next.len >= RP_STREAM_ITER_MAX)
        return rp_error_set(err, RP_ERR_LIMIT,
                            "Kinesis gave a shard iterator of %zu characters; at most %d fit", next.len,
                            (int)(RP_STREAM_ITER_MAX - 2 - sl));

    /* Decode every record into the scratch buffer: sequence number and
     * partition key NUL-terminated, then the data. */
    size_t need = 1;
    for (size_t i = 0; i < n; i++) {
        const raw_record *rec = &k->recs[i];
        need += rec->seq.len + 1 + rec->pk.len + 1 + RP_BASE64_DECODED_MAX(rec->data.len);
    }
    rp__buf *s = &k->scratch;
    rp__buf_reset(s);
    if (rp__buf_grow(s, need) != 0)
        return rp_error_set(err, s->toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                            "GetRecords answer too large to decode (%zu bytes)", need);
    char *base = s->data;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        raw_record *rec = &k->recs[i];
        size_t sq = off;
        off += rp__json_str_decode(&rec->seq, base + off);
        base[off++] = '\0';
        size_t pk = off;
        size_t pkl = rp__json_str_decode(&rec->pk, base + off);
        off += pkl;
        base[off++] = '\0';
        size_t dt = off;
        const char *why = NULL;
        long dl;
        if (rec->data.escaped) {
            /* "\/" and the like: decode the JSON escapes first, in place of
             * the data (never longer than the text). */
            char *tmp = malloc(rec->data.len ? rec->data.len : 1);
            if (!tmp)
                return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            size_t tl = rp__json_str_decode(&rec->data, tmp);
            dl = rp__base64_decode(tmp, tl, (unsigned char *)base + off, &why);
            free(tmp);
        } else {
            dl = rp__base64_decode(rec->data.ptr, rec->data.len, (unsigned char *)base + off, &why);
        }
        if (dl < 0)
            return bad_answer(err, op, "record %.40s whose Data is not base64 (%s)", base + sq,
                              why ? why : "?");
        off += (size_t)dl;
        rec->seq_off = sq;
        rec->pk_off = pk;
        rec->pk_len = pkl;
        rec->data_off = dt;
        rec->data_len = (size_t)dl;
    }
    for (size_t i = 0; i < n; i++) {
        const raw_record *rec = &k->recs[i];
        rp_stream_record out = {
            .shard_id = shard_id,
            .sequence_number = base + rec->seq_off,
            .partition_key = base + rec->pk_off,
            .partition_key_len = rec->pk_len,
            .data = (const unsigned char *)base + rec->data_off,
            .data_len = rec->data_len,
            .arrival_ms = rec->arrival_ms,
        };
        int cr = cb ? cb(ctx, &out) : 0;
        if (cr != 0)
            return rp_error_set(err, RP_ERR_INTERNAL, "kinesis: the record callback returned %d", cr);
    }
    if (have_next) {
        memcpy(next_iter, shard_id, sl);
        next_iter[sl] = '|';
        size_t l = rp__json_str_decode(&next, next_iter + sl + 1);
        next_iter[sl + 1 + l] = '\0';
    } else {
        next_iter[0] = '\0';
    }
    if (millis_behind_latest)
        *millis_behind_latest = behind;
    return 0;
}
