#!/usr/bin/python3
"""Parity of scikit-learn pickles read by ridepred's restricted unpickler.

Trains, with Debian's scikit-learn, Pipeline(DictVectorizer, regressor) for
linear, ridge, lasso, elasticnet, tree, forest (10 trees), extratrees
(10 trees) and gbr (30 stages) on the first RIDEPRED_PICKLE_TRAIN (20000)
prepared rides of 2021-01; writes each with pickle protocols 2, 4 and 5, plus
`(dv, model)` tuples, an MLflow directory (sklearn flavor), pickles whose
numpy globals are renamed to `numpy._core` (numpy >= 2), tree pickles whose
node records carry scikit-learn >= 1.3's `missing_go_to_left` field, and
big-endian arrays.  Each is served by `ridepred invoke --model FILE` on a
Kinesis events (5000 records each) of RIDEPRED_PICKLE_RECORDS (10000) real rides of 2021-02, and
every prediction is compared with scikit-learn's `predict`: trees bit-exact,
linear models within 1e-9 relative.  Hostile pickles are refused.

Env: RIDEPRED_BIN, RIDEPRED_DATA_DIR (missing: SKIP, exit 77; failure when
CI is set).  Prints `N passed, N failed`.
"""
import io
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

BIN = rptest.BIN
N_TRAIN = int(os.environ.get("RIDEPRED_PICKLE_TRAIN", "20000"))
N_EVAL = int(os.environ.get("RIDEPRED_PICKLE_RECORDS", "10000"))
EVENT_RECORDS = 5000
LINEAR = {"linear", "ridge", "lasso", "elasticnet"}
result = rptest.check
rptest.tally.quiet = True  # only failures are printed


def regressor(kind):
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
    if kind == "forest":
        return RandomForestRegressor(n_estimators=10, max_depth=20, min_samples_leaf=10, random_state=0, n_jobs=1)
    if kind == "extratrees":
        return ExtraTreesRegressor(n_estimators=10, max_depth=20, min_samples_leaf=10, random_state=0, n_jobs=1)
    if kind == "gbr":
        return GradientBoostingRegressor(n_estimators=30, max_depth=5, random_state=0)
    return ridepy.make_regressor(kind)


