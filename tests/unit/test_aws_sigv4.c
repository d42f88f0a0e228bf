/* The SigV4 signer on AWS's published test-suite vectors (aws-c-auth's
 * tests/aws-signing-test-suite/v4, the same credentials, date and
 * signatures), its refusals, and the prepare hook; query-string auth
 * (presigned URLs) on the S3 API reference's example, and its rules.  The
 * byte-for-byte comparisons with botocore on generated requests are
 * tests/integration/test_aws_sigv4.py and (presigned URLs)
 * tests/integration/test_msk_iam.py. */
#include <stdio.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "testing.h"

#define T_20150830 ((time_t)1440938160) /* 2015-08-30T12:36:00Z */

static rp__aws_credentials example_creds(const char *token)
{
    rp__aws_credentials c;
    rp_error err;
    rp__aws_credentials_set(&c, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token, &err);
    return c;
}

static const rp__http_header host_hdr[] = {{"Host", "example.amazonaws.com"}};

static const char *sign(const char *method, const char *url, const rp__http_header *h, size_t n,
                        const char *token, rp__sigv4_out *out)
{
    static rp__aws_credentials c;
    c = example_creds(token);
    rp__sigv4_request req = {.method = method,
                             .url = url,
                             .headers = h,
                             .n_headers = n,
                             .service = "service",
                             .region = "us-east-1",
                             .time = T_20150830};
    rp_error err;
    if (rp__sigv4_sign(&req, &c, out, &err) != 0) {
        fprintf(stderr, "sign failed: %s\n", err.msg);
        return "";
    }
    return out->authorization;
}

