/* ridepred train: fit a model on TLC trip files (docs/train.md). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "pipeline/train_run.h"
#include "pipeline/xgb.h"

static const char help[] =
    "usage: ridepred train --train FILE... --val FILE... --algo linear|forest|xgboost\n"
    "                      --out DIR [--param KEY=VALUE ...] [--threads N] [--seed S]\n"
    "\n"
    "Reads TLC trip files (Parquet or CSV), prepares them as the course does\n"
    "(duration = dropoff - pickup in minutes, kept from 1 to 60; features PU_DO =\n"
    "\"<PULocationID>_<DOLocationID>\" one-hot and trip_distance), fits the model,\n"
    "prints the validation RMSE and writes an MLflow-style model directory that\n"
    "every command loads (--model DIR).\n"
    "\n"
    "algorithms and their --param keys (defaults in brackets):\n"
    "  linear   scikit-learn's LinearRegression: solver=lsqr|exact [lsqr]\n"
    "           (lsqr: scikit-learn's own answer on the sparse matrix; exact: the\n"
    "           minimum-norm least-squares solution)\n"
    "  forest   RandomForestRegressor: n_estimators [100], max_depth [20, 0: none],\n"
    "           min_samples_leaf [10], min_samples_split [2], max_samples [1.0],\n"
    "           bootstrap=true|false [true]\n"
    "  xgboost  libxgboost: num_boost_round [" RP_XGB_DEFAULT_ROUNDS_S "], early_stopping_rounds [50]\n"
    "           (on the validation set; 0: off), max_depth [" RP_XGB_DEFAULT_MAX_DEPTH "],\n"
    "           learning_rate [" RP_XGB_DEFAULT_LEARNING_RATE "], reg_alpha, reg_lambda,\n"
    "           min_child_weight (the course's tuned values), tree_method [" RP_XGB_DEFAULT_TREE_METHOD "],\n"
    "           objective, gamma, subsample, colsample_bytree, colsample_bylevel,\n"
    "           colsample_bynode, max_delta_step, max_bin, max_leaves, grow_policy,\n"
    "           base_score\n"
    "\n"
    "options:\n"
    "  --train FILE...       training files (repeat the flag or list several)\n"
    "  --val FILE...         validation files\n"
    "  --algo A              linear, forest or xgboost\n"
    "  --param KEY=VALUE     an algorithm parameter (repeatable)\n"
    "  --out DIR             the model directory to write (new, or empty)\n"
    "  --threads N           threads for forest and xgboost (default: every core)\n"
    "  --seed S              random seed (default 0); same seed, same model\n"
    "  --predictions FILE    also write the validation predictions as CSV\n"
    "                        (PULocationID,DOLocationID,trip_distance,duration,prediction)\n" RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 trained; 2 bad usage or parameter; 3 could not train\n"
    "(a file, no rides left after the filter, the algorithm failed, output).\n";

typedef struct files {
    const char **v;
    size_t n, cap;
} files;

static int files_add(files *f, const char *s)
{
    const char **v = rp__array_grow(f->v, f->n, &f->cap, sizeof *f->v, 4);
    if (!v)
        return -1;
    f->v = v;
    f->v[f->n++] = s;
    return 0;
}

/* ---- progress: a bar on a terminal, nothing otherwise (log lines mark
 * the steps) ---- */

typedef struct progress {
    bool tty;
    int last_pct;
} progress;

