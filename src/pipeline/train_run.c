/* The training pipeline (see train_run.h). */
#include "pipeline/train_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "data/trips.h"
#include "pipeline/monitor_run.h"
#include "pipeline/output.h"
#include "pipeline/xgb.h"
#include "ridepred/log.h"

static const char *const algo_names[] = {"linear", "forest", "xgboost"};

int rp__train_algo_parse(const char *name, rp__train_algo *out, rp_error *err)
{
    for (size_t i = 0; i < sizeof algo_names / sizeof algo_names[0]; i++)
        if (!strcmp(name, algo_names[i])) {
            *out = (rp__train_algo)i;
            return 0;
        }
    return rp_error_set(err, RP_ERR_INVALID, "--algo %s: expected linear, forest or xgboost", name);
}

const char *rp__train_algo_name(rp__train_algo algo)
{
    return (unsigned)algo < sizeof algo_names / sizeof algo_names[0] ? algo_names[algo] : "unknown";
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- parameters ---- */

/* Every algorithm's parameters, resolved over the defaults. */
typedef struct resolved {
    rp__linear_solver solver;
    rp__forest_params forest;
    rp__xgb_params xgb;
} resolved;

static int param_uint(const rp__train_param *p, uint32_t min, uint32_t max, uint32_t *out, rp_error *err)
{
    char *end;
    unsigned long v = strtoul(p->value, &end, 10);
    if (end == p->value || *end || p->value[0] == '-' || v < min || v > max)
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected an integer from %u to %u", p->key,
                            p->value, min, max);
    *out = (uint32_t)v;
    return 0;
}

static int linear_params(const rp__train_param *ps, size_t n, rp__linear_solver *solver, rp__buf *json,
                         rp_error *err)
{
    *solver = RP_LINEAR_LSQR;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ps[i].key, "solver"))
            return rp_error_set(err, RP_ERR_INVALID,
                                "--param %s: not a parameter of --algo linear (known: solver)", ps[i].key);
        if (!strcmp(ps[i].value, "lsqr"))
            *solver = RP_LINEAR_LSQR;
        else if (!strcmp(ps[i].value, "exact"))
            *solver = RP_LINEAR_EXACT;
        else
            return rp_error_set(err, RP_ERR_INVALID, "--param solver=%s: expected lsqr or exact",
                                ps[i].value);
    }
    rp__buf_printf(json, "\"solver\": \"%s\", \"fit_intercept\": true",
                   *solver == RP_LINEAR_LSQR ? "lsqr" : "exact");
    return 0;
}

static int bool_param(const rp__train_param *p, bool *out, rp_error *err)
{
    if (!strcmp(p->value, "true") || !strcmp(p->value, "True") || !strcmp(p->value, "1"))
        *out = true;
    else if (!strcmp(p->value, "false") || !strcmp(p->value, "False") || !strcmp(p->value, "0"))
        *out = false;
    else
        return rp_error_set(err, RP_ERR_INVALID, "--param %s=%s: expected true or false", p->key, p->value);
    return 0;
}

static int forest_param(const rp__train_param *p, rp__forest_params *fp, rp_error *err)
{
    if (!strcmp(p->key, "n_estimators"))
        return param_uint(p, 1, 100000, &fp->n_estimators, err);
    if (!strcmp(p->key, "max_depth")) {
        if (!strcmp(p->value, "None") || !strcmp(p->value, "none")) {
            fp->max_depth = 0;
            return 0;
        }
        return param_uint(p, 0, 100000, &fp->max_depth, err);
    }
    if (!strcmp(p->key, "min_samples_leaf"))
        return param_uint(p, 1, UINT32_MAX / 2, &fp->min_samples_leaf, err);
    if (!strcmp(p->key, "min_samples_split"))
        return param_uint(p, 2, UINT32_MAX / 2, &fp->min_samples_split, err);
    if (!strcmp(p->key, "max_samples")) {
        char *end;
        double d = strtod(p->value, &end);
        if (end == p->value || *end || !(d > 0 && d <= 1))
            return rp_error_set(err, RP_ERR_INVALID, "--param max_samples=%s: expected a fraction in (0, 1]",
                                p->value);
        fp->max_samples = d;
        return 0;
    }
    if (!strcmp(p->key, "bootstrap"))
        return bool_param(p, &fp->bootstrap, err);
    return rp_error_set(err, RP_ERR_INVALID,
                        "--param %s: not a parameter of --algo forest (known: n_estimators, max_depth, "
                        "min_samples_leaf, min_samples_split, max_samples, bootstrap; the seed is --seed)",
                        p->key);
}

