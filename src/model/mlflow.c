/* MLflow model directories (see mlflow.h, docs/models.md). */
#include "model/mlflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/file.h"
#include "model/image.h"
#include "model/sklearn.h"
#include "model/xgboost.h"

#define SERVED_FLAVORS                                                                                       \
    "ridepred, sklearn, xgboost (JSON or UBJSON), python_function (loader_module mlflow.sklearn or mlflow.xgboost)"

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
            !memcmp(k->data.scalar.value, key, k->data.scalar.length))
            found = yaml_document_get_node(doc, p->value);
    }
    return found;
}

/* A scalar's text (NUL-terminated by libyaml), or NULL. */
static const char *scalar(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = map_get(doc, map, key);
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return NULL; /* an embedded NUL */
    return (const char *)n->data.scalar.value;
}

/* dir + "/" + a relative file name inside it (no absolute path, no ".."). */
static int join(const char *dir, const char *name, char *out, size_t cap, rp_error *err)
{
    if (!name[0] || name[0] == '/')
        return rp_error_set(
            err, RP_ERR_INVALID,
            "MLmodel names the file \"%s\": it must be a relative path inside the model directory", name);
    for (const char *p = name; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && !memcmp(p, "..", 2))
            return rp_error_set(err, RP_ERR_INVALID, "MLmodel names the file \"%s\": \"..\" is not allowed",
                                name);
        p += n + (e ? 1 : 0);
    }
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
        return rp_error_set(err, RP_ERR_LIMIT, "model path too long");
    return 0;
}

static int read_mlmodel(const char *path, char **text, size_t *len, rp_error *err)
{
    unsigned char *buf;
    if (rp__file_read(path, RP_MLMODEL_MAX_BYTES, &buf, len, err) < 0) {
        if (err && err->code == RP_ERR_NOT_FOUND)
            return rp_error_set(err, RP_ERR_NOT_FOUND, "no MLmodel file in the model directory (%s)", path);
        return -1;
    }
    *text = (char *)buf;
    return 0;
}

/* Streams MLmodel's parser events and refuses nesting deeper than
 * RP_MLMODEL_MAX_DEPTH before any document is built.  libyaml's scanner
 * takes time quadratic in the depth of flow collections (200 KB of "["
 * took a minute), so a deep file must be stopped as it is read: it is, at
 * its first level too many. */
