/* Amazon MSK IAM authentication: the SASL/OAUTHBEARER token that AWS's MSK
 * IAM signer libraries make (aws-msk-iam-sasl-signer-python 1.0.2, -go,
 * -js), for librdkafka's rd_kafka_oauthbearer_set_token.
 *
 * The token, as the Python signer builds it (docs/kafka.md):
 *  1. a SigV4 presigned GET (botocore's SigV4QueryAuth; here
 *     rp__sigv4_presign) of
 *       https://kafka.REGION.amazonaws.com/?Action=kafka-cluster%3AConnect
 *     for service "kafka-cluster" in REGION, X-Amz-Expires=900, the session
 *     token as X-Amz-Security-Token when there is one;
 *  2. then "&User-Agent=" and the user agent, encoded as Python's urlencode
 *     does (quote_plus: "/" is %2F, a blank "+"), appended after signing;
 *  3. the whole URL base64url-encoded (RFC 4648 §5: "-" and "_"), without
 *     "=" padding.
 * The host is kafka.REGION.amazonaws.com in every partition (also cn-*), as
 * in the Python and Go signers.
 *
 * Expiry: the signing time (whole seconds) + 900 s, in milliseconds, as the
 * Python signer computes it -- except that credentials that expire sooner
 * bring it forward to their expiry, so that librdkafka (which refreshes at
 * 80% of the remaining lifetime) asks for a new token before the old one's
 * signature stops being valid.  The token's bytes are the same either way.
 *
 * Principal: librdkafka wants a principal name with the token
 * (md_principal_name); it is not sent to the broker (the SASL message holds
 * only the token), which takes the IAM identity from the signature.  It is
 * the access key id here, so that librdkafka's "authentication successful
 * / failed (principal=...)" messages name the key used; the key id is not
 * secret and is in the token anyway.  The Python and Go signers' users pass
 * "" (confluent-kafka's default). */
#ifndef RP_AWS_MSK_IAM_H
#define RP_AWS_MSK_IAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/credentials.h"
#include "ridepred/error.h"

#define RP_MSK_IAM_SERVICE "kafka-cluster"
#define RP_MSK_IAM_ACTION "kafka-cluster:Connect"
#define RP_MSK_IAM_EXPIRES 900 /* seconds: the signers' DEFAULT_TOKEN_EXPIRY_SECONDS */

typedef struct rp__msk_iam_token {
    /* The token: base64url text, NUL-terminated, allocated; owned by the
     * struct (rp__msk_iam_token_clear frees it).  It is a credential until
     * it expires: never log it. */
    char *value;
    size_t len;
    /* When it expires, milliseconds since the epoch: librdkafka's
     * md_lifetime_ms. */
    int64_t expiry_ms;
    /* librdkafka's md_principal_name: the access key id. */
    char principal[RP_AWS_KEY_ID_MAX + 1];
} rp__msk_iam_token;

/* Makes the token for the cluster's region with the given credentials,
 * signed at `now` (seconds since the epoch; the caller's clock, so that
 * tests fix it).  user_agent: the User-Agent parameter's value; NULL means
 * "ridepred/<version>".  The Python signer sends
 * "aws-msk-iam-sasl-signer-python/<its version>"; the parameter is not
 * signed.
 *
 * *out must be zeroed or hold an earlier token (which is freed).  Returns 0
 * and fills *out, or -1 with err set and *out emptied: RP_ERR_INVALID when the region is empty or not letters,
 * digits and inner hyphens, the credentials are missing or lack a key id or
 * secret (the message says what to set), they expired at or before `now`,
 * or the signer refuses them; RP_ERR_LIMIT when the token would exceed its
 * cap (a session token near RP_AWS_TOKEN_MAX still fits); RP_ERR_NOMEM;
 * RP_ERR_INTERNAL when libcrypto fails.  Messages never hold the secret
 * key, the session token or the token. */
int rp__msk_iam_token_make(const char *region, const rp__aws_credentials *creds, time_t now,
                           const char *user_agent, rp__msk_iam_token *out, rp_error *err);

typedef struct rp__msk_iam_options {
    /* The cluster's region; NULL or "": AWS_REGION, else AWS_DEFAULT_REGION,
     * else the profile's region (rp__aws_region_resolve). */
    const char *region;
    /* The credential chain's options (profile, container endpoint timeouts);
     * NULL: the defaults. */
    const rp__aws_chain_options *chain;
    /* The clock; NULL: time(NULL). */
    time_t (*now)(void *ctx);
    void *now_ctx;
    const char *user_agent; /* NULL: "ridepred/<version>" */
} rp__msk_iam_options;

/* rp__msk_iam_token_make with the credentials resolved afresh by the
 * project's chain (rp__aws_credentials_resolve: environment, shared files,
 * container endpoint) and the region given or resolved.  Meant for
 * librdkafka's token refresh callback, which runs on its background
 * thread: it may block on the container endpoint (bounded by the chain's
 * timeouts and retries).  opt may be NULL.
 *
 * *out as for rp__msk_iam_token_make.  Returns 0 and fills *out, or -1 with
 * err set and *out emptied: the chain's errors (RP_ERR_NOT_FOUND when no source has credentials, or no
 * region is set: the message says what to set; RP_ERR_CORRUPT,
 * RP_ERR_INVALID, RP_ERR_IO with err->retriable for the container
 * endpoint), or rp__msk_iam_token_make's.  The resolved secrets are wiped
 * before it returns. */
int rp__msk_iam_token_resolve(const rp__msk_iam_options *opt, rp__msk_iam_token *out, rp_error *err);

/* Frees and wipes the token; the struct is then empty (value NULL).  Safe on
 * an empty or zeroed struct. */
void rp__msk_iam_token_clear(rp__msk_iam_token *t);

#endif
