/* A single-pass, validating JSON pull reader over a caller's buffer.
 *
 * It accepts exactly what Python's json.loads accepts (so answers match the
 * reference): RFC 8259 plus the NaN / Infinity / -Infinity literals, lone
 * surrogate escapes, and integers of at most 4300 digits (CPython's int
 * limit).  Input must be valid UTF-8 (surrogates and overlong forms refused,
 * as Python's utf-8 codec does).  Nesting deeper than max_depth is refused.
 *
 * Values are returned as non-owning views into the input: nothing is
 * allocated.  Containers are entered, not consumed: after rp__json_next gives
 * an object, iterate with rp__json_member until it returns 0; after an array,
 * with rp__json_element.  rp__json_skip consumes any value whole.
 *
 * Every call returns 1 (a value/member/element follows), 0 (the container
 * ended), or -1 (error; r->err holds the reason, with the byte offset).
 * After an error every further call returns -1. */
#ifndef RP_COMMON_JSON_H
#define RP_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ridepred/error.h"

/* Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80, p < e),
 * or 0 when it is not one: truncated, overlong, an encoded surrogate, or past
 * U+10FFFF (what Python's utf-8 codec refuses). */
static inline size_t rp__utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned char c = p[0];
    size_t avail = (size_t)(e - p);
    if (c >= 0xC2 && c <= 0xDF) {
        return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (p[2] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no encoded surrogates */
        return (p[1] >= lo && p[1] <= hi) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        return (p[1] >= lo && p[1] <= hi) ? 4 : 0;
    }
    return 0;
}

typedef enum rp__json_type {
    RP_JSON_NULL = 0,
    RP_JSON_FALSE,
    RP_JSON_TRUE,
    RP_JSON_NUMBER,
    RP_JSON_STRING,
    RP_JSON_ARRAY,
    RP_JSON_OBJECT
} rp__json_type;

typedef struct rp__json_value {
    rp__json_type type;
    const char *ptr; /* number: its text; string: between the quotes, escapes
                        not decoded; array/object: the opening bracket */
    size_t len;      /* bytes of the text above (containers: 1) */
    bool escaped;    /* string: contains backslash escapes */
    bool is_int;     /* number: integer syntax (a Python int) */
    bool nonfinite;  /* number: NaN, Infinity or -Infinity literal */
} rp__json_value;

typedef struct rp__json_reader {
    const char *start;
    const char *p;
    const char *end;
    int depth;
    int max_depth;
    bool need_sep; /* inside a container, after a member/element */
    bool failed;
    rp_error err;
} rp__json_reader;

#define RP_JSON_MAX_INT_DIGITS 4300

void rp__json_init(rp__json_reader *r, const char *s, size_t n, int max_depth);

/* Reads the next value.  Containers are entered (depth + 1). */
int rp__json_next(rp__json_reader *r, rp__json_value *v);

/* Inside an object: reads the next key (and the colon).  Returns 0 after
 * consuming the closing brace. */
int rp__json_member(rp__json_reader *r, rp__json_value *key);

/* Inside an array: 1 when an element follows, 0 after the closing bracket. */
int rp__json_element(rp__json_reader *r);

/* Consumes the value that rp__json_next just entered (when v is a container)
 * or the next value (when v is NULL), validating it. */
int rp__json_skip(rp__json_reader *r, const rp__json_value *entered);

/* After the top-level value: only whitespace may follow.  1 or -1. */
int rp__json_end(rp__json_reader *r);

/* True when the string view equals the given plain ASCII text once its
 * escapes are decoded.  Inline: keys are compared on every member. */
bool rp__json_str_eq_escaped(const rp__json_value *v, const char *lit, size_t n);
static inline bool rp__json_str_eq(const rp__json_value *v, const char *lit, size_t n)
{
    if (!v->escaped)
        return v->len == n && memcmp(v->ptr, lit, n) == 0;
    return rp__json_str_eq_escaped(v, lit, n);
}

/* The number as Python's float() would read it (correctly rounded;
 * integers of any length included; overflow gives +-inf). */
double rp__json_number(const rp__json_value *v);

/* Decodes a string view into UTF-8 bytes; lone surrogate escapes become
 * the 3-byte forms Python would refuse to encode (WTF-8).  `out` must hold
 * v->len bytes (decoding never grows).  Returns the decoded length. */
size_t rp__json_str_decode(const rp__json_value *v, char *out);

/* Python len() of the decoded string: code points, a surrogate pair
 * counting once. */
size_t rp__json_str_chars(const rp__json_value *v);

/* Appends the JSON document json[0..len) to out on one line, its tokens as
 * they are and separators as json.dumps writes them (", " and ": ").
 * Returns 0, or -1 when the text is not one valid JSON document (out is
 * then left as it was). */
struct rp__buf;
int rp__json_compact(struct rp__buf *out, const char *json, size_t len, int max_depth);

#endif
