/* The credential chain and the region, with temporary home directories and
 * environments (setenv / unsetenv): the environment, the shared credentials
 * and config files with their profiles, precedence as botocore has it, the
 * files' syntax as botocore reads it, malformed files (named with their
 * line), and that secrets never reach an error message.  The container
 * endpoint is tested through a real server in
 * tests/integration/test_aws_credentials_endpoint.py; its JSON answer and
 * the time parser are tested here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/credentials.h"
#include "aws/ini.h"
#include "testing.h"

static char home[256];

static const char *const aws_vars[] = {
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
    "RP_TEST_DIR",
};

/* A fresh, empty HOME with an .aws directory, and no AWS variables. */
static void fresh_home(void)
{
    if (home[0])
        rp_t_rmtree(home);
    rp_t_tmpdir(home, sizeof home, "rp-aws-test");
    char p[300];
    snprintf(p, sizeof p, "%s/.aws", home);
    mkdir(p, 0700);
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    setenv("HOME", home, 1);
}

static void put_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", home, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

#define CREDS(text) put_file(".aws/credentials", text)
#define CONFIG(text) put_file(".aws/config", text)

static rp__aws_credentials creds;
static rp_error err;

static int resolve(void)
{
    rp_error_clear(&err);
    return rp__aws_credentials_resolve(&creds, NULL, &err);
}

static int resolve_profile(const char *profile)
{
    rp__aws_chain_options o = {.profile = profile};
    rp_error_clear(&err);
    return rp__aws_credentials_resolve(&creds, &o, &err);
}

static char region[RP_AWS_REGION_MAX + 1];

static int resolve_region(void)
{
    rp_error_clear(&err);
    return rp__aws_region_resolve(region, sizeof region, NULL, &err);
}

/* No error message ever holds these. */
static bool leaks(const char *msg)
{
    static const char *const secrets[] = {"SECRET", "secret-", "TOKEN-VALUE", "s3cr3t"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(msg, secrets[i])) {
            fprintf(stderr, "  leaked a secret: %s\n", msg);
            return true;
        }
    return false;
}

