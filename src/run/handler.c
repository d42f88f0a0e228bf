/* The handler: one pass over the event, per record decode → features; the
 * rows are predicted in batches (tree walks interleave, see
 * rp_model_predict_batch), then the encoded predictions are appended in
 * record order.  Records that cannot be served are named in
 * batchItemFailures and logged; the rest are served. */
#include "ridepred/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "event/event.h"
#include "event/ride.h"
#include "ridepred/log.h"

/* The response can be larger than the event (a minimal record is ~60
 * bytes, its prediction ~130), but never more than this. */
#define RESPONSE_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* Records decoded before their rows are predicted together. */
#define BATCH 128

typedef struct pending {
    rp_json_value seq;   /* view into the event */
    uint32_t id_off;     /* the ride_id as JSON, in ids */
    uint32_t id_len;
    uint32_t pk_off;     /* str(ride_id), the partition key, in ids */
    uint32_t pk_len;
    uint32_t e_off;      /* the encoded prediction event, in events */
    uint32_t e_len;
    bool failed;         /* already failed and logged while decoding */
} pending;

struct rp_handler {
    rp_model *model;
    bool log_failures;
    rp_buf prefix;      /* {"model": "...", "version": V, "prediction": {"ride_duration":  */
    rp_buf preds;       /* the E objects, ", "-separated */
    rp_buf failures;    /* {"itemIdentifier": S} objects, ", "-separated */
    rp_buf body;
    rp_buf unescaped;   /* kinesis.data with JSON escapes decoded */
    rp_buf decoded;     /* kinesis.data base64-decoded */
    rp_buf scratch;     /* feature name */
    rp_buf ids;         /* ride_ids of the pending records */
    rp_buf events;      /* their encoded prediction events */
    rp_publish_fn publish;
    void *publish_ctx;
    rp_put_entry put[BATCH];
    rp_put_result put_res[BATCH];
    size_t n_pending;
    pending pend[BATCH];
    rp_row rows[BATCH];
    double preds_out[BATCH];
    rp_code status[BATCH];
    size_t served, failed;
};

const char *rp_handler_version(const rp_model *m, char *buf, size_t cap)
{
    const char *v = getenv("MODEL_VERSION");
    if (v && *v)
        return v;
    v = getenv("RUN_ID");
    if (v && *v)
        return v;
    if (m) {
        rp_model_info info;
        rp_model_get_info(m, &info);
        if (info.version_len && info.version_len < cap) {
            memcpy(buf, info.version, info.version_len);
            buf[info.version_len] = '\0';
            return buf;
        }
    }
    return "unknown";
}

rp_handler *rp_handler_new(rp_model *m, const rp_handler_config *cfg, rp_error *err)
{
    rp_handler *h = calloc(1, sizeof *h);
    if (!h) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->model = rp_model_retain(m);
    h->log_failures = cfg ? cfg->log_failures : true;
    rp_buf_init(&h->prefix, 64 * 1024);
    rp_buf_init(&h->preds, RESPONSE_MAX_BYTES);
    rp_buf_init(&h->failures, RESPONSE_MAX_BYTES);
    rp_buf_init(&h->body, 2 * RESPONSE_MAX_BYTES + 64);
    rp_buf_init(&h->unescaped, RP_EVENT_MAX_BYTES);
    rp_buf_init(&h->decoded, RP_BASE64_DECODED_MAX(RP_EVENT_MAX_BYTES) + 1);
    rp_buf_init(&h->scratch, RP_EVENT_MAX_BYTES + 16);
    rp_buf_init(&h->ids, (size_t)BATCH * 4096);
    rp_buf_init(&h->events, (size_t)BATCH * 4096);
    h->publish = cfg ? cfg->publish : NULL;
    h->publish_ctx = cfg ? cfg->publish_ctx : NULL;

    char vbuf[512];
    const char *version = cfg && cfg->version ? cfg->version : rp_handler_version(m, vbuf, sizeof vbuf);
    rp_buf_lit(&h->prefix, "{\"model\": \"ride_duration_prediction_model\", \"version\": ");
    rp_pyjson_utf8(&h->prefix, version, strlen(version));
    rp_buf_lit(&h->prefix, ", \"prediction\": {\"ride_duration\": ");
    if (h->prefix.failed) {
        rp_error_set(err, RP_ERR_LIMIT, "version string is too long");
        rp_handler_free(h);
        return NULL;
    }
    return h;
}

