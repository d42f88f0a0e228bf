#!/usr/bin/python3
"""ridepy: the Python side of ridepred's parity tests and benchmarks.

This module is the *reference*: it reproduces, with scikit-learn, what the
Python AWS Lambda function that ridepred replaces does (docs/handler.md §1, §3), and
writes the models it trains in the documented JSON interchange format
(docs/model-format.md, ``ridepred.model/1``), so the C program can be checked against it.

It must run under Debian's ``/usr/bin/python3`` (python3-sklearn 1.2.1, numpy,
scipy).  Parquet files are read by an independent reader,
``tests/tools/rides.mjs`` (Node.js + hyparquet), because pandas has no Parquet
engine here.

Everything slow is cached under ``$RIDEPRED_BUILD_DIR/cache/`` (else
``/tmp/ridepred-cache``): the rides of each Parquet file (keyed by its name,
size and mtime) and the fitted pipelines (keyed by model kind, the training
data and the scikit-learn version).

Main entry points:

- ``load_rides(path)``          rows ``(pickup_us, dropoff_us, PU, DO, trip_distance)``
- ``prepare(rows)``             the course's preparation -> ``(dicts, y, rides)``
- ``train(kind, dicts, y)``     a fitted ``Pipeline(DictVectorizer, regressor)``
- ``export_model(p, path)``     the JSON model of docs/model-format.md
- ``json_model_predict(m, f)``  a tiny evaluator of that JSON model (self-check)
- ``reference_handler(p, event, run_id)``  the Python Lambda handler (TEST_RUN)
- ``kinesis_event(records)`` / ``direct_event(...)``  Lambda-shaped events
"""

import base64
import contextlib
import fcntl
import hashlib
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Repository root (this file is tests/tools/ridepy.py).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The independent Parquet reader.
RIDES_MJS = REPO_ROOT / "tests" / "tools" / "rides.mjs"

#: Name the reference reports in every prediction event (docs/handler.md §3.1).
MODEL_NAME = "ride_duration_prediction_model"
#: JSON model format tag (docs/model-format.md).
MODEL_FORMAT = "ridepred.model/1"

#: Model kinds ``train`` knows.
KINDS = ("linear", "ridge", "lasso", "elasticnet", "tree", "forest", "extratrees", "gbr")

# Bump when the cached objects' layout changes.
_CACHE_VERSION = "1"

# First sequence number of generated Kinesis records (the course event's).
_SEQ_BASE = 49630081666084879290581185630324770398608704880802529282


def log(msg):
    """Progress message to stderr (the tests' stdout is kept for results)."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------

def cache_dir():
    """The cache directory: ``$RIDEPRED_BUILD_DIR/cache`` or ``/tmp/ridepred-cache``."""
    build = os.environ.get("RIDEPRED_BUILD_DIR")
    d = Path(build) / "cache" if build else Path("/tmp/ridepred-cache")
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def _locked(name):
    """Hold an exclusive lock named *name* in the cache dir.

    Two processes (ctest -j, a benchmark beside a test) that want the same
    cached object then compute it once instead of twice.
    """
    with open(cache_dir() / (name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cache_load(path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a corrupt cache entry is recomputed
        log("ridepy: ignoring unreadable cache file %s (%s)" % (path, exc))
        return None


def _cache_store(path, obj):
    """Pickle *obj* to *path* atomically (write a temporary file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------
# Rides
# ---------------------------------------------------------------------------

def file_key(path):
    """A short cache key for a data file: its name, size and mtime."""
    st = os.stat(path)
    raw = "%s|%d|%d" % (os.path.basename(path), st.st_size, st.st_mtime_ns)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _read_rides_node(path, limit=None):
    """Run ``node tests/tools/rides.mjs`` on *path*; return the rows as tuples."""
    cmd = ["node", str(RIDES_MJS), str(path)]
    if limit is not None:
        cmd += ["--limit", str(int(limit))]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(REPO_ROOT))
    except FileNotFoundError:
        raise RuntimeError("node (Node.js) is not installed: it runs tests/tools/rides.mjs "
                           "(scripts/deps test installs it)") from None
    if proc.returncode != 0:
        raise RuntimeError(
            "rides.mjs failed on %s (exit %d): %s (did `npm ci` run in tests/tools?)"
            % (path, proc.returncode, proc.stderr.decode("utf-8", "replace").strip())
        )
    rows = []
    for line in proc.stdout.decode("utf-8").splitlines():
        pu_t, do_t, pu, do, dist = json.loads(line)
        # JS prints 1.0 as 1: trip_distance is a double column, keep it a float.
        rows.append((pu_t, do_t, pu, do, None if dist is None else float(dist)))
    return rows


