/* See function_opts.h. */
#include "cli/function_opts.h"

#include <stdlib.h>

#include "cli/cli.h"

int rp_cli_function_opt(int c, const char *arg, rp_cli_function_opts *o)
{
    switch (c) {
    case 0x200: o->model = arg; return 1;
    case 0x201: o->run_id = arg; return 1;
    case 0x202: o->model_version = arg; return 1;
    case 0x203: o->preprocessor = arg; return 1;
    case 0x204: setenv("RIDEPRED_MODEL_CACHE", "off", 1); return 1;
    case 0x207: o->predictions_stream = arg; return 1;
    case 0x208: o->test_run = true; return 1;
    case 0x209: return rp_cli_max_model_bytes_opt(arg) < 0 ? -1 : 1;
    default: return rp_cli_log_opt(c, arg, &o->log) ? 1 : rp_cli_stream_opt(c, arg, &o->streams);
    }
}

int rp_cli_function_config(const rp_cli_function_opts *o, rp_function_config *cfg)
{
    if (rp_cli_logging(o->log.format, o->log.level) < 0)
        return -1;
    if (o->run_id)
        setenv("RUN_ID", o->run_id, 1);
    if (o->model_version)
        setenv("MODEL_VERSION", o->model_version, 1);
    const char *location = rp_cli_model_location(o->model);
    if (!location)
        return -1;
    size_t max_model_bytes;
    char why[160];
    if (rp_cli_max_model_bytes(&max_model_bytes, why, sizeof why) < 0) {
        rp_cli_error("%s", why);
        return -1;
    }
    *cfg = (rp_function_config){.model_location = location,
                                .preprocessor = o->preprocessor,
                                .predictions_stream = o->predictions_stream,
                                .test_run = o->test_run,
                                .streams = o->streams,
                                .max_model_bytes = max_model_bytes};
    return 0;
}
