/* local_store_tool: a tiny driver of the local stream store for the
 * integration tests (tests/integration/test_local_store_concurrent.py).
 *
 *   local_store_tool create STORE STREAM SHARDS [RETENTION_HOURS]
 *   local_store_tool put STORE STREAM N PREFIX [BATCH]
 *       puts N records, data and partition key "PREFIX-i" (i = 0..N-1), in
 *       PutRecords calls of BATCH (default 500); prints "put N" at the end.
 *   local_store_tool read STORE STREAM [--until N] [--timeout SECONDS] [--limit L]
 *       walks every shard from TRIM_HORIZON, printing one line per record:
 *       "SHARD SEQUENCE ARRIVAL_MS PARTITION_KEY DATA" (data printed as is).
 *       Without --until it stops when every shard returns an empty page; with
 *       it, it keeps polling until N records have been read (exit 1 when
 *       --timeout, default 120 s, passes first).  Ends with "read N records
 *       in R rounds" on stderr (R: passes over the shards that found records).
 *   local_store_tool shards STORE STREAM
 *       one line per shard: "ID PARENT ADJACENT HASH_START HASH_END SEQ_START SEQ_END"
 *       ("-" for an empty field).
 *   local_store_tool reshard STORE STREAM TARGET
 *
 * Exit status 0 on success, 1 on a store error (printed on stderr), 2 on
 * bad usage. */
#include "stream/local/local_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: local_store_tool create STORE STREAM SHARDS [RETENTION_HOURS]\n"
                    "       local_store_tool put STORE STREAM N PREFIX [BATCH]\n"
                    "       local_store_tool read STORE STREAM [--until N] [--timeout S] [--limit L]\n"
                    "       local_store_tool shards STORE STREAM\n"
                    "       local_store_tool reshard STORE STREAM TARGET\n");
    return 2;
}

