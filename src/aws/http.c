/* The HTTP client over libcurl easy handles, the retry policy, and the
 * reading of AWS error answers (see http.h).
 *
 * libcurl is loaded with dlopen("libcurl.so.4") on the first request, not
 * linked: linking it costs every start of the program about 5 ms of
 * dynamic loading (libcurl brings about 30 more libraries), and most runs never
 * make an HTTP request.  Only its headers are used at build time (types and
 * constants); the functions come from the table below. */
#include "aws/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/dl.h"
#include "common/json.h"
#include "ridepred/log.h"

#ifndef RIDEPRED_VERSION
#define RIDEPRED_VERSION "0.1.0"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_MAX_RESPONSE_BYTES ((size_t)16 * 1024 * 1024)
#define HEADER_LINE_MAX ((size_t)64 * 1024)

/* ---- responses ------------------------------------------------------------ */

void rp__http_response_init(rp__http_response *r, size_t max_body_bytes)
{
    r->status = 0;
    rp__buf_init(&r->headers, RP_HTTP_HEADERS_MAX_BYTES);
    rp__buf_init(&r->body, max_body_bytes);
}

void rp__http_response_reset(rp__http_response *r)
{
    r->status = 0;
    rp__buf_reset(&r->headers);
    rp__buf_reset(&r->body);
}

void rp__http_response_cleanup(rp__http_response *r)
{
    rp__buf_cleanup(&r->headers);
    rp__buf_cleanup(&r->body);
    r->status = 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool rp__http_response_header(const rp__http_response *r, const char *name, const char **value, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = r->headers.data, *end = p ? p + r->headers.len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && (size_t)(colon - p) == nlen && strncasecmp(p, name, nlen) == 0) {
            const char *vb = colon + 1, *ve = le;
            while (vb < ve && is_blank(*vb))
                vb++;
            while (ve > vb && (is_blank(ve[-1]) || ve[-1] == '\r'))
                ve--;
            *value = vb;
            *len = (size_t)(ve - vb);
            return true;
        }
        p = nl ? nl + 1 : end;
    }
    return false;
}

/* ---- URLs ------------------------------------------------------------------- */

int rp__http_url_parse(const char *url, rp__http_url *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    for (const unsigned char *q = (const unsigned char *)url; *q; q++)
        if (*q <= 0x20 || *q == 0x7f)
            return rp_error_set(err, RP_ERR_INVALID, "URL contains a blank or control character");
    const char *sep = strstr(url, "://");
    if (!sep)
        return rp_error_set(err, RP_ERR_INVALID, "URL without a scheme");
    size_t sl = (size_t)(sep - url);
    if (!((sl == 4 && strncasecmp(url, "http", 4) == 0) || (sl == 5 && strncasecmp(url, "https", 5) == 0)))
        return rp_error_set(err, RP_ERR_INVALID, "URL scheme is not http or https");
    out->scheme = url;
    out->scheme_len = sl;
    const char *auth = sep + 3, *ae = auth + strcspn(auth, "/?#");
    /* Python's _hostinfo: user info up to the last '@'; "[v6]" or a name up
     * to the first ':'; the port after it. */
    for (const char *q = auth; q < ae; q++)
        if (*q == '@')
            auth = q + 1;
    const char *port = NULL;
    if (auth < ae && *auth == '[') {
        const char *close = memchr(auth, ']', (size_t)(ae - auth));
        if (!close)
            return rp_error_set(err, RP_ERR_INVALID, "URL with an unclosed '[' in its host");
        out->host = auth;
        out->host_len = (size_t)(close + 1 - auth);
        const char *colon = memchr(close, ':', (size_t)(ae - close));
        if (colon)
            port = colon + 1;
    } else {
        const char *colon = memchr(auth, ':', (size_t)(ae - auth));
        out->host = auth;
        out->host_len = (size_t)((colon ? colon : ae) - auth);
        if (colon)
            port = colon + 1;
    }
    if (out->host_len == 0 || (out->host[0] == '[' && out->host_len <= 2))
        return rp_error_set(err, RP_ERR_INVALID, "URL without a host");
    if (port && port < ae) {
        long v = 0;
        for (const char *q = port; q < ae; q++) {
            if (*q < '0' || *q > '9' || v > 65535)
                return rp_error_set(err, RP_ERR_INVALID, "URL port is not a number in 0-65535");
            v = v * 10 + (*q - '0');
        }
        if (v > 65535)
            return rp_error_set(err, RP_ERR_INVALID, "URL port is not a number in 0-65535");
        out->port = (int)v;
    }
    const char *p = ae, *pe = p + strcspn(p, "?#");
    out->path = p;
    out->path_len = (size_t)(pe - p);
    if (*pe == '?') {
        out->query = pe + 1;
        out->query_len = strcspn(pe + 1, "#");
    } else {
        out->query = "";
    }
    return 0;
}

