#!/usr/bin/python3
"""ridepred evaluate: the report of a streamed run, checked against Python.

The first 2,000 rows of green_tripdata_2021-02 are replayed into a local
rides stream; the kept ones (the course's filter) are predicted by
`ridepred invoke` with the course model, which publishes the predictions to
a predictions stream; a duplicate prediction and an unreadable record are
added.  Every count of `evaluate --json`, the RMSE and MAE (recomputed here
from the published predictions and the rows as hyparquet reads them), the
latency order, the examples and the SVG picture are checked.  Then the same
predictions with three of them Infinity, -Infinity and NaN (what the
handler publishes when the model says so, as Python does): counted apart,
the RMSE over the finite ones.  Then bad inputs.

Env: RIDEPRED_BIN, RIDEPRED_DATA_DIR, RIDEPRED_FIXTURES_DIR (missing: SKIP,
exit 77; failure when CI is set).  Prints `N passed, N failed`.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import xml.dom.minidom
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import ridepy  # noqa: E402
import rptest  # noqa: E402

BIN = rptest.BIN
N = 2000
result = rptest.check
rptest.tally.quiet = True  # only failures are printed


def rp(args, env, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=env, timeout=300, **kw)


def duration(row):
    pu_t, do_t = row[0], row[1]
    return ((do_t - pu_t) / 1e6) / 60.0


def main():
    feb = Path(rptest.need_data(ridepy.data_file(2)))
    model = Path(rptest.need_fixtures("course-model"))
    rows = ridepy.load_rides(feb)
    _, _, rides = ridepy.prepare(rows)
    first = [r for r in rides if r[3] < N]          # kept rides among the first N rows
    kept_total = len(rides)
    with tempfile.TemporaryDirectory(prefix="rp-eval-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, RIDEPRED_STREAM_BACKEND="local", RIDEPRED_LOCAL_STORE=str(tmp / "s.db"),
                   RUN_ID="eval", PREDICTIONS_STREAM_NAME="preds")
        env.pop("TEST_RUN", None)
        for name in ("rides", "preds"):
            result(rp(["streams", "create", name, "--shards", "2"], env).returncode == 0, "create " + name)
        p = rp(["replay", str(feb), "--to", "rides", "--limit", str(N)], env)
        result(p.returncode == 0, "replay: %s" % p.stderr[-300:])
        for k in range(0, len(first), 1000):
            ev = tmp / ("ev-%d.json" % k)
            ridepy.write_json(ev, ridepy.kinesis_event(first[k:k + 1000]))
            p = rp(["invoke", "--model", str(model), str(ev)], env)
            result(p.returncode == 0 and "batchItemFailures" not in p.stdout, "invoke: %s" % p.stderr[-300:])
        # a duplicate prediction of ride 3's and an unreadable record
        p = rp(["read", "preds"], env)
        published = [json.loads(line)["data"] for line in p.stdout.splitlines()]
        result(len(published) == len(first), "%d predictions published for %d rides" % (len(published), len(first)))
        dup = dict(published[0])
        dup["prediction"] = dict(dup["prediction"], ride_duration=999.0)
        result(rp(["put", "preds", "--partition-key", "dup", json.dumps(dup)], env).returncode == 0, "put duplicate")
        result(rp(["put", "preds", "--partition-key", "junk", "not a prediction"], env).returncode == 0, "put junk")

        svg = tmp / "p.svg"
        p = rp(["evaluate", str(feb), "--rides", "rides", "--predictions", "preds", "--json", "--svg", str(svg)], env)
        result(p.returncode == 0, "evaluate --json: %s" % p.stderr[-300:])
        r = json.loads(p.stdout or "{}")
        pred = {d["prediction"]["ride_id"]: d["prediction"]["ride_duration"] for d in published}
        errs = [pred[i] - duration(rows[i]) for i in sorted(pred)]
        rmse = math.sqrt(sum(e * e for e in errs) / len(errs))
        mae = sum(abs(e) for e in errs) / len(errs)
        want = {"rows": len(rows), "kept": kept_total, "rides_in": N, "predictions": len(first) + 2,
                "predicted": len(first), "duplicates": 1, "unreadable": 1, "missing": N - len(first),
                "kept_predicted": len(first)}
        bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
        result(not bad, "counts (got, want): %r" % bad)
        result(abs(r.get("rmse", -1) - rmse) <= 1e-9 * rmse, "rmse %r, Python %r" % (r.get("rmse"), rmse))
        result(abs(r.get("mae", -1) - mae) <= 1e-9 * mae, "mae %r, Python %r" % (r.get("mae"), mae))
        lat = r.get("latency_ms", {})
        result(0 <= lat.get("p50", -1) <= lat.get("p90", -1) <= lat.get("p99", -1) <= lat.get("max", -1),
               "latency order %r" % lat)
        result(r.get("span_s", 0) > 0 and abs(r.get("rides_per_s", 0) - len(first) / r["span_s"]) <= 1,
               "throughput %r over %r s" % (r.get("rides_per_s"), r.get("span_s")))
        result(len(r.get("examples", [])) == 3 and all(json.loads(e) in published for e in r["examples"]),
               "examples %r" % r.get("examples"))
        try:
            doc = xml.dom.minidom.parse(str(svg))
            circles = len(doc.getElementsByTagName("circle"))
            result(circles == len(first), "%d points drawn for %d rides" % (circles, len(first)))
        except Exception as e:  # noqa: BLE001
            result(False, "svg: %s" % e)
        p = rp(["evaluate", str(feb), "--rides", "rides", "--predictions", "preds"], env)
        result(p.returncode == 0 and "| RMSE (minutes) | %.4f" % rmse in p.stdout and "prediction records" in p.stdout,
               "table: %s" % p.stdout[:400])

        # Non-finite predictions: counted apart, the RMSE and MAE over the others.
        result(rp(["streams", "create", "preds_nf"], env).returncode == 0, "create preds_nf")
        bad_ids = [published[5]["prediction"]["ride_id"], published[6]["prediction"]["ride_id"],
                   published[7]["prediction"]["ride_id"]]
        bad_value = dict(zip(bad_ids, [float("inf"), float("-inf"), float("nan")]))
        lines = []
        for d in published:
            if d["prediction"]["ride_id"] in bad_value:
                d = dict(d, prediction=dict(d["prediction"], ride_duration=bad_value[d["prediction"]["ride_id"]]))
            lines.append(json.dumps(d))
        lines = lines[5:8] + lines[:5] + lines[8:]
        p = subprocess.run([BIN, "put", "preds_nf", "--partition-key", "p", "-"], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, env=env, timeout=300)
        result(p.returncode == 0 and "Infinity" in lines[0] and "NaN" in lines[2], "put non-finite: %s" % p.stderr[-300:])
        p = rp(["evaluate", str(feb), "--rides", "rides", "--predictions", "preds_nf", "--json", "--svg",
                str(tmp / "nf.svg")], env)
        r = json.loads(p.stdout or "{}")
        fin = [pred[i] - duration(rows[i]) for i in sorted(pred) if i not in bad_ids]
        rmse_f = math.sqrt(sum(e * e for e in fin) / len(fin))
        mae_f = sum(abs(e) for e in fin) / len(fin)
        result(p.returncode == 0 and r.get("nonfinite") == 3 and r.get("kept_nonfinite") == 3
               and r.get("predicted") == len(first) and r.get("kept_predicted") == len(first) - 3,
               "non-finite counts: %r" % {k: r.get(k) for k in ("nonfinite", "kept_nonfinite", "kept_predicted")})
        result(isinstance(r.get("rmse"), float) and abs(r["rmse"] - rmse_f) <= 1e-9 * rmse_f
               and abs(r.get("mae", -1) - mae_f) <= 1e-9 * mae_f,
               "rmse/mae over the finite predictions: %r %r, Python %r %r" % (r.get("rmse"), r.get("mae"), rmse_f, mae_f))
        try:
            circles = len(xml.dom.minidom.parse(str(tmp / "nf.svg")).getElementsByTagName("circle"))
            result(circles == len(first) - 3, "%d points drawn for %d finite predictions" % (circles, len(first) - 3))
        except Exception as e:  # noqa: BLE001
            result(False, "svg: %s" % e)
        p = rp(["evaluate", str(feb), "--rides", "rides", "--predictions", "preds_nf"], env)
        result(p.returncode == 0 and "| RMSE (minutes) | %.4f over %d rides" % (rmse_f, len(first) - 3) in p.stdout
               and "| non-finite predictions | 3 rides predicted as Infinity or NaN (3 kept by the filter)" in p.stdout,
               "table with non-finite predictions: %s" % p.stdout[:600])
        p = rp(["evaluate", str(feb), "--rides", "rides", "--predictions", "preds"], env)
        result("non-finite" not in p.stdout, "no non-finite row when there are none")

        # Bad inputs.
        cases = [
            (["evaluate", str(tmp / "nope.parquet"), "--rides", "rides", "--predictions", "preds"], 3, "nope.parquet"),
            (["evaluate", str(feb), "--rides", "no_such", "--predictions", "preds"], 3, "no_such"),
            (["evaluate", str(feb), "--rides", "kinesis:rides", "--predictions", "local:preds"], 2, "one backend"),
            (["evaluate", str(feb), "--predictions", "preds"], 2, "--rides"),
            (["evaluate", str(feb), "--rides", "bad name!", "--predictions", "preds"], 2, "bad name"),
            (["evaluate", str(feb), "--rides", "rides", "--predictions", "preds", "--svg", str(tmp / "no/dir/p.svg")], 3,
             "no/dir/p.svg"),
        ]
        for args, code, needle in cases:
            p = rp(args, env)
            result(p.returncode == code and needle in p.stderr + p.stdout,
                   "%s: exit %d, %s" % (" ".join(args[2:]), p.returncode, p.stderr.strip()[-200:]))
        result(rp(["evaluate", "--help"], env).returncode == 0, "--help")
    rptest.tally.finish()


if __name__ == "__main__":
    main()
