/* See replay.h. */
#include "pipeline/replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "function/ride.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rp__replay_event(rp__buf *b, const rp__trips *t, size_t i)
{
    rp__ride_row r = {.pu = t->pu[i],
                      .pu_null = t->pu[i] == RP_TRIPS_NULL_ID,
                      .dol = t->dor[i],
                      .do_null = t->dor[i] == RP_TRIPS_NULL_ID,
                      .distance = t->distance[i],
                      .ride_id = i};
    rp__ride_encode(b, &r);
}

int rp__replay_run(rp_stream_conn *s, const char *name, const rp__trips *t, const rp__replay_opts *o,
                   rp__replay_stats *st, rp_error *err)
{
    memset(st, 0, sizeof *st);
    size_t start = o->start < t->n ? o->start : t->n;
    size_t end = o->limit && o->limit < t->n - start ? start + o->limit : t->n;
    size_t batch = o->batch ? o->batch : RP_STREAM_PUT_BATCH_MAX;
    if (batch > RP_STREAM_PUT_BATCH_MAX)
        batch = RP_STREAM_PUT_BATCH_MAX;
    if (o->rate > 0 && batch > (size_t)ceil(o->rate / 10.0))
        batch = (size_t)ceil(o->rate / 10.0); /* at least ten puts a second */

    rp_stream_entry *e = calloc(batch, sizeof *e);
    rp_stream_put_result *res = calloc(batch, sizeof *res);
    size_t *offs = calloc(batch, sizeof *offs);
    char(*keys)[24] = calloc(batch, sizeof *keys);
    rp__buf data;
    rp__buf_init(&data, (size_t)batch * 512);
    int rc = -1;
    if (!e || !res || !offs || !keys) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    double t0 = now_s();
    for (size_t i = start; i < end;) {
        if (o->stop && *o->stop)
            break;
        size_t n = end - i < batch ? end - i : batch;
        rp__buf_reset(&data);
        for (size_t k = 0; k < n; k++) {
            offs[k] = data.len;
            rp__replay_event(&data, t, i + k);
            snprintf(keys[k], sizeof keys[k], "%zu", i + k);
        }
        if (data.failed) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < n; k++) {
            size_t stop = k + 1 < n ? offs[k + 1] : data.len;
            e[k] = (rp_stream_entry){data.data + offs[k], stop - offs[k], keys[k], strlen(keys[k])};
        }
        if (rp_stream_put(s, name, e, n, res, err) < 0)
            goto out;
        for (size_t k = 0; k < n; k++) {
            if (res[k].ok)
                st->sent++;
            else
                st->failed++;
        }
        i += n;
        st->seconds = now_s() - t0;
        if (o->progress)
            o->progress(o->progress_ctx, st, end - start);
        if (o->rate > 0) {
            /* Pace: record j of the replay is due at t0 + j / rate. */
            double due = (double)(i - start) / o->rate - (now_s() - t0);
            if (due > 0) {
                struct timespec ts = {(time_t)due, (long)((due - floor(due)) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
    }
    st->seconds = now_s() - t0;
    rc = 0;
out:
    rp__buf_cleanup(&data);
    free(e);
    free(res);
    free(offs);
    free(keys);
    return rc;
}
