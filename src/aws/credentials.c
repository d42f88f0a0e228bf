/* The AWS credential chain and region (see credentials.h).  Each step
 * mirrors a botocore provider: EnvProvider, SharedCredentialProvider,
 * ConfigProvider, ContainerProvider; the region follows botocore's
 * session (the profile map with the credentials file merged over the
 * config file).  Nothing here logs or reports a secret. */
#include "aws/credentials.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/ini.h"
#include "common/buf.h"
#include "common/file.h"
#include "common/json.h"
#include "ridepred/log.h"

#define PATH_CAP 4096
#define TOKEN_FILE_MAX ((size_t)16 * 1024)
#define CONTAINER_BODY_MAX ((size_t)64 * 1024)
#define ECS_HOST "169.254.170.2"

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- credentials values ----------------------------------------------------- */

void rp__aws_credentials_clear(rp__aws_credentials *c)
{
    explicit_bzero(c, sizeof *c);
}

/* Copies a credential value, refusing empty, over-long and control
 * characters.  `what` names the value (never the value itself). */
static int set_value(char *dst, size_t cap, const char *v, size_t n, const char *what, rp_error *err)
{
    if (n == 0)
        return rp_error_set(err, RP_ERR_INVALID, "%s is empty", what);
    if (n >= cap)
        return rp_error_set(err, RP_ERR_LIMIT, "%s is longer than %zu bytes", what, cap - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f)
            return rp_error_set(err, RP_ERR_INVALID, "%s contains a control character or line break", what);
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

static int set_all(rp__aws_credentials *out, const char *ak, const char *sk, const char *tok,
                   const char *where, rp_error *err)
{
    char what[160];
    snprintf(what, sizeof what, "%s: the access key id", where);
    if (set_value(out->access_key_id, sizeof out->access_key_id, ak, strlen(ak), what, err) != 0)
        return -1;
    snprintf(what, sizeof what, "%s: the secret access key", where);
    if (set_value(out->secret_access_key, sizeof out->secret_access_key, sk, strlen(sk), what, err) != 0)
        return -1;
    out->session_token[0] = '\0';
    snprintf(what, sizeof what, "%s: the session token", where);
    if (tok && set_value(out->session_token, sizeof out->session_token, tok, strlen(tok), what, err) != 0)
        return -1;
    return 0;
}

int rp__aws_credentials_set(rp__aws_credentials *out, const char *access_key_id,
                            const char *secret_access_key, const char *session_token, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!access_key_id || !secret_access_key)
        return rp_error_set(err, RP_ERR_INVALID, "credentials need an access key id and a secret");
    if (set_all(out, access_key_id, secret_access_key, session_token && *session_token ? session_token : NULL,
                "static credentials", err) != 0) {
        rp__aws_credentials_clear(out);
        return -1;
    }
    snprintf(out->source, sizeof out->source, "static");
    return 0;
}

bool rp__aws_credentials_need_refresh(const rp__aws_credentials *c, time_t now)
{
    return c->expiration != 0 && (int64_t)now + 600 >= c->expiration;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rp__aws_parse_time(const char *s, size_t len, int64_t *out)
{
    int Y, M, D, h, m, sec, oh = 0, om = 0;
    if (len < 19 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    size_t i = 19;
    if (i < len && s[i] == '.') {
        i++;
        size_t f = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return -1;
    }
    int sign = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        i++;
        if (len - i == 5 && s[i + 2] == ':') {
            if (digits(s + i, 2, &oh) || digits(s + i + 3, 2, &om))
                return -1;
        } else if (len - i == 4) {
            if (digits(s + i, 2, &oh) || digits(s + i + 2, 2, &om))
                return -1;
        } else {
            return -1;
        }
        i = len;
    }
    if (i != len || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || oh > 23 || om > 59)
        return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(Y == 1969 && M == 12 && D == 31))
        return -1;
    *out = (int64_t)t - (int64_t)sign * (oh * 3600 + om * 60);
    return 0;
}

