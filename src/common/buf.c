#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void rp__buf_init(rp__buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max_bytes;
    b->failed = false;
    b->toobig = false;
}

void rp__buf_cleanup(rp__buf *b)
{
    free(b->data);
    rp__buf_init(b, b->max);
}

void rp__buf_reset(rp__buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->failed = false;
    b->toobig = false;
}

int rp__buf_grow(rp__buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > b->max || b->len > b->max - extra) {
        b->failed = b->toobig = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

char *rp__buf_steal(rp__buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    rp__buf_init(b, b->max);
    return p;
}

int rp__buf_printf(rp__buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return rp__buf_append(b, small, (size_t)n);
    if (rp__buf_grow(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void *rp__array_grow(void *items, size_t n, size_t *cap, size_t elem_size, size_t first)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? *cap : (first ? first : 1);
    if (*cap) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    if (elem_size && ncap > SIZE_MAX / elem_size)
        return NULL;
    void *p = realloc(items, ncap * elem_size);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}

size_t rp__i64_dec(int64_t v, char out[RP_I64_DEC_MAX])
{
    /* The magnitude as unsigned: INT64_MIN has no positive int64_t. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char tmp[RP_I64_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}