static int forest_params(const rp__train_param *ps, size_t n, rp__forest_params *fp, rp__buf *json,
                         rp_error *err)
{
    rp__forest_params_default(fp);
    for (size_t i = 0; i < n; i++)
        if (forest_param(&ps[i], fp, err) < 0)
            return -1;
    rp__buf_printf(json, "\"n_estimators\": %u, \"max_depth\": ", fp->n_estimators);
    if (fp->max_depth)
        rp__buf_printf(json, "%u", fp->max_depth);
    else
        rp__buf_lit(json, "null");
    rp__buf_printf(json,
                   ", \"min_samples_leaf\": %u, \"min_samples_split\": %u, \"max_samples\": %.17g, "
                   "\"bootstrap\": %s, \"max_features\": 1.0, \"criterion\": \"squared_error\"",
                   fp->min_samples_leaf, fp->min_samples_split, fp->max_samples,
                   fp->bootstrap ? "true" : "false");
    return 0;
}

/* Resolves the parameters of algo into rv and appends them to json as the
 * members of params.json after "algo". */
static int resolve(rp__train_algo algo, const rp__train_param *ps, size_t n, resolved *rv, rp__buf *json,
                   rp_error *err)
{
    switch (algo) {
    case RP_TRAIN_LINEAR: return linear_params(ps, n, &rv->solver, json, err);
    case RP_TRAIN_FOREST: return forest_params(ps, n, &rv->forest, json, err);
    case RP_TRAIN_XGBOOST:
        if (rp__xgb_params_resolve(ps, n, &rv->xgb, err) < 0)
            return -1;
        rp__xgb_params_json(&rv->xgb, json);
        return 0;
    }
    return rp_error_set(err, RP_ERR_INVALID, "algorithm %d: expected linear, forest or xgboost", (int)algo);
}

int rp__train_check_params(rp__train_algo algo, const rp__train_param *params, size_t n, rp_error *err)
{
    resolved rv;
    rp__buf json;
    rp__buf_init(&json, 1 << 16);
    int rc = resolve(algo, params, n, &rv, &json, err);
    rp__buf_cleanup(&json);
    return rc;
}

/* ---- data ---- */

static int read_file(const char *path, const char *role, rp__train_set *set, rp__train_file *info,
                     rp_error *err)
{
    rp__trips t = {0};
    rp__train_file_stats st = {0};
    double t0 = now_s();
    if (rp__trips_read(path, 0, &t, err) < 0) {
        rp_error_prefix(err, "cannot read %s file %s", role, path);
        return -1;
    }
    int rc = rp__train_set_add(set, &t, path, &st, err);
    rp__trips_free(&t);
    if (rc < 0) {
        rp_error_prefix(err, "%s file %s", role, path);
        return -1;
    }
    *info = (rp__train_file){.path = path, .rows = st.rows, .kept = st.kept};
    char rows[32], kept[32], ms[32];
    snprintf(rows, sizeof rows, "%zu", st.rows);
    snprintf(kept, sizeof kept, "%zu", st.kept);
    snprintf(ms, sizeof ms, "%.0f", (now_s() - t0) * 1000);
    rp_log(RP_LOG_INFO, "read trips", "role", role, "file", path, "rows", rows, "kept", kept, "ms", ms, NULL);
    return 0;
}

