/* msk_token_cli: Amazon MSK IAM tokens and SigV4 presigned URLs, for the
 * comparison with botocore (tests/integration/test_msk_iam.py).
 *
 *   msk_token_cli token --region R --access-key K --secret-key S [--token T]
 *                 [--expiration EPOCH] --time EPOCH [--user-agent UA]
 *     rp__msk_iam_token_make with these credentials, signed at --time.
 *
 *   msk_token_cli resolve [--region R] [--profile P] --time EPOCH [--user-agent UA]
 *     rp__msk_iam_token_resolve: credentials (and the region unless given)
 *     from the chain, i.e. the environment and the shared files.
 *
 *   msk_token_cli presign --method M --url U --service S --region R
 *                 --expires N --time EPOCH --access-key K --secret-key S
 *                 [--token T] [--payload-hash H] [--s3]
 *     rp__sigv4_presign.
 *
 * A --user-agent of "-" means NULL (the default).  Prints one JSON object:
 *   {"token": ..., "expiry_ms": N, "principal": ...}          (token, resolve)
 *   {"url": ..., "canonical_request": ...}                     (presign)
 * and exits 0; or {"error": "MESSAGE", "code": "CODE"} and exits 1.  Exits
 * 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/msk_iam.h"
#include "aws/sigv4.h"
#include "common/buf.h"
#include "common/pyjson.h"

static int usage(void)
{
    fprintf(stderr, "usage: msk_token_cli token|resolve|presign --OPTION VALUE ... (see the source)\n");
    return 2;
}

static void put(rp__buf *b, const char *key, const char *s, size_t n, bool first)
{
    if (!first)
        rp__buf_lit(b, ", ");
    rp__pyjson_utf8(b, key, strlen(key));
    rp__buf_lit(b, ": ");
    rp__pyjson_utf8(b, s, n);
}

static time_t fixed_now(void *ctx)
{
    return (time_t) * (const long long *)ctx;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *mode = argv[1];
    const char *region = NULL, *ak = NULL, *sk = NULL, *token = NULL, *ua = NULL, *profile = NULL;
    const char *method = NULL, *url = NULL, *service = NULL, *phash = NULL;
    long long t = -1, expiration = 0, expires = 0;
    bool s3 = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--s3") == 0) {
            s3 = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--region"))
            region = v;
        else if (!strcmp(a, "--access-key"))
            ak = v;
        else if (!strcmp(a, "--secret-key"))
            sk = v;
        else if (!strcmp(a, "--token"))
            token = v;
        else if (!strcmp(a, "--user-agent"))
            ua = strcmp(v, "-") ? v : NULL;
        else if (!strcmp(a, "--profile"))
            profile = v;
        else if (!strcmp(a, "--method"))
            method = v;
        else if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--service"))
            service = v;
        else if (!strcmp(a, "--payload-hash"))
            phash = v;
        else if (!strcmp(a, "--time"))
            t = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--expiration"))
            expiration = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--expires"))
            expires = strtoll(v, NULL, 10);
        else
            return usage();
    }
    if (t < 0)
        return usage();

    rp_error err = {0};
    rp__buf o;
    rp__buf_init(&o, (size_t)1 << 20);
    rp__aws_credentials creds;
    memset(&creds, 0, sizeof creds);
    int rc = -1;
    rp__msk_iam_token tok = {0};
    rp__buf purl, canon;
    rp__buf_init(&purl, (size_t)1 << 20);
    rp__buf_init(&canon, (size_t)1 << 20);

    if (!strcmp(mode, "token") || !strcmp(mode, "presign")) {
        /* Empty keys are passed through as empty, so that the refusal of
         * missing credentials can be tested. */
        if (ak && sk && ak[0] && sk[0]) {
            if (rp__aws_credentials_set(&creds, ak, sk, token, &err) != 0)
                goto done;
            creds.expiration = expiration;
        }
    }
    if (!strcmp(mode, "token")) {
        rc = rp__msk_iam_token_make(region, &creds, (time_t)t, ua, &tok, &err);
    } else if (!strcmp(mode, "resolve")) {
        rp__aws_chain_options chain = {.profile = profile};
        rp__msk_iam_options opt = {
            .region = region, .chain = &chain, .now = fixed_now, .now_ctx = &t, .user_agent = ua};
        rc = rp__msk_iam_token_resolve(&opt, &tok, &err);
    } else if (!strcmp(mode, "presign")) {
        rp__sigv4_presign_request pr = {
            .method = method,
            .url = url,
            .service = service,
            .region = region,
            .time = (time_t)t,
            .expires = expires < 0 || expires > 0x7fffffff ? 0u : (unsigned)expires,
            .payload_hash = phash,
            .flags = s3 ? RP_SIGV4_S3 : 0u,
        };
        rc = rp__sigv4_presign(&pr, &creds, &purl, &canon, &err);
    } else {
        rp__buf_cleanup(&o);
        rp__buf_cleanup(&purl);
        rp__buf_cleanup(&canon);
        return usage();
    }
done:
    rp__buf_putc(&o, '{');
    if (rc != 0) {
        put(&o, "error", err.msg, strlen(err.msg), true);
        const char *code = rp_code_name(err.code);
        put(&o, "code", code, strlen(code), false);
    } else if (!strcmp(mode, "presign")) {
        put(&o, "url", purl.data, purl.len, true);
        put(&o, "canonical_request", canon.data ? canon.data : "", canon.len, false);
    } else {
        put(&o, "token", tok.value, tok.len, true);
        rp__buf_printf(&o, ", \"expiry_ms\": %lld", (long long)tok.expiry_ms);
        put(&o, "principal", tok.principal, strlen(tok.principal), false);
    }
    rp__buf_lit(&o, "}\n");
    fwrite(o.data, 1, o.len, stdout);
    rp__msk_iam_token_clear(&tok);
    rp__aws_credentials_clear(&creds);
    rp__buf_cleanup(&o);
    rp__buf_cleanup(&purl);
    rp__buf_cleanup(&canon);
    return rc == 0 ? 0 : 1;
}
