/* The cost of monitoring while serving (src/monitor/live.h), in-process:
 * recording rides (rp__monitor_live_record, batches of 1,000, with the
 * histogram) and closing a full window (rp__monitor_compare of cap rides
 * against the reference).  Prints one JSON line: ns per ride recorded
 * (thread CPU time), ms per window closed.
 *
 *   bench_monitor_live REFERENCE_CSV [RIDES] [CAP]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "common/metrics.h"
#include "monitor/live.h"
#include "ridepred/log.h"

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_monitor_live REFERENCE_CSV [RIDES] [CAP]\n");
        return 2;
    }
    rp_log_configure(RP_LOG_ERROR, RP_LOG_TEXT);
    size_t rides = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
    size_t cap = argc > 3 ? strtoul(argv[3], NULL, 10) : RP_MONITOR_LIVE_CAP_DEFAULT;
    rp__metrics *m = rp__metrics_new();
    rp__monitor_live_config cfg = {
        .reference = argv[1], .window_s = 3600, .cap = cap, .metrics = m, .clock_us = fake_clock};
    rp__monitor_live *l;
    rp_error err;
    if (rp__monitor_live_new(&cfg, &l, &err) < 0) {
        fprintf(stderr, "bench_monitor_live: %s\n", err.msg);
        return 1;
    }
    enum {
        B = 1000
    };
    static double pu[B], dol[B], td[B], pr[B];
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < B; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pu[i] = 1 + (double)(x % 265);
        dol[i] = 1 + (double)((x >> 20) % 265);
        td[i] = (double)((x >> 40) % 2000) / 100;
        pr[i] = 8.5 + 2.9 * td[i];
    }
    double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (size_t done = 0; done < rides; done += B)
        rp__monitor_live_record(l, pu, dol, td, pr, B);
    double c1 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    fake_now += (int64_t)3600 * 1000000;
    double w0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    int closed = rp__monitor_live_tick(l);
    double w1 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    printf("{\"what\": \"monitor_live\", \"rides\": %zu, \"cap\": %zu, \"ns_per_ride\": %.1f, "
           "\"ms_per_window\": %.1f, \"closed\": %d}\n",
           rides, cap, (c1 - c0) * 1e9 / (double)rides, (w1 - w0) * 1e3, closed);
    rp__monitor_live_free(l);
    rp__metrics_free(m);
    return closed == 1 ? 0 : 1;
}