/* Reads the files of one role into set, each file's counts into info[]. */
static int read_files(const char *const *paths, size_t n, const char *role, rp__train_set *set,
                      rp__train_file *info, rp_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (read_file(paths[i], role, set, &info[i], err) < 0)
            return -1;
    if (set->n == 0)
        return rp_error_set(err, RP_ERR_INVALID,
                            "no %s rides left after the course's filter (duration from 1 to 60 minutes, "
                            "locations present) in %zu file(s), %s first: give files with trips",
                            role, n, paths[0]);
    return 0;
}

static int write_predictions(const char *path, const rp__train_set *s, const double *pred, rp_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return rp_error_set(err, RP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    fputs("PULocationID,DOLocationID,trip_distance,duration,prediction\n", f);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%" PRId32 ",%" PRId32 ",%.17g,%.17g,%.17g\n", (int32_t)(uint32_t)(s->key[i] >> 32),
                (int32_t)(uint32_t)s->key[i], s->x[i], s->y[i], pred[i]);
    if (fclose(f) != 0)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s", path);
    return 0;
}

/* ---- the pipeline ---- */

/* Everything one run holds, freed by job_free. */
typedef struct job {
    const rp__train_config *c;
    const char *algo;
    resolved rv;
    char run_id[33];
    rp__train_set tr, va;
    rp__vocab vocab;
    rp__train_file *trinfo, *vainfo;
    rp_model *model;
    rp__linear_fit lf;
    rp__forest forest;
    rp__xgb_result xr;
    double *ptr, *pva;
    rp__buf pjson, mjson; /* params.json members, extra metrics.json members */
    rp__monitor_spec ref_spec;
    rp__monitor_sample ref; /* the monitoring reference */
    double seconds, rmse_tr, rmse_va;
} job;

static void job_free(job *j)
{
    free(j->trinfo);
    free(j->vainfo);
    free(j->ptr);
    free(j->pva);
    rp_model_release(j->model);
    rp__linear_fit_free(&j->lf);
    rp__forest_free(&j->forest);
    rp__xgb_result_free(&j->xr);
    rp__vocab_free(&j->vocab);
    rp__train_set_free(&j->tr);
    rp__train_set_free(&j->va);
    rp__buf_cleanup(&j->pjson);
    rp__buf_cleanup(&j->mjson);
    rp__monitor_sample_free(&j->ref);
}

/* The rides: training files, the vocabulary, validation files. */
static int load(job *j, rp_error *err)
{
    const rp__train_config *c = j->c;
    j->trinfo = calloc(c->n_train_files, sizeof *j->trinfo);
    j->vainfo = calloc(c->n_val_files, sizeof *j->vainfo);
    if (!j->trinfo || !j->vainfo)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (read_files(c->train_files, c->n_train_files, "training", &j->tr, j->trinfo, err) < 0 ||
        rp__vocab_build(&j->vocab, &j->tr, err) < 0 ||
        read_files(c->val_files, c->n_val_files, "validation", &j->va, j->vainfo, err) < 0)
        return -1;
    rp__vocab_map(&j->vocab, &j->va);
    return 0;
}

static void progress_end(const rp__train_config *c)
{
    if (c->progress_end)
        c->progress_end(c->progress_ctx);
}