static void on_progress(void *ctx, const char *what, size_t done, size_t total)
{
    progress *p = ctx;
    if (!p->tty || !total)
        return;
    int pct = (int)(100.0 * (double)done / (double)total);
    if (pct == p->last_pct && done != total)
        return;
    p->last_pct = pct;
    char bar[41];
    int fill = (int)(40.0 * (double)done / (double)total);
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %zu/%zu %s", bar, pct, done, total, what);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void progress_end(void *ctx)
{
    progress *p = ctx;
    if (p->tty && p->last_pct >= 0 && p->last_pct < 100)
        fputc('\n', stderr);
    p->last_pct = -1;
}

int rp__cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"train", required_argument, NULL, 't'},
        {"val", required_argument, NULL, 'v'},
        {"algo", required_argument, NULL, 'a'},
        {"param", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, 's'},
        {"predictions", required_argument, NULL, 'P'},
        RP_LOG_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    files trf = {0}, vaf = {0};
    files *list = NULL;
    rp__train_param params[64];
    size_t n_params = 0;
    const char *algo = NULL, *out_dir = NULL, *pred_path = NULL;
    rp__cli_log_opts lo = {0};
    unsigned threads = 0;
    uint64_t seed = 0;
    int rc = RP_EXIT_USAGE;
    rp_error err;
    int c;
    optind = 1;
    /* A leading '-': operands come back in order as option 1, so that
     * "--train A B --val C" lists A and B under --train. */
    while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 1:
            if (!list) {
                fprintf(stderr,
                        "ridepred train: unexpected argument %s (files go after --train or --val)\n\n%s",
                        optarg, help);
                goto out;
            }
            if (files_add(list, optarg) < 0)
                goto nomem;
            break;
        case 't':
        case 'v':
            list = c == 't' ? &trf : &vaf;
            if (files_add(list, optarg) < 0)
                goto nomem;
            break;
        case 'a':
            algo = optarg;
            list = NULL;
            break;
        case 'p':
            list = NULL;
            if (n_params == sizeof params / sizeof params[0]) {
                rp__cli_error("too many --param (at most %zu)", sizeof params / sizeof params[0]);
                goto out;
            }
            if (rp__train_param_split(optarg, &params[n_params], &err) < 0) {
                rp__cli_error("%s", err.msg);
                goto out;
            }
            n_params++;
            break;
        case 'o':
            out_dir = optarg;
            list = NULL;
            break;
        case 'j': {
            list = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-' || v < 1 || v > 1024) {
                rp__cli_error("--threads %s: expected a number from 1 to 1024", optarg);
                goto out;
            }
            threads = (unsigned)v;
            break;
        }
        case 's': {
            list = NULL;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-') {
                rp__cli_error("--seed %s: expected a non-negative integer", optarg);
                goto out;
            }
            seed = v;
            break;
        }
        case 'P':
            pred_path = optarg;
            list = NULL;
            break;
        case 0x300:
        case 0x301:
            rp__cli_log_opt(c, optarg, &lo);
            list = NULL;
            break;
        case 'h':
            fputs(help, stdout);
            rc = RP_EXIT_OK;
            goto out;
        default: fputs(help, stderr); goto out;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        goto out;
    if (!trf.n || !vaf.n || !algo || !out_dir) {
        fprintf(stderr, "ridepred train: --train, --val, --algo and --out are required\n\n%s", help);
        goto out;
    }
    progress prog = {.tty = isatty(STDERR_FILENO) == 1, .last_pct = -1};
    rp__train_config cfg = {.train_files = trf.v,
                            .n_train_files = trf.n,
                            .val_files = vaf.v,
                            .n_val_files = vaf.n,
                            .params = params,
                            .n_params = n_params,
                            .out_dir = out_dir,
                            .predictions_path = pred_path,
                            .threads = threads,
                            .seed = seed,
                            .progress = on_progress,
                            .progress_end = progress_end,
                            .progress_ctx = &prog};
    /* Parameters first: a typo fails before minutes of work. */
    if (rp__train_algo_parse(algo, &cfg.algo, &err) < 0 ||
        rp__train_check_params(cfg.algo, params, n_params, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    rc = RP_EXIT_FAILURE;
    rp__train_report r;
    if (rp__train(&cfg, &r, &err) < 0) {
        rp__cli_error("%s", err.msg);
        goto out;
    }
    printf("%s: %zu training rides (%u PU_DO values), %zu validation rides, trained in %.2f s\n", algo,
           r.n_train, r.vocabulary, r.n_val, r.seconds);
    printf("RMSE: train %.6f, validation %.6f\n", r.rmse_train, r.rmse_val);
    printf("model: %s (run_id %s)\n", out_dir, r.run_id);
    rc = RP_EXIT_OK;
    goto out;
nomem:
    rp__cli_error("out of memory");
    rc = RP_EXIT_FAILURE;
out:
    free(trf.v);
    free(vaf.v);
    return rc;
}