def load_rides(path, limit=None):
    """Rows of a TLC green trip Parquet file, in file order.

    Each row is ``(pickup_us, dropoff_us, PULocationID, DOLocationID,
    trip_distance)``: timestamps as int microseconds since the epoch, location
    ids as int, trip_distance as float; a null is ``None``.  The full file is
    cached (keyed by name, size and mtime); ``limit`` reads only the first rows
    and is not cached.
    """
    path = os.fspath(path)
    if limit is not None:
        return _read_rides_node(path, limit)
    cpath = cache_dir() / ("rides-%s-v%s.pickle" % (file_key(path), _CACHE_VERSION))
    rows = _cache_load(cpath)
    if rows is not None:
        return rows
    with _locked(cpath.name):
        rows = _cache_load(cpath)
        if rows is None:
            rows = _read_rides_node(path)
            _cache_store(cpath, rows)
    return rows


def prepare(rows):
    """The course's preparation of rides for training and evaluation.

    duration = (dropoff - pickup) in minutes, computed as pandas does
    (``Timedelta.total_seconds() / 60``); rides with 1 <= duration <= 60 are
    kept; rows with a null in any of the five columns are dropped (there are
    none in the 2021 green files).

    Returns ``(dicts, y, rides)``:

    - ``dicts``: one ``{'PU_DO': '%s_%s' % (PU, DO), 'trip_distance': d}`` per
      kept ride (PU, DO as Python ints, d a float);
    - ``y``: numpy float64 array of durations (the target);
    - ``rides``: one ``(PU, DO, trip_distance, row_number)`` per kept ride,
      ``row_number`` being its 0-based row in the file (used as ride_id).
    """
    dicts, y, rides = [], [], []
    for i, (pu_t, do_t, pu, do, dist) in enumerate(rows):
        if pu_t is None or do_t is None or pu is None or do is None or dist is None:
            continue
        # Timedelta.total_seconds() is (value / 10**unit): exact integer over a
        # power of ten, correctly rounded, then / 60.
        duration = ((do_t - pu_t) / 1e6) / 60
        if not (1 <= duration <= 60):
            continue
        pu, do = int(pu), int(do)
        dicts.append({"PU_DO": "%s_%s" % (pu, do), "trip_distance": dist})
        y.append(duration)
        rides.append((pu, do, dist, i))
    return dicts, np.asarray(y, dtype=np.float64), rides


def data_key(dicts, y):
    """A content hash of prepared training data (for the model cache)."""
    h = hashlib.sha256()
    h.update("\n".join(d["PU_DO"] for d in dicts).encode())
    h.update(np.asarray([d["trip_distance"] for d in dicts], dtype=np.float64).tobytes())
    h.update(np.asarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def make_regressor(kind):
    """The scikit-learn regressor for *kind* (see ``KINDS``)."""
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingRegressor,
                                  RandomForestRegressor)
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
    from sklearn.tree import DecisionTreeRegressor

    if kind == "linear":
        return LinearRegression()
    if kind == "ridge":
        return Ridge()
    if kind == "lasso":
        return Lasso()
    if kind == "elasticnet":
        return ElasticNet()
    if kind == "tree":
        return DecisionTreeRegressor(max_depth=20, min_samples_leaf=10, random_state=0)
    if kind == "forest":
        return RandomForestRegressor(max_depth=20, n_estimators=100, min_samples_leaf=10,
                                     random_state=0, n_jobs=1)
    if kind == "extratrees":
        return ExtraTreesRegressor(max_depth=20, n_estimators=100, min_samples_leaf=10,
                                   random_state=0, n_jobs=1)
    if kind == "gbr":
        return GradientBoostingRegressor(n_estimators=50, max_depth=5, random_state=0)
    raise ValueError("unknown model kind %r (known: %s)" % (kind, ", ".join(KINDS)))


