#!/usr/bin/python3
"""Differential test: `ridepred invoke` against a pure-Python reference handler.

The reference (``reference()`` below) is docs/handler.md (§1-§7) as ridepred must behave:
the Python Lambda function (``json.loads`` of the event bytes, as Lambda's
Python runtime does; per Kinesis record
``json.loads(base64.b64decode(data).decode('utf-8'))``; features
``{'PU_DO': '%s_%s' % (PU, DO), 'trip_distance': X}``; a JSON linear model
(docs/model-format.md) evaluated as scikit-learn's DictVectorizer + LinearRegression do on a
sparse row; the answer through ``json.dumps`` with default settings), plus the
documented deviations of docs/handler.md §6: records that cannot be served are named in
``batchItemFailures``; ``ride_id`` must be an int or str whose ``str()`` is 1 to
256 characters; PU/DO must be int, float or str; ``trip_distance`` an int or
float (not bool) that is finite as a float; events that are not JSON, not an
object, of neither shape, with a bad Records list / record / kinesis object /
sequenceNumber answer ``InvalidEvent``; nesting deeper than 64 levels, record
data above 1 MiB and events above 6 MiB are refused.  Kafka events (§2, §3.1:
no ``Records``, a ``records`` object of topic-partition lists) are answered
record by record in key order, each ``value`` decoded as ``kinesis.data`` is,
failures named ``{"partition": KEY, "offset": N}``; ``records`` not an object,
a list that is not a list of objects, an offset that is not an int, or a key of
``records`` repeated answer ``InvalidEvent``.

Hand-written cases cover the corners (ids, location ids, distances, duplicate
and escaped keys, base64 quirks, UTF-8, nesting and size limits, whitespace,
versions, random doubles in every spelling against a model whose vocabulary
holds their reprs); a seeded fuzzer then mutates valid events, record payloads
and base64 strings, and composes ride events from pools of good and bad values
(key order, duplicates, missing and extra keys).  Case names start with a
group letter: K (a ride payload as the middle of three Kinesis records),
D (the same payload as a direct event), A (the same payload as the middle of
three Kafka records over two topic-partitions), E (event / record / base64
structure), P (Kafka event structure),
Q (event encodings json.loads(bytes) accepts: BOM, UTF-16/32, encoded
surrogates), S (size limits), V (versions, other models), M (mixed batches),
R (random doubles), F (fixture events), fuzz / compose.  Every case runs through both; stdout (minus one trailing
newline) must match byte for byte and the exit status must be 0 (answer) or 1
(InvalidEvent; then only ``errorType`` is compared).

If scikit-learn is importable, a self-check first confirms that the reference's
arithmetic equals a real DictVectorizer + LinearRegression bit for bit.

Environment: RIDEPRED_BIN (default /work/main/build/ridepred),
RIDEPRED_BUILD_DIR (temporary files), RIDEPRED_FUZZ_CASES (default 3000),
RIDEPRED_FUZZ_SEED (default 20240611), RIDEPRED_JOBS (parallel processes).

Prints every mismatch; ends with ``N passed, N failed``; exits 1 on any failure.
"""

import base64
import concurrent.futures
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("RIDEPRED_BIN") or "/work/main/build/ridepred"
FUZZ_CASES = int(os.environ.get("RIDEPRED_FUZZ_CASES") or 3000)
FUZZ_SEED = int(os.environ.get("RIDEPRED_FUZZ_SEED") or 20240611)
JOBS = int(os.environ.get("RIDEPRED_JOBS") or max(2, 2 * (os.cpu_count() or 1)))

MODEL_NAME = "ride_duration_prediction_model"
MAX_EVENT = 6 * 1024 * 1024      # docs/handler.md §7: an event above 6 MiB is refused
MAX_RECORD = 1024 * 1024         # a record's decoded data may be up to 1 MiB
MAX_DEPTH = 64                   # nesting deeper than 64 levels is refused
MAX_KEY = 256                    # partition key: 1..256 characters

DEFAULT_RUN_ID = "run-7f3a"


# ---------------------------------------------------------------------------
# Models (docs/model-format.md, JSON linear)
# ---------------------------------------------------------------------------

def _coefs(n, seed):
    rnd = random.Random(seed)
    return [rnd.uniform(-25.0, 25.0) for _ in range(n)]


MAIN_FEATURES = [
    "PU_DO=130_205", "PU_DO=1_2", "trip_distance", "PU_DO=130.0_205",
    "PU_DO=100.0_205", "PU_DO=-0.0_205", "PU_DO=1e+16_205", "PU_DO=1e-05_205",
    "PU_DO=nan_205", "PU_DO=inf_-inf", "PU_DO=inf_205", "PU_DO=a_b_c_d",
    "PU_DO=\u00e9_\u00fc", "PU_DO=\U0001F600_205", "PU_DO=a=b_c", "PU_DO=0_0",
    "PU_DO=_", "PU_DO=130_205.0", "PU_DO=0_205", "PU_DO=\"q\\_/",
    "PU_DO=1.5_2.5", "PU_DO=True_1", "PU_DO=None_1", "PU_DO=0.0001_205",
    "PU_DO=1000000000000000.0_205", "PU_DO=12345678901234567890_205",
    "PU_DO=-5_205", "PU_DO= 130_205", "PU_DO=\u0000_\u007f",
]
MAIN_COEF = _coefs(len(MAIN_FEATURES), 7)
MAIN_COEF[MAIN_FEATURES.index("trip_distance")] = 0.7316017316017316

MODELS = {
    "main": {
        "format": "ridepred.model/1", "name": MODEL_NAME, "version": "model-v1",
        "features": MAIN_FEATURES,
        "estimator": {"type": "linear", "coef": MAIN_COEF, "intercept": 10.123456789},
    },
    # The brief's tiny model, no "version": the reported version falls back to "unknown".
    "tiny": {
        "format": "ridepred.model/1",
        "features": ["PU_DO=130_205", "PU_DO=1_2", "trip_distance"],
        "estimator": {"type": "linear", "coef": [1.5, 2.0, 3.25], "intercept": 10.1},
    },
    # A model whose vocabulary holds a lone surrogate and a surrogate pair.
    "exotic": {
        "format": "ridepred.model/1", "version": "exotic-\u00e9",
        "features": ["trip_distance", "PU_DO=\ud800_1", "PU_DO=\U0001F600_\ud83d"],
        "estimator": {"type": "linear", "coef": [-1.25, 100.5, 7.0], "intercept": -3.0},
    },
}


def model_predict(model, pu_do, td):
    """DictVectorizer + LinearRegression on the sparse row {PU_DO, trip_distance}.

    The row's entries are stored in dict order (PU_DO, then trip_distance);
    scipy's CSR product sums them in that order from 0.0; then the intercept.
    """
    vocab = model["_vocab"]
    coef = model["estimator"]["coef"]
    s = 0.0
    col = vocab.get("PU_DO=" + pu_do)
    if col is not None:
        s += 1.0 * coef[col]
    col = vocab.get("trip_distance")
    if col is not None:
        s += float(td) * coef[col]
    return s + model["estimator"]["intercept"]


for _m in MODELS.values():
    _m["_vocab"] = {f: i for i, f in enumerate(_m["features"])}


# ---------------------------------------------------------------------------
# The reference handler
# ---------------------------------------------------------------------------

class InvalidEvent(Exception):
    pass


class RecordFailure(Exception):
    pass


class KeyedDict(dict):
    """A JSON object as json.loads builds it (the last of a repeated key
    counts, at its first place), remembering whether a key repeated."""
    repeated = False


def _keyed(pairs):
    d = KeyedDict(pairs)
    d.repeated = len(d) < len(pairs)
    return d


def depth(obj):
    """Nesting levels of a parsed JSON value: a scalar 0, `[]` 1, `[[]]` 2."""
    if isinstance(obj, dict):
        return 1 + max((depth(v) for v in obj.values()), default=0)
    if isinstance(obj, list):
        return 1 + max((depth(v) for v in obj), default=0)
    return 0


def serve(ride_event, model):
    """(ride_duration, ride_id) for a decoded ride event, or RecordFailure."""
    try:
        if not isinstance(ride_event, dict):
            raise RecordFailure("not an object")
        if "ride" not in ride_event or "ride_id" not in ride_event:
            raise RecordFailure("missing ride / ride_id")
        ride, ride_id = ride_event["ride"], ride_event["ride_id"]
        if type(ride_id) not in (int, str):
            raise RecordFailure("ride_id type")
        if not 1 <= len(str(ride_id)) <= MAX_KEY:
            raise RecordFailure("ride_id length")
        if not isinstance(ride, dict):
            raise RecordFailure("ride not an object")
        for k in ("PULocationID", "DOLocationID", "trip_distance"):
            if k not in ride:
                raise RecordFailure("missing " + k)
        pu, do, td = ride["PULocationID"], ride["DOLocationID"], ride["trip_distance"]
        for x in (pu, do):
            if type(x) not in (int, float, str):
                raise RecordFailure("location type")
        if type(td) not in (int, float):
            raise RecordFailure("trip_distance type")
        if not math.isfinite(float(td)):      # OverflowError for a huge int
            raise RecordFailure("trip_distance not finite")
        pu_do = "%s_%s" % (pu, do)
        return float(model_predict(model, pu_do, td)), ride_id
    except RecordFailure:
        raise
    except Exception as exc:                  # OverflowError, ValueError
        raise RecordFailure(repr(exc))


