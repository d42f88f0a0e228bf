/* Amazon S3, just what serving a model needs: ListObjectsV2 and GetObject
 * over src/aws/ (SigV4 with service "s3", the credential chain), and the
 * download of an MLflow model directory into a local cache (docs/models.md,
 * "Models in S3").
 *
 * Endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (path-style:
 * ENDPOINT/BUCKET/KEY), else https://BUCKET.s3.REGION.amazonaws.com
 * (virtual-host style).  Region: the chain's (AWS_REGION, ...), else
 * us-east-1.
 *
 * Cache: $RIDEPRED_MODEL_CACHE_DIR (default /tmp/ridepred-models), then
 * BUCKET/HASH where HASH is the first 16 hex digits of the SHA-256 of the
 * prefix.  A directory is complete when it holds the marker
 * RP_S3_CACHE_MARKER; it is downloaded into a staging directory next to it
 * and renamed into place, so a crash leaves no half directory behind.  A
 * complete directory is used without any request. */
#ifndef RP_AWS_S3_H
#define RP_AWS_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

#define RP_S3_BUCKET_MAX 63
#define RP_S3_KEY_MAX 1024
#define RP_S3_CACHE_MARKER ".ridepred-complete"
#define RP_S3_DEFAULT_CACHE_DIR "/tmp/ridepred-models"

/* True when the location starts with "s3://". */
bool rp__s3_is_uri(const char *location);

/* Splits s3://BUCKET/PREFIX.  The prefix loses its trailing slashes (may be
 * empty).  Returns 0, or -1 with RP_ERR_INVALID. */
int rp__s3_parse_uri(const char *uri, char bucket[RP_S3_BUCKET_MAX + 1], char prefix[RP_S3_KEY_MAX + 1],
                     rp_error *err);

typedef struct rp__s3_fetch_opts {
    /* Ignore a cached copy: download again (and replace the cached copy). */
    bool no_cache;
    /* NULL or "": RP_S3_DEFAULT_CACHE_DIR. */
    const char *cache_dir;
} rp__s3_fetch_opts;

/* Makes the MLflow model directory s3://BUCKET/PREFIX available locally:
 * from the cache when complete there (no request), else by listing every
 * object under PREFIX/ and downloading them.  Writes the local directory
 * into out_dir (cap bytes).  Returns 0, or -1 with err set: RP_ERR_NOT_FOUND
 * for an unknown bucket, a prefix with no objects or no MLmodel (the message
 * lists what is there), a missing object (naming its key); RP_ERR_INVALID
 * for access denied and other 4xx answers; RP_ERR_IO when S3 cannot be
 * reached or the cache cannot be written. */
int rp__s3_fetch_model_dir(const char *uri, const rp__s3_fetch_opts *opts, char *out_dir, size_t cap,
                           rp_error *err);

#endif