static int fail(const rp_error *err)
{
    fprintf(stderr, "local_store_tool: %s\n", err->msg);
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_put(rp__local_store *s, const char *stream, long n, const char *prefix, long batch)
{
    int rc = 1;
    rp_stream_entry *e = calloc((size_t)batch, sizeof *e);
    rp_stream_put_result *r = calloc((size_t)batch, sizeof *r);
    char(*keys)[96] = calloc((size_t)batch, sizeof *keys);
    rp_error err;
    if (!e || !r || !keys) {
        fprintf(stderr, "local_store_tool: out of memory\n");
        goto out;
    }
    for (long done = 0; done < n;) {
        long k = n - done < batch ? n - done : batch;
        for (long i = 0; i < k; i++) {
            int len = snprintf(keys[i], sizeof keys[i], "%s-%ld", prefix, done + i);
            e[i] = (rp_stream_entry){keys[i], (size_t)len, keys[i], (size_t)len};
        }
        if (rp__local_put_records(s, stream, e, (size_t)k, r, &err) != 0) {
            fail(&err);
            goto out;
        }
        for (long i = 0; i < k; i++)
            if (!r[i].ok) {
                fprintf(stderr, "local_store_tool: record %ld: %s: %s\n", done + i, r[i].error_code,
                        r[i].error_message);
                goto out;
            }
        done += k;
    }
    printf("put %ld\n", n);
    rc = 0;
out:
    free(e);
    free(r);
    free(keys);
    return rc;
}

typedef struct reader {
    long count;
} reader;

static int print_record(void *ctx, const rp_stream_record *rec)
{
    reader *rd = ctx;
    printf("%s %s %lld %.*s %.*s\n", rec->shard_id, rec->sequence_number, (long long)rec->arrival_ms,
           (int)rec->partition_key_len, rec->partition_key, (int)rec->data_len, (const char *)rec->data);
    rd->count++;
    return 0;
}

static int cmd_read(rp__local_store *s, const char *stream, long until, double timeout, uint32_t limit)
{
    int rc = 1;
    rp_stream_shard *shards = NULL;
    size_t n = 0;
    char(*iters)[RP_STREAM_ITER_MAX] = NULL;
    char next[RP_STREAM_ITER_MAX];
    rp_error err;
    reader rd = {0};
    long rounds = 0; /* passes over the shards that returned records */

    if (rp__local_list_shards(s, stream, &shards, &n, &err) != 0) {
        fail(&err);
        goto out;
    }
    iters = calloc(n ? n : 1, sizeof *iters);
    if (!iters)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (rp__local_get_iterator(s, stream, shards[i].shard_id, RP_STREAM_TRIM_HORIZON, NULL, 0, iters[i],
                                   &err) != 0) {
            fail(&err);
            goto out;
        }
    double deadline = now_s() + timeout;
    for (;;) {
        long before = rd.count;
        for (size_t i = 0; i < n; i++) {
            if (!iters[i][0])
                continue; /* a closed shard read to its end */
            if (rp__local_get_records(s, iters[i], limit, print_record, &rd, next, NULL, &err) != 0) {
                fail(&err);
                goto out;
            }
            memcpy(iters[i], next, sizeof next);
        }
        if (rd.count > before)
            rounds++;
        if (until < 0 ? rd.count == before : rd.count >= until)
            break;
        if (now_s() > deadline) {
            fprintf(stderr, "local_store_tool: timed out after %ld records\n", rd.count);
            goto out;
        }
        if (rd.count == before)
            usleep(2000);
    }
    fprintf(stderr, "read %ld records in %ld rounds\n", rd.count, rounds);
    rc = 0;
out:
    fflush(stdout);
    free(shards);
    free(iters);
    return rc;
}

static int cmd_shards(rp__local_store *s, const char *stream)
{
    rp_stream_shard *v = NULL;
    size_t n = 0;
    rp_error err;
    if (rp__local_list_shards(s, stream, &v, &n, &err) != 0)
        return fail(&err);
#define OR_DASH(x) ((x)[0] ? (x) : "-")
    for (size_t i = 0; i < n; i++)
        printf("%s %s %s %s %s %s %s\n", v[i].shard_id, OR_DASH(v[i].parent_shard_id),
               OR_DASH(v[i].adjacent_parent_shard_id), v[i].hash_start, v[i].hash_end, v[i].seq_start,
               OR_DASH(v[i].seq_end));
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    rp__local_store *s = NULL;
    rp_error err;
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    if (argc < 4)
        return usage();
    const char *cmd = argv[1], *stream = argv[3];
    if (rp__local_open(argv[2], &s, &err) != 0)
        return fail(&err);
    if (strcmp(cmd, "create") == 0 && (argc == 5 || argc == 6)) {
        uint32_t retention = argc == 6 ? (uint32_t)strtoul(argv[5], NULL, 10) : 0;
        rc = rp__local_create_stream(s, stream, (uint32_t)strtoul(argv[4], NULL, 10), retention, &err) == 0
                 ? 0
                 : fail(&err);
    } else if (strcmp(cmd, "put") == 0 && (argc == 6 || argc == 7)) {
        long n = strtol(argv[4], NULL, 10);
        long batch = argc == 7 ? strtol(argv[6], NULL, 10) : RP_STREAM_PUT_BATCH_MAX;
        if (n < 0 || batch < 1 || batch > RP_STREAM_PUT_BATCH_MAX)
            rc = usage();
        else
            rc = cmd_put(s, stream, n, argv[5], batch);
    } else if (strcmp(cmd, "read") == 0) {
        long until = -1;
        double timeout = 120;
        uint32_t limit = 0;
        int ok = 1;
        for (int i = 4; i < argc; i++) {
            if (i + 1 < argc && strcmp(argv[i], "--until") == 0)
                until = strtol(argv[++i], NULL, 10);
            else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0)
                timeout = strtod(argv[++i], NULL);
            else if (i + 1 < argc && strcmp(argv[i], "--limit") == 0)
                limit = (uint32_t)strtoul(argv[++i], NULL, 10);
            else
                ok = 0;
        }
        rc = ok ? cmd_read(s, stream, until, timeout, limit) : usage();
    } else if (strcmp(cmd, "shards") == 0 && argc == 4) {
        rc = cmd_shards(s, stream);
    } else if (strcmp(cmd, "reshard") == 0 && argc == 5) {
        rc = rp__local_update_shard_count(s, stream, (uint32_t)strtoul(argv[4], NULL, 10), &err) == 0
                 ? 0
                 : fail(&err);
    } else {
        rc = usage();
    }
    rp__local_close(s);
    return rc;
}