int rp__aws_credentials_from_json(const char *body, size_t len, rp__aws_credentials *out, rp_error *err)
{
    int rc = -1;
    char *tmp = NULL;
    rp__json_reader r;
    rp__json_value v, k;
    bool have_ak = false, have_sk = false;
    memset(out, 0, sizeof *out);
    rp__json_init(&r, body, len, 16);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT) {
        rp_error_set(err, RP_ERR_INVALID, "the answer is not a JSON object");
        goto out;
    }
    tmp = malloc(len + 1);
    if (!tmp) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory reading credentials");
        goto out;
    }
    int more;
    while ((more = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            break;
        if (v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) {
            if (rp__json_skip(&r, &v) < 0)
                break;
            continue;
        }
        if (v.type != RP_JSON_STRING)
            continue;
        size_t n = rp__json_str_decode(&v, tmp);
        if (rp__json_str_eq(&k, "AccessKeyId", 11)) {
            if (set_value(out->access_key_id, sizeof out->access_key_id, tmp, n, "AccessKeyId", err) != 0)
                goto out;
            have_ak = true;
        } else if (rp__json_str_eq(&k, "SecretAccessKey", 15)) {
            if (set_value(out->secret_access_key, sizeof out->secret_access_key, tmp, n, "SecretAccessKey",
                          err) != 0)
                goto out;
            have_sk = true;
        } else if (rp__json_str_eq(&k, "Token", 5)) {
            if (n && set_value(out->session_token, sizeof out->session_token, tmp, n, "Token", err) != 0)
                goto out;
        } else if (rp__json_str_eq(&k, "Expiration", 10)) {
            if (rp__aws_parse_time(tmp, n, &out->expiration) != 0) {
                rp_error_set(err, RP_ERR_INVALID, "Expiration is not an ISO 8601 time");
                goto out;
            }
        }
    }
    if (more != 0 || rp__json_end(&r) != 1) {
        rp_error_set(err, RP_ERR_INVALID, "the answer is not valid JSON");
        goto out;
    }
    if (!have_ak || !have_sk) {
        rp_error_set(err, RP_ERR_INVALID, "the answer has no %s",
                     !have_ak ? "AccessKeyId" : "SecretAccessKey");
        goto out;
    }
    rc = 0;
out:
    if (tmp) {
        explicit_bzero(tmp, len + 1);
        free(tmp);
    }
    if (rc != 0)
        rp__aws_credentials_clear(out);
    return rc;
}

/* ---- paths ------------------------------------------------------------------- */

/* os.path.expanduser(os.path.expandvars(path)), as botocore expands
 * AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE. */
