/* Replaying real rides: the rows of a TLC trip file (src/data/trips.h) as
 * the ride events of docs/handler.md §2, put into a stream in file order.
 *
 * Row i becomes
 *   {"ride": {"PULocationID": P, "DOLocationID": Q, "trip_distance": X}, "ride_id": i}
 * written as Python's json.dumps writes the dict (X as repr(float); a null
 * location or distance as null), with partition key str(i), i being the
 * 0-based row number in the file.  Every row is sent, also those the
 * course's filter would drop: the consumer answers for each ride. */
#ifndef RP_SERVICE_REPLAY_H
#define RP_SERVICE_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "data/trips.h"
#include "ridepred/error.h"
#include "ridepred/stream.h"

/* Appends row i's ride event to b. */
void rp__replay_event(rp__buf *b, const rp__trips *t, size_t i);

typedef struct rp__replay_stats {
    size_t sent;   /* records the stream accepted */
    size_t failed; /* records not stored because the replay was stopped while it waited */
    double seconds;
} rp__replay_stats;

/* Called after each put batch (progress); may be NULL. */
typedef void (*rp__replay_progress_fn)(void *ctx, const rp__replay_stats *st, size_t total);

typedef struct rp__replay_opts {
    size_t start;                /* first row */
    size_t limit;                /* rows at most; 0: to the end */
    double rate;                 /* records per second; 0: as fast as possible */
    size_t batch;                /* records per put; 0: 500 (PutRecords' maximum) */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to stop early; may be NULL */
    rp__replay_progress_fn progress;
    void *progress_ctx;
} rp__replay_opts;

/* Puts rows [start, start + limit) of t into stream `name` of s, in order.
 * A stream that does not take a ride (unreachable, throttled, deleted for a
 * while) is waited for, with backoff, until it does: no ride is dropped.
 * Returns 0 when every row was stored or o->stop ended the wait (stats
 * count what was not stored), or -1 when the stream does not exist before
 * the first ride was stored (err names it). */
int rp__replay_run(rp_stream_conn *s, const char *name, const rp__trips *t, const rp__replay_opts *o,
                   rp__replay_stats *st, rp_error *err);

#endif
