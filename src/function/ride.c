#include "function/ride.h"

#include <math.h>
#include <string.h>

#include "common/pyfloat.h"
#include "common/pyjson.h"

static const char *type_name(rp__json_type t)
{
    switch (t) {
    case RP_JSON_NULL: return "null";
    case RP_JSON_FALSE:
    case RP_JSON_TRUE: return "a boolean";
    case RP_JSON_NUMBER: return "a number";
    case RP_JSON_STRING: return "a string";
    case RP_JSON_ARRAY: return "an array";
    case RP_JSON_OBJECT: return "an object";
    }
    return "?";
}

static int ride_object(rp__json_reader *r, rp__ride_fields *f)
{
    rp__json_value k, v;
    int rc;
    while ((rc = rp__json_member(r, &k)) == 1) {
        rp__json_value *slot = NULL;
        bool *has = NULL;
        if (rp__json_str_eq(&k, "PULocationID", 12)) {
            slot = &f->pu;
            has = &f->has_pu;
        } else if (rp__json_str_eq(&k, "DOLocationID", 12)) {
            slot = &f->do_;
            has = &f->has_do;
        } else if (rp__json_str_eq(&k, "trip_distance", 13)) {
            slot = &f->td;
            has = &f->has_td;
        }
        if (rp__json_next(r, &v) < 0)
            return -1;
        if (slot) {
            *slot = v;
            *has = true;
        }
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
            return -1;
    }
    return rc;
}

int rp__ride_member(rp__json_reader *r, const rp__json_value *key, rp__ride_fields *f)
{
    rp__json_value v;
    if (rp__json_str_eq(key, "ride", 4)) {
        if (rp__json_next(r, &v) < 0)
            return -1;
        f->has_ride = true;
        f->ride_type = v.type;
        f->has_pu = f->has_do = f->has_td = false;
        if (v.type == RP_JSON_OBJECT)
            return ride_object(r, f) < 0 ? -1 : 1;
        if (v.type == RP_JSON_ARRAY && rp__json_skip(r, &v) < 0)
            return -1;
        return 1;
    }
    if (rp__json_str_eq(key, "ride_id", 7)) {
        if (rp__json_next(r, &v) < 0)
            return -1;
        f->has_ride_id = true;
        f->ride_id = v;
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(r, &v) < 0)
            return -1;
        return 1;
    }
    return 0;
}

int rp__ride_parse(const char *json, size_t len, rp__ride_fields *f, rp_error *why)
{
    rp__json_reader r;
    rp__json_value v, k;
    memset(f, 0, sizeof *f);
    rp__json_init(&r, json, len, RP_RIDE_MAX_DEPTH);
    if (rp__json_next(&r, &v) < 0)
        goto bad_json;
    if (v.type != RP_JSON_OBJECT) {
        if (rp__json_skip(&r, &v) < 0 || rp__json_end(&r) < 0)
            goto bad_json;
        return rp_error_set(why, RP_ERR_INVALID, "record is not a JSON object");
    }
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        int m = rp__ride_member(&r, &k, f);
        if (m < 0 || (m == 0 && rp__json_skip(&r, NULL) < 0))
            goto bad_json;
    }
    if (rc < 0 || rp__json_end(&r) < 0)
        goto bad_json;
    return 0;
bad_json:
    return rp_error_set(why, RP_ERR_INVALID, "record is not valid JSON: %s", r.err.msg);
}

int rp__ride_parse_bare(const char *json, size_t len, rp__ride_fields *f, rp_error *why)
{
    rp__json_reader r;
    rp__json_value v;
    memset(f, 0, sizeof *f);
    rp__json_init(&r, json, len, RP_RIDE_MAX_DEPTH);
    if (rp__json_next(&r, &v) < 0)
        goto bad_json;
    if (v.type != RP_JSON_OBJECT) {
        if (rp__json_skip(&r, &v) < 0 || rp__json_end(&r) < 0)
            goto bad_json;
        return rp_error_set(why, RP_ERR_INVALID, "the body is %s; expected a ride object such as %s",
                            type_name(v.type), RP_RIDE_EXAMPLE);
    }
    f->has_ride = true;
    f->ride_type = RP_JSON_OBJECT;
    if (ride_object(&r, f) < 0 || rp__json_end(&r) < 0)
        goto bad_json;
    return 0;
bad_json:
    return rp_error_set(why, RP_ERR_INVALID, "the body is not valid JSON: %s", r.err.msg);
}

/* Appends a location as Python's '%s' formats it. */
static int put_location(rp__buf *b, const rp__json_value *v, const char *prefix, const char *name,
                        rp_error *why)
{
    if (v->type == RP_JSON_STRING) {
        if (rp__buf_grow(b, v->len) != 0)
            return rp_error_set(why, RP_ERR_LIMIT, "%s%s is too long", prefix, name);
        b->len += rp__json_str_decode(v, b->data + b->len);
        return 0;
    }
    if (v->type == RP_JSON_NUMBER) {
        int rc;
        if (v->is_int && v->len == 2 && v->ptr[0] == '-' && v->ptr[1] == '0')
            rc = rp__buf_putc(b, '0');
        else if (v->is_int)
            rc = rp__buf_append(b, v->ptr, v->len);
        else if ((rc = rp__buf_grow(b, RP_PYFLOAT_MAX)) == 0)
            b->len += rp__pyfloat_repr(rp__json_number(v), b->data + b->len);
        return rc == 0 ? 0 : rp_error_set(why, RP_ERR_LIMIT, "%s%s is too long", prefix, name);
    }
    return rp_error_set(why, RP_ERR_INVALID, "%s%s is %s; expected an integer, a float or a string", prefix,
                        name, type_name(v->type));
}

