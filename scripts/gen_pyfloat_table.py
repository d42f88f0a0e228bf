#!/usr/bin/env python3
"""Generate src/common/pyfloat_table.h, the powers of ten for the Schubfach
float-to-text conversion in src/common/pyfloat.c.

For every decimal exponent k that the conversion can need, the table holds

    g_k = floor(beta_k) + 1,   where 10^-k = beta_k * 2^r_k, 2^125 <= beta_k < 2^126,

as two 64-bit halves (R. Giulietti, "The Schubfach way to render doubles",
section 9).  Everything is computed with exact Python integers.

Before writing anything, the script also checks the facts pyfloat.c relies on:

  * the integer approximations of floor(log10(2^q)), floor(log10(3/4 2^q)) and
    floor(log2(10^k)) that pyfloat.c uses (their constants are looked up in
    pyfloat.c) are exact over the whole range;
  * the shift h = q + floor(log2(10^-k)) + 2 stays in [2, 5], so the scaled
    significands cp = cb << h below fit in 60 bits;
  * the round-to-odd product is exact: for every binary exponent q and every
    scaled significand cb (4c - 2, 4c - 1, 4c or 4c + 2) that can occur with
    it, x = cb * 2^q * 10^-k is either an integer or has a fractional part far
    enough from 0 and 1 that the truncated product pyfloat.c computes with
    g_k (an overestimate of beta_k) cannot blur the two cases; see
    check_round_to_odd.  The bounds come from an exact Euclid-style minimum of
    (a*x + b) mod m over a range, cross-checked by brute force on small cases.
    (Testing only the top 63 fraction bits, as the paper's Java code does,
    would not pass this check: near q = 664 a fractional part is as small as
    2^-65.4.  So pyfloat.c compares all 127 fraction bits with cp.)

Usage: scripts/gen_pyfloat_table.py [output-path]
(default: src/common/pyfloat_table.h in the source tree).
"""

import os
import random
import sys
from fractions import Fraction

# Binary exponent range of doubles written as c * 2^q with c < 2^53.
Q_MIN = -1074
Q_MAX = 971

# The integer logarithm approximations used in pyfloat.c; they must match.
LOG10_POW2_MUL, LOG10_POW2_SHIFT = 1262611, 22
LOG10_3Q_POW2_SUB = 524031
LOG2_POW10_MUL, LOG2_POW10_SHIFT = 1741647, 19

CP_BITS = 60


def floor_log10_pow2(q):
    return (q * LOG10_POW2_MUL) >> LOG10_POW2_SHIFT


def floor_log10_three_quarters_pow2(q):
    return (q * LOG10_POW2_MUL - LOG10_3Q_POW2_SUB) >> LOG10_POW2_SHIFT


def floor_log2_pow10(e):
    return (e * LOG2_POW10_MUL) >> LOG2_POW10_SHIFT


def exact_floor_log10(x):
    """floor(log10(x)) for a positive Fraction x, exactly."""
    e = 0
    while Fraction(10) ** (e + 1) <= x:
        e += 1
    while Fraction(10) ** e > x:
        e -= 1
    return e


