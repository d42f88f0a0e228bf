/* The single-pass JSON reader (see json.h).
 *
 * Why not a packaged parser: cJSON builds a DOM (an allocation per value)
 * and reads numbers through strtod; at a million records a second the
 * handler cannot afford either (docs/PERFORMANCE.md).  This reader is a pull parser over
 * views: the handler walks an event once, keeps pointers to the few fields
 * it needs, and never allocates.  It follows Python's json module exactly
 * where the two differ from plain RFC 8259 (NaN/Infinity, int size). */
#include "json.h"

#include "buf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 1 for bytes that may appear unescaped in a string and need no checking. */
static const uint8_t plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x22 is '"' */
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x5c is '\\' */
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* A mask with the high bit set in each byte of w that is '"', '\\', a
 * control character or non-ASCII.  Borrows can only flag bytes above a
 * flagged one, so the lowest flag is exact (little-endian: the first byte). */
static inline uint64_t special_bytes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"');
    uint64_t b = w ^ (ones * '\\');
    uint64_t zq = (q - ones) & ~q;
    uint64_t zb = (b - ones) & ~b;
    uint64_t lt = (w - ones * 0x20) & ~w;
    return (zq | zb | lt | w) & high;
}

static int fail(rp__json_reader *r, const char *what)
{
    if (!r->failed) {
        r->failed = true;
        rp_error_set(&r->err, RP_ERR_INVALID, "%s at byte %zu", what, (size_t)(r->p - r->start));
    }
    return -1;
}

void rp__json_init(rp__json_reader *r, const char *s, size_t n, int max_depth)
{
    r->start = s;
    r->p = s;
    r->end = s + n;
    r->depth = 0;
    r->max_depth = max_depth;
    r->need_sep = false;
    r->failed = false;
    rp_error_clear(&r->err);
}

static inline void skip_ws(rp__json_reader *r)
{
    const char *p = r->p, *e = r->end;
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    r->p = p;
}

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Finishes a string whose closing quote is at p. */
static inline int string_done(rp__json_reader *r, rp__json_value *v, const unsigned char *p, bool escaped)
{
    v->type = RP_JSON_STRING;
    v->ptr = r->p + 1;
    v->len = (size_t)((const char *)p - v->ptr);
    v->escaped = escaped;
    v->is_int = false;
    v->nonfinite = false;
    r->p = (const char *)p + 1;
    return 1;
}

/* The general case: escapes, non-ASCII, control characters, the end of the
 * input.  Continues the scan of the string opened at r->p from p. */
static __attribute__((noinline)) int scan_string_slow(rp__json_reader *r, rp__json_value *v,
                                                      const unsigned char *p)
{
    const unsigned char *e = (const unsigned char *)r->end;
    bool escaped = false;
    for (;;) {
        while (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t m = special_bytes(w);
            if (m) {
                p += (unsigned)__builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
        while (p < e && plain[*p])
            p++;
        if (p >= e) {
            r->p = (const char *)p;
            return fail(r, "unterminated string");
        }
        unsigned char c = *p;
        if (c == '"')
            return string_done(r, v, p, escaped);
        if (c == '\\') {
            escaped = true;
            if (p + 1 >= e) {
                r->p = (const char *)p;
                return fail(r, "unterminated string");
            }
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': p += 2; break;
            case 'u':
                if (e - p < 6 || hexval(p[2]) < 0 || hexval(p[3]) < 0 || hexval(p[4]) < 0 ||
                    hexval(p[5]) < 0) {
                    r->p = (const char *)p;
                    return fail(r, "invalid \\uXXXX escape");
                }
                p += 6;
                break;
            default: r->p = (const char *)p; return fail(r, "invalid \\escape");
            }
            continue;
        }
        if (c < 0x20) {
            r->p = (const char *)p;
            return fail(r, "invalid control character in string");
        }
        size_t n = rp__utf8_seq(p, e);
        if (n == 0) {
            r->p = (const char *)p;
            return fail(r, "invalid UTF-8");
        }
        p += n;
    }
}

/* Scans a string whose opening quote is at r->p.  The common case, plain
 * ASCII up to the closing quote, stays inline; anything else goes to
 * scan_string_slow. */
static inline __attribute__((always_inline)) int scan_string(rp__json_reader *r, rp__json_value *v)
{
    const unsigned char *p = (const unsigned char *)r->p + 1;
#ifdef __SSE2__
    const unsigned char *e = (const unsigned char *)r->end;
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i sp = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
            _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))); /* < 0x20 or >= 0x80 */
        unsigned m = (unsigned)_mm_movemask_epi8(sp);
        if (m) {
            p += __builtin_ctz(m);
            if (*p == '"')
                return string_done(r, v, p, false);
            break;
        }
        p += 16;
    }
