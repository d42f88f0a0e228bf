/* AWS Signature Version 4 (see sigv4.h for the rules and why we sign
 * ourselves).  The steps follow botocore.auth.SigV4Auth.add_auth:
 * canonical request, string to sign, signing key, signature. */
#include "aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/crypto.h"
#include "aws/ini.h"

#define URL_MAX ((size_t)64 * 1024)
#define HEADERS_MAX 128
#define CANONICAL_MAX ((size_t)1024 * 1024)
#define NAME_MAX_LEN 64

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sha256(const void *data, size_t len, unsigned char out[32], rp_error *err)
{
    const rp__crypto *c = rp__crypto_get(err);
    if (!c)
        return -1;
    unsigned int n = 0;
    if (c->EVP_Digest(data, len, out, &n, c->EVP_sha256(), NULL) != 1 || n != 32)
        return rp_error_set(err, RP_ERR_INTERNAL, "SHA-256 failed (libcrypto)");
    return 0;
}

static int hmac_sha256(const rp__crypto *c, const void *key, size_t klen, const void *data, size_t len,
                       unsigned char out[32])
{
    size_t n = 0;
    return c->EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, data, len, out, 32, &n) && n == 32
               ? 0
               : -1;
}

int rp__sigv4_sha256_hex(const void *data, size_t len, char out[65], rp_error *err)
{
    unsigned char md[32];
    if (sha256(data ? data : "", len, md, err) != 0)
        return -1;
    to_hex(md, 32, out);
    return 0;
}

void rp__sigv4_uri_encode(rp__buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char up[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            rp__buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', up[c >> 4], up[c & 15]};
            rp__buf_append(b, e, 3);
        }
    }
}

/* ---- pieces of the canonical request ----------------------------------------- */

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool scope_part_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return n > 0 && n <= NAME_MAX_LEN;
}

/* botocore's normalize_url_path + quote(..., safe='/~'). */
static void canonical_path(rp__buf *b, const char *path, size_t len)
{
    if (len == 0) {
        rp__buf_putc(b, '/');
        return;
    }
    /* remove_dot_segments, which also drops empty segments.  The kept
     * segments are at most len/2 + 1. */
    size_t cap = len / 2 + 2, n = 0;
    struct seg {
        const char *p;
        size_t n;
    } *segs = malloc(cap * sizeof *segs);
    if (!segs) {
        b->failed = true;
        return;
    }
    const char *p = path, *end = path + len;
    while (p <= end) {
        const char *s = memchr(p, '/', (size_t)(end - p));
        const char *se = s ? s : end;
        size_t sl = (size_t)(se - p);
        if (sl == 2 && p[0] == '.' && p[1] == '.') {
            if (n)
                n--;
        } else if (sl > 0 && !(sl == 1 && p[0] == '.')) {
            segs[n].p = p;
            segs[n].n = sl;
            n++;
        }
        if (!s)
            break;
        p = s + 1;
    }
    if (path[0] == '/')
        rp__buf_putc(b, '/');
    for (size_t i = 0; i < n; i++) {
        if (i)
            rp__buf_putc(b, '/');
        rp__sigv4_uri_encode(b, segs[i].p, segs[i].n, true);
    }
    if (path[len - 1] == '/' && n)
        rp__buf_putc(b, '/');
    free(segs);
}

typedef struct qpair {
    const char *k, *v;
    size_t kn, vn;
} qpair;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = cmp_bytes(x->k, x->kn, y->k, y->kn);
    return c ? c : cmp_bytes(x->v, x->vn, y->v, y->vn);
}

/* botocore's _canonical_query_string_url: split, sort, join; no
 * re-encoding. */
static int canonical_query(rp__buf *b, const char *q, size_t len)
{
    if (len == 0)
        return 0;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += q[i] == '&';
    qpair *pairs = malloc(n * sizeof *pairs);
    if (!pairs)
        return -1;
    const char *p = q, *end = q + len;
    for (size_t i = 0; i < n; i++) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        pairs[i].k = p;
        pairs[i].kn = (size_t)((eq ? eq : pe) - p);
        pairs[i].v = eq ? eq + 1 : pe;
        pairs[i].vn = eq ? (size_t)(pe - eq - 1) : 0;
        p = pe + 1;
    }
    qsort(pairs, n, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            rp__buf_putc(b, '&');
        rp__buf_append(b, pairs[i].k, pairs[i].kn);
        rp__buf_putc(b, '=');
        rp__buf_append(b, pairs[i].v, pairs[i].vn);
    }
    free(pairs);
    return 0;
}

