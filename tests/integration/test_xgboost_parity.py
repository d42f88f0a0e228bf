#!/usr/bin/python3
"""Parity of XGBoost models read by ridepred (JSON, UBJSON, MLflow xgboost flavor).

Trains, with Debian's python3-xgboost, boosters (RIDEPRED_XGB_ROUNDS = 50
rounds, max_depth 6) on the first RIDEPRED_XGB_TRAIN (20000) prepared rides
of 2021-01, vectorized by a DictVectorizer into a sparse CSR matrix (so an
absent one-hot feature is *missing* for XGBoost and follows default_left,
while trip_distance = 0.0 is a present value).  Writes them as JSON and UBJ
(xgb.train and XGBRegressor; with and without feature_names), the
DictVectorizer pickled alone (the course's preprocessor.b), and MLflow
directories (xgboost flavor, written by hand), and serves each with
tests/tools/xgb_predict (the ridepred library: rp_model_load, or
rp_model_load_preprocessed for `--preprocessor`; also its native round trip)
on RIDEPRED_XGB_RECORDS (10000) prepared rides of 2021-02.  Every prediction
must equal XGBoost's float32 prediction converted to double, exactly.
The legacy binary format (`model.xgb`) is read through libxgboost.
Unsupported models (other objectives, gblinear, dart) are refused with
messages naming what is refused.

Env: RIDEPRED_BUILD_DIR (where xgb_predict is), RIDEPRED_DATA_DIR (missing:
SKIP, exit 77; failure when CI is set).  Prints `N passed, N failed`.
"""
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import ridepy  # noqa: E402
import rptest  # noqa: E402

TOOL = os.environ.get("RIDEPRED_XGB_PREDICT") or os.path.join(rptest.BUILD, "xgb_predict")
N_TRAIN = int(os.environ.get("RIDEPRED_XGB_TRAIN", "20000"))
N_EVAL = int(os.environ.get("RIDEPRED_XGB_RECORDS", "10000"))
ROUNDS = int(os.environ.get("RIDEPRED_XGB_ROUNDS", "50"))
result = rptest.check
rptest.tally.quiet = True  # only failures are printed


def serve(model, rides, preprocessor=None, native=None):
    cmd = [TOOL]
    if preprocessor:
        cmd += ["--preprocessor", str(preprocessor)]
    if native:
        cmd += ["--native", str(native)]
    cmd.append(str(model))
    inp = "".join("%d_%d %r\n" % (pu, do, dist) for pu, do, dist, _ in rides)
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines(), p.stderr.strip()


def check_parity(label, model, rides, want, preprocessor=None, native=None):
    rc, lines, err = serve(model, rides, preprocessor, native)
    if rc != 0:
        result(False, "%s: load failed: %s" % (label, err))
        return
    result(len(lines) == len(want), "%s: %d predictions for %d rides" % (label, len(lines), len(want)))
    bad = 0
    for i, (line, w) in enumerate(zip(lines, want)):
        try:
            got = float(line)
        except ValueError:
            got = None
        if got != float(w):
            bad += 1
            if bad <= 3:
                print("  %s ride %d (%r): got %s want %r" % (label, i, rides[i][:3], line, float(w)))
    result(bad == 0, "%s: %d of %d predictions differ from xgboost's float32" % (label, bad, len(want)))


def check_refused(label, model, needle, preprocessor=None):
    rc, _, err = serve(model, [], preprocessor)
    result(rc == 2 and needle in err, "%s: expected a refusal containing %r, got rc %d: %s" % (label, needle, rc, err))


def mlmodel(d, data, run_id, fmt):
    d.mkdir(parents=True, exist_ok=True)
    (d / "MLmodel").write_text(
        "artifact_path: models_mlflow\n"
        "flavors:\n"
        "  python_function:\n"
        "    data: %s\n"
        "    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n"
        "    loader_module: mlflow.xgboost\n"
        "    python_version: 3.11.2\n"
        "  xgboost:\n"
        "    code: null\n"
        "    data: %s\n"
        "    model_class: xgboost.core.Booster\n"
        "    model_format: %s\n"
        "    xgb_version: 1.7.4\n"
        "run_id: %s\n" % (data, data, fmt, run_id))