TEST(environment)
{
    fresh_home();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    CHECK(resolve() == 0);
    CHECK_STR(creds.access_key_id, "AKIDENV");
    CHECK_STR(creds.secret_access_key, "secret-env");
    CHECK_STR(creds.session_token, "");
    CHECK_STR(creds.source, "environment");
    CHECK(creds.expiration == 0);

    setenv("AWS_SESSION_TOKEN", "session-TOKEN-VALUE", 1);
    CHECK(resolve() == 0 && !strcmp(creds.session_token, "session-TOKEN-VALUE"));
    setenv("AWS_SECURITY_TOKEN", "security-TOKEN-VALUE", 1); /* botocore reads it first */
    CHECK(resolve() == 0 && !strcmp(creds.session_token, "security-TOKEN-VALUE"));
    setenv("AWS_SECURITY_TOKEN", "", 1); /* empty: as unset */
    CHECK(resolve() == 0 && !strcmp(creds.session_token, "session-TOKEN-VALUE"));

    setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z", 1);
    CHECK(resolve() == 0 && creds.expiration == 1893553445);
    setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID && strstr(err.msg, "AWS_CREDENTIAL_EXPIRATION"));
    unsetenv("AWS_CREDENTIAL_EXPIRATION");

    /* The environment wins over the files... */
    CREDS("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret-file\n");
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDENV"));
    /* ...even with AWS_PROFILE set, but not with a profile in the options
     * (botocore's Session(profile=...)). */
    setenv("AWS_PROFILE", "default", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDENV"));
    /* A profile named but missing is an error even then (botocore's
     * ProfileNotFound). */
    setenv("AWS_PROFILE", "ghost", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND && strstr(err.msg, "(ghost)"));
    setenv("AWS_PROFILE", "default", 1);
    CHECK(resolve_profile("default") == 0 && !strcmp(creds.access_key_id, "AKIDFILE"));
    CHECK_STR(creds.source, "shared-credentials-file");

    /* Partial credentials are an error, not a reason to go on. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "AWS_SECRET_ACCESS_KEY") != NULL);
    /* An empty key id is as unset. */
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDFILE"));
    /* A line break in a secret is refused without quoting it. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-\nline", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID && !leaks(err.msg));
}

TEST(shared_credentials_file)
{
    fresh_home();
    CREDS("# ridepred test\n"
          "[default]\n"
          "aws_access_key_id = AKIDDEFAULT\n"
          "aws_secret_access_key = secret-default\n"
          "\n"
          "[prod]\n"
          "  AWS_Access_Key_ID=AKIDPROD\n"        /* keys are case-insensitive */
          "aws_secret_access_key:secret-prod  \n" /* ':' is a delimiter too */
          "aws_session_token = prod-TOKEN-VALUE\n"
          "; another comment\n");
    CHECK(resolve() == 0);
    CHECK_STR(creds.access_key_id, "AKIDDEFAULT");
    CHECK_STR(creds.secret_access_key, "secret-default");
    CHECK_STR(creds.session_token, "");
    CHECK_STR(creds.source, "shared-credentials-file");

    setenv("AWS_PROFILE", "prod", 1);
    CHECK(resolve() == 0);
    CHECK_STR(creds.access_key_id, "AKIDPROD");
    CHECK_STR(creds.secret_access_key, "secret-prod");
    CHECK_STR(creds.session_token, "prod-TOKEN-VALUE");

    /* AWS_DEFAULT_PROFILE wins over AWS_PROFILE (botocore's order). */
    setenv("AWS_DEFAULT_PROFILE", "default", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDDEFAULT"));
    unsetenv("AWS_DEFAULT_PROFILE");

    /* A profile named explicitly must exist. */
    setenv("AWS_PROFILE", "nope", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "the config profile (nope) could not be found") != NULL);
    unsetenv("AWS_PROFILE");

    /* The file named by AWS_SHARED_CREDENTIALS_FILE, with ~ and $VAR. */
    put_file("other-creds", "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = secret-o\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/other-creds", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDOTHER"));
    setenv("RP_TEST_DIR", home, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "${RP_TEST_DIR}/other-creds", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDOTHER"));
    setenv("AWS_SHARED_CREDENTIALS_FILE", "$RP_TEST_DIR/other-creds", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDOTHER"));
}

TEST(config_file)
{
    fresh_home();
    CONFIG("[default]\n"
           "region = eu-west-3\n"
           "aws_access_key_id = AKIDCONFDEFAULT\n"
           "aws_secret_access_key = secret-cd\n"
           "[profile dev]\n"
           "aws_access_key_id = AKIDDEV\n"
           "aws_secret_access_key = secret-dev\n"
           "region = us-west-2\n"
           "[staging]\n" /* not a profile in the config file */
           "aws_access_key_id = AKIDNOTAPROFILE\n"
           "aws_secret_access_key = secret-x\n"
           "[profile \"with space\"]\n"
           "aws_access_key_id = AKIDSPACE\n"
           "aws_secret_access_key = secret-sp\n"
           "[profile    tabbed\t]\n"
           "aws_access_key_id = AKIDTABBED\n"
           "aws_secret_access_key = secret-t\n"
           "[profile a b]\n" /* three words: ignored */
           "aws_access_key_id = AKIDAB\n"
           "aws_secret_access_key = secret-ab\n");
    CHECK(resolve() == 0);
    CHECK_STR(creds.access_key_id, "AKIDCONFDEFAULT");
    CHECK_STR(creds.source, "config-file");
    CHECK(resolve_profile("dev") == 0 && !strcmp(creds.access_key_id, "AKIDDEV"));
    CHECK(resolve_profile("with space") == 0 && !strcmp(creds.access_key_id, "AKIDSPACE"));
    CHECK(resolve_profile("tabbed") == 0 && !strcmp(creds.access_key_id, "AKIDTABBED"));
    CHECK(resolve_profile("staging") == -1 && err.code == RP_ERR_NOT_FOUND);
    CHECK(resolve_profile("a b") == -1 && err.code == RP_ERR_NOT_FOUND);

    /* AWS_CONFIG_FILE */
    put_file("cfg", "[profile x]\naws_access_key_id = AKIDX\naws_secret_access_key = secret-x\n");
    setenv("AWS_CONFIG_FILE", "~/cfg", 1);
    CHECK(resolve_profile("x") == 0 && !strcmp(creds.access_key_id, "AKIDX"));
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND);
    unsetenv("AWS_CONFIG_FILE");

    /* "[profile default]" is the default profile too; the later section wins. */
    CONFIG("[default]\naws_access_key_id = AKIDFIRST\naws_secret_access_key = secret-1\n"
           "[profile default]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = secret-2\n");
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDSECOND"));
}

TEST(precedence)
{
    fresh_home();
    /* The credentials file wins over the config file for the same profile. */
    CREDS("[dev]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = secret-c\n");
    CONFIG(
        "[profile dev]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = secret-f\nregion = ap-south-1\n");
    setenv("AWS_PROFILE", "dev", 1);
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDCREDS"));
    /* A credentials-file profile without keys falls through to the config. */
    CREDS("[dev]\nregion = eu-north-1\n");
    CHECK(resolve() == 0 && !strcmp(creds.access_key_id, "AKIDCONFIG"));
    /* Keys come as a pair from one file: no mixing. */
    CREDS("[dev]\naws_access_key_id = AKIDHALF\n");
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "partial credentials") && strstr(err.msg, "credentials") && !leaks(err.msg));
    /* The session token comes with its keys (aws_security_token first). */
    CREDS("[dev]\naws_access_key_id = A\naws_secret_access_key = secret-b\n"
          "aws_session_token = session-TOKEN-VALUE\naws_security_token = security-TOKEN-VALUE\n");
    CHECK(resolve() == 0 && !strcmp(creds.session_token, "security-TOKEN-VALUE"));
}

