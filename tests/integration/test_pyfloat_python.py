"""Compare rp__pyfloat_repr with CPython's repr(float) on millions of doubles.

Generates a fixed, seeded set of doubles (uniformly random bit patterns,
random decimals of 1 to 17 digits with random exponents, neighbours of
powers of two and of ten, integers around 2^53, subnormals, and the repr
thresholds 1e-4 and 1e16 with their neighbours), feeds their bit patterns to
the pyfloat_cli driver in one run, and checks every output line against
repr().  Prints the first mismatches and "N passed, N failed" (counting
values); exits 1 on any mismatch.

The driver is $RIDEPRED_BUILD_DIR/pyfloat_cli (default: build/ under the
source tree).  Run as: /usr/bin/python3 tests/integration/test_pyfloat_python.py
"""

import math
import os
import random
import struct
import subprocess
import sys

SEED = 20240611
N_RANDOM_BITS = 1_100_000
N_RANDOM_DECIMALS = 700_000
N_SUBNORMALS = 100_000
N_NEAR_2_53 = 50_000
SHOW_MISMATCHES = 20

PACK = struct.Struct(">d")
UNPACK_BITS = struct.Struct(">Q")


def from_bits(b):
    return PACK.unpack(UNPACK_BITS.pack(b))[0]


def neighbours(x, count):
    """x and up to count doubles on each side of it."""
    out = [x]
    lo = hi = x
    for _ in range(count):
        lo = math.nextafter(lo, -math.inf)
        hi = math.nextafter(hi, math.inf)
        out += [lo, hi]
    return out


def generate(rng):
    values = []

    # Uniformly random bit patterns: every exponent, both signs, NaNs and
    # infinities included.
    values += [from_bits(rng.getrandbits(64)) for _ in range(N_RANDOM_BITS)]

    # Random decimals with 1..17 significant digits and random exponents,
    # the values people type and the shortest forms most likely to matter.
    for _ in range(N_RANDOM_DECIMALS):
        digits = rng.randint(1, 17)
        mantissa = rng.randrange(10 ** (digits - 1), 10 ** digits)
        exponent = rng.randint(-330, 310)
        x = float("%de%d" % (mantissa, exponent))
        values.append(-x if rng.random() < 0.5 else x)

    # Every power of two (the irregular-spacing case) and of ten, with
    # neighbours.
    for e in range(-1074, 1024):
        values += neighbours(math.ldexp(1.0, e), 2)
    for e in range(-324, 309):
        values += neighbours(float("1e%d" % e), 3)

    # Integers around 2^53, where spacing goes from 1 to 2, and exact
    # integers across the positional range.
    for _ in range(N_NEAR_2_53):
        values.append(float(2 ** 53 + rng.randint(-10 ** 6, 10 ** 6)))
    for e in range(0, 64):
        for delta in range(-3, 4):
            values.append(float(2 ** e + delta))
            values.append(float(10 ** min(e, 22) + delta))

    # Subnormals, small ones exhaustively, and the normal boundary.
    values += [from_bits(b) for b in range(0, 5000)]
    values += [from_bits(rng.randrange(1, 1 << 52)) for _ in range(N_SUBNORMALS)]
    values += neighbours(2.2250738585072014e-308, 50)

    # The switches between positional and exponent form.
    for t in (1e-4, 1e16, 1e-5, 1e15, 1e17, 9999999999999998.0):
        values += neighbours(t, 1000)

    # Typical outputs of the service: predicted minutes, and rounded ones.
    values += [rng.uniform(1.0, 60.0) for _ in range(50_000)]
    values += [round(rng.uniform(0.0, 120.0), rng.randint(0, 6)) for _ in range(20_000)]

    # Specials.
    values += [0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan,
               from_bits(0x7FF0000000000001), from_bits(0xFFFFFFFFFFFFFFFF)]
    return values


def main():
    build = os.environ.get("RIDEPRED_BUILD_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    driver = os.path.join(build, "pyfloat_cli")
    if not os.access(driver, os.X_OK):
        print("pyfloat_cli not found at %s" % driver)
        return 1

    values = generate(random.Random(SEED))
    bits = [PACK.pack(x).hex() for x in values]
    stdin = ("\n".join(bits) + "\n").encode()
    run = subprocess.run([driver], input=stdin, stdout=subprocess.PIPE, check=False)
    if run.returncode != 0:
        print("pyfloat_cli exited with status %d" % run.returncode)
        return 1
    got = run.stdout.decode().split("\n")
    if got and got[-1] == "":
        got.pop()
    if len(got) != len(values):
        print("pyfloat_cli printed %d lines for %d values" % (len(got), len(values)))
        return 1

    failed = 0
    for x, b, line in zip(values, bits, got):
        want = repr(x)
        if line != want:
            failed += 1
            if failed <= SHOW_MISMATCHES:
                print("mismatch: bits %s: got %s, want %s" % (b, line, want))
    print("%d passed, %d failed" % (len(values) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