#endif
    return scan_string_slow(r, v, p);
}

static int scan_literal(rp__json_reader *r, const char *lit, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return fail(r, "expecting value");
    r->p += n;
    return 1;
}

static int scan_number(rp__json_reader *r, rp__json_value *v)
{
    const char *p = r->p, *e = r->end, *s = p;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == 'I') {
        r->p = p;
        if (scan_literal(r, "Infinity", 8) < 0)
            return -1;
        v->type = RP_JSON_NUMBER;
        v->ptr = s;
        v->len = (size_t)(r->p - s);
        v->is_int = false;
        v->nonfinite = true;
        v->escaped = false;
        return 1;
    }
    const char *digits = p;
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && *p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    } else {
        r->p = s;
        return fail(r, "expecting value");
    }
    size_t int_digits = (size_t)(p - digits);
    bool is_int = true;
    if (p + 1 < e && *p == '.' && p[1] >= '0' && p[1] <= '9') {
        is_int = false;
        p++;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < e && (*q == '+' || *q == '-'))
            q++;
        if (q < e && *q >= '0' && *q <= '9') {
            is_int = false;
            while (q < e && *q >= '0' && *q <= '9')
                q++;
            p = q;
        }
    }
    if (is_int && int_digits > RP_JSON_MAX_INT_DIGITS) {
        r->p = s;
        return fail(r, "integer literal longer than 4300 digits (Python's limit)");
    }
    v->type = RP_JSON_NUMBER;
    v->ptr = s;
    v->len = (size_t)(p - s);
    v->is_int = is_int;
    v->nonfinite = false;
    v->escaped = false;
    r->p = p;
    return 1;
}

int rp__json_next(rp__json_reader *r, rp__json_value *v)
{
    if (r->failed)
        return -1;
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, "expecting value");
    v->escaped = v->is_int = v->nonfinite = false;
    switch (*r->p) {
    case '{':
    case '[':
        if (r->depth >= r->max_depth)
            return fail(r, "nesting too deep");
        r->depth++;
        v->type = *r->p == '{' ? RP_JSON_OBJECT : RP_JSON_ARRAY;
        v->ptr = r->p;
        v->len = 1;
        r->p++;
        r->need_sep = false;
        return 1;
    case '"': return scan_string(r, v);
    case 't':
        v->type = RP_JSON_TRUE;
        v->ptr = r->p;
        v->len = 4;
        return scan_literal(r, "true", 4);
    case 'f':
        v->type = RP_JSON_FALSE;
        v->ptr = r->p;
        v->len = 5;
        return scan_literal(r, "false", 5);
    case 'n':
        v->type = RP_JSON_NULL;
        v->ptr = r->p;
        v->len = 4;
        return scan_literal(r, "null", 4);
    case 'N':
        v->type = RP_JSON_NUMBER;
        v->ptr = r->p;
        v->len = 3;
        v->nonfinite = true;
        return scan_literal(r, "NaN", 3);
    default: return scan_number(r, v);
    }
}