bool rp__http_url_is_https(const rp__http_url *u)
{
    return u->scheme_len == 5;
}

bool rp__http_url_is_loopback(const rp__http_url *u)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (u->host_len == strlen(names[i]) && !strncasecmp(u->host, names[i], u->host_len))
            return true;
    return u->host_len > 4 && !strncmp(u->host, "127.", 4);
}

/* Codes from botocore's standard retry mode (retries/standard.py: the
 * throttling and transient error codes), matched as suffixes. */
static const char *const retriable_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "ServiceUnavailable",
};

bool rp__aws_error_is_retriable(const char *code, size_t len)
{
    for (size_t i = 0; i < sizeof retriable_codes / sizeof retriable_codes[0]; i++) {
        size_t n = strlen(retriable_codes[i]);
        if (len >= n && memcmp(code + len - n, retriable_codes[i], n) == 0)
            return true;
    }
    return false;
}

/* ---- secrets kept out of error messages -------------------------------------- */

#define REDACTED "[redacted]"

/* True when a key (a header or field name) names a secret: it contains
 * auth, token, secret, passw, signature, credential, cookie or session, or
 * ends in "key" (case-insensitive). */
static bool secret_name(const char *w, size_t n)
{
    static const char *const parts[] = {"auth",      "token",      "secret", "passw",
                                        "signature", "credential", "cookie", "session"};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        size_t pl = strlen(parts[p]);
        for (size_t i = 0; i + pl <= n; i++)
            if (strncasecmp(w + i, parts[p], pl) == 0)
                return true;
    }
    return n >= 3 && strncasecmp(w + n - 3, "key", 3) == 0;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

typedef struct sink {
    char *o;
    size_t cap, len;
} sink;

/* One byte out, printable ASCII only ('?' for the rest), cut at cap - 1. */
static void sink_put(sink *k, char c)
{
    if (k->len + 1 < k->cap)
        k->o[k->len++] = ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) ? c : '?';
}

static void sink_lit(sink *k, const char *s)
{
    while (*s)
        sink_put(k, *s++);
}

/* Copies s[0..n) into out (cap bytes) as printable ASCII ('?' for other
 * bytes), with what looks like a secret replaced by "[redacted]": the value
 * after a key that names one (secret_name) and ':' or '=' (a header echoed
 * back, "Authorization: Bearer x", "\"Token\": \"x\"", "password=x", a SigV4
 * "Credential=..., Signature=..."): to its closing quote, else to a line
 * break, ',', ';', '&', '}' or a quote; and the word after "Bearer" or
 * "Basic".  Error bodies can echo the request (an endpoint that reflects
 * its headers): their text reaches logs only through here. */
