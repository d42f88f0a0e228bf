#!/usr/bin/python3
"""`ridepred train` on the TLC files: 2021-01 for training, 2021-02 for validation.

- linear: scikit-learn's LinearRegression (DictVectorizer + LinearRegression,
  fitted here at test time on the rides an independent Parquet reader,
  hyparquet via tests/tools/rides.mjs, returns) and ridepred's model give
  the same validation predictions (within 1e-6; in practice bit-identical)
  and the same RMSE (within 0.001 of scikit-learn's, itself 7.7587).  The
  same rides exported to CSV train the same model.
- forest (the course's hyperparameters, the defaults): validation RMSE <= 6.77.
- xgboost (the defaults): validation RMSE <= 6.40; the booster ridepred
  saves (model.xgb.json) predicts with python3-xgboost exactly what
  ridepred's converted model predicts.
- every model directory loads with `ridepred invoke` (2,000 validation rides
  in one Kinesis event: predictions equal those the trainer wrote with
  --predictions) and `ridepred model inspect`; metrics.json, params.json,
  data.json and MLmodel hold what they should.
- bad inputs: a missing file, no rides left after the filter, an unknown
  --algo, bad --param keys and values, a non-empty --out: clear errors and
  exit codes, and no directory written.
- the progress bar shows on a terminal (a pty) and not in logs.

Times are printed (TIME lines).  Environment: RIDEPRED_BIN, RIDEPRED_DATA_DIR
(missing: SKIP, exit 77, or a failure when CI is set), RIDEPRED_BUILD_DIR
(the rides cache), RIDEPRED_TRAIN_THREADS (default 2).
"""

import csv
import json
import os
import pty
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("RIDEPRED_SOURCE_DIR") or HERE.parents[1])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "tools"))

import numpy as np  # noqa: E402

import ridepy  # noqa: E402

THREADS = os.environ.get("RIDEPRED_TRAIN_THREADS", "2")
passed = failed = 0


def say(msg=""):
    print(msg, flush=True)


def check(cond, what, why=""):
    global passed, failed
    if cond:
        passed += 1
        say("PASS " + what)
    else:
        failed += 1
        say("FAIL %s%s" % (what, (": " + why) if why else ""))
    return cond


def binary():
    b = os.environ.get("RIDEPRED_BIN")
    if b:
        return b
    build = os.environ.get("RIDEPRED_BUILD_DIR")
    return str((Path(build) if build else SOURCE_DIR / "build") / "ridepred")


BIN = binary()


def data_or_skip():
    files = [ridepy.data_file(m) for m in (1, 2)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        msg = "TLC data not found (%s); set RIDEPRED_DATA_DIR" % ", ".join(missing)
        if os.environ.get("CI"):
            say("FAIL: %s (CI is set, so this is an error)" % msg)
            say("0 passed, 1 failed")
            sys.exit(1)
        print("SKIP: " + "*" * 20 + " %s: train test NOT RUN " % msg + "*" * 20, file=sys.stderr)
        sys.exit(77)
    return files


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, **kw)


def train(tmp, name, algo, train_files, val_files, extra=()):
    out = os.path.join(tmp, name)
    preds = os.path.join(tmp, name + ".csv")
    t0 = time.monotonic()
    p = run(["train", "--train"] + [str(f) for f in train_files] + ["--val"] + [str(f) for f in val_files] +
            ["--algo", algo, "--out", out, "--predictions", preds, "--threads", THREADS] + list(extra))
    secs = time.monotonic() - t0
    say("TIME train %s: %.2f s (wall, whole command)" % (name, secs))
    if not check(p.returncode == 0, "train %s exits 0" % name, p.stderr[-2000:]):
        return None
    sys.stdout.write(p.stdout)
    with open(preds) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    return {"dir": out, "rows": rows, "metrics": metrics, "stdout": p.stdout, "seconds": secs}


