/* sigv4_cli: signs requests with our SigV4 signer, for the comparison with
 * botocore (tests/integration/test_aws_sigv4.py).
 *
 * Reads one JSON object a line on stdin:
 *   {"id": 1, "method": "POST", "url": "https://...", "headers": [["Name", "value"], ...],
 *    "payload_b64": "...", "payload_hash": null | "UNSIGNED-PAYLOAD" | "<hex>",
 *    "service": "kinesis", "region": "us-east-1", "time": 1440938160,
 *    "access_key": "...", "secret_key": "...", "token": null | "...",
 *    "s3": false, "content_sha256": false}
 * and writes one JSON object a line on stdout:
 *   {"id": 1, "authorization": "...", "headers": [["Name", "value"], ...],
 *    "canonical_request": "...", "string_to_sign": "..."}
 * or {"id": 1, "error": "..."} when the signer refuses the request.
 *
 * With --send, each request is instead sent through rp__http_execute with
 * rp__sigv4_prepare (one client for all, so the connection is reused; the
 * signing clock fixed at "time"), and the line written is
 *   {"id": 1, "status": 200, "body": "..."}   or   {"id": 1, "error": "..."}
 * so that a server can check that what arrives is what was signed
 * (tests/integration/test_aws_sigv4.py).
 *
 * Exit status: 0, or 2 when the input itself is malformed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyjson.h"

#define LINE_MAX_BYTES ((size_t)16 * 1024 * 1024)
#define MAX_HEADERS 64

typedef struct job {
    char *id;
    char *method, *url, *payload_b64, *payload_hash, *service, *region, *ak, *sk, *token;
    long long time;
    bool s3, content_sha256;
    char *hname[MAX_HEADERS], *hvalue[MAX_HEADERS];
    size_t n_headers;
} job;

static void job_free(job *j)
{
    free(j->id);
    free(j->method);
    free(j->url);
    free(j->payload_b64);
    free(j->payload_hash);
    free(j->service);
    free(j->region);
    free(j->ak);
    free(j->sk);
    free(j->token);
    for (size_t i = 0; i < j->n_headers; i++) {
        free(j->hname[i]);
        free(j->hvalue[i]);
    }
    memset(j, 0, sizeof *j);
}

static char *dup_str(const rp__json_value *v)
{
    char *p = malloc(v->len + 1);
    if (!p)
        return NULL;
    size_t n = rp__json_str_decode(v, p);
    p[n] = '\0';
    return p;
}

/* Reads a string or null into *out.  Returns 0, or -1. */
static int read_str(rp__json_reader *r, char **out)
{
    rp__json_value v;
    if (rp__json_next(r, &v) != 1)
        return -1;
    if (v.type == RP_JSON_NULL)
        return 0;
    if (v.type != RP_JSON_STRING)
        return -1;
    free(*out);
    *out = dup_str(&v);
    return *out ? 0 : -1;
}

