/* Options of monitoring while serving (src/monitor/live.h,
 * docs/monitoring.md "While serving"): consume and serve take them alike;
 * lambda reads the same settings from its environment. */
#ifndef RP_CLI_MONITOR_OPTS_H
#define RP_CLI_MONITOR_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "monitor/live.h"

#define RP_MONITOR_OPTS_HELP                                                                                 \
    "  --monitor-reference FILE\n"                                                                           \
    "                        monitor the rides against this reference sample\n"                              \
    "                        (ridepred-reference.csv, as `ridepred train` or\n"                              \
    "                        `ridepred monitor --write-reference` write it; default:\n"                      \
    "                        $RIDEPRED_MONITOR_REFERENCE, else that file in the\n"                           \
    "                        model's directory when there is one; none: off)\n"                              \
    "  --monitor-window D    window length, by the rides' arrival: 90s, 30m, 1h\n"                           \
    "                        (default), 1d, or seconds\n"                                                    \
    "  --monitor-cap N       rides sampled per window (default 100000; beyond it a\n"                        \
    "                        uniform reservoir sample; 64 bytes each)\n"                                     \
    "  --monitor-db URL      also write a row per window to PostgreSQL\n"                                    \
    "                        (postgresql://...; default: $RIDEPRED_MONITOR_DB)\n"                            \
    "  --no-monitor          no monitoring, even with a reference\n"

/* getopt_long entries; their values are 0x400..0x404. */
#define RP_MONITOR_LONGOPTS                                                                                  \
    {"monitor-reference", required_argument, NULL, 0x400},                                                   \
        {"monitor-window", required_argument, NULL, 0x401}, {"monitor-cap", required_argument, NULL, 0x402}, \
        {"monitor-db", required_argument, NULL, 0x403},                                                      \
    {                                                                                                        \
        "no-monitor", no_argument, NULL, 0x404                                                               \
    }

typedef struct rp__cli_monitor_opts {
    const char *reference, *db; /* NULL: not given */
    double window_s;            /* 0: not given */
    size_t cap;                 /* 0: not given */
    bool off;
    char default_ref[4096]; /* the reference found in the model's directory */
} rp__cli_monitor_opts;

/* Takes one of those options: 1 when c was one, 0 when not, -1 on a bad
 * value (printed; exit 2). */
int rp__cli_monitor_opt(int c, const char *arg, rp__cli_monitor_opts *o);

/* "90s", "30m", "1h", "1d" or seconds ("0.5") into seconds; -1 when it
 * does not parse or is outside 0.001 s .. 31 days. */
int rp__cli_parse_window(const char *s, double *out);

/* After parsing: the monitoring configuration, or NULL when off.  The
 * reference is --monitor-reference, else $RIDEPRED_MONITOR_REFERENCE, else
 * RP_MONITOR_REFERENCE_FILE in model_location when that is a local
 * directory holding it; with none (or --no-monitor) monitoring is off and
 * one info line says so.  The window comes from --monitor-window (else
 * $RIDEPRED_MONITOR_WINDOW), the database from --monitor-db (else
 * $RIDEPRED_MONITOR_DB).  cfg points into o and the environment.  Returns
 * 0, or -1 printed (a bad $RIDEPRED_MONITOR_WINDOW: exit 2). */
int rp__cli_monitor_config(rp__cli_monitor_opts *o, const char *model_location, rp__monitor_live_config *cfg,
                           const rp__monitor_live_config **out);

#endif