static void copy_printable(char *out, size_t cap, const char *s, size_t n)
{
    sink k = {out, cap, 0};
    size_t i = 0;
    while (i < n) {
        if (!word_char(s[i]) || (i > 0 && word_char(s[i - 1]))) {
            sink_put(&k, s[i++]);
            continue;
        }
        size_t w = i;
        while (i < n && word_char(s[i]))
            sink_put(&k, s[i++]);
        size_t wl = i - w;
        if (secret_name(s + w, wl)) {
            size_t j = i;
            if (j < n && (s[j] == '"' || s[j] == '\''))
                j++;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j >= n || (s[j] != ':' && s[j] != '='))
                continue;
            for (j++; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
                ;
            while (i < j)
                sink_put(&k, s[i++]);
            if (i < n && (s[i] == '"' || s[i] == '\'')) {
                char q = s[i++];
                sink_put(&k, q);
                while (i < n && s[i] != q)
                    i++;
                sink_lit(&k, REDACTED);
                if (i < n)
                    sink_put(&k, s[i++]);
            } else {
                size_t v = i;
                while (i < n && !strchr("\r\n,;&}\"'", s[i]))
                    i++;
                if (i > v)
                    sink_lit(&k, REDACTED);
            }
        } else if (((wl == 6 && strncasecmp(s + w, "Bearer", 6) == 0) ||
                    (wl == 5 && strncasecmp(s + w, "Basic", 5) == 0)) &&
                   i + 1 < n && s[i] == ' ' && !strchr(" \t\r\n\"',;", s[i + 1])) {
            sink_put(&k, s[i++]);
            while (i < n && !strchr(" \t\r\n\"',;", s[i]))
                i++;
            sink_lit(&k, REDACTED);
        }
    }
    out[k.len] = '\0';
}

/* Replaces every copy of secret (8 bytes or more) in the string s (cap
 * bytes) by "[redacted]", and a copy cut short at its end (4 bytes or more
 * of the secret's beginning); cut at cap - 1 bytes. */
static void redact_value(char *s, size_t cap, const char *secret)
{
    size_t sl = strlen(secret), n = strlen(s);
    if (sl < 8)
        return;
    char tmp[512];
    sink k = {tmp, cap < sizeof tmp ? cap : sizeof tmp, 0};
    for (size_t i = 0; i < n;) {
        size_t rest = n - i;
        if (rest >= sl ? memcmp(s + i, secret, sl) == 0 : rest >= 4 && memcmp(s + i, secret, rest) == 0) {
            sink_lit(&k, REDACTED);
            i += rest >= sl ? sl : rest;
            continue;
        }
        sink_put(&k, s[i++]);
    }
    memcpy(s, tmp, k.len);
    s[k.len] = '\0';
}

static void copy_json_string(char *out, size_t cap, const rp__json_value *v)
{
    char tmp[1024];
    if (v->len <= sizeof tmp) {
        size_t n = rp__json_str_decode(v, tmp);
        copy_printable(out, cap, tmp, n);
    } else {
        copy_printable(out, cap, v->ptr, v->len);
    }
}

/* Reads "__type", "code"/"Code" and "message"/"Message" of a top-level JSON
 * object.  Returns true when the body is a JSON object. */
static bool parse_json_error(const char *body, size_t len, rp__aws_error_info *out)
{
    rp__json_reader r;
    rp__json_value v, k;
    char code_alt[sizeof out->code] = "", msg_alt[sizeof out->message] = "";
    rp__json_init(&r, body, len, 32);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return false;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return false;
        if (v.type == RP_JSON_STRING) {
            if (rp__json_str_eq(&k, "__type", 6))
                copy_json_string(out->code, sizeof out->code, &v);
            else if (rp__json_str_eq(&k, "code", 4) || rp__json_str_eq(&k, "Code", 4))
                copy_json_string(code_alt, sizeof code_alt, &v);
            else if (rp__json_str_eq(&k, "message", 7))
                copy_json_string(out->message, sizeof out->message, &v);
            else if (rp__json_str_eq(&k, "Message", 7))
                copy_json_string(msg_alt, sizeof msg_alt, &v);
        } else if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(&r, &v) < 0) {
            return false;
        }
    }
    if (rc < 0)
        return false;
    if (!out->code[0])
        memcpy(out->code, code_alt, sizeof code_alt);
    if (!out->message[0])
        memcpy(out->message, msg_alt, sizeof msg_alt);
    /* "com.amazonaws.kinesis.v20131202#ResourceNotFoundException" */
    char *hash = strrchr(out->code, '#');
    if (hash)
        memmove(out->code, hash + 1, strlen(hash + 1) + 1);
    return true;
}

