/* consume_bench: the producer and the reader around a running
 * `ridepred consume`, for bench/consume_bench.py (which builds this file
 * against build/ and starts the consumer).
 *
 *   consume_bench e2e IN OUT N RATE BATCH
 *       puts N ride events (ride_id 1..N) into IN in PutRecords of BATCH,
 *       as fast as possible (RATE 0) or paced at RATE records/s, while a
 *       second thread follows every shard of OUT (from LATEST, polling every
 *       millisecond when idle, 20 ms on Kinesis) until it has read N predictions.  Prints one
 *       JSON line: the put rate, the end-to-end rate (first put to last
 *       prediction readable) and the put-to-readable latency percentiles.
 *   consume_bench put IN N BATCH
 *       puts only: the stream's own ceiling for this client.
 *
 * Streams are specs as ridepred takes them (local:NAME, kinesis:NAME); the
 * backends read RIDEPRED_LOCAL_STORE / KINESIS_ENDPOINT_URL as usual. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ridepred/stream.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    nanosleep(&ts, NULL);
}

typedef struct bench {
    const char *in, *out;
    long n, rate, batch;
    int64_t *t_put; /* per ride_id */
    int64_t *lat;   /* per ride_id, -1 until read */
    atomic_long read;
    atomic_bool reader_ready;
    int64_t t_first, t_last_put, t_last_read;
} bench;

static int open_spec(const char *spec, rp_stream_conn **s, char name[RP_STREAM_NAME_MAX + 1])
{
    rp_error err;
    rp_stream_backend b;
    /* As the command line does (src/cli/stream_opts.c): the library reads
     * no environment; consume_bench.py sets these two. */
    rp_stream_config cfg = {.local_store = getenv("RIDEPRED_LOCAL_STORE"),
                            .endpoint_url = getenv("KINESIS_ENDPOINT_URL"),
                            .endpoint_source = "KINESIS_ENDPOINT_URL"};
    if (rp_stream_parse_name(spec, &cfg, &b, name, &err) < 0 || rp_stream_open(b, &cfg, s, &err) < 0) {
        fprintf(stderr, "consume_bench: %s: %s\n", spec, err.msg);
        return -1;
    }
    return 0;
}

static int put_all(bench *B)
{
    rp_stream_conn *s;
    char name[RP_STREAM_NAME_MAX + 1];
    if (open_spec(B->in, &s, name) < 0)
        return -1;
    rp_stream_entry *e = calloc((size_t)B->batch, sizeof *e);
    rp_stream_put_result *r = calloc((size_t)B->batch, sizeof *r);
    char(*docs)[160] = calloc((size_t)B->batch, sizeof *docs);
    char(*keys)[24] = calloc((size_t)B->batch, sizeof *keys);
    unsigned seed = 12345;
    B->t_first = now_ns();
    long i = 0;
    while (i < B->n) {
        long m = B->batch;
        if (B->rate > 0) {
            long due = (long)((double)(now_ns() - B->t_first) * (double)B->rate / 1e9) + 1;
            if (due > B->n)
                due = B->n;
            if (due <= i) {
                sleep_ns(200000);
                continue;
            }
            m = due - i < m ? due - i : m;
        }
        if (m > B->n - i)
            m = B->n - i;
        for (long j = 0; j < m; j++) {
            long id = i + j + 1;
            seed = seed * 1103515245u + 12345u;
            int pu = 1 + (int)(seed % 265), dodo = 1 + (int)((seed >> 9) % 265);
            double dist = 0.3 + (double)((seed >> 3) % 1500) / 100.0;
            int dl = snprintf(
                docs[j], sizeof docs[j],
                "{\"ride\": {\"PULocationID\": %d, \"DOLocationID\": %d, \"trip_distance\": %.2f}, \"ride_id\": %ld}",
                pu, dodo, dist, id);
            int kl = snprintf(keys[j], sizeof keys[j], "%ld", id);
            e[j] = (rp_stream_entry){docs[j], (size_t)dl, keys[j], (size_t)kl};
        }
        int64_t t = now_ns();
        for (long j = 0; j < m; j++)
            B->t_put[i + j + 1] = t;
        rp_error err;
        if (rp_stream_put(s, name, e, (size_t)m, r, &err) < 0) {
            fprintf(stderr, "consume_bench: put: %s\n", err.msg);
            return -1;
        }
        for (long j = 0; j < m; j++)
            if (!r[j].ok) {
                fprintf(stderr, "consume_bench: put refused: %s %s\n", r[j].error_code, r[j].error_message);
                return -1;
            }
        i += m;
    }
    B->t_last_put = now_ns();
    free(e);
    free(r);
    free(docs);
    free(keys);
    rp_stream_close(s);
    return 0;
}

