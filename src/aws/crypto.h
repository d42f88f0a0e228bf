/* libcrypto (OpenSSL 3), loaded on first use.
 *
 * Linking libcrypto costs every start of the program about 1.4 ms of
 * dynamic loading and relocation on this machine (a 4 MiB library), most of
 * the time `ridepred invoke` takes, and a run that signs nothing and writes
 * no local store never calls it.  SigV4 (SHA-256, HMAC) and the local
 * store (MD5 placement, as Kinesis) get the functions here, loaded once per
 * process with dlopen (src/common/dl.h).  Only OpenSSL's headers are used at
 * build time.  Wiping secrets (explicit_bzero) and random bytes (getrandom)
 * need no libcrypto. */
#ifndef RP_AWS_CRYPTO_H
#define RP_AWS_CRYPTO_H

#include <stddef.h>

#include <openssl/evp.h>

#include "ridepred/error.h"

#define RP_LIBCRYPTO_SONAME "libcrypto.so.3"

/* The libcrypto functions ridepred calls, with their OpenSSL 3 types. */
typedef struct rp__crypto {
    int (*EVP_Digest)(const void *data, size_t count, unsigned char *md, unsigned int *size,
                      const EVP_MD *type, ENGINE *impl);
    const EVP_MD *(*EVP_sha256)(void);
    unsigned char *(*EVP_Q_mac)(OSSL_LIB_CTX *libctx, const char *name, const char *propq, const char *subalg,
                                const OSSL_PARAM *params, const void *key, size_t keylen,
                                const unsigned char *data, size_t datalen, unsigned char *out, size_t outsize,
                                size_t *outlen);
    EVP_MD *(*EVP_MD_fetch)(OSSL_LIB_CTX *ctx, const char *algorithm, const char *properties);
    void (*EVP_MD_free)(EVP_MD *md);
    EVP_MD_CTX *(*EVP_MD_CTX_new)(void);
    void (*EVP_MD_CTX_free)(EVP_MD_CTX *ctx);
    int (*EVP_DigestInit_ex2)(EVP_MD_CTX *ctx, const EVP_MD *type, const OSSL_PARAM params[]);
    int (*EVP_DigestUpdate)(EVP_MD_CTX *ctx, const void *d, size_t cnt);
    int (*EVP_DigestFinal_ex)(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);
} rp__crypto;

/* Loads libcrypto once per process (thread-safe).  Returns the table, or
 * NULL with err set ("libcrypto is not available (...): install ..."). */
const rp__crypto *rp__crypto_get(rp_error *err);

/* Fills buf with n bytes from the kernel's random source (getrandom).
 * Returns 0, or -1 with err set. */
int rp__random_bytes(void *buf, size_t n, rp_error *err);

#endif
