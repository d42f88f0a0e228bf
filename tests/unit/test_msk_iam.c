/* Amazon MSK IAM tokens (src/aws/msk_iam.h): two tokens made by botocore
 * the way aws-msk-iam-sasl-signer-python 1.0.2 makes them (SigV4QueryAuth
 * at a fixed clock, Debian's python3-botocore 1.29), one with a session
 * token; the expiry and principal; refusals with what to set; the
 * convenience that resolves credentials and region through the chain
 * (temporary HOME and environment).  The comparison with botocore on
 * generated inputs is tests/integration/test_msk_iam.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/credentials.h"
#include "aws/msk_iam.h"
#include "common/base64.h"
#include "testing.h"

#define T_20130524 ((time_t)1369353600) /* 2013-05-24T00:00:00Z */
#define T_20231114 ((time_t)1700000000) /* 2023-11-14T22:13:20Z */
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SESSION_TOKEN "IQoJb3JpZ2luX2VjEXAMPLE+token/with=padding=="

/* The token decoded (base64url, no padding) into buf. */
static const char *decode(const rp__msk_iam_token *t, char *buf, size_t cap)
{
    char *b64 = malloc(t->len + 4);
    if (!b64)
        return "";
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++)
        b64[n++] = t->value[i] == '-' ? '+' : t->value[i] == '_' ? '/' : t->value[i];
    while (n % 4)
        b64[n++] = '=';
    const char *why = NULL;
    long m = RP_BASE64_DECODED_MAX(n) < cap ? rp__base64_decode(b64, n, (unsigned char *)buf, &why) : -1;
    free(b64);
    if (m < 0)
        return "";
    buf[m] = '\0';
    return buf;
}

TEST(botocore_vectors)
{
    rp__aws_credentials c;
    rp_error err;
    rp__msk_iam_token t = {0};
    char url[4096];

    /* No session token, the Python signer's own user agent. */
    CHECK(rp__aws_credentials_set(&c, "AKIAIOSFODNN7EXAMPLE", EXAMPLE_SECRET, NULL, &err) == 0);
    CHECK(rp__msk_iam_token_make("us-east-1", &c, T_20130524, "aws-msk-iam-sasl-signer-python/1.0.2", &t,
                                 &err) == 0);
    CHECK_STR(decode(&t, url, sizeof url),
              "https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect"
              "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fkafka-cluster%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=91dfd7df4606477975aced360713373ff0e77f95940bbd6da22cdb81b852c0fc"
              "&User-Agent=aws-msk-iam-sasl-signer-python%2F1.0.2");
    CHECK_STR(t.value,
              "aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0Jl"
              "gtQW16LUFsZ29yaXRobT1BV1M0LUhNQUMtU0hBMjU2JlgtQW16LUNyZWRlbnRpYWw9QUtJQUlPU0ZPRE5ON0VYQU1QTEUl"
              "MkYyMDEzMDUyNCUyRnVzLWVhc3QtMSUyRmthZmthLWNsdXN0ZXIlMkZhd3M0X3JlcXVlc3QmWC1BbXotRGF0ZT0yMDEzMD"
              "UyNFQwMDAwMDBaJlgtQW16LUV4cGlyZXM9OTAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TaWduYXR1cmU9"
              "OTFkZmQ3ZGY0NjA2NDc3OTc1YWNlZDM2MDcxMzM3M2ZmMGU3N2Y5NTk0MGJiZDZkYTIyY2RiODFiODUyYzBmYyZVc2VyLU"
              "FnZW50PWF3cy1tc2staWFtLXNhc2wtc2lnbmVyLXB5dGhvbiUyRjEuMC4y");
    CHECK(t.len == strlen(t.value));
    CHECK(t.expiry_ms == ((int64_t)T_20130524 + 900) * 1000);
    CHECK_STR(t.principal, "AKIAIOSFODNN7EXAMPLE");

    /* A session token (with '+', '/' and '='), the default user agent; the
     * same struct again (the first token is freed: ASan / valgrind). */
    CHECK(rp__aws_credentials_set(&c, "ASIAEXAMPLEKEYID0001", EXAMPLE_SECRET, SESSION_TOKEN, &err) == 0);
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &t, &err) == 0);
    CHECK_STR(decode(&t, url, sizeof url),
              "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect"
              "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=ASIAEXAMPLEKEYID0001%2F20231114%2Feu-west-1%2Fkafka-cluster%2Faws4_request"
              "&X-Amz-Date=20231114T221320Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
              "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Btoken%2Fwith%3Dpadding%3D%3D"
              "&X-Amz-Signature=e59bde846bf2f2d07c37013b46da4f9d1361021f0e6f23d65e4dcc3c84e5203e"
              "&User-Agent=ridepred%2F0.1.0");
    CHECK(t.expiry_ms == 1700000900000LL);
    CHECK_STR(t.principal, "ASIAEXAMPLEKEYID0001");
    /* base64url without padding: no '+', '/' or '='. */
    CHECK(strcspn(t.value, "+/=") == t.len);
    rp__msk_iam_token_clear(&t);
    CHECK(t.value == NULL && t.len == 0 && t.expiry_ms == 0 && t.principal[0] == '\0');
    rp__msk_iam_token_clear(&t); /* twice is fine */
    rp__aws_credentials_clear(&c);
}

