/* AWS Signature Version 4, header signing, canonicalised exactly as botocore
 * does it (botocore.auth.SigV4Auth and S3SigV4Auth), and query-string
 * signing (presigned URLs: SigV4QueryAuth, S3SigV4QueryAuth).
 *
 * Why our own signer rather than libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88
 * signs inside the transfer, so its canonical request cannot be checked
 * against botocore byte for byte, nor the signature reused by tests; it does
 * not add X-Amz-Security-Token for session credentials nor
 * x-amz-content-sha256 the way S3 needs it; and it does not re-sign a
 * retried request with a fresh date.  HMAC-SHA256 and SHA-256 come from
 * libcrypto's EVP API.
 *
 * The canonical request, as botocore builds it:
 *  - method, upper-cased;
 *  - path: for every service but S3, dot segments and empty segments are
 *    removed (a trailing slash kept) and the result is percent-encoded once
 *    more (everything but A-Z a-z 0-9 - _ . ~ /), so "%20" in the URL is
 *    signed as "%2520"; for S3 the path is signed as it appears in the URL;
 *  - query: the URL's query split on '&', each pair on its first '=' (a
 *    missing '=' gives an empty value), pairs sorted by key then value
 *    (bytewise), joined again; no re-encoding, so the URL must be encoded as
 *    it will be sent (rp__sigv4_uri_encode);
 *  - headers: every header given except Expect, User-Agent and
 *    X-Amzn-Trace-Id, plus host (the Host header given, else the URL's host
 *    in lower case with a non-default port), X-Amz-Date, X-Amz-Security-Token
 *    with a session token, X-Amz-Content-SHA256 when asked for or for S3;
 *    names lower-cased and sorted; each value's runs of blanks squeezed to
 *    one space and its ends trimmed; repeated names joined with ',' in the
 *    order given;
 *  - the payload's hex SHA-256, or the hash given (e.g. UNSIGNED-PAYLOAD).
 *
 * Deliberate differences from botocore, none of which a request built by
 * this project meets: a Date header is refused (botocore would sign Date
 * instead of X-Amz-Date); headers the signer sets (Authorization,
 * X-Amz-Date, and X-Amz-Security-Token / X-Amz-Content-SHA256 when it sets
 * them) are refused in the input rather than replaced, because the caller's
 * headers are sent as given; URLs with blanks or control characters are
 * refused; an empty S3 path is signed as "/" (botocore signs ""). */
#ifndef RP_AWS_SIGV4_H
#define RP_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/buf.h"
#include "ridepred/error.h"

#define RP_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

enum {
    /* S3 rules: the path is not normalised nor encoded again, and
     * x-amz-content-sha256 is always added.  Implied by service "s3". */
    RP_SIGV4_S3 = 1u << 0,
    /* Add and sign x-amz-content-sha256 (the payload hash). */
    RP_SIGV4_CONTENT_SHA256 = 1u << 1,
};

typedef struct rp__sigv4_request {
    const char *method;
    const char *url;                /* as sent: scheme://host[:port]/path?query */
    const rp__http_header *headers; /* the request's own headers */
    size_t n_headers;
    const void *payload; /* hashed when payload_hash is NULL */
    size_t payload_len;
    const char *payload_hash; /* NULL, 64 lower-case hex digits, or a
                                         token such as UNSIGNED-PAYLOAD */
    const char *service;      /* "kinesis", "s3", ... */
    const char *region;
    time_t time;    /* signing time, seconds since the epoch */
    unsigned flags; /* RP_SIGV4_* */
} rp__sigv4_request;

#define RP_SIGV4_AUTH_MAX 4096
#define RP_SIGV4_HOST_MAX 300

/* What to add to the request.  `headers` views into this struct and into
 * the credentials (the session token): both must outlive their use. */
typedef struct rp__sigv4_out {
    char authorization[RP_SIGV4_AUTH_MAX];
    char amz_date[17];            /* 20150830T123600Z */
    char content_sha256[80];      /* the payload hash signed */
    char host[RP_SIGV4_HOST_MAX]; /* the host value signed */
    /* Authorization, X-Amz-Date, then X-Amz-Security-Token (session
     * credentials), x-amz-content-sha256 (S3, asked for, or an unsigned
     * payload), and Host when the request had none (so that what is sent is
     * what was signed). */
    rp__http_header headers[5];
    size_t n_headers;
} rp__sigv4_out;

/* Signs a request.  Returns 0 and fills `out`, or -1 with err set
 * (RP_ERR_INVALID for a bad URL, header, region, service, hash or
 * credentials; RP_ERR_LIMIT when the URL, headers or Authorization exceed
 * their caps; RP_ERR_INTERNAL when libcrypto fails).  Error messages never
 * contain the secret key or the token. */
