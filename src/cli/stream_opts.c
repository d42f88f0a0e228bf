#include "cli/stream_opts.h"

#include <stdio.h>
#include <strings.h>

#include "cli/cli.h"

int rp_cli_stream_opt(int c, const char *arg, rp_stream_config *cfg)
{
    switch (c) {
    case 0x100:
        if (!strcasecmp(arg, "kinesis"))
            cfg->backend = RP_BACKEND_KINESIS;
        else if (!strcasecmp(arg, "local"))
            cfg->backend = RP_BACKEND_LOCAL;
        else {
            fprintf(stderr, "ridepred: --backend must be kinesis or local, not '%s'\n", arg);
            return -1;
        }
        return 1;
    case 0x101: cfg->local_store = arg; return 1;
    case 0x102: cfg->endpoint_url = arg; return 1;
    case 0x103: cfg->region = arg; return 1;
    default: return 0;
    }
}

int rp_cli_open_stream(const char *spec, const rp_stream_config *cfg, rp_streams **s,
                       char name[RP_STREAM_NAME_MAX + 1])
{
    rp_error err;
    rp_backend b;
    if (rp_stream_parse_name(spec, cfg, &b, name, &err) < 0 || rp_streams_open(b, cfg, s, &err) < 0) {
        rp_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}
