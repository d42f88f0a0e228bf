/* ridepred replay: the rides of a TLC trip file into a stream. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "data/trips.h"
#include "pipeline/replay.h"
#include "ridepred/log.h"

static const char help[] =
    "usage: ridepred replay FILE --to STREAM [--rate N/s] [--limit N] [--start ROW]\n"
    "\n"
    "Sends the rides of a TLC trip file (Parquet, or CSV with a header line) to\n"
    "STREAM as the ride events of the Python function, in file order:\n"
    "  {\"ride\": {\"PULocationID\": P, \"DOLocationID\": Q, \"trip_distance\": X}, \"ride_id\": N}\n"
    "N being the row number in the file (from 0) and the partition key str(N).\n"
    "Every row is sent, also rows the course's training filter drops.  A stream\n"
    "that does not take rides (unreachable, throttled, deleted for a while) is\n"
    "waited for, with backoff and a log line each step, until it does: no ride is\n"
    "dropped.  A stream that does not exist when the replay starts is an error.\n"
    "\n"
    "options:\n"
    "  --to STREAM           the stream (kinesis:NAME, local:NAME or NAME)\n"
    "  --rate N[/s]          rides per second (default: as fast as possible)\n"
    "  --limit N             send at most N rides\n"
    "  --start ROW           first row to send (default 0)\n"
    "  --quiet               no progress line on a terminal\n" RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "Prints a summary line (JSON) on stdout.  SIGINT or SIGTERM stops after the\n"
    "batch in hand; the summary is printed, then the process ends by that\n"
    "signal, so that a calling shell script sees the interruption.\n"
    "\n"
    "exit status: 0 every ride sent; 1 some refused by the stream; 2 bad usage;\n"
    "3 could not run (file, stream).\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = sig;
}

static void progress(void *ctx, const rp__replay_stats *st, size_t total)
{
    (void)ctx;
    double rate = st->seconds > 0 ? (double)st->sent / st->seconds : 0.0;
    fprintf(stderr, "\rreplay: %zu / %zu rides (%.0f%%), %.0f rides/s ", st->sent + st->failed, total,
            total ? 100.0 * (double)(st->sent + st->failed) / (double)total : 100.0, rate);
}

/* Rides per second: "N" or "N/s". */
static int parse_rate(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && !strcmp(end, "/s"))
        end += 2;
    if (end == s || *end || !(v >= 0) || v > 1e15) {
        fprintf(
            stderr,
            "ridepred replay: --rate must be a non-negative number of rides per second (N or N/s), not '%s'\n",
            s);
        return -1;
    }
    *out = v;
    return 0;
}

int rp__cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'},
        {"start", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        RP_LOG_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config scfg = {0};
    const char *to = NULL;
    rp__cli_log_opts lo = {0};
    double rate = 0;
    long long limit = 0, start = 0;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &scfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 't': to = optarg; break;
        case 'r':
            if (parse_rate(optarg, &rate) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'l':
            if (rp__cli_parse_int("--limit", optarg, 0, LLONG_MAX, &limit) < 0)
                return RP_EXIT_USAGE;
            break;
        case 's':
            if (rp__cli_parse_int("--start", optarg, 0, LLONG_MAX, &start) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'q': quiet = true; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    if (argc - optind != 1 || !to) {
        fprintf(stderr, "ridepred replay: needs one FILE and --to STREAM\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    const char *file = argv[optind];

    rp_error err;
    rp__trips t = {0};
    rp_stream_conn *s = NULL;
    char name[RP_STREAM_NAME_MAX + 1];
    int rc = RP_EXIT_FAILURE;
    /* Only the rows to send are read: start + limit. */
    size_t need = limit > 0 ? (size_t)start + (size_t)limit : 0;
    if (rp__trips_read(file, need, &t, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    if ((size_t)start > t.n) {
        rp__cli_error("--start %zu is past the end of %s (%zu rows)", (size_t)start, file, t.n);
        goto out;
    }
    if (rp__cli_open_stream(to, &scfg, &s, name) < 0)
        goto out;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rp__replay_opts ro = {.start = (size_t)start, .limit = (size_t)limit, .rate = rate, .stop = &stop_flag};
    bool tty = !quiet && isatty(STDERR_FILENO);
    if (tty)
        ro.progress = progress;
    rp__replay_stats st;
    int r = rp__replay_run(s, name, &t, &ro, &st, &err);
    if (tty)
        fputc('\n', stderr);
    if (r < 0) {
        rp__cli_error("replay to %s stopped after %zu rides: %s", to, st.sent, err.msg);
        goto out;
    }
    rp__buf line;
    rp__buf_init(&line, 1 << 16);
    rp__buf_lit(&line, "{\"file\": ");
    rp__pyjson_utf8(&line, file, strlen(file));
    rp__buf_printf(&line,
                   ", \"stream\": \"%s:%s\", \"rows\": %zu, \"sent\": %zu, \"failed\": %zu, "
                   "\"seconds\": %.3f, \"rides_per_second\": %.0f, \"stopped\": %s}\n",
                   rp_stream_backend_name(rp_stream_conn_backend(s)), name, t.n, st.sent, st.failed,
                   st.seconds, st.seconds > 0 ? (double)st.sent / st.seconds : 0.0,
                   stop_flag ? "true" : "false");
    fwrite(line.data, 1, line.len, stdout);
    rp__buf_cleanup(&line);
    fflush(stdout);
    rc = st.failed ? RP_EXIT_FUNCTION_ERROR : RP_EXIT_OK;
out:
    rp_stream_close(s);
    rp__trips_free(&t);
    if (stop_flag) {
        /* Interrupted: end by the signal (the convention shells rely on to
         * stop a script at Ctrl-C), after the summary. */
        int sig = (int)stop_flag;
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return rc;
}
