/* Model load time: loads a model (any source ridepred reads) RUNS times in
 * this process and prints the best and median milliseconds as one JSON line.
 *
 *   bench_load MODEL [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#include "ridepred/log.h"
#include "ridepred/model.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load MODEL [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 10;
    if (runs < 1)
        runs = 1;
    rp_log_configure(RP_LOG_ERROR, RP_LOG_TEXT);
    double *t = calloc((size_t)runs, sizeof *t);
    for (int i = 0; i < runs; i++) {
        rp_model *m = NULL;
        rp_error err;
        double t0 = bench_now() * 1e3;
        if (rp_model_load(argv[1], NULL, &m, &err) < 0) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        t[i] = bench_now() * 1e3 - t0;
        rp_model_release(m);
    }
    qsort(t, (size_t)runs, sizeof *t, bench_cmp_double);
    printf("{\"what\": \"load\", \"model\": \"%s\", \"best_ms\": %.2f, \"median_ms\": %.2f, \"runs\": %d}\n",
           argv[1], t[0], t[runs / 2], runs);
    free(t);
    return 0;
}
