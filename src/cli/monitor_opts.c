/* Monitoring options: see monitor_opts.h. */
#include "cli/monitor_opts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ridepred/log.h"

int rp__cli_parse_window(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v))
        return -1;
    double unit = 1;
    if (*end) {
        if (end[1])
            return -1;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -1;
        }
    }
    v *= unit;
    if (!(v >= 0.001 && v <= RP_MONITOR_LIVE_WINDOW_MAX))
        return -1;
    *out = v;
    return 0;
}

int rp__cli_monitor_opt(int c, const char *arg, rp__cli_monitor_opts *o)
{
    switch (c) {
    case 0x400: o->reference = arg; return 1;
    case 0x401:
        if (rp__cli_parse_window(arg, &o->window_s) < 0) {
            rp__cli_error("--monitor-window must be a duration from 0.001s to 31d (90s, 30m, 1h, 1d, or "
                          "seconds), not '%s'",
                          arg);
            return -1;
        }
        return 1;
    case 0x402: {
        long long v;
        if (rp__cli_parse_int("--monitor-cap", arg, 1, RP_MONITOR_LIVE_CAP_MAX, &v) < 0)
            return -1;
        o->cap = (size_t)v;
        return 1;
    }
    case 0x403: o->db = arg; return 1;
    case 0x404: o->off = true; return 1;
    default: return 0;
    }
}

int rp__cli_monitor_config(rp__cli_monitor_opts *o, const char *model_location, rp__monitor_live_config *cfg,
                           const rp__monitor_live_config **out)
{
    *out = NULL;
    if (o->off) {
        rp_log(RP_LOG_INFO, "monitoring: off (--no-monitor)", NULL);
        return 0;
    }
    const char *ref = o->reference;
    if (!ref || !*ref)
        ref = getenv("RIDEPRED_MONITOR_REFERENCE");
    if ((!ref || !*ref) && model_location && strncmp(model_location, "s3://", 5) != 0) {
        struct stat st;
        int n = snprintf(o->default_ref, sizeof o->default_ref, "%s/%s", model_location,
                         RP_MONITOR_REFERENCE_FILE);
        if (n > 0 && (size_t)n < sizeof o->default_ref && stat(model_location, &st) == 0 &&
            S_ISDIR(st.st_mode) && stat(o->default_ref, &st) == 0)
            ref = o->default_ref;
    }
    if (!ref || !*ref) {
        rp_log(RP_LOG_INFO,
               "monitoring: off (no reference: give --monitor-reference, or keep " RP_MONITOR_REFERENCE_FILE
               " in the model's directory)",
               NULL);
        return 0;
    }
    double window = o->window_s;
    const char *env = getenv("RIDEPRED_MONITOR_WINDOW");
    if (!window && env && *env && rp__cli_parse_window(env, &window) < 0) {
        rp__cli_error("RIDEPRED_MONITOR_WINDOW must be a duration from 0.001s to 31d (90s, 30m, 1h, 1d, or "
                      "seconds), not '%s'",
                      env);
        return -1;
    }
    const char *db = o->db;
    if (!db || !*db)
        db = getenv("RIDEPRED_MONITOR_DB");
    *cfg = (rp__monitor_live_config){
        .reference = ref, .window_s = window, .cap = o->cap, .db_url = db && *db ? db : NULL};
    *out = cfg;
    char w[32], cap[24];
    snprintf(w, sizeof w, "%g", window ? window : RP_MONITOR_LIVE_WINDOW_DEFAULT);
    snprintf(cap, sizeof cap, "%zu", o->cap ? o->cap : (size_t)RP_MONITOR_LIVE_CAP_DEFAULT);
    rp_log(RP_LOG_INFO, "monitoring: on", "reference", ref, "window_seconds", w, "cap", cap, "database",
           cfg->db_url ? "yes" : "no", NULL);
    return 0;
}
