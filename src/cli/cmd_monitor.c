/* ridepred monitor: windows of trip files compared with a reference, as the
 * course's week-5 Evidently report (docs/monitoring.md). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "monitor/db.h"
#include "monitor/report.h"
#include "pipeline/monitor_run.h"
#include "ridepred/log.h"

static const char help[] =
    "usage: ridepred monitor --model M --reference REF CURRENT... [--window 1d] [--json]\n"
    "                        [--svg FILE] [--columns LIST] [--db URL]\n"
    "       ridepred monitor --model M --reference REF --write-reference OUT\n"
    "\n"
    "Compares each window of the CURRENT trip files (Parquet or CSV, by pickup\n"
    "time as written, taken as UTC) with a reference, as the course's week-5\n"
    "Evidently report does: rides, prediction drift (the drift score of the\n"
    "model's predictions) and whether it drifted, the number of drifted\n"
    "columns, dataset drift (at least half the columns drifted) and the share\n"
    "of missing cells.  The tests are Evidently's defaults (docs/monitoring.md).\n"
    "\n"
    "REF is a trip file (its rides kept by the course's 1-to-60-minute filter,\n"
    "predicted with the model: the course's reference is its validation month\n"
    "with predictions), a reference file (ridepred-reference.csv), or a model\n"
    "directory holding one (`ridepred train` writes it).  A window holds every\n"
    "row of CURRENT picked up in it; predictions use the course's features\n"
    "(PU_DO and trip_distance, a null trip_distance as 0).\n"
    "\n"
    "REF and CURRENT may also be streams of ride events (local:NAME,\n"
    "kinesis:NAME, kafka:TOPIC), read whole from the start: each record a\n"
    "ride event as the function takes it (others are counted and left out),\n"
    "predicted with the model, in the window of its arrival in the stream.  A\n"
    "ride event carries trip_distance, PULocationID and DOLocationID: those\n"
    "and the prediction are the default columns then.\n"
    "\n"
    "options:\n"
    "  --model M             a model file or MLflow directory (default: $MODEL_LOCATION)\n"
    "  --reference REF       the reference (see above)\n"
    "  --window W            1d, 6h, 30m, 90s or seconds (default 1d); windows start\n"
    "                        at multiples of W since 1970-01-01T00:00:00\n"
    "  --json                one JSON object per window instead of the table\n"
    "  --svg FILE            also draw prediction drift and drifted columns per window\n"
    "  --columns LIST        the monitored columns, e.g. \"num:trip_distance,fare_amount;\n"
    "                        cat:PULocationID\" (the prediction is added unless the list\n"
    "                        holds -prediction); default: the course's passenger_count,\n"
    "                        trip_distance, fare_amount, total_amount, PULocationID,\n"
    "                        DOLocationID and prediction\n"
    "  --write-reference OUT write the reference sample of REF (its columns, predicted)\n"
    "                        to OUT, a file or a model directory, and exit\n"
    "  --db URL              PostgreSQL to write each window to (or RIDEPRED_MONITOR_DB):\n"
    "                        one row per window, source 'monitor'; a window written\n"
    "                        again replaces its row (docs/monitoring.md)\n"
    "  --db-table NAME       the table (default " RP_MONITOR_DB_TABLE ", created when missing)\n"
    "  --preprocessor P      the pickled DictVectorizer of an XGBoost booster\n"
    "  --max-model-bytes N   memory a converted model may build, e.g. 8G\n" RP_STREAM_OPTS_HELP
        RP_LOG_OPTS_HELP "  -h, --help            this help\n"
    "\n"
    "exit status: 0 done; 2 bad usage; 3 could not run (a file or stream that cannot\n"
    "be read or lacks a column, the model, the database).\n";

static void print_table(const rp__monitor_spec *spec, const rp__monitor_report *r, rp__buf *b)
{
    int pi = rp__monitor_spec_find(spec, RP_MONITOR_PREDICTION);
    rp__buf_printf(b, "%-20s %7s  %-26s %-7s %-9s %-7s %s\n", "window start (UTC)", "rides",
                   pi >= 0 ? "prediction drift (test)" : "prediction drift", "drifted", "columns", "dataset",
                   "missing");
    for (size_t k = 0; k < r->n; k++) {
        const rp__monitor_result *x = &r->w[k].result;
        char s[RP_MONITOR_TIME_MAX], pd[64], cols[32], miss[32];
        rp__monitor_time_iso(r->w[k].start_us, s);
        if (isfinite(x->prediction_drift))
            snprintf(pd, sizeof pd, "%.6g (%s)", x->prediction_drift,
                     rp__drift_test_name(x->col[x->prediction].drift.test));
        else
            snprintf(pd, sizeof pd, "-");
        snprintf(cols, sizeof cols, "%zu/%zu", x->num_drifted_columns, x->ncols);
        if (isfinite(x->share_missing_values))
            snprintf(miss, sizeof miss, "%.4f%%", 100 * x->share_missing_values);
        else
            snprintf(miss, sizeof miss, "-");
        rp__buf_printf(b, "%-20s %7zu  %-26s %-7s %-9s %-7s %s\n", s, x->rides, pd,
                       x->prediction_drifted ? "yes" : "no", cols, x->dataset_drift ? "yes" : "no", miss);
    }
    const char *how = r->ref_source == RP_MONITOR_REF_TRIPS    ? "kept rides predicted now"
                      : r->ref_source == RP_MONITOR_REF_FILE   ? "a reference file"
                      : r->ref_source == RP_MONITOR_REF_STREAM ? "a stream's rides predicted now"
                                                               : "the model directory's reference";
    rp__buf_printf(b, "\nreference: %zu rides (%s); current: %zu rows in %zu windows%s", r->reference_rides,
                   how, r->cur_scored.used, r->n, r->by_arrival ? " (streams: by arrival time)" : "");
    if (r->no_pickup)
        rp__buf_printf(b, ", %zu rows without a pickup time left out", r->no_pickup);
    rp__buf_lit(b, "\ncolumns: ");
    for (size_t j = 0; j < spec->n; j++)
        rp__buf_printf(b, "%s%s:%s", j ? ", " : "", spec->col[j].kind == RP_DRIFT_CAT ? "cat" : "num",
                       spec->col[j].name);
    rp__buf_lit(b, "\n");
}

/* OUT for --write-reference: a directory gets RP_MONITOR_REFERENCE_FILE. */
static int write_reference(const char *out, const rp__monitor_spec *spec, const rp__monitor_sample *s,
                           rp_error *err)
{
    struct stat sb;
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", out, RP_MONITOR_REFERENCE_FILE) >= sizeof path)
            return rp_error_set(err, RP_ERR_LIMIT, "%s: path too long", out);
        return rp__monitor_reference_write(path, spec, s, err);
    }
    return rp__monitor_reference_write(out, spec, s, err);
}