static int on_out(void *ctx, const rp_stream_record *rec)
{
    bench *B = ctx;
    int64_t t = now_ns();
    const char *k = "\"ride_id\": ";
    const char *p = NULL;
    for (size_t i = 0; i + 11 < rec->data_len; i++)
        if (!memcmp(rec->data + i, k, 11)) {
            p = (const char *)rec->data + i + 11;
            break;
        }
    if (!p)
        return 0;
    long id = strtol(p, NULL, 10);
    if (id >= 1 && id <= B->n && B->lat[id] < 0) {
        B->lat[id] = t - B->t_put[id];
        atomic_fetch_add(&B->read, 1);
        B->t_last_read = t;
    }
    return 0;
}

static void *reader(void *arg)
{
    bench *B = arg;
    rp_stream_conn *s;
    char name[RP_STREAM_NAME_MAX + 1];
    if (open_spec(B->out, &s, name) < 0)
        exit(3);
    rp_stream_shard *sh;
    size_t n;
    rp_error err;
    if (rp_stream_list_shards(s, name, &sh, &n, &err) < 0) {
        fprintf(stderr, "consume_bench: %s\n", err.msg);
        exit(3);
    }
    char(*it)[RP_STREAM_ITER_MAX] = calloc(n, sizeof *it);
    for (size_t i = 0; i < n; i++)
        if (!sh[i].seq_end[0] &&
            rp_stream_get_iterator(s, name, sh[i].shard_id, RP_STREAM_LATEST, NULL, 0, it[i], &err) < 0) {
            fprintf(stderr, "consume_bench: %s\n", err.msg);
            exit(3);
        }
    atomic_store(&B->reader_ready, true);
    while (atomic_load(&B->read) < B->n) {
        long before = atomic_load(&B->read);
        for (size_t i = 0; i < n; i++) {
            if (!it[i][0])
                continue;
            char next[RP_STREAM_ITER_MAX];
            if (rp_stream_get_records(s, it[i], 10000, on_out, B, next, NULL, &err) < 0) {
                fprintf(stderr, "consume_bench: read: %s\n", err.msg);
                exit(3);
            }
            memcpy(it[i], next, sizeof next);
        }
        /* Idle: poll again in 1 ms (local), 20 ms (Kinesis: every poll
         * is a request the single-threaded test server must also serve). */
        if (atomic_load(&B->read) == before)
            sleep_ns(strncmp(B->out, "kinesis:", 8) ? 1000000 : 20000000);
    }
    free(it);
    free(sh);
    rp_stream_close(s);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    bench B = {0};
    if (argc == 5 && !strcmp(argv[1], "put")) {
        B.in = argv[2];
        B.n = atol(argv[3]);
        B.batch = atol(argv[4]);
        B.t_put = calloc((size_t)B.n + 1, sizeof *B.t_put);
        if (put_all(&B) < 0)
            return 3;
        double secs = (double)(B.t_last_put - B.t_first) / 1e9;
        printf("{\"mode\": \"put\", \"records\": %ld, \"seconds\": %.3f, \"records_per_s\": %.0f}\n", B.n,
               secs, (double)B.n / secs);
        return 0;
    }
    if (argc != 7 || strcmp(argv[1], "e2e") != 0) {
        fprintf(stderr, "usage: consume_bench e2e IN OUT N RATE BATCH | consume_bench put IN N BATCH\n");
        return 2;
    }
    B.in = argv[2];
    B.out = argv[3];
    B.n = atol(argv[4]);
    B.rate = atol(argv[5]);
    B.batch = atol(argv[6]);
    if (B.n < 1 || B.batch < 1 || B.batch > RP_STREAM_PUT_BATCH_MAX) {
        fprintf(stderr, "consume_bench: N >= 1, BATCH 1..500\n");
        return 2;
    }
    B.t_put = calloc((size_t)B.n + 1, sizeof *B.t_put);
    B.lat = malloc(((size_t)B.n + 1) * sizeof *B.lat);
    for (long i = 0; i <= B.n; i++)
        B.lat[i] = -1;
    atomic_init(&B.read, 0);
    pthread_t th;
    pthread_create(&th, NULL, reader, &B);
    while (!atomic_load(&B.reader_ready))
        sleep_ns(1000000);
    if (put_all(&B) < 0)
        return 3;
    pthread_join(th, NULL);
    int64_t *l = malloc((size_t)B.n * sizeof *l);
    for (long i = 0; i < B.n; i++)
        l[i] = B.lat[i + 1];
    qsort(l, (size_t)B.n, sizeof *l, cmp64);
    double put_s = (double)(B.t_last_put - B.t_first) / 1e9;
    double e2e_s = (double)(B.t_last_read - B.t_first) / 1e9;
    printf(
        "{\"mode\": \"e2e\", \"records\": %ld, \"rate\": %ld, \"put_seconds\": %.3f, \"put_per_s\": %.0f, "
        "\"e2e_seconds\": %.3f, \"e2e_per_s\": %.0f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f}\n",
        B.n, B.rate, put_s, (double)B.n / put_s, e2e_s, (double)B.n / e2e_s, (double)l[B.n / 2] / 1e6,
        (double)l[(size_t)((double)B.n * 0.99)] / 1e6, (double)l[B.n - 1] / 1e6);
    free(l);
    free(B.t_put);
    free(B.lat);
    return 0;
}
