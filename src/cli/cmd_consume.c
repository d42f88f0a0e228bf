/* ridepred consume: Lambda's Kinesis event source mapping in one process
 * (src/consume/consumer.h, docs/consumer.md). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/function_opts.h"
#include "cli/monitor_opts.h"
#include "consume/consumer.h"
#include "consume/lease_store.h"
#include "function/function.h"

static const char help[] =
    "usage: ridepred consume --from IN --to OUT [--model PATH] [OPTIONS]\n"
    "\n"
    "Reads every shard of the stream IN, runs the handler on Lambda-shaped\n"
    "Kinesis events of its records (as Lambda's event source mapping does),\n"
    "publishes the predictions to OUT, then checkpoints.  At least once: a\n"
    "record is checkpointed only after its prediction is stored in OUT (or it\n"
    "went to the dead-letter stream); after a crash the next start resumes\n"
    "from the last checkpoint.  Order is kept per shard; a closed parent shard\n"
    "is read to its end before its children.  Several consumers with the same\n"
    "--group share the shards through leases.  SIGINT/SIGTERM: finish the batch\n"
    "in hand, checkpoint, exit 0.  docs/consumer.md has the details.\n"
    "\n"
    "A Kafka source (kafka:TOPIC) is read as a member of the consumer group\n"
    "--group: the cluster assigns the partitions and keeps the offsets (no\n"
    "checkpoint store, no leases); see docs/kafka.md.\n"
    "\n"
    "options:\n"
    "  --from IN             the source stream (kinesis:NAME, local:NAME,\n"
    "                        kafka:TOPIC or NAME)\n"
    "  --to OUT              the predictions stream (default: $PREDICTIONS_STREAM_NAME,\n"
    "                        else ride_predictions)\n" RP_FUNCTION_MODEL_OPTS_HELP
    "  --batch-size N        records per event, 1..10000 (default 100); an event also\n"
    "                        stays under the handler's 6 MiB limit\n"
    "  --batch-window-ms MS  wait up to MS for a full batch (default 0: invoke as soon\n"
    "                        as records are read; at most 300000)\n"
    "  --starting-position P trim-horizon (default), latest, or time:ISO8601, for\n"
    "                        shards the group has no checkpoint for yet (children\n"
    "                        of resharding found later start at trim-horizon)\n"
    "  --max-retries N       retries of records the handler refuses (bad data) before\n"
    "                        they go to the dead-letter stream (default 3; -1:\n"
    "                        forever).  An unavailable output, dead-letter or source\n"
    "                        stream is never the records' fault: the shard waits and\n"
    "                        retries for as long as it takes, nothing is dropped\n"
    "  --max-record-age S    drop records older than S seconds (1..604800), each\n"
    "                        logged and counted (default -1: never)\n"
    "  --bisect-on-error     split a batch that fails as a whole in two and retry the\n"
    "                        halves separately\n"
    "  --exactly-once        Kafka to Kafka: each batch's predictions and the\n"
    "                        partition's offset in one Kafka transaction, so a\n"
    "                        read_committed reader sees every prediction once\n"
    "  --max-in-flight N     Kafka output: batches per shard whose predictions may\n"
    "                        await the cluster's acknowledgements while the next\n"
    "                        batches are handled, 1..16 (default 4; 1: each batch\n"
    "                        waits).  Offsets are committed in order, once acknowledged;\n"
    "                        after a crash, at most N batches per shard are published twice\n"
    "  --dead-letter STREAM  where records go after their retries, one JSON record\n"
    "                        each (without it they are logged and dropped)\n"
    "  --group NAME          the consumer group sharing checkpoints and leases\n"
    "                        (default: the output stream, e.g. local:ride_predictions)\n"
    "  --checkpoint-store S  where checkpoints and leases live: PATH, a SQLite file\n"
    "                        for the consumers of one machine (default:\n"
    "                        checkpoints.db next to the local store for a local\n"
    "                        source, else ~/.local/state/ridepred/checkpoints.db), or\n"
    "                        dynamodb:TABLE, a KCL-compatible lease table for\n"
    "                        consumers on many machines (created when missing;\n"
    "                        endpoint from AWS_ENDPOINT_URL_DYNAMODB).  Default:\n"
    "                        $RIDEPRED_CHECKPOINT_STORE\n"
    "  --lease-ms MS         shard lease time (default 10000; renewed every third)\n"
    "  --checkpoint-interval-ms MS\n"
    "                        write a shard's checkpoint at most every MS (default 0:\n"
    "                        after every batch); the latest one is written at the\n"
    "                        interval, when the shard idles, and at stop or hand-over.\n"
    "                        Fewer lease table calls; after a crash up to MS of\n"
    "                        records are read again.  Not for Kafka sources\n"
    "  --poll-ms MS          idle poll interval per shard (default 10 local, 250 Kinesis)\n"
    "  --log-interval-ms MS  summary log interval (default 5000)\n"
    "  --metrics-listen ADDR serve Prometheus metrics at http://ADDR/metrics\n"
    "                        (HOST:PORT; port 0 picks a free one, logged)\n" RP_MONITOR_OPTS_HELP
        RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP "  -h, --help            this help\n"
    "\n"
    "exit status: 0 stopped by SIGINT/SIGTERM after checkpointing; 2 bad usage;\n"
    "3 could not run (model, streams, checkpoint store).\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int parse_u32(const char *opt, const char *s, long min, long max, long *out)
{
    long long v;
    if (rp__cli_parse_int(opt, s, min, max, &v) < 0)
        return -1;
    *out = (long)v;
    return 0;
}

static int parse_start(const char *s, rp_stream_iterator *type, int64_t *ts)
{
    if (!strcmp(s, "trim-horizon") || !strcmp(s, "TRIM_HORIZON")) {
        *type = RP_STREAM_TRIM_HORIZON;
        return 0;
    }
    if (!strcmp(s, "latest") || !strcmp(s, "LATEST")) {
        *type = RP_STREAM_LATEST;
        return 0;
    }
    if (!strncmp(s, "time:", 5) && rp__cli_parse_time_ms(s + 5, ts) == 0) {
        *type = RP_STREAM_AT_TIMESTAMP;
        return 0;
    }
    fprintf(
        stderr,
        "ridepred consume: --starting-position must be trim-horizon, latest or time:ISO8601 (e.g. time:2026-11-25T10:00:00Z), not '%s'\n",
        s);
    return -1;
}

/* The checkpoint store when --checkpoint-store is not given: checkpoints.db
 * next to the local store's file for a local source, else in ridepred's
 * state directory (rp__cli_state_path).  Points cc->checkpoint_store at buf.
 * Returns 0, or -1 printed. */
