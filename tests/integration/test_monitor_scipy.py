#!/usr/bin/python3
"""`ridepred monitor` against SciPy: the course's week-5 setup, every figure.

The course's setup: the reference is green 2021-01's prepared rides (the
1-to-60-minute filter) with the model's predictions, the current data is
green 2021-03 cut by day, the model the course fixture (an MLflow sklearn
random forest).  `ridepred monitor --json` prints one object per day; this
test recomputes every figure of every day in Python:

- the trip files are read by an independent reader (tests/tools/rides.mjs,
  hyparquet), passenger_count, fare_amount and total_amount included;
- the predictions are ridepred's serving path (`ridepred invoke` on Kinesis
  events of the same rides: the course's fillna(0) gives trip_distance 0
  for a null); that path's parity with scikit-learn is
  test_pickle_parity.py's, so this test checks the monitoring, not the
  model.  `--write-reference` is checked too: its rows are the kept rides of
  2021-01 and its predictions invoke's, bit for bit;
- each column's test follows Evidently 0.4's rules (docs/monitoring.md) over
  SciPy's ks_2samp, wasserstein_distance, chisquare and jensenshannon; the
  dataset figures (drifted columns, dataset drift at a share of 0.5, the
  share of missing cells) are counted here.
Tolerance: 1e-9 * max(1, |SciPy|); counts, tests and flags exactly.

Then bad input: a reference without a column, an empty window, a window with
only missing values, NaN and Infinity in a CSV, a row the model cannot score
(trip_distance beyond float32 range for the forest), files that cannot be
read (exit 3, naming them), bad usage (exit 2).

Env: RIDEPRED_DATA_DIR (missing: SKIP, exit 77; a failure when CI is set),
RIDEPRED_FIXTURES_DIR (the course model), node with tests/tools/node_modules.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402
import ridepy  # noqa: E402
from rptest import check, say  # noqa: E402

TOL = 1e-9
EXTRA = ["passenger_count", "fare_amount", "total_amount"]
COURSE = [("passenger_count", "num"), ("trip_distance", "num"), ("fare_amount", "num"),
          ("total_amount", "num"), ("PULocationID", "cat"), ("DOLocationID", "cat"), ("prediction", "num")]
DAY_US = 86400 * 10**6
CSV_HEADER = ("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance,"
              "passenger_count,fare_amount,total_amount\n")


def read_rows(path):
    """Rows (pickup_us, dropoff_us, PU, DO, trip_distance, passenger_count, fare_amount, total_amount)."""
    p = subprocess.run(["node", os.path.join(rptest.TOOLS, "rides.mjs"), path, "--extra", ",".join(EXTRA)],
                       capture_output=True, text=True, cwd=rptest.TOOLS, check=False)
    if p.returncode != 0:
        raise RuntimeError("rides.mjs %s: %s" % (path, p.stderr[-2000:]))
    rows = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        rows.append(tuple(r[:4]) + tuple(math.nan if v is None else float(v) for v in r[4:]))
    return rows


def kept(r):
    if r[0] is None or r[1] is None or r[2] is None or r[3] is None:
        return False
    d = ((r[1] - r[0]) / 1e6) / 60
    return 1 <= d <= 60


def invoke_predictions(model, rows, tmp, tag):
    """ridepred's serving-path predictions of rows (trip_distance null -> 0, the course's fillna)."""
    preds = []
    for k in range(0, len(rows), 5000):
        chunk = rows[k:k + 5000]
        rides = [(r[2], r[3], 0.0 if math.isnan(r[4]) else r[4], k + i) for i, r in enumerate(chunk)]
        path = os.path.join(tmp, "%s-%d.json" % (tag, k))
        ridepy.write_json(path, ridepy.kinesis_event(rides))
        p = subprocess.run([rptest.BIN, "invoke", "--test-run", "--model", model, path], capture_output=True,
                           text=True, check=False, env=dict(os.environ, TEST_RUN="True"))
        if p.returncode != 0:
            raise RuntimeError("invoke: %s" % p.stderr[-2000:])
        preds += [e["prediction"]["ride_duration"] for e in json.loads(p.stdout)["predictions"]]
    if len(preds) != len(rows):
        raise RuntimeError("invoke answered %d predictions for %d rides" % (len(preds), len(rows)))
    return preds


def evidently_column(ref, cur, kind):
    """Evidently 0.4's get_one_column_drift with its default test, on SciPy; None when a side is empty."""
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return None
    keys = np.unique(np.concatenate([ref, cur]))
    n_values = len(keys)
    rc = np.bincount(np.searchsorted(keys, ref), minlength=n_values).astype(float)
    cc = np.bincount(np.searchsorted(keys, cur), minlength=n_values).astype(float)
    if len(ref) <= 1000:
        if kind == "num" and n_values > 5:
            p = stats.ks_2samp(ref, cur)[1]
            return "ks", p, p <= 0.05
        if n_values > 2:
            p = stats.chisquare(cc, rc * (len(cur) / len(ref)))[1]
            return "chisquare", p, p < 0.05
        if n_values == 1:
            return "z", 1.0, False
        p1 = (len(ref) - rc[0]) / len(ref)
        p2 = (len(cur) - cc[0]) / len(cur)
        pp = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
        z = (p1 - p2) / np.sqrt(pp * (1 - pp) * (1 / len(ref) + 1 / len(cur)))
        p = 2 * (1 - stats.norm.cdf(abs(z)))
        return "z", p, p < 0.05
    if kind == "num" and n_values > 5:
        w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
        return "wasserstein", w, w >= 0.1
    js = distance.jensenshannon(rc / len(ref), cc / len(cur))
    return "jensenshannon", js, js >= 0.1


