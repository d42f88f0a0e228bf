/* See function_opts.h. */
#include "cli/function_opts.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int rp__cli_function_opt(int c, const char *arg, rp__cli_function_opts *o)
{
    switch (c) {
    case 0x200: o->model = arg; return 1;
    case 0x201: o->run_id = arg; return 1;
    case 0x202: o->model_version = arg; return 1;
    case 0x203: o->preprocessor = arg; return 1;
    case 0x204: o->no_cache = true; return 1;
    case 0x207: o->predictions_stream = arg; return 1;
    case 0x208: o->test_run = true; return 1;
    case 0x209: return rp__cli_max_model_bytes_opt(arg) < 0 ? -1 : 1;
    default: return rp__cli_log_opt(c, arg, &o->log) ? 1 : rp__cli_stream_opt(c, arg, &o->streams);
    }
}

int rp__cli_function_config(const rp__cli_function_opts *o, rp__function_config *cfg)
{
    if (rp__cli_logging(o->log.format, o->log.level) < 0)
        return -1;
    *cfg = (rp__function_config){.run_id = rp__cli_run_id(o->run_id),
                                 .model_version = rp__cli_model_version(o->model_version),
                                 .predictions_stream = o->predictions_stream,
                                 .test_run = o->test_run,
                                 .streams = o->streams};
    const char *location = rp__cli_model_location(o->model, cfg->run_id);
    rp_error err;
    if (!location)
        return -1;
    if (rp__cli_model_source(location, o->preprocessor, o->no_cache, &cfg->model, &err) < 0) {
        rp__cli_error("%s", err.msg);
        return -1;
    }
    /* TEST_RUN exactly "True" publishes nothing, as the Python function. */
    const char *tr = getenv("TEST_RUN");
    if (tr && !strcmp(tr, "True"))
        cfg->test_run = true;
    if (!cfg->predictions_stream || !*cfg->predictions_stream)
        cfg->predictions_stream = getenv("PREDICTIONS_STREAM_NAME");
    return rp__cli_stream_resolve(&cfg->streams);
}
