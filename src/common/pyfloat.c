/* Python-exact float text: rp__pyfloat_repr prints a double exactly as
 * CPython 3.11's repr(float) does, without snprintf or strtod.
 *
 * CPython's repr takes the digits from David Gay's dtoa in mode 0 (the
 * shortest digit string that reads back to the same double, the one closest
 * to the exact value when several are that short) and lays them out as
 * Python/pystrtod.c's format_float_short does for float_repr_style 'short'.
 * The digits here come from the Schubfach algorithm (R. Giulietti, "The
 * Schubfach way to render doubles", 2020), which computes the same shortest,
 * closest digits directly with a few 128-bit multiplications.  Unlike the
 * paper's Java code, the result is never padded to two digits (Java prints
 * 4.9E-324 where Python prints 5e-324), and "x is not an integer" is read
 * from all the low bits of the product, which scripts/gen_pyfloat_table.py
 * proves exact for every double.
 *
 * No C library packaged in Debian 12 does shortest round-trip formatting:
 * libdouble-conversion and libdragonbox are C++, Ryu is packaged only for
 * Rust, and the snprintf("%.17g") + strtod shortening loop costs over a
 * microsecond per value.  Hence this file.  It needs unsigned __int128 (gcc
 * and clang on 64-bit targets). */
#include "pyfloat.h"

#include "pyfloat_table.h"

#include <stdint.h>
#include <string.h>

__extension__ typedef unsigned __int128 rp__u128;

#define SIGNIFICAND_BITS 52
#define EXPONENT_BIAS 1075 /* 1023 plus the 52 fraction bits */
#define HIDDEN_BIT ((uint64_t)1 << SIGNIFICAND_BITS)
#define MASK63 (((uint64_t)1 << 63) - 1)

/* The longest digit string the conversion produces. */
#define MAX_DIGITS 17

/* floor(x / 2^n) without shifting a negative number. */
static inline int32_t floor_shift(int32_t x, int n)
{
    return x >= 0 ? x >> n : ~(~x >> n);
}

/* floor(log10(2^q)).  scripts/gen_pyfloat_table.py checks these three
 * approximations over every exponent they are used with. */
static inline int32_t floor_log10_pow2(int32_t q)
{
    return floor_shift(q * 1262611, 22);
}

/* floor(log10(3/4 * 2^q)). */
static inline int32_t floor_log10_three_quarters_pow2(int32_t q)
{
    return floor_shift(q * 1262611 - 524031, 22);
}

/* floor(log2(10^e)). */
static inline int32_t floor_log2_pow10(int32_t e)
{
    return floor_shift(e * 1741647, 19);
}

/* Round to odd of x = cp * g / 2^127: floor(x), with the lowest bit forced
 * to one when x is not an integer.  g overestimates the exact power of ten
 * by less than one unit, which adds at most cp to the 127 fraction bits of
 * the product; the table generator proves that a genuine fraction always
 * exceeds that. */
static inline uint64_t round_to_odd(const uint64_t g[2], uint64_t cp)
{
    rp__u128 lo = (rp__u128)g[1] * cp;
    rp__u128 top = (rp__u128)g[0] * cp + (uint64_t)(lo >> 64);
    uint64_t integral = (uint64_t)(top >> 63);
    int fraction = ((uint64_t)top & MASK63) != 0 || (uint64_t)lo > cp;
    return integral | (uint64_t)fraction;
}

/* The shortest decimal d * 10^*k that rounds to c * 2^q (closest to it among
 * equally short ones).  d may end in zeros, and d < 10^17.  irregular marks a
 * power of two above the smallest normal, whose lower neighbour is only half
 * an ulp away. */
