/* Amazon S3: ListObjectsV2, GetObject and the model-directory cache (see
 * s3.h). */
#define _GNU_SOURCE
#include "aws/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "common/buf.h"
#include "common/file.h"
#include "ridepred/log.h"

#define URL_MAX 4096
#define LIST_MAX_BYTES ((size_t)16 * 1024 * 1024)
#define OBJECT_MAX_BYTES ((size_t)1024 * 1024 * 1024)
#define MAX_OBJECTS 10000
#define MAX_PAGES 100

typedef struct s3_ctx {
    rp__http_client http;
    rp__http_response resp;
    rp__aws_credentials creds;
    char region[RP_AWS_REGION_MAX + 1];
    char endpoint[URL_MAX]; /* path-style base without trailing '/', or "" */
    char shown[URL_MAX];    /* for messages */
    const char *bucket;
} s3_ctx;

bool rp__s3_is_uri(const char *location)
{
    return location && !strncmp(location, "s3://", 5);
}

int rp__s3_parse_uri(const char *uri, char bucket[RP_S3_BUCKET_MAX + 1], char prefix[RP_S3_KEY_MAX + 1],
                     rp_error *err)
{
    if (!rp__s3_is_uri(uri))
        return rp_error_set(err, RP_ERR_INVALID, "not an s3:// location");
    const char *b = uri + 5;
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen < 3 || blen > RP_S3_BUCKET_MAX)
        return rp_error_set(err, RP_ERR_INVALID,
                            "%s: the bucket name must be 3 to %d characters (s3://BUCKET/PREFIX)", uri,
                            RP_S3_BUCKET_MAX);
    for (size_t i = 0; i < blen; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_'))
            return rp_error_set(err, RP_ERR_INVALID, "%s: invalid character in the bucket name", uri);
    }
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    const char *p = slash ? slash + 1 : "";
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    if (plen > RP_S3_KEY_MAX - 16)
        return rp_error_set(err, RP_ERR_INVALID, "%s: the prefix is longer than %d bytes", uri,
                            RP_S3_KEY_MAX - 16);
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return rp_error_set(err, RP_ERR_INVALID, "%s: control character in the prefix", uri);
    memcpy(prefix, p, plen);
    prefix[plen] = '\0';
    return 0;
}

/* ---- small helpers ------------------------------------------------------ */

/* Decodes XML character references and the five entities in place. */
static void xml_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (*r != '&') {
            *w++ = *r++;
            continue;
        }
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
            size_t n = strlen(ents[i].ent);
            if (!strncmp(r, ents[i].ent, n)) {
                *w++ = ents[i].c;
                r += n;
                done = true;
                break;
            }
        }
        if (!done && r[1] == '#') {
            char *end;
            unsigned long cp = r[2] == 'x' ? strtoul(r + 3, &end, 16) : strtoul(r + 2, &end, 10);
            if (*end == ';' && cp > 0 && cp <= 0x10FFFF) {
                if (cp < 0x80) {
                    *w++ = (char)cp;
                } else if (cp < 0x800) {
                    *w++ = (char)(0xC0 | (cp >> 6));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *w++ = (char)(0xE0 | (cp >> 12));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *w++ = (char)(0xF0 | (cp >> 18));
                    *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                }
                r = end + 1;
                done = true;
            }
        }
        if (!done)
            *w++ = *r++;
    }
    *w = '\0';
}

/* Finds <tag>...</tag> at or after *pos in [body, body+len); returns a
 * malloc'd, unescaped copy of its text and moves *pos past it, or NULL. */
static char *xml_next(const char *body, size_t len, size_t *pos, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    if (*pos >= len)
        return NULL;
    const char *s = memmem(body + *pos, len - *pos, open, strlen(open));
    if (!s)
        return NULL;
    s += strlen(open);
    const char *e = memmem(s, (size_t)(body + len - s), close, strlen(close));
    if (!e)
        return NULL;
    char *out = strndup(s, (size_t)(e - s));
    if (!out)
        return NULL;
    xml_unescape(out);
    *pos = (size_t)(e - body) + strlen(close);
    return out;
}

/* ---- requests ----------------------------------------------------------- */