/* Python's ' '.join(value.split()). */
static void trimall(rp__buf *b, const char *v)
{
    const char *p = v, *end = v + strlen(v);
    bool first = true;
    while (p < end) {
        size_t sp;
        while (p < end && (sp = rp__py_space_len(p, end)) > 0)
            p += sp;
        if (p >= end)
            break;
        const char *w = p;
        while (p < end && rp__py_space_len(p, end) == 0)
            p++;
        if (!first)
            rp__buf_putc(b, ' ');
        rp__buf_append(b, w, (size_t)(p - w));
        first = false;
    }
}

typedef struct hdr {
    char name[NAME_MAX_LEN + 1]; /* lower case */
    const char *value;
    size_t order;
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_payload_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 64) {
        bool hex = true;
        for (size_t i = 0; i < n && hex; i++)
            hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
        if (hex)
            return true;
    }
    /* UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ... */
    if (n == 0 || n > 64 || !strchr(s, '-'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* What signing needs besides the canonical request. */
typedef struct sig_ctx {
    char amz_date[17];
    char date[9];
    char payload_hash[80];
    char host[RP_SIGV4_HOST_MAX];
    bool host_given;
    bool add_token;
    bool add_content;
    rp__buf signed_headers;
} sig_ctx;

/* The canonical request (appended to canon, when not NULL) and the string
 * to sign.  presign: query-string auth (SigV4QueryAuth): the caller has put
 * the X-Amz-* parameters in the URL's query, so no X-Amz-Date,
 * X-Amz-Security-Token or X-Amz-Content-SHA256 header is added or signed. */
static int build(const rp__sigv4_request *req, const rp__aws_credentials *creds, bool presign, rp__buf *canon,
                 rp__buf *sts, sig_ctx *cx, rp_error *err)
{
    int rc = -1;
    hdr *hs = NULL;
    rp__buf tmp;
    rp__buf_init(&tmp, CANONICAL_MAX);
    rp__buf_init(&cx->signed_headers, RP_SIGV4_AUTH_MAX);

    if (!req->method || !req->method[0] || !req->url || !req->service || !req->region || !creds) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: method, URL, service, region and credentials are required");
        goto out;
    }
    for (const char *m = req->method; *m; m++) {
        if (!token_char((unsigned char)*m)) {
            rp_error_set(err, RP_ERR_INVALID, "SigV4: invalid HTTP method");
            goto out;
        }
    }
    if (!scope_part_ok(req->service) || !scope_part_ok(req->region)) {
        rp_error_set(err, RP_ERR_INVALID,
                     "SigV4: service and region must be 1-%d characters of A-Z a-z 0-9 - _ .", NAME_MAX_LEN);
        goto out;
    }
    if (!creds->access_key_id[0] || !creds->secret_access_key[0]) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: credentials without an access key id or secret");
        goto out;
    }
    for (const char *k = creds->access_key_id; *k; k++) {
        if ((unsigned char)*k <= 0x20 || *k == '/' || *k == ',' || *k == 0x7f) {
            rp_error_set(err, RP_ERR_INVALID,
                         "SigV4: the access key id holds a blank, '/', ',' or control character");
            goto out;
        }
    }
    if (strlen(req->url) > URL_MAX) {
        rp_error_set(err, RP_ERR_LIMIT, "SigV4: URL longer than %zu bytes", URL_MAX);
        goto out;
    }
    rp__http_url u;
    if (rp__http_url_parse(req->url, &u, err) != 0) {
        rp_error_prefix(err, "SigV4");
        goto out;
    }
    bool s3 = (req->flags & RP_SIGV4_S3) || strcmp(req->service, "s3") == 0;
    bool unsigned_payload = req->payload_hash && strcmp(req->payload_hash, RP_SIGV4_UNSIGNED_PAYLOAD) == 0;
    cx->add_content = !presign && (s3 || (req->flags & RP_SIGV4_CONTENT_SHA256) || unsigned_payload);
    cx->add_token = !presign && creds->session_token[0] != '\0';

    /* The date. */
    struct tm tm;
    time_t t = req->time;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: signing time out of range");
        goto out;
    }
    strftime(cx->amz_date, sizeof cx->amz_date, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(cx->date, cx->amz_date, 8);
    cx->date[8] = '\0';

    /* The headers. */
    size_t n_in = req->n_headers;
    if (n_in > HEADERS_MAX) {
        rp_error_set(err, RP_ERR_LIMIT, "SigV4: more than %d headers", HEADERS_MAX);
        goto out;
    }
    hs = calloc(n_in + 4, sizeof *hs);
    if (!hs) {
        rp_error_set(err, RP_ERR_NOMEM, "SigV4: out of memory");
        goto out;
    }
    size_t n = 0;
    const char *caller_content = NULL;
    cx->host_given = false;
    for (size_t i = 0; i < n_in; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        size_t nl = name ? strlen(name) : 0;
        if (nl == 0 || nl > NAME_MAX_LEN || !value) {
            rp_error_set(err, RP_ERR_INVALID, "SigV4: a header name is empty or longer than %d bytes",
                         NAME_MAX_LEN);
            goto out;
        }
        for (size_t k = 0; k < nl; k++) {
            if (!token_char((unsigned char)name[k])) {
                rp_error_set(err, RP_ERR_INVALID, "SigV4: invalid header name");
                goto out;
            }
            hs[n].name[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] - 'A' + 'a' : name[k]);
        }
        hs[n].name[nl] = '\0';
        if (strpbrk(value, "\r\n")) {
            rp_error_set(err, RP_ERR_INVALID, "SigV4: header %s has a line break in its value", hs[n].name);
            goto out;
        }
        const char *ln = hs[n].name;
        if (!strcmp(ln, "authorization") || !strcmp(ln, "x-amz-date") || !strcmp(ln, "date") ||
            (cx->add_token && !strcmp(ln, "x-amz-security-token")) ||
            (cx->add_content && !strcmp(ln, "x-amz-content-sha256"))) {
            rp_error_set(err, RP_ERR_INVALID, "SigV4: the %s header is the signer's to set", ln);
            goto out;
        }
        if (!strcmp(ln, "x-amz-content-sha256") && !caller_content)
            caller_content = value;
        if (!strcmp(ln, "expect") || !strcmp(ln, "user-agent") || !strcmp(ln, "x-amzn-trace-id"))
            continue; /* botocore's SIGNED_HEADERS_BLACKLIST */
        if (!strcmp(ln, "host")) {
            if (!cx->host_given)
                snprintf(cx->host, sizeof cx->host, "%s", value);
            cx->host_given = true;
        }
        hs[n].value = value;
        hs[n].order = i;
        n++;
    }
    if (!cx->host_given) {
        /* botocore's _host_from_url: lower case, port unless the default. */
        if (u.host_len + 7 > sizeof cx->host) {
            rp_error_set(err, RP_ERR_LIMIT, "SigV4: host name longer than %d bytes", RP_SIGV4_HOST_MAX - 8);
            goto out;
        }
        size_t hl = 0;
        for (size_t k = 0; k < u.host_len; k++) {
            char c = u.host[k];
            if ((unsigned char)c >= 0x80) {
                rp_error_set(err, RP_ERR_INVALID, "SigV4: non-ASCII host name (use its IDNA form)");
                goto out;
            }
            cx->host[hl++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        }
        cx->host[hl] = '\0';
        int def = rp__http_url_is_https(&u) ? 443 : 80;
        if (u.port >= 0 && u.port != def)
            snprintf(cx->host + hl, sizeof cx->host - hl, ":%d", u.port);
        snprintf(hs[n].name, sizeof hs[n].name, "host");
        hs[n].value = cx->host;
        hs[n].order = n_in;
        n++;
    }
    if (!presign) {
        snprintf(hs[n].name, sizeof hs[n].name, "x-amz-date");
        hs[n].value = cx->amz_date;
        hs[n].order = n_in + 1;
        n++;
    }
    if (cx->add_token) {
        snprintf(hs[n].name, sizeof hs[n].name, "x-amz-security-token");
        hs[n].value = creds->session_token;
        hs[n].order = n_in + 2;
        n++;
    }

    /* The payload hash: a caller's x-amz-content-sha256 wins, as in
     * botocore; then the hash given; then SHA-256 of the payload. */
    if (caller_content) {
        snprintf(cx->payload_hash, sizeof cx->payload_hash, "%s", caller_content);
        if (strlen(caller_content) >= sizeof cx->payload_hash) {
            rp_error_set(err, RP_ERR_INVALID, "SigV4: x-amz-content-sha256 header too long");
            goto out;
        }
    } else if (req->payload_hash) {
        if (!is_payload_token(req->payload_hash)) {
            rp_error_set(err, RP_ERR_INVALID,
                         "SigV4: payload hash is neither 64 lower-case hex digits nor a token "
                         "like UNSIGNED-PAYLOAD");
            goto out;
        }
        snprintf(cx->payload_hash, sizeof cx->payload_hash, "%s", req->payload_hash);
    } else if (rp__sigv4_sha256_hex(req->payload, req->payload_len, cx->payload_hash, err) != 0) {
        goto out;
    }
    if (cx->add_content) {
        snprintf(hs[n].name, sizeof hs[n].name, "x-amz-content-sha256");
        hs[n].value = cx->payload_hash;
        hs[n].order = n_in + 3;
        n++;
    }
    qsort(hs, n, sizeof *hs, hdr_cmp);

    /* The canonical request. */
    rp__buf *c = canon ? canon : &tmp;
    size_t c0 = c->len;
    for (const char *m = req->method; *m; m++)
        rp__buf_putc(c, (char)((*m >= 'a' && *m <= 'z') ? *m - 'a' + 'A' : *m));
    rp__buf_putc(c, '\n');
    if (s3) {
        if (u.path_len)
            rp__buf_append(c, u.path, u.path_len);
        else
            rp__buf_putc(c, '/');
    } else {
        canonical_path(c, u.path, u.path_len);
    }
    rp__buf_putc(c, '\n');
    if (canonical_query(c, u.query, u.query_len) != 0) {
        rp_error_set(err, RP_ERR_NOMEM, "SigV4: out of memory");
        goto out;
    }
    rp__buf_putc(c, '\n');
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same) {
            rp__buf_putc(c, ',');
        } else {
            if (i)
                rp__buf_putc(c, '\n');
            rp__buf_puts(c, hs[i].name);
            rp__buf_putc(c, ':');
            if (cx->signed_headers.len)
                rp__buf_putc(&cx->signed_headers, ';');
            rp__buf_puts(&cx->signed_headers, hs[i].name);
        }
        trimall(c, hs[i].value);
    }
    rp__buf_lit(c, "\n\n");
    if (cx->signed_headers.data)
        rp__buf_append(c, cx->signed_headers.data, cx->signed_headers.len);
    rp__buf_putc(c, '\n');
    rp__buf_puts(c, cx->payload_hash);
    if (c->failed || cx->signed_headers.failed) {
        rp_error_set(err, c->toobig || cx->signed_headers.toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                     "SigV4: canonical request too large");
        goto out;
    }

    /* The string to sign. */
    char ch[65];
    if (rp__sigv4_sha256_hex(c->data + c0, c->len - c0, ch, err) != 0)
        goto out;
    rp__buf_printf(sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", cx->amz_date, cx->date,
                   req->region, req->service, ch);
    if (sts->failed) {
        rp_error_set(err, RP_ERR_NOMEM, "SigV4: out of memory");
        goto out;
    }
    rc = 0;