def decode_record(data):
    """The Python function's decoding of kinesis.data, plus the limits of docs/handler.md §7."""
    if not isinstance(data, str):
        raise RecordFailure("data not a string")
    try:
        raw = base64.b64decode(data)
        if len(raw) > MAX_RECORD:
            raise RecordFailure("record above 1 MiB")
        obj = json.loads(raw.decode("utf-8"))
    except RecordFailure:
        raise
    except Exception as exc:  # binascii.Error, ValueError, UnicodeError, RecursionError
        raise RecordFailure(repr(exc))
    if depth(obj) > MAX_DEPTH:
        raise RecordFailure("too deep")
    return obj


def version_of(model, env):
    if env.get("MODEL_VERSION"):
        return env["MODEL_VERSION"]
    if env.get("RUN_ID"):
        return env["RUN_ID"]
    if model.get("version"):
        return model["version"]
    return "unknown"


def reference(event_bytes, model, env):
    """(exit status, response text or None for InvalidEvent)."""
    try:
        return 0, _reference(event_bytes, model, env)
    except InvalidEvent:
        return 1, None


def _reference(event_bytes, model, env):
    if len(event_bytes) > MAX_EVENT:
        raise InvalidEvent("too large")
    # The event must be UTF-8 JSON text (RFC 8259), which is what Lambda and
    # Kinesis's event source mapping deliver.  ridepred is stricter here than
    # json.loads(bytes), which would also strip a BOM, guess UTF-16/32 and
    # let encoded surrogates through: documented in docs/handler.md §2, §6.
    try:
        event = json.loads(event_bytes.decode("utf-8"), object_pairs_hook=_keyed)
    except Exception:
        raise InvalidEvent("not JSON")
    if not isinstance(event, dict):
        raise InvalidEvent("not an object")
    if depth(event) > MAX_DEPTH:
        raise InvalidEvent("too deep")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            raise InvalidEvent("Records")
        for rec in records:
            if not isinstance(rec, dict) or not isinstance(rec.get("kinesis"), dict):
                raise InvalidEvent("record")
            if not isinstance(rec["kinesis"].get("sequenceNumber"), str):
                raise InvalidEvent("sequenceNumber")
        version = version_of(model, env)
        predictions, failures = [], []
        for rec in records:
            kin = rec["kinesis"]
            try:
                if "data" not in kin:
                    raise RecordFailure("no data")
                duration, ride_id = serve(decode_record(kin["data"]), model)
            except RecordFailure:
                failures.append({"itemIdentifier": kin["sequenceNumber"]})
                continue
            predictions.append({"model": MODEL_NAME, "version": version,
                                "prediction": {"ride_duration": duration, "ride_id": ride_id}})
        response = {"predictions": predictions}
        if failures:
            response["batchItemFailures"] = failures
        return json.dumps(response)
    if "records" in event:
        return _kafka(event["records"], model, env)
    if "ride" in event or "ride_id" in event:
        try:
            duration, ride_id = serve(event, model)
        except RecordFailure:
            raise InvalidEvent("ride")
        return json.dumps({"ride_duration": duration, "ride_id": ride_id})
    raise InvalidEvent("neither shape")


def _kafka(records, model, env):
    """A Kafka event's answer (docs/handler.md §2, §3.1)."""
    if not isinstance(records, dict) or records.repeated:
        raise InvalidEvent("records")
    for key, recs in records.items():
        if not isinstance(recs, list):
            raise InvalidEvent("records list")
        for rec in recs:
            if not isinstance(rec, dict) or type(rec.get("offset")) is not int:
                raise InvalidEvent("record / offset")
    version = version_of(model, env)
    predictions, failures = [], []
    for key, recs in records.items():
        for rec in recs:
            try:
                if "value" not in rec:
                    raise RecordFailure("no value")
                duration, ride_id = serve(decode_record(rec["value"]), model)
            except RecordFailure:
                failures.append({"itemIdentifier": {"partition": key, "offset": rec["offset"]}})
                continue
            predictions.append({"model": MODEL_NAME, "version": version,
                                "prediction": {"ride_duration": duration, "ride_id": ride_id}})
    response = {"predictions": predictions}
    if failures:
        response["batchItemFailures"] = failures
    return json.dumps(response)


# ---------------------------------------------------------------------------
# Optional self-check of the arithmetic against scikit-learn
# ---------------------------------------------------------------------------

def sklearn_self_check(cases, tally):
    try:
        import warnings
        warnings.simplefilter("ignore")
        import numpy as np
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LinearRegression
    except Exception as exc:
        print("self-check skipped (no scikit-learn: %s)" % exc)
        return
    pipes = {}
    for key, m in MODELS.items():
        dv = DictVectorizer()
        dv.feature_names_ = list(m["features"])
        dv.vocabulary_ = dict(m["_vocab"])
        lr = LinearRegression()
        lr.coef_ = np.array(m["estimator"]["coef"], dtype=np.float64)
        lr.intercept_ = float(m["estimator"]["intercept"])
        lr.n_features_in_ = len(m["features"])
        pipes[key] = (dv, lr)
    checked = bad = 0
    for c in cases:
        model = MODELS[c["model"]]
        dv, lr = pipes[c["model"]]
        for ride_event in _served_rides(c["event"]):
            try:
                ride = ride_event["ride"]
                feats = {"PU_DO": "%s_%s" % (ride["PULocationID"], ride["DOLocationID"]),
                         "trip_distance": ride["trip_distance"]}
                ours = float(model_predict(model, feats["PU_DO"], feats["trip_distance"]))
                theirs = float(lr.predict(dv.transform([feats]))[0])
            except Exception:
                continue
            checked += 1
            if repr(ours) != repr(theirs):
                bad += 1
                if bad <= 10:
                    print("SELF-CHECK mismatch %s: reference %r, scikit-learn %r"
                          % (c["name"], ours, theirs))
    if bad:
        tally.fail("self-check", "%d of %d predictions differ from scikit-learn" % (bad, checked))
    else:
        tally.ok("self-check: %d predictions equal scikit-learn's bit for bit" % checked)


def _served_rides(event_bytes):
    """The ride events of a case that the reference serves (for the self-check)."""
    try:
        event = json.loads(event_bytes)
    except Exception:
        return []
    if not isinstance(event, dict):
        return []
    candidates = []
    if "Records" in event and isinstance(event["Records"], list):
        for rec in event["Records"]:
            try:
                candidates.append(decode_record(rec["kinesis"]["data"]))
            except Exception:
                pass
    elif "records" in event and isinstance(event["records"], dict):
        for recs in event["records"].values():
            for rec in recs if isinstance(recs, list) else []:
                try:
                    candidates.append(decode_record(rec["value"]))
                except Exception:
                    pass
    else:
        candidates.append(event)
    out = []
    for ride_event in candidates:
        try:
            serve(ride_event, MODELS["main"])
            out.append(ride_event)
        except Exception:
            pass
    return out


# ---------------------------------------------------------------------------
# Event builders
# ---------------------------------------------------------------------------

def b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass")


def b64(payload):
    return base64.b64encode(b(payload)).decode("ascii")


def ride(pu="130", do="205", td="3.66", rid="256", extra_ride="", extra=""):
    """Raw JSON text of a ride event; each argument is raw JSON (or None: omitted)."""
    fields = []
    if pu is not None:
        fields.append('"PULocationID": ' + pu)
    if do is not None:
        fields.append('"DOLocationID": ' + do)
    if td is not None:
        fields.append('"trip_distance": ' + td)
    if extra_ride:
        fields.append(extra_ride)
    parts = ['"ride": {' + ", ".join(fields) + "}"]
    if rid is not None:
        parts.append('"ride_id": ' + rid)
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"


def krec(data_json, seq_json='"1"', extra=""):
    """Raw JSON of a Kinesis record; data_json and seq_json are raw JSON (None: omitted)."""
    inner = []
    if data_json is not None:
        inner.append('"data": ' + data_json)
    if seq_json is not None:
        inner.append('"sequenceNumber": ' + seq_json)
    inner.append('"partitionKey": "1", "kinesisSchemaVersion": "1.0"')
    return ('{"kinesis": {' + ", ".join(inner) + '}' + (", " + extra if extra else "")
            + ', "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record"}')


def krec_payload(payload, seq="1"):
    return krec(json.dumps(b64(payload)), json.dumps(seq))


def kevent(records_raw):
    return b('{"Records": [' + ", ".join(records_raw) + "]}")


def arec(value_json, offset_json="15", extra="", topic="ride_events", partition=0):
    """Raw JSON of a Kafka record; value_json and offset_json are raw JSON (None: omitted)."""
    members = ['"topic": "%s"' % topic, '"partition": %d' % partition]
    if offset_json is not None:
        members.append('"offset": ' + offset_json)
    members.append('"timestamp": 1545084650987, "timestampType": "CREATE_TIME", "key": "cmVjb3JkS2V5"')
    if value_json is not None:
        members.append('"value": ' + value_json)
    members.append('"headers": [{"headerKey": [104, 101, 97, 100, 101, 114]}]')
    if extra:
        members.append(extra)
    return "{" + ", ".join(members) + "}"


def arec_payload(payload, offset=15, partition=0):
    return arec(json.dumps(b64(payload)), str(offset), partition=partition)


def aevent(lists, msk=True):
    """A Kafka event: lists is [(key, [raw record JSON, ...]), ...] in order."""
    head = ('{"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/'
            'rides/abcd1234-1", ' if msk else '{"eventSource": "SelfManagedKafka", ')
    body = ", ".join(json.dumps(k) + ": [" + ", ".join(recs) + "]" for k, recs in lists)
    return b(head + '"bootstrapServers": "b-1.rides:9098,b-2.rides:9098", "records": {' + body + "}}")


