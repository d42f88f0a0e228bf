/* bench_pyfloat: time rp__pyfloat_repr against the usual libc way of getting
 * a round-tripping float text (snprintf with 15, 16, then 17 significant
 * digits until strtod reads the same double back).  The inputs are what the
 * service prints most: predicted ride durations, random doubles in 1..60
 * with full precision.  Prints one line per method, in nanoseconds per call:
 * the best of many short passes over the same values, which filters out the
 * interruptions of a busy machine. */
#include "common/pyfloat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_VALUES 20000
#define PASSES_OURS 200
#define PASSES_LIBC 30

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t libc_shortest(double x, char *out)
{
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(out, 32, "%.*g", precision, x);
        if (strtod(out, NULL) == x)
            break;
    }
    return (size_t)n;
}

typedef size_t (*format_fn)(double, char *);

/* Output lengths are summed here so that no call can be optimised away. */
static volatile size_t sink;

/* Best time per call over the given number of passes. */
static double time_per_call(format_fn fn, const double *values, size_t n, int passes)
{
    char buf[RP_PYFLOAT_MAX];
    double best = 0;
    for (int pass = 0; pass < passes; pass++) {
        size_t sum = 0;
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            sum += fn(values[i], buf);
        double per_call = (now_ns() - t0) / (double)n;
        if (pass == 0 || per_call < best)
            best = per_call;
        sink += sum;
    }
    return best;
}

int main(void)
{
    double *values = malloc(N_VALUES * sizeof *values);
    if (!values)
        return 1;
    uint64_t state = 0x243f6a8885a308d3ULL;
    for (size_t i = 0; i < N_VALUES; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[i] = 1.0 + 59.0 * (double)(state >> 11) / 9007199254740992.0;
    }

    double ours = time_per_call(rp__pyfloat_repr, values, N_VALUES, PASSES_OURS);
    double libc = time_per_call(libc_shortest, values, N_VALUES, PASSES_LIBC);
    printf("rp__pyfloat_repr (Schubfach):           %7.1f ns/call  (%d values in 1..60, best of %d passes)\n",
           ours, N_VALUES, PASSES_OURS);
    printf(
        "snprintf %%.15g/16g/17g + strtod loop:  %7.1f ns/call  (same values, best of %d passes; %.0fx slower)\n",
        libc, PASSES_LIBC, libc / ours);
    free(values);
    return 0;
}
