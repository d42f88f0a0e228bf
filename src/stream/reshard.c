/* See reshard.h. */
#include "stream/reshard.h"

#include <stdlib.h>

int rp__u128_from_dec(const char *s, rp__u128 *out)
{
    rp__u128 v = 0, max = ~(rp__u128)0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void rp__u128_to_dec(rp__u128 v, char out[40])
{
    char tmp[40];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

void rp__hash_range(uint32_t n, uint32_t i, rp__u128 *lo, rp__u128 *hi)
{
    rp__u128 max = ~(rp__u128)0;
    if (n <= 1) {
        *lo = 0;
        *hi = max;
        return;
    }
    rp__u128 size = max / n + (max % n == (rp__u128)(n - 1) ? 1 : 0);
    *lo = size * i;
    *hi = i + 1 < n ? size * (i + 1) - 1 : max;
}

int rp__reshard(const rp__reshard_piece *open, size_t nopen, uint32_t target, const rp__reshard_ops *ops,
                void *ctx, rp_error *err)
{
    /* Each split adds one piece: at most nopen + target - 1 pieces. */
    rp__reshard_piece *pieces = malloc((nopen + target) * sizeof *pieces);
    rp__u128 *starts = malloc(((size_t)target + 1) * sizeof *starts);
    size_t npieces = 0;
    int rc = -1;
    if (!pieces || !starts) {
        rp_error_set(err, RP_ERR_NOMEM, "%s: out of memory", ops->who);
        goto out;
    }
    for (uint32_t j = 0; j < target; j++) {
        rp__u128 hi;
        rp__hash_range(target, j, &starts[j], &hi);
    }

    /* Splits, left to right; the left child is final, the right one may be
     * split again. */
    uint32_t b = 1; /* the next new boundary (starts[0] is 0) */
    for (size_t i = 0; i < nopen; i++) {
        rp__reshard_piece cur = open[i];
        while (b < target && starts[b] <= cur.lo)
            b++;
        while (b < target && starts[b] <= cur.hi) {
            rp__reshard_piece left, right;
            if (ops->split(ctx, &cur, starts[b], &left, &right, err) != 0)
                goto out;
            pieces[npieces++] = left;
            cur = right;
            b++;
        }
        pieces[npieces++] = cur;
    }

    /* Merges: the pieces of each new range, left to right. */
    size_t p = 0;
    for (uint32_t j = 0; j < target; j++) {
        rp__u128 hi = j + 1 < target ? starts[j + 1] - 1 : ~(rp__u128)0;
        if (p >= npieces || pieces[p].lo != starts[j]) {
            rp_error_set(err, RP_ERR_INTERNAL, "%s: reshard pieces misaligned", ops->who);
            goto out;
        }
        rp__reshard_piece cur = pieces[p++];
        while (cur.hi != hi) {
            if (p >= npieces || pieces[p].lo != cur.hi + 1 || pieces[p].hi > hi) {
                rp_error_set(err, RP_ERR_INTERNAL, "%s: reshard pieces misaligned", ops->who);
                goto out;
            }
            rp__reshard_piece merged;
            if (ops->merge(ctx, &cur, &pieces[p], &merged, err) != 0)
                goto out;
            p++;
            cur = merged;
        }
    }
    rc = 0;
out:
    free(pieces);
    free(starts);
    return rc;
}