/* Fits the algorithm into j->model; what it reports goes to j->mjson. */
static int fit(job *j, rp_error *err)
{
    const rp__train_config *c = j->c;
    rp__train_opts o = {.threads = c->threads,
                        .seed = c->seed,
                        .progress = c->progress,
                        .progress_ctx = c->progress_ctx,
                        .version = j->run_id};
    int r;
    switch (c->algo) {
    case RP_TRAIN_LINEAR:
        r = rp__train_linear(&j->tr, &j->vocab, j->rv.solver, &j->lf, err);
        progress_end(c);
        if (r < 0 || rp__train_linear_model(&j->vocab, &j->lf, &o, &j->model, err) < 0)
            return -1;
        if (j->rv.solver == RP_LINEAR_LSQR)
            rp__buf_printf(&j->mjson, "\"lsqr_iterations\": %d, \"lsqr_istop\": %d", j->lf.iterations,
                           j->lf.istop);
        return 0;
    case RP_TRAIN_FOREST: {
        r = rp__train_forest(&j->tr, &j->vocab, &j->rv.forest, &o, &j->forest, err);
        progress_end(c);
        if (r < 0 || rp__train_forest_model(&j->vocab, &j->forest, &o, &j->model, err) < 0)
            return -1;
        rp_model_info info;
        rp_model_get_info(j->model, &info);
        rp__buf_printf(&j->mjson, "\"trees\": %u, \"nodes\": %" PRIu64 ", \"leaves\": %" PRIu64, info.n_trees,
                       info.n_nodes, info.n_leaves);
        return 0;
    }
    case RP_TRAIN_XGBOOST:
        r = rp__train_xgboost(&j->tr, &j->va, &j->vocab, &j->rv.xgb, &o, &j->xr, err);
        progress_end(c);
        if (r < 0)
            return -1;
        j->model = rp_model_retain(j->xr.model);
        rp__buf_printf(&j->mjson, "\"rounds\": %d, \"best_iteration\": %d, \"trees\": %d", j->xr.rounds,
                       j->xr.best_iteration, j->xr.best_iteration + 1);
        return 0;
    }
    return rp_error_set(err, RP_ERR_INTERNAL, "no such algorithm");
}

/* Fits (timed, logged) and predicts both sets. */
static int fit_and_score(job *j, rp_error *err)
{
    char rides[32], cols[32];
    snprintf(rides, sizeof rides, "%zu", j->tr.n);
    snprintf(cols, sizeof cols, "%u", j->vocab.n);
    rp_log(RP_LOG_INFO, "training", "algo", j->algo, "rides", rides, "pu_do_values", cols, NULL);
    double t0 = now_s();
    if (fit(j, err) < 0) {
        rp_error_prefix(err, "%s", j->algo);
        return -1;
    }
    j->seconds = now_s() - t0;
    j->ptr = malloc(j->tr.n * sizeof *j->ptr);
    j->pva = malloc(j->va.n * sizeof *j->pva);
    if (!j->ptr || !j->pva)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (rp__train_predict(j->model, &j->tr, j->ptr, err) < 0 ||
        rp__train_predict(j->model, &j->va, j->pva, err) < 0) {
        rp_error_prefix(err, "%s", j->algo);
        return -1;
    }
    j->rmse_tr = rp__train_rmse(&j->tr, j->ptr);
    j->rmse_va = rp__train_rmse(&j->va, j->pva);
    char a[32], b[32], s[32];
    snprintf(a, sizeof a, "%.6f", j->rmse_tr);
    snprintf(b, sizeof b, "%.6f", j->rmse_va);
    snprintf(s, sizeof s, "%.3f", j->seconds);
    rp_log(RP_LOG_INFO, "trained", "algo", j->algo, "seconds", s, "rmse_train", a, "rmse_val", b, NULL);
    return 0;
}

/* The monitoring reference (pipeline/monitor_run.h): the validation rides
 * with the model's predictions, the course's column set when the files have
 * its columns (passenger_count, fare_amount, total_amount), else the
 * serving set (trip_distance, the locations, the prediction). */
