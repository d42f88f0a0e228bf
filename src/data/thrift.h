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

#include "common/buf.h"
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

/* ---- the encoder ---------------------------------------------------------
 *
 * Writes the compact protocol into an rp__buf (whose cap bounds the
 * output).  Failures are sticky as in the decoder: a refused append (over
 * the buffer's cap, out of memory) or a misuse sets failed, and every later
 * call does nothing; check once with rp__thrift_w_done.  Typical use:
 *
 *     rp__thrift_w w;
 *     rp__thrift_w_init(&w, &buf);
 *     rp__thrift_w_struct_begin(&w);
 *     rp__thrift_w_field_i32(&w, 1, 7);
 *     rp__thrift_w_field(&w, 2, RP_THRIFT_STRUCT);   // a struct field:
 *     rp__thrift_w_struct_begin(&w);                 // its fields, then
 *     rp__thrift_w_struct_end(&w);                   // its STOP
 *     rp__thrift_w_struct_end(&w);
 *     if (rp__thrift_w_done(&w, "footer", err) < 0) ...
 *
 * Lists: rp__thrift_w_list_begin(w, elem_type, n) then n bare values (for
 * structs: rp__thrift_w_struct_begin ... _end each); a list needs no end. */
typedef struct rp__thrift_w {
    rp__buf *out;
    int depth;
    int16_t last_id[RP_THRIFT_MAX_DEPTH + 1];
    bool failed;
    bool nested_too_deep;
} rp__thrift_w;

void rp__thrift_w_init(rp__thrift_w *w, rp__buf *out);
/* Enters a struct (the top one, a struct field after its header, or a
 * struct element of a list); _end writes its STOP and leaves it. */
void rp__thrift_w_struct_begin(rp__thrift_w *w);
void rp__thrift_w_struct_end(rp__thrift_w *w);
/* A field header of id and type (ids need not be increasing). */
void rp__thrift_w_field(rp__thrift_w *w, int16_t id, uint8_t type);
/* Bare values: in a list, or after rp__thrift_w_field. */
void rp__thrift_w_varint(rp__thrift_w *w, uint64_t v);
void rp__thrift_w_int(rp__thrift_w *w, int64_t v); /* i16, i32, i64: zigzag varint */
void rp__thrift_w_double(rp__thrift_w *w, double v);
void rp__thrift_w_binary(rp__thrift_w *w, const void *s, size_t len);
void rp__thrift_w_list_begin(rp__thrift_w *w, uint8_t elem_type, uint32_t n);
/* Whole fields: header and value.  A bool field's value is its type. */
void rp__thrift_w_field_i32(rp__thrift_w *w, int16_t id, int32_t v);
void rp__thrift_w_field_i64(rp__thrift_w *w, int16_t id, int64_t v);
void rp__thrift_w_field_binary(rp__thrift_w *w, int16_t id, const void *s, size_t len);
void rp__thrift_w_field_bool(rp__thrift_w *w, int16_t id, bool v);
/* Returns 0 when everything was written and every struct closed, else -1
 * with err: "WHAT: over the limit of N bytes" (RP_ERR_LIMIT), "WHAT: out
 * of memory" (RP_ERR_NOMEM), "WHAT: structs nested deeper than 32, or a
 * field or STOP outside one" or "WHAT: a struct left open" (RP_ERR_INTERNAL:
 * a bug of the caller). */
int rp__thrift_w_done(const rp__thrift_w *w, const char *what, rp_error *err);

#endif
