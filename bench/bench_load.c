/* Model load time: loads a model (any source ridepred reads) RUNS times in
 * this process and prints the best and median milliseconds as one JSON line.
 *
 *   bench_load MODEL [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ridepred/log.h"
#include "ridepred/model.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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
        double t0 = now_ms();
        if (rp_model_load(argv[1], NULL, &m, &err) < 0) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        t[i] = now_ms() - t0;
        rp_model_release(m);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    printf("{\"what\": \"load\", \"model\": \"%s\", \"best_ms\": %.2f, \"median_ms\": %.2f, \"runs\": %d}\n", argv[1], t[0],
           t[runs / 2], runs);
    free(t);
    return 0;
}