GOOD_A = ride("1", "2", "10.5", '"first"')
GOOD_B = ride('"130"', '"205"', "0.25", "99")


def sandwich(payload):
    """A three-record Kinesis event: a good record, payload, a good record."""
    return kevent([krec_payload(GOOD_A, "100"), krec_payload(payload, "200"),
                   krec_payload(GOOD_B, "300")])


def asandwich(payload):
    """A three-record Kafka event: a good record and payload under one key, a good record under another."""
    return aevent([("ride_events-1", [arec_payload(GOOD_A, 100, 1), arec_payload(payload, 101, 1)]),
                   ("ride_events-0", [arec_payload(GOOD_B, 7)])])


# ---------------------------------------------------------------------------
# Hand-written cases
# ---------------------------------------------------------------------------

def payload_variants():
    """(name, ride event payload) pairs: each runs as a Kinesis record and as a direct event."""
    v = []
    add = lambda name, p: v.append((name, p))

    # ride_id
    for name, rid in [
        ("int", "256"), ("zero", "0"), ("minus zero", "-0"), ("negative", "-17"),
        ("int64 max+1", "9223372036854775808"), ("40 digits", "1" * 40),
        ("256 digits", "9" * 256), ("257 digits", "1" * 257), ("300 digits", "7" * 300),
        ("-255 digits", "-" + "9" * 255), ("-256 digits", "-" + "9" * 256),
        ("4300 digits", "1" * 4300), ("4301 digits", "1" * 4301),
        ("str", '"abc"'), ("empty str", '""'), ("str digits", '"123"'),
        ("quotes backslashes", r'"a\"b\\c\/d"'), ("controls", r'"\u0000\u0001\u001f\n\t\b\f\r"'),
        ("raw DEL", '"a\x7fb"'), ("escaped DEL", r'"\u007f"'), ("raw tab", '"a\tb"'),
        ("raw newline", '"a\nb"'), ("raw NUL", '"a\x00b"'),
        ("non-ASCII raw", '"caf\u00e9 \u65e5\u672c"'), ("non-ASCII escaped", r'"caf\u00e9 \u65E5"'),
        ("emoji raw", '"\U0001F600"'), ("emoji escaped", r'"\ud83d\ude00"'),
        ("emoji escaped upper", r'"\uD83D\uDE00"'), ("lone high", r'"\ud800"'),
        ("lone low", r'"\udc00"'), ("high then A", r'"\ud800\u0041"'),
        ("two highs", r'"\ud83d\ud83d"'), ("low high", r'"\ude00\ud83d"'),
        ("high then text", r'"\ud83dx"'), ("U+FFFF", r'"\uffff"'), ("U+10FFFF raw", '"\U0010FFFF"'),
        ("256 chars", '"' + "a" * 256 + '"'), ("257 chars", '"' + "a" * 257 + '"'),
        ("256 emoji", '"' + "\U0001F600" * 256 + '"'), ("257 emoji", '"' + "\U0001F600" * 257 + '"'),
        ("256 escaped pairs", '"' + r"\ud83d\ude00" * 256 + '"'),
        ("256 lone surrogates", '"' + r"\ud800" * 256 + '"'),
        ("255 a + emoji", '"' + "a" * 255 + "\U0001F600" + '"'),
        ("256 escaped a", '"' + r"\u0061" * 256 + '"'), ("257 escaped a", '"' + r"\u0061" * 257 + '"'),
        ("256 two-byte", '"' + "\u00e9" * 256 + '"'), ("257 two-byte", '"' + "\u00e9" * 257 + '"'),
        ("float", "1.0"), ("float exp", "1e2"), ("true", "true"), ("false", "false"),
        ("null", "null"), ("list", "[1]"), ("object", '{"a": 1}'), ("NaN", "NaN"),
        ("bad escape", r'"\x41"'), ("short \\u", r'"\u12"'), ("\\u nonhex", r'"\u12g4"'),
        ("leading zero", "01"), ("plus", "+1"), ("unterminated", '"abc'),
    ]:
        add("ride_id " + name, ride(rid=rid))
    add("ride_id missing", ride(rid=None))

    # PULocationID / DOLocationID
    for name, pu, do in [
        ("ints", "130", "205"), ("strs", '"130"', '"205"'), ("float 130.0", "130.0", "205"),
        ("1e2", "1e2", "205"), ("1E+2", "1E+2", "205"), ("-0.0", "-0.0", "205"),
        ("-0", "-0", "205"), ("1e16", "1e16", "205"), ("1e15", "1e15", "205"),
        ("9999999999999999.0", "9999999999999999.0", "205"), ("1e-05", "1e-05", "205"),
        ("0.00001", "0.00001", "205"), ("0.0001", "0.0001", "205"), ("1.5/2.5", "1.5", "2.5"),
        ("DO float", "130", "205.0"), ("NaN", "NaN", "205"), ("Infinity", "Infinity", "205"),
        ("inf/-inf", "Infinity", "-Infinity"), ("1e400", "1e400", "205"),
        ("-1e400", "-1e400", "-Infinity"), ("5e-324", "5e-324", "205"),
        ("max double", "1.7976931348623157e308", "205"),
        ("big int", "12345678901234567890", "205"), ("negative", "-5", "205"),
        ("0_0", "0", "0"), ("empty strs", '""', '""'), ("underscores", '"a_b"', '"c_d"'),
        ("equals", '"a=b"', '"c"'), ("non-ASCII", '"\u00e9"', '"\u00fc"'),
        ("non-ASCII escaped", r'"\u00e9"', r'"\u00FC"'), ("emoji", '"\U0001F600"', "205"),
        ("emoji escaped", r'"\ud83d\ude00"', "205"), ("quote backslash", r'"\"q\\"', r'"\/"'),
        ("NUL DEL", r'"\u0000"', '"\x7f"'), ("leading space", '" 130"', "205"),
        ("float repr long", "0.1", "0.2"), ("many digits", "3.141592653589793238462643383279", "2"),
        ("true", "true", "205"), ("false", "130", "false"), ("null", "null", "205"),
        ("list", "[130]", "205"), ("object", "130", '{"a": 1}'),
        ("missing PU", None, "205"), ("missing DO", "130", None),
        ("4000-digit int", "1" * 4000, "205"),
    ]:
        add("PU/DO " + name, ride(pu=pu, do=do))

    # trip_distance
    for name, td in [
        ("float", "3.66"), ("int", "3"), ("zero", "0"), ("minus zero int", "-0"),
        ("0.0", "0.0"), ("-0.0", "-0.0"), ("negative", "-2.5"), ("1e308", "1e308"),
        ("-1e308", "-1e308"), ("max double", "1.7976931348623157e308"),
        ("1e400", "1e400"), ("-1e400", "-1e400"), ("1e-400", "1e-400"), ("NaN", "NaN"),
        ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("5e-324", "5e-324"),
        ("2.5e-324", "2.5e-324"), ("1E2", "1E2"), ("1e+2", "1e+2"), ("1e-2", "1e-2"),
        ("1E-002", "1E-002"), ("0e0", "0e0"), ("long mantissa", "0." + "3" * 60),
        ("30-digit int", "123456789012345678901234567890"), ("2^53+1", str(2 ** 53 + 1)),
        ("int max double", str((2 ** 1024 - 2 ** 970) - 1)),
        ("int overflow half", str(2 ** 1024 - 2 ** 970)), ("int 10^309", "1" + "0" * 309),
        ("-int 10^309", "-1" + "0" * 309), ("string", '"3.66"'), ("empty string", '""'),
        ("true", "true"), ("false", "false"), ("null", "null"), ("list", "[3.66]"),
        ("object", '{"v": 1}'), ("missing", None), ("1.", "1."), (".5", ".5"),
        ("leading zero", "03.5"), ("-", "-"), ("1e", "1e"), ("nan lower", "nan"),
        ("-NaN", "-NaN"), ("+Infinity", "+Infinity"), ("hex", "0x10"),
    ]:
        add("trip_distance " + name, ride(td=td))

    # Structure of the ride event
    add("ride list", '{"ride": [130, 205, 3.66], "ride_id": 1}')
    add("ride null", '{"ride": null, "ride_id": 1}')
    add("ride string", '{"ride": "x", "ride_id": 1}')
    add("ride missing", '{"ride_id": 1}')
    add("empty object", "{}")
    add("array", "[" + ride() + "]")
    add("string", '"ride"')
    add("number", "12")
    add("null", "null")
    add("extra keys", ride(extra_ride='"VendorID": 2, "x": {"y": [1, 2, {"z": null}]}',
                           extra='"a": [], "b": {}, "c": "\u00e9", "d": 1e999'))
    add("extra key first", '{"zzz": [1, {"ride": 1}], ' + ride()[1:])
    add("dup ride_id last wins", ride(extra='"ride_id": "second"'))
    add("dup ride_id bad last", ride(extra='"ride_id": null'))
    add("dup ride_id bad first", '{"ride_id": null, ' + ride()[1:])
    add("dup ride last wins", ride(extra='"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}'))
    add("dup ride bad last", ride(extra='"ride": 7'))
    add("dup ride bad first", '{"ride": [], ' + ride()[1:])
    add("dup PU last wins", ride(extra_ride='"PULocationID": 1, "DOLocationID": 2'))
    add("dup PU bad last", ride(extra_ride='"PULocationID": null'))
    add("dup PU bad first", ride(pu='"x", "PULocationID": 130'))
    add("dup td bad first", ride(td='"x", "trip_distance": 1.5'))
    add("dup td bad last", ride(extra_ride='"trip_distance": "1.5"'))
    add("dup td good last", ride(td='NaN', extra_ride='"trip_distance": 2'))
    add("escaped keys", r'{"r\u0069de": {"PUL\u006fcationID": 1, "DOLocationI\u0044": 2, '
                        r'"trip\u005fdistance": 1.25}, "ride\u005fid": "esc"}')
    add("escaped key slash", r'{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}, '
                             r'"ride_id": 5, "a\/b": 1}')
    add("key case", '{"Ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}, "ride_id": 1}')
    add("key trailing space", '{"ride ": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}, "ride_id": 1}')
    add("key NUL", '{"ride\\u0000": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}, "ride_id": 1}')
    add("compact", '{"ride":{"PULocationID":130,"DOLocationID":205,"trip_distance":3.66},"ride_id":1}')
    add("spaced", ' \t\r\n{ "ride" :\n{\t"PULocationID"\r:\n130 , "DOLocationID" : 205 ,'
                  ' "trip_distance" : 3.66 } , "ride_id" : 1 }\n\t ')
    add("pretty", json.dumps({"ride": {"PULocationID": 130, "DOLocationID": 205,
                                       "trip_distance": 3.66}, "ride_id": 1}, indent=4))
    add("form feed", "\f" + ride())
    add("vertical tab", ride() + "\v")
    add("NBSP", "\u00a0" + ride())
    add("trailing garbage", ride() + " x")
    add("trailing object", ride() + "{}")
    add("trailing comma", ride()[:-1] + ",}")
    add("trailing NUL", ride() + "\x00")
    add("trailing newline", ride() + "\n")
    add("missing comma", ride().replace(', "ride_id"', ' "ride_id"'))
    add("single quotes", "{'ride': 1}")
    add("comment", "/* c */" + ride())
    add("truncated", ride()[:-1])
    add("nested arrays 63", ride(extra='"x": ' + "[" * 63 + "]" * 63))
    add("nested arrays 64", ride(extra='"x": ' + "[" * 64 + "]" * 64))
    add("nested objects 63", ride(extra='"x": ' + '{"a": ' * 62 + "{}" + "}" * 62))
    add("nested objects 64", ride(extra='"x": ' + '{"a": ' * 63 + "{}" + "}" * 63))
    add("nested in ride 62", ride(extra_ride='"x": ' + "[" * 62 + "]" * 62))
    add("nested in ride 63", ride(extra_ride='"x": ' + "[" * 63 + "]" * 63))
    add("nested 2000", ride(extra='"x": ' + "[" * 2000 + "]" * 2000))
    add("nested 2000 unclosed", ride(extra='"x": ' + "[" * 2000))
    add("long string inside", ride(extra='"pad": "' + "x" * 300000 + '"'))
    add("long escaped string", ride(extra='"pad": "' + r"\u00e9\n" * 20000 + '"'))
    add("big extra number", ride(extra='"n": ' + "9" * 4000 + ".5e-99999"))
    add("extra 4301-digit int", ride(extra='"n": ' + "1" * 4301))
    add("extra 1e999", ride(extra='"n": -1e999'))
    return v