def tree_pickle(obj, transform, protocol=4):
    """Pickles obj with every sklearn Tree's state arrays passed through transform."""
    from sklearn.tree._tree import Tree

    class P(pickle.Pickler):
        def reducer_override(self, o):
            if isinstance(o, Tree):
                cls, args, state = o.__reduce__()
                state = dict(state)
                state["nodes"], state["values"] = transform(state["nodes"], state["values"])
                return cls, args, state
            return NotImplemented
    buf = io.BytesIO()
    P(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def with_missing(nodes, values):
    import numpy as np
    names = list(nodes.dtype.names) + ["missing_go_to_left"]
    formats = [nodes.dtype.fields[n][0] for n in nodes.dtype.names] + [np.uint8]
    offsets = [nodes.dtype.fields[n][1] for n in nodes.dtype.names] + [nodes.dtype.itemsize]
    dt = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": 64})
    out = np.zeros(nodes.shape, dtype=dt)
    for n in nodes.dtype.names:
        out[n] = nodes[n]
    out["missing_go_to_left"] = 1
    return out, values


def big_endian(nodes, values):
    return nodes.astype(nodes.dtype.newbyteorder(">")), values.astype(values.dtype.newbyteorder(">"))


def invoke(model_path, event_paths):
    """Predictions for the events' records, in order (events of at most
    EVENT_RECORDS records: Lambda's payload limit is 6 MiB)."""
    env = dict(os.environ, TEST_RUN="True", RUN_ID="parity")
    preds = []
    for event_path in event_paths:
        p = subprocess.run([BIN, "invoke", "--model", str(model_path), str(event_path)],
                           capture_output=True, env=env, timeout=300)
        if p.returncode != 0:
            return None, p.stderr.decode(errors="replace")[:400]
        doc = json.loads(p.stdout)
        preds += [r["prediction"]["ride_duration"] for r in doc["predictions"]]
    return preds, ""


def compare(label, kind, model_path, event_path, want):
    got, msg = invoke(model_path, event_path)
    if got is None:
        result(False, "%s: ridepred failed: %s" % (label, msg))
        return
    if len(got) != len(want):
        result(False, "%s: %d predictions, want %d" % (label, len(got), len(want)))
        return
    bad = 0
    for i, (g, w) in enumerate(zip(got, want)):
        ok = (abs(g - w) <= 1e-9 * max(abs(w), 1e-300)) if kind in LINEAR else (g == w)
        if not ok:
            if bad < 3:
                print("  %s row %d: ridepred %r sklearn %r" % (label, i, g, w))
            bad += 1
    result(bad == 0, "%s: %d of %d predictions differ" % (label, bad, len(want)))


def inspect_json(path):
    p = subprocess.run([BIN, "model", "inspect", "--json", str(path)], capture_output=True, timeout=60)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace")
    return json.loads(p.stdout), ""


def check_source(kind, mldir, pipe, tmp):
    """`model inspect` names where a model came from, also after convert."""
    import sklearn
    want_classes = ["sklearn.pipeline.Pipeline"] + [
        "%s.%s" % (type(s).__module__, type(s).__name__) for _, s in pipe.steps]
    native = Path(tmp) / ("%s-converted.bin" % kind)
    conv = subprocess.run([BIN, "model", "convert", str(mldir), str(native)], capture_output=True, timeout=60)
    result(conv.returncode == 0, "%s: convert failed: %r" % (kind, conv.stderr[:300]))
    for label, path in (("MLflow directory", mldir), ("converted native file", native)):
        doc, err = inspect_json(path)
        if doc is None:
            result(False, "%s %s: inspect failed: %s" % (kind, label, err))
            continue
        src = doc.get("source") or {}
        result(src.get("flavor") == "sklearn" and src.get("loader_module") == "mlflow.sklearn"
               and src.get("run_id") == "abc" and src.get("serialization_format") == "cloudpickle"
               and src.get("file") == "model.pkl" and src.get("pickle_protocol") == 4
               and src.get("classes") == want_classes and src.get("sklearn_version") == sklearn.__version__
               and (kind != "forest" or src.get("estimators") == len(pipe.steps[1][1].estimators_)),
               "%s %s: inspect source %r" % (kind, label, src))
    text = subprocess.run([BIN, "model", "inspect", str(native)], capture_output=True, text=True, timeout=60).stdout
    result("sklearn_version            %s" % sklearn.__version__ in text and want_classes[-1] in text,
           "%s: inspect text shows versions and classes: %r" % (kind, text))


def refused(label, data, needle, tmp):
    path = Path(tmp) / "hostile.pkl"
    path.write_bytes(data)
    p = subprocess.run([BIN, "model", "inspect", str(path)], capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    result(p.returncode != 0 and needle in err, "%s: exit %d, stderr %r" % (label, p.returncode, err[:300]))


def main():
    jan, feb = map(Path, rptest.need_data(ridepy.data_file(1), ridepy.data_file(2)))
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import make_pipeline
    dicts, y, _ = ridepy.prepare(ridepy.load_rides(jan))
    dicts, y = dicts[:N_TRAIN], y[:N_TRAIN]
    _, _, rides = ridepy.prepare(ridepy.load_rides(feb))
    rides = rides[:N_EVAL]
    feats = [{"PU_DO": "%s_%s" % (pu, do), "trip_distance": d} for pu, do, d, _ in rides]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        event = []
        for k in range(0, len(rides), EVENT_RECORDS):
            event.append(tmp / ("event-%d.json" % k))
            ridepy.write_json(event[-1], ridepy.kinesis_event(rides[k:k + EVENT_RECORDS]))
        for kind in ["linear", "ridge", "lasso", "elasticnet", "tree", "forest", "extratrees", "gbr"]:
            pipe = make_pipeline(DictVectorizer(), regressor(kind))
            pipe.fit(dicts, y)
            want = [float(pipe.predict([f])[0]) for f in feats] if kind in LINEAR else [float(v) for v in pipe.predict(feats)]
            for proto in (2, 4, 5):
                path = tmp / ("%s-p%d.pkl" % (kind, proto))
                path.write_bytes(pickle.dumps(pipe, protocol=proto))
                compare("%s pipeline protocol %d" % (kind, proto), kind, path, event, want)
            dv, est = pipe.steps[0][1], pipe.steps[1][1]
            path = tmp / ("%s-tuple.bin" % kind)
            with open(path, "wb") as fh:
                pickle.dump((dv, est), fh)
            compare("%s (dv, model) tuple" % kind, kind, path, event, want)
            # numpy >= 2 names its modules numpy._core (protocol 2: text GLOBALs)
            data = pickle.dumps(pipe, protocol=2)
            data = data.replace(b"cnumpy.core.multiarray\n", b"cnumpy._core.multiarray\n")
            path = tmp / ("%s-npcore.pkl" % kind)
            path.write_bytes(data)
            compare("%s numpy._core" % kind, kind, path, event, want)
            if kind not in LINEAR:
                for label, tf in (("missing_go_to_left nodes", with_missing), ("big-endian arrays", big_endian)):
                    path = tmp / ("%s-%s.pkl" % (kind, label.split()[0]))
                    path.write_bytes(tree_pickle(pipe, tf))
                    compare("%s %s" % (kind, label), kind, path, event, want)
            if kind in ("linear", "forest"):
                d = tmp / ("mlflow-%s" % kind)
                d.mkdir()
                (d / "model.pkl").write_bytes(pickle.dumps(pipe, protocol=4))
                (d / "MLmodel").write_text(
                    "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
                    "    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n"
                    "    serialization_format: cloudpickle\nrun_id: abc\n")
                compare("%s MLflow directory" % kind, kind, d, event, want)
                check_source(kind, d, pipe, tmp)
        # Hostile pickles
        class Evil:
            def __reduce__(self):
                return (os.system, ("echo pwned",))
        refused("os.system via REDUCE", pickle.dumps(Evil(), protocol=4), "refusing to load posix.system", tmp)
        refused("builtins.eval", pickle.dumps(eval, protocol=2), "eval: not a class ridepred can serve", tmp)
        refused("a bare list", pickle.dumps([1, 2], protocol=4), "ridepred serves a Pipeline", tmp)
        refused("DictVectorizer alone", pickle.dumps(DictVectorizer().fit(dicts[:10]), protocol=4), "bare DictVectorizer", tmp)
    rptest.tally.finish()


if __name__ == "__main__":
    main()
