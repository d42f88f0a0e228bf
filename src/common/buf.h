/* Growable byte buffers with a hard cap (curl's dynbuf with its `toobig`).
 *
 * Appends past `max` or failed allocations set the sticky `failed` flag and
 * leave the content unchanged, so a hot path may append freely and check once
 * at the end.  The content is always followed by a NUL byte (not counted in
 * len) once anything was appended. */
#ifndef RP_COMMON_BUF_H
#define RP_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rp__buf {
    char *data;
    size_t len;
    size_t cap;  /* allocated bytes, including room for the NUL */
    size_t max;  /* hard cap on len */
    bool failed; /* an append was refused: over max, or out of memory */
    bool toobig; /* ... and it was because of max */
} rp__buf;

void rp__buf_init(rp__buf *b, size_t max_bytes);
void rp__buf_cleanup(rp__buf *b);
/* Empties the buffer (keeps the allocation) and clears `failed`. */
void rp__buf_reset(rp__buf *b);
/* Makes room for `extra` more bytes.  Returns 0, or -1 (and sets failed). */
int rp__buf_grow(rp__buf *b, size_t extra);
/* Hands the content to the caller (who frees it) and empties the buffer. */
char *rp__buf_steal(rp__buf *b, size_t *len);

/* Growing arrays of any element type: makes room for element n of an array
 * of *cap elements of elem_size bytes.  While n < *cap nothing changes; at
 * n == *cap the array is reallocated to twice *cap (first when *cap is 0).
 * Returns the array, perhaps moved, with *cap updated; or NULL when the
 * size would overflow or memory is short, items and *cap then unchanged
 * (the caller still owns items).  Usage:
 *     T *nv = rp__array_grow(v, n, &cap, sizeof *v, 16);
 *     if (!nv) ...out of memory...;
 *     v = nv;  v[n++] = ...; */
void *rp__array_grow(void *items, size_t n, size_t *cap, size_t elem_size, size_t first);

static inline int rp__buf_append(rp__buf *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n && rp__buf_grow(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static inline int rp__buf_putc(rp__buf *b, char c)
{
    if (b->cap - b->len <= 1 && rp__buf_grow(b, 1) != 0)
        return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

#define rp__buf_lit(b, s) rp__buf_append((b), (s), sizeof(s) - 1)

static inline int rp__buf_puts(rp__buf *b, const char *s)
{
    return rp__buf_append(b, s, strlen(s));
}

int rp__buf_printf(rp__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* v in decimal (as printf's "%" PRId64 writes it) into out, NUL-terminated;
 * returns the length (1 to 20).  For per-record paths, where snprintf's
 * cost shows. */
#define RP_I64_DEC_MAX 21
size_t rp__i64_dec(int64_t v, char out[RP_I64_DEC_MAX]);

/* Appends v in decimal; returns as rp__buf_append. */
static inline int rp__buf_put_i64(rp__buf *b, int64_t v)
{
    char d[RP_I64_DEC_MAX];
    return rp__buf_append(b, d, rp__i64_dec(v, d));
}

#endif
