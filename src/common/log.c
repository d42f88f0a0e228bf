/* Logging to stderr: text for people, JSON lines for machines.  One line is
 * formatted into a stack buffer and written with a single write(2), so lines
 * from concurrent threads or processes do not interleave. */
#include "ridepred/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/pyjson.h"

static rp_log_level g_level = RP_LOG_INFO;
static rp_log_format g_format = RP_LOG_TEXT;

/* The request id of the invocation this thread is serving (see log.h). */
static _Thread_local char t_request_id[RP_LOG_REQUEST_ID_MAX + 1];

void rp_log_set_request_id(const char *id)
{
    if (!id) {
        t_request_id[0] = '\0';
        return;
    }
    size_t n = strnlen(id, RP_LOG_REQUEST_ID_MAX);
    memcpy(t_request_id, id, n);
    t_request_id[n] = '\0';
}

const char *rp_log_request_id(void)
{
    return t_request_id;
}

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void rp_log_configure(rp_log_level level, rp_log_format format)
{
    g_level = level;
    g_format = format;
}

int rp_log_format_parse(const char *s, rp_log_format *out)
{
    if (!strcasecmp(s, "json"))
        *out = RP_LOG_JSON;
    else if (!strcasecmp(s, "text"))
        *out = RP_LOG_TEXT;
    else
        return -1;
    return 0;
}

int rp_log_level_parse(const char *s, rp_log_level *out)
{
    static const struct {
        const char *name;
        rp_log_level level;
    } names[] = {{"debug", RP_LOG_DEBUG}, {"trace", RP_LOG_DEBUG}, {"info", RP_LOG_INFO},
                 {"warn", RP_LOG_WARN},   {"warning", RP_LOG_WARN}, {"error", RP_LOG_ERROR},
                 {"fatal", RP_LOG_ERROR}, {"off", RP_LOG_OFF}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i].name)) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

void rp_log_configure_from_env(void)
{
    const char *f = getenv("AWS_LAMBDA_LOG_FORMAT");
    if (f && *f)
        rp_log_format_parse(f, &g_format);
    const char *l = getenv("RIDEPRED_LOG_LEVEL");
    if (!l || !*l)
        l = getenv("AWS_LAMBDA_LOG_LEVEL");
    if (l && *l)
        rp_log_level_parse(l, &g_level);
}

bool rp_log_enabled(rp_log_level level)
{
    return level >= g_level && level < RP_LOG_OFF;
}

void rp_log(rp_log_level level, const char *msg, ...)
{
    if (!rp_log_enabled(level))
        return;
    rp_buf b;
    rp_buf_init(&b, 16 * 1024);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
    va_list ap;
    va_start(ap, msg);
    if (g_format == RP_LOG_JSON) {
        rp_buf_printf(&b, "{\"timestamp\": \"%s\", \"level\": \"%s\", \"message\": ", when,
                      level_names[level]);
        rp_pyjson_utf8(&b, msg, strlen(msg));
        if (t_request_id[0]) {
            rp_buf_lit(&b, ", \"requestId\": ");
            rp_pyjson_utf8(&b, t_request_id, strlen(t_request_id));
        }
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            rp_buf_lit(&b, ", ");
            rp_pyjson_utf8(&b, k, strlen(k));
            rp_buf_lit(&b, ": ");
            rp_pyjson_utf8(&b, v ? v : "", v ? strlen(v) : 0);
        }
        rp_buf_lit(&b, "}\n");
    } else {
        rp_buf_printf(&b, "%s ridepred %-5s %s", when, level_names[level], msg);
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            rp_buf_printf(&b, " %s=", k);
            if (v && *v && !strpbrk(v, " \"=\n\t"))
                rp_buf_puts(&b, v);
            else
                rp_pyjson_utf8(&b, v ? v : "", v ? strlen(v) : 0);
        }
        if (t_request_id[0]) {
            rp_buf_lit(&b, " requestId=");
            if (!strpbrk(t_request_id, " \"=\n\t"))
                rp_buf_puts(&b, t_request_id);
            else
                rp_pyjson_utf8(&b, t_request_id, strlen(t_request_id));
        }
        rp_buf_putc(&b, '\n');
    }
    va_end(ap);
    if (b.data) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    rp_buf_cleanup(&b);
}
