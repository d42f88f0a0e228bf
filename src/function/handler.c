/* The handler: one pass over the event, per record decode → features; the
 * rows are predicted in chunks (tree walks interleave, see
 * rp_model_predict_batch) and their prediction records encoded.  Once the
 * event is scanned, the predictions are published (when the handler
 * publishes) and the response is written from the per-record outcomes:
 * served records in predictions, the others in batchItemFailures. */
#include "ridepred/handler.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "function/event.h"
#include "function/ride.h"
#include "ridepred/log.h"

/* The response can be larger than the event (a minimal record is ~60
 * bytes, its prediction ~130), but its predictions never more than this;
 * a record whose prediction would pass it fails instead. */
#define RESPONSE_MAX_BYTES RP_HANDLER_PREDICTIONS_MAX
/* Records decoded before their rows are predicted together. */
#define CHUNK 128
/* The worst ride_id the contract allows (docs/handler.md §7: 1 to 256
 * characters): as json.dumps writes it, each character an astral one,
 * "\ud83d\ude00", 12 bytes, plus the quotes; as str(ride_id), 4 UTF-8
 * bytes each (an integer ride_id has at most 256 digits). */
#define RIDE_ID_JSON_MAX (2 + 12 * (size_t)RP_RIDE_ID_MAX_CHARS)
#define RIDE_ID_KEY_MAX (4 * (size_t)RP_RIDE_ID_MAX_CHARS)
/* A prediction record besides the prefix and the ride_id: the float (at
 * most 24 characters), ", \"ride_id\": " and "}}". */
#define PREDICTION_FIXED 64

/* One record of a Kinesis or Kafka event while the handler works on it.
 * Offsets, not pointers: the buffers they point into may move as they
 * grow. */
typedef struct slot {
    rp__json_value seq;      /* sequenceNumber / the Kafka offset, a view into the event */
    uint32_t id_off, id_len; /* the ride_id as JSON, in ids (this chunk only) */
    uint32_t e_off, e_len;   /* the prediction record, in events */
    uint32_t k_off, k_len;   /* str(ride_id), the partition key, in keys */
    uint32_t why_off;        /* the reason, in reasons (failed records) */
    uint8_t status;          /* rp_record_status; RP_RECORD_SERVED once predicted */
    bool decoded;            /* a row and a ride_id wait in the chunk */
    uint32_t group;          /* Kafka: the record's key of "records", in groups */
    rp_code code;
} slot;

struct rp_handler {
    rp_model *model;
    bool log_failures;
    rp__buf prefix; /* {"model": "...", "version": V, "prediction": {"ride_duration":  */
    rp__buf body;
    rp__buf unescaped; /* kinesis.data with JSON escapes decoded */
    rp__buf decoded;   /* kinesis.data base64-decoded */
    rp__buf scratch;   /* feature name */
    rp__buf ids;       /* ride_ids (as JSON) of the chunk's records */
    rp__buf events;    /* prediction records of the event, back to back */
    rp__buf keys;      /* partition keys of the event, back to back */
    rp__buf reasons;   /* why records failed, NUL-terminated, back to back */
    rp_publish_fn publish;
    void *publish_ctx;
    rp_stream_entry put[RP_STREAM_PUT_BATCH_MAX];
    rp_stream_put_result put_res[RP_STREAM_PUT_BATCH_MAX];
    slot *slots; /* one per record of the event */
    size_t n_slots, cap_slots;
    rp__event_kind kind;    /* of the event being answered (Kinesis or Kafka) */
    rp__json_value *groups; /* Kafka: the keys of "records", views into the event */
    rp__event_key *gkeys;   /* ... and the same decoded, in gnames */
    uint32_t *gorder;       /* scratch of the repeated-key check */
    size_t n_groups, cap_groups, cap_gkeys, cap_gorder;
    rp__buf gnames;
    size_t chunk_start;          /* first slot of the chunk not yet predicted */
    size_t predictions_bytes;    /* what the served predictions add to the body */
    rp_record_outcome *outcomes; /* built on request (rp_handler_outcomes) */
    size_t cap_outcomes;
    rp_row rows[CHUNK];
    double preds_out[CHUNK];
    rp_code status[CHUNK];
    size_t served, failed;
    /* Monitoring (rp_handler_keep_rides): per slot, its inputs and prediction. */
    bool keep_rides;
    bool rides_failed;                   /* out of memory in this invocation */
    double *r_pu, *r_do, *r_td, *r_pred; /* cap_rides each */
    size_t cap_rides, n_rides;
    char error_message[RP_ERROR_MSG_MAX]; /* of the last function error */
};