TEST(file_syntax)
{
    fresh_home();
    /* Inline comments are part of the value (configparser has none);
     * [DEFAULT] values are inherited; CRLF line ends; indented
     * continuation lines. */
    CREDS("[DEFAULT]\r\n"
          "aws_secret_access_key = secret-inherited\r\n"
          "[default]\r\n"
          "aws_access_key_id = AKID # not a comment\r\n"
          "\r\n"
          "[other]\r\n"
          "aws_access_key_id=AKIDOTHER\r\n"
          "aws_secret_access_key = secret-\r\n"
          "   continued\r\n");
    CHECK(resolve() == 0);
    CHECK_STR(creds.access_key_id, "AKID # not a comment");
    CHECK_STR(creds.secret_access_key, "secret-inherited");
    /* A continued value holds a line break: refused, without quoting it. */
    CHECK(resolve_profile("other") == -1 && err.code == RP_ERR_INVALID && !leaks(err.msg));
    CHECK(strstr(err.msg, "credentials [other]: the secret access key contains a control character"));
    /* "key =" then indented lines: botocore's nested block, which must be
     * 'key = value' lines, or the whole file is malformed. */
    CREDS("[default]\naws_access_key_id = AKID\naws_secret_access_key = secret-a\n"
          "[other]\naws_secret_access_key =\n   secret-continued\n");
    CHECK(resolve() == -1 && err.code == RP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "credentials:5: the nested value") && !leaks(err.msg));
    CREDS("[default]\naws_access_key_id = AKID\naws_secret_access_key =\n   k = secret-nested\n");
    CHECK(resolve() == -1 && err.code == RP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "credentials:3: aws_secret_access_key must be a single value") && !leaks(err.msg));

    rp__ini *ini = NULL;
    const char *text = "[s]\n"
                       "multi = first\n"
                       "   second\n"
                       "\n"
                       "   third\n"
                       "  # a comment inside\n"
                       "\n"
                       "s3 =\n"
                       "    addressing_style = path\n"
                       "    signature_version = s3v4\n"
                       "Upper.Key : v : w\n"
                       "\xc2\xa0spaced\xc2\xa0=\xc2\xa0 nbsp \xe3\x80\x80\n" /* indented: continues */
                       "[ s ]\n"
                       "k = separate section\n"
                       "[t]\n"
                       "\xc2\xa0spaced\xc2\xa0=\xc2\xa0 nbsp \xe3\x80\x80\n";
    CHECK(rp__ini_parse(text, strlen(text), "t.ini", &ini, &err) == 0);
    if (ini) {
        bool nested = true;
        CHECK_STR(rp__ini_get(ini, "s", "multi", NULL, &nested), "first\nsecond\n\nthird");
        CHECK(!nested);
        int line = 0;
        CHECK_STR(rp__ini_get(ini, "s", "s3", &line, &nested),
                  "\naddressing_style = path\nsignature_version = s3v4");
        CHECK(nested && line == 8);
        CHECK_STR(rp__ini_get(ini, "s", "upper.key", NULL, NULL), "v : w\nspaced\xc2\xa0=\xc2\xa0 nbsp");
        CHECK_STR(rp__ini_get(ini, "t", "spaced", NULL, NULL), "nbsp");
        CHECK(rp__ini_get(ini, "s", "Upper.Key", NULL, NULL) == NULL);
        CHECK_STR(rp__ini_get(ini, " s ", "k", NULL, NULL), "separate section");
        CHECK(rp__ini_section_count(ini) == 3);
    }
    rp__ini_free(ini);
}