def kinesis_cases():
    """(name, event bytes) pairs about the event and record structure."""
    c = []
    add = lambda name, e: c.append((name, b(e)))
    good = krec_payload(GOOD_A, "1")
    good_b64 = json.dumps(b64(GOOD_A))

    # Event shape
    add("empty Records", '{"Records": []}')
    add("empty Records spaced", ' {\n "Records" : [ ] } \n')
    add("one good", kevent([good]))
    add("Records null", '{"Records": null}')
    add("Records object", '{"Records": {"0": 1}}')
    add("Records string", '{"Records": "x"}')
    add("Records number", '{"Records": 1}')
    add("record number", '{"Records": [1]}')
    add("record null", '{"Records": [' + good + ", null]}")
    add("record list", '{"Records": [[]]}')
    add("record string", '{"Records": ["x"]}')
    add("record without kinesis", '{"Records": [{"eventSource": "aws:kinesis"}]}')
    add("kinesis null", '{"Records": [{"kinesis": null}]}')
    add("kinesis list", '{"Records": [{"kinesis": []}]}')
    add("kinesis string", '{"Records": [{"kinesis": "x"}]}')
    add("no sequenceNumber", kevent([good, krec(good_b64, None)]))
    add("sequenceNumber int", kevent([krec(good_b64, "49")]))
    add("sequenceNumber null", kevent([krec(good_b64, "null")]))
    add("sequenceNumber list", kevent([krec(good_b64, '["1"]')]))
    add("sequenceNumber empty", kevent([krec(json.dumps(b64("x")), '""'), good]))
    add("sequenceNumber escapes", kevent([krec(json.dumps(b64("x")),
                                               r'"49\u0030\"\\\/\u00e9\ud83d\ude00\n\ud800\u007f"')]))
    add("sequenceNumber raw UTF-8", kevent([krec(json.dumps(b64("x")), '"s\u00e9q\U0001F600\x7f"')]))
    add("sequenceNumber long", kevent([krec(json.dumps(b64("x")), '"' + "4" * 5000 + '"')]))
    add("bad record after bad sequenceNumber", kevent([krec(good_b64, "1"), "7"]))
    add("data missing", kevent([krec(None, '"5"'), good]))
    add("data null", kevent([krec("null", '"5"'), good]))
    add("data int", kevent([krec("12", '"5"'), good]))
    add("data list", kevent([krec("[]", '"5"'), good]))
    add("data object", kevent([krec("{}", '"5"'), good]))
    add("data empty", kevent([krec('""', '"5"'), good]))
    add("neither shape", '{"records": []}')
    add("empty object", "{}")
    add("array", "[" + kevent([good]).decode() + "]")
    add("not JSON", "hello")
    add("empty", "")
    add("whitespace only", " \n")
    add("null", "null")
    add("string", '"Records"')
    add("number", "1")
    add("truncated", kevent([good])[:-3])
    add("trailing garbage", kevent([good]) + b" ]")
    add("trailing whitespace", kevent([good]) + b" \r\n\t")
    add("trailing NUL", kevent([good]) + b"\x00")
    add("Records and ride", b'{"ride": {"PULocationID": 1}, "ride_id": 1, "Records": [' + b(good) + b"]}")
    add("ride_id only", '{"ride_id": 1}')
    add("ride only", '{"ride": {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1}}')
    add("extra event keys", '{"a": {"b": [1, 2.5e7, null, true]}, "Records": [' + good + '], "z": "\u00e9"}')

    # Duplicate keys at every level (last wins)
    add("dup Records last good", '{"Records": [1], "Records": [' + good + "]}")
    add("dup Records last bad", '{"Records": [' + good + '], "Records": 7}')
    add("dup Records last empty", '{"Records": [' + good + '], "Records": []}')
    add("dup kinesis last good", '{"Records": [{"kinesis": null, "kinesis": {"data": %s, '
                                 '"sequenceNumber": "9"}}]}' % good_b64)
    add("dup kinesis last bad", '{"Records": [{"kinesis": {"data": %s, "sequenceNumber": "9"}, '
                                '"kinesis": 1}]}' % good_b64)
    add("dup kinesis last no seq", '{"Records": [{"kinesis": {"data": %s, "sequenceNumber": "9"}, '
                                   '"kinesis": {"data": %s}}]}' % (good_b64, good_b64))
    add("dup kinesis last bad data", '{"Records": [{"kinesis": {"data": %s, "sequenceNumber": "9"}, '
                                     '"kinesis": {"data": "!!", "sequenceNumber": "8"}}]}' % good_b64)
    add("dup data last good", kevent([krec('"!!", "data": ' + good_b64, '"4"')]))
    add("dup data last bad", kevent([krec(good_b64 + ', "data": 1', '"4"')]))
    add("dup seq last wins", kevent([krec('"!!"', '"first", "sequenceNumber": "second"')]))
    add("dup seq last bad", kevent([krec(good_b64, '"first", "sequenceNumber": 2')]))
    add("dup seq first bad", kevent([krec(good_b64, 'null, "sequenceNumber": "2"')]))
    add("dup Records first has a non-object", '{"Records": [1], "Records": []}')
    add("dup Records first not a list", '{"Records": 5, "Records": [' + good + "]}")
    add("dup Records first has no sequenceNumber",
        '{"Records": [{"kinesis": {"data": "x"}}], "Records": [' + good + "]}")
    add("dup Records first has int sequenceNumber",
        '{"Records": [{"kinesis": {"sequenceNumber": 5}}], "Records": []}')
    add("dup Records first has no kinesis", '{"Records": [{}], "Records": []}')
    add("dup Records first good then bad", '{"Records": [' + good + ', 3], "x": 1, "Records": [' + good + "]}")
    add("dup Records last has bad record", '{"Records": [' + good + '], "Records": [' + good + ", {}]}")
    add("dup Records around ride", '{"Records": [1], "ride": {}, "Records": []}')
    add("escaped keys", r'{"R\u0065cords": [{"kin\u0065sis": {"d\u0061ta": %s, '
                        r'"sequence\u004eumber": "7"}}]}' % good_b64)
    add("escaped key mismatch", r'{"Records": [{"kinesis": {"data": %s, '
                                r'"sequence\u004e\u0075mber ": "7"}}]}' % good_b64)
    add("data key case", kevent([krec(None, '"3"', extra='"Data": ' + good_b64)]))
    add("kinesis data outside kinesis", '{"Records": [{"data": %s, "kinesis": {"sequenceNumber": "1"}}]}'
        % good_b64)
    add("compact", json.dumps({"Records": [{"kinesis": {"data": b64(GOOD_A), "sequenceNumber": "1"}}]},
                              separators=(",", ":")))
    add("pretty", json.dumps({"Records": [{"kinesis": {"data": b64(GOOD_A), "sequenceNumber": "1"}}]},
                             indent=2))
    add("whitespace everywhere", ' \n{\r\n\t"Records"\t:\n[\n{ "kinesis" :{"data"\n:\r%s ,\t'
                                 '"sequenceNumber":"1" } }\n]\n}\n' % good_b64)
    add("event invalid UTF-8 in ignored key", b'{"x": "\xff", "Records": [' + b(good) + b"]}")
    add("event overlong UTF-8", b'{"x": "\xc0\xaf", "Records": [' + b(good) + b"]}")
    add("event raw UTF-8", '{"x": "\u00e9\U0001F600", "Records": [' + good + "]}")
    add("event raw control in string", '{"x": "\x01", "Records": [' + good + "]}")
    add("event nested 60", '{"x": ' + "[" * 60 + "]" * 60 + ', "Records": [' + good + "]}")
    add("event nested 63", '{"x": ' + "[" * 63 + "]" * 63 + ', "Records": [' + good + "]}")
    add("event nested 64", '{"x": ' + "[" * 64 + "]" * 64 + ', "Records": [' + good + "]}")
    add("event nested in kinesis 64", kevent([krec(good_b64 + ', "x": ' + "[" * 60 + "]" * 60, '"1"')]))
    add("event nested in kinesis 65", kevent([krec(good_b64 + ', "x": ' + "[" * 61 + "]" * 61, '"1"')]))
    add("event nested in record 64", '{"Records": [{"x": ' + "[" * 61 + "]" * 61 + ', "kinesis": '
        '{"data": %s, "sequenceNumber": "1"}}]}' % good_b64)
    add("event nested in record 65", '{"Records": [{"x": ' + "[" * 62 + "]" * 62 + ', "kinesis": '
        '{"data": %s, "sequenceNumber": "1"}}]}' % good_b64)
    add("event nested 3000", '{"x": ' + "[" * 3000 + "]" * 3000 + ', "Records": [' + good + "]}")
    return c