static inline uint64_t to_decimal(uint64_t c, int32_t q, int irregular, int32_t *k_out)
{
    const uint64_t cb = c << 2;
    const uint64_t cbl = cb - 2 + (uint64_t)irregular;
    const uint64_t cbr = cb + 2;
    const int32_t k = irregular ? floor_log10_three_quarters_pow2(q) : floor_log10_pow2(q);
    const int h = (int)(q + floor_log2_pow10(-k) + 2);
    const uint64_t *g = rp__pf_pow10[k - RP_PF_K_MIN];

    /* vb is 4 v / 10^k rounded to odd; vbl and vbr do the same for the ends
     * of the rounding interval, which belong to it when c is even. */
    const uint64_t vb = round_to_odd(g, cb << h);
    const uint64_t vbl = round_to_odd(g, cbl << h);
    const uint64_t vbr = round_to_odd(g, cbr << h);
    const uint64_t open = c & 1;
    const uint64_t lower = vbl + open;
    const uint64_t upper = vbr - open;
    const uint64_t s = vb >> 2;

    /* At most one multiple of 10^(k+1) fits in the interval; if one does,
     * it is the shortest answer.  With s < 10 there is none shorter than a
     * single digit, so the closest single digit is chosen below instead. */
    if (s >= 10) {
        const uint64_t sp = s / 10;
        const int up_in = lower <= 40 * sp;
        const int wp_in = 40 * sp + 40 <= upper;
        if (up_in != wp_in) {
            *k_out = k + 1;
            return sp + (uint64_t)wp_in;
        }
    }

    /* Otherwise the answer is s or s + 1 times 10^k, whichever is inside,
     * or the closer one to v when both are. */
    *k_out = k;
    const int u_in = lower <= 4 * s;
    const int w_in = 4 * s + 4 <= upper;
    if (u_in != w_in)
        return s + (uint64_t)w_in;
    const uint64_t mid = 4 * s + 2;
    return s + (uint64_t)(vb > mid || (vb == mid && (s & 1) != 0));
}

static const uint64_t pow10_u64[MAX_DIGITS + 1] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pyfloat.c stores digit bytes assuming a little-endian target"
#endif

#define ASCII_ZEROS 0x3030303030303030ULL

/* The eight decimal digits of v < 10^8 as byte values 0..9, the most
 * significant in the lowest byte (first in memory on a little-endian
 * target).  v is split into two 4-digit halves held in 32-bit lanes, then
 * each lane into 2-digit quarters in 16-bit lanes, then into single digits
 * in bytes; each multiply-and-shift divides every lane by 100 or 10 at once
 * and is exact for the values involved. */
static inline uint64_t digits8(uint32_t v)
{
    uint64_t x = (v / 10000) | (uint64_t)(v % 10000) << 32;
    uint64_t q = ((x * 10486) >> 20) & 0x0000007F0000007FULL;
    x = (x - q * 100) << 16 | q;
    q = ((x * 103) >> 10) & 0x000F000F000F000FULL;
    return (x - q * 10) << 8 | q;
}

static inline void store8(char *p, uint64_t bytes)
{
    memcpy(p, &bytes, 8);
}

/* Number of decimal digits of 1 <= d < 10^17. */
static inline int decimal_length(uint64_t d)
{
    /* 1233 / 4096 is just above log10(2), so this is the length or one less. */
    const int bits = 64 - __builtin_clzll(d);
    const int len = (bits * 1233) >> 12;
    return len + (d >= pow10_u64[len]);
}

/* Writes the exponent part of the exponent form: "e", a sign and at least
 * two digits, as format_float_short's "%+.02d" does. */
static inline char *put_exponent(char *p, int e)
{
    unsigned u = (unsigned)(e < 0 ? -e : e);
    p[0] = 'e';
    p[1] = e < 0 ? '-' : '+';
    if (u >= 100) {
        p[2] = (char)('0' + u / 100);
        u %= 100;
        p++;
    }
    p[2] = (char)('0' + u / 10);
    p[3] = (char)('0' + u % 10);
    return p + 4;
}

/* Lays out d * 10^k as format_float_short does for repr.  Copies whole
 * 8- and 16-byte blocks where that is faster than exact lengths, so bytes
 * after the terminator may be overwritten, never beyond the RP_PYFLOAT_MAX
 * bytes of the caller's buffer. */