static int expand_path(const char *in, char *out, size_t cap, rp_error *err)
{
    int rc = -1;
    rp__buf b, c;
    rp__buf_init(&b, PATH_CAP);
    rp__buf_init(&c, PATH_CAP);
    /* expandvars: $name or ${name}; unknown variables stay as written. */
    for (const char *p = in; *p;) {
        const char *name = NULL, *ne = NULL, *after = NULL;
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (close) {
                name = p + 2;
                ne = close;
                after = close + 1;
            }
        } else if (p[0] == '$') {
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
            if (q > p + 1) {
                name = p + 1;
                ne = q;
                after = q;
            }
        }
        const char *val = NULL;
        char key[256];
        if (name && (size_t)(ne - name) < sizeof key) {
            memcpy(key, name, (size_t)(ne - name));
            key[ne - name] = '\0';
            val = getenv(key);
        }
        if (val) {
            rp__buf_puts(&b, val);
            p = after;
        } else if (name) {
            rp__buf_append(&b, p, (size_t)(after - p));
            p = after;
        } else {
            rp__buf_putc(&b, *p++);
        }
    }
    const char *s = b.data ? b.data : "";
    /* expanduser: ~ or ~user at the start. */
    if (s[0] == '~') {
        size_t i = strcspn(s + 1, "/") + 1;
        const char *home = NULL;
        struct passwd pw, *res = NULL;
        char pwbuf[4096];
        if (i == 1) {
            home = getenv("HOME");
            if (!home && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
                home = res->pw_dir;
        } else {
            char user[256];
            if (i - 1 < sizeof user) {
                memcpy(user, s + 1, i - 1);
                user[i - 1] = '\0';
                if (getpwnam_r(user, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
                    home = res->pw_dir;
            }
        }
        if (home) {
            size_t hl = strlen(home);
            while (hl > 0 && home[hl - 1] == '/')
                hl--;
            rp__buf_append(&c, home, hl);
            rp__buf_puts(&c, s + i);
            if (c.len == 0)
                rp__buf_putc(&c, '/');
            s = c.data ? c.data : "/";
        }
    }
    if (b.failed || c.failed || strlen(s) >= cap) {
        rp_error_set(err, RP_ERR_LIMIT, "configuration file path longer than %zu bytes", cap - 1);
        goto out;
    }
    memcpy(out, s, strlen(s) + 1);
    rc = 0;
out:
    rp__buf_cleanup(&b);
    rp__buf_cleanup(&c);
    return rc;
}

/* ---- the profile and the files --------------------------------------------------- */

typedef struct chain {
    char profile[RP_AWS_PROFILE_MAX + 1];
    bool explicit_profile; /* named by the options or the environment */
    bool from_options;
    char cred_path[PATH_CAP];
    char conf_path[PATH_CAP];
    rp__ini *cred, *conf;     /* NULL when the file does not exist */
    const char *conf_section; /* the config section of the profile, or NULL */
} chain;

/* shlex.split(s) (POSIX mode, no comments), as botocore splits "profile
 * NAME" section names.  Returns the number of tokens (the second copied
 * into `second`), or -1 where shlex raises ValueError. */
static int shlex_split2(const char *s, char *second, size_t cap)
{
    int ntok = 0;
    size_t o = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            return ntok;
        bool in_tok = true;
        o = 0;
        while (in_tok && *p) {
            char c = *p;
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                in_tok = false;
                break;
            }
            if (c == '\\') {
                if (!p[1])
                    return -1;
                if (ntok == 1 && o + 1 < cap)
                    second[o++] = p[1];
                p += 2;
            } else if (c == '\'') {
                const char *close = strchr(p + 1, '\'');
                if (!close)
                    return -1;
                for (const char *q = p + 1; q < close; q++)
                    if (ntok == 1 && o + 1 < cap)
                        second[o++] = *q;
                p = close + 1;
            } else if (c == '"') {
                p++;
                for (;;) {
                    if (!*p)
                        return -1;
                    if (*p == '"') {
                        p++;
                        break;
                    }
                    char ch = *p;
                    if (ch == '\\' && (p[1] == '"' || p[1] == '\\')) {
                        ch = p[1];
                        p++;
                    }
                    if (ntok == 1 && o + 1 < cap)
                        second[o++] = ch;
                    p++;
                }
            } else {
                if (ntok == 1 && o + 1 < cap)
                    second[o++] = c;
                p++;
            }
        }
        if (ntok == 1)
            second[o] = '\0';
        ntok++;
    }
}

/* botocore's build_profile_map: "[profile NAME]" (any section starting
 * with "profile" that shlex splits into two words) or "[default]"; a later
 * section for the same profile replaces an earlier one. */
static const char *config_section_for(const rp__ini *conf, const char *profile)
{
    const char *found = NULL;
    for (size_t i = 0; i < rp__ini_section_count(conf); i++) {
        const char *s = rp__ini_section_name(conf, i);
        if (strncmp(s, "profile", 7) == 0) {
            char name[RP_AWS_PROFILE_MAX + 2];
            if (shlex_split2(s, name, sizeof name) == 2 && strcmp(name, profile) == 0)
                found = s;
        } else if (strcmp(s, "default") == 0 && strcmp(profile, "default") == 0) {
            found = s;
        }
    }
    return found;
}

static void chain_cleanup(chain *ch)
{
    rp__ini_free(ch->cred);
    rp__ini_free(ch->conf);
    ch->cred = ch->conf = NULL;
}

static int chain_init(chain *ch, const rp__aws_chain_options *opt, rp_error *err)
{
    memset(ch, 0, sizeof *ch);
    const char *p = opt && opt->profile && *opt->profile ? opt->profile : NULL;
    ch->from_options = p != NULL;
    if (!p)
        p = env_nonempty("AWS_DEFAULT_PROFILE");
    if (!p)
        p = env_nonempty("AWS_PROFILE");
    ch->explicit_profile = p != NULL;
    if (!p)
        p = "default";
    if (strlen(p) > RP_AWS_PROFILE_MAX)
        return rp_error_set(err, RP_ERR_LIMIT, "profile name longer than %d bytes", RP_AWS_PROFILE_MAX);
    memcpy(ch->profile, p, strlen(p) + 1);
    const char *cp = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
    if (expand_path(cp ? cp : "~/.aws/credentials", ch->cred_path, sizeof ch->cred_path, err) != 0)
        return -1;
    const char *fp = env_nonempty("AWS_CONFIG_FILE");
    if (expand_path(fp ? fp : "~/.aws/config", ch->conf_path, sizeof ch->conf_path, err) != 0)
        return -1;
    return 0;
}