TEST(user_agent_encoding)
{
    rp__aws_credentials c;
    rp_error err;
    rp__msk_iam_token t = {0};
    char url[4096];
    CHECK(rp__aws_credentials_set(&c, "AKIAIOSFODNN7EXAMPLE", EXAMPLE_SECRET, NULL, &err) == 0);
    /* As Python's urlencode (quote_plus): a blank is '+', '+' and '/' and
     * non-ASCII bytes are %XX; not signed, so the signature is unchanged. */
    CHECK(rp__msk_iam_token_make("us-east-1", &c, T_20130524, "my app/1.0+x caf\xc3\xa9~", &t, &err) == 0);
    const char *u = decode(&t, url, sizeof url);
    const char *tail = "&X-Amz-Signature=91dfd7df4606477975aced360713373ff0e77f95940bbd6da22cdb81b852c0fc"
                       "&User-Agent=my+app%2F1.0%2Bx+caf%C3%A9~";
    CHECK(strlen(u) > strlen(tail) && strcmp(u + strlen(u) - strlen(tail), tail) == 0);
    /* URLs of every length modulo 3: never a '=' of padding. */
    const char *uas[] = {"a", "ab", "abc"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(rp__msk_iam_token_make("us-east-1", &c, T_20130524, uas[i], &t, &err) == 0);
        CHECK(t.value && !strchr(t.value, '=') && t.len % 4 != 1);
        u = decode(&t, url, sizeof url);
        CHECK(strlen(u) > 14 && strncmp(u + strlen(u) - 12 - strlen(uas[i]), "&User-Agent=", 12) == 0 &&
              strcmp(u + strlen(u) - strlen(uas[i]), uas[i]) == 0);
    }
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(rp__msk_iam_token_make("us-east-1", &c, T_20130524, longer, &t, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID && t.value == NULL);
    rp__aws_credentials_clear(&c);
}

TEST(expiry)
{
    rp__aws_credentials c;
    rp_error err;
    rp__msk_iam_token t = {0};
    CHECK(rp__aws_credentials_set(&c, "ASIAEXAMPLEKEYID0001", EXAMPLE_SECRET, SESSION_TOKEN, &err) == 0);
    /* Credentials that outlive the token: the token's 900 s. */
    c.expiration = T_20231114 + 3600;
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &t, &err) == 0);
    CHECK(t.expiry_ms == ((int64_t)T_20231114 + 900) * 1000);
    char first[4096];
    snprintf(first, sizeof first, "%s", t.value ? t.value : "");
    /* Credentials that expire sooner bring the expiry forward; the token
     * is the same. */
    c.expiration = T_20231114 + 120;
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &t, &err) == 0);
    CHECK(t.expiry_ms == ((int64_t)T_20231114 + 120) * 1000);
    CHECK_STR(t.value, first);
    /* Expired credentials are refused, saying so. */
    c.expiration = T_20231114;
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &t, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID && strstr(err.msg, "expired") && strstr(err.msg, "resolve them again"));
    CHECK(t.value == NULL);
    rp__aws_credentials_clear(&c);
}

