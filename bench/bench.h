/* What the C benchmarks share: clocks in seconds and a double comparison
 * for qsort (best / median).  Files are read with rp__file_read
 * (src/common/file.h). */
#ifndef RP_BENCH_H
#define RP_BENCH_H

#include <time.h>

static inline double bench_clock_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time (monotonic) and this process's CPU time, in seconds. */
static inline double bench_now(void)
{
    return bench_clock_s(CLOCK_MONOTONIC);
}

static inline double bench_cpu(void)
{
    return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