def kafka_cases():
    """(name, event bytes) pairs about the Kafka event and record structure."""
    c = []
    add = lambda name, e: c.append((name, b(e)))
    good = arec_payload(GOOD_A, 1)
    good_b64 = json.dumps(b64(GOOD_A))

    add("empty records", '{"records": {}}')
    add("empty records spaced", ' {\n "records" : { } } \n')
    add("one good", aevent([("t-0", [good])]))
    add("self-managed", aevent([("t-0", [good]), ("t-1", [arec_payload(GOOD_B, 2, 1)])], msk=False))
    add("empty lists", aevent([("t-0", []), ("t-1", [good]), ("t-2", [])]))
    add("key order", aevent([("z-9", [arec_payload(GOOD_B, 5)]), ("a-0", [good, arec_payload(GOOD_B, 6)])]))
    add("records null", '{"records": null}')
    add("records list", '{"records": [' + good + "]}")
    add("records string", '{"records": "x"}')
    add("list is an object", '{"records": {"t-0": ' + good + "}}")
    add("list is null", '{"records": {"t-0": null}}')
    add("list is a number", '{"records": {"t-0": [' + good + '], "t-1": 5}}')
    add("record number", aevent([("t-0", [good, "1"])]))
    add("record null", aevent([("t-0", ["null"])]))
    add("record list", aevent([("t-0", ["[]"])]))
    add("no offset", aevent([("t-0", [good, arec(good_b64, None)])]))
    add("offset string", aevent([("t-0", [arec(good_b64, '"15"')])]))
    add("offset float", aevent([("t-0", [arec(good_b64, "15.0")])]))
    add("offset exp", aevent([("t-0", [arec(good_b64, "1e2")])]))
    add("offset true", aevent([("t-0", [arec(good_b64, "true")])]))
    add("offset null", aevent([("t-0", [arec(good_b64, "null")])]))
    add("offset -0", aevent([("t-0", [arec('"!!"', "-0")])]))
    add("offset negative", aevent([("t-0", [arec('"!!"', "-15")])]))
    add("offset big", aevent([("t-0", [arec('"!!"', "9" * 40)])]))
    add("offset 4301 digits", aevent([("t-0", [arec('"!!"', "1" * 4301)])]))
    add("value missing", aevent([("t-0", [arec(None, "3"), good])]))
    add("value null (tombstone)", aevent([("t-0", [arec("null", "3"), good])]))
    add("value int", aevent([("t-0", [arec("12", "3"), good])]))
    add("value object", aevent([("t-0", [arec("{}", "3"), good])]))
    add("value empty", aevent([("t-0", [arec('""', "3"), good])]))
    add("value bad base64", aevent([("t-0", [arec('"abc"', "3"), good])]))
    add("value non-ASCII", aevent([("t-0", [arec('"\u00e9eyJ9"', "3"), good])]))
    add("key escapes", aevent([("t\"\\/\u00e9\ud83d\ude00\ud800\n-0", [arec('"!!"', "3")])]))
    add("key raw UTF-8", b'{"records": {"t\xc3\xa9-0": [' + b(arec('"!!"', "3")) + b"]}}")
    add("key empty", aevent([("", [arec('"!!"', "3"), good])]))
    add("key long", aevent([("k" * 5000, [arec('"!!"', "3")])]))
    # Repeated keys: inside records an error, elsewhere the last counts
    add("dup key", '{"records": {"t-0": [' + good + '], "t-0": []}}')
    add("dup key empty lists", '{"records": {"t-0": [], "t-1": [], "t-0": []}}')
    add("dup key escaped", r'{"records": {"t-0": [], "\u0074-0": []}}')
    add("dup key raw and escaped", b'{"records": {"\xc3\xa9": [], "\\u00e9": []}}')
    add("similar keys", '{"records": {"t-0": [], "t-0 ": [], "T-0": [], "t-00": []}}')
    add("dup records last good", '{"records": {"t-0": [1]}, "records": {"t-0": [' + good + "]}}")
    add("dup records last bad", '{"records": {"t-0": [' + good + ']}, "records": 7}')
    add("dup records first dup key", '{"records": {"a": [], "a": []}, "records": {"t-0": [' + good + "]}}")
    add("dup value last wins", aevent([("t-0", [arec('"!!", "value": ' + good_b64, "4")])]))
    add("dup value last bad", aevent([("t-0", [arec(good_b64 + ', "value": null', "4")])]))
    add("dup offset last wins", aevent([("t-0", [arec('"!!"', '"x", "offset": 8')])]))
    add("dup offset last bad", aevent([("t-0", [arec(good_b64, '8, "offset": "x"')])]))
    # Which kind
    add("Records and records", '{"records": {"t-0": [' + good + ']}, "Records": []}')
    add("records and Records", '{"Records": [' + krec_payload(GOOD_A) + '], "records": {"t-0": [1]}}')
    add("records and Records bad", '{"records": {"t-0": [' + good + ']}, "Records": 1}')
    add("records and ride", '{"ride": {"PULocationID": 1}, "ride_id": 1, "records": {"t-0": [' + good + "]}}")
    add("records with ride event", '{"records": {}, ' + GOOD_A[1:])
    add("escaped records key", r'{"r\u0065cords": {"t-0": [%s]}}' % good)
    add("Kinesis-shaped records", '{"records": [' + krec_payload(GOOD_A) + "]}")
    add("value outside the record", '{"records": {"t-0": [{"offset": 1}], "value": %s}}' % good_b64)
    add("nested 64 in record", aevent([("t-0", [arec(good_b64, "1", extra='"x": ' + "[" * 61 + "]" * 61)])]))
    add("nested 65 in record", aevent([("t-0", [arec(good_b64, "1", extra='"x": ' + "[" * 62 + "]" * 62)])]))
    add("many keys", aevent([("t-%d" % i, [arec_payload(GOOD_B, i)] if i % 7 == 0 else []) for i in range(300)]))
    add("many records", aevent([("t-0", [arec_payload(GOOD_A if i % 3 else "{}", i) for i in range(300)])]))
    return c