TEST(vectors)
{
    rp__sigv4_out o;
    CHECK_STR(sign("GET", "https://example.amazonaws.com/", host_hdr, 1, NULL, &o),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    CHECK_STR(o.amz_date, "20150830T123600Z");
    CHECK(o.n_headers == 2); /* Authorization, X-Amz-Date: the Host was given */
    CHECK(strstr(
        sign("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", host_hdr, 1, NULL, &o),
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
    /* get-utf8: the raw UTF-8 path is encoded for signing. */
    CHECK(strstr(sign("GET", "https://example.amazonaws.com/\xe1\x88\xb4", host_hdr, 1, NULL, &o),
                 "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));
    rp__http_header trim[] = {
        {"Host", "example.amazonaws.com"}, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}};
    CHECK_STR(sign("GET", "https://example.amazonaws.com/", trim, 3, NULL, &o),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
              "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
    const char *token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    CHECK_STR(sign("GET", "https://example.amazonaws.com/", host_hdr, 1, token, &o),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date;x-amz-security-token, "
              "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
    CHECK(o.n_headers == 3);
    CHECK_STR(o.headers[2].name, "X-Amz-Security-Token");
    CHECK_STR(o.headers[2].value, token);
}

TEST(canonical_request)
{
    rp__buf cr, sts;
    rp__buf_init(&cr, 1 << 20);
    rp__buf_init(&sts, 1 << 20);
    rp_error err;
    rp__sigv4_request req = {.method = "get",
                             .url = "http://Example.COM:80/a/./b/../c//d%20e/?b=2&a=&a-b=1&a=1&c",
                             .service = "service",
                             .region = "eu-west-3",
                             .time = T_20150830};
    CHECK(rp__sigv4_canonical(&req, &(rp__aws_credentials){.access_key_id = "AK", .secret_access_key = "S"},
                              &cr, &sts, &err) == 0);
    /* Dot segments and empty segments removed, '%' encoded again; pairs
     * sorted as (key, value) tuples ("a" before "a-b"); host lower-cased
     * without the default port. */
    CHECK_STR(cr.data, "GET\n/a/c/d%2520e/\na=&a=1&a-b=1&b=2&c=\n"
                       "host:example.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *sts_head = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/eu-west-3/service/aws4_request\n";
    CHECK(strncmp(sts.data, sts_head, strlen(sts_head)) == 0 && sts.len == strlen(sts_head) + 64);

    /* S3: the path as it is, x-amz-content-sha256 added and signed. */
    rp__buf_reset(&cr);
    req.url = "https://b.s3.amazonaws.com:8443/a/./b//my%20key~";
    req.service = "s3";
    req.payload_hash = RP_SIGV4_UNSIGNED_PAYLOAD;
    CHECK(rp__sigv4_canonical(&req, &(rp__aws_credentials){.access_key_id = "AK", .secret_access_key = "S"},
                              &cr, NULL, &err) == 0);
    CHECK_STR(cr.data, "GET\n/a/./b//my%20key~\n\nhost:b.s3.amazonaws.com:8443\n"
                       "x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20150830T123600Z\n\n"
                       "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD");
    rp__buf_cleanup(&cr);
    rp__buf_cleanup(&sts);
}

TEST(output_headers)
{
    rp__aws_credentials c = example_creds("TOKEN");
    rp__sigv4_out o;
    rp_error err;
    rp__sigv4_request req = {.method = "PUT",
                             .url = "http://127.0.0.1:4568/bucket/key",
                             .payload = "abc",
                             .payload_len = 3,
                             .service = "s3",
                             .region = "us-east-1",
                             .time = T_20150830};
    CHECK(rp__sigv4_sign(&req, &c, &o, &err) == 0);
    CHECK(o.n_headers == 5);
    CHECK_STR(o.headers[0].name, "Authorization");
    CHECK_STR(o.headers[1].value, "20150830T123600Z");
    CHECK_STR(o.headers[2].name, "X-Amz-Security-Token");
    CHECK_STR(o.headers[3].name, "X-Amz-Content-SHA256");
    CHECK_STR(o.headers[3].value, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(o.headers[4].name, "Host");
    CHECK_STR(o.headers[4].value, "127.0.0.1:4568");
    CHECK(
        strstr(o.authorization, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
}

TEST(refusals)
{
    rp__aws_credentials c = example_creds("secret-token-value");
    rp__sigv4_out o;
    rp_error err;
    struct {
        const char *url;
        rp__http_header h;
        const char *service, *hash;
        rp_code code;
    } bad[] = {
        {"ftp://x/", {"A", "b"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/a b", {"A", "b"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x:99999/", {"A", "b"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https:///path", {"A", "b"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"Authorization", "x"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"X-Amz-Date", "x"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"Date", "x"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"X-Amz-Security-Token", "x"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"X-Amz-Content-SHA256", "x"}, "s3", NULL, RP_ERR_INVALID},
        {"https://x/", {"Bad Name", "x"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"A", "line\r\nbreak"}, "kinesis", NULL, RP_ERR_INVALID},
        {"https://x/", {"A", "b"}, "kin/esis", NULL, RP_ERR_INVALID},
        {"https://x/", {"A", "b"}, "kinesis", "not-hex", RP_ERR_INVALID},
        {"https://x/",
         {"A", "b"},
         "kinesis",
         "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
         RP_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp__sigv4_request req = {.method = "GET",
                                 .url = bad[i].url,
                                 .headers = &bad[i].h,
                                 .n_headers = 1,
                                 .service = bad[i].service,
                                 .region = "us-east-1",
                                 .time = T_20150830,
                                 .payload_hash = bad[i].hash};
        rp_error_clear(&err);
        int rc = rp__sigv4_sign(&req, &c, &o, &err);
        CHECK(rc == -1);
        CHECK(err.code == bad[i].code);
        CHECK(!strstr(err.msg, "secret-token-value") && !strstr(err.msg, "EXAMPLEKEY"));
        if (rc == 0 || err.code != bad[i].code)
            fprintf(stderr, "  case %zu: rc %d, %s\n", i, rc, err.msg);
    }
    rp__aws_credentials empty = {0};
    rp__sigv4_request req = {.method = "GET", .url = "https://x/", .service = "s", .region = "r", .time = 0};
    CHECK(rp__sigv4_sign(&req, &empty, &o, &err) == -1 && err.code == RP_ERR_INVALID);
    /* Without a session token, a caller's X-Amz-Security-Token is just a header. */
    rp__aws_credentials plain = example_creds(NULL);
    rp__http_header tok = {"X-Amz-Security-Token", "t"};
    req.headers = &tok;
    req.n_headers = 1;
    CHECK(rp__sigv4_sign(&req, &plain, &o, &err) == 0);
    CHECK(strstr(o.authorization, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
}

TEST(uri_encode)
{
    rp__buf b;
    rp__buf_init(&b, 1024);
    const char key[] = "rides/2024 01/caf\xc3\xa9~+=&%.txt";
    rp__sigv4_uri_encode(&b, key, sizeof key - 1, true);
    CHECK_STR(b.data, "rides/2024%2001/caf%C3%A9~%2B%3D%26%25.txt");
    rp__buf_reset(&b);
    rp__sigv4_uri_encode(&b, key, sizeof key - 1, false);
    CHECK_STR(b.data, "rides%2F2024%2001%2Fcaf%C3%A9~%2B%3D%26%25.txt");
    rp__buf_cleanup(&b);
    char hex[65];
    CHECK(rp__sigv4_sha256_hex("", 0, hex, NULL) == 0);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static time_t fixed_now(void *ctx)
{
    (void)ctx;
    return T_20150830;
}

TEST(prepare_hook)
{
    rp__aws_credentials c = example_creds(NULL);
    rp__sigv4_signer s = {.creds = &c, .service = "service", .region = "us-east-1", .now = fixed_now};
    rp__http_request req = {
        .method = "GET", .url = "https://example.amazonaws.com/", .headers = host_hdr, .n_headers = 1};
    rp__http_extra_headers extra = {.n = 0};
    rp_error err;
    CHECK(rp__sigv4_prepare(&s, &req, 0, &extra, &err) == 0);
    CHECK(extra.n == 2);
    CHECK_STR(extra.h[0].name, "Authorization");
    CHECK(strstr(extra.h[0].value,
                 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    CHECK_STR(extra.h[1].value, "20150830T123600Z");
}

/* Query-string auth on AWS's published example ("Authenticating Requests:
 * Using Query Parameters", Amazon S3 API reference): GET of
 * examplebucket/test.txt, 2013-05-24T00:00:00Z, 86400 s. */
#define T_20130524 ((time_t)1369353600)

static int presign(const char *url, const char *service, unsigned expires, const rp__aws_credentials *c,
                   rp__buf *out, rp__buf *canon, rp_error *err)
{
    rp__sigv4_presign_request pr = {.method = "GET",
                                    .url = url,
                                    .service = service,
                                    .region = "us-east-1",
                                    .time = T_20130524,
                                    .expires = expires};
    return rp__sigv4_presign(&pr, c, out, canon, err);
}

TEST(presign_aws_example)
{
    rp__aws_credentials c;
    rp_error err;
    CHECK(rp__aws_credentials_set(&c, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                  NULL, &err) == 0);
    rp__buf u, cr;
    rp__buf_init(&u, 1 << 16);
    rp__buf_init(&cr, 1 << 16);
    CHECK(presign("https://examplebucket.s3.amazonaws.com/test.txt", "s3", 86400, &c, &u, &cr, &err) == 0);
    CHECK_STR(u.data, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    CHECK_STR(cr.data,
              "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
              "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
              "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\n"
              "host\nUNSIGNED-PAYLOAD");
    /* The URL is appended to what the buffer held. */
    rp__buf_reset(&u);
    rp__buf_lit(&u, "url: ");
    CHECK(presign("https://examplebucket.s3.amazonaws.com/test.txt", "s3", 86400, &c, &u, NULL, &err) == 0);
    CHECK(
        strncmp(u.data, "url: https://examplebucket", 26) == 0 &&
        strstr(u.data, "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
    rp__buf_cleanup(&u);
    rp__buf_cleanup(&cr);
}

TEST(presign_rules)
{
    rp__aws_credentials c = example_creds("tok/en+=");
    rp_error err;
    rp__buf u, cr;
    rp__buf_init(&u, 1 << 16);
    rp__buf_init(&cr, 1 << 16);
    /* Not S3: the operation's query first, then the auth parameters, the
     * token after SignedHeaders and encoded; the canonical query sorted
     * (Security-Token before SignedHeaders), the path normalised for signing
     * but sent as given, a port that is not the default kept in the host,
     * the hash of the empty payload. */
    CHECK(presign("https://Svc.Example.com:8443/a/./b//c?Action=kafka-cluster%3AConnect&z=1", "kafka-cluster",
                  900, &c, &u, &cr, &err) == 0);
    const char *want_prefix =
        "https://Svc.Example.com:8443/a/./b//c?Action=kafka-cluster%3AConnect&z=1"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIDEXAMPLE%2F20130524%2Fus-east-1%2Fkafka-cluster%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
        "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=";
    CHECK(u.data && strncmp(u.data, want_prefix, strlen(want_prefix)) == 0 &&
          u.len == strlen(want_prefix) + 64);
    CHECK_STR(cr.data, "GET\n/a/b/c\nAction=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                       "&X-Amz-Credential=AKIDEXAMPLE%2F20130524%2Fus-east-1%2Fkafka-cluster%2Faws4_request"
                       "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=tok%2Fen%2B%3D"
                       "&X-Amz-SignedHeaders=host&z=1\nhost:svc.example.com:8443\n\nhost\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* No query: '?' then the auth parameters (a bare '?' too). */
    rp__buf_reset(&u);
    CHECK(presign("https://h/", "svc", 1, &c, &u, NULL, &err) == 0);
    CHECK(u.data && strncmp(u.data, "https://h/?X-Amz-Algorithm=", 27) == 0);
    rp__buf_reset(&u);
    CHECK(presign("https://h/?", "svc", RP_SIGV4_PRESIGN_EXPIRES_MAX, &c, &u, NULL, &err) == 0);
    CHECK(u.data && strncmp(u.data, "https://h/?X-Amz-Algorithm=", 27) == 0 &&
          strstr(u.data, "&X-Amz-Expires=604800&"));

    /* Refusals: the expiry's range, a fragment, a bad URL, no credentials;
     * the buffer is left as it was, and no secret is quoted. */
    rp__buf_reset(&u);
    rp__buf_lit(&u, "kept");
    struct {
        const char *url;
        unsigned expires;
    } bad[] = {{"https://h/", 0},
               {"https://h/", RP_SIGV4_PRESIGN_EXPIRES_MAX + 1},
               {"https://h/#frag", 60},
               {"ftp://h/", 60},
               {"https://h/a b", 60}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_error_clear(&err);
        CHECK(presign(bad[i].url, "svc", bad[i].expires, &c, &u, NULL, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID);
        CHECK(!strstr(err.msg, "tok/en") && !strstr(err.msg, "EXAMPLEKEY"));
    }
    rp__aws_credentials none = {0};
    CHECK(presign("https://h/", "svc", 60, &none, &u, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(presign("https://h/", "s/vc", 60, &c, &u, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(u.len == 4 && strcmp(u.data, "kept") == 0);
    /* A buffer too small for the URL: RP_ERR_LIMIT, its content kept. */
    rp__buf small;
    rp__buf_init(&small, 100);
    rp__buf_lit(&small, "x");
    CHECK(presign("https://h/", "svc", 60, &c, &small, NULL, &err) == -1 && err.code == RP_ERR_LIMIT);
    CHECK(small.len == 1 && strcmp(small.data, "x") == 0);
    rp__buf_cleanup(&small);
    rp__buf_cleanup(&u);
    rp__buf_cleanup(&cr);
}

int main(void)
{
    RUN(vectors);
    RUN(canonical_request);
    RUN(output_headers);
    RUN(refusals);
    RUN(uri_encode);
    RUN(prepare_hook);
    RUN(presign_aws_example);
    RUN(presign_rules);
    return rp_t_done();
}
