/* Unit tests for rp__pyfloat_repr (src/common/pyfloat.c).
 *
 * The fixed vectors below were produced by running CPython 3.11's repr() in
 * /usr/bin/python3 on each value, not by this implementation.  The property
 * tests then check random doubles against glibc: the text must read back to
 * the same double, no shorter digit string may do so, the digits must be the
 * correctly rounded ones of that length, and the exponent form must be used
 * exactly outside 1e-4 <= |x| < 1e16.  The full comparison with Python
 * (millions of values) is tests/integration/test_pyfloat_python.py. */
#include "common/pyfloat.h"

#include "testing.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

struct expr_case {
    double x;
    const char *want;
};

struct bits_case {
    uint64_t bits;
    const char *want;
};

/* Expressions (valid C and Python) and their repr() in /usr/bin/python3. */
static const struct expr_case expr_cases[] = {
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {1.0, "1.0"},
    {-1.0, "-1.0"},
    {0.1, "0.1"},
    {0.2, "0.2"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1 / 3., "0.3333333333333333"},
    {2 / 3., "0.6666666666666666"},
    {-1 / 3., "-0.3333333333333333"},
    {21.294545348333408, "21.294545348333408"},
    {1e-4, "0.0001"},
    {9.999999999999999e-05, "9.999999999999999e-05"},
    {1e-05, "1e-05"},
    {0.001, "0.001"},
    {0.00123, "0.00123"},
    {1e16, "1e+16"},
    {9999999999999998.0, "9999999999999998.0"},
    {1e22, "1e+22"},
    {1e23, "1e+23"},
    {1e21, "1e+21"},
    {1e15, "1000000000000000.0"},
    {1e17, "1e+17"},
    {123456789012345680.0, "1.2345678901234568e+17"},
    {123456789012345.0, "123456789012345.0"},
    {1234567890123456.0, "1234567890123456.0"},
    {10.0, "10.0"},
    {100.0, "100.0"},
    {1.5, "1.5"},
    {0.5, "0.5"},
    {2.5, "2.5"},
    {1e100, "1e+100"},
    {1e-100, "1e-100"},
    {1e308, "1e+308"},
    {1e-300, "1e-300"},
    {3.141592653589793, "3.141592653589793"},
    {2.718281828459045, "2.718281828459045"},
    {6.02214076e23, "6.02214076e+23"},
    {9007199254740993.0, "9007199254740992.0"},
    {9007199254740992.0, "9007199254740992.0"},
    {9007199254740991.0, "9007199254740991.0"},
    {18014398509481988.0, "1.8014398509481988e+16"},
    {12345678.9, "12345678.9"},
    {1e-07, "1e-07"},
    {5e-05, "5e-05"},
    {1234.5678, "1234.5678"},
    {0.30000000000000004, "0.30000000000000004"},
    {100000.0, "100000.0"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {2.225073858507201e-308, "2.225073858507201e-308"},
    {5e-324, "5e-324"},
    {1e-323, "1e-323"},
    {4.9406564584124654e-324, "5e-324"},
    {-5e-324, "-5e-324"},
    {-1.7976931348623157e308, "-1.7976931348623157e+308"},
    /* 2^-25: two 17-digit strings are equally close; the even one wins. */
    {2.98023223876953125e-08, "2.9802322387695312e-08"},
    /* Hard cases from the Ryu test suite. */
    {1.8531501765868567e21, "1.8531501765868567e+21"},
    {-3.347727380279489e33, "-3.347727380279489e+33"},
    {1.9430376160308388e16, "1.9430376160308388e+16"},
    {-6.9741824662760956e19, "-6.9741824662760956e+19"},
    {4.3816050601147837e18, "4.3816050601147837e+18"},
    /* The values whose scaled products come closest to an integer from
     * either side (found by scripts/gen_pyfloat_table.py's analysis). */
    {6.802601037806062e+215, "6.802601037806062e+215"},
    {4.3222735873962545e+215, "4.3222735873962545e+215"},
    {4.322273587396255e+215, "4.322273587396255e+215"},
    {1.1555649177536797e+160, "1.1555649177536797e+160"},
    {1.1555649177536799e+160, "1.1555649177536799e+160"},
    {9.03725590277404e+159, "9.03725590277404e+159"},
    {7.0e-10, "7e-10"},
    {1.1e-09, "1.1e-09"},
    {0.0001234, "0.0001234"},
    {1234567.0, "1234567.0"},
    {33.333333333333336, "33.333333333333336"},
    {59.99999999999999, "59.99999999999999"},
};
/* Powers of two and of ten with their neighbours, small subnormals, the
 * repr thresholds and integers around 2^53, with their repr() likewise. */
static const struct bits_case bits_cases[] = {
    {0x0000000000000001ULL, "5e-324"},
    {0x0000000000000000ULL, "0.0"},
    {0x0000000000000002ULL, "1e-323"},
    {0x0000000000000003ULL, "1.5e-323"},
    {0x0000000000000004ULL, "2e-323"},
    {0x0000000000000005ULL, "2.5e-323"},
    {0x0000000000000008ULL, "4e-323"},
    {0x0000000000000007ULL, "3.5e-323"},
    {0x0000000000000009ULL, "4.4e-323"},
    {0x0000000000000010ULL, "8e-323"},
    {0x000000000000000fULL, "7.4e-323"},
    {0x0000000000000011ULL, "8.4e-323"},
    {0x0000000000000020ULL, "1.6e-322"},
    {0x000000000000001fULL, "1.53e-322"},
    {0x0000000000000021ULL, "1.63e-322"},
    {0x0000000000000040ULL, "3.16e-322"},
    {0x000000000000003fULL, "3.1e-322"},
    {0x0000000000000041ULL, "3.2e-322"},
    {0x0000000000000080ULL, "6.3e-322"},
    {0x000000000000007fULL, "6.27e-322"},
    {0x0000000000000081ULL, "6.37e-322"},
    {0x0000000000000100ULL, "1.265e-321"},
    {0x00000000000000ffULL, "1.26e-321"},
    {0x0000000000000101ULL, "1.27e-321"},
    {0x0000000000000200ULL, "2.53e-321"},
    {0x00000000000001ffULL, "2.525e-321"},
    {0x0000000000000201ULL, "2.535e-321"},
    {0x0000000000000400ULL, "5.06e-321"},
    {0x00000000000003ffULL, "5.054e-321"},
    {0x0000000000000401ULL, "5.064e-321"},
    {0x0000000000000800ULL, "1.012e-320"},
    {0x00000000000007ffULL, "1.0114e-320"},
    {0x0000000000000801ULL, "1.0123e-320"},
    {0x0000000000001000ULL, "2.0237e-320"},
    {0x0000000000000fffULL, "2.023e-320"},
    {0x0000000000001001ULL, "2.024e-320"},
    {0x0000000000002000ULL, "4.0474e-320"},
    {0x0000000000001fffULL, "4.047e-320"},
    {0x0000000000002001ULL, "4.048e-320"},
    {0x0008000000000000ULL, "1.1125369292536007e-308"},
    {0x0007ffffffffffffULL, "1.1125369292536e-308"},
    {0x0008000000000001ULL, "1.112536929253601e-308"},
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x000fffffffffffffULL, "2.225073858507201e-308"},
    {0x0010000000000001ULL, "2.225073858507202e-308"},
    {0x0020000000000000ULL, "4.450147717014403e-308"},
    {0x001fffffffffffffULL, "4.4501477170144023e-308"},
    {0x0020000000000001ULL, "4.450147717014404e-308"},
    {0x39b0000000000000ULL, "7.888609052210118e-31"},
    {0x39afffffffffffffULL, "7.888609052210117e-31"},
    {0x39b0000000000001ULL, "7.88860905221012e-31"},
    {0x3ca0000000000000ULL, "1.1102230246251565e-16"},
    {0x3c9fffffffffffffULL, "1.1102230246251564e-16"},
    {0x3ca0000000000001ULL, "1.1102230246251568e-16"},
    {0x3cb0000000000000ULL, "2.220446049250313e-16"},
    {0x3cafffffffffffffULL, "2.2204460492503128e-16"},
    {0x3cb0000000000001ULL, "2.2204460492503136e-16"},
    {0x3f10000000000000ULL, "6.103515625e-05"},
    {0x3f0fffffffffffffULL, "6.103515624999999e-05"},
    {0x3f10000000000001ULL, "6.103515625000001e-05"},
    {0x3f50000000000000ULL, "0.0009765625"},
    {0x3f4fffffffffffffULL, "0.0009765624999999999"},
    {0x3f50000000000001ULL, "0.0009765625000000002"},
    {0x3fe0000000000000ULL, "0.5"},
    {0x3fdfffffffffffffULL, "0.49999999999999994"},
    {0x3fe0000000000001ULL, "0.5000000000000001"},
    {0x3ff0000000000000ULL, "1.0"},
    {0x3fefffffffffffffULL, "0.9999999999999999"},
    {0x3ff0000000000001ULL, "1.0000000000000002"},
    {0x4000000000000000ULL, "2.0"},
    {0x3fffffffffffffffULL, "1.9999999999999998"},
    {0x4000000000000001ULL, "2.0000000000000004"},
    {0x4010000000000000ULL, "4.0"},
    {0x400fffffffffffffULL, "3.9999999999999996"},
    {0x4010000000000001ULL, "4.000000000000001"},
    {0x4020000000000000ULL, "8.0"},
    {0x401fffffffffffffULL, "7.999999999999999"},
    {0x4020000000000001ULL, "8.000000000000002"},
    {0x4090000000000000ULL, "1024.0"},
    {0x408fffffffffffffULL, "1023.9999999999999"},
    {0x4090000000000001ULL, "1024.0000000000002"},
    {0x4320000000000000ULL, "2251799813685248.0"},
    {0x431fffffffffffffULL, "2251799813685247.8"},
    {0x4320000000000001ULL, "2251799813685248.5"},
    {0x4330000000000000ULL, "4503599627370496.0"},
    {0x432fffffffffffffULL, "4503599627370495.5"},
    {0x4330000000000001ULL, "4503599627370497.0"},
    {0x4340000000000000ULL, "9007199254740992.0"},
    {0x433fffffffffffffULL, "9007199254740991.0"},
    {0x4340000000000001ULL, "9007199254740994.0"},
    {0x4350000000000000ULL, "1.8014398509481984e+16"},
    {0x434fffffffffffffULL, "1.8014398509481982e+16"},
    {0x4350000000000001ULL, "1.8014398509481988e+16"},
    {0x4360000000000000ULL, "3.602879701896397e+16"},
    {0x435fffffffffffffULL, "3.6028797018963964e+16"},
    {0x4360000000000001ULL, "3.6028797018963976e+16"},
    {0x4370000000000000ULL, "7.205759403792794e+16"},
    {0x436fffffffffffffULL, "7.205759403792793e+16"},
    {0x4370000000000001ULL, "7.205759403792795e+16"},
    {0x43e0000000000000ULL, "9.223372036854776e+18"},
    {0x43dfffffffffffffULL, "9.223372036854775e+18"},
    {0x43e0000000000001ULL, "9.223372036854778e+18"},
    {0x43f0000000000000ULL, "1.8446744073709552e+19"},
    {0x43efffffffffffffULL, "1.844674407370955e+19"},
    {0x43f0000000000001ULL, "1.8446744073709556e+19"},
    {0x4630000000000000ULL, "1.2676506002282294e+30"},
    {0x462fffffffffffffULL, "1.2676506002282293e+30"},
    {0x4630000000000001ULL, "1.2676506002282297e+30"},
    {0x7e70000000000000ULL, "1.0715086071862673e+301"},
    {0x7e6fffffffffffffULL, "1.0715086071862672e+301"},
    {0x7e70000000000001ULL, "1.0715086071862676e+301"},
    {0x7fc0000000000000ULL, "2.247116418577895e+307"},
    {0x7fbfffffffffffffULL, "2.2471164185778946e+307"},
    {0x7fc0000000000001ULL, "2.2471164185778954e+307"},
    {0x7fd0000000000000ULL, "4.49423283715579e+307"},
    {0x7fcfffffffffffffULL, "4.4942328371557893e+307"},
    {0x7fd0000000000001ULL, "4.494232837155791e+307"},
    {0x7fe0000000000000ULL, "8.98846567431158e+307"},
    {0x7fdfffffffffffffULL, "8.988465674311579e+307"},
    {0x7fe0000000000001ULL, "8.988465674311582e+307"},
    {0x00000000000007e8ULL, "1e-320"},
    {0x00000000000007e7ULL, "9.995e-321"},
    {0x00000000000007e9ULL, "1.0005e-320"},
    {0x000012688b70e62bULL, "1e-310"},
    {0x000012688b70e62aULL, "9.9999999999995e-311"},
    {0x000012688b70e62cULL, "1.00000000000005e-310"},
    {0x000730d67819e8d2ULL, "1e-308"},
    {0x000730d67819e8d1ULL, "9.999999999999994e-309"},
    {0x000730d67819e8d3ULL, "1.0000000000000004e-308"},
    {0x0031fa182c40c60dULL, "1e-307"},
    {0x0031fa182c40c60cULL, "9.999999999999997e-308"},
    {0x0031fa182c40c60eULL, "1.0000000000000001e-307"},
    {0x2b2bff2ee48e0530ULL, "1e-100"},
    {0x2b2bff2ee48e052fULL, "9.999999999999999e-101"},
    {0x2b2bff2ee48e0531ULL, "1.0000000000000001e-100"},
    {0x3b5e392010175ee6ULL, "1e-22"},
    {0x3b5e392010175ee5ULL, "9.999999999999999e-23"},
    {0x3b5e392010175ee7ULL, "1.0000000000000002e-22"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},
    {0x3ee4f8b588e368f0ULL, "9.999999999999999e-06"},
    {0x3ee4f8b588e368f2ULL, "1.0000000000000003e-05"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3f1a36e2eb1c432cULL, "9.999999999999999e-05"},
    {0x3f1a36e2eb1c432eULL, "0.00010000000000000002"},
    {0x3f50624dd2f1a9fcULL, "0.001"},
    {0x3f50624dd2f1a9fbULL, "0.0009999999999999998"},
    {0x3f50624dd2f1a9fdULL, "0.0010000000000000002"},
    {0x3fb999999999999aULL, "0.1"},
    {0x3fb9999999999999ULL, "0.09999999999999999"},
    {0x3fb999999999999bULL, "0.10000000000000002"},
    {0x4024000000000000ULL, "10.0"},
    {0x4023ffffffffffffULL, "9.999999999999998"},
    {0x4024000000000001ULL, "10.000000000000002"},
    {0x430c6bf526340000ULL, "1000000000000000.0"},
    {0x430c6bf52633ffffULL, "999999999999999.9"},
    {0x430c6bf526340001ULL, "1000000000000000.1"},
    {0x4341c37937e08000ULL, "1e+16"},
    {0x4341c37937e07fffULL, "9999999999999998.0"},
    {0x4341c37937e08001ULL, "1.0000000000000002e+16"},
    {0x4376345785d8a000ULL, "1e+17"},
    {0x4376345785d89fffULL, "9.999999999999998e+16"},
    {0x4376345785d8a001ULL, "1.0000000000000002e+17"},
    {0x4480f0cf064dd592ULL, "1e+22"},
    {0x4480f0cf064dd591ULL, "9.999999999999998e+21"},
    {0x4480f0cf064dd593ULL, "1.0000000000000002e+22"},
    {0x44b52d02c7e14af6ULL, "1e+23"},
    {0x44b52d02c7e14af5ULL, "9.999999999999997e+22"},
    {0x44b52d02c7e14af7ULL, "1.0000000000000001e+23"},
    {0x54b249ad2594c37dULL, "1e+100"},
    {0x54b249ad2594c37cULL, "9.999999999999998e+99"},
    {0x54b249ad2594c37eULL, "1.0000000000000002e+100"},
    {0x7c9008896bcf54faULL, "1e+292"},
    {0x7c9008896bcf54f9ULL, "9.999999999999998e+291"},
    {0x7c9008896bcf54fbULL, "1.0000000000000002e+292"},
    {0x7e37e43c8800759cULL, "1e+300"},
    {0x7e37e43c8800759bULL, "9.999999999999999e+299"},
    {0x7e37e43c8800759dULL, "1.0000000000000002e+300"},
    {0x7fac7b1f3cac7433ULL, "1e+307"},
    {0x7fac7b1f3cac7432ULL, "9.999999999999999e+306"},
    {0x7fac7b1f3cac7434ULL, "1.0000000000000001e+307"},
    {0x7fe1ccf385ebc8a0ULL, "1e+308"},
    {0x7fe1ccf385ebc89fULL, "9.999999999999998e+307"},
    {0x7fe1ccf385ebc8a1ULL, "1.0000000000000002e+308"},
    {0x000000000000000aULL, "5e-323"},
    {0x000000000000000bULL, "5.4e-323"},
    {0x0000000000000063ULL, "4.9e-322"},
    {0x0000000000000064ULL, "4.94e-322"},
    {0x0000000000000065ULL, "5e-322"},
    {0x0000000000003039ULL, "6.099e-320"},
    {0x3f1a36e2eb1c4325ULL, "9.99999999999999e-05"},
    {0x43b0000000000001ULL, "1.1529215046068472e+18"},
    {0x437b69b4ba630f35ULL, "1.2345678901234568e+17"},
};

