/* ridepred: logging to stderr, readable text for people or one JSON object a
 * line for machines (docs/handler.md §10).  Process-wide; configure once at start. */
#ifndef RIDEPRED_LOG_H
#define RIDEPRED_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RP_LOG_DEBUG = 0,
    RP_LOG_INFO,
    RP_LOG_WARN,
    RP_LOG_ERROR,
    RP_LOG_OFF
} rp_log_level;
typedef enum {
    RP_LOG_TEXT = 0,
    RP_LOG_JSON
} rp_log_format;

void rp_log_configure(rp_log_level level, rp_log_format format);

/* Parses "json"/"text" and "debug"/"info"/"warn"/"error"/"off"
 * (case-insensitive).  Return 0, or -1 when the name is unknown. */
int rp_log_format_parse(const char *s, rp_log_format *out);
int rp_log_level_parse(const char *s, rp_log_level *out);

bool rp_log_enabled(rp_log_level level);

/* Logs a message.  What follows msg is a list of extra key/value string
 * pairs ending with NULL (the compiler checks the sentinel), e.g.
 * rp_log(RP_LOG_WARN, "record failed", "sequence_number", seq, "reason",
 * why, NULL).  Any bytes may be given:
 * JSON lines escape them as json.dumps does (ASCII only, \uXXXX; a byte
 * that is not UTF-8 as \udcXX).  Text lines keep valid UTF-8 readable and
 * escape control characters (\n, \t, \x01, \x7f, \u0085, \u2028), encoded
 * surrogates (\ud800) and bytes that are not UTF-8 (\xff): a line is always
 * one line of valid UTF-8.  A text value stands bare (key=value) unless it is
 * empty or has a space, '"', '=', '\\' or anything escaped; then it is
 * quoted, with '"' and '\\' escaped too. */
void rp_log(rp_log_level level, const char *msg, ...) __attribute__((sentinel));

/* The calling thread's request id (the Lambda runtime's
 * Lambda-Runtime-Aws-Request-Id), added to every line this thread logs
 * until cleared: "requestId" in JSON lines, requestId=... at the end of text
 * lines.  Copied (up to RP_LOG_REQUEST_ID_MAX bytes; longer ids are cut);
 * NULL or "" clears it.  Thread-local: other threads are not affected. */
#define RP_LOG_REQUEST_ID_MAX 127
void rp_log_set_request_id(const char *id);
/* The calling thread's request id, "" when none. */
const char *rp_log_request_id(void);

#ifdef __cplusplus
}
#endif
#endif