static int default_checkpoint_store(rp__consumer_config *cc, char *buf, size_t cap)
{
    rp_stream_backend b;
    char name[RP_STREAM_NAME_MAX + 1];
    rp_error err;
    if (rp_stream_parse_name(cc->from, &cc->streams, &b, name, &err) < 0) {
        rp__cli_error("--from: %s", err.msg);
        return -1;
    }
    const char *store = cc->streams.local_store;
    const char *slash = store ? strrchr(store, '/') : NULL;
    int n = -1;
    if (b == RP_STREAM_BACKEND_LOCAL && store && *store)
        n = slash ? snprintf(buf, cap, "%.*s/checkpoints.db", (int)(slash - store), store)
                  : snprintf(buf, cap, "checkpoints.db");
    else if (rp__cli_state_path("checkpoints.db", buf, cap) == 0)
        n = (int)strlen(buf);
    if (n < 0 || (size_t)n >= cap) {
        rp__cli_error("no checkpoint store: give --checkpoint-store, or set XDG_STATE_HOME or HOME");
        return -1;
    }
    cc->checkpoint_store = buf;
    return 0;
}

int rp__cmd_consume(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"batch-size", required_argument, NULL, 'b'},
        {"batch-window-ms", required_argument, NULL, 'w'},
        {"starting-position", required_argument, NULL, 's'},
        {"max-retries", required_argument, NULL, 'R'},
        {"max-record-age", required_argument, NULL, 'A'},
        {"bisect-on-error", no_argument, NULL, 'B'},
        {"exactly-once", no_argument, NULL, 'X'},
        {"max-in-flight", required_argument, NULL, 'F'},
        {"dead-letter", required_argument, NULL, 'D'},
        {"group", required_argument, NULL, 'g'},
        {"checkpoint-store", required_argument, NULL, 'c'},
        {"lease-ms", required_argument, NULL, 'l'},
        {"checkpoint-interval-ms", required_argument, NULL, 'C'},
        {"poll-ms", required_argument, NULL, 'p'},
        {"log-interval-ms", required_argument, NULL, 'i'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        RP_FUNCTION_MODEL_LONGOPTS,
        RP_MONITOR_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static rp__cli_monitor_opts mo;
    memset(&mo, 0, sizeof mo);
    rp__monitor_live_config mcfg;
    rp__consumer_config cc = {
        .batch_size = 100, .start_type = RP_STREAM_TRIM_HORIZON, .max_retries = 3, .max_record_age_s = -1};
    rp__cli_function_opts fo = {0};
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_function_opt(c, optarg, &fo);
        if (r == 0)
            r = rp__cli_monitor_opt(c, optarg, &mo);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'f': cc.from = optarg; break;
        case 't': fo.predictions_stream = optarg; break;
        case 'b':
            if (parse_u32("--batch-size", optarg, 1, RP_CONSUME_BATCH_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            cc.batch_size = (uint32_t)v;
            break;
        case 'w':
            if (parse_u32("--batch-window-ms", optarg, 0, RP_CONSUME_WINDOW_MS_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            cc.batch_window_ms = (uint32_t)v;
            break;
        case 'C':
            if (parse_u32("--checkpoint-interval-ms", optarg, 0, RP_CONSUME_CKPT_MS_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            cc.ckpt_interval_ms = (uint32_t)v;
            break;
        case 's':
            if (parse_start(optarg, &cc.start_type, &cc.start_timestamp_ms) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'R':
            if (parse_u32("--max-retries", optarg, -1, RP_CONSUME_RETRIES_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            cc.max_retries = (int32_t)v;
            break;
        case 'A':
            if (parse_u32("--max-record-age", optarg, -1, RP_CONSUME_RECORD_AGE_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            if (v == 0) {
                fprintf(stderr, "ridepred consume: --max-record-age must be -1 (never) or 1 to %d seconds\n",
                        RP_CONSUME_RECORD_AGE_MAX);
                return RP_EXIT_USAGE;
            }
            cc.max_record_age_s = (int32_t)v;
            break;
        case 'B': cc.bisect_on_error = true; break;
        case 'X': cc.exactly_once = true; break;
        case 'F':
            if (parse_u32("--max-in-flight", optarg, 1, RP_CONSUME_IN_FLIGHT_MAX, &v) < 0)
                return RP_EXIT_USAGE;
            cc.max_in_flight = (uint32_t)v;
            break;
        case 'D': cc.dead_letter = optarg; break;
        case 'g':
            if (!*optarg || strlen(optarg) > 256) {
                fprintf(stderr, "ridepred consume: --group must be 1 to 256 characters\n");
                return RP_EXIT_USAGE;
            }
            cc.group = optarg;
            break;
        case 'c': cc.checkpoint_store = optarg; break;
        case 'l':
            if (parse_u32("--lease-ms", optarg, 300, 3600000, &v) < 0)
                return RP_EXIT_USAGE;
            cc.lease_ms = (uint32_t)v;
            break;
        case 'p':
            if (parse_u32("--poll-ms", optarg, 1, 60000, &v) < 0)
                return RP_EXIT_USAGE;
            cc.poll_ms = (uint32_t)v;
            break;
        case 'i':
            if (parse_u32("--log-interval-ms", optarg, 100, 3600000, &v) < 0)
                return RP_EXIT_USAGE;
            cc.log_interval_ms = (uint32_t)v;
            break;
        case 'M': cc.metrics_listen = optarg; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(fo.log.format, fo.log.level) < 0)
        return RP_EXIT_USAGE;
    if (optind < argc) {
        fprintf(stderr, "ridepred consume: unexpected argument '%s'\n\n%s", argv[optind], help);
        return RP_EXIT_USAGE;
    }
    if (!cc.from) {
        fprintf(stderr, "ridepred consume: --from STREAM is required\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    const char *tr = getenv("TEST_RUN");
    if (tr && !strcmp(tr, "True")) {
        rp__cli_error("TEST_RUN=True publishes nothing, but consume exists to publish: unset TEST_RUN");
        return RP_EXIT_USAGE;
    }
    rp__function_config fcfg;
    if (rp__cli_function_config(&fo, &fcfg) < 0)
        return RP_EXIT_USAGE;
    cc.streams = fcfg.streams;
    if (!cc.checkpoint_store) {
        const char *env = getenv("RIDEPRED_CHECKPOINT_STORE");
        if (env && *env)
            cc.checkpoint_store = env;
    }
    char ckpt[PATH_MAX];
    if (!cc.checkpoint_store && default_checkpoint_store(&cc, ckpt, sizeof ckpt) < 0)
        return RP_EXIT_USAGE;
    if (cc.checkpoint_store) {
        rp__lease_kind kind;
        const char *table;
        rp_error err;
        if (rp__lease_store_parse(cc.checkpoint_store, &kind, &table, &err) < 0) {
            rp__cli_error("--checkpoint-store: %s", err.msg);
            return RP_EXIT_USAGE;
        }
    }
    /* awsRegion of the events: --region, else AWS_REGION, else AWS_DEFAULT_REGION. */
    cc.event_region = cc.streams.region;
    if (!cc.event_region || !*cc.event_region)
        cc.event_region = getenv("AWS_REGION");
    if (!cc.event_region || !*cc.event_region)
        cc.event_region = getenv("AWS_DEFAULT_REGION");

    int rc = RP_EXIT_FAILURE;
    rp__function *fn = NULL;
    rp__consumer *con = NULL;
    rp_error err;
    if (rp__function_open(&fcfg, &fn, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    cc.function = fn;
    /* Once the model loaded: its directory may hold the reference. */
    if (rp__cli_monitor_config(&mo, fcfg.model.location, &mcfg, &cc.monitor) < 0) {
        rc = RP_EXIT_USAGE;
        goto out;
    }
    if (rp__consumer_new(&cc, &con, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rp__consumer_run(con, &stop_flag, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    rc = RP_EXIT_OK;
out:
    rp__consumer_free(con);
    rp__function_close(fn);
    return rc;
}
