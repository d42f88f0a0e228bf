/* A bounded decoder of the Thrift compact protocol (what Parquet footers and
 * page headers are written in).
 *
 * The reader walks a byte range it never leaves; every length, list size and
 * nesting level is checked before use.  Errors are sticky: after the first
 * one every call returns -1 and the first message stays in the rp_error.
 * Nothing is allocated: strings are views into the input.
 *
 * Typical use, for a struct whose fields 1 and 4 matter:
 *
 *     int16_t id; uint8_t type;
 *     if (rp__thrift_struct_begin(t) < 0) return -1;
 *     while (rp__thrift_field(t, &id, &type) > 0) {
 *         if (id == 1 && type == RP_THRIFT_I32) rp__thrift_i32(t, &x);
 *         else rp__thrift_skip(t, type);
 *     }
 *     return rp__thrift_struct_end(t);
 */
#ifndef RP_DATA_THRIFT_H
#define RP_DATA_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

/* Compact-protocol element types. */
enum {
    RP_THRIFT_STOP = 0,
    RP_THRIFT_TRUE = 1,  /* a bool field whose value is true */
    RP_THRIFT_FALSE = 2, /* a bool field whose value is false (also "bool" in lists) */
    RP_THRIFT_BYTE = 3,
    RP_THRIFT_I16 = 4,
    RP_THRIFT_I32 = 5,
    RP_THRIFT_I64 = 6,
    RP_THRIFT_DOUBLE = 7,
    RP_THRIFT_BINARY = 8,
    RP_THRIFT_LIST = 9,
    RP_THRIFT_SET = 10,
    RP_THRIFT_MAP = 11,
    RP_THRIFT_STRUCT = 12,
    RP_THRIFT_UUID = 13,
};

#define RP_THRIFT_MAX_DEPTH 32

typedef struct rp__thrift {
    const uint8_t *start, *p, *end;
    int depth;                                /* structs and containers entered */
    int16_t last_id[RP_THRIFT_MAX_DEPTH + 1]; /* field-id deltas are per struct */
    bool failed;
    const char *what; /* named in messages ("footer", "page header") */
    rp_error *err;
} rp__thrift;

void rp__thrift_init(rp__thrift *t, const void *data, size_t len, const char *what, rp_error *err);
/* Bytes consumed so far. */
static inline size_t rp__thrift_offset(const rp__thrift *t)
{
    return (size_t)(t->p - t->start);
}

int rp__thrift_struct_begin(rp__thrift *t);
/* Reads the next field header: 1 with *id and *type set, 0 at the struct's
 * STOP (the struct is then left: no rp__thrift_struct_end is needed), -1 on
 * error. */
int rp__thrift_field(rp__thrift *t, int16_t *id, uint8_t *type);
/* Leaves a struct early: skips its remaining fields and the STOP. */
int rp__thrift_struct_end(rp__thrift *t);

/* Field values.  A bool field's value is its type (RP_THRIFT_TRUE/FALSE):
 * use rp__thrift_field_bool.  Integer readers refuse a field of another
 * integer type only when the value does not fit. */
int rp__thrift_i32(rp__thrift *t, uint8_t type, int32_t *v);
int rp__thrift_i64(rp__thrift *t, uint8_t type, int64_t *v);
int rp__thrift_double(rp__thrift *t, double *v);
int rp__thrift_binary(rp__thrift *t, const uint8_t **s, size_t *len);
int rp__thrift_field_bool(rp__thrift *t, uint8_t type, bool *v);

/* A list (or set) header: the element type and count.  The count is
 * checked against the bytes left (every element takes at least one byte,
 * so a huge count in a short input is refused before anything is sized
 * from it).  A list of bools holds one byte per element: read each with
 * rp__thrift_list_bool. */
int rp__thrift_list_begin(rp__thrift *t, uint8_t *elem_type, uint32_t *count);
int rp__thrift_list_bool(rp__thrift *t, bool *v);

/* Skips one value of type (recursively, within the depth limit). */
int rp__thrift_skip(rp__thrift *t, uint8_t type);

/* Sets the error (with the reader's "what" and offset) and fails; returns -1. */
int rp__thrift_fail(rp__thrift *t, rp_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