static int check_depth(const char *path, const char *text, size_t len, rp_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, depth = 0;
    for (bool end = false; !end;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc =
                rp_error_set(err, RP_ERR_INVALID, "%s is not valid YAML: %s (line %zu)", path,
                             parser.problem ? parser.problem : "error", (size_t)parser.problem_mark.line + 1);
            break;
        }
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > RP_MLMODEL_MAX_DEPTH) {
                rc = rp_error_set(err, RP_ERR_LIMIT,
                                  "%s nests deeper than %d levels (line %zu): not an MLmodel file", path,
                                  RP_MLMODEL_MAX_DEPTH, (size_t)ev.start_mark.line + 1);
                end = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: end = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static void origin(yaml_document_t *doc, yaml_node_t *root, const char *flavor, yaml_node_t *fl, rp__buf *b);

/* The xgboost flavor (or python_function with loader_module
 * mlflow.xgboost): `data` names the booster file.  The feature names come
 * from `xo` (a preprocessor) or from the model. */
static int load_xgboost(const char *dir, const char *data, const char *run_id, const rp__xgb_opts *xo,
                        const char *origin, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    char path[4096];
    if (join(dir, data, path, sizeof path, err) < 0)
        return -1;
    rp__xgb_opts o = {0};
    if (xo)
        o = *xo;
    if (!o.version)
        o.version = run_id;
    o.format = "mlflow-xgboost";
    o.file = data;
    o.max_build_bytes = opts ? opts->max_build_bytes : 0;
    /* MLmodel's facts first, then the preprocessor's. */
    rp__buf ob;
    rp__buf_init(&ob, RP_IMG_SOURCE_MAX / 2);
    if (origin)
        rp__buf_puts(&ob, origin);
    if (xo && xo->origin)
        rp__buf_printf(&ob, "%s%s", ob.len ? ", " : "", xo->origin);
    o.origin = ob.failed || !ob.len ? NULL : ob.data;
    int rc = rp__xgb_load_file(path, &o, out, err);
    rp__buf_cleanup(&ob);
    return rc;
}

/* MLmodel's facts about the model, as source members (image.h). */
static void origin(yaml_document_t *doc, yaml_node_t *root, const char *flavor, yaml_node_t *fl, rp__buf *b)
{
    rp__img_source_str(b, "flavor", flavor);
    yaml_node_t *flavors = map_get(doc, root, "flavors");
    yaml_node_t *pf = flavors ? map_get(doc, flavors, "python_function") : NULL;
    rp__img_source_str(b, "loader_module", pf ? scalar(doc, pf, "loader_module") : NULL);
    rp__img_source_str(b, "run_id", scalar(doc, root, "run_id"));
    rp__img_source_str(b, "utc_time_created", scalar(doc, root, "utc_time_created"));
    rp__img_source_str(b, "mlflow_version", scalar(doc, root, "mlflow_version"));
    rp__img_source_str(b, "python_version", pf ? scalar(doc, pf, "python_version") : NULL);
    if (fl) {
        rp__img_source_str(b, "sklearn_version_mlmodel", scalar(doc, fl, "sklearn_version"));
        rp__img_source_str(b, "xgb_version_mlmodel", scalar(doc, fl, "xgb_version"));
        rp__img_source_str(b, "serialization_format", scalar(doc, fl, "serialization_format"));
    }
}

static int load_flavors(const char *dir, yaml_document_t *doc, const rp_model_load_opts *opts,
                        const rp__xgb_opts *xo, rp_model **out, rp_error *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return rp_error_set(err, RP_ERR_INVALID, "MLmodel is not a YAML mapping");
    yaml_node_t *flavors = map_get(doc, root, "flavors");
    if (!flavors || flavors->type != YAML_MAPPING_NODE)
        return rp_error_set(err, RP_ERR_INVALID, "MLmodel has no \"flavors\" mapping");
    const char *run_id = scalar(doc, root, "run_id");
    char path[4096];

    yaml_node_t *fl = map_get(doc, flavors, "xgboost");
    if (fl || xo) {
        const char *data = fl ? scalar(doc, fl, "data") : NULL;
        if (!fl) {
            yaml_node_t *pf = map_get(doc, flavors, "python_function");
            const char *loader = scalar(doc, pf, "loader_module");
            if (loader && !strcmp(loader, "mlflow.xgboost"))
                data = scalar(doc, pf, "data");
            else
                return rp_error_set(
                    err, RP_ERR_UNSUPPORTED,
                    "a preprocessor goes with an XGBoost booster, and MLmodel has no xgboost flavor");
        }
        if (!data)
            return rp_error_set(err, RP_ERR_INVALID, "MLmodel flavor xgboost has no \"data\" file");
        if (xo || (!map_get(doc, flavors, "ridepred") && !map_get(doc, flavors, "sklearn"))) {
            rp__buf ob;
            rp__buf_init(&ob, RP_IMG_SOURCE_MAX / 2);
            origin(doc, root, fl ? "xgboost" : "python_function", fl, &ob);
            int rc = load_xgboost(dir, data, run_id, xo, ob.failed || !ob.len ? NULL : ob.data + 1, opts, out,
                                  err);
            rp__buf_cleanup(&ob);
            return rc;
        }
    }
    fl = map_get(doc, flavors, "ridepred");
    if (fl) {
        const char *file = scalar(doc, fl, "model");
        if (!file)
            return rp_error_set(err, RP_ERR_INVALID, "MLmodel flavor ridepred needs \"model: FILE\"");
        if (join(dir, file, path, sizeof path, err) < 0)
            return -1;
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            return rp_error_set(err, RP_ERR_NOT_FOUND, "MLmodel flavor ridepred: %s is not a file", path);
        return rp_model_load(path, opts, out, err);
    }
    const char *pickled = NULL;
    fl = map_get(doc, flavors, "sklearn");
    if (fl) {
        const char *fmt = scalar(doc, fl, "serialization_format");
        if (fmt && strcmp(fmt, "pickle") && strcmp(fmt, "cloudpickle"))
            return rp_error_set(
                err, RP_ERR_UNSUPPORTED,
                "MLmodel flavor sklearn with serialization_format %s: ridepred reads pickle and cloudpickle",
                fmt);
        pickled = scalar(doc, fl, "pickled_model");
        if (!pickled)
            return rp_error_set(err, RP_ERR_INVALID, "MLmodel flavor sklearn has no pickled_model");
    } else if ((fl = map_get(doc, flavors, "python_function"))) {
        const char *loader = scalar(doc, fl, "loader_module");
        if (loader && !strcmp(loader, "mlflow.sklearn")) {
            pickled = scalar(doc, fl, "model_path");
            if (!pickled)
                return rp_error_set(err, RP_ERR_INVALID, "MLmodel flavor python_function has no model_path");
        } else if (loader && !strcmp(loader, "mlflow.xgboost")) {
            const char *data = scalar(doc, fl, "data");
            if (!data)
                return rp_error_set(err, RP_ERR_INVALID,
                                    "MLmodel flavor python_function has no \"data\" file");
            rp__buf ob;
            rp__buf_init(&ob, RP_IMG_SOURCE_MAX / 2);
            origin(doc, root, "python_function", NULL, &ob);
            int rc = load_xgboost(dir, data, run_id, NULL, ob.failed || !ob.len ? NULL : ob.data + 1, opts,
                                  out, err);
            rp__buf_cleanup(&ob);
            return rc;
        }
    }
    if (pickled) {
        if (join(dir, pickled, path, sizeof path, err) < 0)
            return -1;
        rp__buf ob;
        rp__buf_init(&ob, RP_IMG_SOURCE_MAX / 2);
        origin(doc, root, fl == map_get(doc, flavors, "sklearn") ? "sklearn" : "python_function", fl, &ob);
        rp__sklearn_opts so = {.version = run_id,
                               .format = "mlflow-sklearn",
                               .file = pickled,
                               .origin = ob.failed || !ob.len ? NULL : ob.data + 1 /* no brace */,
                               .max_build_bytes = opts ? opts->max_build_bytes : 0};
        int rc = rp__sklearn_load_file(path, &so, out, err);
        rp__buf_cleanup(&ob);
        return rc;
    }
    /* Name what is there. */
    char names[256];
    size_t k = 0;
    names[0] = '\0';
    for (yaml_node_pair_t *p = flavors->data.mapping.pairs.start; p < flavors->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE || k >= sizeof names - 8)
            continue;
        int w = snprintf(names + k, sizeof names - k, "%s%.*s", k ? ", " : "",
                         (int)(key->data.scalar.length > 60 ? 60 : key->data.scalar.length),
                         (const char *)key->data.scalar.value);
        if (w > 0)
            k += (size_t)w < sizeof names - k ? (size_t)w : sizeof names - k - 1;
        if (!strcmp((const char *)key->data.scalar.value, "python_function")) {
            const char *loader = scalar(doc, yaml_document_get_node(doc, p->value), "loader_module");
            if (loader && k < sizeof names - 8) {
                w = snprintf(names + k, sizeof names - k, " (loader_module %.60s)", loader);
                if (w > 0)
                    k += (size_t)w < sizeof names - k ? (size_t)w : sizeof names - k - 1;
            }
        }
    }
    return rp_error_set(err, RP_ERR_UNSUPPORTED,
                        "MLmodel flavors %s: none that ridepred serves (it serves %s)", k ? names : "(none)",
                        SERVED_FLAVORS);
}

int rp__mlflow_load(const char *dir, const rp_model_load_opts *opts, rp_model **out, rp_error *err)
{
    return rp__mlflow_load_xgb(dir, opts, NULL, out, err);
}

int rp__mlflow_load_xgb(const char *dir, const rp_model_load_opts *opts, const rp__xgb_opts *xo,
                        rp_model **out, rp_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/MLmodel", dir) >= sizeof path)
        return rp_error_set(err, RP_ERR_LIMIT, "model path too long");
    char *text = NULL;
    size_t len = 0;
    if (read_mlmodel(path, &text, &len, err) < 0)
        return -1;
    if (check_depth(path, text, len, err) < 0) {
        free(text);
        rp_error_prefix(err, "MLflow model %s", dir);
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = rp_error_set(err, RP_ERR_INVALID, "%s is not valid YAML: %s (line %zu)", path,
                          parser.problem ? parser.problem : "error", (size_t)parser.problem_mark.line + 1);
    } else {
        rc = load_flavors(dir, &doc, opts, xo, out, err);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    if (rc < 0)
        rp_error_prefix(err, "MLflow model %s", dir);
    return rc;
}
