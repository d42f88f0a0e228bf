/* libFuzzer target: the Runtime API client's answer parser
 * (src/lambda/rapi.c, a hand-written HTTP/1.1 reader).
 *
 * Input: byte 0 picks the piece size the answer is fed in (1..64 bytes, as
 * recv might split it), byte 1 the body limit; the rest is what the server
 * sent before closing.  The answer is parsed twice, all at once and in
 * pieces, by two clients: both must agree (the same result, status, body,
 * head and Runtime API headers), since an incremental parser must not
 * depend on where the network splits its input; a body is NUL-terminated
 * and within its limit; header look-ups stay inside the head. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/rapi.h"

static bool same_str(rp__rapi_str a, rp__rapi_str b)
{
    if (!a.p || !b.p)
        return !a.p && !b.p;
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static void check_inside(const rp__rapi_response *r, rp__rapi_str v)
{
    if (v.p && (v.p < r->head.p || v.p + v.n > r->head.p + r->head.n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rp__rapi *whole, *pieces;
    if (!whole) {
        rp_error err;
        if (rp__rapi_new("127.0.0.1:9001", NULL, &whole, &err) != 0 ||
            rp__rapi_new("127.0.0.1:9001", NULL, &pieces, &err) != 0)
            abort();
    }
    if (size < 2)
        return 0;
    size_t piece = 1 + (data[0] & 63);
    static const size_t limits[] = {0, 1, 16, 100, 1024, 65536, 6 * 1024 * 1024, 1};
    size_t body_max = limits[data[1] & 7];
    data += 2;
    size -= 2;

    rp__rapi_response a, b;
    rp_error ea, eb;
    int ra = rp__rapi_parse(whole, data, size, 0, body_max, &a, &ea);
    int rb = rp__rapi_parse(pieces, data, size, piece, body_max, &b, &eb);
    if (ra != rb)
        abort();
    if (ra != 0)
        return 0;
    if (a.status != b.status || a.status < 100 || a.status > 999)
        abort();
    if (a.body_toobig != b.body_toobig || a.body_len != b.body_len ||
        memcmp(a.body, b.body, a.body_len) != 0 || a.body[a.body_len] != '\0')
        abort();
    if (a.body_len > body_max || (a.body_toobig && a.body_len != 0))
        abort();
    if (!same_str(a.head, b.head) || !same_str(a.request_id, b.request_id) ||
        !same_str(a.deadline_ms, b.deadline_ms) || !same_str(a.trace_id, b.trace_id) ||
        !same_str(a.function_arn, b.function_arn))
        abort();
    static const char *const names[] = {"Content-Type", "Lambda-Runtime-Aws-Request-Id", "X", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        rp__rapi_str v;
        if (rp__rapi_header(&a, names[i], &v))
            check_inside(&a, v);
    }
    check_inside(&a, a.request_id);
    check_inside(&a, a.trace_id);
    return 0;
}