const char *rp_handler_version(const rp_model *m, const char *model_version, const char *run_id, size_t *len)
{
    const char *v = model_version && *model_version ? model_version : run_id;
    if (v && *v) {
        *len = strlen(v);
        return v;
    }
    if (m) {
        rp_model_info info;
        rp_model_get_info(m, &info);
        if (info.version && info.version_len) {
            *len = info.version_len;
            return info.version;
        }
    }
    *len = 7;
    return "unknown";
}

int rp_handler_check_version(size_t len, rp_error *err)
{
    if (len <= RP_HANDLER_VERSION_MAX)
        return 0;
    return rp_error_set(err, RP_ERR_LIMIT,
                        "the version is %zu bytes; at most %d are served (set MODEL_VERSION, RUN_ID or "
                        "--model-version to report another)",
                        len, RP_HANDLER_VERSION_MAX);
}

rp_handler *rp_handler_new(rp_model *m, const rp_handler_config *cfg, rp_error *err)
{
    size_t vlen = 0;
    const char *version = cfg && cfg->version ? cfg->version : rp_handler_version(m, NULL, NULL, &vlen);
    if (cfg && cfg->version)
        vlen = cfg->version_len ? cfg->version_len : strlen(cfg->version);
    if (rp_handler_check_version(vlen, err) < 0)
        return NULL;
    rp_handler *h = calloc(1, sizeof *h);
    if (!h) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->model = rp_model_retain(m);
    h->log_failures = cfg ? cfg->log_failures : true;
    /* json.dumps writes a byte of the version as at most 6 ("\u0000"). */
    rp__buf_init(&h->prefix, 6 * (size_t)RP_HANDLER_VERSION_MAX + 128);
    rp__buf_init(&h->body, 2 * RESPONSE_MAX_BYTES + 64);
    rp__buf_init(&h->unescaped, RP_EVENT_MAX_BYTES);
    rp__buf_init(&h->decoded, RP_BASE64_DECODED_MAX(RP_EVENT_MAX_BYTES) + 1);
    rp__buf_init(&h->scratch, RP_EVENT_MAX_BYTES + 16);
    rp__buf_init(&h->ids, (size_t)CHUNK * RIDE_ID_JSON_MAX);
    rp__buf_init(&h->events, RESPONSE_MAX_BYTES);
    /* A partition key is at most as long as the ride_id's text in the
     * record, so the keys of one event fit in the event's size. */
    rp__buf_init(&h->keys, RP_EVENT_MAX_BYTES + RIDE_ID_KEY_MAX);
    rp__buf_init(&h->reasons, RESPONSE_MAX_BYTES);
    /* Keys decode to at most their own bytes: they fit in the event's size. */
    rp__buf_init(&h->gnames, RP_EVENT_MAX_BYTES);
    h->publish = cfg ? cfg->publish : NULL;
    h->publish_ctx = cfg ? cfg->publish_ctx : NULL;

    rp__event_prediction_prefix(&h->prefix, version, vlen);
    if (h->prefix.failed) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
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
    rp__buf_cleanup(&h->prefix);
    rp__buf_cleanup(&h->body);
    rp__buf_cleanup(&h->unescaped);
    rp__buf_cleanup(&h->decoded);
    rp__buf_cleanup(&h->scratch);
    rp__buf_cleanup(&h->ids);
    rp__buf_cleanup(&h->events);
    rp__buf_cleanup(&h->keys);
    rp__buf_cleanup(&h->reasons);
    rp__buf_cleanup(&h->gnames);
    free(h->groups);
    free(h->gkeys);
    free(h->gorder);
    free(h->slots);
    free(h->outcomes);
    free(h->r_pu);
    free(h->r_do);
    free(h->r_td);
    free(h->r_pred);
    free(h);
}

