/* ridepred evaluate: how good and how fast a streamed run was. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "common/pyjson.h"
#include "pipeline/evaluate.h"

static const char help[] =
    "usage: ridepred evaluate FILE --rides STREAM --predictions STREAM [--svg PATH] [--json]\n"
    "\n"
    "Joins the rides of a TLC trip file that `ridepred replay` put into the\n"
    "rides stream with the predictions that came out of the predictions stream\n"
    "(by ride_id, the row number) and reports: rides in, predictions out,\n"
    "duplicates (delivery is at least once), rides without a prediction,\n"
    "throughput (first ride put to last prediction), latency from put to\n"
    "prediction (p50, p90, p99, max; the streams' arrival timestamps, in ms),\n"
    "and the RMSE of the predicted durations against the real ones over the\n"
    "rides the course's filter keeps (1 to 60 minutes).  Predictions that are\n"
    "not finite numbers (Infinity, NaN) are counted apart, not in the RMSE.\n"
    "\n"
    "options:\n"
    "  --rides STREAM        the stream the rides were replayed into\n"
    "  --predictions STREAM  the stream the predictions were published to\n"
    "  --svg PATH            also draw predicted vs real durations (SVG)\n"
    "  --json                one JSON object instead of the table\n" RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 done; 2 bad usage; 3 could not read the file or a stream.\n";

int rp__cmd_evaluate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rides", required_argument, NULL, 'r'},
        {"predictions", required_argument, NULL, 'p'},
        {"svg", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        RP_LOG_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config scfg = {0};
    rp__cli_log_opts lo = {0};
    const char *rides = NULL, *preds = NULL, *svg = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &scfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'r': rides = optarg; break;
        case 'p': preds = optarg; break;
        case 's': svg = optarg; break;
        case 'j': json = true; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    if (argc - optind != 1 || !rides || !preds) {
        fprintf(stderr, "ridepred evaluate: needs FILE, --rides and --predictions\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    rp_stream_conn *s = NULL;
    char rname[RP_STREAM_NAME_MAX + 1], pname[RP_STREAM_NAME_MAX + 1];
    rp_error err;
    rp_stream_backend rb, pb;
    if (rp__cli_stream_resolve(&scfg) < 0)
        return RP_EXIT_USAGE;
    if (rp_stream_parse_name(rides, &scfg, &rb, rname, &err) < 0 ||
        rp_stream_parse_name(preds, &scfg, &pb, pname, &err) < 0) {
        rp__cli_error("%s", err.msg);
        return RP_EXIT_USAGE;
    }
    if (rb != pb) {
        rp__cli_error("the rides and the predictions must be on one backend (%s, %s)",
                      rp_stream_backend_name(rb), rp_stream_backend_name(pb));
        return RP_EXIT_USAGE;
    }
    if (rp_stream_open(rb, &scfg, &s, &err) < 0) {
        rp__cli_error("%s", err.msg);
        return RP_EXIT_FAILURE;
    }
    rp__eval_report r;
    rp__eval_opts eo = {.svg_path = svg};
    int rc = RP_EXIT_FAILURE;
    if (rp__evaluate(argv[optind], s, rname, pname, &eo, &r, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    rp__buf b;
    rp__buf_init(&b, 1 << 20);
    if (json) {
        rp__buf_printf(&b,
                       "{\"rows\": %zu, \"kept\": %zu, \"rides_in\": %zu, \"predictions\": %zu, "
                       "\"predicted\": %zu, \"duplicates\": %zu, \"unreadable\": %zu, \"missing\": %zu, "
                       "\"kept_predicted\": %zu, \"nonfinite\": %zu, \"kept_nonfinite\": %zu, \"rmse\": ",
                       r.rows, r.kept, r.rides_in, r.predictions, r.predicted, r.duplicates, r.unreadable,
                       r.missing, r.kept_predicted, r.nonfinite, r.kept_nonfinite);
        rp__pyjson_double(&b, r.rmse);
        rp__buf_lit(&b, ", \"mae\": ");
        rp__pyjson_double(&b, r.mae);
        rp__buf_printf(
            &b,
            ", \"span_s\": %.3f, \"rides_per_s\": %.1f, \"latency_ms\": {\"p50\": %.0f, \"p90\": %.0f, "
            "\"p99\": %.0f, \"max\": %.0f}",
            r.span_s, r.rides_per_s, r.latency_ms[0], r.latency_ms[1], r.latency_ms[2], r.latency_ms[3]);
        if (svg) {
            rp__buf_lit(&b, ", \"svg\": ");
            rp__pyjson_utf8(&b, svg, strlen(svg));
        }
        rp__buf_lit(&b, ", \"examples\": [");
        for (int e = 0; e < RP_EVAL_EXAMPLES && r.examples[e]; e++) {
            rp__buf_puts(&b, e ? ", " : "");
            rp__pyjson_utf8(&b, r.examples[e], strlen(r.examples[e]));
        }
        rp__buf_lit(&b, "]}\n");
    } else {
        rp__buf_printf(&b, "| measure | value |\n| --- | --- |\n");
        rp__buf_printf(&b, "| rides in the file | %zu (%zu pass the course's filter) |\n", r.rows, r.kept);
        rp__buf_printf(&b, "| rides in (stream) | %zu |\n", r.rides_in);
        rp__buf_printf(&b, "| predictions out | %zu (%zu rides; %zu duplicates) |\n", r.predictions,
                       r.predicted, r.duplicates);
        rp__buf_printf(&b, "| failures | %zu rides without a prediction, %zu unreadable records |\n",
                       r.missing, r.unreadable);
        rp__buf_printf(
            &b, "| throughput | %.0f rides/s (%.2f s from the first ride put to the last prediction) |\n",
            r.rides_per_s, r.span_s);
        rp__buf_printf(&b,
                       "| latency put -> prediction | p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms |\n",
                       r.latency_ms[0], r.latency_ms[1], r.latency_ms[2], r.latency_ms[3]);
        rp__buf_printf(&b, "| RMSE (minutes) | %.4f over %zu rides (MAE %.4f) |\n", r.rmse, r.kept_predicted,
                       r.mae);
        if (r.nonfinite)
            rp__buf_printf(
                &b,
                "| non-finite predictions | %zu rides predicted as Infinity or NaN (%zu kept by the filter): "
                "left out of the RMSE and MAE |\n",
                r.nonfinite, r.kept_nonfinite);
        if (svg)
            rp__buf_printf(&b, "| picture | %s |\n", svg);
        rp__buf_lit(&b, "\nprediction records (decoded):\n");
        for (int e = 0; e < RP_EVAL_EXAMPLES && r.examples[e]; e++)
            rp__buf_printf(&b, "  %s\n", r.examples[e]);
    }
    fwrite(b.data, 1, b.len, stdout);
    rp__buf_cleanup(&b);
    rp__eval_report_free(&r);
    rc = RP_EXIT_OK;
out:
    rp_stream_close(s);
    return rc;
}