def base64_cases():
    """(name, event bytes): kinesis.data strings that Python's lenient b64decode takes or refuses."""
    c = []
    # A payload whose base64 needs "=" padding and contains '+' and '/'.
    payload = None
    for n in range(0, 400):
        p = ride(extra='"k": "' + "\u00ff\u00fe?>"[n % 4:] * (1 + n % 5) + "~" * (n // 5) + '"')
        s = b64(p)
        if s.endswith("=") and not s.endswith("==") and "/" in s and "+" in s:
            payload = p
            break
    assert payload is not None
    s = b64(payload)
    two = next(p for p in (ride(rid=str(10 ** i)) for i in range(0, 12)) if b64(p).endswith("=="))
    s2 = b64(two)
    zero = next(p for p in (ride(rid=str(10 ** i)) for i in range(0, 12)) if not b64(p).endswith("="))
    s0 = b64(zero)
    raw = lambda d: kevent([krec_payload(GOOD_A, "1"), krec(d, '"2"'), krec_payload(GOOD_B, "3")])
    add = lambda name, d: c.append(("b64 " + name, raw(d)))
    J = json.dumps
    add("one pad", J(s))
    add("two pads", J(s2))
    add("no pad needed", J(s0))
    add("missing padding", J(s.rstrip("=")))
    add("missing two pads", J(s2.rstrip("=")))
    add("one of two pads", J(s2[:-1]))
    add("extra padding", J(s + "=="))
    add("extra padding on two", J(s2 + "="))
    add("padding when none needed", J(s0 + "=="))
    add("single = when none needed", J(s0 + "="))
    add("newlines", J("\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"))
    add("CRLF", J("\r\n".join(s[i:i + 4] for i in range(0, len(s), 4))))
    add("spaces", J(" ".join(s)))
    add("tabs", J("\t" + s + "\t"))
    add("outside alphabet", J("!" + s[:10] + "*#$%" + s[10:] + "."))
    add("urlsafe chars", J(s.replace("+", "-").replace("/", "_")))
    add("urlsafe extra chars", J(s[:8] + "-_" + s[8:]))
    add("NUL inside", J(s[:4] + "\x00" + s[4:]))
    add("data after padding", J(s + "eyJ4IjogMX0="))
    add("garbage after padding", J(s + "!!!"))
    add("= at start", J("=" + s))
    add("== at start", J("==" + s))
    add("= in first quad", J(s[:1] + "=" + s[1:]))
    add("= in second position", J(s[:2] + "=" + s[2:]))
    add("= mid quad pos 2", J(s[:6] + "=" + s[6:]))
    add("== mid quad pos 2", J(s[:6] + "==" + s[6:]))
    add("= mid quad pos 3", J(s[:7] + "=" + s[7:]))
    add("= after full quad", J(s[:8] + "=" + s[8:]))
    add("=x= in padding", J(s[:-1] + "=x="))
    add("pad spaced", J(s2[:-2] + "= ="))
    add("one extra char", J(s0 + "Q"))
    add("one extra char padded", J(s0 + "Q==="))
    add("two extra chars", J(s0 + "QQ"))
    add("three extra chars", J(s0 + "QQQ"))
    add("non-ASCII raw", J(s[:5] + "\u00e9" + s[5:], ensure_ascii=False))
    add("non-ASCII escaped", J(s[:5] + "\u00e9" + s[5:]))
    add("non-ASCII at end", J(s + "\u00e9"))
    add("emoji", J(s + "\U0001F600"))
    add("lone surrogate escape", '"' + s + r'\ud800"')
    add("DEL", J(s + "\x7f"))
    add("all \\u escaped", '"' + "".join("\\u%04x" % ord(ch) for ch in s) + '"')
    add("all \\u escaped upper", '"' + "".join("\\u%04X" % ord(ch) for ch in s) + '"')
    add("\\/ escapes", '"' + s.replace("/", "\\/") + '"')
    add("\\n escapes", '"' + s[:4] + "\\n" + s[4:] + "\\r\\t" + '"')
    add("\\b\\f escapes", '"' + s[:4] + "\\b\\f" + s[4:] + '"')
    add("bad escape", '"' + s[:4] + "\\a" + s[4:] + '"')
    add("raw newline in JSON string", '"' + s[:4] + "\n" + s[4:] + '"')
    add("only padding", J("===="))
    add("only junk", J("!!!!"))
    add("whitespace only", J("  \n"))
    add("lowercase/uppercase swapped", J(s.swapcase()))

    # What the data decodes to.
    def dat(name, rawbytes):
        c.append(("data " + name, raw(J(base64.b64encode(rawbytes).decode()))))
    good = b(GOOD_A)
    dat("invalid UTF-8", good[:-1] + b'\xff}')
    dat("invalid UTF-8 in string", b(ride(rid='"x"')).replace(b'"x"', b'"a\xffb"'))
    dat("overlong slash", b(ride(rid='"x"')).replace(b'"x"', b'"\xc0\xaf"'))
    dat("encoded surrogate", b(ride(rid='"x"')).replace(b'"x"', b'"\xed\xa0\x80"'))
    dat("above U+10FFFF", b(ride(rid='"x"')).replace(b'"x"', b'"\xf4\x90\x80\x80"'))
    dat("truncated sequence", b(ride(rid='"x"')).replace(b'"x"', b'"\xe2\x82"'))
    dat("lone continuation", b(ride(rid='"x"')).replace(b'"x"', b'"\x80"'))
    dat("4-byte ok", b(ride(rid='"x"')).replace(b'"x"', b'"\xf0\x9f\x98\x80"'))
    dat("3-byte max", b(ride(rid='"x"')).replace(b'"x"', b'"\xef\xbf\xbf"'))
    dat("UTF-8 BOM", b"\xef\xbb\xbf" + good)
    dat("UTF-16", GOOD_A.encode("utf-16"))
    dat("UTF-16-LE no BOM", GOOD_A.encode("utf-16-le"))
    dat("latin-1", ride(rid='"caf\u00e9"').encode("latin-1"))
    dat("empty", b"")
    dat("not JSON", b"hello")
    dat("array", b"[" + good + b"]")
    dat("string", b'"' + base64.b64encode(good) + b'"')
    dat("number", b"42")
    dat("null", b"null")
    dat("trailing garbage", good + b" x")
    dat("trailing NUL", good + b"\x00")
    dat("trailing newline", good + b"\n")
    dat("leading whitespace", b" \t\r\n" + good)
    dat("leading NUL", b"\x00" + good)
    dat("two objects", good + good)
    dat("binary", bytes(range(256)))
    return c


def encoding_quirk_cases():
    """Events that json.loads(bytes) would take although they are not UTF-8 JSON text: a
    UTF-8 BOM, UTF-16/UTF-32, encoded surrogates.  ridepred refuses them as InvalidEvent on
    purpose (the reference above decodes the event as strict UTF-8 first); these cases check
    that it does.  (A record's data is decoded with a strict .decode('utf-8') in the Python
    function too, so there the two agree by construction.)"""
    good = krec_payload(GOOD_A, "1")
    ev = kevent([good]).decode()
    direct = ride(rid='"x"')
    return [
        ("event UTF-8 BOM", b"\xef\xbb\xbf" + b(ev)),
        ("event UTF-16-LE", ev.encode("utf-16-le")),
        ("event UTF-16-BE", ev.encode("utf-16-be")),
        ("event UTF-16 BOM", ev.encode("utf-16")),
        ("event UTF-32 BOM", ev.encode("utf-32")),
        ("event encoded surrogate", b'{"x": "\xed\xa0\x80", "Records": [' + b(good) + b"]}"),
        ("direct UTF-8 BOM", b"\xef\xbb\xbf" + b(direct)),
        ("direct encoded surrogate ride_id", b(direct).replace(b'"x"', b'"\xed\xa0\x80"')),
        ("direct encoded surrogate pair ride_id", b(direct).replace(b'"x"', b'"\xed\xa0\xbd\xed\xb8\x80"')),
    ]


def size_cases():
    c = []
    # Record data at exactly 1 MiB decoded, and one byte above.
    for total, name in ((MAX_RECORD, "record data 1 MiB"), (MAX_RECORD + 1, "record data 1 MiB + 1")):
        base = ride(extra='"pad": ""')
        p = ride(extra='"pad": "' + "p" * (total - len(base)) + '"')
        assert len(b(p)) == total
        c.append((name, sandwich(p)))
    # A direct event of 1 MiB + 1 (only the 6 MiB event limit applies to it).
    base = ride(extra='"pad": ""')
    c.append(("direct event 1 MiB + 1",
              b(ride(extra='"pad": "' + "p" * (MAX_RECORD + 1 - len(base)) + '"'))))
    # Events at exactly 6 MiB and one byte above (padding in an ignored key).
    for total, name in ((MAX_EVENT, "event 6 MiB"), (MAX_EVENT + 1, "event 6 MiB + 1")):
        tail = ', "Records": [' + krec_payload(GOOD_A, "1") + "]}"
        head = '{"pad": "'
        n = total - len(head) - 1 - len(tail)
        e = b(head + "x" * n + '"' + tail)
        assert len(e) == total
        c.append((name, e))
        base = ride(extra='"pad": ""')
        d = b(ride(extra='"pad": "' + "y" * (total - len(base)) + '"'))
        assert len(d) == total
        c.append(("direct " + name, d))
    # Many records, close to 6 MiB.
    rec = krec_payload(GOOD_A, "1")
    n = (MAX_EVENT - 100) // (len(rec) + 2)
    c.append(("records up to 6 MiB", kevent([krec_payload(GOOD_A, str(i)) for i in range(n - 50)])))
    # A huge string inside a record near 1 MiB, with escapes.
    body = r"\u00e9" * 100000
    c.append(("record long escaped string", sandwich(ride(extra='"s": "' + body + '"'))))
    return c


def version_cases():
    c = []
    e = sandwich(ride())
    d = b(ride())
    for name, env, model in [
        ("MODEL_VERSION wins", {"MODEL_VERSION": "mv-1", "RUN_ID": "run-9"}, "main"),
        ("empty MODEL_VERSION", {"MODEL_VERSION": "", "RUN_ID": "run-9"}, "main"),
        ("RUN_ID only", {"RUN_ID": "run-9"}, "main"),
        ("model version", {}, "main"),
        ("empty RUN_ID -> model version", {"RUN_ID": ""}, "main"),
        ("unknown", {}, "tiny"),
        ("non-ASCII MODEL_VERSION", {"MODEL_VERSION": "v\u00e9\U0001F600\"\\/\t"}, "main"),
        ("non-ASCII RUN_ID", {"RUN_ID": "r\u00fcn\x7f"}, "tiny"),
        ("exotic model version", {}, "exotic"),
    ]:
        c.append(("version " + name, e, env, model))
    c.append(("version direct", d, {"MODEL_VERSION": "ignored"}, "main"))
    # The brief's tiny model and the exotic vocabulary.
    for name, p in [
        ("tiny 130_205", ride()), ("tiny 1_2", ride("1", "2", "0")),
        ("tiny 1.0_2", ride("1.0", "2")), ("tiny unseen", ride("7", "8", "1e-300")),
        ("tiny overflow to Infinity", ride("7", "8", "1e308")),
        ("tiny overflow to -Infinity", ride("7", "8", "-1e308")),
        ("tiny max double", ride("130", "205", "1.7976931348623157e308")),
        ("tiny huge int distance", ride("1", "2", str(2 ** 1023))),
    ]:
        c.append((name, sandwich(p), {"RUN_ID": "x"}, "tiny"))
        c.append((name + " direct", b(p), {"RUN_ID": "x"}, "tiny"))
    for name, p in [
        ("exotic lone surrogate", ride(r'"\ud800"', "1")),
        ("exotic pair and lone", ride(r'"\ud83d\ude00"', r'"\ud83d"')),
        ("exotic raw emoji and lone", ride('"\U0001F600"', r'"\ud83d"')),
        ("exotic unseen", ride(r'"\ud801"', "1")),
    ]:
        c.append((name, sandwich(p), {}, "exotic"))
        c.append((name + " direct", b(p), {}, "exotic"))
    return c


def _random_double(rnd):
    kind = rnd.randrange(8)
    if kind == 0:       # any finite double, from its bits
        while True:
            x = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
            if math.isfinite(x):
                return x
    if kind == 1:       # a short decimal, as rides have
        return round(rnd.uniform(0, 60), rnd.randint(0, 3))
    if kind == 2:       # around the repr switch points 1e-4 and 1e16
        return rnd.choice((1e16, 1e-4, 1e16 - 2, 1e16 + 2, 0.0001 - 1e-20, 9.999999999999999e15,
                           0.00010000000000000002, 1e22, 1e23, 5e-324, 2.2250738585072014e-308,
                           1.7976931348623157e308, 0.1, 0.3, 2 / 3))
    if kind == 3:       # subnormal
        return rnd.getrandbits(52) * 5e-324
    if kind == 4:       # integer-valued
        return float(rnd.randint(-10 ** 6, 10 ** 6))
    if kind == 5:
        return rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-30, 30)
    if kind == 6:
        return -rnd.uniform(0, 100)
    return rnd.expovariate(0.3)


def _number_text(x, rnd):
    """One of several JSON spellings of the double x (all read back as x)."""
    forms = [repr(x), "%.17e" % x, "%.17g" % x, "%.25g" % x, ("%.17E" % x).replace("E+", "E"),
             "%.40e" % x]
    t = rnd.choice(forms)
    if "e" not in t.lower() and "." not in t:
        t += ".0"
    if t.startswith("-0") and x != 0 and t[2:3].isdigit():
        t = repr(x)
    assert float(t) == x or (x == 0 and float(t) == 0)
    return t


def random_float_cases(rnd):
    """Rides whose PU/DO and trip_distance are random doubles and ints, in many spellings.

    The "floats" model's vocabulary holds the Python PU_DO of most of them
    (repr of the floats), so a wrong float repr shows as a different
    prediction; trip_distance takes every double range, so its parsing and the
    ride_duration's formatting are checked on random values too.
    """
    feats, rides = ["trip_distance"], []
    for i in range(400):
        pu = _random_double(rnd) if rnd.random() < 0.7 else rnd.randint(-10 ** 20, 10 ** 20)
        do = _random_double(rnd) if rnd.random() < 0.5 else rnd.randint(0, 300)
        pu_t = _number_text(pu, rnd) if isinstance(pu, float) else str(pu)
        do_t = _number_text(do, rnd) if isinstance(do, float) else str(do)
        if rnd.random() < 0.8:
            feats.append("PU_DO=%s_%s" % (pu, do))
        td = _random_double(rnd)
        if rnd.random() < 0.3:
            td = abs(td) % 1e6
        td_t = _number_text(td, rnd) if rnd.random() < 0.9 else str(rnd.randint(-10 ** 30, 10 ** 30))
        if rnd.random() < 0.1:      # a long decimal string, correctly rounded by float()
            td_t = "%d.%s" % (rnd.randint(0, 99), "".join(rnd.choice("0123456789") for _ in range(rnd.randint(17, 60))))
        rides.append(ride(pu_t, do_t, td_t, str(i)))
    rnd2 = random.Random(11)
    MODELS["floats"] = {
        "format": "ridepred.model/1", "version": "floats",
        "features": feats,
        "estimator": {"type": "linear", "coef": [rnd2.uniform(-3, 3) * 10.0 ** rnd2.randint(-5, 5)
                                                  for _ in feats],
                      "intercept": 7.25},
    }
    MODELS["floats"]["_vocab"] = {f: i for i, f in enumerate(feats)}
    cases = []
    for k in range(0, len(rides), 50):
        cases.append(("random floats %d" % k,
                      kevent([krec_payload(r, str(k + j)) for j, r in enumerate(rides[k:k + 50])])))
    for k in range(0, 40):
        cases.append(("random floats direct %d" % k, b(rides[k])))
    return cases


def mixed_batch_cases(variants, rnd):
    c = []
    pool = [p for _, p in variants if len(p) < 20000]
    for k in range(4):
        recs = []
        for i in range(150):
            p = rnd.choice(pool) if rnd.random() < 0.6 else ride(
                str(rnd.randint(1, 265)), str(rnd.randint(1, 265)),
                repr(rnd.uniform(0, 40)), str(rnd.randint(0, 10 ** 12)))
            seq = str(49630081666084879290581185630324770398608704880802529282 + i * (k + 1))
            recs.append(krec_payload(p, seq))
        c.append(("mixed batch %d" % k, kevent(recs)))
    return c


# ---------------------------------------------------------------------------
# Fuzz cases
# ---------------------------------------------------------------------------

INTERESTING = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"0", b"-", b"e", b".",
               b" ", b"\x00", b"\x80", b"\xff", b"n", b"t", b"=", b"+", b"/", b"A",
               b"\xc3", b"\xed", b"\x7f", b"\n", b"u", b"9", b"N", b"I"]


