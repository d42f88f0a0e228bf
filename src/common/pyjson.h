/* Writing JSON exactly as Python's json.dumps does with default settings
 * (ensure_ascii: non-ASCII and control characters as lowercase \uXXXX,
 * astral characters as surrogate pairs; floats as repr, non-finite floats as
 * NaN / Infinity / -Infinity).  Appends to an rp__buf; errors are the
 * buffer's sticky `failed` flag. */
#ifndef RP_COMMON_PYJSON_H
#define RP_COMMON_PYJSON_H

#include <stddef.h>

#include "buf.h"
#include "json.h"

/* A double as json.dumps writes a float. */
void rp__pyjson_double(rp__buf *b, double x);

/* A quoted string from UTF-8 bytes.  Bytes that are not valid UTF-8 are
 * written as \udcXX, as Python's surrogateescape would (environment
 * values); 3-byte surrogate forms (WTF-8) as the surrogate itself. */
void rp__pyjson_utf8(rp__buf *b, const char *s, size_t n);

/* A JSON string view from rp__json_reader, re-escaped as json.dumps would
 * write the Python str that json.loads made of it. */
void rp__pyjson_string(rp__buf *b, const rp__json_value *v);

/* A JSON integer view as Python writes the int ("-0" becomes "0"). */
void rp__pyjson_int(rp__buf *b, const rp__json_value *v);

#endif
