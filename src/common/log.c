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
#include "common/json.h"
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
    } names[] = {{"debug", RP_LOG_DEBUG}, {"trace", RP_LOG_DEBUG},  {"info", RP_LOG_INFO},
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

static const char hexdig[] = "0123456789abcdef";

static void put_x(rp__buf *b, unsigned char c)
{
    char e[4] = {'\\', 'x', hexdig[c >> 4], hexdig[c & 15]};
    rp__buf_append(b, e, 4);
}

static void put_u(rp__buf *b, unsigned cp)
{
    char e[6] = {'\\',           'u', hexdig[(cp >> 12) & 15], hexdig[(cp >> 8) & 15], hexdig[(cp >> 4) & 15],
                 hexdig[cp & 15]};
    rp__buf_append(b, e, 6);
}

/* Appends n bytes of s to a text line.  Valid UTF-8 stays as it is;
 * whatever would break the line, the terminal or the encoding is escaped:
 * \n \r \t, the other C0 controls and DEL as \xNN, C1 controls and the
 * line / paragraph separators as \u0085 / \u2028, an encoded surrogate
 * (WTF-8, what a lone "\ud800" escape in JSON decodes to) as \ud800, and
 * every other byte that is not UTF-8 as \xNN.  quoted: also '"' and '\\'
 * (as \" and \\), so that a quoted value reads back unambiguously. */
static void text_put(rp__buf *b, const char *s, size_t n, bool quoted)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        const unsigned char *run = p;
        while (p < e && *p >= 0x20 && *p < 0x7F && !(quoted && (*p == '"' || *p == '\\')))
            p++;
        if (p > run)
            rp__buf_append(b, run, (size_t)(p - run));
        if (p >= e)
            break;
        unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
            case '\n': rp__buf_lit(b, "\\n"); break;
            case '\r': rp__buf_lit(b, "\\r"); break;
            case '\t': rp__buf_lit(b, "\\t"); break;
            case '"': rp__buf_lit(b, "\\\""); break;
            case '\\': rp__buf_lit(b, "\\\\"); break;
            default: put_x(b, c); break;
            }
            p++;
            continue;
        }
        size_t k = rp__utf8_seq(p, e);
        if (k == 2 && c == 0xC2 && p[1] < 0xA0) {
            put_u(b, p[1]); /* C1 control */
        } else if (k == 3 && c == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
            put_u(b, 0x2000u | (p[2] & 0x3Fu)); /* U+2028, U+2029 */
        } else if (k) {
            rp__buf_append(b, p, k);
        } else if (c == 0xED && e - p >= 3 && p[1] >= 0xA0 && p[1] <= 0xBF && (p[2] & 0xC0) == 0x80) {
            put_u(b, 0xD000u | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu)); /* a surrogate */
            k = 3;
        } else {
            put_x(b, c);
            k = 1;
        }
        p += k;
    }
}

/* True when a value can stand bare in a text line: not empty, no space,
 * '"', '=' or '\\', nothing text_put would escape. */
static bool text_bare(const char *s, size_t n)
{
    if (n == 0)
        return false;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c <= 0x20 || c == 0x7F || c == '"' || c == '=' || c == '\\')
                return false;
            p++;
            continue;
        }
        size_t k = rp__utf8_seq(p, e);
        if (!k || (k == 2 && c == 0xC2 && p[1] < 0xA0) ||
            (k == 3 && c == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)))
            return false;
        p += k;
    }
    return true;
}

/* A value of a text line: bare when it can be, else quoted and escaped. */
static void text_value(rp__buf *b, const char *v)
{
    if (!v)
        v = "";
    size_t n = strlen(v);
    if (text_bare(v, n)) {
        rp__buf_append(b, v, n);
        return;
    }
    rp__buf_putc(b, '"');
    text_put(b, v, n, true);
    rp__buf_putc(b, '"');
}

bool rp_log_enabled(rp_log_level level)
{
    return level >= g_level && level < RP_LOG_OFF;
}

void rp_log(rp_log_level level, const char *msg, ...)
{
    if (!rp_log_enabled(level))
        return;
    rp__buf b;
    rp__buf_init(&b, 16 * 1024);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
    va_list ap;
    va_start(ap, msg);
    if (g_format == RP_LOG_JSON) {
        rp__buf_printf(&b, "{\"timestamp\": \"%s\", \"level\": \"%s\", \"message\": ", when,
                       level_names[level]);
        rp__pyjson_utf8(&b, msg, strlen(msg));
        if (t_request_id[0]) {
            rp__buf_lit(&b, ", \"requestId\": ");
            rp__pyjson_utf8(&b, t_request_id, strlen(t_request_id));
        }
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            rp__buf_lit(&b, ", ");
            rp__pyjson_utf8(&b, k, strlen(k));
            rp__buf_lit(&b, ": ");
            rp__pyjson_utf8(&b, v ? v : "", v ? strlen(v) : 0);
        }
        rp__buf_lit(&b, "}\n");
    } else {
        rp__buf_printf(&b, "%s ridepred %-5s ", when, level_names[level]);
        text_put(&b, msg, strlen(msg), false);
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            rp__buf_putc(&b, ' ');
            text_put(&b, k, strlen(k), false);
            rp__buf_putc(&b, '=');
            text_value(&b, v);
        }
        if (t_request_id[0]) {
            rp__buf_lit(&b, " requestId=");
            text_value(&b, t_request_id);
        }
        rp__buf_putc(&b, '\n');
    }
    va_end(ap);
    if (b.data) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    rp__buf_cleanup(&b);
}