static double from_bits(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static uint64_t to_bits(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* Formats x into a buffer full of sentinels and checks the length and that
 * nothing was written past the RP_PYFLOAT_MAX bytes the caller provides (the
 * bytes after the terminator are scratch space for the formatter). */
static const char *repr(double x, char buf[RP_PYFLOAT_MAX + 8])
{
    memset(buf, '#', RP_PYFLOAT_MAX + 8);
    size_t n = rp__pyfloat_repr(x, buf);
    CHECK(n < RP_PYFLOAT_MAX);
    CHECK(strlen(buf) == n);
    for (size_t i = RP_PYFLOAT_MAX; i < RP_PYFLOAT_MAX + 8; i++)
        CHECK(buf[i] == '#');
    return buf;
}

TEST(test_expression_vectors)
{
    char buf[RP_PYFLOAT_MAX + 8];
    for (size_t i = 0; i < sizeof expr_cases / sizeof expr_cases[0]; i++)
        CHECK_STR(repr(expr_cases[i].x, buf), expr_cases[i].want);
}

TEST(test_bit_pattern_vectors)
{
    char buf[RP_PYFLOAT_MAX + 8];
    for (size_t i = 0; i < sizeof bits_cases / sizeof bits_cases[0]; i++)
        CHECK_STR(repr(from_bits(bits_cases[i].bits), buf), bits_cases[i].want);
}

TEST(test_special_values)
{
    char buf[RP_PYFLOAT_MAX + 8];
    CHECK_STR(repr(INFINITY, buf), "inf");
    CHECK_STR(repr(-INFINITY, buf), "-inf");
    CHECK_STR(repr(NAN, buf), "nan");
    CHECK_STR(repr(copysign(NAN, -1.0), buf), "nan");
    CHECK_STR(repr(from_bits(0x7ff0000000000001ULL), buf), "nan");
    CHECK_STR(repr(from_bits(0xfff8000000000000ULL), buf), "nan");
    CHECK_STR(repr(from_bits(0x7fffffffffffffffULL), buf), "nan");
    CHECK_STR(repr(DBL_MAX, buf), "1.7976931348623157e+308");
    CHECK_STR(repr(-DBL_MAX, buf), "-1.7976931348623157e+308");
    CHECK_STR(repr(DBL_MIN, buf), "2.2250738585072014e-308");
    CHECK_STR(repr(DBL_TRUE_MIN, buf), "5e-324");
    CHECK_STR(repr(DBL_EPSILON, buf), "2.220446049250313e-16");
    CHECK_STR(repr(-0.0, buf), "-0.0");
}

TEST(test_longest_outputs)
{
    /* The longest texts: a sign, 17 digits and a three-digit exponent, or a
     * sign, "0.000" and 17 digits. */
    char buf[RP_PYFLOAT_MAX + 8];
    CHECK_STR(repr(-2.2250738585072014e-308, buf), "-2.2250738585072014e-308");
    CHECK_STR(repr(-0.00012345678901234567, buf), "-0.00012345678901234567");
    CHECK_STR(repr(-1234567890123456.7, buf), "-1234567890123456.8");
}

/* A small xorshift generator, so the runs are reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Splits a number's text into its significant digits (without trailing
 * zeros) and the decimal exponent of the first one; returns the count. */
static int significant_digits(const char *text, char *digits, int *exp10)
{
    char all[40];
    int count = 0, point = -1;
    const char *p = text;
    if (*p == '-')
        p++;
    for (; *p && *p != 'e' && count < 39; p++) {
        if (*p == '.')
            point = count;
        else
            all[count++] = *p;
    }
    if (point < 0)
        point = count;
    int first = 0;
    while (first < count - 1 && all[first] == '0')
        first++;
    int n = count - first;
    while (n > 1 && all[first + n - 1] == '0')
        n--;
    memcpy(digits, all + first, (size_t)n);
    digits[n] = '\0';
    *exp10 = point - 1 - first + (*p == 'e' ? atoi(p + 1) : 0);
    return n;
}

static void check_against_libc(double x)
{
    char buf[RP_PYFLOAT_MAX + 8], ours[24], theirs[40];
    int exp_ours = 0;
    repr(x, buf);

    CHECK(strtod(buf, NULL) == x || (x == 0 && strtod(buf, NULL) == 0));
    double ax = fabs(x);
    int exponent_form = strchr(buf, 'e') != NULL;
    CHECK(exponent_form == (ax < 1e-4 || ax >= 1e16));

    int n = significant_digits(buf, ours, &exp_ours);
    CHECK(n >= 1 && n <= 17);

    /* With a symmetric rounding interval (any significand but a power of
     * two), the correctly rounded n-digit string is the closest one, and
     * if no correctly rounded (n-1)-digit string reads back, none does. */
    if ((to_bits(x) & ((1ULL << 52) - 1)) == 0)
        return;
    snprintf(theirs, sizeof theirs, "%.*e", n - 1, x);
    char want[24];
    int exp_want = 0;
    significant_digits(theirs, want, &exp_want);
    if (strcmp(ours, want) != 0 || exp_ours != exp_want) {
        CHECK(0);
        fprintf(stderr, "  %s: digits %s e%d, libc %s\n", buf, ours, exp_ours, theirs);
    }
    if (n > 1) {
        snprintf(theirs, sizeof theirs, "%.*e", n - 2, x);
        if (strtod(theirs, NULL) == x) {
            CHECK(0);
            fprintf(stderr, "  %s: shorter %s also reads back\n", buf, theirs);
        }
    }
}

TEST(test_random_bit_patterns)
{
    for (int i = 0; i < 20000; i++) {
        double x = from_bits(next_random());
        if (isfinite(x))
            check_against_libc(x);
    }
}

TEST(test_random_prediction_values)
{
    /* Ride durations in minutes, the values the service prints most. */
    for (int i = 0; i < 20000; i++) {
        double x = 1.0 + 59.0 * (double)(next_random() >> 11) / 9007199254740992.0;
        check_against_libc(x);
        check_against_libc(-x / 1000.0);
    }
}

TEST(test_short_decimals)
{
    /* Values typed with few digits must come back as those digits. */
    char buf[RP_PYFLOAT_MAX + 8], text[48], digits[24];
    for (int i = 0; i < 20000; i++) {
        int len = 1 + (int)(next_random() % 15);
        uint64_t low = 1;
        for (int j = 1; j < len; j++)
            low *= 10;
        uint64_t m = low + next_random() % (9 * low);
        while (len > 1 && m % 10 == 0) {
            m /= 10;
            len--;
        }
        int e = (int)(next_random() % 620) - 320;
        snprintf(text, sizeof text, "%llue%d", (unsigned long long)m, e);
        double x = strtod(text, NULL);
        if (x == 0 || !isfinite(x))
            continue;
        check_against_libc(x);
        int exp10 = 0;
        int n = significant_digits(repr(x, buf), digits, &exp10);
        if (fabs(x) >= DBL_MIN)
            CHECK(n <= len);
    }
}

int main(void)
{
    RUN(test_expression_vectors);
    RUN(test_bit_pattern_vectors);
    RUN(test_special_values);
    RUN(test_longest_outputs);
    RUN(test_random_bit_patterns);
    RUN(test_random_prediction_values);
    RUN(test_short_decimals);
    return rp_t_done();
}