def check_dir(res, name, algo, n_train, n_val):
    d = res["dir"]
    m = res["metrics"]
    check(m["rows_train"] == n_train and m["rows_val"] == n_val,
          "%s metrics.json counts" % name, "%r" % m)
    pred = np.array([float(r["prediction"]) for r in res["rows"]])
    y = np.array([float(r["duration"]) for r in res["rows"]])
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    check(abs(rmse - m["rmse_val"]) < 1e-9, "%s metrics.json rmse_val is the RMSE of its predictions" % name,
          "%r vs %r" % (rmse, m["rmse_val"]))
    check("validation %.6f" % m["rmse_val"] in res["stdout"], "%s prints the validation RMSE" % name)
    with open(os.path.join(d, "params.json")) as f:
        params = json.load(f)
    check(params.get("algo") == algo, "%s params.json names the algorithm" % name, repr(params))
    with open(os.path.join(d, "data.json")) as f:
        data = json.load(f)
    check(data["train"][0]["kept"] == n_train and data["val"][0]["kept"] == n_val and
          data["train"][0]["rows"] > n_train and data["train"][0]["file"].endswith(".parquet"),
          "%s data.json holds the files and their rows" % name, repr(data))
    # the monitoring reference (issue 15): the validation rides with the trainer's predictions
    ref_path = os.path.join(d, "ridepred-reference.csv")
    if check(os.path.exists(ref_path), "%s: ridepred-reference.csv in the model directory" % name):
        with open(ref_path) as f:
            ref = list(csv.DictReader(f))
        with open(ref_path) as f:
            header = f.readline().strip()
        check(header == "num:passenger_count,num:trip_distance,num:fare_amount,num:total_amount,"
              "cat:PULocationID,cat:DOLocationID,num:prediction", "%s: the reference's columns" % name, header)
        bad = [i for i, (a, r) in enumerate(zip(ref, res["rows"]))
               if float(a["num:prediction"]) != float(r["prediction"])
               or float(a["num:trip_distance"]) != float(r["trip_distance"])
               or float(a["cat:PULocationID"]) != int(r["PULocationID"])
               or float(a["cat:DOLocationID"]) != int(r["DOLocationID"])]
        check(len(ref) == min(n_val, 100000) and not bad,
              "%s: the reference holds the validation rides and the trainer's predictions" % name,
              "%d rows for %d; first differences at %r" % (len(ref), n_val, bad[:5]))
    with open(os.path.join(d, "MLmodel")) as f:
        mlmodel = f.read()
    check("ridepred:" in mlmodel and "model: model.rpm" in mlmodel and m["run_id"] in mlmodel,
          "%s MLmodel: ridepred flavor and run_id" % name, mlmodel)
    p = run(["model", "inspect", d])
    check(p.returncode == 0 and m["run_id"] in p.stdout, "%s: model inspect shows the run id" % name,
          p.stdout + p.stderr)
    # invoke on 2,000 validation rides: the predictions the trainer wrote.
    step = max(1, len(res["rows"]) // 2000)
    sample = res["rows"][::step][:2000]
    rides = [(int(r["PULocationID"]), int(r["DOLocationID"]), float(r["trip_distance"]), i)
             for i, r in enumerate(sample)]
    event = ridepy.kinesis_event(rides)
    ev_path = d + "-event.json"
    with open(ev_path, "w") as f:
        json.dump(event, f)
    env = dict(os.environ, TEST_RUN="True")
    for k in ("RUN_ID", "MODEL_VERSION", "MODEL_LOCATION"):
        env.pop(k, None)
    p = run(["invoke", "--model", d, ev_path], env=env)
    if not check(p.returncode == 0, "%s: invoke --model DIR" % name, p.stderr[-1000:]):
        return
    resp = json.loads(p.stdout)
    got = [e["prediction"]["ride_duration"] for e in resp["predictions"]]
    want = [float(r["prediction"]) for r in sample]
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    check(len(got) == len(want) and not bad, "%s: invoke answers the trainer's %d predictions exactly" %
          (name, len(want)), "first differences %r" % bad[:5])
    check(all(e["version"] == m["run_id"] for e in resp["predictions"]),
          "%s: invoke reports the run id as the version" % name)


def sklearn_linear(d1, y1, d2):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LinearRegression
    dv = DictVectorizer()
    X1 = dv.fit_transform(d1)
    t0 = time.monotonic()
    lr = LinearRegression().fit(X1, y1)
    say("TIME scikit-learn LinearRegression fit: %.2f s" % (time.monotonic() - t0))
    return dv, lr.predict(dv.transform(d2))


def write_csv(path, rows):
    """TLC-style CSV of the five columns (timestamps as text)."""
    epoch = datetime(1970, 1, 1)

    def ts(us):
        return "" if us is None else (epoch + timedelta(microseconds=us)).isoformat(sep=" ")

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lpep_pickup_datetime", "lpep_dropoff_datetime", "PULocationID", "DOLocationID",
                    "trip_distance"])
        for a, b, pu, do, dist in rows:
            w.writerow([ts(a), ts(b), "" if pu is None else pu, "" if do is None else do,
                        "" if dist is None else repr(dist)])