int rp__ride_features(const rp__ride_fields *f, const rp_model *m, rp__buf *scratch, rp_row *row,
                      rp_error *why)
{
    if (!f->has_ride)
        return rp_error_set(why, RP_ERR_INVALID, "\"ride\" is missing");
    if (f->ride_type != RP_JSON_OBJECT)
        return rp_error_set(why, RP_ERR_INVALID, "\"ride\" is %s; expected an object",
                            type_name(f->ride_type));
    if (!f->has_ride_id)
        return rp_error_set(why, RP_ERR_INVALID, "\"ride_id\" is missing");
    const rp__json_value *id = &f->ride_id;
    if (id->type == RP_JSON_STRING) {
        size_t chars = rp__json_str_chars(id);
        if (chars == 0 || chars > RP_RIDE_ID_MAX_CHARS)
            return rp_error_set(why, RP_ERR_INVALID,
                                "ride_id is %zu characters; as a partition key it must be 1 to %d", chars,
                                RP_RIDE_ID_MAX_CHARS);
    } else if (id->type == RP_JSON_NUMBER && id->is_int) {
        if (id->len > RP_RIDE_ID_MAX_CHARS)
            return rp_error_set(why, RP_ERR_INVALID,
                                "ride_id has %zu characters; as a partition key it must be 1 to %d", id->len,
                                RP_RIDE_ID_MAX_CHARS);
    } else {
        return rp_error_set(why, RP_ERR_INVALID, "ride_id is %s; expected an integer or a string",
                            id->type == RP_JSON_NUMBER ? "a float" : type_name(id->type));
    }
    return rp__ride_fields_features(f, m, "ride.", scratch, row, why);
}

int rp__ride_fields_features(const rp__ride_fields *f, const rp_model *m, const char *prefix,
                             rp__buf *scratch, rp_row *row, rp_error *why)
{
    /* A bare ride's message shows one: the body may be an event instead. */
    const char *hint = *prefix ? "" : "; expected a ride such as " RP_RIDE_EXAMPLE;
    if (!f->has_pu)
        return rp_error_set(why, RP_ERR_INVALID, "%sPULocationID is missing%s", prefix, hint);
    if (!f->has_do)
        return rp_error_set(why, RP_ERR_INVALID, "%sDOLocationID is missing%s", prefix, hint);
    if (!f->has_td)
        return rp_error_set(why, RP_ERR_INVALID, "%strip_distance is missing%s", prefix, hint);
    if (f->td.type != RP_JSON_NUMBER)
        return rp_error_set(why, RP_ERR_INVALID, "%strip_distance is %s; expected a number", prefix,
                            type_name(f->td.type));
    double td = rp__json_number(&f->td);
    if (!isfinite(td))
        return rp_error_set(why, RP_ERR_INVALID, "%strip_distance is not a finite number", prefix);

    rp__buf_reset(scratch);
    rp__buf_lit(scratch, "PU_DO=");
    if (put_location(scratch, &f->pu, prefix, "PULocationID", why) < 0)
        return -1;
    rp__buf_putc(scratch, '_');
    if (put_location(scratch, &f->do_, prefix, "DOLocationID", why) < 0)
        return -1;
    if (scratch->failed)
        return rp_error_set(why, RP_ERR_LIMIT, "PU_DO is too long");

    row->n = 0;
    int32_t col = rp_model_onehot(m, scratch->data, scratch->len);
    if (col >= 0) {
        row->idx[row->n] = (uint32_t)col;
        row->val[row->n++] = 1.0;
    }
    int32_t tdc = rp_model_trip_distance(m);
    if (tdc >= 0) {
        row->idx[row->n] = (uint32_t)tdc;
        row->val[row->n++] = td;
    }
    return 0;
}

double rp__ride_location_value(const rp__json_value *v)
{
    if (v->type == RP_JSON_NUMBER && !(v->is_int && v->len <= 9 && v->ptr[0] != '-'))
        return rp__json_number(v);
    /* A short non-negative integer (every TLC location id): its digits. */
    if ((v->type != RP_JSON_STRING && v->type != RP_JSON_NUMBER) || v->escaped || v->len == 0 || v->len > 9)
        return NAN;
    double x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->ptr[i] < '0' || v->ptr[i] > '9')
            return NAN;
        x = 10 * x + (v->ptr[i] - '0');
    }
    return x;
}

static void put_id(rp__buf *b, bool null, int64_t v)
{
    if (null)
        rp__buf_lit(b, "null");
    else
        rp__buf_printf(b, "%lld", (long long)v);
}

void rp__ride_encode(rp__buf *b, const rp__ride_row *r)
{
    rp__buf_lit(b, "{\"ride\": {\"PULocationID\": ");
    put_id(b, r->pu_null, r->pu);
    rp__buf_lit(b, ", \"DOLocationID\": ");
    put_id(b, r->do_null, r->dol);
    rp__buf_lit(b, ", \"trip_distance\": ");
    if (isnan(r->distance))
        rp__buf_lit(b, "null");
    else
        rp__pyjson_double(b, r->distance);
    rp__buf_printf(b, "}, \"ride_id\": %llu}", (unsigned long long)r->ride_id);
}