def train(kind, dicts, y, key=None):
    """Fit ``make_pipeline(DictVectorizer(), regressor)`` on *dicts*, *y*.

    The fitted pipeline is cached (pickle) under the cache dir, keyed by
    *kind*, the data (``key``, else ``data_key(dicts, y)``), the regressor's
    parameters and the scikit-learn version, so only the first call pays for
    the fit (the forest takes minutes).
    """
    import sklearn
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import make_pipeline

    reg = make_regressor(kind)
    if key is None:
        key = data_key(dicts, y)
    params = json.dumps(reg.get_params(), sort_keys=True, default=str)
    spec = "%s|%s|%s|%s|%s" % (kind, key, params, sklearn.__version__, _CACHE_VERSION)
    cpath = cache_dir() / ("model-%s-%s.pickle" % (kind, hashlib.sha256(spec.encode()).hexdigest()[:16]))
    pipe = _cache_load(cpath)
    if pipe is not None:
        return pipe
    with _locked(cpath.name):
        pipe = _cache_load(cpath)
        if pipe is None:
            t0 = time.monotonic()
            pipe = make_pipeline(DictVectorizer(), reg)
            pipe.fit(dicts, y)
            log("ridepy: trained %s on %d rides in %.1f s" % (kind, len(dicts), time.monotonic() - t0))
            _cache_store(cpath, pipe)
    return pipe


def model_path_in_cache(kind, key):
    """Where ``train`` would cache *kind* trained on data *key* (for benchmarks)."""
    import sklearn
    reg = make_regressor(kind)
    params = json.dumps(reg.get_params(), sort_keys=True, default=str)
    spec = "%s|%s|%s|%s|%s" % (kind, key, params, sklearn.__version__, _CACHE_VERSION)
    return cache_dir() / ("model-%s-%s.pickle" % (kind, hashlib.sha256(spec.encode()).hexdigest()[:16]))


def trained_on(kind, data_file):
    """Convenience: load *data_file*, prepare it and ``train(kind, ...)``."""
    dicts, y, _ = prepare(load_rides(data_file))
    return train(kind, dicts, y)


# ---------------------------------------------------------------------------
# Export to the JSON model (docs/model-format.md)
# ---------------------------------------------------------------------------

def _floats(arr):
    """A numpy array as a list of Python floats (json.dumps writes repr: exact)."""
    out = np.asarray(arr, dtype=np.float64).tolist()
    for v in out:
        if not math.isfinite(v):
            raise ValueError("non-finite value %r cannot be written to a JSON model" % v)
    return out


def _ints(arr):
    return [int(v) for v in np.asarray(arr).tolist()]


def _tree_dict(tree, scale=None):
    """One sklearn ``Tree`` (``estimator.tree_``) as the per-node arrays of docs/model-format.md.

    Leaves keep scikit-learn's own markers: ``left == right == -1`` and
    ``feature == -2``, ``threshold == -2.0`` (``TREE_UNDEFINED``); the C loader
    ignores feature and threshold of leaves.  ``scale`` multiplies each node
    value in float64 (gradient boosting's ``learning_rate * value``, exactly the
    product sklearn's ``predict_stages`` computes).
    """
    value = np.asarray(tree.value[:, 0, 0], dtype=np.float64)
    if scale is not None:
        value = np.float64(scale) * value
    return {
        "left": _ints(tree.children_left),
        "right": _ints(tree.children_right),
        "feature": _ints(tree.feature),
        "threshold": _floats(tree.threshold),
        "value": _floats(value),
    }


