/* The JSON reader: what it accepts and refuses must be what Python's
 * json.loads accepts and refuses (the handler answers as the reference). */
#include <math.h>
#include <stdlib.h>

#include "common/json.h"
#include "testing.h"

/* Reads a whole document, skipping everything: 1 valid, 0 refused. */
static int valid(const char *s, size_t n, int depth)
{
    rp__json_reader r;
    rp__json_init(&r, s, n, depth);
    return rp__json_skip(&r, NULL) == 1 && rp__json_end(&r) == 1;
}

#define OK(s) CHECK(valid((s), sizeof(s) - 1, 64) == 1)
#define BAD(s) CHECK(valid((s), sizeof(s) - 1, 64) == 0)

TEST(accepts_what_python_accepts)
{
    OK("{}");
    OK("[]");
    OK(" \t\r\n{\"a\": [1, -2, 3.5, -0.0, 1e5, 1E+5, 1e-5, true, false, null]} \n");
    OK("\"\\u00e9\\ud800\\udc00\\ud800\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    OK("NaN");
    OK("[Infinity, -Infinity, NaN]");
    OK("\"\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    OK("0");
    OK("-0");
    OK("{\"a\": 1, \"a\": 2}");
}

TEST(refuses_what_python_refuses)
{
    BAD("");
    BAD(" ");
    BAD("{,}");
    BAD("[1,]");
    BAD("{\"a\": 1,}");
    BAD("[1 2]");
    BAD("{\"a\" 1}");
    BAD("{a: 1}");
    BAD("'a'");
    BAD("01");
    BAD("1.");
    BAD(".5");
    BAD("+1");
    BAD("-");
    BAD("1e");
    BAD("--1");
    BAD("nan");
    BAD("infinity");
    BAD("-NaN");
    BAD("tru");
    BAD("\"\\x\"");
    BAD("\"\\u12\"");
    BAD("\"\\u12g4\"");
    BAD("\"a\tb\""); /* raw control character */
    BAD("\"\x01\"");
    BAD("\"abc");
    BAD("\"\xff\"");             /* not UTF-8 */
    BAD("\"\xc0\x80\"");         /* overlong */
    BAD("\"\xed\xa0\x80\"");     /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
    BAD("\"\xe2\x82\"");         /* truncated */
    BAD("\xef\xbb\xbf{}");       /* BOM */
    BAD("{} {}");
    BAD("[1]]");
    BAD("{\"a\": }");
}

TEST(nesting_limit)
{
    char s[300];
    for (int i = 0; i < 64; i++) {
        s[i] = '[';
        s[64 + i] = ']';
    }
    CHECK(valid(s, 128, 64) == 1);
    s[0] = '{';
    CHECK(valid(s, 128, 64) == 0);
    for (int i = 0; i < 65; i++) {
        s[i] = '[';
        s[65 + i] = ']';
    }
    CHECK(valid(s, 130, 64) == 0);
}

TEST(python_int_digit_limit)
{
    char *s = malloc(4400);
    memset(s, '7', 4301);
    CHECK(valid(s, 4300, 64) == 1);
    CHECK(valid(s, 4301, 64) == 0);
    s[0] = '-';
    CHECK(valid(s, 4301, 64) == 1); /* 4300 digits and a sign */
    memset(s, '7', 4400);
    s[4000] = '.'; /* a float of any length is fine */
    CHECK(valid(s, 4400, 64) == 1);
    free(s);
}

static double num(const char *s)
{
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, s, strlen(s), 4);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_NUMBER)
        return -12345.0;
    return rp__json_number(&v);
}

TEST(numbers_round_correctly)
{
    const char *cases[] = {"3.66",
                           "0.1",
                           "130",
                           "1e22",
                           "1e23",
                           "9007199254740993",
                           "2.2250738585072011e-308",
                           "4.9e-324",
                           "1.7976931348623157e308",
                           "123456789012345678901234567890",
                           "0.000001",
                           "5e-324",
                           "1e-400",
                           "17.976931348623157e307",
                           "3.141592653589793238462643383279"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(num(cases[i]) == strtod(cases[i], NULL));
    CHECK(isinf(num("1e400")) && num("1e400") > 0);
    CHECK(isnan(num("NaN")));
    CHECK(isinf(num("-Infinity")) && num("-Infinity") < 0);
    CHECK(!signbit(num("-0"))); /* float(int("-0")) is 0.0 */
    CHECK(signbit(num("-0.0")));
    /* a pseudo-random sweep against strtod */
    unsigned long long x = 88172645463325252ULL;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned long long mod = 10;
        for (int d = (int)(x % 19); d > 0; d--)
            mod *= 10;
        int exp = (int)((x >> 8) % 60) - 30;
        unsigned long long mant = (x >> 3) % mod;
        if (x & 1)
            snprintf(buf, sizeof buf, "%llue%d", mant, exp);
        else
            snprintf(buf, sizeof buf, "%llu.%llu", mant, (x >> 20) % 1000003);
        double want = strtod(buf, NULL);
        if (num(buf) != want) {
            CHECK(!"number matches strtod");
            fprintf(stderr, "  %s\n", buf);
            break;
        }
    }
}

TEST(strings_decode)
{
    rp__json_reader r;
    rp__json_value v;
    const char *s = "\"a\\u00e9\\ud83d\\ude00\\ud800\\n\\/\"";
    rp__json_init(&r, s, strlen(s), 4);
    CHECK(rp__json_next(&r, &v) == 1 && v.type == RP_JSON_STRING && v.escaped);
    char out[64];
    size_t n = rp__json_str_decode(&v, out);
    CHECK_MEM(out, n, "a\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80\n/");
    CHECK(rp__json_str_chars(&v) == 6);
    CHECK(rp__json_str_eq(&v, "x", 1) == false);
    const char *k = "\"r\\u0069de\"";
    rp__json_init(&r, k, strlen(k), 4);
    CHECK(rp__json_next(&r, &v) == 1);
    CHECK(rp__json_str_eq(&v, "ride", 4));
}

TEST(errors_report_offsets)
{
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, "[1, x]", 6, 4);
    CHECK(rp__json_skip(&r, NULL) == -1);
    CHECK(strstr(r.err.msg, "at byte 4") != NULL);
    /* after an error every call fails */
    CHECK(rp__json_next(&r, &v) == -1);
}

int main(void)
{
    RUN(accepts_what_python_accepts);
    RUN(refuses_what_python_refuses);
    RUN(nesting_limit);
    RUN(python_int_digit_limit);
    RUN(numbers_round_correctly);
    RUN(strings_decode);
    RUN(errors_report_offsets);
    return rp_t_done();
}