void rp_handler_free(rp_handler *h)
{
    if (!h)
        return;
    rp_model_release(h->model);
    rp_buf_cleanup(&h->prefix);
    rp_buf_cleanup(&h->preds);
    rp_buf_cleanup(&h->failures);
    rp_buf_cleanup(&h->body);
    rp_buf_cleanup(&h->unescaped);
    rp_buf_cleanup(&h->decoded);
    rp_buf_cleanup(&h->scratch);
    rp_buf_cleanup(&h->ids);
    rp_buf_cleanup(&h->events);
    free(h);
}

static void log_failure(rp_handler *h, const rp_json_value *seq, const char *why)
{
    if (!h->log_failures || !rp_log_enabled(RP_LOG_WARN))
        return;
    char s[300];
    size_t n = 0;
    if (seq->len < sizeof s)
        n = rp_json_str_decode(seq, s);
    s[n] = '\0';
    rp_log(RP_LOG_WARN, "record failed", "sequence_number", s, "reason", why, (const char *)NULL);
}

static void add_failure(rp_handler *h, const rp_json_value *seq, const char *why)
{
    if (h->failures.len)
        rp_buf_lit(&h->failures, ", ");
    rp_buf_lit(&h->failures, "{\"itemIdentifier\": ");
    rp_pyjson_string(&h->failures, seq);
    rp_buf_putc(&h->failures, '}');
    h->failed++;
    if (why)
        log_failure(h, seq, why);
}

/* Decodes kinesis.data: JSON string → base64 → UTF-8 JSON text. */
static int record_payload(rp_handler *h, const rp_kinesis_record *rec, const char **out, size_t *out_len,
                          rp_error *why)
{
    if (!rec->has_data)
        return rp_error_set(why, RP_ERR_INVALID, "kinesis.data is missing");
    if (rec->data.type != RP_JSON_STRING)
        return rp_error_set(why, RP_ERR_INVALID, "kinesis.data is not a string");
    const char *b64 = rec->data.ptr;
    size_t n = rec->data.len;
    if (rec->data.escaped) {
        rp_buf_reset(&h->unescaped);
        if (rp_buf_grow(&h->unescaped, n) != 0)
            return rp_error_set(why, RP_ERR_NOMEM, "out of memory");
        n = rp_json_str_decode(&rec->data, h->unescaped.data);
        b64 = h->unescaped.data;
    }
    rp_buf_reset(&h->decoded);
    if (rp_buf_grow(&h->decoded, RP_BASE64_DECODED_MAX(n)) != 0)
        return rp_error_set(why, RP_ERR_LIMIT, "kinesis.data is too large");
    const char *msg = NULL;
    long got = rp_base64_decode(b64, n, (unsigned char *)h->decoded.data, &msg);
    if (got < 0)
        return rp_error_set(why, RP_ERR_INVALID, "bad base64: %s", msg);
    if ((size_t)got > RP_RECORD_MAX_BYTES)
        return rp_error_set(why, RP_ERR_LIMIT, "record data is %ld bytes; the limit is %zu (Kinesis's record limit)", got, RP_RECORD_MAX_BYTES);
    *out = h->decoded.data;
    *out_len = (size_t)got;
    return 0;
}

static int serve_fields(rp_handler *h, const rp_ride_fields *f, double *pred, rp_error *why)
{
    rp_row row;
    if (rp_ride_features(f, h->model, &h->scratch, &row, why) < 0)
        return -1;
    return rp_model_predict(h->model, &row, pred, why);
}

/* Predicts the pending rows, encodes their prediction events, publishes
 * them, and appends the results in record order. */
