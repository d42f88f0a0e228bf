/* The model directory of `ridepred train` (see output.h). */
#include "pipeline/output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/pyjson.h"

int rp__train_run_id(char out[33], rp_error *err)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rp_error_set(err, RP_ERR_IO, "cannot get random bytes for the run id: %s",
                                strerror(errno));
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* uuid version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant */
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len, rp_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return rp_error_set(err, RP_ERR_LIMIT, "path too long: %s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return rp_error_set(err, RP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(e));
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int flush(const char *dir, const char *name, const rp__buf *b, rp_error *err)
{
    if (b->failed)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory writing %s", name);
    return write_file(dir, name, b->data, b->len, err);
}

static void json_str(rp__buf *b, const char *s)
{
    rp__pyjson_utf8(b, s, strlen(s));
}

static void files_json(rp__buf *b, const rp__train_file *f, size_t n)
{
    rp__buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        rp__buf_puts(b, i ? ", {\"file\": " : "{\"file\": ");
        json_str(b, f[i].path);
        rp__buf_printf(b, ", \"rows\": %zu, \"kept\": %zu}", f[i].rows, f[i].kept);
    }
    rp__buf_putc(b, ']');
}

/* Removes what a failed write left in the staging directory. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

/* 0 when dir does not exist or is an empty directory (then removed). */
static int make_room(const char *dir, rp_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return rp_error_set(err, RP_ERR_IO, "cannot use %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return rp_error_set(err, RP_ERR_INVALID,
                            "--out %s exists and is not a directory: choose a new directory", dir);
    if (rmdir(dir) < 0) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            return rp_error_set(err, RP_ERR_INVALID,
                                "--out %s exists and is not empty: choose a new directory or remove it", dir);
        return rp_error_set(err, RP_ERR_IO, "cannot replace the empty directory %s: %s", dir,
                            strerror(errno));
    }
    return 0;
}

int rp__train_check_out(const char *dir, rp_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return rp_error_set(err, RP_ERR_INVALID,
                            "--out %s exists and is not a directory: choose a new directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return rp_error_set(err, RP_ERR_IO, "cannot use --out %s: %s", dir, strerror(errno));
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    if (!empty)
        return rp_error_set(err, RP_ERR_INVALID,
                            "--out %s exists and is not empty: choose a new directory or remove it", dir);
    return 0;
}

int rp__train_write_dir(const char *dir, const rp__train_run *r, rp_error *err)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (dl == 0 || dl > 3000)
        return rp_error_set(err, RP_ERR_INVALID, "--out: a directory name is needed");
    char target[3072], stage[3200];
    snprintf(target, sizeof target, "%.*s", (int)dl, dir);
    if (rp__train_check_out(target, err) < 0)
        return -1;
    snprintf(stage, sizeof stage, "%s.tmp-XXXXXX", target);
    if (!mkdtemp(stage))
        return rp_error_set(err, RP_ERR_IO, "cannot create a directory beside %s: %s", target,
                            strerror(errno));
    chmod(stage, 0755); /* mkdtemp makes it 0700; a model directory is shared like any other */
    int rc = -1;
    rp__buf b;
    rp__buf_init(&b, (size_t)1 << 30);
    char path[3300];
    snprintf(path, sizeof path, "%s/%s", stage, RP_TRAIN_MODEL_FILE);
    if (rp_model_write_native(r->model, path, err) < 0)
        goto out;
    if (r->xgb_json && write_file(stage, RP_TRAIN_XGB_FILE, r->xgb_json, r->xgb_json_len, err) < 0)
        goto out;
    if (r->ref_sample) {
        snprintf(path, sizeof path, "%s/%s", stage, RP_MONITOR_REFERENCE_FILE);
        if (rp__monitor_reference_write(path, r->ref_spec, r->ref_sample, err) < 0)
            goto out;
    }

    /* MLmodel */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S.000000", &tm);
    rp__buf_reset(&b);
    rp__buf_puts(&b, "artifact_path: model\nflavors:\n  ridepred:\n    model: " RP_TRAIN_MODEL_FILE "\n");
    rp__buf_printf(&b, "    format: native\n    algo: %s\n", r->algo);
    if (r->xgb_json)
        rp__buf_printf(&b,
                       "  xgboost:\n    data: " RP_TRAIN_XGB_FILE "\n    model_class: xgboost.core.Booster\n"
                       "    model_format: json\n    xgb_version: '%s'\n",
                       r->xgb_version ? r->xgb_version : "");
    rp__buf_printf(&b, "run_id: '%s'\nutc_time_created: '%s'\n", r->run_id, stamp);
    if (flush(stage, "MLmodel", &b, err) < 0)
        goto out;

    /* metrics.json */
    rp__buf_reset(&b);
    rp__buf_lit(&b, "{\"rmse_train\": ");
    rp__pyjson_double(&b, r->rmse_train);
    rp__buf_lit(&b, ", \"rmse_val\": ");
    rp__pyjson_double(&b, r->rmse_val);
    rp__buf_printf(&b, ", \"rows_train\": %zu, \"rows_val\": %zu, \"vocabulary\": %u, \"train_seconds\": ",
                   r->n_train, r->n_val, r->vocabulary);
    rp__pyjson_double(&b, r->seconds);
    if (r->metrics_json && r->metrics_json[0])
        rp__buf_printf(&b, ", %s", r->metrics_json);
    rp__buf_lit(&b, ", \"run_id\": ");
    json_str(&b, r->run_id);
    rp__buf_lit(&b, "}\n");
    if (flush(stage, "metrics.json", &b, err) < 0)
        goto out;

    /* params.json */
    rp__buf_reset(&b);
    rp__buf_lit(&b, "{\"algo\": ");
    json_str(&b, r->algo);
    if (r->params_json && r->params_json[0])
        rp__buf_printf(&b, ", %s", r->params_json);
    rp__buf_lit(&b, "}\n");
    if (flush(stage, "params.json", &b, err) < 0)
        goto out;

    /* data.json */
    rp__buf_reset(&b);
    rp__buf_lit(&b, "{\"train\": ");
    files_json(&b, r->train, r->n_train_files);
    rp__buf_lit(&b, ", \"val\": ");
    files_json(&b, r->val, r->n_val_files);
    rp__buf_lit(&b, "}\n");
    if (flush(stage, "data.json", &b, err) < 0)
        goto out;

    if (make_room(target, err) < 0)
        goto out;
    if (rename(stage, target) < 0) {
        rp_error_set(err, RP_ERR_IO, "cannot rename %s to %s: %s", stage, target, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        remove_tree(stage);
    rp__buf_cleanup(&b);
    return rc;
}