static int parse_job(const char *line, size_t len, job *j)
{
    rp__json_reader r;
    rp__json_value v, k;
    rp__json_init(&r, line, len, 8);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return -1;
    int more;
    while ((more = rp__json_member(&r, &k)) == 1) {
#define KEY(s) rp__json_str_eq(&k, s, sizeof(s) - 1)
        if (KEY("id")) {
            if (rp__json_next(&r, &v) != 1 || (v.type != RP_JSON_NUMBER && v.type != RP_JSON_STRING))
                return -1;
            /* Written back as it came: a number, or a string with its quotes. */
            const char *b = v.ptr;
            size_t n = v.len;
            if (v.type == RP_JSON_STRING) {
                b--;
                n += 2;
            }
            free(j->id);
            if (!(j->id = malloc(n + 1)))
                return -1;
            memcpy(j->id, b, n);
            j->id[n] = '\0';
        } else if (KEY("method")) {
            if (read_str(&r, &j->method))
                return -1;
        } else if (KEY("url")) {
            if (read_str(&r, &j->url))
                return -1;
        } else if (KEY("payload_b64")) {
            if (read_str(&r, &j->payload_b64))
                return -1;
        } else if (KEY("payload_hash")) {
            if (read_str(&r, &j->payload_hash))
                return -1;
        } else if (KEY("service")) {
            if (read_str(&r, &j->service))
                return -1;
        } else if (KEY("region")) {
            if (read_str(&r, &j->region))
                return -1;
        } else if (KEY("access_key")) {
            if (read_str(&r, &j->ak))
                return -1;
        } else if (KEY("secret_key")) {
            if (read_str(&r, &j->sk))
                return -1;
        } else if (KEY("token")) {
            if (read_str(&r, &j->token))
                return -1;
        } else if (KEY("time")) {
            if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_NUMBER || !v.is_int)
                return -1;
            j->time = strtoll(v.ptr, NULL, 10);
        } else if (KEY("s3") || KEY("content_sha256")) {
            bool *dst = KEY("s3") ? &j->s3 : &j->content_sha256;
            if (rp__json_next(&r, &v) != 1)
                return -1;
            *dst = v.type == RP_JSON_TRUE;
        } else if (KEY("headers")) {
            if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_ARRAY)
                return -1;
            int e;
            while ((e = rp__json_element(&r)) == 1) {
                if (j->n_headers == MAX_HEADERS)
                    return -1;
                if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_ARRAY)
                    return -1;
                char *name = NULL, *value = NULL;
                if (rp__json_element(&r) != 1 || read_str(&r, &name) || rp__json_element(&r) != 1 ||
                    read_str(&r, &value) || rp__json_element(&r) != 0 || !name || !value) {
                    free(name);
                    free(value);
                    return -1;
                }
                j->hname[j->n_headers] = name;
                j->hvalue[j->n_headers] = value;
                j->n_headers++;
            }
            if (e < 0)
                return -1;
        } else {
            if (rp__json_skip(&r, NULL) < 0)
                return -1;
        }
#undef KEY
    }
    return more == 0 && rp__json_end(&r) == 1 ? 0 : -1;
}

static void put_str(rp__buf *b, const char *key, const char *s, size_t n)
{
    rp__buf_printf(b, ", \"%s\": ", key);
    rp__pyjson_utf8(b, s, n);
}

static int run_job(const job *j, rp__buf *o)
{
    rp_error err;
    rp__aws_credentials creds;
    rp__sigv4_out out;
    rp__buf canon, sts;
    rp__buf_init(&canon, LINE_MAX_BYTES);
    rp__buf_init(&sts, LINE_MAX_BYTES);
    unsigned char *payload = NULL;
    long plen = 0;
    rp__http_header hs[MAX_HEADERS];
    for (size_t i = 0; i < j->n_headers; i++)
        hs[i] = (rp__http_header){j->hname[i], j->hvalue[i]};
    rp__buf_printf(o, "{\"id\": %s", j->id ? j->id : "null");
    if (j->payload_b64) {
        size_t n = strlen(j->payload_b64);
        const char *why = NULL;
        payload = malloc(RP_BASE64_DECODED_MAX(n));
        plen = payload ? rp__base64_decode(j->payload_b64, n, payload, &why) : -1;
        if (plen < 0) {
            put_str(o, "error", "bad payload_b64", 15);
            goto done;
        }
    }
    rp__sigv4_request req = {
        .method = j->method,
        .url = j->url,
        .headers = hs,
        .n_headers = j->n_headers,
        .payload = payload,
        .payload_len = (size_t)plen,
        .payload_hash = j->payload_hash,
        .service = j->service,
        .region = j->region,
        .time = (time_t)j->time,
        .flags = (j->s3 ? RP_SIGV4_S3 : 0u) | (j->content_sha256 ? RP_SIGV4_CONTENT_SHA256 : 0u),
    };
    if (rp__aws_credentials_set(&creds, j->ak ? j->ak : "", j->sk ? j->sk : "", j->token, &err) != 0 ||
        rp__sigv4_sign(&req, &creds, &out, &err) != 0 ||
        rp__sigv4_canonical(&req, &creds, &canon, &sts, &err) != 0) {
        put_str(o, "error", err.msg, strlen(err.msg));
        goto done;
    }
    put_str(o, "authorization", out.authorization, strlen(out.authorization));
    rp__buf_lit(o, ", \"headers\": [");
    for (size_t i = 0; i < out.n_headers; i++) {
        rp__buf_puts(o, i ? ", [" : "[");
        rp__pyjson_utf8(o, out.headers[i].name, strlen(out.headers[i].name));
        rp__buf_lit(o, ", ");
        rp__pyjson_utf8(o, out.headers[i].value, strlen(out.headers[i].value));
        rp__buf_putc(o, ']');
    }
    rp__buf_putc(o, ']');
    put_str(o, "canonical_request", canon.data ? canon.data : "", canon.len);
    put_str(o, "string_to_sign", sts.data ? sts.data : "", sts.len);
done:
    rp__buf_lit(o, "}\n");
    rp__aws_credentials_clear(&creds);
    free(payload);
    rp__buf_cleanup(&canon);
    rp__buf_cleanup(&sts);
    return o->failed ? -1 : 0;
}