/* The URL of a bucket (key NULL, then query) or an object. */
static int build_url(s3_ctx *c, const char *key, const char *query, rp__buf *u)
{
    rp__buf_reset(u);
    if (c->endpoint[0]) {
        rp__buf_puts(u, c->endpoint);
        rp__buf_putc(u, '/');
        rp__sigv4_uri_encode(u, c->bucket, strlen(c->bucket), false);
        if (key) {
            rp__buf_putc(u, '/');
            rp__sigv4_uri_encode(u, key, strlen(key), true);
        }
    } else {
        rp__buf_printf(u, "https://%s.s3.%s.amazonaws.com/", c->bucket, c->region);
        if (key)
            rp__sigv4_uri_encode(u, key, strlen(key), true);
    }
    if (query) {
        rp__buf_putc(u, '?');
        rp__buf_puts(u, query);
    }
    return u->failed ? -1 : 0;
}

/* Explains a failed request on s3://bucket/what (what may be a key or a
 * prefix ending in '/'). */
static int s3_fail(s3_ctx *c, const char *op, const char *what, const rp_error *e, rp_error *err)
{
    if (c->resp.status == 0) {
        rp_error_set(err, RP_ERR_IO, "S3 %s s3://%s/%s: cannot reach %s: %s", op, c->bucket, what, c->shown,
                     e->msg);
        if (err)
            err->retriable = e->retriable;
        return -1;
    }
    rp__aws_error_info info;
    rp__aws_error_parse(&c->resp, &info);
    long st = c->resp.status;
    if (!strcmp(info.code, "NoSuchBucket"))
        return rp_error_set(err, RP_ERR_NOT_FOUND, "S3 bucket '%s' does not exist (at %s)", c->bucket,
                            c->shown);
    if (!strcmp(info.code, "NoSuchKey") || (st == 404 && !info.code[0]))
        return rp_error_set(err, RP_ERR_NOT_FOUND, "S3 object s3://%s/%s does not exist (key '%s')",
                            c->bucket, what, what);
    if (!strcmp(info.code, "InvalidAccessKeyId") || !strcmp(info.code, "SignatureDoesNotMatch") ||
        !strcmp(info.code, "ExpiredToken") || !strcmp(info.code, "InvalidToken"))
        return rp_error_set(
            err, RP_ERR_INVALID, "S3 %s s3://%s/%s: the AWS credentials (from %s) were refused: %s%s%s", op,
            c->bucket, what, c->creds.source, info.code, info.message[0] ? ": " : "", info.message);
    if (!strcmp(info.code, "AccessDenied") || st == 403)
        return rp_error_set(err, RP_ERR_INVALID,
                            "S3 %s s3://%s/%s: access denied (HTTP %ld %s%s%s); check the AWS "
                            "credentials (from %s) and the bucket's policy",
                            op, c->bucket, what, st, info.code[0] ? info.code : "",
                            info.message[0] ? ": " : "", info.message, c->creds.source);
    if (st == 301 || !strcmp(info.code, "PermanentRedirect"))
        return rp_error_set(err, RP_ERR_INVALID,
                            "S3 %s s3://%s/%s: the bucket is not in region %s (set AWS_REGION to its "
                            "region): %s",
                            op, c->bucket, what, c->region, e->msg);
    rp_error_set(err, e->code, "S3 %s s3://%s/%s: %s", op, c->bucket, what, e->msg);
    return -1;
}

static int s3_get(s3_ctx *c, const char *url, const char *op, const char *what, rp_error *err)
{
    rp__http_request req = {.method = "GET", .url = url};
    rp__sigv4_signer signer = {
        .creds = &c->creds,
        .service = "s3",
        .region = c->region,
        .flags = RP_SIGV4_S3,
    };
    rp_error e;
    rp_error_clear(&e);
    rp__http_response_reset(&c->resp);
    int rc = rp__http_execute(&c->http, &req, rp__sigv4_prepare, &signer, &c->resp, &e);
    memset(signer.out.authorization, 0, sizeof signer.out.authorization);
    if (rc == 0)
        return 0;
    return s3_fail(c, op, what, &e, err);
}

typedef struct key_list {
    char **keys;
    size_t n, cap;
} key_list;

static void keys_free(key_list *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i]);
    free(k->keys);
    k->keys = NULL;
    k->n = k->cap = 0;
}

static int keys_add(key_list *k, char *key)
{
    char **p = rp__array_grow(k->keys, k->n, &k->cap, sizeof *k->keys, 16);
    if (!p)
        return -1;
    k->keys = p;
    k->keys[k->n++] = key;
    return 0;
}

