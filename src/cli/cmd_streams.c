/* ridepred streams create | list | describe | delete | update-shard-count. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "common/pyjson.h"

static const char help[] =
    "usage: ridepred streams create STREAM [--shards N] [--replication-factor R]\n"
    "       ridepred streams list [--backend B]\n"
    "       ridepred streams describe STREAM\n"
    "       ridepred streams delete STREAM\n"
    "       ridepred streams update-shard-count STREAM N\n"
    "\n"
    "Manages streams.  STREAM is kinesis:NAME, local:NAME, kafka:TOPIC or a bare\n"
    "NAME (see --backend).  describe prints JSON: the stream and its shards (a\n"
    "Kafka topic's partitions).\n"
    "\n"
    "options:\n"
    "  --shards N            shards of a new stream, partitions of a new topic\n"
    "                        (default 1; --partitions is the same)\n"
    "  --replication-factor R  Kafka: replicas of each partition (default: the\n"
    "                        broker's default.replication.factor)\n" RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"

    "exit status: 0 done; 2 bad usage; 3 the backend refused or failed.\n";

static void put_info(rp__buf *b, const rp_stream_info *in, rp_stream_backend be)
{
    rp__buf_lit(b, "{\"StreamName\": ");
    rp__pyjson_utf8(b, in->name, strlen(in->name));
    rp__buf_printf(
        b,
        ", \"Backend\": \"%s\", \"StreamStatus\": \"%s\", \"OpenShardCount\": %u, \"RetentionPeriodHours\": %u, \"StreamCreationTimestamp\": %.3f",
        rp_stream_backend_name(be), in->status, in->open_shards, in->retention_hours,
        (double)in->created_ms / 1000.0);
}

static void put_shard(rp__buf *b, const rp_stream_shard *sh)
{
    rp__buf_printf(b, "{\"ShardId\": \"%s\"", sh->shard_id);
    if (!sh->hash_start[0]) { /* a Kafka partition: no hash range, no sequence range */
        rp__buf_lit(b, "}");
        return;
    }
    if (sh->parent_shard_id[0])
        rp__buf_printf(b, ", \"ParentShardId\": \"%s\"", sh->parent_shard_id);
    if (sh->adjacent_parent_shard_id[0])
        rp__buf_printf(b, ", \"AdjacentParentShardId\": \"%s\"", sh->adjacent_parent_shard_id);
    rp__buf_printf(
        b,
        ", \"HashKeyRange\": {\"StartingHashKey\": \"%s\", \"EndingHashKey\": \"%s\"}, \"SequenceNumberRange\": {\"StartingSequenceNumber\": \"%s\"",
        sh->hash_start, sh->hash_end, sh->seq_start);
    if (sh->seq_end[0])
        rp__buf_printf(b, ", \"EndingSequenceNumber\": \"%s\"", sh->seq_end);
    rp__buf_lit(b, "}}");
}

int rp__cmd_streams(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shards", required_argument, NULL, 's'},
        {"partitions", required_argument, NULL, 's'},
        {"replication-factor", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        RP_LOG_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config cfg = {0};
    rp__cli_log_opts lo = {0};
    long shards = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &cfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 's': {
            char *end;
            shards = strtol(optarg, &end, 10);
            if (*end || shards < 1 || shards > 10000) {
                fprintf(stderr, "ridepred streams: --shards must be 1 to 10000\n");
                return RP_EXIT_USAGE;
            }
            break;
        }
        case 'R': {
            char *end;
            long rf = strtol(optarg, &end, 10);
            if (*end || rf < 1 || rf > 32) {
                fprintf(stderr, "ridepred streams: --replication-factor must be 1 to 32\n");
                return RP_EXIT_USAGE;
            }
            cfg.kafka_replication_factor = (int)rf;
            break;
        }
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1) {
        fputs(help, stderr);
        return RP_EXIT_USAGE;
    }
    const char *sub = args[0];
    bool is_list = !strcmp(sub, "list");
    bool is_update = !strcmp(sub, "update-shard-count");
    if (!is_list && strcmp(sub, "create") && strcmp(sub, "describe") && strcmp(sub, "delete") && !is_update) {
        fprintf(stderr, "ridepred streams: unknown subcommand '%s'\n\n%s", sub, help);
        return RP_EXIT_USAGE;
    }
    if ((is_list && nargs != 1) || (is_update && nargs != 3) || (!is_list && !is_update && nargs != 2)) {
        fprintf(stderr, "ridepred streams %s: wrong number of arguments\n\n%s", sub, help);
        return RP_EXIT_USAGE;
    }
    rp_stream_conn *s = NULL;
    char name[RP_STREAM_NAME_MAX + 1];
    /* list: the backend a bare name would go to */
    if (rp__cli_open_stream(is_list ? "x" : args[1], &cfg, &s, name) < 0)
        return RP_EXIT_FAILURE;
    rp_stream_backend be = rp_stream_conn_backend(s);
    rp_error err;
    int rc = RP_EXIT_OK;
    rp__buf b;
    rp__buf_init(&b, 64u << 20);
    if (!strcmp(sub, "create")) {
        if (rp_stream_create(s, name, (uint32_t)shards, &err) < 0)
            goto fail;
        printf("created %s:%s (%ld shard%s)\n", rp_stream_backend_name(be), name, shards,
               shards == 1 ? "" : "s");
    } else if (!strcmp(sub, "delete")) {
        if (rp_stream_delete(s, name, &err) < 0)
            goto fail;
        printf("deleted %s:%s\n", rp_stream_backend_name(be), name);
    } else if (is_update) {
        char *end;
        long target = strtol(args[2], &end, 10);
        if (*end || target < 1) {
            fprintf(stderr, "ridepred streams update-shard-count: N must be a positive integer\n");
            rc = RP_EXIT_USAGE;
            goto out;
        }
        if (rp_stream_update_shard_count(s, name, (uint32_t)target, &err) < 0)
            goto fail;
        printf("%s:%s now has %ld open shard%s\n", rp_stream_backend_name(be), name, target,
               target == 1 ? "" : "s");
    } else if (is_list) {
        rp_stream_info *list = NULL;
        size_t n = 0;
        if (rp_stream_list(s, &list, &n, &err) < 0)
            goto fail;
        for (size_t i = 0; i < n; i++)
            printf("%s:%s\n", rp_stream_backend_name(be), list[i].name);
        free(list);
    } else {
        rp_stream_info in;
        rp_stream_shard *sh = NULL;
        size_t n = 0;
        if (rp_stream_describe(s, name, &in, &err) < 0 || rp_stream_list_shards(s, name, &sh, &n, &err) < 0)
            goto fail;
        put_info(&b, &in, be);
        rp__buf_lit(&b, ", \"Shards\": [");
        for (size_t i = 0; i < n; i++) {
            if (i)
                rp__buf_lit(&b, ", ");
            put_shard(&b, &sh[i]);
        }
        rp__buf_lit(&b, "]}\n");
        free(sh);
        fwrite(b.data, 1, b.len, stdout);
    }
    goto out;
fail:
    rp__cli_error("%s", err.msg);
    rc = RP_EXIT_FAILURE;
out:
    rp__buf_cleanup(&b);
    rp_stream_close(s);
    return rc;
}
