#!/usr/bin/env python3
"""Parity of src/monitor/drift.c with SciPy (Debian python3-scipy), through
tests/tools/drift_cli.

Each function is compared with the SciPy function Evidently calls, on random
samples (normal, shifted, heavy-tailed, rounded so that ties occur, small
integer categories and PULocationID-like ones), and rp__column_drift with
Evidently's default rules written here in Python over the same SciPy calls.
Tolerance: |c - scipy| <= 1e-9 * max(1, |scipy|): absolute for values of at
most 1 (p-values, D, Jensen-Shannon), relative above (chi-squared statistics,
Wasserstein distances).  Needs no data files."""
import os
import subprocess
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RIDEPRED_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
CLI = os.path.join(BUILD, "drift_cli")
TOL = 1e-9


def fmt(xs):
    return " ".join(repr(float(x)) for x in xs) if len(xs) else "empty"


def close(c, s):
    if np.isnan(s):
        return np.isnan(c)
    if np.isinf(s):
        return c == s
    return abs(c - s) <= TOL * max(1.0, abs(s))


def scipy_ks(a, b):
    return tuple(stats.ks_2samp(a, b)[:2])


def evidently_column(ref, cur, kind):
    """Evidently 0.4's get_one_column_drift + _get_default_stattest, on SciPy."""
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    n_values = len(keys)
    rc = np.array([np.sum(ref == k) for k in keys], dtype=float)
    cc = np.array([np.sum(cur == k) for k in keys], dtype=float)
    if len(ref) <= 1000:
        if kind == "num" and n_values > 5:
            p = stats.ks_2samp(ref, cur)[1]
            return "ks", p, p <= 0.05, n_values
        if n_values > 2:
            p = stats.chisquare(cc, rc * (len(cur) / len(ref)))[1]
            return "chisquare", p, p < 0.05, n_values
        if n_values == 1:
            return "z", 1.0, False, n_values
        p1 = (len(ref) - rc[0]) / len(ref)
        p2 = (len(cur) - cc[0]) / len(cur)
        pp = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
        z = (p1 - p2) / np.sqrt(pp * (1 - pp) * (1 / len(ref) + 1 / len(cur)))
        p = 2 * (1 - stats.norm.cdf(abs(z)))
        return "z", p, p < 0.05, n_values
    if kind == "num" and n_values > 5:
        w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
        return "wasserstein", w, w >= 0.1, n_values
    js = distance.jensenshannon(rc / len(ref), cc / len(cur))
    return "jensenshannon", js, js >= 0.1, n_values


