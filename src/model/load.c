/* Loading models: a path is sniffed and handed to the reader of its format
 * (the top of src/model; docs/models.md lists the formats).
 *
 * The readers (model_json.c, sklearn.c, xgboost.c, and mlflow.c for
 * directories) each end in the image builder (model.h rp__model_build);
 * native files are mapped (rp__model_map_file).  A new format is a reader
 * and one row of `formats` below: nothing under it changes. */
#include "ridepred/model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "model/budget.h"
#include "model/image.h"
#include "model/mlflow.h"
#include "model/model.h"
#include "model/model_json.h"
#include "model/pickle.h"
#include "model/sklearn.h"
#include "model/xgboost.h"

/* A model path opened for loading: what a format is recognised by. */
typedef struct model_file {
    const char *path;
    int fd; /* open on the file or directory; rp_model_load closes it */
    bool dir;
    size_t size;           /* the file's size (fstat) */
    unsigned char head[8]; /* its first bytes, zeros past head_len */
    size_t head_len;
} model_file;

typedef struct model_format {
    bool (*match)(const model_file *f);
    /* Loads a matched file; returns 0 with *out set, or -1 with err set. */
    int (*load)(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err);
} model_format;

static size_t max_build(const rp_model_load_opts *opts)
{
    return opts ? opts->max_build_bytes : 0;
}

/* An MLflow model directory. */
static bool is_dir(const model_file *f)
{
    return f->dir;
}

static int load_mlflow(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    return rp__mlflow_load(f->path, opts, out, err);
}

/* A scikit-learn pickle: the pickle PROTO opcode. */
static bool is_pickle(const model_file *f)
{
    return f->head_len >= 2 && f->head[0] == 0x80;
}

static int load_pickle(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    rp__sklearn_opts so = {.max_build_bytes = max_build(opts)};
    return rp__sklearn_load_file(f->path, &so, out, err);
}

/* An XGBoost UBJSON model, or the legacy binary one (via libxgboost). */
static bool is_xgb_binary(const model_file *f)
{
    if (f->head_len < 2)
        return false;
    rp__xgb_kind k = rp__xgb_sniff(f->head, f->head_len);
    return k == RP_XGB_UBJSON || k == RP_XGB_LEGACY;
}

static int load_xgb_file(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    rp__xgb_opts xo = {.max_build_bytes = max_build(opts)};
    return rp__xgb_load_file(f->path, &xo, out, err);
}

/* A native model: its magic. */
static bool is_native(const model_file *f)
{
    return f->head_len == sizeof f->head && memcmp(f->head, RP_IMG_MAGIC, sizeof f->head) == 0;
}

static int load_native(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    return rp__model_map_file(f->fd, f->size, f->path, opts, out, err);
}

/* Anything else is read as JSON: an XGBoost JSON model (a top-level
 * "learner"), else ridepred.model/1. */
static bool is_other(const model_file *f)
{
    (void)f;
    return true;
}

static int load_json(const model_file *f, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    if (f->size > RP_MODEL_JSON_MAX_BYTES)
        return rp_error_set(err, RP_ERR_LIMIT, "model %s: %zu bytes is over the JSON model limit of %u bytes",
                            f->path, f->size, RP_MODEL_JSON_MAX_BYTES);
    unsigned char *text;
    if (rp__file_read_fd(f->fd, f->path, f->size, &text, err) < 0) {
        rp_error_prefix(err, "model");
        return -1;
    }
    int rc;
    if (rp__xgb_sniff(text, f->size) == RP_XGB_JSON) {
        rp__xgb_opts xo = {.max_build_bytes = max_build(opts)};
        rc = rp__xgb_from_buffer(text, f->size, &xo, out, err);
    } else {
        rc = rp_model_from_json((const char *)text, f->size, out, err);
    }
    free(text);
    if (rc < 0)
        rp_error_prefix(err, "model %s", f->path);
    return rc;
}

/* In the order they are tried: the first that matches loads the file. */
static const model_format formats[] = {
    {is_dir, load_mlflow},    {is_pickle, load_pickle}, {is_xgb_binary, load_xgb_file},
    {is_native, load_native}, {is_other, load_json}, /* last: matches anything */
};

