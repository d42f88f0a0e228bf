/* See trips.h.  The Parquet and CSV readers fill rp_trips. */
#include "data/trips.h"

#include <stdlib.h>

const char *const rp_trips_pickup_names[] = {"lpep_pickup_datetime", "tpep_pickup_datetime",
                                             "pickup_datetime", NULL};
const char *const rp_trips_dropoff_names[] = {"lpep_dropoff_datetime", "tpep_dropoff_datetime",
                                              "dropOff_datetime", "dropoff_datetime", NULL};
const char *const rp_trips_pu_names[] = {"PULocationID", "PUlocationID", NULL};
const char *const rp_trips_do_names[] = {"DOLocationID", "DOlocationID", NULL};
const char *const rp_trips_distance_names[] = {"trip_distance", NULL};

void rp_trips_free(rp_trips *t)
{
    if (!t)
        return;
    free(t->pickup_us);
    free(t->dropoff_us);
    free(t->pu);
    free(t->dor);
    free(t->distance);
    *t = (rp_trips){0};
}

bool rp_trips_keep(const rp_trips *t, size_t i, double *duration_min)
{
    int64_t a = t->pickup_us[i], b = t->dropoff_us[i];
    if (a == RP_TRIPS_NULL_TIME || b == RP_TRIPS_NULL_TIME || t->pu[i] == RP_TRIPS_NULL_ID ||
        t->dor[i] == RP_TRIPS_NULL_ID)
        return false;
    /* pandas: Timedelta.total_seconds() is microseconds / 1e6, then / 60. */
    double d = ((double)(b - a) / 1e6) / 60.0;
    if (!(d >= 1.0 && d <= 60.0))
        return false;
    *duration_min = d;
    return true;
}