TEST(refusals)
{
    rp__aws_credentials c;
    rp_error err;
    rp__msk_iam_token t = {0};
    CHECK(rp__aws_credentials_set(&c, "AKIAIOSFODNN7EXAMPLE", EXAMPLE_SECRET, "secret-token-value", &err) ==
          0);
    /* A region: required, and fit for a host name. */
    char too_long[RP_AWS_REGION_MAX + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *regions[] = {NULL,  "",    "us east 1", "us-east-1.evil.com/",
                             "-us", "us-", "us_east_1", too_long};
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        rp_error_clear(&err);
        CHECK(rp__msk_iam_token_make(regions[i], &c, T_20130524, NULL, &t, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID && t.value == NULL);
        CHECK(i > 1 || strstr(err.msg, "AWS_REGION"));
        CHECK(!strstr(err.msg, "EXAMPLEKEY") && !strstr(err.msg, "secret-token-value"));
    }
    /* Credentials: required, both halves. */
    rp__aws_credentials empty = {0}, half = c;
    half.secret_access_key[0] = '\0';
    const rp__aws_credentials *bad[] = {NULL, &empty, &half};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_error_clear(&err);
        CHECK(rp__msk_iam_token_make("us-east-1", bad[i], T_20130524, NULL, &t, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID && strstr(err.msg, "AWS_ACCESS_KEY_ID") &&
              strstr(err.msg, "AWS_SECRET_ACCESS_KEY"));
    }
    /* The signer's own refusals reach the caller, prefixed. */
    rp__aws_credentials slash = c;
    snprintf(slash.access_key_id, sizeof slash.access_key_id, "AK/ID");
    CHECK(rp__msk_iam_token_make("us-east-1", &slash, T_20130524, NULL, &t, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID && strncmp(err.msg, "MSK IAM: SigV4:", 15) == 0);
    /* A failure empties a struct that held a token. */
    CHECK(rp__msk_iam_token_make("us-east-1", &c, T_20130524, NULL, &t, &err) == 0 && t.value);
    CHECK(rp__msk_iam_token_make("", &c, T_20130524, NULL, &t, &err) == -1);
    CHECK(t.value == NULL && t.len == 0);
    /* A session token at the cap still fits. */
    char big[RP_AWS_TOKEN_MAX + 1];
    memset(big, '/', RP_AWS_TOKEN_MAX);
    big[RP_AWS_TOKEN_MAX] = '\0';
    rp__aws_credentials bigc;
    CHECK(rp__aws_credentials_set(&bigc, "ASIAEXAMPLEKEYID0001", EXAMPLE_SECRET, big, &err) == 0);
    CHECK(rp__msk_iam_token_make("ap-southeast-2", &bigc, T_20130524, NULL, &t, &err) == 0);
    CHECK(t.len > 4 * RP_AWS_TOKEN_MAX); /* each '/' is %2F, then base64 */
    rp__msk_iam_token_clear(&t);
    rp__aws_credentials_clear(&bigc);
    rp__aws_credentials_clear(&c);
}

/* ---- the convenience: the chain ------------------------------------------------- */

static char home[256];

static void fresh_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    };
    if (home[0])
        rp_t_rmtree(home);
    rp_t_tmpdir(home, sizeof home, "rp-msk-test");
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("HOME", home, 1);
}

static time_t clock_20231114(void *ctx)
{
    (*(int *)ctx)++;
    return T_20231114;
}