static void flush(rp_handler *h)
{
    size_t n = h->n_pending;
    if (!n)
        return;
    rp_model_predict_batch(h->model, h->rows, n, h->preds_out, h->status);
    rp_buf_reset(&h->events);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pending *p = &h->pend[i];
        if (p->failed || h->status[i] != RP_OK)
            continue;
        size_t mark = h->events.len;
        rp_buf_append(&h->events, h->prefix.data, h->prefix.len);
        rp_pyjson_double(&h->events, h->preds_out[i]);
        rp_buf_lit(&h->events, ", \"ride_id\": ");
        rp_buf_append(&h->events, h->ids.data + p->id_off, p->id_len);
        rp_buf_lit(&h->events, "}}");
        p->e_off = (uint32_t)mark;
        p->e_len = (uint32_t)(h->events.len - mark);
        m++;
    }
    if (h->events.failed) {
        /* cannot happen: an event is at most a few hundred bytes */
        for (size_t i = 0; i < n; i++)
            if (!h->pend[i].failed && h->status[i] == RP_OK)
                h->status[i] = RP_ERR_LIMIT;
        m = 0;
    }
    /* Publish in one call; the entries point into ids and events. */
    size_t k = 0;
    if (h->publish && m) {
        for (size_t i = 0; i < n; i++) {
            pending *p = &h->pend[i];
            if (p->failed || h->status[i] != RP_OK)
                continue;
            h->put[k] = (rp_put_entry){h->events.data + p->e_off, p->e_len, h->ids.data + p->pk_off, p->pk_len};
            k++;
        }
        rp_error err;
        if (h->publish(h->publish_ctx, h->put, k, h->put_res, &err) < 0 && rp_log_enabled(RP_LOG_WARN))
            rp_log(RP_LOG_WARN, "publishing failed", "reason", err.msg, (const char *)NULL);
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        pending *p = &h->pend[i];
        if (p->failed) {
            add_failure(h, &p->seq, NULL);
            continue;
        }
        if (h->status[i] != RP_OK) {
            add_failure(h, &p->seq, h->status[i] == RP_ERR_LIMIT ? "prediction event too large"
                                                                  : rp_model_status_message(h->status[i]));
            continue;
        }
        if (h->publish) {
            const rp_put_result *r = &h->put_res[k++];
            if (!r->ok) {
                char why[400];
                size_t cl = strlen(r->error_code);
                if (cl && !strncmp(r->error_message, r->error_code, cl))
                    snprintf(why, sizeof why, "not published: %s", r->error_message);
                else
                    snprintf(why, sizeof why, "not published: %s: %s", r->error_code, r->error_message);
                add_failure(h, &p->seq, why);
                continue;
            }
        }
        size_t mark = h->preds.len;
        if (mark)
            rp_buf_lit(&h->preds, ", ");
        rp_buf_append(&h->preds, h->events.data + p->e_off, p->e_len);
        if (h->preds.failed) {
            h->preds.failed = h->preds.toobig = false;
            h->preds.len = mark;
            add_failure(h, &p->seq, "the response would exceed its size limit");
            continue;
        }
        h->served++;
    }
    h->n_pending = 0;
    rp_buf_reset(&h->ids);
}

static void reset_output(rp_handler *h)
{
    rp_buf_reset(&h->preds);
    rp_buf_reset(&h->failures);
    rp_buf_reset(&h->ids);
    h->n_pending = 0;
    h->served = h->failed = 0;
}