def check_source(model, pre, want):
    """`model inspect --json` names where the model came from."""
    p = subprocess.run([rptest.BIN, "model", "inspect", "--json", "--preprocessor", str(pre), str(model)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        result(False, "inspect %s: %s" % (model, p.stderr.strip()))
        return
    src = json.loads(p.stdout).get("source") or {}
    bad = {k: (src.get(k), v) for k, v in want.items() if src.get(k) != v}
    result(not bad, "inspect %s source: (got, want) %r" % (model, bad))


def main():
    try:
        import numpy as np
        import xgboost as xgb
        from sklearn.feature_extraction import DictVectorizer
    except ImportError as e:
        rptest.skip("python3-xgboost / python3-sklearn not installed (%s)" % e)
    rptest.need_bin(TOOL, "xgb_predict")
    jan, feb = map(Path, rptest.need_data(ridepy.data_file(1), ridepy.data_file(2)))
    dicts, y, _ = ridepy.prepare(ridepy.load_rides(jan))
    dicts, y = dicts[:N_TRAIN], y[:N_TRAIN]
    fdicts, fy, frides = ridepy.prepare(ridepy.load_rides(feb))
    fdicts, fy, frides = fdicts[:N_EVAL], fy[:N_EVAL], frides[:N_EVAL]
    ridepy.log("xgboost %s: %d training rides, %d evaluation rides" % (xgb.__version__, len(dicts), len(fdicts)))

    dv = DictVectorizer()
    X = dv.fit_transform(dicts)
    Xf = dv.transform(fdicts)
    n_absent = sum(1 for d in fdicts if "PU_DO=" + d["PU_DO"] not in dv.vocabulary_)
    n_zero = sum(1 for d in fdicts if d["trip_distance"] == 0)
    ridepy.log("evaluation rides with an unseen PU_DO (missing): %d; with trip_distance 0: %d" % (n_absent, n_zero))
    params = {"max_depth": 6, "learning_rate": 0.3, "objective": "reg:squarederror", "seed": 42, "nthread": 1}

    with tempfile.TemporaryDirectory(prefix="rp-xgb-") as tmp:
        tmp = Path(tmp)
        pre = tmp / "preprocessor.b"
        with open(pre, "wb") as f:
            pickle.dump(dv, f)

        # xgb.train on a CSR DMatrix without feature names (the course's week 2).
        booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=ROUNDS)
        want = booster.predict(xgb.DMatrix(Xf))
        result(want.dtype == np.float32, "xgboost predicts float32")
        booster.save_model(str(tmp / "booster.json"))
        booster.save_model(str(tmp / "booster.ubj"))
        check_parity("train json --preprocessor", tmp / "booster.json", frides, want, pre)
        check_parity("train ubj --preprocessor", tmp / "booster.ubj", frides, want, pre)
        check_parity("train ubj --preprocessor, native round trip", tmp / "booster.ubj", frides, want, pre, tmp / "booster.bin")
        check_refused("no feature names, no preprocessor", tmp / "booster.json", "no feature names")

        # Does the float32 accumulation matter?  (Information only.)
        doc = json.loads((tmp / "booster.json").read_text())
        ridepy.log("base_score %s" % doc["learner"]["learner_model_param"]["base_score"])

        # Feature names inside the model: no preprocessor needed.
        dnamed = xgb.DMatrix(X, label=y, feature_names=list(dv.feature_names_))
        named = xgb.train(params, dnamed, num_boost_round=ROUNDS)
        want_named = named.predict(xgb.DMatrix(Xf, feature_names=list(dv.feature_names_)))
        named.save_model(str(tmp / "named.json"))
        named.save_model(str(tmp / "named.ubj"))
        check_parity("feature_names json", tmp / "named.json", frides, want_named)
        check_parity("feature_names ubj", tmp / "named.ubj", frides, want_named)
        check_parity("feature_names ubj, native round trip", tmp / "named.ubj", frides, want_named, None, tmp / "named.bin")

        # The scikit-learn interface, with its base_score and sparse predict.
        reg = xgb.XGBRegressor(n_estimators=ROUNDS, max_depth=6, learning_rate=0.1, random_state=1, n_jobs=1,
                               base_score=float(np.mean(y)))
        reg.fit(X, y)
        want_reg = reg.predict(Xf)
        reg.save_model(str(tmp / "reg.json"))
        reg.get_booster().save_model(str(tmp / "reg.ubj"))
        check_parity("XGBRegressor json --preprocessor", tmp / "reg.json", frides, want_reg, pre)
        check_parity("XGBRegressor ubj --preprocessor", tmp / "reg.ubj", frides, want_reg, pre)

        # Early stopping: Booster.predict uses every tree (xgb.train keeps
        # the rounds after the best one); XGBRegressor.predict stops at
        # best_iteration.  ridepred serves what each model's predict serves.
        Xv, yv = dv.transform(fdicts[:1000]), fy[:1000]
        es = xgb.train(dict(params, learning_rate=0.9), xgb.DMatrix(X, label=y), num_boost_round=200,
                       evals=[(xgb.DMatrix(Xv, label=yv), "val")], early_stopping_rounds=3, verbose_eval=False)
        result(es.num_boosted_rounds() > es.best_iteration + 1,
               "early stopping kept rounds after the best (%d rounds, best %d)" % (es.num_boosted_rounds(), es.best_iteration))
        es.save_model(str(tmp / "es.json"))
        check_parity("xgb.train early stopping: every tree", tmp / "es.json", frides, es.predict(xgb.DMatrix(Xf)), pre)
        eso = xgb.XGBRegressor(n_estimators=200, max_depth=6, learning_rate=0.9, random_state=1, n_jobs=1,
                               early_stopping_rounds=3)
        eso.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
        result(eso.get_booster().num_boosted_rounds() > eso.best_iteration + 1,
               "XGBRegressor early stopping kept rounds after the best")
        eso.save_model(str(tmp / "eso.json"))
        want_eso = eso.predict(Xf)
        result(not np.array_equal(want_eso, eso.get_booster().predict(xgb.DMatrix(Xf))),
               "XGBRegressor.predict differs from all trees (the case is meaningful)")
        check_parity("XGBRegressor early stopping: best_iteration", tmp / "eso.json", frides, want_eso, pre)
        check_parity("XGBRegressor early stopping, native round trip", tmp / "eso.json", frides, want_eso, pre,
                     tmp / "eso.bin")

        # MLflow directories, xgboost flavor.
        mldir = tmp / "mlflow-ubj"
        mlmodel(mldir, "model.ubj", "RUN123", "ubj")
        booster.save_model(str(mldir / "model.ubj"))
        check_parity("MLflow xgboost flavor (ubj) --preprocessor", mldir, frides, want, pre)
        check_source(mldir, pre, {"flavor": "xgboost", "run_id": "RUN123", "file": "model.ubj",
                                  "serialization": "xgboost-ubjson", "xgboost_version": xgb.__version__,
                                  "preprocessor": "preprocessor.b", "objective": "reg:squarederror",
                                  "trees_in_file": ROUNDS})
        check_source(tmp / "eso.json", pre, {"file": "eso.json", "serialization": "xgboost-json",
                                             "best_iteration": eso.best_iteration})
        mldir2 = tmp / "mlflow-json"
        mlmodel(mldir2, "model.json", "RUN456", "json")
        named.save_model(str(mldir2 / "model.json"))
        check_parity("MLflow xgboost flavor (json, named)", mldir2, frides, want_named)
        check_refused("MLflow xgboost flavor without names", mldir, "no feature names")

        # Refusals.
        small = xgb.DMatrix(X[:2000], label=y[:2000])
        for obj in ("count:poisson", "reg:pseudohubererror"):
            b = xgb.train(dict(params, objective=obj), small, num_boost_round=2)
            b.save_model(str(tmp / "obj.json"))
            check_refused("objective " + obj, tmp / "obj.json", "objective %s is not supported" % obj, pre)
        b = xgb.train(dict(params, booster="gblinear"), small, num_boost_round=2)
        b.save_model(str(tmp / "linear.ubj"))
        check_refused("gblinear", tmp / "linear.ubj", "booster gblinear is not supported", pre)
        b = xgb.train(dict(params, booster="dart"), small, num_boost_round=2)
        b.save_model(str(tmp / "dart.json"))
        check_refused("dart", tmp / "dart.json", "booster dart is not supported", pre)
        booster.save_model(str(tmp / "legacy.bin"))
        # The legacy binary format is read through libxgboost (converted to
        # its JSON once): the same predictions.
        check_parity("legacy binary --preprocessor", tmp / "legacy.bin", frides, want, pre)
        check_parity("legacy binary, native round trip", tmp / "legacy.bin", frides, want, pre, tmp / "legacy.rpm")
        check_refused("legacy binary without preprocessor", tmp / "legacy.bin", "legacy binary model: the XGBoost model has no feature names")
        mlx = tmp / "mlflow-xgb"
        mlmodel(mlx, "model.xgb", "RUN789", "xgb")
        booster.save_model(str(mlx / "model.xgb"))
        check_parity("MLflow xgboost flavor, model.xgb (legacy binary)", mlx, frides, want, pre)
        check_source(mlx, pre, {"flavor": "xgboost", "file": "model.xgb",
                                "serialization": "xgboost-legacy-binary (read by libxgboost)"})
        (tmp / "garbage.bin").write_bytes(b"binf" + b"\x07" * 64)
        check_refused("damaged legacy binary", tmp / "garbage.bin", "libxgboost cannot read it", pre)
        data = (tmp / "booster.ubj").read_bytes()
        (tmp / "trunc.ubj").write_bytes(data[: len(data) // 2])
        check_refused("truncated UBJSON", tmp / "trunc.ubj", "not valid UBJSON", pre)
        text = (tmp / "booster.json").read_text()
        (tmp / "trunc.json").write_text(text[: len(text) // 2])
        check_refused("truncated JSON", tmp / "trunc.json", "not valid JSON", pre)
        check_refused("preprocessor that is not a pickle", tmp / "booster.json", "not a pickle", tmp / "booster.ubj")
        with open(tmp / "notdv.b", "wb") as f:
            pickle.dump((1, 2), f, protocol=4)
        check_refused("preprocessor that is not a DictVectorizer", tmp / "booster.json", "must be a pickled DictVectorizer", tmp / "notdv.b")

    rptest.tally.finish()


if __name__ == "__main__":
    main()
