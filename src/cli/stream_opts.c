#include "cli/stream_opts.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

int rp__cli_stream_opt(int c, const char *arg, rp_stream_config *cfg)
{
    switch (c) {
    case 0x100:
        if (!strcasecmp(arg, "kinesis"))
            cfg->backend = RP_STREAM_BACKEND_KINESIS;
        else if (!strcasecmp(arg, "local"))
            cfg->backend = RP_STREAM_BACKEND_LOCAL;
        else if (!strcasecmp(arg, "kafka"))
            cfg->backend = RP_STREAM_BACKEND_KAFKA;
        else {
            fprintf(stderr, "ridepred: --backend must be kinesis, local or kafka, not '%s'\n", arg);
            return -1;
        }
        return 1;
    case 0x101: cfg->local_store = arg; return 1;
    case 0x102: cfg->endpoint_url = arg; return 1;
    case 0x103: cfg->region = arg; return 1;
    case 0x104: cfg->kafka_brokers = arg; return 1;
    case 0x105: {
        /* The pairs live for the process, like getopt's arguments. */
        static const char *pairs[RP_CLI_KAFKA_CONFIG_MAX];
        static size_t n;
        if (!strchr(arg, '=')) {
            fprintf(stderr, "ridepred: --kafka-config wants KEY=VALUE, not '%s'\n", arg);
            return -1;
        }
        if (n == RP_CLI_KAFKA_CONFIG_MAX) {
            fprintf(stderr, "ridepred: more than %d --kafka-config: use --kafka-config-file\n",
                    RP_CLI_KAFKA_CONFIG_MAX);
            return -1;
        }
        pairs[n++] = arg;
        cfg->kafka_config = pairs;
        cfg->kafka_config_n = n;
        return 1;
    }
    case 0x106: cfg->kafka_config_file = arg; return 1;
    case 0x107: cfg->kafka_msk_iam = true; return 1;
    default: return 0;
    }
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

int rp__cli_stream_resolve(rp_stream_config *cfg)
{
    static char store[PATH_MAX];
    if (cfg->backend == RP_STREAM_BACKEND_AUTO) {
        const char *v = getenv("RIDEPRED_STREAM_BACKEND");
        if (v && *v) {
            if (!strcasecmp(v, "kinesis"))
                cfg->backend = RP_STREAM_BACKEND_KINESIS;
            else if (!strcasecmp(v, "local"))
                cfg->backend = RP_STREAM_BACKEND_LOCAL;
            else if (!strcasecmp(v, "kafka"))
                cfg->backend = RP_STREAM_BACKEND_KAFKA;
            else {
                rp__cli_error("RIDEPRED_STREAM_BACKEND must be kinesis, local or kafka, not '%s'", v);
                return -1;
            }
        } else if (env_set("AWS_LAMBDA_RUNTIME_API") || env_set("AWS_LAMBDA_FUNCTION_NAME")) {
            cfg->backend = RP_STREAM_BACKEND_KINESIS;
        }
    }
    if (!cfg->local_store || !*cfg->local_store) {
        const char *v = getenv("RIDEPRED_LOCAL_STORE");
        if (v && *v)
            cfg->local_store = v;
        else if (store[0] || rp__cli_state_path("streams.db", store, sizeof store) == 0)
            cfg->local_store = store;
    }
    if (!cfg->kafka_brokers || !*cfg->kafka_brokers)
        cfg->kafka_brokers = getenv("RIDEPRED_KAFKA_BROKERS");
    if (!cfg->kafka_config_file || !*cfg->kafka_config_file)
        cfg->kafka_config_file = getenv("RIDEPRED_KAFKA_CONFIG_FILE");
    if (!cfg->endpoint_url || !*cfg->endpoint_url) {
        const char *v = getenv("KINESIS_ENDPOINT_URL");
        if (v && *v) {
            cfg->endpoint_url = v;
            cfg->endpoint_source = "KINESIS_ENDPOINT_URL";
        }
    }
    return 0;
}

int rp__cli_open_stream(const char *spec, rp_stream_config *cfg, rp_stream_conn **s,
                        char name[RP_STREAM_NAME_MAX + 1])
{
    rp_error err;
    rp_stream_backend b;
    if (rp__cli_stream_resolve(cfg) < 0)
        return -1;
    if (rp_stream_parse_name(spec, cfg, &b, name, &err) < 0 || rp_stream_open(b, cfg, s, &err) < 0) {
        rp__cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}