int rp__json_member(rp__json_reader *r, rp__json_value *key)
{
    if (r->failed)
        return -1;
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, "unterminated object");
    if (r->need_sep) {
        if (*r->p == '}') {
            r->p++;
            r->depth--;
            r->need_sep = true;
            return 0;
        }
        if (*r->p != ',')
            return fail(r, "expecting ',' delimiter");
        r->p++;
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"')
            return fail(r, "expecting property name enclosed in double quotes");
    } else {
        if (*r->p == '}') {
            r->p++;
            r->depth--;
            r->need_sep = true;
            return 0;
        }
        if (*r->p != '"')
            return fail(r, "expecting property name enclosed in double quotes");
    }
    if (scan_string(r, key) < 0)
        return -1;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return fail(r, "expecting ':' delimiter");
    r->p++;
    r->need_sep = true;
    return 1;
}

int rp__json_element(rp__json_reader *r)
{
    if (r->failed)
        return -1;
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, "unterminated array");
    if (*r->p == ']') {
        /* "[1,]" is refused: after a comma rp__json_next sees the ']' */
        r->p++;
        r->depth--;
        r->need_sep = true;
        return 0;
    }
    if (r->need_sep) {
        if (*r->p != ',')
            return fail(r, "expecting ',' delimiter");
        r->p++;
    }
    r->need_sep = true;
    return 1;
}

static int skip_container(rp__json_reader *r, rp__json_type type)
{
    rp__json_value k, v;
    int rc;
    for (;;) {
        if (type == RP_JSON_OBJECT)
            rc = rp__json_member(r, &k);
        else
            rc = rp__json_element(r);
        if (rc <= 0)
            return rc;
        if (rp__json_next(r, &v) < 0)
            return -1;
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && skip_container(r, v.type) < 0)
            return -1;
    }
}

int rp__json_skip(rp__json_reader *r, const rp__json_value *entered)
{
    rp__json_value v;
    if (!entered) {
        if (rp__json_next(r, &v) < 0)
            return -1;
        entered = &v;
    }
    if (entered->type == RP_JSON_OBJECT || entered->type == RP_JSON_ARRAY)
        return skip_container(r, entered->type) < 0 ? -1 : 1;
    return r->failed ? -1 : 1;
}

int rp__json_end(rp__json_reader *r)
{
    if (r->failed)
        return -1;
    skip_ws(r);
    if (r->p != r->end)
        return fail(r, "extra data");
    return 1;
}

