/* ridepred: logging to stderr, readable text for people or one JSON object a
 * line for machines (SPEC §4).  Process-wide; configure once at start. */
#ifndef RIDEPRED_LOG_H
#define RIDEPRED_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RP_LOG_DEBUG = 0, RP_LOG_INFO, RP_LOG_WARN, RP_LOG_ERROR, RP_LOG_OFF } rp_log_level;
typedef enum { RP_LOG_TEXT = 0, RP_LOG_JSON } rp_log_format;

void rp_log_configure(rp_log_level level, rp_log_format format);

/* Reads AWS_LAMBDA_LOG_FORMAT (JSON|Text) and AWS_LAMBDA_LOG_LEVEL /
 * RIDEPRED_LOG_LEVEL (DEBUG, INFO, WARN, ERROR).  Flags applied later win. */
void rp_log_configure_from_env(void);

/* Parses "json"/"text" and "debug"/"info"/"warn"/"error"/"off"
 * (case-insensitive).  Return 0, or -1 when the name is unknown. */
int rp_log_format_parse(const char *s, rp_log_format *out);
int rp_log_level_parse(const char *s, rp_log_level *out);

bool rp_log_enabled(rp_log_level level);

/* Logs a message.  `fields` is an optional list of extra key/value string
 * pairs ending with NULL, e.g. rp_logf(RP_LOG_WARN, "record failed",
 * "sequence_number", seq, "reason", why, NULL). Values are escaped. */
void rp_log(rp_log_level level, const char *msg, ...);

#ifdef __cplusplus
}
#endif
#endif