static bool xml_element(const char *body, size_t len, const char *open, const char *close, char *out,
                        size_t cap)
{
    size_t ol = strlen(open), cl = strlen(close);
    for (size_t i = 0; i + ol <= len; i++) {
        if (memcmp(body + i, open, ol) != 0)
            continue;
        const char *b = body + i + ol, *end = body + len;
        for (const char *q = b; q + cl <= end; q++) {
            if (memcmp(q, close, cl) == 0) {
                copy_printable(out, cap, b, (size_t)(q - b));
                return true;
            }
        }
        return false;
    }
    return false;
}

void rp__aws_error_parse(const rp__http_response *resp, rp__aws_error_info *out)
{
    out->code[0] = out->message[0] = '\0';
    const char *body = resp->body.data ? resp->body.data : "";
    size_t len = resp->body.data ? resp->body.len : 0;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i < len && body[i] == '{') {
        parse_json_error(body, len, out);
    } else if (i < len && body[i] == '<') {
        xml_element(body, len, "<Code>", "</Code>", out->code, sizeof out->code);
        xml_element(body, len, "<Message>", "</Message>", out->message, sizeof out->message);
    }
    const char *h;
    size_t hl;
    if (!out->code[0] && rp__http_response_header(resp, "x-amzn-ErrorType", &h, &hl)) {
        const char *colon = memchr(h, ':', hl);
        copy_printable(out->code, sizeof out->code, h, colon ? (size_t)(colon - h) : hl);
    }
}

bool rp__http_response_is_retriable(const rp__http_response *resp)
{
    long s = resp->status;
    if (s >= 200 && s < 400)
        return false;
    if (s == 429 || (s >= 500 && s <= 599 && s != 501))
        return true;
    rp__aws_error_info info;
    rp__aws_error_parse(resp, &info);
    return info.code[0] && rp__aws_error_is_retriable(info.code, strlen(info.code));
}

/* ---- libcurl, loaded on first use ---------------------------------------------- */

#define RP_LIBCURL_SONAME "libcurl.so.4"

/* The libcurl functions this file calls, resolved with dlsym. */
typedef struct curl_api {
    CURLcode (*global_init)(long flags);
    const char *(*easy_strerror)(CURLcode code);
    CURL *(*easy_init)(void);
    void (*easy_reset)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} curl_api;

static curl_api lc;

static rp__dl_once curl_lib = RP_DL_ONCE_INIT;

static void curl_global_setup(void)
{
    static const char *const sonames[] = {RP_LIBCURL_SONAME, NULL};
    static const rp__dl_sym syms[] = {
        {"curl_global_init", offsetof(curl_api, global_init)},
        {"curl_easy_strerror", offsetof(curl_api, easy_strerror)},
        {"curl_easy_init", offsetof(curl_api, easy_init)},
        {"curl_easy_reset", offsetof(curl_api, easy_reset)},
        {"curl_easy_setopt", offsetof(curl_api, easy_setopt)},
        {"curl_easy_perform", offsetof(curl_api, easy_perform)},
        {"curl_easy_getinfo", offsetof(curl_api, easy_getinfo)},
        {"curl_easy_cleanup", offsetof(curl_api, easy_cleanup)},
        {"curl_slist_append", offsetof(curl_api, slist_append)},
        {"curl_slist_free_all", offsetof(curl_api, slist_free_all)},
    };
    if (!rp__dl_once_load(&curl_lib, "libcurl", sonames, syms, sizeof syms / sizeof syms[0], &lc,
                          "libcurl4 (Debian: apt-get install libcurl4)"))
        return;
    CURLcode rc = lc.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) /* the library stays loaded: libcurl may hold on to it */
        rp__dl_once_fail(&curl_lib, "libcurl initialisation failed: %s", lc.easy_strerror(rc));
}