out:
    free(hs);
    rp__buf_cleanup(&tmp);
    return rc;
}

int rp__sigv4_canonical(const rp__sigv4_request *req, const rp__aws_credentials *creds,
                        rp__buf *canonical_request, rp__buf *string_to_sign, rp_error *err)
{
    sig_ctx cx;
    rp__buf sts;
    rp__buf_init(&sts, CANONICAL_MAX);
    int rc = build(req, creds, false, canonical_request, string_to_sign ? string_to_sign : &sts, &cx, err);
    rp__buf_cleanup(&cx.signed_headers);
    rp__buf_cleanup(&sts);
    return rc;
}

/* Builds and signs: the hex signature into sighex, cx filled (the caller
 * cleans cx->signed_headers, also on failure).  The derived keys are wiped. */
static int sign_core(const rp__sigv4_request *req, const rp__aws_credentials *creds, bool presign,
                     rp__buf *canon, sig_ctx *cx, char sighex[65], rp_error *err)
{
    int rc = -1;
    rp__buf sts;
    rp__buf_init(&sts, CANONICAL_MAX);
    unsigned char kdate[32], kregion[32], kservice[32], ksigning[32], sig[32];
    char secret[4 + RP_AWS_SECRET_MAX + 1];
    if (build(req, creds, presign, canon, &sts, cx, err) != 0)
        goto out;
    size_t sl = strnlen(creds->secret_access_key, RP_AWS_SECRET_MAX + 1);
    if (sl > RP_AWS_SECRET_MAX) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: secret access key longer than %d bytes", RP_AWS_SECRET_MAX);
        goto out;
    }
    const rp__crypto *c = rp__crypto_get(err);
    if (!c) {
        rp_error_prefix(err, "SigV4");
        goto out;
    }
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, creds->secret_access_key, sl);
    if (hmac_sha256(c, secret, 4 + sl, cx->date, 8, kdate) != 0 ||
        hmac_sha256(c, kdate, 32, req->region, strlen(req->region), kregion) != 0 ||
        hmac_sha256(c, kregion, 32, req->service, strlen(req->service), kservice) != 0 ||
        hmac_sha256(c, kservice, 32, "aws4_request", 12, ksigning) != 0 ||
        hmac_sha256(c, ksigning, 32, sts.data, sts.len, sig) != 0) {
        rp_error_set(err, RP_ERR_INTERNAL, "SigV4: HMAC-SHA256 failed (libcrypto)");
        goto out;
    }
    to_hex(sig, 32, sighex);
    rc = 0;
