/* Reading one month of TLC trips: rp__trips_read (the five course columns,
 * Parquet or CSV) RUNS times in this process; prints the best and median
 * milliseconds and the rows as one JSON line.
 *
 *   bench_parquet FILE [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#include "data/trips.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parquet FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 10;
    if (runs < 1)
        runs = 1;
    double *t = calloc((size_t)runs, sizeof *t);
    size_t rows = 0;
    for (int i = 0; i < runs; i++) {
        rp__trips trips;
        rp_error err;
        double t0 = bench_now() * 1e3;
        if (rp__trips_read(argv[1], 0, &trips, &err) < 0) {
            fprintf(stderr, "bench_parquet: %s\n", err.msg);
            free(t);
            return 1;
        }
        t[i] = bench_now() * 1e3 - t0;
        rows = trips.n;
        rp__trips_free(&trips);
    }
    qsort(t, (size_t)runs, sizeof *t, bench_cmp_double);
    printf(
        "{\"what\": \"trips_read\", \"file\": \"%s\", \"rows\": %zu, \"best_ms\": %.2f, \"median_ms\": %.2f, "
        "\"runs\": %d}\n",
        argv[1], rows, t[0], t[runs / 2], runs);
    free(t);
    return 0;
}