static int reference(job *j, rp_error *err)
{
    const rp__train_config *c = j->c;
    double t0 = now_s();
    rp__monitor_spec_course(&j->ref_spec);
    int rc = rp__monitor_reference_from_trips(j->model, c->val_files, c->n_val_files, &j->ref_spec,
                                              RP_MONITOR_REFERENCE_CAP, RP_MONITOR_REFERENCE_SEED, NULL,
                                              &j->ref, NULL, err);
    if (rc < 0 && err->code == RP_ERR_INVALID && strstr(err->msg, "no column")) {
        rp_log(RP_LOG_INFO,
               "the validation files lack the course's monitoring columns: the reference keeps "
               "the serving set",
               "why", err->msg, NULL);
        rp__monitor_spec_serving(&j->ref_spec);
        rc = rp__monitor_reference_from_trips(j->model, c->val_files, c->n_val_files, &j->ref_spec,
                                              RP_MONITOR_REFERENCE_CAP, RP_MONITOR_REFERENCE_SEED, NULL,
                                              &j->ref, NULL, err);
    }
    if (rc < 0) {
        rp_error_prefix(err, "the monitoring reference");
        return -1;
    }
    char rides[32], ms[32];
    snprintf(rides, sizeof rides, "%zu", j->ref.n);
    snprintf(ms, sizeof ms, "%.0f", (now_s() - t0) * 1000);
    rp_log(RP_LOG_INFO, "reference", "file", RP_MONITOR_REFERENCE_FILE, "rides", rides, "ms", ms, NULL);
    return 0;
}

/* The model directory, then the predictions CSV. */
static int write_out(job *j, rp_error *err)
{
    const rp__train_config *c = j->c;
    if (reference(j, err) < 0)
        return -1;
    if (j->pjson.failed || j->mjson.failed)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    rp__train_run run = {.algo = j->algo,
                         .run_id = j->run_id,
                         .model = j->model,
                         .params_json = j->pjson.data,
                         .metrics_json = j->mjson.data ? j->mjson.data : "",
                         .rmse_train = j->rmse_tr,
                         .rmse_val = j->rmse_va,
                         .n_train = j->tr.n,
                         .n_val = j->va.n,
                         .vocabulary = j->vocab.n,
                         .seconds = j->seconds,
                         .train = j->trinfo,
                         .val = j->vainfo,
                         .n_train_files = c->n_train_files,
                         .n_val_files = c->n_val_files,
                         .xgb_json = j->xr.json,
                         .xgb_json_len = j->xr.json_len,
                         .xgb_version = j->xr.xgb_version,
                         .ref_spec = &j->ref_spec,
                         .ref_sample = &j->ref};
    if (rp__train_write_dir(c->out_dir, &run, err) < 0)
        return -1;
    if (c->predictions_path && write_predictions(c->predictions_path, &j->va, j->pva, err) < 0)
        return -1;
    return 0;
}

static int run(job *j, rp_error *err)
{
    const rp__train_config *c = j->c;
    if (!c->n_train_files || !c->n_val_files || !c->out_dir)
        return rp_error_set(err, RP_ERR_INVALID, "training needs training files, validation files and --out");
    if (resolve(c->algo, c->params, c->n_params, &j->rv, &j->pjson, err) < 0)
        return -1;
    rp__buf_printf(&j->pjson, ", \"seed\": %" PRIu64, c->seed);
    if (rp__train_run_id(j->run_id, err) < 0 || rp__train_check_out(c->out_dir, err) < 0)
        return -1;
    if (load(j, err) < 0 || fit_and_score(j, err) < 0)
        return -1;
    return write_out(j, err);
}

int rp__train(const rp__train_config *c, rp__train_report *r, rp_error *err)
{
    memset(r, 0, sizeof *r);
    job j = {.c = c, .algo = rp__train_algo_name(c->algo)};
    rp__buf_init(&j.pjson, 1 << 16);
    rp__buf_init(&j.mjson, 1 << 16);
    int rc = run(&j, err);
    if (rc == 0) {
        *r = (rp__train_report){.n_train = j.tr.n,
                                .n_val = j.va.n,
                                .vocabulary = j.vocab.n,
                                .seconds = j.seconds,
                                .rmse_train = j.rmse_tr,
                                .rmse_val = j.rmse_va};
        memcpy(r->run_id, j.run_id, sizeof r->run_id);
    }
    job_free(&j);
    return rc;
}
