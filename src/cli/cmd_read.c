/* ridepred read: records of a stream, decoded, one JSON line each (what
 * get-shard-iterator + get-records + jq + base64 --decode did by hand). */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyjson.h"

static const char help[] =
    "usage: ridepred read STREAM [--shard ID] [--from POS] [--limit N] [--follow]\n"
    "\n"
    "Prints the records of every shard (or one), one JSON line each:\n"
    "  {\"shard\": ..., \"sequence_number\": ..., \"partition_key\": ..., \"arrival\": ISO8601,\n"
    "   \"data\": <the record's JSON, or a string when it is not JSON>}\n"
    "Shards are read in shard-id order (parents before their children); empty\n"
    "pages do not end a read: it ends at the tip of every shard, or with\n"
    "--follow goes on until interrupted.\n"
    "\n"
    "options:\n"
    "  --shard ID            one shard (shardId-000000000000 or just 0)\n"
    "  --from POS            trim-horizon (default), latest, at:SEQ, after:SEQ,\n"
    "                        time:ISO8601 (e.g. time:2026-11-25T10:00:00Z)\n"
    "  --limit N             stop after N records\n"
    "  --follow              keep polling for new records until Ctrl-C\n" RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 done; 2 bad usage; 3 the stream could not be read.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

typedef struct reader {
    rp__buf line;
    unsigned long long printed, limit;
} reader;

static void iso8601(int64_t ms, char *out, size_t cap)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int on_record(void *ctx, const rp_stream_record *rec)
{
    reader *rd = ctx;
    if (rd->limit && rd->printed >= rd->limit)
        return 0;
    rp__buf *b = &rd->line;
    char when[64];
    iso8601(rec->arrival_ms, when, sizeof when);
    rp__buf_reset(b);
    rp__buf_printf(b, "{\"shard\": \"%s\", \"sequence_number\": \"%s\", \"partition_key\": ", rec->shard_id,
                   rec->sequence_number);
    rp__pyjson_utf8(b, rec->partition_key, rec->partition_key_len);
    rp__buf_printf(b, ", \"arrival\": \"%s\", \"data\": ", when);
    if (rp__json_compact(b, (const char *)rec->data, rec->data_len, 64) < 0)
        rp__pyjson_utf8(b, (const char *)rec->data, rec->data_len);
    rp__buf_lit(b, "}\n");
    if (!b->failed)
        fwrite(b->data, 1, b->len, stdout);
    rd->printed++;
    return 0;
}

static int parse_from(const char *s, rp_stream_iterator *type, const char **seq, int64_t *ts)
{
    *seq = NULL;
    *ts = 0;
    if (!strcmp(s, "trim-horizon"))
        *type = RP_STREAM_TRIM_HORIZON;
    else if (!strcmp(s, "latest"))
        *type = RP_STREAM_LATEST;
    else if (!strncmp(s, "at:", 3) && s[3])
        *type = RP_STREAM_AT_SEQUENCE_NUMBER, *seq = s + 3;
    else if (!strncmp(s, "after:", 6) && s[6])
        *type = RP_STREAM_AFTER_SEQUENCE_NUMBER, *seq = s + 6;
    else if (!strncmp(s, "time:", 5)) {
        if (rp__cli_parse_time_ms(s + 5, ts) < 0)
            return -1;
        *type = RP_STREAM_AT_TIMESTAMP;
    } else {
        return -1;
    }
    return 0;
}

int rp__cmd_read(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shard", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        RP_LOG_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config cfg = {0};
    rp__cli_log_opts lo = {0};
    const char *shard = NULL, *from = "trim-horizon";
    unsigned long long limit = 0;
    bool follow = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &cfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 's': shard = optarg; break;
        case 'f': from = optarg; break;
        case 'n': {
            long long v;
            if (rp__cli_parse_int("--limit", optarg, 1, LLONG_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            limit = (unsigned long long)v;
            break;
        }
        case 'F': follow = true; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    if (argc - optind != 1) {
        fprintf(stderr, "ridepred read: needs one STREAM\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    rp_stream_iterator type;
    const char *seq;
    int64_t ts;
    if (parse_from(from, &type, &seq, &ts) < 0) {
        fprintf(
            stderr,
            "ridepred read: --from must be trim-horizon, latest, at:SEQ, after:SEQ or time:ISO8601, not '%s'\n",
            from);
        return RP_EXIT_USAGE;
    }
    char shard_id[RP_STREAM_SHARD_ID_MAX];
    if (shard) {
        char *end;
        unsigned long v = strtoul(shard, &end, 10);
        if (!*end && *shard)
            snprintf(shard_id, sizeof shard_id, "shardId-%012lu", v);
        else
            snprintf(shard_id, sizeof shard_id, "%s", shard);
    }
    rp_stream_conn *s = NULL;
    char name[RP_STREAM_NAME_MAX + 1];
    if (rp__cli_open_stream(argv[optind], &cfg, &s, name) < 0)
        return RP_EXIT_FAILURE;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rp_error err;
    int rc = RP_EXIT_OK;
    rp_stream_shard *shards = NULL;
    size_t n = 0;
    char(*iters)[RP_STREAM_ITER_MAX] = NULL;
    reader rd = {.limit = limit};
    rp__buf_init(&rd.line, 16u << 20);
    if (rp_stream_list_shards(s, name, &shards, &n, &err) < 0)
        goto fail;
    if (shard) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(shards[i].shard_id, shard_id) || !strcmp(shards[i].shard_id, shard)) /* Kafka: "0" */
                shards[k++] = shards[i];
        if (k == 0) {
            rp_error_set(&err, RP_ERR_NOT_FOUND, "stream %s has no shard %s", name,
                         rp_stream_conn_backend(s) == RP_STREAM_BACKEND_KAFKA ? shard : shard_id);
            goto fail;
        }
        n = k;
    }
    iters = calloc(n ? n : 1, sizeof *iters);
    if (!iters)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (rp_stream_get_iterator(s, name, shards[i].shard_id, type, seq, ts, iters[i], &err) < 0)
            goto fail;
    /* Without --follow: each shard to its tip in turn.  With it: round
     * robin over the shards, sleeping when a whole round was empty. */
    bool any_open = true;
    while (!stop && any_open && !(limit && rd.printed >= limit)) {
        any_open = false;
        unsigned long long before = rd.printed;
        for (size_t i = 0; i < n && !stop; i++) {
            while (iters[i][0] && !stop && !(limit && rd.printed >= limit)) {
                int64_t behind = 0;
                unsigned long long got = rd.printed;
                char next[RP_STREAM_ITER_MAX];
                uint32_t page = limit && limit - rd.printed < 10000 ? (uint32_t)(limit - rd.printed) : 10000;
                if (rp_stream_get_records(s, iters[i], page, on_record, &rd, next, &behind, &err) < 0)
                    goto fail;
                memcpy(iters[i], next, sizeof next);
                if (follow)
                    break;
                if (rd.printed == got && behind == 0)
                    break; /* at the tip of this shard */
            }
            if (iters[i][0] && follow)
                any_open = true;
        }
        if (follow && rd.printed == before && !stop) {
            struct timespec nap = {0, 200 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        fflush(stdout);
    }
    goto out;
fail:
    rp__cli_error("%s", err.msg);
    rc = RP_EXIT_FAILURE;
out:
    fflush(stdout);
    rp__buf_cleanup(&rd.line);
    free(iters);
    free(shards);
    rp_stream_close(s);
    return rc;
}