TEST(resolve_through_the_chain)
{
    rp_error err;
    rp__msk_iam_token t = {0}, direct = {0};
    rp__aws_credentials c;
    int ticks = 0;
    rp__msk_iam_options opt = {.now = clock_20231114, .now_ctx = &ticks};

    /* Nothing set: no region, then (with a region) no credentials; each
     * message says what to set. */
    fresh_env();
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && strstr(err.msg, "set AWS_REGION") && t.value == NULL);
    opt.region = "eu-west-1";
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && strstr(err.msg, "AWS_ACCESS_KEY_ID") &&
          strstr(err.msg, "AWS_SECRET_ACCESS_KEY") && strstr(err.msg, "tried:"));
    CHECK(ticks == 0);

    /* The environment's credentials and region: the token
     * rp__msk_iam_token_make makes with them, at the injected clock. */
    setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEKEYID0001", 1);
    setenv("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET, 1);
    setenv("AWS_SESSION_TOKEN", SESSION_TOKEN, 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    opt.region = NULL;
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == 0);
    CHECK(ticks == 1);
    CHECK(rp__aws_credentials_set(&c, "ASIAEXAMPLEKEYID0001", EXAMPLE_SECRET, SESSION_TOKEN, &err) == 0);
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &direct, &err) == 0);
    CHECK(t.value && direct.value && strcmp(t.value, direct.value) == 0);
    CHECK(t.expiry_ms == direct.expiry_ms);
    /* An explicit region wins over AWS_REGION; "" counts as none. */
    opt.region = "us-west-2";
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == 0);
    CHECK(rp__msk_iam_token_make("us-west-2", &c, T_20231114, NULL, &direct, &err) == 0);
    CHECK(t.value && direct.value && strcmp(t.value, direct.value) == 0);
    opt.region = "";
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == 0);
    CHECK(rp__msk_iam_token_make("eu-west-1", &c, T_20231114, NULL, &direct, &err) == 0);
    CHECK(t.value && direct.value && strcmp(t.value, direct.value) == 0);

    /* A profile's keys and region from the shared files (the chain's own
     * tests cover the rest); the environment's expiry brings the token's
     * forward. */
    fresh_env();
    char p[512];
    snprintf(p, sizeof p, "%s/credentials", home);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f,
                "[kafka]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = %s\n"
                "region = ap-south-1\n",
                EXAMPLE_SECRET);
        fclose(f);
    }
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    rp__aws_chain_options chain = {.profile = "kafka"};
    opt.chain = &chain;
    opt.region = NULL;
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == 0);
    CHECK(rp__aws_credentials_set(&c, "AKIAIOSFODNN7EXAMPLE", EXAMPLE_SECRET, NULL, &err) == 0);
    CHECK(rp__msk_iam_token_make("ap-south-1", &c, T_20231114, NULL, &direct, &err) == 0);
    CHECK(t.value && direct.value && strcmp(t.value, direct.value) == 0);
    CHECK_STR(t.principal, "AKIAIOSFODNN7EXAMPLE");
    /* A profile that does not exist: the chain's error, prefixed. */
    chain.profile = "nope";
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && strstr(err.msg, "MSK IAM") && strstr(err.msg, "nope"));
    CHECK(t.value == NULL);
    /* Expiring environment credentials. */
    opt.chain = NULL;
    setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEKEYID0001", 1);
    setenv("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET, 1);
    setenv("AWS_SESSION_TOKEN", SESSION_TOKEN, 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2023-11-14T22:15:20Z", 1); /* now + 120 s */
    opt.region = "eu-west-1";
    CHECK(rp__msk_iam_token_resolve(&opt, &t, &err) == 0);
    CHECK(t.expiry_ms == ((int64_t)T_20231114 + 120) * 1000);

    rp__msk_iam_token_clear(&t);
    rp__msk_iam_token_clear(&direct);
    rp__aws_credentials_clear(&c);
    rp_t_rmtree(home);
}

int main(void)
{
    RUN(botocore_vectors);
    RUN(user_agent_encoding);
    RUN(expiry);
    RUN(refusals);
    RUN(resolve_through_the_chain);
    return rp_t_done();
}
