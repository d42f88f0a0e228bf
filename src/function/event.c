#include "function/event.h"

#include <string.h>

static int kinesis_object(rp_json_reader *r, rp_kinesis_record *rec)
{
    rp_json_value k, v;
    int rc;
    while ((rc = rp_json_member(r, &k)) == 1) {
        if (rp_json_next(r, &v) < 0)
            return -1;
        if (rp_json_str_eq(&k, "data", 4)) {
            rec->data = v;
            rec->has_data = true;
        } else if (rp_json_str_eq(&k, "sequenceNumber", 14)) {
            rec->seq = v;
            rec->has_seq = true;
        } else if (rp_json_str_eq(&k, "partitionKey", 12)) {
            rec->pk = v;
            rec->has_pk = true;
        }
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp_json_skip(r, &v) < 0)
            return -1;
    }
    return rc;
}

/* Walks one "Records" array.  A structurally bad record (docs/handler.md §2: the
 * whole invocation fails) is remembered in *bad, the rest of the array is
 * only validated, and the caller decides at the end: a later "Records" key
 * replaces this one, as in Python.  Returns -1 only on a JSON error or when
 * the callback stops the scan. */
static int records_array(rp_json_reader *r, rp_record_fn fn, void *ctx, rp_event *ev, bool *bad,
                         rp_error *bad_err, rp_error *err)
{
    rp_json_value v, k;
    int rc;
    ev->n_records = 0;
    *bad = false;
    if (fn(ctx, NULL, err) < 0)
        return -1;
    while ((rc = rp_json_element(r)) == 1) {
        if (rp_json_next(r, &v) < 0)
            goto json;
        size_t index = ev->n_records++;
        if (*bad || v.type != RP_JSON_OBJECT) {
            if (!*bad)
                rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] is not an object", index);
            *bad = true;
            if (rp_json_skip(r, &v) < 0)
                goto json;
            continue;
        }
        rp_kinesis_record rec;
        memset(&rec, 0, sizeof rec);
        rec.index = index;
        bool has_kinesis = false;
        int more;
        while ((more = rp_json_member(r, &k)) == 1) {
            if (rp_json_next(r, &v) < 0)
                goto json;
            if (rp_json_str_eq(&k, "kinesis", 7)) {
                memset(&rec, 0, sizeof rec);
                rec.index = index;
                has_kinesis = v.type == RP_JSON_OBJECT;
                if (has_kinesis) {
                    if (kinesis_object(r, &rec) < 0)
                        goto json;
                    continue;
                }
            }
            if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp_json_skip(r, &v) < 0)
                goto json;
        }
        if (more < 0)
            goto json;
        if (!has_kinesis)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] has no \"kinesis\" object", index);
        else if (!rec.has_seq)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu] has no kinesis.sequenceNumber", index);
        else if (rec.seq.type != RP_JSON_STRING)
            rp_error_set(bad_err, RP_ERR_INVALID, "Records[%zu]: kinesis.sequenceNumber is not a string", index);
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

int rp_event_scan(const char *event, size_t len, rp_record_fn fn, void *ctx, rp_event *ev,
                  rp_error *err)
{
    rp_json_reader r;
    rp_json_value v, k;
    memset(ev, 0, sizeof *ev);
    if (len > RP_EVENT_MAX_BYTES)
        return rp_error_set(err, RP_ERR_LIMIT, "event is larger than %zu bytes (Lambda's synchronous payload limit)", RP_EVENT_MAX_BYTES);
    rp_json_init(&r, event, len, RP_EVENT_MAX_DEPTH);
    if (rp_json_next(&r, &v) < 0)
        goto json;
    if (v.type != RP_JSON_OBJECT) {
        if (rp_json_skip(&r, &v) < 0 || rp_json_end(&r) < 0)
            goto json;
        return rp_error_set(err, RP_ERR_INVALID, "event is not a JSON object");
    }
    bool has_records = false, records_ok = false, records_bad = false;
    rp_error bad_err;
    rp_error_clear(&bad_err);
    int rc;
    while ((rc = rp_json_member(&r, &k)) == 1) {
        if (rp_json_str_eq(&k, "Records", 7)) {
            has_records = true;
            if (rp_json_next(&r, &v) < 0)
                goto json;
            records_ok = v.type == RP_JSON_ARRAY;
            records_bad = false;
            if (records_ok) {
                if (records_array(&r, fn, ctx, ev, &records_bad, &bad_err, err) < 0)
                    return -1;
            } else if (rp_json_skip(&r, &v) < 0) {
                goto json;
            }
            continue;
        }
        int m = rp_ride_member(&r, &k, &ev->direct);
        if (m < 0 || (m == 0 && rp_json_skip(&r, NULL) < 0))
            goto json;
    }
    if (rc < 0 || rp_json_end(&r) < 0)
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
    if (ev->direct.has_ride || ev->direct.has_ride_id) {
        ev->kind = RP_EVENT_DIRECT;
        return 0;
    }
    return rp_error_set(err, RP_ERR_INVALID, "event is neither a Kinesis event (\"Records\") nor a ride event (\"ride\", \"ride_id\")");
json:
    return rp_error_set(err, RP_ERR_INVALID, "event is not valid JSON: %s", r.err.msg);
}
