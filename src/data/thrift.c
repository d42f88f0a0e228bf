/* See thrift.h.  The compact protocol: field headers are one byte (id delta
 * in the high nibble, type in the low one; delta 0 means a zigzag i16 id
 * follows), integers are zigzag varints, binaries a varint length and the
 * bytes, lists a byte (size in the high nibble, 15 = varint size follows),
 * maps a varint size and a key/value type byte, doubles 8 bytes
 * little-endian. */
#include "data/thrift.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rp__thrift_init(rp__thrift *t, const void *data, size_t len, const char *what, rp_error *err)
{
    memset(t, 0, sizeof *t);
    t->start = t->p = data;
    t->end = t->p + len;
    t->what = what;
    t->err = err;
}

int rp__thrift_fail(rp__thrift *t, rp_code code, const char *fmt, ...)
{
    if (t->failed)
        return -1;
    t->failed = true;
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rp_error_set(t->err, code, "%s: %s at byte %zu", t->what, msg, rp__thrift_offset(t));
}

static int truncated(rp__thrift *t)
{
    return rp__thrift_fail(t, RP_ERR_CORRUPT, "truncated");
}

static int read_byte(rp__thrift *t, uint8_t *b)
{
    *b = 0;
    if (t->failed)
        return -1;
    if (t->p >= t->end)
        return truncated(t);
    *b = *t->p++;
    return 0;
}

static int varint(rp__thrift *t, uint64_t *v)
{
    uint64_t x = 0;
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (read_byte(t, &b) < 0)
            return -1;
        if (shift == 63 && (b & 0x7e))
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "varint over 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return rp__thrift_fail(t, RP_ERR_CORRUPT, "varint longer than 10 bytes");
}

static int zigzag(rp__thrift *t, int64_t *v)
{
    uint64_t u = 0;
    *v = 0;
    if (varint(t, &u) < 0)
        return -1;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int rp__thrift_struct_begin(rp__thrift *t)
{
    if (t->failed)
        return -1;
    if (t->depth >= RP_THRIFT_MAX_DEPTH)
        return rp__thrift_fail(t, RP_ERR_LIMIT, "nested deeper than %d", RP_THRIFT_MAX_DEPTH);
    t->last_id[++t->depth] = 0;
    return 0;
}

int rp__thrift_field(rp__thrift *t, int16_t *id, uint8_t *type)
{
    uint8_t b;
    if (t->depth <= 0)
        return rp__thrift_fail(t, RP_ERR_INTERNAL, "field read outside a struct");
    if (read_byte(t, &b) < 0)
        return -1;
    *type = b & 0x0f;
    if (*type == RP_THRIFT_STOP) {
        t->depth--;
        return 0;
    }
    if (*type > RP_THRIFT_UUID)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "unknown field type %u", *type);
    int64_t fid;
    if (b >> 4) {
        fid = (int64_t)t->last_id[t->depth] + (b >> 4);
    } else {
        if (zigzag(t, &fid) < 0)
            return -1;
    }
    if (fid < INT16_MIN || fid > INT16_MAX)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "field id %lld out of range", (long long)fid);
    *id = (int16_t)fid;
    t->last_id[t->depth] = *id;
    return 1;
}

int rp__thrift_struct_end(rp__thrift *t)
{
    int16_t id;
    uint8_t type;
    int r;
    while ((r = rp__thrift_field(t, &id, &type)) > 0)
        if (rp__thrift_skip(t, type) < 0)
            return -1;
    return r < 0 ? -1 : 0;
}

static int int_value(rp__thrift *t, uint8_t type, int64_t *v)
{
    if (type == RP_THRIFT_BYTE) {
        uint8_t b;
        if (read_byte(t, &b) < 0)
            return -1;
        *v = (int8_t)b;
        return 0;
    }
    if (type == RP_THRIFT_I16 || type == RP_THRIFT_I32 || type == RP_THRIFT_I64)
        return zigzag(t, v);
    return rp__thrift_fail(t, RP_ERR_CORRUPT, "expected an integer, found type %u", type);
}

int rp__thrift_i32(rp__thrift *t, uint8_t type, int32_t *v)
{
    int64_t x = 0;
    if (int_value(t, type, &x) < 0)
        return -1;
    if (x < INT32_MIN || x > INT32_MAX)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "i32 value %lld out of range", (long long)x);
    *v = (int32_t)x;
    return 0;
}

int rp__thrift_i64(rp__thrift *t, uint8_t type, int64_t *v)
{
    return int_value(t, type, v);
}

int rp__thrift_double(rp__thrift *t, double *v)
{
    if (t->failed)
        return -1;
    if (t->end - t->p < 8)
        return truncated(t);
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | t->p[i];
    t->p += 8;
    memcpy(v, &u, sizeof *v);
    return 0;
}