/* Decodes one \uXXXX at p (validated already). */
static inline unsigned hex4(const char *p)
{
    return (unsigned)(hexval((unsigned char)p[0]) << 12 | hexval((unsigned char)p[1]) << 8 |
                      hexval((unsigned char)p[2]) << 4 | hexval((unsigned char)p[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t rp__json_str_decode(const rp__json_value *v, char *out)
{
    const char *p = v->ptr, *e = v->ptr + v->len;
    char *o = out;
    if (!v->escaped) {
        memcpy(out, p, v->len);
        return v->len;
    }
    while (p < e) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            o += put_utf8(o, cp);
            break;
        }
        default: *o++ = c; break; /* '"', '\\', '/' */
        }
    }
    return (size_t)(o - out);
}

size_t rp__json_str_chars(const rp__json_value *v)
{
    const unsigned char *p = (const unsigned char *)v->ptr, *e = p + v->len;
    size_t n = 0;
    while (p < e) {
        if (*p == '\\') {
            if (p[1] == 'u') {
                unsigned cp = hex4((const char *)p + 2);
                p += 6;
                if (cp >= 0xD800 && cp < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    unsigned lo = hex4((const char *)p + 2);
                    if (lo >= 0xDC00 && lo < 0xE000)
                        p += 6;
                }
            } else {
                p += 2;
            }
        } else {
            p++;
            while (p < e && (*p & 0xC0) == 0x80)
                p++;
        }
        n++;
    }
    return n;
}

bool rp__json_str_eq_escaped(const rp__json_value *v, const char *lit, size_t n)
{
    if (v->len > 6 * n)
        return false;
    char tmp[256];
    if (v->len > sizeof tmp)
        return false;
    size_t m = rp__json_str_decode(v, tmp);
    return m == n && memcmp(tmp, lit, n) == 0;
}

static const double exact_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

double rp__json_number(const rp__json_value *v)
{
    const char *p = v->ptr, *e = v->ptr + v->len;
    if (v->nonfinite) {
        if (*p == 'N')
            return NAN;
        return *p == '-' ? -INFINITY : INFINITY;
    }
    /* Clinger's fast path: at most 19 digits whose value fits in 53 bits,
     * scaled by an exactly representable power of ten, is one correctly
     * rounded IEEE operation. */
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    uint64_t m = 0;
    int ndig = 0, exp10 = 0;
    bool ok = true;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        if (ndig < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            if (m)
                ndig++;
        } else {
            ok = false;
        }
    }
    if (p < e && *p == '.') {
        for (p++; p < e && *p >= '0' && *p <= '9'; p++) {
            if (ndig < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                if (m)
                    ndig++;
                exp10--;
            } else {
                ok = false;
            }
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        int x = 0;
        for (; p < e && *p >= '0' && *p <= '9'; p++)
            if (x < 100000)
                x = x * 10 + (*p - '0');
        exp10 += eneg ? -x : x;
    }
    if (ok && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / exact_pow10[-exp10] : d * exact_pow10[exp10];
        if (v->is_int && d == 0)
            return 0.0; /* Python: float(int("-0")) is 0.0 */
        return neg ? -d : d;
    }
    /* Slow path: glibc's strtod is correctly rounded.  The view is not
     * NUL-terminated, so copy it. */
    char small[128];
    char *buf = v->len < sizeof small ? small : malloc(v->len + 1);
    if (!buf)
        return NAN;
    memcpy(buf, v->ptr, v->len);
    buf[v->len] = '\0';
    double d = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if (v->is_int && d == 0)
        return 0.0;
    return d;
}

static int compact_value(rp__json_reader *r, const rp__json_value *v, rp__buf *out)
{
    rp__json_value k, e;
    int rc;
    switch (v->type) {
    case RP_JSON_STRING: return rp__buf_append(out, v->ptr - 1, v->len + 2);
    case RP_JSON_OBJECT: {
        bool first = true;
        rp__buf_putc(out, '{');
        while ((rc = rp__json_member(r, &k)) == 1) {
            if (!first)
                rp__buf_lit(out, ", ");
            first = false;
            rp__buf_append(out, k.ptr - 1, k.len + 2);
            rp__buf_lit(out, ": ");
            if (rp__json_next(r, &e) < 0 || compact_value(r, &e, out) < 0)
                return -1;
        }
        return rc < 0 ? -1 : rp__buf_putc(out, '}');
    }
    case RP_JSON_ARRAY: {
        bool first = true;
        rp__buf_putc(out, '[');
        while ((rc = rp__json_element(r)) == 1) {
            if (!first)
                rp__buf_lit(out, ", ");
            first = false;
            if (rp__json_next(r, &e) < 0 || compact_value(r, &e, out) < 0)
                return -1;
        }
        return rc < 0 ? -1 : rp__buf_putc(out, ']');
    }
    default: return rp__buf_append(out, v->ptr, v->len);
    }
}

int rp__json_compact(rp__buf *out, const char *json, size_t len, int max_depth)
{
    rp__json_reader r;
    rp__json_value v;
    size_t mark = out->len;
    rp__json_init(&r, json, len, max_depth);
    if (rp__json_next(&r, &v) < 0 || compact_value(&r, &v, out) < 0 || rp__json_end(&r) < 0 || out->failed) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        out->failed = out->toobig = false;
        return -1;
    }
    return 0;
}
