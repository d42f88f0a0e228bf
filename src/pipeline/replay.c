/* See replay.h. */
#include "pipeline/replay.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/retry.h"
#include "function/ride.h"
#include "ridepred/log.h"

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

/* Waits between attempts to put: 100 ms doubling to 5 s, with jitter. */
static const rp__retry_policy backoff = {0, 100, 5000};

/* Sleeps ms, waking early when *stop is set.  True when it was. */
static bool nap(volatile sig_atomic_t *stop, uint32_t ms)
{
    for (uint32_t slept = 0; slept < ms; slept += 20) {
        if (stop && *stop)
            return true;
        rp__retry_sleep(NULL, ms - slept < 20 ? ms - slept : 20);
    }
    return stop && *stop;
}

/* Puts e[0, n) until the stream has taken every one: a stream that is
 * unreachable, throttled or gone for a while is waited for (one log line a
 * backoff step), never a reason to drop a ride; only the entries refused
 * are put again.  Returns 0, 1 when stopped first (the rides not stored are
 * counted failed), or -1 when the stream does not exist before any ride was
 * sent (a wrong name: err says so). */
static int put_until_stored(rp_stream_conn *s, const char *name, rp_stream_entry *e,
                            rp_stream_put_result *res, size_t n, const rp__replay_opts *o, uint64_t *rng,
                            rp__replay_stats *st, rp_error *err)
{
    for (int attempt = 0;;) {
        rp_error perr;
        if (rp_stream_put(s, name, e, n, res, &perr) < 0 && !st->sent && !attempt &&
            perr.code == RP_ERR_NOT_FOUND) {
            if (err)
                *err = perr;
            return -1;
        }
        size_t kept = 0;
        char why[400] = "";
        for (size_t k = 0; k < n; k++) {
            if (res[k].ok) {
                st->sent++;
                continue;
            }
            if (!why[0])
                rp_stream_put_reason(&res[k], why, sizeof why);
            e[kept++] = e[k]; /* kept <= k: compaction in place */
        }
        n = kept;
        if (!n) {
            if (attempt)
                rp_log(RP_LOG_INFO, "the stream takes rides again; replay goes on", "stream", name, NULL);
            return 0;
        }
        uint32_t ceiling = rp__retry_ceiling_ms(&backoff, (unsigned)++attempt);
        uint32_t ms = ceiling / 2 + (uint32_t)(rp__retry_random(rng) % (ceiling / 2 + 1));
        char att[16], wait[16];
        snprintf(att, sizeof att, "%d", attempt);
        snprintf(wait, sizeof wait, "%u", ms);
        rp_log(RP_LOG_WARN, "the stream did not take rides; replay waits and retries", "stream", name,
               "error", why, "attempt", att, "retry_in_ms", wait, NULL);
        if (nap(o->stop, ms)) {
            st->failed += n;
            return 1;
        }
    }
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
    uint64_t rng = rp__retry_seed(st);
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
        int r = put_until_stored(s, name, e, res, n, o, &rng, st, err);
        if (r < 0)
            goto out;
        i += n;
        if (r > 0)
            break;
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
