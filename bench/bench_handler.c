/* Handler throughput: loads a model, reads event files into memory, and runs
 * the handler over them in a loop on one core for a fixed time.  Prints one
 * JSON line: records/s, events/s, ns per record.
 *
 *   bench_handler MODEL SECONDS EVENT_FILE...
 *
 * A negative SECONDS runs exactly that many passes over the events instead
 * (for instruction counts under callgrind).  BENCH_KEEP_RIDES=1 in the
 * environment keeps each invocation's rides (rp_handler_keep_rides, what
 * monitoring while serving turns on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/file.h"
#include "ridepred/handler.h"
#include "ridepred/log.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_handler MODEL SECONDS EVENT_FILE...\n");
        return 2;
    }
    rp_log_configure(RP_LOG_ERROR, RP_LOG_TEXT);
    rp_error err;
    rp_model *m = NULL;
    if (rp_model_load(argv[1], NULL, &m, &err) < 0) {
        fprintf(stderr, "bench_handler: %s\n", err.msg);
        return 1;
    }
    double seconds = atof(argv[2]);
    int n = argc - 3;
    char **ev = calloc((size_t)n, sizeof *ev);
    size_t *len = calloc((size_t)n, sizeof *len);
    for (int i = 0; i < n; i++) {
        unsigned char *data;
        if (rp__file_read(argv[3 + i], (size_t)64 << 20, &data, &len[i], &err) != 0) {
            fprintf(stderr, "bench_handler: %s\n", err.msg);
            return 1;
        }
        ev[i] = (char *)data;
    }
    rp_handler *h = rp_handler_new(m, NULL, &err);
    const char *keep = getenv("BENCH_KEEP_RIDES");
    if (h && keep && !strcmp(keep, "1"))
        rp_handler_keep_rides(h, true);
    if (!h) {
        fprintf(stderr, "bench_handler: %s\n", err.msg);
        return 1;
    }
    rp_invoke_result res;
    /* Warm up, and check that every event is served. */
    for (int i = 0; i < n; i++) {
        rp_handler_invoke(h, ev[i], len[i], &res);
        if (res.status != RP_INVOKE_OK || res.failed) {
            fprintf(stderr, "bench_handler: %s was not fully served\n", argv[3 + i]);
            return 1;
        }
    }
    unsigned long long records = 0, events = 0, bytes = 0;
    double t0 = bench_now(), t;
    long passes = seconds < 0 ? (long)-seconds : -1;
    do {
        for (int i = 0; i < n; i++) {
            rp_handler_invoke(h, ev[i], len[i], &res);
            records += res.records;
            bytes += len[i];
            events++;
        }
        t = bench_now();
    } while (passes < 0 ? t - t0 < seconds : --passes > 0);
    double dt = t - t0;
    printf(
        "{\"what\": \"handler\", \"records_per_s\": %.0f, \"events_per_s\": %.0f, \"ns_per_record\": %.1f, \"mb_per_s\": %.1f, \"records\": %llu}\n",
        (double)records / dt, (double)events / dt, dt * 1e9 / (double)records, (double)bytes / dt / 1e6,
        records);
    rp_handler_free(h);
    rp_model_release(m);
    for (int i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
    free(len);
    return 0;
}
