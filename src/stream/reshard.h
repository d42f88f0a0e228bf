/* 128-bit hash keys, and resharding to a uniform shard count, as Kinesis' UpdateShardCount
 * (UNIFORM_SCALING) does: the plan both backends follow.
 *
 * The hash key space [0, 2^128) is cut into n equal ranges (Kinesis'
 * rounding).  From the open shards (sorted by range), each shard that a new
 * boundary falls inside is split at it, left to right (the left child is
 * final, the right one may be split again); then the pieces of each new
 * range are merged left to right.  The backend does the splits and merges:
 * the local store in one transaction, the Kinesis client through SplitShard
 * / MergeShards when the server has no UpdateShardCount (kinesalite). */
#ifndef RP_STREAM_RESHARD_H
#define RP_STREAM_RESHARD_H

#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"
#include "ridepred/stream.h"

__extension__ typedef unsigned __int128 rp__u128;

/* Hash keys as Kinesis writes them: decimal, 1 to 39 digits.  from_dec
 * returns -1 for anything else (empty, a non-digit, over 2^128 - 1). */
int rp__u128_from_dec(const char *s, rp__u128 *out);
void rp__u128_to_dec(rp__u128 v, char out[40]);

/* Range i of n of the hash key space, as Kinesis' CreateStream lays them
 * out: each floor(2^128 / n) keys wide (one more when 2^128 - 1 mod n is
 * n - 1), the last one running to 2^128 - 1. */
void rp__hash_range(uint32_t n, uint32_t i, rp__u128 *lo, rp__u128 *hi);

/* A shard, or a piece being built: its range and the backend's handle of it
 * (a shard id for Kinesis, row keys for the local store). */
typedef struct rp__reshard_piece {
    rp__u128 lo, hi;
    char id[RP_STREAM_SHARD_ID_MAX];
    int64_t key, idx;
} rp__reshard_piece;

typedef struct rp__reshard_ops {
    /* Splits p at `at` (the first hash key of the right part). */
    int (*split)(void *ctx, const rp__reshard_piece *p, rp__u128 at, rp__reshard_piece *left,
                 rp__reshard_piece *right, rp_error *err);
    /* Merges the adjacent pieces a (left) and b (right). */
    int (*merge)(void *ctx, const rp__reshard_piece *a, const rp__reshard_piece *b, rp__reshard_piece *merged,
                 rp_error *err);
    const char *who; /* "kinesis", "local store": for messages */
} rp__reshard_ops;

/* Reshards the nopen open shards (sorted by range, covering the key space)
 * to target uniform ranges.  The caller has checked the count limits. */
int rp__reshard(const rp__reshard_piece *open, size_t nopen, uint32_t target, const rp__reshard_ops *ops,
                void *ctx, rp_error *err);

#endif
