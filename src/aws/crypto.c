/* libcrypto, loaded on first use (see crypto.h). */
#include "aws/crypto.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/dl.h"

static rp__crypto api;
static rp__dl_once lib = RP_DL_ONCE_INIT;

static void load(void)
{
    static const char *const sonames[] = {RP_LIBCRYPTO_SONAME, NULL};
#define SYM(name)                                                                                            \
    {                                                                                                        \
#name, offsetof(rp__crypto, name)                                                                    \
    }
    static const rp__dl_sym syms[] = {
        SYM(EVP_Digest),       SYM(EVP_sha256),         SYM(EVP_Q_mac),       SYM(EVP_MD_fetch),
        SYM(EVP_MD_free),      SYM(EVP_MD_CTX_new),     SYM(EVP_MD_CTX_free), SYM(EVP_DigestInit_ex2),
        SYM(EVP_DigestUpdate), SYM(EVP_DigestFinal_ex),
    };
#undef SYM
    rp__dl_once_load(&lib, "libcrypto", sonames, syms, sizeof syms / sizeof syms[0], &api,
                     "OpenSSL 3's libcrypto (Debian: apt-get install libssl3)");
}

const rp__crypto *rp__crypto_get(rp_error *err)
{
    return rp__dl_once_run(&lib, load, err) == 0 ? &api : NULL;
}

int rp__random_bytes(void *buf, size_t n, rp_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return rp_error_set(err, RP_ERR_INTERNAL, "no random bytes: getrandom: %s", strerror(errno));
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}