/* Loads libcurl once per process.  Returns 0, or -1 with err set. */
static int curl_load(rp_error *err)
{
    return rp__dl_once_run(&curl_lib, curl_global_setup, err);
}

/* ---- libcurl transport -------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    rp__http_response *r = ud;
    size_t len = size * n;
    return rp__buf_append(&r->body, p, len) == 0 ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    rp__http_response *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, say): keep only its headers. */
        rp__buf_reset(&r->headers);
        return len;
    }
    return rp__buf_append(&r->headers, p, len) == 0 ? len : 0;
}

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!token_char((unsigned char)*s))
            return false;
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

static bool curl_retriable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
    }
}

static bool has_header(const rp__http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return true;
    return false;
}

static int curl_transport(void *ctx, rp__http_client *c, const rp__http_request *req, rp__http_response *resp,
                          rp_error *err)
{
    (void)ctx;
    int rc = -1;
    struct curl_slist *list = NULL;
    rp__buf line;
    rp__buf_init(&line, HEADER_LINE_MAX);
    char errbuf[CURL_ERROR_SIZE] = "";

    if (curl_load(err) != 0)
        goto out;
    if (!c->curl && !(c->curl = lc.easy_init())) {
        rp_error_set(err, RP_ERR_NOMEM, "cannot create a libcurl handle");
        goto out;
    }
    CURL *h = c->curl;
    lc.easy_reset(h); /* keeps the connection cache */

    for (size_t i = 0; i < req->n_headers; i++) {
        const rp__http_header *hd = &req->headers[i];
        if (!header_name_ok(hd->name) || !header_value_ok(hd->value)) {
            rp_error_set(err, RP_ERR_INVALID, "invalid HTTP header name or value (header %.64s)",
                         header_name_ok(hd->name) ? hd->name : "?");
            goto out;
        }
        rp__buf_reset(&line);
        /* "Name;" sends an empty header, "Name:" would remove it. */
        if (*hd->value)
            rp__buf_printf(&line, "%s: %s", hd->name, hd->value);
        else
            rp__buf_printf(&line, "%s;", hd->name);
        if (line.failed) {
            rp_error_set(err, RP_ERR_LIMIT, "HTTP header %.64s longer than %zu bytes", hd->name,
                         HEADER_LINE_MAX);
            goto out;
        }
        struct curl_slist *l = lc.slist_append(list, line.data);
        if (!l) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory building HTTP headers");
            goto out;
        }
        list = l;
    }
    /* No 100-continue round trip; no form Content-Type on bodies. */
    static const char *const suppress[][2] = {{"Expect", "Expect:"}, {"Content-Type", "Content-Type:"}};
    for (size_t i = 0; i < 2; i++) {
        if (has_header(req, suppress[i][0]))
            continue;
        struct curl_slist *l = lc.slist_append(list, suppress[i][1]);
        if (!l) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory building HTTP headers");
            goto out;
        }
        list = l;
    }

    lc.easy_setopt(h, CURLOPT_URL, req->url);
    /* Send the path as given: "/../" and "/./" are part of S3 keys, and
     * the path sent must be the path signed. */
    lc.easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    lc.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opt.connect_timeout_ms);
    lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->opt.timeout_ms);
    lc.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    lc.easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    lc.easy_setopt(h, CURLOPT_HTTPHEADER, list);
    lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    lc.easy_setopt(h, CURLOPT_WRITEDATA, resp);
    lc.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    lc.easy_setopt(h, CURLOPT_HEADERDATA, resp);
    lc.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->opt.no_proxy)
        lc.easy_setopt(h, CURLOPT_NOPROXY, "*");
    const char *m = req->method;
    if (strcmp(m, "GET") == 0 && req->body_len == 0) {
        lc.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        lc.easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "DELETE") == 0 && req->body_len == 0) {
        lc.easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else {
        lc.easy_setopt(h, CURLOPT_POSTFIELDS, req->body_len ? (const char *)req->body : "");
        lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(m, "POST") != 0)
            lc.easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }

    CURLcode cr = lc.easy_perform(h);
    long status = 0;
    lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    /* Do not keep pointers to this call's stack in the handle. */
    lc.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    lc.easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (cr != CURLE_OK) {
        if (cr == CURLE_WRITE_ERROR && (resp->body.toobig || resp->headers.toobig)) {
            rp_error_set(err, RP_ERR_LIMIT, "HTTP response %s larger than %zu bytes",
                         resp->body.toobig ? "body" : "headers",
                         resp->body.toobig ? resp->body.max : resp->headers.max);
        } else if (cr == CURLE_WRITE_ERROR) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory reading an HTTP response");
        } else {
            rp_error_set(err,
                         cr == CURLE_URL_MALFORMAT || cr == CURLE_UNSUPPORTED_PROTOCOL ? RP_ERR_INVALID
                                                                                       : RP_ERR_IO,
                         "%s", errbuf[0] ? errbuf : lc.easy_strerror(cr));
            if (err)
                err->retriable = curl_retriable(cr);
        }
        resp->status = 0;
        goto out;
    }
    resp->status = status;
    rc = 0;