/* Loads both files; a missing file is no error, a malformed one is. */
static int chain_load(chain *ch, rp_error *err)
{
    rp_error e;
    if (rp__ini_load(ch->cred_path, &ch->cred, &e) != 0 && e.code != RP_ERR_NOT_FOUND) {
        if (err)
            *err = e;
        return -1;
    }
    if (rp__ini_load(ch->conf_path, &ch->conf, &e) != 0 && e.code != RP_ERR_NOT_FOUND) {
        if (err)
            *err = e;
        return -1;
    }
    ch->conf_section = ch->conf ? config_section_for(ch->conf, ch->profile) : NULL;
    return 0;
}

/* botocore's ProfileNotFound: a profile named explicitly must exist. */
static int chain_check_profile(const chain *ch, rp_error *err)
{
    if (!ch->explicit_profile)
        return 0;
    if ((ch->cred && rp__ini_has_section(ch->cred, ch->profile)) || ch->conf_section)
        return 0;
    return rp_error_set(err, RP_ERR_NOT_FOUND, "the config profile (%.64s) could not be found in %s or %s",
                        ch->profile, ch->conf_path, ch->cred_path);
}

/* A value of the profile's section, refusing nested blocks. */
static int section_value(const rp__ini *ini, const char *section, const char *key, const char **out,
                         rp_error *err)
{
    int line = 0;
    bool nested = false;
    *out = rp__ini_get(ini, section, key, &line, &nested);
    if (*out && nested) {
        *out = NULL;
        return rp_error_set(err, RP_ERR_CORRUPT, "%s:%d: %s must be a single value, not a nested block",
                            rp__ini_path(ini), line, key);
    }
    return 0;
}

/* SharedCredentialProvider / ConfigProvider on one section.  *found is
 * false when the section has no aws_access_key_id. */
static int creds_from_section(const rp__ini *ini, const char *section, rp__aws_credentials *out, bool *found,
                              rp_error *err)
{
    const char *ak, *sk, *tok;
    *found = false;
    if (section_value(ini, section, "aws_access_key_id", &ak, err) != 0)
        return -1;
    if (!ak)
        return 0;
    if (section_value(ini, section, "aws_secret_access_key", &sk, err) != 0 ||
        section_value(ini, section, "aws_security_token", &tok, err) != 0)
        return -1;
    if (!tok && section_value(ini, section, "aws_session_token", &tok, err) != 0)
        return -1;
    if (!sk)
        return rp_error_set(err, RP_ERR_INVALID,
                            "%s: partial credentials in [%.64s]: aws_access_key_id without "
                            "aws_secret_access_key",
                            rp__ini_path(ini), section);
    char where[PATH_CAP + 80];
    snprintf(where, sizeof where, "%s [%.64s]", rp__ini_path(ini), section);
    if (set_all(out, ak, sk, tok, where, err) != 0)
        return -1;
    *found = true;
    return 0;
}

/* ---- the container endpoint ------------------------------------------------------- */

static bool is_loopback_v4(const char *h, size_t n)
{
    char buf[16];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, h, n);
    buf[n] = '\0';
    unsigned a, b, c, d;
    char extra;
    if (sscanf(buf, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4)
        return false;
    return a == 127 && b < 256 && c < 256 && d < 256;
}

/* Plain http only to the loopback and the ECS / EKS link-local endpoints
 * (as current botocore); https anywhere. */