def model_dict(pipeline, version=None, name=MODEL_NAME):
    """The ``ridepred.model/1`` document (a dict) for a fitted pipeline."""
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingRegressor,
                                  RandomForestRegressor)
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
    from sklearn.tree import DecisionTreeRegressor

    steps = [s for _, s in pipeline.steps]
    if len(steps) != 2 or not isinstance(steps[0], DictVectorizer):
        raise TypeError("expected Pipeline(DictVectorizer, regressor), got %r" % (pipeline,))
    dv, reg = steps
    doc = {"format": MODEL_FORMAT}
    if name is not None:
        doc["name"] = name
    if version is not None:
        doc["version"] = str(version)
    doc["features"] = list(dv.feature_names_)
    nfeat = len(doc["features"])

    if isinstance(reg, (LinearRegression, Ridge, Lasso, ElasticNet)):
        coef = np.asarray(reg.coef_, dtype=np.float64).ravel()
        if coef.shape[0] != nfeat:
            raise ValueError("coef has %d entries for %d features" % (coef.shape[0], nfeat))
        intercept = np.asarray(reg.intercept_, dtype=np.float64).ravel()
        if intercept.shape[0] != 1:
            raise ValueError("expected one target, intercept is %r" % (reg.intercept_,))
        est = {"type": "linear", "coef": _floats(coef), "intercept": float(intercept[0])}
    elif isinstance(reg, DecisionTreeRegressor):
        est = {"type": "trees", "combine": "sum", "base": 0.0, "split": "le",
               "trees": [_tree_dict(reg.tree_)]}
    elif isinstance(reg, (RandomForestRegressor, ExtraTreesRegressor)):
        est = {"type": "trees", "combine": "mean", "base": 0.0, "split": "le",
               "trees": [_tree_dict(e.tree_) for e in reg.estimators_]}
    elif isinstance(reg, GradientBoostingRegressor):
        if reg.estimators_.shape[1] != 1:
            raise ValueError("expected a single-output gradient boosting model")
        # The init estimator's raw prediction does not depend on X for the
        # regression losses (a DummyRegressor): any one row will do.
        one_row = dv.transform([{}]) if nfeat else None
        base = float(np.asarray(reg._raw_predict_init(one_row), dtype=np.float64).ravel()[0])
        lr = float(reg.learning_rate)
        est = {"type": "trees", "combine": "sum", "base": base, "split": "le",
               "trees": [_tree_dict(e.tree_, scale=lr) for e in reg.estimators_[:, 0]]}
    else:
        raise TypeError("cannot export regressor %s" % type(reg).__name__)

    if est["type"] == "trees":
        for t in est["trees"]:
            for f, left in zip(t["feature"], t["left"]):
                if left != -1 and not (0 <= f < nfeat):
                    raise ValueError("split on feature %d outside 0..%d" % (f, nfeat - 1))
    doc["estimator"] = est
    return doc