static int on_record(void *ctx, const rp_kinesis_record *rec, rp_error *err)
{
    rp_handler *h = ctx;
    (void)err;
    if (!rec) {
        reset_output(h);
        return 0;
    }
    pending *p = &h->pend[h->n_pending];
    rp_row *row = &h->rows[h->n_pending];
    h->n_pending++;
    p->seq = rec->seq;
    p->failed = false;
    row->n = 0;
    rp_error why;
    const char *json = NULL;
    size_t len = 0;
    rp_ride_fields f;
    if (record_payload(h, rec, &json, &len, &why) < 0 || rp_ride_parse(json, len, &f, &why) < 0 ||
        rp_ride_features(&f, h->model, &h->scratch, row, &why) < 0) {
        log_failure(h, &rec->seq, why.msg);
        p->failed = true;
    } else {
        size_t mark = h->ids.len;
        if (f.ride_id.type == RP_JSON_STRING)
            rp_pyjson_string(&h->ids, &f.ride_id);
        else
            rp_pyjson_int(&h->ids, &f.ride_id);
        size_t pk = h->ids.len;
        /* str(ride_id): the decoded string, or the integer's text */
        if (f.ride_id.type == RP_JSON_STRING) {
            if (rp_buf_grow(&h->ids, f.ride_id.len) == 0)
                h->ids.len += rp_json_str_decode(&f.ride_id, h->ids.data + h->ids.len);
        } else {
            rp_pyjson_int(&h->ids, &f.ride_id);
        }
        p->pk_off = (uint32_t)pk;
        p->pk_len = (uint32_t)(h->ids.len - pk);
        if (h->ids.failed) {
            /* cannot happen: a ride_id is at most 256 characters */
            h->ids.failed = h->ids.toobig = false;
            h->ids.len = mark;
            log_failure(h, &rec->seq, "ride_id too long");
            p->failed = true;
        }
        p->id_off = (uint32_t)mark;
        p->id_len = (uint32_t)(pk - mark);
    }
    if (h->n_pending == BATCH)
        flush(h);
    return 0;
}

static int error_body(rp_handler *h, rp_invoke_result *res, const char *type, const char *msg)
{
    rp_buf_reset(&h->body);
    rp_buf_lit(&h->body, "{\"errorMessage\": ");
    rp_pyjson_utf8(&h->body, msg, strlen(msg));
    rp_buf_lit(&h->body, ", \"errorType\": ");
    rp_pyjson_utf8(&h->body, type, strlen(type));
    rp_buf_putc(&h->body, '}');
    res->status = RP_INVOKE_FUNCTION_ERROR;
    res->error_type = type;
    res->body = h->body.data;
    res->body_len = h->body.len;
    return h->body.failed ? -1 : 0;
}

int rp_handler_invoke(rp_handler *h, const char *event, size_t len, rp_invoke_result *res)
{
    rp_error err;
    rp_event ev;
    memset(res, 0, sizeof *res);
    reset_output(h);
    if (rp_event_scan(event, len, on_record, h, &ev, &err) < 0) {
        rp_log(RP_LOG_WARN, "invalid event", "reason", err.msg, (const char *)NULL);
        return error_body(h, res, "InvalidEvent", err.msg);
    }
    rp_buf_reset(&h->body);
    if (ev.kind == RP_EVENT_DIRECT) {
        double pred;
        res->records = 1;
        if (serve_fields(h, &ev.direct, &pred, &err) < 0) {
            res->failed = 1;
            rp_log(RP_LOG_WARN, "invalid ride event", "reason", err.msg, (const char *)NULL);
            return error_body(h, res, "InvalidEvent", err.msg);
        }
        rp_buf_lit(&h->body, "{\"ride_duration\": ");
        rp_pyjson_double(&h->body, pred);
        rp_buf_lit(&h->body, ", \"ride_id\": ");
        if (ev.direct.ride_id.type == RP_JSON_STRING)
            rp_pyjson_string(&h->body, &ev.direct.ride_id);
        else
            rp_pyjson_int(&h->body, &ev.direct.ride_id);
        rp_buf_putc(&h->body, '}');
        res->served = 1;
    } else {
        flush(h);
        res->records = ev.n_records;
        res->served = h->served;
        res->failed = h->failed;
        rp_buf_lit(&h->body, "{\"predictions\": [");
        rp_buf_append(&h->body, h->preds.data ? h->preds.data : "", h->preds.len);
        rp_buf_putc(&h->body, ']');
        if (h->failures.len) {
            rp_buf_lit(&h->body, ", \"batchItemFailures\": [");
            rp_buf_append(&h->body, h->failures.data, h->failures.len);
            rp_buf_putc(&h->body, ']');
        }
        rp_buf_putc(&h->body, '}');
    }
    if (h->body.failed)
        return error_body(h, res, "ResponseTooLarge", "the response exceeds its size limit");
    res->status = RP_INVOKE_OK;
    res->body = h->body.data;
    res->body_len = h->body.len;
    return 0;
}
