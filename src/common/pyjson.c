#include "pyjson.h"

#include <math.h>
#include <stdint.h>

#include "pyfloat.h"

static const char hexdig[] = "0123456789abcdef";

void rp__pyjson_double(rp__buf *b, double x)
{
    if (isnan(x)) {
        rp__buf_lit(b, "NaN");
        return;
    }
    if (isinf(x)) {
        if (x < 0)
            rp__buf_lit(b, "-Infinity");
        else
            rp__buf_lit(b, "Infinity");
        return;
    }
    if (rp__buf_grow(b, RP_PYFLOAT_MAX) != 0)
        return;
    b->len += rp__pyfloat_repr(x, b->data + b->len);
}

static inline void put_u(char *o, unsigned u)
{
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hexdig[(u >> 12) & 15];
    o[3] = hexdig[(u >> 8) & 15];
    o[4] = hexdig[(u >> 4) & 15];
    o[5] = hexdig[u & 15];
}

/* Writes one code point (or lone surrogate) escaped as ensure_ascii does. */
static void put_cp(rp__buf *b, unsigned cp)
{
    char tmp[12];
    size_t n;
    if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') {
        rp__buf_putc(b, (char)cp);
        return;
    }
    switch (cp) {
    case '"': rp__buf_lit(b, "\\\""); return;
    case '\\': rp__buf_lit(b, "\\\\"); return;
    case '\n': rp__buf_lit(b, "\\n"); return;
    case '\r': rp__buf_lit(b, "\\r"); return;
    case '\t': rp__buf_lit(b, "\\t"); return;
    case '\b': rp__buf_lit(b, "\\b"); return;
    case '\f': rp__buf_lit(b, "\\f"); return;
    default: break;
    }
    if (cp >= 0x10000) {
        unsigned v = cp - 0x10000;
        put_u(tmp, 0xD800 | (v >> 10));
        put_u(tmp + 6, 0xDC00 | (v & 0x3FF));
        n = 12;
    } else {
        put_u(tmp, cp);
        n = 6;
    }
    rp__buf_append(b, tmp, n);
}

/* Decodes one UTF-8 (or WTF-8) sequence; returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *p, const unsigned char *e, unsigned *cp)
{
    unsigned c = p[0];
    size_t need;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(e - p) < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF)
        return 0;
    *cp = c;
    return need;
}

void rp__pyjson_utf8(rp__buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    rp__buf_putc(b, '"');
    while (p < e) {
        const unsigned char *run = p;
        while (p < e && *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            rp__buf_append(b, run, (size_t)(p - run));
        if (p >= e)
            break;
        if (*p < 0x80) {
            put_cp(b, *p++);
            continue;
        }
        unsigned cp;
        size_t k = utf8_decode(p, e, &cp);
        if (k == 0) {
            put_cp(b, 0xDC00 | *p); /* surrogateescape */
            p++;
        } else {
            put_cp(b, cp);
            p += k;
        }
    }
    rp__buf_putc(b, '"');
}

static inline int hv(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

void rp__pyjson_string(rp__buf *b, const rp__json_value *v)
{
    const unsigned char *p = (const unsigned char *)v->ptr, *e = p + v->len;
    rp__buf_putc(b, '"');
    while (p < e) {
        const unsigned char *run = p;
        while (p < e && *p >= 0x20 && *p < 0x7F && *p != '\\')
            p++; /* '"' cannot appear unescaped inside a view */
        if (p > run)
            rp__buf_append(b, run, (size_t)(p - run));
        if (p >= e)
            break;
        if (*p == '\\') {
            unsigned char c = p[1];
            p += 2;
            switch (c) {
            case 'u': {
                /* Re-escaping unit by unit keeps surrogate pairs and lone
                 * surrogates exactly as Python would write them. */
                unsigned u = (unsigned)(hv(p[0]) << 12 | hv(p[1]) << 8 | hv(p[2]) << 4 | hv(p[3]));
                p += 4;
                put_cp(b, u);
                break;
            }
            case 'b': put_cp(b, '\b'); break;
            case 'f': put_cp(b, '\f'); break;
            case 'n': put_cp(b, '\n'); break;
            case 'r': put_cp(b, '\r'); break;
            case 't': put_cp(b, '\t'); break;
            default: put_cp(b, c); break;
            }
            continue;
        }
        if (*p < 0x80) {
            put_cp(b, *p++);
            continue;
        }
        unsigned cp;
        size_t k = utf8_decode(p, e, &cp);
        if (k == 0) { /* cannot happen for validated input */
            put_cp(b, 0xFFFD);
            p++;
        } else {
            put_cp(b, cp);
            p += k;
        }
    }
    rp__buf_putc(b, '"');
}

void rp__pyjson_int(rp__buf *b, const rp__json_value *v)
{
    if (v->len == 2 && v->ptr[0] == '-' && v->ptr[1] == '0')
        rp__buf_putc(b, '0');
    else
        rp__buf_append(b, v->ptr, v->len);
}