static void warn_unscored(const char *what, const rp__monitor_scored *st)
{
    char n[32];
    if (st->unreadable) {
        snprintf(n, sizeof n, "%zu", st->unreadable);
        rp_log(RP_LOG_WARN, "stream records that are no ride event the function takes: left out", "side",
               what, "records", n, "first", st->first_unreadable, NULL);
    }
    if (!st->unscored)
        return;
    snprintf(n, sizeof n, "%zu", st->unscored);
    rp_log(RP_LOG_WARN, "rows the model cannot score: their prediction is missing", "side", what, "rows", n,
           "first", st->first_unscored, NULL);
}

int rp__cmd_monitor(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"reference", required_argument, NULL, 'r'},
        {"window", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"svg", required_argument, NULL, 's'},
        {"columns", required_argument, NULL, 'c'},
        {"write-reference", required_argument, NULL, 'W'},
        {"db", required_argument, NULL, 'D'},
        {"db-table", required_argument, NULL, 'T'},
        {"preprocessor", required_argument, NULL, 'X'},
        {"max-model-bytes", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        RP_LOG_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp__cli_log_opts lo = {0};
    rp_stream_config scfg = {0};
    const char *model_flag = NULL, *ref = NULL, *window = "1d", *svg = NULL, *columns = NULL,
               *write_ref = NULL, *db = NULL, *db_table = NULL, *preprocessor = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int so = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &scfg);
        if (so < 0)
            return RP_EXIT_USAGE;
        if (so > 0)
            continue;
        switch (c) {
        case 'm': model_flag = optarg; break;
        case 'r': ref = optarg; break;
        case 'w': window = optarg; break;
        case 'j': json = true; break;
        case 's': svg = optarg; break;
        case 'c': columns = optarg; break;
        case 'W': write_ref = optarg; break;
        case 'D': db = optarg; break;
        case 'T': db_table = optarg; break;
        case 'X': preprocessor = optarg; break;
        case 'B':
            if (rp__cli_max_model_bytes_opt(optarg) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    if (!ref) {
        fprintf(stderr, "ridepred monitor: needs --reference\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    if (!write_ref && optind == argc) {
        fprintf(stderr, "ridepred monitor: needs CURRENT trip files (or --write-reference OUT)\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    if (write_ref && optind != argc) {
        fprintf(stderr, "ridepred monitor: --write-reference takes no CURRENT files\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    int64_t window_us;
    if (rp__monitor_parse_window(window, &window_us) < 0) {
        rp__cli_error(
            "--window must be 1d, 6h, 30m, 90s or a number of seconds (1 second to 366 days), not '%s'",
            window);
        return RP_EXIT_USAGE;
    }
    bool any_stream = rp__monitor_is_stream(ref);
    for (int i = optind; i < argc; i++)
        any_stream |= rp__monitor_is_stream(argv[i]);
    if (any_stream && rp__cli_stream_resolve(&scfg) < 0)
        return RP_EXIT_USAGE;
    rp__monitor_spec spec;
    rp_error err;
    if (columns) {
        if (rp__monitor_parse_columns(columns, &spec, &err) < 0) {
            rp__cli_error("%s", err.msg);
            return RP_EXIT_USAGE;
        }
    } else if (any_stream) {
        rp__monitor_spec_serving(&spec); /* what a ride event carries */
    } else {
        rp__monitor_spec_course(&spec);
    }
    if (!db) {
        const char *e = getenv("RIDEPRED_MONITOR_DB");
        db = e && *e ? e : NULL;
    }
    /* The database is opened before any work, so that a wrong URL or an
     * unreachable server fails at once (exit 3) rather than after the
     * month is scored. */
    rp__monitor_db *mdb = NULL;
    if (db && !write_ref && rp__monitor_db_open(db, db_table, &mdb, &err) < 0) {
        rp__cli_error("--db: %s", err.msg);
        return RP_EXIT_FAILURE;
    }
    rp_model *m = NULL;
    int rc = RP_EXIT_FAILURE;
    if (rp__monitor_spec_find(&spec, RP_MONITOR_PREDICTION) >= 0 || model_flag) {
        const char *location = rp__cli_model_location(model_flag, rp__cli_run_id(NULL));
        if (!location) {
            rc = RP_EXIT_USAGE;
            goto out;
        }
        if (!(m = rp__cli_load_model(location, preprocessor, false)))
            goto out;
    }
    if (write_ref) {
        rp__monitor_sample s;
        rp__monitor_scored st;
        if (rp__monitor_reference_load(m, ref, &spec, &scfg, &s, NULL, &st, &err) < 0) {
            rp__cli_error("reference %s: %s", ref, err.msg);
            goto out;
        }
        warn_unscored("reference", &st);
        if (write_reference(write_ref, &spec, &s, &err) < 0)
            rp__cli_error("%s", err.msg);
        else
            rc = RP_EXIT_OK;
        rp__monitor_sample_free(&s);
        goto out;
    }
    rp__monitor_config cfg = {.model = m,
                              .reference = ref,
                              .current = (const char *const *)(argv + optind),
                              .n_current = (size_t)(argc - optind),
                              .window_us = window_us,
                              .spec = &spec,
                              .streams = &scfg};
    rp__monitor_report r;
    if (rp__monitor_run(&cfg, &r, &err) < 0) {
        rp__cli_error("%s", err.msg);
        rc = err.code == RP_ERR_LIMIT ? RP_EXIT_USAGE : RP_EXIT_FAILURE;
        goto out;
    }
    warn_unscored("reference", &r.ref_scored);
    warn_unscored("current", &r.cur_scored);
    rp__buf b;
    rp__buf_init(&b, (size_t)1 << 30);
    if (json) {
        for (size_t k = 0; k < r.n; k++) {
            rp__monitor_window_json(&b, &spec, r.w[k].start_us, r.w[k].end_us, &r.w[k].result);
            rp__buf_lit(&b, "\n");
        }
    } else {
        print_table(&spec, &r, &b);
    }
    if (b.failed) {
        rp__cli_error("out of memory for the report");
    } else {
        fwrite(b.data ? b.data : "", 1, b.len, stdout);
        rc = RP_EXIT_OK;
    }
    rp__buf_cleanup(&b);
    for (size_t k = 0; rc == RP_EXIT_OK && mdb && k < r.n; k++) {
        rp__monitor_db_row row = {.source = "monitor",
                                  .start_us = r.w[k].start_us,
                                  .end_us = r.w[k].end_us,
                                  .spec = &spec,
                                  .result = &r.w[k].result};
        if (rp__monitor_db_write(mdb, &row, &err) < 0) {
            rp__cli_error("--db: window %zu of %zu: %s", k + 1, r.n, err.msg);
            rc = RP_EXIT_FAILURE;
        }
    }
    if (rc == RP_EXIT_OK && svg && rp__monitor_write_svg(svg, &spec, &r, &err) < 0) {
        rp__cli_error("%s", err.msg);
        rc = RP_EXIT_FAILURE;
    }
    rp__monitor_report_free(&r);
out:
    rp_model_release(m);
    rp__monitor_db_close(mdb);
    return rc;
}
