/* local_store_bench: put and read rates of the local stream store.
 *
 *   local_store_bench [N [RECORD_BYTES [SHARDS [BATCH]]]]
 *
 * In a fresh store under $TMPDIR (removed afterwards): creates a stream of
 * SHARDS shards (default 4), puts N records (default 500,000) of RECORD_BYTES
 * of JSON-like data (default 160) with partition keys "ride-i", in PutRecords
 * calls of BATCH (default 500), then reads every shard from TRIM_HORIZON in
 * pages of 10,000.  The records are made before the clock starts.  Prints one line per phase:
 *   put  N records  S s  R records/s
 *   read N records  S s  R records/s
 * Exit 1 when anything fails or the read does not return N records. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "stream/local/local_store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

typedef struct sink {
    long count;
    uint64_t sum;
} sink;

static int consume(void *ctx, const rp_stream_record *r)
{
    sink *k = ctx;
    k->count++;
    k->sum += r->data_len + (r->data_len ? r->data[r->data_len - 1] : 0) + r->partition_key_len;
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 1;
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 500000;
    long rec_bytes = argc > 2 ? strtol(argv[2], NULL, 10) : 160;
    long nshards = argc > 3 ? strtol(argv[3], NULL, 10) : 4;
    long batch = argc > 4 ? strtol(argv[4], NULL, 10) : 500;
    char root[256], path[320];
    rp__local_store *s = NULL;
    rp_error err;
    rp_stream_entry *e = NULL;
    rp_stream_put_result *r = NULL;
    char(*keys)[32] = NULL;
    char *data = NULL;
    rp_stream_shard *shards = NULL;
    size_t nsh = 0;
    sink k = {0, 0};

    if (n < 1 || rec_bytes < 1 || nshards < 1 || batch < 1 || batch > RP_STREAM_PUT_BATCH_MAX) {
        fprintf(stderr, "usage: local_store_bench [N [RECORD_BYTES [SHARDS [BATCH]]]]\n");
        return 2;
    }
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/rp_local_bench.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/streams.db", root);
    e = calloc((size_t)batch, sizeof *e);
    r = calloc((size_t)batch, sizeof *r);
    keys = calloc((size_t)n, sizeof *keys);
    data = malloc((size_t)rec_bytes * (size_t)batch);
    if (!e || !r || !keys || !data)
        goto out;
    if (rp__local_open(path, &s, &err) != 0 ||
        rp__local_create_stream(s, "bench", (uint32_t)nshards, 0, &err) != 0) {
        fprintf(stderr, "local_store_bench: %s\n", err.msg);
        goto out;
    }

    /* The records are made before the clock starts: keys for all, data for
     * one batch (reused by every batch). */
    for (long i = 0; i < batch; i++) {
        char *d = data + i * rec_bytes;
        int dl = snprintf(d, (size_t)rec_bytes,
                          "{\"model\": \"ride_duration_prediction_model\","
                          " \"version\": \"123\", \"prediction\": {\"ride_duration\": %ld.5,"
                          " \"ride_id\": %ld}}",
                          i % 60, i);
        if (dl >= rec_bytes)
            dl = (int)rec_bytes - 1;
        memset(d + dl, ' ', (size_t)(rec_bytes - dl));
    }
    for (long i = 0; i < n; i++)
        snprintf(keys[i], sizeof keys[i], "ride-%ld", i);

    double t0 = now_s(), c0 = cpu_s();
    for (long done = 0; done < n;) {
        long m = n - done < batch ? n - done : batch;
        for (long i = 0; i < m; i++)
            e[i] = (rp_stream_entry){data + i * rec_bytes, (size_t)rec_bytes, keys[done + i],
                                     strlen(keys[done + i])};
        if (rp__local_put_records(s, "bench", e, (size_t)m, r, &err) != 0) {
            fprintf(stderr, "local_store_bench: put: %s\n", err.msg);
            goto out;
        }
        for (long i = 0; i < m; i++)
            if (!r[i].ok) {
                fprintf(stderr, "local_store_bench: put: %s\n", r[i].error_message);
                goto out;
            }
        done += m;
    }
    double t1 = now_s(), c1 = cpu_s();
    printf("put  %ld records  %.3f s  %.0f records/s  %.2f us CPU/record  (batches of %ld,"
           " %ld-byte records, %ld shards)\n",
           n, t1 - t0, (double)n / (t1 - t0), (c1 - c0) * 1e6 / (double)n, batch, rec_bytes, nshards);

    if (rp__local_list_shards(s, "bench", &shards, &nsh, &err) != 0) {
        fprintf(stderr, "local_store_bench: %s\n", err.msg);
        goto out;
    }
    t0 = now_s();
    c0 = cpu_s();
    for (size_t i = 0; i < nsh; i++) {
        char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
        if (rp__local_get_iterator(s, "bench", shards[i].shard_id, RP_STREAM_TRIM_HORIZON, NULL, 0, it,
                                   &err) != 0) {
            fprintf(stderr, "local_store_bench: %s\n", err.msg);
            goto out;
        }
        for (;;) {
            long before = k.count;
            if (rp__local_get_records(s, it, RP_LOCAL_GET_LIMIT_MAX, consume, &k, next, NULL, &err) != 0) {
                fprintf(stderr, "local_store_bench: read: %s\n", err.msg);
                goto out;
            }
            if (k.count == before || !next[0])
                break;
            memcpy(it, next, sizeof it);
        }
    }
    t1 = now_s();
    c1 = cpu_s();
    printf("read %ld records  %.3f s  %.0f records/s  %.2f us CPU/record\n", k.count, t1 - t0,
           (double)k.count / (t1 - t0), (c1 - c0) * 1e6 / (double)k.count);
    if (k.count != n) {
        fprintf(stderr, "local_store_bench: read %ld records, put %ld\n", k.count, n);
        goto out;
    }
    rc = 0;
out:
    rp__local_close(s);
    free(e);
    free(r);
    free(keys);
    free(data);
    free(shards);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
