/* A client of an AWS JSON RPC service (see jsonapi.h). */
#include "aws/jsonapi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/sigv4.h"
#include "common/pyjson.h"
#include "ridepred/log.h"

/* ---- JSON helpers ------------------------------------------------------- */

void rp__aws_json_str(rp__buf *b, const char *s)
{
    rp__pyjson_utf8(b, s, strlen(s));
}

int rp__aws_json_copy_str(const rp__json_value *v, char *out, size_t cap)
{
    if (v->type != RP_JSON_STRING || v->len >= cap)
        return -1;
    size_t n = rp__json_str_decode(v, out);
    out[n] = '\0';
    return memchr(out, '\0', n) ? -1 : 0;
}

int rp__aws_json_skip(rp__json_reader *r, const rp__json_value *v)
{
    if (v->type == RP_JSON_OBJECT || v->type == RP_JSON_ARRAY)
        return rp__json_skip(r, v) < 0 ? -1 : 0;
    return 0;
}

int rp__aws_json_time_ms(const rp__json_value *v, int64_t *ms)
{
    if (v->type == RP_JSON_NUMBER && !v->nonfinite) {
        double x = rp__json_number(v) * 1000.0;
        if (!isfinite(x) || fabs(x) > 9e15)
            return -1;
        *ms = (int64_t)llround(x);
        return 0;
    }
    char s[64];
    int64_t sec;
    if (rp__aws_json_copy_str(v, s, sizeof s) != 0 || rp__aws_parse_time(s, strlen(s), &sec) != 0)
        return -1;
    int64_t frac = 0;
    const char *dot = strchr(s, '.');
    if (dot) {
        int digits = 0;
        for (dot++; *dot >= '0' && *dot <= '9'; dot++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*dot - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = sec * 1000 + frac;
    return 0;
}

int rp__aws_json_uint(const rp__json_value *v, uint64_t max, uint64_t *out)
{
    if (v->type != RP_JSON_NUMBER || !v->is_int || v->len > 20 || v->ptr[0] == '-')
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned d = (unsigned)(v->ptr[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    if (x > max)
        return -1;
    *out = x;
    return 0;
}

int rp__aws_bad_answer(rp_error *err, const char *service, const char *op, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rp_error_set(err, RP_ERR_IO, "%s answered %s with %s", service, op, what);
}

int rp__aws_json_error(const rp__json_reader *r, const char *service, const char *op, rp_error *err)
{
    return rp__aws_bad_answer(err, service, op, "malformed JSON (%s)", r->err.msg);
}

int rp__aws_jsonapi_answer(rp__aws_jsonapi *c, rp__json_reader *r, const char *op, rp_error *err)
{
    rp__json_value v;
    const char *body = c->resp.body.data ? c->resp.body.data : "";
    rp__json_init(r, body, c->resp.body.data ? c->resp.body.len : 0, RP_AWS_JSONAPI_DEPTH);
    if (rp__json_next(r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return rp__aws_bad_answer(err, c->svc->name, op, "something that is not a JSON object");
    return 0;
}

/* ---- errors ------------------------------------------------------------- */

static bool is_expired_token(const char *code)
{
    return !strcmp(code, "ExpiredTokenException") || !strcmp(code, "ExpiredToken") ||
           !strcmp(code, "RequestExpired");
}

/* The error of an HTTP answer that is not 2xx. */
static int aws_error(rp__aws_jsonapi *c, const char *op, const rp_error *http_err, rp_error *err)
{
    rp__aws_error_info info;
    rp__aws_error_parse(&c->resp, &info);
    snprintf(c->last_code, sizeof c->last_code, "%s", info.code);
    long status = c->resp.status;
    rp_code code;
    if (!strcmp(info.code, "ResourceNotFoundException"))
        code = RP_ERR_NOT_FOUND;
    else if (!strcmp(info.code, "LimitExceededException") || status == 413)
        code = RP_ERR_LIMIT;
    else if (status >= 300 && status < 500 && !http_err->retriable)
        code = RP_ERR_INVALID;
    else
        code = RP_ERR_IO;
    char attempts[48] = "";
    if (c->http.last_attempts > 1)
        snprintf(attempts, sizeof attempts, " (%u attempts)", c->http.last_attempts);
    if (info.code[0] && info.message[0])
        rp_error_set(err, code, "%s: %s%s", info.code, info.message, attempts);
    else if (info.code[0])
        rp_error_set(err, code, "%s: HTTP %ld from %s %s%s", info.code, status, c->svc->name, op, attempts);
    else
        rp_error_set(err, code, "HTTP %ld from %s %s%s", status, c->svc->name, op, attempts);
    if (err)
        err->retriable = http_err->retriable;
    return -1;
}

/* ---- credentials -------------------------------------------------------- */

static int resolve_credentials(rp__aws_jsonapi *c, rp_error *err)
{
    rp__aws_credentials fresh;
    if (rp__aws_credentials_resolve(&fresh, &c->chain, err) != 0) {
        rp__aws_credentials_clear(&fresh);
        rp_error_prefix(err, "AWS credentials for %s", c->svc->name);
        return -1;
    }
    rp__aws_credentials_clear(&c->creds);
    c->creds = fresh;
    rp__aws_credentials_clear(&fresh);
    return 0;
}

/* ---- one call ----------------------------------------------------------- */

int rp__aws_jsonapi_call(rp__aws_jsonapi *c, const char *op, rp_error *err)
{
    const char *name = c->svc->name;
    c->last_code[0] = '\0';
    if (c->body.failed)
        return rp_error_set(err, c->body.toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM, "%s %s request %s", name, op,
                            c->body.toobig ? "too large" : "out of memory");
    char target[96];
    snprintf(target, sizeof target, "%s%s", c->svc->target_prefix, op);
    rp__http_header headers[2] = {
        {"Content-Type", c->svc->content_type},
        {"X-Amz-Target", target},
    };
    rp__http_request req = {
        .method = "POST",
        .url = c->url,
        .headers = headers,
        .n_headers = 2,
        .body = c->body.data,
        .body_len = c->body.len,
    };
    for (int round = 0;; round++) {
        if (c->chain_creds && rp__aws_credentials_need_refresh(&c->creds, time(NULL)) &&
            resolve_credentials(c, err) != 0)
            return -1;
        rp__sigv4_signer signer = {
            .creds = &c->creds,
            .service = c->svc->signing_name,
            .region = c->region,
        };
        rp_error e;
        rp_error_clear(&e);
        int rc = rp__http_execute(&c->http, &req, rp__sigv4_prepare, &signer, &c->resp, &e);
        rp__sigv4_out *o = &signer.out;
        memset(o->authorization, 0, sizeof o->authorization);
        if (rc == 0)
            return 0;
        if (c->resp.status != 0) {
            rp__aws_error_info info;
            rp__aws_error_parse(&c->resp, &info);
            if (round == 0 && c->chain_creds && is_expired_token(info.code)) {
                char msg[96];
                snprintf(msg, sizeof msg, "%s credentials expired; resolving them again", name);
                rp_log(RP_LOG_INFO, msg, "operation", op, NULL);
                if (resolve_credentials(c, err) != 0)
                    return -1;
                continue;
            }
            return aws_error(c, op, &e, err);
        }
        if (e.code == RP_ERR_IO) {
            rp_error_set(err, RP_ERR_IO, "%s endpoint %s: %s", name, c->shown, e.msg);
            if (err)
                err->retriable = e.retriable;
            return -1;
        }
        if (err)
            *err = e;
        return -1;
    }
}

/* ---- waiting ---------------------------------------------------------- */

#define POLL_FIRST_MS 50u
#define POLL_MAX_MS 1000u

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rp__aws_jsonapi_poll(rp__aws_jsonapi *c, rp__aws_probe_fn probe, void *ctx, rp_error *err)
{
    int64_t start = mono_ms();
    uint64_t slept = 0;
    uint32_t delay = POLL_FIRST_MS;
    for (;;) {
        int rc = probe(ctx, err);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return 0;
        int64_t elapsed = mono_ms() - start;
        if ((uint64_t)elapsed < slept)
            elapsed = (int64_t)slept;
        if (elapsed >= (int64_t)c->wait_timeout_ms)
            return 1;
        c->http.sleep_ms(c->http.sleep_ctx, delay);
        slept += delay;
        delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
    }
}

/* ---- init / cleanup ----------------------------------------------------- */

static bool valid_region(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RP_AWS_REGION_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

static int set_endpoint(rp__aws_jsonapi *c, const char *endpoint, const char *from, bool *no_proxy,
                        rp_error *err)
{
    const char *name = c->svc->name;
    rp__http_url u;
    if (strlen(endpoint) >= RP_AWS_JSONAPI_ENDPOINT_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "%s endpoint (%s) is longer than %d bytes", name, from,
                            RP_AWS_JSONAPI_ENDPOINT_MAX - 1);
    if (rp__http_url_parse(endpoint, &u, err) != 0) {
        rp_error_prefix(err, "%s endpoint (%s)", name, from);
        return -1;
    }
    if (u.query_len || strchr(endpoint, '?') || strchr(endpoint, '#'))
        return rp_error_set(err, RP_ERR_INVALID,
                            "%s endpoint (%s) must be scheme://host[:port][/path], without a query", name,
                            from);
    snprintf(c->url, sizeof c->url, "%s%s", endpoint, u.path_len ? "" : "/");
    /* For messages: scheme://host[:port], without user info. */
    if (u.port >= 0)
        snprintf(c->shown, sizeof c->shown, "%.*s://%.*s:%d", (int)u.scheme_len, u.scheme, (int)u.host_len,
                 u.host, u.port);
    else
        snprintf(c->shown, sizeof c->shown, "%.*s://%.*s", (int)u.scheme_len, u.scheme, (int)u.host_len,
                 u.host);
    *no_proxy = rp__http_url_is_loopback(&u);
    return 0;
}

int rp__aws_jsonapi_init(rp__aws_jsonapi *c, const rp__aws_jsonapi_service *svc,
                         const rp__aws_jsonapi_options *opt, rp_error *err)
{
    rp__aws_jsonapi_options none = {0};
    if (!opt)
        opt = &none;
    memset(c, 0, sizeof *c);
    c->svc = svc;
    c->wait_timeout_ms = opt->wait_timeout_ms ? opt->wait_timeout_ms : RP_AWS_JSONAPI_WAIT_MS_DEFAULT;
    rp__http_response_init(&c->resp, svc->max_response_bytes);
    rp__buf_init(&c->body, svc->max_request_bytes);
    if (opt->profile) {
        if (strlen(opt->profile) > RP_AWS_PROFILE_MAX) {
            rp_error_set(err, RP_ERR_INVALID, "AWS profile name too long");
            goto fail;
        }
        snprintf(c->profile, sizeof c->profile, "%s", opt->profile);
        c->chain.profile = c->profile;
    }

    /* Region. */
    if (opt->region) {
        if (!valid_region(opt->region)) {
            rp_error_set(err, RP_ERR_INVALID, "AWS region '%.64s' is not letters, digits and inner hyphens",
                         opt->region);
            goto fail;
        }
        snprintf(c->region, sizeof c->region, "%s", opt->region);
    } else if (rp__aws_region_resolve(c->region, sizeof c->region, &c->chain, err) != 0) {
        if (err && err->code == RP_ERR_NOT_FOUND)
            rp_error_set(err, RP_ERR_NOT_FOUND,
                         "no AWS region for %s: set AWS_REGION (or AWS_DEFAULT_REGION, a "
                         "profile's region, or --region)",
                         svc->name);
        else
            rp_error_prefix(err, "AWS region");
        goto fail;
    }

    /* Endpoint: the caller's, else the SDKs' variables. */
    const char *from =
        opt->endpoint_source && *opt->endpoint_source ? opt->endpoint_source : "--endpoint-url";
    const char *endpoint = opt->endpoint_url && *opt->endpoint_url ? opt->endpoint_url : NULL;
    if (!endpoint)
        endpoint = rp__aws_endpoint_from_env(svc->env_id, &from);
    char def[RP_AWS_JSONAPI_ENDPOINT_MAX];
    if (!endpoint) {
        snprintf(def, sizeof def, "https://%s.%s.amazonaws.com%s", svc->signing_name, c->region,
                 strncmp(c->region, "cn-", 3) == 0 ? ".cn" : "");
        endpoint = def;
        from = "the region's";
    }
    bool no_proxy = false;
    if (set_endpoint(c, endpoint, from, &no_proxy, err) != 0)
        goto fail;

    /* Attempts. */
    rp__http_options ho = {
        .connect_timeout_ms = opt->connect_timeout_ms,
        .timeout_ms = opt->timeout_ms,
        .max_response_bytes = svc->max_response_bytes,
        .retry = opt->retry,
        .no_proxy = no_proxy,
    };
    if (!ho.retry.max_attempts) {
        ho.retry = RP_RETRY_POLICY_DEFAULT;
        unsigned ma;
        if (rp__aws_max_attempts_from_env(&ma, err) < 0)
            goto fail;
        if (ma)
            ho.retry.max_attempts = ma;
    }
    if (rp__http_client_init(&c->http, &ho, err) != 0)
        goto fail;

    /* Credentials. */
    if (opt->credentials) {
        c->creds = *opt->credentials;
        if (!c->creds.source[0])
            snprintf(c->creds.source, sizeof c->creds.source, "static");
    } else {
        c->chain_creds = true;
        if (resolve_credentials(c, err) != 0)
            goto fail;
    }
    return 0;
fail:
    rp__aws_jsonapi_cleanup(c);
    return -1;
}

void rp__aws_jsonapi_cleanup(rp__aws_jsonapi *c)
{
    rp__http_client_cleanup(&c->http);
    rp__http_response_cleanup(&c->resp);
    rp__buf_cleanup(&c->body);
    rp__aws_credentials_clear(&c->creds);
}