def export_model(pipeline, path, version=None, name=MODEL_NAME):
    """Write *pipeline* as a ``ridepred.model/1`` JSON model to *path*.

    ``features`` is ``dv.feature_names_`` in column order; linear models
    become ``{"type": "linear", ...}``, trees ``{"type": "trees", ...}`` (see
    ``model_dict``).  Floats are written by ``json.dumps`` (``repr``: they
    read back to the same double).  Returns the document (a dict).
    """
    doc = model_dict(pipeline, version=version, name=name)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as fh:
        json.dump(doc, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")
    os.replace(tmp, path)
    return doc


def load_model(path):
    """Read a JSON model back (a dict)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------
# A tiny evaluator of the JSON model (independent of scikit-learn)
# ---------------------------------------------------------------------------

class _Compiled:
    """Lookup tables of a JSON model for ``json_model_predict``."""

    def __init__(self, doc):
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError("not a %s model: format %r" % (MODEL_FORMAT, doc.get("format")))
        self.vocab = {name: i for i, name in enumerate(doc["features"])}
        self.est = doc["estimator"]


_compiled_cache = {}


def _compiled(doc):
    c = _compiled_cache.get(id(doc))
    if c is None or c[0] is not doc:
        c = (doc, _Compiled(doc))
        _compiled_cache[id(doc)] = c
    return c[1]


def _f32(x):
    """*x* rounded to float32, as a Python float (what sklearn's trees compare)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def vectorize(doc, features):
    """The sparse row DictVectorizer builds: ``[(column, float64 value)]`` by column.

    String values become the one-hot feature ``KEY=VALUE`` (1.0), numbers the
    numeric feature ``KEY``; names not in the model contribute nothing.
    """
    vocab = _compiled(doc).vocab
    row = {}
    for k, v in features.items():
        if isinstance(v, str):
            name, v = "%s=%s" % (k, v), 1.0
        else:
            name = k
        j = vocab.get(name)
        if j is not None:
            row[j] = float(v)
    return sorted(row.items())


def json_model_predict(doc, features):
    """Predict one ride's duration from a JSON model *doc* and a features dict.

    Follows docs/model-format.md literally: linear = sum of coef*x over the row's non-zero
    columns in column order, then + intercept (as scipy's CSR product and
    sklearn do); trees compare ``float32(x) <= threshold`` (absent feature: 0)
    and combine the leaf values in tree order in double ("sum" from ``base``,
    "mean" from 0 then / n then + base).  Must equal sklearn bit for bit.
    """
    est = _compiled(doc).est
    row = vectorize(doc, features)
    if est["type"] == "linear":
        coef = est["coef"]
        s = 0.0
        for j, x in row:
            s += x * coef[j]
        return s + est["intercept"]
    if est["type"] != "trees":
        raise ValueError("unknown estimator type %r" % est["type"])
    x = {j: _f32(v) for j, v in row}
    le = est.get("split", "le") == "le"
    combine = est.get("combine", "sum")
    acc = float(est.get("base", 0.0)) if combine == "sum" else 0.0
    for t in est["trees"]:
        left, right, feat, thr, val = t["left"], t["right"], t["feature"], t["threshold"], t["value"]
        dleft = t.get("default_left")
        node = 0
        while left[node] != -1:
            f = feat[node]
            if f in x:
                go_left = x[f] <= thr[node] if le else x[f] < thr[node]
            elif dleft is not None:
                go_left = bool(dleft[node])
            else:
                go_left = 0.0 <= thr[node] if le else 0.0 < thr[node]
            node = left[node] if go_left else right[node]
        acc += val[node]
    if combine == "mean":
        acc = acc / len(est["trees"]) + float(est.get("base", 0.0))
    return acc


# ---------------------------------------------------------------------------
# The Python reference handler (docs/handler.md §1, TEST_RUN=True) and events
# ---------------------------------------------------------------------------

def prepare_features(ride):
    """The reference's features of one ride (docs/handler.md §1, §4.4)."""
    return {
        "PU_DO": "%s_%s" % (ride["PULocationID"], ride["DOLocationID"]),
        "trip_distance": ride["trip_distance"],
    }


def reference_predict(model, features):
    """``float(model.predict(features)[0])``: the reference's prediction."""
    return float(model.predict(features)[0])


def reference_result(model, event, run_id, predict=reference_predict):
    """The reference handler's result (a dict) for a Kinesis or direct event.

    Kinesis (``{"Records": [...]}``): per record, base64 -> UTF-8 -> JSON ->
    features -> prediction, collected as ``{'predictions': [...]}``; nothing is
    published (TEST_RUN=True).  Direct (``{"ride": ..., "ride_id": ...}``):
    ``{'ride_duration': prediction, 'ride_id': ride_id}``.  The version
    reported is *run_id*.  *predict* may be replaced (e.g. with a JSON model
    evaluator); by default it is the scikit-learn pipeline's.
    """
    if "Records" in event:
        predictions_events = []
        for record in event["Records"]:
            encoded_data = record["kinesis"]["data"]
            ride_event = json.loads(base64.b64decode(encoded_data).decode("utf-8"))
            ride = ride_event["ride"]
            ride_id = ride_event["ride_id"]
            features = prepare_features(ride)
            prediction = predict(model, features)
            prediction_event = {
                "model": MODEL_NAME,
                "version": run_id,
                "prediction": {"ride_duration": prediction, "ride_id": ride_id},
            }
            predictions_events.append(prediction_event)
        return {"predictions": predictions_events}
    ride = event["ride"]
    ride_id = event["ride_id"]
    prediction = predict(model, prepare_features(ride))
    return {"ride_duration": prediction, "ride_id": ride_id}


def reference_handler(model, event, run_id, predict=reference_predict):
    """The reference handler's response body: ``json.dumps`` of ``reference_result``."""
    return json.dumps(reference_result(model, event, run_id, predict=predict))


def ride_event(pu, do, trip_distance, ride_id):
    """The ride event a producer sends: ``{"ride": {...}, "ride_id": N}``."""
    return {"ride": {"PULocationID": pu, "DOLocationID": do, "trip_distance": trip_distance},
            "ride_id": ride_id}


def kinesis_record(data, seq, stream="ride_events", region="eu-west-1",
                   account="387546586013", arrival=1654161514.132):
    """One Lambda Kinesis record carrying *data* (bytes) with sequence number *seq*."""
    seq = str(seq)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "1",
            "sequenceNumber": seq,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000000:" + seq,
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::%s:role/lambda-kinesis-role" % account,
        "awsRegion": region,
        "eventSourceARN": "arn:aws:kinesis:%s:%s:stream/%s" % (region, account, stream),
    }


def kinesis_event(records, seq_start=0):
    """A Lambda-shaped Kinesis event (like fixtures/events/course-event.json).

    *records*: iterable of ``(PU, DO, trip_distance, ride_id)`` tuples, or of
    ride-event dicts, or of raw ``bytes`` payloads.  Each record's data is
    ``base64(json.dumps({"ride": {...}, "ride_id": N}))``; its partitionKey is
    ``str(ride_id)`` and its sequenceNumber a distinct decimal string
    (the course event's, plus ``seq_start`` plus the record's index).
    """
    out = []
    for i, r in enumerate(records):
        if isinstance(r, (bytes, bytearray)):
            data, key = bytes(r), "1"
        else:
            ev = r if isinstance(r, dict) else ride_event(*r)
            data = json.dumps(ev).encode("utf-8")
            key = str(ev.get("ride_id", "1"))
        rec = kinesis_record(data, _SEQ_BASE + seq_start + i)
        rec["kinesis"]["partitionKey"] = key
        out.append(rec)
    return {"Records": out}


def kinesis_events(rides, n_events, per_event=100):
    """*n_events* Kinesis events of *per_event* records each from prepared *rides*.

    Rides are taken in order (``(PU, DO, trip_distance, row_number)``, ride_id
    = row number), starting again from the first when they run out; sequence
    numbers are distinct across all the events.
    """
    if not rides:
        raise ValueError("no rides")
    events = []
    k = 0
    for _ in range(n_events):
        chunk = [rides[(k + i) % len(rides)] for i in range(per_event)]
        events.append(kinesis_event(chunk, seq_start=k))
        k += per_event
    return events


def direct_event(pu, do, trip_distance, ride_id):
    """A direct event (docs/handler.md §3.2): the ride event itself."""
    return ride_event(pu, do, trip_distance, ride_id)


def write_json(path, obj):
    """Write *obj* as JSON (as json.dumps writes it) to *path*."""
    with open(path, "w", encoding="ascii") as fh:
        json.dump(obj, fh)
        fh.write("\n")


# ---------------------------------------------------------------------------
# Locating things
# ---------------------------------------------------------------------------

def data_dir():
    """The TLC data directory: ``$RIDEPRED_DATA_DIR``, else ``../shared/data``."""
    d = os.environ.get("RIDEPRED_DATA_DIR")
    return Path(d) if d else REPO_ROOT.parent / "shared" / "data"


def data_file(month):
    """The green trip file of 2021-*month* (1, 2 or 3) in ``data_dir()``."""
    return data_dir() / ("green_tripdata_2021-%02d.parquet" % int(month))


if __name__ == "__main__":
    # Small smoke run: python3 ridepy.py [FILE.parquet]
    f = sys.argv[1] if len(sys.argv) > 1 else str(data_file(1))
    t0 = time.monotonic()
    rows = load_rides(f)
    d, y, r = prepare(rows)
    print("%s: %d rows, %d prepared (%.2f s)" % (f, len(rows), len(d), time.monotonic() - t0))