/* A string view decoded into out (cap bytes, NUL-terminated; empty when it
 * does not fit). */
static void view_text(const rp__json_value *v, char *out, size_t cap)
{
    size_t n = 0;
    if (v->len < cap)
        n = rp__json_str_decode(v, out);
    out[n] = '\0';
}

static void log_failure(rp_handler *h, const slot *s, const char *why)
{
    if (!h->log_failures || !rp_log_enabled(RP_LOG_WARN))
        return;
    char t[300];
    if (h->kind == RP_EVENT_KAFKA) {
        char off[64];
        view_text(&h->groups[s->group], t, sizeof t);
        snprintf(off, sizeof off, "%.*s", (int)s->seq.len, s->seq.ptr);
        rp_log(RP_LOG_WARN, "record failed", "partition", t, "offset", off, "reason", why, NULL);
        return;
    }
    view_text(&s->seq, t, sizeof t);
    rp_log(RP_LOG_WARN, "record failed", "sequence_number", t, "reason", why, NULL);
}

/* The record of slot s failed: status, code and reason kept, logged. */
static void fail(rp_handler *h, slot *s, rp_record_status status, rp_code code, const char *why)
{
    s->status = (uint8_t)status;
    s->code = code;
    s->why_off = (uint32_t)h->reasons.len;
    if (rp__buf_append(&h->reasons, why, strlen(why) + 1) < 0)
        s->why_off = UINT32_MAX; /* rp_handler_outcomes says "see the log" */
    h->failed++;
    log_failure(h, s, why);
}

/* Decodes a record's data (kinesis.data, a Kafka record's value): JSON
 * string → base64 → UTF-8 JSON text. */
static int record_payload(rp_handler *h, const rp__event_rec *rec, const char **out, size_t *out_len,
                          rp_error *why)
{
    const char *field = rec->kind == RP_EVENT_KAFKA ? "value" : "kinesis.data";
    if (!rec->has_data)
        return rp_error_set(why, RP_ERR_INVALID, "%s is missing", field);
    if (rec->data.type != RP_JSON_STRING) {
        if (rec->kind == RP_EVENT_KAFKA && rec->data.type == RP_JSON_NULL)
            return rp_error_set(why, RP_ERR_INVALID, "value is null (a tombstone): no ride to predict");
        return rp_error_set(why, RP_ERR_INVALID, "%s is not a string", field);
    }
    const char *b64 = rec->data.ptr;
    size_t n = rec->data.len;
    if (rec->data.escaped) {
        rp__buf_reset(&h->unescaped);
        if (rp__buf_grow(&h->unescaped, n) != 0)
            return rp_error_set(why, RP_ERR_NOMEM, "out of memory");
        n = rp__json_str_decode(&rec->data, h->unescaped.data);
        b64 = h->unescaped.data;
    }
    rp__buf_reset(&h->decoded);
    if (rp__buf_grow(&h->decoded, RP_BASE64_DECODED_MAX(n)) != 0)
        return rp_error_set(why, RP_ERR_LIMIT, "%s is too large", field);
    const char *msg = NULL;
    long got = rp__base64_decode(b64, n, (unsigned char *)h->decoded.data, &msg);
    if (got < 0)
        return rp_error_set(why, RP_ERR_INVALID, "bad base64: %s", msg);
    if ((size_t)got > RP_RECORD_MAX_BYTES)
        return rp_error_set(why, RP_ERR_LIMIT,
                            "record data is %ld bytes; the limit is %zu (Kinesis's record limit)", got,
                            RP_RECORD_MAX_BYTES);
    *out = h->decoded.data;
    *out_len = (size_t)got;
    return 0;
}

static int serve_fields(rp_handler *h, const rp__ride_fields *f, double *pred, rp_error *why)
{
    rp_row row;
    if (rp__ride_features(f, h->model, &h->scratch, &row, why) < 0)
        return -1;
    return rp_model_predict(h->model, &row, pred, why);
}

