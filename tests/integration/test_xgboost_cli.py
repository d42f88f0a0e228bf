#!/usr/bin/python3
"""`ridepred predict/invoke --model BOOSTER --preprocessor PICKLE` (the course's
week-2 layout) answers what xgboost's own predict answers, as a float32 read
as a double.  A small booster is trained here on generated rides."""
import json
import os
import pickle
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

try:
    import numpy as np
    import xgboost as xgb
    from sklearn.feature_extraction import DictVectorizer
except ImportError as e:  # pragma: no cover
    rptest.skip("%s (install python3-xgboost, python3-sklearn)" % e)

BIN = rptest.BIN
check = rptest.check
rptest.tally.quiet = True  # only failures are printed


def test_booster(tmp):
    rides = [{"PU_DO": "%d_%d" % (a, b), "trip_distance": round(a * 0.37 + b * 0.11, 2)}
             for a in range(1, 40) for b in range(1, 40, 3)]
    y = np.array([r["trip_distance"] * 2.5 + (int(r["PU_DO"].split("_")[0]) % 5) for r in rides])
    dv = DictVectorizer()
    X = dv.fit_transform(rides)
    bst = xgb.train({"max_depth": 4, "objective": "reg:squarederror", "eta": 0.3},
                    xgb.DMatrix(X, label=y), 20)
    model = os.path.join(tmp, "model.json")
    bst.save_model(model)
    prep = os.path.join(tmp, "preprocessor.b")
    with open(prep, "wb") as f:
        pickle.dump(dv, f)
    env = dict(os.environ, TEST_RUN="True", RUN_ID="xgb")
    cases = [("7", "10", 3.66), ("130", "205", 3.66), ("1", "1", 0.0), ("12", "4", 11.5)]
    for pu, do, d in cases:
        want = float(bst.predict(xgb.DMatrix(dv.transform([{"PU_DO": "%s_%s" % (pu, do), "trip_distance": d}])))[0])
        out = subprocess.run([BIN, "predict", "--model", model, "--preprocessor", prep,
                              "--pu", pu, "--do", do, "--distance", repr(d)],
                             capture_output=True, text=True, env=env)
        check(out.returncode == 0 and out.stdout.strip() == repr(want),
              "predict %s_%s %r: got %r, want %r (%s)" % (pu, do, d, out.stdout.strip(), repr(want), out.stderr.strip()))
    event = {"ride": {"PULocationID": 7, "DOLocationID": 10, "trip_distance": 3.66}, "ride_id": 5}
    ev_path = os.path.join(tmp, "event.json")
    with open(ev_path, "w") as f:
        json.dump(event, f)
    want = float(bst.predict(xgb.DMatrix(dv.transform([{"PU_DO": "7_10", "trip_distance": 3.66}])))[0])
    out = subprocess.run([BIN, "invoke", "--model", model, "--preprocessor", prep, ev_path],
                         capture_output=True, text=True, env=env)
    check(out.stdout.strip() == json.dumps({"ride_duration": want, "ride_id": 5}),
          "invoke: got %r" % out.stdout)
    out = subprocess.run([BIN, "invoke", "--model", model, ev_path], capture_output=True, text=True, env=env)
    check(out.returncode == 3 and "preprocessor" in out.stderr, "no preprocessor: %r" % out.stderr)
    conv = os.path.join(tmp, "m.rpm")
    out = subprocess.run([BIN, "model", "convert", "--preprocessor", prep, model, conv], capture_output=True, text=True)
    check(out.returncode == 0, "convert: %s" % out.stderr)
    out = subprocess.run([BIN, "invoke", "--model", conv, ev_path], capture_output=True, text=True, env=env)
    check(out.stdout.strip() == json.dumps({"ride_duration": want, "ride_id": 5}), "native: got %r" % out.stdout)


if __name__ == "__main__":
    rptest.need_bin()
    rptest.run([("booster with a pickled preprocessor", test_booster)], tmp_prefix="rp-xgb-cli-")
