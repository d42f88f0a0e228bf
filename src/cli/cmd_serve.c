/* ridepred serve: the local invoke endpoint (src/serve/serve.h). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/function_opts.h"
#include "cli/monitor_opts.h"
#include "function/function.h"
#include "ridepred/log.h"
#include "serve/serve.h"

static const char help[] =
    "usage: ridepred serve [--listen 127.0.0.1:8080] [--model PATH] [OPTIONS]\n"
    "\n"
    "Serves the function over HTTP at the URL of the Lambda container image's\n"
    "emulator on :8080, so the course's test_docker.py runs against it; answers\n"
    "follow Lambda's Invoke API (docs/serve.md: where the emulator differs):\n"
    "\n"
    "  POST /2015-03-31/functions/function/invocations   the event; answers 200\n"
    "       with the handler's response (a function error such as InvalidEvent:\n"
    "       200 with the error body and X-Amz-Function-Error: Unhandled); a body\n"
    "       over 6 MiB: 413\n"
    "  POST /predict    the course's Flask API (web-service/predict.py): a ride\n"
    "       {\"PULocationID\": 10, \"DOLocationID\": 50, \"trip_distance\": 40}\n"
    "       answers {\"duration\":PREDICTION}, with \"model_version\" when RUN_ID\n"
    "       (--run-id) is set; a bad ride: 400 {\"error\":\"...\"}\n"
    "  GET  /healthz    {\"status\": \"ok\", \"version\": ...}\n"
    "  GET  /metrics    Prometheus text: invocations, records, failures, latency\n"
    "\n"
    "Requests are served in parallel by a pool of threads, each with its own\n"
    "handler and stream connection; answers and published records are those of\n"
    "`ridepred invoke`.  SIGINT or SIGTERM stops it: no new connections, the\n"
    "requests in flight are answered, a summary is logged, exit 0.\n"
    "\n"
    "options:\n"
    "  --listen ADDR         HOST:PORT or [IPV6]:PORT (default 127.0.0.1:8080;\n"
    "                        port 0 picks a free one, logged at start)\n"
    "  --threads N           pool threads (default: the number of CPUs)\n"
    "  --max-connections N   open connections at most (default 1024); more are\n"
    "                        accepted and closed at once\n"
    "  --max-client-connections N\n"
    "                        open connections from one client address at most\n"
    "                        (default 256: one client cannot take every slot;\n"
    "                        behind a proxy, where all come from one address,\n"
    "                        raise it to --max-connections)\n"
    "  --idle-timeout S      close a connection idle for S seconds (default 30)\n"
    "  --header-timeout S    a request head must arrive within S seconds of its\n"
    "                        first byte (default 10); else 408 and closed\n"
    "  --body-timeout S      a body must arrive within S seconds (default 10)\n"
    "                        plus 1 s per --body-min-rate bytes; else 408, closed\n"
    "  --body-min-rate B     bytes per second (default 65536)\n"
    "  --drain-timeout S     at stop, wait at most S seconds for requests in\n"
    "                        flight (default 10)\n" RP_FUNCTION_MODEL_OPTS_HELP RP_FUNCTION_PUBLISH_OPTS_HELP
        RP_MONITOR_OPTS_HELP RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP "  -h, --help            this help\n"
    "\n"
    "Publishing: unless TEST_RUN is exactly True (or --test-run), each prediction\n"
    "of a Kinesis event is put to the predictions stream, as the Lambda function\n"
    "does; a record that could not be published is named in batchItemFailures.\n"
    "\n"
    "exit status: 0 stopped by SIGINT/SIGTERM; 2 bad usage (options, a malformed\n"
    "--listen); 3 could not start (model, address in use).\n";

/* A positive integer option; prints why and returns -1 when it is not. */
static int parse_count(const char *opt, const char *arg, unsigned max, unsigned *out)
{
    long long v;
    if (rp__cli_parse_int(opt, arg, 1, max, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int rp__cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"max-connections", required_argument, NULL, 'c'},
        {"max-client-connections", required_argument, NULL, 'C'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"body-timeout", required_argument, NULL, 'B'},
        {"body-min-rate", required_argument, NULL, 'R'},
        {"drain-timeout", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        RP_FUNCTION_MODEL_LONGOPTS,
        RP_FUNCTION_PUBLISH_LONGOPTS,
        RP_MONITOR_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static rp__cli_monitor_opts mo;
    memset(&mo, 0, sizeof mo);
    rp__monitor_live_config mcfg;
    rp__cli_function_opts fo = {0};
    rp__serve_config cfg = {0};
    unsigned drain_s = 10;
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
        case 'l': cfg.listen = optarg; break;
        case 't':
            if (parse_count("--threads", optarg, 1024, &cfg.threads) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'c':
            if (parse_count("--max-connections", optarg, 1000000, &cfg.max_connections) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'C':
            if (parse_count("--max-client-connections", optarg, 1000000, &cfg.max_client_connections) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'i':
            if (parse_count("--idle-timeout", optarg, 86400, &cfg.timeout_s) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'H':
            if (parse_count("--header-timeout", optarg, 86400, &cfg.header_timeout_s) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'B':
            if (parse_count("--body-timeout", optarg, 86400, &cfg.body_timeout_s) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'R': {
            unsigned rate;
            if (parse_count("--body-min-rate", optarg, 1u << 30, &rate) < 0)
                return RP_EXIT_USAGE;
            cfg.body_min_rate = rate;
            break;
        }
        case 'd':
            if (parse_count("--drain-timeout", optarg, 3600, &drain_s) < 0)
                return RP_EXIT_USAGE;
            break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ridepred serve: unexpected argument '%s'\n\n%s", argv[optind], help);
        return RP_EXIT_USAGE;
    }
    rp__function_config fcfg;
    if (rp__cli_function_config(&fo, &fcfg) < 0)
        return RP_EXIT_USAGE;

    /* SIGINT/SIGTERM are blocked here, before any thread starts (threads
     * inherit the mask), and taken with sigwait below: no handler runs in
     * the middle of a request. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = RP_EXIT_FAILURE;
    rp__function *fn = NULL;
    rp__serve *srv = NULL;
    rp_error err;
    if (rp__function_open(&fcfg, &fn, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    /* Once the model loaded: its directory may hold the reference. */
    if (rp__cli_monitor_config(&mo, fcfg.model.location, &mcfg, &cfg.monitor) < 0) {
        rc = RP_EXIT_USAGE;
        goto out;
    }
    cfg.predict_model_version = fcfg.run_id != NULL;
    if (rp__serve_start(fn, &cfg, &srv, &err) < 0) {
        rp__cli_error("%s", err.msg);
        if (err.code == RP_ERR_INVALID && strncmp(err.msg, "monitoring: ", 12) != 0)
            rc = RP_EXIT_USAGE; /* a malformed --listen (a bad reference: 3, as a bad model) */
        goto out;
    }
    char port[16];
    snprintf(port, sizeof port, "%u", rp__serve_port(srv));
    const char *stream = rp__function_predictions_stream(fn);
    rp_log(RP_LOG_INFO, "serving", "listen", cfg.listen ? cfg.listen : "127.0.0.1:8080", "port", port,
           "version", rp__function_version(fn, NULL), "predictions_stream",
           *stream ? stream : "(none: TEST_RUN)", NULL);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    rp__serve_stats st;
    unsigned abandoned = rp__serve_stop(srv, drain_s * 1000u, &st);
    srv = NULL;
    char n_inv[24], n_ok[24], n_err[24], n_big[24], n_rec[24], n_fail[24], n_pub[24], n_left[24], n_pr[24],
        n_pok[24];
    snprintf(n_inv, sizeof n_inv, "%llu", (unsigned long long)st.invocations);
    snprintf(n_ok, sizeof n_ok, "%llu", (unsigned long long)st.ok);
    snprintf(n_err, sizeof n_err, "%llu", (unsigned long long)st.function_errors);
    snprintf(n_big, sizeof n_big, "%llu", (unsigned long long)st.too_large);
    snprintf(n_rec, sizeof n_rec, "%llu", (unsigned long long)st.records);
    snprintf(n_fail, sizeof n_fail, "%llu", (unsigned long long)st.record_failures);
    snprintf(n_pub, sizeof n_pub, "%llu", (unsigned long long)st.published);
    snprintf(n_left, sizeof n_left, "%u", abandoned);
    snprintf(n_pr, sizeof n_pr, "%llu", (unsigned long long)st.predict_requests);
    snprintf(n_pok, sizeof n_pok, "%llu", (unsigned long long)st.predict_ok);
    rp_log(abandoned ? RP_LOG_WARN : RP_LOG_INFO, "stopped", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
           "invocations", n_inv, "ok", n_ok, "function_errors", n_err, "too_large", n_big, "records", n_rec,
           "record_failures", n_fail, "published", n_pub, "predict_requests", n_pr, "predict_ok", n_pok,
           "abandoned_requests", n_left, NULL);
    rc = RP_EXIT_OK;
out:
    rp__serve_stop(srv, 0, NULL);
    rp__function_close(fn);
    return rc;
}