/* Encodes the prediction record of slot s (prediction x) into events. */
static void encode_prediction(rp_handler *h, slot *s, double x)
{
    size_t mark = h->events.len;
    rp__event_prediction(&h->events, h->prefix.data, h->prefix.len, x, h->ids.data + s->id_off, s->id_len);
    size_t len = h->events.len - mark;
    if (h->events.failed || h->predictions_bytes + len + 2 > RESPONSE_MAX_BYTES) {
        h->events.failed = h->events.toobig = false;
        h->events.len = mark;
        fail(h, s, RP_RECORD_REFUSED, RP_ERR_LIMIT, "the response would exceed its size limit");
        return;
    }
    s->e_off = (uint32_t)mark;
    s->e_len = (uint32_t)len;
    s->status = RP_RECORD_SERVED;
    h->predictions_bytes += len + 2;
}

/* Predicts the chunk's decoded rows and encodes their prediction records. */
static void predict_chunk(rp_handler *h)
{
    size_t n = h->n_slots - h->chunk_start;
    if (!n)
        return;
    slot *base = h->slots + h->chunk_start;
    rp_model_predict_batch(h->model, h->rows, n, h->preds_out, h->status);
    for (size_t i = 0; i < n; i++) {
        slot *s = &base[i];
        if (!s->decoded)
            continue;
        if (h->status[i] != RP_OK)
            fail(h, s, RP_RECORD_REFUSED, h->status[i], rp_model_status_message(h->status[i]));
        else
            encode_prediction(h, s, h->preds_out[i]);
        if (h->keep_rides && s->status == RP_RECORD_SERVED && !h->rides_failed)
            h->r_pred[h->chunk_start + i] = h->preds_out[i];
    }
    h->chunk_start = h->n_slots;
    rp__buf_reset(&h->ids);
}

/* The record of slot s was not taken by the stream: "not published: " and
 * the put's reason (rp_stream_put_reason). */
static void unpublished(rp_handler *h, slot *s, const rp_stream_put_result *r)
{
    char why[400] = "not published: ";
    size_t n = strlen(why);
    rp_stream_put_reason(r, why + n, sizeof why - n);
    h->served--;
    fail(h, s, RP_RECORD_UNPUBLISHED, RP_ERR_IO, why);
}

/* Publishes the prediction records of the served slots, in record order,
 * RP_STREAM_PUT_BATCH_MAX at a time; those the stream did not take become
 * RP_RECORD_UNPUBLISHED. */
static void publish_all(rp_handler *h)
{
    size_t idx[RP_STREAM_PUT_BATCH_MAX];
    size_t i = 0;
    while (i < h->n_slots) {
        size_t k = 0;
        for (; i < h->n_slots && k < RP_STREAM_PUT_BATCH_MAX; i++) {
            const slot *s = &h->slots[i];
            if (s->status != RP_RECORD_SERVED)
                continue;
            h->put[k] =
                (rp_stream_entry){h->events.data + s->e_off, s->e_len, h->keys.data + s->k_off, s->k_len};
            idx[k++] = i;
        }
        if (!k)
            break;
        rp_error err;
        if (h->publish(h->publish_ctx, h->put, k, h->put_res, &err) < 0 && rp_log_enabled(RP_LOG_WARN))
            rp_log(RP_LOG_WARN, "publishing failed", "reason", err.msg, NULL);
        for (size_t j = 0; j < k; j++)
            if (!h->put_res[j].ok)
                unpublished(h, &h->slots[idx[j]], &h->put_res[j]);
    }
}

static void reset_output(rp_handler *h)
{
    rp__buf_reset(&h->ids);
    rp__buf_reset(&h->events);
    rp__buf_reset(&h->keys);
    rp__buf_reset(&h->reasons);
    h->n_slots = h->chunk_start = 0;
    h->n_groups = 0;
    rp__buf_reset(&h->gnames);
    h->predictions_bytes = 0;
    h->served = h->failed = 0;
    h->n_rides = 0;
    h->rides_failed = false;
}

/* Keeps the ride_id of slot s as JSON (for its prediction record, in ids)
 * and as str(ride_id) (its partition key, in keys).  Both buffers are
 * sized for the worst ride_id of a chunk and of an event. */
