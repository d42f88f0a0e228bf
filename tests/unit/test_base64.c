/* base64: decoding exactly as Python's base64.b64decode (non-strict
 * binascii), encoding as b64encode.  Expected values from CPython 3.11. */
#include "common/base64.h"
#include "testing.h"

static void dec(const char *in, const char *want)
{
    unsigned char out[256];
    const char *why = NULL;
    long n = rp__base64_decode(in, strlen(in), out, &why);
    if (!want) {
        CHECK(n < 0);
        CHECK(why != NULL);
        return;
    }
    CHECK(n >= 0);
    if (n >= 0)
        CHECK_MEM(out, (size_t)n, want);
}

TEST(decode_python_vectors)
{
    dec("YWJj", "abc");
    dec("YW==", "a");
    dec("YWI=", "ab");
    dec("YW=I=", "ab");    /* padding interrupted, then completed */
    dec("Y W J j", "abc"); /* non-alphabet characters are skipped */
    dec("YWJj====", "abc");
    dec("YWJjZA==ZZZZ", "abcd"); /* decoding stops after complete padding */
    dec("=YWJj", "abc");
    dec("YW\nJj", "abc");
    dec("Y=W=J=j", "ab");
    dec("", "");
    dec("YWJ", NULL); /* Incorrect padding */
    dec("YW", NULL);
    dec("Y", NULL); /* 1 more than a multiple of 4 */
    dec("YWJjZA=", NULL);
    dec("YWJjZA", NULL);
    dec("YWJj\xc3\xa9", NULL);     /* non-ASCII: refused even where it would be skipped */
    dec("YWJjZA==\xc3\xa9", NULL); /* ... and after the padding */
    dec("YWJjZGVmZ2hp", "abcdefghi");
    dec("YWJjZGVmZ2hpag==", "abcdefghij");
    dec("YWJjZGVm Z2hpag==", "abcdefghij");
}

TEST(decode_errors_say_why)
{
    unsigned char out[16];
    const char *why = NULL;
    CHECK(rp__base64_decode("Y", 1, out, &why) < 0);
    CHECK(why && strstr(why, "1 more than a multiple of 4"));
    CHECK(rp__base64_decode("YWJ", 3, out, &why) < 0);
    CHECK(why && strstr(why, "Incorrect padding"));
}

TEST(round_trip_all_lengths)
{
    unsigned char in[300], back[RP_BASE64_DECODED_MAX(400)];
    char enc[420];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t e = rp__base64_encode(in, n, enc);
        CHECK(e == RP_BASE64_ENCODED_LEN(n));
        long d = rp__base64_decode(enc, e, back, NULL);
        CHECK(d == (long)n);
        CHECK(memcmp(in, back, n) == 0);
    }
}

TEST(encode_vectors)
{
    char out[64];
    size_t n = rp__base64_encode((const unsigned char *)"abcd", 4, out);
    CHECK_MEM(out, n, "YWJjZA==");
    n = rp__base64_encode((const unsigned char *)"\xff\xfe", 2, out);
    CHECK_MEM(out, n, "//4=");
}

int main(void)
{
    RUN(decode_python_vectors);
    RUN(decode_errors_say_why);
    RUN(round_trip_all_lengths);
    RUN(encode_vectors);
    return rp_t_done();
}
