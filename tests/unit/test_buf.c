/* src/common/buf.c: the capped byte buffer (appends past the cap refused,
 * content unchanged, NUL kept, sticky failure) and growing arrays. */
#include "common/buf.h"
#include "testing.h"
#include <stdio.h>
#include <stdlib.h>

#include <stdint.h>

TEST(buffer_cap)
{
    rp__buf b;
    rp__buf_init(&b, 8);
    CHECK(b.data == NULL && b.len == 0);
    CHECK(rp__buf_append(&b, "abcd", 4) == 0);
    CHECK(rp__buf_printf(&b, "%d", 123) == 0);
    CHECK_MEM(b.data, b.len, "abcd123");
    CHECK(b.data[b.len] == '\0');
    CHECK(rp__buf_puts(&b, "xy") == -1); /* 9 > 8: refused whole */
    CHECK(b.failed && b.toobig);
    CHECK_MEM(b.data, b.len, "abcd123");
    CHECK(rp__buf_putc(&b, 'z') == 0); /* fits; failed stays set */
    CHECK(b.failed);
    CHECK_MEM(b.data, b.len, "abcd123z");
    rp__buf_reset(&b);
    CHECK(!b.failed && !b.toobig && b.len == 0);
    CHECK(rp__buf_puts(&b, "hello") == 0);
    size_t n = 0;
    char *s = rp__buf_steal(&b, &n);
    CHECK(s && n == 5 && !strcmp(s, "hello"));
    CHECK(b.data == NULL && b.len == 0);
    free(s);
    rp__buf_cleanup(&b);
}

TEST(array_grow)
{
    int *v = NULL;
    size_t cap = 0, n = 0;
    for (int i = 0; i < 1000; i++) {
        int *nv = rp__array_grow(v, n, &cap, sizeof *v, 16);
        CHECK(nv != NULL);
        if (!nv)
            break;
        v = nv;
        v[n++] = i;
        CHECK(cap >= n);
    }
    CHECK(cap == 1024); /* 16, 32, ... 1024 */
    int sum_ok = 1;
    for (size_t i = 0; i < n; i++)
        sum_ok &= v[i] == (int)i;
    CHECK(sum_ok);
    /* Room left: the same array, cap unchanged. */
    size_t before = cap;
    CHECK(rp__array_grow(v, 10, &cap, sizeof *v, 16) == v && cap == before);
    /* first 0 means 1. */
    char *c = NULL;
    size_t ccap = 0;
    c = rp__array_grow(c, 0, &ccap, 1, 0);
    CHECK(c != NULL && ccap == 1);
    free(c);
    /* Overflow: NULL, the array and its cap left as they were. */
    size_t big = SIZE_MAX / 2 + 1;
    CHECK(rp__array_grow(v, big, &big, 1, 16) == NULL && big == SIZE_MAX / 2 + 1);
    size_t half = SIZE_MAX / 8;
    CHECK(rp__array_grow(v, half, &half, 8, 16) == NULL && half == SIZE_MAX / 8);
    CHECK(v[999] == 999);
    free(v);
}

/* rp__i64_dec writes what printf's %lld does, at the edges and for
 * random values. */
TEST(i64_dec)
{
    const int64_t edges[] = {0,         1,         -1,           9, 10, -10, 99, 100, 1234567890123LL,
                             INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char a[RP_I64_DEC_MAX], b[32];
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        size_t n = rp__i64_dec(edges[i], a);
        snprintf(b, sizeof b, "%lld", (long long)edges[i]);
        CHECK(!strcmp(a, b) && n == strlen(b));
    }
    srand(5);
    for (int t = 0; t < 20000; t++) {
        int64_t v = (int64_t)(((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand());
        v >>= rand() % 63;
        size_t n = rp__i64_dec(v, a);
        snprintf(b, sizeof b, "%lld", (long long)v);
        CHECK(!strcmp(a, b) && n == strlen(b));
    }
    rp__buf buf;
    rp__buf_init(&buf, 64);
    rp__buf_put_i64(&buf, -42);
    CHECK(buf.len == 3 && !memcmp(buf.data, "-42", 3));
    rp__buf_cleanup(&buf);
}

int main(void)
{
    RUN(buffer_cap);
    RUN(array_grow);
    RUN(i64_dec);
    return rp_t_done();
}