out:
    if (list)
        lc.slist_free_all(list);
    rp__buf_cleanup(&line);
    return rc;
}

/* ---- default sleep and random --------------------------------------------------- */

/* ---- client ------------------------------------------------------------------------- */

int rp__http_client_init(rp__http_client *c, const rp__http_options *opt, rp_error *err)
{
    (void)err;
    memset(c, 0, sizeof *c);
    if (opt)
        c->opt = *opt;
    if (!c->opt.connect_timeout_ms)
        c->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (!c->opt.timeout_ms)
        c->opt.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!c->opt.max_response_bytes)
        c->opt.max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
    if (!c->opt.retry.max_attempts)
        c->opt.retry = RP_RETRY_POLICY_DEFAULT;
    snprintf(c->user_agent, sizeof c->user_agent, "%s",
             opt && opt->user_agent ? opt->user_agent : "ridepred/" RIDEPRED_VERSION);
    c->opt.user_agent = NULL; /* copied into c->user_agent */
    c->transport = curl_transport;
    c->sleep_ms = rp__retry_sleep;
    c->random = rp__retry_random;
    c->random_ctx = &c->rng;
    c->rng = rp__retry_seed(c);
    return 0;
}

void rp__http_client_cleanup(rp__http_client *c)
{
    if (c->curl)
        lc.easy_cleanup(c->curl);
    c->curl = NULL;
}

int rp__http_send(rp__http_client *c, const rp__http_request *req, rp__http_response *resp, rp_error *err)
{
    if (!req->method || !req->url)
        return rp_error_set(err, RP_ERR_INVALID, "HTTP request without a method or URL");
    /* libcurl would percent-encode raw non-ASCII bytes on the way out, so
     * the path sent would not be the path signed. */
    for (const unsigned char *p = (const unsigned char *)req->url; *p; p++)
        if (*p >= 0x80)
            return rp_error_set(err, RP_ERR_INVALID,
                                "URL with raw non-ASCII bytes: percent-encode it (rp__sigv4_uri_encode)");
    rp__http_response_reset(resp);
    rp_error_clear(err);
    return c->transport(c->transport_ctx, c, req, resp, err);
}