def main():
    if not os.path.exists(CLI):
        print(f"FAIL: {CLI} is not built (make build)")
        return 1
    rng = np.random.default_rng(15)
    cases = []  # (command, a, b, expected-function)

    def samples():
        for n1, n2 in [(1, 1), (1, 5), (7, 7), (20, 33), (100, 100), (250, 300), (999, 1000), (1000, 4000),
                       (3000, 10000), (512, 768), (900, 15000), (12000, 20000), (40, 30000)]:
            yield rng.normal(0, 1, n1), rng.normal(0.1, 1.2, n2)
            yield np.round(rng.exponential(3, n1), 1), np.round(rng.exponential(3.3, n2), 1)
            yield rng.standard_t(2, n1) * 10, rng.standard_t(2, n2) * 10 + 0.5
            yield rng.integers(0, 4, n1).astype(float), rng.integers(0, 4, n2).astype(float)

    for a, b in samples():
        cases.append(("ks", a, b, scipy_ks))
        cases.append(("wasserstein", a, b, lambda a, b: (stats.wasserstein_distance(a, b),)))
    # kstwo.sf over every branch of _kolmogn: n up to 1000 (en < 1000 when the
    # reference has at most 1000 values) and beyond, x from 1/(2n) to 1.
    for n in [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 5000, 20000, 200000]:
        xs = np.concatenate([np.linspace(0.0, 1.0, 41), 1.0 / n * np.array([0.5, 0.7, 1.0, 1.3, 2.5]),
                             np.sqrt(np.array([0.3, 0.75, 0.76, 2.0, 2.3, 4.0, 4.2, 17.0, 19.0, 369.0]) / n),
                             (1.4 / n) ** (2 / 3) * np.array([0.9, 1.1])])
        xs = xs[(xs >= 0) & (xs <= 1)]
        cases.append(("kstwo", np.full(len(xs), float(n)), xs,
                      lambda ns, xs: tuple(stats.kstwo.sf(x, n) for n, x in zip(ns, xs))))
    for k in [2, 3, 10, 60, 260]:
        for n in [30, 1000, 50000]:
            obs = rng.multinomial(n, rng.dirichlet(np.ones(k)))
            ref = rng.multinomial(2 * n, rng.dirichlet(np.ones(k)) * 0.2 + 0.8 / k)
            exp = ref * (n / (2 * n))
            if np.all(exp > 0):
                cases.append(("chisquare", obs.astype(float), exp,
                              lambda a, b: tuple(stats.chisquare(a, b)[:2])))
            cases.append(("jensenshannon", obs / n, ref / (2 * n),
                          lambda a, b: (distance.jensenshannon(a, b),)))
    # Columns through Evidently's rules: every test gets picked.
    for nref, ncur in [(1, 1), (40, 60), (1000, 3000), (1001, 200), (5000, 20000), (800, 25000)]:
        num = [
            (rng.lognormal(1, 0.7, nref), rng.lognormal(1.05, 0.7, ncur)),
            (rng.integers(1, 6, nref).astype(float), rng.integers(1, 7, ncur).astype(float)),
            (rng.integers(0, 2, nref).astype(float), (rng.random(ncur) < 0.6).astype(float)),
            (np.full(nref, 3.0), np.full(ncur, 3.0)),
        ]
        for ref, cur in num:
            cases.append(("num", ref, cur, lambda a, b: evidently_column(a, b, "num")))
        loc = (rng.integers(1, 266, nref).astype(float), rng.integers(1, 266, ncur).astype(float))
        cases.append(("cat", *loc, lambda a, b: evidently_column(a, b, "cat")))
        two = (rng.choice([1.0, 2.0], nref), rng.choice([1.0, 2.0], ncur, p=[0.3, 0.7]))
        cases.append(("cat", *two, lambda a, b: evidently_column(a, b, "cat")))
    # Missing values: dropped before the test.
    ref = rng.normal(10, 2, 500)
    ref[::17] = np.nan
    ref[5] = np.inf
    cur = rng.normal(10.5, 2, 700)
    cur[::9] = -np.inf
    cases.append(("num", ref, cur, lambda a, b: evidently_column(a, b, "num")))

    text = "".join(f"{c}\n{fmt(a)}\n{fmt(b)}\n" for c, a, b, _ in cases)
    out = subprocess.run([CLI], input=text, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"FAIL: drift_cli exited {out.returncode}: {out.stderr}")
        return 1
    lines = out.stdout.splitlines()
    if len(lines) != len(cases):
        print(f"FAIL: {len(lines)} answers for {len(cases)} cases")
        return 1
    failures = 0
    worst = 0.0
    for (cmd, a, b, fn), line in zip(cases, lines):
        want = fn(a, b)
        got = line.split()
        if cmd in ("num", "cat"):
            ok = (got[0] == want[0] and close(float(got[1]), want[1]) and int(got[2]) == int(want[2])
                  and int(got[3]) == want[3])
            pairs = [(float(got[1]), want[1])] if got[0] != "error" else []
        else:
            ok = got[0] != "error" and len(got) == len(want) and all(
                close(float(g), w) for g, w in zip(got, want))
            pairs = list(zip(map(float, got), want)) if ok else []
        for g, w in pairs:
            if np.isfinite(w):
                worst = max(worst, abs(g - w) / max(1.0, abs(w)))
        if not ok:
            failures += 1
            print(f"FAIL: {cmd} n={len(a)},{len(b)}: C {line!r}, SciPy {want!r}")
    print(f"{len(cases)} cases, {failures} failures, worst |C - SciPy| / max(1, |SciPy|) = {worst:.3g}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
