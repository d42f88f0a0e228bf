/* libFuzzer target: the AWS answers read from the network.
 *
 *  - rp__aws_credentials_from_json on the input (a container credentials
 *    endpoint's answer), and rp__aws_parse_time on it;
 *  - rp__aws_error_parse / rp__http_response_is_retriable on a response whose
 *    body is the whole input, then on one whose header block is the input up
 *    to its first NUL and whose body is what follows (the whole input as
 *    headers when there is no NUL).
 *
 * The response buffers are allocated to the exact size (content + the NUL
 * rp__buf promises) so that AddressSanitizer sees any read past them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/credentials.h"
#include "aws/http.h"

/* Fills b with exactly p[0..n) and a NUL, as rp__buf would hold it. */
static int buf_exact(rp__buf *b, const uint8_t *p, size_t n)
{
    rp__buf_init(b, n + 1);
    if (n == 0)
        return 0; /* nothing appended: data stays NULL, as after rp__buf_init */
    b->data = malloc(n + 1);
    if (!b->data)
        return -1;
    memcpy(b->data, p, n);
    b->data[n] = '\0';
    b->len = n;
    b->cap = n + 1;
    return 0;
}

static void check_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        __builtin_trap(); /* not terminated */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            __builtin_trap(); /* "reduced to printable ASCII" */
}

static void error_response(const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t blen, long status)
{
    rp__http_response r;
    rp__http_response_init(&r, 1 << 20);
    r.status = status;
    if (buf_exact(&r.headers, hdr, hlen) == 0 && buf_exact(&r.body, body, blen) == 0) {
        rp__aws_error_info info;
        memset(&info, 0x55, sizeof info);
        rp__aws_error_parse(&r, &info);
        check_str(info.code, sizeof info.code);
        check_str(info.message, sizeof info.message);
        if (info.code[0])
            (void)rp__aws_error_is_retriable(info.code, strlen(info.code));
        (void)rp__http_response_is_retriable(&r);

        static const char *const names[] = {"x-amzn-ErrorType", "Content-Type", "x-amzn-RequestId", ""};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            const char *v = NULL;
            size_t vl = 0;
            if (rp__http_response_header(&r, names[i], &v, &vl) &&
                (v < r.headers.data || vl > r.headers.len ||
                 (size_t)(v - r.headers.data) > r.headers.len - vl))
                __builtin_trap(); /* the value is not a view into the header block */
        }
    }
    rp__http_response_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    rp__aws_credentials c;
    rp_error err;
    if (rp__aws_credentials_from_json(text, size, &c, &err) == 0) {
        size_t ak = strnlen(c.access_key_id, sizeof c.access_key_id);
        size_t sk = strnlen(c.secret_access_key, sizeof c.secret_access_key);
        size_t tk = strnlen(c.session_token, sizeof c.session_token);
        if (ak == 0 || sk == 0 || ak == sizeof c.access_key_id || sk == sizeof c.secret_access_key ||
            tk == sizeof c.session_token)
            __builtin_trap();
        (void)rp__aws_credentials_need_refresh(&c, (time_t)1714564800);
        rp__aws_credentials_clear(&c);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }

    int64_t t;
    (void)rp__aws_parse_time(text, size, &t);
    (void)rp__aws_error_is_retriable(text, size);

    /* The input as the body of a 400, with no headers. */
    error_response(NULL, 0, data, size, 400);

    /* Headers up to the first NUL, the body after it. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    size_t boff = nul ? hlen + 1 : size;
    error_response(data, hlen, data + boff, size - boff, size > 0 && data[0] == 'H' ? 503 : 400);
    return 0;
}