static rp_code status_code(long status, const char *aws_code)
{
    if (status == 404 || strstr(aws_code, "NotFound") || strncmp(aws_code, "NoSuch", 6) == 0)
        return RP_ERR_NOT_FOUND;
    if (status == 413)
        return RP_ERR_LIMIT;
    if (status >= 300 && status < 500) /* a redirect is a wrong endpoint or region */
        return RP_ERR_INVALID;
    return RP_ERR_IO;
}

int rp__http_execute(rp__http_client *c, const rp__http_request *req, rp__http_prepare_fn prepare,
                     void *prepare_ctx, rp__http_response *resp, rp_error *err)
{
    int rc = -1;
    rp__http_header *all = NULL;
    rp_error local;
    if (!err)
        err = &local;
    rp_error_clear(err);
    unsigned max = c->opt.retry.max_attempts ? c->opt.retry.max_attempts : 1;
    c->last_attempts = 0;
    c->last_slept_ms = 0;
    all = malloc((req->n_headers + RP_HTTP_EXTRA_HEADERS_MAX) * sizeof *all);
    if (!all) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory sending an HTTP request");
        goto out;
    }
    if (req->n_headers)
        memcpy(all, req->headers, req->n_headers * sizeof *all);
    rp__http_request r = *req;
    r.headers = all;
    bool http_failure = false;
    for (unsigned attempt = 0; attempt < max; attempt++) {
        if (attempt > 0) {
            uint32_t ms = rp__retry_delay_ms(&c->opt.retry, attempt, c->random(c->random_ctx));
            if (rp_log_enabled(RP_LOG_DEBUG)) {
                char a[16], d[16];
                snprintf(a, sizeof a, "%u", attempt + 1);
                snprintf(d, sizeof d, "%u", (unsigned)ms);
                rp_log(RP_LOG_DEBUG, "retrying HTTP request", "attempt", a, "delay_ms", d, "reason", err->msg,
                       NULL);
            }
            c->sleep_ms(c->sleep_ctx, ms);
            c->last_slept_ms += ms;
        }
        r.n_headers = req->n_headers;
        if (prepare) {
            rp__http_extra_headers extra = {.n = 0};
            if (prepare(prepare_ctx, req, attempt, &extra, err) != 0)
                goto out;
            if (extra.n > RP_HTTP_EXTRA_HEADERS_MAX)
                extra.n = RP_HTTP_EXTRA_HEADERS_MAX;
            memcpy(all + req->n_headers, extra.h, extra.n * sizeof *all);
            r.n_headers += extra.n;
        }
        c->last_attempts = attempt + 1;
        http_failure = false;
        if (rp__http_send(c, &r, resp, err) != 0) {
            if (!err->retriable)
                goto out;
            continue;
        }
        if ((resp->status >= 200 && resp->status < 300) || resp->status == 304) {
            rc = 0;
            goto out;
        }
        http_failure = true;
        rp__aws_error_info info;
        rp__aws_error_parse(resp, &info);
        /* An answer that quotes a secret the request carried (its
         * Authorization header, a session token) says it without it. */
        for (size_t h = 0; h < r.n_headers; h++) {
            if (!all[h].name || !all[h].value || !secret_name(all[h].name, strlen(all[h].name)))
                continue;
            redact_value(info.code, sizeof info.code, all[h].value);
            redact_value(info.message, sizeof info.message, all[h].value);
        }
        rp_error_set(err, status_code(resp->status, info.code), "HTTP %ld%s%s%s%s", resp->status,
                     info.code[0] ? " " : "", info.code, info.message[0] ? ": " : "", info.message);
        err->retriable = rp__http_response_is_retriable(resp);
        if (!err->retriable)
            break;
    }
    /* Attempts ran out, or a failure not worth retrying. */
    if (c->last_attempts > 1 || http_failure) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (%u attempt%s)", c->last_attempts,
                 c->last_attempts == 1 ? "" : "s");
    }
out:
    free(all);
    return rc;
}
