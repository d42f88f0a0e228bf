/* Amazon MSK IAM tokens (see msk_iam.h and docs/kafka.md): a presigned
 * kafka-cluster:Connect URL, base64url-encoded, as
 * aws-msk-iam-sasl-signer-python's __construct_auth_token makes it. */
#include "aws/msk_iam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "common/base64.h"
#include "common/buf.h"

#ifndef RIDEPRED_VERSION
#define RIDEPRED_VERSION "0.1.0"
#endif

#define URL_CAP ((size_t)64 * 1024)
#define USER_AGENT_MAX 256

void rp__msk_iam_token_clear(rp__msk_iam_token *t)
{
    if (!t)
        return;
    if (t->value) {
        explicit_bzero(t->value, t->len);
        free(t->value);
    }
    memset(t, 0, sizeof *t);
}

/* Letters, digits and inner hyphens: the region becomes part of a host. */
static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > RP_AWS_REGION_MAX || r[0] == '-' || r[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* Python's urllib.parse.quote_plus(s) (urlencode's default): A-Z a-z 0-9
 * _ . - ~ kept, a blank as '+', every other byte %XX. */
static void quote_plus(rp__buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ')
            rp__buf_putc(b, '+');
        else
            rp__sigv4_uri_encode(b, s, 1, false);
    }
}

int rp__msk_iam_token_make(const char *region, const rp__aws_credentials *creds, time_t now,
                           const char *user_agent, rp__msk_iam_token *out, rp_error *err)
{
    int rc = -1;
    rp__buf url;
    rp__buf_init(&url, URL_CAP);
    char *tok = NULL;
    rp__msk_iam_token_clear(out);

    if (!region || !region[0])
        return rp_error_set(err, RP_ERR_INVALID,
                            "MSK IAM: no AWS region: give the cluster's region (e.g. us-east-1), or set "
                            "AWS_REGION");
    if (!region_ok(region))
        return rp_error_set(err, RP_ERR_INVALID,
                            "MSK IAM: AWS region '%.64s' is not letters, digits and inner hyphens "
                            "(e.g. us-east-1)",
                            region);
    if (!creds || !creds->access_key_id[0] || !creds->secret_access_key[0])
        return rp_error_set(err, RP_ERR_INVALID,
                            "MSK IAM: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(with AWS_SESSION_TOKEN for temporary ones), or a profile that has them");
    if (creds->expiration != 0 && creds->expiration <= (int64_t)now)
        return rp_error_set(err, RP_ERR_INVALID,
                            "MSK IAM: the AWS credentials (from %s) expired %lld s ago: resolve them again",
                            creds->source[0] ? creds->source : "the caller",
                            (long long)((int64_t)now - creds->expiration));
    const char *ua = user_agent ? user_agent : "ridepred/" RIDEPRED_VERSION;
    if (strlen(ua) > USER_AGENT_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "MSK IAM: user agent longer than %d bytes", USER_AGENT_MAX);

    /* 1. The presigned URL. */
    char endpoint[RP_AWS_REGION_MAX + 96];
    snprintf(endpoint, sizeof endpoint, "https://kafka.%s.amazonaws.com/?Action=", region);
    rp__buf base;
    rp__buf_init(&base, sizeof endpoint + 64);
    rp__buf_puts(&base, endpoint);
    rp__sigv4_uri_encode(&base, RP_MSK_IAM_ACTION, strlen(RP_MSK_IAM_ACTION), false);
    if (base.failed) {
        rp__buf_cleanup(&base);
        return rp_error_set(err, RP_ERR_NOMEM, "MSK IAM: out of memory");
    }
    rp__sigv4_presign_request pr = {
        .method = "GET",
        .url = base.data,
        .service = RP_MSK_IAM_SERVICE,
        .region = region,
        .time = now,
        .expires = RP_MSK_IAM_EXPIRES,
    };
    int prc = rp__sigv4_presign(&pr, creds, &url, NULL, err);
    rp__buf_cleanup(&base);
    if (prc != 0) {
        rp_error_prefix(err, "MSK IAM");
        goto out;
    }

    /* 2. The User-Agent parameter, after signing. */
    rp__buf_lit(&url, "&User-Agent=");
    quote_plus(&url, ua);
    if (url.failed) {
        rp_error_set(err, url.toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                     "MSK IAM: signed URL longer than %zu bytes", URL_CAP);
        goto out;
    }

    /* 3. base64url without padding. */
    tok = malloc(RP_BASE64_ENCODED_LEN(url.len) + 1);
    if (!tok) {
        rp_error_set(err, RP_ERR_NOMEM, "MSK IAM: out of memory");
        goto out;
    }
    size_t n = rp__base64_encode((const unsigned char *)url.data, url.len, tok);
    while (n && tok[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '+')
            tok[i] = '-';
        else if (tok[i] == '/')
            tok[i] = '_';
    }
    tok[n] = '\0';

    int64_t expiry = ((int64_t)now + RP_MSK_IAM_EXPIRES) * 1000;
    if (creds->expiration != 0 && creds->expiration * 1000 < expiry)
        expiry = creds->expiration * 1000;
    out->value = tok;
    out->len = n;
    out->expiry_ms = expiry;
    snprintf(out->principal, sizeof out->principal, "%s", creds->access_key_id);
    tok = NULL;
    rc = 0;
out:
    if (url.data)
        explicit_bzero(url.data, url.len);
    rp__buf_cleanup(&url);
    free(tok);
    return rc;
}

int rp__msk_iam_token_resolve(const rp__msk_iam_options *opt, rp__msk_iam_token *out, rp_error *err)
{
    static const rp__msk_iam_options none = {0};
    if (!opt)
        opt = &none;
    rp__msk_iam_token_clear(out);
    char region[RP_AWS_REGION_MAX + 1];
    if (opt->region && opt->region[0]) {
        if (strlen(opt->region) > RP_AWS_REGION_MAX)
            return rp_error_set(err, RP_ERR_INVALID, "MSK IAM: AWS region longer than %d bytes",
                                RP_AWS_REGION_MAX);
        snprintf(region, sizeof region, "%s", opt->region);
    } else if (rp__aws_region_resolve(region, sizeof region, opt->chain, err) != 0) {
        if (err && err->code == RP_ERR_NOT_FOUND && strncmp(err->msg, "no AWS region", 13) == 0)
            rp_error_prefix(err,
                            "MSK IAM needs the cluster's AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, "
                            "or region in the profile)");
        else
            rp_error_prefix(err, "AWS region for MSK IAM");
        return -1;
    }
    rp__aws_credentials creds;
    if (rp__aws_credentials_resolve(&creds, opt->chain, err) != 0) {
        rp__aws_credentials_clear(&creds);
        if (err && err->code == RP_ERR_NOT_FOUND && strncmp(err->msg, "no AWS credentials", 18) == 0)
            rp_error_prefix(err,
                            "MSK IAM needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(with AWS_SESSION_TOKEN for temporary ones), a profile that has them, or the "
                            "container credentials endpoint");
        else
            rp_error_prefix(err, "AWS credentials for MSK IAM");
        return -1;
    }
    time_t now = opt->now ? opt->now(opt->now_ctx) : time(NULL);
    int rc = rp__msk_iam_token_make(region, &creds, now, opt->user_agent, out, err);
    rp__aws_credentials_clear(&creds);
    return rc;
}