int rp__sigv4_sign(const rp__sigv4_request *req, const rp__aws_credentials *creds, rp__sigv4_out *out,
                   rp_error *err);

/* The canonical request and the string to sign that rp__sigv4_sign signs,
 * for tests and debugging.  Appends to the caller's buffers (either may be
 * NULL).  Returns 0 or -1 as rp__sigv4_sign. */
int rp__sigv4_canonical(const rp__sigv4_request *req, const rp__aws_credentials *creds,
                        rp__buf *canonical_request, rp__buf *string_to_sign, rp_error *err);

/* Query-string auth: a presigned URL, as botocore's SigV4QueryAuth (and, for
 * S3, S3SigV4QueryAuth) makes it.  The URL written is the one given, its
 * query (the operation's parameters, as given: encode them with
 * rp__sigv4_uri_encode, as botocore's percent_encode_sequence does) followed
 * by the auth parameters in botocore's order:
 *   X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential (KEYID/DATE/REGION/
 *   SERVICE/aws4_request, encoded), X-Amz-Date, X-Amz-Expires,
 *   X-Amz-SignedHeaders=host, X-Amz-Security-Token (session credentials),
 * all of them signed (the canonical query sorts them with the operation's),
 * then X-Amz-Signature, which is not.  Only the host is signed (the URL's,
 * lower-cased, with a port that is not the scheme's default).  The payload
 * hash is the SHA-256 of an empty body, as SigV4QueryAuth signs a GET; for
 * S3 (RP_SIGV4_S3 or service "s3") it is UNSIGNED-PAYLOAD and the path is
 * signed as given, as S3SigV4QueryAuth does.
 *
 * Differences from botocore, none met by a URL this project presigns:
 * botocore decodes the operation's query and encodes it again (so a
 * repeated key keeps only its first value, and "+" becomes "%20"); here it
 * is kept as given.  A URL with a fragment is refused. */
#define RP_SIGV4_PRESIGN_EXPIRES_MAX 604800 /* seven days: SigV4's limit */

typedef struct rp__sigv4_presign_request {
    const char *method;       /* "GET" */
    const char *url;          /* scheme://host[:port]/path[?query], encoded as sent */
    const char *service;      /* "kafka-cluster", "s3", ... */
    const char *region;       /* "us-east-1", ... */
    time_t time;              /* signing time, seconds since the epoch */
    unsigned expires;         /* X-Amz-Expires: 1..RP_SIGV4_PRESIGN_EXPIRES_MAX seconds */
    const char *payload_hash; /* NULL: as described above; else a hash or token */
    unsigned flags;           /* RP_SIGV4_S3 */
} rp__sigv4_presign_request;

/* Presigns a request.  Returns 0 and appends the presigned URL to url_out
 * (and, when not NULL, the canonical request signed to canonical_request,
 * for tests), or -1 with err set and url_out as it was: RP_ERR_INVALID for a
 * bad URL, method, region, service, expiry, time or credentials
 * (rp__sigv4_sign's rules), RP_ERR_LIMIT when the URL exceeds 64 KiB or
 * url_out's cap, RP_ERR_INTERNAL when libcrypto fails.  The URL holds the
 * session token (it is a credential until it expires); error messages never
 * hold the secret key or the token. */
int rp__sigv4_presign(const rp__sigv4_presign_request *req, const rp__aws_credentials *creds,
                      rp__buf *url_out, rp__buf *canonical_request, rp_error *err);

/* Appends s[0..n) percent-encoded as AWS wants URI components: everything
 * but A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case hex); '/' is kept when
 * keep_slash (S3 object keys).  Errors are the buffer's sticky flag. */
void rp__sigv4_uri_encode(rp__buf *b, const char *s, size_t n, bool keep_slash);

/* Hex SHA-256 of data (65 bytes with the NUL).  Returns 0, or -1 with err. */
int rp__sigv4_sha256_hex(const void *data, size_t len, char out[65], rp_error *err);

/* An rp__http_prepare_fn that signs every attempt afresh with the current
 * time.  Set the fields, then pass rp__sigv4_prepare and the signer to
 * rp__http_execute; the request's body is the payload. */
typedef struct rp__sigv4_signer {
    const rp__aws_credentials *creds; /* borrowed */
    const char *service;              /* borrowed */
    const char *region;               /* borrowed */
    unsigned flags;                   /* RP_SIGV4_* */
    const char *payload_hash;         /* NULL: hash the body */
    time_t (*now)(void *ctx);         /* NULL: time(NULL) */
    void *now_ctx;
    rp__sigv4_out out; /* the last signature's headers */
} rp__sigv4_signer;

int rp__sigv4_prepare(void *signer, const rp__http_request *req, unsigned attempt,
                      rp__http_extra_headers *extra, rp_error *err);

#endif