/* Lists every key under list_prefix (ListObjectsV2, following pages). */
static int s3_list(s3_ctx *c, const char *list_prefix, key_list *out, rp_error *err)
{
    rp__buf q, url;
    rp__buf_init(&q, URL_MAX);
    rp__buf_init(&url, URL_MAX * 2);
    char *token = NULL;
    int rc = -1;
    for (int page = 0; page < MAX_PAGES; page++) {
        rp__buf_reset(&q);
        if (token) {
            rp__buf_lit(&q, "continuation-token=");
            rp__sigv4_uri_encode(&q, token, strlen(token), false);
            rp__buf_putc(&q, '&');
        }
        rp__buf_lit(&q, "list-type=2&prefix=");
        rp__sigv4_uri_encode(&q, list_prefix, strlen(list_prefix), false);
        if (q.failed || build_url(c, NULL, q.data, &url) != 0) {
            rp_error_set(err, RP_ERR_LIMIT, "S3 list s3://%s/%s: URL too long", c->bucket, list_prefix);
            goto out;
        }
        if (s3_get(c, url.data, "list", list_prefix, err) != 0)
            goto out;
        const char *body = c->resp.body.data ? c->resp.body.data : "";
        size_t len = c->resp.body.data ? c->resp.body.len : 0;
        size_t pos = 0;
        char *key;
        while ((key = xml_next(body, len, &pos, "Key"))) {
            if (out->n >= MAX_OBJECTS || keys_add(out, key) != 0) {
                free(key);
                rp_error_set(err, RP_ERR_LIMIT, "S3 list s3://%s/%s: more than %d objects", c->bucket,
                             list_prefix, MAX_OBJECTS);
                goto out;
            }
        }
        pos = 0;
        char *trunc = xml_next(body, len, &pos, "IsTruncated");
        bool more = trunc && !strcmp(trunc, "true");
        free(trunc);
        free(token);
        token = NULL;
        if (!more) {
            rc = 0;
            goto out;
        }
        pos = 0;
        token = xml_next(body, len, &pos, "NextContinuationToken");
        if (!token) {
            rp_error_set(err, RP_ERR_INVALID,
                         "S3 list s3://%s/%s: a truncated answer without NextContinuationToken", c->bucket,
                         list_prefix);
            goto out;
        }
    }
    rp_error_set(err, RP_ERR_LIMIT, "S3 list s3://%s/%s: more than %d pages", c->bucket, list_prefix,
                 MAX_PAGES);
out:
    free(token);
    rp__buf_cleanup(&q);
    rp__buf_cleanup(&url);
    return rc;
}

/* ---- files -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A key's path below the prefix must be relative, without empty, "." or
 * ".." components. */
static bool safe_relative(const char *rel)
{
    if (!*rel || *rel == '/')
        return false;
    const char *s = rel;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (!e)
            break;
        s = e + 1;
    }
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