static int keep_ride_id(rp_handler *h, slot *s, const rp__json_value *id)
{
    size_t mark = h->ids.len;
    if (id->type == RP_JSON_STRING)
        rp__pyjson_string(&h->ids, id);
    else
        rp__pyjson_int(&h->ids, id);
    s->id_off = (uint32_t)mark;
    s->id_len = (uint32_t)(h->ids.len - mark);
    size_t k = h->keys.len;
    if (id->type == RP_JSON_STRING) {
        if (rp__buf_grow(&h->keys, id->len) == 0)
            h->keys.len += rp__json_str_decode(id, h->keys.data + h->keys.len);
    } else {
        rp__pyjson_int(&h->keys, id);
    }
    s->k_off = (uint32_t)k;
    s->k_len = (uint32_t)(h->keys.len - k);
    return h->ids.failed || h->keys.failed ? -1 : 0;
}

/* A key of a Kafka event's "records" begins: kept as a view (for the
 * answer) and decoded (for the repeated-key check). */
static int add_group(rp_handler *h, const rp__json_value *key, rp_error *err)
{
    rp__json_value *ng = rp__array_grow(h->groups, h->n_groups, &h->cap_groups, sizeof *h->groups, 16);
    if (!ng)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    h->groups = ng;
    rp__event_key *nk = rp__array_grow(h->gkeys, h->n_groups, &h->cap_gkeys, sizeof *h->gkeys, 16);
    if (!nk)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    h->gkeys = nk;
    size_t off = h->gnames.len;
    if (rp__buf_grow(&h->gnames, key->len + 1) != 0)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    h->gnames.len += rp__json_str_decode(key, h->gnames.data + off);
    h->gnames.data[h->gnames.len] = '\0';
    h->groups[h->n_groups] = *key;
    h->gkeys[h->n_groups++] = (rp__event_key){(uint32_t)off, (uint32_t)(h->gnames.len - off)};
    return 0;
}

/* Keeps the inputs of record i (f NULL: it was not decoded: NaN); its
 * prediction is NaN until predicted. */
static void keep_ride(rp_handler *h, size_t i, const rp__ride_fields *f, const rp_row *row)
{
    if (h->rides_failed)
        return;
    if (i >= h->cap_rides) {
        size_t cap = h->cap_rides ? 2 * h->cap_rides : 256;
        double *a[4] = {h->r_pu, h->r_do, h->r_td, h->r_pred};
        for (int k = 0; k < 4; k++) {
            double *na = realloc(a[k], cap * sizeof *na);
            if (!na) {
                h->rides_failed = true;
                return;
            }
            a[k] = na;
            switch (k) {
            case 0: h->r_pu = na; break;
            case 1: h->r_do = na; break;
            case 2: h->r_td = na; break;
            default: h->r_pred = na; break;
            }
        }
        h->cap_rides = cap;
    }
    h->r_pu[i] = f ? rp__ride_location_value(&f->pu) : NAN;
    h->r_do[i] = f ? rp__ride_location_value(&f->do_) : NAN;
    /* trip_distance as rp__ride_features read it into the row (the model's
     * column, last), else read again. */
    int32_t tdc = rp_model_trip_distance(h->model);
    h->r_td[i] = !f ? NAN
                 : row && tdc >= 0 && row->n > 0 && row->idx[row->n - 1] == (uint32_t)tdc
                     ? row->val[row->n - 1]
                     : rp__json_number(&f->td);
    h->r_pred[i] = NAN;
}

