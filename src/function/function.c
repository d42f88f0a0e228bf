/* The function and its workers (see function.h). */
#include "function/function.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"

struct rp__function {
    rp_model *model;
    bool publish;
    rp_stream_backend backend;
    rp_stream_config *streams; /* an owned copy */
    char stream_name[RP_STREAM_NAME_MAX + 1];
    char stream_spec[RP_STREAM_NAME_MAX + 16];
    char *version; /* the version every answer reports, version_len bytes */
    size_t version_len;
};

struct rp__worker {
    rp__function *f;
    rp_handler *h;
    rp_stream_conn *s;
    atomic_bool hold;
    _Atomic unsigned long long published;
};

int rp__model_source_load(const rp__model_source *src, rp_model **out, rp_error *err)
{
    *out = NULL;
    if (!src->location || !*src->location)
        return rp_error_set(err, RP_ERR_INVALID, "no model location given");
    rp_model_load_opts opts = {.verify_checksum = !src->skip_checksum,
                               .max_build_bytes = src->max_build_bytes};
    const char *location = src->location;
    char local[PATH_MAX];
    if (rp__s3_is_uri(location)) {
        /* Downloaded, or found in the cache (no_cache: downloaded again). */
        rp__s3_fetch_opts so = {.no_cache = src->no_cache, .cache_dir = src->cache_dir};
        if (rp__s3_fetch_model_dir(location, &so, local, sizeof local, err) != 0)
            return -1;
        location = local;
    }
    return src->preprocessor ? rp_model_load_preprocessed(location, src->preprocessor, &opts, NULL, out, err)
                             : rp_model_load(location, &opts, out, err);
}

int rp__function_open(const rp__function_config *cfg, rp__function **out, rp_error *err)
{
    *out = NULL;
    rp__function *f = calloc(1, sizeof *f);
    if (!f)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (rp__model_source_load(&cfg->model, &f->model, err) < 0)
        goto fail;
    {
        size_t vlen;
        const char *ver = rp_handler_version(f->model, cfg->model_version, cfg->run_id, &vlen);
        if (rp_handler_check_version(vlen, err) < 0)
            goto fail;
        f->version = malloc(vlen + 1);
        if (!f->version) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(f->version, ver, vlen);
        f->version[vlen] = '\0';
        f->version_len = vlen;
    }

    f->publish = !cfg->test_run;
    if (f->publish) {
        const char *spec = cfg->predictions_stream;
        if (!spec || !*spec)
            spec = "ride_predictions";
        if (!(f->streams = rp_stream_config_dup(&cfg->streams))) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (rp_stream_parse_name(spec, f->streams, &f->backend, f->stream_name, err) < 0) {
            rp_error_prefix(err, "predictions stream");
            goto fail;
        }
        snprintf(f->stream_spec, sizeof f->stream_spec, "%s:%s", rp_stream_backend_name(f->backend),
                 f->stream_name);
    }
    *out = f;
    return 0;
fail:
    rp__function_close(f);
    return -1;
}

void rp__function_close(rp__function *f)
{
    if (!f)
        return;
    rp_model_release(f->model);
    free(f->version);
    rp_stream_config_free(f->streams);
    free(f);
}

rp_model *rp__function_model(const rp__function *f)
{
    return f->model;
}

const char *rp__function_version(const rp__function *f, size_t *len)
{
    if (len)
        *len = f->version_len;
    return f->version;
}

bool rp__function_publishes(const rp__function *f)
{
    return f->publish;
}

const char *rp__function_predictions_stream(const rp__function *f)
{
    return f->publish ? f->stream_spec : "";
}

static int publish(void *ctx, const rp_stream_entry *e, size_t n, rp_stream_put_result *res, rp_error *err)
{
    rp__worker *w = ctx;
    if (atomic_load_explicit(&w->hold, memory_order_relaxed)) {
        for (size_t i = 0; i < n; i++) {
            memset(&res[i], 0, sizeof res[i]);
            /* The handler logs "not published: CODE: MESSAGE": the message
             * says why only. */
            snprintf(res[i].error_code, sizeof res[i].error_code, "DeadlineNear");
            snprintf(res[i].error_message, sizeof res[i].error_message,
                     "too little time left before the invocation's deadline");
        }
        return rp_error_set(err, RP_ERR_LIMIT, "publishing held: the deadline is near");
    }
    int rc = rp_stream_put(w->s, w->f->stream_name, e, n, res, err);
    unsigned long long ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += res[i].ok;
    atomic_fetch_add_explicit(&w->published, ok, memory_order_relaxed);
    return rc;
}

/* A handler of f's model and version, publishing through publish (NULL:
 * nothing). */
static rp_handler *handler_new(rp__function *f, rp_publish_fn publish, void *ctx, rp_error *err)
{
    rp_handler_config hcfg = {.version = f->version,
                              .version_len = f->version_len,
                              .log_failures = true,
                              .publish = publish,
                              .publish_ctx = ctx};
    return rp_handler_new(f->model, &hcfg, err);
}

rp__worker *rp__worker_new(rp__function *f, rp_error *err)
{
    rp__worker *w = calloc(1, sizeof *w);
    if (!w) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->f = f;
    atomic_init(&w->hold, false);
    atomic_init(&w->published, 0);
    const char *name;
    if (f->publish && rp__function_output_open(f, &w->s, &name, err) < 0) {
        free(w);
        return NULL;
    }
    w->h = handler_new(f, f->publish ? publish : NULL, w, err);
    if (!w->h) {
        rp_stream_close(w->s);
        free(w);
        return NULL;
    }
    return w;
}

void rp__worker_free(rp__worker *w)
{
    if (!w)
        return;
    rp_handler_free(w->h);
    rp_stream_close(w->s);
    free(w);
}

int rp__worker_invoke(rp__worker *w, const char *event, size_t len, rp_invoke_result *res)
{
    return rp_handler_invoke(w->h, event, len, res);
}

rp_handler *rp__function_handler_new(rp__function *f, rp_error *err)
{
    return handler_new(f, NULL, NULL, err);
}

int rp__function_output_open(const rp__function *f, rp_stream_conn **out, const char **name, rp_error *err)
{
    *out = NULL;
    *name = NULL;
    if (!f->publish)
        return rp_error_set(err, RP_ERR_INVALID, "the function does not publish (TEST_RUN)");
    if (rp_stream_open(f->backend, f->streams, out, err) < 0) {
        rp_error_prefix(err, "cannot publish predictions to '%s' (TEST_RUN=True answers without publishing)",
                        f->stream_spec);
        return -1;
    }
    *name = f->stream_name;
    return 0;
}

rp_handler *rp__worker_handler(rp__worker *w)
{
    return w->h;
}

unsigned long long rp__worker_published(const rp__worker *w)
{
    return atomic_load_explicit(&((rp__worker *)w)->published, memory_order_relaxed);
}

void rp__worker_hold_publishing(rp__worker *w, bool hold)
{
    atomic_store_explicit(&w->hold, hold, memory_order_relaxed);
}
