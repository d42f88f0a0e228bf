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

/* A ride as the course's Flask API takes it, for messages. */
#define RP_RIDE_EXAMPLE "{\"PULocationID\": 10, \"DOLocationID\": 50, \"trip_distance\": 40}"

/* Parses a bare ride, the body of the course's Flask API (`serve`'s POST
 * /predict): {"PULocationID": P, "DOLocationID": Q, "trip_distance": X}
 * with any other keys ignored.  Fills the ride's fields of f (has_ride
 * true, no ride_id) for rp__ride_fields_features.  On failure (not JSON, nested deeper
 * than RP_RIDE_MAX_DEPTH, not an object) sets why (RP_ERR_INVALID) and
 * returns -1. */
int rp__ride_parse_bare(const char *json, size_t len, rp__ride_fields *f, rp_error *why);

/* Checks the fields (docs/handler.md §6), forms PU_DO, and fills the feature row of
 * model m.  `scratch` holds the feature name.  Returns 0, or -1 with why. */
int rp__ride_features(const rp__ride_fields *f, const rp_model *m, rp__buf *scratch, rp_row *row,
                      rp_error *why);

/* The part of rp__ride_features that reads the ride itself (PULocationID,
 * DOLocationID, trip_distance), without the event's "ride" and "ride_id":
 * the same checks, the same row.  Messages name a field with `prefix`
 * before it ("ride." for an event, "" for a bare ride).  Returns 0, or -1
 * with why (RP_ERR_INVALID, or RP_ERR_LIMIT for a PU_DO longer than
 * scratch's cap). */
int rp__ride_fields_features(const rp__ride_fields *f, const rp_model *m, const char *prefix,
                             rp__buf *scratch, rp_row *row, rp_error *why);

/* A location as a number for monitoring: a JSON number, or a string of
 * decimal digits (the handler takes both); anything else NaN. */
double rp__ride_location_value(const rp__json_value *v);

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