int rp__thrift_binary(rp__thrift *t, const uint8_t **s, size_t *len)
{
    uint64_t n;
    if (varint(t, &n) < 0)
        return -1;
    if (n > (uint64_t)(t->end - t->p))
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "string of %llu bytes past the end", (unsigned long long)n);
    *s = t->p;
    *len = (size_t)n;
    t->p += n;
    return 0;
}

int rp__thrift_field_bool(rp__thrift *t, uint8_t type, bool *v)
{
    if (t->failed)
        return -1;
    if (type != RP_THRIFT_TRUE && type != RP_THRIFT_FALSE)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "expected a bool, found type %u", type);
    *v = type == RP_THRIFT_TRUE;
    return 0;
}

int rp__thrift_list_begin(rp__thrift *t, uint8_t *elem_type, uint32_t *count)
{
    uint8_t b;
    if (read_byte(t, &b) < 0)
        return -1;
    uint64_t n = b >> 4;
    *elem_type = b & 0x0f;
    if (n == 15 && varint(t, &n) < 0)
        return -1;
    if (*elem_type == RP_THRIFT_STOP || *elem_type > RP_THRIFT_UUID)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "unknown list element type %u", *elem_type);
    if (n > (uint64_t)(t->end - t->p))
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "list of %llu elements in %zu bytes", (unsigned long long)n,
                               (size_t)(t->end - t->p));
    *count = (uint32_t)n;
    return 0;
}

int rp__thrift_list_bool(rp__thrift *t, bool *v)
{
    uint8_t b;
    if (read_byte(t, &b) < 0)
        return -1;
    /* The compact protocol writes 1 for true and 2 (some writers: 0) for false. */
    if (b > 2)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "bad bool byte %u", b);
    *v = b == 1;
    return 0;
}

int rp__thrift_skip(rp__thrift *t, uint8_t type)
{
    if (t->failed)
        return -1;
    switch (type) {
    case RP_THRIFT_TRUE:
    case RP_THRIFT_FALSE: return 0; /* a bool field's value is in its header */
    case RP_THRIFT_BYTE: {
        uint8_t b;
        return read_byte(t, &b);
    }
    case RP_THRIFT_I16:
    case RP_THRIFT_I32:
    case RP_THRIFT_I64: {
        uint64_t u;
        return varint(t, &u);
    }
    case RP_THRIFT_DOUBLE: {
        double d;
        return rp__thrift_double(t, &d);
    }
    case RP_THRIFT_UUID:
        if (t->end - t->p < 16)
            return truncated(t);
        t->p += 16;
        return 0;
    case RP_THRIFT_BINARY: {
        const uint8_t *s;
        size_t n;
        return rp__thrift_binary(t, &s, &n);
    }
    case RP_THRIFT_STRUCT:
        if (rp__thrift_struct_begin(t) < 0)
            return -1;
        return rp__thrift_struct_end(t);
    case RP_THRIFT_LIST:
    case RP_THRIFT_SET: {
        uint8_t et;
        uint32_t n;
        if (rp__thrift_list_begin(t, &et, &n) < 0)
            return -1;
        if (t->depth >= RP_THRIFT_MAX_DEPTH)
            return rp__thrift_fail(t, RP_ERR_LIMIT, "nested deeper than %d", RP_THRIFT_MAX_DEPTH);
        t->depth++;
        for (uint32_t i = 0; i < n; i++) {
            if (et == RP_THRIFT_TRUE || et == RP_THRIFT_FALSE) {
                bool b;
                if (rp__thrift_list_bool(t, &b) < 0)
                    return -1;
            } else if (rp__thrift_skip(t, et) < 0) {
                return -1;
            }
        }
        t->depth--;
        return 0;
    }
    case RP_THRIFT_MAP: {
        uint64_t n;
        if (varint(t, &n) < 0)
            return -1;
        if (n == 0)
            return 0;
        uint8_t kv;
        if (read_byte(t, &kv) < 0)
            return -1;
        uint8_t kt = kv >> 4, vt = kv & 0x0f;
        if (kt == RP_THRIFT_STOP || kt > RP_THRIFT_UUID || vt == RP_THRIFT_STOP || vt > RP_THRIFT_UUID)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "unknown map key/value types %u/%u", kt, vt);
        if (n > (uint64_t)(t->end - t->p))
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "map of %llu entries in %zu bytes",
                                   (unsigned long long)n, (size_t)(t->end - t->p));
        if (t->depth >= RP_THRIFT_MAX_DEPTH)
            return rp__thrift_fail(t, RP_ERR_LIMIT, "nested deeper than %d", RP_THRIFT_MAX_DEPTH);
        t->depth++;
        for (uint64_t i = 0; i < n; i++) {
            uint8_t ty[2] = {kt, vt};
            for (int k = 0; k < 2; k++) {
                if (ty[k] == RP_THRIFT_TRUE || ty[k] == RP_THRIFT_FALSE) {
                    bool b;
                    if (rp__thrift_list_bool(t, &b) < 0)
                        return -1;
                } else if (rp__thrift_skip(t, ty[k]) < 0) {
                    return -1;
                }
            }
        }
        t->depth--;
        return 0;
    }
    default: return rp__thrift_fail(t, RP_ERR_CORRUPT, "cannot skip unknown type %u", type);
    }
}