int rp_model_load(const char *path, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    /* A model is a regular file or an MLflow directory; anything else (a
     * FIFO would block the first read forever) is refused here. */
    struct stat st;
    model_file f = {.path = path};
    f.fd = rp__file_open(path, true, &st, err);
    if (f.fd < 0) {
        rp_error_prefix(err, "model");
        return -1;
    }
    f.dir = S_ISDIR(st.st_mode);
    f.size = (size_t)st.st_size;
    if (!f.dir) {
        ssize_t got = pread(f.fd, f.head, sizeof f.head, 0);
        f.head_len = got > 0 ? (size_t)got : 0;
    }
    const model_format *fmt = formats;
    while (!fmt->match(&f))
        fmt++;
    int rc = fmt->load(&f, opts, out, err);
    close(f.fd);
    return rc;
}

/* ---- the course's layout: a booster and a pickled DictVectorizer ---------- */

int rp_model_load_preprocessed(const char *path, const char *preprocessor, const rp_model_load_opts *opts,
                               const char *version, rp_model **out, rp_error *err)
{
    unsigned char *pbuf = NULL;
    size_t plen;
    if (rp__file_read(preprocessor, RP_PICKLE_MAX_FILE, &pbuf, &plen, err) < 0)
        return -1;
    pk_graph g;
    const char **names = NULL; /* views into g */
    size_t *lens = NULL;
    int rc = -1;
    rp__model_budget budget;
    rp__budget_init(&budget, max_build(opts), plen);
    if (pk_load_budget(pbuf, plen, &budget, &g, err) < 0) {
        rp_error_prefix(err, "preprocessor %s", preprocessor);
        free(pbuf);
        return -1;
    }
    rp__buf ob;
    rp__buf_init(&ob, RP_IMG_SOURCE_MAX / 4);
    uint32_t nf = 0;
    if (!pk_is(g.root, "DictVectorizer")) {
        rp_error_set(err, RP_ERR_UNSUPPORTED, "the preprocessor must be a pickled DictVectorizer (found %s)",
                     pk_type_name(g.root));
        rp_error_prefix(err, "preprocessor %s", preprocessor);
        goto done;
    }
    if (rp__sklearn_dv_columns(g.root, &names, &lens, &nf, err) < 0) {
        rp_error_prefix(err, "preprocessor %s", preprocessor);
        goto done;
    }
    rp__img_source_str(&ob, "preprocessor", rp__file_basename(preprocessor));
    const pk_value *dvv = pk_attr(g.root, "_sklearn_version");
    if (dvv && dvv->type == PK_STR)
        rp__img_source_strn(&ob, "preprocessor_sklearn_version", dvv->s, dvv->n);
    rp__xgb_opts xo = {.version = version,
                       .n_features = nf,
                       .feature_names = names,
                       .feature_lens = lens,
                       .origin = ob.failed ? NULL : ob.data + 1,
                       .max_build_bytes = max_build(opts)};
    struct stat st;
    if (stat(path, &st) < 0) {
        rc = rp_error_set(err, errno == ENOENT ? RP_ERR_NOT_FOUND : RP_ERR_IO, "cannot open model %s: %s",
                          path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = rp__mlflow_load_xgb(path, opts, &xo, out, err);
    } else {
        unsigned char *buf;
        size_t size;
        if (rp__file_read(path, RP_XGB_MAX_FILE, &buf, &size, err) < 0)
            goto done;
        if (size && buf[0] != '{' && memcmp(buf, "binf", size < 4 ? size : 4)) {
            rc = rp_error_set(
                err, RP_ERR_UNSUPPORTED,
                "model %s: --preprocessor goes with an XGBoost booster (JSON or UBJSON), and this is not one",
                path);
        } else {
            xo.file = rp__file_basename(path);
            rc = rp__xgb_from_buffer(buf, size, &xo, out, err);
            if (rc < 0)
                rp_error_prefix(err, "model %s", path);
        }
        free(buf);
    }
done:
    rp__buf_cleanup(&ob);
    free(names);
    free(lens);
    pk_free(&g);
    free(pbuf);
    return rc;
}
