/* ridepred train: fit a model on TLC trip files (docs/train.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "data/trips.h"
#include "ridepred/log.h"
#include "pipeline/output.h"
#include "pipeline/train.h"
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
    "                        (PULocationID,DOLocationID,trip_distance,duration,prediction)\n"
    RP_LOG_OPTS_HELP
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
    const char **v = rp_array_grow(f->v, f->n, &f->cap, sizeof *f->v, 4);
    if (!v)
        return -1;
    f->v = v;
    f->v[f->n++] = s;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
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

static void progress_end(progress *p)
{
    if (p->tty && p->last_pct >= 0 && p->last_pct < 100)
        fputc('\n', stderr);
    p->last_pct = -1;
}

/* ---- parameters of linear and forest ---- */

static int param_uint(const rp_train_param *p, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(p->value, &end, 10);
    if (end == p->value || *end || p->value[0] == '-' || v < min || v > max) {
        rp_cli_error("--param %s=%s: expected an integer from %u to %u", p->key, p->value, min, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int linear_params(const rp_train_param *ps, size_t n, rp_linear_solver *solver, rp_buf *json)
{
    *solver = RP_LINEAR_LSQR;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ps[i].key, "solver")) {
            if (!strcmp(ps[i].value, "lsqr"))
                *solver = RP_LINEAR_LSQR;
            else if (!strcmp(ps[i].value, "exact"))
                *solver = RP_LINEAR_EXACT;
            else {
                rp_cli_error("--param solver=%s: expected lsqr or exact", ps[i].value);
                return -1;
            }
        } else {
            rp_cli_error("--param %s: not a parameter of --algo linear (known: solver)", ps[i].key);
            return -1;
        }
    }
    rp_buf_printf(json, "\"solver\": \"%s\", \"fit_intercept\": true", *solver == RP_LINEAR_LSQR ? "lsqr" : "exact");
    return 0;
}

static int forest_params(const rp_train_param *ps, size_t n, rp_forest_params *fp, rp_buf *json)
{
    rp_forest_params_default(fp);
    for (size_t i = 0; i < n; i++) {
        const rp_train_param *p = &ps[i];
        if (!strcmp(p->key, "n_estimators")) {
            if (param_uint(p, 1, 100000, &fp->n_estimators) < 0)
                return -1;
        } else if (!strcmp(p->key, "max_depth")) {
            if (!strcmp(p->value, "None") || !strcmp(p->value, "none"))
                fp->max_depth = 0;
            else if (param_uint(p, 0, 100000, &fp->max_depth) < 0)
                return -1;
        } else if (!strcmp(p->key, "min_samples_leaf")) {
            if (param_uint(p, 1, UINT32_MAX / 2, &fp->min_samples_leaf) < 0)
                return -1;
        } else if (!strcmp(p->key, "min_samples_split")) {
            if (param_uint(p, 2, UINT32_MAX / 2, &fp->min_samples_split) < 0)
                return -1;
        } else if (!strcmp(p->key, "max_samples")) {
            char *end;
            double d = strtod(p->value, &end);
            if (end == p->value || *end || !(d > 0 && d <= 1)) {
                rp_cli_error("--param max_samples=%s: expected a fraction in (0, 1]", p->value);
                return -1;
            }
            fp->max_samples = d;
        } else if (!strcmp(p->key, "bootstrap")) {
            if (!strcmp(p->value, "true") || !strcmp(p->value, "True") || !strcmp(p->value, "1"))
                fp->bootstrap = true;
            else if (!strcmp(p->value, "false") || !strcmp(p->value, "False") || !strcmp(p->value, "0"))
                fp->bootstrap = false;
            else {
                rp_cli_error("--param bootstrap=%s: expected true or false", p->value);
                return -1;
            }
        } else {
            rp_cli_error("--param %s: not a parameter of --algo forest (known: n_estimators, max_depth, "
                         "min_samples_leaf, min_samples_split, max_samples, bootstrap; the seed is --seed)", p->key);
            return -1;
        }
    }
    rp_buf_printf(json, "\"n_estimators\": %u, \"max_depth\": ", fp->n_estimators);
    if (fp->max_depth)
        rp_buf_printf(json, "%u", fp->max_depth);
    else
        rp_buf_lit(json, "null");
    rp_buf_printf(json, ", \"min_samples_leaf\": %u, \"min_samples_split\": %u, \"max_samples\": %.17g, "
                        "\"bootstrap\": %s, \"max_features\": 1.0, \"criterion\": \"squared_error\"",
                  fp->min_samples_leaf, fp->min_samples_split, fp->max_samples, fp->bootstrap ? "true" : "false");
    return 0;
}