/* ---- the encoder ---------------------------------------------------------- */

void rp__thrift_w_init(rp__thrift_w *w, rp__buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void w_put(rp__thrift_w *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (rp__buf_append(w->out, p, n) < 0)
        w->failed = true;
}

static void w_byte(rp__thrift_w *w, uint8_t b)
{
    w_put(w, &b, 1);
}

void rp__thrift_w_varint(rp__thrift_w *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    w_put(w, b, n);
}

void rp__thrift_w_int(rp__thrift_w *w, int64_t v)
{
    rp__thrift_w_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void rp__thrift_w_struct_begin(rp__thrift_w *w)
{
    if (w->failed)
        return;
    if (w->depth >= RP_THRIFT_MAX_DEPTH) {
        w->failed = w->nested_too_deep = true;
        return;
    }
    w->last_id[++w->depth] = 0;
}

void rp__thrift_w_struct_end(rp__thrift_w *w)
{
    if (w->failed)
        return;
    if (w->depth <= 0) {
        w->failed = w->nested_too_deep = true; /* reported as a misuse */
        return;
    }
    w_byte(w, RP_THRIFT_STOP);
    w->depth--;
}

void rp__thrift_w_field(rp__thrift_w *w, int16_t id, uint8_t type)
{
    if (w->failed)
        return;
    if (w->depth <= 0) {
        w->failed = w->nested_too_deep = true;
        return;
    }
    int32_t delta = (int32_t)id - w->last_id[w->depth];
    if (delta > 0 && delta <= 15) {
        w_byte(w, (uint8_t)(delta << 4 | type));
    } else {
        w_byte(w, type);
        rp__thrift_w_int(w, id);
    }
    w->last_id[w->depth] = id;
}

void rp__thrift_w_double(rp__thrift_w *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    w_put(w, b, 8);
}

void rp__thrift_w_binary(rp__thrift_w *w, const void *s, size_t len)
{
    rp__thrift_w_varint(w, len);
    if (len)
        w_put(w, s, len);
}

void rp__thrift_w_list_begin(rp__thrift_w *w, uint8_t elem_type, uint32_t n)
{
    if (n < 15) {
        w_byte(w, (uint8_t)(n << 4 | elem_type));
    } else {
        w_byte(w, (uint8_t)(0xf0 | elem_type));
        rp__thrift_w_varint(w, n);
    }
}

void rp__thrift_w_field_i32(rp__thrift_w *w, int16_t id, int32_t v)
{
    rp__thrift_w_field(w, id, RP_THRIFT_I32);
    rp__thrift_w_int(w, v);
}

void rp__thrift_w_field_i64(rp__thrift_w *w, int16_t id, int64_t v)
{
    rp__thrift_w_field(w, id, RP_THRIFT_I64);
    rp__thrift_w_int(w, v);
}

void rp__thrift_w_field_binary(rp__thrift_w *w, int16_t id, const void *s, size_t len)
{
    rp__thrift_w_field(w, id, RP_THRIFT_BINARY);
    rp__thrift_w_binary(w, s, len);
}

void rp__thrift_w_field_bool(rp__thrift_w *w, int16_t id, bool v)
{
    rp__thrift_w_field(w, id, v ? RP_THRIFT_TRUE : RP_THRIFT_FALSE);
}

int rp__thrift_w_done(const rp__thrift_w *w, const char *what, rp_error *err)
{
    if (w->nested_too_deep)
        return rp_error_set(err, RP_ERR_INTERNAL,
                            "%s: structs nested deeper than %d, or a field or STOP outside one", what,
                            RP_THRIFT_MAX_DEPTH);
    if (w->failed)
        return w->out->toobig
                   ? rp_error_set(err, RP_ERR_LIMIT, "%s: over the limit of %zu bytes", what, w->out->max)
                   : rp_error_set(err, RP_ERR_NOMEM, "%s: out of memory", what);
    if (w->depth != 0)
        return rp_error_set(err, RP_ERR_INTERNAL, "%s: a struct left open", what);
    return 0;
}