out:
    explicit_bzero(secret, sizeof secret);
    explicit_bzero(kdate, sizeof kdate);
    explicit_bzero(kregion, sizeof kregion);
    explicit_bzero(kservice, sizeof kservice);
    explicit_bzero(ksigning, sizeof ksigning);
    rp__buf_cleanup(&sts);
    return rc;
}

int rp__sigv4_sign(const rp__sigv4_request *req, const rp__aws_credentials *creds, rp__sigv4_out *out,
                   rp_error *err)
{
    int rc = -1;
    sig_ctx cx;
    rp__buf_init(&cx.signed_headers, RP_SIGV4_AUTH_MAX);
    char sighex[65];
    memset(out, 0, sizeof *out);
    if (sign_core(req, creds, false, NULL, &cx, sighex, err) != 0)
        goto out;
    int w = snprintf(out->authorization, sizeof out->authorization,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                     creds->access_key_id, cx.date, req->region, req->service,
                     cx.signed_headers.data ? cx.signed_headers.data : "", sighex);
    if (w < 0 || (size_t)w >= sizeof out->authorization) {
        rp_error_set(err, RP_ERR_LIMIT, "SigV4: Authorization header longer than %d bytes",
                     RP_SIGV4_AUTH_MAX - 1);
        goto out;
    }
    memcpy(out->amz_date, cx.amz_date, sizeof out->amz_date);
    snprintf(out->content_sha256, sizeof out->content_sha256, "%s", cx.payload_hash);
    snprintf(out->host, sizeof out->host, "%s", cx.host);
    size_t k = 0;
    out->headers[k++] = (rp__http_header){"Authorization", out->authorization};
    out->headers[k++] = (rp__http_header){"X-Amz-Date", out->amz_date};
    if (cx.add_token)
        out->headers[k++] = (rp__http_header){"X-Amz-Security-Token", creds->session_token};
    if (cx.add_content)
        out->headers[k++] = (rp__http_header){"X-Amz-Content-SHA256", out->content_sha256};
    if (!cx.host_given)
        out->headers[k++] = (rp__http_header){"Host", out->host};
    out->n_headers = k;
    rc = 0;
out:
    rp__buf_cleanup(&cx.signed_headers);
    return rc;
}