/* ---- data ---- */

static int read_files(const files *f, const char *role, rp_train_set *set, rp_train_file *info)
{
    for (size_t i = 0; i < f->n; i++) {
        rp_trips t = {0};
        rp_error err;
        rp_train_file_stats st = {0};
        double t0 = now_s();
        if (rp_trips_read(f->v[i], 0, &t, &err) < 0) {
            rp_cli_error("cannot read %s file %s: %s", role, f->v[i], err.msg);
            return -1;
        }
        int rc = rp_train_set_add(set, &t, f->v[i], &st, &err);
        rp_trips_free(&t);
        if (rc < 0) {
            rp_cli_error("%s file %s: %s", role, f->v[i], err.msg);
            return -1;
        }
        info[i] = (rp_train_file){.path = f->v[i], .rows = st.rows, .kept = st.kept};
        char rows[32], kept[32], ms[32];
        snprintf(rows, sizeof rows, "%zu", st.rows);
        snprintf(kept, sizeof kept, "%zu", st.kept);
        snprintf(ms, sizeof ms, "%.0f", (now_s() - t0) * 1000);
        rp_log(RP_LOG_INFO, "read trips", "role", role, "file", f->v[i], "rows", rows, "kept", kept, "ms", ms, NULL);
    }
    if (set->n == 0) {
        rp_cli_error("no %s rides left after the course's filter (duration from 1 to 60 minutes, "
                     "locations present) in %zu file(s), %s first: give files with trips",
                     role, f->n, f->v[0]);
        return -1;
    }
    return 0;
}

static int write_predictions(const char *path, const rp_train_set *s, const double *pred)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        rp_cli_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    fputs("PULocationID,DOLocationID,trip_distance,duration,prediction\n", f);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%" PRId32 ",%" PRId32 ",%.17g,%.17g,%.17g\n", (int32_t)(uint32_t)(s->key[i] >> 32),
                (int32_t)(uint32_t)s->key[i], s->x[i], s->y[i], pred[i]);
    if (fclose(f) != 0) {
        rp_cli_error("cannot write %s", path);
        return -1;
    }
    return 0;
}

