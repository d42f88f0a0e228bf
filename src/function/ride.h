/* Ride events: {"ride": {"PULocationID": P, "DOLocationID": Q,
 * "trip_distance": X}, "ride_id": ID} (docs/handler.md §2), and the features the
 * reference builds from them: {'PU_DO': '%s_%s' % (P, Q), 'trip_distance': X}.
 *
 * Fields are views into the JSON they came from.  A key that appears twice
 * counts with its last value, as in Python. */
#ifndef RP_EVENT_RIDE_H
#define RP_EVENT_RIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "ridepred/model.h"

/* Nesting limit for a record's JSON (docs/handler.md §7). */
#define RP_RIDE_MAX_DEPTH 64
/* Partition keys are 1 to 256 characters (Kinesis). */
#define RP_RIDE_ID_MAX_CHARS 256

typedef struct rp__ride_fields {
    bool has_ride, has_ride_id;
    rp__json_type ride_type; /* of the last "ride" value */
    bool has_pu, has_do, has_td;
    rp__json_value pu, do_, td, ride_id;
} rp__ride_fields;

/* Called for each member of an object that may carry a ride ("ride",
 * "ride_id"); consumes the member's value.  Returns 1 when the key was one
 * of them, 0 when it was not (the value is left for the caller), -1 on a
 * JSON error (r->err). */
int rp__ride_member(rp__json_reader *r, const rp__json_value *key, rp__ride_fields *f);

/* Parses a decoded record (UTF-8 JSON text) into its ride fields.  On
 * failure sets why (RP_ERR_INVALID) and returns -1. */
int rp__ride_parse(const char *json, size_t len, rp__ride_fields *f, rp_error *why);

/* Checks the fields (docs/handler.md §6), forms PU_DO, and fills the feature row of
 * model m.  `scratch` holds the feature name.  Returns 0, or -1 with why. */
int rp__ride_features(const rp__ride_fields *f, const rp_model *m, rp__buf *scratch, rp_row *row,
                      rp_error *why);

/* One ride to write as an event (the replay of a trip file). */
typedef struct rp__ride_row {
    int64_t pu, dol;       /* PULocationID, DOLocationID */
    bool pu_null, do_null; /* written as null */
    double distance;       /* trip_distance; NaN: null */
    uint64_t ride_id;
} rp__ride_row;

/* Appends {"ride": {"PULocationID": P, "DOLocationID": Q, "trip_distance": X},
 * "ride_id": ID} as json.dumps writes the dict (X as repr(float)).  Errors
 * are b's sticky failed flag. */
void rp__ride_encode(rp__buf *b, const rp__ride_row *r);

#endif