static time_t job_time(void *ctx)
{
    return (time_t)((const job *)ctx)->time;
}

/* --send: the request through the HTTP client, signed by the prepare hook. */
static int send_job(const job *j, rp__http_client *client, rp__buf *o)
{
    rp_error err;
    rp__aws_credentials creds;
    rp__http_response resp;
    rp__http_response_init(&resp, LINE_MAX_BYTES);
    unsigned char *payload = NULL;
    long plen = 0;
    rp__http_header hs[MAX_HEADERS];
    for (size_t i = 0; i < j->n_headers; i++)
        hs[i] = (rp__http_header){j->hname[i], j->hvalue[i]};
    rp__buf_printf(o, "{\"id\": %s", j->id ? j->id : "null");
    if (j->payload_b64) {
        size_t n = strlen(j->payload_b64);
        const char *why = NULL;
        payload = malloc(RP_BASE64_DECODED_MAX(n));
        plen = payload ? rp__base64_decode(j->payload_b64, n, payload, &why) : -1;
        if (plen < 0) {
            put_str(o, "error", "bad payload_b64", 15);
            goto done;
        }
    }
    if (rp__aws_credentials_set(&creds, j->ak ? j->ak : "", j->sk ? j->sk : "", j->token, &err) != 0) {
        put_str(o, "error", err.msg, strlen(err.msg));
        goto done;
    }
    rp__sigv4_signer signer = {
        .creds = &creds,
        .service = j->service,
        .region = j->region,
        .flags = (j->s3 ? RP_SIGV4_S3 : 0u) | (j->content_sha256 ? RP_SIGV4_CONTENT_SHA256 : 0u),
        .payload_hash = j->payload_hash,
        .now = job_time,
        .now_ctx = (void *)j,
    };
    rp__http_request req = {.method = j->method,
                            .url = j->url,
                            .headers = hs,
                            .n_headers = j->n_headers,
                            .body = payload,
                            .body_len = (size_t)plen};
    int rc = rp__http_execute(client, &req, rp__sigv4_prepare, &signer, &resp, &err);
    if (rc != 0 && resp.status == 0) {
        put_str(o, "error", err.msg, strlen(err.msg));
    } else {
        rp__buf_printf(o, ", \"status\": %ld", resp.status);
        put_str(o, "body", resp.body.data ? resp.body.data : "", resp.body.len);
    }
    rp__aws_credentials_clear(&creds);
done:
    rp__buf_lit(o, "}\n");
    free(payload);
    rp__http_response_cleanup(&resp);
    return o->failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    bool send = argc > 1 && strcmp(argv[1], "--send") == 0;
    rp__http_client client;
    rp__http_options ho = {.retry = {1, 0, 0}, .no_proxy = true};
    rp__http_client_init(&client, &ho, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    rp__buf o;
    rp__buf_init(&o, LINE_MAX_BYTES);
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if ((size_t)n > LINE_MAX_BYTES) {
            fprintf(stderr, "sigv4_cli: input line too long\n");
            rc = 2;
            break;
        }
        job j;
        memset(&j, 0, sizeof j);
        if (parse_job(line, (size_t)n, &j) != 0) {
            fprintf(stderr, "sigv4_cli: malformed input line\n");
            job_free(&j);
            rc = 2;
            break;
        }
        rp__buf_reset(&o);
        if ((send ? send_job(&j, &client, &o) : run_job(&j, &o)) != 0) {
            fprintf(stderr, "sigv4_cli: output too large\n");
            job_free(&j);
            rc = 2;
            break;
        }
        fwrite(o.data, 1, o.len, stdout);
        job_free(&j);
    }
    fflush(stdout);
    free(line);
    rp__buf_cleanup(&o);
    rp__http_client_cleanup(&client);
    return rc;
}