TEST(malformed_files)
{
    struct {
        const char *text;
        const char *want; /* in the message, after "credentials:" */
    } bad[] = {
        {"aws_access_key_id = x\n", ":1: an option before any [section] header"},
        {"[default]\naws_access_key_id = x\njust some words\n", ":3: neither a [section]"},
        {"[default]\n[other]\n[default]\n", ":3: duplicate section [default]"},
        {"[default]\naws_access_key_id = a\nAWS_ACCESS_KEY_ID = b\n",
         ":3: duplicate option 'aws_access_key_id'"},
        {"[default]\n= secret-value\n", ":2: an option with an empty name"},
        {"[default]\naws_access_key_id = \xff\xfe\n", ":2: not valid UTF-8"},
        {"\xef\xbb\xbf[default]\n", ":1: starts with a byte-order mark"},
        {"[default]\ns3 =\n  no equals sign here\n", ":2: the nested value of 's3'"},
        {"[]\n", ":1: an option before any [section] header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fresh_home();
        CREDS(bad[i].text);
        CHECK(resolve() == -1);
        CHECK(err.code == RP_ERR_CORRUPT);
        char want[300];
        snprintf(want, sizeof want, "%s/.aws/credentials%s", home, bad[i].want);
        CHECK(strstr(err.msg, want) == err.msg);
        CHECK(!leaks(err.msg));
        if (strstr(err.msg, want) != err.msg)
            fprintf(stderr, "  case %zu: %s\n", i, err.msg);
    }
    /* A malformed config file is an error too, even when the credentials
     * file has nothing for the profile. */
    fresh_home();
    CREDS("[other]\naws_access_key_id = a\naws_secret_access_key = secret-a\n");
    CONFIG("[default]\nregion us-east-1\n");
    CHECK(resolve() == -1 && err.code == RP_ERR_CORRUPT && strstr(err.msg, "config:2:"));
    /* A value too long for its field. */
    fresh_home();
    char big[600];
    memset(big, 'A', sizeof big);
    big[sizeof big - 1] = '\0';
    char text[800];
    snprintf(text, sizeof text, "[default]\naws_access_key_id = %s\naws_secret_access_key = secret-a\n", big);
    CREDS(text);
    CHECK(resolve() == -1 && err.code == RP_ERR_LIMIT);
}

TEST(nothing_found)
{
    fresh_home();
    CHECK(resolve() == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "no AWS credentials found") == err.msg);
    CHECK(strstr(err.msg, "environment (AWS_ACCESS_KEY_ID unset)"));
    CHECK(strstr(err.msg, "/.aws/credentials (no such file)"));
    CHECK(strstr(err.msg, "/.aws/config (no such file)"));
    CHECK(strstr(err.msg, "container endpoint"));
    CREDS("[someone-else]\naws_access_key_id = a\naws_secret_access_key = secret-a\n");
    CONFIG("[default]\nregion = us-east-1\n");
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "credentials (no [default])"));
    CHECK(strstr(err.msg, "config ([default] has no aws_access_key_id)"));
    /* A directory where the file should be counts as no file (botocore's
     * os.path.isfile). */
    fresh_home();
    put_file(".aws/placeholder", "");
    char p[300];
    snprintf(p, sizeof p, "%s/.aws/credentials", home);
    mkdir(p, 0700);
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND);
    rmdir(p);
}

TEST(regions)
{
    fresh_home();
    CHECK(resolve_region() == -1 && err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "no AWS region"));
    CONFIG("[default]\nregion = eu-west-3\n[profile dev]\nregion = us-west-2\n");
    CHECK(resolve_region() == 0 && !strcmp(region, "eu-west-3"));
    setenv("AWS_PROFILE", "dev", 1);
    CHECK(resolve_region() == 0 && !strcmp(region, "us-west-2"));
    /* The credentials file's region wins (botocore merges it over the
     * config's profile). */
    CREDS("[dev]\nregion = ap-northeast-1\n");
    CHECK(resolve_region() == 0 && !strcmp(region, "ap-northeast-1"));
    setenv("AWS_DEFAULT_REGION", "ca-central-1", 1);
    CHECK(resolve_region() == 0 && !strcmp(region, "ca-central-1"));
    setenv("AWS_REGION", "sa-east-1", 1);
    CHECK(resolve_region() == 0 && !strcmp(region, "sa-east-1"));
    setenv("AWS_REGION", "", 1); /* empty: as unset */
    CHECK(resolve_region() == 0 && !strcmp(region, "ca-central-1"));
    setenv("AWS_REGION", "us east 1", 1);
    CHECK(resolve_region() == -1 && err.code == RP_ERR_INVALID && strstr(err.msg, "AWS_REGION"));
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_PROFILE", "ghost", 1);
    CHECK(resolve_region() == -1 && err.code == RP_ERR_NOT_FOUND && strstr(err.msg, "(ghost)"));
}