def mutate(data, rnd, alphabet=None):
    data = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.randrange(7)
        pos = rnd.randrange(len(data) + 1) if data else 0
        if alphabet is not None:
            ch = rnd.choice(alphabet)
        elif rnd.random() < 0.5:
            ch = rnd.choice(INTERESTING)
        else:
            ch = bytes([rnd.randrange(256)])
        if op <= 2 and pos < len(data):
            data[pos:pos + 1] = ch
        elif op == 3 and pos < len(data):
            del data[pos]
        elif op == 4:
            data[pos:pos] = ch
        elif op == 5 and data:
            a = rnd.randrange(len(data))
            z = min(len(data), a + rnd.randint(1, 12))
            data[pos:pos] = data[a:z]
        else:
            del data[pos:pos + rnd.randint(1, 4)]
    return bytes(data)


def fuzz_cases(n, seed):
    rnd = random.Random(seed)
    rides = [
        ride(), ride('"130"', '"205"', "1e-05", '"\u00e9x"'), ride("1.0", "2", "0", "-0"),
        ride("NaN", "Infinity", "12", r'"\ud83d\ude00\u0041"'),
        ride(extra_ride='"VendorID": [1, {"a": null}]', extra='"b": true'),
        '{"ride_id":7,"ride":{"trip_distance":2.5,"DOLocationID":2,"PULocationID":1}}',
        ride("1", "2", "1e16", '"' + "a" * 255 + '"'), ride('"a_b"', "-0.0", "3", '"\\"\\\\"'),
    ]
    b64_alpha = [bytes([ch]) for ch in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n !-_"]
    cases = []
    for i in range(n):
        layer = i % 5
        p = rnd.choice(rides)
        if layer == 0:      # the whole Kinesis event
            ev = kevent([krec_payload(p, "1"), krec_payload(rnd.choice(rides), "2")])
            cases.append(("fuzz %d event" % i, mutate(ev, rnd)))
        elif layer == 1:    # a direct event
            cases.append(("fuzz %d direct" % i, mutate(b(p), rnd)))
        elif layer == 2:    # the decoded record
            cases.append(("fuzz %d record" % i, sandwich(mutate(b(p), rnd))))
        elif layer == 3:    # the base64 text
            s = mutate(b64(p).encode(), rnd, b64_alpha if rnd.random() < 0.7 else None)
            data = json.dumps(s.decode("latin-1"))
            cases.append(("fuzz %d base64" % i,
                          kevent([krec_payload(GOOD_A, "1"), krec(data, '"2"'), krec_payload(GOOD_B, "3")])))
        else:               # the record JSON as it sits in the direct event, structure-level
            ev = kevent([krec_payload(p, "s%d" % j) for j in range(3)])
            ev = mutate(ev, rnd, [b"{", b"}", b"[", b"]", b",", b":", b'"', b" ", b"0", b"x"])
            cases.append(("fuzz %d structure" % i, ev))
    return cases


LOC_POOL = ["130", "205", '"130"', '"205"', "1", "2", "1.5", "2.5", "-0.0", "-0", "1e16", "1e2", "NaN",
            "Infinity", "-Infinity", "1e400", "true", "false", "null", '"a_b"', '"a=b"', "[1]", "{}",
            r'"\u00e9"', '"\u00fc"', "12345678901234567890", "0", '""', "1E-5", "130.0", r'"\ud83d\ude00"']
TD_POOL = ["3.66", "0", "-0", "-0.0", "1e308", "-1e308", "NaN", "Infinity", '"3"', "true", "false", "null",
           "1E-5", "[1]", "{}", "12345678901234567890123", "1e400", "2.5e-324", "5e-324", "1", "10.5",
           "0.1", str(2 ** 1024), "7e-3"]
RID_POOL = ["1", "-0", "0", '"x"', '""', r'"\ud800"', "1.0", "null", "true", "[]", "{}",
            '"' + "a" * 256 + '"', '"' + "a" * 257 + '"', "9" * 256, "9" * 257, '"\U0001F600"',
            r'"\"\\\/"', "-123", '"\x7f\u007f"', "123456789012345678901234567890"]
EXTRA_POOL = ["1", '"s"', "null", "[1, [2, [3]]]", '{"ride": 1}', "-1e999", '"\u00e9"', "true", "{}"]
WS = ["", "", "", " ", "\n", "\t", "\r\n", "  "]


def _obj(members, rnd):
    w = lambda: rnd.choice(WS)
    body = ("," + w()).join(w() + json.dumps(k, ensure_ascii=rnd.random() < 0.5) + w() + ":" + w() + v + w()
                           for k, v in members)
    return "{" + body + "}"


def compose_ride(rnd):
    """A ride event from pooled values: random key order, duplicates, missing and extra keys."""
    def fields(pairs):
        out = []
        for k, pool in pairs:
            if rnd.random() < 0.04:
                continue
            if rnd.random() < 0.08:
                out.append((k, rnd.choice(pool)))
            out.append((k, rnd.choice(pool) if rnd.random() < 0.5 else pool[rnd.randrange(3)]))
        for _ in range(rnd.choice((0, 0, 0, 1, 2))):
            out.append((rnd.choice(("x", "VendorID", "PULocationid", "ride_ID", "")), rnd.choice(EXTRA_POOL)))
        rnd.shuffle(out)
        return out
    r = _obj(fields([("PULocationID", LOC_POOL), ("DOLocationID", LOC_POOL), ("trip_distance", TD_POOL)]), rnd)
    top = fields([("ride", [r, r, r, "null", "[]"]), ("ride_id", RID_POOL)])
    return _obj(top, rnd)


def kafka_fuzz_cases(n, seed):
    """Kafka events mutated at the event and at the structure level."""
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        lists = [("ride_events-%d" % k, [arec_payload(rnd.choice([GOOD_A, GOOD_B, ride()]), 10 * k + j, k)
                                         for j in range(rnd.randint(0, 2))]) for k in range(rnd.randint(1, 3))]
        ev = aevent(lists, msk=rnd.random() < 0.5)
        if i % 2:
            ev = mutate(ev, rnd)
        else:
            ev = mutate(ev, rnd, [b"{", b"}", b"[", b"]", b",", b":", b'"', b" ", b"0", b"t", b"-", b"null"])
        cases.append(("fuzz kafka %d" % i, ev))
    return cases


def composed_cases(n, seed):
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        if i % 3 == 0:
            cases.append(("compose %d direct" % i, b(compose_ride(rnd))))
        else:
            recs = [krec_payload(compose_ride(rnd), "%d-%d" % (i, j)) for j in range(rnd.randint(1, 6))]
            cases.append(("compose %d kinesis" % i, kevent(recs)))
    return cases


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what=None):
        self.passed += 1
        if what:
            print("PASS " + what, flush=True)

    def fail(self, what, why):
        self.failed += 1
        print("FAIL %s: %s" % (what, why), flush=True)