static inline size_t format_decimal(char *out, char *p, uint64_t d, int32_t k)
{
    /* The 17-digit text of d, padded with '0' bytes after it so that the
     * fixed-size copies below never read past the array. */
    char digits[48];
    const uint64_t high9 = d / 100000000;
    const uint64_t mid = digits8((uint32_t)(high9 % 100000000));
    const uint64_t low = digits8((uint32_t)(d % 100000000));
    digits[0] = (char)('0' + high9 / 100000000);
    store8(digits + 1, mid | ASCII_ZEROS);
    store8(digits + 9, low | ASCII_ZEROS);
    store8(digits + 17, ASCII_ZEROS);
    store8(digits + 25, ASCII_ZEROS);
    store8(digits + 33, ASCII_ZEROS);

    /* Zero digit bytes at the top of a word are trailing zeros of d. */
    const int trailing = low != 0 ? __builtin_clzll(low) / 8 : mid != 0 ? 8 + __builtin_clzll(mid) / 8 : 16;
    const int len = decimal_length(d);
    const int n = len - trailing;
    const char *first = digits + (MAX_DIGITS - len);

    /* The digits read 0.ddd * 10^decpt; format_float_short switches to the
     * exponent form when decpt <= -4 or decpt > 16. */
    const int decpt = len + k;
    if (decpt <= -4 || decpt > 16) {
        p[0] = first[0];
        p[1] = '.';
        memcpy(p + 2, first + 1, 16);
        p = put_exponent(p + (n > 1 ? n + 1 : 1), decpt - 1);
    } else if (decpt <= 0) {
        memcpy(p, "0.000", 5);
        memcpy(p + 2 - decpt, first, 24);
        p += 2 - decpt + n;
    } else if (decpt < n) {
        /* At most 16 digits follow the point, copied as one or two blocks
         * (a loop here would become a memcpy call). */
        memcpy(p, first, 16);
        memcpy(p + decpt + 1, first + decpt, 8);
        if (n - decpt > 8)
            memcpy(p + decpt + 9, first + decpt + 8, 8);
        p[decpt] = '.';
        p += n + 1;
    } else {
        /* An integer: the bytes after the significant digits are zeros. */
        memcpy(p, first, 16);
        p[decpt] = '.';
        p[decpt + 1] = '0';
        p += decpt + 2;
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t rp__pyfloat_repr(double x, char *out)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    const uint64_t fraction = bits & (HIDDEN_BIT - 1);
    const uint32_t biased = (uint32_t)(bits >> SIGNIFICAND_BITS) & 0x7ff;
    char *p = out;

    if (biased == 0x7ff) {
        if (fraction != 0) {
            memcpy(out, "nan", 4); /* Python drops the sign of a NaN. */
            return 3;
        }
        if (bits >> 63)
            *p++ = '-';
        memcpy(p, "inf", 4);
        return (size_t)(p - out) + 3;
    }
    if (bits >> 63)
        *p++ = '-';
    if (biased == 0 && fraction == 0) {
        memcpy(p, "0.0", 4);
        return (size_t)(p - out) + 3;
    }

    /* |x| = c * 2^q with c < 2^53. */
    uint64_t c = fraction;
    int32_t q = 1 - EXPONENT_BIAS;
    if (biased != 0) {
        c |= HIDDEN_BIT;
        q = (int32_t)biased - EXPONENT_BIAS;
    }

    uint64_t d;
    int32_t k;
    if (q <= 0 && q > -SIGNIFICAND_BITS - 1 && (c & (((uint64_t)1 << -q) - 1)) == 0) {
        /* An integer below 2^53 is its own shortest form: its neighbours
         * are at most one unit away, so no shorter decimal reads back as
         * it.  (Subnormals never get here: their q is -1074.) */
        d = c >> -q;
        k = 0;
    } else {
        d = to_decimal(c, q, fraction == 0 && biased > 1, &k);
    }
    return format_decimal(out, p, d, k);
}