static int write_file(const char *path, const void *data, size_t len, rp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return rp_error_set(err, RP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static bool is_complete(const char *dir)
{
    char marker[PATH_MAX];
    if ((size_t)snprintf(marker, sizeof marker, "%s/%s", dir, RP_S3_CACHE_MARKER) >= sizeof marker)
        return false;
    return access(marker, F_OK) == 0;
}

/* ---- the model directory ------------------------------------------------ */

static int ctx_open(s3_ctx *c, const char *bucket, rp_error *err)
{
    memset(c, 0, sizeof *c);
    c->bucket = bucket;
    rp__http_response_init(&c->resp, OBJECT_MAX_BYTES);
    const char *from;
    const char *ep = rp__aws_endpoint_from_env("S3", &from);
    bool no_proxy = false;
    rp_error e;
    if (rp__aws_region_resolve(c->region, sizeof c->region, NULL, &e) != 0) {
        if (e.code != RP_ERR_NOT_FOUND) {
            if (err)
                *err = e;
            rp_error_prefix(err, "AWS region for S3");
            return -1;
        }
        snprintf(c->region, sizeof c->region, "us-east-1");
    }
    if (ep) {
        rp__http_url u;
        if (strlen(ep) >= sizeof c->endpoint - 1)
            return rp_error_set(err, RP_ERR_INVALID, "S3 endpoint (%s) is too long", from);
        if (rp__http_url_parse(ep, &u, err) != 0) {
            rp_error_prefix(err, "S3 endpoint (%s)", from);
            return -1;
        }
        if (u.query_len || strchr(ep, '?') || strchr(ep, '#'))
            return rp_error_set(err, RP_ERR_INVALID,
                                "S3 endpoint (%s) must be scheme://host[:port][/path], without a query",
                                from);
        snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
        size_t n = strlen(c->endpoint);
        while (n && c->endpoint[n - 1] == '/')
            c->endpoint[--n] = '\0';
        if (u.port >= 0)
            snprintf(c->shown, sizeof c->shown, "%.*s://%.*s:%d (%s)", (int)u.scheme_len, u.scheme,
                     (int)u.host_len, u.host, u.port, from);
        else
            snprintf(c->shown, sizeof c->shown, "%.*s://%.*s (%s)", (int)u.scheme_len, u.scheme,
                     (int)u.host_len, u.host, from);
        no_proxy = rp__http_url_is_loopback(&u);
    } else {
        snprintf(c->shown, sizeof c->shown, "https://%s.s3.%s.amazonaws.com", bucket, c->region);
    }
    rp__http_options hopt = {
        .max_response_bytes = OBJECT_MAX_BYTES, .no_proxy = no_proxy, .timeout_ms = 300000};
    rp__http_client_init(&c->http, &hopt, NULL);
    if (rp__aws_credentials_resolve(&c->creds, NULL, err) != 0) {
        rp_error_prefix(err, "AWS credentials for S3");
        return -1;
    }
    return 0;
}

static void ctx_close(s3_ctx *c)
{
    rp__http_client_cleanup(&c->http);
    rp__http_response_cleanup(&c->resp);
    rp__aws_credentials_clear(&c->creds);
}

/* Lists, checks for MLmodel and downloads everything into staging. */
static int download(s3_ctx *c, const char *prefix, const char *staging, size_t *n_files, rp_error *err)
{
    char list_prefix[RP_S3_KEY_MAX + 2];
    snprintf(list_prefix, sizeof list_prefix, "%s%s", prefix, *prefix ? "/" : "");
    size_t plen = strlen(list_prefix);
    key_list keys = {0};
    rp__buf url;
    rp__buf_init(&url, URL_MAX * 2);
    int rc = -1;
    if (s3_list(c, list_prefix, &keys, err) != 0)
        goto out;
    if (keys.n == 0) {
        rp_error_set(err, RP_ERR_NOT_FOUND,
                     "no MLflow model at s3://%s/%s: no objects under that prefix (at %s)", c->bucket,
                     list_prefix, c->shown);
        goto out;
    }
    bool has_mlmodel = false;
    for (size_t i = 0; i < keys.n; i++)
        if (!strcmp(keys.keys[i] + plen, "MLmodel"))
            has_mlmodel = true;
    if (!has_mlmodel) {
        char found[300];
        size_t off = 0;
        found[0] = '\0';
        for (size_t i = 0; i < keys.n && off < sizeof found - 1; i++)
            off +=
                (size_t)snprintf(found + off, sizeof found - off, "%s%s", i ? ", " : "", keys.keys[i] + plen);
        if (off >= sizeof found - 1)
            snprintf(found + sizeof found - 5, 5, "...");
        rp_error_set(err, RP_ERR_NOT_FOUND, "no MLmodel under s3://%s/%s (%zu object%s there: %s)", c->bucket,
                     list_prefix, keys.n, keys.n == 1 ? "" : "s", found);
        goto out;
    }
    *n_files = 0;
    for (size_t i = 0; i < keys.n; i++) {
        const char *key = keys.keys[i];
        const char *rel = key + plen;
        size_t rl = strlen(rel);
        if (rl == 0 || rel[rl - 1] == '/')
            continue; /* a "folder" marker */
        if (!safe_relative(rel) || !strcmp(rel, RP_S3_CACHE_MARKER)) {
            rp_error_set(err, RP_ERR_INVALID,
                         "S3 object key '%s' does not name a file inside the model directory", key);
            goto out;
        }
        if (build_url(c, key, NULL, &url) != 0) {
            rp_error_set(err, RP_ERR_LIMIT, "S3 object key '%s' is too long", key);
            goto out;
        }
        if (s3_get(c, url.data, "get", key, err) != 0)
            goto out;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", staging, rel) >= sizeof path) {
            rp_error_set(err, RP_ERR_LIMIT, "S3 object key '%s': local path too long", key);
            goto out;
        }
        if (rp__file_mkdirs_for(path, 0700, err) != 0) {
            rp_error_prefix(err, "S3 object key '%s'", key);
            goto out;
        }
        if (write_file(path, c->resp.body.data ? c->resp.body.data : "",
                       c->resp.body.data ? c->resp.body.len : 0, err) != 0)
            goto out;
        ++*n_files;
    }
    rc = 0;
out:
    keys_free(&keys);
    rp__buf_cleanup(&url);
    return rc;
}

int rp__s3_fetch_model_dir(const char *uri, const rp__s3_fetch_opts *opts, char *out_dir, size_t cap,
                           rp_error *err)
{
    char bucket[RP_S3_BUCKET_MAX + 1], prefix[RP_S3_KEY_MAX + 1];
    if (rp__s3_parse_uri(uri, bucket, prefix, err) != 0)
        return -1;
    bool no_cache = opts && opts->no_cache;
    const char *base = opts && opts->cache_dir && *opts->cache_dir ? opts->cache_dir : NULL;
    if (!base)
        base = RP_S3_DEFAULT_CACHE_DIR;

    char hash[65];
    if (rp__sigv4_sha256_hex(prefix, strlen(prefix), hash, err) != 0)
        return -1;
    hash[16] = '\0';
    char parent[PATH_MAX], final_dir[PATH_MAX];
    if ((size_t)snprintf(parent, sizeof parent, "%s/%s", base, bucket) >= sizeof parent ||
        (size_t)snprintf(final_dir, sizeof final_dir, "%s/%s", parent, hash) >= sizeof final_dir ||
        strlen(final_dir) >= cap)
        return rp_error_set(err, RP_ERR_LIMIT, "model cache directory %s: path too long", base);

    if (!no_cache && is_complete(final_dir)) {
        rp_log(RP_LOG_INFO, "model served from the local cache", "location", uri, "directory", final_dir,
               NULL);
        snprintf(out_dir, cap, "%s", final_dir);
        return 0;
    }

    s3_ctx c;
    if (ctx_open(&c, bucket, err) != 0) {
        ctx_close(&c);
        return -1;
    }
    int rc = -1;
    char staging[PATH_MAX] = "";
    if (rp__file_mkdirs(parent, 0700, err) != 0) {
        rp_error_prefix(err, "the model cache");
        goto out;
    }
    if ((size_t)snprintf(staging, sizeof staging, "%s/.%s.tmp.XXXXXX", parent, hash) >= sizeof staging ||
        !mkdtemp(staging)) {
        rp_error_set(err, RP_ERR_IO, "cannot create a directory in the model cache %s: %s", parent,
                     strerror(errno));
        staging[0] = '\0';
        goto out;
    }
    size_t n_files = 0;
    if (download(&c, prefix, staging, &n_files, err) != 0)
        goto out;
    char marker[PATH_MAX];
    if ((size_t)snprintf(marker, sizeof marker, "%s/%s", staging, RP_S3_CACHE_MARKER) >= sizeof marker) {
        rp_error_set(err, RP_ERR_LIMIT, "model cache directory %s: path too long", base);
        goto out;
    }
    char note[RP_S3_KEY_MAX + 96];
    int nl = snprintf(note, sizeof note, "s3://%s/%s\n", bucket, prefix);
    if (write_file(marker, note, (size_t)nl, err) != 0)
        goto out;
    if (rename(staging, final_dir) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            rp_error_set(err, RP_ERR_IO, "cannot move the model into the cache (%s): %s", final_dir,
                         strerror(errno));
            goto out;
        }
        if (!no_cache && is_complete(final_dir)) {
            /* Another process finished first: use its copy. */
        } else {
            char trash[PATH_MAX];
            if ((size_t)snprintf(trash, sizeof trash, "%s/.%s.old.XXXXXX", parent, hash) >= sizeof trash ||
                !mkdtemp(trash) || rename(final_dir, trash) != 0 || rename(staging, final_dir) != 0) {
                rp_error_set(err, RP_ERR_IO, "cannot replace the cached model %s: %s", final_dir,
                             strerror(errno));
                goto out;
            }
            rm_tree(trash);
            staging[0] = '\0';
        }
    } else {
        staging[0] = '\0';
    }
    char count[32];
    snprintf(count, sizeof count, "%zu", n_files);
    rp_log(RP_LOG_INFO, "model downloaded from S3", "location", uri, "directory", final_dir, "files", count,
           NULL);
    snprintf(out_dir, cap, "%s", final_dir);
    rc = 0;
out:
    if (staging[0])
        rm_tree(staging);
    ctx_close(&c);
    return rc;
}