def bad_inputs(tmp, f1, f2):
    cases = []
    empty = os.path.join(tmp, "short.csv")
    with open(empty, "w") as f:
        f.write("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n"
                "2021-01-01 00:00:00,2021-01-01 00:00:30,1,2,0.5\n"
                "2021-01-01 00:00:00,2021-01-01 02:00:00,1,2,9.5\n")
    nul = os.path.join(tmp, "nul.csv")
    with open(nul, "wb") as f:  # "1.5\0junk" was read as 1.5
        f.write(b"lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n"
                b"2021-01-01 00:00:00,2021-01-01 00:10:00,1,2,0.5\n"
                b"2021-01-01 00:00:00,2021-01-01 00:12:00,1,2,1.5\x00junk\n")
    base = ["train", "--train", str(f1), "--val", str(f2), "--threads", THREADS]
    cases = [
        ("missing file", ["train", "--train", os.path.join(tmp, "nope.parquet"), "--val", str(f2),
                          "--algo", "linear"], 3, ["nope.parquet"]),
        ("a NUL byte in a CSV field", ["train", "--train", nul, "--val", str(f2), "--algo", "linear"], 3,
         ["nul.csv:3: a NUL byte in a field"]),
        ("no rides after the filter", ["train", "--train", empty, "--val", str(f2), "--algo", "linear"], 3,
         ["no training rides left", "1 to 60 minutes"]),
        ("no validation rides", ["train", "--train", str(f1), "--val", empty, "--algo", "linear"], 3,
         ["no validation rides left"]),
        ("unknown algo", base + ["--algo", "svm"], 2, ["--algo svm", "linear, forest or xgboost"]),
        ("unknown linear param", base + ["--algo", "linear", "--param", "alpha=1"], 2,
         ["alpha", "not a parameter of --algo linear"]),
        ("bad solver", base + ["--algo", "linear", "--param", "solver=qr"], 2, ["solver=qr", "lsqr or exact"]),
        ("unknown forest param", base + ["--algo", "forest", "--param", "n_trees=5"], 2,
         ["n_trees", "known: n_estimators"]),
        ("bad forest value", base + ["--algo", "forest", "--param", "n_estimators=-3"], 2,
         ["n_estimators=-3", "integer"]),
        ("bad forest leaf", base + ["--algo", "forest", "--param", "min_samples_leaf=0"], 2,
         ["min_samples_leaf=0"]),
        ("unknown xgboost param", base + ["--algo", "xgboost", "--param", "depth=3"], 2,
         ["depth", "not a parameter of --algo xgboost"]),
        ("bad xgboost value", base + ["--algo", "xgboost", "--param", "learning_rate=fast"], 2,
         ["learning_rate=fast", "number"]),
        ("param without =", base + ["--algo", "forest", "--param", "max_depth"], 2, ["KEY=VALUE"]),
        ("missing --out", ["train", "--train", str(f1), "--val", str(f2), "--algo", "linear"], 2,
         ["--out are required"]),
        ("stray operand", ["train", "stray", "--train", str(f1)], 2, ["unexpected argument stray"]),
        ("bad threads", base + ["--algo", "linear", "--threads", "0"], 2, ["--threads 0"]),
    ]
    for i, (what, args, code, words) in enumerate(cases):
        out = os.path.join(tmp, "bad%d" % i)
        if "--out" not in args and what != "missing --out":
            args = args + ["--out", out]
        p = run(args)
        ok = p.returncode == code and all(w in p.stderr for w in words) and not os.path.exists(out)
        check(ok, "bad input: %s (exit %d)" % (what, code), "exit %d, stderr %r" % (p.returncode, p.stderr[-600:]))
    # A non-empty --out is refused and left alone.
    out = os.path.join(tmp, "busy")
    os.mkdir(out)
    with open(os.path.join(out, "keep.txt"), "w") as f:
        f.write("x")
    p = run(base + ["--algo", "linear", "--out", out])
    check(p.returncode == 3 and "not empty" in p.stderr and os.listdir(out) == ["keep.txt"],
          "bad input: non-empty --out refused and untouched", p.stderr)
    check(not [n for n in os.listdir(tmp) if ".tmp-" in n], "no staging directories left behind", repr(os.listdir(tmp)))
    p = run(["train", "--help"])
    check(p.returncode == 0 and "--algo" in p.stdout and "exit status" in p.stdout, "train --help")