static int on_record(void *ctx, const rp__event_rec *rec, rp_error *err)
{
    rp_handler *h = ctx;
    if (!rec) {
        reset_output(h);
        return 0;
    }
    h->kind = rec->kind;
    if (rec->is_key)
        return add_group(h, &rec->partition, err);
    slot *ns = rp__array_grow(h->slots, h->n_slots, &h->cap_slots, sizeof *h->slots, 256);
    if (!ns)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    h->slots = ns;
    size_t ci = h->n_slots - h->chunk_start;
    slot *s = &h->slots[h->n_slots++];
    *s = (slot){.seq = rec->seq, .status = RP_RECORD_REFUSED};
    if (rec->kind == RP_EVENT_KAFKA) /* its key is the last one begun */
        s->group = (uint32_t)h->n_groups - 1;
    rp_row *row = &h->rows[ci];
    row->n = 0;
    rp_error why;
    const char *json = NULL;
    size_t len = 0;
    rp__ride_fields f;
    if (record_payload(h, rec, &json, &len, &why) < 0 || rp__ride_parse(json, len, &f, &why) < 0 ||
        rp__ride_features(&f, h->model, &h->scratch, row, &why) < 0) {
        fail(h, s, RP_RECORD_REFUSED, why.code, why.msg);
    } else if (keep_ride_id(h, s, &f.ride_id) < 0) {
        /* cannot happen: the buffers hold the worst ride_ids the contract allows */
        row->n = 0;
        fail(h, s, RP_RECORD_REFUSED, RP_ERR_LIMIT, "ride_id too long");
    } else {
        s->decoded = true;
    }
    if (h->keep_rides)
        keep_ride(h, h->n_slots - 1, s->decoded ? &f : NULL, row);
    if (h->n_slots - h->chunk_start == CHUNK)
        predict_chunk(h);
    return 0;
}

static int error_body(rp_handler *h, rp_invoke_result *res, const char *type, const char *msg)
{
    rp__buf_reset(&h->body);
    h->n_rides = 0;
    rp__event_response_error(&h->body, type, msg);
    res->status = RP_INVOKE_FUNCTION_ERROR;
    res->error_type = type;
    snprintf(h->error_message, sizeof h->error_message, "%s", msg);
    res->error_message = h->error_message;
    res->body = h->body.data;
    res->body_len = h->body.len;
    return h->body.failed ? -1 : 0;
}

/* {"predictions": [...], "batchItemFailures": [...]} from the slots. */
static void batch_body(rp_handler *h)
{
    rp__buf *b = &h->body;
    rp__event_response_begin(b);
    if (rp__buf_grow(b, h->predictions_bytes) == 0) {
        /* Room is made: append without per-record checks. */
        char *p = b->data + b->len;
        bool first = true;
        for (size_t i = 0; i < h->n_slots; i++) {
            const slot *s = &h->slots[i];
            if (s->status != RP_RECORD_SERVED)
                continue;
            if (!first) {
                memcpy(p, ", ", 2);
                p += 2;
            }
            first = false;
            memcpy(p, h->events.data + s->e_off, s->e_len);
            p += s->e_len;
        }
        b->len = (size_t)(p - b->data);
        b->data[b->len] = '\0';
    }
    if (h->failed) {
        rp__event_response_failures(b);
        bool first = true;
        for (size_t i = 0; i < h->n_slots; i++) {
            const slot *s = &h->slots[i];
            if (s->status == RP_RECORD_SERVED)
                continue;
            if (h->kind == RP_EVENT_KAFKA)
                rp__event_response_kafka_failure(b, &h->groups[s->group], &s->seq, first);
            else
                rp__event_response_failure(b, &s->seq, first);
            first = false;
        }
    }
    rp__event_response_end(b);
}

/* A Kafka event names each topic-partition once (docs/handler.md §2): -1
 * with err set when a key of "records" repeats (or out of memory). */
static int repeated_key(rp_handler *h, rp_error *err)
{
    if (h->n_groups < 2)
        return 0;
    while (h->cap_gorder < h->n_groups) {
        uint32_t *no = rp__array_grow(h->gorder, h->cap_gorder, &h->cap_gorder, sizeof *h->gorder, 16);
        if (!no)
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        h->gorder = no;
    }
    long i = rp__event_kafka_repeat(h->gnames.data, h->gkeys, h->gorder, h->n_groups);
    if (i < 0)
        return 0;
    const rp__event_key *k = &h->gkeys[i];
    bool plain = k->len <= 64;
    for (uint32_t j = 0; plain && j < k->len; j++)
        plain = h->gnames.data[k->off + j] >= 0x20 && h->gnames.data[k->off + j] < 0x7f;
    if (plain)
        return rp_error_set(err, RP_ERR_INVALID,
                            "event \"records\" has the key \"%.*s\" twice: a Kafka event names each "
                            "topic-partition once",
                            (int)k->len, h->gnames.data + k->off);
    return rp_error_set(err, RP_ERR_INVALID,
                        "event \"records\": key %ld repeats an earlier key: a Kafka event names each "
                        "topic-partition once",
                        i + 1);
}