def columns_of(rows, preds):
    """The course's columns as float arrays (location ids as numbers, null = NaN)."""
    def ids(i):
        return np.array([math.nan if r[i] is None else float(r[i]) for r in rows])
    return {"passenger_count": np.array([r[5] for r in rows]), "trip_distance": np.array([r[4] for r in rows]),
            "fare_amount": np.array([r[6] for r in rows]), "total_amount": np.array([r[7] for r in rows]),
            "PULocationID": ids(2), "DOLocationID": ids(3), "prediction": np.array(preds, dtype=float)}


def close(got, want):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None
    return got is not None and abs(got - want) <= TOL * max(1.0, abs(want))


def iso(us):
    import datetime
    return (datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_windows(ref_cols, cur_rows, cur_preds, window_us):
    """The windows as Python computes them (every field of --json)."""
    rows = [(r, p) for r, p in zip(cur_rows, cur_preds) if r[0] is not None]
    if not rows:
        return []
    idx = [r[0] // window_us for r, _ in rows]
    out = []
    for w in range(min(idx), max(idx) + 1):
        sel = [rp for rp, i in zip(rows, idx) if i == w]
        cur = columns_of([r for r, _ in sel], [p for _, p in sel])
        cols, drifted, missing = {}, 0, 0
        for name, kind in COURSE:
            res = evidently_column(ref_cols[name], cur[name], kind)
            miss = int(np.sum(~np.isfinite(cur[name])))
            missing += miss
            if res is None:
                cols[name] = {"test": None, "score": None, "drifted": False, "missing": miss}
            else:
                cols[name] = {"test": res[0], "score": float(res[1]), "drifted": bool(res[2]), "missing": miss}
                drifted += bool(res[2])
        cells = len(sel) * len(COURSE)
        out.append({"start": iso(w * window_us), "end": iso((w + 1) * window_us), "rides": len(sel),
                    "prediction_drift": cols["prediction"]["score"],
                    "prediction_drifted": cols["prediction"]["drifted"], "num_drifted_columns": drifted,
                    "share_drifted_columns": drifted / len(COURSE), "dataset_drift": drifted / len(COURSE) >= 0.5,
                    "share_missing_values": missing / cells if cells else None, "columns": cols})
    return out


def compare_windows(label, got, want):
    """Every field; returns the worst difference of a score."""
    if not check(len(got) == len(want), "%s: %d windows" % (label, len(want)), "got %d" % len(got)):
        return math.inf
    worst, bad = 0.0, []
    for g, w in zip(got, want):
        for k in ("start", "end", "rides", "prediction_drifted", "num_drifted_columns", "dataset_drift"):
            if g[k] != w[k]:
                bad.append((w["start"], k, g[k], w[k]))
        for k in ("prediction_drift", "share_drifted_columns", "share_missing_values"):
            if not close(g[k], w[k]):
                bad.append((w["start"], k, g[k], w[k]))
        if list(g["columns"]) != list(w["columns"]):
            bad.append((w["start"], "columns", list(g["columns"]), list(w["columns"])))
            continue
        for name, wc in w["columns"].items():
            gc = g["columns"][name]
            for k in ("test", "drifted", "missing"):
                if gc[k] != wc[k]:
                    bad.append((w["start"], name + "." + k, gc[k], wc[k]))
            if not close(gc["score"], wc["score"]):
                bad.append((w["start"], name + ".score", gc["score"], wc["score"]))
            elif wc["score"] is not None:
                worst = max(worst, abs(gc["score"] - wc["score"]) / max(1.0, abs(wc["score"])))
    check(not bad, "%s: every figure of every window as SciPy computes it" % label, "first: %r" % bad[:5])
    return worst


def monitor(*args, env=None):
    return subprocess.run([rptest.BIN, "monitor", *args], capture_output=True, text=True, check=False,
                          env=env or dict(os.environ, RIDEPRED_MONITOR_DB=""))


def jsonl(p):
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


class Setup:
    pass


S = Setup()


def course_month(tmp):
    ref_path, cur_path = str(ridepy.data_file(1)), str(ridepy.data_file(3))
    S.model = os.path.join(rptest.FIXTURES, "course-model")
    ref_rows = [r for r in read_rows(ref_path) if kept(r)]
    cur_rows = read_rows(cur_path)
    ref_preds = invoke_predictions(S.model, ref_rows, tmp, "ref")
    cur_preds = invoke_predictions(S.model, cur_rows, tmp, "cur")
    S.ref_cols = columns_of(ref_rows, ref_preds)
    say("  reference: %d kept rides of %s; current: %d rows of %s" % (len(ref_rows), ref_path, len(cur_rows),
                                                                     cur_path))
    # --write-reference: the kept rides and the serving path's predictions, bit for bit
    S.ref_csv = os.path.join(tmp, "reference.csv")
    p = monitor("--model", S.model, "--reference", ref_path, "--write-reference", S.ref_csv)
    if check(p.returncode == 0, "--write-reference writes the reference", p.stderr[-2000:]):
        with open(S.ref_csv) as f:
            header = f.readline().strip().split(",")
            body = [line.rstrip("\n").split(",") for line in f]
        check(header == ["%s:%s" % (k, n) for n, k in COURSE], "the reference's header", repr(header))
        with open(S.ref_csv) as f:
            S.ref_text = f.read()
        got = {n: np.array([math.nan if c[j] == "" else float(c[j]) for c in body]) for j, (n, _) in
               enumerate(COURSE)}
        same = len(body) == len(ref_rows) and all(
            np.array_equal(got[n], S.ref_cols[n], equal_nan=True) for n, _ in COURSE)
        check(same, "--write-reference: the %d kept rides, their columns and predictions bit for bit" %
              len(ref_rows), "%d rows" % len(body))
    # the month by day, reference from the trip file
    p = monitor("--json", "--model", S.model, "--reference", ref_path, cur_path)
    check(p.returncode == 0, "monitor --json over 2021-03 by day", p.stderr[-2000:])
    want = expected_windows(S.ref_cols, cur_rows, cur_preds, DAY_US)
    worst = compare_windows("2021-03 by day", jsonl(p), want)
    say("  %d days; worst relative difference of a score: %.3g" % (len(want), worst))
    check(len(want) == 31, "31 days in March")
    # the same from the reference file, and from a model directory holding it
    p2 = monitor("--json", "--model", S.model, "--reference", S.ref_csv, cur_path)
    check(p2.returncode == 0 and p2.stdout == p.stdout, "the reference file gives the same report",
          p2.stderr[-2000:])
    mdir = os.path.join(tmp, "model-dir")
    os.mkdir(mdir)
    p3 = monitor("--model", S.model, "--reference", ref_path, "--write-reference", mdir)
    p4 = monitor("--json", "--model", S.model, "--reference", mdir, cur_path)
    check(p3.returncode == 0 and p4.returncode == 0 and p4.stdout == p.stdout,
          "a directory holding ridepred-reference.csv gives the same report", p3.stderr + p4.stderr[-2000:])
    # 6-hour windows of the first three days (a CSV of them: the CSV reader's extra columns too)
    S.cur_rows, S.cur_preds = cur_rows, cur_preds
    first = [(r, q) for r, q in zip(cur_rows, cur_preds) if r[0] < cur_rows[0][0] // DAY_US * DAY_US + 3 * DAY_US]
    csv_path = os.path.join(tmp, "first-days.csv")
    write_csv(csv_path, [r for r, _ in first])
    p = monitor("--json", "--window", "6h", "--model", S.model, "--reference", S.ref_csv, csv_path)
    check(p.returncode == 0, "monitor --window 6h over a CSV", p.stderr[-2000:])
    compare_windows("6-hour windows (CSV)", jsonl(p), expected_windows(S.ref_cols, [r for r, _ in first],
                                                                      [q for _, q in first], 6 * 3600 * 10**6))
    # the table and the SVG
    svg = os.path.join(tmp, "drift.svg")
    p = monitor("--model", S.model, "--reference", S.ref_csv, "--svg", svg, cur_path)
    check(p.returncode == 0 and "2021-03-31T00:00:00Z" in p.stdout and "window start" in p.stdout,
          "the table names every day", p.stdout[:500] + p.stderr[-1000:])
    if check(os.path.exists(svg), "--svg writes the picture"):
        with open(svg) as f:
            text = f.read()
        check(text.startswith("<svg") and text.rstrip().endswith("</svg>") and "http" not in
              text.replace("http://www.w3.org/2000/svg", "") and text.count("<circle") == 31,
              "the SVG is self-contained, one point per day", text[:300])


SERVING = [("trip_distance", "num"), ("PULocationID", "cat"), ("DOLocationID", "cat"), ("prediction", "num")]


def streams(tmp):
    """Streams of ride events as REF and CURRENT: every record the function
    takes, predicted, in the window of its arrival; records it refuses are
    counted and left out; the serving columns by default; other columns
    refused."""
    if not hasattr(S, "cur_rows"):
        raise rptest.Skip("needs the first test's rows (RIDEPRED_TEST_ONLY selected this one alone)")
    store = os.path.join(tmp, "streams.db")
    env = dict(os.environ, RIDEPRED_MONITOR_DB="", RIDEPRED_LOCAL_STORE=store, RIDEPRED_STREAM_BACKEND="")
    rides = [r for r in S.cur_rows[:3000] if r[2] is not None and r[3] is not None and not math.isnan(r[4])]
    lines = [json.dumps({"ride": {"PULocationID": r[2], "DOLocationID": r[3], "trip_distance": r[4]},
                         "ride_id": i}) for i, r in enumerate(rides)]
    lines += ['{"ride": 5, "ride_id": "bad-1"}',
              '{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": "x"}, "ride_id": "bad-2"}']
    for argv, data in ((["streams", "create", "local:rides"], None), (["put", "local:rides", "-"], "\n".join(lines))):
        p = subprocess.run([rptest.BIN] + argv, input=data, capture_output=True, text=True, env=env, check=False)
        if not check(p.returncode == 0, "ridepred " + " ".join(argv), p.stderr[-1000:]):
            return
    p = monitor("--json", "--window", "366d", "--model", S.model, "--reference", str(ridepy.data_file(1)),
                "local:rides", env=env)
    if not check(p.returncode == 0, "monitor with a stream as CURRENT", p.stderr[-2000:]):
        return
    got = jsonl(p)
    check("records=2" in p.stderr and "bad-1" not in p.stderr.split("first=")[0],
          "the two records the function refuses are counted and named", p.stderr[-1000:])
    preds = invoke_predictions(S.model, rides, tmp, "stream")
    cur = {"trip_distance": np.array([r[4] for r in rides]), "PULocationID": np.array([float(r[2]) for r in rides]),
           "DOLocationID": np.array([float(r[3]) for r in rides]), "prediction": np.array(preds, dtype=float)}
    cols, drifted = {}, 0
    for name, kind in SERVING:
        t, score, d = evidently_column(S.ref_cols[name], cur[name], kind)
        cols[name] = {"test": t, "score": float(score), "drifted": bool(d), "missing": 0}
        drifted += bool(d)
    if check(len(got) == 1, "one window of arrival (366 days)", "%d windows" % len(got)):
        g = got[0]
        want = {"start": g["start"], "end": g["end"], "rides": len(rides), "prediction_drift":
                cols["prediction"]["score"], "prediction_drifted": cols["prediction"]["drifted"],
                "num_drifted_columns": drifted, "share_drifted_columns": drifted / 4,
                "dataset_drift": drifted / 4 >= 0.5, "share_missing_values": 0.0, "columns": cols}
        compare_windows("a stream's rides against 2021-01 (the serving columns)", got, [want])
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        start = datetime.datetime.strptime(g["start"], "%Y-%m-%dT%H:%M:%SZ")
        check(start <= now < start + datetime.timedelta(days=366), "the window is that of the arrival (now)",
              g["start"])
    # the stream as the reference too: every readable record, no duration filter
    p = monitor("--json", "--model", S.model, "--reference", "local:rides", "local:rides", env=env)
    g = jsonl(p)
    check(p.returncode == 0 and len(g) == 1 and g[0]["num_drifted_columns"] == 0 and
          g[0]["prediction_drift"] == 0.0 and g[0]["columns"]["prediction"]["test"] == "wasserstein",
          "a stream against itself: no drift (Wasserstein 0 over %d rides)" % len(rides), p.stdout[:600])
    p = monitor("--json", "--columns", "num:fare_amount", "--model", S.model, "--reference", "local:rides",
                "local:rides", env=env)
    check(p.returncode == 3 and "fare_amount" in p.stderr and "local:rides" in p.stderr,
          "a column a ride event does not carry: exit 3 naming the stream and the column", p.stderr[-1000:])
    p = monitor("--json", "--model", S.model, "--reference", "local:rides", "local:no_such_stream", env=env)
    check(p.returncode == 3 and "no_such_stream" in p.stderr, "a stream that does not exist: exit 3 naming it",
          p.stderr[-1000:])


def fmt_time(us):
    return iso(us).replace("T", " ").rstrip("Z")


def write_csv(path, rows):
    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return repr(v) if isinstance(v, float) else str(v)
    with open(path, "w") as f:
        f.write(CSV_HEADER)
        for r in rows:
            f.write(",".join([fmt_time(r[0]) if r[0] is not None else "", fmt_time(r[1]) if r[1] is not None
                              else ""] + [cell(v) for v in r[2:]]) + "\n")


def bad_inputs(tmp):
    model = os.path.join(rptest.FIXTURES, "course-model")
    if not hasattr(S, "ref_text"):
        raise rptest.Skip("needs the first test's reference (RIDEPRED_TEST_ONLY selected this one alone)")
    ref_csv = os.path.join(tmp, "reference.csv")
    with open(ref_csv, "w") as f:
        f.write(S.ref_text)
    # a reference without a column
    lacking = os.path.join(tmp, "lacking.csv")
    with open(ref_csv) as f, open(lacking, "w") as g:
        for line in f:
            g.write(",".join(c for j, c in enumerate(line.rstrip("\n").split(",")) if j != 2) + "\n")
    cur = os.path.join(tmp, "small.csv")
    base = S.cur_rows[:200]
    write_csv(cur, base)
    p = monitor("--model", model, "--reference", lacking, cur)
    check(p.returncode == 3 and "lacking.csv" in p.stderr and "fare_amount" in p.stderr,
          "a reference without a column: exit 3 naming the file and the column", p.stderr)
    # ... which --columns without it accepts
    p = monitor("--json", "--columns", "num:trip_distance;cat:PULocationID,DOLocationID", "--model", model,
                "--reference", lacking, cur)
    got = jsonl(p)
    check(p.returncode == 0 and got and list(got[0]["columns"]) == ["trip_distance", "PULocationID",
                                                                     "DOLocationID", "prediction"],
          "--columns: those columns and the prediction", p.stderr[-1000:])
    # an empty window: 5-minute windows over rides with gaps; and a file with no rows
    t0 = base[0][0] // DAY_US * DAY_US
    gap_rows = [(t0 + 60 * 10**6, t0 + 600 * 10**6) + base[0][2:], (t0 + 1260 * 10**6, t0 + 1900 * 10**6) + base[1][2:]]
    gaps = os.path.join(tmp, "gaps.csv")
    write_csv(gaps, gap_rows)
    p = monitor("--json", "--window", "5m", "--model", model, "--reference", ref_csv, gaps)
    got = jsonl(p)
    want = expected_windows(S.ref_cols, gap_rows, invoke_predictions(model, gap_rows, tmp, "gaps"), 300 * 10**6)
    check(p.returncode == 0 and len(got) == 5 and [w["rides"] for w in got] == [1, 0, 0, 0, 1],
          "empty windows between rides are reported (rides 0)", p.stdout + p.stderr)
    empty = got[1] if len(got) == 5 else {}
    check(empty.get("prediction_drift", 0) is None and empty.get("share_missing_values", 0) is None and
          empty.get("num_drifted_columns") == 0 and not empty.get("dataset_drift") and
          all(c["test"] is None and c["score"] is None for c in empty.get("columns", {}).values()),
          "an empty window: no score (null), nothing drifted", json.dumps(empty))
    compare_windows("windows with gaps", got, want)
    none = os.path.join(tmp, "none.csv")
    with open(none, "w") as f:
        f.write(CSV_HEADER)
    p = monitor("--json", "--model", model, "--reference", ref_csv, none)
    check(p.returncode == 0 and p.stdout == "", "a file with no rows: no window, exit 0", p.stdout + p.stderr)
    # a window with only missing values in some columns, NaN and Infinity in a CSV
    odd = os.path.join(tmp, "odd.csv")
    with open(odd, "w") as f:
        f.write(CSV_HEADER)
        day = fmt_time(t0).split(" ")[0]
        f.write("%s 01:00:00,%s 01:10:00,74,75,2.5,,nan,inf\n" % (day, day))
        f.write("%s 02:00:00,%s 02:20:00,74,42,4.5,,-inf,Infinity\n" % (day, day))
        f.write("%s 03:00:00,%s 03:20:00,41,42,,,NaN,-Infinity\n" % (day, day))
    odd_rows = read_csv_rows(odd)
    p = monitor("--json", "--model", model, "--reference", ref_csv, odd)
    got = jsonl(p)
    want = expected_windows(S.ref_cols, odd_rows, invoke_predictions(model, odd_rows, tmp, "odd"), DAY_US)
    check(p.returncode == 0 and len(got) == 1, "NaN and Infinity in a CSV are read", p.stderr)
    if got:
        c = got[0]["columns"]
        check(all(c[n]["test"] is None and c[n]["missing"] == 3 for n in EXTRA) and
              c["trip_distance"]["missing"] == 1 and got[0]["share_missing_values"] == 10 / 21,
              "columns with only missing values (empty, NaN, Infinity): untested, every cell missing",
              json.dumps(got[0]))
    compare_windows("missing values", got, want)
    # a row the model cannot score: trip_distance beyond float32 range for the forest
    huge = os.path.join(tmp, "huge.csv")
    with open(huge, "w") as f:
        f.write(CSV_HEADER)
        f.write("%s 01:00:00,%s 01:10:00,74,75,2.5,1,10,12\n" % (day, day))
        f.write("%s 02:00:00,%s 02:20:00,74,42,1e39,1,10,12\n" % (day, day))
    p = monitor("--json", "--model", model, "--reference", ref_csv, huge)
    got = jsonl(p)
    check(p.returncode == 0 and got and got[0]["columns"]["prediction"]["missing"] == 1 and
          got[0]["columns"]["trip_distance"]["missing"] == 0 and "cannot score" in p.stderr and
          "huge.csv row 1" in p.stderr,
          "a row the model cannot score: its prediction is missing, counted, and the row named on stderr",
          p.stdout + p.stderr)
    # files that cannot be read: exit 3 naming them
    p = monitor("--model", model, "--reference", ref_csv, os.path.join(tmp, "no-such.parquet"))
    check(p.returncode == 3 and "no-such.parquet" in p.stderr, "a missing current file: exit 3 naming it",
          p.stderr)
    p = monitor("--model", model, "--reference", os.path.join(tmp, "no-ref.parquet"), cur)
    check(p.returncode == 3 and "no-ref.parquet" in p.stderr, "a missing reference: exit 3 naming it", p.stderr)
    p = monitor("--model", model, "--reference", tmp, cur)
    check(p.returncode == 3 and "ridepred-reference.csv" in p.stderr,
          "a directory without a reference: exit 3 saying what it lacks", p.stderr)
    broken = os.path.join(tmp, "broken.csv")
    with open(broken, "w") as f:
        f.write("num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n1,2,3,4\n1,x,3,4\n")
    p = monitor("--columns", "num:trip_distance;cat:PULocationID,DOLocationID", "--model", model, "--reference",
                broken, cur)
    check(p.returncode == 3 and "broken.csv:3" in p.stderr, "a bad reference cell: exit 3 naming its line",
          p.stderr)
    p = monitor("--model", os.path.join(tmp, "no-model"), "--reference", ref_csv, cur)
    check(p.returncode == 3 and "no-model" in p.stderr, "a missing model: exit 3 naming it", p.stderr)
    # bad usage: exit 2
    for args in (["--reference", ref_csv], ["--window", "0", "--reference", ref_csv, cur],
                 ["--window", "1w", "--reference", ref_csv, cur], ["--columns", "x:a", "--reference", ref_csv, cur],
                 ["--columns", "num:a,a", "--reference", ref_csv, cur], [cur],
                 ["--reference", ref_csv, "--write-reference", os.path.join(tmp, "o.csv"), cur]):
        p = monitor("--model", model, *args)
        check(p.returncode == 2, "usage %r: exit 2" % (args,), p.stderr[-500:])
    p = monitor("--help")
    check(p.returncode == 0 and "--write-reference" in p.stdout and "exit status" in p.stdout, "--help")


def read_csv_rows(path):
    """Rows of one of this test's CSV files, as read_rows gives them (Python's float() reads nan, inf)."""
    import datetime
    rows = []
    with open(path) as f:
        f.readline()
        for line in f:
            c = line.rstrip("\n").split(",")

            def us(s):
                t = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")
                return int((t - datetime.datetime(1970, 1, 1)).total_seconds()) * 10**6
            rows.append((us(c[0]), us(c[1]), int(c[2]), int(c[3])) +
                        tuple(math.nan if v == "" else float(v) for v in c[4:]))
    return rows


def main():
    rptest.need_bin()
    rptest.need_data("green_tripdata_2021-01.parquet", "green_tripdata_2021-03.parquet")
    rptest.need_node("hyparquet")
    rptest.need_fixtures("course-model")
    rptest.run([("course month 2021-03 against 2021-01", course_month), ("bad input", bad_inputs), ("streams", streams)],
               tmp_prefix="test_monitor_scipy-")


if __name__ == "__main__":
    sys.exit(main())