/* ---- query-string auth (presigned URLs) ---------------------------------------- */

int rp__sigv4_presign(const rp__sigv4_presign_request *req, const rp__aws_credentials *creds,
                      rp__buf *url_out, rp__buf *canonical_request, rp_error *err)
{
    int rc = -1;
    sig_ctx cx;
    rp__buf_init(&cx.signed_headers, RP_SIGV4_AUTH_MAX);
    rp__buf url;
    rp__buf_init(&url, URL_MAX);
    if (!req->method || !req->url || !req->service || !req->region || !creds) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: method, URL, service, region and credentials are required");
        goto out;
    }
    if (req->expires < 1 || req->expires > RP_SIGV4_PRESIGN_EXPIRES_MAX) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: a presigned URL's expiry must be 1 to %d seconds, not %u",
                     RP_SIGV4_PRESIGN_EXPIRES_MAX, req->expires);
        goto out;
    }
    if (strchr(req->url, '#')) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: a URL to presign must not have a fragment ('#')");
        goto out;
    }
    rp__http_url u;
    if (rp__http_url_parse(req->url, &u, err) != 0) {
        rp_error_prefix(err, "SigV4");
        goto out;
    }
    struct tm tm;
    time_t t = req->time;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: signing time out of range");
        goto out;
    }
    char amz_date[17];
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

    /* The URL up to its query, then the operation's query as given, then
     * the auth parameters in botocore's order. */
    const char *q = strchr(req->url, '?');
    rp__buf_append(&url, req->url, q ? (size_t)(q - req->url) : strlen(req->url));
    if (u.query_len) {
        rp__buf_putc(&url, '?');
        rp__buf_append(&url, u.query, u.query_len);
        rp__buf_putc(&url, '&');
    } else {
        rp__buf_putc(&url, '?');
    }
    char scope[256];
    int sn = snprintf(scope, sizeof scope, "%s/%.8s/%s/%s/aws4_request", creds->access_key_id, amz_date,
                      req->region, req->service);
    if (sn < 0 || (size_t)sn >= sizeof scope) {
        rp_error_set(err, RP_ERR_INVALID, "SigV4: access key id, region or service too long");
        goto out;
    }
    rp__buf_lit(&url, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    rp__sigv4_uri_encode(&url, scope, (size_t)sn, false);
    rp__buf_printf(&url, "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host", amz_date, req->expires);
    if (creds->session_token[0]) {
        rp__buf_lit(&url, "&X-Amz-Security-Token=");
        rp__sigv4_uri_encode(&url, creds->session_token, strlen(creds->session_token), false);
    }
    if (url.failed) {
        rp_error_set(err, url.toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                     "SigV4: presigned URL longer than %zu bytes", URL_MAX);
        goto out;
    }
    bool s3 = (req->flags & RP_SIGV4_S3) || strcmp(req->service, "s3") == 0;
    char empty_hash[65];
    const char *phash = req->payload_hash;
    if (!phash && s3) {
        phash = RP_SIGV4_UNSIGNED_PAYLOAD; /* S3SigV4QueryAuth */
    } else if (!phash) {
        if (rp__sigv4_sha256_hex("", 0, empty_hash, err) != 0)
            goto out;
        phash = empty_hash; /* SigV4QueryAuth: the hash of the empty body */
    }
    rp__sigv4_request sr = {
        .method = req->method,
        .url = url.data,
        .payload_hash = phash,
        .service = req->service,
        .region = req->region,
        .time = req->time,
        .flags = s3 ? RP_SIGV4_S3 : 0u,
    };
    char sighex[65];
    if (sign_core(&sr, creds, true, canonical_request, &cx, sighex, err) != 0)
        goto out;
    size_t mark = url_out->len;
    rp__buf_append(url_out, url.data, url.len);
    rp__buf_lit(url_out, "&X-Amz-Signature=");
    rp__buf_append(url_out, sighex, 64);
    if (url_out->failed) {
        url_out->len = mark;
        if (url_out->data)
            url_out->data[mark] = '\0';
        rp_error_set(err, url_out->toobig ? RP_ERR_LIMIT : RP_ERR_NOMEM,
                     "SigV4: the presigned URL does not fit its buffer");
        goto out;
    }
    rc = 0;
out:
    rp__buf_cleanup(&cx.signed_headers);
    rp__buf_cleanup(&url);
    return rc;
}

int rp__sigv4_prepare(void *signer, const rp__http_request *req, unsigned attempt,
                      rp__http_extra_headers *extra, rp_error *err)
{
    (void)attempt;
    rp__sigv4_signer *s = signer;
    rp__sigv4_request sr = {
        .method = req->method,
        .url = req->url,
        .headers = req->headers,
        .n_headers = req->n_headers,
        .payload = req->body,
        .payload_len = req->body_len,
        .payload_hash = s->payload_hash,
        .service = s->service,
        .region = s->region,
        .time = s->now ? s->now(s->now_ctx) : time(NULL),
        .flags = s->flags,
    };
    if (rp__sigv4_sign(&sr, s->creds, &s->out, err) != 0)
        return -1;
    for (size_t i = 0; i < s->out.n_headers && extra->n < RP_HTTP_EXTRA_HEADERS_MAX; i++)
        extra->h[extra->n++] = s->out.headers[i];
    return 0;
}