int rp_handler_invoke(rp_handler *h, const char *event, size_t len, rp_invoke_result *res)
{
    rp_error err;
    rp__event ev;
    memset(res, 0, sizeof *res);
    reset_output(h);
    if (rp__event_scan(event, len, on_record, h, &ev, &err) < 0) {
        h->n_slots = 0;
        rp_log(RP_LOG_WARN, "invalid event", "reason", err.msg, NULL);
        return error_body(h, res, "InvalidEvent", err.msg);
    }
    if (ev.kind == RP_EVENT_KAFKA && repeated_key(h, &err) < 0) {
        h->n_slots = 0;
        rp_log(RP_LOG_WARN, "invalid event", "reason", err.msg, NULL);
        return error_body(h, res, "InvalidEvent", err.msg);
    }
    rp__buf_reset(&h->body);
    if (ev.kind == RP_EVENT_DIRECT) {
        double pred;
        res->records = 1;
        if (serve_fields(h, &ev.direct, &pred, &err) < 0) {
            res->failed = 1;
            rp_log(RP_LOG_WARN, "invalid ride event", "reason", err.msg, NULL);
            return error_body(h, res, "InvalidEvent", err.msg);
        }
        rp__event_response_direct(&h->body, pred, &ev.direct.ride_id);
        res->served = 1;
        if (h->keep_rides) {
            keep_ride(h, 0, &ev.direct, NULL);
            if (!h->rides_failed) {
                h->r_pred[0] = pred;
                h->n_rides = 1;
            }
        }
    } else {
        predict_chunk(h);
        h->served = h->n_slots - h->failed;
        if (h->publish && h->served)
            publish_all(h);
        h->n_rides = h->keep_rides && !h->rides_failed ? h->n_slots : 0;
        res->records = ev.n_records;
        res->served = h->served;
        res->failed = h->failed;
        batch_body(h);
    }
    if (h->body.failed)
        return error_body(h, res, "ResponseTooLarge", "the response exceeds its size limit");
    res->status = RP_INVOKE_OK;
    res->body = h->body.data;
    res->body_len = h->body.len;
    return 0;
}

void rp_handler_keep_rides(rp_handler *h, bool keep)
{
    h->keep_rides = keep;
}

int rp_handler_last_rides(const rp_handler *h, rp_handler_rides *out)
{
    *out = (rp_handler_rides){
        .n = h->n_rides, .pu = h->r_pu, .dol = h->r_do, .distance = h->r_td, .prediction = h->r_pred};
    return h->rides_failed ? -1 : 0;
}

const rp_record_outcome *rp_handler_outcomes(rp_handler *h, size_t *n)
{
    *n = 0;
    if (h->cap_outcomes < h->n_slots) {
        rp_record_outcome *o = realloc(h->outcomes, h->n_slots * sizeof *o);
        if (!o)
            return NULL;
        h->outcomes = o;
        h->cap_outcomes = h->n_slots;
    }
    for (size_t i = 0; i < h->n_slots; i++) {
        const slot *s = &h->slots[i];
        rp_record_outcome *o = &h->outcomes[i];
        *o = (rp_record_outcome){.status = (rp_record_status)s->status, .code = s->code};
        if (s->status == RP_RECORD_SERVED || s->status == RP_RECORD_UNPUBLISHED) {
            o->prediction = h->events.data + s->e_off;
            o->prediction_len = s->e_len;
            o->partition_key = h->keys.data + s->k_off;
            o->partition_key_len = s->k_len;
        }
        if (s->status != RP_RECORD_SERVED)
            o->reason = s->why_off == UINT32_MAX ? "the record failed (the reason did not fit: see the log)"
                                                 : h->reasons.data + s->why_off;
    }
    *n = h->n_slots;
    return h->outcomes;
}