def exact_floor_log2(x):
    """floor(log2(x)) for a positive Fraction x, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    while Fraction(2) ** e > x:
        e -= 1
    return e


def min_lin_mod(n, m, a, b):
    """min over 0 <= x < n of (a*x + b) mod m, for n >= 1 and m >= 1.

    Within a run where a*x + b does not pass a multiple of m the values grow,
    so the minimum is b or a value just after a wrap.  The value after the
    t-th wrap is (b - t*m) mod a, a problem of the same form with modulus a;
    flipping x to n-1-x first keeps a <= m/2, so the modulus at least halves
    at every step."""
    best = None
    while True:
        a %= m
        b %= m
        if 2 * a > m:
            b = (a * (n - 1) + b) % m
            a = m - a
        best = b if best is None else min(best, b)
        if a == 0:
            return best
        wraps = (a * (n - 1) + b) // m
        if wraps == 0:
            return best
        n, m, a, b = wraps, a, (-m) % a, (b - m) % a


def check_min_lin_mod():
    rng = random.Random(12345)
    for _ in range(20000):
        m = rng.randint(1, 400)
        a, b = rng.randint(0, 3 * m), rng.randint(0, 3 * m)
        n = rng.randint(1, 3 * m)
        want = min((a * x + b) % m for x in range(n))
        assert min_lin_mod(n, m, a, b) == want, (n, m, a, b)


def frac_bounds(mult, lo, hi):
    """For the non-integer values of j*mult, lo <= j <= hi, return lower
    bounds on their fractional parts and on 1 minus their fractional parts,
    or None when every j*mult is an integer."""
    n, d = mult.numerator, mult.denominator
    if n % d == 0:
        return None
    if d <= hi:
        # Multiples of 1/d; the integer ones are allowed.
        return Fraction(1, d), Fraction(1, d)
    count = hi - lo + 1
    low = min_lin_mod(count, d, n, n * lo)
    high = d - 1 - min_lin_mod(count, d, -n, -n * lo - 1)
    assert low > 0
    return Fraction(low, d), Fraction(d - high, d)


def used_ks():
    ks = set()
    for q in range(Q_MIN, Q_MAX + 1):
        ks.add(floor_log10_pow2(q))
        if q > Q_MIN:
            ks.add(floor_log10_three_quarters_pow2(q))
    return min(ks), max(ks)


def check_constants_in_c(path):
    """The constants above must be the ones pyfloat.c uses."""
    with open(path) as f:
        source = f.read()
    for text in ("q * %d, %d" % (LOG10_POW2_MUL, LOG10_POW2_SHIFT),
                 "q * %d - %d, %d" % (LOG10_POW2_MUL, LOG10_3Q_POW2_SUB, LOG10_POW2_SHIFT),
                 "e * %d, %d" % (LOG2_POW10_MUL, LOG2_POW10_SHIFT)):
        assert text in source, "pyfloat.c does not use %r" % text


def check_logs():
    for q in range(Q_MIN, Q_MAX + 1):
        v = Fraction(2) ** q
        assert floor_log10_pow2(q) == exact_floor_log10(v), q
        assert floor_log10_three_quarters_pow2(q) == exact_floor_log10(v * Fraction(3, 4)), q
        for k in (floor_log10_pow2(q), floor_log10_three_quarters_pow2(q)):
            h = q + floor_log2_pow10(-k) + 2
            assert 2 <= h <= 5, (q, k, h)
    k_min, k_max = used_ks()
    for e in range(-k_max - 1, -k_min + 2):
        assert floor_log2_pow10(e) == exact_floor_log2(Fraction(10) ** e), e


def beta_and_g(k):
    p = Fraction(10) ** (-k)
    r = exact_floor_log2(p) - 125
    beta = p / Fraction(2) ** r
    assert 2 ** 125 <= beta < 2 ** 126
    g = beta.numerator // beta.denominator + 1
    return beta, g


def check_round_to_odd(q, k, cbs, beta, g):
    """Prove that pyfloat.c's product gives rop(x) for x = cb * 2^q * 10^-k.

    With cp = cb << h and P = cp * g, pyfloat.c takes floor(x) as
    floor(P / 2^127) and decides "x is not an integer" by P mod 2^127 > cp.
    P exceeds cp * beta = x * 2^127 by cp * (g - beta) <= cp, so this is
    right when every non-integer x has frac(x) * 2^127 > cp and
    1 - frac(x) > cp * (g - beta) / 2^127.  cbs is either a list of the
    possible cb or a range (lo, hi) of j with cb = 2j."""
    h = q + floor_log2_pow10(-k) + 2
    mult = beta * Fraction(2) ** h / Fraction(2) ** 127
    if isinstance(cbs, tuple):
        lo, hi = cbs
        cp_max = (2 * hi) << h
        bounds = frac_bounds(2 * mult, lo, hi)
    else:
        cp_max = max(cbs) << h
        bounds = None
        for cb in cbs:
            x = cb * mult
            f = x - x.numerator // x.denominator
            if f:
                b = (f, 1 - f)
                bounds = b if bounds is None else (min(bounds[0], b[0]), min(bounds[1], b[1]))
    assert cp_max < 2 ** CP_BITS
    if bounds is None:
        return
    assert bounds[0] * 2 ** 127 > cp_max, (q, k)
    assert bounds[1] > cp_max * (g - beta) / Fraction(2) ** 127, (q, k)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "src", "common", "pyfloat_table.h")

    check_constants_in_c(os.path.join(here, "..", "src", "common", "pyfloat.c"))
    check_min_lin_mod()
    check_logs()
    k_min, k_max = used_ks()
    table = {k: beta_and_g(k) for k in range(k_min, k_max + 1)}

    # Regular spacing: cb = 4c - 2, 4c, 4c + 2 are the even numbers 2j with
    # j in [2c - 1, 2c + 1], c < 2^53 (c >= 2^52 unless q is Q_MIN).
    # Irregular spacing (c = 2^52, q > Q_MIN): cb = 4c - 1, 4c, 4c + 2.
    for q in range(Q_MIN, Q_MAX + 1):
        k = floor_log10_pow2(q)
        j_lo = 1 if q == Q_MIN else 2 ** 53 - 1
        check_round_to_odd(q, k, (j_lo, 2 ** 54 - 1), *table[k])
        if q > Q_MIN:
            k = floor_log10_three_quarters_pow2(q)
            cbs = [2 ** 54 - 1, 2 ** 54, 2 ** 54 + 2]
            check_round_to_odd(q, k, cbs, *table[k])

    rows = []
    for k in range(k_min, k_max + 1):
        g = table[k][1]
        rows.append("    {0x%016XULL, 0x%016XULL}, /* k = %d */"
                    % (g >> 64, g & ((1 << 64) - 1), k))

    text = [
        "/* Generated by scripts/gen_pyfloat_table.py -- do not edit. */",
        "/* Powers of ten for the Schubfach conversion in pyfloat.c: entry",
        " * k - RP_PF_K_MIN holds g_k = floor(beta_k) + 1 as {high, low} 64-bit",
        " * halves, where 10^-k = beta_k * 2^r_k and 2^125 <= beta_k < 2^126. */",
        "#ifndef RP_COMMON_PYFLOAT_TABLE_H",
        "#define RP_COMMON_PYFLOAT_TABLE_H",
        "",
        "#include <stdint.h>",
        "",
        "#define RP_PF_K_MIN (%d)" % k_min,
        "#define RP_PF_K_MAX %d" % k_max,
        "",
        "static const uint64_t rp__pf_pow10[%d][2] = {" % (k_max - k_min + 1),
    ] + rows + [
        "};",
        "",
        "#endif",
        "",
    ]
    with open(out, "w") as f:
        f.write("\n".join(text))


if __name__ == "__main__":
    main()