static bool container_host_allowed(const rp__http_url *u)
{
    if (rp__http_url_is_https(u))
        return true;
    static const char *const hosts[] = {"localhost", "169.254.170.2", "169.254.170.23", "[::1]",
                                        "[fd00:ec2::23]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        if (strlen(hosts[i]) == u->host_len && strncasecmp(u->host, hosts[i], u->host_len) == 0)
            return true;
    return is_loopback_v4(u->host, u->host_len);
}

/* Reads the authorization token: the file named by
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at every fetch, as the
 * token rotates; one trailing newline dropped), else
 * AWS_CONTAINER_AUTHORIZATION_TOKEN.  *token is malloc'd or NULL. */
static int container_token(char **token, rp_error *err)
{
    int rc = -1;
    FILE *f = NULL;
    char *buf = NULL;
    *token = NULL;
    const char *path = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *var = path ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" : "AWS_CONTAINER_AUTHORIZATION_TOKEN";
    size_t n = 0;
    buf = malloc(TOKEN_FILE_MAX + 1);
    if (!buf) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory reading the container authorization token");
        goto out;
    }
    if (path) {
        f = rp__file_fopen(path, err);
        if (!f) {
            rp_error_prefix(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
            goto out;
        }
        n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
        if (ferror(f)) {
            rp_error_set(err, RP_ERR_IO, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: read error", path);
            goto out;
        }
        if (n > TOKEN_FILE_MAX) {
            rp_error_set(err, RP_ERR_LIMIT,
                         "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: larger than %zu bytes", path,
                         TOKEN_FILE_MAX);
            goto out;
        }
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    } else {
        const char *t = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        if (!t) {
            rc = 0;
            goto out;
        }
        n = strlen(t);
        if (n > TOKEN_FILE_MAX) {
            rp_error_set(err, RP_ERR_LIMIT, "AWS_CONTAINER_AUTHORIZATION_TOKEN is longer than %zu bytes",
                         TOKEN_FILE_MAX);
            goto out;
        }
        memcpy(buf, t, n);
    }
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            rp_error_set(err, RP_ERR_INVALID,
                         "the container authorization token (%s) is not a legal header value", var);
            goto out;
        }
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    *token = buf;
    buf = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    if (buf) {
        explicit_bzero(buf, TOKEN_FILE_MAX + 1);
        free(buf);
    }
    return rc;
}

static int fetch_container(rp__aws_credentials *out, const rp__aws_chain_options *opt, const char *var,
                           const char *url, rp_error *err)
{
    int rc = -1;
    char *token = NULL;
    char origin[320] = "";
    rp__http_client client;
    rp__http_response resp;
    rp__http_client_init(&client, NULL, NULL);
    rp__http_response_init(&resp, CONTAINER_BODY_MAX);

    rp__http_url u;
    if (rp__http_url_parse(url, &u, err) != 0) {
        rp_error_prefix(err, "%s", var);
        goto out;
    }
    snprintf(origin, sizeof origin, "%.*s://%.*s%s", (int)u.scheme_len, u.scheme, (int)u.host_len, u.host,
             "");
    if (u.port >= 0) {
        size_t l = strlen(origin);
        snprintf(origin + l, sizeof origin - l, ":%d", u.port);
    }
    if (!container_host_allowed(&u)) {
        rp_error_set(err, RP_ERR_INVALID,
                     "%s: %s is not allowed: plain http only to a loopback address or the ECS/EKS "
                     "endpoints 169.254.170.2 / 169.254.170.23; use https",
                     var, origin);
        goto out;
    }
    if (container_token(&token, err) != 0)
        goto out;
    uint32_t timeout = opt && opt->container_timeout_ms ? opt->container_timeout_ms : 2000;
    rp__http_options ho = {
        .connect_timeout_ms = timeout,
        .timeout_ms = timeout,
        .max_response_bytes = CONTAINER_BODY_MAX,
        .no_proxy = true, /* a local endpoint, never through a proxy */
        .retry = opt && opt->container_retry.max_attempts ? opt->container_retry
                                                          : (rp__retry_policy){3, 100, 1000},
    };
    rp__http_client_init(&client, &ho, NULL);
    rp__http_header hs[2] = {{"Accept", "application/json"}, {"Authorization", token}};
    rp__http_request req = {.method = "GET", .url = url, .headers = hs, .n_headers = token ? 2 : 1};
    if (rp__http_execute(&client, &req, NULL, NULL, &resp, err) != 0) {
        rp_error_prefix(err, "container credentials endpoint %s (%s)", origin, var);
        goto out;
    }
    if (rp__aws_credentials_from_json(resp.body.data ? resp.body.data : "", resp.body.len, out, err) != 0) {
        rp_error_prefix(err, "container credentials endpoint %s (%s)", origin, var);
        goto out;
    }
    snprintf(out->source, sizeof out->source, "container-endpoint");
    rc = 0;
out:
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    if (resp.body.data)
        explicit_bzero(resp.body.data, resp.body.cap);
    rp__http_response_cleanup(&resp);
    rp__http_client_cleanup(&client);
    return rc;
}

/* ---- the chain ------------------------------------------------------------------------ */

int rp__aws_credentials_resolve(rp__aws_credentials *out, const rp__aws_chain_options *opt, rp_error *err)
{
    int rc = -1;
    chain ch;
    char tried[RP_ERROR_MSG_MAX] = "";
    size_t tl = 0;
#define TRIED(...)                                                                                           \
    do {                                                                                                     \
        if (tl < sizeof tried) {                                                                             \
            int w_ = snprintf(tried + tl, sizeof tried - tl, "%s", tl ? "; " : "");                          \
            tl += w_ > 0 ? (size_t)w_ : 0;                                                                   \
        }                                                                                                    \
        if (tl < sizeof tried) {                                                                             \
            int w_ = snprintf(tried + tl, sizeof tried - tl, __VA_ARGS__);                                   \
            tl += w_ > 0 ? (size_t)w_ : 0;                                                                   \
        }                                                                                                    \
    } while (0)

    memset(out, 0, sizeof *out);
    memset(&ch, 0, sizeof ch);
    if (chain_init(&ch, opt, err) != 0)
        goto out;
    /* As botocore (ProfileNotFound): a profile named explicitly must exist,
     * even when the environment has credentials.  Otherwise the files are
     * read only when the environment has none. */
    bool loaded = false;
    if (ch.explicit_profile) {
        if (chain_load(&ch, err) != 0 || chain_check_profile(&ch, err) != 0)
            goto out;
        loaded = true;
    }

    /* 1. The environment (not when the options name a profile). */
    if (ch.from_options) {
        TRIED("environment (skipped: profile given)");
    } else if (env_nonempty("AWS_ACCESS_KEY_ID")) {
        const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
        if (!sk) {
            rp_error_set(err, RP_ERR_INVALID,
                         "partial credentials in the environment: AWS_ACCESS_KEY_ID is set but "
                         "AWS_SECRET_ACCESS_KEY is not");
            goto out;
        }
        const char *tok = env_nonempty("AWS_SECURITY_TOKEN");
        if (!tok)
            tok = env_nonempty("AWS_SESSION_TOKEN");
        if (set_all(out, getenv("AWS_ACCESS_KEY_ID"), sk, tok, "the environment", err) != 0)
            goto out;
        const char *exp = env_nonempty("AWS_CREDENTIAL_EXPIRATION");
        if (exp && rp__aws_parse_time(exp, strlen(exp), &out->expiration) != 0) {
            rp_error_set(err, RP_ERR_INVALID, "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time");
            goto out;
        }
        snprintf(out->source, sizeof out->source, "environment");
        rc = 0;
        goto out;
    } else {
        TRIED("environment (AWS_ACCESS_KEY_ID unset)");
    }

    /* 2 and 3. The shared files. */
    if (!loaded && chain_load(&ch, err) != 0)
        goto out;
    bool found = false;
    if (!ch.cred) {
        TRIED("%s (no such file)", ch.cred_path);
    } else if (!rp__ini_has_section(ch.cred, ch.profile)) {
        TRIED("%s (no [%.64s])", ch.cred_path, ch.profile);
    } else {
        if (creds_from_section(ch.cred, ch.profile, out, &found, err) != 0)
            goto out;
        if (found) {
            snprintf(out->source, sizeof out->source, "shared-credentials-file");
            rc = 0;
            goto out;
        }
        TRIED("%s ([%.64s] has no aws_access_key_id)", ch.cred_path, ch.profile);
    }
    if (!ch.conf) {
        TRIED("%s (no such file)", ch.conf_path);
    } else if (!ch.conf_section) {
        if (strcmp(ch.profile, "default") == 0)
            TRIED("%s (no [default])", ch.conf_path);
        else
            TRIED("%s (no [profile %.64s])", ch.conf_path, ch.profile);
    } else {
        if (creds_from_section(ch.conf, ch.conf_section, out, &found, err) != 0)
            goto out;
        if (found) {
            snprintf(out->source, sizeof out->source, "config-file");
            rc = 0;
            goto out;
        }
        TRIED("%s ([%.64s] has no aws_access_key_id)", ch.conf_path, ch.conf_section);
    }

    /* 4. The container endpoint. */
    const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel || full) {
        char url[PATH_CAP];
        if (rel && (size_t)snprintf(url, sizeof url, "http://" ECS_HOST "%s", rel) >= sizeof url) {
            rp_error_set(err, RP_ERR_LIMIT, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
            goto out;
        }
        const char *var =
            rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI";
        if (fetch_container(out, opt, var, rel ? url : full, err) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    TRIED("container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset)");
    rp_error_set(err, RP_ERR_NOT_FOUND, "no AWS credentials found (profile %.64s); tried: %s", ch.profile,
                 tried);
out:
#undef TRIED
    if (rc == 0 && rp_log_enabled(RP_LOG_DEBUG))
        rp_log(RP_LOG_DEBUG, "AWS credentials resolved", "source", out->source, "profile", ch.profile, NULL);
    if (rc != 0)
        rp__aws_credentials_clear(out);
    chain_cleanup(&ch);
    return rc;
}

/* botocore's validate_region_name. */
static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

static int put_region(char *out, size_t cap, const char *r, const char *from, rp_error *err)
{
    if (!region_ok(r)) {
        char shown[80];
        size_t k = 0;
        for (const char *p = r; *p && k + 1 < sizeof shown; p++)
            shown[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        shown[k] = '\0';
        return rp_error_set(err, RP_ERR_INVALID, "region '%s' (%s) is not a valid region name", shown, from);
    }
    if (strlen(r) >= cap)
        return rp_error_set(err, RP_ERR_LIMIT, "region name longer than %zu bytes", cap - 1);
    memcpy(out, r, strlen(r) + 1);
    return 0;
}

const char *rp__aws_endpoint_from_env(const char *service, const char **from)
{
    static __thread char name[64];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", service);
    const char *v = env_nonempty(name);
    if (v) {
        *from = name;
        return v;
    }
    *from = "AWS_ENDPOINT_URL";
    return env_nonempty("AWS_ENDPOINT_URL");
}

int rp__aws_max_attempts_from_env(unsigned *out, rp_error *err)
{
    *out = 0;
    const char *ma = env_nonempty("AWS_MAX_ATTEMPTS");
    if (!ma)
        return 0;
    char *end;
    long v = strtol(ma, &end, 10);
    if (*end || v < 1 || v > 100)
        return rp_error_set(err, RP_ERR_INVALID, "AWS_MAX_ATTEMPTS must be an integer from 1 to 100");
    *out = (unsigned)v;
    return 0;
}

int rp__aws_region_resolve(char *out, size_t cap, const rp__aws_chain_options *opt, rp_error *err)
{
    int rc = -1;
    chain ch;
    memset(&ch, 0, sizeof ch);
    if (cap)
        out[0] = '\0';
    const char *r = env_nonempty("AWS_REGION");
    if (r) {
        rc = put_region(out, cap, r, "AWS_REGION", err);
        goto out;
    }
    if ((r = env_nonempty("AWS_DEFAULT_REGION"))) {
        rc = put_region(out, cap, r, "AWS_DEFAULT_REGION", err);
        goto out;
    }
    if (chain_init(&ch, opt, err) != 0 || chain_load(&ch, err) != 0 || chain_check_profile(&ch, err) != 0)
        goto out;
    /* The credentials file's value wins, as in botocore's merged profile map. */
    const rp__ini *files[2] = {ch.cred, ch.conf};
    const char *sections[2] = {ch.cred && rp__ini_has_section(ch.cred, ch.profile) ? ch.profile : NULL,
                               ch.conf_section};
    for (int i = 0; i < 2; i++) {
        if (!files[i] || !sections[i])
            continue;
        if (section_value(files[i], sections[i], "region", &r, err) != 0)
            goto out;
        if (r && *r) {
            char from[PATH_CAP + 80];
            snprintf(from, sizeof from, "%s [%.64s]", rp__ini_path(files[i]), sections[i]);
            rc = put_region(out, cap, r, from, err);
            goto out;
        }
    }
    rp_error_set(err, RP_ERR_NOT_FOUND,
                 "no AWS region: AWS_REGION and AWS_DEFAULT_REGION are unset and profile %.64s has "
                 "no region in %s or %s",
                 ch.profile, ch.conf_path, ch.cred_path);
out:
    chain_cleanup(&ch);
    return rc;
}