int rp_cmd_train(int argc, char **argv)
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
    rp_train_param params[64];
    size_t n_params = 0;
    const char *algo = NULL, *out_dir = NULL, *pred_path = NULL;
    rp_cli_log_opts lo = {0};
    unsigned threads = 0;
    uint64_t seed = 0;
    int rc = RP_EXIT_USAGE;
    rp_train_set tr = {0}, va = {0};
    rp_vocab vocab = {0};
    rp_model *model = NULL;
    rp_linear_fit lf = {0};
    rp_forest forest = {0};
    rp_xgb_result xr = {0};
    rp_train_file *trinfo = NULL, *vainfo = NULL;
    double *ptr = NULL, *pva = NULL;
    rp_buf pjson, mjson;
    rp_buf_init(&pjson, 1 << 16);
    rp_buf_init(&mjson, 1 << 16);
    int c;
    optind = 1;
    /* A leading '-': operands come back in order as option 1, so that
     * "--train A B --val C" lists A and B under --train. */
    while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 1:
            if (!list) {
                fprintf(stderr, "ridepred train: unexpected argument %s (files go after --train or --val)\n\n%s", optarg, help);
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
        case 'a': algo = optarg; list = NULL; break;
        case 'p':
            list = NULL;
            if (n_params == sizeof params / sizeof params[0]) {
                rp_cli_error("too many --param (at most %zu)", sizeof params / sizeof params[0]);
                goto out;
            }
            {
                rp_error err;
                if (rp_train_param_split(optarg, &params[n_params], &err) < 0) {
                    rp_cli_error("%s", err.msg);
                    goto out;
                }
                n_params++;
            }
            break;
        case 'o': out_dir = optarg; list = NULL; break;
        case 'j': {
            list = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-' || v < 1 || v > 1024) {
                rp_cli_error("--threads %s: expected a number from 1 to 1024", optarg);
                goto out;
            }
            threads = (unsigned)v;
            break;
        }
        case 's': {
            list = NULL;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-') {
                rp_cli_error("--seed %s: expected a non-negative integer", optarg);
                goto out;
            }
            seed = v;
            break;
        }
        case 'P': pred_path = optarg; list = NULL; break;
        case 0x300:
        case 0x301: rp_cli_log_opt(c, optarg, &lo); list = NULL; break;
        case 'h': fputs(help, stdout); rc = RP_EXIT_OK; goto out;
        default: fputs(help, stderr); goto out;
        }
    }
    if (rp_cli_logging(lo.format, lo.level) < 0)
        goto out;
    if (!trf.n || !vaf.n || !algo || !out_dir) {
        fprintf(stderr, "ridepred train: --train, --val, --algo and --out are required\n\n%s", help);
        goto out;
    }

    /* Parameters first: a typo fails before minutes of work. */
    rp_linear_solver solver = RP_LINEAR_LSQR;
    rp_forest_params fp;
    rp_xgb_params xp;
    if (!strcmp(algo, "linear")) {
        if (linear_params(params, n_params, &solver, &pjson) < 0)
            goto out;
    } else if (!strcmp(algo, "forest")) {
        if (forest_params(params, n_params, &fp, &pjson) < 0)
            goto out;
    } else if (!strcmp(algo, "xgboost")) {
        rp_error err;
        if (rp_xgb_params_resolve(params, n_params, &xp, &err) < 0) {
            rp_cli_error("%s", err.msg);
            goto out;
        }
        rp_xgb_params_json(&xp, &pjson);
    } else {
        rp_cli_error("--algo %s: expected linear, forest or xgboost", algo);
        goto out;
    }
    rp_buf_printf(&pjson, ", \"seed\": %" PRIu64, seed);

    rc = RP_EXIT_FAILURE;
    rp_error err;
    char run_id[33];
    if (rp_train_run_id(run_id, &err) < 0) {
        rp_cli_error("%s", err.msg);
        goto out;
    }
    if (rp_train_check_out(out_dir, &err) < 0) {
        rp_cli_error("%s", err.msg);
        goto out;
    }
    trinfo = calloc(trf.n, sizeof *trinfo);
    vainfo = calloc(vaf.n, sizeof *vainfo);
    if (!trinfo || !vainfo)
        goto nomem;
    if (read_files(&trf, "training", &tr, trinfo) < 0)
        goto out;
    if (rp_vocab_build(&vocab, &tr, &err) < 0) {
        rp_cli_error("%s", err.msg);
        goto out;
    }
    if (read_files(&vaf, "validation", &va, vainfo) < 0)
        goto out;
    rp_vocab_map(&vocab, &va);

    progress prog = {.tty = isatty(STDERR_FILENO) == 1, .last_pct = -1};
    rp_train_opts o = {.threads = threads, .seed = seed,
                       .progress = on_progress, .progress_ctx = &prog, .version = run_id};
    {
        char rides[32], cols[32];
        snprintf(rides, sizeof rides, "%zu", tr.n);
        snprintf(cols, sizeof cols, "%u", vocab.n);
        rp_log(RP_LOG_INFO, "training", "algo", algo, "rides", rides, "pu_do_values", cols, NULL);
    }
    double t0 = now_s();
    if (!strcmp(algo, "linear")) {
        if (rp_train_linear(&tr, &vocab, solver, &lf, &err) < 0 ||
            rp_train_linear_model(&vocab, &lf, &o, &model, &err) < 0)
            goto fail;
        if (solver == RP_LINEAR_LSQR)
            rp_buf_printf(&mjson, "\"lsqr_iterations\": %d, \"lsqr_istop\": %d", lf.iterations, lf.istop);
    } else if (!strcmp(algo, "forest")) {
        int r = rp_train_forest(&tr, &vocab, &fp, &o, &forest, &err);
        progress_end(&prog);
        if (r < 0 || rp_train_forest_model(&vocab, &forest, &o, &model, &err) < 0)
            goto fail;
        rp_model_info info;
        rp_model_get_info(model, &info);
        rp_buf_printf(&mjson, "\"trees\": %u, \"nodes\": %" PRIu64 ", \"leaves\": %" PRIu64, info.n_trees,
                      info.n_nodes, info.n_leaves);
    } else {
        int r = rp_train_xgboost(&tr, &va, &vocab, &xp, &o, &xr, &err);
        progress_end(&prog);
        if (r < 0)
            goto fail;
        model = rp_model_retain(xr.model);
        rp_buf_printf(&mjson, "\"rounds\": %d, \"best_iteration\": %d, \"trees\": %d", xr.rounds,
                      xr.best_iteration, xr.best_iteration + 1);
    }
    double seconds = now_s() - t0;

    ptr = malloc(tr.n * sizeof *ptr);
    pva = malloc(va.n * sizeof *pva);
    if (!ptr || !pva)
        goto nomem;
    if (rp_train_predict(model, &tr, ptr, &err) < 0 || rp_train_predict(model, &va, pva, &err) < 0)
        goto fail;
    double rmse_tr = rp_train_rmse(&tr, ptr), rmse_va = rp_train_rmse(&va, pva);
    {
        char a[32], b[32], s[32];
        snprintf(a, sizeof a, "%.6f", rmse_tr);
        snprintf(b, sizeof b, "%.6f", rmse_va);
        snprintf(s, sizeof s, "%.3f", seconds);
        rp_log(RP_LOG_INFO, "trained", "algo", algo, "seconds", s, "rmse_train", a, "rmse_val", b, NULL);
    }
    rp_train_run run = {.algo = algo, .run_id = run_id, .model = model, .params_json = pjson.data,
                        .metrics_json = mjson.data, .rmse_train = rmse_tr, .rmse_val = rmse_va,
                        .n_train = tr.n, .n_val = va.n, .vocabulary = vocab.n, .seconds = seconds,
                        .train = trinfo, .val = vainfo, .n_train_files = trf.n, .n_val_files = vaf.n,
                        .xgb_json = xr.json, .xgb_json_len = xr.json_len, .xgb_version = xr.xgb_version};
    if (pjson.failed || mjson.failed)
        goto nomem;
    if (rp_train_write_dir(out_dir, &run, &err) < 0) {
        rp_cli_error("%s", err.msg);
        goto out;
    }
    if (pred_path && write_predictions(pred_path, &va, pva) < 0)
        goto out;
    printf("%s: %zu training rides (%u PU_DO values), %zu validation rides, trained in %.2f s\n", algo, tr.n,
           vocab.n, va.n, seconds);
    printf("RMSE: train %.6f, validation %.6f\n", rmse_tr, rmse_va);
    printf("model: %s (run_id %s)\n", out_dir, run_id);
    rc = RP_EXIT_OK;
    goto out;
fail:
    rp_cli_error("%s: %s", algo, err.msg);
    goto out;
nomem:
    rp_cli_error("out of memory");
    rc = RP_EXIT_FAILURE;
out:
    free(trf.v);
    free(vaf.v);
    free(trinfo);
    free(vainfo);
    free(ptr);
    free(pva);
    rp_model_release(model);
    rp_linear_fit_free(&lf);
    rp_forest_free(&forest);
    rp_xgb_result_free(&xr);
    rp_vocab_free(&vocab);
    rp_train_set_free(&tr);
    rp_train_set_free(&va);
    rp_buf_cleanup(&pjson);
    rp_buf_cleanup(&mjson);
    return rc;
}