def progress_on_a_terminal(tmp, f1, f2):
    args = [BIN, "train", "--train", str(f1), "--val", str(f2), "--algo", "forest", "--param", "n_estimators=4",
            "--param", "max_depth=4", "--out", os.path.join(tmp, "tty"), "--threads", THREADS]
    pid, fd = pty.fork()
    if pid == 0:  # child: stderr and stdout are the pty
        os.execv(BIN, args)
    chunks = []
    while True:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    check(os.waitstatus_to_exitcode(status) == 0 and "\r[" in text and "100% 4/4 trees" in text,
          "progress bar on a terminal", repr(text[-400:]))
    p = run(args[1:-4] + ["--out", os.path.join(tmp, "notty"), "--threads", THREADS])
    check(p.returncode == 0 and "\r" not in p.stderr and "trained" in p.stderr,
          "no bar in logs, log lines instead", repr(p.stderr[-400:]))


def main():
    f1, f2 = data_or_skip()
    say("binary: %s" % BIN)
    rows1, rows2 = ridepy.load_rides(f1), ridepy.load_rides(f2)
    d1, y1, _ = ridepy.prepare(rows1)
    d2, y2, rides2 = ridepy.prepare(rows2)
    with tempfile.TemporaryDirectory(prefix="rp-train-") as tmp:
        # ---- linear ----
        lin = train(tmp, "linear", "linear", [f1], [f2])
        if lin:
            check_dir(lin, "linear", "linear", len(y1), len(y2))
            _, want = sklearn_linear(d1, y1, d2)
            got = np.array([float(r["prediction"]) for r in lin["rows"]])
            same_rides = len(got) == len(rides2) and all(
                int(r["PULocationID"]) == a and int(r["DOLocationID"]) == b and float(r["trip_distance"]) == x
                for r, (a, b, x, _) in zip(lin["rows"], rides2))
            check(same_rides, "linear: the validation rides are scikit-learn's, in order")
            if same_rides:
                diff = float(np.max(np.abs(got - want)))
                say("linear: max |ridepred - scikit-learn| = %.3g (%d of %d bit-identical)" %
                    (diff, int(np.sum(got == want)), len(got)))
                check(diff <= 1e-6, "linear predictions within 1e-6 of scikit-learn's", "max diff %g" % diff)
                sk_rmse = float(np.sqrt(np.mean((want - y2) ** 2)))
                say("linear RMSE: ridepred %.6f, scikit-learn %.6f" % (lin["metrics"]["rmse_val"], sk_rmse))
                check(abs(lin["metrics"]["rmse_val"] - sk_rmse) < 0.001, "linear RMSE within 0.001 of scikit-learn's")
                check(abs(sk_rmse - 7.7587) < 0.0001, "scikit-learn's RMSE is the course's 7.7587", "%r" % sk_rmse)
            say("TIME linear fit (metrics.json train_seconds): %.3f s" % lin["metrics"]["train_seconds"])
            # The same rides as CSV train the same model.
            c1, c2 = os.path.join(tmp, "jan.csv"), os.path.join(tmp, "feb.csv")
            write_csv(c1, rows1)
            write_csv(c2, rows2)
            csv_res = train(tmp, "linear-csv", "linear", [c1], [c2])
            if csv_res:
                check([r["prediction"] for r in csv_res["rows"]] == [r["prediction"] for r in lin["rows"]],
                      "linear from CSV exports: the same predictions as from Parquet")
            # Several files after one --train: concatenated, each listed.
            two = train(tmp, "linear-two", "linear", [f1, c1], [f2])
            if two:
                with open(os.path.join(two["dir"], "data.json")) as f:
                    data = json.load(f)
                check(two["metrics"]["rows_train"] == 2 * len(y1) and len(data["train"]) == 2 and
                      data["train"][1]["file"] == c1 and data["train"][1]["kept"] == len(y1),
                      "two --train files: both read and listed", repr(data))
            # The exact solver: the least-squares optimum, better on training.
            ex = train(tmp, "linear-exact", "linear", [f1], [f2], ["--param", "solver=exact"])
            if ex:
                check(ex["metrics"]["rmse_train"] < lin["metrics"]["rmse_train"],
                      "solver=exact fits the training rides better than LSQR",
                      "%r vs %r" % (ex["metrics"]["rmse_train"], lin["metrics"]["rmse_train"]))

        # ---- forest ----
        fo = train(tmp, "forest", "forest", [f1], [f2])
        if fo:
            check_dir(fo, "forest", "forest", len(y1), len(y2))
            say("forest RMSE: %.6f (scikit-learn: 6.7558); TIME fit %.2f s on %s threads" %
                (fo["metrics"]["rmse_val"], fo["metrics"]["train_seconds"], THREADS))
            check(fo["metrics"]["rmse_val"] <= 6.77, "forest validation RMSE <= 6.77", "%r" % fo["metrics"]["rmse_val"])
            check(fo["metrics"]["trees"] == 100, "forest: 100 trees by default")
            # Another thread count, the same forest.
            fo1 = train(tmp, "forest-1thread", "forest", [f1], [f2], ["--threads", "1", "--param", "n_estimators=8"])
            fo3 = train(tmp, "forest-3threads", "forest", [f1], [f2], ["--threads", "3", "--param", "n_estimators=8"])
            if fo1 and fo3:
                check(fo1["rows"] == fo3["rows"], "forest: the same seed gives the same forest on 1 and 3 threads")

        # ---- xgboost ----
        xg = train(tmp, "xgboost", "xgboost", [f1], [f2])
        if xg:
            check_dir(xg, "xgboost", "xgboost", len(y1), len(y2))
            m = xg["metrics"]
            say("xgboost RMSE: %.6f after %d rounds (best %d); TIME fit %.2f s" %
                (m["rmse_val"], m["rounds"], m["best_iteration"], m["train_seconds"]))
            check(m["rmse_val"] <= 6.40, "xgboost validation RMSE <= 6.40", "%r" % m["rmse_val"])
            try:
                import xgboost as xgb
                from sklearn.feature_extraction import DictVectorizer
            except ImportError as e:
                check(False, "python3-xgboost for the booster check", str(e))
            else:
                dv = DictVectorizer().fit(d1)
                bst = xgb.Booster(model_file=os.path.join(xg["dir"], "model.xgb.json"))
                want = bst.predict(xgb.DMatrix(dv.transform(d2))).astype(np.float64)
                got = np.array([float(r["prediction"]) for r in xg["rows"]])
                check(len(got) == len(want) and bool(np.all(got == want)),
                      "xgboost: model.xgb.json in python3-xgboost predicts what ridepred's model does",
                      "max diff %g" % (float(np.max(np.abs(got - want))) if len(got) == len(want) else -1))

        bad_inputs(tmp, f1, f2)
        progress_on_a_terminal(tmp, f1, f2)
    say("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
