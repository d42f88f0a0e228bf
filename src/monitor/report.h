/* A window compared with a reference (monitor.h), written for people and
 * programs: the JSON object of one window (issue 15's contract: the same
 * keys `ridepred monitor --json` prints one line of and the dashboard's
 * "windows" list holds), a table row, and UTC times as text.
 *
 * Everything appends to an rp__buf; failures are the buffer's sticky
 * `failed` flag.  No state: thread-safe. */
#ifndef RP_MONITOR_REPORT_H
#define RP_MONITOR_REPORT_H

#include <stdint.h>

#include "common/buf.h"
#include "monitor/monitor.h"

/* "YYYY-MM-DDTHH:MM:SSZ", or "YYYY-MM-DDTHH:MM:SS.ffffffZ" when the time
 * has microseconds (sub-second windows while serving); the proleptic
 * Gregorian calendar, years 0000 to 9999; others written as
 * "out-of-range". */
#define RP_MONITOR_TIME_MAX 32
void rp__monitor_time_iso(int64_t us, char out[RP_MONITOR_TIME_MAX]);

/* {"start": "...Z", "end": "...Z", "rides": n, "prediction_drift": x|null,
 *  "prediction_drifted": bool, "num_drifted_columns": k,
 *  "share_drifted_columns": x|null, "dataset_drift": bool,
 *  "share_missing_values": x|null,
 *  "columns": {"NAME": {"test": "ks"|...|null, "score": x|null,
 *                       "drifted": bool, "missing": n}, ...}}
 * Numbers as Python's repr (they read back bit for bit); NaN (an empty
 * column, an empty window) as null; a column that could not be tested
 * (RP_MONITOR_COLUMN_EMPTY) has test null. */
/* A number of a monitoring JSON object: as Python's json.dumps writes a
 * float (repr), null when it is not finite (NaN: no score). */
void rp__monitor_json_number(rp__buf *b, double x);

void rp__monitor_window_json(rp__buf *b, const rp__monitor_spec *spec, int64_t start_us, int64_t end_us,
                             const rp__monitor_result *r);

#endif