def clip(x, n=400):
    if isinstance(x, bytes):
        r = repr(x[:n])
    else:
        r = repr(x[:n])
    return r + ("... (%d bytes)" % len(x) if len(x) > n else "")


def base_env():
    env = dict(os.environ)
    for k in ("MODEL_VERSION", "RUN_ID", "MODEL_LOCATION", "MODEL_BUCKET", "AWS_LAMBDA_LOG_FORMAT",
              "PREDICTIONS_STREAM_NAME"):
        env.pop(k, None)
    env["TEST_RUN"] = "True"
    return env


def run_case(case, model_paths, env0):
    """Runs `ridepred invoke` on the case's event (on stdin, or from a file when case["file"])."""
    env = dict(env0)
    env.update(case["env"])
    cmd = [BIN, "invoke", "--model", model_paths[case["model"]], "--log-level", "off"]
    stdin = case["event"]
    if case.get("file"):
        with open(case["file"], "wb") as fh:
            fh.write(case["event"])
        cmd.append(case["file"])
        stdin = b""
    else:
        cmd.append("-")
    try:
        p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=60)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""
    except OSError as exc:          # e.g. the binary is being relinked
        return "not run (%s)" % exc, b"", b""


def check(case, result):
    rc, out, err = result
    model = MODELS[case["model"]]
    ref_env = {"RUN_ID": case["env"].get("RUN_ID"), "MODEL_VERSION": case["env"].get("MODEL_VERSION")}
    ref_env = {k: v for k, v in ref_env.items() if v is not None}
    exp_rc, exp = reference(case["event"], model, ref_env)
    if out.endswith(b"\n"):
        out = out[:-1]
    if rc != exp_rc:
        return ("exit %r, expected %d\n  expected: %s\n  actual:   %s\n  stderr:   %s"
                % (rc, exp_rc, clip(exp or "InvalidEvent", 600), clip(out, 600), clip(err, 300)))
    if rc == 0:
        if out != exp.encode("ascii"):
            return ("output differs\n  expected: %s\n  actual:   %s" % (clip(exp, 1200), clip(out, 1200)))
        return None
    try:
        doc = json.loads(out)
        if (isinstance(doc, dict) and doc.get("errorType") == "InvalidEvent"
                and isinstance(doc.get("errorMessage"), str)):
            return None
    except Exception:
        pass
    return "exit 1 without an InvalidEvent answer: %s" % clip(out, 600)


def main():
    t0 = time.time()
    if not os.access(BIN, os.X_OK):
        print("FAIL: no executable ridepred at %s" % BIN)
        print("0 passed, 1 failed")
        return 1
    tmp_parent = os.environ.get("RIDEPRED_BUILD_DIR") or None
    if tmp_parent:
        os.makedirs(tmp_parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="handler-python-", dir=tmp_parent)
    tally = Tally()
    try:
        rnd = random.Random(FUZZ_SEED)
        cases = []

        def add(name, event, env=None, model="main", via_file=False):
            cases.append({"name": name, "event": b(event),
                          "env": {"RUN_ID": DEFAULT_RUN_ID} if env is None else env, "model": model,
                          "file": os.path.join(tmp, "event-%d.json" % len(cases)) if via_file else None})

        variants = payload_variants()
        for name, p in variants:
            add("K " + name, sandwich(p))
            add("D " + name, b(p))
            add("A " + name, asandwich(p))
        for name, e in kinesis_cases():
            add("E " + name, e)
        for name, e in kafka_cases():
            add("P " + name, e)
        for name, e in base64_cases():
            add("E " + name, e)
        for name, e in encoding_quirk_cases():
            add("Q " + name, e)
        for name, e in size_cases():
            add("S " + name, e)
        for name, e, env, model in version_cases():
            add("V " + name, e, env, model)
        for name, e in mixed_batch_cases(variants, rnd):
            add("M " + name, e)
        for name, e in random_float_cases(random.Random(FUZZ_SEED + 1)):
            add("R " + name, e, model="floats")
        source_dir = os.environ.get("RIDEPRED_SOURCE_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        for fixture_dir in (os.environ.get("RIDEPRED_FIXTURES_DIR") or "",
                            os.path.join(source_dir, "..", "shared", "fixtures", "events"),
                            "/work/shared/fixtures/events"):
            if fixture_dir and os.path.isdir(fixture_dir):
                for f in sorted(os.listdir(fixture_dir)):
                    if f.endswith(".json"):
                        with open(os.path.join(fixture_dir, f), "rb") as fh:
                            ev = fh.read()
                        add("F " + f, ev)
                        add("F " + f + " (file)", ev, via_file=True)
                break
        # A few events read from a file instead of stdin.
        for name, e in kinesis_cases()[:12]:
            add("E " + name + " (file)", e, via_file=True)
        for name, p in payload_variants()[:6]:
            add("D " + name + " (file)", b(p), via_file=True)
        n_hand = len(cases)
        model_paths = {}
        for key, m in MODELS.items():
            path = os.path.join(tmp, key + ".json")
            with open(path, "w") as fh:
                json.dump({k: v for k, v in m.items() if not k.startswith("_")}, fh)
            model_paths[key] = path
        for name, e in fuzz_cases(FUZZ_CASES, FUZZ_SEED):
            add(name, e)
        for name, e in composed_cases(FUZZ_CASES // 3, FUZZ_SEED + 2):
            add(name, e)
        for name, e in kafka_fuzz_cases(FUZZ_CASES // 3, FUZZ_SEED + 3):
            add(name, e)
        print("%d hand-written cases, %d fuzz cases (seed %d), %d parallel jobs"
              % (n_hand, len(cases) - n_hand, FUZZ_SEED, JOBS), flush=True)

        sklearn_self_check(cases[:n_hand], tally)

        env0 = base_env()
        with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
            results = pool.map(lambda c: run_case(c, model_paths, env0), cases)
            for case, result in zip(cases, results):
                why = check(case, result)
                if why is None:
                    tally.ok()
                else:
                    tally.fail(case["name"], "event %s\n  %s" % (clip(case["event"], 300), why))
    finally:
        if os.environ.get("RIDEPRED_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    print("(%.1f s)" % (time.time() - t0))
    print("%d passed, %d failed" % (tally.passed, tally.failed), flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