TEST(container_answer)
{
    rp__aws_credentials c;
    const char *ok = "{\"RoleArn\": \"arn:aws:iam::1:role/r\", \"AccessKeyId\": \"ASIAEXAMPLE\", "
                     "\"SecretAccessKey\": \"secret-\\u0041\", \"Token\": \"TOKEN-VALUE\", "
                     "\"Expiration\": \"2030-01-02T03:04:05Z\", \"Extra\": {\"a\": [1, 2]}}";
    CHECK(rp__aws_credentials_from_json(ok, strlen(ok), &c, &err) == 0);
    CHECK_STR(c.access_key_id, "ASIAEXAMPLE");
    CHECK_STR(c.secret_access_key, "secret-A");
    CHECK_STR(c.session_token, "TOKEN-VALUE");
    CHECK(c.expiration == 1893553445);
    const char *bad[] = {
        "",
        "[]",
        "{\"AccessKeyId\": \"A\"}",
        "{\"SecretAccessKey\": \"secret-x\"}",
        "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"secret-x\", \"Expiration\": \"soon\"}",
        "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"secret-x\"",
        "{\"AccessKeyId\": \"\", \"SecretAccessKey\": \"secret-x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_error_clear(&err);
        CHECK(rp__aws_credentials_from_json(bad[i], strlen(bad[i]), &c, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID && !leaks(err.msg));
        CHECK(c.secret_access_key[0] == '\0');
    }
}

TEST(times_and_refresh)
{
    int64_t t;
    CHECK(rp__aws_parse_time("2015-08-30T12:36:00Z", 20, &t) == 0 && t == 1440938160);
    CHECK(rp__aws_parse_time("2015-08-30T12:36:00.123456Z", 27, &t) == 0 && t == 1440938160);
    CHECK(rp__aws_parse_time("2015-08-30T14:36:00+02:00", 25, &t) == 0 && t == 1440938160);
    CHECK(rp__aws_parse_time("2015-08-30T10:36:00-0200", 24, &t) == 0 && t == 1440938160);
    CHECK(rp__aws_parse_time("2015-08-30 12:36:00", 19, &t) == 0 && t == 1440938160);
    CHECK(rp__aws_parse_time("2015-08-30", 10, &t) == -1);
    CHECK(rp__aws_parse_time("2015-13-30T12:36:00Z", 20, &t) == -1);
    CHECK(rp__aws_parse_time("2015-08-30T12:36:00Zjunk", 24, &t) == -1);
    rp__aws_credentials c = {.expiration = 1000000};
    CHECK(!rp__aws_credentials_need_refresh(&c, 1000000 - 601));
    CHECK(rp__aws_credentials_need_refresh(&c, 1000000 - 600));
    c.expiration = 0;
    CHECK(!rp__aws_credentials_need_refresh(&c, 1 << 30));
    CHECK(rp__aws_credentials_set(&c, "AK", "secret-x", NULL, &err) == 0 && !strcmp(c.source, "static"));
    rp__aws_credentials_clear(&c);
    CHECK(c.secret_access_key[0] == '\0' && c.access_key_id[0] == '\0');
    CHECK(rp__aws_credentials_set(&c, "", "secret-x", NULL, &err) == -1 && !leaks(err.msg));
}

TEST(container_settings)
{
    /* Plain http only to loopback / the ECS and EKS addresses; the token
     * file is read (errors name the variable, never the token). */
    fresh_home();
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID && strstr(err.msg, "not allowed"));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_NOT_FOUND &&
          strstr(err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
    put_file("token", "bad\ntoken-TOKEN-VALUE\n");
    char p[300];
    snprintf(p, sizeof p, "%s/token", home);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", p, 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID && !leaks(err.msg));
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds", 1);
    CHECK(resolve() == -1 && err.code == RP_ERR_INVALID &&
          strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
}

int main(void)
{
    RUN(environment);
    RUN(shared_credentials_file);
    RUN(config_file);
    RUN(precedence);
    RUN(file_syntax);
    RUN(malformed_files);
    RUN(nothing_found);
    RUN(regions);
    RUN(container_answer);
    RUN(times_and_refresh);
    RUN(container_settings);
    if (home[0])
        CHECK(rp_t_rmtree(home) == 0);
    return rp_t_done();
}
