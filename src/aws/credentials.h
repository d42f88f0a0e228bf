/* AWS credentials and region, resolved by the standard chain as botocore
 * resolves them (docs/handler.md §10; details and deliberate differences in
 * docs/aws.md):
 *
 *  1. the environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, token
 *     from AWS_SECURITY_TOKEN else AWS_SESSION_TOKEN, expiry from
 *     AWS_CREDENTIAL_EXPIRATION (skipped when a profile is given explicitly
 *     through the options, as botocore's Session(profile=...));
 *  2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *     ~/.aws/credentials), section [PROFILE];
 *  3. the shared config file (AWS_CONFIG_FILE, else ~/.aws/config), section
 *     [profile PROFILE] ([default] for the default profile);
 *  4. the container credentials endpoint: http://169.254.170.2 followed by
 *     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, else
 *     AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback or
 *     the ECS / EKS link-local addresses), sending the token read from
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN, as the Authorization header.
 *
 * PROFILE is the options' profile, else AWS_DEFAULT_PROFILE, else
 * AWS_PROFILE, else "default"; a profile named explicitly must exist in one
 * of the files.  Keys in the files are case-insensitive.  A file that
 * exists but is malformed is an error (naming file and line), not a reason
 * to go on down the chain; so are partial credentials (a key id without a
 * secret).
 *
 * Secrets (secret key, session token, the container authorization token)
 * never appear in logs or error messages. */
#ifndef RP_AWS_CREDENTIALS_H
#define RP_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/http.h"
#include "ridepred/error.h"

#define RP_AWS_KEY_ID_MAX 128
#define RP_AWS_SECRET_MAX 256
#define RP_AWS_TOKEN_MAX 8192
#define RP_AWS_REGION_MAX 64
#define RP_AWS_PROFILE_MAX 256

typedef struct rp__aws_credentials {
    char access_key_id[RP_AWS_KEY_ID_MAX + 1];
    char secret_access_key[RP_AWS_SECRET_MAX + 1];
    char session_token[RP_AWS_TOKEN_MAX + 1]; /* "" when none */
    int64_t expiration;                       /* seconds since the epoch; 0: none */
    /* Where they came from: "environment", "shared-credentials-file",
     * "config-file", "container-endpoint", or "static". */
    char source[32];
} rp__aws_credentials;

typedef struct rp__aws_chain_options {
    /* An explicit profile (e.g. a --profile flag): wins over AWS_PROFILE
     * and, as in botocore, skips the environment credentials.  NULL: none. */
    const char *profile;
    /* The container endpoint: per-attempt timeout (0: 2000 ms, botocore's)
     * and retries (max_attempts 0: 3 attempts, 100 ms base, 1 s cap). */
    uint32_t container_timeout_ms;
    rp__retry_policy container_retry;
} rp__aws_chain_options;

/* Resolves credentials by the chain above.  `opt` may be NULL.  Returns 0
 * and fills `out`, or -1 with err set: RP_ERR_NOT_FOUND when no source has
 * credentials (the message lists what was tried) or an explicit profile
 * does not exist; RP_ERR_CORRUPT for a malformed file ("FILE:LINE: ...");
 * RP_ERR_INVALID for partial credentials or a bad variable; RP_ERR_IO (with
 * err->retriable for network failures) when the container endpoint fails. */
int rp__aws_credentials_resolve(rp__aws_credentials *out, const rp__aws_chain_options *opt, rp_error *err);

/* The region: AWS_REGION, else AWS_DEFAULT_REGION, else `region` in the
 * profile (as botocore, the credentials file's value wins over the config
 * file's).  Empty variables count as unset.  Returns 0 and writes the
 * region into out (cap bytes), or -1: RP_ERR_NOT_FOUND when none is set,
 * RP_ERR_CORRUPT for a malformed file, RP_ERR_INVALID for a bad value. */
int rp__aws_region_resolve(char *out, size_t cap, const rp__aws_chain_options *opt, rp_error *err);

/* The endpoint the AWS SDKs take from the environment for a service:
 * AWS_ENDPOINT_URL_<SERVICE> (service is the upper-case service id: KINESIS,
 * S3, DYNAMODB), else AWS_ENDPOINT_URL.  Returns the value, with the name of
 * the variable it came from in *from; NULL when neither is set (empty counts
 * as unset).  The value points into the environment. */
const char *rp__aws_endpoint_from_env(const char *service, const char **from);

/* AWS_MAX_ATTEMPTS, as the SDKs read it: *out is 0 when it is unset, else
 * 1..100.  Returns 0, or -1 (RP_ERR_INVALID) for another value. */
int rp__aws_max_attempts_from_env(unsigned *out, rp_error *err);

/* Static credentials (e.g. from flags).  token may be NULL.  Returns 0, or
 * -1 (RP_ERR_INVALID / RP_ERR_LIMIT) when a value is empty, too long or
 * holds control characters. */
int rp__aws_credentials_set(rp__aws_credentials *out, const char *access_key_id,
                            const char *secret_access_key, const char *session_token, rp_error *err);

/* Wipes the secrets (the memory is cleared in a way the compiler keeps). */
void rp__aws_credentials_clear(rp__aws_credentials *c);

/* True when the credentials expire within the next ten minutes (botocore's
 * mandatory refresh window) and should be resolved again. */
bool rp__aws_credentials_need_refresh(const rp__aws_credentials *c, time_t now);

/* Parses a container endpoint's JSON answer: AccessKeyId, SecretAccessKey,
 * Token (optional), Expiration (optional, ISO 8601).  Returns 0, or -1
 * with RP_ERR_INVALID; the message never quotes the body. */
int rp__aws_credentials_from_json(const char *body, size_t len, rp__aws_credentials *out, rp_error *err);

/* Parses an ISO 8601 UTC time as AWS writes it ("2024-05-01T12:00:00Z",
 * fractions of a second and a +HH:MM / -HH:MM offset accepted).  Returns 0
 * and seconds since the epoch, or -1. */
int rp__aws_parse_time(const char *s, size_t len, int64_t *out);

#endif
